/* stb_image_impl.c — the one stb_image implementation in loom: PNG and BMP only, no stdio, loom's
 * allocator, static symbols (so another module embedding stb_image cannot clash) behind three
 * wrappers. Dimensions are checked by the caller from the header before decoding. */
#include <stddef.h>

#include "data_internal.h"
#include "loom/alloc.h"

#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_PNG
#define STBI_ONLY_BMP
#define STBI_NO_STDIO
#define STBI_NO_LINEAR
#define STBI_NO_HDR
#define STBI_MAX_DIMENSIONS 16384
#define STBI_MALLOC(sz) loom_malloc(sz)
#define STBI_REALLOC(p, newsz) loom_realloc(p, newsz)
#define STBI_FREE(p) loom_free(p)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#pragma GCC diagnostic ignored "-Wstrict-prototypes"
#ifndef __clang__
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized" /* whole file: stb warns at the end of the unit */
#endif
#include <stb_image.h>

/* stb_image keeps its last failure reason (and returns 0 on some paths without setting one): clear it
 * before each call, so a message never shows the reason of an earlier image. */
int ld_stbi_info(const void *data, size_t n, int *w, int *h, int *comp) {
  stbi__g_failure_reason = NULL;
  return n <= 0x7fffffff && stbi_info_from_memory(data, (int)n, w, h, comp);
}

unsigned char *ld_stbi_load(const void *data, size_t n, int *w, int *h, int channels) {
  int comp;
  stbi__g_failure_reason = NULL;
  if (n > 0x7fffffff) return NULL;
  return stbi_load_from_memory(data, (int)n, w, h, &comp, channels);
}

const char *ld_stbi_failure(void) {
  const char *r = stbi_failure_reason();
  return r && *r ? r : "no detail from the decoder";
}
