/* loom-spiral — trains a small MLP on the two-spirals problem with loom's core (graph, ops, Adam
 * kernel) and draws the learned decision regions in the terminal. A teaching example and a smoke
 * test of the whole core; the real pipelines are loom-train / loom-infer.
 *   loom-spiral [--epochs N] [--hidden H] [--batch B] [--lr LR] [--seed S] [--quiet] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kernels.h"
#include "loom/loom.h"
#include "loom/synthetic.h"

typedef struct {
  int epochs, hidden, batch;
  float lr;
  unsigned long long seed;
  int quiet;
} options;

static void usage(FILE *f) {
  fprintf(f, "usage: loom-spiral [--epochs N] [--hidden H] [--batch B] [--lr LR] [--seed S] [--quiet]\n"
             "Trains an MLP (2 -> H -> H -> 2) on two interleaved spirals and plots what it learned.\n");
}

static int parse_args(int argc, char **argv, options *o) {
  *o = (options){.epochs = 60, .hidden = 64, .batch = 64, .lr = 0.01f, .seed = 1};
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    char *end = NULL;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) { usage(stdout); exit(0); }
    else if (!strcmp(a, "--quiet")) { o->quiet = 1; continue; }
    if (!v) { fprintf(stderr, "loom-spiral: %s needs a value\n", a); return -1; }
    i++;
    if (!strcmp(a, "--epochs")) o->epochs = (int)strtol(v, &end, 10);
    else if (!strcmp(a, "--hidden")) o->hidden = (int)strtol(v, &end, 10);
    else if (!strcmp(a, "--batch")) o->batch = (int)strtol(v, &end, 10);
    else if (!strcmp(a, "--lr")) o->lr = strtof(v, &end);
    else if (!strcmp(a, "--seed")) o->seed = strtoull(v, &end, 10);
    else { fprintf(stderr, "loom-spiral: unknown option '%s'\n", a); usage(stderr); return -1; }
    if (!end || *end || (o->epochs < 1 || o->hidden < 1 || o->batch < 1 || !(o->lr > 0))) {
      fprintf(stderr, "loom-spiral: bad value '%s' for %s\n", v, a);
      return -1;
    }
  }
  return 0;
}

typedef struct {
  loom_graph *g;
  loom_tensor *x, *onehot, *logits, *loss;
} model;

static model build(int hidden, loom_rng *rng) {
  model m;
  m.g = loom_graph_new();
  loom_graph *g = m.g;
  m.x = loom_input(g, "x", LOOM_F32, 2, (int[]){LOOM_BATCH, 2});
  m.onehot = loom_input(g, "onehot", LOOM_F32, 2, (int[]){LOOM_BATCH, 2});
  loom_tensor *h = m.x;
  int in = 2;
  const int widths[3] = {hidden, hidden, 2};
  for (int l = 0; l < 3; l++) {
    char name[32];
    snprintf(name, sizeof name, "fc%d.weight", l);
    loom_tensor *w = loom_param(g, name, 2, (int[]){widths[l], in});
    snprintf(name, sizeof name, "fc%d.bias", l);
    loom_tensor *b = loom_param(g, name, 1, (int[]){widths[l]});
    loom_init_tensor(w, (loom_init){LOOM_INIT_GLOROT_UNIFORM, 0}, rng);
    h = loom_add(g, loom_matmul(g, h, w, false, true), b);
    if (l < 2) h = loom_gelu(g, h);
    in = widths[l];
  }
  m.logits = h;
  /* cross-entropy = -mean_b sum_c onehot * log_softmax(logits) */
  loom_tensor *ll = loom_sum(g, loom_mul(g, loom_log_softmax(g, h), m.onehot), -1, false);
  m.loss = loom_scale(g, loom_mean(g, ll, LOOM_ALL, false), -1.0f, 0.0f);
  return m;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Accuracy of the model on (x, y), batch by batch with an inference compile. */
static double accuracy(model *m, const float *x, const int32_t *y, int n, int batch) {
  int correct = 0;
  for (int s = 0; s < n; s += batch) {
    int b = n - s < batch ? n - s : batch;
    if (loom_graph_compile(m->g, b, 1, &m->logits, false) != 0) return -1;
    memcpy(m->x->data, x + 2 * s, sizeof(float) * 2 * (size_t)b);
    loom_graph_forward(m->g);
    for (int i = 0; i < b; i++) correct += (m->logits->data[2 * i + 1] > m->logits->data[2 * i]) == (y[s + i] == 1);
  }
  return (double)correct / n;
}

