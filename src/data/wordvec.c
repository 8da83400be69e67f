/* wordvec.c — pretrained word vectors (loom/wordvec.h): word2vec text and binary, GloVe, plain or
 * gzip, streamed through zlib in CHUNK pieces into one (N, D) matrix that grows geometrically (a
 * header's N is never trusted for an allocation), with every word kept once in an ld_map whose key
 * arena becomes the word list. Alignment to a vocabulary goes through loom_tokenize, so file words
 * are folded exactly as text is. What the rows become (an embedding, frozen or not) is not ours. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "data_internal.h"
#include "loom/alloc.h"
#include "loom/data.h"
#include "loom/file.h"
#include "loom/wordvec.h"

#define CHUNK ((size_t)1 << 18)
#define DEFAULT_MAX_FLOATS ((uint64_t)1 << 31)

static const char *const format_names[] = {"auto", "word2vec", "word2vec_binary", "glove"};

int loom_wordvec_format_parse(const char *s, loom_wordvec_format *out) {
  for (int i = 0; i < 4; i++)
    if (!strcmp(s, format_names[i])) {
      *out = (loom_wordvec_format)i;
      return 0;
    }
  return -1;
}

const char *loom_wordvec_format_name(loom_wordvec_format f) {
  return f >= LOOM_WORDVEC_AUTO && f <= LOOM_WORDVEC_GLOVE ? format_names[f] : "?";
}

/* ---- numbers: strtof's float, faster. A decimal of at most 19 significant digits and exponent
 * within ±22 is m·10^e with m and 10^|e| exact doubles, so one multiply or divide gives the correctly
 * rounded double d (Clinger's fast path); rounding d to float then gives strtof's float unless d lies
 * exactly halfway between two floats (double rounding can only err there), and that case goes to
 * strtof, as does every other input. */
float ld_parse_f32(const char *s, size_t n) {
  static const double p10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
  size_t i = 0;
  int neg = 0, nd = 0, frac = 0;
  uint64_t m = 0;
  if (i < n && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
  for (; i < n && s[i] >= '0' && s[i] <= '9'; i++)
    if (m || s[i] != '0') m = m * 10 + (uint64_t)(s[i] - '0'), nd++;
  if (i < n && s[i] == '.')
    for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++, frac++)
      if (m || s[i] != '0') m = m * 10 + (uint64_t)(s[i] - '0'), nd++;
  long e = 0;
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    int eneg = 0;
    i++;
    if (i < n && (s[i] == '+' || s[i] == '-')) eneg = s[i++] == '-';
    for (; i < n && s[i] >= '0' && s[i] <= '9' && e < 100000; i++) e = e * 10 + (s[i] - '0');
    if (eneg) e = -e;
  }
  e -= frac;
  if (i == n && nd <= 19 && m <= ((uint64_t)1 << 53) && e >= -22 && e <= 22) {
    if (m == 0) return neg ? -0.0f : 0.0f;
    double d = e < 0 ? (double)m / p10[-e] : (double)m * p10[e];
    float f = (float)d;
    if ((double)f == d) return neg ? -f : f;
    if (isfinite(f)) { /* (overflow is strtof's to round) */
      float g = nextafterf(f, d > (double)f ? INFINITY : -INFINITY);
      if (d != ((double)f + (double)g) / 2) return neg ? -f : f;
    }
  }
  char buf[128];
  if (n >= sizeof buf) {
    char *t = loom_malloc(n + 1);
    if (!t) return NAN;
    memcpy(t, s, n);
    t[n] = '\0';
    float v = strtof(t, NULL);
    loom_free(t);
    return v;
  }
  memcpy(buf, s, n);
  buf[n] = '\0';
  return strtof(buf, NULL);
}

/* ---- a buffered reader over gzread (which reads plain files as they are) */

typedef struct rd {
  gzFile gz;
  const char *path;
  char *buf;        /* (CHUNK) */
  size_t pos, len;
  int eof, failed;  /* failed: gzread < 0 (the gzip stream is bad, or a signal cut the read) */
  uint64_t total, next_poll;
  ld_buf line;      /* the current text line, NUL-terminated, without its LF (and CR) */
} rd;

