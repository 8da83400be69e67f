/* test_conv.c — Conv2D and pooling: gradient checks on odd sizes, Conv2D against a direct 7-loop
 * convolution (forward and every gradient), pooling against naive loops, PyTorch parity fixtures
 * (tests/reference/gen_conv.py), the layer builders, bit-identical results for 1 and 2 threads and no
 * heap allocation inside a step. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "graph_internal.h"
#include "testutil.h"

static loom_tensor *prm(loom_graph *g, const char *name, int ndim, const int *shape, loom_rng *r) {
  loom_tensor *t = loom_param(g, name, ndim, shape);
  tu_fill_uniform(t->data, loom_tensor_numel(t), -1.0f, 1.0f, r);
  return t;
}

/* Distinct values 0.05 apart in random order, so max pooling has no near-ties for finite differences. */
static void fill_distinct(float *x, size_t n, loom_rng *r) {
  int32_t *perm = malloc(n * sizeof *perm);
  for (size_t i = 0; i < n; i++) perm[i] = (int32_t)i;
  loom_rng_shuffle(r, perm, (int64_t)n);
  for (size_t i = 0; i < n; i++) x[i] = 0.05f * ((float)perm[i] - (float)n / 2);
  free(perm);
}

static const loom_padding VALID = {LOOM_CONV_PAD_VALID, 0, 0}, SAME = {LOOM_CONV_PAD_SAME, 0, 0};
static loom_padding explicit_pad(int h, int w) { return (loom_padding){LOOM_CONV_PAD_EXPLICIT, h, w}; }

/* ---------------------------------------------------------------- conv configurations */

typedef struct {
  const char *what;
  int B, C, H, W, O, kh, kw, sh, sw;
  loom_padding pad;
  bool bias;
} conv_cfg;

static const conv_cfg conv_cfgs[] = {
    {"3x3 stride 2 same", 2, 3, 7, 6, 5, 3, 3, 2, 2, {LOOM_CONV_PAD_SAME, 0, 0}, true},
    {"3x3 stride 2 valid", 2, 3, 7, 6, 5, 3, 3, 2, 2, {LOOM_CONV_PAD_VALID, 0, 0}, true},
    {"3x3 stride 2 explicit (1, 1)", 2, 3, 7, 6, 5, 3, 3, 2, 2, {LOOM_CONV_PAD_EXPLICIT, 1, 1}, true},
    {"3x2 stride (2, 1) explicit (1, 2)", 2, 3, 7, 6, 4, 3, 2, 2, 1, {LOOM_CONV_PAD_EXPLICIT, 1, 2}, true},
    {"4x4 stride 1 same (asymmetric)", 2, 2, 7, 6, 3, 4, 4, 1, 1, {LOOM_CONV_PAD_SAME, 0, 0}, true},
    {"5x5 same over a 3x4 image", 2, 2, 3, 4, 3, 5, 5, 1, 1, {LOOM_CONV_PAD_SAME, 0, 0}, false},
    {"2x2 stride 3 valid (gaps)", 3, 2, 8, 7, 3, 2, 2, 3, 3, {LOOM_CONV_PAD_VALID, 0, 0}, true},
    {"1x1 (identity columns), one block", 8, 3, 7, 6, 4, 1, 1, 1, 1, {LOOM_CONV_PAD_VALID, 0, 0}, true},
    {"1x1, one sample per block", 2, 3, 17, 17, 4, 1, 1, 1, 1, {LOOM_CONV_PAD_VALID, 0, 0}, true},
    {"3x3 valid, one sample per block", 2, 2, 20, 20, 3, 3, 3, 1, 1, {LOOM_CONV_PAD_VALID, 0, 0}, true},
    {"3x3 valid, uneven blocks of 4 and 3", 7, 2, 12, 12, 3, 3, 3, 1, 1, {LOOM_CONV_PAD_VALID, 0, 0}, true},
};
#define N_CONV_CFGS (int)(sizeof conv_cfgs / sizeof conv_cfgs[0])

typedef struct {
  loom_graph *g;
  loom_tensor *x, *w, *b, *y;
} conv_net;

static conv_net build_conv(const conv_cfg *c, loom_rng *r) {
  conv_net n;
  n.g = loom_graph_new();
  n.x = prm(n.g, "x", 4, (int[]){c->B, c->C, c->H, c->W}, r);
  n.w = prm(n.g, "w", 4, (int[]){c->O, c->C, c->kh, c->kw}, r);
  n.b = c->bias ? prm(n.g, "b", 1, (int[]){c->O}, r) : NULL;
  n.y = loom_conv2d(n.g, n.x, n.w, n.b, c->sh, c->sw, c->pad);
  return n;
}

