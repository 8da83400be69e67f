/* idx.c — Fashion-MNIST's IDX files (gzip or plain) to PNG images plus a CSV per split
 * (loom_convert_fashion_mnist), and the checked loader the fashion-shop simulator builds on. IDX:
 * magic 0x0000 | type 0x08 (ubyte) | ndim, then ndim big-endian uint32 sizes, then prod(sizes) bytes;
 * every inconsistency is reported with the file. PNGs go through stb_image_write (this file is its one
 * implementation in libloom). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "convert_internal.h"
#include "loom/data.h"
#include "loom/file.h"
#include "data_internal.h"
#include "loom/alloc.h"
#include "loom/convert.h"

#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_WRITE_STATIC
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"
#include <stb/stb_image_write.h>
#pragma GCC diagnostic pop

const char *const ld_fm_names[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                     "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

typedef struct {
  int ndim;
  uint32_t dims[3];
  uint8_t *data; /* (dims[0], dims[1], dims[2]) row-major */
} idx_array;

/* zlib's gzerror message without the path prefix it sometimes adds (our messages name the path). */
static const char *gz_msg(gzFile gz, const char *path, int *zerr) {
  const char *m = gzerror(gz, zerr);
  size_t n = strlen(path);
  return strncmp(m, path, n) == 0 && m[n] == ':' && m[n + 1] == ' ' ? m + n + 2 : m;
}

static int idx_fail(gzFile gz) {
  gzclose(gz);
  return -1;
}

static int idx_read(const char *path, int want_ndim, idx_array *a, loom_error *err) {
  memset(a, 0, sizeof *a);
  int fd = loom_file_open_regular(path, 0, "IDX", NULL, NULL, err);
  if (fd == -2)
    return loom_errorf(err, "%s: cannot open: %s — install it with scripts/install-deps.sh --demo", path, strerror(errno));
  if (fd < 0) return -1;
  gzFile gz = gzdopen(fd, "rb");
  if (!gz) {
    close(fd);
    return loom_errorf(err, "%s: out of memory opening the file", path);
  }
  uint8_t hdr[16];
  int hlen = 4 + 4 * want_ndim;
  int got = gzread(gz, hdr, (unsigned)hlen);
  int zerr = 0;
  const char *zmsg = gz_msg(gz, path, &zerr);
  if (got < 0 || (zerr != Z_OK && zerr != Z_BUF_ERROR)) {
    loom_errorf(err, "%s: corrupt gzip stream (%s) — re-download or reinstall the file", path, zmsg);
    return idx_fail(gz);
  }
  if (got < 4) {
    loom_errorf(err, "%s: truncated: %d-byte file is shorter than the 4-byte IDX magic number", path, got);
    return idx_fail(gz);
  }
  uint32_t magic = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
  uint32_t want_magic = 0x00000800u | (uint32_t)want_ndim;
  if (magic != want_magic) {
    loom_errorf(err, "%s: bad IDX magic number 0x%08x, expected 0x%08x (unsigned bytes, %d-D) — not an IDX %s file",
                path, magic, want_magic, want_ndim, want_ndim == 1 ? "label" : "image");
    return idx_fail(gz);
  }
  if (got < hlen) {
    loom_errorf(err, "%s: truncated: header has %d of %d bytes", path, got, hlen);
    return idx_fail(gz);
  }
  a->ndim = want_ndim;
  uint64_t total = 1;
  for (int d = 0; d < want_ndim; d++) {
    const uint8_t *p = hdr + 4 + 4 * d;
    a->dims[d] = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    if (a->dims[d] == 0 || a->dims[d] > 10000000u) {
      loom_errorf(err, "%s: implausible size %u in dimension %d of the IDX header — file is corrupt", path,
                  a->dims[d], d);
      return idx_fail(gz);
    }
    total *= a->dims[d];
  }
  if (total > ((uint64_t)1 << 32)) {
    loom_errorf(err, "%s: IDX header declares %llu bytes of data — file is corrupt", path, (unsigned long long)total);
    return idx_fail(gz);
  }
  a->data = loom_malloc(total ? total : 1);
  if (!a->data) {
    gzclose(gz);
    return loom_errorf(err, "%s: out of memory for %llu bytes", path, (unsigned long long)total);
  }
  uint64_t have = 0;
  while (have < total) {
    unsigned chunk = (unsigned)((total - have) > (1u << 30) ? (1u << 30) : (total - have));
    int r = gzread(gz, a->data + have, chunk);
    if (r <= 0) break;
    have += (uint64_t)r;
  }
  int ok = 0;
  zmsg = gz_msg(gz, path, &zerr);
  if (zerr != Z_OK && zerr != Z_BUF_ERROR) {
    loom_errorf(err, "%s: corrupt gzip stream after %llu of %llu data bytes (%s) — re-download or reinstall the file",
                path, (unsigned long long)have, (unsigned long long)total, zmsg);
  } else if (have < total) {
    loom_errorf(err, "%s: truncated: header declares %llu data bytes, file has %llu — re-download or reinstall the file",
                path, (unsigned long long)total, (unsigned long long)have);
  } else {
    uint8_t extra;
    if (gzread(gz, &extra, 1) == 1)
      loom_errorf(err, "%s: trailing data after the %llu bytes the IDX header declares — file is corrupt", path,
                  (unsigned long long)total);
    else
      ok = 1;
  }
  /* the stream must end with its trailer and CRC: a file cut after the last data byte is truncated */
  if (ok && loom_gz_close_checked(gz, path, err) < 0) ok = 0;
  else if (!ok) gzclose(gz);
  if (!ok) {
    loom_free(a->data);
    a->data = NULL;
    return -1;
  }
  return 0;
}

