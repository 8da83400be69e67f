/* test_norm.c — BatchNorm (1-D and 2-D, training and eval) and LayerNorm: gradient checks, PyTorch
 * parity of outputs, gradients and running statistics (tests/reference/gen_conv.py), running statistics
 * updated only by a training forward, shape errors, layer names, bit-identical results for 1 and 2
 * threads. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "graph_internal.h"
#include "testutil.h"

static loom_tensor *prm(loom_graph *g, const char *name, int ndim, const int *shape, loom_rng *r, float lo, float hi) {
  loom_tensor *t = loom_param(g, name, ndim, shape);
  tu_fill_uniform(t->data, loom_tensor_numel(t), lo, hi, r);
  return t;
}

/* A batch-norm op over a parameter x of `shape`, with random affine params and running statistics. */
static loom_tensor *bn_graph(loom_graph *g, int ndim, const int *shape, bool affine, loom_rng *r) {
  const int C = shape[1];
  loom_tensor *x = prm(g, "x", ndim, shape, r, -1.0f, 2.0f);
  loom_tensor *w = affine ? prm(g, "bn.weight", 1, &C, r, 0.5f, 1.5f) : NULL;
  loom_tensor *b = affine ? prm(g, "bn.bias", 1, &C, r, -1.0f, 1.0f) : NULL;
  loom_tensor *rm = loom_buffer(g, "bn.running_mean", 1, &C), *rv = loom_buffer(g, "bn.running_var", 1, &C);
  tu_fill_uniform(rm->data, (size_t)C, -0.5f, 0.5f, r);
  tu_fill_uniform(rv->data, (size_t)C, 0.5f, 1.5f, r);
  return loom_batchnorm(g, x, w, b, rm, rv, NULL, 1e-5f, 0.1f);
}

static void test_batchnorm_gradcheck(void **state) {
  struct {
    int ndim, shape[4];
    bool train, affine;
  } cases[] = {
      {2, {5, 7}, true, true},        {3, {4, 3, 5}, true, true}, {4, {3, 4, 5, 3}, true, true},
      {4, {2, 3, 3, 5}, true, false}, {2, {5, 7}, false, true},   {4, {3, 4, 5, 3}, false, true},
  };
  int total = 0;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    loom_rng r;
    loom_rng_seed(&r, 10 + i);
    loom_graph *g = loom_graph_new();
    loom_graph_set_training(g, cases[i].train);
    loom_tensor *y = bn_graph(g, cases[i].ndim, cases[i].shape, cases[i].affine, &r);
    total += tu_gradcheck(g, y, 1, NULL, NULL, 1e-2, 2e-3, 1e-2);
    loom_graph_free(g);
  }
  print_message("batchnorm gradcheck: %d elements\n", total);
  assert_true(total > 500);
}

static void test_layernorm_gradcheck(void **state) {
  int total = 0;
  for (int affine = 0; affine < 2; affine++)
    for (int c = 0; c < 2; c++) {
      loom_rng r;
      loom_rng_seed(&r, 20 + 2 * affine + c);
      loom_graph *g = loom_graph_new();
      loom_tensor *x = c ? prm(g, "x", 3, (int[]){2, 3, 9}, &r, -2, 1) : prm(g, "x", 2, (int[]){5, 7}, &r, -2, 1);
      const int D = c ? 9 : 7;
      loom_tensor *w = affine ? prm(g, "ln.weight", 1, &D, &r, 0.5f, 1.5f) : NULL;
      loom_tensor *b = affine ? prm(g, "ln.bias", 1, &D, &r, -1, 1) : NULL;
      total += tu_gradcheck(g, loom_layernorm(g, x, w, b, 1e-5f), 1, NULL, NULL, 1e-2, 2e-3, 1e-2);
      loom_graph_free(g);
    }
  print_message("layernorm gradcheck: %d elements\n", total);
  assert_true(total > 200);
}

