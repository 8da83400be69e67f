/* dataset.c — tables → joined, split, preprocessed rows (loom/data.h). Reads interactions (and items,
 * users), joins by key, splits (random, column, time, leave-last-out), fits vocabulary, ID maps and
 * numeric statistics on the training rows only, precomputes per-row indices and scaled numbers, and
 * encodes rows into batches (text tokenised per batch, images decoded once and cached by path).
 * Shuffling, augmentation and prefetching are the loader's (loader.c). */
#include <assert.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/stat.h>

#include "data_internal.h"
#include "loom/alloc.h"
#include "loom/data.h"
#include "loom/sha256.h"
#include "loom/vectors.h"

enum { TAB_INTER = 0, TAB_ITEMS = 1, TAB_USERS = 2 };

typedef struct colref {
  int tab, col;
} colref;

struct loom_dataset {
  loom_data_schema s;
  int frozen;
  const loom_vocab *given_vocab; /* loom_dataset_open_vocab's, during the open only */
  loom_table tab[3];
  int has[3];
  int c_user, c_item, c_label, c_ts, c_query, c_split, c_image_tab, c_image;
  colref text[LOOM_DATA_MAX_COLS], num[LOOM_DATA_MAX_FEATURES], cat[LOOM_DATA_MAX_FEATURES], image, video;
  int64_t n;                 /* interaction rows */
  int32_t *item_row, *user_row; /* (n) joined rows, -1 when absent */
  int32_t *split_rows[4];    /* train, val, test, all */
  int64_t split_n[4];
  int64_t skipped, zero_images;
  loom_prep prep;
  int32_t *user_idx, *item_idx, *cat_idx; /* (n), (n), (n, n_cat) */
  float *numeric;            /* (n, F) */
  float *label;              /* (n) */
  float *xlabel;             /* (n, s.n_label_cols) the multitask heads' label columns */
  int c_xlabel[LOOM_DATA_MAX_LABELS];
  int32_t n_items;           /* item ids incl. 0 */
  int32_t *item_rep;         /* (n_items) representative row, -1 */
  int32_t *item_cat;         /* (n_items) the item's row in the items table, -1 (frozen datasets) */
  int64_t *pos_off;          /* (n_users + 1) CSR of each user's training positives */
  int32_t *pos_items;
  double *pop_cdf;           /* (n_items) cumulative count^power, for popularity sampling */
  int32_t *hist, *hist_len;  /* (n, history_len), (n): behaviour histories (history.c) */
  loom_vectors *vec[2];      /* [data] item_vectors, user_vectors (NULL = none) */
  int32_t *vrow[2];          /* (n) each interaction row's item / user vector row, -1 = zeros */
  int64_t zero_vec[2];       /* rows given zeros (missing_vector = zero) */
  ld_history_in hin;         /* what they were built from, for loom_dataset_user_history */
  ld_buf text_buf;
  int32_t *tok_cache;        /* (items rows, T + 1) item text ids + length, when all text is item text */
  uint8_t *tok_done;         /* (items rows) */
  ld_map img_map;            /* path → cache slot */
  float **img_cache;
  int32_t img_cap;
  int64_t img_bytes;
  float *img_scratch;        /* (C, H, W) */
  char img_root_real[4096];  /* realpath of image_root (or "."), for image_paths=inside */
  int img_root_state;        /* 1 resolved, -1 image_root cannot be resolved */
  pthread_mutex_t mu;
};

void ld_dataset_lock(loom_dataset *ds) { pthread_mutex_lock(&ds->mu); }
void ld_dataset_unlock(loom_dataset *ds) { pthread_mutex_unlock(&ds->mu); }
const loom_data_schema *ld_dataset_schema(const loom_dataset *ds) { return &ds->s; }

static const char *TAB_NAME[3] = {"interactions", "items", "users"};

/* User data quoted in a message: escaped (ld_quote) and its invisible characters named (ld_invisible_note). */
#define Q(buf, str, cap) ld_quote((buf), (cap), (str), strlen(str))
#define NOTE(buf, str) ld_invisible_note((buf), sizeof(buf), (str), strlen(str))

/* Row r >= 0 is an interaction row (joined with its item and user rows); r < 0 is row -r - 1 of the
 * items table on its own (the catalogue), which has only the items table's columns. */
static int64_t row_in(const loom_dataset *ds, int tab, int64_t r) {
  if (r < 0) return tab == TAB_ITEMS ? -r - 1 : -1;
  return tab == TAB_INTER ? r : tab == TAB_ITEMS ? ds->item_row[r] : ds->user_row[r];
}

static const char *str_at(const loom_dataset *ds, colref c, int64_t r) {
  int64_t row = c.col < 0 ? -1 : row_in(ds, c.tab, r);
  return row < 0 ? "" : loom_table_str(&ds->tab[c.tab], c.col, row);
}

static double num_at(const loom_dataset *ds, colref c, int64_t r) {
  int64_t row = c.col < 0 ? -1 : row_in(ds, c.tab, r);
  return row < 0 ? NAN : ds->tab[c.tab].cols[c.col].f[row];
}

static int64_t line_of(const loom_dataset *ds, int64_t r) {
  return r < 0 ? ds->tab[TAB_ITEMS].line[-r - 1] : ds->tab[TAB_INTER].line[r];
}
static const char *file_of(const loom_dataset *ds, int64_t r) { return r < 0 ? ds->s.items : ds->s.interactions; }

/* ---- reading: every feature column is optional in each table and resolved afterwards */

#define SPEC_MAX (2 * LOOM_DATA_MAX_FEATURES + LOOM_DATA_MAX_COLS + 16) /* columns read from one table */
typedef struct specs {
  loom_colspec c[3][SPEC_MAX];
  int n[3];
} specs;

static int add_spec(specs *sp, int tab, const char *name, loom_col_type type, int optional) {
  for (int i = 0; i < sp->n[tab]; i++)
    if (strcmp(sp->c[tab][i].name, name) == 0) return i;
  assert(sp->n[tab] < SPEC_MAX);
  sp->c[tab][sp->n[tab]] = (loom_colspec){name, type, optional};
  return sp->n[tab]++;
}

static int resolve(loom_dataset *ds, const char *name, loom_col_type type, colref *out, loom_error *err) {
  for (int t = 0; t < 3; t++) {
    if (!ds->has[t]) continue;
    int c = loom_table_find(&ds->tab[t], name);
    if (c >= 0 && ds->tab[t].cols[c].present && ds->tab[t].cols[c].type == type) {
      *out = (colref){t, c};
      return 0;
    }
  }
  return loom_errorf(err, "[data] column '%s' is in none of the tables (interactions%s%s) — fix the name in the config",
                     name, ds->has[1] ? ", items" : "", ds->has[2] ? ", users" : "");
}

static int read_tables_with(loom_dataset *ds, specs *sp, loom_error *err);
static int read_tables(loom_dataset *ds, loom_error *err) {
  specs *sp = loom_calloc(1, sizeof *sp); /* ~100 KiB with 1,024-column lists: not on the stack */
  if (!sp) return loom_errorf(err, "out of memory");
  int rc = read_tables_with(ds, sp, err);
  loom_free(sp);
  return rc;
}

