/* The blocks of _math.pxd's prelu_grad_run in AVX-512 (and AVX2, at the
 * end), 32 elements each:
 * grad_x = leaky_relu_grad(g, x, w) (x > 0 ? g : g * w, NaN where x is), and
 * 32 partial sums of prelu_weight_term(x, g) (0 where x > 0, else x * g
 * rounded to x's dtype, then widened), each over every 32nd element in
 * ascending order, as in that loop.
 *
 * The blocks start at grad_x's first cache line (lr_line_head): vectors that
 * split lines cost this loop 15-40% of its time (docs/performance.md). The
 * elements before that line and after the last full block are masked
 * blocks. So the sums come out rotated: lane k sums the elements j with
 * (j - head) % 32 == k. They are added pairwise (k + 16, then k + 8, ...) in
 * registers, as the caller's loop adds its lanes, and that gives the same
 * bits for any rotation of the 32 sums: each step's pairs are a rotation of
 * the step before's, with at most the two operands of an add swapped.
 *
 * Every element of a block is loaded before any is stored, so grad_x may be
 * x or g itself (GCC's loop reloaded the inputs after each store for that).
 * lr_prelu_grad_runs_f/_d return 0 in builds without AVX2, where the
 * caller's loop does the work (the same sums: tests/test_rectifiers.py's
 * test_prelu_grad_same_for_every_kernel_build). */
#ifndef LEAKYRELU_PRELU_GRAD_H
#define LEAKYRELU_PRELU_GRAD_H
#include <stddef.h>
#include <stdint.h>
#include "_cpu.h"
#include "_leaky_grad.h"
/* GCC and Clang only: the blocks rely on their inline asm and attributes. */
#if defined(__AVX512F__) && defined(__GNUC__)
#include <immintrin.h>

/* Inlined whatever GCC's heuristics say: the partial sums must stay in
 * registers (out of line, they went through the stack at every block). */
#define LR_INLINE static inline __attribute__((always_inline))

/* The 32 partial sums (or one block's terms) as four vectors, s[i] lane j
 * holding the element at block position 8 * i + j. */
typedef struct { __m512d s[4]; } lr_lanes32;

/* Written out, not as loops over s: a loop over s, not unrolled at -O2,
 * kept the struct in memory. */
LR_INLINE lr_lanes32 lr_zero_lanes(void) {
    lr_lanes32 v = {{_mm512_setzero_pd(), _mm512_setzero_pd(), _mm512_setzero_pd(),
                     _mm512_setzero_pd()}};
    return v;
}

/* Terms of masked-off elements are +0.0 (x = g = 0), and a sum that starts
 * at +0.0 never becomes -0.0, so adding them changes nothing. */
LR_INLINE lr_lanes32 lr_add_lanes(lr_lanes32 v, lr_lanes32 t) {
    lr_lanes32 sum = {{_mm512_add_pd(v.s[0], t.s[0]), _mm512_add_pd(v.s[1], t.s[1]),
                       _mm512_add_pd(v.s[2], t.s[2]), _mm512_add_pd(v.s[3], t.s[3])}};
    return sum;
}

/* Only the terms at the block positions in `where` (a block across two
 * runs gives each run its own). */
LR_INLINE __m512d lr_add_where(__m512d v, __m512d t, uint32_t where) {
    return _mm512_mask_add_pd(v, (__mmask8)where, v, t);
}

LR_INLINE lr_lanes32 lr_add_lanes_where(lr_lanes32 v, lr_lanes32 t, uint32_t where) {
    lr_lanes32 sum = {{lr_add_where(v.s[0], t.s[0], where),
                       lr_add_where(v.s[1], t.s[1], where >> 8),
                       lr_add_where(v.s[2], t.s[2], where >> 16),
                       lr_add_where(v.s[3], t.s[3], where >> 24)}};
    return sum;
}

/* lane k + 16, then k + 8, k + 4, k + 2 and k + 1 added to lane k, operands
 * in prelu_grad_run's order. */
LR_INLINE double lr_pairwise_sum(lr_lanes32 v) {
    __m512d half = _mm512_add_pd(_mm512_add_pd(v.s[0], v.s[2]), _mm512_add_pd(v.s[1], v.s[3]));
    __m256d quarter = _mm256_add_pd(_mm512_castpd512_pd256(half),
                                    _mm512_extractf64x4_pd(half, 1));
    __m128d eighth = _mm_add_pd(_mm256_castpd256_pd128(quarter),
                                _mm256_extractf128_pd(quarter, 1));
    return _mm_cvtsd_f64(_mm_add_sd(eighth, _mm_unpackhi_pd(eighth, eighth)));
}

