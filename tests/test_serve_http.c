/* test_serve_http.c — loom-serve's server (loom_server_*) in-process on a free loopback port, driven by a
 * small HTTP client over C sockets: every endpoint; /v1/rank equal to in-process loom_infer_rank to the
 * bit; filters; hot swaps under concurrent load with no failed request; corrupt and incompatible
 * checkpoints refused while the old model keeps serving; --follow; hostile clients (oversize body, deep
 * JSON, bad JSON, wrong types, unknown fields, a slowloris connection). Checkpoints trained here on the
 * committed sample, small and quick. */
#include "testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "loom/infer.h"
#include "loom/serve.h"
#include "loom/trainer.h"

static char dir[256], rankA[600], rankB[600], click[600], multi[600];
static loom_error err;

static int train(const char *config, const char *out, const char *const *extra) {
  static char outset[1200];
  const char *sets[40];
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
  loom_train_result r;
  return loom_train(&o, &r, &err);
}

static int setup(void **state) {
  (void)state;
  snprintf(dir, sizeof dir, "%s", tu_tmp("runs"));
  if (train("configs/fashion-shop-ranking.ini", "rankA", (const char *[]){"fusion.dim=16", "train.max_steps=12", NULL}) < 0 ||
      train("configs/fashion-shop-ranking.ini", "rankB", (const char *[]){"fusion.dim=16", "train.max_steps=6", NULL}) < 0 ||
      train("configs/fashion-shop-click.ini", "click", (const char *[]){"text.dense=8", "interaction.dense=8",
                                                                         "fusion.dense=16", "train.max_steps=6", NULL}) < 0 ||
      train("configs/fashion-shop-multitask.ini", "multi", (const char *[]){"text.dense=8", "interaction.dense=8",
                                                                             "fusion.dense=16", "train.max_steps=6", NULL}) < 0) {
    fprintf(stderr, "training failed: %s\n", err.msg);
    return -1;
  }
  snprintf(rankA, sizeof rankA, "%s/rankA/best.safetensors", dir);
  snprintf(rankB, sizeof rankB, "%s/rankB/best.safetensors", dir);
  snprintf(click, sizeof click, "%s/click/best.safetensors", dir);
  snprintf(multi, sizeof multi, "%s/multi/best.safetensors", dir);
  return 0;
}

/* ---- a tiny HTTP/1.1 client: one request per connection (Connection: close) */

typedef struct resp {
  int status;
  char *body; /* malloc'd, NUL-terminated */
} resp;

static int dial(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
    if (fd >= 0) close(fd);
    return -1;
  }
  struct timeval tv = {.tv_sec = 30};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

static int send_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    p += w, n -= (size_t)w;
  }
  return 0;
}

