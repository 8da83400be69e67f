/* gen_images.c — dev-time generator of the tiny image fixtures in this folder (not built by CMake):
 *   cc -O1 gen_images.c -lturbojpeg -lz -lm -o /tmp/gen && (cd tests/data/images && /tmp/gen)
 * rgb4x2.png / rgb3x2.bmp: known RGB pixels; gray16x8.jpg: two uniform 8x8 blocks (50 | 200), which
 * JPEG at quality 100 reproduces exactly; plus the malformed files the tests reject. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <turbojpeg.h>
#include <zlib.h>
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>

static void put32(unsigned char *p, uint32_t v) { p[0] = v >> 24, p[1] = v >> 16, p[2] = v >> 8, p[3] = v; }

int main(void) {
  unsigned char rgb[4 * 2 * 3] = {255, 0, 0,  0, 255, 0,  0, 0, 255,  10, 20, 30,
                                  0, 0, 0,    255, 255, 255, 100, 150, 200, 1, 2, 3};
  stbi_write_png("rgb4x2.png", 4, 2, 3, rgb, 4 * 3);
  unsigned char bmp[3 * 2 * 3] = {200, 100, 50, 0, 0, 0, 7, 8, 9, 255, 255, 0, 12, 34, 56, 90, 80, 70};
  stbi_write_bmp("rgb3x2.bmp", 3, 2, 3, bmp);
  unsigned char g[16 * 8];
  for (int y = 0; y < 8; y++)
    for (int x = 0; x < 16; x++) g[y * 16 + x] = x < 8 ? 50 : 200;
  tjhandle tj = tjInitCompress();
  unsigned char *jpg = NULL;
  unsigned long jn = 0;
  tjCompress2(tj, g, 16, 0, 8, TJPF_GRAY, &jpg, &jn, TJSAMP_GRAY, 100, 0);
  FILE *f = fopen("gray16x8.jpg", "wb");
  fwrite(jpg, 1, jn, f);
  fclose(f);
  f = fopen("truncated.jpg", "wb");
  fwrite(jpg, 1, jn - 8, f); /* cut inside the entropy-coded scan */
  fclose(f);
  tjFree(jpg);
  tjDestroy(tj);
  /* truncated PNG: the first 60 bytes of rgb4x2.png */
  unsigned char buf[4096];
  f = fopen("rgb4x2.png", "rb");
  size_t n = fread(buf, 1, sizeof buf, f);
  fclose(f);
  f = fopen("truncated.png", "wb");
  fwrite(buf, 1, n > 60 ? 60 : n, f);
  fclose(f);
  f = fopen("zero.png", "wb");
  fclose(f);
  /* a valid PNG signature + IHDR claiming 100000 x 100000 RGB, then nothing */
  unsigned char h[8 + 25] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  put32(h + 8, 13);
  memcpy(h + 12, "IHDR", 4);
  put32(h + 16, 100000);
  put32(h + 20, 100000);
  h[24] = 8, h[25] = 2, h[26] = 0, h[27] = 0, h[28] = 0;
  put32(h + 29, (uint32_t)crc32(0, h + 12, 17));
  f = fopen("huge.png", "wb");
  fwrite(h, 1, sizeof h, f);
  fclose(f);
  f = fopen("not_image.png", "wb");
  fputs("user,item\nthis is a CSV, not an image\n", f);
  fclose(f);
  /* cmyk16x8.jpg (issue 13): a valid Adobe CMYK (YCCK) JPEG, two uniform 8x8 blocks stored inverted
   * as Adobe writes them (255 = no ink): left C M Y K = 255 0 0 255 (pure red: R G B = 255 0 0), right
   * 128 128 128 200 (grey: R = G = B = 128 * 200 / 255 = 100). loom read it as "corrupt". */
  {
    unsigned char cmyk[16 * 8 * 4];
    for (int y = 0; y < 8; y++)
      for (int x = 0; x < 16; x++) {
        unsigned char *q = cmyk + 4 * (y * 16 + x);
        if (x < 8) q[0] = 255, q[1] = 0, q[2] = 0, q[3] = 255;
        else q[0] = q[1] = q[2] = 128, q[3] = 200;
      }
    unsigned char *cj = NULL;
    unsigned long cn = 0;
    tjhandle tc = tjInitCompress();
    tjCompress2(tc, cmyk, 16, 0, 8, TJPF_CMYK, &cj, &cn, TJSAMP_444, 100, 0);
    FILE *cf = fopen("cmyk16x8.jpg", "wb");
    fwrite(cj, 1, cn, cf);
    fclose(cf);
    tjFree(cj);
    tjDestroy(tc);
  }
  return 0;
}
