/* loom/image.h — image files to normalised NCHW floats: PNG and BMP through stb_image (built with
 * only those formats and loom's allocator), JPEG through libjpeg-turbo (header checked before any
 * decoding). Sizes are capped before allocation; resizing is area-averaging when shrinking and
 * bilinear (half-pixel centres) when enlarging. Caching and augmentation live in the loader. */
#ifndef LOOM_IMAGE_H
#define LOOM_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "loom/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct loom_image_opts {
  int C, H, W;           /* output channels (1 = grey, 3 = RGB) and size */
  float mean[3], std[3]; /* out = (pixel / 255 - mean[c]) / std[c] */
  size_t max_file_bytes; /* 0 = 64 MiB */
  int max_dim;           /* largest accepted width or height; 0 = 16384 (and at most 2^26 pixels in all) */
} loom_image_opts;

/* Defaults: 1 x 28 x 28, mean 0, std 1. */
void loom_image_opts_default(loom_image_opts *o);

/* Decodes an encoded image in memory to 8-bit pixels (h, w, c) with c = channels (1 or 3);
 * *pix is loom_malloc'ed. `name` is used in messages. */
int loom_image_decode(const void *data, size_t n, int channels, const char *name, uint8_t **pix, int *w, int *h,
                      loom_error *err);
/* Resizes 8-bit (ih, iw, c) to float (c, oh, ow) in [0, 255] (area when shrinking, bilinear otherwise). */
/* Returns 0, or -1 if out of memory. */
int loom_image_resize(const uint8_t *src, int iw, int ih, int c, float *dst, int ow, int oh);
/* Reads, decodes, resizes and normalises a file into out (C, H, W). */
int loom_image_load(const char *path, const loom_image_opts *o, float *out, loom_error *err);

/* Image normalisation as a checkpoint string ("C H W mean.. std.." as JSON) and back, exactly. */
char *loom_image_opts_to_string(const loom_image_opts *o);
int loom_image_opts_from_string(loom_image_opts *o, const char *s, loom_error *err);

#ifdef __cplusplus
}
#endif
#endif
