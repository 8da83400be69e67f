/* loom-export — a trained checkpoint in another format: `loom-export onnx CKPT OUT.onnx` writes the
 * inference graph as an ONNX model (opset 13) for ONNX Runtime and other runtimes (docs/onnx.md). A thin
 * CLI over loom_infer_export_onnx. The output is written beside its target and renamed into place, so a
 * failed export leaves no file. Exit status: 0 done, 1 failed, 2 usage error. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "loom/infer.h"
#include "loom/onnx.h"
#include "loom/runtime.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: loom-export onnx CKPT OUT.onnx [--outputs NAME,...]\n"
          "       loom-export --help | --version\n"
          "Writes the inference graph of checkpoint CKPT (best.safetensors or last.safetensors of a\n"
          "loom-train run) as an ONNX model (opset 13, dynamic batch). Inputs are the model's graph\n"
          "inputs under their names (tokens, tokens_len, tokens_inv_len, query, image, numeric, user, item,\n"
          "category, ...); outputs: binary logits and score (sigmoid), multiclass logits and probs\n"
          "(softmax), ranking / retrieval user_vec, item_vec and logits. --outputs keeps a subset (e.g.\n"
          "--outputs item_vec for the item tower alone, whose file then needs only the item inputs).\n"
          "Tokenising, ID maps, numeric scaling and image decoding stay outside the file: they are stored\n"
          "in its metadata (loom.prep, JSON) and described in docs/onnx.md. An op with no ONNX mapping\n"
          "is an error naming the op and the config key that put it there, and nothing is written.\n"
          "Exit status: 0 done, 1 failed, 2 usage error.\n");
}

int main(int argc, char **argv) {
  enum { O_VERSION = 1, O_OUTPUTS };
  static const struct option lo[] = {{"help", no_argument, NULL, 'h'},
                                     {"version", no_argument, NULL, O_VERSION},
                                     {"outputs", required_argument, NULL, O_OUTPUTS},
                                     {0}};
  const char *only = NULL;
  int c;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
    switch (c) {
    case 'h': usage(stdout); return 0;
    case O_VERSION: printf("loom export %s\n", loom_version()); return 0;
    case O_OUTPUTS: only = optarg; break;
    case ':': fprintf(stderr, "loom-export: %s needs a value\n", argv[optind - 1]); return 2;
    default:
      if (optopt && !strncmp(argv[optind - 1], "--", 2) && strchr(argv[optind - 1], '='))
        fprintf(stderr, "loom-export: %.*s takes no value\n", (int)strcspn(argv[optind - 1], "="), argv[optind - 1]);
      else if (optopt > ' ' && optopt < 127) fprintf(stderr, "loom-export: unknown option '-%c'\n", optopt);
      else fprintf(stderr, "loom-export: unknown option '%s'\n", argv[optind - 1]);
      usage(stderr);
      return 2;
    }
  }
  if (optind >= argc) {
    fprintf(stderr, "loom-export: give a format (onnx), a checkpoint and an output file\n");
    usage(stderr);
    return 2;
  }
  if (strcmp(argv[optind], "onnx") != 0) {
    fprintf(stderr, "loom-export: unknown format '%s' (the one loom-export writes: onnx)\n", argv[optind]);
    return 2;
  }
  if (argc - optind != 3) {
    fprintf(stderr, "loom-export onnx: give a checkpoint and an output file: loom-export onnx CKPT OUT.onnx\n");
    return 2;
  }
  const char *ckpt = argv[optind + 1], *out = argv[optind + 2];
  struct stat a, b;
  if (stat(ckpt, &a) == 0 && stat(out, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
    fprintf(stderr, "loom-export: %s is the checkpoint itself — give another output file\n", out);
    return 2;
  }
  loom_error err = {""};
  loom_infer *s = loom_infer_open(ckpt, NULL, &err);
  if (!s) {
    fprintf(stderr, "loom-export: %s\n", err.msg);
    return 1;
  }
  loom_infer_onnx_info info;
  if (loom_infer_export_onnx(s, out, only, &info, &err) < 0) {
    fprintf(stderr, "loom-export: %s: %s (nothing was written to %s)\n", ckpt, err.msg, out);
    loom_infer_close(s);
    return 1;
  }
  loom_infer_close(s);
  printf("%s: ONNX opset %d, %zu bytes; inputs", out, LOOM_ONNX_OPSET, info.bytes);
  for (int i = 0; i < info.n_inputs; i++) printf("%s %s", i ? "," : "", info.inputs[i]);
  printf("; outputs");
  for (int i = 0; i < info.n_outputs; i++) printf("%s %s", i ? "," : "", info.outputs[i]);
  printf("\n");
  return 0;
}
