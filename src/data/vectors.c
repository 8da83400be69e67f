/* vectors.c — precomputed feature vectors keyed by id (loom/vectors.h): safetensors with the ids in its
 * metadata, .npy with a NAME.ids file beside it, or CSV id,v0..v{D-1}. Read once, whole, through the
 * data layer's file checks (regular file, size cap); every value checked finite and every key unique.
 * Gathering rows into batches is the dataset's (dataset.c); hashing the files is the trainer's. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "data_internal.h"
#include "loom/alloc.h"
#include "loom/file.h"
#include "loom/vectors.h"

struct loom_vectors {
  int64_t N;
  int D;
  float *v;   /* (N, D) */
  ld_map ids; /* key → row */
};

int64_t loom_vectors_count(const loom_vectors *v) { return v->N; }
int loom_vectors_dim(const loom_vectors *v) { return v->D; }
const float *loom_vectors_row(const loom_vectors *v, int64_t i) { return v->v + i * v->D; }
const char *loom_vectors_key(const loom_vectors *v, int64_t i) { return ld_map_key(&v->ids, (int32_t)i); }
int64_t loom_vectors_find(const loom_vectors *v, const char *key) {
  return ld_map_get(&v->ids, key, strlen(key));
}

void loom_vectors_free(loom_vectors *v) {
  if (!v) return;
  loom_free(v->v);
  ld_map_free(&v->ids);
  loom_free(v);
}

static int ends_with(const char *s, const char *suf) {
  size_t n = strlen(s), m = strlen(suf);
  return n >= m && !strcmp(s + n - m, suf);
}

/* Key k (length n) of row `row`; `where` names it in messages ("file:line" or "file: record 3"). */
static int add_key(loom_vectors *v, const char *k, size_t n, int64_t row, int int_keys, const char *where,
                   loom_error *err) {
  char q[200], buf[32];
  if (n == 0) return loom_errorf(err, "%s: the key is empty — every vector needs its item or user id", where);
  if (int_keys) {
    char tmp[64], *end;
    if (n >= sizeof tmp)
      return loom_errorf(err, "%s: key '%s' is not an integer ([data] key_type = int)", where, ld_quote(q, sizeof q, k, n));
    memcpy(tmp, k, n);
    tmp[n] = '\0';
    errno = 0;
    long long x = strtoll(tmp, &end, 10);
    while (*end == ' ' || *end == '\t') end++;
    if (*end || errno)
      return loom_errorf(err, "%s: key '%s' is not an integer ([data] key_type = int) — fix it or set key_type = string",
                         where, ld_quote(q, sizeof q, k, n));
    n = (size_t)snprintf(buf, sizeof buf, "%lld", x);
    k = buf;
  }
  int added = 0;
  int32_t e = ld_map_put(&v->ids, k, n, (int32_t)row, &added);
  if (e < 0) return loom_errorf(err, "out of memory reading vector ids");
  if (!added)
    return loom_errorf(err, "%s: key '%s' appears twice (first at row %d) — keep one vector per id", where,
                       ld_quote(q, sizeof q, k, n), v->ids.val[e]);
  return 0;
}

static int64_t check_finite(const loom_vectors *v) {
  for (int64_t i = 0; i < v->N * v->D; i++)
    if (!isfinite(v->v[i])) return i + 1;
  return 0;
}

static int nonfinite_error(const loom_vectors *v, const char *path, int64_t flat, loom_error *err) {
  char q[200];
  const char *k = loom_vectors_key(v, flat / v->D);
  return loom_errorf(err, "%s: record %lld (key '%s'), value %lld is %s — vectors must be finite; fix the file",
                     path, (long long)(flat / v->D), ld_quote(q, sizeof q, k, strlen(k)), (long long)(flat % v->D),
                     isnan(v->v[flat]) ? "NaN" : "infinite");
}

static int alloc_rows(loom_vectors *v, int64_t N, int64_t D, const char *path, loom_error *err) {
  if (N < 1 || D < 1 || D > LOOM_VECTORS_MAX_DIM || N > INT32_MAX - 1)
    return loom_errorf(err, "%s: shape (%lld, %lld) — expected N >= 1 rows of 1..%d values", path, (long long)N,
                       (long long)D, LOOM_VECTORS_MAX_DIM);
  v->N = N, v->D = (int)D;
  if (!(v->v = loom_malloc((size_t)N * (size_t)D * sizeof(float))))
    return loom_errorf(err, "%s: out of memory for %lld x %lld vectors", path, (long long)N, (long long)D);
  return 0;
}

