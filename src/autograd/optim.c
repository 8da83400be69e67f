/* optim.c — Adam, AdamW, Adam + L2 and SGD (momentum, Nesterov) as one loop over the graph's flat
 * parameter buffer, with moments in flat 64-byte aligned buffers of the same length; global-norm
 * clipping and learning-rate schedules. The per-element arithmetic is the kernel table's (loom_k.adam,
 * loom_k.sgd), which follows PyTorch. What to train and when to save is the trainer's business. */
#include <math.h>

#include "loom/parallel.h"
#include "graph_internal.h"
#include "loom/alloc.h"
#include "loom/optim.h"

/* A contiguous range of the flat buffer updated by one thread with one weight decay. Ranges never
 * exceed LOOM_PAR_GRAIN elements and depend only on the graph, so the split is fixed. */
typedef struct {
  size_t off, len;
  float wd;
  float lr_mult; /* the parameter's learning-rate multiplier (loom_optim_set_lr_mult), 1 by default */
} optim_chunk;

struct loom_optim {
  loom_optim_config cfg;
  loom_graph *g;
  size_t n;     /* floats in the flat buffers */
  long t;       /* updates taken */
  float *m, *v; /* Adam: exp_avg, exp_avg_sq; SGD: m = momentum_buffer, v unused */
  int n_state;
  optim_chunk *chunks;
  long n_chunks;
  float *mult; /* (parameter tensors) learning-rate multipliers, NULL while all are 1 */
};

loom_optim_config loom_optim_defaults(loom_optim_kind kind) {
  loom_optim_config c = {.kind = kind, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f};
  if (kind == LOOM_OPTIM_ADAMW) c.weight_decay = 0.01f;
  return c;
}

static int check_config(const loom_optim_config *c, loom_error *err) {
  const char *what = c->kind == LOOM_OPTIM_SGD ? "SGD" : c->kind == LOOM_OPTIM_ADAM ? "Adam" : "AdamW";
  if (c->kind < LOOM_OPTIM_SGD || c->kind > LOOM_OPTIM_ADAMW)
    return loom_errorf(err, "optimizer: unknown kind %d — use LOOM_OPTIM_SGD, _ADAM or _ADAMW", (int)c->kind);
  if (!(c->weight_decay >= 0.0f && isfinite(c->weight_decay)))
    return loom_errorf(err, "%s: weight_decay %g is invalid — use a finite value >= 0", what, c->weight_decay);
  if (c->kind == LOOM_OPTIM_SGD) {
    if (!(c->momentum >= 0.0f && isfinite(c->momentum)))
      return loom_errorf(err, "SGD: momentum %g is invalid — use a value >= 0 (0.9 is usual)", c->momentum);
    if (!(c->dampening >= 0.0f && c->dampening <= 1.0f))
      return loom_errorf(err, "SGD: dampening %g is outside [0, 1]", c->dampening);
    if (c->nesterov && (c->momentum <= 0.0f || c->dampening != 0.0f))
      return loom_errorf(err, "SGD: Nesterov momentum needs momentum > 0 and dampening 0 (got %g and %g)", c->momentum,
                         c->dampening);
    return 0;
  }
  if (!(c->beta1 >= 0.0f && c->beta1 < 1.0f) || !(c->beta2 >= 0.0f && c->beta2 < 1.0f))
    return loom_errorf(err, "%s: betas (%g, %g) must both be in [0, 1) — (0.9, 0.999) is usual", what, c->beta1,
                       c->beta2);
  if (!(c->eps >= 0.0f && isfinite(c->eps)))
    return loom_errorf(err, "%s: eps %g is invalid — use a small value > 0 such as 1e-8", what, c->eps);
  return 0;
}

static float *state_alloc(size_t n) {
  float *p = loom_aligned_alloc((n ? n : 1) * sizeof(float));
  if (p) memset(p, 0, (n ? n : 1) * sizeof(float));
  return p;
}

