/* loom/conv.h — 2-D convolution and pooling over NCHW images (PyTorch layout): the ops (graph nodes)
 * and the layer builders that create their parameters, named like PyTorch's state_dict
 * (`<prefix>.weight`, `<prefix>.bias`). Shapes: x (B, C, H, W), weight (C_out, C_in, kh, kw).
 * Normalisation layers are in loom/norm.h; activations are graph ops (loom/graph.h). */
#ifndef LOOM_CONV_H
#define LOOM_CONV_H

#include <stdbool.h>

#include "loom/graph.h"
#include "loom/init.h"
#include "loom/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Padding of H and W. VALID: none. SAME (TF/Keras): out = ceil(in / stride), total padding
 * max((out - 1) stride + k - in, 0) split with the odd one at the bottom/right (so stride 1 keeps the
 * size). EXPLICIT: h rows top and bottom, w columns left and right (PyTorch's padding=(h, w)). */
typedef enum { LOOM_PAD_VALID = 0, LOOM_PAD_SAME, LOOM_PAD_EXPLICIT } loom_pad_mode;
typedef struct loom_padding {
  loom_pad_mode mode;
  int h, w; /* EXPLICIT only */
} loom_padding;

/* ---- ops ---- */
/* y[n, o] = b[o] + sum_{c,i,j} w[o, c, i, j] x_pad[n, c, oh sh + i, ow sw + j]; b may be NULL.
 * im2col + GEMM with threads over the batch (as many as loom_num_threads() at compile); in training
 * the column matrices are kept for backward when they fit in 64 MB, else rebuilt there. */
loom_tensor *loom_conv2d(loom_graph *g, loom_tensor *x, loom_tensor *w, loom_tensor *b, int stride_h, int stride_w,
                         loom_padding pad);
/* y[n, c, oh, ow] = max over the kh x kw window (padding never wins); backward routes to the argmax
 * (first maximum in scan order, like PyTorch). */
loom_tensor *loom_maxpool2d(loom_graph *g, loom_tensor *x, int kh, int kw, int stride_h, int stride_w,
                            loom_padding pad);
/* y = window sum / divisor: divisor = kh * kw clipped to the padded image when count_include_pad
 * (PyTorch's default), else the number of real pixels in the window (TF/Keras 'same'). */
loom_tensor *loom_avgpool2d(loom_graph *g, loom_tensor *x, int kh, int kw, int stride_h, int stride_w,
                            loom_padding pad, bool count_include_pad);
/* (B, C, H, W) -> (B, C): y[n, c] = mean over H, W. */
loom_tensor *loom_global_avgpool(loom_graph *g, loom_tensor *x);

/* ---- layer builders ---- */
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
