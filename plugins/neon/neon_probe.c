/*
 * neon_probe.c - can this CPU run the NEON plugin, and with which block-product variant?
 * Compiled with plain -march=armv8-a and kept apart from the kernels so that nothing here can
 * be an instruction the CPU lacks. It asks the kernel (getauxval), not the CPU's ID
 * registers: the kernel's hwcaps say what it has enabled for user space, and they are what
 * qemu-user emulates for its -cpu models.
 */
#include <stdio.h>
#include <sys/auxv.h>

#include "neon_internal.h"

/* Older headers may lack the bits; the values are the kernel ABI's (asm/hwcap.h). */
#ifndef HWCAP_ASIMD
#define HWCAP_ASIMD (1UL << 1)
#endif
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1UL << 20)
#endif

int calgae_neon_dotprod;

/* The probe rewrites these (the table holds their addresses): the version's build metadata
 * shows up in `calgae run --verbose`, the isa in listings. They start as the safe variant. */
char calgae_neon_version[32] = "1.0.0+asimd";
char calgae_neon_isa[32] = "neon";
char calgae_neon_description[96] = "AArch64 NEON kernels (int8 block dots: vmull/vpadal)";

int calgae_neon_probe(char *why, size_t why_len)
{
    const unsigned long hw = getauxval(AT_HWCAP);
    if (!(hw & HWCAP_ASIMD)) {
        if (why && why_len > 0)
            snprintf(why, why_len, "no Advanced SIMD (asimd) in the kernel's hwcaps");
        return 0;
    }
    /* written before any kernel can run: the host probes before it creates its workers */
    calgae_neon_dotprod = (hw & HWCAP_ASIMDDP) != 0;
    const int dp = calgae_neon_dotprod;
    snprintf(calgae_neon_version, sizeof calgae_neon_version, "1.0.0+%s", dp ? "dotprod" : "asimd");
    snprintf(calgae_neon_isa, sizeof calgae_neon_isa, "%s", dp ? "neon,dotprod" : "neon");
    snprintf(calgae_neon_description, sizeof calgae_neon_description,
             "AArch64 NEON kernels (int8 block dots: %s)", dp ? "vdotq_s32" : "vmull/vpadal");
    return 1;
}
