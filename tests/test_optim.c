/* test_optim.c — optimisers, clipping and schedules (loom/optim.h): 10-step trajectories of Adam,
 * Adam with Keras' epsilon, AdamW, Adam + L2, SGD (plain, momentum, dampening, Nesterov), with clipping,
 * schedules and decay exclusion, against torch.optim (tests/reference/gen_optim.py, ≤ 1e-6); learning
 * rates against torch.optim.lr_scheduler; SIMD vs scalar update kernels; bit-identical continuation
 * after restoring optimiser state; clipping; thread-count independence; no allocation per step; bad
 * configurations; and a fixed-seed end-to-end training run (MLP + softmax CE + Adam). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "graph_internal.h"
#include "loom/loss.h"
#include "loom/optim.h"
#include "testutil.h"

/* ---------------------------------------------------------------- configuration from fixture options */

static loom_optim_config cfg_from(const int32_t *io, const float *fo) {
  loom_optim_config c = loom_optim_defaults((loom_optim_kind)io[0]);
  c.nesterov = io[1];
  c.keras_eps = io[2];
  c.no_decay_1d = io[3];
  c.beta1 = fo[1];
  c.beta2 = fo[2];
  c.eps = fo[3];
  c.weight_decay = fo[4];
  c.momentum = fo[5];
  c.dampening = fo[6];
  return c;
}
static loom_lr_schedule sched_from(const int32_t *io, const float *fo) {
  return (loom_lr_schedule){.kind = (loom_lr_kind)io[4], .base_lr = fo[0], .step_size = io[5], .gamma = fo[8],
                            .total_steps = io[7], .min_lr = fo[9], .warmup_steps = io[6], .warmup_start_factor = fo[10]};
}

/* ---------------------------------------------------------------- PyTorch trajectories */

static const char *ck(int i, const char *name) {
  static char buf[64];
  snprintf(buf, sizeof buf, "c%d.%s", i, name);
  return buf;
}

static double worst_err, worst_abs; /* fraction of the tolerance used; largest |diff| */
static void note_err(const float *a, const float *b, size_t n) {
  worst_err = fmax(worst_err, tu_max_err(a, b, n, 1e-6, 1e-6));
  for (size_t i = 0; i < n; i++) worst_abs = fmax(worst_abs, fabs((double)a[i] - b[i]));
}

static int run_trajectories(const tu_fixture *fx) {
  int n_cases = tu_fixture_i32(fx, "n", NULL, NULL, NULL)[0], compared = 0;
  for (int i = 0; i < n_cases; i++) {
    const int32_t *io = tu_fixture_i32(fx, ck(i, "iopt"), NULL, NULL, NULL);
    const float *fo = tu_fixture_f32(fx, ck(i, "fopt"), NULL, NULL, NULL);
    loom_graph *g = loom_graph_new();
    loom_tensor *w = loom_param(g, "w", 2, (int[]){3, 5}), *b = loom_param(g, "b", 1, (int[]){7});
    memcpy(w->data, tu_fixture_f32(fx, ck(i, "p0.w"), NULL, NULL, NULL), 15 * sizeof(float));
    memcpy(b->data, tu_fixture_f32(fx, ck(i, "p0.b"), NULL, NULL, NULL), 7 * sizeof(float));
    loom_optim_config cfg = cfg_from(io, fo);
    loom_lr_schedule sched = sched_from(io, fo);
    loom_error err;
    loom_optim *opt = loom_optim_new(g, &cfg, &err);
    if (!opt) fail_msg("case %d: %s", i, err.msg);
    const float *gw = tu_fixture_f32(fx, ck(i, "g.w"), NULL, NULL, NULL), *gb = tu_fixture_f32(fx, ck(i, "g.b"), NULL, NULL, NULL);
    const float *tw = tu_fixture_f32(fx, ck(i, "traj.w"), NULL, NULL, NULL), *tb = tu_fixture_f32(fx, ck(i, "traj.b"), NULL, NULL, NULL);
    const float *norms = tu_fixture_f32(fx, ck(i, "norms"), NULL, NULL, NULL), *lrs = tu_fixture_f32(fx, ck(i, "lrs"), NULL, NULL, NULL);
    for (int s = 0; s < 10; s++) {
      char what[96];
      loom_graph_zero_grad(g);
      memcpy(w->grad, gw + s * 15, 15 * sizeof(float));
      memcpy(b->grad, gb + s * 7, 7 * sizeof(float));
      if (io[8]) {
        float total = loom_clip_grad_norm(g, fo[7]);
        snprintf(what, sizeof what, "case %d step %d clip norm", i, s);
        tu_assert_close(what, &total, &norms[s], 1, 1e-6, 1e-6);
      }
      float lr = loom_lr_at(&sched, s);
      snprintf(what, sizeof what, "case %d step %d lr", i, s);
      tu_assert_close(what, &lr, &lrs[s], 1, 1e-9, 1e-6);
      loom_optim_step(opt, lr);
      snprintf(what, sizeof what, "case %d step %d w", i, s);
      tu_assert_close(what, w->data, tw + s * 15, 15, 1e-6, 1e-6);
      snprintf(what, sizeof what, "case %d step %d b", i, s);
      tu_assert_close(what, b->data, tb + s * 7, 7, 1e-6, 1e-6);
      note_err(w->data, tw + s * 15, 15);
      note_err(b->data, tb + s * 7, 7);
      compared += 22;
    }
    assert_int_equal(loom_optim_steps(opt), 10);
    loom_optim_free(opt);
    loom_graph_free(g);
  }
  return compared;
}

