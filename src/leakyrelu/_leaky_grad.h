/* leaky_relu_grad on a vector of 16 floats or 8 doubles in AVX-512 registers
 * (8 or 4 in AVX2), as _math.pxd's leaky_relu_grad gives it:
 * x > 0 ? g : g * slope, and x itself where x is a NaN. For the hand-written
 * blocks of prelu_grad and rrelu's gradient; GCC's loops spend a compare and
 * a blend on the NaN, AVX-512's fixupimm one instruction. */
#ifndef LEAKYRELU_LEAKY_GRAD_H
#define LEAKYRELU_LEAKY_GRAD_H
#if defined(__AVX512F__)
#include <immintrin.h>

/* fixupimm's table: where x is a NaN (quiet or signalling) the result is x
 * itself, bit for bit; every other class keeps the computed value. */
#define LR_NAN_IS_X 0x11

/* The elements that take the slope: x > 0 is false (0, negative or NaN). */
static inline __mmask16 lr_sloped_f(__m512 x) {
    return _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_NGT_UQ);
}

static inline __m512 lr_leaky_grad_f(__m512 g, __m512 x, __mmask16 sloped, __m512 slope) {
    __m512 grad = _mm512_mask_mul_ps(g, sloped, g, slope);
    return _mm512_fixupimm_ps(grad, x, _mm512_set1_epi32(LR_NAN_IS_X), 0);
}

static inline __mmask8 lr_sloped_d(__m512d x) {
    return _mm512_cmp_pd_mask(x, _mm512_setzero_pd(), _CMP_NGT_UQ);
}

static inline __m512d lr_leaky_grad_d(__m512d g, __m512d x, __mmask8 sloped, __m512d slope) {
    __m512d grad = _mm512_mask_mul_pd(g, sloped, g, slope);
    return _mm512_fixupimm_pd(grad, x, _mm512_set1_epi64(LR_NAN_IS_X), 0);
}
#endif
#if defined(__AVX2__)
#include <immintrin.h>

/* All ones where x > 0 (so not where x is 0, negative or NaN). */
static inline __m256 lr_positive8_f(__m256 x) {
    return _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_GT_OQ);
}

/* x > 0 ? g : g * slope, without the NaN rule (g * slope where x is a NaN). */
static inline __m256 lr_sloped_grad8_f(__m256 g, __m256 positive, __m256 slope) {
    return _mm256_blendv_ps(_mm256_mul_ps(g, slope), g, positive);
}

static inline __m256 lr_leaky_grad8_f(__m256 g, __m256 x, __m256 positive, __m256 slope) {
    __m256 grad = lr_sloped_grad8_f(g, positive, slope);
    return _mm256_blendv_ps(grad, x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
}

static inline __m256d lr_positive4_d(__m256d x) {
    return _mm256_cmp_pd(x, _mm256_setzero_pd(), _CMP_GT_OQ);
}

static inline __m256d lr_sloped_grad4_d(__m256d g, __m256d positive, __m256d slope) {
    return _mm256_blendv_pd(_mm256_mul_pd(g, slope), g, positive);
}

static inline __m256d lr_leaky_grad4_d(__m256d g, __m256d x, __m256d positive, __m256d slope) {
    __m256d grad = lr_sloped_grad4_d(g, positive, slope);
    return _mm256_blendv_pd(grad, x, _mm256_cmp_pd(x, x, _CMP_UNORD_Q));
}
#endif
#include <stddef.h>
#include <stdint.h>

/* The NaN rule applied after the fact, where grad is apart from x: a block
 * that computed grad without it (lr_sloped_grad8_f / 4_d: a compare and a
 * blend fewer per vector) and found a NaN among its x's (a sum of them is a
 * NaN; an inf - inf only costs the look) puts x's NaNs into grad here. */
static inline int lr_apart(const void* a, const void* b, size_t bytes) {
    return (uintptr_t)a + bytes <= (uintptr_t)b || (uintptr_t)b + bytes <= (uintptr_t)a;
}

#define LR_PUT_NANS(SUFFIX, T)                                                   \
static inline void lr_put_nans_##SUFFIX(const T* x, T* grad, ptrdiff_t n) {      \
    for (ptrdiff_t j = 0; j < n; j++)                                           \
        if (x[j] != x[j])                                                       \
            grad[j] = x[j];                                                     \
}
LR_PUT_NANS(f, float)
LR_PUT_NANS(d, double)
#undef LR_PUT_NANS

/* leaky_relu_grad over contiguous g and x into out, apart from x, four
 * vectors a step (all of n but its last n % 32 floats or n % 16 doubles),
 * the NaN rule after each 256 elements; returns how
 * many it did (the caller's loop does the rest), 0 where out meets x or in
 * builds other than AVX2. For Zen 1 and its kind, which split each 256-bit
 * operation in two: the NaN rule's compare and blend per vector were two of
 * five on the pipes that multiply (docs/performance.md). Four sums of x:
 * one add's latency per vector would bound the loop. */
#define LR_LEAKY_GRAD_RUN(SUFFIX, T, VEC, LANES, LOAD, STORE, SET1, ZERO, ADD, HAS_NAN, \
                          POSITIVE, SLOPED)                                              \
