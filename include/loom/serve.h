/* loom/serve.h — the ranking server's request layer (issue 16): the JSON bodies of /v1/score, /v1/rank,
 * /v1/search, /v1/embed and /v1/admin/reload parsed and validated by one pure function
 * (loom_serve_parse), so the hostile-input surface can be tested and fuzzed without a model or a socket.
 * The HTTP server over libmicrohttpd (loom_server_*, below; docs/serving.md) builds on it: a pool of
 * inference sessions per model fed by a micro-batching queue, hot swaps of a refcounted model handle.
 *
 *   loom_serve_request r;
 *   if (loom_serve_parse(LOOM_SERVE_RANK, body, n, NULL, &r, &err) < 0) reply(400, err.msg);
 *   ... loom_infer_rank(s, r.user, r.query, r.top, hits, &flags, &err) ...
 *   loom_serve_request_free(&r);
 */
#ifndef LOOM_SERVE_H
#define LOOM_SERVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loom/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- requests: the pure part (no model, no I/O) */

typedef enum {
  LOOM_SERVE_SCORE,  /* POST /v1/score  {"rows": [{column: value, ...}, ...]} */
  LOOM_SERVE_RANK,   /* POST /v1/rank   {"user", "query", "top", "exclude_seen", "category"} */
  LOOM_SERVE_SEARCH, /* POST /v1/search {"text" or "image" (base64), "top"} */
  LOOM_SERVE_EMBED,  /* POST /v1/embed  {"user", "query"} or {"items": [key, ...]} */
  LOOM_SERVE_RELOAD, /* POST /v1/admin/reload {"checkpoint"} (optional; default: the one being served) */
} loom_serve_endpoint;

enum { LOOM_SERVE_MAX_CATEGORIES = 16, LOOM_SERVE_MAX_COLUMNS = 256 /* columns of a /v1/score row */ };

typedef struct loom_serve_limits {
  size_t max_body;   /* bytes of a request body (the server answers 413 above it) */
  int max_depth;     /* nesting of JSON arrays and objects */
  int64_t max_top;   /* "top" is capped at this (the catalogue size, at most 1024) */
  int max_rows;      /* rows of one /v1/score request, items of one /v1/embed request */
  size_t max_string; /* bytes of one string value */
} loom_serve_limits;

typedef struct loom_serve_request {
  loom_serve_endpoint ep;
  const char *user, *query, *text, *checkpoint; /* NULL when absent */
  int top;                                      /* rank / search: 1..max_top (default 10, capped) */
  bool top_capped;                              /* "top" was larger than max_top */
  bool exclude_seen;                            /* rank: drop items the user interacted with in training */
  const char *category[LOOM_SERVE_MAX_CATEGORIES]; /* rank: keep items of these categories (n_category) */
  int n_category;
  char *csv;     /* score: the rows as CSV text (header = the first row's keys), NUL-terminated */
  int n_rows;    /* score: rows; embed: items */
  const char **items; /* embed: (n_rows) catalogue keys */
  uint8_t *image;     /* search: the photo's bytes (base64-decoded), NULL when absent */
  size_t image_len;
  void *owner_;  /* the storage of every string above */
} loom_serve_request;

/* The limits a server uses by default (1 MiB body, depth 16, top <= 1024, 10,000 rows, 64 KiB strings). */
loom_serve_limits loom_serve_default_limits(void);
/* Parses and validates the body (n bytes, need not be NUL-terminated) of a request to `ep`: valid
 * UTF-8 JSON, one object, nesting within limits, only the endpoint's fields, each of its type and
 * range. 0 and *req filled (free with loom_serve_request_free), or -1 with err naming the field and
 * what is wrong (the server answers 400 with that message). Pure: no model, no I/O, no globals. */
int loom_serve_parse(loom_serve_endpoint ep, const char *body, size_t n, const loom_serve_limits *lim,
                     loom_serve_request *req, loom_error *err);
void loom_serve_request_free(loom_serve_request *req);

/* ---- the server (HTTP/1.1 + JSON over libmicrohttpd) */

typedef struct loom_server loom_server;

typedef struct loom_server_opts {
  const char *checkpoint; /* the model to serve (a loom-train checkpoint) */
  const char *items;      /* the catalogue (items table CSV) to serve; NULL: the checkpoint's own */
  const char *bind;       /* address to listen on; NULL: 127.0.0.1 (loopback) */
  int port;               /* 0: a free port chosen by the kernel (read it with loom_server_port) */
  int threads;            /* inference workers (each with its own session per model); 0: the CPUs usable */
  int max_batch;          /* requests a worker takes from the queue at once; 0: 16 */
  int max_wait_us;        /* how long a worker holding fewer than max_batch waits for more; 0 or -1: never */
  const char *follow;     /* a run directory: reload when its best.safetensors changes; NULL: off */
  int follow_ms;          /* how often to look; 0: 1000 */
  int conn_timeout_s;     /* idle seconds before a connection is closed (slow clients); 0: 10 */
  int max_conns;          /* concurrent connections; 0: 256 (more are refused at accept) */
  loom_serve_limits limits; /* max_body 0: the defaults of loom_serve_default_limits */
  bool quiet;             /* no log lines on stderr */
} loom_server_opts;

/* Loads the checkpoint (every session warmed up: catalogue, item vectors or item towers) and starts
 * listening. NULL with err when the checkpoint does not open or the address cannot be bound. */
loom_server *loom_server_start(const loom_server_opts *o, loom_error *err);
int loom_server_port(const loom_server *srv);
/* Loads `path` (NULL: the checkpoint being served, re-read) beside the current model and swaps it in
 * atomically; requests in flight finish on the old one. -1 with err (and a log line) when the new one
 * does not load or does not fit the old one's task; the old one keeps serving. 0 on success. */
int loom_server_reload(loom_server *srv, const char *path, loom_error *err);
/* The version of the model being served: 1 at start, +1 per successful reload. */
uint64_t loom_server_model_version(const loom_server *srv);
/* Stops listening, lets requests in flight finish, frees everything. */
void loom_server_stop(loom_server *srv);

#ifdef __cplusplus
}
#endif
#endif
