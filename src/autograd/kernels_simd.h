/* kernels_simd.h — the SIMD kernels, written once over a small vector vocabulary (V*, W lanes) that
 * kernels_avx2.c and kernels_avx512.c define before including this file. Tails (n % W) go through
 * the same vector code on a padded stack copy, so every element sees the same arithmetic.
 * exp follows Cephes' expf (range reduction by ln 2, degree-6 polynomial, ~1 ulp); tanh uses Cephes'
 * odd polynomial below |x| < 0.625 and 1 - 2 / (e^{2|x|} + 1) above; erf (for GELU) is Abramowitz &
 * Stegun 7.1.26 (|error| < 1.5e-7). */

/* Apply `BODY` (which reads/writes with VLOAD/VSTORE at offset i) over [0, n) in W-wide steps; the
 * tail is run on padded copies of the named arrays. */
#define SIMD_LOOP_IN2_OUT1(n, a, b, y, BODY)                                                      \
  do {                                                                                            \
    size_t i_ = 0;                                                                                \
    for (; i_ + W <= (n); i_ += W) {                                                              \
      const float *A_ = (a) + i_, *B_ = (b) + i_; (void)A_; (void)B_;                             \
      float *Y_ = (y) + i_;                                                                       \
      BODY;                                                                                       \
    }                                                                                             \
    size_t r_ = (n) - i_;                                                                         \
    if (r_) {                                                                                     \
      float ta_[W] = {0}, tb_[W] = {0}, ty_[W] = {0};                                             \
      for (size_t j_ = 0; j_ < r_; j_++) { ta_[j_] = (a)[i_ + j_]; tb_[j_] = (b)[i_ + j_]; ty_[j_] = (y)[i_ + j_]; } \
      const float *A_ = ta_, *B_ = tb_; (void)A_; (void)B_;                                       \
      float *Y_ = ty_;                                                                            \
      BODY;                                                                                       \
      for (size_t j_ = 0; j_ < r_; j_++) (y)[i_ + j_] = ty_[j_];                                  \
    }                                                                                             \
  } while (0)

static inline V v_exp(V x) {
  x = VMIN(VMAX(x, VSET1(-87.33654f)), VSET1(88.72283f));
  V n = VROUND(VMUL(x, VSET1(1.44269504088896341f)));
  V r = VFNMA(n, VSET1(0.693359375f), x);
  r = VFNMA(n, VSET1(-2.12194440e-4f), r);
  V p = VSET1(1.9875691500E-4f);
  p = VFMA(p, r, VSET1(1.3981999507E-3f));
  p = VFMA(p, r, VSET1(8.3334519073E-3f));
  p = VFMA(p, r, VSET1(4.1665795894E-2f));
  p = VFMA(p, r, VSET1(1.6666665459E-1f));
  p = VFMA(p, r, VSET1(5.0000001201E-1f));
  V r2 = VMUL(r, r);
  p = VFMA(p, r2, VADD(r, VSET1(1.0f)));
  return VMUL(p, VPOW2I(n));
}

static inline V v_sigmoid(V x) { return VDIV(VSET1(1.0f), VADD(VSET1(1.0f), v_exp(VSUB(VZERO, x)))); }

static inline V v_tanh(V x) {
  V ax = VABS(x);
  V z = VMUL(x, x);
  V p = VSET1(-5.70498872745E-3f);
  p = VFMA(p, z, VSET1(2.06390887954E-2f));
  p = VFMA(p, z, VSET1(-5.37397155531E-2f));
  p = VFMA(p, z, VSET1(1.33314422036E-1f));
  p = VFMA(p, z, VSET1(-3.33332819422E-1f));
  V small = VFMA(VMUL(p, z), x, x);
  V big = VSUB(VSET1(1.0f), VDIV(VSET1(2.0f), VADD(v_exp(VADD(ax, ax)), VSET1(1.0f))));
  big = VCOPYSIGN(big, x);
  return VSELECT_LT(ax, VSET1(0.625f), small, big);
}

/* Phi(x) = P(N(0,1) <= x) via erfc(|x| / sqrt 2) with A&S 7.1.26. */
static inline V v_phi(V x) {
  V z = VMUL(VABS(x), VSET1(0.70710678118654752f));
  V t = VDIV(VSET1(1.0f), VFMA(z, VSET1(0.3275911f), VSET1(1.0f)));
  V p = VSET1(1.061405429f);
  p = VFMA(p, t, VSET1(-1.453152027f));
  p = VFMA(p, t, VSET1(1.421413741f));
  p = VFMA(p, t, VSET1(-0.284496736f));
  p = VFMA(p, t, VSET1(0.254829592f));
  V half_erfc = VMUL(VSET1(0.5f), VMUL(VMUL(p, t), v_exp(VSUB(VZERO, VMUL(z, z)))));
  return VSELECT_LT(x, VZERO, half_erfc, VSUB(VSET1(1.0f), half_erfc));
}

