/* bench_util.h — what every benchmark here needs: wall and CPU clocks, medians, and a probe of the
 * CPU's FMA peak (12 independent FMA chains per thread, the widest vectors the CPU has). */
#ifndef LOOM_BENCH_UTIL_H
#define LOOM_BENCH_UTIL_H

#include <immintrin.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#define BENCH_UNUSED __attribute__((unused))

static BENCH_UNUSED double clock_s(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
static BENCH_UNUSED double now(void) { return clock_s(CLOCK_MONOTONIC); }
static BENCH_UNUSED double cpu_now(void) { return clock_s(CLOCK_PROCESS_CPUTIME_ID); }

static BENCH_UNUSED int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}
/* Median of v[0..n) (sorts v). */
static BENCH_UNUSED double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

__attribute__((target("avx512f"))) static BENCH_UNUSED float fma_probe_512(long iters) {
  __m512 a[12], b = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
  for (int i = 0; i < 12; i++) a[i] = _mm512_set1_ps((float)i);
  for (long it = 0; it < iters; it++)
    for (int i = 0; i < 12; i++) a[i] = _mm512_fmadd_ps(a[i], b, c);
  float s = 0;
  for (int i = 0; i < 12; i++) s += _mm512_reduce_add_ps(a[i]);
  return s;
}
__attribute__((target("avx2,fma"))) static BENCH_UNUSED float fma_probe_256(long iters) {
  __m256 a[12], b = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
  for (int i = 0; i < 12; i++) a[i] = _mm256_set1_ps((float)i);
  for (long it = 0; it < iters; it++)
    for (int i = 0; i < 12; i++) a[i] = _mm256_fmadd_ps(a[i], b, c);
  float out[8], s = 0;
  for (int i = 0; i < 12; i++) {
    _mm256_storeu_ps(out, a[i]);
    for (int k = 0; k < 8; k++) s += out[k];
  }
  return s;
}
/* GFLOP/s of `threads` threads each running the probe; best of 5 short runs (a run another process
 * interrupts is slower, never faster). */
static BENCH_UNUSED double fma_peak(int threads, bool avx512) {
  const long iters = 4000000;
  double best = 0;
  for (int rep = 0; rep < 5; rep++) {
    volatile float sink = 0;
    double t0 = now();
#pragma omp parallel num_threads(threads)
    {
      float s = avx512 ? fma_probe_512(iters) : fma_probe_256(iters);
#pragma omp atomic
      sink += s;
    }
    double g = (double)threads * iters * 12 * (avx512 ? 16 : 8) * 2 / (now() - t0) / 1e9;
    best = g > best ? g : best;
  }
  return best;
}

#endif
