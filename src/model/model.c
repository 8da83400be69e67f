/* model.c — the run config's key table and the config → graph builder: text tower (embedding, then a
 * (Bi)LSTM or (Bi)GRU and pooling, or a TextCNN; dense), image tower (conv blocks, dense), interaction tower (numeric dense, ID embeddings),
 * fusion, head and loss. The training loop, metrics and checkpoints live in trainer.c; batches come
 * from src/data as plain arrays that loom_model_bind points the graph's inputs at. */
#include <assert.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loom/alloc.h"
#include "loom/conv.h"
#include "loom/dense.h"
#include "loom/embedding.h"
#include "loom/gru.h"
#include "loom/init.h"
#include "loom/interact.h"
#include "loom/loss.h"
#include "loom/lstm.h"
#include "loom/model.h"
#include "loom/model_spec.h"
#include "model_internal.h"
#include "loom/norm.h"
#include "loom/pretrained.h"
#include "loom/backbone.h"
#include "loom/checkpoint.h"
#include "loom/seq_pool.h"
#include "loom/textcnn.h"
#include "loom/train_spec.h"
#include "loom/transformer.h"
#include "heads.h"
#include "history_pool.h"
#include "vectors_tower.h"

#define ACTS "relu|tanh|sigmoid|gelu|none"

/* A row's loom_model_spec member (loom_config_read_spec fills it): M(type, member) for a bool, int, float,
 * double or string; M_ENUM(member, values) for a choice, values being the enum of each choice in the
 * choices' order; M_LIST(member, count member) for an integer list of at most LOOM_SPEC_LIST_MAX values. */
#define M(fld, member) LOOM_FIELD_##fld, offsetof(loom_model_spec, member)
#define M_ENUM(member, values) LOOM_FIELD_ENUM, offsetof(loom_model_spec, member), values
#define M_LIST(member, count)                                                                                  \
  LOOM_FIELD_INT_LIST, offsetof(loom_model_spec, member), NULL, offsetof(loom_model_spec, count), LOOM_SPEC_LIST_MAX
/* enum values in the order of each choice key's choices */
#define ACT_VALUES ((const int[]){LOOM_ACT_RELU, LOOM_ACT_TANH, LOOM_ACT_SIGMOID, LOOM_ACT_GELU, LOOM_ACT_NONE})
#define TEXT_ENCODERS ((const int[]){LOOM_TEXT_LSTM, LOOM_TEXT_GRU, LOOM_TEXT_CNN, LOOM_TEXT_TRANSFORMER})
#define TEXT_POOLINGS ((const int[]){LOOM_TEXT_POOL_LAST, LOOM_TEXT_POOL_MEAN, LOOM_TEXT_POOL_MAX, LOOM_TEXT_POOL_FIRST})
#define FF_ACTS ((const int[]){LOOM_ACT_RELU, LOOM_ACT_GELU})
#define POSITIONS ((const int[]){LOOM_POS_SINUSOIDAL, LOOM_POS_LEARNED, LOOM_POS_NONE})
#define WORDVEC_FORMATS ((const int[]){LOOM_WORDVEC_AUTO, LOOM_WORDVEC_TEXT, LOOM_WORDVEC_BINARY, LOOM_WORDVEC_GLOVE})
#define BACKBONES                                                                                                  \
  ((const int[]){LOOM_BACKBONE_NONE, LOOM_BACKBONE_RESNET18, LOOM_BACKBONE_RESNET34, LOOM_BACKBONE_VGG11, LOOM_BACKBONE_VGG16})
#define IMAGE_ENCODERS ((const int[]){LOOM_IMAGE_CONV, LOOM_IMAGE_ROWS})
#define PADDINGS ((const int[]){LOOM_CONV_PAD_SAME, LOOM_CONV_PAD_VALID})
#define POOL_TYPES ((const int[]){LOOM_POOL2D_MAX, LOOM_POOL2D_AVG})
#define FRAME_POOLINGS ((const int[]){LOOM_FRAMES_MEAN, LOOM_FRAMES_MAX, LOOM_FRAMES_ATTENTION, LOOM_FRAMES_LSTM})
#define HISTORY_POOLINGS ((const int[]){LOOM_HISTORY_POOL_MEAN, LOOM_HISTORY_POOL_ATTENTION, LOOM_HISTORY_POOL_DIN})
#define HISTORY_CONTENTS ((const int[]){LOOM_HISTORY_ID, LOOM_HISTORY_TEXT, LOOM_HISTORY_ALL})
#define FUSION_MODES                                                                                               \
  ((const int[]){LOOM_FUSION_CONCAT, LOOM_FUSION_SUM, LOOM_FUSION_MEAN, LOOM_FUSION_WEIGHTED, LOOM_FUSION_PRODUCT, \
                 LOOM_FUSION_GATED, LOOM_FUSION_FM, LOOM_FUSION_DCN, LOOM_FUSION_ATTENTION})
#define TASK_KINDS                                                                                                 \
  ((const int[]){LOOM_TASK_BINARY, LOOM_TASK_MULTICLASS, LOOM_TASK_RANKING, LOOM_TASK_RETRIEVAL, LOOM_TASK_REGRESSION, \
                 LOOM_TASK_MULTITASK})
#define PAIR_LOSSES                                                                                                \
  ((const int[]){LOOM_LOSS_SAMPLED_SOFTMAX, LOOM_LOSS_BPR, LOOM_LOSS_INFONCE, LOOM_LOSS_TRIPLET, LOOM_LOSS_MSE, LOOM_LOSS_HUBER})
#define DISTANCES ((const int[]){LOOM_DIST_COSINE, LOOM_DIST_DOT, LOOM_DIST_EUCLIDEAN, LOOM_DIST_MANHATTAN})

_Static_assert(sizeof(loom_activation) == sizeof(int) && sizeof(loom_text_encoder) == sizeof(int) &&
                   sizeof(loom_pos_kind) == sizeof(int) && sizeof(loom_wordvec_format) == sizeof(int) &&
                   sizeof(loom_backbone_arch) == sizeof(int) && sizeof(loom_conv_pad_mode) == sizeof(int) &&
                   sizeof(loom_fusion_mode) == sizeof(int) && sizeof(loom_task_kind) == sizeof(int) &&
                   sizeof(loom_distance) == sizeof(int) && sizeof(loom_history_pooling) == sizeof(int),
               "LOOM_FIELD_ENUM members are int-sized");
_Static_assert((int)LOOM_TEXT_POOL_LAST == (int)LOOM_SEQ_POOL_LAST && (int)LOOM_TEXT_POOL_MEAN == (int)LOOM_SEQ_POOL_MEAN &&
                   (int)LOOM_TEXT_POOL_MAX == (int)LOOM_SEQ_POOL_MAX,
               "text.pooling's last|mean|max are loom_seq_pool_mode's");
_Static_assert((int)LOOM_HISTORY_POOL_MEAN == (int)LOOM_HIST_MEAN && (int)LOOM_HISTORY_POOL_ATTENTION == (int)LOOM_HIST_ATTENTION &&
                   (int)LOOM_HISTORY_POOL_DIN == (int)LOOM_HIST_DIN,
               "interaction.history_pooling's values are history_pool.h's");

