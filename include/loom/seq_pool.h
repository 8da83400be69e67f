/* loom/seq_pool.h — sequence pooling as a layer: a sequence of states (N, T, D), e.g. an LSTM's
 * (return_sequences) output, to one vector (N, D) per sequence, over its valid steps only. The layer
 * builds graph ops and owns no parameters; the caller computes the per-step inputs it needs (1 / length,
 * the -1e30 mask of padded steps) from the batch, so the graph holds no integer arithmetic. */
#ifndef LOOM_SEQ_POOL_H
#define LOOM_SEQ_POOL_H

#include "loom/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  LOOM_SEQ_POOL_LAST = 0, /* the state after the last valid step: the recurrent layer's own output with
                           * return_sequences = false, which the layer returns unchanged */
  LOOM_SEQ_POOL_MEAN,     /* mean over the valid steps (padded steps must be zero, as an LSTM's are) */
  LOOM_SEQ_POOL_MAX,      /* max over the valid steps (each feature on its own) */
} loom_seq_pool_mode;

typedef struct loom_seq_pool_opts {
  loom_seq_pool_mode mode;
  int steps;    /* T (the graph knows shapes only at compile) */
  int features; /* D */
} loom_seq_pool_opts;

/* The given mode over (N, steps, features) states. */
loom_seq_pool_opts loom_seq_pool_opts_default(loom_seq_pool_mode mode, int steps, int features);

/* "last", "mean", "max" -> *out and 0; -1 for another name (*out untouched). */
int loom_seq_pool_parse(const char *name, loom_seq_pool_mode *out);
/* The name loom_seq_pool_parse reads back; "?" outside the enum. */
const char *loom_seq_pool_name(loom_seq_pool_mode mode);

/* x (N, T, D) -> (N, D), the output node named `<prefix>`:
 *   MEAN: y = (sum_t x_t) * inv_len, inv_len (N, 1) = 1 / max(len, 1); NULL inv_len: every step is valid,
 *         y = mean_t x_t;
 *   MAX:  y = max_t (x_t + mask_t), mask (N, T) or any shape of N·T floats = 0 at valid steps and -1e30
 *         after (all 0 for an empty sequence); NULL mask: every step is valid;
 *   LAST: x is already (N, D) (the last state) and is returned as it is; inv_len and mask are unused. */
loom_tensor *loom_layer_seq_pool(loom_graph *g, const char *prefix, loom_tensor *x, loom_tensor *inv_len,
                                 loom_tensor *mask, const loom_seq_pool_opts *o);

#ifdef __cplusplus
}
#endif
#endif