/* ---------------------------------------------------------------- PyTorch parity */

static const float *fx(const tu_fixture *f, const char *prefix, const char *what, size_t *n, int shape[8]) {
  char nm[128];
  snprintf(nm, sizeof nm, "%s.%s", prefix, what);
  return tu_fixture_f32(f, nm, n, NULL, shape);
}
static void check(const char *prefix, const char *what, const float *got, const float *want, size_t n, double tol) {
  char nm[128];
  snprintf(nm, sizeof nm, "%s.%s", prefix, what);
  tu_assert_close(nm, got, want, n, tol, tol);
}

static void test_batchnorm_pytorch_parity(void **state) {
  tu_fixture *f = tu_fixture_load("norm.fix");
  int cases = 0;
  char p[32], nm[64];
  for (int k = 0; k < 32; k++) {
    snprintf(p, sizeof p, "bn%d", k);
    snprintf(nm, sizeof nm, "%s.x", p);
    if (!tu_fixture_has(f, nm)) continue;
    snprintf(nm, sizeof nm, "%s.cfg", p);
    const int32_t *cfg = tu_fixture_i32(f, nm, NULL, NULL, NULL);
    const float *hp = fx(f, p, "hp", NULL, NULL);
    const bool train = cfg[1], affine = cfg[2];
    int xs[8];
    size_t nx, C;
    const float *x0 = fx(f, p, "x", &nx, xs);
    fx(f, p, "running_mean0", &C, NULL);
    loom_graph *g = loom_graph_new();
    loom_tensor *x = loom_param(g, "x", cfg[0], xs);
    memcpy(x->data, x0, nx * sizeof(float));
    loom_batchnorm_opts o = loom_batchnorm_opts_default((int)C);
    o.eps = hp[0], o.momentum = hp[1], o.no_affine = !affine;
    loom_tensor *y = cfg[0] == 4 ? loom_layer_batchnorm2d(g, "bn", x, &o, NULL) : loom_layer_batchnorm1d(g, "bn", x, &o, NULL);
    loom_tensor *rm = loom_graph_find(g, "bn.running_mean"), *rv = loom_graph_find(g, "bn.running_var");
    loom_tensor *nbt = loom_graph_find(g, "bn.num_batches_tracked");
    memcpy(rm->data, fx(f, p, "running_mean0", NULL, NULL), C * sizeof(float));
    memcpy(rv->data, fx(f, p, "running_var0", NULL, NULL), C * sizeof(float));
    loom_tensor *w = NULL, *b = NULL;
    if (affine) {
      w = loom_graph_find(g, "bn.weight"), b = loom_graph_find(g, "bn.bias");
      memcpy(w->data, fx(f, p, "weight", NULL, NULL), C * sizeof(float));
      memcpy(b->data, fx(f, p, "bias", NULL, NULL), C * sizeof(float));
    }
    loom_tensor *dy = loom_input(g, "dy", LOOM_F32, cfg[0], xs);
    loom_tensor *loss = loom_sum(g, loom_mul(g, y, dy), LOOM_ALL, false);
    assert_int_equal(loom_graph_compile(g, 1, 1, &loss, true), 0);
    memcpy(dy->data, fx(f, p, "dy", NULL, NULL), nx * sizeof(float));
    loom_graph_set_training(g, train);
    loom_graph_zero_grad(g);
    loom_graph_forward(g);
    loom_graph_backward(g, loss);
    print_message("parity %s: %d-D, %s, %s\n", p, cfg[0], train ? "train" : "eval", affine ? "affine" : "no affine");
    check(p, "y", y->data, fx(f, p, "y", NULL, NULL), nx, 1e-5);
    check(p, "dx", x->grad, fx(f, p, "dx", NULL, NULL), nx, 1e-4);
    check(p, "running_mean", rm->data, fx(f, p, "running_mean", NULL, NULL), C, 1e-5);
    check(p, "running_var", rv->data, fx(f, p, "running_var", NULL, NULL), C, 1e-5);
    assert_float_equal(nbt->data[0], train ? 1.0f : 0.0f, 0);
    if (affine) {
      check(p, "dweight", w->grad, fx(f, p, "dweight", NULL, NULL), C, 1e-4);
      check(p, "dbias", b->grad, fx(f, p, "dbias", NULL, NULL), C, 1e-4);
    }
    loom_graph_free(g);
    cases++;
  }
  assert_true(cases >= 7);
  tu_fixture_free(f);
}

