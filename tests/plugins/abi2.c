/*
 * abi2.c - a plugin built for ABI major 2 whose entry point accepts any host anyway: only the
 * host's own check of the table's abi_major stands between it and a misread table.
 */
#include "test_plugin.h"

static const calgae_plugin table = {
    .struct_size = sizeof(calgae_plugin),
    .abi_major = 2,
    .abi_minor = 0,
    .name = "test-abi2",
    .priority = TP_BROKEN_PRIORITY,
    .matvec_f32 = tp_wrong_matvec_f32,
};

CALGAE_PLUGIN_EXPORT int calgae_plugin_entry(uint32_t host_abi_major, uint32_t host_abi_minor,
                                             const calgae_plugin **out, char *why, size_t why_len)
{
    (void)host_abi_major;
    (void)host_abi_minor;
    (void)why;
    (void)why_len;
    *out = &table;
    return 0;
}
