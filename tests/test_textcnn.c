/* test_textcnn.c — the fused conv1d_max op and the TextCNN layer: gradient checks (masked, texts shorter
 * than the window, empty texts, several widths, gradients w.r.t. x), PyTorch parity against
 * nn.Conv2d(1, F, (k, E)) + ReLU + masked max (tests/reference/gru/textcnn_*.fix from gen_gru.py), the
 * fused op against conv2d + seq_pool composed from existing ops, bit-identical results for 1 and 2
 * threads, names and init, and no heap allocation inside a training step. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "graph_internal.h"
#include "loom/ops_conv.h"
#include "loom/textcnn.h"
#include "testutil.h"

typedef struct {
  int N, T, E;
  const int32_t *lengths;
  uint64_t seed;
} gc_ctx;

static void gc_fill(loom_graph *g, void *p) {
  const gc_ctx *c = p;
  loom_rng r;
  loom_rng_seed(&r, c->seed);
  loom_tensor *x = loom_graph_find(g, "x");
  tu_fill_uniform(x->data, (size_t)c->N * c->T * c->E, -1.5f, 1.5f, &r);
  loom_tensor *len = loom_graph_find(g, "lengths");
  if (len) memcpy(len->idata, c->lengths, sizeof(int32_t) * (size_t)c->N);
}

static int gradcheck_layer(const gc_ctx *c, const loom_textcnn_opts *o) {
  loom_graph *g = loom_graph_new();
  loom_rng r;
  loom_rng_seed(&r, c->seed + 100);
  loom_tensor *x = loom_input(g, "x", LOOM_F32, 3, (int[]){LOOM_BATCH, c->T, c->E});
  x->requires_grad = true;
  loom_tensor *len = c->lengths ? loom_input(g, "lengths", LOOM_I32, 1, (int[]){LOOM_BATCH}) : NULL;
  loom_tensor *y = loom_layer_textcnn(g, "cnn", x, len, o, &r);
  for (int i = 0; i < loom_graph_n_param_tensors(g); i++) {
    loom_tensor *p = loom_graph_param_tensor(g, i);
    tu_fill_uniform(p->data, loom_tensor_numel(p), -0.7f, 0.7f, &r);
  }
  int n = tu_gradcheck(g, y, c->N, gc_fill, (void *)c, 1e-3, 2e-3, 1e-2);
  loom_graph_free(g);
  return n;
}

static void test_gradcheck_textcnn(void **state) {
  static const int32_t len5[5] = {8, 4, 1, 0, 2};
  const gc_ctx full = {3, 6, 5, NULL, 1}, masked = {5, 8, 4, len5, 2};
  int total = 0;
  total += gradcheck_layer(&full, &(loom_textcnn_opts){.input_size = 5, .filters = 4, .n_widths = 2, .widths = {1, 3}});
  total += gradcheck_layer(&masked, &(loom_textcnn_opts){.input_size = 4, .filters = 6, .n_widths = 3, .widths = {2, 3, 5}});
  print_message("textcnn gradcheck: %d gradient elements checked\n", total);
  assert_true(total > 500);
}

static void parity(const char *file) {
  tu_fixture *fx = tu_fixture_load(file);
  const int32_t *cfg = tu_fixture_i32(fx, "config", NULL, NULL, NULL), *widths = tu_fixture_i32(fx, "widths", NULL, NULL, NULL);
  const int N = cfg[0], T = cfg[1], E = cfg[2], F = cfg[3], nw = cfg[4];
  const bool masked = tu_fixture_i32(fx, "has_lengths", NULL, NULL, NULL)[0];
  loom_textcnn_opts o = loom_textcnn_opts_default(E, F);
  o.n_widths = nw;
  for (int i = 0; i < nw; i++) o.widths[i] = widths[i];
  loom_graph *g = loom_graph_new();
  loom_rng r;
  loom_rng_seed(&r, 5);
  loom_tensor *x = loom_input(g, "x", LOOM_F32, 3, (int[]){LOOM_BATCH, T, E});
  x->requires_grad = true;
  loom_tensor *len = masked ? loom_input(g, "lengths", LOOM_I32, 1, (int[]){LOOM_BATCH}) : NULL;
  loom_tensor *y = loom_layer_textcnn(g, "cnn", x, len, &o, &r);
  loom_tensor *R = loom_input(g, "R", LOOM_F32, 2, (int[]){N, nw * F});
  loom_input_bind(R, (void *)tu_fixture_f32(fx, "r", NULL, NULL, NULL));
  loom_tensor *loss = loom_sum(g, loom_mul(g, y, R), LOOM_ALL, false);
  assert_int_equal(loom_graph_compile(g, N, 1, &loss, true), 0);
  for (int i = 0; i < loom_graph_n_param_tensors(g); i++) {
    loom_tensor *p = loom_graph_param_tensor(g, i);
    char name[160];
    snprintf(name, sizeof name, "w.%s", strchr(p->name, '.') + 1);
    size_t n;
    int nd, shape[8];
    const float *v = tu_fixture_f32(fx, name, &n, &nd, shape);
    assert_int_equal(n, loom_tensor_numel(p));
    assert_int_equal(nd, p->ndim);
    for (int d = 0; d < nd; d++) assert_int_equal(shape[d], p->shape[d]);
    memcpy(p->data, v, n * sizeof(float));
  }
  memcpy(x->data, tu_fixture_f32(fx, "x", NULL, NULL, NULL), sizeof(float) * (size_t)N * T * E);
  if (masked) memcpy(len->idata, tu_fixture_i32(fx, "lengths", NULL, NULL, NULL), sizeof(int32_t) * (size_t)N);
  loom_graph_zero_grad(g);
  loom_graph_forward(g);
  loom_graph_backward(g, loss);
  char what[256];
  snprintf(what, sizeof what, "%s output", file);
  tu_assert_close(what, y->data, tu_fixture_f32(fx, "y", NULL, NULL, NULL), (size_t)N * nw * F, 1e-6, 1e-5);
  snprintf(what, sizeof what, "%s d x", file);
  tu_assert_close(what, x->grad, tu_fixture_f32(fx, "grad.x", NULL, NULL, NULL), (size_t)N * T * E, 1e-6, 1e-5);
  for (int i = 0; i < loom_graph_n_param_tensors(g); i++) {
    loom_tensor *p = loom_graph_param_tensor(g, i);
    char name[160];
    snprintf(name, sizeof name, "grad.%s", strchr(p->name, '.') + 1);
    snprintf(what, sizeof what, "%s d %s", file, p->name);
    tu_assert_close(what, p->grad, tu_fixture_f32(fx, name, NULL, NULL, NULL), loom_tensor_numel(p), 1e-6, 1e-5);
  }
  loom_graph_free(g);
  tu_fixture_free(fx);
}

static void test_matches_torch(void **state) {
  parity("gru/textcnn_small.fix");
  parity("gru/textcnn_masked.fix");
}

/* The same block from conv2d over x as (N, 1, T, E) with a (k, E) kernel, relu, a -1e30 mask on the
 * invalid windows and a (T - k + 1) x 1 max-pool. */
