/* test_image.c — decoding committed tiny PNG/BMP/JPEG files to exact pixels, resizing known
 * patterns (area and bilinear, worked by hand), normalisation, the option string round trip, and
 * each malformed image file with the key parts of its message. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loom/alloc.h"
#include "loom/image.h"
#include "testutil.h"

static unsigned char *slurp(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  static unsigned char buf[1 << 16];
  *n = fread(buf, 1, sizeof buf, f);
  fclose(f);
  return buf;
}

static void test_decode_exact(void **state) {
  (void)state;
  loom_error err = {{0}};
  size_t n;
  uint8_t *pix;
  int w, h;
  unsigned char *d = slurp(tu_src_path("tests/data/images/rgb4x2.png"), &n);
  assert_int_equal(loom_image_decode(d, n, 3, "rgb4x2.png", &pix, &w, &h, &err), 0);
  assert_int_equal(w, 4);
  assert_int_equal(h, 2);
  const uint8_t png[] = {255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30, 0, 0, 0, 255, 255, 255, 100, 150, 200, 1, 2, 3};
  assert_memory_equal(pix, png, sizeof png);
  loom_free(pix);
  d = slurp(tu_src_path("tests/data/images/rgb3x2.bmp"), &n);
  assert_int_equal(loom_image_decode(d, n, 3, "rgb3x2.bmp", &pix, &w, &h, &err), 0);
  assert_int_equal(w * 10 + h, 32);
  const uint8_t bmp[] = {200, 100, 50, 0, 0, 0, 7, 8, 9, 255, 255, 0, 12, 34, 56, 90, 80, 70};
  assert_memory_equal(pix, bmp, sizeof bmp);
  loom_free(pix);
  d = slurp(tu_src_path("tests/data/images/gray16x8.jpg"), &n);
  assert_int_equal(loom_image_decode(d, n, 1, "gray16x8.jpg", &pix, &w, &h, &err), 0);
  assert_int_equal(w, 16);
  assert_int_equal(h, 8);
  for (int y = 0; y < 8; y++)
    for (int x = 0; x < 16; x++) assert_int_equal(pix[y * 16 + x], x < 8 ? 50 : 200);
  loom_free(pix);
  /* grey from RGB PNG uses stb's luma (r*77 + g*150 + b*29) >> 8 */
  d = slurp(tu_src_path("tests/data/images/rgb4x2.png"), &n);
  assert_int_equal(loom_image_decode(d, n, 1, "rgb4x2.png", &pix, &w, &h, &err), 0);
  assert_int_equal(pix[0], (255 * 77) >> 8);
  assert_int_equal(pix[5], 255);
  loom_free(pix);
}

static void test_resize(void **state) {
  (void)state;
  /* area 4x4 → 2x2: means of 2x2 blocks */
  uint8_t a[16];
  for (int i = 0; i < 16; i++) a[i] = (uint8_t)(i * 10);
  float o[4];
  assert_int_equal(loom_image_resize(a, 4, 4, 1, o, 2, 2), 0);
  float ea[4] = {(0 + 10 + 40 + 50) / 4.f, (20 + 30 + 60 + 70) / 4.f, (80 + 90 + 120 + 130) / 4.f,
                 (100 + 110 + 140 + 150) / 4.f};
  tu_assert_close("area", o, ea, 4, 1e-4, 1e-6);
  /* area 3 → 2 (fractional coverage): [0, 30, 60] → [(0 + 15) / 1.5, (15 + 60) / 1.5] */
  uint8_t b[3] = {0, 30, 60};
  float ob[2];
  loom_image_resize(b, 3, 1, 1, ob, 2, 1);
  tu_assert_close("area 3->2", ob, (float[]){10, 50}, 2, 1e-4, 1e-6);
  /* bilinear 2 → 4, half-pixel centres: [0, 100] → [0, 25, 75, 100] */
  uint8_t c[2] = {0, 100};
  float oc[4];
  loom_image_resize(c, 2, 1, 1, oc, 4, 1);
  tu_assert_close("bilinear", oc, (float[]){0, 25, 75, 100}, 4, 1e-4, 1e-6);
  /* identity, interleaved RGB → planar */
  uint8_t d[2 * 3] = {1, 2, 3, 4, 5, 6};
  float od[6];
  loom_image_resize(d, 2, 1, 3, od, 2, 1);
  tu_assert_close("planar", od, (float[]){1, 4, 2, 5, 3, 6}, 6, 0, 0);
}

