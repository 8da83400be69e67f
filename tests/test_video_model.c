/* test_video_model.c — videos through the data pipeline and the model: a click that only the order of
 * a product video's frames predicts. Each item's 4-frame video shows a bright bar moving right or left;
 * a left video is the right video's frames in reverse order, every frame a key frame (so each decoded
 * frame is the same picture whichever way it plays). The photo-less model that pools frames with an
 * LSTM learns the direction; mean pooling sees the same set of frames for both and cannot. Also: a row's
 * photo and frames stacked in the batch, attention pooling training, and frame keys without videos. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loom/data.h"
#include "loom/infer.h"
#include "loom/trainer.h"
#include "loom/video.h"
#include "testutil.h"

#define N_ITEMS 120
#define W 16

static int direction(int i) { return (int)(((uint32_t)(i + 1) * 2654435761u) >> 31); }

static char dir_path[1024];

/* items.csv (item_id, video, photo) and interactions.csv (user_id, item_id, clicked, split) */
static void write_videos(FILE *items, int from, int to) {
  uint8_t *rgb = malloc(4 * W * W * 3);
  for (int i = from; i < to; i++) {
    int right = direction(i), base = 40 + (i * 37) % 80; /* an item's own background */
    for (int t = 0; t < 4; t++) {
      int x0 = 2 + 3 * (right ? t : 3 - t);
      for (int y = 0; y < W; y++)
        for (int x = 0; x < W; x++)
          for (int c = 0; c < 3; c++) rgb[(((size_t)t * W + y) * W + x) * 3 + c] = (uint8_t)(x >= x0 && x < x0 + 3 ? 250 : base);
    }
    char v[1200];
    snprintf(v, sizeof v, "%s/videos/v%03d.mp4", dir_path, i);
    loom_error err = {{0}};
    if (loom_video_write(v, rgb, 4, W, W, 4, 1, &err) < 0) fail_msg("%s", err.msg);
    fprintf(items, "i%03d,videos/v%03d.mp4,%s\n", i, i, tu_src_path("tests/data/images/rgb4x2.png"));
  }
  free(rgb);
}

static void write_data(void) {
  snprintf(dir_path, sizeof dir_path, "%s", tu_tmp("shop"));
  char p[1400];
  snprintf(p, sizeof p, "mkdir -p '%s/videos'", dir_path);
  assert_int_equal(system(p), 0);
  snprintf(p, sizeof p, "%s/items.csv", dir_path);
  FILE *items = fopen(p, "w");
  assert_non_null(items);
  fprintf(items, "item_id,video,photo\n");
  write_videos(items, 0, N_ITEMS);
  fclose(items);
  snprintf(p, sizeof p, "%s/interactions.csv", dir_path);
  FILE *f = fopen(p, "w");
  assert_non_null(f);
  fprintf(f, "user_id,item_id,clicked,split\n");
  loom_rng r;
  loom_rng_seed(&r, 3);
  /* validation items are new items (i >= 96): memorising a training item's look does not help */
  for (int k = 0; k < 1600; k++) {
    int i = (int)loom_rng_below(&r, N_ITEMS);
    fprintf(f, "u%02d,i%03d,%d,%s\n", (int)loom_rng_below(&r, 30), i, direction(i), i >= 96 ? "val" : "train");
  }
  fclose(f);
}

static const char *write_config(const char *name, const char *data_extra, const char *image_extra) {
  static char path[1200];
  snprintf(path, sizeof path, "%s/%s.ini", dir_path, name);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fprintf(f,
          "[data]\ninteractions = %s/interactions.csv\nitems = %s/items.csv\nimage_root = %s\nuser_col = user_id\n"
          "item_col = item_id\nlabel_col = clicked\nsplit = column\nsplit_col = split\nvideo_col = video\nframes = 4\n"
          "image_size = 16x16\nchannels = 1\nbatch_size = 32\n%s\n"
          "[text]\nenabled = false\n[interaction]\nenabled = false\n"
          "[image]\nfilters = 8\nkernel = 3\npool = 2\ndense = 16\n%s\n"
          "[fusion]\ndense = 16\n[task]\nkind = binary\n[train]\nout = %s/run-%s\nepochs = 6\nlr = 0.01\nseed = 1\n",
          dir_path, dir_path, dir_path, data_extra, image_extra, dir_path, name);
  fclose(f);
  return path;
}

