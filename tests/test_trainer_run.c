/* test_trainer_run.c — the training run as a user meets it (issue 13): metadata that stays valid JSON
 * whatever the data folder is called, one epoch number everywhere (bar, evaluation lines, metrics.csv)
 * on a resumed run, a validation split with one class, resumed state that is not finite, labels the
 * task cannot have in the training split, and run directories: the user's own files are never written
 * over and a run is locked for its life. Every test trains the committed sample with small towers. */
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "loom/alloc.h"
#include "loom/infer.h"
#include "loom/safetensors.h"
#include "loom/trainer.h"
#include "testutil.h"

static loom_error err;
static const char *small[] = {"data.max_len=8", "text.embedding_dim=8", "text.hidden=8", "text.dense=8",
                              "image.filters=4,8", "image.dense=16", "fusion.dense=16", NULL};

/* configs/fashion-shop-click.ini on the sample files under `data` (a folder like the sample's), small
 * towers, then extra; or, with resume, continues that run with extra. progress may be NULL. */
static int train_in(const char *data, const char *out, const char *resume, const char *const *extra, FILE *progress,
                    loom_train_result *r) {
  static char paths[5][4400];
  const char *sets[64];
  int n = 0;
  if (!resume) {
    snprintf(paths[0], sizeof paths[0], "data.interactions=%s/interactions.csv", data);
    snprintf(paths[1], sizeof paths[1], "data.items=%s/items.csv", data);
    snprintf(paths[2], sizeof paths[2], "data.users=%s/users.csv", data);
    snprintf(paths[3], sizeof paths[3], "data.image_root=%s", data);
    snprintf(paths[4], sizeof paths[4], "train.out=%s", out);
    for (int i = 0; i < 5; i++) sets[n++] = paths[i];
    for (int i = 0; small[i]; i++) sets[n++] = small[i];
  }
  for (int i = 0; extra && extra[i]; i++) sets[n++] = extra[i];
  char config[1200];
  snprintf(config, sizeof config, "%s", tu_src_path("configs/fashion-shop-click.ini"));
  loom_train_opts o = {.config_path = config, .sets = sets, .n_sets = n, .resume_dir = resume, .progress = progress};
  return loom_train(&o, r, &err);
}

static int train(const char *out, const char *resume, const char *const *extra, FILE *progress, loom_train_result *r) {
  return train_in(tu_src_path("datasets/fashion-shop-sample"), out, resume, extra, progress, r);
}

/* Runs a shell command (fails the test if it fails); paths go in single quotes. */
static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...) {
  char cmd[9000];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(cmd, sizeof cmd, fmt, ap);
  va_end(ap);
  if (system(cmd) != 0) fail_msg("command failed: %s", cmd);
}

static char *read_text(const char *dir, const char *name) {
  char p[4400];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  return tu_slurp(p, NULL);
}

static int count(const char *hay, const char *needle) {
  int n = 0;
  for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle)) n++;
  return n;
}

/* The safetensors header of `path` as JSON (cJSON_Delete it). */
static cJSON *header_json(const char *path, char **raw, size_t *len) {
  char *b = tu_slurp(path, len);
  uint64_t hn = 0;
  memcpy(&hn, b, 8);
  assert_true(hn + 8 <= *len);
  cJSON *h = cJSON_ParseWithLength(b + 8, (size_t)hn);
  if (raw) *raw = b;
  else free(b);
  return h;
}

/* Rewrites metadata `key` of checkpoint `path` to `value`, keeping every tensor byte as it is. */
static void set_meta(const char *path, const char *key, const char *value) {
  char *b;
  size_t len;
  cJSON *h = header_json(path, &b, &len);
  assert_non_null(h);
  uint64_t hn;
  memcpy(&hn, b, 8);
  cJSON *meta = cJSON_GetObjectItem(h, "__metadata__");
  assert_non_null(cJSON_GetObjectItem(meta, key));
  cJSON_ReplaceItemInObject(meta, key, cJSON_CreateString(value));
  char *js = cJSON_PrintUnformatted(h);
  size_t n = strlen(js), padded = (n + 7) / 8 * 8;
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  uint64_t nn = padded;
  fwrite(&nn, 8, 1, f);
  fwrite(js, 1, n, f);
  for (size_t i = n; i < padded; i++) fputc(' ', f);
  fwrite(b + 8 + hn, 1, len - 8 - hn, f);
  fclose(f);
  cJSON_free(js);
  cJSON_Delete(h);
  free(b);
}

/* 1. A data folder named q"d\ir: loom.inputs (and the whole header) stays valid JSON that names the
 * folder exactly; the run resumes, and inference opens and evaluates the checkpoint. */