static void test_conv2d_gradcheck(void **state) {
  int total = 0;
  for (int i = 0; i < N_CONV_CFGS; i++) {
    if (conv_cfgs[i].H * conv_cfgs[i].W > 200) continue; /* the big ones are checked against naive loops */
    loom_rng r;
    loom_rng_seed(&r, 100 + (uint64_t)i);
    conv_net n = build_conv(&conv_cfgs[i], &r);
    total += tu_gradcheck(n.g, n.y, 1, NULL, NULL, 1e-2, 2e-3, 1e-2);
    loom_graph_free(n.g);
  }
  print_message("conv2d gradcheck: %d elements\n", total);
  assert_true(total > 1000);
}

/* Output size and top/left pad by the rule of each padding mode, computed independently. */
static void ref_pads(const conv_cfg *c, int *Ho, int *Wo, int *pt, int *pl) {
  if (c->pad.mode == LOOM_CONV_PAD_VALID) {
    *Ho = (c->H - c->kh) / c->sh + 1, *Wo = (c->W - c->kw) / c->sw + 1, *pt = *pl = 0;
  } else if (c->pad.mode == LOOM_CONV_PAD_EXPLICIT) {
    *Ho = (c->H + 2 * c->pad.h - c->kh) / c->sh + 1, *Wo = (c->W + 2 * c->pad.w - c->kw) / c->sw + 1;
    *pt = c->pad.h, *pl = c->pad.w;
  } else {
    *Ho = (int)ceil((double)c->H / c->sh), *Wo = (int)ceil((double)c->W / c->sw);
    int th = (*Ho - 1) * c->sh + c->kh - c->H, tw = (*Wo - 1) * c->sw + c->kw - c->W;
    *pt = th > 0 ? th / 2 : 0, *pl = tw > 0 ? tw / 2 : 0;
  }
}

/* ops_conv.c: batches whose column matrices fit are kept from forward for backward */
extern size_t loom_conv_keep_floats;

/* y = conv(x) with loss = sum(y * R): forward, dx, dw, db by direct loops in double; once with the
 * column matrices kept from forward, once rebuilt in backward. */
static void test_conv2d_matches_direct_convolution(void **state) {
  const size_t keep0 = loom_conv_keep_floats;
  for (int pass = 0; pass < 2 * N_CONV_CFGS; pass++) {
    const int ci = pass % N_CONV_CFGS;
    loom_conv_keep_floats = pass < N_CONV_CFGS ? keep0 : 0;
    const conv_cfg *c = &conv_cfgs[ci];
    loom_rng r;
    loom_rng_seed(&r, 200 + (uint64_t)ci);
    conv_net n = build_conv(c, &r);
    int Ho, Wo, pt, pl;
    ref_pads(c, &Ho, &Wo, &pt, &pl);
    loom_tensor *R = loom_input(n.g, "R", LOOM_F32, 4, (int[]){c->B, c->O, Ho, Wo});
    loom_tensor *loss = loom_sum(n.g, loom_mul(n.g, n.y, R), LOOM_ALL, false);
    assert_int_equal(loom_graph_compile(n.g, 1, 1, &loss, true), 0);
    assert_int_equal(n.y->shape[2], Ho);
    assert_int_equal(n.y->shape[3], Wo);
    tu_fill_uniform(R->data, loom_tensor_numel(R), -1, 1, &r);
    loom_graph_zero_grad(n.g);
    loom_graph_forward(n.g);
    loom_graph_backward(n.g, loss);

    const size_t ny = loom_tensor_numel(n.y), nx = loom_tensor_numel(n.x), nw = loom_tensor_numel(n.w);
    double *y = calloc(ny, sizeof *y), *dx = calloc(nx, sizeof *dx), *dw = calloc(nw, sizeof *dw),
           *db = calloc((size_t)c->O, sizeof *db);
    const float *X = n.x->data, *Wt = n.w->data, *Rv = R->data;
    for (int b = 0; b < c->B; b++)
      for (int o = 0; o < c->O; o++)
        for (int oh = 0; oh < Ho; oh++)
          for (int ow = 0; ow < Wo; ow++) {
            const size_t yi = (((size_t)b * c->O + o) * Ho + oh) * Wo + ow;
            double s = n.b ? n.b->data[o] : 0.0;
            for (int ch = 0; ch < c->C; ch++)
              for (int i = 0; i < c->kh; i++)
                for (int j = 0; j < c->kw; j++) {
                  int ih = oh * c->sh - pt + i, iw = ow * c->sw - pl + j;
                  if (ih < 0 || ih >= c->H || iw < 0 || iw >= c->W) continue;
                  size_t xi = (((size_t)b * c->C + ch) * c->H + ih) * c->W + iw;
                  size_t wi = (((size_t)o * c->C + ch) * c->kh + i) * c->kw + j;
                  s += (double)X[xi] * Wt[wi];
                  dx[xi] += (double)Wt[wi] * Rv[yi];
                  dw[wi] += (double)X[xi] * Rv[yi];
                }
            y[yi] = s;
            db[o] += Rv[yi];
          }
    float *f = malloc(sizeof(float) * (ny > nx ? (ny > nw ? ny : nw) : (nx > nw ? nx : nw)));
#define CHECK(what, ref, cnt, got)                                                                \
  do {                                                                                            \
    for (size_t k = 0; k < (cnt); k++) f[k] = (float)(ref)[k];                                    \
    tu_assert_close(what, got, f, cnt, 1e-5, 1e-4);                                               \
  } while (0)
    print_message("direct conv: %s%s\n", c->what, loom_conv_keep_floats ? "" : " (columns rebuilt in backward)");
    CHECK("conv y", y, ny, n.y->data);
    CHECK("conv dx", dx, nx, n.x->grad);
    CHECK("conv dw", dw, nw, n.w->grad);
    if (n.b) CHECK("conv db", db, (size_t)c->O, n.b->grad);
#undef CHECK
    free(f), free(y), free(dx), free(dw), free(db);
    loom_graph_free(n.g);
  }
  loom_conv_keep_floats = keep0;
}

