/* test_config.c — INI configs: typed keys, defaults, every kind of bad line named by file and line,
 * --set overrides, sections owned by other modules, and the resolved dump loading back identically. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loom/alloc.h"
#include "loom/config.h"
#include "loom/data.h"
#include "testutil.h"
#include "config_keys.h"


/* An owned section that accepts key 'path' and rejects anything else. */
typedef struct {
  char path[256];
  int calls;
} data_ctx;
static int data_set(void *ctx, const char *key, const char *value, loom_error *err) {
  data_ctx *d = ctx;
  d->calls++;
  if (strcmp(key, "path") != 0) return loom_errorf(err, "[data] unknown key '%s' (valid: path)", key);
  snprintf(d->path, sizeof d->path, "%s", value);
  return 0;
}
static size_t data_dump(void *ctx, char *buf, size_t cap) {
  data_ctx *d = ctx;
  int n = snprintf(buf, buf ? cap : 0, "path = %s\n", d->path);
  return (size_t)n;
}

static int schema_set(void *ctx, const char *key, const char *value, loom_error *err) {
  return loom_data_schema_set(ctx, key, value, err);
}

/* loom_config_read_spec: each field kind lands in its member, choices become enum values through the
 * table (or their index), lists fill an array and its count, and keys of other sections are not read;
 * loom_config_new_tables joins tables in order. */
typedef enum { COLOR_RED = 7, COLOR_GREEN = 3 } color;
typedef struct {
  bool on;
  int n;
  long big;
  float f;
  double d;
  const char *name;
  color col;
  int mode; /* choice index */
  int widths[4], n_widths;
} spec_t;
#define F(k, ty, df, ch, lo, hi, fld, m, ...)                                                              \
  {.section = "s", .key = k, .type = ty, .def = df, .choices = ch, .min = lo, .max = hi, .doc = "d",       \
   .field = LOOM_FIELD_##fld, .offset = offsetof(spec_t, m), __VA_ARGS__}
static const loom_cfg_key spec_keys[] = {
    F("on", LOOM_CFG_BOOL, "false", NULL, 0, 0, BOOL, on),
    F("n", LOOM_CFG_INT, "3", NULL, 0, 100, INT, n),
    F("big", LOOM_CFG_INT, "5", NULL, 0, 1e12, LONG, big),
    F("f", LOOM_CFG_FLOAT, "0.5", NULL, 0, 10, FLOAT, f),
    F("d", LOOM_CFG_FLOAT, "0.25", NULL, 0, 10, DOUBLE, d),
    F("name", LOOM_CFG_STRING, "x", NULL, 0, 0, STR, name),
    F("col", LOOM_CFG_CHOICE, "red", "red|green", 0, 0, ENUM, col, .enum_values = (const int[]){COLOR_RED, COLOR_GREEN}),
    F("mode", LOOM_CFG_CHOICE, "a", "a|b|c", 0, 0, ENUM, mode),
    F("widths", LOOM_CFG_INT_LIST, "2,3", NULL, 1, 9, INT_LIST, widths, .count_offset = offsetof(spec_t, n_widths), .list_cap = 4),
};
static const loom_cfg_key other_keys[] = {{.section = "o", .key = "k", .type = LOOM_CFG_INT, .def = "1", .min = 0, .max = 9, .doc = "d"}};

static void test_read_spec(void **state) {
  const loom_cfg_key *tables[] = {spec_keys, other_keys};
  const int counts[] = {(int)(sizeof spec_keys / sizeof spec_keys[0]), 1};
  loom_config *c = loom_config_new_tables(2, tables, counts);
  assert_non_null(c);
  spec_t s;
  memset(&s, 0xff, sizeof s);
  loom_config_read_spec(c, "s", &s);
  assert_false(s.on);
  assert_int_equal(s.n, 3);
  assert_int_equal(s.big, 5);
  assert_true(s.f == 0.5f && s.d == 0.25);
  assert_string_equal(s.name, "x");
  assert_int_equal(s.col, COLOR_RED);
  assert_int_equal(s.mode, 0);
  assert_int_equal(s.n_widths, 2);
  assert_int_equal(s.widths[0], 2);
  assert_int_equal(s.widths[1], 3);
  loom_error err = {0};
  const char *sets[] = {"s.on=yes", "s.n=42", "s.big=1000000000000", "s.f=1.25", "s.d=2.5", "s.name=abc",
                        "s.col=green", "s.mode=c", "s.widths=7,8,9,1", "o.k=4"};
  for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++) assert_int_equal(loom_config_set_arg(c, sets[i], &err), 0);
  assert_int_equal(loom_config_set_arg(c, "s.col=blue", &err), -1); /* refused when set: read_spec never sees it */
  loom_config_read_spec(c, "s", &s);
  assert_true(s.on);
  assert_int_equal(s.n, 42);
  assert_int_equal(s.big, 1000000000000L);
  assert_true(s.f == 1.25f && s.d == 2.5);
  assert_string_equal(s.name, "abc");
  assert_int_equal(s.col, COLOR_GREEN);
  assert_int_equal(s.mode, 2);
  assert_int_equal(s.n_widths, 4);
  assert_int_equal(s.widths[0], 7);
  assert_int_equal(s.widths[3], 1);
  assert_int_equal(loom_config_int(c, "o", "k"), 4); /* the second table */
  char *dump = loom_config_dump(c);
  assert_non_null(strstr(dump, "[s]"));
  assert_true(strstr(dump, "[s]") < strstr(dump, "[o]")); /* tables in the order given */
  loom_free(dump);
  loom_config_free(c);
}

