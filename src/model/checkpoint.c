/* checkpoint.c — reading a loom-train checkpoint back: the run's config (key tables + [data] as an owned
 * section), the task's label rule, and the checks every reader makes (format, required metadata, finite
 * tensors, tensors of the model, run-state comparison). Shared by training's resume and inference. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loom/checkpoint.h"
#include "loom/graph.h"
#include "loom/model.h"
#include "loom/model_spec.h"
#include "loom/safetensors.h"
#include "loom/train_spec.h"

/* ---------------------------------------------------------------- the run's config */

static int data_set(void *ctx, const char *key, const char *value, loom_error *err) {
  loom_data_section *d = ctx;
  char abs[LOOM_DATA_PATH];
  const char *v = value;
  if (loom_data_key_is_path(key) && value[0] && value[0] != '/') {
    char cwd[LOOM_DATA_PATH / 2];
    if (!getcwd(cwd, sizeof cwd)) return loom_errorf(err, "%s: cannot resolve the relative path '%s'", key, value);
    if ((size_t)snprintf(abs, sizeof abs, "%s/%s", cwd, value) >= sizeof abs)
      return loom_errorf(err, "%s: path too long", key);
    v = abs;
  }
  if (loom_data_schema_set(&d->schema, key, v, err) < 0) return -1;
  int i = 0;
  while (i < d->n && strcmp(d->key[i], key) != 0) i++;
  if (i == d->n) {
    if (d->n == LOOM_DATA_SECTION_MAX) return loom_errorf(err, "too many [data] keys");
    d->n++;
  }
  snprintf(d->key[i], sizeof d->key[i], "%s", key);
  snprintf(d->value[i], sizeof d->value[i], "%s", v);
  return 0;
}

static size_t data_dump(void *ctx, char *buf, size_t cap) {
  loom_data_section *d = ctx;
  size_t n = 0;
  for (int i = 0; i < d->n; i++) {
    char q[2 * LOOM_DATA_PATH + 3]; /* quoted so that a path with a trailing space or a ';' reads back */
    loom_config_quote(d->value[i], q, sizeof q);
    int k = snprintf(buf ? buf + n : NULL, buf && n < cap ? cap - n : 0, "%s = %s\n", d->key[i], q);
    n += (size_t)k;
  }
  return n;
}

loom_config *loom_train_config_new(loom_data_section *ds) {
  memset(ds, 0, sizeof *ds);
  loom_data_schema_init(&ds->schema);
  ds->section = (loom_cfg_section){"data", ds, data_set, data_dump};
  const loom_cfg_key *tables[] = {loom_train_keys, loom_train_spec_keys};
  const int counts[] = {loom_train_n_keys, loom_train_spec_n_keys};
  loom_config *c = loom_config_new_tables(2, tables, counts);
  if (c) loom_config_add_section(c, &ds->section);
  return c;
}

int loom_train_label_values(const loom_config *c, const loom_data_schema *s) {
  if (s->label_class) return 0; /* class names: the data layer maps them, and refuses unknown ones */
  loom_model_spec m;
  loom_model_spec_read(c, &m);
  if (m.task.kind == LOOM_TASK_BINARY) return 2;
  if (m.task.kind == LOOM_TASK_MULTICLASS) return m.task.classes >= 2 ? m.task.classes : 0;
  return 0; /* ranking, retrieval: any label > 0 is a positive */
}

/* ---------------------------------------------------------------- checks */

/* Index of the first NaN or Inf in x[0, n), or -1. */
long loom_ckpt_first_nonfinite(const float *x, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!isfinite(x[i])) return (long)i;
  return -1;
}

static const char *const required_meta[] = {"loom.format", "loom.kind", "loom.version", "loom.task", "loom.config",
                                            "loom.prep", "loom.inputs", "loom.metrics", "train.step",
                                            "train.epoch", "train.optim_steps", "train.graph_rng", "train.loader",
                                            "train.best", "train.best_step", "train.bad_evals", "train.loss_sum",
                                            "train.loss_n"};

int loom_ckpt_check_meta(const loom_st_file *f, const char *path, loom_error *err) {
  const char *fmt = loom_st_meta(f, "loom.format");
  if (!fmt || strcmp(fmt, LOOM_CKPT_FORMAT) != 0)
    return loom_errorf(err, "%s: not a loom-train checkpoint (metadata loom.format is %s%s%s, expected '%s')", path,
                       fmt ? "'" : "", fmt ? fmt : "missing", fmt ? "'" : "", LOOM_CKPT_FORMAT);
  for (size_t i = 0; i < sizeof required_meta / sizeof *required_meta; i++)
    if (!loom_st_meta(f, required_meta[i]))
      return loom_errorf(err, "%s: metadata '%s' is missing — the checkpoint is incomplete; use another one", path,
                         required_meta[i]);
  return 0;
}

