/* bench_loss — forward + backward of the losses that dominate large-output training: softmax CE over
 * many classes (items) and in-batch InfoNCE, per kernel ISA (LOOM_ISA=scalar gives the plain-libm
 * reference). Medians of repetitions.   bench_loss [--reps R] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "loom/loom.h"
#include "loom/loss.h"
#include "bench_util.h"


static double time_step(loom_graph *g, loom_tensor *loss, int reps) {
  double *t = malloc(sizeof(double) * (size_t)reps);
  for (int r = 0; r < reps; r++) {
    double t0 = now();
    loom_graph_zero_grad(g);
    loom_graph_forward(g);
    loom_graph_backward(g, loss);
    t[r] = now() - t0;
  }
  qsort(t, (size_t)reps, sizeof *t, cmp_double);
  double med = t[reps / 2];
  free(t);
  return med;
}

int main(int argc, char **argv) {
  int reps = 11;
  if (argc > 2 && !strcmp(argv[1], "--reps")) reps = atoi(argv[2]);
  loom_rng r;
  loom_rng_seed(&r, 1);
  const int B = 512, C = 10000, Bq = 1024, D = 128;
  loom_graph *g = loom_graph_new();
  loom_tensor *x = loom_param(g, "x", 2, (int[]){B, C});
  loom_tensor *q = loom_param(g, "q", 2, (int[]){Bq, D}), *k = loom_param(g, "k", 2, (int[]){Bq, D});
  loom_init_tensor(x, (loom_init){LOOM_INIT_NORMAL, 3.0f}, &r);
  loom_init_tensor(q, (loom_init){LOOM_INIT_NORMAL, 1.0f}, &r);
  loom_init_tensor(k, (loom_init){LOOM_INIT_NORMAL, 1.0f}, &r);
  loom_tensor *y = loom_input(g, "y", LOOM_I32, 1, (int[]){B});
  int32_t *ys = malloc(sizeof(int32_t) * B);
  for (int i = 0; i < B; i++) ys[i] = (int32_t)loom_rng_below(&r, C);
  loom_input_bind(y, ys);
  loom_tensor *ce = loom_softmax_ce(g, x, y, 0.1f, LOOM_CE_IGNORE_DEFAULT, LOOM_REDUCE_MEAN);
  loom_tensor *nce = loom_infonce(g, q, k, 0.05f, true, true, LOOM_REDUCE_MEAN);
  printf("bench_loss: isa %s, %d threads, median of %d (preliminary: shared machine)\n", loom_isa_name(loom_runtime_isa()),
         loom_num_threads(), reps);
  loom_graph_compile(g, 1, 1, &ce, true);
  double t = time_step(g, ce, reps);
  printf("  softmax CE (%d, %d), smoothing 0.1   fwd+bwd %7.2f ms  (%.2f ns / logit)\n", B, C, t * 1e3, t * 1e9 / B / C);
  loom_graph_compile(g, 1, 1, &nce, true);
  t = time_step(g, nce, reps);
  printf("  InfoNCE (%d, %d), symmetric          fwd+bwd %7.2f ms\n", Bq, D, t * 1e3);
  free(ys);
  loom_graph_free(g);
  return 0;
}
