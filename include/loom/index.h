/* loom/index.h — an exact nearest-neighbour index over item embeddings: top-K by cosine similarity
 * (or by inner product, for ranking heads that score with a dot product). Rows are stored normalised
 * once, so a query costs one matrix-vector product (SIMD dot kernels) and a K-sized heap. Ties break
 * towards the lower row, so results are deterministic. No approximation, no training. */
#ifndef LOOM_INDEX_H
#define LOOM_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loom/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { LOOM_INDEX_COSINE = 0, LOOM_INDEX_DOT = 1 } loom_index_metric;

typedef struct loom_index loom_index;

/* An index over n rows of dimension d (copied; rows normalised for COSINE; a zero row scores 0).
 * Returns NULL with err set if out of memory or a value is not finite (naming the row). */
loom_index *loom_index_new(const float *rows, int64_t n, int d, loom_index_metric metric, loom_error *err);
void loom_index_free(loom_index *ix);
int64_t loom_index_size(const loom_index *ix);
int loom_index_dim(const loom_index *ix);
/* The stored (normalised, for COSINE) row i: d floats. */
const float *loom_index_row(const loom_index *ix, int64_t i);

/* Top k rows for one query (d floats; normalised here for COSINE), best first: rows[k], scores[k].
 * `exclude` (n_exclude row numbers, may be NULL) are skipped. Returns how many were written
 * (min(k, eligible rows)). Allocates nothing. */
int loom_index_search(const loom_index *ix, const float *query, int k, const int64_t *exclude, int n_exclude,
                      int64_t *rows, float *scores);
/* Scores of every row for one query (n floats), e.g. for full-ranking metrics. */
void loom_index_scores(const loom_index *ix, const float *query, float *scores);

#ifdef __cplusplus
}
#endif
#endif