static int read_tables_with(loom_dataset *ds, specs *sp, loom_error *err) {
  const loom_data_schema *s = &ds->s;
  ds->has[0] = s->interactions[0] != 0, ds->has[1] = s->items[0] != 0, ds->has[2] = s->users[0] != 0;
  const char *ikey = s->item_key[0] ? s->item_key : s->item_col, *ukey = s->user_key[0] ? s->user_key : s->user_col;
  if (s->item_col[0]) add_spec(sp, 0, s->item_col, LOOM_COL_STRING, 0);
  if (s->user_col[0]) add_spec(sp, 0, s->user_col, LOOM_COL_STRING, 0);
  if (s->label_col[0]) add_spec(sp, 0, s->label_col, s->label_class ? LOOM_COL_STRING : LOOM_COL_FLOAT, ds->frozen);
  if (s->timestamp_col[0]) add_spec(sp, 0, s->timestamp_col, LOOM_COL_FLOAT, ds->frozen);
  for (int i = 0; i < s->n_label_cols; i++) add_spec(sp, 0, s->label_cols[i], LOOM_COL_FLOAT, ds->frozen);
  if (s->query_col[0]) add_spec(sp, 0, s->query_col, LOOM_COL_STRING, 0);
  if (s->split_col[0] && s->split == LOOM_SPLIT_COLUMN) add_spec(sp, 0, s->split_col, LOOM_COL_STRING, ds->frozen);
  if (ds->has[1]) add_spec(sp, 1, ikey, LOOM_COL_STRING, 0);
  if (ds->has[2]) add_spec(sp, 2, ukey, LOOM_COL_STRING, 0);
  for (int t = 0; t < 3; t++) {
    if (!ds->has[t]) continue;
    for (int i = 0; i < s->n_text; i++) add_spec(sp, t, s->text_cols[i], LOOM_COL_STRING, 1);
    for (int i = 0; i < s->n_numeric; i++) add_spec(sp, t, s->numeric_cols[i], LOOM_COL_FLOAT, 1);
    for (int i = 0; i < s->n_category; i++) add_spec(sp, t, s->category_cols[i], LOOM_COL_STRING, 1);
    if (s->image_col[0]) add_spec(sp, t, s->image_col, LOOM_COL_STRING, 1);
    if (s->video_col[0]) add_spec(sp, t, s->video_col, LOOM_COL_STRING, 1);
  }
  loom_csv_opts o = {s->max_field_bytes, 0};
  const char *paths[3] = {s->interactions, s->items, s->users};
  for (int t = 0; t < 3; t++)
    if (ds->has[t] && loom_table_read(&ds->tab[t], paths[t], sp->c[t], sp->n[t], &o, err) < 0) return -1;
  ds->n = ds->has[0] ? ds->tab[0].nrows : 0;
  if (ds->n >= INT32_MAX) return loom_errorf(err, "%s: more than 2^31 rows — split the file", s->interactions);
  loom_table *in = &ds->tab[0];
  ds->c_item = ds->c_user = ds->c_label = ds->c_ts = ds->c_query = ds->c_split = -1;
  for (int i = 0; i < s->n_text; i++) ds->text[i] = (colref){TAB_INTER, -1};
  for (int i = 0; i < s->n_numeric; i++) ds->num[i] = (colref){TAB_INTER, -1};
  for (int i = 0; i < s->n_category; i++) ds->cat[i] = (colref){TAB_INTER, -1};
  ds->image = ds->video = (colref){TAB_INTER, -1};
  if (!ds->has[0]) { /* a catalogue: columns only interactions rows have are unknown (col -1) */
    colref *refs[] = {ds->text, ds->num, ds->cat};
    const char(*names[])[LOOM_DATA_NAME] = {s->text_cols, s->numeric_cols, s->category_cols};
    int counts[] = {s->n_text, s->n_numeric, s->n_category};
    loom_col_type types[] = {LOOM_COL_STRING, LOOM_COL_FLOAT, LOOM_COL_STRING};
    loom_error ignored;
    for (int k = 0; k < 3; k++)
      for (int i = 0; i < counts[k]; i++) resolve(ds, names[k][i], types[k], &refs[k][i], &ignored);
    if (s->image_col[0]) resolve(ds, s->image_col, LOOM_COL_STRING, &ds->image, &ignored);
    if (s->video_col[0]) resolve(ds, s->video_col, LOOM_COL_STRING, &ds->video, &ignored);
    return 0;
  }
  ds->c_item = s->item_col[0] ? loom_table_find(in, s->item_col) : -1;
  ds->c_user = s->user_col[0] ? loom_table_find(in, s->user_col) : -1;
  ds->c_label = s->label_col[0] ? loom_table_find(in, s->label_col) : -1;
  for (int i = 0; i < s->n_label_cols; i++) ds->c_xlabel[i] = loom_table_find(in, s->label_cols[i]);
  ds->c_ts = s->timestamp_col[0] ? loom_table_find(in, s->timestamp_col) : -1;
  ds->c_query = s->query_col[0] ? loom_table_find(in, s->query_col) : -1;
  ds->c_split = s->split_col[0] && s->split == LOOM_SPLIT_COLUMN ? loom_table_find(in, s->split_col) : -1;
  for (int i = 0; i < s->n_text; i++)
    if (resolve(ds, s->text_cols[i], LOOM_COL_STRING, &ds->text[i], err) < 0) return -1;
  for (int i = 0; i < s->n_numeric; i++)
    if (resolve(ds, s->numeric_cols[i], LOOM_COL_FLOAT, &ds->num[i], err) < 0) return -1;
  for (int i = 0; i < s->n_category; i++)
    if (resolve(ds, s->category_cols[i], LOOM_COL_STRING, &ds->cat[i], err) < 0) return -1;
  if (s->image_col[0] && resolve(ds, s->image_col, LOOM_COL_STRING, &ds->image, err) < 0) return -1;
  if (s->video_col[0] && resolve(ds, s->video_col, LOOM_COL_STRING, &ds->video, err) < 0) return -1;
  return 0;
}

/* ---- join */

/* key_type=int: rewrites each key of column c in place as its canonical decimal (never longer). */
static int canonical_int_keys(loom_table *t, int c, loom_error *err) {
  loom_table_col *col = &t->cols[c];
  char q[200], note[128];
  for (int64_t r = 0; r < t->nrows; r++) {
    char *k = col->sbuf + col->soff[r], *end;
    errno = 0;
    long long v = strtoll(k, &end, 10);
    while (*end == ' ' || *end == '\t') end++;
    if (!*k || *end || errno)
      return loom_errorf(err, "%s:%lld: column '%s': key '%s' is not an integer%s — fix it or set key_type=string",
                         t->path, (long long)t->line[r], col->name, Q(q, k, 44), NOTE(note, k));
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%lld", v);
    if ((size_t)n > strlen(k)) return loom_errorf(err, "%s: internal error canonicalising keys", t->path);
    memcpy(k, buf, (size_t)n + 1);
  }
  return 0;
}

static int join(loom_dataset *ds, uint8_t *valid, loom_error *err) {
  const loom_data_schema *s = &ds->s;
  if (s->int_keys) {
    if (ds->c_item >= 0 && canonical_int_keys(&ds->tab[0], ds->c_item, err) < 0) return -1;
    if (ds->c_user >= 0 && canonical_int_keys(&ds->tab[0], ds->c_user, err) < 0) return -1;
    for (int t = 1; t < 3; t++)
      if (ds->has[t] && canonical_int_keys(&ds->tab[t], 0, err) < 0) return -1;
  }
  ds->item_row = loom_malloc((size_t)(ds->n + 1) * sizeof(int32_t));
  ds->user_row = loom_malloc((size_t)(ds->n + 1) * sizeof(int32_t));
  if (!ds->item_row || !ds->user_row) return loom_errorf(err, "out of memory joining tables");
  for (int64_t r = 0; r < ds->n; r++) ds->item_row[r] = ds->user_row[r] = -1, valid[r] = 1;
  for (int t = 1; t < 3; t++) {
    if (!ds->has[t]) continue;
    loom_table *tb = &ds->tab[t];
    int kc = 0; /* the key is the first requested column */
    ld_map m;
    ld_map_init(&m);
    for (int64_t r = 0; r < tb->nrows; r++) {
      const char *k = loom_table_str(tb, kc, r);
      int added;
      int32_t e = ld_map_put(&m, k, strlen(k), (int32_t)r, &added);
      if (e < 0) { ld_map_free(&m); return loom_errorf(err, "out of memory joining tables"); }
      if (!added) {
        int64_t first = tb->line[m.val[e]];
        ld_map_free(&m);
        char q[200];
        return loom_errorf(err, "%s:%lld: duplicate key '%s' in column '%s' (first at line %lld) — keys of the %s table must be unique",
                           tb->path, (long long)tb->line[r], Q(q, k, sizeof q), tb->cols[kc].name, (long long)first, TAB_NAME[t]);
      }
    }
    int ic = t == TAB_ITEMS ? ds->c_item : ds->c_user;
    int32_t *dst = t == TAB_ITEMS ? ds->item_row : ds->user_row;
    for (int64_t r = 0; r < ds->n; r++) {
      const char *k = loom_table_str(&ds->tab[0], ic, r);
      int32_t v = ld_map_get(&m, k, strlen(k));
      if (v < 0 && t == TAB_USERS && ds->frozen) continue; /* inference: a new user, its columns unknown */
      if (v < 0) {
        if (s->missing_key == LOOM_POLICY_SKIP) {
          if (valid[r]) ds->skipped++;
          valid[r] = 0;
          continue;
        }
        ld_map_free(&m);
        char q[200], note[128];
        return loom_errorf(err, "%s:%lld: column '%s': key '%s'%s is not in %s (column '%s') — add it there, or set missing_key=skip to drop such rows",
                           ds->tab[0].path, (long long)line_of(ds, r), ds->tab[0].cols[ic].name, Q(q, k, sizeof q), NOTE(note, k),
                           tb->path, tb->cols[kc].name);
      }
      dst[r] = v;
    }
    ld_map_free(&m);
  }
  return 0;
}

/* ---- splits */

static int by_time(const void *a, const void *b, void *ctx) { /* (timestamp, row): stable and total */
  const loom_dataset *sort_ds = ctx;
  int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
  const double *ts = sort_ds->tab[0].cols[sort_ds->c_ts].f;
  if (ts[x] != ts[y]) return ts[x] < ts[y] ? -1 : 1;
  return x < y ? -1 : x > y;
}
static int by_user_time(const void *a, const void *b, void *ctx) {
  const loom_dataset *sort_ds = ctx;
  int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
  const loom_table *t = &sort_ds->tab[0];
  int c = strcmp(loom_table_str(t, sort_ds->c_user, x), loom_table_str(t, sort_ds->c_user, y));
  return c ? c : by_time(a, b, ctx);
}
static int by_row(const void *a, const void *b) {
  int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
  return x < y ? -1 : x > y;
}

