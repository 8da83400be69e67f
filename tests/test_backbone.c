/* test_backbone.c — torchvision ResNet-18/34 and VGG-11/16 feature towers (src/model/backbone.c):
 * parity with torchvision's pooled features (tests/reference/gen_backbone.py) for each architecture,
 * BN-folded (frozen) and unfolded (trainable); the weights are a closed-form function of (tensor name,
 * element index) that this test writes as a torchvision-named safetensors file and loads back; and a
 * weights file with a missing, an unexpected, a wrong-shape or a wrong-dtype tensor fails naming it. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "loom/backbone.h"
#include "loom/safetensors.h"
#include "loom/sha256.h"
#include "loom/trainer.h"
#include "testutil.h"

static uint32_t fnv1a(const char *s) {
  uint32_t h = 2166136261u;
  for (; *s; s++) h = (h ^ (uint8_t)*s) * 16777619u;
  return h;
}
/* r = 2u - 1 of gen_backbone.py's hash, element i of tensor `name` */
static float unit(const char *name, size_t i) {
  uint32_t h = (uint32_t)i * 2654435761u + fnv1a(name);
  h ^= h >> 15;
  h *= 2246822519u;
  h ^= h >> 13;
  const float u = (float)(h >> 8) / 16777216.0f;
  return 2.0f * u - 1.0f;
}
static bool ends(const char *s, const char *suffix) {
  size_t a = strlen(s), b = strlen(suffix);
  return a >= b && !strcmp(s + a - b, suffix);
}
static float value(const char *name, int ndim, const int *shape, size_t i) {
  const float r = unit(name, i);
  if (ndim == 4) return r * (float)sqrt(6.0 / ((double)shape[1] * shape[2] * shape[3]));
  if (ends(name, "running_mean")) return 0.1f * r;
  if (ends(name, "running_var")) return 1.0f + 0.5f * r;
  if (!strncmp(name, "features.", 9)) return r * 0.01f; /* vgg conv bias */
  return ends(name, ".weight") ? 1.0f + 0.25f * r : 0.1f * r;
}

typedef enum { SPOIL_NONE, SPOIL_DROP, SPOIL_EXTRA, SPOIL_SHAPE, SPOIL_DTYPE } fault;

/* Writes the deterministic state_dict of arch to path; `fault` spoils tensor number `which`. */
static void write_weights(loom_backbone_arch a, const char *path, fault f, int which) {
  loom_st_writer *w = loom_st_writer_new();
  loom_error err;
  char name[64];
  int ndim, shape[4];
  const int n = loom_backbone_tensor(a, 0, name, sizeof name, &ndim, shape);
  void **keep = calloc((size_t)n, sizeof *keep); /* the writer does not copy: data lives until the write */
  static const int64_t zero = 0;
  for (int t = 0; t < n; t++) {
    loom_backbone_tensor(a, t, name, sizeof name, &ndim, shape);
    if (f == SPOIL_DROP && t == which) continue;
    int64_t sh[4];
    size_t numel = 1;
    for (int d = 0; d < ndim; d++) sh[d] = shape[d], numel *= (size_t)shape[d];
    if (f == SPOIL_SHAPE && t == which) sh[0] += 1, numel = numel / (size_t)shape[0] * (size_t)(shape[0] + 1);
    if (ends(name, "num_batches_tracked")) {
      assert_int_equal(loom_st_writer_add(w, name, LOOM_ST_I64, 0, sh, &zero, &err), 0);
      continue;
    }
    float *v = malloc(numel * sizeof *v);
    for (size_t i = 0; i < numel; i++) v[i] = value(name, ndim, shape, i);
    if (f == SPOIL_DTYPE && t == which) {
      assert_int_equal(loom_st_writer_add(w, name, LOOM_ST_I32, ndim, sh, v, &err), 0);
    } else {
      assert_int_equal(loom_st_writer_add(w, name, LOOM_ST_F32, ndim, sh, v, &err), 0);
    }
    keep[t] = v;
  }
  static const float fc[4] = {1, 2, 3, 4};
  const bool resnet = a == LOOM_BACKBONE_RESNET18 || a == LOOM_BACKBONE_RESNET34;
  /* the classifier is ignored (a small stand-in: the real one is 4096 x 25088 for vgg) */
  assert_int_equal(loom_st_writer_add(w, resnet ? "fc.bias" : "classifier.6.bias", LOOM_ST_F32, 1, (int64_t[]){4}, fc,
                                      &err), 0);
  if (f == SPOIL_EXTRA) assert_int_equal(loom_st_writer_add(w, "layer9.0.conv1.weight", LOOM_ST_F32, 1, (int64_t[]){4}, fc,
                                                        &err), 0);
  assert_int_equal(loom_st_write(w, path, &err), 0);
  loom_st_writer_free(w);
  for (int t = 0; t < n; t++) free(keep[t]);
  free(keep);
}

