/* loom-infer — a trained checkpoint at work: score rows, rank items for a user, search by text or
 * photo, export embeddings, evaluate on new data. A thin CLI over loom/infer.h: flags (getopt_long),
 * output formats (a table for people on a terminal; csv, jsonl or json for machines, and for every
 * file), crash-safe output files (written beside the target and renamed into place), never over one
 * of the command's own inputs, and every write checked. Exit status: 0 done, 1 failed, 2 usage. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "loom/atomic.h"
#include "loom/file.h"
#include "loom/infer.h"
#include "loom/runtime.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: loom-infer score  CKPT --input ROWS.csv [--output FILE]\n"
          "       loom-infer rank   CKPT --user U [--query TEXT] [--candidates ITEMS.csv] [--top K] [--output FILE]\n"
          "       loom-infer search CKPT (--text TEXT | --image PHOTO) [--candidates ITEMS.csv] [--top K] [--output FILE]\n"
          "       loom-infer embed  CKPT (--items [ITEMS.csv] | --users) --output FILE.safetensors\n"
          "       loom-infer eval   CKPT (--data ROWS.csv | --split val|test) [--output FILE]\n"
          "       loom-infer --help | --version\n"
          "options: --format table|csv|jsonl|json (default: table on stdout; for --output FILE, from its\n"
          "         extension: .jsonl, .json, else csv), --batch N, --cache (keep the catalogue's item\n"
          "         vectors in CKPT.items.safetensors), --users-table USERS.csv, --image-root DIR, --timing\n"
          "rank / search of two-tower models: --metric cosine|dot|euclidean|manhattan (default: the model's:\n"
          "         dot for ranking, cosine for retrieval and search), --index auto|exact|ivf|hnsw (default\n"
          "         auto: exact below %d items, hnsw from there; manhattan: exact only), HNSW options\n"
          "         --hnsw-m M (16) --hnsw-ef-construction E (100) --hnsw-ef-search E (64), IVF options\n"
          "         --ivf-nlist C (4*sqrt(items)) --ivf-nprobe P (16). An approximate index prints its\n"
          "         recall@10 against the exact index on %d catalogue items.\n"
          "CKPT is best.safetensors or last.safetensors of a loom-train run. ROWS.csv has the training\n"
          "interactions' columns (extra columns are ignored); users and items tables are joined as in\n"
          "training. Unknown users are ranked non-personalised (the mean user); items unseen in training\n"
          "are scored from their text and image (cold start); both are noted in every output format.\n"
          "An output file is never written over the checkpoint or another input of the command.\n"
          "Exit status: 0 done, 1 failed, 2 usage error. Threads: LOOM_NUM_THREADS.\n",
          LOOM_INDEX_AUTO_ROWS, LOOM_INFER_RECALL_QUERIES);
}

typedef enum { FMT_DEFAULT, FMT_TABLE, FMT_CSV, FMT_JSONL, FMT_JSON } out_fmt;

typedef struct opts {
  const char *cmd, *ckpt, *input, *output, *user, *query, *candidates, *text, *image, *data, *split, *users_table,
      *image_root, *items, *metric;
  int top, batch;
  loom_index_opts index;
  bool index_opt_given[5]; /* --hnsw-m, --hnsw-ef-construction, --hnsw-ef-search, --ivf-nlist, --ivf-nprobe */
  bool cache, timing, users, items_flag;
  out_fmt format;
} opts;

/* ---- output: stdout, or a temporary file renamed over --output once complete (loom/atomic.h) */

typedef struct out {
  FILE *f;
  const char *name; /* "stdout" or the --output path */
  out_fmt format;   /* never FMT_DEFAULT */
  long n;           /* JSON values written */
  bool single;      /* json: one bare object (eval), not an array */
  bool oom;         /* a value could not be printed */
  loom_atomic a;
} out;

