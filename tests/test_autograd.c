/* test_autograd.c — the graph engine and the op table: a central-difference gradient check of every
 * op (a missing case fails), forward values against naive loops, shape errors, re-compiling for other
 * batch sizes, views, determinism across thread counts and "no heap allocation inside a step". */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph_internal.h"
#include "loom/loss.h"
#include "loom/ops_conv.h"
#include "loom/ops_conv1d.h"
#include "loom/ops_attention.h"
#include "loom/ops_gru.h"
#include "loom/ops_lstm.h"
#include "testutil.h"

/* ---------------------------------------------------------------- gradcheck cases over the op table */

typedef struct {
  loom_op op;
  const char *what;
  loom_tensor *(*build)(loom_graph *g, loom_rng *r);
  int batch;
} gc_case;

static loom_tensor *prm(loom_graph *g, const char *name, int ndim, const int *shape, loom_rng *r) {
  loom_tensor *t = loom_param(g, name, ndim, shape);
  tu_fill_uniform(t->data, loom_tensor_numel(t), -1.0f, 1.0f, r);
  return t;
}
#define P(name, ...) prm(g, name, (int)(sizeof((int[]){__VA_ARGS__}) / sizeof(int)), (int[]){__VA_ARGS__}, r)

static loom_tensor *c_add_same(loom_graph *g, loom_rng *r) { return loom_add(g, P("a", 3, 17), P("b", 3, 17)); }
static loom_tensor *c_add_suffix(loom_graph *g, loom_rng *r) { return loom_add(g, P("a", 2, 3, 19), P("b", 19)); }
static loom_tensor *c_add_scalar(loom_graph *g, loom_rng *r) { return loom_add(g, P("a", 5, 7), P("b", 1)); }
static loom_tensor *c_add_general(loom_graph *g, loom_rng *r) { return loom_add(g, P("a", 4, 5), P("b", 4, 1)); }
static loom_tensor *c_sub_same(loom_graph *g, loom_rng *r) { return loom_sub(g, P("a", 33), P("b", 33)); }
static loom_tensor *c_sub_suffix(loom_graph *g, loom_rng *r) { return loom_sub(g, P("a", 4, 9), P("b", 1, 9)); }
static loom_tensor *c_sub_general(loom_graph *g, loom_rng *r) { return loom_sub(g, P("a", 2, 3, 5), P("b", 3, 1)); }
static loom_tensor *c_mul_same(loom_graph *g, loom_rng *r) { return loom_mul(g, P("a", 2, 21), P("b", 2, 21)); }
static loom_tensor *c_mul_suffix(loom_graph *g, loom_rng *r) { return loom_mul(g, P("a", 6, 5), P("b", 5)); }
static loom_tensor *c_mul_scalar(loom_graph *g, loom_rng *r) { return loom_mul(g, P("a", 3, 11), P("b", 1)); }
static loom_tensor *c_mul_general(loom_graph *g, loom_rng *r) { return loom_mul(g, P("a", 3, 4), P("b", 3, 1)); }
static loom_tensor *c_scale(loom_graph *g, loom_rng *r) { return loom_scale(g, P("x", 4, 13), -1.7f, 0.3f); }
static loom_tensor *c_matmul_nn(loom_graph *g, loom_rng *r) { return loom_matmul(g, P("a", 5, 7), P("b", 7, 3), false, false); }
static loom_tensor *c_matmul_nt(loom_graph *g, loom_rng *r) { return loom_matmul(g, P("a", 5, 7), P("b", 3, 7), false, true); }
static loom_tensor *c_matmul_tn(loom_graph *g, loom_rng *r) { return loom_matmul(g, P("a", 7, 5), P("b", 7, 3), true, false); }
static loom_tensor *c_matmul_tt(loom_graph *g, loom_rng *r) { return loom_matmul(g, P("a", 7, 5), P("b", 3, 7), true, true); }
static loom_tensor *c_matmul_rows(loom_graph *g, loom_rng *r) { return loom_matmul(g, P("a", 2, 3, 6), P("w", 4, 6), false, true); }
static loom_tensor *c_matmul_batched(loom_graph *g, loom_rng *r) { return loom_matmul(g, P("a", 3, 4, 5), P("b", 3, 6, 5), false, true); }
static loom_tensor *c_matmul_batched_ta(loom_graph *g, loom_rng *r) { return loom_matmul(g, P("a", 2, 5, 4), P("b", 5, 3), true, false); }

