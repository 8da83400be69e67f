/* ops_conv.c — Conv2D (im2col + GEMM), max / average pooling and global average pooling over NCHW
 * images: builder, shape rule, forward and backward of each, side by side. Threads split the batch;
 * every per-thread buffer lives in the op's saved arena slot (sized at compile), and every sum over
 * samples runs in a fixed order, so results are bit-identical for any thread count. Layer builders
 * (parameters, initialisers, names) are in src/layers/conv.c. */
#include <math.h>
#include <omp.h>

#include "loom/parallel.h"
#include "graph_internal.h"
#include "loom/ops_conv.h"

/* ======================= padding geometry shared by conv and pooling ======================= */

/* Output size and leading pad of one spatial dim; -1 when the window does not fit. */
static int pad_1d(loom_conv_pad_mode mode, int n, int k, int s, int p, int *out, int *before) {
  *out = *before = 0;
  switch (mode) {
  case LOOM_CONV_PAD_VALID:
    *before = 0;
    if (n < k) return -1;
    *out = (n - k) / s + 1;
    return 0;
  case LOOM_CONV_PAD_SAME: {
    *out = (n + s - 1) / s;
    int total = (*out - 1) * s + k - n;
    if (total < 0) total = 0;
    *before = total / 2; /* the odd one goes after (bottom / right), like TF */
    return 0;
  }
  case LOOM_CONV_PAD_EXPLICIT:
    *before = p;
    if (p < 0 || n + 2 * p < k) return -1;
    *out = (n + 2 * p - k) / s + 1;
    return 0;
  }
  return -1;
}

static const char *pad_name(loom_conv_pad_mode m) {
  return m == LOOM_CONV_PAD_VALID ? "valid" : m == LOOM_CONV_PAD_SAME ? "same" : "explicit";
}

/* ======================= conv2d ======================= */
/* src: x (B, C, H, W), w (O, C, kh, kw), [b (O)].
 * ip: [0] sh, [1] sw, [2] pad mode, [3] ph, [4] pw (explicit), set at infer: [5] scratch slots
 * (threads at compile), [6] samples per GEMM block, [7] groups of blocks for dW. fp: [0] 1 when the
 * column matrices fit loom_conv_keep_floats (kept for backward if the op gets a gradient).
 * The batch is cut into blocks of nb samples (one GEMM each) and the blocks into G groups, both from
 * the shapes alone. A thread takes whole groups; group g sums its blocks' dW and db in order into its
 * own partials, and the partials are added in group order: the same sums for any thread count, with
 * one parallel region per pass. */

typedef struct {
  int B, C, H, W, O, kh, kw, sh, sw, pt, pl, Ho, Wo;
  int K, P;    /* rows of the column matrix (C kh kw) and output pixels (Ho Wo) */
  int nb, NB;  /* samples per block, number of blocks */
  int G;       /* groups of consecutive blocks, each with its own dW partial */
  int slots;   /* threads that may run at once (column scratch per thread) */
  bool ident;  /* 1x1, stride 1, no padding: the column matrix is x itself */
  bool keep;   /* training: forward keeps every column matrix for backward (when small enough) */
} conv_geom;

/* Blocks of samples are GEMM'd together when one sample has few output pixels (deep layers): each
 * block has about CONV_COLS columns. The split depends only on the shapes, never on the thread count. */
#define CONV_COLS 256
/* Groups for the dW reduction: enough to share among threads, few enough to keep partials small. */
#define CONV_GROUPS 8
#define CONV_PARTIAL_FLOATS (8u << 20)
/* Column matrices of the whole batch up to this many floats are kept from forward to backward instead
 * of being rebuilt (im2col costs about a fifth of a small-image conv); larger ones are recomputed.
 * Read at compile; tests set it to 0 to exercise the recompute path. */
size_t loom_conv_keep_floats = 16u << 20;

loom_tensor *loom_conv2d(loom_graph *g, loom_tensor *x, loom_tensor *w, loom_tensor *b, int stride_h, int stride_w,
                         loom_padding pad) {
  assert(stride_h >= 1 && stride_w >= 1 && "conv2d strides must be >= 1");
  loom_tensor *src[3] = {x, w, b};
  loom_tensor *t = loom_graph_new_op(g, LOOM_OP_CONV2D, b ? 3 : 2, src);
  t->ip[0] = stride_h;
  t->ip[1] = stride_w;
  t->ip[2] = (int)pad.mode;
  t->ip[3] = pad.h;
  t->ip[4] = pad.w;
  return t;
}

