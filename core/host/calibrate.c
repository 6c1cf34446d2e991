/*
 * calibrate.c - timing each candidate plugin of a weight type's products and reordering the
 * chains by what was measured (see calibrate.h for what and why).
 */
#include "calibrate.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pool.h"
#include "types.h"
#include "util.h"

#define ROW_GRAIN 32          /* as the forward pass splits products */
#define MAX_SAMPLES 64
#define REPS 5
#define CANDIDATE_BUDGET_MS 60.0 /* after two runs, stop when a candidate has taken this long */
#define HOPELESS 4.0             /* a first run this many times the best so far: stop there */

/* One product run over a set of weights, split in row ranges on the pool. */
struct job {
    calgae_generic_fn fn;
    int matmul;
    const calgae_weight *w;
    int n_w;
    int64_t start[MAX_SAMPLES + 1]; /* global row of each weight's first row */
    const void *x;
    size_t x_stride;
    int n_tok;
    float *y;
    atomic_int declined;
};

static void job_task(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    struct job *j = ctx;
    for (int i = 0; i < j->n_w && begin < end; i++) {
        const int64_t lo = begin > j->start[i] ? begin : j->start[i];
        const int64_t hi = end < j->start[i + 1] ? end : j->start[i + 1];
        if (lo >= hi)
            continue;
        const int64_t r0 = lo - j->start[i], r1 = hi - j->start[i];
        int rc;
        if (j->matmul) {
            calgae_matmul_fn f;
            memcpy(&f, &j->fn, sizeof f);
            const int64_t rows = j->start[j->n_w];
            rc = f(&j->w[i], j->x, j->x_stride, j->n_tok, j->y + j->start[i], rows, r0, r1);
        } else {
            calgae_matvec_fn f;
            memcpy(&f, &j->fn, sizeof f);
            rc = f(&j->w[i], j->x, j->y + j->start[i], r0, r1);
        }
        if (rc != CALGAE_KERNEL_OK)
            atomic_store(&j->declined, 1);
    }
}

/* ns per row (per row and token for matmul), the minimum over a few runs; -1 if declined. */
static double measure(calgae_pool *pool, struct job *j, double best)
{
    double min_ms = -1, spent = 0;
    const int64_t rows = j->start[j->n_w];
    for (int r = 0; r < REPS; r++) {
        atomic_store(&j->declined, 0);
        const double t0 = calgae_now_ms();
        calgae_pool_for(pool, rows, ROW_GRAIN, job_task, j);
        const double ms = calgae_now_ms() - t0;
        if (atomic_load(&j->declined))
            return -1;
        min_ms = min_ms < 0 || ms < min_ms ? ms : min_ms;
        spent += ms;
        const double ns = min_ms * 1e6 / (double)rows / (j->matmul ? j->n_tok : 1);
        if ((r >= 1 && spent > CANDIDATE_BUDGET_MS) || (best > 0 && ns > HOPELESS * best))
            break;
    }
    return min_ms * 1e6 / (double)rows / (j->matmul ? j->n_tok : 1);
}

/* What one type's timings share: the sample weights (copies of the model's), the activations,
 * the output, the pool. */
struct bench {
    calgae_pool *pool;
    calgae_weight w[MAX_SAMPLES];
    int n_w;
    int64_t mm_rows;
    void *x;
    size_t x_stride;
    float *y;
};

static void set_job(const struct bench *s, struct job *j, int matmul, calgae_generic_fn fn)
{
    memset(j, 0, sizeof *j);
    j->fn = fn;
    j->matmul = matmul;
    j->w = s->w;
    j->n_w = matmul ? 1 : s->n_w;
    for (int i = 0; i < j->n_w; i++)
        j->start[i + 1] = j->start[i] + (matmul ? s->mm_rows : s->w[i].rows);
    j->x = s->x;
    j->x_stride = s->x_stride;
    j->n_tok = matmul ? CALGAE_CALIB_TOKENS : 1;
    j->y = s->y;
}

