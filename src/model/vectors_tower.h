/* vectors_tower.h — the tower over precomputed feature vectors ([data] item_vectors / user_vectors,
 * src/model/vectors.c): the vector as it is, or through [vectors] dense layers. Private to src/model. */
#ifndef LOOM_MODEL_VECTORS_TOWER_H
#define LOOM_MODEL_VECTORS_TOWER_H

#include "loom/config.h"
#include "loom/graph.h"
#include "loom/init.h"
#include "loom/rng.h"

/* x (B, D) → prefix.dense0.. (units [vectors] dense, activation [vectors] activation, dropout [vectors]
 * dropout after each) → (B, *dim); with [vectors] dense empty, x itself (*dim = D). */
loom_tensor *loom_vectors_tower(loom_graph *g, const loom_config *c, const char *prefix, loom_tensor *x, int D,
                                loom_init_kind init, loom_rng *rng, int *dim);

#endif
