/* sweep.c — loom_train_sweep (loom/trainer.h): a grid of runs over config values, each an ordinary
 * loom_train run in a directory of its own under train.out, then one loom-compare page over them. The
 * grid is checked whole before anything trains: a key given twice, an empty value, train.out or a value
 * that no config accepts is an error naming the --sweep argument. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "loom/alloc.h"
#include "loom/checkpoint.h"
#include "loom/config.h"
#include "loom/data.h"
#include "loom/report.h"
#include "loom/train_spec.h"
#include "loom/trainer.h"

#define MAX_SWEEP_KEYS 8
#define MAX_VARIANTS 1024

typedef struct {
  char key[128];     /* "section.key" */
  char *values;      /* the values, NUL-separated (a copy of the argument's value list) */
  const char *v[64]; /* into values */
  int n;
} axis;

static int parse_axis(const char *arg, axis *a, loom_error *err) {
  const char *eq = strchr(arg, '=');
  const char *dot = eq ? memchr(arg, '.', (size_t)(eq - arg)) : NULL;
  if (!eq || !dot || dot == arg || dot + 1 == eq || (size_t)(eq - arg) >= sizeof a->key)
    return loom_errorf(err, "--sweep %s: expected section.key=value1,value2,...", arg);
  snprintf(a->key, sizeof a->key, "%.*s", (int)(eq - arg), arg);
  if (!strcmp(a->key, "train.out"))
    return loom_errorf(err, "--sweep %s: train.out is where the sweep puts its runs; it cannot be swept", arg);
  if (!(a->values = loom_strdup(eq + 1))) return loom_errorf(err, "out of memory");
  for (char *p = a->values;;) {
    char *comma = strchr(p, ',');
    if (comma) *comma = '\0';
    if (!*p) return loom_errorf(err, "--sweep %s: empty value (two commas, or one at an end)", arg);
    if (a->n == (int)(sizeof a->v / sizeof *a->v))
      return loom_errorf(err, "--sweep %s: more than %d values", arg, (int)(sizeof a->v / sizeof *a->v));
    a->v[a->n++] = p;
    if (!comma) break;
    p = comma + 1;
  }
  return 0;
}

/* "section.key=value" (loom_free it), or NULL when out of memory. */
static char *set_arg(const char *key, const char *value) {
  const size_t n = strlen(key) + strlen(value) + 2;
  char *s = loom_malloc(n);
  if (s) snprintf(s, n, "%s=%s", key, value);
  return s;
}

/* The label of a combination ("hidden=64,lr=0.01": keys without their section); false when it does not
 * fit a directory name. */
static bool label_of(const axis *ax, int n_ax, const int *pick, char *out, size_t size) {
  size_t k = 0;
  out[0] = '\0';
  for (int i = 0; i < n_ax; i++) {
    const char *key = strchr(ax[i].key, '.') + 1;
    k += (size_t)snprintf(out + k, k < size ? size - k : 0, "%s%s=", i ? "," : "", key);
    for (const char *c = ax[i].v[pick[i]]; *c && k + 1 < size; c++) out[k++] = *c == '/' ? '_' : *c;
    if (k < size) out[k] = '\0';
  }
  return k < size && k <= 255;
}

/* The config of one variant (file + overrides + its values) is loaded to check it; returns train.out. */
static int variant_config(const loom_train_opts *o, const axis *ax, int n_ax, const int *pick, char *out_dir,
                          size_t size, loom_error *err) {
  loom_data_section dsec;
  loom_config *cfg = loom_train_config_new(&dsec);
  int rc = cfg ? loom_config_load(cfg, o->config_path, err) : loom_errorf(err, "out of memory");
  for (int i = 0; rc == 0 && i < o->n_sets; i++) rc = loom_config_set_arg(cfg, o->sets[i], err);
  for (int i = 0; rc == 0 && i < n_ax; i++) {
    char *arg = set_arg(ax[i].key, ax[i].v[pick[i]]);
    if (!arg) rc = loom_errorf(err, "out of memory");
    else if (loom_config_set_arg(cfg, arg, err) < 0) rc = loom_error_wrap(err, "--sweep %s", arg);
    loom_free(arg);
  }
  if (rc == 0) {
    loom_train_spec ts;
    loom_train_spec_read(cfg, &ts);
    snprintf(out_dir, size, "%s", ts.out);
  }
  loom_config_free(cfg);
  return rc;
}

/* compare.html in the sweep's directory is ours to replace only if a sweep wrote it. */
static int check_compare_page(const char *path, loom_error *err) {
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  char head[256] = "";
  size_t n = fread(head, 1, sizeof head - 1, f);
  fclose(f);
  head[n] = '\0';
  if (!strstr(head, "<title>loom-compare</title>"))
    return loom_errorf(err, "%s exists and was not written by loom-compare — a sweep would write over it; set "
                            "train.out to another directory", path);
  return 0;
}

