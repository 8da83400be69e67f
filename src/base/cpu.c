/* cpu.c — instruction-set detection and the CPUs this process may use (loom/cpu.h). Runs CPUID through the compiler's builtins;
 * choosing and installing a kernel set is the runtime's job (src/autograd/runtime.c). */
/* _GNU_SOURCE (sched_getaffinity, CPU_COUNT) comes from the build flags. */
#include "loom/cpu.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *isa_names[LOOM_ISA_COUNT] = {"scalar", "avx2", "avx512"};

const char *loom_isa_name(loom_isa isa) { return isa >= 0 && isa < LOOM_ISA_COUNT ? isa_names[isa] : "?"; }

bool loom_isa_supported(loom_isa isa) {
  switch (isa) {
  case LOOM_ISA_SCALAR: return true;
#if defined(__x86_64__)
  case LOOM_ISA_AVX2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  case LOOM_ISA_AVX512:
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
  default: return false;
  }
}

loom_isa loom_isa_best(void) {
  for (int i = LOOM_ISA_COUNT - 1; i > 0; i--)
    if (loom_isa_supported((loom_isa)i)) return (loom_isa)i;
  return LOOM_ISA_SCALAR;
}

int loom_isa_from_name(const char *name) {
  for (int i = 0; i < LOOM_ISA_COUNT; i++)
    if (strcmp(name, isa_names[i]) == 0) return i;
  return -1;
}

int loom_cpu_quota_parse(const char *cpu_max) {
  char quota[32];
  long long period;
  char tail;
  if (sscanf(cpu_max, "%31s %lld %c", quota, &period, &tail) != 2 || period <= 0) return -1;
  if (strcmp(quota, "max") == 0) return 0;
  char *end;
  const long long q = strtoll(quota, &end, 10);
  if (*end || q <= 0) return -1;
  const long long cpus = (q + period - 1) / period;
  return cpus > 4096 ? 4096 : (int)cpus;
}

/* The first line of a small file, or "" (a missing file means no limit at that level). */
static void read_line(const char *path, char *buf, size_t size) {
  buf[0] = '\0';
  FILE *f = fopen(path, "r");
  if (!f) return;
  if (!fgets(buf, (int)size, f)) buf[0] = '\0';
  fclose(f);
}

/* Whether a comma-separated cgroup v1 controller list names `name`. */
static bool lists(const char *list, const char *name) {
  const size_t len = strlen(name);
  for (const char *p = list; *p;) {
    const size_t n = strcspn(p, ",");
    if (n == len && strncmp(p, name, n) == 0) return true;
    p += n + (p[n] == ',');
  }
  return false;
}

static int min_limit(int limit, int cpus) { return cpus > 0 && (limit == 0 || cpus < limit) ? cpus : limit; }

/* The tightest quota on the path from this process's cgroup up to the root; 0 when none. */
static int cgroup_quota(void) {
  int limit = 0;
  char line[4096], path[4200], text[128];
  FILE *f = fopen("/proc/self/cgroup", "r");
  if (!f) return 0;
  while (fgets(line, sizeof line, f)) {
    line[strcspn(line, "\n")] = '\0';
    /* v2: "0::/some/path"; v1: "N:cpu,cpuacct:/some/path" (the controller list names cpu). */
    char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (!c2) continue;
    *c2 = '\0';
    const char *controllers = c1 + 1, *dir = c2 + 1;
    const bool v2 = controllers[0] == '\0';
    if (!v2 && !lists(controllers, "cpu")) continue;
    char rel[4096];
    snprintf(rel, sizeof rel, "%s", dir);
    for (;;) { /* this cgroup, then each parent up to the root */
      if (v2) {
        snprintf(path, sizeof path, "/sys/fs/cgroup%s/cpu.max", strcmp(rel, "/") == 0 ? "" : rel);
        read_line(path, text, sizeof text);
        if (text[0]) limit = min_limit(limit, loom_cpu_quota_parse(text));
      } else { /* v1 mounts the cpu controller as cpu,cpuacct or cpu */
        const char *base = strcmp(rel, "/") == 0 ? "" : rel;
        long long q = 0, p = 0;
        for (int m = 0; m < 2 && !(q > 0 && p > 0); m++) {
          const char *mount = m == 0 ? "/sys/fs/cgroup/cpu,cpuacct" : "/sys/fs/cgroup/cpu";
          snprintf(path, sizeof path, "%s%s/cpu.cfs_quota_us", mount, base);
          read_line(path, text, sizeof text);
          q = text[0] ? strtoll(text, NULL, 10) : 0;
          snprintf(path, sizeof path, "%s%s/cpu.cfs_period_us", mount, base);
          read_line(path, text, sizeof text);
          p = text[0] ? strtoll(text, NULL, 10) : 0;
        }
        if (q > 0 && p > 0) limit = min_limit(limit, (int)((q + p - 1) / p));
      }
      char *slash = strrchr(rel, '/');
      if (!slash || (slash == rel && rel[1] == '\0')) break;
      if (slash == rel) rel[1] = '\0';
      else *slash = '\0';
    }
  }
  fclose(f);
  return limit;
}

int loom_cpu_available(void) {
  int n = 0;
#if defined(__linux__)
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) n = CPU_COUNT(&set);
#endif
  if (n < 1) n = (int)sysconf(_SC_NPROCESSORS_ONLN);
  const int quota = cgroup_quota();
  if (quota > 0 && quota < n) n = quota;
  return n < 1 ? 1 : n;
}
