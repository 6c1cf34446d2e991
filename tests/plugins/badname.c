/*
 * badname.c - a plugin whose name breaks the [a-z0-9_-]+ rule: names are typed on the command
 * line (--backend) and printed in logs, so the host refuses it rather than guess.
 */
#include "test_plugin.h"

static const calgae_plugin table = {
    .struct_size = sizeof(calgae_plugin),
    .abi_major = CALGAE_ABI_MAJOR,
    .abi_minor = CALGAE_ABI_MINOR,
    .name = "Bad Name!",
    .priority = TP_BROKEN_PRIORITY,
    .matvec_f32 = tp_wrong_matvec_f32,
};

TP_DEFINE_ENTRY(table)
