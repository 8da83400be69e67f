/* norm.c — BatchNorm1d/2d and LayerNorm layer builders (loom/norm.h): parameters and running-stat
 * buffers with PyTorch state_dict names and initial values; the maths is in src/autograd/ops_norm.c. */
#include "loom/norm.h"

#include <assert.h>
#include <stdio.h>

loom_batchnorm_opts loom_batchnorm_opts_default(int num_features) {
  return (loom_batchnorm_opts){.num_features = num_features, .eps = 1e-5f, .momentum = 0.1f};
}
loom_layernorm_opts loom_layernorm_opts_default(int normalized_shape) {
  return (loom_layernorm_opts){.normalized_shape = normalized_shape, .eps = 1e-5f};
}

static loom_tensor *named(loom_graph *g, bool param, const char *prefix, const char *what, int n, float value) {
  char name[LOOM_NAME_MAX];
  snprintf(name, sizeof name, "%s.%s", prefix, what);
  loom_tensor *t = param ? loom_param(g, name, 1, &n) : loom_buffer(g, name, 1, &n);
  for (int i = 0; i < n; i++) t->data[i] = value;
  return t;
}

static loom_tensor *batchnorm_layer(loom_graph *g, const char *prefix, loom_tensor *x, const loom_batchnorm_opts *o,
                                    int rank_rule) {
  assert(o->num_features > 0 && o->eps > 0.0f && "batchnorm layer: num_features and eps must be > 0");
  const int C = o->num_features;
  loom_tensor *w = NULL, *b = NULL;
  if (!o->no_affine) {
    w = named(g, true, prefix, "weight", C, 1.0f);
    b = named(g, true, prefix, "bias", C, 0.0f);
  }
  loom_tensor *rm = named(g, false, prefix, "running_mean", C, 0.0f);
  loom_tensor *rv = named(g, false, prefix, "running_var", C, 1.0f);
  loom_tensor *nbt = named(g, false, prefix, "num_batches_tracked", 1, 0.0f);
  loom_tensor *y = loom_batchnorm(g, x, w, b, rm, rv, nbt, o->eps, o->momentum);
  y->ip[2] = rank_rule;
  loom_tensor_set_name(y, "%s", prefix);
  return y;
}
/* rng: the initial values are constants (see loom/norm.h) */
loom_tensor *loom_layer_batchnorm1d(loom_graph *g, const char *prefix, loom_tensor *x, const loom_batchnorm_opts *o,
                                    loom_rng *rng) {
  (void)rng;
  return batchnorm_layer(g, prefix, x, o, 1);
}
loom_tensor *loom_layer_batchnorm2d(loom_graph *g, const char *prefix, loom_tensor *x, const loom_batchnorm_opts *o,
                                    loom_rng *rng) {
  (void)rng;
  return batchnorm_layer(g, prefix, x, o, 2);
}

loom_tensor *loom_layer_layernorm(loom_graph *g, const char *prefix, loom_tensor *x, const loom_layernorm_opts *o,
                                  loom_rng *rng) {
  (void)rng;
  assert(o->normalized_shape > 0 && o->eps > 0.0f && "layernorm layer: normalized_shape and eps must be > 0");
  loom_tensor *w = NULL, *b = NULL;
  if (!o->no_affine) {
    w = named(g, true, prefix, "weight", o->normalized_shape, 1.0f);
    b = named(g, true, prefix, "bias", o->normalized_shape, 0.0f);
  }
  loom_tensor *y = loom_layernorm(g, x, w, b, o->eps);
  loom_tensor_set_name(y, "%s", prefix);
  return y;
}