static void conv_geometry(const loom_tensor *t, conv_geom *q) {
  const loom_tensor *x = t->src[0], *w = t->src[1];
  q->B = x->shape[0], q->C = x->shape[1], q->H = x->shape[2], q->W = x->shape[3];
  q->O = w->shape[0], q->kh = w->shape[2], q->kw = w->shape[3];
  q->sh = t->ip[0], q->sw = t->ip[1];
  q->Ho = t->shape[2], q->Wo = t->shape[3];
  int dummy;
  pad_1d((loom_conv_pad_mode)t->ip[2], q->H, q->kh, q->sh, t->ip[3], &dummy, &q->pt);
  pad_1d((loom_conv_pad_mode)t->ip[2], q->W, q->kw, q->sw, t->ip[4], &dummy, &q->pl);
  q->K = q->C * q->kh * q->kw;
  q->P = q->Ho * q->Wo;
  q->slots = t->ip[5];
  q->nb = t->ip[6];
  q->NB = (q->B + q->nb - 1) / q->nb;
  q->G = t->ip[7];
  q->ident = q->kh == 1 && q->kw == 1 && q->sh == 1 && q->sw == 1 && q->pt == 0 && q->pl == 0;
  q->keep = t->requires_grad && t->fp[0] != 0.0f;
}

static int conv2d_infer(loom_graph *g, loom_tensor *t) {
  const loom_tensor *x = t->src[0], *w = t->src[1], *b = t->nsrc > 2 ? t->src[2] : NULL;
  char sx[64], sw[64];
  if (x->dtype != LOOM_F32 || w->dtype != LOOM_F32) return loom_graph_fail(g, t, "operands must be float32");
  if (x->ndim != 4) return loom_graph_fail(g, t, "input must be (B, C, H, W), got %s", loom_shape_str(x, sx, sizeof sx));
  if (w->ndim != 4 || w->shape[1] != x->shape[1])
    return loom_graph_fail(g, t, "weight %s does not fit input %s: want (C_out, %d, kh, kw)",
                           loom_shape_str(w, sw, sizeof sw), loom_shape_str(x, sx, sizeof sx), x->shape[1]);
  if (b && (b->ndim != 1 || b->shape[0] != w->shape[0]))
    return loom_graph_fail(g, t, "bias %s must be (%d)", loom_shape_str(b, sw, sizeof sw), w->shape[0]);
  const loom_conv_pad_mode mode = (loom_conv_pad_mode)t->ip[2];
  int Ho, Wo, pt, pl;
  if (pad_1d(mode, x->shape[2], w->shape[2], t->ip[0], t->ip[3], &Ho, &pt) ||
      pad_1d(mode, x->shape[3], w->shape[3], t->ip[1], t->ip[4], &Wo, &pl))
    return loom_graph_fail(g, t, "a %dx%d kernel does not fit input %s with %s padding (%d, %d)", w->shape[2],
                           w->shape[3], loom_shape_str(x, sx, sizeof sx), pad_name(mode), t->ip[3], t->ip[4]);
  t->ndim = 4;
  t->shape[0] = x->shape[0];
  t->shape[1] = w->shape[0];
  t->shape[2] = Ho;
  t->shape[3] = Wo;
  /* Block size from the shapes only; scratch slots from the threads available now (the forward and
   * backward never run more blocks at once than there are slots). */
  const int B = x->shape[0], P = Ho * Wo;
  long nblocks = (long)B * P / CONV_COLS;
  if (nblocks < 1) nblocks = 1;
  if (nblocks > B) nblocks = B;
  const int nb = (int)((B + nblocks - 1) / nblocks), NB = (B + nb - 1) / nb;
  const size_t wn = loom_tensor_numel(w);
  int G = NB < CONV_GROUPS ? NB : CONV_GROUPS;
  while (G > 1 && (size_t)G * wn > CONV_PARTIAL_FLOATS) G--;
  const int threads = loom_num_threads();
  t->ip[5] = threads < NB ? threads : NB;
  t->ip[6] = nb;
  t->ip[7] = G;
  const bool ident = w->shape[2] == 1 && w->shape[3] == 1 && t->ip[0] == 1 && t->ip[1] == 1 && pt == 0 && pl == 0;
  t->fp[0] = !ident && (size_t)B * x->shape[1] * w->shape[2] * w->shape[3] * P <= loom_conv_keep_floats;
  return 0;
}

/* Scratch: per thread slot, the column matrix (K, nb P) and staging for y / dy blocks (O, nb P) when
 * nb > 1; then, for backward, G dW and db partials; then, when kept, every block's column matrix in
 * block order (B K P floats). */
