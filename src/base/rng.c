/* rng.c — SplitMix64 with explicit state (see loom/rng.h). */
#include "loom/rng.h"

#include <math.h>

void loom_rng_seed(loom_rng *r, uint64_t seed) { r->state = seed; }

uint64_t loom_rng_u64(loom_rng *r) {
  uint64_t z = (r->state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

float loom_rng_uniform(loom_rng *r) { return (float)(loom_rng_u64(r) >> 40) * 0x1.0p-24f; }

uint32_t loom_rng_below(loom_rng *r, uint32_t n) {
  /* Lemire's multiply-shift with rejection: unbiased for every n. */
  uint64_t m = (uint64_t)(uint32_t)(loom_rng_u64(r) >> 32) * n;
  uint32_t low = (uint32_t)m;
  if (low < n) {
    uint32_t threshold = (uint32_t)(-n) % n;
    while (low < threshold) {
      m = (uint64_t)(uint32_t)(loom_rng_u64(r) >> 32) * n;
      low = (uint32_t)m;
    }
  }
  return (uint32_t)(m >> 32);
}

float loom_rng_normal(loom_rng *r) {
  /* u1 in (0, 1] so log(u1) is finite. */
  double u1 = ((double)(loom_rng_u64(r) >> 11) + 1.0) * 0x1.0p-53;
  double u2 = (double)(loom_rng_u64(r) >> 11) * 0x1.0p-53;
  return (float)(sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2));
}

void loom_rng_shuffle(loom_rng *r, int32_t *perm, int64_t n) {
  for (int64_t i = n - 1; i > 0; i--) {
    int64_t j = (int64_t)(i < 0xFFFFFFFFll ? loom_rng_below(r, (uint32_t)(i + 1)) : loom_rng_u64(r) % (uint64_t)(i + 1));
    int32_t t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
  }
}