/* Reads the whole reply; status 0 when the connection closed without one. */
static resp read_reply(int fd) {
  size_t cap = 1 << 14, n = 0;
  char *b = malloc(cap);
  for (;;) {
    if (n + 4096 > cap) b = realloc(b, cap *= 2);
    ssize_t r = recv(fd, b + n, cap - n - 1, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    n += (size_t)r;
  }
  b[n] = '\0';
  resp out = {0, NULL};
  int st = 0;
  if (sscanf(b, "HTTP/1.%*d %d", &st) == 1) out.status = st;
  char *body = strstr(b, "\r\n\r\n");
  out.body = strdup(body ? body + 4 : "");
  free(b);
  return out;
}

static resp http(int port, const char *method, const char *path, const char *body) {
  int fd = dial(port);
  if (fd < 0) return (resp){-1, strdup("")};
  char head[512];
  size_t bn = body ? strlen(body) : 0;
  snprintf(head, sizeof head, "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/json\r\n"
                              "Content-Length: %zu\r\n\r\n", method, path, bn);
  resp r = {-1, NULL};
  if (send_all(fd, head, strlen(head)) == 0 && (!bn || send_all(fd, body, bn) == 0)) r = read_reply(fd);
  else r.body = strdup("");
  close(fd);
  return r;
}

static cJSON *post_json(int port, const char *path, const char *body, int want) {
  resp r = http(port, "POST", path, body);
  if (r.status != want) fail_msg("POST %s %s: status %d, expected %d: %s", path, body, r.status, want, r.body);
  cJSON *j = cJSON_Parse(r.body);
  if (!j) fail_msg("POST %s: not JSON: %s", path, r.body);
  free(r.body);
  return j;
}

static void expect_400(int port, const char *path, const char *body, const char *needle) {
  cJSON *j = post_json(port, path, body, 400);
  const char *msg = cJSON_GetStringValue(cJSON_GetObjectItem(j, "error"));
  if (!msg || !strstr(msg, needle)) fail_msg("POST %s %s: error '%s' lacks '%s'", path, body, msg ? msg : "(none)", needle);
  cJSON_Delete(j);
}

static loom_server *start(const char *ckpt, int threads, int timeout_s, const char *follow) {
  loom_server_opts o = {.checkpoint = ckpt, .port = 0, .threads = threads, .max_batch = 8, .max_wait_us = 100,
                        .conn_timeout_s = timeout_s, .follow = follow, .follow_ms = 100, .quiet = true};
  loom_server *s = loom_server_start(&o, &err);
  if (!s) fail_msg("server did not start: %s", err.msg);
  assert_true(loom_server_port(s) > 0);
  return s;
}

/* ---- the endpoints */

/* /v1/rank equals loom_infer_rank on an in-process session: the same items, in the same order, the
 * same scores to the bit (a float through JSON's 17 digits comes back exact). */
static void check_rank_equal(int port, loom_infer *s, const char *user, const char *query, int top) {
  char body[300];
  snprintf(body, sizeof body, "{\"user\":\"%s\",\"top\":%d%s%s%s}", user, top, query ? ",\"query\":\"" : "",
           query ? query : "", query ? "\"" : "");
  cJSON *j = post_json(port, "/v1/rank", body, 200);
  loom_hit hits[64];
  unsigned fl;
  int n = loom_infer_rank(s, user, query, top, hits, &fl, &err);
  assert_true(n > 0);
  cJSON *items = cJSON_GetObjectItem(j, "items");
  assert_int_equal(cJSON_GetArraySize(items), n);
  for (int i = 0; i < n; i++) {
    cJSON *h = cJSON_GetArrayItem(items, i);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(h, "item")), hits[i].item);
    float sc = (float)cJSON_GetNumberValue(cJSON_GetObjectItem(h, "score"));
    if (sc != hits[i].score) fail_msg("%s: hit %d score %.9g over HTTP, %.9g in process", body, i, sc, hits[i].score);
  }
  assert_int_equal(cJSON_IsTrue(cJSON_GetObjectItem(j, "personalised")), !(fl & LOOM_INFER_UNKNOWN_USER));
  cJSON_Delete(j);
}

