/* conv.c — Conv2D and pooling layer builders (loom/conv.h): create the parameters with PyTorch
 * state_dict names, initialise them from the caller's rng and wire the ops. The maths is in
 * src/autograd/ops_conv.c. */
#include "loom/conv.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

loom_conv2d_opts loom_conv2d_defaults(int in_channels, int filters, int kernel) {
  return (loom_conv2d_opts){.in_channels = in_channels, .filters = filters, .kernel_h = kernel, .kernel_w = kernel,
                            .stride_h = 1, .stride_w = 1, .padding = {LOOM_CONV_PAD_VALID, 0, 0},
                            .init = LOOM_INIT_GLOROT_UNIFORM};
}

/* Named activation; an unknown name is a programming error (config parsers validate names first). */
static loom_tensor *activate(loom_graph *g, loom_tensor *x, const char *name) {
  if (!name || !*name || strcmp(name, "linear") == 0) return x;
  if (strcmp(name, "relu") == 0) return loom_relu(g, x);
  if (strcmp(name, "sigmoid") == 0) return loom_sigmoid(g, x);
  if (strcmp(name, "tanh") == 0) return loom_tanh(g, x);
  if (strcmp(name, "gelu") == 0) return loom_gelu(g, x);
  fprintf(stderr, "loom: fatal: conv2d layer: unknown activation '%s' (linear, relu, sigmoid, tanh, gelu)\n", name);
  abort();
}

loom_tensor *loom_conv2d_layer(loom_graph *g, const char *prefix, loom_tensor *x, const loom_conv2d_opts *o,
                               loom_rng *rng) {
  assert(o->in_channels > 0 && o->filters > 0 && o->kernel_h > 0 && o->kernel_w > 0 && "conv2d layer shape");
  char name[LOOM_NAME_MAX];
  snprintf(name, sizeof name, "%s.weight", prefix);
  loom_tensor *w = loom_param(g, name, 4, (int[]){o->filters, o->in_channels, o->kernel_h, o->kernel_w});
  loom_init_tensor(w, (loom_init){o->init, 0.0f}, rng);
  loom_tensor *b = NULL;
  if (!o->no_bias) {
    snprintf(name, sizeof name, "%s.bias", prefix);
    b = loom_param(g, name, 1, (int[]){o->filters});
    if (o->init == LOOM_INIT_TORCH_DEFAULT) { /* torch: bias ~ U(+-1/sqrt(fan_in)) of the weight */
      int fan_in, fan_out;
      loom_fans(w, &fan_in, &fan_out);
      loom_init_fill(b->data, 1, o->filters, fan_in, fan_out, (loom_init){LOOM_INIT_TORCH_DEFAULT, 0.0f}, rng);
    }
  }
  loom_tensor *y = loom_conv2d(g, x, w, b, o->stride_h > 0 ? o->stride_h : 1, o->stride_w > 0 ? o->stride_w : 1,
                               o->padding);
  loom_tensor_set_name(y, "%s", prefix);
  return activate(g, y, o->activation);
}

static loom_tensor *pool_layer(loom_graph *g, const char *prefix, loom_tensor *x, const loom_pool2d_opts *o, bool max) {
  const int sh = o->stride_h > 0 ? o->stride_h : o->kernel_h, sw = o->stride_w > 0 ? o->stride_w : o->kernel_w;
  loom_tensor *y = max ? loom_maxpool2d(g, x, o->kernel_h, o->kernel_w, sh, sw, o->padding)
                       : loom_avgpool2d(g, x, o->kernel_h, o->kernel_w, sh, sw, o->padding, o->count_include_pad);
  loom_tensor_set_name(y, "%s", prefix);
  return y;
}
loom_tensor *loom_maxpool2d_layer(loom_graph *g, const char *prefix, loom_tensor *x, const loom_pool2d_opts *o) {
  return pool_layer(g, prefix, x, o, true);
}
loom_tensor *loom_avgpool2d_layer(loom_graph *g, const char *prefix, loom_tensor *x, const loom_pool2d_opts *o) {
  return pool_layer(g, prefix, x, o, false);
}
loom_tensor *loom_global_avgpool_layer(loom_graph *g, const char *prefix, loom_tensor *x) {
  loom_tensor *y = loom_global_avgpool(g, x);
  loom_tensor_set_name(y, "%s", prefix);
  return y;
}
