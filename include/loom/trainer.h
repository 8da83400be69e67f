/* loom/trainer.h — a training run from a config: the run directory (config.ini, log.txt, metrics.csv,
 * last.safetensors, best.safetensors, report.html), the loop (Adam/SGD, clipping, LR schedule,
 * validation, early stopping, NaN/Inf checks: train.nonfinite = stop|skip), progress output, and
 * bit-exact resume from last.safetensors, which holds the model, the optimiser moments and step, the
 * RNG states, the loader position and the counters.
 * The model itself is model.h; the CLI (apps/loom-train.c) only parses flags and installs SIGINT.
 *
 *   loom_train_opts o = {.config_path = "configs/fashion-shop-click.ini", .sets = sets, .n_sets = n};
 *   loom_train_result r;
 *   if (loom_train(&o, &r, &err) < 0) fprintf(stderr, "%s\n", err.msg);
 */
#ifndef LOOM_TRAINER_H
#define LOOM_TRAINER_H

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>

#include "loom/checkpoint.h" /* the run config and checkpoint checks */
#include "loom/config.h"
#include "loom/data.h"
#include "loom/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What a progress callback (loom_train_opts.on_progress) is told: event "step" every train.log_every
 * steps (loss = mean training loss of that window), "eval" after every validation (names/values: the
 * validation metrics in metrics.csv's order, val_loss first), "done" once at the end. Valid during the call. */
typedef struct loom_train_progress {
  const char *event;
  long step, epoch;
  double loss;         /* "step": window mean; "eval": val_loss; "done": the last training loss */
  double lr;           /* the learning rate at this step */
  double seconds;      /* wall time since the start of this invocation */
  int n;               /* "eval": metrics (names, values); else 0 */
  const char *const *names;
  const double *values;
} loom_train_progress;
/* Called from the training thread; a non-zero return stops the run as opts.stop does (the step ends,
 * last.safetensors is written, the result says interrupted). For bindings (python/loom) and GUIs. */
typedef int (*loom_train_progress_fn)(void *ctx, const loom_train_progress *p);

typedef struct loom_train_opts {
  const char *config_path;           /* INI file; ignored with resume_dir (its config.ini is used) */
  const char *const *sets;           /* "section.key=value" overrides, applied after the file */
  int n_sets;
  const char *resume_dir;            /* continue the run in this directory from last.safetensors */
  volatile sig_atomic_t *stop;       /* set (e.g. by SIGINT): finish the step, checkpoint, return */
  FILE *progress;                    /* progress output (NULL: none); a bar when it is a terminal */
  bool json;                         /* progress as JSON lines instead: one event object per line, "event" =
                                      * start | step | eval | warning | interrupted | done (docs/training.md) */
  loom_train_progress_fn on_progress; /* NULL: none; see loom_train_progress */
  void *progress_ctx;
} loom_train_opts;

#define LOOM_TRAIN_MAX_METRICS 48

typedef struct loom_train_result {
  long steps;          /* steps taken in total (including those before a resume); a batch skipped for a
                        * non-finite loss or gradient (train.nonfinite = skip) takes a step, no update */
  long skipped;        /* of those, batches skipped (in total, including before a resume) */
  long epochs;         /* epochs completed */
  double first_loss;   /* mean training loss of the first logged window of this invocation */
  double last_loss;    /* mean training loss since the previous validation */
  double best;         /* best value of the monitored validation metric */
  char monitor[32];    /* its name: task.monitor, or val_loss when that was undefined on validation */
  char undefined_metric[32]; /* "" or the task.monitor that was undefined (one class in validation) */
  double val[LOOM_TRAIN_MAX_METRICS];    /* last validation metrics, in metrics.csv's order after val_loss */
  char val_names[LOOM_TRAIN_MAX_METRICS][24];
  int n_val;
  bool interrupted;    /* stopped by opts.stop */
  bool early_stopped;  /* stopped by patience */
  double seconds;      /* wall time of this invocation */
  double samples_per_s;
  char run_dir[1024];
} loom_train_result;

/* Runs (or resumes) a training run. Returns 0, or -1 with err naming the file, key or checkpoint
 * field at fault. */
int loom_train(const loom_train_opts *o, loom_train_result *r, loom_error *err);

/* A sweep: every combination of the values of `sweeps` ("section.key=a,b,c"; the first key varies
 * slowest), each trained as its own run in train.out/<label> (label "key=a,key2=x"; "/" in a value
 * becomes "_") with `o`'s config and overrides plus that combination, then train.out/compare.html over
 * the variants that trained (loom_report_compare). A variant that fails is reported and the others
 * still run; opts.stop ends the sweep after the current variant. `done` (may be NULL) is told of each
 * variant as it ends (rc 0, or -1 with vr_err). Returns 0 when every variant trained, -1 otherwise
 * (err: the first failure, or what was wrong with the sweep itself — nothing trains then). */
typedef void (*loom_sweep_done_fn)(void *ctx, int index, int total, const char *label, int rc,
                                   const loom_train_result *vr, const loom_error *vr_err);
int loom_train_sweep(const loom_train_opts *o, const char *const *sweeps, int n_sweeps, loom_sweep_done_fn done,
                     void *ctx, loom_error *err);

#ifdef __cplusplus
}
#endif
#endif
