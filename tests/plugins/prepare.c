/*
 * prepare.c - a plugin with prepare_weight but no release_weight: whatever it prepared could
 * never be freed, so the host must refuse the pair half-given.
 */
#include "test_plugin.h"

static int prepare_weight(calgae_weight *w, char *why, size_t why_len)
{
    (void)w;
    tp_why(why, why_len, "test plugin prepares nothing");
    return 1;
}

static const calgae_plugin table = {
    .struct_size = sizeof(calgae_plugin),
    .abi_major = CALGAE_ABI_MAJOR,
    .abi_minor = CALGAE_ABI_MINOR,
    .name = "test-prepare",
    .priority = TP_BROKEN_PRIORITY,
    .prepare_weight = prepare_weight,
    .release_weight = NULL,
    .matvec_f32 = tp_wrong_matvec_f32,
};

TP_DEFINE_ENTRY(table)
