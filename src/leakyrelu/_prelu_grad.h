/* The blocks of _math.pxd's prelu_grad_run in AVX-512, 32 elements each:
 * grad_x = leaky_relu_grad(g, x, w) (x > 0 ? g : g * w, NaN where x is), and
 * lanes[k] += prelu_weight_term(x, g) of element 32 * i + k (0 where x > 0,
 * else x * g rounded to x's dtype, then widened). The same operations in the
 * same order as that loop, so the same bits. Every element of a block is
 * loaded before any is stored, so grad_x may be x or g itself: GCC's loop
 * reloaded the inputs after each store for that. Returns 0 in builds
 * without AVX-512, where the caller's loop does the work. */
#ifndef LEAKYRELU_PRELU_GRAD_H
#define LEAKYRELU_PRELU_GRAD_H
#include <stddef.h>
#if defined(__AVX512F__)
#include <immintrin.h>

/* The 32 partial sums, lanes[0..31], as four vectors. */
typedef struct { __m512d s[4]; } lr_lanes32;

static inline lr_lanes32 lr_load_lanes(const double* lanes) {
    lr_lanes32 v;
    for (int i = 0; i < 4; i++) v.s[i] = _mm512_loadu_pd(lanes + 8 * i);
    return v;
}

static inline void lr_add_lanes(lr_lanes32* v, __m512d t0, __m512d t1, __m512d t2, __m512d t3) {
    v->s[0] = _mm512_add_pd(v->s[0], t0); v->s[1] = _mm512_add_pd(v->s[1], t1);
    v->s[2] = _mm512_add_pd(v->s[2], t2); v->s[3] = _mm512_add_pd(v->s[3], t3);
}

static inline void lr_store_lanes(double* lanes, lr_lanes32 v) {
    for (int i = 0; i < 4; i++) _mm512_storeu_pd(lanes + 8 * i, v.s[i]);
}

static inline __m512 lr_prelu_grad16_f(__m512 x, __m512 g, __m512 w, __m512d* lo,
                                       __m512d* hi) {
    __mmask16 rest = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_NGT_UQ);
    __mmask16 nan = _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
    __m512 product = _mm512_mul_ps(x, g);
    *lo = _mm512_maskz_cvtps_pd((__mmask8)rest, _mm512_castps512_ps256(product));
    __m256 upper = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(product), 1));
    *hi = _mm512_maskz_cvtps_pd((__mmask8)(rest >> 8), upper);
    return _mm512_mask_mov_ps(_mm512_mask_mul_ps(g, rest, g, w), nan, x);
}

static inline int lr_prelu_grad_body_f(const float* x, const float* g, float* grad_x,
                                       ptrdiff_t body, float w, double* lanes) {
    __m512 wv = _mm512_set1_ps(w);
    lr_lanes32 sums = lr_load_lanes(lanes);
    __m512d t0, t1, t2, t3;
    for (ptrdiff_t j = 0; j < body; j += 32) {
        __m512 x0 = _mm512_loadu_ps(x + j), x1 = _mm512_loadu_ps(x + j + 16);
        __m512 g0 = _mm512_loadu_ps(g + j), g1 = _mm512_loadu_ps(g + j + 16);
        __m512 r0 = lr_prelu_grad16_f(x0, g0, wv, &t0, &t1);
        __m512 r1 = lr_prelu_grad16_f(x1, g1, wv, &t2, &t3);
        lr_add_lanes(&sums, t0, t1, t2, t3);
        _mm512_storeu_ps(grad_x + j, r0);
        _mm512_storeu_ps(grad_x + j + 16, r1);
    }
    lr_store_lanes(lanes, sums);
    return 1;
}

static inline __m512d lr_prelu_grad8_d(__m512d x, __m512d g, __m512d w, __m512d* term) {
    __mmask8 rest = _mm512_cmp_pd_mask(x, _mm512_setzero_pd(), _CMP_NGT_UQ);
    __mmask8 nan = _mm512_cmp_pd_mask(x, x, _CMP_UNORD_Q);
    *term = _mm512_maskz_mul_pd(rest, x, g);
    return _mm512_mask_mov_pd(_mm512_mask_mul_pd(g, rest, g, w), nan, x);
}

static inline int lr_prelu_grad_body_d(const double* x, const double* g, double* grad_x,
                                       ptrdiff_t body, double w, double* lanes) {
    __m512d wv = _mm512_set1_pd(w);
    lr_lanes32 sums = lr_load_lanes(lanes);
    __m512d t0, t1, t2, t3;
    for (ptrdiff_t j = 0; j < body; j += 32) {
        __m512d x0 = _mm512_loadu_pd(x + j), x1 = _mm512_loadu_pd(x + j + 8);
        __m512d x2 = _mm512_loadu_pd(x + j + 16), x3 = _mm512_loadu_pd(x + j + 24);
        __m512d g0 = _mm512_loadu_pd(g + j), g1 = _mm512_loadu_pd(g + j + 8);
        __m512d g2 = _mm512_loadu_pd(g + j + 16), g3 = _mm512_loadu_pd(g + j + 24);
        __m512d r0 = lr_prelu_grad8_d(x0, g0, wv, &t0);
        __m512d r1 = lr_prelu_grad8_d(x1, g1, wv, &t1);
        __m512d r2 = lr_prelu_grad8_d(x2, g2, wv, &t2);
        __m512d r3 = lr_prelu_grad8_d(x3, g3, wv, &t3);
        lr_add_lanes(&sums, t0, t1, t2, t3);
        _mm512_storeu_pd(grad_x + j, r0); _mm512_storeu_pd(grad_x + j + 8, r1);
        _mm512_storeu_pd(grad_x + j + 16, r2); _mm512_storeu_pd(grad_x + j + 24, r3);
    }
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
