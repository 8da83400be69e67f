/* loom-bench — the reference joint model (text LSTM tower, image CNN tower, interaction MLP, fused
 * head, BCE-with-logits, Adam) on synthetic fixed-seed inputs: median training and inference throughput,
 * peak RSS, the model's FLOPs counted analytically, GFLOP/s and % of this CPU's measured FMA peak.
 * bench/torch_ref.py is the same model in PyTorch with the same flags and last line; scripts/bench.sh
 * runs both alternately and prints the ratios. It leaves data loading and checkpoints to loom-train.
 *   loom-bench [--batch B] [--seq L] [--threads T] [--steps N] [--warmup W]
 * Last line: train_samples_per_s=<x> infer_samples_per_s=<y> peak_rss_mb=<z>
 * LOOM_BENCH_PROFILE=1 adds a per-op breakdown (each op's forward and backward re-run alone). */
#include <immintrin.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "graph_internal.h"
#include "loom/loom.h"
#include "loom/conv.h"
#include "loom/dense.h"
#include "loom/embedding.h"
#include "loom/loss.h"
#include "loom/lstm.h"
#include "loom/optim.h"
#include "bench_util.h"

char *openblas_get_corename(void); /* which sgemm kernels OpenBLAS picked (OPENBLAS_CORETYPE overrides) */

enum { VOCAB = 5000, EMB = 128, HID = 128, IMG = 32 };




/* ---- the model ---- */
typedef struct {
  loom_graph *g;
  loom_tensor *ids, *lengths, *image, *numeric, *target; /* inputs */
  loom_tensor *logits, *loss;
} model;

static loom_tensor *dense(loom_graph *g, const char *name, loom_tensor *x, int in, int units, loom_activation act,
                          loom_rng *r) {
  loom_dense_opts o = {.in_features = in, .units = units, .activation = act, .init = LOOM_INIT_TORCH_DEFAULT};
  return loom_layer_dense(g, name, x, &o, r);
}

static void build(model *m, int L, loom_rng *r) {
  loom_graph *g = m->g = loom_graph_new();
  m->ids = loom_input(g, "ids", LOOM_I32, 2, (int[]){LOOM_BATCH, L});
  m->lengths = loom_input(g, "lengths", LOOM_I32, 1, (int[]){LOOM_BATCH});
  m->image = loom_input(g, "image", LOOM_F32, 4, (int[]){LOOM_BATCH, 3, IMG, IMG});
  m->numeric = loom_input(g, "numeric", LOOM_F32, 2, (int[]){LOOM_BATCH, 3});
  m->target = loom_input(g, "target", LOOM_F32, 2, (int[]){LOOM_BATCH, 1});
  /* text: Embedding(5000, 128, padding 0) -> LSTM(128) -> last state -> Dense(64, relu) */
  loom_embedding_opts eo = {.vocab = VOCAB, .dim = EMB, .padding_idx = 0, .init = LOOM_INIT_TORCH_DEFAULT};
  loom_tensor *e = loom_layer_embedding(g, "text.emb", m->ids, &eo, r);
  loom_lstm_opts lo = {.input_size = EMB, .hidden = HID, .init = LOOM_INIT_TORCH_DEFAULT};
  loom_tensor *h = loom_layer_lstm(g, "text.lstm", e, m->lengths, &lo, r);
  loom_tensor *text = dense(g, "text.fc", h, HID, 64, LOOM_ACT_RELU, r);
  /* image: 3 x (Conv2D 3x3 valid relu -> MaxPool2), 32 -> 64 -> 128 channels -> Flatten -> Dense(128, relu) */
  loom_pool2d_opts pool = {.kernel_h = 2, .kernel_w = 2};
  loom_tensor *x = m->image;
  const int ch[4] = {3, 32, 64, 128};
  int side = IMG;
  for (int l = 0; l < 3; l++) {
    loom_conv2d_opts co = loom_conv2d_opts_default(ch[l], ch[l + 1], 3);
    co.activation = LOOM_ACT_RELU;
    co.init = LOOM_INIT_TORCH_DEFAULT;
    char name[32];
    snprintf(name, sizeof name, "image.conv%d", l);
    x = loom_layer_conv2d(g, name, x, &co, r);
    snprintf(name, sizeof name, "image.pool%d", l);
    x = loom_layer_maxpool2d(g, name, x, &pool);
    side = (side - 2) / 2;
  }
  loom_tensor *image = dense(g, "image.fc", loom_flatten(g, x), ch[3] * side * side, 128, LOOM_ACT_RELU, r);
  /* interaction: 3 numbers -> Dense(64, relu) -> Dense(32, relu) */
  loom_tensor *inter = dense(g, "inter.fc0", m->numeric, 3, 64, LOOM_ACT_RELU, r);
  inter = dense(g, "inter.fc1", inter, 64, 32, LOOM_ACT_RELU, r);
  /* head: concat (64 + 128 + 32) -> Dense(128, relu) -> Dense(1) -> BCE with logits (mean) */
  loom_tensor *cat = loom_concat(g, 3, (loom_tensor *[]){text, image, inter});
  loom_tensor *z = dense(g, "head.fc0", cat, 64 + 128 + 32, 128, LOOM_ACT_RELU, r);
  m->logits = dense(g, "head.fc1", z, 128, 1, LOOM_ACT_NONE, r);
  m->loss = loom_bce_logits(g, m->logits, m->target, NULL, LOOM_REDUCE_MEAN);
}

