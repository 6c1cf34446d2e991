/*
 * test_model_hostile.c - calgae_model_load (core/model*.c) against bad model files: llama2.c
 * checkpoints with impossible headers, truncated or padded weights; GGUF files that are
 * stories260K.gguf with exactly one thing wrong (so that the one reason is what gets refused);
 * truncations of the real GGUF; folders that do not name one model. Every load must return -1
 * with a one-line message naming the path and the specific reason, leave the model zeroed and
 * nothing mapped (leaks are LeakSanitizer's job in the CALGAE_SANITIZE build).
 *
 * Environment: CALGAE_MODELS (the shared models folder), CALGAE_TEST_TMP (a scratch folder).
 */
#define _POSIX_C_SOURCE 200809L /* truncate, strndup, PATH_MAX */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "calgae_plugin.h"
#include "gguf.h"
#include "model.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

/* ---- Files ------------------------------------------------------------------------------- */

static const char *env_dir(const char *name)
{
    const char *d = getenv(name);
    if (!d || !d[0])
        fail_msg("%s is not set", name);
    return d;
}

/* Our own subfolder: other tests share CALGAE_TEST_TMP and ctest may run them in parallel. */
static void tmp_path(char *out, const char *name)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/model_hostile", env_dir("CALGAE_TEST_TMP"));
    mkdir(dir, 0755);
    snprintf(out, PATH_MAX, "%s/%s", dir, name);
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

static uint8_t *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long size = ftell(f);
    assert_true(size > 0);
    rewind(f);
    uint8_t *p = malloc((size_t)size);
    assert_non_null(p);
    assert_int_equal(fread(p, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    *n = (size_t)size;
    return p;
}

/* An empty folder of that name under our scratch folder (emptied if a run left files). */
static void fresh_dir(char *out, const char *name)
{
    tmp_path(out, name);
    mkdir(out, 0755);
    DIR *d = opendir(out);
    assert_non_null(d);
    struct dirent *e;
    char p[PATH_MAX + 256];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(p, sizeof p, "%s/%s", out, e->d_name);
            unlink(p);
        }
    }
    closedir(d);
}

/* Mappings whose file name contains path: a failed load must leave none behind, which
 * LeakSanitizer would not notice (it only tracks malloc). */
static int maps_of(const char *path)
{
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f)
        return 0;
    char line[PATH_MAX + 256];
    int n = 0;
    while (fgets(line, sizeof line, f))
        n += strstr(line, path) != NULL;
    fclose(f);
    return n;
}

static int all_zero(const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return 0;
    return 1;
}

/* ---- The one check every case goes through ---------------------------------------------- */

static void check_reject_(const char *path, const char *reason, const char *where, int line)
{
    calgae_model m;
    char err[CALGAE_ERR_LEN] = "";
    int rc = calgae_model_load(&m, path, err, sizeof err);
    if (rc == 0) {
        calgae_model_free(&m);
        fail_msg("line %d (%s): %s loaded, expected '%s'", line, where, path, reason);
    }
    if (rc != -1 || !strstr(err, path) || !strstr(err, reason))
        fail_msg("line %d (%s): rc %d, expected '%s' and the path in: %s", line, where, rc,
                 reason, err);
    if (strchr(err, '\n'))
        fail_msg("line %d (%s): message is not one line: %s", line, where, err);
    if (!all_zero(&m, sizeof m))
        fail_msg("line %d (%s): a failed load left the model struct non-zero", line, where);
    if (maps_of(path) != 0)
        fail_msg("line %d (%s): %s is still mapped after the failed load", line, where, path);
    calgae_model_free(&m); /* must be harmless after a failure */
}
#define expect_reject(path, reason) check_reject_((path), (reason), "", __LINE__)

