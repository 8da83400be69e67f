/* test_infer.c — inference sessions (loom/infer.h) on checkpoints trained here from the committed
 * fashion-shop sample (a click model, a two-tower ranking model with a query, a retrieval model):
 * eval and score reproduce the trainer's validation numbers exactly; rank and search return sorted,
 * plausible hits, flag unknown users and cold-start items; the item cache is written, reused and
 * invalidated; embeddings export; and bad input — missing columns, a missing image, corrupt or
 * foreign checkpoints, empty or unknown queries — fails with messages naming the file and fault. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loom/infer.h"
#include "loom/metrics.h"
#include "loom/safetensors.h"
#include "loom/trainer.h"
#include "testutil.h"

static loom_error err;
static char dir[256];
static loom_train_result res_click, res_gru, res_cnn, res_xf;

static void sh(const char *fmt, const char *a, const char *b) {
  char cmd[4096];
  snprintf(cmd, sizeof cmd, fmt, a, b);
  assert_int_equal(system(cmd), 0);
}

static void path(char *out, size_t n, const char *name) { snprintf(out, n, "%s/%s", dir, name); }

static int train(const char *config, const char *out, const char *const *extra, loom_train_result *r) {
  static char outset[1200];
  const char *sets[32];
  int n = tu_sample_sets(sets);
  static const char *small[] = {"text.embedding_dim=8", "text.hidden=8", "image.filters=4,8", "image.dense=16",
                                "train.prefetch=false", "train.epochs=1"};
  for (size_t i = 0; i < sizeof small / sizeof *small; i++) sets[n++] = small[i];
  for (int i = 0; extra[i]; i++) sets[n++] = extra[i];
  snprintf(outset, sizeof outset, "train.out=%s/%s", dir, out);
  sets[n++] = outset;
  char cfg[1200];
  snprintf(cfg, sizeof cfg, "%s", tu_src_path(config));
  loom_train_opts o = {.config_path = cfg, .sets = sets, .n_sets = n};
  return loom_train(&o, r, &err);
}

static int setup(void **state) {
  (void)state;
  snprintf(dir, sizeof dir, "/tmp/loom-test-infer-XXXXXX");
  if (!mkdtemp(dir)) return -1;
  loom_train_result r;
  if (train("configs/fashion-shop-click.ini", "click", (const char *[]){"text.dense=8", "interaction.dense=8", "fusion.dense=16", NULL}, &res_click) < 0 ||
      train("configs/fashion-shop-ranking.ini", "ranking", (const char *[]){"fusion.dim=16", "train.max_steps=20", NULL}, &r) < 0 ||
      train("configs/fashion-shop-retrieval.ini", "retrieval", (const char *[]){"fusion.dim=16", NULL}, &r) < 0 ||
      /* a click model that does not read the title (titles still come from the items table) nor the query */
      train("configs/fashion-shop-click.ini", "click-desc", (const char *[]){"data.text_cols=description", "train.max_steps=4",
            "data.query_col=", "text.share_query=false", NULL}, &r) < 0 ||
      /* the other text encoders: a BiGRU with max pooling, a TextCNN (its encoder has no hidden size or
       * pooling: both back at their defaults) */
      train("configs/fashion-shop-click.ini", "click-gru", (const char *[]){"text.encoder=gru", "text.bidirectional=true",
            "text.pooling=max", "text.dense=8", "interaction.dense=8", "fusion.dense=16", NULL}, &res_gru) < 0 ||
      train("configs/fashion-shop-click.ini", "click-cnn", (const char *[]){"text.encoder=cnn", "text.hidden=32",
            "text.pooling=last", "text.cnn_widths=2,3,4", "text.cnn_filters=16", "text.dense=8", "interaction.dense=8",
            "fusion.dense=16", NULL}, &res_cnn) < 0 ||
      /* the transformer (its encoder has no hidden size: back at the default), mean over valid tokens, the
       * query through the same layers (the config's text.share_query) */
      train("configs/fashion-shop-click.ini", "click-xf", (const char *[]){"text.encoder=transformer", "text.hidden=32",
            "text.heads=2", "text.positions=learned", "text.dense=8", "interaction.dense=8", "fusion.dense=16", NULL},
            &res_xf) < 0) {
    fprintf(stderr, "training failed: %s\n", err.msg);
    return -1;
  }
  /* a multiclass model (product category from the photo) on a copy of the items table */
  char cmd[2048], copy[512], out[600], inter[600], root[1300];
  snprintf(copy, sizeof copy, "%s/items-cat.csv", dir);
  snprintf(cmd, sizeof cmd, "cp '%s' '%s'", tu_src_path("datasets/fashion-shop-sample/items.csv"), copy);
  if (system(cmd) != 0) return -1;
  snprintf(inter, sizeof inter, "data.interactions=%s", copy);
  snprintf(root, sizeof root, "data.image_root=%s", tu_src_path("datasets/fashion-shop-sample"));
  snprintf(out, sizeof out, "train.out=%s/category", dir);
  const char *cat[] = {inter, root, out, "image.filters=4,8", "image.dense=16", "train.max_steps=6", "train.prefetch=false"};
  char cfg[1200];
  snprintf(cfg, sizeof cfg, "%s", tu_src_path("configs/fashion-shop-category.ini"));
  loom_train_opts o = {.config_path = cfg, .sets = cat, .n_sets = 7};
  if (loom_train(&o, &r, &err) < 0) {
    fprintf(stderr, "training failed: %s\n", err.msg);
    return -1;
  }
  /* the validation rows of the sample as a file of their own */
  snprintf(cmd, sizeof cmd, "(head -1 '%1$s'; grep ',valid$' '%1$s') > '%2$s/val.csv'",
           tu_src_path("datasets/fashion-shop-sample/interactions.csv"), dir);
  return system(cmd) == 0 ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  sh("rm -rf '%s'%s", dir, "");
  return 0;
}

