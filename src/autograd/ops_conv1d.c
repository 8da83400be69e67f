/* ops_conv1d.c — the TextCNN block (loom/ops_conv1d.h): width-k 1-D convolution over (N, T, E), max
 * over each sequence's valid windows, ReLU, as one op.
 *
 * Why fused rather than conv2d + seq_pool: a window x[n, t : t+k, :] is k·E contiguous floats, so the
 * convolution needs no im2col copy at all — it is k GEMMs Z += X[i:] W_iᵀ over all N·T − k + 1 row
 * starts at once (rows that straddle two sequences are computed and never read), each with lda = E.
 * The max keeps one window per (n, f), so backward is sparse: dW, db and dx cost N·F·k·E, not the
 * N·T·F·k·E of a dense conv backward. The composed version would also need a transpose of conv2d's
 * (N, F, T', 1) output before seq_pool's (N, T, D) max, an op loom does not have.
 *
 * Saved (arena): Z (N·T − k + 1, F) and the argmax window (N, F). Threads: the GEMMs thread inside
 * loom_gemm; the max over samples; dW and db over filters (samples in order), dx over samples
 * (filters in order), so every sum has one order for any thread count. */
#include "loom/parallel.h"
#include "graph_internal.h"
#include "loom/ops_conv1d.h"

/* ip: [0] k (set at infer), [1] relu, [2] has lengths, [3] has bias.
 * src: x (N, T, E), w (F, 1, k, E)[, b (F)][, lengths (N) int32] */
loom_tensor *loom_conv1d_max(loom_graph *g, loom_tensor *x, loom_tensor *lengths, loom_tensor *w, loom_tensor *b,
                             bool relu) {
  loom_tensor *src[4] = {x, w};
  int n = 2;
  if (b) src[n++] = b;
  if (lengths) src[n++] = lengths;
  loom_tensor *t = loom_graph_new_op(g, LOOM_OP_CONV1D_MAX, n, src);
  t->ip[1] = relu;
  t->ip[2] = lengths != NULL;
  t->ip[3] = b != NULL;
  return t;
}

static const loom_tensor *len_of(const loom_tensor *t) { return t->ip[2] ? t->src[t->ip[3] ? 3 : 2] : NULL; }
static loom_tensor *bias_of(const loom_tensor *t) { return t->ip[3] ? t->src[2] : NULL; }

static int conv1d_max_infer(loom_graph *g, loom_tensor *t) {
  const loom_tensor *x = t->src[0], *w = t->src[1], *b = bias_of(t), *len = len_of(t);
  char s[64];
  if (x->dtype != LOOM_F32 || x->ndim != 3)
    return loom_graph_fail(g, t, "input must be float32 (N, T, E), got %s", loom_shape_str(x, s, sizeof s));
  const int N = x->shape[0], T = x->shape[1], E = x->shape[2];
  if (w->ndim != 4 || w->shape[1] != 1 || w->shape[3] != E || w->shape[2] < 1)
    return loom_graph_fail(g, t, "weight must be (F, 1, k, E) with E = %d, got %s", E, loom_shape_str(w, s, sizeof s));
  const int F = w->shape[0], k = t->ip[0] = w->shape[2];
  if (k > T)
    return loom_graph_fail(g, t, "window %d is longer than the sequence (%d steps): raise the token limit or use narrower windows", k, T);
  if (b && (b->ndim != 1 || b->shape[0] != F))
    return loom_graph_fail(g, t, "bias must be (F) = (%d), got %s", F, loom_shape_str(b, s, sizeof s));
  if (len && (len->dtype != LOOM_I32 || len->ndim != 1 || len->shape[0] != N))
    return loom_graph_fail(g, t, "lengths must be int32 (N) = (%d), got %s", N, loom_shape_str(len, s, sizeof s));
  t->ndim = 2;
  t->shape[0] = N;
  t->shape[1] = F;
  return 0;
}

static size_t rows_of(const loom_tensor *t) { return (size_t)t->src[0]->shape[0] * t->src[0]->shape[1] - (size_t)t->ip[0] + 1; }
static size_t arg_offset(const loom_tensor *t) {
  return (rows_of(t) * (size_t)t->src[1]->shape[0] * sizeof(float) + 63) / 64 * 64;
}
static size_t conv1d_max_saved(const loom_tensor *t) {
  return arg_offset(t) + (size_t)t->src[0]->shape[0] * t->src[1]->shape[0] * sizeof(int32_t);
}

