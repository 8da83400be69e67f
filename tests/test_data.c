/* test_data.c — schema keys, joins under both missing-key policies, splits without leakage
 * (random, column, time, leave-last-out), statistics / vocabulary / ID maps from the training split
 * only (expected values worked out by hand from tests/data/ds), negatives, images in batches and
 * their cache, loader determinism, exact save/restore and prefetch-independence, and frozen
 * preprocessing for inference on new rows. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loom/data.h"
#include "loom/sha256.h"
#include "testutil.h"

static loom_error err;

static void set(loom_data_schema *s, const char *k, const char *v) {
  if (loom_data_schema_set(s, k, v, &err) < 0) fail_msg("set %s=%s: %s", k, v, err.msg);
}

/* The fixture schema: interactions ⋈ items ⋈ users, split by column. */
static void schema(loom_data_schema *s) {
  loom_data_schema_init(s);
  char root[1024];
  snprintf(root, sizeof root, "%s", tu_src_path("tests/data/images"));
  set(s, "interactions", tu_src_path("tests/data/ds/interactions.csv"));
  set(s, "items", tu_src_path("tests/data/ds/items.csv"));
  set(s, "users", tu_src_path("tests/data/ds/users.csv"));
  set(s, "image_root", root);
  set(s, "user_col", "user");
  set(s, "item_col", "item");
  set(s, "label_col", "label");
  set(s, "timestamp_col", "ts");
  set(s, "query_col", "query");
  set(s, "text_cols", "title");
  set(s, "numeric_cols", "qty, price, age");
  set(s, "category_cols", "category");
  set(s, "image_col", "image");
  set(s, "split", "column");
  set(s, "split_col", "split");
  set(s, "num_words", "0");
  set(s, "max_len", "4");
  set(s, "query_len", "3");
  set(s, "numeric_missing", "mean");
  set(s, "batch_size", "3");
}

static loom_dataset *open_ds(const loom_data_schema *s) {
  loom_dataset *ds = loom_dataset_open(s, NULL, &err);
  if (!ds) fail_msg("open: %s", err.msg);
  return ds;
}

static void test_schema_keys(void **state) {
  (void)state;
  loom_data_schema s;
  loom_data_schema_init(&s);
  assert_int_equal(loom_data_schema_set(&s, "splt", "random", &err), -1);
  assert_non_null(strstr(err.msg, "unknown key 'splt'"));
  assert_non_null(strstr(err.msg, "split_ratio"));
  assert_int_equal(loom_data_schema_set(&s, "split", "chrono", &err), -1);
  assert_non_null(strstr(err.msg, "split: 'chrono' is not one of random|column|time|leave_last"));
  assert_int_equal(loom_data_schema_set(&s, "max_len", "0", &err), -1);
  assert_non_null(strstr(err.msg, "max_len: '0' is not an integer in [1, 4096]"));
  assert_int_equal(loom_data_schema_set(&s, "image_size", "28by28", &err), -1);
  assert_non_null(strstr(err.msg, "image_size"));
  set(&s, "image_size", "32x24");
  assert_int_equal(s.image.H * 100 + s.image.W, 3224);
  set(&s, "image_mean", "0.5");
  assert_true(s.image.mean[2] == 0.5f);
  set(&s, "split_ratio", "0.7, 0.2, 0.1");
  assert_true(fabs(s.split_ratio[1] - 0.2) < 1e-7);
  set(&s, "numeric_cols", "a,b , c");
  assert_int_equal(s.n_numeric, 3);
  assert_string_equal(s.numeric_cols[1], "b");
  assert_int_equal(loom_data_schema_validate(&s, &err), -1);
  assert_non_null(strstr(err.msg, "interactions: not set"));
  set(&s, "interactions", "x.csv");
  set(&s, "item_col", "item");
  set(&s, "split", "leave_last");
  assert_int_equal(loom_data_schema_validate(&s, &err), -1);
  assert_non_null(strstr(err.msg, "needs timestamp_col"));
  /* INI loader: file:line: key */
  const char *ini = tu_tmp("loom_test_data.ini");
  FILE *f = fopen(ini, "w");
  fputs("[train]\nepochs = 3\n[data]\ninteractions = a.csv\nitem_col = item\n\nnegative_sampling = pop\n", f);
  fclose(f);
  loom_data_schema_init(&s);
  assert_int_equal(loom_data_schema_load_ini(&s, ini, &err), -1);
  assert_non_null(strstr(err.msg, "/loom_test_data.ini:7: [data] negative_sampling: 'pop' is not one of uniform|popularity"));
  f = fopen(ini, "w");
  fputs("[data]\ninteractions = a.csv\nitem_col = item\nseed = 7\n", f);
  fclose(f);
  loom_data_schema_init(&s);
  assert_int_equal(loom_data_schema_load_ini(&s, ini, &err), 0);
  assert_int_equal(s.seed, 7);
  assert_string_equal(s.interactions, "a.csv");
  remove(ini);
}

