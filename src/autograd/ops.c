/* ops.c — the core ops: for each, its builder, shape rule, forward and backward, side by side, and
 * the op table at the end. Backward functions ADD into their sources' gradients, and only into those
 * that have one. Reductions whose result could depend on the thread count (sums over rows) are
 * parallelised over the output instead, or summed in fixed blocks, so results are identical for any
 * number of threads. Fused layer ops (LSTM, conv, pooling, norms, losses) live in their own files. */
#include <math.h>

#include "loom/parallel.h"
#include "graph_internal.h"

const loom_op_def loom_op_leaf = {.name = "leaf"};

static bool f32(const loom_tensor *t) { return t->dtype == LOOM_F32; }

/* Fixed-order sum of n floats: blocks whose size depends only on n, partials added in order. */
#define DET_MAX_BLOCKS 1024
static double det_sum(size_t n, const float *x, const float *w /* NULL: plain sum, else dot */) {
  size_t block = n / DET_MAX_BLOCKS + 1;
  if (block < LOOM_PAR_GRAIN) block = LOOM_PAR_GRAIN;
  long nb = (long)((n + block - 1) / block);
  double part[DET_MAX_BLOCKS];
  LOOM_PARALLEL_FOR(nb > 1, (long b = 0; b < nb; b++), {
    size_t s = (size_t)b * block, len = n - s < block ? n - s : block;
    part[b] = w ? loom_k.dot(len, x + s, w + s) : loom_k.sum(len, x + s);
  });
  double total = 0.0;
  for (long b = 0; b < nb; b++) total += part[b];
  return total;
}

/* ======================= add / sub / mul with broadcasting of b into a ======================= */

enum { BC_SAME = 0, BC_SCALAR, BC_SUFFIX, BC_GENERAL };

static loom_tensor *binary(loom_graph *g, loom_op op, loom_tensor *a, loom_tensor *b) {
  return loom_graph_new_op(g, op, 2, (loom_tensor *[]){a, b});
}
loom_tensor *loom_add(loom_graph *g, loom_tensor *a, loom_tensor *b) { return binary(g, LOOM_OP_ADD, a, b); }
loom_tensor *loom_sub(loom_graph *g, loom_tensor *a, loom_tensor *b) { return binary(g, LOOM_OP_SUB, a, b); }
loom_tensor *loom_mul(loom_graph *g, loom_tensor *a, loom_tensor *b) { return binary(g, LOOM_OP_MUL, a, b); }

/* ip[0] = broadcast mode, ip[1] = numel(b). Output has a's shape. */
static int binary_infer(loom_graph *g, loom_tensor *t) {
  const loom_tensor *a = t->src[0], *b = t->src[1];
  char sa[64], sb[64];
  if (!f32(a) || !f32(b)) return loom_graph_fail(g, t, "operands must be float32");
  loom_shape_copy(t, a);
  size_t na = loom_tensor_numel(a), nb = loom_tensor_numel(b);
  t->ip[1] = (int)nb;
  if (b->ndim == a->ndim && memcmp(a->shape, b->shape, sizeof(int) * (size_t)a->ndim) == 0) {
    t->ip[0] = BC_SAME;
    return 0;
  }
  if (nb == 1) {
    t->ip[0] = BC_SCALAR;
    return 0;
  }
  if (b->ndim > a->ndim) goto bad;
  /* b's dims, right-aligned against a's: each equal or 1. Suffix when b (less leading 1s) matches a's
   * trailing dims exactly. */
  bool suffix = true, seen_real = false;
  for (int d = 0; d < b->ndim; d++) {
    int bd = b->shape[d], ad = a->shape[a->ndim - b->ndim + d];
    if (bd != ad && bd != 1) goto bad;
    if (bd != 1) seen_real = true;
    if (seen_real && bd != ad) suffix = false;
  }
  t->ip[0] = suffix && na % nb == 0 ? BC_SUFFIX : BC_GENERAL;
  return 0;
bad:
  return loom_graph_fail(g, t, "cannot broadcast %s to %s (b must match a's trailing dims, or be 1 there)",
                         loom_shape_str(b, sb, sizeof sb), loom_shape_str(a, sa, sizeof sa));
}

/* Flat index of b for flat index i of a, for BC_GENERAL. */
static size_t bc_index(const loom_tensor *a, const loom_tensor *b, size_t i) {
  size_t bi = 0, bstride = 1;
  for (int d = a->ndim - 1, e = b->ndim - 1; d >= 0; d--, e--) {
    size_t coord = i % (size_t)a->shape[d];
    i /= (size_t)a->shape[d];
    if (e >= 0) {
      if (b->shape[e] != 1) bi += coord * bstride;
      bstride *= (size_t)b->shape[e];
    }
  }
  return bi;
}

