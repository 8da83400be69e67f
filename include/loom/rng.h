/* loom/rng.h — explicit random state. Nothing in loom reads a clock or rand(): every random draw
 * (initialisers, dropout, shuffling, negative sampling) comes from a loom_rng the caller owns, so the
 * same seed gives the same numbers and the state can be saved and restored exactly.
 * The generator is SplitMix64 (a 64-bit counter through a strong mixer); loom_rng_hash gives
 * counter-based draws that many threads can take in any order with identical results. */
#ifndef LOOM_RNG_H
#define LOOM_RNG_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct loom_rng {
  uint64_t state;
} loom_rng;

void loom_rng_seed(loom_rng *r, uint64_t seed);
uint64_t loom_rng_u64(loom_rng *r);
/* Uniform in [0, 1) with 24 random bits. */
float loom_rng_uniform(loom_rng *r);
/* Uniform integer in [0, n), unbiased. */
uint32_t loom_rng_below(loom_rng *r, uint32_t n);
/* Standard normal (Box–Muller; one draw consumes two uniforms). */
float loom_rng_normal(loom_rng *r);
/* Fisher–Yates shuffle of perm[0..n). */
void loom_rng_shuffle(loom_rng *r, int32_t *perm, int64_t n);

/* Stateless: the i-th draw of stream `key` (SplitMix64 finaliser of key + i·golden). */
static inline uint64_t loom_rng_hash(uint64_t key, uint64_t i) {
  uint64_t z = key + (i + 1) * 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

#ifdef __cplusplus
}
#endif
#endif
