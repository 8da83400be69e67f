/* test_index.c — exact top-K search: against a brute-force sort on random data (cosine, dot, euclidean,
 * manhattan),
 * ties broken towards the lower row, exclusions (short and long lists), k larger than the index,
 * zero rows, non-finite rows rejected, and no allocation per search. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "loom/index.h"
#include "testutil.h"

typedef struct {
  float s;
  int64_t r;
} scored;

static int by_best(const void *a, const void *b) {
  const scored *x = a, *y = b;
  if (x->s != y->s) return x->s > y->s ? -1 : 1;
  return (x->r > y->r) - (x->r < y->r);
}

static void check_against_brute_force(loom_index_metric metric) {
  enum { N = 3001, D = 37, K = 25 };
  loom_rng r;
  loom_rng_seed(&r, 5 + (uint64_t)metric);
  float *rows = malloc(sizeof(float) * N * D), q[D];
  tu_fill_uniform(rows, (size_t)N * D, -1, 1, &r);
  loom_error err = {""};
  loom_index *ix = loom_index_new(rows, N, D, metric, &err);
  assert_non_null(ix);
  scored *all = malloc(sizeof(scored) * N);
  int64_t got_r[K];
  float got_s[K];
  for (int trial = 0; trial < 5; trial++) {
    tu_fill_uniform(q, D, -1, 1, &r);
    int64_t excl[3] = {7, 1000, 2999};
    int n = loom_index_search(ix, q, K, trial % 2 ? excl : NULL, trial % 2 ? 3 : 0, got_r, got_s);
    assert_int_equal(n, K);
    double qn = 0;
    for (int j = 0; j < D; j++) qn += (double)q[j] * q[j];
    int m = 0;
    for (int64_t i = 0; i < N; i++) {
      if (trial % 2 && (i == 7 || i == 1000 || i == 2999)) continue;
      double dot = 0, rn = 0, l2 = 0, l1 = 0;
      for (int j = 0; j < D; j++) {
        double x = rows[i * D + j];
        dot += x * q[j], rn += x * x, l2 += (x - q[j]) * (x - q[j]), l1 += fabs(x - q[j]);
      }
      all[m].s = (float)(metric == LOOM_INDEX_COSINE ? dot / sqrt(rn * qn)
                         : metric == LOOM_INDEX_DOT  ? dot
                         : metric == LOOM_INDEX_EUCLIDEAN ? -sqrt(l2)
                                                          : -l1);
      all[m++].r = i;
    }
    qsort(all, (size_t)m, sizeof *all, by_best);
    for (int k = 0; k < K; k++) {
      assert_int_equal(got_r[k], all[k].r);
      assert_float_equal(got_s[k], all[k].s, metric == LOOM_INDEX_MANHATTAN ? 1e-4 : 1e-5);
    }
    /* full scores agree with the search */
    float *sc = malloc(sizeof(float) * N);
    loom_index_scores(ix, q, sc);
    assert_float_equal(sc[got_r[0]], got_s[0], 0);
    free(sc);
  }
  free(all);
  free(rows);
  loom_index_free(ix);
}

static void test_cosine_matches_brute_force(void **state) { check_against_brute_force(LOOM_INDEX_COSINE); }
static void test_dot_matches_brute_force(void **state) { check_against_brute_force(LOOM_INDEX_DOT); }
static void test_euclidean_matches_brute_force(void **state) { check_against_brute_force(LOOM_INDEX_EUCLIDEAN); }
static void test_manhattan_matches_brute_force(void **state) { check_against_brute_force(LOOM_INDEX_MANHATTAN); }