static void binary_forward(loom_tensor *t, void (*kern)(size_t, const float *, const float *, float *)) {
  const loom_tensor *a = t->src[0], *b = t->src[1];
  const float *A = a->data, *B = b->data;
  float *Y = t->data;
  size_t n = loom_tensor_numel(t), nb = (size_t)t->ip[1];
  switch (t->ip[0]) {
  case BC_SAME: LOOM_PARALLEL_BLOCKS(n, s, len, kern(len, A + s, B + s, Y + s)); break;
  case BC_SCALAR:
    if (t->op == LOOM_OP_ADD) LOOM_PARALLEL_BLOCKS(n, s, len, loom_k.affine(len, 1.0f, B[0], A + s, Y + s));
    else if (t->op == LOOM_OP_SUB) LOOM_PARALLEL_BLOCKS(n, s, len, loom_k.affine(len, 1.0f, -B[0], A + s, Y + s));
    else LOOM_PARALLEL_BLOCKS(n, s, len, loom_k.affine(len, B[0], 0.0f, A + s, Y + s));
    break;
  case BC_SUFFIX: {
    long rows = (long)(n / nb);
    LOOM_PARALLEL_FOR(n > LOOM_PAR_GRAIN, (long r = 0; r < rows; r++), kern(nb, A + (size_t)r * nb, B, Y + (size_t)r * nb));
    break;
  }
  default:
    for (size_t i = 0; i < n; i++) {
      float x = A[i], y = B[bc_index(a, b, i)];
      Y[i] = t->op == LOOM_OP_ADD ? x + y : t->op == LOOM_OP_SUB ? x - y : x * y;
    }
  }
}

static void add_forward(loom_graph *g, loom_tensor *t) { binary_forward(t, loom_k.add); }
static void sub_forward(loom_graph *g, loom_tensor *t) { binary_forward(t, loom_k.sub); }
static void mul_forward(loom_graph *g, loom_tensor *t) { binary_forward(t, loom_k.mul); }

/* da += dy (add, sub) or dy * b (mul);  db += reduce(±dy) (add, sub) or reduce(dy * a) (mul). */
static void binary_backward(loom_graph *g, loom_tensor *t) {
  loom_tensor *a = t->src[0], *b = t->src[1];
  const float *dY = t->grad;
  size_t n = loom_tensor_numel(t), nb = (size_t)t->ip[1];
  const bool mul = t->op == LOOM_OP_MUL;
  const float sign = t->op == LOOM_OP_SUB ? -1.0f : 1.0f;
  if (a->grad) {
    float *dA = a->grad;
    const float *B = b->data;
    switch (t->ip[0]) {
    case BC_SAME:
      if (mul) LOOM_PARALLEL_BLOCKS(n, s, len, loom_k.mul_acc(len, dY + s, B + s, dA + s));
      else LOOM_PARALLEL_BLOCKS(n, s, len, loom_k.acc(len, dY + s, dA + s));
      break;
    case BC_SCALAR: LOOM_PARALLEL_BLOCKS(n, s, len, loom_k.axpy(len, mul ? B[0] : 1.0f, dY + s, dA + s)); break;
    case BC_SUFFIX: {
      long rows = (long)(n / nb);
      LOOM_PARALLEL_FOR(n > LOOM_PAR_GRAIN, (long r = 0; r < rows; r++), {
        size_t o = (size_t)r * nb;
        if (mul) loom_k.mul_acc(nb, dY + o, B, dA + o);
        else loom_k.acc(nb, dY + o, dA + o);
      });
      break;
    }
    default:
      for (size_t i = 0; i < n; i++) dA[i] += mul ? dY[i] * B[bc_index(a, b, i)] : dY[i];
    }
  }
  if (b->grad) {
    float *dB = b->grad;
    const float *A = a->data;
    switch (t->ip[0]) {
    case BC_SAME:
      if (mul) LOOM_PARALLEL_BLOCKS(n, s, len, loom_k.mul_acc(len, dY + s, A + s, dB + s));
      else LOOM_PARALLEL_BLOCKS(n, s, len, loom_k.axpy(len, sign, dY + s, dB + s));
      break;
    case BC_SCALAR: dB[0] += (float)(mul ? det_sum(n, dY, A) : sign * det_sum(n, dY, NULL)); break;
    case BC_SUFFIX: {
      /* Column blocks of dB, each summing every row in order: deterministic for any thread count. */
      const size_t cb = 256;
      long rows = (long)(n / nb), ncb = (long)((nb + cb - 1) / cb);
      LOOM_PARALLEL_FOR(n > LOOM_PAR_GRAIN && ncb > 1, (long c = 0; c < ncb; c++), {
        size_t c0 = (size_t)c * cb, w = nb - c0 < cb ? nb - c0 : cb;
        for (long r = 0; r < rows; r++) {
          size_t o = (size_t)r * nb + c0;
          if (mul) loom_k.mul_acc(w, dY + o, A + o, dB + c0);
          else loom_k.axpy(w, sign, dY + o, dB + c0);
        }
      });
      break;
    }
    default:
      for (size_t i = 0; i < n; i++) dB[bc_index(a, b, i)] += mul ? dY[i] * A[i] : sign * dY[i];
    }
  }
}

const loom_op_def loom_op_add = {"add", binary_infer, NULL, add_forward, binary_backward, false};
const loom_op_def loom_op_sub = {"sub", binary_infer, NULL, sub_forward, binary_backward, false};
const loom_op_def loom_op_mul = {"mul", binary_infer, NULL, mul_forward, binary_backward, false};