static void test_fused_equals_composed(void **state) {
  enum { N = 4, T = 7, E = 5, F = 6, K = 3, P = T - K + 1 };
  const int32_t lens[N] = {7, 3, 1, 5};
  loom_rng r;
  loom_rng_seed(&r, 19);
  float xbuf[N * T * E], rbuf[N * F], mbuf[N * P];
  tu_fill_uniform(xbuf, N * T * E, -1, 1, &r);
  tu_fill_uniform(rbuf, N * F, -1, 1, &r);
  for (int n = 0; n < N; n++)
    for (int t = 0; t < P; t++) mbuf[n * P + t] = t < (lens[n] - K + 1 > 1 ? lens[n] - K + 1 : 1) ? 0.0f : -1e30f;
  loom_graph *g = loom_graph_new();
  loom_tensor *x = loom_input(g, "x", LOOM_F32, 3, (int[]){N, T, E});
  x->requires_grad = true;
  loom_input_bind(x, xbuf);
  loom_tensor *len = loom_input(g, "lengths", LOOM_I32, 1, (int[]){N});
  loom_input_bind(len, (void *)lens);
  loom_tensor *mask = loom_input(g, "mask", LOOM_F32, 4, (int[]){N, 1, P, 1});
  loom_input_bind(mask, mbuf);
  loom_tensor *R = loom_input(g, "R", LOOM_F32, 2, (int[]){N, F});
  loom_input_bind(R, rbuf);
  loom_tensor *w = loom_param(g, "w", 4, (int[]){F, 1, K, E}), *b = loom_param(g, "b", 1, (int[]){F});
  tu_fill_uniform(w->data, F * K * E, -0.6f, 0.6f, &r);
  tu_fill_uniform(b->data, F, -0.3f, 0.3f, &r);
  loom_tensor *fused = loom_conv1d_max(g, x, len, w, b, true);
  loom_tensor *c = loom_conv2d(g, loom_reshape(g, x, 4, (int[]){N, 1, T, E}), w, b, 1, 1, (loom_padding){0});
  c = loom_relu(g, c); // (N, F, P, 1)
  loom_tensor *cm[F];
  for (int f = 0; f < F; f++) { /* per filter: (N, 1, P, 1) + mask, max over P */
    loom_tensor *cf = loom_slice(g, loom_reshape(g, c, 2, (int[]){N, F * P}), f * P, P);
    cf = loom_add(g, loom_reshape(g, cf, 4, (int[]){N, 1, P, 1}), mask);
    cm[f] = loom_reshape(g, loom_maxpool2d(g, cf, P, 1, 1, 1, (loom_padding){0}), 2, (int[]){N, 1});
  }
  loom_tensor *composed = loom_concat(g, F, cm);
  loom_tensor *ys[2] = {fused, composed};
  float out[2][N * F], grads[2][F * K * E + F + N * T * E];
  for (int k = 0; k < 2; k++) {
    loom_tensor *loss = loom_sum(g, loom_mul(g, ys[k], R), LOOM_ALL, false);
    assert_int_equal(loom_graph_compile(g, N, 1, &loss, true), 0);
    loom_graph_zero_grad(g);
    loom_graph_forward(g);
    loom_graph_backward(g, loss);
    memcpy(out[k], ys[k]->data, sizeof out[k]);
    memcpy(grads[k], w->grad, sizeof(float) * F * K * E);
    memcpy(grads[k] + F * K * E, b->grad, sizeof(float) * F);
    memcpy(grads[k] + F * K * E + F, x->grad, sizeof(float) * N * T * E);
  }
  tu_assert_close("fused vs composed: outputs", out[0], out[1], N * F, 1e-6, 1e-5);
  tu_assert_close("fused vs composed: gradients", grads[0], grads[1], F * K * E + F + N * T * E, 1e-6, 1e-5);
  loom_graph_free(g);
}

