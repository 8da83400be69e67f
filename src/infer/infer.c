/* infer.c — inference sessions (loom/infer.h): a checkpoint mapped and validated, the model rebuilt
 * from its stored config and preprocessing and frozen (no gradients, no optimiser), the catalogue's
 * item vectors computed once (or read from a cache file keyed by the SHA-256 of the checkpoint and
 * the items file and a stamp of the image files). Batching, metrics and the CLI are elsewhere:
 * data.h encodes rows, evaluate.h measures, apps/loom-infer.c prints. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "loom/runtime.h"
#include "loom/alloc.h"
#include "loom/checkpoint.h"
#include "loom/index.h"
#include "loom/infer.h"
#include "loom/model_spec.h"
#include "loom/runtime.h"
#include "loom/safetensors.h"
#include "loom/sha256.h"
#include "infer_internal.h"

#define CACHE_FORMAT "loom-item-cache/1"

struct loom_infer {
  char path[LOOM_DATA_PATH];
  char cache[LOOM_DATA_PATH + 32]; /* the item cache beside the checkpoint */
  loom_data_section dsec;
  loom_config *cfg;
  loom_prep prep;
  bool have_prep;
  loom_dataset *sds; /* the schema only (no rows): sizes for the model */
  loom_model *m;
  int batch, D;
  bool item_cache;
  double t_open, t_catalog;
  const char *cat_source;
  /* the catalogue */
  loom_dataset *cat;
  int64_t N;
  int32_t *cat_item; /* (N) item index, 0 = not in training */
  float *V;          /* (N, D) item vectors (two-tower models) */
  loom_index *ix[LOOM_INDEX_N_METRICS]; /* over the item vectors, one per metric asked for */
  loom_index_opts iopts;                /* the kind and options of those indexes (loom_infer_opts.index) */
  int metric;                           /* --metric, or -1: the model's */
  loom_index *ix_img; /* the items' vectors from their photos alone (text blanked), for photo search */
  float *scores;     /* (N) pointwise ranking */
  loom_model *head;  /* pointwise models: the model with its item-only towers as inputs */
  float *tower[LOOM_MODEL_MAX_TOWERS]; /* (N, tower_dim) those towers' outputs per catalogue item */
  /* per-call state */
  loom_batch pb;     /* pairs / rows batch over the catalogue dataset */
  bool pb_ready;
  loom_dataset *eval_ds;
  loom_dataset *hist_ds; /* [data] history_len: the run's interactions, for a user's history in rank */
  int32_t *uhist;        /* (history_len) the ranked user's latest history */
  loom_evaluator *ev;
  float *probs;      /* (classes) */
  float *u;          /* (D) a user / query vector */
  loom_table titles_tab; /* the items table's title column, when the schema does not read it */
  bool have_titles_tab;
  const char **title;    /* (N) each catalogue row's title, NULL if none */
  char notes[8][600];    /* loom_infer_note */
  int n_notes;
};