/* Decision regions on a grid ('.' class 0, '#' class 1) with the test points over them. */
static void plot(model *m, const float *x, const int32_t *y, int n) {
  enum { W = 64, H = 28 };
  char grid[H][W + 1];
  float pts[W * 2];
  for (int r = 0; r < H; r++) {
    if (loom_graph_compile(m->g, W, 1, &m->logits, false) != 0) return;
    for (int c = 0; c < W; c++) {
      pts[2 * c] = -1.1f + 2.2f * (float)c / (W - 1);
      pts[2 * c + 1] = 1.1f - 2.2f * (float)r / (H - 1);
    }
    memcpy(m->x->data, pts, sizeof pts);
    loom_graph_forward(m->g);
    for (int c = 0; c < W; c++) grid[r][c] = m->logits->data[2 * c + 1] > m->logits->data[2 * c] ? ':' : ' ';
    grid[r][W] = '\0';
  }
  for (int i = 0; i < n; i++) {
    int c = (int)lroundf((x[2 * i] + 1.1f) / 2.2f * (W - 1)), r = (int)lroundf((1.1f - x[2 * i + 1]) / 2.2f * (H - 1));
    if (c >= 0 && c < W && r >= 0 && r < H) grid[r][c] = y[i] ? '#' : 'o';
  }
  printf("  decision regions (':' = class 1), test points ('#' class 1, 'o' class 0):\n");
  printf("  +");
  for (int c = 0; c < W; c++) putchar('-');
  printf("+\n");
  for (int r = 0; r < H; r++) printf("  |%s|\n", grid[r]);
  printf("  +");
  for (int c = 0; c < W; c++) putchar('-');
  printf("+\n");
}

int main(int argc, char **argv) {
  options o;
  if (parse_args(argc, argv, &o) != 0) return 2;
  loom_rng rng;
  loom_rng_seed(&rng, o.seed);
  const int n_train = 4000, n_test = 1000;
  float *xtr = malloc(sizeof(float) * 2 * n_train), *xte = malloc(sizeof(float) * 2 * n_test);
  int32_t *ytr = malloc(sizeof(int32_t) * n_train), *yte = malloc(sizeof(int32_t) * n_test);
  int32_t *perm = malloc(sizeof(int32_t) * n_train);
  if (!xtr || !xte || !ytr || !yte || !perm) { fprintf(stderr, "loom-spiral: out of memory\n"); return 1; }
  loom_synth_spirals(n_train, 1.75f, 0.03f, &rng, xtr, ytr);
  loom_synth_spirals(n_test, 1.75f, 0.03f, &rng, xte, yte);

  model m = build(o.hidden, &rng);
  const size_t np = loom_graph_n_params(m.g);
  float *adam_m = calloc(np, sizeof(float)), *adam_v = calloc(np, sizeof(float));
  if (!adam_m || !adam_v) { fprintf(stderr, "loom-spiral: out of memory\n"); return 1; }
  printf("loom %s (%s kernels, %d threads): MLP 2-%d-%d-2, %zu parameters, %d training / %d test points\n",
         loom_version(), loom_isa_name(loom_runtime_isa()), loom_num_threads(), o.hidden, o.hidden, np, n_train, n_test);

  const int steps_per_epoch = n_train / o.batch; /* drop the last partial batch */
  if (loom_graph_compile(m.g, o.batch, 1, &m.loss, true) != 0) {
    fprintf(stderr, "loom-spiral: %s\n", loom_graph_error(m.g));
    return 1;
  }
  long t = 0;
  double t0 = now(), loss_sum = 0;
  for (int i = 0; i < n_train; i++) perm[i] = i;
  for (int epoch = 1; epoch <= o.epochs; epoch++) {
    loom_rng_shuffle(&rng, perm, n_train);
    loss_sum = 0;
    for (int s = 0; s < steps_per_epoch; s++) {
      memset(m.onehot->data, 0, sizeof(float) * 2 * (size_t)o.batch);
      for (int i = 0; i < o.batch; i++) {
        int k = perm[s * o.batch + i];
        m.x->data[2 * i] = xtr[2 * k];
        m.x->data[2 * i + 1] = xtr[2 * k + 1];
        m.onehot->data[2 * i + ytr[k]] = 1.0f;
      }
      loom_graph_zero_grad(m.g);
      loom_graph_forward(m.g);
      loom_graph_backward(m.g, m.loss);
      t++;
      loom_k.adam(np, loom_graph_params(m.g), loom_graph_grads(m.g), adam_m, adam_v, o.lr, 0.9f, 0.999f, 1e-8f,
                  1.0f - powf(0.9f, (float)t), 1.0f - powf(0.999f, (float)t), 0.0f);
      loss_sum += m.loss->data[0];
    }
    if (!o.quiet && (epoch % 10 == 0 || epoch == 1 || epoch == o.epochs)) {
      double acc = accuracy(&m, xte, yte, n_test, 500);
      double el = now() - t0;
      printf("epoch %3d/%d  loss %.4f  test accuracy %.3f  %.0f samples/s\n", epoch, o.epochs,
             loss_sum / steps_per_epoch, acc, (double)t * o.batch / el);
      if (loom_graph_compile(m.g, o.batch, 1, &m.loss, true) != 0) return 1;
    }
  }
  double acc = accuracy(&m, xte, yte, n_test, 500);
  if (!o.quiet) plot(&m, xte, yte, 300);
  printf("final: loss %.4f, test accuracy %.3f, %.2f s\n", loss_sum / steps_per_epoch, acc, now() - t0);
  loom_graph_free(m.g);
  free(adam_m);
  free(adam_v);
  free(xtr);
  free(xte);
  free(ytr);
  free(yte);
  free(perm);
  return 0;
}
