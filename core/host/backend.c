/*
 * backend.c - loading, checking and ranking kernel plugins (see backend.h).
 * The checks follow the lessons in shared/docs/prior-art.md: handshake first with no side
 * effects, reasons as strings, tables that grow by appending, RTLD_NOW | RTLD_LOCAL, no
 * dlclose of a plugin whose kernels may have run.
 */
#define _GNU_SOURCE
#include "backend.h"

#include <dirent.h>
#include <dlfcn.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "types.h"
#include "util.h"

typedef calgae_generic_fn generic_fn;

#define CALGAE_PATH_MAX_PLUGIN 1024 /* the size of calgae_candidate.path */

static const struct {
    const char *name;
    size_t offset;
} slots[CALGAE_SLOT_COUNT] = {
    [CALGAE_SLOT_QUANTIZE_Q8_0] = {"quantize_q8_0", offsetof(calgae_plugin, quantize_q8_0)},
    [CALGAE_SLOT_MATVEC_F32] = {"matvec_f32", offsetof(calgae_plugin, matvec_f32)},
    [CALGAE_SLOT_MATVEC_F16] = {"matvec_f16", offsetof(calgae_plugin, matvec_f16)},
    [CALGAE_SLOT_MATVEC_Q8_0] = {"matvec_q8_0", offsetof(calgae_plugin, matvec_q8_0)},
    [CALGAE_SLOT_MATVEC_Q4_0] = {"matvec_q4_0", offsetof(calgae_plugin, matvec_q4_0)},
    [CALGAE_SLOT_MATMUL_F32] = {"matmul_f32", offsetof(calgae_plugin, matmul_f32)},
    [CALGAE_SLOT_MATMUL_F16] = {"matmul_f16", offsetof(calgae_plugin, matmul_f16)},
    [CALGAE_SLOT_MATMUL_Q8_0] = {"matmul_q8_0", offsetof(calgae_plugin, matmul_q8_0)},
    [CALGAE_SLOT_MATMUL_Q4_0] = {"matmul_q4_0", offsetof(calgae_plugin, matmul_q4_0)},
    [CALGAE_SLOT_RMSNORM] = {"rmsnorm", offsetof(calgae_plugin, rmsnorm)},
    [CALGAE_SLOT_SOFTMAX] = {"softmax", offsetof(calgae_plugin, softmax)},
    [CALGAE_SLOT_SWIGLU] = {"swiglu", offsetof(calgae_plugin, swiglu)},
    [CALGAE_SLOT_ROPE] = {"rope", offsetof(calgae_plugin, rope)},
    [CALGAE_SLOT_DOT_F32] = {"dot_f32", offsetof(calgae_plugin, dot_f32)},
    [CALGAE_SLOT_AXPY_F32] = {"axpy_f32", offsetof(calgae_plugin, axpy_f32)},
    [CALGAE_SLOT_MATVEC_Q4_1] = {"matvec_q4_1", offsetof(calgae_plugin, matvec_q4_1)},
    [CALGAE_SLOT_MATMUL_Q4_1] = {"matmul_q4_1", offsetof(calgae_plugin, matmul_q4_1)},
    [CALGAE_SLOT_QUANTIZE_Q8_K] = {"quantize_q8_k", offsetof(calgae_plugin, quantize_q8_k)},
    [CALGAE_SLOT_MATVEC_Q4_K] = {"matvec_q4_k", offsetof(calgae_plugin, matvec_q4_k)},
    [CALGAE_SLOT_MATMUL_Q4_K] = {"matmul_q4_k", offsetof(calgae_plugin, matmul_q4_k)},
    [CALGAE_SLOT_MATVEC_Q6_K] = {"matvec_q6_k", offsetof(calgae_plugin, matvec_q6_k)},
    [CALGAE_SLOT_MATMUL_Q6_K] = {"matmul_q6_k", offsetof(calgae_plugin, matmul_q6_k)},
    [CALGAE_SLOT_MATVEC_Q5_K] = {"matvec_q5_k", offsetof(calgae_plugin, matvec_q5_k)},
    [CALGAE_SLOT_MATMUL_Q5_K] = {"matmul_q5_k", offsetof(calgae_plugin, matmul_q5_k)},
    [CALGAE_SLOT_MATVEC_Q3_K] = {"matvec_q3_k", offsetof(calgae_plugin, matvec_q3_k)},
    [CALGAE_SLOT_MATMUL_Q3_K] = {"matmul_q3_k", offsetof(calgae_plugin, matmul_q3_k)},
    [CALGAE_SLOT_MATVEC_Q2_K] = {"matvec_q2_k", offsetof(calgae_plugin, matvec_q2_k)},
    [CALGAE_SLOT_MATMUL_Q2_K] = {"matmul_q2_k", offsetof(calgae_plugin, matmul_q2_k)},
    [CALGAE_SLOT_MATVEC_IQ4_XS] = {"matvec_iq4_xs", offsetof(calgae_plugin, matvec_iq4_xs)},
    [CALGAE_SLOT_MATMUL_IQ4_XS] = {"matmul_iq4_xs", offsetof(calgae_plugin, matmul_iq4_xs)},
    [CALGAE_SLOT_MATVEC_Q5_0] = {"matvec_q5_0", offsetof(calgae_plugin, matvec_q5_0)},
    [CALGAE_SLOT_MATMUL_Q5_0] = {"matmul_q5_0", offsetof(calgae_plugin, matmul_q5_0)},
    [CALGAE_SLOT_MATVEC_Q5_1] = {"matvec_q5_1", offsetof(calgae_plugin, matvec_q5_1)},
    [CALGAE_SLOT_MATMUL_Q5_1] = {"matmul_q5_1", offsetof(calgae_plugin, matmul_q5_1)},
    [CALGAE_SLOT_MATVEC_IQ4_NL] = {"matvec_iq4_nl", offsetof(calgae_plugin, matvec_iq4_nl)},
    [CALGAE_SLOT_MATMUL_IQ4_NL] = {"matmul_iq4_nl", offsetof(calgae_plugin, matmul_iq4_nl)},
    [CALGAE_SLOT_MATVEC_BF16] = {"matvec_bf16", offsetof(calgae_plugin, matvec_bf16)},
    [CALGAE_SLOT_MATMUL_BF16] = {"matmul_bf16", offsetof(calgae_plugin, matmul_bf16)},
};