static void test_load_normalise(void **state) {
  (void)state;
  loom_image_opts o;
  loom_image_opts_default(&o);
  o.C = 3, o.H = 2, o.W = 4;
  o.mean[0] = 0.5f, o.std[0] = 0.25f;
  o.mean[2] = 0.1f, o.std[2] = 2.0f;
  float out[3 * 2 * 4];
  loom_error err = {{0}};
  assert_int_equal(loom_image_load(tu_src_path("tests/data/images/rgb4x2.png"), &o, out, &err), 0);
  assert_true(fabsf(out[0] - (1.0f - 0.5f) / 0.25f) < 1e-5f);         /* R of (0,0) = 255 */
  assert_true(fabsf(out[1] - (0.0f - 0.5f) / 0.25f) < 1e-5f);         /* R of (0,1) = 0 */
  assert_true(fabsf(out[8 + 3] - 20.0f / 255.0f) < 1e-6f);            /* G of (0,3) */
  assert_true(fabsf(out[16 + 6] - (200.0f / 255.0f - 0.1f) / 2.0f) < 1e-6f); /* B of (1,2) */
  char *s = loom_image_opts_to_string(&o);
  loom_image_opts p;
  assert_int_equal(loom_image_opts_from_string(&p, s, &err), 0);
  assert_memory_equal(&p.mean, &o.mean, sizeof o.mean);
  assert_memory_equal(&p.std, &o.std, sizeof o.std);
  assert_int_equal(p.C * 100 + p.H * 10 + p.W, 324);
  loom_free(s);
  assert_int_equal(loom_image_opts_from_string(&p, "{\"C\":2}", &err), -1);
}

static void expect_bad(const char *rel, const char *part) {
  loom_image_opts o;
  loom_image_opts_default(&o);
  float out[28 * 28];
  loom_error err = {{0}};
  const char *path = tu_src_path(rel);
  if (loom_image_load(path, &o, out, &err) != -1) fail_msg("%s: expected an error", rel);
  if (!strstr(err.msg, path) || !strstr(err.msg, part)) fail_msg("%s: message lacks '%s': %s", rel, part, err.msg);
}

static void test_malformed(void **state) {
  (void)state;
  expect_bad("tests/data/images/truncated.png", "corrupt or truncated PNG");
  expect_bad("tests/data/images/truncated.jpg", "corrupt or truncated JPEG");
  expect_bad("tests/data/images/zero.png", "file is empty (0 bytes)");
  expect_bad("tests/data/images/huge.png", "image is 100000 x 100000, over the cap of 16384");
  expect_bad("tests/data/images/not_image.png", "not a PNG, BMP or JPEG file");
  expect_bad("tests/data/images/missing.png", "cannot open image");
  loom_image_opts o;
  loom_image_opts_default(&o);
  o.max_file_bytes = 50;
  float out[28 * 28];
  loom_error err = {{0}};
  assert_int_equal(loom_image_load(tu_src_path("tests/data/images/rgb4x2.png"), &o, out, &err), -1);
  assert_non_null(strstr(err.msg, "over the cap of 50 bytes"));
  o.max_file_bytes = 0;
  o.max_dim = 3;
  assert_int_equal(loom_image_load(tu_src_path("tests/data/images/rgb4x2.png"), &o, out, &err), -1);
  assert_non_null(strstr(err.msg, "4 x 2, over the cap of 3"));
}

/* Regression (fuzz_image): an empty IDAT chunk first made stb_image offset a NULL pointer (UBSan).
 * The fuzzer's file decodes or fails cleanly; an empty IDAT inserted into a valid PNG changes nothing. */