/* ======================= scale: y = alpha x + beta ======================= */

loom_tensor *loom_scale(loom_graph *g, loom_tensor *x, float alpha, float beta) {
  loom_tensor *t = loom_graph_new_op(g, LOOM_OP_SCALE, 1, &x);
  t->fp[0] = alpha;
  t->fp[1] = beta;
  return t;
}
static int same_shape_infer(loom_graph *g, loom_tensor *t) {
  if (!f32(t->src[0])) return loom_graph_fail(g, t, "input must be float32");
  loom_shape_copy(t, t->src[0]);
  return 0;
}
static void scale_forward(loom_graph *g, loom_tensor *t) {
  const float *X = t->src[0]->data;
  float *Y = t->data;
  LOOM_PARALLEL_BLOCKS(loom_tensor_numel(t), s, len, loom_k.affine(len, t->fp[0], t->fp[1], X + s, Y + s));
}
static void scale_backward(loom_graph *g, loom_tensor *t) {
  if (!t->src[0]->grad) return;
  float *dX = t->src[0]->grad;
  const float *dY = t->grad;
  LOOM_PARALLEL_BLOCKS(loom_tensor_numel(t), s, len, loom_k.axpy(len, t->fp[0], dY + s, dX + s));
}
const loom_op_def loom_op_scale = {"scale", same_shape_infer, NULL, scale_forward, scale_backward, false};

/* ======================= matmul ======================= */
/* ip: [0] trans_a, [1] trans_b, [2] M, [3] N, [4] K, [5] batches, [6] b shared (2-D) */

loom_tensor *loom_matmul(loom_graph *g, loom_tensor *a, loom_tensor *b, bool trans_a, bool trans_b) {
  loom_tensor *t = loom_graph_new_op(g, LOOM_OP_MATMUL, 2, (loom_tensor *[]){a, b});
  t->ip[0] = trans_a;
  t->ip[1] = trans_b;
  return t;
}

static int matmul_infer(loom_graph *g, loom_tensor *t) {
  const loom_tensor *a = t->src[0], *b = t->src[1];
  char sa[64], sb[64];
  if (!f32(a) || !f32(b)) return loom_graph_fail(g, t, "operands must be float32");
  if (a->ndim < 2 || b->ndim < 2) return loom_graph_fail(g, t, "operands must be at least 2-D");
  bool ta = t->ip[0], tb = t->ip[1];
  int M = ta ? a->shape[a->ndim - 1] : a->shape[a->ndim - 2];
  int K = ta ? a->shape[a->ndim - 2] : a->shape[a->ndim - 1];
  int Kb = tb ? b->shape[b->ndim - 1] : b->shape[b->ndim - 2];
  int N = tb ? b->shape[b->ndim - 2] : b->shape[b->ndim - 1];
  if (K != Kb)
    return loom_graph_fail(g, t, "inner dims differ: %s%s x %s%s", loom_shape_str(a, sa, sizeof sa), ta ? "^T" : "",
                           loom_shape_str(b, sb, sizeof sb), tb ? "^T" : "");
  bool shared = b->ndim == 2;
  if (!shared) {
    if (b->ndim != a->ndim || memcmp(a->shape, b->shape, sizeof(int) * (size_t)(a->ndim - 2)) != 0)
      return loom_graph_fail(g, t, "batch dims differ: %s x %s", loom_shape_str(a, sa, sizeof sa),
                             loom_shape_str(b, sb, sizeof sb));
  }
  t->ndim = a->ndim;
  memcpy(t->shape, a->shape, sizeof t->shape);
  t->shape[t->ndim - 2] = M;
  t->shape[t->ndim - 1] = N;
  t->ip[2] = M;
  t->ip[3] = N;
  t->ip[4] = K;
  t->ip[5] = (int)loom_shape_numel(a->ndim - 2, a->shape);
  t->ip[6] = shared;
  return 0;
}

static void matmul_forward(loom_graph *g, loom_tensor *t) {
  const bool ta = t->ip[0], tb = t->ip[1], shared = t->ip[6];
  const int M = t->ip[2], N = t->ip[3], K = t->ip[4], nbat = t->ip[5];
  const float *A = t->src[0]->data, *B = t->src[1]->data;
  float *Y = t->data;
  const int lda = ta ? M : K, ldb = tb ? K : N;
  if (shared && !ta) { /* every batch shares B: one GEMM over all rows */
    loom_gemm(false, tb, nbat * M, N, K, 1.0f, A, K, B, ldb, 0.0f, Y, N);
    return;
  }
  /* Many small GEMMs: one per thread (OpenBLAS runs single-threaded inside our parallel region). */
  LOOM_PARALLEL_FOR(nbat >= 2 * loom_num_threads(), (int i = 0; i < nbat; i++),
    loom_gemm(ta, tb, M, N, K, 1.0f, A + (size_t)i * M * K, lda, shared ? B : B + (size_t)i * K * N, ldb, 0.0f,
              Y + (size_t)i * M * N, N));
}