const loom_cfg_key loom_train_keys[] = {
    /* [text] */
    {"text", "enabled", LOOM_CFG_BOOL, "true", NULL, 0, 0, "text tower over the item text (needs [data] text_cols)", M(BOOL, text.enabled)},
    {"text", "embedding_dim", LOOM_CFG_INT, "32", NULL, 1, 4096, "word embedding size", M(INT, text.embedding_dim)},
    {"text", "encoder", LOOM_CFG_CHOICE, "lstm", "lstm|gru|cnn|transformer", 0, 0,
     "over the word embeddings: lstm, gru (torch.nn.GRU's gates), cnn (TextCNN: parallel 1-D convolutions, "
     "ReLU, max over the text's valid windows, concatenated) or transformer (pre-LN encoder layers: multi-head "
     "self-attention over the valid tokens and a feed-forward, torch.nn.TransformerEncoderLayer(norm_first=True))", M_ENUM(text.encoder, TEXT_ENCODERS)},
    {"text", "hidden", LOOM_CFG_INT, "32", NULL, 1, 4096, "encoder = lstm|gru: hidden size (per direction)", M(INT, text.hidden)},
    {"text", "layers", LOOM_CFG_INT, "1", NULL, 1, 8, "encoder = lstm|gru|transformer: stacked layers", M(INT, text.layers)},
    {"text", "bidirectional", LOOM_CFG_BOOL, "false", NULL, 0, 0, "encoder = lstm|gru: a second direction over each text reversed", M(BOOL, text.bidirectional)},
    {"text", "pooling", LOOM_CFG_CHOICE, "last", "last|mean|max|first", 0, 0,
     "encoder = lstm|gru|transformer: states -> one vector, over each text's valid steps (first: encoder = "
     "transformer only, the output at the first token)", M_ENUM(text.pooling, TEXT_POOLINGS)},
    {"text", "cnn_widths", LOOM_CFG_INT_LIST, "2,3,4", NULL, 1, 64,
     "encoder = cnn: window sizes in tokens, one convolution each (at most 8, each <= [data] max_len)", M_LIST(text.cnn_widths, text.n_cnn_widths)},
    {"text", "cnn_filters", LOOM_CFG_INT, "64", NULL, 1, 4096, "encoder = cnn: filters per window size", M(INT, text.cnn_filters)},
    {"text", "heads", LOOM_CFG_INT, "0", NULL, 0, 256,
     "encoder = transformer: attention heads, a divisor of text.embedding_dim (0: 4 if it divides embedding_dim, else 1)", M(INT, text.heads)},
    {"text", "ff_dim", LOOM_CFG_INT, "0", NULL, 0, 65536,
     "encoder = transformer: hidden size of each layer's feed-forward (0: 4 x text.embedding_dim)", M(INT, text.ff_dim)},
    {"text", "ff_activation", LOOM_CFG_CHOICE, "relu", "relu|gelu", 0, 0, "encoder = transformer: activation of the feed-forward", M_ENUM(text.ff_activation, FF_ACTS)},
    {"text", "positions", LOOM_CFG_CHOICE, "sinusoidal", "sinusoidal|learned|none", 0, 0,
     "encoder = transformer: positions added to the word embeddings — sinusoidal (fixed), learned (a table of "
     "[data] max_len rows, text.transformer.pos_embedding) or none", M_ENUM(text.positions, POSITIONS)},
    {"text", "transformer_dropout", LOOM_CFG_FLOAT, "0", NULL, 0, 0.95,
     "encoder = transformer: dropout after attention, inside and after the feed-forward (training only)", M(FLOAT, text.transformer_dropout)},
    {"text", "recurrent_dropout", LOOM_CFG_FLOAT, "0", NULL, 0, 0.95,
     "encoder = lstm: Keras' LSTM(recurrent_dropout): a mask on h_{t-1} in the recurrence, drawn once per sequence "
     "and kept across its steps (training only)", M(FLOAT, text.recurrent_dropout)},
    {"text", "dense", LOOM_CFG_INT_LIST, "", NULL, 1, 65536, "units of the dense layers after pooling", M_LIST(text.dense, text.n_dense)},
    {"text", "activation", LOOM_CFG_CHOICE, "relu", ACTS, 0, 0, "activation of the dense layers", M_ENUM(text.activation, ACT_VALUES)},
    {"text", "dropout", LOOM_CFG_FLOAT, "0", NULL, 0, 0.95, "dropout after pooling and each dense layer", M(FLOAT, text.dropout)},
    {"text", "pretrained", LOOM_CFG_STRING, "", NULL, 0, 0,
     "word vectors for the embedding: word2vec text or binary, or GloVe .txt (each may be .gz); a relative path is "
     "taken from the directory loom-train runs in", M(STR, text.pretrained)},
    {"text", "pretrained_format", LOOM_CFG_CHOICE, "auto", "auto|word2vec|word2vec_binary|glove", 0, 0,
     "format of text.pretrained (auto: NAME.bin[.gz] is word2vec binary, a first line \"N D\" word2vec text, else GloVe)", M_ENUM(text.pretrained_format, WORDVEC_FORMATS)},
    {"text", "pretrained_sha256", LOOM_CFG_STRING, "", NULL, 0, 0,
     "SHA-256 of text.pretrained: loom-train records it; set by hand, the file must match it", M(STR, text.pretrained_sha256)},
    {"text", "vocab_from_pretrained", LOOM_CFG_BOOL, "false", NULL, 0, 0,
     "the vocabulary is text.pretrained's words (file order, at most [data] num_words ids) instead of the training text's", M(BOOL, text.vocab_from_pretrained)},
    {"text", "freeze", LOOM_CFG_BOOL, "false", NULL, 0, 0,
     "the word embedding gets no updates (with text.pretrained: the vectors stay as loaded)", M(BOOL, text.freeze)},
    {"text", "share_query", LOOM_CFG_BOOL, "false", NULL, 0, 0,
     "binary/multiclass with [data] query_col: the query tower applies the item text tower's own layers "
     "(text.embedding, text.lstm, text.dense*) to the query; false: a tower of the same shape with its own "
     "parameters (query.*)", M(BOOL, text.share_query)},
    {"text", "lr_mult", LOOM_CFG_FLOAT, "1", NULL, 0, 1000,
     "learning rate of the text tower's parameters (text.*, query.*) = lr_mult x train.lr (0: no step, moments still kept)", M(DOUBLE, text.lr_mult)},
    /* [image] */
    {"image", "enabled", LOOM_CFG_BOOL, "true", NULL, 0, 0, "image tower (needs [data] image_col)", M(BOOL, image.enabled)},
    {"image", "backbone", LOOM_CFG_CHOICE, "none", "none|resnet18|resnet34|vgg11|vgg16", 0, 0,
     "torchvision feature extractor as the image encoder (512-d pooled features; loom/backbone.h), weights from image.weights", M_ENUM(image.backbone, BACKBONES)},
    {"image", "weights", LOOM_CFG_STRING, "", NULL, 0, 0,
     "backbone: safetensors file of torchvision's state_dict (read by a new run; the checkpoint then holds the weights)", M(STR, image.weights)},
    {"image", "weights_sha256", LOOM_CFG_STRING, "", NULL, 0, 0,
     "SHA-256 of image.weights: loom-train records it; set by hand, the file must match it", M(STR, image.weights_sha256)},
    {"image", "encoder", LOOM_CFG_CHOICE, "conv", "conv|rows", 0, 0,
     "conv: the conv blocks below; rows: an LSTM reads the H image rows as steps of C*W features", M_ENUM(image.encoder, IMAGE_ENCODERS)},
    {"image", "filters", LOOM_CFG_INT_LIST, "16,32", NULL, 1, 4096, "filters of each conv block", M_LIST(image.filters, image.n_filters)},
    {"image", "kernel", LOOM_CFG_INT_LIST, "3", NULL, 1, 31, "kernel size per block (one value: all blocks)", M_LIST(image.kernel, image.n_kernel)},
    {"image", "stride", LOOM_CFG_INT_LIST, "1", NULL, 1, 8, "stride per block (one value: all blocks)", M_LIST(image.stride, image.n_stride)},
    {"image", "padding", LOOM_CFG_CHOICE, "same", "same|valid", 0, 0, "conv padding (Keras' names)", M_ENUM(image.padding, PADDINGS)},
    {"image", "pool", LOOM_CFG_INT_LIST, "2", NULL, 0, 8, "pool size after each block, 0 = none (one value: all)", M_LIST(image.pool, image.n_pool)},
    {"image", "pool_type", LOOM_CFG_CHOICE, "max", "max|avg", 0, 0, "pooling after each block", M_ENUM(image.pool_type, POOL_TYPES)},
    {"image", "batchnorm", LOOM_CFG_BOOL, "false", NULL, 0, 0, "BatchNorm2d between conv and activation", M(BOOL, image.batchnorm)},
    {"image", "activation", LOOM_CFG_CHOICE, "relu", ACTS, 0, 0, "activation of conv and dense layers", M_ENUM(image.activation, ACT_VALUES)},
    {"image", "dense", LOOM_CFG_INT_LIST, "64", NULL, 1, 65536, "units of the dense layers after flattening", M_LIST(image.dense, image.n_dense)},
    {"image", "dropout", LOOM_CFG_FLOAT, "0", NULL, 0, 0.95, "dropout after each dense layer (rows: also after the LSTM)", M(FLOAT, image.dropout)},
    {"image", "lstm_hidden", LOOM_CFG_INT, "128", NULL, 1, 4096, "encoder = rows: LSTM hidden size (per direction)", M(INT, image.lstm_hidden)},
    {"image", "lstm_layers", LOOM_CFG_INT, "1", NULL, 1, 8, "encoder = rows: stacked LSTM layers", M(INT, image.lstm_layers)},
    {"image", "lstm_bidirectional", LOOM_CFG_BOOL, "false", NULL, 0, 0, "encoder = rows: a second LSTM reading the rows bottom-up", M(BOOL, image.lstm_bidirectional)},
    {"image", "lstm_pooling", LOOM_CFG_CHOICE, "last", "last|mean|max", 0, 0, "encoder = rows: LSTM states -> one vector", M_ENUM(image.lstm_pooling, TEXT_POOLINGS)},
    {"image", "frame_pooling", LOOM_CFG_CHOICE, "mean", "mean|max|attention|lstm", 0, 0,
     "a row's images ([data] video_col's frames, after the photo) -> one vector: mean, max, additive attention or an LSTM over them in order", M_ENUM(image.frame_pooling, FRAME_POOLINGS)},
    {"image", "frame_hidden", LOOM_CFG_INT, "64", NULL, 1, 4096, "frame_pooling = lstm: LSTM hidden size", M(INT, image.frame_hidden)},
    {"image", "freeze", LOOM_CFG_BOOL, "false", NULL, 0, 0,
     "every parameter of the image tower (image.*) gets no update and no optimiser state; with image.backbone also "
     "BatchNorm in eval mode folded into the convs (false: a backbone fine-tunes, BatchNorm2d in train mode)", M(BOOL, image.freeze)},
    {"image", "lr_mult", LOOM_CFG_FLOAT, "1", NULL, 0, 1000, "learning rate of image.* = lr_mult x train.lr", M(DOUBLE, image.lr_mult)},
    /* [vectors]: the towers over [data] item_vectors / user_vectors (src/model/vectors.c) */
    {"vectors", "dense", LOOM_CFG_INT_LIST, "", NULL, 1, 65536,
     "units of dense layers over each precomputed vector (item_vectors.dense<i>, user_vectors.dense<i>; empty: the vector as it is)", M_LIST(vectors.dense, vectors.n_dense)},
    {"vectors", "activation", LOOM_CFG_CHOICE, "relu", ACTS, 0, 0, "activation of those dense layers", M_ENUM(vectors.activation, ACT_VALUES)},
    {"vectors", "dropout", LOOM_CFG_FLOAT, "0", NULL, 0, 0.95, "dropout after each of those dense layers (training only)", M(FLOAT, vectors.dropout)},
    /* [interaction] */
    {"interaction", "enabled", LOOM_CFG_BOOL, "true", NULL, 0, 0, "numeric features and ID embeddings", M(BOOL, interaction.enabled)},
    {"interaction", "dense", LOOM_CFG_INT_LIST, "16", NULL, 1, 65536, "dense layers over the numeric features", M_LIST(interaction.dense, interaction.n_dense)},
    {"interaction", "activation", LOOM_CFG_CHOICE, "relu", ACTS, 0, 0, "activation of the dense layers", M_ENUM(interaction.activation, ACT_VALUES)},
    {"interaction", "user_dim", LOOM_CFG_INT, "16", NULL, 0, 4096, "user ID embedding size (0 = none)", M(INT, interaction.user_dim)},
    {"interaction", "item_dim", LOOM_CFG_INT, "16", NULL, 0, 4096, "item ID embedding size (0 = none)", M(INT, interaction.item_dim)},
    {"interaction", "history_pooling", LOOM_CFG_CHOICE, "mean", "mean|attention|din", 0, 0,
     "how the user's earlier items ([data] history_len) become one vector fed to fusion, against the candidate's "
     "vector of the same kind (history_content): mean of them; attention: weights softmax(candidate . item / "
     "sqrt(dim)) (scaled dot-product target attention); din: weights from an MLP over [h, c, h - c, h * c] "
     "(DIN's activation unit, history_din_hidden relu units, not normalised)", M_ENUM(interaction.history_pooling, HISTORY_POOLINGS)},
    {"interaction", "history_content", LOOM_CFG_CHOICE, "id", "id|text|all", 0, 0,
     "what represents a history item: id = the item ID embedding shared with the candidate (needs item_dim > 0); "
     "text = the item text tower's output for its title/description, the same layers as the candidate's (needs "
     "the text tower); all = both, two history vectors", M_ENUM(interaction.history_content, HISTORY_CONTENTS)},
    {"interaction", "history_din_hidden", LOOM_CFG_INT, "36", NULL, 1, 4096,
     "history_pooling = din: hidden units of the attention MLP", M(INT, interaction.history_din_hidden)},
    {"interaction", "category_dim", LOOM_CFG_INT, "8", NULL, 0, 4096, "embedding size of each category column (0 = none)", M(INT, interaction.category_dim)},
    {"interaction", "embedding_dropout", LOOM_CFG_FLOAT, "0", NULL, 0, 0.95,
     "dropout on the user, item and category embedding vectors (training only; needs an embedding)", M(FLOAT, interaction.embedding_dropout)},
    {"interaction", "freeze", LOOM_CFG_BOOL, "false", NULL, 0, 0,
     "every parameter of the interaction tower (interaction.*: numeric dense layers, user, item and category "
     "embeddings, whose unknown rows are then not refilled) gets no update and no optimiser state", M(BOOL, interaction.freeze)},
    {"interaction", "lr_mult", LOOM_CFG_FLOAT, "1", NULL, 0, 1000, "learning rate of interaction.* = lr_mult x train.lr", M(DOUBLE, interaction.lr_mult)},
    /* [fusion] */
    {"fusion", "mode", LOOM_CFG_CHOICE, "concat", "concat|sum|mean|weighted|product|gated|fm|dcn|attention", 0, 0,
     "how tower outputs combine: concat; sum|mean|weighted|product|gated of the towers projected to fusion.dim; "
     "fm: the concat plus the pairwise dot products of every field (towers, numeric, user, item, each category "
     "column) projected to fusion.dim; dcn: the concat through fusion.cross_layers DCN-v2 cross layers; "
     "attention: per-sample softmax attention over the projected towers", M_ENUM(fusion.mode, FUSION_MODES)},
    {"fusion", "dim", LOOM_CFG_INT, "64", NULL, 1, 65536, "projection size for sum|mean|weighted|product|gated|fm|attention", M(INT, fusion.dim)},
    {"fusion", "cross_layers", LOOM_CFG_INT, "0", NULL, 0, 64,
     "mode = dcn: cross layers x_{l+1} = x0 * (W_l x_l + b_l) + x_l before fusion.dense (>= 1 there; 0 otherwise)", M(INT, fusion.cross_layers)},
    {"fusion", "dense", LOOM_CFG_INT_LIST, "64", NULL, 1, 65536, "dense layers after fusion", M_LIST(fusion.dense, fusion.n_dense)},
    {"fusion", "activation", LOOM_CFG_CHOICE, "relu", ACTS, 0, 0, "activation of the dense layers", M_ENUM(fusion.activation, ACT_VALUES)},
    {"fusion", "dropout", LOOM_CFG_FLOAT, "0", NULL, 0, 0.95, "dropout after each dense layer", M(FLOAT, fusion.dropout)},
    {"fusion", "freeze", LOOM_CFG_BOOL, "false", NULL, 0, 0,
     "every fusion parameter (fusion.*: projections, cross layers, dense layers; not the head) gets no update "
     "and no optimiser state", M(BOOL, fusion.freeze)},
    {"fusion", "lr_mult", LOOM_CFG_FLOAT, "1", NULL, 0, 1000, "learning rate of fusion.* = lr_mult x train.lr", M(DOUBLE, fusion.lr_mult)},
    /* [task] */
    {"task", "kind", LOOM_CFG_CHOICE, "binary", "binary|multiclass|ranking|retrieval|regression|multitask", 0, 0,
     "what the head predicts (regression: the number in [data] label_col; multitask: the columns of task.heads)",
     M_ENUM(task.kind, TASK_KINDS)},
    {"task", "classes", LOOM_CFG_INT, "0", NULL, 0, 100000, "multiclass: K (0 = from label_type=class)", M(INT, task.classes)},
    {"task", "pos_weight", LOOM_CFG_FLOAT, "1", NULL, 1e-6, 1e6, "binary: weight of positives in BCE", M(FLOAT, task.pos_weight)},
    {"task", "label_smoothing", LOOM_CFG_FLOAT, "0", NULL, 0, 1, "multiclass: label smoothing of the CE", M(FLOAT, task.label_smoothing)},
    {"task", "threshold", LOOM_CFG_FLOAT, "0.5", NULL, 0, 1, "binary: probability above which a sample is positive", M(FLOAT, task.threshold)},
    {"task", "monitor", LOOM_CFG_STRING, "auto", NULL, 0, 0,
     "validation metric for the best checkpoint and early stopping: a metrics.csv column or loss "
     "(auto: auc / macro_f1 / ndcg@10 / t2i_recall@10; regression: rmse; multitask: the first head's auc or rmse)",
     M(STR, task.monitor)},
    {"task", "loss", LOOM_CFG_CHOICE, "sampled_softmax", "sampled_softmax|bpr|infonce|triplet|mse|huber", 0, 0,
     "ranking: sampled_softmax (CE of the positive among its negatives) or bpr; retrieval: infonce "
     "(in-batch, symmetric) or triplet (by task.distance, the first sampled negative); regression and "
     "multitask's regression heads: mse or huber (on the standardised label, task.standardize)", M_ENUM(task.loss, PAIR_LOSSES)},
    {"task", "huber_delta", LOOM_CFG_FLOAT, "1", NULL, 1e-6, 1e6,
     "task.loss = huber: where the loss turns from quadratic to linear, in units of the loss's target (label "
     "standard deviations with task.standardize = true, label units otherwise)", M(FLOAT, task.huber_delta)},
    {"task", "standardize", LOOM_CFG_BOOL, "true", NULL, 0, 0,
     "regression heads learn (label - mean) / std of the training split (both kept in the checkpoint, so "
     "predictions come back in label units); false: the label as it is", M(BOOL, task.standardize)},
    {"task", "heads", LOOM_CFG_STRING, "", NULL, 0, 0,
     "multitask: column:kind[:weight], ... — one head per numeric column of [data] interactions, kind binary "
     "(BCE, 0/1) or regression (task.loss), weight of its loss (1); metrics column/auc, column/rmse, ...",
     M(STR, task.heads)},
    {"task", "temperature", LOOM_CFG_FLOAT, "0.1", NULL, 1e-4, 100, "retrieval: InfoNCE temperature", M(FLOAT, task.temperature)},
    {"task", "margin", LOOM_CFG_FLOAT, "0.2", NULL, 0, 10, "retrieval: triplet margin", M(FLOAT, task.margin)},
    {"task", "distance", LOOM_CFG_CHOICE, "cosine", "cosine|dot|euclidean|manhattan", 0, 0,
     "retrieval: the triplet loss's distance d(q, v): cosine 1 - cos, dot -q.v, euclidean ||q - v||2, "
     "manhattan ||q - v||1 (search and rank with the same: loom-infer --metric)", M_ENUM(task.distance, DISTANCES)},
    {"task", "ks", LOOM_CFG_INT_LIST, "5,10,20", NULL, 1, 100000, "ranking: cut-offs K of Recall/NDCG/MRR/HitRate/Precision@K", M_LIST(task.ks, task.n_ks)},
    {"task", "eval_negatives", LOOM_CFG_INT, "100", NULL, 1, 100000, "ranking: negatives per positive in sampled ranking", M(INT, task.eval_negatives)},
};
const int loom_train_n_keys = (int)(sizeof loom_train_keys / sizeof loom_train_keys[0]);

/* Keys that have no effect in some configurations (loom_config_check_rules): set to other than their
 * default there, they are an error naming the key and why. A key of a tower switched off
 * (<tower>.enabled = false) is not reported — a tower goes off with one line — nor is a key about an
 * input the data does not have. Two towers, two tasks: "pointwise" is binary|multiclass. */