static void test_empty_idat(void **state) {
  (void)state;
  size_t n;
  unsigned char *u = slurp(tu_src_path("tests/data/images/empty_idat.png"), &n);
  uint8_t *pix = NULL;
  int w = 0, h = 0;
  loom_error err = {{0}};
  if (loom_image_decode(u, n, 3, "empty_idat.png", &pix, &w, &h, &err) == 0) {
    assert_int_equal(w, 13);
    assert_int_equal(h, 9);
    loom_free(pix);
  } else {
    assert_non_null(strstr(err.msg, "empty_idat.png: corrupt or truncated PNG"));
    assert_null(pix);
  }
  /* the same with the empty IDAT's CRC cut off (the file ends 2 bytes into it); a BMP failing just
   * before must not lend its reason ("bad offset": stb_image keeps its last reason) to this message */
  u = slurp(tu_src_path("tests/data/images/truncated.bmp"), &n);
  assert_int_equal(loom_image_decode(u, n, 1, "truncated.bmp", &pix, &w, &h, &err), -1);
  assert_non_null(strstr(err.msg, "(bad offset)"));
  u = slurp(tu_src_path("tests/data/images/empty_idat_truncated.png"), &n);
  assert_int_equal(loom_image_decode(u, n, 1, "empty_idat_truncated.png", &pix, &w, &h, &err), -1);
  if (!strstr(err.msg, "empty_idat_truncated.png: corrupt or truncated PNG (no detail from the decoder)")) fail_msg("%s", err.msg);
  assert_null(pix);
  unsigned char *png = slurp(tu_src_path("tests/data/images/rgb4x2.png"), &n);
  unsigned char ref[4 * 2 * 3], with[1024];
  assert_int_equal(loom_image_decode(png, n, 3, "rgb4x2.png", &pix, &w, &h, &err), 0);
  memcpy(ref, pix, sizeof ref);
  loom_free(pix);
  size_t o = 8; /* the first IDAT chunk */
  while (memcmp(png + o + 4, "IDAT", 4) != 0) o += 12 + ((size_t)png[o] << 24 | png[o + 1] << 16 | png[o + 2] << 8 | png[o + 3]);
  static const unsigned char empty[12] = {0, 0, 0, 0, 'I', 'D', 'A', 'T', 0x35, 0xAF, 0x06, 0x1E};
  memcpy(with, png, o);
  memcpy(with + o, empty, 12);
  memcpy(with + o + 12, png + o, n - o);
  assert_int_equal(loom_image_decode(with, n + 12, 3, "with_empty_idat.png", &pix, &w, &h, &err), 0);
  assert_int_equal(w, 4);
  assert_int_equal(h, 2);
  assert_memory_equal(pix, ref, sizeof ref);
  loom_free(pix);
}

/* max_dim is checked against the header before decoding: a small file claiming 1000 x 1000 pixels
 * is refused without any allocation after the file buffer's (a decode would allocate 3 MB first). */
static void test_dim_cap_before_decode(void **state) {
  (void)state;
  size_t n;
  unsigned char *png = slurp(tu_src_path("tests/data/images/rgb4x2.png"), &n);
  png[16] = 0, png[17] = 0, png[18] = 0x03, png[19] = 0xE8; /* width 1000 (stb skips the CRC) */
  png[20] = 0, png[21] = 0, png[22] = 0x03, png[23] = 0xE8; /* height 1000 */
  char path[512];
  snprintf(path, sizeof path, "%s", tu_tmp("loom_test_dimcap.png"));
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(png, 1, n, f), n);
  fclose(f);
  loom_image_opts o;
  loom_image_opts_default(&o);
  o.max_dim = 64;
  float out[28 * 28];
  loom_error err = {{0}};
  loom_alloc_fail_after(2); /* the file buffer may be allocated, nothing else */
  int rc = loom_image_load(path, &o, out, &err);
  loom_alloc_fail_after(0);
  remove(path);
  assert_int_equal(rc, -1);
  if (!strstr(err.msg, "image is 1000 x 1000, over the cap of 64 pixels per side")) fail_msg("%s", err.msg);
}

/* A 90-byte PNG claiming 16000 x 16000 (under the per-side cap) is refused by its pixel count before
 * anything is allocated (decoded it would take 768 MB). */
static void test_pixel_cap(void **state) {
  (void)state;
  size_t n;
  unsigned char *png = slurp(tu_src_path("tests/data/images/rgb4x2.png"), &n);
  png[18] = 0x3E, png[19] = 0x80, png[22] = 0x3E, png[23] = 0x80; /* 16000 x 16000 */
  uint8_t *pix = NULL;
  int w, h;
  loom_error err = {{0}};
  loom_alloc_fail_after(1);
  int rc = loom_image_decode(png, n, 3, "bomb.png", &pix, &w, &h, &err);
  loom_alloc_fail_after(0);
  assert_int_equal(rc, -1);
  if (!strstr(err.msg, "bomb.png: image is 16000 x 16000 = 256000000 pixels, over the cap of 67108864 pixels"))
    fail_msg("%s", err.msg);
}

