/* loom-infer — a trained checkpoint at work: score rows, rank items for a user, search by text or
 * photo, export embeddings, evaluate on new data. A thin CLI over loom/infer.h: flags, output
 * formats (a table for people, csv or jsonl for machines) and crash-safe output files (written
 * beside the target and renamed into place). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "loom/infer.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: loom-infer score  CKPT --input ROWS.csv [--output FILE]\n"
          "       loom-infer rank   CKPT --user U [--query TEXT] [--candidates ITEMS.csv] [--top K]\n"
          "       loom-infer search CKPT (--text TEXT | --image PHOTO) [--candidates ITEMS.csv] [--top K]\n"
          "       loom-infer embed  CKPT (--items [ITEMS.csv] | --users) --output FILE.safetensors\n"
          "       loom-infer eval   CKPT (--data ROWS.csv | --split val|test)\n"
          "options: --format table|csv|jsonl (default table), --batch N, --cache (keep the catalogue's item\n"
          "         vectors in CKPT.items.safetensors), --users-table USERS.csv, --image-root DIR, --timing\n"
          "CKPT is best.safetensors or last.safetensors of a loom-train run. ROWS.csv has the training\n"
          "interactions' columns (extra columns are ignored); users and items tables are joined as in\n"
          "training. Unknown users are ranked non-personalised (the mean user); items unseen in training\n"
          "are scored from their text and image (cold start). Threads: LOOM_NUM_THREADS.\n");
}

typedef enum { FMT_TABLE, FMT_CSV, FMT_JSONL } fmt;

typedef struct opts {
  const char *cmd, *ckpt, *input, *output, *user, *query, *candidates, *text, *image, *data, *split, *users_table,
      *image_root, *items;
  int top, batch;
  bool cache, timing, users, items_flag;
  fmt format;
} opts;

/* ---- output: stdout, or a temporary file renamed over --output once complete */

typedef struct out {
  FILE *f;
  char tmp[4200], path[4096];
} out;

static int out_open(out *o, const char *path) {
  if (!path) {
    o->f = stdout;
    return 0;
  }
  snprintf(o->path, sizeof o->path, "%s", path);
  snprintf(o->tmp, sizeof o->tmp, "%s.tmp.XXXXXX", path);
  int fd = mkstemp(o->tmp);
  if (fd < 0 || !(o->f = fdopen(fd, "w"))) {
    fprintf(stderr, "loom-infer: %s: cannot create the output file beside it: %s\n", path, strerror(errno));
    if (fd >= 0) close(fd), unlink(o->tmp);
    return -1;
  }
  return 0;
}

