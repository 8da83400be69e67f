/* bench_video.c — product-video decoding on the calling thread: frames/s decoded, converted, resized
 * and normalised by loom_video_load over the committed video sample (datasets/fashion-shop-video-sample:
 * 300 MPEG-4 videos of 8 frames at 28 x 28, a key frame every 4), with uniform sampling of K = 4 and 8
 * frames and key-frame sampling of 2, beside loom_image_load of the same items' PNG photos.
 * Usage: bench_video [SAMPLE_DIR] [ROUNDS]. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loom/image.h"
#include "loom/video.h"
#include "bench_util.h"

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : "datasets/fashion-shop-video-sample";
  int rounds = argc > 2 ? atoi(argv[2]) : 3, n = 300;
  struct { const char *name; int frames; loom_frame_sampling s; } cases[] = {
      {"uniform, 4 of 8 frames", 4, LOOM_FRAMES_UNIFORM},
      {"uniform, 8 of 8 frames", 8, LOOM_FRAMES_UNIFORM},
      {"key frames, 2", 2, LOOM_FRAMES_KEY},
  };
  float *out = malloc(sizeof(float) * 8 * 28 * 28);
  char path[4096];
  loom_error err;
  printf("%d videos of %s, 28x28 grey out, one thread, median of %d rounds\n", n, dir, rounds);
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    loom_video_opts o;
    loom_video_opts_default(&o);
    o.frames = cases[c].frames;
    o.sampling = cases[c].s;
    double ts[16];
    for (int r = 0; r < rounds && r < 16; r++) {
      double t0 = now();
      for (int i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/videos/i%05d.mp4", dir, i);
        if (loom_video_load(path, &o, out, NULL, &err) < 0) {
          fprintf(stderr, "%s\n", err.msg);
          return 1;
        }
      }
      ts[r] = now() - t0;
    }
    double s = median(ts, rounds < 16 ? rounds : 16);
    printf("%-24s %8.0f videos/s  %8.0f frames/s out  %6.3f ms a video\n", cases[c].name, n / s, n * o.frames / s,
           1e3 * s / n);
  }
  loom_image_opts io;
  loom_image_opts_default(&io);
  double ts[16];
  for (int r = 0; r < rounds && r < 16; r++) {
    double t0 = now();
    for (int i = 0; i < n; i++) {
      snprintf(path, sizeof path, "%s/images/i%05d.png", dir, i);
      if (loom_image_load(path, &io, out, &err) < 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
      }
    }
    ts[r] = now() - t0;
  }
  double s = median(ts, rounds < 16 ? rounds : 16);
  printf("%-24s %8.0f photos/s  %6.3f ms a photo\n", "PNG photo (beside)", n / s, 1e3 * s / n);
  free(out);
  return 0;
}
