/* schema.c — the [data] section of a run's INI (loom/data.h): defaults, one setter per key that
 * the app's config loader calls, cross-field validation, and a libinih loader for tests and tools.
 * Every message names the key and lists the valid choices. */
#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loom/data.h"
#include "loom/file.h"

const loom_cfg_rule loom_data_rules[] = {
    {"data.split_col", "data.split=|random|time|leave_last", "unless data.split = column; remove it or set split = column"},
    {"data.negative_sampling", "data.negatives=|0", "with no negatives (data.negatives = 0); remove it or set negatives"},
    {"data.negative_power", "data.negative_sampling=|uniform", "unless data.negative_sampling = popularity; remove it"},
    {"data.gallery", "data.image_col=", "without data.image_col (the column of photo paths); set it or remove gallery"},
    {"data.frames", "data.video_col=", "without data.video_col (the column of video paths); set it or remove frames"},
    {"data.frame_sampling", "data.video_col=", "without data.video_col; set it or remove frame_sampling"},
    {"data.max_video_mb", "data.video_col=", "without data.video_col; set it or remove max_video_mb"},
    {"data.max_video_seconds", "data.video_col=", "without data.video_col; set it or remove max_video_seconds"},
    {"data.max_video_decode_s", "data.video_col=", "without data.video_col; set it or remove max_video_decode_s"},
    {"data.max_video_frames", "data.video_col=", "without data.video_col; set it or remove max_video_frames"},
    {"data.missing_vector", "data.item_vectors= and data.user_vectors=", "without data.item_vectors or user_vectors; set one or remove missing_vector"},
    {"data.max_vector_mb", "data.item_vectors= and data.user_vectors=", "without data.item_vectors or user_vectors; set one or remove max_vector_mb"},
    {"data.history", "data.history_len=|0", "without data.history_len (histories are off); remove it or set history_len"},
};
const int loom_data_n_rules = (int)(sizeof loom_data_rules / sizeof loom_data_rules[0]);

void loom_data_schema_init(loom_data_schema *s) {
  memset(s, 0, sizeof *s);
  s->split = LOOM_SPLIT_RANDOM;
  s->split_ratio[0] = 0.8, s->split_ratio[1] = 0.1, s->split_ratio[2] = 0.1;
  s->num_words = 20000;
  s->max_len = 32;
  s->query_len = 16;
  s->pad = LOOM_PAD_POST;
  loom_image_opts_default(&s->image);
  loom_video_opts_default(&s->video);
  s->numeric_scaling = LOOM_SCALE_STANDARD;
  s->numeric_missing = LOOM_MISSING_ERROR;
  s->negative_sampling = LOOM_NEG_UNIFORM;
  s->negative_power = 0.75;
  s->seed = 42;
  s->batch_size = 32;
  s->shuffle = 1;
  s->max_field_bytes = (size_t)1 << 20;
  s->image_cache_bytes = (int64_t)1 << 30;
  s->max_vector_bytes = (uint64_t)16384 << 20;
}

static int set_str(char *dst, size_t cap, const char *key, const char *v, loom_error *err) {
  if (strlen(v) >= cap) return loom_errorf(err, "[data] %s: value is longer than %zu bytes", key, cap - 1);
  strcpy(dst, v);
  return 0;
}

static int set_int(int *dst, const char *key, const char *v, long lo, long hi, loom_error *err) {
  char *end;
  errno = 0;
  long x = strtol(v, &end, 10);
  if (!*v || *end || errno || x < lo || x > hi)
    return loom_errorf(err, "[data] %s: '%s' is not an integer in [%ld, %ld]", key, v, lo, hi);
  *dst = (int)x;
  return 0;
}

static int set_choice(int *dst, const char *key, const char *v, const char *choices, const int *vals, loom_error *err) {
  const char *p = choices;
  size_t n = strlen(v);
  for (int i = 0; p; i++) {
    const char *bar = strchr(p, '|');
    size_t len = bar ? (size_t)(bar - p) : strlen(p);
    if (len == n && !strncmp(p, v, n)) { *dst = vals[i]; return 0; }
    p = bar ? bar + 1 : NULL;
  }
  return loom_errorf(err, "[data] %s: '%s' is not one of %s", key, v, choices);
}

