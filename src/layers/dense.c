/* dense.c — the Dense / Linear layer builder: one matmul against the (out, in) weight (all leading
 * dims of x act as rows, so (B, T, in) is one GEMM), a broadcast bias add and the activation. The
 * arithmetic lives in the core ops; this file only names parameters and initialises them. */
#include "loom/dense.h"

#include <assert.h>
#include <math.h>

#include "loom/init.h"

loom_dense_opts loom_dense_opts_default(int in_features, int units) {
  return (loom_dense_opts){.in_features = in_features, .units = units, .activation = LOOM_ACT_NONE,
                           .init = LOOM_INIT_KERAS_DEFAULT};
}

loom_tensor *loom_layer_dense(loom_graph *g, const char *prefix, loom_tensor *x, const loom_dense_opts *o,
                              loom_rng *rng) {
  assert(o->in_features > 0 && o->units > 0 && "dense: in_features and units must be > 0");
  assert(!loom_init_kind_takes_arg(o->init) && "dense: init needs no argument (not constant, uniform, normal)");
  const int in = o->in_features, out = o->units;
  loom_tensor *w = loom_param(g, "", 2, (int[]){out, in});
  loom_tensor_set_name(w, "%s.weight", prefix);
  /* torch: kaiming_uniform(a = sqrt 5) = U(+-1/sqrt(in)) for the weight, the same bound for the bias;
   * Keras (and KERAS_DEFAULT as a fill): Glorot-uniform */
  const bool torch = o->init == LOOM_INIT_TORCH_DEFAULT;
  const loom_init winit = {o->init, 0};
  loom_init_fill(w->data, out, in, in, out, winit, rng);
  loom_tensor *y = loom_matmul(g, x, w, false, true); /* (..., out) */
  if (!o->no_bias) {
    loom_tensor *b = loom_param(g, "", 1, (int[]){out});
    loom_tensor_set_name(b, "%s.bias", prefix);
    if (torch) loom_init_fill(b->data, 1, out, in, out, winit, rng);
    y = loom_add(g, y, b);
  }
  return loom_activate(g, y, o->activation);
}
