/* index.c — top-K search over item embeddings (loom/index.h). The exact kind: one pass over the rows
 * with the SIMD dot kernel (or an L2 / L1 loop) and a K-sized min-heap kept in the caller's output
 * arrays; a final sort puts the best first. Scoring all rows (loom_index_scores) is parallel over row
 * blocks. The approximate kinds (HNSW, IVF) live in the C++ shims (index_ann.h): they propose
 * candidates, which are re-scored here from the stored rows and ordered by the same rule as the exact
 * scan (higher score, then lower row), so an approximate answer differs from the exact one only by
 * the rows it missed. */
#include "loom/parallel.h"
#include "loom/index.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "loom/runtime.h"
#include "loom/alloc.h"
#include "index_ann.h"

#define MAX_DIM 8192
#define MAX_SORTED_EXCLUDE 4096

struct loom_index {
  int64_t n;
  int d;
  loom_index_metric metric;
  loom_index_opts o; /* kind never AUTO; defaults resolved */
  float *rows;       /* (n, d), normalised for COSINE */
  double build_s;
  loom_ann_hnsw *hnsw;
  loom_ann_ivf *ivf;
};

static const char *const METRIC_NAMES[LOOM_INDEX_N_METRICS] = {"cosine", "dot", "euclidean", "manhattan"};
static const char *const KIND_NAMES[4] = {"auto", "exact", "ivf", "hnsw"};

const char *loom_index_metric_name(loom_index_metric m) {
  return (unsigned)m < LOOM_INDEX_N_METRICS ? METRIC_NAMES[m] : "?";
}
const char *loom_index_kind_name(loom_index_kind k) { return (unsigned)k < 4 ? KIND_NAMES[k] : "?"; }

int loom_index_parse_metric(const char *s, const char *flag, loom_index_metric *m, loom_error *err) {
  for (int i = 0; s && i < LOOM_INDEX_N_METRICS; i++)
    if (!strcmp(s, METRIC_NAMES[i])) return *m = (loom_index_metric)i, 0;
  return loom_errorf(err, "%s '%s': not a metric — valid choices: cosine, dot, euclidean, manhattan", flag,
                     s ? s : "");
}
int loom_index_parse_kind(const char *s, const char *flag, loom_index_kind *k, loom_error *err) {
  for (int i = 0; s && i < 4; i++)
    if (!strcmp(s, KIND_NAMES[i])) return *k = (loom_index_kind)i, 0;
  return loom_errorf(err, "%s '%s': not an index kind — valid choices: exact, ivf, hnsw, auto", flag, s ? s : "");
}

int loom_index_supports(loom_index_kind kind, loom_index_metric metric, loom_error *err) {
  if ((kind == LOOM_INDEX_IVF || kind == LOOM_INDEX_HNSW) && metric == LOOM_INDEX_MANHATTAN)
    return loom_errorf(err, "--index %s cannot search by --metric manhattan (%s has no L1 search) — use --index "
                            "exact, or --metric euclidean", loom_index_kind_name(kind),
                       kind == LOOM_INDEX_IVF ? "FAISS IndexIVFFlat" : "hnswlib");
  return 0;
}