static void test_layernorm_pytorch_parity(void **state) {
  tu_fixture *f = tu_fixture_load("norm.fix");
  int cases = 0;
  char p[32], nm[64];
  for (int k = 0; k < 32; k++) {
    snprintf(p, sizeof p, "ln%d", k);
    snprintf(nm, sizeof nm, "%s.x", p);
    if (!tu_fixture_has(f, nm)) continue;
    snprintf(nm, sizeof nm, "%s.cfg", p);
    const bool affine = tu_fixture_i32(f, nm, NULL, NULL, NULL)[0];
    int xs[8], nd;
    size_t nx;
    snprintf(nm, sizeof nm, "%s.x", p);
    const float *x0 = tu_fixture_f32(f, nm, &nx, &nd, xs);
    loom_graph *g = loom_graph_new();
    loom_tensor *x = loom_param(g, "x", nd, xs);
    memcpy(x->data, x0, nx * sizeof(float));
    loom_layernorm_opts o = loom_layernorm_opts_default(xs[nd - 1]);
    o.eps = fx(f, p, "hp", NULL, NULL)[0], o.no_affine = !affine;
    loom_tensor *y = loom_layer_layernorm(g, "ln", x, &o, NULL);
    loom_tensor *w = loom_graph_find(g, "ln.weight"), *b = loom_graph_find(g, "ln.bias");
    const size_t D = (size_t)xs[nd - 1];
    if (affine) {
      memcpy(w->data, fx(f, p, "weight", NULL, NULL), D * sizeof(float));
      memcpy(b->data, fx(f, p, "bias", NULL, NULL), D * sizeof(float));
    } else {
      assert_null(w);
    }
    loom_tensor *dy = loom_input(g, "dy", LOOM_F32, nd, xs);
    loom_tensor *loss = loom_sum(g, loom_mul(g, y, dy), LOOM_ALL, false);
    assert_int_equal(loom_graph_compile(g, 1, 1, &loss, true), 0);
    memcpy(dy->data, fx(f, p, "dy", NULL, NULL), nx * sizeof(float));
    loom_graph_zero_grad(g);
    loom_graph_forward(g);
    loom_graph_backward(g, loss);
    print_message("parity %s: %d-D, D = %zu\n", p, nd, D);
    check(p, "y", y->data, fx(f, p, "y", NULL, NULL), nx, 1e-5);
    check(p, "dx", x->grad, fx(f, p, "dx", NULL, NULL), nx, 1e-4);
    if (affine) {
      check(p, "dweight", w->grad, fx(f, p, "dweight", NULL, NULL), D, 1e-4);
      check(p, "dbias", b->grad, fx(f, p, "dbias", NULL, NULL), D, 1e-4);
    }
    loom_graph_free(g);
    cases++;
  }
  assert_true(cases >= 4);
  tu_fixture_free(f);
}

/* ---------------------------------------------------------------- running statistics and layers */

