/* test_attention.c — the fused multi-head self-attention op (loom_mha): PyTorch parity against
 * torch.nn.MultiheadAttention with key_padding_mask (fixtures in tests/reference/attention from
 * gen_attention.py) on every ISA, bit-identical results for 1 and 2 threads, and no heap allocation
 * inside a training step. (Its central-difference gradient check is in test_autograd's op table.) */
#include <stdlib.h>
#include <string.h>

#include "loom/ops_attention.h"
#include "loom/runtime.h"
#include "testutil.h"

static void parity(const char *file) {
  tu_fixture *fx = tu_fixture_load(file);
  const int32_t *cfg = tu_fixture_i32(fx, "config", NULL, NULL, NULL);
  const int B = cfg[0], T = cfg[1], D = cfg[2], H = cfg[3];
  const bool masked = tu_fixture_i32(fx, "has_lengths", NULL, NULL, NULL)[0];
  loom_graph *g = loom_graph_new();
  loom_tensor *x = loom_input(g, "x", LOOM_F32, 3, (int[]){LOOM_BATCH, T, D});
  x->requires_grad = true;
  loom_tensor *len = masked ? loom_input(g, "lengths", LOOM_I32, 1, (int[]){LOOM_BATCH}) : NULL;
  const char *names[4] = {"in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"};
  loom_tensor *w[4] = {loom_param(g, names[0], 2, (int[]){3 * D, D}), loom_param(g, names[1], 1, (int[]){3 * D}),
                       loom_param(g, names[2], 2, (int[]){D, D}), loom_param(g, names[3], 1, (int[]){D})};
  loom_tensor *y = loom_mha(g, x, len, w[0], w[1], w[2], w[3], H);
  loom_tensor *R = loom_input(g, "R", LOOM_F32, 3, (int[]){B, T, D});
  loom_input_bind(R, (void *)tu_fixture_f32(fx, "r", NULL, NULL, NULL));
  loom_tensor *loss = loom_sum(g, loom_mul(g, y, R), LOOM_ALL, false);
  assert_int_equal(loom_graph_compile(g, B, 1, &loss, true), 0);
  char what[256], key[160];
  for (int i = 0; i < 4; i++) {
    size_t n;
    snprintf(key, sizeof key, "w.%s", names[i]);
    const float *v = tu_fixture_f32(fx, key, &n, NULL, NULL);
    assert_int_equal(n, loom_tensor_numel(w[i]));
    memcpy(w[i]->data, v, n * sizeof(float));
  }
  memcpy(x->data, tu_fixture_f32(fx, "x", NULL, NULL, NULL), sizeof(float) * (size_t)B * T * D);
  if (masked) memcpy(len->idata, tu_fixture_i32(fx, "lengths", NULL, NULL, NULL), sizeof(int32_t) * (size_t)B);
  loom_graph_zero_grad(g);
  loom_graph_forward(g);
  loom_graph_backward(g, loss);
  snprintf(what, sizeof what, "%s output", file);
  tu_assert_close(what, y->data, tu_fixture_f32(fx, "y", NULL, NULL, NULL), (size_t)B * T * D, 1e-5, 1e-4);
  snprintf(what, sizeof what, "%s d x", file);
  tu_assert_close(what, x->grad, tu_fixture_f32(fx, "grad.x", NULL, NULL, NULL), (size_t)B * T * D, 1e-5, 1e-4);
  for (int i = 0; i < 4; i++) {
    snprintf(key, sizeof key, "grad.%s", names[i]);
    snprintf(what, sizeof what, "%s d %s", file, names[i]);
    tu_assert_close(what, w[i]->grad, tu_fixture_f32(fx, key, NULL, NULL, NULL), loom_tensor_numel(w[i]), 1e-5, 1e-4);
  }
  loom_graph_free(g);
  tu_fixture_free(fx);
}

