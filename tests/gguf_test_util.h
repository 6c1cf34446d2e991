/*
 * gguf_test_util.h - helpers of test_gguf.c, kept apart so the tests read on their own: scratch
 * and model paths from the environment, whole-file I/O, a little-endian byte builder for
 * hand-made GGUF files (layout of ggml's docs/gguf.md) and an open-and-check helper.
 *
 * Static functions for the one test program that includes it; include it after cmocka.h, in a
 * file that defines _POSIX_C_SOURCE 200809L before any system header.
 */
#ifndef CALGAE_GGUF_TEST_UTIL_H
#define CALGAE_GGUF_TEST_UTIL_H

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gguf.h"

static const char *env_dir(const char *name)
{
    const char *d = getenv(name);
    if (!d || !d[0])
        fail_msg("%s is not set", name);
    return d;
}

static void tmp_path(char *out, const char *name)
{
    snprintf(out, PATH_MAX, "%s/%s", env_dir("CALGAE_TEST_TMP"), name);
}

static void model_path(char *out, const char *name)
{
    snprintf(out, PATH_MAX, "%s/%s", env_dir("CALGAE_MODELS"), name);
}

static void write_file(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_true(n == 0 || fwrite(p, 1, n, f) == n);
    assert_int_equal(fclose(f), 0);
}

static void *read_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long size = ftell(f);
    assert_true(size > 0);
    rewind(f);
    void *p = malloc((size_t)size);
    assert_non_null(p);
    assert_int_equal(fread(p, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    *n = (size_t)size;
    return p;
}

static int str_eq(calgae_gguf_str s, const char *c)
{
    return s.len == strlen(c) && memcmp(s.ptr, c, s.len) == 0;
}

/* ---- A little-endian byte builder for hand-made files ------------------------------------ */

typedef struct bytes {
    uint8_t *p;
    size_t n, cap;
} bytes;

static void put(bytes *b, const void *p, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    memcpy(b->p + b->n, p, n);
    b->n += n;
}

static void le(bytes *b, uint64_t v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t c = (uint8_t)(v >> (8 * i));
        put(b, &c, 1);
    }
}

static void str_(bytes *b, const char *s)
{
    le(b, strlen(s), 8);
    put(b, s, strlen(s));
}

static void pad(bytes *b, size_t align)
{
    while (b->n % align)
        le(b, 0, 1);
}

static void header(bytes *b, uint32_t version, uint64_t n_tensors, uint64_t n_kv)
{
    put(b, "GGUF", 4);
    le(b, version, 4);
    le(b, n_tensors, 8);
    le(b, n_kv, 8);
}

static void kv_u32(bytes *b, const char *key, uint32_t v)
{
    str_(b, key);
    le(b, CALGAE_GGUF_UINT32, 4);
    le(b, v, 4);
}

static void tinfo(bytes *b, const char *name, uint32_t n_dims, const uint64_t *ne, uint32_t type,
                  uint64_t offset)
{
    str_(b, name);
    le(b, n_dims, 4);
    for (uint32_t i = 0; i < n_dims; i++)
        le(b, ne[i], 8);
    le(b, type, 4);
    le(b, offset, 8);
}

/* One tensor info and a data section of data_bytes zeros (no metadata). */
static void tensor_file(bytes *b, const char *name, uint32_t n_dims, const uint64_t *ne,
                        uint32_t type, uint64_t offset, size_t data_bytes)
{
    header(b, 3, 1, 0);
    tinfo(b, name, n_dims, ne, type, offset);
    pad(b, 32);
    for (size_t i = 0; i < data_bytes; i++)
        le(b, 0, 1);
}

/* A file with one metadata entry, up to its value: header, key, value type. */
static void one_kv(bytes *b, const char *key, uint32_t type)
{
    header(b, 3, 0, 1);
    str_(b, key);
    le(b, type, 4);
}

static void one_array(bytes *b, const char *key, uint32_t elem_type, uint64_t len)
{
    one_kv(b, key, CALGAE_GGUF_ARRAY);
    le(b, elem_type, 4);
    le(b, len, 8);
}

/* Writes b and opens it. With a hint, expects a refusal whose message has the path and the hint
 * and g cleared; without, expects success. Then frees b for reuse. */
static void check_open_(bytes *b, const char *hint, int line)
{
    char path[PATH_MAX], name[64], err[CALGAE_ERR_LEN] = "";
    snprintf(name, sizeof name, "hostile_%d.gguf", line);
    tmp_path(path, name);
    write_file(path, b->p, b->n);
    calgae_gguf g;
    int rc = calgae_gguf_open(&g, path, err, sizeof err);
    if (!hint && rc != 0)
        fail_msg("line %d: %s", line, err);
    if (hint && (rc != -1 || !strstr(err, path) || !strstr(err, hint)))
        fail_msg("line %d: rc %d, expected '%s' in: %s", line, rc, hint, err);
    if (hint)
        assert_true(!g.kv && !g.tensors && !g.map.data);
    calgae_gguf_close(&g);
    unlink(path);
    free(b->p);
    *b = (bytes){0};
}
#define expect_reject(b, hint) check_open_((b), (hint), __LINE__)
#define expect_accept(b) check_open_((b), NULL, __LINE__)

#endif