static void test_endpoints(void **state) {
  (void)state;
  loom_server *srv = start(rankA, 2, 10, NULL);
  int port = loom_server_port(srv);
  resp r = http(port, "GET", "/healthz", NULL);
  assert_int_equal(r.status, 200);
  free(r.body);
  r = http(port, "GET", "/readyz", NULL);
  assert_int_equal(r.status, 200);
  assert_non_null(strstr(r.body, "\"model_version\":1"));
  free(r.body);
  r = http(port, "GET", "/v1/model", NULL);
  assert_int_equal(r.status, 200);
  cJSON *m = cJSON_Parse(r.body);
  free(r.body);
  assert_int_equal((int)cJSON_GetNumberValue(cJSON_GetObjectItem(m, "version")), 1);
  assert_int_equal(strlen(cJSON_GetStringValue(cJSON_GetObjectItem(m, "config_sha256"))), 64);
  assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(m, "task")), "ranking");
  assert_int_equal((int)cJSON_GetNumberValue(cJSON_GetObjectItem(m, "catalog_size")), 300);
  cJSON *tm = cJSON_GetObjectItem(cJSON_GetObjectItem(m, "training"), "metrics");
  assert_true(cJSON_IsNumber(cJSON_GetObjectItem(tm, "ndcg@10")));
  cJSON_Delete(m);

  loom_infer *s = loom_infer_open(rankA, NULL, &err);
  assert_non_null(s);
  check_rank_equal(port, s, "u00004", NULL, 10);
  check_rank_equal(port, s, "u00017", "black ankle boot", 5);
  check_rank_equal(port, s, "nobody-at-all", NULL, 7); /* unknown: 200, flagged non-personalised */
  cJSON *j = post_json(port, "/v1/rank", "{\"user\":\"nobody-at-all\"}", 200);
  assert_true(cJSON_IsFalse(cJSON_GetObjectItem(j, "personalised")));
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "unknown_user")));
  cJSON_Delete(j);
  /* top capped by the catalogue (300 items) */
  j = post_json(port, "/v1/rank", "{\"user\":\"u00004\",\"top\":100000}", 200);
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "items")), 300);
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "top_capped")));
  cJSON_Delete(j);
  /* category filter: only those categories; exclude_seen: none of the user's training items */
  j = post_json(port, "/v1/rank", "{\"user\":\"u00004\",\"top\":20,\"category\":[\"Trouser\",\"Bag\"]}", 200);
  cJSON *items = cJSON_GetObjectItem(j, "items");
  assert_true(cJSON_GetArraySize(items) > 0);
  loom_table it;
  loom_colspec spec[2] = {{"item_id", LOOM_COL_STRING, 0}, {"category", LOOM_COL_STRING, 0}};
  assert_int_equal(loom_table_read(&it, tu_src_path("datasets/fashion-shop-sample/items.csv"), spec, 2, NULL, &err), 0);
  cJSON *h;
  cJSON_ArrayForEach(h, items) {
    int row = (int)cJSON_GetNumberValue(cJSON_GetObjectItem(h, "row"));
    const char *cat = loom_table_str(&it, 1, row);
    if (strcmp(cat, "Trouser") && strcmp(cat, "Bag")) fail_msg("category filter let a %s through", cat);
  }
  loom_table_free(&it);
  cJSON_Delete(j);
  loom_table in;
  loom_colspec ispec[2] = {{"user_id", LOOM_COL_STRING, 0}, {"item_id", LOOM_COL_STRING, 0}};
  assert_int_equal(loom_table_read(&in, tu_src_path("datasets/fashion-shop-sample/interactions.csv"), ispec, 2, NULL, &err), 0);
  j = post_json(port, "/v1/rank", "{\"user\":\"u00004\",\"top\":300,\"exclude_seen\":true}", 200);
  items = cJSON_GetObjectItem(j, "items");
  int seen = 0;
  for (int64_t i = 0; i < in.nrows; i++) {
    if (strcmp(loom_table_str(&in, 0, i), "u00004")) continue;
    seen++;
    cJSON_ArrayForEach(h, items)
      if (!strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(h, "item")), loom_table_str(&in, 1, i)))
        fail_msg("exclude_seen returned %s, which u00004 saw", loom_table_str(&in, 1, i));
  }
  assert_true(seen > 0);
  assert_true(cJSON_GetArraySize(items) < 300 && cJSON_GetArraySize(items) >= 300 - seen);
  cJSON_Delete(j);
  loom_table_free(&in);

  /* search by text, and by a photo sent as base64, equal to the in-process calls */
  j = post_json(port, "/v1/search", "{\"text\":\"black ankle boot\",\"top\":5}", 200);
  loom_hit hits[8];
  int n = loom_infer_search_text(s, "black ankle boot", 5, hits, &err);
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "items")), n);
  for (int i = 0; i < n; i++)
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "items"), i), "item")),
                        hits[i].item);
  cJSON_Delete(j);
  size_t plen;
  const char *photo = tu_src_path("datasets/fashion-shop-sample/images/i00007.png");
  unsigned char *png = (unsigned char *)tu_slurp(photo, &plen);
  static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  char *body = malloc(plen * 2 + 64), *p = body;
  p += sprintf(p, "{\"top\":3,\"image\":\"");
  for (size_t i = 0; i < plen; i += 3) {
    uint32_t v = (uint32_t)png[i] << 16 | (i + 1 < plen ? (uint32_t)png[i + 1] << 8 : 0) | (i + 2 < plen ? png[i + 2] : 0);
    *p++ = b64[v >> 18 & 63], *p++ = b64[v >> 12 & 63];
    *p++ = i + 1 < plen ? b64[v >> 6 & 63] : '=';
    *p++ = i + 2 < plen ? b64[v & 63] : '=';
  }
  strcpy(p, "\"}");
  j = post_json(port, "/v1/search", body, 200);
  n = loom_infer_search_image(s, photo, 3, hits, &err);
  assert_int_equal(n, 3);
  for (int i = 0; i < n; i++)
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "items"), i), "item")),
                        hits[i].item);
  cJSON_Delete(j);
  free(body), free(png);
  expect_400(port, "/v1/search", "{\"image\":\"aGVsbG8gd29ybGQ=\"}", "field 'image'"); /* "hello world": no photo */

  /* embed: a catalogue item's vector is the session's; a user's is loom_infer_user_vector's */
  j = post_json(port, "/v1/embed", "{\"items\":[\"i00003\",\"i00100\"]}", 200);
  const float *V = loom_infer_item_vectors(s, &err);
  int D = loom_infer_dim(s);
  cJSON *vec = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "vectors"), 1);
  assert_int_equal(cJSON_GetArraySize(vec), D);
  for (int d = 0; d < D; d++) assert_true((float)cJSON_GetNumberValue(cJSON_GetArrayItem(vec, d)) == V[100 * D + d]);
  cJSON_Delete(j);
  j = post_json(port, "/v1/embed", "{\"user\":\"u00004\"}", 200);
  float u[64];
  unsigned fl;
  assert_int_equal(loom_infer_user_vector(s, "u00004", NULL, u, &fl, &err), 0);
  vec = cJSON_GetObjectItem(j, "vector");
  for (int d = 0; d < D; d++) assert_true((float)cJSON_GetNumberValue(cJSON_GetArrayItem(vec, d)) == u[d]);
  cJSON_Delete(j);
  expect_400(port, "/v1/embed", "{\"items\":[\"i00003\",\"no-such-item\"]}", "field 'items[1]'");
  expect_400(port, "/v1/score", "{\"rows\":[{\"user_id\":\"u00004\"}]}", "field 'rows'"); /* columns missing */

  /* metrics: Prometheus text with every family */
  r = http(port, "GET", "/metrics", NULL);
  assert_int_equal(r.status, 200);
  const char *fams[] = {"loom_serve_requests_total{endpoint=\"/v1/rank\",status=\"200\"}",
                        "loom_serve_requests_total{endpoint=\"/v1/embed\",status=\"400\"}",
                        "loom_serve_request_seconds_bucket{endpoint=\"/v1/rank\",le=\"+Inf\"}",
                        "loom_serve_batch_size_count", "loom_serve_item_cache_hits 1",
                        "loom_serve_non_personalised_total", "loom_serve_model_version 1"};
  for (size_t i = 0; i < sizeof fams / sizeof *fams; i++)
    if (!strstr(r.body, fams[i])) fail_msg("/metrics lacks %s:\n%s", fams[i], r.body);
  free(r.body);
  r = http(port, "GET", "/v1/nothing", NULL);
  assert_int_equal(r.status, 404);
  free(r.body);
  r = http(port, "GET", "/v1/rank", NULL);
  assert_int_equal(r.status, 405);
  free(r.body);
  loom_infer_close(s);
  loom_server_stop(srv);
}

