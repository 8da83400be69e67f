/* loom/metrics.h — evaluation metrics, with scikit-learn's definitions for classification and
 * RecBole's for ranking. Plain functions over arrays: they know nothing of graphs or data files.
 *
 * Ranking convention: an item's rank among the candidates is 1 + the number of candidates scored
 * strictly higher + the number scored equal that come earlier in candidate order (a deterministic
 * tie-break); items listed in `exclude` (e.g. a user's training interactions) take no rank. */
#ifndef LOOM_METRICS_H
#define LOOM_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- binary classification: scores are probabilities (or logits for AUC), labels 0/1 ---- */

/* ROC AUC = P(score of a random positive > score of a random negative), ties counted 1/2
 * (sklearn.metrics.roc_auc_score). Returns NaN if only one class is present. */
double loom_auc(const float *scores, const float *labels, size_t n);
/* Group AUC: sum_g n_g AUC_g / sum_g n_g over the groups (users) g whose rows hold both classes, n_g the
 * group's rows (impressions), AUC_g as loom_auc over the group's rows. groups (n) any int32 ids. NaN
 * when no group has both classes. */
double loom_gauc(const float *scores, const float *labels, const int32_t *groups, size_t n);
/* Mean of -[y log p + (1-y) log(1-p)] with p clipped to [1e-7, 1 - 1e-7] (float32 epsilon scale). */
double loom_logloss(const float *probs, const float *labels, size_t n);

typedef struct loom_binary_counts {
  int64_t tp, fp, tn, fn;
} loom_binary_counts;

/* ROC (fpr, tpr) and precision-recall (recall, precision) curves of scores against 0/1 labels, the
 * threshold walked down from above every score, a point each time another 1/(n_points - 1) of the rows
 * has passed it (a tie group passes together) and at the end: up to n_points points into each array,
 * the first (0, 0) and (recall 0, precision 1), the last (1, 1). Returns the number of points; 0 when a
 * class is missing, n_points < 2 or memory runs out. */
int loom_binary_curves(const float *scores, const float *labels, size_t n, int n_points, double *fpr, double *tpr,
                       double *recall, double *precision);
/* Counts at threshold (prediction = prob >= threshold). */
loom_binary_counts loom_binary_count(const float *probs, const float *labels, size_t n, float threshold);
/* accuracy = (tp+tn)/n; precision = tp/(tp+fp); recall = tp/(tp+fn); F1 = 2PR/(P+R);
 * a zero denominator gives 0 (sklearn's zero_division=0). */
double loom_accuracy(loom_binary_counts c);
double loom_precision(loom_binary_counts c);
double loom_recall(loom_binary_counts c);
double loom_f1(loom_binary_counts c);

/* ---- multiclass: predictions and labels are class indices in [0, C) ---- */

/* confusion[true * C + predicted] += 1 for each sample (sklearn's row = true class). */
void loom_confusion_add(int64_t *confusion, int C, const int32_t *labels, const int32_t *preds, size_t n);
double loom_confusion_accuracy(const int64_t *confusion, int C);
/* Unweighted mean of per-class F1 over the classes that occur among the labels or the predictions
 * (sklearn f1_score(average='macro', zero_division=0) with its default label set). */
double loom_macro_f1(const int64_t *confusion, int C);

/* ---- regression: predictions and labels in label units ---- */

/* sqrt(mean (p - y)^2) (sklearn mean_squared_error(...) ** 0.5); NaN for n = 0. */
double loom_rmse(const float *pred, const float *y, size_t n);
/* mean |p - y| (sklearn mean_absolute_error); NaN for n = 0. */
double loom_mae(const float *pred, const float *y, size_t n);
/* 1 - sum (y - p)^2 / sum (y - mean y)^2 (sklearn r2_score); NaN when every label is the same (or n = 0). */
double loom_r2(const float *pred, const float *y, size_t n);
/* Whether metric `name` (or a multitask head's "head/name") is better lower: loss, logloss, rmse, mae. */
bool loom_metric_lower_is_better(const char *name);

/* ---- ranking ---- */

#define LOOM_MAX_KS 8

/* Accumulates ranking metrics over queries (users, or user + query text) for a list of cut-offs. */
typedef struct loom_rank_metrics {
  int n_k;
  int ks[LOOM_MAX_KS];
  int64_t n_queries;
  double recall[LOOM_MAX_KS];    /* |relevant in top K| / |relevant| */
  double ndcg[LOOM_MAX_KS];      /* DCG@K / IDCG@K, gains 1/log2(rank + 1) */
  double mrr[LOOM_MAX_KS];       /* 1 / rank of the first relevant item if within K, else 0 */
  double hit[LOOM_MAX_KS];       /* 1 if any relevant item is in the top K */
  double precision[LOOM_MAX_KS]; /* |relevant in top K| / K */
} loom_rank_metrics;

void loom_rank_metrics_init(loom_rank_metrics *m, int n_k, const int *ks);
/* Ranks of the relevant candidates (1-based), per the convention above. `relevant` and `exclude`
 * are candidate indices; a relevant index that is also excluded is ranked anyway. ranks_out gets
 * n_relevant entries. */
void loom_rank_positions(const float *scores, int n_candidates, const int32_t *relevant, int n_relevant,
                         const int32_t *exclude, int n_exclude, int64_t *ranks_out);
/* Adds one query given the 1-based ranks of its relevant items (any order). Queries with no
 * relevant item are skipped. */
void loom_rank_metrics_add_ranks(loom_rank_metrics *m, const int64_t *ranks, int n_relevant);
/* Convenience: loom_rank_positions + add_ranks. ranks_buf holds n_relevant entries. */
void loom_rank_metrics_add(loom_rank_metrics *m, const float *scores, int n_candidates, const int32_t *relevant,
                           int n_relevant, const int32_t *exclude, int n_exclude, int64_t *ranks_buf);
/* Means over queries (0 when there were none). */
double loom_rank_metric(const loom_rank_metrics *m, const char *name /* recall|ndcg|mrr|hit|precision */, int k);

#ifdef __cplusplus
}
#endif
#endif
