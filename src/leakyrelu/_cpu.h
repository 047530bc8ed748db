/* Facts about the CPU that the instruction-set flags do not tell. */
#ifndef LEAKYRELU_CPU_H
#define LEAKYRELU_CPU_H

#include <stddef.h>
#include <stdint.h>
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#include <cpuid.h>
#define LR_CPU_X86 1
#endif

/* Elements before p reaches a 64-byte cache line (none where p is not even
 * aligned to its element size). NumPy's arrays of 128 KiB and more start 16
 * bytes past a line, and vectors that split lines cost the loops time
 * (docs/performance.md). */
static inline ptrdiff_t lr_line_head(const void* p, size_t itemsize) {
    uintptr_t at = (uintptr_t)p;
    return at % itemsize ? 0 : (ptrdiff_t)(((64 - at % 64) % 64) / itemsize);
}

static inline int lr_amd(void) {
#if defined(LR_CPU_X86)
    __builtin_cpu_init();
    return __builtin_cpu_is("amd");
#else
    return 0;
#endif
}

/* Whether the CPU runs each 512-bit vector operation as two 256-bit halves:
 * AMD family 19h with AVX-512 (Zen 4; Zen 3 has no AVX-512, Zen 5 is family
 * 1Ah with full-width units). There, 256-bit loops reach memory speed in the
 * L3 sooner (docs/performance.md). */
static inline int lr_splits_512bit(void) {
#if defined(LR_CPU_X86)
    unsigned eax, ebx, ecx, edx;
    if (!lr_amd() || !__get_cpuid(1, &eax, &ebx, &ecx, &edx))
        return 0;
    unsigned family = (eax >> 8) & 0xf;
    if (family == 0xf)
        family += (eax >> 20) & 0xff;
    return family == 0x19 && __builtin_cpu_supports("avx512f");
#else
    return 0;
#endif
}

/* Whether the CPU converts float to bfloat16 in one instruction
 * (AVX512-BF16: CPUID leaf 7, sub-leaf 1, EAX bit 5; Zen 4, Cooper Lake,
 * Sapphire Rapids). */
static inline int lr_cpu_avx512bf16(void) {
#if defined(LR_CPU_X86)
    unsigned eax, ebx, ecx, edx;
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx512bw") || __get_cpuid_max(0, 0) < 7)
        return 0;
    __cpuid_count(7, 1, eax, ebx, ecx, edx);
    return (eax >> 5) & 1;
#else
    return 0;
#endif
}

#endif