static void test_conv2d_shape_errors(void **state) {
  loom_graph *g = loom_graph_new();
  loom_tensor *x = loom_input(g, "img", LOOM_F32, 4, (int[]){LOOM_BATCH, 3, 4, 4});
  loom_tensor *w = loom_param(g, "w", 4, (int[]){8, 2, 3, 3});
  loom_tensor *y = loom_conv2d(g, x, w, NULL, 1, 1, VALID);
  assert_int_equal(loom_graph_compile(g, 2, 1, &y, false), -1);
  assert_non_null(strstr(loom_graph_error(g), "want (C_out, 3, kh, kw)"));
  loom_tensor *w5 = loom_param(g, "w5", 4, (int[]){8, 3, 5, 5});
  y = loom_conv2d(g, x, w5, NULL, 1, 1, VALID);
  assert_int_equal(loom_graph_compile(g, 2, 1, &y, false), -1);
  assert_non_null(strstr(loom_graph_error(g), "does not fit input (2, 3, 4, 4)"));
  y = loom_conv2d(g, x, w5, NULL, 1, 1, SAME); /* same padding always fits */
  assert_int_equal(loom_graph_compile(g, 2, 1, &y, false), 0);
  assert_int_equal(y->shape[2], 4);
  loom_tensor *p = loom_maxpool2d(g, x, 3, 3, 1, 1, explicit_pad(2, 1));
  assert_int_equal(loom_graph_compile(g, 2, 1, &p, false), -1);
  assert_non_null(strstr(loom_graph_error(g), "at most half"));
  loom_graph_free(g);
}

/* ---------------------------------------------------------------- pooling */

typedef struct {
  const char *what;
  int B, C, H, W, kh, kw, sh, sw;
  loom_padding pad;
  bool incl;
} pool_cfg;

static const pool_cfg pool_cfgs[] = {
    {"2x2 stride 2 on 7x6", 2, 3, 7, 6, 2, 2, 2, 2, {LOOM_CONV_PAD_VALID, 0, 0}, true},
    {"3x3 stride 2 on 7x6 (overlap)", 2, 3, 7, 6, 3, 3, 2, 2, {LOOM_CONV_PAD_VALID, 0, 0}, true},
    {"3x2 stride (1, 3) explicit (1, 1)", 2, 2, 7, 6, 3, 2, 1, 3, {LOOM_CONV_PAD_EXPLICIT, 1, 1}, true},
    {"3x3 stride 2 explicit (1, 1), exclude pad", 2, 2, 7, 6, 3, 3, 2, 2, {LOOM_CONV_PAD_EXPLICIT, 1, 1}, false},
    {"3x3 stride 2 same (TF)", 2, 3, 7, 6, 3, 3, 2, 2, {LOOM_CONV_PAD_SAME, 0, 0}, false},
    {"2x2 stride 3 (gaps)", 1, 2, 8, 7, 2, 2, 3, 3, {LOOM_CONV_PAD_VALID, 0, 0}, true},
};
#define N_POOL_CFGS (int)(sizeof pool_cfgs / sizeof pool_cfgs[0])

