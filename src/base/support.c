/* support.c — errors and allocation (loom/error.h, loom/alloc.h). The failure-injection counter is
 * process-wide and atomic; it costs one relaxed load per allocation when off. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loom/alloc.h"
#include "loom/error.h"

int loom_errorf(loom_error *err, const char *fmt, ...) {
  if (!err) return -1;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err->msg, sizeof err->msg, fmt, ap);
  va_end(ap);
  return -1;
}

int loom_error_wrap(loom_error *err, const char *fmt, ...) {
  if (!err) return -1;
  char prefix[LOOM_ERROR_MAX], old[LOOM_ERROR_MAX];
  memcpy(old, err->msg, sizeof old);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(prefix, sizeof prefix, fmt, ap);
  va_end(ap);
  size_t n = strlen(prefix);
  if (n > sizeof err->msg - 3) n = sizeof err->msg - 3;
  memcpy(err->msg, prefix, n);
  memcpy(err->msg + n, ": ", 2);
  size_t room = sizeof err->msg - n - 2, m = strnlen(old, room - 1);
  memcpy(err->msg + n + 2, old, m);
  err->msg[n + 2 + m] = '\0';
  return -1;
}

static long fail_at;   /* 0: off */
static long n_counted; /* allocations since loom_alloc_fail_after */

static int injected_failure(void) {
  long n = __atomic_add_fetch(&n_counted, 1, __ATOMIC_RELAXED);
  long f = __atomic_load_n(&fail_at, __ATOMIC_RELAXED);
  return f > 0 && n >= f;
}

long loom_alloc_fail_after(long n) {
  long made = __atomic_exchange_n(&n_counted, 0, __ATOMIC_SEQ_CST);
  __atomic_store_n(&fail_at, n, __ATOMIC_SEQ_CST);
  return made;
}

void *loom_malloc(size_t n) { return injected_failure() ? NULL : malloc(n ? n : 1); }
void *loom_calloc(size_t n, size_t size) { return injected_failure() ? NULL : calloc(n ? n : 1, size ? size : 1); }
void *loom_realloc(void *p, size_t n) { return injected_failure() ? NULL : realloc(p, n ? n : 1); }
void *loom_aligned_alloc(size_t n) {
  if (injected_failure()) return NULL;
  size_t rounded = (n + 63) / 64 * 64;
  return aligned_alloc(64, rounded ? rounded : 64);
}
char *loom_strdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = loom_malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}
void loom_free(void *p) { free(p); }
