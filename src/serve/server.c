/* server.c — loom-serve's HTTP layer (loom/serve.h, docs/serving.md) over libmicrohttpd: one thread
 * per connection reads and validates a request (request.c) and queues it; `threads` workers take up
 * to max_batch queued requests at once (waiting at most max_wait_us for the batch to fill), pin the
 * current model handle once for the batch and run each on the worker's own session (handlers.c), so
 * no session is ever used by two threads. A reload builds a whole new handle beside the old one and
 * swaps a pointer under a mutex; the old handle is freed by whoever drops its last reference. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <microhttpd.h>
#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif

#include "loom/alloc.h"
#include "loom/cpu.h"
#include "loom/sha256.h"
#include "serve_internal.h"

/* ---------------------------------------------------------------- metrics */

enum { EP_SCORE, EP_RANK, EP_SEARCH, EP_EMBED, EP_HEALTHZ, EP_READYZ, EP_MODEL, EP_METRICS, EP_RELOAD, EP_OTHER, N_EP };
static const char *const ep_name[N_EP] = {"/v1/score", "/v1/rank", "/v1/search", "/v1/embed", "/healthz",
                                          "/readyz", "/v1/model", "/metrics", "/v1/admin/reload", "other"};
static const int codes[] = {200, 400, 403, 404, 405, 413, 500, 503};
enum { N_CODES = sizeof codes / sizeof *codes };
static const double lat_le[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5};
enum { N_LAT = sizeof lat_le / sizeof *lat_le };
static const int batch_le[] = {1, 2, 4, 8, 16, 32, 64, 128};
enum { N_BATCH = sizeof batch_le / sizeof *batch_le };

typedef struct metrics {
  atomic_ulong req[N_EP][N_CODES];
  atomic_ulong lat[N_EP][N_LAT + 1]; /* histogram buckets (not cumulative; summed when printed) */
  atomic_ulong lat_ns[N_EP];
  atomic_ulong batch[N_BATCH + 1], batch_sum, batches;
  atomic_ulong non_personalised, reloads_ok, reloads_refused, queue_full;
} metrics;

/* ---------------------------------------------------------------- the queue of jobs */

typedef struct job {
  loom_serve_request req;
  serve_reply reply;
  sem_t done;
  struct job *next;
} job;

struct loom_server {
  loom_server_opts o;
  loom_serve_limits lim;
  struct MHD_Daemon *d;
  int port;
  char tmpdir[256];
  /* the model */
  pthread_mutex_t model_mu, reload_mu;
  serve_model *model;
  atomic_ulong version;
  uint64_t next_version;
  /* the queue */
  pthread_mutex_t q_mu;
  pthread_cond_t q_cv;
  job *head, *tail;
  int q_len;
  bool stopping;
  int n_workers;
  pthread_t *workers;
  /* --follow */
  pthread_t follower;
  bool following;
  pthread_mutex_t stop_mu;
  pthread_cond_t stop_cv;
  metrics m;
};

