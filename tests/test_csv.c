/* test_csv.c — streaming strict CSV reader: quoting, BOM, CRLF, gzip, and every malformed file in
 * tests/data/csv with the exact key parts of its message (file, line, column, what to do). */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "loom/data.h"
#include "testutil.h"

static const loom_colspec SPEC3[] = {
    {"user", LOOM_COL_STRING, 0}, {"item", LOOM_COL_STRING, 0}, {"price", LOOM_COL_FLOAT, 0}};

static void expect_fail(const char *rel, const loom_colspec *spec, int n, const char **parts) {
  loom_table t;
  loom_error err = {{0}};
  const char *path = tu_src_path(rel);
  int rc = loom_table_read(&t, path, spec, n, NULL, &err);
  if (rc != -1) fail_msg("%s: expected an error", rel);
  if (!strstr(err.msg, path)) fail_msg("%s: message does not name the file: %s", rel, err.msg);
  for (int i = 0; parts[i]; i++)
    if (!strstr(err.msg, parts[i])) fail_msg("%s: message lacks '%s': %s", rel, parts[i], err.msg);
}

static void test_quotes_embedded_newline(void **state) {
  (void)state;
  loom_colspec spec[] = {{"title", LOOM_COL_STRING, 0}, {"item", LOOM_COL_STRING, 0}, {"price", LOOM_COL_FLOAT, 0}};
  loom_table t;
  loom_error err = {{0}};
  assert_int_equal(loom_table_read(&t, tu_src_path("tests/data/csv/ok_quotes.csv"), spec, 3, NULL, &err), 0);
  assert_int_equal(t.nrows, 2);
  assert_string_equal(loom_table_str(&t, 0, 0), "a\nb");
  assert_string_equal(loom_table_str(&t, 1, 0), "i1,2\"x");
  assert_string_equal(loom_table_str(&t, 0, 1), "");
  assert_true(t.cols[2].f[0] == 1.0 && t.cols[2].f[1] == 2.5);
  assert_int_equal(t.line[0], 2);
  assert_int_equal(t.line[1], 4); /* the first record spans lines 2-3 */
  loom_table_free(&t);
}

static void test_crlf_bom(void **state) {
  (void)state;
  loom_colspec spec[] = {{"title", LOOM_COL_STRING, 0}, {"price", LOOM_COL_FLOAT, 0}};
  loom_table t;
  loom_error err = {{0}};
  assert_int_equal(loom_table_read(&t, tu_src_path("tests/data/csv/crlf.csv"), spec, 2, NULL, &err), 0);
  assert_int_equal(t.nrows, 2);
  assert_string_equal(loom_table_str(&t, 0, 0), "multi\r\nline \"q\"");
  assert_string_equal(loom_table_str(&t, 0, 1), "plain");
  assert_true(t.cols[1].f[0] == 1.5 && t.cols[1].f[1] == 2.0);
  assert_int_equal(t.line[1], 4);
  loom_table_free(&t);
  loom_colspec spec2[] = {{"user", LOOM_COL_STRING, 0}, {"price", LOOM_COL_INT, 0}};
  assert_int_equal(loom_table_read(&t, tu_src_path("tests/data/csv/bom.csv"), spec2, 2, NULL, &err), 0);
  assert_int_equal(t.nrows, 1);
  assert_string_equal(loom_table_str(&t, 0, 0), "u1");
  assert_int_equal(t.cols[1].i[0], 3);
  loom_table_free(&t);
}

static void test_gzip_and_optional(void **state) {
  (void)state;
  const char *path = tu_tmp("loom_test_csv.csv.gz");
  gzFile gz = gzopen(path, "wb");
  assert_non_null(gz);
  gzputs(gz, "item,price\nA,1\nB,2\n");
  gzclose(gz);
  loom_colspec spec[] = {{"item", LOOM_COL_STRING, 0}, {"price", LOOM_COL_FLOAT, 0}, {"extra", LOOM_COL_FLOAT, 1}};
  loom_table t;
  loom_error err = {{0}};
  assert_int_equal(loom_table_read(&t, path, spec, 3, NULL, &err), 0);
  assert_int_equal(t.nrows, 2);
  assert_string_equal(loom_table_str(&t, 0, 1), "B");
  assert_true(t.cols[1].f[1] == 2.0);
  assert_int_equal(t.cols[2].present, 0);
  assert_true(isnan(t.cols[2].f[0]));
  loom_table_free(&t);
  remove(path);
}

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
  fclose(f);
}