/* -1 with err = the gzip stream's own fault (truncated, CRC) or "interrupted"; closes the stream. */
static int rd_stream_error(rd *r, loom_error *err) {
  if (loom_stop_requested()) {
    gzclose_r(r->gz);
    r->gz = NULL;
    return loom_file_interrupted(r->path, err);
  }
  int rc = loom_gz_close_checked(r->gz, r->path, err);
  r->gz = NULL;
  return rc < 0 ? -1 : loom_errorf(err, "%s: read error — check the file", r->path);
}

/* Refills the chunk; 0, or -1 with err on a stream fault or a stop request. At the end r->eof = 1. */
static int rd_fill(rd *r, loom_error *err) {
  if (r->eof) return 0;
  int n = gzread(r->gz, r->buf, (unsigned)CHUNK);
  if (n < 0) return rd_stream_error(r, err);
  if (n == 0) {
    int zerr = Z_OK;
    gzerror(r->gz, &zerr);
    if (zerr != Z_OK) return rd_stream_error(r, err); /* a cut .gz ends with Z_BUF_ERROR */
    r->eof = 1;
  }
  r->pos = 0, r->len = (size_t)n, r->total += (uint64_t)n;
  if (r->total >= r->next_poll) {
    r->next_poll += LOOM_FILE_POLL_BYTES;
    if (loom_stop_requested()) return loom_file_interrupted(r->path, err);
  }
  return 0;
}

/* Next byte in *c: 1, or 0 at the end of the data, or -1 with err. */
static int rd_byte(rd *r, unsigned char *c, loom_error *err) {
  if (r->pos == r->len) {
    if (rd_fill(r, err) < 0) return -1;
    if (r->eof) return 0;
  }
  *c = (unsigned char)r->buf[r->pos++];
  return 1;
}

/* Up to n bytes into out; returns how many (fewer only at the end), or -1 with err. */
static int64_t rd_bytes(rd *r, void *out, size_t n, loom_error *err) {
  size_t got = 0;
  while (got < n) {
    if (r->pos == r->len) {
      if (rd_fill(r, err) < 0) return -1;
      if (r->eof) break;
    }
    size_t k = r->len - r->pos < n - got ? r->len - r->pos : n - got;
    memcpy((char *)out + got, r->buf + r->pos, k);
    r->pos += k, got += k;
  }
  return (int64_t)got;
}

/* The next line into r->line: 1, 0 at the end of the data (no bytes left), -1 with err. */
static int rd_line(rd *r, int64_t lineno, loom_error *err) {
  r->line.n = 0;
  if (r->line.p) r->line.p[0] = '\0';
  int any = 0;
  for (;;) {
    if (r->pos == r->len) {
      if (rd_fill(r, err) < 0) return -1;
      if (r->eof) break;
    }
    const char *s = r->buf + r->pos, *nl = memchr(s, '\n', r->len - r->pos);
    size_t k = nl ? (size_t)(nl - s) : r->len - r->pos;
    any = 1;
    if (r->line.n + k > LOOM_WORDVEC_MAX_LINE)
      return loom_errorf(err, "%s:%lld: the line is longer than %zu bytes — this is not a word-vector file (or its "
                              "vectors are far wider than text.embedding_dim allows)",
                         r->path, (long long)lineno, LOOM_WORDVEC_MAX_LINE);
    if (ld_buf_put(&r->line, s, k) < 0) return loom_errorf(err, "%s: out of memory", r->path);
    r->pos += k + (nl != NULL);
    if (nl) break;
  }
  if (!any) return 0;
  if (!r->line.p && ld_buf_put(&r->line, "", 0) < 0) return loom_errorf(err, "%s: out of memory", r->path);
  if (r->line.n && r->line.p[r->line.n - 1] == '\r') r->line.p[--r->line.n] = '\0';
  return 1;
}

/* ---- what a file holds while it is read */

typedef struct acc {
  const char *path;
  ld_map words;       /* word → index; the key arena becomes wv->words */
  float *vec;         /* (cap, D) */
  int64_t cap;
  int D;
  uint64_t max_floats;
  int binary;         /* messages say "record" instead of the file:line form */
  int64_t first_line; /* line (text) of word 0 */
  int header_like;    /* GloVe whose first line is "N D" */
} acc;