static void logf_(const loom_server *srv, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(const loom_server *srv, const char *fmt, ...) {
  if (srv->o.quiet) return;
  char stamp[32];
  time_t t = time(NULL);
  struct tm tm;
  strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "loom-serve %s ", stamp);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

static serve_model *model_get(loom_server *srv) {
  pthread_mutex_lock(&srv->model_mu);
  serve_model *sm = srv->model;
  atomic_fetch_add(&sm->refs, 1);
  pthread_mutex_unlock(&srv->model_mu);
  return sm;
}

typedef struct worker_arg {
  loom_server *srv;
  int id;
} worker_arg;

static void *worker(void *p) {
  worker_arg *a = p;
  loom_server *srv = a->srv;
  int id = a->id, cap = srv->o.max_batch;
  loom_free(a);
#if defined(__x86_64__) || defined(__i386__)
  /* denormals flushed as on every thread of loom's runtime (runtime.c), so a worker's answers are the
   * bits an in-process call gives */
  _mm_setcsr(_mm_getcsr() | 0x8040);
#endif
  job **batch = loom_malloc(sizeof *batch * (size_t)cap);
  if (!batch) abort(); /* at start: nothing to serve with */
  for (;;) {
    pthread_mutex_lock(&srv->q_mu);
    while (!srv->head && !srv->stopping) pthread_cond_wait(&srv->q_cv, &srv->q_mu);
    if (!srv->head && srv->stopping) {
      pthread_mutex_unlock(&srv->q_mu);
      break;
    }
    if (srv->q_len < cap && srv->o.max_wait_us > 0) { /* a bounded wait for the batch to fill */
      struct timespec dl;
      clock_gettime(CLOCK_REALTIME, &dl);
      dl.tv_nsec += (long)srv->o.max_wait_us * 1000;
      dl.tv_sec += dl.tv_nsec / 1000000000, dl.tv_nsec %= 1000000000;
      while (srv->q_len < cap && !srv->stopping && pthread_cond_timedwait(&srv->q_cv, &srv->q_mu, &dl) == 0) {}
    }
    int n = 0;
    while (srv->head && n < cap) {
      batch[n++] = srv->head;
      srv->head = srv->head->next;
      srv->q_len--;
    }
    if (!srv->head) srv->tail = NULL;
    pthread_mutex_unlock(&srv->q_mu);
    if (n == 0) continue; /* another worker took them while this one waited */
    int b = 0;
    while (b < N_BATCH && n > batch_le[b]) b++;
    atomic_fetch_add(&srv->m.batch[b], 1);
    atomic_fetch_add(&srv->m.batch_sum, (unsigned long)n);
    atomic_fetch_add(&srv->m.batches, 1);
    serve_model *sm = model_get(srv); /* one model for the whole batch */
    for (int i = 0; i < n; i++) {
      serve_handle(sm, id, &batch[i]->req, srv->tmpdir, &batch[i]->reply);
      sem_post(&batch[i]->done);
    }
    serve_model_unref(sm);
  }
  loom_free(batch);
  return NULL;
}

/* Queues a job and waits for its reply. */
static void run_job(loom_server *srv, job *j) {
  sem_init(&j->done, 0, 0);
  j->next = NULL;
  pthread_mutex_lock(&srv->q_mu);
  if (srv->tail) srv->tail->next = j;
  else srv->head = j;
  srv->tail = j;
  srv->q_len++;
  pthread_cond_signal(&srv->q_cv);
  if (srv->q_len >= srv->o.max_batch) pthread_cond_broadcast(&srv->q_cv);
  pthread_mutex_unlock(&srv->q_mu);
  while (sem_wait(&j->done) < 0 && errno == EINTR) {}
  sem_destroy(&j->done);
}

/* ---------------------------------------------------------------- reload */

static int do_reload(loom_server *srv, const char *path, loom_error *err) {
  pthread_mutex_lock(&srv->reload_mu);
  serve_model *old = model_get(srv);
  char want[4096];
  snprintf(want, sizeof want, "%s", path ? path : old->path);
  uint64_t v = srv->next_version;
  serve_model *sm = serve_model_load(want, srv->o.items, srv->n_workers, v, err);
  int rc = 0;
  if (!sm) {
    rc = -1;
  } else if (sm->task != old->task) {
    loom_errorf(err, "%s: a %s model cannot replace the %s model being served — start another server for it", want,
                loom_task_name(sm->task), loom_task_name(old->task));
    serve_model_free(sm);
    rc = -1;
  }
  if (rc < 0) {
    atomic_fetch_add(&srv->m.reloads_refused, 1);
    logf_(srv, "reload refused, still serving version %llu (%s): %s", (unsigned long long)old->version, old->path, err->msg);
  } else {
    srv->next_version++;
    pthread_mutex_lock(&srv->model_mu);
    serve_model *prev = srv->model;
    srv->model = sm;
    atomic_store(&srv->version, v);
    pthread_mutex_unlock(&srv->model_mu);
    serve_model_unref(prev); /* the server's reference; requests in flight hold their own */
    atomic_fetch_add(&srv->m.reloads_ok, 1);
    logf_(srv, "reloaded: version %llu from %s (sha256 %.12s, %lld items, %.2f s)", (unsigned long long)v, sm->path,
          sm->sha, (long long)sm->N, sm->load_seconds);
  }
  serve_model_unref(old);
  pthread_mutex_unlock(&srv->reload_mu);
  return rc;
}

int loom_server_reload(loom_server *srv, const char *path, loom_error *err) { return do_reload(srv, path, err); }
uint64_t loom_server_model_version(const loom_server *srv) { return atomic_load(&((loom_server *)srv)->version); }
int loom_server_port(const loom_server *srv) { return srv->port; }

/* --follow: the run directory's best.safetensors, looked at every follow_ms; a change of mtime or size
 * is confirmed by its SHA-256 before reloading (the trainer writes it by rename, so the file at the path
 * is always whole; a failed load is logged and retried only when the file changes again). */
static void *follower(void *p) {
  loom_server *srv = p;
  char path[4200];
  snprintf(path, sizeof path, "%s/best.safetensors", srv->o.follow);
  struct stat last = {0};
  stat(path, &last);
  char last_sha[65] = "";
  serve_model *sm = model_get(srv);
  snprintf(last_sha, sizeof last_sha, "%s", sm->sha);
  serve_model_unref(sm);
  pthread_mutex_lock(&srv->stop_mu);
  while (!srv->stopping) {
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += srv->o.follow_ms / 1000;
    dl.tv_nsec += (long)(srv->o.follow_ms % 1000) * 1000000;
    dl.tv_sec += dl.tv_nsec / 1000000000, dl.tv_nsec %= 1000000000;
    pthread_cond_timedwait(&srv->stop_cv, &srv->stop_mu, &dl);
    if (srv->stopping) break;
    pthread_mutex_unlock(&srv->stop_mu);
    struct stat st;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
        (st.st_mtim.tv_sec != last.st_mtim.tv_sec || st.st_mtim.tv_nsec != last.st_mtim.tv_nsec ||
         st.st_size != last.st_size || st.st_ino != last.st_ino)) {
      last = st;
      char sha[65];
      loom_error err;
      if (loom_sha256_file(path, sha, &err) == 0 && strcmp(sha, last_sha) != 0) {
        snprintf(last_sha, sizeof last_sha, "%s", sha);
        logf_(srv, "follow: %s changed (sha256 %.12s), reloading", path, sha);
        do_reload(srv, path, &err);
      }
    }
    pthread_mutex_lock(&srv->stop_mu);
  }
  pthread_mutex_unlock(&srv->stop_mu);
  return NULL;
}

