/* trainer.c — a training run: run directory, loop, validation metrics, progress, checkpoints and
 * bit-exact resume. last.safetensors = model tensors (PyTorch names) + "_train.optim.*" moments +
 * metadata (config, preprocessing, input SHA-256, metric history, step, RNG and loader states);
 * best.safetensors = the model and the same metadata, without the optimiser. The graph is model.c's. */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "loom/alloc.h"
#include "loom/checkpoint.h"
#include "loom/evaluate.h"
#include "loom/file.h"
#include "loom/metrics.h"
#include "loom/model.h"
#include "loom/model_spec.h"
#include "loom/optim.h"
#include "loom/pretrained.h"
#include "loom/backbone.h"
#include "loom/report.h"
#include "loom/runtime.h"
#include "loom/safetensors.h"
#include "loom/sha256.h"
#include "loom/trainer.h"
#include "loom/wordvec.h"
#include "train_internal.h"

/* ---------------------------------------------------------------- the run */

double train_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void train_logf(run *r, const char *fmt, ...) {
  if (!r->log) return;
  char small[4096], *text = small;
  va_list ap;
  va_start(ap, fmt);
  const int need = vsnprintf(small, sizeof small, fmt, ap);
  va_end(ap);
  if (need >= (int)sizeof small && (text = loom_malloc((size_t)need + 1))) { /* a long summary: rare */
    va_start(ap, fmt);
    vsnprintf(text, (size_t)need + 1, fmt, ap);
    va_end(ap);
  }
  if (!text) text = small; /* out of memory: the line as far as it fits */
  /* every line stamped with the wall-clock time (UTC, ISO 8601) */
  char stamp[32];
  const time_t now = time(NULL);
  struct tm tm;
  strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
  for (const char *line = text; *line;) {
    const size_t n = strcspn(line, "\n");
    fprintf(r->log, "%s %.*s\n", stamp, (int)n, line);
    line += n + (line[n] == '\n');
  }
  if (text != small) loom_free(text);
  fflush(r->log);
}

void train_path_in(char *out, size_t n, const run *r, const char *name) { snprintf(out, n, "%s/%s", r->dir, name); }

static int hist_append(run *r, const char *s) {
  size_t n = strlen(s);
  if (r->hist_len + n + 1 > r->hist_cap) {
    size_t cap = (r->hist_cap ? r->hist_cap * 2 : 4096) + n;
    char *p = loom_realloc(r->hist, cap);
    if (!p) return -1;
    r->hist = p, r->hist_cap = cap;
  }
  memcpy(r->hist + r->hist_len, s, n + 1);
  r->hist_len += n;
  return 0;
}


/* The validation evaluator, the monitored metric and metrics.csv's header. */
/* ---------------------------------------------------------------- metrics */

static int setup_metrics(run *r, loom_error *err) {
  loom_model *m = r->m;
  if (!(r->ev = loom_evaluator_new(m, r->ds, r->cfg, LOOM_SPLIT_VAL, err))) return -1;
  const loom_evaluator *ev = r->ev;
  loom_model_spec ms;
  loom_model_spec_read(r->cfg, &ms);
  const char *mon = ms.task.monitor;
  char auto_rank[24];
  if (loom_model_task(m) == LOOM_TASK_RANKING || loom_model_task(m) == LOOM_TASK_RETRIEVAL) {
    int k10 = ev->ks[0];
    for (int i = 0; i < ev->n_k; i++)
      if (ev->ks[i] == 10) k10 = 10;
    snprintf(auto_rank, sizeof auto_rank, loom_model_task(m) == LOOM_TASK_RANKING ? "ndcg@%d" : "t2i_recall@%d", k10);
  }
  if (!strcmp(mon, "auto") && loom_evaluator_auto_monitor(ev)) mon = loom_evaluator_auto_monitor(ev); /* regression, multitask */
  if (!strcmp(mon, "auto")) mon = loom_model_task(m) == LOOM_TASK_BINARY ? "auc" : loom_model_task(m) == LOOM_TASK_MULTICLASS ? "macro_f1" : auto_rank;
  snprintf(r->monitor_name, sizeof r->monitor_name, "%s", mon);
  r->monitor = !strcmp(mon, "loss") ? -1 : loom_evaluator_find(ev, mon);
  if (r->monitor == -1 && strcmp(mon, "loss") != 0)
    return loom_errorf(err, "[task] monitor = %s is not a metric of task %s", mon, loom_task_name(loom_model_task(m)));
  r->monitor_max = !(r->monitor == -1 || loom_metric_lower_is_better(mon));
  r->best = r->monitor_max ? -INFINITY : INFINITY;
  if (loom_model_task(m) == LOOM_TASK_MULTICLASS &&
      !(r->best_confusion = loom_calloc((size_t)loom_model_n_classes(m) * (size_t)loom_model_n_classes(m), sizeof(int64_t))))
    return loom_errorf(err, "out of memory");
  if (!r->hist) { /* metrics.csv header */
    char h[2048];
    size_t k = (size_t)snprintf(h, sizeof h, "step,epoch,loss,val_loss");
    for (int i = 0; i < ev->n_metrics; i++) k += (size_t)snprintf(h + k, sizeof h - k, ",%s", ev->names[i]);
    snprintf(h + k, sizeof h - k, ",lr,samples_per_s\n");
    if (hist_append(r, h) < 0) return loom_errorf(err, "out of memory");
  }
  return 0;
}

static int evaluate(run *r, loom_error *err) {
  if (loom_evaluator_run(r->ev, err) < 0) return loom_error_wrap(err, "validation");
  return 0;
}

/* The monitored metric came out undefined (NaN: AUC of a validation split with one class, ...): says so
 * once, naming the split and what it holds, and monitors val_loss from here on, so best.safetensors is
 * still written and the run stays usable. A resumed run that had fallen back (metadata train.monitor)
 * takes the same monitor again, quietly (warned = false). */
static void monitor_fallback(run *r, bool warn) {
  const loom_evaluator *ev = r->ev;
  snprintf(r->undefined_metric, sizeof r->undefined_metric, "%s", r->monitor_name);
  if (warn) {
    int64_t n = ev->n_rows, pos = 0;
    int classes = 0;
    if (loom_model_task(r->m) == LOOM_TASK_BINARY) {
      for (int64_t i = 0; i < n; i++) pos += ev->labels[i] > 0.5f;
      classes = (pos > 0) + (pos < n);
      snprintf(r->undefined_why, sizeof r->undefined_why, "the validation split has %d class: all %lld rows are "
               "label %d", classes, (long long)n, pos > 0);
    } else if (loom_model_task(r->m) == LOOM_TASK_MULTICLASS) {
      int K = loom_model_n_classes(r->m);
      for (int k = 0; k < K; k++) {
        bool seen = false;
        for (int64_t i = 0; !seen && i < n; i++) seen = ev->truth[i] == k;
        classes += seen;
      }
      snprintf(r->undefined_why, sizeof r->undefined_why, "the validation split has %d of the %d classes in its "
               "%lld rows", classes, K, (long long)n);
    } else {
      snprintf(r->undefined_why, sizeof r->undefined_why, "undefined on the %lld rows of the validation split",
               (long long)n);
    }
    char msg[1024];
    snprintf(msg, sizeof msg, "warning: %s is undefined (%s) — monitoring val_loss instead, so best.safetensors is the "
             "model with the lowest validation loss; give the validation split both kinds of label ([data] split, "
             "split_ratio, seed) to monitor %s\n", r->monitor_name, r->undefined_why, r->monitor_name);
    train_logf(r, "%s", msg);
    train_notice(r, msg);
  } else {
    snprintf(r->undefined_why, sizeof r->undefined_why, "undefined on the validation split before the resume");
  }
  snprintf(r->monitor_name, sizeof r->monitor_name, "val_loss");
  r->monitor = -1, r->monitor_max = false;
  r->best = INFINITY, r->best_step = 0, r->bad_evals = 0;
}

