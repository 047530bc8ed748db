/* The blocks of _math.pxd's prelu_grad_run in AVX-512, 32 elements each:
 * grad_x = leaky_relu_grad(g, x, w) (x > 0 ? g : g * w, NaN where x is), and
 * 32 partial sums of prelu_weight_term(x, g) (0 where x > 0, else x * g
 * rounded to x's dtype, then widened), each over every 32nd element in
 * ascending order, as in that loop.
 *
 * The blocks start at grad_x's first cache line (lr_line_head): vectors that
 * split lines cost this loop 15-40% of its time (docs/performance.md). The
 * elements before that line and after the last full block are masked
 * blocks. So the sums come out rotated: lanes[k] sums the elements j with
 * (j - head) % 32 == k. The caller's pairwise sum (k + 16, then k + 8, ...)
 * gives the same bits for any rotation of the 32 sums: each step's pairs are
 * a rotation of the step before's, with at most the two operands of an add
 * swapped.
 *
 * Every element of a block is loaded before any is stored, so grad_x may be
 * x or g itself (GCC's loop reloaded the inputs after each store for that).
 * Returns 0 in builds without AVX-512, where the caller's loop does the work. */
#ifndef LEAKYRELU_PRELU_GRAD_H
#define LEAKYRELU_PRELU_GRAD_H
#include <stddef.h>
#include <stdint.h>
#include "_cpu.h"
#include "_leaky_grad.h"
#if defined(__AVX512F__)
#include <immintrin.h>

/* The 32 partial sums as four vectors, s[i] lane j holding the sum of the
 * elements at block position 8 * i + j. */
typedef struct { __m512d s[4]; } lr_lanes32;

static inline lr_lanes32 lr_zero_lanes(void) {
    lr_lanes32 v;
    for (int i = 0; i < 4; i++) v.s[i] = _mm512_setzero_pd();
    return v;
}

static inline void lr_store_lanes(double* lanes, lr_lanes32 v) {
    for (int i = 0; i < 4; i++) _mm512_storeu_pd(lanes + 8 * i, v.s[i]);
}

/* Terms of masked-off elements are +0.0 (x = g = 0), and a sum that starts
 * at +0.0 never becomes -0.0, so adding them changes nothing. */
static inline void lr_add_lanes(lr_lanes32* v, __m512d t0, __m512d t1, __m512d t2, __m512d t3) {
    v->s[0] = _mm512_add_pd(v->s[0], t0); v->s[1] = _mm512_add_pd(v->s[1], t1);
    v->s[2] = _mm512_add_pd(v->s[2], t2); v->s[3] = _mm512_add_pd(v->s[3], t3);
}

static inline __m512 lr_prelu_grad16_f(__m512 x, __m512 g, __m512 w, __m512d* lo,
                                       __m512d* hi) {
    __mmask16 rest = lr_sloped_f(x);
    __m512 product = _mm512_mul_ps(x, g);
    *lo = _mm512_maskz_cvtps_pd((__mmask8)rest, _mm512_castps512_ps256(product));
    __m256 upper = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(product), 1));
    *hi = _mm512_maskz_cvtps_pd((__mmask8)(rest >> 8), upper);
    return lr_leaky_grad_f(g, x, rest, w);
}

/* One block at x[0..32) with only the elements in keep; the others are
 * neither read nor written (masked, so the block may reach past the run). */
static inline void lr_prelu_grad_part32_f(const float* x, const float* g, float* grad_x,
                                          __m512 w, uint32_t keep, lr_lanes32* sums) {
    __mmask16 k0 = (__mmask16)keep, k1 = (__mmask16)(keep >> 16);
    __m512d t0, t1, t2, t3;
    __m512 r0 = lr_prelu_grad16_f(_mm512_maskz_loadu_ps(k0, x), _mm512_maskz_loadu_ps(k0, g),
                                  w, &t0, &t1);
    __m512 r1 = lr_prelu_grad16_f(_mm512_maskz_loadu_ps(k1, x + 16),
                                  _mm512_maskz_loadu_ps(k1, g + 16), w, &t2, &t3);
    lr_add_lanes(sums, t0, t1, t2, t3);
    _mm512_mask_storeu_ps(grad_x, k0, r0);
    _mm512_mask_storeu_ps(grad_x + 16, k1, r1);
}

