/* loom/ops_norm.h — the batch-normalisation and layer-normalisation ops with PyTorch semantics,
 * implemented in src/autograd/ops_norm.c. Running statistics are loom_buffer tensors updated only by a
 * forward pass in training mode (loom_graph_set_training). The layer builders that create the
 * parameters and buffers (PyTorch state_dict names) are in loom/norm.h. */
#ifndef LOOM_OPS_NORM_H
#define LOOM_OPS_NORM_H

#include "loom/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

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

#ifdef __cplusplus
}
#endif
#endif