/* ---------------------------------------------------------------- HTTP */

typedef struct conn {
  char *body;
  size_t len, cap;
  bool too_big;
  struct timespec t0;
} conn;

static double since(const struct timespec *t0) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)(t.tv_sec - t0->tv_sec) + 1e-9 * (double)(t.tv_nsec - t0->tv_nsec);
}

static void count(loom_server *srv, int ep, int status, const struct timespec *t0) {
  int c = 0;
  while (c < N_CODES - 1 && codes[c] != status) c++;
  if (codes[c] != status) c = 6; /* anything unexpected counts as 500 */
  atomic_fetch_add(&srv->m.req[ep][c], 1);
  double s = since(t0);
  int b = 0;
  while (b < N_LAT && s > lat_le[b]) b++;
  atomic_fetch_add(&srv->m.lat[ep][b], 1);
  atomic_fetch_add(&srv->m.lat_ns[ep], (unsigned long)(s * 1e9));
}

static enum MHD_Result send_body(struct MHD_Connection *c, int status, char *body, const char *type) {
  size_t n = strlen(body);
  struct MHD_Response *r = MHD_create_response_from_buffer(n, body, MHD_RESPMEM_MUST_FREE);
  if (!r) {
    free(body);
    return MHD_NO;
  }
  MHD_add_response_header(r, "Content-Type", type);
  enum MHD_Result rc = MHD_queue_response(c, (unsigned)status, r);
  MHD_destroy_response(r);
  return rc;
}

static enum MHD_Result send_error(loom_server *srv, struct MHD_Connection *c, int ep, int status, const char *msg,
                                  const struct timespec *t0) {
  count(srv, ep, status, t0);
  char *b = serve_error_body(msg);
  return b ? send_body(c, status, b, "application/json") : MHD_NO;
}

static bool loopback_peer(struct MHD_Connection *c) {
  const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  if (!ci || !ci->client_addr) return false;
  const struct sockaddr *sa = ci->client_addr;
  if (sa->sa_family == AF_INET) return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
  if (sa->sa_family == AF_INET6) {
    const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
    if (IN6_IS_ADDR_LOOPBACK(a)) return true;
    return IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127;
  }
  return false;
}

