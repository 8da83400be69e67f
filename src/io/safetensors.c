/* safetensors.c — the safetensors file format (loom/safetensors.h): a crash-safe writer, a reader that
 * validates every header rule before trusting a byte, and save/load of a graph's params and buffers.
 * Optimizer state and training metadata are added by the trainer through the same writer.
 *
 * Header text is built here, not by cJSON's printer, so offsets and shapes are exact integers of any
 * size. cJSON parses the header; its numbers are doubles, so integers are accepted up to 2^53 (a
 * data section of 8 PiB). cJSON allocates through loom_malloc (global hooks, installed once on the
 * first open; they apply to every cJSON user in the process), so allocation-failure tests reach the
 * parser too. Files are written with write(2), not stdio: no second buffer, short writes and EINTR
 * handled in one place, and the fault hook can fail any single call. */
#include "loom/safetensors.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "loom/alloc.h"
#include "loom/sha256.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "safetensors data is little-endian; loom writes host order");

#define ST_MAX_INT 9007199254740992.0 /* 2^53: largest integer a JSON double holds exactly */
#define ST_SHOW 80                    /* bytes of a name shown in a message */
/* JSON values a header may hold: a tensor needs at most ~16 (key, entry, 3 keys, 8 dims, 2 offsets) */
#define ST_MAX_VALUES (32 * LOOM_ST_MAX_TENSORS)

/* ---- dtypes ---- */
static const struct { const char *name; size_t size; } st_dtypes[LOOM_ST_DTYPE_COUNT] = {
    [LOOM_ST_BOOL] = {"BOOL", 1},       [LOOM_ST_U8] = {"U8", 1},   [LOOM_ST_I8] = {"I8", 1},
    [LOOM_ST_F8_E5M2] = {"F8_E5M2", 1}, [LOOM_ST_F8_E4M3] = {"F8_E4M3", 1},
    [LOOM_ST_I16] = {"I16", 2},         [LOOM_ST_U16] = {"U16", 2}, [LOOM_ST_F16] = {"F16", 2},
    [LOOM_ST_BF16] = {"BF16", 2},       [LOOM_ST_I32] = {"I32", 4}, [LOOM_ST_U32] = {"U32", 4},
    [LOOM_ST_F32] = {"F32", 4},         [LOOM_ST_F64] = {"F64", 8}, [LOOM_ST_I64] = {"I64", 8},
    [LOOM_ST_U64] = {"U64", 8},
};

size_t loom_st_dtype_size(loom_st_dtype dt) {
  assert((unsigned)dt < LOOM_ST_DTYPE_COUNT);
  return st_dtypes[dt].size;
}
const char *loom_st_dtype_name(loom_st_dtype dt) {
  assert((unsigned)dt < LOOM_ST_DTYPE_COUNT);
  return st_dtypes[dt].name;
}
int loom_st_dtype_parse(const char *name, loom_st_dtype *out) {
  for (int i = 0; i < LOOM_ST_DTYPE_COUNT; i++)
    if (strcmp(name, st_dtypes[i].name) == 0) {
      *out = (loom_st_dtype)i;
      return 0;
    }
  return -1;
}

/* ---- small helpers ---- */
/* Valid UTF-8 (no overlongs, surrogates or code points past U+10FFFF) and no NUL byte. Returns the
 * offset of the first bad byte, or n. */
static size_t st_utf8_check(const unsigned char *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    unsigned c = s[i];
    if (c == 0) return i;
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t len;
    unsigned cp, min;
    if ((c & 0xE0) == 0xC0) len = 2, cp = c & 0x1F, min = 0x80;
    else if ((c & 0xF0) == 0xE0) len = 3, cp = c & 0x0F, min = 0x800;
    else if ((c & 0xF8) == 0xF0) len = 4, cp = c & 0x07, min = 0x10000;
    else return i;
    if (n - i < len) return i;
    for (size_t k = 1; k < len; k++) {
      if ((s[i + k] & 0xC0) != 0x80) return i;
      cp = cp << 6 | (s[i + k] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return i;
    i += len;
  }
  return n;
}

/* Product of dims times elem size, or -1 on overflow (or past ST_MAX_INT, which offsets cannot reach). */
static int st_nbytes(int ndim, const int64_t *shape, size_t elem, uint64_t *numel, uint64_t *bytes) {
  uint64_t m = 1;
  for (int i = 0; i < ndim; i++) {
    uint64_t d = (uint64_t)shape[i];
    if (d && m > (uint64_t)ST_MAX_INT / d) return -1;
    m *= d;
  }
  if (m > (uint64_t)ST_MAX_INT / elem) return -1;
  *numel = m;
  *bytes = m * elem;
  return 0;
}

/* "[2, 3, 4]" into buf. */
static const char *st_shape_str(char *buf, size_t cap, int ndim, const int64_t *shape) {
  size_t o = 0;
  o += (size_t)snprintf(buf + o, cap - o, "[");
  for (int i = 0; i < ndim && o < cap; i++)
    o += (size_t)snprintf(buf + o, cap - o, "%s%lld", i ? ", " : "", (long long)shape[i]);
  if (o < cap) snprintf(buf + o, cap - o, "]");
  return buf;
}

/* Growable byte buffer; `oom` sticks once an allocation fails. */
typedef struct {
  char *p;
  size_t n, cap;
  bool oom;
} st_buf;

static void sb_put(st_buf *b, const void *s, size_t n) {
  if (b->oom) return;
  if (b->n + n + 1 > b->cap) {
    size_t c = b->cap ? b->cap : 256;
    while (c < b->n + n + 1) c *= 2;
    char *p = loom_realloc(b->p, c);
    if (!p) {
      b->oom = true;
      return;
    }
    b->p = p;
    b->cap = c;
  }
  memcpy(b->p + b->n, s, n);
  b->n += n;
  b->p[b->n] = '\0';
}
static void sb_str(st_buf *b, const char *s) { sb_put(b, s, strlen(s)); }
static void sb_u64(st_buf *b, uint64_t v) {
  char t[24];
  int n = snprintf(t, sizeof t, "%llu", (unsigned long long)v);
  sb_put(b, t, (size_t)n);
}
/* JSON string literal: escapes quote, backslash and control bytes; UTF-8 passes through. */
static void sb_json_str(st_buf *b, const char *s) {
  sb_put(b, "\"", 1);
  for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
    char esc[8];
    switch (*c) {
    case '"': sb_put(b, "\\\"", 2); break;
    case '\\': sb_put(b, "\\\\", 2); break;
    case '\n': sb_put(b, "\\n", 2); break;
    case '\r': sb_put(b, "\\r", 2); break;
    case '\t': sb_put(b, "\\t", 2); break;
    case '\b': sb_put(b, "\\b", 2); break;
    case '\f': sb_put(b, "\\f", 2); break;
    default:
      if (*c < 0x20) {
        snprintf(esc, sizeof esc, "\\u%04x", *c);
        sb_put(b, esc, 6);
      } else {
        sb_put(b, c, 1);
      }
    }
  }
  sb_put(b, "\"", 1);
}