static void test_trajectories_match_torch(void **state) {
  tu_fixture *fx = tu_fixture_load("optim.fix");
  loom_isa best = loom_runtime_isa();
  for (int isa = 0; isa < LOOM_ISA_COUNT; isa++) {
    if (!loom_runtime_set_isa((loom_isa)isa)) continue;
    worst_err = worst_abs = 0.0;
    int n = run_trajectories(fx);
    print_message("optim parity[%s]: %d parameter values compared over 12 cases x 10 steps; worst |diff| %.2g "
                  "(%.2f of the tolerance)\n", loom_isa_name((loom_isa)isa), n, worst_abs, worst_err);
    assert_int_equal(n, 12 * 10 * 22);
  }
  loom_runtime_set_isa(best);
  tu_fixture_free(fx);
}

static void test_lr_schedules_match_torch(void **state) {
  tu_fixture *fx = tu_fixture_load("sched.fix");
  int n = tu_fixture_i32(fx, "n", NULL, NULL, NULL)[0], compared = 0;
  for (int i = 0; i < n; i++) {
    char k[32];
    snprintf(k, sizeof k, "s%d.iopt", i);
    const int32_t *io = tu_fixture_i32(fx, k, NULL, NULL, NULL);
    snprintf(k, sizeof k, "s%d.fopt", i);
    const float *fo = tu_fixture_f32(fx, k, NULL, NULL, NULL);
    snprintf(k, sizeof k, "s%d.lrs", i);
    size_t steps;
    const float *want = tu_fixture_f32(fx, k, &steps, NULL, NULL);
    loom_lr_schedule s = sched_from(io, fo);
    for (size_t t = 0; t < steps; t++) {
      float lr = loom_lr_at(&s, (long)t);
      char what[64];
      snprintf(what, sizeof what, "schedule %d step %zu", i, t);
      tu_assert_close(what, &lr, &want[t], 1, 1e-9, 1e-5);
      compared++;
    }
  }
  assert_true(compared > 150);
  tu_fixture_free(fx);
  /* past the end, cosine stays at min_lr (torch's closed form would rise again) */
  loom_lr_schedule c = {.kind = LOOM_LR_COSINE, .base_lr = 1.0f, .total_steps = 10, .min_lr = 0.1f};
  assert_true(loom_lr_at(&c, 10) == 0.1f && loom_lr_at(&c, 1000) == 0.1f);
}

/* ---------------------------------------------------------------- kernels: SIMD against scalar */

