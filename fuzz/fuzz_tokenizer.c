/* fuzz_tokenizer.c — libFuzzer harness for the tokenizer and vocabulary: arbitrary bytes are
 * tokenized (valid UTF-8) or rejected with the byte offset; the vocabulary fitted on them encodes
 * them back, and its string form round-trips exactly. Inputs starting with '{' also go to
 * loom_vocab_from_string (a checkpoint's vocabulary). */
#include "fuzz_util.h"
#include "loom/alloc.h"
#include "loom/text.h"

static int count_tok(const char *tok, int len, void *ctx) {
  if (len <= 0 || len > LOOM_TOKEN_MAX_BYTES) abort(); /* words are cut at the cap */
  for (int i = 0; i < len; i++)
    if (tok[i] == ' ' || tok[i] == '\0') abort();
  ++*(int *)ctx;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
  char *s = fuzz_cstr(data, n);
  loom_error err = {""};
  if (n && s[0] == '{') {
    loom_vocab *v = loom_vocab_from_string(s, &err);
    if (!v) FUZZ_CHECK_MSG(err);
    else {
      char *back = loom_vocab_to_string(v);
      loom_vocab *v2 = back ? loom_vocab_from_string(back, &err) : NULL;
      if (!back || !v2 || loom_vocab_size(v2) != loom_vocab_size(v)) abort();
      loom_vocab_free(v2);
      loom_free(back);
      loom_vocab_free(v);
    }
  }
  int ntok = 0;
  int rc = loom_tokenize(s, n, count_tok, &ntok, &err);
  if (rc < 0) {
    FUZZ_CHECK_MSG(err);
    free(s);
    return 0;
  }
  if (rc != ntok) abort();
  loom_vocab *v = loom_vocab_new();
  if (!v) abort();
  if (loom_vocab_count(v, s, n, &err) != 0 || loom_vocab_freeze(v, (int)(n % 7) * 3, &err) != 0) abort();
  int32_t ids[64], len = -1;
  int T = 1 + (int)(n % 64);
  if (loom_vocab_encode(v, s, n, T, (n & 1) ? LOOM_PAD_PRE : LOOM_PAD_POST, ids, &len, &err) != 0) abort();
  if (len < 0 || len > T || len > ntok) abort();
  for (int t = 0; t < T; t++)
    if (ids[t] < 0 || ids[t] >= loom_vocab_size(v)) abort();
  char *str = loom_vocab_to_string(v);
  if (!str) abort();
  loom_vocab *v2 = loom_vocab_from_string(str, &err);
  if (!v2 || loom_vocab_size(v2) != loom_vocab_size(v)) abort();
  for (int id = 2; id < loom_vocab_size(v); id++)
    if (strcmp(loom_vocab_word(v, id), loom_vocab_word(v2, id)) != 0) abort();
  loom_vocab_free(v2);
  loom_free(str);
  loom_vocab_free(v);
  free(s);
  return 0;
}
