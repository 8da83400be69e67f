/* test_pretrained.c — pretrained word vectors in training runs on the committed fashion-shop sample
 * (text.pretrained = the gensim fixture of tests/reference/gen_wordvec.py): a frozen embedding stays
 * bit-identical to the loaded vectors through training and through stop + resume (which does not read
 * the file again, and only warns that it changed); an unfrozen one moves; vocab_from_pretrained takes
 * the file's words; config mistakes and bad files are errors naming key or file; and a training step
 * with a frozen embedding allocates nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "loom/alloc.h"
#include "loom/model.h"
#include "loom/pretrained.h"
#include "loom/safetensors.h"
#include "loom/sha256.h"
#include "loom/trainer.h"
#include "loom/wordvec.h"
#include "testutil.h"

static loom_error err;

static const char *small[] = {"data.max_len=8", "text.embedding_dim=8", "text.hidden=8", "text.dense=8",
                              "image.filters=4,8", "image.dense=16", "interaction.dense=8", "interaction.user_dim=8",
                              "interaction.item_dim=8", "fusion.dense=16", "train.prefetch=true",
                              /* the title vocabulary the fixture counts were made for: no query words */
                              "data.query_col=", "text.share_query=false", NULL};

static int run_train(const char *out, const char *resume, const char *const *extra, loom_train_result *r) {
  return tu_train_sample(out, resume, NULL, small, extra, r, &err);
}

/* "text.pretrained=<cwd>/name" (static) */
static const char *vec_set(const char *name) {
  static char s[1400];
  char cwd[1024];
  assert_non_null(getcwd(cwd, sizeof cwd));
  snprintf(s, sizeof s, "text.pretrained=%s/%s", cwd, name);
  return s;
}

static void copy_file(const char *from, const char *to) {
  size_t n;
  char *b = tu_slurp(from, &n);
  FILE *f = fopen(to, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(b, 1, n, f), n);
  fclose(f);
  free(b);
}

/* The config a run with `extra` uses (the click config, the sample, small, extra). */
static loom_config *run_config(loom_data_section *d, const char *const *extra) {
  loom_config *c = loom_train_config_new(d);
  if (loom_config_load(c, tu_src_path("configs/fashion-shop-click.ini"), &err) < 0) fail_msg("%s", err.msg);
  const char *sets[8];
  int n = tu_sample_sets(sets);
  for (int i = 0; i < n; i++) assert_int_equal(loom_config_set_arg(c, sets[i], &err), 0);
  for (int i = 0; small[i]; i++) assert_int_equal(loom_config_set_arg(c, small[i], &err), 0);
  for (int i = 0; extra && extra[i]; i++)
    if (loom_config_set_arg(c, extra[i], &err) < 0) fail_msg("%s", err.msg);
  return c;
}

/* The text embedding a new run with `extra` starts from: the model built as the trainer builds it,
 * with the vectors loaded. (V, D) malloc'd; *n = V·D. */
static float *initial_embedding(const char *const *extra, size_t *n) {
  loom_data_section d;
  loom_config *c = run_config(&d, extra);
  loom_dataset *ds = loom_dataset_open(&d.schema, NULL, &err);
  assert_non_null(ds);
  loom_model *m = loom_model_build(c, ds, &err);
  if (!m) fail_msg("%s", err.msg);
  loom_wordvec wv;
  if (loom_wordvec_read(loom_config_str(c, "text", "pretrained"), NULL, &wv, &err) < 0) fail_msg("%s", err.msg);
  loom_wordvec_stats st;
  if (loom_model_load_wordvec(m, c, loom_dataset_prep(ds)->vocab, &wv, &st, &err) < 0) fail_msg("%s", err.msg);
  loom_tensor *w = loom_graph_find(loom_model_graph(m), "text.embedding.weight");
  assert_non_null(w);
  assert_false(w->requires_grad == loom_config_bool(c, "text", "freeze"));
  *n = loom_tensor_numel(w);
  float *out = malloc(*n * sizeof(float));
  memcpy(out, w->data, *n * sizeof(float));
  loom_wordvec_free(&wv);
  loom_model_free(m);
  loom_dataset_free(ds);
  loom_config_free(c);
  return out;
}