static void add_note(loom_infer *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_note(loom_infer *s, const char *fmt, ...) {
  if (s->n_notes >= (int)(sizeof s->notes / sizeof s->notes[0])) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(s->notes[s->n_notes++], sizeof s->notes[0], fmt, ap);
  va_end(ap);
}
int loom_infer_inputs(const loom_infer *s, const char **paths, const char **roles, int max) {
  const loom_data_schema *sc = &s->dsec.schema;
  const char *all[] = {s->path, sc->items, sc->users, sc->interactions, s->cache};
  static const char *const what[] = {"the checkpoint", "the items table", "the users table",
                                     "the training interactions file", "the item cache"};
  int n = 0;
  for (size_t i = 0; i < sizeof all / sizeof *all && n < max; i++)
    if (all[i][0]) paths[n] = all[i], roles[n++] = what[i];
  return n;
}
int loom_infer_n_notes(const loom_infer *s) { return s->n_notes; }
const char *loom_infer_note(const loom_infer *s, int i) { return i >= 0 && i < s->n_notes ? s->notes[i] : NULL; }

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

loom_task_kind loom_infer_task(const loom_infer *s) { return loom_model_task(s->m); }
const loom_model *loom_infer_model(const loom_infer *s) { return s->m; }
loom_model *loom_infer_model_rw(loom_infer *s) { return s->m; }
const loom_config *loom_infer_config(const loom_infer *s) { return s->cfg; }
const loom_prep *loom_infer_prep(const loom_infer *s) { return &s->prep; }
double loom_infer_open_seconds(const loom_infer *s) { return s->t_open; }
double loom_infer_catalog_seconds(const loom_infer *s) { return s->t_catalog; }
const char *loom_infer_catalog_source(const loom_infer *s) { return s->cat_source; }
const char *loom_infer_class_name(const loom_infer *s, int k) {
  return s->prep.labels ? loom_idmap_key(s->prep.labels, k + 1) : NULL;
}

static bool two_tower(const loom_infer *s) { return loom_model_task(s->m) == LOOM_TASK_RANKING || loom_model_task(s->m) == LOOM_TASK_RETRIEVAL; }

/* ---------------------------------------------------------------- open */

static int check_format(const loom_st_file *f, const char *path, loom_error *err) {
  const char *fmt = loom_st_meta(f, "loom.format");
  if (!fmt)
    return loom_errorf(err, "%s: not a loom checkpoint (no 'loom.format' metadata) — give best.safetensors or "
                            "last.safetensors of a loom-train run", path);
  if (strncmp(fmt, "loom-train/", 11) != 0)
    return loom_errorf(err, "%s: not a loom-train checkpoint (loom.format is '%.40s', expected '%s')", path, fmt,
                       LOOM_CKPT_FORMAT);
  if (strcmp(fmt, LOOM_CKPT_FORMAT) != 0) {
    const char *v = loom_st_meta(f, "loom.version");
    return loom_errorf(err, "%s: checkpoint format '%.40s' (written by loom %.40s) is not one this loom %s reads "
                            "('%s') — run it with the loom version that wrote it, or retrain",
                       path, fmt, v ? v : "?", loom_version(), LOOM_CKPT_FORMAT);
  }
  const char *need[] = {"loom.task", "loom.config", "loom.prep"};
  for (int i = 0; i < 3; i++)
    if (!loom_st_meta(f, need[i]))
      return loom_errorf(err, "%s: metadata '%s' is missing — the checkpoint is incomplete; use another one", path,
                         need[i]);
  return 0;
}

static int set_path(loom_infer *s, const char *key, const char *value, const char *flag, loom_error *err) {
  return value ? loom_config_set(s->cfg, "data", key, value, flag, err) : 0;
}

static void cache_path(const loom_infer *s, char *out, size_t n);

/* [data] item_vectors / user_vectors are reopened by the path the run recorded: each file (and a .npy's
 * NAME.ids) must still hash to the SHA-256 of metadata loom.inputs, or the model would read other vectors
 * than it was trained on. A missing file is named by the reader (loom/vectors.h). */
static int check_vector_files(loom_st_file *f, const loom_data_schema *sc, const char *path, loom_error *err) {
  if (!sc->item_vectors[0] && !sc->user_vectors[0]) return 0;
  cJSON *in = cJSON_Parse(loom_st_meta(f, "loom.inputs") ? loom_st_meta(f, "loom.inputs") : "");
  const char *keys[4] = {"item_vectors", "user_vectors", "item_vector_ids", "user_vector_ids"};
  int rc = 0;
  for (int k = 0; k < 4 && rc == 0; k++) {
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(in, keys[k]);
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(e, "path"), *h = cJSON_GetObjectItemCaseSensitive(e, "sha256");
    if (!cJSON_IsString(p) || !cJSON_IsString(h)) {
      if (k < 2 && (k ? sc->user_vectors : sc->item_vectors)[0])
        rc = loom_errorf(err, "%s: metadata loom.inputs has no SHA-256 of [data] %s — the checkpoint is corrupt", path, keys[k]);
      continue;
    }
    char hex[65];
    loom_error e2;
    if (loom_sha256_file(p->valuestring, hex, &e2) < 0)
      rc = loom_errorf(err, "%s: the model reads [data] %s %s, which cannot be read (%s) — put the file the run was "
                            "trained with back there", path, keys[k], p->valuestring, e2.msg);
    else if (strcmp(hex, h->valuestring) != 0)
      rc = loom_errorf(err, "%s: [data] %s %s changed since training (SHA-256 %.12s... now, %.12s... in metadata "
                            "loom.inputs) — the model would read other vectors than it learnt; restore the file or retrain",
                       path, keys[k], p->valuestring, hex, h->valuestring);
  }
  cJSON_Delete(in);
  return rc;
}

loom_infer *loom_infer_open(const char *path, const loom_infer_opts *o, loom_error *err) {
  double t0 = now();
  loom_infer_opts none = {0};
  if (!o) o = &none;
  loom_infer *s = loom_calloc(1, sizeof *s);
  if (!s) {
    loom_errorf(err, "out of memory");
    return NULL;
  }
  s->cat_source = "none";
  snprintf(s->path, sizeof s->path, "%s", path);
  cache_path(s, s->cache, sizeof s->cache);
  s->item_cache = o->item_cache;
  s->iopts = o->index ? *o->index : loom_index_defaults(LOOM_INDEX_AUTO);
  s->metric = -1;
  loom_st_file *f = NULL;
  if (o->metric) {
    loom_index_metric m;
    if (loom_index_parse_metric(o->metric, "--metric", &m, err) < 0) goto fail;
    if (loom_index_supports(s->iopts.kind, m, err) < 0) goto fail;
    s->metric = (int)m;
  }
  f = loom_st_open(path, err);
  if (!f) goto fail;
  if (check_format(f, path, err) < 0) goto fail;
  if (!loom_st_meta(f, LOOM_ST_CHECKSUM_KEY)) /* older checkpoints open; their data cannot be verified */
    add_note(s, "%s has no tensor checksums (metadata %s; written by an older loom): its data cannot be checked "
                "for corruption — retrain, or keep a backup copy", path, LOOM_ST_CHECKSUM_KEY);
  if (!(s->cfg = loom_train_config_new(&s->dsec))) {
    loom_errorf(err, "out of memory");
    goto fail;
  }
  char name[LOOM_DATA_PATH + 32];
  snprintf(name, sizeof name, "%s (metadata loom.config)", path);
  if (loom_config_load_string(s->cfg, loom_st_meta(f, "loom.config"), name, err) < 0) goto fail;
  if (set_path(s, "items", o->items, "--items", err) < 0 || set_path(s, "users", o->users, "--users", err) < 0 ||
      set_path(s, "image_root", o->image_root, "--image-root", err) < 0)
    goto fail;
  loom_model_spec ms;
  loom_model_spec_read(s->cfg, &ms);
  if (strcmp(loom_st_meta(f, "loom.task"), loom_task_name(ms.task.kind)) != 0) {
    loom_errorf(err, "%s: metadata loom.task '%.40s' disagrees with its config's task.kind '%s' — the checkpoint is corrupt",
                path, loom_st_meta(f, "loom.task"), loom_task_name(ms.task.kind));
    goto fail;
  }
  if (loom_prep_from_string(&s->prep, loom_st_meta(f, "loom.prep"), err) < 0) {
    loom_error_wrap(err, "%s: metadata loom.prep", path);
    goto fail;
  }
  s->have_prep = true;
  if (loom_train_label_cols(s->cfg, &s->dsec.schema, err) < 0) goto fail; /* multitask heads' columns */
  if (check_vector_files(f, &s->dsec.schema, path, err) < 0) goto fail;
  loom_data_schema sc = s->dsec.schema;
  sc.interactions[0] = sc.items[0] = sc.users[0] = '\0';
  if (!(s->sds = loom_dataset_open(&sc, &s->prep, err))) goto fail;
  if (!(s->m = loom_model_build(s->cfg, s->sds, err))) {
    loom_error_wrap(err, "%s: the stored config does not build a model", path);
    goto fail;
  }
  if (loom_st_load_graph_from(loom_model_graph(s->m), f, LOOM_ST_ALLOW_UNEXPECTED, err) < 0) {
    loom_error_wrap(err, "%s: the tensors do not fit the model its config describes", path);
    goto fail;
  }
  if (loom_ckpt_check_tensors(f, loom_model_graph(s->m), path, err) < 0) goto fail;
  if (loom_train_check_finite(f, path, err) < 0) goto fail;
  loom_st_close(f);
  f = NULL;
  loom_graph_drop_grads(loom_model_graph(s->m));
  loom_model_fill_unknown(s->m);
  s->batch = o->batch_size > 0 ? o->batch_size : s->dsec.schema.batch_size;
  s->D = ms.fusion.dim;
  if (!(s->u = loom_malloc(sizeof(float) * (size_t)s->D))) {
    loom_errorf(err, "out of memory");
    goto fail;
  }
  if ((loom_model_n_classes(s->m) > 1 || loom_model_task(s->m) == LOOM_TASK_MULTITASK) && !(s->probs = loom_malloc(sizeof(float) * (size_t)loom_model_n_classes(s->m)))) {
    loom_errorf(err, "out of memory");
    goto fail;
  }
  s->t_open = now() - t0;
  return s;
fail:
  loom_st_close(f);
  loom_infer_close(s);
  return NULL;
}

void loom_infer_close(loom_infer *s) {
  if (!s) return;
  loom_evaluator_free(s->ev);
  loom_dataset_free(s->eval_ds);
  if (s->pb_ready) loom_batch_free(&s->pb);
  for (int i = 0; i < LOOM_INDEX_N_METRICS; i++) loom_index_free(s->ix[i]);
  loom_index_free(s->ix_img);
  loom_free(s->V), loom_free(s->scores), loom_free(s->cat_item), loom_free(s->probs), loom_free(s->u);
  loom_dataset_free(s->cat);
  loom_dataset_free(s->hist_ds), loom_free(s->uhist);
  loom_free(s->title);
  if (s->have_titles_tab) loom_table_free(&s->titles_tab);
  for (int i = 0; i < LOOM_MODEL_MAX_TOWERS; i++) loom_free(s->tower[i]);
  loom_model_free(s->head);
  loom_model_free(s->m);
  loom_dataset_free(s->sds);
  if (s->have_prep) loom_prep_free(&s->prep);
  loom_config_free(s->cfg);
  loom_free(s);
}

/* ---------------------------------------------------------------- the catalogue */

/* Each catalogue row's title for people: the items table's "title" column (read here when the model
 * does not use it), else its first text column; NULL when it has neither. */
static int catalog_titles(loom_infer *s, loom_error *err) {
  const loom_data_schema *sc = &s->dsec.schema;
  if (!(s->title = loom_calloc((size_t)s->N, sizeof *s->title))) return loom_errorf(err, "out of memory");
  if (loom_dataset_catalog_str(s->cat, 0, "title")) {
    for (int64_t i = 0; i < s->N; i++) s->title[i] = loom_dataset_catalog_str(s->cat, i, "title");
    return 0;
  }
  const char *key = sc->item_key[0] ? sc->item_key : sc->item_col;
  loom_colspec spec[2] = {{key, LOOM_COL_STRING, 0}, {"title", LOOM_COL_STRING, 1}};
  loom_csv_opts co = {.allow_empty = 1};
  loom_error ignored; /* the catalogue itself was read: a problem here only costs the titles */
  if (loom_table_read(&s->titles_tab, sc->items, spec, 2, &co, &ignored) == 0) {
    s->have_titles_tab = true;
    bool ok = s->titles_tab.cols[1].present && s->titles_tab.nrows == s->N;
    for (int64_t i = 0; ok && i < s->N; i++) ok = !strcmp(loom_table_str(&s->titles_tab, 0, i), loom_dataset_catalog_key(s->cat, i));
    for (int64_t i = 0; ok && i < s->N; i++) s->title[i] = loom_table_str(&s->titles_tab, 1, i);
    if (ok) return 0;
  }
  for (int t = 0; t < sc->n_text; t++) {
    if (!loom_dataset_catalog_str(s->cat, 0, sc->text_cols[t])) continue;
    for (int64_t i = 0; i < s->N; i++) s->title[i] = loom_dataset_catalog_str(s->cat, i, sc->text_cols[t]);
    break;
  }
  return 0;
}

static int catalog_open(loom_infer *s, loom_error *err) {
  if (s->cat) return 0;
  loom_data_schema sc = s->dsec.schema;
  if (!sc.items[0])
    return loom_errorf(err, "%s: its config names no items table ([data] items) — give the catalogue with --items", s->path);
  sc.interactions[0] = '\0';
  if (!(s->cat = loom_dataset_open(&sc, &s->prep, err))) return -1;
  s->N = loom_dataset_catalog_size(s->cat);
  if (s->N <= 0) return loom_errorf(err, "%s: the items table has no rows — nothing to rank", sc.items);
  if (s->N > INT32_MAX) return loom_errorf(err, "%s: more than 2^31 items", sc.items);
  s->cat_item = loom_malloc(sizeof(int32_t) * (size_t)s->N);
  s->scores = loom_malloc(sizeof(float) * (size_t)s->N);
  int cap = s->batch < s->N ? s->batch : (int)s->N;
  if (cap > 1024) cap = 1024; /* the row buffers of rank and embed */
  if (!s->cat_item || !s->scores || loom_batch_init(&s->pb, s->cat, cap > 0 ? cap : 1, err) < 0)
    return loom_errorf(err, "out of memory for a catalogue of %lld items", (long long)s->N);
  s->pb_ready = true;
  int64_t rows[256];
  for (int64_t i = 0; i < s->N; i += 256) {
    int n = (int)(s->N - i < 256 ? s->N - i : 256);
    for (int k = 0; k < n; k++) rows[k] = i + k;
    /* item indices only: text and images are read when vectors are computed */
    if (loom_dataset_catalog_features(s->cat, rows, n, s->cat_item + i, NULL, NULL, NULL, err) < 0) return -1;
  }
  return catalog_titles(s, err);
}

int64_t loom_infer_catalog_size(loom_infer *s, loom_error *err) { return catalog_open(s, err) < 0 ? -1 : s->N; }

static void cache_path(const loom_infer *s, char *out, size_t n) {
  size_t len = strlen(s->path);
  const char *ext = ".safetensors";
  size_t el = strlen(ext);
  if (len > el && !strcmp(s->path + len - el, ext)) snprintf(out, n, "%.*s.items.safetensors", (int)(len - el), s->path);
  else snprintf(out, n, "%s.items.safetensors", s->path);
}

/* "<sha256 of the checkpoint>:<sha256 of the items file>:<image stamp>:<N>x<D>[:<sha256 of item_vectors>][:<... user_vectors>]" */
static int cache_key(loom_infer *s, char *key, size_t n, loom_error *err) {
  char a[65], b[65], c[65];
  if (loom_sha256_file(s->path, a, err) < 0 || loom_sha256_file(s->dsec.schema.items, b, err) < 0) return -1;
  loom_dataset_catalog_image_stamp(s->cat, c);
  snprintf(key, n, "%s:%s:%s:%lldx%d", a, b, c, (long long)s->N, s->D);
  const loom_data_schema *sc = &s->dsec.schema; /* precomputed vectors the towers read */
  const char *vp[2] = {sc->item_vectors, sc->user_vectors};
  for (int k = 0; k < 2; k++) {
    char h[65];
    size_t len = strlen(key);
    if (vp[k][0] && loom_sha256_file(vp[k], h, err) < 0) return -1;
    if (vp[k][0]) snprintf(key + len, n - len, ":%s", h);
  }
  return 0;
}

/* The cached vectors when the cache is for this checkpoint and catalogue (its key) and its data is
 * what was written (its checksum); otherwise false, with a note when the cache is damaged rather than
 * simply out of date (it is then rebuilt). */
static bool cache_read(loom_infer *s, const char *path, const char *key) {
  loom_error e;
  loom_st_file *f = loom_st_open(path, &e); /* a cache whose data does not match its checksum fails here */
  if (!f) {
    struct stat st;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) add_note(s, "item cache rebuilt: %s", e.msg);
    return false;
  }
  const char *fmt = loom_st_meta(f, "loom.format"), *k = loom_st_meta(f, "loom.cache_key");
  bool ok = fmt && k && !strcmp(fmt, CACHE_FORMAT) && !strcmp(k, key);
  if (ok && !loom_st_meta(f, LOOM_ST_CHECKSUM_KEY)) {
    add_note(s, "item cache %s rebuilt: it has no checksum of its vectors (%s), so they cannot be trusted", path,
             LOOM_ST_CHECKSUM_KEY);
    ok = false;
  }
  ok = ok && loom_st_read_f32(f, "item_vectors", s->V, (size_t)s->N * (size_t)s->D, &e) == 0;
  loom_st_close(f);
  return ok;
}

