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
    /* items are 4 KiB pages; the range is read as 4 sequential streams at once, one per
     * quarter, as the products read several rows at a time: one stream alone reads about 30%
     * below what a core pulls, and the figure would understate the limit */
    const uint64_t *p = j->buf + begin * 512;
    const size_t q = (size_t)(end - begin) * 512 / 4;
    uint64_t a = 0, b = 0, c = 0, d = 0;
    for (size_t i = 0; i < q; i += 2) {
        a += p[i] + p[i + 1];
        b += p[q + i] + p[q + i + 1];
        c += p[2 * q + i] + p[2 * q + i + 1];
        d += p[3 * q + i] + p[3 * q + i + 1];
    }
    j->sums[thread & 63] += a + b + c + d;
}

int calgae_bw_probe_open(calgae_bw_probe *b, size_t bytes)
{
    memset(b, 0, sizeof *b);
    bytes &= ~(size_t)4095;
    if (bytes == 0)
        return -1;
    uint64_t *buf = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (buf == MAP_FAILED)
        return -1;
    /* touch every page with real data so no pass reads the shared zero page */
    for (size_t i = 0; i < bytes / 8; i++)
        buf[i] = i;
    b->buf = buf;
    b->bytes = bytes;
    return 0;
}

void calgae_bw_probe_close(calgae_bw_probe *b)
{
    if (b->buf)
        munmap(b->buf, b->bytes);
    memset(b, 0, sizeof *b);
}

double calgae_bw_probe_measure(calgae_bw_probe *b, calgae_pool *pool, int passes)
{
    if (!b->buf || passes < 1 || passes > 64)
        return -1.0;
    struct job j;
    memset(&j, 0, sizeof j);
    /* passes read 64 MiB slices in turn: each slice has left the caches by its next turn */
    const size_t slice = (size_t)64 << 20;
    const size_t n_slices = b->bytes / slice > 0 ? b->bytes / slice : 1;
    const size_t per = b->bytes / n_slices & ~(size_t)4095;
    double rates[64];
    for (int p = -1; p < passes; p++) { /* pass -1 warms up */
        j.buf = b->buf + b->next++ % n_slices * (per / sizeof *b->buf);
        double t0 = calgae_now_ms();
        calgae_pool_for(pool, (int64_t)(per / 4096), 64, read_slice, &j);
        double ms = calgae_now_ms() - t0;
        if (p >= 0)
            rates[p] = (double)per / (ms > 1e-6 ? ms : 1e-6) / 1e6;
    }
    volatile uint64_t sink = j.sums[0];
    (void)sink;
    return calgae_median(rates, passes);
}

double calgae_read_bandwidth(calgae_pool *pool, size_t bytes, int passes)
{
    calgae_bw_probe b;
    if (calgae_bw_probe_open(&b, bytes) != 0)
        return -1.0;
    double r = calgae_bw_probe_measure(&b, pool, passes);
    calgae_bw_probe_close(&b);
    return r;
}
