/* test_loss.c — the loss ops of loom/loss.h: central-difference gradient checks of every loss with each
 * reduction and option at odd sizes, parity with PyTorch (tests/reference/gen_loss.py fixtures: loss
 * value within 1e-5 relative, input gradients within 1e-4) on every kernel ISA, numerical stability at
 * extreme logits, identical results for any thread count, and shape errors. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "graph_internal.h"
#include "loom/loss.h"
#include "testutil.h"

/* ---------------------------------------------------------------- gradient checks */

static loom_tensor *prm(loom_graph *g, const char *name, int ndim, const int *shape, loom_rng *r, float scale) {
  loom_tensor *t = loom_param(g, name, ndim, shape);
  tu_fill_uniform(t->data, loom_tensor_numel(t), -scale, scale, r);
  return t;
}
#define P(name, ...) prm(g, name, (int)(sizeof((int[]){__VA_ARGS__}) / sizeof(int)), (int[]){__VA_ARGS__}, r, 1.5f)

static int gc(loom_graph *g, loom_tensor *y) {
  int n = tu_gradcheck(g, y, 1, NULL, NULL, 1e-2, 2e-3, 1e-2);
  loom_graph_free(g);
  return n;
}

static void test_gradcheck_bce(void **state) {
  int total = 0;
  for (int red = 0; red < 3; red++)
    for (int pw = 0; pw < 3; pw++) {
      loom_graph *g = loom_graph_new();
      loom_rng rr, *r = &rr;
      loom_rng_seed(r, 10 + red * 3 + pw);
      loom_tensor *x = P("x", 7, 3), *y = P("y", 7, 3); /* targets are trained too: they get gradients */
      for (int i = 0; i < 21; i++) y->data[i] = 0.5f + 0.5f * y->data[i] / 1.5f;
      loom_tensor *w = NULL;
      if (pw) {
        w = loom_input(g, "pw", LOOM_F32, 1, (int[]){pw == 1 ? 1 : 3});
        static float pws[3] = {0.4f, 2.5f, 1.3f};
        loom_input_bind(w, pws);
      }
      total += gc(g, loom_bce_logits(g, x, y, w, (loom_reduction)red));
    }
  assert_true(total == 9 * 42);
}

static void test_gradcheck_softmax_ce(void **state) {
  int total = 0;
  static int32_t labels[7] = {0, 4, -100, 2, 4, 1, 3};
  for (int red = 0; red < 3; red++)
    for (int opt = 0; opt < 3; opt++) {
      loom_graph *g = loom_graph_new();
      loom_rng rr, *r = &rr;
      loom_rng_seed(r, 40 + red * 3 + opt);
      loom_tensor *x = P("x", 7, 5);
      loom_tensor *y = loom_input(g, "y", LOOM_I32, 1, (int[]){7});
      loom_input_bind(y, labels);
      /* opt 0: no ignored row, smoothing; 1: one row ignored, no smoothing; 2: both */
      float eps = opt == 1 ? 0.0f : 0.15f;
      int ignore = LOOM_CE_IGNORE_DEFAULT;
      if (opt == 0) {
        static int32_t plain[7] = {0, 4, 3, 2, 4, 1, 3};
        loom_input_bind(y, plain);
      }
      total += gc(g, loom_softmax_ce(g, x, y, eps, ignore, (loom_reduction)red));
    }
  assert_true(total == 9 * 35);
}

static void test_gradcheck_mse_bpr(void **state) {
  int total = 0;
  for (int red = 0; red < 3; red++) {
    loom_graph *g = loom_graph_new();
    loom_rng rr, *r = &rr;
    loom_rng_seed(r, 70 + red);
    total += gc(g, loom_mse(g, P("a", 3, 5), P("b", 3, 5), (loom_reduction)red));
    g = loom_graph_new();
    total += gc(g, loom_huber(g, P("a", 3, 5), P("b", 3, 5), 0.4f, (loom_reduction)red)); /* both zones */
    for (int nneg = 0; nneg < 2; nneg++) {
      g = loom_graph_new();
      loom_tensor *p = nneg ? P("p", 5, 1) : P("p", 5);
      loom_tensor *q = nneg ? P("q", 5, 3) : P("q", 5);
      total += gc(g, loom_bpr(g, p, q, (loom_reduction)red));
    }
  }
  assert_true(total == 3 * (30 + 30 + 10 + 20));
}

