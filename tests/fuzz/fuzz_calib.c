/*
 * fuzz_calib.c - libFuzzer target: the calibration cache (core/host/calib_cache.c), which is a
 * file anyone may have edited or truncated. The input is written as a cache file and read the
 * ways the host reads it (calgae_calib_cache_find, calgae_calib_cache_list); every line is
 * parsed alone too, and each line that parses must print back to a line that parses to the
 * same entry (what calgae_calib_cache_store writes is what the next load reads).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "calibrate.h"
#include "fuzz_common.h"

static void check_entry(const calgae_calib_entry *e)
{
    FUZZ_CHECK(e->cols > 0 && e->threads > 0 && (e->repack == 0 || e->repack == 1), "key fields");
    FUZZ_CHECK(e->n_mv >= 0 && e->n_mv <= CALGAE_CALIB_MAX && e->n_mm >= 0 &&
               e->n_mm <= CALGAE_CALIB_MAX, "counts %d %d", e->n_mv, e->n_mm);
    for (int i = 0; i < e->n_mv; i++)
        FUZZ_CHECK(e->mv_name[i][0] && strlen(e->mv_name[i]) <= 32, "mv name %d", i);
    for (int i = 0; i < e->n_mm; i++)
        FUZZ_CHECK(e->mm_name[i][0] && strlen(e->mm_name[i]) <= 32, "mm name %d", i);
}

/* A parsed line prints back to a line with the same key, names and count of figures. */
static void round_trip(const calgae_calib_entry *e)
{
    char line[4096];
    calgae_calib_entry back;
    calgae_calib_format(e, line, sizeof line);
    FUZZ_CHECK(calgae_calib_parse(line, &back) == 0, "own line does not parse: %s", line);
    FUZZ_CHECK(back.cpu == e->cpu && back.plugins == e->plugins && back.type == e->type &&
               back.cols == e->cols && back.threads == e->threads && back.n_mv == e->n_mv &&
               back.n_mm == e->n_mm, "round trip changed the entry: %s", line);
}

static void each_line(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return;
    memcpy(text, data, size);
    text[size] = '\0';
    for (char *p = text, *nl; p; p = nl ? nl + 1 : NULL) {
        nl = strchr(p, '\n');
        if (nl)
            *nl = '\0';
        calgae_calib_entry e;
        if (calgae_calib_parse(p, &e) == 0) {
            check_entry(&e);
            round_trip(&e);
        }
    }
    free(text);
}

static void one_input(const uint8_t *data, size_t size)
{
    each_line(data, size);
    char path[] = "/tmp/fuzz_calib_XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return;
    const int ok = write(fd, data, size) == (ssize_t)size;
    close(fd);
    if (ok) {
        calgae_calib_entry e = {.cpu = 1, .plugins = 1, .cols = 64, .threads = 2, .repack = 1};
        if (calgae_calib_cache_find(path, &e) == 0)
            check_entry(&e);
        calgae_calib_entry all[4];
        const int n = calgae_calib_cache_list(path, 1, 1, all, 4);
        FUZZ_CHECK(n >= 0 && n <= 4, "list gave %d", n);
        for (int i = 0; i < n; i++)
            check_entry(&all[i]);
        /* and the rewrite keeps the file readable */
        char why[256];
        if (calgae_calib_cache_store(path, &e, why, sizeof why) == 0) {
            calgae_calib_entry again = e;
            FUZZ_CHECK(calgae_calib_cache_find(path, &again) == 0, "stored entry not found");
        }
    }
    unlink(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_begin(size);
    one_input(data, size);
    fuzz_end();
    return 0;
}