static size_t conv_slot_floats(const conv_geom *q) {
  size_t cols = (size_t)q->nb * q->P;
  size_t n = (size_t)q->K * cols + (q->nb > 1 ? (size_t)q->O * cols : 0);
  return (n + 15) / 16 * 16; /* keep every slot 64-byte aligned */
}
/* Backward partials: G of dW (O, K) as floats, then G of db (O) as doubles. */
static size_t conv_wpart_floats(const conv_geom *q) { return ((size_t)q->G * q->O * q->K + 15) / 16 * 16; }
static size_t conv_partial_floats(const conv_geom *q) {
  return conv_wpart_floats(q) + ((size_t)q->G * q->O * 2 + 15) / 16 * 16;
}
static size_t conv2d_saved(const loom_tensor *t) {
  conv_geom q;
  conv_geometry(t, &q);
  size_t n = conv_slot_floats(&q) * (size_t)q.slots;
  if (t->requires_grad) n += conv_partial_floats(&q);
  if (q.keep) n += (size_t)q.B * q.K * q.P;
  return n * sizeof(float);
}
/* Threads for a pass over `work` independent items. */
static int conv_threads(const conv_geom *q, int work) {
  int n = loom_num_threads();
  if (n > q->slots) n = q->slots;
  return n < work ? n : work;
}

/* col[(c kh + i) kw + j, p] = x_pad[c, oh sh + i, ow sw + j] for p = oh Wo + ow; rows ld apart. */
static void im2col(const conv_geom *q, const float *x, float *col, size_t ld) {
  for (int c = 0; c < q->C; c++)
    for (int i = 0; i < q->kh; i++)
      for (int j = 0; j < q->kw; j++) {
        float *dst = col + (size_t)((c * q->kh + i) * q->kw + j) * ld;
        /* output columns whose input column iw = ow sw - pl + j is inside [0, W) */
        const int lo_num = q->pl - j, hi_num = q->W - 1 + q->pl - j;
        int lo = lo_num <= 0 ? 0 : (lo_num + q->sw - 1) / q->sw;
        int hi = hi_num < 0 ? 0 : hi_num / q->sw + 1;
        if (hi > q->Wo) hi = q->Wo;
        if (lo > hi) lo = hi;
        for (int oh = 0; oh < q->Ho; oh++) {
          float *d = dst + (size_t)oh * q->Wo;
          const int ih = oh * q->sh - q->pt + i;
          if (ih < 0 || ih >= q->H) {
            memset(d, 0, sizeof(float) * (size_t)q->Wo);
            continue;
          }
          const float *s = x + ((size_t)c * q->H + ih) * q->W - q->pl + j;
          /* plain loops, not memcpy / kernel calls: rows are short (tens of floats) */
          for (int ow = 0; ow < lo; ow++) d[ow] = 0.0f;
          if (q->sw == 1)
            for (int ow = lo; ow < hi; ow++) d[ow] = s[ow];
          else
            for (int ow = lo; ow < hi; ow++) d[ow] = s[ow * q->sw];
          for (int ow = hi; ow < q->Wo; ow++) d[ow] = 0.0f;
        }
      }
}

/* The adjoint of im2col: dx[c, ih, iw] += dcol[...] for every in-image position. */
static void col2im(const conv_geom *q, const float *col, size_t ld, float *dx) {
  for (int c = 0; c < q->C; c++)
    for (int i = 0; i < q->kh; i++)
      for (int j = 0; j < q->kw; j++) {
        const float *src = col + (size_t)((c * q->kh + i) * q->kw + j) * ld;
        const int lo_num = q->pl - j, hi_num = q->W - 1 + q->pl - j;
        int lo = lo_num <= 0 ? 0 : (lo_num + q->sw - 1) / q->sw;
        int hi = hi_num < 0 ? 0 : hi_num / q->sw + 1;
        if (hi > q->Wo) hi = q->Wo;
        if (lo >= hi) continue;
        for (int oh = 0; oh < q->Ho; oh++) {
          const int ih = oh * q->sh - q->pt + i;
          if (ih < 0 || ih >= q->H) continue;
          const float *s = src + (size_t)oh * q->Wo;
          float *d = dx + ((size_t)c * q->H + ih) * q->W - q->pl + j;
          if (q->sw == 1)
            for (int ow = lo; ow < hi; ow++) d[ow] += s[ow];
          else
            for (int ow = lo; ow < hi; ow++) d[ow * q->sw] += s[ow];
        }
      }
}

/* The column matrix of samples [n0, n0 + cnt) side by side: (K, cnt P). Returns it (x itself for a
 * single 1x1 sample). */