/* "path:LINE" for text, "path: record R" for binary, of word index i. */
static const char *where(const acc *a, int64_t i, char *out, size_t cap) {
  if (a->binary) snprintf(out, cap, "%s: record %lld", a->path, (long long)(i + 1));
  else snprintf(out, cap, "%s:%lld", a->path, (long long)(a->first_line + i));
  return out;
}

/* Checks word (n bytes) as the word of index i and adds it; returns its row or -1 with err. */
static int64_t add_word(acc *a, int64_t i, const char *w, size_t n, loom_error *err) {
  char at[1200], q[160];
  if (n == 0) return loom_errorf(err, "%s: the word is empty — each line must start with a word", where(a, i, at, sizeof at));
  if (n > LOOM_WORDVEC_MAX_WORD_BYTES)
    return loom_errorf(err, "%s: the word is %zu bytes, over the cap of %d — this is not a word-vector file%s",
                       where(a, i, at, sizeof at), n, LOOM_WORDVEC_MAX_WORD_BYTES,
                       a->binary ? " (or the header's D does not match its vectors)" : "");
  size_t bad = 0;
  if (!ld_utf8_valid(w, n, &bad))
    return loom_errorf(err, "%s: the word '%s' is not valid UTF-8 (byte %zu) — re-save the file as UTF-8",
                       where(a, i, at, sizeof at), ld_quote(q, sizeof q, w, n), bad + 1);
  for (size_t k = 0; k < n; k++)
    if ((unsigned char)w[k] < 0x20 || w[k] == 0x7f)
      return loom_errorf(err, "%s: the word '%s' contains a control character (byte %zu) — the file is corrupt%s",
                         where(a, i, at, sizeof at), ld_quote(q, sizeof q, w, n), k + 1,
                         a->binary ? " or the header's D does not match its vectors" : "");
  if (i >= LOOM_WORDVEC_MAX_WORDS)
    return loom_errorf(err, "%s: more than %d words — keep the most frequent ones (head -n)", where(a, i, at, sizeof at),
                       LOOM_WORDVEC_MAX_WORDS);
  int added = 0;
  int32_t e = ld_map_put(&a->words, w, n, (int32_t)i, &added);
  if (e < 0) return loom_errorf(err, "%s: out of memory reading the words", a->path);
  if (!added) {
    char first[1200];
    return loom_errorf(err, "%s: the word '%s' is already at %s — every word may appear once; remove one of them",
                       where(a, i, at, sizeof at), ld_quote(q, sizeof q, w, n),
                       where(a, ld_map_get(&a->words, w, n), first, sizeof first));
  }
  if (i >= a->cap) {
    int64_t cap = a->cap ? a->cap * 2 : 1024;
    if ((uint64_t)cap * (uint64_t)a->D > a->max_floats) cap = (int64_t)(a->max_floats / (uint64_t)a->D);
    if (i >= cap)
      return loom_errorf(err, "%s: more than %llu floats of vectors (%lld words x %d) — over the cap; keep the most "
                              "frequent words (head -n)", where(a, i, at, sizeof at), (unsigned long long)a->max_floats,
                         (long long)i + 1, a->D);
    float *p = loom_realloc(a->vec, (size_t)cap * (size_t)a->D * sizeof(float));
    if (!p) return loom_errorf(err, "%s: out of memory for %lld vectors of %d floats", a->path, (long long)cap, a->D);
    a->vec = p, a->cap = cap;
  }
  return i;
}

/* Text formats: the values of a line (fields after the word) into row i. line is modified. */
static int parse_values(acc *a, int64_t i, char *s, const char *word, int glove, loom_error *err) {
  char at[1200], q[160];
  float *row = a->vec + (size_t)i * (size_t)a->D;
  int k = 0;
  while (*s) {
    while (*s == ' ' || *s == '\t') s++;
    if (!*s) break;
    char *e = s;
    while (*e && *e != ' ' && *e != '\t') e++;
    size_t n = (size_t)(e - s);
    char save = *e;
    *e = '\0';
    if (k < a->D) {
      if (!ld_decimal_valid(s, n, 0))
        return loom_errorf(err, "%s: value %d of '%s' ('%s') is not a decimal number (no nan, inf or hex) — fix the "
                                "file; NaN or Inf vectors cannot be used",
                           where(a, i, at, sizeof at), k + 1, word, ld_quote(q, sizeof q, s, n));
      float v = ld_parse_f32(s, n);
      if (!isfinite(v))
        return loom_errorf(err, "%s: value %d of '%s' (%s) is outside the float32 range — fix the file",
                           where(a, i, at, sizeof at), k + 1, word, ld_quote(q, sizeof q, s, n));
      row[k] = v;
    }
    k++;
    *e = save;
    s = e;
  }
  if (k != a->D) {
    if (glove && a->header_like)
      return loom_errorf(err, "%s: '%s' has %d values, the first line has %d — the first line looks like a word2vec "
                              "header (\"N D\"): set text.pretrained_format = word2vec (or auto)",
                         where(a, i, at, sizeof at), word, k, a->D);
    if (glove)
      return loom_errorf(err, "%s: '%s' has %d values, the first line has %d — every vector needs the same length; "
                              "fix or remove the line", where(a, i, at, sizeof at), word, k, a->D);
    return loom_errorf(err, "%s: '%s' has %d values, the header says D = %d — fix the header's D or the line",
                       where(a, i, at, sizeof at), word, k, a->D);
  }
  return 0;
}

