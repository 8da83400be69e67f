/* test_convert.c — the converters of loom/convert.h called as a library on the committed tiny samples
 * (tests/data/fashion-mnist-tiny, spam-assassin, amazon, hm) and a small fashion-shop: counts, headers,
 * known rows (read back with the data layer's own loom_table_read, so every output is loadable), and
 * for each converter its error paths — missing input, malformed input — whose messages name the file.
 * tests/test_datasets.c runs the same conversions through the loom-data binary. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "data_internal.h"
#include "loom/convert.h"
#include "loom/data.h"
#include "loom/image.h"
#include "testutil.h"

static char TMP[256];
static loom_error err;

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...) {
  static char bufs[8][4096];
  static int k;
  char *b = bufs[k++ & 7];
  va_list ap;
  va_start(ap, f);
  vsnprintf(b, sizeof bufs[0], f, ap);
  va_end(ap);
  return b;
}

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  fputs(text, f);
  assert_int_equal(fclose(f), 0);
}

/* First line of a file (without the LF). */
static char *first_line(const char *path) {
  static char line[1024];
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  assert_non_null(fgets(line, sizeof line, f));
  fclose(f);
  line[strcspn(line, "\n")] = '\0';
  return line;
}

/* Reads the named text columns of a CSV the converter wrote; fails the test if it does not load. */
static void read_table(loom_table *t, const char *path, const char *const *cols, int n) {
  loom_colspec spec[16];
  assert_true(n <= 16);
  for (int i = 0; i < n; i++) spec[i] = (loom_colspec){cols[i], LOOM_COL_STRING, 0};
  if (loom_table_read(t, path, spec, n, NULL, &err) != 0) fail_msg("%s: %s", path, err.msg);
}

/* Row index whose column c equals key, or -1. */
static int64_t find_row(const loom_table *t, int c, const char *key) {
  for (int64_t r = 0; r < t->nrows; r++)
    if (!strcmp(loom_table_str(t, c, r), key)) return r;
  return -1;
}

/* The call failed and its message contains `want` (typically the file it names). */
static void assert_failed_with(int rc, const char *want) {
  assert_int_equal(rc, -1);
  if (!strstr(err.msg, want)) fail_msg("message '%s' does not contain '%s'", err.msg, want);
}

static int same_bytes(const char *a, const char *b) {
  size_t la, lb;
  char *x = tu_slurp(a, &la), *y = tu_slurp(b, &lb);
  int same = la == lb && memcmp(x, y, la) == 0;
  free(x);
  free(y);
  return same;
}

/* ---- Fashion-MNIST ---- */