/* The products are formed in two halves, the upper from x_hi and g_hi,
 * the upper halves of x and g loaded again: extracting the upper half of
 * one 16-float product cost a 64K call 4%. */
LR_INLINE __m512 lr_prelu_grad16_f(__m512 x, __m512 g, __m256 x_hi, __m256 g_hi, __m512 w,
                                   __m512d* lo, __m512d* hi) {
    __mmask16 rest = lr_sloped_f(x);
    __m256 lower = _mm256_mul_ps(_mm512_castps512_ps256(x), _mm512_castps512_ps256(g));
    *lo = _mm512_maskz_cvtps_pd((__mmask8)rest, lower);
    *hi = _mm512_maskz_cvtps_pd((__mmask8)(rest >> 8), _mm256_mul_ps(x_hi, g_hi));
    return lr_leaky_grad_f(g, x, rest, w);
}

/* One block at x[0..32) with weight w: grad_x stored, the terms returned.
 * Only the elements in keep are read and written (masked, so the block may
 * reach past the span). */
LR_INLINE lr_lanes32 lr_prelu_grad_part32_f(const float* x, const float* g, float* grad_x,
                                            float w, uint32_t keep) {
    __mmask16 k0 = (__mmask16)keep, k1 = (__mmask16)(keep >> 16);
    __m512 wv = _mm512_set1_ps(w);
    lr_lanes32 t;
    __mmask8 h0 = (__mmask8)(keep >> 8), h1 = (__mmask8)(keep >> 24);
    __m512 r0 = lr_prelu_grad16_f(_mm512_maskz_loadu_ps(k0, x), _mm512_maskz_loadu_ps(k0, g),
                                  _mm256_maskz_loadu_ps(h0, x + 8),
                                  _mm256_maskz_loadu_ps(h0, g + 8), wv, &t.s[0], &t.s[1]);
    __m512 r1 = lr_prelu_grad16_f(_mm512_maskz_loadu_ps(k1, x + 16),
                                  _mm512_maskz_loadu_ps(k1, g + 16),
                                  _mm256_maskz_loadu_ps(h1, x + 24),
                                  _mm256_maskz_loadu_ps(h1, g + 24), wv, &t.s[2], &t.s[3]);
    _mm512_mask_storeu_ps(grad_x, k0, r0);
    _mm512_mask_storeu_ps(grad_x + 16, k1, r1);
    return t;
}

/* A whole block, elements 0-15 with weights w0, 16-31 with w1. */
LR_INLINE lr_lanes32 lr_prelu_grad_full32_f(const float* x, const float* g, float* grad_x,
                                            __m512 w0, __m512 w1) {
    __m512 x0 = _mm512_loadu_ps(x), x1 = _mm512_loadu_ps(x + 16);
    __m512 g0 = _mm512_loadu_ps(g), g1 = _mm512_loadu_ps(g + 16);
    lr_lanes32 t;
    /* Opaque to GCC, which would load them again (split loads, twice). */
    __asm__("" : "+v"(x0), "+v"(x1), "+v"(g0), "+v"(g1));
    __m512 r0 = lr_prelu_grad16_f(x0, g0, _mm256_loadu_ps(x + 8), _mm256_loadu_ps(g + 8), w0,
                                  &t.s[0], &t.s[1]);
    __m512 r1 = lr_prelu_grad16_f(x1, g1, _mm256_loadu_ps(x + 24), _mm256_loadu_ps(g + 24), w1,
                                  &t.s[2], &t.s[3]);
    _mm512_storeu_ps(grad_x, r0);
    _mm512_storeu_ps(grad_x + 16, r1);
    return t;
}

/* A whole block across two runs: the elements in to_b take weight wb. */
LR_INLINE lr_lanes32 lr_prelu_grad_across32_f(const float* x, const float* g, float* grad_x,
                                              float wa, float wb, uint32_t to_b) {
    __m512 va = _mm512_set1_ps(wa), vb = _mm512_set1_ps(wb);
    return lr_prelu_grad_full32_f(x, g, grad_x, _mm512_mask_blend_ps((__mmask16)to_b, va, vb),
                                  _mm512_mask_blend_ps((__mmask16)(to_b >> 16), va, vb));
}

LR_INLINE __m512d lr_prelu_grad8_d(__m512d x, __m512d g, __m512d w, __m512d* term) {
    __mmask8 rest = lr_sloped_d(x);
    *term = _mm512_maskz_mul_pd(rest, x, g);
    return lr_leaky_grad_d(g, x, rest, w);
}

