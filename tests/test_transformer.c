/* test_transformer.c — the pre-LN Transformer encoder layer builder (loom_layer_transformer): PyTorch
 * parity against torch.nn.TransformerEncoder(nn.TransformerEncoderLayer(norm_first=True, batch_first=True))
 * with a key padding mask, 1 and 2 layers, ReLU and GELU, sinusoidal positions, a final norm (fixtures in
 * tests/reference/transformer from gen_transformer.py), every ISA; central-difference gradient checks of
 * the whole layer (learned positions, dropout, masked); names and shapes. */
#include <stdlib.h>
#include <string.h>

#include "loom/runtime.h"
#include "loom/transformer.h"
#include "testutil.h"

static void parity(const char *file) {
  tu_fixture *fx = tu_fixture_load(file);
  const int32_t *cfg = tu_fixture_i32(fx, "config", NULL, NULL, NULL);
  const int B = cfg[0], T = cfg[1], D = cfg[2];
  const bool masked = tu_fixture_i32(fx, "has_lengths", NULL, NULL, NULL)[0];
  loom_graph *g = loom_graph_new();
  loom_rng r;
  loom_rng_seed(&r, 5);
  loom_tensor *x = loom_input(g, "x", LOOM_F32, 3, (int[]){LOOM_BATCH, T, D});
  x->requires_grad = true;
  loom_tensor *len = masked ? loom_input(g, "lengths", LOOM_I32, 1, (int[]){LOOM_BATCH}) : NULL;
  loom_transformer_opts o = loom_transformer_opts_default(D, T);
  o.heads = cfg[3], o.ff_dim = cfg[4], o.layers = cfg[5], o.activation = cfg[6] ? LOOM_ACT_GELU : LOOM_ACT_RELU;
  o.final_norm = cfg[7], o.positions = cfg[8] ? LOOM_POS_SINUSOIDAL : LOOM_POS_NONE;
  loom_tensor *y = loom_layer_transformer(g, "xf", x, len, &o, &r);
  loom_tensor *R = loom_input(g, "R", LOOM_F32, 3, (int[]){B, T, D});
  loom_input_bind(R, (void *)tu_fixture_f32(fx, "r", NULL, NULL, NULL)); /* zero at padded steps */
  loom_tensor *loss = loom_sum(g, loom_mul(g, y, R), LOOM_ALL, false);
  assert_int_equal(loom_graph_compile(g, B, 1, &loss, true), 0);
  char what[256], key[160];
  for (int i = 0; i < loom_graph_n_param_tensors(g); i++) {
    loom_tensor *p = loom_graph_param_tensor(g, i);
    size_t n;
    snprintf(key, sizeof key, "w.%s", strchr(p->name, '.') + 1);
    if (!tu_fixture_has(fx, key)) fail_msg("%s: no tensor '%s' for loom's '%s'", file, key, p->name);
    const float *v = tu_fixture_f32(fx, key, &n, NULL, NULL);
    assert_int_equal(n, loom_tensor_numel(p));
    memcpy(p->data, v, n * sizeof(float));
  }
  const int32_t *lens = tu_fixture_i32(fx, "lengths", NULL, NULL, NULL);
  memcpy(x->data, tu_fixture_f32(fx, "x", NULL, NULL, NULL), sizeof(float) * (size_t)B * T * D);
  if (masked) memcpy(len->idata, lens, sizeof(int32_t) * (size_t)B);
  loom_graph_zero_grad(g);
  loom_graph_forward(g);
  loom_graph_backward(g, loss);
  const float *want = tu_fixture_f32(fx, "y", NULL, NULL, NULL);
  for (int b = 0; b < B; b++) { /* valid rows only: padded ones mean nothing (zero in the fixture) */
    snprintf(what, sizeof what, "%s output of sample %d", file, b);
    tu_assert_close(what, y->data + (size_t)b * T * D, want + (size_t)b * T * D, (size_t)lens[b] * D, 1e-5, 1e-4);
  }
  snprintf(what, sizeof what, "%s d x", file);
  tu_assert_close(what, x->grad, tu_fixture_f32(fx, "grad.x", NULL, NULL, NULL), (size_t)B * T * D, 1e-5, 1e-4);
  for (int i = 0; i < loom_graph_n_param_tensors(g); i++) {
    loom_tensor *p = loom_graph_param_tensor(g, i);
    snprintf(key, sizeof key, "grad.%s", strchr(p->name, '.') + 1);
    snprintf(what, sizeof what, "%s d %s", file, p->name);
    tu_assert_close(what, p->grad, tu_fixture_f32(fx, key, NULL, NULL, NULL), loom_tensor_numel(p), 1e-5, 1e-4);
  }
  loom_graph_free(g);
  tu_fixture_free(fx);
}

static void test_matches_torch(void **state) {
  const char *files[] = {"transformer/layer_relu.fix", "transformer/layer_relu_masked.fix",
                         "transformer/stack_gelu_sin_masked.fix"};
  loom_isa best = loom_runtime_isa();
  for (int isa = 0; isa < LOOM_ISA_COUNT; isa++) {
    if (!loom_runtime_set_isa((loom_isa)isa)) continue;
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) parity(files[i]);
  }
  loom_runtime_set_isa(best);
}

typedef struct {
  int B, T, D;
  const int32_t *lengths;
  uint64_t seed;
} gc_ctx;

