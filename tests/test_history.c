/* test_history.c — behaviour histories ([data] history_len, history; src/data/history.c): exact
 * contents on a hand-written interactions file (oldest first, strictly before the row's timestamp,
 * ties excluded, positives only or every impression, no row of a later split seen, unknown items
 * left out, truncation to the last history_len), the same through batches, and bad input (history_len
 * out of range, missing timestamp column or key, non-numeric or empty timestamp) named by file, line
 * and field. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loom/data.h"
#include "testutil.h"

static loom_error err;

static void set(loom_data_schema *s, const char *k, const char *v) {
  if (loom_data_schema_set(s, k, v, &err) < 0) fail_msg("set %s=%s: %s", k, v, err.msg);
}

static const char *write_tmp(const char *name, const char *text) {
  const char *path = tu_tmp(name);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
  return path;
}

/* Line numbers are the file's (header = 1). u1's rows by time: A@10 B@20(no click) C@20 F@25(val)
 * D@30 B@35(test) E@40(val) A@50(test); u2: A@1 Z@3(val, an item never in training) C@5; u3: E@1 F@2. */
static const char *INTER =
    "user,item,label,ts,split\n"
    "u1,A,1,10,train\n"  /* 2 */
    "u1,B,0,20,train\n"  /* 3 */
    "u1,C,1,20,train\n"  /* 4 */
    "u1,D,1,30,train\n"  /* 5 */
    "u1,E,1,40,val\n"    /* 6 */
    "u1,A,1,50,test\n"   /* 7 */
    "u1,B,1,35,test\n"   /* 8 */
    "u1,F,1,25,val\n"    /* 9 */
    "u2,C,1,5,train\n"   /* 10 */
    "u2,A,1,1,train\n"   /* 11 */
    "u2,Z,1,3,val\n"     /* 12 */
    "u3,E,1,1,train\n"   /* 13 */
    "u3,F,0,2,train\n";  /* 14 */

static void schema(loom_data_schema *s, const char *path, const char *len, const char *kind) {
  loom_data_schema_init(s);
  set(s, "interactions", path);
  set(s, "user_col", "user");
  set(s, "item_col", "item");
  set(s, "label_col", "label");
  set(s, "timestamp_col", "ts");
  set(s, "split", "column");
  set(s, "split_col", "split");
  set(s, "history_len", len);
  if (kind) set(s, "history", kind);
}

/* The history of the row on file line `line` as item keys, e.g. "A C" ("" when empty). */
static void history_of(loom_dataset *ds, int line, char *out, size_t cap) {
  int32_t r = (int32_t)(line - 2);
  assert_int_equal(loom_dataset_row_line(ds, r), line);
  loom_batch b;
  assert_int_equal(loom_batch_init(&b, ds, 1, &err), 0);
  assert_int_equal(loom_dataset_encode(ds, &r, 1, &b, &err), 0);
  const loom_idmap *items = loom_dataset_prep(ds)->items;
  out[0] = '\0';
  for (int k = 0; k < b.hist_len[0]; k++) {
    const char *key = loom_idmap_key(items, b.hist[k]);
    assert_non_null(key);
    size_t l = strlen(out);
    snprintf(out + l, cap - l, "%s%s", k ? " " : "", key);
  }
  for (int k = b.hist_len[0]; k < b.Lh; k++) assert_int_equal(b.hist[k], 0); /* padding */
  loom_batch_free(&b);
}

static void expect(loom_dataset *ds, int line, const char *want) {
  char got[256];
  history_of(ds, line, got, sizeof got);
  if (strcmp(got, want)) fail_msg("line %d: history '%s', expected '%s'", line, got, want);
}

static void test_positives(void **state) {
  (void)state;
  loom_data_schema s;
  schema(&s, write_tmp("loom_test_hist.csv", INTER), "3", NULL);
  loom_dataset *ds = loom_dataset_open(&s, NULL, &err);
  if (!ds) fail_msg("%s", err.msg);
  expect(ds, 2, "");         /* u1's first row */
  expect(ds, 3, "A");
  expect(ds, 4, "A");        /* B@20 is a tie: not before C@20 (and not a click either) */
  expect(ds, 9, "A C");      /* val row sees training rows before it; B@20 was no click */
  expect(ds, 5, "A C");      /* a training row never sees the val row F@25 */
  expect(ds, 8, "C F D");    /* test row: every split before it, last 3 */
  expect(ds, 6, "C F D");    /* val row E@40 never sees the test row B@35 */
  expect(ds, 7, "D B E");
  expect(ds, 11, "");        /* u2: order by time, not by file line */
  expect(ds, 12, "A");
  expect(ds, 10, "A");       /* Z is a val row (and unknown to the model) */
  expect(ds, 13, "");
  expect(ds, 14, "E");
  /* the loader's batches carry the same arrays */
  loom_loader *ld = loom_loader_new(ds, LOOM_SPLIT_TEST, 0, &err);
  assert_non_null(ld);
  const loom_batch *b = loom_loader_next(ld, &err);
  assert_non_null(b);
  assert_int_equal(b->B, 2);
  assert_int_equal(b->Lh, 3);
  for (int i = 0; i < b->B; i++) assert_int_equal(b->hist_len[i], 3);
  loom_loader_free(ld);
  loom_dataset_free(ds);
}