static int make_splits(loom_dataset *ds, const uint8_t *valid, loom_error *err) {
  const loom_data_schema *s = &ds->s;
  int32_t *v = loom_malloc((size_t)(ds->n + 1) * sizeof *v);
  uint8_t *which = loom_malloc((size_t)(ds->n + 1));
  for (int k = 0; k < 4; k++) ds->split_rows[k] = loom_malloc((size_t)(ds->n + 1) * sizeof(int32_t));
  if (!v || !which || !ds->split_rows[0] || !ds->split_rows[1] || !ds->split_rows[2] || !ds->split_rows[3]) {
    loom_free(v), loom_free(which);
    return loom_errorf(err, "out of memory splitting rows");
  }
  int64_t nv = 0;
  for (int64_t r = 0; r < ds->n; r++)
    if (valid[r]) v[nv++] = (int32_t)r;
  if (nv == 0 && !ds->has[TAB_INTER]) { /* a catalogue */
    for (int k = 0; k < 4; k++) ds->split_n[k] = 0;
    loom_free(v), loom_free(which);
    return 0;
  }
  if (nv == 0) {
    loom_free(v), loom_free(which);
    return loom_errorf(err, "%s: no rows left after joining (%lld skipped for missing keys) — check the key columns",
                       s->interactions, (long long)ds->skipped);
  }
  for (int64_t i = 0; i < nv; i++) which[v[i]] = LOOM_SPLIT_TRAIN;
  int64_t n1 = (int64_t)llround(nv * s->split_ratio[0]), n2 = (int64_t)llround(nv * s->split_ratio[1]);
  if (n1 + n2 > nv) n2 = nv - n1;
  int rc = 0;
  if (!ds->frozen && (s->split == LOOM_SPLIT_TIME || s->split == LOOM_SPLIT_LEAVE_LAST))
    for (int64_t i = 0; i < nv && rc == 0; i++)
      if (isnan(ds->tab[0].cols[ds->c_ts].f[v[i]]))
        rc = loom_errorf(err, "%s:%lld: column '%s': the timestamp is missing — split=%s orders rows by it; fill it",
                         s->interactions, (long long)line_of(ds, v[i]), s->timestamp_col,
                         s->split == LOOM_SPLIT_TIME ? "time" : "leave_last");
  if (rc) {
  } else if (ds->frozen) {
    /* inference: every row is just "all" */
  } else if (s->split == LOOM_SPLIT_RANDOM || s->split == LOOM_SPLIT_TIME) {
    if (s->split == LOOM_SPLIT_RANDOM) {
      loom_rng rng;
      loom_rng_seed(&rng, loom_rng_hash(s->seed, 0x5b117));
      loom_rng_shuffle(&rng, v, nv);
    } else {
      qsort_r(v, (size_t)nv, sizeof *v, by_time, ds);
    }
    for (int64_t i = 0; i < nv; i++) which[v[i]] = i < n1 ? LOOM_SPLIT_TRAIN : i < n1 + n2 ? LOOM_SPLIT_VAL : LOOM_SPLIT_TEST;
  } else if (s->split == LOOM_SPLIT_COLUMN) {
    char q[200], note[128];
    for (int64_t i = 0; i < nv && rc == 0; i++) {
      const char *x = loom_table_str(&ds->tab[0], ds->c_split, v[i]);
      if (!strcmp(x, "train")) which[v[i]] = LOOM_SPLIT_TRAIN;
      else if (!strcmp(x, "val") || !strcmp(x, "valid") || !strcmp(x, "validation")) which[v[i]] = LOOM_SPLIT_VAL;
      else if (!strcmp(x, "test")) which[v[i]] = LOOM_SPLIT_TEST;
      else
        rc = loom_errorf(err, "%s:%lld: column '%s': '%s' is not train, val or test%s — fix the value",
                         s->interactions, (long long)line_of(ds, v[i]), s->split_col, Q(q, x, sizeof q), NOTE(note, x));
    }
  } else { /* leave-last-out per user: last → test, second last → val, when the user has enough rows */
    qsort_r(v, (size_t)nv, sizeof *v, by_user_time, ds);
    const loom_table *t = &ds->tab[0];
    for (int64_t i = 0; i < nv;) {
      int64_t j = i;
      while (j < nv && !strcmp(loom_table_str(t, ds->c_user, v[i]), loom_table_str(t, ds->c_user, v[j]))) j++;
      int64_t cnt = j - i;
      if (cnt >= 2) which[v[j - 1]] = LOOM_SPLIT_TEST;
      if (cnt >= 3) which[v[j - 2]] = LOOM_SPLIT_VAL;
      i = j;
    }
  }
  for (int k = 0; k < 4; k++) ds->split_n[k] = 0;
  for (int64_t r = 0; r < ds->n; r++) {
    if (!valid[r]) continue;
    ds->split_rows[LOOM_SPLIT_ALL][ds->split_n[LOOM_SPLIT_ALL]++] = (int32_t)r;
    if (!ds->frozen) ds->split_rows[which[r]][ds->split_n[which[r]]++] = (int32_t)r;
  }
  loom_free(v);
  loom_free(which);
  if (rc == 0 && !ds->frozen && ds->split_n[0] == 0)
    rc = loom_errorf(err, "%s: the training split is empty — check split and split_ratio", s->interactions);
  return rc;
}

/* ---- text of a row */

static const char *row_text(loom_dataset *ds, int64_t r, size_t *len, loom_error *err) {
  ds->text_buf.n = 0;
  for (int i = 0; i < ds->s.n_text; i++) {
    const char *t = str_at(ds, ds->text[i], r);
    if ((i && ld_buf_put(&ds->text_buf, " ", 1) < 0) || ld_buf_put(&ds->text_buf, t, strlen(t)) < 0) {
      loom_errorf(err, "out of memory");
      return NULL;
    }
  }
  if (ld_buf_put(&ds->text_buf, "", 0) < 0) { loom_errorf(err, "out of memory"); return NULL; }
  *len = ds->text_buf.n;
  return ds->text_buf.p;
}

/* ---- fitting on the training split */

static int cmp_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

static int fit(loom_dataset *ds, loom_error *err) {
  const loom_data_schema *s = &ds->s;
  loom_prep *p = &ds->prep;
  const int32_t *tr = ds->split_rows[0];
  int64_t ntr = ds->split_n[0];
  p->image = s->image;
  p->users = loom_idmap_new();
  p->items = loom_idmap_new();
  p->n_category = s->n_category;
  for (int i = 0; i < s->n_category; i++)
    if (!(p->category[i] = loom_idmap_new())) return loom_errorf(err, "out of memory");
  if (!p->users || !p->items) return loom_errorf(err, "out of memory");
  const int count_words = !ds->given_vocab;
  if ((s->n_text || ds->c_query >= 0) && ds->given_vocab) {
    char *vs = loom_vocab_to_string(ds->given_vocab);
    p->vocab = vs ? loom_vocab_from_string(vs, err) : NULL;
    loom_free(vs);
    if (!p->vocab) return vs ? -1 : loom_errorf(err, "out of memory");
  } else if (s->n_text || ds->c_query >= 0) {
    if (!(p->vocab = loom_vocab_new())) return loom_errorf(err, "out of memory");
  }
  for (int64_t i = 0; i < ntr; i++) {
    int64_t r = tr[i];
    if (ds->c_user >= 0 && loom_idmap_add(p->users, loom_table_str(&ds->tab[0], ds->c_user, r), err) < 0) return -1;
    int32_t before = loom_idmap_size(p->items);
    if (ds->c_item >= 0 && loom_idmap_add(p->items, loom_table_str(&ds->tab[0], ds->c_item, r), err) < 0) return -1;
    /* each item's text counted once (each row's, without items) */
    if (count_words && s->n_text && (ds->c_item < 0 || loom_idmap_size(p->items) > before)) {
      size_t len;
      const char *t = row_text(ds, r, &len, err);
      if (!t) return -1;
      if (loom_vocab_count(p->vocab, t, len, err) < 0)
        return loom_error_wrap(err, "%s:%lld: item text", s->interactions, (long long)line_of(ds, r));
    }
    if (count_words && ds->c_query >= 0) {
      const char *q = loom_table_str(&ds->tab[0], ds->c_query, r);
      if (loom_vocab_count(p->vocab, q, strlen(q), err) < 0)
        return loom_error_wrap(err, "%s:%lld: column '%s'", s->interactions, (long long)line_of(ds, r), s->query_col);
    }
    for (int k = 0; k < s->n_category; k++)
      if (loom_idmap_add(p->category[k], str_at(ds, ds->cat[k], r), err) < 0) return -1;
  }
  if (count_words && p->vocab && loom_vocab_freeze(p->vocab, s->num_words, err) < 0) return -1;
  if (s->label_class) { /* class names in sorted order, as sklearn's LabelEncoder */
    ld_map seen;
    ld_map_init(&seen);
    for (int64_t i = 0; i < ntr; i++) {
      const char *l = loom_table_str(&ds->tab[0], ds->c_label, tr[i]);
      if (ld_map_put(&seen, l, strlen(l), 0, NULL) < 0) { ld_map_free(&seen); return loom_errorf(err, "out of memory"); }
    }
    const char **names = loom_malloc((size_t)(seen.n + 1) * sizeof *names);
    if (!names || !(p->labels = loom_idmap_new())) {
      loom_free(names);
      ld_map_free(&seen);
      return loom_errorf(err, "out of memory");
    }
    for (int32_t i = 0; i < seen.n; i++) names[i] = ld_map_key(&seen, i);
    qsort(names, (size_t)seen.n, sizeof *names, cmp_str);
    int rc = 0;
    for (int32_t i = 0; i < seen.n && rc == 0; i++) rc = loom_idmap_add(p->labels, names[i], err) < 0 ? -1 : 0;
    loom_free(names);
    ld_map_free(&seen);
    if (rc) return -1;
  }
  int F = s->n_numeric;
  double *x = loom_malloc((size_t)(ntr * F + 1) * sizeof *x);
  if (!x) return loom_errorf(err, "out of memory");
  for (int64_t i = 0; i < ntr; i++)
    for (int f = 0; f < F; f++) x[i * F + f] = num_at(ds, ds->num[f], tr[i]);
  int rc = loom_numstats_fit(&p->num, x, ntr, F, s->numeric_scaling, err);
  loom_free(x);
  return rc;
}

static int copy_prep(loom_prep *dst, const loom_prep *src, loom_error *err) {
  char *str = loom_prep_to_string(src);
  if (!str) return loom_errorf(err, "out of memory copying preprocessing");
  int rc = loom_prep_from_string(dst, str, err);
  loom_free(str);
  return rc;
}

/* ---- per-row precomputation */