static loom_infer *open_ckpt(const char *run, const loom_infer_opts *o) {
  char p[512];
  snprintf(p, sizeof p, "%s/%s/best.safetensors", dir, run);
  loom_infer *s = loom_infer_open(p, o, &err);
  if (!s) fprintf(stderr, "%s\n", err.msg);
  assert_non_null(s);
  return s;
}

/* ---- the same numbers as training's validation */

typedef struct {
  float *score, *label;
  int n, unknown_users;
} collect;

static int on_row(void *ctx, const loom_infer_row *r) {
  collect *c = ctx;
  c->score[c->n++] = r->logit;
  c->unknown_users += r->unknown_user;
  return 0;
}

static void test_eval_matches_training(void **state) {
  (void)state;
  loom_infer *s = open_ckpt("click", NULL);
  assert_null(loom_graph_grads(loom_model_graph(loom_infer_model(s)))); /* no training-only state */
  assert_int_equal(loom_model_compile((loom_model *)loom_infer_model(s), 4, true, &err), -1);
  assert_non_null(strstr(err.msg, "frozen for inference"));
  /* the run's own validation split, and the same rows from a file: bit-identical metrics */
  const loom_evaluator *ev = loom_infer_eval(s, NULL, LOOM_SPLIT_VAL, &err);
  assert_non_null(ev);
  assert_int_equal(ev->n_metrics, res_click.n_val);
  for (int i = 0; i < ev->n_metrics; i++) {
    assert_string_equal(ev->names[i], res_click.val_names[i]);
    assert_true(ev->val[i] == res_click.val[i]);
  }
  double auc = ev->val[0];
  char val[512];
  path(val, sizeof val, "val.csv");
  ev = loom_infer_eval(s, val, LOOM_SPLIT_ALL, &err);
  assert_non_null(ev);
  assert_true(ev->val[0] == auc && ev->val[1] == res_click.val[1]);
  /* score: every row once, in file order; its AUC is training's */
  static float score[4096], label[4096];
  collect c = {score, label, 0, 0};
  assert_int_equal(loom_infer_score_csv(s, val, on_row, &c, &err), 0);
  assert_int_equal(c.n, (int)ev->n_rows);
  loom_table t;
  loom_colspec spec = {"clicked", LOOM_COL_FLOAT, 0};
  assert_int_equal(loom_table_read(&t, val, &spec, 1, NULL, &err), 0);
  for (int i = 0; i < c.n; i++) label[i] = (float)t.cols[0].f[i];
  loom_table_free(&t);
  assert_true(loom_auc(score, label, (size_t)c.n) == auc);
  loom_infer_close(s);
}

/* GRU, TextCNN and Transformer click models: training lowered the loss (finite), and the checkpoint, rebuilt from its stored
 * config, scores the validation split exactly as the trainer's validation did. */
static void test_text_encoders_eval_matches_training(void **state) {
  (void)state;
  const char *runs[3] = {"click-gru", "click-cnn", "click-xf"};
  const loom_train_result *res[3] = {&res_gru, &res_cnn, &res_xf};
  const char *param[3] = {"text.gru.weight_hh_l0_reverse", "text.cnn.conv2.weight", "text.transformer.pos_embedding"};
  for (int k = 0; k < 3; k++) {
    printf("%s: loss %.4f -> %.4f, val auc %.4f\n", runs[k], res[k]->first_loss, res[k]->last_loss, res[k]->val[0]);
    assert_true(isfinite(res[k]->first_loss) && isfinite(res[k]->last_loss));
    assert_true(res[k]->last_loss < res[k]->first_loss);
    loom_infer *s = open_ckpt(runs[k], NULL);
    assert_non_null(loom_graph_find(loom_model_graph(loom_infer_model(s)), param[k]));
    const loom_evaluator *ev = loom_infer_eval(s, NULL, LOOM_SPLIT_VAL, &err);
    assert_non_null(ev);
    assert_int_equal(ev->n_metrics, res[k]->n_val);
    for (int i = 0; i < ev->n_metrics; i++) {
      assert_string_equal(ev->names[i], res[k]->val_names[i]);
      if (ev->val[i] != res[k]->val[i]) fail_msg("%s: %s %.9g in eval, %.9g in training", runs[k], ev->names[i], ev->val[i], res[k]->val[i]);
    }
    loom_infer_close(s);
  }
}

/* ---- rank and search */

static void assert_sorted(const loom_hit *h, int n) {
  for (int i = 1; i < n; i++) assert_true(h[i - 1].score >= h[i].score);
  for (int i = 0; i < n; i++) assert_non_null(h[i].item);
}