static void test_update_kernels_simd_match_scalar(void **state) {
  const loom_kernels *ref = loom_kernels_get(LOOM_ISA_SCALAR);
  loom_rng r;
  loom_rng_seed(&r, 11);
  const size_t n = 1000 + 13; /* a vector tail */
  float *buf = malloc(12 * n * sizeof(float));
  float *p0 = buf, *g = buf + n, *b0 = buf + 2 * n, *m0 = buf + 3 * n, *v0 = buf + 4 * n;
  float *pa = buf + 5 * n, *pb = buf + 6 * n, *ba = buf + 7 * n, *bb = buf + 8 * n, *ma = buf + 9 * n, *mb = buf + 10 * n,
        *va = buf + 11 * n;
  tu_fill_uniform(p0, n, -1, 1, &r);
  tu_fill_uniform(g, n, -2, 2, &r);
  tu_fill_uniform(b0, n, -1, 1, &r);
  tu_fill_uniform(m0, n, -0.5f, 0.5f, &r);
  tu_fill_uniform(v0, n, 0.0f, 0.5f, &r);
  int checked = 0;
  for (int isa = 1; isa < LOOM_ISA_COUNT; isa++) {
    const loom_kernels *k = loom_kernels_get((loom_isa)isa);
    if (!k) continue;
    for (int mode = 0; mode < 5; mode++) { /* plain, momentum, first step, nesterov, dampening + decay */
      float mu = mode ? 0.9f : 0.0f, damp = mode == 4 ? 0.3f : 0.0f, wd = mode >= 3 ? 0.01f : 0.0f;
      int nest = mode == 3, first = mode == 2;
      memcpy(pa, p0, n * 4), memcpy(pb, p0, n * 4), memcpy(ba, b0, n * 4), memcpy(bb, b0, n * 4);
      ref->sgd(n, pa, g, mu ? ba : NULL, 0.05f, mu, damp, wd, nest, first);
      k->sgd(n, pb, g, mu ? bb : NULL, 0.05f, mu, damp, wd, nest, first);
      tu_assert_close("sgd p", pb, pa, n, 1e-7, 1e-6);
      tu_assert_close("sgd buffer", bb, ba, n, 1e-7, 1e-6);
      checked++;
    }
    for (int mode = 0; mode < 2; mode++) { /* Adam, AdamW */
      float *vb = bb; /* reuse */
      memcpy(pa, p0, n * 4), memcpy(pb, p0, n * 4), memcpy(ma, m0, n * 4), memcpy(mb, m0, n * 4);
      memcpy(va, v0, n * 4), memcpy(vb, v0, n * 4);
      ref->adam(n, pa, g, ma, va, 1e-2f, 0.9f, 0.999f, 1e-8f, 0.271f, 0.00299f, mode ? 0.1f : 0.0f);
      k->adam(n, pb, g, mb, vb, 1e-2f, 0.9f, 0.999f, 1e-8f, 0.271f, 0.00299f, mode ? 0.1f : 0.0f);
      tu_assert_close("adam p", pb, pa, n, 1e-7, 1e-6);
      tu_assert_close("adam m", mb, ma, n, 1e-7, 1e-6);
      tu_assert_close("adam v", vb, va, n, 1e-7, 1e-6);
      checked++;
    }
  }
  print_message("update kernels: %d SIMD/scalar comparisons\n", checked);
  free(buf);
}

/* ---------------------------------------------------------------- state save / restore */

/* Graph with odd-sized tensors of both ranks; params from seed 1. */
static loom_graph *state_graph(void) {
  loom_graph *g = loom_graph_new();
  loom_param(g, "w1", 2, (int[]){37, 29});
  loom_param(g, "b1", 1, (int[]){29});
  loom_param(g, "w2", 2, (int[]){29, 11});
  loom_param(g, "b2", 1, (int[]){11});
  loom_rng r;
  loom_rng_seed(&r, 1);
  tu_fill_uniform(loom_graph_params(g), loom_graph_n_params(g), -1, 1, &r);
  return g;
}
/* Gradients of step s: deterministic in s. */
static void fake_grads(loom_graph *g, long s) {
  loom_rng r;
  loom_rng_seed(&r, 1000 + (uint64_t)s);
  loom_graph_zero_grad(g);
  for (int i = 0; i < loom_graph_n_param_tensors(g); i++) {
    loom_tensor *t = loom_graph_param_tensor(g, i);
    tu_fill_uniform(t->grad, loom_tensor_numel(t), -1, 1, &r);
  }
}
static void train_steps(loom_graph *g, loom_optim *o, long from, long to, const loom_lr_schedule *sch) {
  for (long s = from; s < to; s++) {
    fake_grads(g, s);
    loom_clip_grad_norm(g, 5.0f);
    loom_optim_step(o, loom_lr_at(sch, s));
  }
}