static int precompute(loom_dataset *ds, loom_error *err) {
  const loom_data_schema *s = &ds->s;
  loom_prep *p = &ds->prep;
  int F = s->n_numeric, K = s->n_category;
  if (p->num.F != F || p->n_category != K || (!p->vocab && (s->n_text || ds->c_query >= 0)) ||
      (s->label_class && !p->labels))
    return loom_errorf(err, "preprocessing does not match the [data] schema (%d numeric, %d category columns expected) — use the config the checkpoint was trained with",
                       p->num.F, p->n_category);
  int64_t n = ds->n + 1;
  ds->user_idx = loom_calloc((size_t)n, sizeof(int32_t));
  ds->item_idx = loom_calloc((size_t)n, sizeof(int32_t));
  ds->cat_idx = loom_calloc((size_t)(n * K + 1), sizeof(int32_t));
  ds->numeric = loom_calloc((size_t)(n * F + 1), sizeof(float));
  ds->label = loom_calloc((size_t)n, sizeof(float));
  ds->xlabel = loom_calloc((size_t)(n * s->n_label_cols + 1), sizeof(float));
  ds->n_items = loom_idmap_size(p->items);
  ds->item_rep = loom_malloc((size_t)ds->n_items * sizeof(int32_t));
  if (!ds->user_idx || !ds->item_idx || !ds->cat_idx || !ds->numeric || !ds->label || !ds->xlabel || !ds->item_rep)
    return loom_errorf(err, "out of memory");
  for (int32_t i = 0; i < ds->n_items; i++) ds->item_rep[i] = -1;
  const int32_t *all = ds->split_rows[LOOM_SPLIT_ALL];
  double x[LOOM_DATA_MAX_FEATURES];
  for (int64_t i = 0; i < ds->split_n[LOOM_SPLIT_ALL]; i++) {
    int64_t r = all[i];
    const loom_table *t = &ds->tab[0];
    ds->user_idx[r] = ds->c_user >= 0 ? loom_idmap_get(p->users, loom_table_str(t, ds->c_user, r)) : 0;
    ds->item_idx[r] = ds->c_item >= 0 ? loom_idmap_get(p->items, loom_table_str(t, ds->c_item, r)) : 0;
    for (int k = 0; k < K; k++) ds->cat_idx[r * K + k] = loom_idmap_get(p->category[k], str_at(ds, ds->cat[k], r));
    for (int f = 0; f < F; f++) x[f] = num_at(ds, ds->num[f], r);
    int bad = 0;
    if (loom_numstats_apply(&p->num, x, s->numeric_missing, ds->numeric + r * F, &bad) < 0) {
      colref c = ds->num[bad];
      return loom_errorf(err, "%s:%lld: column '%s' (%s table): value is missing — fill it, or set numeric_missing=mean|zero",
                         s->interactions, (long long)line_of(ds, r), s->numeric_cols[bad], TAB_NAME[c.tab]);
    }
    if (ds->c_label >= 0 && t->cols[ds->c_label].present && s->label_class) {
      const char *name = loom_table_str(t, ds->c_label, r);
      int32_t id = p->labels ? loom_idmap_get(p->labels, name) : 0;
      char q[200], note[128];
      if (id == 0)
        return loom_errorf(err, "%s:%lld: column '%s': class '%s'%s does not occur in the training split — fix the label or the split",
                           s->interactions, (long long)line_of(ds, r), s->label_col, Q(q, name, sizeof q), NOTE(note, name));
      ds->label[r] = (float)(id - 1);
    } else if (ds->c_label >= 0 && t->cols[ds->c_label].present) {
      double l = t->cols[ds->c_label].f[r];
      if (isnan(l))
        return loom_errorf(err, "%s:%lld: column '%s': the label is missing — fill it or drop the row",
                           s->interactions, (long long)line_of(ds, r), s->label_col);
      /* every split, at load: a bad label in the training split must not train silently */
      int nv = s->label_values;
      if (nv >= 2 && !(l >= 0 && l < nv && l == floor(l))) {
        char v[32];
        ld_fmt_float(v, (float)l);
        if (nv == 2)
          return loom_errorf(err, "%s:%lld: column '%s': label %s is not 0 or 1 — a binary task needs 0 (negative) or 1 (positive); fix the row",
                             s->interactions, (long long)line_of(ds, r), s->label_col, v);
        return loom_errorf(err, "%s:%lld: column '%s': label %s is not a class in 0..%d — fix the row, or set task.classes (now %d)",
                           s->interactions, (long long)line_of(ds, r), s->label_col, v, nv - 1, nv);
      }
      ds->label[r] = (float)l;
    }
    for (int j = 0; j < s->n_label_cols; j++) { /* the multitask heads' labels (a frozen file may lack them: 0) */
      int c = ds->c_xlabel[j];
      if (c < 0 || !t->cols[c].present) continue;
      double l = t->cols[c].f[r];
      if (isnan(l))
        return loom_errorf(err, "%s:%lld: column '%s': the label is missing — fill it or drop the row",
                           s->interactions, (long long)line_of(ds, r), s->label_cols[j]);
      ds->xlabel[r * s->n_label_cols + j] = (float)l;
    }
  }
  /* an item's representative row: its first training row (any row when frozen) */
  int sp = ds->frozen ? LOOM_SPLIT_ALL : LOOM_SPLIT_TRAIN;
  for (int64_t i = 0; i < ds->split_n[sp]; i++) {
    int32_t r = ds->split_rows[sp][i], it = ds->item_idx[r];
    if (it > 0 && ds->item_rep[it] < 0) ds->item_rep[it] = r;
  }
  /* frozen (inference): an item without an interaction row takes its features from the items table */
  if (ds->frozen && ds->has[TAB_ITEMS]) {
    if (!(ds->item_cat = loom_malloc((size_t)ds->n_items * sizeof(int32_t)))) return loom_errorf(err, "out of memory");
    for (int32_t i = 0; i < ds->n_items; i++) ds->item_cat[i] = -1;
    const loom_table *it = &ds->tab[TAB_ITEMS];
    for (int64_t r = 0; r < it->nrows; r++) {
      int32_t id = loom_idmap_get(p->items, loom_table_str(it, 0, r));
      if (id > 0 && ds->item_cat[id] < 0) ds->item_cat[id] = (int32_t)r;
    }
  }
  /* training positives per user (label > 0, or every row without a label), CSR sorted */
  int32_t nu = loom_idmap_size(p->users);
  ds->pos_off = loom_calloc((size_t)nu + 1, sizeof(int64_t));
  ds->pop_cdf = loom_calloc((size_t)ds->n_items, sizeof(double));
  if (!ds->pos_off || !ds->pop_cdf) return loom_errorf(err, "out of memory");
  const int32_t *tr = ds->split_rows[0];
  int64_t ntr = ds->frozen ? 0 : ds->split_n[0], npos = 0;
  for (int pass = 0; pass < 2; pass++) {
    int64_t *fillp = NULL;
    if (pass == 1) {
      for (int32_t u = 0; u < nu; u++) ds->pos_off[u + 1] += ds->pos_off[u];
      npos = ds->pos_off[nu];
      ds->pos_items = loom_malloc((size_t)(npos + 1) * sizeof(int32_t));
      fillp = loom_malloc((size_t)(nu + 1) * sizeof(int64_t));
      if (!ds->pos_items || !fillp) { loom_free(fillp); return loom_errorf(err, "out of memory"); }
      memcpy(fillp, ds->pos_off, (size_t)nu * sizeof(int64_t));
    }
    for (int64_t i = 0; i < ntr; i++) {
      int32_t r = tr[i];
      if (ds->c_label >= 0 && !s->label_class && !(ds->label[r] > 0)) continue;
      int32_t u = ds->user_idx[r];
      if (pass == 0) ds->pos_off[u + 1]++, ds->pop_cdf[ds->item_idx[r]] += 1;
      else ds->pos_items[fillp[u]++] = ds->item_idx[r];
    }
    loom_free(fillp);
  }
  for (int32_t u = 0; u < nu; u++)
    qsort(ds->pos_items + ds->pos_off[u], (size_t)(ds->pos_off[u + 1] - ds->pos_off[u]), sizeof(int32_t), by_row);
  double acc = 0;
  for (int32_t i = 0; i < ds->n_items; i++) {
    acc += i == 0 ? 0 : pow(ds->pop_cdf[i], s->negative_power);
    ds->pop_cdf[i] = acc;
  }
  if (s->history_len > 0) { /* behaviour histories, history.c */
    ds->hist = loom_calloc((size_t)(n * s->history_len), sizeof(int32_t));
    ds->hist_len = loom_calloc((size_t)n, sizeof(int32_t));
    if (!ds->hist || !ds->hist_len) return loom_errorf(err, "out of memory");
    ld_history_in h = {&ds->tab[0], ds->c_user, ds->c_ts, {NULL, NULL, NULL}, {0, 0, 0}, ds->item_idx,
                       ds->c_label >= 0 && !s->label_class ? ds->label : NULL, s->history_len, s->history_all,
                       s->interactions, s->timestamp_col};
    for (int k = 0; k < 3; k++)
      h.split_rows[k] = ds->split_rows[ds->frozen ? LOOM_SPLIT_ALL : k], h.split_n[k] = ds->frozen ? 0 : ds->split_n[k];
    if (ds->frozen) h.split_n[0] = ds->split_n[LOOM_SPLIT_ALL];
    if (ds->has[TAB_INTER] && ld_history_build(&h, ds->hist, ds->hist_len, err) < 0) return -1;
    ds->hin = h;
  }
  /* item text that lives only in the items table is tokenised once per item */
  int item_text = s->n_text > 0 && ds->has[TAB_ITEMS];
  for (int i = 0; i < s->n_text; i++) item_text &= ds->text[i].tab == TAB_ITEMS;
  if (item_text) {
    int64_t ni = ds->tab[TAB_ITEMS].nrows;
    ds->tok_cache = loom_malloc((size_t)(ni * (s->max_len + 1) + 1) * sizeof(int32_t));
    ds->tok_done = loom_calloc((size_t)ni + 1, 1);
    if (!ds->tok_cache || !ds->tok_done) return loom_errorf(err, "out of memory");
  }
  if (loom_data_visual_slots(s)) {
    ds->img_scratch = loom_malloc((size_t)s->image.C * s->image.H * s->image.W * sizeof(float));
    if (!ds->img_scratch) return loom_errorf(err, "out of memory");
    char tmp[PATH_MAX]; /* image_paths=inside: resolved once, read by every row_image */
    ds->img_root_state = realpath(s->image_root[0] ? s->image_root : ".", tmp) ? 1 : -1;
    if (ds->img_root_state > 0) snprintf(ds->img_root_real, sizeof ds->img_root_real, "%s", tmp);
  }
  return 0;
}

/* [data] item_vectors / user_vectors (loom/vectors.h): read once; each interaction row's vector row,
 * checked under missing_vector (error names the row's file and line, zero counts). */
