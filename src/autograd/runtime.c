/* runtime.c — once-per-process CPU set-up (kernel ISA, threads, FTZ/DAZ) and the GEMM door.
 * It deliberately leaves scheduling to OpenMP: loom links OpenBLAS's OpenMP build, so a GEMM called
 * from serial code uses the same thread pool as loom's kernels, and a GEMM called inside one of
 * loom's parallel regions runs single-threaded instead of oversubscribing the cores. */
#include "loom/runtime.h"

#include <cblas.h>
#include <omp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "kernels.h"
#include "loom/parallel.h"

#ifndef LOOM_VERSION
#define LOOM_VERSION "0.0.0"
#endif

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static loom_isa current_isa = LOOM_ISA_SCALAR;
static int n_threads = 1;

const char *loom_version(void) { return LOOM_VERSION; }
const char *loom_blas_core_name(void) { return openblas_get_corename(); }
float loom_vec_dot(size_t n, const float *a, const float *b) { return loom_k.dot(n, a, b); }

/* Denormals cost 10-100x per operation on x86 and matter nowhere in training: flush them. */
static void set_ftz_daz(void) {
#if defined(__x86_64__)
  _mm_setcsr(_mm_getcsr() | 0x8040); /* FTZ (bit 15) | DAZ (bit 6) */
#endif
}

static void set_ftz_all_threads(void) {
  set_ftz_daz();
#pragma omp parallel
  set_ftz_daz();
}

bool loom_runtime_set_isa(loom_isa isa) {
  const loom_kernels *k = loom_kernels_get(isa);
  if (!k) return false;
  loom_k = *k;
  current_isa = isa;
  return true;
}

loom_isa loom_runtime_isa(void) { return current_isa; }
int loom_num_threads(void) { return n_threads; }

void loom_set_num_threads(int n) {
  if (n < 1) n = 1;
  n_threads = n;
  /* OpenBLAS's OpenMP build follows the OpenMP thread count (openblas_set_num_threads sets it too),
   * so it is set once here; loom_gemm keeps OpenBLAS single-threaded per call, see below. */
  openblas_set_num_threads(n);
  omp_set_num_threads(n);
  set_ftz_all_threads();
}

static void runtime_init_once(void) {
  loom_isa isa = loom_isa_best();
  const char *want = getenv("LOOM_ISA");
  if (want && *want) {
    const int found = loom_isa_from_name(want);
    if (found < 0)
      fprintf(stderr, "loom: LOOM_ISA=%s is not one of scalar, avx2, avx512; using %s\n", want, loom_isa_name(isa));
    else if (!loom_isa_supported((loom_isa)found))
      fprintf(stderr, "loom: LOOM_ISA=%s is not supported by this CPU; using %s\n", want, loom_isa_name(isa));
    else
      isa = (loom_isa)found;
  }
  loom_runtime_set_isa(isa);

  int n = loom_cpu_available();
  const char *env = getenv("LOOM_NUM_THREADS");
  if (env && *env) {
    char *end;
    long v = strtol(env, &end, 10);
    if (*end || v < 1 || v > 1024)
      fprintf(stderr, "loom: LOOM_NUM_THREADS=%s is not a thread count; using %d\n", env, n);
    else
      n = (int)v;
  }
  loom_set_num_threads(n < 1 ? 1 : n);
}

void loom_runtime_init(void) { pthread_once(&init_once, runtime_init_once); }

/* GEMM threading is ours, not OpenBLAS's: OpenBLAS runs single-threaded (its threaded driver
 * allocates per call and partitions by thread count), and large products are cut into blocks whose
 * shape depends only on (M, N, K) — rows when M is large, else columns — which our OpenMP threads
 * share. Every element is then computed by the same single-threaded call for any thread count.
 * OpenBLAS's OpenMP build threads a call whenever it is made outside an active parallel region with
 * omp_get_max_threads() > 1, so an unsplit call from serial code lowers this thread's count to 1. */
/* OpenBLAS 0.3.21's small-matrix path on its AVX-512 cores (SkylakeX, Cooperlake, Sapphire Rapids;
 * picked at run time, so a Zen 4 or Xeon user gets it and a machine forced to Haswell does not) takes
 * any product with M*N*K <= 100^3; its kernel for row-major A*B (column-major NN with m = N) mallocs a
 * packing buffer on every call whose last block of N % 16 columns is 1..8 wide and K >= 32
 * (kernel/x86_64/sgemm_small_kernel_nn_skylakex.c). Such calls are cut before that block, and the
 * block (at most 8 columns) is computed here, in a fixed order, on every machine alike. */