static void test_fashion_mnist(void **state) {
  const char *src = tu_src_path("tests/data/fashion-mnist-tiny");
  char srcd[1024];
  snprintf(srcd, sizeof srcd, "%s", src);
  char out[512];
  snprintf(out, sizeof out, "%s/fm", TMP);
  loom_fashion_mnist_stats st = {0};
  if (loom_convert_fashion_mnist(srcd, out, &st, &err)) fail_msg("%s", err.msg);
  assert_int_equal(st.n_train, 30);
  assert_int_equal(st.n_test, 10);
  assert_string_equal(first_line(fmt("%s/train.csv", out)), "image,label,category");
  static const char *const cols[] = {"image", "label", "category"};
  loom_table t;
  read_table(&t, fmt("%s/train.csv", out), cols, 3);
  assert_int_equal(t.nrows, 30);
  /* The labels file, gunzipped: 8 header bytes then one label per image. */
  gzFile gz = gzopen(fmt("%s/train-labels-idx1-ubyte.gz", srcd), "rb");
  unsigned char lb[8 + 30];
  assert_int_equal(gzread(gz, lb, sizeof lb), (int)sizeof lb);
  gzclose(gz);
  for (int i = 0; i < 30; i++) {
    assert_string_equal(loom_table_str(&t, 0, i), fmt("images/train/%05d.png", i));
    assert_int_equal(atoi(loom_table_str(&t, 1, i)), lb[8 + i]);
  }
  assert_string_equal(loom_table_str(&t, 2, 0), "Ankle boot"); /* label 9 */
  loom_table_free(&t);
  /* The PNG holds the IDX bytes of its image. */
  gz = gzopen(fmt("%s/train-images-idx3-ubyte.gz", srcd), "rb");
  static unsigned char im[16 + 784 * 4];
  assert_int_equal(gzread(gz, im, sizeof im), (int)sizeof im);
  gzclose(gz);
  size_t n;
  char *png = tu_slurp(fmt("%s/images/train/00003.png", out), &n);
  uint8_t *pix = NULL;
  int w = 0, h = 0;
  assert_int_equal(loom_image_decode(png, n, 1, "png", &pix, &w, &h, &err), 0);
  assert_true(w == 28 && h == 28);
  assert_memory_equal(pix, im + 16 + 3 * 784, 784);
  loom_free(pix);
  free(png);

  /* Missing input: the first file looked for is named, with how to get it. */
  assert_failed_with(loom_convert_fashion_mnist(fmt("%s/nowhere", TMP), fmt("%s/fm2", TMP), &st, &err),
                     fmt("%s/nowhere/train-images-idx3-ubyte.gz: cannot open", TMP));
  /* Malformed: a label file with a 3-byte header. */
  char bad[512];
  snprintf(bad, sizeof bad, "%s/fm-bad", TMP);
  assert_int_equal(system(fmt("mkdir -p '%s' && cp '%s'/*.gz '%s'/", bad, srcd, bad)), 0);
  gz = gzopen(fmt("%s/train-labels-idx1-ubyte.gz", bad), "wb");
  assert_int_equal(gzwrite(gz, "\0\0\x08", 3), 3);
  gzclose(gz);
  assert_failed_with(loom_convert_fashion_mnist(bad, fmt("%s/fm3", TMP), &st, &err),
                     fmt("%s/train-labels-idx1-ubyte.gz: truncated: 3-byte file", bad));
}

/* ---- fashion-shop ---- */