static const float *block_cols(const conv_geom *q, const float *X, int n0, int cnt, float *col) {
  const size_t ld = (size_t)cnt * q->P, in = (size_t)q->C * q->H * q->W;
  if (q->ident && cnt == 1) return X + (size_t)n0 * in;
  for (int s = 0; s < cnt; s++) {
    const float *x = X + (size_t)(n0 + s) * in;
    if (q->ident)
      for (int c = 0; c < q->C; c++) memcpy(col + c * ld + (size_t)s * q->P, x + (size_t)c * q->P, sizeof(float) * q->P);
    else im2col(q, x, col + (size_t)s * q->P, ld);
  }
  return col;
}

static void conv2d_forward(loom_graph *g, loom_tensor *t) {
  conv_geom q;
  conv_geometry(t, &q);
  const float *X = t->src[0]->data, *Wt = t->src[1]->data, *bias = t->nsrc > 2 ? t->src[2]->data : NULL;
  float *Y = t->data;
  const size_t slot_n = conv_slot_floats(&q), out = (size_t)q.O * q.P;
  float *scratch = t->saved;
  float *kept = scratch + slot_n * (size_t)q.slots + (t->requires_grad ? conv_partial_floats(&q) : 0);
  const int nthr = conv_threads(&q, q.NB);
  LOOM_PARALLEL_FOR_N(nthr, (int blk = 0; blk < q.NB; blk++), {
    float *col = scratch + (size_t)omp_get_thread_num() * slot_n;
    const int n0 = blk * q.nb, cnt = q.B - n0 < q.nb ? q.B - n0 : q.nb;
    const size_t ld = (size_t)cnt * q.P;
    const float *cols = block_cols(&q, X, n0, cnt, q.keep ? kept + (size_t)n0 * q.K * q.P : col);
    if (cnt == 1) { /* straight into y_n: (O, P) = W (O, K) . col (K, P) */
      float *y = Y + (size_t)n0 * out;
      (q.NB > 1 ? loom_gemm_single : loom_gemm)(false, false, q.O, q.P, q.K, 1.0f, Wt, q.K, cols, q.P, 0.0f, y, q.P);
      if (bias)
        for (int o = 0; o < q.O; o++) loom_k.affine(q.P, 1.0f, bias[o], y + (size_t)o * q.P, y + (size_t)o * q.P);
    } else { /* (O, cnt P) in staging, then scattered to (cnt, O, P) with the bias */
      float *stage = col + (size_t)q.K * ld;
      (q.NB > 1 ? loom_gemm_single : loom_gemm)(false, false, q.O, (int)ld, q.K, 1.0f, Wt, q.K, cols, (int)ld, 0.0f, stage, (int)ld);
      for (int s = 0; s < cnt; s++)
        for (int o = 0; o < q.O; o++)
          loom_k.affine(q.P, 1.0f, bias ? bias[o] : 0.0f, stage + (size_t)o * ld + (size_t)s * q.P,
                        Y + (size_t)(n0 + s) * out + (size_t)o * q.P);
    }
  });
}

/* Per group of blocks, in block order: dW_g = sum dy_n col_n^T, db_g = sum dy_n; then
 * dW += dW_0 + dW_1 + ..., db += db_0 + db_1 + ... in group order.  dx_n += col2im(W^T dy_n). */
