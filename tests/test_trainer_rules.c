/* test_trainer_rules.c — the config rules of a training run (issue 13): keys that have no effect are
 * errors naming key, place and why; a key or section given twice is an error naming both lines; the
 * label fed back as a feature is refused; a model too big for the machine is refused from its spec;
 * config.ini round-trips values with spaces, ; # " =; configs must be regular files; a label the head
 * cannot take names the interactions file and line. Runs in its own temporary directory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loom/alloc.h"
#include "loom/model.h"
#include "loom/trainer.h"
#include "testutil.h"

static loom_error err;

/* configs/<name> loaded with `sets`, then the model rules; returns their result, err set. */
static int check(const char *name, const char *const *sets) {
  loom_data_section d;
  loom_config *c = loom_train_config_new(&d);
  int rc = loom_config_load(c, tu_src_path(name), &err);
  for (int i = 0; rc == 0 && sets && sets[i]; i++) rc = loom_config_set_arg(c, sets[i], &err);
  if (rc == 0) rc = loom_model_check_config(c, &err);
  loom_config_free(c);
  return rc;
}

static void expect_inert(const char *name, const char *set, const char *want) {
  const char *sets[] = {set, NULL};
  if (check(name, sets) != -1) fail_msg("%s with --set %s was accepted; expected: %s", name, set, want);
  if (!strstr(err.msg, want)) fail_msg("%s --set %s:\n  got:      %s\n  expected: %s", name, set, err.msg, want);
}

static void expect_ok(const char *name, const char *const *sets) {
  if (check(name, sets) != 0) fail_msg("%s: %s", name, err.msg);
}

static void test_inert_keys_are_errors(void **state) {
  (void)state;
  expect_inert("configs/fashion-shop-retrieval.ini", "fusion.mode=gated",
               "--set: fusion.mode = gated has no effect on a ranking or retrieval model (task.kind = "
               "ranking|retrieval): the two towers meet in a dot product, there is no fusion; remove it");
  expect_inert("configs/fashion-shop-ranking.ini", "fusion.dense=32", "fusion.dense = 32 has no effect on a ranking");
  expect_inert("configs/fashion-shop-ranking.ini", "data.numeric_cols=price", "data.numeric_cols = price has no effect on a ranking");
  expect_inert("configs/fashion-shop-retrieval.ini", "data.category_cols=device", "data.category_cols = device has no effect");
  expect_inert("configs/fashion-shop-retrieval.ini", "interaction.item_dim=0", "interaction.item_dim = 0 has no effect on a retrieval model");
  expect_inert("configs/fashion-shop-click.ini", "task.loss=bpr",
               "--set: task.loss = bpr has no effect on a binary or multiclass model");
  expect_inert("configs/fashion-shop-click.ini", "train.momentum=0.9",
               "train.momentum = 0.9 has no effect with train.optimizer = adam or adamw");
  expect_inert("configs/fashion-shop-click.ini", "fusion.dim=8", "fusion.dim = 8 has no effect with fusion.mode = concat or dcn");
  expect_inert("configs/fashion-shop-click.ini", "task.temperature=0.5", "task.temperature = 0.5 has no effect unless task.kind = retrieval");
  expect_inert("configs/fashion-shop-ranking.ini", "train.min_lr=0.0001", "train.min_lr = 0.0001 has no effect unless train.schedule = cosine");
  expect_inert("configs/fashion-shop-click.ini", "image.lstm_hidden=64", "image.lstm_hidden = 64 has no effect with image.encoder = conv");
  assert_int_equal(check("configs/fashion-shop-click.ini", (const char *[]){"image.encoder=rows", "image.filters=4,8", NULL}), -1);
  if (!strstr(err.msg, "image.filters = 4,8 has no effect with image.encoder = rows")) fail_msg("%s", err.msg);
  expect_inert("configs/fashion-shop-category.ini", "task.pos_weight=3", "task.pos_weight = 3 has no effect unless task.kind = binary");
  expect_inert("configs/fashion-shop-click.ini", "data.negative_power=1", "data.negative_power = 1 has no effect unless data.negative_sampling = popularity");
  expect_inert("configs/fashion-shop-click.ini", "data.history=all", "data.history = all has no effect without data.history_len");
  /* the text encoders' keys: the transformer's with another encoder, the recurrent ones with the transformer */
  expect_inert("configs/fashion-shop-click.ini", "text.ff_dim=64",
               "[text] ff_dim = 64 has no effect with text.encoder = lstm (it sets the transformer encoder)");
  assert_int_equal(check("configs/fashion-shop-click.ini", (const char *[]){"text.encoder=transformer", "text.bidirectional=true", NULL}), -1);
  if (!strstr(err.msg, "[text] bidirectional = true has no effect with text.encoder = transformer (it sets the lstm or gru encoder)"))
    fail_msg("%s", err.msg);
  assert_int_equal(check("configs/fashion-shop-click.ini", (const char *[]){"text.encoder=transformer", "text.heads=5", NULL}), -1);
  if (!strstr(err.msg, "[text] heads = 5 does not divide embedding_dim = 32")) fail_msg("%s", err.msg);
  expect_inert("configs/fashion-shop-click.ini", "text.pooling=first", "[text] pooling = first needs text.encoder = transformer");
  expect_ok("configs/fashion-shop-click.ini", (const char *[]){"text.encoder=transformer", "text.heads=8", "text.layers=2",
                                                              "text.ff_activation=gelu", "text.positions=learned", NULL});
  /* a file's line is named, not only --set */
  loom_data_section d;
  loom_config *c = loom_train_config_new(&d);
  assert_int_equal(loom_config_load_string(c, "[task]\nkind = ranking\n\n[fusion]\nmode = sum\n", "run.ini", &err), 0);
  assert_int_equal(loom_model_check_config(c, &err), -1);
  if (!strstr(err.msg, "run.ini:5: fusion.mode = sum has no effect")) fail_msg("%s", err.msg);
  loom_config_free(c);
}

