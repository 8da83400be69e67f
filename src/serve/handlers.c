/* handlers.c — the POST endpoints of loom-serve run on one inference session: a validated request
 * (request.c) in, a status and a JSON body out. The caller (server.c) owns threads, queues, the model
 * handle and HTTP; nothing here blocks on anything but the session's own computation. Scratch files
 * (rows to score, a photo to search by) go to the server's private directory and are removed at once. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "loom/alloc.h"
#include "serve_internal.h"

char *serve_error_body(const char *msg) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "error", msg);
  char *s = cJSON_PrintUnformatted(o);
  cJSON_Delete(o);
  return s;
}

static void reply_json(serve_reply *out, int status, cJSON *o) {
  out->status = status;
  out->body = cJSON_PrintUnformatted(o);
  cJSON_Delete(o);
  if (!out->body) out->status = 500, out->body = serve_error_body("out of memory");
}

static void reply_error(serve_reply *out, int status, const char *msg) {
  out->status = status;
  out->body = serve_error_body(msg);
}

static cJSON *hits_json(const loom_hit *h, int n) {
  cJSON *a = cJSON_CreateArray();
  for (int i = 0; i < n; i++) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "item", h[i].item);
    cJSON_AddNumberToObject(o, "score", h[i].score);
    cJSON_AddNumberToObject(o, "row", (double)h[i].row);
    if (h[i].title) cJSON_AddStringToObject(o, "title", h[i].title);
    if (h[i].unknown_item) cJSON_AddTrueToObject(o, "cold_start");
    cJSON_AddItemToArray(a, o);
  }
  return a;
}

static cJSON *base(const serve_model *sm) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddNumberToObject(o, "model_version", (double)sm->version);
  return o;
}

static void rank(serve_model *sm, int si, const loom_serve_request *r, serve_reply *out) {
  loom_error err = {""};
  uint8_t *keep = NULL;
  if (r->exclude_seen || r->n_category > 0) {
    if (r->n_category > 0 && !sm->category)
      return reply_error(out, 400, "field 'category': the catalogue's items table has no category column to filter by");
    if (r->exclude_seen && !sm->have_seen)
      return reply_error(out, 400, "field 'exclude_seen': the checkpoint's training interactions could not be read, "
                                   "so the items a user saw are unknown");
    if (!(keep = loom_malloc((size_t)sm->N))) return reply_error(out, 500, "out of memory");
    for (int64_t i = 0; i < sm->N; i++) {
      bool k = r->n_category == 0;
      for (int c = 0; !k && c < r->n_category; c++) k = !strcmp(sm->category[i], r->category[c]);
      keep[i] = k;
    }
    int64_t u = r->exclude_seen && r->user ? serve_map_get(&sm->users, r->user) : -1;
    for (int64_t j = u >= 0 ? sm->seen_off[u] : 0; u >= 0 && j < sm->seen_off[u + 1]; j++)
      if (sm->seen[j] >= 0) keep[sm->seen[j]] = 0;
  }
  int top = r->top;
  if (top > sm->N) top = (int)sm->N;
  loom_hit *hits = loom_malloc(sizeof *hits * (size_t)top);
  unsigned fl = 0;
  int n = hits ? loom_infer_rank_filtered(sm->sess[si], r->user, r->query, top, keep, hits, &fl, &err) : -1;
  loom_free(keep);
  if (n < 0) {
    loom_free(hits);
    return reply_error(out, hits ? 400 : 500, hits ? err.msg : "out of memory");
  }
  cJSON *o = base(sm);
  if (r->user) cJSON_AddStringToObject(o, "user", r->user);
  bool personal = !(fl & (LOOM_INFER_UNKNOWN_USER | LOOM_INFER_USER_IGNORED));
  cJSON_AddBoolToObject(o, "personalised", personal);
  out->non_personalised = !personal;
  if (fl & LOOM_INFER_UNKNOWN_USER && r->user) cJSON_AddTrueToObject(o, "unknown_user");
  if (fl & LOOM_INFER_QUERY_UNKNOWN) cJSON_AddTrueToObject(o, "query_unknown");
  if (r->top_capped || top < r->top) cJSON_AddTrueToObject(o, "top_capped");
  cJSON_AddItemToObject(o, "items", hits_json(hits, n));
  loom_free(hits);
  reply_json(out, 200, o);
}

/* A scratch file in tmpdir holding n bytes; its path into path (removed by the caller). */
static int scratch(const char *tmpdir, const char *suffix, const void *data, size_t n, char *path, size_t cap) {
  snprintf(path, cap, "%s/req-XXXXXX%s", tmpdir, suffix);
  int fd = mkstemps(path, (int)strlen(suffix));
  if (fd < 0) return -1;
  const char *p = data;
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      close(fd), unlink(path);
      return -1;
    }
    p += w, n -= (size_t)w;
  }
  close(fd);
  return 0;
}

static void search(serve_model *sm, int si, const loom_serve_request *r, const char *tmpdir, serve_reply *out) {
  loom_error err = {""};
  int top = r->top < sm->N ? r->top : (int)sm->N;
  loom_hit *hits = loom_malloc(sizeof *hits * (size_t)top);
  if (!hits) return reply_error(out, 500, "out of memory");
  int n;
  if (r->text) {
    n = loom_infer_search_text(sm->sess[si], r->text, top, hits, &err);
  } else {
    char path[4200];
    if (scratch(tmpdir, ".img", r->image, r->image_len, path, sizeof path) < 0) {
      loom_free(hits);
      return reply_error(out, 500, "could not write the photo to the server's scratch directory");
    }
    n = loom_infer_search_image(sm->sess[si], path, top, hits, &err);
    unlink(path);
    if (n < 0) { /* the message names the scratch file: say "the photo" instead */
      char msg[sizeof err.msg + 64];
      const char *at = strstr(err.msg, path);
      if (at) snprintf(msg, sizeof msg, "field 'image': %.*s(the photo)%s", (int)(at - err.msg), err.msg, at + strlen(path));
      else snprintf(msg, sizeof msg, "field 'image': %s", err.msg);
      loom_free(hits);
      return reply_error(out, 400, msg);
    }
  }
  if (n < 0) {
    loom_free(hits);
    return reply_error(out, 400, err.msg);
  }
  cJSON *o = base(sm);
  if (r->top_capped || top < r->top) cJSON_AddTrueToObject(o, "top_capped");
  cJSON_AddItemToObject(o, "items", hits_json(hits, n));
  loom_free(hits);
  reply_json(out, 200, o);
}