static void test_pool_gradcheck(void **state) {
  int total = 0;
  for (int i = 0; i < N_POOL_CFGS; i++)
    for (int max = 0; max < 2; max++) {
      const pool_cfg *c = &pool_cfgs[i];
      loom_rng r;
      loom_rng_seed(&r, 300 + (uint64_t)i);
      loom_graph *g = loom_graph_new();
      loom_tensor *x = loom_param(g, "x", 4, (int[]){c->B, c->C, c->H, c->W});
      fill_distinct(x->data, loom_tensor_numel(x), &r);
      loom_tensor *y = max ? loom_maxpool2d(g, x, c->kh, c->kw, c->sh, c->sw, c->pad)
                           : loom_avgpool2d(g, x, c->kh, c->kw, c->sh, c->sw, c->pad, c->incl);
      total += tu_gradcheck(g, y, 1, NULL, NULL, 1e-2, 2e-3, 1e-2);
      loom_graph_free(g);
    }
  loom_rng r;
  loom_rng_seed(&r, 399);
  loom_graph *g = loom_graph_new();
  loom_tensor *y = loom_global_avgpool(g, prm(g, "x", 4, (int[]){2, 3, 5, 7}, &r));
  total += tu_gradcheck(g, y, 1, NULL, NULL, 1e-2, 2e-3, 1e-2);
  loom_graph_free(g);
  print_message("pooling gradcheck: %d elements\n", total);
  assert_true(total > 1000);
}

/* Pooling forward against direct loops over the padded window. */
static void test_pool_matches_naive(void **state) {
  for (int i = 0; i < N_POOL_CFGS; i++) {
    const pool_cfg *c = &pool_cfgs[i];
    loom_rng r;
    loom_rng_seed(&r, 400 + (uint64_t)i);
    loom_graph *g = loom_graph_new();
    loom_tensor *x = prm(g, "x", 4, (int[]){c->B, c->C, c->H, c->W}, &r);
    loom_tensor *mx = loom_maxpool2d(g, x, c->kh, c->kw, c->sh, c->sw, c->pad);
    loom_tensor *av = loom_avgpool2d(g, x, c->kh, c->kw, c->sh, c->sw, c->pad, c->incl);
    assert_int_equal(loom_graph_compile(g, 1, 2, (loom_tensor *[]){mx, av}, false), 0);
    loom_graph_forward(g);
    conv_cfg cc = {"", c->B, c->C, c->H, c->W, 1, c->kh, c->kw, c->sh, c->sw, c->pad, false};
    int Ho, Wo, pt, pl;
    ref_pads(&cc, &Ho, &Wo, &pt, &pl);
    assert_int_equal(mx->shape[2], Ho);
    assert_int_equal(mx->shape[3], Wo);
    size_t n = loom_tensor_numel(mx);
    float *wmax = malloc(n * sizeof(float)), *wavg = malloc(n * sizeof(float));
    /* the padded image reaches pt/pl before and pb/pr after (what the last window needs) */
    int pb = (Ho - 1) * c->sh + c->kh - c->H - pt, pr = (Wo - 1) * c->sw + c->kw - c->W - pl;
    pb = pb < 0 ? 0 : pb, pr = pr < 0 ? 0 : pr;
    for (int p = 0; p < c->B * c->C; p++)
      for (int oh = 0; oh < Ho; oh++)
        for (int ow = 0; ow < Wo; ow++) {
          float m = -INFINITY;
          double s = 0;
          int cnt = 0, cnt_pad = 0;
          for (int a = 0; a < c->kh; a++)
            for (int b = 0; b < c->kw; b++) {
              int ih = oh * c->sh - pt + a, iw = ow * c->sw - pl + b;
              if (ih < c->H + pb && iw < c->W + pr) cnt_pad++;
              if (ih < 0 || iw < 0 || ih >= c->H || iw >= c->W) continue;
              float v = x->data[((size_t)p * c->H + ih) * c->W + iw];
              m = v > m ? v : m;
              s += v;
              cnt++;
            }
          wmax[((size_t)p * Ho + oh) * Wo + ow] = m;
          wavg[((size_t)p * Ho + oh) * Wo + ow] = (float)(s / (c->incl ? cnt_pad : cnt));
        }
    print_message("naive pool: %s\n", c->what);
    tu_assert_close("maxpool", mx->data, wmax, n, 0, 0);
    tu_assert_close("avgpool", av->data, wavg, n, 1e-6, 1e-5);
    free(wmax), free(wavg);
    loom_graph_free(g);
  }
}

