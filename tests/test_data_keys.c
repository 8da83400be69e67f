/* test_data_keys.c — the [data] key table (src/data/schema.c): a misspelt key gets a did-you-mean and the
 * list of valid keys generated from the table; every default in the table sets its field back to what
 * loom_data_schema_init gives; the path keys (and only they) are made absolute, from the current
 * directory, when a run's config is read. (tests/test_data_keys_help.sh checks --help-config lists every key.) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loom/checkpoint.h"
#include "loom/data.h"
#include "testutil.h"

static void typo_did_you_mean(void **state) {
  (void)state;
  loom_data_schema s;
  loom_data_schema_init(&s);
  loom_error err = {""};
  assert_int_equal(loom_data_schema_set(&s, "histroy_len", "3", &err), -1);
  assert_non_null(strstr(err.msg, "[data] unknown key 'histroy_len'; did you mean 'history_len'?"));
  assert_int_equal(loom_data_schema_set(&s, "max_vdeo_seconds", "3", &err), -1);
  assert_non_null(strstr(err.msg, "did you mean 'max_video_seconds'?"));
  /* far from every key: no guess, but the full list, every key of the table in it */
  assert_int_equal(loom_data_schema_set(&s, "zzzzzzzzzz", "1", &err), -1);
  assert_null(strstr(err.msg, "did you mean"));
  assert_non_null(strstr(err.msg, "[data] unknown key 'zzzzzzzzzz' — valid keys: interactions, "));
  for (int i = 0; i < loom_data_key_count(); i++) {
    char word[96];
    snprintf(word, sizeof word, " %s%s", loom_data_key_name(i), i + 1 < loom_data_key_count() ? "," : "");
    if (!strstr(err.msg, word)) fail_msg("key '%s' missing from: %s", loom_data_key_name(i), err.msg);
  }
  /* a bad choice names the choices from the table */
  assert_int_equal(loom_data_schema_set(&s, "frame_sampling", "random", &err), -1);
  assert_string_equal(err.msg, "[data] frame_sampling: 'random' is not one of uniform|key");
}

static void defaults_match_init(void **state) {
  (void)state;
  int checked = 0;
  for (int i = 0; i < loom_data_key_count(); i++) {
    const char *def = loom_data_key_default(i);
    if (!def || !def[0]) continue;
    loom_data_schema a, b;
    loom_data_schema_init(&a);
    loom_data_schema_init(&b);
    loom_error err = {""};
    if (loom_data_schema_set(&b, loom_data_key_name(i), def, &err) < 0)
      fail_msg("default of %s ('%s') is refused: %s", loom_data_key_name(i), def, err.msg);
    if (memcmp(&a, &b, sizeof a)) fail_msg("default of %s ('%s') is not what loom_data_schema_init sets", loom_data_key_name(i), def);
    checked++;
  }
  assert_true(checked >= 30);
}

static void path_keys_resolved(void **state) {
  (void)state;
  char cwd[512];
  assert_non_null(getcwd(cwd, sizeof cwd));
  loom_data_section ds;
  loom_config *c = loom_train_config_new(&ds);
  assert_non_null(c);
  loom_error err = {""};
  const char *ini = "[data]\ninteractions = sub/rows.csv\nitems = items.csv\nusers = /abs/users.csv\n"
                    "image_root = img\nuser_col = sub/u\n";
  if (loom_config_load_string(c, ini, "run.ini", &err) < 0) fail_msg("%s", err.msg);
  char want[1024];
  snprintf(want, sizeof want, "%s/sub/rows.csv", cwd);
  assert_string_equal(ds.schema.interactions, want);
  snprintf(want, sizeof want, "%s/items.csv", cwd);
  assert_string_equal(ds.schema.items, want);
  assert_string_equal(ds.schema.users, "/abs/users.csv");
  snprintf(want, sizeof want, "%s/img", cwd);
  assert_string_equal(ds.schema.image_root, want);
  assert_string_equal(ds.schema.user_col, "sub/u"); /* a column name, not a path */
  /* the dump (what checkpoints store) holds the resolved path */
  char *dump = loom_config_dump(c);
  snprintf(want, sizeof want, "interactions = %s/sub/rows.csv\n", cwd);
  assert_non_null(strstr(dump, want));
  loom_free(dump);
  loom_config_free(c);
  int n_path = 0;
  for (int i = 0; i < loom_data_key_count(); i++) n_path += loom_data_key_is_path(loom_data_key_name(i));
  assert_int_equal(n_path, 6); /* interactions, items, users, image_root, item_vectors, user_vectors */
  assert_false(loom_data_key_is_path("video_col"));
  assert_false(loom_data_key_is_path("no_such_key"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(typo_did_you_mean),
      cmocka_unit_test(defaults_match_init),
      cmocka_unit_test(path_keys_resolved),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
