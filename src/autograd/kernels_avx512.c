/* kernels_avx512.c — the SIMD kernel template (kernels_simd.h) for AVX-512F, 16 lanes. */
#include "kernels.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <math.h>

#define W 16
typedef __m512 V;
#define VLOAD(p) _mm512_loadu_ps(p)
#define VSTORE(p, v) _mm512_storeu_ps(p, v)
#define VSET1(x) _mm512_set1_ps(x)
#define VZERO _mm512_setzero_ps()
#define VADD(a, b) _mm512_add_ps(a, b)
#define VSUB(a, b) _mm512_sub_ps(a, b)
#define VMUL(a, b) _mm512_mul_ps(a, b)
#define VDIV(a, b) _mm512_div_ps(a, b)
#define VMAX(a, b) _mm512_max_ps(a, b)
#define VMIN(a, b) _mm512_min_ps(a, b)
#define VSQRT(a) _mm512_sqrt_ps(a)
#define VFMA(a, b, c) _mm512_fmadd_ps(a, b, c)   /* a*b + c */
#define VFNMA(a, b, c) _mm512_fnmadd_ps(a, b, c) /* c - a*b */
#define VABS(a) _mm512_abs_ps(a)
#define VCOPYSIGN(mag, s)                                                                   \
  _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(_mm512_abs_ps(mag)),              \
                                      _mm512_and_si512(_mm512_castps_si512(s), _mm512_set1_epi32((int)0x80000000u))))
#define VSELECT_LT(a, b, t, f) _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, b, _CMP_LT_OQ), f, t)
#define VROUND(a) _mm512_roundscale_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define VPOW2I(n) \
  _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23))
#define VREDUCE_ADD(v) _mm512_reduce_add_ps(v)
#define VREDUCE_MAX(v) _mm512_reduce_max_ps(v)

#include "kernels_simd.h"

void loom_kernels_fill_avx512(loom_kernels *k) { fill_simd(k, "avx512"); }
#endif
