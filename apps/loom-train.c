/* loom-train — trains a model from a run config and writes a run directory (config.ini, log.txt,
 * metrics.csv, last/best.safetensors, report.html). A thin CLI over loom/trainer.h: flags, SIGINT
 * (finish the step, checkpoint, exit 130), and messages; the work is in src/train. */
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "loom/file.h"
#include "loom/model.h"
#include "loom/runtime.h"
#include "loom/trainer.h"

static volatile sig_atomic_t g_stop;
static void on_sigint(int sig) {
  (void)sig;
  g_stop = 1;            /* the loop: finish the step, checkpoint, return */
  loom_stop_request();   /* readers and hashes of input files: stop within a MiB */
}

/* --print-model: the model the config describes, node by node, without training or writing files. */
static int print_model(const char *config, const char **sets, int n_sets, loom_error *err) {
  loom_data_section dsec;
  loom_config *cfg = loom_train_config_new(&dsec);
  int rc = !cfg ? loom_errorf(err, "out of memory") : loom_config_load(cfg, config, err);
  for (int i = 0; rc == 0 && i < n_sets; i++) rc = loom_config_set_arg(cfg, sets[i], err);
  if (rc == 0 && loom_data_schema_validate(&dsec.schema, err) < 0) rc = loom_error_wrap(err, "[data]");
  if (rc == 0) rc = loom_model_print_summary(cfg, &dsec.schema, stdout, err);
  loom_config_free(cfg);
  return rc;
}

static int g_json; /* --json: summary lines as JSON objects */

/* The summary line of a finished run (also each variant of a sweep, then labelled). */
static void print_result(const loom_train_result *r, const char *variant) {
  if (g_json) {
    cJSON *j = cJSON_CreateObject();
    if (!j) return;
    cJSON_AddStringToObject(j, "run_dir", r->run_dir);
    if (variant) cJSON_AddStringToObject(j, "variant", variant);
    cJSON_AddNumberToObject(j, "updates", (double)(r->steps - r->skipped));
    cJSON_AddNumberToObject(j, "skipped", (double)r->skipped);
    cJSON_AddNumberToObject(j, "epochs", (double)r->epochs);
    cJSON_AddStringToObject(j, "monitor", r->monitor);
    isfinite(r->best) ? (void)cJSON_AddNumberToObject(j, "best", r->best) : (void)cJSON_AddNullToObject(j, "best");
    cJSON_AddNumberToObject(j, "seconds", r->seconds);
    cJSON_AddNumberToObject(j, "samples_per_s", r->samples_per_s);
    cJSON_AddBoolToObject(j, "early_stopped", r->early_stopped);
    cJSON_AddBoolToObject(j, "interrupted", r->interrupted);
    char *text = cJSON_PrintUnformatted(j);
    if (text) printf("%s\n", text);
    cJSON_free(text);
    cJSON_Delete(j);
    fflush(stdout);
    return;
  }
  char skips[64] = "";
  if (r->skipped > 0) snprintf(skips, sizeof skips, " (%ld batches skipped: non-finite)", r->skipped);
  char best[32] = "n/a", undefined[64] = ""; /* n/a: no validation yet */
  if (isfinite(r->best)) snprintf(best, sizeof best, "%.4f", r->best);
  if (r->undefined_metric[0]) snprintf(undefined, sizeof undefined, " (%s n/a)", r->undefined_metric);
  printf("%s: %ld updates%s, %ld epochs, best %s %s%s, %.1f s, %.0f samples/s%s%s\n", r->run_dir, r->steps - r->skipped,
         skips, r->epochs, r->monitor, best, undefined, r->seconds, r->samples_per_s, r->early_stopped ? " (early stop)" : "",
         r->interrupted ? " (interrupted)" : "");
  fflush(stdout);
}

static void sweep_done(void *ctx, int index, int total, const char *label, int rc, const loom_train_result *r,
                       const loom_error *err) {
  (void)ctx;
  if (rc == 0) {
    if (!g_json) printf("[%d/%d] ", index + 1, total);
    print_result(r, label);
  } else {
    fprintf(stderr, "loom-train: [%d/%d] %s: %s\n", index + 1, total, label, err->msg);
  }
}

static void usage(FILE *f) {
  fprintf(f,
          "usage: loom-train CONFIG.ini [--set section.key=value ...] [--quiet | --json]\n"
          "       loom-train --resume RUN_DIR [--set section.key=value ...]\n"
          "       loom-train CONFIG.ini --sweep section.key=a,b,c [--sweep ...] [--set ...]\n"
          "                                     every combination, each in train.out/key=value,...;\n"
          "                                     then train.out/compare.html (loom-compare)\n"
          "       loom-train CONFIG.ini --print-model [--set ...]   the model, layer by layer; no training\n"
          "       loom-train --help-config      every config key with its type, default and meaning\n"
          "       loom-train --help | --version\n"
          "Writes train.out/: config.ini, log.txt, metrics.csv, last.safetensors (resumable),\n"
          "best.safetensors (best by task.monitor), report.html. Ctrl-C finishes the current step,\n"
          "writes last.safetensors and exits with status 130; --resume continues bit-exactly.\n"
          "--json: progress as JSON lines on stderr (events start, step, eval, warning, interrupted, done),\n"
          "and the summary line as JSON on stdout; --quiet: no progress at all.\n");
}