typedef struct {
  loom_graph *g;
  loom_tensor *x, *len, *loss;
} net;

static net build_net(int N, int T) {
  net n;
  loom_rng r;
  loom_rng_seed(&r, 23);
  n.g = loom_graph_new();
  n.x = loom_input(n.g, "x", LOOM_F32, 3, (int[]){LOOM_BATCH, T, 32});
  n.x->requires_grad = true;
  n.len = loom_input(n.g, "lengths", LOOM_I32, 1, (int[]){LOOM_BATCH});
  loom_textcnn_opts o = loom_textcnn_opts_default(32, 64);
  o.n_widths = 3, o.widths[0] = 2, o.widths[1] = 3, o.widths[2] = 4;
  loom_tensor *y = loom_layer_textcnn(n.g, "cnn", n.x, n.len, &o, &r);
  n.loss = loom_sum(n.g, loom_mul(n.g, y, y), LOOM_ALL, false);
  assert_int_equal(loom_graph_compile(n.g, N, 1, &n.loss, true), 0);
  loom_graph_set_training(n.g, true);
  tu_fill_uniform(n.x->data, (size_t)N * T * 32, -1, 1, &r);
  for (int b = 0; b < N; b++) n.len->idata[b] = (int32_t)loom_rng_below(&r, (uint32_t)T + 1);
  return n;
}