/* <src>/<name>.gz, or <src>/<name> when only the uncompressed file exists. */
static int fm_path(char *out, size_t cap, const char *src, const char *name, loom_error *err) {
  char gz[128];
  snprintf(gz, sizeof gz, "%s.gz", name);
  if (ld_path_join(out, cap, src, gz, err)) return -1;
  if (access(out, F_OK) != 0) {
    char plain[LD_PATH_MAX];
    if (ld_path_join(plain, sizeof plain, src, name, err)) return -1;
    if (access(plain, F_OK) == 0) memcpy(out, plain, strlen(plain) + 1);
  }
  return 0;
}

int ld_fm_load(const char *src, const char *prefix, ld_fm_split *s, loom_error *err) {
  char ip[LD_PATH_MAX], lp[LD_PATH_MAX], name[64];
  memset(s, 0, sizeof *s);
  snprintf(name, sizeof name, "%s-images-idx3-ubyte", prefix);
  if (fm_path(ip, sizeof ip, src, name, err)) return -1;
  snprintf(name, sizeof name, "%s-labels-idx1-ubyte", prefix);
  if (fm_path(lp, sizeof lp, src, name, err)) return -1;
  idx_array im, lb;
  if (idx_read(ip, 3, &im, err)) return -1;
  if (idx_read(lp, 1, &lb, err)) {
    loom_free(im.data);
    return -1;
  }
  int rc = 0;
  if (im.dims[1] != 28 || im.dims[2] != 28)
    rc = loom_errorf(err, "%s: images are %ux%u, expected 28x28 for Fashion-MNIST", ip, im.dims[1], im.dims[2]);
  else if (im.dims[0] != lb.dims[0])
    rc = loom_errorf(err, "%s: %u labels but %s has %u images — the two files do not belong together", lp,
                     lb.dims[0], ip, im.dims[0]);
  for (uint32_t i = 0; !rc && i < lb.dims[0]; i++)
    if (lb.data[i] > 9) rc = loom_errorf(err, "%s: label %u of item %u is out of range [0, 9]", lp, lb.data[i], i);
  if (rc) {
    loom_free(im.data);
    loom_free(lb.data);
    return -1;
  }
  s->n = im.dims[0];
  s->images = im.data;
  s->labels = lb.data;
  return 0;
}

void ld_fm_free(ld_fm_split *s) {
  loom_free(s->images);
  loom_free(s->labels);
  memset(s, 0, sizeof *s);
}

int ld_write_png28(const char *path, const uint8_t *img, loom_error *err) {
  if (!stbi_write_png(path, 28, 28, 1, img, 28))
    return loom_errorf(err, "%s: cannot write PNG — check the output directory", path);
  return 0;
}

/* One split: images/<split>/NNNNN.png and <split>.csv. */
static int convert_split(const char *src, const char *out, const char *prefix, const char *split, uint32_t *n,
                         loom_error *err) {
  ld_fm_split d;
  if (ld_fm_load(src, prefix, &d, err)) return -1;
  char dir[LD_PATH_MAX], rel[64], path[LD_PATH_MAX], csvname[32];
  snprintf(rel, sizeof rel, "images/%s", split);
  snprintf(csvname, sizeof csvname, "%s.csv", split);
  FILE *f = NULL;
  if (ld_path_join(dir, sizeof dir, out, rel, err) || ld_mkdir_p(dir, err) || !(f = ld_create(out, csvname, err)))
    goto fail;
  ld_csv_put(f, 1, "image");
  ld_csv_put(f, 0, "label");
  ld_csv_put(f, 0, "category");
  ld_csv_end(f);
  for (uint32_t i = 0; i < d.n; i++) {
    snprintf(rel, sizeof rel, "images/%s/%05u.png", split, i);
    if (ld_path_join(path, sizeof path, out, rel, err) || ld_write_png28(path, d.images + (size_t)i * 784, err))
      goto fail;
    ld_csv_put(f, 1, rel);
    ld_csv_putf(f, 0, "%u", d.labels[i]);
    ld_csv_put(f, 0, ld_fm_names[d.labels[i]]);
    ld_csv_end(f);
  }
  int rc = ld_close(f, out, csvname, err);
  *n = d.n;
  ld_fm_free(&d);
  return rc;
fail:
  if (f) fclose(f);
  ld_fm_free(&d);
  return -1;
}

int loom_convert_fashion_mnist(const char *src, const char *out, loom_fashion_mnist_stats *st, loom_error *err) {
  loom_fashion_mnist_stats s = {0};
  if (convert_split(src, out, "train", "train", &s.n_train, err) ||
      convert_split(src, out, "t10k", "test", &s.n_test, err))
    return -1;
  if (st) *st = s;
  return 0;
}