static char *metrics_text(loom_server *srv) {
  size_t cap = 1 << 16, n = 0;
  char *s = malloc(cap);
  if (!s) return NULL;
#define OUT(...)                                                              \
  do {                                                                        \
    int w_ = snprintf(s + n, cap - n, __VA_ARGS__);                          \
    if (w_ > 0 && (size_t)w_ >= cap - n) {                                    \
      char *t_ = realloc(s, cap = 2 * cap + (size_t)w_);                      \
      if (!t_) return free(s), NULL;                                          \
      s = t_;                                                                 \
      w_ = snprintf(s + n, cap - n, __VA_ARGS__);                            \
    }                                                                         \
    if (w_ > 0) n += (size_t)w_;                                              \
  } while (0)
  metrics *m = &srv->m;
  OUT("# HELP loom_serve_requests_total Requests answered, by endpoint and HTTP status.\n"
      "# TYPE loom_serve_requests_total counter\n");
  for (int e = 0; e < N_EP; e++)
    for (int c = 0; c < N_CODES; c++) {
      unsigned long v = atomic_load(&m->req[e][c]);
      if (v) OUT("loom_serve_requests_total{endpoint=\"%s\",status=\"%d\"} %lu\n", ep_name[e], codes[c], v);
    }
  OUT("# HELP loom_serve_request_seconds Time from the request's arrival to its reply being queued.\n"
      "# TYPE loom_serve_request_seconds histogram\n");
  for (int e = 0; e < N_EP; e++) {
    unsigned long cum = 0;
    for (int b = 0; b <= N_LAT; b++) {
      cum += atomic_load(&m->lat[e][b]);
      if (b < N_LAT) OUT("loom_serve_request_seconds_bucket{endpoint=\"%s\",le=\"%g\"} %lu\n", ep_name[e], lat_le[b], cum);
      else OUT("loom_serve_request_seconds_bucket{endpoint=\"%s\",le=\"+Inf\"} %lu\n", ep_name[e], cum);
    }
    OUT("loom_serve_request_seconds_sum{endpoint=\"%s\"} %.9f\n", ep_name[e], 1e-9 * (double)atomic_load(&m->lat_ns[e]));
    OUT("loom_serve_request_seconds_count{endpoint=\"%s\"} %lu\n", ep_name[e], cum);
  }
  OUT("# HELP loom_serve_batch_size Requests a worker took from the queue at once (micro-batching).\n"
      "# TYPE loom_serve_batch_size histogram\n");
  unsigned long cum = 0;
  for (int b = 0; b <= N_BATCH; b++) {
    cum += atomic_load(&m->batch[b]);
    if (b < N_BATCH) OUT("loom_serve_batch_size_bucket{le=\"%d\"} %lu\n", batch_le[b], cum);
    else OUT("loom_serve_batch_size_bucket{le=\"+Inf\"} %lu\n", cum);
  }
  OUT("loom_serve_batch_size_sum %lu\nloom_serve_batch_size_count %lu\n", atomic_load(&m->batch_sum),
      atomic_load(&m->batches));
  serve_model *sm = model_get(srv);
  OUT("# HELP loom_serve_item_cache_hits Sessions of the current model whose item vectors were read from the item cache.\n"
      "# TYPE loom_serve_item_cache_hits gauge\nloom_serve_item_cache_hits %d\n"
      "# HELP loom_serve_item_cache_misses Sessions of the current model that computed their item vectors.\n"
      "# TYPE loom_serve_item_cache_misses gauge\nloom_serve_item_cache_misses %d\n",
      sm->cache_hits, sm->cache_misses);
  OUT("# HELP loom_serve_non_personalised_total Answers for users unknown to the model (ranked non-personalised).\n"
      "# TYPE loom_serve_non_personalised_total counter\nloom_serve_non_personalised_total %lu\n",
      atomic_load(&m->non_personalised));
  OUT("# HELP loom_serve_reloads_total Hot swaps, by result.\n# TYPE loom_serve_reloads_total counter\n"
      "loom_serve_reloads_total{result=\"ok\"} %lu\nloom_serve_reloads_total{result=\"refused\"} %lu\n",
      atomic_load(&m->reloads_ok), atomic_load(&m->reloads_refused));
  OUT("# HELP loom_serve_model_version Version of the model being served (1 at start, +1 per reload).\n"
      "# TYPE loom_serve_model_version gauge\nloom_serve_model_version %llu\n"
      "# HELP loom_serve_model_info The model being served.\n# TYPE loom_serve_model_info gauge\n"
      "loom_serve_model_info{version=\"%llu\",sha256=\"%s\",task=\"%s\"} 1\n"
      "# HELP loom_serve_catalog_items Items in the catalogue being served.\n# TYPE loom_serve_catalog_items gauge\n"
      "loom_serve_catalog_items %lld\n",
      (unsigned long long)sm->version, (unsigned long long)sm->version, sm->sha, loom_task_name(sm->task),
      (long long)sm->N);
  serve_model_unref(sm);
  pthread_mutex_lock(&srv->q_mu);
  int ql = srv->q_len;
  pthread_mutex_unlock(&srv->q_mu);
  OUT("# HELP loom_serve_queue_length Requests waiting for a worker.\n# TYPE loom_serve_queue_length gauge\n"
      "loom_serve_queue_length %d\n", ql);
#undef OUT
  return s;
}

