/* text.c — Keras-equivalent tokenizer and vocabulary (loom/text.h). Folding is utf8proc's full case
 * folding (ß → ss, Σ → σ); a character of category P*, S*, Z* or C* separates words; Han ideographs
 * and kana are single-character tokens. Embedding and masking are left to src/layers. */
#include <assert.h>
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "data_internal.h"
#include "loom/alloc.h"
#include "loom/text.h"

#define VOCAB_MAX_DISTINCT (1 << 24) /* distinct words counted before we call the corpus broken */
static int vocab_max_distinct = VOCAB_MAX_DISTINCT;
void ld_vocab_test_cap(int max_distinct) { vocab_max_distinct = max_distinct > 0 ? max_distinct : VOCAB_MAX_DISTINCT; }
#define SEQ_MAX 4096

static int is_cjk(int32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2FA1F) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x3040 && c <= 0x30FF) || (c >= 0x31F0 && c <= 0x31FF);
}

static int is_separator(int32_t c) {
  utf8proc_category_t k = utf8proc_category(c);
  return (k >= UTF8PROC_CATEGORY_PC && k <= UTF8PROC_CATEGORY_CO) || k == UTF8PROC_CATEGORY_CN;
}

int loom_tokenize(const char *text, size_t len, loom_token_fn fn, void *ctx, loom_error *err) {
  const utf8proc_uint8_t *s = (const utf8proc_uint8_t *)text;
  char word[LOOM_TOKEN_MAX_BYTES + 8];
  int wn = 0, full = 0, ntok = 0;
  size_t i = 0;
  while (i <= len) {
    int32_t c = 0;
    utf8proc_ssize_t k = 0;
    if (i < len) {
      k = utf8proc_iterate(s + i, (utf8proc_ssize_t)(len - i), &c);
      if (k < 0) return loom_errorf(err, "text is not valid UTF-8 at byte %zu — re-save the data as UTF-8", i);
    }
    int sep = i == len || is_separator(c), cjk = !sep && is_cjk(c);
    if ((sep || cjk) && wn) {
      if (fn && fn(word, wn, ctx) < 0) return -1;
      ntok++;
      wn = full = 0;
    }
    if (i == len) break;
    i += (size_t)k;
    if (sep) continue;
    utf8proc_int32_t folded[8];
    int bc = 0;
    utf8proc_ssize_t nf = utf8proc_decompose_char(c, folded, 8, UTF8PROC_CASEFOLD, &bc);
    if (nf < 0 || nf > 8) folded[0] = c, nf = 1;
    if (cjk) {
      char one[16];
      int n1 = 0;
      for (int j = 0; j < nf; j++) n1 += (int)utf8proc_encode_char(folded[j], (utf8proc_uint8_t *)one + n1);
      if (fn && fn(one, n1, ctx) < 0) return -1;
      ntok++;
      continue;
    }
    for (int j = 0; j < nf && !full; j++) {
      utf8proc_uint8_t enc[4];
      int ne = (int)utf8proc_encode_char(folded[j], enc);
      if (wn + ne > LOOM_TOKEN_MAX_BYTES) { full = 1; break; } /* cut at a character boundary */
      memcpy(word + wn, enc, (size_t)ne);
      wn += ne;
    }
  }
  return ntok;
}

struct loom_vocab {
  ld_map count_map; /* word → entry (insertion = first occurrence) while counting */
  int64_t *counts;
  int32_t counts_cap;
  int frozen;
  ld_map ids;       /* word → id, entries in id order from 2 */
};

loom_vocab *loom_vocab_new(void) {
  loom_vocab *v = loom_calloc(1, sizeof *v);
  return v;
}

void loom_vocab_free(loom_vocab *v) {
  if (!v) return;
  ld_map_free(&v->count_map);
  ld_map_free(&v->ids);
  loom_free(v->counts);
  loom_free(v);
}

typedef struct count_ctx {
  loom_vocab *v;
  loom_error *err;
} count_ctx;