static void test_fit_on_train_only(void **state) {
  (void)state;
  loom_data_schema s;
  schema(&s);
  loom_dataset *ds = open_ds(&s);
  assert_int_equal(loom_dataset_rows(ds, LOOM_SPLIT_TRAIN), 7);
  assert_int_equal(loom_dataset_rows(ds, LOOM_SPLIT_VAL), 1);
  assert_int_equal(loom_dataset_rows(ds, LOOM_SPLIT_TEST), 2);
  char sum[256];
  loom_dataset_summary(ds, sum, sizeof sum);
  assert_string_equal(sum, "10 rows (train 7, val 1, test 2), 0 skipped for missing keys, 0 zero images; users 5, items 6, "
                           "vocabulary 14, classes 0, numeric 3, categories [5]");
  const loom_prep *p = loom_dataset_prep(ds);
  /* items in order of first training row: A B D C E; u4 and F never train */
  assert_int_equal(loom_idmap_size(p->items), 6);
  assert_int_equal(loom_idmap_get(p->items, "D"), 3);
  assert_int_equal(loom_idmap_get(p->items, "C"), 4);
  assert_int_equal(loom_idmap_get(p->items, "F"), 0);
  assert_int_equal(loom_idmap_get(p->users, "u5"), 4);
  assert_int_equal(loom_idmap_get(p->users, "u4"), 0);
  assert_int_equal(loom_idmap_get(p->category[0], "accessories"), 4);
  /* vocabulary: shirt 5, red 3, then the count-2 words in order of first occurrence */
  const char *words[] = {"<pad>", "<oov>", "shirt", "red", "blue", "jeans", "hat", "black", "t", "scarf",
                         "green", "黑", "色", "wool"};
  assert_int_equal(loom_vocab_size(p->vocab), 14);
  for (int i = 0; i < 14; i++) assert_string_equal(loom_vocab_word(p->vocab, i), words[i]);
  assert_int_equal(loom_vocab_id(p->vocab, "unicorn", 7), LOOM_TOKEN_OOV); /* only in a test row */
  assert_int_equal(loom_vocab_id(p->vocab, "tee", 3), LOOM_TOKEN_OOV);     /* only in the val row */
  /* numeric statistics over the 7 training rows only (qty 100 of a test row must not leak) */
  double qty[] = {1, 2, 2, 3, 1, 5, 2}, price[] = {10, 30, 10, 5, 12, 10}, age[] = {30, 30, 40, 40, 25, 25, 35};
  double *cols[] = {qty, price, age};
  int ns[] = {7, 6, 7};
  for (int f = 0; f < 3; f++) {
    double m = 0, v = 0;
    for (int i = 0; i < ns[f]; i++) m += cols[f][i];
    m /= ns[f];
    for (int i = 0; i < ns[f]; i++) v += (cols[f][i] - m) * (cols[f][i] - m);
    assert_true(p->num.mean[f] == (float)m);
    assert_true(fabsf(p->num.std[f] - (float)sqrt(v / ns[f])) < 1e-6f);
  }
  /* a batch of rows 0 (u1 A, train), 2 (u1 C, val: price missing → mean), 8 (u4 D, test: unknown user) */
  loom_batch b;
  assert_int_equal(loom_batch_init(&b, ds, 3, &err), 0);
  assert_int_equal(loom_dataset_encode(ds, (int32_t[]){0, 2, 8}, 3, &b, &err), 0);
  assert_memory_equal(b.user, ((int32_t[]){1, 1, 0}), 12);
  assert_memory_equal(b.item, ((int32_t[]){1, 4, 3}), 12);
  assert_memory_equal(b.category, ((int32_t[]){1, 1, 3}), 12);
  assert_memory_equal(b.tokens, ((int32_t[]){3, 2, 0, 0, 7, 8, 2, 11, 10, 6, 0, 0}), 48);
  assert_memory_equal(b.lengths, ((int32_t[]){2, 4, 2}), 12);
  assert_memory_equal(b.query, ((int32_t[]){3, 2, 0, 7, 1, 0, 1, 0, 0}), 36);
  assert_memory_equal(b.query_len, ((int32_t[]){2, 2, 1}), 12);
  assert_true(b.label[0] == 1.0f && b.label[2] == 1.0f);
  float qty0 = (float)((1.0 - p->num.mean[0]) / p->num.std[0]);
  assert_true(fabsf(b.numeric[0] - qty0) < 1e-6f);
  assert_true(b.numeric[3 + 1] == 0.0f); /* missing price → mean → 0 after standardising */
  /* images: 1 x 28 x 28 grey; row 2 is gray16x8.jpg (left half 50, right half 200) */
  assert_int_equal(b.C * 10000 + b.H * 100 + b.W, 12828);
  const float *im = b.image + 28 * 28;
  assert_true(fabsf(im[0] - 50.0f / 255.0f) < 1e-6f && fabsf(im[27] - 200.0f / 255.0f) < 1e-6f);
  loom_batch_free(&b);
  loom_dataset_free(ds);
}

static void test_missing_keys(void **state) {
  (void)state;
  loom_data_schema s;
  schema(&s);
  set(&s, "interactions", tu_src_path("tests/data/ds/interactions_unknown_key.csv"));
  set(&s, "users", "");
  set(&s, "numeric_cols", "qty");
  assert_null(loom_dataset_open(&s, NULL, &err));
  assert_non_null(strstr(err.msg, "interactions_unknown_key.csv:3: column 'item': key 'Z' is not in"));
  assert_non_null(strstr(err.msg, "items.csv (column 'item')"));
  assert_non_null(strstr(err.msg, "missing_key=skip"));
  set(&s, "missing_key", "skip");
  loom_dataset *ds = open_ds(&s);
  assert_int_equal(loom_dataset_skipped_rows(ds), 1);
  assert_int_equal(loom_dataset_rows(ds, LOOM_SPLIT_ALL), 2);
  assert_memory_equal(loom_dataset_split_rows(ds, LOOM_SPLIT_TRAIN), ((int32_t[]){0, 2}), 8);
  loom_dataset_free(ds);
  /* numeric_missing=error names the row and column */
  schema(&s);
  set(&s, "numeric_missing", "error");
  assert_null(loom_dataset_open(&s, NULL, &err));
  assert_non_null(strstr(err.msg, "interactions.csv:4: column 'price' (items table): value is missing"));
  schema(&s);
  set(&s, "text_cols", "titel");
  assert_null(loom_dataset_open(&s, NULL, &err));
  assert_non_null(strstr(err.msg, "column 'titel' is in none of the tables"));
}

static void check_partition(loom_dataset *ds) {
  int64_t n = loom_dataset_rows(ds, LOOM_SPLIT_ALL);
  int seen[64] = {0};
  int64_t tot = 0;
  for (int k = 0; k < 3; k++) {
    const int32_t *r = loom_dataset_split_rows(ds, (loom_split)k);
    for (int64_t i = 0; i < loom_dataset_rows(ds, (loom_split)k); i++) seen[r[i]]++, tot++;
  }
  assert_int_equal(tot, n);
  for (int64_t i = 0; i < n; i++) assert_int_equal(seen[i], 1);
}

