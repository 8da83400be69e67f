/* atomic.c — whole-or-nothing output files (loom/atomic.h): temporary beside the target, fsync,
 * rename, directory fsync. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "loom/atomic.h"

int loom_atomic_open(loom_atomic *a, const char *path, loom_error *err) {
  a->f = NULL;
  if ((size_t)snprintf(a->path, sizeof a->path, "%s", path) >= sizeof a->path ||
      (size_t)snprintf(a->tmp, sizeof a->tmp, "%s.tmp.%ld", path, (long)getpid()) >= sizeof a->tmp)
    return loom_errorf(err, "%s: path too long", path);
  int fd = open(a->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return loom_errorf(err, "%s: cannot create %s: %s", path, a->tmp, strerror(errno));
  if (!(a->f = fdopen(fd, "w"))) {
    int e = errno;
    close(fd);
    unlink(a->tmp);
    return loom_errorf(err, "%s: cannot open %s: %s", path, a->tmp, strerror(e));
  }
  return 0;
}

void loom_atomic_discard(loom_atomic *a) {
  if (!a->f) return;
  fclose(a->f);
  a->f = NULL;
  unlink(a->tmp);
}

int loom_atomic_commit(loom_atomic *a, loom_error *err) {
  const char *what = "write";
  int e = 0;
  if (ferror(a->f) || fflush(a->f) != 0) e = errno ? errno : EIO;
  else if (fsync(fileno(a->f)) != 0) e = errno, what = "flushing to disk";
  if (fclose(a->f) != 0 && !e) e = errno, what = "flushing to disk";
  a->f = NULL;
  if (!e && rename(a->tmp, a->path) != 0) e = errno, what = "rename";
  if (e) {
    unlink(a->tmp);
    return loom_errorf(err, "%s: %s failed: %s; the previous file (if any) is intact", a->path, what, strerror(e));
  }
  /* make the rename itself durable */
  char dir[4096];
  snprintf(dir, sizeof dir, "%s", a->path);
  char *slash = strrchr(dir, '/');
  if (slash) *slash = '\0';
  else snprintf(dir, sizeof dir, ".");
  int dfd = open(slash && !dir[0] ? "/" : dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
  return 0;
}

int loom_write_file_atomic(const char *path, const void *data, size_t len, loom_error *err) {
  loom_atomic a;
  if (loom_atomic_open(&a, path, err) < 0) return -1;
  if (len && fwrite(data, 1, len, a.f) != len) {
    int e = errno;
    loom_atomic_discard(&a);
    return loom_errorf(err, "%s: write failed: %s; the previous file (if any) is intact", path, strerror(e));
  }
  return loom_atomic_commit(&a, err);
}
