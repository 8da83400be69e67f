/* test_model_spec.c — the typed model spec (loom/model_spec.h): every row of the model and [train] key
 * tables names its spec member, every choice of an enum row has its own enum value that names it back,
 * a config's values land in the members (enums, lists, floats, strings), the defaults read as the
 * tables say, and an integer list longer than its member is refused when set, naming the key. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loom/checkpoint.h"
#include "loom/config.h"
#include "loom/model_spec.h"
#include "loom/train_spec.h"
#include "testutil.h"

static int n_choices(const char *choices) {
  int n = 1;
  for (const char *p = choices; *p; p++) n += *p == '|';
  return n;
}

static void check_table(const loom_cfg_key *keys, int n) {
  for (int i = 0; i < n; i++) {
    const loom_cfg_key *k = &keys[i];
    if (k->field == LOOM_FIELD_NONE) fail_msg("%s.%s names no spec member", k->section, k->key);
    if (k->type != LOOM_CFG_CHOICE || k->field != LOOM_FIELD_ENUM) continue;
    /* each choice's enum value is distinct and names that choice back */
    const int m = n_choices(k->choices);
    const char *p = k->choices;
    for (int j = 0; j < m; j++) {
      const char *bar = strchr(p, '|');
      size_t len = bar ? (size_t)(bar - p) : strlen(p);
      const int v = k->enum_values ? k->enum_values[j] : j;
      for (int q = 0; q < j; q++)
        if ((k->enum_values ? k->enum_values[q] : q) == v) fail_msg("%s.%s: two choices map to enum %d", k->section, k->key, v);
      char name[64];
      loom_cfg_choice_name(k, v, name, sizeof name);
      if (strlen(name) != len || strncmp(name, p, len) != 0)
        fail_msg("%s.%s: enum %d names '%s', not choice %d '%.*s'", k->section, k->key, v, name, j, (int)len, p);
      p = bar ? bar + 1 : p + len;
    }
  }
}

static void test_every_row_has_a_member(void **state) {
  (void)state;
  check_table(loom_train_keys, loom_train_n_keys);
  check_table(loom_train_spec_keys, loom_train_spec_n_keys);
}

static loom_config *config(loom_data_section *ds, const char *text) {
  loom_config *c = loom_train_config_new(ds);
  assert_non_null(c);
  loom_error err;
  if (loom_config_load_string(c, text, "spec.ini", &err) < 0) fail_msg("%s", err.msg);
  return c;
}

static void test_values_land_in_members(void **state) {
  (void)state;
  loom_data_section ds;
  loom_config *c = config(&ds, "[text]\nencoder = transformer\npooling = first\ndense = 8, 4\npositions = none\n"
                               "ff_activation = gelu\ndropout = 0.25\npretrained = w.txt\npretrained_format = glove\n"
                               "[image]\nbackbone = vgg11\npadding = valid\npool_type = avg\nframe_pooling = lstm\n"
                               "lr_mult = 0.1\n[vectors]\nactivation = sigmoid\n[interaction]\nhistory_pooling = din\n"
                               "history_content = all\n[fusion]\nmode = dcn\ncross_layers = 3\ndense =\n"
                               "[task]\nkind = retrieval\nloss = triplet\ndistance = manhattan\nks = 1,2,3\n");
  loom_model_spec s;
  loom_model_spec_read(c, &s);
  assert_int_equal(s.text.encoder, LOOM_TEXT_TRANSFORMER);
  assert_int_equal(s.text.pooling, LOOM_TEXT_POOL_FIRST);
  assert_int_equal(s.text.n_dense, 2);
  assert_int_equal(s.text.dense[0], 8);
  assert_int_equal(s.text.dense[1], 4);
  assert_int_equal(s.text.positions, LOOM_POS_NONE);
  assert_int_equal(s.text.ff_activation, LOOM_ACT_GELU);
  assert_true(s.text.dropout == 0.25f);
  assert_string_equal(s.text.pretrained, "w.txt");
  assert_int_equal(s.text.pretrained_format, LOOM_WORDVEC_GLOVE);
  assert_int_equal(s.image.backbone, LOOM_BACKBONE_VGG11);
  assert_int_equal(s.image.padding, LOOM_CONV_PAD_VALID);
  assert_int_equal(s.image.pool_type, LOOM_POOL2D_AVG);
  assert_int_equal(s.image.frame_pooling, LOOM_FRAMES_LSTM);
  assert_true(s.image.lr_mult == 0.1);
  assert_int_equal(s.vectors.activation, LOOM_ACT_SIGMOID);
  assert_int_equal(s.interaction.history_pooling, LOOM_HISTORY_POOL_DIN);
  assert_int_equal(s.interaction.history_content, LOOM_HISTORY_ALL);
  assert_int_equal(s.fusion.mode, LOOM_FUSION_DCN);
  assert_int_equal(s.fusion.cross_layers, 3);
  assert_int_equal(s.fusion.n_dense, 0);
  assert_int_equal(s.task.kind, LOOM_TASK_RETRIEVAL);
  assert_int_equal(s.task.loss, LOOM_LOSS_TRIPLET);
  assert_int_equal(s.task.distance, LOOM_DIST_MANHATTAN);
  assert_int_equal(s.task.n_ks, 3);
  assert_int_equal(s.task.ks[2], 3);
  char name[32];
  assert_string_equal(loom_model_spec_choice("fusion", "mode", LOOM_FUSION_DCN, name, sizeof name), "dcn");
  assert_string_equal(loom_model_spec_choice("task", "distance", LOOM_DIST_EUCLIDEAN, name, sizeof name), "euclidean");
  loom_config_free(c);
}

