/* amazon.c — loom_convert_amazon: Amazon Reviews 2023 (McAuley Lab), the reviews JSONL and the
 * item-metadata JSONL of one category, to items.csv, users.csv and interactions.csv. The catalogue is
 * streamed straight to items.csv; reviews are kept (text capped at AMZ_TEXT_CAP bytes) to split them
 * leave-last-out per user. IDs go through the data layer's ld_map, text through ld_buf. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "convert_internal.h"
#include "loom/file.h"
#include "data_internal.h"
#include "loom/alloc.h"
#include "loom/convert.h"

#define AMZ_TEXT_CAP 4000

typedef struct {
  int32_t user, item;
  int64_t ts; /* ms */
  long line;
  float rating;
  int verified, helpful, split;
  char *title, *text;
} amz_review;

/* Appends s to b, keeping b at most cap_bytes long and cutting only at a UTF-8 character start. */
static int buf_add_capped(ld_buf *b, const char *s, size_t cap_bytes) {
  size_t l = strlen(s);
  if (b->n + l > cap_bytes) l = b->n < cap_bytes ? cap_bytes - b->n : 0;
  while (l > 0 && ((unsigned char)s[l] & 0xC0) == 0x80 && s[l]) l--; /* keep UTF-8 whole */
  return ld_buf_put(b, s, l);
}

/* Index of key k in m, inserting it as the next index if new; -1 when out of memory. */
static long map_put(ld_map *m, const char *k) { return ld_map_put(m, k, strlen(k), m->n, NULL); }

static const char *json_str(const cJSON *o, const char *k) {
  return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
}

/* The first image of `images` whose variant is MAIN (else the first), preferring large, hi_res, thumb. */
static const char *amz_image_url(const cJSON *images) {
  const cJSON *im, *pick = NULL;
  cJSON_ArrayForEach(im, images) {
    if (!pick) pick = im;
    const char *v = json_str(im, "variant");
    if (v && !strcmp(v, "MAIN")) { pick = im; break; }
  }
  if (!pick) return "";
  const char *u = json_str(pick, "large");
  if (!u) u = json_str(pick, "hi_res");
  if (!u) u = json_str(pick, "thumb");
  return u ? u : "";
}

static int amz_join_list(ld_buf *b, const cJSON *arr, loom_error *err) {
  const cJSON *e;
  cJSON_ArrayForEach(e, arr) {
    const char *s = cJSON_GetStringValue(e);
    if (!s || !*s) continue;
    if ((b->n && buf_add_capped(b, " ", AMZ_TEXT_CAP)) || buf_add_capped(b, s, AMZ_TEXT_CAP))
      return loom_errorf(err, "out of memory");
  }
  return 0;
}

static int cmp_amz(const void *a, const void *b) {
  const amz_review *x = a, *y = b;
  if (x->user != y->user) return x->user < y->user ? -1 : 1;
  if (x->ts != y->ts) return x->ts < y->ts ? -1 : 1;
  return x->line < y->line ? -1 : x->line > y->line;
}

typedef struct {
  const char *mpath, *rpath;
  FILE *fo;            /* items.csv during the catalogue pass */
  ld_map items, users; /* parent_asin, user_id -> index */
  amz_review *rev;     /* (nrev) reviews of known items */
  long nrev, caprev, skipped;
} amz;

typedef int (*amz_line_fn)(amz *a, const cJSON *o, long line, loom_error *err);

/* Parses each non-blank line of a JSONL file and hands the object (NULL if the line is not JSON) to fn. */
static int each_line(amz *a, const char *path, amz_line_fn fn, loom_error *err) {
  int fd = loom_file_open_regular(path, 0, "JSONL", NULL, NULL, err);
  if (fd == -2) return loom_errorf(err, "%s: cannot open: %s", path, strerror(errno));
  FILE *in = fd >= 0 ? fdopen(fd, "rb") : NULL;
  if (fd >= 0 && !in) close(fd);
  if (!in) return fd < 0 ? -1 : loom_errorf(err, "%s: out of memory opening the file", path);
  char *line = NULL;
  size_t cap = 0;
  int rc = 0;
  errno = 0;
  for (long ln = 1; rc == 0 && getline(&line, &cap, in) > 0; ln++) {
    if (line[strspn(line, " \t\r\n")] == '\0') continue;
    ld_cjson_begin();
    cJSON *o = cJSON_Parse(line);
    if (ld_cjson_oom()) rc = loom_errorf(err, "%s:%ld: out of memory parsing JSON", path, ln);
    else rc = fn(a, o, ln, err);
    cJSON_Delete(o);
  }
  if (rc == 0 && ferror(in)) /* getline's failure is not the end of the file (e.g. a directory) */
    rc = loom_errorf(err, "%s: read error: %s — give the path of a JSONL file", path, errno ? strerror(errno) : "I/O error");
  free(line); /* allocated by getline */
  fclose(in);
  return rc;
}

