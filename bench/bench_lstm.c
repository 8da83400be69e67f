/* bench_lstm.c — forward + backward of one fused LSTM layer (B=64, E=128, H=128, T=64 and 256) at 1
 * and 2 threads: median ms per iteration, GFLOP/s of wall time (GEMM flops only: 3 x 2·T·B·4H·(E+H)), and — given the
 * output of bench/torch_lstm.py as argv[1] — the speed-up over PyTorch on the same shapes.
 * "bound": the same GEMMs alone (one (T·B, 4H, E) projection, T per-step (B, 4H, H) products in 32-row
 * blocks, and their backward counterparts) through loom_gemm on the same threads — what the op would take
 * if its gate math, copies and masking were free; "% bound" = bound / op time.
 * Also compares the recurrence strategies: row blocks of 16 / 32 rows run by threads with
 * single-threaded per-step GEMMs (no barrier per step), against one block whose per-step GEMM is
 * threaded by loom_gemm over gate columns (a fork/join per step).
 *   build/bin/bench_lstm [torch.txt] [T] [threads]     (torch.txt: lines "T threads wall_ms cpu_ms"; T, threads:
 *   run only that configuration) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "loom/loom.h"
#include "loom/lstm.h"
#include "bench_util.h"

char *openblas_get_corename(void); /* which sgemm kernels OpenBLAS picked (OPENBLAS_CORETYPE overrides) */
extern int loom_lstm_row_block; /* ops_lstm.c: 0 = automatic; for this comparison only */


/* PyTorch's wall and CPU ms for (T, threads) from torch_lstm.py's output; 0 if absent. */
static void torch_ms(const char *path, int T, int threads, double *wall, double *cpu) {
  *wall = *cpu = 0;
  FILE *f = path ? fopen(path, "r") : NULL;
  if (!f) return;
  char line[256];
  int t, th;
  double w, c;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "%d %d %lf %lf", &t, &th, &w, &c) == 4 && t == T && th == threads) *wall = w, *cpu = c;
  fclose(f);
}


/* Median wall ms per iteration; *cpu_ms: median process CPU ms. */
static double run(int B, int T, int E, int H, double min_seconds, double *cpu_ms) {
  loom_graph *g = loom_graph_new();
  loom_rng r;
  loom_rng_seed(&r, 1);
  loom_tensor *x = loom_input(g, "x", LOOM_F32, 3, (int[]){LOOM_BATCH, T, E});
  x->requires_grad = true; /* as in the PyTorch run: dx is computed too */
  loom_lstm_opts o = {.input_size = E, .hidden = H, .return_sequences = true, .init = LOOM_INIT_TORCH_DEFAULT};
  loom_tensor *y = loom_layer_lstm(g, "lstm", x, NULL, &o, &r);
  loom_tensor *R = loom_input(g, "R", LOOM_F32, 3, (int[]){LOOM_BATCH, T, H});
  loom_tensor *loss = loom_sum(g, loom_mul(g, y, R), LOOM_ALL, false);
  if (loom_graph_compile(g, B, 1, &loss, true) != 0) {
    fprintf(stderr, "%s\n", loom_graph_error(g));
    exit(1);
  }
  for (size_t i = 0; i < (size_t)B * T * E; i++) x->data[i] = 2.0f * loom_rng_uniform(&r) - 1.0f;
  for (size_t i = 0; i < (size_t)B * T * H; i++) R->data[i] = 2.0f * loom_rng_uniform(&r) - 1.0f;
  for (int i = 0; i < 2; i++) {
    loom_graph_zero_grad(g);
    loom_graph_forward(g);
    loom_graph_backward(g, loss);
  }
  /* the median iteration: other processes share this CPU, and the median shrugs off their bursts */
  static double times[1000], cpu[1000];
  double start = now();
  int iters = 0;
  do {
    double t0 = now(), c0 = cpu_now();
    loom_graph_zero_grad(g);
    loom_graph_forward(g);
    loom_graph_backward(g, loss);
    cpu[iters] = cpu_now() - c0;
    times[iters++] = now() - t0;
  } while ((now() - start < min_seconds || iters < 5) && iters < 1000);
  loom_graph_free(g);
  qsort(times, (size_t)iters, sizeof times[0], cmp_double);
  qsort(cpu, (size_t)iters, sizeof cpu[0], cmp_double);
  *cpu_ms = 1e3 * cpu[iters / 2];
  return 1e3 * times[iters / 2];
}

/* The LSTM's GEMMs alone, as the op runs them (forward: Z = Xs W_ihᵀ, per step z += h W_hhᵀ per row block;
 * backward: per step dh = dZ W_hh per row block, then dW_hh, dW_ih, dx as one GEMM each): median ms. */