/* One text line (word then values) as word i. */
static int text_line(acc *a, int64_t i, char *line, size_t len, int glove, loom_error *err) {
  char at[1200], q[160];
  char *s = line;
  while (*s == ' ' || *s == '\t') s++;
  if (!*s)
    return loom_errorf(err, "%s: the line is empty — remove blank lines (each line is a word and its %d values)",
                       where(a, i, at, sizeof at), a->D);
  if (memchr(line, '\0', len))
    return loom_errorf(err, "%s: the line contains a NUL byte — the file is binary or corrupt (a word2vec binary "
                            "file must be named .bin, or set text.pretrained_format = word2vec_binary)",
                       where(a, i, at, sizeof at));
  char *e = s;
  while (*e && *e != ' ' && *e != '\t') e++;
  if (add_word(a, i, s, (size_t)(e - s), err) < 0) return -1;
  ld_quote(q, sizeof q, s, (size_t)(e - s));
  return parse_values(a, i, e, q, glove, err);
}

/* "N D": two positive integers within the caps; -1 with err naming line 1. loose: 1 = just test. */
static int parse_header(const char *path, const char *line, int64_t *N, int *D, uint64_t max_floats, int loose,
                        loom_error *err) {
  char f[2][32], q[160];
  int nf = 0;
  const char *s = line;
  while (*s) {
    while (*s == ' ' || *s == '\t') s++;
    if (!*s) break;
    const char *e = s;
    while (*e && *e != ' ' && *e != '\t') e++;
    if (nf < 2 && (size_t)(e - s) < sizeof f[0]) {
      memcpy(f[nf], s, (size_t)(e - s));
      f[nf][e - s] = '\0';
    } else if (nf < 2) {
      f[nf][0] = 'x', f[nf][1] = '\0';
    }
    nf++;
    s = e;
  }
  int ok = nf == 2 && f[0][0] != '-' && f[1][0] != '-' && ld_decimal_valid(f[0], strlen(f[0]), 1) &&
           ld_decimal_valid(f[1], strlen(f[1]), 1);
  if (loose) return ok ? 0 : -1;
  if (!ok)
    return loom_errorf(err, "%s:1: the header '%s' is not \"N D\" (the number of words and the dimension) — a "
                            "word2vec file starts with one; for a GloVe file set text.pretrained_format = glove",
                       path, ld_quote(q, sizeof q, line, strlen(line)));
  long long n = strtoll(f[0], NULL, 10), d = strtoll(f[1], NULL, 10);
  if (n < 1 || n > LOOM_WORDVEC_MAX_WORDS)
    return loom_errorf(err, "%s:1: the header says %lld words — it must be 1 to %d; fix the header", path, n,
                       LOOM_WORDVEC_MAX_WORDS);
  if (d < 1 || d > LOOM_WORDVEC_MAX_DIM)
    return loom_errorf(err, "%s:1: the header says D = %lld — it must be 1 to %d; fix the header", path, d,
                       LOOM_WORDVEC_MAX_DIM);
  if ((uint64_t)n * (uint64_t)d > max_floats)
    return loom_errorf(err, "%s:1: the header says %lld words x %lld = %llu floats, over the cap of %llu — keep the "
                            "most frequent words", path, n, d, (unsigned long long)n * (unsigned long long)d,
                       (unsigned long long)max_floats);
  *N = n, *D = (int)d;
  return 0;
}

