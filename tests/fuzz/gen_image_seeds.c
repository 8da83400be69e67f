/* gen_image_seeds.c — dev-time generator of extra image seeds for fuzz_image (not built by CMake):
 *   cc -O1 gen_image_seeds.c -lturbojpeg -lz -lm -o /tmp/gis && (cd tests/fuzz/image/corpus && /tmp/gis)
 * Small files covering decoder paths the test fixtures do not: RGB JPEG with 4:2:0 / 4:4:4
 * subsampling, progressive and grey JPEGs, grey / grey+alpha / RGBA / 16-row PNGs and
 * 1-, 3- and 4-channel BMPs. */
#include <stdio.h>
#include <turbojpeg.h>
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>

static void jpeg(const char *name, const unsigned char *px, int w, int h, int pf, int samp, int flags) {
  tjhandle tj = tjInitCompress();
  unsigned char *jpg = NULL;
  unsigned long jn = 0;
  if (tjCompress2(tj, px, w, 0, h, pf, &jpg, &jn, samp, 75, flags) == 0) {
    FILE *f = fopen(name, "wb");
    fwrite(jpg, 1, jn, f);
    fclose(f);
  }
  tjFree(jpg);
  tjDestroy(tj);
}

int main(void) {
  enum { W = 13, H = 9 };
  unsigned char px[W * H * 4];
  for (int i = 0; i < W * H * 4; i++) px[i] = (unsigned char)(i * 37 + (i / 7) * 11);
  jpeg("rgb420.jpg", px, W, H, TJPF_RGB, TJSAMP_420, 0);
  jpeg("rgb444.jpg", px, W, H, TJPF_RGB, TJSAMP_444, 0);
  jpeg("rgb422_progressive.jpg", px, W, H, TJPF_RGB, TJSAMP_422, TJFLAG_PROGRESSIVE);
  jpeg("gray.jpg", px, W, H, TJPF_GRAY, TJSAMP_GRAY, 0);
  stbi_write_png("gray.png", W, H, 1, px, W);
  stbi_write_png("gray_alpha.png", W, H, 2, px, W * 2);
  stbi_write_png("rgba.png", W, H, 4, px, W * 4);
  stbi_write_bmp("gray.bmp", W, H, 1, px);
  stbi_write_bmp("rgba.bmp", W, H, 4, px);
  stbi_write_bmp("rgb.bmp", W, H, 3, px);
  return 0;
}
