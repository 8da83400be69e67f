/* test_datasets.c — the loom-data tool end to end: the IDX reader (and its exact error messages on
 * truncated/corrupt files), the Fashion-MNIST converter (PNG pixels == IDX bytes), the fashion-shop
 * simulator (byte determinism per seed, schema, referential integrity, splits, and the designed
 * signal checked statistically), the committed sample, and the spam / Amazon / H&M converters on tiny
 * committed files in the real formats. Runs build/bin/loom-data as a subprocess. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csv.h>
#include <zlib.h>

#include "testutil.h"

#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_STATIC
#define STBI_ONLY_PNG
/* Static stb_image (so it cannot clash with libloom's copy) leaves unused static functions; the
 * warning fires at the end of the file, so it stays off for this test file. */
#pragma GCC diagnostic ignored "-Wunused-function"
/* Paths here are short temp paths; truncation is checked where it could matter. */
#pragma GCC diagnostic ignored "-Wformat-truncation"
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"
#include <stb/stb_image.h>
#pragma GCC diagnostic pop

static char BIN[1024], TMP[256];
static const char *const FM_NAMES[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                         "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

/* Category words of the generator's English text (apps/loom-data.c CAT_EN). */
static const char *const CAT_WORDS[10][3] = {
    {"t-shirt", "tee", "top"},      {"trousers", "pants", "jeans"},  {"pullover", "sweater", "jumper"},
    {"dress", "dress", "frock"},    {"coat", "jacket", "parka"},     {"sandals", "sandals", "slides"},
    {"shirt", "blouse", "shirt"},   {"sneakers", "trainers", "runners"}, {"bag", "handbag", "tote"},
    {"ankle boots", "boots", "booties"}};

/* ---- helpers ---- */

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...) {
  static char bufs[8][8192];
  static int k;
  char *b = bufs[k++ & 7];
  va_list ap;
  va_start(ap, f);
  vsnprintf(b, sizeof bufs[0], f, ap);
  va_end(ap);
  return b;
}

/* Runs `loom-data ARGS`, capturing stdout+stderr into out; returns the exit status. */
static int run(char *out, size_t cap, const char *args) {
  char cmd[12288];
  /* One thread: loom-data does no maths, and a bare OpenBLAS start-up keeps the many runs cheap. */
  int k = snprintf(cmd, sizeof cmd, "OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 '%s/loom-data' %s 2>&1", BIN, args);
  assert_true(k > 0 && (size_t)k < sizeof cmd);
  FILE *p = popen(cmd, "r");
  assert_non_null(p);
  size_t n = fread(out, 1, cap - 1, p);
  out[n] = '\0';
  int st = pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void run_ok(const char *args) {
  char out[8192];
  int rc = run(out, sizeof out, args);
  if (rc != 0) fail_msg("loom-data %s failed (%d): %s", args, rc, out);
}

/* Runs a failing command and checks its whole output is exactly "loom-data: <msg>\n". */
static void run_fails_with(const char *args, const char *msg) {
  char out[8192];
  int rc = run(out, sizeof out, args);
  assert_int_equal(rc, 1);
  char want[8192];
  snprintf(want, sizeof want, "loom-data: %s\n", msg);
  if (strcmp(out, want) != 0) fail_msg("loom-data %s\n  got:  %s  want: %s", args, out, want);
}

static int same_file(const char *a, const char *b) {
  size_t la, lb;
  unsigned char *x = (unsigned char *)tu_slurp(a, &la), *y = (unsigned char *)tu_slurp(b, &lb);
  int same = la == lb && memcmp(x, y, la) == 0;
  free(x);
  free(y);
  return same;
}

/* gunzips a whole file (fixture IDX files) */
static unsigned char *gunzip(const char *path, size_t *len) {
  gzFile g = gzopen(path, "rb");
  assert_non_null(g);
  size_t cap = 1 << 20, n = 0;
  unsigned char *b = malloc(cap);
  int r;
  while ((r = gzread(g, b + n, (unsigned)(cap - n))) > 0) n += (size_t)r;
  gzclose(g);
  *len = n;
  return b;
}

static void write_gz(const char *path, const unsigned char *data, size_t n) {
  gzFile g = gzopen(path, "wb");
  assert_non_null(g);
  assert_int_equal(gzwrite(g, data, (unsigned)n), (int)n);
  gzclose(g);
}

static void write_bytes(const char *path, const unsigned char *data, size_t n) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(data, 1, n, f), n);
  fclose(f);
}

/* A parsed CSV file: rows[r][c]; nf[r] fields in row r. Row 0 is the header. */
typedef struct {
  char ***rows;
  int *nf;
  int n, cap, fcap;
  char **cur;
  int curn;
} table;

static void cb_field(void *s, size_t len, void *data) {
  table *t = data;
  if (t->curn == t->fcap) { t->fcap = t->fcap ? 2 * t->fcap : 16; t->cur = realloc(t->cur, (size_t)t->fcap * sizeof *t->cur); }
  char *v = malloc(len + 1);
  memcpy(v, s, len);
  v[len] = 0;
  t->cur[t->curn++] = v;
}

static void cb_row(int c, void *data) {
  table *t = data;
  if (t->n == t->cap) {
    t->cap = t->cap ? 2 * t->cap : 256;
    t->rows = realloc(t->rows, (size_t)t->cap * sizeof *t->rows);
    t->nf = realloc(t->nf, (size_t)t->cap * sizeof *t->nf);
  }
  t->rows[t->n] = malloc((size_t)(t->curn ? t->curn : 1) * sizeof(char *));
  memcpy(t->rows[t->n], t->cur, (size_t)t->curn * sizeof(char *));
  t->nf[t->n++] = t->curn;
  t->curn = 0;
}

