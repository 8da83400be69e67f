/* loader.c — batches over one split (loom/data.h): a permutation per epoch drawn from (seed, epoch),
 * negatives and augmentation from the loader's own RNG, and an optional pthread that prepares the
 * next batch while the caller trains on the current one. The saved position is the one after the
 * last batch handed out, so restoring it replays the same batches whether or not prefetch was on. */
#include <assert.h>
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data_internal.h"
#include "loom/alloc.h"
#include "loom/data.h"

typedef struct pos {
  int64_t epoch, cursor;
  loom_rng rng;
} pos;

struct loom_loader {
  loom_dataset *ds;
  loom_split sp;
  const int32_t *rows;
  int64_t n;
  int B, shuffle, drop_last, augment;
  uint64_t seed;
  pos prod;            /* producer's position (worker-owned while it runs) */
  pos given;           /* position after the last batch returned */
  pos after[2];        /* position after the batch in each buffer */
  int32_t *perm;       /* (n) permutation of prod.epoch */
  int64_t perm_epoch;
  loom_batch buf[2];
  float *aug;          /* (C, H, W) scratch */
  /* prefetch */
  int prefetch, started, want, ready, quit, fill, rc;
  loom_error werr;
  pthread_t th;
  pthread_mutex_t mu;
  pthread_cond_t cv;
};

static void make_perm(loom_loader *ld) {
  if (ld->perm_epoch == ld->prod.epoch) return;
  for (int64_t i = 0; i < ld->n; i++) ld->perm[i] = ld->rows[i];
  if (ld->shuffle) {
    loom_rng r;
    loom_rng_seed(&r, loom_rng_hash(ld->seed, (uint64_t)ld->prod.epoch + 0x1000));
    loom_rng_shuffle(&r, ld->perm, ld->n);
  }
  ld->perm_epoch = ld->prod.epoch;
}

/* Random horizontal flip and random crop from the image padded by p zeros, per sample. */
static void augment(loom_loader *ld, loom_batch *b) {
  const loom_data_schema *s = ld_dataset_schema(ld->ds);
  int C = b->C, H = b->H, W = b->W, p = s->augment_crop_pad;
  size_t chw = (size_t)C * H * W;
  for (int i = 0; i < b->B; i++) {
    float *img = b->image + (size_t)i * chw;
    int flip = s->augment_flip ? loom_rng_u64(&ld->prod.rng) >> 63 : 0;
    int dy = p ? (int)loom_rng_below(&ld->prod.rng, (uint32_t)(2 * p + 1)) - p : 0;
    int dx = p ? (int)loom_rng_below(&ld->prod.rng, (uint32_t)(2 * p + 1)) - p : 0;
    if (!flip && !dx && !dy) continue;
    for (int c = 0; c < C; c++)
      for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
          int sy = y + dy, sx0 = x + dx;
          int sx = flip ? W - 1 - sx0 : sx0;
          float v = sy >= 0 && sy < H && sx0 >= 0 && sx0 < W ? img[((size_t)c * H + sy) * W + sx] : 0.0f;
          ld->aug[((size_t)c * H + y) * W + x] = v;
        }
    memcpy(img, ld->aug, chw * sizeof(float));
  }
}

static int produce(loom_loader *ld, loom_batch *b, pos *after, loom_error *err) {
  int64_t end = ld->drop_last ? ld->n - ld->n % ld->B : ld->n;
  if (ld->prod.cursor >= end) { /* epoch boundary: an empty batch, then the next epoch */
    b->B = 0;
    ld->prod.epoch++;
    ld->prod.cursor = 0;
    *after = ld->prod;
    return 0;
  }
  make_perm(ld);
  int n = (int)(end - ld->prod.cursor < ld->B ? end - ld->prod.cursor : ld->B);
  ld_dataset_lock(ld->ds);
  int rc = ld_encode_locked(ld->ds, ld->perm + ld->prod.cursor, n, b, err);
  if (rc == 0) rc = ld_negatives_locked(ld->ds, b, &ld->prod.rng, err);
  ld_dataset_unlock(ld->ds);
  if (rc < 0) return -1;
  if (ld->augment && b->C) augment(ld, b);
  ld->prod.cursor += n;
  *after = ld->prod;
  return 0;
}

