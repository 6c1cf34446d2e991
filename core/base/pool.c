/*
 * pool.c - the persistent thread pool (see pool.h).
 *
 * A product per layer matrix means hundreds of fork/join rounds per token, so waking workers
 * must be cheap: they spin briefly on a generation counter before sleeping on a condition
 * variable, and the caller spins on a count of finished chunks.
 *
 * Work is handed out in chunks from a shared counter, about CHUNKS_PER_THREAD per thread, not
 * one fixed share each: on a shared machine one core is often slower for a while (another
 * process, an interrupt), and with fixed shares every product would wait for it. Results do
 * not change: each item is still computed once, and the kernels compute an item the same way
 * whatever chunk holds it. The caller returns when every chunk is done, not when every worker
 * has checked in, so a descheduled worker that got no chunk delays nothing: when it runs, its
 * claim fails against the next job's tag (below) and it goes back to waiting.
 */
#define _GNU_SOURCE
#include "pool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

#define SPIN_ROUNDS 20000
#define CHUNKS_PER_THREAD 4

struct calgae_pool {
    int n_threads;
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t wake;
    pthread_cond_t done_cv; /* the caller sleeps here once it has spun long enough */
    atomic_uint generation;
    atomic_int stop;
    /* Two job slots, used in turn: a late worker may still read the previous job's slot while
     * the caller fills this one. claim = job number << 32 | next chunk: a worker claims a chunk
     * with a compare-and-swap, which fails if the job it read the slot for is over. */
    struct job {
        _Atomic(calgae_task_fn) fn;
        _Atomic(void *) ctx;
        atomic_llong n, chunk, chunks;
    } jobs[2];
    atomic_ullong claim;
    atomic_llong done; /* chunks of the current job finished */
    uint32_t job_seq;  /* the caller's count of jobs */
};

struct worker_arg {
    calgae_pool *pool;
    int index;
};

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* Claims and runs chunks of the current job until none is left. */
static void run_chunks(calgae_pool *p, int index)
{
    for (;;) {
        unsigned long long v = atomic_load_explicit(&p->claim, memory_order_acquire);
        const struct job *j = &p->jobs[(v >> 32) & 1];
        const calgae_task_fn fn = atomic_load_explicit(&j->fn, memory_order_relaxed);
        void *ctx = atomic_load_explicit(&j->ctx, memory_order_relaxed);
        const int64_t n = atomic_load_explicit(&j->n, memory_order_relaxed);
        const int64_t chunk = atomic_load_explicit(&j->chunk, memory_order_relaxed);
        const int64_t chunks = atomic_load_explicit(&j->chunks, memory_order_relaxed);
        const int64_t c = (int64_t)(v & 0xffffffffu);
        if (c >= chunks)
            return;
        /* the slot's fields are this job's only if the claim still carries its number */
        if (!atomic_compare_exchange_weak_explicit(&p->claim, &v, v + 1, memory_order_acq_rel,
                                                   memory_order_acquire))
            continue;
        const int64_t begin = c * chunk, end = begin + chunk < n ? begin + chunk : n;
        fn(ctx, begin, end, index);
        if (atomic_fetch_add_explicit(&p->done, 1, memory_order_acq_rel) + 1 == chunks && index != 0) {
            /* the last chunk: wake the caller in case it went to sleep */
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->done_cv);
            pthread_mutex_unlock(&p->mu);
        }
    }
}

static unsigned wait_generation(calgae_pool *p, unsigned seen)
{
    for (int i = 0; i < SPIN_ROUNDS; i++) {
        unsigned g = atomic_load_explicit(&p->generation, memory_order_acquire);
        if (g != seen || atomic_load(&p->stop))
            return g;
        cpu_relax();
    }
    pthread_mutex_lock(&p->mu);
    unsigned g;
    while ((g = atomic_load(&p->generation)) == seen && !atomic_load(&p->stop))
        pthread_cond_wait(&p->wake, &p->mu);
    pthread_mutex_unlock(&p->mu);
    return g;
}

static void *worker_main(void *arg)
{
    struct worker_arg *wa = arg;
    calgae_pool *p = wa->pool;
    int index = wa->index;
    free(wa);
    unsigned seen = 0;
    for (;;) {
        seen = wait_generation(p, seen);
        if (atomic_load(&p->stop))
            return NULL;
        run_chunks(p, index);
    }
}