static int cache_write(loom_infer *s, const char *path, const char *key, loom_error *err) {
  loom_st_writer *w = loom_st_writer_new();
  if (!w) return loom_errorf(err, "out of memory");
  loom_st_writer_checksums(w, true);
  int rc = loom_st_writer_add(w, "item_vectors", LOOM_ST_F32, 2, (int64_t[]){s->N, s->D}, s->V, err) < 0 ||
                   loom_st_writer_meta(w, "loom.format", CACHE_FORMAT, err) < 0 ||
                   loom_st_writer_meta(w, "loom.cache_key", key, err) < 0 ||
                   loom_st_writer_meta(w, "loom.items", s->dsec.schema.items, err) < 0 || loom_st_write(w, path, err) < 0
               ? -1
               : 0;
  loom_st_writer_free(w);
  return rc;
}

/* The item vectors of every catalogue row into V (N, D), by the item tower, Bi rows of G slots at a
 * time; photo_only blanks the text (and ID) inputs, so only the image speaks. */
static int compute_vectors(loom_infer *s, float *V, bool photo_only, loom_error *err) {
  loom_model *m = s->m;
  int G = loom_model_items_per_row(m), Bi = 256 / G > 0 ? 256 / G : 1, per = Bi * G;
  int64_t rows[256 * 8];
  static const int32_t zero_ids[256 * 8];
  if (per > (int)(sizeof rows / sizeof *rows)) Bi = 1, per = G;
  size_t P = loom_model_image_floats(m);
  float *photos = photo_only ? loom_malloc(sizeof(float) * (size_t)per * P) : NULL;
  if (photo_only && !photos) return loom_errorf(err, "out of memory");
  int rc = 0;
  for (int64_t i = 0; i < s->N; i += per) {
    int n = (int)(s->N - i < per ? s->N - i : per);
    for (int k = 0; k < n; k++) rows[k] = i + k;
    if (loom_model_compile_output(m, Bi, loom_model_item_vec(m), err) < 0 || loom_model_bind_catalog(m, s->cat, rows, n, Bi, err) < 0) {
      rc = -1;
      break;
    }
    if (photo_only) { /* the photos just read, with no text and the unknown (mean) item id */
      memcpy(photos, loom_model_bound_images(m), sizeof(float) * (size_t)n * P);
      loom_model_bind_item_arrays(m, zero_ids, NULL, NULL, photos, n, Bi);
    }
    loom_graph_forward(loom_model_graph(m));
    memcpy(V + (size_t)i * (size_t)s->D, loom_model_item_vec(m)->data, sizeof(float) * (size_t)n * (size_t)s->D);
  }
  loom_free(photos);
  return rc;
}