static bool small_nn_allocates(enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb, int M, int N, int K) {
  const int tail = N % 16;
  return ta == CblasNoTrans && tb == CblasNoTrans && (double)M * N * K <= 1e6 && K >= 32 && tail >= 1 &&
         tail <= 8;
}

/* C[:, 0..N) = alpha A B + beta C for N <= 8 columns (row-major, A M x K, B K x N). */
static void sgemm_nn_narrow(int M, int N, int K, float alpha, const float *A, int lda, const float *B, int ldb,
                            float beta, float *C, int ldc) {
  for (int i = 0; i < M; i++) {
    float acc[8] = {0};
    const float *a = A + (size_t)i * lda;
    for (int k = 0; k < K; k++) {
      const float av = a[k], *b = B + (size_t)k * ldb;
      for (int j = 0; j < N; j++) acc[j] += av * b[j];
    }
    float *c = C + (size_t)i * ldc;
    for (int j = 0; j < N; j++) c[j] = alpha * acc[j] + (beta == 0.0f ? 0.0f : beta * c[j]);
  }
}

static void sgemm_one_thread(enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb, int M, int N, int K, float alpha,
                             const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc) {
  if (small_nn_allocates(ta, tb, M, N, K)) {
    const int tail = N % 16;
    N -= tail;
    sgemm_nn_narrow(M, tail, K, alpha, A, lda, B + N, ldb, beta, C + N, ldc);
    if (N == 0) return;
  }
  const bool lower = !omp_in_parallel() && omp_get_max_threads() > 1;
  const int saved = lower ? omp_get_max_threads() : 1;
  if (lower) omp_set_num_threads(1);
  cblas_sgemm(CblasRowMajor, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  if (lower) omp_set_num_threads(saved);
}

#define GEMM_SPLIT_FLOPS (4.0 * 1024 * 1024)
#define GEMM_TARGET_BLOCKS 8

static int block_size(int n, int align, int min) {
  int b = (n + GEMM_TARGET_BLOCKS - 1) / GEMM_TARGET_BLOCKS;
  b = (b + align - 1) / align * align;
  return b < min ? min : b;
}

void loom_gemm_single(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float *A, int lda,
                      const float *B, int ldb, float beta, float *C, int ldc) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    loom_gemm(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  sgemm_one_thread(trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda, B,
                   ldb, beta, C, ldc);
}

void loom_gemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float *A, int lda,
               const float *B, int ldb, float beta, float *C, int ldc) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) { /* C = beta C */
    for (int i = 0; i < M; i++)
      for (int j = 0; j < N; j++) C[(size_t)i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[(size_t)i * ldc + j];
    return;
  }
  const enum CBLAS_TRANSPOSE ta = trans_a ? CblasTrans : CblasNoTrans, tb = trans_b ? CblasTrans : CblasNoTrans;
  const double flops = 2.0 * M * N * K;
  if (flops < GEMM_SPLIT_FLOPS || (M < 64 && N < 128)) {
    sgemm_one_thread(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  const bool by_rows = M >= 128;
  const int bs = by_rows ? block_size(M, 16, 32) : block_size(N, 16, 64);
  const int nblocks = ((by_rows ? M : N) + bs - 1) / bs;
  LOOM_PARALLEL_FOR(n_threads > 1, (int b = 0; b < nblocks; b++), {
    const int s = b * bs, len = (by_rows ? M : N) - s < bs ? (by_rows ? M : N) - s : bs;
    if (by_rows) {
      const float *Ab = trans_a ? A + s : A + (size_t)s * lda;
      sgemm_one_thread(ta, tb, len, N, K, alpha, Ab, lda, B, ldb, beta, C + (size_t)s * ldc, ldc);
    } else {
      const float *Bb = trans_b ? B + (size_t)s * ldb : B + s;
      sgemm_one_thread(ta, tb, M, len, K, alpha, A, lda, Bb, ldb, beta, C + s, ldc);
    }
  });
}
