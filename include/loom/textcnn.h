/* loom/textcnn.h — the TextCNN encoder (Kim 2014) as a graph builder: parallel 1-D convolutions of
 * several widths over a sequence of vectors (token embeddings), ReLU, max over each text's valid
 * windows, concatenated. Each width is one fused op of loom/ops_conv1d.h; its parameters are named as
 * torch.nn.Conv2d(1, F, (k, E)) names them: <prefix>.conv<i>.weight (F, 1, k, E), <prefix>.conv<i>.bias (F). */
#ifndef LOOM_TEXTCNN_H
#define LOOM_TEXTCNN_H

#include "loom/graph.h"
#include "loom/init.h"
#include "loom/layers.h"
#include "loom/ops_conv1d.h"
#include "loom/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LOOM_TEXTCNN_MAX_WIDTHS 8 /* loom_concat takes up to LOOM_MAX_SRC inputs */

typedef struct loom_textcnn_opts {
  int input_size;                       /* E */
  int filters;                          /* F per width */
  int n_widths;                         /* how many widths (1..LOOM_TEXTCNN_MAX_WIDTHS) */
  int widths[LOOM_TEXTCNN_MAX_WIDTHS];  /* window sizes k, each <= the sequence length */
  loom_init_kind init;                  /* KERAS_DEFAULT (zero value): Glorot-uniform weight, zero bias;
                                         * TORCH_DEFAULT: U(+-1/sqrt(k E)) for weight and bias (nn.Conv2d) */
} loom_textcnn_opts;

/* Widths 3, 4, 5 (Kim 2014), F filters each, PyTorch's init. */
loom_textcnn_opts loom_textcnn_opts_default(int input_size, int filters);

/* x (N, T, E), lengths int32 (N) or NULL → (N, n_widths · F): [relu(max_t conv_k0), relu(max_t conv_k1), ...]. */
loom_tensor *loom_layer_textcnn(loom_graph *g, const char *prefix, loom_tensor *x, loom_tensor *lengths,
                                const loom_textcnn_opts *opts, loom_rng *rng);

#ifdef __cplusplus
}
#endif
#endif
