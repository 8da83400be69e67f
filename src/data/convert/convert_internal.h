/* convert_internal.h — what the converters in src/data/convert share: the Fashion-MNIST loader and
 * PNG writer (idx.c, used by fashion_shop.c) and the seeded draws of the simulators and samplers.
 * Generic helpers (directories, CSV output, maps, buffers) are the data layer's (data_internal.h). */
#ifndef LOOM_CONVERT_INTERNAL_H
#define LOOM_CONVERT_INTERNAL_H

#include <stdint.h>

#include "loom/error.h"
#include "loom/rng.h"

#define LD_PATH_MAX 4096

extern const char *const ld_fm_names[10]; /* Fashion-MNIST class names, label order */

typedef struct ld_fm_split {
  uint32_t n;
  uint8_t *images; /* (n, 28, 28) */
  uint8_t *labels; /* (n,) in [0, 10) */
} ld_fm_split;

/* Loads src/<prefix>-images-idx3-ubyte[.gz] and -labels-idx1-ubyte[.gz] and checks they agree. */
int ld_fm_load(const char *src, const char *prefix, ld_fm_split *s, loom_error *err);
void ld_fm_free(ld_fm_split *s);
/* A 28x28 grey image as PNG. */
int ld_write_png28(const char *path, const uint8_t *img, loom_error *err);

/* Uniform double in [0, 1) from the top 53 bits. */
static inline double ld_u01(loom_rng *r) { return (double)(loom_rng_u64(r) >> 11) * 0x1.0p-53; }

/* Index drawn from cumulative weights cum[0..n) (cum[n-1] = total), by bisection. */
static inline int ld_draw_cum(loom_rng *r, const double *cum, int n) {
  double u = ld_u01(r) * cum[n - 1];
  int lo = 0, hi = n - 1;
  while (lo < hi) {
    int mid = (lo + hi) / 2;
    if (cum[mid] > u) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/* cJSON allocates through loom_malloc while a converter runs; ld_cjson_begin resets the flag that
 * tells a parse failed for lack of memory from malformed input. */
void ld_cjson_begin(void);
int ld_cjson_oom(void);

#endif
