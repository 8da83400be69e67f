/* loom/vectors.h — precomputed feature vectors keyed by item or user id ([data] item_vectors,
 * user_vectors): a table of N rows of D floats read once from safetensors, .npy + ids or CSV, looked up
 * by key. The dataset gathers rows into batches; the model reads them as a tower input.
 *
 *   safetensors  one 2-D F32 tensor (any name) of shape (N, D); metadata key "ids" holds a JSON array of
 *                N strings (the keys, row order), e.g. {"__metadata__": {"ids": "[\"i1\",\"i2\"]"}, ...}
 *   NAME.npy     a 2-D C-order '<f4' array (N, D) (npy format 1.0, 2.0 or 3.0), with the keys in NAME.ids
 *                beside it: N lines, one key each (LF or CRLF), row order
 *   NAME.csv     header `id,v0,v1,...,v{D-1}` (the first field names the key column, any name), then one
 *                row per key: `key,x0,...,x{D-1}`
 *
 * The format comes from the file's extension. Every value must be finite and every key unique; errors
 * name the file and the line, record or field. */
#ifndef LOOM_VECTORS_H
#define LOOM_VECTORS_H

#include <stdint.h>

#include "loom/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct loom_vectors loom_vectors;

#define LOOM_VECTORS_MAX_DIM 65536

/* Reads path (regular file, at most max_bytes; 0 = no cap) and its ids. int_keys: keys are parsed as
 * integers and stored in canonical decimal ([data] key_type = int). NULL with err on failure. */
loom_vectors *loom_vectors_read(const char *path, uint64_t max_bytes, int int_keys, loom_error *err);
void loom_vectors_free(loom_vectors *v);
int64_t loom_vectors_count(const loom_vectors *v); /* N */
int loom_vectors_dim(const loom_vectors *v);       /* D */
/* Row of key (as the dataset compares keys), -1 when it has no vector. */
int64_t loom_vectors_find(const loom_vectors *v, const char *key);
/* Row i's D floats. */
const float *loom_vectors_row(const loom_vectors *v, int64_t i);
const char *loom_vectors_key(const loom_vectors *v, int64_t i);

#ifdef __cplusplus
}
#endif
#endif
