/* loom/model.h — the joint text / image / interaction model, built from a run config: towers (any may
 * be left out), fusion, dense layers, a head and a loss per task, as one loom_graph whose parameter
 * names follow PyTorch's equivalent modules (text.embedding.weight, text.lstm.weight_ih_l0,
 * image.conv0.weight, interaction.user_embedding.weight, fusion.gate.weight, head.weight, ...).
 * The data pipeline, the training loop and checkpoints are left to data.h and trainer.h.
 *
 *   loom_config *c = loom_train_config_new(&dsec);  // model + [train] keys, [data] section (checkpoint.h)
 *   loom_model *m = loom_model_build(c, ds, &err);
 *   loom_model_compile(m, B, true);  loom_model_bind(m, batch, &err);
 *   loom_graph_forward(loom_model_graph(m));  loom_graph_backward(loom_model_graph(m), loom_model_loss(m));
 */
#ifndef LOOM_MODEL_H
#define LOOM_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "loom/config.h"
#include "loom/data.h"
#include "loom/error.h"
#include "loom/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The model's keys of a training run's config: sections [text] [image] [interaction] [fusion] [task]
 * ([train] is loom/train_spec.h's table, [data] the data module's; loom_train_config_new joins them). */
extern const loom_cfg_key loom_train_keys[];
extern const int loom_train_n_keys;

/* Keys of the tables above (and of [data]) that have no effect in some configurations. */
extern const loom_cfg_rule loom_model_rules[];
extern const int loom_model_n_rules;
/* After a config is loaded (file and --set): -1 with err naming the first key that has no effect
 * (loom_model_rules, then loom_data_rules) and where it was set. */
int loom_model_check_config(const loom_config *c, loom_error *err);

typedef enum {
  LOOM_TASK_BINARY = 0,
  LOOM_TASK_MULTICLASS,
  LOOM_TASK_RANKING,
  LOOM_TASK_RETRIEVAL,
  LOOM_TASK_REGRESSION, /* a number per row: MSE or Huber on the standardised label (heads.c) */
  LOOM_TASK_MULTITASK   /* several label columns, a binary or regression head each (task.heads) */
} loom_task_kind;
const char *loom_task_name(loom_task_kind k);

#define LOOM_MODEL_MAX_TOWERS 6 /* text, image, item_vectors, user_vectors, query, interaction */

typedef struct loom_model loom_model; /* opaque: read it through the accessors below */

/* What a built model exposes (its layout is private to src/model). */
loom_graph *loom_model_graph(const loom_model *m);     /* the graph: parameters, forward, backward */
loom_task_kind loom_model_task(const loom_model *m);
int loom_model_n_classes(const loom_model *m);         /* multiclass: K; binary, regression: 1; multitask: heads */
int loom_model_capacity(const loom_model *m);          /* largest batch its host buffers hold */
int loom_model_items_per_row(const loom_model *m);     /* G: 1, or ranking's 1 positive + negatives */
loom_tensor *loom_model_loss(const loom_model *m);     /* (1) mean over the batch */
loom_tensor *loom_model_logits(const loom_model *m);   /* binary (B), multiclass (B, K), ranking (B, G), regression (B)
                                                        * predictions in label units, multitask (B, heads): a binary
                                                        * head's logit, a regression head's prediction */
/* Regression and multitask: head i < loom_model_n_classes's label column and whether it is binary. */
const char *loom_model_head_name(const loom_model *m, int i);
bool loom_model_head_binary(const loom_model *m, int i);
loom_tensor *loom_model_user_vec(const loom_model *m); /* ranking / retrieval: (B, D); NULL otherwise */
loom_tensor *loom_model_item_vec(const loom_model *m); /* ranking / retrieval: (B·G, D); NULL otherwise */
bool loom_model_reads_query(const loom_model *m);      /* it has a query tower, so a query changes its scores */
int loom_model_n_towers(const loom_model *m);
const char *loom_model_tower_name(const loom_model *m, int i); /* in fusion order, i < n_towers */
/* Pointwise models, tower i < LOOM_MODEL_MAX_TOWERS: the item-only tower's output in a full model, the
 * input replacing it in a head model (loom_model_build_head), its width; NULL / 0 for other towers. */
loom_tensor *loom_model_tower_out(const loom_model *m, int i);
loom_tensor *loom_model_tower_in(const loom_model *m, int i);
int loom_model_tower_dim(const loom_model *m, int i);
/* Floats of one item's images, C·H·W (photo and video frames); 0 without an image tower. */
size_t loom_model_image_floats(const loom_model *m);
/* The images the last bind filled (its host buffer, loom_model_capacity() · G items of image_floats). */
const float *loom_model_bound_images(const loom_model *m);
/* The graph's input nodes, NULL when the model does not read that feature: the item text (B, G·T) i32,
 * its lengths (B, G), 1 / length (mean pooling), the pooling mask or weights; the query text (B, Tq)
 * (NULL in a shared full model, where it rides in tokens); user (B), item (B, G) IDs; images
 * (B, G·C, H, W); numeric features (B, F); category IDs (B, n_cat). */
loom_tensor *loom_model_input_tokens(const loom_model *m);
loom_tensor *loom_model_input_lengths(const loom_model *m);
loom_tensor *loom_model_input_text_inv_len(const loom_model *m);
loom_tensor *loom_model_input_text_mask(const loom_model *m);
loom_tensor *loom_model_input_query(const loom_model *m);
loom_tensor *loom_model_input_user(const loom_model *m);
loom_tensor *loom_model_input_item(const loom_model *m);
loom_tensor *loom_model_input_image(const loom_model *m);
loom_tensor *loom_model_input_numeric(const loom_model *m);
loom_tensor *loom_model_input_category(const loom_model *m);
/* Every feature input node the model reads (not the labels), into out[0..cap), in this order: tokens,
 * lengths, text 1/len, text mask, query, query length, query 1/len, query mask, image, numeric, user,
 * item, category, history, history aux, history valid (history_content = text | all). Returns how many. */
#define LOOM_MODEL_MAX_INPUTS 16
int loom_model_feature_inputs(const loom_model *m, loom_tensor **out, int cap);
/* text.share_query in a full pointwise model: the length each row's item text and query are padded to
 * in tokens (B, 2·share_T); 0 otherwise. */
int loom_model_shared_text_len(const loom_model *m);
/* [data] history_len the model reads (0: no histories); whether history items enter through the text
 * tower ([interaction] history_content = text | all), so scoring needs the whole model, not cached towers. */
int loom_model_history_len(const loom_model *m);
bool loom_model_history_text(const loom_model *m);

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
 * replaced by inputs tower_in[i] (B, loom_model_tower_dim(full, i)), the rest (interaction tower, fusion, head)
 * the same layers under the same names, parameters and buffers copied from `full`, no gradients. For
 * scoring many (user, item) pairs from item-tower outputs computed once. */
loom_model *loom_model_build_head(const loom_config *c, const loom_dataset *ds, const loom_model *full, loom_error *err);
/* Compiles for batch size B: train = loss with gradients (training mode: dropout, batch statistics);
 * otherwise logits and loss without gradients, in eval mode. No-op when already compiled so.
 * Returns 0, or -1 with err set. */
int loom_model_compile(loom_model *m, int B, bool train, loom_error *err);
/* Eval mode: compile for the n tensors outs only, with batch B. */
int loom_model_compile_outputs(loom_model *m, int B, int n, loom_tensor *const *outs, loom_error *err);
/* Ranking, eval mode: compile for `out` only (loom_model_user_vec or loom_model_item_vec) with batch B. */
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