static void conv2d_backward(loom_graph *g, loom_tensor *t) {
  conv_geom q;
  conv_geometry(t, &q);
  loom_tensor *x = t->src[0], *w = t->src[1], *b = t->nsrc > 2 ? t->src[2] : NULL;
  const float *X = x->data, *Wt = w->data, *dY = t->grad;
  float *dX = x->grad, *dW = w->grad, *dB = b ? b->grad : NULL;
  const size_t slot_n = conv_slot_floats(&q), out = (size_t)q.O * q.P, in = (size_t)q.C * q.H * q.W;
  const size_t wn = (size_t)q.O * q.K;
  float *scratch = t->saved, *partials = scratch + slot_n * (size_t)q.slots;
  double *dbparts = (double *)(void *)(partials + conv_wpart_floats(&q));
  float *kept = partials + conv_partial_floats(&q);
  if (!dX && !dW && !dB) return;

  const int nthr = conv_threads(&q, q.G);
  LOOM_PARALLEL_FOR_N(nthr, (int grp = 0; grp < q.G; grp++), {
    float *col = scratch + (size_t)omp_get_thread_num() * slot_n, *dwpart = partials + (size_t)grp * wn;
    /* group grp: blocks [grp NB / G, (grp + 1) NB / G) */
    const int blk0 = (int)((long)grp * q.NB / q.G), blk1 = (int)((long)(grp + 1) * q.NB / q.G);
    for (int blk = blk0; blk < blk1; blk++) {
      const int n0 = blk * q.nb, cnt = q.B - n0 < q.nb ? q.B - n0 : q.nb;
      const int ld = cnt * q.P;
      float *stage = col + (size_t)q.K * ld;
      const float *dy = dY + (size_t)n0 * out;
      if (cnt > 1) { /* gather dy of the block as (O, cnt P) */
        for (int s = 0; s < cnt; s++)
          for (int o = 0; o < q.O; o++)
            memcpy(stage + (size_t)o * ld + (size_t)s * q.P, dY + (size_t)(n0 + s) * out + (size_t)o * q.P,
                   sizeof(float) * q.P);
        dy = stage;
      }
      if (dB) {
        double *dbp = dbparts + (size_t)grp * q.O;
        if (blk == blk0) memset(dbp, 0, sizeof(double) * q.O);
        for (int o = 0; o < q.O; o++)
          for (int s = 0; s < cnt; s++) dbp[o] += loom_k.sum(q.P, dY + (size_t)(n0 + s) * out + (size_t)o * q.P);
      }
      if (dW) {
        const float *cols = q.keep ? kept + (size_t)n0 * q.K * q.P : block_cols(&q, X, n0, cnt, col);
        (q.NB > 1 ? loom_gemm_single : loom_gemm)(false, true, q.O, q.K, ld, 1.0f, dy, ld, cols, ld, blk == blk0 ? 0.0f : 1.0f, dwpart, q.K);
      }
      if (dX) {
        if (q.ident && cnt == 1) {
          (q.NB > 1 ? loom_gemm_single : loom_gemm)(true, false, q.K, q.P, q.O, 1.0f, Wt, q.K, dy, q.P, 1.0f, dX + (size_t)n0 * in, q.P);
        } else {
          (q.NB > 1 ? loom_gemm_single : loom_gemm)(true, false, q.K, ld, q.O, 1.0f, Wt, q.K, dy, ld, 0.0f, col, ld);
          for (int s = 0; s < cnt; s++) {
            float *dx = dX + (size_t)(n0 + s) * in;
            if (q.ident)
              for (int c = 0; c < q.C; c++) loom_k.acc(q.P, col + (size_t)c * ld + (size_t)s * q.P, dx + (size_t)c * q.P);
            else col2im(&q, col + (size_t)s * q.P, (size_t)ld, dx);
          }
        }
      }
    }
  });
  if (dW) /* dW += part_0 + part_1 + ... in group order, threads over elements */
    LOOM_PARALLEL_BLOCKS(wn, s0, len, {
      for (int grp = 0; grp < q.G; grp++) loom_k.acc(len, partials + (size_t)grp * wn + s0, dW + s0);
    });
  if (dB)
    for (int o = 0; o < q.O; o++) {
      double s = 0.0;
      for (int grp = 0; grp < q.G; grp++) s += dbparts[(size_t)grp * q.O + o];
      dB[o] += (float)s;
    }
}
const loom_op_def loom_op_conv2d = {"conv2d", conv2d_infer, conv2d_saved, conv2d_forward, conv2d_backward, false};

/* ======================= pooling geometry ======================= */
/* ip: [0] kh, [1] kw, [2] sh, [3] sw, [4] pad mode, [5] ph, [6] pw, [7] count_include_pad (avg) */

typedef struct {
  int B, C, H, W, kh, kw, sh, sw, pt, pl, pb, pr, Ho, Wo;
} pool_geom;

static loom_tensor *pool_new(loom_graph *g, loom_op op, loom_tensor *x, int kh, int kw, int sh, int sw,
                             loom_padding pad) {
  assert(kh >= 1 && kw >= 1 && sh >= 1 && sw >= 1 && "pooling kernel and stride must be >= 1");
  loom_tensor *t = loom_graph_new_op(g, op, 1, &x);
  t->ip[0] = kh, t->ip[1] = kw, t->ip[2] = sh, t->ip[3] = sw;
  t->ip[4] = (int)pad.mode, t->ip[5] = pad.h, t->ip[6] = pad.w;
  return t;
}
loom_tensor *loom_maxpool2d(loom_graph *g, loom_tensor *x, int kh, int kw, int stride_h, int stride_w,
                            loom_padding pad) {
  return pool_new(g, LOOM_OP_MAXPOOL2D, x, kh, kw, stride_h, stride_w, pad);
}
loom_tensor *loom_avgpool2d(loom_graph *g, loom_tensor *x, int kh, int kw, int stride_h, int stride_w,
                            loom_padding pad, bool count_include_pad) {
  loom_tensor *t = pool_new(g, LOOM_OP_AVGPOOL2D, x, kh, kw, stride_h, stride_w, pad);
  t->ip[7] = count_include_pad;
  return t;
}