static inline ptrdiff_t lr_leaky_grad_run_##SUFFIX(const T* g, const T* x, T* out,     \
                                                   ptrdiff_t n, T alpha) {             \
    ptrdiff_t whole = n - n % (4 * LANES), done = 0;                                   \
    if (!lr_apart(out, x, (size_t)whole * sizeof(T)))                                  \
        return 0;                                                                      \
    const VEC slope = SET1(alpha);                                                     \
    while (done < whole) {                                                             \
        ptrdiff_t end = done + 256 < whole ? done + 256 : whole;                       \
        VEC seen[4] = {ZERO(), ZERO(), ZERO(), ZERO()};                                \
        for (ptrdiff_t j = done; j < end; j += 4 * LANES)                              \
            for (int k = 0; k < 4; k++) {                                              \
                VEC xv = LOAD(x + j + k * LANES), gv = LOAD(g + j + k * LANES);        \
                STORE(out + j + k * LANES, SLOPED(gv, POSITIVE(xv), slope));           \
                seen[k] = ADD(seen[k], xv);                                            \
            }                                                                          \
        if (HAS_NAN(ADD(ADD(seen[0], seen[1]), ADD(seen[2], seen[3]))))                \
            lr_put_nans_##SUFFIX(x + done, out + done, end - done);                    \
        done = end;                                                                    \
    }                                                                                  \
    return whole;                                                                      \
}
#if defined(__AVX2__) && !defined(__AVX512F__)
static inline int lr_has_nan8_f(__m256 v) {
    return _mm256_movemask_ps(_mm256_cmp_ps(v, v, _CMP_UNORD_Q));
}
static inline int lr_has_nan4_d(__m256d v) {
    return _mm256_movemask_pd(_mm256_cmp_pd(v, v, _CMP_UNORD_Q));
}
LR_LEAKY_GRAD_RUN(f, float, __m256, 8, _mm256_loadu_ps, _mm256_storeu_ps, _mm256_set1_ps,
                  _mm256_setzero_ps, _mm256_add_ps, lr_has_nan8_f, lr_positive8_f,
                  lr_sloped_grad8_f)
LR_LEAKY_GRAD_RUN(d, double, __m256d, 4, _mm256_loadu_pd, _mm256_storeu_pd, _mm256_set1_pd,
                  _mm256_setzero_pd, _mm256_add_pd, lr_has_nan4_d, lr_positive4_d,
                  lr_sloped_grad4_d)
#else
static inline ptrdiff_t lr_leaky_grad_run_f(const float* g, const float* x, float* out,
                                             ptrdiff_t n, float alpha) {
    (void)g; (void)x; (void)out; (void)n; (void)alpha;
    return 0;
}
static inline ptrdiff_t lr_leaky_grad_run_d(const double* g, const double* x, double* out,
                                             ptrdiff_t n, double alpha) {
    (void)g; (void)x; (void)out; (void)n; (void)alpha;
    return 0;
}
#endif
#undef LR_LEAKY_GRAD_RUN

/* leaky_relu_grad over contiguous float16 g and x into out (which may be g
 * or x itself), 16 elements a step (all of n but its last n % 16); returns
 * how many it did, 0 in builds other than AVX2 with F16C. Where x > 0 the
 * result is g's own bits, chosen by an integer compare of x's, so only g
 * is widened and only g * slope narrowed: on Zen 1 `vcvtph2ps` and
 * `vcvtps2ph` share one pipe at 2.2-2.4 cycles per 8 elements, and the
 * lane loop's three conversions per 8 (x, g and the result) set its time.
 * Where g or x holds a NaN the step takes that lane loop's way, in which
 * the widening quiets g's NaNs. The same bits as the lane loop. */
#include "_half.h"
#if defined(__AVX2__) && defined(__F16C__) && !defined(__AVX512F__)
static inline ptrdiff_t lr_leaky_grad_run_half(const lr_half* g, const lr_half* x, lr_half* out,
                                               ptrdiff_t n, float alpha) {
    const __m256 slope = _mm256_set1_ps(alpha);
    ptrdiff_t whole = n - n % 16;
    for (ptrdiff_t i = 0; i < whole; i += 16) {
        __m256i g16 = _mm256_loadu_si256((const __m256i*)(g + i));
        __m256i x16 = _mm256_loadu_si256((const __m256i*)(x + i));
        __m256 g_lo = _mm256_cvtph_ps(_mm256_castsi256_si128(g16));
        __m256 g_hi = _mm256_cvtph_ps(_mm256_extracti128_si256(g16, 1));
        __m256i nan = _mm256_or_si256(lr_nan16_half(g16), lr_nan16_half(x16));
        __m256i grad;
        if (_mm256_testz_si256(nan, nan)) {
            /* x > 0 as a float16 is x > 0 as an int16, NaNs aside */
            __m256i positive = _mm256_cmpgt_epi16(x16, _mm256_setzero_si256());
            __m256i sloped = _mm256_set_m128i(lr_narrow8_half(_mm256_mul_ps(g_hi, slope)),
                                              lr_narrow8_half(_mm256_mul_ps(g_lo, slope)));
            grad = _mm256_blendv_epi8(sloped, g16, positive);
        } else {
            __m256 x_lo = _mm256_cvtph_ps(_mm256_castsi256_si128(x16));
            __m256 x_hi = _mm256_cvtph_ps(_mm256_extracti128_si256(x16, 1));
            grad = _mm256_set_m128i(
                lr_narrow8_half(lr_leaky_grad8_f(g_hi, x_hi, lr_positive8_f(x_hi), slope)),
                lr_narrow8_half(lr_leaky_grad8_f(g_lo, x_lo, lr_positive8_f(x_lo), slope)));
        }
        _mm256_storeu_si256((__m256i*)(out + i), grad);
    }
    return whole;
}
#else
static inline ptrdiff_t lr_leaky_grad_run_half(const lr_half* g, const lr_half* x, lr_half* out,
                                               ptrdiff_t n, float alpha) {
    (void)g; (void)x; (void)out; (void)n; (void)alpha;
    return 0;
}
#endif
#endif