static void test_matches_torch(void **state) {
  const char *files[] = {"attention/mha_small.fix", "attention/mha_masked.fix", "attention/mha_medium_masked.fix"};
  loom_isa best = loom_runtime_isa();
  for (int isa = 0; isa < LOOM_ISA_COUNT; isa++) {
    if (!loom_runtime_set_isa((loom_isa)isa)) continue;
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) parity(files[i]);
  }
  loom_runtime_set_isa(best);
}

typedef struct {
  loom_graph *g;
  loom_tensor *x, *len, *loss;
} net;

/* B samples of lengths 0..T, D = 32 in 4 heads, loss = sum(y²). */
static net build_net(int B, int T) {
  const int D = 32;
  net n = {.g = loom_graph_new()};
  loom_rng r;
  loom_rng_seed(&r, 3);
  n.x = loom_input(n.g, "x", LOOM_F32, 3, (int[]){LOOM_BATCH, T, D});
  n.x->requires_grad = true;
  n.len = loom_input(n.g, "lengths", LOOM_I32, 1, (int[]){LOOM_BATCH});
  loom_tensor *w[4] = {loom_param(n.g, "wi", 2, (int[]){3 * D, D}), loom_param(n.g, "bi", 1, (int[]){3 * D}),
                       loom_param(n.g, "wo", 2, (int[]){D, D}), loom_param(n.g, "bo", 1, (int[]){D})};
  for (int i = 0; i < 4; i++) tu_fill_uniform(w[i]->data, loom_tensor_numel(w[i]), -0.3f, 0.3f, &r);
  loom_tensor *y = loom_mha(n.g, n.x, n.len, w[0], w[1], w[2], w[3], 4);
  n.loss = loom_sum(n.g, loom_mul(n.g, y, y), LOOM_ALL, false);
  assert_int_equal(loom_graph_compile(n.g, B, 1, &n.loss, true), 0);
  tu_fill_uniform(n.x->data, (size_t)B * T * D, -1, 1, &r);
  for (int b = 0; b < B; b++) n.len->idata[b] = (int32_t)loom_rng_below(&r, (uint32_t)T + 1); /* 0..T */
  return n;
}

static void test_same_results_for_1_and_2_threads(void **state) {
  const int threads0 = loom_num_threads(), B = 37, T = 13;
  float *ref = NULL, *refx = NULL;
  const size_t nx = (size_t)B * T * 32;
  for (int threads = 1; threads <= 2; threads++) {
    loom_set_num_threads(threads);
    net n = build_net(B, T);
    loom_graph_zero_grad(n.g);
    loom_graph_forward(n.g);
    loom_graph_backward(n.g, n.loss);
    const size_t np = loom_graph_n_params(n.g);
    if (!ref) {
      ref = malloc(np * sizeof(float));
      refx = malloc(nx * sizeof(float));
      memcpy(ref, loom_graph_grads(n.g), np * sizeof(float));
      memcpy(refx, n.x->grad, nx * sizeof(float));
    } else {
      if (memcmp(ref, loom_graph_grads(n.g), np * sizeof(float)) != 0) fail_msg("gradients differ for 1 and 2 threads");
      if (memcmp(refx, n.x->grad, nx * sizeof(float)) != 0) fail_msg("d x differs for 1 and 2 threads");
    }
    loom_graph_free(n.g);
  }
  free(ref);
  free(refx);
  loom_set_num_threads(threads0);
}

static void net_step(void *ctx) {
  net *n = ctx;
  loom_graph_zero_grad(n->g);
  loom_graph_forward(n->g);
  loom_graph_backward(n->g, n->loss);
}

static void test_no_heap_allocation_inside_a_step(void **state) {
  if (!tu_alloc_counting_available()) skip(); /* AddressSanitizer build */
  net n = build_net(64, 64);
  tu_assert_no_alloc("attention training step", net_step, &n, 2, 2);
  loom_graph_free(n.g);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_matches_torch),
      cmocka_unit_test(test_same_results_for_1_and_2_threads),
      cmocka_unit_test(test_no_heap_allocation_inside_a_step),
  };
  return cmocka_run_group_tests_name("attention", tests, NULL, NULL);
}
