/* test_model.c — the config → graph builder: PyTorch parameter names of every tower, each fusion mode
 * and text pooling checked by central differences through the whole model (towers, fusion, head, loss)
 * on the tests/data/ds fixture, multiclass heads, and config mistakes named by file, line and key. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loom/alloc.h"
#include "loom/model.h"
#include "loom/safetensors.h"
#include "loom/trainer.h"
#include "testutil.h"

static loom_error err;

/* The fixture's [data] section plus tiny towers; `extra` is appended (later keys win). */
static char *ini(const char *extra) {
  static char buf[8192];
  char p[4][1024]; /* tu_src_path returns a static buffer */
  const char *rel[4] = {"tests/data/ds/interactions.csv", "tests/data/ds/items.csv", "tests/data/ds/users.csv",
                        "tests/data/images"};
  for (int i = 0; i < 4; i++) snprintf(p[i], sizeof p[i], "%s", tu_src_path(rel[i]));
  snprintf(buf, sizeof buf,
           "[data]\ninteractions = %s\nitems = %s\nusers = %s\nimage_root = %s\nuser_col = user\nitem_col = item\n"
           "label_col = label\ntext_cols = title\nnumeric_cols = qty, price, age\ncategory_cols = category\n"
           "image_col = image\nsplit = column\nsplit_col = split\nnum_words = 0\nmax_len = 4\nnumeric_missing = mean\n"
           "image_size = 6x6\nchannels = 3\nbatch_size = 4\n"
           "[text]\nembedding_dim = 3\nhidden = 3\ndense = 3\nactivation = tanh\n"
           "[image]\nfilters = 2\nkernel = 3\npool = 2\ndense = 3\nactivation = tanh\n"
           "[interaction]\ndense = 2\nuser_dim = 2\nitem_dim = 2\ncategory_dim = 2\nactivation = tanh\n"
           "[fusion]\ndim = 3\ndense = 3\nactivation = tanh\n%s",
           p[0], p[1], p[2], p[3], extra);
  return buf;
}

typedef struct {
  loom_data_section dsec;
  loom_config *c;
  loom_dataset *ds;
  loom_model *m;
  loom_loader *ld;
} fixture;

static loom_model *build(fixture *f, const char *extra) {
  memset(f, 0, sizeof *f);
  f->c = loom_train_config_new(&f->dsec);
  if (loom_config_load_string(f->c, ini(""), "test.ini", &err) < 0) fail_msg("%s", err.msg);
  /* extra: overrides "section.key=value", one per line */
  char line[1024];
  for (const char *p = extra; *p;) {
    const char *e = strchr(p, '\n');
    size_t n = e ? (size_t)(e - p) : strlen(p);
    snprintf(line, sizeof line, "%.*s", (int)n, p);
    if (n && loom_config_set_arg(f->c, line, &err) < 0) fail_msg("%s: %s", line, err.msg);
    p += n + (e ? 1 : 0);
  }
  f->ds = loom_dataset_open(&f->dsec.schema, NULL, &err);
  if (!f->ds) fail_msg("%s", err.msg);
  f->m = loom_model_build(f->c, f->ds, &err);
  return f->m;
}

static void fixture_free(fixture *f) {
  loom_loader_free(f->ld);
  loom_model_free(f->m);
  loom_dataset_free(f->ds);
  loom_config_free(f->c);
}

/* First training batch, bound to the model compiled for training. */
static const loom_batch *first_batch(fixture *f) {
  f->ld = loom_loader_new(f->ds, LOOM_SPLIT_TRAIN, 0, &err);
  assert_non_null(f->ld);
  const loom_batch *b = loom_loader_next(f->ld, &err);
  assert_non_null(b);
  assert_true(b->B > 0);
  if (loom_model_compile(f->m, b->B, true, &err) < 0 || loom_model_bind(f->m, b, &err) < 0) fail_msg("%s", err.msg);
  return b;
}

static void test_parameter_names(void **state) {
  fixture f;
  loom_model *m = build(&f, "text.bidirectional=true\nimage.batchnorm=true\nfusion.mode=gated");
  if (!m) fail_msg("%s", err.msg);
  const char *names[] = {"text.embedding.weight", "text.lstm.weight_ih_l0", "text.lstm.weight_hh_l0",
                         "text.lstm.bias_ih_l0", "text.lstm.bias_hh_l0", "text.lstm.weight_ih_l0_reverse",
                         "text.dense0.weight", "text.dense0.bias", "image.conv0.weight", "image.conv0.bias",
                         "image.bn0.weight", "image.bn0.running_mean", "image.dense0.weight",
                         "interaction.dense0.weight", "interaction.user_embedding.weight",
                         "interaction.item_embedding.weight", "interaction.category_embedding.weight",
                         "fusion.proj_text.weight", "fusion.proj_image.weight", "fusion.proj_interaction.bias",
                         "fusion.gate.weight", "fusion.dense0.weight", "head.weight", "head.bias"};
  for (size_t i = 0; i < sizeof names / sizeof *names; i++)
    if (!loom_graph_find(loom_model_graph(m), names[i])) fail_msg("no tensor '%s'", names[i]);
  assert_int_equal(loom_model_n_towers(m), 3);
  /* shapes as PyTorch has them */
  assert_int_equal(loom_graph_find(loom_model_graph(m), "text.lstm.weight_ih_l0")->shape[0], 4 * 3);
  assert_int_equal(loom_graph_find(loom_model_graph(m), "head.weight")->shape[0], 1);
  assert_int_equal(loom_graph_find(loom_model_graph(m), "fusion.gate.weight")->shape[0], 9);
  /* user ids 0..5 (0 = unknown), items 0..5, categories of one column: unknown + 3 fitted on train */
  assert_int_equal(loom_graph_find(loom_model_graph(m), "interaction.user_embedding.weight")->shape[0], loom_idmap_size(loom_dataset_prep(f.ds)->users));
  fixture_free(&f);
}

/* The rows encoder: PyTorch's nn.LSTM names under image.lstm, input size C·W, no conv parameters, and
 * the conv keys (even inconsistent ones) ignored. */