/* One entry of a column list: a name, or a range PREFIXa..PREFIXb (f0..f1023: f0, f1, ..., f1023). */
static int put_col(char (*dst)[LOOM_DATA_NAME], int *n, int max, const char *key, const char *p, size_t len, loom_error *err) {
  const char *dots = NULL;
  for (size_t i = 0; i + 1 < len; i++)
    if (p[i] == '.' && p[i + 1] == '.') { dots = p + i; break; }
  long lo = 0, hi = -1;
  size_t pre = len;
  if (dots) { /* both ends share the prefix before their digits */
    size_t a = (size_t)(dots - p), b0 = a + 2;
    size_t da = a, db = len;
    while (da > 0 && p[da - 1] >= '0' && p[da - 1] <= '9') da--;
    while (db > b0 && p[db - 1] >= '0' && p[db - 1] <= '9') db--;
    if (da == a || db == len || len - db > 9 || a - da > 9 || da != db - b0 || memcmp(p, p + b0, da) != 0)
      return loom_errorf(err, "[data] %s: '%.*s' is not a range like f0..f1023 (same prefix, numbers at both ends)", key,
                         (int)len, p);
    lo = strtol(p + da, NULL, 10), hi = strtol(p + db, NULL, 10), pre = da;
    if (hi < lo) return loom_errorf(err, "[data] %s: range '%.*s' ends before it starts", key, (int)len, p);
  }
  for (long i = lo; i <= (dots ? hi : lo); i++) {
    if (*n == max) return loom_errorf(err, "[data] %s: more than %d columns", key, max);
    char name[LOOM_DATA_NAME + 16];
    int w = dots ? snprintf(name, sizeof name, "%.*s%ld", (int)(pre < LOOM_DATA_NAME ? pre : LOOM_DATA_NAME), p, i)
                 : snprintf(name, sizeof name, "%.*s", (int)(len < LOOM_DATA_NAME ? len : LOOM_DATA_NAME), p);
    if (pre >= LOOM_DATA_NAME || w >= LOOM_DATA_NAME) return loom_errorf(err, "[data] %s: column name too long", key);
    memcpy(dst[*n], name, (size_t)w + 1);
    (*n)++;
  }
  return 0;
}

static int set_list(char (*dst)[LOOM_DATA_NAME], int *n, int max, const char *key, const char *v, loom_error *err) {
  *n = 0;
  const char *p = v;
  while (*p) {
    while (*p == ' ' || *p == ',') p++;
    if (!*p) break;
    const char *e = p;
    while (*e && *e != ',') e++;
    const char *t = e;
    while (t > p && t[-1] == ' ') t--;
    if (put_col(dst, n, max, key, p, (size_t)(t - p), err) < 0) return -1;
    p = e;
  }
  return 0;
}

static int set_floats(float *dst, int n, const char *key, const char *v, loom_error *err) {
  const char *p = v;
  int i = 0;
  for (; i < n && *p; i++) {
    char *end;
    double x = strtod(p, &end);
    if (end == p || !isfinite(x)) break;
    dst[i] = (float)x;
    p = end;
    while (*p == ' ' || *p == ',') p++;
  }
  if (*p || i == 0) return loom_errorf(err, "[data] %s: '%s' is not a list of 1 to %d numbers", key, v, n);
  for (int j = i; j < n; j++) dst[j] = dst[i - 1]; /* one number applies to every channel */
  return 0;
}

/* ---------------------------------------------------------------- the key table
 * Every [data] key, once: how it is set (a field at an offset, or a setter for the composite ones),
 * its value type and default as --help-config shows them, and one doc line. The unknown-key message,
 * its did-you-mean, the reference and the path flag all come from here. */

typedef enum { K_STR, K_INT, K_CHOICE, K_LIST, K_FN } key_kind;

enum {
  F_PATH = 1,   /* a path: a relative one is resolved when the run's config is read (checkpoint.c) */
  F_OPAQUE = 2, /* the default is a built-in cap (the field holds 0) or rounds: not a value that sets it back */
};

typedef struct data_key {
  const char *name;
  key_kind kind;
  size_t off, off2; /* field; K_LIST: the array and its count */
  size_t cap;       /* K_STR: size of the field */
  long lo, hi;      /* K_INT */
  const char *choices; /* K_CHOICE: "a|b|c" */
  const int *vals;     /* K_CHOICE: the value of each choice */
  int (*fn)(loom_data_schema *s, const char *key, const char *v, loom_error *err); /* K_FN */
  const char *type; /* K_FN (and K_STR): what the value is, for the reference */
  const char *def;
  int flags;
  const char *doc;
} data_key;

