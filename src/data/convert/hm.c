/* hm.c — loom_convert_hm: H&M Personalized Fashion Recommendations (Kaggle) — articles.csv,
 * customers.csv and transactions_train.csv — to items.csv, users.csv and interactions.csv with
 * popularity-sampled negatives. The three CSVs are streamed through the data layer's reader
 * (ld_csv_stream: its strict parsing and messages, constant memory, so the 31M-row transaction file
 * costs 20 bytes per kept purchase); IDs go through ld_map. articles.csv is read twice: once for the
 * catalogue, once to write items.csv when mean prices and sales are known. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "convert_internal.h"
#include "data_internal.h"
#include "loom/alloc.h"
#include "loom/convert.h"
#include "loom/data.h"
#include "loom/rng.h"

typedef struct {
  int32_t user, item, day;
  int channel;
  float price;
} hm_txn;

typedef struct {
  const char *src;
  char apath[LD_PATH_MAX], cpath[LD_PATH_MAX], tpath[LD_PATH_MAX];
  FILE *fo;
  ld_map items, users;
  hm_txn *txn;
  long ntxn, captxn, max_txn, skipped;
  double *price_sum; /* (items) */
  int32_t *sales;    /* (items) */
  uint8_t *written;  /* (items) items.csv row written: duplicate article rows are dropped */
} hm_ctx;

/* Columns read from each file (all as text: numbers are parsed here, with H&M-specific messages). */
enum { A_ID, A_PROD, A_TYPE, A_GROUP, A_APPEAR, A_COLOUR, A_INDEX, A_DESC, A_N };
static const char *const ARTICLE_COLS[A_N] = {"article_id", "prod_name", "product_type_name", "product_group_name",
                                              "graphical_appearance_name", "colour_group_name", "index_group_name",
                                              "detail_desc"};
enum { C_ID, C_FN, C_ACTIVE, C_CLUB, C_NEWS, C_AGE, C_N };
static const char *const CUSTOMER_COLS[C_N] = {"customer_id", "FN", "Active", "club_member_status",
                                               "fashion_news_frequency", "age"};
enum { T_DAT, T_CUST, T_ART, T_PRICE, T_CHANNEL, T_N };
static const char *const TXN_COLS[T_N] = {"t_dat", "customer_id", "article_id", "price", "sales_channel_id"};