/* Regression (fuzz_csv): a lone CR ends a record in libcsv but lines were counted at LF only, so every
 * row of an old-Mac file was "line 1". Lines now end at LF, CRLF or a lone CR, also when the CR is
 * the last byte of a 64 KiB read chunk. */
static void test_lone_cr_line_ends(void **state) {
  (void)state;
  loom_table t;
  loom_error err = {{0}};
  const loom_colspec spec[] = {{"user", LOOM_COL_STRING, 0}, {"i", LOOM_COL_STRING, 0}};
  assert_int_equal(loom_table_read(&t, tu_src_path("tests/data/csv/fuzz_lone_cr.csv"), spec, 2, NULL, &err), 0);
  assert_int_equal(t.nrows, 1);
  assert_int_equal(t.line[0], 2);
  assert_string_equal(loom_table_str(&t, 1, 0), "c");
  loom_table_free(&t);
  expect_fail("tests/data/csv/cr_line_ends.csv", SPEC3, 3,
              (const char *[]){"cr_line_ends.csv:5:", "column 'price' (field 3)", "'4.5x'", NULL});
  /* a CR as the last byte of the first chunk: lone (LF-less) and then CRLF split across chunks */
  static char text[70000];
  for (int crlf = 0; crlf < 2; crlf++) {
    const char *eol = crlf ? "\r\n" : "\r";
    int k = crlf ? 9350 : 10900, ulen = crlf ? 64 : 115;
    size_t n = (size_t)sprintf(text, "user,item,price%s", eol);
    for (int i = 0; i < k; i++) n += (size_t)sprintf(text + n, "u,A,1%s", eol);
    text[n++] = 'u';
    for (int i = 1; i < ulen; i++) text[n++] = 'x';
    n += (size_t)sprintf(text + n, ",A,1\r");
    assert_int_equal(n, 65536); /* the CR is byte 65535, the last of the first read */
    n += (size_t)sprintf(text + n, "%su,A,bad%s", crlf ? "\n" : "", eol);
    char path[256], want[64];
    snprintf(path, sizeof path, "%s/loom_test_cr_%d.csv", tu_temp_dir(), crlf);
    write_file(path, text);
    assert_int_equal(loom_table_read(&t, path, SPEC3, 3, NULL, &err), -1);
    snprintf(want, sizeof want, ".csv:%d: column 'price'", k + 3);
    if (!strstr(err.msg, want)) fail_msg("crlf=%d: expected '%s' in: %s", crlf, want, err.msg);
    remove(path);
  }
}

/* Cap on header fields: a 5000-column header (a binary file, a wrong delimiter) is refused by name
 * instead of costing a quadratic duplicate-name check. */
static void test_column_cap(void **state) {
  (void)state;
  static char text[64 * 1024];
  size_t n = 0;
  for (int i = 0; i < LOOM_CSV_MAX_COLUMNS + 904; i++) n += (size_t)sprintf(text + n, "%sc%d", i ? "," : "", i);
  n += (size_t)sprintf(text + n, "\n");
  char path[256];
  snprintf(path, sizeof path, "%s", tu_tmp("loom_test_cols.csv"));
  write_file(path, text);
  loom_table t;
  loom_error err = {{0}};
  assert_int_equal(loom_table_read(&t, path, (loom_colspec[]){{"c1", LOOM_COL_STRING, 0}}, 1, NULL, &err), -1);
  if (!strstr(err.msg, ".csv:1: the header has more than 4096 columns")) fail_msg("%s", err.msg);
  remove(path);
}

