/* loom/model_spec.h — the model sections of a run config ([text] [image] [vectors] [interaction] [fusion]
 * [task]) as one typed struct, read once from the config by loom_model_spec_read through the key table's
 * rows (loom_train_keys in model.c: each row names its member by offsetof, and a CHOICE row maps its
 * values to one of the enums below). The builders, the evaluator and the freeze / learning-rate rules take
 * this struct, never the config's strings. Strings (paths, hashes, task.monitor) point into the config's
 * storage: valid while the config lives and the key is not set again. */
#ifndef LOOM_MODEL_SPEC_H
#define LOOM_MODEL_SPEC_H

#include <stdbool.h>

#include "loom/backbone.h"
#include "loom/config.h"
#include "loom/layers.h"
#include "loom/loss.h"
#include "loom/model.h"
#include "loom/ops_conv.h"
#include "loom/transformer.h"
#include "loom/wordvec.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LOOM_SPEC_LIST_MAX 32 /* values of an integer-list key (text.dense, image.filters, ...) */

typedef enum { LOOM_TEXT_LSTM = 0, LOOM_TEXT_GRU, LOOM_TEXT_CNN, LOOM_TEXT_TRANSFORMER } loom_text_encoder;
/* text.pooling; the first three equal loom_seq_pool_mode's LAST, MEAN, MAX */
typedef enum { LOOM_TEXT_POOL_LAST = 0, LOOM_TEXT_POOL_MEAN, LOOM_TEXT_POOL_MAX, LOOM_TEXT_POOL_FIRST } loom_text_pooling;
typedef enum { LOOM_IMAGE_CONV = 0, LOOM_IMAGE_ROWS } loom_image_encoder;
typedef enum { LOOM_POOL2D_MAX = 0, LOOM_POOL2D_AVG } loom_pool2d_kind;
typedef enum { LOOM_FRAMES_MEAN = 0, LOOM_FRAMES_MAX, LOOM_FRAMES_ATTENTION, LOOM_FRAMES_LSTM } loom_frame_pooling;
/* interaction.history_pooling; equal to history_pool.h's loom_hist_pool */
typedef enum { LOOM_HISTORY_POOL_MEAN = 0, LOOM_HISTORY_POOL_ATTENTION, LOOM_HISTORY_POOL_DIN } loom_history_pooling;
typedef enum { LOOM_HISTORY_ID = 0, LOOM_HISTORY_TEXT, LOOM_HISTORY_ALL } loom_history_content;
typedef enum {
  LOOM_FUSION_CONCAT = 0, LOOM_FUSION_SUM, LOOM_FUSION_MEAN, LOOM_FUSION_WEIGHTED, LOOM_FUSION_PRODUCT,
  LOOM_FUSION_GATED, LOOM_FUSION_FM, LOOM_FUSION_DCN, LOOM_FUSION_ATTENTION
} loom_fusion_mode;
/* task.loss: ranking's and retrieval's, then the regression heads' (heads.c) */
typedef enum {
  LOOM_LOSS_SAMPLED_SOFTMAX = 0, LOOM_LOSS_BPR, LOOM_LOSS_INFONCE, LOOM_LOSS_TRIPLET, LOOM_LOSS_MSE, LOOM_LOSS_HUBER
} loom_pair_loss;

typedef struct loom_text_spec {
  bool enabled;
  int embedding_dim;
  loom_text_encoder encoder;
  int hidden, layers;
  bool bidirectional;
  loom_text_pooling pooling;
  int cnn_widths[LOOM_SPEC_LIST_MAX], n_cnn_widths;
  int cnn_filters, heads, ff_dim;
  loom_activation ff_activation;
  loom_pos_kind positions;
  float transformer_dropout, recurrent_dropout;
  int dense[LOOM_SPEC_LIST_MAX], n_dense;
  loom_activation activation;
  float dropout;
  const char *pretrained;
  loom_wordvec_format pretrained_format;
  const char *pretrained_sha256;
  bool vocab_from_pretrained, freeze, share_query;
  double lr_mult;
} loom_text_spec;

typedef struct loom_image_spec {
  bool enabled;
  loom_backbone_arch backbone;
  const char *weights, *weights_sha256;
  loom_image_encoder encoder;
  int filters[LOOM_SPEC_LIST_MAX], n_filters;
  int kernel[LOOM_SPEC_LIST_MAX], n_kernel;
  int stride[LOOM_SPEC_LIST_MAX], n_stride;
  loom_conv_pad_mode padding; /* SAME or VALID */
  int pool[LOOM_SPEC_LIST_MAX], n_pool;
  loom_pool2d_kind pool_type;
  bool batchnorm;
  loom_activation activation;
  int dense[LOOM_SPEC_LIST_MAX], n_dense;
  float dropout;
  int lstm_hidden, lstm_layers;
  bool lstm_bidirectional;
  loom_text_pooling lstm_pooling; /* LAST, MEAN or MAX */
  loom_frame_pooling frame_pooling;
  int frame_hidden;
  bool freeze;
  double lr_mult;
} loom_image_spec;

typedef struct loom_vectors_spec {
  int dense[LOOM_SPEC_LIST_MAX], n_dense;
  loom_activation activation;
  float dropout;
} loom_vectors_spec;

typedef struct loom_interaction_spec {
  bool enabled;
  int dense[LOOM_SPEC_LIST_MAX], n_dense;
  loom_activation activation;
  int user_dim, item_dim;
  loom_history_pooling history_pooling;
  loom_history_content history_content;
  int history_din_hidden, category_dim;
  float embedding_dropout;
  bool freeze;
  double lr_mult;
} loom_interaction_spec;

typedef struct loom_fusion_spec {
  loom_fusion_mode mode;
  int dim, cross_layers;
  int dense[LOOM_SPEC_LIST_MAX], n_dense;
  loom_activation activation;
  float dropout;
  bool freeze;
  double lr_mult;
} loom_fusion_spec;

typedef struct loom_task_spec {
  loom_task_kind kind;
  int classes;
  float pos_weight, label_smoothing, threshold;
  const char *monitor;
  loom_pair_loss loss;
  float temperature, margin;
  loom_distance distance;
  int ks[LOOM_SPEC_LIST_MAX], n_ks;
  int eval_negatives;
  float huber_delta; /* regression heads, task.loss = huber */
  bool standardize;  /* regression heads learn the standardised label */
  const char *heads; /* multitask: column:kind[:weight], ... (heads.c parses it) */
} loom_task_spec;

typedef struct loom_model_spec {
  loom_text_spec text;
  loom_image_spec image;
  loom_vectors_spec vectors;
  loom_interaction_spec interaction;
  loom_fusion_spec fusion;
  loom_task_spec task;
} loom_model_spec;

/* Every model section of `c` (a config over loom_train_keys) into *s: the one place they become C values. */
void loom_model_spec_read(const loom_config *c, loom_model_spec *s);
/* The config name of an enum member's value (a CHOICE row of loom_train_keys), e.g. ("fusion", "mode",
 * LOOM_FUSION_DCN) -> "dcn", for messages; into buf (cap bytes), returned. */
const char *loom_model_spec_choice(const char *section, const char *key, int value, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