static void test_rows_encoder(void **state) {
  fixture f;
  loom_model *m = build(&f, "image.encoder=rows\nimage.lstm_hidden=5\nimage.lstm_bidirectional=true\n"
                            "image.lstm_layers=2\nimage.filters=2,2\nimage.kernel=3,3,3");
  if (!m) fail_msg("%s", err.msg);
  const char *names[] = {"image.lstm.weight_ih_l0", "image.lstm.weight_hh_l0", "image.lstm.bias_ih_l0",
                         "image.lstm.bias_hh_l0", "image.lstm.weight_ih_l0_reverse", "image.lstm.weight_ih_l1",
                         "image.lstm.bias_hh_l1_reverse", "image.dense0.weight", "image.dense0.bias"};
  for (size_t i = 0; i < sizeof names / sizeof *names; i++)
    if (!loom_graph_find(loom_model_graph(m), names[i])) fail_msg("no tensor '%s'", names[i]);
  assert_null(loom_graph_find(loom_model_graph(m), "image.conv0.weight"));
  /* (4H, C·W) = (20, 3·6); the second layer reads both directions (20, 10); dense over 2H */
  loom_tensor *w = loom_graph_find(loom_model_graph(m), "image.lstm.weight_ih_l0");
  assert_int_equal(w->shape[0], 20);
  assert_int_equal(w->shape[1], 18);
  assert_int_equal(loom_graph_find(loom_model_graph(m), "image.lstm.weight_ih_l1")->shape[1], 10);
  assert_int_equal(loom_graph_find(loom_model_graph(m), "image.dense0.weight")->shape[1], 10);
  /* a few plain SGD steps on one batch lower its loss */
  const loom_batch *b = first_batch(&f);
  (void)b;
  loom_graph_forward(loom_model_graph(m));
  float first = loom_model_loss(m)->data[0], last = first;
  for (int step = 0; step < 20; step++) {
    loom_graph_zero_grad(loom_model_graph(m));
    loom_graph_forward(loom_model_graph(m));
    last = loom_model_loss(m)->data[0];
    loom_graph_backward(loom_model_graph(m), loom_model_loss(m));
    float *p = loom_graph_params(loom_model_graph(m)), *g = loom_graph_grads(loom_model_graph(m));
    for (size_t i = 0; i < loom_graph_n_params(loom_model_graph(m)); i++) p[i] -= 0.2f * g[i];
  }
  assert_true(last < 0.9f * first);
  fixture_free(&f);
}

/* The text encoders: nn.GRU's names and shapes under text.gru, nn.Conv2d(1, F, (k, E))'s under text.cnn,
 * and a few plain SGD steps on one batch lower the loss. (The fixture's base config sets text.hidden = 3,
 * so the cnn variants put it back to its default: set to anything else it is an error there.) */
static void test_text_encoders(void **state) {
  const char *variants[] = {"text.encoder=gru\ntext.bidirectional=true\ntext.layers=2",
                            "text.encoder=cnn\ntext.hidden=32\ntext.cnn_widths=1,2,4\ntext.cnn_filters=5",
                            "text.encoder=transformer\ntext.hidden=32\ntext.heads=3\ntext.layers=2\ntext.ff_dim=5\n"
                            "text.positions=learned\ntext.pooling=mean"};
  for (int v = 0; v < 3; v++) {
    fixture f;
    loom_model *m = build(&f, variants[v]);
    if (!m) fail_msg("%s", err.msg);
    assert_null(loom_graph_find(loom_model_graph(m), "text.lstm.weight_ih_l0"));
    if (v == 0) {
      const char *names[] = {"text.gru.weight_ih_l0", "text.gru.weight_hh_l0", "text.gru.bias_ih_l0",
                             "text.gru.bias_hh_l0", "text.gru.weight_ih_l0_reverse", "text.gru.weight_hh_l1_reverse"};
      for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (!loom_graph_find(loom_model_graph(m), names[i])) fail_msg("no tensor '%s'", names[i]);
      assert_int_equal(loom_graph_find(loom_model_graph(m), "text.gru.weight_ih_l0")->shape[0], 3 * 3);
      assert_int_equal(loom_graph_find(loom_model_graph(m), "text.gru.weight_ih_l1")->shape[1], 2 * 3);
      assert_int_equal(loom_graph_find(loom_model_graph(m), "text.dense0.weight")->shape[1], 2 * 3);
    } else if (v == 2) {
      /* nn.TransformerEncoder's state_dict names; D = embedding_dim = 3, 3 heads, ff 5, positions (max_len 4, D) */
      static const struct { const char *name; int d0, d1; } t[] = {
          {"text.transformer.layers.0.self_attn.in_proj_weight", 9, 3},
          {"text.transformer.layers.1.self_attn.out_proj.weight", 3, 3},
          {"text.transformer.layers.1.linear1.weight", 5, 3},
          {"text.transformer.layers.0.linear2.weight", 3, 5},
          {"text.transformer.pos_embedding", 4, 3},
          {"text.dense0.weight", 3, 3}};
      for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
        loom_tensor *w = loom_graph_find(loom_model_graph(m), t[i].name);
        if (!w) fail_msg("no tensor '%s'", t[i].name);
        assert_int_equal(w->shape[0], t[i].d0);
        assert_int_equal(w->shape[1], t[i].d1);
      }
      assert_non_null(loom_graph_find(loom_model_graph(m), "text.transformer.norm.weight"));
      assert_non_null(loom_model_input_text_mask(m)); /* the mean's weights over valid steps */
      assert_null(loom_model_input_text_inv_len(m));
    } else {
      static const int widths[3] = {1, 2, 4};
      for (int i = 0; i < 3; i++) {
        char name[64];
        snprintf(name, sizeof name, "text.cnn.conv%d.weight", i);
        loom_tensor *w = loom_graph_find(loom_model_graph(m), name);
        if (!w) fail_msg("no tensor '%s'", name);
        assert_int_equal(w->shape[0], 5);
        assert_int_equal(w->shape[2], widths[i]);
        assert_int_equal(w->shape[3], 3);
      }
      assert_int_equal(loom_graph_find(loom_model_graph(m), "text.dense0.weight")->shape[1], 15);
      assert_null(loom_model_input_text_mask(m));
      assert_null(loom_model_input_text_inv_len(m));
    }
    first_batch(&f);
    loom_graph_forward(loom_model_graph(m));
    float first = loom_model_loss(m)->data[0], last = first;
    for (int step = 0; step < 20; step++) {
      loom_graph_zero_grad(loom_model_graph(m));
      loom_graph_forward(loom_model_graph(m));
      last = loom_model_loss(m)->data[0];
      loom_graph_backward(loom_model_graph(m), loom_model_loss(m));
      float *p = loom_graph_params(loom_model_graph(m)), *g = loom_graph_grads(loom_model_graph(m));
      for (size_t i = 0; i < loom_graph_n_params(loom_model_graph(m)); i++) p[i] -= 0.2f * g[i];
    }
    assert_true(last < 0.9f * first);
    fixture_free(&f);
  }
}