/* The text embedding of dir/name (malloc'd; *n floats). */
static float *ckpt_embedding(const char *dir, const char *name, size_t *n) {
  char p[1300];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  loom_st_file *f = loom_st_open(p, &err);
  if (!f) fail_msg("%s", err.msg);
  const loom_st_tensor *t = loom_st_find(f, "text.embedding.weight");
  assert_non_null(t);
  *n = (size_t)t->numel;
  float *out = malloc(*n * sizeof(float));
  assert_int_equal(loom_st_read_f32(f, "text.embedding.weight", out, *n, &err), 0);
  loom_st_close(f);
  return out;
}

static void test_frozen_embedding_through_training_and_resume(void **state) {
  (void)state;
  copy_file(tu_src_path("tests/reference/wordvec/w2v.txt"), "vec.txt");
  const char *a = "frozen_a", *b = "frozen_b";
  tu_rm_rf(a), tu_rm_rf(b);
  const char *full[] = {vec_set("vec.txt"), "text.freeze=true", "train.weight_decay=0.01", "train.max_steps=12",
                        "train.eval_every=5", NULL};
  size_t n0, n;
  float *w0 = initial_embedding(full, &n0);
  loom_train_result r;
  if (run_train(a, NULL, full, &r) < 0) fail_msg("%s", err.msg);
  assert_int_equal(r.steps, 12);
  float *wa = ckpt_embedding(a, "last.safetensors", &n);
  assert_int_equal(n, n0);
  assert_memory_equal(wa, w0, n * sizeof(float)); /* Adam with weight decay touched nothing */
  /* the file's hash is in the config and in the checkpoint's metadata */
  char p[1300];
  snprintf(p, sizeof p, "%s/last.safetensors", a);
  loom_st_file *f = loom_st_open(p, &err);
  assert_non_null(f);
  char hex[65];
  assert_int_equal(loom_sha256_file("vec.txt", hex, &err), 0);
  char want[128];
  snprintf(want, sizeof want, "pretrained_sha256 = %s", hex);
  assert_non_null(strstr(loom_st_meta(f, "loom.config"), want));
  assert_non_null(loom_st_meta(f, "loom.pretrained"));
  assert_non_null(strstr(loom_st_meta(f, "loom.pretrained"), hex));
  cJSON *pj = cJSON_Parse(loom_st_meta(f, "loom.pretrained")); /* valid JSON, whatever the path holds */
  assert_non_null(pj);
  assert_int_equal((int)cJSON_GetNumberValue(cJSON_GetObjectItem(pj, "found")), 161);
  assert_int_equal((int)cJSON_GetNumberValue(cJSON_GetObjectItem(pj, "missing")), 1);
  assert_int_equal((int)cJSON_GetNumberValue(cJSON_GetObjectItem(pj, "unused")), 1);
  cJSON_Delete(pj);
  loom_st_close(f);
  snprintf(p, sizeof p, "%s/log.txt", a);
  char *log = tu_slurp(p, NULL);
  assert_non_null(strstr(log, "161 of 162 vocabulary words found, 1 not found (initialised as usual), 1 file words unused"));
  assert_non_null(strstr(log, "embedding frozen"));
  free(log);
  /* half, then the file is broken, then resume: the checkpoint has the weights, the file is not parsed */
  /* (half = a multiple of eval_every: an extra validation at the stop would refill the unknown-ID rows
   * (loom_model_fill_unknown), which weight decay then carries into Adam's moments) */
  const char *half[] = {vec_set("vec.txt"), "text.freeze=true", "train.weight_decay=0.01", "train.max_steps=10",
                        "train.eval_every=5", NULL};
  if (run_train(b, NULL, half, &r) < 0) fail_msg("%s", err.msg);
  assert_int_equal(r.steps, 10);
  FILE *g = fopen("vec.txt", "wb");
  fputs("not vectors at all\n", g);
  fclose(g);
  const char *more[] = {"train.max_steps=12", NULL};
  if (run_train(b, b, more, &r) < 0) fail_msg("%s", err.msg);
  assert_int_equal(r.steps, 12);
  snprintf(p, sizeof p, "%s/log.txt", b);
  log = tu_slurp(p, NULL);
  assert_non_null(strstr(log, "changed since this run started"));
  free(log);
  char pa[1300], pb[1300];
  snprintf(pa, sizeof pa, "%s/last.safetensors", a);
  snprintf(pb, sizeof pb, "%s/last.safetensors", b);
  if (loom_train_compare_checkpoints(pa, pb, &err) != 0) fail_msg("resume is not bit-exact: %s", err.msg);
  float *wb = ckpt_embedding(b, "last.safetensors", &n);
  assert_memory_equal(wb, w0, n * sizeof(float));
  /* a resume with the file gone still works */
  unlink("vec.txt");
  const char *more2[] = {"train.max_steps=14", NULL};
  if (run_train(b, b, more2, &r) < 0) fail_msg("%s", err.msg);
  free(wb);
  wb = ckpt_embedding(b, "last.safetensors", &n);
  assert_memory_equal(wb, w0, n * sizeof(float));
  free(w0), free(wa), free(wb);
  tu_rm_rf(a), tu_rm_rf(b);
}

