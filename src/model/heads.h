/* heads.h — private to src/model: the regression and multitask heads (heads.c) and their metrics
 * (evaluate_heads.c), hooked into model.c's builder, binder and compile and into the evaluator. */
#ifndef LOOM_MODEL_HEADS_H
#define LOOM_MODEL_HEADS_H

#include "loom/config.h"
#include "loom/evaluate.h"
#include "loom/init.h"
#include "loom/model_spec.h"
#include "loom/rng.h"
#include "model_internal.h"

#define LOOM_HEAD_NAME_MAX 14 /* characters of a head's column: "name/accuracy" fits the evaluator's 24 */

/* One entry of task.heads = column:kind[:weight], ... (kind binary | regression, weight 1 by default). */
typedef struct loom_head_spec {
  char column[LOOM_DATA_NAME];
  bool binary;
  float weight;
} loom_head_spec;
/* task.heads into out[0..cap): how many, or -1 with err naming the entry at fault. */
int loom_heads_parse(const char *spec, loom_head_spec *out, int cap, loom_error *err);

/* The heads, m->logits and m->loss over the fused x (B, dim) for m->task = regression | multitask. */
int loom_heads_build(loom_model *m, const loom_model_spec *ms, const loom_dataset *ds, loom_tensor *x, int dim, loom_rng *rng,
                     loom_init_kind style, loom_error *err);
/* Host label buffers for B rows, bound to the heads' label inputs (on every compile). */
int loom_heads_grow(loom_model *m, int B, loom_error *err);
/* Batch b's labels into the heads' inputs (standardised for regression heads); -1 with err naming file,
 * line and column of a label a head cannot take. */
int loom_heads_bind(loom_model *m, const loom_batch *b, loom_error *err);
void loom_heads_free(loom_model *m);
/* Row i's label of head h in batch b, as the file holds it. */
float loom_head_label(const loom_head *h, const loom_batch *b, int i);

/* The evaluator's part: metric names and buffers, one pass, the automatic monitor. */
int loom_eval_heads_setup(loom_evaluator *ev, loom_error *err);
int loom_eval_heads_run(loom_evaluator *ev, loom_loader *ld, loom_error *err);

#endif