static inline int lr_prelu_grad_body_f(const float* x, const float* g, float* grad_x,
                                       ptrdiff_t body, float w, double* lanes) {
    ptrdiff_t head = lr_line_head(grad_x, sizeof(float)), j = head;
    __m512 wv = _mm512_set1_ps(w);
    lr_lanes32 sums = lr_zero_lanes();
    __m512d t0, t1, t2, t3;
    if (head)   /* elements [0, head): the end of a block that starts before x */
        lr_prelu_grad_part32_f(x + head - 32, g + head - 32, grad_x + head - 32, wv,
                               ~0u << (32 - head), &sums);
    for (; j + 32 <= body; j += 32) {
        __m512 x0 = _mm512_loadu_ps(x + j), x1 = _mm512_loadu_ps(x + j + 16);
        __m512 g0 = _mm512_loadu_ps(g + j), g1 = _mm512_loadu_ps(g + j + 16);
        /* Opaque to GCC, which would load them again (split loads, twice). */
        __asm__("" : "+v"(x0), "+v"(x1), "+v"(g0), "+v"(g1));
        __m512 r0 = lr_prelu_grad16_f(x0, g0, wv, &t0, &t1);
        __m512 r1 = lr_prelu_grad16_f(x1, g1, wv, &t2, &t3);
        lr_add_lanes(&sums, t0, t1, t2, t3);
        _mm512_storeu_ps(grad_x + j, r0);
        _mm512_storeu_ps(grad_x + j + 16, r1);
    }
    if (j < body)
        lr_prelu_grad_part32_f(x + j, g + j, grad_x + j, wv, ~0u >> (32 - (body - j)), &sums);
    lr_store_lanes(lanes, sums);
    return 1;
}

static inline __m512d lr_prelu_grad8_d(__m512d x, __m512d g, __m512d w, __m512d* term) {
    __mmask8 rest = lr_sloped_d(x);
    *term = _mm512_maskz_mul_pd(rest, x, g);
    return lr_leaky_grad_d(g, x, rest, w);
}

static inline void lr_prelu_grad_part32_d(const double* x, const double* g, double* grad_x,
                                          __m512d w, uint32_t keep, lr_lanes32* sums) {
    __m512d t[4], r[4];
    for (int i = 0; i < 4; i++) {
        __mmask8 k = (__mmask8)(keep >> 8 * i);
        r[i] = lr_prelu_grad8_d(_mm512_maskz_loadu_pd(k, x + 8 * i),
                                _mm512_maskz_loadu_pd(k, g + 8 * i), w, &t[i]);
    }
    lr_add_lanes(sums, t[0], t[1], t[2], t[3]);
    for (int i = 0; i < 4; i++)
        _mm512_mask_storeu_pd(grad_x + 8 * i, (__mmask8)(keep >> 8 * i), r[i]);
}

static inline int lr_prelu_grad_body_d(const double* x, const double* g, double* grad_x,
                                       ptrdiff_t body, double w, double* lanes) {
    ptrdiff_t head = lr_line_head(grad_x, sizeof(double)), j = head;
    __m512d wv = _mm512_set1_pd(w);
    lr_lanes32 sums = lr_zero_lanes();
    __m512d t0, t1, t2, t3;
    if (head)
        lr_prelu_grad_part32_d(x + head - 32, g + head - 32, grad_x + head - 32, wv,
                               ~0u << (32 - head), &sums);
    for (; j + 32 <= body; j += 32) {
        __m512d x0 = _mm512_loadu_pd(x + j), x1 = _mm512_loadu_pd(x + j + 8);
        __m512d x2 = _mm512_loadu_pd(x + j + 16), x3 = _mm512_loadu_pd(x + j + 24);
        __m512d g0 = _mm512_loadu_pd(g + j), g1 = _mm512_loadu_pd(g + j + 8);
        __m512d g2 = _mm512_loadu_pd(g + j + 16), g3 = _mm512_loadu_pd(g + j + 24);
        __asm__("" : "+v"(x0), "+v"(x1), "+v"(x2), "+v"(x3), "+v"(g0), "+v"(g1), "+v"(g2),
                "+v"(g3));
        __m512d r0 = lr_prelu_grad8_d(x0, g0, wv, &t0);
        __m512d r1 = lr_prelu_grad8_d(x1, g1, wv, &t1);
        __m512d r2 = lr_prelu_grad8_d(x2, g2, wv, &t2);
        __m512d r3 = lr_prelu_grad8_d(x3, g3, wv, &t3);
        lr_add_lanes(&sums, t0, t1, t2, t3);
        _mm512_storeu_pd(grad_x + j, r0); _mm512_storeu_pd(grad_x + j + 8, r1);
        _mm512_storeu_pd(grad_x + j + 16, r2); _mm512_storeu_pd(grad_x + j + 24, r3);
    }
    if (j < body)
        lr_prelu_grad_part32_d(x + j, g + j, grad_x + j, wv, ~0u >> (32 - (body - j)), &sums);
    lr_store_lanes(lanes, sums);
    return 1;
}
#else
static inline int lr_prelu_grad_body_f(const float* x, const float* g, float* grad_x,
                                       ptrdiff_t body, float w, double* lanes) {
    (void)x; (void)g; (void)grad_x; (void)body; (void)w; (void)lanes;
    return 0;
}
static inline int lr_prelu_grad_body_d(const double* x, const double* g, double* grad_x,
                                       ptrdiff_t body, double w, double* lanes) {
    (void)x; (void)g; (void)grad_x; (void)body; (void)w; (void)lanes;
    return 0;
}
#endif
#endif