/* Two training steps move the running statistics as PyTorch's formula says; eval steps leave them. */
static void test_running_stats_update_only_in_training(void **state) {
  loom_graph *g = loom_graph_new();
  loom_tensor *x = loom_input(g, "x", LOOM_F32, 2, (int[]){LOOM_BATCH, 2});
  loom_batchnorm_opts o = loom_batchnorm_opts_default(2);
  loom_tensor *y = loom_layer_batchnorm1d(g, "bn", x, &o, NULL);
  assert_int_equal(loom_graph_compile(g, 4, 1, &y, false), 0);
  loom_tensor *rm = loom_graph_find(g, "bn.running_mean"), *rv = loom_graph_find(g, "bn.running_var");
  loom_tensor *nbt = loom_graph_find(g, "bn.num_batches_tracked");
  assert_int_equal(loom_graph_n_buffer_tensors(g), 3);
  assert_float_equal(rv->data[0], 1.0f, 0);
  const float xs[8] = {1, 10, 2, 20, 3, 30, 6, 40}; /* channel 0: mean 3, var 3.5 / unbiased 14/3 */
  memcpy(x->data, xs, sizeof xs);
  loom_graph_forward(g); /* eval: running stats are (0, 1): y = x / sqrt(1 + eps) */
  assert_float_equal(y->data[0], 1.0f / sqrtf(1.0f + 1e-5f), 1e-6);
  assert_float_equal(rm->data[0], 0.0f, 0);
  assert_float_equal(nbt->data[0], 0.0f, 0);
  loom_graph_set_training(g, true);
  loom_graph_forward(g);
  assert_float_equal(y->data[0], (1.0f - 3.0f) / sqrtf(3.5f + 1e-5f), 1e-5);
  assert_float_equal(rm->data[0], 0.1f * 3.0f, 1e-6);
  assert_float_equal(rv->data[0], 0.9f + 0.1f * 14.0f / 3.0f, 1e-6);
  loom_graph_forward(g);
  assert_float_equal(rm->data[0], 0.9f * 0.3f + 0.1f * 3.0f, 1e-6);
  assert_float_equal(nbt->data[0], 2.0f, 0);
  loom_graph_set_training(g, false);
  const float rm0 = rm->data[0], rv1 = rv->data[1];
  loom_graph_forward(g);
  assert_float_equal(rm->data[0], rm0, 0);
  assert_float_equal(rv->data[1], rv1, 0);
  assert_float_equal(y->data[0], (1.0f - rm0) / sqrtf(rv->data[0] + 1e-5f), 1e-5);
  loom_graph_free(g);
}

static void test_shape_errors_and_names(void **state) {
  loom_graph *g = loom_graph_new();
  loom_tensor *x2 = loom_input(g, "feat", LOOM_F32, 2, (int[]){LOOM_BATCH, 6});
  loom_tensor *x4 = loom_input(g, "img", LOOM_F32, 4, (int[]){LOOM_BATCH, 5, 3, 3});
  loom_batchnorm_opts o6 = loom_batchnorm_opts_default(6), o5 = loom_batchnorm_opts_default(5);
  loom_tensor *y = loom_layer_batchnorm2d(g, "bad2d", x2, &o6, NULL);
  assert_int_equal(loom_graph_compile(g, 2, 1, &y, false), -1);
  assert_non_null(strstr(loom_graph_error(g), "BatchNorm2d wants (B, C, H, W), got (2, 6)"));
  y = loom_layer_batchnorm1d(g, "bad1d", x4, &o5, NULL);
  assert_int_equal(loom_graph_compile(g, 2, 1, &y, false), -1);
  assert_non_null(strstr(loom_graph_error(g), "BatchNorm1d"));
  y = loom_layer_batchnorm2d(g, "features.1", x4, &o6, NULL);
  assert_int_equal(loom_graph_compile(g, 2, 1, &y, false), -1);
  assert_non_null(strstr(loom_graph_error(g), "want (5)"));
  loom_layernorm_opts lo = loom_layernorm_opts_default(5);
  y = loom_layer_layernorm(g, "norm", x2, &lo, NULL);
  assert_int_equal(loom_graph_compile(g, 2, 1, &y, false), -1);
  assert_non_null(strstr(loom_graph_error(g), "want (6)"));
  y = loom_layer_batchnorm2d(g, "bn", x4, &o5, NULL);
  assert_int_equal(loom_graph_compile(g, 2, 1, &y, false), 0);
  const char *names[] = {"bn.weight", "bn.bias", "bn.running_mean", "bn.running_var", "bn.num_batches_tracked"};
  for (int i = 0; i < 5; i++) assert_non_null(loom_graph_find(g, names[i]));
  assert_int_equal(loom_graph_find(g, "bn.weight")->kind, LOOM_NODE_PARAM);
  assert_int_equal(loom_graph_find(g, "bn.running_var")->kind, LOOM_NODE_BUFFER);
  assert_float_equal(loom_graph_find(g, "bn.weight")->data[4], 1.0f, 0);
  loom_graph_free(g);
}

