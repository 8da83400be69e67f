/* ops_gru.c — one GRU direction over a whole sequence as a single op (PyTorch's gate order (r, z, n)
 * and its two biases, so weights interchange with torch.nn.GRU).
 *
 * Forward: the input projection of every step in ONE GEMM (T·B, 3H) = Xs W_ihᵀ, then per step one
 * GEMM h_{s-1} W_hhᵀ into its own rows (the n gate needs W_hn h + b_hn apart from W_in x, since r
 * multiplies it) and the fused gate kernel (loom_k.gru_cell). Backward through time: per step the fused
 * gate backward (which leaves z ⊙ dh, the direct path to h_{s-1}) and one GEMM dh_{s-1} += dGH_s W_hh;
 * after the loop dW_hh, dW_ih and dx are each ONE GEMM over all T·B rows. Everything kept between the
 * two (step-major inputs, both gate blocks, states) lives in the op's saved arena: no malloc.
 *
 * Masking and threads are those of ops_lstm.c (see its opening comment for the measurements): step s of
 * sample b is active while s < len_b and reads/writes tau = s (forward) or len_b - 1 - s (reverse, as
 * packed sequences); inactive steps carry the state, get no gradient and output zero. Rows are cut into
 * blocks fixed by B alone; each thread runs the whole recurrence of its blocks with single-threaded
 * per-step GEMMs, so results do not depend on the thread count. The layer (stacking, bidirectional,
 * dropout between layers, initialisation) is src/layers/gru.c. */
#include <math.h>

#include "loom/parallel.h"
#include "graph_internal.h"
#include "loom/ops_gru.h"

/* Rows per block of the recurrence: the LSTM's rule (ops_lstm.c row_block), same reasons. */
static int row_block(int B) { return B < 32 ? B : B < 64 ? 16 : 32; }

/* ip: [0] H (set at infer), [1] reverse, [2] return_sequences, [3] has lengths.
 * src: x (B, T, E), w_ih (3H, E), w_hh (3H, H), b_ih (3H), b_hh (3H)[, lengths (B) int32] */
loom_tensor *loom_gru_seq(loom_graph *g, loom_tensor *x, loom_tensor *lengths, loom_tensor *w_ih, loom_tensor *w_hh,
                          loom_tensor *b_ih, loom_tensor *b_hh, bool reverse, bool return_sequences) {
  loom_tensor *src[6] = {x, w_ih, w_hh, b_ih, b_hh, lengths};
  loom_tensor *t = loom_graph_new_op(g, LOOM_OP_GRU, lengths ? 6 : 5, src);
  t->ip[1] = reverse;
  t->ip[2] = return_sequences;
  t->ip[3] = lengths != NULL;
  return t;
}

static int gru_infer(loom_graph *g, loom_tensor *t) { return loom_recurrent_infer(g, t, 3); }

/* The saved arena, in bytes from t->saved (each region 64-byte aligned). */
typedef struct {
  size_t dbias, xs, gx, gh, hs, dh, total;
} gru_layout;

static size_t al(size_t floats) { return (floats * sizeof(float) + 63) / 64 * 64; }

static gru_layout layout_of(const loom_tensor *t) {
  const size_t B = (size_t)t->src[0]->shape[0], T = (size_t)t->src[0]->shape[1], E = (size_t)t->src[0]->shape[2];
  const size_t H = (size_t)t->ip[0];
  gru_layout L;
  size_t o = 0;
  L.dbias = o, o += al(6 * H);         /* backward: d b_ih (3H), d b_hh (3H) */
  L.xs = o, o += al(T * B * E);        /* (T, B, E) step-major x; backward: dx */
  L.gx = o, o += al(T * B * 3 * H);    /* (T, B, 3H) x W_ihᵀ, then r z n; backward: d input pre-act. */
  L.gh = o, o += al(T * B * 3 * H);    /* (T, B, 3H) h W_hhᵀ (n part + b_hn); backward: d recurrent pre-act. */
  L.hs = o, o += al((T + 1) * B * H);  /* (T+1, B, H) h before/after each step */
  L.dh = o, o += al(B * H);            /* (B, H) gradient reaching h of the current step */
  L.total = o;
  return L;
}
static size_t gru_saved(const loom_tensor *t) { return layout_of(t).total; }

#define AT(base, L, f) ((float *)(void *)((unsigned char *)(base) + (L).f))

static inline int seq_len(const loom_tensor *t, int b, int T) { return t->ip[3] ? t->src[5]->idata[b] : T; }
static inline int tau_of(const loom_tensor *t, int s, int len) { return t->ip[1] ? len - 1 - s : s; }

