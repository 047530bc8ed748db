/* Non-temporal ("streaming") stores for outputs far beyond the caches.
 *
 * A normal store first reads its cache line from memory (read for
 * ownership), so an out-of-place loop moves three bytes for every two a copy
 * needs; streaming stores write whole lines past the caches, as memcpy does
 * for large copies. Used for memory-bound kernels' outputs from
 * lr_stream_threshold() on (smaller ones are worth keeping in the cache;
 * see docs/performance.md). Stores are fenced at the end of each thread's part.
 */
#ifndef LEAKYRELU_STREAM_H
#define LEAKYRELU_STREAM_H

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#include "_cpu.h"
#if defined(__linux__)
#include <unistd.h>
#endif
#if defined(__SSE2__) || defined(_M_X64)
#include <emmintrin.h>
#define LR_STREAM_X86 1
#endif
#if defined(__AVX__) || defined(__AVX512F__)
#include <immintrin.h>
#endif

/* The size of the level-`level` cache that CPU 0 sees, from sysfs, or 0.
 * (glibc's sysconf reports the sum of every L3 of the package on AMD: 320
 * MB on a Zen 4 EPYC whose cores share 32 MB.) */
static inline long lr_sysfs_cache_bytes(int level) {
#if defined(__linux__)
    char path[96];
    for (int index = 0; index < 8; index++) {
        int found_level = 0;
        long size = 0;
        char unit = 0;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/level", index);
        FILE* f = fopen(path, "r");
        if (f == NULL)
            return 0;
        int ok = fscanf(f, "%d", &found_level) == 1;
        fclose(f);
        if (!ok || found_level != level)
            continue;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/size", index);
        f = fopen(path, "r");
        if (f == NULL)
            return 0;
        ok = fscanf(f, "%ld%c", &size, &unit) >= 1;
        fclose(f);
        if (!ok)
            return 0;
        return unit == 'K' ? size << 10 : unit == 'M' ? size << 20 : size;
    }
#endif
    (void)level;
    return 0;
}

static inline ptrdiff_t lr_stream_forced(void) {
    /* LEAKYRELU_STREAM_BYTES, when set to a positive number of bytes; else 0. */
    const char* forced = getenv("LEAKYRELU_STREAM_BYTES");
    if (forced != NULL && *forced != '\0') {
        char* end;
        long long bytes = strtoll(forced, &end, 10);
        if (*end == '\0' && bytes > 0)
            return (ptrdiff_t)bytes;
    }
    return 0;
}

/* Bytes of output from which one thread's loops stream: LEAKYRELU_STREAM_BYTES where
 * set; else, on AMD, half the last-level cache (a Zen 4 L3 takes an input
 * and an output that fit in it at copy speed: streaming from 4 MB cost
 * 1.4-1.7x np.copyto up to 8 MB there, and won from 16 MB on); elsewhere
 * a quarter of it, but no more than four times the L2 (a shared L3 is not
 * ours alone: on a 2 MB-L2, 105 MB-L3 Xeon VM, streaming wins from 8 MB
 * on); at least 4 MiB; without cache sizes, 8 MiB. */
static inline ptrdiff_t lr_stream_threshold(void) {
    ptrdiff_t forced = lr_stream_forced();
    if (forced > 0)
        return forced;
    long l3 = lr_sysfs_cache_bytes(3), l2 = lr_sysfs_cache_bytes(2);
#if defined(__linux__) && defined(_SC_LEVEL3_CACHE_SIZE)
    if (l3 <= 0)
        l3 = sysconf(_SC_LEVEL3_CACHE_SIZE);
    if (l2 <= 0)
        l2 = sysconf(_SC_LEVEL2_CACHE_SIZE);
#endif
    ptrdiff_t threshold = (ptrdiff_t)8 << 20;
    if (l3 > 0 && lr_amd())
        threshold = (ptrdiff_t)l3 / 2;
    else {
        if (l3 > 0)
            threshold = (ptrdiff_t)l3 / 4;
        if (l2 > 0 && threshold > (ptrdiff_t)l2 * 4)
            threshold = (ptrdiff_t)l2 * 4;
    }
    return threshold < ((ptrdiff_t)4 << 20) ? (ptrdiff_t)4 << 20 : threshold;
}