/* The model's matrices of the type, up to the sample size (at least one), as plain copies. */
static int bench_open(struct bench *s, const calgae_backends *b, calgae_weight *const *w, int n,
                      uint32_t type, int threads)
{
    memset(s, 0, sizeof *s);
    size_t bytes = 0, rows = 0;
    int64_t cols = 0;
    for (int i = 0; i < n && s->n_w < MAX_SAMPLES; i++) {
        if (w[i]->type != type || (s->n_w > 0 && w[i]->cols != cols))
            continue;
        const size_t sz = (size_t)w[i]->rows * w[i]->row_bytes;
        if (s->n_w > 0 && bytes + sz > CALGAE_CALIB_SAMPLE_BYTES)
            break;
        s->w[s->n_w] = *w[i];
        s->w[s->n_w].prepared = NULL;
        s->w[s->n_w].owner = NULL;
        cols = w[i]->cols;
        bytes += sz;
        rows += (size_t)w[i]->rows;
        s->n_w++;
    }
    if (s->n_w == 0)
        return -1;
    /* matmul: one whole matrix, so that each call gets the row range it gets in the forward
     * pass (a plugin may repack the batch's activations once per call) */
    s->mm_rows = s->w[0].rows;
    const uint32_t act = calgae_type_traits(type)->vec_dot_type; /* F32, Q8_0 or Q8_K */
    const int blocks = act != CALGAE_TYPE_F32;
    size_t row_x = (size_t)cols * sizeof(float);
    if (blocks && calgae_type_row_bytes(act, cols, &row_x) != 0)
        return -1;
    float *f = malloc((size_t)cols * sizeof *f);
    s->x = malloc(row_x * CALGAE_CALIB_TOKENS);
    const size_t ny = rows > (size_t)s->mm_rows * CALGAE_CALIB_TOKENS ? rows
                                                                       : (size_t)s->mm_rows * CALGAE_CALIB_TOKENS;
    s->y = malloc(ny * sizeof *s->y);
    char err[256];
    if (!f || !s->x || !s->y || calgae_pool_create(&s->pool, threads, err, sizeof err) != 0) {
        free(f);
        return -1;
    }
    uint64_t r = 0x9e3779b97f4a7c15ull;
    for (int t = 0; t < CALGAE_CALIB_TOKENS; t++) {
        for (int64_t c = 0; c < cols; c++) {
            r = r * 6364136223846793005ull + 1442695040888963407ull;
            f[c] = (float)((double)(r >> 40) / (double)(1 << 24) * 2.0 - 1.0);
        }
        char *dst = (char *)s->x + (size_t)t * row_x;
        if (act == CALGAE_TYPE_Q8_K)
            b->quantize_q8_k(f, dst, cols);
        else if (blocks)
            b->quantize_q8_0(f, dst, cols);
        else
            memcpy(dst, f, row_x);
    }
    s->x_stride = row_x;
    free(f);
    return 0;
}

static void bench_close(struct bench *s)
{
    if (s->pool)
        calgae_pool_destroy(s->pool);
    free(s->x);
    free(s->y);
}

/* The samples in plugin t's own layout (prepared = 1), or left stored (0). */
static int prepare_as(struct bench *s, const calgae_plugin *t)
{
    if (!t->prepare_weight)
        return 0;
    for (int i = 0; i < s->n_w; i++) {
        char why[256];
        if (t->prepare_weight(&s->w[i], why, sizeof why) == 0)
            s->w[i].owner = t;
        else
            s->w[i].prepared = NULL;
    }
    return 1;
}

static void unprepare(struct bench *s)
{
    for (int i = 0; i < s->n_w; i++) {
        const calgae_plugin *t = s->w[i].owner;
        if (t && s->w[i].prepared)
            t->release_weight(&s->w[i]);
        s->w[i].prepared = NULL;
        s->w[i].owner = NULL;
    }
}

static int in_chain(const calgae_backends *b, int slot, int plugin)
{
    for (int k = 0; k < b->chain_len[slot]; k++)
        if (b->chain[slot][k] == plugin)
            return 1;
    return 0;
}

static double lowest(double a, double b)
{
    return a < 0 ? b : b < 0 || a < b ? a : b;
}

/* Every candidate timed: plugins in preference order, so the usual winner sets the bar early
 * and a hopeless one (scalar) stops after one run. */
