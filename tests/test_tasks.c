/* test_tasks.c — task.kind = regression and multitask (src/model/heads.c, evaluate_heads.c): the
 * regression metrics against values worked out by hand, the label statistics the heads keep, central
 * differences through whole regression (MSE, Huber) and multitask models on the tests/data/ds fixture,
 * runs on the committed fashion-shop sample whose validation metrics are recomputed here from
 * loom-infer's per-row predictions and the CSV's labels, and the config and data mistakes named by file,
 * line and key. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loom/checkpoint.h"
#include "loom/evaluate.h"
#include "loom/infer.h"
#include "loom/metrics.h"
#include "loom/model.h"
#include "loom/trainer.h"
#include "testutil.h"

static loom_error err;

/* ---------------------------------------------------------------- metrics by hand */

static void test_regression_metrics(void **state) {
  /* residuals 0, -1, 1, -2: MSE 6/4, MAE 4/4; labels' mean 3, total sum of squares 4 + 0 + 1 + 9 = 14 */
  const float p[4] = {1, 2, 3, 4}, y[4] = {1, 3, 2, 6};
  assert_float_equal(loom_rmse(p, y, 4), sqrt(1.5), 1e-12);
  assert_float_equal(loom_mae(p, y, 4), 1.0, 1e-12);
  assert_float_equal(loom_r2(p, y, 4), 1.0 - 6.0 / 14.0, 1e-12);
  assert_float_equal(loom_r2(y, y, 4), 1.0, 1e-12);
  const float same[3] = {2, 2, 2};
  assert_true(isnan(loom_r2(p, same, 3)));  /* every label equal: undefined */
  assert_true(isnan(loom_rmse(p, y, 0)));
  assert_true(loom_metric_lower_is_better("rmse") && loom_metric_lower_is_better("dwell_s/mae"));
  assert_true(loom_metric_lower_is_better("clicked/logloss") && loom_metric_lower_is_better("loss"));
  assert_false(loom_metric_lower_is_better("r2") || loom_metric_lower_is_better("clicked/auc"));
}

/* ---------------------------------------------------------------- models on the tests/data/ds fixture */

static char *ini(void) {
  static char buf[8192];
  char p[4][1024];
  const char *rel[4] = {"tests/data/ds/interactions.csv", "tests/data/ds/items.csv", "tests/data/ds/users.csv",
                        "tests/data/images"};
  for (int i = 0; i < 4; i++) snprintf(p[i], sizeof p[i], "%s", tu_src_path(rel[i]));
  snprintf(buf, sizeof buf,
           "[data]\ninteractions = %s\nitems = %s\nusers = %s\nimage_root = %s\nuser_col = user\nitem_col = item\n"
           "label_col = qty\ntext_cols = title\nnumeric_cols = price, age\ncategory_cols = category\n"
           "image_col = image\nsplit = column\nsplit_col = split\nnum_words = 0\nmax_len = 4\nnumeric_missing = mean\n"
           "image_size = 6x6\nchannels = 3\nbatch_size = 4\n"
           "[text]\nembedding_dim = 3\nhidden = 3\ndense = 3\nactivation = tanh\n"
           "[image]\nfilters = 2\nkernel = 3\npool = 2\ndense = 3\nactivation = tanh\n"
           "[interaction]\ndense = 2\nuser_dim = 2\nitem_dim = 2\ncategory_dim = 2\nactivation = tanh\n"
           "[fusion]\ndense = 3\nactivation = tanh\n[task]\nkind = regression\nloss = mse\n",
           p[0], p[1], p[2], p[3]);
  return buf;
}

typedef struct {
  loom_data_section dsec;
  loom_config *c;
  loom_dataset *ds;
  loom_model *m;
  loom_loader *ld;
} fixture;

/* The fixture config with overrides "section.key=value" (one per line), checked as loom-train checks it;
 * the dataset opened with the multitask heads' label columns. NULL with err set on a mistake. */
