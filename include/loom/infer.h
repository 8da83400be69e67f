/* loom/infer.h — a trained checkpoint put to work: score rows, rank the catalogue for a user and a
 * query, search it by text or photo, export embeddings, evaluate on new data. A session maps the
 * checkpoint, validates it, rebuilds the model from the config and preprocessing stored in it, drops
 * every training-only buffer (gradients, optimiser state) and compiles for inference (dropout off,
 * batch norm in eval mode). The catalogue (the items table) is read on first use; its item-tower
 * vectors are computed once, kept in memory and, optionally, in a cache file beside the checkpoint.
 *
 *   loom_infer *s = loom_infer_open("runs/shop/best.safetensors", NULL, &err);
 *   loom_hit top[10];
 *   int n = loom_infer_rank(s, "u00042", "black ankle boot", 10, top, NULL, &err);
 *   for (int i = 0; i < n; i++) printf("%s %.3f\n", top[i].item, top[i].score);
 *   loom_infer_close(s);
 */
#ifndef LOOM_INFER_H
#define LOOM_INFER_H

#include <stdbool.h>
#include <stdint.h>

#include "loom/error.h"
#include "loom/evaluate.h"
#include "loom/index.h"
#include "loom/model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct loom_infer loom_infer;

typedef struct loom_infer_opts {
  const char *items;      /* the catalogue (items table CSV) for rank / search / embed; NULL: the checkpoint's */
  const char *users;      /* the users table; NULL: the checkpoint's */
  const char *image_root; /* folder of relative image paths; NULL: the checkpoint's */
  int batch_size;         /* rows per forward pass; 0: the checkpoint's [data] batch_size */
  bool item_cache;        /* read / write the catalogue's item vectors in CKPT.items.safetensors */
  /* rank / search of two-tower models: the index over the item vectors (kind and options; NULL: AUTO —
   * exact below LOOM_INDEX_AUTO_ROWS items)
   * and the metric (NULL: the model's — dot for ranking, cosine for retrieval and search). An
   * approximate index is built on first use and its recall@10 against the exact index is measured on
   * LOOM_INFER_RECALL_QUERIES catalogue items and reported as a note (loom_infer_note). */
  const loom_index_opts *index;
  const char *metric;
} loom_infer_opts;
#define LOOM_INFER_RECALL_QUERIES 200

/* Maps and validates checkpoint `path` (written by loom-train: best.safetensors or last.safetensors)
 * and builds the model for inference. NULL with err naming the file and what is wrong: not a loom
 * checkpoint, another format version, a corrupt header, a config or tensors that do not fit. */
loom_infer *loom_infer_open(const char *path, const loom_infer_opts *o, loom_error *err);
void loom_infer_close(loom_infer *s);
loom_task_kind loom_infer_task(const loom_infer *s);
const loom_model *loom_infer_model(const loom_infer *s);
/* Multiclass: the name of class k (label_type=class), or NULL for numeric labels. */
const char *loom_infer_class_name(const loom_infer *s, int k);

/* ---- scoring rows of a CSV in the training schema (items / users tables joined as in training) */

typedef struct loom_infer_row {
  int64_t line;       /* line of the input file where the row starts */
  const char *user, *item; /* keys as written ("" when the schema has no such column) */
  float score;        /* binary: P(positive); multiclass: P(predicted class); ranking: u·v; retrieval: cosine;
                       * regression: the prediction in label units; multitask: the first head's probs[0] */
  float logit;        /* binary: the logit; multitask: the first head's output; otherwise = score */
  int cls;            /* multiclass: predicted class, else -1 */
  const float *probs; /* multiclass: (classes) probabilities; multitask: (heads) P(1) of a binary head, the
                       * prediction of a regression head (loom_model_head_name); else NULL */
  bool unknown_user;  /* the user was not in the training data: non-personalised (mean user) */
  bool unknown_item;  /* the item was not in the training data: scored from its text and image alone */
} loom_infer_row;
/* Called once per row, in file order; a non-zero return stops scoring (and is returned). */
typedef int (*loom_infer_row_fn)(void *ctx, const loom_infer_row *row);
/* Scores every row of `csv`. Extra columns are ignored; a column the model needs and the file lacks
 * is an error naming it. Returns 0, the callback's non-zero value, or -1 with err. */
