/* loom/serve.h — the ranking server's request layer (issue 16): the JSON bodies of /v1/score, /v1/rank,
 * /v1/search, /v1/embed and /v1/admin/reload parsed and validated by one pure function
 * (loom_serve_parse), so the hostile-input surface can be tested and fuzzed without a model or a socket.
 * The HTTP server over libmicrohttpd and the hot swap build on this (not yet in this module).
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
  LOOM_SERVE_SEARCH, /* POST /v1/search {"text", "top"} */
  LOOM_SERVE_EMBED,  /* POST /v1/embed  {"user", "query"} or {"items": [key, ...]} */
  LOOM_SERVE_RELOAD, /* POST /v1/admin/reload {"checkpoint"} (optional; default: the one being served) */
} loom_serve_endpoint;

enum { LOOM_SERVE_MAX_CATEGORIES = 16 };

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

#ifdef __cplusplus
}
#endif
#endif
