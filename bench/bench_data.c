/* bench_data.c — data pipeline throughput: CSV ingest (MB/s, rows/s) of a generated 1M-row
 * interactions file, tokenisation, and image decode + resize (28x28 PNG, 224x224 JPEG), each
 * generated here (stb_image_write, tjCompress2). Files go to /tmp. Usage: bench_data [rows]. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <turbojpeg.h>

#include "loom/alloc.h"
#include "loom/data.h"

#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#include <stb/stb_image_write.h>
#include "bench_util.h"


typedef struct membuf {
  unsigned char *p;
  size_t n, cap;
} membuf;

static void mem_write(void *ctx, void *data, int size) {
  membuf *m = ctx;
  if (m->n + (size_t)size > m->cap) {
    m->cap = (m->n + (size_t)size) * 2;
    m->p = realloc(m->p, m->cap);
  }
  memcpy(m->p + m->n, data, (size_t)size);
  m->n += (size_t)size;
}

static const char *WORDS[] = {"red", "shirt", "blue", "jeans", "cotton", "slim", "fit", "black", "黑色", "T恤衫",
                              "summer", "dress", "Running", "shoes", "wool", "scarf"};

int main(int argc, char **argv) {
  long rows = argc > 1 ? atol(argv[1]) : 1000000;
  const char *path = "/tmp/loom_bench_interactions.csv";
  FILE *f = fopen(path, "w");
  if (!f) return 1;
  fputs("user_id,product_id,action,session,timestamp,purchased,price,query\n", f);
  uint64_t x = 88172645463325252ull;
  for (long r = 0; r < rows; r++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    fprintf(f, "u%llu,p%llu,%s,s%llu,%llu,%d,%.2f,\"%s %s, %s\"\n", (unsigned long long)(x % 100000),
            (unsigned long long)((x >> 20) % 50000), (x >> 40) & 1 ? "click" : "view",
            (unsigned long long)((x >> 8) % 1000000), 1600000000ull + r, (int)((x >> 50) & 1),
            (double)((x >> 30) % 10000) / 100.0, WORDS[(x >> 3) % 16], WORDS[(x >> 9) % 16], WORDS[(x >> 15) % 16]);
  }
  long bytes = ftell(f);
  fclose(f);
  loom_colspec spec[] = {{"user_id", LOOM_COL_STRING, 0}, {"product_id", LOOM_COL_STRING, 0},
                         {"timestamp", LOOM_COL_FLOAT, 0}, {"purchased", LOOM_COL_FLOAT, 0},
                         {"price", LOOM_COL_FLOAT, 0},   {"query", LOOM_COL_STRING, 0}};
  loom_table t;
  loom_error err = {{0}};
  double t0 = now();
  if (loom_table_read(&t, path, spec, 6, NULL, &err) < 0) {
    fprintf(stderr, "%s\n", err.msg);
    return 1;
  }
  double dt = now() - t0;
  printf("csv ingest: %ld rows, %.1f MB in %.3f s: %.1f MB/s, %.2f M rows/s (6 of 8 columns kept)\n", rows, bytes / 1e6, dt,
         bytes / 1e6 / dt, rows / 1e6 / dt);
  /* tokenizer + vocabulary over the query column */
  loom_vocab *v = loom_vocab_new();
  t0 = now();
  for (int64_t r = 0; r < t.nrows; r++) {
    const char *q = loom_table_str(&t, 5, r);
    loom_vocab_count(v, q, strlen(q), &err);
  }
  loom_vocab_freeze(v, 0, &err);
  int32_t ids[16], len;
  for (int64_t r = 0; r < t.nrows; r++) {
    const char *q = loom_table_str(&t, 5, r);
    loom_vocab_encode(v, q, strlen(q), 16, LOOM_PAD_POST, ids, &len, &err);
  }
  dt = now() - t0;
  printf("tokenize: count + encode %lld queries in %.3f s: %.2f M texts/s (vocab %d)\n", (long long)t.nrows, dt,
         2 * t.nrows / 1e6 / dt, loom_vocab_size(v));
  loom_vocab_free(v);
  loom_table_free(&t);

  /* whole pipeline: join with a 50k-item table, random split, fit, then one epoch of batches */
  const char *ipath = "/tmp/loom_bench_items.csv";
  f = fopen(ipath, "w");
  fputs("product_id,title,category\n", f);
  for (int i = 0; i < 50000; i++)
    fprintf(f, "p%d,%s %s %s %d,c%d\n", i, WORDS[i % 16], WORDS[(i / 16) % 16], WORDS[(i / 256) % 16], i % 97, i % 40);
  fclose(f);
  loom_data_schema s;
  loom_data_schema_init(&s);
  const char *kv[][2] = {{"interactions", path}, {"items", ipath}, {"user_col", "user_id"}, {"item_col", "product_id"},
                         {"label_col", "purchased"}, {"query_col", "query"}, {"text_cols", "title"},
                         {"numeric_cols", "price"}, {"category_cols", "category"}, {"max_len", "16"},
                         {"query_len", "8"}, {"batch_size", "256"}, {"negatives", "4"}};
  for (size_t i = 0; i < sizeof kv / sizeof *kv; i++)
    if (loom_data_schema_set(&s, kv[i][0], kv[i][1], &err) < 0) { fprintf(stderr, "%s\n", err.msg); return 1; }
  t0 = now();
  loom_dataset *ds = loom_dataset_open(&s, NULL, &err);
  if (!ds) { fprintf(stderr, "%s\n", err.msg); return 1; }
  dt = now() - t0;
  printf("dataset open (read 2 tables, join, split, fit vocab/maps/stats): %.3f s for %ld rows\n", dt, rows);
  for (int pf = 0; pf < 2; pf++) {
    loom_loader *ld = loom_loader_new(ds, LOOM_SPLIT_TRAIN, pf, &err);
    const loom_batch *b;
    long nb = 0, nr = 0;
    t0 = now();
    while ((b = loom_loader_next(ld, &err)) && b->B) nb++, nr += b->B;
    dt = now() - t0;
    printf("loader epoch (prefetch %d, B=256, text 16 + query 8 tokens, 4 negatives with text): %.0f batches/s, %.2f M rows/s\n",
           pf, nb / dt, nr / 1e6 / dt);
    loom_loader_free(ld);
  }
  loom_dataset_free(ds);
  remove(ipath);
  remove(path);

  /* images: 28x28 grey PNG → 1x28x28, 224x224 RGB JPEG → 3x224x224 */
  unsigned char *pix = malloc(224 * 224 * 3);
  for (int i = 0; i < 224 * 224 * 3; i++) pix[i] = (unsigned char)((i * 7) ^ (i >> 5));
  membuf png = {0};
  stbi_write_png_to_func(mem_write, &png, 28, 28, 1, pix, 28);
  tjhandle tj = tjInitCompress();
  unsigned char *jpg = NULL;
  unsigned long jn = 0;
  tjCompress2(tj, pix, 224, 0, 224, TJPF_RGB, &jpg, &jn, TJSAMP_420, 90, 0);
  tjDestroy(tj);
  float *out = malloc(3 * 224 * 224 * sizeof(float));
  struct {
    const char *name;
    const unsigned char *data;
    size_t n;
    int c, h, w, iters;
  } cases[] = {{"28x28 PNG -> 1x28x28", png.p, png.n, 1, 28, 28, 20000},
               {"224x224 JPEG -> 3x224x224", jpg, jn, 3, 224, 224, 500},
               {"224x224 JPEG -> 3x64x64 (area)", jpg, jn, 3, 64, 64, 500}};
  for (int k = 0; k < 3; k++) {
    t0 = now();
    for (int i = 0; i < cases[k].iters; i++) {
      uint8_t *p;
      int w, h;
      if (loom_image_decode(cases[k].data, cases[k].n, cases[k].c, "bench", &p, &w, &h, &err) < 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
      }
      loom_image_resize(p, w, h, cases[k].c, out, cases[k].w, cases[k].h);
      loom_free(p);
    }
    dt = now() - t0;
    printf("image decode+resize %s: %.0f images/s (%d in %.3f s, %zu-byte file)\n", cases[k].name, cases[k].iters / dt,
           cases[k].iters, dt, cases[k].n);
  }
  tjFree(jpg);
  free(png.p);
  free(pix);
  free(out);
  return 0;
}
