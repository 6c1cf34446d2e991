/*
 * cmd_backends.c - `calgae backends`: every plugin file the loader looked at, whether this
 * machine can use it (and why not), what it provides and serves, and which plugin serves each
 * kernel slot, under the same configuration `calgae run` reads. `calgae backends verify ...`
 * is passed on to calgae_cmd_verify (cmd_verify.c).
 */
#define _POSIX_C_SOURCE 200809L
#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "args.h"
#include "cli.h"
#include "config.h"
#include "session.h"
#include "pool.h"
#include "types.h"
#include "util.h"

static const char usage[] =
    "Usage: calgae backends [--config FILE] [--verbose] [--model M [--threads N]] [--calibrate MODE]\n"
    "       calgae backends verify NAME|FILE.so [options]   (see 'calgae backends verify --help')\n"
    "\n"
    "List every kernel plugin file found, in the order the loader looked at them: its name,\n"
    "version, ABI, priority and instruction sets, whether this CPU can use it and why not,\n"
    "how many kernel slots it provides and how many it serves now; then, per slot, the plugin\n"
    "that serves it and the fallbacks that take the shapes it declines. The configuration file\n"
    "is read as 'calgae run' reads it. Last, calibration's figures (the product plugins timed\n"
    "on this machine, cached in $XDG_CACHE_HOME/calgae/calibration) and the choice they make;\n"
    "with --model, the slots as that model's load chose them (calibrating it if needed).\n"
    "\n"
    "Options:\n"
    "      --config FILE   settings file (default: $CALGAE_CONFIG, else ./calgae.ini, else\n"
    "                      $XDG_CONFIG_HOME/calgae/calgae.ini; only the first is read)\n"
    "  -m, --model M       load M as 'calgae run' would and show its slots and calibration\n"
    "  -t, --threads N     threads for --model (default: [run] threads, else physical cores)\n"
    "      --calibrate MODE  auto, redo (measure again) or off, for --model\n"
    "  -v, --verbose       log each loading decision, and name each plugin's slots\n"
    "  -h, --help          show this help\n";

_Static_assert(CALGAE_SLOT_COUNT <= 64, "slot sets are kept as 64-bit masks");

enum { C_NAME, C_VERSION, C_ABI, C_PRIO, C_ISA, C_USABLE, C_PROVIDES, C_SERVES, N_COLS };
static const char *const heads[N_COLS] = {"NAME", "VERSION", "ABI", "PRIO",
                                          "ISA",  "USABLE",  "PROVIDES", "SERVES"};

struct row {
    char col[N_COLS][128];
    const char *file;
    char note[600];     /* why not usable ("" if usable) */
    uint64_t provided;  /* slot bit mask */
    uint64_t served;
    int known_slots;    /* provided is known */
};

static int loaded_index(const calgae_backends *b, const char *path)
{
    for (int i = 0; i < b->n_plugins; i++)
        if (strcmp(b->plugins[i].path, path) == 0)
            return i;
    return -1;
}

/* Every plugin providing slot s is in its chain, served or not. */
static uint64_t chain_mask(const calgae_backends *b, int plugin)
{
    uint64_t m = 0;
    for (int s = 0; s < CALGAE_SLOT_COUNT; s++)
        for (int i = 0; i < b->chain_len[s]; i++)
            if (b->chain[s][i] == plugin)
                m |= (uint64_t)1 << s;
    return m;
}

/* A denied or duplicate plugin passed every check but was let go, so its slots are not in
 * any chain. Ask the loader itself, with that file forced first and no deny list: the file
 * then heads the chain of every slot it provides (a duplicate of it is skipped instead). */
static int slots_of_file(const char *path, const calgae_backend_options *o, uint64_t *mask)
{
    calgae_backends *t = calloc(1, sizeof *t);
    if (!t)
        return 0;
    calgae_backend_options fo;
    memset(&fo, 0, sizeof fo);
    memcpy(fo.dirs, o->dirs, sizeof fo.dirs);
    fo.n_dirs = o->n_dirs;
    fo.forced = path;
    char err[CALGAE_ERR_LEN];
    int ok = calgae_backends_load(t, &fo, err, sizeof err) == 0 && t->n_plugins > 0 &&
             t->plugins[0].forced && strcmp(t->plugins[0].path, path) == 0;
    if (ok)
        *mask = chain_mask(t, 0);
    if (t->n_plugins > 0)
        calgae_backends_free(t);
    free(t);
    return ok;
}