static out_fmt format_for(const opts *o, const char *path) {
  if (o->format != FMT_DEFAULT) return o->format;
  if (!path) return FMT_TABLE;
  const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
  if (dot && (!slash || dot > slash)) {
    if (!strcmp(dot, ".jsonl")) return FMT_JSONL;
    if (!strcmp(dot, ".json")) return FMT_JSON;
  }
  return FMT_CSV; /* a file is for machines */
}

static int out_open(out *o, const opts *op, loom_error *err) {
  *o = (out){.f = stdout, .name = "stdout", .format = format_for(op, op->output)};
  if (!op->output) return 0;
  if (loom_atomic_open(&o->a, op->output, err) < 0) return -1;
  o->f = o->a.f, o->name = op->output;
  return 0;
}

/* ok: everything was written; returns 0, or -1 with err (a previous file is intact) */
static int out_close(out *o, bool ok, loom_error *err) {
  if (ok && o->format == FMT_JSON && !o->single) fputs(o->n ? "\n]\n" : "[]\n", o->f);
  if (ok && o->oom) {
    if (o->f != stdout) loom_atomic_discard(&o->a);
    return loom_errorf(err, "%s: out of memory printing JSON — the output is incomplete", o->name);
  }
  if (o->f == stdout) {
    if (fflush(stdout) == 0 && !ferror(stdout)) return 0;
    return ok ? loom_errorf(err, "stdout: write error (%s) — the output is incomplete", strerror(errno ? errno : EIO)) : -1;
  }
  if (!ok || ferror(o->f)) {
    loom_atomic_discard(&o->a);
    return ok ? loom_errorf(err, "%s: write error — nothing written (a previous file is intact)", o->name) : 0;
  }
  return loom_atomic_commit(&o->a, err);
}

static void csv_field(FILE *f, const char *s) {
  if (!strpbrk(s, ",\"\r\n")) {
    fputs(s, f);
    return;
  }
  fputc('"', f);
  for (; *s; s++) {
    if (*s == '"') fputc('"', f);
    fputc(*s, f);
  }
  fputc('"', f);
}

/* One JSON object: a line (jsonl), or an element of one array (json; w->single: the only value, bare). */
static void json_value(out *w, cJSON *o) {
  char *s = cJSON_PrintUnformatted(o);
  if (!s) w->oom = true;
  else if (w->format == FMT_JSON && !w->single) fprintf(w->f, "%s%s", w->n++ ? ",\n" : "[\n", s);
  else fprintf(w->f, "%s\n", s), w->n++;
  cJSON_free(s);
  cJSON_Delete(o);
}

/* ---- score */

typedef struct score_ctx {
  const opts *o;
  loom_infer *s;
  out *w;
  int64_t n, unknown_users, unknown_items;
} score_ctx;