static void test_rank(void **state) {
  (void)state;
  loom_hit h[10];
  unsigned flags;
  /* click model: P(click) for every (user, item) pair */
  loom_infer *s = open_ckpt("click", NULL);
  int n = loom_infer_rank(s, "u00004", NULL, 10, h, &flags, &err);
  assert_int_equal(n, 10);
  assert_int_equal(flags, 0);
  assert_sorted(h, n);
  assert_true(h[0].score > 0 && h[0].score < 1);
  n = loom_infer_rank(s, "no-such-user", NULL, 5, h, &flags, &err);
  assert_int_equal(n, 5);
  assert_int_equal(flags, LOOM_INFER_UNKNOWN_USER);
  /* the click model reads the session's query (configs/fashion-shop-click.ini: query_col, shared with the
   * text tower): a query changes the scores; one of unknown words is flagged */
  assert_true(loom_model_reads_query(loom_infer_model(s)));
  loom_hit hq[10];
  assert_int_equal(loom_infer_rank(s, "u00004", NULL, 10, h, &flags, &err), 10);
  assert_int_equal(loom_infer_rank(s, "u00004", "black ankle boot", 10, hq, &flags, &err), 10);
  assert_int_equal(flags, 0);
  bool qdiff = false;
  for (int i = 0; i < 10; i++) qdiff |= h[i].row != hq[i].row || h[i].score != hq[i].score;
  assert_true(qdiff);
  assert_int_equal(loom_infer_rank(s, "u00004", "qqqzz xyzzy", 10, hq, &flags, &err), 10);
  assert_int_equal(flags, LOOM_INFER_QUERY_UNKNOWN);
  for (int i = 0; i < 10; i++) assert_true(h[i].row == hq[i].row && h[i].score == hq[i].score);
  loom_infer_close(s);
  /* two towers: the item vectors once, then one user vector per request */
  s = open_ckpt("ranking", NULL);
  n = loom_infer_rank(s, "u00004", "black ankle boot", 10, h, &flags, &err);
  assert_int_equal(n, 10);
  assert_sorted(h, n);
  assert_string_equal(loom_infer_catalog_source(s), "computed");
  loom_hit h2[10];
  assert_int_equal(loom_infer_rank(s, "u00004", "black ankle boot", 10, h2, &flags, &err), 10);
  for (int i = 0; i < 10; i++) assert_true(h[i].row == h2[i].row && h[i].score == h2[i].score);
  assert_int_equal(loom_infer_rank(s, "u00004", NULL, 0, h, &flags, &err), -1);
  /* the user tower is used: two known users get different lists; an unknown one is flagged */
  assert_int_equal(loom_infer_rank(s, "u00004", NULL, 10, h, &flags, &err), 10);
  assert_int_equal(flags, 0);
  assert_int_equal(loom_infer_rank(s, "u00001", NULL, 10, h2, &flags, &err), 10);
  assert_int_equal(flags, 0);
  bool differ = false;
  for (int i = 0; i < 10; i++) differ |= h[i].row != h2[i].row || h[i].score != h2[i].score;
  assert_true(differ);
  assert_int_equal(loom_infer_rank(s, "nobody", NULL, 10, h2, &flags, &err), 10);
  assert_int_equal(flags, LOOM_INFER_UNKNOWN_USER);
  /* the query changes the scores; a query of unknown words is flagged (ranked by the user alone) */
  assert_int_equal(loom_infer_rank(s, "u00004", "black ankle boot", 10, h2, &flags, &err), 10);
  differ = false;
  for (int i = 0; i < 10; i++) differ |= h[i].row != h2[i].row || h[i].score != h2[i].score;
  assert_true(differ);
  assert_int_equal(loom_infer_rank(s, "u00004", "qqqzz xyzzy", 10, h2, &flags, &err), 10);
  assert_int_equal(flags, LOOM_INFER_QUERY_UNKNOWN);
  for (int i = 0; i < 10; i++) assert_true(h[i].row == h2[i].row && h[i].score == h2[i].score);
  assert_int_equal(loom_infer_rank(s, "", NULL, 10, h2, &flags, &err), -1);
  assert_non_null(strstr(err.msg, "user id is empty"));
  loom_infer_close(s);
  /* retrieval has no user input: no ranking "for a user" without a query, and with one the user is
   * ignored and said to be (the same list for every user, the query's own) */
  s = open_ckpt("retrieval", NULL);
  assert_int_equal(loom_infer_rank(s, "u00001", NULL, 5, h, &flags, &err), -1);
  assert_non_null(strstr(err.msg, "has no user input"));
  assert_int_equal(loom_infer_rank(s, "u00001", "black ankle boot", 5, h, &flags, &err), 5);
  assert_int_equal(flags, LOOM_INFER_USER_IGNORED);
  assert_int_equal(loom_infer_rank(s, "nobody", "black ankle boot", 5, h2, &flags, &err), 5);
  assert_int_equal(flags, LOOM_INFER_USER_IGNORED | LOOM_INFER_UNKNOWN_USER);
  loom_hit g[5];
  assert_int_equal(loom_infer_search_text(s, "black ankle boot", 5, g, &err), 5);
  for (int i = 0; i < 5; i++) assert_true(h[i].row == g[i].row && h[i].score == g[i].score && h2[i].row == g[i].row);
  assert_int_equal(loom_infer_rank(s, "u00001", "qqqzz xyzzy", 5, h, &flags, &err), -1);
  assert_non_null(strstr(err.msg, "vocabulary"));
  loom_infer_close(s);
  /* a click model without a query input: a query is refused, not silently ignored */
  s = open_ckpt("click-desc", NULL);
  assert_int_equal(loom_infer_rank(s, "u00004", "black ankle boot", 5, h, &flags, &err), -1);
  assert_non_null(strstr(err.msg, "no query input"));
  loom_infer_close(s);
}

/* ---- the training report's ranking examples: real queries, titles, the click marked, distinct users */

