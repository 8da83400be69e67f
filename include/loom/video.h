/* loom/video.h — product videos to K normalised frames, through FFmpeg's libavformat / libavcodec /
 * libswscale. A file is read whole (capped), probed, and demuxed from memory: only video containers
 * are accepted (MP4/MOV, Matroska/WebM, AVI, MPEG-PS/TS, FLV, Ogg, ASF), no protocol is ever opened,
 * and every size is capped before it is allocated — the header's width and height, the duration, the
 * frame count, each decoded frame, and the wall-clock time one file may take to decode.
 *
 * Sampling: with N frames in the stream (or N key frames for LOOM_FRAMES_KEY), frame k of K is frame
 * floor((k + 0.5) N / K), so K frames spread evenly over the video; a video shorter than K frames
 * repeats frames. Each frame goes through the same resize and normalisation as a photo (loom/image.h).
 *
 *   loom_video_opts o;
 *   loom_video_opts_default(&o);                        // 4 frames, 1 x 28 x 28, uniform
 *   float *out = malloc(sizeof(float) * o.frames * o.image.C * o.image.H * o.image.W);
 *   if (loom_video_load("clip.mp4", &o, out, NULL, &err) < 0) puts(err.msg);
 */
#ifndef LOOM_VIDEO_H
#define LOOM_VIDEO_H

#include <stddef.h>
#include <stdint.h>

#include "loom/error.h"
#include "loom/image.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum loom_frame_sampling {
  LOOM_FRAMES_UNIFORM = 0, /* spread over every frame */
  LOOM_FRAMES_KEY = 1      /* spread over the key frames only (decodes only those: fast) */
} loom_frame_sampling;

#define LOOM_VIDEO_MAX_FRAMES_OUT 64 /* most frames one video gives (data.frames) */

typedef struct loom_video_opts {
  loom_image_opts image; /* each frame's C, H, W and normalisation; image.max_dim caps width and height */
  int frames;            /* K frames out, 1..LOOM_VIDEO_MAX_FRAMES_OUT */
  loom_frame_sampling sampling;
  size_t max_file_bytes; /* 0 = 256 MiB */
  double max_duration_s; /* 0 = 3600 (one hour) */
  double max_decode_s;   /* wall-clock budget for one file; 0 = 30 s */
  int64_t max_frames;    /* most frames the stream may hold; 0 = 1,000,000 */
} loom_video_opts;

typedef struct loom_video_info {
  int width, height;       /* the stream's size */
  int64_t frames;          /* frames (packets) in the stream */
  int64_t key_frames;      /* of which key frames */
  double duration_s, fps;  /* 0 when the container does not say */
  char codec[32];          /* FFmpeg's codec name */
  char container[64];      /* FFmpeg's format name */
} loom_video_info;

/* Defaults: 4 frames, uniform, the image defaults (1 x 28 x 28), and the caps above. */
void loom_video_opts_default(loom_video_opts *o);

/* Reads and decodes the file at path into out (frames, C, H, W). info (may be NULL) is filled. Returns
 * 0, or -1 with err naming the file and what is wrong (not a video, unknown codec, too large, too
 * long, truncated, no frames, decoding took too long). */
int loom_video_load(const char *path, const loom_video_opts *o, float *out, loom_video_info *info, loom_error *err);
/* The same from an encoded file in memory; `name` is used in messages. */
int loom_video_decode(const void *data, size_t n, const char *name, const loom_video_opts *o, float *out,
                      loom_video_info *info, loom_error *err);

/* Writes n RGB frames (n, h, w, 3 bytes) as an MPEG-4 Part 2 video in an MP4 file at fps frames per
 * second, a key frame every gop frames (0 = only the first), atomically (loom/atomic.h). w and h must
 * be even. The output is bit-exact for the same input (no timestamps, no encoder version). */
int loom_video_write(const char *path, const uint8_t *rgb, int n, int w, int h, double fps, int gop, loom_error *err);

#ifdef __cplusplus
}
#endif
#endif
