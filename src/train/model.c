/* model.c — the run config's key table and the config → graph builder: text tower (embedding, (Bi)LSTM,
 * pooling, dense), image tower (conv blocks, dense), interaction tower (numeric dense, ID embeddings),
 * fusion, head and loss. The training loop, metrics and checkpoints live in trainer.c; batches come
 * from src/data as plain arrays that loom_model_bind points the graph's inputs at. */
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "loom/alloc.h"
#include "loom/conv.h"
#include "loom/dense.h"
#include "loom/embedding.h"
#include "loom/init.h"
#include "loom/loss.h"
#include "loom/lstm.h"
#include "loom/model.h"
#include "loom/norm.h"

#define ACTS "relu|tanh|sigmoid|gelu|none"

const loom_cfg_key loom_train_keys[] = {
    /* [text] */
    {"text", "enabled", LOOM_CFG_BOOL, "true", NULL, 0, 0, "text tower over the item text (needs [data] text_cols)"},
    {"text", "embedding_dim", LOOM_CFG_INT, "32", NULL, 1, 4096, "word embedding size"},
    {"text", "hidden", LOOM_CFG_INT, "32", NULL, 1, 4096, "LSTM hidden size (per direction)"},
    {"text", "layers", LOOM_CFG_INT, "1", NULL, 1, 8, "stacked LSTM layers"},
    {"text", "bidirectional", LOOM_CFG_BOOL, "false", NULL, 0, 0, "a second LSTM over each text reversed"},
    {"text", "pooling", LOOM_CFG_CHOICE, "last", "last|mean|max", 0, 0, "LSTM states -> one vector"},
    {"text", "dense", LOOM_CFG_INT_LIST, "", NULL, 1, 65536, "units of the dense layers after pooling"},
    {"text", "activation", LOOM_CFG_CHOICE, "relu", ACTS, 0, 0, "activation of the dense layers"},
    {"text", "dropout", LOOM_CFG_FLOAT, "0", NULL, 0, 0.95, "dropout after pooling and each dense layer"},
    /* [image] */
    {"image", "enabled", LOOM_CFG_BOOL, "true", NULL, 0, 0, "image tower (needs [data] image_col)"},
    {"image", "filters", LOOM_CFG_INT_LIST, "16,32", NULL, 1, 4096, "filters of each conv block"},
    {"image", "kernel", LOOM_CFG_INT_LIST, "3", NULL, 1, 31, "kernel size per block (one value: all blocks)"},
    {"image", "stride", LOOM_CFG_INT_LIST, "1", NULL, 1, 8, "stride per block (one value: all blocks)"},
    {"image", "padding", LOOM_CFG_CHOICE, "same", "same|valid", 0, 0, "conv padding (Keras' names)"},
    {"image", "pool", LOOM_CFG_INT_LIST, "2", NULL, 0, 8, "pool size after each block, 0 = none (one value: all)"},
    {"image", "pool_type", LOOM_CFG_CHOICE, "max", "max|avg", 0, 0, "pooling after each block"},
    {"image", "batchnorm", LOOM_CFG_BOOL, "false", NULL, 0, 0, "BatchNorm2d between conv and activation"},
    {"image", "activation", LOOM_CFG_CHOICE, "relu", ACTS, 0, 0, "activation of conv and dense layers"},
    {"image", "dense", LOOM_CFG_INT_LIST, "64", NULL, 1, 65536, "units of the dense layers after flattening"},
    {"image", "dropout", LOOM_CFG_FLOAT, "0", NULL, 0, 0.95, "dropout after each dense layer"},
    /* [interaction] */
    {"interaction", "enabled", LOOM_CFG_BOOL, "true", NULL, 0, 0, "numeric features and ID embeddings"},
    {"interaction", "dense", LOOM_CFG_INT_LIST, "16", NULL, 1, 65536, "dense layers over the numeric features"},
    {"interaction", "activation", LOOM_CFG_CHOICE, "relu", ACTS, 0, 0, "activation of the dense layers"},
    {"interaction", "user_dim", LOOM_CFG_INT, "16", NULL, 0, 4096, "user ID embedding size (0 = none)"},
    {"interaction", "item_dim", LOOM_CFG_INT, "16", NULL, 0, 4096, "item ID embedding size (0 = none)"},
    {"interaction", "category_dim", LOOM_CFG_INT, "8", NULL, 0, 4096, "embedding size of each category column (0 = none)"},
    /* [fusion] */
    {"fusion", "mode", LOOM_CFG_CHOICE, "concat", "concat|sum|mean|weighted|product|gated", 0, 0,
     "how tower outputs combine (all but concat project each tower to fusion.dim first)"},
    {"fusion", "dim", LOOM_CFG_INT, "64", NULL, 1, 65536, "projection size for sum|mean|weighted|product|gated"},
    {"fusion", "dense", LOOM_CFG_INT_LIST, "64", NULL, 1, 65536, "dense layers after fusion"},
    {"fusion", "activation", LOOM_CFG_CHOICE, "relu", ACTS, 0, 0, "activation of the dense layers"},
    {"fusion", "dropout", LOOM_CFG_FLOAT, "0", NULL, 0, 0.95, "dropout after each dense layer"},
    /* [task] */
    {"task", "kind", LOOM_CFG_CHOICE, "binary", "binary|multiclass|ranking|retrieval", 0, 0, "what the head predicts"},
    {"task", "classes", LOOM_CFG_INT, "0", NULL, 0, 100000, "multiclass: K (0 = from label_type=class)"},
    {"task", "pos_weight", LOOM_CFG_FLOAT, "1", NULL, 1e-6, 1e6, "binary: weight of positives in BCE"},
    {"task", "label_smoothing", LOOM_CFG_FLOAT, "0", NULL, 0, 1, "multiclass: label smoothing of the CE"},
    {"task", "threshold", LOOM_CFG_FLOAT, "0.5", NULL, 0, 1, "binary: probability above which a sample is positive"},
    {"task", "monitor", LOOM_CFG_CHOICE, "auto", "auto|loss|auc|logloss|accuracy|f1|macro_f1", 0, 0,
     "validation metric for the best checkpoint and early stopping (auto: auc / macro_f1)"},
    /* [train] */
    {"train", "out", LOOM_CFG_STRING, "runs/run", NULL, 0, 0, "run directory (created; must not hold a run unless --resume)"},
    {"train", "epochs", LOOM_CFG_INT, "5", NULL, 1, 1000000, "passes over the training split"},
    {"train", "max_steps", LOOM_CFG_INT, "0", NULL, 0, 1e12, "stop after this many updates (0 = epochs decide); the LR schedule still spans train.epochs"},
    {"train", "optimizer", LOOM_CFG_CHOICE, "adam", "adam|adamw|sgd", 0, 0, "update rule (PyTorch's)"},
    {"train", "lr", LOOM_CFG_FLOAT, "0.001", NULL, 1e-12, 10, "base learning rate"},
    {"train", "weight_decay", LOOM_CFG_FLOAT, "0", NULL, 0, 10, "L2 (adam, sgd) or decoupled (adamw) decay"},
    {"train", "momentum", LOOM_CFG_FLOAT, "0", NULL, 0, 1, "sgd momentum"},
    {"train", "schedule", LOOM_CFG_CHOICE, "constant", "constant|step|cosine", 0, 0, "learning-rate schedule"},
    {"train", "warmup_steps", LOOM_CFG_INT, "0", NULL, 0, 1e12, "linear warm-up updates"},
    {"train", "step_size", LOOM_CFG_INT, "1000", NULL, 1, 1e12, "step schedule: updates between decays"},
    {"train", "gamma", LOOM_CFG_FLOAT, "0.1", NULL, 0, 1, "step schedule: decay factor"},
    {"train", "min_lr", LOOM_CFG_FLOAT, "0", NULL, 0, 10, "cosine schedule: final learning rate"},
    {"train", "clip_norm", LOOM_CFG_FLOAT, "0", NULL, 0, 1e9, "clip the global gradient norm to this (0 = off)"},
    {"train", "seed", LOOM_CFG_INT, "42", NULL, 0, 9.2e18, "seed of initialisation and dropout"},
    {"train", "init", LOOM_CFG_CHOICE, "keras", "keras|torch", 0, 0, "whose default initialisers the layers copy"},
    {"train", "eval_every", LOOM_CFG_INT, "0", NULL, 0, 1e12, "validate every N updates (0 = once per epoch)"},
    {"train", "log_every", LOOM_CFG_INT, "20", NULL, 1, 1e12, "plain progress line every N updates (not a terminal)"},
    {"train", "patience", LOOM_CFG_INT, "0", NULL, 0, 1000000, "stop after N validations without improvement (0 = off)"},
    {"train", "prefetch", LOOM_CFG_BOOL, "true", NULL, 0, 0, "prepare the next batch on a background thread"},
};
const int loom_train_n_keys = (int)(sizeof loom_train_keys / sizeof loom_train_keys[0]);