static void test_unfrozen_embedding_moves(void **state) {
  (void)state;
  const char *dir = "unfrozen";
  tu_rm_rf(dir);
  const char *extra[] = {vec_set("tests/reference/wordvec/glove.txt.gz"), "train.max_steps=8", NULL};
  /* vec_set joins the cwd; the fixture lives in the source tree */
  static char set[1400];
  snprintf(set, sizeof set, "text.pretrained=%s", tu_src_path("tests/reference/wordvec/glove.txt.gz"));
  extra[0] = set;
  size_t n0, n;
  float *w0 = initial_embedding(extra, &n0);
  loom_train_result r;
  if (run_train(dir, NULL, extra, &r) < 0) fail_msg("%s", err.msg);
  float *w = ckpt_embedding(dir, "last.safetensors", &n);
  assert_int_equal(n, n0);
  size_t moved = 0;
  for (size_t i = 0; i < n; i++) moved += w[i] != w0[i];
  printf("unfrozen: %zu of %zu embedding floats moved in 8 updates\n", moved, n);
  assert_true(moved > n / 2);
  free(w0), free(w);
  tu_rm_rf(dir);
}

static void test_vocab_from_pretrained(void **state) {
  (void)state;
  tu_fixture *fx = tu_fixture_load("wordvec/expected.fix");
  size_t np;
  const float *vec = tu_fixture_f32(fx, "vectors", NULL, NULL, NULL);
  const int32_t *pre = tu_fixture_i32(fx, "pre_rows", &np, NULL, NULL);
  copy_file(tu_src_path("tests/reference/wordvec/w2v.bin"), "vec.bin");
  const char *dir = "from_file";
  tu_rm_rf(dir);
  const char *extra[] = {vec_set("vec.bin"), "text.vocab_from_pretrained=true", "text.freeze=true",
                         "train.max_steps=4", NULL};
  loom_train_result r;
  if (run_train(dir, NULL, extra, &r) < 0) fail_msg("%s", err.msg);
  char p[1300];
  snprintf(p, sizeof p, "%s/last.safetensors", dir);
  loom_st_file *f = loom_st_open(p, &err);
  assert_non_null(f);
  loom_prep prep;
  assert_int_equal(loom_prep_from_string(&prep, loom_st_meta(f, "loom.prep"), &err), 0);
  assert_int_equal(loom_vocab_size(prep.vocab), 2 + (int)np);
  assert_string_equal(loom_vocab_word(prep.vocab, 2), "in"); /* the file's first word */
  loom_st_close(f);
  size_t n;
  float *w = ckpt_embedding(dir, "last.safetensors", &n);
  assert_int_equal(n, (2 + np) * 8);
  for (size_t i = 2; i < 2 + np; i++)
    if (memcmp(w + i * 8, vec + (size_t)pre[i - 2] * 8, 8 * sizeof(float)) != 0)
      fail_msg("id %zu ('%s') is not file row %d", i, loom_vocab_word(prep.vocab, (int)i), pre[i - 2]);
  /* resume rebuilds the same vocabulary from the checkpoint, without the file */
  unlink("vec.bin");
  const char *more[] = {"train.max_steps=6", NULL};
  if (run_train(dir, dir, more, &r) < 0) fail_msg("%s", err.msg);
  assert_int_equal(r.steps, 6);
  free(w);
  w = ckpt_embedding(dir, "last.safetensors", &n);
  for (size_t i = 2; i < 2 + np; i++) assert_memory_equal(w + i * 8, vec + (size_t)pre[i - 2] * 8, 8 * sizeof(float));
  /* num_words caps it */
  copy_file(tu_src_path("tests/reference/wordvec/w2v.bin"), "vec.bin");
  tu_rm_rf(dir);
  const char *capped[] = {vec_set("vec.bin"), "text.vocab_from_pretrained=true", "data.num_words=50",
                          "train.max_steps=2", NULL};
  if (run_train(dir, NULL, capped, &r) < 0) fail_msg("%s", err.msg);
  free(w);
  w = ckpt_embedding(dir, "last.safetensors", &n);
  assert_int_equal(n, 50 * 8);
  free(w);
  loom_prep_free(&prep);
  tu_fixture_free(fx);
  tu_rm_rf(dir);
}