static void check_arch(loom_backbone_arch a, const tu_fixture *fx) {
  const char *arch = loom_backbone_name(a);
  char key[64], path[512];
  snprintf(path, sizeof path, "%s", tu_tmp(arch));
  write_weights(a, path, SPOIL_NONE, 0);
  size_t n;
  int ndim, shape[8];
  snprintf(key, sizeof key, "%s.n_tensors", arch);
  const int32_t *nt = tu_fixture_i32(fx, key, &n, &ndim, shape);
  char name[64];
  int nd, sh[4];
  assert_int_equal(loom_backbone_tensor(a, 0, name, sizeof name, &nd, sh), nt[0]); /* torchvision's count minus the head */
  snprintf(key, sizeof key, "%s.first_head", arch);
  const float *head = tu_fixture_f32(fx, key, &n, &ndim, shape);
  for (size_t i = 0; i < n; i++) assert_true(value(name, nd, sh, i) == head[i]); /* the same formula, same bits */
  snprintf(key, sizeof key, "%s.features", arch);
  const float *want = tu_fixture_f32(fx, key, &n, &ndim, shape);
  assert_int_equal(n, 2 * 512);
  for (int fused = 0; fused < 2; fused++) {
    loom_graph *g = loom_graph_new();
    loom_tensor *x = loom_input(g, "image", LOOM_F32, 4, (int[]){LOOM_BATCH, 3, 64, 64});
    loom_tensor *y = loom_backbone_build(g, a, "image.backbone.", fused, x);
    loom_error err;
    char hex[65];
    assert_int_equal(loom_backbone_load(g, a, "image.backbone.", fused, path, hex, &err), 0);
    assert_int_equal(strlen(hex), 64);
    assert_int_equal(loom_graph_compile(g, 2, 1, &y, false), 0);
    for (size_t i = 0; i < 2 * 3 * 64 * 64; i++) x->data[i] = 2.0f * unit("input", i);
    loom_graph_forward(g);
    double emax = 0, ymax = 0;
    for (size_t i = 0; i < n; i++) {
      emax = fmax(emax, fabs((double)y->data[i] - want[i]));
      ymax = fmax(ymax, fabs((double)want[i]));
    }
    printf("%s %s: max |loom - torchvision| / max |torchvision| = %.3g (max |f| %.4g)\n", arch,
           fused ? "BN folded" : "conv + BatchNorm2d", emax / ymax, ymax);
    assert_true(emax <= 1e-4 * ymax);
    loom_graph_free(g);
  }
  remove(path);
}

static void test_parity(void **state) {
  (void)state;
  tu_fixture *fx = tu_fixture_load("backbone.fix");
  size_t n;
  int ndim, shape[8];
  const float *xh = tu_fixture_f32(fx, "input_head", &n, &ndim, shape);
  for (size_t i = 0; i < n; i++) assert_true(2.0f * unit("input", i) == xh[i]);
  for (int a = LOOM_BACKBONE_RESNET18; a <= LOOM_BACKBONE_VGG16; a++) check_arch((loom_backbone_arch)a, fx);
  tu_fixture_free(fx);
}

