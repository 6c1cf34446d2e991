/* bandwidth.c - see bandwidth.h. */
#define _GNU_SOURCE
#include "bandwidth.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "util.h"

struct job {
    const uint64_t *buf;
    uint64_t sums[64]; /* one per thread, so the reads can't be optimised away */
};

static void read_slice(void *ctx, int64_t begin, int64_t end, int thread)
{
    struct job *j = ctx;
    /* four independent accumulators keep the loop from being latency-bound; the compiler
     * vectorises it with whatever the baseline ISA offers */
    uint64_t a = 0, b = 0, c = 0, d = 0;
    for (int64_t i = begin * 512; i < end * 512; i += 4) {
        a += j->buf[i];
        b += j->buf[i + 1];
        c += j->buf[i + 2];
        d += j->buf[i + 3];
    }
    j->sums[thread & 63] += a + b + c + d;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double calgae_read_bandwidth(calgae_pool *pool, size_t bytes, int passes)
{
    bytes &= ~(size_t)4095;
    if (bytes == 0 || passes < 1 || passes > 64)
        return -1.0;
    uint64_t *buf = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (buf == MAP_FAILED)
        return -1.0;
    /* touch every page with real data so no pass reads the shared zero page */
    for (size_t i = 0; i < bytes / 8; i++)
        buf[i] = i;
    struct job j;
    memset(&j, 0, sizeof j);
    j.buf = buf;
    const int64_t chunks = (int64_t)(bytes / 4096); /* 512 words each */
    double rates[64];
    calgae_pool_for(pool, chunks, 1, read_slice, &j); /* warm-up */
    for (int p = 0; p < passes; p++) {
        double t0 = calgae_now_ms();
        calgae_pool_for(pool, chunks, 1, read_slice, &j);
        double ms = calgae_now_ms() - t0;
        rates[p] = (double)bytes / (ms > 1e-6 ? ms : 1e-6) / 1e6;
    }
    munmap(buf, bytes);
    qsort(rates, (size_t)passes, sizeof rates[0], cmp_double);
    volatile uint64_t sink = j.sums[0];
    (void)sink;
    return rates[passes / 2];
}