static table load_csv(const char *path) {
  size_t len;
  unsigned char *b = (unsigned char *)tu_slurp(path, &len);
  struct csv_parser p;
  table t = {0};
  assert_int_equal(csv_init(&p, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL), 0);
  if (csv_parse(&p, b, len, cb_field, cb_row, &t) != len) fail_msg("%s: malformed CSV: %s", path, csv_strerror(csv_error(&p)));
  if (csv_fini(&p, cb_field, cb_row, &t) != 0) fail_msg("%s: malformed CSV at end", path);
  csv_free(&p);
  free(b);
  free(t.cur);
  assert_true(t.n >= 1);
  /* Well-formed: every row has as many fields as the header. */
  for (int r = 1; r < t.n; r++)
    if (t.nf[r] != t.nf[0]) fail_msg("%s: row %d has %d fields, header has %d", path, r, t.nf[r], t.nf[0]);
  return t;
}

static void free_table(table *t) {
  for (int r = 0; r < t->n; r++) {
    for (int c = 0; c < t->nf[r]; c++) free(t->rows[r][c]);
    free(t->rows[r]);
  }
  free(t->rows);
  free(t->nf);
}

static int col(const table *t, const char *name) {
  for (int c = 0; c < t->nf[0]; c++)
    if (!strcmp(t->rows[0][c], name)) return c;
  fail_msg("no column %s", name);
  return -1;
}

static const char *cell(const table *t, int r, const char *name) { return t->rows[r][col(t, name)]; }

/* Row index (>= 1) of `key` in column c, or -1. Linear: tables in these tests are small. */
static int find_row(const table *t, int c, const char *key) {
  for (int r = 1; r < t->n; r++)
    if (!strcmp(t->rows[r][c], key)) return r;
  return -1;
}

/* ---- IDX reader and Fashion-MNIST converter ---- */

static void test_fashion_mnist_converter(void **state) {
  const char *src = tu_src_path("tests/data/fashion-mnist-tiny");
  char srcdir[1024];
  snprintf(srcdir, sizeof srcdir, "%s", src);
  char out[512];
  snprintf(out, sizeof out, "%s/fm", TMP);
  run_ok(fmt("fashion-mnist --src '%s' --out '%s'", srcdir, out));
  static const char *const split[2] = {"train", "t10k"}, *const csvn[2] = {"train.csv", "test.csv"};
  for (int s = 0; s < 2; s++) {
    size_t ni, nl;
    unsigned char *im = gunzip(fmt("%s/%s-images-idx3-ubyte.gz", srcdir, split[s]), &ni);
    unsigned char *lb = gunzip(fmt("%s/%s-labels-idx1-ubyte.gz", srcdir, split[s]), &nl);
    int n = (int)(nl - 8);
    table t = load_csv(fmt("%s/%s", out, csvn[s]));
    assert_int_equal(t.nf[0], 3);
    assert_int_equal(t.n - 1, n);
    for (int i = 0; i < n; i++) {
      int label = atoi(cell(&t, i + 1, "label"));
      assert_int_equal(label, lb[8 + i]);
      assert_string_equal(cell(&t, i + 1, "category"), FM_NAMES[label]);
      int w = 0, h = 0, c = 0;
      unsigned char *px = stbi_load(fmt("%s/%s", out, cell(&t, i + 1, "image")), &w, &h, &c, 0);
      assert_non_null(px);
      assert_true(w == 28 && h == 28 && c == 1);
      assert_memory_equal(px, im + 16 + (size_t)i * 784, 784);
      stbi_image_free(px);
    }
    free_table(&t);
    free(im);
    free(lb);
  }
  /* Uncompressed IDX files (as some mirrors ship them) give the same output. */
  assert_int_equal(system(fmt("mkdir -p '%s/raw' && for f in '%s'/*.gz; do b=$(basename \"$f\" .gz); "
                              "gzip -dc \"$f\" > '%s/raw/'\"$b\"; done", TMP, srcdir, TMP)), 0);
  run_ok(fmt("fashion-mnist --src '%s/raw' --out '%s/fm-raw'", TMP, TMP));
  assert_true(same_file(fmt("%s/train.csv", out), fmt("%s/fm-raw/train.csv", TMP)));
  assert_true(same_file(fmt("%s/images/test/00009.png", out), fmt("%s/fm-raw/images/test/00009.png", TMP)));
}

/* Builds a bad copy of the tiny set in TMP/bad with one file replaced, runs the converter, and
 * checks the exact message. */
static void bad_case(const char *file, const unsigned char *data, size_t n, int gz, const char *msg_fmt) {
  const char *src = tu_src_path("tests/data/fashion-mnist-tiny");
  char bad[512], cmd[4096];
  snprintf(bad, sizeof bad, "%s/bad", TMP);
  snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s' && cp '%s'/*.gz '%s'/", bad, bad, src, bad);
  assert_int_equal(system(cmd), 0);
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", bad, file);
  if (gz) write_gz(path, data, n); else write_bytes(path, data, n);
  char msg[8192];
  snprintf(msg, sizeof msg, msg_fmt, path);
  run_fails_with(fmt("fashion-mnist --src '%s' --out '%s/bad-out'", bad, TMP), msg);
}

