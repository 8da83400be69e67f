/* ops_lstm.c — one LSTM direction over a whole sequence as a single op (PyTorch's gate order
 * (i, f, g, o) and its two biases, so weights interchange with torch.nn.LSTM).
 *
 * Forward: the input projection of every step in ONE GEMM (T·B, 4H) = Xs W_ihᵀ, then per step one
 * GEMM h_{s-1} W_hhᵀ added onto that step's rows and the fused gate kernel (loom_k.lstm_cell).
 * Backward through time: per step the fused gate backward and one GEMM dh_{s-1} = dZ_s W_hh; after
 * the loop dW_hh, dW_ih and dx are each ONE GEMM over all T·B rows. Everything kept between the two
 * (step-major inputs, gates, states, the dropout mask) lives in the op's saved arena: no malloc.
 *
 * Masking: sample b has length len_b; step s is active while s < len_b and reads/writes time position
 * tau = s (forward) or len_b - 1 - s (reverse, as packed sequences run backwards over the valid part
 * only). Inactive steps neither update the state nor get gradient; outputs there are zero; the last
 * state is the one after step len_b - 1.
 *
 * Threads: rows are cut into blocks of at most 32 (16 when 32 <= B < 64; a size fixed by B alone); each thread runs the
 * whole recurrence of its blocks (a row's recurrence needs only its own h) with single-threaded
 * per-step GEMMs and gate kernels — no barrier per step, and results do not depend on the thread
 * count. Measured (bench_lstm, B=64 E=128 H=128, 2 shared cores): one 64-row block whose per-step
 * GEMM loom_gemm threads over gate columns costs a fork/join per step and runs the gate kernel on one
 * thread; on a loaded machine it was 3-8x slower at 2 threads than row blocks, though ~5-15% faster at
 * 1 thread (W_hh is packed once per 64 rows instead of per 32). Blocks of 16 pay that packing 4 times.
 * Layers (stacking, bidirectional, dropout between layers, initialisation) are built from this op in
 * src/layers/lstm.c. */
#include <math.h>

#include "loom/parallel.h"
#include "graph_internal.h"
#include "loom/ops_lstm.h"

/* Rows per block of the recurrence (0: automatic). Only benchmarks change it, to compare strategies;
 * B or more means "one block" (per-step GEMMs then thread by columns inside loom_gemm). */
int loom_lstm_row_block = 0;

static int row_block(int B) {
  if (loom_lstm_row_block > 0) return loom_lstm_row_block < B ? loom_lstm_row_block : B;
  /* B in [32, 64): two blocks of 16, so 2 threads share the recurrence (one 32-row block left the
   * per-step GEMM to loom_gemm's column split: at B=32, L=256 training ran slower on 2 threads than on 1) */
  return B < 32 ? B : B < 64 ? 16 : 32;
}

/* ip: [0] H (set at infer), [1] reverse, [2] return_sequences, [3] has lengths; fp[0] recurrent dropout p.
 * src: x (B, T, E), w_ih (4H, E), w_hh (4H, H), b_ih (4H), b_hh (4H)[, lengths (B) int32] */
loom_tensor *loom_lstm_seq(loom_graph *g, loom_tensor *x, loom_tensor *lengths, loom_tensor *w_ih, loom_tensor *w_hh,
                           loom_tensor *b_ih, loom_tensor *b_hh, bool reverse, bool return_sequences,
                           float recurrent_dropout) {
  assert(recurrent_dropout >= 0.0f && recurrent_dropout < 1.0f && "recurrent dropout must be in [0, 1)");
  loom_tensor *src[6] = {x, w_ih, w_hh, b_ih, b_hh, lengths};
  loom_tensor *t = loom_graph_new_op(g, LOOM_OP_LSTM, lengths ? 6 : 5, src);
  t->ip[1] = reverse;
  t->ip[2] = return_sequences;
  t->ip[3] = lengths != NULL;
  t->fp[0] = recurrent_dropout;
  return t;
}

/* The shape rule of a fused recurrent op with `gates` gates (LSTM 4, GRU 3): x (B, T, E), weight_ih
 * (gates·H, E), weight_hh (gates·H, H), two biases (gates·H), optional lengths (B) int32; output (B, T, H)
 * when ip[2] (all states) else (B, H). Sets ip[0] = H. */
