/* test_gru.c — the fused GRU op and the GRU layer: central-difference gradient checks (odd sizes,
 * masking, reverse, bidirectional, 2 layers with dropout, gradients w.r.t. x, every ISA), PyTorch parity
 * against torch.nn.GRU with pack_padded_sequence (the fixtures in tests/reference/gru from gen_gru.py),
 * the fused op against the same GRU composed from primitive ops, SIMD gate kernels against the scalar
 * ones, bit-identical results for 1 and 2 threads, initialisation and names, and no heap allocation
 * inside a training step. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "graph_internal.h"
#include "loom/gru.h"
#include "testutil.h"

/* ---------------------------------------------------------------- gradient checks */

typedef struct {
  int B, T, E;
  const int32_t *lengths; /* NULL: unmasked */
  uint64_t seed;
} gc_ctx;

static void gc_fill(loom_graph *g, void *p) {
  const gc_ctx *c = p;
  loom_rng r;
  loom_rng_seed(&r, c->seed);
  loom_tensor *x = loom_graph_find(g, "x");
  tu_fill_uniform(x->data, (size_t)c->B * c->T * c->E, -1.5f, 1.5f, &r);
  loom_tensor *len = loom_graph_find(g, "lengths");
  if (len) memcpy(len->idata, c->lengths, sizeof(int32_t) * (size_t)c->B);
}

/* A GRU layer over x (requires_grad) with larger-than-default weights (so gates leave their linear
 * range), gradient-checked in every weight and x. */
static int gradcheck_layer(const gc_ctx *c, const loom_gru_opts *o, bool training) {
  loom_graph *g = loom_graph_new();
  loom_rng r;
  loom_rng_seed(&r, c->seed + 100);
  loom_tensor *x = loom_input(g, "x", LOOM_F32, 3, (int[]){LOOM_BATCH, c->T, c->E});
  x->requires_grad = true;
  loom_tensor *len = c->lengths ? loom_input(g, "lengths", LOOM_I32, 1, (int[]){LOOM_BATCH}) : NULL;
  loom_tensor *y = loom_layer_gru(g, "rnn", x, len, o, &r);
  for (int i = 0; i < loom_graph_n_param_tensors(g); i++) {
    loom_tensor *p = loom_graph_param_tensor(g, i);
    tu_fill_uniform(p->data, loom_tensor_numel(p), -0.7f, 0.7f, &r);
  }
  loom_graph_set_training(g, training);
  loom_rng_seed(loom_graph_rng(g), 77);
  int n = tu_gradcheck(g, y, c->B, gc_fill, (void *)c, 1e-2, 2e-3, 1e-2);
  loom_graph_free(g);
  return n;
}

static void test_gradcheck_gru(void **state) {
  static const int32_t len3[3] = {5, 2, 1}, len4[4] = {6, 3, 0, 4};
  const gc_ctx odd = {3, 5, 7, NULL, 1}, masked = {3, 5, 7, len3, 2}, deep = {4, 6, 5, len4, 3};
  int total = 0;
  loom_isa best = loom_runtime_isa();
  for (int isa = 0; isa < LOOM_ISA_COUNT; isa++) {
    if (!loom_runtime_set_isa((loom_isa)isa)) continue;
    total += gradcheck_layer(&odd, &(loom_gru_opts){.input_size = 7, .hidden = 6, .return_sequences = true}, false);
    total += gradcheck_layer(&odd, &(loom_gru_opts){.input_size = 7, .hidden = 6}, false);
    total += gradcheck_layer(&masked, &(loom_gru_opts){.input_size = 7, .hidden = 19, .bidirectional = true}, false);
  }
  loom_runtime_set_isa(best);
  total += gradcheck_layer(&masked, &(loom_gru_opts){.input_size = 7, .hidden = 6, .return_sequences = true}, false);
  total += gradcheck_layer(&masked, &(loom_gru_opts){.input_size = 7, .hidden = 6}, false);
  total += gradcheck_layer(&masked, &(loom_gru_opts){.input_size = 7, .hidden = 6, .bidirectional = true,
                                                      .return_sequences = true}, false);
  total += gradcheck_layer(&deep, &(loom_gru_opts){.input_size = 5, .hidden = 3, .layers = 2, .bidirectional = true,
                                                    .return_sequences = true}, false);
  total += gradcheck_layer(&deep, &(loom_gru_opts){.input_size = 5, .hidden = 3, .layers = 2, .bidirectional = true,
                                                    .dropout = 0.3f}, true);
  print_message("gru gradcheck: %d gradient elements checked\n", total);
  assert_true(total > 5000);
}

