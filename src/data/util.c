/* util.c — the hash map, byte buffer, UTF-8 validation, directories, whole-file reads and CSV output
 * used across src/data (data_internal.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "data_internal.h"
#include "loom/data.h"
#include "loom/alloc.h"
#include "loom/error.h"

int ld_buf_put(ld_buf *b, const void *src, size_t n) {
  if (b->n + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->n + n + 1) cap *= 2;
    char *p = loom_realloc(b->p, cap);
    if (!p) return -1;
    b->p = p;
    b->cap = cap;
  }
  if (n) memcpy(b->p + b->n, src, n);
  b->n += n;
  b->p[b->n] = '\0';
  return 0;
}

void ld_buf_free(ld_buf *b) {
  loom_free(b->p);
  memset(b, 0, sizeof *b);
}

uint64_t ld_hash(const char *s, size_t n) { /* FNV-1a, then a final mix */
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  return h ^ (h >> 33);
}

void ld_map_init(ld_map *m) { memset(m, 0, sizeof *m); }

void ld_map_free(ld_map *m) {
  loom_free(m->slot);
  loom_free(m->koff);
  loom_free(m->val);
  ld_buf_free(&m->kbuf);
  memset(m, 0, sizeof *m);
}

int32_t ld_map_get(const ld_map *m, const char *key, size_t len) {
  if (!m->cap) return -1;
  uint32_t mask = (uint32_t)m->cap - 1, h = (uint32_t)ld_hash(key, len) & mask;
  for (;; h = (h + 1) & mask) {
    int32_t e = m->slot[h];
    if (e < 0) return -1;
    if (ld_map_keylen(m, e) == len && memcmp(ld_map_key(m, e), key, len) == 0) return m->val[e];
  }
}

static int map_grow(ld_map *m) {
  int32_t cap = m->cap ? m->cap * 2 : 64;
  int32_t *slot = loom_malloc((size_t)cap * sizeof *slot);
  if (!slot) return -1;
  memset(slot, 0xff, (size_t)cap * sizeof *slot);
  for (int32_t e = 0; e < m->n; e++) {
    uint32_t h = (uint32_t)ld_hash(ld_map_key(m, e), ld_map_keylen(m, e)) & (uint32_t)(cap - 1);
    while (slot[h] >= 0) h = (h + 1) & (uint32_t)(cap - 1);
    slot[h] = e;
  }
  loom_free(m->slot);
  m->slot = slot;
  m->cap = cap;
  return 0;
}

int32_t ld_map_put(ld_map *m, const char *key, size_t len, int32_t val, int *added) {
  if (added) *added = 0;
  if ((int64_t)(m->n + 1) * 2 > m->cap && map_grow(m) < 0) return -1;
  uint32_t mask = (uint32_t)m->cap - 1, h = (uint32_t)ld_hash(key, len) & mask;
  for (;; h = (h + 1) & mask) {
    int32_t e = m->slot[h];
    if (e < 0) break;
    if (ld_map_keylen(m, e) == len && memcmp(ld_map_key(m, e), key, len) == 0) return e;
  }
  if (m->n + 1 >= m->kcap) {
    int32_t kcap = m->kcap ? m->kcap * 2 : 64;
    int64_t *koff = loom_realloc(m->koff, (size_t)(kcap + 1) * sizeof *koff);
    if (!koff) return -1;
    m->koff = koff;
    int32_t *v = loom_realloc(m->val, (size_t)kcap * sizeof *v);
    if (!v) return -1;
    m->val = v;
    m->kcap = kcap;
  }
  if (m->n == 0) m->koff[0] = 0;
  if (ld_buf_put(&m->kbuf, key, len) < 0 || ld_buf_put(&m->kbuf, "", 1) < 0) return -1;
  int32_t e = m->n++;
  m->koff[e + 1] = (int64_t)m->kbuf.n;
  m->val[e] = val;
  m->slot[h] = e;
  if (added) *added = 1;
  return e;
}