_Static_assert(sizeof(loom_split_kind) == sizeof(int) && sizeof(loom_policy) == sizeof(int) &&
                   sizeof(loom_pad) == sizeof(int) && sizeof(loom_scaling) == sizeof(int) &&
                   sizeof(loom_num_missing) == sizeof(int) && sizeof(loom_neg_sampling) == sizeof(int) &&
                   sizeof(loom_frame_sampling) == sizeof(int),
               "K_CHOICE stores an int into an enum field");

static int fn_max_video_mb(loom_data_schema *s, const char *key, const char *value, loom_error *err) {
  int v = 0;
  if (set_int(&v, key, value, 1, 65536, err) < 0) return -1;
  s->video.max_file_bytes = (size_t)v << 20;
  return 0;
}

static int set_seconds(double *dst, const char *key, const char *value, loom_error *err) {
  char *end;
  errno = 0;
  double v = strtod(value, &end);
  if (end == value || *end || errno || !(v > 0) || v > 1e6)
    return loom_errorf(err, "[data] %s: '%s' is not a number of seconds in (0, 1000000]", key, value);
  *dst = v;
  return 0;
}
static int fn_max_vector_mb(loom_data_schema *s, const char *key, const char *value, loom_error *err) {
  int v = 0;
  if (set_int(&v, key, value, 1, 1 << 20, err) < 0) return -1;
  s->max_vector_bytes = (uint64_t)v << 20;
  return 0;
}
static int fn_max_video_seconds(loom_data_schema *s, const char *key, const char *value, loom_error *err) {
  return set_seconds(&s->video.max_duration_s, key, value, err);
}
static int fn_max_video_decode_s(loom_data_schema *s, const char *key, const char *value, loom_error *err) {
  return set_seconds(&s->video.max_decode_s, key, value, err);
}
static int fn_max_video_frames(loom_data_schema *s, const char *key, const char *value, loom_error *err) {
  int v = 0;
  if (set_int(&v, key, value, 1, 100000000, err) < 0) return -1;
  s->video.max_frames = v;
  return 0;
}
static int fn_split_ratio(loom_data_schema *s, const char *key, const char *value, loom_error *err) {
  float r[3];
  if (set_floats(r, 3, key, value, err) < 0) return -1;
  for (int i = 0; i < 3; i++) s->split_ratio[i] = r[i];
  return 0;
}
static int fn_image_size(loom_data_schema *s, const char *key, const char *value, loom_error *err) {
  (void)key;
  int h, w, n = 0;
  if (sscanf(value, "%dx%d%n", &h, &w, &n) != 2 || value[n] || h < 1 || w < 1 || h > 4096 || w > 4096)
    return loom_errorf(err, "[data] image_size: '%s' is not HxW with sides in [1, 4096] (e.g. 28x28)", value);
  s->image.H = h, s->image.W = w;
  return 0;
}
static int fn_image_mean(loom_data_schema *s, const char *key, const char *value, loom_error *err) {
  return set_floats(s->image.mean, 3, key, value, err);
}
static int fn_image_std(loom_data_schema *s, const char *key, const char *value, loom_error *err) {
  if (set_floats(s->image.std, 3, key, value, err) < 0) return -1;
  for (int c = 0; c < 3; c++)
    if (!(s->image.std[c] > 0)) return loom_errorf(err, "[data] image_std: every value must be > 0");
  return 0;
}
static int fn_max_image_bytes(loom_data_schema *s, const char *key, const char *value, loom_error *err) {
  int v = 0;
  if (set_int(&v, key, value, 1, 1 << 30, err) < 0) return -1;
  s->image.max_file_bytes = (size_t)v;
  return 0;
}
static int fn_negative_power(loom_data_schema *s, const char *key, const char *value, loom_error *err) {
  (void)key;
  char *end;
  double x = strtod(value, &end);
  if (end == value || *end || !(x >= 0 && x <= 4))
    return loom_errorf(err, "[data] negative_power: '%s' is not a number in [0, 4]", value);
  s->negative_power = x;
  return 0;
}
static int fn_seed(loom_data_schema *s, const char *key, const char *value, loom_error *err) {
  (void)key;
  char *end;
  errno = 0;
  unsigned long long x = strtoull(value, &end, 10);
  if (!*value || *end || errno || value[0] == '-')
    return loom_errorf(err, "[data] seed: '%s' is not a non-negative integer", value);
  s->seed = x;
  return 0;
}
static int fn_max_field_bytes(loom_data_schema *s, const char *key, const char *value, loom_error *err) {
  int v = 0;
  if (set_int(&v, key, value, 1, 1 << 30, err) < 0) return -1;
  s->max_field_bytes = (size_t)v;
  return 0;
}
static int fn_image_cache_mb(loom_data_schema *s, const char *key, const char *value, loom_error *err) {
  int v = 0;
  if (set_int(&v, key, value, 0, 1 << 20, err) < 0) return -1;
  s->image_cache_bytes = (int64_t)v << 20;
  return 0;
}

