/* heads.c — the heads of task.kind = regression and multitask over the fused vector x (B, dim): per head a
 * Dense(dim -> 1) (head.* for regression, heads.<column>.* for each head of a multitask model), its loss —
 * BCE with logits for a binary head, MSE or Huber (task.loss) on the standardised label for a regression
 * head — and the model's loss, the weighted sum of the heads' losses. A regression head's label mean and
 * standard deviation (training split) are buffers, <prefix>.label_mean and .label_std, saved in the
 * checkpoint with the parameters, so its output comes back in label units wherever the model is loaded.
 * The towers and fusion are model.c's; the metrics are evaluate_heads.c's. */
#include <assert.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "heads.h"
#include "loom/alloc.h"
#include "loom/checkpoint.h"
#include "loom/dense.h"
#include "loom/loss.h"

/* Training split labels of head h: their mean and (population) standard deviation; 0 and 1 when there are
 * none (a frozen dataset at inference: the checkpoint's buffers replace them) or all are equal. */
static void label_stats(const loom_dataset *ds, int col, double *mean, double *sd) {
  int64_t n = loom_dataset_rows(ds, LOOM_SPLIT_TRAIN);
  const int32_t *rows = loom_dataset_split_rows(ds, LOOM_SPLIT_TRAIN);
  double s = 0, ss = 0;
  for (int64_t i = 0; i < n; i++) s += col < 0 ? loom_dataset_row_label(ds, rows[i]) : loom_dataset_row_extra_label(ds, rows[i], col);
  *mean = n > 0 ? s / (double)n : 0.0;
  for (int64_t i = 0; i < n; i++) {
    double d = (col < 0 ? loom_dataset_row_label(ds, rows[i]) : loom_dataset_row_extra_label(ds, rows[i], col)) - *mean;
    ss += d * d;
  }
  *sd = n > 0 ? sqrt(ss / (double)n) : 1.0;
  if (!(*sd > 1e-12)) *sd = 1.0;
}

int loom_heads_parse(const char *spec, loom_head_spec *out, int cap, loom_error *err) {
  int n = 0;
  for (const char *p = spec; *p;) {
    while (*p == ' ' || *p == '\t' || *p == ',') p++;
    if (!*p) break;
    const char *e = strchr(p, ',');
    size_t len = e ? (size_t)(e - p) : strlen(p);
    char item[256];
    if (len >= sizeof item) return loom_errorf(err, "[task] heads: '%.40s...' is too long", p);
    memcpy(item, p, len), item[len] = '\0';
    while (len && (item[len - 1] == ' ' || item[len - 1] == '\t')) item[--len] = '\0';
    if (n == cap)
      return loom_errorf(err, "[task] heads: more than %d heads — a multitask model has at most %d", cap, cap);
    loom_head_spec *h = &out[n];
    memset(h, 0, sizeof *h);
    char *f1 = strchr(item, ':'), *f2 = f1 ? strchr(f1 + 1, ':') : NULL;
    if (!f1)
      return loom_errorf(err, "[task] heads: '%s' is not column:kind[:weight] — e.g. heads = clicked:binary:1, "
                              "dwell_s:regression:0.5", item);
    *f1 = '\0';
    if (f2) *f2 = '\0';
    if (!item[0] || strlen(item) >= sizeof h->column)
      return loom_errorf(err, "[task] heads: head %d has no column name (column:kind[:weight])", n + 1);
    for (const char *q = item; *q; q++)
      if (!isalnum((unsigned char)*q) && *q != '_')
        return loom_errorf(err, "[task] heads: column '%s': a head's column name is letters, digits and _ (it "
                                "names the head's parameters heads.%s.* and metrics %s/...)", item, item, item);
    if (strlen(item) > LOOM_HEAD_NAME_MAX)
      return loom_errorf(err, "[task] heads: column '%s' is longer than %d characters (its metrics %s/accuracy ... "
                              "are named within 24) — rename the column", item, LOOM_HEAD_NAME_MAX, item);
    snprintf(h->column, sizeof h->column, "%s", item);
    if (!strcmp(f1 + 1, "binary")) h->binary = true;
    else if (strcmp(f1 + 1, "regression") != 0)
      return loom_errorf(err, "[task] heads: '%s:%s': the kind is binary or regression", item, f1 + 1);
    h->weight = 1.0f;
    if (f2) {
      char *end;
      double w = strtod(f2 + 1, &end);
      if (end == f2 + 1 || *end || !(w >= 0 && w <= 1e6))
        return loom_errorf(err, "[task] heads: '%s': weight '%s' is not a number in [0, 1e6]", item, f2 + 1);
      h->weight = (float)w;
    }
    for (int j = 0; j < n; j++)
      if (!strcmp(out[j].column, h->column)) return loom_errorf(err, "[task] heads: column '%s' is given twice", h->column);
    n++;
    p += len;
  }
  return n;
}