static loom_tensor *c_relu(loom_graph *g, loom_rng *r) {
  loom_tensor *x = loom_param(g, "x", 2, (int[]){5, 19});
  tu_fill_away_from(x->data, loom_tensor_numel(x), -1.0f, 1.0f, 0.0f, 0.05f, r);
  return loom_relu(g, x);
}
static loom_tensor *c_sigmoid(loom_graph *g, loom_rng *r) { return loom_sigmoid(g, loom_scale(g, P("x", 3, 23), 3.0f, 0.0f)); }
static loom_tensor *c_tanh(loom_graph *g, loom_rng *r) { return loom_tanh(g, loom_scale(g, P("x", 3, 23), 2.0f, 0.0f)); }
static loom_tensor *c_gelu(loom_graph *g, loom_rng *r) { return loom_gelu(g, loom_scale(g, P("x", 3, 23), 3.0f, 0.0f)); }
static loom_tensor *c_softmax(loom_graph *g, loom_rng *r) { return loom_softmax(g, P("x", 4, 19)); }
static loom_tensor *c_log_softmax(loom_graph *g, loom_rng *r) { return loom_log_softmax(g, P("x", 4, 19)); }
static loom_tensor *c_sum_all(loom_graph *g, loom_rng *r) { return loom_sum(g, P("x", 3, 7), LOOM_ALL, false); }
static loom_tensor *c_sum_last(loom_graph *g, loom_rng *r) { return loom_sum(g, P("x", 3, 4, 7), -1, false); }
static loom_tensor *c_sum_mid(loom_graph *g, loom_rng *r) { return loom_sum(g, P("x", 3, 4, 7), 1, true); }
static loom_tensor *c_mean_first(loom_graph *g, loom_rng *r) { return loom_mean(g, P("x", 5, 3, 2), 0, false); }
static loom_tensor *c_mean_all(loom_graph *g, loom_rng *r) { return loom_mean(g, P("x", 17), LOOM_ALL, false); }
static loom_tensor *c_concat(loom_graph *g, loom_rng *r) {
  loom_tensor *xs[3] = {P("a", 2, 3, 4), P("b", 2, 3, 1), P("c", 2, 3, 5)};
  return loom_concat(g, 3, xs);
}
static loom_tensor *c_slice(loom_graph *g, loom_rng *r) { return loom_slice(g, P("x", 3, 11), 2, 7); }
static loom_tensor *c_reshape(loom_graph *g, loom_rng *r) {
  /* a view feeding a real op, so the shared gradient memory is exercised */
  return loom_mul(g, loom_reshape(g, P("x", 2, 6), 3, (int[]){3, -1, 2}), P("w", 3, 2, 2));
}
static loom_tensor *c_flatten(loom_graph *g, loom_rng *r) { return loom_tanh(g, loom_flatten(g, P("x", 2, 3, 4))); }
static loom_tensor *c_gather(loom_graph *g, loom_rng *r) {
  loom_tensor *tab = P("table", 6, 5);
  loom_tensor *idx = loom_input(g, "idx", LOOM_I32, 2, (int[]){2, 4});
  static int32_t ids[8] = {1, 0, 3, 3, 5, 2, 0, 1}; /* repeats: scatter-add; 0 = padding */
  loom_input_bind(idx, ids);
  return loom_gather(g, tab, idx, 0);
}
static loom_tensor *c_dropout(loom_graph *g, loom_rng *r) {
  loom_graph_set_training(g, true);
  return loom_dropout(g, P("x", 4, 37), 0.3f);
}
/* losses (loom/loss.h); the full set of gradient checks is in tests/test_loss.c */
static loom_tensor *c_bce_logits(loom_graph *g, loom_rng *r) {
  loom_tensor *y = loom_input(g, "y", LOOM_F32, 2, (int[]){5, 3});
  static float ys[15] = {0, 1, 1, 0, 0.3f, 1, 0, 0, 1, 0.7f, 1, 0, 1, 1, 0};
  loom_input_bind(y, ys);
  return loom_bce_logits(g, P("x", 5, 3), y, NULL, LOOM_REDUCE_NONE);
}
static loom_tensor *c_softmax_ce(loom_graph *g, loom_rng *r) {
  loom_tensor *y = loom_input(g, "y", LOOM_I32, 1, (int[]){5});
  static int32_t ys[5] = {2, 0, 6, -100, 3};
  loom_input_bind(y, ys);
  return loom_softmax_ce(g, P("x", 5, 7), y, 0.1f, LOOM_CE_IGNORE_DEFAULT, LOOM_REDUCE_MEAN);
}
static loom_tensor *c_mse(loom_graph *g, loom_rng *r) { return loom_mse(g, P("a", 3, 7), P("b", 3, 7), LOOM_REDUCE_MEAN); }
static loom_tensor *c_huber(loom_graph *g, loom_rng *r) { return loom_huber(g, P("a", 3, 7), P("b", 3, 7), 0.5f, LOOM_REDUCE_SUM); }
static loom_tensor *c_bpr(loom_graph *g, loom_rng *r) { return loom_bpr(g, P("p", 5), P("n", 5, 3), LOOM_REDUCE_NONE); }
static loom_tensor *c_triplet(loom_graph *g, loom_rng *r) {
  return loom_triplet_margin(g, P("a", 5, 7), P("p", 5, 7), P("n", 5, 7), 1.5f, LOOM_DIST_EUCLIDEAN, LOOM_REDUCE_NONE);
}
/* the other distances (task.distance): margins large enough that every hinge is active */
static loom_tensor *c_triplet_cos(loom_graph *g, loom_rng *r) {
  return loom_triplet_margin(g, P("a", 5, 7), P("p", 5, 7), P("n", 5, 7), 2.5f, LOOM_DIST_COSINE, LOOM_REDUCE_NONE);
}
static loom_tensor *c_triplet_dot(loom_graph *g, loom_rng *r) {
  return loom_triplet_margin(g, P("a", 5, 7), P("p", 5, 7), P("n", 5, 7), 8.0f, LOOM_DIST_DOT, LOOM_REDUCE_MEAN);
}
/* |x − y| is not differentiable at 0: keep every component of a − p and a − n at least 0.1 from it */
static void away_from_kinks(const loom_tensor *a, loom_tensor *x) {
  for (size_t i = 0; i < loom_tensor_numel(a); i++)
    if (fabsf(a->data[i] - x->data[i]) < 0.1f) x->data[i] = a->data[i] + (x->data[i] >= a->data[i] ? 0.1f : -0.1f);
}
static loom_tensor *c_triplet_l1(loom_graph *g, loom_rng *r) {
  loom_tensor *a = P("a", 5, 7), *p = P("p", 5, 7), *n = P("n", 5, 7);
  away_from_kinks(a, p), away_from_kinks(a, n);
  return loom_triplet_margin(g, a, p, n, 8.0f, LOOM_DIST_MANHATTAN, LOOM_REDUCE_SUM);
}
static loom_tensor *c_infonce(loom_graph *g, loom_rng *r) { return loom_infonce(g, P("q", 5, 7), P("k", 5, 7), 0.5f, true, true, LOOM_REDUCE_MEAN); }
static loom_tensor *c_l2_normalize(loom_graph *g, loom_rng *r) { return loom_l2_normalize(g, P("x", 4, 9), 1e-12f); }
static loom_tensor *c_cosine_sim(loom_graph *g, loom_rng *r) { return loom_cosine_sim(g, P("a", 4, 9), P("b", 4, 9), 1e-8f); }
static loom_tensor *c_lstm(loom_graph *g, loom_rng *r) { /* masked, reverse, all states; x trained too */
  loom_tensor *len = loom_input(g, "len", LOOM_I32, 1, (int[]){3});
  static int32_t lens[3] = {4, 1, 3};
  loom_input_bind(len, lens);
  return loom_lstm_seq(g, P("x", 3, 4, 3), len, P("w_ih", 20, 3), P("w_hh", 20, 5), P("b_ih", 20), P("b_hh", 20), true,
                       true, 0.0f);
}
static loom_tensor *c_gru(loom_graph *g, loom_rng *r) { /* masked (one empty), reverse, all states; x trained too */
  loom_tensor *len = loom_input(g, "len", LOOM_I32, 1, (int[]){4});
  static int32_t lens[4] = {4, 1, 0, 3};
  loom_input_bind(len, lens);
  return loom_gru_seq(g, P("x", 4, 4, 3), len, P("w_ih", 15, 3), P("w_hh", 15, 5), P("b_ih", 15), P("b_hh", 15), true, true);
}
static loom_tensor *c_gru_last(loom_graph *g, loom_rng *r) {
  return loom_gru_seq(g, P("x", 3, 5, 2), NULL, P("w_ih", 12, 2), P("w_hh", 12, 4), P("b_ih", 12), P("b_hh", 12), false, false);
}
static loom_tensor *c_mha(loom_graph *g, loom_rng *r) { /* key padding mask: full, short, empty; x trained too */
  loom_tensor *len = loom_input(g, "len", LOOM_I32, 1, (int[]){3});
  static int32_t lens[3] = {5, 2, 0};
  loom_input_bind(len, lens);
  return loom_mha(g, P("x", 3, 5, 6), len, P("w_in", 18, 6), P("b_in", 18), P("w_out", 6, 6), P("b_out", 6), 2);
}
static loom_tensor *c_mha_unmasked(loom_graph *g, loom_rng *r) {
  return loom_mha(g, P("x", 2, 3, 4), NULL, P("w_in", 12, 4), P("b_in", 12), P("w_out", 4, 4), P("b_out", 4), 1);
}
static loom_tensor *c_conv1d_max(loom_graph *g, loom_rng *r) { /* masked: a text shorter than the window, one empty */
  loom_tensor *len = loom_input(g, "len", LOOM_I32, 1, (int[]){4});
  static int32_t lens[4] = {7, 4, 1, 0};
  loom_input_bind(len, lens);
  return loom_conv1d_max(g, P("x", 4, 7, 3), len, P("w", 5, 1, 3, 3), P("b", 5), false);
}
static loom_tensor *c_conv1d_max_relu(loom_graph *g, loom_rng *r) {
  return loom_conv1d_max(g, P("x", 3, 6, 4), NULL, P("w", 6, 1, 2, 4), NULL, true);
}
static loom_tensor *c_conv2d(loom_graph *g, loom_rng *r) {
  return loom_conv2d(g, P("x", 2, 3, 7, 6), P("w", 5, 3, 3, 3), P("b", 5), 2, 2, (loom_padding){LOOM_CONV_PAD_SAME, 0, 0});
}
static loom_tensor *c_maxpool2d(loom_graph *g, loom_rng *r) {
  loom_tensor *x = loom_param(g, "x", 4, (int[]){2, 2, 7, 6});
  int32_t perm[168]; /* distinct values 0.05 apart: no near-ties inside a window */
  for (int i = 0; i < 168; i++) perm[i] = i;
  loom_rng_shuffle(r, perm, 168);
  for (int i = 0; i < 168; i++) x->data[i] = 0.05f * (float)(perm[i] - 84);
  return loom_maxpool2d(g, x, 3, 3, 2, 2, (loom_padding){LOOM_CONV_PAD_EXPLICIT, 1, 1});
}
static loom_tensor *c_avgpool2d(loom_graph *g, loom_rng *r) {
  return loom_avgpool2d(g, P("x", 2, 2, 7, 6), 3, 2, 2, 1, (loom_padding){LOOM_CONV_PAD_EXPLICIT, 1, 1}, true);
}
static loom_tensor *c_global_avgpool(loom_graph *g, loom_rng *r) { return loom_global_avgpool(g, P("x", 2, 3, 5, 4)); }
static loom_tensor *c_batchnorm(loom_graph *g, loom_rng *r) {
  loom_graph_set_training(g, true); /* batch statistics */
  loom_tensor *rm = loom_buffer(g, "rm", 1, (int[]){3}), *rv = loom_buffer(g, "rv", 1, (int[]){3});
  for (int i = 0; i < 3; i++) rv->data[i] = 1.0f;
  return loom_batchnorm(g, P("x", 3, 3, 4, 2), P("w", 3), P("b", 3), rm, rv, NULL, 1e-5f, 0.1f);
}
static loom_tensor *c_layernorm(loom_graph *g, loom_rng *r) { return loom_layernorm(g, P("x", 4, 9), P("w", 9), P("b", 9), 1e-5f); }