/* ---------------------------------------------------------------- PyTorch parity */

static void copy_weights(loom_graph *g, const tu_fixture *fx) {
  for (int i = 0; i < loom_graph_n_param_tensors(g); i++) {
    loom_tensor *p = loom_graph_param_tensor(g, i);
    char name[160];
    snprintf(name, sizeof name, "w.%s", strchr(p->name, '.') + 1);
    size_t n;
    const float *v = tu_fixture_f32(fx, name, &n, NULL, NULL);
    assert_int_equal(n, loom_tensor_numel(p));
    memcpy(p->data, v, n * sizeof(float));
  }
}

static void parity(const char *file, bool seq) {
  tu_fixture *fx = tu_fixture_load(file);
  const int32_t *cfg = tu_fixture_i32(fx, "config", NULL, NULL, NULL);
  const int B = cfg[0], T = cfg[1], E = cfg[2], H = cfg[3], layers = cfg[4], D = cfg[5];
  const bool masked = tu_fixture_i32(fx, "has_lengths", NULL, NULL, NULL)[0];
  loom_graph *g = loom_graph_new();
  loom_rng r;
  loom_rng_seed(&r, 5);
  loom_tensor *x = loom_input(g, "x", LOOM_F32, 3, (int[]){LOOM_BATCH, T, E});
  x->requires_grad = true;
  loom_tensor *len = masked ? loom_input(g, "lengths", LOOM_I32, 1, (int[]){LOOM_BATCH}) : NULL;
  loom_gru_opts o = {.input_size = E, .hidden = H, .layers = layers, .bidirectional = D == 2, .return_sequences = seq};
  loom_tensor *y = loom_layer_gru(g, "gru", x, len, &o, &r);
  loom_tensor *R = seq ? loom_input(g, "R", LOOM_F32, 3, (int[]){B, T, D * H}) : loom_input(g, "R", LOOM_F32, 2, (int[]){B, D * H});
  loom_input_bind(R, (void *)tu_fixture_f32(fx, seq ? "r_seq" : "r_last", NULL, NULL, NULL));
  loom_tensor *loss = loom_sum(g, loom_mul(g, y, R), LOOM_ALL, false);
  assert_int_equal(loom_graph_compile(g, B, 1, &loss, true), 0);
  copy_weights(g, fx);
  memcpy(x->data, tu_fixture_f32(fx, "x", NULL, NULL, NULL), sizeof(float) * (size_t)B * T * E);
  if (masked) memcpy(len->idata, tu_fixture_i32(fx, "lengths", NULL, NULL, NULL), sizeof(int32_t) * (size_t)B);
  loom_graph_zero_grad(g);
  loom_graph_forward(g);
  loom_graph_backward(g, loss);
  char what[256];
  size_t ny;
  const float *want = tu_fixture_f32(fx, seq ? "out_seq" : "out_last", &ny, NULL, NULL);
  assert_int_equal(ny, loom_tensor_numel(y));
  snprintf(what, sizeof what, "%s %s output", file, seq ? "seq" : "last");
  tu_assert_close(what, y->data, want, ny, 1e-6, 1e-5);
  snprintf(what, sizeof what, "%s %s d x", file, seq ? "seq" : "last");
  tu_assert_close(what, x->grad, tu_fixture_f32(fx, seq ? "grad_seq.x" : "grad_last.x", NULL, NULL, NULL),
                  (size_t)B * T * E, 1e-6, 1e-5);
  for (int i = 0; i < loom_graph_n_param_tensors(g); i++) {
    loom_tensor *p = loom_graph_param_tensor(g, i);
    char name[160];
    snprintf(name, sizeof name, "grad_%s.%s", seq ? "seq" : "last", strchr(p->name, '.') + 1);
    snprintf(what, sizeof what, "%s d %s", file, p->name);
    tu_assert_close(what, p->grad, tu_fixture_f32(fx, name, NULL, NULL, NULL), loom_tensor_numel(p), 1e-6, 1e-5);
  }
  loom_graph_free(g);
  tu_fixture_free(fx);
}

