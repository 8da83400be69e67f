/* test_kernels.c — every SIMD kernel against the scalar reference, on every ISA this CPU has, on
 * sizes that exercise the vector tails (1..70, 1000, 4099) and on inputs from ordinary to extreme
 * (|x| up to 100 for exp/sigmoid/tanh, denormal-range values). Also: ISA selection and FTZ/DAZ. */
#include <float.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "loom/parallel.h"
#include "loom/runtime.h"
#include "testutil.h"

static const size_t sizes[] = {1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 33, 63, 64, 65, 70, 1000, 4099};
#define N_SIZES (sizeof sizes / sizeof sizes[0])
#define MAXN 4099

typedef struct {
  float a[MAXN], b[MAXN], c[MAXN], d[MAXN];
} bufs;

static void fill(bufs *x, loom_rng *r, float scale) {
  tu_fill_uniform(x->a, MAXN, -scale, scale, r);
  tu_fill_uniform(x->b, MAXN, -scale, scale, r);
  tu_fill_uniform(x->c, MAXN, -1, 1, r);
  tu_fill_uniform(x->d, MAXN, 0, 1, r);
}

/* Tolerances: exact where both do the same single operation; a few ulps (plus FMA contraction)
 * for polynomial exp/tanh/erf against libm; accumulating kernels (dx += ...) relative to the size
 * of what they add, which grows with the input scale. */
#define EXACT 0.0, 0.0
#define ARITH 1e-6, 1e-6
#define TRANS 1e-6, 4e-6
#define GELU_TOL 2e-6, 1e-5