const char *loom_task_name(loom_task_kind k) {
  static const char *names[] = {"binary", "multiclass", "ranking", "retrieval"};
  return names[k];
}

static loom_activation parse_act(const char *s) {
  if (!strcmp(s, "relu")) return LOOM_ACT_RELU;
  if (!strcmp(s, "tanh")) return LOOM_ACT_TANH;
  if (!strcmp(s, "sigmoid")) return LOOM_ACT_SIGMOID;
  if (!strcmp(s, "gelu")) return LOOM_ACT_GELU;
  return LOOM_ACT_NONE;
}

typedef struct {
  loom_graph *g;
  loom_rng *rng;
  loom_init_style style;
} builder;

/* x (B, *dim) through dense layers prefix.dense0.. with activation and dropout; *dim becomes the last width. */
static loom_tensor *dense_stack(builder *b, const char *prefix, loom_tensor *x, int *dim, const long *units, int n,
                                loom_activation act, float dropout) {
  for (int i = 0; i < n; i++) {
    char name[LOOM_NAME_MAX];
    snprintf(name, sizeof name, "%s.dense%d", prefix, i);
    loom_dense_opts o = {.in_features = *dim, .units = (int)units[i], .activation = act, .init = b->style};
    x = loom_dense(b->g, name, x, &o, b->rng);
    *dim = (int)units[i];
    if (dropout > 0) x = loom_dropout(b->g, x, dropout);
  }
  return x;
}

