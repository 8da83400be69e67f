/* loom/index.h — nearest-neighbour indexes over item embeddings: top-K by cosine, inner product,
 * (negated) euclidean or manhattan distance. The exact index stores the rows (normalised once for
 * COSINE) and scans them with the SIMD dot kernel and a K-sized heap; ties break towards the lower row,
 * so results are deterministic. For large catalogues two approximate kinds sit behind the same search
 * call: HNSW (hnswlib graph) and IVF (FAISS IndexIVFFlat: k-means cells, nprobe of them scanned). Both
 * are built deterministically (fixed seed, rows inserted in order); their candidates are re-scored
 * from the stored rows, so scores equal the exact index's and ties break the same way.
 *
 *   loom_index_opts o = loom_index_defaults(LOOM_INDEX_HNSW);
 *   loom_index *ix = loom_index_build(V, n, d, LOOM_INDEX_COSINE, &o, &err);
 *   int got = loom_index_search(ix, q, 10, NULL, 0, rows, scores);
 *   double r = loom_index_recall(ix, 200, 10); // against exact on 200 of the rows as queries
 */
#ifndef LOOM_INDEX_H
#define LOOM_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loom/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* score(q, r): COSINE q̂·r̂; DOT q·r; EUCLIDEAN −||q − r||₂; MANHATTAN −||q − r||₁ (higher is better). */
typedef enum {
  LOOM_INDEX_COSINE = 0,
  LOOM_INDEX_DOT = 1,
  LOOM_INDEX_EUCLIDEAN = 2,
  LOOM_INDEX_MANHATTAN = 3,
} loom_index_metric;
#define LOOM_INDEX_N_METRICS 4

typedef enum {
  LOOM_INDEX_AUTO = 0, /* exact below LOOM_INDEX_AUTO_ROWS rows, HNSW from there */
  LOOM_INDEX_EXACT = 1,
  LOOM_INDEX_IVF = 2,
  LOOM_INDEX_HNSW = 3,
} loom_index_kind;

/* The catalogue size from which AUTO picks HNSW (docs/benchmarks.md "ANN": below it the exact scan
 * answers a query in well under a millisecond, and building a graph costs more than it saves). */
#define LOOM_INDEX_AUTO_ROWS 200000

typedef struct loom_index_opts {
  loom_index_kind kind;
  int hnsw_m;               /* HNSW links per node (default 16) */
  int hnsw_ef_construction; /* HNSW build beam (default 100) */
  int hnsw_ef_search;       /* HNSW search beam (default 64; raised to k + exclusions when smaller) */
  int ivf_nlist;            /* IVF cells; 0: round(4·sqrt(n)), at most n / 39 (FAISS's training minimum) */
  int ivf_nprobe;           /* IVF cells scanned per query (default 16) */
  uint64_t seed;            /* HNSW level draws, IVF k-means initialisation (default 1) */
} loom_index_opts;

/* Defaults for `kind` (the fields above). */
loom_index_opts loom_index_defaults(loom_index_kind kind);
/* Names: "cosine", "dot", "euclidean", "manhattan"; "auto", "exact", "ivf", "hnsw". Parsing returns
 * 0, or -1 with err naming `flag` and the valid choices. */
const char *loom_index_metric_name(loom_index_metric m);
const char *loom_index_kind_name(loom_index_kind k);
int loom_index_parse_metric(const char *s, const char *flag, loom_index_metric *m, loom_error *err);
int loom_index_parse_kind(const char *s, const char *flag, loom_index_kind *k, loom_error *err);
/* Whether `kind` can serve `metric` (IVF and HNSW: not MANHATTAN — neither library has an L1 search);
 * if not, -1 with err saying so and what to use. */
int loom_index_supports(loom_index_kind kind, loom_index_metric metric, loom_error *err);

typedef struct loom_index loom_index;

/* An index over n rows of dimension d (copied; rows normalised for COSINE; a zero row scores 0) of
 * o->kind (NULL: exact). Returns NULL with err set if out of memory, a value is not finite (naming the
 * row), an option is out of range (naming it) or the kind cannot serve the metric. */
loom_index *loom_index_build(const float *rows, int64_t n, int d, loom_index_metric metric, const loom_index_opts *o,
                             loom_error *err);
/* The exact index (= loom_index_build with kind EXACT). */
loom_index *loom_index_new(const float *rows, int64_t n, int d, loom_index_metric metric, loom_error *err);
void loom_index_free(loom_index *ix);
int64_t loom_index_size(const loom_index *ix);
int loom_index_dim(const loom_index *ix);
loom_index_metric loom_index_metric_of(const loom_index *ix);
/* The kind built (never AUTO) and the options it was built with (defaults resolved). */
loom_index_kind loom_index_kind_of(const loom_index *ix);
const loom_index_opts *loom_index_opts_of(const loom_index *ix);
double loom_index_build_seconds(const loom_index *ix);
/* Changes the search beam of a built index (HNSW ef_search, IVF nprobe; 0 keeps one) without
 * rebuilding it — not while searches run. -1 with err naming the flag if out of range. */
int loom_index_set_search(loom_index *ix, int hnsw_ef_search, int ivf_nprobe, loom_error *err);
/* The stored (normalised, for COSINE) row i: d floats. */
const float *loom_index_row(const loom_index *ix, int64_t i);

/* Top k rows for one query (d floats; normalised here for COSINE), best first: rows[k], scores[k].
 * `exclude` (n_exclude row numbers, may be NULL) are skipped. Returns how many were written
 * (exact: min(k, eligible rows); approximate: at most that). The exact kind allocates nothing; the
 * approximate kinds allocate their candidate lists. Safe to call from several threads at once. */
int loom_index_search(const loom_index *ix, const float *query, int k, const int64_t *exclude, int n_exclude,
                      int64_t *rows, float *scores);
/* The same search by brute force whatever the kind (the reference for recall). */
int loom_index_search_exact(const loom_index *ix, const float *query, int k, const int64_t *exclude, int n_exclude,
                            int64_t *rows, float *scores);
/* Scores of every row for one query (n floats), e.g. for full-ranking metrics. */
void loom_index_scores(const loom_index *ix, const float *query, float *scores);
/* Recall@k of this index against the exact search: the mean fraction of the exact top k found, over
 * nq queries (rows i·n/nq of the index itself, each excluded from its own answer). 1 for EXACT. */
double loom_index_recall(const loom_index *ix, int nq, int k);

#ifdef __cplusplus
}
#endif
#endif
