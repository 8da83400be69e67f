/* loom/text.h — text to token ids, equivalent to the Keras Tokenizer: Unicode case folding
 * (utf8proc), punctuation and symbols dropped, split on whitespace, and each CJK ideograph / kana a
 * token of its own ("黑色的T恤衫" → 黑 色 的 t 恤 衫). A vocabulary is fitted on training text only;
 * index 0 = padding, 1 = out-of-vocabulary, words from 2 by descending count, ties by first
 * occurrence. Embedding sizes and the graph are left to src/layers. */
#ifndef LOOM_TEXT_H
#define LOOM_TEXT_H

#include <stdint.h>

#include "loom/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LOOM_TOKEN_PAD 0
#define LOOM_TOKEN_OOV 1
#define LOOM_TOKEN_MAX_BYTES 256 /* longer words are cut at a character boundary */

/* Calls fn(token, len, ctx) for each token of the UTF-8 text, folded to lower case. Returns the
 * number of tokens, or -1 (err names the byte offset) if text is not valid UTF-8 or fn returns < 0. */
typedef int (*loom_token_fn)(const char *tok, int len, void *ctx);
int loom_tokenize(const char *text, size_t len, loom_token_fn fn, void *ctx, loom_error *err);

typedef struct loom_vocab loom_vocab;

/* Counting: create, feed training texts, then freeze to the top num_words ids (pad and OOV
 * included, so every id < num_words; num_words = 0 keeps every word). */
loom_vocab *loom_vocab_new(void);
int loom_vocab_count(loom_vocab *v, const char *text, size_t len, loom_error *err);
int loom_vocab_freeze(loom_vocab *v, int num_words, loom_error *err);
void loom_vocab_free(loom_vocab *v);
/* A frozen vocabulary of the given words (already normalised as loom_tokenize gives them, distinct)
 * as ids 2..n+1 in that order; NULL with err on a duplicate or out of memory. */
loom_vocab *loom_vocab_from_words(int n, const char *const *words, const int *lens, loom_error *err);
/* Number of ids (2 + kept words). */
int loom_vocab_size(const loom_vocab *v);
/* Word of id (>= 2), "<pad>" / "<oov>" for 0 / 1. */
const char *loom_vocab_word(const loom_vocab *v, int id);
/* id of a folded word, LOOM_TOKEN_OOV if unknown. */
int loom_vocab_id(const loom_vocab *v, const char *word, int len);

typedef enum { LOOM_PAD_POST = 0, LOOM_PAD_PRE = 1 } loom_pad;

/* ids (T) ← text, padded with 0 / truncated to T on the side `pad` (Keras pad_sequences with
 * padding = truncating = pad); *length = tokens kept (for LSTM masking). Returns 0 or -1. */
int loom_vocab_encode(const loom_vocab *v, const char *text, size_t len, int T, loom_pad pad, int32_t *ids,
                      int32_t *length, loom_error *err);

/* Exact round trip: JSON {"words": [...]} in id order from 2. Caller frees the string (loom_free). */
char *loom_vocab_to_string(const loom_vocab *v);
loom_vocab *loom_vocab_from_string(const char *s, loom_error *err);

#ifdef __cplusplus
}
#endif
#endif
