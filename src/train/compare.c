/* compare.c — loom-compare's page (loom_report_compare in loom/report.h): runs side by side. Each run
 * directory gives its metrics.csv (the curves), its config.ini (the resolved config: the keys whose
 * values differ are what the runs vary) and, once the run has ended, its result.json (best and last
 * metrics). The page is an ordinary loom report: tables, then one chart per metrics.csv column whose
 * lines are the runs. */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "loom/alloc.h"
#include "loom/file.h"
#include "loom/report.h"

#define MAX_RUN_FILE ((uint64_t)256 << 20)

typedef struct {
  const char *dir;
  char name[256];
  char *metrics, *config, *result; /* file texts, NUL-terminated; result may be NULL */
  cJSON *json;                     /* parsed result.json, or NULL */
} run_files;

/* dir/name into *text (NUL-terminated). A missing optional file leaves *text NULL. */
static int read_text(const char *dir, const char *name, bool required, char **text, loom_error *err) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  *text = NULL;
  struct stat st;
  if (stat(path, &st) != 0 && errno == ENOENT && !required) return 0;
  void *data;
  size_t n;
  if (loom_file_read_all(path, MAX_RUN_FILE, name, NULL, &data, &n, err) < 0) {
    if (required && stat(path, &st) != 0)
      return loom_errorf(err, "%s: no %s — is %s a loom-train run directory (train.out)?", path, name, dir);
    return -1;
  }
  char *s = loom_realloc(data, n + 1);
  if (!s) {
    loom_free(data);
    return loom_errorf(err, "out of memory reading %s", path);
  }
  s[n] = '\0';
  *text = s;
  return 0;
}

/* ---------------------------------------------------------------- metrics.csv */

/* The n-th comma-separated field of a line into out ("" past the end). */
static void csv_field(const char *line, int n, char *out, size_t size) {
  for (int i = 0; i < n; i++) {
    line += strcspn(line, ",\n");
    if (*line != ',') {
      out[0] = '\0';
      return;
    }
    line++;
  }
  const size_t len = strcspn(line, ",\n");
  snprintf(out, size, "%.*s", (int)(len < size - 1 ? len : size - 1), line);
}

static int csv_fields(const char *line) {
  int n = 1;
  for (; *line && *line != '\n'; line++) n += *line == ',';
  return n;
}

/* metrics.csv's columns (past step and epoch) as curves "<column>/<run>"; checks the header. */
static int add_curves(loom_report *rep, const run_files *r, loom_error *err) {
  const char *header = r->metrics;
  char a[64], b[64];
  csv_field(header, 0, a, sizeof a);
  csv_field(header, 1, b, sizeof b);
  if (strcmp(a, "step") != 0 || strcmp(b, "epoch") != 0)
    return loom_errorf(err, "%s/metrics.csv line 1: expected a header starting step,epoch — not a loom-train metrics "
                            "file", r->dir);
  const int cols = csv_fields(header);
  int line_no = 1;
  for (const char *line = strchr(header, '\n'); line && line[1]; line = strchr(line + 1, '\n')) {
    line_no++;
    const char *row = line + 1;
    if (csv_fields(row) != cols)
      return loom_errorf(err, "%s/metrics.csv line %d: %d fields, the header has %d — the file is damaged", r->dir,
                         line_no, csv_fields(row), cols);
    char f[64], *end;
    csv_field(row, 0, f, sizeof f);
    const double step = strtod(f, &end);
    if (end == f || *end) return loom_errorf(err, "%s/metrics.csv line %d: step '%s' is not a number", r->dir, line_no, f);
    for (int c = 2; c < cols; c++) {
      char name[64], series[512];
      csv_field(header, c, name, sizeof name);
      csv_field(row, c, f, sizeof f);
      if (!f[0]) continue; /* undefined at that validation */
      const double v = strtod(f, &end);
      if (end == f || *end)
        return loom_errorf(err, "%s/metrics.csv line %d, column %s: '%s' is not a number", r->dir, line_no, name, f);
      snprintf(series, sizeof series, "%s/%s", name, r->name);
      if (loom_report_point(rep, series, step, v) < 0) return loom_errorf(err, "out of memory");
    }
  }
  return 0;
}