static void test_gradcheck_triplet(void **state) {
  int total = 0;
  for (int dist = 0; dist < 4; dist++)
    for (int red = 0; red < 3; red++) {
      loom_graph *g = loom_graph_new();
      loom_rng rr, *r = &rr;
      loom_rng_seed(r, 90 + dist * 3 + red);
      /* margins large enough that every hinge is active (the kink at 0 is not differentiable) */
      float margin = dist == LOOM_DIST_COSINE ? 2.5f : dist == LOOM_DIST_DOT ? 10.0f : dist == LOOM_DIST_MANHATTAN ? 12.0f : 8.0f;
      loom_tensor *a = P("a", 5, 7), *p = P("p", 5, 7), *n = P("n", 5, 7);
      if (dist == LOOM_DIST_MANHATTAN) /* |x − y| has a kink at 0: keep a − p and a − n 0.1 away from it */
        for (int i = 0; i < 35; i++) {
          if (fabsf(a->data[i] - p->data[i]) < 0.1f) p->data[i] = a->data[i] + 0.1f;
          if (fabsf(a->data[i] - n->data[i]) < 0.1f) n->data[i] = a->data[i] - 0.1f;
        }
      total += gc(g, loom_triplet_margin(g, a, p, n, margin, (loom_distance)dist, (loom_reduction)red));
    }
  /* and one where some hinges are inactive: those rows must give exactly zero gradient */
  loom_graph *g = loom_graph_new();
  loom_rng rr, *r = &rr;
  loom_rng_seed(r, 99);
  loom_tensor *a = P("a", 6, 3), *p = P("p", 6, 3), *n = P("n", 6, 3);
  loom_tensor *y = loom_triplet_margin(g, a, p, n, 0.1f, LOOM_DIST_EUCLIDEAN, LOOM_REDUCE_NONE);
  total += tu_gradcheck(g, y, 1, NULL, NULL, 1e-3, 2e-3, 1e-2);
  int inactive = 0;
  for (int i = 0; i < 6; i++) inactive += y->data[i] == 0.0f;
  assert_true(inactive > 0 && inactive < 6);
  loom_graph_free(g);
  assert_true(total == 12 * 105 + 54);
}

static void test_gradcheck_infonce(void **state) {
  int total = 0;
  for (int opt = 0; opt < 4; opt++)
    for (int red = 0; red < 3; red++) {
      loom_graph *g = loom_graph_new();
      loom_rng rr, *r = &rr;
      loom_rng_seed(r, 120 + opt * 3 + red);
      total += gc(g, loom_infonce(g, P("q", 5, 7), P("k", 5, 7), opt & 1 ? 0.3f : 1.0f, opt & 1, opt >> 1,
                                  (loom_reduction)red));
    }
  assert_true(total == 12 * 70);
}

static void test_gradcheck_l2_normalize_and_cosine(void **state) {
  int total = 0;
  loom_graph *g = loom_graph_new();
  loom_rng rr, *r = &rr;
  loom_rng_seed(r, 150);
  total += gc(g, loom_l2_normalize(g, P("x", 3, 2, 7), 1e-12f));
  g = loom_graph_new();
  total += gc(g, loom_cosine_sim(g, P("a", 2, 3, 5), P("b", 2, 3, 5), 1e-8f));
  g = loom_graph_new(); /* retrieval: score = cos(normalised query, item) */
  total += gc(g, loom_cosine_sim(g, loom_l2_normalize(g, P("q", 4, 5), 1e-12f), P("i", 4, 5), 1e-8f));
  assert_true(total == 42 + 60 + 40);
}

/* ---------------------------------------------------------------- PyTorch parity */

typedef struct {
  loom_graph *g;
  const tu_fixture *fx;
  char pre[16];
  loom_tensor *p[4]; /* tensors whose gradient is compared ("d" + name) */
  const char *pn[4];
  int np;
} fx_ctx;