static int out_close(out *o, bool ok) {
  if (o->f == stdout) return fflush(stdout) == 0 && ok ? 0 : -1;
  bool good = ok && fflush(o->f) == 0 && fsync(fileno(o->f)) == 0;
  good = fclose(o->f) == 0 && good;
  if (good && rename(o->tmp, o->path) == 0) return 0;
  if (ok) fprintf(stderr, "loom-infer: %s: writing failed (%s); nothing was replaced\n", o->path, strerror(errno));
  unlink(o->tmp);
  return -1;
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

static void jsonl_line(FILE *f, cJSON *o) {
  char *s = cJSON_PrintUnformatted(o);
  if (s) fprintf(f, "%s\n", s);
  cJSON_free(s);
  cJSON_Delete(o);
}

/* ---- score */

typedef struct score_ctx {
  const opts *o;
  loom_infer *s;
  FILE *f;
  int64_t n, unknown_users, unknown_items;
} score_ctx;

static int on_row(void *ctx, const loom_infer_row *r) {
  score_ctx *c = ctx;
  loom_task_kind task = loom_infer_task(c->s);
  const char *cls = r->cls >= 0 ? loom_infer_class_name(c->s, r->cls) : NULL;
  char cbuf[16];
  if (r->cls >= 0 && !cls) snprintf(cbuf, sizeof cbuf, "%d", r->cls), cls = cbuf;
  char note[64] = "";
  if (r->unknown_user || r->unknown_item)
    snprintf(note, sizeof note, "%s%s%s", r->unknown_user ? "unknown user: non-personalised" : "",
             r->unknown_user && r->unknown_item ? "; " : "", r->unknown_item ? "unknown item: cold start" : "");
  c->unknown_users += r->unknown_user, c->unknown_items += r->unknown_item;
  if (c->o->format == FMT_JSONL) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "line", (double)r->line);
    if (r->user[0]) cJSON_AddStringToObject(o, "user", r->user);
    if (r->item[0]) cJSON_AddStringToObject(o, "item", r->item);
    if (cls) cJSON_AddStringToObject(o, "class", cls);
    cJSON_AddNumberToObject(o, "score", r->score);
    if (task == LOOM_TASK_BINARY) cJSON_AddNumberToObject(o, "logit", r->logit);
    if (note[0]) cJSON_AddStringToObject(o, "note", note);
    jsonl_line(c->f, o);
  } else if (c->o->format == FMT_CSV) {
    if (c->n == 0)
      fprintf(c->f, "line,user,item,%sscore%s,note\n", cls ? "class," : "", task == LOOM_TASK_BINARY ? ",logit" : "");
    fprintf(c->f, "%lld,", (long long)r->line);
    csv_field(c->f, r->user), fputc(',', c->f), csv_field(c->f, r->item), fputc(',', c->f);
    if (cls) csv_field(c->f, cls), fputc(',', c->f);
    fprintf(c->f, "%.9g", (double)r->score);
    if (task == LOOM_TASK_BINARY) fprintf(c->f, ",%.9g", (double)r->logit);
    fprintf(c->f, ",%s\n", note);
  } else {
    if (c->n == 0) fprintf(c->f, "%8s  %-12s %-12s %s%10s  %s\n", "line", "user", "item", cls ? "class         " : "", "score", "note");
    fprintf(c->f, "%8lld  %-12.40s %-12.40s ", (long long)r->line, r->user, r->item);
    if (cls) fprintf(c->f, "%-13.40s ", cls);
    fprintf(c->f, "%10.6f  %s\n", (double)r->score, note);
  }
  c->n++;
  return ferror(c->f) ? 1 : 0;
}

static int cmd_score(const opts *o, loom_infer *s, loom_error *err) {
  if (!o->input) return loom_errorf(err, "score: give the rows to score with --input ROWS.csv");
  out w;
  if (out_open(&w, o->output) < 0) return -2;
  score_ctx c = {o, s, w.f, 0, 0, 0};
  int rc = loom_infer_score_csv(s, o->input, on_row, &c, err);
  if (rc > 0) loom_errorf(err, "%s: write error", o->output ? o->output : "stdout");
  if (out_close(&w, rc == 0) < 0) return rc < 0 || rc > 0 ? -1 : -2;
  fprintf(stderr, "loom-infer: scored %lld rows of %s%s%s", (long long)c.n, o->input, o->output ? " -> " : "",
          o->output ? o->output : "");
  if (c.unknown_users || c.unknown_items)
    fprintf(stderr, " (%lld with an unknown user: non-personalised; %lld with an unknown item: cold start)",
            (long long)c.unknown_users, (long long)c.unknown_items);
  fprintf(stderr, "\n");
  return 0;
}

/* ---- rank / search */

static void print_hits(const opts *o, const loom_hit *h, int n, const char *what) {
  if (o->format == FMT_TABLE) printf("%s\n%4s  %-12s %10s  %s\n", what, "rank", "item", "score", "title");
  if (o->format == FMT_CSV) printf("rank,item,score,title,note\n");
  for (int i = 0; i < n; i++) {
    const char *note = h[i].unknown_item ? "new item (cold start)" : "";
    if (o->format == FMT_JSONL) {
      cJSON *j = cJSON_CreateObject();
      cJSON_AddNumberToObject(j, "rank", i + 1);
      cJSON_AddStringToObject(j, "item", h[i].item);
      cJSON_AddNumberToObject(j, "score", h[i].score);
      if (h[i].title) cJSON_AddStringToObject(j, "title", h[i].title);
      if (note[0]) cJSON_AddStringToObject(j, "note", note);
      jsonl_line(stdout, j);
    } else if (o->format == FMT_CSV) {
      printf("%d,", i + 1);
      csv_field(stdout, h[i].item);
      printf(",%.9g,", (double)h[i].score);
      csv_field(stdout, h[i].title ? h[i].title : "");
      printf(",%s\n", note);
    } else {
      printf("%4d  %-12.40s %10.4f  %s%s%s\n", i + 1, h[i].item, (double)h[i].score, h[i].title ? h[i].title : "",
             note[0] ? "  — " : "", note);
    }
  }
}