#define PAIRWISE "task.kind=ranking|retrieval"
#define POINTWISE "task.kind=binary|multiclass|regression|multitask"
#define TOWERS_MEET "on a ranking or retrieval model (task.kind = ranking|retrieval): the two towers meet in a dot product, there is no fusion"
const loom_cfg_rule loom_model_rules[] = {
    /* fusion */
    {"fusion.mode", PAIRWISE, TOWERS_MEET "; remove it"},
    {"fusion.dense", PAIRWISE, TOWERS_MEET " and no dense layers after it; remove it"},
    {"fusion.activation", PAIRWISE, TOWERS_MEET "; remove it"},
    {"fusion.dropout", PAIRWISE, TOWERS_MEET "; remove it"},
    {"fusion.freeze", PAIRWISE, TOWERS_MEET "; remove it"},
    {"fusion.lr_mult", PAIRWISE, TOWERS_MEET "; remove it"},
    {"interaction.lr_mult", PAIRWISE, "on a ranking or retrieval model: its ID embeddings belong to the two towers; remove it"},
    {"interaction.freeze", PAIRWISE, "on a ranking or retrieval model: its ID embeddings belong to the two towers; remove it"},
    {"fusion.dim", POINTWISE " and fusion.mode=concat|dcn",
     "with fusion.mode = concat or dcn: concatenated towers are not projected; remove it, or choose a fusion.mode that projects (sum|mean|weighted|product|gated|fm|attention)"},
    {"fusion.activation", POINTWISE " and fusion.dense=", "with fusion.dense empty: there are no dense layers after fusion; remove it or set fusion.dense"},
    {"fusion.dropout", POINTWISE " and fusion.dense=", "with fusion.dense empty: dropout follows each dense layer after fusion and there are none; remove it or set fusion.dense"},
    /* features a pairwise model does not read */
    {"data.numeric_cols", PAIRWISE, "on a ranking or retrieval model: its towers read IDs, text and images, not numeric features; remove it"},
    {"data.category_cols", PAIRWISE, "on a ranking or retrieval model: its towers read IDs, text and images, not category columns; remove it"},
    {"interaction.enabled", PAIRWISE, "on a ranking or retrieval model: its ID embeddings are interaction.user_dim and item_dim (0 = none); remove it"},
    {"interaction.dense", PAIRWISE, "on a ranking or retrieval model: there are no numeric features to run dense layers over; remove it"},
    {"interaction.activation", PAIRWISE, "on a ranking or retrieval model: there are no numeric-feature dense layers; remove it"},
    {"interaction.category_dim", PAIRWISE, "on a ranking or retrieval model: category columns are not read; remove it"},
    {"interaction.user_dim", "task.kind=retrieval", "on a retrieval model: the query side is the query text only, no user embedding; remove it"},
    {"interaction.item_dim", "task.kind=retrieval", "on a retrieval model: the item side is its text and image, no item ID embedding; remove it"},
    {"interaction.activation", POINTWISE " and interaction.enabled=true and interaction.dense=",
     "with interaction.dense empty: there are no dense layers to activate; remove it or set interaction.dense"},
    /* [task]: keys of the other tasks */
    {"task.loss", "task.kind=binary|multiclass", "on a binary or multiclass model: its loss is BCE (binary) or softmax cross-entropy (multiclass); remove it"},
    {"task.huber_delta", "task.kind!=regression|multitask", "unless task.kind = regression or multitask with task.loss = huber; remove it"},
    {"task.huber_delta", "task.loss!=huber", "unless task.loss = huber; remove it or set task.loss = huber"},
    {"task.standardize", "task.kind!=regression|multitask", "unless task.kind = regression or multitask (it standardises regression labels); remove it"},
    {"task.heads", "task.kind!=multitask", "unless task.kind = multitask; remove it or set task.kind = multitask"},
    {"data.label_col", "task.kind=multitask and data.history_len=|0",
     "on a multitask model without histories: each head reads its own column of task.heads; remove it"},
    {"data.label_type", "task.kind=regression|multitask", "on a regression or multitask model: its heads read numeric labels; remove it"},
    {"task.classes", "task.kind!=multiclass", "unless task.kind = multiclass; remove it"},
    {"task.label_smoothing", "task.kind!=multiclass", "unless task.kind = multiclass (it smooths the softmax cross-entropy); remove it"},
    {"task.pos_weight", "task.kind!=binary", "unless task.kind = binary (it weights positives in BCE); remove it"},
    {"task.threshold", "task.kind!=binary|multitask", "unless task.kind = binary or multitask (it turns probabilities into decisions); remove it"},
    {"task.temperature", "task.kind!=retrieval", "unless task.kind = retrieval with task.loss = infonce; remove it"},
    {"task.temperature", "task.kind=retrieval and task.loss=triplet", "with task.loss = triplet (it is InfoNCE's); remove it or set task.loss = infonce"},
    {"task.margin", "task.kind!=retrieval", "unless task.kind = retrieval with task.loss = triplet; remove it"},
    {"task.margin", "task.kind=retrieval and task.loss=infonce", "with task.loss = infonce (it is the triplet loss's); remove it or set task.loss = triplet"},
    {"task.distance", "task.kind!=retrieval", "unless task.kind = retrieval with task.loss = triplet; remove it"},
    {"task.distance", "task.kind=retrieval and task.loss=infonce", "with task.loss = infonce (InfoNCE compares by cosine); remove it or set task.loss = triplet"},
    {"interaction.history_pooling", "data.history_len=|0", "without data.history_len (no histories); remove it or set history_len"},
    {"interaction.history_content", "data.history_len=|0", "without data.history_len (no histories); remove it or set history_len"},
    {"interaction.history_din_hidden", "interaction.history_pooling!=din", "unless interaction.history_pooling = din; remove it or set history_pooling = din"},
    {"data.history_len", PAIRWISE, "on a ranking or retrieval model: only binary and multiclass models read histories; remove it"},
    {"task.ks", POINTWISE, "on a binary, multiclass, regression or multitask model: the cut-offs K are for ranking metrics; remove it"},
    {"task.eval_negatives", "task.kind!=ranking", "unless task.kind = ranking (sampled ranking metrics); remove it"},
    /* [train] */
    {"train.momentum", "train.optimizer!=sgd", "with train.optimizer = adam or adamw: momentum is SGD's (Adam keeps its own moments); remove it or set train.optimizer = sgd"},
    {"train.step_size", "train.schedule!=step", "unless train.schedule = step; remove it"},
    {"train.gamma", "train.schedule!=step", "unless train.schedule = step; remove it"},
    {"train.min_lr", "train.schedule!=cosine", "unless train.schedule = cosine; remove it"},
    {"train.max_skips", "train.nonfinite!=skip", "unless train.nonfinite = skip; remove it"},
    /* [image]: keys of the encoder not chosen */
    {"image.filters", "image.enabled=true and image.encoder=rows", "with image.encoder = rows (conv keys); remove it or set image.encoder = conv"},
    {"image.kernel", "image.enabled=true and image.encoder=rows", "with image.encoder = rows (conv keys); remove it or set image.encoder = conv"},
    {"image.stride", "image.enabled=true and image.encoder=rows", "with image.encoder = rows (conv keys); remove it or set image.encoder = conv"},
    {"image.padding", "image.enabled=true and image.encoder=rows", "with image.encoder = rows (conv keys); remove it or set image.encoder = conv"},
    {"image.pool", "image.enabled=true and image.encoder=rows", "with image.encoder = rows (conv keys); remove it or set image.encoder = conv"},
    {"image.pool_type", "image.enabled=true and image.encoder=rows", "with image.encoder = rows (conv keys); remove it or set image.encoder = conv"},
    {"image.batchnorm", "image.enabled=true and image.encoder=rows", "with image.encoder = rows (conv keys); remove it or set image.encoder = conv"},
    {"image.pool_type", "image.enabled=true and image.encoder=conv and image.pool=0|1", "with image.pool = 0 or 1: no block pools; remove it or set image.pool"},
    {"image.frame_hidden", "image.enabled=true and image.frame_pooling=mean|max|attention", "unless image.frame_pooling = lstm; remove it or set frame_pooling = lstm"},
    {"image.lstm_hidden", "image.enabled=true and image.encoder=conv", "with image.encoder = conv (rows keys); remove it or set image.encoder = rows"},
    {"image.lstm_layers", "image.enabled=true and image.encoder=conv", "with image.encoder = conv (rows keys); remove it or set image.encoder = rows"},
    {"image.lstm_bidirectional", "image.enabled=true and image.encoder=conv", "with image.encoder = conv (rows keys); remove it or set image.encoder = rows"},
    {"image.lstm_pooling", "image.enabled=true and image.encoder=conv", "with image.encoder = conv (rows keys); remove it or set image.encoder = rows"},
    {"image.dropout", "image.enabled=true and image.encoder=conv and image.dense=", "with image.dense empty: conv dropout follows each dense layer and there are none; remove it or set image.dense"},
    {"image.activation", "image.enabled=true and image.encoder=rows and image.dense=", "with image.encoder = rows and image.dense empty: nothing is activated; remove it or set image.dense"},
    /* [vectors] */
    {"vectors.dense", "data.item_vectors= and data.user_vectors=", "without [data] item_vectors or user_vectors (there is no vector to run dense layers over); set one or remove it"},
    {"vectors.activation", "data.item_vectors= and data.user_vectors=", "without [data] item_vectors or user_vectors; set one or remove it"},
    {"vectors.dropout", "data.item_vectors= and data.user_vectors=", "without [data] item_vectors or user_vectors; set one or remove it"},
    {"vectors.activation", "vectors.dense=", "with vectors.dense empty: there are no dense layers to activate; remove it or set vectors.dense"},
    {"vectors.dropout", "vectors.dense=", "with vectors.dense empty: dropout follows each dense layer and there are none; remove it or set vectors.dense"},
    {"data.item_vectors", PAIRWISE, "on a ranking or retrieval model: precomputed vectors feed binary and multiclass models only (two-tower support is not built yet); remove it"},
    {"data.user_vectors", PAIRWISE, "on a ranking or retrieval model: precomputed vectors feed binary and multiclass models only (two-tower support is not built yet); remove it"},
    {"image.filters", "image.enabled=true and image.backbone=resnet18|resnet34|vgg11|vgg16", "with image.backbone set: the backbone replaces the conv blocks; remove it or set image.backbone = none"},
    {"image.kernel", "image.enabled=true and image.backbone=resnet18|resnet34|vgg11|vgg16", "with image.backbone set: the backbone replaces the conv blocks; remove it or set image.backbone = none"},
    {"image.stride", "image.enabled=true and image.backbone=resnet18|resnet34|vgg11|vgg16", "with image.backbone set: the backbone replaces the conv blocks; remove it or set image.backbone = none"},
    {"image.padding", "image.enabled=true and image.backbone=resnet18|resnet34|vgg11|vgg16", "with image.backbone set: the backbone replaces the conv blocks; remove it or set image.backbone = none"},
    {"image.pool", "image.enabled=true and image.backbone=resnet18|resnet34|vgg11|vgg16", "with image.backbone set: the backbone replaces the conv blocks; remove it or set image.backbone = none"},
    {"image.pool_type", "image.enabled=true and image.backbone=resnet18|resnet34|vgg11|vgg16", "with image.backbone set: the backbone replaces the conv blocks; remove it or set image.backbone = none"},
    {"image.batchnorm", "image.enabled=true and image.backbone=resnet18|resnet34|vgg11|vgg16", "with image.backbone set: the backbone replaces the conv blocks; remove it or set image.backbone = none"},
    {"image.weights", "image.backbone=none", "without image.backbone; remove it or set image.backbone"},
    {"image.weights_sha256", "image.backbone=none", "without image.backbone; remove it or set image.backbone"},
    /* [text] */
    {"text.recurrent_dropout", "text.enabled=true and text.encoder=gru|cnn|transformer",
     "unless text.encoder = lstm (the GRU, TextCNN and Transformer encoders have no recurrent-state dropout); remove it or set text.encoder = lstm"},
    {"text.activation", "text.enabled=true and text.dense=", "with text.dense empty: there are no dense layers to activate; remove it or set text.dense"},
};
const int loom_model_n_rules = (int)(sizeof loom_model_rules / sizeof loom_model_rules[0]);

static int text_check(const loom_model_spec *s, int T, int Tq, loom_error *err);

int loom_model_check_config(const loom_config *c, loom_error *err) {
  if (loom_config_check_rules(c, loom_model_rules, loom_model_n_rules, err) < 0) return -1;
  loom_model_spec s;
  loom_model_spec_read(c, &s);
  if (text_check(&s, 0, 0, err) < 0) return -1; /* the text encoder's keys (lengths unknown here: build checks them) */
  return loom_config_check_rules(c, loom_data_rules, loom_data_n_rules, err);
}

const char *loom_task_name(loom_task_kind k) {
  static const char *names[] = {"binary", "multiclass", "ranking", "retrieval", "regression", "multitask"};
  return names[k];
}

typedef struct {
  loom_graph *g;
  loom_rng *rng;
  loom_init_kind style;
} builder;

/* x (B, *dim) through dense layers prefix.dense0.. with activation and dropout; *dim becomes the last width. */
static loom_tensor *dense_stack(builder *b, const char *prefix, loom_tensor *x, int *dim, const int *units, int n,
                                loom_activation act, float dropout) {
  for (int i = 0; i < n; i++) {
    char name[LOOM_NAME_MAX];
    snprintf(name, sizeof name, "%s.dense%d", prefix, i);
    loom_dense_opts o = {.in_features = *dim, .units = units[i], .activation = act, .init = b->style};
    x = loom_layer_dense(b->g, name, x, &o, b->rng);
    *dim = units[i];
    if (dropout > 0) x = loom_dropout(b->g, x, dropout);
  }
  return x;
}

/* ---- towers: each returns (B, *dim) ---- */

/* Whether [text] key row k's member of s holds something other than the row's default; the value as text
 * into buf. */
static bool text_key_changed(const loom_model_spec *s, const loom_cfg_key *k, char *buf, size_t cap) {
  const char *at = (const char *)s + k->offset;
  switch (k->field) {
  case LOOM_FIELD_INT: {
    int v;
    memcpy(&v, at, sizeof v);
    snprintf(buf, cap, "%d", v);
    return v != strtol(k->def, NULL, 10);
  }
  case LOOM_FIELD_BOOL: {
    bool v;
    memcpy(&v, at, sizeof v);
    snprintf(buf, cap, "%s", v ? "true" : "false");
    return v != !strcmp(k->def, "true");
  }
  case LOOM_FIELD_FLOAT: {
    float v;
    memcpy(&v, at, sizeof v);
    snprintf(buf, cap, "%g", (double)v);
    return v != (float)strtod(k->def, NULL);
  }
  case LOOM_FIELD_ENUM: {
    int v;
    memcpy(&v, at, sizeof v);
    loom_cfg_choice_name(k, v, buf, cap);
    return strcmp(buf, k->def) != 0;
  }
  case LOOM_FIELD_INT_LIST: {
    int n, v[LOOM_SPEC_LIST_MAX], d[LOOM_SPEC_LIST_MAX], nd = 0;
    memcpy(&n, (const char *)s + k->count_offset, sizeof n);
    memcpy(v, at, sizeof(int) * (size_t)n);
    for (const char *q = k->def; *q && nd < LOOM_SPEC_LIST_MAX;) {
      char *end;
      d[nd++] = (int)strtol(q, &end, 10);
      q = *end == ',' ? end + 1 : end;
    }
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && len < cap; i++) len += (size_t)snprintf(buf + len, cap - len, "%s%d", i ? "," : "", v[i]);
    return n != nd || memcmp(v, d, sizeof(int) * (size_t)n) != 0;
  }
  default: assert(!"text encoder keys are ints, floats, bools, choices or int lists"); return false;
  }
}

/* The key rows of the text encoder not chosen: holding anything but their default they are errors. (A
 * checkpoint's or run directory's config lists every key, the others at their defaults, so "set" alone
 * cannot tell a user's choice.) T and Tq are the text and query lengths of the batches (0: none). */
static int text_check(const loom_model_spec *s, int T, int Tq, loom_error *err) {
  /* which encoders read each encoder-specific [text] key */
  enum { LSTM = 1, GRU = 2, CNN = 4, XF = 8 };
  static const struct {
    const char *key;
    int used_by;
    const char *names; /* of used_by, as the message says them */
  } keys[] = {
      {"hidden", LSTM | GRU, "lstm or gru"},          {"layers", LSTM | GRU | XF, "lstm, gru or transformer"},
      {"bidirectional", LSTM | GRU, "lstm or gru"},   {"pooling", LSTM | GRU | XF, "lstm, gru or transformer"},
      {"cnn_widths", CNN, "cnn"},                     {"cnn_filters", CNN, "cnn"},
      {"heads", XF, "transformer"},                   {"ff_dim", XF, "transformer"},
      {"ff_activation", XF, "transformer"},           {"positions", XF, "transformer"},
      {"transformer_dropout", XF, "transformer"},
  };
  char enc[32];
  loom_model_spec_choice("text", "encoder", (int)s->text.encoder, enc, sizeof enc);
  static const int uses[] = {[LOOM_TEXT_LSTM] = LSTM, [LOOM_TEXT_GRU] = GRU, [LOOM_TEXT_CNN] = CNN, [LOOM_TEXT_TRANSFORMER] = XF};
  const int used = uses[s->text.encoder];
  const bool cnn = used == CNN;
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
    if (keys[i].used_by & used) continue;
    const loom_cfg_key *k = NULL;
    for (int j = 0; j < loom_train_n_keys && !k; j++)
      if (!strcmp(loom_train_keys[j].section, "text") && !strcmp(loom_train_keys[j].key, keys[i].key)) k = &loom_train_keys[j];
    assert(k && "text encoder keys are rows of the key table");
    char val[256];
    if (text_key_changed(s, k, val, sizeof val))
      return loom_errorf(err, "[text] %s = %s has no effect with text.encoder = %s (it sets the %s encoder) — remove it, "
                              "or set text.encoder = %s", k->key, val, enc, keys[i].names, keys[i].names);
  }
  if (used == XF && s->text.enabled) {
    const long E = s->text.embedding_dim, H = s->text.heads;
    if (H > 0 && E % H != 0)
      return loom_errorf(err, "[text] heads = %ld does not divide embedding_dim = %ld (each head reads embedding_dim / "
                              "heads features) — set text.heads to a divisor of %ld, or change text.embedding_dim",
                         H, E, E);
  }
  if (used != XF && s->text.pooling == LOOM_TEXT_POOL_FIRST)
    return loom_errorf(err, "[text] pooling = first needs text.encoder = transformer (a recurrent encoder's first state "
                            "has read one token) — set text.pooling = last, mean or max");
  if (!cnn || !s->text.enabled) return 0;
  const int *w = s->text.cnn_widths, n = s->text.n_cnn_widths;
  if (n < 1 || n > LOOM_TEXTCNN_MAX_WIDTHS)
    return loom_errorf(err, "[text] cnn_widths: give 1 to %d window sizes (got %d)", LOOM_TEXTCNN_MAX_WIDTHS, n);
  for (int i = 0; i < n; i++)
    for (int q = 0; q < 2; q++) {
      const int len = q ? Tq : T;
      if (len > 0 && w[i] > len)
        return loom_errorf(err, "[text] cnn_widths: window %d is longer than the %s (%d tokens, [data] %s) — lower it "
                                "or raise [data] %s", w[i], q ? "query" : "texts", len, q ? "query_len" : "max_len",
                           q ? "query_len" : "max_len");
    }
  return 0;
}