/* A name or key: non-empty, at most LOOM_ST_NAME_MAX bytes, valid UTF-8. Returns NULL or the reason. */
static const char *st_name_problem(const char *s) {
  size_t n = strlen(s);
  if (n == 0) return "is empty";
  if (n > LOOM_ST_NAME_MAX) return "is longer than the 1024 bytes allowed";
  if (st_utf8_check((const unsigned char *)s, n) != n) return "is not valid UTF-8";
  return NULL;
}

/* ---- writer ---- */
typedef struct {
  char *name;
  loom_st_dtype dtype;
  int ndim;
  int64_t shape[LOOM_ST_MAX_DIMS];
  uint64_t nbytes;
  const void *data;
} st_wentry;

typedef struct {
  char *key, *value;
} st_kv;

struct loom_st_writer {
  st_wentry *t;
  int n, cap;
  st_kv *meta;
  int n_meta, cap_meta;
  bool checksums; /* record LOOM_ST_CHECKSUM_KEY at write */
};

void loom_st_writer_checksums(loom_st_writer *w, bool on) { w->checksums = on; }

static void st_hex(const uint8_t d[32], char hex[65]) {
  static const char x[] = "0123456789abcdef";
  for (int i = 0; i < 32; i++) hex[2 * i] = x[d[i] >> 4], hex[2 * i + 1] = x[d[i] & 15];
  hex[64] = '\0';
}

/* {"name":"<sha256 hex>",...} over the writer's tensors, as metadata LOOM_ST_CHECKSUM_KEY */
static int st_put_checksums(loom_st_writer *w, loom_error *err) {
  st_buf b = {0};
  sb_str(&b, "{");
  for (int i = 0; i < w->n; i++) {
    char hex[65];
    loom_sha256_hex(w->t[i].data ? w->t[i].data : "", (size_t)w->t[i].nbytes, hex);
    if (i) sb_str(&b, ",");
    sb_json_str(&b, w->t[i].name);
    sb_str(&b, ":\"");
    sb_str(&b, hex);
    sb_str(&b, "\"");
  }
  sb_str(&b, "}");
  sb_put(&b, "", 1);
  int rc = b.oom ? loom_errorf(err, "safetensors: out of memory computing checksums")
                 : loom_st_writer_meta(w, LOOM_ST_CHECKSUM_KEY, b.p, err);
  loom_free(b.p);
  return rc;
}

loom_st_writer *loom_st_writer_new(void) {
  loom_st_writer *w = loom_calloc(1, sizeof *w);
  if (!w) return NULL;
  if (loom_st_writer_meta(w, "format", "pt", NULL) != 0) {
    loom_st_writer_free(w);
    return NULL;
  }
  return w;
}

void loom_st_writer_free(loom_st_writer *w) {
  if (!w) return;
  for (int i = 0; i < w->n; i++) loom_free(w->t[i].name);
  for (int i = 0; i < w->n_meta; i++) {
    loom_free(w->meta[i].key);
    loom_free(w->meta[i].value);
  }
  loom_free(w->t);
  loom_free(w->meta);
  loom_free(w);
}

/* Makes room for one more element in *arr (of elem bytes). */
static int st_grow(void **arr, int *cap, int n, size_t elem) {
  if (n < *cap) return 0;
  int c = *cap ? *cap * 2 : 16;
  void *p = loom_realloc(*arr, (size_t)c * elem);
  if (!p) return -1;
  *arr = p;
  *cap = c;
  return 0;
}

int loom_st_writer_add(loom_st_writer *w, const char *name, loom_st_dtype dtype, int ndim, const int64_t *shape,
                       const void *data, loom_error *err) {
  assert(w && name && (unsigned)dtype < LOOM_ST_DTYPE_COUNT);
  const char *why = st_name_problem(name);
  if (why) return loom_errorf(err, "safetensors: tensor name '%.*s' %s — rename the tensor", ST_SHOW, name, why);
  if (strcmp(name, "__metadata__") == 0)
    return loom_errorf(err, "safetensors: '__metadata__' is reserved for the metadata and cannot name a tensor");
  if (ndim < 0 || ndim > LOOM_ST_MAX_DIMS)
    return loom_errorf(err, "safetensors: tensor '%.*s' has %d dims; the writer supports 0 to %d", ST_SHOW, name, ndim,
                       LOOM_ST_MAX_DIMS);
  st_wentry e = {.dtype = dtype, .ndim = ndim, .data = data};
  for (int i = 0; i < ndim; i++) {
    if (shape[i] < 0)
      return loom_errorf(err, "safetensors: tensor '%.*s' has negative dim %lld", ST_SHOW, name, (long long)shape[i]);
    e.shape[i] = shape[i];
  }
  uint64_t numel;
  if (st_nbytes(ndim, e.shape, st_dtypes[dtype].size, &numel, &e.nbytes) != 0)
    return loom_errorf(err, "safetensors: tensor '%.*s' is too large (more than 2^53 bytes)", ST_SHOW, name);
  assert((data || e.nbytes == 0) && "tensor data is NULL");
  if (st_grow((void **)&w->t, &w->cap, w->n, sizeof *w->t) != 0 || !(e.name = loom_strdup(name)))
    return loom_errorf(err, "safetensors: out of memory adding tensor '%.*s'", ST_SHOW, name);
  w->t[w->n++] = e;
  return 0;
}

