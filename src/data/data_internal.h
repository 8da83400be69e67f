/* data_internal.h — small containers shared by src/data: a string → int32 hash map whose keys live
 * in one growing arena (ID maps, vocabulary, joins, image cache) and a growable byte buffer.
 * Allocation failures are reported as -1 so callers can turn them into a loom_error. */
#ifndef LOOM_DATA_INTERNAL_H
#define LOOM_DATA_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct ld_buf {
  char *p;
  size_t n, cap;
} ld_buf;

int ld_buf_put(ld_buf *b, const void *src, size_t n); /* appends; -1 on out of memory */
void ld_buf_free(ld_buf *b);

/* Open addressing, linear probing; keys are byte strings (may contain anything but are compared by
 * length + bytes). Insertion order is kept: key i is ld_map_key(m, i). */
typedef struct ld_map {
  int32_t *slot;   /* (cap) entry index or -1 */
  int64_t *koff;   /* (n + 1) offsets of keys in kbuf */
  int32_t *val;    /* (n) */
  ld_buf kbuf;
  int32_t n, cap, kcap;
} ld_map;

void ld_map_init(ld_map *m);
void ld_map_free(ld_map *m);
/* Value for key, or -1 when absent. */
int32_t ld_map_get(const ld_map *m, const char *key, size_t len);
/* Inserts key → val if absent; returns entry index (>= 0), or -1 on out of memory. *added tells. */
int32_t ld_map_put(ld_map *m, const char *key, size_t len, int32_t val, int *added);
static inline const char *ld_map_key(const ld_map *m, int32_t i) { return m->kbuf.p + m->koff[i]; }
static inline size_t ld_map_keylen(const ld_map *m, int32_t i) { return (size_t)(m->koff[i + 1] - m->koff[i] - 1); }

uint64_t ld_hash(const char *s, size_t n);
/* 1 if s[0..n) is valid UTF-8 (no overlongs, no surrogates); else 0 and *bad = byte offset. */
int ld_utf8_valid(const char *s, size_t n, size_t *bad);
/* Formats a float so that strtof gives back the same bits ("%.9g"). */
void ld_fmt_float(char out[32], float x);


/* ---- files and CSV output (converters in src/data/convert write loom's CSV layout) ---- */
struct loom_error;
/* mkdir -p: creates `path` and every missing parent (mode 0755); existing directories are fine. */
int ld_mkdir_p(const char *path, struct loom_error *err);
/* out[cap] = "dir/name"; -1 with a message when it does not fit. */
int ld_path_join(char *out, size_t cap, const char *dir, const char *name, struct loom_error *err);
/* The whole file, NUL-terminated and loom_malloc'ed; *len (if non-NULL) gets its size. */
char *ld_read_file(const char *path, size_t *len, struct loom_error *err);
/* Opens dir/name for writing ("wb"), and closes it reporting any failed write (disk full) by name. */
FILE *ld_create(const char *dir, const char *name, struct loom_error *err);
int ld_close(FILE *f, const char *dir, const char *name, struct loom_error *err);
/* One CSV field, RFC 4180: quoted (inner quotes doubled) when it holds , " CR or LF; `first` = 1 for a
 * row's first field (no separator before it); NULL is an empty field. Rows end with ld_csv_end (LF). */
