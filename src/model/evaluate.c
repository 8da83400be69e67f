/* evaluate.c — metrics of a model on a split (loom/evaluate.h): one eval-mode pass over the split's
 * batches; binary and multiclass metrics from the logits; ranking by scoring every item against each
 * positive row's user vector (full ranking, training positives excluded) and against sampled
 * negatives; retrieval by cosine similarity (a triplet model: its task.distance) in both directions.
 * The trainer decides what is "best";
 * this file only measures. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "loom/runtime.h"
#include "loom/alloc.h"
#include "loom/evaluate.h"
#include "heads.h"
#include "loom/model_spec.h"
#include "model_internal.h"

static const char *const rank_names[] = {"recall", "ndcg", "mrr", "hit", "precision"};

static void add_name(loom_evaluator *ev, const char *fmt, const char *a, const char *b, int k) {
  snprintf(ev->names[ev->n_metrics++], sizeof ev->names[0], fmt, a, b, k);
}

static void *alloc_n(int64_t n, size_t size) { return loom_malloc((size_t)(n > 0 ? n : 1) * size); }

/* Ranking: metric names, item-vector buffers and each user's training positives (CSR, sorted, as
 * candidate indices item id - 1), which full ranking excludes (RecBole's convention). */
static int setup_ranking(loom_evaluator *ev, const loom_task_spec *t, const loom_fusion_spec *fu, loom_error *err) {
  const int nk = t->n_ks;
  if (nk < 1 || nk > LOOM_MAX_KS) return loom_errorf(err, "[task] ks: give 1 to %d cut-offs", LOOM_MAX_KS);
  ev->n_k = nk;
  for (int i = 0; i < nk; i++) ev->ks[i] = t->ks[i];
  if (ev->m->task == LOOM_TASK_RETRIEVAL) {
    const char *rn[] = {"t2i_recall", "t2i_ndcg", "t2i_mrr", "i2t_recall", "i2t_ndcg"};
    for (int j = 0; j < 5; j++)
      for (int i = 0; i < nk; i++) add_name(ev, "%s%s@%d", rn[j], "", ev->ks[i]);
  } else {
    for (int s = 0; s < 2; s++)
      for (int j = 0; j < (s ? 3 : 5); j++)
        for (int i = 0; i < nk; i++) add_name(ev, "%s%s@%d", s ? "s_" : "", rank_names[j], ev->ks[i]);
  }
  loom_dataset *ds = ev->ds;
  int32_t N = loom_dataset_num_items(ds);
  ev->D = fu->dim;
  ev->E = t->eval_negatives;
  const loom_prep *pp = loom_dataset_prep(ds);
  int U = pp->users ? loom_idmap_size(pp->users) : 1;
  int64_t nv = ev->cap;
  ev->Q = alloc_n(nv * ev->D, sizeof(float));
  ev->qitem = alloc_n(nv, sizeof(int32_t));
  ev->rel = alloc_n(nv, sizeof(int32_t));
  ev->QS = alloc_n(nv, sizeof(float));
  ev->ranks_n = alloc_n(nv, sizeof(int64_t));
  ev->V = loom_calloc((size_t)N * (size_t)ev->D + 1, sizeof(float));
  ev->S = alloc_n(N, sizeof(float));
  ev->cand = alloc_n(ev->E + 1, sizeof(float));
  ev->negs = alloc_n(ev->E, sizeof(int32_t));
  ev->ranks = alloc_n(2, sizeof(int64_t));
  ev->pos_off = loom_calloc((size_t)U + 1, sizeof(int32_t));
  if (!ev->Q || !ev->qitem || !ev->rel || !ev->QS || !ev->ranks_n || !ev->V || !ev->S || !ev->cand || !ev->negs ||
      !ev->ranks || !ev->pos_off)
    return loom_errorf(err, "out of memory for ranking evaluation over %d items", N);
  int64_t ntr = loom_dataset_rows(ds, LOOM_SPLIT_TRAIN);
  const int32_t *rows = loom_dataset_split_rows(ds, LOOM_SPLIT_TRAIN);
  int32_t *pu = alloc_n(ntr, sizeof(int32_t)), *pi = alloc_n(ntr, sizeof(int32_t));
  loom_batch tb;
  if (!pu || !pi || loom_batch_init(&tb, ds, 256, err) < 0) {
    loom_free(pu), loom_free(pi);
    return loom_errorf(err, "out of memory for ranking evaluation");
  }
  int64_t np = 0;
  for (int64_t s = 0; s < ntr; s += 256) {
    int n = (int)(ntr - s < 256 ? ntr - s : 256);
    if (loom_dataset_encode(ds, rows + s, n, &tb, err) < 0) {
      loom_batch_free(&tb);
      loom_free(pu), loom_free(pi);
      return -1;
    }
    for (int i = 0; i < n; i++)
      if ((!tb.label || tb.label[i] > 0.5f) && tb.user) pu[np] = tb.user[i], pi[np] = tb.item[i], np++;
  }
  loom_batch_free(&tb);
  for (int64_t i = 0; i < np; i++) ev->pos_off[pu[i] + 1]++;
  for (int u = 0; u < U; u++) ev->pos_off[u + 1] += ev->pos_off[u];
  int32_t *fill = alloc_n(U + 1, sizeof(int32_t));
  ev->pos_item = alloc_n(np, sizeof(int32_t));
  if (!fill || !ev->pos_item) {
    loom_free(pu), loom_free(pi), loom_free(fill);
    return loom_errorf(err, "out of memory for ranking evaluation");
  }
  memcpy(fill, ev->pos_off, sizeof(int32_t) * (size_t)(U + 1));
  for (int64_t i = 0; i < np; i++) ev->pos_item[fill[pu[i]]++] = pi[i] - 1;
  loom_free(pu), loom_free(pi), loom_free(fill);
  return 0;
}

