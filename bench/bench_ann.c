/* bench_ann — exact vs approximate top-10 (loom/index.h) on generated vectors: build time, per-query
 * latency (1 thread, median and p90 over the queries) and recall@10 against the exact index, for
 * uniform random vectors (the hard case: no structure to exploit) or clustered ones (Gaussian blobs
 * around 1,000 centres, as trained embeddings are).
 *   bench_ann [--items N] [--dim D] [--queries Q] [--data random|clustered] [--metric M]
 *             [--kinds exact,ivf,hnsw] [--hnsw-m M] [--hnsw-ef-construction E] [--hnsw-ef-search E,E,...]
 *             [--ivf-nlist C] [--ivf-nprobe P,P,...] [--build-threads T]
 * A list of ef_search / nprobe values is swept over one built index (loom_index_set_search). Queries are drawn like the rows. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loom/index.h"
#include "loom/rng.h"
#include "loom/runtime.h"
#include "bench_util.h"

enum { K = 10 };

static void gen(float *x, long n, int d, bool clustered, const float *centres, int n_centres, loom_rng *r) {
  for (long i = 0; i < n; i++) {
    const float *c = clustered ? centres + (size_t)loom_rng_below(r, (uint32_t)n_centres) * d : NULL;
    for (int j = 0; j < d; j++) x[i * d + j] = clustered ? c[j] + 0.25f * loom_rng_normal(r) : loom_rng_uniform(r) - 0.5f;
  }
}

static int parse_list(const char *s, int *v, int max) {
  int n = 0;
  while (s && *s && n < max) {
    v[n++] = atoi(s);
    s = strchr(s, ',');
    if (s) s++;
  }
  return n;
}

int main(int argc, char **argv) {
  long n = 100000;
  int d = 64, nq = 200, build_threads = 1;
  const char *data = "random", *kinds = "exact,ivf,hnsw", *metric_s = "cosine";
  loom_index_opts hn = loom_index_defaults(LOOM_INDEX_HNSW), iv = loom_index_defaults(LOOM_INDEX_IVF);
  int efs[16] = {64}, n_efs = 1, probes[16] = {16}, n_probes = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    const char *a = argv[i], *v = argv[i + 1];
    if (!strcmp(a, "--items")) n = atol(v);
    else if (!strcmp(a, "--dim")) d = atoi(v);
    else if (!strcmp(a, "--queries")) nq = atoi(v);
    else if (!strcmp(a, "--data")) data = v;
    else if (!strcmp(a, "--metric")) metric_s = v;
    else if (!strcmp(a, "--kinds")) kinds = v;
    else if (!strcmp(a, "--hnsw-m")) hn.hnsw_m = atoi(v);
    else if (!strcmp(a, "--hnsw-ef-construction")) hn.hnsw_ef_construction = atoi(v);
    else if (!strcmp(a, "--hnsw-ef-search")) n_efs = parse_list(v, efs, 16);
    else if (!strcmp(a, "--ivf-nlist")) iv.ivf_nlist = atoi(v);
    else if (!strcmp(a, "--ivf-nprobe")) n_probes = parse_list(v, probes, 16);
    else if (!strcmp(a, "--build-threads")) build_threads = atoi(v);
    else {
      fprintf(stderr, "bench_ann: unknown option %s\n", a);
      return 2;
    }
  }
  loom_error err = {""};
  loom_index_metric metric;
  if (loom_index_parse_metric(metric_s, "--metric", &metric, &err) < 0) {
    fprintf(stderr, "bench_ann: %s\n", err.msg);
    return 2;
  }
  bool clustered = !strcmp(data, "clustered");
  loom_rng r;
  loom_rng_seed(&r, 7);
  enum { C = 1000 };
  float *centres = malloc(sizeof(float) * C * (size_t)d);
  for (int i = 0; i < C * d; i++) centres[i] = loom_rng_uniform(&r) * 2 - 1;
  float *rows = malloc(sizeof(float) * (size_t)n * (size_t)d), *q = malloc(sizeof(float) * (size_t)nq * (size_t)d);
  gen(rows, n, d, clustered, centres, C, &r);
  gen(q, nq, d, clustered, centres, C, &r);
  double load[3] = {0};
  if (getloadavg(load, 3) < 0) load[0] = -1;
  printf("bench_ann: %ld x %d %s vectors, %s, %d queries, top-%d, queries on 1 thread, build on %d; load %.2f\n", n, d,
         data, metric_s, nq, K, build_threads, load[0]);

  /* the exact answers (the recall reference) and the exact latency */
  loom_set_num_threads(1);
  loom_index *ex = loom_index_new(rows, n, d, metric, &err);
  if (!ex) return fprintf(stderr, "%s\n", err.msg), 1;
  int64_t *truth = malloc(sizeof(int64_t) * (size_t)nq * K), got[K];
  float sc[K];
  double *t = malloc(sizeof(double) * (size_t)nq), exact_ms = 0;
  for (int i = 0; i < nq; i++) {
    double t0 = now();
    loom_index_search(ex, q + (size_t)i * d, K, NULL, 0, truth + (size_t)i * K, sc);
    t[i] = now() - t0;
  }
  exact_ms = median(t, nq) * 1e3;
  if (strstr(kinds, "exact"))
    printf("  %-34s build %8.2f s  query median %8.4f ms  p90 %8.4f ms  recall@10 1.0000  speed-up   1.0x\n", "exact",
           loom_index_build_seconds(ex), exact_ms, t[nq * 9 / 10] * 1e3);
  for (int kind = LOOM_INDEX_IVF; kind <= LOOM_INDEX_HNSW; kind++) {
    if (!strstr(kinds, kind == LOOM_INDEX_IVF ? "ivf" : "hnsw")) continue;
    loom_index_opts o = kind == LOOM_INDEX_IVF ? iv : hn;
    loom_set_num_threads(build_threads);
    loom_index *ix = loom_index_build(rows, n, d, metric, &o, &err);
    loom_set_num_threads(1);
    if (!ix) {
      printf("  %s: %s\n", loom_index_kind_name((loom_index_kind)kind), err.msg);
      continue;
    }
    int nsweep = kind == LOOM_INDEX_IVF ? n_probes : n_efs;
    for (int s = 0; s < nsweep; s++) {
      loom_index *use = ix;
      if (loom_index_set_search(ix, kind == LOOM_INDEX_HNSW ? efs[s] : 0, kind == LOOM_INDEX_IVF ? probes[s] : 0, &err) < 0)
        return fprintf(stderr, "%s\n", err.msg), 1;
      double found = 0;
      for (int i = 0; i < nq; i++) {
        double t0 = now();
        int m = loom_index_search(use, q + (size_t)i * d, K, NULL, 0, got, sc);
        t[i] = now() - t0;
        for (int a = 0; a < K; a++)
          for (int b = 0; b < m; b++)
            if (truth[(size_t)i * K + a] == got[b]) {
              found++;
              break;
            }
      }
      const loom_index_opts *u = loom_index_opts_of(use);
      char name[96];
      if (kind == LOOM_INDEX_IVF) snprintf(name, sizeof name, "ivf nlist=%d nprobe=%d", u->ivf_nlist, u->ivf_nprobe);
      else snprintf(name, sizeof name, "hnsw M=%d efc=%d ef=%d", u->hnsw_m, u->hnsw_ef_construction, u->hnsw_ef_search);
      double med = median(t, nq) * 1e3;
      printf("  %-34s build %8.2f s  query median %8.4f ms  p90 %8.4f ms  recall@10 %.4f  speed-up %6.1fx\n", name,
             loom_index_build_seconds(use), med, t[nq * 9 / 10] * 1e3, found / ((double)nq * K), exact_ms / med);
      fflush(stdout);
    }
    loom_index_free(ix);
  }
  loom_index_free(ex);
  free(rows), free(q), free(truth), free(t), free(centres);
  return 0;
}