static int catalog_vectors(loom_infer *s, loom_error *err) {
  if (s->V) return 0;
  if (!two_tower(s))
    return loom_errorf(err, "%s: a %s model has no item tower — item vectors need a ranking or retrieval checkpoint",
                       s->path, loom_task_name(loom_model_task(s->m)));
  if (catalog_open(s, err) < 0) return -1;
  double t0 = now();
  if (!(s->V = loom_malloc(sizeof(float) * (size_t)s->N * (size_t)s->D)))
    return loom_errorf(err, "out of memory for %lld item vectors", (long long)s->N);
  const char *cpath = s->cache;
  char key[300];
  if (s->item_cache) {
    if (cache_key(s, key, sizeof key, err) < 0) return -1;
    if (cache_read(s, cpath, key)) {
      s->cat_source = "cache";
      s->t_catalog = now() - t0;
      return 0;
    }
  }
  if (compute_vectors(s, s->V, false, err) < 0) {
    loom_free(s->V);
    s->V = NULL;
    return -1;
  }
  s->cat_source = "computed";
  if (s->item_cache) { /* optional: a cache that cannot be written costs time next run, not this answer */
    loom_error e;
    if (cache_write(s, cpath, key, &e) < 0) {
      add_note(s, "item cache not saved (%s) — answering without it; the next run computes the vectors again", e.msg);
      s->cat_source = "computed (cache not saved)";
    } else {
      s->cat_source = "computed+saved";
    }
  }
  s->t_catalog = now() - t0;
  return 0;
}

/* An index over V (n, D) with the session's kind and options; for an approximate one, a note with its
 * build time and its recall@10 against the exact index on LOOM_INFER_RECALL_QUERIES of the items. */
static loom_index *build_index(loom_infer *s, const float *V, loom_index_metric metric, const char *what,
                               loom_error *err) {
  loom_index *ix = loom_index_build(V, s->N, s->D, metric, &s->iopts, err);
  if (ix && loom_index_kind_of(ix) != LOOM_INDEX_EXACT) {
    const loom_index_opts *o = loom_index_opts_of(ix);
    char par[96];
    if (o->kind == LOOM_INDEX_HNSW)
      snprintf(par, sizeof par, "M=%d, ef_construction=%d, ef_search=%d", o->hnsw_m, o->hnsw_ef_construction,
               o->hnsw_ef_search);
    else snprintf(par, sizeof par, "nlist=%d, nprobe=%d", o->ivf_nlist, o->ivf_nprobe);
    int nq = s->N < LOOM_INFER_RECALL_QUERIES ? (int)s->N : LOOM_INFER_RECALL_QUERIES;
    add_note(s, "index: %s over %lld %s (%s; %s) built in %.2f s; recall@10 %.4f against the exact index on %d "
                "catalogue items as queries",
             loom_index_kind_name(o->kind), (long long)s->N, what, loom_index_metric_name(metric), par,
             loom_index_build_seconds(ix), loom_index_recall(ix, nq, 10), nq);
  }
  return ix;
}

/* The metric to search by: --metric when given; else a retrieval model trained with the triplet loss
 * searches by its task.distance; else `fallback` (the model's scoring: dot for ranking, cosine). */
static loom_index_metric search_metric(const loom_infer *s, loom_index_metric fallback) {
  if (s->metric >= 0) return (loom_index_metric)s->metric;
  loom_model_spec ms;
  loom_model_spec_read(s->cfg, &ms);
  if (loom_model_task(s->m) == LOOM_TASK_RETRIEVAL && ms.task.loss == LOOM_LOSS_TRIPLET) {
    static const loom_index_metric metric[] = {[LOOM_DIST_COSINE] = LOOM_INDEX_COSINE, [LOOM_DIST_DOT] = LOOM_INDEX_DOT,
                                               [LOOM_DIST_EUCLIDEAN] = LOOM_INDEX_EUCLIDEAN,
                                               [LOOM_DIST_MANHATTAN] = LOOM_INDEX_MANHATTAN};
    return metric[ms.task.distance];
  }
  return fallback;
}