static void test_splits(void **state) {
  (void)state;
  loom_data_schema s;
  schema(&s);
  set(&s, "split", "random");
  set(&s, "split_ratio", "0.6,0.2,0.2");
  loom_dataset *a = open_ds(&s), *b = open_ds(&s);
  check_partition(a);
  assert_int_equal(loom_dataset_rows(a, LOOM_SPLIT_TRAIN), 6);
  assert_int_equal(loom_dataset_rows(a, LOOM_SPLIT_VAL), 2);
  assert_memory_equal(loom_dataset_split_rows(a, LOOM_SPLIT_TRAIN), loom_dataset_split_rows(b, LOOM_SPLIT_TRAIN), 24);
  loom_dataset_free(b);
  set(&s, "seed", "43");
  b = open_ds(&s);
  int same = 0;
  for (int k = 0; k < 3; k++)
    same += memcmp(loom_dataset_split_rows(a, (loom_split)k), loom_dataset_split_rows(b, (loom_split)k),
                   (size_t)loom_dataset_rows(a, (loom_split)k) * 4) == 0;
  assert_true(same < 3);
  loom_dataset_free(a);
  loom_dataset_free(b);
  /* time: ts sorted 3 5 7 8 9 10 15 20 25 30 → rows 9 3 6 7 8 0 | 4 1 | 5 2 */
  set(&s, "split", "time");
  a = open_ds(&s);
  assert_memory_equal(loom_dataset_split_rows(a, LOOM_SPLIT_TRAIN), ((int32_t[]){0, 3, 6, 7, 8, 9}), 24);
  assert_memory_equal(loom_dataset_split_rows(a, LOOM_SPLIT_VAL), ((int32_t[]){1, 4}), 8);
  assert_memory_equal(loom_dataset_split_rows(a, LOOM_SPLIT_TEST), ((int32_t[]){2, 5}), 8);
  loom_dataset_free(a);
  /* leave-last-out: u1 (10,20,30) → test row 2, val row 1; u2 (5,15,25) → test 5, val 4;
   * u3 (7,8) → test 7; u4, u5 single rows stay in train */
  set(&s, "split", "leave_last");
  a = open_ds(&s);
  assert_memory_equal(loom_dataset_split_rows(a, LOOM_SPLIT_TRAIN), ((int32_t[]){0, 3, 6, 8, 9}), 20);
  assert_memory_equal(loom_dataset_split_rows(a, LOOM_SPLIT_VAL), ((int32_t[]){1, 4}), 8);
  assert_memory_equal(loom_dataset_split_rows(a, LOOM_SPLIT_TEST), ((int32_t[]){2, 5, 7}), 12);
  loom_dataset_free(a);
}

static void test_negatives(void **state) {
  (void)state;
  loom_data_schema s;
  schema(&s);
  set(&s, "negatives", "3");
  for (int mode = 0; mode < 2; mode++) {
    set(&s, "negative_sampling", mode ? "popularity" : "uniform");
    loom_dataset *ds = open_ds(&s);
    loom_rng r;
    loom_rng_seed(&r, 5);
    int hist[6] = {0};
    for (int t = 0; t < 300; t++) {
      int32_t neg[3];
      /* u2 (id 2) has training positives A (1) and D (3) */
      assert_int_equal(loom_dataset_negatives(ds, 2, 1, 3, &r, neg), 0);
      for (int k = 0; k < 3; k++) {
        assert_true(neg[k] >= 1 && neg[k] < 6 && neg[k] != 1 && neg[k] != 3);
        hist[neg[k]]++;
      }
    }
    if (mode == 0) assert_true(hist[2] > 0 && hist[4] > 0 && hist[5] > 0);
    else assert_int_equal(hist[2] + hist[5], 0); /* B and E have no positive training rows: popularity 0 */
    loom_dataset_free(ds);
  }
}

static int batches_equal(const loom_batch *a, const loom_batch *b) {
  if (a->B != b->B) return 0;
  if (a->B == 0) return 1;
  size_t B = (size_t)a->B, chw = (size_t)a->C * a->H * a->W;
  return !memcmp(a->row, b->row, B * 4) && !memcmp(a->user, b->user, B * 4) && !memcmp(a->item, b->item, B * 4) &&
         !memcmp(a->tokens, b->tokens, B * a->T * 4) && !memcmp(a->query, b->query, B * a->Tq * 4) &&
         !memcmp(a->numeric, b->numeric, B * a->F * 4) && !memcmp(a->image, b->image, B * chw * 4) &&
         !memcmp(a->neg, b->neg, B * a->n_neg * 4) && !memcmp(a->neg_tokens, b->neg_tokens, B * a->n_neg * a->T * 4) &&
         !memcmp(a->neg_image, b->neg_image, B * a->n_neg * chw * 4) && !memcmp(a->label, b->label, B * 4);
}

static void cp(void *dst, const void *src, size_t n) {
  if (n) memcpy(dst, src, n);
}

static void copy_batch(loom_batch *dst, const loom_batch *src, const loom_dataset *ds) {
  loom_batch_init(dst, ds, src->cap, &err);
  size_t B = (size_t)src->B, chw = (size_t)src->C * src->H * src->W;
  dst->B = src->B;
  cp(dst->row, src->row, B * 4), cp(dst->user, src->user, B * 4), cp(dst->item, src->item, B * 4);
  cp(dst->tokens, src->tokens, B * src->T * 4), cp(dst->query, src->query, B * src->Tq * 4);
  cp(dst->numeric, src->numeric, B * src->F * 4), cp(dst->image, src->image, B * chw * 4);
  cp(dst->neg, src->neg, B * src->n_neg * 4), cp(dst->label, src->label, B * 4);
  cp(dst->neg_tokens, src->neg_tokens, B * src->n_neg * src->T * 4);
  cp(dst->neg_image, src->neg_image, B * src->n_neg * chw * 4);
}

/* Runs `n` batches; stores copies. */
static void run(loom_loader *ld, loom_dataset *ds, loom_batch *out, int n) {
  for (int i = 0; i < n; i++) {
    const loom_batch *b = loom_loader_next(ld, &err);
    if (!b) fail_msg("next: %s", err.msg);
    copy_batch(&out[i], b, ds);
  }
}

