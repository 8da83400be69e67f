/* history.c — pooling of the user's behaviour history (history_pool.h), from existing ops only
 * (gather, matmul, softmax, seq mean), so its gradients are theirs (each gradient-checked in
 * tests/test_autograd.c); test_history checks the whole model learns from histories. */
#include "history_pool.h"

#include <math.h>

#include "loom/seq_pool.h"

loom_tensor *loom_history_pool(loom_graph *g, loom_tensor *item_w, loom_tensor *cand, loom_tensor *hist,
                               loom_tensor *aux, int L, int D, bool attention) {
  loom_tensor *h = loom_gather(g, item_w, hist, 0); /* (B, L, D); padding (0) reads as zeros */
  if (!attention) {
    loom_seq_pool_opts so = loom_seq_pool_opts_default(LOOM_SEQ_POOL_MEAN, L, D);
    return loom_layer_seq_pool(g, "interaction.history", h, aux, NULL, &so);
  }
  loom_tensor *c = loom_reshape(g, cand, 3, (int[]){-1, 1, D});                 /* (B, 1, D) */
  loom_tensor *s = loom_scale(g, loom_matmul(g, c, h, false, true), 1.0f / sqrtf((float)D), 0.0f); /* (B, 1, L) */
  loom_tensor *a = loom_softmax(g, loom_add(g, s, aux));                         /* (B, 1, L) */
  return loom_reshape(g, loom_matmul(g, a, h, false, false), 2, (int[]){-1, D}); /* (B, D) */
}

void loom_history_aux(const int32_t *len, int B, int L, bool attention, float *aux) {
  for (int i = 0; i < B; i++) {
    if (!attention) {
      aux[i] = 1.0f / (float)(len[i] > 0 ? len[i] : 1);
      continue;
    }
    for (int l = 0; l < L; l++) aux[(size_t)i * L + l] = l < len[i] || len[i] == 0 ? 0.0f : -1e30f;
  }
}