static double gemm_bound_ms(int B, int T, int E, int H, double min_seconds) {
  const int G4 = 4 * H, rb = B < 32 ? B : 32, nblk = (B + rb - 1) / rb;
  float *X = calloc((size_t)T * B * E, 4), *Z = calloc((size_t)T * B * G4, 4), *Hs = calloc((size_t)(T + 1) * B * H, 4);
  float *Wih = calloc((size_t)G4 * E, 4), *Whh = calloc((size_t)G4 * H, 4), *dW = calloc((size_t)G4 * (E > H ? E : H), 4);
  loom_rng r;
  loom_rng_seed(&r, 3);
  for (size_t i = 0; i < (size_t)G4 * E; i++) Wih[i] = loom_rng_uniform(&r) - 0.5f;
  for (size_t i = 0; i < (size_t)G4 * H; i++) Whh[i] = loom_rng_uniform(&r) - 0.5f;
  static double times[1000];
  int iters = 0;
  double start = now();
  do {
    double t0 = now();
    loom_gemm(false, true, T * B, G4, E, 1.0f, X, E, Wih, E, 0.0f, Z, G4);
#pragma omp parallel for schedule(static) if (nblk > 1)
    for (int blk = 0; blk < nblk; blk++)
      for (int s = 1; s < T; s++)
        (nblk > 1 ? loom_gemm_single : loom_gemm)(false, true, rb, G4, H, 1.0f, Hs + ((size_t)s * B + blk * rb) * H, H,
                                                  Whh, H, 1.0f, Z + ((size_t)s * B + blk * rb) * G4, G4);
#pragma omp parallel for schedule(static) if (nblk > 1)
    for (int blk = 0; blk < nblk; blk++)
      for (int s = T - 1; s > 0; s--)
        (nblk > 1 ? loom_gemm_single : loom_gemm)(false, false, rb, H, G4, 1.0f, Z + ((size_t)s * B + blk * rb) * G4, G4,
                                                  Whh, H, 0.0f, Hs + ((size_t)(s - 1) * B + blk * rb) * H, H);
    loom_gemm(true, false, G4, H, T * B, 1.0f, Z, G4, Hs, H, 0.0f, dW, H);
    loom_gemm(true, false, G4, E, T * B, 1.0f, Z, G4, X, E, 0.0f, dW, E);
    loom_gemm(false, false, T * B, E, G4, 1.0f, Z, G4, Wih, E, 0.0f, X, E);
    times[iters++] = now() - t0;
  } while ((now() - start < min_seconds || iters < 5) && iters < 1000);
  qsort(times, (size_t)iters, sizeof times[0], cmp_double);
  free(X), free(Z), free(Hs), free(Wih), free(Whh), free(dW);
  return 1e3 * times[iters / 2];
}

int main(int argc, char **argv) {
  loom_runtime_init();
  const char *torch = argc > 1 && strcmp(argv[1], "-") != 0 ? argv[1] : NULL;
  const int only_T = argc > 2 ? atoi(argv[2]) : 0, only_threads = argc > 3 ? atoi(argv[3]) : 0;
  const int B = 64, E = 128, H = 128;
  printf("LSTM fwd+bwd, B=%d E=%d H=%d, isa %s, OpenBLAS core %s (preliminary: the CPU is shared)\n", B, E, H,
         loom_isa_name(loom_runtime_isa()), openblas_get_corename());
  printf("%4s %3s %-27s %8s %8s %8s %8s %9s %9s %8s %8s\n", "T", "thr", "strategy", "wall ms", "cpu ms", "GFLOP/s",
         "% bound", "torch wall", "torch cpu", "x wall", "x cpu");
  const int Ts[2] = {64, 256};
  const struct { int rb; const char *name; } strat[3] = {
      {32, "row blocks of 32 (default)"}, {16, "row blocks of 16"}, {B, "1 block, gemm over columns"}};
  for (int ti = 0; ti < 2; ti++)
    for (int threads = 1; threads <= 2; threads++) {
      const int T = Ts[ti];
      if ((only_T && T != only_T) || (only_threads && threads != only_threads)) continue;
      loom_set_num_threads(threads);
      const double gflop = 3.0 * 2.0 * T * B * 4.0 * H * (E + H) * 1e-9;
      double tw, tc;
      torch_ms(torch, T, threads, &tw, &tc);
      const double bound = gemm_bound_ms(B, T, E, H, 1.0);
      printf("%4d %3d %-27s %8.2f %8s %8.1f\n", T, threads, "GEMM bound (GEMMs alone)", bound, "", gflop / (bound * 1e-3));
      for (int s = 0; s < 3; s++) {
        loom_lstm_row_block = strat[s].rb;
        double cpu, ms = run(B, T, E, H, 1.5, &cpu);
        printf("%4d %3d %-27s %8.2f %8.2f %8.1f %7.0f%%", T, threads, strat[s].name, ms, cpu, gflop / (ms * 1e-3),
               100 * bound / ms);
        if (tw > 0) printf(" %9.2f %9.2f %7.2fx %7.2fx", tw, tc, tw / ms, tc / cpu);
        printf("\n");
        fflush(stdout);
      }
    }
  loom_lstm_row_block = 0;
  return 0;
}