typedef struct score_ctx {
  float s[64];
  int n;
} score_ctx;
static int collect(void *ctx, const loom_infer_row *row) {
  score_ctx *c = ctx;
  if (c->n < 64) c->s[c->n++] = row->score;
  return 0;
}

/* /v1/score on a click model: rows as JSON objects, the same P(click) as loom_infer_score_csv. */
static void test_score_click(void **state) {
  (void)state;
  loom_server *srv = start(click, 1, 10, NULL);
  int port = loom_server_port(srv);
  const char *csv = "session_id,user_id,item_id,timestamp,query,position,price,item_recent_views,hour,device\n"
                    "s1,u00004,i00264,1704070805,grey t-shirt,1,17.99,112,1,mobile\n"
                    "s2,stranger,i00010,1704070805,,3,9.5,4,23,desktop\n";
  FILE *f = fopen(tu_tmp("rows.csv"), "w");
  fputs(csv, f);
  fclose(f);
  loom_infer *s = loom_infer_open(click, NULL, &err);
  score_ctx c = {.n = 0};
  assert_int_equal(loom_infer_score_csv(s, tu_tmp("rows.csv"), collect, &c, &err), 0);
  assert_int_equal(c.n, 2);
  cJSON *j = post_json(port, "/v1/score",
                       "{\"rows\":[{\"session_id\":\"s1\",\"user_id\":\"u00004\",\"item_id\":\"i00264\",\"timestamp\":1704070805,"
                       "\"query\":\"grey t-shirt\",\"position\":1,\"price\":17.99,\"item_recent_views\":112,\"hour\":1,\"device\":\"mobile\"},"
                       "{\"session_id\":\"s2\",\"user_id\":\"stranger\",\"item_id\":\"i00010\",\"timestamp\":1704070805,"
                       "\"query\":null,\"position\":3,\"price\":9.5,\"item_recent_views\":4,\"hour\":23,\"device\":\"desktop\"}]}",
                       200);
  cJSON *rows = cJSON_GetObjectItem(j, "rows");
  assert_int_equal(cJSON_GetArraySize(rows), 2);
  for (int i = 0; i < 2; i++)
    assert_true((float)cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetArrayItem(rows, i), "score")) == c.s[i]);
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetArrayItem(rows, 1), "unknown_user")));
  cJSON_Delete(j);
  /* a click model ranks too (pointwise over the catalogue), equal to in-process */
  check_rank_equal(port, s, "u00004", NULL, 5);
  expect_400(port, "/v1/search", "{\"text\":\"boot\"}", "no query tower");
  expect_400(port, "/v1/embed", "{\"user\":\"u00004\"}", "no vectors");
  loom_infer_close(s);
  loom_server_stop(srv);
}

