/* index.c — exact top-K search over item embeddings (loom/index.h). One pass over the rows with
 * the SIMD dot kernel and a K-sized min-heap kept in the caller's output arrays; a final sort puts
 * the best first. Scoring all rows (loom_index_scores) is parallel over row blocks. */
#include "loom/parallel.h"
#include "loom/index.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "loom/runtime.h"
#include "loom/alloc.h"

#define MAX_DIM 8192
#define MAX_SORTED_EXCLUDE 4096

struct loom_index {
  int64_t n;
  int d;
  loom_index_metric metric;
  float *rows; /* (n, d), normalised for COSINE */
};

static void normalise(float *v, int d) {
  double s = 0;
  for (int j = 0; j < d; j++) s += (double)v[j] * v[j];
  if (s > 0) {
    float inv = (float)(1.0 / sqrt(s));
    for (int j = 0; j < d; j++) v[j] *= inv;
  }
}

loom_index *loom_index_new(const float *rows, int64_t n, int d, loom_index_metric metric, loom_error *err) {
  loom_runtime_init(); /* the SIMD kernel table; an index may be used without any graph */
  if (n < 0 || d < 1 || d > MAX_DIM) {
    loom_errorf(err, "index: %lld rows of dimension %d; the dimension must be in [1, %d]", (long long)n, d, MAX_DIM);
    return NULL;
  }
  for (int64_t i = 0; i < n; i++)
    for (int j = 0; j < d; j++)
      if (!isfinite(rows[i * d + j])) {
        loom_errorf(err, "index: row %lld, component %d is %g; embeddings must be finite (was the model trained "
                         "to a NaN? check the training log)", (long long)i, j, (double)rows[i * d + j]);
        return NULL;
      }
  loom_index *ix = loom_calloc(1, sizeof *ix);
  float *copy = loom_aligned_alloc(sizeof(float) * (size_t)(n ? n : 1) * (size_t)d);
  if (!ix || !copy) {
    loom_free(ix);
    loom_free(copy);
    loom_errorf(err, "index: out of memory for %lld x %d floats", (long long)n, d);
    return NULL;
  }
  memcpy(copy, rows, sizeof(float) * (size_t)n * (size_t)d);
  if (metric == LOOM_INDEX_COSINE)
    for (int64_t i = 0; i < n; i++) normalise(copy + i * d, d);
  ix->n = n;
  ix->d = d;
  ix->metric = metric;
  ix->rows = copy;
  return ix;
}

void loom_index_free(loom_index *ix) {
  if (!ix) return;
  loom_free(ix->rows);
  loom_free(ix);
}

int64_t loom_index_size(const loom_index *ix) { return ix->n; }
int loom_index_dim(const loom_index *ix) { return ix->d; }
const float *loom_index_row(const loom_index *ix, int64_t i) { return ix->rows + i * ix->d; }

/* The query as the index compares it (normalised for COSINE), into q[d]. */
static void prepare_query(const loom_index *ix, const float *query, float *q) {
  memcpy(q, query, sizeof(float) * (size_t)ix->d);
  if (ix->metric == LOOM_INDEX_COSINE) normalise(q, ix->d);
}

void loom_index_scores(const loom_index *ix, const float *query, float *scores) {
  float q[MAX_DIM];
  prepare_query(ix, query, q);
  const int d = ix->d;
  LOOM_PARALLEL_FOR(ix->n * d > LOOM_PAR_GRAIN, (int64_t i = 0; i < ix->n; i++), scores[i] = loom_vec_dot((size_t)d, ix->rows + i * d, q));
}

/* a ranks below b: lower score, or the same score and a later row */
static bool worse(float sa, int64_t ra, float sb, int64_t rb) { return sa < sb || (sa == sb && ra > rb); }

static void sift_down(int64_t *rows, float *scores, int n, int i) {
  for (;;) {
    int l = 2 * i + 1, r = l + 1, m = i;
    if (l < n && worse(scores[l], rows[l], scores[m], rows[m])) m = l;
    if (r < n && worse(scores[r], rows[r], scores[m], rows[m])) m = r;
    if (m == i) return;
    float ts = scores[i];
    int64_t tr = rows[i];
    scores[i] = scores[m], rows[i] = rows[m];
    scores[m] = ts, rows[m] = tr;
    i = m;
  }
}

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

int loom_index_search(const loom_index *ix, const float *query, int k, const int64_t *exclude, int n_exclude,
                      int64_t *rows, float *scores) {
  if (k <= 0) return 0;
  float q[MAX_DIM];
  prepare_query(ix, query, q);
  int64_t sorted[MAX_SORTED_EXCLUDE];
  const bool use_sorted = n_exclude > 0 && n_exclude <= MAX_SORTED_EXCLUDE;
  if (use_sorted) {
    memcpy(sorted, exclude, sizeof(int64_t) * (size_t)n_exclude);
    qsort(sorted, (size_t)n_exclude, sizeof *sorted, cmp_i64);
  }
  const int d = ix->d;
  int have = 0;
  for (int64_t i = 0; i < ix->n; i++) {
    if (n_exclude > 0) {
      bool skip = false;
      if (use_sorted) skip = bsearch(&i, sorted, (size_t)n_exclude, sizeof *sorted, cmp_i64) != NULL;
      else
        for (int e = 0; e < n_exclude && !skip; e++) skip = exclude[e] == i;
      if (skip) continue;
    }
    float s = loom_vec_dot((size_t)d, ix->rows + i * d, q);
    if (isnan(s)) continue;
    if (have < k) { /* grow the heap: append, then restore heap order from the bottom */
      int c = have++;
      rows[c] = i, scores[c] = s;
      while (c > 0) {
        int p = (c - 1) / 2;
        if (!worse(scores[c], rows[c], scores[p], rows[p])) break;
        float ts = scores[c];
        int64_t tr = rows[c];
        scores[c] = scores[p], rows[c] = rows[p];
        scores[p] = ts, rows[p] = tr;
        c = p;
      }
    } else if (worse(scores[0], rows[0], s, i)) { /* better than the worst kept: replace the root */
      rows[0] = i, scores[0] = s;
      sift_down(rows, scores, have, 0);
    }
  }
  /* heap sort: repeatedly move the worst to the end, leaving best first */
  for (int end = have - 1; end > 0; end--) {
    float ts = scores[0];
    int64_t tr = rows[0];
    scores[0] = scores[end], rows[0] = rows[end];
    scores[end] = ts, rows[end] = tr;
    sift_down(rows, scores, end, 0);
  }
  return have;
}
