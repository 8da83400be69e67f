/* bench_backbone.c — torchvision ResNet-18 forward (src/model/backbone.c) at 224x224, batch 32, as a
 * frozen feature extractor: BatchNorm folded into the convs (what image.freeze = true runs) and, for
 * comparison, Conv2d + BatchNorm2d in eval mode; then feature extraction for N items (batches of 32).
 * bench/torch_backbone.py runs torchvision's resnet18 (eval, no_grad) on the same thread counts,
 * alternating with this program. Weights are random (speed does not depend on their values).
 * Usage: bench_backbone [threads=2] [iters=5] [items=0]   (prints one line per measurement) */
#include <stdio.h>
#include <stdlib.h>

#include "bench_util.h"
#include "loom/backbone.h"
#include "loom/runtime.h"
#include "loom/rng.h"

static double forward_ms(bool fused, int B, int iters, double *cpu_ms) {
  loom_graph *g = loom_graph_new();
  loom_tensor *x = loom_input(g, "image", LOOM_F32, 4, (int[]){LOOM_BATCH, 3, 224, 224});
  loom_tensor *y = loom_backbone_build(g, LOOM_BACKBONE_RESNET18, "bb.", fused, x);
  loom_rng r;
  loom_rng_seed(&r, 1);
  for (int i = 0; i < loom_graph_n_param_tensors(g); i++) {
    loom_tensor *t = loom_graph_param_tensor(g, i);
    for (size_t k = 0; k < loom_tensor_numel(t); k++) t->data[k] = 0.05f * (loom_rng_uniform(&r) - 0.5f);
  }
  if (loom_graph_compile(g, B, 1, &y, false) < 0) {
    fprintf(stderr, "%s\n", loom_graph_error(g));
    exit(1);
  }
  for (size_t k = 0; k < (size_t)B * 3 * 224 * 224; k++) x->data[k] = loom_rng_uniform(&r);
  loom_graph_forward(g); /* warm-up */
  double *t = malloc((size_t)iters * sizeof *t), c0 = cpu_now();
  for (int i = 0; i < iters; i++) {
    double t0 = now();
    loom_graph_forward(g);
    t[i] = 1e3 * (now() - t0);
  }
  *cpu_ms = 1e3 * (cpu_now() - c0) / iters;
  double m = median(t, iters);
  free(t);
  loom_graph_free(g);
  return m;
}

int main(int argc, char **argv) {
  const int threads = argc > 1 ? atoi(argv[1]) : 2, iters = argc > 2 ? atoi(argv[2]) : 5;
  const int items = argc > 3 ? atoi(argv[3]) : 0;
  loom_set_num_threads(threads);
  double cpu;
  double f = forward_ms(true, 32, iters, &cpu);
  printf("loom resnet18 forward B=32 224x224 threads=%d BN-folded: %.1f ms (median of %d), cpu %.1f ms\n", threads, f,
         iters, cpu);
  double u = forward_ms(false, 32, iters, &cpu);
  printf("loom resnet18 forward B=32 224x224 threads=%d conv+BatchNorm2d: %.1f ms (median of %d), cpu %.1f ms\n",
         threads, u, iters, cpu);
  if (items > 0) {
    const int batches = (items + 31) / 32;
    double t0 = now();
    forward_ms(true, 32, batches, &cpu);
    double s = now() - t0;
    printf("loom resnet18 features for %d items (%d batches of 32, incl. build and warm-up) threads=%d: %.1f s, "
           "%.1f items/s\n", items, batches, threads, s, items / s);
  }
  return 0;
}