#define LIST_MAX 32

/* ---- towers: each returns (B, *dim) ---- */

static loom_tensor *text_tower(builder *b, loom_model *m, const loom_config *c, int vocab, int *dim) {
  loom_graph *g = b->g;
  int E = (int)loom_config_int(c, "text", "embedding_dim"), H = (int)loom_config_int(c, "text", "hidden");
  bool bi = loom_config_bool(c, "text", "bidirectional");
  const char *pool = loom_config_str(c, "text", "pooling");
  float p = (float)loom_config_float(c, "text", "dropout");
  m->tokens = loom_input(g, "tokens", LOOM_I32, 2, (int[]){LOOM_BATCH, m->T});
  m->lengths = loom_input(g, "lengths", LOOM_I32, 1, (int[]){LOOM_BATCH});
  loom_embedding_opts eo = {.vocab = vocab, .dim = E, .padding_idx = 0, .init = b->style};
  loom_tensor *x = loom_embedding(g, "text.embedding", m->tokens, &eo, b->rng); // (B, T, E)
  bool seq = strcmp(pool, "last") != 0;
  loom_lstm_opts lo = {.input_size = E,
                       .hidden = H,
                       .layers = (int)loom_config_int(c, "text", "layers"),
                       .bidirectional = bi,
                       .return_sequences = seq,
                       .dropout = p,
                       .init = b->style};
  loom_tensor *h = loom_lstm(g, "text.lstm", x, m->lengths, &lo, b->rng); // (B, D·H) or (B, T, D·H)
  int D = (bi ? 2 : 1) * H;
  if (!strcmp(pool, "mean")) {
    /* padded steps are zero in the LSTM's output, so the mean over valid steps is sum / length */
    m->text_inv_len = loom_input(g, "text_inv_len", LOOM_F32, 2, (int[]){LOOM_BATCH, 1});
    h = loom_mul(g, loom_sum(g, h, 1, false), m->text_inv_len);
  } else if (!strcmp(pool, "max")) {
    /* max over valid steps: padding pushed to -1e30, then a (T x 1) max-pool over (B, 1, T, D) */
    m->text_mask = loom_input(g, "text_mask", LOOM_F32, 3, (int[]){LOOM_BATCH, m->T, 1});
    h = loom_add(g, h, m->text_mask);
    h = loom_reshape(g, h, 4, (int[]){-1, 1, m->T, D});
    h = loom_maxpool2d(g, h, m->T, 1, 1, 1, (loom_padding){LOOM_PAD_VALID, 0, 0});
    h = loom_reshape(g, h, 2, (int[]){-1, D});
  }
  if (p > 0) h = loom_dropout(g, h, p);
  *dim = D;
  long units[LIST_MAX];
  int n = loom_config_ints(c, "text", "dense", units, LIST_MAX);
  return dense_stack(b, "text", h, dim, units, n, parse_act(loom_config_str(c, "text", "activation")), p);
}