/* A metric for people: n/a when it is not a number (one class, no validation yet). */
static const char *fmt_metric(char *buf, size_t n, double v) {
  if (isfinite(v)) snprintf(buf, n, "%.4f", v);
  else snprintf(buf, n, "n/a");
  return buf;
}

/* ---------------------------------------------------------------- non-finite values */

static size_t buffers_numel(loom_graph *g) {
  size_t n = 0;
  for (int i = 0; i < loom_graph_n_buffer_tensors(g); i++) n += loom_tensor_numel(loom_graph_buffer_tensor(g, i));
  return n;
}

/* Every buffer (batch-norm running statistics) into snap, or back from it. */
static void buffers_copy(loom_graph *g, float *snap, bool save) {
  for (int i = 0; i < loom_graph_n_buffer_tensors(g); i++) {
    loom_tensor *t = loom_graph_buffer_tensor(g, i);
    size_t n = loom_tensor_numel(t);
    if (t->dtype == LOOM_F32) memcpy(save ? snap : t->data, save ? t->data : snap, n * sizeof(float));
    snap += n;
  }
}

/* Refuses to write a poisoned checkpoint: every parameter and buffer, and with the training state every
 * optimiser moment, must be finite. The previous file at `name` stays as it is. */
static int check_finite_state(run *r, const char *name, bool with_state, loom_error *err) {
  loom_graph *g = loom_model_graph(r->m);
  const char *what = NULL, *tname = NULL;
  long at = -1;
  float v = 0;
  for (int i = 0; at < 0 && i < loom_graph_n_param_tensors(g); i++) {
    loom_tensor *t = loom_graph_param_tensor(g, i);
    if ((at = loom_ckpt_first_nonfinite(t->data, loom_tensor_numel(t))) >= 0) what = "parameter", tname = t->name, v = t->data[at];
  }
  for (int i = 0; at < 0 && i < loom_graph_n_buffer_tensors(g); i++) {
    loom_tensor *t = loom_graph_buffer_tensor(g, i);
    if (t->dtype == LOOM_F32 && (at = loom_ckpt_first_nonfinite(t->data, loom_tensor_numel(t))) >= 0)
      what = "buffer", tname = t->name, v = t->data[at];
  }
  for (int k = 0; with_state && at < 0 && k < loom_optim_n_state(r->opt); k++) {
    const float *s = loom_optim_state(r->opt, k, &what, NULL);
    for (int i = 0; at < 0 && i < loom_graph_n_param_tensors(g); i++) {
      loom_tensor *t = loom_graph_param_tensor(g, i);
      if ((at = loom_ckpt_first_nonfinite(s + t->value_off, loom_tensor_numel(t))) >= 0) tname = t->name, v = s[t->value_off + (size_t)at];
    }
  }
  if (at < 0) return 0;
  return loom_errorf(err, "step %ld: refusing to write %s/%s: %s %s[%ld] = %g is not finite — the previous file is "
                          "kept; resume from it with a lower train.lr or a train.clip_norm",
                     r->step, r->dir, name, what, tname, at, (double)v);
}

/* What the last good checkpoint is, for messages about a failed step. */
static void ckpt_note(const run *r, char *buf, size_t n) {
  if (r->have_ckpt) snprintf(buf, n, "%s/last.safetensors (step %ld) is intact", r->dir, r->last_save_step);
  else snprintf(buf, n, "no checkpoint had been written yet");
}

/* Names the parameter behind a non-finite gradient norm (the slow scan runs only now). */
static void describe_grad_fault(loom_graph *g, char *buf, size_t n) {
  loom_grad_fault f = loom_grad_find_fault(g);
  const char *name = f.tensor >= 0 ? loom_graph_param_tensor(g, f.tensor)->name : "?";
  if (f.overflow)
    snprintf(buf, n, "the gradient norm overflows (every gradient is finite; the largest is %s element %zu = %g)",
             name, f.elem, (double)f.value);
  else snprintf(buf, n, "gradient of %s is not finite (first bad element %zu = %g)", name, f.elem, (double)f.value);
}

/* A batch whose loss or gradient is not finite (`fault` says which): with train.nonfinite = stop, the
 * run ends here with an error; with skip, the batch leaves no trace in the model (no optimiser step,
 * buffers put back) and is logged and counted, until train.max_skips of them come in a row. */
static int skip_batch(run *r, const char *fault, loom_error *err) {
  char note[1200];
  ckpt_note(r, note, sizeof note);
  if (!r->skip_nonfinite)
    return loom_errorf(err, "step %ld: %s — lower train.lr, set train.clip_norm, or set train.nonfinite = skip to "
                            "drop such batches; %s",
                       r->step + 1, fault, note);
  if (r->buf_snap) buffers_copy(loom_model_graph(r->m), r->buf_snap, false);
  r->skipped++, r->consec_skips++;
  char msg[1024];
  snprintf(msg, sizeof msg, "step %ld: skipped the batch (no update): %s; %ld in a row, %ld in total\n", r->step + 1,
           fault, r->consec_skips, r->skipped);
  train_logf(r, "%s", msg);
  train_notice(r, msg);
  if (r->consec_skips >= r->max_skips)
    return loom_errorf(err, "step %ld: %ld batches in a row had a non-finite loss or gradient (train.max_skips = %ld) "
                            "— the model has diverged; lower train.lr or set train.clip_norm and start again from "
                            "the checkpoint; %s",
                       r->step + 1, r->consec_skips, r->max_skips, note);
  return 0;
}

/* ---------------------------------------------------------------- checkpoints */

static int meta_long(loom_st_writer *w, const char *k, long v, loom_error *err) {
  char s[32];
  snprintf(s, sizeof s, "%ld", v);
  return loom_st_writer_meta(w, k, s, err);
}
static int meta_double(loom_st_writer *w, const char *k, double v, loom_error *err) {
  char s[64];
  snprintf(s, sizeof s, "%a", v); /* hex float: exact round trip */
  return loom_st_writer_meta(w, k, s, err);
}

