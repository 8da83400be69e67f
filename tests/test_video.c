/* test_video.c — loom_video_load / loom_video_write: the sampled frame indices worked by hand on
 * solid-colour videos, key-frame sampling, grey and normalisation, and hostile files (truncated, a
 * 20,000 x 20,000 header, a decoder-side pixel bomb, an unknown codec, random bytes, a JPEG renamed,
 * empty, ten hours long, a decode-time budget, frame and size caps, a FIFO, a missing file). */
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "loom/video.h"
#include "testutil.h"

/* frame i is the solid colour (20 i, 255 - 20 i, 128) */
static uint8_t *solid_frames(int n, int w, int h) {
  uint8_t *rgb = malloc((size_t)n * w * h * 3);
  for (int i = 0; i < n; i++)
    for (int p = 0; p < w * h; p++) {
      uint8_t *px = rgb + ((size_t)i * w * h + p) * 3;
      px[0] = (uint8_t)(20 * i);
      px[1] = (uint8_t)(255 - 20 * i);
      px[2] = 128;
    }
  return rgb;
}

static void write_solid(const char *path, int n, double fps, int gop) {
  uint8_t *rgb = solid_frames(n, 32, 32);
  loom_error err = {{0}};
  int rc = loom_video_write(path, rgb, n, 32, 32, fps, gop, &err);
  if (rc) fprintf(stderr, "%s\n", err.msg);
  assert_int_equal(rc, 0);
  free(rgb);
}

static void rgb_opts(loom_video_opts *o, int K) {
  loom_video_opts_default(o);
  o->frames = K;
  o->image.C = 3;
  o->image.H = o->image.W = 8;
}

/* every pixel of out frame k is frame idx's colour (within the codec's error) */
static void assert_frame_is(const float *out, int k, int idx) {
  const float want[3] = {20.0f * idx / 255.0f, (255.0f - 20.0f * idx) / 255.0f, 128.0f / 255.0f};
  for (int c = 0; c < 3; c++)
    for (int p = 0; p < 64; p++) {
      float v = out[((size_t)k * 3 + c) * 64 + p];
      if (fabsf(v - want[c]) > 6.0f / 255.0f) {
        fail_msg("frame %d channel %d pixel %d: %g, want frame %d's %g", k, c, p, (double)v, idx, (double)want[c]);
      }
    }
}

static void test_uniform(void **state) {
  (void)state;
  char path[4096];
  snprintf(path, sizeof path, "%s", tu_tmp("ten.mp4"));
  write_solid(path, 10, 8, 12);
  loom_video_opts o;
  rgb_opts(&o, 4);
  float out[4 * 3 * 64];
  loom_video_info info;
  loom_error err = {{0}};
  int rc = loom_video_load(path, &o, out, &info, &err);
  if (rc) fail_msg("%s", err.msg);
  assert_int_equal(info.frames, 10);
  assert_int_equal(info.width, 32);
  assert_int_equal(info.height, 32);
  assert_string_equal(info.codec, "mpeg4");
  assert_true(fabs(info.duration_s - 10.0 / 8) < 1e-6);
  /* floor((k + 0.5) * 10 / 4) = 1, 3, 6, 8 */
  const int want[4] = {1, 3, 6, 8};
  for (int k = 0; k < 4; k++) assert_frame_is(out, k, want[k]);
  /* the writer is bit-exact: the same frames give the same bytes */
  char again[4096];
  snprintf(again, sizeof again, "%s", tu_tmp("ten-again.mp4"));
  write_solid(again, 10, 8, 12);
  size_t na, nb;
  char *a = tu_slurp(path, &na), *b = tu_slurp(again, &nb);
  assert_int_equal(na, nb);
  assert_memory_equal(a, b, na);
  free(a);
  free(b);
}

static void test_repeats(void **state) {
  (void)state;
  char path[4096];
  snprintf(path, sizeof path, "%s", tu_tmp("three.mp4"));
  write_solid(path, 3, 4, 0);
  loom_video_opts o;
  rgb_opts(&o, 6);
  float out[6 * 3 * 64];
  loom_error err = {{0}};
  int rc = loom_video_load(path, &o, out, NULL, &err);
  if (rc) fail_msg("%s", err.msg);
  /* floor((k + 0.5) * 3 / 6) = 0, 0, 1, 1, 2, 2 */
  const int want[6] = {0, 0, 1, 1, 2, 2};
  for (int k = 0; k < 6; k++) assert_frame_is(out, k, want[k]);
}

