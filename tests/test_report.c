/* test_report.c — the HTML report (curves, summary, confusion matrix, ranking thumbnails, escaping)
 * and atomic writes (no temporary file left behind; a failed write leaves the old file intact). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loom/alloc.h"
#include "loom/report.h"
#include "testutil.h"

static int count_entries(const char *dir) {
  DIR *d = opendir(dir);
  int n = 0;
  for (struct dirent *e; (e = readdir(d));) n += e->d_name[0] != '.';
  closedir(d);
  return n;
}

static void test_report_contents(void **state) {
  char dir[] = "/tmp/loom_report_XXXXXX";
  assert_non_null(mkdtemp(dir));
  char png[512], html[512];
  snprintf(png, sizeof png, "%s/item.png", dir);
  snprintf(html, sizeof html, "%s/report.html", dir);
  /* 3 bytes -> 4 base64 chars "AQID" */
  FILE *f = fopen(png, "wb");
  fwrite("\x01\x02\x03", 1, 3, f);
  fclose(f);

  loom_report *r = loom_report_new("run <1> & co");
  for (int s = 0; s <= 10; s++) {
    assert_int_equal(loom_report_point(r, "loss/train", s, 1.0 / (1 + s)), 0);
    if (s % 5 == 0) assert_int_equal(loom_report_point(r, "loss/valid", s, 1.2 / (1 + s)), 0);
  }
  assert_int_equal(loom_report_point(r, "auc/valid", 10, 0.91), 0);
  assert_int_equal(loom_report_summary(r, "task", "binary \"click\""), 0);
  const int64_t cm[4] = {5, 1, 2, 7};
  const char *names[2] = {"ham", "spam"};
  assert_int_equal(loom_report_confusion(r, cm, 2, names), 0);
  const char *titles[2] = {"black ankle boot", "黑色的T恤衫"};
  const char *images[2] = {png, "/nonexistent.png"};
  const float scores[2] = {0.9f, 0.5f};
  assert_int_equal(loom_report_ranking(r, "u42", "boots", 2, titles, images, scores), 0);
  assert_int_equal(loom_report_ranking_marked(r, "u7", "black & white", 2, titles, NULL, scores, 1, "clicked: <b> (rank 2)"), 0);
  loom_error err = {""};
  assert_int_equal(loom_report_write_html(r, html, &err), 0);
  loom_report_free(r);

  char *s = tu_slurp(html, NULL);
  assert_non_null(strstr(s, "<title>run &lt;1&gt; &amp; co</title>"));
  assert_non_null(strstr(s, "binary &quot;click&quot;"));
  assert_non_null(strstr(s, ">loss</text>"));   /* one chart for loss ... */
  assert_non_null(strstr(s, ">train 0.09091")); /* ... with a line per split, last value in the legend */
  assert_non_null(strstr(s, ">valid 0.1091"));
  assert_non_null(strstr(s, ">auc</text>"));
  assert_non_null(strstr(s, "<polyline"));
  assert_non_null(strstr(s, "<th>spam</th>"));
  assert_non_null(strstr(s, ">7</td>"));
  assert_non_null(strstr(s, "data:image/png;base64,AQID'"));
  assert_non_null(strstr(s, "黑色的T恤衫"));
  assert_non_null(strstr(s, "2. 黑色的T恤衫")); /* the missing image leaves the title only */
  /* the clicked item is marked (once: only in the second example) and the note is escaped */
  const char *hit = strstr(s, "<div class='it hit' title='clicked'>2. 黑色的T恤衫<br>0.500<br><b>&#10003; clicked</b></div>");
  assert_non_null(hit);
  assert_true(strstr(s, "class='it hit'") == hit + strlen("<div ")); /* the first example has no mark */
  assert_null(strstr(hit + 20, "class='it hit'")); /* and only the clicked one is */
  assert_non_null(strstr(s, "<p class='rn'>clicked: &lt;b&gt; (rank 2)</p>"));
  assert_non_null(strstr(s, "query “black &amp; white”"));
  free(s);
  assert_int_equal(count_entries(dir), 2); /* item.png and report.html: no temporary file */
  unlink(png);
  unlink(html);
  rmdir(dir);
}

