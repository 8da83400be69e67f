/* test_nonfinite.c — numerical faults in training: the global gradient norm and the scan that names
 * the parameter behind a non-finite one; on the committed sample with one corrupted numeric field
 * (real data, unscaled, so one batch's gradient overflows), train.nonfinite = stop ends the run naming
 * the step and a real parameter with the last checkpoint intact, skip drops that batch, finishes with
 * finite checkpoints and resumes bit-exactly across the skip, max_skips stops a diverged run, and a
 * checkpoint holding NaN is refused by the checker and by --resume. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loom/model.h"
#include "loom/optim.h"
#include "loom/safetensors.h"
#include "loom/trainer.h"
#include "testutil.h"

static loom_error err;

/* ---------------------------------------------------------------- the norm and the scan */

static void test_grad_norm_names_the_bad_tensor(void **state) {
  loom_graph *g = loom_graph_new();
  loom_tensor *a = loom_param(g, "tower.a", 2, (int[]){3, 4});
  loom_tensor *b = loom_param(g, "tower.b", 1, (int[]){5});
  loom_rng rng = {7};
  tu_fill_uniform(a->grad, 12, -2, 2, &rng);
  tu_fill_uniform(b->grad, 5, -2, 2, &rng);
  double ss = 0;
  for (int i = 0; i < 12; i++) ss += (double)a->grad[i] * a->grad[i];
  for (int i = 0; i < 5; i++) ss += (double)b->grad[i] * b->grad[i];
  float norm = loom_grad_norm(g);
  assert_true(fabs(norm - sqrt(ss)) < 1e-5 * sqrt(ss));
  /* clipping computes the same norm in the same pass */
  float saved = b->grad[0];
  assert_true(loom_clip_grad_norm(g, 1e9f) == norm);
  assert_true(b->grad[0] == saved);
  loom_grad_fault f = loom_grad_find_fault(g); /* all finite: reports the largest element */
  assert_true(f.overflow);

  /* a NaN in the second tensor: the norm is NaN, clipping leaves every gradient as it was */
  b->grad[2] = NAN;
  assert_true(isnan(loom_grad_norm(g)));
  assert_true(isnan(loom_clip_grad_norm(g, 0.5f)));
  assert_true(b->grad[0] == saved);
  f = loom_grad_find_fault(g);
  assert_false(f.overflow);
  assert_int_equal(f.tensor, 1);
  assert_string_equal(loom_graph_param_tensor(g, f.tensor)->name, "tower.b");
  assert_int_equal(f.elem, 2);
  assert_true(isnan(f.value));
  /* an Inf earlier in graph order is the first bad element */
  a->grad[7] = -INFINITY;
  f = loom_grad_find_fault(g);
  assert_int_equal(f.tensor, 0);
  assert_int_equal(f.elem, 7);
  assert_true(isinf(f.value));

  /* every element finite but the sum of squares overflows float: named as an overflow at the largest */
  a->grad[7] = 0.5f, b->grad[2] = 0.5f;
  a->grad[9] = 3e25f;
  assert_false(isfinite(loom_grad_norm(g)));
  f = loom_grad_find_fault(g);
  assert_true(f.overflow);
  assert_int_equal(f.tensor, 0);
  assert_int_equal(f.elem, 9);
  assert_true(f.value == 3e25f);
  loom_graph_free(g);
}

/* ---------------------------------------------------------------- training runs */

/* The sample's interactions.csv with item_recent_views (field 8) of data line `line` set to `value`. */
static void write_corrupt_interactions(const char *path, int line, const char *value) {
  FILE *in = fopen(tu_src_path("datasets/fashion-shop-sample/interactions.csv"), "r");
  FILE *out = fopen(path, "w");
  assert_non_null(in);
  assert_non_null(out);
  char row[4096];
  for (int n = 0; fgets(row, sizeof row, in); n++) {
    if (n != line) {
      fputs(row, out);
      continue;
    }
    char *p = row;
    for (int k = 0; k < 7; k++) p = strchr(p, ',') + 1;
    char *end = strchr(p, ',');
    fprintf(out, "%.*s%s%s", (int)(p - row), row, value, end);
  }
  fclose(in);
  fclose(out);
}

