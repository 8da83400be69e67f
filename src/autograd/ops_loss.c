/* ops_loss.c — loss ops (BCE with logits, softmax cross-entropy, MSE, Huber, BPR, triplet margin, InfoNCE) and
 * the row-wise L2-normalise and cosine-similarity ops, each with builder, shape rule, forward and
 * backward side by side (maths in loom/loss.h). Per-sample losses are computed in parallel over rows and
 * reduced in a fixed block order, so values do not depend on the thread count. Optimisers and metrics
 * live elsewhere (src/train). */
#include <math.h>

#include "loom/parallel.h"
#include "graph_internal.h"
#include "loom/loss.h"

/* Common op-parameter slots for losses: ip[0] = reduction, ip[7] = rows (samples) of the loss. */
#define RED(t) ((loom_reduction)(t)->ip[0])
#define ROWS(t) ((size_t)(t)->ip[7])

static bool f32(const loom_tensor *t) { return t->dtype == LOOM_F32; }

/* Fixed-order sum of n floats: block size depends only on n; partials in double, added in order. */
#define LS_MAX_BLOCKS 256
static double ordered_sum(size_t n, const float *x) {
  size_t block = n / LS_MAX_BLOCKS + 1;
  if (block < 4096) block = 4096;
  long nb = (long)((n + block - 1) / block);
  double part[LS_MAX_BLOCKS];
  LOOM_PARALLEL_FOR(nb > 1, (long b = 0; b < nb; b++), {
    size_t s = (size_t)b * block, e = n - s < block ? n : s + block;
    double acc = 0.0;
    for (size_t i = s; i < e; i++) acc += x[i];
    part[b] = acc;
  });
  double total = 0.0;
  for (long b = 0; b < nb; b++) total += part[b];
  return total;
}

/* Where forward writes per-sample losses: the output itself for NONE, else the first `rows` floats of
 * the saved state. */
static float *per_sample(loom_tensor *t) { return RED(t) == LOOM_REDUCE_NONE ? t->data : (float *)t->saved; }

/* Output shape: (1) for MEAN/SUM, else the given shape. */
static void loss_shape(loom_tensor *t, int ndim, const int *shape) {
  if (RED(t) == LOOM_REDUCE_NONE) {
    t->ndim = ndim;
    memcpy(t->shape, shape, sizeof(int) * (size_t)ndim);
  } else {
    t->ndim = 1;
    t->shape[0] = 1;
  }
}

/* Reduce the per-sample losses into the scalar output (MEAN divides by `count`; 0 rows -> 0). */
static void loss_reduce(loom_tensor *t, size_t count) {
  if (RED(t) == LOOM_REDUCE_NONE) return;
  double s = ordered_sum(ROWS(t), (const float *)t->saved);
  if (RED(t) == LOOM_REDUCE_MEAN) s = count ? s / (double)count : 0.0;
  t->data[0] = (float)s;
}

/* d total / d per-sample loss i. */
static inline float loss_weight(const loom_tensor *t, size_t i, size_t count) {
  switch (RED(t)) {
  case LOOM_REDUCE_NONE: return t->grad[i];
  case LOOM_REDUCE_SUM: return t->grad[0];
  default: return count ? t->grad[0] / (float)count : 0.0f;
  }
}

static size_t per_sample_bytes(const loom_tensor *t) {
  return RED(t) == LOOM_REDUCE_NONE ? 0 : ROWS(t) * sizeof(float);
}

static loom_tensor *loss_node(loom_graph *g, loom_op op, int nsrc, loom_tensor *const *src, loom_reduction red) {
  assert(red >= LOOM_REDUCE_MEAN && red <= LOOM_REDUCE_NONE && "unknown reduction");
  loom_tensor *t = loom_graph_new_op(g, op, nsrc, src);
  t->ip[0] = red;
  return t;
}

/* Row helpers over the SIMD kernels, through L1-sized stack pieces (no heap, fixed order):
 * Σ_c exp(x_c − m), and y += w · exp(x − shift). */
enum { EXP_PIECE = 256 };
static double sum_exp_shifted(size_t n, const float *x, float m) {
  float tmp[EXP_PIECE];
  double s = 0.0;
  for (size_t o = 0; o < n; o += EXP_PIECE) {
    size_t len = n - o < EXP_PIECE ? n - o : EXP_PIECE;
    loom_k.affine(len, 1.0f, -m, x + o, tmp);
    loom_k.exp(len, tmp, tmp);
    s += loom_k.sum(len, tmp);
  }
  return s;
}
static void acc_exp_shifted(size_t n, const float *x, float shift, float w, float *y) {
  float tmp[EXP_PIECE];
  for (size_t o = 0; o < n; o += EXP_PIECE) {
    size_t len = n - o < EXP_PIECE ? n - o : EXP_PIECE;
    loom_k.affine(len, 1.0f, -shift, x + o, tmp);
    loom_k.exp(len, tmp, tmp);
    loom_k.axpy(len, w, tmp, y + o);
  }
}

/* softplus(z) = log(1 + e^z), stable for any z; sigmoid likewise. */
static inline float softplusf(float z) { return fmaxf(z, 0.0f) + log1pf(expf(-fabsf(z))); }
static inline float sigmoidf(float z) {
  if (z >= 0.0f) return 1.0f / (1.0f + expf(-z));
  float e = expf(z);
  return e / (1.0f + e);
}

/* ======================= BCE with logits ======================= */
/* src: logits, targets, [pos_weight]. ip[1] = numel(pos_weight) (0: none). */

