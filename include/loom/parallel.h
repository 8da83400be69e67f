/* loom/parallel.h — how loom runs a loop on its OpenMP threads.
 *
 * An OpenMP region whose `if` clause is false still runs as a one-thread team, and libgomp allocates
 * that team (memalign) on every entry, as it does for a region nested in another one or for any region
 * while the pool has one thread; only a team of the pool's own size is kept and reused. So a loop too
 * small to share, or one inside an enclosing region, must not enter a region at all: LOOM_PARALLEL_FOR
 * runs it inline then, and as `omp parallel for schedule(static)` on the whole pool otherwise. The
 * split is static, so which thread runs an iteration never changes what it computes.
 *
 *   LOOM_PARALLEL_FOR(rows * C > LOOM_PAR_GRAIN, (long r = 0; r < rows; r++), {
 *     y[r] = f(x[r]);
 *   });
 */
#ifndef LOOM_PARALLEL_H
#define LOOM_PARALLEL_H

#include <omp.h>

/* Ops share a loop among threads only over chunks of at least this many elements. */
#define LOOM_PAR_GRAIN 16384

#define LOOM_PARALLEL_FOR(par, head, ...)                                                                    \
  do {                                                                                                       \
    if ((par) && omp_get_max_threads() > 1 && !omp_in_parallel()) {                                                                     \
      _Pragma("omp parallel for schedule(static)") for head { __VA_ARGS__; }                                   \
    } else {                                                                                                 \
      for head { __VA_ARGS__; }                                                                               \
    }                                                                                                        \
  } while (0)

/* The same with a team of nthr threads (an op that sized per-thread scratch for nthr at compile). */
#define LOOM_PARALLEL_FOR_N(nthr, head, ...)                                                                 \
  do {                                                                                                       \
    const int loom_nthr_ = (nthr);                                                                           \
    if (loom_nthr_ > 1 && !omp_in_parallel()) {                                                           \
      _Pragma("omp parallel for num_threads(loom_nthr_) schedule(static)") for head { __VA_ARGS__; }          \
    } else {                                                                                                 \
      for head { __VA_ARGS__; }                                                                              \
    }                                                                                                        \
  } while (0)

#endif
