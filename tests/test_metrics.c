/* test_metrics.c — every metric on hand-computed cases (values worked out in the comments, and
 * cross-checked with scikit-learn / RecBole's formulas). */
#include <math.h>

#include "loom/metrics.h"
#include "testutil.h"

static void test_auc(void **state) {
  /* sklearn's docs example: roc_auc_score([0,0,1,1], [0.1,0.4,0.35,0.8]) = 0.75 */
  const float s[] = {0.1f, 0.4f, 0.35f, 0.8f}, y[] = {0, 0, 1, 1};
  assert_float_equal(loom_auc(s, y, 4), 0.75, 1e-12);
  /* ties count 1/2: pos {0.5, 0.9}, neg {0.5, 0.1}: pairs (0.5,0.5)=.5 (0.5,0.1)=1 (0.9,*)=2 -> 3.5/4 */
  const float s2[] = {0.5f, 0.9f, 0.5f, 0.1f}, y2[] = {1, 1, 0, 0};
  assert_float_equal(loom_auc(s2, y2, 4), 0.875, 1e-12);
  const float y3[] = {1, 1, 1, 1};
  assert_true(isnan(loom_auc(s, y3, 4)));
  /* perfect and inverted */
  const float s4[] = {0.9f, 0.8f, 0.2f, 0.1f};
  assert_float_equal(loom_auc(s4, y2, 4), 1.0, 0);
  const float y5[] = {0, 0, 1, 1};
  assert_float_equal(loom_auc(s4, y5, 4), 0.0, 0);
}