int loom_infer_score_csv(loom_infer *s, const char *csv, loom_infer_row_fn fn, void *ctx, loom_error *err);

/* ---- ranking and search over the catalogue */

typedef struct loom_hit {
  int64_t row;      /* row in the catalogue (items table, header excluded) */
  const char *item; /* its key (valid until the session closes) */
  float score;      /* ranking: the model's score (P(click) for a click model, u·v for two towers); search: cosine */
  bool unknown_item; /* not in the training data (cold start: scored from text and image) */
  const char *title; /* the items table's "title" column, else its first text column; NULL if none */
} loom_hit;

enum { /* *flags of loom_infer_rank */
  LOOM_INFER_UNKNOWN_USER = 1,   /* the user is not in the training data: non-personalised (mean user) */
  LOOM_INFER_USER_IGNORED = 2,   /* the model has no user input (retrieval): ranked by the query alone */
  LOOM_INFER_QUERY_UNKNOWN = 4,  /* no word of the query is in the vocabulary: ranked by the user alone */
};

/* The k best catalogue items for `user` (NULL = nobody; "" is an error) and an optional `query`
 * (NULL or "" = none): two-tower models score v·u with the cached item vectors; a click model scores
 * every (user, item) pair from its cached item towers (text, image), with what only an interaction
 * row has (position, time, ...) at its training mean. A query is an error for a model without a query
 * tower (it could not change the scores), and so is a model without a user input (retrieval) given no
 * query, or a query with no known word and nothing else to rank by. *flags gets the LOOM_INFER_* bits
 * above. Returns the number of hits (<= k), or -1 with err. */
int loom_infer_rank(loom_infer *s, const char *user, const char *query, int k, loom_hit *hits, unsigned *flags,
                    loom_error *err);
/* loom_infer_rank over the rows i of the catalogue with keep[i] != 0 (keep: (N) flags, or NULL = all):
 * the same scores, the same order, the excluded rows skipped (fewer than k hits when few are kept). */
int loom_infer_rank_filtered(loom_infer *s, const char *user, const char *query, int k, const uint8_t *keep,
                             loom_hit *hits, unsigned *flags, loom_error *err);
/* Cross-modal search (two-tower models): the k items whose vectors are closest by cosine to the
 * query-tower vector of `text`; or, for the photo at `image_path`, the items whose photos look most alike
 * to the item tower (photo and catalogue photos alike with the text blanked). An empty text
 * or a text with no known word is an error (it would rank arbitrarily). */
int loom_infer_search_text(loom_infer *s, const char *text, int k, loom_hit *hits, loom_error *err);
int loom_infer_search_image(loom_infer *s, const char *image_path, int k, loom_hit *hits, loom_error *err);

/* The metric rank (search = false) or search (true) of a two-tower model compares vectors by: --metric
 * (loom_infer_opts.metric) when given, else the model's (see loom_infer_opts). */
loom_index_metric loom_infer_metric(const loom_infer *s, bool search);

/* ---- embeddings and evaluation */

/* Writes the item vectors of the catalogue (which = "items", tensor "item_vectors" (N, D)) or the
 * user vectors of every user in the training data ("users", "user_vectors" (U, D), query empty) to a
 * safetensors file, keys in metadata "ids" (a JSON array, row order). Two-tower models only. */
int loom_infer_embed(loom_infer *s, const char *which, const char *out_path, loom_error *err);
/* The training metrics on `csv` (rows in the training schema, labels required), or with csv NULL on
 * split `sp` (LOOM_SPLIT_VAL / LOOM_SPLIT_TEST) of the checkpoint's own data, re-split exactly as
 * training did. The evaluator is the session's (valid until the next eval or close). */
