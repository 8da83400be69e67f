/* st_compare — checks and compares loom-train checkpoints for the crash trials (bench/fault/crash_trials.sh,
 * tests/test_crash_resume.sh). `check FILE`: the checkpoint opens, validates and holds only finite
 * values (loom_train_check_checkpoint); prints its step. `same A B`: every tensor (parameters, buffers, optimiser moments)
 * is bit-identical in name, dtype, shape and bytes, and so is the training state in the metadata (step,
 * epoch, optimiser step, RNG, loader position, counters); timings and history text are not compared.
 * Exit status: 0 yes, 1 no (with the reason on stderr), 2 usage or unreadable file. */
#include <stdio.h>
#include <string.h>

#include "loom/safetensors.h"
#include "loom/trainer.h"

static int same(const char *a, const char *b) {
  loom_error err = {""};
  int rc = loom_train_compare_checkpoints(a, b, &err);
  if (rc == 0) printf("same: every tensor and the training state\n");
  else fprintf(stderr, "st_compare: %s\n", err.msg);
  return rc < 0 ? 2 : rc;
}

int main(int argc, char **argv) {
  if (argc == 3 && !strcmp(argv[1], "check")) {
    loom_error err = {""};
    loom_st_file *f;
    if (loom_train_check_checkpoint(argv[2], &err) < 0 || !(f = loom_st_open(argv[2], &err))) {
      fprintf(stderr, "st_compare: %s\n", err.msg);
      return 1;
    }
    printf("ok: step %s\n", loom_st_meta(f, "train.step"));
    loom_st_close(f);
    return 0;
  }
  if (argc == 4 && !strcmp(argv[1], "same")) return same(argv[2], argv[3]);
  fprintf(stderr, "usage: st_compare check CKPT | st_compare same A B\n");
  return 2;
}
