/* test_wordvec.c — pretrained word vectors (loom/wordvec.h) against the gensim fixture of
 * tests/reference/gen_wordvec.py: every format (word2vec text, binary with and without newlines,
 * GloVe, each gzip'd) loads gensim's float32 bit for bit; alignment to the titles' vocabulary gives the
 * exact found / missing / unused counts and rows; the file's own vocabulary (vocab_from_pretrained);
 * caps, FIFOs and the stop flag. Malformed files are rows of tests/data/malformed.tsv (test_malformed). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loom/alloc.h"
#include "loom/data.h"
#include "loom/file.h"
#include "loom/wordvec.h"
#include "data_internal.h"
#include "testutil.h"

static loom_error err;

static void load(const char *rel, loom_wordvec_format fmt, loom_wordvec *wv) {
  loom_wordvec_opts o = {.format = fmt};
  if (loom_wordvec_read(tu_src_path(rel), &o, wv, &err) < 0) fail_msg("%s: %s", rel, err.msg);
}

static void test_every_format_loads_gensims_floats(void **state) {
  (void)state;
  tu_fixture *fx = tu_fixture_load("wordvec/expected.fix");
  size_t numel;
  int shape[8];
  const float *want = tu_fixture_f32(fx, "vectors", &numel, NULL, shape);
  loom_wordvec ref;
  load("tests/reference/wordvec/w2v.txt", LOOM_WORDVEC_AUTO, &ref);
  assert_int_equal(ref.n, shape[0]);
  assert_int_equal(ref.dim, shape[1]);
  assert_int_equal(ref.format, LOOM_WORDVEC_TEXT);
  assert_memory_equal(ref.vec, want, numel * sizeof(float)); /* gensim's repr of each float32 round-trips */
  assert_string_equal(loom_wordvec_word(&ref, 0), "in");
  static const struct {
    const char *file;
    loom_wordvec_format asked, read;
  } cases[] = {
      {"w2v.txt.gz", LOOM_WORDVEC_AUTO, LOOM_WORDVEC_TEXT},     {"w2v.bin", LOOM_WORDVEC_AUTO, LOOM_WORDVEC_BINARY},
      {"w2v.bin.gz", LOOM_WORDVEC_AUTO, LOOM_WORDVEC_BINARY},   {"w2v_nl.bin", LOOM_WORDVEC_AUTO, LOOM_WORDVEC_BINARY},
      {"glove.txt", LOOM_WORDVEC_AUTO, LOOM_WORDVEC_GLOVE},     {"glove.txt.gz", LOOM_WORDVEC_AUTO, LOOM_WORDVEC_GLOVE},
      {"glove.txt", LOOM_WORDVEC_GLOVE, LOOM_WORDVEC_GLOVE},    {"w2v.txt", LOOM_WORDVEC_TEXT, LOOM_WORDVEC_TEXT},
      {"w2v_nl.bin", LOOM_WORDVEC_BINARY, LOOM_WORDVEC_BINARY},
  };
  for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
    char rel[256];
    snprintf(rel, sizeof rel, "tests/reference/wordvec/%s", cases[c].file);
    loom_wordvec wv;
    load(rel, cases[c].asked, &wv);
    if (wv.format != cases[c].read) fail_msg("%s read as %s", rel, loom_wordvec_format_name(wv.format));
    assert_int_equal(wv.n, ref.n);
    assert_int_equal(wv.dim, ref.dim);
    if (memcmp(wv.vec, want, numel * sizeof(float)) != 0) fail_msg("%s: vectors differ from gensim's", rel);
    for (int64_t i = 0; i < wv.n; i++)
      if (strcmp(loom_wordvec_word(&wv, i), loom_wordvec_word(&ref, i)) != 0)
        fail_msg("%s: word %lld is '%s', not '%s'", rel, (long long)i, loom_wordvec_word(&wv, i), loom_wordvec_word(&ref, i));
    loom_wordvec_free(&wv);
  }
  /* the wrong explicit format is an error naming the file, never wrong numbers */
  loom_wordvec_opts o = {.format = LOOM_WORDVEC_TEXT};
  loom_wordvec wv;
  assert_int_equal(loom_wordvec_read(tu_src_path("tests/reference/wordvec/w2v.bin"), &o, &wv, &err), -1);
  assert_non_null(strstr(err.msg, "w2v.bin:2:"));
  o.format = LOOM_WORDVEC_BINARY;
  assert_int_equal(loom_wordvec_read(tu_src_path("tests/reference/wordvec/w2v.txt"), &o, &wv, &err), -1);
  assert_non_null(strstr(err.msg, "w2v.txt: record "));
  printf("text read as binary: %s\n", err.msg);
  loom_wordvec_free(&ref);
  tu_fixture_free(fx);
}

