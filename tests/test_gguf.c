/*
 * test_gguf.c - tests of the GGUF reader and writer (core/formats/gguf.c, core/formats/gguf_write.c) against
 * ggml's docs/gguf.md: the shared real files (stories260K.gguf, the Llama vocabulary), a
 * writer round trip, and hostile files built byte by byte, each of which must be refused with a
 * message naming the file and the reason, without crashing or leaking (run under ASan too).
 *
 * Environment: CALGAE_MODELS (the shared models folder), CALGAE_TEST_TMP (a scratch folder).
 */
#define _POSIX_C_SOURCE 200809L /* truncate, PATH_MAX */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blocks.h"
#include "types.h"
#include "calgae_plugin.h"
#include "gguf.h"
#include "gguf_test_util.h"

/* ---- Real files ------------------------------------------------------------------------- */

static void test_stories260k(void **state)
{
    (void)state;
    char path[PATH_MAX], err[CALGAE_ERR_LEN] = "";
    model_path(path, "stories260K.gguf");
    calgae_gguf g;
    if (calgae_gguf_open(&g, path, err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_int_equal(g.version, 3);
    assert_int_equal(g.alignment, 32);
    assert_int_equal(g.data_offset % 32, 0);

    calgae_gguf_str arch = {0};
    assert_int_equal(calgae_gguf_get_str(&g, "general.architecture", &arch, path, err,
                                         sizeof err), 0);
    assert_true(str_eq(arch, "llama"));
    static const struct { const char *key; uint32_t want; } u32s[] = {
        {"llama.embedding_length", 64}, {"llama.block_count", 5},
        {"llama.attention.head_count", 8}, {"llama.attention.head_count_kv", 4},
    };
    for (size_t i = 0; i < sizeof u32s / sizeof u32s[0]; i++) {
        uint32_t v = 0;
        assert_int_equal(calgae_gguf_get_u32(&g, u32s[i].key, &v, path, err, sizeof err), 0);
        assert_int_equal(v, u32s[i].want);
    }
    float eps = 0;
    assert_int_equal(calgae_gguf_get_f32(&g, "llama.attention.layer_norm_rms_epsilon", &eps,
                                         path, err, sizeof err), 0);
    assert_float_equal(eps, 1e-5f, 1e-9f);

    /* missing key: 1 and *out untouched; wrong type: -1 naming path and key */
    uint32_t keep = 77;
    assert_int_equal(calgae_gguf_get_u32(&g, "no.such.key", &keep, path, err, sizeof err), 1);
    assert_int_equal(keep, 77);
    assert_int_equal(calgae_gguf_get_u32(&g, "general.architecture", &keep, path, err,
                                         sizeof err), -1);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "general.architecture"));
    assert_int_equal(calgae_gguf_get_str(&g, "llama.block_count", &arch, path, err,
                                         sizeof err), -1);

    const calgae_gguf_tensor *t = calgae_gguf_find_tensor(&g, "token_embd.weight");
    assert_non_null(t);
    assert_int_equal(t->n_dims, 2);
    assert_int_equal(t->ne[0], 64);
    assert_int_equal(t->ne[1], 512);
    assert_int_equal(t->ne[2], 1);
    assert_int_equal(t->type, CALGAE_TYPE_F32);
    assert_int_equal(t->nbytes, 64 * 512 * 4);
    t = calgae_gguf_find_tensor(&g, "blk.0.ffn_down.weight");
    assert_non_null(t);
    assert_int_equal(t->ne[0], 172);
    assert_int_equal(t->ne[1], 64);
    assert_null(calgae_gguf_find_tensor(&g, "blk.5.ffn_down.weight"));
    for (uint64_t i = 0; i < g.n_tensors; i++) {
        const uint8_t *d = g.tensors[i].data;
        assert_true(d >= g.map.data + g.data_offset);
        assert_true(d + g.tensors[i].nbytes <= g.map.data + g.map.size);
        assert_int_equal(g.tensors[i].offset % g.alignment, 0);
    }
    calgae_gguf_close(&g);
    assert_null(g.map.data);
}

