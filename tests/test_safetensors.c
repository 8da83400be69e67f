/* test_safetensors.c — safetensors checkpoints: the malformed-file corpus (one file per reader rule,
 * tests/data/ckpt/bad_*), interop with files written from torch (byte-identical output), bit-exact round
 * trips, crash-safe writes under injected I/O faults, graph save/load and allocation-failure loops. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loom/safetensors.h"
#include "loom/sha256.h"
#include "testutil.h"

/* ---- a scratch directory per test ---- */
static char tmpdir[64];

static int setup_dir(void **state) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/loom_st_XXXXXX");
  return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_dir(void **state) {
  DIR *d = opendir(tmpdir);
  if (!d) return -1;
  struct dirent *e;
  char p[512];
  while ((e = readdir(d)))
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
      snprintf(p, sizeof p, "%s/%s", tmpdir, e->d_name);
      if (unlink(p) != 0) rmdir(p);
    }
  closedir(d);
  return rmdir(tmpdir);
}

static const char *tmp_path(const char *name) {
  static char p[4][512];
  static int k;
  k = (k + 1) % 4;
  snprintf(p[k], sizeof p[k], "%s/%s", tmpdir, name);
  return p[k];
}

static uint64_t rd64(const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
  return v;
}

static bool exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}

static const char *tmp_of(const char *path) {
  static char p[700];
  snprintf(p, sizeof p, "%s.tmp.%ld", path, (long)getpid());
  return p;
}

#define assert_has(msg, sub)                                                                  \
  do {                                                                                        \
    if (!strstr((msg), (sub))) fail_msg("message \"%s\"\n  lacks \"%s\"", (msg), (sub));     \
  } while (0)

/* ---- the malformed corpus: one file per rule, one message each ---- */
static const struct {
  const char *file, *expect;
} corpus[] = {
    {"bad_short", "file is 5 bytes, shorter than the 8-byte header length"},
    {"bad_header_past_eof", "header length 1000 runs past the end of the file (16 bytes)"},
    {"bad_header_over_cap", "header length 1099511627776 is above the 104857600-byte cap"},
    {"bad_header_not_utf8", "header is not valid UTF-8 text (byte 3 is 0xff)"},
    {"bad_header_nul", "header is not valid UTF-8 text (byte 8 is 0x00)"},
    {"bad_json", "header is not valid JSON (error at byte 22, after '{\"w\": {\"dtype\": \"F32\",')"},
    {"bad_json_trailing", "bytes after the closing brace at byte 3"},
    {"bad_not_object", "header is a list, not a JSON object"},
    {"bad_meta_not_object", "__metadata__ is a list, not an object of strings"},
    {"bad_meta_value", "__metadata__ key 'step' is a number, not a string"},
    {"bad_meta_dup_key", "__metadata__ key 'step' appears twice"},
    {"bad_meta_twice", "__metadata__ appears twice in the header"},
    {"bad_entry_not_object", "tensor 'w': entry is a list, not an object with dtype, shape and data_offsets"},
    {"bad_dtype_unknown", "tensor 'w': unknown dtype 'F17'"},
    {"bad_dtype_not_string", "tensor 'w': dtype is a number, not a string such as \"F32\""},
    {"bad_dtype_missing", "tensor 'w': missing \"dtype\""},
    {"bad_entry_unknown_key", "tensor 'w': unknown key 'stride'"},
    {"bad_entry_dup_key", "tensor 'w': key 'dtype' appears twice"},
    {"bad_shape_not_list", "tensor 'w': shape is not a list of non-negative integers"},
    {"bad_shape_negative", "tensor 'w': shape is not a list of non-negative integers"},
    {"bad_shape_fraction", "tensor 'w': shape is not a list of non-negative integers"},
    {"bad_shape_string", "tensor 'w': shape is not a list of non-negative integers"},
    {"bad_too_many_dims", "tensor 'w': shape has 9 dims, more than the 8 loom supports"},
    {"bad_shape_overflow", "tensor 'w': shape [4294967296, 4294967296] is too large"},
    {"bad_offsets_one", "tensor 'w': data_offsets is not [begin, end] with integers 0 <= begin <= end"},
    {"bad_offsets_reversed", "tensor 'w': data_offsets is not [begin, end] with integers 0 <= begin <= end"},
    {"bad_offsets_string", "tensor 'w': data_offsets is not [begin, end] with integers 0 <= begin <= end"},
    {"bad_offsets_negative", "tensor 'w': data_offsets is not [begin, end] with integers 0 <= begin <= end"},
    {"bad_size_mismatch", "tensor 'w': shape [3] of F32 needs 12 bytes but data_offsets [0, 8] hold 8"},
    {"bad_not_at_zero", "data does not start at offset 0: the first tensor 'w' begins at byte 4"},
    {"bad_gap", "gap in the data: tensor 'a' ends at byte 4 but the next, 'b', begins at 8"},
    {"bad_overlap", "tensors overlap: 'a' [0, 8] and 'b' [4, 8]"},
    {"bad_trailing_data", "4 trailing bytes after the last tensor (data section is 12 bytes, tensors end at 8)"},
    {"bad_truncated_data", "file is truncated: tensors need 16 bytes of data but only 8 are present"},
    {"bad_dup_name", "tensor name 'w' appears twice in the header"},
    {"bad_name_empty", "a tensor name is empty"},
    {"bad_name_too_long", "is 1025 bytes, longer than the 1024 allowed"},
};

static void test_every_malformed_file_is_rejected_with_its_message(void **state) {
  char rel[256];
  for (size_t i = 0; i < sizeof corpus / sizeof corpus[0]; i++) {
    snprintf(rel, sizeof rel, "tests/data/ckpt/%s.safetensors", corpus[i].file);
    const char *path = tu_src_path(rel);
    loom_error err = {{0}};
    loom_st_file *f = loom_st_open(path, &err);
    if (f) fail_msg("%s was accepted", corpus[i].file);
    assert_has(err.msg, path);
    assert_has(err.msg, corpus[i].expect);
    assert_has(err.msg, " — not a valid safetensors checkpoint: restore it from a copy or save it again");
  }
  /* every bad_* file in the corpus directory has a row in the table */
  DIR *d = opendir(tu_src_path("tests/data/ckpt"));
  assert_non_null(d);
  struct dirent *e;
  int n_bad = 0;
  while ((e = readdir(d)))
    if (strncmp(e->d_name, "bad_", 4) == 0) n_bad++;
  closedir(d);
  assert_int_equal(n_bad, (int)(sizeof corpus / sizeof corpus[0]));
}

/* Checksums (loom_st_writer_checksums): written on request only, checked by every open, naming the
 * tensor whose bytes changed; a file without them opens (loom_st_verify says so). */
