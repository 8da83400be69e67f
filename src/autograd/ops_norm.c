/* ops_norm.c — batch normalisation (per channel over batch and space, with running statistics) and
 * layer normalisation (per row over the last dim): builder, shape rule, forward and backward.
 * Statistics are summed in double, channel by channel (or row by row) in a fixed order, so results do
 * not depend on the thread count. Parameters and buffers are created by src/layers/norm.c. */
#include <math.h>

#include "loom/parallel.h"
#include "graph_internal.h"
#include "loom/ops_norm.h"

/* ======================= batch norm ======================= */
/* src: x, running_mean, running_var, [num_batches_tracked], [weight, bias].
 * ip: [0] index of num_batches_tracked (0: none), [1] index of weight (0: not affine), [2] rank rule
 * (0 any of 2-4, 1 BatchNorm1d: 2 or 3, 2 BatchNorm2d: 4). fp: [0] eps, [1] momentum.
 * x is viewed as (N, C, S): S = product of the dims after C (1 for (B, C)).
 * Saved: mean (C), invstd (C) of the statistics used, and whether they were the batch's. */

loom_tensor *loom_batchnorm(loom_graph *g, loom_tensor *x, loom_tensor *weight, loom_tensor *bias,
                            loom_tensor *running_mean, loom_tensor *running_var, loom_tensor *num_batches_tracked,
                            float eps, float momentum) {
  assert(!weight == !bias && "batchnorm: weight and bias are both given or both NULL");
  assert(running_mean && running_var && "batchnorm needs running_mean and running_var buffers");
  assert(eps > 0.0f && momentum >= 0.0f && momentum <= 1.0f);
  loom_tensor *src[6] = {x, running_mean, running_var};
  int n = 3, nbt = 0, w = 0;
  if (num_batches_tracked) nbt = n, src[n++] = num_batches_tracked;
  if (weight) w = n, src[n++] = weight, src[n++] = bias;
  loom_tensor *t = loom_graph_new_op(g, LOOM_OP_BATCHNORM, n, src);
  t->ip[0] = nbt;
  t->ip[1] = w;
  t->fp[0] = eps;
  t->fp[1] = momentum;
  return t;
}

static int batchnorm_infer(loom_graph *g, loom_tensor *t) {
  const loom_tensor *x = t->src[0];
  char sx[64], sp[64];
  if (x->dtype != LOOM_F32 || x->ndim < 2) return loom_graph_fail(g, t, "input must be float32 (B, C, ...)");
  if (t->ip[2] == 1 && x->ndim != 2 && x->ndim != 3)
    return loom_graph_fail(g, t, "BatchNorm1d wants (B, C) or (B, C, L), got %s", loom_shape_str(x, sx, sizeof sx));
  if (t->ip[2] == 2 && x->ndim != 4)
    return loom_graph_fail(g, t, "BatchNorm2d wants (B, C, H, W), got %s", loom_shape_str(x, sx, sizeof sx));
  const int C = x->shape[1];
  for (int i = 1; i < t->nsrc; i++) {
    const loom_tensor *p = t->src[i];
    const int want = i == t->ip[0] ? 1 : C;
    if (p->ndim != 1 || p->shape[0] != want)
      return loom_graph_fail(g, t, "'%s' is %s, want (%d) for input %s", p->name, loom_shape_str(p, sp, sizeof sp),
                             want, loom_shape_str(x, sx, sizeof sx));
  }
  loom_shape_copy(t, x);
  return 0;
}
static size_t batchnorm_saved(const loom_tensor *t) { return 64 + 2 * (size_t)t->src[0]->shape[1] * sizeof(float); }

typedef struct {
  int N, C;
  size_t S;
  float *mean, *invstd;
  int *batch_stats;
} bn_view;

static bn_view bn_view_of(const loom_tensor *t) {
  const loom_tensor *x = t->src[0];
  bn_view v = {x->shape[0], x->shape[1], loom_shape_numel(x->ndim - 2, x->shape + 2), NULL, NULL, t->saved};
  v.mean = (float *)((char *)t->saved + 64);
  v.invstd = v.mean + v.C;
  return v;
}