static const gc_case cases[] = {
    {LOOM_OP_ADD, "same shape", c_add_same, 1},          {LOOM_OP_ADD, "suffix", c_add_suffix, 1},
    {LOOM_OP_ADD, "scalar", c_add_scalar, 1},            {LOOM_OP_ADD, "general", c_add_general, 1},
    {LOOM_OP_SUB, "same shape", c_sub_same, 1},          {LOOM_OP_SUB, "suffix", c_sub_suffix, 1},
    {LOOM_OP_SUB, "general", c_sub_general, 1},          {LOOM_OP_MUL, "same shape", c_mul_same, 1},
    {LOOM_OP_MUL, "suffix", c_mul_suffix, 1},            {LOOM_OP_MUL, "scalar", c_mul_scalar, 1},
    {LOOM_OP_MUL, "general", c_mul_general, 1},          {LOOM_OP_SCALE, "affine", c_scale, 1},
    {LOOM_OP_MATMUL, "a b", c_matmul_nn, 1},             {LOOM_OP_MATMUL, "a b^T", c_matmul_nt, 1},
    {LOOM_OP_MATMUL, "a^T b", c_matmul_tn, 1},           {LOOM_OP_MATMUL, "a^T b^T", c_matmul_tt, 1},
    {LOOM_OP_MATMUL, "rows x shared", c_matmul_rows, 1}, {LOOM_OP_MATMUL, "batched", c_matmul_batched, 1},
    {LOOM_OP_MATMUL, "batched a^T, shared b", c_matmul_batched_ta, 1},
    {LOOM_OP_RELU, "", c_relu, 1},                       {LOOM_OP_SIGMOID, "", c_sigmoid, 1},
    {LOOM_OP_TANH, "", c_tanh, 1},                       {LOOM_OP_GELU, "", c_gelu, 1},
    {LOOM_OP_SOFTMAX, "", c_softmax, 1},                 {LOOM_OP_LOG_SOFTMAX, "", c_log_softmax, 1},
    {LOOM_OP_SUM, "all", c_sum_all, 1},                  {LOOM_OP_SUM, "last", c_sum_last, 1},
    {LOOM_OP_SUM, "middle, keepdim", c_sum_mid, 1},      {LOOM_OP_MEAN, "first", c_mean_first, 1},
    {LOOM_OP_MEAN, "all", c_mean_all, 1},                {LOOM_OP_CONCAT, "3 inputs", c_concat, 1},
    {LOOM_OP_SLICE, "", c_slice, 1},                     {LOOM_OP_RESHAPE, "reshape", c_reshape, 1},
    {LOOM_OP_RESHAPE, "flatten", c_flatten, 1},          {LOOM_OP_GATHER, "padding 0", c_gather, 1},
    {LOOM_OP_DROPOUT, "training", c_dropout, 1},
    {LOOM_OP_BCE_LOGITS, "none", c_bce_logits, 1},       {LOOM_OP_SOFTMAX_CE, "smooth, ignore", c_softmax_ce, 1},
    {LOOM_OP_MSE, "mean", c_mse, 1},                     {LOOM_OP_BPR, "3 negatives", c_bpr, 1},
    {LOOM_OP_HUBER, "sum, both zones", c_huber, 1},
    {LOOM_OP_TRIPLET, "euclidean", c_triplet, 1},        {LOOM_OP_INFONCE, "symmetric", c_infonce, 1},
    {LOOM_OP_L2_NORMALIZE, "", c_l2_normalize, 1},       {LOOM_OP_COSINE_SIM, "", c_cosine_sim, 1},
    {LOOM_OP_DROPOUT, "training", c_dropout, 1},         {LOOM_OP_LSTM, "masked, reverse", c_lstm, 1},
    {LOOM_OP_GRU, "masked, reverse", c_gru, 1},          {LOOM_OP_GRU, "last state", c_gru_last, 1},
    {LOOM_OP_CONV1D_MAX, "masked", c_conv1d_max, 1},     {LOOM_OP_CONV1D_MAX, "relu, no bias", c_conv1d_max_relu, 1},
    {LOOM_OP_CONV2D, "3x3 stride 2 same", c_conv2d, 1},  {LOOM_OP_MAXPOOL2D, "3x3 stride 2 pad 1", c_maxpool2d, 1},
    {LOOM_OP_AVGPOOL2D, "3x2 stride (2, 1) pad 1", c_avgpool2d, 1},
    {LOOM_OP_GLOBAL_AVGPOOL, "", c_global_avgpool, 1},
    {LOOM_OP_BATCHNORM, "2-D, training", c_batchnorm, 1}, {LOOM_OP_LAYERNORM, "", c_layernorm, 1},
    /* appended last: a case's seed is 42 + its index, so earlier cases keep theirs */
    {LOOM_OP_MHA, "2 heads, masked, one empty", c_mha, 1}, {LOOM_OP_MHA, "1 head, unmasked", c_mha_unmasked, 1},
    {LOOM_OP_TRIPLET, "cosine", c_triplet_cos, 1},       {LOOM_OP_TRIPLET, "dot, mean", c_triplet_dot, 1},
    {LOOM_OP_TRIPLET, "manhattan, sum", c_triplet_l1, 1},
};
#define N_CASES (int)(sizeof cases / sizeof cases[0])

