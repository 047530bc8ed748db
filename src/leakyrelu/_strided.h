/* Gathering a strided run into a contiguous block, and scattering one back.
 *
 * The array loops do their math on contiguous blocks, where it vectorises.
 * With AVX-512, a stride of two elements (every other column, interleaved
 * data) is two loads and a permute in, a permute and a masked store out. A
 * masked store writes only its own elements, so the elements in between,
 * which may belong to another thread, are never touched. A stride of -1 (a
 * reversed view) is a load and a permute either way. Other strides are
 * gathered by the hardware gather (about 1.2x faster than element by element
 * at stride 3) and scattered element by element.
 */
#ifndef LEAKYRELU_STRIDED_H
#define LEAKYRELU_STRIDED_H

#include <stddef.h>
#include <stdint.h>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#define LR_STRIDED(NAME, T)                                                           \
static inline void lr_gather_##NAME(const T* src, ptrdiff_t stride, T* dst, ptrdiff_t n) { \
    for (ptrdiff_t i = 0; i < n; i++) dst[i] = src[i * stride];                       \
}                                                                                     \
static inline void lr_scatter_##NAME(const T* src, T* dst, ptrdiff_t stride, ptrdiff_t n) { \
    for (ptrdiff_t i = 0; i < n; i++) dst[i * stride] = src[i];                       \
}
LR_STRIDED(any_f32, float)
LR_STRIDED(any_f64, double)

#if defined(__AVX512F__)
/* The hardware gather takes 32-bit element offsets: stride * (lanes - 1) must fit. */
#define LR_GATHERABLE(stride, lanes) \
    ((stride) != 1 && (stride) > -(INT32_MAX / (lanes)) && (stride) < INT32_MAX / (lanes))
static inline __m512i lr_count16(void) {
    return _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
}
static inline __m512i lr_reverse16(void) {
    return _mm512_setr_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
}
static inline __m512i lr_reverse8(void) { return _mm512_setr_epi64(7, 6, 5, 4, 3, 2, 1, 0); }
#endif

static inline void lr_gather_f32(const float* src, ptrdiff_t stride, float* dst, ptrdiff_t n) {
    ptrdiff_t i = 0;
#if defined(__AVX512F__)
    if (stride == 2) {
        const __m512i evens = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14,
                                                16, 18, 20, 22, 24, 26, 28, 30);
        for (; i + 16 <= n; i += 16) {
            /* The second load ends at the last element read (2i + 30), not past it. */
            __m512 lo = _mm512_loadu_ps(src + 2 * i);
            __m512 hi = _mm512_maskz_loadu_ps(0x7fff, src + 2 * i + 16);
            _mm512_storeu_ps(dst + i, _mm512_permutex2var_ps(lo, evens, hi));
        }
    } else if (stride == -1) {
        for (; i + 16 <= n; i += 16)
            _mm512_storeu_ps(dst + i, _mm512_permutexvar_ps(lr_reverse16(),
                                                            _mm512_loadu_ps(src - i - 15)));
    } else if (LR_GATHERABLE(stride, 16)) {
        const __m512i at = _mm512_mullo_epi32(lr_count16(), _mm512_set1_epi32((int)stride));
        for (; i + 16 <= n; i += 16)
            _mm512_storeu_ps(dst + i, _mm512_i32gather_ps(at, src + i * stride, 4));
    }
#endif
    lr_gather_any_f32(src + i * stride, stride, dst + i, n - i);
}

static inline void lr_scatter_f32(const float* src, float* dst, ptrdiff_t stride, ptrdiff_t n) {
    ptrdiff_t i = 0;
#if defined(__AVX512F__)
    if (stride == 2) {
        const __m512i spread = _mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3,
                                                 4, 4, 5, 5, 6, 6, 7, 7);
        for (; i + 16 <= n; i += 16) {
            __m512 v = _mm512_loadu_ps(src + i);
            __m512 lo = _mm512_permutexvar_ps(spread, v);
            __m512 hi = _mm512_permutexvar_ps(spread, _mm512_shuffle_f32x4(v, v, 0xEE));
            _mm512_mask_storeu_ps(dst + 2 * i, 0x5555, lo);
            _mm512_mask_storeu_ps(dst + 2 * i + 16, 0x5555, hi);
        }
    } else if (stride == -1) {
        for (; i + 16 <= n; i += 16)
            _mm512_storeu_ps(dst - i - 15, _mm512_permutexvar_ps(lr_reverse16(),
                                                                _mm512_loadu_ps(src + i)));
    }
#endif
    lr_scatter_any_f32(src + i, dst + i * stride, stride, n - i);
}

static inline void lr_gather_f64(const double* src, ptrdiff_t stride, double* dst, ptrdiff_t n) {
    ptrdiff_t i = 0;
#if defined(__AVX512F__)
    if (stride == 2) {
        const __m512i evens = _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14);
        for (; i + 8 <= n; i += 8) {
            __m512d lo = _mm512_loadu_pd(src + 2 * i);
            __m512d hi = _mm512_maskz_loadu_pd(0x7f, src + 2 * i + 8);
            _mm512_storeu_pd(dst + i, _mm512_permutex2var_pd(lo, evens, hi));
        }
    } else if (stride == -1) {
        for (; i + 8 <= n; i += 8)
            _mm512_storeu_pd(dst + i, _mm512_permutexvar_pd(lr_reverse8(),
                                                            _mm512_loadu_pd(src - i - 7)));
    } else if (LR_GATHERABLE(stride, 8)) {
        const __m256i at = _mm256_mullo_epi32(_mm512_castsi512_si256(lr_count16()),
                                              _mm256_set1_epi32((int)stride));
        for (; i + 8 <= n; i += 8)
            _mm512_storeu_pd(dst + i, _mm512_i32gather_pd(at, src + i * stride, 8));
    }
#endif
    lr_gather_any_f64(src + i * stride, stride, dst + i, n - i);
}

static inline void lr_scatter_f64(const double* src, double* dst, ptrdiff_t stride, ptrdiff_t n) {
    ptrdiff_t i = 0;
#if defined(__AVX512F__)
    if (stride == 2) {
        const __m512i spread = _mm512_setr_epi64(0, 0, 1, 1, 2, 2, 3, 3);
        for (; i + 8 <= n; i += 8) {
            __m512d v = _mm512_loadu_pd(src + i);
            __m512d lo = _mm512_permutexvar_pd(spread, v);
            __m512d hi = _mm512_permutexvar_pd(spread, _mm512_shuffle_f64x2(v, v, 0xEE));
            _mm512_mask_storeu_pd(dst + 2 * i, 0x55, lo);
            _mm512_mask_storeu_pd(dst + 2 * i + 8, 0x55, hi);
        }
    } else if (stride == -1) {
        for (; i + 8 <= n; i += 8)
            _mm512_storeu_pd(dst - i - 7, _mm512_permutexvar_pd(lr_reverse8(),
                                                               _mm512_loadu_pd(src + i)));
    }
#endif
    lr_scatter_any_f64(src + i, dst + i * stride, stride, n - i);
}

#endif
