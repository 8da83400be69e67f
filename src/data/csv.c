/* csv.c — streaming strict CSV → loom_table (loom/data.h). libcsv parses (CSV_STRICT |
 * CSV_STRICT_FINI); we feed it one line at a time so every field knows its line, keep only the
 * requested columns, and check header, field count, size caps, UTF-8, NUL bytes and numbers.
 * The file is read once through zlib's gzread, which also reads plain files. ld_csv_stream
 * (data_internal.h) is the same reader handing each row to a callback instead of keeping it. */
#include <csv.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "data_internal.h"
#include "loom/alloc.h"
#include "loom/data.h"

#define CHUNK (1 << 16)

typedef struct reader {
  loom_table *t;
  const loom_colspec *spec;
  int nspec;
  loom_error *err;
  size_t max_field;
  int failed;
  int in_header;
  int nheader, header_cap;
  char **header;
  int *field_col;   /* (nheader) table column of each field, -1 = dropped */
  int field;        /* index of the next field in the current record */
  int64_t line;     /* line being fed */
  int64_t seg_line; /* line where a record beginning in the current segment starts */
  int64_t row_line; /* line where the current record started */
  int64_t cap;      /* rows allocated */
  int pending_cr;   /* the last chunk ended with CR: a line end unless the next starts with LF */
  ld_csv_row_fn row_fn; /* ld_csv_stream: gets the header, then each row, and the table is emptied */
  void *row_ctx;
  int stopped;          /* row_fn asked to stop reading */
} reader;

static int fail_oom(reader *r) {
  r->failed = 1;
  return loom_errorf(r->err, "%s:%lld: out of memory while reading the table — reduce the columns kept or the file size",
                     r->t->path, (long long)r->line);
}

/* The header name of field f, escaped for a message (names are user data). */
static const char *field_name(const reader *r, int f, char *buf, size_t cap) {
  return f < r->nheader ? ld_quote(buf, cap, r->header[f], strlen(r->header[f])) : "?";
}

static int grow_rows(reader *r) {
  loom_table *t = r->t;
  int64_t cap = r->cap ? r->cap * 2 : 1024;
  int64_t *line = loom_realloc(t->line, (size_t)cap * sizeof *line);
  if (!line) return -1;
  t->line = line;
  for (int c = 0; c < t->ncols; c++) {
    loom_table_col *col = &t->cols[c];
    if (col->type == LOOM_COL_INT) {
      int64_t *p = loom_realloc(col->i, (size_t)cap * sizeof *p);
      if (!p) return -1;
      col->i = p;
    } else if (col->type == LOOM_COL_FLOAT) {
      double *p = loom_realloc(col->f, (size_t)cap * sizeof *p);
      if (!p) return -1;
      col->f = p;
    } else {
      int64_t *p = loom_realloc(col->soff, (size_t)(cap + 1) * sizeof *p);
      if (!p) return -1;
      col->soff = p;
    }
  }
  r->cap = cap;
  return 0;
}

static int put_str(loom_table_col *col, int64_t row, const char *s, size_t n) {
  if (col->sbuf_n + n + 1 > col->sbuf_cap) {
    size_t cap = col->sbuf_cap ? col->sbuf_cap : 4096;
    while (cap < col->sbuf_n + n + 1) cap *= 2;
    char *p = loom_realloc(col->sbuf, cap);
    if (!p) return -1;
    col->sbuf = p;
    col->sbuf_cap = cap;
  }
  col->soff[row] = (int64_t)col->sbuf_n;
  memcpy(col->sbuf + col->sbuf_n, s, n);
  col->sbuf[col->sbuf_n + n] = '\0';
  col->sbuf_n += n + 1;
  return 0;
}

/* Copies a field without surrounding ASCII spaces into buf (NUL-terminated). */
static const char *trimmed(const char *s, size_t n, char *buf, size_t cap, size_t *outn) {
  while (n && (*s == ' ' || *s == '\t')) s++, n--;
  while (n && (s[n - 1] == ' ' || s[n - 1] == '\t')) n--;
  if (n >= cap) n = cap - 1;
  memcpy(buf, s, n);
  buf[n] = '\0';
  *outn = n;
  return buf;
}