static void *worker(void *arg) {
  loom_loader *ld = arg;
  pthread_mutex_lock(&ld->mu);
  for (;;) {
    while (!ld->want && !ld->quit) pthread_cond_wait(&ld->cv, &ld->mu);
    if (ld->quit) break;
    int slot = ld->fill;
    pthread_mutex_unlock(&ld->mu);
    loom_error e = {{0}};
    int rc = produce(ld, &ld->buf[slot], &ld->after[slot], &e);
    pthread_mutex_lock(&ld->mu);
    ld->rc = rc;
    ld->werr = e;
    ld->want = 0;
    ld->ready = 1;
    pthread_cond_broadcast(&ld->cv);
  }
  pthread_mutex_unlock(&ld->mu);
  return NULL;
}

loom_loader *loom_loader_new(loom_dataset *ds, loom_split sp, int prefetch, loom_error *err) {
  const loom_data_schema *s = ld_dataset_schema(ds);
  loom_loader *ld = loom_calloc(1, sizeof *ld);
  if (!ld) { loom_errorf(err, "out of memory"); return NULL; }
  ld->ds = ds;
  ld->sp = sp;
  ld->rows = loom_dataset_split_rows(ds, sp);
  ld->n = loom_dataset_rows(ds, sp);
  ld->B = s->batch_size;
  ld->shuffle = sp == LOOM_SPLIT_TRAIN && s->shuffle;
  ld->drop_last = sp == LOOM_SPLIT_TRAIN && s->drop_last;
  ld->augment = sp == LOOM_SPLIT_TRAIN && (s->augment_flip || s->augment_crop_pad);
  ld->seed = s->seed;
  ld->prefetch = prefetch;
  ld->perm_epoch = -1;
  loom_rng_seed(&ld->prod.rng, loom_rng_hash(s->seed, 0xba7c4));
  ld->given = ld->prod;
  pthread_mutex_init(&ld->mu, NULL);
  pthread_cond_init(&ld->cv, NULL);
  ld->perm = loom_malloc((size_t)(ld->n + 1) * sizeof *ld->perm);
  if (!ld->perm) {
    loom_errorf(err, "out of memory creating a loader");
    loom_loader_free(ld);
    return NULL;
  }
  if (loom_batch_init(&ld->buf[0], ds, ld->B, err) < 0 || loom_batch_init(&ld->buf[1], ds, ld->B, err) < 0) {
    loom_loader_free(ld);
    return NULL;
  }
  if (!(ld->aug = loom_malloc((size_t)(ld->buf[0].C * ld->buf[0].H * ld->buf[0].W + 1) * sizeof(float)))) {
    loom_errorf(err, "out of memory creating a loader");
    loom_loader_free(ld);
    return NULL;
  }
  return ld;
}

/* Waits for the worker to finish what it is doing (main thread, mu held). */
static void settle(loom_loader *ld) {
  while (ld->want) pthread_cond_wait(&ld->cv, &ld->mu);
}

void loom_loader_free(loom_loader *ld) {
  if (!ld) return;
  if (ld->started) {
    pthread_mutex_lock(&ld->mu);
    ld->quit = 1;
    pthread_cond_broadcast(&ld->cv);
    pthread_mutex_unlock(&ld->mu);
    pthread_join(ld->th, NULL);
  }
  pthread_mutex_destroy(&ld->mu);
  pthread_cond_destroy(&ld->cv);
  loom_batch_free(&ld->buf[0]);
  loom_batch_free(&ld->buf[1]);
  loom_free(ld->perm);
  loom_free(ld->aug);
  loom_free(ld);
}