/* Synthetic batch: token ids in [1, VOCAB) filling all L steps (every sequence padded to exactly L, so
 * both frameworks do the same work), pixels in [0, 1), numbers in [-1, 1), labels 0/1. */
static void fill(model *m, int B, int L, loom_rng *r) {
  for (size_t i = 0; i < (size_t)B * L; i++) m->ids->idata[i] = 1 + (int32_t)loom_rng_below(r, VOCAB - 1);
  for (int b = 0; b < B; b++) m->lengths->idata[b] = L;
  for (size_t i = 0; i < loom_tensor_numel(m->image); i++) m->image->data[i] = loom_rng_uniform(r);
  for (size_t i = 0; i < loom_tensor_numel(m->numeric); i++) m->numeric->data[i] = 2 * loom_rng_uniform(r) - 1;
  for (int b = 0; b < B; b++) m->target->data[b] = (float)loom_rng_below(r, 2);
}

/* GEMM FLOPs of one forward pass, and of one training step (forward, backward for the weights of every
 * layer and for the inputs of every layer whose input needs a gradient). Elementwise work, pooling,
 * gathers and Adam are not counted: they are memory-bound. */
static void model_flops(int B, int L, double *fwd, double *train) {
  struct { double f; bool dx; } layer[] = {
      {2.0 * B * L * 4 * HID * (EMB + HID), true},          /* LSTM: input projection + recurrence */
      {2.0 * B * 64 * HID, true},                           /* text.fc */
      {2.0 * B * 32 * 27 * 30 * 30, false},                 /* conv0: 3 -> 32, 30x30 out, K = 27 */
      {2.0 * B * 64 * 288 * 13 * 13, true},                 /* conv1: 32 -> 64, 13x13 out, K = 288 */
      {2.0 * B * 128 * 576 * 4 * 4, true},                  /* conv2: 64 -> 128, 4x4 out, K = 576 */
      {2.0 * B * 128 * 512, true},                          /* image.fc */
      {2.0 * B * 64 * 3, false},                            /* inter.fc0 */
      {2.0 * B * 32 * 64, true},                            /* inter.fc1 */
      {2.0 * B * 128 * 224, true},                          /* head.fc0 */
      {2.0 * B * 1 * 128, true},                            /* head.fc1 */
  };
  *fwd = *train = 0;
  for (size_t i = 0; i < sizeof layer / sizeof layer[0]; i++) {
    *fwd += layer[i].f;
    *train += layer[i].f * (layer[i].dx ? 3 : 2);
  }
}