static void test_malformed(void **state) {
  (void)state;
  expect_fail("tests/data/csv/unterminated.csv", SPEC3, 3,
              (const char *[]){":2:", "unterminated quoted field", "'item'", "close the quote", NULL});
  expect_fail("tests/data/csv/ragged.csv", SPEC3, 3,
              (const char *[]){":3:", "row has 2 fields but the header has 3", NULL});
  expect_fail("tests/data/csv/bad_number.csv", SPEC3, 3,
              (const char *[]){":3:", "column 'price' (field 3)", "'4.5x' is not a finite number", NULL});
  expect_fail("tests/data/csv/missing_column.csv", SPEC3, 3,
              (const char *[]){":1:", "missing column 'price'", "'user', 'item'", NULL});
  expect_fail("tests/data/csv/duplicate_header.csv", SPEC3, 3,
              (const char *[]){":1:", "duplicate column name 'user' (fields 1 and 3)", NULL});
  expect_fail("tests/data/csv/empty.csv", SPEC3, 3, (const char *[]){"empty", "header row", NULL});
  expect_fail("tests/data/csv/header_only.csv", SPEC3, 3, (const char *[]){"only a header", NULL});
  expect_fail("tests/data/csv/invalid_utf8.csv", SPEC3, 3,
              (const char *[]){":2:", "column 'item' (field 2)", "invalid UTF-8 at byte 3", NULL});
  expect_fail("tests/data/csv/nul_byte.csv", SPEC3, 3, (const char *[]){":2:", "field 2 ('item')", "NUL byte", NULL});
  expect_fail("tests/data/csv/stray_quote.csv", SPEC3, 3, (const char *[]){":2:", "malformed CSV", "field 2", NULL});
  expect_fail("tests/data/csv/bad_number.csv", (loom_colspec[]){{"price", LOOM_COL_INT, 0}}, 1,
              (const char *[]){":3:", "'4.5x' is not an integer", NULL});
  /* header-only is an empty table when allowed */
  loom_table t;
  loom_error err = {{0}};
  loom_csv_opts o = {0, 1};
  assert_int_equal(loom_table_read(&t, tu_src_path("tests/data/csv/header_only.csv"), SPEC3, 3, &o, &err), 0);
  assert_int_equal(t.nrows, 0);
  loom_table_free(&t);
  assert_int_equal(loom_table_read(&t, "/nonexistent/x.csv", SPEC3, 3, NULL, &err), -1);
  assert_non_null(strstr(err.msg, "/nonexistent/x.csv: cannot open"));
}

static void test_huge_field(void **state) {
  (void)state;
  const char *path = tu_tmp("loom_test_bigfield.csv");
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  fputs("user,item,price\nu1,\"", f);
  static char block[1 << 16];
  memset(block, 'x', sizeof block);
  for (int i = 0; i < 160; i++) fwrite(block, 1, sizeof block, f); /* 10 MiB */
  fputs("\",1\n", f);
  fclose(f);
  loom_table t;
  loom_error err = {{0}};
  assert_int_equal(loom_table_read(&t, path, SPEC3, 3, NULL, &err), -1);
  assert_non_null(strstr(err.msg, ":2: field 2 ('item')"));
  assert_non_null(strstr(err.msg, "over the cap of 1048576 bytes"));
  /* with a cap above the size it is read */
  loom_csv_opts o = {16u << 20, 0};
  assert_int_equal(loom_table_read(&t, path, SPEC3, 3, &o, &err), 0);
  assert_int_equal(strlen(loom_table_str(&t, 1, 0)), 160 << 16);
  loom_table_free(&t);
  remove(path);
}

static void test_alloc_failures(void **state) {
  (void)state;
  loom_colspec spec[] = {{"title", LOOM_COL_STRING, 0}, {"item", LOOM_COL_STRING, 0}, {"price", LOOM_COL_FLOAT, 0}};
  for (long n = 1; n < 200; n++) {
    loom_table t;
    loom_error err = {{0}};
    loom_alloc_fail_after(n);
    int rc = loom_table_read(&t, tu_src_path("tests/data/csv/ok_quotes.csv"), spec, 3, NULL, &err);
    loom_alloc_fail_after(0);
    if (rc == 0) {
      assert_int_equal(t.nrows, 2);
      loom_table_free(&t);
      return;
    }
    assert_non_null(strstr(err.msg, "out of memory"));
  }
  fail_msg("never succeeded");
}