const loom_evaluator *loom_infer_eval(loom_infer *s, const char *csv, loom_split sp, loom_error *err);

/* Notes for the user gathered since open — things that did not stop the answer but change what it
 * means or cost: a checkpoint without checksums (written by an older loom), an item cache that was
 * corrupt and rebuilt, or that could not be saved. n = how many; note(i) valid until close. */
int loom_infer_n_notes(const loom_infer *s);
const char *loom_infer_note(const loom_infer *s, int i);

/* The files this session reads or may read — the checkpoint, its items and users tables, its
 * interactions file (eval on its own split), the item cache — as n <= max paths and what each is
 * ("the checkpoint", ...), valid until close; for a caller that must never write over one of them. */
int loom_infer_inputs(const loom_infer *s, const char **paths, const char **roles, int max);

/* Catalogue size (reads the catalogue if needed; -1 with err on failure). */
int64_t loom_infer_catalog_size(loom_infer *s, loom_error *err);
/* Seconds spent in loom_infer_open and in computing (or loading) the item vectors. */
double loom_infer_open_seconds(const loom_infer *s);
double loom_infer_catalog_seconds(const loom_infer *s);
/* How the item vectors were obtained: "none", "computed", "cache" (read from the cache file),
 * "computed+saved". */
const char *loom_infer_catalog_source(const loom_infer *s);

/* ---- accessors for long-running callers (loom-serve): the stored schema, catalogue keys, vectors */

/* The data schema stored in the checkpoint (paths as given at open), valid until close. */
const loom_data_schema *loom_infer_schema(const loom_infer *s);
/* The key of catalogue row `row` (reads the catalogue if needed; NULL with err on failure). */
const char *loom_infer_item_key(loom_infer *s, int64_t row, loom_error *err);
/* Two-tower models: the vector width D; 0 for pointwise models. */
int loom_infer_dim(const loom_infer *s);
/* Two-tower models: the (N, D) item vectors of the catalogue, computed (or read from the cache) on
 * first use; valid until close. NULL with err for other models. */
const float *loom_infer_item_vectors(loom_infer *s, loom_error *err);
/* Two-tower models: the user-side vector (D) of `user` (NULL = nobody) and `query` (NULL = none)
 * into out; *flags gets LOOM_INFER_UNKNOWN_USER / LOOM_INFER_QUERY_UNKNOWN. 0, or -1 with err. */
int loom_infer_user_vector(loom_infer *s, const char *user, const char *query, float *out, unsigned *flags,
                           loom_error *err);

/* ---- ONNX export (docs/onnx.md) */

#define LOOM_INFER_ONNX_MAX_OUTPUTS 4
typedef struct loom_infer_onnx_info {
  int n_inputs, n_outputs;
  char inputs[LOOM_MODEL_MAX_INPUTS][64], outputs[LOOM_INFER_ONNX_MAX_OUTPUTS][16];
  size_t bytes;
} loom_infer_onnx_info;
/* The model's inference graph as an ONNX file (opset 13) at out_path, written whole or not at all.
 * Outputs: binary "logits" (B) and "score" = sigmoid; multiclass "logits" (B, K) and "probs" = softmax;
 * ranking / retrieval "user_vec" (B, D), "item_vec" (B·G, D) and "logits" (B, G). `only` (NULL: all)
 * is a comma-separated subset of these; the inputs are the graph inputs those outputs read, under their
 * names (docs/checkpoint-format.md), with a dynamic batch. An op without an ONNX mapping is an error
 * naming the op, its graph node and the config key that put it there. info (may be NULL) gets the
 * names and the file size. 0, or -1 with err. */
int loom_infer_export_onnx(loom_infer *s, const char *out_path, const char *only, loom_infer_onnx_info *info,
                           loom_error *err);

#ifdef __cplusplus
}
#endif
#endif
