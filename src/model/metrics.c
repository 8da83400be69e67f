/* metrics.c — classification and ranking metrics (loom/metrics.h). */
#include "loom/metrics.h"

#include <assert.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "loom/alloc.h"

/* ---- binary ---- */

static const float *sort_scores; /* qsort has no context argument; metrics are not called concurrently */
static int by_score(const void *a, const void *b) {
  float x = sort_scores[*(const int64_t *)a], y = sort_scores[*(const int64_t *)b];
  if (x < y) return -1;
  if (x > y) return 1;
  int64_t i = *(const int64_t *)a, j = *(const int64_t *)b;
  return (i > j) - (i < j);
}

double loom_auc(const float *scores, const float *labels, size_t n) {
  int64_t *idx = loom_malloc(sizeof *idx * (n ? n : 1));
  if (!idx) return NAN;
  for (size_t i = 0; i < n; i++) idx[i] = (int64_t)i;
  sort_scores = scores;
  qsort(idx, n, sizeof *idx, by_score);
  /* Mann-Whitney U with average ranks over ties. */
  double rank_sum = 0, npos = 0;
  size_t i = 0;
  while (i < n) {
    size_t j = i;
    while (j + 1 < n && scores[idx[j + 1]] == scores[idx[i]]) j++;
    double avg_rank = 0.5 * (double)(i + 1 + j + 1);
    for (size_t k = i; k <= j; k++)
      if (labels[idx[k]] > 0.5f) rank_sum += avg_rank, npos++;
    i = j + 1;
  }
  loom_free(idx);
  double nneg = (double)n - npos;
  if (npos == 0 || nneg == 0) return NAN;
  return (rank_sum - npos * (npos + 1) / 2) / (npos * nneg);
}

typedef struct {
  int32_t g;
  float s, y;
} gauc_row;

static int by_group_score(const void *a, const void *b) {
  const gauc_row *x = a, *y = b;
  if (x->g != y->g) return x->g < y->g ? -1 : 1;
  return (x->s > y->s) - (x->s < y->s);
}

double loom_gauc(const float *scores, const float *labels, const int32_t *groups, size_t n) {
  gauc_row *r = loom_malloc(sizeof *r * (n ? n : 1));
  if (!r) return NAN;
  for (size_t i = 0; i < n; i++) r[i] = (gauc_row){groups[i], scores[i], labels[i] > 0.5f ? 1.0f : 0.0f};
  qsort(r, n, sizeof *r, by_group_score);
  double num = 0, den = 0;
  for (size_t a = 0, e; a < n; a = e) { /* one group [a, e): Mann-Whitney U with average ranks over ties */
    for (e = a; e < n && r[e].g == r[a].g; e++) {}
    double rank_sum = 0, npos = 0;
    for (size_t i = a, j; i < e; i = j + 1) {
      for (j = i; j + 1 < e && r[j + 1].s == r[i].s; j++) {}
      double avg_rank = 0.5 * (double)(i - a + 1 + j - a + 1);
      for (size_t k = i; k <= j; k++)
        if (r[k].y > 0.5f) rank_sum += avg_rank, npos++;
    }
    double nneg = (double)(e - a) - npos;
    if (npos == 0 || nneg == 0) continue;
    num += (double)(e - a) * (rank_sum - npos * (npos + 1) / 2) / (npos * nneg);
    den += (double)(e - a);
  }
  loom_free(r);
  return den > 0 ? num / den : NAN;
}

double loom_logloss(const float *probs, const float *labels, size_t n) {
  const double eps = 1e-7;
  double s = 0;
  for (size_t i = 0; i < n; i++) {
    double p = probs[i] < eps ? eps : probs[i] > 1 - eps ? 1 - eps : probs[i];
    s -= labels[i] > 0.5f ? log(p) : log(1 - p);
  }
  return n ? s / (double)n : NAN;
}

