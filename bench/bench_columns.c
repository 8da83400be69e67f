/* bench_columns.c — memory of wide tables (issue 15 item 2): a generated interactions CSV with 1,024
 * numeric columns (numeric_cols = f0..f1023) and item vectors of width 2,048, opened as loom-train opens
 * it. Prints the bytes the dataset holds (heap in use after the open minus before: glibc mallinfo2 uordblks + hblkhd),
 * the bytes of one batch, the heap bytes allocated while encoding batches (0: no allocation per step)
 * and the encode time per batch (median of 50).
 *   build/bin/bench_columns [ROWS=20000] [B=64] [ITEMS=3000] */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_util.h"
#include "loom/data.h"

static size_t heap(void) { struct mallinfo2 m = mallinfo2(); return m.uordblks + m.hblkhd; } /* small + mmapped blocks */

int main(int argc, char **argv) {
  int rows = argc > 1 ? atoi(argv[1]) : 20000, B = argc > 2 ? atoi(argv[2]) : 64, items = argc > 3 ? atoi(argv[3]) : 3000;
  const int F = 1024, D = 2048;
  char dir[] = "/tmp/bench_columns_XXXXXX", inter[128], vec[128];
  if (!mkdtemp(dir)) return 1;
  snprintf(inter, sizeof inter, "%s/inter.csv", dir);
  snprintf(vec, sizeof vec, "%s/items.csv", dir);
  FILE *f = fopen(inter, "w");
  fprintf(f, "user,item,label");
  for (int j = 0; j < F; j++) fprintf(f, ",f%d", j);
  fputc('\n', f);
  srand(1);
  for (int r = 0; r < rows; r++) {
    fprintf(f, "u%d,i%d,%d", r % 500, rand() % items, rand() & 1);
    for (int j = 0; j < F; j++) fprintf(f, ",%.3f", rand() / (double)RAND_MAX);
    fputc('\n', f);
  }
  fclose(f);
  f = fopen(vec, "w");
  fprintf(f, "item");
  for (int j = 0; j < D; j++) fprintf(f, ",v%d", j);
  fputc('\n', f);
  for (int i = 0; i < items; i++) {
    fprintf(f, "i%d", i);
    for (int j = 0; j < D; j++) fprintf(f, ",%.4f", rand() / (double)RAND_MAX);
    fputc('\n', f);
  }
  fclose(f);
  loom_error err;
  loom_data_schema s;
  loom_data_schema_init(&s);
  const char *kv[][2] = {{"interactions", inter}, {"user_col", "user"}, {"item_col", "item"}, {"label_col", "label"},
                         {"numeric_cols", "f0..f1023"}, {"item_vectors", vec}};
  for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
    if (loom_data_schema_set(&s, kv[i][0], kv[i][1], &err) < 0) return fprintf(stderr, "%s\n", err.msg), 1;
  size_t h0 = heap();
  double t0 = now();
  loom_dataset *ds = loom_dataset_open(&s, NULL, &err);
  if (!ds) return fprintf(stderr, "%s\n", err.msg), 1;
  double t_open = now() - t0;
  size_t h1 = heap();
  loom_batch b;
  if (loom_batch_init(&b, ds, B, &err) < 0) return 1;
  size_t h2 = heap();
  const int32_t *tr = loom_dataset_split_rows(ds, LOOM_SPLIT_TRAIN);
  int64_t ntr = loom_dataset_rows(ds, LOOM_SPLIT_TRAIN);
  double t[50];
  size_t during = 0;
  for (int k = 0; k < 50; k++) {
    size_t a = heap();
    double s0 = now();
    if (loom_dataset_encode(ds, tr + (k * B) % (ntr - B), B, &b, &err) < 0) return 1;
    t[k] = now() - s0;
    during += heap() - a;
  }
  printf("rows %d (train %lld), numeric columns %d, item vectors %d x %d, B = %d\n", rows, (long long)ntr, F, items, D, B);
  printf("dataset: %.1f MiB on the heap after the open (%.0f bytes per interaction row), open %.2f s\n",
         (double)(h1 - h0) / 1048576.0, (double)(h1 - h0) / rows, t_open);
  printf("  of which: table doubles %.1f MiB (8 B x %d x rows), scaled floats %.1f MiB (4 B x %d x rows), vectors %.1f MiB\n",
         8.0 * F * rows / 1048576.0, F, 4.0 * F * rows / 1048576.0, F, 4.0 * D * items / 1048576.0);
  printf("batch: %.1f KiB (numeric %d x %d floats %.1f KiB, item vectors %d x %d floats %.1f KiB)\n",
         (double)(h2 - h1) / 1024.0, B, F, 4.0 * B * F / 1024.0, B, D, 4.0 * B * D / 1024.0);
  printf("encode: %.3f ms per batch (median of 50), heap bytes allocated while encoding: %zu\n", 1e3 * median(t, 50), during);
  loom_batch_free(&b);
  loom_dataset_free(ds);
  unlink(inter), unlink(vec), rmdir(dir);
  return 0;
}