/* y = op(A) op(B):  d op(A) = dY op(B)^T,  d op(B) = op(A)^T dY (then transposed back if stored so). */
static void matmul_backward(loom_graph *g, loom_tensor *t) {
  const bool ta = t->ip[0], tb = t->ip[1], shared = t->ip[6];
  const int M = t->ip[2], N = t->ip[3], K = t->ip[4], nbat = t->ip[5];
  loom_tensor *a = t->src[0], *b = t->src[1];
  const float *A = a->data, *B = b->data, *dY = t->grad;
  const int lda = ta ? M : K, ldb = tb ? K : N;
  if (shared && !ta) {
    if (a->grad) loom_gemm(false, !tb, nbat * M, K, N, 1.0f, dY, N, B, ldb, 1.0f, a->grad, K);
    if (b->grad) {
      if (!tb) loom_gemm(true, false, K, N, nbat * M, 1.0f, A, K, dY, N, 1.0f, b->grad, N);
      else loom_gemm(true, false, N, K, nbat * M, 1.0f, dY, N, A, K, 1.0f, b->grad, K);
    }
    return;
  }
  if (a->grad) {
    LOOM_PARALLEL_FOR(nbat >= 2 * loom_num_threads(), (int i = 0; i < nbat; i++), {
      const float *Bi = shared ? B : B + (size_t)i * K * N, *dYi = dY + (size_t)i * M * N;
      float *dAi = a->grad + (size_t)i * M * K;
      if (!ta) loom_gemm(false, !tb, M, K, N, 1.0f, dYi, N, Bi, ldb, 1.0f, dAi, K);
      else loom_gemm(tb, true, K, M, N, 1.0f, Bi, ldb, dYi, N, 1.0f, dAi, M);
    });
  }
  if (b->grad) {
    /* A shared B sums over batches: keep that serial so the order is fixed. */
    LOOM_PARALLEL_FOR(!shared && nbat >= 2 * loom_num_threads(), (int i = 0; i < nbat; i++), {
      const float *Ai = A + (size_t)i * M * K, *dYi = dY + (size_t)i * M * N;
      float *dBi = shared ? b->grad : b->grad + (size_t)i * K * N;
      if (!tb) loom_gemm(!ta, false, K, N, M, 1.0f, Ai, lda, dYi, N, 1.0f, dBi, N);
      else loom_gemm(true, ta, N, K, M, 1.0f, dYi, N, Ai, lda, 1.0f, dBi, K);
    });
  }
}
const loom_op_def loom_op_matmul = {"matmul", matmul_infer, NULL, matmul_forward, matmul_backward, false};

/* ======================= unary activations ======================= */

static loom_tensor *unary(loom_graph *g, loom_op op, loom_tensor *x) { return loom_graph_new_op(g, op, 1, &x); }
loom_tensor *loom_relu(loom_graph *g, loom_tensor *x) { return unary(g, LOOM_OP_RELU, x); }
loom_tensor *loom_sigmoid(loom_graph *g, loom_tensor *x) { return unary(g, LOOM_OP_SIGMOID, x); }
loom_tensor *loom_tanh(loom_graph *g, loom_tensor *x) { return unary(g, LOOM_OP_TANH, x); }
loom_tensor *loom_gelu(loom_graph *g, loom_tensor *x) { return unary(g, LOOM_OP_GELU, x); }

static void unary_forward(loom_tensor *t, void (*kern)(size_t, const float *, float *)) {
  const float *X = t->src[0]->data;
  float *Y = t->data;
  LOOM_PARALLEL_BLOCKS(loom_tensor_numel(t), s, len, kern(len, X + s, Y + s));
}
/* bwd(saved, dy, dx): `saved` is y for relu/sigmoid/tanh and x for gelu */
static void unary_backward(loom_tensor *t, const float *saved, void (*bwd)(size_t, const float *, const float *, float *)) {
  float *dX = t->src[0]->grad;
  if (!dX) return;
  const float *dY = t->grad;
  LOOM_PARALLEL_BLOCKS(loom_tensor_numel(t), s, len, bwd(len, saved + s, dY + s, dX + s));
}
#define UNARY_OP(name, saved_expr)                                                                           \
  static void name##_forward(loom_graph *g, loom_tensor *t) { unary_forward(t, loom_k.name); }              \
  static void name##_backward(loom_graph *g, loom_tensor *t) { unary_backward(t, saved_expr, loom_k.name##_bwd); } \
  const loom_op_def loom_op_##name = {#name, same_shape_infer, NULL, name##_forward, name##_backward, false};
UNARY_OP(relu, t->data)
UNARY_OP(sigmoid, t->data)
UNARY_OP(tanh, t->data)
UNARY_OP(gelu, t->src[0]->data)
#undef UNARY_OP

/* ======================= softmax / log-softmax over the last dim ======================= */

loom_tensor *loom_softmax(loom_graph *g, loom_tensor *x) { return unary(g, LOOM_OP_SOFTMAX, x); }
loom_tensor *loom_log_softmax(loom_graph *g, loom_tensor *x) { return unary(g, LOOM_OP_LOG_SOFTMAX, x); }

