/* transformer.c — the pre-LN Transformer encoder builder (loom/transformer.h): positions, then per layer
 * LayerNorm → fused self-attention (src/autograd/ops_attention.c) → residual, LayerNorm → Dense → act →
 * Dense → residual, then an optional final LayerNorm. Names and initialisation follow PyTorch. */
#include "loom/transformer.h"

#include <assert.h>
#include <math.h>

#include "loom/dense.h"
#include "loom/norm.h"

loom_transformer_opts loom_transformer_opts_default(int d_model, int max_len) {
  return (loom_transformer_opts){.d_model = d_model, .heads = d_model % 4 == 0 ? 4 : 1, .ff_dim = 4 * d_model,
                                 .layers = 1, .activation = LOOM_ACT_RELU, .positions = LOOM_POS_SINUSOIDAL,
                                 .max_len = max_len, .final_norm = true, .eps = 1e-5f, .init = LOOM_INIT_TORCH_DEFAULT};
}

static loom_tensor *named_param(loom_graph *g, const char *prefix, int layer, const char *what, int ndim, const int *shape) {
  loom_tensor *p = loom_param(g, "", ndim, shape);
  loom_tensor_set_name(p, "%s.layers.%d.%s", prefix, layer, what);
  return p;
}

static loom_tensor *drop(loom_graph *g, loom_tensor *x, float p) { return p > 0.0f ? loom_dropout(g, x, p) : x; }

loom_tensor *loom_layer_transformer(loom_graph *g, const char *prefix, loom_tensor *x, loom_tensor *lengths,
                                    const loom_transformer_opts *o, loom_rng *rng) {
  const int D = o->d_model, F = o->ff_dim, layers = o->layers > 0 ? o->layers : 1;
  assert(D > 0 && F > 0 && o->heads > 0 && D % o->heads == 0 && "transformer: heads must divide d_model");
  assert(o->dropout >= 0.0f && o->dropout < 1.0f && "transformer: dropout must be in [0, 1)");
  assert((o->activation == LOOM_ACT_RELU || o->activation == LOOM_ACT_GELU) && "transformer: relu or gelu");
  assert(!loom_init_kind_takes_arg(o->init) && "transformer: init needs no argument");
  const bool torch = o->init == LOOM_INIT_TORCH_DEFAULT;
  char name[LOOM_NAME_MAX];
  if (o->positions != LOOM_POS_NONE) {
    assert(o->max_len > 0 && "transformer: positions need max_len");
    loom_tensor *pe;
    if (o->positions == LOOM_POS_LEARNED) {
      pe = loom_param(g, "", 2, (int[]){o->max_len, D});
      loom_tensor_set_name(pe, "%s.pos_embedding", prefix);
      loom_init_fill(pe->data, o->max_len, D, D, D, (loom_init){LOOM_INIT_NORMAL, 0.02f}, rng);
    } else {
      pe = loom_buffer(g, "", 2, (int[]){o->max_len, D});
      loom_tensor_set_name(pe, "%s.pos_encoding", prefix);
      for (int t = 0; t < o->max_len; t++)
        for (int i = 0; i < D; i++) {
          const double a = t / pow(10000.0, (double)(i / 2 * 2) / D);
          pe->data[(size_t)t * D + i] = (float)(i % 2 ? cos(a) : sin(a));
        }
    }
    x = loom_add(g, x, pe); // (B, T, D) + (T, D); the compile checks T == max_len
  }
  for (int l = 0; l < layers; l++) {
    loom_layernorm_opts no = {.normalized_shape = D, .eps = o->eps};
    snprintf(name, sizeof name, "%s.layers.%d.norm1", prefix, l);
    loom_tensor *h = loom_layer_layernorm(g, name, x, &no, rng);
    loom_tensor *wi = named_param(g, prefix, l, "self_attn.in_proj_weight", 2, (int[]){3 * D, D});
    loom_tensor *bi = named_param(g, prefix, l, "self_attn.in_proj_bias", 1, (int[]){3 * D});
    loom_tensor *wo = named_param(g, prefix, l, "self_attn.out_proj.weight", 2, (int[]){D, D});
    loom_tensor *bo = named_param(g, prefix, l, "self_attn.out_proj.bias", 1, (int[]){D});
    /* nn.MultiheadAttention: xavier-uniform in_proj, out_proj a Linear's default weight, zero biases */
    loom_init_tensor(wi, (loom_init){LOOM_INIT_GLOROT_UNIFORM, 0}, rng);
    loom_init_tensor(wo, (loom_init){torch ? LOOM_INIT_TORCH_DEFAULT : LOOM_INIT_GLOROT_UNIFORM, 0}, rng);
    h = loom_mha(g, h, lengths, wi, bi, wo, bo, o->heads); // (B, T, D)
    snprintf(name, sizeof name, "%s.layers.%d.self_attn", prefix, l);
    loom_tensor_set_name(h, "%s", name);
    x = loom_add(g, x, drop(g, h, o->dropout));
    snprintf(name, sizeof name, "%s.layers.%d.norm2", prefix, l);
    h = loom_layer_layernorm(g, name, x, &no, rng);
    loom_dense_opts d1 = {.in_features = D, .units = F, .activation = o->activation, .init = o->init};
    snprintf(name, sizeof name, "%s.layers.%d.linear1", prefix, l);
    h = drop(g, loom_layer_dense(g, name, h, &d1, rng), o->dropout); // (B, T, F)
    loom_dense_opts d2 = {.in_features = F, .units = D, .init = o->init};
    snprintf(name, sizeof name, "%s.layers.%d.linear2", prefix, l);
    h = loom_layer_dense(g, name, h, &d2, rng); // (B, T, D)
    x = loom_add(g, x, drop(g, h, o->dropout));
  }
  if (o->final_norm) {
    loom_layernorm_opts no = {.normalized_shape = D, .eps = o->eps};
    snprintf(name, sizeof name, "%s.norm", prefix);
    x = loom_layer_layernorm(g, name, x, &no, rng);
  }
  return x;
}
