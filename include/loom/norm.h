/* loom/norm.h — the batch-normalisation and layer-normalisation layer builders over the ops of
 * loom/ops_norm.h, with PyTorch semantics and state_dict names (`<prefix>.weight`, `.bias`, `.running_mean`,
 * `.running_var`, `.num_batches_tracked`). Running statistics are loom_buffer tensors, saved with the
 * model and updated only by a forward pass in training mode (loom_graph_set_training). */
#ifndef LOOM_NORM_H
#define LOOM_NORM_H

#include <stdbool.h>

#include "loom/graph.h"
#include "loom/layers.h"
#include "loom/ops_norm.h"
#include "loom/rng.h"

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
loom_batchnorm_opts loom_batchnorm_opts_default(int num_features);
/* BatchNorm1d over (B, C) or (B, C, L), BatchNorm2d over (B, C, H, W): the op checks the rank.
 * Creates `<prefix>.weight`, `.bias` (params), `.running_mean` (zeros), `.running_var` (ones),
 * `.num_batches_tracked` (buffers). The initial values are constants, so rng is not drawn from (it
 * may be NULL); it is there so that every layer with parameters is called alike. */
loom_tensor *loom_layer_batchnorm1d(loom_graph *g, const char *prefix, loom_tensor *x, const loom_batchnorm_opts *o,
                                    loom_rng *rng);
loom_tensor *loom_layer_batchnorm2d(loom_graph *g, const char *prefix, loom_tensor *x, const loom_batchnorm_opts *o,
                                    loom_rng *rng);

typedef struct loom_layernorm_opts {
  int normalized_shape; /* D, the last dim */
  float eps;            /* 1e-5 */
  bool no_affine;
} loom_layernorm_opts;
/* PyTorch's defaults: eps 1e-5, affine. */
loom_layernorm_opts loom_layernorm_opts_default(int normalized_shape);
/* LayerNorm over the last dim: `<prefix>.weight` (ones), `<prefix>.bias` (zeros); rng as for batch norm. */
loom_tensor *loom_layer_layernorm(loom_graph *g, const char *prefix, loom_tensor *x, const loom_layernorm_opts *o,
                                  loom_rng *rng);

#ifdef __cplusplus
}
#endif
#endif
