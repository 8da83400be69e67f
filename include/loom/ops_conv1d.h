/* loom/ops_conv1d.h — the TextCNN block as one op: a 1-D convolution of width k over a sequence of
 * vectors, max over the valid windows of each sequence, then an optional ReLU. Implemented in
 * src/autograd/ops_conv1d.c; the layer that creates and names its parameters is loom/textcnn.h. */
#ifndef LOOM_OPS_CONV1D_H
#define LOOM_OPS_CONV1D_H

#include <stdbool.h>

#include "loom/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

/* y[n, f] = act(max_{t < P_n} (b[f] + sum_{i < k, e} w[f, 0, i, e] x[n, t + i, e])),  act = ReLU or identity,
 * with x (N, T, E), w (F, 1, k, E) (torch.nn.Conv2d(1, F, (k, E)) over x as (N, 1, T, E)), b (F) or NULL,
 * lengths int32 (N) or NULL (all T), and P_n = max(len_n - k + 1, 1): the windows inside the valid
 * tokens, or the first window when the text is shorter than k. Needs T >= k. Backward routes each
 * output's gradient to its first maximising window. Output (N, F). */
loom_tensor *loom_conv1d_max(loom_graph *g, loom_tensor *x, loom_tensor *lengths, loom_tensor *w, loom_tensor *b,
                             bool relu);

#ifdef __cplusplus
}
#endif
#endif
