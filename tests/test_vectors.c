/* test_vectors.c — precomputed feature vectors (loom/vectors.h, [data] item_vectors / user_vectors):
 * the same 3 x 2 table read bit-exactly from CSV, .npy (float32 and float64) + NAME.ids, and safetensors
 * with metadata "ids"; every malformed case named by file and line / record / field (wrong width, NaN,
 * Inf, not a number, duplicate id, bad header, truncated npy / safetensors, unknown dtype, missing or
 * short ids file, no ids metadata, FIFO, size cap, unknown extension); missing_vector = error (file and
 * line of the row) and = zero (counted, zeros in the batch) for items and users; and column lists with
 * ranges (numeric_cols = f0..f1023) up to the 1,024 cap. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loom/data.h"
#include "loom/vectors.h"
#include "testutil.h"

static loom_error err;
static const float WANT[6] = {0.1f, -2.5f, 3.0f, 1e-3f, -0.0f, 7.25f};

static const char *write_bytes(const char *name, const void *data, size_t n) {
  const char *path = tu_tmp(name);
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(data, 1, n, f), n);
  fclose(f);
  return path;
}
static const char *write_text(const char *name, const char *text) { return write_bytes(name, text, strlen(text)); }

static void expect_table(loom_vectors *v) {
  assert_non_null(v);
  assert_int_equal(loom_vectors_count(v), 3);
  assert_int_equal(loom_vectors_dim(v), 2);
  const char *keys[3] = {"a", "b", "c"};
  for (int i = 0; i < 3; i++) {
    assert_int_equal(loom_vectors_find(v, keys[i]), i);
    assert_string_equal(loom_vectors_key(v, i), keys[i]);
    assert_memory_equal(loom_vectors_row(v, i), WANT + 2 * i, 2 * sizeof(float));
  }
  assert_int_equal(loom_vectors_find(v, "d"), -1);
  loom_vectors_free(v);
}

/* .npy bytes: version 1.0, header dict padded with spaces to a multiple of 64 and ending in LF. */
static size_t npy(uint8_t *out, const char *descr, const char *shape, const void *data, size_t n) {
  char dict[256];
  int len = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr, shape);
  int total = (10 + len + 1 + 63) / 64 * 64;
  memcpy(out, "\x93NUMPY\x01\x00", 8);
  int hl = total - 10;
  out[8] = (uint8_t)(hl & 255), out[9] = (uint8_t)(hl >> 8);
  memset(out + 10, ' ', (size_t)hl);
  memcpy(out + 10, dict, (size_t)len);
  out[total - 1] = '\n';
  memcpy(out + total, data, n);
  return (size_t)total + n;
}

/* safetensors bytes: u64 header length, the JSON header, the tensor data. */
static size_t safet(uint8_t *out, const char *header, const void *data, size_t n) {
  uint64_t hl = strlen(header);
  for (int i = 0; i < 8; i++) out[i] = (uint8_t)(hl >> (8 * i));
  memcpy(out + 8, header, hl);
  memcpy(out + 8 + hl, data, n);
  return 8 + hl + n;
}

