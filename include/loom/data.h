/* loom/data.h — CSV tables and image folders to batches of plain arrays: streaming strict CSV
 * (libcsv), joins of interactions with items and users, splits without leakage, vocabulary / ID maps
 * / numeric statistics fitted on the training split (and frozen for inference), shuffled batches,
 * negative sampling, and a loader whose position saves and restores exactly. Knows nothing of graphs:
 * the trainer binds the arrays of a loom_batch to its input tensors.
 *
 *   loom_data_schema s; loom_data_schema_init(&s);
 *   loom_data_schema_load_ini(&s, "run.ini", &err);            // [data] section
 *   loom_dataset *ds = loom_dataset_open(&s, NULL, &err);      // read, join, split, fit
 *   loom_loader *ld = loom_loader_new(ds, LOOM_SPLIT_TRAIN, 1, &err);  // 1 = prefetch thread
 *   const loom_batch *b;
 *   while ((b = loom_loader_next(ld, &err)) && b->B) { ... b->tokens (B, T) ... }
 */
#ifndef LOOM_DATA_H
#define LOOM_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "loom/config.h"
#include "loom/error.h"
#include "loom/file.h"
#include "loom/image.h"
#include "loom/video.h"
#include "loom/rng.h"
#include "loom/text.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- tables */

typedef enum { LOOM_COL_STRING = 0, LOOM_COL_INT = 1, LOOM_COL_FLOAT = 2 } loom_col_type;

typedef struct loom_colspec {
  const char *name;
  loom_col_type type;
  int optional; /* absent from the header: the column is all-missing instead of an error */
} loom_colspec;

typedef struct loom_table_col {
  char *name;
  loom_col_type type;
  int present;     /* 0: optional column absent from the file */
  int64_t *i;      /* (nrows) LOOM_COL_INT */
  double *f;       /* (nrows) LOOM_COL_FLOAT; empty field = NaN */
  int64_t *soff;   /* (nrows + 1) LOOM_COL_STRING: row r is sbuf + soff[r], NUL-terminated */
  char *sbuf;
  size_t sbuf_n, sbuf_cap;
} loom_table_col;

typedef struct loom_table {
  char *path;
  int ncols;
  loom_table_col *cols; /* (ncols) in the order requested */
  int64_t nrows;
  int64_t *line;        /* (nrows) line in the file where each row starts (header = line 1) */
} loom_table;

#define LOOM_CSV_MAX_COLUMNS 4096 /* fields in a header row */

typedef struct loom_csv_opts {
  size_t max_field_bytes; /* 0 = 1 MiB */
  int allow_empty;        /* 1: a header without data rows is an empty table, not an error */
} loom_csv_opts;

/* Reads the columns `spec` (by header name) of a CSV (or .csv.gz) file in one streaming pass:
 * RFC 4180 strict quoting, UTF-8 (BOM skipped), LF or CRLF. Numbers are decimal only, with ASCII
 * spaces and tabs around them ignored: integers [+-]digits (int64), floats
 * [+-](digits[.digits] | digits. | .digits)([eE][+-]digits)? — no hex (0x10, 0x1p3), inf, nan, "1e"
 * or other characters (a BOM or no-break space in a number is named as such); an empty int field is
 * an error, an empty float field NaN. Only regular files are read (a FIFO, directory or device is
 * refused by name), and a .gz stream must end with its trailer (a cut file is "truncated"). Caps: max_field_bytes per field,
 * LOOM_CSV_MAX_COLUMNS per header. Returns 0 or -1 with a message naming file, line, column and what
 * to do. */
int loom_table_read(loom_table *t, const char *path, const loom_colspec *spec, int nspec, const loom_csv_opts *o,
                    loom_error *err);
void loom_table_free(loom_table *t);
/* Column index by name, -1 if not requested. */
int loom_table_find(const loom_table *t, const char *name);
static inline const char *loom_table_str(const loom_table *t, int c, int64_t r) {
  return t->cols[c].sbuf + t->cols[c].soff[r];
}

