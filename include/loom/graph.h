/* loom/graph.h — tensors and the reverse-mode autograd graph.
 *
 * A graph is built once from op builders (nodes can only refer to earlier nodes, so creation order is
 * a topological order), compiled for a batch size (shape inference + one activation arena), then run
 * forward/backward any number of times without touching the heap. Parameters live in one flat buffer
 * and their gradients in another. Layers (src/layers) are graph builders on top of this file; the
 * graph knows nothing of layers, data or training. */
#ifndef LOOM_GRAPH_H
#define LOOM_GRAPH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "loom/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LOOM_MAX_DIMS 4
#define LOOM_MAX_SRC 8
#define LOOM_NAME_MAX 64
#define LOOM_BATCH (-1) /* in an input's declared shape: "the batch size given at compile time" */

typedef enum { LOOM_F32 = 0, LOOM_I32 = 1 } loom_dtype;

/* Every op, in one list: the enum, the name table and the op table (src/autograd/ops.c) are all
 * generated from it, so an op cannot exist without shape rule, forward and backward, and the
 * gradient checker (tests/test_autograd.c) fails on any op it has no case for.
 *   X(ENUM, fn_prefix) */
#define LOOM_OP_LIST(X)                                                                            \
  X(NONE, leaf)               /* input, parameter or buffer: no computation */                     \
  X(ADD, add)                 /* y = a + b     (b broadcast to a: same, trailing dims, size-1) */  \
  X(SUB, sub)                 /* y = a - b */                                                      \
  X(MUL, mul)                 /* y = a * b */                                                      \
  X(SCALE, scale)             /* y = alpha * x + beta */                                           \
  X(MATMUL, matmul)           /* y = op(a) op(b); op = transpose or not; batched over lead dims */ \
  X(RELU, relu)               /* y = max(x, 0) */                                                  \
  X(SIGMOID, sigmoid)         /* y = 1 / (1 + exp(-x)) */                                          \
  X(TANH, tanh)               /* y = tanh(x) */                                                    \
  X(GELU, gelu)               /* y = x * Phi(x), exact erf form (PyTorch / Keras default) */       \
  X(SOFTMAX, softmax)         /* y = exp(x - max) / sum exp(x - max), over the last dim */         \
  X(LOG_SOFTMAX, log_softmax) /* y = x - max - log sum exp(x - max), over the last dim */          \
  X(SUM, sum)                 /* y = sum over one axis (or all: axis = LOOM_ALL) */                \
  X(MEAN, mean)               /* y = mean over one axis (or all) */                                \
  X(CONCAT, concat)           /* y = [x0, x1, ...] along the last dim */                           \
  X(SLICE, slice)             /* y = x[..., start:start+len] along the last dim */                 \
  X(RESHAPE, reshape)         /* y = x viewed with another shape (no copy) */                      \
  X(GATHER, gather)           /* y[i] = table[idx[i]] (embedding lookup; backward scatter-adds) */ \
  X(DROPOUT, dropout)         /* y = x * mask / (1 - p) in training, y = x in eval */               \
  X(BCE_LOGITS, bce_logits)   /* (1-y) x + (1+(pw-1)y) softplus(-x)        (loom/loss.h) */        \
  X(SOFTMAX_CE, softmax_ce)   /* lse(x_i) - x_{i,y_i}, label smoothing, ignore index */            \
  X(MSE, mse)                 /* (a - b)^2 */                                                      \
  X(HUBER, huber)             /* 0.5 r^2 if |r| < delta else delta (|r| - delta/2), r = a - b */    \
  X(BPR, bpr)                 /* mean_j softplus(s_neg_ij - s_pos_i) */                            \
  X(TRIPLET, triplet)         /* max(0, d(a,p) - d(a,n) + margin), euclid/cosine/dot/L1 */        \
  X(INFONCE, infonce)         /* CE of q^ k^T / tau against the diagonal (optionally symmetric) */ \
  X(L2_NORMALIZE, l2_normalize) /* y = x / max(||x||, eps) over the last dim */                    \
  X(COSINE_SIM, cosine_sim)   /* y = a.b / max(||a|| ||b||, eps) over the last dim */              \
  X(LSTM, lstm)               /* one LSTM direction over a sequence, fused (loom/ops_lstm.h) */    \
  X(GRU, gru)                 /* one GRU direction over a sequence, fused (loom/ops_gru.h) */      \
  X(MHA, mha)                 /* multi-head self-attention, key padding mask (loom/ops_attention.h) */ \
  X(CONV1D_MAX, conv1d_max)   /* y = act(max_t w * x[t:t+k] + b), TextCNN (loom/ops_conv1d.h) */ \
  X(CONV2D, conv2d)           /* y = w * x + b, NCHW, stride, padding (loom/ops_conv.h) */         \
  X(MAXPOOL2D, maxpool2d)     /* y = max over each window (loom/ops_conv.h) */                     \
  X(AVGPOOL2D, avgpool2d)     /* y = mean over each window (loom/ops_conv.h) */                    \
  X(GLOBAL_AVGPOOL, global_avgpool) /* (B, C, H, W) -> (B, C) mean (loom/ops_conv.h) */        \
  X(BATCHNORM, batchnorm)     /* y = (x - mean_c) / sqrt(var_c + eps) w + b, batch or running */  \
  X(LAYERNORM, layernorm)     /* y = (x - mean) / sqrt(var + eps) w + b over the last dim */