loom_evaluator *loom_evaluator_new(loom_model *m, loom_dataset *ds, const loom_config *c, loom_split sp, loom_error *err) {
  loom_evaluator *ev = loom_calloc(1, sizeof *ev);
  if (!ev) {
    loom_errorf(err, "out of memory");
    return NULL;
  }
  ev->m = m, ev->ds = ds, ev->split = sp;
  loom_model_spec s;
  loom_model_spec_read(c, &s);
  ev->threshold = s.task.threshold;
  if (m->task == LOOM_TASK_RETRIEVAL && s.task.loss == LOOM_LOSS_TRIPLET) {
    static const int codes[] = {[LOOM_DIST_COSINE] = 0, [LOOM_DIST_DOT] = 1, [LOOM_DIST_EUCLIDEAN] = 2,
                                [LOOM_DIST_MANHATTAN] = 3}; /* ev->distance's */
    ev->distance = codes[s.task.distance];
  }
  ev->cap = loom_dataset_rows(ds, sp);
  static const char *const split_names[] = {"training", "validation", "test", "input"};
  if (ev->cap <= 0) {
    loom_errorf(err, "[data] the %s split is empty — %s", split_names[sp],
                sp == LOOM_SPLIT_VAL ? "set split_ratio (e.g. 0.8,0.1,0.1) or give 'valid' rows in split_col"
                                     : "nothing to evaluate");
    goto fail;
  }
  if (m->n_heads > 0) { /* regression, multitask: evaluate_heads.c */
    if (loom_eval_heads_setup(ev, err) < 0) goto fail;
    return ev;
  }
  if (m->task == LOOM_TASK_BINARY) {
    const char *n[] = {"auc", "logloss", "accuracy", "precision", "recall", "f1"};
    for (int i = 0; i < 6; i++) add_name(ev, "%s%s", n[i], "", 0);
    if (loom_dataset_prep(ds)->users) add_name(ev, "%s%s", "gauc", "", 0); /* per-user AUC: needs user_col */
  } else if (m->task == LOOM_TASK_MULTICLASS) {
    add_name(ev, "%s%s", "accuracy", "", 0);
    add_name(ev, "%s%s", "macro_f1", "", 0);
  } else {
    if (setup_ranking(ev, &s.task, &s.fusion, err) < 0) goto fail;
    return ev;
  }
  size_t n = (size_t)ev->cap, K = (size_t)m->n_classes;
  ev->scores = loom_malloc(sizeof(float) * n);
  ev->probs = loom_malloc(sizeof(float) * n);
  ev->labels = loom_malloc(sizeof(float) * n);
  ev->preds = loom_malloc(sizeof(int32_t) * n);
  ev->truth = loom_malloc(sizeof(int32_t) * n);
  ev->groups = loom_malloc(sizeof(int32_t) * n);
  ev->confusion = loom_calloc(K * K, sizeof(int64_t));
  if (!ev->scores || !ev->probs || !ev->labels || !ev->preds || !ev->truth || !ev->groups || !ev->confusion) {
    loom_errorf(err, "out of memory for %" PRId64 " evaluation rows", ev->cap);
    goto fail;
  }
  return ev;
fail:
  loom_evaluator_free(ev);
  return NULL;
}

