/* kernels_avx2.c — the SIMD kernel template (kernels_simd.h) for AVX2 + FMA, 8 lanes. */
#include "kernels.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <math.h>

#define W 8
typedef __m256 V;
#define VLOAD(p) _mm256_loadu_ps(p)
#define VSTORE(p, v) _mm256_storeu_ps(p, v)
#define VSET1(x) _mm256_set1_ps(x)
#define VZERO _mm256_setzero_ps()
#define VADD(a, b) _mm256_add_ps(a, b)
#define VSUB(a, b) _mm256_sub_ps(a, b)
#define VMUL(a, b) _mm256_mul_ps(a, b)
#define VDIV(a, b) _mm256_div_ps(a, b)
#define VMAX(a, b) _mm256_max_ps(a, b)
#define VMIN(a, b) _mm256_min_ps(a, b)
#define VSQRT(a) _mm256_sqrt_ps(a)
#define VFMA(a, b, c) _mm256_fmadd_ps(a, b, c)   /* a*b + c */
#define VFNMA(a, b, c) _mm256_fnmadd_ps(a, b, c) /* c - a*b */
#define VABS(a) _mm256_andnot_ps(_mm256_set1_ps(-0.0f), a)
#define VCOPYSIGN(mag, s) _mm256_or_ps(VABS(mag), _mm256_and_ps(_mm256_set1_ps(-0.0f), s))
#define VSELECT_LT(a, b, t, f) _mm256_blendv_ps(f, t, _mm256_cmp_ps(a, b, _CMP_LT_OQ)) /* a<b ? t : f */
#define VROUND(a) _mm256_round_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define VPOW2I(n) \
  _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23))

static inline float hsum256(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
static inline float hmax256(__m256 v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
#define VREDUCE_ADD(v) hsum256(v)
#define VREDUCE_MAX(v) hmax256(v)

#include "kernels_simd.h"

void loom_kernels_fill_avx2(loom_kernels *k) { fill_simd(k, "avx2"); }
#endif
