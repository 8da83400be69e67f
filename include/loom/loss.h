/* loom/loss.h — loss ops (and the two row-wise similarity ops retrieval needs) as graph builders.
 *
 * Every loss is one op with a numerically stable forward (log-sum-exp, softplus form) and its exact
 * backward, following PyTorch's definitions so that models port across. Reductions: MEAN and SUM give a
 * (1) scalar to call loom_graph_backward on; NONE gives the per-sample (or per-element) losses.
 * Targets / labels receive no gradient unless stated. Sums over the batch are in a fixed order, so
 * losses are identical for any thread count. */
#ifndef LOOM_LOSS_H
#define LOOM_LOSS_H

#include "loom/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { LOOM_REDUCE_MEAN = 0, LOOM_REDUCE_SUM = 1, LOOM_REDUCE_NONE = 2 } loom_reduction;
typedef enum { LOOM_DIST_EUCLIDEAN = 0, LOOM_DIST_COSINE = 1, LOOM_DIST_DOT = 2, LOOM_DIST_MANHATTAN = 3 } loom_distance;

/* PyTorch's ignore_index default: a label equal to it contributes nothing (and is not counted). */
#define LOOM_CE_IGNORE_DEFAULT (-100)

/* l = -[pw·y·log σ(x) + (1−y)·log(1−σ(x))] = (1−y)x + (1+(pw−1)y)·softplus(−x), elementwise.
 * logits any shape, e.g. (B) or (B, 1); targets float, same shape (they get a gradient too, as in
 * PyTorch); pos_weight NULL or a constant (input/buffer) of 1 or last-dim-many values. NONE: logits'
 * shape; MEAN divides by every element. */
loom_tensor *loom_bce_logits(loom_graph *g, loom_tensor *logits, loom_tensor *targets, loom_tensor *pos_weight,
                             loom_reduction red);

/* Softmax cross-entropy over class indices: logits (B, C), labels int32 (B).
 * l_i = (1−ε)(lse_i − x_{i,y_i}) + (ε/C) Σ_c (lse_i − x_{i,c})  (PyTorch label_smoothing = ε).
 * Rows whose label == ignore_index give 0 and MEAN divides by the number of other rows (0 rows: the
 * loss is 0, where PyTorch gives NaN). A label outside [0, C) otherwise is a fatal error. NONE: (B). */
loom_tensor *loom_softmax_ce(loom_graph *g, loom_tensor *logits, loom_tensor *labels, float label_smoothing,
                             int ignore_index, loom_reduction red);

/* l = (a − b)², elementwise; MEAN over every element. Both a and b get gradients. NONE: a's shape. */
loom_tensor *loom_mse(loom_graph *g, loom_tensor *a, loom_tensor *b, loom_reduction red);

/* Huber: l = 0.5 r^2 if |r| < delta, else delta (|r| - 0.5 delta), r = a - b, elementwise (PyTorch
 * HuberLoss(delta)); MEAN over every element. Both a and b get gradients. NONE: a's shape. */
loom_tensor *loom_huber(loom_graph *g, loom_tensor *a, loom_tensor *b, float delta, loom_reduction red);

/* BPR: l_i = mean_j −log σ(s_pos_i − s_neg_ij) = mean_j softplus(s_neg_ij − s_pos_i).
 * s_pos (B) or (B, 1); s_neg (B) or (B, n_neg). MEAN over the batch after the mean over negatives. */
loom_tensor *loom_bpr(loom_graph *g, loom_tensor *s_pos, loom_tensor *s_neg, loom_reduction red);

/* Triplet margin: l_i = max(0, d(a_i, p_i) − d(a_i, n_i) + margin); a, p, n (B, D).
 * EUCLIDEAN: d = ||x − y + 1e-6||₂ (PyTorch TripletMarginLoss, p = 2, eps = 1e-6);
 * COSINE: d = 1 − cos(x, y) (TripletMarginWithDistanceLoss with 1 − cosine_similarity);
 * DOT: d = −x·y (TripletMarginWithDistanceLoss with −(x·y)); MANHATTAN: d = ||x − y + 1e-6||₁
 * (TripletMarginLoss, p = 1). NONE: (B). */
loom_tensor *loom_triplet_margin(loom_graph *g, loom_tensor *a, loom_tensor *p, loom_tensor *n, float margin,
                                 loom_distance dist, loom_reduction red);

/* InfoNCE with in-batch negatives: S = q̂ k̂ᵀ / τ (B, B), q̂ = q / max(||q||, 1e-12) row-wise when
 * `normalize` (else q̂ = q); l_i = CE(S_i,:, i). `symmetric` averages it with the k→q direction
 * CE(S_:,i, i), as in CLIP. q, k (B, D). NONE: (B). */
loom_tensor *loom_infonce(loom_graph *g, loom_tensor *q, loom_tensor *k, float temperature, bool normalize,
                          bool symmetric, loom_reduction red);

/* y = x / max(||x||₂, eps) over the last dim (F.normalize; eps = 1e-12 there). */
loom_tensor *loom_l2_normalize(loom_graph *g, loom_tensor *x, float eps);

/* y_i = a_i · b_i / max(||a_i|| ||b_i||, eps) over the last dim: (..., D) x (..., D) -> (...)
 * (eps = 1e-8 in F.cosine_similarity). */
loom_tensor *loom_cosine_sim(loom_graph *g, loom_tensor *a, loom_tensor *b, float eps);

#ifdef __cplusplus
}
#endif
#endif
