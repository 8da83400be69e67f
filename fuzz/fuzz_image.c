/* fuzz_image.c — libFuzzer harness for image decoding (PNG and BMP through stb_image, JPEG through
 * libjpeg-turbo) and the resize that follows: any bytes end in pixels of the size the header claims,
 * or a message. Dimensions are capped at 2048 here (the decoder's own cap is 16384; the path is the
 * same) so a tiny file claiming a huge image stays within the fuzzer's memory limit. */
#include "data_internal.h"
#include "fuzz_util.h"
#include "loom/alloc.h"
#include "loom/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
  int channels = (n & 1) ? 3 : 1;
  uint8_t *pix = NULL;
  int w = 0, h = 0;
  loom_error err = {""};
  if (ld_image_decode(data, n, channels, 2048, "fuzz", &pix, &w, &h, &err) != 0) {
    FUZZ_CHECK_MSG(err);
    if (pix) abort();
    return 0;
  }
  if (!pix || w <= 0 || h <= 0 || w > 2048 || h > 2048) abort();
  /* every pixel is readable (ASan), and resizing both ways works */
  unsigned acc = 0;
  for (size_t i = 0; i < (size_t)w * h * channels; i++) acc += pix[i];
  float out[3 * 7 * 5];
  if (loom_image_resize(pix, w, h, channels, out, 5, 7) != 0) abort();
  for (int i = 0; i < channels * 35; i++)
    if (!(out[i] >= -0.01f && out[i] <= 255.01f)) abort();
  loom_free(pix);
  return (int)(acc & 0);
}
