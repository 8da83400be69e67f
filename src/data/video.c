/* video.c — product videos to frames (loom/video.h) through FFmpeg, and the MPEG-4 writer the demo data
 * and the tests use.
 *
 * Decoding runs two passes over the demuxed packets of the one video stream, both from the file's bytes
 * in memory (custom AVIO, no protocol): pass 1 counts frames and key frames without decoding, so the
 * sampled indices are known; pass 2 decodes (one thread, pixel cap) and keeps the frames sampled. FFmpeg's
 * own log is silenced; its last error line is kept per thread and quoted in our message. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/dict.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>

#include "data_internal.h"
#include "loom/alloc.h"
#include "loom/atomic.h"
#include "loom/file.h"
#include "loom/video.h"

#define VD_MAX_FILE_BYTES ((size_t)256 << 20)
#define VD_MAX_DURATION_S 3600.0
#define VD_MAX_DECODE_S 30.0
#define VD_MAX_FRAMES ((int64_t)1000000)
#define VD_IO_BUF 65536
static const char *const vd_formats = "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,avi,mpeg,mpegts,flv,ogg,asf";

void loom_video_opts_default(loom_video_opts *o) {
  memset(o, 0, sizeof *o);
  loom_image_opts_default(&o->image);
  o->frames = 4;
  o->sampling = LOOM_FRAMES_UNIFORM;
}

/* ---- FFmpeg's log: nothing printed, the last error line kept for our messages ---- */

static _Thread_local char vd_last_log[256];
static pthread_once_t vd_log_once = PTHREAD_ONCE_INIT;

static void vd_log(void *avcl, int level, const char *fmt, va_list vl) {
  (void)avcl;
  if (level > AV_LOG_ERROR) return;
  char line[256];
  vsnprintf(line, sizeof line, fmt, vl);
  size_t n = strlen(line);
  while (n && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' ')) line[--n] = 0;
  if (n) memcpy(vd_last_log, line, n + 1);
}

static void vd_log_install(void) { av_log_set_callback(vd_log); }

/* " (FFmpeg: <last error line>)" or "" */
static const char *vd_ffmsg(char *buf, size_t cap) {
  if (!vd_last_log[0]) return "";
  snprintf(buf, cap, " (FFmpeg: %s)", vd_last_log);
  return buf;
}

static double vd_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- demuxing from memory ---- */

typedef struct vd_src {
  const uint8_t *p;
  size_t n, pos;
  double deadline;
  int timed_out;
} vd_src;

static int vd_read(void *op, uint8_t *buf, int size) {
  vd_src *s = op;
  size_t left = s->n - s->pos;
  if (!left) return AVERROR_EOF;
  if ((size_t)size > left) size = (int)left;
  memcpy(buf, s->p + s->pos, (size_t)size);
  s->pos += (size_t)size;
  return size;
}

static int64_t vd_seek(void *op, int64_t off, int whence) {
  vd_src *s = op;
  if (whence & AVSEEK_SIZE) return (int64_t)s->n;
  whence &= ~AVSEEK_FORCE;
  int64_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? (int64_t)s->pos : whence == SEEK_END ? (int64_t)s->n : -1;
  if (base < 0 || off > INT64_MAX - base) return AVERROR(EINVAL);
  int64_t np = base + off;
  if (np < 0 || np > (int64_t)s->n) return AVERROR(EINVAL);
  s->pos = (size_t)np;
  return np;
}

static int vd_interrupt(void *op) {
  vd_src *s = op;
  if (loom_stop_requested() || vd_now() > s->deadline) {
    s->timed_out = 1;
    return 1;
  }
  return 0;
}

typedef struct vd_open {
  AVFormatContext *fmt;
  AVIOContext *io;
  int stream;
} vd_open;

static void vd_close(vd_open *v) {
  if (v->fmt) avformat_close_input(&v->fmt);
  if (v->io) {
    av_freep(&v->io->buffer);
    avio_context_free(&v->io);
  }
}

