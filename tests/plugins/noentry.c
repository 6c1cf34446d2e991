/*
 * noentry.c - a valid shared object that is not a Calgae plugin: it exports a symbol, but not
 * calgae_plugin_entry, so the host must refuse it after dlopen, at the dlsym step.
 */
#include "test_plugin.h"

static const calgae_plugin table = {
    .struct_size = sizeof(calgae_plugin),
    .abi_major = CALGAE_ABI_MAJOR,
    .abi_minor = CALGAE_ABI_MINOR,
    .name = "test-noentry",
    .priority = TP_BROKEN_PRIORITY,
    .matvec_f32 = tp_wrong_matvec_f32,
};

/* A near miss of the real name, so only an exact dlsym lookup tells them apart. */
CALGAE_PLUGIN_EXPORT int calgae_plugin_entry_v0(uint32_t host_abi_major, uint32_t host_abi_minor,
                                                const calgae_plugin **out, char *why,
                                                size_t why_len)
{
    (void)host_abi_major;
    (void)host_abi_minor;
    (void)why;
    (void)why_len;
    *out = &table;
    return 0;
}