/* ---------------------------------------------------------------- config.ini */

/* A resolved config.ini as "section.key" = value pairs (loom-train writes one key per line). */
typedef struct {
  char **keys, **vals;
  int n, cap;
} entries;

static void entries_free(entries *e) {
  for (int i = 0; i < e->n; i++) loom_free(e->keys[i]), loom_free(e->vals[i]);
  loom_free(e->keys), loom_free(e->vals);
}

static int entries_add(entries *e, const char *key, const char *val) {
  if (e->n == e->cap) {
    const int c = e->cap ? e->cap * 2 : 64;
    char **k = loom_realloc(e->keys, sizeof *k * (size_t)c);
    if (!k) return -1;
    e->keys = k;
    char **v = loom_realloc(e->vals, sizeof *v * (size_t)c);
    if (!v) return -1;
    e->vals = v, e->cap = c;
  }
  e->keys[e->n] = loom_strdup(key);
  e->vals[e->n] = loom_strdup(val);
  if (!e->keys[e->n] || !e->vals[e->n]) {
    loom_free(e->keys[e->n]), loom_free(e->vals[e->n]);
    return -1;
  }
  e->n++;
  return 0;
}

static int parse_config(const char *text, entries *e) {
  char section[128] = "";
  for (const char *line = text; *line; line += strcspn(line, "\n") + (line[strcspn(line, "\n")] == '\n')) {
    const size_t len = strcspn(line, "\n");
    if (line[0] == '[') {
      const size_t close = strcspn(line, "]\n");
      snprintf(section, sizeof section, "%.*s", (int)(close > 1 ? close - 1 : 0), line + 1);
      continue;
    }
    const char *eq = memchr(line, '=', len);
    if (!eq || line[0] == '#' || line[0] == ';') continue;
    const char *k_end = eq, *v = eq + 1;
    while (k_end > line && k_end[-1] == ' ') k_end--;
    while (*v == ' ') v++;
    char key[256], val[1024];
    snprintf(key, sizeof key, "%s.%.*s", section, (int)(k_end - line), line);
    snprintf(val, sizeof val, "%.*s", (int)(line + len - v), v);
    if (entries_add(e, key, val) < 0) return -1;
  }
  return 0;
}

static const char *lookup(const entries *e, const char *key) {
  for (int i = 0; i < e->n; i++)
    if (strcmp(e->keys[i], key) == 0) return e->vals[i];
  return NULL;
}

/* ---------------------------------------------------------------- tables */

static void fmt_number(const cJSON *v, char *out, size_t size) {
  if (cJSON_IsNumber(v)) snprintf(out, size, "%.4f", v->valuedouble);
  else if (cJSON_IsString(v)) snprintf(out, size, "%s", v->valuestring);
  else snprintf(out, size, "—");
}

