/* loom/safetensors.h — checkpoints in the safetensors format (8-byte LE header length N, N bytes of
 * JSON header padded with spaces, then the raw little-endian tensor data, contiguous, no gaps).
 * Writes are crash-safe (temp file, fsync, rename, fsync dir); reads validate every header rule before
 * a byte of data is trusted. What goes into a training checkpoint (optimizer moments, step, RNG) is
 * the trainer's business: it adds those tensors and metadata to a writer next to the graph's.
 *
 *   loom_st_writer *w = loom_st_writer_new();
 *   loom_st_writer_add_graph(w, g, &err);               // params + buffers, by name
 *   loom_st_writer_meta(w, "step", "1200", &err);
 *   loom_st_write(w, "model.safetensors", &err);        // atomic: old file intact on any failure
 *   loom_st_writer_free(w);
 *   loom_st_load_graph(g, "model.safetensors", 0, &err); // every param present, exact shapes
 */
#ifndef LOOM_SAFETENSORS_H
#define LOOM_SAFETENSORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loom/error.h"
#include "loom/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Element types of the format (names as in the header: "F32", "I64", ...). */
typedef enum {
  LOOM_ST_BOOL = 0,
  LOOM_ST_U8,
  LOOM_ST_I8,
  LOOM_ST_F8_E5M2,
  LOOM_ST_F8_E4M3,
  LOOM_ST_I16,
  LOOM_ST_U16,
  LOOM_ST_F16,
  LOOM_ST_BF16,
  LOOM_ST_I32,
  LOOM_ST_U32,
  LOOM_ST_F32,
  LOOM_ST_F64,
  LOOM_ST_I64,
  LOOM_ST_U64,
  LOOM_ST_DTYPE_COUNT
} loom_st_dtype;

#define LOOM_ST_MAX_DIMS 8                   /* dims per tensor */
#define LOOM_ST_MAX_HEADER (100u << 20)      /* header bytes a reader accepts */
#define LOOM_ST_MAX_TENSORS 100000           /* tensors per file */
#define LOOM_ST_NAME_MAX 1024                /* bytes per tensor name / metadata key */

/* Bytes per element; "F32" etc. Parse returns -1 for an unknown name. */
size_t loom_st_dtype_size(loom_st_dtype dt);
const char *loom_st_dtype_name(loom_st_dtype dt);
int loom_st_dtype_parse(const char *name, loom_st_dtype *out);

/* ---- writing ---- */
typedef struct loom_st_writer loom_st_writer;

/* An empty writer whose metadata holds "format": "pt". NULL when out of memory. */
loom_st_writer *loom_st_writer_new(void);
void loom_st_writer_free(loom_st_writer *w);
/* Adds a tensor: name (UTF-8, 1..LOOM_ST_NAME_MAX bytes, unique, not "__metadata__"), dtype,
 * row-major shape (ndim 0..LOOM_ST_MAX_DIMS) and its data, which is NOT copied: it must stay valid
 * until loom_st_write returns. Data is written in the order tensors are added. */
int loom_st_writer_add(loom_st_writer *w, const char *name, loom_st_dtype dtype, int ndim, const int64_t *shape,
                       const void *data, loom_error *err);
/* Sets metadata key -> value (UTF-8 strings; a key set twice keeps the last value; "format" stays "pt"). */
int loom_st_writer_meta(loom_st_writer *w, const char *key, const char *value, loom_error *err);
/* Adds every parameter, then every buffer of g under its tensor name, as F32 (I32 for I32). */
int loom_st_writer_add_graph(loom_st_writer *w, loom_graph *g, loom_error *err);
/* With on, loom_st_write also records the SHA-256 of every tensor's data in metadata
 * LOOM_ST_CHECKSUM_KEY (a JSON object: tensor name -> lower-case hex digest) for loom_st_verify.
 * Off by default, so a plain file stays byte-identical to other writers' output. */
#define LOOM_ST_CHECKSUM_KEY "loom.sha256"
void loom_st_writer_checksums(loom_st_writer *w, bool on);
/* Writes the file: path.tmp.<pid> in the same directory, write, fsync, close, rename over path,
 * fsync the directory. On any failure the temp file is removed and a previous file at path is left
 * untouched; the message names the path and the OS error. One writer per path at a time (threads of
 * one process would share the temp name). The writer can be written again, e.g. to a second path. */
int loom_st_write(loom_st_writer *w, const char *path, loom_error *err);

/* ---- reading ---- */
typedef struct loom_st_file loom_st_file;

/* One tensor of an open file. `data` points into the mapped file and may be unaligned for its dtype:
 * read through memcpy or loom_st_read*. */