static void test_global_avgpool_is_plane_mean(void **state) {
  loom_graph *g = loom_graph_new();
  loom_tensor *x = loom_input(g, "x", LOOM_F32, 4, (int[]){LOOM_BATCH, 2, 3, 5});
  loom_tensor *y = loom_layer_global_avgpool(g, "gap", x);
  assert_int_equal(loom_graph_compile(g, 3, 1, &y, false), 0);
  assert_int_equal(y->ndim, 2);
  assert_int_equal(y->shape[1], 2);
  for (int i = 0; i < 90; i++) x->data[i] = (float)i;
  loom_graph_forward(g);
  for (int p = 0; p < 6; p++) assert_float_equal(y->data[p], 15 * p + 7.0f, 1e-5);
  loom_graph_free(g);
}

/* NaN propagates through max pooling (PyTorch: `val > max || isnan(val)`), border and interior. */
static void test_maxpool_propagates_nan(void **state) {
  loom_graph *g = loom_graph_new();
  loom_tensor *x = loom_input(g, "x", LOOM_F32, 4, (int[]){1, 1, 4, 6});
  loom_tensor *y = loom_maxpool2d(g, x, 2, 2, 2, 2, explicit_pad(1, 1));
  assert_int_equal(loom_graph_compile(g, 1, 1, &y, false), 0);
  for (int i = 0; i < 24; i++) x->data[i] = (float)i;
  x->data[0] = NAN;      /* top-left window (border) */
  x->data[2 * 6 + 2] = NAN; /* an interior window */
  loom_graph_forward(g);
  assert_int_equal(y->shape[2], 3);
  assert_int_equal(y->shape[3], 4);
  for (int i = 0; i < 12; i++) {
    const bool want_nan = i == 0 || i == 5; /* (0, 0) and (1, 1) */
    assert_true(isnan(y->data[i]) == want_nan);
  }
  assert_float_equal(y->data[1], 2.0f, 0);
  assert_float_equal(y->data[11], 23.0f, 0);
  loom_graph_free(g);
}

/* One graph compiled for batch 5, then 1, then 5 again (other GEMM blocks, other scratch): every
 * sample's output and the weight gradient agree with running the samples one by one. */
static void test_recompile_for_other_batch_sizes(void **state) {
  loom_rng r;
  loom_rng_seed(&r, 8);
  loom_graph *g = loom_graph_new();
  loom_tensor *x = loom_input(g, "x", LOOM_F32, 4, (int[]){LOOM_BATCH, 2, 9, 8});
  loom_conv2d_opts o = loom_conv2d_opts_default(2, 4, 3);
  o.padding = SAME;
  o.stride_h = 2;
  loom_tensor *y = loom_layer_conv2d(g, "c", x, &o, &r);
  loom_tensor *loss = loom_sum(g, y, LOOM_ALL, false);
  loom_tensor *w = loom_graph_find(g, "c.weight");
  const size_t in = 2 * 9 * 8, out = 4 * 5 * 8;
  float xs[5 * 144], ys[5 * 160], dw_all[72], dw_sum[72] = {0};
  tu_fill_uniform(xs, 5 * in, -1, 1, &r);
  assert_int_equal(loom_graph_compile(g, 5, 1, &loss, true), 0);
  memcpy(x->data, xs, sizeof xs);
  loom_graph_zero_grad(g);
  loom_graph_forward(g);
  loom_graph_backward(g, loss);
  memcpy(ys, y->data, sizeof ys);
  memcpy(dw_all, w->grad, sizeof dw_all);
  assert_int_equal(loom_graph_compile(g, 1, 1, &loss, true), 0);
  for (int n = 0; n < 5; n++) {
    memcpy(x->data, xs + n * in, in * sizeof(float));
    loom_graph_zero_grad(g);
    loom_graph_forward(g);
    loom_graph_backward(g, loss);
    tu_assert_close("per-sample y", y->data, ys + n * out, out, 1e-6, 1e-6);
    for (int k = 0; k < 72; k++) dw_sum[k] += w->grad[k];
  }
  tu_assert_close("dw, batch vs samples", dw_all, dw_sum, 72, 1e-5, 1e-5);
  assert_int_equal(loom_graph_compile(g, 5, 1, &loss, true), 0);
  memcpy(x->data, xs, sizeof xs);
  loom_graph_forward(g);
  tu_assert_close("batch 5 again", y->data, ys, 5 * out, 0, 0);
  loom_graph_free(g);
}

