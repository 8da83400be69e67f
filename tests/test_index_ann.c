/* test_index_ann.c — the approximate kinds of loom/index.h (HNSW over hnswlib, IVF over FAISS): recall
 * against the exact index on a small clustered set, agreement with the exact answer (same scores, same
 * tie rule, exclusions honoured), determinism across runs and thread counts, which metrics each kind
 * serves (manhattan: neither) and errors that name the bad option's flag. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "loom/index.h"
#include "loom/runtime.h"
#include "testutil.h"

enum { N = 6000, D = 16, NC = 60, K = 10 };

/* N rows around NC centres (σ = 0.3) and nq queries drawn the same way */
static float *clustered(int64_t n, uint64_t seed) {
  loom_rng r;
  loom_rng_seed(&r, seed);
  float *c = malloc(sizeof(float) * NC * D), *x = malloc(sizeof(float) * (size_t)n * D);
  for (int i = 0; i < NC * D; i++) c[i] = loom_rng_uniform(&r) * 2 - 1;
  for (int64_t i = 0; i < n; i++) {
    const float *ci = c + (size_t)loom_rng_below(&r, NC) * D;
    for (int j = 0; j < D; j++) x[i * D + j] = ci[j] + 0.3f * loom_rng_normal(&r);
  }
  free(c);
  return x;
}

static loom_index *build(const float *rows, int64_t n, loom_index_metric m, loom_index_kind kind) {
  loom_index_opts o = loom_index_defaults(kind);
  loom_error err = {""};
  loom_index *ix = loom_index_build(rows, n, D, m, &o, &err);
  if (!ix) fail_msg("%s", err.msg);
  return ix;
}

/* recall@10 on fresh queries, and every returned score equals the exact index's score of that row */
static double recall_and_agreement(loom_index *ax, loom_index *ex, const float *queries, int nq) {
  double found = 0, total = 0;
  float *all = malloc(sizeof(float) * (size_t)loom_index_size(ex));
  for (int i = 0; i < nq; i++) {
    const float *q = queries + (size_t)i * D;
    int64_t re[K], ra[K];
    float se[K], sa[K];
    int ne = loom_index_search(ex, q, K, NULL, 0, re, se), na = loom_index_search(ax, q, K, NULL, 0, ra, sa);
    assert_int_equal(ne, K);
    assert_true(na <= K);
    loom_index_scores(ex, q, all);
    for (int b = 0; b < na; b++) {
      assert_float_equal(sa[b], all[ra[b]], 1e-5);                              /* re-scored exactly */
      if (b) assert_true(sa[b - 1] > sa[b] || (sa[b - 1] == sa[b] && ra[b - 1] < ra[b])); /* exact's order */
    }
    for (int a = 0; a < ne; a++)
      for (int b = 0; b < na; b++)
        if (re[a] == ra[b]) {
          found++;
          break;
        }
    total += ne;
  }
  free(all);
  return found / total;
}

static void check_kind(loom_index_kind kind, loom_index_metric m, double min_recall) {
  float *rows = clustered(N, 11), *qs = clustered(200, 12);
  loom_index *ex = build(rows, N, m, LOOM_INDEX_EXACT), *ax = build(rows, N, m, kind);
  assert_int_equal(loom_index_kind_of(ax), kind);
  double rec = recall_and_agreement(ax, ex, qs, 200);
  print_message("%s %s: recall@10 %.4f on fresh queries, %.4f by loom_index_recall\n", loom_index_kind_name(kind),
                loom_index_metric_name(m), rec, loom_index_recall(ax, 200, K));
  assert_true(rec >= min_recall);
  assert_true(loom_index_recall(ax, 200, K) >= min_recall);
  assert_true(loom_index_recall(ex, 200, K) == 1.0);
  /* exclusions: the excluded rows never come back, and k still come when there are enough */
  int64_t r0[K], r1[K];
  float s0[K], s1[K];
  assert_int_equal(loom_index_search(ax, qs, K, NULL, 0, r0, s0), K);
  assert_int_equal(loom_index_search(ax, qs, K, r0, 5, r1, s1), K);
  for (int b = 0; b < K; b++)
    for (int e = 0; e < 5; e++) assert_true(r1[b] != r0[e]);
  loom_index_free(ax);
  loom_index_free(ex);
  free(rows);
  free(qs);
}