static int on_row(void *ctx, const loom_infer_row *r) {
  score_ctx *c = ctx;
  FILE *f = c->w->f;
  loom_task_kind task = loom_infer_task(c->s);
  const char *cls = r->cls >= 0 ? loom_infer_class_name(c->s, r->cls) : NULL;
  char cbuf[16];
  if (r->cls >= 0 && !cls) snprintf(cbuf, sizeof cbuf, "%d", r->cls), cls = cbuf;
  char note[64] = "";
  if (r->unknown_user || r->unknown_item)
    snprintf(note, sizeof note, "%s%s%s", r->unknown_user ? "unknown user: non-personalised" : "",
             r->unknown_user && r->unknown_item ? "; " : "", r->unknown_item ? "unknown item: cold start" : "");
  c->unknown_users += r->unknown_user, c->unknown_items += r->unknown_item;
  if (c->w->format == FMT_JSONL || c->w->format == FMT_JSON) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "line", (double)r->line);
    if (r->user[0]) cJSON_AddStringToObject(o, "user", r->user);
    if (r->item[0]) cJSON_AddStringToObject(o, "item", r->item);
    if (cls) cJSON_AddStringToObject(o, "class", cls);
    cJSON_AddNumberToObject(o, "score", r->score);
    if (task == LOOM_TASK_BINARY) cJSON_AddNumberToObject(o, "logit", r->logit);
    for (int k = 0; task == LOOM_TASK_MULTITASK && k < loom_model_n_classes(loom_infer_model(c->s)); k++)
      cJSON_AddNumberToObject(o, loom_model_head_name(loom_infer_model(c->s), k), r->probs[k]);
    if (note[0]) cJSON_AddStringToObject(o, "note", note);
    json_value(c->w, o);
  } else if (c->w->format == FMT_CSV) {
    const loom_model *m = loom_infer_model(c->s);
    const int H = task == LOOM_TASK_MULTITASK ? loom_model_n_classes(m) : 0;
    if (c->n == 0) {
      fprintf(f, "line,user,item,%sscore%s", cls ? "class," : "", task == LOOM_TASK_BINARY ? ",logit" : "");
      for (int k = 0; k < H; k++) fprintf(f, ","), csv_field(f, loom_model_head_name(m, k));
      fprintf(f, ",note\n");
    }
    fprintf(f, "%lld,", (long long)r->line);
    csv_field(f, r->user), fputc(',', f), csv_field(f, r->item), fputc(',', f);
    if (cls) csv_field(f, cls), fputc(',', f);
    fprintf(f, "%.9g", (double)r->score);
    if (task == LOOM_TASK_BINARY) fprintf(f, ",%.9g", (double)r->logit);
    for (int k = 0; k < H; k++) fprintf(f, ",%.9g", (double)r->probs[k]);
    fprintf(f, ",%s\n", note);
  } else {
    const loom_model *m = loom_infer_model(c->s);
    const int H = task == LOOM_TASK_MULTITASK ? loom_model_n_classes(m) : 0;
    if (c->n == 0) {
      fprintf(f, "%8s  %-12s %-12s %s%10s", "line", "user", "item", cls ? "class         " : "", H ? "" : "score");
      for (int k = 0; k < H; k++) fprintf(f, "%s%14.14s", k ? " " : "", loom_model_head_name(m, k));
      fprintf(f, "  %s\n", "note");
    }
    fprintf(f, "%8lld  %-12.40s %-12.40s ", (long long)r->line, r->user, r->item);
    if (cls) fprintf(f, "%-13.40s ", cls);
    if (!H) fprintf(f, "%10.6f", (double)r->score);
    for (int k = 0; k < H; k++) fprintf(f, "%s%14.6f", k ? " " : "", (double)r->probs[k]);
    fprintf(f, "  %s\n", note);
  }
  c->n++;
  return ferror(f) ? 1 : 0;
}

static int cmd_score(const opts *o, loom_infer *s, loom_error *err) {
  out w;
  if (out_open(&w, o, err) < 0) return -1;
  score_ctx c = {o, s, &w, 0, 0, 0};
  int rc = loom_infer_score_csv(s, o->input, on_row, &c, err);
  if (rc > 0) loom_errorf(err, "%s: write error", w.name);
  if (out_close(&w, rc == 0, rc == 0 ? err : NULL) < 0 || rc != 0) return -1;
  fprintf(stderr, "loom-infer: scored %lld rows of %s%s%s", (long long)c.n, o->input, o->output ? " -> " : "",
          o->output ? o->output : "");
  if (c.unknown_users || c.unknown_items)
    fprintf(stderr, " (%lld with an unknown user: non-personalised; %lld with an unknown item: cold start)",
            (long long)c.unknown_users, (long long)c.unknown_items);
  fprintf(stderr, "\n");
  return 0;
}

/* ---- rank / search */

/* The hits in w's format; `what` heads the table; `note` (may be "") applies to the whole list and is
 * repeated on every csv / json row, joined with the item's own note. */