int ld_utf8_valid(const char *s, size_t n, size_t *bad) {
  const unsigned char *u = (const unsigned char *)s;
  size_t i = 0;
  while (i < n) {
    unsigned c = u[i];
    if (c < 0x80) { i++; continue; }
    size_t k;
    unsigned min;
    unsigned cp;
    if ((c & 0xE0) == 0xC0) { k = 1; min = 0x80; cp = c & 0x1F; }
    else if ((c & 0xF0) == 0xE0) { k = 2; min = 0x800; cp = c & 0x0F; }
    else if ((c & 0xF8) == 0xF0) { k = 3; min = 0x10000; cp = c & 0x07; }
    else goto fail;
    for (size_t j = 1; j <= k; j++) {
      if (i + j >= n || (u[i + j] & 0xC0) != 0x80) goto fail;
      cp = (cp << 6) | (u[i + j] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) goto fail;
    i += k + 1;
  }
  return 1;
fail:
  if (bad) *bad = i;
  return 0;
}

void ld_fmt_float(char out[32], float x) { snprintf(out, 32, "%.9g", (double)x); }

/* ---- hostile bytes: the gzip end check, the number grammar, quoting user data in messages.
 * (Files are opened through loom/file.h.) */




int loom_gz_close_checked(struct gzFile_s *gz, const char *path, loom_error *err) {
  int zerr = Z_OK;
  const char *msg = gzerror(gz, &zerr);
  char detail[128];
  if (msg && !strncmp(msg, "<fd:", 4) && strstr(msg, ": ")) msg = strstr(msg, ": ") + 2; /* gzdopen's name */
  snprintf(detail, sizeof detail, "%s", msg ? msg : "");
  int rc = gzclose_r(gz);
  if (zerr == Z_BUF_ERROR || rc == Z_BUF_ERROR)
    return loom_errorf(err, "%s: the gzip stream ends early (no end marker and checksum) — the file is truncated; copy or compress it again", path);
  if (zerr == Z_DATA_ERROR || rc == Z_DATA_ERROR)
    return loom_errorf(err, "%s: corrupt gzip data (%s) — the file is damaged; copy or compress it again", path,
                       detail[0] ? detail : "bad checksum");
  if (zerr != Z_OK || rc != Z_OK)
    return loom_errorf(err, "%s: read error in the gzip stream (%s) — check the file", path, detail[0] ? detail : "zlib error");
  return 0;
}

/* Decimal grammar (see data.h): spaces/tabs around, [+-], digits with an optional '.', or '.' then
 * digits, then an optional exponent [eE][+-]digits. */
int ld_decimal_valid(const char *s, size_t n, int integer) {
  size_t i = 0, digits = 0;
  if (i < n && (s[i] == '+' || s[i] == '-')) i++;
  while (i < n && s[i] >= '0' && s[i] <= '9') i++, digits++;
  if (integer) return digits > 0 && i == n;
  if (i < n && s[i] == '.') {
    i++;
    while (i < n && s[i] >= '0' && s[i] <= '9') i++, digits++;
  }
  if (!digits) return 0;
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    i++;
    if (i < n && (s[i] == '+' || s[i] == '-')) i++;
    size_t ed = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9') i++, ed++;
    if (!ed) return 0;
  }
  return i == n;
}

/* Code point at s[i] (valid UTF-8 or one raw byte), its length in *k. */
static uint32_t cp_at(const unsigned char *s, size_t n, size_t i, size_t *k) {
  unsigned c = s[i];
  size_t len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
  if (!len || i + len > n || !ld_utf8_valid((const char *)s + i, len, NULL)) {
    *k = 1;
    return 0xFFFFFFFFu; /* a raw byte */
  }
  uint32_t cp = len == 1 ? c : c & (0xFF >> (len + 1));
  for (size_t j = 1; j < len; j++) cp = cp << 6 | (s[i + j] & 0x3F);
  *k = len;
  return cp;
}

/* Name of a character that does not show (or shows as something else) in a terminal; NULL if it prints. */
static const char *invisible_name(uint32_t cp) {
  switch (cp) {
    case 0xFEFF: return "byte order mark";
    case 0x00A0: return "no-break space";
    case 0x00AD: return "soft hyphen";
    case 0x200B: return "zero-width space";
    case 0x200C: return "zero-width non-joiner";
    case 0x200D: return "zero-width joiner";
    case 0x200E: return "left-to-right mark";
    case 0x200F: return "right-to-left mark";
    case 0x2028: return "line separator";
    case 0x2029: return "paragraph separator";
    case 0x2060: return "word joiner";
    case 0x202F: return "narrow no-break space";
    case 0x3000: return "ideographic space";
    case 0xFFFD: return "replacement character";
    default: break;
  }
  if (cp >= 0x202A && cp <= 0x202E) return "bidirectional control";
  if (cp >= 0x2066 && cp <= 0x2069) return "bidirectional isolate";
  if (cp >= 0x2061 && cp <= 0x2064) return "invisible operator";
  if (cp >= 0x80 && cp < 0xA0) return "C1 control character";
  if (cp >= 0xFFF9 && cp <= 0xFFFB) return "interlinear annotation";
  if (cp >= 0xE0000 && cp <= 0xE007F) return "tag character";
  return NULL;
}

