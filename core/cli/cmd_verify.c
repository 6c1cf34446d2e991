/*
 * cmd_verify.c - `calgae backends verify NAME|FILE.so [--reference REF.so] [--seed N]`: open one
 * plugin through the loader's checks, run the conformance suite (core/host/conformance/) on it
 * against the scalar reference, print a table, exit 0 only if no slot failed and it provides at
 * least one.
 *
 * The plugin is opened on its own, not through the registry: a third-party plugin is checked
 * before it is dropped into a plugin folder, and slots it leaves out are reported as falling
 * back, not filled in from other plugins.
 */
#define _POSIX_C_SOURCE 200809L /* access() */
#include <dlfcn.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"
#include "args.h"
#include "conformance.h"

static const char usage[] =
    "Usage: calgae backends verify NAME|FILE.so [options]\n"
    "\n"
    "Check a kernel plugin against the portable scalar plugin, slot by slot, on seeded random\n"
    "inputs, odd sizes, extreme scales, denormals and NaN/Inf. Exit status 0 if no slot fails.\n"
    "NAME is found as calgae-NAME.so in the plugin folders ($CALGAE_PLUGIN_PATH, then beside\n"
    "the binary); a FILE has a '/' or ends in .so.\n"
    "\n"
    "Options:\n"
    "      --reference REF.so  the plugin to compare with (default: calgae-scalar.so in the\n"
    "                          plugin folders: $CALGAE_PLUGIN_PATH, then beside the binary)\n"
    "      --seed N            seed of the random inputs (default 1)\n"
    "  -h, --help              show this help\n";

/* A bare file name is a file in the current folder, not a library for dlopen to search for. */
static void as_file(char *out, size_t n, const char *path)
{
    snprintf(out, n, "%s%s", strchr(path, '/') ? "" : "./", path);
}

static int open_or_say(const char *path, calgae_loaded_plugin *lp)
{
    char file[PATH_MAX + 8];
    calgae_candidate c;
    as_file(file, sizeof file, path);
    if (calgae_plugin_open_file(file, lp, &c) == 0)
        return 0;
    calgae_cli_error("backends verify: %s refused: %s", path, c.reason);
    return -1;
}

/* The first calgae-NAME.so in the default plugin folders; what says what it is for. */
static int find_plugin(const char *name, const char *what, char *out, size_t n)
{
    calgae_backend_options o = {0};
    calgae_default_plugin_dirs(&o);
    char searched[1024] = "";
    for (int i = 0; i < o.n_dirs; i++) {
        snprintf(out, n, "%s/calgae-%s.so", o.dirs[i], name);
        if (access(out, F_OK) == 0)
            return 0;
        size_t used = strlen(searched);
        snprintf(searched + used, sizeof searched - used, "%s%s", i ? ":" : "", o.dirs[i]);
    }
    calgae_cli_error("backends verify: no calgae-%s.so %s (searched %s)", name, what,
                 searched[0] ? searched : "no folders");
    return -1;
}

/* The loader's rule: a path has a '/' or ends in .so; anything else is a plugin name. */
static int is_path(const char *s)
{
    size_t n = strlen(s);
    return strchr(s, '/') != NULL || (n > 3 && strcmp(s + n - 3, ".so") == 0);
}

static const char *or_q(const char *s) { return s ? s : "?"; }

int calgae_cmd_verify(int argc, char **argv)
{
    static const struct option longs[] = {{"reference", required_argument, 0, 'r'},
                                           {"seed", required_argument, 0, 's'},
                                           {"help", no_argument, 0, 'h'},
                                           {0, 0, 0, 0}};
    const char *ref_arg = NULL;
    uint64_t seed = 1;
    int c;
    if (calgae_args_check("backends verify", &argc, argv, ":h", longs) != 0)
        return 2;
    while ((c = getopt_long(argc, argv, ":h", longs, NULL)) != -1) {
        switch (c) {
        case 'r': ref_arg = optarg; break;
        case 's': if (calgae_parse_u64("--seed", optarg, &seed)) return 2; break;
        case 'h': fputs(usage, stdout); return 0;
        case ':':
        default: return calgae_option_error("backends verify", c, argv, longs);
        }
    }
    if (optind != argc - 1) {
        calgae_cli_error("backends verify: give exactly one plugin, by name or file (see 'calgae backends verify --help')");
        return 2;
    }
    char path[PATH_MAX + 64], ref_path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s", argv[optind]);
    if (!is_path(path) && find_plugin(argv[optind], "of that name", path, sizeof path) != 0)
        return 1;
    if (ref_arg)
        snprintf(ref_path, sizeof ref_path, "%s", ref_arg);
    else if (find_plugin("scalar", "to compare with; give one with --reference", ref_path,
                         sizeof ref_path) != 0)
        return 1;

    calgae_loaded_plugin lp, lr;
    if (open_or_say(path, &lp) != 0)
        return 1;
    if (open_or_say(ref_path, &lr) != 0) {
        dlclose(lp.handle);
        return 1;
    }
    const calgae_plugin *p = lp.table, *ref = lr.table;
    printf("verifying %s %s (%s)\nagainst %s %s (%s), seed %llu\n\n", p->name, or_q(p->version),
           path, ref->name, or_q(ref->version), ref_path, (unsigned long long)seed);
    fflush(stdout); /* a crashing kernel still leaves the header */

    calgae_conf_result res[CALGAE_CONF_SLOTS];
    int n = calgae_conformance_run(p, ref, seed, res, CALGAE_CONF_SLOTS);
    int count[4] = {0};
    printf("%-14s %-12s %10s %10s %6s\n", "slot", "result", "worst", "tolerance", "calls");
    for (int i = 0; i < n; i++) {
        const calgae_conf_result *r = &res[i];
        count[r->status]++;
        if (r->status == CALGAE_CONF_ABSENT) {
            printf("%-14s not provided (falls back to another plugin)\n", r->slot);
            continue;
        }
        if (r->status == CALGAE_CONF_DECLINED) {
            printf("%-14s declined every call (falls back to another plugin) %6d\n", r->slot, r->cases);
            continue;
        }
        printf("%-14s %-12s %10.3g %10.3g %6d\n", r->slot, calgae_conf_status_name(r->status),
               r->worst, r->tol, r->cases);
        if (r->detail[0])
            printf("%14s %s\n", "", r->detail);
    }
    int provided = n - count[CALGAE_CONF_ABSENT];
    if (provided > 0 && count[CALGAE_CONF_DECLINED] == provided)
        printf("\n%s declined every call: it provides slots but never computes anything\n", p->name);
    if (provided == 0) /* nothing was checked: a pass would say nothing */
        printf("\n%s provides no kernel slot: nothing to verify, which is a failure\n", p->name);
    printf("\n%s: %d passed, %d failed, %d not provided, %d declined\n", p->name,
           count[CALGAE_CONF_PASS], count[CALGAE_CONF_FAIL], count[CALGAE_CONF_ABSENT],
           count[CALGAE_CONF_DECLINED]);
    dlclose(lr.handle);
    dlclose(lp.handle);
    return count[CALGAE_CONF_FAIL] || provided == 0 ? 1 : 0;
}