static void test_fashion_shop(void **state) {
  char src[1024];
  snprintf(src, sizeof src, "%s", tu_src_path("tests/data/fashion-mnist-tiny"));
  loom_fashion_shop_opts o;
  loom_fashion_shop_opts_default(&o);
  assert_int_equal(o.items, 3000);
  assert_int_equal(o.users, 500);
  assert_int_equal(o.interactions, 60000);
  o.items = 50, o.users = 10, o.interactions = 400, o.seed = 3;
  loom_fashion_shop_stats st = {0};
  char a[512], b[512];
  snprintf(a, sizeof a, "%s/shop-a", TMP);
  snprintf(b, sizeof b, "%s/shop-b", TMP);
  if (loom_convert_fashion_shop(src, a, &o, &st, &err)) fail_msg("%s", err.msg);
  assert_int_equal(st.sessions, 41);
  if (loom_convert_fashion_shop(src, b, &o, &st, &err)) fail_msg("%s", err.msg);
  static const char *const files[] = {"items.csv", "users.csv", "interactions.csv", "truth_items.csv",
                                      "truth_users.csv", "truth_interactions.csv", "images/i00049.png"};
  for (size_t k = 0; k < sizeof files / sizeof *files; k++)
    assert_true(same_bytes(fmt("%s/%s", a, files[k]), fmt("%s/%s", b, files[k])));
  assert_string_equal(first_line(fmt("%s/items.csv", a)), "item_id,title,description,category,price,image,source_image,lang");
  static const char *const icols[] = {"item_id", "title", "description", "category", "price", "image"};
  loom_table t;
  read_table(&t, fmt("%s/items.csv", a), icols, 6);
  assert_int_equal(t.nrows, 50);
  /* Pinned rows (seed 3): the output is byte-identical to the loom-data this code came from. */
  assert_string_equal(loom_table_str(&t, 0, 0), "i00000");
  assert_string_equal(loom_table_str(&t, 1, 0), "Maison Lune casual must-have");
  assert_string_equal(loom_table_str(&t, 2, 0), "A casual must-have in beige wool. Ships in two days.");
  assert_string_equal(loom_table_str(&t, 3, 0), "Pullover");
  assert_string_equal(loom_table_str(&t, 4, 0), "23.99");
  loom_table_free(&t);
  static const char *const ucols[] = {"user_id", "age_bucket", "lang", "signup_category", "signup_style"};
  read_table(&t, fmt("%s/users.csv", a), ucols, 5);
  assert_int_equal(t.nrows, 10);
  assert_string_equal(loom_table_str(&t, 3, 0), "Ankle boot");
  loom_table_free(&t);
  static const char *const xcols[] = {"session_id", "user_id", "item_id", "timestamp", "clicked", "split"};
  read_table(&t, fmt("%s/interactions.csv", a), xcols, 6);
  assert_int_equal(t.nrows, 400);
  assert_string_equal(loom_table_str(&t, 0, 0), "s000000");
  assert_string_equal(loom_table_str(&t, 1, 0), "u00001");
  assert_string_equal(loom_table_str(&t, 2, 0), "i00006");
  assert_string_equal(loom_table_str(&t, 3, 0), "1704100770");
  loom_table_free(&t);

  /* Errors: too few interactions for the users, a value out of range, a missing source. */
  o.users = 400, o.interactions = 3000;
  assert_failed_with(loom_convert_fashion_shop(src, fmt("%s/shop-x", TMP), &o, &st, &err),
                     "raise --interactions to at least 12000 or lower --users");
  o.users = 10, o.interactions = 400, o.items = 5;
  assert_failed_with(loom_convert_fashion_shop(src, fmt("%s/shop-x", TMP), &o, &st, &err), "items 5: expected an integer in [10, 60000]");
  o.items = 50, o.chinese_share = 1.5;
  assert_failed_with(loom_convert_fashion_shop(src, fmt("%s/shop-x", TMP), &o, &st, &err), "chinese_share");
  o.chinese_share = 0.2;
  assert_failed_with(loom_convert_fashion_shop(fmt("%s/nowhere", TMP), fmt("%s/shop-x", TMP), &o, &st, &err),
                     fmt("%s/nowhere/train-images-idx3-ubyte.gz: cannot open", TMP));
}

/* ---- SpamAssassin ---- */