typedef enum {
#define LOOM_X_ENUM(E, f) LOOM_OP_##E,
  LOOM_OP_LIST(LOOM_X_ENUM)
#undef LOOM_X_ENUM
  LOOM_OP_COUNT
} loom_op;

#define LOOM_ALL (-100) /* reduction axis meaning "every element" */

typedef enum {
  LOOM_NODE_OP = 0,  /* computed by its op */
  LOOM_NODE_INPUT,   /* fed by the caller each step (may have a LOOM_BATCH dim) */
  LOOM_NODE_PARAM,   /* trainable; data/grad point into the graph's flat buffers */
  LOOM_NODE_BUFFER,  /* persistent, saved with the model, not trained (e.g. running statistics) */
} loom_node_kind;

typedef struct loom_graph loom_graph;

/* A tensor is a node of a graph: value, gradient, the op that computes it and its inputs.
 * Shapes are row-major and contiguous; `shape` holds the compiled shape. */
typedef struct loom_tensor {
  char name[LOOM_NAME_MAX];
  loom_dtype dtype;
  loom_node_kind kind;
  loom_op op;
  int ndim;
  int shape[LOOM_MAX_DIMS];
  int decl[LOOM_MAX_DIMS]; /* inputs: declared shape, LOOM_BATCH allowed */
  float *data;             /* F32 value (NULL for I32) */
  int32_t *idata;          /* I32 value (NULL for F32) */
  float *grad;             /* d loss / d value; NULL when no gradient flows here */
  int nsrc;
  struct loom_tensor *src[LOOM_MAX_SRC];
  int32_t ip[8];           /* integer op parameters (op-specific, documented at each builder) */
  float fp[4];             /* float op parameters */
  bool requires_grad;      /* params: trained. ops: set at compile if any source needs a gradient */
  bool live;               /* reached from the outputs of the current compile */
  int id;                  /* creation index in the graph */
  /* arena placement, set by compile */
  size_t value_off, grad_off, saved_off, saved_bytes;
  void *saved;             /* op state kept from forward to backward (masks, argmax, gates...) */
  void *bound;             /* inputs: caller-owned memory used instead of the arena (loom_input_bind) */
} loom_tensor;

/* ---- graph lifetime ---- */
loom_graph *loom_graph_new(void);
void loom_graph_free(loom_graph *g);
/* Seed of the graph's RNG stream (dropout). Part of the state a checkpoint saves. */
loom_rng *loom_graph_rng(loom_graph *g);
/* Training mode turns dropout (and batch-norm batch statistics) on. Takes effect at once. */
void loom_graph_set_training(loom_graph *g, bool training);
bool loom_graph_training(const loom_graph *g);

/* ---- leaves ---- */
/* An input fed each step. shape may contain LOOM_BATCH (resolved at compile). */
loom_tensor *loom_input(loom_graph *g, const char *name, loom_dtype dtype, int ndim, const int *shape);
/* Feed an input from caller-owned memory (numel x 4 bytes, kept alive while the graph runs) instead
 * of copying into t->data; survives re-compiles. Pass NULL to go back to the arena. */
void loom_input_bind(loom_tensor *t, void *data);
/* A trainable parameter (zero-initialised; see src/layers/init for initialisers). */
loom_tensor *loom_param(loom_graph *g, const char *name, int ndim, const int *shape);
/* Freezes (false) or unfreezes a parameter: a frozen one gets no gradient (an op whose only
 * differentiable input is frozen runs no backward), and optimizers created after this leave it and
 * its moments untouched (no update, no weight decay). Call before loom_optim_new and the compile. */
void loom_param_set_trainable(loom_tensor *t, bool trainable);
/* A persistent non-trained buffer (zero-initialised). */
loom_tensor *loom_buffer(loom_graph *g, const char *name, int ndim, const int *shape);

/* ---- op builders: each returns a new node; shapes are checked at compile ---- */
loom_tensor *loom_add(loom_graph *g, loom_tensor *a, loom_tensor *b);
loom_tensor *loom_sub(loom_graph *g, loom_tensor *a, loom_tensor *b);
loom_tensor *loom_mul(loom_graph *g, loom_tensor *a, loom_tensor *b);
/* y = alpha * x + beta */
loom_tensor *loom_scale(loom_graph *g, loom_tensor *x, float alpha, float beta);
/* y = op(a) · op(b) over the last two dims. a: (..., M, K), b: (..., K, N) or 2-D (K, N) shared;
 * a 2-D b with a 3-D/4-D a treats a's leading dims as rows (Dense over (B, T, C)). */