static int save_ckpt(run *r, const char *name, bool with_state, loom_error *err) {
  if (check_finite_state(r, name, with_state, err) < 0) return -1;
  loom_st_writer *w = loom_st_writer_new();
  if (!w) return loom_errorf(err, "out of memory writing a checkpoint");
  loom_st_writer_checksums(w, true); /* SHA-256 per tensor, checked when the checkpoint is loaded */
  char *loader = NULL;
  int rc = -1;
  if (loom_st_writer_add_graph(w, loom_model_graph(r->m), err) < 0) goto done;
  if (with_state) {
    for (int i = 0; i < loom_optim_n_state(r->opt); i++) {
      const char *sn;
      size_t n;
      float *s = loom_optim_state(r->opt, i, &sn, &n);
      char tn[128];
      snprintf(tn, sizeof tn, "_train.optim.%s", sn);
      if (loom_st_writer_add(w, tn, LOOM_ST_F32, 1, (int64_t[]){(int64_t)n}, s, err) < 0) goto done;
    }
  }
  char rng[32];
  snprintf(rng, sizeof rng, "%016" PRIx64, loom_graph_rng(loom_model_graph(r->m))->state);
  if (!(loader = loom_loader_state_to_string(r->train_ld))) {
    loom_errorf(err, "out of memory writing a checkpoint");
    goto done;
  }
  if (loom_st_writer_meta(w, "loom.format", LOOM_CKPT_FORMAT, err) < 0 ||
      loom_st_writer_meta(w, "loom.kind", with_state ? "train-state" : "model", err) < 0 ||
      loom_st_writer_meta(w, "loom.version", loom_version(), err) < 0 ||
      loom_st_writer_meta(w, "loom.isa", loom_isa_name(loom_runtime_isa()), err) < 0 ||
      loom_st_writer_meta(w, "loom.task", loom_task_name(loom_model_task(r->m)), err) < 0 ||
      loom_st_writer_meta(w, "loom.config", r->config_text, err) < 0 ||
      loom_st_writer_meta(w, "loom.prep", r->prep_text, err) < 0 ||
      loom_st_writer_meta(w, "loom.inputs", r->inputs_json, err) < 0 ||
      (r->pretrained_json && loom_st_writer_meta(w, "loom.pretrained", r->pretrained_json, err) < 0) ||
      loom_st_writer_meta(w, "loom.metrics", r->hist, err) < 0 || meta_long(w, "train.step", r->step, err) < 0 ||
      meta_long(w, "train.epoch", r->epoch, err) < 0 || meta_long(w, "train.at_epoch_end", r->at_epoch_end, err) < 0 ||
      meta_long(w, "train.optim_steps", loom_optim_steps(r->opt), err) < 0 ||
      loom_st_writer_meta(w, "train.graph_rng", rng, err) < 0 ||
      loom_st_writer_meta(w, "train.loader", loader, err) < 0 || meta_double(w, "train.best", r->best, err) < 0 ||
      meta_long(w, "train.best_step", r->best_step, err) < 0 ||
      loom_st_writer_meta(w, "train.monitor", r->monitor_name, err) < 0 ||
      meta_long(w, "train.bad_evals", r->bad_evals, err) < 0 ||
      meta_double(w, "train.loss_sum", r->loss_sum, err) < 0 || meta_long(w, "train.loss_n", r->loss_n, err) < 0 ||
      meta_long(w, "train.skipped", r->skipped, err) < 0 || meta_long(w, "train.consec_skips", r->consec_skips, err) < 0)
    goto done;
  char path[1100];
  train_path_in(path, sizeof path, r, name);
  rc = loom_st_write(w, path, err);
  if (rc == 0 && with_state) r->have_ckpt = true;
done:
  loom_free(loader);
  loom_st_writer_free(w);
  return rc;
}

/* An optional counter (absent from checkpoints of older builds: 0). */
static int parse_long_opt(const loom_st_file *f, const char *path, const char *key, long *out, loom_error *err) {
  *out = 0;
  return loom_st_meta(f, key) ? loom_ckpt_meta_long(f, path, key, out, err) : 0;
}

static int restore(run *r, loom_error *err) {
  char path[1100];
  train_path_in(path, sizeof path, r, "last.safetensors");
  loom_st_file *f = loom_st_open(path, err);
  if (!f) return -1;
  int rc = -1;
  if (loom_ckpt_check_meta(f, path, err) < 0 || loom_train_check_finite(f, path, err) < 0) goto done;
  if (strcmp(loom_st_meta(f, "loom.kind"), "train-state") != 0) {
    loom_errorf(err, "%s: holds a model without training state (loom.kind = %s) — it cannot be resumed", path,
                loom_st_meta(f, "loom.kind"));
    goto done;
  }
  /* compared as JSON values: checkpoints of older builds spaced the same object differently */
  cJSON *was = cJSON_Parse(loom_st_meta(f, "loom.inputs")), *now_in = cJSON_Parse(r->inputs_json);
  bool same_inputs = was && now_in && cJSON_Compare(was, now_in, true);
  cJSON_Delete(was), cJSON_Delete(now_in);
  if (!same_inputs) {
    char which[640];
    train_inputs_changed(loom_st_meta(f, "loom.inputs"), r->inputs_json, which, sizeof which);
    loom_errorf(err, "%s: the input files changed since this run started (their paths or SHA-256 differ from "
                     "metadata loom.inputs%s%s) — resume needs the same data; start a new run instead", path,
                which[0] ? ": " : "", which);
    goto done;
  }
  if (strcmp(loom_st_meta(f, "loom.task"), loom_task_name(loom_model_task(r->m))) != 0) {
    loom_errorf(err, "%s: trained for task %s, the config says %s", path, loom_st_meta(f, "loom.task"),
                loom_task_name(loom_model_task(r->m)));
    goto done;
  }
  long optim_steps = 0, loss_n = 0, at_end = 0;
  const char *rng = loom_st_meta(f, "train.graph_rng");
  char *end;
  uint64_t st = strtoull(rng, &end, 16);
  if (strlen(rng) != 16 || *end) {
    loom_errorf(err, "%s: metadata 'train.graph_rng' = '%.40s' is not 16 hex digits — the checkpoint is corrupt", path, rng);
    goto done;
  }
  if (loom_ckpt_meta_long(f, path, "train.step", &r->step, err) < 0 || loom_ckpt_meta_long(f, path, "train.epoch", &r->epoch, err) < 0 ||
      loom_ckpt_meta_long(f, path, "train.optim_steps", &optim_steps, err) < 0 ||
      loom_ckpt_meta_long(f, path, "train.best_step", &r->best_step, err) < 0 ||
      loom_ckpt_meta_long(f, path, "train.bad_evals", &r->bad_evals, err) < 0 ||
      loom_ckpt_meta_long(f, path, "train.loss_n", &loss_n, err) < 0 || loom_ckpt_meta_double(f, path, "train.best", &r->best, err) < 0 ||
      loom_ckpt_meta_double(f, path, "train.loss_sum", &r->loss_sum, err) < 0 ||
      parse_long_opt(f, path, "train.skipped", &r->skipped, err) < 0 ||
      parse_long_opt(f, path, "train.consec_skips", &r->consec_skips, err) < 0 ||
      parse_long_opt(f, path, "train.at_epoch_end", &at_end, err) < 0)
    goto done;
  r->at_epoch_end = at_end != 0;
  /* the monitor the run had: the configured one, or val_loss after an undefined one (optional key) */
  const char *mon = loom_st_meta(f, "train.monitor");
  if (mon && strcmp(mon, r->monitor_name) != 0) {
    if (strcmp(mon, "val_loss") != 0 || r->monitor < 0) {
      loom_errorf(err, "%s: metadata 'train.monitor' = '%.40s' but the config monitors %s — resume with the run's "
                       "task.monitor", path, mon, r->monitor_name);
      goto done;
    }
    double best = r->best;
    long best_step = r->best_step, bad = r->bad_evals;
    monitor_fallback(r, false);
    r->best = best, r->best_step = best_step, r->bad_evals = bad;
  }
  /* a non-finite best would never be beaten (best.safetensors never written again); a non-finite loss
   * sum poisons the next metrics row. Only the "no validation yet" start value may be infinite. */
  const double start = r->monitor_max ? -INFINITY : INFINITY;
  const char *badkey = !isfinite(r->loss_sum) ? "train.loss_sum"
                       : isnan(r->best) || (isinf(r->best) && (r->best != start || r->best_step != 0)) ? "train.best"
                                                                                                      : NULL;
  if (badkey) {
    loom_errorf(err, "%s: metadata '%s' = %s is not a finite number — the checkpoint is corrupt; resume from another "
                     "copy of the run or start a new one", path, badkey, loom_st_meta(f, badkey));
    goto done;
  }
  if (loom_st_load_graph_from(loom_model_graph(r->m), f, LOOM_ST_ALLOW_UNEXPECTED, err) < 0) {
    loom_error_wrap(err, "%s: the model in the checkpoint does not match the config", path);
    goto done;
  }
  for (int i = 0; i < loom_optim_n_state(r->opt); i++) {
    const char *sn;
    size_t n;
    float *s = loom_optim_state(r->opt, i, &sn, &n);
    char tn[128];
    snprintf(tn, sizeof tn, "_train.optim.%s", sn);
    if (loom_st_read_f32(f, tn, s, n, err) < 0) goto done;
  }
  if (loom_ckpt_check_tensors(f, loom_model_graph(r->m), path, err) < 0) goto done;
  if (loom_loader_state_from_string(r->train_ld, loom_st_meta(f, "train.loader"), err) < 0) {
    loom_error_wrap(err, "%s: metadata 'train.loader'", path);
    goto done;
  }
  loom_optim_set_steps(r->opt, optim_steps);
  loom_graph_rng(loom_model_graph(r->m))->state = st;
  r->loss_n = loss_n;
  r->hist_len = 0;
  if (hist_append(r, loom_st_meta(f, "loom.metrics")) < 0) {
    loom_errorf(err, "out of memory");
    goto done;
  }
  r->last_eval_step = r->last_save_step = r->step;
  r->have_ckpt = true;
  rc = 0;
done:
  loom_st_close(f);
  return rc;
}