const char *calgae_slot_name(int slot)
{
    return slot >= 0 && slot < CALGAE_SLOT_COUNT ? slots[slot].name : "?";
}

const char *calgae_slot_reason_name(int reason)
{
    switch (reason) {
    case CALGAE_REASON_FORCED: return "forced";
    case CALGAE_REASON_CONFIGURED: return "configured";
    case CALGAE_REASON_MEASURED: return "measured";
    case CALGAE_REASON_CACHED: return "measured, cached";
    default: return "priority";
    }
}

int calgae_slot_by_name(const char *name)
{
    for (int s = 0; s < CALGAE_SLOT_COUNT; s++)
        if (strcmp(slots[s].name, name) == 0)
            return s;
    return -1;
}

/* The slot's function in a table, or NULL if absent or beyond the plugin's struct_size. */
static generic_fn slot_fn(const calgae_plugin *t, int slot)
{
    size_t off = slots[slot].offset;
    if (off + sizeof(generic_fn) > t->struct_size)
        return NULL;
    generic_fn f;
    memcpy(&f, (const char *)t + off, sizeof f);
    return f;
}

calgae_generic_fn calgae_plugin_slot_fn(const calgae_plugin *t, int slot)
{
    return slot >= 0 && slot < CALGAE_SLOT_COUNT ? slot_fn(t, slot) : NULL;
}

void calgae_log_printf(calgae_log_fn log, void *user, int level, const char *fmt, ...)
{
    if (!log)
        return;
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    log(user, level, line);
}

#define logf_(o, level, ...) calgae_log_printf((o)->log, (o)->log_user, level, __VA_ARGS__)