loom_binary_counts loom_binary_count(const float *probs, const float *labels, size_t n, float threshold) {
  loom_binary_counts c = {0, 0, 0, 0};
  for (size_t i = 0; i < n; i++) {
    bool pred = probs[i] >= threshold, truth = labels[i] > 0.5f;
    if (pred && truth) c.tp++;
    else if (pred) c.fp++;
    else if (truth) c.fn++;
    else c.tn++;
  }
  return c;
}

static double ratio(double a, double b) { return b > 0 ? a / b : 0.0; }
double loom_accuracy(loom_binary_counts c) { return ratio((double)(c.tp + c.tn), (double)(c.tp + c.tn + c.fp + c.fn)); }
double loom_precision(loom_binary_counts c) { return ratio((double)c.tp, (double)(c.tp + c.fp)); }
double loom_recall(loom_binary_counts c) { return ratio((double)c.tp, (double)(c.tp + c.fn)); }
double loom_f1(loom_binary_counts c) { return ratio(2.0 * (double)c.tp, (double)(2 * c.tp + c.fp + c.fn)); }

/* ---- multiclass ---- */

void loom_confusion_add(int64_t *confusion, int C, const int32_t *labels, const int32_t *preds, size_t n) {
  for (size_t i = 0; i < n; i++) {
    assert(labels[i] >= 0 && labels[i] < C && preds[i] >= 0 && preds[i] < C);
    confusion[(size_t)labels[i] * (size_t)C + (size_t)preds[i]]++;
  }
}

double loom_confusion_accuracy(const int64_t *confusion, int C) {
  int64_t right = 0, all = 0;
  for (int i = 0; i < C; i++)
    for (int j = 0; j < C; j++) {
      all += confusion[i * C + j];
      if (i == j) right += confusion[i * C + j];
    }
  return ratio((double)right, (double)all);
}

double loom_macro_f1(const int64_t *confusion, int C) {
  double sum = 0;
  int classes = 0;
  for (int k = 0; k < C; k++) {
    int64_t tp = confusion[k * C + k], row = 0, col = 0;
    for (int j = 0; j < C; j++) row += confusion[k * C + j], col += confusion[j * C + k];
    if (row == 0 && col == 0) continue; /* class absent from labels and predictions */
    sum += ratio(2.0 * (double)tp, (double)(row + col));
    classes++;
  }
  return classes ? sum / classes : 0.0;
}

/* ---- ranking ---- */

void loom_rank_metrics_init(loom_rank_metrics *m, int n_k, const int *ks) {
  assert(n_k >= 1 && n_k <= LOOM_MAX_KS);
  memset(m, 0, sizeof *m);
  m->n_k = n_k;
  for (int i = 0; i < n_k; i++) {
    assert(ks[i] >= 1);
    m->ks[i] = ks[i];
  }
}

/* Does candidate c rank ahead of candidate r? */
static bool ahead(const float *s, int32_t c, int32_t r) { return s[c] > s[r] || (s[c] == s[r] && c < r); }

void loom_rank_positions(const float *scores, int n_candidates, const int32_t *relevant, int n_relevant,
                         const int32_t *exclude, int n_exclude, int64_t *ranks_out) {
  for (int i = 0; i < n_relevant; i++) {
    const int32_t r = relevant[i];
    assert(r >= 0 && r < n_candidates);
    if (isnan(scores[r])) { /* an unscorable item ranks last */
      ranks_out[i] = n_candidates;
      continue;
    }
    int64_t above = 0;
    for (int32_t c = 0; c < n_candidates; c++) above += c != r && ahead(scores, c, r);
    for (int e = 0; e < n_exclude; e++) {
      const int32_t x = exclude[e];
      bool dup = false;
      for (int f = 0; f < e && !dup; f++) dup = exclude[f] == x;
      if (!dup && x != r && x >= 0 && x < n_candidates && ahead(scores, x, r)) above--;
    }
    ranks_out[i] = above + 1;
  }
}