static int vd_in_list(const char *names) {
  /* names is FFmpeg's comma list ("mov,mp4,m4a,..."); accepted when any of them is in vd_formats */
  char one[64];
  for (const char *p = names; *p;) {
    size_t k = strcspn(p, ",");
    if (k < sizeof one) {
      memcpy(one, p, k);
      one[k] = 0;
      for (const char *q = vd_formats; *q;) {
        size_t j = strcspn(q, ",");
        if (j == k && !memcmp(q, one, k)) return 1;
        q += j + (q[j] == ',');
      }
    }
    p += k + (p[k] == ',');
  }
  return 0;
}

static int vd_timeout(const char *name, const loom_video_opts *o, loom_error *err) {
  if (loom_stop_requested()) return loom_file_interrupted(name, err);
  return loom_errorf(err, "%s: decoding took longer than %g s — raise [data] max_video_decode_s or give a shorter video",
                     name, o->max_decode_s > 0 ? o->max_decode_s : VD_MAX_DECODE_S);
}

/* Probes, opens and finds the video stream; the caps on size and duration are checked on the header. */
static int vd_open_input(vd_open *v, vd_src *src, const char *name, const loom_video_opts *o, int max_dim,
                         int64_t max_pixels, loom_video_info *info, loom_error *err) {
  char fb[300];
  memset(v, 0, sizeof *v);
  v->stream = -1;
  size_t pn = src->n < ((size_t)1 << 20) ? src->n : ((size_t)1 << 20);
  uint8_t *pbuf = av_mallocz(pn + AVPROBE_PADDING_SIZE);
  if (!pbuf) return loom_errorf(err, "%s: out of memory while probing the video", name);
  memcpy(pbuf, src->p, pn);
  AVProbeData pd = {.filename = "", .buf = pbuf, .buf_size = (int)pn, .mime_type = NULL};
  int score = 0;
  const AVInputFormat *ifmt = av_probe_input_format3(&pd, 1, &score);
  av_free(pbuf);
  if (!ifmt || score < AVPROBE_SCORE_RETRY)
    return loom_errorf(err, "%s: not a video file FFmpeg recognises (unknown or damaged container) — "
                            "give an MP4, MOV, MKV, WebM or AVI file", name);
  if (!vd_in_list(ifmt->name))
    return loom_errorf(err, "%s: is a %s file, not a video container — video_col takes MP4, MOV, MKV, WebM, AVI, "
                            "MPEG, FLV, Ogg or ASF files (photos go in image_col)", name, ifmt->name);
  char kind[32]; /* the format's first name: "mov" for "mov,mp4,m4a,..." */
  snprintf(kind, sizeof kind, "%.*s", (int)strcspn(ifmt->name, ","), ifmt->name);
  unsigned char *iobuf = av_malloc(VD_IO_BUF);
  if (!iobuf) return loom_errorf(err, "%s: out of memory while opening the video", name);
  v->io = avio_alloc_context(iobuf, VD_IO_BUF, 0, src, vd_read, NULL, vd_seek);
  if (!v->io) {
    av_free(iobuf);
    return loom_errorf(err, "%s: out of memory while opening the video", name);
  }
  v->fmt = avformat_alloc_context();
  if (!v->fmt) return loom_errorf(err, "%s: out of memory while opening the video", name);
  v->fmt->pb = v->io;
  v->fmt->flags |= AVFMT_FLAG_CUSTOM_IO;
  v->fmt->interrupt_callback.callback = vd_interrupt;
  v->fmt->interrupt_callback.opaque = src;
  v->fmt->format_whitelist = av_strdup(vd_formats);
  v->fmt->protocol_whitelist = av_strdup("none");
  v->fmt->codec_whitelist = NULL;
  vd_last_log[0] = 0;
  int rc = avformat_open_input(&v->fmt, NULL, ifmt, NULL);
  if (rc < 0) {
    v->fmt = NULL; /* freed by avformat_open_input */
    if (src->timed_out) goto timeout;
    return loom_errorf(err, "%s: cannot read the %s container — the file is truncated or damaged%s", name, kind,
                       vd_ffmsg(fb, sizeof fb));
  }
  /* header sizes first: a 20000 x 20000 stream is refused before anything is decoded */
  for (unsigned i = 0; i < v->fmt->nb_streams; i++) {
    const AVCodecParameters *par = v->fmt->streams[i]->codecpar;
    if (par->codec_type != AVMEDIA_TYPE_VIDEO) continue;
    if (par->width > max_dim || par->height > max_dim || (int64_t)par->width * par->height > max_pixels)
      return loom_errorf(err, "%s: the video is %d x %d pixels; frames over %d pixels a side (or %lld pixels) are "
                              "refused — raise [data] max_image_dim or give a smaller video", name, par->width, par->height,
                         max_dim, (long long)max_pixels);
  }
  AVDictionary **sopts = av_calloc(v->fmt->nb_streams ? v->fmt->nb_streams : 1, sizeof *sopts);
  if (!sopts) return loom_errorf(err, "%s: out of memory while opening the video", name);
  for (unsigned i = 0; i < v->fmt->nb_streams; i++) {
    av_dict_set_int(&sopts[i], "max_pixels", max_pixels, 0);
    av_dict_set(&sopts[i], "threads", "1", 0);
  }
  rc = avformat_find_stream_info(v->fmt, sopts);
  for (unsigned i = 0; i < v->fmt->nb_streams; i++) av_dict_free(&sopts[i]);
  av_free(sopts);
  if (src->timed_out) goto timeout;
  if (rc < 0)
    return loom_errorf(err, "%s: cannot find the streams of the %s container — the file is truncated or damaged%s", name,
                       kind, vd_ffmsg(fb, sizeof fb));
  v->stream = av_find_best_stream(v->fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
  if (v->stream < 0)
    return loom_errorf(err, "%s: the %s file has no video stream — it is truncated (its index is missing), empty or "
                            "audio only%s", name, kind, vd_ffmsg(fb, sizeof fb));
  const AVStream *st = v->fmt->streams[v->stream];
  const AVCodecParameters *par = st->codecpar;
  if (par->width > max_dim || par->height > max_dim || (int64_t)par->width * par->height > max_pixels)
    return loom_errorf(err, "%s: the video is %d x %d pixels; frames over %d pixels a side (or %lld pixels) are refused "
                            "— raise [data] max_image_dim or give a smaller video", name, par->width, par->height, max_dim,
                       (long long)max_pixels);
  double dur = 0;
  if (st->duration > 0 && st->time_base.den) dur = (double)st->duration * av_q2d(st->time_base);
  else if (v->fmt->duration > 0) dur = (double)v->fmt->duration / AV_TIME_BASE;
  double max_dur = o->max_duration_s > 0 ? o->max_duration_s : VD_MAX_DURATION_S;
  if (dur > max_dur)
    return loom_errorf(err, "%s: the video is %.1f s (%.2f h) long; videos over %.0f s are refused — raise [data] "
                            "max_video_seconds or cut the video", name, dur, dur / 3600.0, max_dur);
  if (info) {
    memset(info, 0, sizeof *info);
    info->width = par->width;
    info->height = par->height;
    info->duration_s = dur;
    if (st->avg_frame_rate.den && st->avg_frame_rate.num) info->fps = av_q2d(st->avg_frame_rate);
    const AVCodecDescriptor *d = avcodec_descriptor_get(par->codec_id);
    snprintf(info->codec, sizeof info->codec, "%s", d ? d->name : "unknown");
    snprintf(info->container, sizeof info->container, "%s", kind);
  }
  return 0;
timeout:
  return vd_timeout(name, o, err);
}


/* Pass 1: frames and key frames of the stream, without decoding. */
static int vd_count(vd_src *src, const char *name, const loom_video_opts *o, int max_dim, int64_t max_pixels,
                    int64_t *frames, int64_t *keys, loom_video_info *info, loom_error *err) {
  vd_open v;
  int rc = vd_open_input(&v, src, name, o, max_dim, max_pixels, info, err);
  int64_t max_frames = o->max_frames > 0 ? o->max_frames : VD_MAX_FRAMES;
  double max_dur = o->max_duration_s > 0 ? o->max_duration_s : VD_MAX_DURATION_S;
  AVPacket *pkt = rc == 0 ? av_packet_alloc() : NULL;
  if (rc == 0 && !pkt) rc = loom_errorf(err, "%s: out of memory", name);
  *frames = *keys = 0;
  while (rc == 0) {
    int r = av_read_frame(v.fmt, pkt);
    if (r == AVERROR_EOF) break;
    if (src->timed_out || vd_now() > src->deadline) {
      rc = vd_timeout(name, o, err);
      break;
    }
    if (r < 0) {
      char fb[300];
      rc = loom_errorf(err, "%s: the video is damaged after frame %lld — the file is truncated or corrupt%s", name,
                       (long long)*frames, vd_ffmsg(fb, sizeof fb));
      break;
    }
    if (pkt->stream_index == v.stream && !(pkt->flags & AV_PKT_FLAG_DISCARD)) {
      const AVStream *st = v.fmt->streams[v.stream];
      if (pkt->pts != AV_NOPTS_VALUE && st->time_base.den) {
        double t = (double)(pkt->pts - (st->start_time != AV_NOPTS_VALUE ? st->start_time : 0)) * av_q2d(st->time_base);
        if (t > max_dur)
          rc = loom_errorf(err, "%s: the video runs past %.0f s (frame %lld is at %.1f s); videos over %.0f s are refused "
                                "— raise [data] max_video_seconds or cut the video", name, max_dur, (long long)*frames,
                           t, max_dur);
      }
      ++*frames;
      if (pkt->flags & AV_PKT_FLAG_KEY) ++*keys;
      if (rc == 0 && *frames > max_frames)
        rc = loom_errorf(err, "%s: the video has more than %lld frames — raise [data] max_video_frames or cut the video",
                         name, (long long)max_frames);
    }
    av_packet_unref(pkt);
  }
  av_packet_free(&pkt);
  vd_close(&v);
  if (rc == 0 && *frames == 0)
    rc = loom_errorf(err, "%s: the video has no frames — give a video with at least one frame", name);
  return rc;
}

typedef struct vd_out {
  const loom_video_opts *o;
  float *out;
  const int64_t *target; /* (K) sampled frame index (among all frames, or among key frames) */
  int next;              /* first k not yet filled */
  uint8_t *pix;          /* (h, w, C) converted frame, rows packed */
  size_t pix_cap;
  struct SwsContext *sws;
  uint8_t *conv[4];      /* swscale's output: rows padded and aligned, as swscale may write past a row's end */
  int conv_stride[4], conv_w, conv_h;
} vd_out;

/* Converts frame f (sampled index idx) and fills every k whose target is idx. */
static int vd_keep(vd_out *s, const AVFrame *f, int64_t idx, const char *name, int max_dim, int64_t max_pixels,
                   loom_error *err) {
  const loom_video_opts *o = s->o;
  int K = o->frames, C = o->image.C;
  if (s->next >= K || s->target[s->next] != idx) return 0;
  if (f->width > max_dim || f->height > max_dim || (int64_t)f->width * f->height > max_pixels || f->width <= 0 ||
      f->height <= 0)
    return loom_errorf(err, "%s: frame %lld is %d x %d pixels; frames over %d pixels a side are refused — raise [data] "
                            "max_image_dim or give a smaller video", name, (long long)idx, f->width, f->height, max_dim);
  size_t need = (size_t)f->width * f->height * C;
  if (need > s->pix_cap) {
    loom_free(s->pix);
    s->pix = loom_malloc(need);
    s->pix_cap = s->pix ? need : 0;
    if (!s->pix) return loom_errorf(err, "%s: out of memory for a %d x %d frame", name, f->width, f->height);
  }
  s->sws = sws_getCachedContext(s->sws, f->width, f->height, f->format, f->width, f->height,
                                C == 3 ? AV_PIX_FMT_RGB24 : AV_PIX_FMT_GRAY8, SWS_BILINEAR | SWS_ACCURATE_RND | SWS_BITEXACT,
                                NULL, NULL, NULL);
  if (!s->sws) return loom_errorf(err, "%s: frame %lld has a pixel format FFmpeg cannot convert", name, (long long)idx);
  if (s->conv_w != f->width || s->conv_h != f->height) {
    av_freep(&s->conv[0]);
    s->conv_w = s->conv_h = 0;
    /* 64-byte aligned rows and a spare row: swscale's SIMD writes whole vectors */
    if (av_image_alloc(s->conv, s->conv_stride, f->width, f->height + 1, C == 3 ? AV_PIX_FMT_RGB24 : AV_PIX_FMT_GRAY8,
                       64) < 0)
      return loom_errorf(err, "%s: out of memory for a %d x %d frame", name, f->width, f->height);
    s->conv_w = f->width, s->conv_h = f->height;
  }
  sws_scale(s->sws, (const uint8_t *const *)f->data, f->linesize, 0, f->height, s->conv, s->conv_stride);
  for (int y = 0; y < f->height; y++)
    memcpy(s->pix + (size_t)y * f->width * C, s->conv[0] + (size_t)y * s->conv_stride[0], (size_t)f->width * C);
  size_t chw = (size_t)C * o->image.H * o->image.W;
  float *first = s->out + (size_t)s->next * chw;
  if (loom_image_resize(s->pix, f->width, f->height, C, first, o->image.W, o->image.H) < 0)
    return loom_errorf(err, "%s: out of memory while resizing frame %lld", name, (long long)idx);
  ld_image_normalise(first, &o->image);
  s->next++;
  while (s->next < K && s->target[s->next] == idx) {
    memcpy(s->out + (size_t)s->next * chw, first, chw * sizeof(float));
    s->next++;
  }
  return 0;
}

/* Pass 2: decodes and keeps the sampled frames. */
static int vd_frames(vd_src *src, const char *name, const loom_video_opts *o, int max_dim, int64_t max_pixels,
                     vd_out *s, loom_error *err) {
  char fb[300];
  vd_open v;
  int rc = vd_open_input(&v, src, name, o, max_dim, max_pixels, NULL, err);
  if (rc < 0) return -1;
  const AVCodecParameters *par = v.fmt->streams[v.stream]->codecpar;
  const AVCodec *codec = avcodec_find_decoder(par->codec_id);
  AVCodecContext *cc = NULL;
  AVPacket *pkt = NULL;
  AVFrame *f = NULL;
  if (!codec) {
    char tag[AV_FOURCC_MAX_STRING_SIZE] = "none";
    if (par->codec_tag) av_fourcc_make_string(tag, par->codec_tag);
    rc = loom_errorf(err, "%s: its video codec (tag '%s') is not one FFmpeg can decode — re-encode it as H.264 or MPEG-4 "
                          "(e.g. ffmpeg -i IN -c:v libx264 OUT.mp4)", name, tag);
    goto done;
  }
  cc = avcodec_alloc_context3(codec);
  pkt = av_packet_alloc();
  f = av_frame_alloc();
  if (!cc || !pkt || !f) {
    rc = loom_errorf(err, "%s: out of memory", name);
    goto done;
  }
  if (avcodec_parameters_to_context(cc, par) < 0) {
    rc = loom_errorf(err, "%s: the %s stream's parameters are invalid%s", name, codec->name, vd_ffmsg(fb, sizeof fb));
    goto done;
  }
  cc->thread_count = 1;
  cc->max_pixels = max_pixels;
  if (o->sampling == LOOM_FRAMES_KEY) cc->skip_frame = AVDISCARD_NONKEY;
  if (avcodec_open2(cc, codec, NULL) < 0) {
    rc = loom_errorf(err, "%s: cannot open the %s decoder%s", name, codec->name, vd_ffmsg(fb, sizeof fb));
    goto done;
  }
  int64_t decoded = 0; /* frames out of the decoder (key frames only, with LOOM_FRAMES_KEY) */
  int eof = 0;
  while (rc == 0 && s->next < o->frames) {
    if (vd_now() > src->deadline || src->timed_out || loom_stop_requested()) {
      rc = vd_timeout(name, o, err);
      break;
    }
    if (!eof) {
      int r = av_read_frame(v.fmt, pkt);
      if (r == AVERROR_EOF) {
        eof = 1;
        avcodec_send_packet(cc, NULL); /* drain */
      } else if (r < 0) {
        rc = loom_errorf(err, "%s: the video is damaged after frame %lld — the file is truncated or corrupt%s", name,
                         (long long)decoded, vd_ffmsg(fb, sizeof fb));
        break;
      } else {
        int skip = pkt->stream_index != v.stream || (pkt->flags & AV_PKT_FLAG_DISCARD) ||
                   (o->sampling == LOOM_FRAMES_KEY && !(pkt->flags & AV_PKT_FLAG_KEY));
        if (!skip) {
          vd_last_log[0] = 0;
          int sr = avcodec_send_packet(cc, pkt);
          if (sr < 0 && sr != AVERROR(EAGAIN))
            rc = loom_errorf(err, "%s: frame %lld cannot be decoded — the video is corrupt%s", name, (long long)decoded,
                             vd_ffmsg(fb, sizeof fb));
        }
        av_packet_unref(pkt);
        if (rc < 0) break;
      }
    }
    for (;;) {
      int r = avcodec_receive_frame(cc, f);
      if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) break;
      if (r < 0) {
        rc = loom_errorf(err, "%s: frame %lld cannot be decoded — the video is corrupt%s", name, (long long)decoded,
                         vd_ffmsg(fb, sizeof fb));
        break;
      }
      if (o->sampling != LOOM_FRAMES_KEY || f->key_frame) {
        rc = vd_keep(s, f, decoded, name, max_dim, max_pixels, err);
        decoded++;
      }
      av_frame_unref(f);
      if (rc < 0) break;
    }
    if (eof && rc == 0 && s->next < o->frames) break;
  }
  if (rc == 0 && s->next < o->frames) {
    if (decoded == 0)
      rc = loom_errorf(err, "%s: no frame of the video could be decoded — the file is truncated or corrupt%s", name,
                       vd_ffmsg(fb, sizeof fb));
    else
      rc = loom_errorf(err, "%s: the container lists more frames than could be decoded (%lld decoded) — the file is "
                            "truncated or corrupt%s", name, (long long)decoded, vd_ffmsg(fb, sizeof fb));
  }
done:
  av_frame_free(&f);
  av_packet_free(&pkt);
  avcodec_free_context(&cc);
  vd_close(&v);
  return rc;
}

