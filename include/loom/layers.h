/* loom/layers.h — what every layer builder shares, and the convention they all follow. A layer is a
 * graph builder, not an object:
 *
 *   loom_<name>_opts o = loom_<name>_opts_default(...);   // the framework's defaults, then overrides
 *   loom_tensor *y = loom_layer_<name>(g, "prefix", x, &o, rng);
 *
 * It takes the graph, a name prefix, its input tensor(s) (x, then any side input such as the LSTM's
 * lengths), its options and a loom_rng for initialisation (layers without parameters take no rng),
 * creates its parameters named as PyTorch names them (`<prefix>.weight`, ...) and returns its output.
 * Layers: dense.h, embedding.h, lstm.h, gru.h, textcnn.h, conv.h (conv2d, pools), norm.h, seq_pool.h. The ops they wire
 * are in graph.h and ops_*.h; initialisers (one enum, loom_init_kind, for every layer's opts.init)
 * are in init.h. */
#ifndef LOOM_LAYERS_H
#define LOOM_LAYERS_H

#include "loom/graph.h"
#include "loom/init.h"
#include "loom/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The activation a layer applies to its output (dense, conv2d, and model builders between layers). */
typedef enum {
  LOOM_ACT_NONE = 0, /* y = x */
  LOOM_ACT_RELU,     /* y = max(x, 0) */
  LOOM_ACT_SIGMOID,  /* y = 1 / (1 + e^-x) */
  LOOM_ACT_TANH,     /* y = tanh x */
  LOOM_ACT_GELU,     /* y = x Phi(x) (exact) */
} loom_activation;

/* "none" (or Keras' "linear"), "relu", "sigmoid", "tanh", "gelu" -> *out and 0; -1 for any other name
 * (*out untouched): the caller reports it, there is no fallback. */
int loom_activation_parse(const char *name, loom_activation *out);
/* The name loom_activation_parse reads back ("none" for LOOM_ACT_NONE); "?" outside the enum. */
const char *loom_activation_name(loom_activation act);
/* y = act(x): one op node, or x itself for LOOM_ACT_NONE. */
loom_tensor *loom_activate(loom_graph *g, loom_tensor *x, loom_activation act);

#ifdef __cplusplus
}
#endif
#endif