/* One row per run: status, steps, monitor, best (value @ step), the last validation's metrics, wall. */
static int results_table(loom_report *rep, const run_files *runs, int n, loom_error *err) {
  /* the metric columns: metrics.csv headers past step, epoch, in the first run's order, then others' */
  char *names[64];
  int n_names = 0;
  for (int i = 0; i < n; i++) {
    const int cols = csv_fields(runs[i].metrics);
    for (int c = 2; c < cols && n_names < 64; c++) {
      char name[64];
      csv_field(runs[i].metrics, c, name, sizeof name);
      if (!strcmp(name, "lr") || !strcmp(name, "samples_per_s")) continue;
      bool seen = false;
      for (int k = 0; k < n_names && !seen; k++) seen = strcmp(names[k], name) == 0;
      if (!seen && !(names[n_names++] = loom_strdup(name))) return loom_errorf(err, "out of memory");
    }
  }
  const int fixed = 6, cols = fixed + n_names, rows = n + 1;
  char **cells = loom_calloc((size_t)rows * (size_t)cols, sizeof *cells);
  int rc = cells ? 0 : loom_errorf(err, "out of memory");
  static const char *const head[] = {"run", "status", "steps", "monitor", "best (step)", "wall s"};
  for (int c = 0; rc == 0 && c < cols; c++) {
    char h[96];
    if (c < fixed) snprintf(h, sizeof h, "%s", head[c]);
    else snprintf(h, sizeof h, "%s at best", names[c - fixed]);
    if (!(cells[c] = loom_strdup(h))) rc = loom_errorf(err, "out of memory");
  }
  for (int i = 0; rc == 0 && i < n; i++) {
    const cJSON *j = runs[i].json;
    const cJSON *best = cJSON_GetObjectItemCaseSensitive(j, "best");
    if (!cJSON_IsObject(best)) best = cJSON_GetObjectItemCaseSensitive(j, "last");
    for (int c = 0; rc == 0 && c < cols; c++) {
      char v[320] = "—", num[64];
      if (c == 0) snprintf(v, sizeof v, "%s", runs[i].name);
      else if (!j && c == 1) snprintf(v, sizeof v, "running or stopped (no result.json)");
      else if (j && c == 1) fmt_number(cJSON_GetObjectItemCaseSensitive(j, "status"), v, sizeof v);
      else if (j && c == 2) snprintf(v, sizeof v, "%.0f", cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(j, "steps")));
      else if (j && c == 3) fmt_number(cJSON_GetObjectItemCaseSensitive(j, "monitor"), v, sizeof v);
      else if (j && c == 4 && cJSON_IsObject(best)) {
        const cJSON *mon = cJSON_GetObjectItemCaseSensitive(j, "monitor");
        fmt_number(cJSON_IsString(mon) ? cJSON_GetObjectItemCaseSensitive(best, mon->valuestring) : NULL, num, sizeof num);
        snprintf(v, sizeof v, "%s (%.0f)", num, cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(best, "step")));
      } else if (j && c == 5) snprintf(v, sizeof v, "%.1f", cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(j, "wall_s")));
      else if (j && c >= fixed && cJSON_IsObject(best))
        fmt_number(cJSON_GetObjectItemCaseSensitive(best, names[c - fixed]), v, sizeof v);
      if (!(cells[(i + 1) * cols + c] = loom_strdup(v))) rc = loom_errorf(err, "out of memory");
    }
  }
  if (rc == 0 && loom_report_table(rep, "Runs", rows, cols, (const char *const *)cells) < 0)
    rc = loom_errorf(err, "out of memory");
  for (int i = 0; cells && i < rows * cols; i++) loom_free(cells[i]);
  loom_free(cells);
  for (int k = 0; k < n_names; k++) loom_free(names[k]);
  return rc;
}

/* The config keys whose values differ between runs, in the order the runs list them (a key a run
 * lacks shows as —). */