static void on_field(void *data, size_t len, void *ctx) {
  reader *r = ctx;
  if (r->failed) return;
  const char *s = data ? data : "";
  int f = r->field++;
  if (f == 0) r->row_line = r->seg_line;
  char qn[160];
  if (len && memchr(s, '\0', len)) { /* before the size: a zero-filled file is binary, not one long field */
    r->failed = 1;
    loom_errorf(r->err, "%s:%lld: field %d ('%s') contains a NUL byte — the file is binary or corrupt; re-export it as UTF-8 text",
                r->t->path, (long long)r->row_line, f + 1, field_name(r, f, qn, sizeof qn));
    return;
  }
  if (len > r->max_field) {
    r->failed = 1;
    loom_errorf(r->err, "%s:%lld: field %d ('%s') is %zu bytes, over the cap of %zu — check the quoting or raise max_field_bytes",
                r->t->path, (long long)r->row_line, f + 1, field_name(r, f, qn, sizeof qn), len, r->max_field);
    return;
  }
  if (r->in_header) {
    size_t bad;
    if (!ld_utf8_valid(s, len, &bad)) {
      r->failed = 1;
      loom_errorf(r->err, "%s:%lld: header field %d is not valid UTF-8 (byte %zu) — re-save the file as UTF-8",
                  r->t->path, (long long)r->row_line, f + 1, bad);
      return;
    }
    if (r->nheader == LOOM_CSV_MAX_COLUMNS) { /* also keeps the duplicate-name check quadratic in a small n */
      r->failed = 1;
      loom_errorf(r->err, "%s:1: the header has more than %d columns — check that this is the right file and that it is comma-separated",
                  r->t->path, LOOM_CSV_MAX_COLUMNS);
      return;
    }
    if (r->nheader == r->header_cap) {
      int cap = r->header_cap ? r->header_cap * 2 : 16;
      char **h = loom_realloc(r->header, (size_t)cap * sizeof *h);
      if (!h) { fail_oom(r); return; }
      r->header = h;
      r->header_cap = cap;
    }
    char *name = loom_malloc(len + 1);
    if (!name) { fail_oom(r); return; }
    memcpy(name, s, len);
    name[len] = '\0';
    r->header[r->nheader++] = name;
    return;
  }
  if (f >= r->nheader) return; /* ragged: reported at the end of the record */
  int c = r->field_col[f];
  if (c < 0) return;
  loom_table *t = r->t;
  loom_table_col *col = &t->cols[c];
  int64_t row = t->nrows;
  if (row >= r->cap && grow_rows(r) < 0) { fail_oom(r); return; }
  if (col->type == LOOM_COL_STRING) {
    size_t bad;
    if (!ld_utf8_valid(s, len, &bad)) {
      r->failed = 1;
      loom_errorf(r->err, "%s:%lld: column '%s' (field %d): invalid UTF-8 at byte %zu of the field — re-save the file as UTF-8",
                  t->path, (long long)r->row_line, col->name, f + 1, bad);
      return;
    }
    if (put_str(col, row, s, len) < 0) fail_oom(r);
    return;
  }
  /* numbers: decimal only (ld_decimal_valid), ASCII spaces and tabs around them ignored */
  char buf[64], qv[200], note[128];
  size_t n;
  const char *v = trimmed(s, len, buf, sizeof buf, &n);
  int too_long = n == sizeof buf - 1 && len >= sizeof buf - 1;
  int ok = n && !too_long && ld_decimal_valid(v, n, col->type == LOOM_COL_INT);
  char *end = NULL;
  if (col->type == LOOM_COL_INT) {
    errno = 0;
    long long x = ok ? strtoll(v, &end, 10) : 0;
    if (!ok || errno) {
      r->failed = 1;
      loom_errorf(r->err, "%s:%lld: column '%s' (field %d): '%s' is not an integer%s%s — fix the value or declare the column as text",
                  t->path, (long long)r->row_line, col->name, f + 1, ld_quote(qv, 44, v, n),
                  !n ? " (empty)" : ok ? " (out of range)" : "", ld_invisible_note(note, sizeof note, s, len));
      return;
    }
    col->i[row] = x;
  } else {
    if (!n) { col->f[row] = NAN; return; }
    errno = 0;
    double x = ok ? strtod(v, &end) : NAN;
    if (!ok || !isfinite(x)) {
      r->failed = 1;
      const char *why = ld_invisible_note(note, sizeof note, s, len);
      if (!why[0] && n && !too_long) {
        (void)strtod(v, &end); /* C would read it (hex, inf, nan): say why loom does not */
        if (end != v && !*end) why = " (only decimal numbers are read: no hex, inf or nan)";
      }
      loom_errorf(r->err, "%s:%lld: column '%s' (field %d): '%s' is not a finite number%s — fix the value or leave the field empty for 'missing'",
                  t->path, (long long)r->row_line, col->name, f + 1, ld_quote(qv, 44, v, n), why);
      return;
    }
    if (fabs(x) > FLT_MAX) { /* finite as a double, infinite as the float32 features it becomes */
      r->failed = 1;
      loom_errorf(r->err, "%s:%lld: column '%s' (field %d): '%s' is beyond the float32 range (±3.4e38) — rescale the column",
                  t->path, (long long)r->row_line, col->name, f + 1, ld_quote(qv, 44, v, n));
      return;
    }
    col->f[row] = x;
  }
}

