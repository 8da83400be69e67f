/* train_internal.h — what the files of src/train share: the state of one run (struct run) and the
 * functions each concern offers the loop (trainer.c): run directory + lock (rundir.c), progress output
 * (progress.c), input fingerprints (inputs.c). Private to src/train. */
#ifndef LOOM_TRAIN_INTERNAL_H
#define LOOM_TRAIN_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "loom/config.h"
#include "loom/evaluate.h"
#include "loom/model.h"
#include "loom/optim.h"
#include "loom/trainer.h"

#define MAX_METRICS LOOM_TRAIN_MAX_METRICS

/* ---------------------------------------------------------------- the run */

typedef struct run {
  loom_data_section dsec;
  loom_config *cfg;
  loom_dataset *ds;
  loom_model *m;
  loom_optim *opt;
  loom_loader *train_ld;
  loom_lr_schedule sched;
  float clip;
  long step, epoch, epochs, max_steps, eval_every, log_every, patience, bad_evals, best_step, last_eval_step,
      last_save_step, total_steps;
  double best;
  int monitor; /* index into val[], or -1 for val_loss */
  bool monitor_max;
  char monitor_name[32];
  double loss_sum;
  long loss_n;
  /* validation */
  loom_evaluator *ev;
  int64_t *best_confusion;   /* multiclass: the confusion matrix at the best validation */
  /* history: metrics.csv text */
  char *hist;
  size_t hist_len, hist_cap;
  /* output */
  char dir[1024];
  FILE *log, *progress;
  FILE *json; /* --json: progress events as JSON lines here (progress is then NULL) */
  bool tty;
  char *config_text, *prep_text, *inputs_json;
  double t0, t_window, t_print;
  long samples_window, samples_total;
  double wait_first, wait_later; /* seconds blocked in loom_loader_next: first epoch of this process, later */
  long epoch_start;              /* r->epoch when this process started (resume starts mid-run) */
  double first_loss, last_train_loss;
  bool have_first;
  /* non-finite losses and gradients (train.nonfinite): skipped batches in total and in a row (both in
   * last.safetensors), and the graph's buffers before the forward, put back when a batch is skipped */
  bool skip_nonfinite;
  long max_skips, skipped, consec_skips;
  float *buf_snap;
  bool have_ckpt; /* last.safetensors holds this run (written, or resumed from) */
  /* the run directory: .loom.lock held (flock) for the run's life; created by this process */
  int lock_fd;
  bool created_dir, created_lock;
  char versioned_from[1024]; /* train.out as configured, when this run went to train.out-N beside it */
  /* degenerate validation: the configured monitor was undefined (one class), so val_loss is monitored */
  char undefined_metric[32], undefined_why[160];
  bool at_epoch_end; /* the loader has just ended epoch r->epoch (no step taken in the next one yet) */
  /* text.pretrained: metadata loom.pretrained (file, hash, counts) and the line log.txt gets */
  char *pretrained_json;
  char pretrained_note[2048];
  /* train.test_at_end: best.safetensors on the test split (test.c) */
  bool test_at_end, have_test;
  double test_loss, test_val[MAX_METRICS];
  long test_step;    /* the step of the model evaluated (best_step, or the last step without a validation) */
  int64_t test_rows;
} run;

/* The epoch of the latest step, 1-based: what the bar, the log, the evaluation lines and metrics.csv
 * all say. r->epoch counts completed epochs, so a step in the middle of the third epoch is in epoch 3,
 * and the validation right after the third epoch ends is still epoch 3. */
static inline long epoch_no(const run *r) { return r->at_epoch_end ? r->epoch : r->epoch + 1; }

/* Monotonic seconds. */
double train_now(void);
/* A line into log.txt (nothing before it is open). */
void train_logf(run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* out = the run directory's file NAME. */
void train_path_in(char *out, size_t n, const run *r, const char *name);

/* inputs.c: r->inputs_json = the paths and SHA-256 of the input files and the image digest. */
int train_inputs_json(run *r, loom_error *err);

/* progress.c: one JSON event line {"event": name, ...fields} on r->json (nothing without --json); takes
 * ownership of `fields` (an object, or NULL). */
struct cJSON;
void train_json_event(run *r, const char *name, struct cJSON *fields);
/* A warning or notice for the user: the text on the terminal (clearing a bar), or a "warning" event. */
void train_notice(run *r, const char *msg);

/* progress.c: the bar (terminal) or a line (line_due) with loss, samples/s and ETA; the log line. */
void train_show_progress(run *r, double loss, double sps, bool line_due);

/* rundir.c: take train.out for this run (resume: the run's own directory; a new run where one is:
 * train.out-N, r->versioned_from set, train.out-latest pointed at it), its lock held till release;
 * release (failed: remove what this process created); remove temporaries of killed writers (how many). */
int train_claim_dir(run *r, bool resume, loom_error *err);
void train_release_dir(run *r, bool failed);
int train_remove_stale_temps(const run *r);

/* test.c: train.test_at_end — loads best.safetensors into the model and evaluates the test split
 * (r->test_*), logged and shown; a run without a validation evaluates its final parameters. */
int train_test_at_end(run *r, loom_error *err);

/* result.c: result.json — best and last metrics, config hash, steps, wall and CPU time. */
int train_write_result(const run *r, double wall, bool early_stopped, bool interrupted, loom_error *err);

#endif