int loom_video_decode(const void *data, size_t n, const char *name, const loom_video_opts *o, float *out,
                      loom_video_info *info, loom_error *err) {
  pthread_once(&vd_log_once, vd_log_install);
  int K = o->frames;
  if (K < 1 || K > LOOM_VIDEO_MAX_FRAMES_OUT)
    return loom_errorf(err, "%s: %d frames asked for; 1 to %d frames a video are supported", name, K,
                       LOOM_VIDEO_MAX_FRAMES_OUT);
  if (n == 0) return loom_errorf(err, "%s: the video file is empty — give a video with at least one frame", name);
  int max_dim = o->image.max_dim > 0 && o->image.max_dim < LD_IMAGE_MAX_DIM ? o->image.max_dim : LD_IMAGE_MAX_DIM;
  int64_t max_pixels = (int64_t)max_dim * max_dim < LD_IMAGE_MAX_PIXELS ? (int64_t)max_dim * max_dim : LD_IMAGE_MAX_PIXELS;
  double budget = o->max_decode_s > 0 ? o->max_decode_s : VD_MAX_DECODE_S;
  vd_src src = {.p = data, .n = n, .pos = 0, .deadline = vd_now() + budget, .timed_out = 0};
  loom_video_info local;
  if (!info) info = &local;
  int64_t frames = 0, keys = 0;
  if (vd_count(&src, name, o, max_dim, max_pixels, &frames, &keys, info, err) < 0) return -1;
  info->frames = frames;
  info->key_frames = keys;
  int64_t N = o->sampling == LOOM_FRAMES_KEY ? keys : frames;
  if (N == 0) return loom_errorf(err, "%s: the video has no key frame — use [data] frame_sampling = uniform", name);
  int64_t target[LOOM_VIDEO_MAX_FRAMES_OUT];
  for (int k = 0; k < K; k++) target[k] = (int64_t)floor(((double)k + 0.5) * (double)N / (double)K);
  vd_out s = {.o = o, .out = out, .target = target};
  src.pos = 0;
  int rc = vd_frames(&src, name, o, max_dim, max_pixels, &s, err);
  sws_freeContext(s.sws);
  av_freep(&s.conv[0]);
  loom_free(s.pix);
  return rc;
}

