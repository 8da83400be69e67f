/* image.c — decode (PNG/BMP through stb_image, JPEG through libjpeg-turbo), resize and normalise
 * into (C, H, W) floats (loom/image.h). Every size is checked against the caps from the file header
 * before a pixel buffer is allocated. The per-path cache and augmentation live in the loader. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

#include "data_internal.h"
#include "loom/alloc.h"
#include "loom/data.h"
#include "loom/image.h"

void loom_image_opts_default(loom_image_opts *o) {
  memset(o, 0, sizeof *o);
  o->C = 1;
  o->H = o->W = 28;
  for (int c = 0; c < 3; c++) o->mean[c] = 0.0f, o->std[c] = 1.0f;
}

static int check_dims(const char *name, int w, int h, int max_dim, loom_error *err) {
  if (w <= 0 || h <= 0) return loom_errorf(err, "%s: image has zero size (%d x %d) — replace the file", name, w, h);
  if (w > max_dim || h > max_dim)
    return loom_errorf(err, "%s: image is %d x %d, over the cap of %d pixels per side — resize it offline or raise the cap",
                       name, w, h, max_dim);
  if ((int64_t)w * h > LD_IMAGE_MAX_PIXELS) /* a few bytes of PNG can claim 16384 x 16384 (800 MB decoded) */
    return loom_errorf(err, "%s: image is %d x %d = %lld pixels, over the cap of %lld pixels — resize it offline",
                       name, w, h, (long long)w * h, (long long)LD_IMAGE_MAX_PIXELS);
  return 0;
}

static int decode_jpeg(const unsigned char *data, size_t n, int channels, const char *name, int max_dim, uint8_t **pix,
                       int *w, int *h, loom_error *err) {
  tjhandle tj = tjInitDecompress();
  if (!tj) return loom_errorf(err, "%s: cannot start the JPEG decoder (%s)", name, tjGetErrorStr());
  int subsamp, cs, rc = 0;
  if (tjDecompressHeader3(tj, data, (unsigned long)n, w, h, &subsamp, &cs) != 0) {
    rc = loom_errorf(err, "%s: corrupt JPEG header (%s) — replace the file", name, tjGetErrorStr2(tj));
  } else if (check_dims(name, *w, *h, max_dim, err) < 0) {
    rc = -1;
  } else if (!(*pix = loom_malloc((size_t)*w * (size_t)*h * (size_t)channels))) {
    rc = loom_errorf(err, "%s: out of memory for a %d x %d image", name, *w, *h);
  } else {
    int flags = TJFLAG_STOPONWARNING;
#ifdef TJFLAG_LIMITSCANS
    flags |= TJFLAG_LIMITSCANS;
#endif
    if (cs == TJCS_CMYK || cs == TJCS_YCCK) {
      /* libjpeg cannot convert CMYK to RGB: decode the (Adobe, inverted) CMYK and convert without
       * colour management, R = C K / 255 as libjpeg-turbo's cmyk.h and Pillow do */
      uint8_t *cmyk = loom_malloc((size_t)*w * (size_t)*h * 4);
      if (!cmyk) {
        rc = loom_errorf(err, "%s: out of memory for a %d x %d CMYK image", name, *w, *h);
      } else if (tjDecompress2(tj, data, (unsigned long)n, cmyk, *w, 0, *h, TJPF_CMYK, flags) != 0) {
        rc = loom_errorf(err, "%s: corrupt or truncated JPEG (%s) — replace the file", name, tjGetErrorStr2(tj));
      } else {
        for (size_t i = 0, np = (size_t)*w * (size_t)*h; i < np; i++) {
          const uint8_t *q = cmyk + 4 * i;
          unsigned r = (q[0] * q[3] + 127) / 255, g = (q[1] * q[3] + 127) / 255, b = (q[2] * q[3] + 127) / 255;
          if (channels == 1) (*pix)[i] = (uint8_t)((299 * r + 587 * g + 114 * b + 500) / 1000); /* ITU-R 601 luma, as libjpeg */
          else (*pix)[3 * i] = (uint8_t)r, (*pix)[3 * i + 1] = (uint8_t)g, (*pix)[3 * i + 2] = (uint8_t)b;
        }
      }
      loom_free(cmyk);
    } else if (tjDecompress2(tj, data, (unsigned long)n, *pix, *w, 0, *h, channels == 1 ? TJPF_GRAY : TJPF_RGB, flags) != 0) {
      rc = loom_errorf(err, "%s: corrupt or truncated JPEG (%s) — replace the file", name, tjGetErrorStr2(tj));
    }
    if (rc < 0) {
      loom_free(*pix);
      *pix = NULL;
    }
  }
  tjDestroy(tj);
  return rc;
}

