/* bench_transformer.c — training forward + backward (dx too) of one pre-LN Transformer encoder layer
 * (loom_layer_transformer: B=64, T=64, D=64, 4 heads, ff 256, ReLU, no positions, no final norm, masked
 * lengths, loss = sum(y R)) at 1 and 2 threads: median wall and CPU ms per iteration, training samples/s,
 * and — given the output of bench/torch_transformer.py as argv[1] — the speed-up over PyTorch's
 * nn.TransformerEncoderLayer(norm_first=True) on the same shapes, lengths and threads.
 *   build/bin/bench_transformer [torch.txt|-]      (torch.txt: lines "transformer T threads wall_ms cpu_ms") */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loom/loom.h"
#include "bench_util.h"

enum { B = 64, T = 64, D = 64, HEADS = 4, FF = 256 };

static void torch_ms(const char *path, int threads, double *wall, double *cpu) {
  *wall = *cpu = 0;
  FILE *f = path ? fopen(path, "r") : NULL;
  if (!f) return;
  char line[256], w[32];
  int t, th;
  double a, c;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "%31s %d %d %lf %lf", w, &t, &th, &a, &c) == 5 && !strcmp(w, "transformer") && t == T && th == threads)
      *wall = a, *cpu = c;
  fclose(f);
}

static double run(double *cpu_ms) {
  loom_graph *g = loom_graph_new();
  loom_rng r;
  loom_rng_seed(&r, 1);
  loom_tensor *x = loom_input(g, "x", LOOM_F32, 3, (int[]){LOOM_BATCH, T, D});
  x->requires_grad = true;
  loom_tensor *len = loom_input(g, "lengths", LOOM_I32, 1, (int[]){LOOM_BATCH});
  loom_transformer_opts o = loom_transformer_opts_default(D, T);
  o.heads = HEADS, o.ff_dim = FF, o.positions = LOOM_POS_NONE, o.final_norm = false;
  loom_tensor *y = loom_layer_transformer(g, "xf", x, len, &o, &r);
  loom_tensor *R = loom_input(g, "R", LOOM_F32, 3, (int[]){LOOM_BATCH, T, D});
  loom_tensor *loss = loom_sum(g, loom_mul(g, y, R), LOOM_ALL, false);
  if (loom_graph_compile(g, B, 1, &loss, true) != 0) fprintf(stderr, "%s\n", loom_graph_error(g)), exit(1);
  for (size_t i = 0; i < (size_t)B * T * D; i++) x->data[i] = 2.0f * loom_rng_uniform(&r) - 1.0f;
  for (size_t i = 0; i < (size_t)B * T * D; i++) R->data[i] = 2.0f * loom_rng_uniform(&r) - 1.0f;
  for (int b = 0; b < B; b++) len->idata[b] = T - (b * 7) % (T / 2); /* as torch_transformer.py */
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
  } while ((now() - start < 1.5 || iters < 5) && iters < 2000);
  loom_graph_free(g);
  *cpu_ms = 1e3 * median(cpu, iters);
  return 1e3 * median(times, iters);
}

int main(int argc, char **argv) {
  const char *tpath = argc > 1 && strcmp(argv[1], "-") ? argv[1] : NULL;
  loom_runtime_init();
  printf("Transformer encoder layer fwd+bwd, B=%d T=%d D=%d heads=%d ff=%d, isa %s\n", B, T, D, HEADS, FF,
         loom_isa_name(loom_runtime_isa()));
  printf("%3s %9s %8s %10s %10s %9s %8s\n", "thr", "wall ms", "cpu ms", "samples/s", "torch ms", "torch/s", "speedup");
  for (int threads = 1; threads <= 2; threads++) {
    loom_set_num_threads(threads);
    double cpu, ms = run(&cpu), tw, tc;
    torch_ms(tpath, threads, &tw, &tc);
    printf("%3d %9.2f %8.2f %10.0f", threads, ms, cpu, B / (ms * 1e-3));
    if (tw > 0) printf(" %10.2f %9.0f %7.2fx", tw, B / (tw * 1e-3), tw / ms);
    printf("\n");
  }
  return 0;
}