/* ---------------------------------------------------------------- report */

static int report_example(void *rep, const loom_eval_example *x) {
  return loom_report_ranking_marked(rep, x->user, x->query, x->k, x->titles, x->images, x->scores, x->marked, x->note);
}

/* ROC and precision-recall curves of the latest validation (the evaluator's scores of every row). */
static int add_binary_curves(const run *r, loom_report *rep) {
  enum { POINTS = 101 };
  double fpr[POINTS], tpr[POINTS], rec[POINTS], prec[POINTS];
  const int n = loom_binary_curves(r->ev->probs, r->ev->labels, (size_t)r->ev->n_rows, POINTS, fpr, tpr, rec, prec);
  if (n == 0) return 0; /* one class: no curve */
  char note[96];
  snprintf(note, sizeof note, "validation at step %ld, AUC %.4f", r->last_eval_step,
           loom_auc(r->ev->probs, r->ev->labels, (size_t)r->ev->n_rows));
  if (loom_report_curve(rep, "ROC", "false positive rate", "true positive rate", note, fpr, tpr, n, true) < 0)
    return -1;
  snprintf(note, sizeof note, "validation at step %ld", r->last_eval_step);
  return loom_report_curve(rep, "precision-recall", "recall", "precision", note, rec, prec, n, false);
}

static int write_report(run *r, double wall, loom_error *err) {
  const char *name = strrchr(r->dir, '/') && strrchr(r->dir, '/')[1] ? strrchr(r->dir, '/') + 1 : r->dir;
  char title[1200];
  snprintf(title, sizeof title, "loom-train run %s", name);
  loom_report *rep = loom_report_new(title);
  if (!rep) return loom_errorf(err, "out of memory writing the report");
  /* curves from metrics.csv text */
  char *text = loom_strdup(r->hist);
  if (!text) {
    loom_report_free(rep);
    return loom_errorf(err, "out of memory writing the report");
  }
  char *save = NULL, *line = strtok_r(text, "\n", &save);
  char cols[MAX_METRICS + 8][32];
  int nc = 0;
  for (char *p = line, *q; p && nc < MAX_METRICS + 8; p = q ? q + 1 : NULL) {
    q = strchr(p, ',');
    snprintf(cols[nc++], sizeof cols[0], "%.*s", q ? (int)(q - p) : (int)strlen(p), p);
  }
  while ((line = strtok_r(NULL, "\n", &save))) {
    double v[MAX_METRICS + 8];
    int k = 0;
    for (char *p = line; p && k < nc; k++) {
      v[k] = *p && *p != ',' ? strtod(p, NULL) : NAN;
      p = strchr(p, ',');
      if (p) p++;
    }
    for (int i = 2; i < k && i < nc; i++) {
      if (isnan(v[i])) continue;
      char series[80];
      if (i == 2) snprintf(series, sizeof series, "loss/train");
      else if (i == 3) snprintf(series, sizeof series, "loss/valid");
      else if (i == nc - 2) snprintf(series, sizeof series, "lr/schedule");
      else if (i == nc - 1) snprintf(series, sizeof series, "samples_per_s/train");
      else snprintf(series, sizeof series, "%s/valid", cols[i]);
      loom_report_point(rep, series, v[0], v[i]);
    }
  }
  loom_free(text);
  char s[1024];
  loom_report_summary(rep, "task", loom_task_name(loom_model_task(r->m)));
  size_t np = 0;
  for (int i = 0; i < loom_graph_n_param_tensors(loom_model_graph(r->m)); i++) np += loom_tensor_numel(loom_graph_param_tensor(loom_model_graph(r->m), i));
  snprintf(s, sizeof s, "%zu", np);
  loom_report_summary(rep, "parameters", s);
  s[0] = 0;
  for (int i = 0; i < loom_model_n_towers(r->m); i++) strcat(strcat(s, i ? ", " : ""), loom_model_tower_name(r->m, i));
  loom_report_summary(rep, "towers", s);
  snprintf(s, sizeof s, "%ld updates, %ld epochs", r->step, r->epoch);
  loom_report_summary(rep, "trained", s);
  char num[32];
  snprintf(s, sizeof s, "%s at step %ld", fmt_metric(num, sizeof num, r->best), r->best_step);
  loom_report_summary(rep, r->monitor_name, s);
  if (r->undefined_metric[0]) {
    snprintf(s, sizeof s, "n/a (%s; val_loss monitored instead)", r->undefined_why);
    loom_report_summary(rep, r->undefined_metric, s);
  }
  snprintf(s, sizeof s, "%.1f s (this invocation), %.0f samples/s", wall,
           wall > 0 ? (double)r->samples_total / wall : 0.0);
  loom_report_summary(rep, "time", s);
  loom_report_summary(rep, "loom", loom_version());
  loom_report_summary(rep, "ISA", loom_isa_name(loom_runtime_isa()));
  if (r->have_test) {
    size_t k = (size_t)snprintf(s, sizeof s, "%lld rows, step %ld: loss %.4f", (long long)r->test_rows, r->test_step,
                                r->test_loss);
    for (int i = 0; i < r->ev->n_metrics && k < sizeof s; i++)
      k += (size_t)snprintf(s + k, sizeof s - k, ", %s %s", r->ev->names[i], fmt_metric(num, sizeof num, r->test_val[i]));
    loom_report_summary(rep, "test split", s);
  }
  loom_report_best_step(rep, r->best_step > 0 ? (double)r->best_step : NAN);
  if (loom_report_csv_table(rep, "Validations (metrics.csv)", r->hist) < 0 || loom_report_config(rep, r->config_text) < 0) {
    loom_report_free(rep);
    return loom_errorf(err, "out of memory writing the report");
  }
  if (loom_model_task(r->m) == LOOM_TASK_BINARY && r->ev->n_rows > 0 && add_binary_curves(r, rep) < 0) {
    loom_report_free(rep);
    return loom_errorf(err, "out of memory writing the report");
  }
  if (loom_model_task(r->m) == LOOM_TASK_MULTICLASS) {
    int K = loom_model_n_classes(r->m);
    const loom_prep *p = loom_dataset_prep(r->ds);
    const char **names = loom_calloc((size_t)K, sizeof *names);
    for (int k = 0; names && k < K; k++) names[k] = p->labels ? loom_idmap_key(p->labels, k + 1) : NULL;
    loom_report_confusion(rep, r->best_confusion, K, names);
    loom_free(names);
  }
  if ((loom_model_task(r->m) == LOOM_TASK_RANKING || loom_model_task(r->m) == LOOM_TASK_RETRIEVAL) &&
      loom_evaluator_examples(r->ev, &r->dsec.schema, report_example, rep, err) < 0) {
    loom_report_free(rep);
    return -1;
  }
  char path[1100];
  train_path_in(path, sizeof path, r, "report.html");
  int rc = loom_report_write_html(rep, path, err);
  loom_report_free(rep);
  return rc;
}

/* ---------------------------------------------------------------- the loop */

