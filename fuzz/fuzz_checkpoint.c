/* fuzz_checkpoint.c — libFuzzer harness for the safetensors reader: loom_st_open must validate every
 * header rule before trusting a byte, so any file either fails with a message or yields tensors
 * whose byte ranges lie inside the file and match shape x dtype; every tensor and metadata entry of
 * an accepted file is then read. */
#include "fuzz_util.h"
#include "loom/alloc.h"
#include "loom/safetensors.h"

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
  loom_st_close(f);
  return 0;
}