static void test_idx_errors(void **state) {
  const char *src = tu_src_path("tests/data/fashion-mnist-tiny");
  char srcdir[1024];
  snprintf(srcdir, sizeof srcdir, "%s", src);
  size_t ni, nl;
  unsigned char *im = gunzip(fmt("%s/train-images-idx3-ubyte.gz", srcdir), &ni);
  unsigned char *lb = gunzip(fmt("%s/train-labels-idx1-ubyte.gz", srcdir), &nl);
  assert_int_equal(ni, 16 + 30 * 784);
  assert_int_equal(nl, 8 + 30);

  /* Data cut short inside a valid gzip stream. */
  bad_case("train-images-idx3-ubyte.gz", im, ni - 784, 1,
           "%s: truncated: header declares 23520 data bytes, file has 22736 — re-download or reinstall the file");
  /* Header cut short. */
  bad_case("train-images-idx3-ubyte.gz", im, 10, 1, "%s: truncated: header has 10 of 16 bytes");
  bad_case("train-labels-idx1-ubyte.gz", lb, 3, 1,
           "%s: truncated: 3-byte file is shorter than the 4-byte IDX magic number");
  /* A label file where an image file belongs. */
  bad_case("train-images-idx3-ubyte.gz", lb, nl, 1,
           "%s: bad IDX magic number 0x00000801, expected 0x00000803 (unsigned bytes, 3-D) — not an IDX image file");
  /* Trailing bytes after the declared data. */
  unsigned char *longer = calloc(ni + 5, 1);
  memcpy(longer, im, ni);
  bad_case("train-images-idx3-ubyte.gz", longer, ni + 5, 1,
           "%s: trailing data after the 23520 bytes the IDX header declares — file is corrupt");
  free(longer);
  /* Image/label count mismatch: 29 labels. */
  unsigned char lb29[8 + 29];
  memcpy(lb29, lb, sizeof lb29);
  lb29[7] = 29;
  char msg[8192];
  snprintf(msg, sizeof msg, "%%s: 29 labels but %s/bad/train-images-idx3-ubyte.gz has 30 images — the two files do "
                            "not belong together", TMP);
  bad_case("train-labels-idx1-ubyte.gz", lb29, sizeof lb29, 1, msg);
  /* Label out of range. */
  unsigned char lbx[8 + 30];
  memcpy(lbx, lb, sizeof lbx);
  lbx[8 + 4] = 10;
  bad_case("train-labels-idx1-ubyte.gz", lbx, sizeof lbx, 1, "%s: label 10 of item 4 is out of range [0, 9]");
  /* Wrong image size. */
  unsigned char *im27 = malloc(ni);
  memcpy(im27, im, ni);
  im27[11] = 27;
  bad_case("train-images-idx3-ubyte.gz", im27, 16 + 30 * 28 * 27, 1,
           "%s: images are 27x28, expected 28x28 for Fashion-MNIST");
  free(im27);
  /* Implausible header (corrupt count). */
  unsigned char hdr[16];
  memcpy(hdr, im, 16);
  hdr[4] = 0xff;
  bad_case("train-images-idx3-ubyte.gz", hdr, 16, 1,
           "%s: implausible size 4278190110 in dimension 0 of the IDX header — file is corrupt");

  /* A gzip file cut in the middle of its compressed stream: zlib reports the partial data. */
  size_t nz;
  unsigned char *z = (unsigned char *)tu_slurp(fmt("%s/train-images-idx3-ubyte.gz", srcdir), &nz);
  char out[8192];
  {
    char bad[512], cmd[4096];
    snprintf(bad, sizeof bad, "%s/bad", TMP);
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s' && cp '%s'/*.gz '%s'/", bad, bad, srcdir, bad);
    assert_int_equal(system(cmd), 0);
    write_bytes(fmt("%s/train-images-idx3-ubyte.gz", bad), z, nz / 2);
    assert_int_equal(run(out, sizeof out, fmt("fashion-mnist --src '%s' --out '%s/bad-out'", bad, TMP)), 1);
    assert_non_null(strstr(out, fmt("loom-data: %s/train-images-idx3-ubyte.gz: truncated: header declares 23520 "
                                    "data bytes, file has ", bad)));
    assert_non_null(strstr(out, " — re-download or reinstall the file\n"));
    /* Flip bytes inside the deflate stream: a data error, named as corruption. */
    for (size_t i = nz / 3; i < nz / 3 + 64; i++) z[i] ^= 0x5a;
    write_bytes(fmt("%s/train-images-idx3-ubyte.gz", bad), z, nz);
    assert_int_equal(run(out, sizeof out, fmt("fashion-mnist --src '%s' --out '%s/bad-out'", bad, TMP)), 1);
    assert_non_null(strstr(out, fmt("loom-data: %s/train-images-idx3-ubyte.gz: ", bad)));
    assert_true(strstr(out, "corrupt gzip stream") || strstr(out, "truncated"));
    /* Missing file. */
    assert_int_equal(system(fmt("cp '%s/train-images-idx3-ubyte.gz' '%s/'", srcdir, bad)), 0);
    assert_int_equal(remove(fmt("%s/train-labels-idx1-ubyte.gz", bad)), 0);
    run_fails_with(fmt("fashion-mnist --src '%s' --out '%s/bad-out'", bad, TMP),
                   fmt("%s/train-labels-idx1-ubyte.gz: cannot open: No such file or directory — install it with "
                       "scripts/install-deps.sh --demo", bad));
  }
  free(z);
  free(im);
  free(lb);
}

/* ---- fashion-shop ---- */

typedef struct {
  int n_items, n_users, n_inter;
} shop_shape;

/* Schema, referential integrity, label consistency and chronological per-user splits of a
 * generated shop; img_labels (may be NULL) are the source set's training labels. */
