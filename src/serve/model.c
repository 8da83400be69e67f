/* model.c — one served model (serve_internal.h): a checkpoint opened as a pool of inference sessions
 * (one per worker: a session holds per-call state, so no two threads ever share one), warmed up at
 * load (catalogue read, item vectors or item towers computed, images decoded once), plus what the
 * server adds over a session: item key -> row, each row's category, each known user's seen items, and
 * the /v1/model document. Refcounted: the server swaps the current handle atomically and the last
 * request holding an old one frees it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "loom/alloc.h"
#include "loom/safetensors.h"
#include "loom/sha256.h"
#include "serve_internal.h"

static uint64_t fnv(const char *s) {
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h;
}

int serve_map_init(serve_map *m, int64_t n) {
  m->cap = 16;
  while (m->cap < 2 * n) m->cap *= 2;
  m->key = loom_calloc((size_t)m->cap, sizeof *m->key);
  m->val = loom_malloc(sizeof *m->val * (size_t)m->cap);
  return m->key && m->val ? 0 : -1;
}

void serve_map_put(serve_map *m, const char *key, int64_t v) {
  for (int64_t i = (int64_t)(fnv(key) & (uint64_t)(m->cap - 1));; i = (i + 1) & (m->cap - 1)) {
    if (!m->key[i]) { m->key[i] = key, m->val[i] = v; return; }
    if (!strcmp(m->key[i], key)) return; /* the first row of a repeated key wins */
  }
}

int64_t serve_map_get(const serve_map *m, const char *key) {
  if (!m->cap) return -1;
  for (int64_t i = (int64_t)(fnv(key) & (uint64_t)(m->cap - 1)); m->key[i]; i = (i + 1) & (m->cap - 1))
    if (!strcmp(m->key[i], key)) return m->val[i];
  return -1;
}

void serve_map_free(serve_map *m) {
  loom_free((void *)m->key), loom_free(m->val);
  *m = (serve_map){0};
}

/* Category of each catalogue row (column "category" of the items table) and each user's seen items (the
 * training interactions' (user, item) pairs). Either may be missing: the filter is then refused per request. */
static int read_side_tables(serve_model *sm, loom_infer *s, loom_error *err) {
  const loom_data_schema *sc = loom_infer_schema(s);
  const char *key = sc->item_key[0] ? sc->item_key : sc->item_col;
  loom_csv_opts co = {.allow_empty = 1};
  loom_colspec ispec[2] = {{key, LOOM_COL_STRING, 0}, {"category", LOOM_COL_STRING, 1}};
  loom_error e;
  if (loom_table_read(&sm->items_tab, sc->items, ispec, 2, &co, &e) == 0) {
    sm->have_items_tab = true;
    if (sm->items_tab.cols[1].present && sm->items_tab.nrows == sm->N) {
      sm->category = loom_calloc((size_t)sm->N, sizeof *sm->category);
      if (!sm->category) return loom_errorf(err, "out of memory");
      for (int64_t i = 0; i < sm->N; i++) sm->category[i] = loom_table_str(&sm->items_tab, 1, i);
    }
  }
  if (!sc->interactions[0] || !sc->user_col[0]) return 0;
  loom_colspec spec[2] = {{sc->user_col, LOOM_COL_STRING, 0}, {sc->item_col, LOOM_COL_STRING, 0}};
  if (loom_table_read(&sm->inter_tab, sc->interactions, spec, 2, &co, &e) < 0) return 0;
  sm->have_inter_tab = true;
  int64_t R = sm->inter_tab.nrows;
  if (serve_map_init(&sm->users, R) < 0) return loom_errorf(err, "out of memory");
  int64_t *urow = loom_malloc(sizeof(int64_t) * (size_t)(R + 1)), nu = 0;
  if (!urow) return loom_errorf(err, "out of memory");
  for (int64_t r = 0; r < R; r++) { /* user -> dense index, in first-seen order */
    const char *u = loom_table_str(&sm->inter_tab, 0, r);
    int64_t k = serve_map_get(&sm->users, u);
    if (k < 0) serve_map_put(&sm->users, u, k = nu++);
    urow[r] = k;
  }
  sm->seen_off = loom_calloc((size_t)nu + 1, sizeof *sm->seen_off);
  sm->seen = loom_malloc(sizeof *sm->seen * (size_t)(R ? R : 1));
  if (!sm->seen_off || !sm->seen) return loom_free(urow), loom_errorf(err, "out of memory");
  for (int64_t r = 0; r < R; r++) sm->seen_off[urow[r] + 1]++;
  for (int64_t u = 0; u < nu; u++) sm->seen_off[u + 1] += sm->seen_off[u];
  int64_t *fill = loom_calloc((size_t)nu + 1, sizeof *fill);
  if (!fill) return loom_free(urow), loom_errorf(err, "out of memory");
  for (int64_t r = 0; r < R; r++) {
    int64_t row = serve_map_get(&sm->item_row, loom_table_str(&sm->inter_tab, 1, r));
    sm->seen[sm->seen_off[urow[r]] + fill[urow[r]]++] = row; /* -1: an item not in this catalogue */
  }
  loom_free(fill), loom_free(urow);
  sm->have_seen = true;
  return 0;
}