/* ---------------------------------------------------------------- gzip (user files open through loom/file.h) */
/* Closes a zlib gzFile that was read until gzread returned 0, and checks how the stream ended: -1
 * naming path when it was cut short (no end marker / trailer: "truncated") or fails its CRC. */
struct gzFile_s;
int loom_gz_close_checked(struct gzFile_s *gz, const char *path, loom_error *err);

/* ---------------------------------------------------------------- schema ([data] in the run INI) */

#define LOOM_DATA_MAX_COLS 16         /* text_cols */
#define LOOM_DATA_MAX_FEATURES 1024   /* numeric_cols, category_cols (a range f0..f1023 names many in one entry) */
#define LOOM_DATA_NAME 64
#define LOOM_DATA_MAX_LABELS 8 /* schema label_cols: the label columns of a multitask model's heads */
#define LOOM_DATA_PATH 1024

typedef enum { LOOM_SPLIT_RANDOM, LOOM_SPLIT_COLUMN, LOOM_SPLIT_TIME, LOOM_SPLIT_LEAVE_LAST } loom_split_kind;
typedef enum { LOOM_SPLIT_TRAIN = 0, LOOM_SPLIT_VAL = 1, LOOM_SPLIT_TEST = 2, LOOM_SPLIT_ALL = 3 } loom_split;
typedef enum { LOOM_POLICY_ERROR = 0, LOOM_POLICY_SKIP = 1, LOOM_POLICY_ZERO = 1 } loom_policy;
typedef enum { LOOM_SCALE_STANDARD, LOOM_SCALE_MINMAX, LOOM_SCALE_NONE } loom_scaling;
typedef enum { LOOM_MISSING_ERROR, LOOM_MISSING_MEAN, LOOM_MISSING_ZERO } loom_num_missing;
typedef enum { LOOM_NEG_UNIFORM, LOOM_NEG_POPULARITY } loom_neg_sampling;

typedef struct loom_data_schema {
  char interactions[LOOM_DATA_PATH], items[LOOM_DATA_PATH], users[LOOM_DATA_PATH], image_root[LOOM_DATA_PATH];
  char user_col[LOOM_DATA_NAME], item_col[LOOM_DATA_NAME];  /* keys in interactions */
  char item_key[LOOM_DATA_NAME], user_key[LOOM_DATA_NAME];  /* keys in items / users ("" = same name) */
  char label_col[LOOM_DATA_NAME], timestamp_col[LOOM_DATA_NAME], query_col[LOOM_DATA_NAME];
  char image_col[LOOM_DATA_NAME], split_col[LOOM_DATA_NAME];
  char video_col[LOOM_DATA_NAME]; /* a video file per row: video.frames frames beside the photo */
  int gallery;           /* images per image_col cell ('a.jpg|b.jpg'); 0 or 1 = the cell is one path */
  /* Feature columns are looked up in interactions, then items, then users. */
  int n_text, n_numeric, n_category;
  char text_cols[LOOM_DATA_MAX_COLS][LOOM_DATA_NAME];     /* item text, joined with spaces */
  char numeric_cols[LOOM_DATA_MAX_FEATURES][LOOM_DATA_NAME];
  char category_cols[LOOM_DATA_MAX_FEATURES][LOOM_DATA_NAME];
  loom_split_kind split;
  double split_ratio[3]; /* train, val, test */
  loom_policy missing_key, missing_image;
  int label_class;       /* 0: label is a number; 1: label is a class name → 0..K-1 (sorted names) */
  int int_keys;          /* user/item keys are integers: " 007" and "7" are the same key */
  int num_words, max_len, query_len, max_vocab_words;
  loom_pad pad;
  loom_image_opts image;
  loom_video_opts video; /* frames, sampling and caps; video.image is unused (frames follow `image`) */
  loom_scaling numeric_scaling;
  loom_num_missing numeric_missing;
  int negatives;
  loom_neg_sampling negative_sampling;
  double negative_power; /* popularity sampling ∝ count^power */
  uint64_t seed;
  int batch_size, shuffle, drop_last;
  int augment_flip, augment_crop_pad; /* training only */
  size_t max_field_bytes;
  int64_t image_cache_bytes;
  int image_anywhere;    /* [data] image_paths = inside (0, default) | anywhere (1): see below */
  int history_len;       /* [data] history_len: previous interactions per row (0 = none; src/data/history.c) */
  int history_all;       /* [data] history = positives (0, default) | all (1) */
  /* [data] item_vectors / user_vectors: precomputed vectors keyed by item / user id (loom/vectors.h) */
  char item_vectors[LOOM_DATA_PATH], user_vectors[LOOM_DATA_PATH];
  loom_policy missing_vector; /* a row whose id has no vector: error, or zeros (counted) */
  uint64_t max_vector_bytes;  /* cap on a vector file's size */
  /* Set by the trainer from [task], not a [data] key: 0 = any finite number; K >= 2 = every label
   * (numeric labels, every split) must be an integer in 0..K-1 (binary: 2, i.e. 0 or 1), checked
   * when the tables are loaded, with the file and line of the first bad one. */
  int label_values;
  /* Set by the trainer from [task] heads (multitask), not a [data] key: more numeric label columns of the
   * interactions file, each row's values in the batch's labels (B, n_label_cols); a missing or non-numeric
   * value is an error naming file, line and column. */
  int n_label_cols;
  char label_cols[LOOM_DATA_MAX_LABELS][LOOM_DATA_NAME];
} loom_data_schema;