static int load_vectors(loom_dataset *ds, loom_error *err) {
  const loom_data_schema *s = &ds->s;
  const char *paths[2] = {s->item_vectors, s->user_vectors}, *cols[2] = {s->item_col, s->user_col};
  const char *what[2] = {"item", "user"};
  int c[2] = {ds->c_item, ds->c_user};
  for (int k = 0; k < 2; k++) {
    if (!paths[k][0]) continue;
    if (!(ds->vec[k] = loom_vectors_read(paths[k], s->max_vector_bytes, s->int_keys, err)))
      return loom_error_wrap(err, "[data] %s_vectors", what[k]);
    if (!(ds->vrow[k] = loom_malloc((size_t)(ds->n + 1) * sizeof(int32_t)))) return loom_errorf(err, "out of memory");
    for (int64_t r = 0; r <= ds->n; r++) ds->vrow[k][r] = -1;
    for (int64_t i = 0; i < ds->split_n[LOOM_SPLIT_ALL]; i++) {
      int64_t r = ds->split_rows[LOOM_SPLIT_ALL][i];
      const char *key = c[k] >= 0 ? loom_table_str(&ds->tab[TAB_INTER], c[k], r) : "";
      int64_t v = loom_vectors_find(ds->vec[k], key);
      ds->vrow[k][r] = (int32_t)v;
      if (v >= 0) continue;
      char q[200];
      if (s->missing_vector == LOOM_POLICY_ERROR)
        return loom_errorf(err, "%s:%lld: column '%s': %s '%s' has no vector in %s — add it, or set [data] missing_vector = zero",
                           s->interactions, (long long)line_of(ds, r), cols[k], what[k], Q(q, key, 44), paths[k]);
      ds->zero_vec[k]++;
    }
  }
  return 0;
}

/* Vector of `key` (k: 0 item, 1 user) into out (D): the row, or zeros (missing_vector = zero, counted). */
static int vector_of_key(loom_dataset *ds, int k, const char *key, float *out, loom_error *err) {
  int D = loom_vectors_dim(ds->vec[k]);
  int64_t v = key ? loom_vectors_find(ds->vec[k], key) : -1;
  if (v >= 0) {
    memcpy(out, loom_vectors_row(ds->vec[k], v), sizeof(float) * (size_t)D);
    return 0;
  }
  char q[200];
  if (ds->s.missing_vector == LOOM_POLICY_ERROR)
    return loom_errorf(err, "%s '%s' has no vector in %s — add it, or set [data] missing_vector = zero", k ? "user" : "item",
                       key ? Q(q, key, 44) : "", k ? ds->s.user_vectors : ds->s.item_vectors);
  memset(out, 0, sizeof(float) * (size_t)D);
  ds->zero_vec[k]++;
  return 0;
}

int64_t loom_dataset_zero_vectors(const loom_dataset *ds, int user) { return ds->zero_vec[user ? 1 : 0]; }
int loom_dataset_vector_dim(const loom_dataset *ds, int user) {
  return ds->vec[user ? 1 : 0] ? loom_vectors_dim(ds->vec[user ? 1 : 0]) : 0;
}

static loom_dataset *open_dataset(const loom_data_schema *s, const loom_prep *frozen, const loom_vocab *vocab,
                                  loom_error *err) {
  if (!(frozen && !s->interactions[0]) && loom_data_schema_validate(s, err) < 0) return NULL;
  loom_dataset *ds = loom_calloc(1, sizeof *ds);
  if (!ds) { loom_errorf(err, "out of memory"); return NULL; }
  pthread_mutex_init(&ds->mu, NULL);
  ds->s = *s;
  ds->given_vocab = vocab;
  ds->frozen = frozen != NULL;
  if (frozen) ds->s.image = frozen->image;
  ld_map_init(&ds->img_map);
  uint8_t *valid = NULL;
  int rc = read_tables(ds, err);
  if (rc == 0 && !(valid = loom_malloc((size_t)ds->n + 1))) rc = loom_errorf(err, "out of memory");
  if (rc == 0) rc = join(ds, valid, err);
  if (rc == 0) rc = make_splits(ds, valid, err);
  loom_free(valid);
  if (rc == 0) rc = frozen ? copy_prep(&ds->prep, frozen, err) : fit(ds, err);
  if (rc == 0) rc = precompute(ds, err);
  if (rc == 0) rc = load_vectors(ds, err);
  ds->given_vocab = NULL;
  if (rc < 0) {
    loom_dataset_free(ds);
    return NULL;
  }
  return ds;
}

loom_dataset *loom_dataset_open(const loom_data_schema *s, const loom_prep *frozen, loom_error *err) {
  return open_dataset(s, frozen, NULL, err);
}

loom_dataset *loom_dataset_open_vocab(const loom_data_schema *s, const loom_vocab *vocab, loom_error *err) {
  return open_dataset(s, NULL, vocab, err);
}

void loom_dataset_free(loom_dataset *ds) {
  if (!ds) return;
  for (int t = 0; t < 3; t++) loom_table_free(&ds->tab[t]);
  loom_free(ds->item_row);
  loom_free(ds->user_row);
  for (int k = 0; k < 4; k++) loom_free(ds->split_rows[k]);
  loom_prep_free(&ds->prep);
  loom_free(ds->user_idx);
  loom_free(ds->item_idx);
  loom_free(ds->cat_idx);
  loom_free(ds->numeric);
  loom_free(ds->label);
  loom_free(ds->xlabel);
  loom_free(ds->item_rep);
  loom_free(ds->item_cat);
  loom_free(ds->pos_off);
  loom_free(ds->pos_items);
  loom_free(ds->pop_cdf);
  loom_free(ds->hist);
  loom_free(ds->hist_len);
  for (int k = 0; k < 2; k++) loom_vectors_free(ds->vec[k]), loom_free(ds->vrow[k]);
  ld_buf_free(&ds->text_buf);
  loom_free(ds->tok_cache);
  loom_free(ds->tok_done);
  for (int32_t i = 0; i < ds->img_map.n; i++) loom_free(ds->img_cache[i]);
  loom_free(ds->img_cache);
  ld_map_free(&ds->img_map);
  loom_free(ds->img_scratch);
  pthread_mutex_destroy(&ds->mu);
  loom_free(ds);
}

const loom_prep *loom_dataset_prep(const loom_dataset *ds) { return &ds->prep; }
int64_t loom_dataset_rows(const loom_dataset *ds, loom_split sp) { return ds->split_n[sp]; }
const int32_t *loom_dataset_split_rows(const loom_dataset *ds, loom_split sp) { return ds->split_rows[sp]; }
int64_t loom_dataset_skipped_rows(const loom_dataset *ds) { return ds->skipped; }
int64_t loom_dataset_zero_images(const loom_dataset *ds) { return ds->zero_images; }
int32_t loom_dataset_num_items(const loom_dataset *ds) { return ds->n_items; }
void loom_dataset_summary(const loom_dataset *ds, char *buf, size_t n) {
  const loom_prep *p = &ds->prep;
  int k = snprintf(buf, n,
                   "%lld rows (train %lld, val %lld, test %lld), %lld skipped for missing keys, %lld zero images; "
                   "users %d, items %d, vocabulary %d, classes %d, numeric %d, categories [",
                   (long long)ds->split_n[3], (long long)ds->split_n[0], (long long)ds->split_n[1],
                   (long long)ds->split_n[2], (long long)ds->skipped, (long long)ds->zero_images,
                   p->users ? loom_idmap_size(p->users) : 0, p->items ? loom_idmap_size(p->items) : 0,
                   p->vocab ? loom_vocab_size(p->vocab) : 0, loom_dataset_num_classes(ds), p->num.F);
  for (int i = 0; i < p->n_category && k > 0 && (size_t)k < n; i++)
    k += snprintf(buf + k, n - (size_t)k, "%s%d", i ? ", " : "", loom_idmap_size(p->category[i]));
  if (k > 0 && (size_t)k < n) k += snprintf(buf + k, n - (size_t)k, "]");
  for (int v = 0; v < 2; v++)
    if (ds->vec[v] && k > 0 && (size_t)k < n)
      k += snprintf(buf + k, n - (size_t)k, "; %s vectors %lld x %d, %lld rows given zeros (missing_vector)",
                    v ? "user" : "item", (long long)loom_vectors_count(ds->vec[v]), loom_vectors_dim(ds->vec[v]),
                    (long long)ds->zero_vec[v]);
}

int32_t loom_dataset_num_classes(const loom_dataset *ds) {
  return ds->prep.labels ? loom_idmap_size(ds->prep.labels) - 1 : 0;
}

/* ---- batches */

int loom_batch_init(loom_batch *b, const loom_dataset *ds, int cap, loom_error *err) {
  const loom_data_schema *s = &ds->s;
  memset(b, 0, sizeof *b);
  b->ds = ds;
  b->cap = cap;
  b->F = s->n_numeric;
  b->n_cat = s->n_category;
  b->T = s->n_text ? s->max_len : 0;
  b->Tq = s->query_col[0] ? s->query_len : 0;
  b->n_neg = s->negatives;
  b->Lh = s->history_len;
  b->S = loom_data_visual_slots(s);
  b->Dv = loom_dataset_vector_dim(ds, 0), b->Du = loom_dataset_vector_dim(ds, 1);
  if (b->S) b->C = b->S * s->image.C, b->H = s->image.H, b->W = s->image.W;
  size_t B = (size_t)cap, chw = (size_t)b->C * b->H * b->W, nn = (size_t)b->n_neg;
  int ok = 1;
#define ALLOC(p, count) \
  if ((count) != 0) ok &= (b->p = loom_calloc((count), sizeof *b->p)) != NULL
  ALLOC(row, B);
  ALLOC(user, B);
  ALLOC(item, B);
  ALLOC(category, B * b->n_cat);
  ALLOC(numeric, B * b->F);
  ALLOC(tokens, B * b->T);
  ALLOC(lengths, b->T ? B : 0);
  ALLOC(query, B * b->Tq);
  ALLOC(query_len, b->Tq ? B : 0);
  ALLOC(image, B * chw);
  ALLOC(label, B);
  b->n_labels = ds->s.n_label_cols;
  ALLOC(labels, B * b->n_labels);
  ALLOC(neg, B * nn);
  ALLOC(neg_tokens, B * nn * b->T);
  ALLOC(neg_lengths, b->T ? B * nn : 0);
  ALLOC(neg_image, B * nn * chw);
  ALLOC(hist, B * b->Lh);
  ALLOC(hist_len, b->Lh ? B : 0);
  ALLOC(item_vec, B * (size_t)b->Dv);
  ALLOC(user_vec, B * (size_t)b->Du);
#undef ALLOC
  if (!ok) {
    loom_batch_free(b);
    return loom_errorf(err, "out of memory allocating a batch of %d rows", cap);
  }
  return 0;
}

