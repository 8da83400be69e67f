/* loom-compare — one HTML page comparing training runs: their best and last metrics, the config keys
 * they differ in, and every metrics.csv curve overlaid. A thin CLI over loom_report_compare. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "loom/report.h"
#include "loom/runtime.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: loom-compare RUN_DIR... [-o OUT.html]\n"
          "       loom-compare --help | --version\n"
          "Reads each run directory's metrics.csv, config.ini and result.json (written by loom-train) and\n"
          "writes one self-contained page (default compare.html): a table of the runs' best and last\n"
          "metrics, the config keys whose values differ, and one chart per metric with a line per run.\n");
}

int main(int argc, char **argv) {
  enum { O_VERSION = 1 };
  static const struct option lo[] = {{"help", no_argument, NULL, 'h'},
                                     {"version", no_argument, NULL, O_VERSION},
                                     {"out", required_argument, NULL, 'o'},
                                     {0}};
  const char *out = "compare.html";
  int c;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":ho:", lo, NULL)) != -1) {
    switch (c) {
    case 'h': usage(stdout); return 0;
    case O_VERSION: printf("loom compare %s\n", loom_version()); return 0;
    case 'o': out = optarg; break;
    case ':': fprintf(stderr, "loom-compare: %s needs a value\n", argv[optind - 1]); return 2;
    default:
      if (optopt && !strncmp(argv[optind - 1], "--", 2) && strchr(argv[optind - 1], '='))
        fprintf(stderr, "loom-compare: %.*s takes no value\n", (int)strcspn(argv[optind - 1], "="), argv[optind - 1]);
      else if (optopt > ' ' && optopt < 127) fprintf(stderr, "loom-compare: unknown option '-%c'\n", optopt);
      else fprintf(stderr, "loom-compare: unknown option '%s'\n", argv[optind - 1]);
      usage(stderr);
      return 2;
    }
  }
  if (optind >= argc) {
    fprintf(stderr, "loom-compare: give one or more run directories\n");
    usage(stderr);
    return 2;
  }
  loom_error err = {""};
  if (loom_report_compare((const char *const *)argv + optind, argc - optind, out, &err) < 0) {
    fprintf(stderr, "loom-compare: %s\n", err.msg);
    return 1;
  }
  printf("%s: %d runs\n", out, argc - optind);
  return 0;
}
