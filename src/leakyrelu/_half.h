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
#if defined(__AVX512F__) || defined(__F16C__) || defined(__AVX512BW__) || defined(__AVX2__)
#include <immintrin.h>
#endif

typedef uint16_t lr_half;

/* The 32-element conversions of the lane loops, inlined whatever GCC's
 * heuristics say: called out of line, lr_store32_bf16 took the lane loop's
 * floats through memory and set up its constants at each call. */
#if defined(__GNUC__)
#define LR_LANES_INLINE static inline __attribute__((always_inline))
#else
#define LR_LANES_INLINE static inline
#endif

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
LR_LANES_INLINE void lr_load32_half(const lr_half* src, float* dst) {
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

#if defined(__F16C__)
/* 8 floats to float16, rounded to nearest, ties to even. */
static inline __m128i lr_narrow8_half(__m256 v) {
    return _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}
#endif

LR_LANES_INLINE void lr_store32_half(const float* src, lr_half* dst) {
#if defined(__AVX512F__)
    for (int i = 0; i < 32; i += 16)
        _mm256_storeu_si256((__m256i*)(dst + i),
                            _mm512_cvtps_ph(_mm512_loadu_ps(src + i),
                                            _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
#elif defined(__F16C__)
    for (int i = 0; i < 32; i += 8)
        _mm_storeu_si128((__m128i*)(dst + i), lr_narrow8_half(_mm256_loadu_ps(src + i)));
#else
    for (int i = 0; i < 32; i++) dst[i] = lr_float_to_half(src[i]);
#endif
}

/* 32 16-bit elements at a stride of 2 into one register and back, with
 * AVX-512BW: two loads and a permute in, two permutes and two masked stores
 * out, which write only their own elements. In registers, not through a
 * block on the stack: GCC aligns a 64-byte stack array to 64 bytes and
 * stores to it with aligned instructions, which AddressSanitizer's stack
 * does not honour. */
#if defined(__AVX512BW__)
#define LR_U16_BY2 1
static inline __m512i lr_gather32_u16_by2(const uint16_t* src) {
    static const uint16_t evens[32] = {0,  2,  4,  6,  8,  10, 12, 14, 16, 18, 20,
                                       22, 24, 26, 28, 30, 32, 34, 36, 38, 40, 42,
                                       44, 46, 48, 50, 52, 54, 56, 58, 60, 62};
    /* The second load ends at the last element read (62), not past it. */
    __m512i lo = _mm512_loadu_si512((const void*)src);
    __m512i hi = _mm512_maskz_loadu_epi16(0x7fffffffu, src + 32);
    return _mm512_permutex2var_epi16(lo, _mm512_loadu_si512((const void*)evens), hi);
}

static inline void lr_scatter32_u16_by2(__m512i v, uint16_t* dst) {
    static const uint16_t spread[64] = {
        0,  0,  1,  1,  2,  2,  3,  3,  4,  4,  5,  5,  6,  6,  7,  7,
        8,  8,  9,  9,  10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15,
        16, 16, 17, 17, 18, 18, 19, 19, 20, 20, 21, 21, 22, 22, 23, 23,
        24, 24, 25, 25, 26, 26, 27, 27, 28, 28, 29, 29, 30, 30, 31, 31};
    _mm512_mask_storeu_epi16(dst, 0x55555555u,
                             _mm512_permutexvar_epi16(_mm512_loadu_si512((const void*)spread), v));
    _mm512_mask_storeu_epi16(dst + 32, 0x55555555u,
                             _mm512_permutexvar_epi16(
                                 _mm512_loadu_si512((const void*)(spread + 32)), v));
}
#else
#define LR_U16_BY2 0
#endif

/* 8 16-bit elements at any stride into the lanes of a register and back
 * (as _strided.h does for floats: one by one through memory, each element
 * was stored twice). */
#if defined(__F16C__) || defined(__AVX2__)
static inline __m128i lr_gather8_u16(const uint16_t* p, ptrdiff_t stride) {
    __m128i v = _mm_cvtsi32_si128(p[0]);
    v = _mm_insert_epi16(v, p[stride], 1);
    v = _mm_insert_epi16(v, p[2 * stride], 2);
    v = _mm_insert_epi16(v, p[3 * stride], 3);
    v = _mm_insert_epi16(v, p[4 * stride], 4);
    v = _mm_insert_epi16(v, p[5 * stride], 5);
    v = _mm_insert_epi16(v, p[6 * stride], 6);
    return _mm_insert_epi16(v, p[7 * stride], 7);
}

static inline void lr_scatter8_u16(__m128i v, uint16_t* p, ptrdiff_t stride) {
    p[0] = (uint16_t)_mm_extract_epi16(v, 0);
    p[stride] = (uint16_t)_mm_extract_epi16(v, 1);
    p[2 * stride] = (uint16_t)_mm_extract_epi16(v, 2);
    p[3 * stride] = (uint16_t)_mm_extract_epi16(v, 3);
    p[4 * stride] = (uint16_t)_mm_extract_epi16(v, 4);
    p[5 * stride] = (uint16_t)_mm_extract_epi16(v, 5);
    p[6 * stride] = (uint16_t)_mm_extract_epi16(v, 6);
    p[7 * stride] = (uint16_t)_mm_extract_epi16(v, 7);
}
#endif

/* Blocks of n halves to floats and back, src or dst with an element stride:
 * 32 at a time at unit stride and (AVX-512BW) at a stride of 2, 8 at a time
 * at other strides where the build has F16C, the rest one by one (a strided
 * float16 prelu_grad took 15x as long one by one). */
static inline void lr_load_half(const lr_half* src, ptrdiff_t stride, float* dst, ptrdiff_t n) {
    ptrdiff_t i = 0;
    if (stride == 1)
        for (; i + 32 <= n; i += 32) lr_load32_half(src + i, dst + i);
#if LR_U16_BY2
    if (stride == 2)
        for (; i + 32 <= n; i += 32) {
            __m512i h = lr_gather32_u16_by2(src + 2 * i);
            _mm512_storeu_ps(dst + i, _mm512_cvtph_ps(_mm512_castsi512_si256(h)));
            _mm512_storeu_ps(dst + i + 16, _mm512_cvtph_ps(_mm512_extracti64x4_epi64(h, 1)));
        }
#endif
#if defined(__F16C__)
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(lr_gather8_u16(src + i * stride, stride)));
#endif
    for (; i < n; i++) dst[i] = lr_half_to_float(src[i * stride]);
}

static inline void lr_store_half(const float* src, lr_half* dst, ptrdiff_t stride, ptrdiff_t n) {
    ptrdiff_t i = 0;
    if (stride == 1)
        for (; i + 32 <= n; i += 32) lr_store32_half(src + i, dst + i);
#if LR_U16_BY2
    if (stride == 2)
        for (; i + 32 <= n; i += 32) {
            const int nearest = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
            __m256i lo = _mm512_cvtps_ph(_mm512_loadu_ps(src + i), nearest);
            __m256i hi = _mm512_cvtps_ph(_mm512_loadu_ps(src + i + 16), nearest);
            lr_scatter32_u16_by2(_mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1),
                                 dst + 2 * i);
        }
#endif
#if defined(__F16C__)
    for (; i + 8 <= n; i += 8)
        lr_scatter8_u16(lr_narrow8_half(_mm256_loadu_ps(src + i)), dst + i * stride, stride);
#endif
    for (; i < n; i++) dst[i * stride] = lr_float_to_half(src[i]);
}

typedef uint16_t lr_bf16;

/* bfloat16 runs of 32 as pairs of elements in 32-bit lanes: 16 pairs in a
 * 512-bit register, or 8 in each of two 256-bit ones (below). */
#if defined(__AVX512BW__) && defined(__AVX512DQ__)
#define LR_BF16_PAIRS 512
#elif defined(__AVX2__)
#define LR_BF16_PAIRS 256
#else
#define LR_BF16_PAIRS 0
#endif

static inline float lr_bf16_to_float(lr_bf16 b) {
    return lr_f32_from_bits((uint32_t)b << 16);
}

static inline lr_bf16 lr_float_to_bf16(float f) {
    uint32_t u = lr_f32_bits(f);
    uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
    uint32_t quiet_nan = (u >> 16) | 0x40u;
    return (lr_bf16)((u & 0x7fffffffu) > 0x7f800000u ? quiet_nan : rounded);
}

/* The same for bfloat16. Each 32-bit lane of a load holds a pair of
 * elements: a shift widens the even one and a mask the odd one, so the 32
 * floats are the even elements, then the odd ones (lr_bf16_slot gives the
 * element of each), and the store interleaves them back. No instruction
 * crosses 128-bit halves: on Zen 1 the AVX2 build's widening and narrowing
 * in element order (vpmovzxwd, vpermq, a shift each way) made leaky_relu
 * 7.8x the memory reference at 1M elements. Elsewhere plain loops in element
 * order, which compilers vectorise. */
#if LR_BF16_PAIRS
#define lr_bf16_slot(j) ((((j) & 15) << 1) | ((j) >> 4))

LR_LANES_INLINE void lr_load32_bf16(const lr_bf16* src, float* dst) {
#if LR_BF16_PAIRS == 512
    __m512i pairs = _mm512_loadu_si512((const void*)src);
    _mm512_storeu_ps(dst, _mm512_castsi512_ps(_mm512_slli_epi32(pairs, 16)));
    _mm512_storeu_ps(dst + 16, _mm512_castsi512_ps(
        _mm512_and_si512(pairs, _mm512_set1_epi32((int)0xffff0000u))));
#else
    for (int i = 0; i < 16; i += 8) {   /* elements 2i .. 2i + 15 */
        __m256i pairs = _mm256_loadu_si256((const __m256i*)(src + 2 * i));
        _mm256_storeu_ps(dst + i, _mm256_castsi256_ps(_mm256_slli_epi32(pairs, 16)));
        _mm256_storeu_ps(dst + 16 + i, _mm256_castsi256_ps(
            _mm256_and_si256(pairs, _mm256_set1_epi32((int)0xffff0000u))));
    }
#endif
}
#else
#define lr_bf16_slot(j) (j)

LR_LANES_INLINE void lr_load32_bf16(const lr_bf16* src, float* dst) {
    for (int i = 0; i < 32; i++) dst[i] = lr_bf16_to_float(src[i]);
}
#endif
#define lr_half_slot(j) (j)

/* Whether lr_store32_bf16 may round with the AVX512-BF16 instruction
 * (set once at import where the CPU has it; see lr_cpu_avx512bf16). GCC and
 * Clang only: it is emitted as inline assembly, so that the build needs no
 * flag that older CPUs lack. */
#if LR_BF16_PAIRS == 512 && defined(__GNUC__)
#define LR_BF16_NATIVE 1
#else
#define LR_BF16_NATIVE 0
#endif
static int lr_native_bf16 = 0;
static inline void lr_set_native_bf16(int on) { lr_native_bf16 = on; }
static inline int lr_get_native_bf16(void) { return lr_native_bf16; }

#if LR_BF16_PAIRS == 512
/* lr_float_to_bf16 on 16 lanes, the result in each lane's high half. */
static inline __m512i lr_bf16_round16(__m512 v) {
    __m512i u = _mm512_castps_si512(v);
    __m512i odd = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
    __m512i rounded = _mm512_add_epi32(_mm512_add_epi32(u, _mm512_set1_epi32(0x7fff)), odd);
    __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    return _mm512_mask_or_epi32(rounded, nan, u, _mm512_set1_epi32(0x00400000));
}
#endif
#if defined(__AVX2__)
/* lr_float_to_bf16's rounding of finite numbers and infinities on 8 lanes,
 * the result in each lane's high half. The rounding bit is found by a
 * compare, not a shift: on Zen 1 a 256-bit shift takes two cycles of the
 * one pipe that shifts. */
static inline __m256i lr_bf16_round8_high_finite(__m256 v) {
    const __m256i lowest_kept = _mm256_set1_epi32(0x10000);
    __m256i u = _mm256_castps_si256(v);
    /* -1 where that bit is set: subtracting it adds the 1 of a tie to odd */
    __m256i odd = _mm256_cmpeq_epi32(_mm256_and_si256(u, lowest_kept), lowest_kept);
    return _mm256_sub_epi32(_mm256_add_epi32(u, _mm256_set1_epi32(0x7fff)), odd);
}

/* The same with lr_float_to_bf16's NaNs. */
static inline __m256i lr_bf16_round8_high(__m256 v) {
    __m256i quiet_nan = _mm256_or_si256(_mm256_castps_si256(v), _mm256_set1_epi32(0x00400000));
    __m256i nan = _mm256_castps_si256(_mm256_cmp_ps(v, v, _CMP_UNORD_Q));
    return _mm256_blendv_epi8(lr_bf16_round8_high_finite(v), quiet_nan, nan);
}

/* The same, the result in each lane's low half. */
static inline __m256i lr_bf16_round8(__m256 v) {
    return _mm256_srli_epi32(lr_bf16_round8_high(v), 16);
}

/* 16 elements from 8 even and 8 odd floats, each even result shifted into
 * its lane's low half. */
#define LR_BF16_PAIRS8(round, even, odd) \
    _mm256_blend_epi16(_mm256_srli_epi32(round(even), 16), round(odd), 0xAA)
#endif

LR_LANES_INLINE void lr_store32_bf16(const float* src, lr_bf16* dst) {
#if LR_BF16_PAIRS == 256
    /* src: the even elements' floats, then the odd ones' (lr_load32_bf16).
     * NaNs are rare: one test for the 32, then rounding without them (the
     * compare and blend per vector that they take were a third of leaky_relu's
     * time on Zen 1). */
    __m256 even0 = _mm256_loadu_ps(src), even1 = _mm256_loadu_ps(src + 8);
    __m256 odd0 = _mm256_loadu_ps(src + 16), odd1 = _mm256_loadu_ps(src + 24);
    __m256 nan = _mm256_or_ps(_mm256_cmp_ps(even0, odd0, _CMP_UNORD_Q),
                              _mm256_cmp_ps(even1, odd1, _CMP_UNORD_Q));
    if (_mm256_testz_ps(nan, nan)) {
        _mm256_storeu_si256((__m256i*)dst, LR_BF16_PAIRS8(lr_bf16_round8_high_finite, even0, odd0));
        _mm256_storeu_si256((__m256i*)(dst + 16),
                            LR_BF16_PAIRS8(lr_bf16_round8_high_finite, even1, odd1));
    } else {
        _mm256_storeu_si256((__m256i*)dst, LR_BF16_PAIRS8(lr_bf16_round8_high, even0, odd0));
        _mm256_storeu_si256((__m256i*)(dst + 16), LR_BF16_PAIRS8(lr_bf16_round8_high, even1, odd1));
    }
#elif LR_BF16_PAIRS
    /* src: the even elements' floats, then the odd ones' (lr_load32_bf16). */
    const __m512i high_halves = _mm512_set1_epi32((int)0xffff0000u);
    __m512 even = _mm512_loadu_ps(src), odd = _mm512_loadu_ps(src + 16);
    __m512i pairs;
    /* The instruction treats subnormal floats as zero; blocks with one take
     * the integer rounding. */
#if LR_BF16_NATIVE
    if (lr_native_bf16 && !(_mm512_fpclass_ps_mask(even, 0x20) | _mm512_fpclass_ps_mask(odd, 0x20))) {
        static const uint16_t interleave[32] = {
            0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23,
            8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31};
        __m512i packed;   /* even's 16 results, then odd's */
        __asm__("vcvtne2ps2bf16 %2, %1, %0" : "=v"(packed) : "v"(odd), "v"(even));
        pairs = _mm512_permutexvar_epi16(_mm512_loadu_si512((const void*)interleave), packed);
    } else
#endif
    {
        /* Each odd element's high half, each even one's shifted down. */
        pairs = _mm512_ternarylogic_epi32(high_halves, lr_bf16_round16(odd),
                                          _mm512_srli_epi32(lr_bf16_round16(even), 16), 0xCA);
    }
    _mm512_storeu_si512((void*)dst, pairs);
#else
    for (int i = 0; i < 32; i++) dst[i] = lr_float_to_bf16(src[i]);
#endif
}

#if LR_BF16_PAIRS == 512
/* 16 bfloat16s to floats: each is its float's high half. */
static inline __m512 lr_bf16x16_to_float(__m256i h) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}
#endif

