/* expm1, and exp times a factor, that GCC and Clang can vectorise.
 *
 * libm's expm1 is a scalar call per element, which makes elu, celu and selu
 * compute-bound. These are branch-free (selects only) and inline, so the
 * array loops that use them vectorise.
 *
 * Method: x = k ln2 + r with |r| <= ln2/2 (Cody-Waite), expm1(r) from its
 * Taylor series, then expm1(x) = (2^k - 1) + 2^k expm1(r), summed with an
 * exact two-sum so that the result is faithfully rounded (< 1 ulp; the tests
 * bound it). float is computed in float arithmetic (lr_expm1_f, at the end),
 * within 1 ulp.
 */
#ifndef LEAKYRELU_VEXP_H
#define LEAKYRELU_VEXP_H

#include <stdint.h>
#include <math.h>

#define LR_INV_LN2 1.4426950408889634
/* ln2 split so that k * LR_LN2_HI is exact for |k| < 2^11. */
#define LR_LN2_HI 6.93147180559890330187e-01
#define LR_LN2_LO 5.497923018708371e-14
/* Adding 1.5 * 2^52 rounds to an integer that sits in the low mantissa bits. */
#define LR_ROUND_MAGIC 6755399441055744.0

/* Fused multiply-add where the instruction set has it (more accurate and
 * faster); separate operations elsewhere. The build turns off implicit
 * contraction, so this is the only place FMA appears. */
#if defined(__GNUC__) && (defined(__FMA__) || defined(__ARM_FEATURE_FMA))
#define LR_FMA(a, b, c) __builtin_fma((a), (b), (c))
#define LR_FMAF(a, b, c) __builtin_fmaf((a), (b), (c))
#else
#define LR_FMA(a, b, c) ((a) * (b) + (c))
#define LR_FMAF(a, b, c) ((a) * (b) + (c))
#endif

/* Inlined whatever GCC's heuristics say: the array loops vectorise only
 * what is inlined into them (lr_expm1_f called out of line made elu 2x as
 * slow as computing it in double). */
#if defined(__GNUC__)
#define LR_VEXP_INLINE static inline __attribute__((always_inline))
#else
#define LR_VEXP_INLINE static inline
#endif

typedef union { double d; uint64_t u; } lr_bits;

/* k = round(x / ln2) as a double, and 2^k built from its bits. */
static inline double lr_reduce(double x, double *two_k) {
    lr_bits shifted, scale;
    shifted.d = LR_FMA(x, LR_INV_LN2, LR_ROUND_MAGIC);
    scale.u = (shifted.u + 1023) << 52;
    *two_k = scale.d;
    return shifted.d - LR_ROUND_MAGIC;
}

/* expm1(r) - r for |r| <= ln2/2, to double precision (Taylor to r^14). */
static inline double lr_expm1_tail(double r) {
    double q = 1.0 / 87178291200.0;
    q = LR_FMA(q, r, 1.0 / 6227020800.0);
    q = LR_FMA(q, r, 1.0 / 479001600.0);
    q = LR_FMA(q, r, 1.0 / 39916800.0);
    q = LR_FMA(q, r, 1.0 / 3628800.0);
    q = LR_FMA(q, r, 1.0 / 362880.0);
    q = LR_FMA(q, r, 1.0 / 40320.0);
    q = LR_FMA(q, r, 1.0 / 5040.0);
    q = LR_FMA(q, r, 1.0 / 720.0);
    q = LR_FMA(q, r, 1.0 / 120.0);
    q = LR_FMA(q, r, 1.0 / 24.0);
    q = LR_FMA(q, r, 1.0 / 6.0);
    return r * r * 0.5 + r * r * r * q;
}