int loom_recurrent_infer(loom_graph *g, loom_tensor *t, int gates) {
  const loom_tensor *x = t->src[0], *wih = t->src[1], *whh = t->src[2], *bih = t->src[3], *bhh = t->src[4];
  char s[64];
  if (x->dtype != LOOM_F32 || x->ndim != 3)
    return loom_graph_fail(g, t, "input must be float32 (B, T, E), got %s", loom_shape_str(x, s, sizeof s));
  const int B = x->shape[0], T = x->shape[1], E = x->shape[2], H = t->ip[0] = whh->ndim == 2 ? whh->shape[1] : 0;
  const int G = gates * H;
  if (H < 1 || whh->ndim != 2 || whh->shape[0] != G || whh->shape[1] != H)
    return loom_graph_fail(g, t, "weight_hh must be (%dH, H), got %s", gates, loom_shape_str(whh, s, sizeof s));
  if (wih->ndim != 2 || wih->shape[0] != G || wih->shape[1] != E)
    return loom_graph_fail(g, t, "weight_ih must be (%dH, E) = (%d, %d), got %s", gates, G, E, loom_shape_str(wih, s, sizeof s));
  if (bih->ndim != 1 || bih->shape[0] != G || bhh->ndim != 1 || bhh->shape[0] != G)
    return loom_graph_fail(g, t, "bias_ih and bias_hh must be (%dH) = (%d)", gates, G);
  if (t->ip[3]) {
    const loom_tensor *len = t->src[5];
    if (len->dtype != LOOM_I32 || len->ndim != 1 || len->shape[0] != B)
      return loom_graph_fail(g, t, "lengths must be int32 (B) = (%d), got %s", B, loom_shape_str(len, s, sizeof s));
  }
  t->ndim = t->ip[2] ? 3 : 2;
  t->shape[0] = B;
  t->shape[1] = t->ip[2] ? T : H;
  t->shape[2] = t->ip[2] ? H : 0;
  return 0;
}

static int lstm_infer(loom_graph *g, loom_tensor *t) { return loom_recurrent_infer(g, t, 4); }

/* The saved arena, in bytes from t->saved (each region 64-byte aligned). */
typedef struct {
  size_t key, bias, xs, z, hs, cs, hm, mask, dh, dc, total;
} lstm_layout;

static size_t al(size_t floats) { return (floats * sizeof(float) + 63) / 64 * 64; }

static lstm_layout layout_of(const loom_tensor *t) {
  const size_t B = (size_t)t->src[0]->shape[0], T = (size_t)t->src[0]->shape[1], E = (size_t)t->src[0]->shape[2];
  const size_t H = (size_t)t->ip[0];
  const bool rdrop = t->fp[0] > 0.0f;
  lstm_layout L;
  size_t o = 0;
  L.key = o, o += 64;
  L.bias = o, o += al(4 * H);                            /* b_ih + b_hh; backward: bias gradient */
  L.xs = o, o += al(T * B * E);                          /* (T, B, E) step-major x; backward: dx */
  L.z = o, o += al(T * B * 4 * H);                       /* (T, B, 4H) gates; backward: d pre-act. */
  L.hs = o, o += al((T + 1) * B * H);                    /* (T+1, B, H) h before/after each step */
  L.cs = o, o += al((T + 1) * B * H);                    /* (T+1, B, H) c */
  L.hm = o, o += rdrop ? al(T * B * H) : 0;              /* (T, B, H) h_{s-1} * mask: GEMM input */
  L.mask = o, o += rdrop ? al(B * H) : 0;                /* (B, H) recurrent dropout mask, scaled */
  L.dh = o, o += al(B * H);
  L.dc = o, o += al(B * H);
  L.total = o;
  return L;
}
static size_t lstm_saved(const loom_tensor *t) { return layout_of(t).total; }

#define AT(base, L, f) ((float *)(void *)((unsigned char *)(base) + (L).f))

static inline int seq_len(const loom_tensor *t, int b, int T) { return t->ip[3] ? t->src[5]->idata[b] : T; }
static inline int tau_of(const loom_tensor *t, int s, int len) { return t->ip[1] ? len - 1 - s : s; }

