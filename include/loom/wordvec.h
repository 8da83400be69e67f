/* loom/wordvec.h — pretrained word vectors: word2vec text and binary files and GloVe .txt (each also
 * gzip-compressed), read whole into one (N, D) float32 matrix in file order, and aligned to a loom
 * vocabulary through the tokenizer's normalisation (case folding). Which embedding the rows go into,
 * and whether it trains, is left to the model and the trainer.
 *
 *   loom_wordvec wv;
 *   if (loom_wordvec_read("glove.6B.50d.txt.gz", NULL, &wv, &err) < 0) ...;
 *   loom_wordvec_stats st;
 *   loom_wordvec_align(&wv, vocab, weight, V, D, &st, &err);   // rows of weight (V, D) ← vectors
 *   loom_wordvec_free(&wv);
 */
#ifndef LOOM_WORDVEC_H
#define LOOM_WORDVEC_H

#include <stdint.h>

#include "loom/error.h"
#include "loom/text.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  LOOM_WORDVEC_AUTO = 0, /* NAME.bin[.gz]: word2vec binary; a first line "N D": word2vec text; else GloVe */
  LOOM_WORDVEC_TEXT,     /* word2vec text: "N D", then N lines "word v1 .. vD" */
  LOOM_WORDVEC_BINARY,   /* word2vec binary: "N D\n", then N records "word " + D float32 LE (+ optional "\n") */
  LOOM_WORDVEC_GLOVE,    /* GloVe: no header; D from the first line, the same on every line */
} loom_wordvec_format;

/* "auto" | "word2vec" | "word2vec_binary" | "glove"; -1 if unknown. */
int loom_wordvec_format_parse(const char *s, loom_wordvec_format *out);
const char *loom_wordvec_format_name(loom_wordvec_format f);

#define LOOM_WORDVEC_MAX_DIM 4096        /* D, as text.embedding_dim */
#define LOOM_WORDVEC_MAX_WORDS (1 << 24) /* N, as the vocabulary's distinct words */
#define LOOM_WORDVEC_MAX_WORD_BYTES 1024 /* one word */
#define LOOM_WORDVEC_MAX_LINE ((size_t)1 << 20)

typedef struct loom_wordvec_opts {
  loom_wordvec_format format;
  uint64_t max_floats; /* cap on N·D (0 = 2^31, 8 GiB); the header's N·D is checked against it first */
} loom_wordvec_opts;

typedef struct loom_wordvec {
  int64_t n;          /* words */
  int dim;            /* D */
  float *vec;         /* (n, dim) in file order */
  char *words;        /* the words, each NUL-terminated, in file order */
  int64_t *woff;      /* (n) offset of word i in words */
  loom_wordvec_format format; /* the format read (never AUTO) */
} loom_wordvec;

static inline const char *loom_wordvec_word(const loom_wordvec *wv, int64_t i) { return wv->words + wv->woff[i]; }

/* Reads the whole file (plain or gzip, detected from its bytes; a .gz must end with its trailer and
 * pass its CRC). Opens only regular files (loom_file_open_regular) and stops on SIGINT/SIGTERM
 * (loom_file_interrupted). Every value must be a decimal number by loom's grammar (no nan, inf, hex)
 * and finite as float32; every word valid UTF-8, without control characters, and unique. Returns 0,
 * or -1 with err naming the file and line (text formats) or record (binary) and what to do. */
int loom_wordvec_read(const char *path, const loom_wordvec_opts *o, loom_wordvec *wv, loom_error *err);
void loom_wordvec_free(loom_wordvec *wv);

/* How a file's words met a vocabulary. */
typedef struct loom_wordvec_stats {
  int64_t found;     /* vocabulary words (ids >= 2) that got a vector */
  int64_t missing;   /* vocabulary words without one (their rows keep their initialisation) */
  int64_t unused;    /* file words that gave no row: not in the vocabulary, not one token, or a second
                      * spelling of a word already given (n - found) */
  int64_t not_token; /* of those, words the tokenizer would split or drop ("new-york", ",") */
  int64_t refolded;  /* of those, words whose folded form another file word already gave ("Apple" after "apple") */
} loom_wordvec_stats;

/* weight (V, D) rows 2.. ← the vectors of the vocabulary's words; rows 0 (padding) and 1 (OOV) and
 * the rows of words the file lacks are left as they are. A file word is normalised as the tokenizer
 * normalises text (loom_tokenize: Unicode case folding; a word that does not come out as exactly one
 * token cannot match and is counted in not_token); when several file words fold to one vocabulary
 * word, a word already in folded form wins, else the first in file order. -1 (err) when D differs
 * from the file's dimension or V from the vocabulary's size. */
int loom_wordvec_align(const loom_wordvec *wv, const loom_vocab *v, float *weight, int V, int D,
                       loom_wordvec_stats *st, loom_error *err);

/* The vocabulary of the file instead of the training text: its words normalised as above, in file
 * order (first of each folded form), at most num_words ids in all (pad and OOV included; 0 = every
 * word). NULL with err on out of memory. */
loom_vocab *loom_wordvec_vocab(const loom_wordvec *wv, int num_words, loom_error *err);

#ifdef __cplusplus
}
#endif
#endif