static void expect_error(const char *const *extra, const char *want) {
  const char *dir = "bad_run";
  tu_rm_rf(dir);
  loom_train_result r;
  if (run_train(dir, NULL, extra, &r) == 0) fail_msg("accepted; expected: %s", want);
  if (!strstr(err.msg, want)) fail_msg("expected '%s' in: %s", want, err.msg);
  tu_rm_rf(dir);
}

static void test_config_and_file_errors(void **state) {
  (void)state;
  static char vec[1400], nan[1400];
  snprintf(vec, sizeof vec, "text.pretrained=%s", tu_src_path("tests/reference/wordvec/w2v.txt"));
  snprintf(nan, sizeof nan, "text.pretrained=%s", tu_src_path("tests/data/wordvec/nan.txt"));
  const char *dim[] = {vec, "text.embedding_dim=16", NULL};
  expect_error(dim, "text.embedding_dim = 16 but ");
  expect_error(dim, "w2v.txt holds 8-dimensional vectors — set text.embedding_dim = 8");
  const char *no_file[] = {"text.vocab_from_pretrained=true", NULL};
  expect_error(no_file, "[text] vocab_from_pretrained is set but text.pretrained is not");
  const char *fmt[] = {"text.pretrained_format=glove", NULL};
  expect_error(fmt, "[text] pretrained_format is set but text.pretrained is not");
  const char *off[] = {vec, "text.enabled=false", NULL};
  expect_error(off, "[text] pretrained is set but text.enabled = false");
  const char *freeze_off[] = {"text.freeze=true", "text.enabled=false", NULL};
  expect_error(freeze_off, "[text] freeze = true but text.enabled = false");
  const char *sha[] = {vec, "text.pretrained_sha256=00ff", NULL};
  expect_error(sha, "text.pretrained_sha256 = 00ff but ");
  const char *bad[] = {nan, NULL};
  expect_error(bad, "text.pretrained: ");
  expect_error(bad, "tests/data/wordvec/nan.txt:4: value 4 of '色' ('nan') is not a decimal number");
  const char *glove_as_w2v[] = {vec, "text.pretrained_format=glove", NULL};
  expect_error(glove_as_w2v, "w2v.txt:2: 'in' has 8 values, the first line has 1 — the first line looks like a word2vec header");
  const char *missing[] = {"text.pretrained=/no/such/vectors.txt", NULL};
  expect_error(missing, "text.pretrained: /no/such/vectors.txt: cannot open (No such file or directory) — check text.pretrained");
}