/* Random byte mutations and truncations of each valid image: decoded or rejected, never a crash. */
static void test_mutations(void **state) {
  (void)state;
  const char *files[] = {"tests/data/images/rgb4x2.png", "tests/data/images/rgb3x2.bmp", "tests/data/images/gray16x8.jpg"};
  loom_rng r;
  loom_rng_seed(&r, 3);
  for (int fi = 0; fi < 3; fi++) {
    size_t n;
    unsigned char *d = slurp(tu_src_path(files[fi]), &n);
    unsigned char orig[4096], buf[4096];
    memcpy(orig, d, n);
    int ok = 0, bad = 0;
    for (int it = 0; it < 400; it++) {
      memcpy(buf, orig, n);
      size_t m = it % 4 == 0 ? loom_rng_below(&r, (uint32_t)n) : n;
      int k = 1 + (int)loom_rng_below(&r, 4);
      for (int j = 0; m && j < k; j++) buf[loom_rng_below(&r, (uint32_t)m)] = (unsigned char)loom_rng_u64(&r);
      uint8_t *pix = NULL;
      int w, h;
      loom_error err = {{0}};
      if (loom_image_decode(buf, m, 3, "mutant", &pix, &w, &h, &err) == 0) {
        ok++;
        assert_true(w > 0 && h > 0 && w <= 16384 && h <= 16384);
        loom_free(pix);
      } else {
        bad++;
        assert_non_null(strstr(err.msg, "mutant: "));
      }
    }
    assert_true(bad > 0);
    (void)ok;
  }
}

/* ---- issue 13: hostile files */

/* A valid Adobe CMYK JPEG (gen_images.c) was called corrupt: it decodes, red and grey blocks. */
static void test_cmyk_jpeg(void **state) {
  (void)state;
  loom_error err = {{0}};
  size_t n;
  uint8_t *pix;
  int w, h;
  unsigned char *d = slurp(tu_src_path("tests/data/images/cmyk16x8.jpg"), &n);
  assert_int_equal(loom_image_decode(d, n, 3, "cmyk16x8.jpg", &pix, &w, &h, &err), 0);
  assert_int_equal(w * 100 + h, 1608);
  for (int y = 0; y < 8; y++)
    for (int x = 0; x < 16; x++) {
      const uint8_t *p = pix + 3 * (y * 16 + x);
      int want[3] = {x < 8 ? 255 : 100, x < 8 ? 0 : 100, x < 8 ? 0 : 100};
      for (int c = 0; c < 3; c++)
        if (abs(p[c] - want[c]) > 3) fail_msg("pixel (%d, %d) channel %d is %d, want %d", x, y, c, p[c], want[c]);
    }
  loom_free(pix);
  assert_int_equal(loom_image_decode(d, n, 1, "cmyk16x8.jpg", &pix, &w, &h, &err), 0);
  assert_true(abs(pix[0] - 76) <= 3 && abs(pix[15] - 100) <= 3); /* luma of red = 0.299 * 255 */
  loom_free(pix);
}

/* A FIFO, a directory and /dev/zero are refused by type, at once (the FIFO blocked forever and
 * /dev/zero was read up to the cap); alarm() turns a regression into a failure instead of a hang. */