static void test_vocab(void **state)
{
    (void)state;
    char path[PATH_MAX], err[CALGAE_ERR_LEN] = "";
    model_path(path, "ggml-vocab-llama-spm.gguf");
    calgae_gguf g;
    if (calgae_gguf_open(&g, path, err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_int_equal(g.n_tensors, 0);
    const calgae_gguf_kv *tok = calgae_gguf_find_kv(&g, "tokenizer.ggml.tokens");
    assert_non_null(tok);
    assert_int_equal(tok->type, CALGAE_GGUF_ARRAY);
    assert_int_equal(tok->arr_type, CALGAE_GGUF_STRING);
    assert_int_equal(tok->arr_len, 32000);
    assert_true(str_eq(tok->arr_strs[0], "<unk>"));
    assert_true(str_eq(tok->arr_strs[1], "<s>"));
    assert_true(str_eq(tok->arr_strs[2], "</s>"));
    assert_true(str_eq(tok->arr_strs[3], "<0x00>"));
    /* llama.cpp's token types: 2 unknown, 3 control, 6 byte */
    const calgae_gguf_kv *types = calgae_gguf_find_kv(&g, "tokenizer.ggml.token_type");
    assert_non_null(types);
    assert_int_equal(types->arr_len, 32000);
    assert_int_equal(calgae_gguf_arr_i32(types, 0), 2);
    assert_int_equal(calgae_gguf_arr_i32(types, 1), 3);
    assert_int_equal(calgae_gguf_arr_i32(types, 3), 6);
    const calgae_gguf_kv *scores = calgae_gguf_find_kv(&g, "tokenizer.ggml.scores");
    assert_non_null(scores);
    assert_int_equal(scores->arr_type, CALGAE_GGUF_FLOAT32);
    assert_int_equal(scores->arr_len, 32000);
    assert_true(isfinite(calgae_gguf_arr_f32(scores, 31999)));
    calgae_gguf_close(&g);
}

/* ---- Writer round trip ------------------------------------------------------------------ */

static const char *const rt_keys[] = {
    "general.architecture", "general.name", "t.u32", "t.i32", "t.f32", "t.true", "t.false",
    "t.strs", "t.f32s", "t.i32s", "t.empty",
};

static const char *const rt_names[5] = {"f32", "f16", "q8_0", "q4_0", "q4_1"};
static const uint32_t rt_dims[5] = {2, 2, 2, 3, 1};

/* Builds the round-trip writer; data holds the tensors' bytes, which must outlive the write. */
static calgae_gguf_writer *roundtrip_writer(uint8_t *data[5], size_t nbytes[5])
{
    static const char *const strs[] = {"a", "", "é✓"};
    static const float f32s[] = {1.5f, -2.0f, 1e-30f};
    static const int32_t i32s[] = {-1, 0, INT32_MAX, INT32_MIN};
    calgae_gguf_writer *w = calgae_gguf_writer_new();
    assert_non_null(w);
    assert_int_equal(calgae_gguf_add_str(w, rt_keys[0], "llama"), 0);
    assert_int_equal(calgae_gguf_add_str(w, rt_keys[1], "tést ✓"), 0);
    assert_int_equal(calgae_gguf_add_u32(w, rt_keys[2], 0xfffffffeu), 0);
    assert_int_equal(calgae_gguf_add_i32(w, rt_keys[3], -7), 0);
    assert_int_equal(calgae_gguf_add_f32(w, rt_keys[4], 1e-5f), 0);
    assert_int_equal(calgae_gguf_add_bool(w, rt_keys[5], 42), 0);
    assert_int_equal(calgae_gguf_add_bool(w, rt_keys[6], 0), 0);
    assert_int_equal(calgae_gguf_add_arr_str(w, rt_keys[7], strs, 3), 0);
    assert_int_equal(calgae_gguf_add_arr_f32(w, rt_keys[8], f32s, 3), 0);
    assert_int_equal(calgae_gguf_add_arr_i32(w, rt_keys[9], i32s, 4), 0);
    assert_int_equal(calgae_gguf_add_arr_i32(w, rt_keys[10], NULL, 0), 0);

    static const uint32_t types[5] = {CALGAE_TYPE_F32, CALGAE_TYPE_F16, CALGAE_TYPE_Q8_0,
                                      CALGAE_TYPE_Q4_0, CALGAE_TYPE_Q4_1};
    static const int64_t ne[5][3] = {{5, 3, 1}, {32, 2, 1}, {64, 3, 1}, {32, 2, 2}, {32, 1, 1}};
    for (int i = 0; i < 5; i++) {
        int64_t rows = ne[i][1] * ne[i][2];
        size_t row = 0;
        assert_int_equal(calgae_type_row_bytes(types[i], ne[i][0], &row), 0);
        nbytes[i] = row * (size_t)rows;
        data[i] = malloc(nbytes[i]);
        assert_non_null(data[i]);
        float x[64];
        for (int64_t r = 0; r < rows; r++) {
            for (int k = 0; k < ne[i][0]; k++)
                x[k] = sinf((float)(r * 64 + k + i)) * 3.0f;
            uint8_t *row = data[i] + (size_t)r * (nbytes[i] / (size_t)rows);
            if (types[i] == CALGAE_TYPE_Q4_1)
                memset(row, 0xa5 + (int)r, nbytes[i] / (size_t)rows); /* any bytes will do */
            else
                assert_int_equal(calgae_quantize_row(types[i], x, row, ne[i][0]), 0);
        }
        assert_int_equal(calgae_gguf_add_tensor(w, rt_names[i], types[i], rt_dims[i], ne[i],
                                                data[i], nbytes[i]), 0);
    }
    return w;
}

static void test_roundtrip(void **state)
{
    (void)state;
    char path[PATH_MAX], err[CALGAE_ERR_LEN] = "";
    tmp_path(path, "roundtrip.gguf");
    uint8_t *data[5];
    size_t nbytes[5];
    calgae_gguf_writer *w = roundtrip_writer(data, nbytes);
    if (calgae_gguf_write(w, path, err, sizeof err) != 0)
        fail_msg("%s", err);
    calgae_gguf_writer_free(w);

    calgae_gguf g;
    if (calgae_gguf_open(&g, path, err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_int_equal(g.version, 3);
    assert_int_equal(g.n_kv, sizeof rt_keys / sizeof rt_keys[0]);
    for (uint64_t i = 0; i < g.n_kv; i++)
        assert_true(str_eq(g.kv[i].key, rt_keys[i])); /* in the order added */
    const calgae_gguf_kv *kv = g.kv;
    assert_true(str_eq(kv[0].v.s, "llama"));
    assert_int_equal(kv[1].type, CALGAE_GGUF_STRING);
    assert_true(str_eq(kv[1].v.s, "tést ✓"));
    assert_int_equal(kv[2].type, CALGAE_GGUF_UINT32);
    assert_int_equal(kv[2].v.u, 0xfffffffeu);
    assert_int_equal(kv[3].type, CALGAE_GGUF_INT32);
    assert_int_equal(kv[3].v.i, -7);
    assert_int_equal(kv[4].type, CALGAE_GGUF_FLOAT32);
    assert_true((float)kv[4].v.f == 1e-5f);
    assert_int_equal(kv[5].type, CALGAE_GGUF_BOOL);
    assert_int_equal(kv[5].v.u, 1);
    assert_int_equal(kv[6].v.u, 0);
    assert_int_equal(kv[7].arr_type, CALGAE_GGUF_STRING);
    assert_int_equal(kv[7].arr_len, 3);
    assert_true(str_eq(kv[7].arr_strs[0], "a") && str_eq(kv[7].arr_strs[1], ""));
    assert_true(str_eq(kv[7].arr_strs[2], "é✓"));
    assert_int_equal(kv[8].arr_type, CALGAE_GGUF_FLOAT32);
    assert_true(calgae_gguf_arr_f32(&kv[8], 0) == 1.5f && calgae_gguf_arr_f32(&kv[8], 1) == -2.0f);
    assert_true(calgae_gguf_arr_f32(&kv[8], 2) == 1e-30f);
    assert_int_equal(kv[9].arr_type, CALGAE_GGUF_INT32);
    assert_int_equal(calgae_gguf_arr_i32(&kv[9], 0), -1);
    assert_int_equal(calgae_gguf_arr_i32(&kv[9], 2), INT32_MAX);
    assert_int_equal(calgae_gguf_arr_i32(&kv[9], 3), INT32_MIN);
    assert_int_equal(kv[10].arr_len, 0);

    /* getters: a negative int32 does not fit a u32; an unsigned one does */
    uint32_t u = 0;
    assert_int_equal(calgae_gguf_get_u32(&g, "t.i32", &u, path, err, sizeof err), -1);
    assert_non_null(strstr(err, "t.i32"));
    assert_non_null(strstr(err, "range"));
    assert_int_equal(calgae_gguf_get_u32(&g, "t.u32", &u, path, err, sizeof err), 0);
    assert_int_equal(u, 0xfffffffeu);
    float f = 0;
    assert_int_equal(calgae_gguf_get_f32(&g, "t.u32", &f, path, err, sizeof err), -1);

    assert_int_equal(g.n_tensors, 5);
    assert_int_equal(g.alignment, 32);
    assert_int_equal(g.data_offset % 32, 0);
    static const int64_t want_ne[5][4] = {
        {5, 3, 1, 1}, {32, 2, 1, 1}, {64, 3, 1, 1}, {32, 2, 2, 1}, {32, 1, 1, 1}};
    static const uint32_t want_type[5] = {0, 1, 8, 2, 3};
    for (int i = 0; i < 5; i++) {
        const calgae_gguf_tensor *t = &g.tensors[i];
        assert_string_equal(t->name, rt_names[i]);
        assert_int_equal(t->n_dims, rt_dims[i]);
        assert_int_equal(t->type, want_type[i]);
        assert_memory_equal(t->ne, want_ne[i], sizeof t->ne);
        assert_int_equal(t->nbytes, nbytes[i]);
        assert_memory_equal(t->data, data[i], nbytes[i]);
        assert_int_equal(t->offset % 32, 0);
        assert_int_equal(((const uint8_t *)t->data - g.map.data) % 32, 0);
        free(data[i]);
    }
    assert_int_equal(g.map.size % 32, 0); /* the last tensor is padded too */
    calgae_gguf_close(&g);
    unlink(path);
}

/* ---- Truncation sweeps ------------------------------------------------------------------ */

/* Opens src's first len bytes, as copy, for every len in [from, to): copy is written once and
 * cut down with truncate() from the top. Lengths below need must be refused as truncated,
 * the others must open. */
static void sweep(const char *copy, const void *src, size_t from, size_t to, size_t need)
{
    char err[CALGAE_ERR_LEN];
    write_file(copy, src, to);
    for (size_t len = to; len-- > from;) {
        assert_int_equal(truncate(copy, (off_t)len), 0);
        calgae_gguf g;
        err[0] = '\0';
        int rc = calgae_gguf_open(&g, copy, err, sizeof err);
        if (len >= need) {
            if (rc != 0)
                fail_msg("length %zu should open: %s", len, err);
            calgae_gguf_close(&g);
            continue;
        }
        const char *hint = len == 0 ? "empty" : "truncated";
        if (rc != -1 || !strstr(err, copy) || !strstr(err, hint))
            fail_msg("length %zu: rc %d, expected '%s' in: %s", len, rc, hint, err);
    }
}

/* End of the last tensor's data: shorter files must be refused, longer ones need no padding. */
static size_t data_end(const char *path)
{
    char err[CALGAE_ERR_LEN];
    calgae_gguf g;
    if (calgae_gguf_open(&g, path, err, sizeof err) != 0)
        fail_msg("%s", err);
    size_t end = 0;
    for (uint64_t i = 0; i < g.n_tensors; i++) {
        size_t e = (size_t)((const uint8_t *)g.tensors[i].data - g.map.data) + g.tensors[i].nbytes;
        end = e > end ? e : end;
    }
    calgae_gguf_close(&g);
    return end;
}

static void test_truncated_small(void **state)
{
    (void)state;
    char path[PATH_MAX], err[CALGAE_ERR_LEN];
    tmp_path(path, "trunc_small.gguf");
    uint8_t *data[5];
    size_t nbytes[5], size;
    calgae_gguf_writer *w = roundtrip_writer(data, nbytes);
    assert_int_equal(calgae_gguf_write(w, path, err, sizeof err), 0);
    calgae_gguf_writer_free(w);
    for (int i = 0; i < 5; i++)
        free(data[i]);
    void *p = read_file(path, &size);
    sweep(path, p, 0, size, data_end(path)); /* every length */
    free(p);
    unlink(path);
}

static void test_truncated_stories(void **state)
{
    (void)state;
    char src[PATH_MAX], copy[PATH_MAX], err[CALGAE_ERR_LEN];
    model_path(src, "stories260K.gguf");
    tmp_path(copy, "trunc_stories.gguf");
    size_t size;
    void *p = read_file(src, &size);
    write_file(copy, p, size);
    calgae_gguf g;
    assert_int_equal(calgae_gguf_open(&g, copy, err, sizeof err), 0);
    size_t data_offset = g.data_offset, first_end = data_offset + g.tensors[0].nbytes;
    calgae_gguf_close(&g);
    assert_int_equal(data_end(copy), size);
    sweep(copy, p, size - 3, size, size);               /* the last bytes */
    sweep(copy, p, first_end - 2, first_end + 2, size); /* around the first tensor's end */
    sweep(copy, p, 0, data_offset + 40, size);          /* header, metadata, tensor infos */
    free(p);
    unlink(copy);
}

/* ---- Hostile files ---------------------------------------------------------------------- */

static void test_bad_header(void **state)
{
    (void)state;
    bytes b = {0};
    expect_reject(&b, "empty");
    put(&b, "GGU", 3);
    expect_reject(&b, "truncated");
    header(&b, 3, 0, 0);
    b.p[0] = 'X';
    expect_reject(&b, "magic");
    header(&b, 1, 0, 0);
    expect_reject(&b, "version 1");
    header(&b, 99, 0, 0);
    expect_reject(&b, "version 99");
    header(&b, 0x03000000u, 0, 0);
    expect_reject(&b, "big-endian");
    header(&b, 3, 0, 1ull << 60);
    expect_reject(&b, "n_kv");
    header(&b, 3, 1ull << 60, 0);
    expect_reject(&b, "n_tensors");
    header(&b, 3, UINT64_MAX, UINT64_MAX);
    expect_reject(&b, "too large");
    /* controls: the same shapes are fine when sane, in both versions */
    header(&b, 3, 0, 0);
    expect_accept(&b);
    header(&b, 2, 1, 1);
    kv_u32(&b, "general.alignment", 32);
    tinfo(&b, "w", 1, (const uint64_t[]){8}, CALGAE_TYPE_F32, 0);
    pad(&b, 32);
    put(&b, (const uint8_t[32]){0}, 32);
    expect_accept(&b);
}

static void test_bad_metadata(void **state)
{
    (void)state;
    bytes b = {0};
    header(&b, 3, 0, 1);
    le(&b, 1ull << 60, 8); /* key length */
    put(&b, "abcdefghijklmnop", 16);
    expect_reject(&b, "key length");
    one_kv(&b, "s", CALGAE_GGUF_STRING);
    le(&b, UINT64_MAX, 8);
    put(&b, "xyzxyzxyzxyzxyz", 15);
    expect_reject(&b, "string value length");
    one_array(&b, "arr", CALGAE_GGUF_UINT32, 1ull << 60);
    le(&b, 0, 8);
    expect_reject(&b, "array length");
    one_array(&b, "arr", CALGAE_GGUF_STRING, 1ull << 40);
    le(&b, 0, 8);
    expect_reject(&b, "array length");
    one_kv(&b, "weird", 13);
    le(&b, 0, 8);
    expect_reject(&b, "unknown value type 13");
    one_array(&b, "weird", 200, 1);
    le(&b, 0, 8);
    expect_reject(&b, "unknown array element type 200");
    one_array(&b, "nest", CALGAE_GGUF_ARRAY, 1);
    le(&b, CALGAE_GGUF_UINT8, 4);
    le(&b, 1, 8);
    le(&b, 0, 1);
    expect_reject(&b, "nested");
    one_kv(&b, "flag", CALGAE_GGUF_BOOL);
    le(&b, 2, 1);
    expect_reject(&b, "bool");
    one_array(&b, "flags", CALGAE_GGUF_BOOL, 2);
    put(&b, "\x01\x07", 2);
    expect_reject(&b, "bool element 1");
    one_kv(&b, "bad\xc3(key", CALGAE_GGUF_UINT8); /* 0xc3 needs a continuation byte */
    le(&b, 0, 1);
    expect_reject(&b, "key 'bad\\xc3(key': key is not valid UTF-8");
    header(&b, 3, 0, 1);
    le(&b, 3, 8);
    put(&b, "a\0b", 3); /* valid UTF-8, but keys are looked up as C strings */
    le(&b, CALGAE_GGUF_UINT8, 4);
    le(&b, 0, 1);
    expect_reject(&b, "key 'a\\x00b': key is not valid UTF-8");
    one_kv(&b, "overlong", CALGAE_GGUF_STRING);
    str_(&b, "\xc0\xaf"); /* overlong '/' */
    expect_reject(&b, "key 'overlong': string value is not valid UTF-8");
    one_kv(&b, "", CALGAE_GGUF_UINT32);
    le(&b, 0, 4);
    expect_reject(&b, "empty key");
    header(&b, 3, 0, 2);
    kv_u32(&b, "k", 1);
    kv_u32(&b, "k", 2);
    expect_reject(&b, "duplicate key");

    static const uint32_t bad_align[] = {0, 3, 48};
    for (size_t i = 0; i < 3; i++) {
        header(&b, 3, 0, 1);
        kv_u32(&b, "general.alignment", bad_align[i]);
        expect_reject(&b, "power of two");
    }
    one_kv(&b, "general.alignment", CALGAE_GGUF_STRING);
    str_(&b, "32");
    expect_reject(&b, "alignment");
    /* controls: the same shapes with sane values open */
    one_array(&b, "flags", CALGAE_GGUF_BOOL, 2);
    put(&b, "\x01\x00", 2);
    expect_accept(&b);
    one_kv(&b, "fine", CALGAE_GGUF_STRING);
    str_(&b, "\xc3\xa9\xf0\x9f\xa6\x99");
    expect_accept(&b);
}

static void test_bad_tensor_info(void **state)
{
    (void)state;
    bytes b = {0};
    const uint64_t ne8[] = {8, 1, 1, 1, 1};
    tensor_file(&b, "w", 1, ne8, CALGAE_TYPE_F32, 0, 32);
    expect_accept(&b); /* control for the cases below */
    tensor_file(&b, "w", 0, ne8, CALGAE_TYPE_F32, 0, 32);
    expect_reject(&b, "n_dims 0");
    tensor_file(&b, "w", 5, ne8, CALGAE_TYPE_F32, 0, 32);
    expect_reject(&b, "n_dims 5");
    tensor_file(&b, "w", 2, (const uint64_t[]){8, 0}, CALGAE_TYPE_F32, 0, 32);
    expect_reject(&b, "ne[1] is 0");
    tensor_file(&b, "w", 1, (const uint64_t[]){(uint64_t)-8}, CALGAE_TYPE_F32, 0, 32);
    expect_reject(&b, "too large");
    tensor_file(&b, "w", 3, (const uint64_t[]){1ull << 32, 1ull << 32, 1ull << 32},
                CALGAE_TYPE_F32, 0, 32);
    expect_reject(&b, "overflow");
    tensor_file(&b, "w", 2, (const uint64_t[]){1ull << 61, 2}, CALGAE_TYPE_F32, 0, 32);
    expect_reject(&b, "bytes overflows"); /* fits int64 in elements, not size_t in bytes */
    tensor_file(&b, "w", 1, ne8, 99, 0, 32);
    expect_reject(&b, "unknown tensor type 99");
    tensor_file(&b, "w", 1, ne8, 16, 0, 32); /* IQ2_XXS: real in ggml, not here */
    expect_reject(&b, "unknown tensor type 16");
    tensor_file(&b, "w", 1, (const uint64_t[]){33}, CALGAE_TYPE_Q8_0, 0, 64);
    expect_reject(&b, "not a multiple of 32");
    tensor_file(&b, "w", 1, ne8, CALGAE_TYPE_F32, 16, 64);
    expect_reject(&b, "not a multiple of the alignment");
    tensor_file(&b, "w", 1, ne8, CALGAE_TYPE_F32, 1ull << 20, 32);
    expect_reject(&b, "beyond the end");
    tensor_file(&b, "w", 1, ne8, CALGAE_TYPE_F32, UINT64_MAX - 31, 32);
    expect_reject(&b, "beyond the end");
    tensor_file(&b, "w", 1, (const uint64_t[]){64}, CALGAE_TYPE_F32, 0, 255);
    expect_reject(&b, "beyond the end"); /* one byte short */
    tensor_file(&b, "w", 1, (const uint64_t[]){1ull << 40}, CALGAE_TYPE_F32, 0, 32);
    expect_reject(&b, "beyond the end");

    char name[97];
    memset(name, 'n', 96);
    name[96] = '\0';
    tensor_file(&b, name, 1, ne8, CALGAE_TYPE_F32, 0, 32);
    expect_reject(&b, "longer than 95");
    name[95] = '\0';
    tensor_file(&b, name, 1, ne8, CALGAE_TYPE_F32, 0, 32);
    expect_accept(&b);
    tensor_file(&b, "", 1, ne8, CALGAE_TYPE_F32, 0, 32);
    expect_reject(&b, "empty tensor name");
    tensor_file(&b, "w\xff", 1, ne8, CALGAE_TYPE_F32, 0, 32);
    expect_reject(&b, "'w\\xff': name is not valid UTF-8");

    header(&b, 3, 2, 0);
    tinfo(&b, "w", 1, ne8, CALGAE_TYPE_F32, 0);
    tinfo(&b, "w", 1, ne8, CALGAE_TYPE_F32, 32);
    pad(&b, 32);
    put(&b, (const uint8_t[64]){0}, 64);
    expect_reject(&b, "tensor 'w': duplicate tensor name");

    /* a custom alignment is honoured: 64 is required of offsets, and 32 is then wrong */
    for (uint64_t off = 32; off <= 64; off += 32) {
        header(&b, 3, 1, 1);
        kv_u32(&b, "general.alignment", 64);
        tinfo(&b, "w", 1, ne8, CALGAE_TYPE_F32, off);
        pad(&b, 64);
        put(&b, (const uint8_t[128]){0}, 128);
        if (off == 32)
            expect_reject(&b, "alignment 64");
        else
            expect_accept(&b);
    }
}

/* ---- Writer failures -------------------------------------------------------------------- */

/* Names in dir other than "." and "..", counted. */
static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

static void test_writer_failures(void **state)
{
    (void)state;
    char dir[PATH_MAX], path[PATH_MAX], err[CALGAE_ERR_LEN] = "";
    tmp_path(dir, "writer_dir");
    mkdir(dir, 0755);
    tmp_path(path, "writer_dir/out.gguf");
    unlink(path);
    assert_int_equal(count_entries(dir), 0);

    /* a folder that does not exist: -1, the path in the message, nothing created */
    char missing[PATH_MAX];
    tmp_path(missing, "writer_dir/no_such_dir/out.gguf");
    calgae_gguf_writer *w = calgae_gguf_writer_new();
    assert_int_equal(calgae_gguf_add_u32(w, "k", 1), 0);
    assert_int_equal(calgae_gguf_write(w, missing, err, sizeof err), -1);
    assert_non_null(strstr(err, missing));
    assert_int_equal(access(missing, F_OK), -1);

    /* success leaves exactly the file, no temporary */
    assert_int_equal(calgae_gguf_write(w, path, err, sizeof err), 0);
    assert_int_equal(count_entries(dir), 1);

    /* failing in the middle (a file size limit makes writes fail with EFBIG): -1, the old file
     * untouched, no temporary left */
    size_t before_n, after_n;
    void *before = read_file(path, &before_n);
    static uint8_t big[4096];
    assert_int_equal(calgae_gguf_add_tensor(w, "big", CALGAE_TYPE_F32, 1,
                                            (const int64_t[]){1024}, big, sizeof big), 0);
    struct rlimit old_limit, limit;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old_limit), 0);
    limit = old_limit;
    limit.rlim_cur = 1024;
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &limit), 0);
    int rc = calgae_gguf_write(w, path, err, sizeof err);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old_limit), 0);
    signal(SIGXFSZ, old_handler);
    assert_int_equal(rc, -1);
    assert_non_null(strstr(err, path));
    assert_int_equal(count_entries(dir), 1);
    void *after = read_file(path, &after_n);
    assert_int_equal(after_n, before_n);
    assert_memory_equal(after, before, before_n);
    free(after);
    calgae_gguf_writer_free(w);

    /* refused adds are remembered: write then fails and the old file stays as it was */
    float x[32] = {0};
    w = calgae_gguf_writer_new();
    assert_int_equal(calgae_gguf_add_u32(w, "k", 1), 0);
    assert_int_equal(calgae_gguf_add_u32(w, "k", 2), -1); /* duplicate */
    assert_int_equal(calgae_gguf_add_str(w, "bad\xff", "v"), -1);
    assert_int_equal(calgae_gguf_add_tensor(w, "t", CALGAE_TYPE_F32, 1, (const int64_t[]){32},
                                            x, 100), -1); /* wrong nbytes */
    assert_int_equal(calgae_gguf_add_tensor(w, "q", CALGAE_TYPE_Q8_0, 1, (const int64_t[]){33},
                                            x, 34), -1);
    assert_int_equal(calgae_gguf_add_tensor(w, "t", CALGAE_TYPE_F32, 0, (const int64_t[]){32},
                                            x, 128), -1);
    assert_int_equal(calgae_gguf_add_tensor(w, "t", 99, 1, (const int64_t[]){32}, x, 128), -1);
    assert_int_equal(calgae_gguf_add_tensor(w, "t", CALGAE_TYPE_F32, 1, (const int64_t[]){32},
                                            x, 128), 0);
    assert_int_equal(calgae_gguf_add_tensor(w, "t", CALGAE_TYPE_F32, 1, (const int64_t[]){32},
                                            x, 128), -1); /* duplicate */
    assert_int_equal(calgae_gguf_write(w, path, err, sizeof err), -1);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "duplicate metadata key 'k'")); /* the first refusal */
    calgae_gguf_writer_free(w);
    after = read_file(path, &after_n);
    assert_int_equal(after_n, before_n);
    assert_memory_equal(after, before, before_n);
    free(before);
    free(after);
    assert_int_equal(count_entries(dir), 1);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stories260k),     cmocka_unit_test(test_vocab),
        cmocka_unit_test(test_roundtrip),       cmocka_unit_test(test_truncated_small),
        cmocka_unit_test(test_truncated_stories), cmocka_unit_test(test_bad_header),
        cmocka_unit_test(test_bad_metadata),    cmocka_unit_test(test_bad_tensor_info),
        cmocka_unit_test(test_writer_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