static void test_spam(void **state) {
  char src[1024];
  snprintf(src, sizeof src, "%s", tu_src_path("tests/data/spam-assassin"));
  loom_spam_opts o;
  loom_spam_opts_default(&o);
  assert_int_equal(o.max_bytes, 8000);
  loom_spam_stats st = {0};
  char out[512], bad[512];
  snprintf(out, sizeof out, "%s/spam", TMP);
  if (loom_convert_spam(src, out, &o, &st, &err)) fail_msg("%s", err.msg);
  assert_int_equal(st.messages, 10);
  for (int l = 0; l < 2; l++) {
    assert_int_equal(st.counts[l][0], 3);
    assert_int_equal(st.counts[l][1], 1);
    assert_int_equal(st.counts[l][2], 1);
  }
  assert_string_equal(first_line(fmt("%s/spam.csv", out)), "text,label,split,source");
  static const char *const cols[] = {"text", "label", "split", "source"};
  loom_table t;
  read_table(&t, fmt("%s/spam.csv", out), cols, 4);
  assert_int_equal(t.nrows, 10);
  int64_t r = find_row(&t, 3, "easy-ham-1/00002");
  assert_true(r >= 0);
  assert_string_equal(loom_table_str(&t, 0, r), "Meeting notes, part two\n\nNotes attached, see below.\nThanks, Bob\n");
  assert_string_equal(loom_table_str(&t, 1, r), "0");
  r = find_row(&t, 3, "spam-1/00006");
  assert_string_equal(loom_table_str(&t, 1, r), "1");
  loom_table_free(&t);

  /* Missing corpus. */
  assert_failed_with(loom_convert_spam(fmt("%s/nowhere", TMP), out, &o, &st, &err),
                     fmt("spam corpus not found (install it with scripts/prepare-data.sh spam): %s/nowhere/file_list.json: cannot open", TMP));
  /* Malformed: a file list that is not an array; a message without "text". */
  snprintf(bad, sizeof bad, "%s/spam-bad", TMP);
  assert_int_equal(mkdir(bad, 0755), 0);
  write_file(fmt("%s/file_list.json", bad), "{\"files\": []}");
  assert_failed_with(loom_convert_spam(bad, out, &o, &st, &err), fmt("%s/file_list.json: not a JSON array", bad));
  write_file(fmt("%s/file_list.json", bad), "[\"g/1.txt\"]");
  assert_int_equal(mkdir(fmt("%s/g", bad), 0755), 0);
  write_file(fmt("%s/g/1.json", bad), "{\"id\": \"1\", \"group\": \"g\"}");
  assert_failed_with(loom_convert_spam(bad, out, &o, &st, &err),
                     fmt("%s/g/1.json: expected a JSON object with string fields \"id\", \"group\" and \"text\"", bad));
  o.max_bytes = 3;
  assert_failed_with(loom_convert_spam(src, out, &o, &st, &err), "max_bytes 3");
}

/* ---- Amazon Reviews 2023 ---- */

static void test_amazon(void **state) {
  char d[1024];
  snprintf(d, sizeof d, "%s", tu_src_path("tests/data/amazon"));
  char rev[1100], meta[1100], out[512], badm[512];
  snprintf(rev, sizeof rev, "%s/All_Beauty.jsonl", d);
  snprintf(meta, sizeof meta, "%s/meta_All_Beauty.jsonl", d);
  snprintf(out, sizeof out, "%s/amz", TMP);
  loom_amazon_stats st = {0};
  if (loom_convert_amazon(rev, meta, out, &st, &err)) fail_msg("%s", err.msg);
  assert_int_equal(st.items, 3);
  assert_int_equal(st.users, 2);
  assert_int_equal(st.reviews, 4);
  assert_int_equal(st.skipped, 1);
  assert_string_equal(first_line(fmt("%s/interactions.csv", out)),
                      "user_id,item_id,timestamp,rating,label,review_title,review_text,verified_purchase,helpful_vote,split");
  static const char *const cols[] = {"user_id", "item_id", "timestamp", "rating", "review_text", "split"};
  loom_table t;
  read_table(&t, fmt("%s/interactions.csv", out), cols, 6);
  assert_int_equal(t.nrows, 4);
  assert_string_equal(loom_table_str(&t, 0, 0), "AGKHLEW2SOWHNMFQIJGBECAF7INQ");
  assert_string_equal(loom_table_str(&t, 1, 0), "B081TJ8YS3");
  assert_string_equal(loom_table_str(&t, 2, 0), "1588615855");
  assert_string_equal(loom_table_str(&t, 3, 0), "4.0");
  assert_string_equal(loom_table_str(&t, 4, 2), "Smells good, feels great, but \"flattens\" my hair,\nand the bottle leaks.");
  assert_string_equal(loom_table_str(&t, 5, 2), "test");
  loom_table_free(&t);
  static const char *const icols[] = {"item_id", "title", "price"};
  read_table(&t, fmt("%s/items.csv", out), icols, 3);
  assert_int_equal(t.nrows, 3);
  int64_t r = find_row(&t, 0, "B00YQ6X8EO");
  assert_string_equal(loom_table_str(&t, 1, r), "Lavender Hair Spray, 8 oz");
  assert_string_equal(loom_table_str(&t, 2, r), "12.50");
  loom_table_free(&t);

  /* Missing file; the metadata given as reviews (malformed: no user_id) names file and line. */
  assert_failed_with(loom_convert_amazon(rev, fmt("%s/nowhere.jsonl", TMP), out, &st, &err),
                     fmt("%s/nowhere.jsonl: cannot open", TMP));
  assert_failed_with(loom_convert_amazon(meta, meta, out, &st, &err),
                     fmt("%s:1: expected a JSON object with \"user_id\"", meta));
  /* A directory opens but cannot be read: an error, not an empty catalogue (which skipped every review). */
  assert_failed_with(loom_convert_amazon(rev, TMP, out, &st, &err), fmt("%s: the JSONL file is a directory, not a regular file", TMP));
  snprintf(badm, sizeof badm, "%s/bad_meta.jsonl", TMP);
  write_file(badm, "{\"parent_asin\": \"A1\"}\n{\"title\": \"no id\"\n");
  assert_failed_with(loom_convert_amazon(rev, badm, out, &st, &err), fmt("%s:2: expected a JSON object with a \"parent_asin\"", badm));
}