/* The vocabulary loom fits on the titles of all 300 sample items (as the C tokenizer counts them). */
static loom_vocab *titles_vocab(void) {
  loom_colspec spec = {"title", LOOM_COL_STRING, 0};
  loom_table t;
  if (loom_table_read(&t, tu_src_path("datasets/fashion-shop-sample/items.csv"), &spec, 1, NULL, &err) < 0)
    fail_msg("%s", err.msg);
  loom_vocab *v = loom_vocab_new();
  for (int64_t i = 0; i < t.nrows; i++) {
    const char *s = loom_table_str(&t, 0, i);
    assert_int_equal(loom_vocab_count(v, s, strlen(s), &err), 0);
  }
  assert_int_equal(loom_vocab_freeze(v, 0, &err), 0);
  loom_table_free(&t);
  return v;
}

static void test_alignment_counts_and_rows(void **state) {
  (void)state;
  tu_fixture *fx = tu_fixture_load("wordvec/expected.fix");
  size_t nv, na, nc;
  const float *vec = tu_fixture_f32(fx, "vectors", &nv, NULL, NULL);
  const int32_t *row = tu_fixture_i32(fx, "align_row", &na, NULL, NULL);
  const int32_t *counts = tu_fixture_i32(fx, "counts", &nc, NULL, NULL);
  loom_vocab *v = titles_vocab();
  int V = loom_vocab_size(v);
  assert_int_equal(V, (int)na);
  /* the same vocabulary as the Python replica of the tokenizer, id by id */
  char *words = tu_slurp(tu_src_path("tests/reference/wordvec/titles_vocab.txt"), NULL);
  int id = 2;
  for (char *save = NULL, *w = strtok_r(words, "\n", &save); w; w = strtok_r(NULL, "\n", &save), id++)
    assert_string_equal(loom_vocab_word(v, id), w);
  assert_int_equal(id, V);
  free(words);
  loom_wordvec wv;
  load("tests/reference/wordvec/w2v.bin.gz", LOOM_WORDVEC_AUTO, &wv);
  const int D = wv.dim;
  float *W = malloc((size_t)V * D * sizeof(float));
  for (size_t i = 0; i < (size_t)V * D; i++) W[i] = 7.0f; /* "initialised as today" stand-in */
  loom_wordvec_stats st;
  assert_int_equal(loom_wordvec_align(&wv, v, W, V, D, &st, &err), 0);
  printf("titles: %d ids, found %lld, missing %lld, file words unused %lld (%lld not one token, %lld refolded)\n", V,
         (long long)st.found, (long long)st.missing, (long long)st.unused, (long long)st.not_token, (long long)st.refolded);
  assert_int_equal(st.found, counts[0]);
  assert_int_equal(st.missing, counts[1]);
  assert_int_equal(st.unused, counts[2]);
  assert_true(st.missing > 0 && st.refolded > 0); /* the fixture exercises both */
  for (int i = 0; i < V; i++) {
    const float *got = W + (size_t)i * D;
    if (row[i] >= 0) {
      if (memcmp(got, vec + (size_t)row[i] * D, (size_t)D * sizeof(float)) != 0)
        fail_msg("id %d ('%s') is not file row %d", i, loom_vocab_word(v, i), row[i]);
    } else {
      for (int k = 0; k < D; k++)
        if (got[k] != 7.0f) fail_msg("id %d ('%s') has no vector in the file but was written", i, loom_vocab_word(v, i));
    }
  }
  /* "A" and "a" are both in the file: the folded form's own vector wins */
  int a = loom_vocab_id(v, "a", 1);
  if (a >= 2) {
    int64_t ra = -1;
    for (int64_t i = 0; i < wv.n; i++)
      if (!strcmp(loom_wordvec_word(&wv, i), "a")) ra = i;
    if (ra >= 0) assert_memory_equal(W + (size_t)a * D, wv.vec + ra * D, (size_t)D * sizeof(float));
  }
  /* D or V that do not match are errors, not a partial copy */
  assert_int_equal(loom_wordvec_align(&wv, v, W, V, D - 1, &st, &err), -1);
  assert_non_null(strstr(err.msg, "D = 8"));
  assert_int_equal(loom_wordvec_align(&wv, v, W, V + 1, D, &st, &err), -1);
  free(W);
  loom_wordvec_free(&wv);
  loom_vocab_free(v);
  tu_fixture_free(fx);
}