static void print_hits(out *w, const loom_hit *h, int n, const char *what, const char *note) {
  FILE *f = w->f;
  if (w->format == FMT_TABLE) fprintf(f, "%s\n%4s  %-12s %10s  %s\n", what, "rank", "item", "score", "title");
  if (w->format == FMT_CSV) fprintf(f, "rank,item,score,title,note\n");
  for (int i = 0; i < n; i++) {
    const char *inote = h[i].unknown_item ? "new item (cold start)" : "";
    char both[512];
    snprintf(both, sizeof both, "%s%s%s", note, note[0] && inote[0] ? "; " : "", inote);
    if (w->format == FMT_JSONL || w->format == FMT_JSON) {
      cJSON *j = cJSON_CreateObject();
      cJSON_AddNumberToObject(j, "rank", i + 1);
      cJSON_AddStringToObject(j, "item", h[i].item);
      cJSON_AddNumberToObject(j, "score", h[i].score);
      if (h[i].title) cJSON_AddStringToObject(j, "title", h[i].title);
      if (both[0]) cJSON_AddStringToObject(j, "note", both);
      json_value(w, j);
    } else if (w->format == FMT_CSV) {
      fprintf(f, "%d,", i + 1);
      csv_field(f, h[i].item);
      fprintf(f, ",%.9g,", (double)h[i].score);
      csv_field(f, h[i].title ? h[i].title : "");
      fputc(',', f);
      csv_field(f, both);
      fputc('\n', f);
    } else {
      fprintf(f, "%4d  %-12.40s %10.4f  %s%s%s\n", i + 1, h[i].item, (double)h[i].score, h[i].title ? h[i].title : "",
              inote[0] ? "  — " : "", inote);
    }
  }
}

static int finish_hits(const opts *o, loom_hit *h, int n, const char *what, const char *note, loom_error *err) {
  out w;
  int rc = n < 0 ? -1 : out_open(&w, o, err);
  if (rc == 0) {
    print_hits(&w, h, n, what, note);
    rc = out_close(&w, true, err);
    if (rc == 0 && o->output) fprintf(stderr, "loom-infer: wrote %d hits to %s\n", n, o->output);
  }
  free(h);
  return rc;
}

static int cmd_rank(const opts *o, loom_infer *s, loom_error *err) {
  loom_hit *h = calloc((size_t)o->top, sizeof *h);
  if (!h) return loom_errorf(err, "out of memory");
  unsigned flags = 0;
  int n = loom_infer_rank(s, o->user, o->query, o->top, h, &flags, err);
  char what[1024] = "", note[512] = "";
  if (n >= 0) {
    if (flags & LOOM_INFER_USER_IGNORED)
      snprintf(note, sizeof note, "the model has no user input: ranked by the query alone, user %.80s not used",
               o->user);
    else if (flags & LOOM_INFER_UNKNOWN_USER)
      snprintf(note, sizeof note, "unknown user: non-personalised ranking");
    if (flags & LOOM_INFER_QUERY_UNKNOWN) {
      size_t k = strlen(note);
      snprintf(note + k, sizeof note - k, "%sno word of the query is in the model's vocabulary: ranked by the user alone",
               k ? "; " : "");
    }
    if (flags & LOOM_INFER_USER_IGNORED)
      snprintf(what, sizeof what, "top %d for query \"%.200s\" — %s", n, o->query, note);
    else
      snprintf(what, sizeof what, "top %d for user %.200s%s%.200s%s%s%s", n, o->user, o->query ? ", query \"" : "",
               o->query ? o->query : "", o->query ? "\"" : "", note[0] ? " — " : "", note);
    if (flags & LOOM_INFER_USER_IGNORED)
      fprintf(stderr, "loom-infer: the model has no user input: ranked by the query alone (user '%s' not used)\n", o->user);
    else if (flags & LOOM_INFER_UNKNOWN_USER)
      fprintf(stderr, "loom-infer: user '%s' is not in the training data: the ranking is non-personalised (mean user)\n",
              o->user);
    if (flags & LOOM_INFER_QUERY_UNKNOWN)
      fprintf(stderr, "loom-infer: no word of the query '%s' is in the model's vocabulary: ranked by the user alone\n",
              o->query);
  }
  return finish_hits(o, h, n, what, note, err);
}