static int list_at(const long *v, int n, int i) { return (int)(n == 1 ? v[0] : v[i]); }

static loom_tensor *image_tower(builder *b, loom_model *m, const loom_config *c, int *dim, loom_error *err) {
  loom_graph *g = b->g;
  long filters[LIST_MAX], kernel[LIST_MAX], stride[LIST_MAX], pool[LIST_MAX], units[LIST_MAX];
  int nf = loom_config_ints(c, "image", "filters", filters, LIST_MAX);
  int nk = loom_config_ints(c, "image", "kernel", kernel, LIST_MAX);
  int ns = loom_config_ints(c, "image", "stride", stride, LIST_MAX);
  int np = loom_config_ints(c, "image", "pool", pool, LIST_MAX);
  int nd = loom_config_ints(c, "image", "dense", units, LIST_MAX);
  if ((nk != 1 && nk != nf) || (ns != 1 && ns != nf) || (np != 1 && np != nf)) {
    loom_errorf(err, "[image] kernel, stride and pool need one value or one per conv block (%d filters)", nf);
    return NULL;
  }
  bool same = !strcmp(loom_config_str(c, "image", "padding"), "same");
  bool bn = loom_config_bool(c, "image", "batchnorm");
  bool avg = !strcmp(loom_config_str(c, "image", "pool_type"), "avg");
  const char *act = loom_config_str(c, "image", "activation");
  loom_activation a = parse_act(act);
  m->image = loom_input(g, "image", LOOM_F32, 4, (int[]){LOOM_BATCH, m->C, m->H, m->W});
  loom_tensor *x = m->image;
  int C = m->C, H = m->H, W = m->W;
  for (int i = 0; i < nf; i++) {
    int k = list_at(kernel, nk, i), s = list_at(stride, ns, i), pl = list_at(pool, np, i);
    char name[LOOM_NAME_MAX];
    snprintf(name, sizeof name, "image.conv%d", i);
    loom_conv2d_opts o = loom_conv2d_defaults(C, (int)filters[i], k);
    o.stride_h = o.stride_w = s;
    o.padding.mode = same ? LOOM_PAD_SAME : LOOM_PAD_VALID;
    o.activation = bn || a == LOOM_ACT_NONE ? NULL : act;
    if (b->style == LOOM_INIT_STYLE_TORCH) o.init = LOOM_INIT_TORCH_DEFAULT;
    x = loom_conv2d_layer(g, name, x, &o, b->rng); // (B, F, H', W')
    C = (int)filters[i];
    H = same ? (H + s - 1) / s : (H - k) / s + 1;
    W = same ? (W + s - 1) / s : (W - k) / s + 1;
    if (H < 1 || W < 1) {
      loom_errorf(err, "[image] conv block %d: a %dx%d image shrinks to nothing — use padding=same, smaller "
                       "kernels or fewer blocks", i, m->H, m->W);
      return NULL;
    }
    if (bn) {
      snprintf(name, sizeof name, "image.bn%d", i);
      loom_batchnorm_opts bo = loom_batchnorm_defaults(C);
      x = loom_batchnorm2d_layer(g, name, x, &bo);
      x = loom_activate(g, x, a);
    }
    if (pl > 1) {
      if (H < pl || W < pl) {
        loom_errorf(err, "[image] block %d: pool %d does not fit a %dx%d feature map — lower image.pool", i, pl, H, W);
        return NULL;
      }
      snprintf(name, sizeof name, "image.pool%d", i);
      loom_pool2d_opts po = {.kernel_h = pl, .kernel_w = pl};
      x = avg ? loom_avgpool2d_layer(g, name, x, &po) : loom_maxpool2d_layer(g, name, x, &po);
      H /= pl, W /= pl;
    }
  }
  x = loom_flatten(g, x);
  *dim = C * H * W;
  return dense_stack(b, "image", x, dim, units, nd, a, (float)loom_config_float(c, "image", "dropout"));
}