static void test_vocab_from_the_file(void **state) {
  (void)state;
  tu_fixture *fx = tu_fixture_load("wordvec/expected.fix");
  size_t np;
  const float *vec = tu_fixture_f32(fx, "vectors", NULL, NULL, NULL);
  const int32_t *pre = tu_fixture_i32(fx, "pre_rows", &np, NULL, NULL);
  loom_wordvec wv;
  load("tests/reference/wordvec/glove.txt", LOOM_WORDVEC_AUTO, &wv);
  loom_vocab *v = loom_wordvec_vocab(&wv, 0, &err);
  assert_non_null(v);
  int V = loom_vocab_size(v), D = wv.dim;
  assert_int_equal(V, 2 + (int)np);
  float *W = calloc((size_t)V * D, sizeof(float));
  loom_wordvec_stats st;
  assert_int_equal(loom_wordvec_align(&wv, v, W, V, D, &st, &err), 0);
  assert_int_equal(st.found, V - 2);
  assert_int_equal(st.missing, 0);
  for (int i = 2; i < V; i++)
    if (memcmp(W + (size_t)i * D, vec + (size_t)pre[i - 2] * D, (size_t)D * sizeof(float)) != 0)
      fail_msg("id %d ('%s') is not file row %d", i, loom_vocab_word(v, i), pre[i - 2]);
  /* capped by num_words (pad and OOV included), keeping the first words of the file */
  loom_vocab *v10 = loom_wordvec_vocab(&wv, 10, &err);
  assert_int_equal(loom_vocab_size(v10), 10);
  for (int i = 2; i < 10; i++) assert_string_equal(loom_vocab_word(v10, i), loom_vocab_word(v, i));
  /* the tokenizer then maps text through it: a file word is found, a word of no file is OOV */
  int32_t ids[4], len;
  assert_int_equal(loom_vocab_encode(v, "In zzqx", 7, 4, LOOM_PAD_POST, ids, &len, &err), 0);
  assert_int_equal(ids[0], loom_vocab_id(v, "in", 2));
  assert_true(ids[0] >= 2);
  assert_int_equal(ids[1], LOOM_TOKEN_OOV);
  loom_vocab_free(v10);
  loom_vocab_free(v);
  free(W);
  loom_wordvec_free(&wv);
  tu_fixture_free(fx);
}

static void write_file(const char *path, const char *s) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  fputs(s, f);
  fclose(f);
}