loom_tensor *loom_bce_logits(loom_graph *g, loom_tensor *logits, loom_tensor *targets, loom_tensor *pos_weight,
                             loom_reduction red) {
  loom_tensor *src[3] = {logits, targets, pos_weight};
  return loss_node(g, LOOM_OP_BCE_LOGITS, pos_weight ? 3 : 2, src, red);
}

static int bce_infer(loom_graph *g, loom_tensor *t) {
  const loom_tensor *x = t->src[0], *y = t->src[1];
  char sx[64], sy[64];
  if (!f32(x) || !f32(y)) return loom_graph_fail(g, t, "logits and targets must be float32");
  if (x->ndim != y->ndim || memcmp(x->shape, y->shape, sizeof(int) * (size_t)x->ndim) != 0)
    return loom_graph_fail(g, t, "targets %s must have the logits' shape %s", loom_shape_str(y, sy, sizeof sy),
                           loom_shape_str(x, sx, sizeof sx));
  t->ip[1] = 0;
  if (t->nsrc == 3) {
    const loom_tensor *pw = t->src[2];
    size_t n = loom_tensor_numel(pw), C = (size_t)x->shape[x->ndim - 1];
    if (!f32(pw) || (n != 1 && n != C))
      return loom_graph_fail(g, t, "pos_weight must be float32 with 1 or %zu (last dim) values, has %zu", C, n);
    if (pw->kind == LOOM_NODE_PARAM || pw->requires_grad)
      return loom_graph_fail(g, t, "pos_weight must be a constant (an input or a buffer), not trained");
    t->ip[1] = (int)n;
  }
  t->ip[7] = (int)loom_tensor_numel(x);
  loss_shape(t, x->ndim, x->shape);
  return 0;
}

static void bce_forward(loom_graph *g, loom_tensor *t) {
  const float *X = t->src[0]->data, *Y = t->src[1]->data, *PW = t->ip[1] ? t->src[2]->data : NULL;
  const size_t n = ROWS(t), npw = (size_t)t->ip[1];
  float *L = per_sample(t);
  LOOM_PARALLEL_FOR(n > LOOM_PAR_GRAIN, (size_t i = 0; i < n; i++), {
    float x = X[i], y = Y[i], pw = PW ? PW[i % npw] : 1.0f;
    L[i] = (1.0f - y) * x + (1.0f + (pw - 1.0f) * y) * softplusf(-x);
  });
  loss_reduce(t, n);
}

/* dl/dx = (1−y) − (1+(pw−1)y) σ(−x);  dl/dy = −x + (pw−1) softplus(−x). */
static void bce_backward(loom_graph *g, loom_tensor *t) {
  const float *X = t->src[0]->data, *Y = t->src[1]->data, *PW = t->ip[1] ? t->src[2]->data : NULL;
  float *dX = t->src[0]->grad, *dY = t->src[1]->grad;
  const size_t n = ROWS(t), npw = (size_t)t->ip[1];
  LOOM_PARALLEL_FOR(n > LOOM_PAR_GRAIN, (size_t i = 0; i < n; i++), {
    float x = X[i], y = Y[i], pw = PW ? PW[i % npw] : 1.0f, w = loss_weight(t, i, n);
    if (dX) dX[i] += w * ((1.0f - y) - (1.0f + (pw - 1.0f) * y) * sigmoidf(-x));
    if (dY) dY[i] += w * (-x + (pw - 1.0f) * softplusf(-x));
  });
}
const loom_op_def loom_op_bce_logits = {"bce_logits", bce_infer, per_sample_bytes, bce_forward, bce_backward, false};

/* ======================= softmax cross-entropy over class indices ======================= */
/* src: logits (B, C), labels I32 (B). ip[1] = ignore_index, fp[0] = label smoothing.
 * saved: per-sample (B, unless NONE) | lse (B) | valid count (1 float). */

loom_tensor *loom_softmax_ce(loom_graph *g, loom_tensor *logits, loom_tensor *labels, float label_smoothing,
                             int ignore_index, loom_reduction red) {
  assert(label_smoothing >= 0.0f && label_smoothing <= 1.0f && "label smoothing must be in [0, 1]");
  loom_tensor *t = loss_node(g, LOOM_OP_SOFTMAX_CE, 2, (loom_tensor *[]){logits, labels}, red);
  t->ip[1] = ignore_index;
  t->fp[0] = label_smoothing;
  return t;
}

static int ce_infer(loom_graph *g, loom_tensor *t) {
  const loom_tensor *x = t->src[0], *y = t->src[1];
  char sx[64], sy[64];
  if (!f32(x) || x->ndim != 2) return loom_graph_fail(g, t, "logits must be a 2-D float32 (B, C)");
  if (y->dtype != LOOM_I32) return loom_graph_fail(g, t, "labels must be int32 class indices");
  if (loom_tensor_numel(y) != (size_t)x->shape[0])
    return loom_graph_fail(g, t, "labels %s must hold one class per row of logits %s", loom_shape_str(y, sy, sizeof sy),
                           loom_shape_str(x, sx, sizeof sx));
  t->ip[7] = x->shape[0];
  loss_shape(t, 1, x->shape);
  return 0;
}
static size_t ce_saved(const loom_tensor *t) { return per_sample_bytes(t) + (ROWS(t) + 1) * sizeof(float); }
static float *ce_lse(loom_tensor *t) { return (float *)t->saved + (RED(t) == LOOM_REDUCE_NONE ? 0 : ROWS(t)); }