/* /v1/score on a multitask model: one field per head (P(click), P(purchase), dwell seconds), the values
 * loom_infer_score_csv gives in process; ranking is refused (it scores rows, not a catalogue). */
typedef struct heads_ctx {
  float v[8][3];
  int n;
} heads_ctx;
static int collect_heads(void *ctx, const loom_infer_row *row) {
  heads_ctx *c = ctx;
  if (c->n < 8) memcpy(c->v[c->n++], row->probs, sizeof c->v[0]);
  return 0;
}
static void test_score_multitask(void **state) {
  (void)state;
  loom_server *srv = start(multi, 1, 10, NULL);
  int port = loom_server_port(srv);
  FILE *f = fopen(tu_tmp("rows.csv"), "w");
  fputs("session_id,user_id,item_id,timestamp,query,position,price,item_recent_views,hour,device\n"
        "s1,u00004,i00264,1704070805,grey t-shirt,1,17.99,112,1,mobile\n", f);
  fclose(f);
  loom_infer *s = loom_infer_open(multi, NULL, &err);
  assert_non_null(s);
  heads_ctx c = {.n = 0};
  assert_int_equal(loom_infer_score_csv(s, tu_tmp("rows.csv"), collect_heads, &c, &err), 0);
  assert_int_equal(c.n, 1);
  cJSON *j = post_json(port, "/v1/score",
                       "{\"rows\":[{\"session_id\":\"s1\",\"user_id\":\"u00004\",\"item_id\":\"i00264\",\"timestamp\":1704070805,"
                       "\"query\":\"grey t-shirt\",\"position\":1,\"price\":17.99,\"item_recent_views\":112,\"hour\":1,\"device\":\"mobile\"}]}",
                       200);
  cJSON *row = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "rows"), 0);
  const char *heads[3] = {"clicked", "purchased", "dwell_s"};
  for (int k = 0; k < 3; k++) {
    cJSON *v = cJSON_GetObjectItem(row, heads[k]);
    if (!v) fail_msg("/v1/score row lacks the head %s", heads[k]);
    assert_true((float)cJSON_GetNumberValue(v) == c.v[0][k]);
  }
  assert_true(c.v[0][0] > 0 && c.v[0][0] < 1 && c.v[0][1] > 0 && c.v[0][1] < 1);
  cJSON_Delete(j);
  expect_400(port, "/v1/rank", "{\"user\":\"u00004\"}", "use score");
  loom_infer_close(s);
  loom_server_stop(srv);
}

/* ---- hostile clients */