static void test_what_is_not_reported(void **state) {
  (void)state;
  /* keys of a tower switched off, a default written out, a --set override of a file value */
  expect_ok("configs/fashion-shop-click.ini", (const char *[]){"image.enabled=false", "image.encoder=rows", "image.filters=4", NULL});
  expect_ok("configs/fashion-shop-click.ini", (const char *[]){"train.momentum=0", "fusion.mode=concat", NULL});
  expect_ok("configs/fashion-shop-click.ini", (const char *[]){"train.optimizer=sgd", "train.momentum=0.9", NULL});
  expect_ok("configs/fashion-shop-click.ini", (const char *[]){"fusion.mode=gated", "fusion.dim=8", NULL});
  expect_ok("configs/fashion-shop-click.ini", (const char *[]){"data.batch_size=16", "data.batch_size=8", NULL});
  /* every committed config passes, and so does its saved (resolved: every key written) config.ini */
  const char *names[] = {"configs/fashion-shop-click.ini", "configs/fashion-shop-ranking.ini", "configs/fashion-shop-retrieval.ini",
                         "configs/fashion-shop-category.ini", "configs/fashion-mnist-cnn.ini", "configs/fashion-mnist-lstm.ini",
                         "configs/spam.ini"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    expect_ok(names[i], NULL);
    loom_data_section d, d2;
    loom_config *c = loom_train_config_new(&d), *c2 = loom_train_config_new(&d2);
    assert_int_equal(loom_config_load(c, tu_src_path(names[i]), &err), 0);
    char *dump = loom_config_dump(c);
    if (loom_config_load_string(c2, dump, "config.ini", &err) != 0 || loom_model_check_config(c2, &err) != 0)
      fail_msg("%s saved and loaded back: %s", names[i], err.msg);
    loom_free(dump);
    loom_config_free(c);
    loom_config_free(c2);
  }
}

static void expect_load_error(const char *ini, const char *want) {
  loom_data_section d;
  loom_config *c = loom_train_config_new(&d);
  if (loom_config_load_string(c, ini, "run.ini", &err) != -1) fail_msg("accepted: %s", ini);
  if (!strstr(err.msg, want)) fail_msg("got: %s\nexpected: %s", err.msg, want);
  loom_config_free(c);
}

static void test_duplicates_are_errors_everywhere(void **state) {
  (void)state;
  expect_load_error("[data]\ninteractions = a.csv\nbatch_size = 8\nbatch_size = 16\n",
                    "run.ini:4: data.batch_size is set twice (first on line 3); keep one");
  expect_load_error("[data]\nbatch_size = 8\n[text]\nhidden = 8\n[data]\nseed = 3\n",
                    "run.ini:5: section [data] appears twice (first on line 1); merge the two into one");
  expect_load_error("[text]\nhidden = 8\n[train]\nlr = 0.1\n[text]\nlayers = 2\n",
                    "run.ini:5: section [text] appears twice (first on line 1)");
  expect_load_error("[train]\nlr = 0.1\nlr = 0.2\n", "run.ini:3: train.lr is set twice (first on line 2)");
  /* the schema's own INI reader: the same rule */
  const char *path = "dup_data.ini";
  FILE *f = fopen(path, "w");
  fputs("[data]\ninteractions = a.csv\n[data]\nseed = 1\n", f);
  fclose(f);
  loom_data_schema s;
  loom_data_schema_init(&s);
  assert_int_equal(loom_data_schema_load_ini(&s, path, &err), -1);
  if (!strstr(err.msg, "dup_data.ini:3: section [data] appears twice (first on line 1)")) fail_msg("%s", err.msg);
  f = fopen(path, "w");
  fputs("[data]\nseed = 1\n\nseed = 2\n", f);
  fclose(f);
  loom_data_schema_init(&s);
  assert_int_equal(loom_data_schema_load_ini(&s, path, &err), -1);
  if (!strstr(err.msg, "dup_data.ini:4: data.seed is set twice (first on line 2)")) fail_msg("%s", err.msg);
  remove(path);
}