static void rows_forward(loom_tensor *t, void (*row)(size_t, const float *, float *)) {
  const size_t n = (size_t)t->shape[t->ndim - 1], numel = loom_tensor_numel(t);
  const long rows = (long)(numel / n);
  const float *X = t->src[0]->data;
  float *Y = t->data;
  LOOM_PARALLEL_FOR(numel > LOOM_PAR_GRAIN, (long r = 0; r < rows; r++), row(n, X + (size_t)r * n, Y + (size_t)r * n));
}
static void rows_backward(loom_tensor *t, void (*row)(size_t, const float *, const float *, float *)) {
  float *dX = t->src[0]->grad;
  if (!dX) return;
  const size_t n = (size_t)t->shape[t->ndim - 1], numel = loom_tensor_numel(t);
  const long rows = (long)(numel / n);
  const float *Y = t->data, *dY = t->grad;
  LOOM_PARALLEL_FOR(numel > LOOM_PAR_GRAIN, (long r = 0; r < rows; r++), row(n, Y + (size_t)r * n, dY + (size_t)r * n, dX + (size_t)r * n));
}
static void softmax_forward(loom_graph *g, loom_tensor *t) { rows_forward(t, loom_k.softmax); }
static void softmax_backward(loom_graph *g, loom_tensor *t) { rows_backward(t, loom_k.softmax_bwd); }
static void log_softmax_forward(loom_graph *g, loom_tensor *t) { rows_forward(t, loom_k.log_softmax); }
static void log_softmax_backward(loom_graph *g, loom_tensor *t) { rows_backward(t, loom_k.log_softmax_bwd); }
const loom_op_def loom_op_softmax = {"softmax", same_shape_infer, NULL, softmax_forward, softmax_backward, false};
const loom_op_def loom_op_log_softmax = {"log_softmax", same_shape_infer, NULL, log_softmax_forward,
                                         log_softmax_backward, false};

/* ======================= sum / mean over an axis ======================= */
/* ip: [0] axis (normalised at infer; LOOM_ALL), [1] keepdim, [2] outer, [3] n, [4] inner */

static loom_tensor *reduce(loom_graph *g, loom_op op, loom_tensor *x, int axis, bool keepdim) {
  loom_tensor *t = loom_graph_new_op(g, op, 1, &x);
  t->ip[0] = axis;
  t->ip[1] = keepdim;
  return t;
}
loom_tensor *loom_sum(loom_graph *g, loom_tensor *x, int axis, bool keepdim) { return reduce(g, LOOM_OP_SUM, x, axis, keepdim); }
loom_tensor *loom_mean(loom_graph *g, loom_tensor *x, int axis, bool keepdim) { return reduce(g, LOOM_OP_MEAN, x, axis, keepdim); }

static int reduce_infer(loom_graph *g, loom_tensor *t) {
  const loom_tensor *x = t->src[0];
  if (!f32(x)) return loom_graph_fail(g, t, "input must be float32");
  int axis = t->ip[0];
  if (axis == LOOM_ALL) {
    t->ndim = 1;
    t->shape[0] = 1;
    t->ip[2] = 1;
    t->ip[3] = (int)loom_tensor_numel(x);
    t->ip[4] = 1;
    return 0;
  }
  int ax = axis < 0 ? axis + x->ndim : axis;
  if (ax < 0 || ax >= x->ndim) return loom_graph_fail(g, t, "axis %d out of range for a %d-D input", axis, x->ndim);
  t->ip[2] = (int)loom_shape_numel(ax, x->shape);
  t->ip[3] = x->shape[ax];
  t->ip[4] = (int)loom_shape_numel(x->ndim - ax - 1, x->shape + ax + 1);
  t->ndim = 0;
  for (int d = 0; d < x->ndim; d++) {
    if (d == ax && !t->ip[1]) continue;
    t->shape[t->ndim++] = d == ax ? 1 : x->shape[d];
  }
  if (t->ndim == 0) t->shape[t->ndim++] = 1;
  return 0;
}

static void reduce_forward(loom_graph *g, loom_tensor *t) {
  const size_t outer = (size_t)t->ip[2], n = (size_t)t->ip[3], inner = (size_t)t->ip[4];
  const float scale = t->op == LOOM_OP_MEAN ? 1.0f / (float)n : 1.0f;
  const float *X = t->src[0]->data;
  float *Y = t->data;
  if (outer == 1 && inner == 1) {
    Y[0] = (float)(det_sum(n, X, NULL) * scale);
  } else if (inner == 1) {
    LOOM_PARALLEL_FOR(outer * n > LOOM_PAR_GRAIN, (long o = 0; o < (long)outer; o++), Y[o] = loom_k.sum(n, X + (size_t)o * n) * scale);
  } else {
    LOOM_PARALLEL_FOR(outer * n * inner > LOOM_PAR_GRAIN, (long o = 0; o < (long)outer; o++), {
      float *y = Y + (size_t)o * inner;
      const float *x = X + (size_t)o * n * inner;
      memcpy(y, x, inner * sizeof(float));
      for (size_t k = 1; k < n; k++) loom_k.acc(inner, x + k * inner, y);
      if (scale != 1.0f) loom_k.affine(inner, scale, 0.0f, y, y);
    });
  }
}

