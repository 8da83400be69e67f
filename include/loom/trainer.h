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

#include "loom/config.h"
#include "loom/data.h"
#include "loom/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The [data] section as an owned config section: every key goes to loom_data_schema_set and is
 * recorded (later values replace earlier ones) so that the resolved config prints it back.
 * Relative paths (interactions, items, users, image_root) are made absolute when set. */
#define LOOM_DATA_SECTION_MAX 64
typedef struct loom_data_section {
  loom_data_schema schema;
  int n;
  char key[LOOM_DATA_SECTION_MAX][LOOM_DATA_NAME];
  char value[LOOM_DATA_SECTION_MAX][LOOM_DATA_PATH];
  loom_cfg_section section; /* name "data", ctx = this */
} loom_data_section;

/* A config over loom_train_keys with [data] handed to ds (which must outlive the config). */
loom_config *loom_train_config_new(loom_data_section *ds);

typedef struct loom_train_opts {
  const char *config_path;           /* INI file; ignored with resume_dir (its config.ini is used) */
  const char *const *sets;           /* "section.key=value" overrides, applied after the file */
  int n_sets;
  const char *resume_dir;            /* continue the run in this directory from last.safetensors */
  volatile sig_atomic_t *stop;       /* set (e.g. by SIGINT): finish the step, checkpoint, return */
  FILE *progress;                    /* progress output (NULL: none); a bar when it is a terminal */
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

/* What [data] label_values the task of config c needs for schema s: 2 for binary (labels 0 or 1), K for
 * multiclass with numeric labels and task.classes = K, else 0 (class names, ranking, retrieval). The
 * trainer and loom-infer eval set it before opening a dataset, so a bad label in any split is refused
 * at load with its file and line. */
int loom_train_label_values(const loom_config *c, const loom_data_schema *s);

/* Checks a checkpoint written by loom_train before trusting it: safetensors structure, the metadata a
 * run needs, and that every F32 tensor is finite. -1 with err naming the file (and tensor) at fault. */
int loom_train_check_checkpoint(const char *path, loom_error *err);
/* Every F32 tensor of an open checkpoint is finite (loom-train never writes another kind, but a file from
 * an older build or another tool might hold a diverged model); -1 naming the tensor and element. */
struct loom_st_file;
/* Whether two checkpoints hold the same run state: every tensor (parameters, buffers, optimiser moments)
 * bit for bit in name, dtype and shape, and the training state in the metadata (step, epoch, optimiser
 * step, RNG, loader position, counters; not timings). 0 same; 1 different, err naming the first
 * difference; -1 when a file cannot be read (err says why). */
int loom_train_compare_checkpoints(const char *a, const char *b, loom_error *err);
int loom_train_check_finite(const struct loom_st_file *f, const char *path, loom_error *err);

#ifdef __cplusplus
}
#endif
#endif