static void test_key_frames_grey(void **state) {
  (void)state;
  char path[4096];
  snprintf(path, sizeof path, "%s", tu_tmp("gop.mp4"));
  write_solid(path, 12, 8, 4); /* key frames 0, 4, 8 */
  loom_video_opts o;
  loom_video_opts_default(&o);
  o.frames = 3;
  o.sampling = LOOM_FRAMES_KEY;
  o.image.C = 1;
  o.image.H = o.image.W = 4;
  o.image.mean[0] = 0.5f;
  o.image.std[0] = 0.25f;
  float out[3 * 16];
  loom_video_info info;
  loom_error err = {{0}};
  int rc = loom_video_load(path, &o, out, &info, &err);
  if (rc) fail_msg("%s", err.msg);
  assert_int_equal(info.frames, 12);
  assert_int_equal(info.key_frames, 3);
  const int want[3] = {0, 4, 8};
  for (int k = 0; k < 3; k++) {
    int i = want[k];
    /* BT.601 luma of the frame's colour, full range as swscale's GRAY8 gives it */
    double y = (0.299 * 20 * i + 0.587 * (255 - 20 * i) + 0.114 * 128) / 255.0;
    double want_v = (y - 0.5) / 0.25;
    for (int p = 0; p < 16; p++)
      if (fabs(out[k * 16 + p] - want_v) > 0.15) fail_msg("key frame %d pixel %d: %g, want %g", k, p, (double)out[k * 16 + p], want_v);
  }
  /* uniform sampling of the same file reads frames 1, 6, 10 (floor((k + 0.5) * 12 / 3) = 2, 6, 10) */
  o.sampling = LOOM_FRAMES_UNIFORM;
  rc = loom_video_load(path, &o, out, &info, &err);
  if (rc) fail_msg("%s", err.msg);
  double y2 = (0.299 * 40 + 0.587 * 215 + 0.114 * 128) / 255.0;
  assert_true(fabs(out[0] - (y2 - 0.5) / 0.25) < 0.15);
}

/* A MOV holding one PNG frame whose header claims w x h. */
static void write_png_mov(const char *path, const char *png_path, int w, int h) {
  size_t n;
  char *png = tu_slurp(png_path, &n);
  AVFormatContext *fmt = NULL;
  assert_true(avformat_alloc_output_context2(&fmt, NULL, "mov", path) >= 0);
  AVStream *st = avformat_new_stream(fmt, NULL);
  st->codecpar->codec_type = AVMEDIA_TYPE_VIDEO;
  st->codecpar->codec_id = AV_CODEC_ID_PNG;
  st->codecpar->width = w;
  st->codecpar->height = h;
  st->time_base = (AVRational){1, 25};
  assert_true(avio_open(&fmt->pb, path, AVIO_FLAG_WRITE) >= 0);
  assert_true(avformat_write_header(fmt, NULL) >= 0);
  AVPacket *pkt = av_packet_alloc();
  assert_true(av_new_packet(pkt, (int)n) >= 0);
  memcpy(pkt->data, png, n);
  pkt->pts = pkt->dts = 0;
  pkt->duration = 1;
  pkt->flags |= AV_PKT_FLAG_KEY;
  pkt->stream_index = 0;
  assert_true(av_write_frame(fmt, pkt) >= 0);
  assert_true(av_write_trailer(fmt) >= 0);
  av_packet_free(&pkt);
  avio_closep(&fmt->pb);
  avformat_free_context(fmt);
  free(png);
}

static void write_bytes(const char *path, const void *p, size_t n) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  if (n) assert_int_equal(fwrite(p, 1, n, f), n);
  fclose(f);
}

static void expect_error(const char *path, const loom_video_opts *o, const char *needle) {
  float *out = malloc(sizeof(float) * o->frames * o->image.C * o->image.H * o->image.W);
  loom_error err = {{0}};
  int rc = loom_video_load(path, o, out, NULL, &err);
  free(out);
  if (rc == 0) fail_msg("%s: loaded, want an error with '%s'", path, needle);
  if (!strstr(err.msg, path)) fail_msg("message does not name the file: %s", err.msg);
  if (getenv("LOOM_TEST_VERBOSE")) printf("  %s\n", err.msg);
  if (!strstr(err.msg, needle)) fail_msg("message lacks '%s': %s", needle, err.msg);
}