static void test_defaults(void **state) {
  (void)state;
  loom_data_section ds;
  loom_config *c = config(&ds, "");
  loom_model_spec s;
  loom_model_spec_read(c, &s);
  assert_true(s.text.enabled);
  assert_int_equal(s.text.encoder, LOOM_TEXT_LSTM);
  assert_int_equal(s.text.n_cnn_widths, 3);
  assert_int_equal(s.text.cnn_widths[1], 3);
  assert_int_equal(s.text.activation, LOOM_ACT_RELU);
  assert_int_equal(s.image.backbone, LOOM_BACKBONE_NONE);
  assert_int_equal(s.image.padding, LOOM_CONV_PAD_SAME);
  assert_int_equal(s.image.n_filters, 2);
  assert_int_equal(s.fusion.mode, LOOM_FUSION_CONCAT);
  assert_int_equal(s.task.kind, LOOM_TASK_BINARY);
  assert_int_equal(s.task.distance, LOOM_DIST_COSINE);
  assert_string_equal(s.task.monitor, "auto");
  assert_true(s.task.threshold == 0.5f);
  loom_config_free(c);
}

static void test_long_list_refused(void **state) {
  (void)state;
  loom_data_section ds;
  loom_config *c = config(&ds, "");
  char arg[256] = "text.dense=1";
  for (int i = 1; i <= LOOM_SPEC_LIST_MAX; i++) snprintf(arg + strlen(arg), sizeof arg - strlen(arg), ",%d", i + 1);
  loom_error err;
  assert_int_equal(loom_config_set_arg(c, arg, &err), -1);
  assert_non_null(strstr(err.msg, "text.dense"));
  assert_non_null(strstr(err.msg, "at most 32"));
  /* LOOM_SPEC_LIST_MAX values are fine */
  arg[strlen(arg) - 3] = '\0'; /* drop ",33" */
  if (loom_config_set_arg(c, arg, &err) < 0) fail_msg("%s", err.msg);
  loom_model_spec s;
  loom_model_spec_read(c, &s);
  assert_int_equal(s.text.n_dense, LOOM_SPEC_LIST_MAX);
  assert_int_equal(s.text.dense[LOOM_SPEC_LIST_MAX - 1], LOOM_SPEC_LIST_MAX);
  loom_config_free(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_row_has_a_member),
      cmocka_unit_test(test_values_land_in_members),
      cmocka_unit_test(test_defaults),
      cmocka_unit_test(test_long_list_refused),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