/* stb_image 2.27 computes idata + ioff with idata still NULL when the first IDAT chunk is empty
 * (undefined behaviour; found by fuzz_image: tests/data/images/empty_idat*.png). Empty IDAT chunks
 * carry no data, so a copy without them decodes to the same pixels. png_walk copies every chunk but
 * the empty IDATs into c (if not NULL; a truncated last chunk is copied as is, stb_image reports it),
 * sets *cn to the bytes copied and returns how many it dropped. */
static size_t png_walk(const unsigned char *u, size_t n, unsigned char *c, size_t *cn) {
  size_t o = 8, k = 8, dropped = 0;
  if (c) memcpy(c, u, 8);
  while (o + 8 <= n) { /* length and type present */
    uint32_t len = (uint32_t)u[o] << 24 | (uint32_t)u[o + 1] << 16 | (uint32_t)u[o + 2] << 8 | u[o + 3];
    size_t rest = n - o - 8, whole = len <= rest && rest - len >= 4 ? 12 + (size_t)len : n - o;
    if (len == 0 && memcmp(u + o + 4, "IDAT", 4) == 0) {
      dropped++;
    } else {
      if (c) memcpy(c + k, u + o, whole);
      k += whole;
    }
    o += whole;
  }
  if (c && o < n) memcpy(c + k, u + o, n - o);
  *cn = k + (n - o);
  return dropped;
}

/* 1 and *out (loom_free it) when the file had empty IDATs, 0 when not, -1 when out of memory. */
static int png_drop_empty_idat(const unsigned char *u, size_t n, unsigned char **out, size_t *out_n) {
  if (!png_walk(u, n, NULL, out_n)) return 0;
  if (!(*out = loom_malloc(*out_n))) return -1;
  png_walk(u, n, *out, out_n);
  return 1;
}

int loom_image_decode(const void *data, size_t n, int channels, const char *name, uint8_t **pix, int *w, int *h,
                      loom_error *err) {
  return ld_image_decode(data, n, channels, LD_IMAGE_MAX_DIM, name, pix, w, h, err);
}

int ld_image_decode(const void *data, size_t n, int channels, int max_dim, const char *name, uint8_t **pix, int *w,
                    int *h, loom_error *err) {
  const unsigned char *u = data;
  *pix = NULL;
  if (max_dim <= 0 || max_dim > LD_IMAGE_MAX_DIM) max_dim = LD_IMAGE_MAX_DIM;
  if (n == 0) return loom_errorf(err, "%s: file is empty (0 bytes) — replace the file", name);
  if (n >= 3 && u[0] == 0xFF && u[1] == 0xD8 && u[2] == 0xFF)
    return decode_jpeg(u, n, channels, name, max_dim, pix, w, h, err);
  int is_png = n >= 8 && memcmp(u, "\x89PNG\r\n\x1a\n", 8) == 0, is_bmp = n >= 2 && u[0] == 'B' && u[1] == 'M';
  if (!is_png && !is_bmp)
    /* the file's bytes are never quoted: the path may point at a file that is not the user's to read */
    return loom_errorf(err, "%s: not a PNG, BMP or JPEG file (no image signature at its start) — check image_col and image_root",
                       name);
  /* read the size from the header ourselves, so an oversized image is named as such (stb_image
   * only says "unknown image type" past its STBI_MAX_DIMENSIONS) */
  if (is_png && n >= 24 && memcmp(u + 12, "IHDR", 4) == 0) {
    int64_t pw = (int64_t)u[16] << 24 | u[17] << 16 | u[18] << 8 | u[19];
    int64_t ph = (int64_t)u[20] << 24 | u[21] << 16 | u[22] << 8 | u[23];
    if (check_dims(name, pw > INT32_MAX ? INT32_MAX : (int)pw, ph > INT32_MAX ? INT32_MAX : (int)ph, max_dim, err) < 0)
      return -1;
  } else if (is_bmp && n >= 26) {
    int32_t bw = (int32_t)((uint32_t)u[18] | (uint32_t)u[19] << 8 | (uint32_t)u[20] << 16 | (uint32_t)u[21] << 24);
    int32_t bh = (int32_t)((uint32_t)u[22] | (uint32_t)u[23] << 8 | (uint32_t)u[24] << 16 | (uint32_t)u[25] << 24);
    if (bh < 0 && bh != INT32_MIN) bh = -bh; /* top-down bitmap */
    if (check_dims(name, bw, bh, max_dim, err) < 0) return -1;
  }
  int comp;
  if (!ld_stbi_info(data, n, w, h, &comp))
    return loom_errorf(err, "%s: corrupt %s header (%s) — replace the file", name, is_png ? "PNG" : "BMP", ld_stbi_failure());
  if (check_dims(name, *w, *h, max_dim, err) < 0) return -1;
  unsigned char *copy = NULL;
  size_t cn = 0;
  int dropped = is_png ? png_drop_empty_idat(u, n, &copy, &cn) : 0;
  if (dropped < 0) return loom_errorf(err, "%s: out of memory", name);
  *pix = dropped ? ld_stbi_load(copy, cn, w, h, channels) : ld_stbi_load(data, n, w, h, channels);
  loom_free(copy);
  if (!*pix)
    return loom_errorf(err, "%s: corrupt or truncated %s (%s) — replace the file", name, is_png ? "PNG" : "BMP", ld_stbi_failure());
  return 0;
}