/* Every fusion mode and text pooling: d loss / d every parameter by central differences. */
static void test_gradients_through_the_model(void **state) {
  const char *variants[] = {
      "fusion.mode=concat\ntext.pooling=last",
      "fusion.mode=sum\ntext.pooling=mean",
      "fusion.mode=mean\ntext.pooling=max",
      "fusion.mode=weighted\ntext.pooling=mean\ntext.bidirectional=true",
      "fusion.mode=product\ntext.layers=2",
      "fusion.mode=gated\ntext.pooling=max\nimage.batchnorm=true\nimage.pool_type=avg",
      "task.pos_weight=2\nimage.enabled=false\nfusion.dropout=0.3",
      /* the rows encoder: an LSTM over the 6 rows of 3·6 features (three channel planes side by side) */
      "image.encoder=rows\nimage.lstm_hidden=3\nfusion.mode=sum",
      "image.encoder=rows\nimage.lstm_hidden=2\nimage.lstm_bidirectional=true\nimage.lstm_layers=2\n"
      "image.lstm_pooling=mean\ntext.enabled=false",
      "image.encoder=rows\nimage.lstm_hidden=2\nimage.lstm_pooling=max\nimage.dropout=0.3\ndata.channels=1",
      /* ranking: the item tower over positive + negatives (views of host buffers), query text tower */
      "task.kind=ranking\ndata.negatives=2\ndata.query_col=query\ndata.query_len=3\ntext.pooling=max",
      "task.kind=ranking\ntask.loss=bpr\ndata.negatives=2\ntext.pooling=mean\nimage.batchnorm=true",
      "task.kind=ranking\ndata.negatives=2\nimage.encoder=rows\nimage.lstm_hidden=2\nimage.lstm_pooling=mean",
      /* retrieval: query text <-> item text + image, InfoNCE over the batch and triplet with a negative */
      "task.kind=retrieval\ntask.loss=infonce\ndata.query_col=query\ndata.query_len=3\ndata.label_col=",
      "task.kind=retrieval\ntask.loss=triplet\ndata.negatives=1\ndata.query_col=query\ndata.query_len=3\n"
      "data.label_col=",
      /* the other text encoders: GRU (every pooling, both directions, 2 layers), TextCNN (several widths,
       * one as long as the texts) in a click model, and both in the ranking and retrieval towers (image
       * tower off: its max-pools' kinks under other initial weights are not what these cases check) */
      "text.encoder=gru\ntext.pooling=last\ntext.bidirectional=true\nimage.enabled=false",
      "text.encoder=gru\ntext.pooling=mean\ntext.layers=2\nfusion.mode=sum\nimage.enabled=false",
      "text.encoder=gru\ntext.pooling=max\ntext.dropout=0.2\nimage.enabled=false",
      "text.encoder=cnn\ntext.hidden=32\ntext.cnn_widths=1,2,4\ntext.cnn_filters=3\nimage.enabled=false\ntrain.init=torch",
      "text.encoder=cnn\ntext.hidden=32\ntext.cnn_widths=2\ntext.cnn_filters=4\nfusion.mode=gated\ntext.dropout=0.2\n"
      "image.enabled=false\ntrain.init=torch",
      "task.kind=ranking\ndata.negatives=2\ndata.query_col=query\ndata.query_len=3\ntext.encoder=gru\ntext.pooling=max\n"
      "image.enabled=false",
      "task.kind=ranking\ndata.negatives=2\ndata.query_col=query\ndata.query_len=3\ntext.encoder=cnn\ntext.hidden=32\n"
      "text.cnn_widths=2,3\ntext.cnn_filters=3\nimage.enabled=false\ntrain.init=torch",
      "task.kind=retrieval\ntask.loss=infonce\ndata.query_col=query\ndata.query_len=3\ndata.label_col=\n"
      "text.encoder=cnn\ntext.hidden=32\ntext.cnn_widths=1,3\ntext.cnn_filters=3\nimage.enabled=false\ntrain.init=torch",
      /* the click model's query: shared with the text tower (query shorter, longer than the item text) or
       * a tower of its own; fm, dcn and attention fusion; dropout on the ID embeddings */
      "data.query_col=query\ndata.query_len=3\ntext.share_query=true\nfusion.mode=fm\ntext.pooling=mean",
      "data.query_col=query\ndata.query_len=6\ntext.share_query=true\nfusion.mode=dcn\nfusion.cross_layers=2\n"
      "text.pooling=max",
      "data.query_col=query\ndata.query_len=3\nfusion.mode=attention\ntext.pooling=last",
      "fusion.mode=fm\ninteraction.embedding_dropout=0.3\nimage.enabled=false",
      "fusion.mode=dcn\nfusion.cross_layers=1\ntext.enabled=false\nimage.enabled=false",
      /* the transformer encoder: every pooling (mean, last and first weight the valid steps, max masks the
       * padding), both feed-forward activations and all position kinds, 2 layers, its dropout; in the shared
       * click query tower, the ranking towers and retrieval */
      "text.encoder=transformer\ntext.hidden=32\ntext.pooling=mean\ntext.ff_activation=gelu\nimage.enabled=false",
      "text.encoder=transformer\ntext.hidden=32\ntext.pooling=last\ntext.heads=3\ntext.layers=2\ntext.ff_dim=4\n"
      "text.ff_activation=gelu\ntext.positions=learned\nimage.enabled=false",
      "text.encoder=transformer\ntext.hidden=32\ntext.pooling=first\ntext.positions=none\ntext.ff_activation=gelu\n"
      "image.enabled=false\ntrain.init=torch",
      "text.encoder=transformer\ntext.hidden=32\ntext.pooling=max\ntext.heads=3\ntext.transformer_dropout=0.2\n"
      "text.ff_activation=gelu\nimage.enabled=false",
      "text.encoder=transformer\ntext.hidden=32\ntext.pooling=mean\ntext.ff_activation=relu\nimage.enabled=false\n"
      "train.init=torch",
      "data.query_col=query\ndata.query_len=6\ntext.share_query=true\ntext.encoder=transformer\ntext.hidden=32\n"
      "text.pooling=mean\ntext.positions=learned\ntext.ff_activation=gelu\nimage.enabled=false",
      "data.query_col=query\ndata.query_len=3\ntext.encoder=transformer\ntext.hidden=32\ntext.pooling=last\n"
      "text.ff_activation=gelu\nimage.enabled=false",
      "task.kind=ranking\ndata.negatives=2\ndata.query_col=query\ndata.query_len=3\ntext.encoder=transformer\n"
      "text.hidden=32\ntext.pooling=mean\ntext.ff_activation=gelu\nimage.enabled=false",
      "task.kind=retrieval\ntask.loss=infonce\ndata.query_col=query\ndata.query_len=3\ndata.label_col=\n"
      "text.encoder=transformer\ntext.hidden=32\ntext.pooling=last\ntext.ff_activation=gelu\nimage.enabled=false",
      /* the triplet loss's other distances (task.distance; cosine is the default above); margins large enough
       * that every hinge is active */
      "task.kind=retrieval\ntask.loss=triplet\ntask.distance=dot\ntask.margin=5\ndata.negatives=1\n"
      "data.query_col=query\ndata.query_len=3\ndata.label_col=",
      "task.kind=retrieval\ntask.loss=triplet\ntask.distance=euclidean\ntask.margin=5\ndata.negatives=1\n"
      "data.query_col=query\ndata.query_len=3\ndata.label_col=",
      "task.kind=retrieval\ntask.loss=triplet\ntask.distance=manhattan\ntask.margin=10\ndata.negatives=1\n"
      "data.query_col=query\ndata.query_len=3\ndata.label_col=",
      /* behaviour histories (every earlier impression, 2 per row): the item ID embedding or the history items'
       * texts through the text tower shared with the candidate (and the shared query), pooled by mean, scaled
       * dot-product attention or DIN's MLP */
      "data.timestamp_col=ts\ndata.history_len=2\ndata.history=all\ninteraction.history_pooling=din\n"
      "interaction.history_din_hidden=3\nimage.enabled=false",
      "data.timestamp_col=ts\ndata.history_len=2\ndata.history=all\ninteraction.history_content=text\n"
      "interaction.history_pooling=din\ninteraction.history_din_hidden=3\nimage.enabled=false\ntext.pooling=mean",
      "data.timestamp_col=ts\ndata.history_len=2\ndata.history=all\ninteraction.history_content=text\n"
      "interaction.history_pooling=mean\nimage.enabled=false\ntext.pooling=max\ninteraction.item_dim=0",
      "data.timestamp_col=ts\ndata.history_len=2\ndata.history=all\ninteraction.history_content=all\n"
      "interaction.history_pooling=attention\ndata.query_col=query\ndata.query_len=3\ntext.share_query=true\n"
      "fusion.mode=dcn\nfusion.cross_layers=1\nimage.enabled=false",
  };
  for (size_t v = 0; v < sizeof variants / sizeof *variants; v++) {
    fixture f;
    if (!build(&f, variants[v])) fail_msg("variant %zu: %s", v, err.msg);
    const loom_batch *b = first_batch(&f);
    print_message("variant %zu: %s\n", v, variants[v]);
    if (strstr(variants[v], "history_len")) { /* the batch holds histories, so their gradients are checked */
      int with = 0;
      for (int i = 0; i < b->B; i++) with += b->hist_len[i] > 0;
      assert_true(with > 0);
    }
    /* TextCNN: ReLU and the max over windows are kinks a 1e-2 step can cross, so a smaller step there, and
     * PyTorch's init (Keras' zero biases put the all-padding windows of short texts exactly on the ReLU's kink)
     * The transformer: LayerNorm over 3 features is strongly curved, so a smaller step still (1e-3 misses by
     * 2-3% on the shared query tower, 3e-4 agrees). */
    const double eps = strstr(variants[v], "encoder=transformer") ? 3e-4 : strstr(variants[v], "encoder=") ? 1e-3 : 1e-2;
    int n = tu_gradcheck(loom_model_graph(f.m), loom_model_loss(f.m), b->B, NULL, NULL, eps, 3e-3, 2e-2);
    assert_true(n > 50);
    fixture_free(&f);
  }
}

