/* bench_serve_inproc — the in-process side of bench/bench_serve.sh: loom_infer_rank (top 10) for the
 * same 200 users the wrk script asks for, on one session and one thread (as a loom-serve worker) with the
 * catalogue warm; p50 / p99 over R calls.
 * The difference to loom-serve's p50 at 1 connection is what HTTP + JSON (and the queue) add.
 *   bench_serve_inproc CKPT ITEMS.csv [R=2000] */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "loom/loom.h"

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}
static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: bench_serve_inproc CKPT ITEMS.csv [R]\n");
    return 2;
  }
  int R = argc > 3 ? atoi(argv[3]) : 2000;
  if (R < 10) R = 10;
  loom_runtime_init(); /* first: it sets the thread count from LOOM_NUM_THREADS / the CPUs */
  loom_set_num_threads(1); /* as a loom-serve worker runs (one compute thread per worker) */
  loom_error err;
  loom_infer_opts o = {.items = argv[2]};
  double t0 = now();
  loom_infer *s = loom_infer_open(argv[1], &o, &err);
  loom_hit h[10];
  unsigned fl;
  if (!s || loom_infer_rank(s, "u00000", NULL, 10, h, &fl, &err) < 0) {
    fprintf(stderr, "bench_serve_inproc: %s\n", err.msg);
    return 1;
  }
  double warm = now() - t0, *t = malloc(sizeof(double) * (size_t)R);
  for (int i = 0; i < R; i++) {
    char user[16];
    snprintf(user, sizeof user, "u%05d", (i + 1) % 200);
    double a = now();
    if (loom_infer_rank(s, user, NULL, 10, h, &fl, &err) < 0) {
      fprintf(stderr, "bench_serve_inproc: %s\n", err.msg);
      return 1;
    }
    t[i] = now() - a;
  }
  qsort(t, (size_t)R, sizeof *t, cmp);
  printf("in-process loom_infer_rank, %lld items, top 10, 1 session: p50 %.3f ms, p99 %.3f ms over %d calls "
         "(open + warm-up %.1f s)\n", (long long)loom_infer_catalog_size(s, &err), 1e3 * t[R / 2], 1e3 * t[R * 99 / 100],
         R, warm);
  free(t);
  loom_infer_close(s);
  return 0;
}
