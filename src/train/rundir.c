/* rundir.c — the run directory: taking train.out for one process (created or marked as a run, .loom.lock
 * held with flock), refusing a directory of the user's own files, removing the temporary files of killed
 * writers, and giving the directory back (removed again when a failed run created it). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loom/atomic.h"
#include "loom/file.h"
#include "train_internal.h"

/* A process killed while writing a file of the run (SIGKILL, power loss) leaves NAME.tmp.PID behind:
 * the atomic writers' temporary files. Removes those of processes that no longer exist; returns how
 * many. (A live process with that PID keeps its file: it may be another run writing here.) */
int train_remove_stale_temps(const run *r) {
  static const char *const names[] = {"last.safetensors", "best.safetensors", "metrics.csv", "report.html",
                                      "config.ini", "result.json"};
  DIR *d = opendir(r->dir);
  if (!d) return 0;
  int removed = 0;
  for (struct dirent *e; (e = readdir(d));) {
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
      size_t n = strlen(names[i]);
      if (strncmp(e->d_name, names[i], n) != 0 || strncmp(e->d_name + n, ".tmp.", 5) != 0) continue;
      const char *digits = e->d_name + n + 5;
      char *end;
      long pid = strtol(digits, &end, 10);
      if (end == digits || *end || pid <= 0 || pid == (long)getpid()) continue;
      if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;
      char path[1400];
      snprintf(path, sizeof path, "%s/%s", r->dir, e->d_name);
      removed += unlink(path) == 0;
    }
  }
  closedir(d);
  return removed;
}

/* ---------------------------------------------------------------- the run directory */

#define RUN_STAMP ".loom-run" /* marks a directory loom-train created (or resumed) as a run */
#define RUN_LOCK ".loom.lock" /* flock'ed by the trainer using the directory; holds its PID */

/* Files of a run that a new run writes over. */
static const char *const run_files[] = {"config.ini", "log.txt", "metrics.csv", "best.safetensors", "report.html",
                                       "result.json"};

static bool exists_in(const run *r, const char *name) {
  char path[1100];
  train_path_in(path, sizeof path, r, name);
  return access(path, F_OK) == 0;
}

static int claim_dir(run *r, bool resume, loom_error *err);

/* <train.out>-latest: a symlink to the newest of the run's versions (replaced atomically). */
static int point_latest(const char *base, const char *dir, loom_error *err) {
  char link[1100], tmp[1200];
  snprintf(link, sizeof link, "%s-latest", base);
  snprintf(tmp, sizeof tmp, "%s.tmp.%ld", link, (long)getpid());
  const char *slash = strrchr(dir, '/');
  const char *target = slash ? slash + 1 : dir; /* a sibling: relative, so the runs folder can move */
  struct stat st;
  if (lstat(link, &st) == 0 && !S_ISLNK(st.st_mode))
    return loom_errorf(err, "%s exists and is not a link loom-train made — move it away (loom-train points it at the "
                            "newest run of train.out = %s)", link, base);
  unlink(tmp);
  if (symlink(target, tmp) != 0 || rename(tmp, link) != 0) {
    const int e = errno;
    unlink(tmp);
    return loom_errorf(err, "%s: cannot point it at %s: %s", link, target, strerror(e));
  }
  return 0;
}

/* train.out holds a finished or interrupted run and this is a new one: it takes the first of
 * train.out-2, -3, ... that holds no run (a missing or empty directory, or one a refused run left),
 * says so, and points train.out-latest at it. The old run is untouched (--resume continues it). */
static int claim_next_version(run *r, loom_error *err) {
  char base[1024];
  snprintf(base, sizeof base, "%s", r->dir);
  for (size_t n = strlen(base); n > 1 && base[n - 1] == '/';) base[--n] = '\0';
  for (int v = 2; v < 10000; v++) {
    char dir[sizeof r->dir];
    if ((size_t)snprintf(dir, sizeof dir, "%s-%d", base, v) >= sizeof dir)
      return loom_errorf(err, "train.out = %s: the path is too long for a numbered run directory", base);
    char probe[1200];
    snprintf(probe, sizeof probe, "%s/last.safetensors", dir);
    if (access(probe, F_OK) == 0) continue; /* that version holds a run too */
    snprintf(r->dir, sizeof r->dir, "%s", dir);
    r->created_dir = false;
    if (claim_dir(r, false, err) < 0) return -1;
    if (point_latest(base, r->dir, err) < 0) return -1;
    snprintf(r->versioned_from, sizeof r->versioned_from, "%s", base);
    return 0;
  }
  return loom_errorf(err, "train.out = %s: 9998 numbered runs beside it already — set train.out to a new directory",
                     base);
}