loom_index_metric loom_infer_metric(const loom_infer *s, bool search) {
  return search_metric(s, search || loom_model_task(s->m) == LOOM_TASK_RETRIEVAL ? LOOM_INDEX_COSINE : LOOM_INDEX_DOT);
}

/* The index for `metric` — or for --metric, when it was given. */
static loom_index *catalog_index(loom_infer *s, loom_index_metric metric, loom_error *err) {
  metric = search_metric(s, metric);
  loom_index **ix = &s->ix[metric];
  if (!*ix && catalog_vectors(s, err) == 0) *ix = build_index(s, s->V, metric, "item vectors", err);
  return *ix;
}

static void fill_hits(const loom_infer *s, const int64_t *rows, const float *scores, int n, loom_hit *hits) {
  for (int i = 0; i < n; i++)
    hits[i] = (loom_hit){rows[i], loom_dataset_catalog_key(s->cat, rows[i]), scores[i], s->cat_item[rows[i]] == 0,
                         s->title[rows[i]]};
}

/* ---------------------------------------------------------------- ranking and search */

/* The user-side vector (D) of `user` and `query` (two-tower models), via a one-row batch. */
static int user_vector(loom_infer *s, const char *user, const char *query, float *u, loom_error *err) {
  loom_model *m = s->m;
  int64_t row0 = 0;
  if (loom_dataset_encode_pairs(s->cat, user, query, &row0, 1, &s->pb, err) < 0) return -1;
  if (loom_model_compile_output(m, 1, loom_model_user_vec(m), err) < 0 || loom_model_bind(m, &s->pb, err) < 0) return -1;
  loom_graph_forward(loom_model_graph(m));
  memcpy(u, loom_model_user_vec(m)->data, sizeof(float) * (size_t)s->D);
  return 0;
}

/* Pointwise models: the item-only towers' outputs for every catalogue item, once, and the head model
 * that scores (user, item) pairs from them. */
static int pointwise_cache(loom_infer *s, loom_error *err) {
  if (s->head) return 0;
  loom_model *m = s->m;
  double t0 = now();
  loom_tensor *outs[LOOM_MODEL_MAX_TOWERS];
  int k = 0;
  for (int i = 0; i < loom_model_n_towers(m); i++)
    if (loom_model_tower_out(m, i)) {
      outs[k++] = loom_model_tower_out(m, i);
      if (!(s->tower[i] = loom_malloc(sizeof(float) * (size_t)s->N * (size_t)loom_model_tower_dim(m, i))))
        return loom_errorf(err, "out of memory for the item towers of %lld items", (long long)s->N);
    }
  for (int64_t i = 0; k > 0 && i < s->N; i += s->pb.cap) {
    int b = (int)(s->N - i < s->pb.cap ? s->N - i : s->pb.cap);
    int64_t r[1024];
    for (int j = 0; j < b; j++) r[j] = i + j;
    if (loom_dataset_encode_pairs(s->cat, NULL, NULL, r, b, &s->pb, err) < 0 ||
        loom_model_compile_outputs(m, b, k, outs, err) < 0 || loom_model_bind(m, &s->pb, err) < 0)
      return -1;
    loom_graph_forward(loom_model_graph(m));
    for (int t = 0; t < loom_model_n_towers(m); t++)
      if (loom_model_tower_out(m, t))
        memcpy(s->tower[t] + (size_t)i * loom_model_tower_dim(m, t), loom_model_tower_out(m, t)->data, sizeof(float) * (size_t)b * loom_model_tower_dim(m, t));
  }
  if (!(s->head = loom_model_build_head(s->cfg, s->sds, m, err))) return -1;
  s->t_catalog = now() - t0;
  s->cat_source = "computed (item towers)";
  return 0;
}

/* The user's latest history ([data] history_len) over the run's interactions (opened once, frozen to the
 * checkpoint's maps) into s->uhist, *len entries; none for an unknown or absent user. */
static int user_history(loom_infer *s, const char *user, int32_t *len, loom_error *err) {
  *len = 0;
  if (!s->hist_ds) {
    if (!s->dsec.schema.interactions[0])
      return loom_errorf(err, "%s: the model reads behaviour histories ([data] history_len) but its config names no "
                              "interactions file to take the user's history from", s->path);
    if (!(s->hist_ds = loom_dataset_open(&s->dsec.schema, &s->prep, err)))
      return loom_error_wrap(err, "reading the users' histories for rank");
    if (!(s->uhist = loom_calloc((size_t)loom_model_history_len(s->m), sizeof(int32_t)))) return loom_errorf(err, "out of memory");
  }
  if (!user) {
    memset(s->uhist, 0, sizeof(int32_t) * (size_t)loom_model_history_len(s->m));
    return 0;
  }
  if (loom_dataset_user_history(s->hist_ds, user, s->uhist, len) < 0) return loom_errorf(err, "out of memory");
  return 0;
}

/* top k of scores[0..n) (higher first, ties to the lower row) */
static int top_k(const float *sc, int64_t n, int k, int64_t *rows, float *out) {
  int got = 0;
  for (int64_t i = 0; i < n; i++) {
    if (got == k && !(sc[i] > out[k - 1])) continue;
    int at = got < k ? got++ : k - 1;
    while (at > 0 && sc[i] > out[at - 1]) rows[at] = rows[at - 1], out[at] = out[at - 1], at--;
    rows[at] = i, out[at] = sc[i];
  }
  return got;
}

/* Query tokens of the last encoded row 0 that the vocabulary knows (not padding, not out-of-vocabulary). */
static int known_words(const loom_infer *s) {
  int known = 0;
  for (int t = 0; t < s->pb.Tq; t++) known += s->pb.query[t] > LOOM_TOKEN_OOV;
  return known;
}

int loom_infer_rank(loom_infer *s, const char *user, const char *query, int k, loom_hit *hits, unsigned *flags,
                    loom_error *err) {
  return loom_infer_rank_filtered(s, user, query, k, NULL, hits, flags, err);
}