/* The most `threshold` (lr_stream_threshold's) grows to with more threads:
 * each thread adds cache bandwidth, not memory write bandwidth. On AMD, the
 * whole L3 (on a Zen 4 EPYC with 32 MB, 2 threads, normal stores took
 * 0.5-0.6x the time of streaming ones at 16 MB, 0.75-0.8x at 24 MB, the same
 * at 32 MB, 1.2x at 48 MB); elsewhere, unmeasured, the threshold itself. */
static inline ptrdiff_t lr_stream_cap(ptrdiff_t threshold) {
    if (lr_stream_forced() > 0)
        return threshold;   /* the same at every thread count */
    long l3 = lr_sysfs_cache_bytes(3);
    return l3 > threshold && lr_amd() ? (ptrdiff_t)l3 : threshold;
}

#define LR_STREAM(NAME, T, VEC, LOAD, STORE, WIDTH)                                    \
static inline void lr_stream_##NAME(const T* src, T* dst, ptrdiff_t n) {              \
    /* Elements before dst's first vector boundary are stored as usual. */             \
    ptrdiff_t i = 0, skew = (ptrdiff_t)((uintptr_t)dst % sizeof(VEC));                \
    if (skew % (ptrdiff_t)sizeof(T) == 0) {                                            \
        i = skew ? ((ptrdiff_t)sizeof(VEC) - skew) / (ptrdiff_t)sizeof(T) : 0;         \
        i = i < n ? i : n;                                                             \
        memcpy(dst, src, (size_t)i * sizeof(T));                                       \
        for (; i + WIDTH <= n; i += WIDTH) STORE(dst + i, LOAD(src + i));              \
    }                                                                                  \
    memcpy(dst + i, src + i, (size_t)(n - i) * sizeof(T));                             \
}

#if defined(__AVX512F__)
LR_STREAM(f32, float, __m512, _mm512_loadu_ps, _mm512_stream_ps, 16)
LR_STREAM(f64, double, __m512d, _mm512_loadu_pd, _mm512_stream_pd, 8)
#elif defined(__AVX__)
LR_STREAM(f32, float, __m256, _mm256_loadu_ps, _mm256_stream_ps, 8)
LR_STREAM(f64, double, __m256d, _mm256_loadu_pd, _mm256_stream_pd, 4)
#elif defined(LR_STREAM_X86)
LR_STREAM(f32, float, __m128, _mm_loadu_ps, _mm_stream_ps, 4)
LR_STREAM(f64, double, __m128d, _mm_loadu_pd, _mm_stream_pd, 2)
#else
static inline void lr_stream_f32(const float* src, float* dst, ptrdiff_t n) {
    memcpy(dst, src, (size_t)n * sizeof(float));
}
static inline void lr_stream_f64(const double* src, double* dst, ptrdiff_t n) {
    memcpy(dst, src, (size_t)n * sizeof(double));
}
#endif

/* Ask for the lines of [start, start + nbytes) to be read into the cache. */
static inline void lr_prefetch_lines(const void* start, ptrdiff_t nbytes) {
    const char* c = (const char*)start;
    for (ptrdiff_t i = 0; i < nbytes; i += 64) {
#if defined(__GNUC__)
        __builtin_prefetch(c + i, 0, 3);
#elif defined(LR_STREAM_X86)
        _mm_prefetch(c + i, _MM_HINT_T0);
#else
        (void)c;
#endif
    }
}

/* In-place loops beyond the caches ask for the line LR_PREFETCH_AHEAD bytes
 * on as they reach each line: with the hardware prefetcher alone, relu in
 * place on 16M float32 elements took 1.08 x the time (docs/performance.md).
 * A prefetch never faults, past the array's end included. */
#define LR_PREFETCH_AHEAD 4096
static inline void lr_prefetch_ahead(const void* at) {
    lr_prefetch_lines((const char*)at + LR_PREFETCH_AHEAD, 1);
}

/* Streaming stores are weakly ordered: fence them before anyone reads. */
static inline void lr_stream_done(void) {
#if defined(LR_STREAM_X86)
    _mm_sfence();
#endif
}

#endif