static void add_simd(size_t n, const float *a, const float *b, float *y) {
  SIMD_LOOP_IN2_OUT1(n, a, b, y, VSTORE(Y_, VADD(VLOAD(A_), VLOAD(B_))));
}
static void sub_simd(size_t n, const float *a, const float *b, float *y) {
  SIMD_LOOP_IN2_OUT1(n, a, b, y, VSTORE(Y_, VSUB(VLOAD(A_), VLOAD(B_))));
}
static void mul_simd(size_t n, const float *a, const float *b, float *y) {
  SIMD_LOOP_IN2_OUT1(n, a, b, y, VSTORE(Y_, VMUL(VLOAD(A_), VLOAD(B_))));
}
static void acc_simd(size_t n, const float *x, float *y) {
  SIMD_LOOP_IN2_OUT1(n, x, x, y, VSTORE(Y_, VADD(VLOAD(Y_), VLOAD(A_))));
}
static void axpy_simd(size_t n, float alpha, const float *x, float *y) {
  V va = VSET1(alpha);
  SIMD_LOOP_IN2_OUT1(n, x, x, y, VSTORE(Y_, VFMA(va, VLOAD(A_), VLOAD(Y_))));
}
static void affine_simd(size_t n, float alpha, float beta, const float *x, float *y) {
  V va = VSET1(alpha), vb = VSET1(beta);
  SIMD_LOOP_IN2_OUT1(n, x, x, y, VSTORE(Y_, VFMA(va, VLOAD(A_), vb)));
}
static void mul_acc_simd(size_t n, const float *a, const float *b, float *y) {
  SIMD_LOOP_IN2_OUT1(n, a, b, y, VSTORE(Y_, VFMA(VLOAD(A_), VLOAD(B_), VLOAD(Y_))));
}

static void relu_simd(size_t n, const float *x, float *y) {
  SIMD_LOOP_IN2_OUT1(n, x, x, y, VSTORE(Y_, VMAX(VLOAD(A_), VZERO)));
}
/* a = y (saved output), b = dy, Y_ = dx */
static void relu_bwd_simd(size_t n, const float *y, const float *dy, float *dx) {
  SIMD_LOOP_IN2_OUT1(n, y, dy, dx, VSTORE(Y_, VADD(VLOAD(Y_), VSELECT_LT(VZERO, VLOAD(A_), VLOAD(B_), VZERO))));
}
static void sigmoid_simd(size_t n, const float *x, float *y) {
  SIMD_LOOP_IN2_OUT1(n, x, x, y, VSTORE(Y_, v_sigmoid(VLOAD(A_))));
}
static void sigmoid_bwd_simd(size_t n, const float *y, const float *dy, float *dx) {
  SIMD_LOOP_IN2_OUT1(n, y, dy, dx, {
    V yv = VLOAD(A_);
    VSTORE(Y_, VFMA(VMUL(VLOAD(B_), yv), VSUB(VSET1(1.0f), yv), VLOAD(Y_)));
  });
}
static void tanh_simd(size_t n, const float *x, float *y) {
  SIMD_LOOP_IN2_OUT1(n, x, x, y, VSTORE(Y_, v_tanh(VLOAD(A_))));
}
static void tanh_bwd_simd(size_t n, const float *y, const float *dy, float *dx) {
  SIMD_LOOP_IN2_OUT1(n, y, dy, dx, {
    V yv = VLOAD(A_);
    VSTORE(Y_, VFMA(VLOAD(B_), VFNMA(yv, yv, VSET1(1.0f)), VLOAD(Y_)));
  });
}
static void gelu_simd(size_t n, const float *x, float *y) {
  SIMD_LOOP_IN2_OUT1(n, x, x, y, {
    V xv = VLOAD(A_);
    VSTORE(Y_, VMUL(xv, v_phi(xv)));
  });
}
static void gelu_bwd_simd(size_t n, const float *x, const float *dy, float *dx) {
  SIMD_LOOP_IN2_OUT1(n, x, dy, dx, {
    V xv = VLOAD(A_);
    V pdf = VMUL(VSET1(0.3989422804014327f), v_exp(VMUL(VSET1(-0.5f), VMUL(xv, xv))));
    V d = VFMA(xv, pdf, v_phi(xv));
    VSTORE(Y_, VFMA(VLOAD(B_), d, VLOAD(Y_)));
  });
}
static void exp_simd(size_t n, const float *x, float *y) {
  SIMD_LOOP_IN2_OUT1(n, x, x, y, VSTORE(Y_, v_exp(VLOAD(A_))));
}

