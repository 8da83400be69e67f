/* test.c — train.test_at_end: the run's own test-split numbers, computed the way `loom-infer eval
 * best.safetensors --split test` computes them (the same evaluator over the same rows), so a script needs
 * no second command. Runs once, after the last checkpoint is written: it loads best.safetensors into the
 * model, which trains no further. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "loom/evaluate.h"
#include "loom/safetensors.h"
#include "train_internal.h"

int train_test_at_end(run *r, loom_error *err) {
  char path[1100];
  train_path_in(path, sizeof path, r, "best.safetensors");
  r->test_step = r->step;
  if (r->best_step > 0) {
    if (loom_st_load_graph(r->m->g, path, LOOM_ST_ALLOW_UNEXPECTED, err) < 0)
      return loom_error_wrap(err, "train.test_at_end: loading %s", path);
    r->test_step = r->best_step;
  }
  loom_evaluator *ev = loom_evaluator_new(r->m, r->ds, r->cfg, LOOM_SPLIT_TEST, err);
  if (!ev) return loom_error_wrap(err, "train.test_at_end: the test split");
  if (loom_evaluator_run(ev, err) < 0) {
    loom_evaluator_free(ev);
    return loom_error_wrap(err, "train.test_at_end");
  }
  r->have_test = true;
  r->test_loss = ev->loss, r->test_rows = ev->n_rows;
  memcpy(r->test_val, ev->val, sizeof(double) * (size_t)ev->n_metrics);
  char msg[4096];
  size_t k = (size_t)snprintf(msg, sizeof msg, "test (%s at step %ld, %lld rows): loss %.4f",
                              r->best_step > 0 ? "best.safetensors" : "final parameters", r->test_step,
                              (long long)ev->n_rows, ev->loss);
  for (int i = 0; i < ev->n_metrics && k < sizeof msg; i++)
    k += (size_t)snprintf(msg + k, sizeof msg - k, isfinite(ev->val[i]) ? " %s %.4f" : " %s n/a", ev->names[i], ev->val[i]);
  if (k < sizeof msg) snprintf(msg + k, sizeof msg - k, "\n");
  train_logf(r, "%s", msg);
  if (r->progress) fprintf(r->progress, "%s%s", r->tty ? "\r\033[K" : "", msg);
  cJSON *f = cJSON_CreateObject(), *mx = cJSON_CreateObject();
  if (f && mx) {
    cJSON_AddNumberToObject(f, "step", (double)r->test_step);
    cJSON_AddNumberToObject(f, "rows", (double)ev->n_rows);
    cJSON_AddNumberToObject(f, "loss", ev->loss);
    for (int i = 0; i < ev->n_metrics; i++)
      isfinite(ev->val[i]) ? (void)cJSON_AddNumberToObject(mx, ev->names[i], ev->val[i])
                           : (void)cJSON_AddNullToObject(mx, ev->names[i]);
    cJSON_AddItemToObject(f, "metrics", mx), mx = NULL;
  }
  cJSON_Delete(mx);
  train_json_event(r, "test", f);
  loom_evaluator_free(ev);
  return 0;
}