static void test_tensor_checksums(void **state) {
  loom_error err = {{0}};
  float a[3] = {1, 2, 3}, b[2] = {-1.5f, 4};
  const char *path = tmp_path("sums.safetensors"), *plain = tmp_path("plain.safetensors");
  loom_st_writer *w = loom_st_writer_new();
  assert_int_equal(loom_st_writer_add(w, "a", LOOM_ST_F32, 1, (int64_t[]){3}, a, &err), 0);
  assert_int_equal(loom_st_writer_add(w, "b", LOOM_ST_F32, 1, (int64_t[]){2}, b, &err), 0);
  assert_int_equal(loom_st_write(w, plain, &err), 0);
  loom_st_writer_checksums(w, true);
  assert_int_equal(loom_st_write(w, path, &err), 0);
  loom_st_writer_free(w);
  loom_st_file *f = loom_st_open(plain, &err);
  assert_non_null(f);
  assert_null(loom_st_meta(f, LOOM_ST_CHECKSUM_KEY));
  assert_int_equal(loom_st_verify(f, &err), 1);
  loom_st_close(f);
  assert_non_null(f = loom_st_open(path, &err));
  char want[200], hex[65];
  loom_sha256_hex(b, sizeof b, hex);
  snprintf(want, sizeof want, "\"b\":\"%s\"", hex);
  assert_has(loom_st_meta(f, LOOM_ST_CHECKSUM_KEY), want);
  assert_int_equal(loom_st_verify(f, &err), 0);
  loom_st_close(f);
  /* one flipped exponent bit in b[0] (the last 8 bytes of the file are b) */
  FILE *fp = fopen(path, "r+b");
  assert_non_null(fp);
  fseek(fp, -5, SEEK_END);
  int c = fgetc(fp);
  fseek(fp, -5, SEEK_END);
  fputc(c ^ 0x40, fp);
  fclose(fp);
  assert_null(loom_st_open(path, &err));
  assert_has(err.msg, path);
  assert_has(err.msg, "tensor 'b' (bytes 12..20 of the data section) does not match its SHA-256 in metadata loom.sha256");
  /* the committed corrupt files */
  const char *bad[][2] = {{"checksum_mismatch", "tensor 'w' (bytes 0..8 of the data section) does not match"},
                          {"checksum_unknown_tensor", "has a checksum for tensor 'v', which the file does not hold"},
                          {"checksum_missing_tensor", "tensor 'v' has no checksum in metadata loom.sha256"},
                          {"checksum_not_object", "metadata loom.sha256 is not a JSON object"}};
  for (int i = 0; i < 4; i++) {
    char rel[128];
    snprintf(rel, sizeof rel, "tests/data/ckpt/%s.safetensors", bad[i][0]);
    assert_null(loom_st_open(tu_src_path(rel), &err));
    assert_has(err.msg, bad[i][1]);
  }
}

static void test_missing_file_and_too_many_tensors(void **state) {
  loom_error err = {{0}};
  assert_null(loom_st_open(tmp_path("nope.safetensors"), &err));
  assert_has(err.msg, "nope.safetensors: cannot open checkpoint: No such file or directory");
  assert_null(loom_st_open(tmpdir, &err));
  assert_has(err.msg, "not a regular file");

  /* caps that need files too large to commit: tensors, metadata entries, JSON values */
  const char *path = tmp_path("many.safetensors");
  char *h = malloc(16 << 20);
  for (int which = 0; which < 3; which++) {
    size_t n = (size_t)sprintf(h, which == 1 ? "{\"__metadata__\":{" : which == 2 ? "{\"w\":[" : "{");
    int count = which == 2 ? 32 * LOOM_ST_MAX_TENSORS : LOOM_ST_MAX_TENSORS + 1;
    for (int i = 0; i < count; i++) {
      if (which == 2) n += (size_t)sprintf(h + n, "%s0", i ? "," : "");
      else n += (size_t)sprintf(h + n, "%s\"t%d\":%s", i ? "," : "", i, which ? "\"v\"" : "0");
    }
    n += (size_t)sprintf(h + n, which ? "]}" : "}");
    if (which == 1) h[n - 2] = '}';
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    uint64_t len = n;
    fwrite(&len, 8, 1, f);
    fwrite(h, 1, n, f);
    fclose(f);
    assert_null(loom_st_open(path, &err));
    assert_has(err.msg, which == 0   ? "header lists 100001 tensors, more than the cap of 100000"
                        : which == 1 ? "__metadata__ holds 100001 entries, more than the cap of 100000"
                                     : "header holds about 3200003 JSON values, more than the 3200000 that 100000 "
                                       "tensors can need");
  }
  free(h);
}

/* ---- the reference file written from torch ---- */
static const char *ref_note = "quote \" backslash \\ newline \n tab \t bell \x07 é ü 中文 😀";

/* The tensors of gen_safetensors.py ref_tensors(), in the same order. */
typedef struct {
  float embed[15], bias[3], scalar, tete;
  int64_t ids[4];
  int32_t counts[4];
  uint8_t mask[3];
  double dbl[2];
} ref_values;

static void ref_fill(ref_values *r) {
  for (int i = 0; i < 15; i++) r->embed[i] = (float)i * 0.25f - 1.0f;
  r->bias[0] = 1.5f, r->bias[1] = -2.0f, r->bias[2] = 3.0e-8f;
  r->scalar = 7.0f;
  r->tete = 42.0f;
  r->ids[0] = 0, r->ids[1] = -1, r->ids[2] = (int64_t)1 << 40, r->ids[3] = -((int64_t)1 << 62);
  r->counts[0] = 1, r->counts[1] = -2, r->counts[2] = INT32_MAX, r->counts[3] = INT32_MIN;
  r->mask[0] = 0, r->mask[1] = 1, r->mask[2] = 255;
  r->dbl[0] = 0.1, r->dbl[1] = -1e300;
}