/* Reductions: four accumulators in a fixed pattern, so the result depends only on n and the data. */
static float sum_simd(size_t n, const float *x) {
  V s0 = VZERO, s1 = VZERO, s2 = VZERO, s3 = VZERO;
  size_t i = 0;
  for (; i + 4 * W <= n; i += 4 * W) {
    s0 = VADD(s0, VLOAD(x + i));
    s1 = VADD(s1, VLOAD(x + i + W));
    s2 = VADD(s2, VLOAD(x + i + 2 * W));
    s3 = VADD(s3, VLOAD(x + i + 3 * W));
  }
  for (; i + W <= n; i += W) s0 = VADD(s0, VLOAD(x + i));
  float s = VREDUCE_ADD(VADD(VADD(s0, s1), VADD(s2, s3)));
  for (; i < n; i++) s += x[i];
  return s;
}
static float dot_simd(size_t n, const float *a, const float *b) {
  V s0 = VZERO, s1 = VZERO, s2 = VZERO, s3 = VZERO;
  size_t i = 0;
  for (; i + 4 * W <= n; i += 4 * W) {
    s0 = VFMA(VLOAD(a + i), VLOAD(b + i), s0);
    s1 = VFMA(VLOAD(a + i + W), VLOAD(b + i + W), s1);
    s2 = VFMA(VLOAD(a + i + 2 * W), VLOAD(b + i + 2 * W), s2);
    s3 = VFMA(VLOAD(a + i + 3 * W), VLOAD(b + i + 3 * W), s3);
  }
  for (; i + W <= n; i += W) s0 = VFMA(VLOAD(a + i), VLOAD(b + i), s0);
  float s = VREDUCE_ADD(VADD(VADD(s0, s1), VADD(s2, s3)));
  for (; i < n; i++) s += a[i] * b[i];
  return s;
}
static float max_simd(size_t n, const float *x) {
  V m = VSET1(-INFINITY);
  size_t i = 0;
  for (; i + W <= n; i += W) m = VMAX(m, VLOAD(x + i));
  float r = VREDUCE_MAX(m);
  for (; i < n; i++) r = x[i] > r ? x[i] : r;
  return r;
}

static void softmax_simd(size_t n, const float *x, float *y) {
  V m = VSET1(max_simd(n, x));
  SIMD_LOOP_IN2_OUT1(n, x, x, y, VSTORE(Y_, v_exp(VSUB(VLOAD(A_), m))));
  float inv = 1.0f / sum_simd(n, y);
  affine_simd(n, inv, 0.0f, y, y);
}
static void log_softmax_simd(size_t n, const float *x, float *y) {
  float mx = max_simd(n, x);
  V m = VSET1(mx);
  SIMD_LOOP_IN2_OUT1(n, x, x, y, VSTORE(Y_, v_exp(VSUB(VLOAD(A_), m))));
  float lse = mx + logf(sum_simd(n, y));
  affine_simd(n, 1.0f, -lse, x, y);
}
static void softmax_bwd_simd(size_t n, const float *y, const float *dy, float *dx) {
  V s = VSET1(dot_simd(n, dy, y));
  SIMD_LOOP_IN2_OUT1(n, y, dy, dx, VSTORE(Y_, VFMA(VLOAD(A_), VSUB(VLOAD(B_), s), VLOAD(Y_))));
}
static void log_softmax_bwd_simd(size_t n, const float *y, const float *dy, float *dx) {
  V s = VSET1(sum_simd(n, dy));
  SIMD_LOOP_IN2_OUT1(n, y, dy, dx, VSTORE(Y_, VADD(VLOAD(Y_), VFNMA(v_exp(VLOAD(A_)), s, VLOAD(B_)))));
}