loom_tensor *loom_matmul(loom_graph *g, loom_tensor *a, loom_tensor *b, bool trans_a, bool trans_b);
loom_tensor *loom_relu(loom_graph *g, loom_tensor *x);
loom_tensor *loom_sigmoid(loom_graph *g, loom_tensor *x);
loom_tensor *loom_tanh(loom_graph *g, loom_tensor *x);
loom_tensor *loom_gelu(loom_graph *g, loom_tensor *x);
loom_tensor *loom_softmax(loom_graph *g, loom_tensor *x);
loom_tensor *loom_log_softmax(loom_graph *g, loom_tensor *x);
/* Reduce over `axis` (negative counts from the end; LOOM_ALL for every element). keepdim keeps a
 * size-1 axis. */
loom_tensor *loom_sum(loom_graph *g, loom_tensor *x, int axis, bool keepdim);
loom_tensor *loom_mean(loom_graph *g, loom_tensor *x, int axis, bool keepdim);
loom_tensor *loom_concat(loom_graph *g, int n, loom_tensor *const *xs);
loom_tensor *loom_slice(loom_graph *g, loom_tensor *x, int start, int len);
/* View with another shape; one entry may be -1 (inferred), e.g. {-1, 784} for a batch of images. */
loom_tensor *loom_reshape(loom_graph *g, loom_tensor *x, int ndim, const int *shape);
/* Flatten all but the first dim: (B, ...) -> (B, prod(...)). */
loom_tensor *loom_flatten(loom_graph *g, loom_tensor *x);
/* y[..., :] = table[idx[...], :]; idx is I32 of any shape; rows equal to padding_idx (>= 0) read
 * as zeros and receive no gradient; pass -1 for none. An index outside [0, V) is a fatal error. */
loom_tensor *loom_gather(loom_graph *g, loom_tensor *table, loom_tensor *idx, int padding_idx);
/* Inverted dropout with drop probability p, driven by the graph's RNG; identity in eval mode. */
loom_tensor *loom_dropout(loom_graph *g, loom_tensor *x, float p);

/* ---- compile and run ---- */
/* Compile the part of the graph that `outputs` depend on, for batch size `batch`: shape inference,
 * which nodes need gradients (skipped entirely when with_grad is false, e.g. for inference), and one
 * arena for every activation, activation gradient and saved state. Re-compiling for another batch
 * size reuses the arena when it is large enough. Without gradients, values and op scratch whose
 * lifetimes do not meet share memory: after forward only inputs and `outputs` hold their values (list
 * every node you read as an output). Returns 0, or -1 with loom_graph_error() set when shapes do not agree. */
int loom_graph_compile(loom_graph *g, int batch, int n_outputs, loom_tensor *const *outputs, bool with_grad);
int loom_graph_batch(const loom_graph *g);
const char *loom_graph_error(const loom_graph *g);
/* Forward over the compiled nodes in order. Inputs must have been filled (t->data / t->idata). */
void loom_graph_forward(loom_graph *g);
/* Backward from a scalar `loss`: zeroes activation gradients, seeds d loss = 1 and walks the
 * compiled order backwards. Parameter gradients accumulate (+=) until loom_graph_zero_grad. */
void loom_graph_backward(loom_graph *g, loom_tensor *loss);
void loom_graph_zero_grad(loom_graph *g);
/* Inference only: frees the parameters' gradient buffer; compiling with gradients then fails. */
void loom_graph_drop_grads(loom_graph *g);

/* ---- parameters as flat buffers (optimizers and checkpoints work on these) ---- */
size_t loom_graph_n_params(const loom_graph *g);    /* floats in the flat buffer (incl. padding) */
float *loom_graph_params(loom_graph *g);
float *loom_graph_grads(loom_graph *g);
int loom_graph_n_param_tensors(const loom_graph *g);
loom_tensor *loom_graph_param_tensor(loom_graph *g, int i);
int loom_graph_n_buffer_tensors(const loom_graph *g);
loom_tensor *loom_graph_buffer_tensor(loom_graph *g, int i);
int loom_graph_n_nodes(const loom_graph *g);
loom_tensor *loom_graph_node(loom_graph *g, int i);
loom_tensor *loom_graph_find(loom_graph *g, const char *name);
/* Bytes held by the activation arena after the last compile. */
size_t loom_graph_arena_bytes(const loom_graph *g);
/* The model summary (Keras' model.summary()): one row per node in creation order — its index, op
 * ("input", "param", "buffer" for leaves), name, output shape and parameter count (params and
 * buffers) — then the totals: parameters (trainable and frozen), buffer floats, nodes, and the arena
 * with the batch and mode of the last compile. Shapes are the compiled ones; before a compile (or for
 * a node the last compile did not reach) an input shows its declared shape with B for the batch and
 * an op shows "?". */
void loom_graph_print(const loom_graph *g, FILE *f);

/* ---- tensors ---- */
size_t loom_tensor_numel(const loom_tensor *t);
void loom_tensor_set_name(loom_tensor *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *loom_op_name(loom_op op);

#ifdef __cplusplus
}
#endif
#endif
