/* fuzz_wordvec.c — libFuzzer harness for the word-vector reader (loom_wordvec_read) in every format
 * (the input's first byte picks auto / word2vec / word2vec_binary / glove; the rest is the file, plain
 * or gzip), then alignment to a small vocabulary and the file's own vocabulary: any input must end in
 * vectors or a message, never a crash, leak or read past a buffer; vectors that are returned must be
 * finite, with distinct valid-UTF-8 words. */
#include <math.h>

#include "fuzz_util.h"
#include "loom/alloc.h"
#include "loom/wordvec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
  if (n < 1) return 0;
  const char *path = fuzz_write_file(data + 1, n - 1, ".vec");
  loom_wordvec_opts o = {.format = (loom_wordvec_format)(data[0] % 4), .max_floats = 1 << 16};
  loom_wordvec wv;
  loom_error err = {""};
  if (loom_wordvec_read(path, &o, &wv, &err) != 0) {
    FUZZ_CHECK_MSG(err);
    return 0;
  }
  if (wv.n < 1 || wv.dim < 1 || wv.dim > LOOM_WORDVEC_MAX_DIM || (uint64_t)wv.n * (uint64_t)wv.dim > o.max_floats) abort();
  for (int64_t i = 0; i < wv.n * wv.dim; i++)
    if (!isfinite(wv.vec[i])) abort();
  for (int64_t i = 0; i < wv.n; i++) {
    const char *w = loom_wordvec_word(&wv, i);
    if (!w[0] || strlen(w) > LOOM_WORDVEC_MAX_WORD_BYTES) abort();
    if (i && wv.woff[i] <= wv.woff[i - 1]) abort();
  }
  loom_vocab *v = loom_vocab_new();
  const char *text = "in a blue Pullover, Straße 红色 café";
  if (!v || loom_vocab_count(v, text, strlen(text), &err) < 0 || loom_vocab_freeze(v, 0, &err) < 0) abort();
  int V = loom_vocab_size(v);
  float *W = loom_calloc((size_t)V * (size_t)wv.dim, sizeof(float));
  loom_wordvec_stats st;
  if (!W || loom_wordvec_align(&wv, v, W, V, wv.dim, &st, &err) < 0) abort();
  if (st.found + st.missing != V - 2 || st.found + st.unused != wv.n) abort();
  loom_vocab *own = loom_wordvec_vocab(&wv, (int)(data[0] >> 2), &err);
  if (!own) abort();
  loom_vocab_free(own);
  loom_free(W);
  loom_vocab_free(v);
  loom_wordvec_free(&wv);
  return 0;
}