void loom_evaluator_free(loom_evaluator *ev) {
  if (!ev) return;
  loom_free(ev->scores), loom_free(ev->probs), loom_free(ev->labels), loom_free(ev->preds), loom_free(ev->truth);
  loom_free(ev->confusion), loom_free(ev->groups);
  loom_free(ev->V), loom_free(ev->S), loom_free(ev->cand), loom_free(ev->Q), loom_free(ev->QS);
  loom_free(ev->qitem), loom_free(ev->rel), loom_free(ev->negs), loom_free(ev->pos_off), loom_free(ev->pos_item);
  loom_free(ev->ranks), loom_free(ev->ranks_n);
  loom_free(ev);
}

/* Row index by key for the items table t's column 0, as the dataset's item ids: (N) -> row or -1. */
static int64_t *rows_by_item(const loom_table *t, const loom_prep *p, int32_t N) {
  int64_t *row = alloc_n(N, sizeof(int64_t));
  if (!row) return NULL;
  for (int32_t i = 0; i < N; i++) row[i] = -1;
  for (int64_t r = 0; r < t->nrows; r++) {
    int32_t id = loom_idmap_get(p->items, loom_table_str(t, 0, r));
    if (id > 0 && id < N && row[id] < 0) row[id] = r;
  }
  return row;
}