void calgae_default_plugin_dirs(calgae_backend_options *opts)
{
    char *env_copy = opts->dir_storage[0];
    const size_t cap = sizeof opts->dir_storage[0];
    opts->n_dirs = 0;
    const char *env = getenv("CALGAE_PLUGIN_PATH");
    if (env && *env) {
        snprintf(env_copy, cap, "%s", env);
        char *save = NULL;
        for (char *d = strtok_r(env_copy, ":", &save); d && opts->n_dirs < CALGAE_MAX_PLUGIN_DIRS - 2;
             d = strtok_r(NULL, ":", &save))
            opts->dirs[opts->n_dirs++] = d;
    }
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = '\0';
        char *slash = strrchr(self, '/');
        if (slash) {
            *slash = '\0';
            /* the binary sits in <prefix>/bin, the plugins in <prefix>/<libdir>/calgae/plugins */
            snprintf(opts->dir_storage[1], cap, "%s/../%s", self, CALGAE_PLUGIN_RELDIR);
            opts->dirs[opts->n_dirs++] = opts->dir_storage[1];
        }
    }
    /* code in libcalgae.so: its plugins are installed beside it, whatever program loaded it */
    Dl_info info;
    char lib[PATH_MAX], exe[PATH_MAX];
    if (!dladdr((void *)calgae_default_plugin_dirs, &info) || !info.dli_fname ||
        !realpath(info.dli_fname, lib) || !realpath("/proc/self/exe", exe) || strcmp(lib, exe) == 0)
        return;
    char *slash = strrchr(lib, '/');
    if (!slash)
        return;
    *slash = '\0';
    snprintf(opts->dir_storage[2], cap, "%s/calgae/plugins", lib);
    opts->dirs[opts->n_dirs++] = opts->dir_storage[2];
}

static int valid_name(const char *s)
{
    if (!s || !*s || strlen(s) > 32)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' || *s == '-'))
            return 0;
    return 1;
}

static void copy_str(char *dst, size_t n, const char *src)
{
    snprintf(dst, n, "%s", src ? src : "");
}

/* Why dlopen failed, in words: glibc reports a library for another machine as "No such file",
 * so look at the ELF header ourselves when the file is there. */
static void explain_dlopen_failure(const char *path, char *why, size_t why_len)
{
    const char *e = dlerror();
    /* dlerror starts with the path: keep only what follows it */
    size_t n = strlen(path);
    const char *reason = e && strncmp(e, path, n) == 0 && e[n] == ':' ? e + n + 1 : e;
    while (reason && *reason == ' ')
        reason++;
    FILE *f = fopen(path, "rb");
    if (!f) {
        calgae_fail(why, why_len, "cannot load: %s", reason ? reason : "?");
        return;
    }
    unsigned char hdr[20] = {0};
    size_t got = fread(hdr, 1, sizeof hdr, f);
    fclose(f);
    if (got < sizeof hdr || memcmp(hdr, "\x7f" "ELF", 4) != 0) {
        calgae_fail(why, why_len, "not a shared object (no ELF header)");
        return;
    }
    const unsigned machine = hdr[5] == 2 ? (unsigned)(hdr[18] << 8 | hdr[19]) : (unsigned)(hdr[18] | hdr[19] << 8);
#if defined(__x86_64__)
    const unsigned host = 62; /* EM_X86_64 */
#elif defined(__aarch64__)
    const unsigned host = 183; /* EM_AARCH64 */
#else
    const unsigned host = machine;
#endif
    if (machine != host) {
        static const struct { unsigned id; const char *name; } names[] = {
            {3, "x86"}, {40, "arm"}, {62, "x86-64"}, {183, "aarch64"}, {243, "riscv"}};
        const char *name = "another architecture";
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
            if (names[i].id == machine)
                name = names[i].name;
        calgae_fail(why, why_len, "built for %s (ELF machine %u), not for this host", name, machine);
        return;
    }
    calgae_fail(why, why_len, "cannot load: %s", reason ? reason : "?");
}

