/* history_pool.h — the user-history vector of a pointwise model (src/model/history.c): the items of
 * the user's earlier interactions ([data] history_len) looked up in the item ID embedding shared with
 * the candidate item, pooled by [interaction] history_pooling. Private to src/model. */
#ifndef LOOM_MODEL_HISTORY_POOL_H
#define LOOM_MODEL_HISTORY_POOL_H

#include <stdbool.h>
#include <stdint.h>

#include "loom/graph.h"

/* item_w (I, D) the item embedding table; cand (B, D) the candidate's embedding; hist (B, L) i32 item
 * indices, 0-padded; aux: mean (B, 1) 1 / max(len, 1), attention (B, 1, L) 0 at valid entries and
 * -1e30 at padding (all 0 for an empty history). Returns (B, D): mean = the mean of the valid entries'
 * embeddings; attention = softmax_l(c·h_l / sqrt(D) + mask_l)-weighted sum of them (DIN-style target
 * attention, scaled dot product). An empty history gives zeros either way (padding rows read as 0). */
loom_tensor *loom_history_pool(loom_graph *g, loom_tensor *item_w, loom_tensor *cand, loom_tensor *hist,
                               loom_tensor *aux, int L, int D, bool attention);
/* Fills aux (as above) for B rows from their history lengths. */
void loom_history_aux(const int32_t *len, int B, int L, bool attention, float *aux);

#endif