/* What a transformer text tower's per-step pooling input (text_mask, query_mask) holds, by text.pooling:
 * POOL_W_NONE the -1e30 mask of padded steps (max pooling, and every other encoder); the others weights
 * w (N, T) with pooled = sum_t w_t h_t — 1 / len at the valid steps (mean), 1 at the last valid step or at
 * the first (last, first), all 0 for an empty text. The transformer's outputs at padded steps are not zero,
 * so its pooling must weight the valid steps rather than sum everything. */
enum { POOL_W_NONE = 0, POOL_W_MEAN, POOL_W_LAST, POOL_W_FIRST };
static int text_pool_w_mode(const loom_text_spec *t) {
  if (t->encoder != LOOM_TEXT_TRANSFORMER) return POOL_W_NONE;
  static const int w[] = {[LOOM_TEXT_POOL_LAST] = POOL_W_LAST, [LOOM_TEXT_POOL_MEAN] = POOL_W_MEAN,
                          [LOOM_TEXT_POOL_MAX] = POOL_W_NONE, [LOOM_TEXT_POOL_FIRST] = POOL_W_FIRST};
  return w[t->pooling];
}

/* Text tower over G texts per row: tokens (B, G·T) → (B·G, dim). Inputs are created under in_name.
 * text.encoder: lstm | gru → per-step states, pooled (last, mean or max over valid steps); cnn → TextCNN,
 * which max-pools over the valid windows itself; transformer → per-step outputs (pre-LN layers, keys
 * masked past each text's length), pooled over the valid steps by text_pool_w_mode's weights or max. */
static loom_tensor *text_tower(builder *b, const loom_text_spec *t, int vocab, const char *prefix, const char *in_name,
                               int G, int T, loom_tensor **tok, loom_tensor **len, loom_tensor **inv,
                               loom_tensor **mask, int *dim) {
  loom_graph *g = b->g;
  int E = t->embedding_dim, H = t->hidden;
  bool bi = t->bidirectional;
  const loom_text_pooling pool = t->pooling;
  float p = t->dropout;
  char name[LOOM_NAME_MAX];
  *tok = loom_input(g, in_name, LOOM_I32, 2, (int[]){LOOM_BATCH, G * T});
  snprintf(name, sizeof name, "%s_len", in_name);
  *len = loom_input(g, name, LOOM_I32, G > 1 ? 2 : 1, (int[]){LOOM_BATCH, G});
  /* G > 1: inputs bound to stable host buffers, viewed as G rows each (views keep the bound pointer) */
  loom_tensor *ids = G > 1 ? loom_reshape(g, *tok, 2, (int[]){-1, T}) : *tok;
  loom_tensor *lens = G > 1 ? loom_reshape(g, *len, 1, (int[]){-1}) : *len;
  snprintf(name, sizeof name, "%s.embedding", prefix);
  loom_embedding_opts eo = {.vocab = vocab, .dim = E, .padding_idx = 0, .init = b->style};
  loom_tensor *x = loom_layer_embedding(g, name, ids, &eo, b->rng); // (B·G, T, E)
  loom_tensor *h;
  int D;
  if (t->encoder == LOOM_TEXT_CNN) {
    loom_textcnn_opts co = {.input_size = E, .filters = t->cnn_filters, .init = b->style};
    co.n_widths = t->n_cnn_widths; /* 1 to LOOM_TEXTCNN_MAX_WIDTHS: checked by text_check */
    for (int i = 0; i < co.n_widths; i++) co.widths[i] = t->cnn_widths[i];
    snprintf(name, sizeof name, "%s.cnn", prefix);
    h = loom_layer_textcnn(g, name, x, lens, &co, b->rng); // (B·G, n_widths · F)
    D = co.n_widths * co.filters;
  } else if (t->encoder == LOOM_TEXT_TRANSFORMER) {
    loom_transformer_opts to = loom_transformer_opts_default(E, T);
    const long heads = t->heads; /* divides E: checked by text_check */
    if (heads > 0) to.heads = (int)heads; /* else the layer's default: 4 if it divides E, else 1 */
    to.layers = (int)t->layers;
    const long ff = t->ff_dim;
    to.ff_dim = ff > 0 ? (int)ff : 4 * E;
    to.activation = t->ff_activation;
    to.positions = t->positions;
    to.dropout = t->transformer_dropout;
    to.init = b->style;
    snprintf(name, sizeof name, "%s.transformer", prefix);
    h = loom_layer_transformer(g, name, x, lens, &to, b->rng); // (B·G, T, E), padded steps not zero
    D = E;
    snprintf(name, sizeof name, "%s_%s", in_name, text_pool_w_mode(t) ? "pool_w" : "mask");
    *mask = loom_input(g, name, LOOM_F32, 2, (int[]){LOOM_BATCH, G * T});
    if (text_pool_w_mode(t)) { /* sum_t w_t h_t as a batched (1, T) x (T, E) product */
      loom_tensor *w = loom_reshape(g, *mask, 3, (int[]){-1, 1, T});
      h = loom_reshape(g, loom_matmul(g, w, h, false, false), 2, (int[]){-1, D}); // (B·G, E)
      snprintf(name, sizeof name, "%s.pool", prefix);
      loom_tensor_set_name(h, "%s", name);
    } else {
      loom_seq_pool_opts so = loom_seq_pool_opts_default(LOOM_SEQ_POOL_MAX, T, D);
      snprintf(name, sizeof name, "%s.pool", prefix);
      h = loom_layer_seq_pool(g, name, h, NULL, *mask, &so); // (B·G, E)
    }
  } else {
    bool seq = pool != LOOM_TEXT_POOL_LAST, gru = t->encoder == LOOM_TEXT_GRU;
    const int layers = t->layers;
    snprintf(name, sizeof name, "%s.%s", prefix, gru ? "gru" : "lstm");
    if (gru) {
      loom_gru_opts go = {.input_size = E, .hidden = H, .layers = layers, .bidirectional = bi, .return_sequences = seq,
                          .dropout = p, .init = b->style};
      h = loom_layer_gru(g, name, x, lens, &go, b->rng); // (B·G, D) or (B·G, T, D)
    } else {
      loom_lstm_opts lo = {.input_size = E, .hidden = H, .layers = layers, .bidirectional = bi, .return_sequences = seq,
                           .dropout = p, .recurrent_dropout = t->recurrent_dropout,
                           .init = b->style};
      h = loom_layer_lstm(g, name, x, lens, &lo, b->rng); // (B·G, D) or (B·G, T, D)
    }
    D = (bi ? 2 : 1) * H;
    loom_tensor *iv = NULL, *mk = NULL;
    if (pool == LOOM_TEXT_POOL_MEAN) {
      /* padded steps are zero in the recurrent output, so the mean over valid steps is sum / length */
      snprintf(name, sizeof name, "%s_inv_len", in_name);
      *inv = loom_input(g, name, LOOM_F32, 2, (int[]){LOOM_BATCH, G});
      iv = G > 1 ? loom_reshape(g, *inv, 2, (int[]){-1, 1}) : *inv;
    } else if (pool == LOOM_TEXT_POOL_MAX) {
      /* max over valid steps: padding pushed to -1e30 */
      snprintf(name, sizeof name, "%s_mask", in_name);
      mk = *mask = loom_input(g, name, LOOM_F32, 2, (int[]){LOOM_BATCH, G * T});
    }
    loom_seq_pool_opts so = loom_seq_pool_opts_default((loom_seq_pool_mode)pool, T, D); /* not FIRST: text_check */
    snprintf(name, sizeof name, "%s.pool", prefix);
    h = loom_layer_seq_pool(g, name, h, iv, mk, &so); // (B·G, D)
  }
  if (p > 0) h = loom_dropout(g, h, p);
  *dim = D;
  return dense_stack(b, prefix, h, dim, t->dense, t->n_dense, t->activation, p);
}

static int list_at(const int *v, int n, int i) { return n == 1 ? v[0] : v[i]; }

/* Several images per row (S > 1: a video's frames, after the photo when there is one), each through the
 * same tower: its outputs (N·S, D) -> (N, D') by image.frame_pooling — mean or max over the images,
 * additive attention over them (image.frames.*), or an LSTM reading them in order (image.frames_lstm,
 * its last state, D' = frame_hidden). */
static loom_tensor *pool_frames(builder *b, const loom_model *m, const loom_image_spec *im, loom_tensor *h, int *dim) {
  int S = m->S, D = *dim;
  if (S <= 1) return h;
  loom_graph *g = b->g;
  loom_tensor *x = loom_reshape(g, h, 3, (int[]){-1, S, D});
  const loom_frame_pooling mode = im->frame_pooling;
  if (mode == LOOM_FRAMES_ATTENTION) {
    loom_field_attention_opts o = loom_field_attention_opts_default(S, D);
    o.init = b->style;
    return loom_layer_field_attention(g, "image.frames", x, &o, b->rng);
  }
  if (mode == LOOM_FRAMES_LSTM) {
    loom_lstm_opts lo = {.input_size = D, .hidden = im->frame_hidden, .layers = 1,
                         .init = b->style};
    *dim = lo.hidden;
    return loom_layer_lstm(g, "image.frames_lstm", x, NULL, &lo, b->rng);
  }
  loom_seq_pool_opts so =
      loom_seq_pool_opts_default(mode == LOOM_FRAMES_MAX ? LOOM_SEQ_POOL_MAX : LOOM_SEQ_POOL_MEAN, S, D);
  return loom_layer_seq_pool(g, "image.frames_pool", x, NULL, NULL, &so);
}

/* Rows encoder: the image (B, C, H, W) read top to bottom as H steps of C·W features (row h is
 * [x[0,h,:], .., x[C-1,h,:]], i.e. x.permute(0, 2, 1, 3).reshape(B, H, C·W)) by a (Bi)LSTM named
 * image.lstm, pooled over the steps (last state, mean or max), then the image dense stack. */
static loom_tensor *image_rows(builder *b, loom_model *m, const loom_image_spec *im, int *dim) {
  loom_graph *g = b->g;
  int C = m->C / m->S, H = m->H, W = m->W, Hd = im->lstm_hidden;
  bool bi = im->lstm_bidirectional;
  const loom_text_pooling pool = im->lstm_pooling;
  float p = im->dropout;
  m->image = loom_input(g, "image", LOOM_F32, 4, (int[]){LOOM_BATCH, m->G * m->C, H, W});
  loom_tensor *x; // (B·G·S, H, C·W)
  if (C == 1) {
    x = loom_reshape(g, m->image, 3, (int[]){-1, H, W});
  } else { /* channel planes side by side in each row: slice each (H·W) plane, concatenate along W */
    loom_tensor *flat = loom_reshape(g, m->image, 2, (int[]){-1, C * H * W}), *planes[3];
    assert(C <= 3);
    for (int i = 0; i < C; i++) planes[i] = loom_reshape(g, loom_slice(g, flat, i * H * W, H * W), 3, (int[]){-1, H, W});
    x = loom_concat(g, C, planes);
  }
  bool seq = pool != LOOM_TEXT_POOL_LAST;
  loom_lstm_opts lo = {.input_size = C * W,
                       .hidden = Hd,
                       .layers = im->lstm_layers,
                       .bidirectional = bi,
                       .return_sequences = seq,
                       .dropout = p,
                       .init = b->style};
  loom_tensor *h = loom_layer_lstm(g, "image.lstm", x, NULL, &lo, b->rng); // (B·G, D) or (B·G, H, D)
  int D = (bi ? 2 : 1) * Hd;
  loom_seq_pool_opts so = loom_seq_pool_opts_default((loom_seq_pool_mode)pool, H, D); /* last|mean|max */
  h = loom_layer_seq_pool(g, "image.lstm_pool", h, NULL, NULL, &so); // (B·G, D): every row is a valid step
  if (p > 0) h = loom_dropout(g, h, p);
  *dim = D;
  h = dense_stack(b, "image", h, dim, im->dense, im->n_dense, im->activation, p);
  return pool_frames(b, m, im, h, dim);
}

static loom_tensor *image_tower(builder *b, loom_model *m, const loom_image_spec *im, int *dim, loom_error *err) {
  if (im->encoder == LOOM_IMAGE_ROWS) return image_rows(b, m, im, dim);
  loom_graph *g = b->g;
  if (im->backbone != LOOM_BACKBONE_NONE) { /* a torchvision tower (backbone_model.c) */
    if (m->C / m->S != 3) {
      loom_errorf(err, "[data] channels = %d but image.backbone = %s reads RGB images — set channels = 3", m->C / m->S,
                  loom_backbone_name(im->backbone));
      return NULL;
    }
    m->image = loom_input(g, "image", LOOM_F32, 4, (int[]){LOOM_BATCH, m->G * m->C, m->H, m->W});
    loom_tensor *x = loom_model_backbone_tower(g, im, loom_reshape(g, m->image, 4, (int[]){-1, 3, m->H, m->W}));
    *dim = 512;
    x = dense_stack(b, "image", x, dim, im->dense, im->n_dense, im->activation, im->dropout);
    return pool_frames(b, m, im, x, dim);
  }
  const int *filters = im->filters, *kernel = im->kernel, *stride = im->stride, *pool = im->pool;
  const int nf = im->n_filters, nk = im->n_kernel, ns = im->n_stride, np = im->n_pool;
  if ((nk != 1 && nk != nf) || (ns != 1 && ns != nf) || (np != 1 && np != nf)) {
    loom_errorf(err, "[image] kernel, stride and pool need one value or one per conv block (%d filters)", nf);
    return NULL;
  }
  bool same = im->padding == LOOM_CONV_PAD_SAME;
  bool bn = im->batchnorm;
  bool avg = im->pool_type == LOOM_POOL2D_AVG;
  loom_activation a = im->activation;
  int C = m->C / m->S, H = m->H, W = m->W; /* one image's channels: the row holds S images */
  m->image = loom_input(g, "image", LOOM_F32, 4, (int[]){LOOM_BATCH, m->G * m->C, m->H, m->W});
  loom_tensor *x = m->G * m->S > 1 ? loom_reshape(g, m->image, 4, (int[]){-1, C, H, W}) : m->image;
  for (int i = 0; i < nf; i++) {
    int k = list_at(kernel, nk, i), s = list_at(stride, ns, i), pl = list_at(pool, np, i);
    char name[LOOM_NAME_MAX];
    snprintf(name, sizeof name, "image.conv%d", i);
    loom_conv2d_opts o = loom_conv2d_opts_default(C, filters[i], k);
    o.stride_h = o.stride_w = s;
    o.padding.mode = im->padding;
    o.activation = bn ? LOOM_ACT_NONE : a;
    o.init = b->style;
    x = loom_layer_conv2d(g, name, x, &o, b->rng); // (B, F, H', W')
    C = filters[i];
    H = same ? (H + s - 1) / s : (H - k) / s + 1;
    W = same ? (W + s - 1) / s : (W - k) / s + 1;
    if (H < 1 || W < 1) {
      loom_errorf(err, "[image] conv block %d: a %dx%d image shrinks to nothing — use padding=same, smaller "
                       "kernels or fewer blocks", i, m->H, m->W);
      return NULL;
    }
    if (bn) {
      snprintf(name, sizeof name, "image.bn%d", i);
      loom_batchnorm_opts bo = loom_batchnorm_opts_default(C);
      x = loom_layer_batchnorm2d(g, name, x, &bo, b->rng);
      x = loom_activate(g, x, a);
    }
    if (pl > 1) {
      if (H < pl || W < pl) {
        loom_errorf(err, "[image] block %d: pool %d does not fit a %dx%d feature map — lower image.pool", i, pl, H, W);
        return NULL;
      }
      snprintf(name, sizeof name, "image.pool%d", i);
      loom_pool2d_opts po = {.kernel_h = pl, .kernel_w = pl};
      x = avg ? loom_layer_avgpool2d(g, name, x, &po) : loom_layer_maxpool2d(g, name, x, &po);
      H /= pl, W /= pl;
    }
  }
  x = loom_flatten(g, x);
  *dim = C * H * W;
  x = dense_stack(b, "image", x, dim, im->dense, im->n_dense, a, im->dropout);
  return pool_frames(b, m, im, x, dim);
}