/* ---------------------------------------------------------------- layers */

static void test_conv2d_layer_names_init_and_activation(void **state) {
  loom_rng r;
  loom_rng_seed(&r, 5);
  loom_graph *g = loom_graph_new();
  loom_tensor *x = loom_input(g, "img", LOOM_F32, 4, (int[]){LOOM_BATCH, 3, 9, 9});
  loom_conv2d_opts o = loom_conv2d_opts_default(3, 16, 3);
  o.activation = LOOM_ACT_RELU;
  o.init = LOOM_INIT_HE_UNIFORM;
  o.padding = SAME;
  loom_tensor *y = loom_layer_conv2d(g, "features.0", x, &o, &r);
  loom_conv2d_opts o2 = loom_conv2d_opts_default(16, 4, 1);
  o2.init = LOOM_INIT_TORCH_DEFAULT;
  o2.stride_h = o2.stride_w = 2;
  loom_tensor *y2 = loom_layer_conv2d(g, "features.2", y, &o2, &r);
  loom_pool2d_opts po = {.kernel_h = 2, .kernel_w = 2};
  loom_tensor *p = loom_layer_maxpool2d(g, "pool", y2, &po);
  assert_int_equal(loom_graph_compile(g, 2, 1, &p, false), 0);
  assert_int_equal(y->op, LOOM_OP_RELU);
  assert_int_equal(y->shape[2], 9);
  assert_int_equal(y2->shape[2], 5);
  assert_int_equal(p->shape[2], 2); /* stride defaults to the kernel */
  loom_tensor *w = loom_graph_find(g, "features.0.weight"), *b = loom_graph_find(g, "features.0.bias");
  loom_tensor *w2 = loom_graph_find(g, "features.2.weight"), *b2 = loom_graph_find(g, "features.2.bias");
  assert_non_null(w), assert_non_null(b), assert_non_null(w2), assert_non_null(b2);
  assert_int_equal(w->shape[0], 16), assert_int_equal(w->shape[1], 3), assert_int_equal(w->shape[3], 3);
  const float he = sqrtf(6.0f / 27), torch = 1.0f / sqrtf(16);
  float maxw = 0, maxb = 0, maxw2 = 0, maxb2 = 0;
  for (int i = 0; i < 16 * 27; i++) maxw = fmaxf(maxw, fabsf(w->data[i]));
  for (int i = 0; i < 16; i++) maxb = fmaxf(maxb, fabsf(b->data[i]));
  for (int i = 0; i < 64; i++) maxw2 = fmaxf(maxw2, fabsf(w2->data[i]));
  for (int i = 0; i < 4; i++) maxb2 = fmaxf(maxb2, fabsf(b2->data[i]));
  assert_true(maxw <= he && maxw > 0.8f * he);
  assert_true(maxb == 0.0f); /* Keras-style: zero bias */
  assert_true(maxw2 <= torch && maxw2 > 0.5f * torch);
  assert_true(maxb2 <= torch && maxb2 > 0.0f); /* torch default: uniform bias too */
  loom_graph_free(g);
}

/* ---------------------------------------------------------------- PyTorch parity */

/* conv.fix: for each case k, conv{k}.x/.w/.b/.y/.dy/.dx/.dw/.db and conv{k}.cfg = [stride_h, stride_w,
 * mode, ph, pw, has_bias]; pool{k}.* likewise with cfg = [kind (0 max, 1 avg), kh, kw, sh, sw, mode, ph,
 * pw, count_include_pad]. */
static void load_param(loom_tensor *t, const tu_fixture *fx, const char *name) {
  size_t n;
  const float *v = tu_fixture_f32(fx, name, &n, NULL, NULL);
  assert_int_equal(n, loom_tensor_numel(t));
  memcpy(t->data, v, n * sizeof(float));
}

