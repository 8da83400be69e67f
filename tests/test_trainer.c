/* test_trainer.c — training runs on the committed fashion-shop sample: the loss falls and validation
 * metrics pass stated floors (binary click model with every tower; image-only category classifier),
 * the run directory is complete, 2N updates equal N + resume + N bit for bit (parameters, Adam
 * moments, RNG and loader states), corrupt or foreign checkpoints are refused with messages naming
 * the file and the fault, and SHA-256 matches the FIPS 180-4 test vectors. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "loom/alloc.h"
#include "loom/model.h"
#include "loom/safetensors.h"
#include "loom/sha256.h"
#include "loom/trainer.h"
#include "testutil.h"

static loom_error err;

static void test_sha256_vectors(void **state) {
  char hex[65];
  loom_sha256_hex("", 0, hex);
  assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  loom_sha256_hex("abc", 3, hex);
  assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  loom_sha256_hex(m, strlen(m), hex);
  assert_string_equal(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  /* one million 'a', fed in uneven pieces through the streaming interface */
  loom_sha256 s;
  uint8_t d[32], chunk[997];
  memset(chunk, 'a', sizeof chunk);
  loom_sha256_init(&s);
  size_t left = 1000000;
  for (size_t k = 1; left; k = k % 997 + 1) {
    size_t n = k < left ? k : left;
    loom_sha256_update(&s, chunk, n);
    left -= n;
  }
  loom_sha256_final(&s, d);
  static const uint8_t want[32] = {0xcd, 0xc7, 0x6e, 0x5c, 0x99, 0x14, 0xfb, 0x92, 0x81, 0xa1, 0xc7,
                                   0xe2, 0x84, 0xd7, 0x3e, 0x67, 0xf1, 0x80, 0x9a, 0x48, 0xa4, 0x97,
                                   0x20, 0x0e, 0x04, 0x6d, 0x39, 0xcc, 0xc7, 0x11, 0x2c, 0xd0};
  assert_memory_equal(d, want, 32);
  assert_int_equal(loom_sha256_file("/nonexistent/file", hex, &err), -1);
  assert_non_null(strstr(err.msg, "/nonexistent/file"));
}

/* The sample, small towers, then `extra` (NULL-terminated). */
static int run_train(const char *out, const char *resume, const char *const *extra, loom_train_result *r) {
  static const char *small[] = {"data.max_len=8", "text.embedding_dim=8", "text.hidden=8", "text.dense=8",
                                "image.filters=4,8", "image.dense=16", "interaction.dense=8",
                                "interaction.user_dim=8", "interaction.item_dim=8", "fusion.dense=16",
                                "train.prefetch=true", NULL};
  return tu_train_sample(out, resume, NULL, small, extra, r, &err);
}

static int exists(const char *dir, const char *name) {
  char p[1300];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  return access(p, R_OK) == 0;
}

/* Rebuilds the model of run `dir` from its config.ini, loads best.safetensors, scores the first
 * validation batch, checks the result against the run's own validation (loss is finite, shapes), and
 * writes the batch's inputs and logits to loom_model_io.safetensors (with a copy of the checkpoint as
 * loom_model.safetensors) for tests/reference/check_model.py, which compares PyTorch's outputs. */