/* Split [off, off + len) into chunks of at most LOOM_PAR_GRAIN (count only when out is NULL). */
static long add_chunks(optim_chunk *out, long at, size_t off, size_t len, float wd, float mult) {
  for (size_t s = 0; s < len; s += LOOM_PAR_GRAIN) {
    if (out) out[at] = (optim_chunk){off + s, len - s < LOOM_PAR_GRAIN ? len - s : LOOM_PAR_GRAIN, wd, mult};
    at++;
  }
  return at;
}
/* Whole buffer with one decay, or (no_decay_1d, or a frozen parameter) one run per trainable
 * parameter tensor's slot: a frozen parameter's slot is in no chunk, so neither Adam, SGD nor weight
 * decay touches it or its moments. Every element takes the same arithmetic in any split. */
static long build_chunks(loom_optim *o, optim_chunk *out) {
  loom_graph *g = o->g;
  const float wd = o->cfg.weight_decay;
  int np = loom_graph_n_param_tensors(g);
  bool frozen = false;
  for (int i = 0; i < np; i++) frozen |= !loom_graph_param_tensor(g, i)->requires_grad;
  if (!frozen && !o->mult && (!o->cfg.no_decay_1d || wd == 0.0f)) return add_chunks(out, 0, 0, o->n, wd, 1.0f);
  long at = 0;
  for (int i = 0; i < np; i++) {
    loom_tensor *t = loom_graph_param_tensor(g, i);
    if (!t->requires_grad) continue;
    size_t end = i + 1 < np ? loom_graph_param_tensor(g, i + 1)->value_off : o->n; /* slot incl. padding */
    at = add_chunks(out, at, t->value_off, end - t->value_off, o->cfg.no_decay_1d && t->ndim == 1 ? 0.0f : wd,
                    o->mult ? o->mult[i] : 1.0f);
  }
  return at;
}

loom_optim *loom_optim_new(loom_graph *g, const loom_optim_config *cfg, loom_error *err) {
  if (check_config(cfg, err) != 0) return NULL;
  loom_optim *o = loom_calloc(1, sizeof *o);
  if (!o) {
    loom_errorf(err, "optimizer: out of memory");
    return NULL;
  }
  o->cfg = *cfg;
  o->g = g;
  o->n = loom_graph_n_params(g);
  bool sgd = cfg->kind == LOOM_OPTIM_SGD;
  o->n_state = sgd ? (cfg->momentum != 0.0f ? 1 : 0) : 2;
  if (o->n_state >= 1 && !(o->m = state_alloc(o->n))) goto oom;
  if (o->n_state >= 2 && !(o->v = state_alloc(o->n))) goto oom;
  o->n_chunks = build_chunks(o, NULL);
  if (!(o->chunks = loom_malloc((size_t)(o->n_chunks ? o->n_chunks : 1) * sizeof *o->chunks))) goto oom;
  build_chunks(o, o->chunks);
  return o;
oom:
  loom_errorf(err, "optimizer: out of memory allocating state for %zu parameters (%zu MB)", o->n,
              o->n * sizeof(float) * 2 >> 20);
  loom_optim_free(o);
  return NULL;
}

void loom_optim_free(loom_optim *o) {
  if (!o) return;
  loom_free(o->m);
  loom_free(o->v);
  loom_free(o->chunks);
  loom_free(o->mult);
  loom_free(o);
}

