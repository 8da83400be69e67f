/* loom/model.h — the joint text / image / interaction model, built from a run config: towers (any may
 * be left out), fusion, dense layers, a head and a loss per task, as one loom_graph whose parameter
 * names follow PyTorch's equivalent modules (text.embedding.weight, text.lstm.weight_ih_l0,
 * image.conv0.weight, interaction.user_embedding.weight, fusion.gate.weight, head.weight, ...).
 * The data pipeline, the training loop and checkpoints are left to data.h and trainer.h.
 *
 *   loom_config *c = loom_config_new(loom_train_keys, loom_train_n_keys);  // + [data] section
 *   loom_model *m = loom_model_build(c, ds, &err);
 *   loom_model_compile(m, B, true);  loom_model_bind(m, batch, &err);
 *   loom_graph_forward(m->g);  loom_graph_backward(m->g, m->loss);
 */
#ifndef LOOM_MODEL_H
#define LOOM_MODEL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "loom/config.h"
#include "loom/data.h"
#include "loom/error.h"
#include "loom/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Every key of a training run's config except [data] (owned by the data module): sections [text]
 * [image] [interaction] [fusion] [task] [train]. */
extern const loom_cfg_key loom_train_keys[];
extern const int loom_train_n_keys;

/* Keys of the tables above (and of [data]) that have no effect in some configurations. */
extern const loom_cfg_rule loom_model_rules[];
extern const int loom_model_n_rules;
/* After a config is loaded (file and --set): -1 with err naming the first key that has no effect
 * (loom_model_rules, then loom_data_rules) and where it was set. */
int loom_model_check_config(const loom_config *c, loom_error *err);

typedef enum { LOOM_TASK_BINARY = 0, LOOM_TASK_MULTICLASS, LOOM_TASK_RANKING, LOOM_TASK_RETRIEVAL } loom_task_kind;
const char *loom_task_name(loom_task_kind k);

#define LOOM_MODEL_MAX_TOWERS 4

typedef struct loom_model {
  loom_graph *g;
  loom_task_kind task;
  int n_classes;  /* multiclass: K; binary: 1 */
  int cap;        /* largest batch the host buffers hold */
  int T, Tq, F, n_cat, n_neg, C, H, W; /* feature sizes of the dataset's batches */
  int S;         /* images per row (photo + video frames; C = S x one image's channels) */
  int G;          /* items scored per row: 1, or ranking's 1 positive + n_neg negatives */
  int n_towers;
  char towers[LOOM_MODEL_MAX_TOWERS][16]; /* names of the towers in the model, in fusion order */
  /* inputs (NULL when the model does not read that feature) */
  loom_tensor *tokens, *lengths;   /* (B, G·T) i32, (B, G) i32: the item text */
  loom_tensor *text_inv_len;       /* (B, G) 1 / max(length, 1), mean pooling */
  loom_tensor *text_mask;          /* (B, G·T) 0 at valid steps, -1e30 at padding, max pooling; a transformer's
                                    * mean/last/first pooling: each step's weight (text_pool_w) */
  int text_pool_w;                 /* what text_mask and query_mask hold (model.c's POOL_W_*; 0: the mask) */
  loom_tensor *query, *query_len, *query_inv_len, *query_mask; /* the query text, (B, Tq) ... (NULL in a shared
                                                                 * full model: the query rides in tokens) */
  int share_T;     /* text.share_query or history_content with text in a full pointwise model: tokens
                    * (B, text_G·share_T) hold each row's item text, its query (shared) and its history items'
                    * texts (history text), each padded to share_T = max(T, Tq), lengths (B, text_G); 0 otherwise */
  int text_G;      /* texts per row in tokens when share_T > 0: 1 + shared query + Lh history texts */
  bool reads_query; /* the model has a query tower (own or shared), so a query changes its scores */
  loom_tensor *image;              /* (B, G·C, H, W) */
  loom_tensor *numeric;            /* (B, F) */
  loom_tensor *user;               /* (B) i32 */
  loom_tensor *item;               /* (B, G) i32 */
  loom_tensor *category;           /* (B, n_cat) i32, offset into one table of all columns */
  int Lh;                          /* [data] history_len (0 = none) */
  int hist_mode;                   /* [interaction] history_pooling (history_pool.h's loom_hist_pool) */
  bool hist_text;                  /* [interaction] history_content = text | all: history items' texts in tokens */
  loom_tensor *hist, *hist_aux;    /* (B, Lh) i32 the user's earlier items; (B, 1) 1 / len or (B, 1, Lh) mask */
  loom_tensor *hist_valid;         /* (B, Lh, 1) 1 at valid history entries (history text), 0 at padding */
  loom_tensor *label_f;            /* (B) binary targets */
  loom_tensor *label_i;            /* (B) i32 class indices */
  loom_tensor *pos_weight;         /* (1) */
  loom_tensor *row_weight, *inv_weight; /* ranking: (B) 1 for positive rows, (1) 1 / their count */
  /* outputs */
  loom_tensor *logits; /* binary (B), multiclass (B, K), ranking (B, G) scores u·v (column 0 = positive) */
  loom_tensor *user_vec, *item_vec; /* ranking: (B, D) and (B·G, D) */
  loom_tensor *loss;   /* (1) mean over the batch */
  /* host buffers for inputs the batch does not hold as is, sized for cap rows */
  float *inv_len, *mask, *q_inv_len, *q_mask, *weights, *images;
  float *h_aux;                    /* (cap, Lh) or (cap) for hist_aux */
  float *h_valid;                  /* (cap, Lh) for hist_valid */
  int32_t *h_toks, *h_lens;        /* (cap·Lh, T), (cap·Lh): the history items' texts as the dataset gives them */
  int32_t *labels, *cat_ids, *items, *toks, *lens;
  int32_t cat_offset[LOOM_DATA_MAX_COLS];
  float pos_weight_value;
  /* pointwise models: the outputs of the item-only towers (text, image) of a full model, or, in a head
   * model (loom_model_build_head), the inputs that replace them; NULL for the other towers */
  loom_tensor *tower_out[LOOM_MODEL_MAX_TOWERS], *tower_in[LOOM_MODEL_MAX_TOWERS];
  int tower_dim[LOOM_MODEL_MAX_TOWERS];
  /* the compiled state (so that compile is skipped when nothing changed) */
  int compiled_B;
  bool compiled_train;
  loom_tensor *compiled_out; /* loom_model_compile_output's output, NULL otherwise */
  bool compiled_custom;      /* compiled by loom_model_compile_outputs (never skipped) */
  const loom_dataset *ds;    /* the dataset it was built for: bind errors name its file and line */
} loom_model;

