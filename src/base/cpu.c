/* cpu.c — instruction-set detection (loom/cpu.h). Runs CPUID through the compiler's builtins;
 * choosing and installing a kernel set is the runtime's job (src/autograd/runtime.c). */
#include "loom/cpu.h"

#include <string.h>

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