int loom_optim_set_lr_mult(loom_optim *o, const loom_tensor *t, float mult, loom_error *err) {
  if (!(mult >= 0.0f && isfinite(mult)))
    return loom_errorf(err, "optimizer: learning-rate multiplier %g of '%s' is invalid — use a finite value >= 0", mult, t->name);
  int np = loom_graph_n_param_tensors(o->g), at = -1;
  for (int i = 0; i < np; i++)
    if (loom_graph_param_tensor(o->g, i) == t) at = i;
  assert(at >= 0 && "loom_optim_set_lr_mult: not a parameter of the optimiser's graph");
  if (!o->mult) {
    if (!(o->mult = loom_malloc((size_t)np * sizeof *o->mult))) return loom_errorf(err, "optimizer: out of memory");
    for (int i = 0; i < np; i++) o->mult[i] = 1.0f;
  }
  o->mult[at] = mult;
  long n = build_chunks(o, NULL);
  optim_chunk *ch = loom_malloc((size_t)(n ? n : 1) * sizeof *ch);
  if (!ch) return loom_errorf(err, "optimizer: out of memory");
  build_chunks(o, ch);
  loom_free(o->chunks);
  o->chunks = ch, o->n_chunks = n;
  return 0;
}

long loom_optim_steps(const loom_optim *o) { return o->t; }
void loom_optim_set_steps(loom_optim *o, long steps) {
  assert(steps >= 0);
  o->t = steps;
}
int loom_optim_n_state(const loom_optim *o) { return o->n_state; }
float *loom_optim_state(loom_optim *o, int i, const char **name, size_t *n) {
  assert(i >= 0 && i < o->n_state && "optimizer state index out of range");
  bool sgd = o->cfg.kind == LOOM_OPTIM_SGD;
  if (name) *name = sgd ? "momentum_buffer" : i == 0 ? "exp_avg" : "exp_avg_sq";
  if (n) *n = o->n;
  return i == 0 ? o->m : o->v;
}

/* Adam with L2 (torch.optim.Adam weight_decay): g' = g + wd p, through a small stack buffer so the
 * caller's gradients stay untouched. */
static void adam_l2(const optim_chunk *c, float *P, const float *G, float *M, float *V, float lr, float b1, float b2,
                    float eps, float bc1, float bc2) {
  enum { PIECE = 512 };
  float tmp[PIECE];
  for (size_t s = c->off; s < c->off + c->len; s += PIECE) {
    size_t len = c->off + c->len - s < PIECE ? c->off + c->len - s : PIECE;
    memcpy(tmp, G + s, len * sizeof(float));
    loom_k.axpy(len, c->wd, P + s, tmp);
    loom_k.adam(len, P + s, tmp, M + s, V + s, lr, b1, b2, eps, bc1, bc2, 0.0f);
  }
}

void loom_optim_step(loom_optim *o, float lr) {
  assert(loom_graph_n_params(o->g) == o->n && "parameters were added to the graph after loom_optim_new");
  float *P = loom_graph_params(o->g);
  const float *G = loom_graph_grads(o->g);
  const loom_optim_config *c = &o->cfg;
  o->t++;
  if (c->kind == LOOM_OPTIM_SGD) {
    const int first = o->t == 1;
    LOOM_PARALLEL_FOR(o->n_chunks > 1, (long k = 0; k < o->n_chunks; k++), {
      const optim_chunk *ch = &o->chunks[k];
      loom_k.sgd(ch->len, P + ch->off, G + ch->off, o->m ? o->m + ch->off : NULL, lr * ch->lr_mult, c->momentum, c->dampening,
                 ch->wd, c->nesterov, first);
    });
    return;
  }
  /* bias corrections in double, as PyTorch computes them in Python */
  const double bc1 = 1.0 - pow((double)c->beta1, (double)o->t), bc2 = 1.0 - pow((double)c->beta2, (double)o->t);
  const float eps = c->keras_eps ? (float)(c->eps / sqrt(bc2)) : c->eps;
  const bool adamw = c->kind == LOOM_OPTIM_ADAMW;
  LOOM_PARALLEL_FOR(o->n_chunks > 1, (long k = 0; k < o->n_chunks; k++), {
    const optim_chunk *ch = &o->chunks[k];
    const float lr_k = lr * ch->lr_mult; /* a parameter group's lr in PyTorch: decay and step both use it */
    if (!adamw && ch->wd != 0.0f) {
      adam_l2(ch, P, G, o->m, o->v, lr_k, c->beta1, c->beta2, eps, (float)bc1, (float)bc2);
    } else {
      loom_k.adam(ch->len, P + ch->off, G + ch->off, o->m + ch->off, o->v + ch->off, lr_k, c->beta1, c->beta2, eps,
                  (float)bc1, (float)bc2, adamw ? ch->wd : 0.0f);
    }
  });
}

