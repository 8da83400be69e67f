/* gru.c — the GRU layer builder: for each layer and direction one fused loom_gru_seq op
 * (src/autograd/ops_gru.c), the two directions concatenated on the last dim, dropout between layers.
 * Parameters are named and initialised here as PyTorch (or Keras) would. */
#include "loom/gru.h"

#include <assert.h>

#include "loom/init.h"

static loom_tensor *named_param(loom_graph *g, const char *prefix, const char *what, int layer, bool rev, int ndim,
                                const int *shape) {
  loom_tensor *p = loom_param(g, "", ndim, shape);
  loom_tensor_set_name(p, "%s.%s_l%d%s", prefix, what, layer, rev ? "_reverse" : "");
  return p;
}

loom_gru_opts loom_gru_opts_default(int input_size, int hidden) {
  return (loom_gru_opts){.input_size = input_size, .hidden = hidden, .layers = 1, .init = LOOM_INIT_TORCH_DEFAULT};
}

loom_tensor *loom_layer_gru(loom_graph *g, const char *prefix, loom_tensor *x, loom_tensor *lengths,
                            const loom_gru_opts *o, loom_rng *rng) {
  assert(o->input_size > 0 && o->hidden > 0 && "gru: input_size and hidden must be > 0");
  assert(o->dropout >= 0.0f && o->dropout < 1.0f && "gru: dropout must be in [0, 1)");
  assert(!loom_init_kind_takes_arg(o->init) && "gru: init needs no argument (not constant, uniform, normal)");
  const int H = o->hidden, layers = o->layers > 0 ? o->layers : 1, D = o->bidirectional ? 2 : 1;
  loom_tensor *in = x;
  int E = o->input_size;
  for (int l = 0; l < layers; l++) {
    const bool last = l == layers - 1;
    loom_tensor *outs[2];
    for (int d = 0; d < D; d++) {
      loom_tensor *wih = named_param(g, prefix, "weight_ih", l, d, 2, (int[]){3 * H, E});
      loom_tensor *whh = named_param(g, prefix, "weight_hh", l, d, 2, (int[]){3 * H, H});
      loom_tensor *bih = named_param(g, prefix, "bias_ih", l, d, 1, (int[]){3 * H});
      loom_tensor *bhh = named_param(g, prefix, "bias_hh", l, d, 1, (int[]){3 * H});
      if (o->init == LOOM_INIT_TORCH_DEFAULT) { /* nn.GRU: every parameter U(+-1/sqrt(H)), in this order */
        const loom_init u = {LOOM_INIT_TORCH_DEFAULT, 0};
        loom_init_fill(wih->data, 3 * H, E, H, 3 * H, u, rng);
        loom_init_fill(whh->data, 3 * H, H, H, 3 * H, u, rng);
        loom_init_fill(bih->data, 1, 3 * H, H, 3 * H, u, rng);
        loom_init_fill(bhh->data, 1, 3 * H, H, 3 * H, u, rng);
      } else { /* Keras kernel (E, 3H) and recurrent kernel (H, 3H) are our transposes; biases stay zero */
        loom_init_fill(wih->data, 3 * H, E, E, 3 * H, (loom_init){o->init, 0}, rng);
        loom_init_fill(whh->data, 3 * H, H, H, 3 * H, (loom_init){LOOM_INIT_ORTHOGONAL, 1.0f}, rng);
      }
      outs[d] = loom_gru_seq(g, in, lengths, wih, whh, bih, bhh, d == 1, !last || o->return_sequences);
      loom_tensor_set_name(outs[d], "%s.l%d%s", prefix, l, d ? "_reverse" : "");
    }
    in = D == 2 ? loom_concat(g, 2, outs) : outs[0];
    if (!last && o->dropout > 0.0f) in = loom_dropout(g, in, o->dropout);
    E = D * H;
  }
  return in;
}