static loom_model *build(fixture *f, const char *extra) {
  memset(f, 0, sizeof *f);
  f->c = loom_train_config_new(&f->dsec);
  if (loom_config_load_string(f->c, ini(), "test.ini", &err) < 0) fail_msg("%s", err.msg);
  char line[1024];
  for (const char *p = extra; *p;) {
    const char *e = strchr(p, '\n');
    size_t n = e ? (size_t)(e - p) : strlen(p);
    snprintf(line, sizeof line, "%.*s", (int)n, p);
    if (n && loom_config_set_arg(f->c, line, &err) < 0) fail_msg("%s: %s", line, err.msg);
    p += n + (e ? 1 : 0);
  }
  if (loom_model_check_config(f->c, &err) < 0) return NULL;
  if (loom_train_label_cols(f->c, &f->dsec.schema, &err) < 0) return NULL;
  if (!(f->ds = loom_dataset_open(&f->dsec.schema, NULL, &err))) return NULL;
  return f->m = loom_model_build(f->c, f->ds, &err);
}

static void fixture_free(fixture *f) {
  loom_loader_free(f->ld);
  loom_model_free(f->m);
  loom_dataset_free(f->ds);
  loom_config_free(f->c);
}

/* The first training batch bound to the model compiled for training (loss and gradients) or for eval
 * (outputs and loss: a regression head's prediction is off the loss's path). */
static const loom_batch *first_batch(fixture *f, bool train) {
  f->ld = loom_loader_new(f->ds, LOOM_SPLIT_TRAIN, 0, &err);
  assert_non_null(f->ld);
  const loom_batch *b = loom_loader_next(f->ld, &err);
  assert_non_null(b);
  if (loom_model_compile(f->m, b->B, train, &err) < 0 || loom_model_bind(f->m, b, &err) < 0) fail_msg("%s", err.msg);
  return b;
}

static float buffer_value(const loom_model *m, const char *name) {
  loom_tensor *t = loom_graph_find(loom_model_graph(m), name);
  if (!t) fail_msg("no tensor %s", name);
  return t->data[0];
}

static void test_label_statistics(void **state) {
  /* the fixture's training rows' qty: 1, 2, 2, 3, 1, 5, 2 — mean 16/7, E[x^2] = 48/7 */
  const double mean = 16.0 / 7.0, sd = sqrt(48.0 / 7.0 - mean * mean);
  fixture f;
  if (!build(&f, "")) fail_msg("%s", err.msg);
  assert_float_equal(buffer_value(f.m, "head.label_mean"), mean, 1e-6);
  assert_float_equal(buffer_value(f.m, "head.label_std"), sd, 1e-6);
  assert_int_equal(loom_model_task(f.m), LOOM_TASK_REGRESSION);
  assert_string_equal(loom_task_name(LOOM_TASK_REGRESSION), "regression");
  assert_string_equal(loom_model_head_name(f.m, 0), "qty");
  /* the head learns the standardised label, its output is z * sd + mean: with the head's weights and bias
   * zeroed, every prediction is the mean and the loss is the mean of ((y - mean) / sd)^2 */
  loom_graph *g = loom_model_graph(f.m);
  memset(loom_graph_find(g, "head.weight")->data, 0, sizeof(float) * 3);
  loom_graph_find(g, "head.bias")->data[0] = 0;
  const loom_batch *b = first_batch(&f, false);
  loom_graph_forward(g);
  double want = 0;
  for (int i = 0; i < b->B; i++) {
    assert_float_equal(loom_model_logits(f.m)->data[i], mean, 1e-5);
    want += (b->label[i] - mean) * (b->label[i] - mean) / (sd * sd) / b->B;
  }
  assert_float_equal(loom_model_loss(f.m)->data[0], want, 1e-5);
  fixture_free(&f);
  if (!build(&f, "task.standardize=false")) fail_msg("%s", err.msg);
  assert_float_equal(buffer_value(f.m, "head.label_mean"), 0, 0);
  assert_float_equal(buffer_value(f.m, "head.label_std"), 1, 0);
  fixture_free(&f);
}