/* ---- safetensors */

static int read_safetensors(loom_vectors *v, const char *path, const uint8_t *d, size_t n, int int_keys,
                            loom_error *err) {
  if (n < 8) return loom_errorf(err, "%s: truncated safetensors file (%zu bytes, no header length)", path, n);
  uint64_t hn = 0;
  for (int i = 7; i >= 0; i--) hn = hn << 8 | d[i];
  if (hn > n - 8) return loom_errorf(err, "%s: truncated safetensors file: the header is %llu bytes, the file has %zu after the length", path, (unsigned long long)hn, n - 8);
  cJSON *h = cJSON_ParseWithLength((const char *)d + 8, (size_t)hn);
  if (!h || !cJSON_IsObject(h)) {
    cJSON_Delete(h);
    return loom_errorf(err, "%s: the safetensors header is not a JSON object", path);
  }
  int rc = 0;
  const cJSON *t = NULL, *ids = NULL;
  const cJSON *e;
  cJSON_ArrayForEach(e, h) {
    if (!strcmp(e->string, "__metadata__")) {
      ids = cJSON_GetObjectItemCaseSensitive(e, "ids");
      continue;
    }
    if (t) {
      rc = loom_errorf(err, "%s: holds tensors '%s' and '%s' — a vector file holds one (N, D) tensor", path, t->string, e->string);
      goto out;
    }
    t = e;
  }
  if (!t) { rc = loom_errorf(err, "%s: no tensor — expected one F32 tensor of shape (N, D)", path); goto out; }
  const cJSON *dt = cJSON_GetObjectItemCaseSensitive(t, "dtype"), *sh = cJSON_GetObjectItemCaseSensitive(t, "shape"),
              *off = cJSON_GetObjectItemCaseSensitive(t, "data_offsets");
  if (!cJSON_IsString(dt) || !cJSON_IsArray(sh) || !cJSON_IsArray(off) || cJSON_GetArraySize(off) != 2) {
    rc = loom_errorf(err, "%s: tensor '%s' lacks dtype, shape or data_offsets", path, t->string);
    goto out;
  }
  if (strcmp(dt->valuestring, "F32") != 0) {
    rc = loom_errorf(err, "%s: tensor '%s' has dtype %s — vectors are read as F32; save them as float32", path, t->string,
                     dt->valuestring);
    goto out;
  }
  if (cJSON_GetArraySize(sh) != 2) {
    rc = loom_errorf(err, "%s: tensor '%s' has %d dimensions — expected 2, (N, D)", path, t->string, cJSON_GetArraySize(sh));
    goto out;
  }
  double N = cJSON_GetArrayItem(sh, 0)->valuedouble, D = cJSON_GetArrayItem(sh, 1)->valuedouble;
  double b0 = cJSON_GetArrayItem(off, 0)->valuedouble, b1 = cJSON_GetArrayItem(off, 1)->valuedouble;
  if (alloc_rows(v, (int64_t)N, (int64_t)D, path, err) < 0) { rc = -1; goto out; }
  size_t bytes = (size_t)v->N * (size_t)v->D * 4;
  if (b0 < 0 || b1 - b0 != (double)bytes) {
    rc = loom_errorf(err, "%s: tensor '%s' data_offsets [%.0f, %.0f] do not hold %lld x %d F32 values", path, t->string, b0,
                     b1, (long long)v->N, v->D);
    goto out;
  }
  if (8 + hn + (uint64_t)b1 > n) {
    rc = loom_errorf(err, "%s: truncated: tensor '%s' needs %.0f bytes of data, the file has %llu — the file was cut short",
                     path, t->string, b1, (unsigned long long)(n - 8 - hn));
    goto out;
  }
  memcpy(v->v, d + 8 + hn + (size_t)b0, bytes);
  cJSON *list = NULL;
  if (!cJSON_IsString(ids) || !(list = cJSON_Parse(ids->valuestring)) || !cJSON_IsArray(list)) {
    cJSON_Delete(list);
    rc = loom_errorf(err, "%s: metadata key \"ids\" is missing or not a JSON array of strings — store the %lld keys in "
                          "row order as __metadata__ {\"ids\": \"[\\\"key1\\\", ...]\"}", path, (long long)v->N);
    goto out;
  }
  if (cJSON_GetArraySize(list) != v->N) {
    rc = loom_errorf(err, "%s: metadata \"ids\" has %d keys but the tensor has %lld rows", path, cJSON_GetArraySize(list),
                     (long long)v->N);
  }
  int64_t r = 0;
  cJSON_ArrayForEach(e, list) {
    if (rc) break;
    char where[4200];
    snprintf(where, sizeof where, "%s: metadata \"ids\" entry %lld", path, (long long)r);
    if (!cJSON_IsString(e)) rc = loom_errorf(err, "%s: not a string", where);
    else rc = add_key(v, e->valuestring, strlen(e->valuestring), r, int_keys, where, err);
    r++;
  }
  cJSON_Delete(list);
out:
  cJSON_Delete(h);
  return rc;
}