static void measure_type(const calgae_backends *b, struct bench *s, int sv, int sm, int repack,
                         calgae_calib_entry *e)
{
    double best_mv = -1, best_mm = -1;
    struct job j;
    for (int i = 0; i < b->n_plugins; i++) {
        const calgae_plugin *t = b->plugins[i].table;
        const int v = in_chain(b, sv, i), m = in_chain(b, sm, i);
        if ((!v && !m) || e->n_mv == CALGAE_CALIB_MAX || e->n_mm == CALGAE_CALIB_MAX)
            continue;
        const int own = repack && prepare_as(s, t);
        if (v) {
            set_job(s, &j, 0, calgae_plugin_slot_fn(t, sv));
            snprintf(e->mv_name[e->n_mv], sizeof e->mv_name[0], "%s", t->name);
            e->mv[e->n_mv] = measure(s->pool, &j, best_mv);
            best_mv = lowest(best_mv, e->mv[e->n_mv++]);
        }
        if (m) {
            set_job(s, &j, 1, calgae_plugin_slot_fn(t, sm));
            snprintf(e->mm_name[e->n_mm], sizeof e->mm_name[0], "%s", t->name);
            e->mm_own[e->n_mm] = e->mm_stored[e->n_mm] = measure(s->pool, &j, best_mm);
            best_mm = lowest(best_mm, e->mm_own[e->n_mm]);
        }
        unprepare(s);
        if (m && own) /* its matmul when another plugin's matvec owns the layout */
            e->mm_stored[e->n_mm] = measure(s->pool, &j, best_mm);
        e->n_mm += m;
    }
}

static int find_name(const char (*names)[40], int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0)
            return i;
    return -1;
}

/* mm of plugin M on plugin V's layout, or -1 when unknown or declined. */
static double mm_on(const calgae_backends *b, const calgae_calib_entry *e, int v, int m)
{
    int k = find_name(e->mm_name, e->n_mm, b->plugins[m].table->name);
    if (k < 0)
        return -1;
    return v == m ? e->mm_own[k] : e->mm_stored[k];
}

static int fixed(const calgae_backends *b, int slot)
{
    return b->reason[slot] == CALGAE_REASON_FORCED || b->reason[slot] == CALGAE_REASON_CONFIGURED;
}

/* The fastest matmul plugin on V's layout, in preference order with the tie rule; its cost in
 * *cost (-1 when none measured). */
static int best_mm(const calgae_backends *b, const calgae_calib_entry *e, int sm, int v,
                   double *cost)
{
    int best = -1;
    *cost = -1;
    const int n = fixed(b, sm) ? 1 : b->chain_len[sm];
    for (int k = 0; k < n; k++) {
        const int m = b->chain[sm][k];
        const double c = mm_on(b, e, v, m);
        if (c >= 0 && (best < 0 || c < *cost * (1 - CALGAE_CALIB_TIE))) {
            best = m;
            *cost = c;
        }
    }
    return best;
}

void calgae_calib_choose(const calgae_backends *b, const calgae_calib_entry *e, int *v, int *m)
{
    *v = *m = -1;
    const int sv = calgae_product_slot(e->type, 0), sm = calgae_product_slot(e->type, 1);
    if (sv < 0 || sm < 0)
        return;
    double best = -1;
    const int n = fixed(b, sv) ? 1 : b->chain_len[sv];
    for (int k = 0; k < n; k++) {
        const int cand = b->chain[sv][k];
        const int i = find_name(e->mv_name, e->n_mv, b->plugins[cand].table->name);
        double mm;
        const int mc = best_mm(b, e, sm, cand, &mm);
        if (i < 0 || e->mv[i] < 0 || mc < 0)
            continue;
        const double cost = e->mv[i] + mm;
        if (*v < 0 || cost < best * (1 - CALGAE_CALIB_TIE)) {
            *v = cand;
            *m = mc;
            best = cost;
        }
    }
}

#define logf_(p, level, ...) calgae_log_printf((p)->log, (p)->log_user, level, __VA_ARGS__)

/* "avx2 8.12, avx512 9.40, scalar 95.1" and the matmul figures, for the log. */
static void describe(const calgae_calib_entry *e, char *out, size_t n)
{
    snprintf(out, n, "matvec ns/row:");
    for (int i = 0; i < e->n_mv; i++)
        snprintf(out + strlen(out), n - strlen(out), "%s %s %.3g", i ? "," : "", e->mv_name[i],
                 e->mv[i]);
    snprintf(out + strlen(out), n - strlen(out), "; matmul ns/row/token (own layout/stored):");
    for (int i = 0; i < e->n_mm; i++)
        snprintf(out + strlen(out), n - strlen(out), "%s %s %.3g/%.3g", i ? "," : "",
                 e->mm_name[i], e->mm_own[i], e->mm_stored[i]);
}