int loom_video_load(const char *path, const loom_video_opts *o, float *out, loom_video_info *info, loom_error *err) {
  size_t cap = o->max_file_bytes ? o->max_file_bytes : VD_MAX_FILE_BYTES;
  uint64_t size = 0;
  int fd = loom_file_open_regular(path, cap, "video", "[data] max_video_mb", &size, err);
  if (fd == -2)
    return loom_errorf(err, "%s: cannot open video (%s) — check image_root and the path in the table", path, strerror(errno));
  if (fd < 0) return -1;
  void *data = NULL;
  size_t n = 0;
  if (loom_file_read_fd(fd, size, path, "video", &data, &n, err) < 0) return -1;
  int rc = loom_video_decode(data, n, path, o, out, info, err);
  loom_free(data);
  return rc;
}

/* ---- writing (demo data, tests) ---- */

static int vw_write(void *op, uint8_t *buf, int size) {
  FILE *f = op;
  return fwrite(buf, 1, (size_t)size, f) == (size_t)size ? size : AVERROR(EIO);
}

static int64_t vw_seek(void *op, int64_t off, int whence) {
  FILE *f = op;
  if (whence & AVSEEK_SIZE) {
    off_t cur = ftello(f);
    if (fseeko(f, 0, SEEK_END) < 0) return -1;
    off_t end = ftello(f);
    fseeko(f, cur, SEEK_SET);
    return end;
  }
  whence &= ~AVSEEK_FORCE;
  if (fseeko(f, (off_t)off, whence) < 0) return AVERROR(errno);
  return ftello(f);
}