static void test_loader(void **state) {
  (void)state;
  loom_data_schema s;
  schema(&s);
  set(&s, "negatives", "2");
  set(&s, "augment_flip", "1");
  set(&s, "augment_crop_pad", "2");
  loom_dataset *ds = open_ds(&s);
  enum { N = 12 }; /* 7 train rows, B = 3: batches 3 3 1 then an empty end-of-epoch batch, 3 epochs */
  loom_batch ref[N], got[N];
  loom_loader *ld = loom_loader_new(ds, LOOM_SPLIT_TRAIN, 0, &err);
  run(ld, ds, ref, N);
  assert_int_equal(ref[0].B, 3);
  assert_int_equal(ref[2].B, 1);
  assert_int_equal(ref[3].B, 0);
  assert_int_equal(loom_loader_epoch(ld), 3);
  /* every epoch is a permutation of the 7 training rows; epochs differ */
  for (int e = 0; e < 3; e++) {
    int seen[10] = {0};
    for (int i = 0; i < 3; i++)
      for (int k = 0; k < ref[e * 4 + i].B; k++) seen[ref[e * 4 + i].row[k]]++;
    for (int r = 0; r < 10; r++) assert_int_equal(seen[r], (r == 1 || r == 2 || r == 5 || r == 8) ? (r == 1) : 1);
  }
  assert_true(memcmp(ref[0].row, ref[4].row, 12) != 0 || memcmp(ref[1].row, ref[5].row, 12) != 0);
  /* negatives exclude the user's positives */
  for (int i = 0; i < N; i++)
    for (int k = 0; k < ref[i].B; k++)
      for (int j = 0; j < 2; j++) {
        int32_t u = ref[i].user[k], n = ref[i].neg[k * 2 + j];
        assert_true(n != ref[i].item[k]);
        if (u == 2) assert_true(n != 1 && n != 3);
        if (u == 1 || u == 4) assert_true(n != 1);
      }
  loom_loader_free(ld);
  /* prefetch gives the same batches */
  ld = loom_loader_new(ds, LOOM_SPLIT_TRAIN, 1, &err);
  run(ld, ds, got, N);
  for (int i = 0; i < N; i++) {
    if (!batches_equal(&ref[i], &got[i])) fail_msg("prefetch batch %d differs", i);
    loom_batch_free(&got[i]);
  }
  loom_loader_free(ld);
  /* save after 5 batches, restore into fresh loaders (with and without prefetch) */
  for (int pf = 0; pf < 2; pf++) {
    ld = loom_loader_new(ds, LOOM_SPLIT_TRAIN, pf, &err);
    run(ld, ds, got, 5);
    for (int i = 0; i < 5; i++) loom_batch_free(&got[i]);
    char *st = loom_loader_state_to_string(ld);
    loom_loader_free(ld);
    loom_loader *l2 = loom_loader_new(ds, LOOM_SPLIT_TRAIN, !pf, &err);
    run(l2, ds, got, 1); /* some unrelated progress first */
    loom_batch_free(&got[0]);
    assert_int_equal(loom_loader_state_from_string(l2, st, &err), 0);
    run(l2, ds, got + 5, N - 5);
    for (int i = 5; i < N; i++) {
      if (!batches_equal(&ref[i], &got[i])) fail_msg("restored batch %d differs (prefetch %d)", i, !pf);
      loom_batch_free(&got[i]);
    }
    loom_free(st);
    loom_loader_free(l2);
  }
  ld = loom_loader_new(ds, LOOM_SPLIT_VAL, 0, &err);
  assert_int_equal(loom_loader_state_from_string(ld, "{\"split\":0,\"n\":7,\"seed\":\"000000000000002a\",\"epoch\":0,\"cursor\":0,\"rng\":\"0000000000000001\"}", &err), -1);
  assert_non_null(strstr(err.msg, "another split"));
  assert_int_equal(loom_loader_state_from_string(ld, "{\"epoch\":1}", &err), -1);
  assert_non_null(strstr(err.msg, "corrupt"));
  loom_loader_free(ld);
  for (int i = 0; i < N; i++) loom_batch_free(&ref[i]);
  loom_dataset_free(ds);
}

/* With augment_flip only, every training image is the unaugmented one or its mirror image. */
static void test_augment_flip(void **state) {
  (void)state;
  loom_data_schema s;
  schema(&s);
  set(&s, "augment_flip", "1");
  set(&s, "image_size", "2x4");
  set(&s, "channels", "3");
  loom_dataset *ds = open_ds(&s);
  loom_loader *ld = loom_loader_new(ds, LOOM_SPLIT_TRAIN, 0, &err);
  loom_batch plain;
  loom_batch_init(&plain, ds, 3, &err);
  int flipped = 0, same = 0;
  for (int i = 0; i < 8; i++) {
    const loom_batch *b = loom_loader_next(ld, &err);
    assert_non_null(b);
    if (!b->B) continue;
    assert_int_equal(loom_dataset_encode(ds, b->row, b->B, &plain, &err), 0);
    for (int k = 0; k < b->B; k++) {
      const float *a = b->image + k * 24, *p = plain.image + k * 24;
      int is_same = !memcmp(a, p, 24 * 4), is_flip = 1;
      for (int c = 0; c < 3; c++)
        for (int y = 0; y < 2; y++)
          for (int x = 0; x < 4; x++) is_flip &= a[(c * 2 + y) * 4 + x] == p[(c * 2 + y) * 4 + 3 - x];
      assert_true(is_same || is_flip);
      flipped += is_flip && !is_same;
      same += is_same;
    }
  }
  assert_true(flipped > 0 && same > 0);
  loom_batch_free(&plain);
  loom_loader_free(ld);
  loom_dataset_free(ds);
}

static void test_images_cache_and_policy(void **state) {
  (void)state;
  /* copy the images to a scratch folder, read an epoch, delete them: epoch 2 must still work */
  const char *dir = tu_tmp("loom_test_data_img");
  char cmd[2048];
  snprintf(cmd, sizeof cmd, "mkdir -p %s && cp %s/*.png %s/*.bmp %s/*.jpg %s/", dir, tu_src_path("tests/data/images"),
           tu_src_path("tests/data/images"), tu_src_path("tests/data/images"), dir);
  assert_int_equal(system(cmd), 0);
  loom_data_schema s;
  schema(&s);
  set(&s, "image_root", dir);
  set(&s, "channels", "3");
  set(&s, "image_size", "4x6");
  loom_dataset *ds = open_ds(&s);
  loom_loader *ld = loom_loader_new(ds, LOOM_SPLIT_TRAIN, 1, &err);
  loom_batch e1[4], e2[4];
  run(ld, ds, e1, 4);
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  assert_int_equal(system(cmd), 0);
  run(ld, ds, e2, 4);
  for (int i = 0; i < 4; i++) {
    assert_int_equal(e1[i].B, e2[i].B);
    /* same rows may come in another order: compare each row's image by row id */
    for (int k = 0; k < e2[i].B; k++) {
      int found = 0;
      for (int j = 0; j < 4 && !found; j++)
        for (int m = 0; m < e1[j].B && !found; m++)
          if (e1[j].row[m] == e2[i].row[k]) {
            found = 1;
            assert_memory_equal(e1[j].image + m * 72, e2[i].image + k * 72, 72 * 4);
          }
      assert_true(found);
    }
  }
  for (int i = 0; i < 4; i++) loom_batch_free(&e1[i]), loom_batch_free(&e2[i]);
  loom_loader_free(ld);
  loom_dataset_free(ds);
  /* a missing image: an error naming file, line, row and column — or a counted zero image */
  schema(&s);
  set(&s, "items", tu_src_path("tests/data/ds/items_missing_image.csv"));
  set(&s, "interactions", tu_src_path("tests/data/ds/interactions_unknown_key.csv"));
  set(&s, "missing_key", "skip");
  set(&s, "users", "");
  set(&s, "numeric_cols", "qty");
  set(&s, "image_col", "image");
  ds = open_ds(&s);
  loom_batch b;
  loom_batch_init(&b, ds, 2, &err);
  assert_int_equal(loom_dataset_encode(ds, (int32_t[]){0, 2}, 2, &b, &err), -1);
  /* the image is the items table's: named by the items line, not the interactions row (issue 13) */
  assert_non_null(strstr(err.msg, "items_missing_image.csv:3: column 'image'"));
  assert_non_null(strstr(err.msg, "missing.png: cannot open image"));
  loom_batch_free(&b);
  loom_dataset_free(ds);
  /* the same error comes back through a prefetching loader (worker thread) */
  ds = open_ds(&s);
  loom_loader *pl = loom_loader_new(ds, LOOM_SPLIT_ALL, 1, &err);
  assert_non_null(pl);
  memset(&err, 0, sizeof err);
  assert_null(loom_loader_next(pl, &err));
  assert_non_null(strstr(err.msg, "missing.png: cannot open image"));
  loom_loader_free(pl);
  loom_dataset_free(ds);
  set(&s, "missing_image", "zero");
  ds = open_ds(&s);
  loom_batch_init(&b, ds, 2, &err);
  for (int rep = 0; rep < 2; rep++) assert_int_equal(loom_dataset_encode(ds, (int32_t[]){0, 2}, 2, &b, &err), 0);
  assert_int_equal(loom_dataset_zero_images(ds), 1); /* counted once, then cached */
  for (int i = 0; i < 28 * 28; i++) assert_true(b.image[28 * 28 + i] == 0.0f);
  loom_batch_free(&b);
  loom_dataset_free(ds);
}

