/* loom/transformer.h — a pre-LN Transformer encoder (torch.nn.TransformerEncoder over
 * nn.TransformerEncoderLayer(norm_first=True, batch_first=True)) as a graph builder over the fused
 * self-attention op of loom/ops_attention.h. Parameters are named as PyTorch's state_dict names them:
 * <prefix>.layers.<i>.self_attn.in_proj_weight, .self_attn.out_proj.weight, .linear1.weight, .norm1.weight,
 * ..., <prefix>.norm.weight (the final norm) and <prefix>.pos_embedding (learned positions). */
#ifndef LOOM_TRANSFORMER_H
#define LOOM_TRANSFORMER_H

#include <stdbool.h>

#include "loom/graph.h"
#include "loom/init.h"
#include "loom/layers.h"
#include "loom/ops_attention.h"
#include "loom/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  LOOM_POS_NONE = 0,    /* x as given */
  LOOM_POS_LEARNED,     /* + <prefix>.pos_embedding (max_len, D), N(0, 0.02²) */
  LOOM_POS_SINUSOIDAL,  /* + PE[t, 2i] = sin(t / 10000^(2i/D)), PE[t, 2i+1] = cos(...), a buffer <prefix>.pos_encoding */
} loom_pos_kind;

typedef struct loom_transformer_opts {
  int d_model;                /* D: x's last dim */
  int heads;                  /* must divide D */
  int ff_dim;                 /* the feed-forward's hidden size */
  int layers;                 /* stacked encoder layers (0 means 1) */
  loom_activation activation; /* of the feed-forward: LOOM_ACT_RELU or LOOM_ACT_GELU */
  float dropout;              /* after attention, inside and after the feed-forward (training only; the
                               * attention weights themselves are not dropped) */
  loom_pos_kind positions;
  int max_len;                /* T: the positions' table size (the graph knows shapes only at compile) */
  bool final_norm;            /* a LayerNorm <prefix>.norm after the last layer (pre-LN's usual end) */
  float eps;                  /* LayerNorm eps, 1e-5 */
  loom_init_kind init;        /* TORCH_DEFAULT: PyTorch's (xavier-uniform in_proj, zero attention biases, Linear
                               * defaults elsewhere); KERAS_DEFAULT (zero value): Glorot-uniform kernels, zero biases */
} loom_transformer_opts;

/* D, 4 heads (1 if 4 does not divide D), ff_dim 4·D, 1 layer, ReLU, no dropout, sinusoidal positions over
 * max_len, a final norm, eps 1e-5, PyTorch's init. */
loom_transformer_opts loom_transformer_opts_default(int d_model, int max_len);

/* N pre-LN layers over x (B, T, D), T <= max_len:  h = x + Drop(MHA(LN1(x)));  y = h + Drop(W2 Drop(act(W1 LN2(h) + b1)) + b2),
 * keys at t >= lengths[b] masked (lengths int32 (B), NULL = all T). Returns (B, T, D); rows at padded steps
 * are computed (as PyTorch's) but mean nothing: mask them before pooling. */
loom_tensor *loom_layer_transformer(loom_graph *g, const char *prefix, loom_tensor *x, loom_tensor *lengths,
                                    const loom_transformer_opts *opts, loom_rng *rng);

#ifdef __cplusplus
}
#endif
#endif