#define OFF(f) offsetof(loom_data_schema, f)
#define STR_KEY(k, fl, ty, doc) {#k, K_STR, OFF(k), 0, sizeof(((loom_data_schema *)0)->k), 0, 0, NULL, NULL, NULL, ty, "", fl, doc}
#define INT_KEY(k, f, lo, hi, def, doc) {#k, K_INT, OFF(f), 0, 0, lo, hi, NULL, NULL, NULL, NULL, def, 0, doc}
#define CHOICE_KEY(k, f, ch, def, doc, ...) {#k, K_CHOICE, OFF(f), 0, 0, 0, 0, ch, (const int[]){__VA_ARGS__}, NULL, NULL, def, 0, doc}
#define LIST_KEY(k, n, max, doc) {#k, K_LIST, OFF(k), OFF(n), 0, 0, max, NULL, NULL, NULL, "comma-separated column names (a range f0..f1023 names f0, f1, ..., f1023)", "", 0, doc}
#define FN_KEY(k, ty, def, fl, doc) {#k, K_FN, 0, 0, 0, 0, 0, NULL, NULL, fn_##k, ty, def, fl, doc}

static const data_key data_keys[] = {
    STR_KEY(interactions, F_PATH, "path", "CSV (.csv or .csv.gz) of interactions, one row per example; required"),
    STR_KEY(items, F_PATH, "path", "CSV of items, joined on item_col = item_key; its columns are features"),
    STR_KEY(users, F_PATH, "path", "CSV of users, joined on user_col = user_key; its columns are features"),
    STR_KEY(image_root, F_PATH, "path", "folder that relative image and video paths are under (empty: the current directory)"),
    STR_KEY(user_col, 0, "column name", "user key column of interactions (the user ID embedding)"),
    STR_KEY(item_col, 0, "column name", "item key column of interactions (the item ID embedding); may be empty"),
    STR_KEY(item_key, 0, "column name", "key column of items (empty: the same name as item_col)"),
    STR_KEY(user_key, 0, "column name", "key column of users (empty: the same name as user_col)"),
    STR_KEY(label_col, 0, "column name", "label column (a number, or a class name with label_type = class)"),
    STR_KEY(timestamp_col, 0, "column name", "time of each interaction (split = time / leave_last, histories)"),
    STR_KEY(query_col, 0, "column name", "search query text of each interaction"),
    STR_KEY(image_col, 0, "column name", "image file of each row (under image_root)"),
    STR_KEY(split_col, 0, "column name", "split of each row (train|val|test) for split = column"),
    LIST_KEY(text_cols, n_text, LOOM_DATA_MAX_COLS, "item text columns, joined with spaces"),
    LIST_KEY(numeric_cols, n_numeric, LOOM_DATA_MAX_FEATURES, "numeric feature columns (looked up in interactions, then items, then users)"),
    LIST_KEY(category_cols, n_category, LOOM_DATA_MAX_FEATURES, "categorical feature columns (one embedding each)"),
    CHOICE_KEY(split, split, "random|column|time|leave_last", "random",
               "how rows go to train/val/test: at random, by split_col, by time, or each user's last to test",
               LOOM_SPLIT_RANDOM, LOOM_SPLIT_COLUMN, LOOM_SPLIT_TIME, LOOM_SPLIT_LEAVE_LAST),
    FN_KEY(split_ratio, "3 numbers summing to 1", "0.8,0.1,0.1", F_OPAQUE, "train, val, test shares for split = random / time"),
    CHOICE_KEY(missing_key, missing_key, "error|skip", "error", "a row whose item or user key is not in items / users: error, or skip the row",
               LOOM_POLICY_ERROR, LOOM_POLICY_SKIP),
    CHOICE_KEY(missing_image, missing_image, "error|zero", "error", "a row whose image is missing: error, or an all-zero image",
               LOOM_POLICY_ERROR, LOOM_POLICY_ZERO),
    INT_KEY(num_words, num_words, 0, 1 << 24, "20000", "text vocabulary size, most frequent words of the training split (0: all; else >= 3)"),
    INT_KEY(max_len, max_len, 1, 4096, "32", "tokens of item text kept per row"),
    INT_KEY(query_len, query_len, 1, 4096, "16", "tokens of query text kept per row"),
    CHOICE_KEY(pad, pad, "post|pre", "post", "where short texts are padded", LOOM_PAD_POST, LOOM_PAD_PRE),
    FN_KEY(image_size, "HxW, sides in [1, 4096]", "28x28", 0, "size images and video frames are resized to"),
    CHOICE_KEY(channels, image.C, "1|3", "1", "image channels: 1 grey, 3 RGB", 1, 3),
    FN_KEY(image_mean, "1 or 3 numbers", "0", 0, "per-channel mean subtracted from pixel / 255 (one number: every channel)"),
    FN_KEY(image_std, "1 or 3 numbers > 0", "1", 0, "per-channel divisor after the mean (one number: every channel)"),
    FN_KEY(max_image_bytes, "an integer in [1, 1073741824]", "64 MiB", F_OPAQUE, "cap on an image file's size"),
    {"max_image_dim", K_INT, OFF(image.max_dim), 0, 0, 1, 16384, NULL, NULL, NULL, NULL, "16384", F_OPAQUE,
     "cap on an image's width and height"},
    CHOICE_KEY(numeric_scaling, numeric_scaling, "standard|minmax|none", "standard",
               "numeric features scaled with statistics of the training split", LOOM_SCALE_STANDARD, LOOM_SCALE_MINMAX,
               LOOM_SCALE_NONE),
    CHOICE_KEY(numeric_missing, numeric_missing, "error|mean|zero", "error",
               "an empty numeric field: error, the training mean, or zero", LOOM_MISSING_ERROR, LOOM_MISSING_MEAN,
               LOOM_MISSING_ZERO),
    INT_KEY(negatives, negatives, 0, 4096, "0", "sampled negative items per positive (needs user_col and item_col)"),
    CHOICE_KEY(negative_sampling, negative_sampling, "uniform|popularity", "uniform",
               "how negatives are drawn: uniformly, or by item popularity ^ negative_power", LOOM_NEG_UNIFORM,
               LOOM_NEG_POPULARITY),
    FN_KEY(negative_power, "a number in [0, 4]", "0.75", 0, "exponent of popularity sampling"),
    FN_KEY(seed, "a non-negative integer", "42", 0, "seed of the split, shuffling, negatives and augmentation"),
    INT_KEY(batch_size, batch_size, 1, 1 << 20, "32", "rows per batch"),
    INT_KEY(shuffle, shuffle, 0, 1, "1", "shuffle the training rows every epoch"),
    INT_KEY(drop_last, drop_last, 0, 1, "0", "drop the last, short training batch"),
    INT_KEY(augment_flip, augment_flip, 0, 1, "0", "random horizontal flips of training images"),
    INT_KEY(augment_crop_pad, augment_crop_pad, 0, 64, "0", "random crops of training images padded by this many pixels"),
    FN_KEY(max_field_bytes, "an integer in [1, 1073741824]", "1048576", 0, "cap on one CSV field's size"),
    FN_KEY(image_cache_mb, "an integer in [0, 1048576]", "1024", 0, "memory for decoded images kept between epochs (0: none)"),
    CHOICE_KEY(image_paths, image_anywhere, "inside|anywhere", "inside",
               "inside: an image path, symlinks and .. resolved, must lie inside image_root; anywhere: any file", 0, 1),
    CHOICE_KEY(label_type, label_class, "float|class", "float",
               "float: the label is a number; class: names mapped to 0..K-1 in sorted order, fitted on train", 0, 1),
    CHOICE_KEY(key_type, int_keys, "string|int", "string", "int: keys parsed as integers, so 007 and 7 are one key", 0, 1),
    INT_KEY(history_len, history_len, 0, 1024, "0",
            "item indices of the user's last N interactions before each row (needs timestamp_col, user_col, item_col)"),
    CHOICE_KEY(history, history_all, "positives|all", "positives", "which earlier interactions a history holds (positives: label > 0)",
               0, 1),
    INT_KEY(gallery, gallery, 0, 16, "0", "photos per image_col cell, separated by | (fewer repeat in order); 0 or 1: the cell is one path"),
    STR_KEY(video_col, 0, "column name", "video file of each row (under image_root, as images): frames beside the photo"),
    INT_KEY(frames, video.frames, 1, LOOM_VIDEO_MAX_FRAMES_OUT, "4", "frames taken from each video, resized as image_size says"),
    CHOICE_KEY(frame_sampling, video.sampling, "uniform|key", "uniform", "frames evenly spaced in time, or key frames",
               LOOM_FRAMES_UNIFORM, LOOM_FRAMES_KEY),
    FN_KEY(max_video_mb, "an integer in [1, 65536]", "256", F_OPAQUE, "cap on a video file's size in MiB"),
    FN_KEY(max_video_seconds, "seconds in (0, 1000000]", "3600", F_OPAQUE, "cap on a video's duration"),
    FN_KEY(max_video_decode_s, "seconds in (0, 1000000]", "30", F_OPAQUE, "wall-clock budget for decoding one video"),
    FN_KEY(max_video_frames, "an integer in [1, 100000000]", "1000000", F_OPAQUE, "cap on the frames a video stream may hold"),
    STR_KEY(item_vectors, F_PATH, "path",
            "precomputed item vectors keyed by item id: .safetensors (one F32 (N, D) tensor, metadata \"ids\" a JSON array of "
            "the N keys), .npy (float32 (N, D)) with NAME.ids (one key per line) beside it, or .csv id,v0..v{D-1}; "
            "a tower input through [vectors]"),
    STR_KEY(user_vectors, F_PATH, "path", "precomputed user vectors keyed by user id, formats as item_vectors"),
    CHOICE_KEY(missing_vector, missing_vector, "error|zero", "error",
               "an item or user without a vector in item_vectors / user_vectors: error, or zeros (counted in the log)",
               LOOM_POLICY_ERROR, LOOM_POLICY_ZERO),
    FN_KEY(max_vector_mb, "an integer in [1, 1048576]", "16384", F_OPAQUE, "cap on a vector file's size in MiB"),
};
#define N_DATA_KEYS ((int)(sizeof data_keys / sizeof data_keys[0]))