/* Patches the MP4's codec: sample entry 'mp4v' → 'zzzz' and the esds object type 0x20 → 0xC0. */
static void patch_unknown_codec(char *b, size_t n) {
  int tags = 0, esds = 0;
  for (size_t i = 0; i + 4 <= n; i++) {
    if (!memcmp(b + i, "mp4v", 4)) {
      memcpy(b + i, "zzzz", 4);
      tags++;
    }
    if (!memcmp(b + i, "esds", 4) && i + 40 < n) {
      size_t p = i + 8; /* box type, version and flags */
      assert_int_equal((unsigned char)b[p++], 0x03);
      while ((unsigned char)b[p++] & 0x80) {}
      p += 3; /* ES_ID, flags */
      assert_int_equal((unsigned char)b[p++], 0x04);
      while ((unsigned char)b[p++] & 0x80) {}
      assert_int_equal((unsigned char)b[p], 0x20);
      b[p] = (char)0xC0;
      esds++;
    }
  }
  assert_int_equal(tags, 1);
  assert_int_equal(esds, 1);
}

static void test_hostile(void **state) {
  (void)state;
  loom_video_opts o;
  rgb_opts(&o, 2);
  char good[4096], p[4096];
  snprintf(good, sizeof good, "%s", tu_tmp("good.mp4"));
  write_solid(good, 10, 8, 5);
  size_t n;
  char *bytes = tu_slurp(good, &n);

  snprintf(p, sizeof p, "%s", tu_tmp("cut.mp4"));
  write_bytes(p, bytes, n / 2);
  expect_error(p, &o, "truncated (its index is missing)");

  snprintf(p, sizeof p, "%s", tu_tmp("a.mov"));
  write_png_mov(p, tu_src_path("tests/data/images/pixel_bomb.png"), 20000, 20000);
  expect_error(p, &o, "20000 x 20000");
  /* a header that says 32 x 32 over a 16000 x 16000 PNG: the decoder's pixel cap refuses it */
  snprintf(p, sizeof p, "%s", tu_tmp("b.mov"));
  write_png_mov(p, tu_src_path("tests/data/images/pixel_bomb.png"), 32, 32);
  o.image.max_dim = 4096;
  expect_error(p, &o, "16000x16000");
  o.image.max_dim = 0;

  char *patched = malloc(n);
  memcpy(patched, bytes, n);
  patch_unknown_codec(patched, n);
  snprintf(p, sizeof p, "%s", tu_tmp("c.mp4"));
  write_bytes(p, patched, n);
  expect_error(p, &o, "zzzz");
  free(patched);

  loom_rng r;
  loom_rng_seed(&r, 7);
  char noise[4096];
  for (size_t i = 0; i < sizeof noise; i++) noise[i] = (char)(loom_rng_u64(&r) & 0xff);
  snprintf(p, sizeof p, "%s", tu_tmp("d.mp4"));
  write_bytes(p, noise, sizeof noise);
  expect_error(p, &o, "not a video file");

  size_t jn;
  char *jpg = tu_slurp(tu_src_path("tests/data/images/gray16x8.jpg"), &jn);
  snprintf(p, sizeof p, "%s", tu_tmp("e.mp4"));
  write_bytes(p, jpg, jn);
  expect_error(p, &o, "is a jpeg_pipe file, not a video container");
  free(jpg);

  snprintf(p, sizeof p, "%s", tu_tmp("f.mp4"));
  write_bytes(p, "", 0);
  expect_error(p, &o, "is empty");

  /* twelve frames, fifty minutes apart: ten hours (MPEG-4 allows at most an hour between frames) */
  snprintf(p, sizeof p, "%s", tu_tmp("g.mp4"));
  write_solid(p, 12, 1.0 / 3000, 0);
  expect_error(p, &o, "max_video_seconds");

  o.max_decode_s = 1e-9;
  expect_error(good, &o, "max_video_decode_s");
  o.max_decode_s = 0;
  o.max_frames = 5;
  expect_error(good, &o, "max_video_frames");
  o.max_frames = 0;
  o.max_file_bytes = 100;
  expect_error(good, &o, "max_video_mb");
  o.max_file_bytes = 0;

  snprintf(p, sizeof p, "%s", tu_tmp("h.mp4"));
  assert_int_equal(mkfifo(p, 0600), 0);
  expect_error(p, &o, "FIFO");
  snprintf(p, sizeof p, "%s", tu_tmp("i.mp4"));
  expect_error(p, &o, "cannot open");

  /* after all of that, the good file still decodes */
  float out[2 * 3 * 64];
  loom_error err = {{0}};
  assert_int_equal(loom_video_load(good, &o, out, NULL, &err), 0);
  free(bytes);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_uniform),
      cmocka_unit_test(test_repeats),
      cmocka_unit_test(test_key_frames_grey),
      cmocka_unit_test(test_hostile),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