void loom_batch_free(loom_batch *b) {
  void *ptrs[] = {b->row, b->user, b->item, b->category, b->numeric, b->tokens, b->lengths, b->query,
                  b->query_len, b->image, b->label, b->labels, b->neg, b->neg_tokens, b->neg_lengths, b->neg_image, b->hist, b->hist_len, b->item_vec, b->user_vec};
  for (size_t i = 0; i < sizeof ptrs / sizeof *ptrs; i++) loom_free(ptrs[i]);
  memset(b, 0, sizeof *b);
}

/* 1 if real (a resolved path) is root or lies under it. */
static int path_inside(const char *root, const char *real) {
  size_t n = strlen(root);
  if (n == 1 && root[0] == '/') return 1;
  return strncmp(real, root, n) == 0 && (real[n] == '/' || real[n] == '\0');
}

/* The file to open for image path rel (relative to image_root; absolute as given) into open_path.
 * image_paths=inside: the path with symlinks and ".." resolved must lie inside image_root (the
 * current directory when image_root is empty), and open_path is that resolved path, so what was
 * checked is what is opened. A path that does not exist is returned as written when its folder is
 * inside (loom_image_load then says it cannot open it). -1 with err when it leads outside. */
static int image_path(const loom_dataset *ds, const char *rel, char *lexical, char *open_path, loom_error *err) {
  const loom_data_schema *s = &ds->s;
  if (rel[0] == '/' || !s->image_root[0]) snprintf(lexical, 2 * LOOM_DATA_PATH + 2, "%s", rel);
  else snprintf(lexical, 2 * LOOM_DATA_PATH + 2, "%s/%s", s->image_root, rel);
  snprintf(open_path, 4096, "%s", lexical);
  if (s->image_anywhere) return 0;
  char real[PATH_MAX], q[200];
  const char *root = ds->img_root_state > 0 ? ds->img_root_real : NULL;
  if (root && realpath(lexical, real)) {
    if (path_inside(root, real)) {
      snprintf(open_path, 4096, "%s", real);
      return 0;
    }
  } else if (root) { /* missing file: judge the folder it would be in */
    char dir[2 * LOOM_DATA_PATH + 2];
    snprintf(dir, sizeof dir, "%s", lexical);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = '\0';
    if (!realpath(slash ? (dir[0] ? dir : "/") : ".", real) || path_inside(root, real)) return 0;
  } else if (rel[0] != '/') {
    return 0; /* image_root itself does not exist: opening under it fails with that message */
  }
  return loom_errorf(err, "image path '%s' leads outside image_root (%s) — keep the images inside image_root, or set [data] image_paths = anywhere to allow any file",
                     ld_quote(q, sizeof q, rel, strlen(rel)), s->image_root[0] ? s->image_root : "empty: the current directory");
}

int loom_dataset_image_file(const loom_dataset *ds, const char *rel, char *open_path, size_t cap, loom_error *err) {
  char lexical[2 * LOOM_DATA_PATH + 2], resolved[4096];
  if (image_path(ds, rel, lexical, resolved, err) < 0) return -1;
  if ((size_t)snprintf(open_path, cap, "%s", resolved) >= cap) return loom_errorf(err, "image path '%s': too long", rel);
  return 0;
}

/* Where the value of column c for row r is written: the file and line of its own table. */
static void cell_where(const loom_dataset *ds, colref c, int64_t r, const char **file, int64_t *line) {
  int64_t row = row_in(ds, c.tab, r);
  if (c.tab == TAB_INTER || row < 0) {
    *file = file_of(ds, r), *line = line_of(ds, r);
    return;
  }
  *file = ds->tab[c.tab].path, *line = ds->tab[c.tab].line[row];
}

/* The photo (video = 0) or the video's frames (video = 1) of row r into out, through the cache: a file
 * is decoded once (failures too, so a bad file is counted and read once); photos and videos are cached
 * apart (a video's key is its path, a NUL and 'v'). */
static int row_file(loom_dataset *ds, int64_t r, int video, const char *rel, float *out, loom_error *err) {
  const loom_data_schema *s = &ds->s;
  colref ref = video ? ds->video : ds->image;
  const char *col = video ? s->video_col : s->image_col;
  size_t chw = (size_t)s->image.C * s->image.H * s->image.W * (video ? (size_t)s->video.frames : 1);
  char path[2 * LOOM_DATA_PATH + 4], open_path[4096];
  int32_t slot = -1, rc = 0;
  if (rel[0]) rc = image_path(ds, rel, path, open_path, err);
  else path[0] = open_path[0] = '\0';
  size_t keylen = strlen(path);
  if (video) path[keylen + 1] = 'v', keylen += 2; /* path + '\0' + 'v' */
  if (rc == 0) slot = ld_map_get(&ds->img_map, path, keylen);
  if (slot >= 0) {
    if (ds->img_cache[slot]) memcpy(out, ds->img_cache[slot], chw * sizeof(float));
    else memset(out, 0, chw * sizeof(float)); /* a known-bad image under missing_image=zero */
    return 0;
  }
  if (rc == 0) {
    if (!rel[0]) rc = loom_errorf(err, "column '%s' is empty", col);
    else if (!video) rc = loom_image_load(open_path, &s->image, out, err);
    else {
      loom_video_opts vo = s->video;
      vo.image = s->image;
      rc = loom_video_load(open_path, &vo, out, NULL, err);
    }
    /* messages name the path as the table gives it (under image_root), not the resolved one */
    if (rc < 0 && err && !strncmp(err->msg, open_path, strlen(open_path))) { /* also escaped: the path is user data */
      char rest[LOOM_ERROR_MAX], shown[LOOM_ERROR_MAX / 2];
      snprintf(rest, sizeof rest, "%s", err->msg + strlen(open_path));
      snprintf(err->msg, sizeof err->msg, "%s%s", ld_quote(shown, sizeof shown, path, strlen(path)), rest);
    }
  }
  if (rc < 0) {
    const char *file;
    int64_t line;
    cell_where(ds, ref, r, &file, &line);
    /* the image lives in its own table's row: an items-table image is named by the items line */
    if (ref.tab == TAB_INTER && r >= 0)
      loom_error_wrap(err, "%s:%lld: row %lld, column '%s'", file, (long long)line, (long long)(r + 1), col);
    else
      loom_error_wrap(err, "%s:%lld: column '%s'", file, (long long)line, col);
    if (s->missing_image != LOOM_POLICY_ZERO) return -1;
    memset(out, 0, chw * sizeof(float));
    ds->zero_images++;
  }
  /* cache (also the failures, so a bad file is counted and read once) */
  int64_t bytes = (int64_t)(chw * sizeof(float));
  if (ds->img_bytes + bytes > s->image_cache_bytes) return 0;
  if (ds->img_map.n == ds->img_cap) {
    int32_t cap = ds->img_cap ? ds->img_cap * 2 : 256;
    float **c = loom_realloc(ds->img_cache, (size_t)cap * sizeof *c);
    if (!c) return 0; /* caching is an optimisation */
    ds->img_cache = c;
    ds->img_cap = cap;
  }
  float *copy = NULL;
  if (rc == 0 && !(copy = loom_malloc(chw * sizeof(float)))) return 0;
  if (copy) memcpy(copy, out, chw * sizeof(float));
  int32_t e = ld_map_put(&ds->img_map, path, keylen, 0, NULL);
  if (e < 0) { loom_free(copy); return 0; }
  ds->img_map.val[e] = e;
  ds->img_cache[e] = copy;
  ds->img_bytes += bytes;
  return 0;
}

/* Row r's visual input (S, C, H, W): its photo, then its video's frames. */
/* Row r's visual input (S, C, H, W): its photo (or gallery, [data] gallery = N photos of image_col's
 * 'a.jpg|b.jpg|...', the first N, repeated in order when there are fewer), then its video's frames. */
static int row_image(loom_dataset *ds, int64_t r, float *out, loom_error *err) {
  const loom_data_schema *s = &ds->s;
  if (s->image_col[0]) {
    const char *cell = str_at(ds, ds->image, r);
    size_t chw = (size_t)s->image.C * s->image.H * s->image.W;
    if (s->gallery <= 1) {
      if (row_file(ds, r, 0, cell, out, err) < 0) return -1;
      out += chw;
    } else {
      int have = 0;
      char one[LOOM_DATA_PATH];
      for (const char *p = cell; have < s->gallery;) {
        size_t n = strcspn(p, "|");
        if (n >= sizeof one) n = sizeof one - 1; /* too long a path: image_path names it */
        memcpy(one, p, n);
        one[n] = '\0';
        if (row_file(ds, r, 0, one, out, err) < 0) return -1;
        out += chw;
        have++;
        if (!p[n]) break;
        p += n + 1;
      }
      for (int k = have; k < s->gallery; k++, out += chw) memcpy(out, out - (size_t)have * chw, chw * sizeof(float));
    }
  }
  return s->video_col[0] ? row_file(ds, r, 1, str_at(ds, ds->video, r), out, err) : 0;
}

