/* test_text.c — tokenizer (case folding, punctuation, CJK), vocabulary ordering and ties, padding
 * and truncation both sides, exact save/load. All expectations are worked out by hand. */
#include <stdio.h>
#include <string.h>

#include "data_internal.h"
#include "loom/text.h"
#include "testutil.h"

typedef struct toks {
  char buf[1024];
  int n;
} toks;

static int collect(const char *t, int len, void *p) {
  toks *k = p;
  size_t l = strlen(k->buf);
  snprintf(k->buf + l, sizeof k->buf - l, "%s%.*s", k->n ? "|" : "", len, t);
  k->n++;
  return 0;
}

static const char *tok(const char *text) {
  static toks k;
  memset(&k, 0, sizeof k);
  loom_error err = {{0}};
  int n = loom_tokenize(text, strlen(text), collect, &k, &err);
  assert_int_equal(n, k.n);
  return k.buf;
}

static void test_tokenizer(void **state) {
  (void)state;
  assert_string_equal(tok("黑色的T恤衫"), "黑|色|的|t|恤|衫");
  assert_string_equal(tok("Straße ΣΑΣ"), "strasse|σασ");
  assert_string_equal(tok("Hello, World! It's 2-in-1 (NEW)..."), "hello|world|it|s|2|in|1|new");
  assert_string_equal(tok("  \t\n "), "");
  assert_string_equal(tok("price: $9.99 ✓ café"), "price|9|99|café");
  assert_string_equal(tok("iPhone手机壳,黑色"), "iphone|手|机|壳|黑|色");
  assert_string_equal(tok("カメラ bag"), "カ|メ|ラ|bag");
  loom_error err = {{0}};
  assert_int_equal(loom_tokenize("ab\xff", 3, collect, &(toks){0}, &err), -1);
  assert_non_null(strstr(err.msg, "not valid UTF-8 at byte 2"));
  /* long words are cut at LOOM_TOKEN_MAX_BYTES on a character boundary */
  char longw[601];
  for (int i = 0; i < 300; i++) memcpy(longw + 2 * i, "é", 2);
  longw[600] = 0;
  toks k = {{0}, 0};
  loom_tokenize(longw, strlen(longw), collect, &k, &err);
  assert_int_equal(k.n, 1);
  assert_int_equal(strlen(k.buf), LOOM_TOKEN_MAX_BYTES);
}

static loom_vocab *fit(const char **texts, int n, int num_words) {
  loom_vocab *v = loom_vocab_new();
  loom_error err = {{0}};
  for (int i = 0; i < n; i++) assert_int_equal(loom_vocab_count(v, texts[i], strlen(texts[i]), &err), 0);
  assert_int_equal(loom_vocab_freeze(v, num_words, &err), 0);
  return v;
}

static void test_vocab_order(void **state) {
  (void)state;
  /* counts: b 3, a 2, c 2, d 1, e 1; ties keep first occurrence: c before a? c appears first. */
  const char *texts[] = {"c b a", "b d", "a c b e"};
  loom_vocab *v = fit(texts, 3, 0);
  assert_int_equal(loom_vocab_size(v), 7);
  assert_string_equal(loom_vocab_word(v, 2), "b");
  assert_string_equal(loom_vocab_word(v, 3), "c");
  assert_string_equal(loom_vocab_word(v, 4), "a");
  assert_string_equal(loom_vocab_word(v, 5), "d");
  assert_string_equal(loom_vocab_word(v, 6), "e");
  assert_string_equal(loom_vocab_word(v, 0), "<pad>");
  loom_vocab_free(v);
  v = fit(texts, 3, 4); /* pad, oov, b, c */
  assert_int_equal(loom_vocab_size(v), 4);
  assert_int_equal(loom_vocab_id(v, "a", 1), LOOM_TOKEN_OOV);
  assert_int_equal(loom_vocab_id(v, "c", 1), 3);
  loom_vocab_free(v);
}