/* Measured or cached figures for one type into e; 1 when they came from the cache. */
static int figures(calgae_backends *b, calgae_weight *const *w, int n, const calgae_calib_params *p,
                   int sv, int sm, calgae_calib_entry *e)
{
    if (p->mode == CALGAE_CALIB_AUTO && p->cache_path && calgae_calib_cache_find(p->cache_path, e) == 0)
        return 1;
    const double t0 = calgae_now_ms();
    struct bench s;
    if (bench_open(&s, b, w, n, e->type, p->threads) != 0) {
        bench_close(&s);
        logf_(p, 0, "calgae: calibration of %s skipped: out of memory",
              calgae_type_name(e->type));
        return -1;
    }
    measure_type(b, &s, sv, sm, p->repack, e);
    bench_close(&s);
    logf_(p, 1, "calgae: calibration %s measured in %.0f ms",
          calgae_type_name(e->type), calgae_now_ms() - t0);
    char why[512];
    if (p->cache_path && calgae_calib_cache_store(p->cache_path, e, why, sizeof why) != 0)
        logf_(p, 1, "calgae: calibration cache not written: %s", why);
    return 0;
}

static void calibrate_type(calgae_backends *b, calgae_weight *const *w, int n,
                           const calgae_calib_params *p, calgae_calib_entry *e)
{
    const int sv = calgae_product_slot(e->type, 0), sm = calgae_product_slot(e->type, 1);
    const int cached = figures(b, w, n, p, sv, sm, e);
    if (cached < 0)
        return;
    int v, m;
    calgae_calib_choose(b, e, &v, &m);
    const int reason = cached ? CALGAE_REASON_CACHED : CALGAE_REASON_MEASURED;
    if (v >= 0 && !fixed(b, sv))
        calgae_backends_promote(b, sv, v, reason);
    if (m >= 0 && !fixed(b, sm))
        calgae_backends_promote(b, sm, m, reason);
    char text[1500];
    describe(e, text, sizeof text);
    logf_(p, 1, "calgae: calibration %s, rows of %lld, %d thread%s (%s): %s -> %s %s, %s %s",
          calgae_type_name(e->type), (long long)e->cols, e->threads, e->threads > 1 ? "s" : "",
          cached ? "cached" : "measured", text, calgae_slot_name(sv),
          calgae_backends_slot_owner(b, sv), calgae_slot_name(sm), calgae_backends_slot_owner(b, sm));
}

/* Whether calibration can change anything for the type: a slot with a choice to make. */
static int worth_it(const calgae_backends *b, uint32_t type)
{
    const int sv = calgae_product_slot(type, 0), sm = calgae_product_slot(type, 1);
    if (sv < 0 || sm < 0)
        return 0;
    return (b->chain_len[sv] > 1 && !fixed(b, sv)) || (b->chain_len[sm] > 1 && !fixed(b, sm));
}

void calgae_calibrate(calgae_backends *b, calgae_weight *const *w, int n,
                      const calgae_calib_params *p, calgae_calib_entry *out, int max, int *n_out)
{
    *n_out = 0;
    if (p->mode == CALGAE_CALIB_OFF || b->n_plugins == 0 || b->plugins[0].forced)
        return;
    const uint64_t cpu = calgae_calib_cpu_key(), plugins = calgae_calib_plugins_key(b);
    for (int i = 0; i < n && *n_out < max; i++) {
        int seen = 0;
        for (int k = 0; k < *n_out; k++)
            seen |= out[k].type == w[i]->type;
        if (seen || !worth_it(b, w[i]->type))
            continue;
        calgae_calib_entry *e = &out[*n_out];
        memset(e, 0, sizeof *e);
        e->cpu = cpu;
        e->plugins = plugins;
        e->type = w[i]->type;
        e->cols = w[i]->cols;
        e->threads = p->threads > 0 ? p->threads : 1;
        e->repack = p->repack != 0;
        calibrate_type(b, w, n, p, e);
        (*n_out)++;
    }
}