static void test_defaults_and_typed_reads(void **state) {
  loom_config *c = loom_config_new(test_cfg_keys, TEST_CFG_NKEYS);
  assert_int_equal(loom_config_int(c, "text", "hidden"), 128);
  assert_false(loom_config_bool(c, "text", "bidirectional"));
  assert_string_equal(loom_config_str(c, "text", "pooling"), "last");
  long conv[8];
  assert_int_equal(loom_config_ints(c, "image", "conv", conv, 8), 3);
  assert_int_equal(conv[2], 128);
  double betas[2];
  assert_int_equal(loom_config_floats(c, "train", "betas", betas, 2), 2);
  assert_float_equal(betas[1], 0.999, 1e-12);
  assert_false(loom_config_is_set(c, "train", "lr"));
  loom_config_free(c);
}

static void test_file_values_comments_and_indentation(void **state) {
  loom_config *c = loom_config_new(test_cfg_keys, TEST_CFG_NKEYS);
  loom_error err = {""};
  const char *ini = "; a comment\n# another\n[text]\n  hidden = 256   ; inline comment\n"
                    "\tbidirectional = yes\npooling=max\n\n[image]\nconv = 16, 32\n[train]\nlr = 3e-4\nout = runs/x y\n";
  assert_int_equal(loom_config_load_string(c, ini, "run.ini", &err), 0);
  assert_int_equal(loom_config_int(c, "text", "hidden"), 256);
  assert_true(loom_config_bool(c, "text", "bidirectional"));
  assert_string_equal(loom_config_str(c, "text", "pooling"), "max");
  long conv[8];
  assert_int_equal(loom_config_ints(c, "image", "conv", conv, 8), 2);
  assert_int_equal(conv[1], 32);
  assert_float_equal(loom_config_float(c, "train", "lr"), 3e-4, 1e-12);
  assert_string_equal(loom_config_str(c, "train", "out"), "runs/x y");
  assert_true(loom_config_is_set(c, "train", "lr"));
  loom_config_free(c);
}

static void expect_error(const char *ini, const char *want) {
  loom_config *c = loom_config_new(test_cfg_keys, TEST_CFG_NKEYS);
  loom_error err = {""};
  assert_int_equal(loom_config_load_string(c, ini, "run.ini", &err), -1);
  if (!strstr(err.msg, want)) fail_msg("error '%s' does not contain '%s'", err.msg, want);
  loom_config_free(c);
}

