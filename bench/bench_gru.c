/* bench_gru.c — training forward + backward (dx too) of one fused GRU layer (B=64, E=128, H=128, T=64 and
 * 256, all states out, loss = sum(y R)) and of a TextCNN block (B=64, T=64, E=128, widths 2, 3, 4, 64
 * filters each, max over time, masked lengths) at 1 and 2 threads: median wall and CPU ms per iteration,
 * GFLOP/s of wall time (GRU: GEMM flops only, 3 x 2·T·B·3H·(E+H)), and — given the output of
 * bench/torch_gru.py as argv[1] — the speed-up over PyTorch on the same shapes and threads.
 * "GEMM bound" (GRU): the op's GEMMs alone through loom_gemm as the op runs them.
 *   build/bin/bench_gru [torch.txt|-] [threads]      (torch.txt: lines "what T threads wall_ms cpu_ms") */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loom/loom.h"
#include "bench_util.h"

char *openblas_get_corename(void);

static void torch_ms(const char *path, const char *what, int T, int threads, double *wall, double *cpu) {
  *wall = *cpu = 0;
  FILE *f = path ? fopen(path, "r") : NULL;
  if (!f) return;
  char line[256], w[32];
  int t, th;
  double a, c;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "%31s %d %d %lf %lf", w, &t, &th, &a, &c) == 5 && !strcmp(w, what) && t == T && th == threads)
      *wall = a, *cpu = c;
  fclose(f);
}

/* Median wall ms (and *cpu_ms) of zero-grad + forward + backward of `loss`. */
static double time_steps(loom_graph *g, loom_tensor *loss, double min_seconds, double *cpu_ms) {
  for (int i = 0; i < 2; i++) {
    loom_graph_zero_grad(g);
    loom_graph_forward(g);
    loom_graph_backward(g, loss);
  }
  static double times[2000], cpu[2000];
  double start = now();
  int iters = 0;
  do {
    double t0 = now(), c0 = cpu_now();
    loom_graph_zero_grad(g);
    loom_graph_forward(g);
    loom_graph_backward(g, loss);
    cpu[iters] = cpu_now() - c0;
    times[iters++] = now() - t0;
  } while ((now() - start < min_seconds || iters < 5) && iters < 2000);
  *cpu_ms = 1e3 * median(cpu, iters);
  return 1e3 * median(times, iters);
}

static double run_gru(int B, int T, int E, int H, double *cpu_ms) {
  loom_graph *g = loom_graph_new();
  loom_rng r;
  loom_rng_seed(&r, 1);
  loom_tensor *x = loom_input(g, "x", LOOM_F32, 3, (int[]){LOOM_BATCH, T, E});
  x->requires_grad = true; /* as in the PyTorch run: dx is computed too */
  loom_gru_opts o = loom_gru_opts_default(E, H);
  o.return_sequences = true;
  loom_tensor *y = loom_layer_gru(g, "gru", x, NULL, &o, &r);
  loom_tensor *R = loom_input(g, "R", LOOM_F32, 3, (int[]){LOOM_BATCH, T, H});
  loom_tensor *loss = loom_sum(g, loom_mul(g, y, R), LOOM_ALL, false);
  if (loom_graph_compile(g, B, 1, &loss, true) != 0) fprintf(stderr, "%s\n", loom_graph_error(g)), exit(1);
  for (size_t i = 0; i < (size_t)B * T * E; i++) x->data[i] = 2.0f * loom_rng_uniform(&r) - 1.0f;
  for (size_t i = 0; i < (size_t)B * T * H; i++) R->data[i] = 2.0f * loom_rng_uniform(&r) - 1.0f;
  double ms = time_steps(g, loss, 1.5, cpu_ms);
  loom_graph_free(g);
  return ms;
}

/* The GRU's GEMMs alone, as the op runs them at B = 64 (row blocks of 32, one per thread). */
static double gru_gemm_bound_ms(int B, int T, int E, int H) {
  const int G3 = 3 * H, rb = B < 32 ? B : B < 64 ? 16 : 32, nblk = (B + rb - 1) / rb;
  float *X = calloc((size_t)T * B * E, 4), *Z = calloc((size_t)T * B * G3, 4), *Hs = calloc((size_t)(T + 1) * B * H, 4);
  float *Wih = calloc((size_t)G3 * E, 4), *Whh = calloc((size_t)G3 * H, 4), *dW = calloc((size_t)G3 * (E > H ? E : H), 4);
  static double times[1000];
  int iters = 0;
  double start = now();
  do {
    double t0 = now();
    loom_gemm(false, true, T * B, G3, E, 1.0f, X, E, Wih, E, 0.0f, Z, G3);
#pragma omp parallel for schedule(static) if (nblk > 1)
    for (int blk = 0; blk < nblk; blk++)
      for (int s = 1; s < T; s++)
        (nblk > 1 ? loom_gemm_single : loom_gemm)(false, true, rb, G3, H, 1.0f, Hs + ((size_t)s * B + blk * rb) * H, H,
                                                  Whh, H, 0.0f, Z + ((size_t)s * B + blk * rb) * G3, G3);
#pragma omp parallel for schedule(static) if (nblk > 1)
    for (int blk = 0; blk < nblk; blk++)
      for (int s = T - 1; s > 0; s--)
        (nblk > 1 ? loom_gemm_single : loom_gemm)(false, false, rb, H, G3, 1.0f, Z + ((size_t)s * B + blk * rb) * G3, G3,
                                                  Whh, H, 1.0f, Hs + ((size_t)(s - 1) * B + blk * rb) * H, H);
    loom_gemm(true, false, G3, H, T * B, 1.0f, Z, G3, Hs, H, 0.0f, dW, H);
    loom_gemm(true, false, G3, E, T * B, 1.0f, Z, G3, X, E, 0.0f, dW, E);
    loom_gemm(false, false, T * B, E, G3, 1.0f, Z, G3, Wih, E, 0.0f, X, E);
    times[iters++] = now() - t0;
  } while ((now() - start < 1.0 || iters < 5) && iters < 1000);
  free(X), free(Z), free(Hs), free(Wih), free(Whh), free(dW);
  return 1e3 * median(times, iters);
}

