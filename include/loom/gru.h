/* loom/gru.h — the GRU layer (torch.nn.GRU) as a graph builder over the fused sequence op of
 * loom/ops_gru.h. Gate order (r, z, n) and two biases as in PyTorch, so weights interchange with
 * torch.nn.GRU (weight_ih_l0 (3H, E), weight_hh_l0 (3H, H), bias_ih_l0 (3H), bias_hh_l0 (3H), "_reverse"
 * for the backward direction, l1 for the second layer). */
#ifndef LOOM_GRU_H
#define LOOM_GRU_H

#include <stdbool.h>

#include "loom/graph.h"
#include "loom/layers.h"
#include "loom/ops_gru.h"
#include "loom/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct loom_gru_opts {
  int input_size;        /* E: size of x's last dim */
  int hidden;            /* H */
  int layers;            /* stacked layers (0 means 1) */
  bool bidirectional;    /* a second direction over each sequence's valid part reversed; outputs [fwd, bwd] */
  bool return_sequences; /* true: every state (B, T, D·H), zero at padded steps; false: the last (B, D·H) */
  float dropout;         /* between stacked layers (on the intermediate sequence), training only */
  loom_init_kind init;   /* TORCH_DEFAULT: U(+-1/sqrt(H)) for every weight and bias (nn.GRU);
                          * KERAS_DEFAULT (the zero value): Glorot-uniform W_ih, orthogonal W_hh, zero biases
                          * (keras GRU); another kind: W_ih from it, the rest as KERAS_DEFAULT */
} loom_gru_opts;

/* One layer, one direction, last state only, no dropout, PyTorch's init. */
loom_gru_opts loom_gru_opts_default(int input_size, int hidden);

/* GRU over x (B, T, E); `lengths` (int32 (B), may be NULL = all T) masks post-padding exactly like
 * packed sequences: padded steps neither update the state nor get gradient, and the last state is the
 * state after step len-1. Parameters are named <prefix>.weight_ih_l0 and so on (see above). */
loom_tensor *loom_layer_gru(loom_graph *g, const char *prefix, loom_tensor *x, loom_tensor *lengths,
                            const loom_gru_opts *opts, loom_rng *rng);

#ifdef __cplusplus
}
#endif
#endif