static void test_gradients_through_the_model(void **state) {
  const char *variants[] = {
      "",
      "task.loss=huber\ntask.huber_delta=0.3\nfusion.mode=sum\nfusion.dim=3", /* both zones: the labels span 1..5 std units */
      "task.loss=huber\ntask.standardize=false\nimage.enabled=false\nfusion.mode=dcn\nfusion.cross_layers=1",
      "task.kind=multitask\ndata.label_col=\ntask.heads=label:binary:1, qty:regression:0.5\nfusion.mode=gated\nfusion.dim=3",
      "task.kind=multitask\ndata.label_col=\ntask.heads=qty:regression, label:binary:2\ntask.loss=huber\nimage.enabled=false\n"
      "data.query_col=query\ndata.query_len=3\ntext.share_query=true",
  };
  for (size_t v = 0; v < sizeof variants / sizeof *variants; v++) {
    fixture f;
    if (!build(&f, variants[v])) fail_msg("variant %zu: %s", v, err.msg);
    const loom_batch *b = first_batch(&f, true);
    print_message("variant %zu: %s\n", v, variants[v]);
    int n = tu_gradcheck(loom_model_graph(f.m), loom_model_loss(f.m), b->B, NULL, NULL, 1e-2, 3e-3, 2e-2);
    assert_true(n > 50);
    fixture_free(&f);
  }
}

/* The multitask model's loss is the weighted sum of its heads' losses, by hand from the outputs. */
static void test_multitask_loss_by_hand(void **state) {
  fixture f;
  if (!build(&f, "task.kind=multitask\ndata.label_col=\ntask.heads=label:binary:1, qty:regression:0.5")) fail_msg("%s", err.msg);
  assert_int_equal(loom_model_n_classes(f.m), 2);
  assert_true(loom_model_head_binary(f.m, 0) && !loom_model_head_binary(f.m, 1));
  const loom_batch *b = first_batch(&f, false);
  loom_graph_forward(loom_model_graph(f.m));
  const float *z = loom_model_logits(f.m)->data; /* (B, 2) */
  const float mu = buffer_value(f.m, "heads.qty.label_mean"), sd = buffer_value(f.m, "heads.qty.label_std");
  double bce = 0, mse = 0;
  for (int i = 0; i < b->B; i++) {
    double x = z[2 * i], y = b->labels[i * b->n_labels + 0];
    bce += (fmax(x, 0) - x * y + log1p(exp(-fabs(x)))) / b->B;
    double r = (z[2 * i + 1] - b->labels[i * b->n_labels + 1]) / sd; /* standardised residual */
    mse += r * r / b->B;
  }
  (void)mu;
  assert_float_equal(loom_model_loss(f.m)->data[0], bce + 0.5 * mse, 1e-4);
  fixture_free(&f);
}

/* ---------------------------------------------------------------- the committed sample */

/* The sample's validation rows (split = valid) as a CSV of their own, for loom-infer score. */
static void write_val_rows(const char *out) {
  char *text = tu_slurp(tu_src_path("datasets/fashion-shop-sample/interactions.csv"), NULL);
  FILE *f = fopen(out, "w");
  assert_non_null(f);
  char *line = text, *nl;
  for (int k = 0; line && *line; k++, line = nl ? nl + 1 : NULL) {
    nl = strchr(line, '\n');
    size_t n = nl ? (size_t)(nl - line) : strlen(line);
    if (k == 0 || (n >= 6 && !strncmp(line + n - 6, ",valid", 6))) fprintf(f, "%.*s\n", (int)n, line);
  }
  fclose(f);
  free(text);
}

