/*
 * bandwidth.h - the machine's memory read bandwidth, measured the way a memory-bound matrix x
 * vector product reads: 64 MiB slices of a buffer far larger than the last-level cache, one per
 * pass in turn, each split among the pool's threads and read by each as 4 sequential streams.
 * The figure bounds generation speed: a token reads every weight once.
 */
#ifndef CALGAE_BANDWIDTH_H
#define CALGAE_BANDWIDTH_H

#include <stddef.h>
#include <stdint.h>

#include "pool.h"

/* Median over `passes` passes of bytes read per second, in GB/s (10^9), reading `bytes` bytes
 * (rounded down to 4 KiB). Returns a negative value if the buffer can't be allocated. */
double calgae_read_bandwidth(calgae_pool *pool, size_t bytes, int passes);

/* The same with a buffer kept between measurements, for figures taken right beside the runs
 * they bound (a shared machine's bandwidth drifts by tens of percent within a minute). */
typedef struct calgae_bw_probe {
    uint64_t *buf;
    size_t bytes;
    size_t next; /* the slice the next pass starts from */
} calgae_bw_probe;

int calgae_bw_probe_open(calgae_bw_probe *b, size_t bytes);
double calgae_bw_probe_measure(calgae_bw_probe *b, calgae_pool *pool, int passes);
void calgae_bw_probe_close(calgae_bw_probe *b);

#endif