static void test_target_leakage_is_refused(void **state) {
  (void)state;
  struct { const char *key, *value, *want; } cases[] = {
      {"numeric_cols", "price, clicked", "numeric_cols lists 'clicked', which is the label_col"},
      {"category_cols", "split", "category_cols lists 'split', which is the split_col"},
      {"text_cols", "title, clicked", "text_cols lists 'clicked', which is the label_col"},
      {"category_cols", "user_id", "category_cols lists 'user_id', which is the user_col"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    loom_data_schema s;
    loom_data_schema_init(&s);
    const char *kv[][2] = {{"interactions", "x.csv"}, {"user_col", "user_id"}, {"item_col", "item_id"},
                           {"label_col", "clicked"}, {"split", "column"}, {"split_col", "split"}};
    for (size_t k = 0; k < sizeof kv / sizeof kv[0]; k++) assert_int_equal(loom_data_schema_set(&s, kv[k][0], kv[k][1], &err), 0);
    assert_int_equal(loom_data_schema_validate(&s, &err), 0);
    assert_int_equal(loom_data_schema_set(&s, cases[i].key, cases[i].value, &err), 0);
    assert_int_equal(loom_data_schema_validate(&s, &err), -1);
    if (!strstr(err.msg, cases[i].want)) fail_msg("got: %s\nexpected: %s", err.msg, cases[i].want);
  }
}

static void test_memory_estimate_refuses_a_model_too_big(void **state) {
  (void)state;
  loom_train_result r;
  char dense[400] = "fusion.dense=65536";
  for (int i = 0; i < 20; i++) strcat(dense, ",65536"); /* ~90 billion parameters: more than any machine */
  const char *extra[] = {dense, NULL};
  assert_int_equal(tu_train_sample("big_run", NULL, NULL, NULL, extra, &r, &err), -1);
  if (!strstr(err.msg, "the model needs about") || !strstr(err.msg, "GiB") || !strstr(err.msg, "fusion.dense") ||
      !strstr(err.msg, "batch_size = 64"))
    fail_msg("%s", err.msg);
  struct stat st;
  assert_int_not_equal(stat("big_run/config.ini", &st), 0); /* refused before the run directory is written */
  /* the committed config itself fits */
  loom_data_section d;
  loom_config *c = loom_train_config_new(&d);
  const char *sets[4];
  int n = tu_sample_sets(sets);
  assert_int_equal(loom_config_load(c, tu_src_path("configs/fashion-shop-click.ini"), &err), 0);
  for (int i = 0; i < n; i++) assert_int_equal(loom_config_set_arg(c, sets[i], &err), 0);
  loom_dataset *ds = loom_dataset_open(&d.schema, NULL, &err);
  if (!ds) fail_msg("%s", err.msg);
  if (loom_model_check_memory(c, ds, d.schema.batch_size, &err) != 0) fail_msg("%s", err.msg);
  loom_dataset_free(ds);
  loom_config_free(c);
}

static void test_saved_config_round_trips_awkward_values(void **state) {
  (void)state;
  const char *values[] = {"runs/x ", " runs/y", "a;b", "a ;b", ";x", "a#b", "#x", "say \"hi\"", "k=v", "back\\slash\"",
                          "\"quoted\"", "\t tab "};
  for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
    loom_data_section d, d2;
    loom_config *c = loom_train_config_new(&d), *c2 = loom_train_config_new(&d2);
    if (loom_config_set(c, "train", "out", values[i], "--set", &err) != 0) fail_msg("'%s': %s", values[i], err.msg);
    char path[600];
    snprintf(path, sizeof path, "/tmp/datasets/x%s", values[i]);
    if (loom_config_set(c, "data", "interactions", path, "--set", &err) != 0) fail_msg("'%s': %s", values[i], err.msg);
    char *dump = loom_config_dump(c);
    if (loom_config_load_string(c2, dump, "config.ini", &err) != 0) fail_msg("'%s': %s\n%s", values[i], err.msg, dump);
    assert_string_equal(loom_config_str(c2, "train", "out"), values[i]);
    assert_string_equal(d2.schema.interactions, path);
    char *dump2 = loom_config_dump(c2);
    assert_string_equal(dump, dump2);
    loom_free(dump), loom_free(dump2);
    loom_config_free(c), loom_config_free(c2);
  }
  /* written by hand: quotes keep what a bare value would lose; a bad quote is named */
  loom_data_section d;
  loom_config *c = loom_train_config_new(&d);
  assert_int_equal(loom_config_load_string(c, "[train]\nout = \"runs/a ; b \"  ; a comment\n", "run.ini", &err), 0);
  assert_string_equal(loom_config_str(c, "train", "out"), "runs/a ; b ");
  loom_config_free(c);
  expect_load_error("[train]\nout = \"runs/a\" b\n", "run.ini:2: text after the closing quote");
  expect_load_error("[train]\nout = \"runs/a\n", "run.ini:2: the quoted value has no closing quote");
}