int loom_infer_rank_filtered(loom_infer *s, const char *user, const char *query, int k, const uint8_t *keep,
                             loom_hit *hits, unsigned *flags, loom_error *err) {
  loom_model *m = s->m;
  unsigned fl = 0;
  if (flags) *flags = 0;
  if (k < 1) return loom_errorf(err, "rank: --top must be at least 1");
  if (user && !user[strspn(user, " \t\r\n")])
    return loom_errorf(err, "rank: the user id is empty — give a user id (an unknown one is ranked non-personalised)");
  if (loom_model_task(m) == LOOM_TASK_MULTICLASS)
    return loom_errorf(err, "%s: a multiclass model classifies rows; it does not rank items for a user — use score",
                       s->path);
  if (loom_model_task(m) == LOOM_TASK_REGRESSION || loom_model_task(m) == LOOM_TASK_MULTITASK)
    return loom_errorf(err, "%s: a %s model predicts values per row; it does not rank items for a user — use score",
                       s->path, loom_task_name(loom_model_task(m)));
  bool has_query = query && query[strspn(query, " \t\r\n")];
  if (has_query && !loom_model_input_query(m) && !loom_model_reads_query(m))
    return loom_errorf(err, "%s: a %s model has no query input, so a query cannot change its ranking — drop the "
                            "query to rank for the user alone, or rank with a ranking or retrieval model trained with "
                            "[data] query_col", s->path, loom_task_name(loom_model_task(m)));
  bool no_user = two_tower(s) && !loom_model_input_user(m); /* the user side is the query alone (retrieval) */
  if (no_user && !has_query)
    return loom_errorf(err, "%s: a %s model has no user input, so it cannot rank for a user — give a query (the "
                            "ranking is then the query's, the same for every user) or use search --text",
                       s->path, loom_task_name(loom_model_task(m)));
  if (catalog_open(s, err) < 0) return -1;
  if (no_user) fl |= LOOM_INFER_USER_IGNORED;
  if (!user || loom_dataset_user_index(s->cat, user) == 0) fl |= LOOM_INFER_UNKNOWN_USER;
  int64_t rows[1024];
  float sc[1024];
  if (k > 1024) k = 1024;
  int n;
  if (two_tower(s)) {
    loom_index *ix = catalog_index(s, loom_model_task(m) == LOOM_TASK_RETRIEVAL ? LOOM_INDEX_COSINE : LOOM_INDEX_DOT, err);
    if (!ix || user_vector(s, user, has_query ? query : NULL, s->u, err) < 0) return -1;
    if (has_query && known_words(s) == 0) {
      if (no_user) /* nothing else to rank by: as search does */
        return loom_errorf(err, "rank: no word of '%.60s' is in the model's vocabulary (%d words) — try other words",
                           query, loom_vocab_size(s->prep.vocab));
      fl |= LOOM_INFER_QUERY_UNKNOWN; /* and ranked as if no query was given, by the user alone */
      if (user_vector(s, user, NULL, s->u, err) < 0) return -1;
    }
    int64_t *skip = NULL, n_skip = 0;
    if (keep) {
      if (!(skip = loom_malloc(sizeof(int64_t) * (size_t)s->N))) return loom_errorf(err, "out of memory");
      for (int64_t i = 0; i < s->N; i++)
        if (!keep[i]) skip[n_skip++] = i;
    }
    n = loom_index_search(ix, s->u, k, skip, (int)n_skip, rows, sc);
    loom_free(skip);
  } else { /* pointwise: P(click) of every (user, item) pair, the item towers from the cache — or, when
            * history items are read through the text tower, the whole model (nothing to cache) */
    if (s->metric >= 0 || s->iopts.kind == LOOM_INDEX_IVF || s->iopts.kind == LOOM_INDEX_HNSW)
      return loom_errorf(err, "%s: a %s model scores every (user, item) pair with its head — --metric and --index "
                              "apply to two-tower models (ranking, retrieval); remove them", s->path,
                         loom_task_name(loom_model_task(m)));
    int32_t hl = 0;
    const bool hist_text = loom_model_history_text(m);
    if (loom_model_history_len(m) > 0 && user_history(s, user, &hl, err) < 0) return -1;
    if (!hist_text && pointwise_cache(s, err) < 0) return -1;
    loom_model *h = hist_text ? m : s->head;
    if (has_query) { /* a query of no known word: ranked as if none was given, as the two-tower path does */
      int64_t r0 = 0;
      if (loom_dataset_encode_pairs(s->cat, user, query, &r0, 1, &s->pb, err) < 0) return -1;
      if (known_words(s) == 0) fl |= LOOM_INFER_QUERY_UNKNOWN, has_query = false;
    }
    for (int64_t i = 0; i < s->N; i += s->pb.cap) {
      int b = (int)(s->N - i < s->pb.cap ? s->N - i : s->pb.cap);
      int64_t r[1024];
      for (int j = 0; j < b; j++) r[j] = i + j;
      if (loom_dataset_encode_pairs(s->cat, user, has_query ? query : NULL, r, b, &s->pb, err) < 0) return -1;
      if (loom_model_history_len(m) > 0) loom_batch_set_history(&s->pb, b, s->uhist, hl);
      if (loom_model_compile(h, b, false, err) < 0 || loom_model_bind(h, &s->pb, err) < 0) return -1;
      for (int t = 0; t < loom_model_n_towers(h); t++)
        if (loom_model_tower_in(h, t)) loom_input_bind(loom_model_tower_in(h, t), s->tower[t] + (size_t)i * loom_model_tower_dim(h, t));
      loom_graph_forward(loom_model_graph(h));
      for (int j = 0; j < b; j++) s->scores[i + j] = 1.0f / (1.0f + expf(-loom_model_logits(h)->data[j]));
    }
    if (keep) /* below every probability: filtered rows come last, and are dropped below */
      for (int64_t i = 0; i < s->N; i++)
        if (!keep[i]) s->scores[i] = -INFINITY;
    n = top_k(s->scores, s->N, k, rows, sc);
    while (keep && n > 0 && !keep[rows[n - 1]]) n--;
  }
  fill_hits(s, rows, sc, n, hits);
  if (flags) *flags = fl;
  return n;
}

int loom_infer_search_text(loom_infer *s, const char *text, int k, loom_hit *hits, loom_error *err) {
  if (k < 1) return loom_errorf(err, "search: --top must be at least 1");
  if (!text || !text[strspn(text, " \t\r\n")]) return loom_errorf(err, "search: the query text is empty — give some words");
  if (!two_tower(s) || !loom_model_input_query(s->m))
    return loom_errorf(err, "%s: a %s model has no query tower — text search needs a ranking model with [data] "
                            "query_col, or a retrieval model", s->path, loom_task_name(loom_model_task(s->m)));
  if (catalog_open(s, err) < 0) return -1;
  loom_index *ix = catalog_index(s, LOOM_INDEX_COSINE, err);
  if (!ix) return -1;
  if (user_vector(s, NULL, text, s->u, err) < 0) return -1;
  if (known_words(s) == 0)
    return loom_errorf(err, "search: no word of '%.60s' is in the model's vocabulary (%d words) — try other words",
                       text, loom_vocab_size(s->prep.vocab));
  int64_t rows[1024];
  float sc[1024];
  if (k > 1024) k = 1024;
  int n = loom_index_search(ix, s->u, k, NULL, 0, rows, sc);
  fill_hits(s, rows, sc, n, hits);
  return n;
}