static int endpoint_of(const char *url) {
  for (int e = 0; e < EP_OTHER; e++)
    if (!strcmp(url, ep_name[e])) return e;
  return EP_OTHER;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                               const char *version, const char *upload, size_t *upload_size, void **con_cls) {
  (void)version;
  loom_server *srv = cls;
  conn *cn = *con_cls;
  int ep = endpoint_of(url);
  bool post = !strcmp(method, MHD_HTTP_METHOD_POST);
  if (!cn) { /* the first call: headers only */
    if (!(cn = calloc(1, sizeof *cn))) return MHD_NO;
    clock_gettime(CLOCK_MONOTONIC, &cn->t0);
    *con_cls = cn;
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (post && cl && strtoull(cl, NULL, 10) > srv->lim.max_body) {
      char msg[160];
      snprintf(msg, sizeof msg, "body: %s bytes, more than the limit of %zu", cl, srv->lim.max_body);
      return send_error(srv, c, ep, 413, msg, &cn->t0);
    }
    return MHD_YES;
  }
  if (*upload_size) { /* body bytes, in pieces */
    if (!cn->too_big) {
      if (cn->len + *upload_size > srv->lim.max_body) {
        cn->too_big = true;
      } else {
        if (cn->len + *upload_size + 1 > cn->cap) {
          size_t cap = (cn->len + *upload_size + 1) * 2;
          if (cap > srv->lim.max_body + 1) cap = srv->lim.max_body + 1;
          char *b = realloc(cn->body, cap);
          if (!b) return MHD_NO;
          cn->body = b, cn->cap = cap;
        }
        memcpy(cn->body + cn->len, upload, *upload_size);
        cn->len += *upload_size;
      }
    }
    *upload_size = 0;
    return MHD_YES;
  }
  if (cn->too_big) {
    char msg[120];
    snprintf(msg, sizeof msg, "body: more than the limit of %zu bytes", srv->lim.max_body);
    return send_error(srv, c, ep, 413, msg, &cn->t0);
  }
  if (ep == EP_OTHER) return send_error(srv, c, ep, 404, "no such endpoint (see docs/serving.md)", &cn->t0);
  bool is_post_ep = ep <= EP_EMBED || ep == EP_RELOAD;
  if (is_post_ep != post || (!post && strcmp(method, MHD_HTTP_METHOD_GET) != 0))
    return send_error(srv, c, ep, 405, is_post_ep ? "use POST with a JSON body" : "use GET", &cn->t0);
  switch (ep) {
  case EP_HEALTHZ: count(srv, ep, 200, &cn->t0); return send_body(c, 200, strdup("{\"status\":\"ok\"}"), "application/json");
  case EP_READYZ: {
    char *b = malloc(80);
    if (!b) return MHD_NO;
    snprintf(b, 80, "{\"ready\":true,\"model_version\":%llu}", (unsigned long long)loom_server_model_version(srv));
    count(srv, ep, 200, &cn->t0);
    return send_body(c, 200, b, "application/json");
  }
  case EP_MODEL: {
    serve_model *sm = model_get(srv);
    char *b = strdup(sm->doc);
    serve_model_unref(sm);
    count(srv, ep, 200, &cn->t0);
    return b ? send_body(c, 200, b, "application/json") : MHD_NO;
  }
  case EP_METRICS: {
    count(srv, ep, 200, &cn->t0);
    char *b = metrics_text(srv);
    return b ? send_body(c, 200, b, "text/plain; version=0.0.4") : MHD_NO;
  }
  default: break;
  }
  loom_serve_limits lim = srv->lim;
  loom_serve_request req;
  loom_error err = {""};
  serve_model *sm = model_get(srv);
  if (lim.max_top > sm->N) lim.max_top = sm->N; /* top capped by the catalogue */
  serve_model_unref(sm);
  loom_serve_endpoint sep = ep == EP_RELOAD ? LOOM_SERVE_RELOAD : (loom_serve_endpoint)ep;
  if (ep == EP_RELOAD && !loopback_peer(c))
    return send_error(srv, c, ep, 403, "reload: only from the server's own machine (a loopback address)", &cn->t0);
  if (loom_serve_parse(sep, cn->body ? cn->body : "", cn->len, &lim, &req, &err) < 0)
    return send_error(srv, c, ep, 400, err.msg, &cn->t0);
  if (ep == EP_RELOAD) {
    int rc = do_reload(srv, req.checkpoint, &err);
    loom_serve_request_free(&req);
    if (rc < 0) return send_error(srv, c, ep, 400, err.msg, &cn->t0);
    sm = model_get(srv);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "model_version", (double)sm->version);
    cJSON_AddStringToObject(o, "checkpoint", sm->path);
    cJSON_AddStringToObject(o, "sha256", sm->sha);
    serve_model_unref(sm);
    char *b = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    count(srv, ep, 200, &cn->t0);
    return b ? send_body(c, 200, b, "application/json") : MHD_NO;
  }
  job j = {.req = req};
  run_job(srv, &j);
  loom_serve_request_free(&j.req);
  if (j.reply.non_personalised) atomic_fetch_add(&srv->m.non_personalised, 1);
  count(srv, ep, j.reply.status, &cn->t0);
  return send_body(c, j.reply.status, j.reply.body, "application/json");
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe) {
  (void)cls, (void)c, (void)toe;
  conn *cn = *con_cls;
  if (cn) free(cn->body), free(cn);
  *con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap) {
  loom_server *srv = cls;
  if (srv->o.quiet) return;
  fprintf(stderr, "loom-serve: libmicrohttpd: ");
  vfprintf(stderr, fmt, ap);
}