static void check_shop(const char *dir_arg, shop_shape want, const unsigned char *img_labels) {
  char dir[1024];
  snprintf(dir, sizeof dir, "%s", dir_arg);
  table it = load_csv(fmt("%s/items.csv", dir)), us = load_csv(fmt("%s/users.csv", dir));
  table ia = load_csv(fmt("%s/interactions.csv", dir)), tr = load_csv(fmt("%s/truth_interactions.csv", dir));
  table ti = load_csv(fmt("%s/truth_items.csv", dir));
  assert_int_equal(it.nf[0], 8);
  assert_int_equal(us.nf[0], 5);
  assert_int_equal(ia.nf[0], 14);
  assert_int_equal(it.n - 1, want.n_items);
  assert_int_equal(us.n - 1, want.n_users);
  assert_int_equal(ia.n - 1, want.n_inter);
  assert_int_equal(tr.n, ia.n);
  assert_int_equal(ti.n, it.n);
  /* ids are i%05d / u%05d in row order, so integrity checks are index checks. */
  int zh = 0;
  for (int r = 1; r < it.n; r++) {
    assert_string_equal(cell(&it, r, "item_id"), fmt("i%05d", r - 1));
    assert_string_equal(cell(&ti, r, "item_id"), fmt("i%05d", r - 1));
    assert_true(atof(cell(&it, r, "price")) > 0);
    struct stat st;
    assert_int_equal(stat(fmt("%s/%s", dir, cell(&it, r, "image")), &st), 0);
    int cat = atoi(cell(&ti, r, "category_id"));
    assert_string_equal(cell(&it, r, "category"), FM_NAMES[cat]);
    const char *srcimg = cell(&it, r, "source_image");
    assert_memory_equal(srcimg, "train:", 6);
    if (img_labels) assert_int_equal(img_labels[atoi(srcimg + 6)], cat);
    zh += !strcmp(cell(&it, r, "lang"), "zh");
    /* The text names the category exactly when truth says so (English items). */
    if (!strcmp(cell(&it, r, "lang"), "en")) {
      int named_any = 0, named_own = 0;
      for (int k = 0; k < 10; k++)
        for (int j = 0; j < 3; j++) {
          int hit = strstr(cell(&it, r, "title"), CAT_WORDS[k][j]) || strstr(cell(&it, r, "description"), CAT_WORDS[k][j]);
          named_any |= hit;
          named_own |= hit && k == cat;
        }
      if (atoi(cell(&ti, r, "category_named"))) assert_true(named_own);
      else assert_false(named_any);
    }
    /* Colour words are in the description, always. */
    if (!strcmp(cell(&it, r, "lang"), "en")) assert_non_null(strstr(cell(&it, r, "description"), cell(&ti, r, "colour")));
  }
  assert_true(zh > 0 && zh < want.n_items / 2);
  for (int r = 1; r < us.n; r++) assert_string_equal(cell(&us, r, "user_id"), fmt("u%05d", r - 1));
  long nsplit[3] = {0};
  /* Per user: latest train timestamp < earliest valid <= ... < earliest test. */
  long long *last_train = calloc((size_t)want.n_users, sizeof *last_train);
  long long *first_vt = calloc((size_t)want.n_users, sizeof *first_vt);
  for (int u = 0; u < want.n_users; u++) first_vt[u] = 1LL << 62;
  long long prev_t = 0;
  for (int r = 1; r < ia.n; r++) {
    int u = atoi(cell(&ia, r, "user_id") + 1), i = atoi(cell(&ia, r, "item_id") + 1);
    assert_true(u >= 0 && u < want.n_users && i >= 0 && i < want.n_items);
    int clicked = atoi(cell(&ia, r, "clicked")), purchased = atoi(cell(&ia, r, "purchased"));
    assert_true(clicked == 0 || clicked == 1);
    assert_true(purchased <= clicked);
    assert_true((atof(cell(&ia, r, "dwell_s")) > 0) == clicked);
    assert_string_equal(cell(&ia, r, "price"), cell(&it, i + 1, "price"));
    assert_string_equal(cell(&tr, r, "item_id"), cell(&ia, r, "item_id"));
    assert_string_equal(cell(&tr, r, "session_id"), cell(&ia, r, "session_id"));
    long long t = atoll(cell(&ia, r, "timestamp"));
    if (!strcmp(cell(&ia, r, "position"), "1")) { assert_true(t >= prev_t); prev_t = t; } /* sessions in time order */
    const char *sp = cell(&ia, r, "split");
    int s = !strcmp(sp, "train") ? 0 : !strcmp(sp, "valid") ? 1 : !strcmp(sp, "test") ? 2 : -1;
    assert_true(s >= 0);
    nsplit[s]++;
    if (s == 0 && t > last_train[u]) last_train[u] = t;
    if (s > 0 && t < first_vt[u]) first_vt[u] = t;
  }
  for (int u = 0; u < want.n_users; u++) assert_true(last_train[u] < first_vt[u]);
  double n = (double)(ia.n - 1);
  assert_true(nsplit[0] / n > 0.6 && nsplit[0] / n < 0.9);
  assert_true(nsplit[1] / n > 0.05 && nsplit[1] / n < 0.2);
  assert_true(nsplit[2] / n > 0.05 && nsplit[2] / n < 0.2);
  free(last_train);
  free(first_vt);
  free_table(&it); free_table(&us); free_table(&ia); free_table(&tr); free_table(&ti);
}

static const char *const SHOP_FILES[] = {"items.csv", "users.csv", "interactions.csv", "truth_items.csv",
                                         "truth_users.csv", "truth_interactions.csv"};

