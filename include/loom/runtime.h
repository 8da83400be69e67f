/* loom/runtime.h — process-wide CPU set-up: kernel ISA, threads, denormals, GEMM.
 *
 * loom_runtime_init() runs once (every graph calls it): it picks the best kernel set the CPU supports
 * (or the one LOOM_ISA=scalar|avx2|avx512 forces), sets the thread count (LOOM_NUM_THREADS, default
 * all cores) for both our OpenMP kernels and OpenBLAS — which share one OpenMP pool — and flushes
 * denormals to zero (FTZ/DAZ) on every thread of that pool. */
#ifndef LOOM_RUNTIME_H
#define LOOM_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>

#include "loom/cpu.h"

#ifdef __cplusplus
extern "C" {
#endif

void loom_runtime_init(void);
/* The kernel set in use (loom/cpu.h says which ones the CPU could run). */
loom_isa loom_runtime_isa(void);
/* Switch the kernel set (tests and benchmarks). Returns false if the CPU lacks it. */
bool loom_runtime_set_isa(loom_isa isa);
int loom_num_threads(void);
void loom_set_num_threads(int n);
const char *loom_version(void);
/* The GEMM kernels OpenBLAS picked for this CPU (e.g. "Haswell", "SkylakeX", "Zen"): results can
 * differ in the last digits between kernels, and some kernels take other code paths. */
const char *loom_blas_core_name(void);

/* sum_i a[i] b[i] through the kernel table: the same order (and so the same sum) as every dot
 * product inside the graph's ops. */
float loom_vec_dot(size_t n, const float *a, const float *b);

/* C = alpha · op(A) · op(B) + beta · C, row-major. The one door to OpenBLAS's sgemm. */
void loom_gemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float *A, int lda,
               const float *B, int ldb, float beta, float *C, int ldc);

/* The same product as one single-threaded call, never split: for ops that thread over the batch or
 * rows themselves and give each thread its own slice. The result depends only on the shapes, so it
 * is the same for any thread count. */
void loom_gemm_single(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float *A, int lda,
                      const float *B, int ldb, float beta, float *C, int ldc);

#ifdef __cplusplus
}
#endif
#endif