/* ---- npy */

/* The value of 'key': in the npy header dict (NUL-terminated hdr) — a pointer after the colon. */
static const char *npy_field(const char *hdr, const char *key) {
  const char *p = strstr(hdr, key);
  if (!p) return NULL;
  p = strchr(p + strlen(key), ':');
  if (!p) return NULL;
  p++;
  while (*p == ' ') p++;
  return p;
}

static int read_ids_file(loom_vectors *v, const char *ids_path, const char *npy, uint64_t max_bytes, int int_keys,
                         loom_error *err) {
  void *data = NULL;
  size_t n = 0;
  if (loom_file_read_all(ids_path, max_bytes, "vector ids", "[data] max_vector_mb", &data, &n, err) < 0)
    return loom_error_wrap(err, "the keys of %s (%lld rows) go in %s, one per line", npy, (long long)v->N, ids_path);
  const char *s = data, *end = s + n;
  int64_t line = 0;
  int rc = 0;
  while (s < end && rc == 0) {
    const char *nl = memchr(s, '\n', (size_t)(end - s));
    const char *e = nl ? nl : end;
    size_t len = (size_t)(e - s);
    if (len && s[len - 1] == '\r') len--;
    line++;
    if (line > v->N) {
      rc = loom_errorf(err, "%s:%lld: more ids than the %lld rows of %s", ids_path, (long long)line, (long long)v->N, npy);
      break;
    }
    char where[4200];
    snprintf(where, sizeof where, "%s:%lld", ids_path, (long long)line);
    size_t bad;
    if (!ld_utf8_valid(s, len, &bad)) rc = loom_errorf(err, "%s: the key is not valid UTF-8 (byte %zu)", where, bad + 1);
    else rc = add_key(v, s, len, line - 1, int_keys, where, err);
    s = nl ? nl + 1 : end;
  }
  if (rc == 0 && line != v->N)
    rc = loom_errorf(err, "%s: %lld ids but %s has %lld rows — one key per row, in row order", ids_path, (long long)line,
                     npy, (long long)v->N);
  loom_free(data);
  return rc;
}

