/* kernels.h — the table of elementwise, reduction, activation and optimizer-update kernels.
 *
 * Filled first with the scalar reference kernels (kernels.c), then overridden by the AVX2 or AVX-512
 * versions (kernels_avx2.c, kernels_avx512.c, one template: kernels_simd.h) that the CPU supports,
 * once at start-up. Kernels work on one contiguous range; ops split work across threads and call them
 * per chunk. Backward kernels ADD into their output gradient. */
#ifndef LOOM_KERNELS_H
#define LOOM_KERNELS_H

#include <stddef.h>

#include "loom/cpu.h"
#include "loom/parallel.h"

typedef struct loom_kernels {
  const char *isa;
  /* y = a op b */
  void (*add)(size_t n, const float *a, const float *b, float *y);
  void (*sub)(size_t n, const float *a, const float *b, float *y);
  void (*mul)(size_t n, const float *a, const float *b, float *y);
  /* y += x;  y += alpha x;  y = alpha x + beta;  y += a * b */
  void (*acc)(size_t n, const float *x, float *y);
  void (*axpy)(size_t n, float alpha, const float *x, float *y);
  void (*affine)(size_t n, float alpha, float beta, const float *x, float *y);
  void (*mul_acc)(size_t n, const float *a, const float *b, float *y);
  /* activations: forward y = f(x); backward dx += dy * f'(.) from the saved y (or x for gelu) */
  void (*relu)(size_t n, const float *x, float *y);
  void (*relu_bwd)(size_t n, const float *y, const float *dy, float *dx);
  void (*sigmoid)(size_t n, const float *x, float *y);
  void (*sigmoid_bwd)(size_t n, const float *y, const float *dy, float *dx);
  void (*tanh)(size_t n, const float *x, float *y);
  void (*tanh_bwd)(size_t n, const float *y, const float *dy, float *dx);
  void (*gelu)(size_t n, const float *x, float *y);
  void (*gelu_bwd)(size_t n, const float *x, const float *dy, float *dx);
  /* y = exp(x) */
  void (*exp)(size_t n, const float *x, float *y);
  /* reductions (fixed order within a call) */
  float (*sum)(size_t n, const float *x);
  float (*dot)(size_t n, const float *a, const float *b);
  float (*max)(size_t n, const float *x);
  /* one row of softmax / log-softmax, and their backward (dx += ...) */
  void (*softmax)(size_t n, const float *x, float *y);
  void (*log_softmax)(size_t n, const float *x, float *y);
  void (*softmax_bwd)(size_t n, const float *y, const float *dy, float *dx);
  void (*log_softmax_bwd)(size_t n, const float *y, const float *dy, float *dx);
  /* One LSTM step of one row, gate order (i, f, g, o) as in PyTorch. z (4H) holds the pre-activations
   * without bias on entry and the activated gates on exit:  i, f, o = sigma(z + b), g = tanh(z + b);
   * c = f c_prev + i g;  h = o tanh(c). */
  void (*lstm_cell)(size_t H, float *z, const float *bias, const float *c_prev, float *c, float *h);
  /* Its backward: z holds the activated gates on entry and d loss / d pre-activations on exit; dh is
   * the whole gradient reaching h; dc holds the gradient from the next step on entry and d c_prev on
   * exit (tanh(c) is recomputed from c). */
  void (*lstm_cell_bwd)(size_t H, float *z, const float *c_prev, const float *c, const float *dh, float *dc);
  /* One GRU step of one row, gate order (r, z, n) as in PyTorch. gx (3H) = x W_ihᵀ and gh (3H) = h_prev W_hhᵀ,
   * both without bias, on entry:  r, z = σ(gx + b_ih + gh + b_hh);  hn = gh_n + b_hn;
   * n = tanh(gx_n + b_in + r hn);  h = (1 - z) n + z h_prev. On exit gx holds r, z, n and gh's n part hn. */
  void (*gru_cell)(size_t H, float *gx, float *gh, const float *b_ih, const float *b_hh, const float *h_prev, float *h);
  /* Its backward: gx, gh as gru_cell left them; dh the whole gradient reaching h. On exit gx holds
   * d loss / d (input pre-activations) (dr, dz, dn), gh d loss / d (h_prev W_hhᵀ + b_hh) (dr, dz, dn r),
   * and dh the direct part of d h_prev, z dh. */
  void (*gru_cell_bwd)(size_t H, float *gx, float *gh, const float *h_prev, float *dh);
  /* Adam / AdamW over a range of the flat parameter buffer:
   *   m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g²;  p -= lr (m / bc1) / (sqrt(v / bc2) + eps) + lr wd p
   * (wd = 0 for Adam; L2-style Adam adds wd·p into g before calling). bc = 1 - beta^t. */
  void (*adam)(size_t n, float *p, const float *g, float *m, float *v, float lr, float b1, float b2,
               float eps, float bc1, float bc2, float wd);
  /* SGD with momentum, PyTorch's arithmetic, fused into one pass over a range:
   *   g' = g + wd p;  b = first ? g' : mu b + (1 - damp) g';  d = nesterov ? g' + mu b : b;  p -= lr d
   * (mu = 0: d = g' and b is not touched; may be NULL). */
  void (*sgd)(size_t n, float *p, const float *g, float *b, float lr, float mu, float damp, float wd, int nesterov,
              int first);
} loom_kernels;

/* The kernel set in use (set by loom_runtime_init / loom_runtime_set_isa). */
extern loom_kernels loom_k;
/* A specific set, for tests comparing ISAs: returns NULL if this build or CPU lacks it. */
const loom_kernels *loom_kernels_get(loom_isa isa);

/* Each ISA file fills the entries it implements over a copy of the scalar set. */
void loom_kernels_fill_scalar(loom_kernels *k);
void loom_kernels_fill_avx2(loom_kernels *k);
void loom_kernels_fill_avx512(loom_kernels *k);


#endif
