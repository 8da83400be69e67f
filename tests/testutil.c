/* testutil.c — see testutil.h. */
#include "loom/runtime.h"
#include "loom/trainer.h"
#include "testutil.h"

#include <dlfcn.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void tu_fill_uniform(float *x, size_t n, float lo, float hi, loom_rng *r) {
  for (size_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * loom_rng_uniform(r);
}

void tu_fill_away_from(float *x, size_t n, float lo, float hi, float avoid, float gap, loom_rng *r) {
  for (size_t i = 0; i < n; i++) {
    do x[i] = lo + (hi - lo) * loom_rng_uniform(r);
    while (fabsf(x[i] - avoid) < gap);
  }
}

double tu_max_err(const float *a, const float *b, size_t n, double atol, double rtol) {
  double worst = 0.0;
  for (size_t i = 0; i < n; i++) {
    double e = fabs((double)a[i] - (double)b[i]) / (atol + rtol * fabs((double)b[i]));
    if (!(e <= worst)) worst = isnan(e) ? INFINITY : e;
  }
  return worst;
}

void tu_assert_close(const char *what, const float *a, const float *b, size_t n, double atol, double rtol) {
  for (size_t i = 0; i < n; i++) {
    double d = fabs((double)a[i] - (double)b[i]);
    if (!(d <= atol + rtol * fabs((double)b[i]))) {
      fail_msg("%s: element %zu of %zu differs: got %.9g, want %.9g (|diff| %.3g > atol %.1g + rtol %.1g)", what, i, n,
               a[i], b[i], d, atol, rtol);
    }
  }
}

static double loss_value(loom_graph *g, loom_tensor *loss, loom_rng saved_rng) {
  *loom_graph_rng(g) = saved_rng;
  loom_graph_forward(g);
  return loss->data[0];
}

int tu_gradcheck(loom_graph *g, loom_tensor *y, int batch, tu_fill_fn fill, void *ctx, double eps, double atol,
                 double rtol) {
  loom_rng r;
  loom_rng_seed(&r, 1234);
  /* loss = sum(y * R) with R a fixed random tensor of y's (compiled) shape. */
  assert_int_equal(loom_graph_compile(g, batch, 1, &y, false), 0);
  int rshape[LOOM_MAX_DIMS];
  memcpy(rshape, y->shape, sizeof rshape);
  loom_tensor *R = loom_input(g, "gradcheck.R", LOOM_F32, y->ndim, rshape);
  size_t ny = loom_tensor_numel(y);
  float *rbuf = malloc(ny * sizeof(float));
  tu_fill_uniform(rbuf, ny, -1.0f, 1.0f, &r);
  loom_input_bind(R, rbuf);
  loom_tensor *loss = loom_sum(g, loom_mul(g, y, R), LOOM_ALL, false);
  if (loom_graph_compile(g, batch, 1, &loss, true) != 0) fail_msg("compile failed: %s", loom_graph_error(g));
  if (fill) fill(g, ctx);
  loom_rng saved = *loom_graph_rng(g);

  loom_graph_zero_grad(g);
  *loom_graph_rng(g) = saved;
  loom_graph_forward(g);
  loom_graph_backward(g, loss);

  int checked = 0;
  for (int i = 0; i < loom_graph_n_nodes(g); i++) {
    loom_tensor *t = loom_graph_node(g, i);
    bool is_param = t->kind == LOOM_NODE_PARAM;
    bool is_input = t->kind == LOOM_NODE_INPUT && t->requires_grad && t->dtype == LOOM_F32;
    if (!t->live || !(is_param || is_input) || !t->grad) continue;
    size_t n = loom_tensor_numel(t);
    float *analytic = malloc(n * sizeof(float));
    memcpy(analytic, t->grad, n * sizeof(float));
    for (size_t k = 0; k < n; k++) {
      float orig = t->data[k];
      t->data[k] = orig + (float)eps;
      double lp = loss_value(g, loss, saved);
      t->data[k] = orig - (float)eps;
      double lm = loss_value(g, loss, saved);
      t->data[k] = orig;
      double numeric = (lp - lm) / (2.0 * eps);
      double d = fabs(numeric - analytic[k]);
      if (!(d <= atol + rtol * fabs(numeric)))
        fail_msg("gradcheck %s: d loss / d %s[%zu]: analytic %.7g, numeric %.7g (|diff| %.3g)", y->name, t->name, k,
                 analytic[k], numeric, d);
      checked++;
    }
    free(analytic);
  }
  (void)loss_value(g, loss, saved);
  free(rbuf);
  return checked;
}

const char *tu_src_path(const char *rel) {
  static char buf[4096];
  snprintf(buf, sizeof buf, "%s/%s", LOOM_SOURCE_DIR, rel);
  return buf;
}

/* Allocation counting: this object defines malloc & co. for every test program (the executable's
 * definitions take precedence over libc's), forwarding to glibc's real allocator. AddressSanitizer
 * owns malloc in the sanitizer build, so there the counter is off and tu_assert_no_alloc skips. */
static volatile int counting;
static volatile long n_allocs;