static void test_reads_the_file_written_from_torch(void **state) {
  loom_error err = {{0}};
  const char *path = tu_src_path("tests/data/ckpt/torch_ref.safetensors");
  loom_st_file *f = loom_st_open(path, &err);
  if (!f) fail_msg("%s", err.msg);
  ref_values r;
  ref_fill(&r);
  assert_int_equal(loom_st_count(f), 9);
  assert_string_equal(loom_st_meta(f, "format"), "pt");
  assert_string_equal(loom_st_meta(f, "note"), ref_note);
  assert_string_equal(loom_st_meta(f, "step"), "12");
  assert_null(loom_st_meta(f, "absent"));
  assert_int_equal(loom_st_meta_count(f), 3);

  float embed[15], bias[3], one;
  assert_int_equal(loom_st_read_f32(f, "embed.weight", embed, 15, &err), 0);
  assert_memory_equal(embed, r.embed, sizeof embed);
  assert_int_equal(loom_st_read_f32(f, "dense.bias", bias, 3, &err), 0);
  assert_memory_equal(bias, r.bias, sizeof bias);
  assert_int_equal(loom_st_read_f32(f, "tête/é", &one, 1, &err), 0);
  assert_true(one == 42.0f);
  int64_t ids[4];
  assert_int_equal(loom_st_read(f, "ids", LOOM_ST_I64, ids, 4, &err), 0);
  assert_memory_equal(ids, r.ids, sizeof ids);
  int32_t counts[4];
  assert_int_equal(loom_st_read(f, "counts", LOOM_ST_I32, counts, 4, &err), 0);
  assert_memory_equal(counts, r.counts, sizeof counts);
  uint8_t mask[3];
  assert_int_equal(loom_st_read(f, "mask", LOOM_ST_U8, mask, 3, &err), 0);
  assert_memory_equal(mask, r.mask, 3);
  double dbl[2];
  assert_int_equal(loom_st_read(f, "double", LOOM_ST_F64, dbl, 2, &err), 0);
  assert_memory_equal(dbl, r.dbl, sizeof dbl);

  const loom_st_tensor *t = loom_st_find(f, "embed.weight");
  assert_non_null(t);
  assert_int_equal(t->dtype, LOOM_ST_F32);
  assert_int_equal(t->ndim, 2);
  assert_int_equal(t->shape[0], 5);
  assert_int_equal(t->shape[1], 3);
  t = loom_st_find(f, "scalar");
  assert_int_equal(t->ndim, 0);
  assert_int_equal(t->numel, 1);
  t = loom_st_find(f, "empty");
  assert_int_equal(t->numel, 0);
  assert_int_equal(t->begin, t->end);
  assert_null(loom_st_find(f, "embed"));
  /* tensor_at walks the data in offset order */
  for (int i = 1; i < loom_st_count(f); i++)
    assert_true(loom_st_tensor_at(f, i)->begin == loom_st_tensor_at(f, i - 1)->end);

  /* copy-out checks */
  assert_int_equal(loom_st_read_f32(f, "ids", embed, 4, &err), -1);
  assert_has(err.msg, "tensor 'ids' is I64, expected F32");
  assert_int_equal(loom_st_read_f32(f, "embed.weight", embed, 14, &err), -1);
  assert_has(err.msg, "tensor 'embed.weight' has 15 elements (shape [5, 3]), expected 14");
  assert_int_equal(loom_st_read_f32(f, "embed.w", embed, 15, &err), -1);
  assert_has(err.msg, "no tensor 'embed.w' in the checkpoint (it holds 9 tensors)");
  assert_has(err.msg, path);
  loom_st_close(f);
}

static void add_ref(loom_st_writer *w, const ref_values *r) {
  loom_error err = {{0}};
  struct {
    const char *name;
    loom_st_dtype dt;
    int ndim;
    int64_t shape[2];
    const void *data;
  } t[] = {
      {"embed.weight", LOOM_ST_F32, 2, {5, 3}, r->embed}, {"dense.bias", LOOM_ST_F32, 1, {3}, r->bias},
      {"ids", LOOM_ST_I64, 1, {4}, r->ids},               {"counts", LOOM_ST_I32, 2, {2, 2}, r->counts},
      {"mask", LOOM_ST_U8, 1, {3}, r->mask},              {"double", LOOM_ST_F64, 1, {2}, r->dbl},
      {"scalar", LOOM_ST_F32, 0, {0}, &r->scalar},        {"empty", LOOM_ST_F32, 2, {0, 3}, NULL},
      {"tête/é", LOOM_ST_F32, 1, {1}, &r->tete},
  };
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
    assert_int_equal(loom_st_writer_add(w, t[i].name, t[i].dt, t[i].ndim, t[i].shape, t[i].data, &err), 0);
  assert_int_equal(loom_st_writer_meta(w, "note", ref_note, &err), 0);
  assert_int_equal(loom_st_writer_meta(w, "step", "11", &err), 0);
  assert_int_equal(loom_st_writer_meta(w, "step", "12", &err), 0); /* last value wins */
}

static void test_writer_output_is_byte_identical_to_the_torch_file(void **state) {
  ref_values r;
  ref_fill(&r);
  loom_st_writer *w = loom_st_writer_new();
  add_ref(w, &r);
  loom_error err = {{0}};
  const char *path = tmp_path("ref.safetensors");
  if (loom_st_write(w, path, &err) != 0) fail_msg("%s", err.msg);
  /* byte-identical to tests/data/ckpt/torch_ref.safetensors (asserted below), so
   * tests/reference/check_safetensors.py reads that file; nothing is written outside the temp dir */
  loom_st_writer_free(w);
  size_t na, nb;
  unsigned char *a = (unsigned char *)tu_slurp(path, &na);
  unsigned char *b = (unsigned char *)tu_slurp(tu_src_path("tests/data/ckpt/torch_ref.safetensors"), &nb);
  assert_int_equal(na, nb);
  assert_memory_equal(a, b, na);
  free(a);
  free(b);
}

static void test_unpadded_header_gives_unaligned_data_read_by_copy(void **state) {
  loom_error err = {{0}};
  loom_st_file *f = loom_st_open(tu_src_path("tests/data/ckpt/unpadded.safetensors"), &err);
  if (!f) fail_msg("%s", err.msg);
  const loom_st_tensor *a = loom_st_find(f, "a");
  assert_true((uintptr_t)a->data % 4 != 0);
  float x[3];
  int64_t y[2];
  assert_int_equal(loom_st_read_f32(f, "a", x, 3, &err), 0);
  assert_true(x[0] == 1.0f && x[1] == 2.0f && x[2] == 3.0f);
  assert_int_equal(loom_st_read(f, "b", LOOM_ST_I64, y, 2, &err), 0);
  assert_true(y[0] == ((int64_t)1 << 53) && y[1] == -5);
  assert_string_equal(loom_st_meta(f, "x"), "y");
  loom_st_close(f);
}

/* Every truncation and many random byte mutations of a valid file: each open either fails with a
 * message or yields tensors that lie inside the file (ASan checks every byte the reader touches). */
static void check_or_reject(const char *path, size_t file_size) {
  loom_error err = {{0}};
  loom_st_file *f = loom_st_open(path, &err);
  if (!f) {
    assert_true(strlen(err.msg) > 0);
    assert_has(err.msg, path);
    return;
  }
  for (int i = 0; i < loom_st_count(f); i++) {
    const loom_st_tensor *t = loom_st_tensor_at(f, i);
    assert_true(t->begin <= t->end && t->end <= file_size);
    assert_true(loom_st_find(f, t->name) == t);
    assert_true(t->numel * loom_st_dtype_size(t->dtype) == t->end - t->begin);
    unsigned char sum = 0;
    for (uint64_t k = 0; k < t->end - t->begin; k++) sum ^= ((const unsigned char *)t->data)[k];
    (void)sum;
  }
  loom_st_close(f);
}