static void ce_forward(loom_graph *g, loom_tensor *t) {
  const loom_tensor *x = t->src[0];
  const int32_t *Y = t->src[1]->idata;
  const long B = x->shape[0], C = x->shape[1], ignore = t->ip[1];
  const float eps = t->fp[0];
  float *L = per_sample(t), *lse = ce_lse(t);
  LOOM_PARALLEL_FOR((size_t)B * C > LOOM_PAR_GRAIN, (long i = 0; i < B; i++), {
    const float *xi = x->data + (size_t)i * C;
    long y = Y[i];
    float m = loom_k.max((size_t)C, xi);
    float l = m + (float)log(sum_exp_shifted((size_t)C, xi, m));
    lse[i] = l;
    if (y == ignore) {
      L[i] = 0.0f;
      continue;
    }
    if (y < 0 || y >= C) LOOM_FATAL("softmax_ce '%s': label %ld in row %ld is outside [0, %ld)", t->name, y, i, C);
    float nll = l - xi[y];
    if (eps == 0.0f) {
      L[i] = nll;
    } else { /* Σ_c −log p_c = C·lse − Σ_c x_c, summed in double: the two terms nearly cancel */
      double sx = 0.0;
      for (long c = 0; c < C; c++) sx += xi[c];
      L[i] = (1.0f - eps) * nll + eps / (float)C * (float)((double)C * l - sx);
    }
  });
  size_t count = 0;
  for (long i = 0; i < B; i++) count += Y[i] != ignore;
  lse[B] = (float)count;
  loss_reduce(t, count);
}

/* dl_i/dx_ic = softmax_c − ε/C − (1−ε)[c = y_i] */
static void ce_backward(loom_graph *g, loom_tensor *t) {
  loom_tensor *x = t->src[0];
  if (!x->grad) return;
  const int32_t *Y = t->src[1]->idata;
  const long B = x->shape[0], C = x->shape[1], ignore = t->ip[1];
  const float eps = t->fp[0], *lse = ce_lse(t);
  const size_t count = (size_t)lse[B];
  LOOM_PARALLEL_FOR((size_t)B * C > LOOM_PAR_GRAIN, (long i = 0; i < B; i++), {
    if (Y[i] == ignore) continue;
    const float w = loss_weight(t, (size_t)i, count), *xi = x->data + (size_t)i * C, l = lse[i];
    float *dx = x->grad + (size_t)i * C;
    acc_exp_shifted((size_t)C, xi, l, w, dx);
    if (eps != 0.0f) loom_k.affine((size_t)C, 1.0f, -w * eps / (float)C, dx, dx);
    dx[Y[i]] -= w * (1.0f - eps);
  });
}
const loom_op_def loom_op_softmax_ce = {"softmax_ce", ce_infer, ce_saved, ce_forward, ce_backward, false};

/* ======================= MSE ======================= */

loom_tensor *loom_mse(loom_graph *g, loom_tensor *a, loom_tensor *b, loom_reduction red) {
  return loss_node(g, LOOM_OP_MSE, 2, (loom_tensor *[]){a, b}, red);
}
static int mse_infer(loom_graph *g, loom_tensor *t) {
  const loom_tensor *a = t->src[0], *b = t->src[1];
  char sa[64], sb[64];
  if (!f32(a) || !f32(b)) return loom_graph_fail(g, t, "operands must be float32");
  if (a->ndim != b->ndim || memcmp(a->shape, b->shape, sizeof(int) * (size_t)a->ndim) != 0)
    return loom_graph_fail(g, t, "target %s must have the prediction's shape %s", loom_shape_str(b, sb, sizeof sb),
                           loom_shape_str(a, sa, sizeof sa));
  t->ip[7] = (int)loom_tensor_numel(a);
  loss_shape(t, a->ndim, a->shape);
  return 0;
}
static void mse_forward(loom_graph *g, loom_tensor *t) {
  const float *A = t->src[0]->data, *B = t->src[1]->data;
  float *L = per_sample(t);
  const size_t n = ROWS(t);
  LOOM_PARALLEL_FOR(n > LOOM_PAR_GRAIN, (size_t i = 0; i < n; i++), L[i] = (A[i] - B[i]) * (A[i] - B[i]));
  loss_reduce(t, n);
}
static void mse_backward(loom_graph *g, loom_tensor *t) {
  const float *A = t->src[0]->data, *B = t->src[1]->data;
  float *dA = t->src[0]->grad, *dB = t->src[1]->grad;
  const size_t n = ROWS(t);
  LOOM_PARALLEL_FOR(n > LOOM_PAR_GRAIN, (size_t i = 0; i < n; i++), {
    float d = 2.0f * loss_weight(t, i, n) * (A[i] - B[i]);
    if (dA) dA[i] += d;
    if (dB) dB[i] -= d;
  });
}
const loom_op_def loom_op_mse = {"mse", mse_infer, per_sample_bytes, mse_forward, mse_backward, false};

/* ======================= Huber ======================= */