static loom_tensor *interaction_tower(builder *b, loom_model *m, const loom_config *c, const loom_prep *prep, int *dim) {
  loom_graph *g = b->g;
  loom_tensor *parts[3 + 1];
  int np = 0, total = 0;
  if (m->F > 0) {
    m->numeric = loom_input(g, "numeric", LOOM_F32, 2, (int[]){LOOM_BATCH, m->F});
    long units[LIST_MAX];
    int n = loom_config_ints(c, "interaction", "dense", units, LIST_MAX), d = m->F;
    parts[np++] = dense_stack(b, "interaction", m->numeric, &d, units, n,
                              parse_act(loom_config_str(c, "interaction", "activation")), 0);
    total += d;
  }
  int ud = (int)loom_config_int(c, "interaction", "user_dim"), id = (int)loom_config_int(c, "interaction", "item_dim");
  int cd = (int)loom_config_int(c, "interaction", "category_dim");
  if (ud > 0 && prep->users) {
    m->user = loom_input(g, "user", LOOM_I32, 1, (int[]){LOOM_BATCH});
    loom_embedding_opts eo = {.vocab = loom_idmap_size(prep->users), .dim = ud, .padding_idx = -1, .init = b->style};
    parts[np++] = loom_embedding(g, "interaction.user_embedding", m->user, &eo, b->rng);
    total += ud;
  }
  if (id > 0 && prep->items) {
    m->item = loom_input(g, "item", LOOM_I32, 1, (int[]){LOOM_BATCH});
    loom_embedding_opts eo = {.vocab = loom_idmap_size(prep->items), .dim = id, .padding_idx = -1, .init = b->style};
    parts[np++] = loom_embedding(g, "interaction.item_embedding", m->item, &eo, b->rng);
    total += id;
  }
  if (cd > 0 && m->n_cat > 0) {
    /* one table for every category column; column j's ids start at cat_offset[j] */
    int rows = 0;
    for (int j = 0; j < m->n_cat; j++) m->cat_offset[j] = rows, rows += loom_idmap_size(prep->category[j]);
    m->category = loom_input(g, "category", LOOM_I32, 2, (int[]){LOOM_BATCH, m->n_cat});
    loom_embedding_opts eo = {.vocab = rows, .dim = cd, .padding_idx = -1, .init = b->style};
    loom_tensor *e = loom_embedding(g, "interaction.category_embedding", m->category, &eo, b->rng);
    parts[np++] = loom_reshape(g, e, 2, (int[]){-1, m->n_cat * cd});
    total += m->n_cat * cd;
  }
  *dim = total;
  if (np == 0) return NULL;
  return np == 1 ? parts[0] : loom_concat(g, np, parts);
}