static void test_hnsw_recall_cosine(void **state) { check_kind(LOOM_INDEX_HNSW, LOOM_INDEX_COSINE, 0.95); }
static void test_hnsw_recall_dot(void **state) { check_kind(LOOM_INDEX_HNSW, LOOM_INDEX_DOT, 0.90); }
static void test_hnsw_recall_euclidean(void **state) { check_kind(LOOM_INDEX_HNSW, LOOM_INDEX_EUCLIDEAN, 0.95); }
static void test_ivf_recall_cosine(void **state) { check_kind(LOOM_INDEX_IVF, LOOM_INDEX_COSINE, 0.95); }
static void test_ivf_recall_dot(void **state) { check_kind(LOOM_INDEX_IVF, LOOM_INDEX_DOT, 0.90); }
static void test_ivf_recall_euclidean(void **state) { check_kind(LOOM_INDEX_IVF, LOOM_INDEX_EUCLIDEAN, 0.95); }

/* The same rows give the same index and answers on every run and thread count. */
static void test_deterministic_across_runs_and_threads(void **state) {
  float *rows = clustered(N, 21), *qs = clustered(100, 22);
  for (int kind = LOOM_INDEX_IVF; kind <= LOOM_INDEX_HNSW; kind++) {
    int64_t ref[100][K], got[K];
    float sref[100][K], s[K];
    const int threads[3] = {1, 2, 1};
    for (int run = 0; run < 3; run++) {
      loom_set_num_threads(threads[run]);
      loom_index *ax = build(rows, N, LOOM_INDEX_COSINE, (loom_index_kind)kind);
      for (int i = 0; i < 100; i++) {
        int n = loom_index_search(ax, qs + (size_t)i * D, K, NULL, 0, run ? got : ref[i], run ? s : sref[i]);
        assert_int_equal(n, K);
        if (run) {
          assert_memory_equal(got, ref[i], sizeof got);
          assert_memory_equal(s, sref[i], sizeof s);
        }
      }
      loom_index_free(ax);
    }
  }
  loom_set_num_threads(0);
  free(rows);
  free(qs);
}

/* Duplicate rows: an approximate kind that finds them orders them as the exact index does. */
static void test_approx_ties_lower_row_first(void **state) {
  float *rows = clustered(500, 31);
  for (int j = 0; j < D; j++) rows[400 * D + j] = rows[100 * D + j], rows[450 * D + j] = rows[100 * D + j];
  for (int kind = LOOM_INDEX_IVF; kind <= LOOM_INDEX_HNSW; kind++)
    for (int m = 0; m < 3; m++) {
      loom_index_opts o = loom_index_defaults((loom_index_kind)kind);
      o.ivf_nprobe = 1000; /* every cell: the duplicates are surely candidates */
      o.hnsw_ef_search = 500;
      loom_error err = {""};
      loom_index *ax = loom_index_build(rows, 500, D, (loom_index_metric)m, &o, &err);
      assert_non_null(ax);
      int64_t r[3];
      float s[3];
      assert_int_equal(loom_index_search(ax, rows + 100 * D, 3, NULL, 0, r, s), 3);
      if (m != LOOM_INDEX_DOT) { /* for dot another row may score higher than the query's own */
        assert_int_equal(r[0], 100);
        assert_int_equal(r[1], 400);
        assert_int_equal(r[2], 450);
      }
      assert_true(s[0] > s[1] || (s[0] == s[1] && r[0] < r[1]));
      loom_index_free(ax);
    }
  free(rows);
}

static void expect_error(loom_index_opts o, loom_index_metric m, const char *needle) {
  float rows[40 * D] = {0};
  for (int i = 0; i < 40 * D; i++) rows[i] = (float)((i * 37) % 11) - 5;
  loom_error err = {""};
  loom_index *ix = loom_index_build(rows, 40, D, m, &o, &err);
  if (ix) fail_msg("expected an error containing '%s'", needle);
  if (!strstr(err.msg, needle)) fail_msg("'%s' does not contain '%s'", err.msg, needle);
}

