/* synthetic.c — generated datasets (loom/synthetic.h). */
#include "loom/synthetic.h"

#include <math.h>

void loom_synth_spirals(int n, float turns, float noise, loom_rng *rng, float *x, int32_t *y) {
  for (int i = 0; i < n; i++) {
    int cls = i % 2;
    float t = loom_rng_uniform(rng);               /* position along the arm, 0 = centre */
    float angle = t * turns * 2.0f * (float)M_PI + (float)cls * (float)M_PI;
    float radius = 0.05f + 0.95f * t;
    x[2 * i] = radius * cosf(angle) + noise * loom_rng_normal(rng);
    x[2 * i + 1] = radius * sinf(angle) + noise * loom_rng_normal(rng);
    y[i] = cls;
  }
}