static void test_every_op_has_a_gradcheck_case(void **state) {
  for (int op = 0; op < LOOM_OP_COUNT; op++) {
    assert_non_null(loom_ops[op]);
    assert_non_null(loom_ops[op]->name);
    if (op == LOOM_OP_NONE) continue;
    assert_non_null(loom_ops[op]->infer);
    assert_non_null(loom_ops[op]->forward);
    assert_non_null(loom_ops[op]->backward);
    bool found = false;
    for (int c = 0; c < N_CASES; c++) found |= cases[c].op == (loom_op)op;
    if (!found) fail_msg("op '%s' has no gradient-check case in tests/test_autograd.c", loom_ops[op]->name);
  }
}

static void run_gradchecks(loom_isa isa) {
  if (!loom_runtime_set_isa(isa)) return;
  int total = 0;
  for (int c = 0; c < N_CASES; c++) {
    loom_graph *g = loom_graph_new();
    loom_rng r;
    loom_rng_seed(&r, 42 + (uint64_t)c);
    loom_tensor *y = cases[c].build(g, &r);
    bool has_op = false;
    for (int i = 0; i < loom_graph_n_nodes(g); i++) has_op |= loom_graph_node(g, i)->op == cases[c].op;
    assert_true(has_op);
    /* eps 1e-2 with double-accumulated float losses: truncation error ~eps^2, rounding ~1e-6/eps */
    total += tu_gradcheck(g, y, cases[c].batch, NULL, NULL, 1e-2, 2e-3, 1e-2);
    loom_graph_free(g);
  }
  print_message("gradcheck[%s]: %d cases, %d gradient elements checked\n", loom_isa_name(isa), N_CASES, total);
  assert_true(total > 500);
}

static void test_gradcheck_every_op(void **state) {
  loom_isa best = loom_runtime_isa();
  for (int isa = 0; isa < LOOM_ISA_COUNT; isa++) run_gradchecks((loom_isa)isa);
  loom_runtime_set_isa(best);
}

/* ---------------------------------------------------------------- forward values against naive loops */

static void test_matmul_matches_naive(void **state) {
  loom_rng r;
  loom_rng_seed(&r, 7);
  for (int ta = 0; ta < 2; ta++)
    for (int tb = 0; tb < 2; tb++) {
      const int M = 13, N = 9, K = 31;
      loom_graph *g = loom_graph_new();
      loom_tensor *a = loom_param(g, "a", 2, ta ? (int[]){K, M} : (int[]){M, K});
      loom_tensor *b = loom_param(g, "b", 2, tb ? (int[]){N, K} : (int[]){K, N});
      tu_fill_uniform(a->data, (size_t)M * K, -1, 1, &r);
      tu_fill_uniform(b->data, (size_t)K * N, -1, 1, &r);
      loom_tensor *y = loom_matmul(g, a, b, ta, tb);
      assert_int_equal(loom_graph_compile(g, 1, 1, &y, false), 0);
      loom_graph_forward(g);
      float want[M * N];
      for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
          double s = 0;
          for (int k = 0; k < K; k++)
            s += (double)a->data[ta ? k * M + i : i * K + k] * b->data[tb ? j * K + k : k * N + j];
          want[i * N + j] = (float)s;
        }
      tu_assert_close("matmul", y->data, want, (size_t)M * N, 1e-5, 1e-5);
      loom_graph_free(g);
    }
}