/* Keys of [data]: one table in src/data/schema.c (type, default, range or choices, one doc line each);
 * `loom-train --help-config` prints it (loom_data_print_reference). With key_type=string keys are
 * compared as strings ("07" and "7" are different keys). */
void loom_data_schema_init(loom_data_schema *s);
/* One key of the [data] section; -1 on unknown key or bad value (the message names the key and the
 * valid choices). */
int loom_data_schema_set(loom_data_schema *s, const char *key, const char *value, loom_error *err);
/* The key table: number of keys, the i-th key's name, its default as a value that sets the field to what
 * loom_data_schema_init gives (NULL when the default is a built-in cap), whether a key is a path. */
int loom_data_key_count(void);
const char *loom_data_key_name(int i);
const char *loom_data_key_default(int i);
int loom_data_key_is_path(const char *key);
/* Every [data] key with its type, default and doc line (for --help-config). */
void loom_data_print_reference(void *file /* FILE* */);
/* Cross-field checks (paths set, ratios sum to 1, split_col given for split=column, ...). */
/* [data] keys that have no effect given other [data] keys (loom_config_check_rules; the rules
 * of keys a model ignores are the model's, loom_model_rules). */
extern const loom_cfg_rule loom_data_rules[];
extern const int loom_data_n_rules;
int loom_data_schema_validate(const loom_data_schema *s, loom_error *err);
/* Parses the [data] section of an INI file (other sections ignored); errors say file:line: key. */
int loom_data_schema_load_ini(loom_data_schema *s, const char *path, loom_error *err);

/* ---------------------------------------------------------------- preprocessing state */

/* Categorical string → embedding index: 0 = unknown, 1..n-1 fitted on training rows in order of
 * first appearance. */
typedef struct loom_idmap loom_idmap;
loom_idmap *loom_idmap_new(void);
void loom_idmap_free(loom_idmap *m);
int loom_idmap_add(loom_idmap *m, const char *key, loom_error *err); /* returns the index (>= 1) or -1 */
int32_t loom_idmap_get(const loom_idmap *m, const char *key);           /* 0 if unknown */
int32_t loom_idmap_size(const loom_idmap *m);                            /* ids used, incl. 0 */
const char *loom_idmap_key(const loom_idmap *m, int32_t id);             /* NULL for 0 */
char *loom_idmap_to_string(const loom_idmap *m);
loom_idmap *loom_idmap_from_string(const char *s, loom_error *err);

