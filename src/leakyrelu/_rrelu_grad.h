/* rrelu's training gradient on one whole block of 2 * LR_RRELU_HALF
 * float32 elements in AVX-512 (float32 and float64 in AVX2): the hashes,
 * slopes and leaky_relu_grad of _math.pxd's rrelu_hash, rrelu_low_bits,
 * rrelu_high_bits, rrelu_grid_slope and leaky_relu_grad, the same bits. GCC's loop for it was
 * bound by its arithmetic at two threads (not by memory), and spent two
 * instructions per 16 elements on the NaN that lr_leaky_grad_f does in one
 * (docs/performance.md). out may be g or x itself: each vector is loaded
 * before the one at its place is stored. Where `stream` is set and out is
 * 32-byte aligned, the AVX2 blocks store past the caches (the caller fences).
 * Where out is apart from x, the AVX2 blocks leave the NaN rule to the end
 * of the block (lr_put_nans_f / _d: a compare and a blend fewer per vector).
 * Returns 0 where a build has no block for the dtype; the caller's loop then
 * does the work. */
#ifndef LEAKYRELU_RRELU_GRAD_H
#define LEAKYRELU_RRELU_GRAD_H
#include <stdint.h>
#include "_leaky_grad.h"
#include "_stream.h"

/* Half a block: hash k of a block serves elements k and LR_RRELU_HALF + k. */
#define LR_RRELU_HALF 64
/* The hash's multipliers (rrelu_hash, mix32). */
#define LR_MIX_MUL1 0x7feb352du
#define LR_MIX_MUL2 0x846ca68bu

#if defined(__AVX512F__)
#include <immintrin.h>

static inline __m512 lr_grid_slope_f(__m512i bits16, __m512 lower, __m512 step) {
    return _mm512_add_ps(lower, _mm512_mul_ps(step, _mm512_cvtepi32_ps(bits16)));
}

static inline int lr_rrelu_grad_block_f(const float* g, const float* x, float* out,
                                        uint32_t number, uint32_t constant,
                                        uint32_t key1_high, float lower, float step,
                                        int stream) {
    (void)stream;   /* normal stores: streaming them was measured on AVX2 CPUs only */
    const __m512i lanes = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    const __m512 lower_v = _mm512_set1_ps(lower), step_v = _mm512_set1_ps(step);
    for (int k = 0; k < LR_RRELU_HALF; k += 16) {
        /* Hashes number + k .. number + k + 15, as rrelu_hash. */
        __m512i h = _mm512_add_epi32(_mm512_set1_epi32((int)(number + (uint32_t)k)), lanes);
        h = _mm512_xor_si512(h, _mm512_set1_epi32((int)constant));
        h = _mm512_mullo_epi32(h, _mm512_set1_epi32((int)LR_MIX_MUL1));
        h = _mm512_xor_si512(h, _mm512_set1_epi32((int)key1_high));
        h = _mm512_xor_si512(h, _mm512_srli_epi32(h, 15));
        h = _mm512_mullo_epi32(h, _mm512_set1_epi32((int)LR_MIX_MUL2));
        __m512i high = _mm512_srli_epi32(h, 16);
        /* (h ^ high) & 0xFFFF in one ternary-logic instruction. */
        __m512i low = _mm512_ternarylogic_epi32(h, high, _mm512_set1_epi32(0xFFFF), 0x28);
        __m512 x0 = _mm512_loadu_ps(x + k), g0 = _mm512_loadu_ps(g + k);
        __m512 x1 = _mm512_loadu_ps(x + LR_RRELU_HALF + k);
        __m512 g1 = _mm512_loadu_ps(g + LR_RRELU_HALF + k);
        _mm512_storeu_ps(out + k, lr_leaky_grad_f(g0, x0, lr_sloped_f(x0),
                                                  lr_grid_slope_f(low, lower_v, step_v)));
        _mm512_storeu_ps(out + LR_RRELU_HALF + k,
                         lr_leaky_grad_f(g1, x1, lr_sloped_f(x1),
                                         lr_grid_slope_f(high, lower_v, step_v)));
    }
    return 1;
}
#elif defined(__AVX2__)
#include <immintrin.h>

/* The lines LR_PREFETCH_AHEAD on in g and x, asked for at each line:
 * beyond the caches the block otherwise waits on them (1M float32
 * elements, 1 thread: 1.07 ms without, 0.90 with; docs/performance.md). */
