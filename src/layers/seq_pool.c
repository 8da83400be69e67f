/* seq_pool.c — the sequence-pooling layer (loom/seq_pool.h): mean or max over the valid steps of
 * (N, T, D) states, built from core ops (sum and a broadcast multiply; an add of the mask and a T x 1
 * max-pool over (N, 1, T, D)). It leaves the per-sequence inputs (1 / length, the mask) to the caller,
 * who fills them from the batch. */
#include "loom/seq_pool.h"

#include <assert.h>
#include <string.h>

#include "loom/ops_conv.h"

static const char *const pool_names[] = {
    [LOOM_SEQ_POOL_LAST] = "last", [LOOM_SEQ_POOL_MEAN] = "mean", [LOOM_SEQ_POOL_MAX] = "max"};
_Static_assert(sizeof pool_names / sizeof pool_names[0] == LOOM_SEQ_POOL_MAX + 1, "a name for every pooling mode");

loom_seq_pool_opts loom_seq_pool_opts_default(loom_seq_pool_mode mode, int steps, int features) {
  return (loom_seq_pool_opts){.mode = mode, .steps = steps, .features = features};
}

int loom_seq_pool_parse(const char *name, loom_seq_pool_mode *out) {
  for (size_t i = 0; name && i < sizeof pool_names / sizeof pool_names[0]; i++)
    if (strcmp(name, pool_names[i]) == 0) {
      *out = (loom_seq_pool_mode)i;
      return 0;
    }
  return -1;
}

const char *loom_seq_pool_name(loom_seq_pool_mode mode) {
  return mode >= 0 && (size_t)mode < sizeof pool_names / sizeof pool_names[0] ? pool_names[mode] : "?";
}

loom_tensor *loom_layer_seq_pool(loom_graph *g, const char *prefix, loom_tensor *x, loom_tensor *inv_len,
                                 loom_tensor *mask, const loom_seq_pool_opts *o) {
  const int T = o->steps, D = o->features;
  loom_tensor *y;
  switch (o->mode) {
  case LOOM_SEQ_POOL_LAST: return x;
  case LOOM_SEQ_POOL_MEAN:
    /* padded steps are zero, so the mean over valid steps is sum / length */
    y = inv_len ? loom_mul(g, loom_sum(g, x, 1, false), inv_len) : loom_mean(g, x, 1, false); // (N, D)
    break;
  case LOOM_SEQ_POOL_MAX:
    assert(T > 0 && D > 0 && "seq_pool max: steps and features must be > 0");
    /* padding pushed to -1e30, then a (T x 1) max-pool over (N, 1, T, D) */
    if (mask) x = loom_add(g, x, loom_reshape(g, mask, 3, (int[]){-1, T, 1}));
    y = loom_reshape(g, x, 4, (int[]){-1, 1, T, D});
    y = loom_maxpool2d(g, y, T, 1, 1, 1, (loom_padding){LOOM_CONV_PAD_VALID, 0, 0});
    y = loom_reshape(g, y, 2, (int[]){-1, D}); // (N, D)
    break;
  default: assert(!"unknown sequence pooling mode"); return x;
  }
  loom_tensor_set_name(y, "%s", prefix);
  return y;
}
