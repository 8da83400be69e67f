/* loom/train_spec.h — the [train] section of a run config as a typed struct: its key table (name, type,
 * default, range or choices, doc line and the member each key lands in) and the one read of it. The
 * trainer reads the struct, never the config's strings. The table lives beside the model's (both make
 * the run config that checkpoints store and inference reads back), so inference parses a checkpoint's
 * [train] section without linking the training loop. */
#ifndef LOOM_TRAIN_SPEC_H
#define LOOM_TRAIN_SPEC_H

#include <stdbool.h>

#include "loom/config.h"
#include "loom/init.h"
#include "loom/optim.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { LOOM_NONFINITE_STOP = 0, LOOM_NONFINITE_SKIP } loom_nonfinite_policy;

typedef struct loom_train_spec {
  const char *out;                 /* run directory (into the config's storage) */
  long epochs, max_steps;          /* passes over the training split; updates cap (0 = epochs decide) */
  loom_optim_kind optimizer;       /* adam | adamw | sgd */
  double lr, weight_decay, momentum;
  loom_lr_kind schedule;           /* constant | step | cosine */
  long warmup_steps, step_size;
  double gamma, min_lr, clip_norm;
  loom_nonfinite_policy nonfinite; /* stop | skip */
  long max_skips;
  long seed;                       /* initialisation and dropout */
  loom_init_kind init;             /* KERAS_DEFAULT | TORCH_DEFAULT: every layer's opts.init */
  long eval_every, log_every, patience;
  bool test_at_end;                /* best.safetensors evaluated on the test split at the end */
  bool prefetch;
} loom_train_spec;

/* The [train] keys, each with its loom_train_spec member. */
extern const loom_cfg_key loom_train_spec_keys[];
extern const int loom_train_spec_n_keys;

/* The [train] values of `c` (a config over loom_train_spec_keys) into *s. */
void loom_train_spec_read(const loom_config *c, loom_train_spec *s);

#ifdef __cplusplus
}
#endif
#endif
