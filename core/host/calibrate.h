/*
 * calibrate.h - the automatic choice by measurement: which plugin serves a weight type's matrix
 * products is decided by timing each candidate on this machine, not by its priority.
 *
 * What is measured, per weight type the model's matrices use (when its matvec or matmul slot
 * has more than one provider): every matvec provider on its own prepared layout (the one it
 * would get when chosen: the host prepares a weight with its matvec plugin), streaming up to
 * CALGAE_CALIB_SAMPLE_BYTES of the model's own matrices of that type, so that the figure is
 * that of memory-bound token generation and not of a cache-resident loop; and every matmul
 * provider on a batch of CALGAE_CALIB_TOKENS tokens, on its own layout and on the stored one
 * (a plugin reads its prepared layout only when it prepared the weight itself). All timings
 * run on a pool of the model's thread count, split in row ranges as the forward pass splits
 * them, minimum of a few repetitions within a time budget.
 *
 * The choice (calgae_calib_choose): one layout per weight, so the matvec plugin V and the
 * matmul plugin M are chosen together: the pair minimising mv(V) + mm(M on V's layout) in ns
 * per row and token, i.e. a workload of as many prompt as generated tokens. A candidate must
 * beat the one ranked before it (priority order) by CALGAE_CALIB_TIE to displace it, so
 * priority breaks ties within noise. Slots named by [kernels] stay as configured; a forced
 * backend skips calibration.
 *
 * The cache (calib_cache.c): one text line per (CPU, plugin builds, type, row length, threads,
 * layout), see calgae_calib_cache_line; a line that does not parse is ignored; the file is
 * rewritten through a temporary file and a rename.
 */
#ifndef CALGAE_CALIBRATE_H
#define CALGAE_CALIBRATE_H

#include <stddef.h>
#include <stdint.h>

#include "backend.h"

#define CALGAE_CALIB_MAX 8                       /* candidates per slot recorded */
#define CALGAE_CALIB_TOKENS 64                   /* the matmul batch */
#define CALGAE_CALIB_SAMPLE_BYTES (64u << 20)    /* stored bytes streamed by the matvec timing */
#define CALGAE_CALIB_TIE 0.03                    /* within 3%: the higher-ranked plugin stays */
#define CALGAE_CALIB_MAGIC "calgae-calibration-1"

enum calgae_calib_mode { CALGAE_CALIB_AUTO = 0, CALGAE_CALIB_REDO = 1, CALGAE_CALIB_OFF = 2 };

/* The figures for one weight type and shape class, in ns per row (matvec) and ns per row and
 * token (matmul); a negative figure: the kernel declined the shape. */
typedef struct calgae_calib_entry {
    uint64_t cpu, plugins; /* the key: calgae_calib_cpu_key, calgae_calib_plugins_key */
    uint32_t type;
    int64_t cols;
    int threads;
    int repack; /* 0: every plugin measured on the stored layout (--no-repack) */
    int n_mv;
    char mv_name[CALGAE_CALIB_MAX][40];
    double mv[CALGAE_CALIB_MAX];
    int n_mm;
    char mm_name[CALGAE_CALIB_MAX][40];
    double mm_own[CALGAE_CALIB_MAX];    /* on the plugin's own layout */
    double mm_stored[CALGAE_CALIB_MAX]; /* on the stored layout */
} calgae_calib_entry;

typedef struct calgae_calib_params {
    int mode;               /* enum calgae_calib_mode */
    const char *cache_path; /* NULL: no cache, measure each time */
    int threads;
    int repack;
    calgae_log_fn log;
    void *log_user;
} calgae_calib_params;

/* Measures (or reads from the cache) and reorders b's product chains for the types of the n
 * weights given. Never fails: a problem (no memory, an unwritable cache) is logged and leaves
 * the chains as they were. A slot whose reason is forced or configured keeps its first plugin.
 * Records what it did in out[0..*n_out) (at most max entries), for callers that show it. */
void calgae_calibrate(calgae_backends *b, calgae_weight *const *w, int n,
                      const calgae_calib_params *p, calgae_calib_entry *out, int max, int *n_out);

/* The choice for one entry under b's chains: plugin indices into b->plugins (or -1 for no
 * change) for the matvec and matmul slots of e->type. */
void calgae_calib_choose(const calgae_backends *b, const calgae_calib_entry *e, int *v, int *m);

/* The keys: a hash of /proc/cpuinfo's model name and flags; a hash of every loaded plugin's
 * file (path, size, mtime) and table (name, version, isa, description), in any order. */
uint64_t calgae_calib_cpu_key(void);
uint64_t calgae_calib_plugins_key(const calgae_backends *b);

/* The cache. find: the entry of the file matching e's key fields (cpu, plugins, type, cols,
 * threads, repack), into *e; 0 when found, -1 when not (or no file). store: writes the file
 * again with e's line in place of an older one for the same key; 0 or -1 with why. */
int calgae_calib_cache_find(const char *path, calgae_calib_entry *e);
int calgae_calib_cache_store(const char *path, const calgae_calib_entry *e, char *why,
                             size_t why_len);
/* Every entry of the file for this cpu and plugins key (for `calgae backends`): how many were
 * written to out (at most max). */
int calgae_calib_cache_list(const char *path, uint64_t cpu, uint64_t plugins,
                            calgae_calib_entry *out, int max);

/* One entry as its cache line (no newline), and back: 0, or -1 for a line that is not one. */
void calgae_calib_format(const calgae_calib_entry *e, char *out, size_t out_len);
int calgae_calib_parse(const char *line, calgae_calib_entry *e);

#endif
