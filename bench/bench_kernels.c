/*
 * bench_kernels.c - kernel microbenchmark: matrix x vector products of one plugin on
 * TinyLlama-1.1B-shaped matrices, as the host runs them (activations quantized once, rows split
 * over a calgae_pool in grains of 32 rows), reported as GB/s of weight bytes read.
 *
 *   bench_kernels PLUGIN.so [--threads N] [--bandwidth] [--types q4_0,q8_0,q4_1,f16,f32]
 *                 [--runs K] [--batch B] [--footprint MIB] [--cpu-time] [--prepared]
 *
 * The weights must come from memory, not cache, as they do in generation (a model is far
 * larger than the last-level cache): each matrix is copied until the copies fill --footprint
 * MiB (default 512), and consecutive products read consecutive copies. A run reads 64 MiB of
 * weights (consecutive products, at least one); the figures are the median and the best of
 * --runs runs (default 15). On a shared machine the best run is the one the scheduler left
 * alone, so both are printed.
 * --bandwidth first measures the machine's memory read bandwidth the same way: 64 MiB slices
 * of a 1 GiB buffer, taken in turn, summed as 64-bit integers by plain C (compiled with -O2,
 * each thread reading 4 sequential streams), on 1 thread and on N threads; each product's
 * GB/s is then also printed as a share of the N-thread bandwidth (median of median, best of
 * best).
 * --batch B also times matmul with B tokens (prompt processing) and reports GFLOP/s.
 * --cpu-time times by the threads' CPU time instead of the wall clock (a run's time is its
 * threads' CPU time in the kernel divided by their number): on a machine shared with other
 * work, a run then counts only the time its threads ran, for the products and the bandwidth
 * loop alike. It leaves out the pool's fork/join and, with several threads, the slowdown of
 * threads sharing memory bandwidth while descheduled ones don't; label the figures as such.
 * --prepared gives every matrix to the plugin's prepare_weight first, as the host does at load,
 * so its own layout is what gets timed (each line says whether the plugin took it).
 *
 * Built from plugin-api/ and core/base/pool.c + core/base/util.c only; links dl, pthread and m.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "calgae_plugin.h"
#include "pool.h"
#include "types.h"
#include "util.h"

#define ROW_GRAIN 32 /* core/engine/forward.c's */

struct shape {
    const char *name;
    int64_t rows, cols;
};

/* TinyLlama-1.1B: wq/wo, wk/wv, w_gate/w_up, w_down, classifier */
static const struct shape shapes[] = {
    {"attn_q/o", 2048, 2048}, {"attn_k/v", 256, 2048}, {"ffn_gate/up", 5632, 2048},
    {"ffn_down", 2048, 5632}, {"output", 32000, 2048},
};

static const struct {
    const char *name;
    uint32_t type;
} types[] = {{"q4_0", CALGAE_TYPE_Q4_0}, {"q8_0", CALGAE_TYPE_Q8_0}, {"q4_1", CALGAE_TYPE_Q4_1},
               {"f16", CALGAE_TYPE_F16}, {"f32", CALGAE_TYPE_F32}};

static uint64_t rng = 1;