static void test_caps_fifo_and_stop(void **state) {
  (void)state;
  loom_wordvec wv;
  /* the header's N x D against the float cap, before anything is allocated */
  loom_wordvec_opts o = {.max_floats = 100};
  assert_int_equal(loom_wordvec_read(tu_src_path("tests/reference/wordvec/w2v.txt"), &o, &wv, &err), -1);
  assert_non_null(strstr(err.msg, "w2v.txt:1: the header says 162 words x 8 = 1296 floats, over the cap of 100"));
  /* GloVe has no header: the cap holds as the rows grow */
  assert_int_equal(loom_wordvec_read(tu_src_path("tests/reference/wordvec/glove.txt"), &o, &wv, &err), -1);
  assert_non_null(strstr(err.msg, "glove.txt:13: more than 100 floats"));
  /* a header promising 16M words allocates nothing up front: the file ends and says so */
  write_file("huge_header.txt", "16000000 4\nx 1 2 3 4\n");
  assert_int_equal(loom_wordvec_read("huge_header.txt", NULL, &wv, &err), -1);
  assert_string_equal(err.msg, "huge_header.txt: the file ends after 1 words on line 2, the header says 16000000 — "
                               "the file is truncated (copy it again) or the header's N is wrong");
  /* a UTF-8 byte order mark before the header is skipped */
  write_file("bom.txt", "\xEF\xBB\xBF" "2 2\nb 1 2\nc 3 4.5\n");
  assert_int_equal(loom_wordvec_read("bom.txt", NULL, &wv, &err), 0);
  assert_int_equal(wv.format, LOOM_WORDVEC_TEXT);
  assert_true(wv.n == 2 && wv.dim == 2 && wv.vec[3] == 4.5f);
  loom_wordvec_free(&wv);
  unlink("bom.txt");
  write_file("dim_cap.txt", "2 5000\n");
  assert_int_equal(loom_wordvec_read("dim_cap.txt", NULL, &wv, &err), -1);
  assert_non_null(strstr(err.msg, "dim_cap.txt:1: the header says D = 5000 — it must be 1 to 4096"));
  /* a FIFO is refused by name before anything blocks */
  unlink("vectors.fifo");
  assert_int_equal(mkfifo("vectors.fifo", 0600), 0);
  assert_int_equal(loom_wordvec_read("vectors.fifo", NULL, &wv, &err), -1);
  assert_non_null(strstr(err.msg, "vectors.fifo"));
  assert_non_null(strstr(err.msg, "FIFO"));
  unlink("vectors.fifo");
  assert_int_equal(loom_wordvec_read("no/such/vectors.txt", NULL, &wv, &err), -1);
  assert_non_null(strstr(err.msg, "no/such/vectors.txt: cannot open"));
  assert_non_null(strstr(err.msg, "text.pretrained"));
  /* a long read stops within a MiB of a stop request */
  FILE *f = fopen("big.txt", "wb");
  assert_non_null(f);
  for (int i = 0; i < 60000; i++) fprintf(f, "w%d 0.125 -0.5 1.25 2.5 3.75 -4.125 5.5 6.625\n", i);
  fclose(f);
  assert_int_equal(loom_wordvec_read("big.txt", NULL, &wv, &err), 0);
  assert_int_equal(wv.n, 60000);
  assert_int_equal(wv.format, LOOM_WORDVEC_GLOVE);
  assert_true(wv.vec[59999 * 8 + 7] == 6.625f);
  loom_wordvec_free(&wv);
  loom_stop_request();
  assert_int_equal(loom_wordvec_read("big.txt", NULL, &wv, &err), -1);
  loom_stop_clear();
  assert_string_equal(err.msg, "big.txt: interrupted (SIGINT or SIGTERM) while reading it");
  unlink("big.txt"), unlink("huge_header.txt"), unlink("dim_cap.txt");
}

/* A frozen parameter: no update and no weight decay from Adam, AdamW or SGD; the others exactly as
 * without the frozen one. */
static void test_frozen_parameter_is_not_updated(void **state) {
  (void)state;
  const loom_optim_kind kinds[] = {LOOM_OPTIM_ADAM, LOOM_OPTIM_ADAMW, LOOM_OPTIM_SGD};
  for (int k = 0; k < 3; k++) {
    float after[2][2][40];
    for (int frozen = 0; frozen < 2; frozen++) {
      loom_graph *g = loom_graph_new();
      loom_tensor *a = loom_param(g, "a", 2, (int[]){5, 8}), *b = loom_param(g, "b", 1, (int[]){40});
      loom_rng rng;
      loom_rng_seed(&rng, 3);
      tu_fill_uniform(a->data, 40, -1, 1, &rng);
      tu_fill_uniform(b->data, 40, -1, 1, &rng);
      if (frozen) loom_param_set_trainable(a, false);
      loom_optim_config oc = loom_optim_defaults(kinds[k]);
      oc.weight_decay = 0.1f, oc.momentum = kinds[k] == LOOM_OPTIM_SGD ? 0.9f : 0.0f;
      loom_optim *o = loom_optim_new(g, &oc, &err);
      assert_non_null(o);
      float a0[40];
      memcpy(a0, a->data, sizeof a0);
      for (int s = 0; s < 3; s++) {
        for (int i = 0; i < 40; i++) b->grad[i] = 0.01f * (float)(i - s), a->grad[i] = frozen ? 0.0f : 0.02f * (float)i;
        loom_optim_step(o, 0.05f);
      }
      if (frozen) assert_memory_equal(a->data, a0, sizeof a0);
      else assert_memory_not_equal(a->data, a0, sizeof a0);
      memcpy(after[frozen][0], a->data, sizeof a0);
      memcpy(after[frozen][1], b->data, sizeof a0);
      loom_optim_free(o);
      loom_graph_free(g);
    }
    assert_memory_equal(after[0][1], after[1][1], sizeof after[0][1]); /* b took the same steps */
  }
}