/* fp[0] = delta; the shape rule is MSE's (same shapes, float32). */
loom_tensor *loom_huber(loom_graph *g, loom_tensor *a, loom_tensor *b, float delta, loom_reduction red) {
  assert(delta > 0.0f && "huber: delta must be > 0");
  loom_tensor *t = loss_node(g, LOOM_OP_HUBER, 2, (loom_tensor *[]){a, b}, red);
  t->fp[0] = delta;
  return t;
}
static void huber_forward(loom_graph *g, loom_tensor *t) {
  const float *A = t->src[0]->data, *B = t->src[1]->data, d = t->fp[0];
  float *L = per_sample(t);
  const size_t n = ROWS(t);
  LOOM_PARALLEL_FOR(n > LOOM_PAR_GRAIN, (size_t i = 0; i < n; i++), {
    float r = fabsf(A[i] - B[i]);
    L[i] = r < d ? 0.5f * r * r : d * (r - 0.5f * d);
  });
  loss_reduce(t, n);
}
/* dl/da = r inside the quadratic zone |r| < delta, delta * sign(r) outside (r = a - b); dl/db = -dl/da */
static void huber_backward(loom_graph *g, loom_tensor *t) {
  const float *A = t->src[0]->data, *B = t->src[1]->data, d = t->fp[0];
  float *dA = t->src[0]->grad, *dB = t->src[1]->grad;
  const size_t n = ROWS(t);
  LOOM_PARALLEL_FOR(n > LOOM_PAR_GRAIN, (size_t i = 0; i < n; i++), {
    float r = A[i] - B[i], c = r > d ? d : r < -d ? -d : r;
    float w = loss_weight(t, i, n) * c;
    if (dA) dA[i] += w;
    if (dB) dB[i] -= w;
  });
}
const loom_op_def loom_op_huber = {"huber", mse_infer, per_sample_bytes, huber_forward, huber_backward, false};

/* ======================= BPR ======================= */
/* src: s_pos (B) | (B, 1), s_neg (B) | (B, n). ip[1] = n. */

loom_tensor *loom_bpr(loom_graph *g, loom_tensor *s_pos, loom_tensor *s_neg, loom_reduction red) {
  return loss_node(g, LOOM_OP_BPR, 2, (loom_tensor *[]){s_pos, s_neg}, red);
}
static int bpr_infer(loom_graph *g, loom_tensor *t) {
  const loom_tensor *p = t->src[0], *q = t->src[1];
  char sp[64], sq[64];
  if (!f32(p) || !f32(q)) return loom_graph_fail(g, t, "scores must be float32");
  int B = p->shape[0];
  bool pos_ok = (p->ndim == 1) || (p->ndim == 2 && p->shape[1] == 1);
  bool neg_ok = (q->ndim == 1 || q->ndim == 2) && q->shape[0] == B;
  if (!pos_ok || !neg_ok)
    return loom_graph_fail(g, t, "s_pos %s must be (B) or (B, 1) and s_neg %s (B) or (B, n_neg)",
                           loom_shape_str(p, sp, sizeof sp), loom_shape_str(q, sq, sizeof sq));
  t->ip[1] = q->ndim == 2 ? q->shape[1] : 1;
  t->ip[7] = B;
  loss_shape(t, 1, &B);
  return 0;
}
static void bpr_forward(loom_graph *g, loom_tensor *t) {
  const float *P = t->src[0]->data, *N = t->src[1]->data;
  const long B = (long)ROWS(t), n = t->ip[1];
  float *L = per_sample(t);
  LOOM_PARALLEL_FOR((size_t)B * n > LOOM_PAR_GRAIN, (long i = 0; i < B; i++), {
    double s = 0.0;
    for (long j = 0; j < n; j++) s += softplusf(N[i * n + j] - P[i]);
    L[i] = (float)(s / (double)n);
  });
  loss_reduce(t, (size_t)B);
}
/* dl_i/ds_neg_ij = σ(s_neg_ij − s_pos_i) / n;  dl_i/ds_pos_i = −Σ_j of that. */
static void bpr_backward(loom_graph *g, loom_tensor *t) {
  const float *P = t->src[0]->data, *N = t->src[1]->data;
  float *dP = t->src[0]->grad, *dN = t->src[1]->grad;
  const long B = (long)ROWS(t), n = t->ip[1];
  LOOM_PARALLEL_FOR((size_t)B * n > LOOM_PAR_GRAIN, (long i = 0; i < B; i++), {
    const float w = loss_weight(t, (size_t)i, (size_t)B) / (float)n;
    float sp = 0.0f;
    for (long j = 0; j < n; j++) {
      float d = w * sigmoidf(N[i * n + j] - P[i]);
      if (dN) dN[i * n + j] += d;
      sp += d;
    }
    if (dP) dP[i] -= sp;
  });
}
const loom_op_def loom_op_bpr = {"bpr", bpr_infer, per_sample_bytes, bpr_forward, bpr_backward, false};

/* ======================= row-wise norms and cosines (shared) ======================= */

static inline float row_norm(size_t D, const float *x) { return sqrtf(loom_k.dot(D, x, x)); }

/* cos(x, y) = x·y / max(|x||y|, eps); dcos/dx += w · (y / den − cos · x / |x|²) (y / eps once clamped). */
static inline float row_cos(size_t D, const float *x, const float *y, float eps, float *den_out, float *nx2, float *ny2) {
  float xx = loom_k.dot(D, x, x), yy = loom_k.dot(D, y, y), xy = loom_k.dot(D, x, y);
  float den = fmaxf(sqrtf(xx) * sqrtf(yy), eps);
  *den_out = den;
  *nx2 = xx;
  *ny2 = yy;
  return xy / den;
}
static inline void row_cos_bwd(size_t D, const float *x, const float *y, float cos, float den, float xx, float eps,
                               float w, float *dx) {
  if (!dx || w == 0.0f) return;
  loom_k.axpy(D, w / den, y, dx);
  if (den > eps && xx > 0.0f) loom_k.axpy(D, -w * cos / xx, x, dx);
}

/* ======================= triplet margin ======================= */
/* src: a, p, n (B, D). ip[1] = distance, fp[0] = margin. saved: per-sample (unless NONE) | hinge (B). */