int loom_st_writer_meta(loom_st_writer *w, const char *key, const char *value, loom_error *err) {
  assert(w && key && value);
  const char *why = st_name_problem(key);
  if (why) return loom_errorf(err, "safetensors: metadata key '%.*s' %s", ST_SHOW, key, why);
  if (strcmp(key, "format") == 0 && strcmp(value, "pt") != 0)
    return loom_errorf(err, "safetensors: metadata 'format' is always \"pt\" in loom checkpoints (PyTorch layout), not "
                            "'%.*s'", ST_SHOW, value);
  size_t vn = strlen(value);
  if (st_utf8_check((const unsigned char *)value, vn) != vn)
    return loom_errorf(err, "safetensors: metadata value of key '%.*s' is not valid UTF-8", ST_SHOW, key);
  char *v = loom_strdup(value);
  if (!v) return loom_errorf(err, "safetensors: out of memory setting metadata '%.*s'", ST_SHOW, key);
  for (int i = 0; i < w->n_meta; i++)
    if (strcmp(w->meta[i].key, key) == 0) {
      loom_free(w->meta[i].value);
      w->meta[i].value = v;
      return 0;
    }
  char *k = NULL;
  if (st_grow((void **)&w->meta, &w->cap_meta, w->n_meta, sizeof *w->meta) != 0 || !(k = loom_strdup(key))) {
    loom_free(v);
    return loom_errorf(err, "safetensors: out of memory setting metadata '%.*s'", ST_SHOW, key);
  }
  w->meta[w->n_meta++] = (st_kv){k, v};
  return 0;
}

int loom_st_writer_add_graph(loom_st_writer *w, loom_graph *g, loom_error *err) {
  int np = loom_graph_n_param_tensors(g), nb = loom_graph_n_buffer_tensors(g);
  for (int i = 0; i < np + nb; i++) {
    loom_tensor *t = i < np ? loom_graph_param_tensor(g, i) : loom_graph_buffer_tensor(g, i - np);
    int64_t shape[LOOM_MAX_DIMS];
    for (int d = 0; d < t->ndim; d++) shape[d] = t->shape[d];
    bool f32 = t->dtype == LOOM_F32;
    if (loom_st_writer_add(w, t->name, f32 ? LOOM_ST_F32 : LOOM_ST_I32, t->ndim, shape,
                           f32 ? (const void *)t->data : (const void *)t->idata, err) != 0)
      return -1;
  }
  return 0;
}

static int st_cmp_wentry_name(const void *a, const void *b) {
  return strcmp((*(const st_wentry *const *)a)->name, (*(const st_wentry *const *)b)->name);
}

/* Test hook state: which step fails next, with which errno, at which write call. */
static struct {
  loom_st_fault_step step;
  int err_no, nth;
} st_fault;

void loom_st_fault_set(loom_st_fault_step step, int err_no, int nth) {
  st_fault.step = step;
  st_fault.err_no = err_no;
  st_fault.nth = nth > 0 ? nth : 1;
}

/* True (and errno set, injection off) when the test hook fails this step. */
static bool st_faulted(loom_st_fault_step step) {
  if (st_fault.step != step) return false;
  if (step == LOOM_ST_FAULT_WRITE && --st_fault.nth > 0) return false;
  errno = st_fault.err_no;
  st_fault.step = LOOM_ST_FAULT_NONE;
  return true;
}

/* write(2) until all n bytes are stored; EINTR retried, a short write continues. */
static int st_write_all(int fd, const void *buf, size_t n) {
  const char *p = buf;
  if (n && st_faulted(LOOM_ST_FAULT_WRITE)) {
    int e = errno;
    if (write(fd, p, n / 2) < 0) { /* leave a partial temp file behind, as a full disk would */
    }
    errno = e;
    return -1;
  }
  while (n) {
    size_t chunk = n < ((size_t)1 << 30) ? n : ((size_t)1 << 30);
    ssize_t k = write(fd, p, chunk);
    if (k < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (k == 0) {
      errno = EIO;
      return -1;
    }
    p += k;
    n -= (size_t)k;
  }
  return 0;
}

/* The failure message: what failed, the OS error, and the state of the target. */
static int st_write_error(loom_error *err, const char *path, const char *what, int e) {
  struct stat st;
  bool had = stat(path, &st) == 0;
  return loom_errorf(err, "cannot save checkpoint %s: %s failed: %s — %s; %s, then retry", path, what, strerror(e),
                     had ? "the previous checkpoint at that path is intact" : "no file was written at that path",
                     e == ENOMEM ? "free some memory" : "check free disk space and permissions");
}

int loom_st_write(loom_st_writer *w, const char *path, loom_error *err) {
  assert(w && path);
  int rc = -1;
  st_buf h = {0};
  char *tmp = NULL, *dir = NULL;
  const st_wentry **sorted = NULL;

  /* Every allocation happens before the file system is touched: out of memory leaves no file. */
  if (w->checksums && st_put_checksums(w, err) < 0) return -1;
  if (w->n && !(sorted = loom_malloc((size_t)w->n * sizeof *sorted))) goto oom;
  for (int i = 0; i < w->n; i++) sorted[i] = &w->t[i];
  if (w->n) qsort(sorted, (size_t)w->n, sizeof *sorted, st_cmp_wentry_name);
  for (int i = 1; i < w->n; i++)
    if (strcmp(sorted[i - 1]->name, sorted[i]->name) == 0) {
      loom_errorf(err, "cannot save checkpoint %s: tensor name '%.*s' is used twice — give each tensor a unique name",
                  path, ST_SHOW, sorted[i]->name);
      goto done;
    }

  /* {"__metadata__":{...},"name":{"dtype":"F32","shape":[..],"data_offsets":[b,e]},...} then spaces */
  sb_str(&h, "{\"__metadata__\":{");
  for (int i = 0; i < w->n_meta; i++) {
    if (i) sb_str(&h, ",");
    sb_json_str(&h, w->meta[i].key);
    sb_str(&h, ":");
    sb_json_str(&h, w->meta[i].value);
  }
  sb_str(&h, "}");
  uint64_t off = 0;
  for (int i = 0; i < w->n; i++) {
    const st_wentry *e = &w->t[i];
    sb_str(&h, ",");
    sb_json_str(&h, e->name);
    sb_str(&h, ":{\"dtype\":\"");
    sb_str(&h, st_dtypes[e->dtype].name);
    sb_str(&h, "\",\"shape\":[");
    for (int d = 0; d < e->ndim; d++) {
      if (d) sb_str(&h, ",");
      sb_u64(&h, (uint64_t)e->shape[d]);
    }
    sb_str(&h, "],\"data_offsets\":[");
    sb_u64(&h, off);
    sb_str(&h, ",");
    if (e->nbytes > (uint64_t)ST_MAX_INT - off) {
      loom_errorf(err, "cannot save checkpoint %s: tensors hold more than 2^53 bytes", path);
      goto done;
    }
    off += e->nbytes;
    sb_u64(&h, off);
    sb_str(&h, "]}");
  }
  sb_str(&h, "}");
  while (!h.oom && h.n % 8) sb_str(&h, " ");
  if (h.oom) goto oom;

  size_t plen = strlen(path);
  const char *slash = strrchr(path, '/');
  if (!(tmp = loom_malloc(plen + 32)) || !(dir = loom_malloc(plen + 2))) goto oom;
  snprintf(tmp, plen + 32, "%s.tmp.%ld", path, (long)getpid());
  if (!slash) snprintf(dir, plen + 2, ".");
  else if (slash == path) snprintf(dir, plen + 2, "/");
  else snprintf(dir, plen + 2, "%.*s", (int)(slash - path), path);

  unsigned char len8[8];
  for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)h.n >> (8 * i));

  int fd = st_faulted(LOOM_ST_FAULT_OPEN) ? -1 : open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    st_write_error(err, path, "creating the temporary file", errno);
    goto done;
  }
  const char *what = NULL;
  if (st_write_all(fd, len8, 8) != 0 || st_write_all(fd, h.p, h.n) != 0) what = "writing the header";
  for (int i = 0; !what && i < w->n; i++)
    if (st_write_all(fd, w->t[i].data, w->t[i].nbytes) != 0) what = "writing tensor data";
  if (!what && (st_faulted(LOOM_ST_FAULT_FSYNC) || fsync(fd) != 0)) what = "fsync of the temporary file";
  int e = errno;
  if (st_faulted(LOOM_ST_FAULT_CLOSE)) {
    e = errno;
    close(fd);
    if (!what) what = "closing the temporary file";
  } else if (close(fd) != 0 && !what) {
    e = errno;
    what = "closing the temporary file";
  }
  if (!what && (st_faulted(LOOM_ST_FAULT_RENAME) || rename(tmp, path) != 0)) {
    e = errno;
    what = "renaming the temporary file over the target";
  }
  if (what) {
    unlink(tmp);
    st_write_error(err, path, what, e);
    goto done;
  }
  /* The new file is in place; make the rename itself durable. File systems that cannot fsync a
   * directory say EINVAL: nothing more can be done there. */
  int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    int bad = st_faulted(LOOM_ST_FAULT_DIRSYNC) || fsync(dfd) != 0;
    e = errno;
    close(dfd);
    if (bad && e != EINVAL && e != ENOTSUP) {
      loom_errorf(err, "checkpoint %s: the new file is in place but fsync of directory %s failed: %s — it may not "
                       "survive a power loss; check the disk",
                  path, dir, strerror(e));
      goto done;
    }
  }
  rc = 0;
  goto done;
