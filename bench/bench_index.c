/* bench_index — exact top-K search latency: one query against N item embeddings (cosine), 1 thread.
 * The inference goal: rank 10,000 candidates in <= 20 ms on one core with the item cache warm.
 *   bench_index [--items N] [--dim D] [--k K] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "loom/index.h"
#include "loom/rng.h"
#include "loom/runtime.h"
#include "bench_util.h"

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  long n = 10000;
  int d = 128, k = 10;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--items")) n = atol(argv[i + 1]);
    else if (!strcmp(argv[i], "--dim")) d = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--k")) k = atoi(argv[i + 1]);
  }
  loom_set_num_threads(1);
  loom_rng r;
  loom_rng_seed(&r, 1);
  float *rows = malloc(sizeof(float) * (size_t)n * (size_t)d), *q = malloc(sizeof(float) * (size_t)d);
  for (long i = 0; i < n * d; i++) rows[i] = loom_rng_uniform(&r) - 0.5f;
  loom_error err;
  loom_index *ix = loom_index_new(rows, n, d, LOOM_INDEX_COSINE, &err);
  if (!ix) {
    fprintf(stderr, "%s\n", err.msg);
    return 1;
  }
  int64_t *out = malloc(sizeof(int64_t) * (size_t)k);
  float *sc = malloc(sizeof(float) * (size_t)k);
  enum { REPS = 201 };
  double t[REPS];
  for (int rep = 0; rep < REPS; rep++) {
    for (int j = 0; j < d; j++) q[j] = loom_rng_uniform(&r) - 0.5f;
    double t0 = now();
    loom_index_search(ix, q, k, NULL, 0, out, sc);
    t[rep] = now() - t0;
  }
  qsort(t, REPS, sizeof *t, cmp);
  printf("top-%d of %ld items (dim %d, cosine, 1 thread): median %.3f ms, p90 %.3f ms\n", k, n, d, t[REPS / 2] * 1e3,
         t[REPS * 9 / 10] * 1e3);
  loom_index_free(ix);
  free(rows);
  free(q);
  free(out);
  free(sc);
  return 0;
}