static void dump_model_io(const char *dir) {
  char p[1300];
  loom_data_section d;
  loom_config *c = loom_train_config_new(&d);
  snprintf(p, sizeof p, "%s/config.ini", dir);
  if (loom_config_load(c, p, &err) < 0) fail_msg("%s", err.msg);
  loom_dataset *ds = loom_dataset_open(&d.schema, NULL, &err);
  assert_non_null(ds);
  loom_model *m = loom_model_build(c, ds, &err);
  assert_non_null(m);
  snprintf(p, sizeof p, "%s/best.safetensors", dir);
  if (loom_st_load_graph(loom_model_graph(m), p, 0, &err) < 0) fail_msg("%s", err.msg);
  loom_loader *ld = loom_loader_new(ds, LOOM_SPLIT_VAL, 0, &err);
  const loom_batch *b = loom_loader_next(ld, &err);
  assert_true(b && b->B > 0);
  if (loom_model_compile(m, b->B, false, &err) < 0 || loom_model_bind(m, b, &err) < 0) fail_msg("%s", err.msg);
  loom_graph_forward(loom_model_graph(m));
  assert_true(isfinite(loom_model_loss(m)->data[0]));
  loom_st_writer *w = loom_st_writer_new();
  int64_t B = b->B;
  struct { loom_tensor *t; } ins[] = {{loom_model_input_tokens(m)}, {loom_model_input_lengths(m)}, {loom_model_input_image(m)}, {loom_model_input_numeric(m)}, {loom_model_input_user(m)}, {loom_model_input_item(m)},
                                      {loom_model_input_category(m)}, {loom_model_logits(m)}};
  for (size_t i = 0; i < sizeof ins / sizeof *ins; i++) {
    loom_tensor *t = ins[i].t;
    if (!t) continue;
    int64_t shape[4];
    for (int k = 0; k < t->ndim; k++) shape[k] = t->shape[k];
    const void *data = t->bound ? t->bound : (t->dtype == LOOM_F32 ? (void *)t->data : (void *)t->idata);
    const char *name = t == loom_model_logits(m) ? "logits" : t->name;
    if (loom_st_writer_add(w, name, t->dtype == LOOM_F32 ? LOOM_ST_F32 : LOOM_ST_I32, t->ndim, shape, data, &err) < 0)
      fail_msg("%s", err.msg);
  }
  (void)B;
  char *cfg = loom_config_dump(c);
  loom_st_writer_meta(w, "loom.config", cfg, &err);
  assert_int_equal(loom_st_write(w, "loom_model_io.safetensors", &err), 0);
  loom_st_writer_free(w);
  loom_free(cfg);
  snprintf(p, sizeof p, "cp %s/best.safetensors loom_model.safetensors", dir);
  assert_int_equal(system(p), 0);
  loom_loader_free(ld);
  loom_model_free(m);
  loom_dataset_free(ds);
  loom_config_free(c);
}