/* The fields of the interaction tower, kept apart for fusion modes that cross them (fm). */
typedef struct {
  int n;
  loom_tensor *x[4 + LOOM_DATA_MAX_FEATURES];
  int dim[4 + LOOM_DATA_MAX_FEATURES];
  char name[4 + LOOM_DATA_MAX_FEATURES][24];
} field_list;

static void add_field(field_list *f, loom_tensor *x, int dim, const char *name) {
  assert(f->n < (int)(sizeof f->x / sizeof f->x[0]));
  f->x[f->n] = x, f->dim[f->n] = dim;
  snprintf(f->name[f->n++], sizeof f->name[0], "%s", name);
}

/* htext (B, Lh, D_t) the history items' text-tower outputs and ctext (B, D_t) the candidate's (history_content
 * = text | all; NULL otherwise): pooled into one more field, history_text. */
/* The history pooling's aux input (history_pool.h), once for the ID and the text history. */
static void hist_aux_input(loom_model *m) {
  int nd = loom_history_aux_ndim(m->hist_mode);
  if (m->hist_aux || nd == 0) return;
  m->hist_aux = nd == 3 ? loom_input(m->g, "history_mask", LOOM_F32, 3, (int[]){LOOM_BATCH, 1, m->Lh})
                        : loom_input(m->g, "history_inv_len", LOOM_F32, 2, (int[]){LOOM_BATCH, 1});
}

static loom_tensor *interaction_tower(builder *b, loom_model *m, const loom_interaction_spec *in, const loom_prep *prep, int *dim,
                                      field_list *fields, loom_tensor *htext, loom_tensor *ctext, int dt) {
  loom_graph *g = b->g;
  loom_tensor *parts[4 + 2];
  int np = 0, total = 0;
  float edrop = in->embedding_dropout;
  if (m->F > 0) {
    m->numeric = loom_input(g, "numeric", LOOM_F32, 2, (int[]){LOOM_BATCH, m->F});
    int d = m->F;
    parts[np++] = dense_stack(b, "interaction", m->numeric, &d, in->dense, in->n_dense, in->activation, 0);
    add_field(fields, parts[np - 1], d, "numeric");
    total += d;
  }
  int ud = in->user_dim, id = in->item_dim, cd = in->category_dim;
  if (ud > 0 && prep->users) {
    m->user = loom_input(g, "user", LOOM_I32, 1, (int[]){LOOM_BATCH});
    loom_embedding_opts eo = {.vocab = loom_idmap_size(prep->users), .dim = ud, .padding_idx = -1, .init = b->style};
    parts[np++] = loom_layer_embedding(g, "interaction.user_embedding", m->user, &eo, b->rng);
    if (edrop > 0) parts[np - 1] = loom_dropout(g, parts[np - 1], edrop);
    add_field(fields, parts[np - 1], ud, "user");
    total += ud;
  }
  if (id > 0 && prep->items) {
    m->item = loom_input(g, "item", LOOM_I32, 1, (int[]){LOOM_BATCH});
    loom_embedding_opts eo = {.vocab = loom_idmap_size(prep->items), .dim = id, .padding_idx = -1, .init = b->style};
    loom_tensor *cand = parts[np++] = loom_layer_embedding(g, "interaction.item_embedding", m->item, &eo, b->rng);
    if (edrop > 0) parts[np - 1] = loom_dropout(g, parts[np - 1], edrop);
    add_field(fields, parts[np - 1], id, "item");
    total += id;
    if (m->Lh > 0 && in->history_content != LOOM_HISTORY_TEXT) {
      /* the user's history through the same item table (src/model/history.c); padding (0) reads as zeros */
      m->hist = loom_input(g, "history", LOOM_I32, 2, (int[]){LOOM_BATCH, m->Lh});
      hist_aux_input(m);
      loom_tensor *h = loom_gather(g, loom_graph_find(g, "interaction.item_embedding.weight"), m->hist, 0); // (B, Lh, id)
      parts[np++] = loom_history_pool(g, "interaction.history", h, cand, m->hist_aux, m->Lh, id, m->hist_mode,
                                      in->history_din_hidden, b->style, b->rng);
      add_field(fields, parts[np - 1], id, "history");
      total += id;
    }
  }
  if (htext) { /* the history items' texts, zeroed at padding, pooled against the candidate's text */
    hist_aux_input(m);
    m->hist_valid = loom_input(g, "history_valid", LOOM_F32, 3, (int[]){LOOM_BATCH, m->Lh, 1});
    loom_tensor *h = loom_mul(g, htext, m->hist_valid); // (B, Lh, dt)
    parts[np++] = loom_history_pool(g, "interaction.history_text", h, ctext, m->hist_aux, m->Lh, dt, m->hist_mode,
                                    in->history_din_hidden, b->style, b->rng);
    add_field(fields, parts[np - 1], dt, "history_text");
    total += dt;
  }
  if (cd > 0 && m->n_cat > 0) {
    /* one table for every category column; column j's ids start at cat_offset[j] */
    int rows = 0;
    for (int j = 0; j < m->n_cat; j++) m->cat_offset[j] = rows, rows += loom_idmap_size(prep->category[j]);
    m->category = loom_input(g, "category", LOOM_I32, 2, (int[]){LOOM_BATCH, m->n_cat});
    loom_embedding_opts eo = {.vocab = rows, .dim = cd, .padding_idx = -1, .init = b->style};
    loom_tensor *e = loom_layer_embedding(g, "interaction.category_embedding", m->category, &eo, b->rng);
    parts[np++] = loom_reshape(g, e, 2, (int[]){-1, m->n_cat * cd});
    if (edrop > 0) parts[np - 1] = loom_dropout(g, parts[np - 1], edrop);
    for (int j = 0; j < m->n_cat; j++) {
      char name[24];
      snprintf(name, sizeof name, "category%d", j);
      add_field(fields, m->n_cat == 1 ? parts[np - 1] : loom_slice(g, parts[np - 1], j * cd, cd), cd, name);
    }
    total += m->n_cat * cd;
  }
  *dim = total;
  if (np == 0) return NULL;
  return np == 1 ? parts[0] : loom_concat(g, np, parts);
}

/* ---- fusion ---- */

/* Each field projected to D by fusion.proj_<name> and stacked: (B, n, D). */
static loom_tensor *project_fields(builder *b, const field_list *f, int D) {
  loom_tensor *p[LOOM_MODEL_MAX_TOWERS + 3 + LOOM_DATA_MAX_FEATURES];
  for (int i = 0; i < f->n; i++) {
    char name[LOOM_NAME_MAX];
    snprintf(name, sizeof name, "fusion.proj_%s", f->name[i]);
    loom_dense_opts o = {.in_features = f->dim[i], .units = D, .init = b->style};
    p[i] = loom_layer_dense(b->g, name, f->x[i], &o, b->rng); // (B, D)
  }
  return loom_reshape(b->g, f->n == 1 ? p[0] : loom_concat(b->g, f->n, p), 3, (int[]){-1, f->n, D});
}

/* xs[0..n) the towers' outputs (B, dims[i]) in m->towers order; inter: the interaction tower's fields
 * (numeric, user, item, category<j>) for fm, which crosses them one by one instead of as one vector. */
static loom_tensor *fuse(builder *b, const loom_fusion_spec *fu, loom_model *m, loom_tensor **xs, int *dims, int n,
                         const field_list *inter, int *dim) {
  loom_graph *g = b->g;
  const loom_fusion_mode mode = fu->mode;
  if (mode == LOOM_FUSION_FM || mode == LOOM_FUSION_DCN) {
    /* both start from the concatenation x0 (B, d) */
    loom_tensor *x0 = n == 1 ? xs[0] : loom_concat(g, n, xs);
    int d = 0;
    for (int i = 0; i < n; i++) d += dims[i];
    *dim = d;
    if (mode == LOOM_FUSION_DCN) {
      loom_cross_opts o = loom_cross_opts_default(d, fu->cross_layers);
      o.init = b->style;
      return loom_layer_cross(g, "fusion", x0, &o, b->rng); // (B, d)
    }
    /* fm: [x0, <v_i, v_j> for every pair of fields i < j] (B, d + F(F-1)/2), v_i = proj_i(field_i) (D).
     * The pairwise dots are kept apart (DLRM-style) rather than summed into the classic FM term
     * ½((Σv)² − Σv²): the layers after fusion then weigh user × category apart from item × position. */
    field_list f = {0};
    for (int i = 0; i < n; i++)
      if (strcmp(m->towers[i], "interaction") != 0) add_field(&f, xs[i], dims[i], m->towers[i]);
    for (int i = 0; inter && i < inter->n; i++) add_field(&f, inter->x[i], inter->dim[i], inter->name[i]);
    if (f.n < 2) return x0;
    int D = fu->dim;
    loom_tensor *dots = loom_pairwise_dot(g, project_fields(b, &f, D), f.n, D); // (B, F(F-1)/2)
    *dim = d + f.n * (f.n - 1) / 2;
    return loom_concat(g, 2, (loom_tensor *[]){x0, dots});
  }
  if (n == 1) {
    *dim = dims[0];
    return xs[0];
  }
  if (mode == LOOM_FUSION_CONCAT) {
    *dim = 0;
    for (int i = 0; i < n; i++) *dim += dims[i];
    return loom_concat(g, n, xs);
  }
  int D = fu->dim;
  loom_tensor *p[LOOM_MODEL_MAX_TOWERS];
  for (int i = 0; i < n; i++) {
    char name[LOOM_NAME_MAX];
    snprintf(name, sizeof name, "fusion.proj_%s", m->towers[i]);
    loom_dense_opts o = {.in_features = dims[i], .units = D, .init = b->style};
    p[i] = loom_layer_dense(g, name, xs[i], &o, b->rng); // (B, D)
  }
  *dim = D;
  loom_tensor *y = NULL;
  if (mode == LOOM_FUSION_SUM || mode == LOOM_FUSION_MEAN) {
    y = p[0];
    for (int i = 1; i < n; i++) y = loom_add(g, y, p[i]);
    if (mode == LOOM_FUSION_MEAN) y = loom_scale(g, y, 1.0f / (float)n, 0);
  } else if (mode == LOOM_FUSION_PRODUCT) {
    y = p[0];
    for (int i = 1; i < n; i++) y = loom_mul(g, y, p[i]);
  } else if (mode == LOOM_FUSION_WEIGHTED) {
    /* y = sum_i w_i p_i with learned scalars w (n), initialised to 1/n */
    loom_tensor *w = loom_param(g, "fusion.weight", 1, (int[]){n});
    for (int i = 0; i < n; i++) w->data[i] = 1.0f / (float)n;
    for (int i = 0; i < n; i++) {
      loom_tensor *t = loom_mul(g, p[i], loom_slice(g, w, i, 1));
      y = y ? loom_add(g, y, t) : t;
    }
  } else if (mode == LOOM_FUSION_ATTENTION) { /* y = sum_i a_i p_i, a = softmax_i(w · tanh(W p_i + b)) per sample */
    loom_tensor *stack = loom_reshape(g, loom_concat(g, n, p), 3, (int[]){-1, n, D}); // (B, n, D)
    loom_field_attention_opts o = loom_field_attention_opts_default(n, D);
    o.init = b->style;
    y = loom_layer_field_attention(g, "fusion", stack, &o, b->rng);
  } else {
    assert(mode == LOOM_FUSION_GATED); /* gated: g = σ(W [p_0 .. p_n-1] + b) (B, n·D); y = sum_i g_i ⊙ p_i */
    loom_dense_opts o = {.in_features = n * D, .units = n * D, .activation = LOOM_ACT_SIGMOID, .init = b->style};
    loom_tensor *gate = loom_layer_dense(g, "fusion.gate", loom_concat(g, n, p), &o, b->rng);
    for (int i = 0; i < n; i++) {
      loom_tensor *t = loom_mul(g, p[i], loom_slice(g, gate, i * D, D));
      y = y ? loom_add(g, y, t) : t;
    }
  }
  return y;
}

/* Ranking, two towers: user side u = user_proj([user embedding, query text]) (B, D); item side
 * v = item_proj([item embedding, item text, item image]) for the positive and n_neg negatives of each
 * row (B·G, D); score s_ij = u_i · v_ij. Loss over rows whose label is 1 (all rows without a label):
 * sampled softmax CE(s_i, 0) or BPR mean_j softplus(s_ij - s_i0). */