/* The sample (with `interactions` instead of its own when given), small towers, unscaled numeric
 * features, then `extra` (NULL-terminated). */
static int run_train(const char *out, const char *resume, const char *interactions, const char *const *extra,
                     loom_train_result *r) {
  static const char *small[] = {"data.max_len=8", "text.embedding_dim=8", "text.hidden=8", "text.dense=8",
                                "image.filters=4,8", "image.dense=16", "interaction.dense=8",
                                "interaction.user_dim=8", "interaction.item_dim=8", "fusion.dense=16",
                                "data.numeric_scaling=none", "train.eval_every=10",
                                /* the click model this test was written against (before issue 20's config):
                                 * a run stopped by max_steps evaluates at its stop, so the resumed run has
                                 * one evaluation more than the straight one, and its train.bad_evals agrees
                                 * only while a later evaluation improves on that one — true of this model's
                                 * trajectory on the corrupted sample, not of every model's (reported) */
                                "data.query_col=", "text.share_query=false", "fusion.mode=concat",
                                "fusion.cross_layers=0", "train.optimizer=adam", "train.weight_decay=0",
                                "train.schedule=constant", "train.epochs=5", NULL};
  return tu_train_sample(out, resume, interactions, small, extra, r, &err);
}

static long meta_long(const char *path, const char *key) {
  loom_st_file *f = loom_st_open(path, &err);
  if (!f) fail_msg("%s", err.msg);
  const char *v = loom_st_meta(f, key);
  if (!v) fail_msg("%s: no metadata %s", path, key);
  long x = strtol(v, NULL, 10);
  loom_st_close(f);
  return x;
}

/* The checkpoint passes loom_train_check_checkpoint (which includes every tensor being finite). */
static void assert_checkpoint_ok(const char *dir, const char *name) {
  char p[1300];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  if (loom_train_check_checkpoint(p, &err) < 0) fail_msg("%s", err.msg);
}

#define CORRUPT "nonfinite_data.csv"

static int setup_data(void **state) {
  /* one view count of 1e30 in a training row: unscaled, it overflows the gradient norm of its batch */
  write_corrupt_interactions(CORRUPT, 100, "1e30");
  return 0;
}
static int teardown_data(void **state) {
  unlink(CORRUPT);
  return 0;
}

static void test_stop_names_step_and_parameter(void **state) {
  const char *dir = "nonfinite_stop";
  tu_rm_rf(dir);
  const char *extra[] = {"train.max_steps=40", NULL};
  loom_train_result r;
  assert_int_equal(run_train(dir, NULL, CORRUPT, extra, &r), -1);
  const loom_error stop_err = err;
  printf("stop: %s\n", err.msg);
  long step = -1;
  assert_int_equal(sscanf(err.msg, "step %ld:", &step), 1);
  assert_true(step > 0 && step <= 40);
  assert_non_null(strstr(err.msg, "train.nonfinite = skip"));
  assert_non_null(strstr(err.msg, "train.lr"));
  /* the message names a parameter of the model, as the checkpoint names it */
  char p[1300];
  snprintf(p, sizeof p, "%s/last.safetensors", dir);
  long saved = (step - 1) / 10 * 10; /* eval_every = 10: the last checkpoint before the bad step */
  if (saved == 0) {
    assert_non_null(strstr(err.msg, "no checkpoint had been written yet"));
    assert_int_equal(access(p, F_OK), -1);
  } else {
    char intact[64];
    snprintf(intact, sizeof intact, "last.safetensors (step %ld) is intact", saved);
    assert_non_null(strstr(err.msg, intact));
    assert_checkpoint_ok(dir, "last.safetensors");
    assert_checkpoint_ok(dir, "best.safetensors");
    assert_int_equal(meta_long(p, "train.step"), saved);
  }
  loom_data_section ds;
  loom_config *c = loom_train_config_new(&ds);
  snprintf(p, sizeof p, "%s/config.ini", dir);
  if (loom_config_load(c, p, &err) < 0) fail_msg("%s", err.msg);
  loom_dataset *d = loom_dataset_open(&ds.schema, NULL, &err);
  loom_model *m = loom_model_build(c, d, &err);
  assert_non_null(m);
  /* the message mentions one of the model's parameters by name, between spaces */
  int named = 0;
  for (int i = 0; i < loom_graph_n_param_tensors(loom_model_graph(m)); i++) {
    char w[96];
    snprintf(w, sizeof w, " %s ", loom_graph_param_tensor(loom_model_graph(m), i)->name);
    named += strstr(stop_err.msg, w) != NULL;
  }
  assert_int_equal(named, 1);
  loom_model_free(m);
  loom_dataset_free(d);
  loom_config_free(c);
  tu_rm_rf(dir);
}

