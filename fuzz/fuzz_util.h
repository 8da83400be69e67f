/* fuzz_util.h — helpers shared by the libFuzzer harnesses: the readers under test take a path, so
 * the input goes to a per-process scratch file (in /dev/shm when there is one, so no disk I/O). */
#ifndef LOOM_FUZZ_UTIL_H
#define LOOM_FUZZ_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char fuzz_path[256];
static inline void fuzz_remove_file(void) { unlink(fuzz_path); }

/* Writes data[0..n) to a scratch file named after the process and `suffix` (removed at exit);
 * returns its path. One scratch file per process: the first suffix wins. */
static inline const char *fuzz_write_file(const uint8_t *data, size_t n, const char *suffix) {
  char *path = fuzz_path;
  if (!path[0]) {
    const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : (getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    snprintf(path, sizeof fuzz_path, "%s/loom-fuzz-%ld%s", dir, (long)getpid(), suffix);
    atexit(fuzz_remove_file);
  }
  FILE *f = fopen(path, "wb");
  if (!f || (n && fwrite(data, 1, n, f) != n) || fclose(f) != 0) abort(); /* the harness, not loom, failed */
  return path;
}

/* A NUL-terminated copy of the input (the caller frees it). */
static inline char *fuzz_cstr(const uint8_t *data, size_t n) {
  char *s = malloc(n + 1);
  if (!s) abort();
  memcpy(s, data, n);
  s[n] = '\0';
  return s;
}

/* A failed call must say why: an empty message is a bug. */
#define FUZZ_CHECK_MSG(err) \
  do {                      \
    if (!(err).msg[0]) abort(); \
  } while (0)

#endif
