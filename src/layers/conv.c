/* conv.c — Conv2D and pooling layer builders (loom/conv.h): create the parameters with PyTorch
 * state_dict names, initialise them from the caller's rng and wire the ops. The maths is in
 * src/autograd/ops_conv.c. */
#include "loom/conv.h"

#include <assert.h>
#include <stdio.h>

loom_conv2d_opts loom_conv2d_opts_default(int in_channels, int filters, int kernel) {
  return (loom_conv2d_opts){.in_channels = in_channels, .filters = filters, .kernel_h = kernel, .kernel_w = kernel,
                            .stride_h = 1, .stride_w = 1, .padding = {LOOM_CONV_PAD_VALID, 0, 0},
                            .activation = LOOM_ACT_NONE, .init = LOOM_INIT_KERAS_DEFAULT};
}

loom_pool2d_opts loom_pool2d_opts_default(int kernel) {
  return (loom_pool2d_opts){.kernel_h = kernel, .kernel_w = kernel, .stride_h = kernel, .stride_w = kernel,
                            .padding = {LOOM_CONV_PAD_VALID, 0, 0}, .count_include_pad = true};
}

loom_tensor *loom_layer_conv2d(loom_graph *g, const char *prefix, loom_tensor *x, const loom_conv2d_opts *o,
                               loom_rng *rng) {
  assert(o->in_channels > 0 && o->filters > 0 && o->kernel_h > 0 && o->kernel_w > 0 && "conv2d layer shape");
  assert(!loom_init_kind_takes_arg(o->init) && "conv2d: init needs no argument (not constant, uniform, normal)");
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
  return loom_activate(g, y, o->activation);
}

static loom_tensor *pool_layer(loom_graph *g, const char *prefix, loom_tensor *x, const loom_pool2d_opts *o, bool max) {
  const int sh = o->stride_h > 0 ? o->stride_h : o->kernel_h, sw = o->stride_w > 0 ? o->stride_w : o->kernel_w;
  loom_tensor *y = max ? loom_maxpool2d(g, x, o->kernel_h, o->kernel_w, sh, sw, o->padding)
                       : loom_avgpool2d(g, x, o->kernel_h, o->kernel_w, sh, sw, o->padding, o->count_include_pad);
  loom_tensor_set_name(y, "%s", prefix);
  return y;
}
loom_tensor *loom_layer_maxpool2d(loom_graph *g, const char *prefix, loom_tensor *x, const loom_pool2d_opts *o) {
  return pool_layer(g, prefix, x, o, true);
}
loom_tensor *loom_layer_avgpool2d(loom_graph *g, const char *prefix, loom_tensor *x, const loom_pool2d_opts *o) {
  return pool_layer(g, prefix, x, o, false);
}
loom_tensor *loom_layer_global_avgpool(loom_graph *g, const char *prefix, loom_tensor *x) {
  loom_tensor *y = loom_global_avgpool(g, x);
  loom_tensor_set_name(y, "%s", prefix);
  return y;
}