/* Catalogue pass: each metadata line becomes one items.csv row (the first of a parent_asin wins). */
static int meta_line(amz *a, const cJSON *o, long ln, loom_error *err) {
  const char *asin = json_str(o, "parent_asin");
  if (!o || !asin || !*asin)
    return loom_errorf(err, "%s:%ld: expected a JSON object with a \"parent_asin\" string (Amazon Reviews 2023 item "
                            "metadata, one object per line)", a->mpath, ln);
  long before = a->items.n, idx = map_put(&a->items, asin);
  if (idx < 0) return loom_errorf(err, "out of memory");
  if (idx < before) return 0;
  ld_buf d = {0};
  const char *cat = json_str(o, "main_category");
  const cJSON *cats = cJSON_GetObjectItemCaseSensitive(o, "categories");
  if ((!cat || !*cat) && cJSON_GetArraySize(cats) > 0)
    cat = cJSON_GetStringValue(cJSON_GetArrayItem(cats, cJSON_GetArraySize(cats) - 1));
  const cJSON *price = cJSON_GetObjectItemCaseSensitive(o, "price");
  const cJSON *avg = cJSON_GetObjectItemCaseSensitive(o, "average_rating");
  const cJSON *num = cJSON_GetObjectItemCaseSensitive(o, "rating_number");
  if (amz_join_list(&d, cJSON_GetObjectItemCaseSensitive(o, "description"), err) ||
      amz_join_list(&d, cJSON_GetObjectItemCaseSensitive(o, "features"), err)) {
    ld_buf_free(&d);
    return -1;
  }
  FILE *fo = a->fo;
  ld_csv_put(fo, 1, asin); ld_csv_put(fo, 0, json_str(o, "title")); ld_csv_put(fo, 0, d.p ? d.p : "");
  ld_csv_put(fo, 0, cat ? cat : "");
  if (cJSON_IsNumber(price)) ld_csv_putf(fo, 0, "%.2f", price->valuedouble);
  else if (cJSON_IsString(price) && strtod(price->valuestring, NULL) > 0) ld_csv_putf(fo, 0, "%.2f", strtod(price->valuestring, NULL));
  else ld_csv_put(fo, 0, "");
  ld_csv_put(fo, 0, amz_image_url(cJSON_GetObjectItemCaseSensitive(o, "images"))); ld_csv_put(fo, 0, json_str(o, "store"));
  if (cJSON_IsNumber(avg)) ld_csv_putf(fo, 0, "%.2f", avg->valuedouble); else ld_csv_put(fo, 0, "");
  if (cJSON_IsNumber(num)) ld_csv_putf(fo, 0, "%.0f", num->valuedouble); else ld_csv_put(fo, 0, "");
  ld_csv_end(fo);
  ld_buf_free(&d);
  return 0;
}

/* Review pass: reviews of catalogued items are kept (to split them per user); the rest are counted. */
static int review_line(amz *a, const cJSON *o, long ln, loom_error *err) {
  const char *user = json_str(o, "user_id"), *asin = json_str(o, "parent_asin");
  if (!asin) asin = json_str(o, "asin");
  const cJSON *rating = cJSON_GetObjectItemCaseSensitive(o, "rating");
  const cJSON *ts = cJSON_GetObjectItemCaseSensitive(o, "timestamp");
  if (!o || !user || !asin || !cJSON_IsNumber(rating) || !cJSON_IsNumber(ts))
    return loom_errorf(err, "%s:%ld: expected a JSON object with \"user_id\", \"parent_asin\", \"rating\" (number) and "
                            "\"timestamp\" (number, ms) — is this an Amazon Reviews 2023 review file?", a->rpath, ln);
  long item = ld_map_get(&a->items, asin, strlen(asin));
  if (item < 0) {
    a->skipped++;
    return 0;
  }
  if (a->nrev == a->caprev) {
    long cap = a->caprev ? 2 * a->caprev : 1024;
    amz_review *nr = loom_realloc(a->rev, (size_t)cap * sizeof *nr);
    if (!nr) return loom_errorf(err, "out of memory");
    a->rev = nr;
    a->caprev = cap;
  }
  amz_review *r = &a->rev[a->nrev];
  memset(r, 0, sizeof *r);
  long u = map_put(&a->users, user);
  const char *title = json_str(o, "title"), *text = json_str(o, "text");
  ld_buf tb = {0};
  if (u < 0 || buf_add_capped(&tb, text ? text : "", AMZ_TEXT_CAP) || !(r->title = loom_strdup(title ? title : ""))) {
    ld_buf_free(&tb);
    return loom_errorf(err, "out of memory");
  }
  r->text = tb.p;
  r->user = (int32_t)u;
  r->item = (int32_t)item;
  r->ts = (int64_t)ts->valuedouble;
  r->line = ln;
  r->rating = (float)rating->valuedouble;
  r->verified = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "verified_purchase"));
  const cJSON *hv = cJSON_GetObjectItemCaseSensitive(o, "helpful_vote");
  r->helpful = cJSON_IsNumber(hv) ? hv->valueint : 0;
  a->nrev++;
  return 0;
}