static void test_formats_exact(void **state) {
  (void)state;
  const char *csv = write_text("loom_vec.csv", "item,v0,v1\na,0.1,-2.5\r\nb,3,0.001\n\nc,-0,7.25\n");
  expect_table(loom_vectors_read(csv, 0, 0, &err));
  uint8_t buf[1024];
  const char *np = write_bytes("loom_vec.npy", buf, npy(buf, "<f4", "(3, 2)", WANT, sizeof WANT));
  write_text("loom_vec.ids", "a\nb\r\nc\n");
  expect_table(loom_vectors_read(np, 0, 0, &err));
  double d8[6];
  for (int i = 0; i < 6; i++) d8[i] = WANT[i];
  np = write_bytes("loom_vec.npy", buf, npy(buf, "<f8", "(3, 2)", d8, sizeof d8));
  expect_table(loom_vectors_read(np, 0, 0, &err));
  const char *st = write_bytes("loom_vec.safetensors", buf,
                               safet(buf, "{\"__metadata__\":{\"ids\":\"[\\\"a\\\",\\\"b\\\",\\\"c\\\"]\"},"
                                          "\"emb\":{\"dtype\":\"F32\",\"shape\":[3,2],\"data_offsets\":[0,24]}}",
                                     WANT, sizeof WANT));
  expect_table(loom_vectors_read(st, 0, 0, &err));
  /* key_type = int: " 007" is stored as 7 */
  csv = write_text("loom_vec.csv", "id,v0\n007,1\n8,2\n");
  loom_vectors *v = loom_vectors_read(csv, 0, 1, &err);
  assert_non_null(v);
  assert_int_equal(loom_vectors_find(v, "7"), 0);
  loom_vectors_free(v);
  remove(csv), remove(np), remove(st), remove(tu_tmp("loom_vec.ids"));
}

static void expect_fail(const char *path, uint64_t cap, const char *want) {
  loom_vectors *v = loom_vectors_read(path, cap, 0, &err);
  if (v) fail_msg("%s read, expected an error with '%s'", path, want);
  if (!strstr(err.msg, want)) fail_msg("error '%s' lacks '%s'", err.msg, want);
}