static void test_binary_click_model_learns(void **state) {
  const char *dir = "train_binary";
  tu_rm_rf(dir);
  const char *extra[] = {"train.epochs=2", "train.log_every=10", "fusion.dropout=0.1", NULL};
  loom_train_result r;
  if (run_train(dir, NULL, extra, &r) < 0) fail_msg("%s", err.msg);
  printf("binary: %ld updates, loss %.4f -> %.4f, val auc %.4f logloss %.4f acc %.4f, %.2f s, %.0f samples/s\n",
         r.steps, r.first_loss, r.last_loss, r.val[0], r.val[1], r.val[2], r.seconds, r.samples_per_s);
  assert_int_equal(r.epochs, 2);
  assert_true(r.last_loss < r.first_loss - 0.02);
  /* floors: the sample's click rate is ~24 %, so a constant predictor has AUC 0.5 and log loss ~0.55 */
  assert_string_equal(r.monitor, "auc");
  assert_true(r.best > 0.60);
  assert_true(r.val[1] < 0.56);
  const char *files[] = {"config.ini", "log.txt", "metrics.csv", "last.safetensors", "best.safetensors",
                         "report.html"};
  for (size_t i = 0; i < 6; i++)
    if (!exists(dir, files[i])) fail_msg("%s/%s missing", dir, files[i]);
  char p[256];
  snprintf(p, sizeof p, "%s/metrics.csv", dir);
  char *csv = tu_slurp(p, NULL);
  assert_non_null(strstr(csv, "step,epoch,loss,val_loss,auc,logloss,accuracy,precision,recall,f1,gauc,lr,samples_per_s\n"));
  int rows = 0;
  for (char *c = csv; *c; c++) rows += *c == '\n';
  assert_int_equal(rows, 3); /* header + one validation per epoch */
  free(csv);
  snprintf(p, sizeof p, "%s/report.html", dir);
  char *html = tu_slurp(p, NULL);
  assert_non_null(strstr(html, "<svg"));
  assert_non_null(strstr(html, "auc"));
  free(html);
  /* the checkpoint is self-contained: config, preprocessing, inputs' SHA-256, history, version, ISA */
  snprintf(p, sizeof p, "%s/best.safetensors", dir);
  loom_st_file *f = loom_st_open(p, &err);
  assert_non_null(f);
  assert_string_equal(loom_st_meta(f, "loom.kind"), "model");
  assert_non_null(strstr(loom_st_meta(f, "loom.config"), "[text]"));
  assert_non_null(strstr(loom_st_meta(f, "loom.config"), "label_col = clicked"));
  cJSON *in = cJSON_Parse(loom_st_meta(f, "loom.inputs"));
  assert_non_null(in);
  assert_int_equal(strlen(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(in, "interactions"), "sha256"))), 64);
  /* the image files are inputs too: one digest over every file the data refers to */
  cJSON *images = cJSON_GetObjectItem(in, "images");
  assert_non_null(cJSON_GetStringValue(cJSON_GetObjectItem(images, "root")));
  assert_true(cJSON_GetNumberValue(cJSON_GetObjectItem(images, "files")) > 0);
  cJSON_Delete(in);
  assert_non_null(loom_st_meta(f, "loom.prep"));
  assert_non_null(loom_st_meta(f, "loom.isa"));
  assert_non_null(loom_st_find(f, "text.lstm.weight_ih_l0"));
  assert_null(loom_st_find(f, "_train.optim.exp_avg"));
  loom_st_close(f);
  /* a second start into the same directory is a new run beside it: dir-2, and dir-latest points to it */
  char second[128], latest[128], target[64] = "";
  snprintf(second, sizeof second, "%s-2", dir);
  snprintf(latest, sizeof latest, "%s-latest", dir);
  tu_rm_rf(second);
  unlink(latest);
  if (run_train(dir, NULL, extra, &r) < 0) fail_msg("%s", err.msg);
  assert_string_equal(r.run_dir, second);
  snprintf(p, sizeof p, "%s/best.safetensors", second);
  assert_int_equal(access(p, F_OK), 0);
  assert_true(readlink(latest, target, sizeof target - 1) > 0);
  assert_string_equal(target, second);
  snprintf(p, sizeof p, "%s/last.safetensors", dir); /* the first run is untouched */
  assert_int_equal(access(p, F_OK), 0);
  unlink(latest);
  tu_rm_rf(second);
  dump_model_io(dir);
  tu_rm_rf(dir);
}

static void test_image_only_category_classifier(void **state) {
  const char *dir = "train_category";
  tu_rm_rf(dir);
  char inter[1200];
  snprintf(inter, sizeof inter, "data.interactions=%s", tu_src_path("datasets/fashion-shop-sample/items.csv"));
  /* the run_train paths come first; these override them: items.csv is the table of examples */
  const char *extra[] = {inter, "data.items=", "data.users=", "data.item_col=", "data.user_col=",
                         "data.timestamp_col=", "data.label_col=category", "data.label_type=class",
                         "data.split=random", "data.split_col=", "data.split_ratio=0.7,0.3,0", "data.text_cols=", "data.numeric_cols=",
                         "data.category_cols=", "data.batch_size=32", "text.enabled=false",
                         "interaction.enabled=false", "task.kind=multiclass", "train.epochs=6", "train.lr=0.005",
                         "fusion.dropout=0", "data.query_col=", "text.share_query=false",
                         "interaction.embedding_dropout=0", NULL};
  loom_train_result r;
  if (run_train(dir, NULL, extra, &r) < 0) fail_msg("%s", err.msg);
  printf("category: %ld updates, loss %.4f -> %.4f, val accuracy %.4f macro-F1 %.4f, %.2f s\n", r.steps, r.first_loss,
         r.last_loss, r.val[0], r.val[1], r.seconds);
  assert_true(r.last_loss < r.first_loss);
  assert_string_equal(r.monitor, "macro_f1");
  /* 10 classes: chance is ~0.1 */
  assert_true(r.val[0] > 0.45);
  char p[256];
  snprintf(p, sizeof p, "%s/report.html", dir);
  char *html = tu_slurp(p, NULL);
  assert_non_null(strstr(html, "Ankle boot")); /* the confusion matrix names the classes */
  free(html);
  tu_rm_rf(dir);
}

