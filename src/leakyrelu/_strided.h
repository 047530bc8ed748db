/* Gathering a strided run into a contiguous block, and scattering one back.
 *
 * The array loops do their math on contiguous blocks, where it vectorises.
 * With AVX-512, a stride of two elements (every other column, interleaved
 * data) is two loads and a permute in, a permute and a masked store out. A
 * masked store writes only its own elements, so the elements in between,
 * which may belong to another thread, are never touched. A stride of -1 (a
 * reversed view) is a load and a permute either way. Other strides move
 * each element into or out of its lane of a 128-bit register, and the
 * registers to or from the block whole: element by element through memory,
 * every element was stored twice, and the stores bound the loop (in place at
 * stride 3: 3.6x NumPy's own strided loop on Zen 4). The hardware gather is
 * slower still there (2.5 cycles an element). With AVX2 only, stride 2 is
 * gathered by two loads and two shuffles (but scattered through 128-bit
 * registers: AVX2 has no cheap masked store) and -1 reversed both ways.
 */
#ifndef LEAKYRELU_STRIDED_H
#define LEAKYRELU_STRIDED_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#if defined(__AVX512F__) || defined(__SSE4_1__) || defined(__AVX__)
#include <immintrin.h>
#endif
#include "_stream.h"

#define LR_STRIDED(NAME, T)                                                           \
static inline void lr_gather_##NAME(const T* src, ptrdiff_t stride, T* dst, ptrdiff_t n) { \
    for (ptrdiff_t i = 0; i < n; i++) dst[i] = src[i * stride];                       \
}                                                                                     \
static inline void lr_scatter_##NAME(const T* src, T* dst, ptrdiff_t stride, ptrdiff_t n) { \
    for (ptrdiff_t i = 0; i < n; i++) dst[i * stride] = src[i];                       \
}
LR_STRIDED(one_f32, float)
LR_STRIDED(one_f64, double)

/* Any stride, four floats or two doubles per 128-bit register. */
#if defined(__SSE4_1__) || defined(__AVX__)
static inline void lr_gather_any_f32(const float* src, ptrdiff_t stride, float* dst, ptrdiff_t n) {
    ptrdiff_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const float* p = src + i * stride;
        __m128 v = _mm_load_ss(p);
        v = _mm_insert_ps(v, _mm_load_ss(p + stride), 0x10);
        v = _mm_insert_ps(v, _mm_load_ss(p + 2 * stride), 0x20);
        v = _mm_insert_ps(v, _mm_load_ss(p + 3 * stride), 0x30);
        _mm_storeu_ps(dst + i, v);
    }
    lr_gather_one_f32(src + i * stride, stride, dst + i, n - i);
}

static inline void lr_scatter_any_f32(const float* src, float* dst, ptrdiff_t stride, ptrdiff_t n) {
    ptrdiff_t i = 0;
    for (; i + 4 <= n; i += 4) {
        float* p = dst + i * stride;
        __m128 v = _mm_loadu_ps(src + i);
        _mm_store_ss(p, v);
        _mm_store_ss(p + stride, _mm_movehdup_ps(v));
        _mm_store_ss(p + 2 * stride, _mm_movehl_ps(v, v));
        _mm_store_ss(p + 3 * stride, _mm_shuffle_ps(v, v, 3));
    }
    lr_scatter_one_f32(src + i, dst + i * stride, stride, n - i);
}

static inline void lr_gather_any_f64(const double* src, ptrdiff_t stride, double* dst, ptrdiff_t n) {
    ptrdiff_t i = 0;
    for (; i + 2 <= n; i += 2)
        _mm_storeu_pd(dst + i, _mm_loadh_pd(_mm_load_sd(src + i * stride), src + (i + 1) * stride));
    lr_gather_one_f64(src + i * stride, stride, dst + i, n - i);
}

static inline void lr_scatter_any_f64(const double* src, double* dst, ptrdiff_t stride, ptrdiff_t n) {
    ptrdiff_t i = 0;
    for (; i + 2 <= n; i += 2) {
        __m128d v = _mm_loadu_pd(src + i);
        _mm_store_sd(dst + i * stride, v);
        _mm_storeh_pd(dst + (i + 1) * stride, v);
    }
    lr_scatter_one_f64(src + i, dst + i * stride, stride, n - i);
}
#else
#define lr_gather_any_f32 lr_gather_one_f32
#define lr_scatter_any_f32 lr_scatter_one_f32
#define lr_gather_any_f64 lr_gather_one_f64
#define lr_scatter_any_f64 lr_scatter_one_f64
#endif