oom:
  st_write_error(err, path, "allocating memory", ENOMEM);
done:
  loom_free(sorted);
  loom_free(h.p);
  loom_free(tmp);
  loom_free(dir);
  return rc;
}

/* ---- reader ---- */
struct loom_st_file {
  char *path;
  void *map;
  size_t map_size;
  loom_st_tensor *t; /* by ascending offset */
  int n;
  const loom_st_tensor **by_name; /* sorted by name, for loom_st_find */
  st_kv *meta;                     /* header order */
  const st_kv **meta_by_key;       /* sorted by key */
  int n_meta;
};

/* cJSON allocates through loom_malloc; a failed allocation is remembered so that a NULL parse can
 * be told apart from bad JSON. */
static _Thread_local bool st_oom;
static void *st_cjson_malloc(size_t n) {
  void *p = loom_malloc(n);
  if (!p) st_oom = true;
  return p;
}
static void st_cjson_hooks(void) { cJSON_InitHooks(&(cJSON_Hooks){st_cjson_malloc, loom_free}); }
static pthread_once_t st_hooks_once = PTHREAD_ONCE_INIT;

void loom_st_close(loom_st_file *f) {
  if (!f) return;
  if (f->map) munmap(f->map, f->map_size);
  for (int i = 0; i < f->n; i++) loom_free((char *)f->t[i].name);
  for (int i = 0; i < f->n_meta; i++) {
    loom_free(f->meta[i].key);
    loom_free(f->meta[i].value);
  }
  loom_free(f->t);
  loom_free(f->by_name);
  loom_free(f->meta);
  loom_free(f->meta_by_key);
  loom_free(f->path);
  loom_free(f);
}

/* Non-negative integer exactly representable: the only numbers shapes and offsets may hold. */
static bool st_json_uint(const cJSON *v, uint64_t *out) {
  if (!cJSON_IsNumber(v)) return false;
  double d = v->valuedouble;
  if (!(d >= 0) || d > ST_MAX_INT || d != floor(d)) return false;
  *out = (uint64_t)d;
  return true;
}

static const char *st_json_kind(const cJSON *v) {
  if (cJSON_IsArray(v)) return "a list";
  if (cJSON_IsString(v)) return "a string";
  if (cJSON_IsNumber(v)) return "a number";
  if (cJSON_IsBool(v)) return "a boolean";
  if (cJSON_IsNull(v)) return "null";
  return "an object";
}

static int st_cmp_by_name(const void *a, const void *b) {
  return strcmp((*(const loom_st_tensor *const *)a)->name, (*(const loom_st_tensor *const *)b)->name);
}
static int st_cmp_by_key(const void *a, const void *b) {
  return strcmp((*(const st_kv *const *)a)->key, (*(const st_kv *const *)b)->key);
}
static int st_cmp_by_offset(const void *a, const void *b) {
  const loom_st_tensor *x = a, *y = b;
  if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
  if (x->end != y->end) return x->end < y->end ? -1 : 1;
  return strcmp(x->name, y->name);
}

