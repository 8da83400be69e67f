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
  loom_init_style init;       /* KERAS (default): Glorot-uniform weight, zero bias; TORCH: U(+-1/sqrt(in)) both */
} loom_dense_opts;

/* y = act(x W^T + b) over the last dim of x: (B, in) -> (B, units), (B, T, in) -> (B, T, units).
 * Parameters <prefix>.weight (units, in) and <prefix>.bias (units), PyTorch's layout. */
loom_tensor *loom_dense(loom_graph *g, const char *prefix, loom_tensor *x, const loom_dense_opts *opts, loom_rng *rng);

/* y = act(x) for the activation enum (identity for LOOM_ACT_NONE). */
loom_tensor *loom_activate(loom_graph *g, loom_tensor *x, loom_activation act);

#ifdef __cplusplus
}
#endif
#endif