/* Validation, metrics.csv row, best checkpoint, last checkpoint, report. */
static int eval_and_save(run *r, double wall, loom_error *err) {
  const double t_eval = train_now();
  if (evaluate(r, err) < 0) return -1;
  const double eval_s = train_now() - t_eval;
  double t = train_now(), dt = t - r->t_window;
  double sps = dt > 0 ? (double)r->samples_window / dt : 0;
  r->t_window = t, r->samples_window = 0;
  char row[4096];
  size_t k = (size_t)snprintf(row, sizeof row, "%ld,%ld,", r->step, epoch_no(r));
  if (r->loss_n > 0) k += (size_t)snprintf(row + k, sizeof row - k, "%.6f", r->loss_sum / (double)r->loss_n);
  const loom_evaluator *ev = r->ev;
  k += (size_t)snprintf(row + k, sizeof row - k, ",%.6f", ev->loss);
  for (int i = 0; i < ev->n_metrics; i++) /* an undefined metric is an empty field, as a missing loss is */
    k += (size_t)snprintf(row + k, sizeof row - k, isfinite(ev->val[i]) ? ",%.6f" : ",", ev->val[i]);
  snprintf(row + k, sizeof row - k, ",%.6g,%.1f\n", (double)loom_lr_at(&r->sched, r->step > 0 ? r->step - 1 : 0), sps);
  if (hist_append(r, row) < 0) return loom_errorf(err, "out of memory");
  if (r->loss_n > 0) r->last_train_loss = r->loss_sum / (double)r->loss_n;
  r->loss_sum = 0, r->loss_n = 0;
  r->last_eval_step = r->step;
  if (r->monitor >= 0 && !isfinite(ev->val[r->monitor])) monitor_fallback(r, true);
  double v = r->monitor < 0 ? ev->loss : ev->val[r->monitor];
  bool better = r->monitor_max ? v > r->best : v < r->best;
  if (better) {
    r->best = v, r->best_step = r->step, r->bad_evals = 0;
    if (loom_model_task(r->m) == LOOM_TASK_MULTICLASS)
      memcpy(r->best_confusion, ev->confusion, sizeof(int64_t) * (size_t)loom_model_n_classes(r->m) * (size_t)loom_model_n_classes(r->m));
  } else {
    r->bad_evals++;
  }
  char msg[4096];
  k = (size_t)snprintf(msg, sizeof msg, "eval step %ld epoch %ld: val_loss %.4f", r->step, epoch_no(r), ev->loss);
  char num[32];
  for (int i = 0; i < ev->n_metrics; i++)
    k += (size_t)snprintf(msg + k, sizeof msg - k, " %s %s", ev->names[i], fmt_metric(num, sizeof num, ev->val[i]));
  snprintf(msg + k, sizeof msg - k, "%s [eval %.2f s, %.1f s elapsed]\n", better ? " (best)" : "", eval_s,
           train_now() - r->t0);
  train_logf(r, "%s", msg);
  if (r->progress) fprintf(r->progress, "%s%s", r->tty ? "\r\033[K" : "", msg);
  if (r->json) {
    cJSON *f = cJSON_CreateObject(), *mx = cJSON_CreateObject();
    if (f && mx) {
      cJSON_AddNumberToObject(f, "step", (double)r->step);
      cJSON_AddNumberToObject(f, "epoch", (double)epoch_no(r));
      cJSON_AddNumberToObject(f, "val_loss", ev->loss);
      for (int i = 0; i < ev->n_metrics; i++)
        isfinite(ev->val[i]) ? (void)cJSON_AddNumberToObject(mx, ev->names[i], ev->val[i]) : (void)cJSON_AddNullToObject(mx, ev->names[i]);
      cJSON_AddItemToObject(f, "metrics", mx), mx = NULL;
      cJSON_AddBoolToObject(f, "best", better);
      cJSON_AddNumberToObject(f, "eval_s", eval_s);
      cJSON_AddNumberToObject(f, "elapsed_s", train_now() - r->t0);
    }
    cJSON_Delete(mx);
    train_json_event(r, "eval", f);
  }
  char path[1100];
  train_path_in(path, sizeof path, r, "metrics.csv");
  if (loom_write_file_atomic(path, r->hist, r->hist_len, err) < 0) return -1;
  if (better && save_ckpt(r, "best.safetensors", false, err) < 0) return -1;
  if (save_ckpt(r, "last.safetensors", true, err) < 0) return -1;
  r->last_save_step = r->step;
  return write_report(r, wall, err);
}

static void run_free(run *r) {
  loom_loader_free(r->train_ld);
  loom_optim_free(r->opt);
  loom_model_free(r->m);
  loom_dataset_free(r->ds);
  loom_config_free(r->cfg);
  loom_evaluator_free(r->ev);
  loom_free(r->best_confusion), loom_free(r->hist);
  loom_free(r->config_text), loom_free(r->prep_text), loom_free(r->inputs_json), loom_free(r->pretrained_json);
  if (r->log) fclose(r->log);
  train_release_dir(r, false);
  loom_free(r->buf_snap);
  loom_free(r);
}

/* ---------------------------------------------------------------- pretrained word vectors */

/* text.pretrained: the path made absolute (as [data]'s paths are), its SHA-256 checked against
 * text.pretrained_sha256 when that was set by hand, and recorded there, so config.ini and every
 * checkpoint's loom.config name the exact file. A new run reads the vectors into *wv; a resumed run
 * does not (its checkpoint holds the embedding as trained) and only notes a file gone or changed. */
static int pretrained_resolve(run *r, bool resume, loom_wordvec *wv, loom_error *err) {
  loom_model_spec s;
  loom_model_spec_read(r->cfg, &s);
  const char *file = s.text.pretrained;
  if (!file[0]) return 0;
  if (file[0] != '/') {
    char cwd[LOOM_DATA_PATH / 2], abs[LOOM_DATA_PATH];
    if (!getcwd(cwd, sizeof cwd) || (size_t)snprintf(abs, sizeof abs, "%s/%s", cwd, file) >= sizeof abs)
      return loom_errorf(err, "text.pretrained: cannot resolve the relative path '%s'", file);
    if (loom_config_set(r->cfg, "text", "pretrained", abs, "text.pretrained", err) < 0) return -1;
    loom_model_spec_read(r->cfg, &s); /* the set replaced the string s.text.pretrained pointed at */
    file = s.text.pretrained;
  }
  const char *want = s.text.pretrained_sha256;
  char hex[65];
  if (resume) {
    loom_error e;
    if (loom_sha256_file(file, hex, &e) < 0)
      snprintf(r->pretrained_note, sizeof r->pretrained_note,
               "warning: text.pretrained cannot be read (%s) — resuming with the checkpoint's embedding, which does "
               "not need the file\n", e.msg);
    else if (want[0] && strcasecmp(hex, want) != 0)
      snprintf(r->pretrained_note, sizeof r->pretrained_note,
               "warning: text.pretrained %s changed since this run started (SHA-256 %s, was %s) — resuming with the "
               "checkpoint's embedding; start a new run to use the new vectors\n", file, hex, want);
    return 0;
  }
  loom_wordvec_opts wo = {.format = s.text.pretrained_format};
  if (loom_wordvec_read(file, &wo, wv, err) < 0) return loom_error_wrap(err, "text.pretrained");
  if (loom_sha256_file(file, hex, err) < 0) return loom_error_wrap(err, "text.pretrained");
  if (want[0] && strcasecmp(want, hex) != 0)
    return loom_errorf(err, "text.pretrained_sha256 = %s but %s has SHA-256 %s — it is not the file the config "
                            "names; fix text.pretrained or text.pretrained_sha256", want, file, hex);
  return loom_config_set(r->cfg, "text", "pretrained_sha256", hex, "loom-train", err);
}

/* The dataset, its vocabulary from the vectors when text.vocab_from_pretrained (a new run: the file's
 * words; a resumed run: the vocabulary its checkpoint recorded, so the file is not read again), and
 * (resumed) the checkpoint's loom.pretrained metadata, kept for the next checkpoints. */