static void test_shop_determinism_and_schema(void **state) {
  const char *src = tu_src_path("tests/data/fashion-mnist-tiny");
  char srcdir[1024];
  snprintf(srcdir, sizeof srcdir, "%s", src);
  const char *args = "--items 100 --users 30 --interactions 2000";
  run_ok(fmt("fashion-shop --src '%s' --out '%s/shop-a' %s --seed 5", srcdir, TMP, args));
  run_ok(fmt("fashion-shop --src '%s' --out '%s/shop-b' %s --seed 5", srcdir, TMP, args));
  run_ok(fmt("fashion-shop --src '%s' --out '%s/shop-c' %s --seed 6", srcdir, TMP, args));
  for (size_t k = 0; k < sizeof SHOP_FILES / sizeof *SHOP_FILES; k++) {
    assert_true(same_file(fmt("%s/shop-a/%s", TMP, SHOP_FILES[k]), fmt("%s/shop-b/%s", TMP, SHOP_FILES[k])));
    assert_false(same_file(fmt("%s/shop-a/%s", TMP, SHOP_FILES[k]), fmt("%s/shop-c/%s", TMP, SHOP_FILES[k])));
  }
  for (int i = 0; i < 100; i++)
    assert_true(same_file(fmt("%s/shop-a/images/i%05d.png", TMP, i), fmt("%s/shop-b/images/i%05d.png", TMP, i)));
  size_t nl;
  unsigned char *lb = gunzip(fmt("%s/train-labels-idx1-ubyte.gz", srcdir), &nl);
  check_shop(fmt("%s/shop-a", TMP), (shop_shape){100, 30, 2000}, lb + 8);
  /* Items and users come from their own random streams: more interactions leave them unchanged. */
  run_ok(fmt("fashion-shop --src '%s' --out '%s/shop-d' --items 100 --users 30 --interactions 2500 --seed 5", srcdir, TMP));
  assert_true(same_file(fmt("%s/shop-a/items.csv", TMP), fmt("%s/shop-d/items.csv", TMP)));
  assert_true(same_file(fmt("%s/shop-a/users.csv", TMP), fmt("%s/shop-d/users.csv", TMP)));
  free(lb);
  /* Bad options are named. */
  char out[8192];
  assert_int_equal(run(out, sizeof out, fmt("fashion-shop --src '%s' --out '%s/x' --users 400 --interactions 3000",
                                            srcdir, TMP)), 1);
  assert_non_null(strstr(out, "raise --interactions to at least 12000 or lower --users"));
  run_fails_with(fmt("fashion-shop --src '%s' --out '%s/x' --chinese-share 2", srcdir, TMP),
                 "--chinese-share '2': expected a number in [0, 1]");
  run_fails_with(fmt("fashion-shop --src '%s' --out '%s/x' --colour red", srcdir, TMP),
                 "unknown option '--colour' (see loom-data --help)");
}

typedef struct { double clicks, n; } rate;
static double ctr(rate r) { return r.clicks / r.n; }

/* The designed signal: each latent factor moves the click rate the documented way. */
static void test_shop_signal(void **state) {
  const char *src = tu_src_path("tests/data/fashion-mnist-tiny");
  char srcdir[1024];
  snprintf(srcdir, sizeof srcdir, "%s", src);
  const char *dir = fmt("%s/shop-big", TMP);
  char d[4096];
  snprintf(d, sizeof d, "%s", dir);
  run_ok(fmt("fashion-shop --src '%s' --out '%s' --items 600 --users 200 --interactions 40000 --seed 11", srcdir, d));
  table ia = load_csv(fmt("%s/interactions.csv", d)), tr = load_csv(fmt("%s/truth_interactions.csv", d));
  table ti = load_csv(fmt("%s/truth_items.csv", d)), tu = load_csv(fmt("%s/truth_users.csv", d));
  table us = load_csv(fmt("%s/users.csv", d));
  rate cat1 = {0}, cat_other = {0}, col_m = {0}, col_n = {0}, sty_m = {0}, sty_n = {0}, pop_hi = {0}, pop_lo = {0};
  rate cheap = {0}, dear = {0}, pos1 = {0}, pos10 = {0};
  double psum = 0, csum = 0;
  for (int r = 1; r < ia.n; r++) {
    int u = atoi(cell(&ia, r, "user_id") + 1) + 1, i = atoi(cell(&ia, r, "item_id") + 1) + 1;
    double c = atof(cell(&ia, r, "clicked"));
    int cat = atoi(cell(&ti, i, "category_id"));
    double q = atof(cell(&ti, i, "popularity")), z = atof(cell(&ti, i, "price_z"));
    int pos = atoi(cell(&ia, r, "position"));
    rate *a = cat == atoi(cell(&tu, u, "category_1")) ? &cat1
              : cat != atoi(cell(&tu, u, "category_2")) ? &cat_other : NULL;
    if (a) a->clicks += c, a->n++;
    a = !strcmp(cell(&ti, i, "colour"), cell(&tu, u, "colour")) ? &col_m : &col_n;
    a->clicks += c, a->n++;
    a = !strcmp(cell(&ti, i, "style"), cell(&tu, u, "style")) ? &sty_m : &sty_n;
    a->clicks += c, a->n++;
    if (q > 0.7) pop_hi.clicks += c, pop_hi.n++;
    if (q < -0.7) pop_lo.clicks += c, pop_lo.n++;
    if (z < -0.7) cheap.clicks += c, cheap.n++;
    if (z > 0.7) dear.clicks += c, dear.n++;
    if (pos == 1) pos1.clicks += c, pos1.n++;
    if (pos >= 10) pos10.clicks += c, pos10.n++;
    psum += atof(cell(&tr, r, "p_click"));
    csum += c;
  }
  double n = (double)(ia.n - 1);
  print_message("ctr %.3f (truth mean p %.3f); cat1 %.3f other %.3f; colour %.3f/%.3f; style %.3f/%.3f; "
                "pop %.3f/%.3f; price cheap %.3f dear %.3f; pos1 %.3f pos10+ %.3f\n",
                csum / n, psum / n, ctr(cat1), ctr(cat_other), ctr(col_m), ctr(col_n), ctr(sty_m), ctr(sty_n),
                ctr(pop_hi), ctr(pop_lo), ctr(cheap), ctr(dear), ctr(pos1), ctr(pos10));
  /* The Bernoulli draws follow the recorded probabilities: |mean gap| within ~5 standard errors. */
  assert_true(fabs(csum - psum) / n < 5 * sqrt(0.25 / n));
  assert_true(csum / n > 0.12 && csum / n < 0.4);
  assert_true(ctr(cat1) > 1.8 * ctr(cat_other));
  assert_true(ctr(col_m) > 1.3 * ctr(col_n));
  assert_true(ctr(sty_m) > 1.3 * ctr(sty_n));
  assert_true(ctr(pop_hi) > 1.5 * ctr(pop_lo));
  assert_true(ctr(cheap) > 1.2 * ctr(dear));
  assert_true(ctr(pos1) > 1.2 * ctr(pos10));
  /* The sign-up survey is informative but noisy: P(stated = true first category) = 0.6 + 0.4/10. */
  int agree = 0;
  for (int r = 1; r < us.n; r++)
    agree += !strcmp(cell(&us, r, "signup_category"), FM_NAMES[atoi(cell(&tu, r, "category_1"))]);
  double pa = agree / (double)(us.n - 1);
  assert_true(pa > 0.5 && pa < 0.78);
  free_table(&ia); free_table(&tr); free_table(&ti); free_table(&tu); free_table(&us);
}

