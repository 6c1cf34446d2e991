/*
 * probe.c - a well-formed plugin whose probe says this CPU cannot run it, as an AVX-512 build
 * would on an AVX2 machine. The host must refuse it with the probe's reason.
 */
#include "test_plugin.h"

static int probe(char *why, size_t why_len)
{
    tp_why(why, why_len, "this CPU lacks avx9000");
    return 0;
}

static const calgae_plugin table = {
    .struct_size = sizeof(calgae_plugin),
    .abi_major = CALGAE_ABI_MAJOR,
    .abi_minor = CALGAE_ABI_MINOR,
    .name = "test-probe",
    .isa = "avx9000",
    .priority = TP_BROKEN_PRIORITY,
    .probe = probe,
    .matvec_f32 = tp_wrong_matvec_f32,
};

TP_DEFINE_ENTRY(table)
