/* model_internal.h — the layout of loom_model, private to src/model (and the white-box tests that link
 * loom_model_internal): the graph's input, output and host-buffer tensors the builder, binder and
 * evaluator share. Everyone else goes through loom/model.h's accessors. */
#ifndef LOOM_MODEL_INTERNAL_H
#define LOOM_MODEL_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "loom/data.h"
#include "loom/graph.h"
#include "loom/model.h"

/* One head of a regression or multitask model (heads.c): a Dense(dim -> 1) over the fused vector and its loss. */
#define LOOM_MODEL_MAX_HEADS 8
typedef struct loom_head {
  char name[LOOM_DATA_NAME]; /* the label column (multitask: the metrics' prefix, name/auc, name/rmse) */
  bool binary;               /* BCE on 0/1 labels; otherwise regression (MSE or Huber) */
  float weight;              /* of its loss in the model's loss */
  int col;                   /* where its label is: -1 = the batch's label, else column col of its extra labels */
  loom_tensor *label;        /* (B) f32 input: 0/1, or the label standardised by mean and std */
  loom_tensor *mean, *std;   /* regression: (1) buffers, the training split's label mean and standard deviation
                              * (0 and 1 with task.standardize = false); in the checkpoint with the parameters */
  loom_tensor *out;          /* (B) binary: the logit; regression: the prediction in label units */
  loom_tensor *loss;         /* (1) the head's mean loss, before its weight */
  float *host;               /* (cap) the label values bound */
} loom_head;

struct loom_model {
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
  int Dv, Du;                      /* widths of [data] item_vectors / user_vectors (0 = none) */
  loom_tensor *item_vecs, *user_vecs; /* (B, Dv), (B, Du) precomputed vectors (vectors_tower.h) */
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
  int32_t cat_offset[LOOM_DATA_MAX_FEATURES];
  bool ids_frozen; /* interaction.freeze: loom_model_fill_unknown leaves the ID tables as they are */
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
  /* regression and multitask (heads.c): the heads, their host buffers' rows */
  int n_heads, heads_cap;
  loom_head heads[LOOM_MODEL_MAX_HEADS];
};

#endif