int loom_evaluator_examples(const loom_evaluator *ev, const loom_data_schema *sc,
                            int (*emit)(void *ctx, const loom_eval_example *ex), void *ctx, loom_error *err) {
  if (ev->ex_n == 0) return 0;
  const loom_prep *p = loom_dataset_prep(ev->ds);
  int32_t N = loom_dataset_num_items(ev->ds);
  /* the queries as written: the interactions file's query column at the examples' lines */
  loom_table qt = {0}, it = {0};
  bool have_q = false, have_i = false, read_q = false;
  loom_error ignored; /* best effort: the files were read for training; a problem costs only the display */
  if (sc->query_col[0]) {
    loom_colspec qs = {sc->query_col, LOOM_COL_STRING, 1};
    read_q = loom_table_read(&qt, sc->interactions, &qs, 1, NULL, &ignored) == 0;
    have_q = read_q && qt.cols[0].present;
  }
  int64_t *item_row = NULL;
  if (sc->items[0]) {
    const char *key = sc->item_key[0] ? sc->item_key : sc->item_col;
    loom_colspec is[3] = {{key, LOOM_COL_STRING, 0}, {"title", LOOM_COL_STRING, 1},
                          {sc->image_col[0] ? sc->image_col : "image", LOOM_COL_STRING, 1}};
    have_i = loom_table_read(&it, sc->items, is, 3, NULL, &ignored) == 0;
    if (have_i) item_row = rows_by_item(&it, p, N);
  }
  typedef char path_buf[2 * LOOM_DATA_PATH + 2];
  path_buf *paths = loom_malloc(sizeof(path_buf) * 20);
  int rc = paths && (!have_i || item_row) ? 0 : loom_errorf(err, "out of memory for the report's examples");
  for (int e = 0; e < ev->ex_n && rc == 0; e++) {
    const char *titles[20], *imgs[20];
    int marked = -1;
    for (int k = 0; k < ev->ex_k; k++) {
      int32_t id = ev->ex_top[e][k] + 1;
      int64_t r = item_row && id > 0 && id < N ? item_row[id] : -1;
      const char *title = r >= 0 && it.cols[1].present ? loom_table_str(&it, 1, r) : NULL;
      titles[k] = title && title[0] ? title : loom_idmap_key(p->items, id);
      imgs[k] = NULL;
      const char *rel = r >= 0 && sc->image_col[0] && it.cols[2].present ? loom_table_str(&it, 2, r) : "";
      if (rel[0]) {
        if (rel[0] == '/' || !sc->image_root[0]) snprintf(paths[k], sizeof paths[k], "%s", rel);
        else snprintf(paths[k], sizeof paths[k], "%s/%s", sc->image_root, rel);
        imgs[k] = paths[k];
      }
      if (ev->ex_top[e][k] == ev->ex_rel[e]) marked = k;
    }
    const char *query = NULL;
    if (have_q) { /* the row's line among the table's (ascending) lines */
      int64_t line = loom_dataset_row_line(ev->ds, ev->ex_row[e]), lo = 0, hi = qt.nrows;
      while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (qt.line[mid] < line) lo = mid + 1;
        else hi = mid;
      }
      if (lo < qt.nrows && qt.line[lo] == line) query = loom_table_str(&qt, 0, lo);
    }
    char note[600];
    int32_t rid = ev->ex_rel[e] + 1;
    int64_t rr = item_row && rid > 0 && rid < N ? item_row[rid] : -1;
    const char *rt = rr >= 0 && it.cols[1].present && loom_table_str(&it, 1, rr)[0] ? loom_table_str(&it, 1, rr)
                                                                                   : loom_idmap_key(p->items, rid);
    if (marked >= 0) snprintf(note, sizeof note, "clicked: %s (rank %lld)", rt ? rt : "?", (long long)ev->ex_rank[e]);
    else snprintf(note, sizeof note, "clicked: %s, ranked %lld (not in the top %d)", rt ? rt : "?",
                  (long long)ev->ex_rank[e], ev->ex_k);
    if (ev->m->task == LOOM_TASK_RETRIEVAL) /* the clicked item is the query's own */
      snprintf(note, sizeof note, marked >= 0 ? "the query's item: %s (rank %lld)"
                                              : "the query's item: %s, ranked %lld (not in the top %d)",
               rt ? rt : "?", (long long)ev->ex_rank[e], ev->ex_k);
    const char *uk = ev->m->task == LOOM_TASK_RETRIEVAL ? "" : loom_idmap_key(p->users, ev->ex_user[e]);
    const loom_eval_example ex = {uk ? uk : "(unknown user)", query, ev->ex_k, titles, imgs, ev->ex_score[e], marked,
                                  note};
    if (emit(ctx, &ex) != 0) rc = loom_errorf(err, "out of memory for the report's examples");
  }
  loom_free(item_row), loom_free(paths);
  if (have_i) loom_table_free(&it);
  if (read_q) loom_table_free(&qt);
  return rc;
}

int loom_evaluator_find(const loom_evaluator *ev, const char *name) {
  for (int i = 0; i < ev->n_metrics; i++)
    if (!strcmp(ev->names[i], name)) return i;
  return -1;
}

static float dot(const float *a, const float *b, int D) { return loom_vec_dot((size_t)D, a, b); }
static void normalize(float *x, int D) {
  float n = sqrtf(dot(x, x, D));
  float s = 1.0f / (n > 1e-12f ? n : 1e-12f);
  for (int k = 0; k < D; k++) x[k] *= s;
}

/* retrieval: how alike query a and item b are under the distance the model was trained with (higher is
 * nearer; cosine and dot: the dot product, on normalised vectors for cosine) */
static float alike(const loom_evaluator *ev, const float *a, const float *b, int D) {
  if (ev->distance < 2) return dot(a, b, D);
  float s = 0;
  for (int k = 0; k < D; k++) s += ev->distance == 2 ? (a[k] - b[k]) * (a[k] - b[k]) : fabsf(a[k] - b[k]);
  return ev->distance == 2 ? -sqrtf(s) : -s;
}