static void lstm_forward(loom_graph *g, loom_tensor *t) {
  const loom_tensor *x = t->src[0], *wih = t->src[1], *whh = t->src[2];
  const int B = x->shape[0], T = x->shape[1], E = x->shape[2], H = t->ip[0], G4 = 4 * H;
  const bool seq = t->ip[2];
  const lstm_layout L = layout_of(t);
  float *bias = AT(t->saved, L, bias), *Xs = AT(t->saved, L, xs), *Z = AT(t->saved, L, z);
  float *Hs = AT(t->saved, L, hs), *Cs = AT(t->saved, L, cs), *Hm = AT(t->saved, L, hm), *M = AT(t->saved, L, mask);
  uint64_t *key = (uint64_t *)t->saved;

  for (int b = 0; b < B; b++) {
    int len = seq_len(t, b, T);
    if (len < 0 || len > T) LOOM_FATAL("lstm '%s': length %d of sample %d is outside [0, %d]", t->name, len, b, T);
  }
  loom_k.add((size_t)G4, t->src[3]->data, t->src[4]->data, bias);
  const bool rdrop = t->fp[0] > 0.0f;
  *key = rdrop && g->training ? loom_rng_u64(&g->rng) | 1 : 0;
  if (rdrop) { /* mask fixed across steps per sequence; all ones (no dropout) in eval */
    const uint32_t threshold = (uint32_t)(t->fp[0] * 16777216.0f);
    const float scale = 1.0f / (1.0f - t->fp[0]);
    for (size_t i = 0; i < (size_t)B * H; i++)
      M[i] = !*key ? 1.0f : (uint32_t)(loom_rng_hash(*key, i) >> 40) >= threshold ? scale : 0.0f;
  }

  /* Step-major inputs: Xs[s][b] = x[b][tau(s, b)], zero where inactive. */
  LOOM_PARALLEL_FOR((size_t)T * B * E > LOOM_PAR_GRAIN, (long r = 0; r < (long)T * B; r++), {
    const int s = (int)(r / B), b = (int)(r % B), len = seq_len(t, b, T);
    float *dst = Xs + (size_t)r * E;
    if (s < len) memcpy(dst, x->data + ((size_t)b * T + tau_of(t, s, len)) * E, sizeof(float) * (size_t)E);
    else memset(dst, 0, sizeof(float) * (size_t)E);
  });
  /* Input projection of every step: Z = Xs W_ihᵀ  (T·B, 4H) */
  loom_gemm(false, true, T * B, G4, E, 1.0f, Xs, E, wih->data, E, 0.0f, Z, G4);
  if (seq) memset(t->data, 0, sizeof(float) * (size_t)B * T * H);

  const int rb = row_block(B), nblk = (B + rb - 1) / rb;
  LOOM_PARALLEL_FOR(nblk > 1, (int blk = 0; blk < nblk; blk++), {
    const int b0 = blk * rb, nb = B - b0 < rb ? B - b0 : rb;
    memset(Hs + (size_t)b0 * H, 0, sizeof(float) * (size_t)nb * H);
    memset(Cs + (size_t)b0 * H, 0, sizeof(float) * (size_t)nb * H);
    int maxlen = 0;
    for (int b = b0; b < b0 + nb; b++) maxlen = seq_len(t, b, T) > maxlen ? seq_len(t, b, T) : maxlen;
    for (int s = 0; s < T; s++) {
      float *hp = Hs + ((size_t)s * B + b0) * H, *cp = Cs + ((size_t)s * B + b0) * H;
      float *hn = hp + (size_t)B * H, *cn = cp + (size_t)B * H, *z = Z + ((size_t)s * B + b0) * G4;
      const float *hin = hp;
      if (rdrop) {
        float *hm = Hm + ((size_t)s * B + b0) * H;
        loom_k.mul((size_t)nb * H, hp, M + (size_t)b0 * H, hm);
        hin = hm;
      }
      /* z += h_{s-1} W_hhᵀ  (nb, 4H); h_{-1} = 0, and nothing is active past the block's longest row */
      if (s > 0 && s < maxlen) (nblk > 1 ? loom_gemm_single : loom_gemm)(false, true, nb, G4, H, 1.0f, hin, H, whh->data, H, 1.0f, z, G4);
      for (int i = 0; i < nb; i++) {
        const int b = b0 + i, len = seq_len(t, b, T);
        const size_t o = (size_t)i * H;
        if (s < len) {
          loom_k.lstm_cell((size_t)H, z + (size_t)i * G4, bias, cp + o, cn + o, hn + o);
          if (seq) memcpy(t->data + ((size_t)b * T + tau_of(t, s, len)) * H, hn + o, sizeof(float) * (size_t)H);
        } else { /* frozen: carry the state (only read as a finite GEMM operand against zero gradients) */
          memcpy(hn + o, hp + o, sizeof(float) * (size_t)H);
          memcpy(cn + o, cp + o, sizeof(float) * (size_t)H);
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

static void lstm_backward(loom_graph *g, loom_tensor *t) {
  loom_tensor *x = t->src[0], *wih = t->src[1], *whh = t->src[2], *bih = t->src[3], *bhh = t->src[4];
  const int B = x->shape[0], T = x->shape[1], E = x->shape[2], H = t->ip[0], G4 = 4 * H;
  const bool seq = t->ip[2], rdrop = t->fp[0] > 0.0f;
  const lstm_layout L = layout_of(t);
  float *dbias = AT(t->saved, L, bias), *Xs = AT(t->saved, L, xs), *Z = AT(t->saved, L, z);
  float *Hs = AT(t->saved, L, hs), *Cs = AT(t->saved, L, cs), *Hm = AT(t->saved, L, hm), *M = AT(t->saved, L, mask);
  float *dH = AT(t->saved, L, dh), *dC = AT(t->saved, L, dc);
  const float *dY = t->grad;

  const int rb = row_block(B), nblk = (B + rb - 1) / rb;
  LOOM_PARALLEL_FOR(nblk > 1, (int blk = 0; blk < nblk; blk++), {
    const int b0 = blk * rb, nb = B - b0 < rb ? B - b0 : rb;
    float *dh = dH + (size_t)b0 * H, *dc = dC + (size_t)b0 * H;
    memset(dh, 0, sizeof(float) * (size_t)nb * H);
    memset(dc, 0, sizeof(float) * (size_t)nb * H);
    for (int s = T - 1; s >= 0; s--) {
      const float *cp = Cs + ((size_t)s * B + b0) * H, *cn = cp + (size_t)B * H;
      float *z = Z + ((size_t)s * B + b0) * G4;
      bool any = false;
      for (int i = 0; i < nb; i++) {
        const int b = b0 + i, len = seq_len(t, b, T);
        float *zi = z + (size_t)i * G4, *dhi = dh + (size_t)i * H;
        if (s >= len) { /* inactive: no gradient into the gates (dh, dc are still zero here) */
          memset(zi, 0, sizeof(float) * (size_t)G4);
          continue;
        }
        any = true;
        if (seq) loom_k.acc((size_t)H, dY + ((size_t)b * T + tau_of(t, s, len)) * H, dhi);
        else if (s == len - 1) loom_k.acc((size_t)H, dY + (size_t)b * H, dhi);
        loom_k.lstm_cell_bwd((size_t)H, zi, cp + (size_t)i * H, cn + (size_t)i * H, dhi, dc + (size_t)i * H);
      }
      if (s == 0) break;
      /* dh_{s-1} = dZ_s W_hh  (nb, H), through the dropout mask */
      if (any) (nblk > 1 ? loom_gemm_single : loom_gemm)(false, false, nb, H, G4, 1.0f, z, G4, whh->data, H, 0.0f, dh, H);
      else memset(dh, 0, sizeof(float) * (size_t)nb * H);
      if (rdrop) loom_k.mul((size_t)nb * H, dh, M + (size_t)b0 * H, dh);
    }
  });

  const int R = T * B;
  /* dW_hh += dZᵀ [h_{-1}..h_{T-2}]  and  dW_ih += dZᵀ Xs: one GEMM each over all T·B rows */
  if (whh->grad) loom_gemm(true, false, G4, H, R, 1.0f, Z, G4, rdrop ? Hm : Hs, H, 1.0f, whh->grad, H);
  if (wih->grad) loom_gemm(true, false, G4, E, R, 1.0f, Z, G4, Xs, E, 1.0f, wih->grad, E);
  if (bih->grad || bhh->grad) { /* column sums of dZ: column blocks, rows in order (any thread count) */
    const int cb = 64, ncb = (G4 + cb - 1) / cb;
    LOOM_PARALLEL_FOR((size_t)R * G4 > LOOM_PAR_GRAIN, (int c = 0; c < ncb; c++), {
      const int c0 = c * cb, w = G4 - c0 < cb ? G4 - c0 : cb;
      memset(dbias + c0, 0, sizeof(float) * (size_t)w);
      for (int r = 0; r < R; r++) loom_k.acc((size_t)w, Z + (size_t)r * G4 + c0, dbias + c0);
    });
    if (bih->grad) loom_k.acc((size_t)G4, dbias, bih->grad);
    if (bhh->grad) loom_k.acc((size_t)G4, dbias, bhh->grad);
  }
  if (x->grad) { /* dXs = dZ W_ih (into the Xs region, no longer needed), scattered back to (b, tau) */
    loom_gemm(false, false, R, E, G4, 1.0f, Z, G4, wih->data, E, 0.0f, Xs, E);
    LOOM_PARALLEL_FOR((size_t)R * E > LOOM_PAR_GRAIN, (int b = 0; b < B; b++), {
      const int len = seq_len(t, b, T);
      for (int s = 0; s < len; s++)
        loom_k.acc((size_t)E, Xs + ((size_t)s * B + b) * E, x->grad + ((size_t)b * T + tau_of(t, s, len)) * E);
    });
  }
}

const loom_op_def loom_op_lstm = {"lstm", lstm_infer, lstm_saved, lstm_forward, lstm_backward, false};
