/* loom/conv.h — the Conv2D and pooling layer builders over NCHW images: they create the parameters,
 * named like PyTorch's state_dict (`<prefix>.weight`, `<prefix>.bias`), and wire the ops of
 * loom/ops_conv.h. Normalisation layers are in loom/norm.h. */
#ifndef LOOM_CONV_H
#define LOOM_CONV_H

#include <stdbool.h>

#include "loom/graph.h"
#include "loom/init.h"
#include "loom/layers.h"
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
  loom_activation activation; /* applied after the bias (zero value: none) */
  loom_init_kind init;     /* weight initialiser (KERAS_DEFAULT, the zero value: Glorot-uniform); bias is
                            * zeros, or U(+-1/sqrt(fan_in)) for TORCH_DEFAULT */
} loom_conv2d_opts;

/* Keras' defaults: kernel x kernel, stride 1, VALID, bias, no activation, Glorot-uniform. */
loom_conv2d_opts loom_conv2d_opts_default(int in_channels, int filters, int kernel);
/* Conv2D layer: params `<prefix>.weight` (C_out, C_in, kh, kw) and `<prefix>.bias` (C_out), initialised
 * from rng; the conv node is named `<prefix>`; returns the (activated) output. */
loom_tensor *loom_layer_conv2d(loom_graph *g, const char *prefix, loom_tensor *x, const loom_conv2d_opts *o,
                               loom_rng *rng);

typedef struct loom_pool2d_opts {
  int kernel_h, kernel_w;
  int stride_h, stride_w;  /* 0 means the kernel size (PyTorch's and Keras' default) */
  loom_padding padding;
  bool count_include_pad;  /* average pooling only */
} loom_pool2d_opts;

/* kernel x kernel windows, stride = kernel, VALID, count_include_pad (PyTorch's defaults). */
loom_pool2d_opts loom_pool2d_opts_default(int kernel);

/* Pool layers name their node `<prefix>` and have no parameters (so no rng); the global pool has no
 * options either. */
loom_tensor *loom_layer_maxpool2d(loom_graph *g, const char *prefix, loom_tensor *x, const loom_pool2d_opts *o);
loom_tensor *loom_layer_avgpool2d(loom_graph *g, const char *prefix, loom_tensor *x, const loom_pool2d_opts *o);
loom_tensor *loom_layer_global_avgpool(loom_graph *g, const char *prefix, loom_tensor *x);

#ifdef __cplusplus
}
#endif
#endif
