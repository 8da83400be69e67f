/* file.c — opening user-named files safely and stopping long reads (loom/file.h): a FIFO, directory
 * or device is refused by name before anything blocks, sizes are capped, and every long read polls
 * the process-wide stop flag that SIGINT / SIGTERM set. */
#include "loom/file.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loom/alloc.h"

static volatile sig_atomic_t g_loom_stop;

void loom_stop_request(void) { g_loom_stop = 1; }
int loom_stop_requested(void) { return g_loom_stop != 0; }
void loom_stop_clear(void) { g_loom_stop = 0; }

static void on_stop_signal(int sig) {
  (void)sig;
  g_loom_stop = 1;
}

int loom_stop_install_signals(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_stop_signal; /* no SA_RESTART: a blocked read returns EINTR and polls the flag */
  sigemptyset(&sa.sa_mask);
  return sigaction(SIGINT, &sa, NULL) == 0 && sigaction(SIGTERM, &sa, NULL) == 0 ? 0 : -1;
}

static const char *file_kind(mode_t m) {
  if (S_ISDIR(m)) return "a directory";
  if (S_ISFIFO(m)) return "a FIFO (named pipe)";
  if (S_ISCHR(m)) return "a character device";
  if (S_ISBLK(m)) return "a block device";
  if (S_ISSOCK(m)) return "a socket";
  return "not a regular file";
}

int loom_file_open_regular(const char *path, uint64_t max_bytes, const char *what, const char *cap_key,
                           uint64_t *size, loom_error *err) {
  /* O_NONBLOCK: opening a FIFO without a writer would block forever; O_NOCTTY: a tty path must not
   * become our controlling terminal. Both only matter until fstat has refused such files. */
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) return -2;
  struct stat st;
  if (fstat(fd, &st) < 0) {
    int e = errno;
    close(fd);
    errno = e;
    return -2;
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    loom_errorf(err, "%s: the %s file is %s, not a regular file — give the path of a regular file", path, what,
                file_kind(st.st_mode));
    return -1;
  }
  if (max_bytes && (uint64_t)st.st_size > max_bytes) {
    close(fd);
    loom_errorf(err, "%s: the %s file is %llu bytes, over the cap of %llu bytes — check that this is the right file%s%s",
                path, what, (unsigned long long)st.st_size, (unsigned long long)max_bytes,
                cap_key ? ", or raise " : "", cap_key ? cap_key : "");
    return -1;
  }
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
    int e = errno;
    close(fd);
    errno = e;
    return -2;
  }
  if (size) *size = (uint64_t)st.st_size;
  return fd;
}

int loom_file_read_all(const char *path, uint64_t max_bytes, const char *what, const char *cap_key, void **data,
                       size_t *n, loom_error *err) {
  *data = NULL;
  *n = 0;
  uint64_t size = 0;
  int fd = loom_file_open_regular(path, max_bytes, what, cap_key, &size, err);
  if (fd == -2) return loom_errorf(err, "%s: cannot open the %s file (%s)", path, what, strerror(errno));
  if (fd < 0) return -1;
  return loom_file_read_fd(fd, size, path, what, data, n, err);
}

int loom_file_read_fd(int fd, uint64_t size, const char *path, const char *what, void **data, size_t *n, loom_error *err) {
  *data = NULL;
  *n = 0;
  /* exactly st_size bytes (+1 to notice growth): a file that changes while read is not half-read */
  unsigned char *buf = loom_malloc((size_t)size + 1);
  if (!buf) {
    close(fd);
    return loom_errorf(err, "%s: out of memory reading %llu bytes", path, (unsigned long long)size);
  }
  size_t got = 0, next_poll = LOOM_FILE_POLL_BYTES; /* a small file is read whole, a stop or not */
  int rc = 0;
  while (got < (size_t)size + 1) {
    size_t want = (size_t)size + 1 - got;
    if (want > LOOM_FILE_POLL_BYTES) want = LOOM_FILE_POLL_BYTES;
    ssize_t k = read(fd, buf + got, want);
    if (k < 0 && errno == EINTR && !loom_stop_requested()) continue;
    if (k < 0 && errno == EINTR) { rc = loom_file_interrupted(path, err); break; }
    if (k < 0) { rc = loom_errorf(err, "%s: read error (%s) — check the file", path, strerror(errno)); break; }
    if (k == 0) break;
    got += (size_t)k;
    if (got >= next_poll) {
      next_poll += LOOM_FILE_POLL_BYTES;
      if (loom_stop_requested()) { rc = loom_file_interrupted(path, err); break; }
    }
  }
  close(fd);
  if (rc == 0 && got != (size_t)size)
    rc = loom_errorf(err, "%s: the %s file changed size while being read (%llu bytes, then %zu%s) — read it again when it is complete",
                     path, what, (unsigned long long)size, got, got > (size_t)size ? " or more" : "");
  if (rc < 0) {
    loom_free(buf);
    return -1;
  }
  *data = buf;
  *n = got;
  return 0;
}

int loom_file_interrupted(const char *path, loom_error *err) {
  return loom_errorf(err, "%s: interrupted (SIGINT or SIGTERM) while reading it", path);
}

int loom_mkdir_p(const char *path, loom_error *err) {
  char buf[4096];
  size_t n = strlen(path);
  if (n == 0 || n >= sizeof buf) return loom_errorf(err, "'%.200s': not a usable directory path", path);
  memcpy(buf, path, n + 1);
  for (size_t i = 1; i <= n; i++) {
    if (buf[i] != '/' && buf[i] != '\0') continue;
    char c = buf[i];
    buf[i] = '\0';
    if (mkdir(buf, 0777) != 0 && errno != EEXIST)
      return loom_errorf(err, "%s: cannot create the directory: %s", buf, strerror(errno));
    buf[i] = c;
  }
  struct stat st;
  if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
    return loom_errorf(err, "%s: exists and is not a directory", path);
  return 0;
}