/* ---- fusion ---- */

static loom_tensor *fuse(builder *b, const loom_config *c, loom_model *m, loom_tensor **xs, int *dims, int n,
                         int *dim) {
  loom_graph *g = b->g;
  const char *mode = loom_config_str(c, "fusion", "mode");
  if (n == 1) {
    *dim = dims[0];
    return xs[0];
  }
  if (!strcmp(mode, "concat")) {
    *dim = 0;
    for (int i = 0; i < n; i++) *dim += dims[i];
    return loom_concat(g, n, xs);
  }
  int D = (int)loom_config_int(c, "fusion", "dim");
  loom_tensor *p[LOOM_MODEL_MAX_TOWERS];
  for (int i = 0; i < n; i++) {
    char name[LOOM_NAME_MAX];
    snprintf(name, sizeof name, "fusion.proj_%s", m->towers[i]);
    loom_dense_opts o = {.in_features = dims[i], .units = D, .init = b->style};
    p[i] = loom_dense(g, name, xs[i], &o, b->rng); // (B, D)
  }
  *dim = D;
  loom_tensor *y = NULL;
  if (!strcmp(mode, "sum") || !strcmp(mode, "mean")) {
    y = p[0];
    for (int i = 1; i < n; i++) y = loom_add(g, y, p[i]);
    if (!strcmp(mode, "mean")) y = loom_scale(g, y, 1.0f / (float)n, 0);
  } else if (!strcmp(mode, "product")) {
    y = p[0];
    for (int i = 1; i < n; i++) y = loom_mul(g, y, p[i]);
  } else if (!strcmp(mode, "weighted")) {
    /* y = sum_i w_i p_i with learned scalars w (n), initialised to 1/n */
    loom_tensor *w = loom_param(g, "fusion.weight", 1, (int[]){n});
    for (int i = 0; i < n; i++) w->data[i] = 1.0f / (float)n;
    for (int i = 0; i < n; i++) {
      loom_tensor *t = loom_mul(g, p[i], loom_slice(g, w, i, 1));
      y = y ? loom_add(g, y, t) : t;
    }
  } else { /* gated: g = σ(W [p_0 .. p_n-1] + b) (B, n·D); y = sum_i g_i ⊙ p_i */
    loom_dense_opts o = {.in_features = n * D, .units = n * D, .activation = LOOM_ACT_SIGMOID, .init = b->style};
    loom_tensor *gate = loom_dense(g, "fusion.gate", loom_concat(g, n, p), &o, b->rng);
    for (int i = 0; i < n; i++) {
      loom_tensor *t = loom_mul(g, p[i], loom_slice(g, gate, i * D, D));
      y = y ? loom_add(g, y, t) : t;
    }
  }
  return y;
}