/* Builds the graph described by config `c` for the feature sizes of dataset `ds` (vocabulary, ID
 * maps, numeric features, image size, classes). Parameters are initialised from [train] seed.
 * NULL with err naming the key when the config and the data disagree (e.g. a text tower without
 * text_cols). */
loom_model *loom_model_build(const loom_config *c, const loom_dataset *ds, loom_error *err);
void loom_model_free(loom_model *m);
/* Before building: an estimate, from the config and the dataset's feature sizes, of the memory
 * training takes (parameters, gradients and Adam moments; activations and their gradients at batch B).
 * -1 with err naming the size, the key of the largest part and batch_size when it exceeds 90 % of the
 * machine's physical memory (sysconf), where the build would otherwise die allocating. */
int loom_model_check_memory(const loom_config *c, const loom_dataset *ds, int B, loom_error *err);
/* A pointwise (binary / multiclass) model's head: `full` with its item-only towers (text, image)
 * replaced by inputs tower_in[i] (B, full->tower_dim[i]), the rest (interaction tower, fusion, head)
 * the same layers under the same names, parameters and buffers copied from `full`, no gradients. For
 * scoring many (user, item) pairs from item-tower outputs computed once. */
loom_model *loom_model_build_head(const loom_config *c, const loom_dataset *ds, const loom_model *full, loom_error *err);
/* Compiles for batch size B: train = loss with gradients (training mode: dropout, batch statistics);
 * otherwise logits and loss without gradients, in eval mode. No-op when already compiled so.
 * Returns 0, or -1 with err set. */
int loom_model_compile(loom_model *m, int B, bool train, loom_error *err);
/* Eval mode: compile for the n tensors outs only, with batch B. */
int loom_model_compile_outputs(loom_model *m, int B, int n, loom_tensor *const *outs, loom_error *err);
/* Ranking, eval mode: compile for `out` only (m->user_vec or m->item_vec) with batch B. */
int loom_model_compile_output(loom_model *m, int B, loom_tensor *out, loom_error *err);
/* Ranking: fill the item side's inputs for B·G item ids (features from loom_dataset_item_features). */
int loom_model_bind_items(loom_model *m, loom_dataset *ds, const int32_t *items, int B, loom_error *err);
/* Ranking: fill the item side's inputs for B·G rows of the dataset's items table (its catalogue;
 * loom_dataset_catalog_features): n valid rows, the rest of the B·G slots empty items. */
int loom_model_bind_catalog(loom_model *m, loom_dataset *ds, const int64_t *rows, int n, int B, loom_error *err);
/* Ranking: the item side from caller arrays — n items: ids (n), tokens (n, T) and lengths (n) or NULL,
 * images (n, C, H, W) or NULL; the other B·G - n slots are empty items. */
void loom_model_bind_item_arrays(loom_model *m, const int32_t *items, const int32_t *tokens, const int32_t *lengths,
                                 const float *images, int n, int B);
/* Row 0 of every ID embedding table — the unknown user, item or category value — becomes the mean
 * of the known rows, so an unseen ID gets the average (non-personalised) vector instead of an
 * untrained one. Done before every evaluation and when a checkpoint is opened for inference. */
void loom_model_fill_unknown(loom_model *m);
/* Points the inputs at batch b's arrays (b->B must equal the compiled batch) and fills the derived
 * inputs; -1 with err when a label is out of range. */
int loom_model_bind(loom_model *m, const loom_batch *b, loom_error *err);
/* The model summary: one line naming the task, towers and classes, then loom_graph_print of its graph. */
void loom_model_print(const loom_model *m, FILE *f);
/* `loom-train CONFIG --print-model`: opens the dataset of `schema` (the config's validated [data]),
 * builds the model `c` describes, compiles it for training at [data] batch_size and prints
 * loom_model_print to f; trains nothing and writes no file. -1 with err as loom_model_build gives it. */
int loom_model_print_summary(const loom_config *c, const loom_data_schema *schema, FILE *f, loom_error *err);

#ifdef __cplusplus
}
#endif
#endif
