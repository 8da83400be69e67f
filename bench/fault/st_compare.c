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

static const char *const state_keys[] = {"loom.format",     "loom.kind",        "loom.task",       "train.step",
                                         "train.epoch",     "train.optim_steps", "train.graph_rng", "train.loader",
                                         "train.best",      "train.best_step",  "train.bad_evals", "train.loss_sum",
                                         "train.loss_n",    "train.skipped",    "train.consec_skips"};

static int same(const char *a, const char *b) {
  loom_error err = {""};
  loom_st_file *fa = loom_st_open(a, &err);
  if (!fa) {
    fprintf(stderr, "st_compare: %s\n", err.msg);
    return 2;
  }
  loom_st_file *fb = loom_st_open(b, &err);
  if (!fb) {
    fprintf(stderr, "st_compare: %s\n", err.msg);
    loom_st_close(fa);
    return 2;
  }
  int rc = 0;
  uint64_t bytes = 0;
  if (loom_st_count(fa) != loom_st_count(fb)) {
    fprintf(stderr, "st_compare: %s holds %d tensors, %s %d\n", a, loom_st_count(fa), b, loom_st_count(fb));
    rc = 1;
  }
  for (int i = 0; rc == 0 && i < loom_st_count(fa); i++) {
    const loom_st_tensor *ta = loom_st_tensor_at(fa, i), *tb = loom_st_find(fb, ta->name);
    if (!tb) {
      fprintf(stderr, "st_compare: tensor '%s' of %s is missing from %s\n", ta->name, a, b);
      rc = 1;
    } else if (ta->dtype != tb->dtype || ta->ndim != tb->ndim ||
               memcmp(ta->shape, tb->shape, sizeof(int64_t) * (size_t)ta->ndim) != 0) {
      fprintf(stderr, "st_compare: tensor '%s' has another dtype or shape in %s\n", ta->name, b);
      rc = 1;
    } else {
      const unsigned char *pa = ta->data, *pb = tb->data;
      for (uint64_t k = 0; k < ta->end - ta->begin; k++)
        if (pa[k] != pb[k]) {
          uint64_t el = k / loom_st_dtype_size(ta->dtype);
          fprintf(stderr, "st_compare: tensor '%s' differs first at element %llu (byte %llu)\n", ta->name,
                  (unsigned long long)el, (unsigned long long)k);
          rc = 1;
          break;
        }
      bytes += ta->end - ta->begin;
    }
  }
  for (size_t i = 0; rc == 0 && i < sizeof state_keys / sizeof *state_keys; i++) {
    const char *va = loom_st_meta(fa, state_keys[i]), *vb = loom_st_meta(fb, state_keys[i]);
    if ((va == NULL) != (vb == NULL) || (va && strcmp(va, vb) != 0)) {
      fprintf(stderr, "st_compare: metadata '%s' differs: '%.60s' vs '%.60s'\n", state_keys[i], va ? va : "(none)",
              vb ? vb : "(none)");
      rc = 1;
    }
  }
  if (rc == 0)
    printf("same: %d tensors (%llu bytes) and the training state\n", loom_st_count(fa), (unsigned long long)bytes);
  loom_st_close(fa);
  loom_st_close(fb);
  return rc;
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
