/* loom/interact.h — feature-interaction blocks as graph builders, for fusing several per-sample vectors
 * (tower outputs, ID and category embeddings): the DCN-v2 cross network, factorisation-machine pairwise
 * dot products and attention over field vectors. Each is a composition of existing ops (matmul, mul,
 * add, slice, softmax), so each is gradient-checked through those ops; the model chooses which to use. */
#ifndef LOOM_INTERACT_H
#define LOOM_INTERACT_H

#include "loom/graph.h"
#include "loom/layers.h"
#include "loom/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct loom_cross_opts {
  int in_features;     /* d: the size of x0's last dim */
  int layers;          /* L >= 1 cross layers */
  loom_init_kind init; /* each layer's Linear(d, d): KERAS_DEFAULT Glorot-uniform + zero bias, or TORCH_DEFAULT */
} loom_cross_opts;

/* `layers` cross layers over d features, Keras' init. */
loom_cross_opts loom_cross_opts_default(int in_features, int layers);

/* DCN-v2 cross network (Wang et al. 2021, full-rank): x_{l+1} = x0 ⊙ (W_l x_l + b_l) + x_l for
 * l = 0..L-1, x0 (B, d) -> x_L (B, d). Parameters <prefix>.cross<l>.weight (d, d) and .bias (d), as a
 * PyTorch module holding Linear layers named cross0, cross1, ... */
loom_tensor *loom_layer_cross(loom_graph *g, const char *prefix, loom_tensor *x0, const loom_cross_opts *o,
                              loom_rng *rng);

/* Second-order FM interactions kept apart: fields (B, n, D) -> (B, n(n-1)/2) with column k the dot
 * product <v_i, v_j> of the k-th pair i < j in row-major order (torch.triu_indices(n, n, 1)); their sum
 * is the FM term ½((Σv)² − Σv²) summed over D. No parameters; n >= 2. */
loom_tensor *loom_pairwise_dot(loom_graph *g, loom_tensor *fields, int n, int D);

typedef struct loom_field_attention_opts {
  int fields;          /* n */
  int dim;             /* D */
  loom_init_kind init; /* as loom_dense_opts */
} loom_field_attention_opts;

/* n fields of D, Keras' init. */
loom_field_attention_opts loom_field_attention_opts_default(int fields, int dim);

/* Per-sample attention over n field vectors (additive scoring): s_i = w · tanh(W v_i + b),
 * a = softmax_i(s), y = Σ_i a_i v_i; fields (B, n, D) -> (B, D). Parameters <prefix>.attention.weight
 * (D, D), .bias (D) and <prefix>.score.weight (1, D) (no bias: the softmax ignores it). */
loom_tensor *loom_layer_field_attention(loom_graph *g, const char *prefix, loom_tensor *fields,
                                        const loom_field_attention_opts *o, loom_rng *rng);

#ifdef __cplusplus
}
#endif
#endif