static double run_textcnn(int B, int T, int E, int F, double *cpu_ms) {
  loom_graph *g = loom_graph_new();
  loom_rng r;
  loom_rng_seed(&r, 2);
  loom_tensor *x = loom_input(g, "x", LOOM_F32, 3, (int[]){LOOM_BATCH, T, E});
  x->requires_grad = true;
  loom_tensor *len = loom_input(g, "len", LOOM_I32, 1, (int[]){LOOM_BATCH});
  loom_textcnn_opts o = loom_textcnn_opts_default(E, F);
  o.widths[0] = 2, o.widths[1] = 3, o.widths[2] = 4;
  loom_tensor *y = loom_layer_textcnn(g, "cnn", x, len, &o, &r);
  loom_tensor *R = loom_input(g, "R", LOOM_F32, 2, (int[]){LOOM_BATCH, 3 * F});
  loom_tensor *loss = loom_sum(g, loom_mul(g, y, R), LOOM_ALL, false);
  if (loom_graph_compile(g, B, 1, &loss, true) != 0) fprintf(stderr, "%s\n", loom_graph_error(g)), exit(1);
  for (size_t i = 0; i < (size_t)B * T * E; i++) x->data[i] = 2.0f * loom_rng_uniform(&r) - 1.0f;
  for (size_t i = 0; i < (size_t)B * 3 * F; i++) R->data[i] = 2.0f * loom_rng_uniform(&r) - 1.0f;
  for (int b = 0; b < B; b++) len->idata[b] = T - (b * 7) % (T / 2); /* as torch_gru.py */
  double ms = time_steps(g, loss, 1.5, cpu_ms);
  loom_graph_free(g);
  return ms;
}

int main(int argc, char **argv) {
  loom_runtime_init();
  const char *torch = argc > 1 && strcmp(argv[1], "-") != 0 ? argv[1] : NULL;
  const int only_threads = argc > 2 ? atoi(argv[2]) : 0;
  const int B = 64, E = 128, H = 128, F = 64;
  printf("GRU / TextCNN fwd+bwd, B=%d E=%d H=%d F=%d, isa %s, OpenBLAS core %s\n", B, E, H, F,
         loom_isa_name(loom_runtime_isa()), openblas_get_corename());
  printf("%-8s %4s %3s %9s %8s %8s %8s %10s %9s %8s %8s\n", "what", "T", "thr", "wall ms", "cpu ms", "GFLOP/s",
         "% bound", "torch wall", "torch cpu", "x wall", "x cpu");
  for (int threads = 1; threads <= 2; threads++) {
    if (only_threads && threads != only_threads) continue;
    loom_set_num_threads(threads);
    const int Ts[2] = {64, 256};
    for (int ti = 0; ti < 2; ti++) {
      const int T = Ts[ti];
      const double gflop = 3.0 * 2.0 * T * B * 3.0 * H * (E + H) * 1e-9, bound = gru_gemm_bound_ms(B, T, E, H);
      double cpu, ms = run_gru(B, T, E, H, &cpu), tw, tc;
      torch_ms(torch, "gru", T, threads, &tw, &tc);
      printf("%-8s %4d %3d %9.2f %8.2f %8.1f %7.0f%%", "gru", T, threads, ms, cpu, gflop / (ms * 1e-3), 100 * bound / ms);
      if (tw > 0) printf(" %10.2f %9.2f %7.2fx %7.2fx", tw, tc, tw / ms, tc / cpu);
      printf("\n");
      fflush(stdout);
    }
    double cpu, ms = run_textcnn(B, 64, E, F, &cpu), tw, tc;
    torch_ms(torch, "textcnn", 64, threads, &tw, &tc);
    printf("%-8s %4d %3d %9.2f %8.2f %8s %8s", "textcnn", 64, threads, ms, cpu, "", "");
    if (tw > 0) printf(" %10.2f %9.2f %7.2fx %7.2fx", tw, tc, tw / ms, tc / cpu);
    printf("\n");
    fflush(stdout);
  }
  return 0;
}