static void expect_load(const char *path, int vocab)
{
    calgae_model m;
    char err[CALGAE_ERR_LEN] = "";
    if (calgae_model_load(&m, path, err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_int_equal(m.cfg.vocab_size, vocab);
    calgae_model_free(&m);
    assert_int_equal(maps_of(path), 0);
}

/* ---- llama2.c checkpoints --------------------------------------------------------------- */

/* stories260K's header: dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len */
static const int32_t good_header[7] = {64, 172, 5, 8, 4, 512, 512};

/* A checkpoint that is only a header (plus 64 zero floats, so it is not merely "too short"). */
static void header_only(char *path, const int32_t h[7])
{
    uint8_t buf[28 + 256] = {0};
    memcpy(buf, h, 28);
    tmp_path(path, "header.bin");
    write_file(path, buf, sizeof buf);
}

static void test_bin_short(void **state)
{
    (void)state;
    char path[PATH_MAX];
    tmp_path(path, "empty.bin");
    write_file(path, "", 0);
    expect_reject(path, "too short");
    tmp_path(path, "short.bin");
    write_file(path, good_header, 27);
    expect_reject(path, "too short");
    write_file(path, good_header, 3); /* not even a GGUF magic's length */
    expect_reject(path, "too short");
}

static void test_bin_bad_header(void **state)
{
    (void)state;
    /* field, value, reason */
    static const struct { int field; int32_t value; const char *reason; } cases[] = {
        {0, 0, "bad dimensions"},          {0, -64, "bad dimensions"},
        {1, 0, "bad dimensions"},          {1, -1, "bad dimensions"},
        {2, 0, "bad layer count"},         {2, -5, "bad layer count"},
        {3, 0, "head count 0 does not divide dim 64"},
        {3, -8, "head count -8 does not divide"},
        {3, 7, "head count 7 does not divide dim 64"},
        {4, 16, "KV head count 16 does not divide head count 8"}, /* more KV heads than heads */
        {4, 3, "KV head count 3 does not divide head count 8"},
        {4, 0, "KV head count 0"},         {4, -4, "KV head count -4"},
        {5, INT32_MIN, "bad vocabulary size"}, /* abs() of it would overflow */
        {5, 0, "bad vocabulary size"},     {5, INT32_MAX, "bad vocabulary size"},
        {6, 0, "bad context length"},      {6, -512, "bad context length"},
        /* absurd sizes: refused by the limits before any size is computed or allocated */
        {0, 1 << 30, "bad dimensions"},    {1, INT32_MAX, "bad dimensions"},
        {2, 1000000, "bad layer count"},   {3, 1 << 30, "head count"},
        {6, INT32_MAX, "bad context length"},
    };
    char path[PATH_MAX];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int32_t h[7];
        memcpy(h, good_header, sizeof h);
        h[cases[i].field] = cases[i].value;
        header_only(path, h);
        char where[64];
        snprintf(where, sizeof where, "header field %d = %d", cases[i].field, cases[i].value);
        check_reject_(path, cases[i].reason, where, __LINE__);
    }
    /* dim / n_heads would trap (INT_MIN / -1) if it were computed before the checks */
    const int32_t trap[7] = {INT32_MIN, 172, 5, -1, 1, 512, 512};
    header_only(path, trap);
    expect_reject(path, "bad dimensions");
    /* odd head size: RoPE rotates pairs */
    const int32_t odd[7] = {66, 172, 5, 2, 2, 512, 512};
    header_only(path, odd);
    expect_reject(path, "bad RoPE dimensions (33 of head size 33)");
}

/* The largest header the limits allow implies a file of about 2^56 bytes: the size check must
 * refuse it before anything is allocated. Outside ASan (which reserves terabytes of shadow) an
 * address-space limit makes a large allocation fail loudly instead of quietly succeeding. */
static void test_bin_absurd_but_in_limits(void **state)
{
    (void)state;
    const int32_t h[7] = {1 << 20, 1 << 22, 1024, 4096, 4096, 1 << 22, 1 << 24};
    char path[PATH_MAX];
    header_only(path, h);
#ifndef UNDER_ASAN
    struct rlimit old, lim;
    assert_int_equal(getrlimit(RLIMIT_AS, &old), 0);
    lim = old;
    lim.rlim_cur = (rlim_t)8 << 30; /* far above this test's needs, far below 2^56 */
    if (old.rlim_cur == RLIM_INFINITY || old.rlim_cur > lim.rlim_cur)
        assert_int_equal(setrlimit(RLIMIT_AS, &lim), 0);
#endif
    expect_reject(path, "truncated: the header implies");
    const int32_t many[7] = {64, 172, 1024, 8, 4, 512, 512};
    header_only(path, many);
    expect_reject(path, "truncated: the header implies");
#ifndef UNDER_ASAN
    assert_int_equal(setrlimit(RLIMIT_AS, &old), 0);
#endif
}

static int cmp_desc(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (x < y) - (x > y);
}

/* Copies src to tmp/name and cuts it at each length, longest first, so that one copy shrinks
 * in place (a truncate() per length instead of a rewrite). Each cut must be refused with
 * reason_short below `boundary` bytes and reason_long from there on. */
static void sweep_cuts(const char *src, const char *name, size_t *lens, size_t n,
                       size_t boundary, const char *reason_short, const char *reason_long)
{
    char path[PATH_MAX];
    size_t size;
    uint8_t *data = slurp(src, &size);
    tmp_path(path, name);
    write_file(path, data, size);
    free(data);
    qsort(lens, n, sizeof *lens, cmp_desc);
    for (size_t i = 0; i < n; i++) {
        if (lens[i] >= size || (i > 0 && lens[i] == lens[i - 1]))
            continue;
        assert_int_equal(truncate(path, (off_t)lens[i]), 0);
        char where[64];
        snprintf(where, sizeof where, "cut at %zu of %zu bytes", lens[i], size);
        check_reject_(path, lens[i] < boundary ? reason_short : reason_long, where, __LINE__);
    }
    unlink(path);
}

/* The real checkpoint cut at every 4 KiB and at the boundaries that matter. */
static void test_bin_truncated(void **state)
{
    (void)state;
    char src[PATH_MAX];
    model_path(src, "stories260K.bin");
    const size_t size = 1056540, embd_end = 28 + 512 * 64 * 4;
    size_t lens[512] = {size - 1, size - 3, size - 4, size - 4097, embd_end + 1, embd_end,
                        embd_end - 1, 4097, 29, 28, 27, 4, 1, 0};
    size_t n = 14;
    for (size_t len = 4096; len < size; len += 4096)
        lens[n++] = len;
    assert_true(n <= sizeof lens / sizeof lens[0]);
    sweep_cuts(src, "truncated.bin", lens, n, 28, "too short",
               "truncated: the header implies 1056540");
}

static void test_bin_trailing_and_untied(void **state)
{
    (void)state;
    char src[PATH_MAX], path[PATH_MAX];
    model_path(src, "stories260K.bin");
    size_t size;
    uint8_t *data = slurp(src, &size);
    uint8_t *big = malloc(size + 8);
    assert_non_null(big);
    memcpy(big, data, size);
    memcpy(big + size, "garbage!", 8);
    tmp_path(path, "trailing.bin");
    write_file(path, big, size + 5);
    expect_reject(path, "unexpected trailing data");
    write_file(path, big, size + 4); /* one whole extra float */
    expect_reject(path, "unexpected trailing data");
    /* a negative vocab_size promises a separate classifier the file does not have */
    int32_t neg = -512;
    memcpy(big + 5 * 4, &neg, 4);
    tmp_path(path, "untied.bin");
    write_file(path, big, size);
    expect_reject(path, "truncated");
    free(big);
    free(data);
    expect_load(src, 512); /* the control: the unmodified file loads */
}

/* ---- GGUF: stories260K.gguf with one thing changed --------------------------------------- */

/* What to change while copying. Unset fields change nothing. */
typedef struct change {
    const char *drop;   /* a key or tensor name left out */
    const char *key;    /* a key whose value is replaced (or added if absent) ... */
    char kind;          /* ... by 'u' u32, 'f' f32 or 's' string */
    uint32_t u;
    float f;
    const char *s;
    const char *tensor; /* a tensor replaced by zeros of this type and shape */
    uint32_t type, n_dims;
    int64_t ne[2];
    int extra_token;    /* one more token in the vocabulary arrays */
} change;

static void add_value(calgae_gguf_writer *w, const change *c)
{
    int rc = c->kind == 'u' ? calgae_gguf_add_u32(w, c->key, c->u)
             : c->kind == 'f' ? calgae_gguf_add_f32(w, c->key, c->f)
                              : calgae_gguf_add_str(w, c->key, c->s);
    assert_int_equal(rc, 0);
}

/* Copies one metadata entry of the types stories260K.gguf uses. */
static void copy_kv(calgae_gguf_writer *w, const calgae_gguf_kv *kv, const char *key, int extra)
{
    int rc = -1;
    char *s;
    switch (kv->type) {
    case CALGAE_GGUF_STRING:
        s = strndup(kv->v.s.ptr, (size_t)kv->v.s.len);
        assert_non_null(s);
        rc = calgae_gguf_add_str(w, key, s);
        free(s);
        break;
    case CALGAE_GGUF_UINT32: rc = calgae_gguf_add_u32(w, key, (uint32_t)kv->v.u); break;
    case CALGAE_GGUF_INT32: rc = calgae_gguf_add_i32(w, key, (int32_t)kv->v.i); break;
    case CALGAE_GGUF_FLOAT32: rc = calgae_gguf_add_f32(w, key, (float)kv->v.f); break;
    case CALGAE_GGUF_BOOL: rc = calgae_gguf_add_bool(w, key, (int)kv->v.u); break;
    case CALGAE_GGUF_ARRAY: {
        const uint64_t n = kv->arr_len + (extra ? 1 : 0);
        if (kv->arr_type == CALGAE_GGUF_STRING) {
            char **v = calloc((size_t)n, sizeof *v);
            assert_non_null(v);
            for (uint64_t i = 0; i < kv->arr_len; i++)
                v[i] = strndup(kv->arr_strs[i].ptr, (size_t)kv->arr_strs[i].len);
            if (extra)
                v[n - 1] = strndup("extra", 5);
            rc = calgae_gguf_add_arr_str(w, key, (const char *const *)v, n);
            for (uint64_t i = 0; i < n; i++)
                free(v[i]);
            free(v);
        } else {
            int32_t *v = calloc((size_t)n, 4);
            assert_non_null(v);
            for (uint64_t i = 0; i < kv->arr_len; i++) {
                if (kv->arr_type == CALGAE_GGUF_FLOAT32) {
                    float f = calgae_gguf_arr_f32(kv, i);
                    memcpy(&v[i], &f, 4);
                } else {
                    v[i] = calgae_gguf_arr_i32(kv, i);
                }
            }
            if (extra && kv->arr_type == CALGAE_GGUF_INT32)
                v[n - 1] = 1; /* a normal token; 0 is the score's bit pattern for the floats */
            rc = kv->arr_type == CALGAE_GGUF_FLOAT32
                     ? calgae_gguf_add_arr_f32(w, key, (const float *)v, n)
                     : kv->arr_type == CALGAE_GGUF_INT32 ? calgae_gguf_add_arr_i32(w, key, v, n)
                                                         : -1;
            free(v);
        }
        break;
    }
    default: break;
    }
    if (rc != 0)
        fail_msg("cannot copy key %s (type %u/%u)", key, kv->type, kv->arr_type);
}

/* Writes stories260K.gguf with the change applied to tmp/name, its path into out. */
static void make_gguf(char *out, const char *name, const change *c)
{
    char src[PATH_MAX], err[CALGAE_ERR_LEN] = "";
    model_path(src, "stories260K.gguf");
    tmp_path(out, name);
    calgae_gguf g;
    if (calgae_gguf_open(&g, src, err, sizeof err) != 0)
        fail_msg("%s", err);
    calgae_gguf_writer *w = calgae_gguf_writer_new();
    assert_non_null(w);
    int replaced = 0;
    for (uint64_t i = 0; i < g.n_kv; i++) {
        char *key = strndup(g.kv[i].key.ptr, (size_t)g.kv[i].key.len);
        assert_non_null(key);
        int extra = c->extra_token && strncmp(key, "tokenizer.ggml.", 15) == 0 &&
                    g.kv[i].type == CALGAE_GGUF_ARRAY;
        if (c->key && strcmp(key, c->key) == 0) {
            add_value(w, c);
            replaced = 1;
        } else if (!c->drop || strcmp(key, c->drop) != 0) {
            copy_kv(w, &g.kv[i], key, extra);
        }
        free(key);
    }
    if (c->key && !replaced)
        add_value(w, c);
    void *zeros = NULL;
    for (uint64_t i = 0; i < g.n_tensors; i++) {
        const calgae_gguf_tensor *t = &g.tensors[i];
        if (c->drop && strcmp(t->name, c->drop) == 0)
            continue;
        int rc;
        if (c->tensor && strcmp(t->name, c->tensor) == 0) {
            size_t n = calgae_type_row_bytes(c->type, c->ne[0]) *
                       (size_t)(c->n_dims > 1 ? c->ne[1] : 1);
            assert_true(n > 0);
            zeros = calloc(1, n);
            assert_non_null(zeros);
            rc = calgae_gguf_add_tensor(w, t->name, c->type, c->n_dims, c->ne, zeros, n);
        } else {
            rc = calgae_gguf_add_tensor(w, t->name, t->type, t->n_dims, t->ne, t->data,
                                        t->nbytes);
        }
        assert_int_equal(rc, 0);
    }
    if (calgae_gguf_write(w, out, err, sizeof err) != 0)
        fail_msg("%s", err);
    calgae_gguf_writer_free(w);
    free(zeros);
    calgae_gguf_close(&g);
}

static void test_gguf_control(void **state)
{
    (void)state;
    char path[PATH_MAX];
    const change none = {0};
    make_gguf(path, "control.gguf", &none);
    expect_load(path, 512);
}

static void test_gguf_one_change(void **state)
{
    (void)state;
    static const struct { change c; const char *reason; } cases[] = {
        /* architecture and required keys */
        {{.key = "general.architecture", .kind = 's', .s = "gpt2"},
         "architecture 'gpt2' is not supported"},
        {{.drop = "general.architecture"}, "metadata general.architecture is missing"},
        {{.key = "general.architecture", .kind = 'u', .u = 1},
         "'general.architecture' has type uint32, expected a string"},
        {{.drop = "llama.embedding_length"}, "metadata llama.embedding_length is missing"},
        {{.drop = "llama.block_count"}, "metadata llama.block_count is missing"},
        {{.key = "llama.embedding_length", .kind = 's', .s = "64"},
         "'llama.embedding_length' has type string, expected an integer"},
        {{.key = "llama.embedding_length", .kind = 'u', .u = UINT32_MAX},
         "llama.embedding_length = 4294967295 is out of range"},
        /* hyperparameters that contradict each other or the tensors */
        {{.key = "llama.attention.head_count", .kind = 'u', .u = 0},
         "head count 0 does not divide dim 64"},
        {{.key = "llama.attention.head_count", .kind = 'u', .u = 7},
         "head count 7 does not divide dim 64"},
        {{.key = "llama.attention.head_count_kv", .kind = 'u', .u = 3},
         "KV head count 3 does not divide head count 8"},
        {{.key = "llama.attention.head_count_kv", .kind = 'u', .u = 16},
         "KV head count 16 does not divide head count 8"},
        {{.key = "llama.rope.dimension_count", .kind = 'u', .u = 7},
         "bad RoPE dimensions (7 of head size 8)"},
        {{.key = "llama.rope.dimension_count", .kind = 'u', .u = 16},
         "bad RoPE dimensions (16 of head size 8)"},
        {{.key = "llama.rope.dimension_count", .kind = 'u', .u = 0}, "bad RoPE dimensions"},
        {{.key = "llama.attention.layer_norm_rms_epsilon", .kind = 'f', .f = -1e-5f},
         "bad RMSNorm epsilon"},
        {{.key = "llama.attention.layer_norm_rms_epsilon", .kind = 'f', .f = NAN},
         "bad RMSNorm epsilon"},
        {{.key = "llama.attention.layer_norm_rms_epsilon", .kind = 'u', .u = 1},
         "has type uint32, expected a float"},
        {{.key = "llama.rope.freq_base", .kind = 'f', .f = 0.0f}, "bad RoPE base"},
        {{.key = "llama.context_length", .kind = 'u', .u = 0}, "bad context length 0"},
        {{.key = "llama.block_count", .kind = 'u', .u = 1000000}, "bad layer count 1000000"},
        {{.key = "llama.block_count", .kind = 'u', .u = 6}, "tensor blk.5.attn_norm.weight is missing"},
        {{.key = "llama.embedding_length", .kind = 'u', .u = 128},
         "tensor token_embd.weight has shape [64, 512] (2 dims), expected [128, 512]"},
        {{.key = "llama.feed_forward_length", .kind = 'u', .u = 100},
         "tensor blk.0.ffn_gate.weight has shape [64, 172] (2 dims), expected [64, 100]"},
        /* tensors */
        {{.tensor = "blk.0.attn_q.weight", .type = CALGAE_TYPE_F32, .n_dims = 2, .ne = {64, 63}},
         "tensor blk.0.attn_q.weight has shape [64, 63] (2 dims), expected [64, 64]"},
        {{.tensor = "blk.4.ffn_down.weight", .type = CALGAE_TYPE_F32, .n_dims = 1,
          .ne = {172 * 64}},
         "tensor blk.4.ffn_down.weight has shape [11008, 1] (1 dims), expected [172, 64]"},
        {{.tensor = "output.weight", .type = CALGAE_TYPE_F32, .n_dims = 2, .ne = {64, 511}},
         "tensor output.weight has shape [64, 511]"},
        {{.drop = "blk.3.ffn_up.weight"}, "tensor blk.3.ffn_up.weight is missing"},
        {{.drop = "token_embd.weight"}, "tensor token_embd.weight is missing"},
        {{.drop = "output_norm.weight"}, "tensor output_norm.weight is missing"},
        {{.tensor = "blk.0.attn_k.weight", .type = CALGAE_TYPE_Q4_1, .n_dims = 2, .ne = {64, 32}},
         "tensor blk.0.attn_k.weight has type Q4_1, which is not supported"},
        {{.tensor = "output_norm.weight", .type = CALGAE_TYPE_F16, .n_dims = 1, .ne = {64}},
         "tensor output_norm.weight must be an aligned F32 vector of 64"},
        {{.tensor = "blk.2.ffn_norm.weight", .type = CALGAE_TYPE_F16, .n_dims = 1, .ne = {64}},
         "tensor blk.2.ffn_norm.weight must be an aligned F32 vector of 64"},
        {{.tensor = "blk.1.attn_norm.weight", .type = CALGAE_TYPE_F32, .n_dims = 1, .ne = {65}},
         "tensor blk.1.attn_norm.weight must be an aligned F32 vector of 64"},
        /* vocabulary */
        {{.extra_token = 1}, "vocabulary has 513 tokens but the model only 512"},
        {{.key = "tokenizer.ggml.bos_token_id", .kind = 'u', .u = 512},
         "tokenizer.ggml.bos_token_id = 512 is out of range (512 tokens)"},
        {{.key = "tokenizer.ggml.eos_token_id", .kind = 'u', .u = UINT32_MAX},
         "tokenizer.ggml.eos_token_id = 4294967295 is out of range"},
        {{.key = "tokenizer.ggml.model", .kind = 's', .s = "gpt2"},
         "unsupported tokenizer model gpt2"},
        {{.key = "tokenizer.ggml.scores", .kind = 'f', .f = 1},
         "tokenizer.ggml.scores is not an array"},
    };
    char path[PATH_MAX], name[64];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(name, sizeof name, "change_%zu.gguf", i);
        make_gguf(path, name, &cases[i].c);
        char where[64];
        snprintf(where, sizeof where, "case %zu", i);
        check_reject_(path, cases[i].reason, where, __LINE__);
        unlink(path);
    }
}

