/* interact.c — the feature-interaction builders of loom/interact.h, composed from existing ops: the
 * cross network from Dense + mul + add; pairwise dots from one batched matmul V V^T (B, n, n) whose
 * strict upper triangle is sliced row by row (n - 1 slices); field attention from Dense, softmax and a
 * batched matmul. No new op, so nothing here needs its own backward. */
#include "loom/interact.h"

#include <assert.h>
#include <stdio.h>

#include "loom/dense.h"

loom_cross_opts loom_cross_opts_default(int in_features, int layers) {
  return (loom_cross_opts){.in_features = in_features, .layers = layers, .init = LOOM_INIT_KERAS_DEFAULT};
}

loom_field_attention_opts loom_field_attention_opts_default(int fields, int dim) {
  return (loom_field_attention_opts){.fields = fields, .dim = dim, .init = LOOM_INIT_KERAS_DEFAULT};
}

loom_tensor *loom_layer_cross(loom_graph *g, const char *prefix, loom_tensor *x0, const loom_cross_opts *o,
                              loom_rng *rng) {
  assert(o->in_features > 0 && o->layers >= 1 && "cross: in_features and layers must be >= 1");
  loom_tensor *x = x0; // (B, d)
  for (int l = 0; l < o->layers; l++) {
    char name[LOOM_NAME_MAX];
    snprintf(name, sizeof name, "%s.cross%d", prefix, l);
    loom_dense_opts d = loom_dense_opts_default(o->in_features, o->in_features);
    d.init = o->init;
    loom_tensor *xw = loom_layer_dense(g, name, x, &d, rng); // (B, d) W_l x_l + b_l
    x = loom_add(g, loom_mul(g, x0, xw), x);                  // x0 ⊙ (W_l x_l + b_l) + x_l
  }
  return x;
}

loom_tensor *loom_pairwise_dot(loom_graph *g, loom_tensor *fields, int n, int D) {
  assert(n >= 2 && D >= 1 && "pairwise_dot: needs two fields or more");
  loom_tensor *gram = loom_matmul(g, fields, fields, false, true); // (B, n, n) <v_i, v_j>
  loom_tensor *flat = loom_reshape(g, gram, 2, (int[]){-1, n * n}); // (B, n·n)
  loom_tensor *rows[64];
  assert(n - 1 <= 64);
  for (int i = 0; i < n - 1; i++) rows[i] = loom_slice(g, flat, i * n + i + 1, n - 1 - i); // (B, n-1-i): j > i
  return n == 2 ? rows[0] : loom_concat(g, n - 1, rows); // (B, n(n-1)/2)
}

loom_tensor *loom_layer_field_attention(loom_graph *g, const char *prefix, loom_tensor *fields,
                                        const loom_field_attention_opts *o, loom_rng *rng) {
  int n = o->fields, D = o->dim;
  assert(n >= 1 && D >= 1);
  char name[LOOM_NAME_MAX];
  snprintf(name, sizeof name, "%s.attention", prefix);
  loom_dense_opts h = loom_dense_opts_default(D, D);
  h.activation = LOOM_ACT_TANH, h.init = o->init;
  loom_tensor *e = loom_layer_dense(g, name, fields, &h, rng); // (B, n, D) tanh(W v_i + b)
  snprintf(name, sizeof name, "%s.score", prefix);
  loom_dense_opts s = loom_dense_opts_default(D, 1);
  s.no_bias = true, s.init = o->init;
  loom_tensor *sc = loom_reshape(g, loom_layer_dense(g, name, e, &s, rng), 2, (int[]){-1, n}); // (B, n)
  loom_tensor *a = loom_reshape(g, loom_softmax(g, sc), 3, (int[]){-1, 1, n});                 // (B, 1, n)
  return loom_reshape(g, loom_matmul(g, a, fields, false, false), 2, (int[]){-1, D});         // (B, D)
}
