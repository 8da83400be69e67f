/* test_interact.c — the feature-interaction blocks (loom/interact.h): the DCN-v2 cross network,
 * pairwise dot products and field attention against PyTorch (tests/reference/gen_interact.py:
 * outputs and the gradients of sum(y * dy) for inputs and every parameter), each checked by central
 * differences, parameter names, and a training step of the three together that allocates nothing. */
#include <string.h>

#include "loom/interact.h"
#include "loom/rng.h"
#include "testutil.h"

typedef struct {
  loom_graph *g;
  loom_tensor *x, *y, *dy, *loss;
  int B;
} block;

static const float *fx(const tu_fixture *f, const char *tag, const char *what, size_t *n, int *ndim, int shape[8]) {
  char key[128];
  snprintf(key, sizeof key, "%s.%s", tag, what);
  return tu_fixture_f32(f, key, n, ndim, shape);
}

/* x from the fixture as a gradient-carrying input; the block's output y; loss = sum(y * dy). */
static block make(const tu_fixture *f, const char *tag, int which) {
  block b = {.g = loom_graph_new()};
  size_t n;
  int ndim, shape[8];
  const float *x = fx(f, tag, "x", &n, &ndim, shape);
  int dims[8];
  dims[0] = LOOM_BATCH;
  for (int i = 1; i < ndim; i++) dims[i] = shape[i];
  b.B = shape[0];
  b.x = loom_input(b.g, "x", LOOM_F32, ndim, dims);
  b.x->requires_grad = true;
  loom_rng rng;
  loom_rng_seed(&rng, 1);
  if (which == 0) {
    loom_cross_opts o = loom_cross_opts_default(shape[1], 2);
    b.y = loom_layer_cross(b.g, "fusion", b.x, &o, &rng);
  } else if (which == 1) {
    b.y = loom_pairwise_dot(b.g, b.x, shape[1], shape[2]);
  } else {
    loom_field_attention_opts o = loom_field_attention_opts_default(shape[1], shape[2]);
    b.y = loom_layer_field_attention(b.g, "fusion", b.x, &o, &rng);
  }
  size_t ny;
  int ndy, sdy[8];
  fx(f, tag, "dy", &ny, &ndy, sdy);
  int ddims[8] = {LOOM_BATCH};
  for (int i = 1; i < ndy; i++) ddims[i] = sdy[i];
  b.dy = loom_input(b.g, "dy", LOOM_F32, ndy, ddims);
  b.loss = loom_sum(b.g, loom_mul(b.g, b.y, b.dy), LOOM_ALL, false);
  assert_int_equal(loom_graph_compile(b.g, b.B, 2, (loom_tensor *[]){b.loss, b.y}, true), 0);
  memcpy(b.x->data, x, sizeof(float) * n);
  memcpy(b.dy->data, fx(f, tag, "dy", NULL, NULL, NULL), sizeof(float) * ny);
  /* parameters: loom's fusion.<name> is PyTorch's <name> */
  for (int i = 0; i < loom_graph_n_param_tensors(b.g); i++) {
    loom_tensor *p = loom_graph_param_tensor(b.g, i);
    assert_true(strncmp(p->name, "fusion.", 7) == 0);
    size_t np;
    const float *v = fx(f, tag, p->name + 7, &np, NULL, NULL);
    assert_int_equal(np, loom_tensor_numel(p));
    memcpy(p->data, v, sizeof(float) * np);
  }
  return b;
}

static void check(const tu_fixture *f, const char *tag, int which, int n_params) {
  block b = make(f, tag, which);
  assert_int_equal(loom_graph_n_param_tensors(b.g), n_params);
  loom_graph_zero_grad(b.g);
  loom_graph_forward(b.g);
  loom_graph_backward(b.g, b.loss);
  size_t n;
  const float *y = fx(f, tag, "y", &n, NULL, NULL);
  assert_int_equal(n, loom_tensor_numel(b.y));
  tu_assert_close(tag, b.y->data, y, n, 1e-5, 1e-4);
  const float *want = fx(f, tag, "dx", &n, NULL, NULL); /* n set before it is read */
  tu_assert_close("dx", b.x->grad, want, n, 1e-5, 1e-4);
  for (int i = 0; i < n_params; i++) {
    loom_tensor *p = loom_graph_param_tensor(b.g, i);
    char d[96];
    snprintf(d, sizeof d, "d%s", p->name + 7);
    want = fx(f, tag, d, &n, NULL, NULL);
    assert_int_equal(n, loom_tensor_numel(p));
    tu_assert_close(p->name, p->grad, want, n, 1e-5, 1e-4);
  }
  /* and by central differences through the composed ops */
  assert_true(tu_gradcheck(b.g, b.y, b.B, NULL, NULL, 1e-2, 3e-3, 2e-2) > 0);
  loom_graph_free(b.g);
}

static void test_cross_network_matches_pytorch(void **state) {
  tu_fixture *f = tu_fixture_load("interact.fix");
  check(f, "cross", 0, 4); /* cross0.weight, cross0.bias, cross1.weight, cross1.bias */
  block b = make(f, "cross", 0);
  assert_non_null(loom_graph_find(b.g, "fusion.cross0.weight"));
  assert_non_null(loom_graph_find(b.g, "fusion.cross1.bias"));
  loom_graph_free(b.g);
  tu_fixture_free(f);
}

static void test_pairwise_dot_matches_pytorch(void **state) {
  tu_fixture *f = tu_fixture_load("interact.fix");
  check(f, "dot", 1, 0);
  tu_fixture_free(f);
}

static void test_field_attention_matches_pytorch(void **state) {
  tu_fixture *f = tu_fixture_load("interact.fix");
  check(f, "att", 2, 3); /* attention.weight, attention.bias, score.weight */
  tu_fixture_free(f);
}

typedef struct {
  block b[3];
} three;

static void step(void *ctx) {
  three *t = ctx;
  for (int i = 0; i < 3; i++) {
    loom_graph_zero_grad(t->b[i].g);
    loom_graph_forward(t->b[i].g);
    loom_graph_backward(t->b[i].g, t->b[i].loss);
  }
}

static void test_steps_allocate_nothing(void **state) {
  if (!tu_alloc_counting_available()) skip();
  tu_fixture *f = tu_fixture_load("interact.fix");
  three t = {{make(f, "cross", 0), make(f, "dot", 1), make(f, "att", 2)}};
  tu_assert_no_alloc("interaction blocks: forward + backward", step, &t, 2, 3);
  for (int i = 0; i < 3; i++) loom_graph_free(t.b[i].g);
  tu_fixture_free(f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_cross_network_matches_pytorch), cmocka_unit_test(test_pairwise_dot_matches_pytorch),
      cmocka_unit_test(test_field_attention_matches_pytorch), cmocka_unit_test(test_steps_allocate_nothing)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
