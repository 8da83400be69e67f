/* onnx.c — a compiled loom graph as an ONNX ModelProto (loom/onnx.h): a protobuf wire-format encoder
 * (varints, fixed32, length-delimited fields; field numbers from onnx/onnx.proto, IR version 8) and one
 * mapping per op. Messages are encoded child first into their own buffer and appended to the parent as
 * a length-delimited field; a GraphProto's repeated fields (node 1, initializer 5, input 11, output 12)
 * may come in any order, so nodes and initializers are appended as the walk meets them.
 * Deliberately not here: which model, which outputs, what a node's config key is (the caller's). */
#include "loom/onnx.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "loom/alloc.h"
#include "loom/atomic.h"
#include "loom/ops_conv.h"
#include "loom/runtime.h"

/* ======================= protobuf wire format ======================= */

enum { WIRE_VARINT = 0, WIRE_LEN = 2, WIRE_FIXED32 = 5 };

typedef struct pb {
  unsigned char *p;
  size_t n, cap;
  bool oom;
} pb;

static void pb_bytes(pb *b, const void *d, size_t n) {
  if (b->oom) return;
  if (b->n + n > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->n + n) cap *= 2;
    unsigned char *p = loom_realloc(b->p, cap);
    if (!p) {
      b->oom = true;
      return;
    }
    b->p = p, b->cap = cap;
  }
  if (n) memcpy(b->p + b->n, d, n);
  b->n += n;
}
static void pb_free(pb *b) {
  loom_free(b->p);
  *b = (pb){0};
}
static void pb_varint(pb *b, uint64_t v) {
  unsigned char t[10];
  int k = 0;
  do {
    t[k] = (unsigned char)(v & 0x7f);
    v >>= 7;
    if (v) t[k] |= 0x80;
    k++;
  } while (v);
  pb_bytes(b, t, (size_t)k);
}
static void pb_key(pb *b, int field, int wire) { pb_varint(b, (uint64_t)field << 3 | (uint64_t)wire); }
/* int32 / int64 / enum: a negative value is its 64-bit two's complement (ten bytes), as protobuf says */
static void pb_int(pb *b, int field, int64_t v) {
  pb_key(b, field, WIRE_VARINT);
  pb_varint(b, (uint64_t)v);
}
static void pb_float(pb *b, int field, float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  unsigned char t[4] = {(unsigned char)u, (unsigned char)(u >> 8), (unsigned char)(u >> 16), (unsigned char)(u >> 24)};
  pb_key(b, field, WIRE_FIXED32);
  pb_bytes(b, t, 4);
}
static void pb_len(pb *b, int field, const void *d, size_t n) {
  pb_key(b, field, WIRE_LEN);
  pb_varint(b, n);
  pb_bytes(b, d, n);
}
static void pb_str(pb *b, int field, const char *s) { pb_len(b, field, s, strlen(s)); }
/* child as a length-delimited field of b; child is freed */
static void pb_msg(pb *b, int field, pb *child) {
  if (child->oom) b->oom = true;
  pb_len(b, field, child->p, child->n);
  pb_free(child);
}

/* onnx.proto field numbers */
enum { MODEL_IR_VERSION = 1, MODEL_PRODUCER_NAME = 2, MODEL_PRODUCER_VERSION = 3, MODEL_DOC = 6, MODEL_GRAPH = 7,
       MODEL_OPSET_IMPORT = 8, MODEL_METADATA = 14 };
enum { OPSET_DOMAIN = 1, OPSET_VERSION = 2 };
enum { ENTRY_KEY = 1, ENTRY_VALUE = 2 };
enum { GRAPH_NODE = 1, GRAPH_NAME = 2, GRAPH_INITIALIZER = 5, GRAPH_INPUT = 11, GRAPH_OUTPUT = 12 };
enum { NODE_INPUT = 1, NODE_OUTPUT = 2, NODE_NAME = 3, NODE_OP_TYPE = 4, NODE_ATTRIBUTE = 5 };
enum { ATTR_NAME = 1, ATTR_F = 2, ATTR_I = 3, ATTR_S = 4, ATTR_INTS = 8, ATTR_TYPE = 20 };
enum { ATTR_TYPE_FLOAT = 1, ATTR_TYPE_INT = 2, ATTR_TYPE_STRING = 3, ATTR_TYPE_INTS = 7 };
enum { TENSOR_DIMS = 1, TENSOR_DATA_TYPE = 2, TENSOR_NAME = 8, TENSOR_RAW_DATA = 9 };
enum { DT_FLOAT = 1, DT_INT32 = 6, DT_INT64 = 7 };
enum { VALUE_NAME = 1, VALUE_TYPE = 2 };
enum { TYPE_TENSOR = 1, TTENSOR_ELEM_TYPE = 1, TTENSOR_SHAPE = 2, SHAPE_DIM = 1, DIM_VALUE = 1, DIM_PARAM = 2 };

/* ======================= the exporter's state ======================= */

#define VNAME 160 /* an ONNX value name */

typedef struct ex {
  loom_graph *g;
  const loom_onnx_opts *o;
  pb graph;            /* GraphProto being built */
  char (*vname)[VNAME]; /* per node id: the ONNX value holding its value ("" before it is emitted) */
  bool *emitted;       /* per node id: params / buffers already written as initializers */
  int n_nodes, n_tmp;
  loom_error *err;
  bool failed;
} ex;

static const char *tmp_name(ex *e, const loom_tensor *t, const char *what, char *buf) {
  snprintf(buf, VNAME, "%s/%s_%d", t ? t->name : "const", what, e->n_tmp++);
  return buf;
}

/* ---- NodeProto ---- */
typedef struct node {
  pb b;
} node;

static void node_begin(node *n, const char *op, const char *name, int nin, const char *const *in, int nout,
                       const char *const *out) {
  n->b = (pb){0};
  for (int i = 0; i < nin; i++) pb_str(&n->b, NODE_INPUT, in[i] ? in[i] : "");
  for (int i = 0; i < nout; i++) pb_str(&n->b, NODE_OUTPUT, out[i]);
  pb_str(&n->b, NODE_NAME, name); /* node names must be unique too: callers give the first output's */
  pb_str(&n->b, NODE_OP_TYPE, op);
}
static void attr_int(node *n, const char *name, int64_t v) {
  pb a = {0};
  pb_str(&a, ATTR_NAME, name);
  pb_int(&a, ATTR_TYPE, ATTR_TYPE_INT);
  pb_int(&a, ATTR_I, v);
  pb_msg(&n->b, NODE_ATTRIBUTE, &a);
}
static void attr_float(node *n, const char *name, float v) {
  pb a = {0};
  pb_str(&a, ATTR_NAME, name);
  pb_int(&a, ATTR_TYPE, ATTR_TYPE_FLOAT);
  pb_float(&a, ATTR_F, v);
  pb_msg(&n->b, NODE_ATTRIBUTE, &a);
}
static void attr_str(node *n, const char *name, const char *s) {
  pb a = {0};
  pb_str(&a, ATTR_NAME, name);
  pb_int(&a, ATTR_TYPE, ATTR_TYPE_STRING);
  pb_str(&a, ATTR_S, s);
  pb_msg(&n->b, NODE_ATTRIBUTE, &a);
}
static void attr_ints(node *n, const char *name, int k, const int64_t *v) {
  pb a = {0};
  pb_str(&a, ATTR_NAME, name);
  pb_int(&a, ATTR_TYPE, ATTR_TYPE_INTS);
  for (int i = 0; i < k; i++) pb_int(&a, ATTR_INTS, v[i]);
  pb_msg(&n->b, NODE_ATTRIBUTE, &a);
}
static void node_end(ex *e, node *n) { pb_msg(&e->graph, GRAPH_NODE, &n->b); }

