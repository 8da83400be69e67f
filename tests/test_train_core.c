/* test_train_core.c — a fixed-seed end-to-end training run on the core alone: a GELU MLP learns the
 * two-spirals problem with the Adam kernel. The loss must fall below a stated value, accuracy must
 * pass a stated floor, and a second run with the same seed must give bit-identical losses. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "loom/synthetic.h"
#include "testutil.h"

enum { N = 2000, BATCH = 50, HIDDEN = 48, EPOCHS = 40 };

typedef struct {
  float first_loss, last_loss, accuracy;
  float losses[EPOCHS];
} run_result;

static run_result train(uint64_t seed) {
  run_result res = {0};
  loom_rng rng;
  loom_rng_seed(&rng, seed);
  static float x[N * 2];
  static int32_t y[N], perm[N];
  loom_synth_spirals(N, 1.5f, 0.02f, &rng, x, y);

  loom_graph *g = loom_graph_new();
  loom_tensor *in = loom_input(g, "x", LOOM_F32, 2, (int[]){LOOM_BATCH, 2});
  loom_tensor *target = loom_input(g, "target", LOOM_F32, 2, (int[]){LOOM_BATCH, 2});
  loom_tensor *w1 = loom_param(g, "w1", 2, (int[]){HIDDEN, 2}), *b1 = loom_param(g, "b1", 1, (int[]){HIDDEN});
  loom_tensor *w2 = loom_param(g, "w2", 2, (int[]){HIDDEN, HIDDEN}), *b2 = loom_param(g, "b2", 1, (int[]){HIDDEN});
  loom_tensor *w3 = loom_param(g, "w3", 2, (int[]){2, HIDDEN});
  loom_init_tensor(w1, (loom_init){LOOM_INIT_GLOROT_UNIFORM, 0}, &rng);
  loom_init_tensor(w2, (loom_init){LOOM_INIT_GLOROT_UNIFORM, 0}, &rng);
  loom_init_tensor(w3, (loom_init){LOOM_INIT_GLOROT_UNIFORM, 0}, &rng);
  loom_tensor *h = loom_gelu(g, loom_add(g, loom_matmul(g, in, w1, false, true), b1));
  h = loom_gelu(g, loom_add(g, loom_matmul(g, h, w2, false, true), b2));
  loom_tensor *logits = loom_matmul(g, h, w3, false, true);
  loom_tensor *nll = loom_sum(g, loom_mul(g, loom_log_softmax(g, logits), target), -1, false);
  loom_tensor *loss = loom_scale(g, loom_mean(g, nll, LOOM_ALL, false), -1.0f, 0.0f);
  assert_int_equal(loom_graph_compile(g, BATCH, 1, &loss, true), 0);

  const size_t np = loom_graph_n_params(g);
  float *m = calloc(np, sizeof(float)), *v = calloc(np, sizeof(float));
  for (int i = 0; i < N; i++) perm[i] = i;
  long t = 0;
  for (int epoch = 0; epoch < EPOCHS; epoch++) {
    loom_rng_shuffle(&rng, perm, N);
    double sum = 0;
    for (int s = 0; s < N / BATCH; s++) {
      memset(target->data, 0, sizeof(float) * 2 * BATCH);
      for (int i = 0; i < BATCH; i++) {
        int k = perm[s * BATCH + i];
        memcpy(in->data + 2 * i, x + 2 * k, 2 * sizeof(float));
        target->data[2 * i + y[k]] = 1.0f;
      }
      loom_graph_zero_grad(g);
      loom_graph_forward(g);
      loom_graph_backward(g, loss);
      t++;
      loom_k.adam(np, loom_graph_params(g), loom_graph_grads(g), m, v, 0.01f, 0.9f, 0.999f, 1e-8f,
                  1.0f - powf(0.9f, (float)t), 1.0f - powf(0.999f, (float)t), 0.0f);
      sum += loss->data[0];
    }
    res.losses[epoch] = (float)(sum / (N / BATCH));
  }
  res.first_loss = res.losses[0];
  res.last_loss = res.losses[EPOCHS - 1];

  /* accuracy on fresh points from the same distribution */
  loom_synth_spirals(N, 1.5f, 0.02f, &rng, x, y);
  assert_int_equal(loom_graph_compile(g, N, 1, &logits, false), 0);
  memcpy(in->data, x, sizeof x);
  loom_graph_forward(g);
  int correct = 0;
  for (int i = 0; i < N; i++) correct += (logits->data[2 * i + 1] > logits->data[2 * i]) == (y[i] == 1);
  res.accuracy = (float)correct / N;
  free(m);
  free(v);
  loom_graph_free(g);
  return res;
}

static void test_mlp_learns_spirals(void **state) {
  run_result r = train(2024);
  print_message("spirals: loss %.4f -> %.4f, held-out accuracy %.3f\n", r.first_loss, r.last_loss, r.accuracy);
  assert_true(r.first_loss > 0.5f);  /* starts near log 2 = 0.69 */
  assert_true(r.last_loss < 0.05f);  /* stated value (PyTorch 1.13, same model and Adam: 0.002) */
  assert_true(r.accuracy >= 0.97f);  /* stated floor */
  for (int e = 5; e < EPOCHS; e++) assert_true(r.losses[e] < r.losses[0]);
}

static void test_same_seed_same_losses(void **state) {
  run_result a = train(7), b = train(7), c = train(8);
  assert_memory_equal(a.losses, b.losses, sizeof a.losses);
  assert_true(memcmp(a.losses, c.losses, sizeof a.losses) != 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_mlp_learns_spirals),
      cmocka_unit_test(test_same_seed_same_losses),
  };
  return cmocka_run_group_tests_name("train_core", tests, NULL, NULL);
}