static void pool_geometry(const loom_tensor *t, pool_geom *q) {
  const loom_tensor *x = t->src[0];
  q->B = x->shape[0], q->C = x->shape[1], q->H = x->shape[2], q->W = x->shape[3];
  q->kh = t->ip[0], q->kw = t->ip[1], q->sh = t->ip[2], q->sw = t->ip[3];
  pad_1d((loom_conv_pad_mode)t->ip[4], q->H, q->kh, q->sh, t->ip[5], &q->Ho, &q->pt);
  pad_1d((loom_conv_pad_mode)t->ip[4], q->W, q->kw, q->sw, t->ip[6], &q->Wo, &q->pl);
  /* padding after: what the last window reaches past the image (never negative) */
  q->pb = (q->Ho - 1) * q->sh + q->kh - q->H - q->pt;
  q->pr = (q->Wo - 1) * q->sw + q->kw - q->W - q->pl;
  if (q->pb < 0) q->pb = 0;
  if (q->pr < 0) q->pr = 0;
}

static int pool_infer(loom_graph *g, loom_tensor *t) {
  const loom_tensor *x = t->src[0];
  char sx[64];
  if (x->dtype != LOOM_F32 || x->ndim != 4)
    return loom_graph_fail(g, t, "input must be a float32 (B, C, H, W), got %s", loom_shape_str(x, sx, sizeof sx));
  const loom_conv_pad_mode mode = (loom_conv_pad_mode)t->ip[4];
  if (mode == LOOM_CONV_PAD_EXPLICIT && (t->ip[5] > t->ip[0] / 2 || t->ip[6] > t->ip[1] / 2))
    return loom_graph_fail(g, t, "padding (%d, %d) must be at most half the %dx%d kernel", t->ip[5], t->ip[6],
                           t->ip[0], t->ip[1]);
  int Ho, Wo, pt, pl;
  if (pad_1d(mode, x->shape[2], t->ip[0], t->ip[2], t->ip[5], &Ho, &pt) ||
      pad_1d(mode, x->shape[3], t->ip[1], t->ip[3], t->ip[6], &Wo, &pl))
    return loom_graph_fail(g, t, "a %dx%d window does not fit input %s with %s padding", t->ip[0], t->ip[1],
                           loom_shape_str(x, sx, sizeof sx), pad_name(mode));
  t->ndim = 4;
  t->shape[0] = x->shape[0];
  t->shape[1] = x->shape[1];
  t->shape[2] = Ho;
  t->shape[3] = Wo;
  return 0;
}

/* The in-image part [h0, h1) x [w0, w1) of output (oh, ow)'s window. */
#define POOL_WINDOW(q, oh, ow)                                                                    \
  const int hs_ = (oh) * (q).sh - (q).pt, ws_ = (ow) * (q).sw - (q).pl;                           \
  const int h0 = hs_ < 0 ? 0 : hs_, w0 = ws_ < 0 ? 0 : ws_;                                       \
  const int h1 = hs_ + (q).kh > (q).H ? (q).H : hs_ + (q).kh, w1 = ws_ + (q).kw > (q).W ? (q).W : ws_ + (q).kw

/* ======================= maxpool2d ======================= */
/* Saved: argmax (B, C, Ho, Wo) int32, the flat index in its H x W plane. */

static size_t maxpool_saved(const loom_tensor *t) { return loom_tensor_numel(t) * sizeof(int32_t); }

/* One output of a window clipped by the image border. Scan order is row-major over the window and
 * the first maximum wins; a NaN always takes over (PyTorch's `val > max || isnan(val)`). */
static void maxpool_one(const pool_geom *q, const float *x, int oh, int ow, float *y, int32_t *a) {
  POOL_WINDOW(*q, oh, ow);
  int best = h0 * q->W + w0;
  float m = x[best];
  for (int ih = h0; ih < h1; ih++)
    for (int iw = w0; iw < w1; iw++) {
      const float v = x[ih * q->W + iw];
      if (v > m || isnan(v)) m = v, best = ih * q->W + iw;
    }
  *y = m;
  *a = best;
}

/* y[ow], a[ow] = the larger of themselves and x[ow sw] (index base + ow sw), for ow in [lo, hi).
 * Selects by masks: compilers turn `take ? v : m` into a branch, which mispredicts on real data. */