typedef struct step_ctx {
  loom_model *m;
  loom_optim *opt;
  const loom_batch *b;
} step_ctx;

static void one_step(void *p) {
  step_ctx *s = p;
  loom_graph_zero_grad(loom_model_graph(s->m));
  loom_graph_forward(loom_model_graph(s->m));
  loom_graph_backward(loom_model_graph(s->m), loom_model_loss(s->m));
  loom_optim_step(s->opt, 1e-3f);
}

static void test_frozen_step_allocates_nothing(void **state) {
  (void)state;
  if (!tu_alloc_counting_available()) skip();
  static char vec[1400];
  snprintf(vec, sizeof vec, "text.pretrained=%s", tu_src_path("tests/reference/wordvec/w2v.txt"));
  const char *extra[] = {vec, "text.freeze=true", "train.weight_decay=0.01", NULL};
  loom_data_section d;
  loom_config *c = run_config(&d, extra);
  loom_dataset *ds = loom_dataset_open(&d.schema, NULL, &err);
  assert_non_null(ds);
  loom_model *m = loom_model_build(c, ds, &err);
  assert_non_null(m);
  loom_tensor *w = loom_graph_find(loom_model_graph(m), "text.embedding.weight");
  assert_false(w->requires_grad);
  loom_optim_config oc = loom_optim_defaults(LOOM_OPTIM_ADAM);
  oc.weight_decay = 0.01f;
  loom_optim *opt = loom_optim_new(loom_model_graph(m), &oc, &err);
  loom_loader *ld = loom_loader_new(ds, LOOM_SPLIT_TRAIN, false, &err);
  const loom_batch *b = loom_loader_next(ld, &err);
  assert_true(b && b->B > 0);
  if (loom_model_compile(m, b->B, true, &err) < 0 || loom_model_bind(m, b, &err) < 0) fail_msg("%s", err.msg);
  float *w0 = malloc(loom_tensor_numel(w) * sizeof(float));
  memcpy(w0, w->data, loom_tensor_numel(w) * sizeof(float));
  step_ctx s = {m, opt, b};
  tu_assert_no_alloc("training step with a frozen embedding", one_step, &s, 2, 3);
  assert_memory_equal(w->data, w0, loom_tensor_numel(w) * sizeof(float));
  for (size_t i = 0; i < loom_tensor_numel(w); i++) assert_true(w->grad[i] == 0.0f); /* no gradient computed */
  free(w0);
  loom_loader_free(ld);
  loom_optim_free(opt);
  loom_model_free(m);
  loom_dataset_free(ds);
  loom_config_free(c);
}

/* ---------------------------------------------------------------- <tower>.freeze and <tower>.lr_mult */

/* How many of the `prefix`.* parameters of a new run with `extra` differ in dir/last.safetensors from
 * the values that run starts from (the model built as the trainer builds it); *total = how many there are. */
static int tower_changed(const char *dir, const char *const *extra, const char *prefix, int *total) {
  loom_data_section d;
  loom_config *c = run_config(&d, extra);
  loom_dataset *ds = loom_dataset_open(&d.schema, NULL, &err);
  assert_non_null(ds);
  loom_model *m = loom_model_build(c, ds, &err);
  if (!m) fail_msg("%s", err.msg);
  char p[1300];
  snprintf(p, sizeof p, "%s/last.safetensors", dir);
  loom_st_file *f = loom_st_open(p, &err);
  if (!f) fail_msg("%s", err.msg);
  int changed = 0, n = 0;
  size_t len = strlen(prefix);
  for (int i = 0; i < loom_graph_n_param_tensors(loom_model_graph(m)); i++) {
    loom_tensor *t = loom_graph_param_tensor(loom_model_graph(m), i);
    if (strncmp(t->name, prefix, len) != 0 || t->name[len] != '.') continue;
    size_t k = loom_tensor_numel(t);
    float *w = malloc(k * sizeof(float));
    assert_int_equal(loom_st_read_f32(f, t->name, w, k, &err), 0);
    changed += memcmp(w, t->data, k * sizeof(float)) != 0;
    n++;
    free(w);
  }
  loom_st_close(f);
  loom_model_free(m);
  loom_dataset_free(ds);
  loom_config_free(c);
  *total = n;
  return changed;
}