static void test_inputs_json_any_folder_name(void **state) {
  char data[4400];
  snprintf(data, sizeof data, "%s/q\"d\\ir", tu_temp_dir());
  sh("mkdir -p '%s' && cp -r '%s'/. '%s'", data, tu_src_path("datasets/fashion-shop-sample"), data);
  const char *out = "run_quoted";
  tu_rm_rf(out);
  const char *extra[] = {"train.max_steps=6", "train.eval_every=3", NULL};
  loom_train_result r;
  if (train_in(data, out, NULL, extra, NULL, &r) < 0) fail_msg("%s", err.msg);
  const char *names[] = {"best.safetensors", "last.safetensors"};
  for (int k = 0; k < 2; k++) {
    char p[4400];
    snprintf(p, sizeof p, "%s/%s", out, names[k]);
    cJSON *h = header_json(p, NULL, &(size_t){0});
    if (!h) fail_msg("%s: the header is not valid JSON", p);
    const char *inputs = cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(h, "__metadata__"), "loom.inputs"));
    assert_non_null(inputs);
    cJSON *in = cJSON_Parse(inputs);
    if (!in) fail_msg("%s: metadata loom.inputs is not valid JSON: %s", p, inputs);
    char want[4500];
    snprintf(want, sizeof want, "%s/interactions.csv", data);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(in, "interactions"), "path")), want);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(in, "images"), "root")), data);
    assert_int_equal(strlen(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(in, "items"), "sha256"))), 64);
    cJSON_Delete(in);
    cJSON_Delete(h);
  }
  const char *more[] = {"train.max_steps=9", NULL};
  if (train(out, out, more, NULL, &r) < 0) fail_msg("resume: %s", err.msg);
  assert_int_equal(r.steps, 9);
  loom_infer *s = loom_infer_open("run_quoted/best.safetensors", NULL, &err);
  if (!s) fail_msg("inference: %s", err.msg);
  const loom_evaluator *ev = loom_infer_eval(s, NULL, LOOM_SPLIT_VAL, &err);
  if (!ev) fail_msg("inference eval: %s", err.msg);
  assert_true(ev->n_rows > 0 && isfinite(ev->loss));
  loom_infer_close(s);
  tu_rm_rf(out);
}

/* The epoch a progress line ("step S/T epoch E ...") or an evaluation line ("eval step S epoch E:")
 * gives for step S; -1 if there is none. */
static long epoch_at(const char *text, const char *fmt, long step) {
  char key[64];
  snprintf(key, sizeof key, fmt, step);
  const char *p = strstr(text, key);
  if (!p) return -1;
  p = strstr(p, " epoch ");
  return p ? strtol(p + 7, NULL, 10) : -1;
}

/* 2. One epoch number for a step everywhere, 1-based, on a resumed run crossing an epoch boundary:
 * the sample has 62 updates per epoch at batch 64. */
static void test_one_epoch_number_everywhere(void **state) {
  const char *out = "run_epochs";
  tu_rm_rf(out);
  loom_train_result r;
  const char *first[] = {"train.max_steps=50", "train.eval_every=25", "train.log_every=5", NULL};
  if (train(out, NULL, first, NULL, &r) < 0) fail_msg("%s", err.msg);
  FILE *prog = tmpfile();
  const char *more[] = {"train.max_steps=80", NULL};
  if (train(out, out, more, prog, &r) < 0) fail_msg("resume: %s", err.msg);
  long n = ftell(prog);
  rewind(prog);
  char *text = calloc(1, (size_t)n + 1);
  assert_int_equal(fread(text, 1, (size_t)n, prog), (size_t)n);
  fclose(prog);
  char *csv = read_text(out, "metrics.csv"), *log = read_text(out, "log.txt");
  /* evaluations at 75 (epoch 2) and 80 (the end); the bar's lines at every 5 updates */
  const long steps[] = {75, 80}, want[] = {2, 2};
  for (int i = 0; i < 2; i++) {
    long bar = epoch_at(text, "step %ld/", steps[i]), ev = epoch_at(text, "eval step %ld ", steps[i]);
    long logged = epoch_at(log, "eval step %ld ", steps[i]);
    char row[32];
    snprintf(row, sizeof row, "\n%ld,", steps[i]);
    const char *c = strstr(csv, row);
    assert_non_null(c);
    long in_csv = strtol(c + strlen(row), NULL, 10);
    if (bar != want[i] || ev != want[i] || logged != want[i] || in_csv != want[i])
      fail_msg("step %ld: the bar says epoch %ld, the evaluation line %ld, log.txt %ld, metrics.csv %ld (want %ld)",
               steps[i], bar, ev, logged, in_csv, want[i]);
  }
  assert_int_equal(epoch_at(text, "step %ld/", 60), 1);
  assert_int_equal(epoch_at(text, "step %ld/", 65), 2);
  /* the first part's evaluations: step 25 and 50 are in epoch 1 */
  assert_non_null(strstr(csv, "\n25,1,"));
  assert_non_null(strstr(csv, "\n50,1,"));
  assert_non_null(strstr(log, "resumed at step 50, epoch 1"));
  free(text), free(csv), free(log);
  tu_rm_rf(out);
}