/* LSTM cell over W hidden units: z points at the i gate, the others follow at H, 2H, 3H. */
static inline void lstm_cell_block(float *z, size_t H, const float *b, const float *cp, float *c, float *h) {
  V i = v_sigmoid(VADD(VLOAD(z), VLOAD(b)));
  V f = v_sigmoid(VADD(VLOAD(z + H), VLOAD(b + H)));
  V gg = v_tanh(VADD(VLOAD(z + 2 * H), VLOAD(b + 2 * H)));
  V o = v_sigmoid(VADD(VLOAD(z + 3 * H), VLOAD(b + 3 * H)));
  V cv = VFMA(f, VLOAD(cp), VMUL(i, gg));
  VSTORE(c, cv);
  VSTORE(h, VMUL(o, v_tanh(cv)));
  VSTORE(z, i);
  VSTORE(z + H, f);
  VSTORE(z + 2 * H, gg);
  VSTORE(z + 3 * H, o);
}
static void lstm_cell_simd(size_t H, float *z, const float *b, const float *cp, float *c, float *h) {
  size_t j = 0;
  for (; j + W <= H; j += W) lstm_cell_block(z + j, H, b + j, cp + j, c + j, h + j);
  size_t r = H - j;
  if (r) { /* the tail on padded copies: [4 gates][W] laid out with stride W */
    float tz[4 * W] = {0}, tb[4 * W] = {0}, tcp[W] = {0}, tc[W], th[W];
    for (size_t k = 0; k < r; k++) {
      for (int q = 0; q < 4; q++) tz[q * W + k] = z[q * H + j + k], tb[q * W + k] = b[q * H + j + k];
      tcp[k] = cp[j + k];
    }
    lstm_cell_block(tz, W, tb, tcp, tc, th);
    for (size_t k = 0; k < r; k++) {
      for (int q = 0; q < 4; q++) z[q * H + j + k] = tz[q * W + k];
      c[j + k] = tc[k];
      h[j + k] = th[k];
    }
  }
}
static inline void lstm_cell_bwd_block(float *z, size_t H, const float *cp, const float *c, const float *dh, float *dc) {
  const V one = VSET1(1.0f);
  V i = VLOAD(z), f = VLOAD(z + H), gg = VLOAD(z + 2 * H), o = VLOAD(z + 3 * H);
  V tc = v_tanh(VLOAD(c)), dhv = VLOAD(dh);
  V dcv = VFMA(VMUL(dhv, o), VFNMA(tc, tc, one), VLOAD(dc));
  VSTORE(z, VMUL(VMUL(dcv, gg), VMUL(i, VSUB(one, i))));
  VSTORE(z + H, VMUL(VMUL(dcv, VLOAD(cp)), VMUL(f, VSUB(one, f))));
  VSTORE(z + 2 * H, VMUL(VMUL(dcv, i), VFNMA(gg, gg, one)));
  VSTORE(z + 3 * H, VMUL(VMUL(dhv, tc), VMUL(o, VSUB(one, o))));
  VSTORE(dc, VMUL(dcv, f));
}
static void lstm_cell_bwd_simd(size_t H, float *z, const float *cp, const float *c, const float *dh, float *dc) {
  size_t j = 0;
  for (; j + W <= H; j += W) lstm_cell_bwd_block(z + j, H, cp + j, c + j, dh + j, dc + j);
  size_t r = H - j;
  if (r) {
    float tz[4 * W] = {0}, tcp[W] = {0}, tc[W] = {0}, tdh[W] = {0}, tdc[W] = {0};
    for (size_t k = 0; k < r; k++) {
      for (int q = 0; q < 4; q++) tz[q * W + k] = z[q * H + j + k];
      tcp[k] = cp[j + k], tc[k] = c[j + k], tdh[k] = dh[j + k], tdc[k] = dc[j + k];
    }
    lstm_cell_bwd_block(tz, W, tcp, tc, tdh, tdc);
    for (size_t k = 0; k < r; k++) {
      for (int q = 0; q < 4; q++) z[q * H + j + k] = tz[q * W + k];
      dc[j + k] = tdc[k];
    }
  }
}