/* Random byte mutations of a valid file: every outcome is a table or an error with a message. */
static void test_mutations(void **state) {
  (void)state;
  FILE *f = fopen(tu_src_path("tests/data/csv/crlf.csv"), "rb");
  assert_non_null(f);
  char orig[256];
  size_t n = fread(orig, 1, sizeof orig, f);
  fclose(f);
  const char *path = tu_tmp("loom_test_csv_mut.csv");
  const char alphabet[] = {'"', ',', '\n', '\r', '\0', '\xff', '\xc3', 'x', '1', ' '};
  loom_rng r;
  loom_rng_seed(&r, 11);
  loom_colspec spec[] = {{"title", LOOM_COL_STRING, 0}, {"price", LOOM_COL_FLOAT, 0}, {"item", LOOM_COL_STRING, 1}};
  int ok = 0, bad = 0;
  for (int it = 0; it < 1500; it++) {
    char buf[256];
    memcpy(buf, orig, n);
    size_t m = n - loom_rng_below(&r, 3) * loom_rng_below(&r, (uint32_t)n / 2);
    int k = 1 + (int)loom_rng_below(&r, 3);
    for (int j = 0; j < k; j++) buf[loom_rng_below(&r, (uint32_t)m)] = alphabet[loom_rng_below(&r, sizeof alphabet)];
    f = fopen(path, "wb");
    fwrite(buf, 1, m, f);
    fclose(f);
    loom_table t;
    loom_error err = {{0}};
    if (loom_table_read(&t, path, spec, 3, NULL, &err) == 0) {
      ok++;
      assert_true(t.nrows >= 1);
      loom_table_free(&t);
    } else {
      bad++;
      assert_non_null(strstr(err.msg, path));
    }
  }
  assert_true(ok > 0 && bad > 0);
  remove(path);
}

/* ---- issue 13: numbers, hostile files, gzip ends, stop requests */

/* Only decimal numbers are numbers: strtod's hex (0x10 = 16, 0x1p3 = 8), inf and nan are refused with
 * file, line, column and the value; spaces and tabs around a number, ".5" and "3." are accepted. */
static void test_decimal_numbers_only(void **state) {
  (void)state;
  expect_fail("tests/data/csv/hex_number.csv", SPEC3, 3,
              (const char *[]){":3:", "column 'price' (field 3)", "'0x10' is not a finite number", "no hex, inf or nan", NULL});
  expect_fail("tests/data/csv/hexfloat_number.csv", SPEC3, 3, (const char *[]){":2:", "'0x1p3' is not a finite number", NULL});
  expect_fail("tests/data/csv/inf_number.csv", SPEC3, 3, (const char *[]){":4:", "'inf' is not a finite number", NULL});
  expect_fail("tests/data/csv/nan_number.csv", SPEC3, 3, (const char *[]){":2:", "'nan' is not a finite number", NULL});
  expect_fail("tests/data/csv/exponent_no_digits.csv", SPEC3, 3, (const char *[]){":2:", "'1e' is not a finite number", NULL});
  expect_fail("tests/data/csv/hex_number.csv", (loom_colspec[]){{"price", LOOM_COL_INT, 0}}, 1,
              (const char *[]){":2:", "'1.5' is not an integer", NULL});
  loom_table t;
  loom_error err = {{0}};
  assert_int_equal(loom_table_read(&t, tu_src_path("tests/data/csv/spaces_number.csv"), SPEC3, 3, NULL, &err), 0);
  assert_int_equal(t.nrows, 5);
  assert_true(t.cols[2].f[0] == 4.5 && t.cols[2].f[1] == -20.0 && t.cols[2].f[2] == 0.5 && t.cols[2].f[3] == 3.0);
  assert_true(isnan(t.cols[2].f[4]));
  loom_table_free(&t);
  /* integers: signs and surrounding blanks, nothing else */
  const char *path = tu_tmp("loom_test_ints.csv");
  write_file(path, "n\n -7 \n+3\n");
  loom_colspec ispec[] = {{"n", LOOM_COL_INT, 0}};
  assert_int_equal(loom_table_read(&t, path, ispec, 1, NULL, &err), 0);
  assert_true(t.cols[0].i[0] == -7 && t.cols[0].i[1] == 3);
  loom_table_free(&t);
  write_file(path, "n\n0x10\n");
  assert_int_equal(loom_table_read(&t, path, ispec, 1, NULL, &err), -1);
  assert_non_null(strstr(err.msg, ":2: column 'n' (field 1): '0x10' is not an integer"));
  remove(path);
}