const loom_batch *loom_loader_next(loom_loader *ld, loom_error *err) {
  if (!ld->prefetch) {
    if (produce(ld, &ld->buf[0], &ld->after[0], err) < 0) return NULL;
    ld->given = ld->after[0];
    return &ld->buf[0];
  }
  pthread_mutex_lock(&ld->mu);
  if (!ld->started) {
    if (pthread_create(&ld->th, NULL, worker, ld) != 0) {
      pthread_mutex_unlock(&ld->mu);
      loom_errorf(err, "cannot start the prefetch thread — run with prefetch off");
      return NULL;
    }
    ld->started = 1;
  }
  if (!ld->ready && !ld->want) { /* nothing in flight (first call, or after a restore) */
    ld->want = 1;
    pthread_cond_broadcast(&ld->cv);
  }
  while (!ld->ready) pthread_cond_wait(&ld->cv, &ld->mu);
  int slot = ld->fill, rc = ld->rc;
  ld->ready = 0;
  if (rc < 0) {
    if (err) *err = ld->werr;
    pthread_mutex_unlock(&ld->mu);
    return NULL;
  }
  ld->given = ld->after[slot];
  ld->fill ^= 1; /* prepare the next batch in the other buffer while the caller uses this one */
  ld->want = 1;
  pthread_cond_broadcast(&ld->cv);
  pthread_mutex_unlock(&ld->mu);
  return &ld->buf[slot];
}

int64_t loom_loader_epoch(const loom_loader *ld) { return ld->given.epoch; }

char *loom_loader_state_to_string(const loom_loader *ld) {
  char s[256];
  snprintf(s, sizeof s, "{\"split\":%d,\"n\":%" PRId64 ",\"seed\":\"%016" PRIx64 "\",\"epoch\":%" PRId64 ",\"cursor\":%" PRId64
           ",\"rng\":\"%016" PRIx64 "\"}",
           (int)ld->sp, ld->n, ld->seed, ld->given.epoch, ld->given.cursor, ld->given.rng.state);
  return loom_strdup(s);
}

static int hex64(const cJSON *o, const char *key, uint64_t *v) {
  const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));
  char *end;
  if (!s || strlen(s) != 16) return -1;
  *v = strtoull(s, &end, 16);
  return *end ? -1 : 0;
}

int loom_loader_state_from_string(loom_loader *ld, const char *s, loom_error *err) {
  cJSON *o = cJSON_Parse(s);
  const cJSON *sp = cJSON_GetObjectItemCaseSensitive(o, "split"), *n = cJSON_GetObjectItemCaseSensitive(o, "n"),
              *ep = cJSON_GetObjectItemCaseSensitive(o, "epoch"), *cu = cJSON_GetObjectItemCaseSensitive(o, "cursor");
  uint64_t seed = 0, rng = 0;
  int ok = cJSON_IsNumber(sp) && cJSON_IsNumber(n) && cJSON_IsNumber(ep) && cJSON_IsNumber(cu) && !hex64(o, "seed", &seed) &&
           !hex64(o, "rng", &rng) && ep->valuedouble >= 0 && cu->valuedouble >= 0;
  pos p = {ok ? (int64_t)ep->valuedouble : 0, ok ? (int64_t)cu->valuedouble : 0, {rng}};
  int same = ok && sp->valueint == (int)ld->sp && (int64_t)n->valuedouble == ld->n && seed == ld->seed && p.cursor <= ld->n;
  cJSON_Delete(o);
  if (!ok) return loom_errorf(err, "loader state: expected {split, n, seed, epoch, cursor, rng} — the checkpoint metadata is corrupt");
  if (!same)
    return loom_errorf(err, "loader state: saved for another split, row count or seed than this dataset (%d rows, seed %" PRIu64
                            ") — resume with the same data and [data] config",
                       (int)ld->n, ld->seed);
  if (ld->started) {
    pthread_mutex_lock(&ld->mu);
    settle(ld);
    ld->ready = 0; /* drop the prefetched batch */
    ld->prod = p;
    ld->given = p;
    pthread_mutex_unlock(&ld->mu);
  } else {
    ld->prod = p;
    ld->given = p;
  }
  return 0;
}
