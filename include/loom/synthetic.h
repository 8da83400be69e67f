/* loom/synthetic.h — small generated datasets for tests, teaching and the core demo.
 * Real datasets come through src/data (CSV tables, images); these need no files. */
#ifndef LOOM_SYNTHETIC_H
#define LOOM_SYNTHETIC_H

#include <stdint.h>

#include "loom/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Two interleaved spirals (classes 0 and 1), `turns` turns each, Gaussian noise of std `noise`.
 * x: (n, 2) in about [-1, 1]^2; y: (n). Samples alternate between the classes. */
void loom_synth_spirals(int n, float turns, float noise, loom_rng *rng, float *x, int32_t *y);

#ifdef __cplusplus
}
#endif
#endif