/* ---------------------------------------------------------------- clipping */

#define CLIP_MAX_BLOCKS 1024

/* sum of g² over the flat buffer in fixed blocks (a double per block, blocks added in order) */
static double grad_sumsq(loom_graph *g) {
  const float *G = loom_graph_grads(g);
  const size_t n = loom_graph_n_params(g);
  size_t block = n / CLIP_MAX_BLOCKS + 1;
  if (block < 4096) block = 4096;
  const long nb = (long)((n + block - 1) / block);
  double part[CLIP_MAX_BLOCKS];
  LOOM_PARALLEL_FOR(nb > 1, (long b = 0; b < nb; b++), {
    size_t s = (size_t)b * block, len = n - s < block ? n - s : block;
    part[b] = loom_k.dot(len, G + s, G + s);
  });
  double ss = 0.0;
  for (long b = 0; b < nb; b++) ss += part[b];
  return ss;
}

float loom_grad_norm(loom_graph *g) { return (float)sqrt(grad_sumsq(g)); }

float loom_clip_grad_norm(loom_graph *g, float max_norm) {
  float *G = loom_graph_grads(g);
  const size_t n = loom_graph_n_params(g);
  const float total = loom_grad_norm(g);
  if (!isfinite(total)) return total;
  const float coef = max_norm / (total + 1e-6f);
  if (coef < 1.0f) LOOM_PARALLEL_BLOCKS(n, s, len, loom_k.affine(len, coef, 0.0f, G + s, G + s));
  return total;
}

loom_grad_fault loom_grad_find_fault(loom_graph *g) {
  loom_grad_fault f = {.tensor = -1};
  float big = -1.0f;
  const int np = loom_graph_n_param_tensors(g);
  for (int i = 0; i < np; i++) {
    const loom_tensor *t = loom_graph_param_tensor(g, i);
    const size_t n = loom_tensor_numel(t);
    for (size_t j = 0; j < n; j++) {
      const float v = t->grad[j];
      if (!isfinite(v)) return (loom_grad_fault){.tensor = i, .elem = j, .value = v};
      if (fabsf(v) > big) big = fabsf(v), f = (loom_grad_fault){.tensor = i, .elem = j, .value = v, .overflow = true};
    }
  }
  return f;
}

/* ---------------------------------------------------------------- schedules */

float loom_lr_at(const loom_lr_schedule *s, long step) {
  assert(step >= 0);
  const double base = s->base_lr;
  if (s->warmup_steps > 0 && step < s->warmup_steps) {
    const double f0 = s->warmup_start_factor;
    return (float)(base * (f0 + (1.0 - f0) * (double)step / (double)s->warmup_steps));
  }
  const long t = step - (s->warmup_steps > 0 ? s->warmup_steps : 0);
  switch (s->kind) {
  case LOOM_LR_STEP:
    assert(s->step_size > 0 && "LOOM_LR_STEP needs step_size > 0");
    return (float)(base * pow((double)s->gamma, (double)(t / s->step_size)));
  case LOOM_LR_COSINE: {
    const long T = s->total_steps - (s->warmup_steps > 0 ? s->warmup_steps : 0);
    assert(T > 0 && "LOOM_LR_COSINE needs total_steps > warmup_steps");
    if (t >= T) return s->min_lr;
    return (float)(s->min_lr + (base - s->min_lr) * (1.0 + cos(M_PI * (double)t / (double)T)) / 2.0);
  }
  default: return s->base_lr;
  }
}