static const data_key *find_data_key(const char *name) {
  for (int i = 0; i < N_DATA_KEYS; i++)
    if (!strcmp(data_keys[i].name, name)) return &data_keys[i];
  return NULL;
}

int loom_data_key_count(void) { return N_DATA_KEYS; }
const char *loom_data_key_name(int i) { return i >= 0 && i < N_DATA_KEYS ? data_keys[i].name : NULL; }
const char *loom_data_key_default(int i) {
  return i >= 0 && i < N_DATA_KEYS && !(data_keys[i].flags & F_OPAQUE) ? data_keys[i].def : NULL;
}
int loom_data_key_is_path(const char *name) {
  const data_key *k = find_data_key(name);
  return k && (k->flags & F_PATH);
}

static int unknown_data_key(const char *key, loom_error *err) {
  char list[2048] = "";
  size_t o = 0;
  const char *best = NULL;
  int best_d = 3; /* like the config's did-you-mean: within 2 edits */
  for (int i = 0; i < N_DATA_KEYS; i++) {
    int d = loom_config_edit_distance(key, data_keys[i].name);
    if (d < best_d) best_d = d, best = data_keys[i].name;
    if (o < sizeof list) o += (size_t)snprintf(list + o, sizeof list - o, "%s%s", i ? ", " : "", data_keys[i].name);
  }
  if (best) return loom_errorf(err, "[data] unknown key '%s'; did you mean '%s'? — valid keys: %s", key, best, list);
  return loom_errorf(err, "[data] unknown key '%s' — valid keys: %s", key, list);
}