/* GRU cell over W hidden units: gx, gh, bi, bh point at the r gate, z and n follow at H, 2H. */
static inline void gru_cell_block(float *gx, float *gh, size_t H, const float *bi, const float *bh, const float *hp,
                                  float *h) {
  const V one = VSET1(1.0f);
  V r = v_sigmoid(VADD(VADD(VLOAD(gx), VLOAD(bi)), VADD(VLOAD(gh), VLOAD(bh))));
  V z = v_sigmoid(VADD(VADD(VLOAD(gx + H), VLOAD(bi + H)), VADD(VLOAD(gh + H), VLOAD(bh + H))));
  V hn = VADD(VLOAD(gh + 2 * H), VLOAD(bh + 2 * H));
  V n = v_tanh(VFMA(r, hn, VADD(VLOAD(gx + 2 * H), VLOAD(bi + 2 * H))));
  VSTORE(h, VFMA(VSUB(one, z), n, VMUL(z, VLOAD(hp))));
  VSTORE(gx, r);
  VSTORE(gx + H, z);
  VSTORE(gx + 2 * H, n);
  VSTORE(gh + 2 * H, hn);
}
static void gru_cell_simd(size_t H, float *gx, float *gh, const float *bi, const float *bh, const float *hp, float *h) {
  size_t j = 0;
  for (; j + W <= H; j += W) gru_cell_block(gx + j, gh + j, H, bi + j, bh + j, hp + j, h + j);
  size_t r = H - j;
  if (r) { /* the tail on padded copies: [3 gates][W] laid out with stride W */
    float tx[3 * W] = {0}, th[3 * W] = {0}, tbi[3 * W] = {0}, tbh[3 * W] = {0}, thp[W] = {0}, tout[W];
    for (size_t k = 0; k < r; k++) {
      for (int q = 0; q < 3; q++) {
        tx[q * W + k] = gx[q * H + j + k], th[q * W + k] = gh[q * H + j + k];
        tbi[q * W + k] = bi[q * H + j + k], tbh[q * W + k] = bh[q * H + j + k];
      }
      thp[k] = hp[j + k];
    }
    gru_cell_block(tx, th, W, tbi, tbh, thp, tout);
    for (size_t k = 0; k < r; k++) {
      for (int q = 0; q < 3; q++) gx[q * H + j + k] = tx[q * W + k], gh[q * H + j + k] = th[q * W + k];
      h[j + k] = tout[k];
    }
  }
}
static inline void gru_cell_bwd_block(float *gx, float *gh, size_t H, const float *hp, float *dh) {
  const V one = VSET1(1.0f);
  V r = VLOAD(gx), z = VLOAD(gx + H), n = VLOAD(gx + 2 * H), hn = VLOAD(gh + 2 * H), d = VLOAD(dh);
  V dn = VMUL(VMUL(d, VSUB(one, z)), VFNMA(n, n, one));
  V dz = VMUL(VMUL(d, VSUB(VLOAD(hp), n)), VMUL(z, VSUB(one, z)));
  V dr = VMUL(VMUL(dn, hn), VMUL(r, VSUB(one, r)));
  VSTORE(gx, dr);
  VSTORE(gh, dr);
  VSTORE(gx + H, dz);
  VSTORE(gh + H, dz);
  VSTORE(gx + 2 * H, dn);
  VSTORE(gh + 2 * H, VMUL(dn, r));
  VSTORE(dh, VMUL(d, z));
}
static void gru_cell_bwd_simd(size_t H, float *gx, float *gh, const float *hp, float *dh) {
  size_t j = 0;
  for (; j + W <= H; j += W) gru_cell_bwd_block(gx + j, gh + j, H, hp + j, dh + j);
  size_t r = H - j;
  if (r) {
    float tx[3 * W] = {0}, th[3 * W] = {0}, thp[W] = {0}, tdh[W] = {0};
    for (size_t k = 0; k < r; k++) {
      for (int q = 0; q < 3; q++) tx[q * W + k] = gx[q * H + j + k], th[q * W + k] = gh[q * H + j + k];
      thp[k] = hp[j + k], tdh[k] = dh[j + k];
    }
    gru_cell_bwd_block(tx, th, W, thp, tdh);
    for (size_t k = 0; k < r; k++) {
      for (int q = 0; q < 3; q++) gx[q * H + j + k] = tx[q * W + k], gh[q * H + j + k] = th[q * W + k];
      dh[j + k] = tdh[k];
    }
  }
}

/* One W-wide Adam step at p, g, m, v (see kernels.h for the arithmetic). */
static inline void adam_block(float *p, const float *g, float *m, float *v, V vb1, V vb2, V vc1, V vc2, V step,
                              V sqrt_bc2, V veps, V decay) {
  V gv = VLOAD(g);
  V mv = VFMA(vb1, VLOAD(m), VMUL(vc1, gv));
  V vv = VFMA(vb2, VLOAD(v), VMUL(VMUL(vc2, gv), gv));
  V denom = VADD(VDIV(VSQRT(vv), sqrt_bc2), veps);
  VSTORE(p, VFNMA(step, VDIV(mv, denom), VMUL(VLOAD(p), decay)));
  VSTORE(m, mv);
  VSTORE(v, vv);
}