static void print_config_reference(void) {
  loom_data_section ds;
  loom_config *c = loom_train_config_new(&ds);
  loom_config_print_reference(c, stdout);
  printf("\n");
  loom_data_print_reference(stdout);
  printf("\nKeys that have no effect in some configurations — set to other than their default there, they are an\n"
         "error naming the key and why (a key of a tower switched off with <tower>.enabled = false is not):\n");
  loom_config_print_rules(loom_model_rules, loom_model_n_rules, stdout);
  loom_config_print_rules(loom_data_rules, loom_data_n_rules, stdout);
  printf("\nA value with leading or trailing spaces or holding ; # \" or = goes in double quotes (\\\" and \\\\ inside);\n"
         "a key or section given twice is an error; the label, split and ID columns may not be listed as features.\n");
  loom_config_free(c);
}

int main(int argc, char **argv) {
  enum { O_HELP_CONFIG = 1, O_VERSION, O_SET, O_RESUME, O_QUIET, O_PRINT_MODEL, O_SWEEP, O_JSON };
  static const struct option lo[] = {{"help", no_argument, NULL, 'h'},
                                     {"help-config", no_argument, NULL, O_HELP_CONFIG},
                                     {"version", no_argument, NULL, O_VERSION},
                                     {"set", required_argument, NULL, O_SET},
                                     {"resume", required_argument, NULL, O_RESUME},
                                     {"quiet", no_argument, NULL, O_QUIET},
                                     {"print-model", no_argument, NULL, O_PRINT_MODEL},
                                     {"sweep", required_argument, NULL, O_SWEEP},
                                     {"json", no_argument, NULL, O_JSON},
                                     {0}};
  const char *config = NULL, *resume = NULL;
  const char **sets = calloc((size_t)argc, sizeof *sets), **sweeps = calloc((size_t)argc, sizeof *sweeps);
  int n_sets = 0, n_sweeps = 0, quiet = 0, json = 0, print_only = 0, c;
  if (!sets || !sweeps) return 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
    switch (c) {
    case 'h': usage(stdout); free(sets), free(sweeps); return 0;
    case O_HELP_CONFIG: print_config_reference(); free(sets), free(sweeps); return 0;
    case O_VERSION: printf("loom train %s\n", loom_version()); free(sets), free(sweeps); return 0;
    case O_SET: sets[n_sets++] = optarg; break;
    case O_RESUME: resume = optarg; break;
    case O_QUIET: quiet = 1; break;
    case O_PRINT_MODEL: print_only = 1; break;
    case O_SWEEP: sweeps[n_sweeps++] = optarg; break;
    case O_JSON: json = g_json = 1; break;
    case ':':
      fprintf(stderr, "loom-train: %s needs a value\n", argv[optind - 1]);
      free(sets), free(sweeps);
      return 2;
    default:
      if (optopt && !strncmp(argv[optind - 1], "--", 2) && strchr(argv[optind - 1], '='))
        fprintf(stderr, "loom-train: %.*s takes no value\n", (int)strcspn(argv[optind - 1], "="), argv[optind - 1]);
      else if (optopt > ' ' && optopt < 127) fprintf(stderr, "loom-train: unknown option '-%c'\n", optopt);
      else fprintf(stderr, "loom-train: unknown option '%s'\n", argv[optind - 1]);
      usage(stderr);
      free(sets), free(sweeps);
      return 2;
    }
  }
  for (int i = optind; i < argc; i++) {
    if (config) {
      fprintf(stderr, "loom-train: more than one config file ('%s' and '%s')\n", config, argv[i]);
      free(sets), free(sweeps);
      return 2;
    }
    config = argv[i];
  }
  if (json && quiet) {
    fprintf(stderr, "loom-train: --json and --quiet: choose one (--json reports progress as JSON lines)\n");
    free(sets), free(sweeps);
    return 2;
  }
  if (!config == !resume) {
    fprintf(stderr, "loom-train: give either a CONFIG file or --resume RUN_DIR\n");
    usage(stderr);
    free(sets), free(sweeps);
    return 2;
  }
  if (print_only) {
    loom_error perr = {""};
    int prc = resume ? loom_errorf(&perr, "--print-model takes a CONFIG file, not --resume")
                     : print_model(config, sets, n_sets, &perr);
    free(sets), free(sweeps);
    if (prc < 0) fprintf(stderr, "loom-train: %s\n", perr.msg);
    return prc < 0 ? (resume ? 2 : 1) : 0;
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_sigint;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  loom_train_opts o = {.config_path = config, .sets = sets, .n_sets = n_sets, .resume_dir = resume, .stop = &g_stop,
                       .progress = quiet ? NULL : stderr, .json = json};
  loom_train_result r;
  loom_error err = {""};
  if (n_sweeps) {
    if (print_only || resume) {
      fprintf(stderr, "loom-train: --sweep starts new runs from a CONFIG; not with %s\n", resume ? "--resume" : "--print-model");
      free(sets), free(sweeps);
      return 2;
    }
    int src = loom_train_sweep(&o, sweeps, n_sweeps, sweep_done, NULL, &err);
    free(sets), free(sweeps);
    if (src < 0) fprintf(stderr, "loom-train: %s\n", err.msg);
    return g_stop ? 130 : src < 0 ? 1 : 0;
  }
  int rc = loom_train(&o, &r, &err);
  free(sets), free(sweeps);
  if (rc < 0) {
    fprintf(stderr, "loom-train: %s\n", err.msg);
    return loom_stop_requested() ? 130 : 1; /* interrupted while reading or hashing its inputs */
  }
  print_result(&r, NULL);
  return r.interrupted ? 130 : 0;
}
