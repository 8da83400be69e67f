/* graph_internal.h — what op implementations see: the graph struct, the op-definition table and
 * small helpers shared by op files. Not part of the public API. */
#ifndef LOOM_GRAPH_INTERNAL_H
#define LOOM_GRAPH_INTERNAL_H

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loom/parallel.h"
#include "kernels.h"
#include "loom/graph.h"
#include "loom/runtime.h"

struct loom_graph {
  loom_tensor **nodes; /* every node, in creation (= topological) order */
  int n_nodes, cap_nodes;
  /* parameters: one flat buffer of values and one of gradients, 64-byte aligned slots */
  float *params, *grads;
  size_t n_params, cap_params;
  loom_tensor **param_list;
  int n_param_list, cap_param_list;
  /* persistent non-trained buffers (running statistics) */
  float *buffers;
  size_t n_buffers, cap_buffers;
  loom_tensor **buffer_list;
  int n_buffer_list, cap_buffer_list;
  /* the compiled plan */
  bool compiled, with_grad;
  bool frozen; /* loom_graph_drop_grads: inference only */
  int batch;
  loom_tensor **order; /* live nodes in topological order */
  int n_order, cap_order;
  unsigned char *arena;
  size_t arena_bytes, arena_cap;
  size_t grad_begin, grad_end; /* activation gradients: one memset per backward */
  /* run state */
  bool training;
  loom_rng rng;
  char err[512];
};

/* One op: shape rule, bytes kept from forward for backward, forward, backward. `infer` sets the
 * output's ndim/shape/dtype from its sources and returns 0, or reports with loom_graph_fail. A view
 * op's output shares its first source's value and gradient memory. */
typedef struct loom_op_def {
  const char *name;
  int (*infer)(loom_graph *g, loom_tensor *t);
  size_t (*saved_bytes)(const loom_tensor *t); /* NULL: none */
  void (*forward)(loom_graph *g, loom_tensor *t);
  void (*backward)(loom_graph *g, loom_tensor *t); /* adds into src[i]->grad where non-NULL */
  bool view;
} loom_op_def;

#define LOOM_X_DECL(E, f) extern const loom_op_def loom_op_##f;
LOOM_OP_LIST(LOOM_X_DECL)
#undef LOOM_X_DECL

extern const loom_op_def *const loom_ops[LOOM_OP_COUNT];

/* Records a shape error naming the node and op; returns -1. */
int loom_graph_fail(loom_graph *g, const loom_tensor *t, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Creates an op node with the given sources (builders call this, then fill ip/fp). */
loom_tensor *loom_graph_new_op(loom_graph *g, loom_op op, int nsrc, loom_tensor *const *src);

/* Shape helpers. */
static inline size_t loom_shape_numel(int ndim, const int *shape) {
  size_t n = 1;
  for (int i = 0; i < ndim; i++) n *= (size_t)shape[i];
  return n;
}
static inline void loom_shape_copy(loom_tensor *dst, const loom_tensor *src) {
  dst->ndim = src->ndim;
  memcpy(dst->shape, src->shape, sizeof dst->shape);
}
/* "(2, 3, 4)" into buf. */
const char *loom_shape_str(const loom_tensor *t, char *buf, size_t cap);

/* Parallel over [0, n) in blocks of LOOM_PAR_GRAIN elements; `s` and `len` name the block. Elementwise
 * kernels give the same result however the blocks fall on threads. */
#define LOOM_PARALLEL_BLOCKS(n, s, len, BODY)                                                     \
  do {                                                                                            \
    const size_t n_ = (n);                                                                        \
    const long nb_ = (long)((n_ + LOOM_PAR_GRAIN - 1) / LOOM_PAR_GRAIN);                          \
    LOOM_PARALLEL_FOR(nb_ > 1, (long b_ = 0; b_ < nb_; b_++), {                                   \
      const size_t s = (size_t)b_ * LOOM_PAR_GRAIN;                                               \
      const size_t len = n_ - s < LOOM_PAR_GRAIN ? n_ - s : LOOM_PAR_GRAIN;                       \
      BODY;                                                                                       \
    });                                                                                           \
  } while (0)

/* A fatal programming error (bad index, misuse of the API): prints where and aborts. */
#define LOOM_FATAL(...)                                                                           \
  do {                                                                                            \
    fprintf(stderr, "loom: fatal: %s:%d: ", __FILE__, __LINE__);                                  \
    fprintf(stderr, __VA_ARGS__);                                                                 \
    fputc('\n', stderr);                                                                          \
    abort();                                                                                      \
  } while (0)

/* The shape rule shared by the fused recurrent ops (ops_lstm.c): `gates` = 4 for LSTM, 3 for GRU. */
int loom_recurrent_infer(loom_graph *g, loom_tensor *t, int gates);

#endif
