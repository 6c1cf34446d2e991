/*
 * probe.c - can this CPU and OS run the avx2 plugin? (calgae_plugin.h: probe)
 *
 * Compiled without -mavx2 and friends: it must run, and say no, on any x86-64.
 *
 * Two questions, asked in an order that gives the right reason:
 *  1. Does the CPU implement AVX2, FMA and F16C? CPUID leaf 1 ECX (FMA bit 12, AVX bit 28,
 *     F16C bit 29) and leaf 7 EBX (AVX2 bit 5).
 *  2. Does the OS save the YMM registers on a context switch? Only then may AVX be used:
 *     CPUID.1:ECX.OSXSAVE (bit 27) says XGETBV is enabled, and XCR0 bits 1 (SSE) and 2 (AVX)
 *     say the OS saves both halves of the YMM state.
 * Then __builtin_cpu_supports gets the last word, so that a compiler runtime that knows of a
 * CPU with a broken feature (libgcc masks some) is obeyed.
 *
 * Why both: the builtins already fold the OS check into their answers, but not uniformly.
 * libgcc (gcc/common/config/i386/cpuinfo.h, get_available_features) reports AVX, FMA, F16C and
 * AVX2 only if XGETBV shows XCR0 & 6 == 6; compiler-rt (cpu_model.c, getAvailableFeatures)
 * guards AVX and AVX2 the same way but reports FMA from the CPUID bit alone. And a builtin that
 * says "no avx2" because the OS disabled YMM would make us blame the CPU. So the XGETBV check
 * is done here, explicitly, with inline assembly guarded by the OSXSAVE bit (XGETBV faults
 * with #UD when CR4.OSXSAVE is clear).
 */
#include <stdio.h>

#include "kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static int fail(char *why, size_t why_len, const char *msg)
{
    if (why && why_len > 0)
        snprintf(why, why_len, "%s", msg);
    return 0;
}

static uint64_t read_xcr0(void)
{
    uint32_t lo, hi;
    __asm__ __volatile__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

int avx2_probe(char *why, size_t why_len)
{
    unsigned a, b, c1, d;
    if (!__get_cpuid(1, &a, &b, &c1, &d))
        return fail(why, why_len, "CPU lacks CPUID leaf 1");
    unsigned b7 = 0, c7 = 0;
    if (__get_cpuid_max(0, NULL) >= 7)
        __cpuid_count(7, 0, a, b7, c7, d);
    (void)c7;

    if (!(c1 & (1u << 28)))
        return fail(why, why_len, "CPU lacks avx");
    if (!(b7 & (1u << 5)))
        return fail(why, why_len, "CPU lacks avx2");
    if (!(c1 & (1u << 12)))
        return fail(why, why_len, "CPU lacks fma");
    if (!(c1 & (1u << 29)))
        return fail(why, why_len, "CPU lacks f16c");

    if (!(c1 & (1u << 27)))
        return fail(why, why_len, "OS does not save AVX state (XSAVE not enabled: OSXSAVE clear)");
    if ((read_xcr0() & 6u) != 6u)
        return fail(why, why_len, "OS does not save AVX state (XCR0 lacks the SSE/YMM bits)");

    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2"))
        return fail(why, why_len, "CPU lacks avx2 (says the compiler runtime)");
    if (!__builtin_cpu_supports("fma"))
        return fail(why, why_len, "CPU lacks fma (says the compiler runtime)");
#if !defined(__clang__)
    /* clang 14 has no "f16c" here (compiler-rt's cpu_model does not track it): there the
     * CPUID bit above, with the YMM check, is the whole answer */
    if (!__builtin_cpu_supports("f16c"))
        return fail(why, why_len, "CPU lacks f16c (says the compiler runtime)");
#endif
    return 1;
}

#else

int avx2_probe(char *why, size_t why_len)
{
    if (why && why_len > 0)
        snprintf(why, why_len, "not an x86 CPU");
    return 0;
}

#endif