static void test_softmax_rows_sum_to_one_and_are_stable(void **state) {
  loom_graph *g = loom_graph_new();
  loom_tensor *x = loom_input(g, "x", LOOM_F32, 2, (int[]){LOOM_BATCH, 37});
  loom_tensor *y = loom_softmax(g, x), *ly = loom_log_softmax(g, x);
  assert_int_equal(loom_graph_compile(g, 3, 2, (loom_tensor *[]){y, ly}, false), 0);
  for (int i = 0; i < 3 * 37; i++) x->data[i] = (float)(i % 37) * (i < 37 ? 1.0f : i < 74 ? 1000.0f : -1000.0f);
  loom_graph_forward(g);
  for (int row = 0; row < 3; row++) {
    double s = 0;
    for (int j = 0; j < 37; j++) {
      float p = y->data[row * 37 + j];
      assert_true(isfinite(p) && isfinite(ly->data[row * 37 + j]));
      assert_float_equal(logf(p > 1e-30f ? p : 1e-30f), ly->data[row * 37 + j] < -69.0f ? -69.07755f : ly->data[row * 37 + j], 1e-3);
      s += p;
    }
    assert_float_equal(s, 1.0, 1e-5);
  }
  loom_graph_free(g);
}

static void test_gather_reads_rows_and_zeroes_padding(void **state) {
  loom_graph *g = loom_graph_new();
  loom_tensor *tab = loom_param(g, "emb", 2, (int[]){4, 3});
  for (int i = 0; i < 12; i++) tab->data[i] = (float)i;
  loom_tensor *idx = loom_input(g, "idx", LOOM_I32, 1, (int[]){LOOM_BATCH});
  loom_tensor *y = loom_gather(g, tab, idx, 2);
  assert_int_equal(loom_graph_compile(g, 3, 1, &y, false), 0);
  idx->idata[0] = 3;
  idx->idata[1] = 2;
  idx->idata[2] = 0;
  loom_graph_forward(g);
  const float want[9] = {9, 10, 11, 0, 0, 0, 0, 1, 2};
  tu_assert_close("gather", y->data, want, 9, 0, 0);
  assert_int_equal(y->ndim, 2);
  assert_int_equal(y->shape[1], 3);
  loom_graph_free(g);
}

static void test_dropout_eval_is_identity_and_train_scales(void **state) {
  loom_graph *g = loom_graph_new();
  loom_tensor *x = loom_input(g, "x", LOOM_F32, 2, (int[]){LOOM_BATCH, 1000});
  loom_tensor *y = loom_dropout(g, x, 0.25f);
  assert_int_equal(loom_graph_compile(g, 10, 1, &y, false), 0);
  for (int i = 0; i < 10000; i++) x->data[i] = 1.0f;
  loom_graph_forward(g);
  tu_assert_close("dropout eval", y->data, x->data, 10000, 0, 0);
  loom_graph_set_training(g, true);
  loom_rng_seed(loom_graph_rng(g), 5);
  loom_graph_forward(g);
  int zeros = 0;
  for (int i = 0; i < 10000; i++) {
    if (y->data[i] == 0.0f) zeros++;
    else assert_float_equal(y->data[i], 1.0f / 0.75f, 1e-6);
  }
  assert_in_range(zeros, 2300, 2700); /* 25% of 10000, well within 5 sigma (sigma ~ 43) */
  float first[16];
  memcpy(first, y->data, sizeof first);
  loom_graph_forward(g); /* a new step draws a new mask */
  assert_true(memcmp(first, y->data, sizeof first) != 0);
  loom_graph_free(g);
}

/* ---------------------------------------------------------------- compile: errors, batches, views */

static void test_shape_errors_name_node_and_shapes(void **state) {
  loom_graph *g = loom_graph_new();
  loom_tensor *a = loom_param(g, "a", 2, (int[]){3, 4});
  loom_tensor *b = loom_param(g, "b", 2, (int[]){5, 4});
  loom_tensor *y = loom_matmul(g, a, b, false, false);
  loom_tensor_set_name(y, "logits");
  assert_int_equal(loom_graph_compile(g, 1, 1, &y, false), -1);
  const char *err = loom_graph_error(g);
  assert_non_null(strstr(err, "matmul 'logits'"));
  assert_non_null(strstr(err, "(3, 4) x (5, 4)"));
  loom_tensor *c = loom_add(g, a, loom_param(g, "c", 1, (int[]){3}));
  assert_int_equal(loom_graph_compile(g, 1, 1, &c, false), -1);
  assert_non_null(strstr(loom_graph_error(g), "cannot broadcast (3) to (3, 4)"));
  loom_tensor *s = loom_slice(g, a, 2, 3);
  assert_int_equal(loom_graph_compile(g, 1, 1, &s, false), -1);
  assert_non_null(strstr(loom_graph_error(g), "outside the last dim of size 4"));
  loom_graph_free(g);
}

/* A small MLP compiled for batch 8, then 3, then 1: each result equals running that sample alone. */
static void test_recompile_for_other_batch_sizes(void **state) {
  loom_rng r;
  loom_rng_seed(&r, 3);
  loom_graph *g = loom_graph_new();
  loom_tensor *x = loom_input(g, "x", LOOM_F32, 2, (int[]){LOOM_BATCH, 10});
  loom_tensor *w1 = loom_param(g, "w1", 2, (int[]){16, 10}), *b1 = loom_param(g, "b1", 1, (int[]){16});
  loom_tensor *w2 = loom_param(g, "w2", 2, (int[]){3, 16});
  tu_fill_uniform(w1->data, 160, -0.5f, 0.5f, &r);
  tu_fill_uniform(b1->data, 16, -0.5f, 0.5f, &r);
  tu_fill_uniform(w2->data, 48, -0.5f, 0.5f, &r);
  loom_tensor *y = loom_softmax(g, loom_matmul(g, loom_gelu(g, loom_add(g, loom_matmul(g, x, w1, false, true), b1)), w2, false, true));
  float xs[8 * 10], full[8 * 3];
  tu_fill_uniform(xs, 80, -2, 2, &r);
  assert_int_equal(loom_graph_compile(g, 8, 1, &y, false), 0);
  memcpy(x->data, xs, sizeof xs);
  loom_graph_forward(g);
  memcpy(full, y->data, sizeof full);
  assert_int_equal(y->shape[0], 8);
  size_t arena8 = loom_graph_arena_bytes(g);
  assert_int_equal(loom_graph_compile(g, 3, 1, &y, false), 0);
  assert_true(loom_graph_arena_bytes(g) < arena8);
  memcpy(x->data, xs + 50, 3 * 10 * sizeof(float));
  loom_graph_forward(g);
  tu_assert_close("batch 3", y->data, full + 15, 9, 1e-6, 1e-5);
  assert_int_equal(loom_graph_compile(g, 1, 1, &y, false), 0);
  for (int i = 0; i < 8; i++) {
    memcpy(x->data, xs + i * 10, 10 * sizeof(float));
    loom_graph_forward(g);
    tu_assert_close("batch 1", y->data, full + i * 3, 3, 1e-6, 1e-5);
  }
  loom_graph_free(g);
}