int calgae_plugin_check_table(const calgae_plugin *t, calgae_candidate *c)
{
    char *why = c->reason;
    const size_t why_len = sizeof c->reason;
    const uint32_t size = t->struct_size;
    if (size < offsetof(calgae_plugin, quantize_q8_0))
        return calgae_fail(why, why_len, "function table too small (%u bytes; ABI 1.0 tables "
                           "hold at least the fields up to release_weight)", size);
    c->have_table = 1;
    c->abi_major = t->abi_major;
    c->abi_minor = t->abi_minor;
    c->priority = t->priority;
    if (valid_name(t->name)) {
        copy_str(c->name, sizeof c->name, t->name);
        copy_str(c->version, sizeof c->version, t->version);
        copy_str(c->isa, sizeof c->isa, t->isa);
        copy_str(c->description, sizeof c->description, t->description);
    }
    if (c->abi_major != CALGAE_ABI_MAJOR)
        return calgae_fail(why, why_len, "ABI major %u, this host speaks %u", c->abi_major,
                           CALGAE_ABI_MAJOR);
    if (!c->name[0])
        return calgae_fail(why, why_len, "invalid plugin name (want [a-z0-9_-]{1,32})");
    if ((t->prepare_weight == NULL) != (t->release_weight == NULL))
        return calgae_fail(why, why_len, "prepare_weight and release_weight must come together");
    return 0;
}

int calgae_plugin_open_file(const char *path, calgae_loaded_plugin *out, calgae_candidate *c)
{
    char *why = c->reason;
    const size_t why_len = sizeof c->reason;
    memset(out, 0, sizeof *out);
    memset(c, 0, sizeof *c);
    if (strlen(path) >= sizeof c->path || strlen(path) >= sizeof out->path)
        return calgae_fail(why, why_len, "path too long");
    copy_str(c->path, sizeof c->path, path);
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        explain_dlopen_failure(path, why, why_len);
        return -1;
    }
    calgae_plugin_entry_fn entry;
    void *sym = dlsym(h, CALGAE_PLUGIN_ENTRY_SYMBOL);
    if (!sym) {
        dlclose(h);
        return calgae_fail(why, why_len, "no %s symbol: not a Calgae plugin",
                           CALGAE_PLUGIN_ENTRY_SYMBOL);
    }
    memcpy(&entry, &sym, sizeof entry);
    const calgae_plugin *t = NULL;
    char reason[256] = "";
    if (entry(CALGAE_ABI_MAJOR, CALGAE_ABI_MINOR, &t, reason, sizeof reason) != 0 || !t) {
        dlclose(h);
        reason[sizeof reason - 1] = '\0';
        return calgae_fail(why, why_len, "plugin declined: %s", reason[0] ? reason : "no reason given");
    }
    /* the table lives in the library: the check copies what messages need before any dlclose */
    if (calgae_plugin_check_table(t, c) != 0) {
        dlclose(h);
        return -1;
    }
    if (t->probe) {
        char pr[200] = "";
        if (!t->probe(pr, sizeof pr)) {
            dlclose(h);
            pr[sizeof pr - 1] = '\0';
            return calgae_fail(why, why_len, "this CPU cannot run it: %s", pr[0] ? pr : "probe failed");
        }
    }
    snprintf(out->path, sizeof out->path, "%s", path);
    out->handle = h;
    out->table = t;
    return 0;
}

static int find_by_name(const calgae_backends *b, const char *name)
{
    for (int i = 0; i < b->n_plugins; i++)
        if (strcmp(b->plugins[i].table->name, name) == 0)
            return i;
    return -1;
}

static int name_in(const char *name, const char *const *list, int n)
{
    for (int i = 0; i < n; i++)
        if (list[i] && strcmp(list[i], name) == 0)
            return i;
    return -1;
}