static int cmd_rank(const opts *o, loom_infer *s, loom_error *err) {
  if (!o->user) return loom_errorf(err, "rank: give the user with --user U (an unknown user gets a non-personalised ranking)");
  loom_hit *h = calloc((size_t)o->top, sizeof *h);
  if (!h) return loom_errorf(err, "out of memory");
  unsigned flags = 0;
  int n = loom_infer_rank(s, o->user, o->query, o->top, h, &flags, err);
  if (n >= 0) {
    char what[512];
    snprintf(what, sizeof what, "top %d for user %s%s%s%s%s", n, o->user, o->query ? ", query \"" : "",
             o->query ? o->query : "", o->query ? "\"" : "",
             flags & LOOM_INFER_UNKNOWN_USER ? " — unknown user: non-personalised ranking" : "");
    if (flags & LOOM_INFER_UNKNOWN_USER)
      fprintf(stderr, "loom-infer: user '%s' is not in the training data: the ranking is non-personalised (mean user)\n",
              o->user);
    print_hits(o, h, n, what);
  }
  free(h);
  return n < 0 ? -1 : 0;
}

static int cmd_search(const opts *o, loom_infer *s, loom_error *err) {
  if (!o->text == !o->image) return loom_errorf(err, "search: give exactly one of --text TEXT or --image PHOTO");
  loom_hit *h = calloc((size_t)o->top, sizeof *h);
  if (!h) return loom_errorf(err, "out of memory");
  int n = o->text ? loom_infer_search_text(s, o->text, o->top, h, err) : loom_infer_search_image(s, o->image, o->top, h, err);
  if (n >= 0) {
    char what[512];
    snprintf(what, sizeof what, "top %d for %s \"%s\" (cosine similarity)", n, o->text ? "text" : "photo",
             o->text ? o->text : o->image);
    print_hits(o, h, n, what);
  }
  free(h);
  return n < 0 ? -1 : 0;
}

static int cmd_embed(const opts *o, loom_infer *s, loom_error *err) {
  if (!o->output) return loom_errorf(err, "embed: give the file to write with --output FILE.safetensors");
  if (o->users == o->items_flag) return loom_errorf(err, "embed: give --items [ITEMS.csv] or --users");
  if (loom_infer_embed(s, o->users ? "users" : "items", o->output, err) < 0) return -1;
  fprintf(stderr, "loom-infer: wrote %s embeddings to %s\n", o->users ? "user" : "item", o->output);
  return 0;
}

static int cmd_eval(const opts *o, loom_infer *s, loom_error *err) {
  if (!o->data == !o->split) return loom_errorf(err, "eval: give --data ROWS.csv or --split val|test");
  loom_split sp = LOOM_SPLIT_ALL;
  if (o->split) {
    if (!strcmp(o->split, "val") || !strcmp(o->split, "valid")) sp = LOOM_SPLIT_VAL;
    else if (!strcmp(o->split, "test")) sp = LOOM_SPLIT_TEST;
    else return loom_errorf(err, "eval: --split %s is not val or test", o->split);
  }
  const loom_evaluator *ev = loom_infer_eval(s, o->data, sp, err);
  if (!ev) return -1;
  if (o->format == FMT_JSONL) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "rows", (double)ev->n_rows);
    cJSON_AddNumberToObject(j, "loss", ev->loss);
    for (int i = 0; i < ev->n_metrics; i++) cJSON_AddNumberToObject(j, ev->names[i], ev->val[i]);
    jsonl_line(stdout, j);
  } else if (o->format == FMT_CSV) {
    printf("rows,loss");
    for (int i = 0; i < ev->n_metrics; i++) printf(",%s", ev->names[i]);
    printf("\n%lld,%.6f", (long long)ev->n_rows, ev->loss);
    for (int i = 0; i < ev->n_metrics; i++) printf(",%.6f", ev->val[i]);
    printf("\n");
  } else {
    printf("%lld rows of %s\n%-16s %.6f\n", (long long)ev->n_rows, o->data ? o->data : o->split, "loss", ev->loss);
    for (int i = 0; i < ev->n_metrics; i++) printf("%-16s %.6f\n", ev->names[i], ev->val[i]);
  }
  return 0;
}

