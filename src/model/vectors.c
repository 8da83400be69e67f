/* vectors.c — the tower over precomputed feature vectors (vectors_tower.h). The vectors come from the
 * batch (the dataset gathers them, loom/vectors.h); this only builds the optional dense layers, named
 * item_vectors.dense<i> / user_vectors.dense<i> as torch.nn.Linear would be. */
#include <stdio.h>
#include <string.h>

#include "loom/dense.h"
#include "loom/layers.h"
#include "loom/model_spec.h"
#include "vectors_tower.h"

loom_tensor *loom_vectors_tower(loom_graph *g, const loom_vectors_spec *v, const char *prefix, loom_tensor *x, int D,
                                loom_init_kind init, loom_rng *rng, int *dim) {
  const int *units = v->dense, n = v->n_dense;
  const loom_activation a = v->activation;
  const float drop = v->dropout;
  *dim = D;
  for (int i = 0; i < n; i++) { // (B, *dim) -> (B, units[i])
    char name[LOOM_NAME_MAX];
    snprintf(name, sizeof name, "%s.dense%d", prefix, i);
    loom_dense_opts o = {.in_features = *dim, .units = units[i], .activation = a, .init = init};
    x = loom_layer_dense(g, name, x, &o, rng);
    *dim = units[i];
    if (drop > 0) x = loom_dropout(g, x, drop);
  }
  return x;
}