/* Validates one tensor entry and fills *t (name already set). */
static int st_parse_entry(const char *path, const cJSON *item, loom_st_tensor *t, loom_error *err) {
  const char *nm = t->name;
  if (!cJSON_IsObject(item))
    return loom_errorf(err, "%s: tensor '%.*s': entry is %s, not an object with dtype, shape and data_offsets", path,
                       ST_SHOW, nm, st_json_kind(item));
  const cJSON *dtype = NULL, *shape = NULL, *offs = NULL;
  for (const cJSON *c = item->child; c; c = c->next) {
    const cJSON **slot = strcmp(c->string, "dtype") == 0 ? &dtype
                         : strcmp(c->string, "shape") == 0 ? &shape
                         : strcmp(c->string, "data_offsets") == 0 ? &offs
                         : NULL;
    if (!slot)
      return loom_errorf(err, "%s: tensor '%.*s': unknown key '%.*s' (expected dtype, shape, data_offsets)", path,
                         ST_SHOW, nm, ST_SHOW, c->string);
    if (*slot) return loom_errorf(err, "%s: tensor '%.*s': key '%s' appears twice", path, ST_SHOW, nm, c->string);
    *slot = c;
  }
  if (!dtype || !shape || !offs)
    return loom_errorf(err, "%s: tensor '%.*s': missing \"%s\"", path, ST_SHOW, nm,
                       !dtype ? "dtype" : !shape ? "shape" : "data_offsets");
  if (!cJSON_IsString(dtype))
    return loom_errorf(err, "%s: tensor '%.*s': dtype is %s, not a string such as \"F32\"", path, ST_SHOW, nm,
                       st_json_kind(dtype));
  if (loom_st_dtype_parse(dtype->valuestring, &t->dtype) != 0)
    return loom_errorf(err, "%s: tensor '%.*s': unknown dtype '%.*s' (expected one of F64, F32, F16, BF16, I64, I32, "
                            "I16, I8, U8, BOOL, ...)",
                       path, ST_SHOW, nm, ST_SHOW, dtype->valuestring);
  if (!cJSON_IsArray(shape))
    return loom_errorf(err, "%s: tensor '%.*s': shape is not a list of non-negative integers", path, ST_SHOW, nm);
  int nd = cJSON_GetArraySize(shape);
  if (nd > LOOM_ST_MAX_DIMS)
    return loom_errorf(err, "%s: tensor '%.*s': shape has %d dims, more than the %d loom supports", path, ST_SHOW, nm, nd,
                       LOOM_ST_MAX_DIMS);
  t->ndim = 0;
  for (const cJSON *d = shape->child; d; d = d->next) {
    uint64_t v;
    if (!st_json_uint(d, &v))
      return loom_errorf(err, "%s: tensor '%.*s': shape is not a list of non-negative integers", path, ST_SHOW, nm);
    t->shape[t->ndim++] = (int64_t)v;
  }
  uint64_t b, e;
  if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2 || !st_json_uint(offs->child, &b) ||
      !st_json_uint(offs->child->next, &e) || b > e)
    return loom_errorf(err, "%s: tensor '%.*s': data_offsets is not [begin, end] with integers 0 <= begin <= end", path,
                       ST_SHOW, nm);
  t->begin = b;
  t->end = e;
  uint64_t bytes;
  char sh[160];
  if (st_nbytes(t->ndim, t->shape, st_dtypes[t->dtype].size, &t->numel, &bytes) != 0)
    return loom_errorf(err, "%s: tensor '%.*s': shape %s is too large", path, ST_SHOW, nm,
                       st_shape_str(sh, sizeof sh, t->ndim, t->shape));
  if (bytes != e - b)
    return loom_errorf(err, "%s: tensor '%.*s': shape %s of %s needs %llu bytes but data_offsets [%llu, %llu] hold %llu",
                       path, ST_SHOW, nm, st_shape_str(sh, sizeof sh, t->ndim, t->shape), st_dtypes[t->dtype].name,
                       (unsigned long long)bytes, (unsigned long long)b, (unsigned long long)e,
                       (unsigned long long)(e - b));
  return 0;
}

/* Upper bound on the number of JSON values in s: separators and openers outside strings, plus one. */
static size_t st_count_values(const char *s, size_t n) {
  size_t k = 1;
  bool in_str = false;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (in_str) {
      if (c == '\\') i++;
      else if (c == '"') in_str = false;
    } else if (c == '"') {
      in_str = true;
    } else if (c == ',' || c == '[' || c == '{' || c == ':') {
      k++;
    }
  }
  return k;
}