/* Column `col` (0-based) of every data line of the CSV at path (no quoted commas in the sample's numbers). */
static int read_column(const char *path, int col, double *out, int cap) {
  char *text = tu_slurp(path, NULL);
  int n = 0;
  char *line = strchr(text, '\n');
  while (line && line[1] && n < cap) {
    line++;
    char *p = line;
    for (int c = 0; c < col && p; c++) p = strchr(p, ',') + 1;
    out[n++] = strtod(p, NULL);
    line = strchr(line, '\n');
  }
  free(text);
  return n;
}

typedef struct {
  double pred[4096][3];
  int n, heads;
} preds;

static int on_row(void *ctx, const loom_infer_row *r) {
  preds *p = ctx;
  if (p->n >= 4096) return 1;
  for (int k = 0; k < p->heads; k++) p->pred[p->n][k] = p->heads > 1 || r->probs ? r->probs[k] : r->score;
  p->n++;
  return 0;
}

static const char *const small[] = {"train.epochs=2", "image.filters=4", "image.dense=8", "text.hidden=8",
                                    "text.embedding_dim=8", "train.prefetch=false", "data.timestamp_col="};

static void train(const char *out, const char *const *task, loom_train_result *r) {
  const char *sets[32];
  int n = 0;
  for (size_t i = 0; i < sizeof small / sizeof *small; i++) sets[n++] = small[i];
  for (int i = 0; task[i]; i++) sets[n++] = task[i];
  sets[n] = NULL;
  tu_rm_rf(out);
  if (tu_train_sample(out, NULL, NULL, sets, NULL, r, &err) < 0) fail_msg("%s", err.msg);
  print_message("%s: loss %.4f -> %.4f, best %s %.4f\n", out, r->first_loss, r->last_loss, r->monitor, r->best);
}

static void test_regression_on_the_sample(void **state) {
  const char *task[] = {"task.kind=regression", "task.loss=huber", "data.label_col=dwell_s", NULL};
  loom_train_result r;
  train("tasks_dwell", task, &r);
  assert_string_equal(r.monitor, "rmse");
  assert_true(r.last_loss < r.first_loss);
  assert_int_equal(r.n_val, 3);
  assert_string_equal(r.val_names[0], "rmse");
  assert_string_equal(r.val_names[2], "r2");
  /* the best checkpoint's validation metrics: by loom-infer eval, and by hand from its per-row predictions */
  loom_infer *s = loom_infer_open("tasks_dwell/best.safetensors", NULL, &err);
  if (!s) fail_msg("%s", err.msg);
  const loom_evaluator *ev = loom_infer_eval(s, NULL, LOOM_SPLIT_VAL, &err);
  if (!ev) fail_msg("%s", err.msg);
  assert_float_equal(ev->val[0], r.best, 1e-6); /* the run's best rmse, reproduced */
  write_val_rows("val.csv");
  static preds p;
  p.n = 0, p.heads = 1;
  if (loom_infer_score_csv(s, "val.csv", on_row, &p, &err) < 0) fail_msg("%s", err.msg);
  static double y[4096];
  int n = read_column("val.csv", 12, y, 4096); /* dwell_s */
  assert_int_equal(n, p.n);
  assert_int_equal(n, (int)ev->n_rows);
  double se = 0, ae = 0, mean = 0, tot = 0;
  for (int i = 0; i < n; i++) mean += y[i] / n;
  for (int i = 0; i < n; i++) {
    se += (p.pred[i][0] - y[i]) * (p.pred[i][0] - y[i]), ae += fabs(p.pred[i][0] - y[i]);
    tot += (y[i] - mean) * (y[i] - mean);
  }
  print_message("val rows %d: rmse %.4f mae %.4f r2 %.4f (loom-infer eval %.4f %.4f %.4f)\n", n, sqrt(se / n), ae / n,
                1 - se / tot, ev->val[0], ev->val[1], ev->val[2]);
  assert_float_equal(ev->val[0], sqrt(se / n), 1e-4);
  assert_float_equal(ev->val[1], ae / n, 1e-4);
  assert_float_equal(ev->val[2], 1 - se / tot, 1e-5);
  assert_true(ev->val[1] < 15); /* seconds: in label units, not standardised */
  loom_hit h;
  unsigned fl;
  assert_int_equal(loom_infer_rank(s, "u00004", NULL, 3, &h, &fl, &err), -1);
  assert_non_null(strstr(err.msg, "use score"));
  loom_infer_close(s);
  tu_rm_rf("tasks_dwell");
}

