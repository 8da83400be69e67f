/* util.c — the hash map, byte buffer and UTF-8 validation used across src/data (data_internal.h). */
#include <stdio.h>
#include <string.h>

#include "data_internal.h"
#include "loom/alloc.h"

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