static void test_all_impressions(void **state) {
  (void)state;
  loom_data_schema s;
  schema(&s, write_tmp("loom_test_hist.csv", INTER), "3", "all");
  loom_dataset *ds = loom_dataset_open(&s, NULL, &err);
  if (!ds) fail_msg("%s", err.msg);
  expect(ds, 3, "A");
  expect(ds, 4, "A");        /* ties never see each other, in either order */
  expect(ds, 5, "A B C");    /* B and C (tied at 20) in file order */
  expect(ds, 6, "C F D");
  expect(ds, 14, "E");
  loom_dataset_free(ds);
  schema(&s, tu_tmp("loom_test_hist.csv"), "1", "all");
  ds = loom_dataset_open(&s, NULL, &err);
  if (!ds) fail_msg("%s", err.msg);
  expect(ds, 5, "C");        /* history_len = 1: the latest only */
  loom_dataset_free(ds);
  remove(tu_tmp("loom_test_hist.csv"));
}

static void expect_open_error(const loom_data_schema *s, const char *want) {
  loom_dataset *ds = loom_dataset_open(s, NULL, &err);
  if (ds) { loom_dataset_free(ds); fail_msg("opened; expected an error with '%s'", want); }
  if (!strstr(err.msg, want)) fail_msg("error '%s' lacks '%s'", err.msg, want);
}

static void test_bad_input(void **state) {
  (void)state;
  loom_data_schema s;
  loom_data_schema_init(&s);
  assert_int_equal(loom_data_schema_set(&s, "history_len", "1025", &err), -1);
  assert_non_null(strstr(err.msg, "[data] history_len: '1025' is not an integer in [0, 1024]"));
  assert_int_equal(loom_data_schema_set(&s, "history_len", "-1", &err), -1);
  assert_int_equal(loom_data_schema_set(&s, "history", "clicks", &err), -1);
  assert_non_null(strstr(err.msg, "[data] history: 'clicks' is not one of positives|all"));
  /* in a file: file and line */
  const char *ini = write_tmp("loom_test_hist.ini", "[data]\ninteractions = x.csv\nhistory_len = 5000\n");
  loom_data_schema_init(&s);
  assert_int_equal(loom_data_schema_load_ini(&s, ini, &err), -1);
  if (!strstr(err.msg, "loom_test_hist.ini:3") || !strstr(err.msg, "history_len")) fail_msg("%s", err.msg);
  remove(ini);
  /* no timestamp_col (or user_col) */
  const char *path = write_tmp("loom_test_hist.csv", INTER);
  schema(&s, path, "4", NULL);
  s.timestamp_col[0] = '\0';
  expect_open_error(&s, "[data] history_len = 4 needs timestamp_col");
  schema(&s, path, "4", NULL);
  s.user_col[0] = '\0';
  expect_open_error(&s, "[data] history_len = 4 needs user_col");
  /* the timestamp column is not in the file */
  schema(&s, path, "4", NULL);
  set(&s, "timestamp_col", "time");
  expect_open_error(&s, "time");
  /* a non-numeric timestamp: file, line, column */
  path = write_tmp("loom_test_hist.csv", "user,item,label,ts,split\nu1,A,1,10,train\nu1,B,1,noon,train\n");
  schema(&s, path, "4", NULL);
  expect_open_error(&s, "loom_test_hist.csv:3");
  assert_non_null(strstr(err.msg, "ts"));
  /* an empty timestamp */
  path = write_tmp("loom_test_hist.csv", "user,item,label,ts,split\nu1,A,1,10,train\nu1,B,1,,train\n");
  schema(&s, path, "4", NULL);
  expect_open_error(&s, "loom_test_hist.csv:3: column 'ts': the timestamp is missing — history_len orders each user's rows by it");
  remove(path);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_positives),
      cmocka_unit_test(test_all_impressions),
      cmocka_unit_test(test_bad_input),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