static void test_atomic_write_failure_keeps_old_file(void **state) {
  char dir[] = "/tmp/loom_atomic_XXXXXX";
  assert_non_null(mkdtemp(dir));
  char path[512];
  snprintf(path, sizeof path, "%s/out.txt", dir);
  loom_error err = {""};
  assert_int_equal(loom_write_file_atomic(path, "old", 3, &err), 0);
  /* writing into a directory we cannot create files in fails, and says so */
  if (geteuid() != 0) { /* root ignores permissions: use a path whose parent is a file instead */
    chmod(dir, 0500);
    assert_int_equal(loom_write_file_atomic(path, "new", 3, &err), -1);
    chmod(dir, 0700);
  } else {
    char bad[600];
    snprintf(bad, sizeof bad, "%s/out.txt/child", dir);
    assert_int_equal(loom_write_file_atomic(bad, "new", 3, &err), -1);
  }
  assert_non_null(strstr(err.msg, "cannot create"));
  char *s = tu_slurp(path, NULL);
  assert_string_equal(s, "old");
  free(s);
  assert_int_equal(count_entries(dir), 1);
  /* the rename fails (the target is a directory): the error says so and no temporary is left */
  char sub[600];
  snprintf(sub, sizeof sub, "%s/sub", dir);
  assert_int_equal(mkdir(sub, 0700), 0);
  assert_int_equal(loom_write_file_atomic(sub, "new", 3, &err), -1);
  assert_non_null(strstr(err.msg, "rename failed"));
  assert_non_null(strstr(err.msg, "the previous file (if any) is intact"));
  assert_int_equal(count_entries(dir), 2);
  /* the streaming writer: what was written appears only on commit; a discard leaves nothing */
  loom_atomic a;
  assert_int_equal(loom_atomic_open(&a, path, &err), 0);
  fputs("streamed", a.f);
  char *before = tu_slurp(path, NULL);
  assert_string_equal(before, "old");
  free(before);
  assert_int_equal(loom_atomic_commit(&a, &err), 0);
  s = tu_slurp(path, NULL);
  assert_string_equal(s, "streamed");
  free(s);
  assert_int_equal(loom_atomic_open(&a, path, &err), 0);
  fputs("discarded", a.f);
  loom_atomic_discard(&a);
  s = tu_slurp(path, NULL);
  assert_string_equal(s, "streamed");
  free(s);
  assert_int_equal(count_entries(dir), 2);
  rmdir(sub);
  unlink(path);
  rmdir(dir);
}

static void test_allocation_failures(void **state) {
  char dir[] = "/tmp/loom_report_oom_XXXXXX", html[64];
  assert_non_null(mkdtemp(dir));
  snprintf(html, sizeof html, "%s/r.html", dir);
  int failures = 0;
  for (long n = 1; n < 500; n++) {
    loom_alloc_fail_after(n);
    loom_report *r = loom_report_new("t");
    int rc = r ? 0 : -1;
    for (int s = 0; rc == 0 && s < 40; s++) rc = loom_report_point(r, s % 2 ? "loss/train" : "loss/valid", s, s);
    if (rc == 0) rc = loom_report_summary(r, "k", "v");
    loom_error err = {""};
    if (rc == 0) rc = loom_report_write_html(r, html, &err);
    loom_alloc_fail_after(0);
    loom_report_free(r);
    if (rc == 0) break;
    failures++;
  }
  assert_true(failures >= 5);
  unlink(html);
  rmdir(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_report_contents),
      cmocka_unit_test(test_atomic_write_failure_keeps_old_file),
      cmocka_unit_test(test_allocation_failures),
  };
  return cmocka_run_group_tests_name("report", tests, NULL, NULL);
}