/* A BOM or another invisible character inside a field is named and escaped, so the message does
 * not seem to reject "37.99"; header names in messages are escaped too. */
static void test_invisible_characters_named(void **state) {
  (void)state;
  expect_fail("tests/data/csv/bom_in_field.csv", SPEC3, 3,
              (const char *[]){":2:", "'\\uFEFF37.99' is not a finite number", "contains U+FEFF (byte order mark) at byte 0", NULL});
  expect_fail("tests/data/csv/nbsp_in_field.csv", SPEC3, 3,
              (const char *[]){"'12\\u00A05'", "U+00A0 (no-break space) at byte 2", NULL});
  const char *path = tu_tmp("loom_test_esc.csv");
  write_file(path, "user,item,pr\x1b[31mice\nu1,i1,1\n");
  loom_table t;
  loom_error err = {{0}};
  assert_int_equal(loom_table_read(&t, path, SPEC3, 3, NULL, &err), -1);
  assert_non_null(strstr(err.msg, "'pr\\x1b[31mice'"));
  assert_null(strchr(err.msg, 0x1b));
  write_file(path, "user,item,price\nu1,i1,4\x07\n");
  assert_int_equal(loom_table_read(&t, path, SPEC3, 3, NULL, &err), -1);
  assert_non_null(strstr(err.msg, "'4\\x07' is not a finite number (it contains the control character 0x07 at byte 1 of the field)"));
  remove(path);
}

/* A FIFO blocked forever, a directory was "truncated or not gzip", /dev/zero and a 2 GiB sparse file
 * were "an over-long field". alarm() turns a hang into a failure. */
static void test_not_regular_files(void **state) {
  (void)state;
  char dir[] = "/tmp/loom_test_csvdir_XXXXXX", fifo[64], sparse[64];
  assert_non_null(mkdtemp(dir));
  snprintf(fifo, sizeof fifo, "%s/t.csv", dir);
  snprintf(sparse, sizeof sparse, "%s/sparse.csv", dir);
  assert_int_equal(mkfifo(fifo, 0600), 0);
  loom_table t;
  loom_error err = {{0}};
  alarm(20);
  assert_int_equal(loom_table_read(&t, fifo, SPEC3, 3, NULL, &err), -1);
  assert_non_null(strstr(err.msg, "t.csv: the table file is a FIFO (named pipe), not a regular file — give the path of a regular file"));
  assert_int_equal(loom_table_read(&t, dir, SPEC3, 3, NULL, &err), -1);
  assert_non_null(strstr(err.msg, "the table file is a directory, not a regular file"));
  assert_int_equal(loom_table_read(&t, "/dev/zero", SPEC3, 3, NULL, &err), -1);
  assert_non_null(strstr(err.msg, "/dev/zero: the table file is a character device"));
  FILE *f = fopen(sparse, "wb");
  assert_non_null(f);
  assert_int_equal(ftruncate(fileno(f), (off_t)2 << 30), 0);
  fclose(f);
  assert_int_equal(loom_table_read(&t, sparse, SPEC3, 3, NULL, &err), -1);
  assert_non_null(strstr(err.msg, "sparse.csv:1: field 1 ('?') contains a NUL byte — the file is binary or corrupt"));
  alarm(0);
  remove(sparse);
  remove(fifo);
  rmdir(dir);
}