/* Tensors and training-state metadata of two checkpoints, byte for byte. */
static void assert_same_checkpoint(const char *a, const char *b) {
  if (loom_train_compare_checkpoints(a, b, &err) != 0) fail_msg("%s", err.msg);
}

static void test_skip_finishes_and_resumes_bit_exact(void **state) {
  const char *a = "nonfinite_skip_a", *b = "nonfinite_skip_b";
  tu_rm_rf(a), tu_rm_rf(b);
  /* dropout (RNG) and batch norm (buffers, put back on a skip) on; more than one epoch */
  const char *full[] = {"train.nonfinite=skip", "fusion.dropout=0.2", "image.batchnorm=true", "train.max_steps=70",
                        "train.log_every=5", NULL};
  loom_train_result r;
  if (run_train(a, NULL, CORRUPT, full, &r) < 0) fail_msg("%s", err.msg);
  printf("skip: %ld steps, %ld skipped, loss %.4f -> %.4f, auc %.4f\n", r.steps, r.skipped, r.first_loss, r.last_loss,
         r.best);
  assert_int_equal(r.steps, 70);
  assert_true(r.skipped >= 1 && r.skipped <= 2); /* the corrupt row's batch, once per epoch (62 batches) */
  assert_true(isfinite(r.last_loss) && isfinite(r.best));
  assert_checkpoint_ok(a, "last.safetensors");
  assert_checkpoint_ok(a, "best.safetensors");
  char pa[256], pb[256];
  snprintf(pa, sizeof pa, "%s/last.safetensors", a);
  snprintf(pb, sizeof pb, "%s/last.safetensors", b);
  assert_int_equal(meta_long(pa, "train.skipped"), r.skipped);
  assert_int_equal(meta_long(pa, "train.optim_steps"), 70 - r.skipped); /* Adam's t counts updates only */
  /* each skip is logged, and the count closes the log */
  snprintf(pb, sizeof pb, "%s/log.txt", a);
  char *log = tu_slurp(pb, NULL);
  assert_non_null(log);
  int lines = 0;
  for (const char *s = log; (s = strstr(s, "skipped the batch (no update)")); s++) lines++;
  assert_int_equal(lines, r.skipped);
  char done[128];
  snprintf(done, sizeof done, "done: 70 steps (%ld updates, %ld batches skipped: non-finite)", 70 - r.skipped, r.skipped);
  assert_non_null(strstr(log, done));
  free(log);

  /* 12 steps, then resume to 70: the skips in the second half replay exactly */
  const char *half[] = {"train.nonfinite=skip", "fusion.dropout=0.2", "image.batchnorm=true", "train.max_steps=12",
                        "train.log_every=5", NULL};
  if (run_train(b, NULL, CORRUPT, half, &r) < 0) fail_msg("%s", err.msg);
  const char *more[] = {"train.max_steps=70", NULL};
  if (run_train(b, b, NULL, more, &r) < 0) fail_msg("%s", err.msg);
  assert_int_equal(r.steps, 70);
  snprintf(pb, sizeof pb, "%s/last.safetensors", b);
  assert_same_checkpoint(pa, pb);

  /* a checkpoint holding a NaN (from another tool, or an older build) is refused by the checker and by
   * --resume, naming the file and the tensor */
  loom_st_file *f = loom_st_open(pa, &err);
  assert_non_null(f);
  loom_st_writer *w = loom_st_writer_new();
  float *poisoned = NULL;
  for (int i = 0; i < loom_st_count(f); i++) {
    const loom_st_tensor *t = loom_st_tensor_at(f, i);
    const void *data = t->data;
    if (!strcmp(t->name, "text.lstm.weight_hh_l0")) {
      poisoned = malloc(t->end - t->begin);
      memcpy(poisoned, t->data, t->end - t->begin);
      poisoned[5] = NAN;
      data = poisoned;
    }
    if (loom_st_writer_add(w, t->name, t->dtype, t->ndim, t->shape, data, &err) < 0) fail_msg("%s", err.msg);
  }
  assert_non_null(poisoned);
  for (int i = 0; i < loom_st_meta_count(f); i++) {
    const char *k, *v;
    loom_st_meta_at(f, i, &k, &v);
    if (strcmp(k, "format") != 0 && strcmp(k, LOOM_ST_CHECKSUM_KEY) != 0 && loom_st_writer_meta(w, k, v, &err) < 0)
      fail_msg("%s", err.msg);
  }
  loom_st_writer_checksums(w, true); /* a well-formed file holding a NaN, not a corrupt copy */
  assert_int_equal(loom_st_write(w, pb, &err), 0);
  loom_st_writer_free(w);
  loom_st_close(f);
  free(poisoned);
  assert_int_equal(loom_train_check_checkpoint(pb, &err), -1);
  assert_non_null(strstr(err.msg, "text.lstm.weight_hh_l0"));
  assert_non_null(strstr(err.msg, "not finite"));
  const char *longer[] = {"train.max_steps=80", NULL};
  assert_int_equal(run_train(b, b, NULL, longer, &r), -1);
  assert_non_null(strstr(err.msg, "last.safetensors"));
  assert_non_null(strstr(err.msg, "text.lstm.weight_hh_l0"));
  tu_rm_rf(a), tu_rm_rf(b);
}

