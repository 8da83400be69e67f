/* bench_conv.c — speed of the CNN image tower: 3x32x32 -> Conv2D(32, 3x3, relu) -> MaxPool2 ->
 * Conv2D(64, 3x3, relu) -> MaxPool2 -> Conv2D(128, 3x3, relu) -> MaxPool2, batch 64, forward +
 * backward, for 1 and 2 threads (or the counts given). Prints ms/iter and conv GFLOP/s;
 * bench/torch_conv.py runs the same stack in PyTorch and prints the ratio.
 * "GEMM bound": the same products alone as three loom_gemm calls per layer over the whole batch
 * (y = W col, dW = dy colᵀ, dcol = Wᵀ dy; no dcol for the first layer), without im2col/col2im, bias,
 * pooling or activations: the time the stack would take if everything but its GEMMs were free.
 * Usage: bench_conv [iters] [threads...]; LOOM_BENCH_PROFILE=1 adds a per-op breakdown. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "graph_internal.h"
#include "loom/loom.h"
#include "bench_util.h"

/* CPU time of the whole process (all threads): on a machine shared with other jobs, CPU / threads
 * is a steadier estimate of the time we would take alone than wall time. */
static double cpu(void) { return clock_s(CLOCK_PROCESS_CPUTIME_ID); }

/* ms of the stack's GEMMs alone (see above), median of `iters`. */
static double gemm_bound_ms(int B, int iters) {
  const int O[3] = {32, 64, 128}, K[3] = {27, 288, 576}, P[3] = {900, 169, 16};
  float *w = calloc(128 * 576, 4), *col = calloc((size_t)B * 288 * 169, 4), *y = calloc((size_t)B * 64 * 900, 4);
  double *t = malloc(sizeof(double) * (size_t)iters), best;
  for (int it = 0; it < iters; it++) {
    double t0 = now();
    for (int l = 0; l < 3; l++) {
      const int N = B * P[l];
      loom_gemm(false, false, O[l], N, K[l], 1.0f, w, K[l], col, N, 0.0f, y, N);
      loom_gemm(false, true, O[l], K[l], N, 1.0f, y, N, col, N, 0.0f, w, K[l]);
      if (l > 0) loom_gemm(true, false, K[l], N, O[l], 1.0f, w, K[l], y, N, 0.0f, col, N);
    }
    t[it] = now() - t0;
  }
  for (int i = 1; i < iters; i++) /* insertion sort: small */
    for (int j = i; j > 0 && t[j - 1] > t[j]; j--) best = t[j], t[j] = t[j - 1], t[j - 1] = best;
  best = t[iters / 2];
  free(w), free(col), free(y), free(t);
  return 1e3 * best;
}

int main(int argc, char **argv) {
  const int B = 64, iters = argc > 1 ? atoi(argv[1]) : 20;
  int threads[8] = {1, 2}, nthreads = 2;
  if (argc > 2) {
    nthreads = 0;
    for (int i = 2; i < argc && nthreads < 8; i++) threads[nthreads++] = atoi(argv[i]);
  }
  loom_runtime_init();
  /* conv FLOPs: forward 2 B O K P per layer; backward dW the same, dX the same except the first layer */
  const double f1 = 2.0 * B * 32 * 27 * 900, f2 = 2.0 * B * 64 * 288 * 169, f3 = 2.0 * B * 128 * 576 * 16;
  const double flops = 2 * (f1 + f2 + f3) + f2 + f3;
  printf("loom conv stack, B=%d, isa %s, %.3f GFLOP/iter (fwd %.3f)\n", B, loom_isa_name(loom_runtime_isa()),
         flops * 1e-9, (f1 + f2 + f3) * 1e-9);
  for (int ti = 0; ti < nthreads; ti++) {
    loom_set_num_threads(threads[ti]);
    loom_rng r;
    loom_rng_seed(&r, 1);
    loom_graph *g = loom_graph_new();
    loom_tensor *x = loom_input(g, "x", LOOM_F32, 4, (int[]){LOOM_BATCH, 3, 32, 32});
    loom_pool2d_opts pool = {.kernel_h = 2, .kernel_w = 2};
    loom_tensor *h = x;
    const int chans[4] = {3, 32, 64, 128};
    for (int l = 0; l < 3; l++) {
      loom_conv2d_opts o = loom_conv2d_opts_default(chans[l], chans[l + 1], 3);
      o.activation = LOOM_ACT_RELU;
      char name[32];
      snprintf(name, sizeof name, "conv%d", l);
      h = loom_layer_conv2d(g, name, h, &o, &r);
      snprintf(name, sizeof name, "pool%d", l);
      h = loom_layer_maxpool2d(g, name, h, &pool);
    }
    loom_tensor *R = loom_input(g, "R", LOOM_F32, 4, (int[]){LOOM_BATCH, 128, 2, 2});
    loom_tensor *loss = loom_sum(g, loom_mul(g, h, R), LOOM_ALL, false);
    if (loom_graph_compile(g, B, 1, &loss, true) != 0) {
      fprintf(stderr, "compile: %s\n", loom_graph_error(g));
      return 1;
    }
    for (size_t i = 0; i < loom_tensor_numel(x); i++) x->data[i] = loom_rng_uniform(&r);
    for (size_t i = 0; i < loom_tensor_numel(R); i++) R->data[i] = loom_rng_uniform(&r) - 0.5f;
    loom_graph_set_training(g, true);
    for (int w = 0; w < 3; w++) {
      loom_graph_zero_grad(g);
      loom_graph_forward(g);
      loom_graph_backward(g, loss);
    }
    double tf = 0, tb = 0, c0 = cpu();
    for (int it = 0; it < iters; it++) {
      double t0 = now();
      loom_graph_zero_grad(g);
      loom_graph_forward(g);
      double t1 = now();
      loom_graph_backward(g, loss);
      double t2 = now();
      tf += t1 - t0, tb += t2 - t1;
    }
    const double cpu_ms = 1e3 * (cpu() - c0) / iters;
    if (getenv("LOOM_BENCH_PROFILE")) { /* each op's forward and backward alone, in graph order */
      for (int i = 0; i < loom_graph_n_nodes(g); i++) {
        loom_tensor *t = loom_graph_node(g, i);
        if (t->kind != LOOM_NODE_OP || !t->live) continue;
        double t0 = cpu();
        for (int it = 0; it < iters; it++) loom_ops[t->op]->forward(g, t);
        double t1 = cpu();
        for (int it = 0; it < iters && t->requires_grad; it++) loom_ops[t->op]->backward(g, t);
        double t2 = cpu();
        printf("  %-12s %-10s fwd %7.2f ms  bwd %7.2f ms (CPU time)\n", t->name, loom_op_name(t->op), 1e3 * (t1 - t0) / iters,
               1e3 * (t2 - t1) / iters);
      }
    }
    const double ms = 1e3 * (tf + tb) / iters;
    const double bound = gemm_bound_ms(B, iters);
    printf("threads %d: %.2f ms/iter (forward %.2f, backward %.2f), %.1f GFLOP/s; CPU %.2f ms/iter; GEMM bound %.2f ms "
           "(%.0f%% of the op time)\n", threads[ti], ms, 1e3 * tf / iters, 1e3 * tb / iters, flops / (ms * 1e-3) * 1e-9,
           cpu_ms, bound, 100 * bound / ms);
    loom_graph_free(g);
  }
  return 0;
}