int loom_data_schema_set(loom_data_schema *s, const char *key, const char *value, loom_error *err) {
  const data_key *k = find_data_key(key);
  if (!k) return unknown_data_key(key, err);
  char *base = (char *)s;
  switch (k->kind) {
  case K_STR: return set_str(base + k->off, k->cap, key, value, err);
  case K_INT: return set_int((int *)(base + k->off), key, value, k->lo, k->hi, err);
  case K_CHOICE: return set_choice((int *)(base + k->off), key, value, k->choices, k->vals, err);
  case K_LIST: return set_list((char(*)[LOOM_DATA_NAME])(base + k->off), (int *)(base + k->off2), (int)k->hi, key, value, err);
  case K_FN: return k->fn(s, key, value, err);
  }
  return loom_errorf(err, "[data] %s: unknown key kind", key);
}

void loom_data_print_reference(void *file) {
  FILE *f = file;
  fprintf(f, "[data] keys (owned by the data module):\n");
  for (int i = 0; i < N_DATA_KEYS; i++) {
    const data_key *k = &data_keys[i];
    fprintf(f, "  %-20s ", k->name);
    switch (k->kind) {
    case K_INT: fprintf(f, "an integer in [%ld, %ld]", k->lo, k->hi); break;
    case K_CHOICE: fprintf(f, "%s", k->choices); break;
    default: fprintf(f, "%s", k->type); break;
    }
    fprintf(f, " (default: %s)%s\n      %s\n", k->def[0] ? k->def : "empty",
            k->flags & F_PATH ? " — a relative path is taken from the current directory" : "", k->doc);
  }
}