#define TRIPLET_EPS 1e-6f /* PyTorch pairwise_distance: ||x − y + eps|| */
#define COSINE_EPS 1e-8f  /* PyTorch cosine_similarity */

loom_tensor *loom_triplet_margin(loom_graph *g, loom_tensor *a, loom_tensor *p, loom_tensor *n, float margin,
                                 loom_distance dist, loom_reduction red) {
  assert((unsigned)dist <= LOOM_DIST_MANHATTAN && "unknown distance");
  loom_tensor *t = loss_node(g, LOOM_OP_TRIPLET, 3, (loom_tensor *[]){a, p, n}, red);
  t->ip[1] = dist;
  t->fp[0] = margin;
  return t;
}
static int triplet_infer(loom_graph *g, loom_tensor *t) {
  const loom_tensor *a = t->src[0];
  char sa[64], sb[64];
  if (!f32(a) || a->ndim != 2) return loom_graph_fail(g, t, "anchor must be a 2-D float32 (B, D)");
  for (int i = 1; i < 3; i++) {
    const loom_tensor *x = t->src[i];
    if (!f32(x) || x->ndim != 2 || memcmp(x->shape, a->shape, 2 * sizeof(int)) != 0)
      return loom_graph_fail(g, t, "%s %s must have the anchor's shape %s", i == 1 ? "positive" : "negative",
                             loom_shape_str(x, sb, sizeof sb), loom_shape_str(a, sa, sizeof sa));
  }
  t->ip[7] = a->shape[0];
  loss_shape(t, 1, a->shape);
  return 0;
}
static size_t triplet_saved(const loom_tensor *t) { return per_sample_bytes(t) + ROWS(t) * sizeof(float); }
static float *triplet_hinge(loom_tensor *t) { return (float *)t->saved + (RED(t) == LOOM_REDUCE_NONE ? 0 : ROWS(t)); }

/* Euclidean ||x − y + eps||₂, 1 − cos, −x·y or manhattan ||x − y + eps||₁ of row i. */
static float triplet_dist(const loom_tensor *t, size_t D, const float *x, const float *y) {
  if (t->ip[1] == LOOM_DIST_COSINE) {
    float den, xx, yy;
    return 1.0f - row_cos(D, x, y, COSINE_EPS, &den, &xx, &yy);
  }
  if (t->ip[1] == LOOM_DIST_DOT) {
    double s = 0.0;
    for (size_t j = 0; j < D; j++) s += (double)x[j] * y[j];
    return (float)-s;
  }
  if (t->ip[1] == LOOM_DIST_MANHATTAN) {
    double s = 0.0;
    for (size_t j = 0; j < D; j++) s += fabs((double)(x[j] - y[j] + TRIPLET_EPS));
    return (float)s;
  }
  double s = 0.0;
  for (size_t j = 0; j < D; j++) {
    float d = x[j] - y[j] + TRIPLET_EPS;
    s += (double)d * d;
  }
  return (float)sqrt(s);
}

static void triplet_forward(loom_graph *g, loom_tensor *t) {
  const loom_tensor *a = t->src[0];
  const float *A = a->data, *P = t->src[1]->data, *N = t->src[2]->data;
  const long B = a->shape[0];
  const size_t D = (size_t)a->shape[1];
  float *L = per_sample(t), *H = triplet_hinge(t);
  LOOM_PARALLEL_FOR((size_t)B * D > LOOM_PAR_GRAIN, (long i = 0; i < B; i++), {
    size_t o = (size_t)i * D;
    H[i] = triplet_dist(t, D, A + o, P + o) - triplet_dist(t, D, A + o, N + o) + t->fp[0];
    L[i] = fmaxf(H[i], 0.0f);
  });
  loss_reduce(t, (size_t)B);
}

/* d||x − y + eps|| / dx = (x − y + eps) / d: adds sign · w · that into dx (if any) and −… into dy. */
static void euclid_bwd(size_t D, const float *x, const float *y, float w, float *dx, float *dy) {
  double s = 0.0;
  for (size_t j = 0; j < D; j++) {
    float d = x[j] - y[j] + TRIPLET_EPS;
    s += (double)d * d;
  }
  if (s == 0.0) return; /* PyTorch's norm backward gives 0 at 0 */
  float k = w / (float)sqrt(s);
  for (size_t j = 0; j < D; j++) {
    float d = k * (x[j] - y[j] + TRIPLET_EPS);
    if (dx) dx[j] += d;
    if (dy) dy[j] -= d;
  }
}
/* d(1 − cos(x, y)) = −dcos, into dx and dy. */
static void cosdist_bwd(size_t D, const float *x, const float *y, float w, float *dx, float *dy) {
  float den, xx, yy, c = row_cos(D, x, y, COSINE_EPS, &den, &xx, &yy);
  row_cos_bwd(D, x, y, c, den, xx, COSINE_EPS, -w, dx);
  row_cos_bwd(D, y, x, c, den, yy, COSINE_EPS, -w, dy);
}

/* d(−x·y) = −y dx − x dy. */
static void dotdist_bwd(size_t D, const float *x, const float *y, float w, float *dx, float *dy) {
  for (size_t j = 0; j < D; j++) {
    float xj = x[j], yj = y[j];
    if (dx) dx[j] -= w * yj;
    if (dy) dy[j] -= w * xj;
  }
}
/* d||x − y + eps||₁ = sign(x − y + eps) (dx − dy); sign(0) = 0 as in PyTorch's abs backward. */
static void l1dist_bwd(size_t D, const float *x, const float *y, float w, float *dx, float *dy) {
  for (size_t j = 0; j < D; j++) {
    float d = x[j] - y[j] + TRIPLET_EPS, g = d > 0.0f ? w : d < 0.0f ? -w : 0.0f;
    if (dx) dx[j] += g;
    if (dy) dy[j] -= g;
  }
}

