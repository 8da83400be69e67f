/* loom/ops_gru.h — the fused GRU sequence op (one direction of one layer over a whole sequence),
 * implemented in src/autograd/ops_gru.c. Gate order (r, z, n) and two biases as in PyTorch. The
 * layer builder (stacking, directions, dropout, initialisation, parameter names) is in loom/gru.h. */
#ifndef LOOM_OPS_GRU_H
#define LOOM_OPS_GRU_H

#include <stdbool.h>

#include "loom/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The op: one direction of one layer. Per active step s of sample b (tau = s, or len-1-s reversed):
 *   r = σ(W_ir x + b_ir + W_hr h + b_hr);  z = σ(W_iz x + b_iz + W_hz h + b_hz);
 *   n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn));  h' = (1 − z) ⊙ n + z ⊙ h
 * x (B, T, E), lengths int32 (B) or NULL (all T), W_ih (3H, E), W_hh (3H, H), b_ih, b_hh (3H).
 * Output (B, T, H) with h at tau (zero elsewhere) when return_sequences, else (B, H), the state after
 * step len-1 (zero for len 0). */
loom_tensor *loom_gru_seq(loom_graph *g, loom_tensor *x, loom_tensor *lengths, loom_tensor *w_ih, loom_tensor *w_hh,
                          loom_tensor *b_ih, loom_tensor *b_hh, bool reverse, bool return_sequences);

#ifdef __cplusplus
}
#endif
#endif