static void test_multiclass_head(void **state) {
  fixture f;
  /* category as the class (label_type = class), image + text only */
  /* the sample's items.csv as the table of examples (no user or item column): category from image and title */
  char line[2048];
  snprintf(line, sizeof line,
           "data.interactions=%s\ndata.items=\ndata.users=\ndata.item_col=\ndata.user_col=\ndata.label_col=category\n"
           "data.label_type=class\ndata.split=random\ndata.split_ratio=0.5,0.25,0.25\ndata.numeric_cols=price\n"
           "data.category_cols=\ntask.kind=multiclass\ninteraction.user_dim=0\ninteraction.item_dim=0\n"
           "data.image_size=12x12\ndata.channels=1\ndata.image_root=%s",
           tu_src_path("datasets/fashion-shop-sample/items.csv"), "");
  snprintf(line + strlen(line), sizeof line - strlen(line), "%s", tu_src_path("datasets/fashion-shop-sample"));
  loom_model *m = build(&f, line);
  if (!m) fail_msg("%s", err.msg);
  int K = loom_dataset_num_classes(f.ds);
  assert_true(K >= 2);
  assert_int_equal(loom_model_n_classes(m), K);
  assert_int_equal(loom_graph_find(loom_model_graph(m), "head.weight")->shape[0], K);
  const loom_batch *b = first_batch(&f);
  loom_graph_forward(loom_model_graph(m));
  assert_int_equal(loom_model_logits(m)->shape[1], K);
  assert_true(loom_model_loss(m)->data[0] > 0);
  tu_gradcheck(loom_model_graph(m), loom_model_loss(m), b->B, NULL, NULL, 1e-2, 3e-3, 2e-2);
  fixture_free(&f);
}

