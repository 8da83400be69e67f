/* train_spec.c — the [train] key table (loom/train_spec.h): every key of the training loop with its type,
 * default, range or choices, doc line and the loom_train_spec member it is read into, once, by
 * loom_train_spec_read. Choices become enums there (the table's values arrays), so no caller compares
 * strings and no unknown name falls back to a default. */
#include "loom/train_spec.h"

#include <stddef.h>

/* One [train] key: name, type, default, choices, range, doc, the member's C type and name (and, for an
 * ENUM, the enum value of each choice). Designated, so the fields left out are zero. */
#define KEY(k, ty, df, ch, lo, hi, dc, fld, member)                                                          \
  {.section = "train", .key = k, .type = ty, .def = df, .choices = ch, .min = lo, .max = hi, .doc = dc,     \
   .field = LOOM_FIELD_##fld, .offset = offsetof(loom_train_spec, member)}
#define ENUM_KEY(k, df, ch, dc, member, values)                                                                 \
  {.section = "train", .key = k, .type = LOOM_CFG_CHOICE, .def = df, .choices = ch, .doc = dc,               \
   .field = LOOM_FIELD_ENUM, .offset = offsetof(loom_train_spec, member), .enum_values = values}

/* enum values in the order of each key's choices */
#define OPTIMIZERS ((const int[]){LOOM_OPTIM_ADAM, LOOM_OPTIM_ADAMW, LOOM_OPTIM_SGD})
#define SCHEDULES ((const int[]){LOOM_LR_CONSTANT, LOOM_LR_STEP, LOOM_LR_COSINE})
#define INITS ((const int[]){LOOM_INIT_KERAS_DEFAULT, LOOM_INIT_TORCH_DEFAULT})

_Static_assert(sizeof(loom_optim_kind) == sizeof(int) && sizeof(loom_lr_kind) == sizeof(int) &&
                   sizeof(loom_nonfinite_policy) == sizeof(int) && sizeof(loom_init_kind) == sizeof(int),
               "LOOM_FIELD_ENUM members are int-sized");

const loom_cfg_key loom_train_spec_keys[] = {
    KEY("out", LOOM_CFG_STRING, "runs/run", NULL, 0, 0, "run directory (created; must not hold a run unless --resume)", STR, out),
    KEY("epochs", LOOM_CFG_INT, "5", NULL, 1, 1000000, "passes over the training split", LONG, epochs),
    KEY("max_steps", LOOM_CFG_INT, "0", NULL, 0, 1e12, "stop after this many updates (0 = epochs decide); the LR schedule still spans train.epochs", LONG, max_steps),
    ENUM_KEY("optimizer", "adam", "adam|adamw|sgd", "update rule (PyTorch's)", optimizer, OPTIMIZERS),
    KEY("lr", LOOM_CFG_FLOAT, "0.001", NULL, 1e-12, 10, "base learning rate", DOUBLE, lr),
    KEY("weight_decay", LOOM_CFG_FLOAT, "0", NULL, 0, 10, "L2 (adam, sgd) or decoupled (adamw) decay", DOUBLE, weight_decay),
    KEY("momentum", LOOM_CFG_FLOAT, "0", NULL, 0, 1, "sgd momentum", DOUBLE, momentum),
    ENUM_KEY("schedule", "constant", "constant|step|cosine", "learning-rate schedule", schedule, SCHEDULES),
    KEY("warmup_steps", LOOM_CFG_INT, "0", NULL, 0, 1e12, "linear warm-up updates", LONG, warmup_steps),
    KEY("step_size", LOOM_CFG_INT, "1000", NULL, 1, 1e12, "step schedule: updates between decays", LONG, step_size),
    KEY("gamma", LOOM_CFG_FLOAT, "0.1", NULL, 0, 1, "step schedule: decay factor", DOUBLE, gamma),
    KEY("min_lr", LOOM_CFG_FLOAT, "0", NULL, 0, 10, "cosine schedule: final learning rate", DOUBLE, min_lr),
    KEY("clip_norm", LOOM_CFG_FLOAT, "0", NULL, 0, 1e9, "clip the global gradient norm to this (0 = off)", DOUBLE, clip_norm),
    ENUM_KEY("nonfinite", "stop", "stop|skip",
     "a NaN/Inf loss or gradient: stop (error naming step and tensor) or skip the batch (no update; it still "
     "counts as a step)", nonfinite, NULL),
    KEY("max_skips", LOOM_CFG_INT, "20", NULL, 1, 1000000000, "nonfinite = skip: stop after this many skipped batches in a row", LONG, max_skips),
    KEY("seed", LOOM_CFG_INT, "42", NULL, 0, 9.2e18, "seed of initialisation and dropout", LONG, seed),
    ENUM_KEY("init", "keras", "keras|torch", "whose default initialisers the layers copy", init, INITS),
    KEY("eval_every", LOOM_CFG_INT, "0", NULL, 0, 1e12, "validate every N updates (0 = once per epoch)", LONG, eval_every),
    KEY("log_every", LOOM_CFG_INT, "20", NULL, 1, 1e12, "plain progress line every N updates (not a terminal)", LONG, log_every),
    KEY("patience", LOOM_CFG_INT, "0", NULL, 0, 1000000, "stop after N validations without improvement (0 = off)", LONG, patience),
    KEY("test_at_end", LOOM_CFG_BOOL, "false", NULL, 0, 0,
        "when training ends: evaluate best.safetensors on the test split (log, result.json \"test\", report)", BOOL, test_at_end),
    KEY("prefetch", LOOM_CFG_BOOL, "true", NULL, 0, 0, "prepare the next batch on a background thread", BOOL, prefetch),
};
const int loom_train_spec_n_keys = (int)(sizeof loom_train_spec_keys / sizeof loom_train_spec_keys[0]);

void loom_train_spec_read(const loom_config *c, loom_train_spec *s) { loom_config_read_spec(c, "train", s); }