static loom_dataset *open_data(run *r, bool resume, const loom_wordvec *wv, loom_error *err) {
  loom_model_spec s;
  loom_model_spec_read(r->cfg, &s);
  bool from_file = s.text.vocab_from_pretrained;
  if (!resume || !s.text.pretrained[0]) {
    if (!from_file) return loom_dataset_open(&r->dsec.schema, NULL, err);
    loom_vocab *v = loom_wordvec_vocab(wv, r->dsec.schema.num_words, err);
    loom_dataset *ds = v ? loom_dataset_open_vocab(&r->dsec.schema, v, err) : NULL;
    loom_vocab_free(v);
    return ds;
  }
  char path[1100];
  train_path_in(path, sizeof path, r, "last.safetensors");
  loom_st_file *f = loom_st_open(path, err);
  if (!f) return NULL;
  loom_dataset *ds = NULL;
  const char *pj = loom_st_meta(f, "loom.pretrained"), *pt = loom_st_meta(f, "loom.prep");
  if (pj && !(r->pretrained_json = loom_strdup(pj))) {
    loom_errorf(err, "out of memory");
  } else if (!from_file) {
    ds = loom_dataset_open(&r->dsec.schema, NULL, err);
  } else if (!pt) {
    loom_errorf(err, "%s: metadata 'loom.prep' is missing — the checkpoint is incomplete; use another one", path);
  } else {
    loom_prep p;
    if (loom_prep_from_string(&p, pt, err) < 0) loom_error_wrap(err, "%s: metadata 'loom.prep'", path);
    else if (!p.vocab) loom_errorf(err, "%s: metadata 'loom.prep' holds no vocabulary — the checkpoint is not of this run", path);
    else ds = loom_dataset_open_vocab(&r->dsec.schema, p.vocab, err);
    loom_prep_free(&p);
  }
  loom_st_close(f);
  return ds;
}

/* A new run: the vectors into the model's word embeddings, the counts noted for log.txt and the
 * progress stream, and metadata loom.pretrained for the checkpoints. */
static int pretrained_load(run *r, const loom_wordvec *wv, loom_error *err) {
  const loom_config *c = r->cfg;
  loom_wordvec_stats st;
  if (loom_model_load_wordvec(r->m, c, loom_dataset_prep(r->ds)->vocab, wv, &st, err) < 0) return -1;
  loom_model_spec s;
  loom_model_spec_read(c, &s);
  const char *file = s.text.pretrained;
  bool frozen = s.text.freeze, from_file = s.text.vocab_from_pretrained;
  snprintf(r->pretrained_note, sizeof r->pretrained_note,
           "pretrained vectors %s (%s, %lld words x %d)%s: %lld of %lld vocabulary words found, %lld not found "
           "(initialised as usual), %lld file words unused (%lld not one token, %lld another spelling of a word "
           "found); embedding %s\n", file, loom_wordvec_format_name(wv->format), (long long)wv->n, wv->dim,
           from_file ? ", vocabulary from the file" : "", (long long)st.found, (long long)(st.found + st.missing),
           (long long)st.missing, (long long)st.unused, (long long)st.not_token, (long long)st.refolded,
           frozen ? "frozen" : "trained");
  cJSON *o = cJSON_CreateObject();
  bool ok = o && cJSON_AddStringToObject(o, "path", file) &&
            cJSON_AddStringToObject(o, "sha256", s.text.pretrained_sha256) &&
            cJSON_AddStringToObject(o, "format", loom_wordvec_format_name(wv->format)) &&
            cJSON_AddNumberToObject(o, "words", (double)wv->n) && cJSON_AddNumberToObject(o, "dim", wv->dim) &&
            cJSON_AddNumberToObject(o, "found", (double)st.found) &&
            cJSON_AddNumberToObject(o, "missing", (double)st.missing) &&
            cJSON_AddNumberToObject(o, "unused", (double)st.unused) &&
            cJSON_AddBoolToObject(o, "vocab_from_pretrained", from_file) && cJSON_AddBoolToObject(o, "frozen", frozen);
  char *text = ok ? cJSON_PrintUnformatted(o) : NULL;
  cJSON_Delete(o);
  r->pretrained_json = text ? loom_strdup(text) : NULL;
  cJSON_free(text);
  return r->pretrained_json ? 0 : loom_errorf(err, "out of memory");
}