static inline __attribute__((always_inline)) void maxpool_row(const float *restrict x, int sw, int base, int lo,
                                                              int hi, float *restrict y, int32_t *restrict a) {
  for (int ow = lo; ow < hi; ow++) {
    const float v = x[ow * sw], m = y[ow];
    const uint32_t take = 0u - (uint32_t)((v > m) | (v != v));
    uint32_t vb, mb;
    memcpy(&vb, &v, 4);
    memcpy(&mb, &m, 4);
    const uint32_t r = (vb & take) | (mb & ~take);
    memcpy(y + ow, &r, 4);
    a[ow] = (int32_t)(((uint32_t)(base + ow * sw) & take) | ((uint32_t)a[ow] & ~take));
  }
}

static void maxpool_forward(loom_graph *g, loom_tensor *t) {
  pool_geom q;
  pool_geometry(t, &q);
  const float *X = t->src[0]->data;
  float *Y = t->data;
  int32_t *arg = t->saved;
  const long planes = (long)q.B * q.C;
  /* columns whose window lies inside the image horizontally: ow sw - pl >= 0, ow sw - pl + kw <= W */
  int lo = (q.pl + q.sw - 1) / q.sw, hi = q.W + q.pl - q.kw < 0 ? 0 : (q.W + q.pl - q.kw) / q.sw + 1;
  if (hi > q.Wo) hi = q.Wo;
  if (lo > hi) lo = hi;
  LOOM_PARALLEL_FOR(loom_tensor_numel(t->src[0]) > LOOM_PAR_GRAIN, (long pl = 0; pl < planes; pl++), {
    const float *restrict x = X + (size_t)pl * q.H * q.W;
    for (int oh = 0; oh < q.Ho; oh++) {
      float *restrict y = Y + ((size_t)pl * q.Ho + oh) * q.Wo;
      int32_t *restrict a = arg + ((size_t)pl * q.Ho + oh) * q.Wo;
      for (int ow = 0; ow < lo; ow++) maxpool_one(&q, x, oh, ow, y + ow, a + ow);
      for (int ow = hi; ow < q.Wo; ow++) maxpool_one(&q, x, oh, ow, y + ow, a + ow);
      /* interior columns: the same scan, branch-free across ow so it vectorises */
      const int hs = oh * q.sh - q.pt, h0 = hs < 0 ? 0 : hs, h1 = hs + q.kh > q.H ? q.H : hs + q.kh;
      const int c0 = h0 * q.W - q.pl;
      for (int ow = lo; ow < hi; ow++) {
        y[ow] = x[c0 + ow * q.sw];
        a[ow] = c0 + ow * q.sw;
      }
      for (int ih = h0; ih < h1; ih++)
        for (int j = 0; j < q.kw; j++) {
          if (ih == h0 && j == 0) continue;
          const int base = ih * q.W - q.pl + j;
          const float *restrict xr = x + base;
          /* a literal stride lets the compiler vectorise the loads (the common 2x2 / stride 2 pool) */
          if (q.sw == 2) maxpool_row(xr, 2, base, lo, hi, y, a);
          else if (q.sw == 1) maxpool_row(xr, 1, base, lo, hi, y, a);
          else maxpool_row(xr, q.sw, base, lo, hi, y, a);
        }
    }
  });
}
static void maxpool_backward(loom_graph *g, loom_tensor *t) {
  float *dX = t->src[0]->grad;
  if (!dX) return;
  pool_geom q;
  pool_geometry(t, &q);
  const float *dY = t->grad;
  const int32_t *arg = t->saved;
  const long planes = (long)q.B * q.C;
  const size_t po = (size_t)q.Ho * q.Wo;
  LOOM_PARALLEL_FOR(loom_tensor_numel(t->src[0]) > LOOM_PAR_GRAIN, (long pl = 0; pl < planes; pl++), {
    float *dx = dX + (size_t)pl * q.H * q.W;
    for (size_t k = 0; k < po; k++) dx[arg[pl * po + k]] += dY[pl * po + k];
  });
}
const loom_op_def loom_op_maxpool2d = {"maxpool2d", pool_infer, maxpool_saved, maxpool_forward, maxpool_backward, false};

/* ======================= avgpool2d ======================= */

static float avg_divisor(const pool_geom *q, int oh, int ow, bool include_pad, int h0, int h1, int w0, int w1) {
  if (!include_pad) return (float)((h1 - h0) * (w1 - w0));
  /* PyTorch: the window clipped to the padded image */
  const int hs = oh * q->sh - q->pt, ws = ow * q->sw - q->pl;
  const int he = hs + q->kh < q->H + q->pb ? hs + q->kh : q->H + q->pb;
  const int we = ws + q->kw < q->W + q->pr ? ws + q->kw : q->W + q->pr;
  return (float)((he - hs) * (we - ws));
}