static uint64_t next_u64(void)
{
    uint64_t z = (rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* ---- timing: wall clock, or (--cpu-time) the CPU time the tasks ran ---- */

#define MAX_THREADS 1024

static int use_cpu_time;
static int n_threads = 1;
static double task_cpu_ns[MAX_THREADS]; /* per pool thread, so no two threads share a slot */
static double run_start;

static double thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void run_begin(void)
{
    memset(task_cpu_ns, 0, sizeof task_cpu_ns);
    run_start = calgae_now_ms();
}

/* milliseconds the run took */
static double run_ms(void)
{
    if (!use_cpu_time)
        return calgae_now_ms() - run_start;
    double sum = 0;
    for (int i = 0; i < n_threads; i++)
        sum += task_cpu_ns[i];
    return sum / n_threads / 1e6;
}

static float rand_float(void) /* uniform in [-1, 1) */
{
    return (float)(next_u64() >> 40) * 0x1p-23f - 1.0f;
}

static size_t row_bytes(uint32_t type, int64_t cols)
{
    size_t bytes = 0;
    calgae_type_row_bytes(type, cols, &bytes); /* every shape here is whole blocks */
    return bytes;
}

/* One matrix's worth of random but valid weights (finite scales and values). */
static void fill_matrix(uint32_t type, void *dst, int64_t rows, int64_t cols)
{
    const size_t rb = row_bytes(type, cols);
    for (int64_t r = 0; r < rows; r++) {
        char *row = (char *)dst + (size_t)r * rb;
        if (type == CALGAE_TYPE_F32) {
            for (int64_t c = 0; c < cols; c++)
                ((float *)(void *)row)[c] = 0.02f * rand_float();
        } else if (type == CALGAE_TYPE_F16) {
            for (int64_t c = 0; c < cols; c++)
                ((calgae_fp16 *)(void *)row)[c] = calgae_fp32_to_fp16(0.02f * rand_float());
        } else {
            const calgae_type_info *t = calgae_type_traits(type);
            const size_t bs = t->type_size;
            /* random quants; the scales (and Q4_1's minimum) finite */
            const size_t scales = type == CALGAE_TYPE_Q4_1 ? 2 : 1;
            for (int64_t b = 0; b < cols / t->blck_size; b++) {
                uint8_t *blk = (uint8_t *)row + (size_t)b * bs;
                for (size_t i = 2 * scales; i < bs; i++)
                    blk[i] = (uint8_t)next_u64();
                for (size_t k = 0; k < scales; k++) {
                    const calgae_fp16 d = calgae_fp32_to_fp16(0.0002f + 0.0002f * rand_float());
                    memcpy(blk + 2 * k, &d, sizeof d);
                }
            }
        }
    }
}

/* ---- products on the pool ---- */

struct job {
    const calgae_plugin *p;
    const calgae_weight *w;
    const void *x;
    size_t x_stride;
    int64_t n_tok;
    float *y;
};

/* The product slots of a type, at the places the type table names; NULL where the plugin's
 * table ends before them (ABI 1.0 has no Q4_1 slots) or leaves them out. */
static void slot_at(const calgae_plugin *p, size_t offset, void *fn, size_t fn_size)
{
    memset(fn, 0, fn_size);
    if (offset != 0 && p->struct_size >= offset + fn_size)
        memcpy(fn, (const char *)p + offset, fn_size);
}

static calgae_matvec_fn matvec_of(const calgae_plugin *p, uint32_t t)
{
    calgae_matvec_fn f;
    slot_at(p, calgae_type_traits(t)->matvec_slot, &f, sizeof f);
    return f;
}

static calgae_matmul_fn matmul_of(const calgae_plugin *p, uint32_t t)
{
    calgae_matmul_fn f;
    slot_at(p, calgae_type_traits(t)->matmul_slot, &f, sizeof f);
    return f;
}

static void product_task(void *ctx, int64_t begin, int64_t end, int thread)
{
    const struct job *j = ctx;
    const double t0 = use_cpu_time ? thread_cpu_ns() : 0;
    if (j->n_tok == 1)
        matvec_of(j->p, j->w->type)(j->w, j->x, j->y, begin, end);
    else
        matmul_of(j->p, j->w->type)(j->w, j->x, j->x_stride, j->n_tok, j->y, j->w->rows, begin, end);
    if (use_cpu_time)
        task_cpu_ns[thread] += thread_cpu_ns() - t0;
}

/* ---- memory bandwidth ---- */

struct sum_job {
    const uint64_t *buf;
    uint64_t sums[MAX_THREADS];
};

static void sum_task(void *ctx, int64_t begin, int64_t end, int thread)
{
    struct sum_job *j = ctx;
    const double t0 = use_cpu_time ? thread_cpu_ns() : 0;
    /* items are 4 KiB pages of the buffer; their range is read as 4 sequential streams at once,
     * one per quarter, in plain C: one stream alone measured about 30% less than a core pulls
     * with several (the products read 4 rows at a time) */
    const uint64_t *p = j->buf + begin * 512;
    const size_t q = (size_t)(end - begin) * 512 / 4;
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (size_t i = 0; i < q; i += 2) {
        s0 += p[i] + p[i + 1];
        s1 += p[q + i] + p[q + i + 1];
        s2 += p[2 * q + i] + p[2 * q + i + 1];
        s3 += p[3 * q + i] + p[3 * q + i + 1];
    }
    j->sums[thread] += s0 + s1 + s2 + s3;
    if (use_cpu_time)
        task_cpu_ns[thread] += thread_cpu_ns() - t0;
}

#define RUN_BYTES ((size_t)64 << 20)
#define MAX_RUNS 64

struct rate {
    double median, best; /* GB/s */
};

static struct rate summarize(double *gbs, int runs)
{
    struct rate r = {calgae_median(gbs, runs), 0};
    for (int i = 0; i < runs; i++)
        r.best = gbs[i] > r.best ? gbs[i] : r.best;
    return r;
}

/* GB/s reading `bytes` (a multiple of RUN_BYTES) with the pool's threads, a RUN_BYTES slice per
 * run, the slices in turn */
static struct rate bandwidth(calgae_pool *pool, int threads, const uint64_t *buf, size_t bytes, int runs)
{
    n_threads = threads;
    static struct sum_job j;
    double gbs[MAX_RUNS];
    for (int r = -1; r < runs; r++) { /* run -1 warms up */
        j.buf = buf + (size_t)(r + 1) % (bytes / RUN_BYTES) * (RUN_BYTES / sizeof *buf);
        run_begin();
        calgae_pool_for(pool, (int64_t)(RUN_BYTES / 4096), 64, sum_task, &j);
        if (r >= 0)
            gbs[r] = (double)RUN_BYTES / (run_ms() * 1e6);
    }
    volatile uint64_t sink = j.sums[0];
    (void)sink;
    return summarize(gbs, runs);
}

/* ---- main ---- */

static const char usage[] =
    "usage: bench_kernels PLUGIN.so [--threads N] [--bandwidth] [--types q4_0,q8_0,q4_1,f16,f32]\n"
    "                     [--runs K] [--batch B] [--footprint MIB] [--cpu-time] [--prepared]\n";

int main(int argc, char **argv)
{
    if (argc < 2 || argv[1][0] == '-') {
        fputs(usage, stderr);
        return 2;
    }
    int threads = 1, runs = 15, do_bw = 0, batch = 0, prepared = 0;
    size_t footprint = (size_t)512 << 20;
    const char *type_list = "q4_0,q8_0,f16,f32"; /* q4_1 on request */
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--bandwidth"))
            do_bw = 1;
        else if (!strcmp(a, "--prepared"))
            prepared = 1;
        else if (!strcmp(a, "--cpu-time"))
            use_cpu_time = 1;
        else if (!strcmp(a, "--threads") && v)
            threads = atoi(argv[++i]);
        else if (!strcmp(a, "--runs") && v)
            runs = atoi(argv[++i]);
        else if (!strcmp(a, "--batch") && v)
            batch = atoi(argv[++i]);
        else if (!strcmp(a, "--footprint") && v)
            footprint = (size_t)atol(argv[++i]) << 20;
        else if (!strcmp(a, "--types") && v)
            type_list = argv[++i];
        else {
            fputs(usage, stderr);
            return 2;
        }
    }
    if (threads < 1 || threads > MAX_THREADS || runs < 1 || runs > MAX_RUNS || batch < 0 || batch > 512) {
        fputs(usage, stderr);
        return 2;
    }

    void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fprintf(stderr, "bench_kernels: %s\n", dlerror());
        return 1;
    }
    calgae_plugin_entry_fn entry;
    void *sym = dlsym(h, CALGAE_PLUGIN_ENTRY_SYMBOL);
    memcpy(&entry, &sym, sizeof entry);
    const calgae_plugin *p = NULL;
    char why[256] = "";
    if (!sym || entry(CALGAE_ABI_MAJOR, CALGAE_ABI_MINOR, &p, why, sizeof why) != 0 ||
        (p->probe && !p->probe(why, sizeof why))) {
        fprintf(stderr, "bench_kernels: %s: %s\n", argv[1], why[0] ? why : "not a plugin");
        return 1;
    }
    char err[256];
    calgae_pool *pool;
    if (calgae_pool_create(&pool, threads, err, sizeof err) != 0) {
        fprintf(stderr, "bench_kernels: %s\n", err);
        return 1;
    }
    n_threads = threads;
    printf("plugin %s (%s), %d thread%s, weights streamed from a %zu MiB footprint, %d runs of 64 MiB, "
           "timed by %s\n", p->name, argv[1], threads, threads > 1 ? "s" : "", footprint >> 20, runs,
           use_cpu_time ? "the threads' CPU time" : "the wall clock");

    struct rate bw = {0, 0};
    if (do_bw) {
        const size_t bytes = (size_t)1 << 30;
        uint64_t *buf = malloc(bytes);
        calgae_pool *one;
        if (!buf || calgae_pool_create(&one, 1, err, sizeof err) != 0) {
            fprintf(stderr, "bench_kernels: out of memory for the bandwidth buffer\n");
            return 1;
        }
        for (size_t i = 0; i < bytes / 8; i++)
            buf[i] = i;
        const struct rate bw1 = bandwidth(one, 1, buf, bytes, runs);
        bw = bandwidth(pool, threads, buf, bytes, runs);
        n_threads = threads;
        printf("memory read bandwidth (1 GiB, 64-bit sums, 4 streams a thread), GB/s median (best): "
               "1 thread %.1f (%.1f), %d threads %.1f (%.1f)\n", bw1.median, bw1.best, threads,
               bw.median, bw.best);
        calgae_pool_destroy(one);
        free(buf);
    }

    printf("%-12s %-11s %-5s %6s %8s %8s%s\n", "shape", "rows x cols", "type", "MiB", "GB/s", "(best)",
           do_bw ? "  % of bw (best)" : "");
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
        if (!strstr(type_list, types[ti].name) || !matvec_of(p, types[ti].type) ||
            !matmul_of(p, types[ti].type))
            continue;
        const uint32_t type = types[ti].type;
        for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
            const struct shape *s = &shapes[si];
            const size_t mbytes = row_bytes(type, s->cols) * (size_t)s->rows;
            size_t copies = footprint / mbytes;
            if (copies < 1)
                copies = 1;
            char *data = malloc(copies * mbytes);
            const int nt = batch > 0 ? batch : 1;
            float *xf = malloc((size_t)(s->cols * nt) * sizeof *xf);
            float *y = malloc((size_t)(s->rows * nt) * sizeof *y);
            /* the activations in the form the type's products take: floats or Q8_0 blocks */
            const uint32_t act = calgae_type_traits(type)->vec_dot_type;
            const size_t xrow = row_bytes(act, s->cols);
            char *xq = malloc(xrow * (size_t)nt);
            if (!data || !xf || !y || !xq) {
                fprintf(stderr, "bench_kernels: out of memory\n");
                return 1;
            }
            fill_matrix(type, data, s->rows, s->cols);
            for (size_t c = 1; c < copies; c++)
                memcpy(data + c * mbytes, data, mbytes);
            for (int64_t i = 0; i < s->cols * nt; i++)
                xf[i] = rand_float();
            for (int t = 0; t < nt; t++) {
                if (act == CALGAE_TYPE_F32)
                    memcpy(xq + (size_t)t * xrow, xf + (size_t)t * s->cols, xrow);
                else
                    p->quantize_q8_0(xf + (size_t)t * s->cols, xq + (size_t)t * xrow, s->cols);
            }
            /* one weight per copy; --prepared: each in the plugin's own layout, as the host makes
             * it at load (copies that the plugin declines keep the stored layout) */
            calgae_weight *ws = calloc(copies, sizeof *ws);
            if (!ws) {
                fprintf(stderr, "bench_kernels: out of memory\n");
                return 1;
            }
            int n_prepared = 0;
            for (size_t c = 0; c < copies; c++) {
                ws[c] = (calgae_weight){.type = type, .rows = s->rows, .cols = s->cols,
                                        .row_bytes = row_bytes(type, s->cols), .data = data + c * mbytes};
                if (prepared && p->prepare_weight && p->prepare_weight(&ws[c], why, sizeof why) == 0) {
                    ws[c].owner = p;
                    n_prepared++;
                }
            }
            struct job j = {.p = p, .w = &ws[0], .x = xq, .x_stride = xrow, .n_tok = 1, .y = y};
            /* a run: consecutive copies, RUN_BYTES of them (at least one product) */
            size_t per_run = RUN_BYTES / mbytes;
            per_run = per_run < 1 ? 1 : per_run;
            double gbs[MAX_RUNS];
            size_t next = 0;
            for (int r = -1; r < runs; r++) { /* run -1 warms up */
                run_begin();
                for (size_t k = 0; k < per_run; k++) {
                    j.w = &ws[next++ % copies];
                    calgae_pool_for(pool, s->rows, ROW_GRAIN, product_task, &j);
                }
                if (r >= 0)
                    gbs[r] = (double)(mbytes * per_run) / (run_ms() * 1e6);
            }
            const struct rate g = summarize(gbs, runs);
            printf("%-12s %5lldx%-5lld %-5s %6.1f %8.2f %8.2f", s->name, (long long)s->rows,
                   (long long)s->cols, types[ti].name, (double)mbytes / (1 << 20), g.median, g.best);
            if (do_bw)
                printf("  %6.1f%% (%5.1f%%)", 100.0 * g.median / bw.median, 100.0 * g.best / bw.best);
            if (batch > 0) {
                j.n_tok = batch;
                double gf[MAX_RUNS];
                for (int r = 0; r < runs; r++) {
                    j.w = &ws[next++ % copies];
                    run_begin();
                    calgae_pool_for(pool, s->rows, ROW_GRAIN, product_task, &j);
                    gf[r] = 2.0 * (double)(s->rows * s->cols) * batch / (run_ms() * 1e6);
                }
                j.n_tok = 1;
                printf("   matmul x%d: %.1f GFLOP/s", batch, calgae_median(gf, runs));
            }
            if (prepared)
                printf("   %s", n_prepared ? "prepared" : "stored layout");
            printf("\n");
            fflush(stdout);
            for (size_t c = 0; c < copies; c++)
                if (ws[c].owner && p->release_weight)
                    p->release_weight(&ws[c]);
            free(ws);
            free(data);
            free(xf);
            free(y);
            free(xq);
        }
    }
    calgae_pool_destroy(pool);
    return 0;
}