static void reduce_backward(loom_graph *g, loom_tensor *t) {
  float *dX = t->src[0]->grad;
  if (!dX) return;
  const size_t outer = (size_t)t->ip[2], n = (size_t)t->ip[3], inner = (size_t)t->ip[4];
  const float scale = t->op == LOOM_OP_MEAN ? 1.0f / (float)n : 1.0f;
  const float *dY = t->grad;
  LOOM_PARALLEL_FOR(outer * n * inner > LOOM_PAR_GRAIN, (long o = 0; o < (long)outer; o++), {
    float *dx = dX + (size_t)o * n * inner;
    if (inner == 1) {
      const float d = dY[o] * scale;
      for (size_t k = 0; k < n; k++) dx[k] += d;
    } else {
      for (size_t k = 0; k < n; k++) loom_k.axpy(inner, scale, dY + (size_t)o * inner, dx + k * inner);
    }
  });
}
const loom_op_def loom_op_sum = {"sum", reduce_infer, NULL, reduce_forward, reduce_backward, false};
const loom_op_def loom_op_mean = {"mean", reduce_infer, NULL, reduce_forward, reduce_backward, false};

/* ======================= concat / slice along the last dim ======================= */

loom_tensor *loom_concat(loom_graph *g, int n, loom_tensor *const *xs) {
  assert(n >= 1 && n <= LOOM_MAX_SRC && "concat takes 1 to LOOM_MAX_SRC inputs");
  return loom_graph_new_op(g, LOOM_OP_CONCAT, n, xs);
}

static int concat_infer(loom_graph *g, loom_tensor *t) {
  const loom_tensor *x0 = t->src[0];
  char s0[64], si[64];
  int c = 0;
  for (int i = 0; i < t->nsrc; i++) {
    const loom_tensor *x = t->src[i];
    if (!f32(x)) return loom_graph_fail(g, t, "inputs must be float32");
    if (x->ndim != x0->ndim || memcmp(x->shape, x0->shape, sizeof(int) * (size_t)(x0->ndim - 1)) != 0)
      return loom_graph_fail(g, t, "input %d has shape %s, input 0 has %s: all but the last dim must agree", i,
                             loom_shape_str(x, si, sizeof si), loom_shape_str(x0, s0, sizeof s0));
    c += x->shape[x->ndim - 1];
  }
  loom_shape_copy(t, x0);
  t->shape[t->ndim - 1] = c;
  return 0;
}

static void concat_forward(loom_graph *g, loom_tensor *t) {
  const size_t C = (size_t)t->shape[t->ndim - 1], numel = loom_tensor_numel(t);
  const long rows = (long)(numel / C);
  LOOM_PARALLEL_FOR(numel > LOOM_PAR_GRAIN, (long r = 0; r < rows; r++), {
    float *y = t->data + (size_t)r * C;
    for (int i = 0; i < t->nsrc; i++) {
      size_t ci = (size_t)t->src[i]->shape[t->src[i]->ndim - 1];
      memcpy(y, t->src[i]->data + (size_t)r * ci, ci * sizeof(float));
      y += ci;
    }
  });
}
static void concat_backward(loom_graph *g, loom_tensor *t) {
  const size_t C = (size_t)t->shape[t->ndim - 1], numel = loom_tensor_numel(t);
  const long rows = (long)(numel / C);
  LOOM_PARALLEL_FOR(numel > LOOM_PAR_GRAIN, (long r = 0; r < rows; r++), {
    const float *dy = t->grad + (size_t)r * C;
    for (int i = 0; i < t->nsrc; i++) {
      size_t ci = (size_t)t->src[i]->shape[t->src[i]->ndim - 1];
      if (t->src[i]->grad) loom_k.acc(ci, dy, t->src[i]->grad + (size_t)r * ci);
      dy += ci;
    }
  });
}
const loom_op_def loom_op_concat = {"concat", concat_infer, NULL, concat_forward, concat_backward, false};

/* ip: [0] start, [1] len */
loom_tensor *loom_slice(loom_graph *g, loom_tensor *x, int start, int len) {
  loom_tensor *t = loom_graph_new_op(g, LOOM_OP_SLICE, 1, &x);
  t->ip[0] = start;
  t->ip[1] = len;
  return t;
}
static int slice_infer(loom_graph *g, loom_tensor *t) {
  const loom_tensor *x = t->src[0];
  int C = x->shape[x->ndim - 1];
  if (!f32(x)) return loom_graph_fail(g, t, "input must be float32");
  if (t->ip[0] < 0 || t->ip[1] < 1 || t->ip[0] + t->ip[1] > C)
    return loom_graph_fail(g, t, "slice [%d, %d) is outside the last dim of size %d", t->ip[0], t->ip[0] + t->ip[1], C);
  loom_shape_copy(t, x);
  t->shape[t->ndim - 1] = t->ip[1];
  return 0;
}
static void slice_forward(loom_graph *g, loom_tensor *t) {
  const loom_tensor *x = t->src[0];
  const size_t C = (size_t)x->shape[x->ndim - 1], L = (size_t)t->ip[1], S = (size_t)t->ip[0];
  const long rows = (long)(loom_tensor_numel(t) / L);
  LOOM_PARALLEL_FOR(loom_tensor_numel(t) > LOOM_PAR_GRAIN, (long r = 0; r < rows; r++), memcpy(t->data + (size_t)r * L, x->data + (size_t)r * C + S, L * sizeof(float)));
}
static void slice_backward(loom_graph *g, loom_tensor *t) {
  loom_tensor *x = t->src[0];
  if (!x->grad) return;
  const size_t C = (size_t)x->shape[x->ndim - 1], L = (size_t)t->ip[1], S = (size_t)t->ip[0];
  const long rows = (long)(loom_tensor_numel(t) / L);
  LOOM_PARALLEL_FOR(loom_tensor_numel(t) > LOOM_PAR_GRAIN, (long r = 0; r < rows; r++), loom_k.acc(L, t->grad + (size_t)r * L, x->grad + (size_t)r * C + S));
}
const loom_op_def loom_op_slice = {"slice", slice_infer, NULL, slice_forward, slice_backward, false};