/* The committed sample: well-formed, small, and regenerable byte for byte by its documented command. */
static void test_committed_sample(void **state) {
  char sample[4096];
  snprintf(sample, sizeof sample, "%s", tu_src_path("datasets/fashion-shop-sample"));
  check_shop(sample, (shop_shape){300, 100, 6000}, NULL);
  char out[8192];
  assert_int_equal(system(fmt("test $(du -sb '%s' | cut -f1) -le 2097152", sample)), 0);
  const char *real = "/usr/share/datasets/fashion-mnist";
  if (access(fmt("%s/train-images-idx3-ubyte.gz", real), R_OK) != 0) {
    print_message("Debian dataset-fashion-mnist not installed: regeneration check skipped\n");
    return;
  }
  /* The command documented in datasets/README.md. */
  assert_int_equal(run(out, sizeof out, fmt("fashion-shop --src %s --out '%s/sample' --items 300 --users 100 "
                                            "--interactions 6000 --seed 7", real, TMP)), 0);
  for (size_t k = 0; k < sizeof SHOP_FILES / sizeof *SHOP_FILES; k++)
    assert_true(same_file(fmt("%s/sample/%s", TMP, SHOP_FILES[k]), fmt("%s/%s", sample, SHOP_FILES[k])));
  for (int i = 0; i < 300; i++)
    assert_true(same_file(fmt("%s/sample/images/i%05d.png", TMP, i), fmt("%s/images/i%05d.png", sample, i)));
}

/* ---- spam ---- */

static void test_spam_converter(void **state) {
  char src[4096];
  snprintf(src, sizeof src, "%s", tu_src_path("tests/data/spam-assassin"));
  run_ok(fmt("spam --src '%s' --out '%s/spam' --max-bytes 300", src, TMP));
  run_ok(fmt("spam --src '%s/data' --out '%s/spam2' --max-bytes 300", src, TMP)); /* the data dir also works */
  assert_true(same_file(fmt("%s/spam/spam.csv", TMP), fmt("%s/spam2/spam.csv", TMP)));
  table t = load_csv(fmt("%s/spam/spam.csv", TMP));
  assert_int_equal(t.nf[0], 4);
  assert_int_equal(t.n - 1, 10);
  int c_src = col(&t, "source"), nsplit[2][3] = {{0}};
  int r = find_row(&t, c_src, "easy-ham-1/00002");
  assert_true(r > 0);
  /* CRLF normalised, folded Subject unfolded, headers dropped. */
  assert_string_equal(cell(&t, r, "text"), "Meeting notes, part two\n\nNotes attached, see below.\nThanks, Bob\n");
  r = find_row(&t, c_src, "easy-ham-2/00004");
  assert_string_equal(cell(&t, r, "text"), "lowercase header\n\nBody with a tab\there and a bell character.\n");
  r = find_row(&t, c_src, "spam-1/00006");
  assert_string_equal(cell(&t, r, "text"),
                      "YOU HAVE WON $1,000,000!!!\n\nClaim your \"prize\" now, click here: http://lottery.example/claim\n");
  assert_string_equal(cell(&t, r, "label"), "1");
  r = find_row(&t, c_src, "easy-ham-1/00003");
  assert_string_equal(cell(&t, r, "text"), "Café menu — 午餐\n\nThe café has a new menu: soupe du jour, 面条, and tea.\n");
  r = find_row(&t, c_src, "spam-2/00010");
  assert_int_equal(strlen(cell(&t, r, "text")), 300); /* capped (cut lands on ASCII here) */
  for (int i = 1; i < t.n; i++) {
    const char *g = cell(&t, i, "source");
    int label = atoi(cell(&t, i, "label"));
    assert_int_equal(label, strncmp(g, "spam", 4) == 0);
    const char *sp = cell(&t, i, "split");
    nsplit[label][!strcmp(sp, "train") ? 0 : !strcmp(sp, "valid") ? 1 : 2]++;
  }
  for (int l = 0; l < 2; l++) {
    assert_int_equal(nsplit[l][0], 3);
    assert_int_equal(nsplit[l][1], 1);
    assert_int_equal(nsplit[l][2], 1);
  }
  free_table(&t);
  /* Cutting inside a multi-byte character backs up to the character start. */
  run_ok(fmt("spam --src '%s' --out '%s/spam3' --max-bytes 19", src, TMP));
  t = load_csv(fmt("%s/spam3/spam.csv", TMP));
  r = find_row(&t, col(&t, "source"), "easy-ham-1/00003");
  assert_string_equal(cell(&t, r, "text"), "Café menu — 午"); /* 17 bytes: 午 ends at 17, 餐 would end at 20 */
  free_table(&t);
  run_ok(fmt("spam --src '%s' --out '%s/spam4' --keep-headers", src, TMP));
  t = load_csv(fmt("%s/spam4/spam.csv", TMP));
  r = find_row(&t, col(&t, "source"), "easy-ham-1/00002");
  assert_string_equal(cell(&t, r, "text"),
                      "From: bob@example.org\nSubject: Meeting notes,\n  part two\nX-Mailer: mutt\n\nNotes attached, see below.\nThanks, Bob\n");
  free_table(&t);
  run_fails_with(fmt("spam --src '%s/nowhere' --out '%s/spam5'", TMP, TMP),
                 fmt("spam corpus not found (install it with scripts/prepare-data.sh spam): %s/nowhere/file_list.json: "
                     "cannot open: No such file or directory", TMP));
}

