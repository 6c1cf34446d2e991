/*
 * pool.h - a persistent pthread pool that splits a range of work items into contiguous chunks
 * that the threads take in turn, a few per thread. Matrix products use it on output rows,
 * attention on (token, head) pairs; kernels stay single-threaded. Chunk boundaries depend only
 * on the range, grain and thread count, and each item is computed by exactly one thread, once,
 * so results are the same at any thread count.
 */
#ifndef CALGAE_POOL_H
#define CALGAE_POOL_H

#include <stddef.h>
#include <stdint.h>

typedef struct calgae_pool calgae_pool;

/* Runs items [begin, end) on worker `thread` (0 = the calling thread). */
typedef void (*calgae_task_fn)(void *ctx, int64_t begin, int64_t end, int thread);

/* n_threads >= 1; the caller's thread counts as one. */
int calgae_pool_create(calgae_pool **pool, int n_threads, char *err, size_t err_len);
void calgae_pool_destroy(calgae_pool *pool);
int calgae_pool_threads(const calgae_pool *pool);

/* Runs fn over [0, n) split into chunks whose boundaries are multiples of grain, and returns
 * when all are done. Not re-entrant: one caller at a time. */
void calgae_pool_for(calgae_pool *pool, int64_t n, int64_t grain, calgae_task_fn fn, void *ctx);

/* Physical cores this process may run on (hyperthread siblings counted once); >= 1. */
int calgae_physical_cores(void);

#endif