/* A .csv.gz cut anywhere — at a row boundary (fixture: deflate flushed after 3 of 6 rows) or at any
 * byte — is an error saying "truncated", never a shorter table; a bad CRC is "corrupt". */
static void test_gzip_must_end(void **state) {
  (void)state;
  expect_fail("tests/data/csv/truncated.csv.gz", SPEC3, 3, (const char *[]){"the file is truncated", NULL});
  expect_fail("tests/data/csv/bad_crc.csv.gz", SPEC3, 3, (const char *[]){"corrupt gzip data (incorrect data check)", NULL});
  const char *whole = tu_tmp("loom_test_whole.csv.gz"), *cut = tu_tmp("loom_test_cut.csv.gz");
  gzFile gz = gzopen(whole, "wb");
  assert_non_null(gz);
  gzputs(gz, "user,item,price\n");
  for (int i = 0; i < 200; i++) gzprintf(gz, "u%d,i%d,%d\n", i, i, i);
  gzclose(gz);
  size_t n;
  char *bytes = tu_slurp(whole, &n);
  assert_non_null(bytes);
  loom_table t;
  loom_error err = {{0}};
  assert_int_equal(loom_table_read(&t, whole, SPEC3, 3, NULL, &err), 0);
  assert_int_equal(t.nrows, 200);
  loom_table_free(&t);
  for (size_t k = 10; k < n; k++) { /* every cut past the 10-byte gzip header */
    FILE *f = fopen(cut, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(bytes, 1, k, f), k);
    fclose(f);
    if (loom_table_read(&t, cut, SPEC3, 3, NULL, &err) == 0) fail_msg("cut at %zu of %zu bytes: read as %lld rows", k, n, (long long)t.nrows);
    if (!strstr(err.msg, "truncated") && !strstr(err.msg, "corrupt gzip"))
      fail_msg("cut at %zu of %zu bytes: %s", k, n, err.msg);
  }
  free(bytes);
  remove(whole);
  remove(cut);
}

/* A stop request (SIGTERM here, through loom_stop_install_signals) ends a long table read within a
 * MiB with "interrupted"; cleared, the same file reads. */
static void test_stop_request(void **state) {
  (void)state;
  const char *path = tu_tmp("loom_test_long.csv");
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  fputs("user,item,price\n", f);
  for (int i = 0; i < 200000; i++) fprintf(f, "u%d,i%d,%d\n", i, i, i); /* ~3.5 MB */
  fclose(f);
  assert_int_equal(loom_stop_install_signals(), 0);
  raise(SIGTERM);
  assert_true(loom_stop_requested());
  loom_table t;
  loom_error err = {{0}};
  assert_int_equal(loom_table_read(&t, path, SPEC3, 3, NULL, &err), -1);
  char want[4300];
  snprintf(want, sizeof want, "%s: interrupted (SIGINT or SIGTERM) while reading it", path);
  assert_string_equal(err.msg, want);
  loom_stop_clear();
  signal(SIGTERM, SIG_DFL);
  assert_int_equal(loom_table_read(&t, path, SPEC3, 3, NULL, &err), 0);
  assert_int_equal(t.nrows, 200000);
  loom_table_free(&t);
  remove(path);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_quotes_embedded_newline), cmocka_unit_test(test_crlf_bom),
      cmocka_unit_test(test_gzip_and_optional),       cmocka_unit_test(test_malformed), cmocka_unit_test(test_lone_cr_line_ends), cmocka_unit_test(test_column_cap),
      cmocka_unit_test(test_huge_field),              cmocka_unit_test(test_alloc_failures),
      cmocka_unit_test(test_mutations),
      cmocka_unit_test(test_decimal_numbers_only), cmocka_unit_test(test_invisible_characters_named),
      cmocka_unit_test(test_not_regular_files), cmocka_unit_test(test_gzip_must_end), cmocka_unit_test(test_stop_request),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