static int setup(run *r, const loom_train_opts *o, loom_error *err) {
  if (!(r->cfg = loom_train_config_new(&r->dsec))) return loom_errorf(err, "out of memory");
  if (o->resume_dir) {
    char path[1100];
    snprintf(path, sizeof path, "%s/config.ini", o->resume_dir);
    if (access(path, R_OK) < 0)
      return loom_errorf(err, "--resume %s: no config.ini there (%s) — is it a loom-train run directory?",
                         o->resume_dir, strerror(errno));
    if (loom_config_load(r->cfg, path, err) < 0) return -1;
  } else if (loom_config_load(r->cfg, o->config_path, err) < 0) {
    return -1;
  }
  for (int i = 0; i < o->n_sets; i++)
    if (loom_config_set_arg(r->cfg, o->sets[i], err) < 0) return -1;
  if (o->resume_dir && loom_config_set(r->cfg, "train", "out", o->resume_dir, "--resume", err) < 0) return -1;
  if (loom_model_backbone_config(r->cfg, err) < 0 || loom_model_check_config(r->cfg, err) < 0) return -1;
  loom_train_spec_read(r->cfg, &r->spec);
  snprintf(r->dir, sizeof r->dir, "%s", r->spec.out);
  if (loom_data_schema_validate(&r->dsec.schema, err) < 0) return loom_error_wrap(err, "[data]");
  if (train_claim_dir(r, o->resume_dir != NULL, err) < 0) return -1;
  if (r->versioned_from[0]) { /* the run's own config names where it is */
    if (loom_config_set(r->cfg, "train", "out", r->dir, "train.out", err) < 0) return -1;
    loom_train_spec_read(r->cfg, &r->spec); /* spec.out pointed at the value just replaced */
    char msg[4400];
    snprintf(msg, sizeof msg, "%s holds a run: this one writes %s (%s-latest points to it; continue the old run with "
             "--resume %s)\n", r->versioned_from, r->dir, r->versioned_from, r->versioned_from);
    train_notice(r, msg);
  }
  r->dsec.schema.label_values = loom_train_label_values(r->cfg, &r->dsec.schema);
  if (loom_train_label_cols(r->cfg, &r->dsec.schema, err) < 0) return -1; /* multitask heads' columns */
  loom_wordvec wv = {0};
  if (pretrained_resolve(r, o->resume_dir != NULL, &wv, err) < 0 ||
      !(r->ds = open_data(r, o->resume_dir != NULL, &wv, err)) ||
      loom_model_check_memory(r->cfg, r->ds, r->dsec.schema.batch_size, err) < 0 ||
      !(r->m = loom_model_build(r->cfg, r->ds, err)) || (wv.vec && pretrained_load(r, &wv, err) < 0) ||
      (!o->resume_dir && loom_model_backbone_load(loom_model_graph(r->m), r->cfg, r->pretrained_note + strlen(r->pretrained_note),
                                                  sizeof r->pretrained_note - strlen(r->pretrained_note), err) < 0)) {
    loom_wordvec_free(&wv);
    return -1;
  }
  loom_wordvec_free(&wv);
  const loom_train_spec *ts = &r->spec;
  loom_optim_config oc = loom_optim_defaults(ts->optimizer);
  oc.weight_decay = (float)ts->weight_decay;
  oc.momentum = (float)ts->momentum;
  if (!(r->opt = loom_optim_new(loom_model_graph(r->m), &oc, err)) || loom_model_set_lr_mult(r->m, r->cfg, r->opt, err) < 0)
    return -1;
  if (!(r->train_ld = loom_loader_new(r->ds, LOOM_SPLIT_TRAIN, ts->prefetch, err)))
    return -1;
  r->epochs = ts->epochs;
  r->max_steps = ts->max_steps;
  r->eval_every = ts->eval_every;
  r->log_every = ts->log_every;
  r->patience = ts->patience;
  r->clip = (float)ts->clip_norm;
  r->skip_nonfinite = ts->nonfinite == LOOM_NONFINITE_SKIP;
  r->max_skips = ts->max_skips;
  r->test_at_end = ts->test_at_end;
  if (r->test_at_end && loom_dataset_rows(r->ds, LOOM_SPLIT_TEST) == 0)
    return loom_errorf(err, "train.test_at_end = true but the test split is empty — give it rows ([data] split, "
                            "split_ratio) or set train.test_at_end = false");
  size_t nbuf = buffers_numel(loom_model_graph(r->m));
  if (r->skip_nonfinite && nbuf > 0 && !(r->buf_snap = loom_malloc(nbuf * sizeof(float))))
    return loom_errorf(err, "out of memory");
  int64_t ntr = loom_dataset_rows(r->ds, LOOM_SPLIT_TRAIN);
  int B = r->dsec.schema.batch_size;
  if (ntr <= 0) return loom_errorf(err, "[data] the training split is empty");
  long per_epoch = (long)(r->dsec.schema.drop_last ? ntr / B : (ntr + B - 1) / B);
  if (per_epoch <= 0) return loom_errorf(err, "[data] batch_size = %d exceeds the %" PRId64 " training rows with drop_last", B, ntr);
  r->total_steps = per_epoch * r->epochs;
  if (r->max_steps > 0 && r->max_steps < r->total_steps) r->total_steps = r->max_steps;
  r->sched = (loom_lr_schedule){.kind = ts->schedule,
                                .base_lr = (float)ts->lr,
                                .step_size = ts->step_size,
                                .gamma = (float)ts->gamma,
                                .total_steps = per_epoch * r->epochs, /* max_steps only cuts it short */
                                .min_lr = (float)ts->min_lr,
                                .warmup_steps = ts->warmup_steps,
                                .warmup_start_factor = 0.01f};
  if (r->sched.kind == LOOM_LR_COSINE && r->sched.warmup_steps >= r->sched.total_steps)
    return loom_errorf(err, "[train] warmup_steps = %ld must be below the %ld updates of the run", r->sched.warmup_steps,
                       r->sched.total_steps);
  if (setup_metrics(r, err) < 0) return -1;
  int stale = train_remove_stale_temps(r);
  if (!(r->config_text = loom_config_dump(r->cfg)) || !(r->prep_text = loom_prep_to_string(loom_dataset_prep(r->ds))))
    return loom_errorf(err, "out of memory");
  if (train_inputs_json(r, err) < 0) return -1;
  if (o->resume_dir && restore(r, err) < 0) return -1;
  char path[1100];
  train_path_in(path, sizeof path, r, "config.ini");
  if (loom_write_file_atomic(path, r->config_text, strlen(r->config_text), err) < 0) return -1;
  train_path_in(path, sizeof path, r, "log.txt");
  if (!(r->log = fopen(path, "a"))) return loom_errorf(err, "%s: cannot open the log: %s", path, strerror(errno));
  char summary[1024];
  loom_dataset_summary(r->ds, summary, sizeof summary);
  size_t n_params = 0;
  for (int i = 0; i < loom_graph_n_param_tensors(loom_model_graph(r->m)); i++)
    n_params += loom_tensor_numel(loom_graph_param_tensor(loom_model_graph(r->m), i));
  char header[3072];
  snprintf(header, sizeof header, "%s %s: loom %s, %s ISA, OpenBLAS %s, %d threads, fp32, task %s, %zu parameters\n%s\n",
           o->resume_dir ? "resume" : "start", r->dir, loom_version(), loom_isa_name(loom_runtime_isa()),
           loom_blas_core_name(), loom_num_threads(), loom_task_name(loom_model_task(r->m)), n_params, summary);
  train_logf(r, "%s", header);
  if (r->versioned_from[0]) train_logf(r, "%s holds a run: this one writes %s\n", r->versioned_from, r->dir);
  if (r->progress) fprintf(r->progress, "%s", header); /* the same header on the terminal */
  if (r->json) {
    cJSON *f = cJSON_CreateObject();
    if (f) {
      cJSON_AddStringToObject(f, "run_dir", r->dir);
      cJSON_AddBoolToObject(f, "resume", o->resume_dir != NULL);
      cJSON_AddStringToObject(f, "loom", loom_version());
      cJSON_AddStringToObject(f, "isa", loom_isa_name(loom_runtime_isa()));
      cJSON_AddStringToObject(f, "blas_core", loom_blas_core_name());
      cJSON_AddNumberToObject(f, "threads", loom_num_threads());
      cJSON_AddStringToObject(f, "precision", "fp32");
      cJSON_AddStringToObject(f, "task", loom_task_name(loom_model_task(r->m)));
      cJSON_AddNumberToObject(f, "parameters", (double)n_params);
      cJSON_AddStringToObject(f, "data", summary);
    }
    train_json_event(r, "start", f);
  }
  if (o->resume_dir) train_logf(r, "resumed at step %ld, epoch %ld\n", r->step, epoch_no(r));
  if (r->pretrained_note[0]) {
    train_logf(r, "%s", r->pretrained_note);
    if (r->progress) fprintf(r->progress, "%s", r->pretrained_note);
  }
  if (stale > 0) train_logf(r, "removed %d temporary files left by a killed process\n", stale);
  return 0;
}

/* Tells opts.on_progress (if any) of a step window, a validation or the end; its non-zero return
 * stops the run like opts.stop. */
static bool train_notify(run *r, const loom_train_opts *o, const char *event, double loss) {
  if (!o->on_progress) return false;
  const char *names[LOOM_EVAL_MAX_METRICS + 1];
  double values[LOOM_EVAL_MAX_METRICS + 1];
  int n = 0;
  if (!strcmp(event, "eval")) {
    names[n] = "val_loss", values[n++] = r->ev->loss;
    for (int i = 0; i < r->ev->n_metrics && n < LOOM_EVAL_MAX_METRICS + 1; i++)
      names[n] = r->ev->names[i], values[n++] = r->ev->val[i];
  }
  loom_train_progress p = {.event = event, .step = r->step, .epoch = r->epoch, .loss = loss,
                           .lr = loom_lr_at(&r->sched, r->step), .seconds = train_now() - r->t0,
                           .n = n, .names = names, .values = values};
  return o->on_progress(o->progress_ctx, &p) != 0;
}

