/* loom/ops_lstm.h — the fused LSTM sequence op (one direction of one layer over a whole sequence),
 * implemented in src/autograd/ops_lstm.c. Gate order (i, f, g, o) and two biases as in PyTorch. The
 * layer builder (stacking, directions, dropout, initialisation, parameter names) is in loom/lstm.h. */
#ifndef LOOM_OPS_LSTM_H
#define LOOM_OPS_LSTM_H

#include <stdbool.h>

#include "loom/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The op: one direction of one layer. Per active step s of sample b (tau = s, or len-1-s reversed):
 *   [i f g o] = [σ σ tanh σ](x_tau W_ihᵀ + b_ih + (h_{s-1} ⊙ m) W_hhᵀ + b_hh);  c = f c + i g;  h = o tanh c
 * with m the recurrent dropout mask (1 in eval). x (B, T, E), lengths int32 (B) or NULL (all T),
 * W_ih (4H, E), W_hh (4H, H), b_ih, b_hh (4H). Output (B, T, H) with h at tau (zero elsewhere) when
 * return_sequences, else (B, H), the state after step len-1. */
loom_tensor *loom_lstm_seq(loom_graph *g, loom_tensor *x, loom_tensor *lengths, loom_tensor *w_ih, loom_tensor *w_hh,
                           loom_tensor *b_ih, loom_tensor *b_hh, bool reverse, bool return_sequences,
                           float recurrent_dropout);

#ifdef __cplusplus
}
#endif
#endif