/* Target leakage: the label (or the split marker) fed back as a feature trains the model on its own
 * answer (issue 13: validation AUC 0.91 after 5 steps); the ID columns are the ID embeddings already. */
static int check_leakage(const loom_data_schema *s, loom_error *err) {
  struct { const char *col, *what, *why; } roles[] = {
      {s->label_col, "label_col", "the model would be given the answer it is trained to predict"},
      {s->split == LOOM_SPLIT_COLUMN ? s->split_col : "", "split_col",
       "the model would learn which split a row is in, not the target"},
      {s->user_col, "user_col", "it is read as the user ID embedding already (interaction.user_dim)"},
      {s->item_col, "item_col", "it is read as the item ID embedding already (interaction.item_dim)"},
  };
  struct { const char *key; const char (*cols)[LOOM_DATA_NAME]; int n; } lists[] = {
      {"text_cols", s->text_cols, s->n_text},
      {"numeric_cols", s->numeric_cols, s->n_numeric},
      {"category_cols", s->category_cols, s->n_category},
      {"query_col", &s->query_col, s->query_col[0] ? 1 : 0},
      {"image_col", &s->image_col, s->image_col[0] ? 1 : 0},
      {"video_col", &s->video_col, s->video_col[0] ? 1 : 0},
  };
  for (size_t r = 0; r < sizeof roles / sizeof roles[0]; r++) {
    if (!roles[r].col[0]) continue;
    for (size_t l = 0; l < sizeof lists / sizeof lists[0]; l++)
      for (int i = 0; i < lists[l].n; i++)
        if (!strcmp(lists[l].cols[i], roles[r].col))
          return loom_errorf(err, "[data] %s lists '%s', which is the %s: %s — remove it from %s", lists[l].key,
                             roles[r].col, roles[r].what, roles[r].why, lists[l].key);
  }
  return 0;
}

int loom_data_schema_validate(const loom_data_schema *s, loom_error *err) {
  if (!s->interactions[0]) return loom_errorf(err, "[data] interactions: not set — give the path of the interactions CSV");
  if (!s->item_col[0] && (s->items[0] || s->negatives > 0))
    return loom_errorf(err, "[data] item_col: not set — items and negatives need the item column of the interactions table");
  if (s->label_class && !s->label_col[0]) return loom_errorf(err, "[data] label_type=class needs label_col");
  double sum = s->split_ratio[0] + s->split_ratio[1] + s->split_ratio[2];
  for (int i = 0; i < 3; i++)
    if (s->split_ratio[i] < 0) return loom_errorf(err, "[data] split_ratio: negative ratio");
  if (fabs(sum - 1.0) > 1e-6) return loom_errorf(err, "[data] split_ratio: ratios sum to %g, not 1 (e.g. 0.8,0.1,0.1)", sum);
  if (s->split == LOOM_SPLIT_COLUMN && !s->split_col[0])
    return loom_errorf(err, "[data] split=column needs split_col (values train|val|test)");
  if ((s->split == LOOM_SPLIT_TIME || s->split == LOOM_SPLIT_LEAVE_LAST) && !s->timestamp_col[0])
    return loom_errorf(err, "[data] split=%s needs timestamp_col", s->split == LOOM_SPLIT_TIME ? "time" : "leave_last");
  if (s->split == LOOM_SPLIT_LEAVE_LAST && !s->user_col[0]) return loom_errorf(err, "[data] split=leave_last needs user_col");
  if (s->users[0] && !s->user_col[0]) return loom_errorf(err, "[data] users is set but user_col is not");
  if (s->negatives > 0 && !s->user_col[0]) return loom_errorf(err, "[data] negatives needs user_col (positives are per user)");
  if (s->history_len > 0 && (!s->timestamp_col[0] || !s->user_col[0] || !s->item_col[0]))
    return loom_errorf(err, "[data] history_len = %d needs %s (a user's history is their earlier items, ordered by time)",
                       s->history_len, !s->timestamp_col[0] ? "timestamp_col" : !s->user_col[0] ? "user_col" : "item_col");
  if (check_leakage(s, err) < 0) return -1;
  if (s->video_col[0] && !strcmp(s->video_col, s->image_col))
    return loom_errorf(err, "[data] video_col and image_col are both '%s' — a column holds photos or videos, not both",
                       s->video_col);
  if (s->item_vectors[0] && !s->item_col[0])
    return loom_errorf(err, "[data] item_vectors needs item_col (vectors are keyed by item id)");
  if (s->user_vectors[0] && !s->user_col[0])
    return loom_errorf(err, "[data] user_vectors needs user_col (vectors are keyed by user id)");
  if (s->num_words != 0 && s->num_words < 3) return loom_errorf(err, "[data] num_words: %d is too small (>= 3, or 0 for all)", s->num_words);
  return 0;
}