static int ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), k = strlen(suffix);
  return n >= k && !strcmp(s + n - k, suffix);
}

/* Binary records after the header. */
static int read_binary(rd *r, acc *a, int64_t N, loom_error *err) {
  char at[1200], q[160], word[LOOM_WORDVEC_MAX_WORD_BYTES + 1];
  for (int64_t i = 0; i < N; i++) {
    unsigned char c;
    int got = rd_byte(r, &c, err);
    if (got < 0) return -1;
    if (got == 1 && c == '\n') got = rd_byte(r, &c, err); /* the C tool's newline after each vector */
    if (got < 0) return -1;
    if (got == 0)
      return loom_errorf(err, "%s: the file ends after %lld records, the header says %lld — the file is truncated "
                              "(copy it again) or the header's N is wrong", a->path, (long long)i, (long long)N);
    size_t n = 0;
    while (c != ' ') {
      if (n == LOOM_WORDVEC_MAX_WORD_BYTES)
        return loom_errorf(err, "%s: no space within %d bytes of the record's start — this is not a word2vec binary "
                                "file, or the header's D does not match its vectors", where(a, i, at, sizeof at),
                           LOOM_WORDVEC_MAX_WORD_BYTES);
      word[n++] = (char)c;
      if ((got = rd_byte(r, &c, err)) < 0) return -1;
      if (got == 0)
        return loom_errorf(err, "%s: the file ends inside the word '%s' — the file is truncated; copy it again",
                           where(a, i, at, sizeof at), ld_quote(q, sizeof q, word, n));
    }
    if (add_word(a, i, word, n, err) < 0) return -1;
    float *row = a->vec + (size_t)i * (size_t)a->D;
    int64_t k = rd_bytes(r, row, (size_t)a->D * 4, err);
    if (k < 0) return -1;
    ld_quote(q, sizeof q, word, n);
    if (k < (int64_t)a->D * 4)
      return loom_errorf(err, "%s ('%s'): the file ends after %lld of the vector's %d bytes — the file is truncated; "
                              "copy it again", where(a, i, at, sizeof at), q, (long long)k, a->D * 4);
    for (int j = 0; j < a->D; j++) {
      unsigned char *b = (unsigned char *)(row + j);
      uint32_t u = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
      memcpy(row + j, &u, 4); /* little-endian on disk */
      if (!isfinite(row[j]))
        return loom_errorf(err, "%s ('%s'): value %d is %s — NaN or Inf vectors cannot be used; fix the file",
                           where(a, i, at, sizeof at), q, j + 1, isnan(row[j]) ? "NaN" : "Inf");
    }
  }
  unsigned char c;
  int got = rd_byte(r, &c, err);
  if (got == 1 && c == '\n') got = rd_byte(r, &c, err);
  if (got < 0) return -1;
  if (got == 1)
    return loom_errorf(err, "%s: bytes follow the %lld records the header says — fix the header's N, or the file "
                            "is not word2vec binary", a->path, (long long)N);
  return 0;
}

/* Text lines after the first (already in r->line when glove). */
static int read_text(rd *r, acc *a, int64_t N, int glove, loom_error *err) {
  int64_t i = 0;
  if (glove) {
    if (text_line(a, 0, r->line.p, r->line.n, 1, err) < 0) return -1;
    i = 1;
  }
  for (;; i++) {
    int got = rd_line(r, a->first_line + i, err);
    if (got < 0) return -1;
    if (got == 0) break;
    if (!glove && i == N)
      return loom_errorf(err, "%s:%lld: more lines than the %lld words the header says — fix the header's N",
                         a->path, (long long)(a->first_line + i), (long long)N);
    if (text_line(a, i, r->line.p, r->line.n, glove, err) < 0) return -1;
  }
  if (!glove && i < N)
    return loom_errorf(err, "%s: the file ends after %lld words on line %lld, the header says %lld — the file is "
                            "truncated (copy it again) or the header's N is wrong",
                       a->path, (long long)i, (long long)(a->first_line + i - 1), (long long)N);
  return 0;
}

