/* test_malformed.c — the malformed-input table (tests/data/malformed.tsv): every case is run through
 * the public API and its message compared exactly, so the table documents what loom says about each
 * kind of bad file (kinds: csv, image, ckpt, config, dataset, wordvec — see the table's header; dataset cases
 * check labels as a binary task does, label_values = 2). Runs from the source directory, so paths (and messages) are relative and stable.
 * LOOM_MALFORMED_PRINT=1 prints the actual messages as table rows instead of comparing (for writing
 * new rows; each must still be read and judged by a person before it goes into the table). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loom/alloc.h"
#include "loom/config.h"
#include "loom/data.h"
#include "loom/image.h"
#include "loom/safetensors.h"
#include "loom/wordvec.h"
#include "testutil.h"
#include "config_keys.h"

/* kind csv: the columns every CSV case is read with */
static const loom_colspec csv_spec[] = {
    {"user", LOOM_COL_STRING, 0}, {"item", LOOM_COL_STRING, 0}, {"price", LOOM_COL_FLOAT, 0}};

/* kind config: a run config's keys, with [data] handed to the data schema */

static int schema_set(void *ctx, const char *key, const char *value, loom_error *err) {
  return loom_data_schema_set(ctx, key, value, err);
}

/* Runs one case; returns 0 if the input was (wrongly) accepted, -1 with err set otherwise. */
static int run_case(const char *kind, const char *file, loom_error *err) {
  err->msg[0] = '\0';
  if (!strcmp(kind, "csv")) {
    loom_table t;
    if (loom_table_read(&t, file, csv_spec, 3, NULL, err) < 0) return -1;
    loom_table_free(&t);
    return 0;
  }
  if (!strcmp(kind, "image")) {
    loom_image_opts o;
    loom_image_opts_default(&o);
    float out[28 * 28];
    return loom_image_load(file, &o, out, err);
  }
  if (!strcmp(kind, "ckpt")) {
    loom_st_file *f = loom_st_open(file, err);
    if (!f) return -1;
    loom_st_close(f);
    return 0;
  }
  if (!strcmp(kind, "config")) {
    loom_data_schema s;
    loom_data_schema_init(&s);
    loom_cfg_section sec = {"data", &s, schema_set, NULL};
    loom_config *c = loom_config_new(test_cfg_keys, TEST_CFG_NKEYS);
    loom_config_add_section(c, &sec);
    int rc = loom_config_load(c, file, err);
    loom_config_free(c);
    return rc;
  }
  if (!strcmp(kind, "dataset")) {
    loom_data_schema s;
    loom_data_schema_init(&s);
    if (loom_data_schema_load_ini(&s, file, err) < 0 || loom_data_schema_validate(&s, err) < 0) return -1;
    s.label_values = 2; /* as the trainer sets it for task.kind = binary (the default task) */
    loom_dataset *ds = loom_dataset_open(&s, NULL, err);
    if (!ds) return -1;
    /* images are read when rows are encoded: encode every row of every split */
    loom_batch b;
    int rc = loom_batch_init(&b, ds, 64, err);
    for (int sp = LOOM_SPLIT_TRAIN; rc == 0 && sp <= LOOM_SPLIT_TEST; sp++) {
      const int32_t *rows = loom_dataset_split_rows(ds, (loom_split)sp);
      int64_t n = loom_dataset_rows(ds, (loom_split)sp);
      for (int64_t i = 0; rc == 0 && i < n; i += 64)
        rc = loom_dataset_encode(ds, rows + i, (int)(n - i < 64 ? n - i : 64), &b, err);
    }
    loom_batch_free(&b); /* safe after a failed init too */
    loom_dataset_free(ds);
    return rc;
  }
  if (!strcmp(kind, "wordvec")) {
    loom_wordvec wv;
    if (loom_wordvec_read(file, NULL, &wv, err) < 0) return -1;
    loom_wordvec_free(&wv);
    return 0;
  }
  fail_msg("malformed.tsv: unknown kind '%s'", kind);
  return 0;
}

static void test_every_case_gives_its_message(void **state) {
  (void)state;
  assert_int_equal(chdir(LOOM_SOURCE_DIR), 0);
  FILE *f = fopen("tests/data/malformed.tsv", "r");
  assert_non_null(f);
  int print = getenv("LOOM_MALFORMED_PRINT") != NULL;
  char line[4096];
  int lineno = 0, cases = 0, bad = 0, kinds[6] = {0};
  const char *kind_names[6] = {"csv", "image", "ckpt", "config", "dataset", "wordvec"};
  while (fgets(line, sizeof line, f)) {
    lineno++;
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
    if (!n || line[0] == '#') continue;
    char *kind = line, *file = strchr(kind, '\t');
    if (!file) fail_msg("malformed.tsv:%d: expected kind<TAB>file<TAB>message", lineno);
    *file++ = '\0';
    char *want = strchr(file, '\t');
    if (!want) fail_msg("malformed.tsv:%d: expected kind<TAB>file<TAB>message", lineno);
    *want++ = '\0';
    loom_error err;
    int rc = run_case(kind, file, &err);
    for (int k = 0; k < 6; k++) kinds[k] += !strcmp(kind, kind_names[k]);
    cases++;
    if (print) {
      printf("%s\t%s\t%s\n", kind, file, rc == 0 ? "(accepted)" : err.msg);
      continue;
    }
    if (rc == 0) {
      print_error("malformed.tsv:%d: %s %s was accepted; expected: %s\n", lineno, kind, file, want);
      bad++;
    } else if (strcmp(err.msg, want) != 0) {
      print_error("malformed.tsv:%d: %s %s\n  expected: %s\n  got:      %s\n", lineno, kind, file, want, err.msg);
      bad++;
    }
  }
  fclose(f);
  print_message("malformed inputs: %d cases (csv %d, image %d, ckpt %d, config %d, dataset %d, wordvec %d), %d wrong\n",
                cases, kinds[0], kinds[1], kinds[2], kinds[3], kinds[4], kinds[5], bad);
  assert_int_equal(bad, 0);
  assert_true(cases >= 30);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_case_gives_its_message),
  };
  return cmocka_run_group_tests_name("malformed", tests, NULL, NULL);
}