/* relu and relu_grad on contiguous float16 or bfloat16 runs, all in the
 * integers of their bits, 16 elements a step (all of n but its last
 * n % 16); they return how many they did, 0 in builds other than AVX2.
 * Their results are an input's own bits or +0, so nothing need be widened
 * or rounded: the lane loops' float path gives the same bits, NaNs quieted
 * (F16C's widening quiets a float16 NaN, lr_float_to_bf16 a bfloat16 one).
 * On Zen 1 the conversions of those loops set their time (docs/performance.md).
 * The callers take relu's only where no subnormal is read as zero (DAZ):
 * there the float compare differs for bfloat16. */
#if defined(__AVX2__) && !defined(__AVX512F__)
#define LR_HALF_BITWISE(SUFFIX, T, INF, QUIET)                                             \
static inline __m256i lr_nan16_##SUFFIX(__m256i v) {                                     \
    return _mm256_cmpgt_epi16(_mm256_and_si256(v, _mm256_set1_epi16(0x7fff)),            \
                              _mm256_set1_epi16(INF));                                   \
}                                                                                        \
/* NaNs quieted, the rest as they are */                                                 \
static inline __m256i lr_quieted16_##SUFFIX(__m256i v) {                                 \
    return _mm256_or_si256(v, _mm256_and_si256(lr_nan16_##SUFFIX(v),                     \
                                               _mm256_set1_epi16(QUIET)));               \
}                                                                                        \
static inline ptrdiff_t lr_relu_run_##SUFFIX(const T* x, T* out, ptrdiff_t n) {          \
    ptrdiff_t whole = n - n % 16;                                                        \
    for (ptrdiff_t i = 0; i < whole; i += 16) {                                          \
        __m256i x16 = _mm256_loadu_si256((const __m256i*)(x + i));                       \
        /* x < 0: the sign bit set, and neither -0 nor a NaN */                          \
        __m256i below = _mm256_andnot_si256(                                             \
            _mm256_or_si256(_mm256_cmpeq_epi16(x16, _mm256_set1_epi16((short)0x8000)),   \
                            lr_nan16_##SUFFIX(x16)),                                     \
            _mm256_cmpgt_epi16(_mm256_setzero_si256(), x16));                            \
        _mm256_storeu_si256((__m256i*)(out + i),                                         \
                            _mm256_andnot_si256(below, lr_quieted16_##SUFFIX(x16)));     \
    }                                                                                    \
    return whole;                                                                        \
}                                                                                        \
static inline ptrdiff_t lr_relu_grad_run_##SUFFIX(const T* g, const T* x, T* out,        \
                                                  ptrdiff_t n) {                         \
    ptrdiff_t whole = n - n % 16;                                                        \
    for (ptrdiff_t i = 0; i < whole; i += 16) {                                          \
        __m256i g16 = _mm256_loadu_si256((const __m256i*)(g + i));                       \
        __m256i x16 = _mm256_loadu_si256((const __m256i*)(x + i));                       \
        /* x > 0 is x > 0 as an int16, NaNs aside; a NaN x gives itself */              \
        __m256i grad = _mm256_and_si256(_mm256_cmpgt_epi16(x16, _mm256_setzero_si256()), \
                                        lr_quieted16_##SUFFIX(g16));                     \
        grad = _mm256_blendv_epi8(grad, lr_quieted16_##SUFFIX(x16), lr_nan16_##SUFFIX(x16)); \
        _mm256_storeu_si256((__m256i*)(out + i), grad);                                  \
    }                                                                                    \
    return whole;                                                                        \
}
LR_HALF_BITWISE(half, lr_half, 0x7c00, 0x0200)
LR_HALF_BITWISE(bf16, lr_bf16, 0x7f80, 0x0040)
#undef LR_HALF_BITWISE
#else
#define LR_HALF_BITWISE(SUFFIX, T)                                                        \
static inline ptrdiff_t lr_relu_run_##SUFFIX(const T* x, T* out, ptrdiff_t n) {          \
    (void)x; (void)out; (void)n;                                                         \
    return 0;                                                                            \
}                                                                                        \
static inline ptrdiff_t lr_relu_grad_run_##SUFFIX(const T* g, const T* x, T* out,        \
                                                  ptrdiff_t n) {                         \
    (void)g; (void)x; (void)out; (void)n;                                                \
    return 0;                                                                            \
}
LR_HALF_BITWISE(half, lr_half)
LR_HALF_BITWISE(bf16, lr_bf16)
#undef LR_HALF_BITWISE
#endif

/* Strided bfloat16 as float16: 32 at a time at a stride of 2 (where the
 * build has AVX-512BW and DQ), 8 at a time at other strides (AVX2), the rest
 * one by one. */
static inline void lr_load_bf16(const lr_bf16* src, ptrdiff_t stride, float* dst, ptrdiff_t n) {
    ptrdiff_t i = 0;
#if LR_BF16_PAIRS == 512
    if (stride == 2)
        for (; i + 32 <= n; i += 32) {
            __m512i h = lr_gather32_u16_by2(src + 2 * i);
            _mm512_storeu_ps(dst + i, lr_bf16x16_to_float(_mm512_castsi512_si256(h)));
            _mm512_storeu_ps(dst + i + 16, lr_bf16x16_to_float(_mm512_extracti64x4_epi64(h, 1)));
        }
#endif
#if defined(__AVX2__)
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(dst + i, _mm256_castsi256_ps(_mm256_slli_epi32(
            _mm256_cvtepu16_epi32(lr_gather8_u16(src + i * stride, stride)), 16)));
#endif
    for (; i < n; i++) dst[i] = lr_bf16_to_float(src[i * stride]);
}

static inline void lr_store_bf16(const float* src, lr_bf16* dst, ptrdiff_t stride, ptrdiff_t n) {
    ptrdiff_t i = 0;
#if LR_BF16_PAIRS == 512
    if (stride == 2)
        for (; i + 32 <= n; i += 32) {
            /* lr_float_to_bf16's rounding, each result in its lane's high half */
            __m256i lo = _mm512_cvtepi32_epi16(
                _mm512_srli_epi32(lr_bf16_round16(_mm512_loadu_ps(src + i)), 16));
            __m256i hi = _mm512_cvtepi32_epi16(
                _mm512_srli_epi32(lr_bf16_round16(_mm512_loadu_ps(src + i + 16)), 16));
            lr_scatter32_u16_by2(_mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1),
                                 dst + 2 * i);
        }
#endif
#if defined(__AVX2__)
    for (; i + 8 <= n; i += 8) {
        __m256i bits = lr_bf16_round8(_mm256_loadu_ps(src + i));
        lr_scatter8_u16(_mm_packus_epi32(_mm256_castsi256_si128(bits),
                                         _mm256_extracti128_si256(bits, 1)),
                        dst + i * stride, stride);
    }
#endif
    for (; i < n; i++) dst[i * stride] = lr_float_to_bf16(src[i]);
}

#endif