static void test_max_skips_stops_a_diverged_run(void **state) {
  const char *dir = "nonfinite_diverged";
  tu_rm_rf(dir);
  /* plain SGD at lr 10 on unscaled features: the weights blow up within a few steps, after which every
   * batch is non-finite */
  const char *extra[] = {"train.nonfinite=skip", "train.max_skips=3", "train.optimizer=sgd", "train.lr=10",
                         "train.clip_norm=0", "train.max_steps=60", "train.eval_every=2", NULL};
  loom_train_result r;
  assert_int_equal(run_train(dir, NULL, NULL, extra, &r), -1);
  printf("diverged: %s\n", err.msg);
  assert_non_null(strstr(err.msg, "3 batches in a row"));
  assert_non_null(strstr(err.msg, "train.max_skips = 3"));
  assert_non_null(strstr(err.msg, "is intact"));
  /* every checkpoint written on the way is finite; the last one is from before the skips */
  assert_checkpoint_ok(dir, "last.safetensors");
  assert_checkpoint_ok(dir, "best.safetensors");
  tu_rm_rf(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_grad_norm_names_the_bad_tensor),
      cmocka_unit_test(test_stop_names_step_and_parameter),
      cmocka_unit_test(test_skip_finishes_and_resumes_bit_exact),
      cmocka_unit_test(test_max_skips_stops_a_diverged_run),
  };
  return cmocka_run_group_tests(tests, setup_data, teardown_data);
}
