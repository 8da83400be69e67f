/* fuzz_checkpoint.c — libFuzzer harness for the safetensors reader: loom_st_open must validate every
 * header rule before trusting a byte, so any file either fails with a message or yields tensors
 * whose byte ranges lie inside the file and match shape x dtype; every tensor and metadata entry of
 * an accepted file is then read, and the file is loaded into a small graph (names "w", "b", "step";
 * loading must either copy everything or leave the graph untouched). */
#include "fuzz_util.h"
#include "loom/alloc.h"
#include "loom/graph.h"
#include "loom/safetensors.h"

/* w (2, 3) and b (3) params, an I32-free buffer "step" (1); built once, reset before each load. */
static loom_graph *graph(void) {
  static loom_graph *g;
  if (!g) {
    g = loom_graph_new();
    loom_param(g, "w", 2, (int[]){2, 3});
    loom_param(g, "b", 1, (int[]){3});
    loom_buffer(g, "step", 1, (int[]){1});
  }
  return g;
}

static void fill(loom_graph *g, float v) {
  for (int i = 0; i < loom_graph_n_param_tensors(g); i++) {
    loom_tensor *t = loom_graph_param_tensor(g, i);
    for (size_t k = 0; k < loom_tensor_numel(t); k++) t->data[k] = v;
  }
}

static int all_equal(loom_graph *g, float v) {
  for (int i = 0; i < loom_graph_n_param_tensors(g); i++) {
    loom_tensor *t = loom_graph_param_tensor(g, i);
    for (size_t k = 0; k < loom_tensor_numel(t); k++)
      if (!(t->data[k] == v)) return 0;
  }
  return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
  const char *path = fuzz_write_file(data, n, ".safetensors");
  loom_error err = {""};
  loom_st_file *f = loom_st_open(path, &err);
  if (!f) {
    FUZZ_CHECK_MSG(err);
    return 0;
  }
  int count = loom_st_count(f);
  if (count < 0 || count > LOOM_ST_MAX_TENSORS) abort();
  uint64_t prev_end = 0;
  for (int i = 0; i < count; i++) {
    const loom_st_tensor *t = loom_st_tensor_at(f, i);
    if (t->begin != prev_end || t->end < t->begin || t->end - t->begin != t->numel * loom_st_dtype_size(t->dtype)) abort();
    prev_end = t->end;
    if (loom_st_find(f, t->name) != t) abort();
    size_t bytes = (size_t)(t->end - t->begin);
    if (bytes > n) abort();
    void *dst = loom_malloc(bytes ? bytes : 1);
    if (!dst) abort();
    if (loom_st_read(f, t->name, t->dtype, dst, (size_t)t->numel, &err) != 0) abort();
    if (bytes && memcmp(dst, t->data, bytes) != 0) abort();
    loom_free(dst);
  }
  for (int i = 0; i < loom_st_meta_count(f); i++) {
    const char *k, *v;
    loom_st_meta_at(f, i, &k, &v);
    if (loom_st_meta(f, k) == NULL || strlen(v) > n) abort();
  }
  loom_graph *g = graph();
  for (int flags = 0; flags < 4; flags++) {
    fill(g, -7.0f);
    if (loom_st_load_graph_from(g, f, flags, &err) != 0) {
      FUZZ_CHECK_MSG(err);
      if (!all_equal(g, -7.0f)) abort(); /* nothing is copied unless every check passes */
    }
  }
  loom_st_close(f);
  return 0;
}