int loom_ckpt_meta_long(const loom_st_file *f, const char *path, const char *key, long *out, loom_error *err) {
  const char *s = loom_st_meta(f, key);
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || end == s || *end || v < 0)
    return loom_errorf(err, "%s: metadata '%s' = '%.40s' is not a non-negative integer — the checkpoint is corrupt",
                       path, key, s);
  *out = v;
  return 0;
}
int loom_ckpt_meta_double(const loom_st_file *f, const char *path, const char *key, double *out, loom_error *err) {
  const char *s = loom_st_meta(f, key);
  char *end;
  double v = strtod(s, &end);
  if (end == s || *end) return loom_errorf(err, "%s: metadata '%s' = '%.40s' is not a number — the checkpoint is corrupt", path, key, s);
  *out = v;
  return 0;
}

int loom_train_check_finite(const loom_st_file *f, const char *path, loom_error *err) {
  float buf[1024];
  for (int i = 0; i < loom_st_count(f); i++) {
    const loom_st_tensor *t = loom_st_tensor_at(f, i);
    if (t->dtype != LOOM_ST_F32) continue;
    for (uint64_t s = 0; s < t->numel; s += 1024) {
      size_t n = t->numel - s < 1024 ? (size_t)(t->numel - s) : 1024;
      memcpy(buf, (const char *)t->data + s * sizeof(float), n * sizeof(float)); /* data may be unaligned */
      long at = loom_ckpt_first_nonfinite(buf, n);
      if (at >= 0)
        return loom_errorf(err, "%s: tensor '%s' element %" PRIu64 " = %g is not finite — the checkpoint holds a "
                                "diverged model; use an earlier checkpoint or start again with a lower train.lr",
                           path, t->name, s + (uint64_t)at, (double)buf[at]);
    }
  }
  return 0;
}

/* The training state in a checkpoint's metadata (timings and the metrics history are left out). */
static const char *const state_keys[] = {"loom.format",     "loom.kind",        "loom.task",       "train.step",
                                         "train.epoch",     "train.optim_steps", "train.graph_rng", "train.loader",
                                         "train.best",      "train.best_step",  "train.bad_evals", "train.loss_sum",
                                         "train.loss_n",    "train.skipped",    "train.consec_skips", "train.at_epoch_end"};

static int compare_files(const loom_st_file *fa, const loom_st_file *fb, const char *a, const char *b, loom_error *err) {
  if (loom_st_count(fa) != loom_st_count(fb))
    return loom_errorf(err, "%s holds %d tensors, %s %d", a, loom_st_count(fa), b, loom_st_count(fb));
  for (int i = 0; i < loom_st_count(fa); i++) {
    const loom_st_tensor *ta = loom_st_tensor_at(fa, i), *tb = loom_st_find(fb, ta->name);
    if (!tb) return loom_errorf(err, "tensor '%s' of %s is missing from %s", ta->name, a, b);
    if (ta->dtype != tb->dtype || ta->ndim != tb->ndim || memcmp(ta->shape, tb->shape, sizeof(int64_t) * (size_t)ta->ndim))
      return loom_errorf(err, "tensor '%s' has another dtype or shape in %s", ta->name, b);
    const unsigned char *pa = ta->data, *pb = tb->data;
    for (uint64_t k = 0; k < ta->end - ta->begin; k++)
      if (pa[k] != pb[k])
        return loom_errorf(err, "tensor '%s' differs first at element %" PRIu64 " (byte %" PRIu64 ")", ta->name,
                           k / loom_st_dtype_size(ta->dtype), k);
  }
  for (size_t i = 0; i < sizeof state_keys / sizeof *state_keys; i++) {
    const char *va = loom_st_meta(fa, state_keys[i]), *vb = loom_st_meta(fb, state_keys[i]);
    if ((va == NULL) != (vb == NULL) || (va && strcmp(va, vb) != 0))
      return loom_errorf(err, "metadata '%s' differs: '%.60s' vs '%.60s'", state_keys[i], va ? va : "(none)",
                         vb ? vb : "(none)");
  }
  return 0;
}

int loom_train_compare_checkpoints(const char *a, const char *b, loom_error *err) {
  loom_st_file *fa = loom_st_open(a, err), *fb = fa ? loom_st_open(b, err) : NULL;
  int rc = !fa || !fb ? -1 : compare_files(fa, fb, a, b, err) < 0 ? 1 : 0;
  loom_st_close(fa);
  loom_st_close(fb);
  return rc;
}

int loom_train_check_checkpoint(const char *path, loom_error *err) {
  loom_st_file *f = loom_st_open(path, err);
  if (!f) return -1;
  int rc = loom_ckpt_check_meta(f, path, err) < 0 || loom_train_check_finite(f, path, err) < 0 ? -1 : 0;
  loom_st_close(f);
  return rc;
}

int loom_ckpt_check_tensors(const loom_st_file *f, loom_graph *g, const char *path, loom_error *err) {
  for (int i = 0; i < loom_st_count(f); i++) {
    const char *name = loom_st_tensor_at(f, i)->name;
    if (!strncmp(name, "_train.", 7) || loom_graph_find(g, name)) continue;
    return loom_errorf(err, "%s: tensor '%s' belongs to no parameter of the model — the checkpoint is from another model",
                       path, name);
  }
  return 0;
}