/* Eight elements of a masked block: 8 * i to 8 * i + 8. */
LR_INLINE __m512d lr_prelu_grad_part8_d(const double* x, const double* g, __m512d w,
                                        uint32_t keep, int i, __m512d* term) {
    __mmask8 k = (__mmask8)(keep >> 8 * i);
    return lr_prelu_grad8_d(_mm512_maskz_loadu_pd(k, x + 8 * i),
                            _mm512_maskz_loadu_pd(k, g + 8 * i), w, term);
}

LR_INLINE lr_lanes32 lr_prelu_grad_part32_d(const double* x, const double* g, double* grad_x,
                                            double w, uint32_t keep) {
    __m512d wv = _mm512_set1_pd(w);
    lr_lanes32 t;
    __m512d r0 = lr_prelu_grad_part8_d(x, g, wv, keep, 0, &t.s[0]);
    __m512d r1 = lr_prelu_grad_part8_d(x, g, wv, keep, 1, &t.s[1]);
    __m512d r2 = lr_prelu_grad_part8_d(x, g, wv, keep, 2, &t.s[2]);
    __m512d r3 = lr_prelu_grad_part8_d(x, g, wv, keep, 3, &t.s[3]);
    _mm512_mask_storeu_pd(grad_x, (__mmask8)keep, r0);
    _mm512_mask_storeu_pd(grad_x + 8, (__mmask8)(keep >> 8), r1);
    _mm512_mask_storeu_pd(grad_x + 16, (__mmask8)(keep >> 16), r2);
    _mm512_mask_storeu_pd(grad_x + 24, (__mmask8)(keep >> 24), r3);
    return t;
}

LR_INLINE lr_lanes32 lr_prelu_grad_full32_d(const double* x, const double* g, double* grad_x,
                                            __m512d w0, __m512d w1, __m512d w2, __m512d w3) {
    __m512d x0 = _mm512_loadu_pd(x), x1 = _mm512_loadu_pd(x + 8);
    __m512d x2 = _mm512_loadu_pd(x + 16), x3 = _mm512_loadu_pd(x + 24);
    __m512d g0 = _mm512_loadu_pd(g), g1 = _mm512_loadu_pd(g + 8);
    __m512d g2 = _mm512_loadu_pd(g + 16), g3 = _mm512_loadu_pd(g + 24);
    lr_lanes32 t;
    __asm__("" : "+v"(x0), "+v"(x1), "+v"(x2), "+v"(x3), "+v"(g0), "+v"(g1), "+v"(g2), "+v"(g3));
    __m512d r0 = lr_prelu_grad8_d(x0, g0, w0, &t.s[0]);
    __m512d r1 = lr_prelu_grad8_d(x1, g1, w1, &t.s[1]);
    __m512d r2 = lr_prelu_grad8_d(x2, g2, w2, &t.s[2]);
    __m512d r3 = lr_prelu_grad8_d(x3, g3, w3, &t.s[3]);
    _mm512_storeu_pd(grad_x, r0); _mm512_storeu_pd(grad_x + 8, r1);
    _mm512_storeu_pd(grad_x + 16, r2); _mm512_storeu_pd(grad_x + 24, r3);
    return t;
}

LR_INLINE lr_lanes32 lr_prelu_grad_across32_d(const double* x, const double* g, double* grad_x,
                                              double wa, double wb, uint32_t to_b) {
    __m512d va = _mm512_set1_pd(wa), vb = _mm512_set1_pd(wb);
    return lr_prelu_grad_full32_d(x, g, grad_x, _mm512_mask_blend_pd((__mmask8)to_b, va, vb),
                                  _mm512_mask_blend_pd((__mmask8)(to_b >> 8), va, vb),
                                  _mm512_mask_blend_pd((__mmask8)(to_b >> 16), va, vb),
                                  _mm512_mask_blend_pd((__mmask8)(to_b >> 24), va, vb));
}

/* count runs of len elements (a multiple of 32), one after another from x,
 * g and grad_x; run k takes weight w[k] and adds its pairwise sum to
 * sums[k]. The blocks start at grad_x's first cache line and continue
 * across the runs' ends: a block there gives its first elements to one run
 * and its last `head` to the next, at the lanes the next run's own first
 * block would give them (its start has the same offset in its line), so the
 * sums are those of one call per run, without two masked blocks per run. */
