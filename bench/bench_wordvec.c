/* bench_wordvec.c — pretrained word vectors: read throughput (MB/s of the file, words/s) of a
 * generated N x D file in word2vec text, word2vec binary, GloVe and gzip'd text, and alignment of it to
 * a vocabulary of N/2 of its words plus N/2 others. Files go to /tmp. Usage: bench_wordvec [N] [D]. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "loom/alloc.h"
#include "loom/wordvec.h"
#include "bench_util.h"

static long file_size(const char *p) {
  FILE *f = fopen(p, "rb");
  if (!f) return -1;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fclose(f);
  return n;
}

static double read_once(const char *path, loom_wordvec *wv) {
  loom_error err;
  double t = now();
  if (loom_wordvec_read(path, NULL, wv, &err) < 0) {
    fprintf(stderr, "%s\n", err.msg);
    exit(1);
  }
  return now() - t;
}

int main(int argc, char **argv) {
  long N = argc > 1 ? atol(argv[1]) : 20000;
  int D = argc > 2 ? atoi(argv[2]) : 300;
  const char *paths[] = {"/tmp/loom_bench_vectors.txt", "/tmp/loom_bench_vectors.bin",
                         "/tmp/loom_bench_glove.txt", "/tmp/loom_bench_vectors.txt.gz"};
  FILE *t = fopen(paths[0], "w"), *b = fopen(paths[1], "wb"), *g = fopen(paths[2], "w");
  gzFile z = gzopen(paths[3], "wb6");
  if (!t || !b || !g || !z) return 1;
  fprintf(t, "%ld %d\n", N, D);
  fprintf(b, "%ld %d\n", N, D);
  gzprintf(z, "%ld %d\n", N, D);
  uint64_t x = 88172645463325252ull;
  char line[65536];
  float *row = malloc((size_t)D * sizeof(float));
  for (long i = 0; i < N; i++) {
    int n = snprintf(line, sizeof line, "w%ld", i);
    fprintf(b, "%s ", line);
    for (int k = 0; k < D; k++) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      row[k] = (float)((double)(x >> 11) / 9007199254740992.0 - 0.5);
      n += snprintf(line + n, sizeof line - (size_t)n, " %.9g", (double)row[k]);
    }
    fwrite(row, sizeof(float), (size_t)D, b);
    fputc('\n', b);
    fprintf(t, "%s\n", line);
    fprintf(g, "%s\n", line);
    gzprintf(z, "%s\n", line);
  }
  fclose(t), fclose(b), fclose(g), gzclose(z);
  const char *names[] = {"word2vec text", "word2vec binary", "GloVe text", "word2vec text .gz"};
  printf("%ld words x %d\n", N, D);
  loom_wordvec keep = {0};
  for (int f = 0; f < 4; f++) {
    double ts[3];
    for (int r = 0; r < 3; r++) {
      loom_wordvec wv;
      ts[r] = read_once(paths[f], &wv);
      if (f == 1 && r == 0) keep = wv;
      else loom_wordvec_free(&wv);
    }
    double s = median(ts, 3);
    long bytes = file_size(paths[f]);
    printf("%-18s %8.1f MB file  %6.3f s  %7.1f MB/s  %9.0f words/s\n", names[f], bytes / 1e6, s, bytes / 1e6 / s,
           (double)N / s);
  }
  /* a vocabulary: every other file word, and as many words of no file */
  loom_vocab *v = loom_vocab_new();
  loom_error err;
  for (long i = 0; i < N; i++) {
    char w[32];
    int n = snprintf(w, sizeof w, i % 2 ? "w%ld" : "x%ld", i);
    loom_vocab_count(v, w, (size_t)n, &err);
  }
  loom_vocab_freeze(v, 0, &err);
  int V = loom_vocab_size(v);
  float *W = loom_calloc((size_t)V * (size_t)D, sizeof(float));
  loom_wordvec_stats st;
  double t0 = now();
  loom_wordvec_align(&keep, v, W, V, D, &st, &err);
  double s = now() - t0;
  printf("align to %d ids: %.3f s (%lld found, %lld missing, %lld unused)\n", V, s, (long long)st.found,
         (long long)st.missing, (long long)st.unused);
  loom_free(W);
  loom_vocab_free(v);
  loom_wordvec_free(&keep);
  free(row);
  for (int f = 0; f < 4; f++) remove(paths[f]);
  return 0;
}