static const char *key(fx_ctx *c, const char *name) {
  static char buf[128];
  snprintf(buf, sizeof buf, "%s%s", c->pre, name);
  return buf;
}
/* A parameter holding fixture tensor `name`, gradient compared if the fixture has one. */
static loom_tensor *fx_param(fx_ctx *c, const char *name) {
  int ndim, shape[8];
  size_t n;
  const float *v = tu_fixture_f32(c->fx, key(c, name), &n, &ndim, shape);
  loom_tensor *t = loom_param(c->g, name, ndim, shape);
  memcpy(t->data, v, n * sizeof(float));
  c->p[c->np] = t;
  c->pn[c->np++] = name;
  return t;
}
static loom_tensor *fx_input(fx_ctx *c, const char *name, loom_dtype dt) {
  int ndim, shape[8];
  size_t n;
  const void *v = dt == LOOM_F32 ? (const void *)tu_fixture_f32(c->fx, key(c, name), &n, &ndim, shape)
                                 : (const void *)tu_fixture_i32(c->fx, key(c, name), &n, &ndim, shape);
  loom_tensor *t = loom_input(c->g, name, dt, ndim, shape);
  loom_input_bind(t, (void *)v);
  return t;
}
static const int32_t *iopt(fx_ctx *c) { return tu_fixture_i32(c->fx, key(c, "iopt"), NULL, NULL, NULL); }
static float fopt(fx_ctx *c) { return tu_fixture_f32(c->fx, key(c, "fopt"), NULL, NULL, NULL)[0]; }

static loom_tensor *b_bce(fx_ctx *c) {
  const int32_t *o = iopt(c);
  loom_tensor *x = fx_param(c, "x"), *y = fx_param(c, "y");
  return loom_bce_logits(c->g, x, y, o[1] ? fx_input(c, "pw", LOOM_F32) : NULL, (loom_reduction)o[0]);
}
static loom_tensor *b_ce(fx_ctx *c) {
  const int32_t *o = iopt(c);
  loom_tensor *x = fx_param(c, "x");
  return loom_softmax_ce(c->g, x, fx_input(c, "y", LOOM_I32), fopt(c), o[1], (loom_reduction)o[0]);
}
static loom_tensor *b_mse(fx_ctx *c) {
  loom_tensor *a = fx_param(c, "a"), *b = fx_param(c, "b");
  return loom_mse(c->g, a, b, (loom_reduction)iopt(c)[0]);
}
static loom_tensor *b_huber(fx_ctx *c) {
  loom_tensor *a = fx_param(c, "a"), *b = fx_param(c, "b");
  return loom_huber(c->g, a, b, fopt(c), (loom_reduction)iopt(c)[0]);
}
static loom_tensor *b_bpr(fx_ctx *c) {
  loom_tensor *p = fx_param(c, "p"), *q = fx_param(c, "q");
  return loom_bpr(c->g, p, q, (loom_reduction)iopt(c)[0]);
}
static loom_tensor *b_triplet(fx_ctx *c) {
  const int32_t *o = iopt(c);
  loom_tensor *a = fx_param(c, "a"), *p = fx_param(c, "p"), *n = fx_param(c, "n");
  return loom_triplet_margin(c->g, a, p, n, fopt(c), (loom_distance)o[1], (loom_reduction)o[0]);
}
static loom_tensor *b_infonce(fx_ctx *c) {
  const int32_t *o = iopt(c);
  loom_tensor *q = fx_param(c, "q"), *k = fx_param(c, "k");
  return loom_infonce(c->g, q, k, fopt(c), o[1], o[2], (loom_reduction)o[0]);
}
static loom_tensor *b_l2norm(fx_ctx *c) { return loom_l2_normalize(c->g, fx_param(c, "x"), 1e-12f); }
static loom_tensor *b_cossim(fx_ctx *c) {
  loom_tensor *a = fx_param(c, "a"), *b = fx_param(c, "b");
  return loom_cosine_sim(c->g, a, b, 1e-8f);
}

