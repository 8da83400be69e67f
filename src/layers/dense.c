/* dense.c — the Dense / Linear layer builder: one matmul against the (out, in) weight (all leading
 * dims of x act as rows, so (B, T, in) is one GEMM), a broadcast bias add and the activation. The
 * arithmetic lives in the core ops; this file only names parameters and initialises them. */
#include "loom/dense.h"

#include <assert.h>
#include <math.h>

#include "loom/init.h"

loom_tensor *loom_activate(loom_graph *g, loom_tensor *x, loom_activation act) {
  switch (act) {
  case LOOM_ACT_NONE: return x;
  case LOOM_ACT_RELU: return loom_relu(g, x);
  case LOOM_ACT_SIGMOID: return loom_sigmoid(g, x);
  case LOOM_ACT_TANH: return loom_tanh(g, x);
  case LOOM_ACT_GELU: return loom_gelu(g, x);
  }
  assert(!"unknown activation");
  return x;
}

loom_tensor *loom_dense(loom_graph *g, const char *prefix, loom_tensor *x, const loom_dense_opts *o, loom_rng *rng) {
  assert(o->in_features > 0 && o->units > 0 && "dense: in_features and units must be > 0");
  const int in = o->in_features, out = o->units;
  loom_tensor *w = loom_param(g, "", 2, (int[]){out, in});
  loom_tensor_set_name(w, "%s.weight", prefix);
  /* torch: kaiming_uniform(a = sqrt 5) = U(+-1/sqrt(in)) for the weight, the same bound for the bias */
  loom_init winit = o->init == LOOM_INIT_STYLE_TORCH ? (loom_init){LOOM_INIT_TORCH_DEFAULT, 0}
                                                     : (loom_init){LOOM_INIT_GLOROT_UNIFORM, 0};
  loom_init_fill(w->data, out, in, in, out, winit, rng);
  loom_tensor *y = loom_matmul(g, x, w, false, true); /* (..., out) */
  if (!o->no_bias) {
    loom_tensor *b = loom_param(g, "", 1, (int[]){out});
    loom_tensor_set_name(b, "%s.bias", prefix);
    if (o->init == LOOM_INIT_STYLE_TORCH) loom_init_fill(b->data, 1, out, in, out, winit, rng);
    y = loom_add(g, y, b);
  }
  return loom_activate(g, y, o->activation);
}