#define LR_PRELU_GRAD_RUNS(SUFFIX, T, ...)                                                    \
static inline int lr_prelu_grad_runs_##SUFFIX(const T* x, const T* g, T* grad_x,              \
                                              ptrdiff_t len, ptrdiff_t count, const T* w,     \
                                              double* sums) {                                 \
    ptrdiff_t head = lr_line_head(grad_x, sizeof(T)), j = head;                               \
    lr_lanes32 run = lr_zero_lanes();                                                         \
    if (head)   /* elements [0, head): the end of a block that starts before x */             \
        run = lr_prelu_grad_part32_##SUFFIX(x + head - 32, g + head - 32, grad_x + head - 32, \
                                            w[0], ~0u << (32 - head));                        \
    for (ptrdiff_t k = 0; k < count; k++) {                                                   \
        ptrdiff_t end = (k + 1) * len;                                                        \
        T wk = w[k];   /* read once: w may alias grad_x for the compiler */                   \
        lr_lanes32 next = lr_zero_lanes();                                                    \
        for (; j + 32 <= end; j += 32)                                                        \
            run = lr_add_lanes(run, lr_prelu_grad_full32_##SUFFIX(x + j, g + j, grad_x + j,   \
                                                                  __VA_ARGS__));              \
        if (j < end) {   /* [j, end) is this run's; the rest the next run's, if any */        \
            uint32_t own = ~0u >> (32 - (end - j));                                           \
            lr_lanes32 t = k + 1 < count                                                      \
                ? lr_prelu_grad_across32_##SUFFIX(x + j, g + j, grad_x + j, wk, w[k + 1], ~own)  \
                : lr_prelu_grad_part32_##SUFFIX(x + j, g + j, grad_x + j, wk, own);           \
            run = lr_add_lanes_where(run, t, own);                                            \
            next = lr_add_lanes_where(next, t, ~own);                                         \
            j += 32;                                                                          \
        }                                                                                     \
        sums[k] += lr_pairwise_sum(run);                                                      \
        run = next;                                                                           \
    }                                                                                         \
    return 1;                                                                                 \
}
/* The whole blocks' weights: run k's weight wk in every lane. */
LR_PRELU_GRAD_RUNS(f, float, _mm512_set1_ps(wk), _mm512_set1_ps(wk))
LR_PRELU_GRAD_RUNS(d, double, _mm512_set1_pd(wk), _mm512_set1_pd(wk), _mm512_set1_pd(wk),
                   _mm512_set1_pd(wk))
#undef LR_PRELU_GRAD_RUNS
#undef LR_INLINE
#elif defined(__AVX2__) && defined(__GNUC__)
#include <immintrin.h>

/* AVX2: the same sums, from each run's first element (no rotation), the 32
 * partial sums in eight vectors of four doubles; GCC's loop for them kept
 * some in memory and widened each compare's mask to doubles (3.3 x the
 * memory reference at 64K elements on Zen 1). Each vector of grad_x is
 * stored after its x and g are loaded: grad_x may be x or g itself, never a
 * part of them (the caller copies partial overlaps). */
typedef struct { __m256d s[8]; } lr_lanes32_avx2;

/* lane k + 16, then k + 8, k + 4, k + 2 and k + 1 added to lane k, operands
 * in prelu_grad_run's order. */
static inline double lr_pairwise_sum_avx2(const lr_lanes32_avx2* v) {
    __m256d a0 = _mm256_add_pd(v->s[0], v->s[4]), a1 = _mm256_add_pd(v->s[1], v->s[5]);
    __m256d a2 = _mm256_add_pd(v->s[2], v->s[6]), a3 = _mm256_add_pd(v->s[3], v->s[7]);
    __m256d quarter = _mm256_add_pd(_mm256_add_pd(a0, a2), _mm256_add_pd(a1, a3));
    __m128d eighth = _mm_add_pd(_mm256_castpd256_pd128(quarter),
                                _mm256_extractf128_pd(quarter, 1));
    return _mm_cvtsd_f64(_mm_add_sd(eighth, _mm_unpackhi_pd(eighth, eighth)));
}

/* prelu_weight_term on 8 floats, 0 where x > 0, widened into lanes lo, hi;
 * grad_x with the NaN rule if nan_now (else g * w where x is a NaN). */
static inline __attribute__((always_inline)) void lr_prelu_grad8_f(
        const float* x, const float* g, float* grad_x, __m256 w, int nan_now,
        __m256d* lo, __m256d* hi) {
    __m256 xv = _mm256_loadu_ps(x), gv = _mm256_loadu_ps(g);
    __m256 positive = lr_positive8_f(xv);
    __m256 term = _mm256_andnot_ps(positive, _mm256_mul_ps(xv, gv));
    *lo = _mm256_add_pd(*lo, _mm256_cvtps_pd(_mm256_castps256_ps128(term)));
    *hi = _mm256_add_pd(*hi, _mm256_cvtps_pd(_mm256_extractf128_ps(term, 1)));
    _mm256_storeu_ps(grad_x, nan_now ? lr_leaky_grad8_f(gv, xv, positive, w)
                                     : lr_sloped_grad8_f(gv, positive, w));
}