static void test_configs_must_be_regular_files(void **state) {
  (void)state;
  assert_int_equal(mkfifo("fifo.ini", 0600), 0);
  assert_int_equal(mkdir("dir.ini", 0700), 0);
  loom_data_section d;
  loom_config *c = loom_train_config_new(&d);
  assert_int_equal(loom_config_load(c, "fifo.ini", &err), -1);
  if (!strstr(err.msg, "fifo.ini: the config file is a FIFO")) fail_msg("%s", err.msg);
  assert_int_equal(loom_config_load(c, "dir.ini", &err), -1);
  if (!strstr(err.msg, "dir.ini: the config file is a directory")) fail_msg("%s", err.msg);
  loom_config_free(c);
  loom_data_schema s;
  loom_data_schema_init(&s);
  assert_int_equal(loom_data_schema_load_ini(&s, "fifo.ini", &err), -1);
  if (!strstr(err.msg, "fifo.ini: the config file is a FIFO")) fail_msg("%s", err.msg);
  remove("fifo.ini");
  rmdir("dir.ini");
}

static void test_bind_label_error_names_file_and_line(void **state) {
  (void)state;
  loom_data_section d;
  loom_config *c = loom_train_config_new(&d);
  const char *sets[4];
  int n = tu_sample_sets(sets);
  assert_int_equal(loom_config_load(c, tu_src_path("configs/fashion-shop-click.ini"), &err), 0);
  for (int i = 0; i < n; i++) assert_int_equal(loom_config_set_arg(c, sets[i], &err), 0);
  d.schema.label_values = 2;
  loom_dataset *ds = loom_dataset_open(&d.schema, NULL, &err);
  if (!ds) fail_msg("%s", err.msg);
  loom_model *m = loom_model_build(c, ds, &err);
  if (!m) fail_msg("%s", err.msg);
  assert_int_equal(loom_model_compile(m, 1, true, &err), 0);
  loom_batch b;
  assert_int_equal(loom_batch_init(&b, ds, 1, &err), 0);
  const int32_t *rows = loom_dataset_split_rows(ds, LOOM_SPLIT_TRAIN) + 3;
  assert_int_equal(loom_dataset_encode(ds, rows, 1, &b, &err), 0);
  b.label[0] = 2;
  assert_int_equal(loom_model_bind(m, &b, &err), -1);
  char want[1200];
  snprintf(want, sizeof want, "%s:%lld: column 'clicked': label 2 is not 0 or 1", d.schema.interactions,
           (long long)loom_dataset_row_line(ds, rows[0]));
  if (!strstr(err.msg, want)) fail_msg("got: %s\nexpected: %s", err.msg, want);
  loom_batch_free(&b);
  loom_model_free(m);
  loom_dataset_free(ds);
  loom_config_free(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_inert_keys_are_errors),
      cmocka_unit_test(test_what_is_not_reported),
      cmocka_unit_test(test_duplicates_are_errors_everywhere),
      cmocka_unit_test(test_target_leakage_is_refused),
      cmocka_unit_test(test_memory_estimate_refuses_a_model_too_big),
      cmocka_unit_test(test_saved_config_round_trips_awkward_values),
      cmocka_unit_test(test_configs_must_be_regular_files),
      cmocka_unit_test(test_bind_label_error_names_file_and_line),
  };
  return cmocka_run_group_tests_name("trainer_rules", tests, NULL, NULL);
}