/* Per-feature scaling: standard x' = (x - mean) / std (std of 0 → 1), minmax x' = (x - min)/(max - min). */
typedef struct loom_numstats {
  int F;
  loom_scaling scaling;
  float *mean, *std, *min, *max; /* (F) */
} loom_numstats;
/* Statistics over rows x (N, F) (doubles, NaN = missing, skipped). */
int loom_numstats_fit(loom_numstats *s, const double *x, int64_t N, int F, loom_scaling sc, loom_error *err);
void loom_numstats_free(loom_numstats *s);
/* out (F) ← scaled x (F); a NaN becomes the scaled fill (mean → 0, zero → scaled 0) per `miss`, or
 * returns -1 if miss is LOOM_MISSING_ERROR (the caller names row and column). */
int loom_numstats_apply(const loom_numstats *s, const double *x, loom_num_missing miss, float *out, int *bad_col);
char *loom_numstats_to_string(const loom_numstats *s);
int loom_numstats_from_string(loom_numstats *s, const char *str, loom_error *err);

/* Everything fitted on the training split that inference needs: vocabulary, ID maps, statistics,
 * image normalisation. */
typedef struct loom_prep {
  loom_vocab *vocab;
  loom_idmap *users, *items;
  loom_idmap *labels; /* class names (id - 1 = class), NULL for numeric labels */
  int n_category;
  loom_idmap *category[LOOM_DATA_MAX_FEATURES];
  loom_numstats num;
  loom_image_opts image;
} loom_prep;
void loom_prep_free(loom_prep *p);
char *loom_prep_to_string(const loom_prep *p);
int loom_prep_from_string(loom_prep *p, const char *s, loom_error *err);

/* ---------------------------------------------------------------- dataset and batches */

typedef struct loom_dataset loom_dataset;

/* A batch is plain arrays; absent features have NULL pointers and 0 sizes. */
typedef struct loom_batch {
  int B, cap;            /* rows in this batch, allocated rows */
  const struct loom_dataset *ds; /* the dataset the rows are of (for messages naming their lines) */
  int T, Tq, F, n_cat, n_neg, C, H, W;
  int S;                 /* images per row: the photo (image_col) and the video's frames, stacked as C = S x channels */
  int32_t *row;          // (B) row in the interactions table
  int32_t *user, *item;  // (B) embedding indices, 0 = unknown
  int32_t *category;     // (B, n_cat)
  float *numeric;        // (B, F) scaled
  int32_t *tokens;       // (B, T) item text ids
  int32_t *lengths;      // (B)
  int32_t *query;        // (B, Tq)
  int32_t *query_len;    // (B)
  float *image;          // (B, C, H, W)
  float *label;          // (B)
  int n_labels;          // schema label_cols (0 = none)
  float *labels;         // (B, n_labels) those columns' values
  int32_t *neg;          // (B, n_neg) negative item indices (not among the user's positives)
  int32_t *neg_tokens;   // (B, n_neg, T) text of each negative item (when the dataset has text)
  int32_t *neg_lengths;  // (B, n_neg)
  float *neg_image;      // (B, n_neg, C, H, W) image of each negative item (when it has images)
  int Lh;                // [data] history_len (0 = no histories)
  int32_t *hist;         // (B, Lh) item indices of the user's earlier interactions, oldest first, 0-padded
  int32_t *hist_len;     // (B) valid entries of hist
  int Dv, Du;            // widths of [data] item_vectors / user_vectors (0 = none)
  float *item_vec;       // (B, Dv) each row's item vector (zeros when missing_vector = zero and it has none)
  float *user_vec;       // (B, Du) each row's user vector
} loom_batch;

/* Images per row: [data] gallery (or 1) for image_col, plus [data] frames for video_col (0 = no visual input). */
int loom_data_visual_slots(const loom_data_schema *s);

/* Allocates arrays for up to cap rows with the dataset's feature sizes. */
int loom_batch_init(loom_batch *b, const loom_dataset *ds, int cap, loom_error *err);
void loom_batch_free(loom_batch *b);