static void test_truncated_and_mutated_files_never_crash(void **state) {
  size_t n;
  unsigned char *good = (unsigned char *)tu_slurp(tu_src_path("tests/data/ckpt/torch_ref.safetensors"), &n);
  unsigned char *b = malloc(n);
  const char *path = tmp_path("mut.safetensors");
  int accepted = 0;
  for (size_t len = 0; len < n; len++) {
    FILE *f = fopen(path, "wb");
    fwrite(good, 1, len, f);
    fclose(f);
    loom_error err = {{0}};
    loom_st_file *sf = loom_st_open(path, &err);
    if (sf) fail_msg("truncated to %zu of %zu bytes but accepted", len, n);
  }
  loom_rng rng;
  loom_rng_seed(&rng, 17);
  uint64_t hn = rd64(good);
  for (int trial = 0; trial < 3000; trial++) {
    memcpy(b, good, n);
    int flips = 1 + (int)loom_rng_below(&rng, 3);
    for (int k = 0; k < flips; k++) {
      /* mostly in the header, where the structure is */
      size_t at = loom_rng_below(&rng, 4) ? 8 + loom_rng_below(&rng, (uint32_t)hn) : loom_rng_below(&rng, (uint32_t)n);
      const char pool[] = "0123456789[]{},:\"\\ -.eE\x00\xff\xc3";
      b[at] = loom_rng_below(&rng, 2) ? (unsigned char)pool[loom_rng_below(&rng, sizeof pool - 1)]
                                      : (unsigned char)loom_rng_u64(&rng);
    }
    FILE *f = fopen(path, "wb");
    fwrite(b, 1, n, f);
    fclose(f);
    check_or_reject(path, n);
    loom_error err = {{0}};
    loom_st_file *sf = loom_st_open(path, &err);
    accepted += sf != NULL;
    loom_st_close(sf);
  }
  print_message("mutations accepted as valid files: %d of 3000\n", accepted);
  free(good);
  free(b);
}

/* ---- round trips ---- */
static void test_round_trip_is_bit_exact_with_exact_layout(void **state) {
  loom_rng rng;
  loom_rng_seed(&rng, 3);
  enum { N = 1000 };
  uint32_t bits[N]; /* every float bit pattern family: NaN payloads, -0, inf, subnormals */
  for (int i = 0; i < N; i++) bits[i] = (uint32_t)loom_rng_u64(&rng);
  bits[0] = 0x80000000u, bits[1] = 0x7f800000u, bits[2] = 0xffc00001u, bits[3] = 0x00000001u, bits[4] = 0x7fa00000u;
  int32_t i32[7] = {0, -1, 1, INT32_MAX, INT32_MIN, 12345, -54321};
  uint8_t u8[5] = {0, 1, 127, 128, 255}; /* odd sizes: later tensors start at odd offsets */
  double f64[3] = {-0.0, 1e-310, NAN};
  int64_t i64[2] = {INT64_MIN, INT64_MAX};
  const char *meta_keys[] = {"format", "empty", "quote\"key", "ctl", "utf8"};
  const char *meta_vals[] = {"pt", "", "a \"b\" \\c\\ /d/", "\x01\x02\x1f\n\r\t\b\f\x7f", "naïve — 日本語 🚀"};

  loom_st_writer *w = loom_st_writer_new();
  loom_error err = {{0}};
  assert_int_equal(loom_st_writer_add(w, "u8", LOOM_ST_U8, 1, (int64_t[]){5}, u8, &err), 0);
  assert_int_equal(loom_st_writer_add(w, "bits", LOOM_ST_F32, 3, (int64_t[]){10, 10, 10}, bits, &err), 0);
  assert_int_equal(loom_st_writer_add(w, "i32", LOOM_ST_I32, 1, (int64_t[]){7}, i32, &err), 0);
  assert_int_equal(loom_st_writer_add(w, "f64", LOOM_ST_F64, 1, (int64_t[]){3}, f64, &err), 0);
  assert_int_equal(loom_st_writer_add(w, "i64", LOOM_ST_I64, 2, (int64_t[]){1, 2}, i64, &err), 0);
  for (int i = 1; i < 5; i++) assert_int_equal(loom_st_writer_meta(w, meta_keys[i], meta_vals[i], &err), 0);
  const char *path = tmp_path("rt.safetensors");
  if (loom_st_write(w, path, &err) != 0) fail_msg("%s", err.msg);
  loom_st_writer_free(w);
  assert_false(exists(tmp_of(path)));

  /* layout: length, header padded with spaces to a multiple of 8, data contiguous, exact size */
  size_t n;
  unsigned char *b = (unsigned char *)tu_slurp(path, &n);
  uint64_t hn = rd64(b);
  assert_int_equal(hn % 8, 0);
  size_t data_bytes = 5 + 4 * N + 4 * 7 + 8 * 3 + 8 * 2;
  assert_int_equal(n, 8 + hn + data_bytes);
  size_t close = hn;
  while (b[8 + close - 1] == ' ') close--;
  assert_true(b[8 + close - 1] == '}');
  assert_true(hn - close < 8);
  const unsigned char *data = b + 8 + hn;
  assert_memory_equal(data, u8, 5);
  assert_memory_equal(data + 5, bits, 4 * N);
  assert_memory_equal(data + 5 + 4 * N, i32, sizeof i32);
  assert_memory_equal(data + 5 + 4 * N + 28, f64, sizeof f64);
  assert_memory_equal(data + 5 + 4 * N + 28 + 24, i64, sizeof i64);
  free(b);

  loom_st_file *f = loom_st_open(path, &err);
  if (!f) fail_msg("%s", err.msg);
  assert_int_equal(loom_st_count(f), 5);
  const char *order[] = {"u8", "bits", "i32", "f64", "i64"};
  uint64_t at = 0;
  for (int i = 0; i < 5; i++) {
    const loom_st_tensor *t = loom_st_tensor_at(f, i);
    assert_string_equal(t->name, order[i]);
    assert_int_equal(t->begin, at);
    at = t->end;
  }
  assert_int_equal(at, data_bytes);
  uint32_t back[N];
  assert_int_equal(loom_st_read_f32(f, "bits", (float *)back, N, &err), 0);
  assert_memory_equal(back, bits, sizeof bits);
  const loom_st_tensor *t = loom_st_find(f, "bits");
  assert_int_equal(t->ndim, 3);
  assert_int_equal(t->shape[2], 10);
  double f64b[3];
  assert_int_equal(loom_st_read(f, "f64", LOOM_ST_F64, f64b, 3, &err), 0);
  assert_memory_equal(f64b, f64, sizeof f64);
  int64_t i64b[2];
  assert_int_equal(loom_st_read(f, "i64", LOOM_ST_I64, i64b, 2, &err), 0);
  assert_memory_equal(i64b, i64, sizeof i64);
  assert_int_equal(loom_st_meta_count(f), 5);
  for (int i = 0; i < 5; i++) {
    const char *k, *v;
    loom_st_meta_at(f, i, &k, &v);
    assert_string_equal(k, meta_keys[i]);
    assert_string_equal(v, meta_vals[i]);
  }
  loom_st_close(f);
}