static void test_matches_torch(void **state) {
  const char *files[] = {"gru/gru_small.fix", "gru/gru_masked.fix", "gru/gru_bidir_masked.fix",
                         "gru/gru_2layer.fix", "gru/gru_2layer_bidir_masked.fix", "gru/gru_medium_masked.fix"};
  loom_isa best = loom_runtime_isa();
  for (int isa = 0; isa < LOOM_ISA_COUNT; isa++) {
    if (!loom_runtime_set_isa((loom_isa)isa)) continue;
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
      parity(files[i], true);
      parity(files[i], false);
    }
  }
  loom_runtime_set_isa(best);
}

/* ---------------------------------------------------------------- fused vs composed */

/* The same masked GRU from matmul, add, sub, mul, sigmoid, tanh, slice, concat, reshape:
 * h <- h + m_t (h_new - h), output m_t h_new at step t. Returns the sequence (B, T, H); *last = h. */
static loom_tensor *composed_gru(loom_graph *g, loom_tensor *x, loom_tensor *const *m, loom_tensor *zeros, int T,
                                 int E, int H, loom_tensor *wih, loom_tensor *whh, loom_tensor *bih, loom_tensor *bhh,
                                 loom_tensor **last) {
  loom_tensor *xr = loom_reshape(g, x, 2, (int[]){-1, T * E});
  loom_tensor *h = zeros, *outs[8];
  for (int t = 0; t < T; t++) {
    loom_tensor *xt = loom_slice(g, xr, t * E, E);
    loom_tensor *gi = loom_add(g, loom_matmul(g, xt, wih, false, true), bih);
    loom_tensor *gh = loom_add(g, loom_matmul(g, h, whh, false, true), bhh);
    loom_tensor *rg = loom_sigmoid(g, loom_add(g, loom_slice(g, gi, 0, H), loom_slice(g, gh, 0, H)));
    loom_tensor *zg = loom_sigmoid(g, loom_add(g, loom_slice(g, gi, H, H), loom_slice(g, gh, H, H)));
    loom_tensor *ng = loom_tanh(g, loom_add(g, loom_slice(g, gi, 2 * H, H), loom_mul(g, rg, loom_slice(g, gh, 2 * H, H))));
    loom_tensor *hn = loom_add(g, ng, loom_mul(g, zg, loom_sub(g, h, ng))); /* (1 - z) n + z h */
    outs[t] = loom_mul(g, hn, m[t]);
    h = loom_add(g, h, loom_mul(g, loom_sub(g, hn, h), m[t]));
  }
  *last = h;
  return loom_reshape(g, loom_concat(g, T, outs), 3, (int[]){-1, T, H});
}

