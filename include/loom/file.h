/* loom/file.h — user-named files, opened safely, and the stop flag that ends long reads.
 * Every reader of a user-named file opens it through loom_file_open_regular: a FIFO, directory or
 * device is refused by name before anything blocks or reads forever, and the size is capped. */
#ifndef LOOM_FILE_H
#define LOOM_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "loom/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Process-wide stop request (SIGINT / SIGTERM). Long reads and hashes of user files poll it at
 * least every MiB and fail with "<file>: interrupted (SIGINT or SIGTERM) while reading it", so a
 * huge or endless input stops within a bounded time. loom_stop_request is async-signal-safe: an
 * app's own handler calls it; loom_stop_install_signals installs a handler for SIGINT and SIGTERM
 * that does only that (without SA_RESTART, so a blocked read returns). */
void loom_stop_request(void);
int loom_stop_requested(void);
void loom_stop_clear(void);
int loom_stop_install_signals(void);

/* Opens path read-only (O_NONBLOCK | O_NOCTTY, cleared after the check) and fstat's it. Returns an
 * fd; -1 with err set when the file is not a regular file ("<path>: the <what> file is a FIFO (named
 * pipe), not a regular file — ...") or is over max_bytes (0 = no cap; the message names the size and
 * cap_key, the setting that raises it); -2 with errno set when open() itself failed, so the caller
 * words "cannot open" with its own advice. *size (if not NULL) = the file's size. */
int loom_file_open_regular(const char *path, uint64_t max_bytes, const char *what, const char *cap_key,
                           uint64_t *size, loom_error *err);
/* The whole regular file (at most max_bytes) into *data (loom_free it; *n bytes, NUL not added).
 * Reads exactly the size fstat gave, polls loom_stop_requested() every MiB ("interrupted"), and
 * refuses a file that changes size while read. */
int loom_file_read_all(const char *path, uint64_t max_bytes, const char *what, const char *cap_key, void **data,
                       size_t *n, loom_error *err);

#define LOOM_FILE_POLL_BYTES ((size_t)1 << 20) /* long reads check loom_stop_requested() at least this often */
/* loom_file_read_all after loom_file_open_regular gave fd and size; closes fd. */
int loom_file_read_fd(int fd, uint64_t size, const char *path, const char *what, void **data, size_t *n,
                      loom_error *err);
/* err = "<path>: interrupted (SIGINT or SIGTERM) while reading it"; returns -1. */
int loom_file_interrupted(const char *path, loom_error *err);
/* mkdir -p: path and every missing parent (mode 0777 & ~umask). -1 with err naming the first folder
 * that cannot be created and why. */
int loom_mkdir_p(const char *path, loom_error *err);

#ifdef __cplusplus
}
#endif
#endif