static int run_ranking(loom_evaluator *ev, loom_loader *ld, loom_error *err) {
  loom_model *m = ev->m;
  loom_dataset *ds = ev->ds;
  int32_t N = loom_dataset_num_items(ds);
  int G = m->G, D = ev->D, Bi = 8, per = Bi * G;
  int32_t ids[8 * 1024];
  if (per > (int)(sizeof ids / sizeof *ids)) Bi = 1, per = G;
  /* 1. every item's vector */
  for (int32_t s = 1; s < N; s += per) {
    for (int k = 0; k < per; k++) ids[k] = s + k < N ? s + k : 0;
    if (loom_model_compile_output(m, Bi, m->item_vec, err) < 0 || loom_model_bind_items(m, ds, ids, Bi, err) < 0)
      return -1;
    loom_graph_forward(m->g);
    for (int k = 0; k < per && s + k < N; k++)
      memcpy(ev->V + (size_t)(s + k) * D, m->item_vec->data + (size_t)k * D, sizeof(float) * D);
  }
  /* 2. every positive row: full ranking over items 1..N-1 and sampled ranking */
  loom_rank_metrics full, samp;
  loom_rank_metrics_init(&full, ev->n_k, ev->ks);
  loom_rank_metrics_init(&samp, ev->n_k, ev->ks);
  loom_rng rng;
  loom_rng_seed(&rng, 0x5a3b1e);
  double loss = 0, npos = 0;
  int64_t nq = 0;
  ev->ex_n = 0;
  ev->ex_k = ev->ks[ev->n_k - 1] < 20 ? ev->ks[ev->n_k - 1] : 20;
  ev->n_rows = 0;
  for (;;) {
    const loom_batch *b = loom_loader_next(ld, err);
    if (!b) return -1;
    if (b->B == 0) break;
    if (ev->n_rows + b->B > ev->cap) return loom_errorf(err, "the evaluated split grew while reading it");
    ev->n_rows += b->B;
    if (loom_model_compile(m, b->B, false, err) < 0 || loom_model_bind(m, b, err) < 0) return -1;
    loom_graph_forward(m->g);
    float w = 1.0f / m->weights[0];
    int any = 0;
    for (int i = 0; i < b->B; i++) any += m->weights[1 + i] > 0;
    if (any) loss += (double)m->loss->data[0] * w, npos += w;
    for (int i = 0; i < b->B; i++) {
      if (m->weights[1 + i] == 0 || b->item[i] <= 0) continue;
      const float *u = m->user_vec->data + (size_t)i * D;
      if (m->task == LOOM_TASK_RETRIEVAL) { /* keep the query; ranked after the pass */
        bool seen = false; /* a report's examples: the first queries of distinct items */
        for (int e = 0; e < ev->ex_n && !seen; e++) seen = ev->ex_rel[e] == b->item[i] - 1;
        if (ev->ex_n < LOOM_EVAL_EXAMPLES && !seen) {
          const int e = ev->ex_n++;
          ev->ex_user[e] = b->user ? b->user[i] : 0, ev->ex_row[e] = b->row[i], ev->ex_rel[e] = b->item[i] - 1;
          ev->ex_q[e] = nq;
        }
        memcpy(ev->Q + (size_t)nq * D, u, sizeof(float) * D);
        ev->qitem[nq++] = b->item[i];
        continue;
      }
      for (int32_t j = 1; j < N; j++) ev->S[j - 1] = alike(ev, u, ev->V + (size_t)j * D, D);
      int32_t rel = b->item[i] - 1, user = b->user[i];
      int32_t lo = user > 0 ? ev->pos_off[user] : 0, hi = user > 0 ? ev->pos_off[user + 1] : 0;
      loom_rank_metrics_add(&full, ev->S, N - 1, &rel, 1, ev->pos_item + lo, hi - lo, ev->ranks);
      if (loom_dataset_negatives(ds, user, b->item[i], ev->E, &rng, ev->negs) == 0) {
        ev->cand[0] = ev->S[rel];
        for (int k = 0; k < ev->E; k++) ev->cand[1 + k] = ev->S[ev->negs[k] - 1];
        int32_t zero = 0;
        loom_rank_metrics_add(&samp, ev->cand, ev->E + 1, &zero, 1, NULL, 0, ev->ranks);
      }
      bool seen = false; /* one example per user: a session's rows share user and list */
      for (int e = 0; e < ev->ex_n && !seen; e++) seen = ev->ex_user[e] == user && (user > 0 || ev->ex_rel[e] == rel);
      if (ev->ex_n < LOOM_EVAL_EXAMPLES && !seen) { /* a report's examples: top-K of the first few users */
        int e = ev->ex_n++;
        ev->ex_user[e] = user, ev->ex_row[e] = b->row[i], ev->ex_rel[e] = rel;
        int64_t above = 0; /* the clicked item's rank among the items the list may show */
        for (int32_t j = 0; j < N - 1; j++) {
          if (j == rel || !(ev->S[j] > ev->S[rel])) continue;
          bool excluded = false;
          for (int32_t q = lo; q < hi && !excluded; q++) excluded = ev->pos_item[q] == j;
          above += !excluded;
        }
        ev->ex_rank[e] = above + 1;
        for (int k = 0; k < ev->ex_k; k++) {
          int32_t best = -1;
          for (int32_t j = 0; j < N - 1; j++) {
            bool taken = false;
            for (int q = 0; q < k && !taken; q++) taken = ev->ex_top[e][q] == j;
            for (int32_t q = lo; q < hi && !taken; q++) taken = ev->pos_item[q] == j;
            if (!taken && (best < 0 || ev->S[j] > ev->S[best])) best = j;
          }
          ev->ex_top[e][k] = best, ev->ex_score[e][k] = best >= 0 ? ev->S[best] : 0;
        }
      }
    }
  }
  ev->loss = npos > 0 ? loss / npos : NAN;
  if (m->task == LOOM_TASK_RETRIEVAL) {
    /* as trained: cosine (InfoNCE, or the triplet loss's default) normalises queries and items; a triplet
     * model's other distances compare them as they are */
    if (ev->distance == 0) {
      for (int64_t q = 0; q < nq; q++) normalize(ev->Q + (size_t)q * D, D);
      for (int32_t j = 1; j < N; j++) normalize(ev->V + (size_t)j * D, D);
    }
    loom_rank_metrics t2i, i2t;
    loom_rank_metrics_init(&t2i, ev->n_k, ev->ks);
    loom_rank_metrics_init(&i2t, ev->n_k, ev->ks);
    for (int64_t q = 0; q < nq; q++) { /* text -> item over every item */
      const float *u = ev->Q + (size_t)q * D;
      for (int32_t j = 1; j < N; j++) ev->S[j - 1] = alike(ev, u, ev->V + (size_t)j * D, D);
      int32_t rel = ev->qitem[q] - 1;
      loom_rank_metrics_add(&t2i, ev->S, N - 1, &rel, 1, NULL, 0, ev->ranks);
      for (int e = 0; e < ev->ex_n; e++) {
        if (ev->ex_q[e] != q) continue;
        int64_t above = 0;
        for (int32_t j = 0; j < N - 1; j++) above += j != rel && ev->S[j] > ev->S[rel];
        ev->ex_rank[e] = above + 1;
        for (int k = 0; k < ev->ex_k; k++) { /* the top ex_k, ties to the lower index */
          int32_t best = -1;
          for (int32_t j = 0; j < N - 1; j++) {
            bool taken = false;
            for (int t = 0; t < k && !taken; t++) taken = ev->ex_top[e][t] == j;
            if (!taken && (best < 0 || ev->S[j] > ev->S[best])) best = j;
          }
          ev->ex_top[e][k] = best, ev->ex_score[e][k] = best >= 0 ? ev->S[best] : 0;
        }
      }
    }
    for (int64_t q = 0; q < nq; q++) { /* item -> text over every query; once per item */
      bool seen = false;
      for (int64_t p = 0; p < q && !seen; p++) seen = ev->qitem[p] == ev->qitem[q];
      if (seen) continue;
      const float *v = ev->V + (size_t)ev->qitem[q] * D;
      int nr = 0;
      for (int64_t j = 0; j < nq; j++) {
        ev->QS[j] = alike(ev, ev->Q + (size_t)j * D, v, D);
        if (ev->qitem[j] == ev->qitem[q]) ev->rel[nr++] = (int32_t)j;
      }
      loom_rank_metrics_add(&i2t, ev->QS, (int)nq, ev->rel, nr, NULL, 0, ev->ranks_n);
    }
    int at = 0;
    const char *rn[] = {"recall", "ndcg", "mrr", "recall", "ndcg"};
    for (int j = 0; j < 5; j++)
      for (int i = 0; i < ev->n_k; i++) ev->val[at++] = loom_rank_metric(j < 3 ? &t2i : &i2t, rn[j], ev->ks[i]);
    return 0;
  }
  int at = 0;
  for (int s = 0; s < 2; s++)
    for (int j = 0; j < (s ? 3 : 5); j++)
      for (int i = 0; i < ev->n_k; i++) ev->val[at++] = loom_rank_metric(s ? &samp : &full, rank_names[j], ev->ks[i]);
  return 0;
}

