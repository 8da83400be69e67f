/* loom/capi.h — flat entry points for callers through a foreign-function interface (python/loom uses
 * ctypes over libloom.so; docs/python.md). Everything else such a caller needs is the public API itself
 * (loom/infer.h: sessions, score / rank / search / embed; loom/trainer.h: the progress callback); these
 * few functions spare it struct layouts that hold FILE*, signal flags or large arrays.
 *
 *   char dir[1024]; loom_error err;
 *   if (loom_capi_train("configs/spam.ini", NULL, 0, NULL, fn, ctx, dir, sizeof dir, &err) < 0) ...
 */
#ifndef LOOM_CAPI_H
#define LOOM_CAPI_H

#include <stddef.h>

#include "loom/error.h"
#include "loom/infer.h"
#include "loom/trainer.h"

#ifdef __cplusplus
extern "C" {
#endif

/* sizeof the public struct `name` ("loom_error", "loom_hit", "loom_infer_row", "loom_infer_opts",
 * "loom_train_progress"), or 0 for an unknown name: a binding checks its mirrored layouts against it. */
size_t loom_capi_sizeof(const char *name);

/* loom_train with the config file `config` (NULL with resume_dir), n_sets "section.key=value" overrides,
 * optional resume_dir, and progress through fn (may be NULL; its non-zero return stops the run, which
 * then returns 1). The run directory goes into run_dir (run_dir_size bytes) — read metrics.csv and
 * result.json there. Returns 0 (finished), 1 (stopped by the callback), or -1 with err. */
int loom_capi_train(const char *config, const char *const *sets, int n_sets, const char *resume_dir,
                    loom_train_progress_fn fn, void *ctx, char *run_dir, size_t run_dir_size, loom_error *err);

/* The number of classes of a multiclass session's model (the length of loom_infer_row.probs), else 1. */
int loom_capi_n_classes(const loom_infer *s);
/* loom_infer_eval flattened: the metrics on `csv` (or, csv NULL, split 1 = val / 2 = test of the
 * checkpoint's own data) as "val_loss" then the evaluator's metrics: names into names (max entries of
 * LOOM_CAPI_NAME bytes each), values into values. Returns how many (<= max), or -1 with err. */
#define LOOM_CAPI_NAME 24
int loom_capi_eval(loom_infer *s, const char *csv, int split, char *names, double *values, int max, loom_error *err);

/* One batch of checkpoint `ckpt`'s own data (split 0 train / 1 val / 2 test, the rows as training split
 * them, in the loader's order; the first [data] batch_size of them) as the model's graph sees it: every
 * input tensor under its graph name (tokens, tokens_len, tokens_inv_len, image, numeric, user, category,
 * query, ... — docs/checkpoint-format.md) and the outputs (logits; ranking: user_vec, item_vec), computed
 * in eval mode after loading the weights, into the safetensors file out_path. For checking another
 * implementation of the model (loom.torch) on exactly loom's inputs. 0, or -1 with err. */
int loom_capi_export_batch(const char *ckpt, int split, const char *out_path, loom_error *err);

/* The message of err (for a caller that holds loom_error as an opaque buffer). */
const char *loom_capi_error_message(const loom_error *err);

#ifdef __cplusplus
}
#endif
#endif