static void test_fused_equals_composed(void **state) {
  enum { B = 4, T = 6, E = 5, H = 7 };
  const int32_t lens[B] = {6, 3, 1, 5};
  loom_rng r;
  loom_rng_seed(&r, 9);
  loom_graph *g = loom_graph_new();
  float xbuf[B * T * E], r1[B * T * H], r2[B * H], zbuf[B * H] = {0}, mbuf[T][B];
  tu_fill_uniform(xbuf, B * T * E, -1, 1, &r);
  tu_fill_uniform(r1, B * T * H, -1, 1, &r);
  tu_fill_uniform(r2, B * H, -1, 1, &r);
  loom_tensor *x = loom_input(g, "x", LOOM_F32, 3, (int[]){B, T, E});
  x->requires_grad = true;
  loom_input_bind(x, xbuf);
  loom_tensor *len = loom_input(g, "lengths", LOOM_I32, 1, (int[]){B});
  loom_input_bind(len, (void *)lens);
  loom_tensor *zeros = loom_input(g, "zeros", LOOM_F32, 2, (int[]){B, H});
  loom_input_bind(zeros, zbuf);
  loom_tensor *m[T];
  for (int t = 0; t < T; t++) {
    for (int b = 0; b < B; b++) mbuf[t][b] = t < lens[b] ? 1.0f : 0.0f;
    m[t] = loom_input(g, "m", LOOM_F32, 2, (int[]){B, 1});
    loom_input_bind(m[t], mbuf[t]);
  }
  loom_tensor *wih = loom_param(g, "wih", 2, (int[]){3 * H, E}), *whh = loom_param(g, "whh", 2, (int[]){3 * H, H});
  loom_tensor *bih = loom_param(g, "bih", 1, (int[]){3 * H}), *bhh = loom_param(g, "bhh", 1, (int[]){3 * H});
  for (int i = 0; i < 4; i++) {
    loom_tensor *p = (loom_tensor *[]){wih, whh, bih, bhh}[i];
    tu_fill_uniform(p->data, loom_tensor_numel(p), -0.6f, 0.6f, &r);
  }
  loom_tensor *R1 = loom_input(g, "R1", LOOM_F32, 3, (int[]){B, T, H}), *R2 = loom_input(g, "R2", LOOM_F32, 2, (int[]){B, H});
  loom_input_bind(R1, r1);
  loom_input_bind(R2, r2);
  loom_tensor *fseq = loom_gru_seq(g, x, len, wih, whh, bih, bhh, false, true);
  loom_tensor *flast = loom_gru_seq(g, x, len, wih, whh, bih, bhh, false, false);
  loom_tensor *clast, *cseq = composed_gru(g, x, m, zeros, T, E, H, wih, whh, bih, bhh, &clast);
  loom_tensor *losses[2];
  loom_tensor *ys[2][2] = {{fseq, flast}, {cseq, clast}};
  for (int k = 0; k < 2; k++)
    losses[k] = loom_add(g, loom_sum(g, loom_mul(g, ys[k][0], R1), LOOM_ALL, false),
                         loom_sum(g, loom_mul(g, ys[k][1], R2), LOOM_ALL, false));
  float out[2][B * T * H + B * H], grads[2][3 * H * (E + H + 2) + B * T * E];
  for (int k = 0; k < 2; k++) {
    assert_int_equal(loom_graph_compile(g, B, 1, &losses[k], true), 0);
    loom_graph_zero_grad(g);
    loom_graph_forward(g);
    loom_graph_backward(g, losses[k]);
    memcpy(out[k], ys[k][0]->data, sizeof(float) * B * T * H);
    memcpy(out[k] + B * T * H, ys[k][1]->data, sizeof(float) * B * H);
    float *gp = grads[k];
    for (int i = 0; i < 4; i++) {
      loom_tensor *p = (loom_tensor *[]){wih, whh, bih, bhh}[i];
      memcpy(gp, p->grad, sizeof(float) * loom_tensor_numel(p));
      gp += loom_tensor_numel(p);
    }
    memcpy(gp, x->grad, sizeof(float) * B * T * E);
  }
  for (int i = 0; i < B * T * H; i++) /* padded outputs are exactly zero */
    if ((i / H) % T >= lens[i / (T * H)]) assert_true(out[0][i] == 0.0f);
  tu_assert_close("fused vs composed: outputs", out[0], out[1], B * T * H + B * H, 1e-6, 1e-5);
  tu_assert_close("fused vs composed: gradients", grads[0], grads[1], 3 * H * (E + H + 2) + B * T * E, 1e-6, 1e-4);
  loom_graph_free(g);
}