static void try_add(calgae_backends *b, const calgae_backend_options *o, const char *path, int forced)
{
    if (b->n_candidates >= (int)(sizeof b->candidates / sizeof b->candidates[0]) ||
        b->n_plugins >= CALGAE_MAX_PLUGINS) {
        logf_(o, 0, "calgae: plugin %s skipped: too many plugins", path);
        return;
    }
    calgae_candidate *c = &b->candidates[b->n_candidates++];
    calgae_loaded_plugin lp;
    if (calgae_plugin_open_file(path, &lp, c) != 0) {
        c->status = CALGAE_CAND_REFUSED;
        /* a probe refusal of an auto-discovered plugin is expected (an AVX-512 build on an
         * AVX2 machine): only worth a line with --verbose */
        int expected = strstr(c->reason, "this CPU cannot run it") == c->reason;
        if (!forced) /* a forced one's refusal is the loader's error instead */
            logf_(o, expected ? 1 : 0, "calgae: plugin %s refused: %s", path, c->reason);
        return;
    }
    int dup = find_by_name(b, lp.table->name);
    if (dup >= 0) {
        c->status = CALGAE_CAND_DUPLICATE;
        const char *first = b->plugins[dup].path; /* gcc can't tell it is not c->reason */
        char reason[sizeof c->reason];
        snprintf(reason, sizeof reason, "'%.40s' already loaded from %.190s", lp.table->name, first);
        memcpy(c->reason, reason, sizeof reason);
        logf_(o, 1, "calgae: plugin %s skipped: %s", path, c->reason);
        dlclose(lp.handle);
        return;
    }
    if (!forced && name_in(lp.table->name, o->deny, o->n_deny) >= 0 &&
        !(o->forced && strcmp(o->forced, lp.table->name) == 0)) {
        c->status = CALGAE_CAND_DENIED;
        snprintf(c->reason, sizeof c->reason, "denied by the configuration");
        logf_(o, 1, "calgae: plugin %s skipped: %s", path, c->reason);
        dlclose(lp.handle);
        return;
    }
    c->status = CALGAE_CAND_LOADED;
    lp.forced = forced;
    b->plugins[b->n_plugins++] = lp;
    logf_(o, 1, "calgae: plugin %s loaded: %s %s (priority %d)", path, lp.table->name,
          lp.table->version ? lp.table->version : "?", lp.table->priority);
}

static int is_plugin_file(const char *name)
{
    size_t n = strlen(name);
    return strncmp(name, "calgae-", 7) == 0 && n > 10 && strcmp(name + n - 3, ".so") == 0;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void scan_dir(calgae_backends *b, const calgae_backend_options *o, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        logf_(o, 1, "calgae: plugin folder %s not readable", dir);
        return;
    }
    char *names[256];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < 256)
        if (is_plugin_file(e->d_name))
            names[n++] = strdup(e->d_name);
    closedir(d);
    qsort(names, (size_t)n, sizeof names[0], cmp_names); /* readdir order is arbitrary */
    for (int i = 0; i < n; i++) {
        if (!names[i])
            continue;
        char path[PATH_MAX + 256];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        try_add(b, o, path, 0);
        free(names[i]);
    }
}

static int order_rank(const calgae_backend_options *o, const char *name)
{
    int i = name_in(name, o->order, o->n_order);
    return i >= 0 ? i : CALGAE_MAX_PLUGINS;
}

/* qsort_r (glibc), not a file-scope pointer: two threads may load models at once */
static int cmp_pref(const void *pa, const void *pb, void *opts)
{
    const calgae_loaded_plugin *a = pa, *b = pb;
    if (a->forced != b->forced)
        return b->forced - a->forced;
    int ra = order_rank(opts, a->table->name), rb = order_rank(opts, b->table->name);
    if (ra != rb)
        return ra - rb;
    if (a->table->priority != b->table->priority)
        return a->table->priority > b->table->priority ? -1 : 1;
    return strcmp(a->table->name, b->table->name);
}

static int is_path(const char *s)
{
    size_t n = strlen(s);
    return strchr(s, '/') != NULL || (n > 3 && strcmp(s + n - 3, ".so") == 0);
}