static void test_bad_lines_name_file_line_and_key(void **state) {
  expect_error("[text]\nhiden = 3\n", "run.ini:2: unknown key 'hiden' in [text]; did you mean 'hidden'?");
  expect_error("[text]\nzzzzzz = 3\n", "valid keys: hidden, bidirectional, pooling");
  expect_error("[txt]\nhidden = 3\n", "run.ini:2: unknown section [txt]; valid sections: [text], [image], [train]");
  expect_error("hidden = 3\n", "run.ini:1: a key outside any section");
  expect_error("[text]\n\nhidden = big\n", "run.ini:3: text.hidden = 'big' is not an integer");
  expect_error("[text]\nhidden = 0\n", "run.ini:2: text.hidden = 0 is outside [1, 4096]");
  expect_error("[text]\nhidden = 12.5\n", "is not an integer");
  expect_error("[text]\nbidirectional = maybe\n", "text.bidirectional = 'maybe' is not a boolean");
  expect_error("[text]\npooling = avg\n", "text.pooling = 'avg' is not one of: last|mean|max");
  expect_error("[train]\nlr = nan\n", "train.lr = 'nan' is not a finite number");
  expect_error("[train]\nlr = 1e400\n", "is not a finite number");
  expect_error("[image]\nconv = 32, x, 64\n", "run.ini:2: image.conv: element 2 ('x') is not an integer");
  expect_error("[image]\nconv = 32,0\n", "run.ini:2: image.conv: element 2 (0) is outside [1, 4096]");
  /* regression: empty elements were skipped, so "0.9,,0.99" read as two betas */
  expect_error("[train]\nbetas = 0.9,,0.99\n", "run.ini:2: train.betas = '0.9,,0.99': element 2 is empty");
  expect_error("[image]\nconv = 4,8,\n", "run.ini:2: image.conv = '4,8,': element 3 is empty");
  expect_error("[text]\nhidden = 3\nhidden = 4\n", "run.ini:3: text.hidden is set twice (first on line 2)");
  expect_error("[text]\nthis line has no equals sign\n", "run.ini:2: cannot read this line");
  /* found by fuzz_config: 'out =;' read as ';' but saved as 'out = ;', which reads back empty */
  expect_error("[train]\nout =;\n", "run.ini:2: train.out = ';': a ';' at the start starts a comment");
  expect_error("[text\n", "run.ini:1: cannot read this line");
  char longline[400];
  memset(longline, 'x', sizeof longline);
  memcpy(longline, "[train]\nout = ", 14);
  longline[sizeof longline - 2] = '\n';
  longline[sizeof longline - 1] = '\0';
  expect_error(longline, "run.ini:2: line longer than");
}

static void test_file_errors(void **state) {
  loom_config *c = loom_config_new(test_cfg_keys, TEST_CFG_NKEYS);
  loom_error err = {""};
  assert_int_equal(loom_config_load(c, "/nonexistent/run.ini", &err), -1);
  assert_non_null(strstr(err.msg, "/nonexistent/run.ini: cannot open config"));
  char path[] = "/tmp/loom_cfg_XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  FILE *f = fdopen(fd, "wb");
  fwrite("[text]\nhidden = 2\n\0\n", 1, 20, f);
  fclose(f);
  assert_int_equal(loom_config_load(c, path, &err), -1);
  assert_non_null(strstr(err.msg, ":3: NUL byte in config"));
  remove(path);
  loom_config_free(c);
}

static void test_set_args(void **state) {
  loom_config *c = loom_config_new(test_cfg_keys, TEST_CFG_NKEYS);
  loom_error err = {""};
  assert_int_equal(loom_config_set_arg(c, "text.hidden=64", &err), 0);
  assert_int_equal(loom_config_int(c, "text", "hidden"), 64);
  assert_int_equal(loom_config_set_arg(c, "train.out=a=b", &err), 0); /* the first '=' splits */
  assert_string_equal(loom_config_str(c, "train", "out"), "a=b");
  assert_int_equal(loom_config_set_arg(c, "hidden=3", &err), -1);
  assert_non_null(strstr(err.msg, "expected section.key=value"));
  assert_int_equal(loom_config_set_arg(c, "text.hidden=-1", &err), -1);
  assert_non_null(strstr(err.msg, "--set: text.hidden = -1 is outside [1, 4096]"));
  loom_config_free(c);
}