static void test_malformed(void **state) {
  (void)state;
  const char *p;
#define CSV(text, want) (p = write_text("loom_bad.csv", text), expect_fail(p, 0, want))
  CSV("id,v0,v1\na,1,2\nb,3\n", "loom_bad.csv:3: 1 values, the header has 2 (v0..v1)");
  CSV("id,v0,v1\na,1,2\nb,3,4,5\n", "loom_bad.csv:3: 3 values, the header has 2");
  CSV("id,v0,v1\na,1,nan\n", "loom_bad.csv:2: field 'v1' is NaN — vectors must be finite");
  CSV("id,v0,v1\na,inf,1\n", "loom_bad.csv:2: field 'v0' is infinite");
  CSV("id,v0,v1\na,1,1e39\n", "loom_bad.csv:2: field 'v1' is infinite (or beyond float range)");
  CSV("id,v0,v1\na,1,x2\n", "loom_bad.csv:2: field 'v1': 'x2' is not a number");
  CSV("id,v0,v1\na,1,\n", "loom_bad.csv:2: field 'v1' is empty");
  CSV("id,v0,v1\na,1,2\nb,1,2\na,3,4\n", "loom_bad.csv:4: key 'a' appears twice (first at row 0)");
  CSV("id,v0,w1\na,1,2\n", "loom_bad.csv:1: bad header: field 3 is 'w1', expected 'v1'");
  CSV("id\na\n", "loom_bad.csv:1: bad header");
  CSV("id,v0\n,1\n", "loom_bad.csv:2: the key is empty");
  CSV("id,v0\n", "loom_bad.csv: no vectors after the header");
  p = write_text("loom_bad.csv", "id,v0\na,1\n");
  expect_fail(p, 4, "max_vector_mb");
  remove(p);
  uint8_t buf[1024];
  /* npy */
  write_text("loom_bad.ids", "a\nb\nc\n");
  size_t n = npy(buf, "<f4", "(3, 2)", WANT, sizeof WANT);
  p = write_bytes("loom_bad.npy", buf, n - 5);
  expect_fail(p, 0, "loom_bad.npy: truncated: 3 x 2 values need 24 bytes of data, the file has 19");
  p = write_bytes("loom_bad.npy", buf, 30);
  expect_fail(p, 0, "truncated .npy header");
  p = write_bytes("loom_bad.npy", buf, npy(buf, "<i4", "(3, 2)", WANT, sizeof WANT));
  expect_fail(p, 0, "loom_bad.npy: dtype '<i4'");
  p = write_bytes("loom_bad.npy", buf, npy(buf, "<f4", "(6,)", WANT, sizeof WANT));
  expect_fail(p, 0, "is not 2-D");
  float bad[6];
  memcpy(bad, WANT, sizeof bad);
  bad[3] = 0.0f / 0.0f;
  p = write_bytes("loom_bad.npy", buf, npy(buf, "<f4", "(3, 2)", bad, sizeof bad));
  expect_fail(p, 0, "loom_bad.npy: record 1 (key 'b'), value 1 is NaN");
  write_text("loom_bad.ids", "a\nb\n");
  p = write_bytes("loom_bad.npy", buf, npy(buf, "<f4", "(3, 2)", WANT, sizeof WANT));
  expect_fail(p, 0, "loom_bad.ids: 2 ids but");
  write_text("loom_bad.ids", "a\nb\na\n");
  expect_fail(p, 0, "loom_bad.ids:3: key 'a' appears twice");
  remove(tu_tmp("loom_bad.ids"));
  expect_fail(p, 0, "loom_bad.ids");
  remove(p);
  /* safetensors */
  const char *hdr = "{\"__metadata__\":{\"ids\":\"[\\\"a\\\",\\\"b\\\",\\\"c\\\"]\"},"
                    "\"emb\":{\"dtype\":\"F32\",\"shape\":[3,2],\"data_offsets\":[0,24]}}";
  n = safet(buf, hdr, WANT, sizeof WANT);
  p = write_bytes("loom_bad.safetensors", buf, n - 4);
  expect_fail(p, 0, "loom_bad.safetensors: truncated: tensor 'emb' needs 24 bytes of data, the file has 20");
  p = write_bytes("loom_bad.safetensors", buf, 20);
  expect_fail(p, 0, "truncated safetensors file");
  p = write_bytes("loom_bad.safetensors", buf,
                  safet(buf, "{\"__metadata__\":{\"ids\":\"[\\\"a\\\",\\\"b\\\",\\\"c\\\"]\"},"
                             "\"emb\":{\"dtype\":\"F16\",\"shape\":[3,2],\"data_offsets\":[0,12]}}", WANT, 12));
  expect_fail(p, 0, "tensor 'emb' has dtype F16");
  p = write_bytes("loom_bad.safetensors", buf,
                  safet(buf, "{\"emb\":{\"dtype\":\"F32\",\"shape\":[3,2],\"data_offsets\":[0,24]}}", WANT, sizeof WANT));
  expect_fail(p, 0, "metadata key \"ids\" is missing");
  p = write_bytes("loom_bad.safetensors", buf,
                  safet(buf, "{\"__metadata__\":{\"ids\":\"[\\\"a\\\",\\\"b\\\"]\"},"
                             "\"emb\":{\"dtype\":\"F32\",\"shape\":[3,2],\"data_offsets\":[0,24]}}", WANT, sizeof WANT));
  expect_fail(p, 0, "metadata \"ids\" has 2 keys but the tensor has 3 rows");
  remove(p);
  /* not a regular file; unknown extension */
  p = tu_tmp("loom_fifo.csv");
  remove(p);
  assert_int_equal(mkfifo(p, 0600), 0);
  expect_fail(p, 0, "FIFO");
  remove(p);
  expect_fail("vectors.parquet", 0, "unknown vector file format");
}

static void set(loom_data_schema *s, const char *k, const char *v) {
  if (loom_data_schema_set(s, k, v, &err) < 0) fail_msg("set %s=%s: %s", k, v, err.msg);
}

