/* kernels.c — scalar reference kernels (always present, the definition every SIMD kernel is tested
 * against) and the dispatch table. Written for clarity, in double where a reduction would otherwise
 * lose accuracy; the SIMD versions are the fast ones. */
#include "kernels.h"

#include <math.h>
#include <stdbool.h>

loom_kernels loom_k;

static void add_scalar(size_t n, const float *a, const float *b, float *y) {
  for (size_t i = 0; i < n; i++) y[i] = a[i] + b[i];
}
static void sub_scalar(size_t n, const float *a, const float *b, float *y) {
  for (size_t i = 0; i < n; i++) y[i] = a[i] - b[i];
}
static void mul_scalar(size_t n, const float *a, const float *b, float *y) {
  for (size_t i = 0; i < n; i++) y[i] = a[i] * b[i];
}
static void acc_scalar(size_t n, const float *x, float *y) {
  for (size_t i = 0; i < n; i++) y[i] += x[i];
}
static void axpy_scalar(size_t n, float alpha, const float *x, float *y) {
  for (size_t i = 0; i < n; i++) y[i] += alpha * x[i];
}
static void affine_scalar(size_t n, float alpha, float beta, const float *x, float *y) {
  for (size_t i = 0; i < n; i++) y[i] = alpha * x[i] + beta;
}
static void mul_acc_scalar(size_t n, const float *a, const float *b, float *y) {
  for (size_t i = 0; i < n; i++) y[i] += a[i] * b[i];
}