/* Header-level checks once the JSON has parsed: -1 for a broken rule, -2 when out of memory. */
static int st_parse_header(loom_st_file *f, const cJSON *root, uint64_t data_size, loom_error *err) {
  const char *path = f->path;
  if (!cJSON_IsObject(root)) return loom_errorf(err, "%s: header is %s, not a JSON object", path, st_json_kind(root));
  int n = 0;
  const cJSON *meta = NULL;
  for (const cJSON *c = root->child; c; c = c->next) {
    if (strcmp(c->string, "__metadata__") == 0) {
      if (meta) return loom_errorf(err, "%s: __metadata__ appears twice in the header", path);
      meta = c;
    } else {
      n++;
    }
  }
  if (n > LOOM_ST_MAX_TENSORS)
    return loom_errorf(err, "%s: header lists %d tensors, more than the cap of %d", path, n,
                       LOOM_ST_MAX_TENSORS);
  if (meta) {
    if (!cJSON_IsObject(meta))
      return loom_errorf(err, "%s: __metadata__ is %s, not an object of strings", path, st_json_kind(meta));
    int nm = cJSON_GetArraySize(meta);
    if (nm > LOOM_ST_MAX_TENSORS)
      return loom_errorf(err, "%s: __metadata__ holds %d entries, more than the cap of %d", path, nm, LOOM_ST_MAX_TENSORS);
    if (nm && (!(f->meta = loom_calloc((size_t)nm, sizeof *f->meta)) ||
               !(f->meta_by_key = loom_malloc((size_t)nm * sizeof *f->meta_by_key))))
      goto oom;
    for (const cJSON *c = meta->child; c; c = c->next) {
      if (!cJSON_IsString(c))
        return loom_errorf(err, "%s: __metadata__ key '%.*s' is %s, not a string", path, ST_SHOW, c->string,
                           st_json_kind(c));
      st_kv *kv = &f->meta[f->n_meta++];
      if (!(kv->key = loom_strdup(c->string)) || !(kv->value = loom_strdup(c->valuestring))) goto oom;
      f->meta_by_key[f->n_meta - 1] = kv;
    }
    if (f->n_meta) qsort(f->meta_by_key, (size_t)f->n_meta, sizeof *f->meta_by_key, st_cmp_by_key);
    for (int i = 1; i < f->n_meta; i++)
      if (strcmp(f->meta_by_key[i - 1]->key, f->meta_by_key[i]->key) == 0)
        return loom_errorf(err, "%s: __metadata__ key '%.*s' appears twice", path, ST_SHOW, f->meta_by_key[i]->key);
  }
  if (n && (!(f->t = loom_calloc((size_t)n, sizeof *f->t)) || !(f->by_name = loom_malloc((size_t)n * sizeof *f->by_name))))
    goto oom;
  for (const cJSON *c = root->child; c; c = c->next) {
    if (c == meta) continue;
    size_t len = strlen(c->string);
    if (len == 0) return loom_errorf(err, "%s: a tensor name is empty", path);
    if (len > LOOM_ST_NAME_MAX)
      return loom_errorf(err, "%s: tensor name '%.*s...' is %zu bytes, longer than the %d allowed", path, ST_SHOW,
                         c->string, len, LOOM_ST_NAME_MAX);
    loom_st_tensor *t = &f->t[f->n];
    if (!(t->name = loom_strdup(c->string))) goto oom;
    f->n++;
    if (st_parse_entry(path, c, t, err) != 0) return -1;
  }
  /* names unique (cJSON keeps duplicate keys), then offsets contiguous from 0 to the end of data */
  if (f->n) qsort(f->t, (size_t)f->n, sizeof *f->t, st_cmp_by_offset);
  for (int i = 0; i < f->n; i++) f->by_name[i] = &f->t[i];
  if (f->n) qsort(f->by_name, (size_t)f->n, sizeof *f->by_name, st_cmp_by_name);
  for (int i = 1; i < f->n; i++)
    if (strcmp(f->by_name[i - 1]->name, f->by_name[i]->name) == 0)
      return loom_errorf(err, "%s: tensor name '%.*s' appears twice in the header", path, ST_SHOW, f->by_name[i]->name);
  uint64_t at = 0;
  for (int i = 0; i < f->n; i++) {
    const loom_st_tensor *t = &f->t[i];
    if (t->begin > at) {
      if (i == 0)
        return loom_errorf(err, "%s: data does not start at offset 0: the first tensor '%.*s' begins at byte %llu", path,
                           ST_SHOW, t->name, (unsigned long long)t->begin);
      return loom_errorf(err, "%s: gap in the data: tensor '%.*s' ends at byte %llu but the next, '%.*s', begins at %llu",
                         path, ST_SHOW, f->t[i - 1].name, (unsigned long long)at, ST_SHOW, t->name,
                         (unsigned long long)t->begin);
    }
    if (t->begin < at)
      return loom_errorf(err, "%s: tensors overlap: '%.*s' [%llu, %llu] and '%.*s' [%llu, %llu]", path, ST_SHOW,
                         f->t[i - 1].name, (unsigned long long)f->t[i - 1].begin, (unsigned long long)f->t[i - 1].end,
                         ST_SHOW, t->name, (unsigned long long)t->begin, (unsigned long long)t->end);
    at = t->end;
  }
  if (at < data_size)
    return loom_errorf(err, "%s: %llu trailing bytes after the last tensor (data section is %llu bytes, tensors end at "
                            "%llu)",
                       path, (unsigned long long)(data_size - at), (unsigned long long)data_size,
                       (unsigned long long)at);
  if (at > data_size)
    return loom_errorf(err, "%s: file is truncated: tensors need %llu bytes of data but only %llu are present", path,
                       (unsigned long long)at, (unsigned long long)data_size);
  return 0;
oom:
  loom_errorf(err, "%s: out of memory reading the header", path);
  return -2;
}

loom_st_file *loom_st_open(const char *path, loom_error *err) {
  assert(path);
  pthread_once(&st_hooks_once, st_cjson_hooks);
  loom_st_file *f = loom_calloc(1, sizeof *f);
  char *hdr = NULL;
  cJSON *root = NULL;
  if (!f || !(f->path = loom_strdup(path))) {
    loom_errorf(err, "%s: out of memory opening the checkpoint", path);
    goto fail;
  }
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK); /* a FIFO must not block us */
  if (fd < 0) {
    loom_errorf(err, "%s: cannot open checkpoint: %s", path, strerror(errno));
    goto fail;
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    loom_errorf(err, "%s: cannot read checkpoint: not a regular file", path);
    close(fd);
    goto fail;
  }
  uint64_t size = (uint64_t)st.st_size;
  if (size < 8) {
    close(fd);
    loom_errorf(err, "%s: file is %llu bytes, shorter than the 8-byte header length of a safetensors file",
                path, (unsigned long long)size);
    goto corrupt;
  }
  void *map = mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fd, 0);
  int e = errno;
  close(fd);
  if (map == MAP_FAILED) {
    loom_errorf(err, "%s: cannot map checkpoint: %s", path, strerror(e));
    goto fail;
  }
  f->map = map;
  f->map_size = (size_t)size;
  const unsigned char *p = map;
  uint64_t hn = 0;
  for (int i = 0; i < 8; i++) hn |= (uint64_t)p[i] << (8 * i);
  if (hn > LOOM_ST_MAX_HEADER) {
    loom_errorf(err, "%s: header length %llu is above the %u-byte cap", path,
                (unsigned long long)hn, LOOM_ST_MAX_HEADER);
    goto corrupt;
  }
  if (hn > size - 8) {
    loom_errorf(err, "%s: header length %llu runs past the end of the file (%llu bytes)",
                path, (unsigned long long)hn, (unsigned long long)size);
    goto corrupt;
  }
  size_t bad = st_utf8_check(p + 8, (size_t)hn);
  if (bad != hn) {
    loom_errorf(err, "%s: header is not valid UTF-8 text (byte %zu is 0x%02x)", path, bad, p[8 + bad]);
    goto corrupt;
  }
  if (!(hdr = loom_malloc((size_t)hn + 1))) {
    loom_errorf(err, "%s: out of memory reading the header", path);
    goto fail;
  }
  memcpy(hdr, p + 8, (size_t)hn);
  hdr[hn] = '\0';
  /* cJSON spends ~64 bytes per value: bound the count before it parses (a header of 100 MB of "0,"
   * would otherwise cost gigabytes) */
  size_t values = st_count_values(hdr, (size_t)hn);
  if (values > ST_MAX_VALUES) {
    loom_errorf(err, "%s: header holds about %zu JSON values, more than the %d that %d tensors can need", path, values,
                ST_MAX_VALUES, LOOM_ST_MAX_TENSORS);
    goto corrupt;
  }
  const char *end = NULL;
  st_oom = false;
  root = cJSON_ParseWithLengthOpts(hdr, (size_t)hn, &end, 0);
  if (!root) {
    if (st_oom) loom_errorf(err, "%s: out of memory parsing the header", path);
    else {
      size_t at = end && end >= hdr && end <= hdr + hn ? (size_t)(end - hdr) : 0;
      size_t from = at > 24 ? at - 24 : 0;
      loom_errorf(err, "%s: header is not valid JSON (error at byte %zu, after '%.*s')", path, at, (int)(at - from),
                  hdr + from);
      goto corrupt;
    }
    goto fail;
  }
  for (const char *q = end; q < hdr + hn; q++)
    if (*q != ' ' && *q != '\t' && *q != '\n' && *q != '\r') {
      loom_errorf(err, "%s: header is not valid JSON: bytes after the closing brace at byte %zu (padding must be spaces)",
                  path, (size_t)(q - hdr));
      goto corrupt;
    }
  uint64_t data_size = size - 8 - hn;
  int rc = st_parse_header(f, root, data_size, err);
  if (rc == -2) goto fail;
  if (rc != 0) goto corrupt;
  const unsigned char *data = p + 8 + hn;
  for (int i = 0; i < f->n; i++) f->t[i].data = data + f->t[i].begin;
  cJSON_Delete(root);
  loom_free(hdr);
  if (loom_st_verify(f, err) < 0) { /* a file with checksums is trusted only when its data matches them */
    loom_st_close(f);
    return NULL;
  }
  return f;