static int cmd_search(const opts *o, loom_infer *s, loom_error *err) {
  loom_hit *h = calloc((size_t)o->top, sizeof *h);
  if (!h) return loom_errorf(err, "out of memory");
  int n = o->text ? loom_infer_search_text(s, o->text, o->top, h, err) : loom_infer_search_image(s, o->image, o->top, h, err);
  char what[1024] = "";
  if (n >= 0)
    snprintf(what, sizeof what, "top %d for %s \"%.200s\" (%s)", n, o->text ? "text" : "photo",
             o->text ? o->text : o->image, (const char *const[]){"cosine similarity", "inner product",
             "minus the euclidean distance", "minus the manhattan distance"}[loom_infer_metric(s, true)]);
  return finish_hits(o, h, n, what, "", err);
}

static int cmd_embed(const opts *o, loom_infer *s, loom_error *err) {
  if (loom_infer_embed(s, o->users ? "users" : "items", o->output, err) < 0) return -1;
  fprintf(stderr, "loom-infer: wrote %s embeddings to %s\n", o->users ? "user" : "item", o->output);
  return 0;
}

static loom_split split_of(const opts *o) {
  if (!o->split) return LOOM_SPLIT_ALL;
  return !strcmp(o->split, "test") ? LOOM_SPLIT_TEST : LOOM_SPLIT_VAL;
}

static int cmd_eval(const opts *o, loom_infer *s, loom_error *err) {
  const loom_evaluator *ev = loom_infer_eval(s, o->data, split_of(o), err);
  if (!ev) return -1;
  out w;
  if (out_open(&w, o, err) < 0) return -1;
  FILE *f = w.f;
  if (w.format == FMT_JSONL || w.format == FMT_JSON) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "rows", (double)ev->n_rows);
    cJSON_AddNumberToObject(j, "loss", ev->loss);
    for (int i = 0; i < ev->n_metrics; i++) cJSON_AddNumberToObject(j, ev->names[i], ev->val[i]);
    w.single = true;
    json_value(&w, j);
  } else if (w.format == FMT_CSV) {
    fprintf(f, "rows,loss");
    for (int i = 0; i < ev->n_metrics; i++) fprintf(f, ",%s", ev->names[i]);
    fprintf(f, "\n%lld,%.6f", (long long)ev->n_rows, ev->loss);
    for (int i = 0; i < ev->n_metrics; i++) fprintf(f, ",%.6f", ev->val[i]);
    fprintf(f, "\n");
  } else {
    fprintf(f, "%lld rows of %s\n%-16s %.6f\n", (long long)ev->n_rows, o->data ? o->data : o->split, "loss", ev->loss);
    for (int i = 0; i < ev->n_metrics; i++) fprintf(f, "%-16s %.6f\n", ev->names[i], ev->val[i]);
  }
  if (out_close(&w, true, err) < 0) return -1;
  if (o->output) fprintf(stderr, "loom-infer: wrote the metrics to %s\n", o->output);
  return 0;
}

/* ---- flags */

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("loom-infer: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputs(" (see loom-infer --help)\n", stderr);
  va_end(ap);
  return -1;
}

enum { OPT_USERS_TABLE = 256, OPT_IMAGE_ROOT, OPT_VERSION, OPT_INDEX, OPT_METRIC, OPT_HNSW_M, OPT_HNSW_EFC, OPT_HNSW_EFS,
       OPT_IVF_NLIST, OPT_IVF_NPROBE };
static const char *const INDEX_FLAGS[5] = {"--hnsw-m", "--hnsw-ef-construction", "--hnsw-ef-search", "--ivf-nlist",
                                           "--ivf-nprobe"};