/* Worst fraction of the tolerance used (tu_max_err) by values and by gradients, for the report line. */
static double worst_val, worst_grad;

/* Runs every case of loss_<name>.fix on the current ISA; returns the number of values compared. */
static int parity(const char *name, loom_tensor *(*build)(fx_ctx *)) {
  char file[64];
  snprintf(file, sizeof file, "loss_%s.fix", name);
  tu_fixture *fx = tu_fixture_load(file);
  int n_cases = tu_fixture_i32(fx, "n", NULL, NULL, NULL)[0], compared = 0;
  for (int i = 0; i < n_cases; i++) {
    fx_ctx c = {.g = loom_graph_new(), .fx = fx};
    snprintf(c.pre, sizeof c.pre, "c%d.", i);
    loom_tensor *out = build(&c), *loss = out;
    if (tu_fixture_has(fx, key(&c, "R"))) loss = loom_sum(c.g, loom_mul(c.g, out, fx_input(&c, "R", LOOM_F32)), LOOM_ALL, false);
    if (loom_graph_compile(c.g, 1, 1, &loss, true) != 0) fail_msg("%s %s: %s", file, c.pre, loom_graph_error(c.g));
    loom_graph_zero_grad(c.g);
    loom_graph_forward(c.g);
    loom_graph_backward(c.g, loss);
    size_t n;
    const float *want = tu_fixture_f32(fx, key(&c, "out"), &n, NULL, NULL);
    assert_int_equal(n, loom_tensor_numel(out));
    char what[128];
    snprintf(what, sizeof what, "%s case %d value", name, i);
    tu_assert_close(what, out->data, want, n, 1e-6, 1e-5);
    worst_val = fmax(worst_val, tu_max_err(out->data, want, n, 1e-6, 1e-5));
    compared += (int)n;
    for (int j = 0; j < c.np; j++) {
      char dk[32];
      snprintf(dk, sizeof dk, "d%s", c.pn[j]);
      if (!tu_fixture_has(fx, key(&c, dk))) continue;
      const float *dwant = tu_fixture_f32(fx, key(&c, dk), &n, NULL, NULL);
      assert_int_equal(n, loom_tensor_numel(c.p[j]));
      snprintf(what, sizeof what, "%s case %d d%s", name, i, c.pn[j]);
      tu_assert_close(what, c.p[j]->grad, dwant, n, 1e-6, 1e-4);
      worst_grad = fmax(worst_grad, tu_max_err(c.p[j]->grad, dwant, n, 1e-6, 1e-4));
      compared += (int)n;
    }
    loom_graph_free(c.g);
  }
  tu_fixture_free(fx);
  return compared;
}

static void test_pytorch_parity(void **state) {
  static const struct {
    const char *name;
    loom_tensor *(*build)(fx_ctx *);
  } files[] = {{"bce", b_bce},         {"ce", b_ce},           {"mse", b_mse},       {"bpr", b_bpr},
               {"triplet", b_triplet}, {"infonce", b_infonce}, {"l2norm", b_l2norm}, {"cossim", b_cossim},
               {"huber", b_huber},     {"mse_nn", b_mse}};
  loom_isa best = loom_runtime_isa();
  for (int isa = 0; isa < LOOM_ISA_COUNT; isa++) {
    if (!loom_runtime_set_isa((loom_isa)isa)) continue;
    int total = 0;
    worst_val = worst_grad = 0.0;
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) total += parity(files[f].name, files[f].build);
    print_message("loss parity[%s]: %d values compared with PyTorch; worst |diff| / tolerance: values %.2f, "
                  "gradients %.2f\n", loom_isa_name((loom_isa)isa), total, worst_val, worst_grad);
    assert_true(total > 800);
  }
  loom_runtime_set_isa(best);
}

/* ---------------------------------------------------------------- stability, determinism, errors */