static void test_same_results_for_1_and_2_threads(void **state) {
  const int threads0 = loom_num_threads(), N = 67, T = 23;
  float *ref = NULL, *refx = NULL;
  for (int threads = 1; threads <= 2; threads++) {
    loom_set_num_threads(threads);
    net n = build_net(N, T);
    for (int step = 0; step < 2; step++) {
      loom_graph_zero_grad(n.g);
      loom_graph_forward(n.g);
      loom_graph_backward(n.g, n.loss);
      loom_k.axpy(loom_graph_n_params(n.g), -0.01f, loom_graph_grads(n.g), loom_graph_params(n.g));
    }
    const size_t np = loom_graph_n_params(n.g);
    if (!ref) {
      ref = malloc(np * sizeof(float));
      refx = malloc(sizeof(float) * N * T * 32);
      memcpy(ref, loom_graph_grads(n.g), np * sizeof(float));
      memcpy(refx, n.x->grad, sizeof(float) * N * T * 32);
    } else {
      if (memcmp(ref, loom_graph_grads(n.g), np * sizeof(float)) != 0) fail_msg("gradients differ for 1 and 2 threads");
      if (memcmp(refx, n.x->grad, sizeof(float) * N * T * 32) != 0) fail_msg("d x differs for 1 and 2 threads");
    }
    loom_graph_free(n.g);
  }
  free(ref);
  free(refx);
  loom_set_num_threads(threads0);
}

static void test_names_init_and_errors(void **state) {
  loom_rng r;
  loom_rng_seed(&r, 3);
  loom_graph *g = loom_graph_new();
  loom_tensor *x = loom_input(g, "x", LOOM_F32, 3, (int[]){LOOM_BATCH, 6, 10});
  loom_textcnn_opts o = loom_textcnn_opts_default(10, 8);
  assert_int_equal(o.n_widths, 3);
  assert_int_equal(o.init, LOOM_INIT_TORCH_DEFAULT);
  loom_tensor *y = loom_layer_textcnn(g, "text.cnn", x, NULL, &o, &r);
  assert_int_equal(loom_graph_n_param_tensors(g), 6);
  for (int i = 0; i < 3; i++) {
    char name[64];
    snprintf(name, sizeof name, "text.cnn.conv%d.weight", i);
    loom_tensor *w = loom_graph_find(g, name);
    assert_non_null(w);
    assert_int_equal(w->ndim, 4);
    assert_int_equal(w->shape[0], 8);
    assert_int_equal(w->shape[1], 1);
    assert_int_equal(w->shape[2], o.widths[i]);
    assert_int_equal(w->shape[3], 10);
    const float bound = 1.0f / sqrtf((float)(o.widths[i] * 10));
    float mx = 0;
    for (size_t j = 0; j < loom_tensor_numel(w); j++) mx = fmaxf(mx, fabsf(w->data[j]));
    assert_true(mx <= bound && mx > 0.8f * bound);
    snprintf(name, sizeof name, "text.cnn.conv%d.bias", i);
    assert_non_null(loom_graph_find(g, name));
  }
  assert_int_equal(loom_graph_compile(g, 2, 1, &y, false), 0);
  assert_int_equal(y->shape[1], 24);
  loom_graph_free(g);
  /* a window longer than the sequence is a compile error naming the op, not a crash */
  g = loom_graph_new();
  x = loom_input(g, "x", LOOM_F32, 3, (int[]){LOOM_BATCH, 3, 10});
  y = loom_layer_textcnn(g, "text.cnn", x, NULL, &o, &r);
  assert_int_not_equal(loom_graph_compile(g, 2, 1, &y, false), 0);
  if (!strstr(loom_graph_error(g), "longer than the sequence")) fail_msg("unexpected error: %s", loom_graph_error(g));
  loom_graph_free(g);
}

static void net_step(void *ctx) {
  net *n = ctx;
  loom_graph_zero_grad(n->g);
  loom_graph_forward(n->g);
  loom_graph_backward(n->g, n->loss);
}

static void test_no_heap_allocation_inside_a_step(void **state) {
  if (!tu_alloc_counting_available()) skip();
  net n = build_net(64, 40);
  tu_assert_no_alloc("TextCNN training step", net_step, &n, 2, 2);
  loom_graph_free(n.g);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_gradcheck_textcnn),
      cmocka_unit_test(test_matches_torch),
      cmocka_unit_test(test_fused_equals_composed),
      cmocka_unit_test(test_same_results_for_1_and_2_threads),
      cmocka_unit_test(test_names_init_and_errors),
      cmocka_unit_test(test_no_heap_allocation_inside_a_step),
  };
  return cmocka_run_group_tests_name("textcnn", tests, NULL, NULL);
}