/* Warm-up: everything a request could need, before the model is swapped in. */
static int warm(serve_model *sm, loom_infer *s, loom_error *err) {
  int64_t N = loom_infer_catalog_size(s, err);
  if (N < 0) return -1;
  if (sm->N && N != sm->N) return loom_errorf(err, "the catalogue changed size while the sessions opened");
  sm->N = N;
  loom_task_kind t = loom_infer_task(s);
  if (t == LOOM_TASK_RANKING || t == LOOM_TASK_RETRIEVAL) {
    if (!loom_infer_item_vectors(s, err)) return -1;
  } else if (t == LOOM_TASK_BINARY) { /* the click model's item towers, by one ranking */
    loom_hit h;
    unsigned fl;
    if (loom_infer_rank(s, NULL, NULL, 1, &h, &fl, err) < 0) return -1;
  }
  return 0;
}

static char *model_doc(serve_model *sm, loom_error *err) {
  loom_st_file *f = loom_st_open(sm->path, err);
  if (!f) return NULL;
  cJSON *o = cJSON_CreateObject();
  cJSON_AddNumberToObject(o, "version", (double)sm->version);
  cJSON_AddStringToObject(o, "checkpoint", sm->path);
  cJSON_AddStringToObject(o, "sha256", sm->sha);
  const char *cfg = loom_st_meta(f, "loom.config");
  char hex[65];
  loom_sha256_hex(cfg ? cfg : "", cfg ? strlen(cfg) : 0, hex);
  cJSON_AddStringToObject(o, "config_sha256", hex);
  cJSON_AddStringToObject(o, "task", loom_task_name(sm->task));
  cJSON_AddNumberToObject(o, "catalog_size", (double)sm->N);
  cJSON_AddNumberToObject(o, "dim", sm->D);
  cJSON_AddNumberToObject(o, "sessions", sm->n);
  cJSON_AddNumberToObject(o, "load_seconds", sm->load_seconds);
  cJSON_AddStringToObject(o, "item_vectors", loom_infer_catalog_source(sm->sess[0]));
  static const char *const keys[] = {"loom.version", "loom.isa", "train.step", "train.monitor"};
  cJSON *tr = cJSON_AddObjectToObject(o, "training");
  for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
    const char *v = loom_st_meta(f, keys[i]);
    if (v) cJSON_AddStringToObject(tr, keys[i], v);
  }
  const char *best = loom_st_meta(f, "train.best");
  if (best) cJSON_AddNumberToObject(tr, "best", strtod(best, NULL));
  /* the trainer's metrics history (metrics.csv's rows): its last row, by column name */
  const char *hist = loom_st_meta(f, "loom.metrics");
  if (hist) {
    const char *nl = strchr(hist, '\n'), *last = NULL;
    for (const char *p = nl; p && p[1]; p = strchr(p + 1, '\n')) last = p + 1;
    if (nl && last && last > nl) {
      cJSON *mo = cJSON_AddObjectToObject(tr, "metrics");
      const char *h = hist, *v = last;
      while (h < nl && *v && *v != '\n') {
        size_t hn = strcspn(h, ",\n"), vn = strcspn(v, ",\n");
        char name[64], val[64];
        snprintf(name, sizeof name, "%.*s", (int)hn, h);
        snprintf(val, sizeof val, "%.*s", (int)vn, v);
        char *end;
        double x = strtod(val, &end);
        if (val[0] && !*end) cJSON_AddNumberToObject(mo, name, x);
        else cJSON_AddStringToObject(mo, name, val);
        h += hn + (h[hn] == ','), v += vn + (v[vn] == ',');
        if (h[-1] != ',' || v[-1] != ',') break;
      }
    }
  }
  loom_st_close(f);
  char *s = cJSON_PrintUnformatted(o);
  cJSON_Delete(o);
  if (!s) loom_errorf(err, "out of memory");
  return s;
}