static void test_config_mistakes(void **state) {
  loom_data_section d;
  loom_config *c = loom_train_config_new(&d);
  assert_int_equal(loom_config_load_string(c, "[text]\nhidden = 8\nhiden = 8\n", "run.ini", &err), -1);
  assert_non_null(strstr(err.msg, "run.ini:3"));
  assert_non_null(strstr(err.msg, "hiden"));
  assert_int_equal(loom_config_load_string(c, "[fusion]\nmode = average\n", "run.ini", &err), -1);
  assert_non_null(strstr(err.msg, "run.ini:2"));
  assert_non_null(strstr(err.msg, "concat"));
  assert_int_equal(loom_config_load_string(c, "[data]\nspilt = random\n", "run.ini", &err), -1);
  assert_non_null(strstr(err.msg, "run.ini:2"));
  assert_non_null(strstr(err.msg, "spilt"));
  assert_int_equal(loom_config_set_arg(c, "text.hidden=-3", &err), -1);
  assert_non_null(strstr(err.msg, "hidden"));
  assert_int_equal(loom_config_set_arg(c, "train.lr=fast", &err), -1);
  loom_config_free(c);

  /* a text tower without text columns, a multiclass task without classes, no towers at all */
  fixture f;
  assert_null(build(&f, "data.text_cols="));
  assert_non_null(strstr(err.msg, "[text] enabled"));
  fixture_free(&f);
  assert_null(build(&f, "task.kind=multiclass"));
  assert_non_null(strstr(err.msg, "classes"));
  fixture_free(&f);
  assert_null(build(&f, "text.enabled=no\nimage.enabled=no\ninteraction.enabled=no"));
  assert_non_null(strstr(err.msg, "every tower is disabled"));
  fixture_free(&f);
  assert_null(build(&f, "image.filters=2,2,2\nimage.padding=valid"));
  assert_non_null(strstr(err.msg, "[image]"));
  fixture_free(&f);
  /* keys of the text encoder not chosen, and TextCNN windows that do not fit the texts */
  assert_null(build(&f, "text.cnn_widths=2,3"));
  assert_non_null(strstr(err.msg, "cnn_widths"));
  assert_non_null(strstr(err.msg, "text.encoder = lstm"));
  fixture_free(&f);
  assert_null(build(&f, "text.encoder=gru\ntext.cnn_filters=8"));
  assert_non_null(strstr(err.msg, "cnn_filters"));
  fixture_free(&f);
  assert_null(build(&f, "text.encoder=cnn")); /* the fixture sets text.hidden = 3 */
  assert_non_null(strstr(err.msg, "[text] hidden = 3 has no effect with text.encoder = cnn"));
  fixture_free(&f);
  assert_null(build(&f, "text.encoder=cnn\ntext.hidden=32\ntext.pooling=max"));
  assert_non_null(strstr(err.msg, "pooling"));
  fixture_free(&f);
  assert_null(build(&f, "text.encoder=cnn\ntext.hidden=32\ntext.cnn_widths=2,5"));
  assert_non_null(strstr(err.msg, "window 5 is longer than the texts (4 tokens, [data] max_len)"));
  fixture_free(&f);
  assert_null(build(&f, "text.encoder=cnn\ntext.hidden=32\ntext.cnn_widths=1,1,1,1,1,1,1,1,1"));
  assert_non_null(strstr(err.msg, "1 to 8 window sizes"));
  fixture_free(&f);
  /* the transformer's keys with another encoder, the recurrent keys with the transformer, heads that do
   * not divide the embedding, first-token pooling of a recurrent encoder */
  assert_null(build(&f, "text.heads=3"));
  assert_non_null(strstr(err.msg, "[text] heads = 3 has no effect with text.encoder = lstm (it sets the transformer encoder)"));
  fixture_free(&f);
  assert_null(build(&f, "text.encoder=gru\ntext.positions=learned"));
  assert_non_null(strstr(err.msg, "[text] positions = learned has no effect with text.encoder = gru"));
  fixture_free(&f);
  assert_null(build(&f, "text.encoder=cnn\ntext.hidden=32\ntext.transformer_dropout=0.1"));
  assert_non_null(strstr(err.msg, "[text] transformer_dropout = 0.1 has no effect with text.encoder = cnn"));
  fixture_free(&f);
  assert_null(build(&f, "text.encoder=transformer")); /* the fixture sets text.hidden = 3 */
  assert_non_null(strstr(err.msg, "[text] hidden = 3 has no effect with text.encoder = transformer (it sets the lstm or gru encoder)"));
  fixture_free(&f);
  assert_null(build(&f, "text.encoder=transformer\ntext.hidden=32\ntext.bidirectional=true"));
  assert_non_null(strstr(err.msg, "[text] bidirectional = true has no effect with text.encoder = transformer"));
  fixture_free(&f);
  assert_null(build(&f, "text.encoder=transformer\ntext.hidden=32\ntext.heads=2")); /* embedding_dim = 3 */
  assert_non_null(strstr(err.msg, "[text] heads = 2 does not divide embedding_dim = 3"));
  fixture_free(&f);
  assert_null(build(&f, "text.pooling=first"));
  assert_non_null(strstr(err.msg, "[text] pooling = first needs text.encoder = transformer"));
  fixture_free(&f);
  /* task.distance only where the triplet loss reads it (the rules loom-train checks), and only its choices */
  {
    const char *cfg[] = {"[task]\ndistance = dot\n",
                         "[task]\nkind = retrieval\nloss = infonce\ndistance = euclidean\n",
                         "[task]\nkind = retrieval\nloss = triplet\ndistance = manhattan\n"};
    const char *want[] = {"unless task.kind = retrieval with task.loss = triplet", "InfoNCE compares by cosine", NULL};
    for (int i = 0; i < 3; i++) {
      loom_config *cc = loom_train_config_new(&d);
      assert_int_equal(loom_config_load_string(cc, cfg[i], "run.ini", &err), 0);
      int rc = loom_model_check_config(cc, &err);
      if (want[i]) {
        assert_int_equal(rc, -1);
        if (!strstr(err.msg, "distance") || !strstr(err.msg, want[i])) fail_msg("%s", err.msg);
      } else {
        assert_int_equal(rc, 0);
      }
      loom_config_free(cc);
    }
    loom_config *cc = loom_train_config_new(&d);
    assert_int_equal(loom_config_load_string(cc, "[task]\ndistance = hamming\n", "run.ini", &err), -1);
    assert_non_null(strstr(err.msg, "cosine"));
    assert_non_null(strstr(err.msg, "manhattan"));
    loom_config_free(cc);
  }
  /* the transformer's layers and pooling are its own keys too */
  loom_model *m = build(&f, "text.encoder=transformer\ntext.hidden=32\ntext.layers=2\ntext.pooling=first");
  if (!m) fail_msg("%s", err.msg);
  assert_non_null(loom_graph_find(loom_model_graph(m), "text.transformer.layers.1.norm2.weight"));
  fixture_free(&f);
}