int loom_data_visual_slots(const loom_data_schema *s) {
  return (s->image_col[0] ? (s->gallery > 1 ? s->gallery : 1) : 0) + (s->video_col[0] ? s->video.frames : 0);
}

static int row_tokens(loom_dataset *ds, int64_t r, int32_t *ids, int32_t *len, loom_error *err) {
  int T = ds->s.max_len;
  int32_t ir = !ds->tok_cache ? -1 : r < 0 ? (int32_t)(-r - 1) : ds->item_row[r];
  if (ir >= 0 && ds->tok_done[ir]) {
    memcpy(ids, ds->tok_cache + (size_t)ir * (T + 1), (size_t)T * sizeof *ids);
    *len = ds->tok_cache[(size_t)ir * (T + 1) + T];
    return 0;
  }
  size_t n;
  const char *t = row_text(ds, r, &n, err);
  if (!t) return -1;
  if (loom_vocab_encode(ds->prep.vocab, t, n, ds->s.max_len, ds->s.pad, ids, len, err) < 0) {
    const char *file; /* item text from the items table is named by its items line */
    int64_t line;
    cell_where(ds, ds->text[0], r, &file, &line);
    return loom_error_wrap(err, "%s:%lld: item text", file, (long long)line);
  }
  if (ir >= 0) {
    memcpy(ds->tok_cache + (size_t)ir * (T + 1), ids, (size_t)T * sizeof *ids);
    ds->tok_cache[(size_t)ir * (T + 1) + T] = *len;
    ds->tok_done[ir] = 1;
  }
  return 0;
}

int ld_encode_locked(loom_dataset *ds, const int32_t *rows, int n, loom_batch *b, loom_error *err) {
  assert(n <= b->cap);
  b->ds = ds;
  const loom_data_schema *s = &ds->s;
  size_t chw = (size_t)b->C * b->H * b->W;
  b->B = n;
  for (int i = 0; i < n; i++) {
    int64_t r = rows[i];
    assert(r >= 0 && r < ds->n);
    b->row[i] = (int32_t)r;
    b->user[i] = ds->user_idx[r];
    b->item[i] = ds->item_idx[r];
    b->label[i] = ds->label[r];
    if (b->n_labels) memcpy(b->labels + (size_t)i * b->n_labels, ds->xlabel + r * b->n_labels, (size_t)b->n_labels * sizeof(float));
    if (b->n_cat) memcpy(b->category + (size_t)i * b->n_cat, ds->cat_idx + r * b->n_cat, (size_t)b->n_cat * sizeof(int32_t));
    if (b->F) memcpy(b->numeric + (size_t)i * b->F, ds->numeric + r * b->F, (size_t)b->F * sizeof(float));
    if (b->Lh) {
      memcpy(b->hist + (size_t)i * b->Lh, ds->hist + r * b->Lh, (size_t)b->Lh * sizeof(int32_t));
      b->hist_len[i] = ds->hist_len[r];
    }
    if (b->T && row_tokens(ds, r, b->tokens + (size_t)i * b->T, b->lengths + i, err) < 0) return -1;
    if (b->Tq) {
      const char *q = loom_table_str(&ds->tab[0], ds->c_query, r);
      if (loom_vocab_encode(ds->prep.vocab, q, strlen(q), b->Tq, s->pad, b->query + (size_t)i * b->Tq, b->query_len + i, err) < 0)
        return loom_error_wrap(err, "%s:%lld: column '%s'", s->interactions, (long long)line_of(ds, r), s->query_col);
    }
    if (chw && row_image(ds, r, b->image + (size_t)i * chw, err) < 0) return -1;
    for (int k = 0; k < 2; k++) { /* precomputed vectors: row r's, checked at open (missing = zeros) */
      int D = k ? b->Du : b->Dv;
      float *out = (k ? b->user_vec : b->item_vec) + (size_t)i * D;
      int32_t v = D ? ds->vrow[k][r] : -1;
      if (v >= 0) memcpy(out, loom_vectors_row(ds->vec[k], v), sizeof(float) * (size_t)D);
      else if (D) memset(out, 0, sizeof(float) * (size_t)D);
    }
  }
  return 0;
}

int loom_dataset_encode(loom_dataset *ds, const int32_t *rows, int n, loom_batch *b, loom_error *err) {
  ld_dataset_lock(ds);
  int rc = ld_encode_locked(ds, rows, n, b, err);
  ld_dataset_unlock(ds);
  return rc;
}

static int item_features_locked(loom_dataset *ds, const int32_t *items, int n, int32_t *tokens, int32_t *lengths,
                                float *image, loom_error *err) {
  const loom_data_schema *s = &ds->s;
  size_t chw = (size_t)loom_data_visual_slots(s) * s->image.C * s->image.H * s->image.W;
  int T = s->max_len;
  for (int i = 0; i < n; i++) {
    /* the item's first (training) interaction row; else, frozen, its items-table row (row numbers < 0) */
    int32_t it = items[i];
    bool valid = it > 0 && it < ds->n_items, known = valid && ds->item_rep[it] >= 0;
    int64_t r = known ? ds->item_rep[it] : -1;
    if (!known && valid && ds->item_cat && ds->item_cat[it] >= 0) r = -(int64_t)ds->item_cat[it] - 1, known = true;
    if (tokens && s->n_text) {
      if (!known) {
        memset(tokens + (size_t)i * T, 0, (size_t)T * sizeof(int32_t));
        lengths[i] = 0;
      } else if (row_tokens(ds, r, tokens + (size_t)i * T, lengths + i, err) < 0) {
        return -1;
      }
    }
    if (image && loom_data_visual_slots(s)) {
      if (!known) memset(image + (size_t)i * chw, 0, chw * sizeof(float));
      else if (row_image(ds, r, image + (size_t)i * chw, err) < 0) return -1;
    }
  }
  return 0;
}

int loom_dataset_item_features(loom_dataset *ds, const int32_t *items, int n, int32_t *tokens, int32_t *lengths,
                               float *image, loom_error *err) {
  ld_dataset_lock(ds);
  int rc = item_features_locked(ds, items, n, tokens, lengths, image, err);
  ld_dataset_unlock(ds);
  return rc;
}

int64_t loom_dataset_catalog_size(const loom_dataset *ds) { return ds->has[TAB_ITEMS] ? ds->tab[TAB_ITEMS].nrows : 0; }

const char *loom_dataset_catalog_key(const loom_dataset *ds, int64_t i) {
  assert(i >= 0 && i < loom_dataset_catalog_size(ds));
  return loom_table_str(&ds->tab[TAB_ITEMS], 0, i);
}

int loom_dataset_catalog_features(loom_dataset *ds, const int64_t *rows, int n, int32_t *item_idx, int32_t *tokens,
                                  int32_t *lengths, float *image, loom_error *err) {
  const loom_data_schema *s = &ds->s;
  size_t chw = (size_t)loom_data_visual_slots(s) * s->image.C * s->image.H * s->image.W;
  int T = s->max_len, rc = 0;
  ld_dataset_lock(ds);
  for (int i = 0; i < n && rc == 0; i++) {
    assert(rows[i] >= 0 && rows[i] < loom_dataset_catalog_size(ds));
    int64_t r = -rows[i] - 1;
    if (item_idx) item_idx[i] = ds->s.item_col[0] && ds->prep.items ? loom_idmap_get(ds->prep.items, loom_dataset_catalog_key(ds, rows[i])) : 0;
    if (tokens && s->n_text) rc = row_tokens(ds, r, tokens + (size_t)i * T, lengths + i, err);
    if (rc == 0 && image && loom_data_visual_slots(s)) rc = row_image(ds, r, image + (size_t)i * chw, err);
  }
  ld_dataset_unlock(ds);
  return rc;
}

static int is_positive(const loom_dataset *ds, int32_t user, int32_t item) {
  if (user <= 0 || user >= loom_idmap_size(ds->prep.users)) return 0;
  const int32_t *p = ds->pos_items + ds->pos_off[user];
  int64_t lo = 0, hi = ds->pos_off[user + 1] - ds->pos_off[user];
  while (lo < hi) {
    int64_t mid = (lo + hi) / 2;
    if (p[mid] < item) lo = mid + 1;
    else hi = mid;
  }
  return lo < ds->pos_off[user + 1] - ds->pos_off[user] && p[lo] == item;
}

int loom_dataset_negatives(const loom_dataset *ds, int32_t user, int32_t pos, int n, loom_rng *rng, int32_t *out) {
  int32_t ni = ds->n_items;
  if (ni < 2) return -1;
  int pop = ds->s.negative_sampling == LOOM_NEG_POPULARITY && ds->pop_cdf[ni - 1] > 0;
  for (int k = 0; k < n; k++) {
    int32_t cand = -1;
    for (int tries = 0; tries < 64 && cand < 0; tries++) {
      int32_t c;
      if (pop) {
        double u = (double)(loom_rng_u64(rng) >> 11) * (1.0 / 9007199254740992.0) * ds->pop_cdf[ni - 1];
        int32_t lo = 1, hi = ni - 1;
        while (lo < hi) {
          int32_t mid = (lo + hi) / 2;
          if (ds->pop_cdf[mid] > u) hi = mid;
          else lo = mid + 1;
        }
        c = lo;
      } else {
        c = 1 + (int32_t)loom_rng_below(rng, (uint32_t)(ni - 1));
      }
      if (c != pos && !is_positive(ds, user, c)) cand = c;
    }
    if (cand < 0) { /* dense user: scan from a random start for any allowed item */
      int32_t start = 1 + (int32_t)loom_rng_below(rng, (uint32_t)(ni - 1));
      for (int32_t j = 0; j < ni - 1 && cand < 0; j++) {
        int32_t c = 1 + (start - 1 + j) % (ni - 1);
        if (c != pos && !is_positive(ds, user, c)) cand = c;
      }
      if (cand < 0) return -1;
    }
    out[k] = cand;
  }
  return 0;
}