/* ---- Amazon Reviews 2023 and H&M ---- */

static void test_amazon_converter(void **state) {
  char d[4096];
  snprintf(d, sizeof d, "%s", tu_src_path("tests/data/amazon"));
  run_ok(fmt("amazon-reviews --reviews '%s/All_Beauty.jsonl' --meta '%s/meta_All_Beauty.jsonl' --out '%s/amz'", d, d, TMP));
  table it = load_csv(fmt("%s/amz/items.csv", TMP)), ia = load_csv(fmt("%s/amz/interactions.csv", TMP));
  table us = load_csv(fmt("%s/amz/users.csv", TMP));
  assert_int_equal(it.n - 1, 3);
  assert_int_equal(ia.n - 1, 4); /* the review of an item missing from --meta is dropped */
  assert_int_equal(us.n - 1, 2);
  int r = find_row(&it, 0, "B00YQ6X8EO");
  assert_string_equal(cell(&it, r, "title"), "Lavender Hair Spray, 8 oz");
  assert_string_equal(cell(&it, r, "description"), "A light, \"flexible\" hair spray. Light hold Lavender scent, no parabens");
  assert_string_equal(cell(&it, r, "image_url"), "https://m.media-amazon.com/images/I/61b.jpg"); /* the MAIN image */
  assert_string_equal(cell(&it, r, "price"), "12.50");
  r = find_row(&it, 0, "B01CUPMQZE");
  assert_string_equal(cell(&it, r, "price"), ""); /* null price stays empty */
  r = find_row(&it, 0, "B081TJ8YS3");
  assert_string_equal(cell(&it, r, "category"), "Hair Masks"); /* empty main_category: last category */
  /* Leave-last-out: user AGKH... has 3 reviews -> train, valid, test by time. */
  const char *want_split[4] = {"train", "valid", "test", "train"};
  const char *want_ts[4] = {"1588615855", "1588687728", "1589665266", "1643393630"};
  for (int i = 1; i <= 4; i++) {
    assert_string_equal(cell(&ia, i, "split"), want_split[i - 1]);
    assert_string_equal(cell(&ia, i, "timestamp"), want_ts[i - 1]);
  }
  assert_string_equal(cell(&ia, 3, "review_text"), "Smells good, feels great, but \"flattens\" my hair,\nand the bottle leaks.");
  assert_string_equal(cell(&ia, 3, "label"), "0");
  assert_string_equal(cell(&ia, 3, "verified_purchase"), "0");
  assert_string_equal(cell(&ia, 1, "label"), "1");
  free_table(&it); free_table(&ia); free_table(&us);
  char out[8192];
  assert_int_equal(run(out, sizeof out, fmt("amazon-reviews --reviews '%s/meta_All_Beauty.jsonl' --meta "
                                            "'%s/meta_All_Beauty.jsonl' --out '%s/amz2'", d, d, TMP)), 1);
  assert_non_null(strstr(out, "meta_All_Beauty.jsonl:1: expected a JSON object with \"user_id\""));
}

