/*
 * sampler_draws.c - draws tokens with the runtime's sampler (core/engine/sampler.c) for the
 * statistical test tests/sampler_stat_test.py, which judges the counts against its own
 * computation of the distribution:
 *
 *     sampler_draws LOGITS.f32 TEMPERATURE TOP_K TOP_P SEED DRAWS [MIN_P PENALTY LAST_N HISTORY]
 *
 * With the last four: calgae_sampler_state_set_filters(MIN_P, PENALTY, LAST_N), then HISTORY (token
 * ids, comma-separated, or "-" for none) accepted once, before the draws.
 * LOGITS.f32 holds one row of little-endian float32 logits (its length is the vocabulary).
 * Prints one line per token id, "id count", for every id (zeros included). Each draw gets a
 * fresh copy of the logits, since calgae_sample overwrites them. Exit 1 on any error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sampler.h"

int main(int argc, char **argv)
{
    if (argc != 7 && argc != 11) {
        fprintf(stderr, "usage: %s LOGITS.f32 TEMPERATURE TOP_K TOP_P SEED DRAWS "
                "[MIN_P PENALTY LAST_N HISTORY]\n", argv[0]);
        return 1;
    }
    FILE *f = fopen(argv[1], "rb");
    if (!f) {
        fprintf(stderr, "sampler_draws: cannot open %s\n", argv[1]);
        return 1;
    }
    float buf[65536];
    size_t n = fread(buf, sizeof *buf, sizeof buf / sizeof *buf, f);
    fclose(f);
    const long draws = strtol(argv[6], NULL, 10);
    if (n < 2 || draws < 1) {
        fprintf(stderr, "sampler_draws: %zu logits, %ld draws\n", n, draws);
        return 1;
    }
    calgae_sampler_state s;
    char err[256];
    if (calgae_sampler_state_init(&s, (int)n, strtof(argv[2], NULL), atoi(argv[3]), strtof(argv[4], NULL),
                            strtoull(argv[5], NULL, 10), err, sizeof err) != 0) {
        fprintf(stderr, "sampler_draws: %s\n", err);
        return 1;
    }
    if (argc == 11) {
        if (calgae_sampler_state_set_filters(&s, strtof(argv[7], NULL), strtof(argv[8], NULL),
                                       atoi(argv[9]), err, sizeof err) != 0) {
            fprintf(stderr, "sampler_draws: %s\n", err);
            return 1;
        }
        for (char *p = argv[10]; *p && *p != '-';) {
            char *end;
            int32_t id = (int32_t)strtol(p, &end, 10);
            if (end == p) {
                fprintf(stderr, "sampler_draws: bad history '%s'\n", argv[10]);
                return 1;
            }
            calgae_sampler_state_accept(&s, &id, 1);
            p = *end == ',' ? end + 1 : end;
        }
    }
    float *work = malloc(n * sizeof *work);
    long *count = calloc(n, sizeof *count);
    if (!work || !count) {
        fprintf(stderr, "sampler_draws: out of memory\n");
        return 1;
    }
    for (long d = 0; d < draws; d++) {
        memcpy(work, buf, n * sizeof *work);
        int32_t id = calgae_sample(&s, work);
        if (id < 0 || (size_t)id >= n) {
            fprintf(stderr, "sampler_draws: drew id %d outside 0..%zu\n", id, n - 1);
            return 1;
        }
        count[id]++;
    }
    for (size_t i = 0; i < n; i++)
        printf("%zu %ld\n", i, count[i]);
    calgae_sampler_state_free(&s);
    free(work);
    free(count);
    return 0;
}
