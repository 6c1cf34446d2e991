/*
 * backend.h - the plugin host: finds kernel plugins (.so), checks them, and resolves every
 * kernel slot of calgae_plugin.h to an ordered chain of plugins that provide it.
 *
 * Checks, in order, each failure refusing the file with a one-line reason: dlopen (missing,
 * not a shared object, wrong architecture), the entry symbol, the entry's answer, the table's
 * ABI major and size, a name, and the CPU probe. Preference: a forced plugin (--backend),
 * which must load (else the load fails), first, then by priority, highest first. Per slot, the first plugin in that order that
 * provides it serves it; later ones are the fallback when a kernel declines a shape.
 * Libraries are never unloaded while the registry lives (kernels may still run on workers).
 */
#ifndef CALGAE_BACKEND_H
#define CALGAE_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "calgae_plugin.h"

#define CALGAE_MAX_PLUGINS 32
#define CALGAE_MAX_PLUGIN_DIRS 8
/* weight type ids the slot cache covers (ggml ids run to about 40) */
#define CALGAE_SLOT_TYPE_IDS 64

enum calgae_slot {
    CALGAE_SLOT_QUANTIZE_Q8_0,
    CALGAE_SLOT_MATVEC_F32,
    CALGAE_SLOT_MATVEC_F16,
    CALGAE_SLOT_MATVEC_Q8_0,
    CALGAE_SLOT_MATVEC_Q4_0,
    CALGAE_SLOT_MATMUL_F32,
    CALGAE_SLOT_MATMUL_F16,
    CALGAE_SLOT_MATMUL_Q8_0,
    CALGAE_SLOT_MATMUL_Q4_0,
    CALGAE_SLOT_RMSNORM,
    CALGAE_SLOT_SOFTMAX,
    CALGAE_SLOT_SWIGLU,
    CALGAE_SLOT_ROPE,
    CALGAE_SLOT_DOT_F32,
    CALGAE_SLOT_AXPY_F32,
    CALGAE_SLOT_MATVEC_Q4_1, /* ABI 1.1 */
    CALGAE_SLOT_MATMUL_Q4_1,
    CALGAE_SLOT_QUANTIZE_Q8_K, /* ABI 1.3 */
    CALGAE_SLOT_MATVEC_Q4_K,
    CALGAE_SLOT_MATMUL_Q4_K,
    CALGAE_SLOT_MATVEC_Q6_K,
    CALGAE_SLOT_MATMUL_Q6_K,
    CALGAE_SLOT_MATVEC_Q5_K, /* ABI 1.4 */
    CALGAE_SLOT_MATMUL_Q5_K,
    CALGAE_SLOT_MATVEC_Q3_K,
    CALGAE_SLOT_MATMUL_Q3_K,
    CALGAE_SLOT_MATVEC_Q2_K,
    CALGAE_SLOT_MATMUL_Q2_K,
    CALGAE_SLOT_MATVEC_IQ4_XS,
    CALGAE_SLOT_MATMUL_IQ4_XS,
    CALGAE_SLOT_MATVEC_Q5_0,
    CALGAE_SLOT_MATMUL_Q5_0,
    CALGAE_SLOT_MATVEC_Q5_1,
    CALGAE_SLOT_MATMUL_Q5_1,
    CALGAE_SLOT_MATVEC_IQ4_NL,
    CALGAE_SLOT_MATMUL_IQ4_NL,
    CALGAE_SLOT_MATVEC_BF16,
    CALGAE_SLOT_MATMUL_BF16,
    CALGAE_SLOT_COUNT
};

const char *calgae_slot_name(int slot);
/* The slot called name, or -1. */
int calgae_slot_by_name(const char *name);

typedef struct calgae_loaded_plugin {
    char path[1024];
    void *handle;
    const calgae_plugin *table;
    int forced;
} calgae_loaded_plugin;

/* Every file the loader looked at, usable or not, for `calgae backends`. Strings are copies:
 * a refused plugin's library is unloaded. */
enum calgae_candidate_status {
    CALGAE_CAND_LOADED,    /* usable; in plugins[] */
    CALGAE_CAND_REFUSED,   /* failed a check; reason says which */
    CALGAE_CAND_DENIED,    /* usable but excluded by the configuration's deny list */
    CALGAE_CAND_DUPLICATE, /* a plugin of the same name was found first */
};