static void note_alloc(void) {
  if (__atomic_load_n(&counting, __ATOMIC_SEQ_CST)) __atomic_add_fetch(&n_allocs, 1, __ATOMIC_SEQ_CST);
}

#if !defined(__SANITIZE_ADDRESS__)
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
void *malloc(size_t n) { note_alloc(); return __libc_malloc(n); }
void *calloc(size_t a, size_t b) { note_alloc(); return __libc_calloc(a, b); }
void *realloc(void *p, size_t n) { note_alloc(); return __libc_realloc(p, n); }
void *aligned_alloc(size_t al, size_t n) { note_alloc(); return __libc_memalign(al, n); }
int posix_memalign(void **p, size_t al, size_t n) {
  note_alloc();
  *p = __libc_memalign(al, n);
  return *p ? 0 : 12;
}
void *memalign(size_t al, size_t n) { note_alloc(); return __libc_memalign(al, n); }
void *valloc(size_t n) { note_alloc(); return __libc_memalign(4096, n); }
void *pvalloc(size_t n) { note_alloc(); return __libc_memalign(4096, (n + 4095) & ~(size_t)4095); }
#endif

void tu_alloc_count_start(void) {
  n_allocs = 0;
  __atomic_store_n(&counting, 1, __ATOMIC_SEQ_CST);
}
long tu_alloc_count_stop(void) {
  __atomic_store_n(&counting, 0, __ATOMIC_SEQ_CST);
  return n_allocs;
}

bool tu_alloc_counting_available(void) {
  tu_alloc_count_start();
  void *volatile probe = malloc(16); /* volatile: the compiler may not drop the pair */
  free(probe);
  return tu_alloc_count_stop() == 1;
}

void tu_assert_no_alloc(const char *what, void (*step)(void *), void *ctx, int warmup, int steps) {
  if (!tu_alloc_counting_available()) fail_msg("%s: allocation counting does not work in this build", what);
  for (int i = 0; i < warmup; i++) step(ctx); /* thread pools and BLAS buffers start on first use */
  tu_alloc_count_start();
  for (int i = 0; i < steps; i++) step(ctx);
  long n = tu_alloc_count_stop();
  if (n != 0)
    fail_msg("%s: %ld heap allocation(s) in %d step(s); a step must allocate nothing (OpenBLAS core %s, "
             "%d threads: which GEMM kernels OpenBLAS picks decides which paths run)",
             what, n, steps, loom_blas_core_name(), loom_num_threads());
}

/* ---- fixtures ---- */
typedef struct {
  char name[128];
  int dtype, ndim, shape[8];
  size_t numel;
  void *data;
} tu_fx_tensor;

struct tu_fixture {
  int n;
  tu_fx_tensor *t;
};

static void fx_read(FILE *f, void *dst, size_t n, const char *path) {
  if (fread(dst, 1, n, f) != n) fail_msg("fixture %s is truncated (run tests/reference/*.py to regenerate)", path);
}

tu_fixture *tu_fixture_load(const char *rel) {
  char path[4096];
  snprintf(path, sizeof path, "%s/tests/reference/%s", LOOM_SOURCE_DIR, rel);
  FILE *f = fopen(path, "rb");
  if (!f) fail_msg("fixture %s is missing (generate it with the script in tests/reference/)", path);
  char magic[8];
  uint32_t count;
  fx_read(f, magic, 8, path);
  if (memcmp(magic, "LOOMFIX1", 8) != 0) fail_msg("fixture %s: bad magic", path);
  fx_read(f, &count, 4, path);
  tu_fixture *fx = calloc(1, sizeof *fx);
  fx->n = (int)count;
  fx->t = calloc(count ? count : 1, sizeof *fx->t);
  for (uint32_t i = 0; i < count; i++) {
    tu_fx_tensor *t = &fx->t[i];
    uint16_t len;
    uint8_t code, ndim;
    fx_read(f, &len, 2, path);
    if (len >= sizeof t->name) fail_msg("fixture %s: name too long", path);
    fx_read(f, t->name, len, path);
    fx_read(f, &code, 1, path);
    fx_read(f, &ndim, 1, path);
    if (ndim > 8 || code > 1) fail_msg("fixture %s: bad header for %s", path, t->name);
    t->dtype = code;
    t->ndim = ndim;
    t->numel = 1;
    for (int d = 0; d < ndim; d++) {
      uint32_t v;
      fx_read(f, &v, 4, path);
      t->shape[d] = (int)v;
      t->numel *= v;
    }
    t->data = malloc(t->numel * 4 + 1);
    fx_read(f, t->data, t->numel * 4, path);
  }
  fclose(f);
  return fx;
}

void tu_fixture_free(tu_fixture *fx) {
  if (!fx) return;
  for (int i = 0; i < fx->n; i++) free(fx->t[i].data);
  free(fx->t);
  free(fx);
}

bool tu_fixture_has(const tu_fixture *fx, const char *name) {
  for (int i = 0; i < fx->n; i++)
    if (strcmp(fx->t[i].name, name) == 0) return true;
  return false;
}