static void test_report_examples(void **state) {
  (void)state;
  char p[512];
  path(p, sizeof p, "ranking/report.html");
  char *html = tu_slurp(p, NULL);
  assert_null(strstr(html, "validation row"));
  char *interactions = tu_slurp(tu_src_path("datasets/fashion-shop-sample/interactions.csv"), NULL);
  char *items = tu_slurp(tu_src_path("datasets/fashion-shop-sample/items.csv"), NULL);
  char users[LOOM_EVAL_EXAMPLES][64];
  int n = 0;
  for (const char *at = strstr(html, "<p><b>user "); at; at = strstr(at + 1, "<p><b>user ")) {
    assert_true(n < LOOM_EVAL_EXAMPLES);
    sscanf(at + strlen("<p><b>user "), "%63[^<]", users[n]);
    for (int i = 0; i < n; i++) assert_string_not_equal(users[i], users[n]); /* distinct examples */
    const char *end = strstr(at, "<p><b>user ") == at ? strstr(at + 1, "<p><b>user ") : NULL;
    const char *q = strstr(at, ", query “");
    if (q && (!end || q < end)) { /* the query as the user typed it, on one of that user's rows */
      char query[128], row[256];
      sscanf(q + strlen(", query “"), "%127[^”]", query);
      snprintf(row, sizeof row, ",%s,", users[n]);
      bool found = false;
      for (const char *l = strstr(interactions, row); l && !found; l = strstr(l + 1, row)) {
        const char *eol = strchr(l, '\n'), *hitq = strstr(l, query);
        found = hitq && hitq < eol;
      }
      if (!found) fail_msg("query '%s' of user %s is not in the interactions", query, users[n]);
    }
    /* titles, not item ids: the first item's title is a title of the items table */
    char title[256], needle[300];
    const char *first = strstr(at, "1. ");
    assert_non_null(first);
    sscanf(first + 3, "%255[^<]", title);
    assert_false(title[0] == 'i' && title[1] == '0');
    snprintf(needle, sizeof needle, ",%s,", title);
    if (!strstr(items, needle) && !strchr(title, '&')) fail_msg("'%s' is not a title of items.csv", title);
    const char *note = strstr(at, "<p class='rn'>clicked: ");
    assert_non_null(note);
    assert_true(!end || note < end);
    n++;
  }
  assert_true(n >= 2);
  free(html), free(interactions), free(items);
}

/* ---- titles come from the items table, whatever text the model reads */

static void test_titles(void **state) {
  (void)state;
  loom_table t;
  loom_colspec spec[2] = {{"item_id", LOOM_COL_STRING, 0}, {"title", LOOM_COL_STRING, 0}};
  assert_int_equal(loom_table_read(&t, tu_src_path("datasets/fashion-shop-sample/items.csv"), spec, 2, NULL, &err), 0);
  const char *runs[] = {"click-desc", "click", "ranking"};
  for (int r = 0; r < 3; r++) {
    loom_infer *s = open_ckpt(runs[r], NULL);
    loom_hit h[5];
    assert_int_equal(loom_infer_rank(s, "u00004", NULL, 5, h, NULL, &err), 5);
    for (int i = 0; i < 5; i++) {
      assert_non_null(h[i].title);
      assert_string_equal(h[i].title, loom_table_str(&t, 1, h[i].row));
      assert_string_equal(h[i].item, loom_table_str(&t, 0, h[i].row));
    }
    loom_infer_close(s);
  }
  loom_table_free(&t);
}

static void test_search(void **state) {
  (void)state;
  loom_hit h[5];
  loom_infer *s = open_ckpt("retrieval", NULL);
  int n = loom_infer_search_text(s, "black ankle boot", 5, h, &err);
  assert_int_equal(n, 5);
  assert_sorted(h, n);
  assert_true(h[0].score <= 1.0001f && h[4].score >= -1.0001f);
  assert_int_equal(loom_infer_search_text(s, "  ", 5, h, &err), -1);
  assert_non_null(strstr(err.msg, "empty"));
  assert_int_equal(loom_infer_search_text(s, "qqqzz xyzzy", 5, h, &err), -1);
  assert_non_null(strstr(err.msg, "vocabulary"));
  /* a photo of catalogue item i00003 finds i00003 first */
  n = loom_infer_search_image(s, tu_src_path("datasets/fashion-shop-sample/images/i00003.png"), 5, h, &err);
  assert_int_equal(n, 5);
  assert_string_equal(h[0].item, "i00003");
  assert_true(fabsf(h[0].score - 1.0f) < 1e-4f);
  assert_int_equal(loom_infer_search_image(s, "/nonexistent/photo.jpg", 5, h, &err), -1);
  assert_non_null(strstr(err.msg, "/nonexistent/photo.jpg"));
  loom_infer_close(s);
  s = open_ckpt("click", NULL);
  assert_int_equal(loom_infer_search_text(s, "boot", 5, h, &err), -1);
  assert_non_null(strstr(err.msg, "no query tower"));
  loom_infer_close(s);
}

/* ---- cold start, cache, embeddings */