int calgae_pool_create(calgae_pool **out, int n_threads, char *err, size_t err_len)
{
    *out = NULL;
    if (n_threads < 1 || n_threads > 1024)
        return calgae_fail(err, err_len, "thread count %d out of range 1..1024", n_threads);
    calgae_pool *p = calloc(1, sizeof *p);
    if (!p)
        return calgae_fail(err, err_len, "out of memory");
    p->n_threads = n_threads;
    p->threads = calloc((size_t)n_threads, sizeof *p->threads);
    if (!p->threads) {
        free(p);
        return calgae_fail(err, err_len, "out of memory");
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done_cv, NULL);
    for (int i = 1; i < n_threads; i++) {
        struct worker_arg *wa = malloc(sizeof *wa);
        int rc = wa ? 0 : -1;
        if (wa) {
            wa->pool = p;
            wa->index = i;
            rc = pthread_create(&p->threads[i], NULL, worker_main, wa);
            if (rc != 0)
                free(wa);
        }
        if (rc != 0) {
            p->n_threads = i; /* destroy joins the ones that started */
            calgae_pool_destroy(p);
            return calgae_fail(err, err_len, "cannot start thread %d of %d", i, n_threads);
        }
    }
    *out = p;
    return 0;
}

void calgae_pool_destroy(calgae_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->stop, 1);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->n_threads; i++)
        pthread_join(p->threads[i], NULL);
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->done_cv);
    pthread_mutex_destroy(&p->mu);
    free(p->threads);
    free(p);
}

int calgae_pool_threads(const calgae_pool *p)
{
    return p->n_threads;
}

void calgae_pool_for(calgae_pool *p, int64_t n, int64_t grain, calgae_task_fn fn, void *ctx)
{
    if (n <= 0)
        return;
    if (grain < 1)
        grain = 1;
    if (p->n_threads == 1 || n <= grain) {
        fn(ctx, 0, n, 0);
        return;
    }
    /* whole grains, about CHUNKS_PER_THREAD chunks a thread */
    const int64_t grains = (n + grain - 1) / grain, parts = (int64_t)p->n_threads * CHUNKS_PER_THREAD;
    const int64_t chunk = grain * ((grains + parts - 1) / parts), chunks = (n + chunk - 1) / chunk;
    const uint32_t id = ++p->job_seq;
    struct job *j = &p->jobs[id & 1];
    atomic_store_explicit(&j->fn, fn, memory_order_relaxed);
    atomic_store_explicit(&j->ctx, ctx, memory_order_relaxed);
    atomic_store_explicit(&j->n, n, memory_order_relaxed);
    atomic_store_explicit(&j->chunk, chunk, memory_order_relaxed);
    atomic_store_explicit(&j->chunks, chunks, memory_order_relaxed);
    atomic_store_explicit(&p->done, 0, memory_order_relaxed);
    atomic_store_explicit(&p->claim, (unsigned long long)id << 32, memory_order_release);
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add_explicit(&p->generation, 1, memory_order_release);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    run_chunks(p, 0);
    /* spin briefly (the workers are usually nearly done), then sleep: on a loaded machine a
     * worker may be descheduled, and spinning would only steal its core */
    for (int i = 0; i < SPIN_ROUNDS; i++) {
        if (atomic_load_explicit(&p->done, memory_order_acquire) == chunks)
            return;
        cpu_relax();
    }
    pthread_mutex_lock(&p->mu);
    while (atomic_load_explicit(&p->done, memory_order_acquire) < chunks)
        pthread_cond_wait(&p->done_cv, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

int calgae_physical_cores(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0)
        return 1;
    /* count a CPU only if it is the first of its hyperthread siblings */
    int cores = 0;
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
        if (!CPU_ISSET(cpu, &set))
            continue;
        char path[128];
        snprintf(path, sizeof path,
                 "/sys/devices/system/cpu/cpu%d/topology/thread_siblings_list", cpu);
        FILE *f = fopen(path, "r");
        int first = cpu;
        if (f) {
            if (fscanf(f, "%d", &first) != 1)
                first = cpu;
            fclose(f);
        }
        if (first == cpu || !CPU_ISSET(first, &set))
            cores++;
    }
    return cores > 0 ? cores : 1;
}