/* Ties under every metric: equal rows score equal, and the lower row comes first. */
static void test_ties_every_metric(void **state) {
  /* rows 1, 3 and 4 are the same vector; row 0 and 2 differ */
  const float rows[5 * 3] = {-1, 0, 2, 1, 2, 3, 0, 0, 0, 1, 2, 3, 1, 2, 3};
  const float q[3] = {1, 2, 2.5f};
  for (int m = 0; m < LOOM_INDEX_N_METRICS; m++) {
    loom_error err = {""};
    loom_index *ix = loom_index_new(rows, 5, 3, (loom_index_metric)m, &err);
    assert_non_null(ix);
    int64_t r[5];
    float s[5];
    assert_int_equal(loom_index_search(ix, q, 3, NULL, 0, r, s), 3);
    assert_int_equal(r[0], 1);
    assert_int_equal(r[1], 3);
    assert_int_equal(r[2], 4);
    assert_true(s[0] == s[1] && s[1] == s[2]);
    assert_int_equal(loom_index_search(ix, q, 2, (const int64_t[]){3}, 1, r, s), 2);
    assert_int_equal(r[0], 1);
    assert_int_equal(r[1], 4);
    loom_index_free(ix);
  }
}

static void test_ties_small_k_and_edge_cases(void **state) {
  /* rows 1 and 3 are the same direction as the query; row 2 is zero; row 0 opposite */
  const float rows[4 * 2] = {-1, 0, 2, 0, 0, 0, 5, 0};
  loom_error err = {""};
  loom_index *ix = loom_index_new(rows, 4, 2, LOOM_INDEX_COSINE, &err);
  const float q[2] = {3, 0};
  int64_t r[8];
  float s[8];
  assert_int_equal(loom_index_search(ix, q, 8, NULL, 0, r, s), 4); /* k > n: all rows */
  assert_int_equal(r[0], 1); /* tie at 1.0: lower row first */
  assert_int_equal(r[1], 3);
  assert_int_equal(r[2], 2); /* zero row scores 0 */
  assert_int_equal(r[3], 0);
  assert_float_equal(s[0], 1.0f, 1e-6);
  assert_float_equal(s[3], -1.0f, 1e-6);
  assert_int_equal(loom_index_search(ix, q, 1, (const int64_t[]){1}, 1, r, s), 1);
  assert_int_equal(r[0], 3);
  assert_int_equal(loom_index_search(ix, q, 0, NULL, 0, r, s), 0);
  /* a long exclusion list (the linear path) */
  int64_t many[5000];
  for (int i = 0; i < 5000; i++) many[i] = i % 3; /* excludes rows 0, 1, 2 */
  assert_int_equal(loom_index_search(ix, q, 4, many, 5000, r, s), 1);
  assert_int_equal(r[0], 3);
  loom_index_free(ix);
  const float bad[4] = {1, 2, NAN, 4};
  assert_null(loom_index_new(bad, 2, 2, LOOM_INDEX_DOT, &err));
  assert_non_null(strstr(err.msg, "row 1, component 0 is nan"));
  assert_null(loom_index_new(bad, 1, 0, LOOM_INDEX_DOT, &err));
  assert_non_null(strstr(err.msg, "dimension must be in [1, 8192]"));
}

typedef struct {
  loom_index *ix;
  float q[64];
  int64_t r[10];
  float s[10];
} search_ctx;
static void one_search(void *p) {
  search_ctx *c = p;
  loom_index_search(c->ix, c->q, 10, (const int64_t[]){3, 4}, 2, c->r, c->s);
}

static void test_search_allocates_nothing(void **state) {
  if (!tu_alloc_counting_available()) skip();
  loom_rng r;
  loom_rng_seed(&r, 9);
  float *rows = malloc(sizeof(float) * 1000 * 64);
  tu_fill_uniform(rows, 64000, -1, 1, &r);
  search_ctx c;
  loom_error err = {""};
  c.ix = loom_index_new(rows, 1000, 64, LOOM_INDEX_COSINE, &err);
  tu_fill_uniform(c.q, 64, -1, 1, &r);
  tu_assert_no_alloc("index search", one_search, &c, 1, 5);
  loom_index_free(c.ix);
  free(rows);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_cosine_matches_brute_force),
      cmocka_unit_test(test_dot_matches_brute_force),
      cmocka_unit_test(test_euclidean_matches_brute_force),
      cmocka_unit_test(test_manhattan_matches_brute_force),
      cmocka_unit_test(test_ties_every_metric),
      cmocka_unit_test(test_ties_small_k_and_edge_cases),
      cmocka_unit_test(test_search_allocates_nothing),
  };
  return cmocka_run_group_tests_name("index", tests, NULL, NULL);
}