static int parity_case(const tu_fixture *fx, const char *prefix) {
  char nm[128];
#define NM(s) (snprintf(nm, sizeof nm, "%s.%s", prefix, s), nm)
  if (!tu_fixture_has(fx, NM("x"))) return 0;
  int xs[8], ys[8], ws[8];
  tu_fixture_f32(fx, NM("x"), NULL, NULL, xs);
  tu_fixture_f32(fx, NM("y"), NULL, NULL, ys);
  const int32_t *cfg = tu_fixture_i32(fx, NM("cfg"), NULL, NULL, NULL);
  const bool conv = prefix[0] == 'c';
  loom_graph *g = loom_graph_new();
  loom_tensor *x = loom_param(g, "x", 4, xs), *w = NULL, *b = NULL, *y;
  load_param(x, fx, NM("x"));
  if (conv) {
    tu_fixture_f32(fx, NM("w"), NULL, NULL, ws);
    w = loom_param(g, "w", 4, ws);
    load_param(w, fx, NM("w"));
    if (cfg[5]) {
      b = loom_param(g, "b", 1, (int[]){ws[0]});
      load_param(b, fx, NM("b"));
    }
    y = loom_conv2d(g, x, w, b, cfg[0], cfg[1], (loom_padding){(loom_conv_pad_mode)cfg[2], cfg[3], cfg[4]});
  } else {
    loom_padding pad = {(loom_conv_pad_mode)cfg[5], cfg[6], cfg[7]};
    y = cfg[0] == 0 ? loom_maxpool2d(g, x, cfg[1], cfg[2], cfg[3], cfg[4], pad)
                    : loom_avgpool2d(g, x, cfg[1], cfg[2], cfg[3], cfg[4], pad, cfg[8]);
  }
  loom_tensor *dy = loom_input(g, "dy", LOOM_F32, 4, ys);
  loom_tensor *loss = loom_sum(g, loom_mul(g, y, dy), LOOM_ALL, false);
  assert_int_equal(loom_graph_compile(g, 1, 1, &loss, true), 0);
  assert_memory_equal(y->shape, ys, sizeof(int) * 4);
  memcpy(dy->data, tu_fixture_f32(fx, NM("dy"), NULL, NULL, NULL), loom_tensor_numel(y) * sizeof(float));
  loom_graph_zero_grad(g);
  loom_graph_forward(g);
  loom_graph_backward(g, loss);
  print_message("parity %s: x (%d, %d, %d, %d) -> y (%d, %d, %d, %d)\n", prefix, xs[0], xs[1], xs[2], xs[3], ys[0],
                ys[1], ys[2], ys[3]);
  /* relative error against PyTorch: forward 1e-5, gradients 1e-4 (atol covers values near zero) */
  tu_assert_close(NM("y"), y->data, tu_fixture_f32(fx, NM("y"), NULL, NULL, NULL), loom_tensor_numel(y), 1e-5, 1e-5);
  tu_assert_close(NM("dx"), x->grad, tu_fixture_f32(fx, NM("dx"), NULL, NULL, NULL), loom_tensor_numel(x), 1e-4, 1e-4);
  if (w) tu_assert_close(NM("dw"), w->grad, tu_fixture_f32(fx, NM("dw"), NULL, NULL, NULL), loom_tensor_numel(w), 1e-4, 1e-4);
  if (b) tu_assert_close(NM("db"), b->grad, tu_fixture_f32(fx, NM("db"), NULL, NULL, NULL), loom_tensor_numel(b), 1e-4, 1e-4);
#undef NM
  loom_graph_free(g);
  return 1;
}

static void test_pytorch_parity(void **state) {
  tu_fixture *fx = tu_fixture_load("conv.fix");
  int n_conv = 0, n_pool = 0;
  char p[32];
  for (int k = 0; k < 64; k++) {
    snprintf(p, sizeof p, "conv%d", k);
    n_conv += parity_case(fx, p);
    snprintf(p, sizeof p, "pool%d", k);
    n_pool += parity_case(fx, p);
  }
  print_message("parity: %d conv cases, %d pool cases\n", n_conv, n_pool);
  assert_true(n_conv >= 6 && n_pool >= 4);
  tu_fixture_free(fx);
}

/* ---------------------------------------------------------------- threads and allocation */

typedef struct {
  loom_graph *g;
  loom_tensor *x, *loss;
} cnn;

/* A small CNN (conv-relu-pool, conv-batchnorm-relu-pool, 1x1 conv, global pool) in training mode,
 * big enough that every op runs multi-threaded and the conv takes several blocks. */
