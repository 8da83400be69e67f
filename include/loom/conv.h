/* loom/conv.h — the Conv2D and pooling layer builders over NCHW images: they create the parameters,
 * named like PyTorch's state_dict (`<prefix>.weight`, `<prefix>.bias`), and wire the ops of
 * loom/ops_conv.h. Normalisation layers are in loom/norm.h. */
#ifndef LOOM_CONV_H
#define LOOM_CONV_H

#include <stdbool.h>

#include "loom/graph.h"
#include "loom/init.h"
#include "loom/ops_conv.h"
#include "loom/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct loom_conv2d_opts {
  int in_channels;         /* C_in (required: op shapes are only known at compile) */
  int filters;             /* C_out */
  int kernel_h, kernel_w;
  int stride_h, stride_w;  /* 0 means 1 */
  loom_padding padding;    /* zero value: VALID */
  bool no_bias;            /* zero value: with bias */
  const char *activation;  /* NULL/"linear", "relu", "sigmoid", "tanh", "gelu" (another name is fatal) */
  loom_init_kind init;     /* weight initialiser; bias is zeros, or U(+-1/sqrt(fan_in)) for TORCH_DEFAULT */
} loom_conv2d_opts;

/* Keras' defaults: stride 1, VALID, bias, no activation, glorot_uniform. */
loom_conv2d_opts loom_conv2d_defaults(int in_channels, int filters, int kernel);
/* Conv2D layer: params `<prefix>.weight` (C_out, C_in, kh, kw) and `<prefix>.bias` (C_out), initialised
 * from rng; returns the (activated) output. */
loom_tensor *loom_conv2d_layer(loom_graph *g, const char *prefix, loom_tensor *x, const loom_conv2d_opts *o,
                               loom_rng *rng);

typedef struct loom_pool2d_opts {
  int kernel_h, kernel_w;
  int stride_h, stride_w;  /* 0 means the kernel size (PyTorch's and Keras' default) */
  loom_padding padding;
  bool count_include_pad;  /* average pooling only */
} loom_pool2d_opts;

/* Pool layers name their node `<prefix>` and have no parameters. */
loom_tensor *loom_maxpool2d_layer(loom_graph *g, const char *prefix, loom_tensor *x, const loom_pool2d_opts *o);
loom_tensor *loom_avgpool2d_layer(loom_graph *g, const char *prefix, loom_tensor *x, const loom_pool2d_opts *o);
loom_tensor *loom_global_avgpool_layer(loom_graph *g, const char *prefix, loom_tensor *x);

#ifdef __cplusplus
}
#endif
#endif