typedef struct calgae_candidate {
    char path[1024];
    int status;            /* enum calgae_candidate_status */
    char reason[256];      /* why it is not loaded ("" when loaded) */
    int have_table;        /* the fields below are known (the handshake got that far) */
    char name[40];
    char version[40];
    char isa[120];
    char description[160];
    unsigned abi_major, abi_minor;
    int priority;
} calgae_candidate;

/* Why a slot's chain starts with the plugin it starts with (`calgae backends` says it). */
enum calgae_slot_reason {
    CALGAE_REASON_PRIORITY,   /* the ranking: [plugins] order, then priority */
    CALGAE_REASON_FORCED,     /* --backend or [run] backend */
    CALGAE_REASON_CONFIGURED, /* a [kernels] line */
    CALGAE_REASON_MEASURED,   /* calibration measured it on this load (calibrate.h) */
    CALGAE_REASON_CACHED,     /* calibration's figures from its cache file */
};
const char *calgae_slot_reason_name(int reason);

/* Where a message goes: level 0 = always shown, 1 = shown with --verbose. */
typedef void (*calgae_log_fn)(void *user, int level, const char *line);

/* Formats one line and hands it to log (nothing when log is NULL): the one formatter behind the
 * host's messages (the loader's and the calibration's). */
void calgae_log_printf(calgae_log_fn log, void *user, int level, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

typedef struct calgae_backends {
    int n_candidates;
    calgae_candidate candidates[CALGAE_MAX_PLUGINS * 2];
    int n_plugins;
    calgae_loaded_plugin plugins[CALGAE_MAX_PLUGINS]; /* in preference order */
    /* per slot: indices into plugins[], in preference order, of those providing it */
    int chain_len[CALGAE_SLOT_COUNT];
    int chain[CALGAE_SLOT_COUNT][CALGAE_MAX_PLUGINS];
    int8_t reason[CALGAE_SLOT_COUNT]; /* enum calgae_slot_reason of each chain's first */
    /* per weight type id (< CALGAE_SLOT_TYPE_IDS): its matvec [0] and matmul [1] slot, or -1;
     * calgae_product_slot's answers, kept so a product finds its chain without a search */
    int8_t product_slot[2][CALGAE_SLOT_TYPE_IDS];
    /* the first of each chain, for the hot path */
    void (*quantize_q8_0)(const float *x, void *out, int64_t n);
    void (*quantize_q8_k)(const float *x, void *out, int64_t n); /* ABI 1.3 */
    void (*rmsnorm)(float *out, const float *x, const float *w, int64_t n, float eps);
    void (*softmax)(float *x, int64_t n);
    void (*swiglu)(float *gate, const float *up, int64_t n);
    void (*rope)(float *x, int64_t n_heads, int64_t head_size, int64_t n_rot, const float *cs);
    float (*dot_f32)(const float *a, const float *b, int64_t n);
    void (*axpy_f32)(float *y, float a, const float *x, int64_t n);
} calgae_backends;

typedef struct calgae_backend_options {
    const char *dirs[CALGAE_MAX_PLUGIN_DIRS]; /* folders searched for calgae-*.so */
    int n_dirs;
    const char *forced; /* NULL, "auto", a plugin name, or a path to a .so (has '/' or ends .so);
                         * ranks first and overrides the deny list */
    const char *order[CALGAE_MAX_PLUGINS]; /* plugin names ranked before all others, in order */
    int n_order;
    const char *deny[CALGAE_MAX_PLUGINS];  /* plugin names never used (unless forced) */
    int n_deny;
    const char *slot_plugin[CALGAE_SLOT_COUNT]; /* per slot: a plugin name to serve it first */
    calgae_log_fn log;
    void *log_user;
    /* where calgae_default_plugin_dirs keeps the strings dirs[] points to */
    char dir_storage[3][4096 + 128];
} calgae_backend_options;

/* Opens one plugin file and runs every check (dlopen, entry symbol, handshake, ABI major,
 * table size, name, probe). Returns 0 with *out loaded (dlclose(out->handle) when done), or -1
 * with the reason in c->reason; c records what the handshake revealed either way. */
int calgae_plugin_open_file(const char *path, calgae_loaded_plugin *out, calgae_candidate *c);

/* The checks of a plugin's table that need no call into it (table size, ABI major, name, the
 * prepare/release pair), as calgae_plugin_open_file runs them after the handshake and before
 * the probe. Reads no field beyond t->struct_size. Fills c's table fields (have_table, ABI,
 * priority, and the strings when the name is valid; c is not cleared first). Returns 0, or -1
 * with the reason in c->reason. */
int calgae_plugin_check_table(const calgae_plugin *t, calgae_candidate *c);

/* Fills opts->dirs with the default search path: each folder of $CALGAE_PLUGIN_PATH
 * (colon-separated), then the plugin folder installed beside the object holding this code:
 * <libdir>/calgae/plugins beside libcalgae.so, or <bindir>/../<libdir>/calgae/plugins beside a
 * program linked statically (the same relative places in the build tree and the install tree).
 * Strings live in opts->dir_storage. */
void calgae_default_plugin_dirs(calgae_backend_options *opts);

/* Loads and checks plugins. Ranking: the forced plugin, then the names in order[], then by
 * priority (highest first), then by name. Fails if some slot ends up with no provider
 * (normally the scalar plugin is missing), a slot_plugin name matches no plugin found at all, or
 * a slot_plugin does not provide its slot (-1); or when the forced plugin can't be used: a name
 * no plugin file has, a file that is missing or refused, a named plugin refused (then
 * CALGAE_BACKENDS_FORCED_FAILED, with "plugin FILE refused: REASON" or "backend 'x' not found
 * (plugins found: ...)"; the forced file's refusal is not logged besides). A forced choice is
 * never replaced by another plugin. */
#define CALGAE_BACKENDS_FORCED_FAILED (-3)
int calgae_backends_load(calgae_backends *b, const calgae_backend_options *opts, char *err,
                         size_t err_len);
void calgae_backends_free(calgae_backends *b);

/* Products through the chain of the weight type's slot: the first plugin that does not
 * decline computes rows [r0, r1). Returns 0, or -1 if every plugin declined. */
int calgae_backends_matvec(const calgae_backends *b, const calgae_weight *w, const void *x,
                           float *y, int64_t r0, int64_t r1);
int calgae_backends_matmul(const calgae_backends *b, const calgae_weight *w, const void *x,
                           size_t x_stride, int64_t n_tok, float *y, int64_t y_stride,
                           int64_t r0, int64_t r1);

/* A slot's function in a plugin's table, or NULL when absent or beyond its struct_size; cast
 * it to the slot's type (calgae_matvec_fn, ...) with memcpy. */
typedef void (*calgae_generic_fn)(void);
calgae_generic_fn calgae_plugin_slot_fn(const calgae_plugin *t, int slot);
/* Moves plugins[plugin] to the front of the slot's chain (it must be in it), the others
 * keeping their order behind it as fallbacks, and records why. Updates the hot-path pointer of
 * a non-product slot. */
void calgae_backends_promote(calgae_backends *b, int slot, int plugin, int reason);

/* Name of the plugin that serves a slot first ("none" if nobody). */
const char *calgae_backends_slot_owner(const calgae_backends *b, int slot);
/* The matvec (matmul = 0) or matmul slot of a weight type, as the type table (types.h) names
 * it; -1 for a type no slot takes. */
int calgae_product_slot(uint32_t type, int matmul);
/* "scalar" or "avx2+scalar": the plugins that serve at least one slot, in preference order. */
void calgae_backends_describe(const calgae_backends *b, char *out, size_t out_len);

/* Let the plugin serving w's products prepare its own layout (if it has prepare_weight). */
int calgae_backends_prepare(const calgae_backends *b, calgae_weight *w, char *err,
                            size_t err_len);
void calgae_backends_release(const calgae_backends *b, calgae_weight *w);
/* Whether w may be prepared on one thread while other weights are on others: its plugin has no
 * prepare_weight, or says CALGAE_PLUGIN_CONCURRENT_PREPARE (ABI 1.2). */
int calgae_backends_prepare_concurrent(const calgae_backends *b, const calgae_weight *w);

#endif