/* l = max(0, h): gradient flows where h >= 0 (PyTorch's clamp_min backward); h = d(a,p) − d(a,n) + m. */
static void triplet_backward(loom_graph *g, loom_tensor *t) {
  loom_tensor *a = t->src[0], *p = t->src[1], *n = t->src[2];
  const long B = a->shape[0];
  const size_t D = (size_t)a->shape[1];
  const float *H = triplet_hinge(t);
  void (*bwd)(size_t, const float *, const float *, float, float *, float *) =
      t->ip[1] == LOOM_DIST_COSINE ? cosdist_bwd
      : t->ip[1] == LOOM_DIST_DOT  ? dotdist_bwd
      : t->ip[1] == LOOM_DIST_MANHATTAN ? l1dist_bwd
                                        : euclid_bwd;
  LOOM_PARALLEL_FOR((size_t)B * D > LOOM_PAR_GRAIN, (long i = 0; i < B; i++), {
    if (H[i] < 0.0f) continue;
    const size_t o = (size_t)i * D;
    const float w = loss_weight(t, (size_t)i, (size_t)B);
    bwd(D, a->data + o, p->data + o, w, a->grad ? a->grad + o : NULL, p->grad ? p->grad + o : NULL);
    bwd(D, a->data + o, n->data + o, -w, a->grad ? a->grad + o : NULL, n->grad ? n->grad + o : NULL);
  });
}
const loom_op_def loom_op_triplet = {"triplet", triplet_infer, triplet_saved, triplet_forward, triplet_backward, false};

/* ======================= L2 normalise ======================= */
/* fp[0] = eps. saved: the row norms (rows). */

loom_tensor *loom_l2_normalize(loom_graph *g, loom_tensor *x, float eps) {
  assert(eps > 0.0f && "l2_normalize needs eps > 0");
  loom_tensor *t = loom_graph_new_op(g, LOOM_OP_L2_NORMALIZE, 1, &x);
  t->fp[0] = eps;
  return t;
}
static int l2n_infer(loom_graph *g, loom_tensor *t) {
  if (!f32(t->src[0])) return loom_graph_fail(g, t, "input must be float32");
  loom_shape_copy(t, t->src[0]);
  return 0;
}
static size_t l2n_rows(const loom_tensor *t) { return loom_tensor_numel(t) / (size_t)t->shape[t->ndim - 1]; }
static size_t l2n_saved(const loom_tensor *t) { return l2n_rows(t) * sizeof(float); }

/* Normalise R rows of D: y = x / max(|x|, eps); norms[r] = |x_r|. Shared with InfoNCE. */
static void normalize_rows(size_t R, size_t D, const float *X, float *Y, float *norms, float eps) {
  LOOM_PARALLEL_FOR(R * D > LOOM_PAR_GRAIN, (long r = 0; r < (long)R; r++), {
    float nr = row_norm(D, X + (size_t)r * D);
    norms[r] = nr;
    loom_k.affine(D, 1.0f / fmaxf(nr, eps), 0.0f, X + (size_t)r * D, Y + (size_t)r * D);
  });
}
/* dx += (dy − y (y·dy)) / |x| where |x| > eps, else dy / eps. */
static void normalize_rows_bwd(size_t R, size_t D, const float *Y, const float *norms, const float *dY, float *dX,
                               float eps) {
  LOOM_PARALLEL_FOR(R * D > LOOM_PAR_GRAIN, (long r = 0; r < (long)R; r++), {
    const size_t o = (size_t)r * D;
    if (norms[r] > eps) {
      const float inv = 1.0f / norms[r], yd = loom_k.dot(D, Y + o, dY + o);
      loom_k.axpy(D, inv, dY + o, dX + o);
      loom_k.axpy(D, -inv * yd, Y + o, dX + o);
    } else {
      loom_k.axpy(D, 1.0f / eps, dY + o, dX + o);
    }
  });
}
static void l2n_forward(loom_graph *g, loom_tensor *t) {
  normalize_rows(l2n_rows(t), (size_t)t->shape[t->ndim - 1], t->src[0]->data, t->data, t->saved, t->fp[0]);
}
static void l2n_backward(loom_graph *g, loom_tensor *t) {
  if (!t->src[0]->grad) return;
  normalize_rows_bwd(l2n_rows(t), (size_t)t->shape[t->ndim - 1], t->data, t->saved, t->grad, t->src[0]->grad, t->fp[0]);
}
const loom_op_def loom_op_l2_normalize = {"l2_normalize", l2n_infer, l2n_saved, l2n_forward, l2n_backward, false};

/* ======================= cosine similarity of rows ======================= */
/* fp[0] = eps. Output: the inputs' shape without the last dim ((1) for 1-D inputs). */