/* ======================= reshape / flatten (views) ======================= */
/* ip: [0..3] target dims (one may be -1), [4] ndim, [5] 1 = flatten (keep dim 0, merge the rest) */

loom_tensor *loom_reshape(loom_graph *g, loom_tensor *x, int ndim, const int *shape) {
  assert(ndim >= 1 && ndim <= LOOM_MAX_DIMS);
  loom_tensor *t = loom_graph_new_op(g, LOOM_OP_RESHAPE, 1, &x);
  for (int i = 0; i < ndim; i++) t->ip[i] = shape[i];
  t->ip[4] = ndim;
  return t;
}
loom_tensor *loom_flatten(loom_graph *g, loom_tensor *x) {
  loom_tensor *t = loom_graph_new_op(g, LOOM_OP_RESHAPE, 1, &x);
  t->ip[5] = 1;
  return t;
}
static int reshape_infer(loom_graph *g, loom_tensor *t) {
  const loom_tensor *x = t->src[0];
  char sx[64];
  size_t n = loom_tensor_numel(x);
  t->dtype = x->dtype;
  if (t->ip[5]) {
    t->ndim = 2;
    t->shape[0] = x->shape[0];
    t->shape[1] = (int)(n / (size_t)x->shape[0]);
    return 0;
  }
  t->ndim = t->ip[4];
  size_t known = 1;
  int infer_at = -1;
  for (int i = 0; i < t->ndim; i++) {
    if (t->ip[i] == -1) {
      if (infer_at >= 0) return loom_graph_fail(g, t, "more than one -1 in the target shape");
      infer_at = i;
    } else if (t->ip[i] < 1) {
      return loom_graph_fail(g, t, "target dim %d is %d", i, t->ip[i]);
    } else {
      known *= (size_t)t->ip[i];
    }
    t->shape[i] = t->ip[i];
  }
  if (infer_at >= 0) {
    if (n % known) return loom_graph_fail(g, t, "cannot view %s with a -1 dim", loom_shape_str(x, sx, sizeof sx));
    t->shape[infer_at] = (int)(n / known);
  }
  if (loom_tensor_numel(t) != n)
    return loom_graph_fail(g, t, "cannot view %s (%zu elements) as %zu elements", loom_shape_str(x, sx, sizeof sx), n,
                           loom_tensor_numel(t));
  return 0;
}
/* A view reads its source's memory; re-pointing every forward keeps it right when an input is bound to
 * new memory after compile (loom_input_bind), at the cost of two pointer copies. */
static void view_forward(loom_graph *g, loom_tensor *t) {
  t->data = t->src[0]->data;
  t->idata = t->src[0]->idata;
}
static void view_backward(loom_graph *g, loom_tensor *t) {} /* the gradient memory is shared */
const loom_op_def loom_op_reshape = {"reshape", reshape_infer, NULL, view_forward, view_backward, true};

/* ======================= gather rows (embedding lookup) ======================= */
/* ip: [0] padding index (-1 none) */

loom_tensor *loom_gather(loom_graph *g, loom_tensor *table, loom_tensor *idx, int padding_idx) {
  loom_tensor *t = loom_graph_new_op(g, LOOM_OP_GATHER, 2, (loom_tensor *[]){table, idx});
  t->ip[0] = padding_idx;
  return t;
}
static int gather_infer(loom_graph *g, loom_tensor *t) {
  const loom_tensor *tab = t->src[0], *idx = t->src[1];
  if (!f32(tab) || tab->ndim != 2) return loom_graph_fail(g, t, "table must be a 2-D float32 (V, D)");
  if (idx->dtype != LOOM_I32) return loom_graph_fail(g, t, "indices must be int32");
  if (idx->ndim + 1 > LOOM_MAX_DIMS) return loom_graph_fail(g, t, "indices have too many dims (%d)", idx->ndim);
  t->ndim = idx->ndim + 1;
  memcpy(t->shape, idx->shape, sizeof(int) * (size_t)idx->ndim);
  t->shape[idx->ndim] = tab->shape[1];
  return 0;
}
static void gather_forward(loom_graph *g, loom_tensor *t) {
  const loom_tensor *tab = t->src[0], *idx = t->src[1];
  const size_t D = (size_t)tab->shape[1];
  const long R = (long)loom_tensor_numel(idx), V = tab->shape[0], pad = t->ip[0];
  LOOM_PARALLEL_FOR((size_t)R * D > LOOM_PAR_GRAIN, (long r = 0; r < R; r++), {
    long k = idx->idata[r];
    if (k < 0 || k >= V) LOOM_FATAL("gather '%s': index %ld at position %ld is outside [0, %ld)", t->name, k, r, V);
    if (k == pad) memset(t->data + (size_t)r * D, 0, D * sizeof(float));
    else memcpy(t->data + (size_t)r * D, tab->data + (size_t)k * D, D * sizeof(float));
  });
}
/* dtable[idx[r]] += dy[r]: threads take column blocks, so no two write one place and the order of
 * the rows is the same for any thread count. */
