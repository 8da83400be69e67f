/* fashion_shop.c — loom_convert_fashion_shop: a seeded simulator of an e-commerce shop whose article
 * images are real Fashion-MNIST images and whose titles, users and interactions are simulated. The generative model (documented
 * with the same constants in datasets/README.md) spreads the click signal over the modalities:
 *   category        image always shows it; text names it only for ~half of the items
 *   colour, style   only the text carries them (the images are grayscale)
 *   popularity      only interactions / the item_recent_views feature carry it
 *   price           the numeric price feature, weighed by each user's price sensitivity
 * logit P(click) = B0 + b_u + A_CAT·aff_u(c_i) + A_COL·[col_i=col_u] + A_STY·[sty_i=sty_u] + A_POP·q_i
 *                  − A_PRICE·λ_u·z_i − A_POS·ln(pos) + A_QCAT·[c_i=c_q] + A_QCOL·[col_i=col_q].
 * Every draw and every byte written is unchanged from the apps/loom-data.c this came from, so the
 * committed sample (datasets/fashion-shop-sample) regenerates byte for byte. */
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert_internal.h"
#include "data_internal.h"
#include "loom/alloc.h"
#include "loom/convert.h"
#include "loom/rng.h"
#include "loom/video.h"

enum { N_CAT = 10, N_COL = 8, N_STY = 6, N_MAT = 6, N_BRAND = 12, N_AGE = 5 };

static const double B0 = -2.6, A_CAT = 1.6, A_COL = 0.9, A_STY = 0.9, A_POP = 0.8, A_PRICE = 0.7,
                    A_POS = 0.3, A_QCAT = 1.0, A_QCOL = 0.6;
static const double AFF2 = 0.5;      /* affinity of a user's second category (first: 1) */
static const double PRICE_SIGMA = 0.35;
static const double A_VID = 1.2;      /* --videos only: logit += A_VID·[motion_i = taste_u] */
enum { VID_FRAMES = 8 };
static const double P_NAMED = 0.5;   /* P(text names the item's category) */
static const double T0 = 1704067200; /* 2024-01-01T00:00:00Z */
static const int DAYS = 60;

static const double CAT_WEIGHT[N_CAT] = {1.3, 0.9, 1.0, 1.0, 0.8, 0.7, 1.2, 1.1, 1.0, 0.9};
static const double CAT_PRICE[N_CAT] = {15, 40, 35, 50, 90, 30, 30, 65, 45, 80};
static const char *const CAT_QUERY[N_CAT] = {"t-shirt", "trousers", "pullover", "dress",   "coat",
                                             "sandal",  "shirt",    "sneaker",  "bag",     "ankle boot"};
static const char *const CAT_EN[N_CAT][3] = {
    {"t-shirt", "tee", "top"},      {"trousers", "pants", "jeans"},  {"pullover", "sweater", "jumper"},
    {"dress", "dress", "frock"},    {"coat", "jacket", "parka"},     {"sandals", "sandals", "slides"},
    {"shirt", "blouse", "shirt"},   {"sneakers", "trainers", "runners"}, {"bag", "handbag", "tote"},
    {"ankle boots", "boots", "booties"}};
static const char *const CAT_ZH[N_CAT] = {"T恤衫", "长裤", "套头衫", "连衣裙", "外套",
                                          "凉鞋",  "衬衫", "运动鞋", "手提包", "短靴"};
static const char *const GENERIC_EN[5] = {"piece", "essential", "wardrobe staple", "must-have", "find"};
static const char *const GENERIC_ZH[3] = {"单品", "好物", "新品"};
static const char *const COL_EN[N_COL] = {"black", "white", "red", "blue", "grey", "beige", "green", "pink"};
static const char *const COL_ZH[N_COL] = {"黑色", "白色", "红色", "蓝色", "灰色", "米色", "绿色", "粉色"};
static const char *const STY_EN[N_STY] = {"slim", "vintage", "casual", "classic", "sporty", "oversized"};
static const char *const STY_ZH[N_STY] = {"修身", "复古", "休闲", "经典", "运动", "宽松"};
static const double STY_PRICE[N_STY] = {1.0, 1.15, 0.9, 1.1, 1.0, 0.95};
static const char *const MAT_EN[N_MAT] = {"cotton", "wool", "linen", "leather", "polyester", "denim"};
static const char *const MAT_ZH[N_MAT] = {"棉", "羊毛", "亚麻", "皮革", "涤纶", "牛仔布"};
static const char *const BRANDS[N_BRAND] = {"Nordvik", "Aster & Co", "Maison Lune", "Kestrel", "Urbana", "Pinewood",
                                            "Solenne", "Hollis",     "Terra Nova",  "Mirella", "Fjord",  "Calder"};