/* ---------------------------------------------------------------- threads */

static void run_norm_net(int compile_threads, int run_threads, float *out_grads, size_t *n, float *out_stats) {
  loom_set_num_threads(compile_threads);
  loom_rng r;
  loom_rng_seed(&r, 77);
  loom_graph *g = loom_graph_new();
  loom_tensor *x = loom_input(g, "x", LOOM_F32, 4, (int[]){LOOM_BATCH, 8, 20, 20});
  loom_batchnorm_opts bo = loom_batchnorm_opts_default(8);
  loom_tensor *h = loom_layer_batchnorm2d(g, "bn", x, &bo, NULL);
  loom_tensor *w = prm(g, "w", 1, (int[]){400}, &r, -1, 1);
  loom_layernorm_opts lo = loom_layernorm_opts_default(400);
  h = loom_layer_layernorm(g, "ln", loom_mul(g, loom_reshape(g, h, 3, (int[]){-1, 8, 400}), w), &lo, NULL);
  loom_tensor *loss = loom_sum(g, loom_mul(g, h, h), LOOM_ALL, false);
  assert_int_equal(loom_graph_compile(g, 16, 1, &loss, true), 0);
  tu_fill_uniform(x->data, loom_tensor_numel(x), -1, 3, &r);
  tu_fill_uniform(loom_graph_find(g, "ln.weight")->data, 400, 0.5f, 1.5f, &r);
  loom_set_num_threads(run_threads);
  loom_graph_set_training(g, true);
  loom_graph_zero_grad(g);
  loom_graph_forward(g);
  loom_graph_backward(g, loss);
  *n = loom_graph_n_params(g);
  if (out_grads) memcpy(out_grads, loom_graph_grads(g), *n * sizeof(float));
  memcpy(out_stats, loom_graph_find(g, "bn.running_var")->data, 8 * sizeof(float));
  loom_graph_free(g);
}

static void test_same_results_for_1_and_2_threads(void **state) {
  const int threads0 = loom_num_threads();
  size_t n;
  float stats0[8], stats[8];
  run_norm_net(1, 1, NULL, &n, stats0);
  float *ref = malloc(n * sizeof(float)), *got = malloc(n * sizeof(float));
  run_norm_net(1, 1, ref, &n, stats0);
  const int runs[3][2] = {{2, 2}, {2, 1}, {1, 2}};
  for (int i = 0; i < 3; i++) {
    run_norm_net(runs[i][0], runs[i][1], got, &n, stats);
    if (memcmp(ref, got, n * sizeof(float)) != 0) fail_msg("gradients differ in run %d", i);
    assert_memory_equal(stats0, stats, sizeof stats);
  }
  free(ref), free(got);
  loom_set_num_threads(threads0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_batchnorm_gradcheck),
      cmocka_unit_test(test_layernorm_gradcheck),
      cmocka_unit_test(test_batchnorm_pytorch_parity),
      cmocka_unit_test(test_layernorm_pytorch_parity),
      cmocka_unit_test(test_running_stats_update_only_in_training),
      cmocka_unit_test(test_shape_errors_and_names),
      cmocka_unit_test(test_same_results_for_1_and_2_threads),
  };
  return cmocka_run_group_tests_name("norm", tests, NULL, NULL);
}
