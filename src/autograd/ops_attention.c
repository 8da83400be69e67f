/* ops_attention.c — multi-head self-attention as one op (loom/ops_attention.h).
 *
 * Forward: the Q, K, V projection of all B·T rows in ONE GEMM (B·T, 3D) = x W_inᵀ; then per (sample,
 * head) two single-threaded GEMMs over the valid keys only, S = Q_h K_hᵀ · scale (T, len) and
 * O_h = P_h V_h, with a row softmax between; then the output projection in ONE GEMM. Backward mirrors
 * it: dW_out, dO in one GEMM each; per (sample, head) dV = Pᵀ dO, dP = dO Vᵀ, dS = P ⊙ (dP − rowsum(P ⊙
 * dP)) · scale, dQ = dS K, dK = dSᵀ Q; then dW_in and dx one GEMM each over all rows. Every buffer kept
 * from forward to backward (projections, probabilities, head outputs) and the backward scratch lives in
 * the op's saved arena: no malloc. (sample, head) pairs are split over threads, each pair computed by
 * the same single-threaded GEMMs, so results do not depend on the thread count. */
#include <math.h>

#include "loom/parallel.h"
#include "graph_internal.h"
#include "loom/ops_attention.h"

/* ip: [0] heads, [1] has lengths.  src: x (B, T, D), w_in (3D, D), b_in (3D), w_out (D, D), b_out (D)[, lengths (B)] */
loom_tensor *loom_mha(loom_graph *g, loom_tensor *x, loom_tensor *lengths, loom_tensor *w_in, loom_tensor *b_in,
                      loom_tensor *w_out, loom_tensor *b_out, int heads) {
  loom_tensor *src[6] = {x, w_in, b_in, w_out, b_out, lengths};
  loom_tensor *t = loom_graph_new_op(g, LOOM_OP_MHA, lengths ? 6 : 5, src);
  t->ip[0] = heads;
  t->ip[1] = lengths != NULL;
  return t;
}

static int mha_infer(loom_graph *g, loom_tensor *t) {
  const loom_tensor *x = t->src[0], *wi = t->src[1], *bi = t->src[2], *wo = t->src[3], *bo = t->src[4];
  char s[64];
  if (x->dtype != LOOM_F32 || x->ndim != 3)
    return loom_graph_fail(g, t, "input must be float32 (B, T, D), got %s", loom_shape_str(x, s, sizeof s));
  const int B = x->shape[0], D = x->shape[2], H = t->ip[0];
  if (H < 1 || D % H != 0) return loom_graph_fail(g, t, "heads = %d must divide the model dim D = %d", H, D);
  if (wi->ndim != 2 || wi->shape[0] != 3 * D || wi->shape[1] != D)
    return loom_graph_fail(g, t, "in_proj_weight must be (3D, D) = (%d, %d), got %s", 3 * D, D, loom_shape_str(wi, s, sizeof s));
  if (bi->ndim != 1 || bi->shape[0] != 3 * D) return loom_graph_fail(g, t, "in_proj_bias must be (3D) = (%d)", 3 * D);
  if (wo->ndim != 2 || wo->shape[0] != D || wo->shape[1] != D)
    return loom_graph_fail(g, t, "out_proj.weight must be (D, D) = (%d, %d), got %s", D, D, loom_shape_str(wo, s, sizeof s));
  if (bo->ndim != 1 || bo->shape[0] != D) return loom_graph_fail(g, t, "out_proj.bias must be (D) = (%d)", D);
  if (t->ip[1]) {
    const loom_tensor *len = t->src[5];
    if (len->dtype != LOOM_I32 || len->ndim != 1 || len->shape[0] != B)
      return loom_graph_fail(g, t, "lengths must be int32 (B) = (%d), got %s", B, loom_shape_str(len, s, sizeof s));
  }
  loom_shape_copy(t, x);
  t->dtype = LOOM_F32;
  return 0;
}

/* The saved arena, in bytes from t->saved (each region 64-byte aligned). */
typedef struct {
  size_t qkv, p, o, dqkv, ds, d_o, dbias, total;
} mha_layout;

static size_t al(size_t floats) { return (floats * sizeof(float) + 63) / 64 * 64; }