/* Parses argv into *o; -1 after printing a usage error, 1 when --help / --version was answered. */
static int parse(int argc, char **argv, opts *o) {
  *o = (opts){.top = 10, .format = FMT_DEFAULT, .index = loom_index_defaults(LOOM_INDEX_AUTO)};
  static const struct option longopts[] = {
      {"input", required_argument, 0, 'i'},       {"output", required_argument, 0, 'o'},
      {"user", required_argument, 0, 'u'},        {"query", required_argument, 0, 'q'},
      {"candidates", required_argument, 0, 'c'},  {"text", required_argument, 0, 't'},
      {"image", required_argument, 0, 'm'},       {"data", required_argument, 0, 'd'},
      {"split", required_argument, 0, 's'},       {"users-table", required_argument, 0, OPT_USERS_TABLE},
      {"image-root", required_argument, 0, OPT_IMAGE_ROOT}, {"top", required_argument, 0, 'k'},
      {"batch", required_argument, 0, 'b'},       {"format", required_argument, 0, 'f'},
      {"items", optional_argument, 0, 'I'},       {"users", no_argument, 0, 'U'},
      {"cache", no_argument, 0, 'C'},             {"timing", no_argument, 0, 'T'},
      {"help", no_argument, 0, 'h'},              {"version", no_argument, 0, OPT_VERSION},
      {"index", required_argument, 0, OPT_INDEX}, {"metric", required_argument, 0, OPT_METRIC},
      {"hnsw-m", required_argument, 0, OPT_HNSW_M}, {"hnsw-ef-construction", required_argument, 0, OPT_HNSW_EFC},
      {"hnsw-ef-search", required_argument, 0, OPT_HNSW_EFS}, {"ivf-nlist", required_argument, 0, OPT_IVF_NLIST},
      {"ivf-nprobe", required_argument, 0, OPT_IVF_NPROBE},
      {0, 0, 0, 0}};
  opterr = 0;
  int c, at;
  /* "-": words that are not flags come back in order as c == 1 (the command, then the checkpoint) */
  while (at = optind, (c = getopt_long(argc, argv, "-:h", longopts, NULL)) != -1) {
    const char *flag = at < argc ? argv[at] : "?";
    const char **slot = NULL;
    switch (c) {
    case 1:
      if (!o->cmd) o->cmd = optarg;
      else if (!o->ckpt) o->ckpt = optarg;
      else return usage_error("unexpected argument '%s'", optarg);
      continue;
    case 'h': usage(stdout); return 1;
    case OPT_VERSION: printf("loom-infer (loom %s)\n", loom_version()); return 1;
    case 'i': slot = &o->input; break;
    case 'o': slot = &o->output; break;
    case 'u': slot = &o->user; break;
    case 'q': slot = &o->query; break;
    case 'c': slot = &o->candidates; break;
    case 't': slot = &o->text; break;
    case 'm': slot = &o->image; break;
    case 'd': slot = &o->data; break;
    case 's': slot = &o->split; break;
    case OPT_USERS_TABLE: slot = &o->users_table; break;
    case OPT_IMAGE_ROOT: slot = &o->image_root; break;
    case 'U': o->users = true; break;
    case 'C': o->cache = true; break;
    case 'T': o->timing = true; break;
    case 'I': /* --items, --items=FILE or --items FILE (the next word, when it is not a flag) */
      o->items_flag = true;
      if (!optarg && optind < argc && argv[optind][0] != '-' && o->ckpt) optarg = argv[optind++];
      if (optarg) slot = &o->items;
      break;
    case 'f':
      if (!strcmp(optarg, "table")) o->format = FMT_TABLE;
      else if (!strcmp(optarg, "csv")) o->format = FMT_CSV;
      else if (!strcmp(optarg, "jsonl")) o->format = FMT_JSONL;
      else if (!strcmp(optarg, "json")) o->format = FMT_JSON;
      else return usage_error("--format %s: use table, csv, jsonl or json", optarg);
      break;
    case 'k':
    case 'b': {
      char *end;
      errno = 0;
      long n = strtol(optarg, &end, 10), max = c == 'k' ? 1024 : 65536;
      if (errno || end == optarg || *end || n < 1 || n > max)
        return usage_error("--%s %s: give a whole number from 1 to %ld", c == 'k' ? "top" : "batch", optarg, max);
      if (c == 'k') o->top = (int)n;
      else o->batch = (int)n;
      break;
    }
    case OPT_INDEX: {
      loom_error e = {""};
      if (loom_index_parse_kind(optarg, "--index", &o->index.kind, &e) < 0) return usage_error("%s", e.msg);
      break;
    }
    case OPT_METRIC: {
      loom_error e = {""};
      loom_index_metric m;
      if (loom_index_parse_metric(optarg, "--metric", &m, &e) < 0) return usage_error("%s", e.msg);
      o->metric = optarg;
      break;
    }
    case OPT_HNSW_M:
    case OPT_HNSW_EFC:
    case OPT_HNSW_EFS:
    case OPT_IVF_NLIST:
    case OPT_IVF_NPROBE: {
      char *end;
      errno = 0;
      long n = strtol(optarg, &end, 10);
      int w = c - OPT_HNSW_M;
      if (errno || end == optarg || *end || n < 1 || n > 1000000)
        return usage_error("%s %s: give a whole number from 1 to 1000000", INDEX_FLAGS[w], optarg);
      int *field[5] = {&o->index.hnsw_m, &o->index.hnsw_ef_construction, &o->index.hnsw_ef_search,
                       &o->index.ivf_nlist, &o->index.ivf_nprobe};
      *field[w] = (int)n;
      o->index_opt_given[w] = true;
      break;
    }
    case ':': return usage_error("%s needs a value", flag);
    default: return usage_error("unknown option '%s'", flag);
    }
    if (slot) {
      if (!optarg[0]) return usage_error("%.40s is empty — give a value or leave the flag out", flag);
      *slot = optarg;
    }
  }
  for (; optind < argc; optind++) { /* after "--" */
    if (!o->cmd) o->cmd = argv[optind];
    else if (!o->ckpt) o->ckpt = argv[optind];
    else return usage_error("unexpected argument '%s'", argv[optind]);
  }
  return 0;
}

