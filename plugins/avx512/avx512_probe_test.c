/*
 * avx512_probe_test.c - the AVX-512 probe's verdict on made-up CPUs, so that every refusal
 * (CPU lacks a feature, OS saves no AVX-512 state, runtime disagrees) is exercised on any
 * machine; then the real probe on this machine, checked against /proc/cpuinfo. Prints one
 * line per case and exits non-zero on any failure. Run by ctest (tests/CMakeLists.txt).
 */
#include <stdio.h>
#include <string.h>

#include "avx512_kernels.h"
#include "avx512_probe.h"

static int failures;

static void expect(const char *name, struct calgae_avx512_cpu c, int want_ok, const char *want_why)
{
    char why[200] = "";
    int ok = calgae_avx512_verdict(&c, why, sizeof why);
    int good = ok == want_ok && (want_ok || strstr(why, want_why) == why);
    printf("%s %s: verdict %d \"%s\"\n", good ? "PASS" : "FAIL", name, ok, why);
    failures += !good;
}

/* A Skylake-SP-like CPU under an OS that saves everything (XCR0 = x87|SSE|AVX|opmask|ZMM). */
static struct calgae_avx512_cpu capable(void)
{
    struct calgae_avx512_cpu c = {.avx512f = 1, .avx512bw = 1, .f16c = 1, .osxsave = 1,
                                  .xcr0_valid = 1, .xcr0 = 0xe7, .runtime_ok = 1};
    return c;
}

static int cpuinfo_has(const char *flag)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return -1;
    char line[8192];
    int found = 0;
    while (!found && fgets(line, sizeof line, f)) {
        if (strncmp(line, "flags", 5) != 0)
            continue;
        for (char *tok = strtok(strchr(line, ':') + 1, " \n"); tok; tok = strtok(NULL, " \n"))
            found |= strcmp(tok, flag) == 0;
        break; /* every core reports the same flags */
    }
    fclose(f);
    return found;
}

int main(void)
{
    struct calgae_avx512_cpu c = capable();
    expect("capable CPU and OS", c, 1, "");
    c.xcr0 = 0x2e7; /* with PKRU state too: extra bits are fine */
    expect("extra XCR0 bits", c, 1, "");

    c = capable();
    c.avx512f = c.avx512bw = 0;
    expect("AVX2-only CPU", c, 0, "CPU lacks avx512f, avx512bw");
    c = capable();
    c.avx512bw = 0;
    expect("Knights Landing-like CPU (no BW)", c, 0, "CPU lacks avx512bw");
    c = capable();
    c.f16c = 0;
    expect("CPU without F16C", c, 0, "CPU lacks f16c");

    c = capable();
    c.osxsave = c.xcr0_valid = 0;
    c.xcr0 = 0;
    expect("OS without XSAVE", c, 0, "OS does not save AVX-512 state (CPUID reports no OSXSAVE)");
    c = capable();
    c.xcr0 = 0x7; /* AVX state only: e.g. a kernel booted with AVX-512 state disabled */
    expect("OS saves AVX but not AVX-512", c, 0, "OS does not save AVX-512 state (XCR0 = 0x7");
    c = capable();
    c.xcr0 = 0xa7; /* ZMM_Hi256 missing */
    expect("OS lacks ZMM_Hi256 state", c, 0, "OS does not save AVX-512 state (XCR0 = 0xa7");
    c = capable();
    c.xcr0 = 0x67; /* Hi16_ZMM missing */
    expect("OS lacks Hi16_ZMM state", c, 0, "OS does not save AVX-512 state (XCR0 = 0x67");
    c = capable();
    c.runtime_ok = 0;
    expect("compiler runtime disagrees", c, 0, "__builtin_cpu_supports reports no");

    /* This machine: the probe must agree with the kernel's view of the CPU. */
    char why[200] = "";
    const int ok = calgae_avx512_probe(why, sizeof why);
    const int f = cpuinfo_has("avx512f"), bw = cpuinfo_has("avx512bw");
    printf("this machine: probe %d \"%s\"; /proc/cpuinfo avx512f %d avx512bw %d\n", ok, why, f, bw);
    if (f == 0 && (ok || strstr(why, "CPU lacks avx512f") != why)) {
        printf("FAIL this machine: no avx512f in /proc/cpuinfo, yet the probe said %d \"%s\"\n", ok,
               why);
        failures++;
    } else if (f == 1 && bw == 1 && !ok) {
        /* Linux lists avx512f only when it saves the state, so the probe must accept */
        printf("FAIL this machine: /proc/cpuinfo has avx512f and avx512bw, probe refused: %s\n",
               why);
        failures++;
    } else {
        printf("PASS this machine\n");
    }

    printf("%s: %d failure(s)\n", failures ? "FAIL" : "PASS", failures);
    return failures != 0;
}