static void test_extreme_logits_stay_finite(void **state) {
  loom_graph *g = loom_graph_new();
  loom_tensor *x = loom_param(g, "x", 2, (int[]){2, 3});
  float xs[6] = {1e4f, -1e4f, 0.0f, -3e4f, 2e4f, 2e4f};
  memcpy(x->data, xs, sizeof xs);
  loom_tensor *y = loom_input(g, "y", LOOM_I32, 1, (int[]){2});
  int32_t ys[2] = {1, 0};
  loom_input_bind(y, ys);
  loom_tensor *ce = loom_softmax_ce(g, x, y, 0.0f, LOOM_CE_IGNORE_DEFAULT, LOOM_REDUCE_NONE);
  loom_tensor *b = loom_param(g, "b", 1, (int[]){4});
  float bs[4] = {100.0f, -100.0f, 100.0f, -100.0f};
  memcpy(b->data, bs, sizeof bs);
  loom_tensor *t = loom_input(g, "t", LOOM_F32, 1, (int[]){4});
  float ts[4] = {1.0f, 0.0f, 0.0f, 1.0f};
  loom_input_bind(t, ts);
  loom_tensor *bce = loom_bce_logits(g, b, t, NULL, LOOM_REDUCE_NONE);
  loom_tensor *outs[2] = {ce, bce};
  assert_int_equal(loom_graph_compile(g, 1, 2, outs, false), 0);
  loom_graph_forward(g);
  /* CE row 0: lse = 1e4, label 1 -> 2e4; row 1: lse = 2e4 + log 2, label 0 -> 5e4 + log 2 */
  assert_float_equal(ce->data[0], 2e4f, 1.0f);
  assert_float_equal(ce->data[1], 5e4f, 1.0f);
  /* BCE: right and confident -> ~e^-100 (0 in float); wrong and confident -> 100 */
  float want[4] = {0.0f, 0.0f, 100.0f, 100.0f};
  tu_assert_close("bce at |x| = 100", bce->data, want, 4, 1e-6, 1e-6);
  loom_graph_free(g);
}

static void test_ce_all_ignored_is_zero(void **state) {
  loom_graph *g = loom_graph_new();
  loom_rng r;
  loom_rng_seed(&r, 3);
  loom_tensor *x = loom_param(g, "x", 2, (int[]){3, 4});
  tu_fill_uniform(x->data, 12, -1, 1, &r);
  loom_tensor *y = loom_input(g, "y", LOOM_I32, 1, (int[]){3});
  int32_t ys[3] = {-100, -100, -100};
  loom_input_bind(y, ys);
  loom_tensor *l = loom_softmax_ce(g, x, y, 0.1f, -100, LOOM_REDUCE_MEAN);
  assert_int_equal(loom_graph_compile(g, 1, 1, &l, true), 0);
  loom_graph_zero_grad(g);
  loom_graph_forward(g);
  loom_graph_backward(g, l);
  assert_true(l->data[0] == 0.0f);
  for (int i = 0; i < 12; i++) assert_true(x->grad[i] == 0.0f);
  loom_graph_free(g);
}