static inline __attribute__((always_inline)) void lr_prelu_grad4_d(
        const double* x, const double* g, double* grad_x, __m256d w, int nan_now,
        __m256d* lanes) {
    __m256d xv = _mm256_loadu_pd(x), gv = _mm256_loadu_pd(g);
    __m256d positive = lr_positive4_d(xv);
    *lanes = _mm256_add_pd(*lanes, _mm256_andnot_pd(positive, _mm256_mul_pd(xv, gv)));
    _mm256_storeu_pd(grad_x, nan_now ? lr_leaky_grad4_d(gv, xv, positive, w)
                                     : lr_sloped_grad4_d(gv, positive, w));
}

/* One block of 32 elements from x + j into the eight vectors of sums. */
#define LR_PRELU_GRAD_BLOCK_f(nan_now)                                                      \
    for (int i = 0; i < 4; i++)                                                             \
        lr_prelu_grad8_f(x + j + 8 * i, g + j + 8 * i, grad_x + j + 8 * i, wv, nan_now,     \
                         &v.s[2 * i], &v.s[2 * i + 1])
#define LR_PRELU_GRAD_BLOCK_d(nan_now)                                                      \
    for (int i = 0; i < 8; i++)                                                             \
        lr_prelu_grad4_d(x + j + 4 * i, g + j + 4 * i, grad_x + j + 4 * i, wv, nan_now, &v.s[i])

/* With grad_x apart from x and g, x's NaNs are put into grad_x after a run,
 * in the runs whose sum is a NaN (a NaN x makes its term and so the sum
 * one): that saves a compare and a blend per vector (64K float64 elements
 * on Zen 1: 42 -> 33 us). */
#define LR_PRELU_GRAD_RUNS_AVX2(SUFFIX, T, VEC, SET1)                                       \
static inline int lr_prelu_grad_runs_##SUFFIX(const T* x, const T* g, T* grad_x,            \
                                              ptrdiff_t len, ptrdiff_t count, const T* w,   \
                                              double* sums) {                               \
    int nan_later = grad_x != x && grad_x != g;                                             \
    for (ptrdiff_t k = 0; k < count; k++, x += len, g += len, grad_x += len) {              \
        lr_lanes32_avx2 v;                                                                  \
        for (int i = 0; i < 8; i++)                                                         \
            v.s[i] = _mm256_setzero_pd();                                                   \
        VEC wv = SET1(w[k]);                                                                \
        if (nan_later)                                                                      \
            for (ptrdiff_t j = 0; j < len; j += 32)                                         \
                LR_PRELU_GRAD_BLOCK_##SUFFIX(0);                                            \
        else                                                                                \
            for (ptrdiff_t j = 0; j < len; j += 32)                                         \
                LR_PRELU_GRAD_BLOCK_##SUFFIX(1);                                            \
        double sum = lr_pairwise_sum_avx2(&v);                                              \
        if (nan_later && sum != sum)                                                        \
            lr_put_nans_##SUFFIX(x, grad_x, len);                                           \
        sums[k] += sum;                                                                     \
    }                                                                                       \
    return 1;                                                                               \
}
LR_PRELU_GRAD_RUNS_AVX2(f, float, __m256, _mm256_set1_ps)
LR_PRELU_GRAD_RUNS_AVX2(d, double, __m256d, _mm256_set1_pd)
#undef LR_PRELU_GRAD_RUNS_AVX2
#undef LR_PRELU_GRAD_BLOCK_f
#undef LR_PRELU_GRAD_BLOCK_d
#else
/* Without AVX-512 or AVX2 (or GCC's extensions) the caller's loop does the work. */
static inline int lr_prelu_grad_runs_f(const float* x, const float* g, float* grad_x,
                                       ptrdiff_t len, ptrdiff_t count, const float* w,
                                       double* sums) {
    (void)x; (void)g; (void)grad_x; (void)len; (void)count; (void)w; (void)sums;
    return 0;
}
static inline int lr_prelu_grad_runs_d(const double* x, const double* g, double* grad_x,
                                       ptrdiff_t len, ptrdiff_t count, const double* w,
                                       double* sums) {
    (void)x; (void)g; (void)grad_x; (void)len; (void)count; (void)w; (void)sums;
    return 0;
}
#endif
#endif