static int build_ranking(builder *b, loom_model *m, const loom_model_spec *s, const loom_prep *prep, loom_error *err) {
  loom_graph *g = b->g;
  bool retrieval = m->task == LOOM_TASK_RETRIEVAL;
  const loom_pair_loss lk = s->task.loss;
  char loss[32];
  loom_model_spec_choice("task", "loss", (int)lk, loss, sizeof loss);
  if (retrieval && lk != LOOM_LOSS_INFONCE && lk != LOOM_LOSS_TRIPLET)
    return loom_errorf(err, "[task] kind = retrieval: set task.loss = infonce or triplet (not %s)", loss);
  if (!retrieval && lk != LOOM_LOSS_SAMPLED_SOFTMAX && lk != LOOM_LOSS_BPR)
    return loom_errorf(err, "[task] kind = ranking: set task.loss = sampled_softmax or bpr (not %s)", loss);
  bool triplet = lk == LOOM_LOSS_TRIPLET;
  if (m->n_neg <= 0 && (!retrieval || triplet))
    return loom_errorf(err, "[task] kind = %s with loss %s needs negatives: set [data] negatives (e.g. 4)",
                       loom_task_name(m->task), loss);
  if (!prep->items || (!retrieval && !prep->users))
    return loom_errorf(err, "[task] kind = %s needs [data] %sitem_col", loom_task_name(m->task), retrieval ? "" : "user_col and ");
  if (retrieval && (m->Tq <= 0 || !prep->vocab || !s->text.enabled))
    return loom_errorf(err, "[task] kind = retrieval needs the query text: set [data] query_col and keep the text tower on");
  /* retrieval: InfoNCE uses in-batch negatives (G = 1); triplet the batch's first negative (G = 2) */
  int G = m->G = retrieval ? (triplet ? 2 : 1) : 1 + m->n_neg, D = s->fusion.dim;
  /* item side */
  loom_tensor *parts[4];
  int np = 0, d = 0, di;
  int id = s->interaction.item_dim, ud = s->interaction.user_dim;
  if (id > 0 && !retrieval) {
    m->item = loom_input(g, "item", LOOM_I32, 2, (int[]){LOOM_BATCH, G});
    loom_embedding_opts eo = {.vocab = loom_idmap_size(prep->items), .dim = id, .padding_idx = -1, .init = b->style};
    parts[np++] = loom_layer_embedding(g, "interaction.item_embedding", loom_reshape(g, m->item, 1, (int[]){-1}), &eo, b->rng);
    d += id;
  }
  if (s->text.enabled && m->T > 0 && prep->vocab) {
    parts[np++] = text_tower(b, &s->text, loom_vocab_size(prep->vocab), "text", "tokens", G, m->T, &m->tokens, &m->lengths,
                             &m->text_inv_len, &m->text_mask, &di);
    d += di;
    snprintf(m->towers[m->n_towers++], sizeof m->towers[0], "text");
  }
  if (s->image.enabled && m->C > 0) {
    if (!(parts[np] = image_tower(b, m, &s->image, &di, err))) return -1;
    np++, d += di;
    snprintf(m->towers[m->n_towers++], sizeof m->towers[0], "image");
  }
  if (np == 0)
    return loom_errorf(err, "[task] kind = ranking: the item side is empty — set interaction.item_dim > 0 or "
                            "enable the text or image tower");
  loom_dense_opts o = {.in_features = d, .units = D, .init = b->style};
  m->item_vec = loom_layer_dense(g, "item_proj", np == 1 ? parts[0] : loom_concat(g, np, parts), &o, b->rng); // (B·G, D)
  /* user side */
  np = 0, d = 0;
  if (ud > 0 && !retrieval) {
    m->user = loom_input(g, "user", LOOM_I32, 1, (int[]){LOOM_BATCH});
    loom_embedding_opts eo = {.vocab = loom_idmap_size(prep->users), .dim = ud, .padding_idx = -1, .init = b->style};
    parts[np++] = loom_layer_embedding(g, "interaction.user_embedding", m->user, &eo, b->rng);
    d += ud;
  }
  if (m->Tq > 0 && prep->vocab && s->text.enabled) {
    parts[np++] = text_tower(b, &s->text, loom_vocab_size(prep->vocab), "query", "query", 1, m->Tq, &m->query, &m->query_len,
                             &m->query_inv_len, &m->query_mask, &di);
    d += di;
    snprintf(m->towers[m->n_towers++], sizeof m->towers[0], "query");
  }
  if (np == 0)
    return loom_errorf(err, "[task] kind = ranking: the user side is empty — set interaction.user_dim > 0 or give "
                            "[data] query_col with the text tower on");
  snprintf(m->towers[m->n_towers++], sizeof m->towers[0], "interaction");
  o.in_features = d;
  m->user_vec = loom_layer_dense(g, "user_proj", np == 1 ? parts[0] : loom_concat(g, np, parts), &o, b->rng); // (B, D)
  loom_tensor *l;
  if (retrieval) {
    /* the query (user side) against its item: InfoNCE over the batch, or triplet with a sampled negative */
    m->logits = m->item_vec;
    float tau = s->task.temperature;
    if (triplet) {
      loom_tensor *v2 = loom_reshape(g, m->item_vec, 2, (int[]){-1, 2 * D});
      l = loom_triplet_margin(g, m->user_vec, loom_slice(g, v2, 0, D), loom_slice(g, v2, D, D),
                              s->task.margin, s->task.distance, LOOM_REDUCE_NONE);
    } else {
      l = loom_infonce(g, m->user_vec, m->item_vec, tau, true, true, LOOM_REDUCE_NONE);
    }
    m->n_classes = G;
  } else {
  loom_tensor *v = loom_reshape(g, m->item_vec, 3, (int[]){-1, G, D});
  loom_tensor *u = loom_reshape(g, m->user_vec, 3, (int[]){-1, D, 1});
  m->logits = loom_reshape(g, loom_matmul(g, v, u, false, false), 2, (int[]){-1, G}); // (B, G)
  if (lk == LOOM_LOSS_BPR) {
    l = loom_bpr(g, loom_slice(g, m->logits, 0, 1), loom_slice(g, m->logits, 1, G - 1), LOOM_REDUCE_NONE);
  } else {
    m->label_i = loom_input(g, "target", LOOM_I32, 1, (int[]){LOOM_BATCH});
    l = loom_softmax_ce(g, m->logits, m->label_i, 0, LOOM_CE_IGNORE_DEFAULT, LOOM_REDUCE_NONE);
  }
  }
  m->row_weight = loom_input(g, "row_weight", LOOM_F32, 1, (int[]){LOOM_BATCH});
  m->inv_weight = loom_input(g, "inv_weight", LOOM_F32, 1, (int[]){1});
  m->loss = loom_mul(g, loom_sum(g, loom_mul(g, loom_reshape(g, l, 1, (int[]){-1}), m->row_weight), LOOM_ALL, false),
                     m->inv_weight);
  m->n_classes = G;
  return 0;
}

static loom_model *build(const loom_config *c, const loom_dataset *ds, const loom_model *full, loom_error *err) {
  loom_model_spec spec;
  loom_model_spec_read(c, &spec);
  const loom_model_spec *s = &spec;
  const char *kind = loom_task_name(s->task.kind);
  const loom_prep *prep = loom_dataset_prep(ds);
  loom_batch probe;
  if (loom_batch_init(&probe, ds, 1, err) < 0) return NULL;
  loom_model *m = loom_calloc(1, sizeof *m);
  if (!m) {
    loom_batch_free(&probe);
    loom_errorf(err, "out of memory building the model");
    return NULL;
  }
  m->ds = ds;
  m->T = probe.T, m->Tq = probe.Tq, m->F = probe.F, m->n_cat = probe.n_cat, m->n_neg = probe.n_neg;
  m->C = probe.C, m->H = probe.H, m->W = probe.W, m->S = probe.S > 0 ? probe.S : 1, m->Lh = probe.Lh;
  m->Dv = probe.Dv, m->Du = probe.Du;
  loom_batch_free(&probe);
  if (text_check(s, m->T, m->Tq, err) < 0) goto fail;
  m->text_pool_w = text_pool_w_mode(&s->text);
  m->task = s->task.kind;
  m->G = 1;
  m->g = loom_graph_new();
  loom_rng rng;
  loom_train_spec ts;
  loom_train_spec_read(c, &ts);
  loom_rng_seed(&rng, (uint64_t)ts.seed);
  loom_rng_seed(loom_graph_rng(m->g), (uint64_t)ts.seed ^ 0x5eed5eed5eedull);
  builder b = {m->g, &rng, ts.init};
  /* keys that would have no effect */
  char mode[32];
  loom_model_spec_choice("fusion", "mode", (int)s->fusion.mode, mode, sizeof mode);
  const bool dcn = s->fusion.mode == LOOM_FUSION_DCN;
  long cross = s->fusion.cross_layers;
  bool share = s->text.share_query;
  float edrop = s->interaction.embedding_dropout;
  bool two_tower = m->task == LOOM_TASK_RANKING || m->task == LOOM_TASK_RETRIEVAL;
  if (dcn && cross < 1) {
    loom_errorf(err, "[fusion] mode = dcn needs fusion.cross_layers >= 1 (e.g. 2)");
    goto fail;
  }
  if (!dcn && cross > 0) {
    loom_errorf(err, "[fusion] cross_layers = %ld has no effect with fusion.mode = %s — remove it, or set "
                     "fusion.mode = dcn", cross, mode);
    goto fail;
  }
  if (share && two_tower) {
    loom_errorf(err, "[text] share_query = true has no effect in a %s model (its query tower is the user side's "
                     "own) — remove it", kind);
    goto fail;
  }
  if (share && m->Tq <= 0) {
    loom_errorf(err, "[text] share_query = true has no effect without a query — set [data] query_col, or remove "
                     "text.share_query");
    goto fail;
  }
  if (share && !s->text.enabled) {
    loom_errorf(err, "[text] share_query = true needs the text tower whose layers it shares — set text.enabled = "
                     "true, or text.share_query = false for a query tower of its own");
    goto fail;
  }
  if (edrop > 0 && (two_tower || !s->interaction.enabled)) {
    loom_errorf(err, "[interaction] embedding_dropout = %g has no effect %s — remove it", (double)edrop,
                two_tower ? "in a ranking or retrieval model" : "with interaction.enabled = false");
    goto fail;
  }
  if (two_tower) {
    if (build_ranking(&b, m, s, prep, err) < 0) goto fail;
    return m;
  }
  char hist_content[16];
  loom_model_spec_choice("interaction", "history_content", (int)s->interaction.history_content, hist_content,
                         sizeof hist_content);
  m->hist_mode = (int)s->interaction.history_pooling; /* loom_hist_pool's values (asserted above) */
  m->hist_text = m->Lh > 0 && s->interaction.history_content != LOOM_HISTORY_ID;
  if (m->hist_text && (full || !s->text.enabled || !s->interaction.enabled)) {
    loom_errorf(err, full ? "[interaction] history_content = %s: loom-infer cannot yet score from cached item towers "
                            "with text histories (score or eval the model instead)"
                          : "[interaction] history_content = %s reads the history items through the text tower into "
                            "the interaction tower — set text.enabled = true and interaction.enabled = true, or "
                            "history_content = id",
                hist_content);
    goto fail;
  }
  loom_tensor *xs[LOOM_MODEL_MAX_TOWERS], *shared_query = NULL, *htext = NULL;
  int dims[LOOM_MODEL_MAX_TOWERS];
  int n = 0;
  if (s->text.enabled) {
    if (m->T <= 0 || !prep->vocab) {
      loom_errorf(err, "[text] enabled = true but the data has no text — set [data] text_cols, or text.enabled=false");
      goto fail;
    }
    snprintf(m->towers[n], sizeof m->towers[n], "text");
    if (full) {
      dims[n] = m->tower_dim[n] = full->tower_dim[n];
      xs[n] = m->tower_in[n] = loom_input(m->g, "tower_text", LOOM_F32, 2, (int[]){LOOM_BATCH, dims[n]});
    } else if (share || m->hist_text) {
      /* item text, query (shared) and history items' texts (history text) through the same layers: G texts
       * per row, each padded to max(T, Tq) */
      int Tm = m->share_T = share && m->Tq > m->T ? m->Tq : m->T, D;
      int G = m->text_G = 1 + (share ? 1 : 0) + (m->hist_text ? m->Lh : 0);
      loom_tensor *all = text_tower(&b, &s->text, loom_vocab_size(prep->vocab), "text", "tokens", G, Tm, &m->tokens,
                                    &m->lengths, &m->text_inv_len, &m->text_mask, &D); // (B·G, D)
      loom_tensor *rows = loom_reshape(m->g, all, 2, (int[]){-1, G * D});            // (B, G·D)
      xs[n] = m->tower_out[n] = loom_slice(m->g, rows, 0, D);
      if (share) shared_query = loom_slice(m->g, rows, D, D);
      if (m->hist_text) htext = loom_reshape(m->g, loom_slice(m->g, rows, (G - m->Lh) * D, m->Lh * D), 3,
                                             (int[]){-1, m->Lh, D}); // (B, Lh, D)
      dims[n] = m->tower_dim[n] = D;
    } else {
      xs[n] = m->tower_out[n] = text_tower(&b, &s->text, loom_vocab_size(prep->vocab), "text", "tokens", 1, m->T, &m->tokens,
                                           &m->lengths, &m->text_inv_len, &m->text_mask, &dims[n]);
      m->tower_dim[n] = dims[n];
    }
    n++;
  }
  if (s->image.enabled) {
    if (m->C <= 0) {
      loom_errorf(err, "[image] enabled = true but the data has no images — set [data] image_col or video_col, or "
                       "image.enabled=false");
      goto fail;
    }
    if (m->S <= 1 && s->image.frame_pooling != LOOM_FRAMES_MEAN) {
      loom_errorf(err, "[image] frame_pooling has no effect: each row has one image — set [data] video_col (its frames "
                       "are pooled) or gallery, or remove frame_pooling");
      goto fail;
    }
    snprintf(m->towers[n], sizeof m->towers[n], "image");
    if (full) {
      dims[n] = m->tower_dim[n] = full->tower_dim[n];
      xs[n] = m->tower_in[n] = loom_input(m->g, "tower_image", LOOM_F32, 2, (int[]){LOOM_BATCH, dims[n]});
    } else {
      if (!(xs[n] = m->tower_out[n] = image_tower(&b, m, &s->image, &dims[n], err))) goto fail;
      m->tower_dim[n] = dims[n];
    }
    n++;
  }
  for (int k = 0; k < 2; k++) { /* precomputed item / user vectors, each a tower (src/model/vectors.c) */
    int D = k ? m->Du : m->Dv;
    if (D <= 0) continue;
    const char *name = k ? "user_vectors" : "item_vectors";
    snprintf(m->towers[n], sizeof m->towers[n], "%s", name);
    loom_tensor *in = loom_input(m->g, name, LOOM_F32, 2, (int[]){LOOM_BATCH, D});
    *(k ? &m->user_vecs : &m->item_vecs) = in;
    xs[n] = loom_vectors_tower(m->g, &s->vectors, name, in, D, b.style, &rng, &dims[n]);
    m->tower_dim[n] = dims[n];
    n++;
  }
  if (m->Tq > 0) {
    /* the session's query: the text tower's layers (shared; in a head model rebuilt under the text tower's
     * names, whose parameters loom_model_build_head copies) or a tower of its own, query.* */
    if (!prep->vocab) {
      loom_errorf(err, "[data] query_col is set but the data has no vocabulary to read it — check [data] num_words");
      goto fail;
    }
    snprintf(m->towers[n], sizeof m->towers[n], "query");
    if (shared_query) {
      xs[n] = shared_query, dims[n] = dims[0];
    } else {
      xs[n] = text_tower(&b, &s->text, loom_vocab_size(prep->vocab), share ? "text" : "query", "query", 1, m->Tq, &m->query,
                         &m->query_len, &m->query_inv_len, &m->query_mask, &dims[n]);
    }
    m->tower_dim[n] = dims[n];
    m->reads_query = true;
    n++;
  }
  field_list inter = {0};
  if (s->interaction.enabled) {
    snprintf(m->towers[n], sizeof m->towers[n], "interaction");
    xs[n] = interaction_tower(&b, m, &s->interaction, prep, &dims[n], &inter, htext, htext ? xs[0] : NULL, htext ? dims[0] : 0);
    if (!xs[n]) {
      loom_errorf(err, "[interaction] enabled = true but there are no numeric_cols, user/item columns or category_cols "
                       "with a non-zero embedding size — set interaction.enabled=false or give features");
      goto fail;
    }
    n++;
  }
  if (n == 0) {
    loom_errorf(err, "every tower is disabled — enable at least one of text, image, interaction");
    goto fail;
  }
  if (m->Lh > 0 && !m->hist && s->interaction.history_content != LOOM_HISTORY_TEXT) {
    loom_errorf(err, "[data] history_len = %d has no effect: history_content = %s reads the history through the item "
                     "ID embedding — set interaction.item_dim > 0 (and interaction.enabled = true), history_content = "
                     "text, or remove history_len", m->Lh, hist_content);
    goto fail;
  }
  if (edrop > 0 && !m->user && !m->item && !m->category) {
    loom_errorf(err, "[interaction] embedding_dropout = %g has no effect: the model has no user, item or category "
                     "embedding — remove it", (double)edrop);
    goto fail;
  }
  m->n_towers = n;
  int dim;
  loom_tensor *x = fuse(&b, &s->fusion, m, xs, dims, n, &inter, &dim);
  x = dense_stack(&b, "fusion", x, &dim, s->fusion.dense, s->fusion.n_dense, s->fusion.activation, s->fusion.dropout);
  if (m->task == LOOM_TASK_REGRESSION || m->task == LOOM_TASK_MULTITASK) { /* heads.c */
    if (loom_heads_build(m, s, ds, x, dim, &rng, b.style, err) < 0) goto fail;
  } else if (m->task == LOOM_TASK_BINARY) {
    m->n_classes = 1;
    loom_dense_opts o = {.in_features = dim, .units = 1, .init = b.style};
    m->logits = loom_reshape(m->g, loom_layer_dense(m->g, "head", x, &o, &rng), 1, (int[]){-1}); // (B)
    m->label_f = loom_input(m->g, "label", LOOM_F32, 1, (int[]){LOOM_BATCH});
    m->pos_weight_value = s->task.pos_weight;
    if (m->pos_weight_value != 1.0f) m->pos_weight = loom_input(m->g, "pos_weight", LOOM_F32, 1, (int[]){1});
    m->loss = loom_bce_logits(m->g, m->logits, m->label_f, m->pos_weight, LOOM_REDUCE_MEAN);
  } else {
    int K = s->task.classes;
    int Kd = loom_dataset_num_classes(ds);
    if (K == 0) K = Kd;
    if (K < 2) {
      loom_errorf(err, "[task] kind = multiclass needs classes >= 2: set task.classes, or [data] label_type = class");
      goto fail;
    }
    if (Kd > 0 && K != Kd) {
      loom_errorf(err, "[task] classes = %d but the training data has %d classes (label_type = class) — remove "
                       "task.classes or make them agree", K, Kd);
      goto fail;
    }
    m->n_classes = K;
    loom_dense_opts o = {.in_features = dim, .units = K, .init = b.style};
    m->logits = loom_layer_dense(m->g, "head", x, &o, &rng); // (B, K)
    m->label_i = loom_input(m->g, "label", LOOM_I32, 1, (int[]){LOOM_BATCH});
    m->loss = loom_softmax_ce(m->g, m->logits, m->label_i, s->task.label_smoothing,
                              LOOM_CE_IGNORE_DEFAULT, LOOM_REDUCE_MEAN);
  }
  return m;
fail:
  loom_model_free(m);
  return NULL;
}