#define SEEN_MAX 96 /* more than the [data] keys there are */

typedef struct ini_ctx {
  loom_data_schema *s;
  loom_error *err;
  const char *path;
  FILE *f;
  int line; /* lines read so far: inih calls the handler right after reading the entry's line */
  int failed;
  int data_line;                                /* line of the [data] header */
  char seen[SEEN_MAX][LOOM_DATA_NAME]; /* [data] keys read so far, and their lines */
  int seen_line[SEEN_MAX];
  int n_seen;
} ini_ctx;

static char *read_line(char *str, int num, void *stream) {
  ini_ctx *c = stream;
  char *r = fgets(str, num, c->f);
  if (!r) return r;
  c->line++;
  const char *p = r;
  while (*p == ' ' || *p == '\t') p++;
  if (!c->failed && !strncmp(p, "[data]", 6)) { /* one rule with loom_config_load: a section given twice is an error */
    if (c->data_line) {
      loom_errorf(c->err, "%s:%d: section [data] appears twice (first on line %d); merge the two into one", c->path,
                  c->line, c->data_line);
      c->failed = 1;
    }
    c->data_line = c->line;
  }
  return r;
}

static int on_ini(void *user, const char *section, const char *name, const char *value) {
  ini_ctx *c = user;
  int lineno = c->line;
  if (c->failed || strcmp(section, "data") != 0) return 1;
  for (int i = 0; i < c->n_seen; i++)
    if (!strcmp(c->seen[i], name)) {
      loom_errorf(c->err, "%s:%d: data.%s is set twice (first on line %d); keep one", c->path, lineno, name, c->seen_line[i]);
      c->failed = 1;
      return 0;
    }
  if (c->n_seen < SEEN_MAX) {
    snprintf(c->seen[c->n_seen], LOOM_DATA_NAME, "%s", name);
    c->seen_line[c->n_seen++] = lineno;
  }
  if (loom_data_schema_set(c->s, name, value, c->err) < 0) {
    c->failed = 1;
    loom_error_wrap(c->err, "%s:%d", c->path, lineno);
    return 0;
  }
  return 1;
}

int loom_data_schema_load_ini(loom_data_schema *s, const char *path, loom_error *err) {
  int fd = loom_file_open_regular(path, 0, "config", NULL, NULL, err);
  if (fd == -2) return loom_errorf(err, "%s: cannot open the config file (%s)", path, strerror(errno));
  if (fd < 0) return -1;
  ini_ctx c = {.s = s, .err = err, .path = path, .f = fdopen(fd, "r")};
  if (!c.f) {
    int e = errno;
    close(fd);
    return loom_errorf(err, "%s: cannot open the config file (%s)", path, strerror(e));
  }
  int rc = ini_parse_stream(read_line, &c, on_ini, &c);
  fclose(c.f);
  if (c.failed) return -1;
  if (rc > 0) return loom_errorf(err, "%s:%d: INI syntax error — expected [section] or key = value", path, rc);
  return 0;
}
