/* serve_internal.h — shared by the server's files: the refcounted model handle (model.c), the string
 * map, and the endpoint handlers (handlers.c) the workers run. Not a public header. */
#ifndef LOOM_SERVE_INTERNAL_H
#define LOOM_SERVE_INTERNAL_H

#include <stdatomic.h>
#include <stdint.h>

#include "loom/data.h"
#include "loom/infer.h"
#include "loom/serve.h"

/* Open-addressing map from a string (not owned) to an int64. */
typedef struct serve_map {
  const char **key;
  int64_t *val, cap;
} serve_map;
int serve_map_init(serve_map *m, int64_t n);
void serve_map_put(serve_map *m, const char *key, int64_t v);
int64_t serve_map_get(const serve_map *m, const char *key); /* -1 when absent */
void serve_map_free(serve_map *m);

typedef struct serve_model {
  atomic_int refs;
  uint64_t version;
  char path[4096], sha[65];
  int n;            /* sessions: one per worker, worker i only ever uses sess[i] */
  loom_infer **sess;
  loom_task_kind task;
  int64_t N;        /* catalogue rows */
  int D;            /* two-tower vector width, 0 otherwise */
  const float *V;   /* (N, D) item vectors (session 0's), two-tower models */
  serve_map item_row;     /* item key -> catalogue row */
  const char **category;  /* (N) the items table's category column, NULL if it has none */
  serve_map users;        /* user key -> index into seen_off (training interactions) */
  int64_t *seen_off, *seen; /* CSR: user u saw catalogue rows seen[seen_off[u] .. seen_off[u+1]) (-1: not here) */
  bool have_seen;
  loom_table items_tab, inter_tab;
  bool have_items_tab, have_inter_tab;
  int cache_hits, cache_misses; /* sessions whose item vectors came from / were computed past the item cache */
  double load_seconds;
  char *doc;        /* the /v1/model body */
} serve_model;

serve_model *serve_model_load(const char *path, const char *items, int n, uint64_t version, loom_error *err);
void serve_model_free(serve_model *sm);
void serve_model_unref(serve_model *sm);

/* A reply: status and a malloc'd JSON body. */
typedef struct serve_reply {
  int status;
  char *body;
  bool non_personalised;
} serve_reply;

/* Runs one parsed request on session `sess` of model sm (image bytes for /v1/search, already decoded
 * from base64, in req->image / image_len); tmpdir for the score rows' and the photo's scratch files. */
void serve_handle(serve_model *sm, int sess, const loom_serve_request *req, const char *tmpdir, serve_reply *out);
char *serve_error_body(const char *msg);

#endif