static void test_frozen_towers_through_training_and_resume(void **state) {
  (void)state;
  const char *a = "towers_a", *b = "towers_b";
  tu_rm_rf(a), tu_rm_rf(b);
  const char *full[] = {"image.freeze=true", "interaction.freeze=true", "train.weight_decay=0.01", "train.max_steps=12",
                        "train.eval_every=5", NULL};
  loom_train_result r;
  if (run_train(a, NULL, full, &r) < 0) fail_msg("%s", err.msg);
  int n;
  assert_int_equal(tower_changed(a, full, "image", &n), 0); /* Adam with weight decay touched nothing */
  assert_true(n >= 4);
  assert_int_equal(tower_changed(a, full, "interaction", &n), 0); /* nor did the unknown-row refill */
  assert_true(n >= 3);
  assert_true(tower_changed(a, full, "text", &n) > 0); /* the other towers trained */
  assert_true(tower_changed(a, full, "fusion", &n) > 0);
  /* stop at 10 and resume to 12: bit-identical to the straight run, the frozen towers still untouched */
  const char *half[] = {"image.freeze=true", "interaction.freeze=true", "train.weight_decay=0.01", "train.max_steps=10",
                        "train.eval_every=5", NULL};
  if (run_train(b, NULL, half, &r) < 0) fail_msg("%s", err.msg);
  const char *more[] = {"train.max_steps=12", NULL};
  if (run_train(b, b, more, &r) < 0) fail_msg("%s", err.msg);
  assert_int_equal(r.steps, 12);
  char pa[1300], pb[1300];
  snprintf(pa, sizeof pa, "%s/last.safetensors", a);
  snprintf(pb, sizeof pb, "%s/last.safetensors", b);
  if (loom_train_compare_checkpoints(pa, pb, &err) != 0) fail_msg("resume is not bit-exact: %s", err.msg);
  assert_int_equal(tower_changed(b, full, "image", &n), 0);
  tu_rm_rf(a), tu_rm_rf(b);
}

static void test_lr_mult(void **state) {
  (void)state;
  const char *z = "mult_0", *one = "mult_1", *two = "mult_2";
  tu_rm_rf(z), tu_rm_rf(one), tu_rm_rf(two);
  const char *e0[] = {"image.lr_mult=0", "train.max_steps=6", NULL}, *e1[] = {"train.max_steps=6", NULL},
             *e2[] = {"image.lr_mult=2", "train.max_steps=6", NULL};
  loom_train_result r;
  if (run_train(z, NULL, e0, &r) < 0) fail_msg("%s", err.msg);
  if (run_train(one, NULL, e1, &r) < 0) fail_msg("%s", err.msg);
  if (run_train(two, NULL, e2, &r) < 0) fail_msg("%s", err.msg);
  int n;
  assert_int_equal(tower_changed(z, e0, "image", &n), 0); /* lr_mult = 0: the parameters of a frozen tower */
  assert_true(n >= 4);
  assert_true(tower_changed(one, e1, "image", &n) == n);
  /* lr_mult = 2 moves the image tower differently from lr_mult = 1 */
  char p1[1300], p2[1300];
  snprintf(p1, sizeof p1, "%s/last.safetensors", one);
  snprintf(p2, sizeof p2, "%s/last.safetensors", two);
  loom_st_file *f1 = loom_st_open(p1, &err), *f2 = loom_st_open(p2, &err);
  assert_non_null(f1), assert_non_null(f2);
  const loom_st_tensor *t1 = loom_st_find(f1, "image.conv0.weight"), *t2 = loom_st_find(f2, "image.conv0.weight");
  assert_non_null(t1), assert_non_null(t2);
  assert_int_equal(t1->numel, t2->numel);
  assert_true(memcmp(t1->data, t2->data, t1->end - t1->begin) != 0);
  loom_st_close(f1), loom_st_close(f2);
  tu_rm_rf(z), tu_rm_rf(one), tu_rm_rf(two);
}