static int run_pointwise(loom_evaluator *ev, loom_loader *ld, loom_error *err) {
  loom_model *m = ev->m;
  int64_t n = 0;
  double loss = 0;
  for (;;) {
    const loom_batch *b = loom_loader_next(ld, err);
    if (!b) return -1;
    if (b->B == 0) break;
    if (n + b->B > ev->cap) return loom_errorf(err, "the evaluated split grew while reading it");
    if (loom_model_compile(m, b->B, false, err) < 0 || loom_model_bind(m, b, err) < 0) return -1;
    loom_graph_forward(m->g);
    loss += (double)m->loss->data[0] * b->B;
    const float *z = m->logits->data;
    for (int i = 0; i < b->B; i++) {
      if (m->task == LOOM_TASK_BINARY) {
        ev->scores[n + i] = z[i];
        ev->probs[n + i] = 1.0f / (1.0f + expf(-z[i]));
        ev->labels[n + i] = b->label[i];
        ev->groups[n + i] = b->user ? b->user[i] : 0;
      } else {
        int K = m->n_classes, best = 0;
        for (int k = 1; k < K; k++)
          if (z[i * K + k] > z[i * K + best]) best = k;
        ev->preds[n + i] = best;
        ev->truth[n + i] = m->labels[i];
      }
    }
    n += b->B;
  }
  ev->n_rows = n;
  ev->loss = loss / (double)(n > 0 ? n : 1);
  if (m->task == LOOM_TASK_BINARY) {
    loom_binary_counts c = loom_binary_count(ev->probs, ev->labels, (size_t)n, ev->threshold);
    ev->val[0] = loom_auc(ev->scores, ev->labels, (size_t)n);
    ev->val[1] = loom_logloss(ev->probs, ev->labels, (size_t)n);
    ev->val[2] = loom_accuracy(c);
    ev->val[3] = loom_precision(c);
    ev->val[4] = loom_recall(c);
    ev->val[5] = loom_f1(c);
    if (ev->n_metrics > 6) ev->val[6] = loom_gauc(ev->scores, ev->labels, ev->groups, (size_t)n);
  } else {
    int K = m->n_classes;
    memset(ev->confusion, 0, sizeof(int64_t) * (size_t)K * (size_t)K);
    loom_confusion_add(ev->confusion, K, ev->truth, ev->preds, (size_t)n);
    ev->val[0] = loom_confusion_accuracy(ev->confusion, K);
    ev->val[1] = loom_macro_f1(ev->confusion, K);
  }
  return 0;
}

int loom_evaluator_run(loom_evaluator *ev, loom_error *err) {
  /* a fresh loader per run: the same rows and sampled negatives every time */
  loom_loader *ld = loom_loader_new(ev->ds, ev->split, 0, err);
  if (!ld) return -1;
  loom_model_fill_unknown(ev->m);
  int rc = ev->m->n_heads > 0                                                      ? loom_eval_heads_run(ev, ld, err)
           : ev->m->task == LOOM_TASK_RANKING || ev->m->task == LOOM_TASK_RETRIEVAL ? run_ranking(ev, ld, err)
                                                                                    : run_pointwise(ev, ld, err);
  loom_loader_free(ld);
  return rc;
}
