/*
 * declined.c - a plugin whose entry point refuses the handshake: it pretends to need a newer
 * host (ABI minor 7) and says so. The host must pass that reason on and not read the table.
 */
#include "test_plugin.h"

#define NEEDED_MINOR 7

static const calgae_plugin table = {
    .struct_size = sizeof(calgae_plugin),
    .abi_major = CALGAE_ABI_MAJOR,
    .abi_minor = NEEDED_MINOR,
    .name = "test-declined",
    .priority = TP_BROKEN_PRIORITY,
    .matvec_f32 = tp_wrong_matvec_f32,
};

CALGAE_PLUGIN_EXPORT int calgae_plugin_entry(uint32_t host_abi_major, uint32_t host_abi_minor,
                                             const calgae_plugin **out, char *why, size_t why_len)
{
    if (host_abi_major != CALGAE_ABI_MAJOR || host_abi_minor < NEEDED_MINOR) {
        tp_why(why, why_len, "needs host ABI 1.7 or newer");
        /* a table handed out together with a refusal must still be ignored */
        *out = &table;
        return 1;
    }
    *out = &table;
    return 0;
}