static void test_frozen_inference(void **state) {
  (void)state;
  loom_data_schema s;
  schema(&s);
  loom_dataset *ds = open_ds(&s);
  char *str = loom_prep_to_string(loom_dataset_prep(ds));
  loom_prep p;
  assert_int_equal(loom_prep_from_string(&p, str, &err), 0);
  char *str2 = loom_prep_to_string(&p);
  assert_string_equal(str, str2); /* exact round trip */
  const loom_prep *q = loom_dataset_prep(ds);
  for (int f = 0; f < 3; f++) {
    assert_memory_equal(&p.num.mean[f], &q->num.mean[f], 4);
    assert_memory_equal(&p.num.std[f], &q->num.std[f], 4);
  }
  /* new rows (no label, no split column) encoded with the frozen preprocessing */
  const char *path = tu_tmp("loom_test_infer.csv");
  FILE *f = fopen(path, "w");
  fputs("user,item,ts,qty,query\nu1,A,1,1,red shirt\nnewuser,C,2,3,unicorn shirt\n", f);
  fclose(f);
  const char *upath = tu_tmp("loom_test_infer_users.csv");
  f = fopen(upath, "w");
  fputs("user,age\nu1,30\nnewuser,60\n", f);
  fclose(f);
  loom_data_schema si = s;
  set(&si, "interactions", path);
  set(&si, "users", upath);
  loom_dataset *inf = loom_dataset_open(&si, &p, &err);
  if (!inf) fail_msg("%s", err.msg);
  assert_int_equal(loom_dataset_rows(inf, LOOM_SPLIT_ALL), 2);
  loom_batch a, b;
  loom_batch_init(&a, ds, 2, &err);
  loom_batch_init(&b, inf, 2, &err);
  assert_int_equal(loom_dataset_encode(ds, (int32_t[]){0}, 1, &a, &err), 0);
  assert_int_equal(loom_dataset_encode(inf, (int32_t[]){0, 1}, 2, &b, &err), 0);
  assert_memory_equal(a.tokens, b.tokens, 16);
  assert_memory_equal(a.query, b.query, 12);
  assert_memory_equal(a.numeric, b.numeric, 12);
  assert_memory_equal(a.image, b.image, 28 * 28 * 4);
  assert_int_equal(b.user[1], 0); /* unknown user */
  assert_int_equal(b.item[1], 4);
  assert_memory_equal(b.query + 3, ((int32_t[]){1, 2, 0}), 12);
  /* a raw query string and an image path with the saved state */
  int32_t ids[3], len;
  assert_int_equal(loom_vocab_encode(p.vocab, "Red SHIRT!", 10, 3, LOOM_PAD_POST, ids, &len, &err), 0);
  assert_memory_equal(ids, ((int32_t[]){3, 2, 0}), 12);
  float img[28 * 28];
  assert_int_equal(loom_image_load(tu_src_path("tests/data/images/rgb4x2.png"), &p.image, img, &err), 0);
  assert_memory_equal(img, a.image, sizeof img);
  loom_batch_free(&a);
  loom_batch_free(&b);
  loom_dataset_free(inf);
  loom_prep_free(&p);
  loom_free(str);
  loom_free(str2);
  loom_dataset_free(ds);
  remove(path);
  remove(upath);
  assert_int_equal(loom_prep_from_string(&p, "{\"numeric\": 3}", &err), -1);
}

/* Classification of product descriptions: no item column, class names as labels. */
static void test_classification(void **state) {
  (void)state;
  loom_data_schema s;
  loom_data_schema_init(&s);
  set(&s, "interactions", tu_src_path("tests/data/ds/items.csv"));
  set(&s, "text_cols", "title");
  set(&s, "label_col", "category");
  set(&s, "label_type", "class");
  set(&s, "split_ratio", "1,0,0");
  set(&s, "max_len", "3");
  loom_dataset *ds = open_ds(&s);
  assert_int_equal(loom_dataset_num_classes(ds), 4);
  loom_batch b;
  loom_batch_init(&b, ds, 6, &err);
  assert_int_equal(loom_dataset_encode(ds, (int32_t[]){0, 1, 2, 3, 4, 5}, 6, &b, &err), 0);
  /* sorted classes: accessories 0, bottoms 1, hats 2, tops 3 */
  const float want[] = {3, 1, 3, 2, 0, 3};
  assert_memory_equal(b.label, want, sizeof want);
  assert_int_equal(b.item[0], 0);
  assert_int_equal(b.lengths[2], 3); /* "Black T-shirt 黑色" → black t shirt | 黑 色 truncated */
  char *str = loom_prep_to_string(loom_dataset_prep(ds));
  loom_prep p;
  assert_int_equal(loom_prep_from_string(&p, str, &err), 0);
  assert_string_equal(loom_idmap_key(p.labels, 3), "hats");
  const char *path = tu_tmp("loom_test_cls.csv");
  FILE *f = fopen(path, "w");
  fputs("item,title,category\nX,Red Shoes,shoes\n", f);
  fclose(f);
  loom_data_schema si = s;
  set(&si, "interactions", path);
  assert_null(loom_dataset_open(&si, &p, &err));
  assert_non_null(strstr(err.msg, "loom_test_cls.csv:2: column 'category': class 'shoes' does not occur in the training split"));
  remove(path);
  loom_prep_free(&p);
  loom_free(str);
  loom_batch_free(&b);
  loom_dataset_free(ds);
}

