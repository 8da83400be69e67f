/* loom/ops_conv.h — the 2-D convolution and pooling ops (graph nodes) over NCHW images, PyTorch's
 * layout: x (B, C, H, W), weight (C_out, C_in, kh, kw). Implemented in src/autograd/ops_conv.c; the
 * layer builders that create and initialise parameters are in loom/conv.h. */
#ifndef LOOM_OPS_CONV_H
#define LOOM_OPS_CONV_H

#include <stdbool.h>

#include "loom/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Padding of H and W. VALID: none. SAME (TF/Keras): out = ceil(in / stride), total padding
 * max((out - 1) stride + k - in, 0) split with the odd one at the bottom/right (so stride 1 keeps the
 * size). EXPLICIT: h rows top and bottom, w columns left and right (PyTorch's padding=(h, w)). */
typedef enum { LOOM_CONV_PAD_VALID = 0, LOOM_CONV_PAD_SAME, LOOM_CONV_PAD_EXPLICIT } loom_conv_pad_mode;
typedef struct loom_padding {
  loom_conv_pad_mode mode;
  int h, w; /* EXPLICIT only */
} loom_padding;

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

#ifdef __cplusplus
}
#endif
#endif