static void test_restore_state_continues_bit_identically(void **state) {
  loom_optim_config cfgs[3] = {loom_optim_defaults(LOOM_OPTIM_ADAM), loom_optim_defaults(LOOM_OPTIM_ADAMW),
                               loom_optim_defaults(LOOM_OPTIM_SGD)};
  cfgs[1].no_decay_1d = true;
  cfgs[1].weight_decay = 0.05f;
  cfgs[2].momentum = 0.9f;
  cfgs[2].nesterov = true;
  cfgs[2].weight_decay = 1e-3f;
  loom_lr_schedule sch = {.kind = LOOM_LR_COSINE, .base_lr = 1e-2f, .total_steps = 20, .warmup_steps = 4,
                          .warmup_start_factor = 0.1f};
  for (int c = 0; c < 3; c++) {
    /* uninterrupted: 20 steps */
    loom_graph *ga = state_graph();
    loom_optim *oa = loom_optim_new(ga, &cfgs[c], NULL);
    train_steps(ga, oa, 0, 20, &sch);
    /* interrupted after 9: save params, step count and state; a fresh graph + optimiser restores them */
    loom_graph *gb = state_graph();
    loom_optim *ob = loom_optim_new(gb, &cfgs[c], NULL);
    train_steps(gb, ob, 0, 9, &sch);
    size_t n = loom_graph_n_params(gb);
    float *saved_p = malloc(n * sizeof(float)), *saved_s[2] = {NULL, NULL};
    memcpy(saved_p, loom_graph_params(gb), n * sizeof(float));
    long steps = loom_optim_steps(ob);
    int ns = loom_optim_n_state(ob);
    assert_int_equal(ns, c == 2 ? 1 : 2);
    for (int i = 0; i < ns; i++) {
      const char *name;
      size_t len;
      float *buf = loom_optim_state(ob, i, &name, &len);
      assert_int_equal(len, n);
      assert_string_equal(name, c == 2 ? "momentum_buffer" : i ? "exp_avg_sq" : "exp_avg");
      saved_s[i] = malloc(n * sizeof(float));
      memcpy(saved_s[i], buf, n * sizeof(float));
    }
    loom_optim_free(ob);
    loom_graph_free(gb);

    loom_graph *gc = state_graph();
    loom_optim *oc = loom_optim_new(gc, &cfgs[c], NULL);
    memcpy(loom_graph_params(gc), saved_p, n * sizeof(float));
    loom_optim_set_steps(oc, steps);
    for (int i = 0; i < ns; i++) memcpy(loom_optim_state(oc, i, NULL, NULL), saved_s[i], n * sizeof(float));
    train_steps(gc, oc, steps, 20, &sch);
    assert_memory_equal(loom_graph_params(gc), loom_graph_params(ga), n * sizeof(float));
    /* and the run did move the parameters */
    assert_true(memcmp(loom_graph_params(gc), saved_p, n * sizeof(float)) != 0);
    for (int i = 0; i < ns; i++) free(saved_s[i]);
    free(saved_p);
    loom_optim_free(oa);
    loom_optim_free(oc);
    loom_graph_free(ga);
    loom_graph_free(gc);
  }
}

/* ---------------------------------------------------------------- clipping, threads, allocation */

static void test_clip_grad_norm(void **state) {
  loom_graph *g = loom_graph_new();
  loom_param(g, "a", 2, (int[]){301, 257});
  loom_param(g, "b", 1, (int[]){13});
  loom_rng r;
  loom_rng_seed(&r, 9);
  size_t n = loom_graph_n_params(g);
  float *G = loom_graph_grads(g), *g0 = malloc(n * sizeof(float));
  tu_fill_uniform(G, n, -1, 1, &r);
  memcpy(g0, G, n * sizeof(float));
  double ss = 0.0;
  for (size_t i = 0; i < n; i++) ss += (double)g0[i] * g0[i];
  const float want = (float)sqrt(ss);
  /* below the threshold: untouched */
  float total = loom_clip_grad_norm(g, want * 2);
  assert_float_equal(total, want, want * 1e-6);
  assert_memory_equal(G, g0, n * sizeof(float));
  /* above: scaled to max_norm / (total + 1e-6), and the result has norm max_norm */
  int saved = loom_num_threads();
  loom_set_num_threads(1);
  total = loom_clip_grad_norm(g, 3.0f);
  float *g1 = malloc(n * sizeof(float));
  memcpy(g1, G, n * sizeof(float));
  memcpy(G, g0, n * sizeof(float));
  loom_set_num_threads(2);
  float total2 = loom_clip_grad_norm(g, 3.0f);
  loom_set_num_threads(saved);
  assert_true(total == total2);
  assert_memory_equal(G, g1, n * sizeof(float)); /* same bits for 1 and 2 threads */
  ss = 0.0;
  for (size_t i = 0; i < n; i++) ss += (double)G[i] * G[i];
  assert_float_equal(sqrt(ss), 3.0, 3e-5);
  /* a non-finite gradient: reported, nothing scaled */
  G[5] = NAN;
  memcpy(g1, G, n * sizeof(float));
  assert_true(isnan(loom_clip_grad_norm(g, 1.0f)));
  assert_memory_equal(G, g1, n * sizeof(float));
  free(g0);
  free(g1);
  loom_graph_free(g);
}