static cnn build_cnn(int batch) {
  cnn m;
  loom_rng r;
  loom_rng_seed(&r, 21);
  m.g = loom_graph_new();
  m.x = loom_input(m.g, "x", LOOM_F32, 4, (int[]){LOOM_BATCH, 3, 18, 17});
  loom_conv2d_opts c1 = loom_conv2d_opts_default(3, 8, 3), c2 = loom_conv2d_opts_default(8, 12, 3), c3 = loom_conv2d_opts_default(12, 6, 1);
  c1.activation = LOOM_ACT_RELU;
  c1.padding = SAME;
  c2.stride_h = 2;
  loom_pool2d_opts p = {.kernel_h = 2, .kernel_w = 2};
  loom_tensor *h = loom_layer_maxpool2d(m.g, "p1", loom_layer_conv2d(m.g, "c1", m.x, &c1, &r), &p);
  loom_batchnorm_opts bn = loom_batchnorm_opts_default(12);
  h = loom_relu(m.g, loom_layer_batchnorm2d(m.g, "bn2", loom_layer_conv2d(m.g, "c2", h, &c2, &r), &bn, NULL));
  h = loom_layer_avgpool2d(m.g, "p2", h, &(loom_pool2d_opts){2, 2, 1, 1, SAME, false});
  h = loom_global_avgpool(m.g, loom_layer_conv2d(m.g, "c3", h, &c3, &r));
  m.loss = loom_sum(m.g, loom_mul(m.g, h, h), LOOM_ALL, false);
  assert_int_equal(loom_graph_compile(m.g, batch, 1, &m.loss, true), 0);
  loom_graph_set_training(m.g, true);
  tu_fill_uniform(m.x->data, loom_tensor_numel(m.x), -1, 1, &r);
  return m;
}

static void test_same_results_for_1_and_2_threads(void **state) {
  const int threads0 = loom_num_threads();
  float *ref = NULL, *refy = NULL, refstats[12];
  size_t n = 0;
  /* (threads at compile, threads at run): scratch slots follow the first, the work split the second */
  const int runs[6][2] = {{1, 1}, {2, 2}, {2, 1}, {1, 2}, {1, 1}, {2, 2}};
  const size_t keep0 = loom_conv_keep_floats;
  for (int run = 0; run < 6; run++) {
    loom_conv_keep_floats = run < 4 ? keep0 : 0; /* last two: columns rebuilt in backward */
    loom_set_num_threads(runs[run][0]);
    cnn m = build_cnn(24);
    loom_set_num_threads(runs[run][1]);
    loom_graph_zero_grad(m.g);
    loom_graph_forward(m.g);
    loom_graph_backward(m.g, m.loss);
    n = loom_graph_n_params(m.g);
    if (!ref) {
      ref = malloc(n * sizeof(float));
      memcpy(ref, loom_graph_grads(m.g), n * sizeof(float));
      refy = malloc(sizeof(float));
      refy[0] = m.loss->data[0];
      memcpy(refstats, loom_graph_find(m.g, "bn2.running_var")->data, sizeof refstats);
    } else {
      if (memcmp(ref, loom_graph_grads(m.g), n * sizeof(float)) != 0) fail_msg("gradients differ in run %d", run);
      assert_memory_equal(refstats, loom_graph_find(m.g, "bn2.running_var")->data, sizeof refstats);
      assert_memory_equal(refy, m.loss->data, sizeof(float));
    }
    loom_graph_free(m.g);
  }
  free(ref), free(refy);
  loom_conv_keep_floats = keep0;
  loom_set_num_threads(threads0);
}

static void cnn_step(void *ctx) {
  cnn *m = ctx;
  loom_graph_zero_grad(m->g);
  loom_graph_forward(m->g);
  loom_graph_backward(m->g, m->loss);
}

static void test_no_heap_allocation_inside_a_step(void **state) {
  if (!tu_alloc_counting_available()) skip(); /* AddressSanitizer build */
  cnn m = build_cnn(24);
  tu_assert_no_alloc("CNN training step", cnn_step, &m, 2, 3);
  loom_graph_free(m.g);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_conv2d_gradcheck),
      cmocka_unit_test(test_conv2d_matches_direct_convolution),
      cmocka_unit_test(test_conv2d_shape_errors),
      cmocka_unit_test(test_pool_gradcheck),
      cmocka_unit_test(test_pool_matches_naive),
      cmocka_unit_test(test_global_avgpool_is_plane_mean),
      cmocka_unit_test(test_maxpool_propagates_nan),
      cmocka_unit_test(test_recompile_for_other_batch_sizes),
      cmocka_unit_test(test_conv2d_layer_names_init_and_activation),
      cmocka_unit_test(test_pytorch_parity),
      cmocka_unit_test(test_same_results_for_1_and_2_threads),
      cmocka_unit_test(test_no_heap_allocation_inside_a_step),
  };
  return cmocka_run_group_tests_name("conv", tests, NULL, NULL);
}
