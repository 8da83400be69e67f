/* bench_infer — the inference goals, on checkpoints trained here from the committed sample (or given):
 *   checkpoint open (map, validate, rebuild, load) for the seed click model and the ranking model;
 *   ranking 10,000 catalogue items for a user + query on one thread with the item vectors warm
 *   (two towers: one user vector + an exact top-K), and with the click model (item towers cached,
 *   every pair through the rest of the model);
 *   batch scoring throughput of the click model over the sample's 6,000 interaction rows (CSV parse,
 *   join, encode and forward), 1 and 2 threads — compare with bench/torch_infer.py (forward only).
 *   bench_infer [--click CKPT] [--rank CKPT] [--items N] [--reps R]
 * Run from the source tree (it reads datasets/fashion-shop-sample). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_util.h"
#include "loom/infer.h"
#include "loom/runtime.h"
#include "loom/trainer.h"

#define SAMPLE "datasets/fashion-shop-sample"

static char tmp[64] = "/tmp/loom-bench-infer-XXXXXX";

static void die(const char *what, const loom_error *err) {
  fprintf(stderr, "bench_infer: %s: %s\n", what, err->msg);
  exit(1);
}

static void train(const char *config, const char *out, const char *extra, char *ckpt, size_t n) {
  char cwd[1024], sets[6][1200];
  if (!getcwd(cwd, sizeof cwd)) exit(1);
  snprintf(sets[0], sizeof sets[0], "train.out=%s/%s", tmp, out);
  snprintf(sets[1], sizeof sets[1], "%s", extra);
  snprintf(sets[2], sizeof sets[2], "train.epochs=1");
  const char *s[3] = {sets[0], sets[1], sets[2]};
  loom_train_opts o = {.config_path = config, .sets = s, .n_sets = 3};
  loom_train_result r;
  loom_error err;
  if (loom_train(&o, &r, &err) < 0) die("training", &err);
  snprintf(ckpt, n, "%s/%s/best.safetensors", tmp, out);
}

/* N catalogue rows: the sample's items repeated under new keys (cold-start items, same features) */
static void make_catalogue(const char *path, long N) {
  FILE *in = fopen(SAMPLE "/items.csv", "r"), *out = fopen(path, "w");
  if (!in || !out) exit(1);
  char line[8192], *rows[4096];
  int n = 0;
  if (!fgets(line, sizeof line, in)) exit(1);
  fputs(line, out);
  while (n < 4096 && fgets(line, sizeof line, in)) rows[n++] = strdup(line);
  for (long i = 0; i < N; i++) { /* the originals, then copies keyed x<i> */
    const char *r = rows[i % n];
    if (i < n) fputs(r, out);
    else fprintf(out, "x%ld%s", i, strchr(r, ','));
  }
  for (int i = 0; i < n; i++) free(rows[i]);
  fclose(in);
  fclose(out);
}

static double time_open(const char *ckpt, int reps) {
  double t[64];
  for (int i = 0; i < reps; i++) {
    loom_error err;
    double t0 = now();
    loom_infer *s = loom_infer_open(ckpt, NULL, &err);
    t[i] = now() - t0;
    if (!s) die(ckpt, &err);
    loom_infer_close(s);
  }
  return median(t, reps);
}

static int count_row(void *ctx, const loom_infer_row *r) {
  (void)r;
  (*(long *)ctx)++;
  return 0;
}

int main(int argc, char **argv) {
  const char *click = NULL, *rank = NULL;
  long N = 10000;
  int reps = 51;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--click")) click = argv[i + 1];
    else if (!strcmp(argv[i], "--rank")) rank = argv[i + 1];
    else if (!strcmp(argv[i], "--items")) N = atol(argv[i + 1]);
    else if (!strcmp(argv[i], "--reps")) reps = atoi(argv[i + 1]);
  }
  if (reps > 64) reps = 64;
  if (!mkdtemp(tmp)) return 1;
  char cbuf[1200], rbuf[1200], items[1200];
  if (!click) train("configs/fashion-shop-click.ini", "click", "train.max_steps=40", cbuf, sizeof cbuf), click = cbuf;
  if (!rank) train("configs/fashion-shop-ranking.ini", "rank", "train.max_steps=40", rbuf, sizeof rbuf), rank = rbuf;
  snprintf(items, sizeof items, "%s/items-%ld.csv", tmp, N);
  make_catalogue(items, N);
  printf("bench_infer: %s ISA, OPENBLAS_CORETYPE=%s\n", loom_isa_name(loom_runtime_isa()),
         getenv("OPENBLAS_CORETYPE") ? getenv("OPENBLAS_CORETYPE") : "(unset)");

  loom_set_num_threads(1);
  printf("checkpoint open (median of %d, 1 thread): click model %.1f ms, ranking model %.1f ms\n", reps,
         1e3 * time_open(click, reps), 1e3 * time_open(rank, reps));

  /* ranking N items on one thread */
  loom_error err;
  loom_infer_opts o = {.items = items};
  loom_infer *s = loom_infer_open(rank, &o, &err);
  if (!s) die(rank, &err);
  loom_hit h[10];
  unsigned flags;
  double t0 = now();
  if (loom_infer_rank(s, "u00004", "black ankle boot", 10, h, &flags, &err) < 0) die("rank", &err);
  double cold = now() - t0, t[64];
  for (int i = 0; i < reps; i++) {
    t0 = now();
    if (loom_infer_rank(s, "u00004", "black ankle boot", 10, h, &flags, &err) < 0) die("rank", &err);
    t[i] = now() - t0;
  }
  printf("rank %lld items, user + query, top 10, 1 thread: %.3f ms median (item vectors warm; computing them "
         "first took %.0f ms)\n", (long long)loom_infer_catalog_size(s, &err), 1e3 * median(t, reps), 1e3 * cold);
  loom_infer_close(s);
  s = loom_infer_open(click, &o, &err);
  if (!s) die(click, &err);
  for (int i = 0; i < 5; i++) {
    t0 = now();
    if (loom_infer_rank(s, "u00004", NULL, 10, h, &flags, &err) < 0) die("rank", &err);
    t[i] = now() - t0;
  }
  printf("rank %ld items with the click model (item towers cached; every pair through the interaction tower, fusion "
         "and head), 1 thread: %.1f ms median\n", N, 1e3 * median(t, 5));
  loom_infer_close(s);

  /* batch scoring */
  for (int th = 1; th <= 2; th++) {
    loom_set_num_threads(th);
    s = loom_infer_open(click, NULL, &err);
    if (!s) die(click, &err);
    long rows = 0;
    for (int i = 0; i < 5; i++) {
      rows = 0;
      t0 = now();
      if (loom_infer_score_csv(s, SAMPLE "/interactions.csv", count_row, &rows, &err) < 0) die("score", &err);
      t[i] = now() - t0;
    }
    double m = median(t, 5);
    printf("score %ld rows (batch %d, CSV to scores), %d thread%s: %.1f ms median, %.0f rows/s\n", rows, 64, th,
           th > 1 ? "s" : "", 1e3 * m, (double)rows / m);
    loom_infer_close(s);
  }
  char cmd[200];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
  return system(cmd) == 0 ? 0 : 1;
}