/* Adds head h's layer, output and loss over x (B, dim). */
static int build_head(loom_model *m, const loom_model_spec *s, const loom_dataset *ds, loom_head *h, const char *prefix,
                      loom_tensor *x, int dim, loom_rng *rng, loom_init_kind style, loom_error *err) {
  loom_graph *g = m->g;
  loom_dense_opts o = {.in_features = dim, .units = 1, .init = style};
  loom_tensor *z = loom_reshape(g, loom_layer_dense(g, prefix, x, &o, rng), 1, (int[]){-1}); // (B)
  char name[LOOM_NAME_MAX];
  snprintf(name, sizeof name, "%s_label", prefix);
  h->label = loom_input(g, name, LOOM_F32, 1, (int[]){LOOM_BATCH});
  if (h->binary) {
    h->out = z;
    h->loss = loom_bce_logits(g, z, h->label, NULL, LOOM_REDUCE_MEAN);
    return 0;
  }
  const loom_pair_loss lk = s->task.loss;
  if (lk != LOOM_LOSS_MSE && lk != LOOM_LOSS_HUBER) {
    char loss[32];
    loom_model_spec_choice("task", "loss", (int)lk, loss, sizeof loss);
    return loom_errorf(err, "[task] kind = %s: set task.loss = mse or huber, the loss of the regression head%s (not %s)",
                       loom_task_name(m->task), m->task == LOOM_TASK_MULTITASK ? "s" : "", loss);
  }
  snprintf(name, sizeof name, "%s.label_mean", prefix);
  h->mean = loom_buffer(g, name, 1, (int[]){1});
  snprintf(name, sizeof name, "%s.label_std", prefix);
  h->std = loom_buffer(g, name, 1, (int[]){1});
  double mu = 0, sd = 1;
  if (s->task.standardize) label_stats(ds, h->col, &mu, &sd);
  h->mean->data[0] = (float)mu, h->std->data[0] = (float)sd;
  h->out = loom_add(g, loom_mul(g, z, h->std), h->mean); // (B) z·std + mean, in label units
  h->loss = lk == LOOM_LOSS_HUBER ? loom_huber(g, z, h->label, s->task.huber_delta, LOOM_REDUCE_MEAN)
                                  : loom_mse(g, z, h->label, LOOM_REDUCE_MEAN);
  return 0;
}

int loom_heads_build(loom_model *m, const loom_model_spec *ms, const loom_dataset *ds, loom_tensor *x, int dim, loom_rng *rng,
                     loom_init_kind style, loom_error *err) {
  const loom_data_schema *s = loom_dataset_schema(ds);
  if (s && s->label_class)
    return loom_errorf(err, "[data] label_type = class but task.kind = %s reads numeric labels — set label_type = float",
                       loom_task_name(m->task));
  loom_graph *g = m->g;
  if (m->task == LOOM_TASK_REGRESSION) {
    if (s && !s->label_col[0]) return loom_errorf(err, "[task] kind = regression needs [data] label_col (a numeric column)");
    loom_head *h = &m->heads[0];
    memset(h, 0, sizeof *h);
    snprintf(h->name, sizeof h->name, "%s", s ? s->label_col : "label");
    h->weight = 1.0f, h->col = -1;
    m->n_heads = 1;
    if (build_head(m, ms, ds, h, "head", x, dim, rng, style, err) < 0) return -1;
    m->logits = h->out, m->loss = h->loss, m->n_classes = 1;
    return 0;
  }
  assert(m->task == LOOM_TASK_MULTITASK);
  loom_head_spec sp[LOOM_MODEL_MAX_HEADS];
  int n = loom_heads_parse(ms->task.heads, sp, LOOM_MODEL_MAX_HEADS, err);
  if (n < 0) return -1;
  if (n < 1)
    return loom_errorf(err, "[task] kind = multitask needs task.heads, e.g. heads = clicked:binary:1, dwell_s:regression:0.5");
  bool any_reg = false;
  loom_tensor *outs[LOOM_MODEL_MAX_HEADS], *total = NULL;
  for (int i = 0; i < n; i++) {
    loom_head *h = &m->heads[i];
    memset(h, 0, sizeof *h);
    memcpy(h->name, sp[i].column, sizeof h->name); /* both LOOM_DATA_NAME, NUL-terminated */
    h->binary = sp[i].binary, h->weight = sp[i].weight;
    h->col = s ? loom_data_extra_label_index(s, h->name) : -1;
    if (h->col < 0)
      return loom_errorf(err, "[task] heads: column '%s' is not among the dataset's label columns — the trainer reads "
                              "every head's column from [data] interactions", h->name);
    any_reg |= !h->binary;
    char prefix[LOOM_NAME_MAX];
    snprintf(prefix, sizeof prefix, "heads.%s", h->name);
    m->n_heads = i + 1;
    if (build_head(m, ms, ds, h, prefix, x, dim, rng, style, err) < 0) return -1;
    outs[i] = loom_reshape(g, h->out, 2, (int[]){-1, 1});
    loom_tensor *wl = h->weight == 1.0f ? h->loss : loom_scale(g, h->loss, h->weight, 0.0f);
    total = total ? loom_add(g, total, wl) : wl;
  }
  if (!any_reg && ms->task.loss != LOOM_LOSS_SAMPLED_SOFTMAX) {
    char loss[32];
    loom_model_spec_choice("task", "loss", (int)ms->task.loss, loss, sizeof loss);
    return loom_errorf(err, "[task] loss = %s has no effect: every head of task.heads is binary (BCE) — remove it", loss);
  }
  m->logits = n == 1 ? outs[0] : loom_concat(g, n, outs); // (B, n): logits of binary heads, predictions of the others
  m->loss = total;
  m->n_classes = n;
  return 0;
}

