/* test_dense_embedding.c — the Dense and Embedding layer builders: PyTorch parity (outputs and every
 * gradient, from tests/reference/lstm/{dense,embedding}_*.fix written by gen_lstm.py), parameter names
 * and shapes, initialisation conventions, and the padding row staying zero with no gradient. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "loom/dense.h"
#include "loom/embedding.h"
#include "testutil.h"

static void copy_param(loom_graph *g, const char *name, const tu_fixture *fx, const char *fx_name) {
  loom_tensor *p = loom_graph_find(g, name);
  if (!p) fail_msg("no parameter '%s'", name);
  size_t n;
  const float *v = tu_fixture_f32(fx, fx_name, &n, NULL, NULL);
  assert_int_equal(n, loom_tensor_numel(p));
  memcpy(p->data, v, n * sizeof(float));
}

/* loss = sum(y * R) with R an input; returns the loss node. */
static loom_tensor *weighted_sum(loom_graph *g, loom_tensor *y, const float *r, int ndim, const int *shape) {
  loom_tensor *R = loom_input(g, "R", LOOM_F32, ndim, shape);
  loom_input_bind(R, (void *)r);
  return loom_sum(g, loom_mul(g, y, R), LOOM_ALL, false);
}

static void dense_parity(const char *file) {
  tu_fixture *fx = tu_fixture_load(file);
  const int32_t *cfg = tu_fixture_i32(fx, "config", NULL, NULL, NULL);
  int xnd, xs[8];
  size_t nx;
  const float *xv = tu_fixture_f32(fx, "x", &nx, &xnd, xs);
  loom_graph *g = loom_graph_new();
  loom_rng rng;
  loom_rng_seed(&rng, 1);
  int decl[4];
  for (int d = 0; d < xnd; d++) decl[d] = d == 0 ? LOOM_BATCH : xs[d];
  loom_tensor *x = loom_input(g, "x", LOOM_F32, xnd, decl);
  x->requires_grad = true;
  loom_dense_opts o = {.in_features = cfg[0], .units = cfg[1], .activation = (loom_activation)cfg[2]};
  loom_tensor *y = loom_layer_dense(g, "fc", x, &o, &rng);
  int ys[4];
  memcpy(ys, xs, sizeof ys);
  ys[xnd - 1] = cfg[1];
  loom_tensor *loss = weighted_sum(g, y, tu_fixture_f32(fx, "r", NULL, NULL, NULL), xnd, ys);
  assert_int_equal(loom_graph_compile(g, xs[0], 1, &loss, true), 0);
  copy_param(g, "fc.weight", fx, "w.weight");
  copy_param(g, "fc.bias", fx, "w.bias");
  memcpy(x->data, xv, nx * sizeof(float));
  loom_graph_zero_grad(g);
  loom_graph_forward(g);
  loom_graph_backward(g, loss);
  size_t ny;
  const float *want = tu_fixture_f32(fx, "y", &ny, NULL, NULL);
  assert_int_equal(ny, loom_tensor_numel(y));
  tu_assert_close(file, y->data, want, ny, 1e-6, 1e-5);
  tu_assert_close("d x", x->grad, tu_fixture_f32(fx, "grad.x", NULL, NULL, NULL), nx, 1e-6, 1e-4);
  loom_tensor *w = loom_graph_find(g, "fc.weight"), *b = loom_graph_find(g, "fc.bias");
  tu_assert_close("d weight", w->grad, tu_fixture_f32(fx, "grad.weight", NULL, NULL, NULL), loom_tensor_numel(w), 1e-6, 1e-4);
  tu_assert_close("d bias", b->grad, tu_fixture_f32(fx, "grad.bias", NULL, NULL, NULL), loom_tensor_numel(b), 1e-6, 1e-4);
  loom_graph_free(g);
  tu_fixture_free(fx);
}

static void test_dense_matches_torch(void **state) {
  const char *files[] = {"lstm/dense_2d_none.fix", "lstm/dense_2d_relu.fix", "lstm/dense_2d_sigmoid.fix",
                         "lstm/dense_2d_tanh.fix", "lstm/dense_2d_gelu.fix", "lstm/dense_3d_gelu.fix"};
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) dense_parity(files[i]);
}