/* Every tensor and the training-state metadata of two checkpoints, byte for byte. */
static void assert_same_checkpoint(const char *a, const char *b) {
  if (loom_train_compare_checkpoints(a, b, &err) != 0) fail_msg("%s", err.msg);
  loom_st_file *f = loom_st_open(a, &err);
  assert_non_null(f);
  int optim = 0;
  for (int i = 0; i < loom_st_count(f); i++) optim += !strncmp(loom_st_tensor_at(f, i)->name, "_train.optim.", 13);
  assert_int_equal(optim, 2); /* Adam's exp_avg and exp_avg_sq */
  loom_st_close(f);
}

static void test_resume_is_bit_exact(void **state) {
  const char *a = "train_resume_a", *b = "train_resume_b";
  tu_rm_rf(a), tu_rm_rf(b);
  /* dropout on (graph RNG), batch norm (buffers), an epoch boundary inside each half (loader state) */
  loom_train_result r;
  const char *common[] = {"fusion.dropout=0.2", "image.batchnorm=true", "train.eval_every=7", "data.batch_size=512",
                          "train.schedule=cosine", "train.warmup_steps=3", "train.epochs=3", NULL};
  const char *full[16], *half[16];
  int n = 0;
  for (; common[n]; n++) full[n] = half[n] = common[n];
  full[n] = "train.max_steps=20", half[n] = "train.max_steps=10";
  full[n + 1] = half[n + 1] = NULL;
  if (run_train(a, NULL, full, &r) < 0) fail_msg("%s", err.msg);
  assert_int_equal(r.steps, 20);
  if (run_train(b, NULL, half, &r) < 0) fail_msg("%s", err.msg);
  assert_int_equal(r.steps, 10);
  char pa[256], pb[256];
  snprintf(pa, sizeof pa, "%s/last.safetensors", a);
  snprintf(pb, sizeof pb, "%s/last.safetensors", b);
  assert_int_equal(loom_train_compare_checkpoints(pa, pb, &err), 1); /* step 20 against step 10 */
  assert_non_null(strstr(err.msg, "differs"));
  assert_int_equal(loom_train_compare_checkpoints(pa, "/nonexistent/last.safetensors", &err), -1);
  /* the schedule's length comes from the config, which max_steps changes: give the same one back */
  const char *more[] = {"train.max_steps=20", NULL};
  if (run_train(b, b, more, &r) < 0) fail_msg("%s", err.msg);
  assert_int_equal(r.steps, 20);
  assert_same_checkpoint(pa, pb);
  tu_rm_rf(a), tu_rm_rf(b);
}

static void write_bytes(const char *path, const char *data, size_t n) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(data, 1, n, f), n);
  fclose(f);
}

