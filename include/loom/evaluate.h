/* loom/evaluate.h — a model's metrics on one split of a dataset, computed exactly as training validates:
 * binary (auc, logloss, accuracy, precision, recall, f1), multiclass (accuracy, macro_f1 and the
 * confusion matrix), ranking (Recall / NDCG / MRR / HitRate / Precision@K over every item, the user's
 * training positives excluded, and the same over sampled negatives), retrieval (text→item and
 * item→text Recall / NDCG / MRR@K by cosine similarity), regression (rmse, mae, r2 in label units), multitask
 * (each head's, named column/metric). Used by the trainer (validation) and by
 * loom-infer eval (new data), so both report the same numbers for the same rows.
 *
 *   loom_evaluator *ev = loom_evaluator_new(m, ds, cfg, LOOM_SPLIT_VAL, &err);
 *   loom_evaluator_run(ev, &err);   // ev->loss, ev->val[i] named ev->names[i]
 */
#ifndef LOOM_EVALUATE_H
#define LOOM_EVALUATE_H

#include <stdint.h>

#include "loom/config.h"
#include "loom/data.h"
#include "loom/error.h"
#include "loom/metrics.h"
#include "loom/model.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LOOM_EVAL_MAX_METRICS 48
#define LOOM_EVAL_EXAMPLES 3 /* ranking: top-K lists kept for a report */

typedef struct loom_evaluator {
  loom_model *m;
  loom_dataset *ds;
  loom_split split;
  /* results of the last run */
  int n_metrics;
  char names[LOOM_EVAL_MAX_METRICS][24];
  double val[LOOM_EVAL_MAX_METRICS];
  double loss;      /* mean loss over the split's rows (ranking: over the rows that count) */
  int64_t n_rows;   /* rows evaluated */
  int64_t *confusion; /* multiclass: (K, K), confusion[true * K + predicted] */
  /* ranking: the first queries of distinct users — user, interactions row, the clicked item and its
   * rank in the full ranking, and the top ex_k items (candidate index = item id - 1); retrieval: the
   * first queries of distinct items, their text -> item lists */
  int ex_n, ex_k;
  int32_t ex_user[LOOM_EVAL_EXAMPLES], ex_row[LOOM_EVAL_EXAMPLES], ex_top[LOOM_EVAL_EXAMPLES][20];
  int32_t ex_rel[LOOM_EVAL_EXAMPLES];
  int64_t ex_rank[LOOM_EVAL_EXAMPLES];
  int64_t ex_q[LOOM_EVAL_EXAMPLES]; /* retrieval: the example's query among the split's queries */
  float ex_score[LOOM_EVAL_EXAMPLES][20];
  /* settings and buffers (internal) */
  float threshold;
  int distance; /* retrieval: 0 cosine, 1 dot, 2 euclidean, 3 manhattan (a triplet model's task.distance) */
  int n_k, ks[LOOM_MAX_KS], D, E;
  int64_t cap;                  /* rows of the split when the buffers were sized */
  float *scores, *probs, *labels;
  int32_t *preds, *truth;
  int32_t *groups;              /* binary with a user column: each row's user, for gauc */
  float *V, *S, *cand, *Q, *QS;
  int32_t *qitem, *rel, *negs, *pos_off, *pos_item;
  int64_t *ranks, *ranks_n;
} loom_evaluator;

/* Metrics of task m->task on split `sp` of ds, with the [task] settings of c (threshold, ks,
 * eval_negatives) and c's fusion.dim. Ranking excludes each user's positives of ds's training split
 * (none for a frozen dataset). NULL with err when the split is empty or memory runs out. */
loom_evaluator *loom_evaluator_new(loom_model *m, loom_dataset *ds, const loom_config *c, loom_split sp, loom_error *err);
void loom_evaluator_free(loom_evaluator *ev);
/* One pass over the split in file order, batches of the schema's batch_size, eval mode (the model is
 * compiled for it); fills loss, val[] and n_rows. Returns 0 or -1 with err. */
int loom_evaluator_run(loom_evaluator *ev, loom_error *err);
/* One ranking example, as a report shows it: the user's key, the query as written (NULL if none), the
 * top k items' titles and photo paths (NULL entries: none), their scores, which of them was clicked
 * (-1: none of them) and a note saying what was clicked and where it ranked. */
typedef struct loom_eval_example {
  const char *user, *query;
  int k;
  const char *const *titles, *const *images;
  const float *scores;
  int marked;
  const char *note;
} loom_eval_example;
/* Ranking: the last run's examples, one call of `emit` each — each user's key, the query from the
 * interactions file (schema sc, the dataset's), titles and photos from the items table; what the
 * tables no longer hold is shown by key. Stops at the first nonzero return of emit. Returns 0, or -1
 * (out of memory, or emit failed) with err. */
int loom_evaluator_examples(const loom_evaluator *ev, const loom_data_schema *sc,
                            int (*emit)(void *ctx, const loom_eval_example *ex), void *ctx, loom_error *err);
/* The metric a run monitors with task.monitor = auto, for the tasks whose evaluator chooses it (regression:
 * rmse; multitask: the first head's auc or rmse); NULL for the others (the trainer's own choice). */
const char *loom_evaluator_auto_monitor(const loom_evaluator *ev);
/* Index of a metric by name ("auc", "ndcg@10", ...), -1 if the task has none of that name. */
int loom_evaluator_find(const loom_evaluator *ev, const char *name);

#ifdef __cplusplus
}
#endif
#endif