static void embedding_parity(const char *file) {
  tu_fixture *fx = tu_fixture_load(file);
  const int32_t *cfg = tu_fixture_i32(fx, "config", NULL, NULL, NULL);
  int ind, is[8];
  size_t nids;
  const int32_t *ids = tu_fixture_i32(fx, "ids", &nids, &ind, is);
  loom_graph *g = loom_graph_new();
  loom_rng rng;
  loom_rng_seed(&rng, 2);
  loom_tensor *idx = loom_input(g, "ids", LOOM_I32, ind, (int[]){LOOM_BATCH, is[1]});
  loom_embedding_opts o = {.vocab = cfg[0], .dim = cfg[1], .padding_idx = cfg[2]};
  loom_tensor *y = loom_layer_embedding(g, "emb", idx, &o, &rng);
  loom_tensor *w = loom_graph_find(g, "emb.weight");
  assert_non_null(w);
  if (o.padding_idx >= 0)
    for (int j = 0; j < o.dim; j++) assert_true(w->data[o.padding_idx * o.dim + j] == 0.0f);
  loom_tensor *loss = weighted_sum(g, y, tu_fixture_f32(fx, "r", NULL, NULL, NULL), 3, (int[]){is[0], is[1], cfg[1]});
  assert_int_equal(loom_graph_compile(g, is[0], 1, &loss, true), 0);
  copy_param(g, "emb.weight", fx, "w.weight");
  memcpy(idx->idata, ids, nids * sizeof(int32_t));
  loom_graph_zero_grad(g);
  loom_graph_forward(g);
  loom_graph_backward(g, loss);
  tu_assert_close(file, y->data, tu_fixture_f32(fx, "y", NULL, NULL, NULL), loom_tensor_numel(y), 0, 0);
  tu_assert_close("d weight", w->grad, tu_fixture_f32(fx, "grad.weight", NULL, NULL, NULL), loom_tensor_numel(w), 1e-6, 1e-5);
  if (o.padding_idx >= 0)
    for (int j = 0; j < o.dim; j++) assert_true(w->grad[o.padding_idx * o.dim + j] == 0.0f);
  loom_graph_free(g);
  tu_fixture_free(fx);
}

static void test_embedding_matches_torch(void **state) {
  embedding_parity("lstm/embedding_pad0.fix");
  embedding_parity("lstm/embedding_nopad.fix");
}

/* Names, shapes and the two initialisation conventions, checked by their statistics. */
static void test_dense_names_shapes_and_init(void **state) {
  loom_rng rng;
  loom_rng_seed(&rng, 3);
  for (int style = 0; style < 2; style++) {
    loom_graph *g = loom_graph_new();
    loom_tensor *x = loom_input(g, "x", LOOM_F32, 2, (int[]){LOOM_BATCH, 300});
    loom_dense_opts o = {.in_features = 300, .units = 200, .init = style ? LOOM_INIT_TORCH_DEFAULT : LOOM_INIT_KERAS_DEFAULT};
    loom_layer_dense(g, "head", x, &o, &rng);
    loom_tensor *w = loom_graph_find(g, "head.weight"), *b = loom_graph_find(g, "head.bias");
    assert_non_null(w);
    assert_non_null(b);
    assert_int_equal(w->shape[0], 200);
    assert_int_equal(w->shape[1], 300);
    const float bound = style == 0 ? sqrtf(6.0f / 500.0f) : 1.0f / sqrtf(300.0f);
    float mx = 0;
    for (int i = 0; i < 60000; i++) mx = fmaxf(mx, fabsf(w->data[i]));
    assert_true(mx <= bound && mx > 0.99f * bound); /* U(-bound, bound), 60000 draws reach its edge */
    float bmax = 0;
    for (int i = 0; i < 200; i++) bmax = fmaxf(bmax, fabsf(b->data[i]));
    if (style == 0) assert_true(bmax == 0.0f);
    else assert_true(bmax > 0.5f * bound && bmax <= bound);
    loom_graph_free(g);
  }
  loom_graph *g = loom_graph_new();
  loom_tensor *x = loom_input(g, "x", LOOM_F32, 2, (int[]){LOOM_BATCH, 4});
  loom_dense_opts o = {.in_features = 4, .units = 2, .no_bias = true};
  loom_layer_dense(g, "nb", x, &o, &rng);
  assert_null(loom_graph_find(g, "nb.bias"));
  assert_int_equal(loom_graph_n_param_tensors(g), 1);
  loom_graph_free(g);
}

static void test_embedding_init_and_padding_stays_zero(void **state) {
  loom_rng rng;
  loom_rng_seed(&rng, 4);
  for (int style = 0; style < 2; style++) {
    loom_graph *g = loom_graph_new();
    loom_tensor *ids = loom_input(g, "ids", LOOM_I32, 2, (int[]){LOOM_BATCH, 3});
    loom_embedding_opts o = {.vocab = 1000, .dim = 16, .padding_idx = 0, .init = style ? LOOM_INIT_TORCH_DEFAULT : LOOM_INIT_KERAS_DEFAULT};
    loom_tensor *y = loom_layer_embedding(g, "emb", ids, &o, &rng);
    loom_tensor *w = loom_graph_find(g, "emb.weight");
    double s2 = 0;
    float mx = 0;
    for (int i = 16; i < 16000; i++) {
      s2 += (double)w->data[i] * w->data[i];
      mx = fmaxf(mx, fabsf(w->data[i]));
    }
    double var = s2 / (16000 - 16);
    if (style == 0) {
      assert_true(mx <= 0.05f);
      assert_true(fabs(var - 0.05 * 0.05 / 3) < 0.1 * 0.05 * 0.05 / 3);
    } else {
      assert_true(fabs(var - 1.0) < 0.05);
    }
    /* a few SGD steps: the padding row stays exactly zero */
    loom_tensor *loss = loom_sum(g, loom_mul(g, y, y), LOOM_ALL, false);
    assert_int_equal(loom_graph_compile(g, 2, 1, &loss, true), 0);
    const int32_t v[6] = {0, 5, 0, 7, 0, 0};
    memcpy(ids->idata, v, sizeof v);
    for (int step = 0; step < 3; step++) {
      loom_graph_zero_grad(g);
      loom_graph_forward(g);
      loom_graph_backward(g, loss);
      for (int i = 0; i < 16000; i++) w->data[i] -= 0.1f * w->grad[i];
    }
    for (int j = 0; j < 16; j++) assert_true(w->data[j] == 0.0f && w->grad[j] == 0.0f);
    assert_true(w->grad[5 * 16] != 0.0f);
    loom_graph_free(g);
  }
}

