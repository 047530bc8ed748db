/* Half-precision storage: float16 and bfloat16 are loaded, widened to float
 * in registers, computed in float and rounded once on the way out.
 *
 * With _Float16 (GCC 12+, Clang 15+) the conversions are single
 * instructions where the instruction set has them (F16C, AVX-512), which
 * the array loops vectorise; elsewhere a portable bit-level conversion.
 * bfloat16 is the top half of a float: widening is a shift, narrowing
 * rounds to nearest even; a NaN stays a (quiet) NaN.
 */
#ifndef LEAKYRELU_HALF_H
#define LEAKYRELU_HALF_H

#include <stdint.h>
#include <string.h>

#if defined(__FLT16_MAX__) && !defined(LEAKYRELU_PORTABLE_HALF)
typedef _Float16 lr_half;
static inline float lr_half_to_float(lr_half h) { return (float)h; }
static inline lr_half lr_float_to_half(float f) { return (lr_half)f; }
#else
typedef uint16_t lr_half;
static inline float lr_half_to_float(lr_half h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
    uint32_t bits;
    float f;
    if (exp == 0x1fu) {                 /* inf, NaN */
        bits = sign | 0x7f800000u | (mant << 13);
    } else if (exp != 0) {              /* normal */
        bits = sign | ((exp + 112u) << 23) | (mant << 13);
    } else {                            /* zero, subnormal: mant * 2^-24, exact */
        f = (float)mant * 5.9604644775390625e-08f;
        return sign ? -f : f;
    }
    memcpy(&f, &bits, 4);
    return f;
}
static inline lr_half lr_float_to_half(float f) {
    uint32_t u, sign, au;
    memcpy(&u, &f, 4);
    sign = (u >> 16) & 0x8000u;
    au = u & 0x7fffffffu;
    if (au > 0x7f800000u)               /* NaN: keep the top payload bits, quiet */
        return (lr_half)(sign | 0x7e00u | (au >> 13));
    if (au >= 0x477ff000u)              /* rounds to inf */
        return (lr_half)(sign | 0x7c00u);
    if (au < 0x38800000u) {             /* subnormal or zero: let float rounding do it */
        float a;
        memcpy(&a, &au, 4);
        a += 0.5f;                      /* 0.5 = 2^-1 puts 2^-24 at the last place */
        memcpy(&au, &a, 4);
        return (lr_half)(sign | (au - 0x3f000000u));
    }
    au += 0xc8000fffu + ((au >> 13) & 1u);   /* rebias 127 -> 15 and round to nearest even */
    return (lr_half)(sign | (au >> 13));
}
#endif

typedef uint16_t lr_bf16;

static inline float lr_bf16_to_float(lr_bf16 b) {
    uint32_t u = (uint32_t)b << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static inline lr_bf16 lr_float_to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
    uint32_t quiet_nan = (u >> 16) | 0x40u;
    return (lr_bf16)((u & 0x7fffffffu) > 0x7f800000u ? quiet_nan : rounded);
}

#endif
