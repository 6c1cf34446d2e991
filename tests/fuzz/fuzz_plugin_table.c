/*
 * fuzz_plugin_table.c - libFuzzer target: the loader's check of a plugin's function table
 * (calgae_plugin_check_table, which calgae_plugin_open_file runs between the handshake and the
 * probe), fed tables of any struct_size, ABI version, strings, priority, flags and slot
 * pointers. The table is built in a buffer of exactly struct_size bytes (as a plugin of another
 * minor would have it), so a read past the table's end is caught; slot pointers are arbitrary
 * values that are never called, so a check that called one would crash. An accepted table then
 * goes through what the host reads of it later: slot ownership, the description, and the
 * flags read only when struct_size covers them (calgae_backends_prepare_concurrent).
 *
 * Input: struct_size (u16), abi_major, abi_minor (u16 each), priority (i32), flags (u64), a
 * byte saying which strings are NULL, a byte per slot saying NULL or not, then the name,
 * version, description and isa strings separated by NUL.
 */
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "fuzz_common.h"

typedef void (*fn)(void);

static uint64_t take(const uint8_t **p, size_t *n, size_t k)
{
    uint64_t v = 0;
    for (size_t i = 0; i < k && *n; i++, (*p)++, (*n)--)
        v |= (uint64_t)**p << (8 * i);
    return v;
}

/* The next NUL-terminated string of the input (the rest when there is no NUL), copied. */
static char *take_str(const uint8_t **p, size_t *n)
{
    const uint8_t *z = memchr(*p, 0, *n);
    size_t len = z ? (size_t)(z - *p) : *n;
    char *s = malloc(len + 1);
    FUZZ_CHECK(s != NULL, "out of memory");
    memcpy(s, *p, len);
    s[len] = '\0';
    *p += z ? len + 1 : len;
    *n -= z ? len + 1 : len;
    return s;
}

static int one_input(const uint8_t *data, size_t size)
{
    const uint8_t *p = data;
    size_t n = size;
    calgae_plugin full;
    memset(&full, 0, sizeof full);
    const uint32_t struct_size = (uint32_t)take(&p, &n, 2);
    full.struct_size = struct_size;
    full.abi_major = (uint16_t)take(&p, &n, 2);
    full.abi_minor = (uint16_t)take(&p, &n, 2);
    full.priority = (int32_t)take(&p, &n, 4);
    full.flags = take(&p, &n, 8);
    const unsigned null_strs = (unsigned)take(&p, &n, 1);
    /* the function pointers: NULL, or a value that is no function at all */
    const size_t first_fn = offsetof(calgae_plugin, probe);
    const size_t last_fn = offsetof(calgae_plugin, flags);
    for (size_t off = first_fn; off < last_fn; off += sizeof(fn)) {
        uintptr_t v = take(&p, &n, 1) & 1 ? (uintptr_t)0xdead0000u + off : 0;
        memcpy((char *)&full + off, &v, sizeof v);
    }
    char *strs[4];
    for (int i = 0; i < 4; i++)
        strs[i] = take_str(&p, &n);
    full.name = null_strs & 1 ? NULL : strs[0];
    full.version = null_strs & 2 ? NULL : strs[1];
    full.description = null_strs & 4 ? NULL : strs[2];
    full.isa = null_strs & 8 ? NULL : strs[3];

    /* struct_size bytes of table, at least its own first field */
    const size_t alloc = struct_size < sizeof(uint32_t) ? sizeof(uint32_t) : struct_size;
    calgae_plugin *t = calloc(1, alloc);
    FUZZ_CHECK(t != NULL, "out of memory");
    memcpy(t, &full, alloc < sizeof full ? alloc : sizeof full);

    calgae_candidate c;
    memset(&c, 0, sizeof c);
    int rc = calgae_plugin_check_table(t, &c);
    FUZZ_CHECK(rc == 0 || c.reason[0], "refused without a reason");
    FUZZ_CHECK(memchr(c.reason, 0, sizeof c.reason) && memchr(c.name, 0, sizeof c.name) &&
                   memchr(c.version, 0, sizeof c.version) && memchr(c.isa, 0, sizeof c.isa) &&
                   memchr(c.description, 0, sizeof c.description),
               "unterminated candidate strings");
    if (rc == 0) {
        FUZZ_CHECK(struct_size >= offsetof(calgae_plugin, quantize_q8_0), "small table taken");
        FUZZ_CHECK(full.abi_major == CALGAE_ABI_MAJOR, "ABI major %u taken", full.abi_major);
        FUZZ_CHECK(c.have_table && strcmp(c.name, full.name) == 0, "name not recorded");
        FUZZ_CHECK((full.prepare_weight == NULL) == (full.release_weight == NULL),
                   "half a prepare/release pair taken");
        /* the host's later reads of an accepted table, through a registry of this one plugin */
        static calgae_backends b;
        memset(&b, 0, sizeof b);
        b.n_plugins = 1;
        b.plugins[0].table = t;
        for (int s = 0; s < CALGAE_SLOT_COUNT; s++) {
            b.chain_len[s] = 1;
            b.chain[s][0] = 0;
            FUZZ_CHECK(strcmp(calgae_backends_slot_owner(&b, s), full.name) == 0, "owner");
        }
        char desc[256];
        calgae_backends_describe(&b, desc, sizeof desc);
        calgae_weight w;
        memset(&w, 0, sizeof w);
        w.type = CALGAE_TYPE_Q4_0;
        const int conc = calgae_backends_prepare_concurrent(&b, &w);
        const int covers = struct_size >= offsetof(calgae_plugin, flags) + sizeof full.flags;
        FUZZ_CHECK(conc == (!full.prepare_weight ||
                            (covers && (full.flags & CALGAE_PLUGIN_CONCURRENT_PREPARE))),
                   "concurrent %d with struct_size %u, flags %llx", conc, struct_size,
                   (unsigned long long)full.flags);
    } else {
        FUZZ_CHECK(strstr(c.reason, "too small") || strstr(c.reason, "ABI major") ||
                       strstr(c.reason, "name") || strstr(c.reason, "prepare_weight"),
                   "unexpected reason: %s", c.reason);
    }
    free(t);
    for (int i = 0; i < 4; i++)
        free(strs[i]);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_begin(size);
    one_input(data, size);
    fuzz_end();
    return 0;
}