/* ---- memory estimate from the spec, before anything is allocated ---- */

typedef struct {
  double params, acts; /* floats: parameters; activations per batch row */
  double top;          /* the largest single part, in floats (parameters ×4, activations ×2B) */
  const char *top_key;
  int B;
} mem_est;

static void mem_add(mem_est *e, const char *key, double params, double acts) {
  e->params += params, e->acts += acts;
  double f = 4 * params + 2 * acts * e->B;
  if (f > e->top) e->top = f, e->top_key = key;
}

static int mem_dense(mem_est *e, const int *u, int n, const char *key, int in, double rows) {
  for (int i = 0; i < n; i++) mem_add(e, key, (double)in * u[i] + u[i], rows * u[i]), in = u[i];
  return in;
}

/* (B·rows, T) tokens through embedding, LSTM and dense: returns the output width. */
static int mem_text(mem_est *e, const loom_text_spec *t, int V, int T, double rows) {
  int E = t->embedding_dim, H = t->hidden;
  int L = t->layers, dirs = t->bidirectional ? 2 : 1;
  mem_add(e, "text.embedding_dim", (double)V * E, rows * T * E);
  for (int l = 0, in = E; l < L; l++, in = dirs * H) mem_add(e, "text.hidden", dirs * 4.0 * H * (in + H + 2), rows * T * dirs * 6.0 * H);
  return mem_dense(e, t->dense, t->n_dense, "text.dense", dirs * H, rows);
}

static int mem_image(mem_est *e, const loom_image_spec *im, int C, int H, int W, double rows) {
  if (im->encoder == LOOM_IMAGE_ROWS) {
    int Hd = im->lstm_hidden, L = im->lstm_layers;
    int dirs = im->lstm_bidirectional ? 2 : 1;
    for (int l = 0, in = C * W; l < L; l++, in = dirs * Hd)
      mem_add(e, "image.lstm_hidden", dirs * 4.0 * Hd * (in + Hd + 2), rows * H * dirs * 6.0 * Hd);
    return mem_dense(e, im->dense, im->n_dense, "image.dense", dirs * Hd, rows);
  }
  const int *f = im->filters, *k = im->kernel, *st = im->stride, *pl = im->pool;
  const int nf = im->n_filters, nk = im->n_kernel, ns = im->n_stride, np = im->n_pool;
  bool same = im->padding == LOOM_CONV_PAD_SAME;
  for (int i = 0; i < nf && nk && ns && np; i++) {
    int kk = list_at(k, nk, i), s = list_at(st, ns, i), p = list_at(pl, np, i);
    H = same ? (H + s - 1) / s : (H - kk) / s + 1, W = same ? (W + s - 1) / s : (W - kk) / s + 1;
    if (H < 1 || W < 1) return 1; /* the builder explains this one */
    /* im2col columns, output and its activation, per row */
    mem_add(e, "image.filters", (double)kk * kk * C * f[i] + f[i], (double)rows * H * W * ((double)kk * kk * C + 3.0 * f[i]));
    C = f[i];
    if (p > 1) H /= p, W /= p;
    if (H < 1 || W < 1) return 1;
  }
  return mem_dense(e, im->dense, im->n_dense, "image.dense", C * H * W, rows);
}

int loom_model_check_memory(const loom_config *c, const loom_dataset *ds, int B, loom_error *err) {
  const loom_prep *prep = loom_dataset_prep(ds);
  loom_batch probe;
  if (loom_batch_init(&probe, ds, 1, err) < 0) return -1;
  int T = probe.T, Tq = probe.Tq, F = probe.F, ncat = probe.n_cat, nneg = probe.n_neg, C = probe.C, H = probe.H, W = probe.W;
  loom_batch_free(&probe);
  mem_est e = {.B = B};
  loom_model_spec spec;
  loom_model_spec_read(c, &spec);
  const loom_model_spec *s = &spec;
  bool pair = s->task.kind == LOOM_TASK_RANKING || s->task.kind == LOOM_TASK_RETRIEVAL;
  int V = prep->vocab ? loom_vocab_size(prep->vocab) : 0;
  int U = prep->users ? loom_idmap_size(prep->users) : 0, I = prep->items ? loom_idmap_size(prep->items) : 0;
  int ud = s->interaction.user_dim, id = s->interaction.item_dim;
  int D = s->fusion.dim;
  bool text = s->text.enabled && T > 0 && V > 0, image = s->image.enabled && C > 0;
  if (pair) {
    double G = 1 + (nneg > 0 ? nneg : 1);
    int d = 0;
    if (text) d += mem_text(&e, &s->text, V, T, G);
    if (image) d += mem_image(&e, &s->image, C, H, W, G);
    if (id > 0) mem_add(&e, "interaction.item_dim", (double)I * id, G * id), d += id;
    mem_add(&e, "fusion.dim", (double)d * D, G * D);
    int u = 0;
    if (ud > 0) mem_add(&e, "interaction.user_dim", (double)U * ud, ud), u += ud;
    if (text && Tq > 0) u += mem_text(&e, &s->text, V, Tq, 1);
    mem_add(&e, "fusion.dim", (double)u * D, D + G);
  } else {
    int dims[3], n = 0;
    if (text) dims[n++] = mem_text(&e, &s->text, V, T, 1);
    if (image) dims[n++] = mem_image(&e, &s->image, C, H, W, 1);
    if (s->interaction.enabled) {
      int d = F > 0 ? mem_dense(&e, s->interaction.dense, s->interaction.n_dense, "interaction.dense", F, 1) : 0;
      if (ud > 0 && U) mem_add(&e, "interaction.user_dim", (double)U * ud, ud), d += ud;
      if (id > 0 && I) mem_add(&e, "interaction.item_dim", (double)I * id, id), d += id;
      int cd = s->interaction.category_dim, rows = 0;
      for (int j = 0; j < ncat; j++) rows += loom_idmap_size(prep->category[j]);
      if (cd > 0 && ncat > 0) mem_add(&e, "interaction.category_dim", (double)rows * cd, (double)ncat * cd), d += ncat * cd;
      dims[n++] = d;
    }
    int in = 0;
    if (n > 1 && s->fusion.mode != LOOM_FUSION_CONCAT) {
      for (int i = 0; i < n; i++) mem_add(&e, "fusion.dim", (double)dims[i] * D + D, D);
      if (s->fusion.mode == LOOM_FUSION_GATED) mem_add(&e, "fusion.dim", (double)n * D * (n * D + 1), n * D);
      in = D;
    } else {
      for (int i = 0; i < n; i++) in += dims[i];
    }
    in = mem_dense(&e, s->fusion.dense, s->fusion.n_dense, "fusion.dense", in, 1);
    int K = s->task.classes;
    mem_add(&e, "task.classes", (double)in * (K > 1 ? K : 1), K > 1 ? K : 1);
  }
  /* parameters, their gradients and Adam's two moments; activations and their gradients at batch B */
  double bytes = 4.0 * (4 * e.params + 2 * e.acts * B);
  long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
  double phys = pages > 0 && psize > 0 ? (double)pages * (double)psize : 0;
  if (phys > 0 && bytes > 0.9 * phys)
    return loom_errorf(err, "the model needs about %.1f GiB (%.0f million parameters: %.1f GiB with their gradients and "
                            "Adam moments; activations for [data] batch_size = %d: %.1f GiB) but this machine has %.1f GiB "
                            "of memory — the largest part comes from %s; make it smaller, or lower batch_size",
                       bytes / 1073741824.0, e.params / 1e6, 16 * e.params / 1073741824.0, B,
                       8 * e.acts * B / 1073741824.0, phys / 1073741824.0, e.top_key ? e.top_key : "the model");
  return 0;
}

loom_model *loom_model_build(const loom_config *c, const loom_dataset *ds, loom_error *err) {
  loom_model_spec s;
  loom_model_spec_read(c, &s);
  if (loom_model_pretrained_check(&s.text, err) < 0) return NULL;
  loom_model *m = build(c, ds, NULL, err);
  if (m && loom_model_freeze(m, &s, err) < 0) { /* the vectors themselves are loaded by the trainer, once per run */
    loom_model_free(m);
    return NULL;
  }
  return m;
}

loom_model *loom_model_build_head(const loom_config *c, const loom_dataset *ds, const loom_model *full, loom_error *err) {
  assert(full->task == LOOM_TASK_BINARY || full->task == LOOM_TASK_MULTICLASS);
  loom_model *m = build(c, ds, full, err);
  if (!m) return NULL;
  loom_graph *g = m->g, *fg = full->g;
  for (int i = 0; i < loom_graph_n_param_tensors(g); i++) {
    loom_tensor *t = loom_graph_param_tensor(g, i), *f = loom_graph_find(fg, t->name);
    assert(f && loom_tensor_numel(f) == loom_tensor_numel(t));
    memcpy(t->data, f->data, sizeof(float) * loom_tensor_numel(t));
  }
  for (int i = 0; i < loom_graph_n_buffer_tensors(g); i++) {
    loom_tensor *t = loom_graph_buffer_tensor(g, i), *f = loom_graph_find(fg, t->name);
    assert(f && loom_tensor_numel(f) == loom_tensor_numel(t));
    memcpy(t->data, f->data, sizeof(float) * loom_tensor_numel(t));
  }
  loom_graph_drop_grads(g);
  return m;
}

void loom_model_free(loom_model *m) {
  if (!m) return;
  loom_graph_free(m->g);
  loom_heads_free(m);
  loom_free(m->inv_len);
  loom_free(m->mask);
  loom_free(m->labels);
  loom_free(m->cat_ids);
  loom_free(m->q_inv_len), loom_free(m->q_mask), loom_free(m->weights), loom_free(m->images);
  loom_free(m->items), loom_free(m->toks), loom_free(m->lens), loom_free(m->h_aux);
  loom_free(m->h_valid), loom_free(m->h_toks), loom_free(m->h_lens);
  loom_free(m);
}

static void *alloc_n(size_t n, size_t size) { return loom_malloc((n ? n : 1) * size); }

/* Host buffers for cap rows, and the inputs that read them bound once (views of inputs keep the
 * pointer they had at compile, so these are bound before every compile). */
static int grow(loom_model *m, int B, loom_error *err) {
  if (B > m->cap) {
    /* a shared query tower reads 2 texts per row, each share_T wide, from toks / lens */
    size_t n = (size_t)B, G = (size_t)(m->share_T ? m->text_G : m->G), T = (size_t)(m->share_T ? m->share_T : m->T);
    size_t Tq = (size_t)m->Tq;
    loom_free(m->inv_len), loom_free(m->mask), loom_free(m->labels), loom_free(m->cat_ids);
    loom_free(m->q_inv_len), loom_free(m->q_mask), loom_free(m->weights), loom_free(m->images);
    loom_free(m->items), loom_free(m->toks), loom_free(m->lens);
    m->inv_len = alloc_n(n * G, sizeof(float));
    m->mask = alloc_n(n * G * T, sizeof(float));
    m->q_inv_len = alloc_n(n, sizeof(float));
    m->q_mask = alloc_n(n * Tq, sizeof(float));
    m->weights = alloc_n(n + 1, sizeof(float));
    m->labels = alloc_n(n, sizeof(int32_t));
    m->cat_ids = alloc_n(n * (size_t)m->n_cat, sizeof(int32_t));
    m->items = alloc_n(n * G, sizeof(int32_t));
    loom_free(m->h_aux), loom_free(m->h_valid), loom_free(m->h_toks), loom_free(m->h_lens);
    m->h_aux = alloc_n(n * (size_t)(m->Lh > 0 ? m->Lh : 1), sizeof(float));
    size_t nh = m->hist_text ? n * (size_t)m->Lh : 0;
    m->h_valid = alloc_n(nh, sizeof(float));
    m->h_toks = alloc_n(nh * (size_t)m->T, sizeof(int32_t));
    m->h_lens = alloc_n(nh, sizeof(int32_t));
    bool pw = m->task == LOOM_TASK_RANKING || m->task == LOOM_TASK_RETRIEVAL, tw = pw || m->share_T;
    m->toks = tw ? alloc_n(n * G * T, sizeof(int32_t)) : NULL;
    m->lens = tw ? alloc_n(n * G, sizeof(int32_t)) : NULL;
    m->images = pw ? alloc_n(n * G * (size_t)m->C * (size_t)m->H * (size_t)m->W, sizeof(float)) : NULL;
    m->cap = B;
    if (!m->inv_len || !m->mask || !m->q_inv_len || !m->q_mask || !m->weights || !m->labels || !m->cat_ids ||
        !m->items || !m->h_aux || !m->h_valid || !m->h_toks || !m->h_lens || (tw && (!m->toks || !m->lens)) || (pw && !m->images)) {
      m->cap = 0;
      return loom_errorf(err, "out of memory for a batch of %d rows", B);
    }
    if (m->label_i && m->task == LOOM_TASK_RANKING) memset(m->labels, 0, sizeof(int32_t) * n);
  }
  if (m->text_inv_len) loom_input_bind(m->text_inv_len, m->inv_len);
  if (m->text_mask) loom_input_bind(m->text_mask, m->mask);
  if (m->query_inv_len) loom_input_bind(m->query_inv_len, m->q_inv_len);
  if (m->query_mask) loom_input_bind(m->query_mask, m->q_mask);
  if (m->category) loom_input_bind(m->category, m->cat_ids);
  if (m->hist_aux) loom_input_bind(m->hist_aux, m->h_aux);
  if (m->hist_valid) loom_input_bind(m->hist_valid, m->h_valid);
  if (m->label_i) loom_input_bind(m->label_i, m->labels);
  if (m->row_weight) loom_input_bind(m->row_weight, m->weights + 1), loom_input_bind(m->inv_weight, m->weights);
  if (m->share_T) loom_input_bind(m->tokens, m->toks), loom_input_bind(m->lengths, m->lens);
  if (m->task == LOOM_TASK_RANKING || m->task == LOOM_TASK_RETRIEVAL) {
    if (m->item) loom_input_bind(m->item, m->items);
    if (m->tokens) loom_input_bind(m->tokens, m->toks), loom_input_bind(m->lengths, m->lens);
    if (m->image) loom_input_bind(m->image, m->images);
  }
  return 0;
}

static int compile_outputs(loom_model *m, int B, bool train, int n, loom_tensor *const *outs, loom_error *err) {
  if (grow(m, B, err) < 0 || loom_heads_grow(m, B, err) < 0) return -1;
  loom_graph_set_training(m->g, train);
  if (loom_graph_compile(m->g, B, n, outs, train) < 0) {
    m->compiled_B = 0;
    return loom_errorf(err, "model does not compile: %s", loom_graph_error(m->g));
  }
  if (m->pos_weight) m->pos_weight->data[0] = m->pos_weight_value;
  return 0;
}

int loom_model_compile(loom_model *m, int B, bool train, loom_error *err) {
  if (m->compiled_B == B && m->compiled_train == train && m->compiled_out == NULL && !m->compiled_custom) return 0;
  int rc = train ? compile_outputs(m, B, true, 1, &m->loss, err)
         : m->user_vec ? compile_outputs(m, B, false, 3, (loom_tensor *[]){m->logits, m->loss, m->user_vec}, err)
                       : compile_outputs(m, B, false, 2, (loom_tensor *[]){m->logits, m->loss}, err);
  if (rc < 0) return -1;
  m->compiled_B = B, m->compiled_train = train, m->compiled_out = NULL, m->compiled_custom = false;
  return 0;
}

