/*
 * small.c - a plugin whose table claims to be 8 bytes long: not even the ABI 1.0 header fields
 * (name, probe) fit, so the host must refuse it before reading any of them. The rest of the
 * struct is filled in so that a host that ignored struct_size would load it and show it.
 */
#include "test_plugin.h"

static const calgae_plugin table = {
    .struct_size = 8,
    .abi_major = CALGAE_ABI_MAJOR,
    .abi_minor = CALGAE_ABI_MINOR,
    .name = "test-small",
    .priority = TP_BROKEN_PRIORITY,
    .matvec_f32 = tp_wrong_matvec_f32,
};

TP_DEFINE_ENTRY(table)