static int finish_header(reader *r) {
  loom_table *t = r->t;
  char qn[160];
  for (int i = 0; i < r->nheader; i++)
    for (int j = 0; j < i; j++)
      if (strcmp(r->header[i], r->header[j]) == 0)
        return loom_errorf(r->err, "%s:1: duplicate column name '%s' (fields %d and %d) — rename one of them",
                           t->path, field_name(r, i, qn, sizeof qn), j + 1, i + 1);
  r->field_col = loom_malloc((size_t)(r->nheader ? r->nheader : 1) * sizeof *r->field_col);
  if (!r->field_col) return fail_oom(r);
  for (int i = 0; i < r->nheader; i++) r->field_col[i] = -1;
  for (int c = 0; c < r->nspec; c++) {
    int found = -1;
    for (int i = 0; i < r->nheader; i++)
      if (strcmp(r->header[i], r->spec[c].name) == 0) found = i;
    if (found < 0) {
      if (r->spec[c].optional) continue;
      char avail[512] = "";
      for (int i = 0; i < r->nheader; i++) {
        size_t l = strlen(avail);
        snprintf(avail + l, sizeof avail - l, "%s'%s'", i ? ", " : "", field_name(r, i, qn, sizeof qn));
      }
      return loom_errorf(r->err, "%s:1: missing column '%s' — the header has %s; fix the column name in the [data] config",
                         t->path, r->spec[c].name, avail);
    }
    if (r->field_col[found] >= 0)
      return loom_errorf(r->err, "%s:1: column '%s' is requested twice — list it once", t->path, r->spec[c].name);
    r->field_col[found] = c;
    t->cols[c].present = 1;
  }
  return 0;
}

/* ld_csv_stream: the header (nrows 0) or the one row read goes to row_fn, then the table is emptied. */
static void hand_over(reader *r) {
  int rc = r->row_fn(r->t, r->row_ctx, r->err);
  r->t->nrows = 0;
  for (int c = 0; c < r->t->ncols; c++) r->t->cols[c].sbuf_n = 0;
  if (rc) r->failed = 1, r->stopped = rc > 0;
}

static void on_row(int term, void *ctx) {
  reader *r = ctx;
  if (r->failed) return;
  if (r->in_header) {
    r->in_header = 0;
    r->field = 0;
    if (finish_header(r) < 0) r->failed = 1;
    else if (r->row_fn) hand_over(r);
    return;
  }
  loom_table *t = r->t;
  if (r->field != r->nheader) {
    r->failed = 1;
    loom_errorf(r->err, "%s:%lld: row has %d fields but the header has %d — every row needs exactly one value per column (quote fields containing commas)",
                t->path, (long long)r->row_line, r->field, r->nheader);
    return;
  }
  r->field = 0;
  int64_t row = t->nrows;
  if (row >= r->cap && grow_rows(r) < 0) { fail_oom(r); return; }
  t->line[row] = r->row_line;
  for (int c = 0; c < t->ncols; c++) {
    loom_table_col *col = &t->cols[c];
    if (col->present) continue;
    /* optional column absent: missing */
    if (col->type == LOOM_COL_FLOAT) col->f[row] = NAN;
    else if (col->type == LOOM_COL_INT) col->i[row] = 0;
    else if (put_str(col, row, "", 0) < 0) { fail_oom(r); return; }
  }
  t->nrows++;
  if (r->row_fn) hand_over(r);
}

static void free_reader(reader *r) {
  for (int i = 0; i < r->nheader; i++) loom_free(r->header[i]);
  loom_free(r->header);
  loom_free(r->field_col);
}

/* Length of the segment at buf (through the end of its line, or n) and whether it ends a line. A line
 * ends at LF, CRLF or a lone CR (old Mac files: libcsv ends records there too, so counting only LFs
 * put every row on line 1; found by fuzz_csv). A CR that ends the chunk is settled by the next one. */
static size_t next_line(reader *r, const char *buf, size_t n, int *eol) {
  for (size_t i = 0; i < n; i++) {
    if (buf[i] == '\n') return *eol = 1, i + 1;
    if (buf[i] == '\r') {
      if (i + 1 == n) return r->pending_cr = 1, *eol = 0, n;
      return *eol = 1, buf[i + 1] == '\n' ? i + 2 : i + 1;
    }
  }
  return *eol = 0, n;
}