static int popcount(uint64_t m)
{
    int n = 0;
    for (; m; m &= m - 1)
        n++;
    return n;
}

static void fill_row(struct row *r, const calgae_candidate *k, const calgae_backends *b,
                     const calgae_backend_options *o, const calgae_settings *cfg)
{
    memset(r, 0, sizeof *r);
    r->file = k->path;
    const int t = k->have_table;
    snprintf(r->col[C_NAME], sizeof r->col[0], "%s", t && k->name[0] ? k->name : "?");
    snprintf(r->col[C_VERSION], sizeof r->col[0], "%s", t && k->version[0] ? k->version : "?");
    if (t) {
        snprintf(r->col[C_ABI], sizeof r->col[0], "%u.%u", k->abi_major, k->abi_minor);
        snprintf(r->col[C_PRIO], sizeof r->col[0], "%d", k->priority);
    } else {
        strcpy(r->col[C_ABI], "?");
        strcpy(r->col[C_PRIO], "?");
    }
    snprintf(r->col[C_ISA], sizeof r->col[0], "%s", !t ? "?" : k->isa[0] ? k->isa : "portable");
    strcpy(r->col[C_USABLE], k->status == CALGAE_CAND_LOADED ? "yes" : "no");

    int li = k->status == CALGAE_CAND_LOADED ? loaded_index(b, k->path) : -1;
    if (li >= 0) {
        r->provided = chain_mask(b, li);
        r->known_slots = 1;
        for (int s = 0; s < CALGAE_SLOT_COUNT; s++)
            if (b->chain_len[s] > 0 && b->chain[s][0] == li)
                r->served |= (uint64_t)1 << s;
    } else if (k->status == CALGAE_CAND_DENIED || k->status == CALGAE_CAND_DUPLICATE) {
        r->known_slots = slots_of_file(k->path, o, &r->provided);
    }
    if (r->known_slots)
        snprintf(r->col[C_PROVIDES], sizeof r->col[0], "%d/%d", popcount(r->provided),
                 CALGAE_SLOT_COUNT);
    else
        strcpy(r->col[C_PROVIDES], "-");
    if (li >= 0)
        snprintf(r->col[C_SERVES], sizeof r->col[0], "%d/%d", popcount(r->served),
                 CALGAE_SLOT_COUNT);
    else
        strcpy(r->col[C_SERVES], "-");

    switch (k->status) {
    case CALGAE_CAND_REFUSED:
        snprintf(r->note, sizeof r->note, "refused: %s", k->reason);
        break;
    case CALGAE_CAND_DUPLICATE:
        snprintf(r->note, sizeof r->note, "duplicate: %s", k->reason);
        break;
    case CALGAE_CAND_DENIED: {
        int line = 0;
        for (int i = 0; i < cfg->n_deny; i++)
            if (strcmp(cfg->deny[i].name, k->name) == 0)
                line = cfg->deny[i].line;
        if (line)
            snprintf(r->note, sizeof r->note, "denied by %.500s:%d", cfg->path, line);
        else
            snprintf(r->note, sizeof r->note, "%s", k->reason);
        break;
    }
    default:
        break;
    }
}

static void print_slot_list(const char *label, uint64_t mask)
{
    printf("    %s:", label);
    if (!mask)
        printf(" none");
    for (int s = 0, first = 1; s < CALGAE_SLOT_COUNT; s++) {
        if (mask & ((uint64_t)1 << s)) {
            printf("%s %s", first ? "" : ",", calgae_slot_name(s));
            first = 0;
        }
    }
    putchar('\n');
}