void loom_rank_metrics_add_ranks(loom_rank_metrics *m, const int64_t *ranks, int n_relevant) {
  if (n_relevant <= 0) return;
  m->n_queries++;
  for (int k = 0; k < m->n_k; k++) {
    const int K = m->ks[k];
    int hits = 0;
    int64_t first = INT64_MAX;
    double dcg = 0, idcg = 0;
    for (int i = 0; i < n_relevant; i++) {
      if (ranks[i] <= K) {
        hits++;
        dcg += 1.0 / log2((double)ranks[i] + 1.0);
      }
      if (ranks[i] < first) first = ranks[i];
    }
    for (int i = 1; i <= (n_relevant < K ? n_relevant : K); i++) idcg += 1.0 / log2((double)i + 1.0);
    m->recall[k] += (double)hits / n_relevant;
    m->ndcg[k] += dcg / idcg;
    m->mrr[k] += first <= K ? 1.0 / (double)first : 0.0;
    m->hit[k] += hits > 0;
    m->precision[k] += (double)hits / K;
  }
}

void loom_rank_metrics_add(loom_rank_metrics *m, const float *scores, int n_candidates, const int32_t *relevant,
                           int n_relevant, const int32_t *exclude, int n_exclude, int64_t *ranks_buf) {
  loom_rank_positions(scores, n_candidates, relevant, n_relevant, exclude, n_exclude, ranks_buf);
  loom_rank_metrics_add_ranks(m, ranks_buf, n_relevant);
}

double loom_rank_metric(const loom_rank_metrics *m, const char *name, int k) {
  for (int i = 0; i < m->n_k; i++) {
    if (m->ks[i] != k) continue;
    if (m->n_queries == 0) return 0.0;
    const double q = (double)m->n_queries;
    if (!strcmp(name, "recall")) return m->recall[i] / q;
    if (!strcmp(name, "ndcg")) return m->ndcg[i] / q;
    if (!strcmp(name, "mrr")) return m->mrr[i] / q;
    if (!strcmp(name, "hit")) return m->hit[i] / q;
    if (!strcmp(name, "precision")) return m->precision[i] / q;
    assert(!"unknown ranking metric");
  }
  assert(!"cut-off not configured");
  return NAN;
}

/* ---- binary curves ---- */

int loom_binary_curves(const float *scores, const float *labels, size_t n, int n_points, double *fpr, double *tpr,
                       double *recall, double *precision) {
  if (n_points < 2 || n == 0) return 0;
  double npos = 0;
  for (size_t i = 0; i < n; i++) npos += labels[i] > 0.5f;
  const double nneg = (double)n - npos;
  if (npos == 0 || nneg == 0) return 0;
  int64_t *idx = loom_malloc(sizeof *idx * n);
  if (!idx) return 0;
  for (size_t i = 0; i < n; i++) idx[i] = (int64_t)i;
  sort_scores = scores;
  qsort(idx, n, sizeof *idx, by_score); /* ascending: thresholds are walked from the top down */
  fpr[0] = tpr[0] = recall[0] = 0, precision[0] = 1; /* threshold above every score */
  int k = 1;
  double tp = 0, fp = 0;
  size_t seen = 0;
  for (size_t i = n; i > 0;) {
    const float s = scores[idx[i - 1]];
    while (i > 0 && scores[idx[i - 1]] == s) { /* a tie group passes the threshold together */
      if (labels[idx[i - 1]] > 0.5f) tp++;
      else fp++;
      i--, seen++;
    }
    /* a point each time another 1/(n_points - 1) of the rows is in, and the last one */
    const bool due = (double)seen * (double)(n_points - 1) >= (double)k * (double)n || i == 0;
    if (!due || k >= n_points) continue;
    fpr[k] = fp / nneg, tpr[k] = tp / npos;
    recall[k] = tp / npos, precision[k] = tp / (tp + fp);
    k++;
  }
  loom_free(idx);
  return k;
}