static int vw_drain(AVCodecContext *cc, AVFormatContext *fmt, AVStream *st, AVPacket *pkt) {
  for (;;) {
    int r = avcodec_receive_packet(cc, pkt);
    if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) return 0;
    if (r < 0) return r;
    if (pkt->duration == 0) pkt->duration = 1; /* else the mp4 edit list hides the last frame */
    av_packet_rescale_ts(pkt, cc->time_base, st->time_base);
    pkt->stream_index = st->index;
    r = av_interleaved_write_frame(fmt, pkt);
    if (r < 0) return r;
  }
}

int loom_video_write(const char *path, const uint8_t *rgb, int n, int w, int h, double fps, int gop, loom_error *err) {
  pthread_once(&vd_log_once, vd_log_install);
  if (n < 1 || w < 2 || h < 2 || (w & 1) || (h & 1) || !(fps > 0))
    return loom_errorf(err, "%s: cannot write %d frames of %d x %d at %g fps (width and height must be even, fps > 0)",
                       path, n, w, h, fps);
  char fb[300];
  loom_atomic a;
  if (loom_atomic_open(&a, path, err) < 0) return -1;
  int rc = 0;
  AVFormatContext *fmt = NULL;
  AVIOContext *io = NULL;
  AVCodecContext *cc = NULL;
  AVFrame *f = NULL;
  AVPacket *pkt = NULL;
  struct SwsContext *sws = NULL;
  uint8_t *src[4] = {NULL, NULL, NULL, NULL}; /* one RGB frame in padded, aligned rows: swscale reads whole vectors */
  int sstride[4];
  const AVCodec *codec = avcodec_find_encoder(AV_CODEC_ID_MPEG4);
  if (!codec || avformat_alloc_output_context2(&fmt, NULL, "mp4", NULL) < 0 || !fmt) {
    rc = loom_errorf(err, "%s: FFmpeg has no MPEG-4 encoder or MP4 muxer", path);
    goto done;
  }
  unsigned char *iobuf = av_malloc(VD_IO_BUF);
  io = iobuf ? avio_alloc_context(iobuf, VD_IO_BUF, 1, a.f, NULL, vw_write, vw_seek) : NULL;
  if (!io) {
    av_free(iobuf);
    rc = loom_errorf(err, "%s: out of memory", path);
    goto done;
  }
  fmt->pb = io;
  fmt->flags |= AVFMT_FLAG_CUSTOM_IO | AVFMT_FLAG_BITEXACT;
  AVStream *st = avformat_new_stream(fmt, NULL);
  cc = avcodec_alloc_context3(codec);
  f = av_frame_alloc();
  pkt = av_packet_alloc();
  if (!st || !cc || !f || !pkt) {
    rc = loom_errorf(err, "%s: out of memory", path);
    goto done;
  }
  cc->width = w;
  cc->height = h;
  cc->pix_fmt = AV_PIX_FMT_YUV420P;
  cc->time_base = av_d2q(1.0 / fps, 65535);
  cc->framerate = av_inv_q(cc->time_base);
  cc->gop_size = gop > 0 ? gop : n + 1;
  cc->max_b_frames = 0;
  cc->thread_count = 1;
  cc->flags |= AV_CODEC_FLAG_QSCALE | AV_CODEC_FLAG_BITEXACT;
  cc->global_quality = FF_QP2LAMBDA * 3;
  if (fmt->oformat->flags & AVFMT_GLOBALHEADER) cc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
  if (avcodec_open2(cc, codec, NULL) < 0 || avcodec_parameters_from_context(st->codecpar, cc) < 0) {
    rc = loom_errorf(err, "%s: cannot open the MPEG-4 encoder for %d x %d at %g fps%s", path, w, h, fps,
                     vd_ffmsg(fb, sizeof fb));
    goto done;
  }
  st->time_base = cc->time_base;
  if (avformat_write_header(fmt, NULL) < 0) {
    rc = loom_errorf(err, "%s: cannot write the MP4 header%s", path, vd_ffmsg(fb, sizeof fb));
    goto done;
  }
  f->format = cc->pix_fmt;
  f->width = w;
  f->height = h;
  if (av_frame_get_buffer(f, 0) < 0) {
    rc = loom_errorf(err, "%s: out of memory", path);
    goto done;
  }
  sws = sws_getContext(w, h, AV_PIX_FMT_RGB24, w, h, AV_PIX_FMT_YUV420P, SWS_BILINEAR | SWS_ACCURATE_RND | SWS_BITEXACT,
                       NULL, NULL, NULL);
  if (!sws) {
    rc = loom_errorf(err, "%s: cannot convert RGB to YUV", path);
    goto done;
  }
  if (av_image_alloc(src, sstride, w, h + 1, AV_PIX_FMT_RGB24, 64) < 0) {
    rc = loom_errorf(err, "%s: out of memory", path);
    goto done;
  }
  for (int i = 0; i < n && rc == 0; i++) {
    if (av_frame_make_writable(f) < 0) {
      rc = loom_errorf(err, "%s: out of memory", path);
      break;
    }
    for (int y = 0; y < h; y++) memcpy(src[0] + (size_t)y * sstride[0], rgb + ((size_t)i * h + y) * w * 3, (size_t)w * 3);
    sws_scale(sws, (const uint8_t *const *)src, sstride, 0, h, f->data, f->linesize);
    f->pts = i;
    if (avcodec_send_frame(cc, f) < 0 || vw_drain(cc, fmt, st, pkt) < 0)
      rc = loom_errorf(err, "%s: encoding frame %d failed%s", path, i, vd_ffmsg(fb, sizeof fb));
  }
  if (rc == 0 && (avcodec_send_frame(cc, NULL) < 0 || vw_drain(cc, fmt, st, pkt) < 0))
    rc = loom_errorf(err, "%s: encoding the last frames failed%s", path, vd_ffmsg(fb, sizeof fb));
  if (rc == 0 && av_write_trailer(fmt) < 0) rc = loom_errorf(err, "%s: cannot finish the MP4 file%s", path, vd_ffmsg(fb, sizeof fb));
  if (rc == 0) avio_flush(io);
  if (rc == 0 && io->error < 0) rc = loom_errorf(err, "%s: writing failed (%s)", path, av_err2str(io->error));
done:
  av_freep(&src[0]);
  sws_freeContext(sws);
  av_packet_free(&pkt);
  av_frame_free(&f);
  avcodec_free_context(&cc);
  if (fmt) avformat_free_context(fmt);
  if (io) {
    av_freep(&io->buffer);
    avio_context_free(&io);
  }
  if (rc == 0) return loom_atomic_commit(&a, err);
  loom_atomic_discard(&a);
  return -1;
}