static void print_table(const struct row *rows, int n, const calgae_backends *b, int verbose)
{
    size_t w[N_COLS];
    for (int c = 0; c < N_COLS; c++) {
        w[c] = strlen(heads[c]);
        for (int i = 0; i < n; i++)
            if (strlen(rows[i].col[c]) > w[c])
                w[c] = strlen(rows[i].col[c]);
    }
    for (int c = 0; c < N_COLS; c++)
        printf("%-*s  ", (int)w[c], heads[c]);
    printf("FILE\n");
    for (int i = 0; i < n; i++) {
        const struct row *r = &rows[i];
        for (int c = 0; c < N_COLS; c++)
            printf("%-*s  ", (int)w[c], r->col[c]);
        printf("%s\n", r->file);
        if (r->note[0])
            printf("    %s\n", r->note);
        if (!verbose)
            continue;
        const calgae_candidate *k = &b->candidates[i];
        if (k->have_table && k->description[0])
            printf("    description: %s\n", k->description);
        if (r->known_slots)
            print_slot_list("provides", r->provided);
        if (k->status == CALGAE_CAND_LOADED)
            print_slot_list("serves", r->served);
    }
}

static void print_slots(const calgae_backends *b, const calgae_settings *cfg)
{
    printf("\nKernel slots (the first plugin serves; a fallback takes the shapes it declines):\n");
    for (int s = 0; s < CALGAE_SLOT_COUNT; s++) {
        printf("  %-14s -> %s", calgae_slot_name(s), calgae_backends_slot_owner(b, s));
        for (int i = 1; i < b->chain_len[s]; i++)
            printf("%s%s", i == 1 ? " (fallback: " : ", ", b->plugins[b->chain[s][i]].table->name);
        if (b->chain_len[s] > 1)
            putchar(')');
        /* a [kernels] line is named by its place in the file; other choices by their reason */
        if (cfg->slot[s].name[0] && b->reason[s] == CALGAE_REASON_CONFIGURED)
            printf("  [%s:%d]\n", cfg->path, cfg->slot[s].line);
        else
            printf("  [%s]\n", calgae_slot_reason_name(b->reason[s]));
    }
}

static void print_entry(const calgae_backends *b, const calgae_calib_entry *e)
{
    printf("  %s, rows of %lld, %d thread%s%s:\n    matvec ns/row:", calgae_type_name(e->type),
           (long long)e->cols, e->threads, e->threads > 1 ? "s" : "",
           e->repack ? "" : ", stored layout");
    for (int i = 0; i < e->n_mv; i++)
        printf("  %s %.3g", e->mv_name[i], e->mv[i]);
    printf("\n    matmul ns/row/token (%d tokens):", CALGAE_CALIB_TOKENS);
    for (int i = 0; i < e->n_mm; i++) {
        printf("  %s %.3g", e->mm_name[i], e->mm_own[i]);
        if (e->repack && e->mm_stored[i] != e->mm_own[i])
            printf(" (stored layout %.3g)", e->mm_stored[i]);
    }
    int v, m;
    calgae_calib_choose(b, e, &v, &m);
    printf("\n    choice: matvec %s, matmul %s (the least matvec + matmul time per token; "
           "within %.0f%%, priority)\n", v < 0 ? "-" : b->plugins[v].table->name,
           m < 0 ? "-" : b->plugins[m].table->name, CALGAE_CALIB_TIE * 100);
}

/* The figures: those of the model's load, or every cached entry for this CPU and plugins. */
static void print_calibration(const calgae_backends *b, const calgae_calib_entry *e, int n)
{
    char path[4096 + 64];
    calgae_calibration_path(path, sizeof path);
    calgae_calib_entry cached[16];
    if (!e) {
        n = calgae_calib_cache_list(path[0] ? path : NULL, calgae_calib_cpu_key(),
                                    calgae_calib_plugins_key(b), cached, 16);
        e = cached;
    }
    printf("\nCalibration (cache %s):\n", path[0] ? path : "none");
    if (n == 0)
        printf("  nothing measured for these plugins on this CPU yet: the first load of a "
               "model measures its types (calgae run, bench, backends --model)\n");
    for (int i = 0; i < n; i++)
        print_entry(b, &e[i]);
}

