/* testutil.h — shared helpers for loom's CMocka tests: random fills, closeness checks, a
 * central-difference gradient checker and an allocation counter. */
#ifndef LOOM_TESTUTIL_H
#define LOOM_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four headers above first */
#include <cmocka.h>

#include "loom/loom.h"

void tu_fill_uniform(float *x, size_t n, float lo, float hi, loom_rng *r);
/* Uniform in [lo, hi] but at least `gap` away from every point in `avoid` (kinks of relu, ...). */
void tu_fill_away_from(float *x, size_t n, float lo, float hi, float avoid, float gap, loom_rng *r);
/* max over i of |a_i - b_i| / (atol + rtol |b_i|); <= 1 means close. */
double tu_max_err(const float *a, const float *b, size_t n, double atol, double rtol);
/* Fails the test, naming `what` and the worst index, if a and b are not close. */
void tu_assert_close(const char *what, const float *a, const float *b, size_t n, double atol, double rtol);

/* Central-difference gradient check of every parameter of `g` (and every input whose requires_grad
 * is set) for loss = sum(y * R), R fixed random. `fill` (may be NULL) fills inputs after each compile.
 * The graph's RNG is restored before each forward, so dropout masks stay fixed. Returns the number of
 * elements checked; fails the test on any mismatch. */
typedef void (*tu_fill_fn)(loom_graph *g, void *ctx);
int tu_gradcheck(loom_graph *g, loom_tensor *y, int batch, tu_fill_fn fill, void *ctx, double eps, double atol,
                 double rtol);

/* Path of a file under the source tree (tests/data/..., tests/reference/...). */
const char *tu_src_path(const char *rel);
/* The committed fashion-shop sample as config overrides: writes "data.interactions=<abs path>", items,
 * users and image_root into sets[0..4) (static strings) and returns 4. */
int tu_sample_sets(const char **sets);
/* Trains configs/fashion-shop-click.ini on the committed sample into `out` with the overrides `small`
 * then `extra` (NULL-terminated lists, may be NULL), `interactions` (may be NULL) replacing the sample's
 * interactions file; or, with `resume`, continues that run directory with `extra` only. */
struct loom_train_result;
int tu_train_sample(const char *out, const char *resume, const char *interactions, const char *const *small,
                    const char *const *extra, struct loom_train_result *r, loom_error *err);
/* The whole file, NUL-terminated, malloc'd (free it); *len (may be NULL) = its size. Fails the test if
 * the file cannot be read. */
char *tu_slurp(const char *path, size_t *len);
/* The test program's own temporary directory (absolute; created by mkdtemp before main, the working
 * directory, removed with everything in it at exit), and "<that>/<name>" in one of 8 rotating static
 * buffers: where a test writes scratch files, never a fixed /tmp path shared with other runs. */
const char *tu_temp_dir(void);
const char *tu_tmp(const char *name);
/* rm -rf dir (a test's temporary run directory); fails the test if it cannot. */
void tu_rm_rf(const char *dir);

/* Heap allocations counted through malloc/calloc/realloc/aligned_alloc wrappers (testutil.c). */
void tu_alloc_count_start(void);
long tu_alloc_count_stop(void);
/* Whether allocations can be counted (not under AddressSanitizer, which owns malloc): tests check
 * this first and skip() before building anything. */
bool tu_alloc_counting_available(void);
/* Runs step(ctx) `warmup` times, then `steps` times counting allocations, and fails the test unless
 * there were none. */
void tu_assert_no_alloc(const char *what, void (*step)(void *), void *ctx, int warmup, int steps);



/* PyTorch parity fixtures (tests/reference/fixture.py writes them). */
typedef struct tu_fixture tu_fixture;
/* Loads tests/reference/<rel>; fails the test if missing or malformed. */
tu_fixture *tu_fixture_load(const char *rel);
void tu_fixture_free(tu_fixture *fx);
/* The named tensor (fails the test if absent or of another dtype); shape/ndim may be NULL. */
const float *tu_fixture_f32(const tu_fixture *fx, const char *name, size_t *numel, int *ndim, int shape[8]);
const int32_t *tu_fixture_i32(const tu_fixture *fx, const char *name, size_t *numel, int *ndim, int shape[8]);
bool tu_fixture_has(const tu_fixture *fx, const char *name);
#endif