static void test_step_same_for_any_thread_count_and_allocation_free(void **state) {
  loom_optim_config cfgs[2] = {loom_optim_defaults(LOOM_OPTIM_ADAM), loom_optim_defaults(LOOM_OPTIM_SGD)};
  cfgs[0].weight_decay = 0.01f; /* Adam + L2: the stack-buffer path */
  cfgs[0].no_decay_1d = true;
  cfgs[1].momentum = 0.9f;
  int saved = loom_num_threads();
  for (int c = 0; c < 2; c++) {
    float *res[2];
    size_t n = 0;
    for (int th = 1; th <= 2; th++) {
      loom_set_num_threads(th);
      loom_graph *g = loom_graph_new();
      loom_param(g, "big", 2, (int[]){211, 401}); /* > 5 parallel blocks */
      loom_param(g, "bias", 1, (int[]){401});
      loom_rng r;
      loom_rng_seed(&r, 77);
      n = loom_graph_n_params(g);
      tu_fill_uniform(loom_graph_params(g), n, -1, 1, &r);
      loom_optim *o = loom_optim_new(g, &cfgs[c], NULL);
      for (int s = 0; s < 3; s++) {
        tu_fill_uniform(loom_graph_grads(g), n, -1, 1, &r);
        tu_alloc_count_start();
        loom_optim_step(o, 1e-2f);
        long allocs = tu_alloc_count_stop();
        assert_int_equal(allocs, 0); /* testutil's malloc wrappers count (not under ASan: then 0 proves nothing) */
      }
      res[th - 1] = malloc(n * sizeof(float));
      memcpy(res[th - 1], loom_graph_params(g), n * sizeof(float));
      loom_optim_free(o);
      loom_graph_free(g);
    }
    assert_memory_equal(res[0], res[1], n * sizeof(float));
    free(res[0]);
    free(res[1]);
  }
  loom_set_num_threads(saved);
}

static void test_bad_configurations_are_reported(void **state) {
  loom_graph *g = loom_graph_new();
  loom_param(g, "w", 1, (int[]){3});
  loom_error err;
  loom_optim_config c = loom_optim_defaults(LOOM_OPTIM_SGD);
  c.nesterov = true;
  assert_null(loom_optim_new(g, &c, &err));
  assert_non_null(strstr(err.msg, "Nesterov"));
  c = loom_optim_defaults(LOOM_OPTIM_ADAM);
  c.beta2 = 1.0f;
  assert_null(loom_optim_new(g, &c, &err));
  assert_non_null(strstr(err.msg, "betas"));
  c = loom_optim_defaults(LOOM_OPTIM_ADAMW);
  c.weight_decay = -1.0f;
  assert_null(loom_optim_new(g, &c, &err));
  assert_non_null(strstr(err.msg, "weight_decay"));
  /* out of memory: reported, nothing leaked (ASan) */
  c = loom_optim_defaults(LOOM_OPTIM_ADAM);
  for (long k = 1; k <= 4; k++) {
    loom_alloc_fail_after(k);
    loom_optim *o = loom_optim_new(g, &c, &err);
    loom_alloc_fail_after(0);
    if (o) {
      loom_optim_free(o);
      break;
    }
    assert_non_null(strstr(err.msg, "out of memory"));
  }
  loom_graph_free(g);
}

/* ---------------------------------------------------------------- end to end */