/* key_type=int: "007", "+7" and "7" join; a non-integer key is an error naming the line. */
static void test_int_keys(void **state) {
  (void)state;
  const char *ip = tu_tmp("loom_test_ik_inter.csv"), *tp = tu_tmp("loom_test_ik_items.csv");
  FILE *f = fopen(ip, "w");
  fputs("user,item,label\n1,007,1\n2,+7,1\n1, 12,0\n", f);
  fclose(f);
  f = fopen(tp, "w");
  fputs("item,title\n7,seven\n12,twelve\n", f);
  fclose(f);
  loom_data_schema s;
  loom_data_schema_init(&s);
  set(&s, "interactions", ip);
  set(&s, "items", tp);
  set(&s, "user_col", "user");
  set(&s, "item_col", "item");
  set(&s, "label_col", "label");
  set(&s, "text_cols", "title");
  set(&s, "split_ratio", "1,0,0");
  assert_null(loom_dataset_open(&s, NULL, &err));
  assert_non_null(strstr(err.msg, "key '007' is not in"));
  set(&s, "key_type", "int");
  loom_dataset *ds = open_ds(&s);
  loom_batch b;
  loom_batch_init(&b, ds, 3, &err);
  assert_int_equal(loom_dataset_encode(ds, (int32_t[]){0, 1, 2}, 3, &b, &err), 0);
  assert_memory_equal(b.item, ((int32_t[]){1, 1, 2}), 12);
  assert_string_equal(loom_idmap_key(loom_dataset_prep(ds)->items, 1), "7");
  loom_batch_free(&b);
  loom_dataset_free(ds);
  f = fopen(ip, "w");
  fputs("user,item,label\n1,7,1\n1,x7,1\n", f);
  fclose(f);
  assert_null(loom_dataset_open(&s, NULL, &err));
  assert_non_null(strstr(err.msg, "loom_test_ik_inter.csv:3: column 'item': key 'x7' is not an integer"));
  remove(ip);
  remove(tp);
}

/* The items table as a catalogue: F was never in a training row (index 0) but has text and image. */
static void test_catalog(void **state) {
  (void)state;
  loom_data_schema s;
  schema(&s);
  loom_dataset *ds = open_ds(&s);
  assert_int_equal(loom_dataset_catalog_size(ds), 6);
  assert_string_equal(loom_dataset_catalog_key(ds, 5), "F");
  int32_t idx[2], tok[8], len[2];
  float img[2 * 28 * 28];
  assert_int_equal(loom_dataset_catalog_features(ds, (int64_t[]){0, 5}, 2, idx, tok, len, img, &err), 0);
  assert_memory_equal(idx, ((int32_t[]){1, 0}), 8);
  assert_memory_equal(tok, ((int32_t[]){3, 2, 0, 0, 1, 1, 0, 0}), 32); /* "Unused Item" → oov oov */
  assert_memory_equal(len, ((int32_t[]){2, 2}), 8);
  /* same image file (rgb4x2.png) as item A's training rows */
  loom_batch b;
  loom_batch_init(&b, ds, 1, &err);
  assert_int_equal(loom_dataset_encode(ds, (int32_t[]){0}, 1, &b, &err), 0);
  assert_memory_equal(img + 28 * 28, b.image, 28 * 28 * 4);
  assert_memory_equal(tok, b.tokens, 16);
  loom_batch_free(&b);
  loom_dataset_free(ds);
}

static void test_state_roundtrips(void **state) {
  (void)state;
  /* numeric statistics: awkward floats come back bit for bit */
  double x[] = {0.1, 1e-30, 3.4028234e38, -7.25, 1.0 / 3.0, NAN, 2e-45, 123456.789};
  for (int sc = 0; sc < 3; sc++) {
    loom_numstats a, b;
    assert_int_equal(loom_numstats_fit(&a, x, 4, 2, (loom_scaling)sc, &err), 0);
    char *s1 = loom_numstats_to_string(&a);
    assert_int_equal(loom_numstats_from_string(&b, s1, &err), 0);
    assert_int_equal(b.F, 2);
    assert_int_equal(b.scaling, sc);
    assert_memory_equal(a.mean, b.mean, 8);
    assert_memory_equal(a.std, b.std, 8);
    assert_memory_equal(a.min, b.min, 8);
    assert_memory_equal(a.max, b.max, 8);
    /* apply: min-max of column 0 over {0.1, 3.4e38, 1/3, 2e-45} */
    float out[2];
    assert_int_equal(loom_numstats_apply(&b, (double[]){NAN, 5}, LOOM_MISSING_ERROR, out, NULL), -1);
    loom_free(s1);
    loom_numstats_free(&a);
    loom_numstats_free(&b);
  }
  loom_numstats m;
  double y[] = {1, 10, 3, 20, 5, 30}; /* (3, 2) */
  loom_numstats_fit(&m, y, 3, 2, LOOM_SCALE_MINMAX, &err);
  float out[2];
  int bad = -1;
  assert_int_equal(loom_numstats_apply(&m, (double[]){4, NAN}, LOOM_MISSING_MEAN, out, &bad), 0);
  assert_true(out[0] == 0.75f && out[1] == 0.5f); /* (4 - 1) / 4; mean 20 → (20 - 10) / 20 */
  assert_int_equal(loom_numstats_apply(&m, (double[]){4, NAN}, LOOM_MISSING_ERROR, out, &bad), -1);
  assert_int_equal(bad, 1);
  loom_numstats_free(&m);
  /* ID maps */
  loom_idmap *im = loom_idmap_new();
  assert_int_equal(loom_idmap_add(im, "b\"q", &err), 1);
  assert_int_equal(loom_idmap_add(im, "黑", &err), 2);
  assert_int_equal(loom_idmap_add(im, "b\"q", &err), 1);
  char *s2 = loom_idmap_to_string(im);
  loom_idmap *im2 = loom_idmap_from_string(s2, &err);
  assert_non_null(im2);
  assert_int_equal(loom_idmap_size(im2), 3);
  assert_int_equal(loom_idmap_get(im2, "黑"), 2);
  assert_int_equal(loom_idmap_get(im2, "nope"), 0);
  assert_null(loom_idmap_key(im2, 0));
  loom_free(s2);
  loom_idmap_free(im);
  loom_idmap_free(im2);
  assert_null(loom_idmap_from_string("[\"a\", 3]", &err));
  assert_non_null(strstr(err.msg, "entry 1 is not a string"));
}

/* Out of memory reported as such: the message says so (and names what was being read). */
static void assert_oom_msg(const char *what, long n) {
  if (!strstr(err.msg, "out of memory")) fail_msg("%s: allocation %ld failed but the message is: %s", what, n, err.msg);
}