static void test_multitask_on_the_sample(void **state) {
  const char *task[] = {"task.kind=multitask", "task.loss=mse", "data.label_col=",
                        "task.heads=clicked:binary:1, dwell_s:regression:0.5", "task.monitor=dwell_s/rmse", NULL};
  loom_train_result r;
  train("tasks_mt", task, &r);
  assert_string_equal(r.monitor, "dwell_s/rmse");
  assert_true(r.last_loss < r.first_loss);
  assert_int_equal(r.n_val, 9);
  assert_string_equal(r.val_names[0], "clicked/auc");
  assert_string_equal(r.val_names[6], "dwell_s/rmse");
  loom_infer *s = loom_infer_open("tasks_mt/best.safetensors", NULL, &err);
  if (!s) fail_msg("%s", err.msg);
  const loom_evaluator *ev = loom_infer_eval(s, NULL, LOOM_SPLIT_VAL, &err);
  if (!ev) fail_msg("%s", err.msg);
  assert_float_equal(ev->val[6], r.best, 1e-6);
  write_val_rows("val.csv");
  static preds p;
  p.n = 0, p.heads = 2;
  if (loom_infer_score_csv(s, "val.csv", on_row, &p, &err) < 0) fail_msg("%s", err.msg);
  static double click[4096], dwell[4096];
  int n = read_column("val.csv", 10, click, 4096);
  assert_int_equal(read_column("val.csv", 12, dwell, 4096), n);
  assert_int_equal(n, p.n);
  /* clicked: log loss (p clipped as loom_logloss does), accuracy at 0.5, AUC by counting pairs; dwell_s: RMSE */
  double ll = 0, se = 0, pairs = 0, wins = 0;
  int right = 0;
  for (int i = 0; i < n; i++) {
    double q = fmin(fmax(p.pred[i][0], 1e-7), 1 - 1e-7);
    ll -= (click[i] * log(q) + (1 - click[i]) * log(1 - q)) / n;
    right += (p.pred[i][0] >= 0.5) == (click[i] > 0.5);
    se += (p.pred[i][1] - dwell[i]) * (p.pred[i][1] - dwell[i]);
    for (int j = 0; click[i] > 0.5 && j < n; j++)
      if (click[j] < 0.5) pairs++, wins += p.pred[i][0] > p.pred[j][0] ? 1 : p.pred[i][0] == p.pred[j][0] ? 0.5 : 0;
  }
  print_message("val rows %d: clicked auc %.4f logloss %.4f accuracy %.4f, dwell_s rmse %.4f (eval %.4f %.4f %.4f %.4f)\n",
                n, wins / pairs, ll, (double)right / n, sqrt(se / n), ev->val[0], ev->val[1], ev->val[2], ev->val[6]);
  assert_float_equal(ev->val[0], wins / pairs, 2e-3); /* the model's AUC ranks logits, this one probabilities */
  assert_float_equal(ev->val[1], ll, 1e-4);
  assert_float_equal(ev->val[2], (double)right / n, 1e-9);
  assert_float_equal(ev->val[6], sqrt(se / n), 1e-4);
  loom_infer_close(s);
  tu_rm_rf("tasks_mt");
}

/* ---------------------------------------------------------------- mistakes */

static void expect_error(const char *extra, const char *want) {
  fixture f;
  loom_model *m = build(&f, extra);
  if (m) fail_msg("'%s' built; expected an error containing '%s'", extra, want);
  if (!strstr(err.msg, want)) fail_msg("'%s': error '%s' does not contain '%s'", extra, err.msg, want);
  fixture_free(&f);
}