/* ld_parse_f32 (the reader's number parser: a fast path, else strtof) gives strtof's bits on random
 * decimals of every shape: shortest float reprs (gensim's), 17-digit doubles, few and many digits,
 * exponents near the fast path's edge, exact float midpoints (2^24 + 1) and overflow. */
static void test_number_parser_matches_strtof(void **state) {
  (void)state;
  uint64_t x = 0x9E3779B97F4A7C15ull;
  char buf[96];
  long checked = 0, midpoints = 0;
  for (long k = 0; k < 2000000; k++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    int kind = (int)(x % 8);
    uint64_t y = x >> 3;
    float fv;
    memcpy(&fv, &(uint32_t){(uint32_t)(y >> 8)}, 4);
    switch (kind) {
    case 0: if (!isfinite(fv)) continue; snprintf(buf, sizeof buf, "%.9g", (double)fv); break;
    case 1: if (!isfinite(fv)) continue; snprintf(buf, sizeof buf, "%.8g", (double)fv); break;
    case 2: snprintf(buf, sizeof buf, "%.17g", (double)(y >> 11) / 9007199254740992.0 - 0.5); break;
    case 3: snprintf(buf, sizeof buf, "%llu", (unsigned long long)(y % 100000000000ull)); break;
    case 4: snprintf(buf, sizeof buf, "%llue%d", (unsigned long long)(y % 10000000ull), (int)((y >> 40) % 60) - 30); break;
    case 5: snprintf(buf, sizeof buf, "-0.%019llu", (unsigned long long)(y % 10000000000000000000ull)); break;
    case 6: { /* exact midpoints between two floats with few digits: (2^k + odd) at 2^24..2^53 */
      int sh = 24 + (int)((y >> 50) % 29);
      uint64_t v = ((uint64_t)1 << sh) + (((y & 0xFFFF) | 1) << (sh - 24));
      snprintf(buf, sizeof buf, "%llu", (unsigned long long)v);
      midpoints++;
      break;
    }
    default: snprintf(buf, sizeof buf, "%.*f", (int)(y % 12), (double)(int64_t)(y % 2000001) / 1000.0 - 1000.0); break;
    }
    size_t n = strlen(buf);
    if (!ld_decimal_valid(buf, n, 0)) continue;
    float a = ld_parse_f32(buf, n), b = strtof(buf, NULL);
    if (memcmp(&a, &b, 4) != 0) fail_msg("'%s': %a, strtof %a", buf, (double)a, (double)b);
    checked++;
  }
  const char *edge[] = {"16777217", "33554434", "3.4028235e38", "3.40282357e38", "3.4028236e38", "1e39", "-0", "-0.0",
                        "0e22", "1e-22", "1e22", "9007199254740993", "9999999999999999999", "1e-38", "1.4e-45", "+5"};
  for (size_t i = 0; i < sizeof edge / sizeof *edge; i++) {
    float a = ld_parse_f32(edge[i], strlen(edge[i])), b = strtof(edge[i], NULL);
    if (memcmp(&a, &b, 4) != 0) fail_msg("'%s': %a, strtof %a", edge[i], (double)a, (double)b);
  }
  printf("number parser: %ld decimals (%ld float midpoints) give strtof's bits\n", checked, midpoints);
  assert_true(checked > 1500000);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_format_loads_gensims_floats),
      cmocka_unit_test(test_alignment_counts_and_rows),
      cmocka_unit_test(test_vocab_from_the_file),
      cmocka_unit_test(test_caps_fifo_and_stop),
      cmocka_unit_test(test_frozen_parameter_is_not_updated),
      cmocka_unit_test(test_number_parser_matches_strtof),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