LR_VEXP_INLINE double lr_expm1_d(double x) {
    double xc = x < -60.0 ? -60.0 : x;      /* expm1 is -1 to double precision */
    xc = xc > 710.0 ? 710.0 : xc;
    double two_k;
    double k = lr_reduce(xc, &two_k);
    double r_hi = xc - k * LR_LN2_HI;        /* exact */
    double c = k * LR_LN2_LO;
    double r = r_hi - c;                     /* r + r_lo == r_hi - c closely */
    double r_lo = (r_hi - r) - c;
    double t = lr_expm1_tail(r) + r_lo * (1.0 + r);
    /* (2^k - 1) + 2^k r as an exact sum hi + lo, then add 2^k t. */
    double a = two_k - 1.0, b = two_k * r;
    double hi = a + b;
    double bb = hi - a;
    double lo = (a - (hi - bb)) + (b - bb);
    double y = hi + (lo + two_k * t);
    y = x > 709.782712893384 ? INFINITY : y;
    y = x == 0.0 ? x : y;                    /* keeps -0.0 */
    return x != x ? x : y;
}

/* m * exp(x), with the 2^k scaling split in two halves around the
 * multiplication by m: a product that is subnormal, or finite, only after
 * that multiplication is rounded once, not flushed or overflowed on the way.
 * The halves come from k by arithmetic, not compares, so the loop stays
 * short. A NaN x gives an unspecified value: the callers select x there. */
LR_VEXP_INLINE double lr_scaled_exp_d(double x, double m) {
    /* Two scalings reach 2^+-2044, so m * exp(x) is right wherever it is
     * representable, even when exp(x) alone is not. */
    /* No clamp: beyond +-1416 the reduction makes garbage that the final
     * select replaces (a clamp there makes GCC specialise the whole
     * computation for the clamped constants). */
    double xc = x;
    double two_k;
    double k = lr_reduce(xc, &two_k);
    /* k * LR_LN2_HI is exact, so the first step is exact either way. */
    double r = LR_FMA(-k, LR_LN2_LO, LR_FMA(-k, LR_LN2_HI, xc));
    /* exp(r) = 1 + r + r^2 p(r), p by Horner from Taylor's r^13 term: its
     * r^14 / 14! remainder is 0.02 ulp on |r| <= ln2/2. */
    double p = 1.0 / 6227020800.0;
    p = LR_FMA(p, r, 1.0 / 479001600.0);
    p = LR_FMA(p, r, 1.0 / 39916800.0);
    p = LR_FMA(p, r, 1.0 / 3628800.0);
    p = LR_FMA(p, r, 1.0 / 362880.0);
    p = LR_FMA(p, r, 1.0 / 40320.0);
    p = LR_FMA(p, r, 1.0 / 5040.0);
    p = LR_FMA(p, r, 1.0 / 720.0);
    p = LR_FMA(p, r, 1.0 / 120.0);
    p = LR_FMA(p, r, 1.0 / 24.0);
    p = LR_FMA(p, r, 1.0 / 6.0);
    p = LR_FMA(p, r, 0.5);
    double u = 1.0 + LR_FMA(r * r, p, r);
    /* k = k1 + k2 with k2 = round(k / 2): both within +-1022 and u 2^k1
     * normal, so a huge m cannot overflow on the way to a finite result and
     * a tiny product is rounded by the last multiplication only. */
    lr_bits half, first, first_scale, second_scale;
    half.d = LR_FMA(k, 0.5, LR_ROUND_MAGIC);
    first.d = (k - (half.d - LR_ROUND_MAGIC)) + LR_ROUND_MAGIC;
    first_scale.u = (first.u + 1023) << 52;
    second_scale.u = (half.u + 1023) << 52;
    double y = ((u * first_scale.d) * m) * second_scale.d;
    /* Beyond the clamp: one compare, then 0 or inf times m. */
    return fabs(x) > 1416.0 ? m * (x < 0.0 ? 0.0 : INFINITY) : y;
}

/* m * exp(x) in float arithmetic, 16 lanes to a 512-bit vector: gradients
 * need no more. Taylor to r^7 on |r| <= ln2/2 leaves 0.1 ulp; with the
 * roundings of the reduction and of the products the result stays within
 * 2 ulp (tests/test_exponential.py bounds it). The scaling is split as in
 * lr_scaled_exp_d, on the integer k. */
typedef union { float f; uint32_t u; } lr_bits_f;
#define LR_ROUND_MAGIC_F 12582912.0f      /* 1.5 * 2^23 */
#define LR_ROUND_MAGIC_F_BITS 0x4b400000u