const char *ld_quote(char *out, size_t cap, const char *s, size_t n) {
  const unsigned char *u = (const unsigned char *)s;
  size_t o = 0;
  for (size_t i = 0; i < n;) {
    char tmp[16];
    size_t k, tl;
    uint32_t cp = cp_at(u, n, i, &k);
    if (cp == 0xFFFFFFFFu || cp < 0x20 || cp == 0x7F) tl = (size_t)snprintf(tmp, sizeof tmp, "\\x%02x", u[i]);
    else if (invisible_name(cp)) tl = (size_t)snprintf(tmp, sizeof tmp, "\\u%04X", (unsigned)cp);
    else memcpy(tmp, s + i, k), tl = k;
    if (o + tl + 4 > cap) { /* keeps room for "..." and the NUL */
      memcpy(out + o, "...", 3);
      o += 3;
      break;
    }
    memcpy(out + o, tmp, tl);
    o += tl;
    i += k;
  }
  out[o] = '\0';
  return out;
}

const char *ld_invisible_note(char *out, size_t cap, const char *s, size_t n) {
  const unsigned char *u = (const unsigned char *)s;
  out[0] = '\0';
  for (size_t i = 0; i < n;) {
    size_t k;
    uint32_t cp = cp_at(u, n, i, &k);
    const char *name = cp == 0xFFFFFFFFu ? NULL : invisible_name(cp);
    if (cp == 0xFFFFFFFFu) snprintf(out, cap, " (it contains the byte 0x%02x, not UTF-8, at byte %zu of the field)", u[i], i);
    else if ((cp < 0x20 && cp != '\t') || cp == 0x7F) snprintf(out, cap, " (it contains the control character 0x%02x at byte %zu of the field)", (unsigned)cp, i);
    else if (name) snprintf(out, cap, " (it contains U+%04X (%s) at byte %zu of the field)", (unsigned)cp, name, i);
    if (out[0]) return out;
    i += k;
  }
  return out;
}

int ld_mkdir_p(const char *path, loom_error *err) {
  if (loom_mkdir_p(path, err) < 0) {
    if (!err) return -1;
    size_t n = strlen(err->msg);
    snprintf(err->msg + n, sizeof err->msg - n, " — check the --out path and permissions");
    return -1;
  }
  return 0;
}

int ld_path_join(char *out, size_t cap, const char *dir, const char *name, loom_error *err) {
  int n = snprintf(out, cap, "%s/%s", dir, name);
  if (n < 0 || (size_t)n >= cap) return loom_errorf(err, "%s/%s: path too long", dir, name);
  return 0;
}

/* Whole small input files (JSON messages, metadata): through the regular-file opener, capped. */
char *ld_read_file(const char *path, size_t *len, loom_error *err) {
  void *data;
  size_t n;
  uint64_t size;
  int fd = loom_file_open_regular(path, (uint64_t)1 << 30, "input", NULL, &size, err);
  if (fd == -2) loom_errorf(err, "%s: cannot open: %s", path, strerror(errno));
  if (fd < 0 || loom_file_read_fd(fd, size, path, "input", &data, &n, err) < 0) return NULL;
  char *buf = data; /* loom_file_read_all allocates one byte past the file */
  buf[n] = '\0';
  if (len) *len = n;
  return buf;
}

FILE *ld_create(const char *dir, const char *name, loom_error *err) {
  char path[4096];
  if (ld_path_join(path, sizeof path, dir, name, err)) return NULL;
  FILE *f = fopen(path, "wb");
  if (!f) loom_errorf(err, "%s: cannot write: %s — check the --out directory", path, strerror(errno));
  return f;
}

int ld_close(FILE *f, const char *dir, const char *name, loom_error *err) {
  int bad = ferror(f);
  if (fclose(f) != 0 || bad) return loom_errorf(err, "%s/%s: write failed (disk full?)", dir, name);
  return 0;
}

void ld_csv_put(FILE *f, int first, const char *s) {
  if (!first) fputc(',', f);
  if (!s) return;
  if (!strpbrk(s, ",\"\r\n")) {
    fputs(s, f);
    return;
  }
  fputc('"', f);
  for (const char *p = s; *p; p++) {
    if (*p == '"') fputc('"', f);
    fputc(*p, f);
  }
  fputc('"', f);
}

void ld_csv_putf(FILE *f, int first, const char *fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  ld_csv_put(f, first, buf);
}
