/* gen_video_seeds.c — dev-time generator of fuzz_video's seeds (not built by CMake); each seed is the
 * harness's option byte followed by a small MP4 made with loom_video_write:
 *   cc -O1 -Iinclude tests/fuzz/gen_video_seeds.c build/lib/libloom_data.a build/lib/libloom_base.a \
 *      $(pkg-config --libs libavformat libavcodec libswscale libavutil) \
 *      -lturbojpeg -lcjson -lcsv -linih -lutf8proc -lcrypto -lz -lm -o /tmp/gvs &&
 *   (cd tests/fuzz/video/corpus && /tmp/gvs)   */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loom/video.h"

static void seed(const char *name, unsigned char opt, int n, int w, int h, double fps, int gop) {
  unsigned char *rgb = malloc((size_t)n * w * h * 3);
  for (int i = 0; i < n; i++)
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++) {
        unsigned char *p = rgb + (((size_t)i * h + y) * w + x) * 3;
        p[0] = (unsigned char)(x * 255 / w);
        p[1] = (unsigned char)((y + 3 * i) * 255 / (h + 3 * n));
        p[2] = (unsigned char)(40 * i);
      }
  loom_error err = {""};
  if (loom_video_write("seed.tmp.mp4", rgb, n, w, h, fps, gop, &err) < 0) {
    fprintf(stderr, "%s\n", err.msg);
    exit(1);
  }
  FILE *in = fopen("seed.tmp.mp4", "rb"), *out = fopen(name, "wb");
  fputc(opt, out);
  int c;
  while ((c = fgetc(in)) != EOF) fputc(c, out);
  fclose(in);
  fclose(out);
  remove("seed.tmp.mp4");
  free(rgb);
}

int main(void) {
  seed("one-frame-grey", 0x00, 1, 8, 8, 25, 0);
  seed("four-rgb", 0x0d, 4, 16, 8, 10, 0);
  seed("gop2-key", 0x0b, 6, 8, 8, 10, 2);
  seed("repeat-eight", 0x1d, 2, 8, 8, 5, 0);
  seed("wide", 0x05, 3, 32, 4, 30, 1);
  seed("tall", 0x04, 3, 4, 32, 30, 3);
  seed("slow", 0x09, 3, 8, 8, 0.5, 0);
  seed("twelve-gop4", 0x0f, 12, 8, 8, 8, 4);
  seed("odd-fps", 0x01, 5, 10, 6, 29.97, 2);
  return 0;
}
