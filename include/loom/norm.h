/* loom/norm.h — batch normalisation and layer normalisation: the ops and the layer builders, with
 * PyTorch semantics and state_dict names (`<prefix>.weight`, `.bias`, `.running_mean`,
 * `.running_var`, `.num_batches_tracked`). Running statistics are loom_buffer tensors, saved with the
 * model and updated only by a forward pass in training mode (loom_graph_set_training). */
#ifndef LOOM_NORM_H
#define LOOM_NORM_H

#include <stdbool.h>

#include "loom/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- ops ---- */
/* x: (B, C) or (B, C, L) (BatchNorm1d) or (B, C, H, W) (BatchNorm2d); statistics per channel C.
 * Training: y = (x - mean_B) / sqrt(var_B + eps) * weight + bias with the biased batch variance, and
 *   running_mean = (1 - momentum) running_mean + momentum mean_B,
 *   running_var  = (1 - momentum) running_var + momentum var_B * n / (n - 1),   n = B * spatial,
 *   num_batches_tracked += 1 (may be NULL).
 * Eval: y = (x - running_mean) / sqrt(running_var + eps) * weight + bias.
 * weight/bias (C) may both be NULL (affine=False). running_* are (C) buffers. */
loom_tensor *loom_batchnorm(loom_graph *g, loom_tensor *x, loom_tensor *weight, loom_tensor *bias,
                            loom_tensor *running_mean, loom_tensor *running_var, loom_tensor *num_batches_tracked,
                            float eps, float momentum);
/* y = (x - mean) / sqrt(var + eps) * weight + bias over the last dim (biased variance); weight/bias
 * (D) may both be NULL. */
loom_tensor *loom_layernorm(loom_graph *g, loom_tensor *x, loom_tensor *weight, loom_tensor *bias, float eps);

/* ---- layer builders ---- */
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