/* ---- flags */

static int parse(int argc, char **argv, opts *o) {
  *o = (opts){.top = 10, .format = FMT_TABLE};
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char **slot = NULL;
    if (!strcmp(a, "--cache")) o->cache = true;
    else if (!strcmp(a, "--timing")) o->timing = true;
    else if (!strcmp(a, "--users")) o->users = true;
    else if (!strcmp(a, "--items")) {
      o->items_flag = true;
      if (i + 1 < argc && argv[i + 1][0] != '-') o->items = argv[++i];
    } else if (!strcmp(a, "--input")) slot = &o->input;
    else if (!strcmp(a, "--output")) slot = &o->output;
    else if (!strcmp(a, "--user")) slot = &o->user;
    else if (!strcmp(a, "--query")) slot = &o->query;
    else if (!strcmp(a, "--candidates")) slot = &o->candidates;
    else if (!strcmp(a, "--text")) slot = &o->text;
    else if (!strcmp(a, "--image")) slot = &o->image;
    else if (!strcmp(a, "--data")) slot = &o->data;
    else if (!strcmp(a, "--split")) slot = &o->split;
    else if (!strcmp(a, "--users-table")) slot = &o->users_table;
    else if (!strcmp(a, "--image-root")) slot = &o->image_root;
    else if (!strcmp(a, "--top") || !strcmp(a, "--batch") || !strcmp(a, "--format")) {
      if (i + 1 >= argc) return fprintf(stderr, "loom-infer: %s needs a value\n", a), -1;
      const char *v = argv[++i];
      if (!strcmp(a, "--format")) {
        if (!strcmp(v, "table")) o->format = FMT_TABLE;
        else if (!strcmp(v, "csv")) o->format = FMT_CSV;
        else if (!strcmp(v, "jsonl")) o->format = FMT_JSONL;
        else return fprintf(stderr, "loom-infer: --format %s: use table, csv or jsonl\n", v), -1;
        continue;
      }
      char *end;
      long n = strtol(v, &end, 10);
      if (*end || n < 1 || n > (!strcmp(a, "--top") ? 1024 : 65536))
        return fprintf(stderr, "loom-infer: %s %s: give a whole number from 1 to %d\n", a, v, !strcmp(a, "--top") ? 1024 : 65536), -1;
      if (!strcmp(a, "--top")) o->top = (int)n;
      else o->batch = (int)n;
    } else if (a[0] == '-') {
      return fprintf(stderr, "loom-infer: unknown option '%s' (see loom-infer --help)\n", a), -1;
    } else if (!o->cmd) {
      o->cmd = a;
    } else if (!o->ckpt) {
      o->ckpt = a;
    } else {
      return fprintf(stderr, "loom-infer: unexpected argument '%s'\n", a), -1;
    }
    if (slot) {
      if (i + 1 >= argc) return fprintf(stderr, "loom-infer: %s needs a value\n", a), -1;
      *slot = argv[++i];
    }
  }
  return 0;
}

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++)
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      usage(stdout);
      return 0;
    }
  opts o;
  if (parse(argc, argv, &o) < 0) return 2;
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
  loom_error err = {0};
  loom_infer_opts io = {.items = o.candidates ? o.candidates : o.items, .users = o.users_table,
                        .image_root = o.image_root, .batch_size = o.batch, .item_cache = o.cache};
  loom_infer *s = loom_infer_open(o.ckpt, &io, &err);
  if (!s) {
    fprintf(stderr, "loom-infer: %s\n", err.msg);
    return 1;
  }
  int rc = fns[c](&o, s, &err);
  if (rc == -1) fprintf(stderr, "loom-infer: %s\n", err.msg);
  if (o.timing)
    fprintf(stderr, "loom-infer: timing: open %.1f ms, item vectors %.1f ms (%s)\n", 1e3 * loom_infer_open_seconds(s),
            1e3 * loom_infer_catalog_seconds(s), loom_infer_catalog_source(s));
  loom_infer_close(s);
  return rc == 0 ? 0 : 1;
}