static mha_layout layout_of(const loom_tensor *t) {
  const size_t B = (size_t)t->src[0]->shape[0], T = (size_t)t->src[0]->shape[1], D = (size_t)t->src[0]->shape[2];
  const size_t H = (size_t)t->ip[0];
  mha_layout L;
  size_t o = 0;
  L.qkv = o, o += al(B * T * 3 * D);  /* (B, T, 3D) x W_inᵀ + b_in */
  L.p = o, o += al(B * H * T * T);    /* (B, H, T, T) attention probabilities, zero at masked keys */
  L.o = o, o += al(B * T * D);        /* (B, T, D) heads' outputs side by side */
  L.dqkv = o, o += al(B * T * 3 * D); /* backward: (B, T, 3D) d Q K V */
  L.ds = o, o += al(B * H * T * T);   /* backward: (B, H, T, T) d scores */
  L.d_o = o, o += al(B * T * D);      /* backward: (B, T, D) d O */
  L.dbias = o, o += al(4 * D);        /* backward: column sums for d b_in (3D), d b_out (D) */
  L.total = o;
  return L;
}
static size_t mha_saved(const loom_tensor *t) { return layout_of(t).total; }

#define AT(base, L, f) ((float *)(void *)((unsigned char *)(base) + (L).f))

static inline int seq_len(const loom_tensor *t, int b, int T) { return t->ip[1] ? t->src[5]->idata[b] : T; }

/* y (R, C) += bias per row */
static void add_rows(int R, int C, const float *bias, float *y) {
  LOOM_PARALLEL_FOR((size_t)R * C > LOOM_PAR_GRAIN, (long r = 0; r < R; r++), { loom_k.acc((size_t)C, bias, y + (size_t)r * C); });
}
/* grad (C) += column sums of M (R, C), via scratch (C): column blocks, rows in order (any thread count) */
static void colsum_acc(int R, int C, const float *M, float *scratch, float *grad) {
  const int cb = 64, ncb = (C + cb - 1) / cb;
  LOOM_PARALLEL_FOR((size_t)R * C > LOOM_PAR_GRAIN, (int c = 0; c < ncb; c++), {
    const int c0 = c * cb, w = C - c0 < cb ? C - c0 : cb;
    memset(scratch + c0, 0, sizeof(float) * (size_t)w);
    for (int r = 0; r < R; r++) loom_k.acc((size_t)w, M + (size_t)r * C + c0, scratch + c0);
  });
  loom_k.acc((size_t)C, scratch, grad);
}

static void mha_forward(loom_graph *g, loom_tensor *t) {
  (void)g;
  const loom_tensor *x = t->src[0], *wi = t->src[1], *bi = t->src[2], *wo = t->src[3], *bo = t->src[4];
  const int B = x->shape[0], T = x->shape[1], D = x->shape[2], H = t->ip[0], dh = D / H, D3 = 3 * D;
  const float scale = 1.0f / sqrtf((float)dh);
  const mha_layout L = layout_of(t);
  float *QKV = AT(t->saved, L, qkv), *P = AT(t->saved, L, p), *O = AT(t->saved, L, o);
  for (int b = 0; b < B; b++) {
    const int len = seq_len(t, b, T);
    if (len < 0 || len > T) LOOM_FATAL("mha '%s': length %d of sample %d is outside [0, %d]", t->name, len, b, T);
  }
  loom_gemm(false, true, B * T, D3, D, 1.0f, x->data, D, wi->data, D, 0.0f, QKV, D3); // (B·T, 3D)
  add_rows(B * T, D3, bi->data, QKV);
  LOOM_PARALLEL_FOR((size_t)B * H * T * T * dh > LOOM_PAR_GRAIN, (int bh = 0; bh < B * H; bh++), {
    const int b = bh / H, h = bh % H, len = seq_len(t, b, T);
    const float *q = QKV + (size_t)b * T * D3 + (size_t)h * dh, *k = q + D, *v = q + 2 * D;
    float *p = P + (size_t)bh * T * T, *o = O + (size_t)b * T * D + (size_t)h * dh;
    memset(p, 0, sizeof(float) * (size_t)T * T);
    if (len == 0) {
      for (int i = 0; i < T; i++) memset(o + (size_t)i * D, 0, sizeof(float) * (size_t)dh);
    } else {
      loom_gemm_single(false, true, T, len, dh, scale, q, D3, k, D3, 0.0f, p, T); // S (T, len)
      for (int i = 0; i < T; i++) loom_k.softmax((size_t)len, p + (size_t)i * T, p + (size_t)i * T);
      loom_gemm_single(false, false, T, dh, len, 1.0f, p, T, v, D3, 0.0f, o, D); // O_h (T, dh)
    }
  });
  loom_gemm(false, true, B * T, D, D, 1.0f, O, D, wo->data, D, 0.0f, t->data, D); // (B·T, D)
  add_rows(B * T, D, bo->data, t->data);
}