static void gc_fill(loom_graph *g, void *p) {
  const gc_ctx *c = p;
  loom_rng r;
  loom_rng_seed(&r, c->seed);
  tu_fill_uniform(loom_graph_find(g, "x")->data, (size_t)c->B * c->T * c->D, -1.5f, 1.5f, &r);
  loom_tensor *len = loom_graph_find(g, "lengths");
  if (len) memcpy(len->idata, c->lengths, sizeof(int32_t) * (size_t)c->B);
}

/* The whole layer by central differences, loss = sum(y * R * valid) (padded rows carry no meaning). */
static int gradcheck_layer(const gc_ctx *c, const loom_transformer_opts *o, bool training) {
  loom_graph *g = loom_graph_new();
  loom_rng r;
  loom_rng_seed(&r, c->seed + 100);
  loom_tensor *x = loom_input(g, "x", LOOM_F32, 3, (int[]){LOOM_BATCH, c->T, c->D});
  x->requires_grad = true;
  loom_tensor *len = c->lengths ? loom_input(g, "lengths", LOOM_I32, 1, (int[]){LOOM_BATCH}) : NULL;
  loom_tensor *y = loom_layer_transformer(g, "xf", x, len, o, &r);
  float *valid = calloc((size_t)c->B * c->T, sizeof(float));
  for (int b = 0; b < c->B; b++)
    for (int t = 0; t < (c->lengths ? c->lengths[b] : c->T); t++) valid[b * c->T + t] = 1.0f;
  loom_tensor *v = loom_input(g, "valid", LOOM_F32, 3, (int[]){c->B, c->T, 1});
  loom_input_bind(v, valid);
  y = loom_mul(g, y, v);
  for (int i = 0; i < loom_graph_n_param_tensors(g); i++) { /* non-trivial norms and biases */
    loom_tensor *p = loom_graph_param_tensor(g, i);
    if (strstr(p->name, "norm") && strstr(p->name, "weight")) tu_fill_uniform(p->data, loom_tensor_numel(p), 0.5f, 1.5f, &r);
    else if (strstr(p->name, "bias") || strstr(p->name, "pos_")) tu_fill_uniform(p->data, loom_tensor_numel(p), -0.5f, 0.5f, &r);
  }
  loom_graph_set_training(g, training);
  loom_rng_seed(loom_graph_rng(g), 77);
  /* ReLU in the feed-forward: a 1e-2 step can cross its kink, so a smaller one */
  int n = tu_gradcheck(g, y, c->B, gc_fill, (void *)c, o->activation == LOOM_ACT_RELU ? 1e-3 : 1e-2, 3e-3, 2e-2);
  loom_graph_free(g);
  free(valid);
  return n;
}

static void test_gradcheck_layer(void **state) {
  static const int32_t len3[3] = {5, 2, 1};
  const gc_ctx plain = {2, 4, 6, NULL, 1}, masked = {3, 5, 8, len3, 2};
  loom_transformer_opts a = loom_transformer_opts_default(6, 4);
  a.heads = 2, a.ff_dim = 7, a.positions = LOOM_POS_LEARNED;
  loom_transformer_opts b = loom_transformer_opts_default(8, 5);
  b.heads = 4, b.ff_dim = 9, b.layers = 2, b.activation = LOOM_ACT_GELU;
  loom_transformer_opts d = b;
  d.layers = 1, d.dropout = 0.2f, d.final_norm = false, d.positions = LOOM_POS_LEARNED;
  int total = gradcheck_layer(&plain, &a, false) + gradcheck_layer(&masked, &b, false) + gradcheck_layer(&masked, &d, true);
  print_message("transformer gradcheck: %d gradient elements checked\n", total);
  assert_true(total > 1000);
}

static void test_names_and_shapes(void **state) {
  loom_graph *g = loom_graph_new();
  loom_rng r;
  loom_rng_seed(&r, 1);
  loom_tensor *x = loom_input(g, "x", LOOM_F32, 3, (int[]){LOOM_BATCH, 10, 16});
  loom_transformer_opts o = loom_transformer_opts_default(16, 10);
  o.layers = 2, o.positions = LOOM_POS_LEARNED;
  loom_tensor *y = loom_layer_transformer(g, "text.transformer", x, NULL, &o, &r);
  const char *names[] = {"text.transformer.pos_embedding", "text.transformer.layers.0.self_attn.in_proj_weight",
                         "text.transformer.layers.1.self_attn.out_proj.bias", "text.transformer.layers.1.linear1.weight",
                         "text.transformer.layers.0.norm2.bias", "text.transformer.norm.weight"};
  for (size_t i = 0; i < sizeof names / sizeof *names; i++)
    if (!loom_graph_find(g, names[i])) fail_msg("no tensor '%s'", names[i]);
  assert_int_equal(loom_graph_find(g, "text.transformer.layers.1.linear1.weight")->shape[0], 64);
  assert_int_equal(loom_graph_find(g, "text.transformer.layers.0.self_attn.in_proj_weight")->shape[0], 48);
  assert_int_equal(loom_graph_compile(g, 3, 1, &y, false), 0);
  assert_int_equal(y->ndim, 3);
  assert_int_equal(y->shape[2], 16);
  loom_graph_free(g);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_matches_torch),
      cmocka_unit_test(test_gradcheck_layer),
      cmocka_unit_test(test_names_and_shapes),
  };
  return cmocka_run_group_tests_name("transformer", tests, NULL, NULL);
}