int ld_negatives_locked(loom_dataset *ds, loom_batch *b, loom_rng *rng, loom_error *err) {
  int nn = b->n_neg;
  if (!nn) return 0;
  for (int i = 0; i < b->B; i++) {
    int32_t *neg = b->neg + (size_t)i * nn;
    char q[200];
    if (loom_dataset_negatives(ds, b->user[i], b->item[i], nn, rng, neg) < 0)
      return loom_errorf(err, "%s:%lld: cannot draw negatives for user '%s': every item is among their positives — lower negatives or add items",
                         ds->s.interactions, (long long)line_of(ds, b->row[i]),
                         ds->c_user >= 0 ? Q(q, loom_table_str(&ds->tab[0], ds->c_user, b->row[i]), sizeof q) : "?");
    size_t chw = (size_t)b->C * b->H * b->W;
    if (item_features_locked(ds, neg, nn, b->T ? b->neg_tokens + (size_t)i * nn * b->T : NULL,
                             b->T ? b->neg_lengths + (size_t)i * nn : NULL,
                             chw ? b->neg_image + (size_t)i * nn * chw : NULL, err) < 0)
      return -1;
  }
  return 0;
}

/* ---- pairs of one user and catalogue items (inference) */

/* key as the tables hold it: key_type=int keys are canonical decimals ("007" → "7") */
static const char *canonical_key(const loom_dataset *ds, const char *key, char *buf, size_t n) {
  if (!ds->s.int_keys) return key;
  char *end;
  errno = 0;
  long long v = strtoll(key, &end, 10);
  while (*end == ' ' || *end == '\t') end++;
  if (!*key || *end || errno) return key; /* not an integer: matches nothing */
  snprintf(buf, n, "%lld", v);
  return buf;
}

int32_t loom_dataset_user_index(const loom_dataset *ds, const char *key) {
  char buf[32];
  return key && ds->prep.users ? loom_idmap_get(ds->prep.users, canonical_key(ds, key, buf, sizeof buf)) : 0;
}

static int64_t user_row_of(const loom_dataset *ds, const char *key) {
  if (!key || !ds->has[TAB_USERS]) return -1;
  char buf[32];
  key = canonical_key(ds, key, buf, sizeof buf);
  const loom_table *t = &ds->tab[TAB_USERS];
  for (int64_t r = 0; r < t->nrows; r++)
    if (!strcmp(loom_table_str(t, 0, r), key)) return r;
  return -1;
}

int loom_dataset_encode_pairs(loom_dataset *ds, const char *user_key, const char *query, const int64_t *rows, int n,
                              loom_batch *b, loom_error *err) {
  assert(n <= b->cap);
  const loom_data_schema *s = &ds->s;
  const loom_prep *p = &ds->prep;
  int64_t ur = user_row_of(ds, user_key);
  int32_t user = loom_dataset_user_index(ds, user_key);
  int F = s->n_numeric, K = s->n_category;
  char ubuf[32];
  b->B = n;
  if (loom_dataset_catalog_features(ds, rows, n, b->item, b->T ? b->tokens : NULL, b->T ? b->lengths : NULL,
                                    b->C ? b->image : NULL, err) < 0)
    return -1;
  ld_dataset_lock(ds);
  int rc = 0;
  for (int i = 0; i < n && rc == 0; i++) {
    int64_t ir = rows[i];
    b->row[i] = -1;
    b->user[i] = user;
    if (b->Lh) memset(b->hist + (size_t)i * b->Lh, 0, (size_t)b->Lh * sizeof(int32_t)), b->hist_len[i] = 0;
    b->label[i] = 0;
    for (int j = 0; j < b->n_labels; j++) b->labels[(size_t)i * b->n_labels + j] = 0;
    double x[LOOM_DATA_MAX_FEATURES];
    for (int f = 0; f < F; f++) {
      colref c = ds->num[f];
      int64_t r = c.col < 0 ? -1 : c.tab == TAB_ITEMS ? ir : c.tab == TAB_USERS ? ur : -1;
      x[f] = r < 0 ? NAN : ds->tab[c.tab].cols[c.col].f[r];
    }
    int bad;
    if (F && loom_numstats_apply(&p->num, x, LOOM_MISSING_MEAN, b->numeric + (size_t)i * F, &bad) < 0)
      rc = loom_errorf(err, "internal error scaling numeric features");
    for (int k = 0; k < K; k++) {
      colref c = ds->cat[k];
      int64_t r = c.col < 0 ? -1 : c.tab == TAB_ITEMS ? ir : c.tab == TAB_USERS ? ur : -1;
      b->category[(size_t)i * K + k] = r < 0 ? 0 : loom_idmap_get(p->category[k], loom_table_str(&ds->tab[c.tab], c.col, r));
    }
    if (b->Dv && rc == 0) rc = vector_of_key(ds, 0, loom_table_str(&ds->tab[TAB_ITEMS], 0, ir), b->item_vec + (size_t)i * b->Dv, err);
    if (b->Du && rc == 0) rc = vector_of_key(ds, 1, user_key ? canonical_key(ds, user_key, ubuf, sizeof ubuf) : NULL,
                                             b->user_vec + (size_t)i * b->Du, err);
    if (b->Tq && rc == 0) {
      const char *q = query ? query : "";
      char qq[200];
      if (loom_vocab_encode(p->vocab, q, strlen(q), b->Tq, s->pad, b->query + (size_t)i * b->Tq, b->query_len + i, err) < 0)
        rc = loom_error_wrap(err, "query '%s'", Q(qq, q, 44));
    }
  }
  ld_dataset_unlock(ds);
  return rc;
}

int loom_dataset_user_history(const loom_dataset *ds, const char *user_key, int32_t *hist, int32_t *len) {
  *len = 0;
  if (ds->s.history_len <= 0 || !ds->has[TAB_INTER] || !ds->hist) return 0;
  return ld_history_latest(&ds->hin, user_key, hist, len);
}

const loom_data_schema *loom_dataset_schema(const loom_dataset *ds) { return &ds->s; }

float loom_dataset_row_label(const loom_dataset *ds, int32_t r) {
  assert(r >= 0 && r < ds->n);
  return ds->label[r];
}

float loom_dataset_row_extra_label(const loom_dataset *ds, int32_t r, int col) {
  assert(r >= 0 && r < ds->n && col >= 0 && col < ds->s.n_label_cols);
  return ds->xlabel[(size_t)r * (size_t)ds->s.n_label_cols + (size_t)col];
}

int loom_data_extra_label_index(const loom_data_schema *s, const char *name) {
  for (int i = 0; i < s->n_label_cols; i++)
    if (!strcmp(s->label_cols[i], name)) return i;
  return -1;
}

int64_t loom_dataset_row_line(const loom_dataset *ds, int32_t r) {
  assert(r >= 0 && r < ds->n);
  return ds->tab[TAB_INTER].line[r];
}
const char *loom_dataset_row_user(const loom_dataset *ds, int32_t r) {
  assert(r >= 0 && r < ds->n);
  return ds->c_user >= 0 ? loom_table_str(&ds->tab[TAB_INTER], ds->c_user, r) : "";
}
const char *loom_dataset_row_item(const loom_dataset *ds, int32_t r) {
  assert(r >= 0 && r < ds->n);
  return ds->c_item >= 0 ? loom_table_str(&ds->tab[TAB_INTER], ds->c_item, r) : "";
}

/* One file's path and (size, mtime) into h: -2 for a path outside image_root (never stat'ed: reading it
 * is refused anyway), -1 for a missing file. */
static void stamp_file(const loom_dataset *ds, const char *rel, loom_sha256 *h) {
  char path[2 * LOOM_DATA_PATH + 2], open_path[4096];
  struct stat st;
  long long v[3] = {-1, -1, -1};
  path[0] = '\0';
  if (rel[0] && image_path(ds, rel, path, open_path, NULL) < 0) v[0] = -2;
  else if (rel[0] && stat(open_path, &st) == 0) v[0] = (long long)st.st_size, v[1] = (long long)st.st_mtim.tv_sec, v[2] = st.st_mtim.tv_nsec;
  loom_sha256_update(h, path, strlen(path) + 1);
  loom_sha256_update(h, v, sizeof v);
}

void loom_dataset_catalog_image_stamp(const loom_dataset *ds, char hex[65]) {
  loom_sha256 h;
  loom_sha256_init(&h);
  const loom_data_schema *s = &ds->s;
  for (int64_t i = 0; s->image_col[0] && i < loom_dataset_catalog_size(ds); i++) {
    const char *cell = str_at(ds, ds->image, -i - 1);
    if (s->gallery <= 1) {
      stamp_file(ds, cell, &h);
      continue;
    }
    char one[LOOM_DATA_PATH];
    for (int k = 0; k < s->gallery; k++) { /* a gallery: each of its paths */
      size_t n = strcspn(cell, "|");
      if (n >= sizeof one) n = sizeof one - 1;
      memcpy(one, cell, n);
      one[n] = '\0';
      stamp_file(ds, one, &h);
      if (!cell[n]) break;
      cell += n + 1;
    }
  }
  for (int64_t i = 0; s->video_col[0] && i < loom_dataset_catalog_size(ds); i++)
    stamp_file(ds, str_at(ds, ds->video, -i - 1), &h);
  uint8_t d[32];
  loom_sha256_final(&h, d);
  for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", d[i]);
}

int loom_dataset_has_labels(const loom_dataset *ds) {
  return ds->c_label >= 0 && ds->tab[TAB_INTER].cols[ds->c_label].present;
}

const char *loom_dataset_catalog_str(const loom_dataset *ds, int64_t i, const char *col) {
  assert(i >= 0 && i < loom_dataset_catalog_size(ds));
  int c = loom_table_find(&ds->tab[TAB_ITEMS], col);
  if (c < 0 || !ds->tab[TAB_ITEMS].cols[c].present || ds->tab[TAB_ITEMS].cols[c].type != LOOM_COL_STRING) return NULL;
  return loom_table_str(&ds->tab[TAB_ITEMS], c, i);
}