static void test_hm_converter(void **state) {
  char d[4096];
  snprintf(d, sizeof d, "%s", tu_src_path("tests/data/hm"));
  run_ok(fmt("hm --src '%s' --out '%s/hm' --negatives 2 --seed 3", d, TMP));
  run_ok(fmt("hm --src '%s' --out '%s/hm2' --negatives 2 --seed 3", d, TMP));
  assert_true(same_file(fmt("%s/hm/interactions.csv", TMP), fmt("%s/hm2/interactions.csv", TMP)));
  table it = load_csv(fmt("%s/hm/items.csv", TMP)), ia = load_csv(fmt("%s/hm/interactions.csv", TMP));
  table us = load_csv(fmt("%s/hm/users.csv", TMP));
  assert_int_equal(it.n - 1, 4);
  assert_int_equal(us.n - 1, 3);
  assert_int_equal(ia.n - 1, 7 * 3); /* 7 known-customer purchases x (1 + 2 negatives) */
  int r = find_row(&it, 0, "0111565001"); /* article_id written without its leading zero */
  assert_true(r > 0);
  assert_string_equal(cell(&it, r, "category"), "Socks & Tights");
  r = find_row(&it, 0, "0108775015");
  assert_string_equal(cell(&it, r, "description"), "Black Vest top, Solid. Jersey top with narrow shoulder straps.");
  assert_string_equal(cell(&it, r, "price"), "0.050831");
  assert_string_equal(cell(&it, r, "n_sales"), "2");
  assert_string_equal(cell(&it, r, "image"), fmt("%s/images/010/0108775015.jpg", d));
  assert_string_equal(cell(&it, find_row(&it, 0, "0108775044"), "image"), ""); /* no image file */
  r = find_row(&us, 0, "000058a12d5b43e67d225668fa1f8d618c13dc232df0cad8ffe7ad4a1091e318");
  assert_string_equal(cell(&us, r, "age"), "24");
  assert_string_equal(cell(&us, r, "fn"), "1");
  for (int g = 0; g < 7; g++) {
    int p = 1 + 3 * g;
    assert_string_equal(cell(&ia, p, "purchased"), "1");
    for (int k = 1; k <= 2; k++) {
      assert_string_equal(cell(&ia, p + k, "purchased"), "0");
      assert_string_equal(cell(&ia, p + k, "user_id"), cell(&ia, p, "user_id"));
      assert_string_not_equal(cell(&ia, p + k, "item_id"), cell(&ia, p, "item_id"));
    }
    assert_string_not_equal(cell(&ia, p + 1, "item_id"), cell(&ia, p + 2, "item_id"));
    /* last date 2018-10-15: test from 2018-10-09, valid from 2018-10-02 */
    const char *date = cell(&ia, p, "date"), *sp = cell(&ia, p, "split");
    const char *want = strcmp(date, "2018-10-08") > 0 ? "test" : strcmp(date, "2018-10-01") > 0 ? "valid" : "train";
    assert_string_equal(sp, want);
  }
  assert_string_equal(cell(&ia, 1, "timestamp"), "1537401600"); /* 2018-09-20T00:00:00Z */
  free_table(&it); free_table(&ia); free_table(&us);
  run_fails_with(fmt("hm --src '%s/amazon' --out '%s/hm3'", tu_src_path("tests/data"), TMP),
                 fmt("%s/amazon/articles.csv: cannot open: No such file or directory", tu_src_path("tests/data")));
}

/* SQLite-style: fail the Nth allocation for every N (N = 1..10, then every 11th) until the command
 * succeeds; each failure must be a clean "out of memory" report (ASan builds also prove no leak). */
static void test_allocation_failures(void **state) {
  char d[1024], cmds[5][4096];
  snprintf(d, sizeof d, "%s", tu_src_path("tests/data"));
  snprintf(cmds[0], sizeof cmds[0], "spam --src '%s/spam-assassin' --out '%s/oom'", d, TMP);
  snprintf(cmds[1], sizeof cmds[1], "amazon-reviews --reviews '%s/amazon/All_Beauty.jsonl' --meta "
           "'%s/amazon/meta_All_Beauty.jsonl' --out '%s/oom'", d, d, TMP);
  snprintf(cmds[2], sizeof cmds[2], "hm --src '%s/hm' --out '%s/oom'", d, TMP);
  snprintf(cmds[3], sizeof cmds[3], "fashion-shop --src '%s/fashion-mnist-tiny' --out '%s/oom' --items 20 "
           "--users 5 --interactions 200", d, TMP);
  snprintf(cmds[4], sizeof cmds[4], "fashion-mnist --src '%s/fashion-mnist-tiny' --out '%s/oom'", d, TMP);
  for (int c = 0; c < 5; c++) {
    int failures = 0;
    for (long n = 1;; n += n < 10 ? 1 : 11) {
      char out[8192];
      setenv("LOOM_DATA_ALLOC_FAIL_AFTER", fmt("%ld", n), 1);
      int rc = run(out, sizeof out, cmds[c]);
      unsetenv("LOOM_DATA_ALLOC_FAIL_AFTER");
      if (rc == 0) break;
      if (rc != 1 || strncmp(out, "loom-data: ", 11) != 0 || !strstr(out, "out of memory") || strstr(out, "Sanitizer"))
        fail_msg("allocation %ld failing in 'loom-data %s': exit %d, output: %s", n, cmds[c], rc, out);
      failures++;
      assert_true(n < 5000);
    }
    assert_true(failures > 0);
  }
}

static int setup(void **state) {
  ssize_t n = readlink("/proc/self/exe", BIN, sizeof BIN - 1);
  if (n <= 0) return -1;
  BIN[n] = '\0';
  *strrchr(BIN, '/') = '\0';
  snprintf(TMP, sizeof TMP, "%s/datasets-XXXXXX", tu_temp_dir()); /* removed at exit if teardown is not reached */
  return mkdtemp(TMP) ? 0 : -1;
}

static int teardown(void **state) {
  char cmd[8192];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", TMP);
  return system(cmd) == 0 ? 0 : -1;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fashion_mnist_converter), cmocka_unit_test(test_idx_errors),
      cmocka_unit_test(test_shop_determinism_and_schema), cmocka_unit_test(test_shop_signal),
      cmocka_unit_test(test_committed_sample), cmocka_unit_test(test_spam_converter),
      cmocka_unit_test(test_amazon_converter), cmocka_unit_test(test_hm_converter),
      cmocka_unit_test(test_allocation_failures),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