static void batchnorm_forward(loom_graph *g, loom_tensor *t) {
  bn_view v = bn_view_of(t);
  const float *X = t->src[0]->data;
  float *Y = t->data, *rm = t->src[1]->data, *rv = t->src[2]->data;
  const float *gamma = t->ip[1] ? t->src[t->ip[1]]->data : NULL, *beta = t->ip[1] ? t->src[t->ip[1] + 1]->data : NULL;
  const float eps = t->fp[0], mom = t->fp[1];
  const bool train = g->training;
  const double cnt = (double)v.N * (double)v.S;
  *v.batch_stats = train;
  LOOM_PARALLEL_FOR(loom_tensor_numel(t) > LOOM_PAR_GRAIN, (int c = 0; c < v.C; c++), {
    double mean, var;
    if (train) {
      double s = 0.0, s2 = 0.0;
      for (int n = 0; n < v.N; n++) {
        const float *x = X + ((size_t)n * v.C + c) * v.S;
        for (size_t k = 0; k < v.S; k++) s += x[k];
      }
      mean = s / cnt;
      for (int n = 0; n < v.N; n++) {
        const float *x = X + ((size_t)n * v.C + c) * v.S;
        for (size_t k = 0; k < v.S; k++) s2 += (x[k] - mean) * (x[k] - mean);
      }
      var = s2 / cnt;
      /* PyTorch: running var takes the unbiased estimate (n / (n - 1)); a single value has none */
      const double unbiased = cnt > 1 ? var * cnt / (cnt - 1) : var;
      rm[c] = (float)((1.0 - mom) * rm[c] + mom * mean);
      rv[c] = (float)((1.0 - mom) * rv[c] + mom * unbiased);
    } else {
      mean = rm[c];
      var = rv[c];
    }
    const float is = (float)(1.0 / sqrt(var + eps));
    v.mean[c] = (float)mean;
    v.invstd[c] = is;
    /* y = x a + b with a = gamma invstd, b = beta - mean a */
    const float a = (gamma ? gamma[c] : 1.0f) * is, b = (beta ? beta[c] : 0.0f) - (float)mean * a;
    for (int n = 0; n < v.N; n++) {
      const size_t o = ((size_t)n * v.C + c) * v.S;
      loom_k.affine(v.S, a, b, X + o, Y + o);
    }
  });
  if (train && t->ip[0]) t->src[t->ip[0]]->data[0] += 1.0f;
}

/* xhat = (x - mean) invstd.  dbeta += sum dy;  dgamma += sum dy xhat;
 * batch statistics: dx += gamma invstd (dy - sum(dy) / n - xhat sum(dy xhat) / n);
 * running statistics (eval): dx += gamma invstd dy. */
static void batchnorm_backward(loom_graph *g, loom_tensor *t) {
  bn_view v = bn_view_of(t);
  loom_tensor *x = t->src[0];
  const float *X = x->data, *dY = t->grad;
  float *dX = x->grad;
  loom_tensor *w = t->ip[1] ? t->src[t->ip[1]] : NULL, *b = t->ip[1] ? t->src[t->ip[1] + 1] : NULL;
  const float *gamma = w ? w->data : NULL;
  float *dgamma = w ? w->grad : NULL, *dbeta = b ? b->grad : NULL;
  const bool batch = *v.batch_stats;
  const double cnt = (double)v.N * (double)v.S;
  LOOM_PARALLEL_FOR(loom_tensor_numel(t) > LOOM_PAR_GRAIN, (int c = 0; c < v.C; c++), {
    const double mean = v.mean[c], is = v.invstd[c];
    double sdy = 0.0, sdyx = 0.0; /* sum dy, sum dy (x - mean) */
    for (int n = 0; n < v.N; n++) {
      const size_t o = ((size_t)n * v.C + c) * v.S;
      for (size_t k = 0; k < v.S; k++) {
        sdy += dY[o + k];
        sdyx += (double)dY[o + k] * (X[o + k] - mean);
      }
    }
    if (dgamma) dgamma[c] += (float)(sdyx * is);
    if (dbeta) dbeta[c] += (float)sdy;
    if (!dX) continue;
    const double gi = (gamma ? gamma[c] : 1.0) * is;
    /* dx += A dy + B x + D */
    float A = (float)gi, B = 0.0f, D = 0.0f;
    if (batch) {
      const double k2 = -gi * is * is * sdyx / cnt;
      B = (float)k2;
      D = (float)(-gi * sdy / cnt - k2 * mean);
    }
    for (int n = 0; n < v.N; n++) {
      const size_t o = ((size_t)n * v.C + c) * v.S;
      for (size_t k = 0; k < v.S; k++) dX[o + k] += A * dY[o + k] + B * X[o + k] + D;
    }
  });
}
const loom_op_def loom_op_batchnorm = {"batchnorm", batchnorm_infer, batchnorm_saved, batchnorm_forward,
                                       batchnorm_backward, false};

/* ======================= layer norm ======================= */
/* src: x, [weight, bias]. fp[0] eps. Saved: mean (rows), rstd (rows). */

loom_tensor *loom_layernorm(loom_graph *g, loom_tensor *x, loom_tensor *weight, loom_tensor *bias, float eps) {
  assert(!weight == !bias && "layernorm: weight and bias are both given or both NULL");
  assert(eps > 0.0f);
  loom_tensor *t = loom_graph_new_op(g, LOOM_OP_LAYERNORM, weight ? 3 : 1, (loom_tensor *[]){x, weight, bias});
  t->fp[0] = eps;
  return t;
}
static int layernorm_infer(loom_graph *g, loom_tensor *t) {
  const loom_tensor *x = t->src[0];
  char sx[64], sp[64];
  if (x->dtype != LOOM_F32) return loom_graph_fail(g, t, "input must be float32");
  const int D = x->shape[x->ndim - 1];
  for (int i = 1; i < t->nsrc; i++)
    if (t->src[i]->ndim != 1 || t->src[i]->shape[0] != D)
      return loom_graph_fail(g, t, "'%s' is %s, want (%d) for input %s", t->src[i]->name,
                             loom_shape_str(t->src[i], sp, sizeof sp), D, loom_shape_str(x, sx, sizeof sx));
  loom_shape_copy(t, x);
  return 0;
}
static size_t layernorm_saved(const loom_tensor *t) {
  const loom_tensor *x = t->src[0];
  return 2 * loom_tensor_numel(x) / (size_t)x->shape[x->ndim - 1] * sizeof(float);
}