static void test_freeze_and_lr_mult_errors(void **state) {
  (void)state;
  const char *d = "mult_err";
  loom_train_result r;
  const char *const bad[][5] = {
      {"image.enabled=false", "image.lr_mult=2", "train.max_steps=1", NULL},
      {"image.freeze=true", "image.lr_mult=2", "train.max_steps=1", NULL},
      {"interaction.enabled=false", "interaction.embedding_dropout=0", "interaction.freeze=true", "train.max_steps=1", NULL},
      {"text.encoder=gru", "text.recurrent_dropout=0.2", "train.max_steps=1", NULL},
  };
  const char *want[] = {"image.lr_mult", "image.lr_mult", "interaction.freeze", "text.recurrent_dropout"};
  for (int i = 0; i < 4; i++) {
    tu_rm_rf(d);
    assert_int_equal(run_train(d, NULL, bad[i], &r), -1);
    if (!strstr(err.msg, want[i])) fail_msg("case %d: error does not name %s: %s", i, want[i], err.msg);
  }
  tu_rm_rf(d);
}

/* text.recurrent_dropout reaches the LSTM: the same run with it trains other text.lstm weights */
static void test_recurrent_dropout(void **state) {
  (void)state;
  const char *a = "rdrop_0", *b = "rdrop_3";
  tu_rm_rf(a), tu_rm_rf(b);
  const char *e0[] = {"text.encoder=lstm", "train.max_steps=4", NULL},
             *e3[] = {"text.encoder=lstm", "text.recurrent_dropout=0.3", "train.max_steps=4", NULL};
  loom_train_result r;
  if (run_train(a, NULL, e0, &r) < 0) fail_msg("%s", err.msg);
  if (run_train(b, NULL, e3, &r) < 0) fail_msg("%s", err.msg);
  int n;
  assert_int_equal(tower_changed(b, e0, "text", &n) > 0, 1);
  char pa[1300], pb[1300];
  snprintf(pa, sizeof pa, "%s/last.safetensors", a);
  snprintf(pb, sizeof pb, "%s/last.safetensors", b);
  loom_st_file *fa = loom_st_open(pa, &err), *fb = loom_st_open(pb, &err);
  assert_non_null(fa), assert_non_null(fb);
  const loom_st_tensor *ta = loom_st_find(fa, "text.lstm.weight_hh_l0"), *tb = loom_st_find(fb, "text.lstm.weight_hh_l0");
  assert_non_null(ta), assert_non_null(tb);
  assert_true(memcmp(ta->data, tb->data, ta->end - ta->begin) != 0);
  loom_st_close(fa), loom_st_close(fb);
  tu_rm_rf(a), tu_rm_rf(b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_frozen_embedding_through_training_and_resume),
      cmocka_unit_test(test_unfrozen_embedding_moves),
      cmocka_unit_test(test_vocab_from_pretrained),
      cmocka_unit_test(test_config_and_file_errors),
      cmocka_unit_test(test_frozen_step_allocates_nothing),
      cmocka_unit_test(test_frozen_towers_through_training_and_resume),
      cmocka_unit_test(test_lr_mult),
      cmocka_unit_test(test_recurrent_dropout),
      cmocka_unit_test(test_freeze_and_lr_mult_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