static void test_gauc(void **state) {
  /* rows of four users, interleaved:
   *   user 7: scores .9 .1 .5 .3, labels 1 0 0 1: pos {.9, .3} vs neg {.1, .5}: pairs 1 + 1 + 1 + 0 -> AUC 3/4, 4 rows
   *   user 2: scores .2 .2 .8, labels 1 0 0: pos {.2} vs neg {.2 (tie: 1/2), .8 (0)} -> AUC .5/2 = 1/4, 3 rows
   *   user 5: one positive only; user 9: two negatives only -> left out (one class)
   * GAUC = (4 * 3/4 + 3 * 1/4) / (4 + 3) = 3.75 / 7 = 0.5357142857 */
  const float s[] = {0.9f, 0.2f, 0.1f, 0.7f, 0.2f, 0.5f, 0.4f, 0.8f, 0.3f, 0.6f};
  const float y[] = {1, 1, 0, 1, 0, 0, 0, 0, 1, 0};
  const int32_t g[] = {7, 2, 7, 5, 2, 7, 9, 2, 7, 9};
  assert_float_equal(loom_gauc(s, y, g, 10), 3.75 / 7.0, 1e-12);
  /* one group = plain AUC */
  const int32_t one[] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  assert_float_equal(loom_gauc(s, y, one, 10), loom_auc(s, y, 10), 1e-12);
  /* no group with both classes */
  const int32_t own[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  assert_true(isnan(loom_gauc(s, y, own, 10)));
}

/* ROC and precision-recall points worked out by hand: a point per row at n_points = n + 1; a tie group
 * passes the threshold together; one class gives no curve. */
static void test_binary_curves(void **state) {
  (void)state;
  const float s[] = {0.9f, 0.8f, 0.7f, 0.6f}, y[] = {1, 0, 1, 0};
  double fpr[8], tpr[8], rec[8], prec[8];
  assert_int_equal(loom_binary_curves(s, y, 4, 5, fpr, tpr, rec, prec), 5);
  const double want_fpr[] = {0, 0, 0.5, 0.5, 1}, want_tpr[] = {0, 0.5, 0.5, 1, 1};
  const double want_prec[] = {1, 1, 0.5, 2.0 / 3, 0.5};
  for (int i = 0; i < 5; i++) {
    assert_float_equal(fpr[i], want_fpr[i], 1e-12);
    assert_float_equal(tpr[i], want_tpr[i], 1e-12);
    assert_float_equal(rec[i], want_tpr[i], 1e-12);
    assert_float_equal(prec[i], want_prec[i], 1e-12);
  }
  /* fewer points than rows: every other row, and the end */
  assert_int_equal(loom_binary_curves(s, y, 4, 3, fpr, tpr, rec, prec), 3);
  assert_float_equal(fpr[1], 0.5, 1e-12);
  assert_float_equal(tpr[1], 0.5, 1e-12);
  assert_float_equal(fpr[2], 1, 1e-12);
  assert_float_equal(tpr[2], 1, 1e-12);
  const float tie[] = {0.5f, 0.5f}, ty[] = {1, 0};
  assert_int_equal(loom_binary_curves(tie, ty, 2, 3, fpr, tpr, rec, prec), 2); /* (0,0), then both at once */
  assert_float_equal(fpr[1], 1, 1e-12);
  assert_float_equal(tpr[1], 1, 1e-12);
  const float one[] = {1, 1};
  assert_int_equal(loom_binary_curves(s, one, 2, 3, fpr, tpr, rec, prec), 0);
  assert_int_equal(loom_binary_curves(s, y, 4, 1, fpr, tpr, rec, prec), 0);
}

static void test_logloss_and_counts(void **state) {
  /* sklearn: log_loss([1,0,0,1], [.9,.1,.2,.65]) = mean(-ln .9, -ln .9, -ln .8, -ln .65) = 0.21616187 */
  const float p[] = {0.9f, 0.1f, 0.2f, 0.65f}, y[] = {1, 0, 0, 1};
  assert_float_equal(loom_logloss(p, y, 4), 0.21616187, 1e-6);
  const float p0[] = {0.0f, 1.0f}, y0[] = {1, 0}; /* clipped, finite: -ln(1e-7) = 16.118 */
  assert_float_equal(loom_logloss(p0, y0, 2), 16.11809565, 1e-5);
  /* threshold 0.5: preds 1,0,0,1 + two more */
  const float p2[] = {0.9f, 0.1f, 0.6f, 0.4f, 0.5f, 0.2f}, y2[] = {1, 0, 0, 1, 1, 0};
  loom_binary_counts c = loom_binary_count(p2, y2, 6, 0.5f);
  assert_int_equal(c.tp, 2); /* 0.9, 0.5 */
  assert_int_equal(c.fp, 1); /* 0.6 */
  assert_int_equal(c.fn, 1); /* 0.4 */
  assert_int_equal(c.tn, 2);
  assert_float_equal(loom_accuracy(c), 4.0 / 6, 1e-12);
  assert_float_equal(loom_precision(c), 2.0 / 3, 1e-12);
  assert_float_equal(loom_recall(c), 2.0 / 3, 1e-12);
  assert_float_equal(loom_f1(c), 2.0 / 3, 1e-12);
  loom_binary_counts none = {0, 0, 5, 0}; /* zero_division = 0 */
  assert_float_equal(loom_precision(none), 0, 0);
  assert_float_equal(loom_f1(none), 0, 0);
}

static void test_confusion_and_macro_f1(void **state) {
  /* sklearn docs: y_true [0,1,2,0,1,2], y_pred [0,2,1,0,0,1]: macro F1 = 0.26666..., accuracy 1/3 */
  const int32_t t[] = {0, 1, 2, 0, 1, 2}, p[] = {0, 2, 1, 0, 0, 1};
  int64_t cm[9] = {0};
  loom_confusion_add(cm, 3, t, p, 6);
  assert_int_equal(cm[0 * 3 + 0], 2);
  assert_int_equal(cm[1 * 3 + 0], 1);
  assert_int_equal(cm[1 * 3 + 2], 1);
  assert_int_equal(cm[2 * 3 + 1], 2);
  assert_float_equal(loom_confusion_accuracy(cm, 3), 1.0 / 3, 1e-12);
  assert_float_equal(loom_macro_f1(cm, 3), 0.8 / 3, 1e-12);
  /* a 4th class that never occurs is left out, as sklearn does by default */
  int64_t cm4[16] = {0};
  loom_confusion_add(cm4, 4, t, p, 6);
  assert_float_equal(loom_macro_f1(cm4, 4), 0.8 / 3, 1e-12);
}

static void test_rank_positions_ties_and_exclusion(void **state) {
  /* scores of 6 candidates */
  const float s[] = {0.5f, 0.9f, 0.5f, 0.1f, 0.7f, NAN};
  int64_t r[3];
  loom_rank_positions(s, 6, (const int32_t[]){1, 2, 0}, 3, NULL, 0, r);
  assert_int_equal(r[0], 1);  /* 0.9 first */
  assert_int_equal(r[1], 4);  /* 0.5 at index 2: behind 0.9, 0.7 and the tie at index 0 */
  assert_int_equal(r[2], 3);  /* 0.5 at index 0 wins the tie */
  /* excluding item 4 (a training interaction) and listing it twice moves index 0 up by one */
  loom_rank_positions(s, 6, (const int32_t[]){0}, 1, (const int32_t[]){4, 4}, 2, r);
  assert_int_equal(r[0], 2);
  loom_rank_positions(s, 6, (const int32_t[]){5}, 1, NULL, 0, r); /* NaN ranks last */
  assert_int_equal(r[0], 6);
}

static void test_rank_metrics_hand_computed(void **state) {
  loom_rank_metrics m;
  loom_rank_metrics_init(&m, 2, (const int[]){1, 3});
  /* query A: relevant at ranks 2 and 3; query B: relevant at rank 1; query C: relevant at rank 5 */
  loom_rank_metrics_add_ranks(&m, (const int64_t[]){3, 2}, 2);
  loom_rank_metrics_add_ranks(&m, (const int64_t[]){1}, 1);
  loom_rank_metrics_add_ranks(&m, (const int64_t[]){5}, 1);
  loom_rank_metrics_add_ranks(&m, NULL, 0); /* no relevant item: skipped */
  assert_int_equal(m.n_queries, 3);
  /* @1: A: 0 hits; B: hit; C: none */
  assert_float_equal(loom_rank_metric(&m, "hit", 1), 1.0 / 3, 1e-12);
  assert_float_equal(loom_rank_metric(&m, "recall", 1), 1.0 / 3, 1e-12);
  assert_float_equal(loom_rank_metric(&m, "precision", 1), 1.0 / 3, 1e-12);
  assert_float_equal(loom_rank_metric(&m, "mrr", 1), 1.0 / 3, 1e-12);
  assert_float_equal(loom_rank_metric(&m, "ndcg", 1), 1.0 / 3, 1e-12);
  /* @3: A: hits 2/2, DCG = 1/log2(3) + 1/log2(4), IDCG = 1 + 1/log2(3), MRR 1/2, precision 2/3;
   *     B: recall 1, NDCG 1, MRR 1, precision 1/3;  C: all 0 */
  double ndcg_a = (1 / log2(3.0) + 0.5) / (1 + 1 / log2(3.0));
  assert_float_equal(loom_rank_metric(&m, "recall", 3), 2.0 / 3, 1e-12);
  assert_float_equal(loom_rank_metric(&m, "hit", 3), 2.0 / 3, 1e-12);
  assert_float_equal(loom_rank_metric(&m, "ndcg", 3), (ndcg_a + 1) / 3, 1e-12);
  assert_float_equal(loom_rank_metric(&m, "mrr", 3), (0.5 + 1) / 3, 1e-12);
  assert_float_equal(loom_rank_metric(&m, "precision", 3), (2.0 / 3 + 1.0 / 3) / 3, 1e-12);
}

static void test_rank_metrics_from_scores(void **state) {
  loom_rank_metrics m;
  loom_rank_metrics_init(&m, 1, (const int[]){2});
  const float s[] = {0.1f, 0.8f, 0.3f, 0.9f};
  int64_t buf[2];
  /* relevant: item 2 (rank 3 overall); item 3 (a training item) is excluded -> rank 2 */
  loom_rank_metrics_add(&m, s, 4, (const int32_t[]){2}, 1, (const int32_t[]){3}, 1, buf);
  assert_int_equal(buf[0], 2);
  assert_float_equal(loom_rank_metric(&m, "hit", 2), 1.0, 0);
  assert_float_equal(loom_rank_metric(&m, "ndcg", 2), 1 / log2(3.0), 1e-12);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_auc),
      cmocka_unit_test(test_binary_curves),
      cmocka_unit_test(test_logloss_and_counts),
      cmocka_unit_test(test_confusion_and_macro_f1),
      cmocka_unit_test(test_gauc),
      cmocka_unit_test(test_rank_positions_ties_and_exclusion),
      cmocka_unit_test(test_rank_metrics_hand_computed),
      cmocka_unit_test(test_rank_metrics_from_scores),
  };
  return cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
}
