/* loom/lstm.h — the LSTM layer (torch.nn.LSTM / keras LSTM) as a graph builder over the fused
 * sequence op of loom/ops_lstm.h. Gate order (i, f, g, o) and two biases as in PyTorch, so weights
 * interchange with torch.nn.LSTM (weight_ih_l0 (4H, E), weight_hh_l0 (4H, H), bias_ih_l0 (4H),
 * bias_hh_l0 (4H), "_reverse" for the backward direction, l1 for the second layer). */
#ifndef LOOM_LSTM_H
#define LOOM_LSTM_H

#include <stdbool.h>

#include "loom/graph.h"
#include "loom/layers.h"
#include "loom/ops_lstm.h"
#include "loom/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct loom_lstm_opts {
  int input_size;          /* E: size of x's last dim */
  int hidden;              /* H */
  int layers;              /* stacked layers (0 means 1) */
  bool bidirectional;      /* a second direction over each sequence's valid part reversed; outputs [fwd, bwd] */
  bool return_sequences;   /* true: every state (B, T, D·H), zero at padded steps; false: the last (B, D·H) */
  float dropout;           /* between stacked layers (on the intermediate sequence), training only */
  float recurrent_dropout; /* Keras-style: mask on h_{t-1}, fixed across steps per sequence, training only */
  loom_init_kind init;     /* KERAS_DEFAULT (zero value): Glorot-uniform W_ih, orthogonal W_hh, zero biases but
                            * bias_ih forget gate = 1;  TORCH_DEFAULT: U(+-1/sqrt(H)) for all;  another
                            * kind: W_ih from it (Keras' kernel_initializer), the rest as KERAS_DEFAULT */
} loom_lstm_opts;

/* One layer, one direction, last state only, no dropout, Keras' init. */
loom_lstm_opts loom_lstm_opts_default(int input_size, int hidden);

/* LSTM over x (B, T, E); `lengths` (int32 (B), may be NULL = all T) masks post-padding exactly like
 * packed sequences: padded steps neither update the state nor get gradient, and the last state is the
 * state after step len-1. Parameters are named <prefix>.weight_ih_l0 and so on (see above). */
loom_tensor *loom_layer_lstm(loom_graph *g, const char *prefix, loom_tensor *x, loom_tensor *lengths,
                             const loom_lstm_opts *opts, loom_rng *rng);

#ifdef __cplusplus
}
#endif
#endif
