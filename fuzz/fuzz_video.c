/* fuzz_video.c — libFuzzer harness for video decoding (FFmpeg demux + decode from memory, frame
 * sampling, conversion, resize, normalisation). The first byte picks the options: bit 0 RGB or grey,
 * bit 1 key-frame sampling, bits 2-4 the frame count (1-8); the rest is the file. Width and height are
 * capped at 1024 and one input may decode for at most 2 s, so a tiny file claiming a huge or endless
 * video stays within the fuzzer's limits: it must end in frames or a message, never a crash or hang. */
#include <math.h>

#include "fuzz_util.h"
#include "loom/video.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
  if (n < 1) return 0;
  loom_video_opts o;
  loom_video_opts_default(&o);
  o.image.C = (data[0] & 1) ? 3 : 1;
  o.image.H = 6;
  o.image.W = 5;
  o.image.max_dim = 1024;
  o.sampling = (data[0] & 2) ? LOOM_FRAMES_KEY : LOOM_FRAMES_UNIFORM;
  o.frames = 1 + ((data[0] >> 2) & 7);
  o.max_decode_s = 2;
  o.max_frames = 20000;
  float out[8 * 3 * 30];
  loom_video_info info;
  loom_error err = {""};
  if (loom_video_decode(data + 1, n - 1, "fuzz.mp4", &o, out, &info, &err) != 0) {
    FUZZ_CHECK_MSG(err);
    return 0;
  }
  if (info.frames < 1 || info.width > 1024 || info.height > 1024) abort();
  /* every value written is a normalised pixel in [0, 1] (mean 0, std 1) */
  for (int i = 0; i < o.frames * o.image.C * 30; i++)
    if (!(out[i] >= -0.01f && out[i] <= 1.01f)) abort();
  return 0;
}