static void expect_error(loom_backbone_arch a, fault f, int which, const char *needle1, const char *needle2) {
  const char *path = tu_tmp("bad.safetensors");
  write_weights(a, path, f, which);
  loom_graph *g = loom_graph_new();
  loom_tensor *x = loom_input(g, "image", LOOM_F32, 4, (int[]){LOOM_BATCH, 3, 32, 32});
  loom_backbone_build(g, a, "bb.", true, x);
  loom_error err;
  assert_int_equal(loom_backbone_load(g, a, "bb.", true, path, NULL, &err), -1);
  printf("%s\n", err.msg);
  assert_non_null(strstr(err.msg, path));
  assert_non_null(strstr(err.msg, needle1));
  if (needle2) assert_non_null(strstr(err.msg, needle2));
  loom_graph_free(g);
  remove(path);
}

static void test_bad_weights_named(void **state) {
  (void)state;
  /* resnet18's tensors: 0 conv1.weight, 1..5 bn1.*, 6 layer1.0.conv1.weight */
  expect_error(LOOM_BACKBONE_RESNET18, SPOIL_DROP, 6, "missing: layer1.0.conv1.weight", NULL);
  expect_error(LOOM_BACKBONE_RESNET18, SPOIL_EXTRA, 0, "unexpected: layer9.0.conv1.weight", NULL);
  expect_error(LOOM_BACKBONE_RESNET18, SPOIL_SHAPE, 0, "conv1.weight is F32 (65, 3, 7, 7), want F32 (64, 3, 7, 7)", NULL);
  expect_error(LOOM_BACKBONE_VGG11, SPOIL_DTYPE, 1, "features.0.bias is I32 (64), want F32 (64)", NULL);
  /* a resnet18 file given as resnet34: the blocks resnet34 has beyond resnet18 are missing */
  const char *path = tu_tmp("r18.safetensors");
  write_weights(LOOM_BACKBONE_RESNET18, path, SPOIL_NONE, 0);
  loom_graph *g = loom_graph_new();
  loom_tensor *x = loom_input(g, "image", LOOM_F32, 4, (int[]){LOOM_BATCH, 3, 32, 32});
  loom_backbone_build(g, LOOM_BACKBONE_RESNET34, "bb.", false, x);
  loom_error err;
  assert_int_equal(loom_backbone_load(g, LOOM_BACKBONE_RESNET34, "bb.", false, path, NULL, &err), -1);
  printf("%s\n", err.msg);
  assert_non_null(strstr(err.msg, "not a torchvision resnet34 state_dict"));
  assert_non_null(strstr(err.msg, "missing: layer1.2.conv1.weight"));
  loom_graph_free(g);
  remove(path);
  /* num_batches_tracked may be absent: resnet18 tensor 5 is bn1.num_batches_tracked */
  write_weights(LOOM_BACKBONE_RESNET18, path, SPOIL_DROP, 5);
  g = loom_graph_new();
  x = loom_input(g, "image", LOOM_F32, 4, (int[]){LOOM_BATCH, 3, 32, 32});
  loom_backbone_build(g, LOOM_BACKBONE_RESNET18, "bb.", true, x);
  assert_int_equal(loom_backbone_load(g, LOOM_BACKBONE_RESNET18, "bb.", true, path, NULL, &err), 0);
  loom_graph_free(g);
  remove(path);
}

/* A multiclass model on the committed sample's items whose image tower is a frozen resnet18 from a
 * weights file: it trains, the checkpoint's config records the file's SHA-256, the backbone parameters
 * stay as loaded (BN-folded), and a resume needs no weights file; no image.weights is an error naming it. */