corrupt:
  if (err) {
    size_t n = strlen(err->msg);
    snprintf(err->msg + n, sizeof err->msg - n, " — not a valid safetensors checkpoint: restore it from a copy or save it again");
  }
fail:
  cJSON_Delete(root);
  loom_free(hdr);
  loom_st_close(f);
  return NULL;
}

const char *loom_st_path(const loom_st_file *f) { return f->path; }
int loom_st_count(const loom_st_file *f) { return f->n; }
const loom_st_tensor *loom_st_tensor_at(const loom_st_file *f, int i) {
  assert(i >= 0 && i < f->n);
  return &f->t[i];
}

const loom_st_tensor *loom_st_find(const loom_st_file *f, const char *name) {
  int lo = 0, hi = f->n - 1;
  while (lo <= hi) {
    int mid = lo + (hi - lo) / 2;
    int c = strcmp(name, f->by_name[mid]->name);
    if (c == 0) return f->by_name[mid];
    if (c < 0) hi = mid - 1;
    else lo = mid + 1;
  }
  return NULL;
}

const char *loom_st_meta(const loom_st_file *f, const char *key) {
  int lo = 0, hi = f->n_meta - 1;
  while (lo <= hi) {
    int mid = lo + (hi - lo) / 2;
    int c = strcmp(key, f->meta_by_key[mid]->key);
    if (c == 0) return f->meta_by_key[mid]->value;
    if (c < 0) hi = mid - 1;
    else lo = mid + 1;
  }
  return NULL;
}
int loom_st_meta_count(const loom_st_file *f) { return f->n_meta; }
void loom_st_meta_at(const loom_st_file *f, int i, const char **key, const char **value) {
  assert(i >= 0 && i < f->n_meta);
  *key = f->meta[i].key;
  *value = f->meta[i].value;
}

int loom_st_read(const loom_st_file *f, const char *name, loom_st_dtype dtype, void *dst, size_t n, loom_error *err) {
  const loom_st_tensor *t = loom_st_find(f, name);
  if (!t)
    return loom_errorf(err, "%s: no tensor '%.*s' in the checkpoint (it holds %d tensors)", f->path, ST_SHOW, name, f->n);
  if (t->dtype != dtype)
    return loom_errorf(err, "%s: tensor '%.*s' is %s, expected %s", f->path, ST_SHOW, name, st_dtypes[t->dtype].name,
                       st_dtypes[dtype].name);
  if (t->numel != n) {
    char sh[160];
    return loom_errorf(err, "%s: tensor '%.*s' has %llu elements (shape %s), expected %zu", f->path, ST_SHOW, name,
                       (unsigned long long)t->numel, st_shape_str(sh, sizeof sh, t->ndim, t->shape), n);
  }
  if (n) memcpy(dst, t->data, (size_t)(t->end - t->begin));
  return 0;
}

int loom_st_verify(const loom_st_file *f, loom_error *err) {
  const char *js = loom_st_meta(f, LOOM_ST_CHECKSUM_KEY);
  if (!js) return 1;
  st_oom = false;
  cJSON *o = cJSON_Parse(js);
  int rc = 0;
  if (!o || !cJSON_IsObject(o)) {
    rc = st_oom ? loom_errorf(err, "%s: out of memory reading metadata %s", f->path, LOOM_ST_CHECKSUM_KEY)
                : loom_errorf(err, "%s: metadata %s is not a JSON object of tensor checksums — the header is corrupt; "
                                   "use another checkpoint", f->path, LOOM_ST_CHECKSUM_KEY);
    goto done;
  }
  int n = 0;
  for (const cJSON *e = o->child; e; e = e->next, n++)
    if (!e->string || !loom_st_find(f, e->string)) {
      rc = loom_errorf(err, "%s: metadata %s has a checksum for tensor '%.*s', which the file does not hold — the "
                            "file was changed after it was written; use another checkpoint",
                       f->path, LOOM_ST_CHECKSUM_KEY, ST_SHOW, e->string ? e->string : "?");
      goto done;
    }
  for (int i = 0; i < f->n; i++) {
    const loom_st_tensor *t = &f->t[i];
    const char *want = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, t->name));
    if (!want) {
      rc = loom_errorf(err, "%s: tensor '%.*s' has no checksum in metadata %s — the file was changed after it was "
                            "written; use another checkpoint", f->path, ST_SHOW, t->name, LOOM_ST_CHECKSUM_KEY);
      goto done;
    }
    loom_sha256 h;
    uint8_t d[32];
    char hex[65];
    loom_sha256_init(&h);
    loom_sha256_update(&h, t->data, (size_t)(t->end - t->begin));
    loom_sha256_final(&h, d);
    st_hex(d, hex);
    if (strcmp(hex, want) != 0) {
      rc = loom_errorf(err, "%s: tensor '%.*s' (bytes %llu..%llu of the data section) does not match its SHA-256 in "
                            "metadata %s — the file is corrupt (changed on disk or in a copy); use another checkpoint "
                            "(last.safetensors, a backup) or retrain",
                       f->path, ST_SHOW, t->name, (unsigned long long)t->begin, (unsigned long long)t->end,
                       LOOM_ST_CHECKSUM_KEY);
      goto done;
    }
  }
  if (n != f->n) rc = loom_errorf(err, "%s: metadata %s lists a tensor twice — the header is corrupt", f->path, LOOM_ST_CHECKSUM_KEY);