/* ---- H&M ---- */

/* A copy of tests/data/hm in TMP/<name> with one file replaced by `text` (NULL: removed). */
static const char *hm_variant(const char *name, const char *file, const char *text) {
  static char dir[512];
  snprintf(dir, sizeof dir, "%s/%s", TMP, name);
  assert_int_equal(system(fmt("cp -r '%s' '%s'", tu_src_path("tests/data/hm"), dir)), 0);
  if (text) write_file(fmt("%s/%s", dir, file), text);
  else assert_int_equal(remove(fmt("%s/%s", dir, file)), 0);
  return dir;
}

static void test_hm(void **state) {
  char d[1024];
  snprintf(d, sizeof d, "%s", tu_src_path("tests/data/hm"));
  loom_hm_opts o;
  loom_hm_opts_default(&o);
  assert_int_equal(o.negatives, 4);
  o.negatives = 2, o.seed = 3;
  loom_hm_stats st = {0};
  char out[512];
  snprintf(out, sizeof out, "%s/hm", TMP);
  if (loom_convert_hm(d, out, &o, &st, &err)) fail_msg("%s", err.msg);
  assert_int_equal(st.articles, 4);
  assert_int_equal(st.customers, 3);
  assert_int_equal(st.transactions, 7);
  assert_int_equal(st.skipped, 1); /* the unknown customer ffff... */
  assert_string_equal(first_line(fmt("%s/users.csv", out)), "user_id,age,club_member_status,fashion_news_frequency,fn,active");
  static const char *const icols[] = {"item_id", "description", "price", "n_sales", "image"};
  loom_table t;
  read_table(&t, fmt("%s/items.csv", out), icols, 5);
  assert_int_equal(t.nrows, 4);
  int64_t r = find_row(&t, 0, "0108775015");
  assert_string_equal(loom_table_str(&t, 1, r), "Black Vest top, Solid. Jersey top with narrow shoulder straps.");
  assert_string_equal(loom_table_str(&t, 2, r), "0.050831");
  assert_string_equal(loom_table_str(&t, 3, r), "2");
  assert_string_equal(loom_table_str(&t, 4, r), fmt("%s/images/010/0108775015.jpg", d));
  assert_true(find_row(&t, 0, "0111565001") >= 0); /* written without its leading zero in articles.csv */
  loom_table_free(&t);
  static const char *const xcols[] = {"user_id", "item_id", "timestamp", "date", "purchased", "split"};
  read_table(&t, fmt("%s/interactions.csv", out), xcols, 6);
  assert_int_equal(t.nrows, 7 * 3); /* each purchase and 2 negatives */
  assert_string_equal(loom_table_str(&t, 1, 0), "0108775015");
  assert_string_equal(loom_table_str(&t, 2, 0), "1537401600");
  assert_string_equal(loom_table_str(&t, 3, 0), "2018-09-20");
  assert_string_equal(loom_table_str(&t, 4, 0), "1");
  assert_string_equal(loom_table_str(&t, 1, 1), "0108775044"); /* the first negative drawn with seed 3 */
  assert_string_equal(loom_table_str(&t, 4, 1), "0");
  assert_string_equal(loom_table_str(&t, 5, 20), "test");
  loom_table_free(&t);
  /* --max-transactions stops reading after N usable purchases. */
  o.max_transactions = 3, o.negatives = 0;
  if (loom_convert_hm(d, fmt("%s/hm-max", TMP), &o, &st, &err)) fail_msg("%s", err.msg);
  assert_int_equal(st.transactions, 3);
  assert_int_equal(st.skipped, 0);
  o.max_transactions = 0;

  /* Missing and malformed inputs, each named by file (and line, and column). */
  assert_failed_with(loom_convert_hm(fmt("%s/nowhere", TMP), out, &o, &st, &err),
                     fmt("%s/nowhere/articles.csv: cannot open: No such file or directory", TMP));
  const char *v = hm_variant("hm-nocust", "customers.csv", NULL);
  assert_failed_with(loom_convert_hm(v, out, &o, &st, &err), fmt("%s/customers.csv: cannot open", v));
  v = hm_variant("hm-date", "transactions_train.csv",
                 "t_dat,customer_id,article_id,price,sales_channel_id\n"
                 "2018-09-20,00000dbacae5abe5e23885899a1fa44253a17956c6d1c3d25f88aa139fdfc657,0108775015,0.05,2\n"
                 "20/09/2018,00000dbacae5abe5e23885899a1fa44253a17956c6d1c3d25f88aa139fdfc657,0108775015,0.05,2\n");
  assert_failed_with(loom_convert_hm(v, out, &o, &st, &err),
                     fmt("%s/transactions_train.csv:3: column 't_dat': '20/09/2018' is not a YYYY-MM-DD date", v));
  v = hm_variant("hm-price", "transactions_train.csv",
                 "t_dat,customer_id,article_id,price,sales_channel_id\n"
                 "2018-09-20,00000dbacae5abe5e23885899a1fa44253a17956c6d1c3d25f88aa139fdfc657,0108775015,-1,2\n");
  assert_failed_with(loom_convert_hm(v, out, &o, &st, &err),
                     fmt("%s/transactions_train.csv:2: column 'price': '-1' is not a non-negative number", v));
  v = hm_variant("hm-col", "transactions_train.csv", "t_dat,customer_id,article_id,sales_channel_id\n");
  assert_failed_with(loom_convert_hm(v, out, &o, &st, &err),
                     fmt("%s/transactions_train.csv:1: missing column 'price' — is this the right file?", v));
  v = hm_variant("hm-ragged", "customers.csv",
                 "customer_id,FN,Active,club_member_status,fashion_news_frequency,age\nabc,,,ACTIVE,NONE\n");
  assert_failed_with(loom_convert_hm(v, out, &o, &st, &err), fmt("%s/customers.csv:2: row has 5 fields but the header has 6", v));
  v = hm_variant("hm-dup", "customers.csv",
                 "customer_id,FN,Active,club_member_status,fashion_news_frequency,age\nabc,,,ACTIVE,NONE,30\n"
                 "abc,,,ACTIVE,NONE,31\n");
  assert_failed_with(loom_convert_hm(v, out, &o, &st, &err), fmt("%s/customers.csv:3: duplicate customer_id 'abc'", v));
  v = hm_variant("hm-quote", "articles.csv",
                 "article_id,prod_name,product_type_name,product_group_name,graphical_appearance_name,"
                 "colour_group_name,index_group_name,detail_desc\n0108775015,\"Strap \"top,a,b,c,d,e,f\n");
  assert_failed_with(loom_convert_hm(v, out, &o, &st, &err), fmt("%s/articles.csv:2: malformed CSV", v));
  o.negatives = 101;
  assert_failed_with(loom_convert_hm(d, out, &o, &st, &err), "negatives 101: expected an integer in [0, 100]");
}