loom_model *loom_model_build(const loom_config *c, const loom_dataset *ds, loom_error *err) {
  const char *kind = loom_config_str(c, "task", "kind");
  if (!strcmp(kind, "ranking") || !strcmp(kind, "retrieval")) {
    loom_errorf(err, "[task] kind = %s: not available in this build of loom-train yet — use binary or multiclass",
                kind);
    return NULL;
  }
  const loom_prep *prep = loom_dataset_prep(ds);
  loom_batch probe;
  if (loom_batch_init(&probe, ds, 1, err) < 0) return NULL;
  loom_model *m = loom_calloc(1, sizeof *m);
  if (!m) {
    loom_batch_free(&probe);
    loom_errorf(err, "out of memory building the model");
    return NULL;
  }
  m->T = probe.T, m->Tq = probe.Tq, m->F = probe.F, m->n_cat = probe.n_cat, m->n_neg = probe.n_neg;
  m->C = probe.C, m->H = probe.H, m->W = probe.W;
  loom_batch_free(&probe);
  m->task = !strcmp(kind, "multiclass") ? LOOM_TASK_MULTICLASS : LOOM_TASK_BINARY;
  m->g = loom_graph_new();
  loom_rng rng;
  loom_rng_seed(&rng, (uint64_t)loom_config_int(c, "train", "seed"));
  loom_rng_seed(loom_graph_rng(m->g), (uint64_t)loom_config_int(c, "train", "seed") ^ 0x5eed5eed5eedull);
  builder b = {m->g, &rng,
               !strcmp(loom_config_str(c, "train", "init"), "torch") ? LOOM_INIT_STYLE_TORCH : LOOM_INIT_STYLE_KERAS};
  loom_tensor *xs[LOOM_MODEL_MAX_TOWERS];
  int dims[LOOM_MODEL_MAX_TOWERS];
  int n = 0;
  if (loom_config_bool(c, "text", "enabled")) {
    if (m->T <= 0 || !prep->vocab) {
      loom_errorf(err, "[text] enabled = true but the data has no text — set [data] text_cols, or text.enabled=false");
      goto fail;
    }
    snprintf(m->towers[n], sizeof m->towers[n], "text");
    xs[n] = text_tower(&b, m, c, loom_vocab_size(prep->vocab), &dims[n]);
    n++;
  }
  if (loom_config_bool(c, "image", "enabled")) {
    if (m->C <= 0) {
      loom_errorf(err, "[image] enabled = true but the data has no images — set [data] image_col, or image.enabled=false");
      goto fail;
    }
    snprintf(m->towers[n], sizeof m->towers[n], "image");
    if (!(xs[n] = image_tower(&b, m, c, &dims[n], err))) goto fail;
    n++;
  }
  if (loom_config_bool(c, "interaction", "enabled")) {
    snprintf(m->towers[n], sizeof m->towers[n], "interaction");
    xs[n] = interaction_tower(&b, m, c, prep, &dims[n]);
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
  m->n_towers = n;
  int dim;
  loom_tensor *x = fuse(&b, c, m, xs, dims, n, &dim);
  long units[LIST_MAX];
  int nd = loom_config_ints(c, "fusion", "dense", units, LIST_MAX);
  x = dense_stack(&b, "fusion", x, &dim, units, nd, parse_act(loom_config_str(c, "fusion", "activation")),
                  (float)loom_config_float(c, "fusion", "dropout"));
  if (m->task == LOOM_TASK_BINARY) {
    m->n_classes = 1;
    loom_dense_opts o = {.in_features = dim, .units = 1, .init = b.style};
    m->logits = loom_reshape(m->g, loom_dense(m->g, "head", x, &o, &rng), 1, (int[]){-1}); // (B)
    m->label_f = loom_input(m->g, "label", LOOM_F32, 1, (int[]){LOOM_BATCH});
    m->pos_weight_value = (float)loom_config_float(c, "task", "pos_weight");
    if (m->pos_weight_value != 1.0f) m->pos_weight = loom_input(m->g, "pos_weight", LOOM_F32, 1, (int[]){1});
    m->loss = loom_bce_logits(m->g, m->logits, m->label_f, m->pos_weight, LOOM_REDUCE_MEAN);
  } else {
    int K = (int)loom_config_int(c, "task", "classes");
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
    m->logits = loom_dense(m->g, "head", x, &o, &rng); // (B, K)
    m->label_i = loom_input(m->g, "label", LOOM_I32, 1, (int[]){LOOM_BATCH});
    m->loss = loom_softmax_ce(m->g, m->logits, m->label_i, (float)loom_config_float(c, "task", "label_smoothing"),
                              LOOM_CE_IGNORE_DEFAULT, LOOM_REDUCE_MEAN);
  }
  return m;
fail:
  loom_model_free(m);
  return NULL;
}

void loom_model_free(loom_model *m) {
  if (!m) return;
  loom_graph_free(m->g);
  loom_free(m->inv_len);
  loom_free(m->mask);
  loom_free(m->labels);
  loom_free(m->cat_ids);
  loom_free(m);
}

static int grow(loom_model *m, int B, loom_error *err) {
  if (B <= m->cap) return 0;
  loom_free(m->inv_len), loom_free(m->mask), loom_free(m->labels), loom_free(m->cat_ids);
  m->inv_len = loom_malloc(sizeof(float) * (size_t)B);
  m->mask = loom_malloc(sizeof(float) * (size_t)B * (size_t)(m->T > 0 ? m->T : 1));
  m->labels = loom_malloc(sizeof(int32_t) * (size_t)B);
  m->cat_ids = loom_malloc(sizeof(int32_t) * (size_t)B * (size_t)(m->n_cat > 0 ? m->n_cat : 1));
  m->cap = B;
  if (!m->inv_len || !m->mask || !m->labels || !m->cat_ids) {
    m->cap = 0;
    return loom_errorf(err, "out of memory for a batch of %d rows", B);
  }
  return 0;
}

int loom_model_compile(loom_model *m, int B, bool train, loom_error *err) {
  if (m->compiled_B == B && m->compiled_train == train) return 0;
  if (grow(m, B, err) < 0) return -1;
  loom_graph_set_training(m->g, train);
  int rc = train ? loom_graph_compile(m->g, B, 1, &m->loss, true)
                 : loom_graph_compile(m->g, B, 2, (loom_tensor *[]){m->logits, m->loss}, false);
  if (rc < 0) {
    m->compiled_B = 0;
    return loom_errorf(err, "model does not compile: %s", loom_graph_error(m->g));
  }
  m->compiled_B = B, m->compiled_train = train;
  if (m->pos_weight) m->pos_weight->data[0] = m->pos_weight_value;
  return 0;
}

int loom_model_bind(loom_model *m, const loom_batch *b, loom_error *err) {
  int B = b->B;
  assert(B == m->compiled_B);
  if (m->tokens) {
    assert(b->T == m->T);
    loom_input_bind(m->tokens, b->tokens);
    loom_input_bind(m->lengths, b->lengths);
    if (m->text_inv_len) {
      for (int i = 0; i < B; i++) m->inv_len[i] = 1.0f / (float)(b->lengths[i] > 0 ? b->lengths[i] : 1);
      loom_input_bind(m->text_inv_len, m->inv_len);
    }
    if (m->text_mask) {
      /* an empty text keeps every step at 0 (its pooled vector is then 0, like its LSTM states) */
      for (int i = 0; i < B; i++)
        for (int t = 0; t < m->T; t++) m->mask[i * m->T + t] = t < b->lengths[i] || b->lengths[i] == 0 ? 0.0f : -1e30f;
      loom_input_bind(m->text_mask, m->mask);
    }
  }
  if (m->image) loom_input_bind(m->image, b->image);
  if (m->numeric) loom_input_bind(m->numeric, b->numeric);
  if (m->user) loom_input_bind(m->user, b->user);
  if (m->item) loom_input_bind(m->item, b->item);
  if (m->category) {
    for (int i = 0; i < B; i++)
      for (int j = 0; j < m->n_cat; j++) m->cat_ids[i * m->n_cat + j] = m->cat_offset[j] + b->category[i * m->n_cat + j];
    loom_input_bind(m->category, m->cat_ids);
  }
  if (m->label_f) {
    for (int i = 0; i < B; i++)
      if (!(b->label[i] == 0.0f || b->label[i] == 1.0f))
        return loom_errorf(err, "interactions row %d: label %g is not 0 or 1 (task.kind = binary)", (int)b->row[i],
                           (double)b->label[i]);
    loom_input_bind(m->label_f, b->label);
  }
  if (m->label_i) {
    for (int i = 0; i < B; i++) {
      float y = b->label[i];
      if (!(y >= 0 && y < (float)m->n_classes) || y != floorf(y))
        return loom_errorf(err, "interactions row %d: label %g is not a class in 0..%d (task.kind = multiclass)",
                           (int)b->row[i], (double)y, m->n_classes - 1);
      m->labels[i] = (int32_t)y;
    }
    loom_input_bind(m->label_i, m->labels);
  }
  return 0;
}