static void profile(loom_graph *g, int iters, bool backward) {
  printf("# per-op CPU time (%s), each op re-run alone %d times:\n", backward ? "training" : "inference", iters);
  for (int i = 0; i < loom_graph_n_nodes(g); i++) {
    loom_tensor *t = loom_graph_node(g, i);
    if (t->kind != LOOM_NODE_OP || !t->live) continue;
    double t0 = cpu_now();
    for (int it = 0; it < iters; it++) loom_ops[t->op]->forward(g, t);
    double t1 = cpu_now();
    for (int it = 0; it < iters && backward && t->requires_grad; it++) loom_ops[t->op]->backward(g, t);
    double t2 = cpu_now();
    printf("#   %-18s %-14s fwd %8.3f ms  bwd %8.3f ms\n", t->name, loom_op_name(t->op), 1e3 * (t1 - t0) / iters,
           1e3 * (t2 - t1) / iters);
  }
}

static void usage(void) {
  fprintf(stderr, "usage: loom-bench [--batch B] [--seq L] [--threads T] [--steps N] [--warmup W]\n");
  exit(2);
}

int main(int argc, char **argv) {
  int B = 64, L = 64, T = 2, steps = 20, warmup = 3;
  for (int i = 1; i < argc; i++) {
    int *dst = !strcmp(argv[i], "--batch")     ? &B
               : !strcmp(argv[i], "--seq")     ? &L
               : !strcmp(argv[i], "--threads") ? &T
               : !strcmp(argv[i], "--steps")   ? &steps
               : !strcmp(argv[i], "--warmup")  ? &warmup
                                               : NULL;
    if (!dst || i + 1 >= argc) usage();
    char *end;
    long v = strtol(argv[++i], &end, 10);
    if (*end || v < (dst == &warmup ? 0 : 1) || v > 100000) usage();
    *dst = (int)v;
  }
  loom_runtime_init();
  loom_set_num_threads(T);
  const bool has512 = loom_isa_supported(LOOM_ISA_AVX512);
  const double peak = fma_peak(T, has512);
  double fwd_flops, train_flops;
  model_flops(B, L, &fwd_flops, &train_flops);
  printf("# loom %s: kernels %s, OpenBLAS core %s, OPENBLAS_CORETYPE=%s, threads %d\n", loom_version(),
         loom_isa_name(loom_runtime_isa()), openblas_get_corename(),
         getenv("OPENBLAS_CORETYPE") ? getenv("OPENBLAS_CORETYPE") : "(unset)", T);
  printf("# batch %d, seq %d, steps %d (+%d warm-up); FLOPs per step: train %.3f G, inference %.3f G\n", B, L, steps,
         warmup, train_flops * 1e-9, fwd_flops * 1e-9);
  printf("# FMA peak (%s, %d thread%s): %.1f GFLOP/s\n", has512 ? "AVX-512" : "AVX2", T, T > 1 ? "s" : "", peak);

  loom_rng r;
  loom_rng_seed(&r, 42);
  model m;
  build(&m, L, &r);
  loom_error err;
  loom_optim_config oc = loom_optim_defaults(LOOM_OPTIM_ADAM);
  loom_optim *opt = loom_optim_new(m.g, &oc, &err);
  if (!opt) {
    fprintf(stderr, "loom-bench: %s\n", err.msg);
    return 1;
  }
  double *tt = malloc(sizeof(double) * (size_t)steps), *tc = malloc(sizeof(double) * (size_t)steps);
  double *ti = malloc(sizeof(double) * (size_t)steps), *ic = malloc(sizeof(double) * (size_t)steps);

  /* training: zero grad + forward + backward + Adam */
  if (loom_graph_compile(m.g, B, 1, &m.loss, true) != 0) {
    fprintf(stderr, "loom-bench: %s\n", loom_graph_error(m.g));
    return 1;
  }
  const size_t train_arena = loom_graph_arena_bytes(m.g);
  fill(&m, B, L, &r);
  loom_graph_set_training(m.g, true);
  float loss0 = 0, loss1 = 0;
  for (int s = -warmup; s < steps; s++) {
    double t0 = now(), c0 = cpu_now();
    loom_graph_zero_grad(m.g);
    loom_graph_forward(m.g);
    loom_graph_backward(m.g, m.loss);
    loom_optim_step(opt, 1e-3f);
    if (s >= 0) tt[s] = now() - t0, tc[s] = cpu_now() - c0;
    if (s == -warmup) loss0 = m.loss->data[0];
    loss1 = m.loss->data[0];
  }
  if (getenv("LOOM_BENCH_PROFILE")) profile(m.g, steps, true);

  /* inference: eval-mode forward of the logits only, no gradients */
  loom_graph_set_training(m.g, false);
  if (loom_graph_compile(m.g, B, 1, &m.logits, false) != 0) {
    fprintf(stderr, "loom-bench: %s\n", loom_graph_error(m.g));
    return 1;
  }
  const size_t infer_arena = loom_graph_arena_bytes(m.g);
  fill(&m, B, L, &r);
  for (int s = -warmup; s < steps; s++) {
    double t0 = now(), c0 = cpu_now();
    loom_graph_forward(m.g);
    if (s >= 0) ti[s] = now() - t0, ic[s] = cpu_now() - c0;
  }
  if (getenv("LOOM_BENCH_PROFILE")) profile(m.g, steps, false);

  /* spread: the interquartile range relative to the median (median() has sorted the samples) */
  double train_s = median(tt, steps), infer_s = median(ti, steps);
  double train_iqr = (tt[3 * steps / 4] - tt[steps / 4]) / train_s, infer_iqr = (ti[3 * steps / 4] - ti[steps / 4]) / infer_s;
  double train_cpu = median(tc, steps), infer_cpu = median(ic, steps);
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  const double rss_mb = (double)ru.ru_maxrss / 1024.0;
  const double train_gf = train_flops / train_s * 1e-9, infer_gf = fwd_flops / infer_s * 1e-9;
  printf("# loss %.4f -> %.4f over %d steps; params %.2f MB, arena train %.1f MB, inference %.1f MB\n", loss0, loss1,
         steps + warmup, loom_graph_n_params(m.g) * 4e-6, train_arena * 1e-6, infer_arena * 1e-6);
  printf("# train: %.2f ms/step (IQR %.0f%%, CPU %.2f ms), %.1f GFLOP/s = %.1f%% of FMA peak\n", 1e3 * train_s,
         100 * train_iqr, 1e3 * train_cpu, train_gf, 100 * train_gf / peak);
  printf("# infer: %.2f ms/step (IQR %.0f%%, CPU %.2f ms), %.1f GFLOP/s = %.1f%% of FMA peak\n", 1e3 * infer_s,
         100 * infer_iqr, 1e3 * infer_cpu, infer_gf, 100 * infer_gf / peak);
  printf("# machine-readable: train_gflops=%.2f infer_gflops=%.2f fma_peak_gflops=%.1f train_flops=%.0f "
         "train_cpu_ms=%.3f infer_cpu_ms=%.3f\n",
         train_gf, infer_gf, peak, train_flops, 1e3 * train_cpu, 1e3 * infer_cpu);
  printf("train_samples_per_s=%.1f infer_samples_per_s=%.1f peak_rss_mb=%.1f\n", B / train_s, B / infer_s, rss_mb);
  free(tt);
  free(tc);
  free(ti);
  free(ic);
  loom_optim_free(opt);
  loom_graph_free(m.g);
  return 0;
}