#if defined(__AVX512F__)
static inline __m512i lr_reverse16(void) {
    return _mm512_setr_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
}
static inline __m512i lr_reverse8(void) { return _mm512_setr_epi64(7, 6, 5, 4, 3, 2, 1, 0); }
#elif defined(__AVX2__)
static inline __m256 lr_reverse8_f32(__m256 v) {
    return _mm256_permutevar8x32_ps(v, _mm256_setr_epi32(7, 6, 5, 4, 3, 2, 1, 0));
}
static inline __m256d lr_reverse4_f64(__m256d v) {
    return _mm256_permute4x64_pd(v, _MM_SHUFFLE(0, 1, 2, 3));
}
#endif

/* Whether lr_scatter_f32 / _f64 store a run of this stride element by
 * element. Far beyond the caches such runs go through shorter blocks (the
 * walker's scatter_block in _kernels.pyx.tp): the next block's loads then
 * start while the last one's scattered stores still wait on their lines
 * (docs/performance.md). */
static inline int lr_scatters_by_lane(ptrdiff_t stride) {
#if defined(__AVX512F__)
    return stride != 1 && stride != 2 && stride != -1;
#elif defined(__AVX2__)
    return stride != 1 && stride != -1;
#else
    return stride != 1;
#endif
}

static inline void lr_gather_f32(const float* src, ptrdiff_t stride, float* dst, ptrdiff_t n) {
    ptrdiff_t i = 0;
    if (stride == 1) {
        memcpy(dst, src, n * sizeof(*dst));
        return;
    }
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
    }
#elif defined(__AVX2__)
    if (stride == 2) {
        /* The second load starts an element early, so that it ends at the
         * 8th element read, not past it. A line per step, and the line
         * LR_PREFETCH_AHEAD on asked for: in place on base.T[::2] the loop
         * otherwise waited on each (1M float32: 1.12 -> 0.95 ms,
         * docs/performance.md). */
        for (; i + 8 <= n; i += 8) {
            lr_prefetch_ahead(src + 2 * i);
            __m256 evens = _mm256_shuffle_ps(_mm256_loadu_ps(src + 2 * i),
                                             _mm256_loadu_ps(src + 2 * i + 7),
                                             _MM_SHUFFLE(3, 1, 2, 0));
            /* 0 1 4 5 | 2 3 6 7 -> 0 1 2 3 4 5 6 7, by pairs. */
            _mm256_storeu_ps(dst + i, _mm256_castpd_ps(_mm256_permute4x64_pd(
                _mm256_castps_pd(evens), _MM_SHUFFLE(3, 1, 2, 0))));
        }
    } else if (stride == -1) {
        for (; i + 8 <= n; i += 8)
            _mm256_storeu_ps(dst + i, lr_reverse8_f32(_mm256_loadu_ps(src - i - 7)));
    }
#endif
    lr_gather_any_f32(src + i * stride, stride, dst + i, n - i);
}

static inline void lr_scatter_f32(const float* src, float* dst, ptrdiff_t stride, ptrdiff_t n) {
    ptrdiff_t i = 0;
    if (stride == 1) {
        memcpy(dst, src, n * sizeof(*dst));
        return;
    }
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
#elif defined(__AVX2__)
    if (stride == -1) {
        for (; i + 8 <= n; i += 8)
            _mm256_storeu_ps(dst - i - 7, lr_reverse8_f32(_mm256_loadu_ps(src + i)));
    }
#endif
    lr_scatter_any_f32(src + i, dst + i * stride, stride, n - i);
}

static inline void lr_gather_f64(const double* src, ptrdiff_t stride, double* dst, ptrdiff_t n) {
    ptrdiff_t i = 0;
    if (stride == 1) {
        memcpy(dst, src, n * sizeof(*dst));
        return;
    }
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
    }
#elif defined(__AVX2__)
    if (stride == 2) {
        for (; i + 4 <= n; i += 4) {   /* (as float32's, the second load an element early) */
            __m256d evens = _mm256_shuffle_pd(_mm256_loadu_pd(src + 2 * i),
                                              _mm256_loadu_pd(src + 2 * i + 3), 0xA);
            _mm256_storeu_pd(dst + i, _mm256_permute4x64_pd(evens, _MM_SHUFFLE(3, 1, 2, 0)));
        }
    } else if (stride == -1) {
        for (; i + 4 <= n; i += 4)
            _mm256_storeu_pd(dst + i, lr_reverse4_f64(_mm256_loadu_pd(src - i - 3)));
    }
#endif
    lr_gather_any_f64(src + i * stride, stride, dst + i, n - i);
}

static inline void lr_scatter_f64(const double* src, double* dst, ptrdiff_t stride, ptrdiff_t n) {
    ptrdiff_t i = 0;
    if (stride == 1) {
        memcpy(dst, src, n * sizeof(*dst));
        return;
    }
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
#elif defined(__AVX2__)
    if (stride == -1) {
        for (; i + 4 <= n; i += 4)
            _mm256_storeu_pd(dst - i - 3, lr_reverse4_f64(_mm256_loadu_pd(src + i)));
    }
#endif
    lr_scatter_any_f64(src + i, dst + i * stride, stride, n - i);
}

#endif