static inline void lr_rrelu_prefetch(const void* g, const void* x) {
    lr_prefetch_ahead(g);
    lr_prefetch_ahead(x);
}

/* The same in AVX2: the block's 64 hashes first, then the two halves
 * (GCC's loop, one vector of hashes per step of the low half, took 42 us
 * for 64K float32 elements on Zen 1, this 38 us; docs/performance.md). */
static inline __m256 lr_grid_slope8_f(__m256i bits16, __m256 lower, __m256 step) {
    return _mm256_add_ps(lower, _mm256_mul_ps(step, _mm256_cvtepi32_ps(bits16)));
}

/* With nan_later, grad without the NaN rule, and x summed into *seen. */
static inline __attribute__((always_inline)) void lr_rrelu_grad_half8_f(
        const float* g, const float* x, float* out, const __m256i* bits, __m256 lower,
        __m256 step, int stream, int nan_later, __m256* seen) {
    for (int k = 0; k < LR_RRELU_HALF; k += 8) {
        if (k % 16 == 0)
            lr_rrelu_prefetch(g + k, x + k);
        __m256 xv = _mm256_loadu_ps(x + k), gv = _mm256_loadu_ps(g + k);
        __m256 slope = lr_grid_slope8_f(bits[k / 8], lower, step);
        __m256 grad = nan_later ? lr_sloped_grad8_f(gv, lr_positive8_f(xv), slope)
                                : lr_leaky_grad8_f(gv, xv, lr_positive8_f(xv), slope);
        *seen = _mm256_add_ps(*seen, xv);
        if (stream)
            _mm256_stream_ps(out + k, grad);
        else
            _mm256_storeu_ps(out + k, grad);
    }
}

/* The block's 64 hashes, as rrelu_hash: each one's low and high 16 bits. */
static inline void lr_rrelu_draws(uint32_t number, uint32_t constant, uint32_t key1_high,
                                  __m256i* low, __m256i* high) {
    const __m256i lanes = _mm256_set_epi32(7, 6, 5, 4, 3, 2, 1, 0);
    for (int k = 0; k < LR_RRELU_HALF; k += 8) {
        /* Hashes number + k .. number + k + 7, as rrelu_hash. */
        __m256i h = _mm256_add_epi32(_mm256_set1_epi32((int)(number + (uint32_t)k)), lanes);
        h = _mm256_xor_si256(h, _mm256_set1_epi32((int)constant));
        h = _mm256_mullo_epi32(h, _mm256_set1_epi32((int)LR_MIX_MUL1));
        h = _mm256_xor_si256(h, _mm256_set1_epi32((int)key1_high));
        h = _mm256_xor_si256(h, _mm256_srli_epi32(h, 15));
        h = _mm256_mullo_epi32(h, _mm256_set1_epi32((int)LR_MIX_MUL2));
        high[k / 8] = _mm256_srli_epi32(h, 16);
        low[k / 8] = _mm256_and_si256(_mm256_xor_si256(h, high[k / 8]),
                                      _mm256_set1_epi32(0xFFFF));
    }
}

/* float64: each vector of eight 16-bit draws makes two vectors of slopes. */
static inline __attribute__((always_inline)) void lr_rrelu_grad4_d(
        const double* g, const double* x, double* out, __m128i draws, __m256d lower,
        __m256d step, int stream, int nan_later, __m256d* seen) {
    __m256d slope = _mm256_add_pd(lower, _mm256_mul_pd(step, _mm256_cvtepi32_pd(draws)));
    __m256d xv = _mm256_loadu_pd(x), gv = _mm256_loadu_pd(g);
    __m256d grad = nan_later ? lr_sloped_grad4_d(gv, lr_positive4_d(xv), slope)
                             : lr_leaky_grad4_d(gv, xv, lr_positive4_d(xv), slope);
    *seen = _mm256_add_pd(*seen, xv);
    if (stream)
        _mm256_stream_pd(out, grad);
    else
        _mm256_storeu_pd(out, grad);
}