static void embed(serve_model *sm, int si, const loom_serve_request *r, serve_reply *out) {
  loom_error err = {""};
  if (!sm->D) return reply_error(out, 400, "embed: this model has no vectors (it is not a ranking or retrieval model)");
  cJSON *o = base(sm);
  cJSON_AddNumberToObject(o, "dim", sm->D);
  if (r->items) {
    cJSON *a = cJSON_AddArrayToObject(o, "vectors");
    for (int i = 0; i < r->n_rows; i++) {
      int64_t row = serve_map_get(&sm->item_row, r->items[i]);
      if (row < 0) {
        char msg[200];
        snprintf(msg, sizeof msg, "field 'items[%d]': '%.60s' is not in the catalogue", i, r->items[i]);
        cJSON_Delete(o);
        return reply_error(out, 400, msg);
      }
      cJSON_AddItemToArray(a, cJSON_CreateFloatArray(sm->V + (size_t)row * (size_t)sm->D, sm->D));
    }
    return reply_json(out, 200, o);
  }
  float *u = loom_malloc(sizeof(float) * (size_t)sm->D);
  unsigned fl = 0;
  if (!u || loom_infer_user_vector(sm->sess[si], r->user, r->query, u, &fl, &err) < 0) {
    loom_free(u);
    cJSON_Delete(o);
    return reply_error(out, u ? 400 : 500, u ? err.msg : "out of memory");
  }
  bool personal = r->user && !(fl & LOOM_INFER_UNKNOWN_USER);
  cJSON_AddBoolToObject(o, "personalised", personal);
  out->non_personalised = !personal;
  if (fl & LOOM_INFER_QUERY_UNKNOWN) cJSON_AddTrueToObject(o, "query_unknown");
  cJSON_AddItemToObject(o, "vector", cJSON_CreateFloatArray(u, sm->D));
  loom_free(u);
  reply_json(out, 200, o);
}

typedef struct score_ctx {
  cJSON *rows;
  int unknown_users;
  const loom_model *m; /* multitask: each head's value is a field named by its column */
} score_ctx;

static int score_row(void *ctx, const loom_infer_row *row) {
  score_ctx *c = ctx;
  cJSON *o = cJSON_CreateObject();
  if (row->user[0]) cJSON_AddStringToObject(o, "user", row->user);
  if (row->item[0]) cJSON_AddStringToObject(o, "item", row->item);
  cJSON_AddNumberToObject(o, "score", row->score);
  if (row->cls >= 0) cJSON_AddNumberToObject(o, "class", row->cls);
  for (int k = 0; loom_model_task(c->m) == LOOM_TASK_MULTITASK && k < loom_model_n_classes(c->m); k++)
    cJSON_AddNumberToObject(o, loom_model_head_name(c->m, k), row->probs[k]);
  if (row->unknown_user) cJSON_AddTrueToObject(o, "unknown_user"), c->unknown_users++;
  if (row->unknown_item) cJSON_AddTrueToObject(o, "cold_start");
  cJSON_AddItemToArray(c->rows, o);
  return 0;
}

static void score(serve_model *sm, int si, const loom_serve_request *r, const char *tmpdir, serve_reply *out) {
  loom_error err = {""};
  char path[4200];
  if (scratch(tmpdir, ".csv", r->csv, strlen(r->csv), path, sizeof path) < 0)
    return reply_error(out, 500, "could not write the rows to the server's scratch directory");
  cJSON *o = base(sm);
  score_ctx c = {cJSON_AddArrayToObject(o, "rows"), 0, loom_infer_model(sm->sess[si])};
  int rc = loom_infer_score_csv(sm->sess[si], path, score_row, &c, &err);
  unlink(path);
  if (rc < 0) {
    cJSON_Delete(o);
    /* the message names the scratch file and its lines: say "rows" (line L is rows[L-2]) */
    char msg[sizeof err.msg + 64];
    const char *at = strstr(err.msg, path);
    if (at) snprintf(msg, sizeof msg, "field 'rows': %.*s%s", (int)(at - err.msg), err.msg, at + strlen(path));
    else snprintf(msg, sizeof msg, "field 'rows': %s", err.msg);
    return reply_error(out, 400, msg);
  }
  out->non_personalised = c.unknown_users > 0;
  reply_json(out, 200, o);
}

void serve_handle(serve_model *sm, int si, const loom_serve_request *req, const char *tmpdir, serve_reply *out) {
  *out = (serve_reply){0};
  switch (req->ep) {
  case LOOM_SERVE_RANK: rank(sm, si, req, out); break;
  case LOOM_SERVE_SEARCH: search(sm, si, req, tmpdir, out); break;
  case LOOM_SERVE_EMBED: embed(sm, si, req, out); break;
  case LOOM_SERVE_SCORE: score(sm, si, req, tmpdir, out); break;
  default: reply_error(out, 500, "not a model endpoint"); break;
  }
  if (!out->body) out->status = 500, out->body = serve_error_body("out of memory");
}