/* ---------------------------------------------------------------- start / stop */

loom_server *loom_server_start(const loom_server_opts *o, loom_error *err) {
  loom_server *srv = loom_calloc(1, sizeof *srv);
  if (!srv) return loom_errorf(err, "out of memory"), NULL;
  srv->o = *o;
  if (!srv->o.bind) srv->o.bind = "127.0.0.1";
  if (srv->o.threads <= 0) srv->o.threads = loom_cpu_available();
  if (srv->o.threads <= 0) srv->o.threads = 1;
  if (srv->o.max_batch <= 0) srv->o.max_batch = 16;
  if (srv->o.max_wait_us < 0) srv->o.max_wait_us = 0; /* see docs/serving.md: waiting adds latency and, with no fused compute, buys nothing */
  if (srv->o.follow_ms <= 0) srv->o.follow_ms = 1000;
  if (srv->o.conn_timeout_s <= 0) srv->o.conn_timeout_s = 10;
  if (srv->o.max_conns <= 0) srv->o.max_conns = 256;
  srv->lim = o->limits.max_body ? o->limits : loom_serve_default_limits();
  pthread_mutex_init(&srv->model_mu, NULL);
  pthread_mutex_init(&srv->reload_mu, NULL);
  pthread_mutex_init(&srv->q_mu, NULL);
  pthread_cond_init(&srv->q_cv, NULL);
  pthread_mutex_init(&srv->stop_mu, NULL);
  pthread_cond_init(&srv->stop_cv, NULL);
  srv->n_workers = srv->o.threads;
  const char *tmp = getenv("TMPDIR");
  snprintf(srv->tmpdir, sizeof srv->tmpdir, "%s/loom-serve-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
  if (!mkdtemp(srv->tmpdir)) {
    loom_errorf(err, "%s: cannot make the scratch directory (%s) — set TMPDIR to a writable folder", srv->tmpdir,
                strerror(errno));
    srv->tmpdir[0] = '\0';
    goto fail;
  }
  if (!(srv->model = serve_model_load(o->checkpoint, o->items, srv->n_workers, 1, err))) goto fail;
  atomic_store(&srv->version, 1);
  srv->next_version = 2;
  struct sockaddr_in sa4 = {.sin_family = AF_INET, .sin_port = htons((uint16_t)o->port)};
  struct sockaddr_in6 sa6 = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)o->port)};
  struct sockaddr *sa;
  unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
  if (inet_pton(AF_INET, srv->o.bind, &sa4.sin_addr) == 1) {
    sa = (struct sockaddr *)&sa4;
  } else if (inet_pton(AF_INET6, srv->o.bind, &sa6.sin6_addr) == 1) {
    sa = (struct sockaddr *)&sa6;
    flags |= MHD_USE_IPv6;
  } else {
    loom_errorf(err, "--bind '%s': not an IPv4 or IPv6 address (e.g. 127.0.0.1, ::1, 0.0.0.0)", srv->o.bind);
    goto fail;
  }
  if (o->port < 0 || o->port > 65535) {
    loom_errorf(err, "--port %d: expected 0..65535", o->port);
    goto fail;
  }
  srv->workers = loom_calloc((size_t)srv->n_workers, sizeof *srv->workers);
  if (!srv->workers) {
    loom_errorf(err, "out of memory");
    goto fail;
  }
  for (int i = 0; i < srv->n_workers; i++) {
    worker_arg *a = loom_malloc(sizeof *a);
    if (!a) abort();
    *a = (worker_arg){srv, i};
    pthread_create(&srv->workers[i], NULL, worker, a);
  }
  srv->d = MHD_start_daemon(flags, 0, NULL, NULL, handler, srv, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, srv,
                            MHD_OPTION_SOCK_ADDR, sa,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)srv->o.conn_timeout_s,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)srv->o.max_conns,
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)64 * 1024,
                            MHD_OPTION_NOTIFY_COMPLETED, completed, srv,
                            MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u, MHD_OPTION_END);
  if (!srv->d) {
    loom_errorf(err, "cannot listen on %s port %d (%s) — is the port in use? pick another with --port, or 0 for any free one",
                srv->o.bind, o->port, strerror(errno));
    goto fail;
  }
  const union MHD_DaemonInfo *di = MHD_get_daemon_info(srv->d, MHD_DAEMON_INFO_BIND_PORT);
  srv->port = di ? di->port : o->port;
  if (srv->o.follow) {
    srv->following = true;
    pthread_create(&srv->follower, NULL, follower, srv);
  }
  logf_(srv, "serving %s (version 1, %s, %lld items, %d sessions, loaded in %.2f s) on http://%s%s%s:%d", o->checkpoint,
        loom_task_name(srv->model->task), (long long)srv->model->N, srv->n_workers, srv->model->load_seconds,
        sa == (struct sockaddr *)&sa6 ? "[" : "", srv->o.bind, sa == (struct sockaddr *)&sa6 ? "]" : "", srv->port);
  return srv;