/* What each command needs, checked before the checkpoint is opened. */
static int check_flags(const opts *o) {
  const char *c = o->cmd;
  bool ranks = !strcmp(c, "rank") || !strcmp(c, "search");
  if (!ranks && (o->metric || o->index.kind != LOOM_INDEX_AUTO))
    return usage_error("%s: --%s applies to rank and search only; remove it", c, o->metric ? "metric" : "index");
  for (int w = 0; w < 5; w++) /* an option of a kind not asked for would have no effect */
    if (o->index_opt_given[w] && o->index.kind != (w < 3 ? LOOM_INDEX_HNSW : LOOM_INDEX_IVF))
      return usage_error("%s applies to --index %s only; add --index %s or remove it", INDEX_FLAGS[w],
                         w < 3 ? "hnsw" : "ivf", w < 3 ? "hnsw" : "ivf");
  if (o->metric && !strcmp(o->metric, "manhattan") && (o->index.kind == LOOM_INDEX_IVF || o->index.kind == LOOM_INDEX_HNSW)) {
    loom_error e = {""};
    loom_index_supports(o->index.kind, LOOM_INDEX_MANHATTAN, &e);
    return usage_error("%s", e.msg);
  }
  if (!strcmp(c, "score") && !o->input) return usage_error("score: give the rows to score with --input ROWS.csv");
  if (!strcmp(c, "rank") && !o->user)
    return usage_error("rank: give the user with --user U (an unknown user gets a non-personalised ranking)");
  if (!strcmp(c, "search") && !o->text == !o->image)
    return usage_error("search: give exactly one of --text TEXT or --image PHOTO");
  if (!strcmp(c, "embed") && !o->output) return usage_error("embed: give the file to write with --output FILE.safetensors");
  if (!strcmp(c, "embed") && o->users == o->items_flag) return usage_error("embed: give --items [ITEMS.csv] or --users");
  if (!strcmp(c, "eval") && !o->data == !o->split) return usage_error("eval: give --data ROWS.csv or --split val|test");
  if (!strcmp(c, "eval") && o->split && strcmp(o->split, "val") && strcmp(o->split, "valid") && strcmp(o->split, "test"))
    return usage_error("eval: --split %s is not val or test", o->split);
  return 0;
}

