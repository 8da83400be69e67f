/* loom/optim.h — optimisers over the graph's flat parameter buffer, global-norm gradient clipping and
 * learning-rate schedules.
 *
 *   loom_optim_config cfg = loom_optim_defaults(LOOM_OPTIM_ADAMW);
 *   cfg.weight_decay = 0.01f;
 *   loom_optim *opt = loom_optim_new(g, &cfg, &err);           // moments allocated once, 64-byte aligned
 *   loom_lr_schedule sched = {.kind = LOOM_LR_COSINE, .base_lr = 1e-3f, .total_steps = 10000,
 *                             .warmup_steps = 500, .warmup_start_factor = 0.01f};
 *   for (long step = 0; ...; step++) {                          // forward + backward first, then:
 *     loom_clip_grad_norm(g, 1.0f);
 *     loom_optim_step(opt, loom_lr_at(&sched, step));
 *   }
 *
 * Every update follows PyTorch 1.13's arithmetic (torch.optim.Adam / AdamW / SGD, clip_grad_norm_,
 * lr_scheduler), one pass over the flat buffer in fixed blocks, so results are identical for any thread
 * count. Checkpoint files are left to the checkpoint module: it stores loom_optim_state buffers. */
#ifndef LOOM_OPTIM_H
#define LOOM_OPTIM_H

#include <stdbool.h>
#include <stddef.h>

#include "loom/error.h"
#include "loom/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { LOOM_OPTIM_SGD = 0, LOOM_OPTIM_ADAM = 1, LOOM_OPTIM_ADAMW = 2 } loom_optim_kind;

typedef struct loom_optim_config {
  loom_optim_kind kind;
  /* Adam / AdamW: m = b1 m + (1−b1) g;  v = b2 v + (1−b2) g²;  p −= lr · (m / bc1) / (sqrt(v / bc2) + eps),
   * bc = 1 − beta^t. PyTorch adds eps AFTER the bias correction of v (as above); Keras adds it to the
   * uncorrected sqrt(v), i.e. p −= lr sqrt(bc2)/bc1 · m / (sqrt(v) + eps). keras_eps = true selects the
   * Keras placement (exactly: eps / sqrt(bc2) in the PyTorch formula; Keras' default eps is 1e-7). */
  float beta1, beta2, eps;
  bool keras_eps;
  /* SGD and ADAM: L2 penalty added to the gradient (g += wd p), as torch's weight_decay;
   * ADAMW: decoupled decay applied first, p *= 1 − lr wd (torch.optim.AdamW). */
  float weight_decay;
  /* SGD: b = mu b + (1 − dampening) g (b = g on the first step); Nesterov: p −= lr (g + mu b). */
  float momentum, dampening;
  bool nesterov;
  /* No weight decay on 1-D parameter tensors (biases, norm scales and shifts). Off by default (PyTorch
   * decays every parameter unless told otherwise with parameter groups). */
  bool no_decay_1d;
} loom_optim_config;

/* PyTorch's defaults for `kind`: Adam/AdamW betas (0.9, 0.999), eps 1e-8, AdamW weight decay 0.01;
 * SGD momentum 0. */
loom_optim_config loom_optim_defaults(loom_optim_kind kind);

typedef struct loom_optim loom_optim;

/* An optimiser for every parameter of `g` (the graph must be fully built: adding parameters later is a
 * programming error). Returns NULL and fills err for a bad configuration or when out of memory. */
loom_optim *loom_optim_new(loom_graph *g, const loom_optim_config *cfg, loom_error *err);
void loom_optim_free(loom_optim *o);
/* Parameter t's learning rate becomes mult x lr from now on (PyTorch: its own parameter group with
 * lr = mult x the base lr; AdamW's decoupled decay uses it too). Called after loom_optim_new, before
 * training; -1 with err for a negative or non-finite mult. */
int loom_optim_set_lr_mult(loom_optim *o, const loom_tensor *t, float mult, loom_error *err);
/* One update of every parameter from the gradients in loom_graph_grads, at learning rate lr. */
void loom_optim_step(loom_optim *o, float lr);

/* ---- state, for checkpoints: restoring step count and buffers continues bit-identically ---- */
/* Updates taken so far (t in the bias corrections; SGD: 0 means the momentum buffer is unset). */
long loom_optim_steps(const loom_optim *o);
void loom_optim_set_steps(loom_optim *o, long steps);
/* Number of flat state buffers (Adam: "exp_avg", "exp_avg_sq"; SGD with momentum: "momentum_buffer"),
 * and buffer i: its name and length (= loom_graph_n_params), writable for restoring. */
int loom_optim_n_state(const loom_optim *o);
float *loom_optim_state(loom_optim *o, int i, const char **name, size_t *n);

/* torch.nn.utils.clip_grad_norm_: total = ||all gradients||₂; if total > max_norm, every gradient is
 * scaled by max_norm / (total + 1e-6). Summed in fixed blocks (same result for any thread count).
 * Returns total; a non-finite total leaves the gradients untouched (skip that step). */
float loom_clip_grad_norm(loom_graph *g, float max_norm);
/* total = ||all gradients||₂ without clipping: the same one pass as loom_clip_grad_norm, for checking
 * a step when clipping is off. Non-finite when a gradient holds NaN or Inf, or when the sum of squares
 * overflows float (every element finite but some beyond ~1e19). */
float loom_grad_norm(loom_graph *g);

/* Where a non-finite gradient norm comes from: the first parameter tensor (graph order) whose gradient
 * holds a NaN or Inf, with that element; or, when every element is finite (the sum of squares
 * overflowed), the element of largest magnitude, with overflow = true. tensor = -1 when the graph has
 * no parameters. A per-tensor scan: run it only after a non-finite norm, to name the culprit. */
typedef struct loom_grad_fault {
  int tensor;    /* index for loom_graph_param_tensor, or -1 */
  size_t elem;   /* element within that tensor (row-major) */
  float value;   /* its gradient */
  bool overflow; /* all finite: the norm overflowed */
} loom_grad_fault;
loom_grad_fault loom_grad_find_fault(loom_graph *g);

/* ---- learning-rate schedules ---- */
typedef enum { LOOM_LR_CONSTANT = 0, LOOM_LR_STEP = 1, LOOM_LR_COSINE = 2 } loom_lr_kind;

typedef struct loom_lr_schedule {
  loom_lr_kind kind;
  float base_lr;
  long step_size; /* STEP: lr = base · gamma^floor(t / step_size) */
  float gamma;
  long total_steps; /* COSINE: lr = min + (base − min)(1 + cos(π t / T)) / 2, T = total_steps − warmup_steps; */
  float min_lr;     /*         min_lr from t = T on */
  /* Linear warm-up over the first warmup_steps steps from warmup_start_factor · base to base, then the
   * schedule above with t counted from the end of the warm-up: torch's SequentialLR([LinearLR(start, 1,
   * warmup_steps), main], milestones=[warmup_steps]). 0: no warm-up. */
  long warmup_steps;
  float warmup_start_factor;
} loom_lr_schedule;

/* The learning rate of update number `step` (0 = the first), a pure function of the schedule. */
float loom_lr_at(const loom_lr_schedule *s, long step);

#ifdef __cplusplus
}
#endif
#endif