/* ---------------------------------------------------------------- kernels: SIMD vs scalar */

static void test_simd_gate_kernels_match_scalar(void **state) {
  const loom_kernels *ref = loom_kernels_get(LOOM_ISA_SCALAR);
  loom_rng r;
  loom_rng_seed(&r, 10);
  int checked = 0;
  for (int isa = 1; isa < LOOM_ISA_COUNT; isa++) {
    const loom_kernels *k = loom_kernels_get((loom_isa)isa);
    if (!k) continue;
    for (size_t H = 1; H <= 37; H += 3) { /* tails of every length against 8 and 16 lanes */
      float gx0[3 * 37], gh0[3 * 37], bi[3 * 37], bh[3 * 37], hp[37], dh0[37];
      tu_fill_uniform(gx0, 3 * H, -4, 4, &r);
      tu_fill_uniform(gh0, 3 * H, -4, 4, &r);
      tu_fill_uniform(bi, 3 * H, -1, 1, &r);
      tu_fill_uniform(bh, 3 * H, -1, 1, &r);
      tu_fill_uniform(hp, H, -1, 1, &r);
      tu_fill_uniform(dh0, H, -1, 1, &r);
      float gx[2][3 * 37], gh[2][3 * 37], h[2][37], dh[2][37];
      for (int v = 0; v < 2; v++) {
        memcpy(gx[v], gx0, sizeof(float) * 3 * H);
        memcpy(gh[v], gh0, sizeof(float) * 3 * H);
        memcpy(dh[v], dh0, sizeof(float) * H);
        (v ? k : ref)->gru_cell(H, gx[v], gh[v], bi, bh, hp, h[v]);
      }
      tu_assert_close("gru_cell gates", gx[1], gx[0], 3 * H, 1e-6, 1e-5);
      tu_assert_close("gru_cell hn", gh[1], gh[0], 3 * H, 1e-6, 1e-5);
      tu_assert_close("gru_cell h", h[1], h[0], H, 1e-6, 1e-5);
      memcpy(gx[1], gx[0], sizeof(float) * 3 * H);
      memcpy(gh[1], gh[0], sizeof(float) * 3 * H);
      for (int v = 0; v < 2; v++) (v ? k : ref)->gru_cell_bwd(H, gx[v], gh[v], hp, dh[v]);
      tu_assert_close("gru_cell_bwd dgx", gx[1], gx[0], 3 * H, 1e-6, 1e-5);
      tu_assert_close("gru_cell_bwd dgh", gh[1], gh[0], 3 * H, 1e-6, 1e-5);
      tu_assert_close("gru_cell_bwd dh", dh[1], dh[0], H, 1e-6, 1e-5);
      checked++;
    }
    print_message("gru gate kernels: %s matches scalar\n", k->isa);
  }
  if (!checked) skip(); /* no SIMD kernel set on this CPU */
}

/* ---------------------------------------------------------------- threads, allocation, init, names */

typedef struct {
  loom_graph *g;
  loom_tensor *x, *len, *loss;
} net;

/* 2-layer bidirectional masked GRU with dropout, big enough for several row blocks and threaded GEMMs. */
static net build_net(int B, int T) {
  net n;
  loom_rng r;
  loom_rng_seed(&r, 21);
  n.g = loom_graph_new();
  n.x = loom_input(n.g, "x", LOOM_F32, 3, (int[]){LOOM_BATCH, T, 24});
  n.x->requires_grad = true;
  n.len = loom_input(n.g, "lengths", LOOM_I32, 1, (int[]){LOOM_BATCH});
  loom_gru_opts o = {.input_size = 24, .hidden = 40, .layers = 2, .bidirectional = true, .dropout = 0.2f};
  loom_tensor *y = loom_layer_gru(n.g, "rnn", n.x, n.len, &o, &r);
  n.loss = loom_sum(n.g, loom_mul(n.g, y, y), LOOM_ALL, false);
  assert_int_equal(loom_graph_compile(n.g, B, 1, &n.loss, true), 0);
  loom_graph_set_training(n.g, true);
  loom_rng_seed(loom_graph_rng(n.g), 5);
  tu_fill_uniform(n.x->data, (size_t)B * T * 24, -1, 1, &r);
  for (int b = 0; b < B; b++) n.len->idata[b] = (int32_t)loom_rng_below(&r, (uint32_t)T + 1); /* 0..T */
  return n;
}