static const calgae_candidate *find_candidate(const calgae_backends *b, const char *name)
{
    for (int i = 0; i < b->n_candidates; i++)
        if (b->candidates[i].have_table && strcmp(b->candidates[i].name, name) == 0)
            return &b->candidates[i];
    return NULL;
}

/* "a, b, c": the names of every plugin file found, usable or not. */
static void found_names(const calgae_backends *b, char *out, size_t out_len)
{
    out[0] = '\0';
    for (int i = 0; i < b->n_candidates; i++) {
        const calgae_candidate *k = &b->candidates[i];
        if (!k->have_table || !k->name[0] || find_candidate(b, k->name) != k)
            continue; /* a duplicate name is listed once */
        size_t used = strlen(out);
        snprintf(out + used, out_len - used, "%s%s", used ? ", " : "", k->name);
    }
}

/* Marks the forced plugin, or says why it can't be: a forced choice that can't be honoured is
 * an error (CALGAE_BACKENDS_FORCED_FAILED), never a quiet fallback to other plugins. */
static int apply_forced(calgae_backends *b, const calgae_backend_options *o, char *err,
                        size_t err_len)
{
    const char *forced = o->forced && *o->forced ? o->forced : NULL;
    if (!forced || strcmp(forced, "auto") == 0)
        return 0;
    const calgae_candidate *c = NULL;
    if (is_path(forced)) {
        c = b->n_candidates > 0 ? &b->candidates[0] : NULL; /* tried first */
        if (c && c->status == CALGAE_CAND_LOADED)
            return 0;
    } else {
        int i = find_by_name(b, forced);
        if (i >= 0) {
            b->plugins[i].forced = 1;
            return 0;
        }
        c = find_candidate(b, forced);
    }
    if (!c) {
        char names[400];
        found_names(b, names, sizeof names);
        calgae_fail(err, err_len, "backend '%s' not found (plugins found: %s)", forced,
                    names[0] ? names : "none");
        return CALGAE_BACKENDS_FORCED_FAILED;
    }
    calgae_fail(err, err_len, "plugin %s refused: %s", c->path, c->reason);
    return CALGAE_BACKENDS_FORCED_FAILED;
}

static int apply_slot_plugins(calgae_backends *b, const calgae_backend_options *o, char *err,
                              size_t err_len)
{
    for (int s = 0; s < CALGAE_SLOT_COUNT; s++) {
        const char *want = o->slot_plugin[s];
        if (!want)
            continue;
        int i = find_by_name(b, want);
        if (i < 0) {
            if (find_candidate(b, want)) {
                logf_(o, 0, "calgae: plugin '%s' for kernel %s is not usable here; using the "
                      "default choice", want, slots[s].name);
                continue;
            }
            return calgae_fail(err, err_len, "kernel %s: backend '%s' not found", slots[s].name, want);
        }
        if (!slot_fn(b->plugins[i].table, s))
            return calgae_fail(err, err_len, "kernel %s: backend '%s' does not provide it",
                               slots[s].name, want);
        calgae_backends_promote(b, s, i, CALGAE_REASON_CONFIGURED);
    }
    return 0;
}

/* The hot-path pointers: the first of each non-product chain. */
static void set_first(calgae_backends *b)
{
    const calgae_plugin *first[CALGAE_SLOT_COUNT];
    for (int s = 0; s < CALGAE_SLOT_COUNT; s++)
        first[s] = b->plugins[b->chain[s][0]].table;
    b->quantize_q8_0 = first[CALGAE_SLOT_QUANTIZE_Q8_0]->quantize_q8_0;
    b->quantize_q8_k = first[CALGAE_SLOT_QUANTIZE_Q8_K]->quantize_q8_k;
    b->rmsnorm = first[CALGAE_SLOT_RMSNORM]->rmsnorm;
    b->softmax = first[CALGAE_SLOT_SOFTMAX]->softmax;
    b->swiglu = first[CALGAE_SLOT_SWIGLU]->swiglu;
    b->rope = first[CALGAE_SLOT_ROPE]->rope;
    b->dot_f32 = first[CALGAE_SLOT_DOT_F32]->dot_f32;
    b->axpy_f32 = first[CALGAE_SLOT_AXPY_F32]->axpy_f32;
}