/* Taps of one axis: out o reads in[start[o] .. start[o] + cnt[o]) with weights wt[o * maxt + k]. */
typedef struct axis {
  int *start, *cnt, maxt;
  float *wt;
} axis;

static int axis_make(axis *a, int in, int out) {
  double s = (double)in / out;
  a->maxt = s > 1 ? (int)ceil(s) + 1 : 2;
  a->start = loom_malloc((size_t)out * sizeof(int));
  a->cnt = loom_malloc((size_t)out * sizeof(int));
  a->wt = loom_calloc((size_t)out * (size_t)a->maxt, sizeof(float));
  if (!a->start || !a->cnt || !a->wt) return -1;
  for (int o = 0; o < out; o++) {
    float *w = a->wt + (size_t)o * a->maxt;
    if (s > 1) { /* area: average of the source span [o s, (o + 1) s) */
      double lo = o * s, hi = (o + 1) * s;
      int i0 = (int)floor(lo), i1 = (int)ceil(hi);
      if (i1 > in) i1 = in;
      a->start[o] = i0;
      a->cnt[o] = i1 - i0;
      for (int i = i0; i < i1; i++) {
        double ov = fmin(hi, i + 1.0) - fmax(lo, (double)i);
        w[i - i0] = (float)(ov / s);
      }
    } else { /* bilinear with half-pixel centres (PyTorch align_corners=False, OpenCV INTER_LINEAR) */
      double x = (o + 0.5) * s - 0.5;
      if (x < 0) x = 0;
      int i0 = (int)floor(x);
      if (i0 > in - 1) i0 = in - 1;
      double f = x - i0;
      a->start[o] = i0;
      if (i0 + 1 < in && f > 0) {
        a->cnt[o] = 2;
        w[0] = (float)(1 - f);
        w[1] = (float)f;
      } else {
        a->cnt[o] = 1;
        w[0] = 1.0f;
      }
    }
  }
  return 0;
}

static void axis_free(axis *a) {
  loom_free(a->start);
  loom_free(a->cnt);
  loom_free(a->wt);
}

int loom_image_resize(const uint8_t *src, int iw, int ih, int c, float *dst, int ow, int oh) {
  axis ax = {0}, ay = {0};
  float *tmp = loom_malloc((size_t)c * ih * ow * sizeof(float)); // (c, ih, ow)
  int rc = -1;
  if (!tmp || axis_make(&ax, iw, ow) < 0 || axis_make(&ay, ih, oh) < 0) goto done;
  for (int y = 0; y < ih; y++)
    for (int o = 0; o < ow; o++) {
      const float *w = ax.wt + (size_t)o * ax.maxt;
      for (int ch = 0; ch < c; ch++) {
        float acc = 0;
        for (int k = 0; k < ax.cnt[o]; k++) acc += w[k] * src[((size_t)y * iw + ax.start[o] + k) * c + ch];
        tmp[((size_t)ch * ih + y) * ow + o] = acc;
      }
    }
  for (int ch = 0; ch < c; ch++)
    for (int o = 0; o < oh; o++) {
      const float *w = ay.wt + (size_t)o * ay.maxt;
      float *d = dst + ((size_t)ch * oh + o) * ow;
      for (int x = 0; x < ow; x++) d[x] = 0;
      for (int k = 0; k < ay.cnt[o]; k++) {
        const float *srow = tmp + ((size_t)ch * ih + ay.start[o] + k) * ow;
        for (int x = 0; x < ow; x++) d[x] += w[k] * srow[x];
      }
    }
  rc = 0;
done:
  axis_free(&ax);
  axis_free(&ay);
  loom_free(tmp);
  return rc;
}