/* The new keys where they would have no effect, each named in the error. */
static void test_fusion_and_query_key_mistakes(void **state) {
  const struct {
    const char *set, *want;
  } bad[] = {
      {"fusion.cross_layers=2", "cross_layers = 2 has no effect with fusion.mode = concat"},
      {"fusion.mode=dcn", "fusion.cross_layers >= 1"},
      {"text.share_query=true", "share_query = true has no effect without a query"},
      {"text.share_query=true\ndata.query_col=query\ntext.enabled=false", "needs the text tower"},
      {"text.share_query=true\ndata.query_col=query\ntask.kind=ranking\ndata.negatives=2", "share_query"},
      {"interaction.embedding_dropout=0.2\ninteraction.enabled=false", "embedding_dropout"},
      {"interaction.embedding_dropout=0.2\ninteraction.user_dim=0\ninteraction.item_dim=0\ninteraction.category_dim=0",
       "no user, item or category embedding"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    fixture f;
    if (build(&f, bad[i].set)) fail_msg("'%s' built", bad[i].set);
    if (!strstr(err.msg, bad[i].want)) fail_msg("'%s': error '%s' does not say '%s'", bad[i].set, err.msg, bad[i].want);
    fixture_free(&f);
  }
}

static void sgd_step(void *ctx) {
  loom_model *m = ctx;
  loom_graph_zero_grad(loom_model_graph(m));
  loom_graph_forward(loom_model_graph(m));
  loom_graph_backward(loom_model_graph(m), loom_model_loss(m));
  float *p = loom_graph_params(loom_model_graph(m)), *g = loom_graph_grads(loom_model_graph(m));
  for (size_t i = 0; i < loom_graph_n_params(loom_model_graph(m)); i++) p[i] -= 0.2f * g[i];
}

/* The shared query tower: the query goes through text.* (no query.* parameters, the same parameter count
 * as without a query apart from fusion and head), it changes the logits, the head model that inference
 * uses (item towers cached, the query through its own copy of text.*) gives the full model's logits, a
 * few steps lower the loss, and a step allocates nothing. */
static void test_shared_query_tower(void **state) {
  const char *modes[] = {"fusion.mode=concat", "fusion.mode=fm", "fusion.mode=dcn\nfusion.cross_layers=2",
                         "fusion.mode=attention"};
  for (size_t v = 0; v < sizeof modes / sizeof *modes; v++) {
    char extra[256];
    snprintf(extra, sizeof extra, "data.query_col=query\ndata.query_len=5\ntext.share_query=true\ntext.pooling=mean\n%s",
             modes[v]);
    fixture f;
    loom_model *m = build(&f, extra);
    if (!m) fail_msg("%s: %s", extra, err.msg);
    assert_true(loom_model_reads_query(m));
    assert_int_equal(loom_model_shared_text_len(m), 5);
    assert_null(loom_model_input_query(m));
    for (int i = 0; i < loom_graph_n_param_tensors(loom_model_graph(m)); i++)
      assert_true(strncmp(loom_graph_param_tensor(loom_model_graph(m), i)->name, "query.", 6) != 0);
    assert_string_equal(loom_model_tower_name(m, 2), "query");
    const loom_batch *b = first_batch(&f);
    /* the head model against the full one, in eval mode */
    loom_tensor *outs[] = {loom_model_logits(m), loom_model_tower_out(m, 0), loom_model_tower_out(m, 1)}; /* kept live to the end */
    if (loom_model_compile_outputs(m, b->B, 3, outs, &err) < 0 || loom_model_bind(m, b, &err) < 0)
      fail_msg("%s", err.msg);
    loom_graph_forward(loom_model_graph(m));
    float full[64], tower[64 * 8], image[64 * 8];
    memcpy(full, loom_model_logits(m)->data, sizeof(float) * (size_t)b->B);
    memcpy(tower, loom_model_tower_out(m, 0)->data, sizeof(float) * (size_t)b->B * loom_model_tower_dim(m, 0));
    memcpy(image, loom_model_tower_out(m, 1)->data, sizeof(float) * (size_t)b->B * loom_model_tower_dim(m, 1));
    loom_model *h = loom_model_build_head(f.c, f.ds, m, &err);
    if (!h) fail_msg("%s", err.msg);
    assert_non_null(loom_model_input_query(h));
    assert_non_null(loom_graph_find(loom_model_graph(h), "text.embedding.weight"));
    if (loom_model_compile(h, b->B, false, &err) < 0 || loom_model_bind(h, b, &err) < 0) fail_msg("%s", err.msg);
    loom_input_bind(loom_model_tower_in(h, 0), tower);
    loom_input_bind(loom_model_tower_in(h, 1), image);
    loom_graph_forward(loom_model_graph(h));
    tu_assert_close("head model logits", loom_model_logits(h)->data, full, (size_t)b->B, 1e-5, 1e-5);
    loom_model_free(h);
    /* the query matters: empty queries give other logits */
    loom_batch *bb = (loom_batch *)b;
    int32_t saved[64];
    memcpy(saved, bb->query_len, sizeof(int32_t) * (size_t)b->B);
    memset(bb->query_len, 0, sizeof(int32_t) * (size_t)b->B);
    if (loom_model_compile(m, b->B, false, &err) < 0 || loom_model_bind(m, b, &err) < 0) fail_msg("%s", err.msg);
    loom_graph_forward(loom_model_graph(m));
    double diff = 0;
    for (int i = 0; i < b->B; i++) diff += fabs(loom_model_logits(m)->data[i] - full[i]);
    assert_true(diff > 1e-6);
    memcpy(bb->query_len, saved, sizeof(int32_t) * (size_t)b->B);
    /* training steps on one batch: loss falls, no allocation */
    if (loom_model_compile(m, b->B, true, &err) < 0 || loom_model_bind(m, b, &err) < 0) fail_msg("%s", err.msg);
    loom_graph_forward(loom_model_graph(m));
    float first = loom_model_loss(m)->data[0];
    for (int step = 0; step < 20; step++) sgd_step(m);
    loom_graph_forward(loom_model_graph(m));
    if (!(loom_model_loss(m)->data[0] < 0.9f * first)) fail_msg("%s: loss %g -> %g", modes[v], first, loom_model_loss(m)->data[0]);
    if (tu_alloc_counting_available()) tu_assert_no_alloc(modes[v], sgd_step, m, 1, 3);
    fixture_free(&f);
  }
  /* without sharing: a query tower of its own, query.*, the same shapes as text.* */
  fixture f;
  loom_model *m = build(&f, "data.query_col=query\ndata.query_len=3");
  if (!m) fail_msg("%s", err.msg);
  assert_non_null(loom_model_input_query(m));
  assert_int_equal(loom_model_shared_text_len(m), 0);
  assert_non_null(loom_graph_find(loom_model_graph(m), "query.embedding.weight"));
  assert_non_null(loom_graph_find(loom_model_graph(m), "query.lstm.weight_ih_l0"));
  fixture_free(&f);
}

/* fm, dcn and attention parameter names (PyTorch style) and sizes; fm crosses every field. */
static void test_interaction_fusion_names(void **state) {
  fixture f;
  loom_model *m = build(&f, "fusion.mode=fm\ndata.query_col=query\ndata.query_len=3");
  if (!m) fail_msg("%s", err.msg);
  /* fields: text, image, query, numeric, user, item, category0 -> 7 projections, 21 pairs */
  const char *fm[] = {"fusion.proj_text.weight", "fusion.proj_image.weight", "fusion.proj_query.weight",
                      "fusion.proj_numeric.weight", "fusion.proj_user.weight", "fusion.proj_item.bias",
                      "fusion.proj_category0.weight"};
  for (size_t i = 0; i < sizeof fm / sizeof *fm; i++)
    if (!loom_graph_find(loom_model_graph(m), fm[i])) fail_msg("no tensor '%s'", fm[i]);
  /* concat (text 3, image 3, query 3, interaction 2 + 2 + 2 + 2) + 21 dots */
  assert_int_equal(loom_graph_find(loom_model_graph(m), "fusion.dense0.weight")->shape[1], 3 + 3 + 3 + 8 + 21);
  fixture_free(&f);
  m = build(&f, "fusion.mode=dcn\nfusion.cross_layers=3");
  if (!m) fail_msg("%s", err.msg);
  assert_non_null(loom_graph_find(loom_model_graph(m), "fusion.cross2.weight"));
  assert_null(loom_graph_find(loom_model_graph(m), "fusion.cross3.weight"));
  assert_int_equal(loom_graph_find(loom_model_graph(m), "fusion.cross0.weight")->shape[0], 3 + 3 + 8);
  fixture_free(&f);
  m = build(&f, "fusion.mode=attention");
  if (!m) fail_msg("%s", err.msg);
  assert_non_null(loom_graph_find(loom_model_graph(m), "fusion.attention.weight"));
  assert_int_equal(loom_graph_find(loom_model_graph(m), "fusion.score.weight")->shape[1], 3);
  fixture_free(&f);
}

/* Each new fusion mode with the shared query trains on the committed fashion-shop sample: the training
 * loss falls and the validation AUC is above chance. */
static void test_new_fusion_trains_on_the_sample(void **state) {
  const char *modes[][3] = {{"fusion.mode=fm", "fusion.dim=8", "fusion.cross_layers=0"},
                            {"fusion.mode=dcn", "fusion.cross_layers=2", "fusion.dim=64"}, /* dcn projects nothing: dim at its default */
                            {"fusion.mode=attention", "fusion.dim=8", "fusion.cross_layers=0"}};
  for (size_t v = 0; v < sizeof modes / sizeof *modes; v++) {
    char out[128];
    snprintf(out, sizeof out, "test_model_sample_run%zu", v);
    tu_rm_rf(out);
    const char *small[] = {"train.epochs=2", "image.filters=4", "image.dense=8", "text.hidden=8",
                           "text.embedding_dim=8", "data.query_col=query", "text.share_query=true",
                           "train.prefetch=false", modes[v][0], modes[v][1], modes[v][2], NULL};
    loom_train_result r;
    if (tu_train_sample(out, NULL, NULL, small, NULL, &r, &err) < 0) fail_msg("%s: %s", modes[v][0], err.msg);
    if (!(r.last_loss < r.first_loss && r.best > 0.55))
      fail_msg("%s: loss %g -> %g, best auc %g", modes[v][0], r.first_loss, r.last_loss, r.best);
    tu_rm_rf(out);
  }
}

/* The resolved config (with [data]) loads back to the same text. */
static void test_config_dump_round_trip(void **state) {
  fixture f;
  assert_non_null(build(&f, "text.pooling=max"));
  char *a = loom_config_dump(f.c);
  loom_data_section d2;
  loom_config *c2 = loom_train_config_new(&d2);
  if (loom_config_load_string(c2, a, "dump", &err) < 0) fail_msg("%s", err.msg);
  char *b = loom_config_dump(c2);
  assert_string_equal(a, b);
  assert_non_null(strstr(a, "pooling = max"));
  assert_non_null(strstr(a, "label_col = label"));
  loom_free(a);
  loom_free(b);
  loom_config_free(c2);
  fixture_free(&f);
}

/* A model scored in eval mode after a few updates: the weights and one batch's inputs and logits go to
 * NAME.safetensors and NAME_io.safetensors for tests/reference/check_model.py. */
static void dump_for_pytorch(const char *extra, const char *name) {
  fixture f;
  loom_model *m = build(&f, extra);
  if (!m) fail_msg("%s", err.msg);
  f.ld = loom_loader_new(f.ds, LOOM_SPLIT_TRAIN, 0, &err);
  const loom_batch *b = loom_loader_next(f.ld, &err);
  assert_true(b && b->B > 0);
  /* a few updates first, so that batch-norm statistics and weights are not at their initial values */
  for (int step = 0; step < 3; step++) {
    if (loom_model_compile(m, b->B, true, &err) < 0 || loom_model_bind(m, b, &err) < 0) fail_msg("%s", err.msg);
    loom_graph_zero_grad(loom_model_graph(m));
    loom_graph_forward(loom_model_graph(m));
    loom_graph_backward(loom_model_graph(m), loom_model_loss(m));
    float *p = loom_graph_params(loom_model_graph(m)), *g = loom_graph_grads(loom_model_graph(m));
    for (size_t i = 0; i < loom_graph_n_params(loom_model_graph(m)); i++) p[i] -= 0.1f * g[i];
  }
  if (loom_model_compile(m, b->B, false, &err) < 0 || loom_model_bind(m, b, &err) < 0) fail_msg("%s", err.msg);
  loom_graph_forward(loom_model_graph(m));
  char *cfg = loom_config_dump(f.c);
  char path[256];
  snprintf(path, sizeof path, "%s.safetensors", name);
  const char *meta[2] = {"loom.config", cfg};
  assert_int_equal(loom_st_save_graph(loom_model_graph(m), path, 1, meta, &err), 0);
  loom_st_writer *w = loom_st_writer_new();
  loom_tensor *ins[] = {loom_model_input_tokens(m), loom_model_input_lengths(m), loom_model_input_image(m), loom_model_input_numeric(m), loom_model_input_user(m), loom_model_input_item(m), loom_model_input_category(m), loom_model_logits(m)};
  for (size_t i = 0; i < sizeof ins / sizeof *ins; i++) {
    loom_tensor *t = ins[i];
    if (!t) continue;
    int64_t shape[4];
    for (int k = 0; k < t->ndim; k++) shape[k] = t->shape[k];
    const void *data = t->dtype == LOOM_F32 ? (const void *)t->data : (const void *)t->idata;
    if (loom_st_writer_add(w, t == loom_model_logits(m) ? "logits" : t->name, t->dtype == LOOM_F32 ? LOOM_ST_F32 : LOOM_ST_I32,
                           t->ndim, shape, data, &err) < 0)
      fail_msg("%s", err.msg);
  }
  snprintf(path, sizeof path, "%s_io.safetensors", name);
  assert_int_equal(loom_st_write(w, path, &err), 0);
  loom_st_writer_free(w);
  loom_free(cfg);
  fixture_free(&f);
}

/* PyTorch parity of the variants the click test does not use: a gated-fusion model with a 2-layer
 * BiLSTM (max pooling) and batch norm, and the rows image encoder (3 channels, 2-layer BiLSTM, mean). */
static void test_dump_for_pytorch(void **state) {
  dump_for_pytorch("text.bidirectional=true\ntext.layers=2\ntext.pooling=max\nimage.batchnorm=true\n"
                   "fusion.mode=gated\nfusion.dropout=0.2",
                   "loom_model_gated");
  dump_for_pytorch("image.encoder=rows\nimage.lstm_hidden=4\nimage.lstm_layers=2\nimage.lstm_bidirectional=true\n"
                   "image.lstm_pooling=mean\nimage.dropout=0.1\nfusion.mode=sum",
                   "loom_model_rows");
  dump_for_pytorch("image.encoder=rows\nimage.lstm_hidden=4\nimage.lstm_pooling=max\ntext.pooling=mean",
                   "loom_model_rows_max");
}

/* The model summary (loom-train --print-model): the model line, every node, and totals that agree
 * with the graph; loom_model_print_summary builds, compiles at [data] batch_size and prints the same. */
static char *model_print_string(const loom_model *m, const fixture *f, bool summary) {
  char *buf = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&buf, &len);
  assert_non_null(out);
  if (summary) {
    if (loom_model_print_summary(f->c, &f->dsec.schema, out, &err) < 0) fail_msg("%s", err.msg);
  } else {
    loom_model_print(m, out);
  }
  fclose(out);
  return buf;
}