static void test_empty_file_and_large_tensor(void **state) {
  loom_error err = {{0}};
  /* no tensors at all: just the header */
  loom_st_writer *w = loom_st_writer_new();
  const char *path = tmp_path("empty.safetensors");
  assert_int_equal(loom_st_write(w, path, &err), 0);
  loom_st_writer_free(w);
  loom_st_file *f = loom_st_open(path, &err);
  assert_non_null(f);
  assert_int_equal(loom_st_count(f), 0);
  assert_null(loom_st_find(f, "x"));
  assert_string_equal(loom_st_meta(f, "format"), "pt");
  loom_st_close(f);

  size_t n = 1000000;
  float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
  loom_rng rng;
  loom_rng_seed(&rng, 7);
  tu_fill_uniform(x, n, -3, 3, &rng);
  w = loom_st_writer_new();
  assert_int_equal(loom_st_writer_add(w, "big", LOOM_ST_F32, 2, (int64_t[]){1000, 1000}, x, &err), 0);
  path = tmp_path("big.safetensors");
  assert_int_equal(loom_st_write(w, path, &err), 0);
  loom_st_writer_free(w);
  f = loom_st_open(path, &err);
  assert_non_null(f);
  assert_int_equal(loom_st_read_f32(f, "big", y, n, &err), 0);
  assert_memory_equal(x, y, n * sizeof *x);
  loom_st_close(f);
  free(x);
  free(y);
}

static void test_writer_rejects_bad_names_and_shapes(void **state) {
  loom_error err = {{0}};
  float v[4] = {0};
  loom_st_writer *w = loom_st_writer_new();
  assert_int_equal(loom_st_writer_add(w, "", LOOM_ST_F32, 1, (int64_t[]){1}, v, &err), -1);
  assert_has(err.msg, "tensor name '' is empty");
  assert_int_equal(loom_st_writer_add(w, "__metadata__", LOOM_ST_F32, 1, (int64_t[]){1}, v, &err), -1);
  assert_has(err.msg, "'__metadata__' is reserved");
  assert_int_equal(loom_st_writer_add(w, "bad\xff", LOOM_ST_F32, 1, (int64_t[]){1}, v, &err), -1);
  assert_has(err.msg, "is not valid UTF-8");
  char long_name[LOOM_ST_NAME_MAX + 2];
  memset(long_name, 'x', sizeof long_name - 1);
  long_name[sizeof long_name - 1] = '\0';
  assert_int_equal(loom_st_writer_add(w, long_name, LOOM_ST_F32, 1, (int64_t[]){1}, v, &err), -1);
  assert_has(err.msg, "is longer than the 1024 bytes allowed");
  assert_int_equal(loom_st_writer_add(w, "neg", LOOM_ST_F32, 1, (int64_t[]){-1}, v, &err), -1);
  assert_has(err.msg, "tensor 'neg' has negative dim -1");
  assert_int_equal(loom_st_writer_add(w, "deep", LOOM_ST_F32, 9, (int64_t[9]){1, 1, 1, 1, 1, 1, 1, 1, 1}, v, &err), -1);
  assert_has(err.msg, "has 9 dims; the writer supports 0 to 8");
  assert_int_equal(loom_st_writer_add(w, "huge", LOOM_ST_F64, 2, (int64_t[]){1 << 30, 1 << 30}, v, &err), -1);
  assert_has(err.msg, "is too large");
  assert_int_equal(loom_st_writer_meta(w, "", "x", &err), -1);
  assert_has(err.msg, "metadata key '' is empty");
  assert_int_equal(loom_st_writer_meta(w, "k", "bad\xc0\x80", &err), -1);
  assert_has(err.msg, "metadata value of key 'k' is not valid UTF-8");
  assert_int_equal(loom_st_writer_meta(w, "format", "np", &err), -1);
  assert_has(err.msg, "metadata 'format' is always \"pt\"");
  assert_int_equal(loom_st_writer_meta(w, "format", "pt", &err), 0);
  /* duplicates are found at write time; nothing is written */
  assert_int_equal(loom_st_writer_add(w, "dup", LOOM_ST_F32, 1, (int64_t[]){4}, v, &err), 0);
  assert_int_equal(loom_st_writer_add(w, "other", LOOM_ST_F32, 1, (int64_t[]){1}, v, &err), 0);
  assert_int_equal(loom_st_writer_add(w, "dup", LOOM_ST_F32, 1, (int64_t[]){1}, v, &err), 0);
  const char *path = tmp_path("dup.safetensors");
  assert_int_equal(loom_st_write(w, path, &err), -1);
  assert_has(err.msg, "tensor name 'dup' is used twice");
  assert_false(exists(path));
  assert_false(exists(tmp_of(path)));
  loom_st_writer_free(w);
}

/* ---- crash safety ---- */
static void write_version(const char *path, float value, int n, loom_error *err, int expect_rc) {
  float *x = malloc((size_t)n * sizeof *x);
  for (int i = 0; i < n; i++) x[i] = value + (float)i;
  loom_st_writer *w = loom_st_writer_new();
  assert_int_equal(loom_st_writer_add(w, "a", LOOM_ST_F32, 1, (int64_t[]){n}, x, err), 0);
  assert_int_equal(loom_st_writer_add(w, "b", LOOM_ST_F32, 1, (int64_t[]){n}, x, err), 0);
  int rc = loom_st_write(w, path, err);
  if (rc != expect_rc) fail_msg("loom_st_write returned %d: %s", rc, err->msg);
  loom_st_writer_free(w);
  free(x);
}