static void test_owned_sections_and_dump_round_trip(void **state) {
  data_ctx d = {"", 0};
  loom_cfg_section sec = {"data", &d, data_set, data_dump};
  loom_config *c = loom_config_new(test_cfg_keys, TEST_CFG_NKEYS);
  loom_config_add_section(c, &sec);
  loom_error err = {""};
  assert_int_equal(loom_config_load_string(c, "[data]\npath = items.csv\n[text]\nhidden = 7\n", "a.ini", &err), 0);
  assert_string_equal(d.path, "items.csv");
  assert_int_equal(loom_config_load_string(c, "[data]\n\nbogus = 1\n", "b.ini", &err), -1);
  assert_non_null(strstr(err.msg, "b.ini:3: [data] unknown key 'bogus' (valid: path)"));
  char *dump = loom_config_dump(c);
  assert_non_null(strstr(dump, "[text]\nhidden = 7\n"));
  assert_non_null(strstr(dump, "[data]\npath = items.csv\n"));
  data_ctx d2 = {"", 0};
  loom_cfg_section sec2 = {"data", &d2, data_set, data_dump};
  loom_config *c2 = loom_config_new(test_cfg_keys, TEST_CFG_NKEYS);
  loom_config_add_section(c2, &sec2);
  assert_int_equal(loom_config_load_string(c2, dump, "dump", &err), 0);
  char *dump2 = loom_config_dump(c2);
  assert_string_equal(dump, dump2);
  loom_free(dump);
  loom_free(dump2);
  loom_config_free(c);
  loom_config_free(c2);
}

/* Every allocation in loading fails in turn: each run ends in a clean error or success, no leak. */
static void test_allocation_failures(void **state) {
  const char *ini = "[text]\nhidden = 9\n[train]\nout = somewhere\n";
  int failures = 0;
  for (long n = 1; n < 200; n++) {
    loom_alloc_fail_after(n);
    loom_config *c = loom_config_new(test_cfg_keys, TEST_CFG_NKEYS);
    loom_error err = {""};
    int rc = c ? loom_config_load_string(c, ini, "run.ini", &err) : -1;
    char *dump = c && rc == 0 ? loom_config_dump(c) : NULL;
    loom_alloc_fail_after(0);
    if (c && rc == 0 && dump) {
      assert_int_equal(loom_config_int(c, "text", "hidden"), 9);
      loom_free(dump);
      loom_config_free(c);
      break; /* no allocation failed: every earlier point was covered */
    }
    failures++;
    if (rc != 0 && c) assert_non_null(strstr(err.msg, "out of memory"));
    loom_free(dump);
    loom_config_free(c);
  }
  print_message("allocation failure loop: config from string + dump %d points\n", failures);
  assert_true(failures > 5);
}

/* Regression (fuzz_config): a value whose "key = value" line is longer than the reader takes was
 * accepted ("key =value" fits, the dump adds a space), so the dumped config did not load back. Now
 * the longest accepted value dumps to a line that loads back, and one more character is refused. */
static void test_longest_value_round_trips(void **state) {
  char arg[400], v[256];
  int n = 198 - (int)strlen("out = ");
  memset(v, 'x', (size_t)n);
  v[n] = '\0';
  loom_config *c = loom_config_new(test_cfg_keys, TEST_CFG_NKEYS);
  loom_error err = {""};
  snprintf(arg, sizeof arg, "train.out=%s", v);
  assert_int_equal(loom_config_set_arg(c, arg, &err), 0);
  char *dump = loom_config_dump(c);
  loom_config *c2 = loom_config_new(test_cfg_keys, TEST_CFG_NKEYS);
  if (loom_config_load_string(c2, dump, "dump", &err) != 0) fail_msg("%s", err.msg);
  assert_string_equal(loom_config_str(c2, "train", "out"), v);
  snprintf(arg, sizeof arg, "train.out=%sy", v);
  assert_int_equal(loom_config_set_arg(c, arg, &err), -1);
  if (!strstr(err.msg, "--set: train.out is 193 characters long; 'out = value' must fit in 198 characters")) fail_msg("%s", err.msg);
  loom_free(dump);
  loom_config_free(c);
  loom_config_free(c2);
}

