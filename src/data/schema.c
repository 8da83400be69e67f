/* schema.c — the [data] section of a run's INI (loom/data.h): defaults, one setter per key that
 * the app's config loader calls, cross-field validation, and a libinih loader for tests and tools.
 * Every message names the key and lists the valid choices. */
#include <errno.h>
#include <ini.h>
#include <math.h>
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

static int set_choice(int *dst, const char *key, const char *v, const char *const *names, const int *vals, int n,
                      loom_error *err) {
  for (int i = 0; i < n; i++)
    if (strcmp(v, names[i]) == 0) { *dst = vals[i]; return 0; }
  char list[256] = "";
  for (int i = 0; i < n; i++) {
    size_t l = strlen(list);
    snprintf(list + l, sizeof list - l, "%s%s", i ? "|" : "", names[i]);
  }
  return loom_errorf(err, "[data] %s: '%s' is not one of %s", key, v, list);
}

static int set_list(char (*dst)[LOOM_DATA_NAME], int *n, const char *key, const char *v, loom_error *err) {
  *n = 0;
  const char *p = v;
  while (*p) {
    while (*p == ' ' || *p == ',') p++;
    if (!*p) break;
    const char *e = p;
    while (*e && *e != ',') e++;
    const char *t = e;
    while (t > p && t[-1] == ' ') t--;
    if (*n == LOOM_DATA_MAX_COLS) return loom_errorf(err, "[data] %s: more than %d columns", key, LOOM_DATA_MAX_COLS);
    if ((size_t)(t - p) >= LOOM_DATA_NAME) return loom_errorf(err, "[data] %s: column name too long", key);
    memcpy(dst[*n], p, (size_t)(t - p));
    dst[*n][t - p] = '\0';
    (*n)++;
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

#define STR(k) if (strcmp(key, #k) == 0) return set_str(s->k, sizeof s->k, key, value, err)

int loom_data_schema_set(loom_data_schema *s, const char *key, const char *value, loom_error *err) {
  STR(interactions); STR(items); STR(users); STR(image_root);
  STR(user_col); STR(item_col); STR(item_key); STR(user_key); STR(label_col); STR(timestamp_col);
  STR(query_col); STR(image_col); STR(split_col); STR(video_col);
  if (!strcmp(key, "gallery")) return set_int(&s->gallery, key, value, 1, 16, err);
  if (!strcmp(key, "frames")) return set_int(&s->video.frames, key, value, 1, LOOM_VIDEO_MAX_FRAMES_OUT, err);
  if (!strcmp(key, "frame_sampling")) {
    int v = 0;
    if (set_choice(&v, key, value, (const char *const[]){"uniform", "key"}, (const int[]){LOOM_FRAMES_UNIFORM, LOOM_FRAMES_KEY},
                   2, err) < 0)
      return -1;
    s->video.sampling = (loom_frame_sampling)v;
    return 0;
  }
  if (!strcmp(key, "max_video_mb")) {
    int v = 0;
    if (set_int(&v, key, value, 1, 65536, err) < 0) return -1;
    s->video.max_file_bytes = (size_t)v << 20;
    return 0;
  }
  if (!strcmp(key, "max_video_seconds") || !strcmp(key, "max_video_decode_s")) {
    char *end;
    errno = 0;
    double v = strtod(value, &end);
    if (end == value || *end || errno || !(v > 0) || v > 1e6)
      return loom_errorf(err, "[data] %s: '%s' is not a number of seconds in (0, 1000000]", key, value);
    if (!strcmp(key, "max_video_seconds")) s->video.max_duration_s = v;
    else s->video.max_decode_s = v;
    return 0;
  }
  if (!strcmp(key, "max_video_frames")) {
    int v = 0;
    if (set_int(&v, key, value, 1, 100000000, err) < 0) return -1;
    s->video.max_frames = v;
    return 0;
  }
  if (!strcmp(key, "text_cols")) return set_list(s->text_cols, &s->n_text, key, value, err);
  if (!strcmp(key, "numeric_cols")) return set_list(s->numeric_cols, &s->n_numeric, key, value, err);
  if (!strcmp(key, "category_cols")) return set_list(s->category_cols, &s->n_category, key, value, err);
  if (!strcmp(key, "split")) {
    int v = 0;
    if (set_choice(&v, key, value, (const char *const[]){"random", "column", "time", "leave_last"},
                   (const int[]){LOOM_SPLIT_RANDOM, LOOM_SPLIT_COLUMN, LOOM_SPLIT_TIME, LOOM_SPLIT_LEAVE_LAST}, 4, err) < 0)
      return -1;
    s->split = (loom_split_kind)v;
    return 0;
  }
  if (!strcmp(key, "split_ratio")) {
    float r[3];
    if (set_floats(r, 3, key, value, err) < 0) return -1;
    for (int i = 0; i < 3; i++) s->split_ratio[i] = r[i];
    return 0;
  }
  if (!strcmp(key, "missing_key") || !strcmp(key, "missing_image")) {
    int v = 0;
    const char *alt = key[8] == 'k' ? "skip" : "zero";
    if (set_choice(&v, key, value, (const char *const[]){"error", alt}, (const int[]){0, 1}, 2, err) < 0) return -1;
    if (key[8] == 'k') s->missing_key = (loom_policy)v;
    else s->missing_image = (loom_policy)v;
    return 0;
  }
  if (!strcmp(key, "label_type")) {
    int v = 0;
    if (set_choice(&v, key, value, (const char *const[]){"float", "class"}, (const int[]){0, 1}, 2, err) < 0) return -1;
    s->label_class = v;
    return 0;
  }
  if (!strcmp(key, "image_paths")) /* issue 13 (data helper): keep image paths inside image_root */
    return set_choice(&s->image_anywhere, key, value, (const char *const[]){"inside", "anywhere"}, (const int[]){0, 1}, 2, err);
  if (!strcmp(key, "key_type")) {
    int v = 0;
    if (set_choice(&v, key, value, (const char *const[]){"string", "int"}, (const int[]){0, 1}, 2, err) < 0) return -1;
    s->int_keys = v;
    return 0;
  }
  if (!strcmp(key, "num_words")) return set_int(&s->num_words, key, value, 0, 1 << 24, err);
  if (!strcmp(key, "max_len")) return set_int(&s->max_len, key, value, 1, 4096, err);
  if (!strcmp(key, "query_len")) return set_int(&s->query_len, key, value, 1, 4096, err);
  if (!strcmp(key, "pad")) {
    int v = 0;
    if (set_choice(&v, key, value, (const char *const[]){"post", "pre"}, (const int[]){LOOM_PAD_POST, LOOM_PAD_PRE}, 2, err) < 0)
      return -1;
    s->pad = (loom_pad)v;
    return 0;
  }
  if (!strcmp(key, "image_size")) {
    int h, w, n = 0;
    if (sscanf(value, "%dx%d%n", &h, &w, &n) != 2 || value[n] || h < 1 || w < 1 || h > 4096 || w > 4096)
      return loom_errorf(err, "[data] image_size: '%s' is not HxW with sides in [1, 4096] (e.g. 28x28)", value);
    s->image.H = h, s->image.W = w;
    return 0;
  }
  if (!strcmp(key, "channels")) {
    int v = 0;
    if (set_choice(&v, key, value, (const char *const[]){"1", "3"}, (const int[]){1, 3}, 2, err) < 0) return -1;
    s->image.C = v;
    return 0;
  }
  if (!strcmp(key, "image_mean")) return set_floats(s->image.mean, 3, key, value, err);
  if (!strcmp(key, "image_std")) {
    if (set_floats(s->image.std, 3, key, value, err) < 0) return -1;
    for (int c = 0; c < 3; c++)
      if (!(s->image.std[c] > 0)) return loom_errorf(err, "[data] image_std: every value must be > 0");
    return 0;
  }
  if (!strcmp(key, "max_image_bytes")) {
    int v = 0;
    if (set_int(&v, key, value, 1, 1 << 30, err) < 0) return -1;
    s->image.max_file_bytes = (size_t)v;
    return 0;
  }
  if (!strcmp(key, "max_image_dim")) return set_int(&s->image.max_dim, key, value, 1, 16384, err);
  if (!strcmp(key, "numeric_scaling")) {
    int v = 0;
    if (set_choice(&v, key, value, (const char *const[]){"standard", "minmax", "none"},
                   (const int[]){LOOM_SCALE_STANDARD, LOOM_SCALE_MINMAX, LOOM_SCALE_NONE}, 3, err) < 0)
      return -1;
    s->numeric_scaling = (loom_scaling)v;
    return 0;
  }
  if (!strcmp(key, "numeric_missing")) {
    int v = 0;
    if (set_choice(&v, key, value, (const char *const[]){"error", "mean", "zero"},
                   (const int[]){LOOM_MISSING_ERROR, LOOM_MISSING_MEAN, LOOM_MISSING_ZERO}, 3, err) < 0)
      return -1;
    s->numeric_missing = (loom_num_missing)v;
    return 0;
  }
  if (!strcmp(key, "negatives")) return set_int(&s->negatives, key, value, 0, 4096, err);
  if (!strcmp(key, "negative_sampling")) {
    int v = 0;
    if (set_choice(&v, key, value, (const char *const[]){"uniform", "popularity"},
                   (const int[]){LOOM_NEG_UNIFORM, LOOM_NEG_POPULARITY}, 2, err) < 0)
      return -1;
    s->negative_sampling = (loom_neg_sampling)v;
    return 0;
  }
  if (!strcmp(key, "negative_power")) {
    char *end;
    double x = strtod(value, &end);
    if (end == value || *end || !(x >= 0 && x <= 4))
      return loom_errorf(err, "[data] negative_power: '%s' is not a number in [0, 4]", value);
    s->negative_power = x;
    return 0;
  }
  if (!strcmp(key, "seed")) {
    char *end;
    errno = 0;
    unsigned long long x = strtoull(value, &end, 10);
    if (!*value || *end || errno || value[0] == '-')
      return loom_errorf(err, "[data] seed: '%s' is not a non-negative integer", value);
    s->seed = x;
    return 0;
  }
  if (!strcmp(key, "batch_size")) return set_int(&s->batch_size, key, value, 1, 1 << 20, err);
  if (!strcmp(key, "shuffle")) return set_int(&s->shuffle, key, value, 0, 1, err);
  if (!strcmp(key, "drop_last")) return set_int(&s->drop_last, key, value, 0, 1, err);
  if (!strcmp(key, "augment_flip")) return set_int(&s->augment_flip, key, value, 0, 1, err);
  if (!strcmp(key, "augment_crop_pad")) return set_int(&s->augment_crop_pad, key, value, 0, 64, err);
  if (!strcmp(key, "history_len")) return set_int(&s->history_len, key, value, 0, 1024, err);
  if (!strcmp(key, "history"))
    return set_choice(&s->history_all, key, value, (const char *const[]){"positives", "all"}, (const int[]){0, 1}, 2, err);
  if (!strcmp(key, "max_field_bytes")) {
    int v = 0;
    if (set_int(&v, key, value, 1, 1 << 30, err) < 0) return -1;
    s->max_field_bytes = (size_t)v;
    return 0;
  }
  if (!strcmp(key, "image_cache_mb")) {
    int v = 0;
    if (set_int(&v, key, value, 0, 1 << 20, err) < 0) return -1;
    s->image_cache_bytes = (int64_t)v << 20;
    return 0;
  }
  return loom_errorf(err, "[data] unknown key '%s' — valid keys: interactions, items, users, image_root, user_col, item_col, "
                          "item_key, user_key, label_col, timestamp_col, query_col, image_col, split_col, text_cols, "
                          "numeric_cols, category_cols, split, split_ratio, missing_key, missing_image, num_words, max_len, "
                          "query_len, pad, image_size, channels, image_mean, image_std, max_image_bytes, max_image_dim, "
                          "numeric_scaling, numeric_missing, negatives, negative_sampling, negative_power, seed, batch_size, "
                          "shuffle, drop_last, augment_flip, augment_crop_pad, max_field_bytes, image_cache_mb, image_paths, "
                          "history_len, history, gallery, video_col, frames, frame_sampling, max_video_mb, max_video_seconds, "
                          "max_video_decode_s, max_video_frames",
                     key);
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
  if (s->num_words != 0 && s->num_words < 3) return loom_errorf(err, "[data] num_words: %d is too small (>= 3, or 0 for all)", s->num_words);
  return 0;
}

#define SEEN_MAX 64 /* more than the [data] keys there are */

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