int train_claim_dir(run *r, bool resume, loom_error *err) { return claim_dir(r, resume, err); }

/* Takes train.out for this process: creates it if missing; locks .loom.lock (non-blocking flock, held
 * until run_free; a second trainer, or a second --resume, fails at once naming the holder's PID);
 * a new run over a run's checkpoint goes to the next free train.out-N instead (claim_next_version); a
 * directory holding files a run writes (config.ini, metrics.csv, ...) that no run put there (no
 * .loom-run mark) is refused: nothing of the user's is written over. Then marks the directory as a run. */
static int claim_dir(run *r, bool resume, loom_error *err) {
  struct stat st;
  if (stat(r->dir, &st) != 0) {
    if (loom_mkdir_p(r->dir, err) < 0) return loom_error_wrap(err, "train.out");
    r->created_dir = true;
  } else if (!S_ISDIR(st.st_mode)) {
    return loom_errorf(err, "train.out = %s is not a directory — set train.out to a new directory", r->dir);
  }
  char path[1100];
  train_path_in(path, sizeof path, r, RUN_LOCK);
  r->created_lock = access(path, F_OK) != 0;
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return loom_errorf(err, "%s: cannot create the run's lock file: %s", path, strerror(errno));
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int e = errno;
    char buf[32] = "";
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    close(fd);
    long pid = n > 0 ? strtol(buf, NULL, 10) : 0;
    char who[48] = "PID unknown";
    if (pid > 0) snprintf(who, sizeof who, "PID %ld", pid);
    if (e != EWOULDBLOCK) return loom_errorf(err, "%s: cannot lock the run directory: %s", path, strerror(e));
    return loom_errorf(err, "%s is in use by another loom-train (%s) — wait for it to finish, or set train.out to "
                            "another directory", r->dir, who);
  }
  r->lock_fd = fd;
  char pid[32];
  int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
  if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n)
    return loom_errorf(err, "%s: cannot write the lock file: %s", path, strerror(errno));
  if (!resume) {
    if (exists_in(r, "last.safetensors")) { /* a new run beside the old one: train.out-2, -3, ... */
      close(fd);
      r->lock_fd = -1;
      return claim_next_version(r, err);
    }
    if (!exists_in(r, RUN_STAMP)) {
      char found[256] = "";
      for (size_t i = 0; i < sizeof run_files / sizeof *run_files; i++)
        if (exists_in(r, run_files[i]))
          snprintf(found + strlen(found), sizeof found - strlen(found), "%s%s", found[0] ? ", " : "", run_files[i]);
      if (found[0])
        return loom_errorf(err, "%s holds %s but is not a loom-train run directory (no %s) — a run would write over "
                                "them; set train.out to a new or empty directory", r->dir, found, RUN_STAMP);
    }
  }
  train_path_in(path, sizeof path, r, RUN_STAMP);
  static const char stamp[] = "loom-train run directory: loom-train may write over config.ini, log.txt, metrics.csv,\n"
                              "last.safetensors, best.safetensors, report.html and result.json here.\n";
  if (!exists_in(r, RUN_STAMP) && loom_write_file_atomic(path, stamp, sizeof stamp - 1, err) < 0) return -1;
  return 0;
}

/* After a failed setup: a directory this process created and that holds nothing but its own marks is
 * removed again, so a config error leaves no trace. */
void train_release_dir(run *r, bool failed) {
  if (r->lock_fd >= 0) close(r->lock_fd);
  r->lock_fd = -1;
  char path[1100];
  if (failed && !r->created_dir && r->created_lock && !exists_in(r, RUN_STAMP)) { /* refused: leave no mark */
    train_path_in(path, sizeof path, r, RUN_LOCK);
    unlink(path);
  }
  if (!failed || !r->created_dir) return;
  DIR *d = opendir(r->dir);
  if (!d) return;
  bool only_ours = true;
  for (struct dirent *e; only_ours && (e = readdir(d));)
    only_ours = !strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") || !strcmp(e->d_name, RUN_STAMP) ||
                !strcmp(e->d_name, RUN_LOCK);
  closedir(d);
  if (!only_ours) return;
  train_path_in(path, sizeof path, r, RUN_STAMP);
  unlink(path);
  train_path_in(path, sizeof path, r, RUN_LOCK);
  unlink(path);
  rmdir(r->dir);
}