static int read_npy(loom_vectors *v, const char *path, const uint8_t *d, size_t n, uint64_t max_bytes, int int_keys,
                    loom_error *err) {
  if (n < 10 || memcmp(d, "\x93NUMPY", 6) != 0)
    return loom_errorf(err, "%s: not a .npy file (no \\x93NUMPY magic)%s", path, n < 10 ? ": truncated" : "");
  int major = d[6];
  size_t hl, pre;
  if (major == 1) hl = (size_t)d[8] | (size_t)d[9] << 8, pre = 10;
  else if (major == 2 || major == 3) {
    if (n < 12) return loom_errorf(err, "%s: truncated .npy header", path);
    hl = (size_t)d[8] | (size_t)d[9] << 8 | (size_t)d[10] << 16 | (size_t)d[11] << 24, pre = 12;
  } else return loom_errorf(err, "%s: .npy format version %d is not known (1, 2 or 3)", path, major);
  if (hl > n - pre || hl > 1 << 20) return loom_errorf(err, "%s: truncated .npy header (%zu bytes promised)", path, hl);
  char *hdr = loom_malloc(hl + 1);
  if (!hdr) return loom_errorf(err, "out of memory");
  memcpy(hdr, d + pre, hl);
  hdr[hl] = '\0';
  int rc = 0, f8 = 0;
  const char *descr = npy_field(hdr, "'descr'"), *fo = npy_field(hdr, "'fortran_order'"), *shape = npy_field(hdr, "'shape'");
  long long N = 0, D = 0;
  if (!descr || !fo || !shape) rc = loom_errorf(err, "%s: .npy header lacks descr, fortran_order or shape: %s", path, hdr);
  else if (!strncmp(descr, "'<f8'", 5)) f8 = 1;
  else if (strncmp(descr, "'<f4'", 5) != 0) {
    const char *q = strchr(descr + 1, '\'');
    rc = loom_errorf(err, "%s: dtype %.*s — vectors are read as little-endian float32 ('<f4') or float64 ('<f8'); save "
                          "them with .astype('float32')", path, q ? (int)(q - descr + 1) : 8, descr);
  }
  if (!rc && strncmp(fo, "False", 5) != 0)
    rc = loom_errorf(err, "%s: fortran_order is True — save the array in C order (np.ascontiguousarray)", path);
  if (!rc && sscanf(shape, "(%lld, %lld)", &N, &D) != 2)
    rc = loom_errorf(err, "%s: shape %.40s is not 2-D (N, D)", path, shape);
  loom_free(hdr);
  if (rc || alloc_rows(v, N, D, path, err) < 0) return -1;
  size_t es = f8 ? 8 : 4, bytes = (size_t)N * (size_t)D * es, have = n - pre - hl;
  if (have < bytes)
    return loom_errorf(err, "%s: truncated: %lld x %lld values need %zu bytes of data, the file has %zu — the file was cut short",
                       path, N, D, bytes, have);
  if (have > bytes) return loom_errorf(err, "%s: %zu bytes after the %lld x %lld values — not one (N, D) array", path, have - bytes, N, D);
  const uint8_t *src = d + pre + hl;
  if (!f8) memcpy(v->v, src, bytes);
  else
    for (size_t i = 0; i < (size_t)N * (size_t)D; i++) {
      double x;
      memcpy(&x, src + 8 * i, 8);
      v->v[i] = (float)x;
    }
  char ids[4096];
  size_t pl = strlen(path);
  if (pl - 4 + 5 >= sizeof ids) return loom_errorf(err, "%s: path too long", path);
  snprintf(ids, sizeof ids, "%.*s.ids", (int)(pl - 4), path);
  return read_ids_file(v, ids, path, max_bytes, int_keys, err);
}

/* ---- CSV: id,v0..v{D-1}, no quoting */