static void gru_forward(loom_graph *g, loom_tensor *t) {
  (void)g;
  const loom_tensor *x = t->src[0], *wih = t->src[1], *whh = t->src[2];
  const float *bih = t->src[3]->data, *bhh = t->src[4]->data;
  const int B = x->shape[0], T = x->shape[1], E = x->shape[2], H = t->ip[0], G3 = 3 * H;
  const bool seq = t->ip[2];
  const gru_layout L = layout_of(t);
  float *Xs = AT(t->saved, L, xs), *GX = AT(t->saved, L, gx), *GH = AT(t->saved, L, gh), *Hs = AT(t->saved, L, hs);

  for (int b = 0; b < B; b++) {
    int len = seq_len(t, b, T);
    if (len < 0 || len > T) LOOM_FATAL("gru '%s': length %d of sample %d is outside [0, %d]", t->name, len, b, T);
  }
  /* Step-major inputs: Xs[s][b] = x[b][tau(s, b)], zero where inactive. */
  LOOM_PARALLEL_FOR((size_t)T * B * E > LOOM_PAR_GRAIN, (long r = 0; r < (long)T * B; r++), {
    const int s = (int)(r / B), b = (int)(r % B), len = seq_len(t, b, T);
    float *dst = Xs + (size_t)r * E;
    if (s < len) memcpy(dst, x->data + ((size_t)b * T + tau_of(t, s, len)) * E, sizeof(float) * (size_t)E);
    else memset(dst, 0, sizeof(float) * (size_t)E);
  });
  /* Input projection of every step: GX = Xs W_ihᵀ  (T·B, 3H) */
  loom_gemm(false, true, T * B, G3, E, 1.0f, Xs, E, wih->data, E, 0.0f, GX, G3);
  if (seq) memset(t->data, 0, sizeof(float) * (size_t)B * T * H);

  const int rb = row_block(B), nblk = (B + rb - 1) / rb;
  LOOM_PARALLEL_FOR(nblk > 1, (int blk = 0; blk < nblk; blk++), {
    const int b0 = blk * rb, nb = B - b0 < rb ? B - b0 : rb;
    memset(Hs + (size_t)b0 * H, 0, sizeof(float) * (size_t)nb * H);
    int maxlen = 0;
    for (int b = b0; b < b0 + nb; b++) maxlen = seq_len(t, b, T) > maxlen ? seq_len(t, b, T) : maxlen;
    for (int s = 0; s < T; s++) {
      float *hp = Hs + ((size_t)s * B + b0) * H, *hn = hp + (size_t)B * H;
      float *gx = GX + ((size_t)s * B + b0) * G3, *gh = GH + ((size_t)s * B + b0) * G3;
      /* gh = h_{s-1} W_hhᵀ  (nb, 3H); h_{-1} = 0, and nothing is active past the block's longest row */
      if (s > 0 && s < maxlen)
        (nblk > 1 ? loom_gemm_single : loom_gemm)(false, true, nb, G3, H, 1.0f, hp, H, whh->data, H, 0.0f, gh, G3);
      else memset(gh, 0, sizeof(float) * (size_t)nb * G3);
      for (int i = 0; i < nb; i++) {
        const int b = b0 + i, len = seq_len(t, b, T);
        const size_t o = (size_t)i * H;
        if (s < len) {
          loom_k.gru_cell((size_t)H, gx + (size_t)i * G3, gh + (size_t)i * G3, bih, bhh, hp + o, hn + o);
          if (seq) memcpy(t->data + ((size_t)b * T + tau_of(t, s, len)) * H, hn + o, sizeof(float) * (size_t)H);
        } else { /* frozen: carry the state (only read as a finite GEMM operand against zero gradients) */
          memcpy(hn + o, hp + o, sizeof(float) * (size_t)H);
        }
      }
    }
    if (!seq)
      for (int b = b0; b < b0 + nb; b++) {
        const int len = seq_len(t, b, T);
        memcpy(t->data + (size_t)b * H, Hs + ((size_t)len * B + b) * H, sizeof(float) * (size_t)H);
      }
  });
}