static void test_cold_start_and_cache(void **state) {
  (void)state;
  char items[512];
  path(items, sizeof items, "items-new.csv");
  /* the catalogue plus a new item (a copy of i00003 under a new key): scored from text and image */
  sh("cp '%s' '%s'", tu_src_path("datasets/fashion-shop-sample/items.csv"), items);
  sh("grep '^i00003,' '%s' | sed 's/^i00003,/NEW001,/' >> '%s'", tu_src_path("datasets/fashion-shop-sample/items.csv"), items);
  loom_infer_opts o = {.items = items, .item_cache = true};
  loom_infer *s = open_ckpt("retrieval", &o);
  loom_hit h[2];
  char img[512];
  snprintf(img, sizeof img, "%s", tu_src_path("datasets/fashion-shop-sample/images/i00003.png"));
  assert_int_equal(loom_infer_search_image(s, img, 2, h, &err), 2);
  bool found = false; /* the copy has the same photo: the two score 1 */
  for (int i = 0; i < 2; i++) found |= !strcmp(h[i].item, "NEW001") && h[i].unknown_item && fabsf(h[i].score - 1) < 1e-4f;
  assert_true(found);
  assert_int_equal(loom_infer_search_text(s, "boots", 2, h, &err), 2);
  assert_string_equal(loom_infer_catalog_source(s), "computed+saved");
  loom_infer_close(s);
  s = open_ckpt("retrieval", &o); /* the cache is reused, with identical results */
  loom_hit g[2];
  assert_int_equal(loom_infer_search_text(s, "boots", 2, g, &err), 2);
  assert_string_equal(loom_infer_catalog_source(s), "cache");
  for (int i = 0; i < 2; i++) assert_true(g[i].row == h[i].row && g[i].score == h[i].score);
  loom_infer_close(s);
  /* a cache whose vectors were replaced under the same key is not used: no checksum, or one that
   * does not match its data — rebuilt, with a note */
  char cache[512];
  snprintf(cache, sizeof cache, "%s/retrieval/best.items.safetensors", dir);
  for (int round = 0; round < 2; round++) {
    loom_st_file *cf0 = loom_st_open(cache, &err);
    assert_non_null(cf0);
    if (round == 0) { /* the vectors zeroed, every other piece of metadata kept, no checksum */
      const loom_st_tensor *t = loom_st_find(cf0, "item_vectors");
      float *zero = calloc(t->numel, sizeof(float));
      loom_st_writer *w = loom_st_writer_new();
      assert_int_equal(loom_st_writer_add(w, "item_vectors", LOOM_ST_F32, 2, t->shape, zero, &err), 0);
      for (int i = 0; i < loom_st_meta_count(cf0); i++) {
        const char *k, *v;
        loom_st_meta_at(cf0, i, &k, &v);
        if (strcmp(k, LOOM_ST_CHECKSUM_KEY) != 0) assert_int_equal(loom_st_writer_meta(w, k, v, &err), 0);
      }
      loom_st_close(cf0);
      assert_int_equal(loom_st_write(w, cache, &err), 0);
      loom_st_writer_free(w);
      free(zero);
    } else { /* one flipped exponent bit in the last vector */
      loom_st_close(cf0);
      FILE *fp = fopen(cache, "r+b");
      assert_non_null(fp);
      fseek(fp, -1, SEEK_END);
      int c = fgetc(fp);
      fseek(fp, -1, SEEK_END);
      fputc(c ^ 0x40, fp);
      fclose(fp);
    }
    s = open_ckpt("retrieval", &o);
    assert_int_equal(loom_infer_search_text(s, "boots", 2, g, &err), 2);
    assert_string_equal(loom_infer_catalog_source(s), "computed+saved");
    for (int i = 0; i < 2; i++) assert_true(g[i].row == h[i].row && g[i].score == h[i].score);
    assert_int_equal(loom_infer_n_notes(s), 1);
    assert_non_null(strstr(loom_infer_note(s, 0), "item cache"));
    assert_non_null(strstr(loom_infer_note(s, 0), round == 0 ? "no checksum" : "does not match its SHA-256"));
    loom_infer_close(s);
  }
  sh("sed -i 's/^NEW001,/NEW002,/' '%s'%s", items, ""); /* a changed catalogue invalidates it */
  s = open_ckpt("retrieval", &o);
  assert_int_equal(loom_infer_search_text(s, "boots", 2, g, &err), 2);
  assert_string_equal(loom_infer_catalog_source(s), "computed+saved");
  /* a cache that cannot be written: the answer still comes, with a note saying why it was not saved */
  char cdir[512], cmd[2048];
  path(cdir, sizeof cdir, "cachefail");
  snprintf(cmd, sizeof cmd, "mkdir -p '%1$s/best.items.safetensors' && cp '%2$s/retrieval/best.safetensors' '%1$s/'", cdir, dir);
  assert_int_equal(system(cmd), 0);
  snprintf(cmd, sizeof cmd, "%s/best.safetensors", cdir);
  loom_infer *cf = loom_infer_open(cmd, &o, &err);
  assert_non_null(cf);
  loom_hit g2[2];
  assert_int_equal(loom_infer_search_text(cf, "boots", 2, g2, &err), 2);
  for (int i = 0; i < 2; i++) assert_true(g2[i].row == g[i].row && g2[i].score == g[i].score);
  assert_int_equal(loom_infer_n_notes(cf), 1);
  assert_non_null(strstr(loom_infer_note(cf, 0), "item cache not saved"));
  assert_string_equal(loom_infer_catalog_source(cf), "computed (cache not saved)");
  loom_infer_close(cf);
  /* embeddings: (N, D) with the keys in order */
  char out[512];
  path(out, sizeof out, "items.safetensors");
  assert_int_equal(loom_infer_embed(s, "items", out, &err), 0);
  loom_st_file *f = loom_st_open(out, &err);
  assert_non_null(f);
  const loom_st_tensor *t = loom_st_find(f, "item_vectors");
  assert_non_null(t);
  assert_int_equal(t->shape[0], loom_infer_catalog_size(s, &err));
  assert_int_equal(t->shape[1], 16);
  assert_non_null(strstr(loom_st_meta(f, "ids"), "\"NEW002\"]"));
  loom_st_close(f);
  assert_int_equal(loom_infer_embed(s, "users", out, &err), -1); /* retrieval has no user tower */
  loom_infer_close(s);
  s = open_ckpt("ranking", NULL);
  assert_int_equal(loom_infer_embed(s, "users", out, &err), 0);
  loom_infer_close(s);
}

/* ---- the head model of a pointwise model scores as the full model does */