static int read_csv(loom_vectors *v, const char *path, const char *s, size_t n, int int_keys, loom_error *err) {
  const char *end = s + n, *p = s;
  if (n >= 3 && !memcmp(s, "\xEF\xBB\xBF", 3)) p += 3;
  /* header */
  const char *nl = memchr(p, '\n', (size_t)(end - p));
  const char *he = nl ? nl : end;
  if (he > p && he[-1] == '\r') he--;
  int D = 0;
  const char *f = memchr(p, ',', (size_t)(he - p));
  if (!f || f == p) return loom_errorf(err, "%s:1: bad header — expected id,v0,v1,...,v{D-1}", path);
  for (const char *q = f + 1; q <= he; D++) {
    const char *c = memchr(q, ',', (size_t)(he - q));
    const char *ce = c ? c : he;
    char want[16];
    int wl = snprintf(want, sizeof want, "v%d", D);
    if ((int)(ce - q) != wl || memcmp(q, want, (size_t)wl) != 0)
      return loom_errorf(err, "%s:1: bad header: field %d is '%.*s', expected '%s' — the header is id,v0,v1,...,v{D-1}",
                         path, D + 2, (int)(ce - q > 40 ? 40 : ce - q), q, want);
    if (D >= LOOM_VECTORS_MAX_DIM) return loom_errorf(err, "%s:1: more than %d vector columns", path, LOOM_VECTORS_MAX_DIM);
    q = ce + 1;
    if (!c) { D++; break; }
  }
  /* rows: count them first, then fill */
  int64_t N = 0;
  const char *body = nl ? nl + 1 : end;
  for (const char *q = body; q < end;) {
    const char *e = memchr(q, '\n', (size_t)(end - q)), *le = e ? e : end;
    if (le > q && le[-1] == '\r') le--;
    if (le > q) N++; /* blank lines are skipped */
    q = e ? e + 1 : end;
  }
  if (N == 0) return loom_errorf(err, "%s: no vectors after the header", path);
  if (alloc_rows(v, N, D, path, err) < 0) return -1;
  int64_t line = 1, r = 0;
  for (const char *q = body; q < end;) {
    const char *e = memchr(q, '\n', (size_t)(end - q));
    const char *le = e ? e : end;
    line++;
    if (le > q && le[-1] == '\r') le--;
    if (le == q) { q = e ? e + 1 : end; continue; } /* blank line */
    char where[4200];
    snprintf(where, sizeof where, "%s:%lld", path, (long long)line);
    const char *c = memchr(q, ',', (size_t)(le - q));
    if (!c) return loom_errorf(err, "%s: 0 values, the header has %d (v0..v%d)", where, D, D - 1);
    size_t bad;
    if (!ld_utf8_valid(q, (size_t)(c - q), &bad)) return loom_errorf(err, "%s: the key is not valid UTF-8", where);
    if (add_key(v, q, (size_t)(c - q), r, int_keys, where, err) < 0) return -1;
    float *row = v->v + r * D;
    int j = 0;
    for (const char *x = c + 1;; j++) {
      const char *xc = memchr(x, ',', (size_t)(le - x));
      const char *xe = xc ? xc : le;
      if (j < D) {
        char buf[64], *endp;
        size_t len = (size_t)(xe - x);
        if (len == 0 || len >= sizeof buf)
          return loom_errorf(err, "%s: field 'v%d' is %s — give a number", where, j, len ? "too long" : "empty");
        memcpy(buf, x, len);
        buf[len] = '\0';
        errno = 0;
        double val = strtod(buf, &endp);
        while (*endp == ' ' || *endp == '\t') endp++;
        if (*endp || endp == buf)
          return loom_errorf(err, "%s: field 'v%d': '%s' is not a number", where, j, buf);
        if (!isfinite(val) || !isfinite((float)val))
          return loom_errorf(err, "%s: field 'v%d' is %s — vectors must be finite; fix the file", where, j,
                             isnan(val) ? "NaN" : "infinite (or beyond float range)");
        row[j] = (float)val;
      }
      if (!xc) break;
      x = xc + 1;
    }
    if (j + 1 != D)
      return loom_errorf(err, "%s: %d values, the header has %d (v0..v%d) — every row has the same width", where, j + 1,
                         D, D - 1);
    r++;
    q = e ? e + 1 : end;
  }
  return 0;
}

loom_vectors *loom_vectors_read(const char *path, uint64_t max_bytes, int int_keys, loom_error *err) {
  int kind = ends_with(path, ".safetensors") ? 1 : ends_with(path, ".npy") ? 2 : ends_with(path, ".csv") ? 3 : 0;
  if (!kind) {
    loom_errorf(err, "%s: unknown vector file format — name it .safetensors, .npy (with NAME.ids) or .csv", path);
    return NULL;
  }
  loom_vectors *v = loom_calloc(1, sizeof *v);
  if (!v) { loom_errorf(err, "out of memory"); return NULL; }
  ld_map_init(&v->ids);
  void *data = NULL;
  size_t n = 0;
  int rc = loom_file_read_all(path, max_bytes, "vector", "[data] max_vector_mb", &data, &n, err);
  if (rc == 0) {
    if (kind == 1) rc = read_safetensors(v, path, data, n, int_keys, err);
    else if (kind == 2) rc = read_npy(v, path, data, n, max_bytes, int_keys, err);
    else rc = read_csv(v, path, data, n, int_keys, err);
  }
  loom_free(data);
  if (rc == 0) {
    int64_t bad = check_finite(v);
    if (bad) rc = nonfinite_error(v, path, bad - 1, err);
  }
  if (rc < 0) {
    loom_vectors_free(v);
    return NULL;
  }
  return v;
}