/* Days since 1970-01-01 of a YYYY-MM-DD date (Howard Hinnant's days_from_civil); -1 if malformed. */
static long days_from_civil(const char *s) {
  int y, m, d;
  char tail;
  if (sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3 || m < 1 || m > 12 || d < 1 || d > 31) return -1;
  y -= m <= 2;
  long era = (y >= 0 ? y : y - 399) / 400;
  long yoe = y - era * 400;
  long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

/* Writes the YYYY-MM-DD of `day` days since 1970-01-01 (civil_from_days) as a CSV field. */
static void put_date(FILE *f, long day) {
  long z = day + 719468, era = z / 146097, doe = z - era * 146097;
  long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365, doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  long mp = (5 * doy + 2) / 153, d = doy - (153 * mp + 2) / 5 + 1, m = mp < 10 ? mp + 3 : mp - 9;
  ld_csv_putf(f, 0, "%04ld-%02ld-%02ld", yoe + era * 400 + (m <= 2), m, d);
}

/* H&M article ids are 10 digits with a leading zero; CSV exports sometimes drop it. */
static void hm_article_id(const char *s, char out[16]) { snprintf(out, 16, "%010lld", atoll(s)); }

/* Header call of a stream: every column present, else a message saying this is the wrong file. */
static int check_header(const loom_table *t, const char *path, loom_error *err) {
  for (int c = 0; c < t->ncols; c++)
    if (!t->cols[c].present)
      return loom_errorf(err, "%s:1: missing column '%s' — is this the right file?", path, t->cols[c].name);
  return 0;
}

static long map_put(ld_map *m, const char *k) { return ld_map_put(m, k, strlen(k), m->n, NULL); }
static long map_get(const ld_map *m, const char *k) { return ld_map_get(m, k, strlen(k)); }

static int article_row(const loom_table *t, void *vctx, loom_error *err) {
  hm_ctx *c = vctx;
  if (t->nrows == 0) return check_header(t, c->apath, err);
  char id[16];
  hm_article_id(loom_table_str(t, A_ID, 0), id);
  if (map_put(&c->items, id) < 0) return loom_errorf(err, "out of memory");
  return 0;
}

static int customer_row(const loom_table *t, void *vctx, loom_error *err) {
  hm_ctx *c = vctx;
  if (t->nrows == 0) {
    if (check_header(t, c->cpath, err)) return -1;
    fputs("user_id,age,club_member_status,fashion_news_frequency,fn,active\n", c->fo);
    return 0;
  }
  const char *id = loom_table_str(t, C_ID, 0);
  int added = 0;
  if (ld_map_put(&c->users, id, strlen(id), c->users.n, &added) < 0) return loom_errorf(err, "out of memory");
  if (!added)
    return loom_errorf(err, "%s:%lld: duplicate customer_id '%s'", c->cpath, (long long)t->line[0], id);
  ld_csv_put(c->fo, 1, id);
  ld_csv_put(c->fo, 0, loom_table_str(t, C_AGE, 0));
  ld_csv_put(c->fo, 0, loom_table_str(t, C_CLUB, 0));
  ld_csv_put(c->fo, 0, loom_table_str(t, C_NEWS, 0));
  ld_csv_put(c->fo, 0, loom_table_str(t, C_FN, 0)[0] ? "1" : "0");
  ld_csv_put(c->fo, 0, loom_table_str(t, C_ACTIVE, 0)[0] ? "1" : "0");
  ld_csv_end(c->fo);
  return 0;
}

static int txn_row(const loom_table *t, void *vctx, loom_error *err) {
  hm_ctx *c = vctx;
  if (t->nrows == 0) return check_header(t, c->tpath, err);
  if (c->max_txn > 0 && c->ntxn >= c->max_txn) return 1; /* enough: stop reading */
  long long line = (long long)t->line[0];
  const char *dat = loom_table_str(t, T_DAT, 0), *ps = loom_table_str(t, T_PRICE, 0);
  long day = days_from_civil(dat);
  if (day < 0) return loom_errorf(err, "%s:%lld: column 't_dat': '%s' is not a YYYY-MM-DD date", c->tpath, line, dat);
  char id[16];
  hm_article_id(loom_table_str(t, T_ART, 0), id);
  long u = map_get(&c->users, loom_table_str(t, T_CUST, 0)), it = map_get(&c->items, id);
  if (u < 0 || it < 0) {
    c->skipped++;
    return 0;
  }
  char *end = NULL;
  double price = strtod(ps, &end);
  if (end == ps || *end || !(price >= 0))
    return loom_errorf(err, "%s:%lld: column 'price': '%s' is not a non-negative number", c->tpath, line, ps);
  if (c->ntxn == c->captxn) {
    c->captxn = c->captxn ? 2 * c->captxn : 4096;
    hm_txn *nt = loom_realloc(c->txn, (size_t)c->captxn * sizeof *nt);
    if (!nt) return loom_errorf(err, "out of memory for %ld transactions (use --max-transactions)", c->captxn);
    c->txn = nt;
  }
  c->txn[c->ntxn++] = (hm_txn){(int32_t)u, (int32_t)it, (int32_t)day, atoi(loom_table_str(t, T_CHANNEL, 0)),
                               (float)price};
  return 0;
}

/* Second pass over articles.csv: writes items.csv now that mean prices are known. */
static int item_row(const loom_table *t, void *vctx, loom_error *err) {
  hm_ctx *c = vctx;
  if (t->nrows == 0) {
    fputs("item_id,title,description,category,product_type,colour,index_group,price,n_sales,image\n", c->fo);
    return check_header(t, c->apath, err);
  }
  const char *f[A_N];
  for (int k = 0; k < A_N; k++) f[k] = loom_table_str(t, k, 0);
  char id[16];
  hm_article_id(f[A_ID], id);
  long it = map_get(&c->items, id);
  if (it < 0 || c->written[it]) return 0; /* duplicate article_id rows: the first wins */
  c->written[it] = 1;
  char desc[4096], img[LD_PATH_MAX];
  snprintf(desc, sizeof desc, "%s %s, %s. %s", f[A_COLOUR], f[A_TYPE], f[A_APPEAR], f[A_DESC]);
  int ni = snprintf(img, sizeof img, "%s/images/%.3s/%s.jpg", c->src, id, id);
  if (ni < 0 || (size_t)ni >= sizeof img || access(img, R_OK) != 0) img[0] = '\0';
  ld_csv_put(c->fo, 1, id);
  ld_csv_put(c->fo, 0, f[A_PROD]);
  ld_csv_put(c->fo, 0, desc);
  ld_csv_put(c->fo, 0, f[A_GROUP]);
  ld_csv_put(c->fo, 0, f[A_TYPE]);
  ld_csv_put(c->fo, 0, f[A_COLOUR]);
  ld_csv_put(c->fo, 0, f[A_INDEX]);
  if (c->sales[it] > 0) ld_csv_putf(c->fo, 0, "%.6f", c->price_sum[it] / c->sales[it]);
  else ld_csv_put(c->fo, 0, "");
  ld_csv_putf(c->fo, 0, "%d", c->sales[it]);
  ld_csv_put(c->fo, 0, img);
  ld_csv_end(c->fo);
  return 0;
}

/* Streams one of the three files, every column as text and optional (check_header names a missing
 * one); a file that cannot be opened is named as such. */
static int stream(const char *path, const char *const *names, int n, ld_csv_row_fn fn, hm_ctx *c, loom_error *err) {
  FILE *f = fopen(path, "rb");
  if (!f) return loom_errorf(err, "%s: cannot open: %s", path, strerror(errno));
  fclose(f);
  loom_colspec spec[A_N];
  for (int k = 0; k < n; k++) spec[k] = (loom_colspec){names[k], LOOM_COL_STRING, 1};
  return ld_csv_stream(path, spec, n, NULL, fn, c, err);
}

/* interactions.csv: each purchase, then `negatives` articles drawn ∝ (sales + 1), never the purchased
 * one nor one already drawn. Split by date as in the Kaggle task: the last 7 days test, the 7 before valid. */
static void write_interactions(const hm_ctx *c, const double *cum, long negatives, uint64_t seed) {
  int32_t last_day = c->txn[0].day;
  for (long i = 0; i < c->ntxn; i++)
    if (c->txn[i].day > last_day) last_day = c->txn[i].day;
  fputs("user_id,item_id,timestamp,date,price,sales_channel,purchased,split\n", c->fo);
  loom_rng r;
  loom_rng_seed(&r, loom_rng_hash(seed, 5));
  static const char *const split_name[3] = {"train", "valid", "test"};
  const long n_items = c->items.n;
  for (long i = 0; i < c->ntxn; i++) {
    const hm_txn *t = &c->txn[i];
    int split = t->day > last_day - 7 ? 2 : t->day > last_day - 14 ? 1 : 0;
    long long ts = (long long)t->day * 86400;
    int32_t picked[LOOM_HM_NEGATIVES_MAX + 1];
    picked[0] = t->item;
    long kmax = negatives < n_items - 1 ? negatives : n_items - 1;
    for (long k = 0; k <= kmax; k++) {
      int32_t item = t->item;
      if (k > 0) {
        int dup;
        do {
          item = (int32_t)ld_draw_cum(&r, cum, (int)n_items);
          dup = 0;
          for (long j = 0; j < k; j++) dup |= picked[j] == item;
        } while (dup);
        picked[k] = item;
      }
      double price = k == 0 ? t->price : c->sales[item] ? c->price_sum[item] / c->sales[item] : 0.0;
      ld_csv_put(c->fo, 1, ld_map_key(&c->users, t->user));
      ld_csv_put(c->fo, 0, ld_map_key(&c->items, item));
      ld_csv_putf(c->fo, 0, "%lld", ts);
      put_date(c->fo, t->day);
      ld_csv_putf(c->fo, 0, "%.6f", price);
      ld_csv_putf(c->fo, 0, "%d", t->channel);
      ld_csv_putf(c->fo, 0, "%d", k == 0);
      ld_csv_put(c->fo, 0, split_name[split]);
      ld_csv_end(c->fo);
    }
  }
}

void loom_hm_opts_default(loom_hm_opts *o) { *o = (loom_hm_opts){.negatives = 4, .seed = 1, .max_transactions = 0}; }

int loom_convert_hm(const char *src, const char *out, const loom_hm_opts *o, loom_hm_stats *st, loom_error *err) {
  if (o->negatives < 0 || o->negatives > LOOM_HM_NEGATIVES_MAX)
    return loom_errorf(err, "hm: negatives %ld: expected an integer in [0, %d]", o->negatives, LOOM_HM_NEGATIVES_MAX);
  if (o->max_transactions < 0 || o->max_transactions > LOOM_HM_TRANSACTIONS_MAX)
    return loom_errorf(err, "hm: max_transactions %ld: expected an integer in [0, %ld]", o->max_transactions,
                       LOOM_HM_TRANSACTIONS_MAX);
  hm_ctx c = {.src = src, .max_txn = o->max_transactions};
  ld_map_init(&c.items);
  ld_map_init(&c.users);
  double *cum = NULL;
  int rc = -1;
  if (ld_mkdir_p(out, err) || ld_path_join(c.apath, sizeof c.apath, src, "articles.csv", err) ||
      ld_path_join(c.cpath, sizeof c.cpath, src, "customers.csv", err) ||
      ld_path_join(c.tpath, sizeof c.tpath, src, "transactions_train.csv", err))
    goto done;
  if (stream(c.apath, ARTICLE_COLS, A_N, article_row, &c, err)) goto done;
  if (!(c.fo = ld_create(out, "users.csv", err))) goto done;
  if (stream(c.cpath, CUSTOMER_COLS, C_N, customer_row, &c, err)) goto done;
  if (ld_close(c.fo, out, "users.csv", err)) { c.fo = NULL; goto done; }
  c.fo = NULL;
  if (stream(c.tpath, TXN_COLS, T_N, txn_row, &c, err)) goto done;
  if (c.ntxn == 0) { loom_errorf(err, "%s: no usable transactions", c.tpath); goto done; }
  const long n_items = c.items.n;
  c.price_sum = loom_calloc((size_t)n_items, sizeof *c.price_sum);
  c.sales = loom_calloc((size_t)n_items, sizeof *c.sales);
  cum = loom_malloc((size_t)n_items * sizeof *cum);
  c.written = loom_calloc((size_t)n_items, 1);
  if (!c.price_sum || !c.sales || !cum || !c.written) { loom_errorf(err, "out of memory"); goto done; }
  for (long i = 0; i < c.ntxn; i++) {
    c.price_sum[c.txn[i].item] += c.txn[i].price;
    c.sales[c.txn[i].item]++;
  }
  double total = 0;
  for (long i = 0; i < n_items; i++) cum[i] = (total += c.sales[i] + 1.0);
  if (!(c.fo = ld_create(out, "items.csv", err))) goto done;
  if (stream(c.apath, ARTICLE_COLS, A_N, item_row, &c, err)) goto done;
  if (ld_close(c.fo, out, "items.csv", err)) { c.fo = NULL; goto done; }
  c.fo = NULL;
  if (!(c.fo = ld_create(out, "interactions.csv", err))) goto done;
  write_interactions(&c, cum, o->negatives, o->seed);
  if (ld_close(c.fo, out, "interactions.csv", err)) { c.fo = NULL; goto done; }
  c.fo = NULL;
  if (st) *st = (loom_hm_stats){.articles = c.items.n, .customers = c.users.n, .transactions = c.ntxn,
                                .skipped = c.skipped};
  rc = 0;
done:
  if (c.fo) fclose(c.fo);
  ld_map_free(&c.items);
  ld_map_free(&c.users);
  loom_free(c.txn);
  loom_free(c.price_sum);
  loom_free(c.sales);
  loom_free(c.written);
  loom_free(cum);
  return rc;
}
