/* loom/cpu.h — what this CPU can run: the instruction sets loom has kernels for.
 * A leaf: it knows nothing of kernels or threads (loom/runtime.h picks a kernel set from it). */
#ifndef LOOM_CPU_H
#define LOOM_CPU_H

#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { LOOM_ISA_SCALAR = 0, LOOM_ISA_AVX2 = 1, LOOM_ISA_AVX512 = 2, LOOM_ISA_COUNT } loom_isa;

/* Whether the CPU runs `isa` (CPUID: AVX2 + FMA; AVX-512F + AVX2 + FMA). */
bool loom_isa_supported(loom_isa isa);
/* "scalar", "avx2", "avx512"; "?" outside the enum. */
const char *loom_isa_name(loom_isa isa);
/* The widest instruction set the CPU runs. */
loom_isa loom_isa_best(void);
/* The ISA named `name` ("scalar", "avx2", "avx512"), or -1. */
int loom_isa_from_name(const char *name);

/* How many CPUs this process may keep busy: the CPUs of its affinity mask (taskset, numactl, a
 * container's cpuset), capped by the CPU quota of its cgroup and every parent cgroup (cgroup v2
 * cpu.max, or v1 cpu.cfs_quota_us / cpu.cfs_period_us) rounded up; at least 1. This, not the number
 * of CPUs online, is the default thread count: more threads than that only wait for each other. */
int loom_cpu_available(void);
/* The CPUs a cgroup v2 `cpu.max` line ("QUOTA PERIOD", or "max PERIOD") allows, rounded up:
 * 0 when unlimited, -1 when the text is not such a line. */
int loom_cpu_quota_parse(const char *cpu_max);

#ifdef __cplusplus
}
#endif
#endif