/* One activation enum with one parser: every name round-trips, Keras' "linear" is none, and an unknown
 * name is refused (-1, out untouched) instead of falling back to none. */
static void test_activation_names_parse_and_refuse_unknown(void **state) {
  for (int a = LOOM_ACT_NONE; a <= LOOM_ACT_GELU; a++) {
    loom_activation got = (loom_activation)-1;
    assert_int_equal(loom_activation_parse(loom_activation_name((loom_activation)a), &got), 0);
    assert_int_equal(got, a);
  }
  assert_string_equal(loom_activation_name(LOOM_ACT_NONE), "none");
  assert_string_equal(loom_activation_name(LOOM_ACT_GELU), "gelu");
  assert_string_equal(loom_activation_name((loom_activation)99), "?");
  loom_activation got = LOOM_ACT_RELU;
  assert_int_equal(loom_activation_parse("linear", &got), 0);
  assert_int_equal(got, LOOM_ACT_NONE);
  got = LOOM_ACT_TANH;
  assert_int_equal(loom_activation_parse("swish", &got), -1);
  assert_int_equal(loom_activation_parse("", &got), -1);
  assert_int_equal(loom_activation_parse("RELU", &got), -1);
  assert_int_equal(loom_activation_parse(NULL, &got), -1);
  assert_int_equal(got, LOOM_ACT_TANH);
}

/* The _opts_default constructors give the documented defaults, and a kind other than the two
 * framework defaults initialises the weight from it (bias zero). */
static void test_opts_defaults_and_other_init_kinds(void **state) {
  loom_dense_opts d = loom_dense_opts_default(7, 3);
  assert_int_equal(d.in_features, 7);
  assert_int_equal(d.units, 3);
  assert_int_equal(d.activation, LOOM_ACT_NONE);
  assert_false(d.no_bias);
  assert_int_equal(d.init, LOOM_INIT_KERAS_DEFAULT);
  loom_embedding_opts e = loom_embedding_opts_default(50, 4);
  assert_int_equal(e.vocab, 50);
  assert_int_equal(e.dim, 4);
  assert_int_equal(e.padding_idx, -1);
  assert_int_equal(e.init, LOOM_INIT_KERAS_DEFAULT);

  loom_rng rng;
  loom_rng_seed(&rng, 5);
  loom_graph *g = loom_graph_new();
  loom_tensor *x = loom_input(g, "x", LOOM_F32, 2, (int[]){LOOM_BATCH, 300});
  d = loom_dense_opts_default(300, 200);
  d.init = LOOM_INIT_HE_UNIFORM;
  loom_layer_dense(g, "he", x, &d, &rng);
  d.init = LOOM_INIT_ZEROS;
  loom_layer_dense(g, "zero", x, &d, &rng);
  loom_tensor *w = loom_graph_find(g, "he.weight"), *b = loom_graph_find(g, "he.bias");
  const float bound = sqrtf(6.0f / 300.0f); /* He-uniform: fan_in = in */
  float mx = 0, bmax = 0;
  for (int i = 0; i < 60000; i++) mx = fmaxf(mx, fabsf(w->data[i]));
  for (int i = 0; i < 200; i++) bmax = fmaxf(bmax, fabsf(b->data[i]));
  assert_true(mx <= bound && mx > 0.99f * bound);
  assert_true(bmax == 0.0f);
  w = loom_graph_find(g, "zero.weight");
  for (int i = 0; i < 60000; i++) assert_true(w->data[i] == 0.0f);
  loom_tensor *ids = loom_input(g, "ids", LOOM_I32, 1, (int[]){LOOM_BATCH});
  e = loom_embedding_opts_default(100, 8);
  e.init = LOOM_INIT_ONES;
  loom_layer_embedding(g, "emb", ids, &e, &rng);
  w = loom_graph_find(g, "emb.weight");
  for (int i = 0; i < 800; i++) assert_true(w->data[i] == 1.0f); /* no padding row by default */
  loom_graph_free(g);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_dense_matches_torch),
      cmocka_unit_test(test_embedding_matches_torch),
      cmocka_unit_test(test_dense_names_shapes_and_init),
      cmocka_unit_test(test_embedding_init_and_padding_stays_zero),
      cmocka_unit_test(test_activation_names_parse_and_refuse_unknown),
      cmocka_unit_test(test_opts_defaults_and_other_init_kinds),
  };
  return cmocka_run_group_tests_name("dense_embedding", tests, NULL, NULL);
}