static void gather_backward(loom_graph *g, loom_tensor *t) {
  loom_tensor *tab = t->src[0];
  const loom_tensor *idx = t->src[1];
  if (!tab->grad) return;
  const size_t D = (size_t)tab->shape[1], cb = 64;
  const long R = (long)loom_tensor_numel(idx), pad = t->ip[0], ncb = (long)((D + cb - 1) / cb);
  LOOM_PARALLEL_FOR((size_t)R * D > LOOM_PAR_GRAIN && ncb > 1, (long c = 0; c < ncb; c++), {
    size_t c0 = (size_t)c * cb, w = D - c0 < cb ? D - c0 : cb;
    for (long r = 0; r < R; r++) {
      long k = idx->idata[r];
      if (k != pad) loom_k.acc(w, t->grad + (size_t)r * D + c0, tab->grad + (size_t)k * D + c0);
    }
  });
}
const loom_op_def loom_op_gather = {"gather", gather_infer, NULL, gather_forward, gather_backward, false};

/* ======================= dropout ======================= */
/* fp[0] = p. Saved: the 64-bit stream key of this step's mask (0 = not applied): the mask is
 * recomputed from (key, element index) in backward, so it costs no memory and no thread ordering. */

loom_tensor *loom_dropout(loom_graph *g, loom_tensor *x, float p) {
  assert(p >= 0.0f && p < 1.0f && "dropout probability must be in [0, 1)");
  loom_tensor *t = loom_graph_new_op(g, LOOM_OP_DROPOUT, 1, &x);
  t->fp[0] = p;
  return t;
}
static size_t dropout_saved(const loom_tensor *t) { return sizeof(uint64_t); }

static inline bool dropout_keep(uint64_t key, size_t i, uint32_t threshold) {
  return (uint32_t)(loom_rng_hash(key, i) >> 40) >= threshold;
}
static void dropout_forward(loom_graph *g, loom_tensor *t) {
  const float p = t->fp[0];
  const float *X = t->src[0]->data;
  float *Y = t->data;
  uint64_t *key = t->saved;
  const size_t n = loom_tensor_numel(t);
  if (!g->training || p == 0.0f) {
    *key = 0;
    memcpy(Y, X, n * sizeof(float));
    return;
  }
  *key = loom_rng_u64(&g->rng) | 1; /* never 0 */
  const uint32_t threshold = (uint32_t)(p * 16777216.0f);
  const float scale = 1.0f / (1.0f - p);
  const uint64_t k = *key;
  LOOM_PARALLEL_BLOCKS(n, s, len, {
    for (size_t i = s; i < s + len; i++) Y[i] = dropout_keep(k, i, threshold) ? X[i] * scale : 0.0f;
  });
}
static void dropout_backward(loom_graph *g, loom_tensor *t) {
  float *dX = t->src[0]->grad;
  if (!dX) return;
  const float *dY = t->grad;
  const size_t n = loom_tensor_numel(t);
  const uint64_t k = *(uint64_t *)t->saved;
  if (!k) {
    LOOM_PARALLEL_BLOCKS(n, s, len, loom_k.acc(len, dY + s, dX + s));
    return;
  }
  const uint32_t threshold = (uint32_t)(t->fp[0] * 16777216.0f);
  const float scale = 1.0f / (1.0f - t->fp[0]);
  LOOM_PARALLEL_BLOCKS(n, s, len, {
    for (size_t i = s; i < s + len; i++)
      if (dropout_keep(k, i, threshold)) dX[i] += dY[i] * scale;
  });
}
const loom_op_def loom_op_dropout = {"dropout", same_shape_infer, dropout_saved, dropout_forward, dropout_backward, false};

/* ======================= the table ======================= */

const loom_op_def *const loom_ops[LOOM_OP_COUNT] = {
#define LOOM_X_TABLE(E, f) [LOOM_OP_##E] = &loom_op_##f,
    LOOM_OP_LIST(LOOM_X_TABLE)
#undef LOOM_X_TABLE
};
_Static_assert(sizeof loom_ops / sizeof loom_ops[0] == LOOM_OP_COUNT, "one table entry per op");