/* A node without attributes: out = op(in...). */
static void emit(ex *e, const char *op, const char *out, int nin, const char *const *in) {
  node n;
  node_begin(&n, op, out, nin, in, 1, &out);
  node_end(e, &n);
}
#define EMIT(e, op, out, ...) emit(e, op, out, (int)(sizeof((const char *[]){__VA_ARGS__}) / sizeof(const char *)), \
                                   (const char *[]){__VA_ARGS__})

/* ---- initializers (TensorProto, raw little-endian data) ---- */
static void initializer(ex *e, const char *name, int dtype, int ndim, const int64_t *dims, const void *raw,
                        size_t bytes) {
  pb t = {0};
  for (int d = 0; d < ndim; d++) pb_int(&t, TENSOR_DIMS, dims[d]);
  pb_int(&t, TENSOR_DATA_TYPE, dtype);
  pb_str(&t, TENSOR_NAME, name);
  pb_len(&t, TENSOR_RAW_DATA, raw, bytes);
  pb_msg(&e->graph, GRAPH_INITIALIZER, &t);
}
static const char *const_i64(ex *e, const loom_tensor *t, int n, const int64_t *v, char *buf) {
  tmp_name(e, t, "i64", buf);
  int64_t dim = n;
  initializer(e, buf, DT_INT64, 1, &dim, v, sizeof(int64_t) * (size_t)n);
  return buf;
}
static const char *const_f32(ex *e, const loom_tensor *t, float v, char *buf) {
  tmp_name(e, t, "f32", buf);
  initializer(e, buf, DT_FLOAT, 0, NULL, &v, sizeof v);
  return buf;
}
static const char *const_i32(ex *e, const loom_tensor *t, int ndim, const int64_t *dims, const int32_t *v, size_t n,
                             char *buf) {
  tmp_name(e, t, "i32", buf);
  initializer(e, buf, DT_INT32, ndim, dims, v, sizeof(int32_t) * n);
  return buf;
}

static void graph_input(ex *e, const loom_tensor *t);
static void derive(ex *e, const loom_tensor *t, const loom_onnx_derived *d);
static const loom_onnx_derived *derived_of(const ex *e, const loom_tensor *t) {
  for (int k = 0; k < e->o->n_derived; k++)
    if (e->o->derived[k].input == t) return &e->o->derived[k];
  return NULL;
}

/* The ONNX value of node t: a parameter or buffer is written as an initializer on first use, a derived
 * input computed from its lengths. */
static const char *use(ex *e, const loom_tensor *t) {
  if (t->kind == LOOM_NODE_INPUT && !e->vname[t->id][0]) {
    const loom_onnx_derived *d = derived_of(e, t);
    if (d) derive(e, t, d);
    else graph_input(e, t);
  }
  if ((t->kind == LOOM_NODE_PARAM || t->kind == LOOM_NODE_BUFFER) && !e->emitted[t->id]) {
    int64_t dims[LOOM_MAX_DIMS];
    for (int d = 0; d < t->ndim; d++) dims[d] = t->shape[d];
    size_t n = loom_tensor_numel(t);
    if (t->dtype == LOOM_F32) initializer(e, t->name, DT_FLOAT, t->ndim, dims, t->data, n * sizeof(float));
    else initializer(e, t->name, DT_INT32, t->ndim, dims, t->idata, n * sizeof(int32_t));
    e->emitted[t->id] = true;
    snprintf(e->vname[t->id], VNAME, "%s", t->name);
  }
  return e->vname[t->id];
}
#define IN(k) use(e, t->src[k])
#define OUT (e->vname[t->id])