fail:
  loom_server_stop(srv);
  return NULL;
}

void loom_server_stop(loom_server *srv) {
  if (!srv) return;
  if (srv->d) MHD_stop_daemon(srv->d); /* waits for the connection threads, so for their jobs */
  pthread_mutex_lock(&srv->stop_mu);
  pthread_mutex_lock(&srv->q_mu);
  srv->stopping = true;
  pthread_cond_broadcast(&srv->q_cv);
  pthread_mutex_unlock(&srv->q_mu);
  pthread_cond_broadcast(&srv->stop_cv);
  pthread_mutex_unlock(&srv->stop_mu);
  if (srv->following) pthread_join(srv->follower, NULL);
  for (int i = 0; srv->workers && i < srv->n_workers; i++)
    if (srv->workers[i]) pthread_join(srv->workers[i], NULL);
  loom_free(srv->workers);
  serve_model_unref(srv->model);
  if (srv->tmpdir[0]) rmdir(srv->tmpdir);
  pthread_mutex_destroy(&srv->model_mu);
  pthread_mutex_destroy(&srv->reload_mu);
  pthread_mutex_destroy(&srv->q_mu);
  pthread_cond_destroy(&srv->q_cv);
  pthread_mutex_destroy(&srv->stop_mu);
  pthread_cond_destroy(&srv->stop_cv);
  loom_free(srv);
}