static void test_pad_truncate(void **state) {
  (void)state;
  const char *texts[] = {"a b c d e"};
  loom_vocab *v = fit(texts, 1, 0); /* a2 b3 c4 d5 e6 */
  loom_error err = {{0}};
  int32_t ids[4], len;
  assert_int_equal(loom_vocab_encode(v, "A b", 3, 4, LOOM_PAD_POST, ids, &len, &err), 0);
  assert_int_equal(len, 2);
  assert_memory_equal(ids, ((int32_t[]){2, 3, 0, 0}), sizeof ids);
  loom_vocab_encode(v, "A b", 3, 4, LOOM_PAD_PRE, ids, &len, &err);
  assert_memory_equal(ids, ((int32_t[]){0, 0, 2, 3}), sizeof ids);
  loom_vocab_encode(v, "a b zz c d e", 12, 4, LOOM_PAD_POST, ids, &len, &err);
  assert_int_equal(len, 4);
  assert_memory_equal(ids, ((int32_t[]){2, 3, 1, 4}), sizeof ids);
  loom_vocab_encode(v, "a b zz c d e", 12, 4, LOOM_PAD_PRE, ids, &len, &err);
  assert_memory_equal(ids, ((int32_t[]){1, 4, 5, 6}), sizeof ids);
  loom_vocab_encode(v, "", 0, 4, LOOM_PAD_PRE, ids, &len, &err);
  assert_int_equal(len, 0);
  assert_memory_equal(ids, ((int32_t[]){0, 0, 0, 0}), sizeof ids);
  assert_int_equal(loom_vocab_encode(v, "a", 1, 5000, LOOM_PAD_PRE, ids, &len, &err), -1);
  assert_non_null(strstr(err.msg, "max_len 5000 is over the cap"));
  loom_vocab_free(v);
}

static void test_roundtrip(void **state) {
  (void)state;
  const char *texts[] = {"黑色的T恤衫 \"quoted\\slash\" Straße", "tab\there"};
  loom_vocab *v = fit(texts, 2, 0);
  char *s = loom_vocab_to_string(v);
  assert_non_null(s);
  loom_error err = {{0}};
  loom_vocab *w = loom_vocab_from_string(s, &err);
  assert_non_null(w);
  assert_int_equal(loom_vocab_size(w), loom_vocab_size(v));
  for (int i = 0; i < loom_vocab_size(v); i++) assert_string_equal(loom_vocab_word(v, i), loom_vocab_word(w, i));
  char *s2 = loom_vocab_to_string(w);
  assert_string_equal(s, s2);
  loom_free(s);
  loom_free(s2);
  loom_vocab_free(v);
  loom_vocab_free(w);
  assert_null(loom_vocab_from_string("{\"words\": [\"a\", \"a\"]}", &err));
  assert_non_null(strstr(err.msg, "entry 1 is a duplicate"));
  assert_null(loom_vocab_from_string("[1,2", &err));
  assert_non_null(strstr(err.msg, "corrupt"));
}

/* The cap on distinct words (2^24; lowered here through the test hook) when counting training text
 * and when reading a vocabulary back from a checkpoint. */
static void test_vocab_cap(void **state) {
  (void)state;
  loom_error err = {{0}};
  ld_vocab_test_cap(5);
  loom_vocab *v = loom_vocab_new();
  assert_int_equal(loom_vocab_count(v, "a b c d e", 9, &err), 0);
  assert_int_equal(loom_vocab_count(v, "a b f", 5, &err), -1);
  assert_non_null(strstr(err.msg, "more than 5 distinct words — the text column is probably not text (check text_cols)"));
  loom_vocab_free(v);
  assert_null(loom_vocab_from_string("{\"words\": [\"a\", \"b\", \"c\", \"d\", \"e\", \"f\"]}", &err));
  assert_non_null(strstr(err.msg, "vocabulary: more than 5 words — the checkpoint metadata is corrupt"));
  v = loom_vocab_from_string("{\"words\": [\"a\", \"b\", \"c\", \"d\", \"e\"]}", &err);
  assert_non_null(v);
  assert_int_equal(loom_vocab_size(v), 7);
  loom_vocab_free(v);
  ld_vocab_test_cap(0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_tokenizer),
      cmocka_unit_test(test_vocab_order),
      cmocka_unit_test(test_pad_truncate),
      cmocka_unit_test(test_roundtrip),
      cmocka_unit_test(test_vocab_cap),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