/* Windows of sample n that the max reads. */
static inline int n_windows(const loom_tensor *t, int n, int T, int k) {
  const loom_tensor *len = len_of(t);
  const int l = len ? len->idata[n] : T, p = l - k + 1;
  return p > 1 ? p : 1;
}

static void conv1d_max_forward(loom_graph *g, loom_tensor *t) {
  (void)g;
  const loom_tensor *x = t->src[0], *w = t->src[1], *bt = bias_of(t), *len = len_of(t);
  const int N = x->shape[0], T = x->shape[1], E = x->shape[2], F = w->shape[0], k = t->ip[0], M = (int)rows_of(t);
  const bool relu = t->ip[1];
  float *Z = (float *)t->saved;
  int32_t *arg = (int32_t *)(void *)((unsigned char *)t->saved + arg_offset(t));
  if (len)
    for (int n = 0; n < N; n++)
      if (len->idata[n] < 0 || len->idata[n] > T)
        LOOM_FATAL("conv1d_max '%s': length %d of sample %d is outside [0, %d]", t->name, len->idata[n], n, T);
  /* Z (M, F) = sum_i X[i : i+M] W_iᵀ, X = x as (N·T, E) rows, W_i = w[:, 0, i, :] (F, E) with stride k·E */
  for (int i = 0; i < k; i++)
    loom_gemm(false, true, M, F, E, 1.0f, x->data + (size_t)i * E, E, w->data + (size_t)i * E, k * E, i ? 1.0f : 0.0f, Z, F);
  LOOM_PARALLEL_FOR((size_t)M * F > LOOM_PAR_GRAIN, (int n = 0; n < N; n++), {
    const int P = n_windows(t, n, T, k);
    float *y = t->data + (size_t)n * F;
    int32_t *a = arg + (size_t)n * F;
    const float *z0 = Z + (size_t)n * T * F;
    memcpy(y, z0, sizeof(float) * (size_t)F);
    memset(a, 0, sizeof(int32_t) * (size_t)F);
    for (int p = 1; p < P; p++) {
      const float *z = z0 + (size_t)p * F;
      for (int f = 0; f < F; f++)
        if (z[f] > y[f]) y[f] = z[f], a[f] = p;
    }
    if (bt) loom_k.acc((size_t)F, bt->data, y);
    if (relu)
      for (int f = 0; f < F; f++) y[f] = y[f] > 0.0f ? y[f] : 0.0f;
  });
}

/* The gradient reaching the max of (n, f): zero where the ReLU cut it. */
static inline float dmax(const loom_tensor *t, size_t i) { return t->ip[1] && !(t->data[i] > 0.0f) ? 0.0f : t->grad[i]; }

static void conv1d_max_backward(loom_graph *g, loom_tensor *t) {
  (void)g;
  loom_tensor *x = t->src[0], *w = t->src[1], *bt = bias_of(t);
  const int N = x->shape[0], T = x->shape[1], E = x->shape[2], F = w->shape[0], k = t->ip[0], KE = k * E;
  const int32_t *arg = (const int32_t *)(const void *)((const unsigned char *)t->saved + arg_offset(t));
  if (w->grad || (bt && bt->grad)) /* dW[f] += sum_n d_nf x[n, a_nf : a_nf + k]; db[f] += sum_n d_nf */
    LOOM_PARALLEL_FOR((size_t)N * F * KE > LOOM_PAR_GRAIN, (int f = 0; f < F; f++), {
      float db = 0.0f;
      for (int n = 0; n < N; n++) {
        const float d = dmax(t, (size_t)n * F + f);
        if (d == 0.0f) continue;
        db += d;
        if (w->grad)
          loom_k.axpy((size_t)KE, d, x->data + ((size_t)n * T + arg[(size_t)n * F + f]) * E, w->grad + (size_t)f * KE);
      }
      if (bt && bt->grad) bt->grad[f] += db;
    });
  if (x->grad) /* dx[n, a_nf : a_nf + k] += d_nf W[f] */
    LOOM_PARALLEL_FOR((size_t)N * F * KE > LOOM_PAR_GRAIN, (int n = 0; n < N; n++), {
      for (int f = 0; f < F; f++) {
        const float d = dmax(t, (size_t)n * F + f);
        if (d != 0.0f)
          loom_k.axpy((size_t)KE, d, w->data + (size_t)f * KE, x->grad + ((size_t)n * T + arg[(size_t)n * F + f]) * E);
      }
    });
}

const loom_op_def loom_op_conv1d_max = {"conv1d_max", conv1d_max_infer, conv1d_max_saved, conv1d_max_forward,
                                        conv1d_max_backward, false};
