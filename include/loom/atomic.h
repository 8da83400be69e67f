/* loom/atomic.h — files that appear whole or not at all: written to PATH.tmp.PID beside the target,
 * flushed to disk, renamed over it, the directory synced. A failure at any point removes the temporary
 * file and leaves the previous one as it was. (Checkpoints go through the safetensors writer, which
 * follows the same steps with write(2) and fault-injection hooks.)
 *
 *   loom_atomic a;
 *   if (loom_atomic_open(&a, "scores.csv", &err) < 0) ...;
 *   fprintf(a.f, ...);
 *   if (loom_atomic_commit(&a, &err) < 0) ...;     // or loom_atomic_discard(&a) to give up
 */
#ifndef LOOM_ATOMIC_H
#define LOOM_ATOMIC_H

#include <stddef.h>
#include <stdio.h>

#include "loom/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct loom_atomic {
  FILE *f; /* write here */
  char path[4096], tmp[4200];
} loom_atomic;

/* Creates the temporary file; -1 with err naming the path when it cannot. */
int loom_atomic_open(loom_atomic *a, const char *path, loom_error *err);
/* Flushes, fsyncs, renames over the target and syncs the directory; on any failure the temporary is
 * removed and err says the previous file is intact. Either way a->f is closed. */
int loom_atomic_commit(loom_atomic *a, loom_error *err);
/* Closes and removes the temporary file; the target is untouched. */
void loom_atomic_discard(loom_atomic *a);
/* The whole of data[0..len) to `path`, atomically. */
int loom_write_file_atomic(const char *path, const void *data, size_t len, loom_error *err);

#ifdef __cplusplus
}
#endif
#endif