static void layernorm_forward(loom_graph *g, loom_tensor *t) {
  const loom_tensor *x = t->src[0];
  const size_t D = (size_t)x->shape[x->ndim - 1], numel = loom_tensor_numel(x);
  const long rows = (long)(numel / D);
  const float *gamma = t->nsrc > 1 ? t->src[1]->data : NULL, *beta = t->nsrc > 1 ? t->src[2]->data : NULL;
  float *mean = t->saved, *rstd = mean + rows;
  const float eps = t->fp[0];
  LOOM_PARALLEL_FOR(numel > LOOM_PAR_GRAIN, (long r = 0; r < rows; r++), {
    const float *xr = x->data + (size_t)r * D;
    float *yr = t->data + (size_t)r * D;
    double s = 0.0, s2 = 0.0;
    for (size_t j = 0; j < D; j++) s += xr[j];
    const double m = s / (double)D;
    for (size_t j = 0; j < D; j++) s2 += (xr[j] - m) * (xr[j] - m);
    const float is = (float)(1.0 / sqrt(s2 / (double)D + eps)), mf = (float)m;
    mean[r] = mf;
    rstd[r] = is;
    if (gamma)
      for (size_t j = 0; j < D; j++) yr[j] = (xr[j] - mf) * is * gamma[j] + beta[j];
    else
      for (size_t j = 0; j < D; j++) yr[j] = (xr[j] - mf) * is;
  });
}

/* xhat = (x - mean) rstd, g = dy weight:  dx += rstd (g - mean_j(g) - xhat mean_j(g xhat));
 * dweight += sum_rows dy xhat, dbias += sum_rows dy (threads over column blocks, rows in order). */
static void layernorm_backward(loom_graph *g, loom_tensor *t) {
  loom_tensor *x = t->src[0];
  const size_t D = (size_t)x->shape[x->ndim - 1], numel = loom_tensor_numel(x);
  const long rows = (long)(numel / D);
  const float *gamma = t->nsrc > 1 ? t->src[1]->data : NULL, *dY = t->grad, *X = x->data;
  const float *mean = t->saved, *rstd = mean + rows;
  if (x->grad) {
    float *dX = x->grad;
    LOOM_PARALLEL_FOR(numel > LOOM_PAR_GRAIN, (long r = 0; r < rows; r++), {
      const float *xr = X + (size_t)r * D, *dy = dY + (size_t)r * D;
      const float m = mean[r], is = rstd[r];
      double sg = 0.0, sgx = 0.0;
      for (size_t j = 0; j < D; j++) {
        const double gj = (double)dy[j] * (gamma ? gamma[j] : 1.0f);
        sg += gj;
        sgx += gj * ((xr[j] - m) * is);
      }
      const float mg = (float)(sg / (double)D), mgx = (float)(sgx / (double)D);
      float *dx = dX + (size_t)r * D;
      for (size_t j = 0; j < D; j++) {
        const float gj = dy[j] * (gamma ? gamma[j] : 1.0f), xh = (xr[j] - m) * is;
        dx[j] += is * (gj - mg - xh * mgx);
      }
    });
  }
  if (t->nsrc > 1 && (t->src[1]->grad || t->src[2]->grad)) {
    float *dw = t->src[1]->grad, *db = t->src[2]->grad;
    const size_t cb = 64;
    const long ncb = (long)((D + cb - 1) / cb);
    LOOM_PARALLEL_FOR(numel > LOOM_PAR_GRAIN && ncb > 1, (long c = 0; c < ncb; c++), {
      const size_t c0 = (size_t)c * cb, w = D - c0 < cb ? D - c0 : cb;
      double aw[64] = {0}, ab[64] = {0};
      for (long r = 0; r < rows; r++) {
        const float *xr = X + (size_t)r * D + c0, *dy = dY + (size_t)r * D + c0;
        for (size_t j = 0; j < w; j++) {
          aw[j] += (double)dy[j] * ((xr[j] - mean[r]) * rstd[r]);
          ab[j] += dy[j];
        }
      }
      for (size_t j = 0; j < w; j++) {
        if (dw) dw[c0 + j] += (float)aw[j];
        if (db) db[c0 + j] += (float)ab[j];
      }
    });
  }
}
const loom_op_def loom_op_layernorm = {"layernorm", layernorm_infer, layernorm_saved, layernorm_forward,
                                       layernorm_backward, false};