void calgae_backends_promote(calgae_backends *b, int s, int plugin, int reason)
{
    int k = 0;
    while (k < b->chain_len[s] && b->chain[s][k] != plugin)
        k++;
    if (k == b->chain_len[s])
        return;
    for (; k > 0; k--)
        b->chain[s][k] = b->chain[s][k - 1];
    b->chain[s][0] = plugin;
    b->reason[s] = (int8_t)reason;
    set_first(b);
}

int calgae_backends_load(calgae_backends *b, const calgae_backend_options *o, char *err,
                         size_t err_len)
{
    memset(b, 0, sizeof *b);
    const char *forced = o->forced && *o->forced ? o->forced : NULL;
    if (forced && is_path(forced)) {
        /* dlopen searches the library path for a bare file name: mean the current folder */
        char here[CALGAE_PATH_MAX_PLUGIN];
        if (!strchr(forced, '/') && strlen(forced) + 3 < sizeof here) {
            snprintf(here, sizeof here, "./%s", forced);
            try_add(b, o, here, 1);
        } else {
            try_add(b, o, forced, 1);
        }
    }
    for (int i = 0; i < o->n_dirs; i++)
        scan_dir(b, o, o->dirs[i]);
    int rc = apply_forced(b, o, err, err_len);
    if (rc != 0) {
        calgae_backends_free(b);
        return rc;
    }
    qsort_r(b->plugins, (size_t)b->n_plugins, sizeof b->plugins[0], cmp_pref, (void *)o);
    for (uint32_t t = 0; t < CALGAE_SLOT_TYPE_IDS; t++)
        for (int mm = 0; mm < 2; mm++)
            b->product_slot[mm][t] = (int8_t)calgae_product_slot(t, mm);

    for (int s = 0; s < CALGAE_SLOT_COUNT; s++) {
        for (int i = 0; i < b->n_plugins; i++)
            if (slot_fn(b->plugins[i].table, s))
                b->chain[s][b->chain_len[s]++] = i;
        if (b->chain_len[s] == 0) {
            char dirs[1024] = "";
            for (int i = 0; i < o->n_dirs; i++)
                snprintf(dirs + strlen(dirs), sizeof dirs - strlen(dirs), "%s%s", i ? ":" : "",
                         o->dirs[i]);
            calgae_fail(err, err_len,
                        "no usable plugin provides kernel '%s' (searched %s; is the scalar "
                        "plugin installed?)",
                        slots[s].name, dirs[0] ? dirs : "no folders");
            goto fail;
        }
    }
    for (int s = 0; s < CALGAE_SLOT_COUNT; s++)
        b->reason[s] = b->plugins[b->chain[s][0]].forced ? CALGAE_REASON_FORCED
                                                         : CALGAE_REASON_PRIORITY;
    if (apply_slot_plugins(b, o, err, err_len) != 0)
        goto fail;
    set_first(b);
    return 0;
fail:
    calgae_backends_free(b);
    return -1;
}

void calgae_backends_free(calgae_backends *b)
{
    for (int i = 0; i < b->n_plugins; i++)
        if (b->plugins[i].handle)
            dlclose(b->plugins[i].handle);
    memset(b, 0, sizeof *b);
}

int calgae_product_slot(uint32_t type, int matmul)
{
    /* the type table names the slot by its place in calgae_plugin; slots[] knows every place */
    const calgae_type_info *t = calgae_type_traits(type);
    const size_t offset = !t ? 0 : matmul ? t->matmul_slot : t->matvec_slot;
    if (offset == 0)
        return -1;
    for (int s = 0; s < CALGAE_SLOT_COUNT; s++)
        if (slots[s].offset == offset)
            return s;
    return -1;
}