/* Reads the schema's tables, joins them, splits, and fits preprocessing on the training split —
 * or, with `frozen` (inference), uses it as is: every row is then in LOOM_SPLIT_ALL too. */
loom_dataset *loom_dataset_open(const loom_data_schema *s, const loom_prep *frozen, loom_error *err);
/* loom_dataset_open that fits everything but the vocabulary, which is a copy of `vocab` (e.g. the
 * words of pretrained vectors, loom_wordvec_vocab) instead of the training text's words. */
loom_dataset *loom_dataset_open_vocab(const loom_data_schema *s, const loom_vocab *vocab, loom_error *err);
void loom_dataset_free(loom_dataset *ds);
const loom_prep *loom_dataset_prep(const loom_dataset *ds);
int64_t loom_dataset_rows(const loom_dataset *ds, loom_split sp);      /* rows in a split */
const int32_t *loom_dataset_split_rows(const loom_dataset *ds, loom_split sp); /* their row ids */
/* Rows skipped by missing_key=skip / images replaced by missing_image=zero so far. */
int64_t loom_dataset_skipped_rows(const loom_dataset *ds);
int64_t loom_dataset_zero_images(const loom_dataset *ds);
/* Rows (interactions, then catalogue lookups) whose item / user had no vector and got zeros
 * (missing_vector = zero); the vector widths (0 without a file). */
int64_t loom_dataset_zero_vectors(const loom_dataset *ds, int user);
int loom_dataset_vector_dim(const loom_dataset *ds, int user);
int32_t loom_dataset_num_items(const loom_dataset *ds); /* item ids incl. 0 */
int32_t loom_dataset_num_classes(const loom_dataset *ds); /* K for label_type=class, else 0 */
/* One line for logs: rows per split, skipped rows, zero images, and every fitted size. */
void loom_dataset_summary(const loom_dataset *ds, char *buf, size_t n);

/* Fills b with rows[0..n) (no negatives, no augmentation). */
int loom_dataset_encode(loom_dataset *ds, const int32_t *rows, int n, loom_batch *b, loom_error *err);
/* Item features for arbitrary item indices (retrieval index): tokens (n, T), lengths (n),
 * image (n, C, H, W) — NULL pointers are skipped. Index 0 gives zeros. An item's features come from
 * its first training row. Dataset functions lock the dataset, so they may be called while a
 * prefetching loader runs (negatives' features already come with the batch). */
int loom_dataset_item_features(loom_dataset *ds, const int32_t *items, int n, int32_t *tokens, int32_t *lengths,
                               float *image, loom_error *err);
/* The items table as a retrieval catalogue, including items never seen in training (their ID index
 * is 0; text and image come from the items table's own columns only): size, key of row i, and
 * features of rows: item_idx (n), tokens (n, T), lengths (n), image (n, C, H, W) (NULL = skip). */
int64_t loom_dataset_catalog_size(const loom_dataset *ds);
const char *loom_dataset_catalog_key(const loom_dataset *ds, int64_t i);
int loom_dataset_catalog_features(loom_dataset *ds, const int64_t *rows, int n, int32_t *item_idx, int32_t *tokens,
                                  int32_t *lengths, float *image, loom_error *err);
/* Interaction row r (a row id of a split): the file line where it starts, and its user and item key
 * as written ("" when the table has no such column). */
int64_t loom_dataset_row_line(const loom_dataset *ds, int32_t r);
/* Interaction row r's label (the class index for label_type = class; 0 when the table has none). */
float loom_dataset_row_label(const loom_dataset *ds, int32_t r);
/* Interaction row r's value of schema label_cols[col]. */
float loom_dataset_row_extra_label(const loom_dataset *ds, int32_t r, int col);
/* Index of `name` among the schema's label_cols, -1 if it is not one. */
int loom_data_extra_label_index(const loom_data_schema *s, const char *name);
/* The file loom opens for image path rel of a table (relative to image_root, absolute as given), under
 * [data] image_paths: with inside, the resolved path, and -1 with err when it leads outside
 * image_root. Callers that read image files outside the loader (hashes) use this so that they read
 * exactly what the loader would, and nothing it would refuse. */