int loom_heads_grow(loom_model *m, int B, loom_error *err) {
  if (B > m->heads_cap) {
    for (int i = 0; i < m->n_heads; i++) {
      loom_free(m->heads[i].host);
      if (!(m->heads[i].host = loom_malloc(sizeof(float) * (size_t)B))) {
        m->heads_cap = 0;
        return loom_errorf(err, "out of memory for a batch of %d rows", B);
      }
    }
    m->heads_cap = B;
  }
  for (int i = 0; i < m->n_heads; i++) loom_input_bind(m->heads[i].label, m->heads[i].host);
  return 0;
}

void loom_heads_free(loom_model *m) {
  for (int i = 0; i < m->n_heads; i++) loom_free(m->heads[i].host), m->heads[i].host = NULL;
}

float loom_head_label(const loom_head *h, const loom_batch *b, int i) {
  return h->col < 0 ? b->label[i] : b->labels[(size_t)i * (size_t)b->n_labels + (size_t)h->col];
}

int loom_heads_bind(loom_model *m, const loom_batch *b, loom_error *err) {
  const loom_dataset *ds = b->ds ? b->ds : m->ds;
  const loom_data_schema *s = ds ? loom_dataset_schema(ds) : NULL;
  for (int k = 0; k < m->n_heads; k++) {
    loom_head *h = &m->heads[k];
    const float mu = h->binary ? 0.0f : h->mean->data[0], inv = h->binary ? 1.0f : 1.0f / h->std->data[0];
    for (int i = 0; i < b->B; i++) {
      float y = loom_head_label(h, b, i);
      if (h->binary ? !(y == 0.0f || y == 1.0f) : !isfinite(y)) {
        const char *what = h->binary ? "is not 0 or 1 (a binary head)" : "is not a finite number";
        if (!s) return loom_errorf(err, "interactions row %d: column '%s': label %g %s", (int)b->row[i], h->name, (double)y, what);
        return loom_errorf(err, "%s:%lld: column '%s': label %g %s — fix the row or the task", s->interactions,
                           (long long)loom_dataset_row_line(ds, b->row[i]), h->name, (double)y, what);
      }
      h->host[i] = (y - mu) * inv;
    }
  }
  return 0;
}

int loom_train_label_cols(const loom_config *c, loom_data_schema *s, loom_error *err) {
  s->n_label_cols = 0;
  loom_model_spec ms;
  loom_model_spec_read(c, &ms);
  if (ms.task.kind != LOOM_TASK_MULTITASK) return 0;
  loom_head_spec sp[LOOM_MODEL_MAX_HEADS];
  _Static_assert(LOOM_MODEL_MAX_HEADS <= LOOM_DATA_MAX_LABELS, "a label column for every head");
  int n = loom_heads_parse(ms.task.heads, sp, LOOM_MODEL_MAX_HEADS, err);
  if (n < 0) return -1;
  for (int i = 0; i < n; i++) {
    /* a head's label fed back as a feature: the model would be given the answer (as [data] checks label_col) */
    for (int j = 0; j < s->n_numeric; j++)
      if (!strcmp(s->numeric_cols[j], sp[i].column))
        return loom_errorf(err, "[task] heads: column '%s' is also in [data] numeric_cols — the model would be given "
                                "the answer it is trained to predict; remove it from numeric_cols", sp[i].column);
    for (int j = 0; j < s->n_category; j++)
      if (!strcmp(s->category_cols[j], sp[i].column))
        return loom_errorf(err, "[task] heads: column '%s' is also in [data] category_cols — the model would be "
                                "given the answer it is trained to predict; remove it from category_cols", sp[i].column);
    memcpy(s->label_cols[i], sp[i].column, sizeof s->label_cols[i]);
  }
  s->n_label_cols = n;
  return 0;
}