static void test_not_regular_files(void **state) {
  (void)state;
  char dir[] = "/tmp/loom_test_image_XXXXXX", fifo[64];
  assert_non_null(mkdtemp(dir));
  snprintf(fifo, sizeof fifo, "%s/fifo.png", dir);
  assert_int_equal(mkfifo(fifo, 0600), 0);
  loom_image_opts o;
  loom_image_opts_default(&o);
  float out[28 * 28];
  loom_error err = {{0}};
  alarm(20);
  assert_int_equal(loom_image_load(fifo, &o, out, &err), -1);
  assert_non_null(strstr(err.msg, "fifo.png: the image file is a FIFO (named pipe), not a regular file"));
  assert_int_equal(loom_image_load(dir, &o, out, &err), -1);
  assert_non_null(strstr(err.msg, "the image file is a directory, not a regular file"));
  assert_int_equal(loom_image_load("/dev/zero", &o, out, &err), -1);
  assert_string_equal(err.msg, "/dev/zero: the image file is a character device, not a regular file — give the path of a regular file");
  alarm(0);
  /* over the cap: the size and the key that raises it, decided from fstat before a byte is read */
  o.max_file_bytes = 50;
  assert_int_equal(loom_image_load(tu_src_path("tests/data/images/rgb4x2.png"), &o, out, &err), -1);
  assert_non_null(strstr(err.msg, "the image file is 85 bytes, over the cap of 50 bytes"));
  assert_non_null(strstr(err.msg, "raise [data] max_image_bytes"));
  /* a 2 GiB sparse file: refused from its size, before a byte is read */
  char sparse[64];
  snprintf(sparse, sizeof sparse, "%s/sparse.png", dir);
  FILE *f = fopen(sparse, "wb");
  assert_non_null(f);
  assert_int_equal(ftruncate(fileno(f), (off_t)2 << 30), 0);
  fclose(f);
  o.max_file_bytes = 0;
  assert_int_equal(loom_image_load(sparse, &o, out, &err), -1);
  assert_non_null(strstr(err.msg, "sparse.png: the image file is 2147483648 bytes, over the cap of 67108864 bytes — check that this is the right file, or raise [data] max_image_bytes"));
  remove(sparse);
  remove(fifo);
  rmdir(dir);
}

/* The "not an image" message quoted the file's first bytes: /etc/shadow through an image path would
 * leak. No byte of the file appears in the message. */
static void test_no_file_contents_in_messages(void **state) {
  (void)state;
  char path[] = "/tmp/loom_test_secret_XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  const char secret[] = "root:$6$SECRETHASH:19000:0:99999:7:::\n";
  assert_int_equal(write(fd, secret, sizeof secret - 1), (ssize_t)(sizeof secret - 1));
  close(fd);
  loom_image_opts o;
  loom_image_opts_default(&o);
  float out[28 * 28];
  loom_error err = {{0}};
  assert_int_equal(loom_image_load(path, &o, out, &err), -1);
  assert_non_null(strstr(err.msg, "not a PNG, BMP or JPEG file"));
  assert_null(strstr(err.msg, "72 6f 6f 74")); /* "root" in hex, as it was printed */
  assert_null(strstr(err.msg, "root:"));
  remove(path);
}

/* A stop request (SIGINT / SIGTERM) ends a long read with "interrupted"; a small file is read whole. */
static void test_stop_request(void **state) {
  (void)state;
  char path[] = "/tmp/loom_test_bigimg_XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  static unsigned char block[1 << 16];
  memcpy(block, "\x89PNG\r\n\x1a\n", 8);
  for (int i = 0; i < 48; i++) assert_int_equal(write(fd, block, sizeof block), (ssize_t)sizeof block); /* 3 MiB */
  close(fd);
  loom_image_opts o;
  loom_image_opts_default(&o);
  float out[28 * 28];
  loom_error err = {{0}};
  loom_stop_request();
  assert_int_equal(loom_image_load(path, &o, out, &err), -1);
  assert_non_null(strstr(err.msg, "interrupted (SIGINT or SIGTERM) while reading it"));
  assert_int_equal(loom_image_load(tu_src_path("tests/data/images/rgb4x2.png"), &o, out, &err), 0);
  loom_stop_clear();
  assert_int_equal(loom_image_load(path, &o, out, &err), -1);
  assert_null(strstr(err.msg, "interrupted"));
  remove(path);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_decode_exact),
      cmocka_unit_test(test_resize),
      cmocka_unit_test(test_load_normalise),
      cmocka_unit_test(test_malformed), cmocka_unit_test(test_empty_idat), cmocka_unit_test(test_dim_cap_before_decode), cmocka_unit_test(test_pixel_cap),
      cmocka_unit_test(test_mutations),
      cmocka_unit_test(test_cmyk_jpeg), cmocka_unit_test(test_not_regular_files),
      cmocka_unit_test(test_no_file_contents_in_messages), cmocka_unit_test(test_stop_request),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