void ld_csv_put(FILE *f, int first, const char *s);
void ld_csv_putf(FILE *f, int first, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static inline void ld_csv_end(FILE *f) { fputc('\n', f); }

/* Streams the columns `spec` of a CSV file through fn with loom_table_read's parsing, checks and
 * messages, in constant memory: fn is called once with the header parsed (row->nrows == 0; names and
 * `present` set, so optional columns can be checked), then once per data row (row->nrows == 1, row 0,
 * row->line[0] its line). fn returns 0 to go on, 1 to stop reading (not an error), -1 with err set to
 * fail. A header without data rows is not an error. */
struct loom_table;
struct loom_colspec;
struct loom_csv_opts;
typedef int (*ld_csv_row_fn)(const struct loom_table *row, void *ctx, struct loom_error *err);
int ld_csv_stream(const char *path, const struct loom_colspec *spec, int nspec, const struct loom_csv_opts *o,
                  ld_csv_row_fn fn, void *ctx, struct loom_error *err);

/* stb_image behind loom's allocator, compiled static in stb_image_impl.c (PNG and BMP only). */
int ld_stbi_info(const void *data, size_t n, int *w, int *h, int *comp);
unsigned char *ld_stbi_load(const void *data, size_t n, int *w, int *h, int channels);
const char *ld_stbi_failure(void);
/* loom_image_decode with a cap on width and height (0 or > LD_IMAGE_MAX_DIM = LD_IMAGE_MAX_DIM),
 * checked against the file's header before any pixel buffer is allocated. */
#define LD_IMAGE_MAX_DIM 16384
#define LD_IMAGE_MAX_PIXELS ((int64_t)1 << 26) /* 64 Mpixel: 192 MB as RGB */
struct loom_error;
int ld_image_decode(const void *data, size_t n, int channels, int max_dim, const char *name, uint8_t **pix, int *w,
                    int *h, struct loom_error *err);
/* out (C, H, W) in [0, 255] → (out / 255 - mean[c]) / std[c], in place: photos and video frames alike. */
struct loom_image_opts;
void ld_image_normalise(float *out, const struct loom_image_opts *o);

/* Testing: lower the cap on distinct words a vocabulary counts (0 restores the default, 2^24). */
void ld_vocab_test_cap(int max_distinct);

/* Dataset internals the loader uses (dataset.c). The _locked functions expect ld_dataset_lock held. */
struct loom_dataset;
struct loom_batch;
struct loom_data_schema;
struct loom_error;
struct loom_rng;
void ld_dataset_lock(struct loom_dataset *ds);
void ld_dataset_unlock(struct loom_dataset *ds);
const struct loom_data_schema *ld_dataset_schema(const struct loom_dataset *ds);
int ld_encode_locked(struct loom_dataset *ds, const int32_t *rows, int n, struct loom_batch *b, struct loom_error *err);
/* b->neg (B, n_neg) and the negatives' features, drawn from rng. */
int ld_negatives_locked(struct loom_dataset *ds, struct loom_batch *b, struct loom_rng *rng, struct loom_error *err);

/* ---- issue 13: hostile files and bytes (util.c) */
/* 1 if s[0..n) is a decimal number by loom's grammar (no spaces: trim first): [+-]digits for
 * integers; [+-](digits[.digits*] | .digits)([eE][+-]digits)? for floats. No hex, inf, nan. */
int ld_decimal_valid(const char *s, size_t n, int integer);
/* The float strtof gives for s[0..n), a decimal by that grammar (wordvec.c; a fast path with a
 * proof of equality, else strtof). */
float ld_parse_f32(const char *s, size_t n);
/* User data for a message: control bytes and bytes that are not UTF-8 as \xNN, invisible characters
 * (BOM, zero-width, bidi controls, no-break spaces, C1) as \uXXXX, cut with "..." to fit cap. */
const char *ld_quote(char *out, size_t cap, const char *s, size_t n);
/* " (it contains U+FEFF (byte order mark) at byte N of the field)" for the first such character of
 * s[0..n) (also control bytes and non-UTF-8 bytes), or "" when every character prints. */
const char *ld_invisible_note(char *out, size_t cap, const char *s, size_t n);

/* ---- behaviour histories (history.c, [data] history_len) ---- */
typedef struct ld_history_in {
  const struct loom_table *in;     /* interactions */
  int c_user, c_ts;                /* user key and timestamp columns of `in` */
  const int32_t *split_rows[3];    /* rows of train, val, test (a frozen dataset: every row as train) */
  int64_t split_n[3];
  const int32_t *item_idx;         /* (rows) item embedding index, 0 = unknown */
  const float *label;              /* (rows) positive when > 0; NULL = every row is positive */
  int L, all;                      /* history_len; history = all (1) or positives (0) */
  const char *path, *ts_col;       /* for messages */
} ld_history_in;
/* hist (rows, L) and hist_len (rows) of every row in split_rows: see history.c for what a row sees. */
int ld_history_build(const ld_history_in *h, int32_t *hist, int32_t *hist_len, struct loom_error *err);
/* hist (L), *len: the user's latest L qualifying items over every row of split_rows (what an impression
 * after all of them sees). -1 out of memory. */
int ld_history_latest(const ld_history_in *h, const char *user, int32_t *hist, int32_t *len);

#endif