/* SQLite-style: allocation n of loom_dataset_open fails, for every n until an open needs fewer
 * allocations than n. Each run ends in a clean "out of memory" error (LeakSanitizer checks the
 * cleanup in the ASan build) — tables, joins, vocabulary, ID maps, statistics and images all covered
 * (tests/data/ds has text, image, numeric, category, query and user columns). Then the same for an
 * inference open with frozen preprocessing and for the preprocessing's string round trip. */
static void test_alloc_failures(void **state) {
  (void)state;
  loom_data_schema s;
  schema(&s);
  long n, points[3] = {0};
  loom_dataset *ds = NULL;
  for (n = 1; !ds; n++) {
    err.msg[0] = '\0';
    loom_alloc_fail_after(n);
    ds = loom_dataset_open(&s, NULL, &err);
    loom_alloc_fail_after(0);
    if (!ds) assert_oom_msg("loom_dataset_open", n);
    assert_true(n < 1000000);
  }
  points[0] = n - 1;
  char *str = loom_prep_to_string(loom_dataset_prep(ds));
  assert_non_null(str);
  loom_prep p;
  int rc = -1;
  for (n = 1; rc != 0; n++) {
    err.msg[0] = '\0';
    loom_alloc_fail_after(n);
    rc = loom_prep_from_string(&p, str, &err);
    char *back = rc == 0 ? loom_prep_to_string(&p) : NULL;
    loom_alloc_fail_after(0);
    if (rc != 0) {
      assert_oom_msg("loom_prep_from_string", n);
    } else if (!back) { /* the round trip's own allocation failed: not a success yet */
      loom_prep_free(&p);
      rc = -1;
    } else {
      assert_string_equal(back, str);
      loom_free(back);
    }
  }
  points[1] = n - 1;
  loom_dataset *inf = NULL;
  for (n = 1; !inf; n++) {
    err.msg[0] = '\0';
    loom_alloc_fail_after(n);
    inf = loom_dataset_open(&s, &p, &err);
    loom_alloc_fail_after(0);
    if (!inf) assert_oom_msg("loom_dataset_open (frozen)", n);
  }
  points[2] = n - 1;
  assert_int_equal(loom_dataset_rows(inf, LOOM_SPLIT_ALL), loom_dataset_rows(ds, LOOM_SPLIT_ALL));
  print_message("allocation failure loop: dataset open %ld points, prep from string %ld, frozen open %ld\n", points[0],
                points[1], points[2]);
  assert_true(points[0] > 50 && points[1] > 5 && points[2] > 50);
  loom_dataset_free(inf);
  loom_prep_free(&p);
  loom_free(str);
  loom_dataset_free(ds);
}

/* Failing each allocation of loader creation and a first epoch (text, images, negatives). */
static void test_loader_alloc_failures(void **state) {
  (void)state;
  loom_data_schema s;
  schema(&s);
  set(&s, "negatives", "2");
  loom_dataset *ds = open_ds(&s);
  for (long n = 1; n < 10000; n++) {
    loom_alloc_fail_after(n);
    loom_loader *ld = loom_loader_new(ds, LOOM_SPLIT_TRAIN, 0, &err);
    int done = 0, failed = !ld;
    for (int i = 0; ld && i < 4 && !failed; i++) {
      const loom_batch *b = loom_loader_next(ld, &err);
      if (!b) failed = 1;
      else if (!b->B) done = 1;
    }
    loom_alloc_fail_after(0);
    if (failed) assert_true(strlen(err.msg) > 0);
    loom_loader_free(ld);
    if (done && !failed) {
      loom_dataset_free(ds);
      return;
    }
  }
  fail_msg("never succeeded");
}

/* ---- issue 13 */

/* A binary label of 2 or -1 in the training split trained silently (refused only at evaluation, with
 * a row number): with label_values set (as the trainer sets it from task.kind) every split's labels are
 * checked when the tables load, naming the file and the real line. */
static void test_labels_checked_at_load(void **state) {
  (void)state;
  loom_data_schema s;
  schema(&s);
  set(&s, "interactions", tu_src_path("tests/data/ds/interactions_label_two.csv"));
  s.label_values = 2;
  assert_null(loom_dataset_open(&s, NULL, &err));
  assert_non_null(strstr(err.msg, "tests/data/ds/interactions_label_two.csv:6: column 'label': label 2 is not 0 or 1"));
  s.label_values = 0; /* any number (regression targets): accepted */
  loom_dataset *ds = open_ds(&s);
  loom_dataset_free(ds);
  s.label_values = 3; /* three classes: 0, 1, 2 */
  ds = open_ds(&s);
  loom_dataset_free(ds);
  set(&s, "interactions", tu_src_path("tests/data/ds/interactions_label_minus_one.csv"));
  assert_null(loom_dataset_open(&s, NULL, &err));
  assert_non_null(strstr(err.msg, "interactions_label_minus_one.csv:9: column 'label': label -1 is not a class in 0..2"));
  s.label_values = 2;
  assert_null(loom_dataset_open(&s, NULL, &err));
  assert_non_null(strstr(err.msg, "interactions_label_minus_one.csv:9: column 'label': label -1 is not 0 or 1"));
  /* a bad label in the test split is found at load too */
  const char *path = tu_tmp("loom_test_label_test_split.csv");
  size_t n;
  char *text = tu_slurp(tu_src_path("tests/data/ds/interactions.csv"), &n);
  assert_non_null(text);
  char *p = strstr(text, "u2,B,1,25,4,jeans,test");
  assert_non_null(p);
  p[5] = '7';
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  fwrite(text, 1, n, f);
  fclose(f);
  free(text);
  set(&s, "interactions", path);
  assert_null(loom_dataset_open(&s, NULL, &err));
  assert_non_null(strstr(err.msg, "loom_test_label_test_split.csv:7: column 'label': label 7 is not 0 or 1"));
  remove(path);
}

static int encode_all(loom_dataset *ds) {
  loom_batch b;
  int rc = loom_batch_init(&b, ds, 16, &err);
  for (int sp = LOOM_SPLIT_TRAIN; rc == 0 && sp <= LOOM_SPLIT_TEST; sp++)
    if (loom_dataset_rows(ds, (loom_split)sp))
      rc = loom_dataset_encode(ds, loom_dataset_split_rows(ds, (loom_split)sp), (int)loom_dataset_rows(ds, (loom_split)sp), &b, &err);
  loom_batch_free(&b);
  return rc;
}

/* ../outside/secret.png, /etc/passwd and a symlink out of image_root were read: they are refused
 * (without opening them) unless image_paths = anywhere; the message names the items file and line. */