static void test_failed_writes_keep_the_previous_checkpoint(void **state) {
  loom_error err = {{0}};
  const char *path = tmp_path("ckpt.safetensors");
  write_version(path, 1.0f, 100, &err, 0);
  size_t n0;
  unsigned char *v1 = (unsigned char *)tu_slurp(path, &n0);
  const struct {
    loom_st_fault_step step;
    int err_no, nth;
    const char *what;
  } faults[] = {
      {LOOM_ST_FAULT_OPEN, EACCES, 1, "creating the temporary file failed: Permission denied"},
      {LOOM_ST_FAULT_WRITE, ENOSPC, 1, "writing the header failed: No space left on device"},
      {LOOM_ST_FAULT_WRITE, ENOSPC, 2, "writing the header failed: No space left on device"},
      {LOOM_ST_FAULT_WRITE, ENOSPC, 3, "writing tensor data failed: No space left on device"},
      {LOOM_ST_FAULT_WRITE, EIO, 4, "writing tensor data failed: Input/output error"},
      {LOOM_ST_FAULT_FSYNC, EIO, 1, "fsync of the temporary file failed: Input/output error"},
      {LOOM_ST_FAULT_CLOSE, EDQUOT, 1, "closing the temporary file failed: Disk quota exceeded"},
      {LOOM_ST_FAULT_RENAME, EXDEV, 1, "renaming the temporary file over the target failed: Invalid cross-device link"},
  };
  for (size_t i = 0; i < sizeof faults / sizeof faults[0]; i++) {
    loom_st_fault_set(faults[i].step, faults[i].err_no, faults[i].nth);
    write_version(path, 2.0f, 200, &err, -1);
    assert_has(err.msg, path);
    assert_has(err.msg, faults[i].what);
    assert_has(err.msg, "the previous checkpoint at that path is intact");
    assert_false(exists(tmp_of(path)));
    size_t n1;
    unsigned char *now = (unsigned char *)tu_slurp(path, &n1);
    assert_int_equal(n1, n0);
    assert_memory_equal(now, v1, n0);
    free(now);
    loom_st_file *f = loom_st_open(path, &err);
    if (!f) fail_msg("%s", err.msg);
    float a[100];
    assert_int_equal(loom_st_read_f32(f, "a", a, 100, &err), 0);
    assert_true(a[99] == 100.0f);
    loom_st_close(f);
  }
  free(v1);

  /* no previous file: the message says so and nothing is left behind */
  const char *fresh = tmp_path("fresh.safetensors");
  loom_st_fault_set(LOOM_ST_FAULT_FSYNC, EIO, 1);
  write_version(fresh, 1.0f, 10, &err, -1);
  assert_has(err.msg, "no file was written at that path");
  assert_false(exists(fresh));
  assert_false(exists(tmp_of(fresh)));

  /* real failures: a missing directory; a target that is a non-empty directory */
  write_version(tmp_path("no/such/dir.safetensors"), 1.0f, 10, &err, -1);
  assert_has(err.msg, "creating the temporary file failed: No such file or directory");
  const char *dirt = tmp_path("dirtarget");
  assert_int_equal(mkdir(dirt, 0700), 0);
  char inner[600];
  snprintf(inner, sizeof inner, "%s/x", dirt);
  fclose(fopen(inner, "wb"));
  write_version(dirt, 1.0f, 10, &err, -1);
  assert_has(err.msg, "renaming the temporary file over the target failed");
  assert_false(exists(tmp_of(dirt)));
  unlink(inner);
  rmdir(dirt);

  /* directory fsync failing after the rename: the new file is there, and the message says so */
  loom_st_fault_set(LOOM_ST_FAULT_DIRSYNC, EIO, 1);
  write_version(path, 3.0f, 10, &err, -1);
  assert_has(err.msg, "the new file is in place but fsync of directory");
  loom_st_file *f = loom_st_open(path, &err);
  assert_non_null(f);
  assert_int_equal(loom_st_find(f, "a")->numel, 10);
  loom_st_close(f);
  /* injection turned itself off */
  write_version(path, 4.0f, 10, &err, 0);
}

/* ---- graphs ---- */
static loom_graph *make_model(int hidden, bool with_extra, loom_rng *rng) {
  loom_graph *g = loom_graph_new();
  loom_tensor *w1 = loom_param(g, "dense1.w", 2, (int[]){8, hidden});
  loom_tensor *b1 = loom_param(g, "dense1.b", 1, (int[]){hidden});
  loom_tensor *e = loom_param(g, "embed", 3, (int[]){4, 3, 2});
  loom_tensor *m = loom_buffer(g, "bn.running_mean", 1, (int[]){hidden});
  loom_tensor *x = with_extra ? loom_param(g, "extra", 1, (int[]){5}) : NULL;
  if (rng) {
    tu_fill_uniform(w1->data, loom_tensor_numel(w1), -1, 1, rng);
    tu_fill_uniform(b1->data, loom_tensor_numel(b1), -1, 1, rng);
    tu_fill_uniform(e->data, loom_tensor_numel(e), -1, 1, rng);
    tu_fill_uniform(m->data, loom_tensor_numel(m), -1, 1, rng);
    if (x) tu_fill_uniform(x->data, 5, -1, 1, rng);
  }
  return g;
}

static void assert_same_values(loom_graph *a, loom_graph *b) {
  const char *names[] = {"dense1.w", "dense1.b", "embed", "bn.running_mean"};
  for (int i = 0; i < 4; i++) {
    loom_tensor *x = loom_graph_find(a, names[i]), *y = loom_graph_find(b, names[i]);
    assert_int_equal(loom_tensor_numel(x), loom_tensor_numel(y));
    assert_memory_equal(x->data, y->data, loom_tensor_numel(x) * sizeof(float));
  }
}

static bool all_zero(loom_graph *g) {
  for (int i = 0; i < loom_graph_n_param_tensors(g); i++) {
    loom_tensor *t = loom_graph_param_tensor(g, i);
    for (size_t k = 0; k < loom_tensor_numel(t); k++)
      if (t->data[k] != 0) return false;
  }
  for (int i = 0; i < loom_graph_n_buffer_tensors(g); i++) {
    loom_tensor *t = loom_graph_buffer_tensor(g, i);
    for (size_t k = 0; k < loom_tensor_numel(t); k++)
      if (t->data[k] != 0) return false;
  }
  return true;
}