serve_model *serve_model_load(const char *path, const char *items, int n, uint64_t version, loom_error *err) {
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  serve_model *sm = loom_calloc(1, sizeof *sm);
  if (!sm) return loom_errorf(err, "out of memory"), NULL;
  atomic_init(&sm->refs, 1);
  sm->version = version;
  snprintf(sm->path, sizeof sm->path, "%s", path);
  sm->n = n;
  if (!(sm->sess = loom_calloc((size_t)n, sizeof *sm->sess))) goto oom;
  if (loom_sha256_file(path, sm->sha, err) < 0) goto fail;
  /* Session 0 computes the item vectors and writes the item cache; the others read it (cache hits). */
  loom_infer_opts o = {.items = items, .item_cache = true};
  for (int i = 0; i < n; i++) {
    if (!(sm->sess[i] = loom_infer_open(path, &o, err))) goto fail;
    if (warm(sm, sm->sess[i], err) < 0) goto fail;
    const char *src = loom_infer_catalog_source(sm->sess[i]);
    if (!strcmp(src, "cache")) sm->cache_hits++;
    else if (!strncmp(src, "computed", 8)) sm->cache_misses++;
  }
  sm->task = loom_infer_task(sm->sess[0]);
  sm->D = loom_infer_dim(sm->sess[0]);
  if (sm->task == LOOM_TASK_RANKING || sm->task == LOOM_TASK_RETRIEVAL)
    sm->V = loom_infer_item_vectors(sm->sess[0], err);
  if (serve_map_init(&sm->item_row, sm->N) < 0) goto oom;
  for (int64_t i = 0; i < sm->N; i++) {
    const char *k = loom_infer_item_key(sm->sess[0], i, err);
    if (!k) goto fail;
    serve_map_put(&sm->item_row, k, i);
  }
  if (read_side_tables(sm, sm->sess[0], err) < 0) goto fail;
  clock_gettime(CLOCK_MONOTONIC, &t1);
  sm->load_seconds = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
  if (!(sm->doc = model_doc(sm, err))) goto fail;
  return sm;
oom:
  loom_errorf(err, "out of memory");
fail:
  serve_model_free(sm);
  return NULL;
}

void serve_model_free(serve_model *sm) {
  if (!sm) return;
  for (int i = 0; sm->sess && i < sm->n; i++) loom_infer_close(sm->sess[i]);
  loom_free(sm->sess);
  serve_map_free(&sm->item_row);
  serve_map_free(&sm->users);
  loom_free((void *)sm->category), loom_free(sm->seen), loom_free(sm->seen_off);
  if (sm->have_items_tab) loom_table_free(&sm->items_tab);
  if (sm->have_inter_tab) loom_table_free(&sm->inter_tab);
  free(sm->doc);
  loom_free(sm);
}

void serve_model_unref(serve_model *sm) {
  if (sm && atomic_fetch_sub(&sm->refs, 1) == 1) serve_model_free(sm);
}