done:
  cJSON_Delete(o);
  return rc;
}

int loom_st_read_f32(const loom_st_file *f, const char *name, float *dst, size_t n, loom_error *err) {
  return loom_st_read(f, name, LOOM_ST_F32, dst, n, err);
}

/* ---- graphs ---- */
int loom_st_save_graph(loom_graph *g, const char *path, int n_meta, const char *const *meta, loom_error *err) {
  loom_st_writer *w = loom_st_writer_new();
  if (!w) return st_write_error(err, path, "allocating memory", ENOMEM);
  int rc = loom_st_writer_add_graph(w, g, err);
  for (int i = 0; rc == 0 && i < n_meta; i++) rc = loom_st_writer_meta(w, meta[2 * i], meta[2 * i + 1], err);
  if (rc == 0) rc = loom_st_write(w, path, err);
  else loom_error_wrap(err, "cannot save checkpoint %s (nothing was written; a previous file there is intact)", path);
  loom_st_writer_free(w);
  return rc;
}

/* Appends to a fixed message buffer, marking truncation with "..." once full. */
typedef struct {
  char s[240]; /* three lists, the path and the advice fit in one loom_error */
  size_t n;
  int items, dropped;
} st_list;
static void st_list_add(st_list *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void st_list_add(st_list *l, const char *fmt, ...) {
  char item[400];
  va_list ap;
  va_start(ap, fmt);
  int k = vsnprintf(item, sizeof item, fmt, ap);
  va_end(ap);
  size_t need = (size_t)k + (l->items ? 2 : 0);
  if (l->dropped || l->n + need + 24 >= sizeof l->s) {
    l->dropped++;
    return;
  }
  l->n += (size_t)snprintf(l->s + l->n, sizeof l->s - l->n, "%s%s", l->items ? ", " : "", item);
  l->items++;
}

static loom_st_dtype st_of(const loom_tensor *t) { return t->dtype == LOOM_F32 ? LOOM_ST_F32 : LOOM_ST_I32; }

int loom_st_load_graph_from(loom_graph *g, const loom_st_file *f, int flags, loom_error *err) {
  int np = loom_graph_n_param_tensors(g), nb = loom_graph_n_buffer_tensors(g);
  st_list missing = {0}, unexpected = {0}, mismatched = {0};
  int n_missing = 0, n_unexpected = 0, n_mismatched = 0;
  char s1[160], s2[160];
  bool *used = f->n ? loom_calloc((size_t)f->n, sizeof *used) : NULL; /* file tensors the graph names */
  if (f->n && !used) return loom_errorf(err, "%s: out of memory matching the checkpoint to the model", f->path);
  for (int i = 0; i < np + nb; i++) {
    loom_tensor *t = i < np ? loom_graph_param_tensor(g, i) : loom_graph_buffer_tensor(g, i - np);
    int64_t shape[LOOM_MAX_DIMS];
    for (int d = 0; d < t->ndim; d++) shape[d] = t->shape[d];
    const loom_st_tensor *s = loom_st_find(f, t->name);
    if (!s) {
      n_missing++;
      st_list_add(&missing, "%s %s", t->name, st_shape_str(s1, sizeof s1, t->ndim, shape));
      continue;
    }
    used[s - f->t] = true;
    bool same = s->dtype == st_of(t) && s->ndim == t->ndim;
    for (int d = 0; same && d < t->ndim; d++) same = s->shape[d] == shape[d];
    if (!same) {
      n_mismatched++;
      st_list_add(&mismatched, "%s (file %s %s, graph %s %s)", t->name, st_dtypes[s->dtype].name,
                  st_shape_str(s1, sizeof s1, s->ndim, s->shape), st_dtypes[st_of(t)].name,
                  st_shape_str(s2, sizeof s2, t->ndim, shape));
    }
  }
  for (int i = 0; i < f->n; i++) {
    const loom_st_tensor *s = &f->t[i];
    if (!used[i]) {
      n_unexpected++;
      st_list_add(&unexpected, "%.*s %s", ST_SHOW, s->name, st_shape_str(s1, sizeof s1, s->ndim, s->shape));
    }
  }
  loom_free(used);
  bool bad_missing = n_missing && !(flags & LOOM_ST_ALLOW_MISSING);
  bool bad_unexpected = n_unexpected && !(flags & LOOM_ST_ALLOW_UNEXPECTED);
  if (n_mismatched || bad_missing || bad_unexpected) {
    char msg[LOOM_ERROR_MAX];
    size_t o = (size_t)snprintf(msg, sizeof msg, "%s: checkpoint does not match the model:", f->path);
    const struct { bool on; const char *what; st_list *l; int n; } parts[3] = {
        {n_mismatched > 0, "wrong shape or dtype", &mismatched, n_mismatched},
        {bad_missing, "missing from the file", &missing, n_missing},
        {bad_unexpected, "not in the model", &unexpected, n_unexpected},
    };
    for (int k = 0; k < 3; k++) {
      if (!parts[k].on || o >= sizeof msg) continue;
      o += (size_t)snprintf(msg + o, sizeof msg - o, " %d %s: %s", parts[k].n, parts[k].what, parts[k].l->s);
      if (parts[k].l->dropped && o < sizeof msg)
        o += (size_t)snprintf(msg + o, sizeof msg - o, ", ... (%d more)", parts[k].l->dropped);
      if (o < sizeof msg) o += (size_t)snprintf(msg + o, sizeof msg - o, ";");
    }
    if (o < sizeof msg)
      snprintf(msg + o, sizeof msg - o, " build the model with the configuration it was trained with%s",
               n_mismatched ? "" : ", or allow missing/unexpected tensors to load part of it");
    return loom_errorf(err, "%s", msg);
  }
  for (int i = 0; i < np + nb; i++) {
    loom_tensor *t = i < np ? loom_graph_param_tensor(g, i) : loom_graph_buffer_tensor(g, i - np);
    const loom_st_tensor *s = loom_st_find(f, t->name);
    if (!s) continue;
    void *dst = t->dtype == LOOM_F32 ? (void *)t->data : (void *)t->idata;
    memcpy(dst, s->data, (size_t)(s->end - s->begin));
  }
  return 0;
}

int loom_st_load_graph(loom_graph *g, const char *path, int flags, loom_error *err) {
  loom_st_file *f = loom_st_open(path, err);
  if (!f) return -1;
  int rc = loom_st_load_graph_from(g, f, flags, err);
  loom_st_close(f);
  return rc;
}