static void test_model_print(void **state) {
  fixture f;
  /* sum: the fixture's fusion.dim would have no effect with concat, which the summary refuses */
  loom_model *m = build(&f, "text.pooling=max\nimage.batchnorm=true\nfusion.mode=sum");
  if (!m) fail_msg("%s", err.msg);
  if (loom_model_compile(m, 4, true, &err) < 0) fail_msg("%s", err.msg);
  char *got = model_print_string(m, &f, false);
  const char *first = "model: task binary, towers text, image, interaction; head: 1 logit\n"
                      "node  op              name                                    output shape            params\n";
  assert_memory_equal(got, first, strlen(first));
  size_t n_params = 0, n_buffers = 0;
  for (int i = 0; i < loom_graph_n_param_tensors(loom_model_graph(m)); i++) n_params += loom_tensor_numel(loom_graph_param_tensor(loom_model_graph(m), i));
  for (int i = 0; i < loom_graph_n_buffer_tensors(loom_model_graph(m)); i++) n_buffers += loom_tensor_numel(loom_graph_buffer_tensor(loom_model_graph(m), i));
  char totals[256];
  snprintf(totals, sizeof totals, "\nparameters: %zu (trainable %zu, frozen 0); buffers: %zu floats; nodes: %d (",
           n_params, n_params, n_buffers, loom_graph_n_nodes(loom_model_graph(m)));
  if (!strstr(got, totals)) fail_msg("no '%s' in:\n%s", totals + 1, got);
  /* the pooled text node (the sequence-pooling layer) and a conv block, with their compiled shapes */
  if (!strstr(got, "  reshape         text.pool                               (4, 3)\n")) fail_msg("no text.pool row in:\n%s", got);
  if (!strstr(got, "  param           image.conv0.weight                      (2, 3, 3, 3)                54\n"))
    fail_msg("no image.conv0.weight row in:\n%s", got);
  if (!strstr(got, "  buffer          image.bn0.running_mean                  (2)                          2\n"))
    fail_msg("no image.bn0.running_mean row in:\n%s", got);
  int lines = 0;
  for (const char *p = got; *p; p++) lines += *p == '\n';
  assert_int_equal(lines, 1 + 1 + loom_graph_n_nodes(loom_model_graph(m)) + 2);
  char *again = model_print_string(NULL, &f, true); /* a second model from the same config: the same text */
  assert_string_equal(again, got);
  free(again);
  free(got);
  fixture_free(&f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parameter_names),     cmocka_unit_test(test_rows_encoder),
      cmocka_unit_test(test_model_print),         cmocka_unit_test(test_text_encoders),
      cmocka_unit_test(test_gradients_through_the_model),
      cmocka_unit_test(test_multiclass_head),     cmocka_unit_test(test_config_mistakes),
      cmocka_unit_test(test_config_dump_round_trip), cmocka_unit_test(test_dump_for_pytorch),
      cmocka_unit_test(test_fusion_and_query_key_mistakes), cmocka_unit_test(test_shared_query_tower),
      cmocka_unit_test(test_interaction_fusion_names), cmocka_unit_test(test_new_fusion_trains_on_the_sample),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
