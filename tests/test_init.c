/* test_init.c — initialisers: bounds and moments of each distribution, orthogonality, determinism. */
#include <math.h>
#include <stdlib.h>

#include "loom/init.h"
#include "testutil.h"

static void moments(const float *x, size_t n, double *mean, double *var, double *maxabs) {
  double s = 0, s2 = 0, m = 0;
  for (size_t i = 0; i < n; i++) {
    s += x[i];
    s2 += (double)x[i] * x[i];
    m = fabs(x[i]) > m ? fabs(x[i]) : m;
  }
  *mean = s / (double)n;
  *var = s2 / (double)n - *mean * *mean;
  *maxabs = m;
}

static void test_distributions_have_the_stated_scale(void **state) {
  loom_graph *g = loom_graph_new();
  loom_tensor *w = loom_param(g, "w", 2, (int[]){300, 200}); /* fan_in 200, fan_out 300 */
  loom_rng r;
  loom_rng_seed(&r, 1);
  struct { loom_init_kind kind; double var; double bound; } cases[] = {
      {LOOM_INIT_GLOROT_UNIFORM, 2.0 / 500, sqrt(6.0 / 500)},
      {LOOM_INIT_GLOROT_NORMAL, 2.0 / 500, 0},
      {LOOM_INIT_HE_UNIFORM, 2.0 / 200, sqrt(6.0 / 200)},
      {LOOM_INIT_HE_NORMAL, 2.0 / 200, 0},
      {LOOM_INIT_TORCH_DEFAULT, 1.0 / 600, sqrt(1.0 / 200)},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    loom_init_tensor(w, (loom_init){cases[c].kind, 0}, &r);
    double mean, var, maxabs;
    moments(w->data, 60000, &mean, &var, &maxabs);
    assert_true(fabs(mean) < 0.05 * sqrt(cases[c].var));
    assert_true(fabs(var / cases[c].var - 1.0) < 0.03);
    if (cases[c].bound > 0) assert_true(maxabs <= cases[c].bound);
  }
  loom_graph_free(g);
}

static void test_orthogonal_rows_and_columns(void **state) {
  loom_rng r;
  loom_rng_seed(&r, 2);
  int shapes[2][2] = {{32, 128}, {128, 32}};
  for (int s = 0; s < 2; s++) {
    int rows = shapes[s][0], cols = shapes[s][1];
    float *x = malloc(sizeof(float) * (size_t)rows * (size_t)cols);
    loom_init_fill(x, rows, cols, cols, rows, (loom_init){LOOM_INIT_ORTHOGONAL, 2.0f}, &r);
    int n = rows < cols ? rows : cols;
    for (int i = 0; i < n; i++)
      for (int j = 0; j < n; j++) {
        double dot = 0;
        for (int k = 0; k < (rows < cols ? cols : rows); k++)
          dot += rows < cols ? (double)x[i * cols + k] * x[j * cols + k] : (double)x[k * cols + i] * x[k * cols + j];
        assert_float_equal(dot, i == j ? 4.0 : 0.0, 1e-4);
      }
    free(x);
  }
}

static void test_same_seed_same_values_and_names_parse(void **state) {
  float a[100], b[100];
  loom_rng r1, r2;
  loom_rng_seed(&r1, 9);
  loom_rng_seed(&r2, 9);
  loom_init_fill(a, 10, 10, 10, 10, (loom_init){LOOM_INIT_HE_NORMAL, 0}, &r1);
  loom_init_fill(b, 10, 10, 10, 10, (loom_init){LOOM_INIT_HE_NORMAL, 0}, &r2);
  assert_memory_equal(a, b, sizeof a);
  loom_init_kind k;
  assert_int_equal(loom_init_parse("xavier_uniform", &k), 0);
  assert_int_equal(k, LOOM_INIT_GLOROT_UNIFORM);
  for (int i = 0; i <= LOOM_INIT_ORTHOGONAL; i++) {
    assert_int_equal(loom_init_parse(loom_init_name((loom_init_kind)i), &k), 0);
    assert_int_equal(k, i);
  }
  assert_int_equal(loom_init_parse("glorot", &k), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_distributions_have_the_stated_scale),
      cmocka_unit_test(test_orthogonal_rows_and_columns),
      cmocka_unit_test(test_same_seed_same_values_and_names_parse),
  };
  return cmocka_run_group_tests_name("init", tests, NULL, NULL);
}