/* Sorted by user, then time: leave-last-out per user — newest review test, the one before valid
 * (users with >= 3), the rest train. */
static void split_leave_last(amz *a) {
  amz_review *rev = a->rev;
  const long nrev = a->nrev;
  if (rev) qsort(rev, (size_t)nrev, sizeof *rev, cmp_amz);
  for (long i = 0; i < nrev;) {
    long j = i;
    while (j < nrev && rev[j].user == rev[i].user) j++;
    long n = j - i;
    for (long k = i; k < j; k++) rev[k].split = 0;
    if (n >= 2) rev[j - 1].split = 2;
    if (n >= 3) rev[j - 2].split = 1;
    i = j;
  }
}

static int write_reviews(const amz *a, const char *out, loom_error *err) {
  static const char *const split_name[3] = {"train", "valid", "test"};
  const amz_review *rev = a->rev;
  const long nrev = a->nrev;
  FILE *fo = ld_create(out, "interactions.csv", err);
  if (!fo) return -1;
  fputs("user_id,item_id,timestamp,rating,label,review_title,review_text,verified_purchase,helpful_vote,split\n", fo);
  for (long i = 0; i < nrev; i++) {
    const amz_review *r = &rev[i];
    ld_csv_put(fo, 1, ld_map_key(&a->users, r->user)); ld_csv_put(fo, 0, ld_map_key(&a->items, r->item));
    ld_csv_putf(fo, 0, "%lld", (long long)(r->ts / 1000)); ld_csv_putf(fo, 0, "%.1f", r->rating);
    ld_csv_putf(fo, 0, "%d", r->rating >= 4.0f); ld_csv_put(fo, 0, r->title); ld_csv_put(fo, 0, r->text);
    ld_csv_putf(fo, 0, "%d", r->verified); ld_csv_putf(fo, 0, "%d", r->helpful); ld_csv_put(fo, 0, split_name[r->split]);
    ld_csv_end(fo);
  }
  if (ld_close(fo, out, "interactions.csv", err)) return -1;
  if (!(fo = ld_create(out, "users.csv", err))) return -1;
  fputs("user_id,n_reviews\n", fo);
  for (long i = 0; i < nrev;) {
    long j = i;
    while (j < nrev && rev[j].user == rev[i].user) j++;
    ld_csv_put(fo, 1, ld_map_key(&a->users, rev[i].user)); ld_csv_putf(fo, 0, "%ld", j - i); ld_csv_end(fo);
    i = j;
  }
  return ld_close(fo, out, "users.csv", err);
}

int loom_convert_amazon(const char *rpath, const char *mpath, const char *out, loom_amazon_stats *st,
                        loom_error *err) {
  amz a = {.mpath = mpath, .rpath = rpath};
  ld_map_init(&a.items);
  ld_map_init(&a.users);
  int rc = -1;
  long n_items = 0;
  if (ld_mkdir_p(out, err)) goto done;
  /* The metadata must open before items.csv is created (a missing file leaves no half output). */
  FILE *probe = fopen(mpath, "rb");
  if (!probe) { loom_errorf(err, "%s: cannot open: %s", mpath, strerror(errno)); goto done; }
  fclose(probe);
  if (!(a.fo = ld_create(out, "items.csv", err))) goto done;
  fputs("item_id,title,description,category,price,image_url,store,average_rating,rating_number\n", a.fo);
  if (each_line(&a, mpath, meta_line, err)) goto done;
  n_items = a.items.n;
  FILE *fo = a.fo;
  a.fo = NULL;
  if (ld_close(fo, out, "items.csv", err) || each_line(&a, rpath, review_line, err)) goto done;
  split_leave_last(&a);
  if (write_reviews(&a, out, err)) goto done;
  if (st) *st = (loom_amazon_stats){.items = n_items, .users = a.users.n, .reviews = a.nrev, .skipped = a.skipped};
  rc = 0;
done:
  if (a.fo) fclose(a.fo);
  for (long i = 0; i < a.nrev; i++) loom_free(a.rev[i].title), loom_free(a.rev[i].text);
  loom_free(a.rev);
  ld_map_free(&a.items);
  ld_map_free(&a.users);
  return rc;
}