static int feed(reader *r, struct csv_parser *p, const char *buf, size_t n) {
  char qn[160];
  /* one segment per line so the callbacks know where they are */
  if (r->pending_cr && n && buf[0] != '\n') r->line++; /* the previous chunk ended with a lone CR */
  r->pending_cr = 0;
  while (n) {
    int nl;
    size_t k = next_line(r, buf, n, &nl);
    if (p->pstate == 0) r->seg_line = r->line;
    size_t done = csv_parse(p, buf, k, on_field, on_row, r);
    if (r->failed) return -1;
    if (done != k) {
      if (csv_error(p) == CSV_ENOMEM) return fail_oom(r);
      return loom_errorf(r->err, "%s:%lld: malformed CSV in field %d ('%s'): a quote inside an unquoted field or text after a closing quote — quote the whole field and double inner quotes (\"\")",
                         r->t->path, (long long)r->line, r->field + 1, field_name(r, r->field, qn, sizeof qn));
    }
    if (p->entry_pos > r->max_field && memchr(p->entry_buf, '\0', p->entry_pos)) /* a sparse or zero-filled file */
      return loom_errorf(r->err, "%s:%lld: field %d ('%s') contains a NUL byte — the file is binary or corrupt; re-export it as UTF-8 text",
                         r->t->path, (long long)(p->pstate ? r->seg_line : r->line), r->field + 1, field_name(r, r->field, qn, sizeof qn));
    if (p->entry_pos > r->max_field)
      return loom_errorf(r->err, "%s:%lld: field %d ('%s') is over the cap of %zu bytes — check for an unterminated quote or raise max_field_bytes",
                         r->t->path, (long long)(p->pstate ? r->seg_line : r->line), r->field + 1, field_name(r, r->field, qn, sizeof qn), r->max_field);
    if (nl) r->line++;
    buf += k;
    n -= k;
  }
  return 0;
}

static int keep_space(unsigned char c) { (void)c; return 0; }