/* Binding an input after compile must reach views of it (a reshape reads its source's memory). */
static void test_rebinding_an_input_reaches_its_views(void **state) {
  loom_graph *g = loom_graph_new();
  loom_tensor *x = loom_input(g, "x", LOOM_F32, 2, (int[]){LOOM_BATCH, 4});
  loom_tensor *y = loom_scale(g, loom_reshape(g, x, 1, (int[]){-1}), 2.0f, 0.0f);
  assert_int_equal(loom_graph_compile(g, 2, 1, &y, false), 0);
  float a[8] = {1, 2, 3, 4, 5, 6, 7, 8}, b[8] = {-1, -2, -3, -4, -5, -6, -7, -8};
  loom_input_bind(x, a);
  loom_graph_forward(g);
  assert_float_equal(y->data[7], 16.0f, 0);
  loom_input_bind(x, b); /* after compile: the view must follow */
  loom_graph_forward(g);
  assert_float_equal(y->data[7], -16.0f, 0);
  assert_float_equal(y->data[0], -2.0f, 0);
  loom_graph_free(g);
}

static void test_params_are_one_flat_buffer(void **state) {
  loom_graph *g = loom_graph_new();
  loom_tensor *ps[50];
  for (int i = 0; i < 50; i++) { /* enough to force the flat buffer to move several times */
    char name[16];
    snprintf(name, sizeof name, "p%d", i);
    ps[i] = loom_param(g, name, 2, (int[]){7, 33});
    for (int k = 0; k < 7 * 33; k++) ps[i]->data[k] = (float)(i * 1000 + k);
  }
  float *flat = loom_graph_params(g);
  for (int i = 0; i < 50; i++) {
    assert_ptr_equal(ps[i]->data, flat + ps[i]->value_off);
    assert_ptr_equal(ps[i]->grad, loom_graph_grads(g) + ps[i]->value_off);
    assert_int_equal((uintptr_t)ps[i]->data % 64, 0);
    for (int k = 0; k < 7 * 33; k++) assert_float_equal(ps[i]->data[k], (float)(i * 1000 + k), 0);
  }
  assert_true(loom_graph_n_params(g) >= 50 * 7 * 33);
  assert_int_equal(loom_graph_n_param_tensors(g), 50);
  assert_ptr_equal(loom_graph_find(g, "p17"), ps[17]);
  loom_graph_free(g);
}

/* Gradients flow only where needed: a frozen branch (input without requires_grad) gets none. */
static void test_gradients_only_where_needed(void **state) {
  loom_graph *g = loom_graph_new();
  loom_tensor *x = loom_input(g, "x", LOOM_F32, 2, (int[]){LOOM_BATCH, 4});
  loom_tensor *h = loom_tanh(g, x);
  loom_tensor *w = loom_param(g, "w", 1, (int[]){4});
  loom_tensor *loss = loom_sum(g, loom_mul(g, h, w), LOOM_ALL, false);
  assert_int_equal(loom_graph_compile(g, 2, 1, &loss, true), 0);
  assert_null(x->grad);
  assert_null(h->grad);
  assert_non_null(w->grad);
  for (int i = 0; i < 8; i++) x->data[i] = 0.1f * (float)i;
  loom_graph_zero_grad(g);
  loom_graph_forward(g);
  loom_graph_backward(g, loss);
  for (int j = 0; j < 4; j++) assert_float_equal(w->grad[j], tanhf(0.1f * j) + tanhf(0.1f * (4 + j)), 1e-6);
  loom_graph_backward(g, loss); /* parameter gradients accumulate */
  for (int j = 0; j < 4; j++) assert_float_equal(w->grad[j], 2 * (tanhf(0.1f * j) + tanhf(0.1f * (4 + j))), 1e-6);
  loom_graph_free(g);
}

/* ---------------------------------------------------------------- determinism and allocation */

typedef struct {
  loom_graph *g;
  loom_tensor *x, *loss;
  int32_t *ids;
} mlp;

/* An embedding + MLP + softmax cross-entropy graph big enough that every op runs multi-threaded. */
static mlp build_mlp(int batch) {
  mlp m;
  loom_rng r;
  loom_rng_seed(&r, 11);
  m.g = loom_graph_new();
  loom_graph *g = m.g;
  m.x = loom_input(g, "x", LOOM_F32, 2, (int[]){LOOM_BATCH, 300});
  loom_tensor *ids = loom_input(g, "ids", LOOM_I32, 2, (int[]){LOOM_BATCH, 12});
  loom_tensor *emb = loom_param(g, "emb", 2, (int[]){500, 160});
  loom_tensor *w1 = loom_param(g, "w1", 2, (int[]){256, 300 + 160}), *b1 = loom_param(g, "b1", 1, (int[]){256});
  loom_tensor *w2 = loom_param(g, "w2", 2, (int[]){10, 256});
  loom_tensor *onehot = loom_input(g, "onehot", LOOM_F32, 2, (int[]){LOOM_BATCH, 10});
  tu_fill_uniform(emb->data, 500 * 160, -0.1f, 0.1f, &r);
  tu_fill_uniform(w1->data, 256 * 460, -0.05f, 0.05f, &r);
  tu_fill_uniform(w2->data, 2560, -0.05f, 0.05f, &r);
  loom_tensor *e = loom_mean(g, loom_gather(g, emb, ids, 0), 1, false);
  loom_tensor *h = loom_concat(g, 2, (loom_tensor *[]){m.x, e});
  h = loom_dropout(g, loom_relu(g, loom_add(g, loom_matmul(g, h, w1, false, true), b1)), 0.1f);
  loom_tensor *logp = loom_log_softmax(g, loom_matmul(g, h, w2, false, true));
  m.loss = loom_scale(g, loom_mean(g, loom_sum(g, loom_mul(g, logp, onehot), -1, false), LOOM_ALL, false), -1.0f, 0.0f);
  assert_int_equal(loom_graph_compile(g, batch, 1, &m.loss, true), 0);
  loom_graph_set_training(g, true);
  loom_rng_seed(loom_graph_rng(g), 99);
  tu_fill_uniform(m.x->data, (size_t)batch * 300, -1, 1, &r);
  memset(onehot->data, 0, sizeof(float) * 10 * (size_t)batch);
  for (int i = 0; i < batch; i++) onehot->data[i * 10 + i % 10] = 1.0f;
  for (int i = 0; i < batch * 12; i++) ids->idata[i] = (int32_t)loom_rng_below(&r, 500);
  return m;
}

