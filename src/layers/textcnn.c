/* textcnn.c — the TextCNN layer builder (loom/textcnn.h): one fused conv1d_max op per width
 * (src/autograd/ops_conv1d.c), concatenated. Parameters named and initialised as nn.Conv2d(1, F, (k, E)). */
#include "loom/textcnn.h"

#include <assert.h>
#include <stdio.h>

loom_textcnn_opts loom_textcnn_opts_default(int input_size, int filters) {
  return (loom_textcnn_opts){.input_size = input_size, .filters = filters, .n_widths = 3, .widths = {3, 4, 5},
                             .init = LOOM_INIT_TORCH_DEFAULT};
}

loom_tensor *loom_layer_textcnn(loom_graph *g, const char *prefix, loom_tensor *x, loom_tensor *lengths,
                                const loom_textcnn_opts *o, loom_rng *rng) {
  assert(o->input_size > 0 && o->filters > 0 && "textcnn: input_size and filters must be > 0");
  assert(o->n_widths >= 1 && o->n_widths <= LOOM_TEXTCNN_MAX_WIDTHS && "textcnn: 1..LOOM_TEXTCNN_MAX_WIDTHS widths");
  assert(!loom_init_kind_takes_arg(o->init) && "textcnn: init needs no argument (not constant, uniform, normal)");
  loom_tensor *outs[LOOM_TEXTCNN_MAX_WIDTHS];
  char name[LOOM_NAME_MAX];
  for (int i = 0; i < o->n_widths; i++) {
    const int k = o->widths[i];
    assert(k >= 1 && "textcnn: widths must be >= 1");
    snprintf(name, sizeof name, "%s.conv%d.weight", prefix, i);
    loom_tensor *w = loom_param(g, name, 4, (int[]){o->filters, 1, k, o->input_size});
    loom_init_tensor(w, (loom_init){o->init, 0.0f}, rng);
    snprintf(name, sizeof name, "%s.conv%d.bias", prefix, i);
    loom_tensor *b = loom_param(g, name, 1, (int[]){o->filters});
    if (o->init == LOOM_INIT_TORCH_DEFAULT) { /* torch: bias ~ U(+-1/sqrt(fan_in)) of the weight */
      int fan_in, fan_out;
      loom_fans(w, &fan_in, &fan_out);
      loom_init_fill(b->data, 1, o->filters, fan_in, fan_out, (loom_init){LOOM_INIT_TORCH_DEFAULT, 0.0f}, rng);
    }
    outs[i] = loom_conv1d_max(g, x, lengths, w, b, true);
    loom_tensor_set_name(outs[i], "%s.conv%d", prefix, i);
  }
  return o->n_widths > 1 ? loom_concat(g, o->n_widths, outs) : outs[0];
}