static const tu_fx_tensor *fx_find(const tu_fixture *fx, const char *name, int dtype) {
  for (int i = 0; i < fx->n; i++)
    if (strcmp(fx->t[i].name, name) == 0) {
      if (fx->t[i].dtype != dtype) fail_msg("fixture tensor %s has another dtype", name);
      return &fx->t[i];
    }
  fail_msg("fixture has no tensor named %s", name);
  return NULL;
}

static const void *fx_get(const tu_fixture *fx, const char *name, int dtype, size_t *numel, int *ndim, int shape[8]) {
  const tu_fx_tensor *t = fx_find(fx, name, dtype);
  if (numel) *numel = t->numel;
  if (ndim) *ndim = t->ndim;
  if (shape) memcpy(shape, t->shape, sizeof t->shape);
  return t->data;
}

const float *tu_fixture_f32(const tu_fixture *fx, const char *name, size_t *numel, int *ndim, int shape[8]) {
  return fx_get(fx, name, 0, numel, ndim, shape);
}
const int32_t *tu_fixture_i32(const tu_fixture *fx, const char *name, size_t *numel, int *ndim, int shape[8]) {
  return fx_get(fx, name, 1, numel, ndim, shape);
}

int tu_sample_sets(const char **sets) {
  static char paths[4][1200];
  const char *keys[4] = {"interactions", "items", "users", "image_root"};
  const char *files[4] = {"/interactions.csv", "/items.csv", "/users.csv", ""};
  for (int i = 0; i < 4; i++) {
    snprintf(paths[i], sizeof paths[i], "data.%s=%s%s", keys[i], tu_src_path("datasets/fashion-shop-sample"), files[i]);
    sets[i] = paths[i];
  }
  return 4;
}

int tu_train_sample(const char *out, const char *resume, const char *interactions, const char *const *small,
                    const char *const *extra, loom_train_result *r, loom_error *err) {
  static char inter[1200], outset[1200];
  const char *sets[96];
  int n = 0;
  if (!resume) {
    n = tu_sample_sets(sets);
    if (interactions) snprintf(inter, sizeof inter, "data.interactions=%s", interactions), sets[0] = inter;
    for (int i = 0; small && small[i]; i++) sets[n++] = small[i];
    snprintf(outset, sizeof outset, "train.out=%s", out);
    sets[n++] = outset;
  }
  for (int i = 0; extra && extra[i]; i++) sets[n++] = extra[i];
  char config[1200];
  snprintf(config, sizeof config, "%s", tu_src_path("configs/fashion-shop-click.ini"));
  loom_train_opts o = {.config_path = config, .sets = sets, .n_sets = n, .resume_dir = resume};
  return loom_train(&o, r, err);
}

void tu_rm_rf(const char *dir) {
  char cmd[1300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  assert_int_equal(system(cmd), 0);
}

char *tu_slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) fail_msg("cannot open %s", path);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *b = malloc((size_t)n + 1);
  assert_non_null(b);
  assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
  b[n] = '\0';
  fclose(f);
  if (len) *len = (size_t)n;
  return b;
}

/* ---- every test program runs in a fresh temporary directory of its own */

/* Set up before main and removed at exit, so a test that writes a relative path (a run directory, a
 * scratch file) can never leave it in the source or build tree — wherever the program is started.
 * LOOM_TEST_OUT=DIR runs it in DIR instead and keeps what it writes there (the PyTorch parity dumps
 * that tests/reference/check_model.py reads). */
static char tu_cwd_dir[64];

static int tu_remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st, (void)flag, (void)ftw;
  return remove(path);
}

static void tu_leave_temp_dir(void) {
  if (tu_cwd_dir[0] && chdir("/") == 0) nftw(tu_cwd_dir, tu_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

__attribute__((constructor)) static void tu_enter_temp_dir(void) {
  const char *keep = getenv("LOOM_TEST_OUT");
  if (keep && keep[0]) {
    if (chdir(keep) != 0) fprintf(stderr, "testutil: LOOM_TEST_OUT=%s: cannot enter it; running in place\n", keep);
    return;
  }
  const char *base = getenv("TMPDIR") && getenv("TMPDIR")[0] ? getenv("TMPDIR") : "/tmp";
  snprintf(tu_cwd_dir, sizeof tu_cwd_dir, "%.40s/loom-test-XXXXXX", base);
  if (!mkdtemp(tu_cwd_dir) || chdir(tu_cwd_dir) != 0) {
    tu_cwd_dir[0] = '\0';
    return;
  }
  atexit(tu_leave_temp_dir);
}

const char *tu_temp_dir(void) {
  static char cwd[4096];
  if (tu_cwd_dir[0]) return tu_cwd_dir;
  if (!cwd[0] && !getcwd(cwd, sizeof cwd)) fail_msg("testutil: getcwd failed");
  return cwd; /* LOOM_TEST_OUT: the directory the caller chose */
}

const char *tu_tmp(const char *name) {
  static char ring[8][4200];
  static int next;
  char *p = ring[next++ % 8];
  if ((size_t)snprintf(p, sizeof ring[0], "%s/%s", tu_temp_dir(), name) >= sizeof ring[0]) fail_msg("tu_tmp: too long");
  return p;
}