int loom_train(const loom_train_opts *o, loom_train_result *res, loom_error *err) {
  memset(res, 0, sizeof *res);
  run *r = loom_calloc(1, sizeof *r);
  if (!r) return loom_errorf(err, "out of memory");
  r->lock_fd = -1;
  r->progress = o->json ? NULL : o->progress; /* --json: events instead of text */
  r->json = o->json ? o->progress : NULL;
  r->tty = r->progress && isatty(fileno(r->progress));
  int rc = -1;
  if (setup(r, o, err) < 0) {
    train_release_dir(r, true);
    goto done;
  }
  loom_model *m = r->m;
  r->t0 = r->t_window = train_now();
  r->epoch_start = r->epoch;
  double win_loss = 0;
  long win_n = 0;
  bool stop_early = false, cb_stop = false;
  for (;;) {
    if ((o->stop && *o->stop) || cb_stop) {
      res->interrupted = true;
      break;
    }
    if (r->epoch >= r->epochs || (r->max_steps > 0 && r->step >= r->max_steps)) break;
    const double t_ask = train_now();
    const loom_batch *b = loom_loader_next(r->train_ld, err);
    if (r->epoch == r->epoch_start) r->wait_first += train_now() - t_ask;
    else r->wait_later += train_now() - t_ask;
    if (!b) goto done;
    if (b->B == 0) { /* end of an epoch */
      r->epoch++;
      r->at_epoch_end = true;
      if (r->eval_every == 0 || r->epoch >= r->epochs) {
        if (eval_and_save(r, train_now() - r->t0, err) < 0) goto done;
        cb_stop = train_notify(r, o, "eval", r->ev->loss);
        if (r->patience > 0 && r->bad_evals >= r->patience) {
          stop_early = true;
          break;
        }
      }
      continue;
    }
    if (loom_model_compile(m, b->B, true, err) < 0 || loom_model_bind(m, b, err) < 0) goto done;
    loom_graph_zero_grad(loom_model_graph(m));
    if (r->buf_snap) buffers_copy(loom_model_graph(m), r->buf_snap, true);
    loom_graph_forward(loom_model_graph(m));
    float loss = loom_model_loss(m)->data[0];
    char fault[512] = "";
    if (!isfinite(loss)) {
      snprintf(fault, sizeof fault, "training loss is %g", (double)loss);
    } else {
      loom_graph_backward(loom_model_graph(m), loom_model_loss(m));
      /* one pass over the gradients: the norm clipping needs is also the finiteness check */
      float norm = r->clip > 0 ? loom_clip_grad_norm(loom_model_graph(m), r->clip) : loom_grad_norm(loom_model_graph(m));
      if (!isfinite(norm)) describe_grad_fault(loom_model_graph(m), fault, sizeof fault);
    }
    /* A skipped batch still takes its step: r->step counts batches, so the LR schedule, eval_every,
     * max_steps and the epoch stay functions of the batches consumed, and a resume replays the same
     * batches with the same dropout stream into the same skips. Only Adam's t (optimizer steps) counts
     * updates, as when PyTorch's GradScaler skips optimizer.step(). */
    if (fault[0]) {
      if (skip_batch(r, fault, err) < 0) goto done;
    } else {
      loom_optim_step(r->opt, loom_lr_at(&r->sched, r->step));
      r->consec_skips = 0;
      r->loss_sum += loss, r->loss_n++;
      win_loss += loss, win_n++;
    }
    r->step++;
    r->at_epoch_end = false;
    r->samples_window += b->B, r->samples_total += b->B;
    bool line_due = r->step % r->log_every == 0;
    double t = train_now();
    double sps = t > r->t0 ? (double)r->samples_total / (t - r->t0) : 0;
    train_show_progress(r, win_n > 0 ? win_loss / (double)win_n : NAN, sps, line_due);
    if (line_due) {
      cb_stop = train_notify(r, o, "step", win_n > 0 ? win_loss / (double)win_n : NAN);
      if (!r->have_first && win_n > 0) r->first_loss = win_loss / (double)win_n, r->have_first = true;
      win_loss = 0, win_n = 0;
    }
    if (r->eval_every > 0 && r->step % r->eval_every == 0) {
      if (eval_and_save(r, train_now() - r->t0, err) < 0) goto done;
      cb_stop = train_notify(r, o, "eval", r->ev->loss) || cb_stop;
      if (r->patience > 0 && r->bad_evals >= r->patience) {
        stop_early = true;
        break;
      }
    }
  }
  if (!r->have_first && win_n > 0) r->first_loss = win_loss / (double)win_n, r->have_first = true;
  if (res->interrupted) {
    if (r->step != r->last_save_step && save_ckpt(r, "last.safetensors", true, err) < 0) goto done;
    train_logf(r, "interrupted at step %ld; continue with --resume %s\n", r->step, r->dir);
    if (r->progress) fprintf(r->progress, "%sinterrupted at step %ld: checkpoint written; continue with --resume %s\n",
                             r->tty ? "\n" : "", r->step, r->dir);
  } else if (r->step != r->last_eval_step) {
    if (eval_and_save(r, train_now() - r->t0, err) < 0) goto done;
    train_notify(r, o, "eval", r->ev->loss);
  }
  if (res->interrupted) {
    cJSON *f = cJSON_CreateObject();
    if (f) cJSON_AddNumberToObject(f, "step", (double)r->step), cJSON_AddStringToObject(f, "run_dir", r->dir);
    train_json_event(r, "interrupted", f);
  }
  if (stop_early) train_logf(r, "early stop: no improvement of %s in %ld validations\n", r->monitor_name, r->patience);
  if (r->test_at_end && !res->interrupted && train_test_at_end(r, err) < 0) goto done;
  double wall = train_now() - r->t0;
  if (write_report(r, wall, err) < 0) goto done;
  if (train_write_result(r, wall, stop_early, res->interrupted, err) < 0) goto done;
  char best_txt[64];
  if (isfinite(r->best)) snprintf(best_txt, sizeof best_txt, "%.6f", r->best);
  else snprintf(best_txt, sizeof best_txt, "n/a");
  train_logf(r, "done: %ld steps (%ld updates, %ld batches skipped: non-finite), %ld epochs, best %s %s at step %ld, %.1f s, "
           "%.0f samples/s\n",
        r->step, r->step - r->skipped, r->skipped, r->epoch, r->monitor_name, best_txt, r->best_step, wall,
        wall > 0 ? (double)r->samples_total / wall : 0.0);
  /* Time the training loop sat waiting for the prefetching loader: the first epoch decodes images and
   * tokenises; later epochs should find every batch ready. */
  train_logf(r, "waiting for data: %.3f s in the first epoch, %.3f s after it (%.1f%% of the run)\n", r->wait_first,
        r->wait_later, wall > 0 ? 100.0 * (r->wait_first + r->wait_later) / wall : 0.0);
  if (r->progress && r->tty) fprintf(r->progress, "\n");
  if (r->json) {
    cJSON *f = cJSON_CreateObject();
    if (f) {
      cJSON_AddStringToObject(f, "run_dir", r->dir);
      cJSON_AddNumberToObject(f, "steps", (double)r->step);
      cJSON_AddNumberToObject(f, "epochs", (double)r->epoch);
      cJSON_AddStringToObject(f, "monitor", r->monitor_name);
      isfinite(r->best) ? (void)cJSON_AddNumberToObject(f, "best", r->best) : (void)cJSON_AddNullToObject(f, "best");
      cJSON_AddNumberToObject(f, "best_step", (double)r->best_step);
      cJSON_AddBoolToObject(f, "early_stopped", stop_early);
      cJSON_AddBoolToObject(f, "interrupted", res->interrupted);
      cJSON_AddNumberToObject(f, "wall_s", wall);
    }
    train_json_event(r, "done", f);
  }
  res->last_loss = r->loss_n > 0 ? r->loss_sum / (double)r->loss_n : r->last_train_loss;
  res->skipped = r->skipped;
  res->steps = r->step, res->epochs = r->epoch, res->first_loss = r->first_loss, res->best = r->best;
  snprintf(res->monitor, sizeof res->monitor, "%s", r->monitor_name);
  snprintf(res->undefined_metric, sizeof res->undefined_metric, "%s", r->undefined_metric);
  memcpy(res->val, r->ev->val, sizeof res->val);
  for (int i = 0; i < r->ev->n_metrics; i++) snprintf(res->val_names[i], sizeof res->val_names[i], "%s", r->ev->names[i]);
  res->n_val = r->ev->n_metrics;
  res->early_stopped = stop_early;
  train_notify(r, o, "done", res->last_loss);
  res->seconds = wall;
  res->samples_per_s = wall > 0 ? (double)r->samples_total / wall : 0;
  snprintf(res->run_dir, sizeof res->run_dir, "%s", r->dir);
  rc = 0;
done:
  run_free(r);
  return rc;
}