static int count_tok(const char *tok, int len, void *p) {
  count_ctx *cc = p;
  loom_vocab *v = cc->v;
  int added;
  int32_t e = ld_map_put(&v->count_map, tok, (size_t)len, 0, &added);
  if (e < 0) return loom_errorf(cc->err, "out of memory while counting words");
  if (added) {
    if (v->count_map.n > vocab_max_distinct)
      return loom_errorf(cc->err, "more than %d distinct words — the text column is probably not text (check text_cols)",
                         vocab_max_distinct);
    if (e >= v->counts_cap) {
      int32_t cap = v->counts_cap ? v->counts_cap * 2 : 1024;
      int64_t *c = loom_realloc(v->counts, (size_t)cap * sizeof *c);
      if (!c) return loom_errorf(cc->err, "out of memory while counting words");
      v->counts = c;
      v->counts_cap = cap;
    }
    v->counts[e] = 0;
  }
  v->counts[e]++;
  return 0;
}

int loom_vocab_count(loom_vocab *v, const char *text, size_t len, loom_error *err) {
  assert(!v->frozen && "loom_vocab_count after freeze");
  count_ctx cc = {v, err};
  return loom_tokenize(text, len, count_tok, &cc, err) < 0 ? -1 : 0;
}

static int by_count(const void *a, const void *b, void *ctx) {
  const int64_t *sort_counts = ctx;
  int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
  if (sort_counts[x] != sort_counts[y]) return sort_counts[x] > sort_counts[y] ? -1 : 1;
  return x < y ? -1 : x > y;
}

int loom_vocab_freeze(loom_vocab *v, int num_words, loom_error *err) {
  int32_t n = v->count_map.n;
  int32_t *order = loom_malloc((size_t)(n ? n : 1) * sizeof *order);
  if (!order) return loom_errorf(err, "out of memory while building the vocabulary");
  for (int32_t i = 0; i < n; i++) order[i] = i;
  qsort_r(order, (size_t)n, sizeof *order, by_count, v->counts);
  int32_t keep = n;
  if (num_words > 0 && keep > num_words - 2) keep = num_words - 2 > 0 ? num_words - 2 : 0;
  for (int32_t i = 0; i < keep; i++) {
    int32_t e = order[i];
    if (ld_map_put(&v->ids, ld_map_key(&v->count_map, e), ld_map_keylen(&v->count_map, e), i + 2, NULL) < 0) {
      loom_free(order);
      return loom_errorf(err, "out of memory while building the vocabulary");
    }
  }
  loom_free(order);
  ld_map_free(&v->count_map);
  loom_free(v->counts);
  v->counts = NULL;
  v->counts_cap = 0;
  v->frozen = 1;
  return 0;
}

loom_vocab *loom_vocab_from_words(int n, const char *const *words, const int *lens, loom_error *err) {
  loom_vocab *v = loom_vocab_new();
  if (!v) {
    loom_errorf(err, "out of memory building the vocabulary");
    return NULL;
  }
  v->frozen = 1;
  for (int i = 0; i < n; i++) {
    int added = 0;
    int32_t r = ld_map_put(&v->ids, words[i], (size_t)lens[i], i + 2, &added);
    if (r < 0 || !added) {
      loom_errorf(err, r < 0 ? "out of memory building the vocabulary" : "vocabulary: the word '%.*s' is given twice",
                  lens[i], words[i]);
      loom_vocab_free(v);
      return NULL;
    }
  }
  return v;
}

int loom_vocab_size(const loom_vocab *v) { return 2 + v->ids.n; }

const char *loom_vocab_word(const loom_vocab *v, int id) {
  if (id == LOOM_TOKEN_PAD) return "<pad>";
  if (id == LOOM_TOKEN_OOV || id < 0 || id >= 2 + v->ids.n) return "<oov>";
  return ld_map_key(&v->ids, id - 2);
}

int loom_vocab_id(const loom_vocab *v, const char *word, int len) {
  int32_t id = ld_map_get(&v->ids, word, (size_t)len);
  return id < 0 ? LOOM_TOKEN_OOV : id;
}

