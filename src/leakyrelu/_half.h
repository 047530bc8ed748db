/* Half-precision storage: float16 and bfloat16 are loaded, widened to float
 * in registers, computed in float and rounded once on the way out.
 *
 * The array loops convert short runs with lr_load_* and lr_store_*: F16C /
 * AVX-512 instructions for float16 where the build has them, else a
 * portable branch-free conversion that compilers vectorise (they do not
 * vectorise _Float16 conversions themselves). bfloat16 is the top half of a
 * float: widening is a shift, narrowing rounds to nearest even; a NaN stays
 * a (quiet) NaN.
 */
#ifndef LEAKYRELU_HALF_H
#define LEAKYRELU_HALF_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#if defined(__AVX512F__) || defined(__F16C__) || defined(__AVX512BW__)
#include <immintrin.h>
#endif

typedef uint16_t lr_half;

static inline uint32_t lr_f32_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static inline float lr_f32_from_bits(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

/* Branch-free conversions (exact, round to nearest even) that compilers
 * vectorise: scaling by powers of two lets float rounding do the work. */
static inline float lr_half_to_float(lr_half h) {
    uint32_t w = (uint32_t)h << 16, sign = w & 0x80000000u, two_w = w + w;
    float normal = lr_f32_from_bits((two_w >> 4) + (0xE0u << 23)) * 0x1.0p-112f;
    float subnormal = lr_f32_from_bits((two_w >> 17) | (126u << 23)) - 0.5f;
    return lr_f32_from_bits(sign | (two_w < (1u << 27) ? lr_f32_bits(subnormal) : lr_f32_bits(normal)));
}

static inline lr_half lr_float_to_half(float f) {
    float base = (fabsf(f) * 0x1.0p+112f) * 0x1.0p-110f;
    uint32_t w = lr_f32_bits(f), shl1_w = w + w, sign = w & 0x80000000u;
    uint32_t bias = shl1_w & 0xFF000000u;
    bias = bias < 0x71000000u ? 0x71000000u : bias;
    uint32_t bits = lr_f32_bits(lr_f32_from_bits((bias >> 1) + 0x07800000u) + base);
    uint32_t nonsign = ((bits >> 13) & 0x00007C00u) + (bits & 0x00000FFFu);
    return (lr_half)((sign >> 16) | (shl1_w > 0xFF000000u ? 0x7E00u : nonsign));
}

/* Exactly 32 contiguous halves to floats and back (the lane loops' step):
 * F16C or AVX-512 instructions where the build has them. */
static inline void lr_load32_half(const lr_half* src, float* dst) {
#if defined(__AVX512F__)
    for (int i = 0; i < 32; i += 16)
        _mm512_storeu_ps(dst + i, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i*)(src + i))));
#elif defined(__F16C__)
    for (int i = 0; i < 32; i += 8)
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)(src + i))));
#else
    for (int i = 0; i < 32; i++) dst[i] = lr_half_to_float(src[i]);
#endif
}

static inline void lr_store32_half(const float* src, lr_half* dst) {
#if defined(__AVX512F__)
    for (int i = 0; i < 32; i += 16)
        _mm256_storeu_si256((__m256i*)(dst + i),
                            _mm512_cvtps_ph(_mm512_loadu_ps(src + i),
                                            _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
#elif defined(__F16C__)
    for (int i = 0; i < 32; i += 8)
        _mm_storeu_si128((__m128i*)(dst + i),
                         _mm256_cvtps_ph(_mm256_loadu_ps(src + i),
                                         _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
#else
    for (int i = 0; i < 32; i++) dst[i] = lr_float_to_half(src[i]);
#endif
}

/* Blocks of n halves to floats and back, src or dst with an element stride. */
static inline void lr_load_half(const lr_half* src, ptrdiff_t stride, float* dst, ptrdiff_t n) {
    ptrdiff_t i = 0;
    if (stride == 1)
        for (; i + 32 <= n; i += 32) lr_load32_half(src + i, dst + i);
    for (; i < n; i++) dst[i] = lr_half_to_float(src[i * stride]);
}

static inline void lr_store_half(const float* src, lr_half* dst, ptrdiff_t stride, ptrdiff_t n) {
    ptrdiff_t i = 0;
    if (stride == 1)
        for (; i + 32 <= n; i += 32) lr_store32_half(src + i, dst + i);
    for (; i < n; i++) dst[i * stride] = lr_float_to_half(src[i]);
}

typedef uint16_t lr_bf16;

static inline float lr_bf16_to_float(lr_bf16 b) {
    return lr_f32_from_bits((uint32_t)b << 16);
}

static inline lr_bf16 lr_float_to_bf16(float f) {
    uint32_t u = lr_f32_bits(f);
    uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
    uint32_t quiet_nan = (u >> 16) | 0x40u;
    return (lr_bf16)((u & 0x7fffffffu) > 0x7f800000u ? quiet_nan : rounded);
}

/* The same for bfloat16: plain loops, which compilers vectorise at unit
 * stride (a shift in; integer rounding out), and AVX-512BW for the latter. */
static inline void lr_load32_bf16(const lr_bf16* src, float* dst) {
    for (int i = 0; i < 32; i++) dst[i] = lr_bf16_to_float(src[i]);
}

#if defined(__AVX512BW__)
/* lr_float_to_bf16 on 16 lanes, the result in each lane's high half. */
static inline __m512i lr_bf16_round16(__m512 v) {
    __m512i u = _mm512_castps_si512(v);
    __m512i odd = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
    __m512i rounded = _mm512_add_epi32(_mm512_add_epi32(u, _mm512_set1_epi32(0x7fff)), odd);
    __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    return _mm512_mask_or_epi32(rounded, nan, u, _mm512_set1_epi32(0x00400000));
}
#endif

static inline void lr_store32_bf16(const float* src, lr_bf16* dst) {
#if defined(__AVX512BW__)
    /* GCC's own vectorisation of the loop below takes half again as many
     * instructions; bfloat16 is bound by them, not by memory. */
    static const uint16_t odd_words[32] = {
        1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31,
        33, 35, 37, 39, 41, 43, 45, 47, 49, 51, 53, 55, 57, 59, 61, 63};
    const __m512i high_halves = _mm512_loadu_si512((const void*)odd_words);
    __m512i lo = lr_bf16_round16(_mm512_loadu_ps(src));
    __m512i hi = lr_bf16_round16(_mm512_loadu_ps(src + 16));
    _mm512_storeu_si512((void*)dst, _mm512_permutex2var_epi16(lo, high_halves, hi));
#else
    for (int i = 0; i < 32; i++) dst[i] = lr_float_to_bf16(src[i]);
#endif
}

static inline void lr_load_bf16(const lr_bf16* src, ptrdiff_t stride, float* dst, ptrdiff_t n) {
    for (ptrdiff_t i = 0; i < n; i++) dst[i] = lr_bf16_to_float(src[i * stride]);
}

static inline void lr_store_bf16(const float* src, lr_bf16* dst, ptrdiff_t stride, ptrdiff_t n) {
    for (ptrdiff_t i = 0; i < n; i++) dst[i * stride] = lr_float_to_bf16(src[i]);
}

#endif