static void test_hostile(void **state) {
  (void)state;
  loom_server *srv = start(rankA, 2, 1, NULL);
  int port = loom_server_port(srv);
  /* oversize body: 413 from Content-Length alone, before any of the body is read */
  int fd = dial(port);
  const char *big = "POST /v1/rank HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n";
  assert_int_equal(send_all(fd, big, strlen(big)), 0);
  resp r = read_reply(fd);
  close(fd);
  assert_int_equal(r.status, 413);
  assert_non_null(strstr(r.body, "limit of 1048576"));
  free(r.body);
  /* and a chunked body (no Content-Length) that grows past the cap while it is read */
  fd = dial(port);
  const char *chunked = "POST /v1/rank HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
  assert_int_equal(send_all(fd, chunked, strlen(chunked)), 0);
  char *chunk = malloc(70000);
  int hl = sprintf(chunk, "%x\r\n", 65536);
  memset(chunk + hl, ' ', 65536);
  memcpy(chunk + hl + 65536, "\r\n", 2);
  for (int i = 0; i < 17; i++) assert_int_equal(send_all(fd, chunk, (size_t)hl + 65538), 0);
  send_all(fd, "0\r\n\r\n", 5);
  free(chunk);
  r = read_reply(fd);
  close(fd);
  assert_int_equal(r.status, 413);
  free(r.body);
  char deep[400] = "{\"user\":";
  for (int i = 0; i < 100; i++) strcat(deep, "[");
  expect_400(port, "/v1/rank", deep, "nested deeper");
  expect_400(port, "/v1/rank", "{\"user\":", "invalid JSON");
  expect_400(port, "/v1/rank", "{\"user\":5}", "field 'user'");
  expect_400(port, "/v1/rank", "{\"user\":\"u1\",\"top\":\"ten\"}", "field 'top'");
  expect_400(port, "/v1/rank", "{\"user\":\"u1\",\"colour\":1}", "field 'colour': unknown");
  /* slowloris: a connection that sends half a request and stalls is closed by the server's timeout (1 s),
   * and while it stalls the server answers others */
  int slow[8];
  for (int i = 0; i < 8; i++) {
    slow[i] = dial(port);
    assert_true(slow[i] >= 0);
    assert_int_equal(send_all(slow[i], "POST /v1/rank HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{\"us", 60), 0);
  }
  cJSON *j = post_json(port, "/v1/rank", "{\"user\":\"u00004\",\"top\":2}", 200);
  cJSON_Delete(j);
  struct timeval t0, t1;
  gettimeofday(&t0, NULL);
  for (int i = 0; i < 8; i++) {
    char b[256];
    ssize_t got = recv(slow[i], b, sizeof b, 0); /* the server closes it: 0 (or a reset), not a 30 s wait */
    assert_true(got <= 0 || (got > 0 && !memcmp(b, "HTTP/1.1 ", 9)));
    close(slow[i]);
  }
  gettimeofday(&t1, NULL);
  double waited = (double)(t1.tv_sec - t0.tv_sec) + 1e-6 * (double)(t1.tv_usec - t0.tv_usec);
  if (waited > 10) fail_msg("stalled connections held for %.1f s; the timeout is 1 s", waited);
  /* garbage that is not HTTP at all */
  fd = dial(port);
  send_all(fd, "\x16\x03\x01\x02\x00garbage\r\n\r\n", 16);
  r = read_reply(fd);
  close(fd);
  free(r.body);
  j = post_json(port, "/v1/rank", "{\"user\":\"u00004\",\"top\":2}", 200); /* still serving */
  cJSON_Delete(j);
  loom_server_stop(srv);
}

/* ---- hot swap under load */

typedef struct load {
  int port, n, failed, ok;
  unsigned long long max_version;
} load;

static void *hammer(void *p) {
  load *l = p;
  for (int i = 0; i < l->n; i++) {
    resp r = http(l->port, "POST", "/v1/rank", i % 2 ? "{\"user\":\"u00004\",\"top\":5}" : "{\"user\":\"u00101\",\"query\":\"blue jeans\"}");
    if (r.status != 200) l->failed++;
    else l->ok++;
    const char *v = strstr(r.body, "\"model_version\":");
    if (v && strtoull(v + 16, NULL, 10) > l->max_version) l->max_version = strtoull(v + 16, NULL, 10);
    free(r.body);
  }
  return NULL;
}