static int table_read(loom_table *t, const char *path, const loom_colspec *spec, int nspec, const loom_csv_opts *o,
                      ld_csv_row_fn row_fn, void *row_ctx, loom_error *err) {
  memset(t, 0, sizeof *t);
  reader r = {0};
  r.row_fn = row_fn;
  r.row_ctx = row_ctx;
  r.t = t;
  r.spec = spec;
  r.nspec = nspec;
  r.err = err;
  r.max_field = o && o->max_field_bytes ? o->max_field_bytes : (size_t)1 << 20;
  r.in_header = 1;
  r.line = 1;
  t->path = loom_strdup(path);
  t->cols = loom_calloc((size_t)(nspec ? nspec : 1), sizeof *t->cols);
  if (!t->path || !t->cols) {
    loom_table_free(t);
    return loom_errorf(err, "%s: out of memory", path);
  }
  t->ncols = nspec;
  for (int c = 0; c < nspec; c++) {
    t->cols[c].type = spec[c].type;
    t->cols[c].name = loom_strdup(spec[c].name);
    if (!t->cols[c].name) {
      loom_table_free(t);
      return loom_errorf(err, "%s: out of memory", path);
    }
  }
  int fd = loom_file_open_regular(path, 0, "table", NULL, NULL, err);
  if (fd == -2) loom_errorf(err, "%s: cannot open (%s) — check the path in the [data] config", path, strerror(errno));
  gzFile gz = fd >= 0 ? gzdopen(fd, "rb") : NULL;
  if (fd >= 0 && !gz) {
    close(fd);
    loom_errorf(err, "%s: out of memory opening the table", path);
  }
  if (!gz) {
    loom_table_free(t);
    return -1;
  }
  gzbuffer(gz, CHUNK);
  struct csv_parser p;
  csv_init(&p, CSV_STRICT | CSV_STRICT_FINI);
  csv_set_realloc_func(&p, loom_realloc);
  csv_set_free_func(&p, loom_free);
  csv_set_space_func(&p, keep_space);
  csv_set_blk_size(&p, (size_t)1 << 18); /* libcsv grows a field additively by this: keep big fields linear */
  char *buf = loom_malloc(CHUNK);
  int rc = buf ? 0 : fail_oom(&r);
  int64_t total = 0, next_poll = (int64_t)LOOM_FILE_POLL_BYTES;
  int at_eof = 0;
  while (rc == 0) {
    int n = gzread(gz, buf, CHUNK);
    if (n < 0) { /* corrupt gzip data: loom_gz_close_checked names it; or a read cut by a signal */
      if (loom_stop_requested()) rc = loom_file_interrupted(path, err);
      break;
    }
    if (n == 0) { at_eof = 1; break; }
    if (total + n >= next_poll) { /* a huge file stops within about a MiB of a SIGINT or SIGTERM */
      next_poll += (int64_t)LOOM_FILE_POLL_BYTES;
      if (loom_stop_requested()) { rc = loom_file_interrupted(path, err); break; }
    }
    const char *b = buf;
    size_t len = (size_t)n;
    if (total == 0 && len >= 3 && memcmp(b, "\xEF\xBB\xBF", 3) == 0) b += 3, len -= 3; /* UTF-8 BOM */
    total += n;
    rc = feed(&r, &p, b, len);
  }
  /* the end of the compressed stream: a .csv.gz cut at a row boundary would otherwise load as a
   * shorter table (zlib reports a missing trailer only through gzerror / gzclose_r). A row callback
   * that asked to stop leaves the rest of the stream unread on purpose. */
  char qn[160];
  if (r.stopped) {
    gzclose_r(gz);
    rc = 0;
  } else {
    int gz_rc = loom_gz_close_checked(gz, path, rc == 0 ? err : NULL);
    if (rc == 0 && (gz_rc < 0 || !at_eof)) rc = gz_rc < 0 ? -1 : loom_errorf(err, "%s: read error — check the file", path);
  }
  if (rc == 0 && !r.stopped) {
    if (r.in_header && p.pstate == 0 && r.nheader == 0) {
      rc = loom_errorf(err, "%s: the file is empty — expected a header row naming the columns", path);
    } else if (csv_fini(&p, on_field, on_row, &r) != 0) {
      rc = loom_errorf(err, "%s:%lld: unterminated quoted field (field %d, '%s') — close the quote with \" or remove the stray quote",
                       path, (long long)r.seg_line, r.field + 1, field_name(&r, r.field, qn, sizeof qn));
    } else if (r.failed) {
      rc = -1;
    } else if (r.in_header) { /* header without newline */
      rc = loom_errorf(err, "%s: only a header and no data rows — the table needs at least one row", path);
      if (o && o->allow_empty) rc = 0;
      if (rc == 0 && finish_header(&r) < 0) rc = -1;
      if (rc == 0 && grow_rows(&r) < 0) rc = fail_oom(&r);
      if (rc == 0 && row_fn) hand_over(&r), rc = r.failed && !r.stopped ? -1 : 0;
    } else if (t->nrows == 0 && !(o && o->allow_empty)) {
      rc = loom_errorf(err, "%s: only a header and no data rows — the table needs at least one row", path);
    }
  }
  if (rc == 0 && r.cap == 0 && grow_rows(&r) < 0) rc = fail_oom(&r);
  for (int c = 0; rc == 0 && c < t->ncols; c++)
    if (t->cols[c].type == LOOM_COL_STRING) t->cols[c].soff[t->nrows] = (int64_t)t->cols[c].sbuf_n;
  csv_free(&p);
  loom_free(buf);
  free_reader(&r);
  if (rc < 0) loom_table_free(t);
  return rc;
}

int loom_table_read(loom_table *t, const char *path, const loom_colspec *spec, int nspec, const loom_csv_opts *o,
                    loom_error *err) {
  return table_read(t, path, spec, nspec, o, NULL, NULL, err);
}

int ld_csv_stream(const char *path, const loom_colspec *spec, int nspec, const loom_csv_opts *o, ld_csv_row_fn fn,
                  void *ctx, loom_error *err) {
  loom_csv_opts so = o ? *o : (loom_csv_opts){0};
  so.allow_empty = 1; /* rows are handed over one by one, so the table itself is always empty */
  loom_table t;
  int rc = table_read(&t, path, spec, nspec, &so, fn, ctx, err);
  loom_table_free(&t);
  return rc;
}

void loom_table_free(loom_table *t) {
  if (!t) return;
  for (int c = 0; c < t->ncols && t->cols; c++) {
    loom_free(t->cols[c].name);
    loom_free(t->cols[c].i);
    loom_free(t->cols[c].f);
    loom_free(t->cols[c].soff);
    loom_free(t->cols[c].sbuf);
  }
  loom_free(t->cols);
  loom_free(t->line);
  loom_free(t->path);
  memset(t, 0, sizeof *t);
}

int loom_table_find(const loom_table *t, const char *name) {
  for (int c = 0; c < t->ncols; c++)
    if (strcmp(t->cols[c].name, name) == 0) return c;
  return -1;
}
