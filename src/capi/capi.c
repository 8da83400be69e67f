/* capi.c — flat entry points for foreign-function callers (loom/capi.h). */
#include "loom/capi.h"

#include <stdio.h>
#include <string.h>

#include "loom/alloc.h"
#include "loom/infer.h"

size_t loom_capi_sizeof(const char *name) {
  if (!name) return 0;
  if (!strcmp(name, "loom_error")) return sizeof(loom_error);
  if (!strcmp(name, "loom_hit")) return sizeof(loom_hit);
  if (!strcmp(name, "loom_infer_row")) return sizeof(loom_infer_row);
  if (!strcmp(name, "loom_infer_opts")) return sizeof(loom_infer_opts);
  if (!strcmp(name, "loom_train_progress")) return sizeof(loom_train_progress);
  return 0;
}

int loom_capi_train(const char *config, const char *const *sets, int n_sets, const char *resume_dir,
                    loom_train_progress_fn fn, void *ctx, char *run_dir, size_t run_dir_size, loom_error *err) {
  if (!config && !resume_dir) return loom_errorf(err, "loom_capi_train: give a config file or a run directory to resume");
  loom_train_opts o = {.config_path = config, .sets = sets, .n_sets = n_sets, .resume_dir = resume_dir,
                       .on_progress = fn, .progress_ctx = ctx};
  loom_train_result *res = loom_calloc(1, sizeof *res); /* large: not on a binding's thread stack */
  if (!res) return loom_errorf(err, "out of memory");
  int rc = loom_train(&o, res, err);
  if (rc == 0 && run_dir && run_dir_size > 0) snprintf(run_dir, run_dir_size, "%s", res->run_dir);
  if (rc == 0 && res->interrupted) rc = 1;
  loom_free(res);
  return rc;
}

const char *loom_capi_error_message(const loom_error *err) { return err ? err->msg : ""; }

int loom_capi_n_classes(const loom_infer *s) {
  const loom_model *m = loom_infer_model(s);
  return m && m->task == LOOM_TASK_MULTICLASS ? m->n_classes : 1;
}

int loom_capi_eval(loom_infer *s, const char *csv, int split, char *names, double *values, int max, loom_error *err) {
  if (!csv && split != LOOM_SPLIT_VAL && split != LOOM_SPLIT_TEST)
    return loom_errorf(err, "loom_capi_eval: split %d: give 1 (val) or 2 (test), or a CSV file", split);
  const loom_evaluator *ev = loom_infer_eval(s, csv, (loom_split)split, err);
  if (!ev) return -1;
  int n = 0;
  if (n < max) snprintf(names + LOOM_CAPI_NAME * n, LOOM_CAPI_NAME, "val_loss"), values[n++] = ev->loss;
  for (int i = 0; i < ev->n_metrics && n < max; i++, n++) {
    snprintf(names + LOOM_CAPI_NAME * n, LOOM_CAPI_NAME, "%s", ev->names[i]);
    values[n] = ev->val[i];
  }
  return n;
}
