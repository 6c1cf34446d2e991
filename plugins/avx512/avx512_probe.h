/*
 * avx512_probe.h - the probe's decision as a pure function of what CPUID, XGETBV and the
 * compiler runtime reported, so that every refusal path can be tested on any machine
 * (avx512_probe_test.c feeds it made-up CPUs; the real probe feeds it this one).
 */
#ifndef CALGAE_AVX512_PROBE_H
#define CALGAE_AVX512_PROBE_H

#include <stddef.h>
#include <stdint.h>

struct calgae_avx512_cpu {
    int avx512f, avx512bw, avx512vnni, f16c; /* CPUID feature bits */
    int osxsave;                             /* CPUID.1:ECX.OSXSAVE: XGETBV is usable */
    int xcr0_valid;                          /* xcr0 was read (only when osxsave) */
    uint64_t xcr0;                           /* XGETBV(0): state the OS saves */
    int runtime_ok; /* __builtin_cpu_supports("avx512f") && ("avx512bw") */
};

/* 1 if the kernels can run; else 0 and a one-line reason: "CPU lacks ..." or "OS does not
 * save AVX-512 state (...)". */
int calgae_avx512_verdict(const struct calgae_avx512_cpu *c, char *why, size_t why_len);

#endif /* CALGAE_AVX512_PROBE_H */