static const char *const FILLER_EN[6] = {"Free returns within 30 days.", "Machine washable.", "Limited stock.",
                                         "Ships in two days.", "A customer favourite.", "New this season."};
static const char *const FILLER_ZH[4] = {"30天无忧退货。", "可机洗。", "库存有限。", "两天内发货。"};
static const char *const AGE_NAME[N_AGE] = {"18-24", "25-34", "35-44", "45-54", "55+"};
static const double AGE_P[N_AGE] = {0.2, 0.3, 0.25, 0.15, 0.1};
static const double AGE_LAMBDA[N_AGE] = {1.4, 1.1, 0.9, 0.8, 0.8};

typedef struct {
  int cat, col, sty, mat, brand, named, zh;
  double q, z, price;
  uint32_t img; /* index into the Fashion-MNIST training set */
  int motion;   /* --videos: 1 = the product video zooms in, 0 = out (only the video shows it) */
} shop_item;

typedef struct {
  int age, zh, cat1, cat2, col, sty, signup_cat, signup_sty;
  double lambda, bias, activity;
  int nsess;
  int vtaste; /* --videos: the motion this user clicks more (A_VID) */
} shop_user;

typedef struct {
  int user, k, device, hour, qcat, qcol, split;
  int64_t t;
  int32_t idx;
} shop_session;

static int bern(loom_rng *r, double p) { return ld_u01(r) < p; }

static int draw_weights(loom_rng *r, const double *w, int n) {
  double cum[16], s = 0;
  assert(n <= 16);
  for (int i = 0; i < n; i++) cum[i] = (s += w[i]);
  return ld_draw_cum(r, cum, n);
}

static double sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }

static double user_aff(const shop_user *u, int c) { return c == u->cat1 ? 1.0 : c == u->cat2 ? AFF2 : 0.0; }