static void test_missing_vector(void **state) {
  (void)state;
  const char *inter = write_text("loom_vi.csv", "user,item,label\nu1,a,1\nu2,z,0\nu3,b,1\n");
  const char *iv = write_text("loom_vi_items.csv", "item,v0,v1\na,0.1,-2.5\nb,3,0.001\n");
  const char *uv = write_text("loom_vi_users.csv", "user,v0,v1,v2\nu1,1,2,3\nu3,4,5,6\n");
  loom_data_schema s;
  loom_data_schema_init(&s);
  set(&s, "interactions", inter);
  set(&s, "user_col", "user");
  set(&s, "item_col", "item");
  set(&s, "label_col", "label");
  set(&s, "split_ratio", "1,0,0");
  set(&s, "item_vectors", iv);
  loom_dataset *ds = loom_dataset_open(&s, NULL, &err);
  assert_null(ds);
  assert_non_null(strstr(err.msg, "loom_vi.csv:3: column 'item': item 'z' has no vector in"));
  assert_non_null(strstr(err.msg, "missing_vector = zero"));
  set(&s, "missing_vector", "zero");
  set(&s, "user_vectors", uv);
  ds = loom_dataset_open(&s, NULL, &err);
  assert_non_null(ds);
  assert_int_equal(loom_dataset_zero_vectors(ds, 0), 1); /* item z */
  assert_int_equal(loom_dataset_zero_vectors(ds, 1), 1); /* user u2 */
  loom_batch b;
  assert_int_equal(loom_batch_init(&b, ds, 3, &err), 0);
  assert_int_equal(b.Dv, 2);
  assert_int_equal(b.Du, 3);
  int32_t rows[3] = {0, 1, 2};
  assert_int_equal(loom_dataset_encode(ds, rows, 3, &b, &err), 0);
  const float iw[6] = {0.1f, -2.5f, 0, 0, 3, 0.001f}, uw[9] = {1, 2, 3, 0, 0, 0, 4, 5, 6};
  assert_memory_equal(b.item_vec, iw, sizeof iw);
  assert_memory_equal(b.user_vec, uw, sizeof uw);
  char sum[1024];
  loom_dataset_summary(ds, sum, sizeof sum);
  assert_non_null(strstr(sum, "item vectors 2 x 2, 1 rows given zeros"));
  loom_batch_free(&b);
  loom_dataset_free(ds);
  /* a bad vector file is named under its key */
  const char *bad = write_text("loom_vi_items.csv", "item,v0,v1\na,0.1\n");
  set(&s, "item_vectors", bad);
  assert_null(loom_dataset_open(&s, NULL, &err));
  assert_non_null(strstr(err.msg, "[data] item_vectors: "));
  assert_non_null(strstr(err.msg, "loom_vi_items.csv:2: 1 values, the header has 2"));
  remove(inter), remove(iv), remove(uv);
}

static void test_column_ranges(void **state) {
  (void)state;
  loom_data_schema s;
  loom_data_schema_init(&s);
  set(&s, "numeric_cols", "age, f0..f2, x9..x10");
  assert_int_equal(s.n_numeric, 6);
  const char *want[6] = {"age", "f0", "f1", "f2", "x9", "x10"};
  for (int i = 0; i < 6; i++) assert_string_equal(s.numeric_cols[i], want[i]);
  set(&s, "category_cols", "c0..c1023");
  assert_int_equal(s.n_category, 1024);
  assert_string_equal(s.category_cols[1023], "c1023");
  assert_int_equal(loom_data_schema_set(&s, "numeric_cols", "f0..f1024", &err), -1);
  assert_non_null(strstr(err.msg, "[data] numeric_cols: more than 1024 columns"));
  assert_int_equal(loom_data_schema_set(&s, "numeric_cols", "f3..f1", &err), -1);
  assert_non_null(strstr(err.msg, "ends before it starts"));
  assert_int_equal(loom_data_schema_set(&s, "numeric_cols", "f1..g3", &err), -1);
  assert_non_null(strstr(err.msg, "is not a range like f0..f1023"));
  assert_int_equal(loom_data_schema_set(&s, "text_cols", "t0..t16", &err), -1); /* text keeps its 16 */
  assert_non_null(strstr(err.msg, "more than 16 columns"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_formats_exact),
      cmocka_unit_test(test_malformed),
      cmocka_unit_test(test_missing_vector),
      cmocka_unit_test(test_column_ranges),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
