/* result.c — result.json: what a finished (or interrupted) invocation of the loop ends with, for
 * scripts and loom-compare: the task, the monitor's best value and step with every validation metric
 * at that step (from metrics.csv's row), the last validation's metrics, the config's SHA-256, steps, epochs, wall and CPU time.
 * Written atomically next to metrics.csv; a run resumed and finished again writes it anew. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <cjson/cJSON.h>

#include "loom/alloc.h"
#include "loom/atomic.h"
#include "loom/cpu.h"
#include "loom/runtime.h"
#include "loom/sha256.h"
#include "train_internal.h"

/* Seconds of CPU this process has used (user + system, every thread). */
static double cpu_seconds(void) {
  struct rusage u;
  if (getrusage(RUSAGE_SELF, &u) != 0) return NAN;
  return (double)u.ru_utime.tv_sec + 1e-6 * (double)u.ru_utime.tv_usec + (double)u.ru_stime.tv_sec +
         1e-6 * (double)u.ru_stime.tv_usec;
}

/* A metric value, or null when it is undefined (JSON has no NaN). */
static void add_metric(cJSON *o, const char *name, double v) {
  if (isfinite(v)) cJSON_AddNumberToObject(o, name, v);
  else cJSON_AddNullToObject(o, name);
}

/* Field `col` (0-based) of the CSV line at `line`, as a number; NaN when empty. */
static double field(const char *line, int col) {
  for (int c = 0; c < col; c++) {
    line += strcspn(line, ",\n");
    if (*line != ',') return NAN;
    line++;
  }
  if (*line == ',' || *line == '\n' || !*line) return NAN;
  char *end;
  double v = strtod(line, &end);
  return end == line ? NAN : v;
}

/* The metrics.csv row of validation step `step` (r->hist; restored on resume), or NULL. */
static const char *row_at(const run *r, long step) {
  const char *p = strchr(r->hist, '\n'); /* past the header */
  const char *found = NULL;
  for (; p && p[1]; p = strchr(p + 1, '\n'))
    if (strtol(p + 1, NULL, 10) == step) found = p + 1;
  return found;
}

/* A metrics.csv row as an object keyed by the file's header (step, epoch, loss, val_loss, every
 * metric, lr, samples_per_s), null where a field is empty (undefined at that validation). */
static cJSON *row_object(const run *r, const char *row) {
  cJSON *o = cJSON_CreateObject();
  const char *h = r->hist;
  for (int c = 0; o && *h && *h != '\n'; c++) {
    const size_t len = strcspn(h, ",\n");
    char name[64];
    snprintf(name, sizeof name, "%.*s", (int)(len < sizeof name - 1 ? len : sizeof name - 1), h);
    add_metric(o, name, field(row, c));
    h += len + (h[len] == ',');
  }
  return o;
}

int train_write_result(const run *r, double wall, bool early_stopped, bool interrupted, loom_error *err) {
  char config_sha[65];
  loom_sha256_hex(r->config_text, strlen(r->config_text), config_sha);
  cJSON *j = cJSON_CreateObject();
  if (!j) return loom_errorf(err, "out of memory writing result.json");
  cJSON_AddStringToObject(j, "loom", loom_version());
  cJSON_AddStringToObject(j, "task", loom_task_name(r->m->task));
  cJSON_AddStringToObject(j, "config_sha256", config_sha);
  cJSON_AddStringToObject(j, "status", interrupted ? "interrupted" : early_stopped ? "early_stopped" : "finished");
  cJSON_AddNumberToObject(j, "steps", (double)r->step);
  cJSON_AddNumberToObject(j, "epochs", (double)r->epoch);
  cJSON_AddNumberToObject(j, "skipped_batches", (double)r->skipped);
  cJSON_AddStringToObject(j, "monitor", r->monitor_name);
  const char *best = r->best_step > 0 ? row_at(r, r->best_step) : NULL, *last = row_at(r, r->last_eval_step);
  cJSON_AddItemToObject(j, "best", best ? row_object(r, best) : cJSON_CreateNull());
  cJSON_AddItemToObject(j, "last", last ? row_object(r, last) : cJSON_CreateNull());
  if (r->have_test) {
    cJSON *t = cJSON_AddObjectToObject(j, "test");
    if (t) {
      cJSON_AddNumberToObject(t, "step", (double)r->test_step);
      cJSON_AddNumberToObject(t, "rows", (double)r->test_rows);
      add_metric(t, "loss", r->test_loss);
      for (int i = 0; i < r->ev->n_metrics; i++) add_metric(t, r->ev->names[i], r->test_val[i]);
    }
  }
  cJSON_AddNumberToObject(j, "wall_s", wall);
  add_metric(j, "cpu_s", cpu_seconds());
  cJSON_AddNumberToObject(j, "samples_per_s", wall > 0 ? (double)r->samples_total / wall : 0.0);
  cJSON_AddNumberToObject(j, "threads", loom_num_threads());
  cJSON_AddStringToObject(j, "isa", loom_isa_name(loom_runtime_isa()));
  cJSON_AddStringToObject(j, "blas_core", loom_blas_core_name());
  char *text = cJSON_Print(j);
  cJSON_Delete(j);
  if (!text) return loom_errorf(err, "out of memory writing result.json");
  char path[1100];
  train_path_in(path, sizeof path, r, "result.json");
  size_t n = strlen(text);
  char *file = loom_malloc(n + 2);
  if (!file) {
    cJSON_free(text);
    return loom_errorf(err, "out of memory writing result.json");
  }
  memcpy(file, text, n);
  file[n] = '\n';
  int rc = loom_write_file_atomic(path, file, n + 1, err);
  loom_free(file);
  cJSON_free(text);
  return rc;
}