static double train_auc(const char *config, loom_train_result *r) {
  loom_train_opts o = {.config_path = config};
  loom_error err = {{0}};
  if (loom_train(&o, r, &err) < 0) fail_msg("%s: %s", config, err.msg);
  assert_true(isfinite(r->last_loss));
  return r->best;
}

static int setup(void **state) {
  (void)state;
  write_data();
  return 0;
}

static int score_row(void *ctx, const loom_infer_row *row) {
  struct { int n, right, unknown; } *t = ctx;
  int item = atoi(row->item + 1);
  t->n++;
  t->right += (row->score > 0.5f) == direction(item);
  t->unknown += row->unknown_item;
  return 0;
}

static void test_order_needs_lstm(void **state) {
  (void)state;
  loom_train_result r;
  double lstm = train_auc(write_config("lstm", "", "frame_pooling = lstm\nframe_hidden = 16"), &r);
  assert_string_equal(r.monitor, "auc");
  double mean = train_auc(write_config("mean", "", ""), &r);
  printf("val AUC: frames pooled by an LSTM %.3f, by their mean %.3f\n", lstm, mean);
  /* cold start: new items (never in training) scored by loom_infer from their videos alone */
  char p[3000], items[1200], rows[1200], ckpt[1200];
  snprintf(items, sizeof items, "%s/items-new.csv", dir_path);
  snprintf(p, sizeof p, "cp '%s/items.csv' '%s'", dir_path, items);
  assert_int_equal(system(p), 0);
  FILE *f = fopen(items, "a");
  assert_non_null(f);
  write_videos(f, N_ITEMS, N_ITEMS + 40);
  fclose(f);
  snprintf(rows, sizeof rows, "%s/new-rows.csv", dir_path);
  f = fopen(rows, "w");
  assert_non_null(f);
  fprintf(f, "user_id,item_id,clicked,split\n");
  for (int i = N_ITEMS; i < N_ITEMS + 40; i++) fprintf(f, "u01,i%03d,%d,test\n", i, direction(i));
  fclose(f);
  snprintf(ckpt, sizeof ckpt, "%s/run-lstm/best.safetensors", dir_path);
  loom_infer_opts io = {.items = items};
  loom_error err = {{0}};
  loom_infer *inf = loom_infer_open(ckpt, &io, &err);
  if (!inf) fail_msg("%s", err.msg);
  struct { int n, right, unknown; } tally = {0, 0, 0};
  if (loom_infer_score_csv(inf, rows, score_row, &tally, &err) < 0) fail_msg("%s", err.msg);
  loom_infer_close(inf);
  printf("cold start: %d of %d new items' clicks predicted from their videos\n", tally.right, tally.n);
  assert_int_equal(tally.n, 40);
  assert_int_equal(tally.unknown, 40);
  assert_true(tally.right >= 36);
  if (!(lstm > 0.9)) fail_msg("LSTM frame pooling reaches only AUC %.3f on a signal only frame order carries", lstm);
  if (!(mean < 0.65)) fail_msg("mean frame pooling reaches AUC %.3f on frames whose set is the same for both labels", mean);
}