typedef struct enc_ctx {
  const loom_vocab *v;
  int32_t *ring; /* (T) */
  int T, keep_last;
  int64_t n;
} enc_ctx;

static int enc_tok(const char *tok, int len, void *p) {
  enc_ctx *c = p;
  int32_t id = loom_vocab_id(c->v, tok, len);
  if (c->keep_last) c->ring[c->n % c->T] = id;
  else if (c->n < c->T) c->ring[c->n] = id;
  c->n++;
  return 0;
}

int loom_vocab_encode(const loom_vocab *v, const char *text, size_t len, int T, loom_pad pad, int32_t *ids,
                      int32_t *length, loom_error *err) {
  assert(v->frozen && T > 0);
  if (T > SEQ_MAX) return loom_errorf(err, "max_len %d is over the cap of %d tokens — lower max_len", T, SEQ_MAX);
  int32_t ring[SEQ_MAX];
  enc_ctx c = {v, ring, T, pad == LOOM_PAD_PRE, 0};
  if (loom_tokenize(text, len, enc_tok, &c, err) < 0) return -1;
  int k = c.n < T ? (int)c.n : T;
  int64_t first = c.keep_last && c.n > T ? c.n - T : 0; /* index of the first kept token */
  int off = pad == LOOM_PAD_PRE ? T - k : 0;
  memset(ids, 0, (size_t)T * sizeof *ids);
  for (int j = 0; j < k; j++) ids[off + j] = c.keep_last ? ring[(first + j) % T] : ring[j];
  if (length) *length = k;
  return 0;
}

char *loom_vocab_to_string(const loom_vocab *v) {
  assert(v->frozen);
  cJSON *o = cJSON_CreateObject(), *w = cJSON_CreateArray();
  if (!o || !w) { cJSON_Delete(o); cJSON_Delete(w); return NULL; }
  cJSON_AddItemToObject(o, "words", w);
  for (int32_t i = 0; i < v->ids.n; i++) {
    cJSON *s = cJSON_CreateString(ld_map_key(&v->ids, i));
    if (!s) { cJSON_Delete(o); return NULL; }
    cJSON_AddItemToArray(w, s);
  }
  char *js = cJSON_PrintUnformatted(o);
  cJSON_Delete(o);
  if (!js) return NULL;
  char *out = loom_strdup(js);
  cJSON_free(js);
  return out;
}

loom_vocab *loom_vocab_from_string(const char *s, loom_error *err) {
  cJSON *o = cJSON_Parse(s);
  cJSON *w = o ? cJSON_GetObjectItemCaseSensitive(o, "words") : NULL;
  if (!cJSON_IsArray(w)) {
    cJSON_Delete(o);
    loom_errorf(err, "vocabulary: not a JSON object with a \"words\" array — the checkpoint metadata is corrupt");
    return NULL;
  }
  loom_vocab *v = loom_vocab_new();
  if (!v) { cJSON_Delete(o); loom_errorf(err, "vocabulary: out of memory"); return NULL; }
  v->frozen = 1;
  int i = 0;
  cJSON *e;
  cJSON_ArrayForEach(e, w) {
    const char *word = cJSON_GetStringValue(e);
    if (i >= vocab_max_distinct) {
      loom_errorf(err, "vocabulary: more than %d words — the checkpoint metadata is corrupt", vocab_max_distinct);
      loom_vocab_free(v);
      cJSON_Delete(o);
      return NULL;
    }
    int added = 0;
    int32_t r = word ? ld_map_put(&v->ids, word, strlen(word), i + 2, &added) : -1;
    if (r < 0 || !added) {
      loom_errorf(err, "vocabulary: entry %d is %s — the checkpoint metadata is corrupt", i,
                  !word ? "not a string" : r < 0 ? "out of memory" : "a duplicate");
      loom_vocab_free(v);
      cJSON_Delete(o);
      return NULL;
    }
    i++;
  }
  cJSON_Delete(o);
  return v;
}
