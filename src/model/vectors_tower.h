/* vectors_tower.h — the tower over precomputed feature vectors ([data] item_vectors / user_vectors,
 * src/model/vectors.c): the vector as it is, or through [vectors] dense layers. Private to src/model. */
#ifndef LOOM_MODEL_VECTORS_TOWER_H
#define LOOM_MODEL_VECTORS_TOWER_H

#include "loom/graph.h"
#include "loom/init.h"
#include "loom/rng.h"

/* x (B, D) → prefix.dense0.. (units v->dense, activation v->activation, dropout v->dropout after each:
 * the [vectors] keys) → (B, *dim); with [vectors] dense empty, x itself (*dim = D). */
struct loom_vectors_spec;
loom_tensor *loom_vectors_tower(loom_graph *g, const struct loom_vectors_spec *v, const char *prefix, loom_tensor *x, int D,
                                loom_init_kind init, loom_rng *rng, int *dim);

#endif
