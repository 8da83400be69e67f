/* metrics_regression.c — regression metrics (loom/metrics.h) with scikit-learn's definitions:
 * mean_squared_error ** 0.5, mean_absolute_error, r2_score; sums in double, in order. And which metric
 * names are better when lower (the trainer's best checkpoint and early stopping). */
#include <math.h>
#include <string.h>

#include "loom/metrics.h"

double loom_rmse(const float *pred, const float *y, size_t n) {
  if (n == 0) return NAN;
  double s = 0;
  for (size_t i = 0; i < n; i++) s += ((double)pred[i] - y[i]) * ((double)pred[i] - y[i]);
  return sqrt(s / (double)n);
}

double loom_mae(const float *pred, const float *y, size_t n) {
  if (n == 0) return NAN;
  double s = 0;
  for (size_t i = 0; i < n; i++) s += fabs((double)pred[i] - y[i]);
  return s / (double)n;
}

double loom_r2(const float *pred, const float *y, size_t n) {
  if (n == 0) return NAN;
  double mean = 0, res = 0, tot = 0;
  for (size_t i = 0; i < n; i++) mean += y[i];
  mean /= (double)n;
  for (size_t i = 0; i < n; i++) {
    res += ((double)y[i] - pred[i]) * ((double)y[i] - pred[i]);
    tot += ((double)y[i] - mean) * ((double)y[i] - mean);
  }
  return tot > 0 ? 1.0 - res / tot : NAN;
}

bool loom_metric_lower_is_better(const char *name) {
  const char *slash = strrchr(name, '/'), *base = slash ? slash + 1 : name; /* multitask: head/metric */
  return !strcmp(base, "loss") || !strcmp(base, "logloss") || !strcmp(base, "rmse") || !strcmp(base, "mae");
}