/* The size cap: a config over 1 MiB (a data file passed by mistake) is refused by name. */
static void test_size_cap(void **state) {
  char path[256];
  snprintf(path, sizeof path, "%s", tu_tmp("loom_test_cfg_big.ini"));
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  for (int i = 0; i < 40000; i++) fprintf(f, "; comment line %d of a config that is far too long\n", i);
  fclose(f);
  loom_config *c = loom_config_new(test_cfg_keys, TEST_CFG_NKEYS);
  loom_error err = {""};
  assert_int_equal(loom_config_load(c, path, &err), -1);
  if (!strstr(err.msg, "config larger than 1 MiB; is this the right file?") || !strstr(err.msg, path)) fail_msg("%s", err.msg);
  loom_config_free(c);
  remove(path);
}

/* The same from a file, with [data] handed to the data schema (loom_config_load reads the file into
 * a growing buffer), and the schema's own INI reader: every allocation fails in turn. */
static void test_allocation_failures_file(void **state) {
  char path[256];
  snprintf(path, sizeof path, "%s", tu_tmp("loom_test_cfg_oom.ini"));
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs("[text]\nhidden = 9\npooling = max\n[image]\nconv = 4, 8\n[data]\ninteractions = i.csv\n"
        "text_cols = title, brand\nnumeric_cols = price\nimage_size = 32x32\n", f);
  for (int i = 0; i < 400; i++) fprintf(f, "; padding comment %d so the file is read in more than one piece\n", i);
  fclose(f);
  int points = 0, rc = -1;
  for (long n = 1; rc != 0; n++) {
    loom_data_schema s;
    loom_data_schema_init(&s);
    loom_cfg_section sec = {"data", &s, schema_set, NULL};
    loom_error err = {""};
    loom_alloc_fail_after(n);
    loom_config *c = loom_config_new(test_cfg_keys, TEST_CFG_NKEYS);
    if (c) loom_config_add_section(c, &sec);
    rc = c ? loom_config_load(c, path, &err) : -1;
    loom_alloc_fail_after(0);
    if (rc == 0) {
      assert_int_equal(loom_config_int(c, "text", "hidden"), 9);
      assert_int_equal(s.n_text, 2);
    } else {
      points++;
      if (c && !strstr(err.msg, "out of memory")) fail_msg("allocation %ld: %s", n, err.msg);
    }
    loom_config_free(c);
  }
  int schema_points = 0;
  rc = -1;
  for (long n = 1; rc != 0; n++) {
    loom_data_schema s;
    loom_data_schema_init(&s);
    loom_error err = {""};
    loom_alloc_fail_after(n);
    rc = loom_data_schema_load_ini(&s, path, &err);
    loom_alloc_fail_after(0);
    if (rc != 0) {
      schema_points++;
      if (!strstr(err.msg, "out of memory")) fail_msg("allocation %ld: %s", n, err.msg);
    } else {
      assert_int_equal(s.n_text, 2);
    }
  }
  remove(path);
  print_message("allocation failure loop: config file load %d points, schema INI %d points\n", points, schema_points);
  assert_true(points >= 3);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_defaults_and_typed_reads),
      cmocka_unit_test(test_file_values_comments_and_indentation),
      cmocka_unit_test(test_bad_lines_name_file_line_and_key),
      cmocka_unit_test(test_file_errors),
      cmocka_unit_test(test_set_args),
      cmocka_unit_test(test_owned_sections_and_dump_round_trip),
      cmocka_unit_test(test_allocation_failures),
      cmocka_unit_test(test_allocation_failures_file),
      cmocka_unit_test(test_size_cap),
      cmocka_unit_test(test_longest_value_round_trips),
      cmocka_unit_test(test_read_spec),
  };
  return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
