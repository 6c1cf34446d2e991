/*
 * test_plugin.h - shared helpers of the test plugins under tests/plugins/: the deliberately
 * broken ones that tests/test_plugins.c and tests/plugin_cli_test.sh expect the host to refuse,
 * and the two good ones it must accept. Like a real plugin, each builds against plugin-api/
 * alone; this header only saves repeating a few lines.
 */
#ifndef CALGAE_TEST_PLUGIN_H
#define CALGAE_TEST_PLUGIN_H

#include "calgae_plugin.h"

/* Copies a reason into the host's buffer, truncated and always NUL-terminated. */
static inline void tp_why(char *why, size_t why_len, const char *msg)
{
    if (!why || why_len == 0)
        return;
    size_t n = strlen(msg);
    if (n >= why_len)
        n = why_len - 1;
    memcpy(why, msg, n);
    why[n] = '\0';
}

/* The product every broken plugin offers, at a priority above any real plugin: should the host
 * ever accept one, it would serve matvec_f32 and its absurd numbers would fail the numeric
 * checks (and the CLI's golden output) as well as the refusal checks. */
#define TP_BROKEN_PRIORITY 1000
static inline int tp_wrong_matvec_f32(const calgae_weight *w, const void *x, float *y,
                                      int64_t row_begin, int64_t row_end)
{
    (void)w;
    (void)x;
    for (int64_t r = row_begin; r < row_end; r++)
        y[r] = 1e30f;
    return CALGAE_KERNEL_OK;
}

/* The entry point of a plugin whose only fault is in its table (or its probe). */
#define TP_DEFINE_ENTRY(table_)                                                                \
    CALGAE_PLUGIN_EXPORT int calgae_plugin_entry(uint32_t host_abi_major,                      \
                                                 uint32_t host_abi_minor,                      \
                                                 const calgae_plugin **out, char *why,         \
                                                 size_t why_len)                               \
    {                                                                                          \
        (void)host_abi_minor;                                                                  \
        if (host_abi_major != CALGAE_ABI_MAJOR) {                                              \
            tp_why(why, why_len, "test plugin speaks ABI major 1 only");                       \
            return 1;                                                                          \
        }                                                                                      \
        *out = &(table_);                                                                      \
        return 0;                                                                              \
    }

#endif