static void test_reload_under_load(void **state) {
  (void)state;
  loom_server *srv = start(rankA, 2, 10, NULL);
  int port = loom_server_port(srv);
  enum { T = 4 };
  load l[T];
  pthread_t th[T];
  for (int i = 0; i < T; i++) {
    l[i] = (load){.port = port, .n = 150};
    pthread_create(&th[i], NULL, hammer, &l[i]);
  }
  char body[800];
  snprintf(body, sizeof body, "{\"checkpoint\":\"%s\"}", rankB);
  for (int k = 0; k < 3; k++) {
    cJSON *j = post_json(port, "/v1/admin/reload", body, 200);
    cJSON_Delete(j);
    assert_int_equal(loom_server_reload(srv, rankA, &err), 0); /* as SIGHUP does */
  }
  /* a corrupt checkpoint (truncated) and an incompatible one (a click model) are refused; the old serves */
  size_t n;
  char *bytes = tu_slurp(rankA, &n);
  FILE *f = fopen(tu_tmp("corrupt.safetensors"), "wb");
  fwrite(bytes, 1, n / 2, f);
  fclose(f);
  free(bytes);
  snprintf(body, sizeof body, "{\"checkpoint\":\"%s\"}", tu_tmp("corrupt.safetensors"));
  uint64_t before = loom_server_model_version(srv);
  expect_400(port, "/v1/admin/reload", body, "corrupt.safetensors");
  snprintf(body, sizeof body, "{\"checkpoint\":\"%s\"}", click);
  expect_400(port, "/v1/admin/reload", body, "cannot replace");
  expect_400(port, "/v1/admin/reload", "{\"checkpoint\":\"/no/such/file.safetensors\"}", "/no/such/file");
  assert_int_equal(loom_server_model_version(srv), before);
  int failed = 0, ok = 0;
  unsigned long long maxv = 0;
  for (int i = 0; i < T; i++) {
    pthread_join(th[i], NULL);
    failed += l[i].failed, ok += l[i].ok;
    if (l[i].max_version > maxv) maxv = l[i].max_version;
  }
  assert_int_equal(failed, 0);
  assert_int_equal(ok, T * 150);
  assert_int_equal(before, 7);
  print_message("reload under load: %d requests, 0 failed, 6 swaps, versions seen up to %llu\n", ok, maxv);
  resp r = http(port, "GET", "/metrics", NULL);
  assert_non_null(strstr(r.body, "loom_serve_reloads_total{result=\"ok\"} 6"));
  assert_non_null(strstr(r.body, "loom_serve_reloads_total{result=\"refused\"} 3"));
  free(r.body);
  loom_server_stop(srv);
}

/* --follow: a new best.safetensors renamed into the run directory is picked up; a corrupt one is not. */
static void test_follow(void **state) {
  (void)state;
  char run[600], cmd[4096];
  snprintf(run, sizeof run, "%s", tu_tmp("follow-run"));
  snprintf(cmd, sizeof cmd, "mkdir -p '%s' && cp '%s' '%s/best.safetensors'", run, rankA, run);
  assert_int_equal(system(cmd), 0);
  char best[700];
  snprintf(best, sizeof best, "%s/best.safetensors", run);
  loom_server *srv = start(best, 1, 10, run);
  snprintf(cmd, sizeof cmd, "cp '%s' '%s/.tmp' && mv '%s/.tmp' '%s/best.safetensors'", rankB, run, run, run);
  assert_int_equal(system(cmd), 0);
  for (int i = 0; i < 100 && loom_server_model_version(srv) < 2; i++) usleep(50000);
  assert_int_equal(loom_server_model_version(srv), 2);
  snprintf(cmd, sizeof cmd, "head -c 1000 '%s' > '%s/.tmp' && mv '%s/.tmp' '%s/best.safetensors'", rankA, run, run, run);
  assert_int_equal(system(cmd), 0);
  usleep(600000);
  assert_int_equal(loom_server_model_version(srv), 2); /* refused, still serving version 2 */
  cJSON *j = post_json(loom_server_port(srv), "/v1/rank", "{\"user\":\"u00004\"}", 200);
  assert_int_equal((int)cJSON_GetNumberValue(cJSON_GetObjectItem(j, "model_version")), 2);
  cJSON_Delete(j);
  loom_server_stop(srv);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_endpoints),
      cmocka_unit_test(test_score_click),
      cmocka_unit_test(test_score_multitask),
      cmocka_unit_test(test_hostile),
      cmocka_unit_test(test_reload_under_load),
      cmocka_unit_test(test_follow),
  };
  return cmocka_run_group_tests(tests, setup, NULL);
}