/* A 2-layer MLP (8 -> 32 relu -> 4) learns 4 linearly separable classes (label = argmax of a fixed
 * random linear map of x ~ U(-1, 1)^8) with softmax CE and Adam (lr 1e-2), full batch of 256, 200 steps. */
static void test_mlp_learns_separable_problem(void **state) {
  enum { N = 256, D = 8, H = 32, C = 4, STEPS = 200 };
  loom_rng r;
  loom_rng_seed(&r, 2024);
  float *x = malloc(N * D * sizeof(float)), wstar[D * C];
  int32_t *y = malloc(N * sizeof(int32_t));
  tu_fill_uniform(wstar, D * C, -1, 1, &r);
  tu_fill_uniform(x, N * D, -1, 1, &r);
  for (int i = 0; i < N; i++) {
    int best = 0;
    float bs = -INFINITY;
    for (int c = 0; c < C; c++) {
      float s = 0;
      for (int d = 0; d < D; d++) s += x[i * D + d] * wstar[d * C + c];
      if (s > bs) bs = s, best = c;
    }
    y[i] = best;
  }
  loom_graph *g = loom_graph_new();
  loom_tensor *X = loom_input(g, "x", LOOM_F32, 2, (int[]){LOOM_BATCH, D});
  loom_tensor *Y = loom_input(g, "y", LOOM_I32, 1, (int[]){LOOM_BATCH});
  loom_tensor *w1 = loom_param(g, "w1", 2, (int[]){H, D}), *b1 = loom_param(g, "b1", 1, (int[]){H});
  loom_tensor *w2 = loom_param(g, "w2", 2, (int[]){C, H}), *b2 = loom_param(g, "b2", 1, (int[]){C});
  loom_init_tensor(w1, (loom_init){LOOM_INIT_HE_UNIFORM, 0}, &r);
  loom_init_tensor(w2, (loom_init){LOOM_INIT_GLOROT_UNIFORM, 0}, &r);
  loom_tensor *h = loom_relu(g, loom_add(g, loom_matmul(g, X, w1, false, true), b1));
  loom_tensor *logits = loom_add(g, loom_matmul(g, h, w2, false, true), b2);
  loom_tensor *loss = loom_softmax_ce(g, logits, Y, 0.0f, LOOM_CE_IGNORE_DEFAULT, LOOM_REDUCE_MEAN);
  loom_input_bind(X, x);
  loom_input_bind(Y, y);
  loom_tensor *outs[2] = {loss, logits};
  assert_int_equal(loom_graph_compile(g, N, 2, outs, true), 0);
  loom_optim_config cfg = loom_optim_defaults(LOOM_OPTIM_ADAM);
  loom_optim *opt = loom_optim_new(g, &cfg, NULL);
  float first = 0.0f, last = 0.0f;
  for (int s = 0; s < STEPS; s++) {
    loom_graph_zero_grad(g);
    loom_graph_forward(g);
    if (s == 0) first = loss->data[0];
    loom_graph_backward(g, loss);
    loom_optim_step(opt, 1e-2f);
  }
  loom_graph_forward(g);
  last = loss->data[0];
  int correct = 0;
  for (int i = 0; i < N; i++) {
    int best = 0;
    for (int c = 1; c < C; c++) best = logits->data[i * C + c] > logits->data[i * C + best] ? c : best;
    correct += best == y[i];
  }
  float acc = (float)correct / N;
  print_message("MLP: loss %.4f -> %.4f after %d Adam steps, train accuracy %.3f\n", first, last, STEPS, acc);
  assert_true(first > 1.0f);   /* ~ln 4 at the start */
  assert_true(last < 0.15f);   /* stated target */
  assert_true(acc >= 0.95f);   /* stated floor */
  loom_optim_free(opt);
  loom_graph_free(g);
  free(x);
  free(y);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_trajectories_match_torch),
      cmocka_unit_test(test_lr_schedules_match_torch),
      cmocka_unit_test(test_update_kernels_simd_match_scalar),
      cmocka_unit_test(test_restore_state_continues_bit_identically),
      cmocka_unit_test(test_clip_grad_norm),
      cmocka_unit_test(test_step_same_for_any_thread_count_and_allocation_free),
      cmocka_unit_test(test_bad_configurations_are_reported),
      cmocka_unit_test(test_mlp_learns_separable_problem),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