int loom_wordvec_read(const char *path, const loom_wordvec_opts *o, loom_wordvec *wv, loom_error *err) {
  memset(wv, 0, sizeof *wv);
  loom_wordvec_format fmt = o ? o->format : LOOM_WORDVEC_AUTO;
  uint64_t max_floats = o && o->max_floats ? o->max_floats : DEFAULT_MAX_FLOATS;
  int fd = loom_file_open_regular(path, 0, "word-vector", NULL, NULL, err);
  if (fd == -2)
    return loom_errorf(err, "%s: cannot open (%s) — check text.pretrained (a relative path is taken from the "
                            "directory loom-train runs in)", path, strerror(errno));
  if (fd < 0) return -1;
  rd r = {.path = path, .next_poll = LOOM_FILE_POLL_BYTES};
  r.gz = gzdopen(fd, "rb");
  r.buf = loom_malloc(CHUNK);
  if (!r.gz || !r.buf) {
    if (r.gz) gzclose_r(r.gz);
    else close(fd);
    loom_free(r.buf);
    return loom_errorf(err, "%s: out of memory opening the word vectors", path);
  }
  gzbuffer(r.gz, (unsigned)CHUNK);
  acc a = {.path = path, .max_floats = max_floats};
  ld_map_init(&a.words);
  int rc = -1;
  int got = rd_line(&r, 1, err);
  if (got < 0) goto done;
  if (got == 0) {
    loom_errorf(err, "%s: the file is empty — expected word vectors (word2vec text or binary, or GloVe)", path);
    goto done;
  }
  if (r.line.n >= 3 && !memcmp(r.line.p, "\xEF\xBB\xBF", 3)) { /* a UTF-8 byte order mark */
    memmove(r.line.p, r.line.p + 3, r.line.n - 2);
    r.line.n -= 3;
  }
  if (fmt == LOOM_WORDVEC_AUTO) {
    char base[LOOM_WORDVEC_MAX_WORD_BYTES];
    snprintf(base, sizeof base, "%s", path);
    if (ends_with(base, ".gz")) base[strlen(base) - 3] = '\0';
    int64_t N;
    int D;
    if (ends_with(base, ".bin")) fmt = LOOM_WORDVEC_BINARY;
    else fmt = parse_header(path, r.line.p, &N, &D, max_floats, 1, NULL) == 0 ? LOOM_WORDVEC_TEXT : LOOM_WORDVEC_GLOVE;
  }
  wv->format = fmt;
  int64_t N = 0;
  if (fmt == LOOM_WORDVEC_GLOVE) {
    /* D = the first line's values */
    int k = 0;
    for (const char *s = r.line.p; *s;) {
      while (*s == ' ' || *s == '\t') s++;
      if (!*s) break;
      k++;
      while (*s && *s != ' ' && *s != '\t') s++;
    }
    a.first_line = 1;
    int64_t hn;
    int hd;
    a.header_like = parse_header(path, r.line.p, &hn, &hd, max_floats, 1, NULL) == 0;
    if (k < 2) {
      loom_errorf(err, "%s:1: a word without values — a GloVe line is a word and its D values (for word2vec files "
                       "set text.pretrained_format)", path);
      goto done;
    }
    if (k - 1 > LOOM_WORDVEC_MAX_DIM) {
      loom_errorf(err, "%s:1: %d values, over the cap of D = %d", path, k - 1, LOOM_WORDVEC_MAX_DIM);
      goto done;
    }
    a.D = k - 1;
    if (read_text(&r, &a, 0, 1, err) < 0) goto done;
  } else {
    if (parse_header(path, r.line.p, &N, &a.D, max_floats, 0, err) < 0) goto done;
    a.first_line = 2;
    a.binary = fmt == LOOM_WORDVEC_BINARY;
    if (a.binary ? read_binary(&r, &a, N, err) < 0 : read_text(&r, &a, N, 0, err) < 0) goto done;
  }
  /* the end of the data: a .gz must end with its trailer and CRC */
  rc = loom_gz_close_checked(r.gz, path, err);
  r.gz = NULL;
  if (rc < 0) goto done;
  wv->n = a.words.n;
  wv->dim = a.D;
  wv->vec = a.vec, a.vec = NULL;
  wv->words = a.words.kbuf.p, a.words.kbuf.p = NULL;
  wv->woff = a.words.koff, a.words.koff = NULL;
  rc = 0;
done:
  if (r.gz) gzclose_r(r.gz);
  loom_free(r.buf);
  ld_buf_free(&r.line);
  loom_free(a.vec);
  ld_map_free(&a.words);
  return rc;
}