int loom_infer_search_image(loom_infer *s, const char *image_path, int k, loom_hit *hits, loom_error *err) {
  loom_model *m = s->m;
  if (k < 1) return loom_errorf(err, "search: --top must be at least 1");
  if (!two_tower(s) || !loom_model_input_image(m))
    return loom_errorf(err, "%s: the model has no image tower — photo search needs a ranking or retrieval model "
                            "trained with [data] image_col", s->path);
  if (catalog_open(s, err) < 0) return -1;
  if (!s->ix_img) { /* the catalogue's photos through the same path as the query photo */
    double t0 = now();
    float *Vi = loom_malloc(sizeof(float) * (size_t)s->N * (size_t)s->D);
    if (!Vi) return loom_errorf(err, "out of memory for %lld item vectors", (long long)s->N);
    if (compute_vectors(s, Vi, true, err) == 0)
      s->ix_img = build_index(s, Vi, search_metric(s, LOOM_INDEX_COSINE),
                              "item photo vectors", err);
    loom_free(Vi);
    if (!s->ix_img) return -1;
    s->t_catalog += now() - t0;
    s->cat_source = "computed (photos)";
  }
  loom_index *ix = s->ix_img;
  size_t P = loom_model_image_floats(m);
  float *img = loom_malloc(sizeof(float) * P);
  if (!img) return loom_errorf(err, "out of memory");
  int32_t zero = 0;
  int rc = loom_image_load(image_path, &s->prep.image, img, err);
  if (rc == 0) rc = loom_model_compile_output(m, 1, loom_model_item_vec(m), err);
  if (rc == 0) {
    loom_model_bind_item_arrays(m, &zero, NULL, NULL, img, 1, 1);
    loom_graph_forward(loom_model_graph(m));
  }
  loom_free(img);
  if (rc < 0) return -1;
  int64_t rows[1024];
  float sc[1024];
  if (k > 1024) k = 1024;
  int n = loom_index_search(ix, loom_model_item_vec(m)->data, k, NULL, 0, rows, sc);
  fill_hits(s, rows, sc, n, hits);
  return n;
}

/* ---------------------------------------------------------------- embeddings */

static int write_embeddings(const char *path, const char *tensor, const float *x, int64_t n, int D, cJSON *ids,
                            const char *kind, loom_error *err) {
  char *json = cJSON_PrintUnformatted(ids);
  loom_st_writer *w = loom_st_writer_new();
  int rc = -1;
  if (!json || !w) {
    loom_errorf(err, "out of memory");
  } else if (loom_st_writer_add(w, tensor, LOOM_ST_F32, 2, (int64_t[]){n, D}, x, err) == 0 &&
             loom_st_writer_meta(w, "ids", json, err) == 0 && loom_st_writer_meta(w, "loom.kind", kind, err) == 0 &&
             loom_st_writer_meta(w, "loom.version", loom_version(), err) == 0) {
    rc = loom_st_write(w, path, err);
  }
  loom_st_writer_free(w);
  cJSON_free(json);
  return rc;
}

int loom_infer_embed(loom_infer *s, const char *which, const char *out_path, loom_error *err) {
  loom_model *m = s->m;
  bool items = !strcmp(which, "items");
  if (!items && strcmp(which, "users") != 0) return loom_errorf(err, "embed: '%s' is not items or users", which);
  if (!two_tower(s))
    return loom_errorf(err, "%s: a %s model has no separate item and user towers — embed needs a ranking or "
                            "retrieval checkpoint", s->path, loom_task_name(loom_model_task(m)));
  if (!items && !loom_model_input_user(m))
    return loom_errorf(err, "%s: the model has no user embedding (a %s model) — embed items instead", s->path,
                       loom_task_name(loom_model_task(m)));
  if (catalog_open(s, err) < 0) return -1;
  cJSON *ids = cJSON_CreateArray();
  if (!ids) return loom_errorf(err, "out of memory");
  int rc = -1;
  float *U = NULL;
  if (items) {
    if (catalog_vectors(s, err) < 0) goto done;
    for (int64_t i = 0; i < s->N; i++)
      if (!cJSON_AddItemToArray(ids, cJSON_CreateString(loom_dataset_catalog_key(s->cat, i)))) {
        loom_errorf(err, "out of memory");
        goto done;
      }
    rc = write_embeddings(out_path, "item_vectors", s->V, s->N, s->D, ids, "item-embeddings", err);
    goto done;
  }
  int32_t nu = loom_idmap_size(s->prep.users) - 1;
  if (nu <= 0) {
    loom_errorf(err, "%s: no users in the training data", s->path);
    goto done;
  }
  if (!(U = loom_malloc(sizeof(float) * (size_t)nu * (size_t)s->D))) {
    loom_errorf(err, "out of memory");
    goto done;
  }
  /* user vectors with an empty query, cap rows at a time */
  int cap = s->pb.cap;
  for (int32_t i = 0; i < nu; i += cap) {
    int b = nu - i < cap ? nu - i : cap;
    int64_t r[1024] = {0};
    if (loom_dataset_encode_pairs(s->cat, NULL, NULL, r, b, &s->pb, err) < 0) goto done;
    for (int j = 0; j < b; j++) s->pb.user[j] = i + j + 1;
    if (loom_model_compile_output(m, b, loom_model_user_vec(m), err) < 0 || loom_model_bind(m, &s->pb, err) < 0) goto done;
    loom_graph_forward(loom_model_graph(m));
    memcpy(U + (size_t)i * (size_t)s->D, loom_model_user_vec(m)->data, sizeof(float) * (size_t)b * (size_t)s->D);
    for (int j = 0; j < b; j++)
      if (!cJSON_AddItemToArray(ids, cJSON_CreateString(loom_idmap_key(s->prep.users, i + j + 1)))) {
        loom_errorf(err, "out of memory");
        goto done;
      }
  }
  rc = write_embeddings(out_path, "user_vectors", U, nu, s->D, ids, "user-embeddings", err);
done:
  loom_free(U);
  cJSON_Delete(ids);
  return rc;
}

/* ---------------------------------------------------------------- scoring and evaluation */

/* A frozen dataset over `csv` in the training schema (items and users tables as configured). */
static loom_dataset *open_rows(loom_infer *s, const char *csv, loom_error *err) {
  loom_data_schema sc = s->dsec.schema;
  if ((size_t)snprintf(sc.interactions, sizeof sc.interactions, "%s", csv) >= sizeof sc.interactions) {
    loom_errorf(err, "%s: path too long", csv);
    return NULL;
  }
  loom_dataset *ds = loom_dataset_open(&sc, &s->prep, err);
  if (!ds) loom_error_wrap(err, "%s (rows need the columns the model was trained on)", csv);
  return ds;
}

