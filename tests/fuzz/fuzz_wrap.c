/*
 * fuzz_wrap.c - what the fuzz executables put between Calgae's code and libc, through the
 * linker's --wrap (tests/fuzz/CMakeLists.txt): exact-size copies of file maps, and a bound on
 * every allocation made while an input is worked on (see fuzz_common.h).
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_common.h"

/* ---- Exact-size file maps ----------------------------------------------------------------
 * The loaders map files read-only, and a read past the end of a map that stays inside its last
 * page returns zeros instead of faulting, which no sanitizer sees. The fuzz executables are
 * linked with -Wl,--wrap=mmap,--wrap=munmap: a read-only private map of a whole regular file
 * becomes a malloc'd copy of exactly the file's size, so AddressSanitizer catches the first byte
 * read past the end. Every other mmap goes through unchanged. */

void *__real_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
int __real_munmap(void *addr, size_t len);
void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
int __wrap_munmap(void *addr, size_t len);

#define MAX_COPIES 16
static struct {
    void *p;
    size_t len;
} copies[MAX_COPIES];

void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    struct stat st;
    if (addr || prot != PROT_READ || flags != MAP_PRIVATE || fd < 0 || off != 0 ||
        fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size != len)
        return __real_mmap(addr, len, prot, flags, fd, off);
    for (int i = 0; i < MAX_COPIES; i++) {
        if (copies[i].p)
            continue;
        char *p = malloc(len);
        FUZZ_CHECK(p != NULL, "out of memory for a %zu-byte map", len);
        for (size_t done = 0; done < len;) {
            ssize_t n = pread(fd, p + done, len - done, (off_t)done);
            FUZZ_CHECK(n > 0, "pread failed");
            done += (size_t)n;
        }
        copies[i].p = p;
        copies[i].len = len;
        return p;
    }
    fuzz_fail(__FILE__, __LINE__, "copies", "more than %d files mapped at once", MAX_COPIES);
}

int __wrap_munmap(void *addr, size_t len)
{
    for (int i = 0; i < MAX_COPIES; i++) {
        if (copies[i].p == addr && addr) {
            FUZZ_CHECK(copies[i].len == len, "munmap of %zu bytes of a %zu-byte map", len,
                       copies[i].len);
            free(addr);
            copies[i].p = NULL;
            return 0;
        }
    }
    return __real_munmap(addr, len);
}

/* ---- Allocations bounded by the input --------------------------------------------------
 * The fuzz executables are also linked with -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc, which
 * reaches every call in Calgae's own code (not libc's or the sanitizers'): an allocation larger
 * than FUZZ_ALLOC_FACTOR times the input plus FUZZ_ALLOC_SLACK breaks a property, so a header
 * count that drives an allocation must have been bounded by the file's size first. The factor
 * leaves room for per-item structs (a GGUF kv entry per 14 bytes of file, the tokenizer's 60-byte
 * merge candidates per byte of text); the slack, for fixed-size parser state. */
#define FUZZ_ALLOC_FACTOR 64u
#define FUZZ_ALLOC_SLACK (64u << 10)

static size_t alloc_budget; /* 0 between inputs: no limit */
static size_t input_size;

void *__real_malloc(size_t n);
void *__real_calloc(size_t k, size_t n);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t k, size_t n);
void *__wrap_realloc(void *p, size_t n);

static void check_alloc(size_t n)
{
    if (alloc_budget && n > alloc_budget) {
        alloc_budget = 0; /* the report itself may allocate */
        fuzz_fail(__FILE__, __LINE__, "allocation bounded by the input",
                  "%zu bytes allocated for a %zu-byte input", n, input_size);
    }
}

void *__wrap_malloc(size_t n)
{
    check_alloc(n);
    return __real_malloc(n);
}

void *__wrap_calloc(size_t k, size_t n)
{
    if (n == 0 || k <= SIZE_MAX / n)
        check_alloc(k * n);
    return __real_calloc(k, n);
}

void *__wrap_realloc(void *p, size_t n)
{
    check_alloc(n);
    return __real_realloc(p, n);
}

void fuzz_begin(size_t size)
{
    input_size = size;
    alloc_budget = size > (SIZE_MAX - FUZZ_ALLOC_SLACK) / FUZZ_ALLOC_FACTOR
                       ? SIZE_MAX
                       : FUZZ_ALLOC_FACTOR * size + FUZZ_ALLOC_SLACK;
}

void fuzz_end(void)
{
    alloc_budget = 0;
}