loom_index_opts loom_index_defaults(loom_index_kind kind) {
  return (loom_index_opts){.kind = kind, .hnsw_m = 16, .hnsw_ef_construction = 100, .hnsw_ef_search = 64,
                           .ivf_nlist = 0, .ivf_nprobe = 16, .seed = 1};
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void normalise(float *v, int d) {
  double s = 0;
  for (int j = 0; j < d; j++) s += (double)v[j] * v[j];
  if (s > 0) {
    float inv = (float)(1.0 / sqrt(s));
    for (int j = 0; j < d; j++) v[j] *= inv;
  }
}

static int check_range(const char *flag, int v, int lo, int hi, loom_error *err) {
  if (v >= lo && v <= hi) return 0;
  return loom_errorf(err, "%s %d: must be in [%d, %d]", flag, v, lo, hi);
}

/* Resolves AUTO and the IVF cell count, and checks every option of the kind built (naming its flag). */
static int resolve_opts(const loom_index_opts *in, int64_t n, loom_index_metric metric, loom_index_opts *o,
                        loom_error *err) {
  *o = in ? *in : loom_index_defaults(LOOM_INDEX_EXACT);
  if ((unsigned)o->kind > LOOM_INDEX_HNSW) return loom_errorf(err, "--index: unknown index kind %d", (int)o->kind);
  if ((unsigned)metric >= LOOM_INDEX_N_METRICS) return loom_errorf(err, "--metric: unknown metric %d", (int)metric);
  if (o->kind == LOOM_INDEX_AUTO)
    o->kind = n >= LOOM_INDEX_AUTO_ROWS && metric != LOOM_INDEX_MANHATTAN ? LOOM_INDEX_HNSW : LOOM_INDEX_EXACT;
  if (loom_index_supports(o->kind, metric, err) < 0) return -1;
  if (o->kind == LOOM_INDEX_HNSW) {
    if (check_range("--hnsw-m", o->hnsw_m, 2, 256, err) < 0 ||
        check_range("--hnsw-ef-construction", o->hnsw_ef_construction, 1, 100000, err) < 0 ||
        check_range("--hnsw-ef-search", o->hnsw_ef_search, 1, 100000, err) < 0)
      return -1;
  } else if (o->kind == LOOM_INDEX_IVF) {
    if (check_range("--ivf-nprobe", o->ivf_nprobe, 1, 1 << 20, err) < 0) return -1;
    if (o->ivf_nlist == 0) {
      double c = floor(4.0 * sqrt((double)n) + 0.5), cap = floor((double)n / 39.0);
      if (c > cap) c = cap;
      o->ivf_nlist = c < 1 ? 1 : (int)c;
    } else if (o->ivf_nlist < 1 || (n > 0 && o->ivf_nlist > n)) {
      return loom_errorf(err, "--ivf-nlist %d: must be in [1, %lld] (the number of rows: each cell needs one)",
                         o->ivf_nlist, (long long)(n > 0 ? n : 1));
    }
    if (o->ivf_nprobe > o->ivf_nlist) o->ivf_nprobe = o->ivf_nlist; /* scanning every cell is the most there is */
  }
  return 0;
}

loom_index *loom_index_build(const float *rows, int64_t n, int d, loom_index_metric metric, const loom_index_opts *opts,
                             loom_error *err) {
  loom_runtime_init(); /* the SIMD kernel table; an index may be used without any graph */
  double t0 = now();
  if (n < 0 || d < 1 || d > MAX_DIM) {
    loom_errorf(err, "index: %lld rows of dimension %d; the dimension must be in [1, %d]", (long long)n, d, MAX_DIM);
    return NULL;
  }
  loom_index_opts o;
  if (resolve_opts(opts, n, metric, &o, err) < 0) return NULL;
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
  ix->o = o;
  ix->rows = copy;
  const int ip = metric != LOOM_INDEX_EUCLIDEAN;
  char msg[512] = "";
  if (o.kind == LOOM_INDEX_HNSW && n > 0) {
    ix->hnsw = loom_ann_hnsw_build(copy, n, d, ip, o.hnsw_m, o.hnsw_ef_construction, o.hnsw_ef_search, o.seed, msg,
                                   sizeof msg);
  } else if (o.kind == LOOM_INDEX_IVF && n > 0) {
    ix->ivf = loom_ann_ivf_build(copy, n, d, ip, o.ivf_nlist, o.ivf_nprobe, o.seed, msg, sizeof msg);
  }
  if (n > 0 && ((o.kind == LOOM_INDEX_HNSW && !ix->hnsw) || (o.kind == LOOM_INDEX_IVF && !ix->ivf))) {
    loom_errorf(err, "index: building the %s index over %lld rows failed: %s", loom_index_kind_name(o.kind),
                (long long)n, msg);
    loom_index_free(ix);
    return NULL;
  }
  ix->build_s = now() - t0;
  return ix;
}

loom_index *loom_index_new(const float *rows, int64_t n, int d, loom_index_metric metric, loom_error *err) {
  loom_index_opts o = loom_index_defaults(LOOM_INDEX_EXACT);
  return loom_index_build(rows, n, d, metric, &o, err);
}

void loom_index_free(loom_index *ix) {
  if (!ix) return;
  loom_ann_hnsw_free(ix->hnsw);
  loom_ann_ivf_free(ix->ivf);
  loom_free(ix->rows);
  loom_free(ix);
}

int64_t loom_index_size(const loom_index *ix) { return ix->n; }
int loom_index_dim(const loom_index *ix) { return ix->d; }
loom_index_metric loom_index_metric_of(const loom_index *ix) { return ix->metric; }
loom_index_kind loom_index_kind_of(const loom_index *ix) { return ix->o.kind; }
const loom_index_opts *loom_index_opts_of(const loom_index *ix) { return &ix->o; }
double loom_index_build_seconds(const loom_index *ix) { return ix->build_s; }
int loom_index_set_search(loom_index *ix, int hnsw_ef_search, int ivf_nprobe, loom_error *err) {
  if (hnsw_ef_search && check_range("--hnsw-ef-search", hnsw_ef_search, 1, 100000, err) < 0) return -1;
  if (ivf_nprobe && check_range("--ivf-nprobe", ivf_nprobe, 1, 1 << 20, err) < 0) return -1;
  if (hnsw_ef_search) {
    ix->o.hnsw_ef_search = hnsw_ef_search;
    if (ix->hnsw) loom_ann_hnsw_set_ef(ix->hnsw, hnsw_ef_search);
  }
  if (ivf_nprobe) {
    if (ix->o.kind == LOOM_INDEX_IVF && ivf_nprobe > ix->o.ivf_nlist) ivf_nprobe = ix->o.ivf_nlist;
    ix->o.ivf_nprobe = ivf_nprobe;
    if (ix->ivf) loom_ann_ivf_set_nprobe(ix->ivf, ivf_nprobe);
  }
  return 0;
}
const float *loom_index_row(const loom_index *ix, int64_t i) { return ix->rows + i * ix->d; }

/* The query as the index compares it (normalised for COSINE), into q[d]. */
static void prepare_query(const loom_index *ix, const float *query, float *q) {
  memcpy(q, query, sizeof(float) * (size_t)ix->d);
  if (ix->metric == LOOM_INDEX_COSINE) normalise(q, ix->d);
}

/* score of row i for the prepared query q: higher is better */
static inline float score_row(const loom_index *ix, const float *q, int64_t i) {
  const int d = ix->d;
  const float *r = ix->rows + i * d;
  switch (ix->metric) {
  case LOOM_INDEX_EUCLIDEAN: {
    float s = 0;
    for (int j = 0; j < d; j++) s += (q[j] - r[j]) * (q[j] - r[j]);
    return -sqrtf(s);
  }
  case LOOM_INDEX_MANHATTAN: {
    float s = 0;
    for (int j = 0; j < d; j++) s += fabsf(q[j] - r[j]);
    return -s;
  }
  default: return loom_vec_dot((size_t)d, r, q);
  }
}

void loom_index_scores(const loom_index *ix, const float *query, float *scores) {
  float q[MAX_DIM];
  prepare_query(ix, query, q);
  LOOM_PARALLEL_FOR(ix->n * ix->d > LOOM_PAR_GRAIN, (int64_t i = 0; i < ix->n; i++), scores[i] = score_row(ix, q, i));
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

/* Keeps the k best of (row, score) pairs fed one by one in rows/scores (a min-heap, worst at 0). */
static void heap_offer(int64_t *rows, float *scores, int k, int *have, int64_t i, float s) {
  if (*have < k) { /* grow the heap: append, then restore heap order from the bottom */
    int c = (*have)++;
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
    sift_down(rows, scores, *have, 0);
  }
}

/* heap sort: repeatedly move the worst to the end, leaving best first */
static void heap_finish(int64_t *rows, float *scores, int have) {
  for (int end = have - 1; end > 0; end--) {
    float ts = scores[0];
    int64_t tr = rows[0];
    scores[0] = scores[end], rows[0] = rows[end];
    scores[end] = ts, rows[end] = tr;
    sift_down(rows, scores, end, 0);
  }
}

typedef struct {
  const int64_t *sorted, *list;
  int n;
  bool use_sorted;
} exclusion;

static bool excluded(const exclusion *e, int64_t i) {
  if (e->n <= 0) return false;
  if (e->use_sorted) return bsearch(&i, e->sorted, (size_t)e->n, sizeof *e->sorted, cmp_i64) != NULL;
  for (int j = 0; j < e->n; j++)
    if (e->list[j] == i) return true;
  return false;
}

int loom_index_search_exact(const loom_index *ix, const float *query, int k, const int64_t *exclude, int n_exclude,
                            int64_t *rows, float *scores) {
  if (k <= 0) return 0;
  float q[MAX_DIM];
  prepare_query(ix, query, q);
  int64_t sorted[MAX_SORTED_EXCLUDE];
  exclusion ex = {sorted, exclude, n_exclude, n_exclude > 0 && n_exclude <= MAX_SORTED_EXCLUDE};
  if (ex.use_sorted) {
    memcpy(sorted, exclude, sizeof(int64_t) * (size_t)n_exclude);
    qsort(sorted, (size_t)n_exclude, sizeof *sorted, cmp_i64);
  }
  int have = 0;
  for (int64_t i = 0; i < ix->n; i++) {
    if (excluded(&ex, i)) continue;
    float s = score_row(ix, q, i);
    if (isnan(s)) continue;
    heap_offer(rows, scores, k, &have, i, s);
  }
  heap_finish(rows, scores, have);
  return have;
}

int loom_index_search(const loom_index *ix, const float *query, int k, const int64_t *exclude, int n_exclude,
                      int64_t *rows, float *scores) {
  if (ix->o.kind == LOOM_INDEX_EXACT || ix->n == 0 || k <= 0)
    return loom_index_search_exact(ix, query, k, exclude, n_exclude, rows, scores);
  float q[MAX_DIM];
  prepare_query(ix, query, q);
  /* ask for enough candidates that k survive the exclusions */
  int64_t want = (int64_t)k + (n_exclude > 0 ? n_exclude : 0);
  if (want > ix->n) want = ix->n;
  int64_t *cand = malloc(sizeof(int64_t) * (size_t)want);
  if (!cand) return loom_index_search_exact(ix, query, k, exclude, n_exclude, rows, scores);
  int m = ix->hnsw ? loom_ann_hnsw_search(ix->hnsw, q, (int)want, cand) : loom_ann_ivf_search(ix->ivf, q, (int)want, cand);
  if (m < 0) { /* the library threw (out of memory): answer exactly rather than not at all */
    free(cand);
    return loom_index_search_exact(ix, query, k, exclude, n_exclude, rows, scores);
  }
  int64_t sorted[MAX_SORTED_EXCLUDE];
  exclusion ex = {sorted, exclude, n_exclude, n_exclude > 0 && n_exclude <= MAX_SORTED_EXCLUDE};
  if (ex.use_sorted) {
    memcpy(sorted, exclude, sizeof(int64_t) * (size_t)n_exclude);
    qsort(sorted, (size_t)n_exclude, sizeof *sorted, cmp_i64);
  }
  int have = 0;
  for (int c = 0; c < m; c++) {
    int64_t i = cand[c];
    if (i < 0 || i >= ix->n || excluded(&ex, i)) continue;
    float s = score_row(ix, q, i);
    if (isnan(s)) continue;
    heap_offer(rows, scores, k, &have, i, s);
  }
  free(cand);
  heap_finish(rows, scores, have);
  return have;
}

double loom_index_recall(const loom_index *ix, int nq, int k) {
  if (ix->o.kind == LOOM_INDEX_EXACT || ix->n < 2 || nq < 1 || k < 1) return 1.0;
  if (nq > ix->n) nq = (int)ix->n;
  int64_t *re = malloc(sizeof(int64_t) * 2 * (size_t)k), *ra = re ? re + k : NULL;
  float *se = malloc(sizeof(float) * 2 * (size_t)k), *sa = se ? se + k : NULL;
  double found = 0, total = 0;
  if (re && se)
    for (int j = 0; j < nq; j++) {
      int64_t i = (int64_t)((double)j * (double)ix->n / nq);
      const float *q = ix->rows + i * ix->d;
      int ne = loom_index_search_exact(ix, q, k, &i, 1, re, se);
      int na = loom_index_search(ix, q, k, &i, 1, ra, sa);
      for (int a = 0; a < ne; a++)
        for (int b = 0; b < na; b++)
          if (re[a] == ra[b]) {
            found += 1;
            break;
          }
      total += ne;
    }
  free(re);
  free(se);
  return total > 0 ? found / total : 1.0;
}