static void test_head_model(void **state) {
  (void)state;
  loom_data_section dsec;
  loom_config *c = loom_train_config_new(&dsec);
  const char *sets[8];
  int n = tu_sample_sets(sets);
  assert_int_equal(loom_config_load(c, tu_src_path("configs/fashion-shop-click.ini"), &err), 0);
  for (int i = 0; i < n; i++) assert_int_equal(loom_config_set_arg(c, sets[i], &err), 0);
  loom_dataset *ds = loom_dataset_open(&dsec.schema, NULL, &err);
  assert_non_null(ds);
  loom_model *m = loom_model_build(c, ds, &err);
  assert_non_null(m);
  loom_data_schema sc = dsec.schema;
  sc.interactions[0] = '\0';
  loom_dataset *cat = loom_dataset_open(&sc, loom_dataset_prep(ds), &err);
  assert_non_null(cat);
  enum { B = 16 };
  loom_batch b;
  assert_int_equal(loom_batch_init(&b, cat, B, &err), 0);
  int64_t rows[B];
  for (int i = 0; i < B; i++) rows[i] = 7 * i;
  assert_int_equal(loom_dataset_encode_pairs(cat, "u00004", NULL, rows, B, &b, &err), 0);
  /* the full model, then its item towers alone */
  assert_int_equal(loom_model_compile(m, B, false, &err), 0);
  assert_int_equal(loom_model_bind(m, &b, &err), 0);
  loom_graph_forward(loom_model_graph(m));
  float z[B], text[B * 64], image[B * 64];
  memcpy(z, loom_model_logits(m)->data, sizeof z);
  assert_true(loom_model_tower_out(m, 0) && loom_model_tower_out(m, 1) && !loom_model_tower_out(m, 2)); /* text, image; not interaction */
  assert_true(loom_model_tower_dim(m, 0) <= 64 && loom_model_tower_dim(m, 1) <= 64);
  assert_int_equal(loom_model_compile_outputs(m, B, 2, (loom_tensor *[]){loom_model_tower_out(m, 0), loom_model_tower_out(m, 1)}, &err), 0);
  assert_int_equal(loom_model_bind(m, &b, &err), 0);
  loom_graph_forward(loom_model_graph(m));
  memcpy(text, loom_model_tower_out(m, 0)->data, sizeof(float) * B * loom_model_tower_dim(m, 0));
  memcpy(image, loom_model_tower_out(m, 1)->data, sizeof(float) * B * loom_model_tower_dim(m, 1));
  /* the head from those outputs */
  loom_model *h = loom_model_build_head(c, ds, m, &err);
  assert_non_null(h);
  assert_null(loom_model_input_tokens(h));
  assert_null(loom_model_input_image(h));
  assert_int_equal(loom_model_compile(h, B, false, &err), 0);
  assert_int_equal(loom_model_bind(h, &b, &err), 0);
  loom_input_bind(loom_model_tower_in(h, 0), text);
  loom_input_bind(loom_model_tower_in(h, 1), image);
  loom_graph_forward(loom_model_graph(h));
  tu_assert_close("head logits", loom_model_logits(h)->data, z, B, 1e-5, 1e-5);
  loom_model_free(h);
  loom_batch_free(&b);
  loom_dataset_free(cat);
  loom_model_free(m);
  loom_dataset_free(ds);
  loom_config_free(c);
}

/* ---- a multiclass model: class names per row; it classifies, it does not rank */

typedef struct {
  int n, named;
} classes;

static int on_class(void *ctx, const loom_infer_row *r) {
  classes *c = ctx;
  c->n++;
  c->named += r->cls >= 0 && r->probs && r->score == r->probs[r->cls] && r->score > 0 && r->score <= 1;
  return 0;
}

static void test_multiclass(void **state) {
  (void)state;
  loom_infer *s = open_ckpt("category", NULL);
  assert_int_equal(loom_infer_task(s), LOOM_TASK_MULTICLASS);
  assert_string_equal(loom_infer_class_name(s, 0), "Ankle boot"); /* sorted class names */
  char items[512];
  path(items, sizeof items, "items-cat.csv");
  classes c = {0, 0};
  assert_int_equal(loom_infer_score_csv(s, items, on_class, &c, &err), 0);
  assert_int_equal(c.n, 300);
  assert_int_equal(c.named, 300);
  loom_hit h[3];
  assert_int_equal(loom_infer_rank(s, "u00004", NULL, 3, h, NULL, &err), -1);
  assert_non_null(strstr(err.msg, "does not rank"));
  assert_int_equal(loom_infer_embed(s, "items", "/nonexistent/x.safetensors", &err), -1);
  assert_non_null(strstr(err.msg, "no separate item and user towers"));
  /* the run's own data changed since training: eval on its split refuses */
  assert_non_null(loom_infer_eval(s, NULL, LOOM_SPLIT_VAL, &err));
  sh("sed -i 's/,Sandal,/,Sandals,/' '%s'%s", items, "");
  assert_null(loom_infer_eval(s, NULL, LOOM_SPLIT_VAL, &err));
  assert_non_null(strstr(err.msg, "changed since this checkpoint was trained"));
  loom_infer_close(s);
}

/* ---- checkpoints tampered with one rule at a time */

/* Copies checkpoint src to dst with metadata `key` set to `value` (NULL: dropped), and `tensor`'s first
 * element set to x (a new one-element tensor when the file has none of that name). */