/* ---- ld_csv_stream, the data layer's CSV reader row by row (what the H&M converter reads with) ---- */

typedef struct {
  int calls, headers, stop_after;
  char seen[256];
} stream_log;

static int log_row(const loom_table *t, void *ctx, loom_error *e) {
  stream_log *l = ctx;
  l->calls++;
  size_t n = strlen(l->seen);
  if (t->nrows == 0) {
    l->headers++;
    snprintf(l->seen + n, sizeof l->seen - n, "[%d%d]", t->cols[0].present, t->cols[1].present);
    return 0;
  }
  assert_int_equal(t->nrows, 1);
  snprintf(l->seen + n, sizeof l->seen - n, "%lld:%s,%s;", (long long)t->line[0], loom_table_str(t, 0, 0),
           loom_table_str(t, 1, 0));
  if (!strcmp(loom_table_str(t, 0, 0), "bad")) return loom_errorf(e, "row says bad");
  return l->stop_after && l->calls > l->stop_after ? 1 : 0;
}

static void test_csv_stream(void **state) {
  const loom_colspec spec[2] = {{"b", LOOM_COL_STRING, 0}, {"z", LOOM_COL_STRING, 1}};
  const char *path = fmt("%s/stream.csv", TMP);
  write_file(path, "a,b\n1,x\n\"2\nline\",y\n3,z\n");
  stream_log l = {0};
  assert_int_equal(ld_csv_stream(path, spec, 2, NULL, log_row, &l, &err), 0);
  /* header first (optional z absent), then every row with the line it starts on; memory is one row */
  assert_string_equal(l.seen, "[10]2:x,;3:y,;5:z,;");
  l = (stream_log){.stop_after = 2};
  assert_int_equal(ld_csv_stream(path, spec, 2, NULL, log_row, &l, &err), 0); /* 1 = stop, not an error */
  assert_string_equal(l.seen, "[10]2:x,;3:y,;");
  /* a header without a newline, and no rows: the header call only */
  write_file(path, "a,b");
  l = (stream_log){0};
  assert_int_equal(ld_csv_stream(path, spec, 2, NULL, log_row, &l, &err), 0);
  assert_string_equal(l.seen, "[10]");
  /* the callback's error ends the read with its message; the reader's own errors name file and line */
  const loom_colspec spec_a[2] = {{"a", LOOM_COL_STRING, 0}, {"b", LOOM_COL_STRING, 0}};
  write_file(path, "a,b\nok,1\nbad,2\nnever,3\n");
  l = (stream_log){0};
  assert_int_equal(ld_csv_stream(path, spec_a, 2, NULL, log_row, &l, &err), -1);
  assert_string_equal(err.msg, "row says bad");
  assert_string_equal(l.seen, "[11]2:ok,1;3:bad,2;");
  write_file(path, "a,b\nok,1\nshort\n");
  assert_failed_with(ld_csv_stream(path, spec_a, 2, NULL, log_row, &l, &err), fmt("%s:3: row has 1 fields", path));
  assert_failed_with(ld_csv_stream(path, (loom_colspec[]){{"nope", LOOM_COL_STRING, 0}}, 1, NULL, log_row, &l, &err),
                     fmt("%s:1: missing column 'nope'", path));
}

static int setup(void **state) {
  snprintf(TMP, sizeof TMP, "/tmp/loom-test-convert-XXXXXX");
  return mkdtemp(TMP) ? 0 : -1;
}

static int teardown(void **state) {
  tu_rm_rf(TMP);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fashion_mnist), cmocka_unit_test(test_fashion_shop), cmocka_unit_test(test_spam),
      cmocka_unit_test(test_amazon),        cmocka_unit_test(test_hm),         cmocka_unit_test(test_csv_stream),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