int loom_model_compile_outputs(loom_model *m, int B, int n, loom_tensor *const *outs, loom_error *err) {
  if (compile_outputs(m, B, false, n, outs, err) < 0) return -1;
  m->compiled_B = B, m->compiled_train = false, m->compiled_out = NULL, m->compiled_custom = true;
  return 0;
}

int loom_model_compile_output(loom_model *m, int B, loom_tensor *out, loom_error *err) {
  if (m->compiled_B == B && !m->compiled_train && m->compiled_out == out && !m->compiled_custom) return 0;
  if (compile_outputs(m, B, false, 1, &out, err) < 0) return -1;
  m->compiled_B = B, m->compiled_train = false, m->compiled_out = out, m->compiled_custom = false;
  return 0;
}

/* inv (n) = 1 / max(len, 1); mask (n, T) = 0 at valid steps (all of an empty text), -1e30 after — or, with a
 * transformer's weighted pooling (m->text_pool_w, text_pool_w_mode), the pooling weights of each step. */
static void text_aux(const loom_model *m, const int32_t *len, int n, int T, float *inv, float *mask) {
  for (int i = 0; i < n; i++) {
    if (inv) inv[i] = 1.0f / (float)(len[i] > 0 ? len[i] : 1);
    if (!mask) continue;
    float *w = mask + (size_t)i * T;
    const int L = len[i] < T ? len[i] : T;
    switch (m->text_pool_w) {
    case POOL_W_NONE:
      for (int t = 0; t < T; t++) w[t] = t < L || L == 0 ? 0.0f : -1e30f;
      break;
    case POOL_W_MEAN:
      for (int t = 0; t < T; t++) w[t] = t < L ? 1.0f / (float)L : 0.0f;
      break;
    default:
      memset(w, 0, sizeof(float) * (size_t)T);
      if (L > 0) w[m->text_pool_w == POOL_W_LAST ? L - 1 : 0] = 1.0f;
    }
  }
}

static void item_text_aux(loom_model *m, const int32_t *len, int n) {
  text_aux(m, len, n, m->T, m->text_inv_len ? m->inv_len : NULL, m->text_mask ? m->mask : NULL);
}

int loom_model_bind_items(loom_model *m, loom_dataset *ds, const int32_t *items, int B, loom_error *err) {
  assert((m->task == LOOM_TASK_RANKING || m->task == LOOM_TASK_RETRIEVAL) && B == m->compiled_B);
  size_t n = (size_t)B * (size_t)m->G;
  memcpy(m->items, items, sizeof(int32_t) * n);
  if (loom_dataset_item_features(ds, items, (int)n, m->tokens ? m->toks : NULL, m->tokens ? m->lens : NULL,
                                 m->image ? m->images : NULL, err) < 0)
    return -1;
  if (m->tokens) item_text_aux(m, m->lens, (int)n);
  return 0;
}

/* A label the head cannot take: named by the interactions file and line (rows are split ids). */
static int bind_label_error(const loom_model *m, const loom_batch *b, int32_t row, float y, const char *what,
                            loom_error *err) {
  const loom_dataset *ds = b->ds ? b->ds : m->ds; /* the batch's rows, not the model's (inference) dataset's */
  const loom_data_schema *s = ds ? loom_dataset_schema(ds) : NULL;
  if (!s) return loom_errorf(err, "interactions row %d: label %g %s", (int)row, (double)y, what);
  return loom_errorf(err, "%s:%lld: column '%s': label %g %s — fix the row or the task", s->interactions,
                     (long long)loom_dataset_row_line(ds, row), s->label_col, (double)y, what);
}

int loom_model_bind(loom_model *m, const loom_batch *b, loom_error *err) {
  int B = b->B;
  assert(B == m->compiled_B);
  if (m->task == LOOM_TASK_RANKING || m->task == LOOM_TASK_RETRIEVAL) {
    /* row i's items: its positive, then the first G - 1 of its sampled negatives */
    int G = m->G, stride = b->n_neg, n = G - 1;
    assert(n <= stride);
    if (m->user) loom_input_bind(m->user, b->user);
    for (int i = 0; i < B; i++) {
      m->items[i * G] = b->item[i];
      if (n) memcpy(m->items + i * G + 1, b->neg + i * stride, sizeof(int32_t) * (size_t)n);
      if (m->tokens) {
        size_t T = (size_t)m->T;
        memcpy(m->toks + (size_t)i * G * T, b->tokens + (size_t)i * T, sizeof(int32_t) * T);
        if (n) memcpy(m->toks + ((size_t)i * G + 1) * T, b->neg_tokens + (size_t)i * stride * T, sizeof(int32_t) * T * (size_t)n);
        m->lens[i * G] = b->lengths[i];
        if (n) memcpy(m->lens + i * G + 1, b->neg_lengths + i * stride, sizeof(int32_t) * (size_t)n);
      }
      if (m->image) {
        size_t P = (size_t)m->C * (size_t)m->H * (size_t)m->W;
        memcpy(m->images + (size_t)i * G * P, b->image + (size_t)i * P, sizeof(float) * P);
        if (n) memcpy(m->images + ((size_t)i * G + 1) * P, b->neg_image + (size_t)i * stride * P, sizeof(float) * P * (size_t)n);
      }
    }
    if (m->tokens) item_text_aux(m, m->lens, B * G);
    if (m->query) {
      loom_input_bind(m->query, b->query);
      loom_input_bind(m->query_len, b->query_len);
      text_aux(m, b->query_len, B, m->Tq, m->query_inv_len ? m->q_inv_len : NULL, m->query_mask ? m->q_mask : NULL);
    }
    float sum = 0;
    /* rows that count: positives (every row without a label); retrieval also needs a query */
    for (int i = 0; i < B; i++)
      sum += m->weights[1 + i] = (!b->label || b->label[i] > 0.5f) &&
                                         (m->task != LOOM_TASK_RETRIEVAL || b->query_len[i] > 0)
                                     ? 1.0f : 0.0f;
    m->weights[0] = 1.0f / (sum > 0 ? sum : 1.0f);
    return 0;
  }
  if (m->share_T) { /* row i's texts G·i (item text), G·i + 1 (query, shared), then its history items' texts */
    size_t Tm = (size_t)m->share_T, T = (size_t)b->T, Tq = (size_t)b->Tq, G = (size_t)m->text_G;
    bool q = G - (m->hist_text ? (size_t)m->Lh : 0) == 2;
    assert(b->T == m->T && b->Tq == m->Tq && (!m->hist_text || b->Lh == m->Lh));
    if (m->hist_text) { /* one look-up for the batch's B·Lh history slots (padding: index 0, an empty text) */
      /* from the batch's own dataset (its items table: a catalogue's items at inference); the look-up locks
       * it, hence not const */
      if (loom_dataset_item_features((loom_dataset *)b->ds, b->hist, B * m->Lh, m->h_toks, m->h_lens, NULL, err) < 0)
        return -1;
      loom_history_valid(b->hist_len, B, m->Lh, m->h_valid);
    }
    for (int i = 0; i < B; i++) {
      int32_t *t = m->toks + (size_t)i * G * Tm, *len = m->lens + (size_t)i * G;
      memcpy(t, b->tokens + (size_t)i * T, sizeof(int32_t) * T);
      memset(t + T, 0, sizeof(int32_t) * (Tm - T));
      len[0] = b->lengths[i];
      if (q) {
        memcpy(t + Tm, b->query + (size_t)i * Tq, sizeof(int32_t) * Tq);
        memset(t + Tm + Tq, 0, sizeof(int32_t) * (Tm - Tq));
        len[1] = b->query_len[i];
      }
      for (int l = 0; m->hist_text && l < m->Lh; l++) {
        size_t k = (size_t)i * m->Lh + l, at = G - m->Lh + l;
        memcpy(t + at * Tm, m->h_toks + k * T, sizeof(int32_t) * T);
        memset(t + at * Tm + T, 0, sizeof(int32_t) * (Tm - T));
        len[at] = m->h_lens[k];
      }
    }
    text_aux(m, m->lens, (int)G * B, m->share_T, m->text_inv_len ? m->inv_len : NULL, m->text_mask ? m->mask : NULL);
  } else if (m->tokens) {
    assert(b->T == m->T);
    loom_input_bind(m->tokens, b->tokens);
    loom_input_bind(m->lengths, b->lengths);
    text_aux(m, b->lengths, B, m->T, m->text_inv_len ? m->inv_len : NULL, m->text_mask ? m->mask : NULL);
  }
  if (m->query) {
    assert(b->Tq == m->Tq);
    loom_input_bind(m->query, b->query);
    loom_input_bind(m->query_len, b->query_len);
    text_aux(m, b->query_len, B, m->Tq, m->query_inv_len ? m->q_inv_len : NULL, m->query_mask ? m->q_mask : NULL);
  }
  if (m->image) loom_input_bind(m->image, b->image);
  if (m->numeric) loom_input_bind(m->numeric, b->numeric);
  if (m->item_vecs) loom_input_bind(m->item_vecs, b->item_vec);
  if (m->user_vecs) loom_input_bind(m->user_vecs, b->user_vec);
  if (m->user) loom_input_bind(m->user, b->user);
  if (m->item) loom_input_bind(m->item, b->item);
  if (m->hist) {
    assert(b->Lh == m->Lh);
    loom_input_bind(m->hist, b->hist);
  }
  if (m->hist_aux) loom_history_aux(b->hist_len, B, m->Lh, m->hist_mode, m->h_aux);
  if (m->category)
    for (int i = 0; i < B; i++)
      for (int j = 0; j < m->n_cat; j++) m->cat_ids[i * m->n_cat + j] = m->cat_offset[j] + b->category[i * m->n_cat + j];
  if (m->n_heads && loom_heads_bind(m, b, err) < 0) return -1;
  if (m->label_f) {
    for (int i = 0; i < B; i++)
      if (!(b->label[i] == 0.0f || b->label[i] == 1.0f))
        return bind_label_error(m, b, b->row[i], b->label[i], "is not 0 or 1 (task.kind = binary)", err);
    loom_input_bind(m->label_f, b->label);
  }
  if (m->label_i) {
    for (int i = 0; i < B; i++) {
      float y = b->label[i];
      if (!(y >= 0 && y < (float)m->n_classes) || y != floorf(y))
      {
        char what[96];
        snprintf(what, sizeof what, "is not a class in 0..%d (task.kind = multiclass)", m->n_classes - 1);
        return bind_label_error(m, b, b->row[i], y, what, err);
      }
      m->labels[i] = (int32_t)y;
    }
  }
  return 0;
}

/* Item slots [n, slots) become empty items; then the text's derived inputs for every slot. */
static void finish_item_slots(loom_model *m, size_t n, size_t slots) {
  size_t T = (size_t)m->T, P = (size_t)m->C * (size_t)m->H * (size_t)m->W;
  for (size_t i = n; i < slots; i++) {
    m->items[i] = 0;
    if (m->tokens) memset(m->toks + i * T, 0, sizeof(int32_t) * T), m->lens[i] = 0;
    if (m->image) memset(m->images + i * P, 0, sizeof(float) * P);
  }
  if (m->tokens) item_text_aux(m, m->lens, (int)slots);
}

int loom_model_bind_catalog(loom_model *m, loom_dataset *ds, const int64_t *rows, int n, int B, loom_error *err) {
  assert((m->task == LOOM_TASK_RANKING || m->task == LOOM_TASK_RETRIEVAL) && B == m->compiled_B);
  size_t slots = (size_t)B * (size_t)m->G;
  assert((size_t)n <= slots);
  if (loom_dataset_catalog_features(ds, rows, n, m->items, m->tokens ? m->toks : NULL, m->tokens ? m->lens : NULL,
                                    m->image ? m->images : NULL, err) < 0)
    return -1;
  finish_item_slots(m, (size_t)n, slots);
  return 0;
}

void loom_model_bind_item_arrays(loom_model *m, const int32_t *items, const int32_t *tokens, const int32_t *lengths,
                                 const float *images, int n, int B) {
  assert((m->task == LOOM_TASK_RANKING || m->task == LOOM_TASK_RETRIEVAL) && B == m->compiled_B);
  size_t slots = (size_t)B * (size_t)m->G, T = (size_t)m->T, P = (size_t)m->C * (size_t)m->H * (size_t)m->W;
  assert((size_t)n <= slots);
  memcpy(m->items, items, sizeof(int32_t) * (size_t)n);
  if (m->tokens && tokens) memcpy(m->toks, tokens, sizeof(int32_t) * (size_t)n * T), memcpy(m->lens, lengths, sizeof(int32_t) * (size_t)n);
  else if (m->tokens) memset(m->toks, 0, sizeof(int32_t) * (size_t)n * T), memset(m->lens, 0, sizeof(int32_t) * (size_t)n);
  if (m->image && images) memcpy(m->images, images, sizeof(float) * (size_t)n * P);
  else if (m->image) memset(m->images, 0, sizeof(float) * (size_t)n * P);
  finish_item_slots(m, (size_t)n, slots);
}

/* rows [lo, hi) of a (rows, D) table: row lo ← mean of rows lo+1 .. hi-1 (summed in double, in order) */
static void fill_row_mean(loom_tensor *t, int lo, int hi) {
  int D = t->shape[1];
  if (hi - lo < 2) return;
  for (int d = 0; d < D; d++) {
    double s = 0;
    for (int r = lo + 1; r < hi; r++) s += t->data[(size_t)r * D + d];
    t->data[(size_t)lo * D + d] = (float)(s / (hi - lo - 1));
  }
}

void loom_model_fill_unknown(loom_model *m) {
  const char *ids[] = {"interaction.user_embedding.weight", "interaction.item_embedding.weight"};
  if (m->ids_frozen) return; /* interaction.freeze: the tables stay exactly as loaded */
  for (int i = 0; i < 2; i++) {
    loom_tensor *t = loom_graph_find(m->g, ids[i]);
    if (t) fill_row_mean(t, 0, t->shape[0]);
  }
  loom_tensor *c = m->category ? loom_graph_find(m->g, "interaction.category_embedding.weight") : NULL;
  for (int j = 0; c && j < m->n_cat; j++) /* column j's ids: cat_offset[j] (unknown) .. the next column's offset */
    fill_row_mean(c, m->cat_offset[j], j + 1 < m->n_cat ? m->cat_offset[j + 1] : c->shape[0]);
}

void loom_model_print(const loom_model *m, FILE *f) {
  fprintf(f, "model: task %s, towers", loom_task_name(m->task));
  for (int i = 0; i < m->n_towers; i++) fprintf(f, "%s %s", i ? "," : "", m->towers[i]);
  if (m->n_towers == 0) fprintf(f, " none");
  if (m->task == LOOM_TASK_RANKING || m->task == LOOM_TASK_RETRIEVAL) fprintf(f, "; %d items scored per row\n", m->G);
  else if (m->n_heads) {
    fprintf(f, "; heads:");
    for (int i = 0; i < m->n_heads; i++)
      fprintf(f, " %s (%s, weight %g)", m->heads[i].name, m->heads[i].binary ? "binary" : "regression", (double)m->heads[i].weight);
    fprintf(f, "\n");
  } else fprintf(f, "; head: %d %s\n", m->n_classes, m->n_classes == 1 ? "logit" : "classes");
  loom_graph_print(m->g, f);
}

int loom_model_print_summary(const loom_config *c, const loom_data_schema *schema, FILE *f, loom_error *err) {
  if (loom_model_check_config(c, err) < 0) return -1;
  loom_data_schema sc = *schema; /* with the multitask heads' label columns */
  if (loom_train_label_cols(c, &sc, err) < 0) return -1;
  loom_dataset *ds = loom_dataset_open(&sc, NULL, err);
  if (!ds) return -1;
  loom_model *m = loom_model_check_memory(c, ds, schema->batch_size, err) < 0 ? NULL : loom_model_build(c, ds, err);
  int rc = m ? loom_model_compile(m, schema->batch_size, true, err) : -1;
  if (rc == 0) loom_model_print(m, f);
  loom_model_free(m);
  loom_dataset_free(ds);
  return rc;
}
