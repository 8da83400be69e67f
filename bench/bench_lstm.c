/* bench_lstm.c — forward + backward of one fused LSTM layer (B=64, E=128, H=128, T=64 and 256) at 1
 * and 2 threads: median ms per iteration, GFLOP/s (GEMM flops only: 3 x 2·T·B·4H·(E+H)), and — given the
 * output of bench/torch_lstm.py as argv[1] — the speed-up over PyTorch on the same shapes.
 * Also compares the recurrence strategies: row blocks of 16 / 32 rows run by threads with
 * single-threaded per-step GEMMs (no barrier per step), against one block whose per-step GEMM is
 * threaded by loom_gemm over gate columns (a fork/join per step).
 *   build/bin/bench_lstm [torch.txt]      (torch.txt: lines "T threads ms") */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "loom/loom.h"
#include "loom/lstm.h"

extern int loom_lstm_row_block; /* ops_lstm.c: 0 = automatic; for this comparison only */

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double torch_ms(const char *path, int T, int threads) {
  if (!path) return 0;
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  int t, th;
  double ms, found = 0;
  while (fscanf(f, "%d %d %lf", &t, &th, &ms) == 3)
    if (t == T && th == threads) found = ms;
  fclose(f);
  return found;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double run(int B, int T, int E, int H, double min_seconds) {
  loom_graph *g = loom_graph_new();
  loom_rng r;
  loom_rng_seed(&r, 1);
  loom_tensor *x = loom_input(g, "x", LOOM_F32, 3, (int[]){LOOM_BATCH, T, E});
  x->requires_grad = true; /* as in the PyTorch run: dx is computed too */
  loom_lstm_opts o = {.input_size = E, .hidden = H, .return_sequences = true, .init = LOOM_INIT_STYLE_TORCH};
  loom_tensor *y = loom_lstm(g, "lstm", x, NULL, &o, &r);
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
  double times[1000], start = now();
  int iters = 0;
  do {
    double t0 = now();
    loom_graph_zero_grad(g);
    loom_graph_forward(g);
    loom_graph_backward(g, loss);
    times[iters++] = now() - t0;
  } while ((now() - start < min_seconds || iters < 5) && iters < 1000);
  loom_graph_free(g);
  qsort(times, (size_t)iters, sizeof times[0], cmp_double);
  return 1e3 * times[iters / 2];
}

int main(int argc, char **argv) {
  loom_runtime_init();
  const char *torch = argc > 1 ? argv[1] : NULL;
  const int B = 64, E = 128, H = 128;
  printf("LSTM fwd+bwd, B=%d E=%d H=%d, isa %s (preliminary: the CPU is shared)\n", B, E, H,
         loom_isa_name(loom_runtime_isa()));
  printf("%5s %7s %-26s %9s %8s %9s %7s\n", "T", "threads", "strategy", "ms/iter", "GFLOP/s", "torch ms", "speedup");
  const int Ts[2] = {64, 256};
  const struct { int rb; const char *name; } strat[3] = {
      {16, "row blocks of 16 (default)"}, {32, "row blocks of 32"}, {B, "1 block, gemm over columns"}};
  for (int ti = 0; ti < 2; ti++)
    for (int threads = 1; threads <= 2; threads++) {
      loom_set_num_threads(threads);
      const int T = Ts[ti];
      const double gflop = 3.0 * 2.0 * T * B * 4.0 * H * (E + H) * 1e-9;
      const double tms = torch_ms(torch, T, threads);
      for (int s = 0; s < 3; s++) {
        loom_lstm_row_block = strat[s].rb;
        double ms = run(B, T, E, H, 1.5);
        printf("%5d %7d %-26s %9.2f %8.1f", T, threads, strat[s].name, ms, gflop / (ms * 1e-3));
        if (tms > 0) printf(" %9.2f %6.2fx", tms, tms / ms);
        printf("\n");
        fflush(stdout);
      }
    }
  loom_lstm_row_block = 0;
  return 0;
}
