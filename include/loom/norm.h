/* loom/norm.h — the batch-normalisation and layer-normalisation layer builders over the ops of
 * loom/ops_norm.h, with PyTorch semantics and state_dict names (`<prefix>.weight`, `.bias`, `.running_mean`,
 * `.running_var`, `.num_batches_tracked`). Running statistics are loom_buffer tensors, saved with the
 * model and updated only by a forward pass in training mode (loom_graph_set_training). */
#ifndef LOOM_NORM_H
#define LOOM_NORM_H

#include <stdbool.h>

#include "loom/graph.h"
#include "loom/ops_norm.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct loom_batchnorm_opts {
  int num_features;  /* C */
  float eps;         /* PyTorch 1e-5 (Keras 1e-3) */
  float momentum;    /* PyTorch 0.1 (Keras momentum m corresponds to 1 - m) */
  bool no_affine;    /* zero value: learn weight (ones) and bias (zeros) */
} loom_batchnorm_opts;
/* PyTorch's defaults: eps 1e-5, momentum 0.1, affine. */
loom_batchnorm_opts loom_batchnorm_defaults(int num_features);
/* BatchNorm1d over (B, C) or (B, C, L), BatchNorm2d over (B, C, H, W): the op checks the rank.
 * Creates `<prefix>.weight`, `.bias` (params), `.running_mean` (zeros), `.running_var` (ones),
 * `.num_batches_tracked` (buffers). */
loom_tensor *loom_batchnorm1d_layer(loom_graph *g, const char *prefix, loom_tensor *x, const loom_batchnorm_opts *o);
loom_tensor *loom_batchnorm2d_layer(loom_graph *g, const char *prefix, loom_tensor *x, const loom_batchnorm_opts *o);

typedef struct loom_layernorm_opts {
  int normalized_shape; /* D, the last dim */
  float eps;            /* 1e-5 */
  bool no_affine;
} loom_layernorm_opts;
loom_layernorm_opts loom_layernorm_defaults(int normalized_shape);
/* LayerNorm over the last dim: `<prefix>.weight` (ones), `<prefix>.bias` (zeros). */
loom_tensor *loom_layernorm_layer(loom_graph *g, const char *prefix, loom_tensor *x, const loom_layernorm_opts *o);

#ifdef __cplusplus
}
#endif
#endif