int loom_dataset_image_file(const loom_dataset *ds, const char *rel, char *open_path, size_t cap, loom_error *err);
/* The schema the dataset was opened with (paths and column names for messages). */
const loom_data_schema *loom_dataset_schema(const loom_dataset *ds);
const char *loom_dataset_row_user(const loom_dataset *ds, int32_t r);
const char *loom_dataset_row_item(const loom_dataset *ds, int32_t r);
/* Whether the interactions file has the label column (frozen datasets may lack it). */
int loom_dataset_has_labels(const loom_dataset *ds);
/* A user key as the dataset compares keys (key_type=int: canonical decimal) → its embedding index,
 * 0 when the key was not seen in training. */
int32_t loom_dataset_user_index(const loom_dataset *ds, const char *key);
/* Rows pairing one user (key; NULL or unknown = none) and an optional query with catalogue rows
 * rows[0..n), encoded as interaction rows would be: item index, text and image from the items table,
 * columns of the users table from the user's row; what only an interactions row has is unknown —
 * numeric features take the training mean (scaled 0), categories the unknown id. For ranking every
 * item for one user with a pointwise (click) model. b->row[i] = -1. */
int loom_dataset_encode_pairs(loom_dataset *ds, const char *user_key, const char *query, const int64_t *rows, int n,
                              loom_batch *b, loom_error *err);
/* The user's history for a new impression after every row of ds ([data] history_len items, oldest first,
 * positives or all as [data] history says, items unknown to the model left out): hist (history_len),
 * *len entries valid, the rest 0. 0 entries without histories or for a user with no rows; -1 out of memory. */
int loom_dataset_user_history(const loom_dataset *ds, const char *user_key, int32_t *hist, int32_t *len);
/* Copies one history (h (b->Lh), len) into rows [0, n) of b (after loom_dataset_encode_pairs, which leaves
 * them empty): every pair is then scored as the user's next impression. */
void loom_batch_set_history(loom_batch *b, int n, const int32_t *h, int32_t len);
/* Catalogue row i's value in column `col` of the items table as written, NULL if the table has no
 * such column among those the schema reads. */
const char *loom_dataset_catalog_str(const loom_dataset *ds, int64_t i, const char *col);
/* A fingerprint of the catalogue's image files (each path, size and modification time, in row order)
 * into hex[65]: what a cache of item vectors must match besides the items file itself. */
void loom_dataset_catalog_image_stamp(const loom_dataset *ds, char hex[65]);
/* Draws n negatives for `user` (excluding the user's training positives and `pos`). */
int loom_dataset_negatives(const loom_dataset *ds, int32_t user, int32_t pos, int n, loom_rng *rng, int32_t *out);

/* ---------------------------------------------------------------- loader */

typedef struct loom_loader loom_loader;

/* Batches over a split: shuffled per epoch (train, if schema.shuffle) with a permutation drawn from
 * (seed, epoch); negatives and augmentation draw from the loader's RNG. prefetch = 1 prepares the
 * next batch on a background thread; results are identical either way. */
loom_loader *loom_loader_new(loom_dataset *ds, loom_split sp, int prefetch, loom_error *err);
void loom_loader_free(loom_loader *ld);
/* Next batch (valid until the next call); B = 0 at the end of an epoch (the next call starts the
 * next epoch); NULL on error. */
const loom_batch *loom_loader_next(loom_loader *ld, loom_error *err);
/* Position after the last batch returned: {"epoch","cursor","seed","rng"}; restoring it into a
 * loader over the same dataset gives the same following batches, bit for bit. */
char *loom_loader_state_to_string(const loom_loader *ld);
int loom_loader_state_from_string(loom_loader *ld, const char *s, loom_error *err);
int64_t loom_loader_epoch(const loom_loader *ld);

#ifdef __cplusplus
}
#endif
#endif