static void relu_scalar(size_t n, const float *x, float *y) {
  for (size_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}
static void relu_bwd_scalar(size_t n, const float *y, const float *dy, float *dx) {
  for (size_t i = 0; i < n; i++) dx[i] += y[i] > 0.0f ? dy[i] : 0.0f;
}
static void sigmoid_scalar(size_t n, const float *x, float *y) {
  for (size_t i = 0; i < n; i++) y[i] = 1.0f / (1.0f + expf(-x[i]));
}
static void sigmoid_bwd_scalar(size_t n, const float *y, const float *dy, float *dx) {
  for (size_t i = 0; i < n; i++) dx[i] += dy[i] * y[i] * (1.0f - y[i]);
}
static void tanh_scalar(size_t n, const float *x, float *y) {
  for (size_t i = 0; i < n; i++) y[i] = tanhf(x[i]);
}
static void tanh_bwd_scalar(size_t n, const float *y, const float *dy, float *dx) {
  for (size_t i = 0; i < n; i++) dx[i] += dy[i] * (1.0f - y[i] * y[i]);
}
/* GELU, exact: x Phi(x), Phi(x) = (1 + erf(x / sqrt 2)) / 2; d/dx = Phi(x) + x phi(x). */
static void gelu_scalar(size_t n, const float *x, float *y) {
  for (size_t i = 0; i < n; i++) y[i] = 0.5f * x[i] * (1.0f + erff(x[i] * (float)M_SQRT1_2));
}
static void gelu_bwd_scalar(size_t n, const float *x, const float *dy, float *dx) {
  const float inv_sqrt_2pi = 0.3989422804014327f;
  for (size_t i = 0; i < n; i++) {
    float cdf = 0.5f * (1.0f + erff(x[i] * (float)M_SQRT1_2));
    float pdf = inv_sqrt_2pi * expf(-0.5f * x[i] * x[i]);
    dx[i] += dy[i] * (cdf + x[i] * pdf);
  }
}
static void exp_scalar(size_t n, const float *x, float *y) {
  for (size_t i = 0; i < n; i++) y[i] = expf(x[i]);
}

static float sum_scalar(size_t n, const float *x) {
  double s = 0.0;
  for (size_t i = 0; i < n; i++) s += x[i];
  return (float)s;
}
static float dot_scalar(size_t n, const float *a, const float *b) {
  double s = 0.0;
  for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
  return (float)s;
}
static float max_scalar(size_t n, const float *x) {
  float m = -INFINITY;
  for (size_t i = 0; i < n; i++) m = x[i] > m ? x[i] : m;
  return m;
}

static void softmax_scalar(size_t n, const float *x, float *y) {
  float m = max_scalar(n, x);
  double s = 0.0;
  for (size_t i = 0; i < n; i++) s += (y[i] = expf(x[i] - m));
  float inv = (float)(1.0 / s);
  for (size_t i = 0; i < n; i++) y[i] *= inv;
}
static void log_softmax_scalar(size_t n, const float *x, float *y) {
  float m = max_scalar(n, x);
  double s = 0.0;
  for (size_t i = 0; i < n; i++) s += expf(x[i] - m);
  float lse = m + (float)log(s);
  for (size_t i = 0; i < n; i++) y[i] = x[i] - lse;
}
/* softmax: dx_i += y_i (dy_i - sum_j dy_j y_j) */
static void softmax_bwd_scalar(size_t n, const float *y, const float *dy, float *dx) {
  float s = dot_scalar(n, dy, y);
  for (size_t i = 0; i < n; i++) dx[i] += y[i] * (dy[i] - s);
}
/* log-softmax: dx_i += dy_i - exp(y_i) sum_j dy_j */
static void log_softmax_bwd_scalar(size_t n, const float *y, const float *dy, float *dx) {
  float s = sum_scalar(n, dy);
  for (size_t i = 0; i < n; i++) dx[i] += dy[i] - expf(y[i]) * s;
}

/* PyTorch's Adam/AdamW arithmetic: p -= lr wd p; p -= (lr / bc1) m / (sqrt(v) / sqrt(bc2) + eps). */
static void adam_scalar(size_t n, float *p, const float *g, float *m, float *v, float lr, float b1, float b2,
                        float eps, float bc1, float bc2, float wd) {
  const float step = lr / bc1, sqrt_bc2 = sqrtf(bc2), decay = 1.0f - lr * wd;
  for (size_t i = 0; i < n; i++) {
    m[i] = b1 * m[i] + (1.0f - b1) * g[i];
    v[i] = b2 * v[i] + (1.0f - b2) * g[i] * g[i];
    float denom = sqrtf(v[i]) / sqrt_bc2 + eps;
    p[i] = p[i] * decay - step * (m[i] / denom);
  }
}

static void sgd_scalar(size_t n, float *p, const float *g, float *b, float lr, float mu, float damp, float wd,
                       int nesterov, int first) {
  for (size_t i = 0; i < n; i++) {
    float d = g[i] + wd * p[i];
    if (mu != 0.0f) {
      float bi = first ? d : mu * b[i] + (1.0f - damp) * d;
      b[i] = bi;
      d = nesterov ? d + mu * bi : bi;
    }
    p[i] = p[i] - lr * d;
  }
}

static inline float sigmoidf_(float x) { return 1.0f / (1.0f + expf(-x)); }
static void lstm_cell_scalar(size_t H, float *z, const float *b, const float *c_prev, float *c, float *h) {
  for (size_t j = 0; j < H; j++) {
    float i = sigmoidf_(z[j] + b[j]), f = sigmoidf_(z[H + j] + b[H + j]);
    float g = tanhf(z[2 * H + j] + b[2 * H + j]), o = sigmoidf_(z[3 * H + j] + b[3 * H + j]);
    float cj = f * c_prev[j] + i * g;
    c[j] = cj;
    h[j] = o * tanhf(cj);
    z[j] = i, z[H + j] = f, z[2 * H + j] = g, z[3 * H + j] = o;
  }
}
static void lstm_cell_bwd_scalar(size_t H, float *z, const float *c_prev, const float *c, const float *dh, float *dc) {
  for (size_t j = 0; j < H; j++) {
    float i = z[j], f = z[H + j], g = z[2 * H + j], o = z[3 * H + j], tc = tanhf(c[j]);
    float dcj = dc[j] + dh[j] * o * (1.0f - tc * tc);
    z[j] = dcj * g * i * (1.0f - i);
    z[H + j] = dcj * c_prev[j] * f * (1.0f - f);
    z[2 * H + j] = dcj * i * (1.0f - g * g);
    z[3 * H + j] = dh[j] * tc * o * (1.0f - o);
    dc[j] = dcj * f;
  }
}

static void gru_cell_scalar(size_t H, float *gx, float *gh, const float *bi, const float *bh, const float *hp, float *h) {
  for (size_t j = 0; j < H; j++) {
    float r = sigmoidf_(gx[j] + bi[j] + gh[j] + bh[j]), z = sigmoidf_(gx[H + j] + bi[H + j] + gh[H + j] + bh[H + j]);
    float hn = gh[2 * H + j] + bh[2 * H + j], n = tanhf(gx[2 * H + j] + bi[2 * H + j] + r * hn);
    h[j] = (1.0f - z) * n + z * hp[j];
    gx[j] = r, gx[H + j] = z, gx[2 * H + j] = n, gh[2 * H + j] = hn;
  }
}
static void gru_cell_bwd_scalar(size_t H, float *gx, float *gh, const float *hp, float *dh) {
  for (size_t j = 0; j < H; j++) {
    float r = gx[j], z = gx[H + j], n = gx[2 * H + j], hn = gh[2 * H + j], d = dh[j];
    float dn = d * (1.0f - z) * (1.0f - n * n), dz = d * (hp[j] - n) * z * (1.0f - z), dr = dn * hn * r * (1.0f - r);
    gx[j] = gh[j] = dr;
    gx[H + j] = gh[H + j] = dz;
    gx[2 * H + j] = dn;
    gh[2 * H + j] = dn * r;
    dh[j] = d * z;
  }
}

void loom_kernels_fill_scalar(loom_kernels *k) {
  *k = (loom_kernels){
      .isa = "scalar",
      .add = add_scalar, .sub = sub_scalar, .mul = mul_scalar,
      .acc = acc_scalar, .axpy = axpy_scalar, .affine = affine_scalar, .mul_acc = mul_acc_scalar,
      .relu = relu_scalar, .relu_bwd = relu_bwd_scalar,
      .sigmoid = sigmoid_scalar, .sigmoid_bwd = sigmoid_bwd_scalar,
      .tanh = tanh_scalar, .tanh_bwd = tanh_bwd_scalar,
      .gelu = gelu_scalar, .gelu_bwd = gelu_bwd_scalar,
      .exp = exp_scalar,
      .sum = sum_scalar, .dot = dot_scalar, .max = max_scalar,
      .softmax = softmax_scalar, .log_softmax = log_softmax_scalar,
      .softmax_bwd = softmax_bwd_scalar, .log_softmax_bwd = log_softmax_bwd_scalar,
      .lstm_cell = lstm_cell_scalar, .lstm_cell_bwd = lstm_cell_bwd_scalar,
      .gru_cell = gru_cell_scalar, .gru_cell_bwd = gru_cell_bwd_scalar,
      .adam = adam_scalar, .sgd = sgd_scalar,
  };
}

#if !defined(__x86_64__)
void loom_kernels_fill_avx2(loom_kernels *k) { (void)k; }
void loom_kernels_fill_avx512(loom_kernels *k) { (void)k; }
#endif

static loom_kernels sets[LOOM_ISA_COUNT];
static bool sets_ready;

const loom_kernels *loom_kernels_get(loom_isa isa) {
  if (isa < 0 || isa >= LOOM_ISA_COUNT || !loom_isa_supported(isa)) return NULL;
  if (!sets_ready) {
    for (int i = 0; i < LOOM_ISA_COUNT; i++) loom_kernels_fill_scalar(&sets[i]);
    /* fill only what the CPU runs: the fill functions are compiled for their ISA, and the compiler
     * may store the table with AVX-512 instructions (SIGILL on an AVX2-only CPU; seen under valgrind) */
    if (loom_isa_supported(LOOM_ISA_AVX2)) loom_kernels_fill_avx2(&sets[LOOM_ISA_AVX2]);
    if (loom_isa_supported(LOOM_ISA_AVX512)) loom_kernels_fill_avx512(&sets[LOOM_ISA_AVX512]);
    sets_ready = true;
  }
  return &sets[isa];
}
