/* loom/error.h — how loom reports a user's problem (bad CSV, missing image, corrupt checkpoint,
 * wrong config key): the function returns -1 (or NULL) and fills a loom_error whose message names
 * the file, the line or row, the field, what is wrong and what to do. Only apps print and exit.
 * Programming errors (shape mismatches, misuse of the API) assert instead. */
#ifndef LOOM_ERROR_H
#define LOOM_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

#define LOOM_ERROR_MAX 1024

typedef struct loom_error {
  char msg[LOOM_ERROR_MAX];
} loom_error;

/* Sets err->msg (if err is non-NULL) and returns -1, so `return loom_errorf(err, ...)` reads well. */
int loom_errorf(loom_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prefixes an existing message: "context: <old message>". Returns -1. */
int loom_error_wrap(loom_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));


#ifdef __cplusplus
}
#endif
#endif
