/*
 * avx512_probe.c - can this CPU, under this OS, run the AVX-512 kernels? Compiled WITHOUT any
 * AVX-512 flag (see CMakeLists.txt): it runs on every x86-64 CPU, before any kernel.
 *
 * Two separate questions, each with its own reason, because the fixes differ (another machine
 * vs. another kernel or hypervisor setting):
 * - the CPU: CPUID leaf 7 EBX avx512f (bit 16) and avx512bw (bit 30), leaf 1 ECX f16c (bit 29);
 * - the OS: CPUID leaf 1 ECX osxsave (bit 27) says XGETBV may be executed, and XCR0 must have
 *   SSE and AVX state (bits 1-2) and opmask, ZMM_Hi256 and Hi16_ZMM state (bits 5-7) enabled,
 *   else the kernel does not save the registers across context switches and the first
 *   AVX-512 instruction faults (#UD) even on a capable CPU.
 * GCC's libgcc (cpuinfo.h, get_available_features: XCR0 & 0xe6) and LLVM's compiler-rt
 * (cpu_model.c: (XCR0 & 6) == 6, then (XCR0 & 0xe0) == 0xe0) make the same OS check inside
 * __builtin_cpu_supports, but fold it into one "no", so it cannot say which is missing. It is
 * still consulted last, as a cross-check: both must agree before the plugin is accepted.
 */
#include <cpuid.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "avx512_kernels.h"
#include "avx512_probe.h"

/* XCR0 state components the kernels need: SSE, AVX, opmask, ZMM_Hi256, Hi16_ZMM. */
#define XCR0_AVX512_STATE 0xe6u

static uint64_t read_xcr0(void)
{
    /* the mnemonic, not the _xgetbv intrinsic, which would need -mxsave on this file */
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

static void read_cpu(struct calgae_avx512_cpu *c)
{
    unsigned a = 0, b = 0, cx = 0, d = 0;
    memset(c, 0, sizeof *c);
    if (__get_cpuid(1, &a, &b, &cx, &d)) {
        c->osxsave = (cx & bit_OSXSAVE) != 0;
        c->f16c = (cx & bit_F16C) != 0;
    }
    if (__get_cpuid_max(0, NULL) >= 7) {
        __cpuid_count(7, 0, a, b, cx, d);
        c->avx512f = (b & bit_AVX512F) != 0;
        c->avx512bw = (b & bit_AVX512BW) != 0;
        c->avx512vnni = (cx & bit_AVX512VNNI) != 0;
    }
    /* XGETBV raises #UD unless the OS has set CR4.OSXSAVE, which CPUID mirrors */
    c->xcr0 = c->osxsave ? read_xcr0() : 0;
    c->xcr0_valid = c->osxsave;
    __builtin_cpu_init();
    c->runtime_ok = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
}

int calgae_avx512_verdict(const struct calgae_avx512_cpu *c, char *why, size_t why_len)
{
    char lacks[64] = "";
    if (!c->avx512f)
        strcat(lacks, ", avx512f");
    if (!c->avx512bw)
        strcat(lacks, ", avx512bw");
    if (!c->f16c)
        strcat(lacks, ", f16c");
    if (lacks[0]) {
        snprintf(why, why_len, "CPU lacks %s", lacks + 2);
        return 0;
    }
    if (!c->xcr0_valid) {
        snprintf(why, why_len, "OS does not save AVX-512 state (CPUID reports no OSXSAVE)");
        return 0;
    }
    if ((c->xcr0 & XCR0_AVX512_STATE) != XCR0_AVX512_STATE) {
        snprintf(why, why_len,
                 "OS does not save AVX-512 state (XCR0 = 0x%llx, needs bits 1-2 and 5-7)",
                 (unsigned long long)c->xcr0);
        return 0;
    }
    if (!c->runtime_ok) {
        snprintf(why, why_len, "__builtin_cpu_supports reports no avx512f/avx512bw although "
                 "CPUID and XCR0 do");
        return 0;
    }
    return 1;
}

int calgae_avx512_probe(char *why, size_t why_len)
{
    struct calgae_avx512_cpu c;
    read_cpu(&c);
    char reason[200] = "";
    int ok = calgae_avx512_verdict(&c, reason, sizeof reason);
    if (!ok && why && why_len > 0)
        snprintf(why, why_len, "%s", reason);
    return ok;
}

int calgae_avx512_cpu_has_vnni(void)
{
    struct calgae_avx512_cpu c;
    read_cpu(&c);
    return c.avx512vnni;
}