static void test_graph_save_and_load_by_name(void **state) {
  loom_rng rng;
  loom_rng_seed(&rng, 11);
  loom_error err = {{0}};
  loom_graph *g = make_model(6, false, &rng);
  const char *path = tmp_path("model.safetensors");
  const char *meta[] = {"step", "1200", "model", "dense \"v2\""};
  if (loom_st_save_graph(g, path, 2, meta, &err) != 0) fail_msg("%s", err.msg);

  loom_st_file *f = loom_st_open(path, &err);
  assert_non_null(f);
  assert_int_equal(loom_st_count(f), 4);
  assert_string_equal(loom_st_meta(f, "format"), "pt");
  assert_string_equal(loom_st_meta(f, "step"), "1200");
  assert_string_equal(loom_st_meta(f, "model"), "dense \"v2\"");
  assert_int_equal(loom_st_find(f, "embed")->ndim, 3);
  loom_st_close(f);

  loom_graph *h = make_model(6, false, NULL);
  if (loom_st_load_graph(h, path, 0, &err) != 0) fail_msg("%s", err.msg);
  assert_same_values(g, h);
  loom_graph_free(h);

  /* a different hidden size: every mismatch is named with both shapes; nothing is copied */
  h = make_model(7, false, NULL);
  assert_int_equal(loom_st_load_graph(h, path, LOOM_ST_ALLOW_MISSING | LOOM_ST_ALLOW_UNEXPECTED, &err), -1);
  assert_has(err.msg, path);
  assert_has(err.msg, "3 wrong shape or dtype: dense1.w (file F32 [8, 6], graph F32 [8, 7]), dense1.b (file F32 [6], "
                      "graph F32 [7]), bn.running_mean (file F32 [6], graph F32 [7])");
  assert_true(all_zero(h));
  loom_graph_free(h);

  /* a graph with one more param: missing from the file */
  h = make_model(6, true, NULL);
  assert_int_equal(loom_st_load_graph(h, path, 0, &err), -1);
  assert_has(err.msg, "1 missing from the file: extra [5]");
  assert_true(all_zero(h));
  assert_int_equal(loom_st_load_graph(h, path, LOOM_ST_ALLOW_MISSING, &err), 0);
  assert_same_values(g, h);
  assert_true(loom_graph_find(h, "extra")->data[0] == 0.0f);
  loom_graph_free(h);

  /* a file with one more tensor: not in the model */
  loom_graph *g2 = make_model(6, true, &rng);
  const char *path2 = tmp_path("model2.safetensors");
  assert_int_equal(loom_st_save_graph(g2, path2, 0, NULL, &err), 0);
  h = make_model(6, false, NULL);
  assert_int_equal(loom_st_load_graph(h, path2, LOOM_ST_ALLOW_MISSING, &err), -1);
  assert_has(err.msg, "1 not in the model: extra [5]");
  assert_has(err.msg, "or allow missing/unexpected tensors");
  assert_true(all_zero(h));
  assert_int_equal(loom_st_load_graph(h, path2, LOOM_ST_ALLOW_UNEXPECTED, &err), 0);
  assert_same_values(g2, h);
  loom_graph_free(h);
  loom_graph_free(g2);

  /* a file that is not a checkpoint of this graph at all */
  h = make_model(6, false, NULL);
  assert_int_equal(loom_st_load_graph(h, tu_src_path("tests/data/ckpt/torch_ref.safetensors"), 0, &err), -1);
  assert_has(err.msg, "4 missing from the file: dense1.w [8, 6], dense1.b [6], embed [4, 3, 2], bn.running_mean [6]");
  assert_has(err.msg, "9 not in the model: embed.weight [5, 3]");
  loom_graph_free(h);

  /* many mismatches: the list is cut, with a count of the rest, and stays within the message */
  loom_graph *big = loom_graph_new();
  char name[64];
  for (int i = 0; i < 200; i++) {
    snprintf(name, sizeof name, "layer%03d.weight_with_a_long_name", i);
    loom_param(big, name, 1, (int[]){1});
  }
  assert_int_equal(loom_st_load_graph(big, path, LOOM_ST_ALLOW_UNEXPECTED, &err), -1);
  assert_has(err.msg, "200 missing from the file: layer000.weight_with_a_long_name [1]");
  assert_has(err.msg, " more);");
  loom_graph_free(big);
  loom_graph_free(g);
}

/* The previous checkpoint is byte-identical, loadable, and no temporary file is left. */
static void assert_previous_intact(const char *path, const unsigned char *v1, size_t n0, float a99) {
  size_t n1;
  unsigned char *now = (unsigned char *)tu_slurp(path, &n1);
  assert_int_equal(n1, n0);
  assert_memory_equal(now, v1, n0);
  free(now);
  assert_false(exists(tmp_of(path)));
  loom_error err;
  loom_st_file *f = loom_st_open(path, &err);
  if (!f) fail_msg("%s", err.msg);
  float a[100];
  assert_int_equal(loom_st_read_f32(f, "a", a, 100, &err), 0);
  assert_true(a[99] == a99);
  loom_st_close(f);
}

/* ENOSPC at every write(2) call of a graph save (length, header, each tensor's data): the previous
 * checkpoint stays intact and loads into a graph with its old values. */
static void test_enospc_at_every_write_of_a_graph_save(void **state) {
  loom_rng rng;
  loom_rng_seed(&rng, 9);
  loom_error err;
  loom_graph *g = make_model(6, false, &rng);
  loom_graph *h = make_model(6, false, NULL);
  loom_graph *ref = make_model(6, false, NULL);
  const char *path = tmp_path("enospc.safetensors");
  assert_int_equal(loom_st_save_graph(g, path, 0, NULL, &err), 0);
  assert_int_equal(loom_st_load_graph(ref, path, 0, &err), 0);
  size_t n0;
  unsigned char *v1 = (unsigned char *)tu_slurp(path, &n0);
  loom_graph_param_tensor(g, 0)->data[0] += 1.0f;
  int nth, writes = 0;
  for (nth = 1; nth < 100; nth++) {
    loom_st_fault_set(LOOM_ST_FAULT_WRITE, ENOSPC, nth);
    err.msg[0] = '\0';
    int rc = loom_st_save_graph(g, path, 0, NULL, &err);
    loom_st_fault_set(LOOM_ST_FAULT_NONE, 0, 0);
    if (rc == 0) break; /* fewer writes than nth: the save went through */
    writes++;
    assert_has(err.msg, path);
    assert_has(err.msg, "No space left on device");
    assert_has(err.msg, "the previous checkpoint at that path is intact");
    size_t n1;
    unsigned char *now = (unsigned char *)tu_slurp(path, &n1);
    assert_int_equal(n1, n0);
    assert_memory_equal(now, v1, n0);
    free(now);
    assert_false(exists(tmp_of(path)));
    assert_int_equal(loom_st_load_graph(h, path, 0, &err), 0);
    assert_same_values(h, ref);
  }
  assert_int_equal(writes, 2 + 4); /* length, header, 3 params + 1 buffer */
  assert_int_equal(loom_st_load_graph(h, path, 0, &err), 0);
  assert_same_values(h, g);
  print_message("ENOSPC injected at each of %d write calls\n", writes);
  free(v1);
  loom_graph_free(g);
  loom_graph_free(h);
  loom_graph_free(ref);
}

/* A real kernel-side failure without privileges: RLIMIT_FSIZE makes write(2) fail with EFBIG part
 * way through the temporary file (SIGXFSZ ignored, as a long-running trainer would see it). */
static void test_real_file_size_limit_keeps_the_previous_checkpoint(void **state) {
  loom_error err;
  const char *path = tmp_path("fsize.safetensors");
  write_version(path, 1.0f, 100, &err, 0);
  size_t n0;
  unsigned char *v1 = (unsigned char *)tu_slurp(path, &n0);
  struct rlimit old, lim;
  assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
  lim = old;
  lim.rlim_cur = 64 * 1024;
  void (*old_sig)(int) = signal(SIGXFSZ, SIG_IGN);
  assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
  write_version(path, 2.0f, 100000, &err, -1); /* 800 KB */
  setrlimit(RLIMIT_FSIZE, &old);
  signal(SIGXFSZ, old_sig);
  assert_has(err.msg, "writing tensor data failed: File too large");
  assert_has(err.msg, "the previous checkpoint at that path is intact");
  assert_previous_intact(path, v1, n0, 100.0f);
  free(v1);
}

