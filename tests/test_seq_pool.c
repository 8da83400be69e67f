/* test_seq_pool.c — the sequence-pooling layer (loom/seq_pool.h): mean and max over the valid steps
 * only (with the caller's 1/length and mask inputs) and over every step (without them), the last state
 * passed through, the output node's name, gradients reaching valid steps only, and the mode names. */
#include <math.h>
#include <string.h>

#include "loom/seq_pool.h"
#include "testutil.h"

enum { N = 3, T = 4, D = 2 };
static const int32_t lens[N] = {4, 2, 0}; /* full, half, empty */

/* x[n, t, d] = 2 t + d - 5 - 10 n (sequence 0 changes sign, sequence 1 is negative, so its padded
 * zeros would win a max without the mask); padded steps are zero, as an LSTM's. */
static void fill_x(float *x) {
  for (int n = 0; n < N; n++)
    for (int t = 0; t < T; t++)
      for (int d = 0; d < D; d++) x[(n * T + t) * D + d] = t < lens[n] ? (float)(2 * t + d - 5 - 10 * n) : 0.0f;
}

typedef struct {
  loom_graph *g;
  loom_tensor *x, *inv, *mask, *y;
} pool_net;

static pool_net build(loom_seq_pool_mode mode, bool with_aux) {
  pool_net p = {.g = loom_graph_new()};
  p.x = loom_input(p.g, "x", LOOM_F32, 3, (int[]){LOOM_BATCH, T, D});
  p.x->requires_grad = true;
  if (with_aux && mode == LOOM_SEQ_POOL_MEAN) p.inv = loom_input(p.g, "inv", LOOM_F32, 2, (int[]){LOOM_BATCH, 1});
  if (with_aux && mode == LOOM_SEQ_POOL_MAX) p.mask = loom_input(p.g, "mask", LOOM_F32, 2, (int[]){LOOM_BATCH, T});
  loom_seq_pool_opts o = loom_seq_pool_opts_default(mode, T, D);
  p.y = loom_layer_seq_pool(p.g, "text.pool", p.x, p.inv, p.mask, &o);
  loom_tensor *loss = loom_sum(p.g, p.y, LOOM_ALL, false);
  assert_int_equal(loom_graph_compile(p.g, N, 2, (loom_tensor *[]){loss, p.y}, true), 0);
  fill_x(p.x->data);
  for (int n = 0; p.inv && n < N; n++) p.inv->data[n] = 1.0f / (float)(lens[n] > 0 ? lens[n] : 1);
  for (int n = 0; p.mask && n < N; n++)
    for (int t = 0; t < T; t++) p.mask->data[n * T + t] = t < lens[n] || lens[n] == 0 ? 0.0f : -1e30f;
  loom_graph_zero_grad(p.g);
  loom_graph_forward(p.g);
  loom_graph_backward(p.g, loss);
  return p;
}

static void test_mean_over_valid_steps_and_over_all(void **state) {
  pool_net p = build(LOOM_SEQ_POOL_MEAN, true);
  assert_string_equal(p.y->name, "text.pool");
  assert_int_equal(p.y->ndim, 2);
  assert_int_equal(p.y->shape[1], D);
  /* n = 0: mean over t = 0..3 of 2t + d - 5 = d - 2; n = 1: over t = 0, 1 of 2t + d - 15 = d - 14; empty: 0 */
  const float want[N * D] = {-2, -1, -14, -13, 0, 0};
  tu_assert_close("mean over valid steps", p.y->data, want, N * D, 0, 0);
  for (int n = 0; n < N; n++) /* d y / d x = 1 / len at every step (padded steps are the LSTM's zeros) */
    assert_true(p.x->grad[(n * T) * D] == (n == 2 ? 1.0f : 1.0f / (float)lens[n]));
  loom_graph_free(p.g);
  p = build(LOOM_SEQ_POOL_MEAN, false);
  const float all[N * D] = {-2, -1, -7, -6.5f, 0, 0}; /* every step: (sum of the valid ones) / T */
  tu_assert_close("mean over every step", p.y->data, all, N * D, 0, 0);
  loom_graph_free(p.g);
}

static void test_max_over_valid_steps_and_over_all(void **state) {
  pool_net p = build(LOOM_SEQ_POOL_MAX, true);
  assert_string_equal(p.y->name, "text.pool");
  /* n = 0: t = 3 gives 1, 2; n = 1: t = 1 gives -13, -12 (not the padding's 0); the empty sequence: 0 */
  const float want[N * D] = {1, 2, -13, -12, 0, 0};
  tu_assert_close("max over valid steps", p.y->data, want, N * D, 0, 0);
  for (int t = 0; t < T; t++) /* the gradient goes to the argmax step only, never to padding */
    for (int d = 0; d < D; d++) {
      assert_true(p.x->grad[(0 * T + t) * D + d] == (t == 3 ? 1.0f : 0.0f));
      assert_true(p.x->grad[(1 * T + t) * D + d] == (t == 1 ? 1.0f : 0.0f));
    }
  loom_graph_free(p.g);
  p = build(LOOM_SEQ_POOL_MAX, false); /* every step counts: sequence 1's padded zeros win */
  const float all[N * D] = {1, 2, 0, 0, 0, 0};
  tu_assert_close("max over every step", p.y->data, all, N * D, 0, 0);
  loom_graph_free(p.g);
}

static void test_last_passes_the_state_through(void **state) {
  loom_graph *g = loom_graph_new();
  loom_tensor *h = loom_input(g, "h", LOOM_F32, 2, (int[]){LOOM_BATCH, D});
  loom_seq_pool_opts o = loom_seq_pool_opts_default(LOOM_SEQ_POOL_LAST, T, D);
  const int before = loom_graph_n_nodes(g);
  assert_ptr_equal(loom_layer_seq_pool(g, "p", h, NULL, NULL, &o), h);
  assert_int_equal(loom_graph_n_nodes(g), before);
  assert_string_equal(h->name, "h");
  loom_graph_free(g);
}

static void test_mode_names(void **state) {
  for (int m = LOOM_SEQ_POOL_LAST; m <= LOOM_SEQ_POOL_MAX; m++) {
    loom_seq_pool_mode got = (loom_seq_pool_mode)-1;
    assert_int_equal(loom_seq_pool_parse(loom_seq_pool_name((loom_seq_pool_mode)m), &got), 0);
    assert_int_equal(got, m);
  }
  assert_string_equal(loom_seq_pool_name(LOOM_SEQ_POOL_MEAN), "mean");
  assert_string_equal(loom_seq_pool_name((loom_seq_pool_mode)7), "?");
  loom_seq_pool_mode got = LOOM_SEQ_POOL_MAX;
  assert_int_equal(loom_seq_pool_parse("avg", &got), -1);
  assert_int_equal(loom_seq_pool_parse(NULL, &got), -1);
  assert_int_equal(got, LOOM_SEQ_POOL_MAX);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_mean_over_valid_steps_and_over_all),
      cmocka_unit_test(test_max_over_valid_steps_and_over_all),
      cmocka_unit_test(test_last_passes_the_state_through),
      cmocka_unit_test(test_mode_names),
  };
  return cmocka_run_group_tests_name("seq_pool", tests, NULL, NULL);
}
