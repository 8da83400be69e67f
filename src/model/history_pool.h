/* history_pool.h — the user-history vector of a pointwise model (src/model/history.c): the items of
 * the user's earlier interactions ([data] history_len), represented by the item ID embedding shared with
 * the candidate item and/or by the item text tower shared with the candidate's text
 * ([interaction] history_content), pooled by [interaction] history_pooling. Private to src/model. */
#ifndef LOOM_MODEL_HISTORY_POOL_H
#define LOOM_MODEL_HISTORY_POOL_H

#include <stdbool.h>
#include <stdint.h>

#include "loom/graph.h"
#include "loom/init.h"
#include "loom/rng.h"

typedef enum {
  LOOM_HIST_MEAN = 0,  /* mean of the valid entries */
  LOOM_HIST_ATTENTION, /* softmax_l(c·h_l / sqrt(D) + mask_l)-weighted sum (scaled dot-product target attention) */
  LOOM_HIST_DIN,       /* sum_l w_l h_l, w_l = MLP([h_l, c, h_l − c, h_l ⊙ c]) (DIN's activation unit, no softmax) */
} loom_hist_pool;

/* interaction.history_pooling arrives as this enum through loom_model_spec (loom_history_pooling, equal values). */

/* The history vectors h (B, L, D), zero at padding, pooled against the candidate's vector cand (B, D)
 * of the same space. aux: mean (B, 1) 1 / max(len, 1); attention (B, 1, L) 0 at valid entries, -1e30 at
 * padding (all 0 for an empty history, whose zero rows then average to 0); din: NULL (padding is zero,
 * so its weight multiplies nothing). din's MLP: <prefix>.din1 (4D -> hidden, relu), <prefix>.din2
 * (hidden -> 1). Returns (B, D); zeros for an empty history. */
loom_tensor *loom_history_pool(loom_graph *g, const char *prefix, loom_tensor *h, loom_tensor *cand, loom_tensor *aux,
                               int L, int D, loom_hist_pool mode, int hidden, loom_init_kind init, loom_rng *rng);

/* aux's rank for a mode: 2 (mean), 3 (attention), 0 (din: no aux). */
int loom_history_aux_ndim(loom_hist_pool mode);
/* Fills aux (as above) for B rows from their history lengths (nothing for din). */
void loom_history_aux(const int32_t *len, int B, int L, loom_hist_pool mode, float *aux);
/* valid (B, L): 1 at the first len[i] entries of row i, 0 after (zeroes vectors that are not zero at
 * padding, such as a text tower's output for an empty text). */
void loom_history_valid(const int32_t *len, int B, int L, float *valid);

#endif