static const char *write_config(const char *weights) {
  static char path[600];
  snprintf(path, sizeof path, "%s", tu_tmp("bb.ini"));
  char items[600], root[600];
  snprintf(items, sizeof items, "%s", tu_src_path("datasets/fashion-shop-sample/items.csv"));
  snprintf(root, sizeof root, "%s", tu_src_path("datasets/fashion-shop-sample"));
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fprintf(f, "[data]\ninteractions = %s\nimage_root = %s\nuser_col =\nitem_col =\ntimestamp_col =\n"
             "label_col = category\nlabel_type = class\nimage_col = image\nsplit = random\nsplit_ratio = 0.7, 0.3, 0\n"
             "image_size = 32x32\nbatch_size = 16\nseed = 1\n[text]\nenabled = false\n"
             "[image]\nbackbone = resnet18\nfreeze = true\n%s%s%sdense = 16\n[interaction]\nenabled = false\n[fusion]\ndense =\n"
             "[task]\nkind = multiclass\n[train]\nepochs = 1\nmax_steps = 3\nlr = 0.003\n",
          items, root, weights ? "weights = " : "", weights ? weights : "", weights ? "\n" : "");
  fclose(f);
  return path;
}

static void test_train_frozen_resnet18(void **state) {
  (void)state;
  char weights[600], out[600], ckpt[700];
  snprintf(weights, sizeof weights, "%s", tu_tmp("r18.safetensors"));
  snprintf(out, sizeof out, "%s", tu_tmp("run"));
  write_weights(LOOM_BACKBONE_RESNET18, weights, SPOIL_NONE, 0);
  char outset[700];
  snprintf(outset, sizeof outset, "train.out=%s", out);
  const char *sets[] = {outset};
  loom_train_opts o = {.config_path = write_config(NULL), .sets = sets, .n_sets = 1};
  loom_train_result r;
  loom_error err;
  assert_int_equal(loom_train(&o, &r, &err), -1);
  printf("%s\n", err.msg);
  assert_non_null(strstr(err.msg, "image.weights"));
  tu_rm_rf(out);
  o.config_path = write_config(weights);
  if (loom_train(&o, &r, &err) < 0) fail_msg("%s", err.msg);
  assert_int_equal(r.steps, 3);
  snprintf(ckpt, sizeof ckpt, "%s/last.safetensors", out);
  loom_st_file *f = loom_st_open(ckpt, &err);
  assert_non_null(f);
  char hex[65];
  assert_int_equal(loom_sha256_file(weights, hex, &err), 0);
  assert_non_null(strstr(loom_st_meta(f, "loom.config"), hex));
  /* the frozen tower holds the folded weights as loaded: rebuild them and compare bit for bit */
  loom_graph *g = loom_graph_new();
  loom_tensor *x = loom_input(g, "image", LOOM_F32, 4, (int[]){LOOM_BATCH, 3, 32, 32});
  loom_backbone_build(g, LOOM_BACKBONE_RESNET18, "image.backbone.", true, x);
  assert_int_equal(loom_backbone_load(g, LOOM_BACKBONE_RESNET18, "image.backbone.", true, weights, NULL, &err), 0);
  for (int i = 0; i < loom_graph_n_param_tensors(g); i++) {
    const loom_tensor *t = loom_graph_param_tensor(g, i);
    const size_t n = loom_tensor_numel(t);
    float *v = malloc(n * sizeof *v);
    assert_int_equal(loom_st_read_f32(f, t->name, v, n, &err), 0);
    assert_memory_equal(v, t->data, n * sizeof *v);
    free(v);
  }
  loom_graph_free(g);
  loom_st_close(f);
  remove(weights); /* a resume reads the weights from the checkpoint */
  const char *more[] = {"train.max_steps=5"};
  loom_train_opts ro = {.resume_dir = out, .sets = more, .n_sets = 1};
  if (loom_train(&ro, &r, &err) < 0) fail_msg("%s", err.msg);
  assert_int_equal(r.steps, 5);
  tu_rm_rf(out);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parity),
      cmocka_unit_test(test_bad_weights_named),
      cmocka_unit_test(test_train_frozen_resnet18),
  };
  return cmocka_run_group_tests_name("backbone", tests, NULL, NULL);
}