/* A real full disk: a 64 KiB tmpfs. Needs the right to mount (root with CAP_SYS_ADMIN); skipped with
 * a message elsewhere — the injected ENOSPC tests above always run. */
static void test_real_enospc_on_a_tiny_tmpfs(void **state) {
  const char *mnt = tmp_path("tiny");
  assert_int_equal(mkdir(mnt, 0700), 0);
  if (mount("loom-test", mnt, "tmpfs", 0, "size=64k") != 0) {
    print_message("skipped: cannot mount a tmpfs (%s) — needs root with CAP_SYS_ADMIN\n", strerror(errno));
    rmdir(mnt);
    skip();
  }
  char path[600];
  snprintf(path, sizeof path, "%s/model.safetensors", mnt);
  loom_error err;
  write_version(path, 1.0f, 100, &err, 0);
  size_t n0;
  unsigned char *v1 = (unsigned char *)tu_slurp(path, &n0);
  write_version(path, 2.0f, 100000, &err, -1); /* 800 KB into 64 KiB */
  int stale = exists(tmp_of(path));
  if (!strstr(err.msg, "No space left on device") || !strstr(err.msg, "intact") || stale) {
    umount2(mnt, MNT_DETACH);
    fail_msg("stale temp file: %d; message: %s", stale, err.msg);
  }
  assert_previous_intact(path, v1, n0, 100.0f);
  /* the space is free again: the next save succeeds */
  write_version(path, 3.0f, 100, &err, 0);
  free(v1);
  unlink(path);
  assert_int_equal(umount2(mnt, 0), 0);
  rmdir(mnt);
}

static void test_allocation_failures_end_cleanly(void **state) {
  loom_rng rng;
  loom_rng_seed(&rng, 5);
  loom_error err;
  loom_graph *g = make_model(6, false, &rng);
  loom_graph *h = make_model(6, false, NULL); /* graphs abort on OOM by design: build them first */
  const char *path = tmp_path("oom.safetensors");
  const char *meta[] = {"note", "é\n\"x\""};
  int n, rc = -1;
  for (n = 1; n < 1000 && rc != 0; n++) {
    err.msg[0] = '\0';
    loom_alloc_fail_after(n);
    rc = loom_st_save_graph(g, path, 1, meta, &err);
    loom_alloc_fail_after(0);
    if (rc != 0) {
      if (!strstr(err.msg, "out of memory") && !strstr(err.msg, "Cannot allocate memory")) fail_msg("%s", err.msg);
      assert_has(err.msg, "cannot save checkpoint");
      assert_has(err.msg, path);
      if (!strstr(err.msg, "no file was written") && !strstr(err.msg, "nothing was written")) fail_msg("%s", err.msg);
      assert_false(exists(path));
      assert_false(exists(tmp_of(path)));
    }
  }
  assert_int_equal(rc, 0);
  assert_true(n > 5); /* the loop really went through failures */
  int saves = n;
  /* the same over an existing checkpoint: it stays byte-identical until a save succeeds */
  size_t n0, n1;
  unsigned char *v1 = (unsigned char *)tu_slurp(path, &n0);
  loom_graph_param_tensor(g, 0)->data[0] += 1.0f;
  rc = -1;
  for (n = 1; n < 1000 && rc != 0; n++) {
    loom_alloc_fail_after(n);
    rc = loom_st_save_graph(g, path, 1, meta, &err);
    loom_alloc_fail_after(0);
    if (rc != 0) {
      if (!strstr(err.msg, "intact")) fail_msg("%s", err.msg);
      unsigned char *now = (unsigned char *)tu_slurp(path, &n1);
      assert_int_equal(n1, n0);
      assert_memory_equal(now, v1, n0);
      free(now);
      assert_false(exists(tmp_of(path)));
    }
  }
  assert_int_equal(rc, 0);
  unsigned char *v2 = (unsigned char *)tu_slurp(path, &n1);
  assert_int_equal(n1, n0);
  assert_true(memcmp(v1, v2, n0) != 0);
  free(v1);
  free(v2);
  rc = -1;
  for (n = 1; n < 5000 && rc != 0; n++) {
    err.msg[0] = '\0';
    loom_alloc_fail_after(n);
    rc = loom_st_load_graph(h, path, 0, &err);
    loom_alloc_fail_after(0);
    if (rc != 0) {
      assert_has(err.msg, "out of memory");
      assert_has(err.msg, path);
      assert_true(all_zero(h));
    }
  }
  assert_int_equal(rc, 0);
  assert_true(n > 10);
  assert_same_values(g, h);
  print_message("allocation failure loop: %d save runs, %d load runs\n", saves - 1, n - 1);
  loom_graph_free(g);
  loom_graph_free(h);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_malformed_file_is_rejected_with_its_message),
      cmocka_unit_test_setup_teardown(test_missing_file_and_too_many_tensors, setup_dir, remove_dir),
      cmocka_unit_test(test_reads_the_file_written_from_torch),
      cmocka_unit_test_setup_teardown(test_tensor_checksums, setup_dir, remove_dir),
      cmocka_unit_test_setup_teardown(test_writer_output_is_byte_identical_to_the_torch_file, setup_dir, remove_dir),
      cmocka_unit_test(test_unpadded_header_gives_unaligned_data_read_by_copy),
      cmocka_unit_test_setup_teardown(test_truncated_and_mutated_files_never_crash, setup_dir, remove_dir),
      cmocka_unit_test_setup_teardown(test_round_trip_is_bit_exact_with_exact_layout, setup_dir, remove_dir),
      cmocka_unit_test_setup_teardown(test_empty_file_and_large_tensor, setup_dir, remove_dir),
      cmocka_unit_test_setup_teardown(test_writer_rejects_bad_names_and_shapes, setup_dir, remove_dir),
      cmocka_unit_test_setup_teardown(test_failed_writes_keep_the_previous_checkpoint, setup_dir, remove_dir),
      cmocka_unit_test_setup_teardown(test_graph_save_and_load_by_name, setup_dir, remove_dir),
      cmocka_unit_test_setup_teardown(test_allocation_failures_end_cleanly, setup_dir, remove_dir),
      cmocka_unit_test_setup_teardown(test_enospc_at_every_write_of_a_graph_save, setup_dir, remove_dir),
      cmocka_unit_test_setup_teardown(test_real_file_size_limit_keeps_the_previous_checkpoint, setup_dir, remove_dir),
      cmocka_unit_test_setup_teardown(test_real_enospc_on_a_tiny_tmpfs, setup_dir, remove_dir),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
