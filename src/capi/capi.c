/* capi.c — flat entry points for foreign-function callers (loom/capi.h). */
#include "loom/capi.h"

#include <stdio.h>
#include <string.h>

#include "loom/alloc.h"
#include "loom/checkpoint.h"
#include "loom/graph.h"
#include "loom/model.h"
#include "loom/safetensors.h"
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
  return m && loom_model_task(m) == LOOM_TASK_MULTICLASS ? loom_model_n_classes(m) : 1;
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

static int add_tensor(loom_st_writer *w, const loom_tensor *t, const char *name, loom_error *err) {
  int64_t shape[8];
  for (int k = 0; k < t->ndim; k++) shape[k] = t->shape[k];
  const void *data = t->bound ? t->bound : (t->dtype == LOOM_F32 ? (const void *)t->data : (const void *)t->idata);
  return loom_st_writer_add(w, name, t->dtype == LOOM_F32 ? LOOM_ST_F32 : LOOM_ST_I32, t->ndim, shape, data, err);
}

int loom_capi_export_batch(const char *ckpt, int split, const char *out_path, loom_error *err) {
  if (split < LOOM_SPLIT_TRAIN || split > LOOM_SPLIT_TEST)
    return loom_errorf(err, "loom_capi_export_batch: split %d: give 0 (train), 1 (val) or 2 (test)", split);
  int rc = -1;
  loom_data_section d;
  loom_config *c = loom_train_config_new(&d);
  loom_dataset *ds = NULL;
  loom_model *m = NULL;
  loom_loader *ld = NULL;
  loom_st_writer *w = NULL;
  char *cfg = NULL;
  loom_st_file *f = c ? loom_st_open(ckpt, err) : NULL;
  if (!f) goto done;
  if (loom_ckpt_check_meta(f, ckpt, err) < 0) goto done;
  char name[1200];
  snprintf(name, sizeof name, "%s (metadata loom.config)", ckpt);
  if (loom_config_load_string(c, loom_st_meta(f, "loom.config"), name, err) < 0) goto done;
  /* the run's own data re-read and re-split as training did (as loom_infer_eval on a split) */
  if (loom_train_label_cols(c, &d.schema, err) < 0 || !(ds = loom_dataset_open(&d.schema, NULL, err))) goto done;
  if (!(m = loom_model_build(c, ds, err))) goto done;
  if (loom_st_load_graph_from(loom_model_graph(m), f, 0, err) < 0) goto done;
  loom_model_fill_unknown(m);
  if (!(ld = loom_loader_new(ds, (loom_split)split, 0, err))) goto done;
  const loom_batch *b = loom_loader_next(ld, err);
  if (!b) goto done;
  if (b->B == 0) {
    loom_errorf(err, "%s: split %d of its data has no rows", ckpt, split);
    goto done;
  }
  if (loom_model_compile(m, b->B, false, err) < 0 || loom_model_bind(m, b, err) < 0) goto done;
  loom_graph_forward(loom_model_graph(m));
  w = loom_st_writer_new();
  loom_tensor *ins[LOOM_MODEL_MAX_INPUTS];
  int n_ins = loom_model_feature_inputs(m, ins, LOOM_MODEL_MAX_INPUTS);
  for (int i = 0; i < n_ins; i++)
    if (add_tensor(w, ins[i], ins[i]->name, err) < 0) goto done;
  loom_tensor *outs[] = {loom_model_logits(m), loom_model_user_vec(m), loom_model_item_vec(m)};
  const char *out_names[] = {"logits", "user_vec", "item_vec"};
  for (int i = 0; i < 3; i++)
    if (outs[i] && add_tensor(w, outs[i], out_names[i], err) < 0) goto done;
  cfg = loom_config_dump(c);
  if (!cfg || loom_st_writer_meta(w, "loom.config", cfg, err) < 0) goto done;
  if (loom_st_write(w, out_path, err) < 0) goto done;
  rc = 0;
done:
  loom_free(cfg);
  if (w) loom_st_writer_free(w);
  loom_loader_free(ld);
  loom_model_free(m);
  loom_dataset_free(ds);
  if (f) loom_st_close(f);
  loom_config_free(c);
  return rc;
}
