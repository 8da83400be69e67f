/* loom/alloc.h — every heap allocation in loom goes through these, so that tests can fail the Nth
 * allocation (SQLite-style) and prove that each error path cleans up and reports. Out of memory is
 * a user-facing error where a caller can recover (loading data, checkpoints, configs): those paths
 * return an error; the graph's build-time allocations abort with a message. */
#ifndef LOOM_ALLOC_H
#define LOOM_ALLOC_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

void *loom_malloc(size_t n);
void *loom_calloc(size_t n, size_t size);
void *loom_realloc(void *p, size_t n);
/* 64-byte aligned; free with loom_free. */
void *loom_aligned_alloc(size_t n);
char *loom_strdup(const char *s);
void loom_free(void *p);

/* Testing: make the allocation numbered n (counting from 1 after this call) and every later one
 * fail; n = 0 turns injection off. Returns how many allocations were made since the last call. */
long loom_alloc_fail_after(long n);

#ifdef __cplusplus
}
#endif
#endif