static void mha_backward(loom_graph *g, loom_tensor *t) {
  (void)g;
  loom_tensor *x = t->src[0], *wi = t->src[1], *bi = t->src[2], *wo = t->src[3], *bo = t->src[4];
  const int B = x->shape[0], T = x->shape[1], D = x->shape[2], H = t->ip[0], dh = D / H, D3 = 3 * D, R = B * T;
  const float scale = 1.0f / sqrtf((float)dh);
  const mha_layout L = layout_of(t);
  float *QKV = AT(t->saved, L, qkv), *P = AT(t->saved, L, p), *O = AT(t->saved, L, o);
  float *dQKV = AT(t->saved, L, dqkv), *dS = AT(t->saved, L, ds), *dO = AT(t->saved, L, d_o);
  float *dbias = AT(t->saved, L, dbias);
  const float *dY = t->grad;

  if (wo->grad) loom_gemm(true, false, D, D, R, 1.0f, dY, D, O, D, 1.0f, wo->grad, D); // dW_out += dYᵀ O
  if (bo->grad) colsum_acc(R, D, dY, dbias + D3, bo->grad);
  if (!wi->grad && !bi->grad && !x->grad) return;
  loom_gemm(false, false, R, D, D, 1.0f, dY, D, wo->data, D, 0.0f, dO, D); // dO = dY W_out
  LOOM_PARALLEL_FOR((size_t)B * H * T * T * dh > LOOM_PAR_GRAIN, (int bh = 0; bh < B * H; bh++), {
    const int b = bh / H, h = bh % H, len = seq_len(t, b, T);
    const size_t row0 = (size_t)b * T * D3 + (size_t)h * dh;
    const float *q = QKV + row0, *k = q + D, *v = q + 2 * D, *p = P + (size_t)bh * T * T;
    const float *dout = dO + (size_t)b * T * D + (size_t)h * dh;
    float *dq = dQKV + row0, *dk = dq + D, *dv = dq + 2 * D, *ds = dS + (size_t)bh * T * T;
    for (int i = 0; i < T; i++) { /* rows the GEMMs below leave alone get zero */
      memset(dq + (size_t)i * D3, 0, sizeof(float) * (size_t)dh);
      memset(dk + (size_t)i * D3, 0, sizeof(float) * (size_t)dh);
      memset(dv + (size_t)i * D3, 0, sizeof(float) * (size_t)dh);
    }
    if (len > 0) {
      loom_gemm_single(true, false, len, dh, T, 1.0f, p, T, dout, D, 0.0f, dv, D3);     // dV = Pᵀ dO (len, dh)
      loom_gemm_single(false, true, T, len, dh, 1.0f, dout, D, v, D3, 0.0f, ds, T);     // dP = dO Vᵀ (T, len)
      for (int i = 0; i < T; i++) {
        const float *pi = p + (size_t)i * T;
        float *di = ds + (size_t)i * T;
        const float s = loom_k.dot((size_t)len, pi, di);
        for (int j = 0; j < len; j++) di[j] = scale * pi[j] * (di[j] - s);            // dS, scaled
      }
      loom_gemm_single(false, false, T, dh, len, 1.0f, ds, T, k, D3, 0.0f, dq, D3);     // dQ = dS K
      loom_gemm_single(true, false, len, dh, T, 1.0f, ds, T, q, D3, 0.0f, dk, D3);      // dK = dSᵀ Q
    }
  });
  if (wi->grad) loom_gemm(true, false, D3, D, R, 1.0f, dQKV, D3, x->data, D, 1.0f, wi->grad, D); // dW_in += dQKVᵀ x
  if (bi->grad) colsum_acc(R, D3, dQKV, dbias, bi->grad);
  if (x->grad) loom_gemm(false, false, R, D, D3, 1.0f, dQKV, D3, wi->data, D, 1.0f, x->grad, D);   // dx += dQKV W_in
}

const loom_op_def loom_op_mha = {"mha", mha_infer, mha_saved, mha_forward, mha_backward, false};
