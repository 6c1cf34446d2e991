/*
 * conformance_main.c - the conformance suite as a plain program, for ctest and for running a
 * cross-built plugin under qemu:
 *
 *     conformance_main PLUGIN.so [REFERENCE.so] [SEED]
 *
 * REFERENCE.so defaults to calgae-scalar.so in PLUGIN.so's folder (printed, so the run says
 * what it compared against). Prints one line per slot, then exactly "N passed, M failed".
 * Exit 0 if nothing failed, 1 if a slot failed, the plugin provides no slot at all, or a plugin
 * could not be opened, 2 on usage
 * errors, 77 (ctest's skip code) if the plugin's probe says this CPU cannot run it.
 * Depends on plugin-api, libc, libm and libdl only: it has its own small loader, not the host's.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calgae_plugin.h"
#include "conformance.h"

#define EXIT_SKIP 77

/* dlopen searches the library path for a bare name; a name on the command line means a file. */
static void file_path(char *out, size_t n, const char *path)
{
    snprintf(out, n, "%s%s", strchr(path, '/') ? "" : "./", path);
}

/* Opens a plugin and runs the handshake and probe. Returns 0, 1 (refused) or EXIT_SKIP. */
static int open_plugin(const char *path, const calgae_plugin **table)
{
    char file[4096], why[256] = "";
    file_path(file, sizeof file, path);
    void *h = dlopen(file, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fprintf(stderr, "conformance: %s: cannot load: %s\n", path, dlerror());
        return 1;
    }
    void *sym = dlsym(h, CALGAE_PLUGIN_ENTRY_SYMBOL);
    calgae_plugin_entry_fn entry;
    if (!sym) {
        fprintf(stderr, "conformance: %s: no %s symbol\n", path, CALGAE_PLUGIN_ENTRY_SYMBOL);
        return 1;
    }
    memcpy(&entry, &sym, sizeof entry);
    const calgae_plugin *t = NULL;
    if (entry(CALGAE_ABI_MAJOR, CALGAE_ABI_MINOR, &t, why, sizeof why) != 0 || !t) {
        why[sizeof why - 1] = '\0';
        fprintf(stderr, "conformance: %s: plugin declined: %s\n", path, why);
        return 1;
    }
    if (t->struct_size < offsetof(calgae_plugin, prepare_weight) || t->abi_major != CALGAE_ABI_MAJOR) {
        fprintf(stderr, "conformance: %s: table of %u bytes, ABI major %u: not usable\n", path,
                t->struct_size, t->abi_major);
        return 1;
    }
    if (t->probe && !t->probe(why, sizeof why)) {
        why[sizeof why - 1] = '\0';
        printf("%s: this CPU cannot run it (%s): skipped\n", path, why);
        return EXIT_SKIP;
    }
    *table = t; /* the library stays loaded until exit */
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 4) {
        fprintf(stderr, "usage: %s PLUGIN.so [REFERENCE.so] [SEED]\n", argv[0]);
        return 2;
    }
    char ref_path[4096];
    if (argc >= 3) {
        snprintf(ref_path, sizeof ref_path, "%s", argv[2]);
    } else {
        const char *slash = strrchr(argv[1], '/');
        int dir_len = slash ? (int)(slash - argv[1]) : 1;
        snprintf(ref_path, sizeof ref_path, "%.*s/calgae-scalar.so", dir_len, slash ? argv[1] : ".");
    }
    uint64_t seed = 1;
    if (argc == 4) {
        char *end;
        seed = strtoull(argv[3], &end, 10);
        if (*end || end == argv[3]) {
            fprintf(stderr, "conformance: seed '%s' is not a number\n", argv[3]);
            return 2;
        }
    }
    const calgae_plugin *p, *ref;
    int rc = open_plugin(argv[1], &p);
    if (rc != 0)
        return rc;
    if (open_plugin(ref_path, &ref) != 0)
        return 1;
    printf("plugin %s %s (%s) against %s %s (%s), seed %llu\n", p->name,
           p->version ? p->version : "?", argv[1], ref->name, ref->version ? ref->version : "?",
           ref_path, (unsigned long long)seed);
    /* which kernels: a plugin may pick among tables at load (avx512: VNNI or not) */
    printf("isa %s: %s\n", p->isa && *p->isa ? p->isa : "portable",
           p->description ? p->description : "");

    calgae_conf_result res[CALGAE_CONF_SLOTS];
    int n = calgae_conformance_run(p, ref, seed, res, CALGAE_CONF_SLOTS);
    int passed = 0, failed = 0, declined = 0, provided = 0;
    for (int i = 0; i < n; i++) {
        const calgae_conf_result *r = &res[i];
        passed += r->status == CALGAE_CONF_PASS;
        failed += r->status == CALGAE_CONF_FAIL;
        declined += r->status == CALGAE_CONF_DECLINED;
        provided += r->status != CALGAE_CONF_ABSENT;
        printf("%-14s %-12s", r->slot, calgae_conf_status_name(r->status));
        if ((r->status == CALGAE_CONF_PASS || r->status == CALGAE_CONF_FAIL) && r->cases > r->declined)
            printf(" worst %.3g tol %.3g, %d calls", r->worst, r->tol, r->cases);
        printf("%s%s\n", r->detail[0] ? "  " : "", r->detail);
    }
    if (provided > 0 && declined == provided)
        printf("%s declined every call it was given: it never computes anything\n", p->name);
    if (provided == 0) /* nothing was checked: a pass would say nothing */
        printf("%s provides no kernel slot: nothing to verify, which is a failure\n", p->name);
    printf("%d passed, %d failed\n", passed, failed);
    return failed || provided == 0 ? 1 : 0;
}