static int cmp_session(const void *a, const void *b) {
  const shop_session *x = a, *y = b;
  if (x->t != y->t) return x->t < y->t ? -1 : 1;
  return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static void item_text(const shop_item *it, loom_rng *r, char *title, size_t tcap, char *desc, size_t dcap) {
  if (it->zh) {
    const char *noun = it->named ? CAT_ZH[it->cat] : GENERIC_ZH[loom_rng_below(r, 3)];
    snprintf(title, tcap, "%s %s%s%s", BRANDS[it->brand], COL_ZH[it->col], STY_ZH[it->sty], noun);
    snprintf(desc, dcap, "%s风格的%s%s，%s面料。%s", STY_ZH[it->sty], COL_ZH[it->col], noun, MAT_ZH[it->mat],
             FILLER_ZH[loom_rng_below(r, 4)]);
  } else {
    const char *noun = it->named ? CAT_EN[it->cat][loom_rng_below(r, 3)] : GENERIC_EN[loom_rng_below(r, 5)];
    /* Title shows colour and style in a seeded order, sometimes only one of them; the description has both. */
    switch (loom_rng_below(r, 3)) {
    case 0: snprintf(title, tcap, "%s %s %s %s", BRANDS[it->brand], COL_EN[it->col], STY_EN[it->sty], noun); break;
    case 1: snprintf(title, tcap, "%s %s %s", BRANDS[it->brand], STY_EN[it->sty], noun); break;
    default: snprintf(title, tcap, "%s %s %s", BRANDS[it->brand], COL_EN[it->col], noun); break;
    }
    snprintf(desc, dcap, "%s %s %s in %s %s. %s", strchr("aeiou", STY_EN[it->sty][0]) ? "An" : "A", STY_EN[it->sty], noun, COL_EN[it->col], MAT_EN[it->mat],
             FILLER_EN[loom_rng_below(r, 6)]);
  }
}

void loom_fashion_shop_opts_default(loom_fashion_shop_opts *o) {
  *o = (loom_fashion_shop_opts){.items = 3000, .users = 500, .interactions = 60000, .seed = 1, .chinese_share = 0.2};
}

/* Everything one generation holds. Items, users and sessions each draw from their own stream, so e.g.
 * changing the number of interactions leaves items.csv and users.csv unchanged. */
typedef struct {
  const char *src, *out;
  long n_items, n_users, n_inter;
  double zh_share;
  ld_fm_split fm;                  /* the real Fashion-MNIST training set */
  loom_rng ri, ru, rs;             /* items, users, sessions */
  int videos;                      /* --videos: product videos and the motion signal */
  loom_rng rv;                     /* their own stream: without --videos nothing else changes */
  shop_item *items;                /* (n_items) */
  double *pop_cum;                 /* (n_items) cumulative exp(q / 2): popularity draws */
  int32_t *cat_list[N_CAT];        /* (n_items) items of category c, cat_n[c] of them */
  int32_t *cc_list[N_CAT][N_COL];  /* (n_items) items of category c and colour k, cc_n[c][k] of them */
  int cat_n[N_CAT], cc_n[N_CAT][N_COL];
  shop_user *users;                /* (n_users) */
  double *act_cum;                 /* (n_users) cumulative activity: who gets the extra sessions */
  shop_session *sess;              /* (n_sess) */
  long n_sess;
} shop;

/* Opens out/a and out/b and writes their header lines. */
static int open_pair(const shop *g, const char *a, const char *ha, const char *b, const char *hb, FILE **fa,
                     FILE **fb, loom_error *err) {
  if (!(*fa = ld_create(g->out, a, err))) return -1;
  if (!(*fb = ld_create(g->out, b, err))) return -1;
  fputs(ha, *fa);
  fputs(hb, *fb);
  return 0;
}

/* Closes both (each exactly once, also after an error) and reports a failed write. */
static int close_pair(const shop *g, const char *a, const char *b, FILE **fa, FILE **fb, int rc, loom_error *err) {
  if (*fa && ld_close(*fa, g->out, a, err)) rc = -1;
  if (*fb && ld_close(*fb, g->out, b, err)) rc = -1;
  *fa = *fb = NULL;
  return rc;
}

/* Session lengths first (checked before anything is written): 6..14 impressions each, until exactly
 * n_inter impressions; every user gets at least 3 sessions (so each has train, valid and test
 * sessions), the rest go to users by activity (assign_sessions). */
static int draw_sessions(shop *g, loom_error *err) {
  long total = 0, cap = 1024;
  g->sess = loom_malloc((size_t)cap * sizeof *g->sess);
  while (g->sess && total < g->n_inter) {
    if (g->n_sess == cap) {
      cap *= 2;
      shop_session *ns = loom_realloc(g->sess, (size_t)cap * sizeof *ns);
      if (!ns) loom_free(g->sess);
      g->sess = ns;
      if (!ns) break;
    }
    shop_session *s = &g->sess[g->n_sess];
    s->k = 6 + (int)loom_rng_below(&g->rs, 9);
    if (total + s->k > g->n_inter) s->k = (int)(g->n_inter - total);
    total += s->k;
    s->idx = (int32_t)g->n_sess++;
  }
  if (!g->sess) return loom_errorf(err, "out of memory for sessions");
  if (g->n_sess < 3 * g->n_users)
    return loom_errorf(err, "--interactions %ld gives only %ld sessions for %ld users (need 3 per user, ~10 "
                            "impressions each): raise --interactions to at least %ld or lower --users",
                       g->n_inter, g->n_sess, g->n_users, 30 * g->n_users);
  return 0;
}

/* Items: category ~ CAT_WEIGHT, image = an unused real training image of that category (reused
 * round-robin once a category's images run out). */
static int draw_items(shop *g, loom_error *err) {
  const long n_items = g->n_items;
  g->items = loom_calloc((size_t)n_items, sizeof *g->items);
  g->pop_cum = loom_malloc((size_t)n_items * sizeof *g->pop_cum);
  if (!g->items || !g->pop_cum) return loom_errorf(err, "out of memory for %ld items", n_items);
  int32_t *by_cat[N_CAT] = {0}; /* (fm.n) training images of category c, shuffled */
  int by_cat_n[N_CAT] = {0}, by_cat_next[N_CAT] = {0}, rc = 0;
  for (int c = 0; c < N_CAT; c++) {
    by_cat[c] = loom_malloc(g->fm.n * sizeof(int32_t));
    g->cat_list[c] = loom_malloc((size_t)n_items * sizeof(int32_t));
    for (int k = 0; k < N_COL; k++) g->cc_list[c][k] = loom_malloc((size_t)n_items * sizeof(int32_t));
  }
  for (int c = 0; c < N_CAT && !rc; c++) {
    if (!by_cat[c] || !g->cat_list[c]) rc = loom_errorf(err, "out of memory");
    for (int k = 0; k < N_COL && !rc; k++)
      if (!g->cc_list[c][k]) rc = loom_errorf(err, "out of memory");
  }
  if (!rc)
    for (uint32_t i = 0; i < g->fm.n; i++) by_cat[g->fm.labels[i]][by_cat_n[g->fm.labels[i]]++] = (int32_t)i;
  for (int c = 0; c < N_CAT && !rc; c++) {
    if (by_cat_n[c] == 0)
      rc = loom_errorf(err, "%s: the training set has no image of category %d (%s)", g->src, c, ld_fm_names[c]);
    else
      loom_rng_shuffle(&g->ri, by_cat[c], by_cat_n[c]);
  }
  double pop_total = 0;
  for (long i = 0; i < n_items && !rc; i++) {
    shop_item *it = &g->items[i];
    it->cat = draw_weights(&g->ri, CAT_WEIGHT, N_CAT);
    it->col = (int)loom_rng_below(&g->ri, N_COL);
    it->sty = (int)loom_rng_below(&g->ri, N_STY);
    it->mat = (int)loom_rng_below(&g->ri, N_MAT);
    it->brand = (int)loom_rng_below(&g->ri, N_BRAND);
    it->named = bern(&g->ri, P_NAMED);
    it->zh = bern(&g->ri, g->zh_share);
    it->q = loom_rng_normal(&g->ri);
    it->z = loom_rng_normal(&g->ri);
    double p = CAT_PRICE[it->cat] * STY_PRICE[it->sty] * exp(PRICE_SIGMA * it->z);
    it->price = floor(p) + 0.99;
    it->img = (uint32_t)by_cat[it->cat][by_cat_next[it->cat]++ % by_cat_n[it->cat]];
    g->cat_list[it->cat][g->cat_n[it->cat]++] = (int32_t)i;
    g->cc_list[it->cat][it->col][g->cc_n[it->cat][it->col]++] = (int32_t)i;
    g->pop_cum[i] = (pop_total += exp(0.5 * it->q));
  }
  for (int c = 0; c < N_CAT; c++) loom_free(by_cat[c]);
  return rc;
}

/* videos/iNNNNN.mp4: the photo zoomed from 1x to 1.6x about its centre over VID_FRAMES frames (motion 1), or
 * the same frames in reverse (motion 0): both play the same pictures, so only their order tells. */
static int write_video(const char *path, const uint8_t *img, int motion, loom_error *err) {
  uint8_t rgb[VID_FRAMES * 28 * 28 * 3];
  for (int t = 0; t < VID_FRAMES; t++) {
    int step = motion ? t : VID_FRAMES - 1 - t;
    double zoom = 1.0 + 0.6 * step / (VID_FRAMES - 1);
    for (int y = 0; y < 28; y++)
      for (int x = 0; x < 28; x++) {
        double sy = 13.5 + (y - 13.5) / zoom, sx = 13.5 + (x - 13.5) / zoom;
        int y0 = (int)floor(sy), x0 = (int)floor(sx);
        double fy = sy - y0, fx = sx - x0, v = 0;
        for (int dy = 0; dy < 2; dy++)
          for (int dx = 0; dx < 2; dx++) {
            int yy = y0 + dy < 0 ? 0 : y0 + dy > 27 ? 27 : y0 + dy, xx = x0 + dx < 0 ? 0 : x0 + dx > 27 ? 27 : x0 + dx;
            v += (dy ? fy : 1 - fy) * (dx ? fx : 1 - fx) * img[yy * 28 + xx];
          }
        uint8_t b = (uint8_t)lround(v);
        uint8_t *px = rgb + (((size_t)t * 28 + y) * 28 + x) * 3;
        px[0] = px[1] = px[2] = b;
      }
  }
  return loom_video_write(path, rgb, VID_FRAMES, 28, 28, 8, 4, err);
}

/* items.csv (what a model may see), truth_items.csv (the latent attributes) and images/iNNNNN.png. */
static int write_items(shop *g, loom_error *err) {
  char dir[LD_PATH_MAX], rel[64], path[LD_PATH_MAX], title[256], desc[512];
  FILE *fi = NULL, *ft = NULL;
  int rc = ld_path_join(dir, sizeof dir, g->out, "images", err) || ld_mkdir_p(dir, err) ? -1 : 0;
  if (!rc && g->videos) rc = ld_path_join(dir, sizeof dir, g->out, "videos", err) || ld_mkdir_p(dir, err) ? -1 : 0;
  if (!rc)
    rc = open_pair(g, "items.csv",
                   g->videos ? "item_id,title,description,category,price,image,source_image,lang,video\n"
                             : "item_id,title,description,category,price,image,source_image,lang\n",
                   "truth_items.csv",
                   g->videos ? "item_id,category_id,colour,style,material,popularity,price_z,category_named,motion\n"
                             : "item_id,category_id,colour,style,material,popularity,price_z,category_named\n",
                   &fi, &ft, err);
  for (long i = 0; i < g->n_items && !rc; i++) {
    shop_item *it = &g->items[i];
    item_text(it, &g->ri, title, sizeof title, desc, sizeof desc);
    snprintf(rel, sizeof rel, "images/i%05ld.png", i);
    if (ld_path_join(path, sizeof path, g->out, rel, err) ||
        ld_write_png28(path, g->fm.images + (size_t)it->img * 784, err)) {
      rc = -1;
      break;
    }
    ld_csv_putf(fi, 1, "i%05ld", i); ld_csv_put(fi, 0, title); ld_csv_put(fi, 0, desc); ld_csv_put(fi, 0, ld_fm_names[it->cat]);
    ld_csv_putf(fi, 0, "%.2f", it->price); ld_csv_put(fi, 0, rel); ld_csv_putf(fi, 0, "train:%u", it->img);
    ld_csv_put(fi, 0, it->zh ? "zh" : "en");
    if (g->videos) {
      char vrel[64];
      it->motion = (int)loom_rng_below(&g->rv, 2);
      snprintf(vrel, sizeof vrel, "videos/i%05ld.mp4", i);
      if (ld_path_join(path, sizeof path, g->out, vrel, err) ||
          write_video(path, g->fm.images + (size_t)it->img * 784, it->motion, err)) {
        rc = -1;
        break;
      }
      ld_csv_put(fi, 0, vrel);
    }
    ld_csv_end(fi);
    ld_csv_putf(ft, 1, "i%05ld", i); ld_csv_putf(ft, 0, "%d", it->cat); ld_csv_put(ft, 0, COL_EN[it->col]);
    ld_csv_put(ft, 0, STY_EN[it->sty]); ld_csv_put(ft, 0, MAT_EN[it->mat]); ld_csv_putf(ft, 0, "%.4f", it->q);
    ld_csv_putf(ft, 0, "%.4f", it->z); ld_csv_putf(ft, 0, "%d", it->named);
    if (g->videos) ld_csv_putf(ft, 0, "%d", it->motion);
    ld_csv_end(ft);
  }
  return close_pair(g, "items.csv", "truth_items.csv", &fi, &ft, rc, err);
}

/* --videos: each user's taste for a motion, from the videos' own stream (0 = nothing to do). */
static int draw_tastes(shop *g) {
  for (long u = 0; g->videos && u < g->n_users; u++) g->users[u].vtaste = (int)loom_rng_below(&g->rv, 2);
  return 0;
}

/* Users: latent tastes, plus a noisy sign-up survey that is all users.csv reveals. */
static int draw_users(shop *g, loom_error *err) {
  g->users = loom_calloc((size_t)g->n_users, sizeof *g->users);
  g->act_cum = loom_malloc((size_t)g->n_users * sizeof *g->act_cum);
  if (!g->users || !g->act_cum) return loom_errorf(err, "out of memory for %ld users", g->n_users);
  loom_rng *ru = &g->ru;
  double act_total = 0;
  for (long u = 0; u < g->n_users; u++) {
    shop_user *us = &g->users[u];
    us->age = draw_weights(ru, AGE_P, N_AGE);
    us->zh = bern(ru, g->zh_share);
    us->cat1 = draw_weights(ru, CAT_WEIGHT, N_CAT);
    do us->cat2 = draw_weights(ru, CAT_WEIGHT, N_CAT); while (us->cat2 == us->cat1);
    us->col = (int)loom_rng_below(ru, N_COL);
    us->sty = (int)loom_rng_below(ru, N_STY);
    us->lambda = AGE_LAMBDA[us->age] * exp(0.25 * loom_rng_normal(ru));
    us->bias = 0.4 * loom_rng_normal(ru);
    us->activity = exp(0.6 * loom_rng_normal(ru));
    us->signup_cat = bern(ru, 0.6) ? us->cat1 : (int)loom_rng_below(ru, N_CAT);
    us->signup_sty = bern(ru, 0.6) ? us->sty : (int)loom_rng_below(ru, N_STY);
    g->act_cum[u] = (act_total += us->activity);
  }
  return 0;
}

static int write_users(const shop *g, loom_error *err) {
  FILE *fi = NULL, *ft = NULL;
  int rc = open_pair(g, "users.csv", "user_id,age_bucket,lang,signup_category,signup_style\n", "truth_users.csv",
                     g->videos ? "user_id,category_1,category_2,colour,style,price_sensitivity,bias,activity,video_taste\n"
                               : "user_id,category_1,category_2,colour,style,price_sensitivity,bias,activity\n",
                     &fi, &ft, err);
  for (long u = 0; u < g->n_users && !rc; u++) {
    const shop_user *us = &g->users[u];
    ld_csv_putf(fi, 1, "u%05ld", u); ld_csv_put(fi, 0, AGE_NAME[us->age]); ld_csv_put(fi, 0, us->zh ? "zh" : "en");
    ld_csv_put(fi, 0, ld_fm_names[us->signup_cat]); ld_csv_put(fi, 0, STY_EN[us->signup_sty]); ld_csv_end(fi);
    ld_csv_putf(ft, 1, "u%05ld", u); ld_csv_putf(ft, 0, "%d", us->cat1); ld_csv_putf(ft, 0, "%d", us->cat2);
    ld_csv_put(ft, 0, COL_EN[us->col]); ld_csv_put(ft, 0, STY_EN[us->sty]); ld_csv_putf(ft, 0, "%.4f", us->lambda);
    ld_csv_putf(ft, 0, "%.4f", us->bias); ld_csv_putf(ft, 0, "%.4f", us->activity);
    if (g->videos) ld_csv_putf(ft, 0, "%d", us->vtaste);
    ld_csv_end(ft);
  }
  return close_pair(g, "users.csv", "truth_users.csv", &fi, &ft, rc, err);
}

/* Each session's user (3 round-robin per user, the rest by activity), device, time and query; then
 * session ids in time order and a chronological split per user: the last ~10% of a user's sessions
 * are test, the ~10% before valid. */
static int assign_sessions(shop *g, loom_error *err) {
  loom_rng *rs = &g->rs;
  for (long s = 0; s < g->n_sess; s++) {
    shop_session *S = &g->sess[s];
    S->user = s < 3 * g->n_users ? (int)(s % g->n_users) : ld_draw_cum(rs, g->act_cum, (int)g->n_users);
    g->users[S->user].nsess++;
    S->device = bern(rs, 0.65) ? 0 : 1;
    int day = (int)loom_rng_below(rs, (uint32_t)DAYS);
    S->hour = (int)loom_rng_below(rs, 24);
    S->t = (int64_t)T0 + (int64_t)day * 86400 + S->hour * 3600 + loom_rng_below(rs, 3600);
    const shop_user *us = &g->users[S->user];
    S->qcat = S->qcol = -1;
    if (bern(rs, 0.35)) {
      S->qcat = bern(rs, 0.7) ? (bern(rs, 0.7) ? us->cat1 : us->cat2) : (int)loom_rng_below(rs, N_CAT);
      if (bern(rs, 0.5)) S->qcol = bern(rs, 0.6) ? us->col : (int)loom_rng_below(rs, N_COL);
    }
  }
  qsort(g->sess, (size_t)g->n_sess, sizeof *g->sess, cmp_session);
  for (long s = 0; s < g->n_sess; s++) g->sess[s].idx = (int32_t)s;
  int *seen = loom_calloc((size_t)g->n_users, sizeof *seen);
  if (!seen) return loom_errorf(err, "out of memory");
  for (long s = 0; s < g->n_sess; s++) {
    const shop_user *us = &g->users[g->sess[s].user];
    int n = us->nsess, nt = (int)lround(0.1 * n), nv;
    if (nt < 1) nt = 1;
    nv = nt;
    int r = seen[g->sess[s].user]++;
    g->sess[s].split = r >= n - nt ? 2 : r >= n - nt - nv ? 1 : 0;
  }
  loom_free(seen);
  return 0;
}

/* The item shown at a position: from the query's category (and colour) when there is a query, else
 * sometimes from the user's own categories, else by popularity; up to 8 tries to avoid showing an
 * item twice in a session (shown[0..p)). */
static int32_t pick_item(shop *g, const shop_session *S, const shop_user *us, const int32_t *shown, int p) {
  loom_rng *rs = &g->rs;
  int32_t item = 0;
  for (int tries = 0; tries < 8; tries++) {
    if (S->qcat >= 0 && bern(rs, 0.7)) {
      int c = S->qcat;
      if (S->qcol >= 0 && g->cc_n[c][S->qcol] > 0 && bern(rs, 0.6))
        item = g->cc_list[c][S->qcol][loom_rng_below(rs, (uint32_t)g->cc_n[c][S->qcol])];
      else if (g->cat_n[c] > 0)
        item = g->cat_list[c][loom_rng_below(rs, (uint32_t)g->cat_n[c])];
      else
        item = ld_draw_cum(rs, g->pop_cum, (int)g->n_items);
    } else if (S->qcat < 0 && bern(rs, 0.3)) {
      int c = bern(rs, 0.7) ? us->cat1 : us->cat2;
      item = g->cat_n[c] > 0 ? g->cat_list[c][loom_rng_below(rs, (uint32_t)g->cat_n[c])]
                             : ld_draw_cum(rs, g->pop_cum, (int)g->n_items);
    } else {
      item = ld_draw_cum(rs, g->pop_cum, (int)g->n_items);
    }
    int dup = 0;
    for (int j = 0; j < p; j++) dup |= shown[j] == item;
    if (!dup) break;
  }
  return item;
}

/* interactions.csv (impressions with click, purchase, dwell) and truth_interactions.csv (the logit
 * and click probability of each, from the model in the opening comment). */
static int write_interactions(shop *g, loom_error *err) {
  static const char *const split_name[3] = {"train", "valid", "test"};
  loom_rng *rs = &g->rs;
  FILE *fi = NULL, *ft = NULL;
  int rc = open_pair(g, "interactions.csv",
                     "session_id,user_id,item_id,timestamp,query,position,price,item_recent_views,hour,device,"
                     "clicked,purchased,dwell_s,split\n",
                     "truth_interactions.csv", "session_id,position,item_id,logit,p_click\n", &fi, &ft, err);
  for (long s = 0; s < g->n_sess && !rc; s++) {
    const shop_session *S = &g->sess[s];
    const shop_user *us = &g->users[S->user];
    char query[96] = "";
    if (S->qcat >= 0) {
      if (us->zh)
        snprintf(query, sizeof query, "%s%s", S->qcol >= 0 ? COL_ZH[S->qcol] : "", CAT_ZH[S->qcat]);
      else
        snprintf(query, sizeof query, "%s%s%s", S->qcol >= 0 ? COL_EN[S->qcol] : "", S->qcol >= 0 ? " " : "",
                 CAT_QUERY[S->qcat]);
    }
    int32_t shown[16];
    for (int p = 0; p < S->k; p++) {
      int32_t item = shown[p] = pick_item(g, S, us, shown, p);
      const shop_item *it = &g->items[item];
      int pos = p + 1;
      double aff = user_aff(us, it->cat);
      double logit = B0 + us->bias + A_CAT * aff + A_COL * (it->col == us->col) + A_STY * (it->sty == us->sty) +
                     A_POP * it->q - A_PRICE * us->lambda * it->z - A_POS * log((double)pos);
      if (S->qcat >= 0) logit += A_QCAT * (it->cat == S->qcat) + (S->qcol >= 0 ? A_QCOL * (it->col == S->qcol) : 0);
      if (g->videos) logit += A_VID * (it->motion == us->vtaste);
      double pc = sigmoid(logit);
      int clicked = bern(rs, pc);
      int purchased = clicked && bern(rs, sigmoid(-1.5 + 0.8 * aff + 0.5 * it->q - 0.6 * us->lambda * it->z));
      double dwell = clicked ? exp(2.8 + 0.3 * aff + 0.3 * (it->col == us->col) + 0.3 * (it->sty == us->sty) +
                                   0.4 * loom_rng_normal(rs))
                             : 0.0;
      long views = lround(exp(2.5 + 0.9 * it->q + 0.5 * loom_rng_normal(rs)));
      ld_csv_putf(fi, 1, "s%06d", S->idx); ld_csv_putf(fi, 0, "u%05d", S->user); ld_csv_putf(fi, 0, "i%05d", item);
      ld_csv_putf(fi, 0, "%lld", (long long)(S->t + 5 * p)); ld_csv_put(fi, 0, query); ld_csv_putf(fi, 0, "%d", pos);
      ld_csv_putf(fi, 0, "%.2f", it->price); ld_csv_putf(fi, 0, "%ld", views); ld_csv_putf(fi, 0, "%d", S->hour);
      ld_csv_put(fi, 0, S->device ? "desktop" : "mobile"); ld_csv_putf(fi, 0, "%d", clicked);
      ld_csv_putf(fi, 0, "%d", purchased); ld_csv_putf(fi, 0, "%.1f", dwell); ld_csv_put(fi, 0, split_name[S->split]);
      ld_csv_end(fi);
      ld_csv_putf(ft, 1, "s%06d", S->idx); ld_csv_putf(ft, 0, "%d", pos); ld_csv_putf(ft, 0, "i%05d", item);
      ld_csv_putf(ft, 0, "%.4f", logit); ld_csv_putf(ft, 0, "%.4f", pc); ld_csv_end(ft);
    }
  }
  return close_pair(g, "interactions.csv", "truth_interactions.csv", &fi, &ft, rc, err);
}

int loom_convert_fashion_shop(const char *src, const char *out, const loom_fashion_shop_opts *o,
                              loom_fashion_shop_stats *st, loom_error *err) {
  if (o->items < LOOM_SHOP_ITEMS_MIN || o->items > LOOM_SHOP_ITEMS_MAX)
    return loom_errorf(err, "fashion-shop: items %ld: expected an integer in [%d, %d]", o->items, LOOM_SHOP_ITEMS_MIN,
                       LOOM_SHOP_ITEMS_MAX);
  if (o->users < LOOM_SHOP_USERS_MIN || o->users > LOOM_SHOP_USERS_MAX)
    return loom_errorf(err, "fashion-shop: users %ld: expected an integer in [%d, %d]", o->users, LOOM_SHOP_USERS_MIN,
                       LOOM_SHOP_USERS_MAX);
  if (o->interactions < LOOM_SHOP_INTERACTIONS_MIN || o->interactions > LOOM_SHOP_INTERACTIONS_MAX)
    return loom_errorf(err, "fashion-shop: interactions %ld: expected an integer in [%d, %d]", o->interactions,
                       LOOM_SHOP_INTERACTIONS_MIN, LOOM_SHOP_INTERACTIONS_MAX);
  if (!(o->chinese_share >= 0.0 && o->chinese_share <= 1.0))
    return loom_errorf(err, "fashion-shop: chinese_share %g: expected a number in [0, 1]", o->chinese_share);
  shop g = {.src = src, .out = out, .n_items = o->items, .n_users = o->users, .n_inter = o->interactions,
            .zh_share = o->chinese_share, .videos = o->videos};
  loom_rng_seed(&g.ri, loom_rng_hash(o->seed, 1));
  loom_rng_seed(&g.ru, loom_rng_hash(o->seed, 2));
  loom_rng_seed(&g.rs, loom_rng_hash(o->seed, 3));
  loom_rng_seed(&g.rv, loom_rng_hash(o->seed, 4));
  int rc = ld_fm_load(src, "train", &g.fm, err) || draw_sessions(&g, err) || draw_items(&g, err) ||
                   write_items(&g, err) || draw_users(&g, err) || draw_tastes(&g) || write_users(&g, err) ||
                   assign_sessions(&g, err) || write_interactions(&g, err)
               ? -1
               : 0;
  if (!rc && st) st->sessions = g.n_sess;
  for (int c = 0; c < N_CAT; c++) {
    loom_free(g.cat_list[c]);
    for (int k = 0; k < N_COL; k++) loom_free(g.cc_list[c][k]);
  }
  loom_free(g.items);
  loom_free(g.users);
  loom_free(g.sess);
  loom_free(g.pop_cum);
  loom_free(g.act_cum);
  ld_fm_free(&g.fm);
  return rc;
}