static void adam_simd(size_t n, float *p, const float *g, float *m, float *v, float lr, float b1, float b2,
                      float eps, float bc1, float bc2, float wd) {
  const V vb1 = VSET1(b1), vb2 = VSET1(b2), vc1 = VSET1(1.0f - b1), vc2 = VSET1(1.0f - b2);
  const V step = VSET1(lr / bc1), sqrt_bc2 = VSET1(sqrtf(bc2)), veps = VSET1(eps), decay = VSET1(1.0f - lr * wd);
  size_t i = 0;
  for (; i + W <= n; i += W) adam_block(p + i, g + i, m + i, v + i, vb1, vb2, vc1, vc2, step, sqrt_bc2, veps, decay);
  size_t r = n - i;
  if (r) {
    float tp[W] = {0}, tg[W] = {0}, tm[W] = {0}, tv[W] = {0};
    for (size_t j = 0; j < r; j++) { tp[j] = p[i + j]; tg[j] = g[i + j]; tm[j] = m[i + j]; tv[j] = v[i + j]; }
    adam_block(tp, tg, tm, tv, vb1, vb2, vc1, vc2, step, sqrt_bc2, veps, decay);
    for (size_t j = 0; j < r; j++) { p[i + j] = tp[j]; m[i + j] = tm[j]; v[i + j] = tv[j]; }
  }
}

/* One W-wide SGD step (see kernels.h); `mom` = momentum is on. */
static inline void sgd_block(float *p, const float *g, float *b, V vlr, V vmu, V vdamp1, V vwd, bool mom, bool nesterov,
                             bool first) {
  V pv = VLOAD(p), d = VFMA(vwd, pv, VLOAD(g));
  if (mom) {
    V bv = first ? d : VFMA(vmu, VLOAD(b), VMUL(vdamp1, d));
    VSTORE(b, bv);
    d = nesterov ? VFMA(vmu, bv, d) : bv;
  }
  VSTORE(p, VFNMA(vlr, d, pv));
}

static void sgd_simd(size_t n, float *p, const float *g, float *b, float lr, float mu, float damp, float wd,
                     int nesterov, int first) {
  const V vlr = VSET1(lr), vmu = VSET1(mu), vdamp1 = VSET1(1.0f - damp), vwd = VSET1(wd);
  const bool mom = mu != 0.0f;
  size_t i = 0;
  for (; i + W <= n; i += W) sgd_block(p + i, g + i, mom ? b + i : NULL, vlr, vmu, vdamp1, vwd, mom, nesterov, first);
  size_t r = n - i;
  if (r) {
    float tp[W] = {0}, tg[W] = {0}, tb[W] = {0};
    for (size_t j = 0; j < r; j++) { tp[j] = p[i + j]; tg[j] = g[i + j]; tb[j] = mom ? b[i + j] : 0.0f; }
    sgd_block(tp, tg, tb, vlr, vmu, vdamp1, vwd, mom, nesterov, first);
    for (size_t j = 0; j < r; j++) { p[i + j] = tp[j]; if (mom) b[i + j] = tb[j]; }
  }
}

static void fill_simd(loom_kernels *k, const char *isa) {
  k->isa = isa;
  k->add = add_simd;
  k->sub = sub_simd;
  k->mul = mul_simd;
  k->acc = acc_simd;
  k->axpy = axpy_simd;
  k->affine = affine_simd;
  k->mul_acc = mul_acc_simd;
  k->relu = relu_simd;
  k->relu_bwd = relu_bwd_simd;
  k->sigmoid = sigmoid_simd;
  k->sigmoid_bwd = sigmoid_bwd_simd;
  k->tanh = tanh_simd;
  k->tanh_bwd = tanh_bwd_simd;
  k->gelu = gelu_simd;
  k->gelu_bwd = gelu_bwd_simd;
  k->exp = exp_simd;
  k->sum = sum_simd;
  k->dot = dot_simd;
  k->max = max_simd;
  k->softmax = softmax_simd;
  k->log_softmax = log_softmax_simd;
  k->softmax_bwd = softmax_bwd_simd;
  k->log_softmax_bwd = log_softmax_bwd_simd;
  k->lstm_cell = lstm_cell_simd;
  k->lstm_cell_bwd = lstm_cell_bwd_simd;
  k->gru_cell = gru_cell_simd;
  k->gru_cell_bwd = gru_cell_bwd_simd;
  k->adam = adam_simd;
  k->sgd = sgd_simd;
}