static void test_same_results_for_1_and_2_threads(void **state) {
  const int threads0 = loom_num_threads(), B = 70, T = 11;
  float *ref = NULL, *refx = NULL;
  size_t np = 0;
  for (int threads = 1; threads <= 2; threads++) {
    loom_set_num_threads(threads);
    net n = build_net(B, T);
    for (int step = 0; step < 2; step++) {
      loom_graph_zero_grad(n.g);
      loom_graph_forward(n.g);
      loom_graph_backward(n.g, n.loss);
      loom_k.axpy(loom_graph_n_params(n.g), -0.01f, loom_graph_grads(n.g), loom_graph_params(n.g));
    }
    np = loom_graph_n_params(n.g);
    if (!ref) {
      ref = malloc(np * sizeof(float));
      refx = malloc(sizeof(float) * B * T * 24);
      memcpy(ref, loom_graph_grads(n.g), np * sizeof(float));
      memcpy(refx, n.x->grad, sizeof(float) * B * T * 24);
    } else {
      if (memcmp(ref, loom_graph_grads(n.g), np * sizeof(float)) != 0) fail_msg("gradients differ for 1 and 2 threads");
      if (memcmp(refx, n.x->grad, sizeof(float) * B * T * 24) != 0) fail_msg("d x differs for 1 and 2 threads");
    }
    loom_graph_free(n.g);
  }
  free(ref);
  free(refx);
  loom_set_num_threads(threads0);
}

static void test_init_and_names(void **state) {
  loom_rng r;
  loom_rng_seed(&r, 8);
  const int H = 16, E = 10;
  for (int style = 0; style < 2; style++) {
    loom_graph *g = loom_graph_new();
    loom_tensor *x = loom_input(g, "x", LOOM_F32, 3, (int[]){LOOM_BATCH, 4, E});
    loom_gru_opts o = loom_gru_opts_default(E, H);
    o.layers = 2;
    o.bidirectional = true;
    if (style == 0) o.init = LOOM_INIT_KERAS_DEFAULT;
    loom_layer_gru(g, "text.gru", x, NULL, &o, &r);
    assert_int_equal(loom_graph_n_param_tensors(g), 16);
    const char *names[] = {"weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0", "weight_ih_l0_reverse",
                           "bias_hh_l0_reverse", "weight_ih_l1", "weight_hh_l1_reverse"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
      char full[96];
      snprintf(full, sizeof full, "text.gru.%s", names[i]);
      if (!loom_graph_find(g, full)) fail_msg("no parameter %s", full);
    }
    loom_tensor *wih1 = loom_graph_find(g, "text.gru.weight_ih_l1");
    assert_int_equal(wih1->shape[0], 3 * H);
    assert_int_equal(wih1->shape[1], 2 * H); /* layer 1 reads [fwd, bwd] */
    loom_tensor *whh = loom_graph_find(g, "text.gru.weight_hh_l0"), *bih = loom_graph_find(g, "text.gru.bias_ih_l0");
    loom_tensor *wih = loom_graph_find(g, "text.gru.weight_ih_l0");
    if (style == 0) {
      for (int j = 0; j < 3 * H; j++) assert_true(bih->data[j] == 0.0f);
      for (int a = 0; a < H; a++) /* W_hh (3H, H) has orthonormal columns (Keras' (H, 3H) rows) */
        for (int b = 0; b < H; b++) {
          double s = 0;
          for (int k = 0; k < 3 * H; k++) s += (double)whh->data[k * H + a] * whh->data[k * H + b];
          assert_true(fabs(s - (a == b)) < 1e-5);
        }
    } else { /* nn.GRU: every parameter U(+-1/sqrt(H)), spanning the range */
      const float bound = 1.0f / sqrtf((float)H);
      const loom_tensor *ps[] = {wih, whh, bih};
      for (int q = 0; q < 3; q++) {
        float mx = 0;
        for (size_t j = 0; j < loom_tensor_numel(ps[q]); j++) mx = fmaxf(mx, fabsf(ps[q]->data[j]));
        assert_true(mx <= bound && mx > 0.8f * bound);
      }
    }
    loom_graph_free(g);
  }
  loom_gru_opts d = loom_gru_opts_default(6, 5);
  assert_int_equal(d.input_size, 6);
  assert_int_equal(d.hidden, 5);
  assert_int_equal(d.layers, 1);
  assert_false(d.bidirectional || d.return_sequences);
  assert_true(d.dropout == 0.0f);
  assert_int_equal(d.init, LOOM_INIT_TORCH_DEFAULT);
}