static void test_corrupt_checkpoints_are_refused(void **state) {
  const char *dir = "train_corrupt";
  tu_rm_rf(dir);
  const char *extra[] = {"train.max_steps=4", "train.epochs=1", NULL};
  loom_train_result r;
  if (run_train(dir, NULL, extra, &r) < 0) fail_msg("%s", err.msg);
  char last[256], best[256], keep[256];
  snprintf(last, sizeof last, "%s/last.safetensors", dir);
  snprintf(best, sizeof best, "%s/best.safetensors", dir);
  snprintf(keep, sizeof keep, "%s/keep.bin", dir);
  char *orig = NULL;
  size_t n = 0;
  {
    FILE *f = fopen(last, "rb");
    fseek(f, 0, SEEK_END);
    n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    orig = malloc(n);
    assert_int_equal(fread(orig, 1, n, f), n);
    fclose(f);
  }
  const char *more[] = {"train.max_steps=8", NULL};
  /* 1. truncated: the data section no longer matches the header */
  write_bytes(last, orig, n - 100);
  assert_int_equal(run_train(dir, dir, more, &r), -1);
  printf("truncated: %s\n", err.msg);
  assert_non_null(strstr(err.msg, "last.safetensors"));
  /* 2. garbage in the header length */
  char *bad = malloc(n);
  memcpy(bad, orig, n);
  memset(bad, 0xff, 8);
  write_bytes(last, bad, n);
  assert_int_equal(run_train(dir, dir, more, &r), -1);
  printf("bad length: %s\n", err.msg);
  assert_non_null(strstr(err.msg, "last.safetensors"));
  /* 3. a byte of the JSON header flipped */
  memcpy(bad, orig, n);
  bad[9] = '!';
  write_bytes(last, bad, n);
  assert_int_equal(run_train(dir, dir, more, &r), -1);
  printf("bad JSON: %s\n", err.msg);
  assert_non_null(strstr(err.msg, "last.safetensors"));
  /* 4. a model-only checkpoint in place of the training state */
  char *bst = tu_slurp(best, NULL);
  assert_non_null(bst);
  free(bst);
  char cmd[600];
  snprintf(cmd, sizeof cmd, "cp %s %s", best, last);
  assert_int_equal(system(cmd), 0);
  assert_int_equal(run_train(dir, dir, more, &r), -1);
  printf("model only: %s\n", err.msg);
  assert_non_null(strstr(err.msg, "without training state"));
  /* 5. a valid safetensors file that is not a loom-train checkpoint */
  float x[2] = {1, 2};
  loom_st_writer *w = loom_st_writer_new();
  assert_int_equal(loom_st_writer_add(w, "x", LOOM_ST_F32, 1, (int64_t[]){2}, x, &err), 0);
  assert_int_equal(loom_st_write(w, last, &err), 0);
  loom_st_writer_free(w);
  assert_int_equal(run_train(dir, dir, more, &r), -1);
  printf("foreign: %s\n", err.msg);
  assert_non_null(strstr(err.msg, "loom.format"));
  assert_int_equal(loom_train_check_checkpoint(last, &err), -1);
  /* 6. a model of another shape (the config changed under the run) */
  write_bytes(last, orig, n);
  const char *wider[] = {"train.max_steps=8", "fusion.dense=32", NULL};
  assert_int_equal(run_train(dir, dir, wider, &r), -1);
  printf("other model: %s\n", err.msg);
  assert_non_null(strstr(err.msg, "fusion.dense0.weight"));
  /* intact again: resumes */
  write_bytes(last, orig, n);
  assert_int_equal(loom_train_check_checkpoint(last, &err), 0);
  if (run_train(dir, dir, more, &r) < 0) fail_msg("%s", err.msg);
  assert_int_equal(r.steps, 8);
  free(orig);
  free(bad);
  (void)keep;
  tu_rm_rf(dir);
}

static double metric(const loom_train_result *r, const char *name) {
  for (int i = 0; i < r->n_val; i++)
    if (!strcmp(r->val_names[i], name)) return r->val[i];
  fail_msg("no metric %s", name);
  return 0;
}

static int run_config(const char *ini, const char *const *extra, int n_extra, loom_train_result *r) {
  char cfg[1200];
  snprintf(cfg, sizeof cfg, "%s", tu_src_path(ini));
  const char *sets[32];
  int n = tu_sample_sets(sets);
  for (int i = 0; i < n_extra; i++) sets[n++] = extra[i];
  loom_train_opts o = {.config_path = cfg, .sets = sets, .n_sets = n};
  return loom_train(&o, r, &err);
}

