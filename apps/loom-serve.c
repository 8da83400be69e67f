/* loom-serve — the ranking server (docs/serving.md): a checkpoint served over HTTP/1.1 + JSON. This file
 * only parses flags, turns SIGHUP into a reload and SIGINT / SIGTERM into a clean stop, and prints; the
 * server is src/serve (loom/serve.h). Exit status: 0 stopped cleanly, 1 failed to start, 2 usage. */
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loom/loom.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: loom-serve CKPT [--port 8080] [--bind 127.0.0.1] [--threads N] [--max-batch 16]\n"
          "                       [--max-wait-us 0] [--follow RUN_DIR] [--timeout 10] [--max-conns 256]\n"
          "                       [--max-body BYTES] [--items ITEMS.csv] [--quiet]\n"
          "       loom-serve --help | --version\n"
          "\n"
          "Serves the checkpoint CKPT (written by loom-train) over HTTP/1.1 + JSON:\n"
          "  POST /v1/score /v1/rank /v1/search /v1/embed   GET /healthz /readyz /v1/model /metrics\n"
          "  POST /v1/admin/reload (loopback clients only)   — see docs/serving.md\n"
          "\n"
          "  --port N         port to listen on (default 8080; 0: any free port, printed at start)\n"
          "  --bind ADDR      address to listen on (default 127.0.0.1: this machine only)\n"
          "  --threads N      inference workers, each with its own session (default: the CPUs usable)\n"
          "  --max-batch N    requests a worker takes from the queue at once (default 16)\n"
          "  --max-wait-us N  how long a worker waits for a batch to fill (default 0: never)\n"
          "  --follow DIR     reload when DIR/best.safetensors changes (a training run's directory)\n"
          "  --timeout S      close a connection idle for S seconds (default 10)\n"
          "  --max-conns N    concurrent connections (default 256)\n"
          "  --max-body N     bytes of a request body (default 1048576)\n"
          "  --items FILE     the catalogue to serve (default: the checkpoint's items table)\n"
          "  --quiet          no log lines\n"
          "\n"
          "SIGHUP reloads CKPT (or the last checkpoint reloaded); SIGINT / SIGTERM stop.\n"
          "Exit status: 0 stopped, 1 failed to start, 2 usage error.\n");
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("loom-serve: ", stderr);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputs(" (see loom-serve --help)\n", stderr);
  return 2;
}

static volatile sig_atomic_t got_hup, got_stop;
static void on_hup(int sig) { (void)sig, got_hup = 1; }
static void on_stop(int sig) { (void)sig, got_stop = 1; }

static int number(const char *flag, const char *v, long lo, long hi, long *out) {
  char *end;
  long x = strtol(v, &end, 10);
  if (!v[0] || *end || x < lo || x > hi) return usage_error("--%s %s: give a whole number from %ld to %ld", flag, v, lo, hi);
  *out = x;
  return 0;
}

int main(int argc, char **argv) {
  enum { OPT_VERSION = 256, OPT_BATCH, OPT_WAIT, OPT_CONNS, OPT_BODY };
  static const struct option opts[] = {
      {"port", required_argument, 0, 'p'},        {"bind", required_argument, 0, 'b'},
      {"threads", required_argument, 0, 't'},     {"max-batch", required_argument, 0, OPT_BATCH},
      {"max-wait-us", required_argument, 0, OPT_WAIT}, {"follow", required_argument, 0, 'f'},
      {"timeout", required_argument, 0, 'T'},     {"max-conns", required_argument, 0, OPT_CONNS},
      {"max-body", required_argument, 0, OPT_BODY}, {"quiet", no_argument, 0, 'q'}, {"items", required_argument, 0, 'i'},
      {"help", no_argument, 0, 'h'},              {"version", no_argument, 0, OPT_VERSION},
      {0, 0, 0, 0}};
  loom_server_opts o = {.port = 8080, .max_wait_us = -1};
  opterr = 0;
  int c;
  long x;
  while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
    const char *flag = optind > 1 && optind <= argc ? argv[optind - 1] : "?";
    switch (c) {
    case 'h': usage(stdout); return 0;
    case OPT_VERSION: printf("loom serve %s\n", loom_version()); return 0;
    case 'p': if (number("port", optarg, 0, 65535, &x)) return 2; o.port = (int)x; break;
    case 'b': o.bind = optarg; break;
    case 't': if (number("threads", optarg, 1, 256, &x)) return 2; o.threads = (int)x; break;
    case OPT_BATCH: if (number("max-batch", optarg, 1, 1024, &x)) return 2; o.max_batch = (int)x; break;
    case OPT_WAIT: if (number("max-wait-us", optarg, 0, 1000000, &x)) return 2; o.max_wait_us = (int)x; break;
    case 'f': o.follow = optarg; break;
    case 'T': if (number("timeout", optarg, 1, 3600, &x)) return 2; o.conn_timeout_s = (int)x; break;
    case OPT_CONNS: if (number("max-conns", optarg, 1, 100000, &x)) return 2; o.max_conns = (int)x; break;
    case OPT_BODY:
      if (number("max-body", optarg, 64, 1L << 30, &x)) return 2;
      o.limits = loom_serve_default_limits();
      o.limits.max_body = (size_t)x;
      break;
    case 'q': o.quiet = true; break;
    case 'i': o.items = optarg; break;
    case ':': return usage_error("%s needs a value", flag);
    default: return usage_error("unknown option '%s'", optopt ? (char[]){'-', (char)optopt, 0} : flag);
    }
  }
  if (optind >= argc) return usage_error("give the checkpoint to serve");
  if (optind + 1 < argc) return usage_error("unexpected argument '%s'", argv[optind + 1]);
  o.checkpoint = argv[optind];
  struct sigaction sa = {.sa_handler = on_hup};
  sigemptyset(&sa.sa_mask);
  sigaction(SIGHUP, &sa, NULL);
  sa.sa_handler = on_stop;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
  /* The workers are the parallelism: with more than one, each runs its requests on one thread (no
   * OpenMP team per worker fighting over the cores) unless LOOM_NUM_THREADS says otherwise. */
  loom_runtime_init(); /* first: it sets the thread count from LOOM_NUM_THREADS / the CPUs */
  if (o.threads != 1 && !getenv("LOOM_NUM_THREADS")) loom_set_num_threads(1);
  loom_error err = {""};
  loom_server *srv = loom_server_start(&o, &err);
  if (!srv) {
    fprintf(stderr, "loom-serve: %s\n", err.msg);
    return 1;
  }
  printf("loom-serve: listening on port %d\n", loom_server_port(srv));
  fflush(stdout);
  while (!got_stop) {
    usleep(50000);
    if (got_hup) {
      got_hup = 0;
      loom_server_reload(srv, NULL, &err); /* logged either way; a refused one keeps the old model */
    }
  }
  loom_server_stop(srv);
  return 0;
}
