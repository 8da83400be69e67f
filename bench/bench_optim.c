/* bench_optim — one optimiser update over a flat buffer of N parameters (default 8M): Adam, AdamW,
 * Adam + L2, SGD with Nesterov momentum through the fused loom_k.sgd kernel, and the same SGD update
 * composed from the existing axpy/affine kernels (the case for having the fused kernel), plus global-
 * norm clipping. Medians of interleaved repetitions, in ms per step and effective GB/s (the least
 * traffic the update needs: Adam reads p, g, m, v and writes p, m, v = 5 floats counting p, m, v once).
 *   bench_optim [--n N] [--reps R] [--threads T] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "graph_internal.h"
#include "loom/loom.h"
#include "loom/optim.h"
#include "bench_util.h"


/* SGD with Nesterov momentum and L2 from the generic kernels: 4 passes instead of 1. */
static void sgd_composed(loom_graph *g, float *buf, float *tmp, float lr, float mu, float wd) {
  float *P = loom_graph_params(g), *G = loom_graph_grads(g);
  size_t n = loom_graph_n_params(g);
  LOOM_PARALLEL_BLOCKS(n, s, len, {
    memcpy(tmp + s, G + s, len * sizeof(float));
    loom_k.axpy(len, wd, P + s, tmp + s);               /* g' = g + wd p */
    loom_k.affine(len, mu, 0.0f, buf + s, buf + s);     /* b = mu b */
    loom_k.acc(len, tmp + s, buf + s);                  /*   + g' */
    loom_k.axpy(len, mu, buf + s, tmp + s);             /* d = g' + mu b */
    loom_k.axpy(len, -lr, tmp + s, P + s);              /* p -= lr d */
  });
}

int main(int argc, char **argv) {
  size_t n = 8u << 20;
  int reps = 15;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--n")) n = strtoull(argv[i + 1], NULL, 10);
    else if (!strcmp(argv[i], "--reps")) reps = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--threads")) loom_set_num_threads(atoi(argv[i + 1]));
  }
  loom_graph *g = loom_graph_new();
  loom_param(g, "w", 1, (int[]){(int)n});
  loom_rng r;
  loom_rng_seed(&r, 1);
  float *P = loom_graph_params(g), *G = loom_graph_grads(g);
  for (size_t i = 0; i < n; i++) P[i] = loom_rng_uniform(&r) - 0.5f, G[i] = 1e-3f * (loom_rng_uniform(&r) - 0.5f);
  enum { ADAM, ADAMW, ADAM_L2, SGD_FUSED, SGD_COMPOSED, CLIP, NB };
  const char *names[NB] = {"adam", "adamw", "adam+l2", "sgd nesterov (fused kernel)", "sgd nesterov (axpy/affine)",
                           "clip_grad_norm"};
  const double bytes[NB] = {5 * 4.0, 5 * 4.0, 5 * 4.0, 4 * 4.0, 4 * 4.0, 1 * 4.0}; /* least traffic per element */
  loom_optim_config cfg[4] = {loom_optim_defaults(LOOM_OPTIM_ADAM), loom_optim_defaults(LOOM_OPTIM_ADAMW),
                              loom_optim_defaults(LOOM_OPTIM_ADAM), loom_optim_defaults(LOOM_OPTIM_SGD)};
  cfg[2].weight_decay = 1e-4f;
  cfg[3].momentum = 0.9f;
  cfg[3].nesterov = true;
  cfg[3].weight_decay = 1e-4f;
  loom_optim *o[4];
  for (int k = 0; k < 4; k++) o[k] = loom_optim_new(g, &cfg[k], NULL);
  float *buf = loom_aligned_alloc(n * sizeof(float)), *tmp = loom_aligned_alloc(n * sizeof(float));
  memset(buf, 0, n * sizeof(float));
  double *t = malloc(sizeof(double) * NB * (size_t)reps);
  for (int rep = 0; rep < reps; rep++)
    for (int k = 0; k < NB; k++) {
      double t0 = now();
      if (k <= SGD_FUSED) loom_optim_step(o[k], 1e-4f);
      else if (k == SGD_COMPOSED) sgd_composed(g, buf, tmp, 1e-4f, 0.9f, 1e-4f);
      else loom_clip_grad_norm(g, 1e9f);
      t[k * reps + rep] = now() - t0;
    }
  printf("bench_optim: %zu parameters, isa %s, %d threads, median of %d (preliminary: shared machine)\n", n,
         loom_isa_name(loom_runtime_isa()), loom_num_threads(), reps);
  for (int k = 0; k < NB; k++) {
    qsort(t + k * reps, (size_t)reps, sizeof(double), cmp_double);
    double med = t[k * reps + reps / 2];
    printf("  %-30s %8.2f ms/step  %6.1f GB/s\n", names[k], med * 1e3, bytes[k] * (double)n / med / 1e9);
  }
  for (int k = 0; k < 4; k++) loom_optim_free(o[k]);
  loom_free(buf);
  loom_free(tmp);
  free(t);
  loom_graph_free(g);
  return 0;
}