static bool rewrite_checksums = true; /* false: as an older loom wrote them, without checksums */
static void rewrite(const char *src, const char *dst, const char *key, const char *value, const char *tensor, float x) {
  loom_st_file *f = loom_st_open(src, &err);
  assert_non_null(f);
  loom_st_writer *w = loom_st_writer_new();
  loom_st_writer_checksums(w, rewrite_checksums); /* recomputed: the tampering below is "consistent" */
  float *bufs[512];
  int nb = 0;
  bool found = false;
  for (int i = 0; i < loom_st_count(f); i++) {
    const loom_st_tensor *t = loom_st_tensor_at(f, i);
    assert_true(t->dtype == LOOM_ST_F32 && nb < 512);
    float *b = bufs[nb++] = malloc(sizeof(float) * (t->numel ? t->numel : 1));
    assert_int_equal(loom_st_read_f32(f, t->name, b, t->numel, &err), 0);
    if (tensor && !strcmp(t->name, tensor)) b[0] = x, found = true;
    assert_int_equal(loom_st_writer_add(w, t->name, LOOM_ST_F32, t->ndim, t->shape, b, &err), 0);
  }
  float extra = x;
  if (tensor && !found) assert_int_equal(loom_st_writer_add(w, tensor, LOOM_ST_F32, 1, (int64_t[]){1}, &extra, &err), 0);
  for (int i = 0; i < loom_st_meta_count(f); i++) {
    const char *k, *v;
    loom_st_meta_at(f, i, &k, &v);
    if (key && !strcmp(k, key)) v = value;
    if (!strcmp(k, LOOM_ST_CHECKSUM_KEY)) continue;
    if (v) assert_int_equal(loom_st_writer_meta(w, k, v, &err), 0);
  }
  assert_int_equal(loom_st_write(w, dst, &err), 0);
  loom_st_writer_free(w);
  loom_st_close(f);
  for (int i = 0; i < nb; i++) free(bufs[i]);
}

static void expect_refused(const char *key, const char *value, const char *tensor, float x, const char *want) {
  char src[512], dst[512];
  snprintf(src, sizeof src, "%s/click/best.safetensors", dir);
  path(dst, sizeof dst, "tampered.safetensors");
  rewrite(src, dst, key, value, tensor, x);
  loom_infer *s = loom_infer_open(dst, NULL, &err);
  if (s) fail_msg("a checkpoint with %s was accepted", want);
  if (!strstr(err.msg, want) || !strstr(err.msg, dst)) fail_msg("expected '%s' in: %s", want, err.msg);
}

static void test_tampered_checkpoints(void **state) {
  (void)state;
  char src[512], cfg[16384];
  snprintf(src, sizeof src, "%s/click/best.safetensors", dir);
  loom_st_file *f = loom_st_open(src, &err);
  assert_non_null(f);
  snprintf(cfg, sizeof cfg, "%s", loom_st_meta(f, "loom.config"));
  loom_st_close(f);
  /* the untouched copy opens, and so does the resumable last.safetensors (optimiser state skipped) */
  char dst[512];
  path(dst, sizeof dst, "copy.safetensors");
  rewrite(src, dst, NULL, NULL, NULL, 0);
  loom_infer *s = loom_infer_open(dst, NULL, &err);
  assert_non_null(s);
  loom_infer_close(s);
  loom_infer_close(open_ckpt("click", NULL));
  snprintf(dst, sizeof dst, "%s/click/last.safetensors", dir);
  assert_non_null(s = loom_infer_open(dst, NULL, &err));
  loom_infer_close(s);
  /* trained checkpoints carry checksums and open without a note; an older one opens with a note */
  s = open_ckpt("click", NULL);
  assert_int_equal(loom_infer_n_notes(s), 0);
  loom_infer_close(s);
  rewrite_checksums = false;
  rewrite(src, dst, NULL, NULL, NULL, 0);
  rewrite_checksums = true;
  assert_non_null(s = loom_infer_open(dst, NULL, &err));
  assert_int_equal(loom_infer_n_notes(s), 1);
  assert_non_null(strstr(loom_infer_note(s, 0), "no tensor checksums"));
  loom_infer_close(s);
  /* one flipped exponent bit in a tensor: refused, naming the file and the tensor (not all-zero scores) */
  path(dst, sizeof dst, "flipped.safetensors");
  sh("cp '%s' '%s'", src, dst);
  FILE *fp = fopen(dst, "r+b");
  assert_non_null(fp);
  fseek(fp, -1, SEEK_END); /* the last tensor's last float: its sign and exponent byte */
  int c = fgetc(fp);
  fseek(fp, -1, SEEK_END);
  fputc(c ^ 0x40, fp);
  fclose(fp);
  assert_null(loom_infer_open(dst, NULL, &err));
  assert_non_null(strstr(err.msg, dst));
  assert_non_null(strstr(err.msg, "does not match its SHA-256"));
  f = loom_st_open(src, &err);
  assert_non_null(f);
  char tname[300];
  snprintf(tname, sizeof tname, "tensor '%s'", loom_st_tensor_at(f, loom_st_count(f) - 1)->name);
  loom_st_close(f);
  assert_non_null(strstr(err.msg, tname));
  /* preprocessing from a future loom, and standard deviations no fit can give */
  char prep[65536], bad[65536];
  f = loom_st_open(src, &err);
  snprintf(prep, sizeof prep, "%s", loom_st_meta(f, "loom.prep"));
  loom_st_close(f);
  char *vat = strstr(prep, "\"version\":1");
  assert_non_null(vat);
  snprintf(bad, sizeof bad, "%.*s\"version\":2%s", (int)(vat - prep), prep, vat + strlen("\"version\":1"));
  expect_refused("loom.prep", bad, NULL, 0, "format version 2 is not the one this loom reads");
  char *sat = strstr(prep, "\"std\":[");
  assert_non_null(sat);
  sat += strlen("\"std\":[");
  const char *rest = sat + strcspn(sat, ",]");
  snprintf(bad, sizeof bad, "%.*s-0.5%s", (int)(sat - prep), prep, rest);
  expect_refused("loom.prep", bad, NULL, 0, "std -0.5");
  snprintf(bad, sizeof bad, "%.*s1e999%s", (int)(sat - prep), prep, rest);
  expect_refused("loom.prep", bad, NULL, 0, "a standard deviation must be finite and >= 0");
  expect_refused("loom.format", "other-tool/1", NULL, 0, "not a loom-train checkpoint");
  expect_refused("loom.prep", NULL, NULL, 0, "metadata 'loom.prep' is missing");
  expect_refused("loom.task", "multiclass", NULL, 0, "disagrees with its config");
  expect_refused("loom.prep", "{\"vocab\": 3", NULL, 0, "metadata loom.prep");
  expect_refused(NULL, NULL, "junk.weight", 1, "tensor 'junk.weight' belongs to no parameter");
  expect_refused(NULL, NULL, "head.weight", NAN, "tensor 'head.weight' element 0 = nan is not finite");
  /* a config that describes another model, and one with a key this loom does not know */
  char other[16384], *at = strstr(cfg, "hidden = 8");
  assert_non_null(at);
  snprintf(other, sizeof other, "%.*shidden = 9%s", (int)(at - cfg), cfg, at + strlen("hidden = 8"));
  expect_refused("loom.config", other, NULL, 0, "do not fit the model");
  at = strstr(cfg, "[text]\n");
  assert_non_null(at);
  snprintf(other, sizeof other, "%.*s[text]\nfrobnicate = 1\n%s", (int)(at - cfg), cfg, at + strlen("[text]\n"));
  expect_refused("loom.config", other, NULL, 0, "frobnicate");
}

