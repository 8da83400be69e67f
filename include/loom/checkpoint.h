/* loom/checkpoint.h — what a loom-train checkpoint is, for every module that reads one (training's resume,
 * inference): the run's config as it is read back (the [train]... key tables plus [data] as an owned
 * section), the label rule a task imposes on its data, and the checkpoint checks (format and required
 * metadata, finite tensors, run-state comparison). Writing and resuming a run stay in loom/trainer.h.
 *
 *   loom_data_section ds;
 *   loom_config *c = loom_train_config_new(&ds);
 *   loom_config_load_string(c, loom_st_meta(f, "loom.config"), name, &err);
 */
#ifndef LOOM_CHECKPOINT_H
#define LOOM_CHECKPOINT_H

#include <stdbool.h>
#include <stddef.h>

#include "loom/config.h"
#include "loom/data.h"
#include "loom/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* metadata loom.format of every checkpoint this build writes and reads */
#define LOOM_CKPT_FORMAT "loom-train/1"

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

/* What [data] label_values the task of config c needs for schema s: 2 for binary (labels 0 or 1), K for
 * multiclass with numeric labels and task.classes = K, else 0 (class names, ranking, retrieval). The
 * trainer and loom-infer eval set it before opening a dataset, so a bad label in any split is refused
 * at load with its file and line. */
int loom_train_label_values(const loom_config *c, const loom_data_schema *s);
/* The schema's label_cols: the columns of task.heads when task.kind = multitask (none otherwise), set
 * wherever a dataset is opened for a run config (training, inference, the model summary). -1 with err
 * naming the entry of task.heads at fault. */
int loom_train_label_cols(const loom_config *c, loom_data_schema *s, loom_error *err);

struct loom_st_file;
struct loom_graph;

/* A checkpoint's loom.format is LOOM_CKPT_FORMAT and it holds every metadata key a run needs to resume;
 * -1 with err naming the file and the key. */
int loom_ckpt_check_meta(const struct loom_st_file *f, const char *path, loom_error *err);
/* Metadata key as a non-negative integer / a number (strtod: "%a" hex floats round-trip); -1 naming it. */
int loom_ckpt_meta_long(const struct loom_st_file *f, const char *path, const char *key, long *out, loom_error *err);
int loom_ckpt_meta_double(const struct loom_st_file *f, const char *path, const char *key, double *out,
                          loom_error *err);
/* Every tensor of f other than "_train.*" (the optimiser's) is a tensor of g; -1 naming the first that is not. */
int loom_ckpt_check_tensors(const struct loom_st_file *f, struct loom_graph *g, const char *path, loom_error *err);
/* Index of the first NaN or Inf in x[0, n), or -1. */
long loom_ckpt_first_nonfinite(const float *x, size_t n);

/* Checks a checkpoint written by loom_train before trusting it: safetensors structure, the metadata a
 * run needs, and that every F32 tensor is finite. -1 with err naming the file (and tensor) at fault. */
int loom_train_check_checkpoint(const char *path, loom_error *err);
/* Every F32 tensor of an open checkpoint is finite (loom-train never writes another kind, but a file from
 * an older build or another tool might hold a diverged model); -1 naming the tensor and element. */
int loom_train_check_finite(const struct loom_st_file *f, const char *path, loom_error *err);
/* Whether two checkpoints hold the same run state: every tensor (parameters, buffers, optimiser moments)
 * bit for bit in name, dtype and shape, and the training state in the metadata (step, epoch, optimiser
 * step, RNG, loader position, counters; not timings). 0 same; 1 different, err naming the first
 * difference; -1 when a file cannot be read (err says why). */
int loom_train_compare_checkpoints(const char *a, const char *b, loom_error *err);

#ifdef __cplusplus
}
#endif
#endif
