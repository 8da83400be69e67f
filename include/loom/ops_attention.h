/* loom/ops_attention.h — fused multi-head self-attention (torch.nn.MultiheadAttention's maths and
 * parameter layout, batch_first, key padding mask from the lengths), implemented in
 * src/autograd/ops_attention.c. The encoder layer around it (norms, FFN, residuals) is a layer's job. */
#ifndef LOOM_OPS_ATTENTION_H
#define LOOM_OPS_ATTENTION_H

#include "loom/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

/* x (B, T, D), lengths int32 (B) or NULL (all T), w_in (3D, D) = [W_q; W_k; W_v], b_in (3D), w_out (D, D),
 * b_out (D), D = heads · dh. Per sample b and head h, keys j >= len_b are masked:
 *   [Q K V] = x W_inᵀ + b_in;  P_h = softmax_j(Q_h K_hᵀ / sqrt(dh));  O = [P_1 V_1, ..., P_H V_H];
 *   y = O W_outᵀ + b_out   (B, T, D).
 * Every query row (padded ones too) attends to the valid keys, as PyTorch's key_padding_mask does; a
 * sample of length 0 has no key and gets O = 0 (PyTorch gives NaN there). No dropout on P. */
loom_tensor *loom_mha(loom_graph *g, loom_tensor *x, loom_tensor *lengths, loom_tensor *w_in, loom_tensor *b_in,
                      loom_tensor *w_out, loom_tensor *b_out, int heads);

#ifdef __cplusplus
}
#endif
#endif