/* --model: the slots as a model's load left them, calibration included. */
static int show_model(const calgae_session_opts *so)
{
    char err[CALGAE_ERR_LEN];
    calgae_session s;
    int rc = calgae_session_open(&s, so, err, sizeof err);
    if (rc != 0) {
        calgae_cli_error("%s", err);
        return rc == CALGAE_SETTINGS_BAD ? 2 : 1;
    }
    calgae_settings cfg;
    if (calgae_settings_load(&cfg, so->config, err, sizeof err) != 0)
        memset(&cfg, 0, sizeof cfg);
    printf("\nModel %s, %d thread%s:", so->model, calgae_pool_threads(s.pool),
           calgae_pool_threads(s.pool) > 1 ? "s" : "");
    print_slots(s.be, &cfg);
    print_calibration(s.be, s.lm->calib, s.lm->n_calib);
    calgae_session_close(&s);
    return 0;
}

static int verbose_flag;

static void log_stderr(void *user, int level, const char *line)
{
    (void)user;
    if (level == 0 || verbose_flag)
        fprintf(stderr, "%s\n", line);
}

static int list(const char *config_path, const calgae_session_opts *so)
{
    char err[CALGAE_ERR_LEN];
    calgae_settings cfg;
    if (calgae_settings_load(&cfg, config_path, err, sizeof err) != 0) {
        calgae_cli_error("%s", err);
        return 2;
    }
    calgae_backend_options o;
    calgae_settings_backend_options(&cfg, NULL, &o);
    o.log = log_stderr;
    calgae_backends *b = calloc(1, sizeof *b);
    struct row *rows = calloc(CALGAE_MAX_PLUGINS * 2, sizeof *rows);
    if (!b || !rows) {
        free(b);
        free(rows);
        calgae_cli_error("out of memory");
        return 1;
    }
    int rc = calgae_session_load_backends(&cfg, &o, b, err, sizeof err);
    if (rc != 0) {
        calgae_cli_error("%s", err);
        free(b);
        free(rows);
        return rc == CALGAE_SETTINGS_BAD ? 2 : 1;
    }
    if (cfg.source == CALGAE_SETTINGS_NONE)
        printf("Configuration: none (every choice automatic)\n");
    else
        printf("Configuration: %s (from %s)\n", cfg.path, calgae_settings_source_name(cfg.source));
    printf("Plugin folders:");
    for (int i = 0; i < o.n_dirs; i++)
        printf("%s %s", i ? "," : "", o.dirs[i]);
    printf("\n\n");
    for (int i = 0; i < b->n_candidates; i++)
        fill_row(&rows[i], &b->candidates[i], b, &o, &cfg);
    print_table(rows, b->n_candidates, b, verbose_flag);
    if (so->model) {
        rc = show_model(so);
    } else {
        print_slots(b, &cfg);
        print_calibration(b, NULL, 0);
    }
    calgae_backends_free(b);
    free(b);
    free(rows);
    return rc;
}

int calgae_cmd_backends(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "verify") == 0)
        return calgae_cmd_verify(argc - 1, argv + 1);
    static const struct option longs[] = {{"config", required_argument, 0, 'F'},
                                          {"verbose", no_argument, 0, 'v'},
                                          {"help", no_argument, 0, 'h'},
                                          {"model", required_argument, 0, 'm'},
                                          {"threads", required_argument, 0, 't'},
                                          {"calibrate", required_argument, 0, 'A'},
                                          {0, 0, 0, 0}};
    const char *config = NULL;
    calgae_session_opts so = {.need_state = 1, .ctx = 8, .max_batch = 1};
    long v;
    int c;
    if (calgae_args_check("backends", &argc, argv, ":m:t:vh", longs) != 0)
        return 2;
    verbose_flag = 0;
    while ((c = getopt_long(argc, argv, ":m:t:vh", longs, NULL)) != -1) {
        switch (c) {
        case 'F': config = so.config = optarg; break;
        case 'm': so.model = optarg; break;
        case 't': if (calgae_parse_int("--threads", optarg, 1, 1024, &v)) return 2; so.threads = (int)v; break;
        case 'A': if (calgae_calibrate_flag(optarg) < 0) return 2; so.calibrate = optarg; break;
        case 'v': verbose_flag = so.verbose = 1; break;
        case 'h': fputs(usage, stdout); return 0;
        case ':':
        default: return calgae_option_error("backends", c, argv, longs);
        }
    }
    if (optind < argc) {
        calgae_cli_error("unexpected argument '%s' (see 'calgae backends --help')", argv[optind]);
        return 2;
    }
    return list(config, &so);
}