/* ---- bad input */

static void test_bad_input(void **state) {
  (void)state;
  char p[512], q[512];
  loom_infer *s = open_ckpt("click", NULL);
  /* a rows file without a column the model reads */
  path(p, sizeof p, "nocol.csv");
  sh("cut -d, -f1-5 '%s/val.csv' > '%s'", dir, p);
  collect c = {NULL, NULL, 0, 0};
  assert_int_equal(loom_infer_score_csv(s, p, on_row, &c, &err), -1);
  assert_non_null(strstr(err.msg, p));
  assert_non_null(strstr(err.msg, "column 'position'"));
  /* eval needs labels */
  path(q, sizeof q, "nolabel.csv");
  sh("sed 's/clicked/clicked_x/' '%s' > '%s'", tu_src_path("datasets/fashion-shop-sample/interactions.csv"), q);
  assert_null(loom_infer_eval(s, q, LOOM_SPLIT_ALL, &err));
  assert_non_null(strstr(err.msg, "label"));
  loom_infer_close(s);
  /* a catalogue whose image is missing: the message names file, line and column */
  path(p, sizeof p, "items-badimg.csv");
  sh("sed 's#images/i00007.png#images/missing.png#' '%s' > '%s'", tu_src_path("datasets/fashion-shop-sample/items.csv"), p);
  loom_infer_opts o = {.items = p};
  s = open_ckpt("retrieval", &o);
  loom_hit h[3];
  assert_int_equal(loom_infer_search_text(s, "boots", 3, h, &err), -1);
  assert_non_null(strstr(err.msg, "items-badimg.csv:9"));
  assert_non_null(strstr(err.msg, "missing.png"));
  loom_infer_close(s);
  /* a catalogue with no rows; photo search on a model without an image tower; an unknown embed kind */
  path(p, sizeof p, "items-empty.csv");
  sh("head -1 '%s' > '%s'", tu_src_path("datasets/fashion-shop-sample/items.csv"), p);
  o.items = p;
  s = open_ckpt("retrieval", &o);
  assert_int_equal(loom_infer_search_text(s, "boots", 3, h, &err), -1);
  assert_non_null(strstr(err.msg, "items-empty.csv"));
  loom_infer_close(s);
  s = open_ckpt("click", NULL);
  assert_int_equal(loom_infer_search_image(s, tu_src_path("datasets/fashion-shop-sample/images/i00003.png"), 3, h, &err), -1);
  assert_non_null(strstr(err.msg, "no image tower"));
  loom_infer_close(s);
  s = open_ckpt("ranking", NULL);
  assert_int_equal(loom_infer_embed(s, "shops", "/nonexistent/x.safetensors", &err), -1);
  assert_non_null(strstr(err.msg, "'shops' is not items or users"));
  loom_infer_close(s);
  /* corrupt and foreign checkpoints */
  char ck[512];
  snprintf(ck, sizeof ck, "%s/click/best.safetensors", dir);
  path(p, sizeof p, "trunc.safetensors");
  sh("head -c 3000 '%s' > '%s'", ck, p);
  assert_null(loom_infer_open(p, NULL, &err));
  assert_non_null(strstr(err.msg, p));
  path(p, sizeof p, "v9.safetensors");
  sh("sed 's#loom-train/1#loom-train/9#' '%s' > '%s'", ck, p);
  assert_null(loom_infer_open(p, NULL, &err));
  assert_non_null(strstr(err.msg, "loom-train/9"));
  path(p, sizeof p, "other.safetensors");
  loom_st_writer *w = loom_st_writer_new();
  float x = 1;
  assert_int_equal(loom_st_writer_add(w, "w", LOOM_ST_F32, 1, (int64_t[]){1}, &x, &err), 0);
  assert_int_equal(loom_st_write(w, p, &err), 0);
  loom_st_writer_free(w);
  assert_null(loom_infer_open(p, NULL, &err));
  assert_non_null(strstr(err.msg, "not a loom checkpoint"));
  assert_null(loom_infer_open("/nonexistent/best.safetensors", NULL, &err));
  assert_non_null(strstr(err.msg, "/nonexistent/best.safetensors"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_eval_matches_training),
      cmocka_unit_test(test_text_encoders_eval_matches_training), cmocka_unit_test(test_rank),
      cmocka_unit_test(test_search),                cmocka_unit_test(test_cold_start_and_cache),
      cmocka_unit_test(test_head_model),            cmocka_unit_test(test_multiclass),
      cmocka_unit_test(test_titles),                cmocka_unit_test(test_report_examples),
      cmocka_unit_test(test_tampered_checkpoints),  cmocka_unit_test(test_bad_input),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