/* 3. A validation split with one class: a warning (once) naming the split and the class count, val_loss
 * monitored instead, best.safetensors written, auc shown as n/a (an empty metrics.csv field); the
 * fallback survives a resume. */
static void test_validation_with_one_class(void **state) {
  const char *data = tu_tmp("one_class");
  sh("cp -r '%s' '%s'", tu_src_path("datasets/fashion-shop-sample"), data);
  char inter[4400];
  snprintf(inter, sizeof inter, "%s/interactions.csv", data);
  sh("awk -F, 'BEGIN { OFS = \",\" } NR > 1 && $14 == \"valid\" { $11 = 0 } { print }' '%s' > x.csv && mv x.csv '%s'",
     inter, inter);
  const char *out = "run_one_class";
  tu_rm_rf(out);
  loom_train_result r;
  FILE *prog = tmpfile();
  const char *extra[] = {"train.max_steps=20", "train.eval_every=10", NULL};
  if (train_in(data, out, NULL, extra, prog, &r) < 0) fail_msg("%s", err.msg);
  assert_string_equal(r.monitor, "val_loss");
  assert_string_equal(r.undefined_metric, "auc");
  assert_true(isfinite(r.best));
  char p[4400];
  snprintf(p, sizeof p, "%s/best.safetensors", out);
  assert_int_equal(access(p, R_OK), 0);
  long n = ftell(prog);
  rewind(prog);
  char *text = calloc(1, (size_t)n + 1);
  assert_int_equal(fread(text, 1, (size_t)n, prog), (size_t)n);
  fclose(prog);
  assert_int_equal(count(text, "warning: auc is undefined"), 1);
  assert_non_null(strstr(text, "the validation split has 1 class"));
  assert_non_null(strstr(text, " auc n/a "));
  assert_null(strstr(text, "inf"));
  char *csv = read_text(out, "metrics.csv");
  assert_non_null(strstr(csv, ",,")); /* the auc field is empty, not nan */
  assert_null(strstr(csv, "nan"));
  char *html = read_text(out, "report.html");
  assert_null(strstr(html, "-inf"));
  free(text), free(csv), free(html);
  /* resumed: the same monitor, no second warning, best.safetensors still follows val_loss */
  const char *more[] = {"train.max_steps=40", NULL};
  if (train(out, out, more, NULL, &r) < 0) fail_msg("resume: %s", err.msg);
  assert_string_equal(r.monitor, "val_loss");
  assert_true(isfinite(r.best));
  char *log = read_text(out, "log.txt");
  assert_int_equal(count(log, "warning: auc is undefined"), 1);
  free(log);
  tu_rm_rf(out);
}

/* 4. Resumed state that is not finite is refused, naming the checkpoint and the field. */
static void test_nonfinite_resumed_state_refused(void **state) {
  const char *out = "run_nan_best";
  tu_rm_rf(out);
  loom_train_result r;
  const char *extra[] = {"train.max_steps=6", "train.eval_every=3", NULL};
  if (train(out, NULL, extra, NULL, &r) < 0) fail_msg("%s", err.msg);
  char last[4400], keep[4400];
  snprintf(last, sizeof last, "%s/last.safetensors", out);
  snprintf(keep, sizeof keep, "%s/keep", out);
  sh("cp '%s' '%s'", last, keep);
  const char *fields[] = {"train.best", "train.best", "train.loss_sum"}, *values[] = {"nan", "inf", "-inf"};
  const char *more[] = {"train.max_steps=9", NULL};
  for (int i = 0; i < 3; i++) {
    sh("cp '%s' '%s'", keep, last);
    set_meta(last, fields[i], values[i]);
    assert_int_equal(train(out, out, more, NULL, &r), -1);
    printf("%s = %s: %s\n", fields[i], values[i], err.msg);
    assert_non_null(strstr(err.msg, "last.safetensors"));
    char want[64];
    snprintf(want, sizeof want, "'%s' = %s is not a finite number", fields[i], values[i]);
    assert_non_null(strstr(err.msg, want));
  }
  sh("cp '%s' '%s'", keep, last);
  if (train(out, out, more, NULL, &r) < 0) fail_msg("intact: %s", err.msg);
  assert_int_equal(r.steps, 9);
  /* no validation yet (a run interrupted before its first one): the start value, -inf for auc with
   * best_step 0, is no corruption */
  sh("cp '%s' '%s'", keep, last);
  set_meta(last, "train.best", "-inf");
  set_meta(last, "train.best_step", "0");
  if (train(out, out, more, NULL, &r) < 0) fail_msg("the start value: %s", err.msg);
  assert_int_equal(r.steps, 9);
  tu_rm_rf(out);
}