/* The real GGUF cut inside the header, the metadata, the tensor infos and the data. */
static void test_gguf_truncated(void **state)
{
    (void)state;
    char src[PATH_MAX], err[CALGAE_ERR_LEN] = "";
    model_path(src, "stories260K.gguf");
    calgae_gguf g;
    if (calgae_gguf_open(&g, src, err, sizeof err) != 0)
        fail_msg("%s", err);
    const size_t data_offset = g.data_offset, size = g.map.size;
    calgae_gguf_close(&g);
    size_t lens[1024], n = 0;
    for (size_t len = 0; len <= 64; len++) /* every byte of the header and the first key */
        lens[n++] = len;
    for (size_t len = 64; len < data_offset; len += 61) /* 61: odd, so it lands everywhere */
        lens[n++] = len;
    for (size_t len = data_offset - 2; len <= data_offset + 2; len++)
        lens[n++] = len;
    for (size_t len = data_offset; len < size; len += 4096)
        lens[n++] = len;
    lens[n++] = size - 1;
    assert_true(n <= sizeof lens / sizeof lens[0]);
    /* under 4 bytes there is no magic, so the file is judged as a (short) llama2.c one */
    sweep_cuts(src, "truncated.gguf", lens, n, 4, "too short", "truncated");
}

/* ---- Folders and paths ------------------------------------------------------------------ */