static inline __attribute__((always_inline)) void lr_rrelu_grad_half4_d(
        const double* g, const double* x, double* out, const __m256i* bits, __m256d lower,
        __m256d step, int stream, int nan_later, __m256d* seen) {
    /* Not unrolled: unrolled, it took 1.5 ms for 1M elements, 1.25 ms so. */
#pragma GCC unroll 1
    for (int k = 0; k < LR_RRELU_HALF; k += 8) {   /* a line, a vector of draws */
        lr_rrelu_prefetch(g + k, x + k);
        lr_rrelu_grad4_d(g + k, x + k, out + k, _mm256_castsi256_si128(bits[k / 8]), lower,
                         step, stream, nan_later, seen);
        lr_rrelu_grad4_d(g + k + 4, x + k + 4, out + k + 4,
                         _mm256_extracti128_si256(bits[k / 8], 1), lower, step, stream,
                         nan_later, seen);
    }
}

/* A whole block: its 64 hashes, then the two halves; where out is apart
 * from x, the NaN rule after them. */
#define LR_RRELU_GRAD_BLOCK(SUFFIX, T, VEC, HALF, SET1, ZERO, HAS_NAN)                       \
static inline __attribute__((always_inline)) void lr_rrelu_grad_halves_##SUFFIX(            \
        const T* g, const T* x, T* out, const __m256i* low, const __m256i* high, VEC lower,  \
        VEC step, int stream, int nan_later, VEC* seen) {                                    \
    HALF(g, x, out, low, lower, step, stream, nan_later, seen);                              \
    HALF(g + LR_RRELU_HALF, x + LR_RRELU_HALF, out + LR_RRELU_HALF, high, lower, step,       \
         stream, nan_later, seen);                                                           \
}                                                                                            \
                                                                                             \
static inline int lr_rrelu_grad_block_##SUFFIX(const T* g, const T* x, T* out,               \
                                               uint32_t number, uint32_t constant,           \
                                               uint32_t key1_high, T lower, T step,          \
                                               int stream) {                                 \
    __m256i low[LR_RRELU_HALF / 8], high[LR_RRELU_HALF / 8];                                 \
    lr_rrelu_draws(number, constant, key1_high, low, high);                                  \
    const VEC lower_v = SET1(lower), step_v = SET1(step);                                    \
    stream = stream && ((uintptr_t)out & 31) == 0;                                           \
    VEC seen = ZERO();                                                                       \
    if (lr_apart(out, x, 2 * LR_RRELU_HALF * sizeof(T))) {                                   \
        lr_rrelu_grad_halves_##SUFFIX(g, x, out, low, high, lower_v, step_v, stream, 1,      \
                                      &seen);                                                \
        if (HAS_NAN(seen))                                                                   \
            lr_put_nans_##SUFFIX(x, out, 2 * LR_RRELU_HALF);                                 \
    } else {                                                                                 \
        lr_rrelu_grad_halves_##SUFFIX(g, x, out, low, high, lower_v, step_v, stream, 0,      \
                                      &seen);                                                \
    }                                                                                        \
    return 1;                                                                                \
}
LR_RRELU_GRAD_BLOCK(f, float, __m256, lr_rrelu_grad_half8_f, _mm256_set1_ps, _mm256_setzero_ps,
                    lr_has_nan8_f)
LR_RRELU_GRAD_BLOCK(d, double, __m256d, lr_rrelu_grad_half4_d, _mm256_set1_pd,
                    _mm256_setzero_pd, lr_has_nan4_d)
#undef LR_RRELU_GRAD_BLOCK

#define LR_RRELU_GRAD_BLOCK_D 1
#else
static inline int lr_rrelu_grad_block_f(const float* g, const float* x, float* out,
                                        uint32_t number, uint32_t constant,
                                        uint32_t key1_high, float lower, float step,
                                        int stream) {
    (void)g; (void)x; (void)out; (void)number; (void)constant; (void)key1_high;
    (void)lower; (void)step; (void)stream;
    return 0;
}
#endif
/* float64 blocks in the AVX2 build only (the AVX-512 build's GCC loop met
 * its targets). */
#if !defined(LR_RRELU_GRAD_BLOCK_D)
static inline int lr_rrelu_grad_block_d(const double* g, const double* x, double* out,
                                        uint32_t number, uint32_t constant,
                                        uint32_t key1_high, double lower, double step,
                                        int stream) {
    (void)g; (void)x; (void)out; (void)number; (void)constant; (void)key1_high;
    (void)lower; (void)step; (void)stream;
    return 0;
}
#endif
#endif