void loom_wordvec_free(loom_wordvec *wv) {
  if (!wv) return;
  loom_free(wv->vec);
  loom_free(wv->words);
  loom_free(wv->woff);
  memset(wv, 0, sizeof *wv);
}

/* ---- alignment */

typedef struct one_tok {
  char tok[LOOM_TOKEN_MAX_BYTES + 8];
  int len, n;
} one_tok;

static int keep_first(const char *tok, int len, void *p) {
  one_tok *o = p;
  if (o->n++ == 0) memcpy(o->tok, tok, (size_t)len), o->len = len;
  return 0;
}

/* The word's normalised form: 1 with it in o, 0 when the tokenizer does not make exactly one token. */
static int fold_word(const char *w, one_tok *o) {
  o->n = o->len = 0;
  loom_error ignored;
  if (loom_tokenize(w, strlen(w), keep_first, o, &ignored) < 0) return 0;
  return o->n == 1;
}

int loom_wordvec_align(const loom_wordvec *wv, const loom_vocab *v, float *weight, int V, int D,
                       loom_wordvec_stats *st, loom_error *err) {
  memset(st, 0, sizeof *st);
  if (D != wv->dim) return loom_errorf(err, "the word vectors have D = %d, the embedding %d", wv->dim, D);
  if (V != loom_vocab_size(v)) return loom_errorf(err, "the embedding has %d rows, the vocabulary %d ids", V, loom_vocab_size(v));
  uint8_t *given = loom_calloc((size_t)V, 1);
  if (!given) return loom_errorf(err, "out of memory aligning the word vectors");
  one_tok o;
  /* pass 0: words already in folded form; pass 1: the others, first in file order */
  for (int pass = 0; pass < 2; pass++)
    for (int64_t i = 0; i < wv->n; i++) {
      const char *w = loom_wordvec_word(wv, i);
      if (!fold_word(w, &o)) {
        st->not_token += pass == 0;
        continue;
      }
      int exact = (size_t)o.len == strlen(w) && !memcmp(o.tok, w, (size_t)o.len);
      if (exact != (pass == 0)) continue;
      int id = loom_vocab_id(v, o.tok, o.len);
      if (id < 2) continue;
      if (given[id]) {
        st->refolded++;
        continue;
      }
      given[id] = 1;
      memcpy(weight + (size_t)id * (size_t)D, wv->vec + (size_t)i * (size_t)D, (size_t)D * sizeof(float));
      st->found++;
    }
  st->missing = V - 2 - st->found;
  st->unused = wv->n - st->found;
  loom_free(given);
  return 0;
}

loom_vocab *loom_wordvec_vocab(const loom_wordvec *wv, int num_words, loom_error *err) {
  int64_t cap = num_words > 0 ? num_words - 2 : wv->n;
  if (cap < 0) cap = 0;
  const char **words = loom_malloc((size_t)(wv->n + 1) * sizeof *words);
  int *lens = loom_malloc((size_t)(wv->n + 1) * sizeof *lens);
  ld_buf folded = {0};
  int64_t *off = loom_malloc((size_t)(wv->n + 1) * sizeof *off);
  ld_map seen;
  ld_map_init(&seen);
  loom_vocab *v = NULL;
  if (!words || !lens || !off) goto oom;
  int n = 0;
  one_tok o;
  for (int64_t i = 0; i < wv->n && n < cap; i++) {
    if (!fold_word(loom_wordvec_word(wv, i), &o)) continue;
    int added = 0;
    if (ld_map_put(&seen, o.tok, (size_t)o.len, n, &added) < 0) goto oom;
    if (!added) continue;
    off[n] = (int64_t)folded.n;
    lens[n] = o.len;
    if (ld_buf_put(&folded, o.tok, (size_t)o.len + 1) < 0) goto oom; /* with its NUL */
    n++;
  }
  for (int i = 0; i < n; i++) words[i] = folded.p + off[i];
  v = loom_vocab_from_words(n, words, lens, err);
  goto done;
oom:
  loom_errorf(err, "out of memory building the vocabulary from the word vectors");
done:
  loom_free(words), loom_free(lens), loom_free(off);
  ld_buf_free(&folded);
  ld_map_free(&seen);
  return v;
}