static void test_folders(void **state)
{
    (void)state;
    char dir[PATH_MAX], file[PATH_MAX + 16];
    fresh_dir(dir, "empty_dir");
    expect_reject(dir, "folder holds 0 .gguf and 0 model .bin files");

    fresh_dir(dir, "two_gguf");
    snprintf(file, sizeof file, "%s/a.gguf", dir);
    write_file(file, "GGUF", 4);
    snprintf(file, sizeof file, "%s/b.gguf", dir);
    write_file(file, "GGUF", 4);
    expect_reject(dir, "folder holds 2 .gguf and 0 model .bin files");

    fresh_dir(dir, "two_bin");
    snprintf(file, sizeof file, "%s/a.bin", dir);
    write_file(file, "x", 1);
    snprintf(file, sizeof file, "%s/b.bin", dir);
    write_file(file, "x", 1);
    expect_reject(dir, "folder holds 0 .gguf and 2 model .bin files");

    /* one model, but a bad one: the message names the file inside */
    fresh_dir(dir, "one_bad");
    snprintf(file, sizeof file, "%s/model.gguf", dir);
    write_file(file, "GGUF\x03\0\0\0", 8);
    expect_reject(dir, "truncated");
    expect_reject(file, "truncated");

    tmp_path(file, "no_such_model.gguf");
    unlink(file);
    expect_reject(file, "cannot open");
    fresh_dir(dir, "a_dir.gguf_parent");
    snprintf(file, sizeof file, "%s/sub.gguf", dir);
    mkdir(file, 0755); /* a folder named like a model, picked, and not a file */
    expect_reject(dir, "not a regular file");
    rmdir(file);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bin_short),
        cmocka_unit_test(test_bin_bad_header),
        cmocka_unit_test(test_bin_absurd_but_in_limits),
        cmocka_unit_test(test_bin_truncated),
        cmocka_unit_test(test_bin_trailing_and_untied),
        cmocka_unit_test(test_gguf_control),
        cmocka_unit_test(test_gguf_one_change),
        cmocka_unit_test(test_gguf_truncated),
        cmocka_unit_test(test_folders),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