static int fail(ex *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(ex *e, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  if (!e->failed && e->err) vsnprintf(e->err->msg, sizeof e->err->msg, fmt, ap);
  va_end(ap);
  e->failed = true;
  return -1;
}

/* ======================= the ops ======================= */

/* Transpose of the last two dims of a rank-r value. */
static const char *transpose_last2(ex *e, const loom_tensor *t, const char *x, int r, char *buf) {
  int64_t perm[LOOM_MAX_DIMS];
  for (int d = 0; d < r; d++) perm[d] = d;
  perm[r - 2] = r - 1, perm[r - 1] = r - 2;
  tmp_name(e, t, "T", buf);
  node n;
  node_begin(&n, "Transpose", buf, 1, &x, 1, (const char *[]){buf});
  attr_ints(&n, "perm", r, perm);
  node_end(e, &n);
  return buf;
}

static void matmul(ex *e, const loom_tensor *t) {
  const loom_tensor *a = t->src[0], *b = t->src[1];
  char ta[VNAME], tb[VNAME];
  const char *x = IN(0), *w = IN(1);
  if (t->ip[0]) x = transpose_last2(e, t, x, a->ndim, ta);
  if (t->ip[1]) w = transpose_last2(e, t, w, b->ndim, tb);
  EMIT(e, "MatMul", OUT, x, w);
}

static void scale(ex *e, const loom_tensor *t) {
  const float alpha = t->fp[0], beta = t->fp[1];
  char c1[VNAME], c2[VNAME], mid[VNAME];
  const char *x = IN(0);
  if (alpha != 1.0f && beta != 0.0f) {
    EMIT(e, "Mul", tmp_name(e, t, "scaled", mid), x, const_f32(e, t, alpha, c1));
    EMIT(e, "Add", OUT, mid, const_f32(e, t, beta, c2));
  } else if (beta != 0.0f) {
    EMIT(e, "Add", OUT, x, const_f32(e, t, beta, c2));
  } else {
    EMIT(e, "Mul", OUT, x, const_f32(e, t, alpha, c1));
  }
}

/* y = x Phi(x) = 0.5 x (1 + erf(x / sqrt 2)) */
static void gelu(ex *e, const loom_tensor *t) {
  char c[4][VNAME], v[4][VNAME];
  const char *x = IN(0);
  EMIT(e, "Div", tmp_name(e, t, "s", v[0]), x, const_f32(e, t, 1.41421356237309504880f, c[0]));
  EMIT(e, "Erf", tmp_name(e, t, "erf", v[1]), v[0]);
  EMIT(e, "Add", tmp_name(e, t, "one_plus", v[2]), v[1], const_f32(e, t, 1.0f, c[1]));
  EMIT(e, "Mul", tmp_name(e, t, "xphi2", v[3]), x, v[2]);
  EMIT(e, "Mul", OUT, v[3], const_f32(e, t, 0.5f, c[2]));
}

static void softmax(ex *e, const loom_tensor *t, const char *op) {
  node n;
  const char *x = IN(0);
  node_begin(&n, op, OUT, 1, &x, 1, (const char *[]){OUT});
  attr_int(&n, "axis", -1);
  node_end(e, &n);
}

static void softmax_named(ex *e, const char *x, const char *out) {
  node n;
  node_begin(&n, "Softmax", out, 1, &x, 1, &out);
  attr_int(&n, "axis", -1);
  node_end(e, &n);
}

/* ReduceSum (axes an input since opset 13) or ReduceMean / ReduceL2 (axes an attribute in opset 13). */
static void reduce(ex *e, const loom_tensor *t, const char *op, const char *x, int n_axes, const int64_t *axes,
                   bool keepdims, const char *out) {
  char c[VNAME];
  node n;
  if (!strcmp(op, "ReduceSum")) {
    const char *in[2] = {x, n_axes ? const_i64(e, t, n_axes, axes, c) : NULL};
    node_begin(&n, op, out, n_axes ? 2 : 1, in, 1, &out);
  } else {
    node_begin(&n, op, out, 1, &x, 1, &out);
    if (n_axes) attr_ints(&n, "axes", n_axes, axes);
  }
  attr_int(&n, "keepdims", keepdims);
  node_end(e, &n);
}

static void sum_mean(ex *e, const loom_tensor *t, const char *op) {
  const loom_tensor *x = t->src[0];
  char all[VNAME], c[VNAME];
  if (t->ip[0] == LOOM_ALL) { /* every element, shape (1) */
    reduce(e, t, op, IN(0), 0, NULL, false, tmp_name(e, t, "all", all));
    EMIT(e, "Reshape", OUT, all, const_i64(e, t, 1, (int64_t[]){1}, c));
    return;
  }
  int64_t ax = t->ip[0] < 0 ? t->ip[0] + x->ndim : t->ip[0];
  /* a 1-D input reduced without keepdim is (1) in loom, a scalar in ONNX: keep the dim */
  reduce(e, t, op, IN(0), 1, &ax, t->ip[1] || x->ndim == 1, OUT);
}

static void concat(ex *e, const loom_tensor *t) {
  const char *in[LOOM_MAX_SRC];
  for (int i = 0; i < t->nsrc; i++) in[i] = IN(i);
  node n;
  node_begin(&n, "Concat", OUT, t->nsrc, in, 1, (const char *[]){OUT});
  attr_int(&n, "axis", t->ndim - 1);
  node_end(e, &n);
}

static void slice(ex *e, const loom_tensor *t) {
  char s[VNAME], en[VNAME], ax[VNAME];
  EMIT(e, "Slice", OUT, IN(0), const_i64(e, t, 1, (int64_t[]){t->ip[0]}, s),
       const_i64(e, t, 1, (int64_t[]){t->ip[0] + t->ip[1]}, en), const_i64(e, t, 1, (int64_t[]){-1}, ax));
}

static void reshape(ex *e, const loom_tensor *t) {
  if (t->ip[5]) { /* flatten: keep dim 0, merge the rest */
    node n;
    const char *x = IN(0);
    node_begin(&n, "Flatten", OUT, 1, &x, 1, (const char *[]){OUT});
    attr_int(&n, "axis", 1);
    node_end(e, &n);
    return;
  }
  /* the builder's own target (batch-free: -1 where the batch goes), so any batch size reshapes right */
  int64_t shape[LOOM_MAX_DIMS];
  for (int d = 0; d < t->ip[4]; d++) shape[d] = t->ip[d];
  char c[VNAME];
  EMIT(e, "Reshape", OUT, IN(0), const_i64(e, t, t->ip[4], shape, c));
}

/* table[idx]: a padding row (read as zeros by loom) that is not zero in the table is zeroed in a copy */
static void gather(ex *e, const loom_tensor *t) {
  const loom_tensor *tab = t->src[0];
  const char *table = IN(0);
  const int pad = t->ip[0];
  char copy[VNAME];
  if (pad >= 0 && pad < tab->shape[0]) {
    const size_t D = loom_tensor_numel(tab) / (size_t)tab->shape[0];
    bool zero = true;
    for (size_t j = 0; j < D; j++) zero &= tab->data[(size_t)pad * D + j] == 0.0f;
    if (!zero) {
      size_t n = loom_tensor_numel(tab);
      float *v = loom_malloc(n * sizeof(float));
      if (!v) {
        fail(e, "out of memory copying %s", tab->name);
        return;
      }
      memcpy(v, tab->data, n * sizeof(float));
      memset(v + (size_t)pad * D, 0, D * sizeof(float));
      int64_t dims[LOOM_MAX_DIMS];
      for (int d = 0; d < tab->ndim; d++) dims[d] = tab->shape[d];
      snprintf(copy, sizeof copy, "%s.padding_row%d_zeroed", tab->name, pad);
      initializer(e, copy, DT_FLOAT, tab->ndim, dims, v, n * sizeof(float));
      loom_free(v);
      table = copy;
    }
  }
  node n;
  node_begin(&n, "Gather", OUT, 2, (const char *[]){table, IN(1)}, 1, (const char *[]){OUT});
  attr_int(&n, "axis", 0);
  node_end(e, &n);
}

/* y = x / max(||x||, eps) over the last dim */
static void l2_normalize(ex *e, const loom_tensor *t) {
  char nrm[VNAME], den[VNAME], c[VNAME];
  reduce(e, t, "ReduceL2", IN(0), 1, (int64_t[]){-1}, true, tmp_name(e, t, "norm", nrm));
  EMIT(e, "Max", tmp_name(e, t, "den", den), nrm, const_f32(e, t, t->fp[0], c));
  EMIT(e, "Div", OUT, IN(0), den);
}

/* y = a.b / max(||a|| ||b||, eps) over the last dim */
static void cosine_sim(ex *e, const loom_tensor *t) {
  const bool keep = t->src[0]->ndim == 1;
  char ab[VNAME], dot[VNAME], na[VNAME], nb[VNAME], nn[VNAME], den[VNAME], c[VNAME];
  EMIT(e, "Mul", tmp_name(e, t, "ab", ab), IN(0), IN(1));
  reduce(e, t, "ReduceSum", ab, 1, (int64_t[]){-1}, keep, tmp_name(e, t, "dot", dot));
  reduce(e, t, "ReduceL2", IN(0), 1, (int64_t[]){-1}, keep, tmp_name(e, t, "na", na));
  reduce(e, t, "ReduceL2", IN(1), 1, (int64_t[]){-1}, keep, tmp_name(e, t, "nb", nb));
  EMIT(e, "Mul", tmp_name(e, t, "nanb", nn), na, nb);
  EMIT(e, "Max", tmp_name(e, t, "den", den), nn, const_f32(e, t, t->fp[0], c));
  EMIT(e, "Div", OUT, dot, den);
}

/* y = (x - mean) / sqrt(var + eps) * w + b over the last dim (LayerNormalization is opset 17) */
static void layernorm(ex *e, const loom_tensor *t) {
  char mu[VNAME], d[VNAME], d2[VNAME], var[VNAME], ve[VNAME], sd[VNAME], y[VNAME], yw[VNAME], c[VNAME];
  const int64_t last = -1;
  reduce(e, t, "ReduceMean", IN(0), 1, &last, true, tmp_name(e, t, "mean", mu));
  EMIT(e, "Sub", tmp_name(e, t, "centred", d), IN(0), mu);
  EMIT(e, "Mul", tmp_name(e, t, "sq", d2), d, d);
  reduce(e, t, "ReduceMean", d2, 1, &last, true, tmp_name(e, t, "var", var));
  EMIT(e, "Add", tmp_name(e, t, "var_eps", ve), var, const_f32(e, t, t->fp[0], c));
  EMIT(e, "Sqrt", tmp_name(e, t, "std", sd), ve);
  if (t->nsrc < 3) {
    EMIT(e, "Div", OUT, d, sd);
    return;
  }
  EMIT(e, "Div", tmp_name(e, t, "normed", y), d, sd);
  EMIT(e, "Mul", tmp_name(e, t, "scaled", yw), y, IN(1));
  EMIT(e, "Add", OUT, yw, IN(2));
}

static void batchnorm(ex *e, const loom_tensor *t) {
  const loom_tensor *x = t->src[0];
  const int C = x->shape[1], w = t->ip[1];
  const char *scale = NULL, *bias = NULL;
  char sc[VNAME], bi[VNAME];
  if (w) {
    scale = IN(w), bias = IN(w + 1);
  } else { /* affine = False: weight 1, bias 0 */
    float *v = loom_malloc(2 * (size_t)C * sizeof(float));
    if (!v) {
      fail(e, "out of memory");
      return;
    }
    for (int i = 0; i < C; i++) v[i] = 1.0f, v[C + i] = 0.0f;
    int64_t dim = C;
    initializer(e, tmp_name(e, t, "ones", sc), DT_FLOAT, 1, &dim, v, (size_t)C * sizeof(float));
    initializer(e, tmp_name(e, t, "zeros", bi), DT_FLOAT, 1, &dim, v + C, (size_t)C * sizeof(float));
    loom_free(v);
    scale = sc, bias = bi;
  }
  node n;
  node_begin(&n, "BatchNormalization", OUT, 5, (const char *[]){IN(0), scale, bias, IN(1), IN(2)}, 1,
             (const char *[]){OUT});
  attr_float(&n, "epsilon", t->fp[0]);
  node_end(e, &n);
}

/* Leading and trailing padding of one spatial dim as loom's conv and pooling compute it. */
static void pads_1d(loom_conv_pad_mode mode, int n, int k, int s, int p, int out, int64_t *before, int64_t *after) {
  int b = 0;
  if (mode == LOOM_CONV_PAD_SAME) {
    int total = (out - 1) * s + k - n;
    b = total > 0 ? total / 2 : 0;
  } else if (mode == LOOM_CONV_PAD_EXPLICIT) {
    b = p;
  }
  int a = (out - 1) * s + k - n - b; /* what the last window reaches past the input */
  *before = b;
  *after = a > 0 ? a : 0;
}

static void conv_attrs(node *n, int kh, int kw, int sh, int sw, const int64_t *pads) {
  attr_ints(n, "kernel_shape", 2, (int64_t[]){kh, kw});
  attr_ints(n, "strides", 2, (int64_t[]){sh, sw});
  attr_ints(n, "pads", 4, pads);
}

static void conv2d(ex *e, const loom_tensor *t) {
  const loom_tensor *x = t->src[0], *w = t->src[1];
  const int kh = w->shape[2], kw = w->shape[3], sh = t->ip[0], sw = t->ip[1];
  int64_t pads[4];
  pads_1d((loom_conv_pad_mode)t->ip[2], x->shape[2], kh, sh, t->ip[3], t->shape[2], &pads[0], &pads[2]);
  pads_1d((loom_conv_pad_mode)t->ip[2], x->shape[3], kw, sw, t->ip[4], t->shape[3], &pads[1], &pads[3]);
  const char *in[3] = {IN(0), IN(1), t->nsrc > 2 ? IN(2) : NULL};
  node n;
  node_begin(&n, "Conv", OUT, t->nsrc > 2 ? 3 : 2, in, 1, (const char *[]){OUT});
  conv_attrs(&n, kh, kw, sh, sw, pads);
  node_end(e, &n);
}

static void pool2d(ex *e, const loom_tensor *t, bool max) {
  const loom_tensor *x = t->src[0];
  const int kh = t->ip[0], kw = t->ip[1], sh = t->ip[2], sw = t->ip[3];
  int64_t pads[4];
  pads_1d((loom_conv_pad_mode)t->ip[4], x->shape[2], kh, sh, t->ip[5], t->shape[2], &pads[0], &pads[2]);
  pads_1d((loom_conv_pad_mode)t->ip[4], x->shape[3], kw, sw, t->ip[6], t->shape[3], &pads[1], &pads[3]);
  const char *in = IN(0);
  node n;
  node_begin(&n, max ? "MaxPool" : "AveragePool", OUT, 1, &in, 1, (const char *[]){OUT});
  conv_attrs(&n, kh, kw, sh, sw, pads);
  if (!max) attr_int(&n, "count_include_pad", t->ip[7]);
  node_end(e, &n);
}

static void global_avgpool(ex *e, const loom_tensor *t) {
  char p[VNAME];
  EMIT(e, "GlobalAveragePool", tmp_name(e, t, "pooled", p), IN(0));
  node n;
  node_begin(&n, "Flatten", OUT, 1, (const char *[]){p}, 1, (const char *[]){OUT});
  attr_int(&n, "axis", 1);
  node_end(e, &n);
}

/* LSTM / GRU: one direction over (B, T, E) with optional lengths. ONNX wants time first, W (1, G·H, E),
 * R (1, G·H, H), B (1, 2·G·H) in its own gate order (LSTM i o f c from PyTorch's i f g o; GRU z r h
 * from r z n, linear_before_reset = 1 as PyTorch), and sequence lengths >= 1: loom's length-0 rows
 * (an empty query) run one step in ONNX and are zeroed after, as loom leaves them. */
static void rnn(ex *e, const loom_tensor *t, bool lstm) {
  const loom_tensor *x = t->src[0], *wih = t->src[1], *whh = t->src[2], *bih = t->src[3], *bhh = t->src[4];
  const loom_tensor *len = t->ip[3] ? t->src[5] : NULL;
  const int T = x->shape[1], E = x->shape[2], H = whh->shape[1], G = lstm ? 4 : 3;
  static const int lstm_order[4] = {0, 3, 1, 2}, gru_order[3] = {1, 0, 2}; /* ONNX gate k = loom gate order[k] */
  const int *order = lstm ? lstm_order : gru_order;
  char wn[VNAME], rn[VNAME], bn[VNAME];
  size_t nw = (size_t)G * H * E, nr = (size_t)G * H * H, nb = 2 * (size_t)G * H;
  float *buf = loom_malloc((nw + nr + nb) * sizeof(float));
  if (!buf) {
    fail(e, "out of memory");
    return;
  }
  float *W = buf, *R = W + nw, *Bv = R + nr;
  for (int k = 0; k < G; k++) {
    const int s = order[k];
    memcpy(W + (size_t)k * H * E, wih->data + (size_t)s * H * E, (size_t)H * E * sizeof(float));
    memcpy(R + (size_t)k * H * H, whh->data + (size_t)s * H * H, (size_t)H * H * sizeof(float));
    memcpy(Bv + (size_t)k * H, bih->data + (size_t)s * H, (size_t)H * sizeof(float));
    memcpy(Bv + (size_t)(G + k) * H, bhh->data + (size_t)s * H, (size_t)H * sizeof(float));
  }
  snprintf(wn, sizeof wn, "%s.W", t->name);
  snprintf(rn, sizeof rn, "%s.R", t->name);
  snprintf(bn, sizeof bn, "%s.B", t->name);
  initializer(e, wn, DT_FLOAT, 3, (int64_t[]){1, (int64_t)G * H, E}, W, nw * sizeof(float));
  initializer(e, rn, DT_FLOAT, 3, (int64_t[]){1, (int64_t)G * H, H}, R, nr * sizeof(float));
  initializer(e, bn, DT_FLOAT, 2, (int64_t[]){1, 2 * (int64_t)G * H}, Bv, nb * sizeof(float));
  loom_free(buf);

  char xt[VNAME], sl[VNAME], y[VNAME], yh[VNAME], c[4][VNAME], v[6][VNAME];
  node n;
  node_begin(&n, "Transpose", tmp_name(e, t, "time_major", xt), 1, (const char *[]){IN(0)}, 1, (const char *[]){xt});
  attr_ints(&n, "perm", 3, (int64_t[]){1, 0, 2});
  node_end(e, &n);
  const char *lens = NULL;
  if (len) {
    static const int32_t one = 1;
    EMIT(e, "Max", tmp_name(e, t, "len_ge1", sl), use(e, len), const_i32(e, t, 0, NULL, &one, 1, c[0]));
    lens = sl;
  }
  tmp_name(e, t, "Y", y);
  tmp_name(e, t, "Y_h", yh);
  node_begin(&n, lstm ? "LSTM" : "GRU", y, 5, (const char *[]){xt, wn, rn, bn, lens}, 2,
             (const char *[]){y, yh});
  attr_int(&n, "hidden_size", H);
  attr_str(&n, "direction", t->ip[1] ? "reverse" : "forward");
  if (!lstm) attr_int(&n, "linear_before_reset", 1);
  node_end(e, &n);

  const bool seq = t->ip[2];
  /* the valid steps (B, T, 1) or rows (B, 1) as 0 / 1 */
  if (seq) {
    EMIT(e, "Squeeze", tmp_name(e, t, "Y_tbh", v[0]), y, const_i64(e, t, 1, (int64_t[]){1}, c[1]));
    node_begin(&n, "Transpose", len ? tmp_name(e, t, "Y_bth", v[1]) : OUT, 1, (const char *[]){v[0]}, 1,
               (const char *[]){len ? v[1] : OUT});
    attr_ints(&n, "perm", 3, (int64_t[]){1, 0, 2});
    node_end(e, &n);
    if (!len) return;
    int32_t *steps = loom_malloc((size_t)T * sizeof(int32_t));
    if (!steps) {
      fail(e, "out of memory");
      return;
    }
    for (int s = 0; s < T; s++) steps[s] = s;
    const char *ar = const_i32(e, t, 2, (int64_t[]){1, T}, steps, (size_t)T, c[2]);
    loom_free(steps);
    EMIT(e, "Unsqueeze", tmp_name(e, t, "len_b1", v[2]), use(e, len), const_i64(e, t, 1, (int64_t[]){1}, c[3]));
    EMIT(e, "Less", tmp_name(e, t, "valid", v[3]), ar, v[2]);
    node_begin(&n, "Cast", tmp_name(e, t, "valid_f", v[4]), 1, (const char *[]){v[3]}, 1, (const char *[]){v[4]});
    attr_int(&n, "to", DT_FLOAT);
    node_end(e, &n);
    char c4[VNAME];
    EMIT(e, "Unsqueeze", tmp_name(e, t, "valid_bt1", v[5]), v[4], const_i64(e, t, 1, (int64_t[]){2}, c4));
    EMIT(e, "Mul", OUT, v[1], v[5]);
  } else {
    if (!len) {
      EMIT(e, "Squeeze", OUT, yh, const_i64(e, t, 1, (int64_t[]){0}, c[1]));
      return;
    }
    static const int32_t zero = 0;
    char c5[VNAME];
    EMIT(e, "Squeeze", tmp_name(e, t, "h_bh", v[0]), yh, const_i64(e, t, 1, (int64_t[]){0}, c[1]));
    EMIT(e, "Greater", tmp_name(e, t, "nonempty", v[1]), use(e, len), const_i32(e, t, 0, NULL, &zero, 1, c[2]));
    node_begin(&n, "Cast", tmp_name(e, t, "nonempty_f", v[2]), 1, (const char *[]){v[1]}, 1, (const char *[]){v[2]});
    attr_int(&n, "to", DT_FLOAT);
    node_end(e, &n);
    EMIT(e, "Unsqueeze", tmp_name(e, t, "nonempty_b1", v[3]), v[2], const_i64(e, t, 1, (int64_t[]){1}, c5));
    EMIT(e, "Mul", OUT, v[0], v[3]);
  }
}

static void cast_float(ex *e, const char *x, const char *out) {
  node n;
  node_begin(&n, "Cast", out, 1, &x, 1, &out);
  attr_int(&n, "to", DT_FLOAT);
  node_end(e, &n);
}
static void transpose(ex *e, const char *x, const char *out, int r, const int64_t *perm) {
  node n;
  node_begin(&n, "Transpose", out, 1, &x, 1, &out);
  attr_ints(&n, "perm", r, perm);
  node_end(e, &n);
}

/* TextCNN block: y = act(max over the windows inside the text of Conv(x as (N, 1, T, E), w (F, 1, k, E)) + b),
 * the windows t < max(len - k + 1, 1) of each row. */
static void conv1d_max(ex *e, const loom_tensor *t) {
  const loom_tensor *x = t->src[0], *w = t->src[1];
  const bool has_b = t->ip[3], relu = t->ip[1];
  const loom_tensor *len = t->ip[2] ? t->src[has_b ? 3 : 2] : NULL;
  const int T = x->shape[1], k = w->shape[2], P = T - k + 1;
  char c[8][VNAME], v[12][VNAME];
  EMIT(e, "Unsqueeze", tmp_name(e, t, "n1te", v[0]), IN(0), const_i64(e, t, 1, (int64_t[]){1}, c[0]));
  node n;
  const char *in[3] = {v[0], IN(1), has_b ? IN(2) : NULL};
  node_begin(&n, "Conv", tmp_name(e, t, "conv", v[1]), has_b ? 3 : 2, in, 1, (const char *[]){v[1]});
  attr_ints(&n, "kernel_shape", 2, (int64_t[]){k, w->shape[3]});
  node_end(e, &n);
  EMIT(e, "Squeeze", tmp_name(e, t, "nfp", v[2]), v[1], const_i64(e, t, 1, (int64_t[]){3}, c[1])); /* (N, F, P) */
  const char *z = v[2];
  if (len) { /* windows past max(len - k + 1, 1) never win */
    const int32_t km1 = k - 1, one = 1, *steps = NULL;
    int32_t *ar = loom_malloc((size_t)P * sizeof(int32_t));
    if (!ar) {
      fail(e, "out of memory");
      return;
    }
    for (int i = 0; i < P; i++) ar[i] = i;
    steps = ar;
    const char *arn = const_i32(e, t, 3, (int64_t[]){1, 1, P}, steps, (size_t)P, c[2]);
    loom_free(ar);
    EMIT(e, "Sub", tmp_name(e, t, "lk", v[3]), use(e, len), const_i32(e, t, 0, NULL, &km1, 1, c[3]));
    EMIT(e, "Max", tmp_name(e, t, "windows", v[4]), v[3], const_i32(e, t, 0, NULL, &one, 1, c[4]));
    EMIT(e, "Unsqueeze", tmp_name(e, t, "windows_n11", v[5]), v[4], const_i64(e, t, 2, (int64_t[]){1, 2}, c[5]));
    EMIT(e, "Less", tmp_name(e, t, "inside", v[6]), arn, v[5]);
    static const float lowest = -3.4028234663852886e38f;
    char lo[VNAME];
    tmp_name(e, t, "lowest", lo);
    initializer(e, lo, DT_FLOAT, 0, NULL, &lowest, sizeof lowest);
    EMIT(e, "Where", tmp_name(e, t, "masked", v[7]), v[6], v[2], lo);
    z = v[7];
  }
  reduce(e, t, "ReduceMax", z, 1, (int64_t[]){2}, false, relu ? tmp_name(e, t, "max", v[8]) : OUT);
  if (relu) EMIT(e, "Relu", OUT, v[8]);
}

/* Multi-head self-attention (torch.nn.MultiheadAttention, batch_first), keys j >= len masked; a row of
 * length 0 has O = 0 (so y = b_out), as loom gives it. */
static void mha(ex *e, const loom_tensor *t) {
  const loom_tensor *x = t->src[0];
  const loom_tensor *len = t->ip[1] ? t->src[5] : NULL;
  const int T = x->shape[1], D = x->shape[2], H = t->ip[0], dh = D / H;
  char c[16][VNAME], v[24][VNAME], wt[VNAME], wot[VNAME];
  const int64_t p3[4] = {0, 2, 1, 3}, pk[4] = {0, 2, 3, 1};
  EMIT(e, "MatMul", tmp_name(e, t, "xw", v[0]), IN(0), transpose_last2(e, t, IN(1), 2, wt));
  EMIT(e, "Add", tmp_name(e, t, "qkv", v[1]), v[0], IN(2)); /* (B, T, 3D) */
  const char *heads = const_i64(e, t, 4, (int64_t[]){0, 0, H, dh}, c[0]);
  const char *ax = const_i64(e, t, 1, (int64_t[]){-1}, c[1]);
  const char *part[3];
  for (int k = 0; k < 3; k++) {
    char *sl = v[2 + k], *rs = v[5 + k], *tr = v[8 + k];
    EMIT(e, "Slice", tmp_name(e, t, k == 0 ? "q" : k == 1 ? "k" : "v", sl), v[1],
         const_i64(e, t, 1, (int64_t[]){(int64_t)k * D}, c[2 + 2 * k]),
         const_i64(e, t, 1, (int64_t[]){(int64_t)(k + 1) * D}, c[3 + 2 * k]), ax);
    EMIT(e, "Reshape", tmp_name(e, t, "bthd", rs), sl, heads);
    transpose(e, rs, tmp_name(e, t, "bh", tr), 4, k == 1 ? pk : p3); /* q, v (B, H, T, dh); k (B, H, dh, T) */
    part[k] = tr;
  }
  EMIT(e, "MatMul", tmp_name(e, t, "qk", v[11]), part[0], part[1]); /* (B, H, T, T) */
  EMIT(e, "Mul", tmp_name(e, t, "scores", v[12]), v[11], const_f32(e, t, 1.0f / sqrtf((float)dh), c[8]));
  const char *s = v[12];
  if (len) { /* additive key mask (B, 1, 1, T): 0 for j < len, -1e30 after (exp gives exactly 0) */
    int32_t *ar = loom_malloc((size_t)T * sizeof(int32_t));
    if (!ar) {
      fail(e, "out of memory");
      return;
    }
    for (int i = 0; i < T; i++) ar[i] = i;
    const char *arn = const_i32(e, t, 4, (int64_t[]){1, 1, 1, T}, ar, (size_t)T, c[9]);
    loom_free(ar);
    EMIT(e, "Unsqueeze", tmp_name(e, t, "len_b111", v[13]), use(e, len), const_i64(e, t, 3, (int64_t[]){1, 2, 3}, c[10]));
    EMIT(e, "Less", tmp_name(e, t, "key_valid", v[14]), arn, v[13]);
    EMIT(e, "Where", tmp_name(e, t, "key_bias", v[15]), v[14], const_f32(e, t, 0.0f, c[11]), const_f32(e, t, -1e30f, c[12]));
    EMIT(e, "Add", tmp_name(e, t, "masked", v[16]), v[12], v[15]);
    s = v[16];
  }
  softmax_named(e, s, tmp_name(e, t, "p", v[17]));
  EMIT(e, "MatMul", tmp_name(e, t, "o_bhtd", v[18]), v[17], part[2]);
  const char *o = v[18];
  if (len) { /* no key: O = 0 */
    static const int32_t zero = 0;
    EMIT(e, "Greater", tmp_name(e, t, "nonempty", v[19]), v[13], const_i32(e, t, 0, NULL, &zero, 1, c[13]));
    cast_float(e, v[19], tmp_name(e, t, "nonempty_f", v[20]));
    EMIT(e, "Mul", tmp_name(e, t, "o_kept", v[21]), v[18], v[20]);
    o = v[21];
  }
  transpose(e, o, tmp_name(e, t, "o_bthd", v[22]), 4, p3);
  EMIT(e, "Reshape", tmp_name(e, t, "o", v[23]), v[22], const_i64(e, t, 3, (int64_t[]){0, 0, D}, c[14]));
  char ow[VNAME];
  EMIT(e, "MatMul", tmp_name(e, t, "ow", ow), v[23], transpose_last2(e, t, IN(3), 2, wot));
  EMIT(e, "Add", OUT, ow, IN(4));
}

/* One live op node into ONNX nodes; -1 (e->err set) when it has no mapping. */
static int export_op(ex *e, const loom_tensor *t) {
  switch (t->op) {
  case LOOM_OP_ADD: EMIT(e, "Add", OUT, IN(0), IN(1)); break;
  case LOOM_OP_SUB: EMIT(e, "Sub", OUT, IN(0), IN(1)); break;
  case LOOM_OP_MUL: EMIT(e, "Mul", OUT, IN(0), IN(1)); break;
  case LOOM_OP_SCALE: scale(e, t); break;
  case LOOM_OP_MATMUL: matmul(e, t); break;
  case LOOM_OP_RELU: EMIT(e, "Relu", OUT, IN(0)); break;
  case LOOM_OP_SIGMOID: EMIT(e, "Sigmoid", OUT, IN(0)); break;
  case LOOM_OP_TANH: EMIT(e, "Tanh", OUT, IN(0)); break;
  case LOOM_OP_GELU: gelu(e, t); break;
  case LOOM_OP_SOFTMAX: softmax(e, t, "Softmax"); break;
  case LOOM_OP_LOG_SOFTMAX: softmax(e, t, "LogSoftmax"); break;
  case LOOM_OP_SUM: sum_mean(e, t, "ReduceSum"); break;
  case LOOM_OP_MEAN: sum_mean(e, t, "ReduceMean"); break;
  case LOOM_OP_CONCAT: concat(e, t); break;
  case LOOM_OP_SLICE: slice(e, t); break;
  case LOOM_OP_RESHAPE: reshape(e, t); break;
  case LOOM_OP_GATHER: gather(e, t); break;
  case LOOM_OP_DROPOUT: snprintf(OUT, VNAME, "%s", IN(0)); break; /* identity at inference */
  case LOOM_OP_L2_NORMALIZE: l2_normalize(e, t); break;
  case LOOM_OP_COSINE_SIM: cosine_sim(e, t); break;
  case LOOM_OP_LSTM: rnn(e, t, true); break;
  case LOOM_OP_GRU: rnn(e, t, false); break;
  case LOOM_OP_CONV2D: conv2d(e, t); break;
  case LOOM_OP_MAXPOOL2D: pool2d(e, t, true); break;
  case LOOM_OP_AVGPOOL2D: pool2d(e, t, false); break;
  case LOOM_OP_GLOBAL_AVGPOOL: global_avgpool(e, t); break;
  case LOOM_OP_BATCHNORM: batchnorm(e, t); break;
  case LOOM_OP_LAYERNORM: layernorm(e, t); break;
  case LOOM_OP_CONV1D_MAX: conv1d_max(e, t); break;
  case LOOM_OP_MHA: mha(e, t); break;
  default: { /* the losses: no mapping (an inference graph does not reach them) */
    const char *why = e->o->origin ? e->o->origin(e->o->origin_ctx, t) : NULL;
    return fail(e,
                "op %s (graph node '%s') has no ONNX mapping%s%s; loom-export supports %s — export a model "
                "built without it",
                loom_op_name(t->op), t->name, why ? ": it comes from " : "", why ? why : "",
                "add, sub, mul, scale, matmul, relu, sigmoid, tanh, gelu, softmax, log_softmax, sum, mean, concat, "
                "slice, reshape, gather, dropout, l2_normalize, cosine_sim, lstm, gru, conv2d, maxpool2d, avgpool2d, "
                "global_avgpool, batchnorm, layernorm, conv1d_max and mha");
  }
  }
  return e->failed ? -1 : 0;
}

/* ValueInfoProto of a graph input or output: its element type and shape, batch dims symbolic. */
static void value_info(pb *parent, int field, const char *name, loom_dtype dt, int ndim, const int *shape,
                       const bool *batch) {
  pb shp = {0}, tt = {0}, ty = {0}, vi = {0};
  for (int d = 0; d < ndim; d++) {
    pb dim = {0};
    if (batch[d]) pb_str(&dim, DIM_PARAM, "batch");
    else pb_int(&dim, DIM_VALUE, shape[d]);
    pb_msg(&shp, SHAPE_DIM, &dim);
  }
  pb_int(&tt, TTENSOR_ELEM_TYPE, dt == LOOM_F32 ? DT_FLOAT : DT_INT32);
  pb_msg(&tt, TTENSOR_SHAPE, &shp);
  pb_msg(&ty, TYPE_TENSOR, &tt);
  pb_str(&vi, VALUE_NAME, name);
  pb_msg(&vi, VALUE_TYPE, &ty);
  pb_msg(parent, field, &vi);
}

static void graph_input(ex *e, const loom_tensor *t) {
  bool batch[LOOM_MAX_DIMS];
  for (int d = 0; d < t->ndim; d++) batch[d] = t->decl[d] == LOOM_BATCH;
  value_info(&e->graph, GRAPH_INPUT, t->name, t->dtype, t->ndim, t->shape, batch);
  snprintf(e->vname[t->id], VNAME, "%s", t->name);
}

static void derive(ex *e, const loom_tensor *t, const loom_onnx_derived *d) {
  const loom_tensor *len = d->lengths;
  const size_t B = (size_t)len->shape[0], G = loom_tensor_numel(len) / B;
  char c[6][VNAME], v[8][VNAME];
  snprintf(e->vname[t->id], VNAME, "%s", t->name);
  if (len->dtype != LOOM_I32 || t->dtype != LOOM_F32 || t->shape[0] != len->shape[0]) {
    fail(e, "input '%s' cannot be derived from '%s'", t->name, len->name);
    return;
  }
  const char *l = use(e, len);
  node n;
  if (d->kind == LOOM_ONNX_INV_LEN) {
    if (loom_tensor_numel(t) != loom_tensor_numel(len)) {
      fail(e, "input '%s' (1 / length) and '%s' differ in size", t->name, len->name);
      return;
    }
    tmp_name(e, t, "len_f", v[0]);
    node_begin(&n, "Cast", v[0], 1, &l, 1, (const char *[]){v[0]});
    attr_int(&n, "to", DT_FLOAT);
    node_end(e, &n);
    EMIT(e, "Max", tmp_name(e, t, "len_ge1", v[1]), v[0], const_f32(e, t, 1.0f, c[0]));
    EMIT(e, "Reciprocal", tmp_name(e, t, "inv", v[2]), v[1]);
    int64_t shape[LOOM_MAX_DIMS] = {0}; /* the input's own shape, batch copied: (B) lengths may feed a (B, 1) */
    for (int k = 1; k < t->ndim; k++) shape[k] = t->shape[k];
    EMIT(e, "Reshape", t->name, v[2], const_i64(e, t, t->ndim, shape, c[1]));
    return;
  }
  const size_t T = loom_tensor_numel(t) / B / G;
  if (T * G * B != loom_tensor_numel(t)) {
    fail(e, "input '%s' is not %zu texts of '%s' per row", t->name, G, len->name);
    return;
  }
  int32_t *ar = loom_malloc(T * sizeof(int32_t));
  if (!ar) {
    fail(e, "out of memory");
    return;
  }
  for (size_t i = 0; i < T; i++) ar[i] = (int32_t)i;
  const char *steps = const_i32(e, t, 1, (int64_t[]){(int64_t)T}, ar, T, c[0]);
  loom_free(ar);
  static const int32_t zero = 0;
  EMIT(e, "Unsqueeze", tmp_name(e, t, "len_1", v[0]), l, const_i64(e, t, 1, (int64_t[]){len->ndim}, c[1]));
  EMIT(e, "Less", tmp_name(e, t, "valid", v[1]), steps, v[0]);
  EMIT(e, "Equal", tmp_name(e, t, "empty", v[2]), v[0], const_i32(e, t, 0, NULL, &zero, 1, c[2]));
  EMIT(e, "Or", tmp_name(e, t, "kept", v[3]), v[1], v[2]);
  EMIT(e, "Where", tmp_name(e, t, "mask", v[4]), v[3], const_f32(e, t, 0.0f, c[3]), const_f32(e, t, -1e30f, c[4]));
  EMIT(e, "Reshape", t->name, v[4], const_i64(e, t, 2, (int64_t[]){0, -1}, c[5]));
}

unsigned char *loom_onnx_encode(loom_graph *g, const loom_onnx_opts *o, size_t *len, loom_error *err) {
  *len = 0;
  if (loom_graph_training(g)) {
    loom_errorf(err, "loom_onnx_encode: the graph is in training mode; compile it for inference first");
    return NULL;
  }
  if (o->n_outputs < 1) {
    loom_errorf(err, "loom_onnx_encode: no outputs given");
    return NULL;
  }
  ex e = {.g = g, .o = o, .err = err, .n_nodes = loom_graph_n_nodes(g)};
  e.vname = loom_calloc((size_t)e.n_nodes, sizeof *e.vname);
  e.emitted = loom_calloc((size_t)e.n_nodes, sizeof *e.emitted);
  pb model = {0};
  unsigned char *out = NULL;
  if (!e.vname || !e.emitted) {
    loom_errorf(err, "out of memory");
    goto done;
  }
  for (int k = 0; k < o->n_outputs; k++) {
    if (!o->outputs[k]->live) {
      loom_errorf(err, "loom_onnx_encode: output '%s' is not in the last compile", o->output_names[k]);
      goto done;
    }
    for (int i = 0; i < e.n_nodes; i++)
      if (!strcmp(loom_graph_node(g, i)->name, o->output_names[k])) {
        loom_errorf(err, "loom_onnx_encode: output name '%s' is also a graph node's name", o->output_names[k]);
        goto done;
      }
  }
  pb_str(&e.graph, GRAPH_NAME, o->graph_name ? o->graph_name : "loom");
  for (int i = 0; i < e.n_nodes && !e.failed; i++) {
    loom_tensor *t = loom_graph_node(g, i);
    if (!t->live) continue;
    if (t->kind == LOOM_NODE_INPUT) { /* a graph input, or computed where first used */
      if (!derived_of(&e, t)) use(&e, t);
      continue;
    }
    if (t->kind != LOOM_NODE_OP) continue; /* params and buffers: written where first used */
    /* an op's value is named as the node (creation index appended if the name was taken) */
    snprintf(e.vname[i], VNAME, "%s", t->name);
    for (int j = 0; j < i; j++)
      if (!strcmp(loom_graph_node(g, j)->name, t->name)) {
        snprintf(e.vname[i], VNAME, "%s#%d", t->name, i);
        break;
      }
    if (export_op(&e, t) < 0) goto done;
  }
  for (int k = 0; k < o->n_outputs && !e.failed; k++) {
    const loom_tensor *t = o->outputs[k];
    EMIT(&e, "Identity", o->output_names[k], e.vname[t->id]);
    bool batch[LOOM_MAX_DIMS] = {true};
    value_info(&e.graph, GRAPH_OUTPUT, o->output_names[k], t->dtype, t->ndim, t->shape, batch);
  }
  if (e.failed) goto done;

  pb_int(&model, MODEL_IR_VERSION, LOOM_ONNX_IR_VERSION);
  pb_str(&model, MODEL_PRODUCER_NAME, "loom");
  pb_str(&model, MODEL_PRODUCER_VERSION, o->producer_version ? o->producer_version : loom_version());
  pb opset = {0};
  pb_str(&opset, OPSET_DOMAIN, "");
  pb_int(&opset, OPSET_VERSION, LOOM_ONNX_OPSET);
  pb_msg(&model, MODEL_OPSET_IMPORT, &opset);
  pb_msg(&model, MODEL_GRAPH, &e.graph);
  for (int k = 0; k < o->n_meta; k++) {
    pb entry = {0};
    pb_str(&entry, ENTRY_KEY, o->meta_keys[k]);
    pb_str(&entry, ENTRY_VALUE, o->meta_values[k]);
    pb_msg(&model, MODEL_METADATA, &entry);
  }
  if (model.oom || e.graph.oom) {
    loom_errorf(err, "out of memory encoding the ONNX model");
    goto done;
  }
  out = model.p, *len = model.n;
  model = (pb){0};
done:
  pb_free(&model);
  pb_free(&e.graph);
  loom_free(e.vname);
  loom_free(e.emitted);
  return out;
}

int loom_onnx_write(loom_graph *g, const loom_onnx_opts *o, const char *path, loom_error *err) {
  size_t n;
  unsigned char *p = loom_onnx_encode(g, o, &n, err);
  if (!p) return -1;
  int rc = loom_write_file_atomic(path, p, n, err);
  loom_free(p);
  return rc;
}