static void compare_isa(const loom_kernels *s, const loom_kernels *v, const char *isa) {
  loom_rng r;
  loom_rng_seed(&r, 77);
  static bufs in, out_s, out_v;
  char what[128];
  for (size_t si = 0; si < N_SIZES; si++) {
    const size_t n = sizes[si];
    for (int range = 0; range < 3; range++) {
      const float scale = range == 0 ? 1.0f : range == 1 ? 10.0f : 100.0f;
      fill(&in, &r, scale);
#define CHECK(name, ...)                                                                  \
  do {                                                                                    \
    snprintf(what, sizeof what, "%s %s n=%zu |x|<=%g", isa, name, n, (double)scale);      \
    tu_assert_close(what, out_v.a, out_s.a, n, __VA_ARGS__);                              \
  } while (0)
#define BIN(k, ...)                                                                       \
  s->k(n, in.a, in.b, out_s.a);                                                           \
  v->k(n, in.a, in.b, out_v.a);                                                           \
  CHECK(#k, __VA_ARGS__)
      BIN(add, EXACT);
      BIN(sub, EXACT);
      BIN(mul, EXACT);
#define ACC(call_s, call_v, name, ...)                                                    \
  memcpy(out_s.a, in.c, n * 4);                                                           \
  memcpy(out_v.a, in.c, n * 4);                                                           \
  call_s;                                                                                 \
  call_v;                                                                                 \
  CHECK(name, __VA_ARGS__)
      ACC(s->acc(n, in.a, out_s.a), v->acc(n, in.a, out_v.a), "acc", EXACT);
      ACC(s->axpy(n, 0.37f, in.a, out_s.a), v->axpy(n, 0.37f, in.a, out_v.a), "axpy", 1e-6 * scale, 1e-6);
      ACC(s->mul_acc(n, in.a, in.b, out_s.a), v->mul_acc(n, in.a, in.b, out_v.a), "mul_acc", 1e-6 * scale * scale, 1e-6);
      s->affine(n, -1.5f, 0.25f, in.a, out_s.a);
      v->affine(n, -1.5f, 0.25f, in.a, out_v.a);
      CHECK("affine", ARITH);
#define UN(k, ...)                                                                        \
  s->k(n, in.a, out_s.a);                                                                 \
  v->k(n, in.a, out_v.a);                                                                 \
  CHECK(#k, __VA_ARGS__)
      UN(relu, EXACT);
      UN(sigmoid, TRANS);
      UN(tanh, TRANS);
      UN(gelu, GELU_TOL);
      if (scale < 50) { /* exp(100) overflows to inf in both; compare where finite */
        UN(exp, TRANS);
      }
      /* backward kernels take (saved, dy, dx +=) */
      s->sigmoid(n, in.a, in.d);
      ACC(s->relu_bwd(n, in.a, in.b, out_s.a), v->relu_bwd(n, in.a, in.b, out_v.a), "relu_bwd", EXACT);
      ACC(s->sigmoid_bwd(n, in.d, in.b, out_s.a), v->sigmoid_bwd(n, in.d, in.b, out_v.a), "sigmoid_bwd", 1e-6 * scale, 1e-6);
      ACC(s->tanh_bwd(n, in.c, in.b, out_s.a), v->tanh_bwd(n, in.c, in.b, out_v.a), "tanh_bwd", 1e-6 * scale, 1e-6);
      ACC(s->gelu_bwd(n, in.a, in.b, out_s.a), v->gelu_bwd(n, in.a, in.b, out_v.a), "gelu_bwd", 2e-6 * scale * scale, 1e-5);
      /* reductions: relative to the sum of magnitudes */
      double mag = 0;
      for (size_t i = 0; i < n; i++) mag += fabs(in.a[i]) * (fabs(in.b[i]) + 1);
      snprintf(what, sizeof what, "%s sum n=%zu", isa, n);
      assert_true(fabs(s->sum(n, in.a) - v->sum(n, in.a)) <= 1e-6 * mag + 1e-7);
      assert_true(fabs(s->dot(n, in.a, in.b) - v->dot(n, in.a, in.b)) <= 1e-6 * mag + 1e-7);
      assert_float_equal(s->max(n, in.a), v->max(n, in.a), 0);
      /* softmax family: one row */
      UN(softmax, TRANS);
      s->log_softmax(n, in.a, out_s.a);
      v->log_softmax(n, in.a, out_v.a);
      snprintf(what, sizeof what, "%s log_softmax n=%zu", isa, n);
      tu_assert_close(what, out_v.a, out_s.a, n, 2e-6 * scale, 4e-6);
      s->softmax(n, in.a, in.d);
      ACC(s->softmax_bwd(n, in.d, in.b, out_s.a), v->softmax_bwd(n, in.d, in.b, out_v.a), "softmax_bwd", 1e-6 * scale, 4e-6);
      s->log_softmax(n, in.a, in.d);
      ACC(s->log_softmax_bwd(n, in.d, in.b, out_s.a), v->log_softmax_bwd(n, in.d, in.b, out_v.a), "log_softmax_bwd",
          1e-6 * scale, 1e-5);
      /* Adam: p, m, v updated together */
      {
        static float ps[MAXN], ms[MAXN], vs[MAXN], pv[MAXN], mv[MAXN], vv[MAXN];
        memcpy(ps, in.c, n * 4);
        memcpy(pv, in.c, n * 4);
        for (size_t i = 0; i < n; i++) ms[i] = mv[i] = 0.1f * in.b[i], vs[i] = vv[i] = in.d[i] * in.d[i];
        s->adam(n, ps, in.a, ms, vs, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.19f, 0.002f, 0.01f);
        v->adam(n, pv, in.a, mv, vv, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.19f, 0.002f, 0.01f);
        snprintf(what, sizeof what, "%s adam n=%zu", isa, n);
        tu_assert_close(what, pv, ps, n, 1e-7, 1e-6);
        /* m and v are b*m + (1-b)*g: with FMA the sum of two rounded products cancels differently */
        tu_assert_close(what, mv, ms, n, 1e-7 * scale, 1e-6);
        tu_assert_close(what, vv, vs, n, 1e-7 * scale * scale, 1e-6);
      }
    }
  }
}

static void test_simd_kernels_match_scalar(void **state) {
  const loom_kernels *s = loom_kernels_get(LOOM_ISA_SCALAR);
  assert_non_null(s);
  int compared = 0;
  for (int isa = LOOM_ISA_AVX2; isa < LOOM_ISA_COUNT; isa++) {
    const loom_kernels *v = loom_kernels_get((loom_isa)isa);
    if (!v) {
      print_message("ISA %s not available on this CPU: not compared\n", loom_isa_name((loom_isa)isa));
      continue;
    }
    assert_string_equal(v->isa, loom_isa_name((loom_isa)isa));
    compare_isa(s, v, v->isa);
    compared++;
  }
  print_message("compared %d SIMD kernel set(s) with scalar\n", compared);
}

/* The table must be complete for every ISA: no entry left NULL. */
static void test_kernel_tables_are_complete(void **state) {
  for (int isa = 0; isa < LOOM_ISA_COUNT; isa++) {
    const loom_kernels *k = loom_kernels_get((loom_isa)isa);
    if (!k) continue;
    const void *const *p = (const void *const *)(const void *)k;
    for (size_t i = 0; i < sizeof *k / sizeof(void *); i++) assert_non_null(p[i]);
  }
}

static void test_exp_and_activations_at_extremes(void **state) {
  const float xs[] = {-1000.0f, -100.0f, -88.0f, -20.0f, -1e-7f, 0.0f, 1e-7f, 20.0f, 88.0f, 100.0f};
  const size_t n = sizeof xs / sizeof xs[0];
  for (int isa = 0; isa < LOOM_ISA_COUNT; isa++) {
    const loom_kernels *k = loom_kernels_get((loom_isa)isa);
    if (!k) continue;
    float y[16];
    k->sigmoid(n, xs, y);
    for (size_t i = 0; i < n; i++) assert_true(y[i] >= 0.0f && y[i] <= 1.0f);
    assert_float_equal(y[0], 0.0f, 1e-30);
    assert_float_equal(y[n - 1], 1.0f, 0);
    k->tanh(n, xs, y);
    for (size_t i = 0; i < n; i++) assert_true(y[i] >= -1.0f && y[i] <= 1.0f && isfinite(y[i]));
    assert_float_equal(y[6], 1e-7f, 1e-13); /* small |x|: tanh x = x to full relative precision */
    k->softmax(n, xs, y);
    assert_float_equal(y[n - 1], 1.0 / (1.0 + exp(-12.0)), 1e-6); /* 100 vs 88: e^-12 */
    k->log_softmax(n, xs, y);
    for (size_t i = 0; i < n; i++) assert_true(isfinite(y[i]));
    assert_float_equal(y[0], -1100.0f, 1e-3);
  }
}

static void test_isa_selection_and_denormals_flushed(void **state) {
  loom_runtime_init();
  loom_isa best = loom_runtime_isa();
  assert_true(loom_isa_supported(best));
  assert_true(loom_runtime_set_isa(LOOM_ISA_SCALAR));
  assert_string_equal(loom_k.isa, "scalar");
  assert_true(loom_runtime_set_isa(best));
  assert_string_equal(loom_k.isa, loom_isa_name(best));
  /* FTZ/DAZ: a denormal input reads as zero, a denormal result becomes zero. */
  volatile float tiny = 1e-38f, half = 0.5f;
  volatile float r = tiny * half * 0.01f;
  assert_true(r == 0.0f);
  volatile float denormal = 1e-40f; /* stored as a denormal; DAZ makes it compare equal to 0 in arithmetic */
  assert_true(denormal * 1.0f == 0.0f);
}

/* loom_set_num_threads must leave OpenMP with n threads (OpenBLAS's OpenMP build shares the setting). */
static void test_thread_count_reaches_openmp(void **state) {
  int before = loom_num_threads();
  for (int n = 1; n <= 3; n++) {
    loom_set_num_threads(n);
    int seen = 0;
#pragma omp parallel
    {
#pragma omp single
      seen = omp_get_num_threads();
    }
    assert_int_equal(seen, n);
  }
  loom_set_num_threads(before);
}

/* loom_gemm against a double-precision reference for every transposition, with shapes that take the
 * narrow-tail path (row-major A·B, M·N·K <= 100^3, K >= 32, N % 16 in 1..8 — where OpenBLAS's
 * AVX-512 small-matrix kernel would malloc) and shapes around it; beta 0 (C holds NaN, never read)
 * and beta 0.5. Then: repeated calls of those shapes allocate nothing, on whichever OpenBLAS core. */
typedef struct { int M, N, K; } gemm_shape;
static const gemm_shape gemm_shapes[] = {{64, 20, 64}, {7, 3, 40}, {1, 8, 32}, {33, 17, 100}, {64, 24, 31},
                                         {16, 16, 64}, {5, 9, 64}, {100, 100, 100}, {130, 40, 50}, {64, 1, 256}};

static void gemm_calls(void *ctx) {
  float *buf = ctx;
  for (size_t i = 0; i < sizeof gemm_shapes / sizeof gemm_shapes[0]; i++) {
    const gemm_shape q = gemm_shapes[i];
    loom_gemm(false, false, q.M, q.N, q.K, 1.0f, buf, q.K, buf + 20000, q.N, 0.0f, buf + 40000, q.N);
  }
}

static void test_gemm_matches_reference_and_allocates_nothing(void **state) {
  loom_rng r;
  loom_rng_seed(&r, 5);
  float *A = malloc(20000 * sizeof(float)), *B = malloc(20000 * sizeof(float)), *C = malloc(20000 * sizeof(float));
  double *ref = malloc(20000 * sizeof(double));
  for (size_t i = 0; i < sizeof gemm_shapes / sizeof gemm_shapes[0]; i++)
    for (int tr = 0; tr < 4; tr++)
      for (int bi = 0; bi < 2; bi++) {
        const gemm_shape q = gemm_shapes[i];
        const bool ta = tr & 1, tb = tr & 2;
        const float beta = bi ? 0.5f : 0.0f;
        const int lda = ta ? q.M : q.K, ldb = tb ? q.K : q.N, ldc = q.N + 3;
        tu_fill_uniform(A, 20000, -1, 1, &r);
        tu_fill_uniform(B, 20000, -1, 1, &r);
        tu_fill_uniform(C, 20000, -1, 1, &r);
        for (int m = 0; m < q.M; m++)
          for (int n = 0; n < q.N; n++) {
            double acc = 0;
            for (int k = 0; k < q.K; k++)
              acc += (double)(ta ? A[k * lda + m] : A[m * lda + k]) * (tb ? B[n * ldb + k] : B[k * ldb + n]);
            ref[m * ldc + n] = 1.5 * acc + (bi ? beta * C[m * ldc + n] : 0.0);
            if (!bi) C[m * ldc + n] = NAN;
          }
        loom_gemm(ta, tb, q.M, q.N, q.K, 1.5f, A, lda, B, ldb, beta, C, ldc);
        for (int m = 0; m < q.M; m++)
          for (int n = 0; n < q.N; n++)
            if (!(fabs(C[m * ldc + n] - ref[m * ldc + n]) <= 1e-5 * q.K))
              fail_msg("gemm %dx%dx%d ta=%d tb=%d beta=%g: C[%d,%d] = %g, reference %g (OpenBLAS core %s)", q.M, q.N,
                       q.K, ta, tb, beta, m, n, C[m * ldc + n], ref[m * ldc + n], loom_blas_core_name());
      }
  float *buf = calloc(60000, sizeof(float));
  if (tu_alloc_counting_available()) tu_assert_no_alloc("loom_gemm on small shapes", gemm_calls, buf, 2, 3);
  free(buf);
  free(A);
  free(B);
  free(C);
  free(ref);
}

/* A loop too small to share, or one inside another region, runs inline: no one-thread team. */
static void small_loops(void *ctx) {
  float *x = ctx;
  LOOM_PARALLEL_FOR(false, (int i = 0; i < 64; i++), x[i] += 1.0f);
  LOOM_PARALLEL_FOR(true, (int i = 0; i < 4096; i++), {
    LOOM_PARALLEL_FOR(true, (int j = 0; j < 2; j++), x[4096 + 2 * i + j] += 1.0f);
  });
}

static void test_parallel_for_enters_no_needless_region(void **state) {
  static float x[4096 + 8192];
  if (!tu_alloc_counting_available()) skip();
  tu_assert_no_alloc("LOOM_PARALLEL_FOR (serial and nested loops)", small_loops, x, 2, 3);
  for (int i = 0; i < 64; i++) assert_true(x[i] == 5.0f);
  for (int i = 4096; i < 4096 + 8192; i++) assert_true(x[i] == 5.0f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_kernel_tables_are_complete),
      cmocka_unit_test(test_simd_kernels_match_scalar),
      cmocka_unit_test(test_exp_and_activations_at_extremes),
      cmocka_unit_test(test_isa_selection_and_denormals_flushed),
      cmocka_unit_test(test_thread_count_reaches_openmp),
      cmocka_unit_test(test_gemm_matches_reference_and_allocates_nothing),
      cmocka_unit_test(test_parallel_for_enters_no_needless_region),
  };
  return cmocka_run_group_tests_name("kernels", tests, NULL, NULL);
}
