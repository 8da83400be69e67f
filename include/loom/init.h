/* loom/init.h — parameter initialisers, each drawing from a caller-owned loom_rng, and the one enum
 * that every layer's opts.init takes. fan_in / fan_out follow PyTorch's convention for a weight of
 * shape (out, in, k...): fan_in = in * prod(k), fan_out = out * prod(k). Keras' defaults are
 * Glorot-uniform kernels, orthogonal recurrent kernels, zero biases and a unit forget-gate bias for
 * LSTMs. */
#ifndef LOOM_INIT_H
#define LOOM_INIT_H

#include <stdbool.h>

#include "loom/graph.h"
#include "loom/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

/* As a layer's opts.init (see each layer for the details): KERAS_DEFAULT (the zero value) and
 * TORCH_DEFAULT are what that framework does for the whole layer (weights and biases); any other kind
 * initialises the layer's (input) kernel, with Keras' choice for the rest (zero biases, orthogonal
 * W_hh and a unit forget bias in an LSTM). Kinds that need an arg (CONSTANT, UNIFORM, NORMAL) are not
 * layer inits: fill such a parameter with loom_init_tensor after building the layer. */
typedef enum {
  LOOM_INIT_KERAS_DEFAULT = 0, /* a layer: Keras' defaults for it; a fill: Glorot-uniform (Keras' kernel default) */
  LOOM_INIT_ZEROS,
  LOOM_INIT_ONES,
  LOOM_INIT_CONSTANT,        /* value = arg */
  LOOM_INIT_UNIFORM,         /* U(-arg, arg) */
  LOOM_INIT_NORMAL,          /* N(0, arg^2) */
  LOOM_INIT_GLOROT_UNIFORM,  /* U(-a, a), a = sqrt(6 / (fan_in + fan_out))   (Keras default) */
  LOOM_INIT_GLOROT_NORMAL,   /* N(0, 2 / (fan_in + fan_out)) */
  LOOM_INIT_HE_UNIFORM,      /* U(-a, a), a = sqrt(6 / fan_in)                (Kaiming, ReLU) */
  LOOM_INIT_HE_NORMAL,       /* N(0, 2 / fan_in) */
  LOOM_INIT_TORCH_DEFAULT,   /* U(-1/sqrt(fan_in), 1/sqrt(fan_in)): torch Linear/Conv weight+bias, LSTM (fan_in = hidden);
                              * a layer: PyTorch's defaults for it (N(0, 1) for an Embedding) */
  LOOM_INIT_ORTHOGONAL,      /* rows (or columns) orthonormal, times gain = arg (0 means 1) (Keras recurrent) */
} loom_init_kind;

typedef struct loom_init {
  loom_init_kind kind;
  float arg;
} loom_init;

void loom_fans(const loom_tensor *w, int *fan_in, int *fan_out);
/* Fill x (n floats, viewed as rows x cols for orthogonal) per `init` with the given fans. */
void loom_init_fill(float *x, int rows, int cols, int fan_in, int fan_out, loom_init init, loom_rng *rng);
/* Fill a parameter with its own fans (from its shape). */
void loom_init_tensor(loom_tensor *w, loom_init init, loom_rng *rng);
/* "keras", "torch", "glorot_uniform", "he_normal", "orthogonal", "zeros", ... -> kind; -1 if unknown. */
int loom_init_parse(const char *name, loom_init_kind *kind);
const char *loom_init_name(loom_init_kind kind);
/* Whether `kind` reads loom_init.arg (CONSTANT, UNIFORM, NORMAL): such kinds are refused as a layer's init. */
bool loom_init_kind_takes_arg(loom_init_kind kind);

#ifdef __cplusplus
}
#endif
#endif
