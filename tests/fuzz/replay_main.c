/*
 * replay_main.c - runs a fuzz target without libFuzzer: every file named on the command line,
 * or in a folder named there (not recursing; dotfiles skipped), goes through
 * LLVMFuzzerTestOneInput once. This is how ctest replays the corpus and every crash input ever
 * found, in the gcc build and in the sanitizer build. A missing folder, an unreadable file or
 * no input at all is a failure; a broken property aborts.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_common.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "replay: cannot open %s\n", path);
        return -1;
    }
    size_t cap = 4096, n = 0;
    uint8_t *buf = malloc(cap);
    for (size_t got; buf && (got = fread(buf + n, 1, cap - n, f)) > 0;) {
        n += got;
        if (n == cap) {
            uint8_t *bigger = realloc(buf, cap *= 2);
            if (!bigger)
                free(buf);
            buf = bigger;
        }
    }
    int bad = ferror(f) || !buf;
    fclose(f);
    if (bad) {
        free(buf);
        fprintf(stderr, "replay: cannot read %s\n", path);
        return -1;
    }
    /* an exact-size copy, as libFuzzer passes it, so that a read past the end is caught */
    uint8_t *exact = malloc(n ? n : 1);
    if (!exact) {
        free(buf);
        return -1;
    }
    memcpy(exact, buf, n);
    free(buf);
    LLVMFuzzerTestOneInput(exact, n);
    free(exact);
    return 0;
}

static int cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
    if (LLVMFuzzerInitialize)
        LLVMFuzzerInitialize(&argc, &argv);
    long runs = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "replay: %s does not exist\n", argv[i]);
            return 1;
        }
        if (!S_ISDIR(st.st_mode)) {
            if (run_file(argv[i]) != 0)
                return 1;
            runs++;
            continue;
        }
        struct dirent **list;
        int n = scandir(argv[i], &list, NULL, NULL);
        if (n < 0) {
            fprintf(stderr, "replay: cannot list %s\n", argv[i]);
            return 1;
        }
        char **names = malloc((size_t)(n ? n : 1) * sizeof *names);
        int k = 0;
        for (int j = 0; j < n; j++) {
            if (list[j]->d_name[0] != '.' && names)
                names[k++] = strdup(list[j]->d_name);
            free(list[j]);
        }
        free(list);
        if (!names)
            return 1;
        qsort(names, (size_t)k, sizeof *names, cmp);
        for (int j = 0; j < k; j++) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", argv[i], names[j]);
            free(names[j]);
            if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
                continue;
            if (run_file(path) != 0)
                return 1;
            runs++;
        }
        free(names);
    }
    if (runs == 0) {
        fprintf(stderr, "replay: no input to run\n");
        return 1;
    }
    printf("replay: %ld inputs, no crash\n", runs);
    return 0;
}