static void test_mistakes(void **state) {
  expect_error("task.loss=sampled_softmax", "set task.loss = mse or huber");
  expect_error("task.loss=bpr", "set task.loss = mse or huber");
  expect_error("task.huber_delta=2", "task.huber_delta = 2 has no effect unless task.loss = huber");
  expect_error("task.kind=binary\ndata.label_col=label\ntask.loss=sampled_softmax\ntask.standardize=false", "task.standardize = false has no effect");
  expect_error("task.kind=binary\ndata.label_col=label\ntask.loss=sampled_softmax\ntask.heads=label:binary",
               "task.heads = label:binary has no effect");
  expect_error("task.kind=multitask\ndata.label_col=", "needs task.heads");
  expect_error("task.kind=multitask\ntask.heads=qty:regression", "data.label_col = qty has no effect on a multitask model");
  expect_error("task.kind=multitask\ndata.label_col=\ntask.heads=qty", "is not column:kind[:weight]");
  expect_error("task.kind=multitask\ndata.label_col=\ntask.heads=qty:ordinal", "the kind is binary or regression");
  expect_error("task.kind=multitask\ndata.label_col=\ntask.heads=qty:regression:-1", "weight '-1' is not a number");
  expect_error("task.kind=multitask\ndata.label_col=\ntask.heads=qty:regression, qty:binary", "column 'qty' is given twice");
  expect_error("task.kind=multitask\ndata.label_col=\ntask.heads=price:regression", "also in [data] numeric_cols");
  expect_error("task.kind=multitask\ndata.label_col=\ntask.heads=a.b:regression", "letters, digits and _");
  expect_error("task.kind=multitask\ndata.label_col=\ntask.heads=label:binary\ntask.loss=huber", "every head of task.heads is binary");
  expect_error("task.kind=multitask\ndata.label_col=\ntask.heads=nosuch:regression", "nosuch");
  expect_error("data.label_col=query\ndata.label_type=class", "data.label_type = class has no effect on a regression");
  /* a binary head over a column that is not 0/1: named by file, line and column at the first batch */
  fixture f;
  if (!build(&f, "task.kind=multitask\ndata.label_col=\ntask.heads=qty:binary\ntask.loss=sampled_softmax")) fail_msg("%s", err.msg);
  f.ld = loom_loader_new(f.ds, LOOM_SPLIT_TRAIN, 0, &err);
  const loom_batch *b = loom_loader_next(f.ld, &err);
  assert_int_equal(loom_model_compile(f.m, b->B, true, &err), 0);
  assert_int_equal(loom_model_bind(f.m, b, &err), -1);
  assert_non_null(strstr(err.msg, "interactions.csv:"));
  assert_non_null(strstr(err.msg, "column 'qty'"));
  assert_non_null(strstr(err.msg, "is not 0 or 1"));
  fixture_free(&f);
  /* a label that is not a number: the CSV reader names file, line and field */
  FILE *o = fopen("bad_label.csv", "w");
  assert_non_null(o);
  fputs("user,item,label,ts,qty,query,split\nu1,A,1,10,1,red,train\nu1,B,0,20,lots,blue,train\nu2,C,1,5,2,tee,val\n", o);
  fclose(o);
  char line[1200], cwd[1024];
  assert_non_null(getcwd(cwd, sizeof cwd));
  snprintf(line, sizeof line, "data.interactions=%s/bad_label.csv", cwd);
  expect_error(line, "bad_label.csv:3: column 'qty'");
  expect_error(line, "'lots' is not a finite number");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_regression_metrics),       cmocka_unit_test(test_label_statistics),
      cmocka_unit_test(test_gradients_through_the_model), cmocka_unit_test(test_multitask_loss_by_hand),
      cmocka_unit_test(test_regression_on_the_sample), cmocka_unit_test(test_multitask_on_the_sample),
      cmocka_unit_test(test_mistakes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