static void avgpool_forward(loom_graph *g, loom_tensor *t) {
  pool_geom q;
  pool_geometry(t, &q);
  const bool incl = t->ip[7];
  const float *X = t->src[0]->data;
  float *Y = t->data;
  const long planes = (long)q.B * q.C;
  LOOM_PARALLEL_FOR(loom_tensor_numel(t->src[0]) > LOOM_PAR_GRAIN, (long pl = 0; pl < planes; pl++), {
    const float *x = X + (size_t)pl * q.H * q.W;
    float *y = Y + (size_t)pl * q.Ho * q.Wo;
    for (int oh = 0; oh < q.Ho; oh++)
      for (int ow = 0; ow < q.Wo; ow++) {
        POOL_WINDOW(q, oh, ow);
        float s = 0.0f;
        for (int ih = h0; ih < h1; ih++)
          for (int iw = w0; iw < w1; iw++) s += x[ih * q.W + iw];
        y[oh * q.Wo + ow] = s / avg_divisor(&q, oh, ow, incl, h0, h1, w0, w1);
      }
  });
}
static void avgpool_backward(loom_graph *g, loom_tensor *t) {
  float *dX = t->src[0]->grad;
  if (!dX) return;
  pool_geom q;
  pool_geometry(t, &q);
  const bool incl = t->ip[7];
  const float *dY = t->grad;
  const long planes = (long)q.B * q.C;
  LOOM_PARALLEL_FOR(loom_tensor_numel(t->src[0]) > LOOM_PAR_GRAIN, (long pl = 0; pl < planes; pl++), {
    float *dx = dX + (size_t)pl * q.H * q.W;
    const float *dy = dY + (size_t)pl * q.Ho * q.Wo;
    for (int oh = 0; oh < q.Ho; oh++)
      for (int ow = 0; ow < q.Wo; ow++) {
        POOL_WINDOW(q, oh, ow);
        const float d = dy[oh * q.Wo + ow] / avg_divisor(&q, oh, ow, incl, h0, h1, w0, w1);
        for (int ih = h0; ih < h1; ih++)
          for (int iw = w0; iw < w1; iw++) dx[ih * q.W + iw] += d;
      }
  });
}
const loom_op_def loom_op_avgpool2d = {"avgpool2d", pool_infer, NULL, avgpool_forward, avgpool_backward, false};

/* ======================= global average pooling ======================= */

loom_tensor *loom_global_avgpool(loom_graph *g, loom_tensor *x) {
  return loom_graph_new_op(g, LOOM_OP_GLOBAL_AVGPOOL, 1, &x);
}
static int gap_infer(loom_graph *g, loom_tensor *t) {
  const loom_tensor *x = t->src[0];
  char sx[64];
  if (x->dtype != LOOM_F32 || x->ndim != 4)
    return loom_graph_fail(g, t, "input must be a float32 (B, C, H, W), got %s", loom_shape_str(x, sx, sizeof sx));
  t->ndim = 2;
  t->shape[0] = x->shape[0];
  t->shape[1] = x->shape[1];
  return 0;
}
static void gap_forward(loom_graph *g, loom_tensor *t) {
  const loom_tensor *x = t->src[0];
  const size_t hw = (size_t)x->shape[2] * x->shape[3];
  const long planes = (long)x->shape[0] * x->shape[1];
  const float inv = 1.0f / (float)hw;
  LOOM_PARALLEL_FOR(loom_tensor_numel(x) > LOOM_PAR_GRAIN, (long pl = 0; pl < planes; pl++), t->data[pl] = loom_k.sum(hw, x->data + (size_t)pl * hw) * inv);
}
static void gap_backward(loom_graph *g, loom_tensor *t) {
  loom_tensor *x = t->src[0];
  if (!x->grad) return;
  const size_t hw = (size_t)x->shape[2] * x->shape[3];
  const long planes = (long)x->shape[0] * x->shape[1];
  const float inv = 1.0f / (float)hw;
  LOOM_PARALLEL_FOR(loom_tensor_numel(x) > LOOM_PAR_GRAIN, (long pl = 0; pl < planes; pl++), {
    float *dx = x->grad + (size_t)pl * hw;
    const float d = t->grad[pl] * inv;
    for (size_t k = 0; k < hw; k++) dx[k] += d;
  });
}
const loom_op_def loom_op_global_avgpool = {"global_avgpool", gap_infer, NULL, gap_forward, gap_backward, false};