int loom_infer_score_csv(loom_infer *s, const char *csv, loom_infer_row_fn fn, void *ctx, loom_error *err) {
  loom_model *m = s->m;
  loom_dataset *ds = open_rows(s, csv, err);
  if (!ds) return -1;
  loom_batch b;
  int rc = loom_batch_init(&b, ds, s->batch, err);
  if (rc < 0) {
    loom_dataset_free(ds);
    return -1;
  }
  int64_t n = loom_dataset_rows(ds, LOOM_SPLIT_ALL);
  const int32_t *rows = loom_dataset_split_rows(ds, LOOM_SPLIT_ALL);
  const loom_data_schema *sc = &s->dsec.schema;
  int K = loom_model_n_classes(m), D = s->D;
  for (int64_t at = 0; at < n && rc == 0; at += s->batch) {
    int B = (int)(n - at < s->batch ? n - at : s->batch);
    if (loom_dataset_encode(ds, rows + at, B, &b, err) < 0 || loom_model_compile(m, B, false, err) < 0 ||
        loom_model_bind(m, &b, err) < 0) {
      rc = -1;
      break;
    }
    loom_graph_forward(loom_model_graph(m));
    for (int i = 0; i < B && rc == 0; i++) {
      int32_t r = rows[at + i];
      loom_infer_row out = {.line = loom_dataset_row_line(ds, r),
                            .user = loom_dataset_row_user(ds, r),
                            .item = loom_dataset_row_item(ds, r),
                            .cls = -1,
                            .unknown_user = sc->user_col[0] && b.user[i] == 0,
                            .unknown_item = sc->item_col[0] && b.item[i] == 0};
      if (loom_model_task(m) == LOOM_TASK_BINARY) {
        out.logit = loom_model_logits(m)->data[i];
        out.score = 1.0f / (1.0f + expf(-out.logit));
      } else if (loom_model_task(m) == LOOM_TASK_MULTICLASS) {
        const float *z = loom_model_logits(m)->data + (size_t)i * K;
        int best = 0;
        for (int k = 1; k < K; k++)
          if (z[k] > z[best]) best = k;
        double sum = 0;
        for (int k = 0; k < K; k++) sum += exp((double)(z[k] - z[best]));
        for (int k = 0; k < K; k++) s->probs[k] = (float)(exp((double)(z[k] - z[best])) / sum);
        out.cls = best, out.score = out.logit = s->probs[best], out.probs = s->probs;
      } else if (loom_model_task(m) == LOOM_TASK_REGRESSION) { /* the prediction, in label units */
        out.score = out.logit = loom_model_logits(m)->data[i];
      } else if (loom_model_task(m) == LOOM_TASK_MULTITASK) { /* per head: P(1) of a binary head, a prediction */
        const float *z = loom_model_logits(m)->data + (size_t)i * K;
        for (int k = 0; k < K; k++) s->probs[k] = loom_model_head_binary(m, k) ? 1.0f / (1.0f + expf(-z[k])) : z[k];
        out.score = s->probs[0], out.logit = z[0], out.probs = s->probs;
      } else if (loom_model_task(m) == LOOM_TASK_RANKING) {
        out.score = out.logit = loom_model_logits(m)->data[(size_t)i * loom_model_items_per_row(m)];
      } else { /* retrieval: cosine of the query and the row's item */
        const float *u = loom_model_user_vec(m)->data + (size_t)i * D, *v = loom_model_item_vec(m)->data + (size_t)i * loom_model_items_per_row(m) * D;
        float nu = sqrtf(loom_vec_dot((size_t)D, u, u)), nv = sqrtf(loom_vec_dot((size_t)D, v, v));
        out.score = out.logit = loom_vec_dot((size_t)D, u, v) / ((nu > 1e-12f ? nu : 1e-12f) * (nv > 1e-12f ? nv : 1e-12f));
      }
      rc = fn(ctx, &out);
    }
  }
  loom_batch_free(&b);
  loom_dataset_free(ds);
  return rc;
}

const loom_evaluator *loom_infer_eval(loom_infer *s, const char *csv, loom_split sp, loom_error *err) {
  loom_evaluator_free(s->ev);
  loom_dataset_free(s->eval_ds);
  s->ev = NULL, s->eval_ds = NULL;
  /* labels the task cannot have (a binary 2 or -1) are refused at load, with their file and line */
  s->dsec.schema.label_values = loom_train_label_values(s->cfg, &s->dsec.schema);
  if (csv) {
    s->eval_ds = open_rows(s, csv, err);
    s->dsec.schema.label_values = 0; /* score and rank read rows whatever their label column holds */
    if (!s->eval_ds) return NULL;
    if (!loom_dataset_has_labels(s->eval_ds)) {
      loom_errorf(err, "%s: no label column '%s' — eval needs labels (use score to predict without them)", csv,
                  s->dsec.schema.label_col);
      return NULL;
    }
    sp = LOOM_SPLIT_ALL;
  } else {
    /* the run's own data, re-read and re-split as training did; the fitted preprocessing must agree */
    s->eval_ds = loom_dataset_open(&s->dsec.schema, NULL, err);
    s->dsec.schema.label_values = 0;
    if (!s->eval_ds) return NULL;
    char *a = loom_prep_to_string(loom_dataset_prep(s->eval_ds)), *b = loom_prep_to_string(&s->prep);
    bool same = a && b && !strcmp(a, b);
    loom_free(a), loom_free(b);
    if (!same) {
      loom_errorf(err, "%s: the training data changed since this checkpoint was trained (its preprocessing no longer "
                       "matches) — evaluate on a file with --data instead", s->dsec.schema.interactions);
      return NULL;
    }
  }
  if (!(s->ev = loom_evaluator_new(s->m, s->eval_ds, s->cfg, sp, err))) return NULL;
  if (loom_evaluator_run(s->ev, err) < 0) return NULL;
  return s->ev;
}

/* ---------------------------------------------------------------- accessors (loom-serve) */

const loom_data_schema *loom_infer_schema(const loom_infer *s) { return &s->dsec.schema; }
int loom_infer_dim(const loom_infer *s) { return two_tower(s) ? s->D : 0; }
const char *loom_infer_item_key(loom_infer *s, int64_t row, loom_error *err) {
  if (catalog_open(s, err) < 0) return NULL;
  if (row < 0 || row >= s->N) {
    loom_errorf(err, "catalogue row %lld is out of range (%lld items)", (long long)row, (long long)s->N);
    return NULL;
  }
  return loom_dataset_catalog_key(s->cat, row);
}
const float *loom_infer_item_vectors(loom_infer *s, loom_error *err) {
  return catalog_vectors(s, err) < 0 ? NULL : s->V;
}
int loom_infer_user_vector(loom_infer *s, const char *user, const char *query, float *out, unsigned *flags,
                           loom_error *err) {
  if (flags) *flags = 0;
  if (!two_tower(s))
    return loom_errorf(err, "%s: a %s model has no user tower — vectors need a ranking or retrieval checkpoint",
                       s->path, loom_task_name(loom_model_task(s->m)));
  if (catalog_open(s, err) < 0 || user_vector(s, user, query, out, err) < 0) return -1;
  unsigned fl = 0;
  if (!user || loom_dataset_user_index(s->cat, user) == 0) fl |= LOOM_INFER_UNKNOWN_USER;
  if (query && query[strspn(query, " \t\r\n")] && known_words(s) == 0) fl |= LOOM_INFER_QUERY_UNKNOWN;
  if (flags) *flags = fl;
  return 0;
}