/* 5. A binary label of 2 or -1 in the training split is refused when the data is loaded, naming the
 * file and line. */
static void test_training_label_out_of_range(void **state) {
  const char *bad[] = {"2", "-1"};
  for (int k = 0; k < 2; k++) {
    const char *data = tu_tmp(k ? "label_m1" : "label_2");
    sh("cp -r '%s' '%s'", tu_src_path("datasets/fashion-shop-sample"), data);
    char inter[4400], cmd[9000];
    snprintf(inter, sizeof inter, "%s/interactions.csv", data);
    /* line 5 is a training row (the sample's first sessions are all train) */
    snprintf(cmd, sizeof cmd, "awk -F, 'BEGIN { OFS = \",\" } NR == 5 { $11 = \"%s\" } { print }' '%s' > x.csv && mv x.csv '%s'",
             bad[k], inter, inter);
    assert_int_equal(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "sed -n 5p '%s' | grep -q ',train$'", inter);
    assert_int_equal(system(cmd), 0);
    loom_train_result r;
    const char *extra[] = {"train.max_steps=2", NULL};
    assert_int_equal(train_in(data, "run_bad_label", NULL, extra, NULL, &r), -1);
    printf("label %s: %s\n", bad[k], err.msg);
    char want[4500];
    snprintf(want, sizeof want, "%s:5: column 'clicked': label %s is not 0 or 1", inter, bad[k]);
    assert_non_null(strstr(err.msg, want));
    assert_int_equal(access("run_bad_label", F_OK), -1); /* a refused run leaves no directory behind */
  }
}

/* 6. A folder of the user's own files is never written over; a loom run is locked for its life. */
static void test_run_directories(void **state) {
  const char *dir = "users_folder";
  tu_rm_rf(dir);
  sh("mkdir -p '%s' && cd '%s' && echo mine > config.ini && echo mine > report.html && echo mine > metrics.csv && "
     "echo mine > best.safetensors", dir, dir);
  loom_train_result r;
  const char *extra[] = {"train.max_steps=3", NULL};
  assert_int_equal(train(dir, NULL, extra, NULL, &r), -1);
  printf("user's folder: %s\n", err.msg);
  assert_non_null(strstr(err.msg, "not a loom-train run directory"));
  assert_non_null(strstr(err.msg, "config.ini"));
  assert_non_null(strstr(err.msg, "best.safetensors"));
  const char *files[] = {"config.ini", "report.html", "metrics.csv", "best.safetensors"};
  for (int i = 0; i < 4; i++) {
    char *t = read_text(dir, files[i]);
    assert_string_equal(t, "mine\n");
    free(t);
  }
  sh("test ! -e '%s/.loom.lock' && test ! -e '%s/.loom-run'", dir, dir); /* no trace of the refused run */
  /* a run loom-train made is its own: a failed start (no checkpoint yet) may be started again */
  const char *run = "run_locked";
  tu_rm_rf(run);
  if (train(run, NULL, extra, NULL, &r) < 0) fail_msg("%s", err.msg);
  sh("test -f '%s/.loom-run' && rm '%s/last.safetensors'", run, run);
  if (train(run, NULL, extra, NULL, &r) < 0) fail_msg("a run's own directory: %s", err.msg);
  /* another process holds the lock: a new run and a resume both fail at once, naming its PID */
  char lock[4400];
  snprintf(lock, sizeof lock, "%s/.loom.lock", run);
  int fd = open(lock, O_RDWR);
  assert_true(fd >= 0);
  assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0);
  assert_int_equal(ftruncate(fd, 0), 0);
  assert_int_equal(pwrite(fd, "4242\n", 5, 0), 5);
  const char *more[] = {"train.max_steps=6", NULL};
  assert_int_equal(train(run, run, more, NULL, &r), -1);
  printf("locked resume: %s\n", err.msg);
  assert_non_null(strstr(err.msg, "in use by another loom-train (PID 4242)"));
  sh("rm '%s/last.safetensors' && test -d '%s'", run, run);
  assert_int_equal(train(run, NULL, extra, NULL, &r), -1);
  assert_non_null(strstr(err.msg, "PID 4242"));
  close(fd); /* released: it runs */
  if (train(run, NULL, extra, NULL, &r) < 0) fail_msg("after the lock: %s", err.msg);
  tu_rm_rf(run);
  tu_rm_rf(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_inputs_json_any_folder_name),  cmocka_unit_test(test_one_epoch_number_everywhere),
      cmocka_unit_test(test_validation_with_one_class),    cmocka_unit_test(test_nonfinite_resumed_state_refused),
      cmocka_unit_test(test_training_label_out_of_range),  cmocka_unit_test(test_run_directories),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
