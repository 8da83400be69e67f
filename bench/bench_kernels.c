/* bench_kernels — kernel micro-benchmarks: the FMA peak of this CPU, loom_gemm against raw
 * cblas_sgemm (OpenBLAS's own threading), and elementwise kernels per ISA in GB/s against memcpy.
 * Runs are interleaved and repeated; medians are reported.
 *   bench_kernels [--threads T] [--reps R] */
#include <cblas.h>
#include <immintrin.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels.h"
#include "loom/loom.h"
#include "bench_util.h"





/* ---- GEMM ---- */
static void bench_gemm(int M, int N, int K, int threads, int reps) {
  float *A = aligned_alloc(64, sizeof(float) * (size_t)M * K), *B = aligned_alloc(64, sizeof(float) * (size_t)K * N);
  float *C = aligned_alloc(64, sizeof(float) * (size_t)M * N);
  loom_rng r;
  loom_rng_seed(&r, 1);
  for (size_t i = 0; i < (size_t)M * K; i++) A[i] = loom_rng_uniform(&r) - 0.5f;
  for (size_t i = 0; i < (size_t)K * N; i++) B[i] = loom_rng_uniform(&r) - 0.5f;
  const double flops = 2.0 * M * N * K;
  int inner = (int)(2e9 / flops / 50) + 1; /* ~40 ms per sample at 50 GFLOP/s */
  double *tl = malloc(sizeof(double) * (size_t)reps), *tr = malloc(sizeof(double) * (size_t)reps);
  for (int rep = -1; rep < reps; rep++) { /* rep -1 warms both up */
    loom_set_num_threads(threads);
    double t0 = now();
    for (int i = 0; i < inner; i++) loom_gemm(false, true, M, N, K, 1.0f, A, K, B, K, 0.0f, C, N);
    double t1 = now();
    openblas_set_num_threads(threads); /* raw: OpenBLAS's own threading */
    for (int i = 0; i < inner; i++)
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, A, K, B, K, 0.0f, C, N);
    double t2 = now();
    loom_set_num_threads(threads); /* back to loom's arrangement (OpenBLAS 1 thread, OpenMP n) */
    if (rep >= 0) {
      tl[rep] = flops * inner / (t1 - t0) / 1e9;
      tr[rep] = flops * inner / (t2 - t1) / 1e9;
    }
  }
  double gl = median(tl, reps), gr = median(tr, reps);
  printf("gemm %4dx%4dx%4d  threads %d   loom_gemm %7.1f GFLOP/s   cblas_sgemm %7.1f GFLOP/s   ratio %.2f\n", M, N, K,
         threads, gl, gr, gl / gr);
  free(A);
  free(B);
  free(C);
  free(tl);
  free(tr);
}

/* ---- elementwise: GB/s = bytes read + written per second, single thread ---- */
typedef struct {
  const char *name;
  int streams; /* arrays touched (read + write) */
} ew_info;

static double time_kernel(const loom_kernels *k, int which, size_t n, float *a, float *b, float *c, float *d, int inner) {
  double t0 = now();
  for (int i = 0; i < inner; i++) {
    switch (which) {
    case 0: memcpy(c, a, n * sizeof(float)); break;
    case 1: k->add(n, a, b, c); break;
    case 2: k->axpy(n, 0.5f, a, c); break;
    case 3: k->relu(n, a, c); break;
    case 4: k->sigmoid(n, a, c); break;
    case 5: k->tanh(n, a, c); break;
    case 6: k->gelu(n, a, c); break;
    case 7: k->exp(n, a, c); break;
    case 8: k->adam(n, c, a, b, d, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.5f, 0.5f, 0.0f); break;
    }
  }
  return now() - t0;
}

static void bench_elementwise(size_t n, int reps) {
  static const ew_info info[] = {{"memcpy", 2}, {"add", 3}, {"axpy", 3}, {"relu", 2}, {"sigmoid", 2},
                                 {"tanh", 2},   {"gelu", 2}, {"exp", 2},  {"adam", 7}};
  const int nk = (int)(sizeof info / sizeof info[0]);
  float *a = aligned_alloc(64, n * 4), *b = aligned_alloc(64, n * 4), *c = aligned_alloc(64, n * 4), *d = aligned_alloc(64, n * 4);
  loom_rng r;
  loom_rng_seed(&r, 2);
  for (size_t i = 0; i < n; i++) a[i] = 4 * loom_rng_uniform(&r) - 2, b[i] = 0.1f, c[i] = 0.5f, d[i] = 0.01f;
  int inner = (int)(200e6 / (double)n) + 1;
  printf("\nelementwise, 1 thread, n = %zu floats (%.1f MB per array), GB/s (bytes read+written):\n", n, n * 4 / 1e6);
  printf("%-10s", "kernel");
  for (int isa = 0; isa < LOOM_ISA_COUNT; isa++)
    if (loom_kernels_get((loom_isa)isa)) printf("%10s", loom_isa_name((loom_isa)isa));
  printf("   best/memcpy\n");
  double memcpy_gbs = 0;
  for (int w = 0; w < nk; w++) {
    printf("%-10s", info[w].name);
    double best = 0;
    for (int isa = 0; isa < LOOM_ISA_COUNT; isa++) {
      const loom_kernels *k = loom_kernels_get((loom_isa)isa);
      if (!k) continue;
      double *s = malloc(sizeof(double) * (size_t)reps);
      for (int rep = 0; rep < reps; rep++) s[rep] = (double)n * 4 * info[w].streams * inner / time_kernel(k, w, n, a, b, c, d, inner) / 1e9;
      double m = median(s, reps);
      free(s);
      best = m > best ? m : best;
      printf("%10.1f", m);
    }
    if (w == 0) memcpy_gbs = best;
    printf("   %5.2f\n", best / memcpy_gbs);
  }
  free(a);
  free(b);
  free(c);
  free(d);
}

int main(int argc, char **argv) {
  int threads = 2, reps = 7;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--reps")) reps = atoi(argv[i + 1]);
  }
  loom_runtime_init();
  printf("loom %s, kernels %s, OpenBLAS %s\n", loom_version(), loom_isa_name(loom_runtime_isa()), openblas_get_config());
  bool has512 = loom_isa_supported(LOOM_ISA_AVX512);
  for (int t = 1; t <= threads; t++)
    printf("FMA peak, %d thread(s): %.1f GFLOP/s (%s)\n", t, fma_peak(t, has512), has512 ? "AVX-512" : "AVX2");
  int shapes[][3] = {{64, 512, 128}, {512, 512, 512}, {4096, 128, 128}};
  for (int t = 1; t <= threads; t++)
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) bench_gemm(shapes[s][0], shapes[s][1], shapes[s][2], t, reps);
  loom_set_num_threads(1);
  bench_elementwise(1 << 14, reps); /* in L1/L2: compute-bound */
  bench_elementwise(1 << 24, reps); /* 64 MB: memory-bound */
  return 0;
}