static int slot_of(const calgae_backends *b, uint32_t type, int matmul)
{
    return type < CALGAE_SLOT_TYPE_IDS ? b->product_slot[matmul][type]
                                       : calgae_product_slot(type, matmul);
}

int calgae_backends_matvec(const calgae_backends *b, const calgae_weight *w, const void *x,
                           float *y, int64_t r0, int64_t r1)
{
    int s = slot_of(b, w->type, 0);
    if (s < 0)
        return -1;
    for (int i = 0; i < b->chain_len[s]; i++) {
        generic_fn g = slot_fn(b->plugins[b->chain[s][i]].table, s);
        calgae_matvec_fn f;
        memcpy(&f, &g, sizeof f);
        if (f(w, x, y, r0, r1) == CALGAE_KERNEL_OK)
            return 0;
    }
    return -1;
}

int calgae_backends_matmul(const calgae_backends *b, const calgae_weight *w, const void *x,
                           size_t x_stride, int64_t n_tok, float *y, int64_t y_stride,
                           int64_t r0, int64_t r1)
{
    int s = slot_of(b, w->type, 1);
    if (s < 0)
        return -1;
    for (int i = 0; i < b->chain_len[s]; i++) {
        generic_fn g = slot_fn(b->plugins[b->chain[s][i]].table, s);
        calgae_matmul_fn f;
        memcpy(&f, &g, sizeof f);
        if (f(w, x, x_stride, n_tok, y, y_stride, r0, r1) == CALGAE_KERNEL_OK)
            return 0;
    }
    return -1;
}

const char *calgae_backends_slot_owner(const calgae_backends *b, int slot)
{
    if (slot < 0 || slot >= CALGAE_SLOT_COUNT || b->chain_len[slot] == 0)
        return "none";
    return b->plugins[b->chain[slot][0]].table->name;
}

void calgae_backends_describe(const calgae_backends *b, char *out, size_t out_len)
{
    out[0] = '\0';
    for (int i = 0; i < b->n_plugins; i++) {
        int serves = 0;
        for (int s = 0; s < CALGAE_SLOT_COUNT && !serves; s++)
            serves = b->chain_len[s] > 0 && b->chain[s][0] == i;
        if (!serves)
            continue;
        size_t used = strlen(out);
        snprintf(out + used, out_len - used, "%s%s", used ? "+" : "", b->plugins[i].table->name);
    }
}

/* The plugin whose prepare_weight may convert w: the one serving w's matvec, if it has one. */
static const calgae_plugin *preparer(const calgae_backends *b, const calgae_weight *w)
{
    int s = calgae_product_slot(w->type, 0);
    if (s < 0 || b->chain_len[s] == 0)
        return NULL;
    const calgae_plugin *t = b->plugins[b->chain[s][0]].table;
    return t->prepare_weight ? t : NULL;
}

int calgae_backends_prepare(const calgae_backends *b, calgae_weight *w, char *err, size_t err_len)
{
    const calgae_plugin *t = preparer(b, w);
    if (!t)
        return 0;
    char why[256] = "";
    if (t->prepare_weight(w, why, sizeof why) != 0) {
        /* not fatal: the stored layout stays valid for every plugin */
        w->prepared = NULL;
        w->owner = NULL;
        (void)err;
        (void)err_len;
        return 0;
    }
    w->owner = t;
    return 0;
}

int calgae_backends_prepare_concurrent(const calgae_backends *b, const calgae_weight *w)
{
    const calgae_plugin *t = preparer(b, w);
    if (!t)
        return 1;
    if (offsetof(calgae_plugin, flags) + sizeof t->flags > t->struct_size)
        return 0;
    return (t->flags & CALGAE_PLUGIN_CONCURRENT_PREPARE) != 0;
}

void calgae_backends_release(const calgae_backends *b, calgae_weight *w)
{
    (void)b;
    const calgae_plugin *t = w->owner;
    if (t && w->prepared && t->release_weight)
        t->release_weight(w);
    w->prepared = NULL;
    w->owner = NULL;
}