static void sgd_step(loom_graph *g, float lr) {
  float *p = loom_graph_params(g), *gr = loom_graph_grads(g);
  loom_k.axpy(loom_graph_n_params(g), -lr, gr, p);
}

static void test_same_results_for_any_thread_count(void **state) {
  const int threads0 = loom_num_threads();
  float *ref = NULL;
  size_t n = 0;
  for (int threads = 1; threads <= 3; threads++) {
    loom_set_num_threads(threads);
    mlp m = build_mlp(256); /* large enough that elementwise ops, reductions and GEMMs all split */
    for (int step = 0; step < 3; step++) {
      loom_graph_zero_grad(m.g);
      loom_graph_forward(m.g);
      loom_graph_backward(m.g, m.loss);
      sgd_step(m.g, 0.1f);
    }
    n = loom_graph_n_params(m.g);
    if (!ref) {
      ref = malloc(n * sizeof(float));
      memcpy(ref, loom_graph_params(m.g), n * sizeof(float));
    } else if (memcmp(ref, loom_graph_params(m.g), n * sizeof(float)) != 0) {
      fail_msg("parameters after 3 steps differ between 1 and %d threads", threads);
    }
    loom_graph_free(m.g);
  }
  free(ref);
  loom_set_num_threads(threads0);
}

static void mlp_step(void *ctx) {
  mlp *m = ctx;
  loom_graph_zero_grad(m->g);
  loom_graph_forward(m->g);
  loom_graph_backward(m->g, m->loss);
  sgd_step(m->g, 0.01f);
}

static void test_no_heap_allocation_inside_a_step(void **state) {
  if (!tu_alloc_counting_available()) skip(); /* AddressSanitizer build */
  mlp m = build_mlp(64);
  tu_assert_no_alloc("MLP training step", mlp_step, &m, 2, 3);
  loom_graph_free(m.g);
}


/* Inference compiles share arena memory between values (and op scratch) whose lifetimes do not meet:
 * outputs equal those of the unshared training layout bit for bit, a second forward gives the same,
 * an intermediate listed as an output keeps its value, and the arena is much smaller. */
static void test_inference_arena_reuses_memory(void **state) {
  (void)state;
  loom_rng rng, *r = &rng;
  loom_rng_seed(r, 11);
  loom_graph *g = loom_graph_new();
  const int B = 5, T = 7, E = 6, H = 8;
  loom_tensor *img = loom_input(g, "img", LOOM_F32, 4, (int[]){LOOM_BATCH, 3, 8, 8});
  loom_tensor *seq = loom_input(g, "seq", LOOM_F32, 3, (int[]){LOOM_BATCH, T, E});
  loom_tensor *len = loom_input(g, "len", LOOM_I32, 1, (int[]){LOOM_BATCH});
  loom_tensor *c = loom_conv2d(g, img, P("cw", 4, 3, 3, 3), P("cb", 4), 1, 1, (loom_padding){LOOM_CONV_PAD_SAME, 0, 0});
  c = loom_maxpool2d(g, loom_relu(g, c), 2, 2, 2, 2, (loom_padding){LOOM_CONV_PAD_VALID, 0, 0});
  loom_tensor *a = loom_tanh(g, loom_matmul(g, loom_flatten(g, c), P("fw", 16, 64), false, true));
  loom_tensor *h = loom_lstm_seq(g, seq, len, P("wih", 4 * H, E), P("whh", 4 * H, H), P("bih", 4 * H), P("bhh", 4 * H),
                                 false, false, 0.0f);
  loom_tensor *z = loom_concat(g, 2, (loom_tensor *[]){a, h});
  loom_tensor *mid = NULL;
  for (int l = 0; l < 10; l++) { /* a deep stack: only two of its activations are ever needed at once */
    char name[16];
    snprintf(name, sizeof name, "w%d", l);
    z = loom_relu(g, loom_add(g, loom_matmul(g, z, prm(g, name, 2, (int[]){64, l ? 64 : 24}, r), false, true), P("b", 64)));
    if (l == 4) mid = z;
  }
  loom_tensor *y = loom_sigmoid(g, loom_matmul(g, z, P("wo", 3, 64), false, true));
  float ref[5 * 3], ref_mid[5 * 64];
  /* reference: the training layout, every value in its own place */
  assert_int_equal(loom_graph_compile(g, B, 1, &y, true), 0);
  const size_t train_bytes = loom_graph_arena_bytes(g);
  tu_fill_uniform(img->data, loom_tensor_numel(img), 0, 1, r);
  tu_fill_uniform(seq->data, loom_tensor_numel(seq), -1, 1, r);
  for (int b = 0; b < B; b++) len->idata[b] = T - b;
  float img0[5 * 3 * 8 * 8], seq0[5 * 7 * 6];
  memcpy(img0, img->data, sizeof img0);
  memcpy(seq0, seq->data, sizeof seq0);
  loom_graph_forward(g);
  memcpy(ref, y->data, sizeof ref);
  memcpy(ref_mid, mid->data, sizeof ref_mid);

  assert_int_equal(loom_graph_compile(g, B, 1, &y, false), 0);
  const size_t infer_bytes = loom_graph_arena_bytes(g);
  for (int rep = 0; rep < 2; rep++) {
    memcpy(img->data, img0, sizeof img0);
    memcpy(seq->data, seq0, sizeof seq0);
    for (int b = 0; b < B; b++) len->idata[b] = T - b;
    loom_graph_forward(g);
    assert_memory_equal(y->data, ref, sizeof ref);
  }
  /* inputs are never overwritten */
  assert_memory_equal(img->data, img0, sizeof img0);
  assert_memory_equal(seq->data, seq0, sizeof seq0);
  /* without reuse the arena would hold every value and every op's scratch side by side (and the
   * training arena holds gradients too); with it, the peak is the conv's scratch beside the inputs */
  size_t separate = 0, peak_op = 0;
  for (int i = 0; i < loom_graph_n_nodes(g); i++) {
    loom_tensor *t = loom_graph_node(g, i);
    if (!t->live || t->kind == LOOM_NODE_PARAM) continue;
    const size_t saved = (t->saved_bytes + 63) / 64 * 64;
    separate += saved;
    if (!(t->kind == LOOM_NODE_OP && loom_ops[t->op]->view)) separate += (loom_tensor_numel(t) * 4 + 63) / 64 * 64;
    peak_op = saved > peak_op ? saved : peak_op;
  }
  assert_true(infer_bytes < separate / 2);
  assert_true(infer_bytes < peak_op + separate / 4);
  assert_true(infer_bytes < train_bytes / 3);

  /* an intermediate the caller reads must be an output: then it survives */
  assert_int_equal(loom_graph_compile(g, B, 2, (loom_tensor *[]){y, mid}, false), 0);
  memcpy(img->data, img0, sizeof img0);
  memcpy(seq->data, seq0, sizeof seq0);
  for (int b = 0; b < B; b++) len->idata[b] = T - b;
  loom_graph_forward(g);
  assert_memory_equal(y->data, ref, sizeof ref);
  assert_memory_equal(mid->data, ref_mid, sizeof ref_mid);
  loom_graph_free(g);
}

