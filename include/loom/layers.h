/* loom/layers.h — what the layer builders (dense.h, embedding.h, lstm.h) share: the activation
 * choice and the initialisation convention. Layers are graph builders: each takes the graph, a
 * name prefix, its input tensor(s), an options struct and a loom_rng for initialisation, creates its
 * parameters (named as PyTorch names them) and returns its output tensor. */
#ifndef LOOM_LAYERS_H
#define LOOM_LAYERS_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  LOOM_ACT_NONE = 0, /* y = x */
  LOOM_ACT_RELU,     /* y = max(x, 0) */
  LOOM_ACT_SIGMOID,  /* y = 1 / (1 + e^-x) */
  LOOM_ACT_TANH,     /* y = tanh x */
  LOOM_ACT_GELU,     /* y = x Phi(x) (exact) */
} loom_activation;

/* Whose default initialisation a layer copies (the two frameworks users port models from). */
typedef enum {
  LOOM_INIT_STYLE_KERAS = 0, /* Glorot-uniform kernels, orthogonal recurrent kernels, zero biases */
  LOOM_INIT_STYLE_TORCH,     /* U(+-1/sqrt(fan_in)) weights and biases; N(0, 1) embeddings */
} loom_init_style;

#ifdef __cplusplus
}
#endif
#endif