static void test_photo_and_frames(void **state) {
  (void)state;
  loom_data_schema s;
  loom_data_schema_init(&s);
  const char *kv[][2] = {{"interactions", NULL}, {"items", NULL}, {"image_root", dir_path}, {"user_col", "user_id"},
                         {"item_col", "item_id"}, {"label_col", "clicked"}, {"image_col", "photo"}, {"video_col", "video"},
                         {"frames", "3"}, {"image_size", "16x16"}, {"channels", "1"}, {"image_paths", "anywhere"}};
  char inter[1200], items[1200];
  snprintf(inter, sizeof inter, "%s/interactions.csv", dir_path);
  snprintf(items, sizeof items, "%s/items.csv", dir_path);
  kv[0][1] = inter, kv[1][1] = items;
  loom_error err = {{0}};
  for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
    if (loom_data_schema_set(&s, kv[i][0], kv[i][1], &err) < 0) fail_msg("%s", err.msg);
  assert_int_equal(loom_data_visual_slots(&s), 4);
  loom_dataset *ds = loom_dataset_open(&s, NULL, &err);
  if (!ds) fail_msg("%s", err.msg);
  loom_batch b;
  assert_int_equal(loom_batch_init(&b, ds, 2, &err), 0);
  assert_int_equal(b.S, 4);
  assert_int_equal(b.C, 4);
  int32_t rows[2] = {0, 1};
  assert_int_equal(loom_dataset_encode(ds, rows, 2, &b, &err), 0);
  /* plane 0 is the photo (the same file for every item), planes 1..3 the video's frames 0, 1, 3 of 4
   * (floor((k + 0.5) * 4 / 3)): the bar's columns tell which */
  for (int row = 0; row < 2; row++) {
    const float *x = b.image + (size_t)row * 4 * 256;
    assert_memory_equal(x, b.image + (size_t)((row + 1) % 2) * 4 * 256, 256 * sizeof(float));
    for (int k = 1; k < 4; k++) {
      const float *plane = x + (size_t)k * 256;
      int best = 0;
      for (int col = 1; col < W; col++)
        if (plane[8 * W + col] > plane[8 * W + best]) best = col;
      int item = atoi(loom_dataset_row_item(ds, rows[row]) + 1), t = (int[]){0, 1, 3}[k - 1];
      int x0 = 2 + 3 * (direction(item) ? t : 3 - t);
      if (best < x0 - 1 || best > x0 + 3) fail_msg("row %d frame %d: bar at column %d, want %d..%d", row, k, best, x0, x0 + 2);
    }
  }
  loom_batch_free(&b);
  loom_dataset_free(ds);
  /* the same with attention over photo + frames trains */
  loom_train_result r;
  const char *cfg = write_config("attention", "image_col = photo\nimage_paths = anywhere\n",
                                 "frame_pooling = attention");
  double auc = train_auc(cfg, &r);
  assert_true(auc >= 0 && auc <= 1);
}