loom_tensor *loom_cosine_sim(loom_graph *g, loom_tensor *a, loom_tensor *b, float eps) {
  assert(eps > 0.0f && "cosine_sim needs eps > 0");
  loom_tensor *t = loom_graph_new_op(g, LOOM_OP_COSINE_SIM, 2, (loom_tensor *[]){a, b});
  t->fp[0] = eps;
  return t;
}
static int cos_infer(loom_graph *g, loom_tensor *t) {
  const loom_tensor *a = t->src[0], *b = t->src[1];
  char sa[64], sb[64];
  if (!f32(a) || !f32(b)) return loom_graph_fail(g, t, "operands must be float32");
  if (a->ndim != b->ndim || memcmp(a->shape, b->shape, sizeof(int) * (size_t)a->ndim) != 0)
    return loom_graph_fail(g, t, "operands %s and %s must have the same shape", loom_shape_str(a, sa, sizeof sa),
                           loom_shape_str(b, sb, sizeof sb));
  t->ndim = a->ndim > 1 ? a->ndim - 1 : 1;
  if (a->ndim > 1) memcpy(t->shape, a->shape, sizeof(int) * (size_t)t->ndim);
  else t->shape[0] = 1;
  return 0;
}
static void cos_forward(loom_graph *g, loom_tensor *t) {
  const loom_tensor *a = t->src[0];
  const size_t D = (size_t)a->shape[a->ndim - 1];
  const long R = (long)loom_tensor_numel(t);
  LOOM_PARALLEL_FOR((size_t)R * D > LOOM_PAR_GRAIN, (long r = 0; r < R; r++), {
    float den, xx, yy;
    t->data[r] = row_cos(D, a->data + (size_t)r * D, t->src[1]->data + (size_t)r * D, t->fp[0], &den, &xx, &yy);
  });
}
static void cos_backward(loom_graph *g, loom_tensor *t) {
  loom_tensor *a = t->src[0], *b = t->src[1];
  const size_t D = (size_t)a->shape[a->ndim - 1];
  const long R = (long)loom_tensor_numel(t);
  const float eps = t->fp[0];
  LOOM_PARALLEL_FOR((size_t)R * D > LOOM_PAR_GRAIN, (long r = 0; r < R; r++), {
    const size_t o = (size_t)r * D;
    float den, xx, yy, c = row_cos(D, a->data + o, b->data + o, eps, &den, &xx, &yy);
    row_cos_bwd(D, a->data + o, b->data + o, c, den, xx, eps, t->grad[r], a->grad ? a->grad + o : NULL);
    row_cos_bwd(D, b->data + o, a->data + o, c, den, yy, eps, t->grad[r], b->grad ? b->grad + o : NULL);
  });
}
const loom_op_def loom_op_cosine_sim = {"cosine_sim", cos_infer, NULL, cos_forward, cos_backward, false};

/* ======================= InfoNCE with in-batch negatives ======================= */
/* src: q, k (B, D). fp[0] = temperature, ip[1] = normalize, ip[2] = symmetric.
 * saved (floats): per-sample (B, unless NONE) | q^ (B·D) | k^ (B·D) | |q| (B) | |k| (B) | row-softmax P
 * (B·B) | Pc (B·B): softmax of the rows of Sᵀ (the k→q direction; computed row-wise on a tiled
 * transpose, so both directions use the SIMD kernels) | dS (B·B) | dq^ (B·D) | dk^ (B·D) | row CE (B) |
 * column CE (B). */

#define INFONCE_EPS 1e-12f

loom_tensor *loom_infonce(loom_graph *g, loom_tensor *q, loom_tensor *k, float temperature, bool normalize,
                          bool symmetric, loom_reduction red) {
  assert(temperature > 0.0f && "InfoNCE temperature must be > 0");
  loom_tensor *t = loss_node(g, LOOM_OP_INFONCE, 2, (loom_tensor *[]){q, k}, red);
  t->fp[0] = temperature;
  t->ip[1] = normalize;
  t->ip[2] = symmetric;
  return t;
}
static int infonce_infer(loom_graph *g, loom_tensor *t) {
  const loom_tensor *q = t->src[0], *k = t->src[1];
  char sq[64], sk[64];
  if (!f32(q) || !f32(k) || q->ndim != 2 || k->ndim != 2 || memcmp(q->shape, k->shape, 2 * sizeof(int)) != 0)
    return loom_graph_fail(g, t, "q %s and k %s must both be float32 (B, D)", loom_shape_str(q, sq, sizeof sq),
                           loom_shape_str(k, sk, sizeof sk));
  t->ip[3] = q->shape[1];
  t->ip[7] = q->shape[0];
  loss_shape(t, 1, q->shape);
  return 0;
}

/* y_ij = s_j · x_ji for n x n matrices (s NULL: 1), in 32 x 32 tiles; each thread owns a band of y's
 * rows, so the result does not depend on the thread count. */
static void transpose_scaled(size_t n, const float *x, const float *s, float *y) {
  enum { TILE = 32 };
  const long nt = (long)((n + TILE - 1) / TILE);
  LOOM_PARALLEL_FOR(n * n > LOOM_PAR_GRAIN, (long bi = 0; bi < nt; bi++),
    for (size_t j0 = 0; j0 < n; j0 += TILE) {
      const size_t i0 = (size_t)bi * TILE, i1 = i0 + TILE < n ? i0 + TILE : n, j1 = j0 + TILE < n ? j0 + TILE : n;
      for (size_t i = i0; i < i1; i++)
        for (size_t j = j0; j < j1; j++) y[i * n + j] = (s ? s[j] : 1.0f) * x[j * n + i];
    });
}

typedef struct {
  float *qh, *kh, *qn, *kn, *P, *Pc, *dS, *dqh, *dkh, *lrow, *lcol;
} infonce_bufs;

