/* init.c — parameter initialisers (loom/init.h). Orthogonal uses modified Gram–Schmidt in double on
 * a Gaussian matrix with the sign fix of the QR diagonal, as torch.nn.init.orthogonal_ does. */
#include "loom/init.h"

#include <assert.h>
#include <math.h>
#include <string.h>

#include "loom/alloc.h"

void loom_fans(const loom_tensor *w, int *fan_in, int *fan_out) {
  if (w->ndim == 1) {
    *fan_in = *fan_out = w->shape[0];
    return;
  }
  int receptive = 1;
  for (int d = 2; d < w->ndim; d++) receptive *= w->shape[d];
  *fan_out = w->shape[0] * receptive;
  *fan_in = w->shape[1] * receptive;
}

/* rows x cols with orthonormal rows (rows <= cols) or columns (rows > cols). */
static void orthogonal(float *x, int rows, int cols, float gain, loom_rng *rng) {
  const bool tall = rows > cols;
  const int n = tall ? cols : rows, m = tall ? rows : cols; /* n orthonormal vectors of length m */
  double *q = loom_malloc(sizeof(double) * (size_t)n * (size_t)m);
  assert(q && "out of memory in orthogonal init");
  for (size_t i = 0; i < (size_t)n * m; i++) q[i] = loom_rng_normal(rng);
  for (int i = 0; i < n; i++) {
    double *qi = q + (size_t)i * m;
    for (int j = 0; j < i; j++) {
      const double *qj = q + (size_t)j * m;
      double dot = 0;
      for (int k = 0; k < m; k++) dot += qi[k] * qj[k];
      for (int k = 0; k < m; k++) qi[k] -= dot * qj[k];
    }
    double norm = 0;
    for (int k = 0; k < m; k++) norm += qi[k] * qi[k];
    norm = sqrt(norm);
    for (int k = 0; k < m; k++) qi[k] /= norm;
  }
  for (int i = 0; i < n; i++)
    for (int k = 0; k < m; k++) {
      float v = (float)(gain * q[(size_t)i * m + k]);
      if (tall) x[(size_t)k * cols + i] = v;
      else x[(size_t)i * cols + k] = v;
    }
  loom_free(q);
}

void loom_init_fill(float *x, int rows, int cols, int fan_in, int fan_out, loom_init init, loom_rng *rng) {
  const size_t n = (size_t)rows * (size_t)cols;
  float a;
  switch (init.kind) {
  case LOOM_INIT_ZEROS: memset(x, 0, n * sizeof(float)); return;
  case LOOM_INIT_ONES: a = 1.0f; goto constant;
  case LOOM_INIT_CONSTANT: a = init.arg; goto constant;
  case LOOM_INIT_UNIFORM: a = init.arg; goto uniform;
  case LOOM_INIT_NORMAL: a = init.arg; goto normal;
  case LOOM_INIT_KERAS_DEFAULT:
  case LOOM_INIT_GLOROT_UNIFORM: a = sqrtf(6.0f / (float)(fan_in + fan_out)); goto uniform;
  case LOOM_INIT_GLOROT_NORMAL: a = sqrtf(2.0f / (float)(fan_in + fan_out)); goto normal;
  case LOOM_INIT_HE_UNIFORM: a = sqrtf(6.0f / (float)fan_in); goto uniform;
  case LOOM_INIT_HE_NORMAL: a = sqrtf(2.0f / (float)fan_in); goto normal;
  case LOOM_INIT_TORCH_DEFAULT: a = 1.0f / sqrtf((float)fan_in); goto uniform;
  case LOOM_INIT_ORTHOGONAL: orthogonal(x, rows, cols, init.arg != 0.0f ? init.arg : 1.0f, rng); return;
  }
  assert(!"unknown initialiser");
constant:
  for (size_t i = 0; i < n; i++) x[i] = a;
  return;
uniform:
  for (size_t i = 0; i < n; i++) x[i] = a * (2.0f * loom_rng_uniform(rng) - 1.0f);
  return;
normal:
  for (size_t i = 0; i < n; i++) x[i] = a * loom_rng_normal(rng);
}

void loom_init_tensor(loom_tensor *w, loom_init init, loom_rng *rng) {
  int fan_in, fan_out;
  loom_fans(w, &fan_in, &fan_out);
  int rows = w->shape[0], cols = (int)(loom_tensor_numel(w) / (size_t)rows);
  loom_init_fill(w->data, rows, cols, fan_in, fan_out, init, rng);
}

static const char *names[] = {
    [LOOM_INIT_KERAS_DEFAULT] = "keras",
    [LOOM_INIT_ZEROS] = "zeros",
    [LOOM_INIT_ONES] = "ones",
    [LOOM_INIT_CONSTANT] = "constant",
    [LOOM_INIT_UNIFORM] = "uniform",
    [LOOM_INIT_NORMAL] = "normal",
    [LOOM_INIT_GLOROT_UNIFORM] = "glorot_uniform",
    [LOOM_INIT_GLOROT_NORMAL] = "glorot_normal",
    [LOOM_INIT_HE_UNIFORM] = "he_uniform",
    [LOOM_INIT_HE_NORMAL] = "he_normal",
    [LOOM_INIT_TORCH_DEFAULT] = "torch",
    [LOOM_INIT_ORTHOGONAL] = "orthogonal",
};

const char *loom_init_name(loom_init_kind kind) {
  return kind >= 0 && (size_t)kind < sizeof names / sizeof names[0] ? names[kind] : "?";
}

int loom_init_parse(const char *name, loom_init_kind *kind) {
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (strcmp(name, names[i]) == 0) {
      *kind = (loom_init_kind)i;
      return 0;
    }
  if (strcmp(name, "xavier_uniform") == 0) { *kind = LOOM_INIT_GLOROT_UNIFORM; return 0; }
  if (strcmp(name, "xavier_normal") == 0) { *kind = LOOM_INIT_GLOROT_NORMAL; return 0; }
  if (strcmp(name, "kaiming_uniform") == 0) { *kind = LOOM_INIT_HE_UNIFORM; return 0; }
  if (strcmp(name, "kaiming_normal") == 0) { *kind = LOOM_INIT_HE_NORMAL; return 0; }
  return -1;
}

bool loom_init_kind_takes_arg(loom_init_kind kind) {
  return kind == LOOM_INIT_CONSTANT || kind == LOOM_INIT_UNIFORM || kind == LOOM_INIT_NORMAL;
}
