/* test_cpu.c — the CPUs loom may use: the affinity mask and cgroup quotas decide the default thread
 * count (a container limited to one CPU, or `taskset -c 0`, trains on one thread, not on every CPU
 * of the host). */
#include <sched.h>
#include <stdlib.h>

#include "loom/cpu.h"
#include "loom/runtime.h"
#include "testutil.h"

static void test_quota_parse(void **state) {
  (void)state;
  assert_int_equal(loom_cpu_quota_parse("max 100000\n"), 0);
  assert_int_equal(loom_cpu_quota_parse("max 100000"), 0);
  assert_int_equal(loom_cpu_quota_parse("100000 100000\n"), 1);
  assert_int_equal(loom_cpu_quota_parse("150000 100000\n"), 2); /* 1.5 CPUs: two threads, rounded up */
  assert_int_equal(loom_cpu_quota_parse("50000 100000"), 1);
  assert_int_equal(loom_cpu_quota_parse("800000 100000"), 8);
  assert_int_equal(loom_cpu_quota_parse(""), -1);
  assert_int_equal(loom_cpu_quota_parse("100000"), -1);
  assert_int_equal(loom_cpu_quota_parse("abc 100000"), -1);
  assert_int_equal(loom_cpu_quota_parse("-5 100000"), -1);
  assert_int_equal(loom_cpu_quota_parse("100000 0"), -1);
  assert_int_equal(loom_cpu_quota_parse("100000 100000 7"), -1);
}

static void test_available_within_affinity(void **state) {
  (void)state;
  cpu_set_t set;
  assert_int_equal(sched_getaffinity(0, sizeof set, &set), 0);
  const int n = loom_cpu_available();
  assert_true(n >= 1);
  assert_true(n <= CPU_COUNT(&set));
}

/* One CPU in the mask: one CPU available, and the runtime's default team is one thread. */
static void test_one_cpu_one_thread(void **state) {
  (void)state;
  cpu_set_t set, one;
  assert_int_equal(sched_getaffinity(0, sizeof set, &set), 0);
  int first = 0;
  while (!CPU_ISSET(first, &set)) first++;
  CPU_ZERO(&one);
  CPU_SET(first, &one);
  assert_int_equal(sched_setaffinity(0, sizeof one, &one), 0);
  assert_int_equal(loom_cpu_available(), 1);
  loom_runtime_init();
  assert_int_equal(loom_num_threads(), 1);
  assert_int_equal(sched_setaffinity(0, sizeof set, &set), 0);
}

int main(void) {
  /* The default thread count is under test here, not a count the test harness asks for. */
  unsetenv("LOOM_NUM_THREADS");
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_quota_parse),
      cmocka_unit_test(test_available_within_affinity),
      cmocka_unit_test(test_one_cpu_one_thread),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