/* Outputs of a padded step are zero and the last state of a length-0 text is zero. */
static void test_empty_and_padded_steps(void **state) {
  enum { B = 3, T = 5, E = 4, H = 6 };
  const int32_t lens[B] = {0, 2, 5};
  loom_rng r;
  loom_rng_seed(&r, 31);
  loom_graph *g = loom_graph_new();
  loom_tensor *x = loom_input(g, "x", LOOM_F32, 3, (int[]){LOOM_BATCH, T, E});
  loom_tensor *len = loom_input(g, "lengths", LOOM_I32, 1, (int[]){LOOM_BATCH});
  loom_input_bind(len, (void *)lens);
  loom_gru_opts o = loom_gru_opts_default(E, H);
  o.bidirectional = true;
  loom_tensor *last = loom_layer_gru(g, "a", x, len, &o, &r);
  o.return_sequences = true;
  loom_tensor *seq = loom_layer_gru(g, "b", x, len, &o, &r);
  loom_tensor *outs[2] = {last, seq};
  assert_int_equal(loom_graph_compile(g, B, 2, outs, false), 0);
  tu_fill_uniform(x->data, B * T * E, -1, 1, &r);
  loom_graph_forward(g);
  for (int j = 0; j < 2 * H; j++) assert_true(last->data[j] == 0.0f);
  for (int b = 0; b < B; b++)
    for (int t = 0; t < T; t++)
      for (int j = 0; j < 2 * H; j++) {
        const float v = seq->data[((size_t)b * T + t) * 2 * H + j];
        if (t >= lens[b]) assert_true(v == 0.0f);
        else assert_true(v != 0.0f);
      }
  loom_graph_free(g);
}

static void net_step(void *ctx) {
  net *n = ctx;
  loom_graph_zero_grad(n->g);
  loom_graph_forward(n->g);
  loom_graph_backward(n->g, n->loss);
}

static void test_no_heap_allocation_inside_a_step(void **state) {
  if (!tu_alloc_counting_available()) skip(); /* AddressSanitizer build */
  net n = build_net(64, 20);
  tu_assert_no_alloc("GRU training step", net_step, &n, 2, 2);
  loom_graph_free(n.g);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_gradcheck_gru),
      cmocka_unit_test(test_matches_torch),
      cmocka_unit_test(test_fused_equals_composed),
      cmocka_unit_test(test_simd_gate_kernels_match_scalar),
      cmocka_unit_test(test_same_results_for_1_and_2_threads),
      cmocka_unit_test(test_init_and_names),
      cmocka_unit_test(test_empty_and_padded_steps),
      cmocka_unit_test(test_no_heap_allocation_inside_a_step),
  };
  return cmocka_run_group_tests_name("gru", tests, NULL, NULL);
}