static void gru_backward(loom_graph *g, loom_tensor *t) {
  (void)g;
  loom_tensor *x = t->src[0], *wih = t->src[1], *whh = t->src[2], *bih = t->src[3], *bhh = t->src[4];
  const int B = x->shape[0], T = x->shape[1], E = x->shape[2], H = t->ip[0], G3 = 3 * H;
  const bool seq = t->ip[2];
  const gru_layout L = layout_of(t);
  float *dbias = AT(t->saved, L, dbias), *Xs = AT(t->saved, L, xs), *GX = AT(t->saved, L, gx);
  float *GH = AT(t->saved, L, gh), *Hs = AT(t->saved, L, hs), *dH = AT(t->saved, L, dh);
  const float *dY = t->grad;

  const int rb = row_block(B), nblk = (B + rb - 1) / rb;
  LOOM_PARALLEL_FOR(nblk > 1, (int blk = 0; blk < nblk; blk++), {
    const int b0 = blk * rb, nb = B - b0 < rb ? B - b0 : rb;
    float *dh = dH + (size_t)b0 * H;
    memset(dh, 0, sizeof(float) * (size_t)nb * H);
    for (int s = T - 1; s >= 0; s--) {
      const float *hp = Hs + ((size_t)s * B + b0) * H;
      float *gx = GX + ((size_t)s * B + b0) * G3, *gh = GH + ((size_t)s * B + b0) * G3;
      bool any = false;
      for (int i = 0; i < nb; i++) {
        const int b = b0 + i, len = seq_len(t, b, T);
        float *gxi = gx + (size_t)i * G3, *ghi = gh + (size_t)i * G3, *dhi = dh + (size_t)i * H;
        if (s >= len) { /* inactive: no gradient into the gates (dh is still zero here) */
          memset(gxi, 0, sizeof(float) * (size_t)G3);
          memset(ghi, 0, sizeof(float) * (size_t)G3);
          continue;
        }
        any = true;
        if (seq) loom_k.acc((size_t)H, dY + ((size_t)b * T + tau_of(t, s, len)) * H, dhi);
        else if (s == len - 1) loom_k.acc((size_t)H, dY + (size_t)b * H, dhi);
        loom_k.gru_cell_bwd((size_t)H, gxi, ghi, hp + (size_t)i * H, dhi); /* dhi <- z ⊙ dhi */
      }
      if (s == 0) break;
      /* dh_{s-1} = z ⊙ dh_s + dGH_s W_hh  (nb, H) */
      if (any) (nblk > 1 ? loom_gemm_single : loom_gemm)(false, false, nb, H, G3, 1.0f, gh, G3, whh->data, H, 1.0f, dh, H);
    }
  });

  const int R = T * B;
  /* dW_hh += dGHᵀ [h_{-1}..h_{T-2}]  and  dW_ih += dGXᵀ Xs: one GEMM each over all T·B rows */
  if (whh->grad) loom_gemm(true, false, G3, H, R, 1.0f, GH, G3, Hs, H, 1.0f, whh->grad, H);
  if (wih->grad) loom_gemm(true, false, G3, E, R, 1.0f, GX, G3, Xs, E, 1.0f, wih->grad, E);
  if (bih->grad || bhh->grad) { /* column sums of dGX and dGH: column blocks, rows in order (any thread count) */
    const int cb = 64, ncb = (G3 + cb - 1) / cb;
    LOOM_PARALLEL_FOR((size_t)R * G3 > LOOM_PAR_GRAIN, (int c = 0; c < 2 * ncb; c++), {
      const float *D = c < ncb ? GX : GH;
      const int c0 = (c % ncb) * cb, w = G3 - c0 < cb ? G3 - c0 : cb;
      float *db = dbias + (c < ncb ? 0 : G3) + c0;
      memset(db, 0, sizeof(float) * (size_t)w);
      for (int r = 0; r < R; r++) loom_k.acc((size_t)w, D + (size_t)r * G3 + c0, db);
    });
    if (bih->grad) loom_k.acc((size_t)G3, dbias, bih->grad);
    if (bhh->grad) loom_k.acc((size_t)G3, dbias + G3, bhh->grad);
  }
  if (x->grad) { /* dXs = dGX W_ih (into the Xs region, no longer needed), scattered back to (b, tau) */
    loom_gemm(false, false, R, E, G3, 1.0f, GX, G3, wih->data, E, 0.0f, Xs, E);
    LOOM_PARALLEL_FOR((size_t)R * E > LOOM_PAR_GRAIN, (int b = 0; b < B; b++), {
      const int len = seq_len(t, b, T);
      for (int s = 0; s < len; s++)
        loom_k.acc((size_t)E, Xs + ((size_t)s * B + b) * E, x->grad + ((size_t)b * T + tau_of(t, s, len)) * E);
    });
  }
}

const loom_op_def loom_op_gru = {"gru", gru_infer, gru_saved, gru_forward, gru_backward, false};