/* [data] gallery = 3 over cells 'a|b': the planes are a, b, a; a missing gallery photo is named */
static void test_gallery(void **state) {
  (void)state;
  char items[1200], inter[1200];
  snprintf(items, sizeof items, "%s/gallery-items.csv", dir_path);
  snprintf(inter, sizeof inter, "%s/gallery-inter.csv", dir_path);
  FILE *f = fopen(items, "w");
  assert_non_null(f);
  char png[1200], jpg[1200]; /* tu_src_path's buffer is static: copies */
  snprintf(png, sizeof png, "%s", tu_src_path("tests/data/images/rgb4x2.png"));
  snprintf(jpg, sizeof jpg, "%s", tu_src_path("tests/data/images/gray16x8.jpg"));
  fprintf(f, "item_id,photos\ni0,%s|%s\ni1,%s\ni2,%s|nope.png\n", png, jpg, jpg, png);
  fclose(f);
  f = fopen(inter, "w");
  assert_non_null(f);
  fprintf(f, "user_id,item_id,clicked\nu0,i0,1\nu0,i1,0\nu1,i2,1\n");
  fclose(f);
  loom_data_schema s;
  loom_data_schema_init(&s);
  const char *kv[][2] = {{"interactions", inter}, {"items", items}, {"image_root", dir_path}, {"user_col", "user_id"},
                         {"item_col", "item_id"}, {"label_col", "clicked"}, {"image_col", "photos"}, {"gallery", "3"},
                         {"image_size", "4x4"}, {"channels", "3"}, {"image_paths", "anywhere"}, {"split_ratio", "1,0,0"}};
  loom_error err = {{0}};
  for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
    if (loom_data_schema_set(&s, kv[i][0], kv[i][1], &err) < 0) fail_msg("%s", err.msg);
  loom_dataset *ds = loom_dataset_open(&s, NULL, &err);
  if (!ds) fail_msg("%s", err.msg);
  loom_batch b;
  assert_int_equal(loom_batch_init(&b, ds, 3, &err), 0);
  assert_int_equal(b.S, 3);
  assert_int_equal(b.C, 9);
  int32_t rows[2] = {0, 1};
  assert_int_equal(loom_dataset_encode(ds, rows, 2, &b, &err), 0);
  size_t P = 3 * 16;
  const float *a = b.image, *r1 = b.image + 3 * P;
  assert_true(memcmp(a, a + P, P * sizeof(float)) != 0);      /* two different photos */
  assert_memory_equal(a, a + 2 * P, P * sizeof(float));      /* the third repeats the first */
  assert_memory_equal(a + P, r1, P * sizeof(float));         /* i1's only photo is i0's second */
  assert_memory_equal(r1, r1 + 2 * P, P * sizeof(float));    /* and is repeated */
  int32_t bad[1] = {2};
  assert_int_equal(loom_dataset_encode(ds, bad, 1, &b, &err), -1);
  if (!strstr(err.msg, "nope.png") || !strstr(err.msg, "gallery-items.csv:4") || !strstr(err.msg, "'photos'"))
    fail_msg("message: %s", err.msg);
  loom_batch_free(&b);
  loom_dataset_free(ds);
}

static void expect_train_error(const char *config, const char *needle) {
  loom_train_opts o = {.config_path = config};
  loom_train_result r;
  loom_error err = {{0}};
  if (loom_train(&o, &r, &err) == 0) fail_msg("%s trained; want an error with '%s'", config, needle);
  if (!strstr(err.msg, needle)) fail_msg("message lacks '%s': %s", needle, err.msg);
}

static void test_inert_keys(void **state) {
  (void)state;
  /* frames without video_col; frame_pooling on a one-photo model; a broken video names its items line */
  char p[8000];
  snprintf(p, sizeof p, "sed -i 's/video_col = video/image_col = photo\\nimage_paths = anywhere/' '%s'",
           write_config("novideo", "", ""));
  assert_int_equal(system(p), 0);
  char cfg[1200];
  snprintf(cfg, sizeof cfg, "%s/novideo.ini", dir_path);
  expect_train_error(cfg, "frames");
  snprintf(p, sizeof p, "sed -i '/^frames = 4$/d' '%s'", cfg);
  assert_int_equal(system(p), 0);
  snprintf(p, sizeof p, "sed -i 's/^filters = 8$/filters = 8\\nframe_pooling = max/' '%s'", cfg);
  assert_int_equal(system(p), 0);
  expect_train_error(cfg, "frame_pooling has no effect");
  snprintf(p, sizeof p, "cp '%s/items.csv' '%s/items.bak' && head -c 300 '%s/videos/v005.mp4' > '%s/cut.mp4' && "
           "sed -i 's#videos/v005.mp4#cut.mp4#' '%s/items.csv'", dir_path, dir_path, dir_path, dir_path, dir_path);
  assert_int_equal(system(p), 0);
  expect_train_error(write_config("cut", "", ""), "items.csv:7: column 'video'");
  snprintf(p, sizeof p, "mv '%s/items.bak' '%s/items.csv'", dir_path, dir_path);
  assert_int_equal(system(p), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_order_needs_lstm),
      cmocka_unit_test(test_photo_and_frames),
      cmocka_unit_test(test_inert_keys),
      cmocka_unit_test(test_gallery),
  };
  return cmocka_run_group_tests(tests, setup, NULL);
}