/* Losses over more than one parallel grain: bit-identical values and gradients with 1 and 2 threads. */
static float *run_big(int threads, float out[3], size_t *n_grads) {
  loom_set_num_threads(threads);
  loom_graph *g = loom_graph_new();
  loom_rng r;
  loom_rng_seed(&r, 5);
  const int B = 300, C = 131, D = 64;
  loom_tensor *x = loom_param(g, "x", 2, (int[]){B, C});
  loom_tensor *q = loom_param(g, "q", 2, (int[]){B, D}), *k = loom_param(g, "k", 2, (int[]){B, D});
  loom_tensor *m = loom_param(g, "m", 1, (int[]){50000});
  tu_fill_uniform(loom_graph_params(g), loom_graph_n_params(g), -2, 2, &r);
  loom_tensor *y = loom_input(g, "y", LOOM_I32, 1, (int[]){B});
  int32_t *ys = malloc(B * sizeof(int32_t));
  for (int i = 0; i < B; i++) ys[i] = (int32_t)loom_rng_below(&r, C);
  loom_input_bind(y, ys);
  loom_tensor *zeros = loom_input(g, "z", LOOM_F32, 1, (int[]){50000});
  float *zs = calloc(50000, sizeof(float));
  loom_input_bind(zeros, zs);
  loom_tensor *l1 = loom_softmax_ce(g, x, y, 0.1f, -100, LOOM_REDUCE_MEAN);
  loom_tensor *l2 = loom_infonce(g, q, k, 0.1f, true, true, LOOM_REDUCE_MEAN);
  loom_tensor *l3 = loom_mse(g, m, zeros, LOOM_REDUCE_MEAN);
  loom_tensor *loss = loom_add(g, loom_add(g, l1, l2), l3);
  assert_int_equal(loom_graph_compile(g, 1, 1, &loss, true), 0);
  loom_graph_zero_grad(g);
  loom_graph_forward(g);
  loom_graph_backward(g, loss);
  out[0] = l1->data[0];
  out[1] = l2->data[0];
  out[2] = l3->data[0];
  *n_grads = loom_graph_n_params(g);
  float *grads = malloc(*n_grads * sizeof(float));
  memcpy(grads, loom_graph_grads(g), *n_grads * sizeof(float));
  free(ys);
  free(zs);
  loom_graph_free(g);
  return grads;
}
static void test_same_results_for_any_thread_count(void **state) {
  int saved = loom_num_threads();
  size_t n1, n2;
  float o1[3], o2[3], *g1 = run_big(1, o1, &n1), *g2 = run_big(2, o2, &n2);
  loom_set_num_threads(saved);
  assert_int_equal(n1, n2);
  assert_memory_equal(o1, o2, sizeof o1);
  assert_memory_equal(g1, g2, n1 * sizeof(float));
  free(g1);
  free(g2);
}

static void test_shape_errors(void **state) {
  loom_graph *g = loom_graph_new();
  loom_tensor *x = loom_param(g, "x", 2, (int[]){4, 3});
  loom_tensor *yf = loom_input(g, "yf", LOOM_F32, 1, (int[]){4});
  loom_tensor *l = loom_softmax_ce(g, x, yf, 0.0f, -100, LOOM_REDUCE_MEAN);
  assert_int_equal(loom_graph_compile(g, 1, 1, &l, true), -1);
  assert_non_null(strstr(loom_graph_error(g), "int32"));
  loom_tensor *t = loom_input(g, "t", LOOM_F32, 2, (int[]){4, 2});
  l = loom_bce_logits(g, x, t, NULL, LOOM_REDUCE_MEAN);
  assert_int_equal(loom_graph_compile(g, 1, 1, &l, true), -1);
  assert_non_null(strstr(loom_graph_error(g), "(4, 2)"));
  loom_tensor *pw = loom_param(g, "pw", 1, (int[]){3});
  loom_tensor *t2 = loom_input(g, "t2", LOOM_F32, 2, (int[]){4, 3});
  l = loom_bce_logits(g, x, t2, pw, LOOM_REDUCE_MEAN);
  assert_int_equal(loom_graph_compile(g, 1, 1, &l, true), -1);
  assert_non_null(strstr(loom_graph_error(g), "constant"));
  loom_tensor *q = loom_param(g, "q", 2, (int[]){4, 5});
  l = loom_infonce(g, x, q, 0.1f, true, false, LOOM_REDUCE_MEAN);
  assert_int_equal(loom_graph_compile(g, 1, 1, &l, true), -1);
  assert_non_null(strstr(loom_graph_error(g), "(B, D)"));
  loom_graph_free(g);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_gradcheck_bce),
      cmocka_unit_test(test_gradcheck_softmax_ce),
      cmocka_unit_test(test_gradcheck_mse_bpr),
      cmocka_unit_test(test_gradcheck_triplet),
      cmocka_unit_test(test_gradcheck_infonce),
      cmocka_unit_test(test_gradcheck_l2_normalize_and_cosine),
      cmocka_unit_test(test_pytorch_parity),
      cmocka_unit_test(test_extreme_logits_stay_finite),
      cmocka_unit_test(test_ce_all_ignored_is_zero),
      cmocka_unit_test(test_same_results_for_any_thread_count),
      cmocka_unit_test(test_shape_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