static infonce_bufs infonce_layout(loom_tensor *t) {
  const size_t B = ROWS(t), D = (size_t)t->ip[3];
  float *p = (float *)t->saved + (RED(t) == LOOM_REDUCE_NONE ? 0 : B);
  infonce_bufs s;
  s.qh = p, p += B * D;
  s.kh = p, p += B * D;
  s.qn = p, p += B;
  s.kn = p, p += B;
  s.P = p, p += B * B;
  s.Pc = p, p += B * B;
  s.dS = p, p += B * B;
  s.dqh = p, p += B * D;
  s.dkh = p, p += B * D;
  s.lrow = p, p += B;
  s.lcol = p;
  return s;
}
static size_t infonce_saved(const loom_tensor *t) {
  const size_t B = ROWS(t), D = (size_t)t->ip[3];
  return per_sample_bytes(t) + (4 * B * D + 4 * B + 3 * B * B) * sizeof(float);
}

static void infonce_forward(loom_graph *g, loom_tensor *t) {
  const loom_tensor *q = t->src[0], *k = t->src[1];
  const long B = (long)ROWS(t);
  const size_t D = (size_t)t->ip[3], Bz = (size_t)B;
  const bool sym = t->ip[2];
  infonce_bufs s = infonce_layout(t);
  if (t->ip[1]) {
    normalize_rows(Bz, D, q->data, s.qh, s.qn, INFONCE_EPS);
    normalize_rows(Bz, D, k->data, s.kh, s.kn, INFONCE_EPS);
  } else {
    memcpy(s.qh, q->data, Bz * D * sizeof(float));
    memcpy(s.kh, k->data, Bz * D * sizeof(float));
  }
  /* S = q^ k^T / tau into P (B, B) */
  loom_gemm(false, true, B, B, (int)D, 1.0f / t->fp[0], s.qh, (int)D, s.kh, (int)D, 0.0f, s.P, B);
  if (sym) transpose_scaled(Bz, s.P, NULL, s.Pc); /* Pc = S^T: the k->q direction, row-wise */
  LOOM_PARALLEL_FOR(Bz * Bz > LOOM_PAR_GRAIN, (long i = 0; i < (sym ? 2 * B : B); i++), {
    const bool col = i >= B;
    const long r = col ? i - B : i;
    float *row = (col ? s.Pc : s.P) + (size_t)r * Bz, m = loom_k.max(Bz, row);
    float lse = m + (float)log(sum_exp_shifted(Bz, row, m));
    (col ? s.lcol : s.lrow)[r] = lse - row[r];
    loom_k.affine(Bz, 1.0f, -lse, row, row);
    loom_k.exp(Bz, row, row);
  });
  float *L = per_sample(t);
  for (long i = 0; i < B; i++) L[i] = sym ? 0.5f * (s.lrow[i] + s.lcol[i]) : s.lrow[i];
  loss_reduce(t, Bz);
}

/* dS_ij = h w_i (P_ij − δ_ij) + h w_j (Pc_ji − δ_ij) (second term when symmetric, h = 1/2 then);
 * dq^ = dS k^ / tau, dk^ = dS^T q^ / tau, then back through the normalisation. */
static void infonce_backward(loom_graph *g, loom_tensor *t) {
  loom_tensor *q = t->src[0], *k = t->src[1];
  const long B = (long)ROWS(t);
  const size_t D = (size_t)t->ip[3], Bz = (size_t)B;
  const bool sym = t->ip[2];
  const float h = sym ? 0.5f : 1.0f, inv_tau = 1.0f / t->fp[0];
  infonce_bufs s = infonce_layout(t);
  /* the k->q term first: dS_ij = h w_j Pc_ji, transposed tile by tile. The weights h w_j are staged in
   * dq^'s buffer, which the GEMM below overwrites; the forward's saved state stays intact. */
  float *wcol = s.dqh;
  if (sym) {
    for (long j = 0; j < B; j++) wcol[j] = h * loss_weight(t, (size_t)j, Bz);
    transpose_scaled(Bz, s.Pc, wcol, s.dS);
  }
  /* then the q->k term, row i: h w_i P_i; both subtract their weight on the diagonal */
  LOOM_PARALLEL_FOR(Bz * Bz > LOOM_PAR_GRAIN, (long i = 0; i < B; i++), {
    const float w = h * loss_weight(t, (size_t)i, Bz);
    float *dst = s.dS + (size_t)i * Bz;
    if (sym) loom_k.axpy(Bz, w, s.P + (size_t)i * Bz, dst);
    else loom_k.affine(Bz, w, 0.0f, s.P + (size_t)i * Bz, dst);
    dst[i] -= w + (sym ? wcol[i] : 0.0f);
  });
  if (q->grad) loom_gemm(false, false, B, (int)D, B, inv_tau, s.dS, B, s.kh, (int)D, 0.0f, s.dqh, (int)D);
  if (k->grad) loom_gemm(true, false, B, (int)D, B, inv_tau, s.dS, B, s.qh, (int)D, 0.0f, s.dkh, (int)D);
  if (t->ip[1]) {
    if (q->grad) normalize_rows_bwd(Bz, D, s.qh, s.qn, s.dqh, q->grad, INFONCE_EPS);
    if (k->grad) normalize_rows_bwd(Bz, D, s.kh, s.kn, s.dkh, k->grad, INFONCE_EPS);
  } else {
    if (q->grad) LOOM_PARALLEL_BLOCKS(Bz * D, st, len, loom_k.acc(len, s.dqh + st, q->grad + st));
    if (k->grad) LOOM_PARALLEL_BLOCKS(Bz * D, st, len, loom_k.acc(len, s.dkh + st, k->grad + st));
  }
}
const loom_op_def loom_op_infonce = {"infonce", infonce_infer, infonce_saved, infonce_forward, infonce_backward, false};