/* The model summary: every node's op, name, shape and parameter count, then the totals; exact text
 * before a compile (declared input shapes, "?" for ops), after a training compile, and once frozen. */
static char *print_to_string(const loom_graph *g) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  assert_non_null(f);
  loom_graph_print(g, f);
  fclose(f);
  return buf;
}

static void test_graph_print_summary(void **state) {
  loom_graph *g = loom_graph_new();
  loom_tensor *x = loom_input(g, "x", LOOM_F32, 2, (int[]){LOOM_BATCH, 3});
  loom_tensor *w = loom_param(g, "fc.weight", 2, (int[]){2, 3});
  loom_tensor *h = loom_matmul(g, x, w, false, true);
  loom_tensor *b = loom_param(g, "fc.bias", 1, (int[]){2});
  h = loom_relu(g, loom_add(g, h, b));
  loom_tensor_set_name(h, "fc");
  loom_buffer(g, "stats", 1, (int[]){5});
  loom_tensor *loss = loom_mean(g, h, LOOM_ALL, false);
  char *got = print_to_string(g);
  assert_string_equal(got,
      "node  op              name                                    output shape            params\n"
      "   0  input           x                                       (B, 3)\n"
      "   1  param           fc.weight                               (2, 3)                       6\n"
      "   2  matmul          matmul_2                                ?\n"
      "   3  param           fc.bias                                 (2)                          2\n"
      "   4  add             add_4                                   ?\n"
      "   5  relu            fc                                      ?\n"
      "   6  buffer          stats                                   (5)                          5\n"
      "   7  mean            mean_7                                  ?\n"
      "parameters: 8 (trainable 8, frozen 0); buffers: 5 floats; nodes: 8\n"
      "arena: none (not compiled)\n");
  free(got);
  assert_int_equal(loom_graph_compile(g, 4, 1, &loss, true), 0);
  got = print_to_string(g);
  char want[2048];
  snprintf(want, sizeof want,
      "node  op              name                                    output shape            params\n"
      "   0  input           x                                       (4, 3)\n"
      "   1  param           fc.weight                               (2, 3)                       6\n"
      "   2  matmul          matmul_2                                (4, 2)\n"
      "   3  param           fc.bias                                 (2)                          2\n"
      "   4  add             add_4                                   (4, 2)\n"
      "   5  relu            fc                                      (4, 2)\n"
      "   6  buffer          stats                                   (5)                          5\n"
      "   7  mean            mean_7                                  (1)\n"
      "parameters: 8 (trainable 8, frozen 0); buffers: 5 floats; nodes: 8 (7 in the compiled plan)\n"
      "arena: %zu bytes (compiled for batch 4, with gradients)\n", loom_graph_arena_bytes(g));
  assert_true(loom_graph_arena_bytes(g) > 0);
  assert_string_equal(got, want);
  free(got);
  loom_graph_drop_grads(g);
  assert_int_equal(loom_graph_compile(g, 2, 1, &h, false), 0);
  got = print_to_string(g);
  snprintf(want, sizeof want,
      "node  op              name                                    output shape            params\n"
      "   0  input           x                                       (2, 3)\n"
      "   1  param           fc.weight                               (2, 3)                       6\n"
      "   2  matmul          matmul_2                                (2, 2)\n"
      "   3  param           fc.bias                                 (2)                          2\n"
      "   4  add             add_4                                   (2, 2)\n"
      "   5  relu            fc                                      (2, 2)\n"
      "   6  buffer          stats                                   (5)                          5\n"
      "   7  mean            mean_7                                  ?\n"
      "parameters: 8 (trainable 0, frozen 8); buffers: 5 floats; nodes: 8 (6 in the compiled plan)\n"
      "arena: %zu bytes (compiled for batch 2, without gradients)\n", loom_graph_arena_bytes(g));
  assert_string_equal(got, want);
  free(got);
  loom_graph_free(g);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_op_has_a_gradcheck_case),
      cmocka_unit_test(test_gradcheck_every_op),
      cmocka_unit_test(test_matmul_matches_naive),
      cmocka_unit_test(test_softmax_rows_sum_to_one_and_are_stable),
      cmocka_unit_test(test_gather_reads_rows_and_zeroes_padding),
      cmocka_unit_test(test_dropout_eval_is_identity_and_train_scales),
      cmocka_unit_test(test_shape_errors_name_node_and_shapes),
      cmocka_unit_test(test_recompile_for_other_batch_sizes),
      cmocka_unit_test(test_rebinding_an_input_reaches_its_views),
      cmocka_unit_test(test_inference_arena_reuses_memory),
      cmocka_unit_test(test_params_are_one_flat_buffer),
      cmocka_unit_test(test_gradients_only_where_needed),
      cmocka_unit_test(test_same_results_for_any_thread_count),
      cmocka_unit_test(test_no_heap_allocation_inside_a_step),
      cmocka_unit_test(test_graph_print_summary),
  };
  return cmocka_run_group_tests_name("autograd", tests, NULL, NULL);
}
