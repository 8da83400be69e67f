/* loom/dense.h — the fully connected layer (torch.nn.Linear / keras Dense) as a graph builder. */
#ifndef LOOM_DENSE_H
#define LOOM_DENSE_H

#include <stdbool.h>

#include "loom/graph.h"
#include "loom/layers.h"
#include "loom/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct loom_dense_opts {
  int in_features;            /* size of x's last dim (the graph knows shapes only at compile) */
  int units;                  /* output features */
  loom_activation activation; /* applied after the bias */
  bool no_bias;               /* false (the default): <prefix>.bias exists */
  loom_init_kind init;        /* KERAS_DEFAULT (zero value): Glorot-uniform weight, zero bias; TORCH_DEFAULT:
                               * U(+-1/sqrt(in)) both; another kind: the weight from it, zero bias */
} loom_dense_opts;

/* Keras' defaults: no activation, a bias, Glorot-uniform weight. */
loom_dense_opts loom_dense_opts_default(int in_features, int units);

/* y = act(x W^T + b) over the last dim of x: (B, in) -> (B, units), (B, T, in) -> (B, T, units).
 * Parameters <prefix>.weight (units, in) and <prefix>.bias (units), PyTorch's layout. */
loom_tensor *loom_layer_dense(loom_graph *g, const char *prefix, loom_tensor *x, const loom_dense_opts *opts,
                              loom_rng *rng);

#ifdef __cplusplus
}
#endif
#endif