typedef struct loom_st_tensor {
  const char *name;
  loom_st_dtype dtype;
  int ndim;
  int64_t shape[LOOM_ST_MAX_DIMS];
  uint64_t numel;
  uint64_t begin, end; /* data_offsets: byte range in the data section */
  const void *data;
} loom_st_tensor;

/* Maps path read-only and validates the whole header before any data is trusted: length field, caps,
 * UTF-8, JSON, __metadata__ strings, each entry's dtype/shape/data_offsets, size = shape x dtype,
 * unique names, offsets contiguous from 0 to exactly the end of the file, and, when the file carries
 * LOOM_ST_CHECKSUM_KEY, every tensor's data against its SHA-256 (loom_st_verify). NULL with a message naming
 * the file, the tensor or key and the rule broken. The mapping lives until loom_st_close; like any
 * mmap it assumes nobody truncates the file in place meanwhile (loom_st_write never does: it renames). */
loom_st_file *loom_st_open(const char *path, loom_error *err);
void loom_st_close(loom_st_file *f);
const char *loom_st_path(const loom_st_file *f);
int loom_st_count(const loom_st_file *f);
/* The i-th tensor in data order (ascending offsets), 0 <= i < count. */
const loom_st_tensor *loom_st_tensor_at(const loom_st_file *f, int i);
/* The tensor called name, or NULL (O(log n)). */
const loom_st_tensor *loom_st_find(const loom_st_file *f, const char *name);
/* Metadata value for key, or NULL. Entries in header order via loom_st_meta_at. */
const char *loom_st_meta(const loom_st_file *f, const char *key);
int loom_st_meta_count(const loom_st_file *f);
void loom_st_meta_at(const loom_st_file *f, int i, const char **key, const char **value);
/* Checks every tensor's bytes against the file's LOOM_ST_CHECKSUM_KEY metadata (loom_st_open does it
 * once already): 0 when all match,
 * 1 when the file carries no checksums (written without them, e.g. by an older loom: nothing to
 * verify), -1 with err naming the file and the first tensor whose data differs (a flipped bit on disk
 * or in a copy), or a checksum list that does not cover exactly the file's tensors. */
int loom_st_verify(const loom_st_file *f, loom_error *err);
/* Copies tensor `name` into dst (n elements of dtype): fails, naming file and tensor, when it is
 * absent, of another dtype or of another element count. */
int loom_st_read(const loom_st_file *f, const char *name, loom_st_dtype dtype, void *dst, size_t n, loom_error *err);
int loom_st_read_f32(const loom_st_file *f, const char *name, float *dst, size_t n, loom_error *err);

/* ---- graphs ---- */
enum {
  LOOM_ST_ALLOW_MISSING = 1,    /* graph tensors absent from the file keep their values */
  LOOM_ST_ALLOW_UNEXPECTED = 2, /* file tensors the graph does not have are ignored */
};
/* Saves g's params and buffers plus metadata (n_meta pairs: meta[2i] -> meta[2i+1]) to path. */
int loom_st_save_graph(loom_graph *g, const char *path, int n_meta, const char *const *meta, loom_error *err);
/* Loads path into g's params and buffers by name. Every graph tensor must be in the file with the
 * same dtype and exact shape, and every file tensor in the graph, unless flags allow it; the message
 * lists the missing, unexpected and mismatched names. Nothing is copied unless all checks pass. */
int loom_st_load_graph(loom_graph *g, const char *path, int flags, loom_error *err);
/* The same from an open file. */
int loom_st_load_graph_from(loom_graph *g, const loom_st_file *f, int flags, loom_error *err);

/* ---- testing: simulate I/O failures in loom_st_write ---- */
typedef enum {
  LOOM_ST_FAULT_NONE = 0,
  LOOM_ST_FAULT_OPEN,    /* creating the temp file fails */
  LOOM_ST_FAULT_WRITE,   /* a write stores half its bytes, then fails (ENOSPC-like) */
  LOOM_ST_FAULT_FSYNC,   /* fsync of the temp file fails */
  LOOM_ST_FAULT_CLOSE,   /* close of the temp file fails */
  LOOM_ST_FAULT_RENAME,  /* rename over the target fails */
  LOOM_ST_FAULT_DIRSYNC, /* fsync of the directory fails (after the rename) */
} loom_st_fault_step;
/* Process-wide and not thread-safe: for tests only.
 * The next loom_st_write fails at `step` with errno `err_no` (then injection turns itself off);
 * for LOOM_ST_FAULT_WRITE, the fault hits the write call numbered `nth` (1 = the 8-byte length,
 * 2 = the header text, 2 + i = tensor i's data). */
void loom_st_fault_set(loom_st_fault_step step, int err_no, int nth);

#ifdef __cplusplus
}
#endif
#endif