/* x = k ln2 + r with |r| <= ln2/2: r, and k as an integer in *k. */
LR_VEXP_INLINE float lr_reduce_f(float x, int32_t* k) {
    lr_bits_f shifted;
    shifted.f = LR_FMAF(x, 1.44269504f, LR_ROUND_MAGIC_F);
    float kf = shifted.f - LR_ROUND_MAGIC_F;
    *k = (int32_t)(shifted.u - LR_ROUND_MAGIC_F_BITS);
    /* ln2 = 0.693359375 - 2.12194440e-4; k times the first part is exact,
     * so the first step is exact with or without FMA. */
    return LR_FMAF(-kf, -2.12194440e-4f, LR_FMAF(-kf, 0.693359375f, x));
}

/* expm1(r) = r + r^2 (1/2 + r/6 + r^2/24 + r^3/120 + r^4/720 + r^5 high),
 * `high` the series from r^7's coefficient on, by Horner. */
LR_VEXP_INLINE float lr_expm1_series_f(float r, float high) {
    float q = LR_FMAF(high, r, 1.0f / 720.0f);
    q = LR_FMAF(q, r, 1.0f / 120.0f);
    q = LR_FMAF(q, r, 1.0f / 24.0f);
    q = LR_FMAF(q, r, 1.0f / 6.0f);
    q = LR_FMAF(q, r, 0.5f);
    return LR_FMAF(r * r, q, r);
}

LR_VEXP_INLINE float lr_scaled_exp_f(float x, float m) {
    /* Two scalings reach 2^+-252; beyond, as in lr_scaled_exp_d. */
    int32_t ki;
    float r = lr_reduce_f(x, &ki);
    float u = 1.0f + lr_expm1_series_f(r, 1.0f / 5040.0f);
    /* |k| <= 251 sits in the low bits: k2 = k / 2 rounded toward zero and
     * k1 = k - k2 lie in [-126, 126], u 2^k1 is normal, and k1 has k's sign,
     * so (u 2^k1) m cannot overflow where the result does not. k / 2 as a
     * shift of k plus its sign bit: three vector instructions, where GCC's
     * own division takes four. */
    int32_t k2 = (ki + (int32_t)((uint32_t)ki >> 31)) >> 1;
    lr_bits_f first_scale, second_scale;
    first_scale.u = (uint32_t)(ki - k2 + 127) << 23;
    second_scale.u = (uint32_t)(k2 + 127) << 23;
    float y = ((u * first_scale.f) * m) * second_scale.f;
    /* Beyond the clamp: one compare, then 0 or inf times m. */
    return fabsf(x) > 174.0f ? m * (x < 0.0f ? 0.0f : INFINITY) : y;
}

/* expm1 in float arithmetic, 8 lanes to a 256-bit vector where double took
 * 4 (Zen 1, a C loop of elu over 4K floats: 11.3 -> 5.5 cycles an element).
 * lr_scaled_exp_f's reduction and series, to r^8 on |r| <= ln2/2; then
 * expm1(x) = 2 (h expm1(r) + (h - 1/2)) with h = 2^(k-1): h expm1(r) is
 * exact, so the sum is rounded once, and doubling it overflows to inf
 * exactly where expm1 does. Within 1 ulp of float64's expm1 rounded to
 * float, over every float (with FMA and without); tests/test_exponential.py
 * bounds the functions that use it. */
LR_VEXP_INLINE float lr_expm1_f(float x) {
    float xc = x < -40.0f ? -40.0f : x;           /* -1 in float */
    xc = xc > 88.8f ? 88.8f : xc;                 /* +inf in float */
    int32_t ki;                                   /* in [-58, 128] */
    float r = lr_reduce_f(xc, &ki);
    float expm1_r = lr_expm1_series_f(r, LR_FMAF(1.0f / 40320.0f, r, 1.0f / 5040.0f));
    lr_bits_f h;
    h.u = (uint32_t)(ki + 126) << 23;
    float y = 2.0f * LR_FMAF(h.f, expm1_r, h.f - 0.5f);
    y = fabsf(x) < 1.0f / 16777216.0f ? x : y;   /* below 2^-24 expm1(x) rounds to x */
    return x != x ? x : y;
}

#endif