static void test_image_paths_inside_root(void **state) {
  (void)state;
  const char *cases[3][2] = {{"items_image_dotdot.csv", "'../outside/secret.png'"},
                             {"items_image_abs.csv", "'/etc/passwd'"},
                             {"items_image_symlink.csv", "'link_out.png'"}};
  for (int i = 0; i < 3; i++) {
    loom_data_schema s;
    schema(&s);
    char rel[128];
    snprintf(rel, sizeof rel, "tests/data/ds/%s", cases[i][0]);
    set(&s, "items", tu_src_path(rel));
    loom_dataset *ds = open_ds(&s);
    assert_int_equal(encode_all(ds), -1);
    char want[256];
    snprintf(want, sizeof want, "%s:5: column 'image': image path %s leads outside image_root", cases[i][0], cases[i][1]);
    if (!strstr(err.msg, want)) fail_msg("%s: %s", cases[i][0], err.msg);
    assert_non_null(strstr(err.msg, "set [data] image_paths = anywhere"));
    assert_null(strstr(err.msg, "not a PNG")); /* never opened */
    /* the catalogue (inference) names the same items line */
    float img[28 * 28];
    assert_int_equal(loom_dataset_catalog_features(ds, (int64_t[]){3}, 1, NULL, NULL, NULL, img, &err), -1);
    assert_non_null(strstr(err.msg, want));
    loom_dataset_free(ds);
    if (i == 1) continue; /* /etc/passwd is no image even where allowed */
    set(&s, "image_paths", "anywhere");
    ds = open_ds(&s);
    assert_int_equal(encode_all(ds), 0);
    loom_dataset_free(ds);
  }
  /* a missing file outside is "outside" too (no oracle for which outside files exist) */
  loom_data_schema s;
  schema(&s);
  const char *items = tu_tmp("loom_test_items_missing_outside.csv");
  FILE *f = fopen(items, "wb");
  assert_non_null(f);
  fputs("item,title,category,price,image\nA,a,tops,1,rgb4x2.png\nB,b,tops,1,rgb4x2.png\nC,c,tops,1,rgb4x2.png\n"
        "D,d,tops,1,../outside/not_there.png\nE,e,tops,1,rgb4x2.png\n", f);
  fclose(f);
  set(&s, "items", items);
  loom_dataset *ds = open_ds(&s);
  assert_int_equal(encode_all(ds), -1);
  assert_non_null(strstr(err.msg, "loom_test_items_missing_outside.csv:5: column 'image': image path '../outside/not_there.png' leads outside"));
  loom_dataset_free(ds);
  set(&s, "image_paths", "anywhere");
  ds = open_ds(&s);
  assert_int_equal(encode_all(ds), -1);
  assert_non_null(strstr(err.msg, "not_there.png: cannot open image (No such file or directory)"));
  loom_dataset_free(ds);
  remove(items);
  assert_int_equal(loom_data_schema_set(&s, "image_paths", "everywhere", &err), -1);
  assert_non_null(strstr(err.msg, "[data] image_paths: 'everywhere' is not one of inside|anywhere"));
}

/* loom_sha256_file hashed /dev/zero forever and blocked on a FIFO: only regular files, exactly their
 * size, stoppable. */
static void test_sha256_file_hostile(void **state) {
  (void)state;
  char dir[] = "/tmp/loom_test_sha_XXXXXX", fifo[64], big[64];
  assert_non_null(mkdtemp(dir));
  snprintf(fifo, sizeof fifo, "%s/fifo", dir);
  snprintf(big, sizeof big, "%s/big", dir);
  assert_int_equal(mkfifo(fifo, 0600), 0);
  char hex[65];
  alarm(20);
  assert_int_equal(loom_sha256_file(fifo, hex, &err), -1);
  assert_non_null(strstr(err.msg, "fifo: the input file is a FIFO (named pipe), not a regular file"));
  assert_int_equal(loom_sha256_file("/dev/zero", hex, &err), -1);
  assert_non_null(strstr(err.msg, "/dev/zero: the input file is a character device"));
  assert_int_equal(loom_sha256_file(dir, hex, &err), -1);
  assert_non_null(strstr(err.msg, "the input file is a directory"));
  alarm(0);
  FILE *f = fopen(big, "wb");
  assert_non_null(f);
  fputs("abc", f);
  fclose(f);
  assert_int_equal(loom_sha256_file(big, hex, &err), 0);
  assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  f = fopen(big, "wb");
  static char block[1 << 16];
  for (int i = 0; i < 48; i++) fwrite(block, 1, sizeof block, f);
  fclose(f);
  loom_stop_request();
  assert_int_equal(loom_sha256_file(big, hex, &err), -1);
  assert_non_null(strstr(err.msg, "big: interrupted (SIGINT or SIGTERM) while hashing it"));
  loom_stop_clear();
  assert_int_equal(loom_sha256_file(big, hex, &err), 0);
  remove(big);
  remove(fifo);
  rmdir(dir);
}

/* A key that differs from the items table's by an invisible character was printed raw ('A' is not in
 * items.csv?): it is escaped and the character named. */
static void test_invisible_key_named(void **state) {
  (void)state;
  const char *path = tu_tmp("loom_test_bom_key.csv");
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  fputs("user,item,label,ts,qty,query,split\nu1,A,1,10,1,red,train\nu1,\xef\xbb\xbf" "A,0,20,2,blue,train\n", f);
  fclose(f);
  loom_data_schema s;
  schema(&s);
  set(&s, "interactions", path);
  assert_null(loom_dataset_open(&s, NULL, &err));
  assert_non_null(strstr(err.msg, "loom_test_bom_key.csv:3: column 'item': key '\\uFEFFA' (it contains U+FEFF (byte order mark) at byte 0 of the field) is not in"));
  remove(path);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_schema_keys),       cmocka_unit_test(test_fit_on_train_only),
      cmocka_unit_test(test_missing_keys),      cmocka_unit_test(test_splits),
      cmocka_unit_test(test_negatives),         cmocka_unit_test(test_loader),
      cmocka_unit_test(test_images_cache_and_policy), cmocka_unit_test(test_augment_flip), cmocka_unit_test(test_frozen_inference),
      cmocka_unit_test(test_state_roundtrips), cmocka_unit_test(test_alloc_failures),
      cmocka_unit_test(test_loader_alloc_failures), cmocka_unit_test(test_classification),
      cmocka_unit_test(test_int_keys), cmocka_unit_test(test_catalog),
      cmocka_unit_test(test_labels_checked_at_load), cmocka_unit_test(test_image_paths_inside_root),
      cmocka_unit_test(test_sha256_file_hostile), cmocka_unit_test(test_invisible_key_named),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
