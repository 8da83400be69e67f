/* evaluate_heads.c — the evaluator's part for task.kind = regression and multitask (heads.c): one eval-mode
 * pass over the split keeping every head's output and label, then per head RMSE, MAE and R² (regression,
 * in label units) or AUC, LogLoss, accuracy, precision, recall and F1 (binary, at task.threshold). A
 * regression model's metrics are named rmse, mae, r2; a multitask model's column/metric (clicked/auc,
 * dwell_s/rmse). The loss is the model's (weighted sum of the heads', standardised targets). */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "heads.h"
#include "loom/alloc.h"

static const char *const reg_names[] = {"rmse", "mae", "r2"};
static const char *const bin_names[] = {"auc", "logloss", "accuracy", "precision", "recall", "f1"};

int loom_eval_heads_setup(loom_evaluator *ev, loom_error *err) {
  const loom_model *m = ev->m;
  const int H = m->n_heads;
  for (int k = 0; k < H; k++) {
    const loom_head *h = &m->heads[k];
    int n = h->binary ? 6 : 3;
    for (int j = 0; j < n && ev->n_metrics < LOOM_EVAL_MAX_METRICS; j++) {
      const char *base = h->binary ? bin_names[j] : reg_names[j];
      if (m->task == LOOM_TASK_REGRESSION) snprintf(ev->names[ev->n_metrics++], sizeof ev->names[0], "%s", base);
      else snprintf(ev->names[ev->n_metrics++], sizeof ev->names[0], "%s/%s", h->name, base);
    }
  }
  size_t n = (size_t)ev->cap * (size_t)H;
  ev->scores = loom_malloc(sizeof(float) * n); /* (H, cap): outputs, head-major */
  ev->probs = loom_malloc(sizeof(float) * n);  /* binary heads: sigmoid of the outputs */
  ev->labels = loom_malloc(sizeof(float) * n); /* labels as the file holds them */
  if (!ev->scores || !ev->probs || !ev->labels)
    return loom_errorf(err, "out of memory for %" PRId64 " evaluation rows", ev->cap);
  return 0;
}

int loom_eval_heads_run(loom_evaluator *ev, loom_loader *ld, loom_error *err) {
  loom_model *m = ev->m;
  const int H = m->n_heads;
  const size_t cap = (size_t)ev->cap;
  int64_t n = 0;
  double loss = 0;
  for (;;) {
    const loom_batch *b = loom_loader_next(ld, err);
    if (!b) return -1;
    if (b->B == 0) break;
    if (n + b->B > ev->cap) return loom_errorf(err, "the evaluated split grew while reading it");
    if (loom_model_compile(m, b->B, false, err) < 0 || loom_model_bind(m, b, err) < 0) return -1;
    loom_graph_forward(m->g);
    loss += (double)m->loss->data[0] * b->B;
    for (int k = 0; k < H; k++) {
      const loom_head *h = &m->heads[k];
      for (int i = 0; i < b->B; i++) {
        size_t at = (size_t)k * cap + (size_t)(n + i);
        float z = h->out->data[i];
        ev->scores[at] = z;
        ev->probs[at] = h->binary ? 1.0f / (1.0f + expf(-z)) : z;
        ev->labels[at] = loom_head_label(h, b, i);
      }
    }
    n += b->B;
  }
  ev->n_rows = n;
  ev->loss = loss / (double)(n > 0 ? n : 1);
  int at = 0;
  for (int k = 0; k < H; k++) {
    const float *s = ev->scores + (size_t)k * cap, *p = ev->probs + (size_t)k * cap, *y = ev->labels + (size_t)k * cap;
    if (m->heads[k].binary) {
      loom_binary_counts c = loom_binary_count(p, y, (size_t)n, ev->threshold);
      double v[6] = {loom_auc(s, y, (size_t)n), loom_logloss(p, y, (size_t)n), loom_accuracy(c), loom_precision(c),
                     loom_recall(c), loom_f1(c)};
      for (int j = 0; j < 6 && at < ev->n_metrics; j++) ev->val[at++] = v[j];
    } else {
      double v[3] = {loom_rmse(s, y, (size_t)n), loom_mae(s, y, (size_t)n), loom_r2(s, y, (size_t)n)};
      for (int j = 0; j < 3 && at < ev->n_metrics; j++) ev->val[at++] = v[j];
    }
  }
  return 0;
}

const char *loom_evaluator_auto_monitor(const loom_evaluator *ev) {
  if (ev->m->n_heads == 0) return NULL;
  return ev->n_metrics > 0 ? ev->names[0] : NULL; /* the first head's: auc, or rmse */
}