void ld_image_normalise(float *out, const loom_image_opts *o) {
  size_t hw = (size_t)o->H * o->W;
  for (int c = 0; c < o->C; c++) {
    float m = o->mean[c], inv = 1.0f / o->std[c];
    for (size_t i = 0; i < hw; i++) out[c * hw + i] = (out[c * hw + i] * (1.0f / 255.0f) - m) * inv;
  }
}

int loom_image_load(const char *path, const loom_image_opts *o, float *out, loom_error *err) {
  size_t cap = o->max_file_bytes ? o->max_file_bytes : (size_t)64 << 20;
  /* a FIFO, directory or device is refused before any read; exactly the file's size is read */
  void *data = NULL;
  size_t n = 0;
  uint64_t size = 0;
  int fd = loom_file_open_regular(path, cap, "image", "[data] max_image_bytes", &size, err);
  if (fd == -2) return loom_errorf(err, "%s: cannot open image (%s) — check image_root and the path in the table", path, strerror(errno));
  if (fd < 0) return -1;
  int rc = loom_file_read_fd(fd, size, path, "image", &data, &n, err);
  unsigned char *buf = data;
  uint8_t *pix = NULL;
  int w = 0, h = 0;
  /* the cap is checked against the header, before the pixel buffer is allocated */
  if (rc == 0 && ld_image_decode(buf, n, o->C, o->max_dim, path, &pix, &w, &h, err) < 0) rc = -1;
  if (rc == 0 && loom_image_resize(pix, w, h, o->C, out, o->W, o->H) < 0) rc = loom_errorf(err, "%s: out of memory while resizing", path);
  if (rc == 0) ld_image_normalise(out, o);
  loom_free(pix);
  loom_free(buf);
  return rc;
}

char *loom_image_opts_to_string(const loom_image_opts *o) {
  char s[512], m[3][32], d[3][32];
  for (int c = 0; c < 3; c++) ld_fmt_float(m[c], o->mean[c]), ld_fmt_float(d[c], o->std[c]);
  snprintf(s, sizeof s, "{\"C\":%d,\"H\":%d,\"W\":%d,\"mean\":[%s,%s,%s],\"std\":[%s,%s,%s]}", o->C, o->H, o->W, m[0], m[1],
           m[2], d[0], d[1], d[2]);
  return loom_strdup(s);
}

int loom_image_opts_from_string(loom_image_opts *o, const char *s, loom_error *err) {
  loom_image_opts_default(o);
  cJSON *j = cJSON_Parse(s);
  const cJSON *C = cJSON_GetObjectItemCaseSensitive(j, "C"), *H = cJSON_GetObjectItemCaseSensitive(j, "H"),
              *W = cJSON_GetObjectItemCaseSensitive(j, "W"), *m = cJSON_GetObjectItemCaseSensitive(j, "mean"),
              *d = cJSON_GetObjectItemCaseSensitive(j, "std");
  int ok = cJSON_IsNumber(C) && cJSON_IsNumber(H) && cJSON_IsNumber(W) && cJSON_GetArraySize(m) == 3 &&
           cJSON_GetArraySize(d) == 3;
  if (ok) {
    o->C = C->valueint, o->H = H->valueint, o->W = W->valueint;
    ok = (o->C == 1 || o->C == 3) && o->H > 0 && o->W > 0 && o->H <= 4096 && o->W <= 4096;
    for (int c = 0; ok && c < 3; c++) {
      const cJSON *a = cJSON_GetArrayItem(m, c), *b = cJSON_GetArrayItem(d, c);
      ok = cJSON_IsNumber(a) && cJSON_IsNumber(b) && b->valuedouble > 0;
      if (ok) o->mean[c] = (float)a->valuedouble, o->std[c] = (float)b->valuedouble;
    }
  }
  cJSON_Delete(j);
  return ok ? 0 : loom_errorf(err, "image normalisation: expected {\"C\",\"H\",\"W\",\"mean\"[3],\"std\"[3]} — the checkpoint metadata is corrupt");
}