static void test_retrieval_both_directions(void **state) {
  tu_rm_rf("train_retrieval");
  const char *extra[] = {"text.embedding_dim=16", "text.hidden=16", "image.filters=4,8", "image.dense=16",
                         "train.epochs=4", "train.out=train_retrieval"};
  loom_train_result r;
  if (run_config("configs/fashion-shop-retrieval.ini", extra, 6, &r) < 0) fail_msg("%s", err.msg);
  printf("retrieval: %ld updates, loss %.4f -> %.4f, text->item recall@10 %.4f (300 items), item->text recall@10 "
         "%.4f, %.2f s\n", r.steps, r.first_loss, r.last_loss, metric(&r, "t2i_recall@10"), metric(&r, "i2t_recall@10"),
         r.seconds);
  assert_string_equal(r.monitor, "t2i_recall@10");
  assert_true(r.last_loss < r.first_loss);
  /* chance: 10/300 for text -> item */
  assert_true(r.best > 0.10);
  assert_true(metric(&r, "i2t_recall@10") > 0.15);
  tu_rm_rf("train_retrieval");
}

static void test_ranking_two_towers(void **state) {
  const char *dir = "train_ranking";
  tu_rm_rf(dir);
  char cfg[1200];
  snprintf(cfg, sizeof cfg, "%s", tu_src_path("configs/fashion-shop-ranking.ini"));
  char paths[4][1200];
  const char *keys[4] = {"interactions", "items", "users", "image_root"};
  const char *files[4] = {"/interactions.csv", "/items.csv", "/users.csv", ""};
  const char *sets[32];
  int n = 0;
  for (int i = 0; i < 4; i++) {
    snprintf(paths[i], sizeof paths[i], "data.%s=%s%s", keys[i], tu_src_path("datasets/fashion-shop-sample"), files[i]);
    sets[n++] = paths[i];
  }
  const char *extra[] = {"text.embedding_dim=8", "text.hidden=8", "image.filters=4,8", "image.dense=16",
                         "data.negatives=4", "train.epochs=2", "train.out=train_ranking"};
  for (size_t i = 0; i < sizeof extra / sizeof *extra; i++) sets[n++] = extra[i];
  loom_train_opts o = {.config_path = cfg, .sets = sets, .n_sets = n};
  loom_train_result r;
  if (loom_train(&o, &r, &err) < 0) fail_msg("%s", err.msg);
  printf("ranking: %ld updates, loss %.4f -> %.4f, recall@10 %.4f ndcg@10 %.4f (full, 300 items), "
         "s_recall@10 %.4f (100 sampled negatives), %.2f s\n", r.steps, r.first_loss, r.last_loss,
         metric(&r, "recall@10"), metric(&r, "ndcg@10"), metric(&r, "s_recall@10"), r.seconds);
  assert_string_equal(r.monitor, "ndcg@10");
  assert_true(r.last_loss < r.first_loss);
  /* chance: recall@10 ~ 10/299 over all items, ~ 10/101 among 100 sampled negatives */
  assert_true(metric(&r, "recall@10") > 0.07);
  assert_true(metric(&r, "s_recall@10") > 0.18);
  /* hit@K = recall@K with one relevant item per query; precision@K = recall@K / K */
  assert_true(fabs(metric(&r, "hit@10") - metric(&r, "recall@10")) < 1e-9);
  assert_true(fabs(metric(&r, "precision@10") * 10 - metric(&r, "recall@10")) < 1e-9);
  char p[256];
  snprintf(p, sizeof p, "%s/report.html", dir);
  char *html = tu_slurp(p, NULL);
  assert_non_null(strstr(html, "data:image/"));  /* top-K thumbnails */
  free(html);
  tu_rm_rf(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sha256_vectors),
      cmocka_unit_test(test_binary_click_model_learns),
      cmocka_unit_test(test_image_only_category_classifier),
      cmocka_unit_test(test_resume_is_bit_exact),
      cmocka_unit_test(test_corrupt_checkpoints_are_refused),
      cmocka_unit_test(test_ranking_two_towers),
      cmocka_unit_test(test_retrieval_both_directions),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