static int config_diff_table(loom_report *rep, const run_files *runs, int n, loom_error *err) {
  entries *cfg = loom_calloc((size_t)n, sizeof *cfg);
  entries diff = {0}; /* the differing keys (vals unused) */
  int rc = cfg ? 0 : -1;
  for (int i = 0; rc == 0 && i < n; i++) rc = parse_config(runs[i].config, &cfg[i]);
  for (int i = 0; rc == 0 && i < n; i++)
    for (int k = 0; rc == 0 && k < cfg[i].n; k++) {
      const char *key = cfg[i].keys[k], *first = lookup(&cfg[0], key);
      bool differs = false;
      for (int j = 1; j < n && !differs; j++) {
        const char *v = lookup(&cfg[j], key);
        differs = !v != !first || (v && strcmp(v, first) != 0);
      }
      if (!differs || lookup(&diff, key)) continue;
      rc = entries_add(&diff, key, "");
    }
  const int cols = n + 1, rows = diff.n + 1;
  const char **cells = rc == 0 ? loom_calloc((size_t)rows * (size_t)cols, sizeof *cells) : NULL;
  if (cells) {
    cells[0] = "key";
    for (int i = 0; i < n; i++) cells[1 + i] = runs[i].name;
    for (int k = 0; k < diff.n; k++) {
      cells[(k + 1) * cols] = diff.keys[k];
      for (int i = 0; i < n; i++) {
        const char *v = lookup(&cfg[i], diff.keys[k]);
        cells[(k + 1) * cols + 1 + i] = v ? v : "—";
      }
    }
    static const char *const same[] = {"key", "value", "every key", "the same in every run"};
    rc = diff.n ? loom_report_table(rep, "Config differences", rows, cols, cells)
                : loom_report_table(rep, "Config differences", 2, 2, same);
  }
  if (!cells || rc < 0) rc = loom_errorf(err, "out of memory");
  loom_free(cells);
  for (int i = 0; cfg && i < n; i++) entries_free(&cfg[i]);
  loom_free(cfg);
  entries_free(&diff);
  return rc;
}

/* ---------------------------------------------------------------- the page */

static const char *last_component(const char *dir, char *buf, size_t size) {
  snprintf(buf, size, "%s", dir);
  size_t n = strlen(buf);
  while (n > 1 && buf[n - 1] == '/') buf[--n] = '\0';
  const char *slash = strrchr(buf, '/');
  return slash && slash[1] ? slash + 1 : buf;
}

int loom_report_compare(const char *const *run_dirs, int n_runs, const char *out_path, loom_error *err) {
  if (n_runs < 1) return loom_errorf(err, "no run directories to compare");
  run_files *runs = loom_calloc((size_t)n_runs, sizeof *runs);
  loom_report *rep = loom_report_new("loom-compare");
  int rc = runs && rep ? 0 : loom_errorf(err, "out of memory");
  for (int i = 0; rc == 0 && i < n_runs; i++) {
    run_files *r = &runs[i];
    r->dir = run_dirs[i];
    char buf[256];
    snprintf(r->name, sizeof r->name, "%s", last_component(r->dir, buf, sizeof buf));
    if (read_text(r->dir, "metrics.csv", true, &r->metrics, err) < 0 ||
        read_text(r->dir, "config.ini", true, &r->config, err) < 0 ||
        read_text(r->dir, "result.json", false, &r->result, err) < 0) {
      rc = -1;
      break;
    }
    if (r->result && !cJSON_IsObject(r->json = cJSON_Parse(r->result)))
      rc = loom_errorf(err, "%s/result.json: not a JSON object — the file is damaged; re-run or remove it", r->dir);
  }
  for (int i = 0; rc == 0 && i < n_runs; i++) { /* a shared last component: the whole path names the run */
    char a[256], b[256];
    for (int k = 0; k < n_runs; k++)
      if (k != i && strcmp(last_component(runs[i].dir, a, sizeof a), last_component(runs[k].dir, b, sizeof b)) == 0) {
        snprintf(runs[i].name, sizeof runs[i].name, "%s", runs[i].dir);
        break;
      }
  }
  if (rc == 0) rc = results_table(rep, runs, n_runs, err);
  if (rc == 0) rc = config_diff_table(rep, runs, n_runs, err);
  for (int i = 0; rc == 0 && i < n_runs; i++) rc = add_curves(rep, &runs[i], err);
  if (rc == 0) rc = loom_report_write_html(rep, out_path, err);
  for (int i = 0; runs && i < n_runs; i++) {
    loom_free(runs[i].metrics), loom_free(runs[i].config), loom_free(runs[i].result);
    cJSON_Delete(runs[i].json);
  }
  loom_free(runs);
  loom_report_free(rep);
  return rc;
}