static void test_bad_options_name_the_flag(void **state) {
  loom_index_opts h = loom_index_defaults(LOOM_INDEX_HNSW), v = loom_index_defaults(LOOM_INDEX_IVF), o;
  o = h, o.hnsw_m = 1, expect_error(o, LOOM_INDEX_COSINE, "--hnsw-m 1: must be in [2, 256]");
  o = h, o.hnsw_ef_construction = 0, expect_error(o, LOOM_INDEX_COSINE, "--hnsw-ef-construction 0");
  o = h, o.hnsw_ef_search = -3, expect_error(o, LOOM_INDEX_COSINE, "--hnsw-ef-search -3");
  o = v, o.ivf_nlist = 41, expect_error(o, LOOM_INDEX_COSINE, "--ivf-nlist 41: must be in [1, 40]");
  o = v, o.ivf_nprobe = 0, expect_error(o, LOOM_INDEX_COSINE, "--ivf-nprobe 0");
  expect_error(h, LOOM_INDEX_MANHATTAN, "--index hnsw cannot search by --metric manhattan");
  expect_error(v, LOOM_INDEX_MANHATTAN, "--index ivf cannot search by --metric manhattan");
  loom_error err = {""};
  loom_index_kind k;
  loom_index_metric m;
  assert_int_equal(loom_index_parse_kind("annoy", "--index", &k, &err), -1);
  assert_non_null(strstr(err.msg, "--index 'annoy': not an index kind — valid choices: exact, ivf, hnsw, auto"));
  assert_int_equal(loom_index_parse_metric("l3", "--metric", &m, &err), -1);
  assert_non_null(strstr(err.msg, "--metric 'l3': not a metric — valid choices: cosine, dot, euclidean, manhattan"));
  assert_int_equal(loom_index_parse_metric("manhattan", "--metric", &m, &err), 0);
  assert_int_equal(m, LOOM_INDEX_MANHATTAN);
  assert_int_equal(loom_index_supports(LOOM_INDEX_EXACT, LOOM_INDEX_MANHATTAN, &err), 0);
  /* AUTO: exact below the measured crossover, and always for manhattan */
  float *rows = clustered(100, 41);
  loom_index_opts a = loom_index_defaults(LOOM_INDEX_AUTO);
  loom_index *ix = loom_index_build(rows, 100, D, LOOM_INDEX_COSINE, &a, &err);
  assert_int_equal(loom_index_kind_of(ix), LOOM_INDEX_EXACT);
  loom_index_free(ix);
  free(rows);
  /* set_search: checked, and clamped to the cells there are */
  rows = clustered(400, 42);
  ix = loom_index_build(rows, 400, D, LOOM_INDEX_COSINE, &v, &err);
  assert_non_null(ix);
  assert_int_equal(loom_index_set_search(ix, 0, -1, &err), -1);
  assert_non_null(strstr(err.msg, "--ivf-nprobe -1"));
  assert_int_equal(loom_index_set_search(ix, 0, 100000, &err), 0);
  assert_int_equal(loom_index_opts_of(ix)->ivf_nprobe, loom_index_opts_of(ix)->ivf_nlist);
  /* every cell scanned: IVF is exact */
  assert_true(loom_index_recall(ix, 100, K) == 1.0);
  loom_index_free(ix);
  free(rows);
}

/* Empty and tiny catalogues. */
static void test_small_catalogues(void **state) {
  float rows[3 * D];
  for (int i = 0; i < 3 * D; i++) rows[i] = (float)(i % 5) - 2;
  for (int kind = LOOM_INDEX_IVF; kind <= LOOM_INDEX_HNSW; kind++) {
    loom_index *e = build(rows, 0, LOOM_INDEX_COSINE, (loom_index_kind)kind);
    int64_t r[K];
    float s[K];
    assert_int_equal(loom_index_search(e, rows, K, NULL, 0, r, s), 0);
    loom_index_free(e);
    loom_index *t = build(rows, 3, LOOM_INDEX_EUCLIDEAN, (loom_index_kind)kind);
    assert_int_equal(loom_index_search(t, rows, K, NULL, 0, r, s), 3);
    assert_int_equal(r[0], 0);
    loom_index_free(t);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_hnsw_recall_cosine),
      cmocka_unit_test(test_hnsw_recall_dot),
      cmocka_unit_test(test_hnsw_recall_euclidean),
      cmocka_unit_test(test_ivf_recall_cosine),
      cmocka_unit_test(test_ivf_recall_dot),
      cmocka_unit_test(test_ivf_recall_euclidean),
      cmocka_unit_test(test_deterministic_across_runs_and_threads),
      cmocka_unit_test(test_approx_ties_lower_row_first),
      cmocka_unit_test(test_bad_options_name_the_flag),
      cmocka_unit_test(test_small_catalogues),
  };
  return cmocka_run_group_tests_name("index_ann", tests, NULL, NULL);
}
