/* index_ann.h — the C face of the two C++ shims behind loom/index.h's approximate kinds:
 * index_hnsw.cpp (hnswlib, header-only) and index_ivf.cpp (FAISS IndexIVFFlat). Each returns candidate
 * row numbers only; index.c re-scores them from its own rows and sorts them with the exact index's tie
 * rule. ip: inner-product search (COSINE on normalised rows, DOT), else squared L2 (EUCLIDEAN). */
#ifndef LOOM_INDEX_ANN_H
#define LOOM_INDEX_ANN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct loom_ann_hnsw loom_ann_hnsw;
typedef struct loom_ann_ivf loom_ann_ivf;

/* NULL with msg[cap] set on failure (an exception of the library, out of memory). Rows are inserted
 * in order on one thread, so the graph is the same on every run and thread count. */
loom_ann_hnsw *loom_ann_hnsw_build(const float *rows, int64_t n, int d, int ip, int M, int ef_construction,
                                   int ef_search, uint64_t seed, char *msg, size_t cap);
/* Up to k candidate rows, into rows[k]; returns how many (-1 on an exception). */
int loom_ann_hnsw_search(const loom_ann_hnsw *h, const float *q, int k, int64_t *rows);
void loom_ann_hnsw_free(loom_ann_hnsw *h);
void loom_ann_hnsw_set_ef(loom_ann_hnsw *h, int ef_search);

/* k-means (FAISS Clustering, seeded) on at most 64 rows per cell, then every row assigned to its cell. */
loom_ann_ivf *loom_ann_ivf_build(const float *rows, int64_t n, int d, int ip, int nlist, int nprobe, uint64_t seed,
                                 char *msg, size_t cap);
int loom_ann_ivf_search(const loom_ann_ivf *v, const float *q, int k, int64_t *rows);
void loom_ann_ivf_free(loom_ann_ivf *v);
void loom_ann_ivf_set_nprobe(loom_ann_ivf *v, int nprobe);

#ifdef __cplusplus
}
#endif
#endif
