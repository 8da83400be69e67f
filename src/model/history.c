/* history.c — pooling of the user's behaviour history (history_pool.h), from existing ops only
 * (matmul, softmax, seq mean, concat, sub, mul, dense), so its gradients are theirs (each
 * gradient-checked in tests/test_autograd.c); test_history checks the whole model (gradients included)
 * and test_history_auc that it learns from histories. Where the history vectors come from (the ID
 * table, the text tower) is model.c's business. */
#include "history_pool.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "loom/dense.h"
#include "loom/seq_pool.h"

loom_tensor *loom_history_pool(loom_graph *g, const char *prefix, loom_tensor *h, loom_tensor *cand, loom_tensor *aux,
                               int L, int D, loom_hist_pool mode, int hidden, loom_init_kind init, loom_rng *rng) {
  char name[LOOM_NAME_MAX];
  if (mode == LOOM_HIST_MEAN) {
    loom_seq_pool_opts so = loom_seq_pool_opts_default(LOOM_SEQ_POOL_MEAN, L, D);
    return loom_layer_seq_pool(g, prefix, h, aux, NULL, &so); /* (B, D) */
  }
  loom_tensor *c = loom_reshape(g, cand, 3, (int[]){-1, 1, D}); /* (B, 1, D) */
  loom_tensor *a;                                               /* (B, 1, L) weights */
  if (mode == LOOM_HIST_ATTENTION) {
    loom_tensor *s = loom_scale(g, loom_matmul(g, c, h, false, true), 1.0f / sqrtf((float)D), 0.0f); /* (B, 1, L) */
    a = loom_softmax(g, loom_add(g, s, aux));
  } else {
    /* DIN's activation unit: [h_l, c, h_l − c, h_l ⊙ c] (B·L, 4D) -> relu(hidden) -> 1, unnormalised */
    loom_tensor *cb = loom_add(g, loom_scale(g, h, 0.0f, 0.0f), c); /* c broadcast to (B, L, D) */
    loom_tensor *u = loom_concat(g, 4, (loom_tensor *[]){h, cb, loom_sub(g, h, c), loom_mul(g, h, c)});
    u = loom_reshape(g, u, 2, (int[]){-1, 4 * D}); /* (B·L, 4D) */
    loom_dense_opts o1 = {.in_features = 4 * D, .units = hidden, .activation = LOOM_ACT_RELU, .init = init};
    snprintf(name, sizeof name, "%s.din1", prefix);
    u = loom_layer_dense(g, name, u, &o1, rng); /* (B·L, hidden) */
    loom_dense_opts o2 = {.in_features = hidden, .units = 1, .init = init};
    snprintf(name, sizeof name, "%s.din2", prefix);
    a = loom_reshape(g, loom_layer_dense(g, name, u, &o2, rng), 3, (int[]){-1, 1, L}); /* (B, 1, L) */
  }
  return loom_reshape(g, loom_matmul(g, a, h, false, false), 2, (int[]){-1, D}); /* (B, D) */
}

int loom_history_aux_ndim(loom_hist_pool mode) { return mode == LOOM_HIST_MEAN ? 2 : mode == LOOM_HIST_ATTENTION ? 3 : 0; }

void loom_history_aux(const int32_t *len, int B, int L, loom_hist_pool mode, float *aux) {
  for (int i = 0; i < B && mode != LOOM_HIST_DIN; i++) {
    if (mode == LOOM_HIST_MEAN) {
      aux[i] = 1.0f / (float)(len[i] > 0 ? len[i] : 1);
      continue;
    }
    for (int l = 0; l < L; l++) aux[(size_t)i * L + l] = l < len[i] || len[i] == 0 ? 0.0f : -1e30f;
  }
}

void loom_history_valid(const int32_t *len, int B, int L, float *valid) {
  for (int i = 0; i < B; i++)
    for (int l = 0; l < L; l++) valid[(size_t)i * L + l] = l < len[i] ? 1.0f : 0.0f;
}