/* The output file must not be any file the command reads (the same file by device and inode, so a
 * second name, a hard link or a symlink is caught too). */
static int check_output(const opts *o, loom_infer *s, loom_error *err) {
  struct stat so, si;
  if (!o->output || stat(o->output, &so) != 0) return 0; /* a file that does not exist is nobody's input */
  const char *in[16], *role[16];
  int n = loom_infer_inputs(s, in, role, 10);
  const char *mine[] = {o->input, o->data, o->image}, *mine_role[] = {"the --input file", "the --data file", "the --image photo"};
  for (int i = 0; i < 3; i++)
    if (mine[i]) in[n] = mine[i], role[n++] = mine_role[i];
  for (int i = 0; i < n; i++)
    if (stat(in[i], &si) == 0 && si.st_dev == so.st_dev && si.st_ino == so.st_ino)
      return loom_errorf(err, "--output %s is %s%s%s%s — writing there would destroy it; give another output file",
                         o->output, role[i], strcmp(in[i], o->output) ? " (" : "", strcmp(in[i], o->output) ? in[i] : "",
                         strcmp(in[i], o->output) ? ")" : "");
  return 0;
}

int main(int argc, char **argv) {
  loom_stop_install_signals(); /* Ctrl-C or SIGTERM ends a long read or hash within a MiB */
  opts o;
  int pr = parse(argc, argv, &o);
  if (pr != 0) return pr > 0 ? (fflush(stdout) == 0 && !ferror(stdout) ? 0 : 1) : 2;
  static const char *const cmds[] = {"score", "rank", "search", "embed", "eval"};
  int (*const fns[])(const opts *, loom_infer *, loom_error *) = {cmd_score, cmd_rank, cmd_search, cmd_embed, cmd_eval};
  int c = -1;
  for (int i = 0; o.cmd && i < 5; i++)
    if (!strcmp(o.cmd, cmds[i])) c = i;
  if (c < 0 || !o.ckpt) {
    if (o.cmd && c < 0) fprintf(stderr, "loom-infer: '%s' is not a command\n", o.cmd);
    else fprintf(stderr, "loom-infer: give a command and a checkpoint\n");
    usage(stderr);
    return 2;
  }
  if (check_flags(&o) < 0) return 2;
  loom_error err = {0};
  loom_infer_opts io = {.items = o.candidates ? o.candidates : o.items, .users = o.users_table,
                        .image_root = o.image_root, .batch_size = o.batch, .item_cache = o.cache,
                        .index = &o.index, .metric = o.metric};
  loom_infer *s = loom_infer_open(o.ckpt, &io, &err);
  if (!s) {
    fprintf(stderr, "loom-infer: %s\n", err.msg);
    return 1;
  }
  int rc = check_output(&o, s, &err);
  if (rc == 0) rc = fns[c](&o, s, &err);
  if (rc == -1) fprintf(stderr, "loom-infer: %s\n", err.msg);
  for (int i = 0; i < loom_infer_n_notes(s); i++) fprintf(stderr, "loom-infer: note: %s\n", loom_infer_note(s, i));
  if (o.timing)
    fprintf(stderr, "loom-infer: timing: open %.1f ms, item vectors %.1f ms (%s)\n", 1e3 * loom_infer_open_seconds(s),
            1e3 * loom_infer_catalog_seconds(s), loom_infer_catalog_source(s));
  loom_infer_close(s);
  return rc == 0 ? 0 : 1;
}