int loom_train_sweep(const loom_train_opts *o, const char *const *sweeps, int n_sweeps, loom_sweep_done_fn done,
                     void *ctx, loom_error *err) {
  if (o->resume_dir) return loom_errorf(err, "--sweep starts new runs; it cannot be combined with --resume");
  if (n_sweeps < 1 || n_sweeps > MAX_SWEEP_KEYS)
    return loom_errorf(err, "--sweep: give 1 to %d keys (got %d)", MAX_SWEEP_KEYS, n_sweeps);
  axis ax[MAX_SWEEP_KEYS];
  memset(ax, 0, sizeof ax);
  int rc = 0, total = 1;
  for (int i = 0; rc == 0 && i < n_sweeps; i++) {
    rc = parse_axis(sweeps[i], &ax[i], err);
    for (int k = 0; rc == 0 && k < i; k++)
      if (!strcmp(ax[k].key, ax[i].key)) rc = loom_errorf(err, "--sweep: %s is swept twice", ax[i].key);
    if (rc == 0 && (total *= ax[i].n) > MAX_VARIANTS)
      rc = loom_errorf(err, "--sweep: more than %d combinations", MAX_VARIANTS);
  }
  char base[1024] = "", dir[2048], page[1100];
  int pick[MAX_SWEEP_KEYS] = {0};
  /* Every combination's config and directory name are checked before the first one trains. */
  for (int v = 0; rc == 0 && v < total; v++) {
    for (int i = n_sweeps - 1, r = v; i >= 0; r /= ax[i].n, i--) pick[i] = r % ax[i].n;
    char label[1024];
    if (!label_of(ax, n_sweeps, pick, label, sizeof label))
      rc = loom_errorf(err, "--sweep: the run directory name of a combination (%.60s...) is longer than 255 bytes — "
                            "sweep fewer or shorter values", label);
    else rc = variant_config(o, ax, n_sweeps, pick, base, sizeof base, err);
  }
  if (rc == 0) {
    snprintf(page, sizeof page, "%s/compare.html", base);
    rc = check_compare_page(page, err);
  }
  char **dirs = rc == 0 ? loom_calloc((size_t)total, sizeof *dirs) : NULL;
  if (rc == 0 && !dirs) rc = loom_errorf(err, "out of memory");
  int trained = 0, failed = 0;
  for (int v = 0; rc == 0 && v < total && !(o->stop && *o->stop); v++) {
    for (int i = n_sweeps - 1, r = v; i >= 0; r /= ax[i].n, i--) pick[i] = r % ax[i].n;
    char label[1024];
    label_of(ax, n_sweeps, pick, label, sizeof label); /* fits: checked above */
    snprintf(dir, sizeof dir, "%s/%s", base, label);
    /* the variant's overrides: the user's, then its values, then its directory */
    const int n_sets = o->n_sets + n_sweeps + 1;
    char **args = loom_calloc((size_t)n_sets, sizeof *args);
    if (!args) {
      rc = loom_errorf(err, "out of memory");
      break;
    }
    int ok = 1;
    for (int i = 0; i < o->n_sets; i++) ok &= (args[i] = loom_strdup(o->sets[i])) != NULL;
    for (int i = 0; i < n_sweeps; i++) ok &= (args[o->n_sets + i] = set_arg(ax[i].key, ax[i].v[pick[i]])) != NULL;
    ok &= (args[n_sets - 1] = set_arg("train.out", dir)) != NULL;
    loom_train_opts vo = *o;
    vo.sets = (const char *const *)args, vo.n_sets = n_sets;
    loom_train_result vr;
    loom_error verr = {""};
    const int vrc = ok ? loom_train(&vo, &vr, &verr) : loom_errorf(&verr, "out of memory");
    for (int i = 0; i < n_sets; i++) loom_free(args[i]);
    loom_free(args);
    if (done) done(ctx, v, total, label, vrc, &vr, &verr);
    if (vrc == 0) {
      if (!(dirs[trained++] = loom_strdup(dir))) rc = loom_errorf(err, "out of memory");
    } else if (failed++ == 0) {
      loom_errorf(err, "sweep variant %s: %s", label, verr.msg);
    }
  }
  if (rc == 0 && trained > 0 && loom_report_compare((const char *const *)dirs, trained, page, err) < 0) rc = -1;
  if (rc == 0 && failed) rc = -1; /* err holds the first failure */
  for (int i = 0; dirs && i < trained; i++) loom_free(dirs[i]);
  loom_free(dirs);
  for (int i = 0; i < n_sweeps; i++) loom_free(ax[i].values);
  return rc;
}
