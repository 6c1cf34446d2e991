/*
 * test_model_hostile.c - calgae_transformer_load (core/model*.c) against bad model files: llama2.c
 * checkpoints with impossible headers, truncated or padded weights; GGUF files that are
 * stories260K.gguf with exactly one thing wrong (so that the one reason is what gets refused);
 * truncations of the real GGUF; folders that do not name one model. Every load must return -1
 * with a one-line message naming the path and the specific reason, leave the model zeroed and
 * nothing mapped (leaks are LeakSanitizer's job in the CALGAE_SANITIZE build). The last three
 * cases are bugs found in core/ (marked BUG): they fail until core/ is fixed.
 *
 * Environment: CALGAE_MODELS (the shared models folder), CALGAE_TEST_TMP (a scratch folder).
 */
#define _DEFAULT_SOURCE /* truncate, strndup, mkfifo, symlink, PATH_MAX */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "calgae_plugin.h"
#include "model_load.h"
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
    int n = snprintf(out, PATH_MAX, "%s/model_hostile", env_dir("CALGAE_TEST_TMP"));
    assert_true(n > 0 && n < PATH_MAX);
    mkdir(out, 0755);
    snprintf(out + n, PATH_MAX - (size_t)n, "/%s", name);
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

/* A shared model file, mapped read-only (with the map of core/base/util.c, which is not on trial
 * here: what it returns is only copied). */
static calgae_map map_model(char *src, const char *name)
{
    char err[CALGAE_ERR_LEN];
    calgae_map mp;
    model_path(src, name);
    if (calgae_map_file(&mp, src, err, sizeof err) != 0)
        fail_msg("%s", err);
    return mp;
}

/* A folder under our scratch folder. Nothing writes into the ones meant to stay empty. */
static void make_dir(char *out, const char *name)
{
    tmp_path(out, name);
    mkdir(out, 0755);
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

/* ---- The one check every case goes through ---------------------------------------------- */

static void check_reject_(const char *path, const char *reason, const char *where, int line)
{
    calgae_transformer m;
    char err[CALGAE_ERR_LEN] = "";
    int rc = calgae_transformer_load(&m, path, err, sizeof err);
    if (rc == 0) {
        calgae_transformer_free(&m);
        fail_msg("line %d (%s): %s loaded, expected '%s'", line, where, path, reason);
    }
    if (rc != -1 || !strstr(err, path) || !strstr(err, reason))
        fail_msg("line %d (%s): rc %d, expected '%s' and the path in: %s", line, where, rc,
                 reason, err);
    if (strchr(err, '\n'))
        fail_msg("line %d (%s): message is not one line: %s", line, where, err);
    static const calgae_transformer zero;
    if (memcmp(&m, &zero, sizeof m) != 0)
        fail_msg("line %d (%s): a failed load left the model struct non-zero", line, where);
    if (maps_of(path) != 0)
        fail_msg("line %d (%s): %s is still mapped after the failed load", line, where, path);
    calgae_transformer_free(&m); /* must be harmless after a failure */
}
#define expect_reject(path, reason) check_reject_((path), (reason), "", __LINE__)

static void expect_load(const char *path, int vocab)
{
    calgae_transformer m;
    char err[CALGAE_ERR_LEN] = "";
    if (calgae_transformer_load(&m, path, err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_int_equal(m.cfg.vocab_size, vocab);
    calgae_transformer_free(&m);
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
        /* rows longer than CALGAE_MAX_COLS (131072): int32 row sums could overflow */
        {1, 131073, "rows of 131073 values (dim 64, ffn 131073) are longer than the 131072"},
        {0, 131072 + 64, "rows of 131136 values (dim 131136, ffn 172) are longer than"},
    };
    char path[PATH_MAX];
    tmp_path(path, "short.bin");
    write_file(path, "", 0);
    expect_reject(path, "too short");
    write_file(path, good_header, 27);
    expect_reject(path, "too short");
    write_file(path, good_header, 3); /* not even a GGUF magic's length */
    expect_reject(path, "too short");
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

/* The largest header the limits allow implies a file of about 2^46 bytes: the size check must
 * refuse it before anything is allocated. Outside ASan (which reserves terabytes of shadow) an
 * address-space limit makes a large allocation fail loudly instead of quietly succeeding. */
static void test_bin_absurd_but_in_limits(void **state)
{
    (void)state;
    const int32_t h[7] = {1 << 17, 1 << 17, 1024, 4096, 4096, 1 << 22, 1 << 24};
    char path[PATH_MAX];
    header_only(path, h);
#ifndef UNDER_ASAN
    struct rlimit old, lim;
    assert_int_equal(getrlimit(RLIMIT_AS, &old), 0);
    lim = old;
    lim.rlim_cur = (rlim_t)8 << 30; /* far above this test's needs, far below 2^46 */
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
static void sweep_cuts(const char *src_name, const char *name, size_t *lens, size_t n,
                       size_t boundary, const char *reason_short, const char *reason_long)
{
    char src[PATH_MAX], path[PATH_MAX];
    calgae_map mp = map_model(src, src_name);
    const size_t size = mp.size;
    tmp_path(path, name);
    write_file(path, mp.data, size);
    calgae_unmap(&mp);
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
    const size_t size = 1056540, embd_end = 28 + 512 * 64 * 4;
    size_t lens[512] = {size - 1, size - 3, size - 4, size - 4097, embd_end + 1, embd_end,
                        embd_end - 1, 4097, 29, 28, 27, 4, 1, 0};
    size_t n = 14;
    for (size_t len = 4096; len < size; len += 4096)
        lens[n++] = len;
    assert_true(n <= sizeof lens / sizeof lens[0]);
    sweep_cuts("stories260K.bin", "truncated.bin", lens, n, 28, "too short",
               "truncated: the header implies 1056540");
}

static void test_bin_trailing_and_untied(void **state)
{
    (void)state;
    char src[PATH_MAX], path[PATH_MAX];
    calgae_map mp = map_model(src, "stories260K.bin");
    const size_t size = mp.size;
    uint8_t *big = malloc(size + 8);
    assert_non_null(big);
    memcpy(big, mp.data, size);
    calgae_unmap(&mp);
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
            /* f32 and i32 elements: copied as bit patterns (GGUF and the host are LE) */
            int32_t *v = calloc((size_t)n, 4);
            assert_non_null(v);
            memcpy(v, kv->arr_data, (size_t)kv->arr_len * 4);
            if (extra && kv->arr_type == CALGAE_GGUF_INT32)
                v[n - 1] = 1; /* a normal token (the extra score stays 0.0) */
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
            size_t n = 0;
            assert_int_equal(calgae_type_row_bytes(c->type, c->ne[0], &n), 0);
            n *= (size_t)(c->n_dims > 1 ? c->ne[1] : 1);
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

/* Overwrites the type of one tensor's info in a GGUF file: finds the name by its length prefix,
 * then skips n_dims (u32) and the dimensions (u64 each). */
static void patch_tensor_type(const char *path, const char *name, uint32_t n_dims, uint32_t type)
{
    static uint8_t buf[1 << 16]; /* the tensor infos of stories260K end at 14 KiB */
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    const size_t n = fread(buf, 1, sizeof buf, f), len = strlen(name);
    for (size_t i = 8; i + len + 4 + 8 * n_dims + 4 <= n; i++) {
        uint64_t l;
        memcpy(&l, buf + i - 8, 8);
        if (l == len && memcmp(buf + i, name, len) == 0) {
            assert_int_equal(fseek(f, (long)(i + len + 4 + 8 * n_dims), SEEK_SET), 0);
            assert_int_equal(fwrite(&type, 4, 1, f), 1); /* GGUF and the host: little-endian */
            assert_int_equal(fclose(f), 0);
            return;
        }
    }
    fail_msg("no tensor info for %s in %s", name, path);
}

/* Shorthands for the table below. */
#define U32(k, v) {.key = (k), .kind = 'u', .u = (v)}
#define F32(k, v) {.key = (k), .kind = 'f', .f = (v)}
#define STR(k, v) {.key = (k), .kind = 's', .s = (v)}
#define DROP(k) {.drop = (k)}
#define TENSOR(k, t, nd, ne0, ne1) {.tensor = (k), .type = (t), .n_dims = (nd), .ne = {ne0, ne1}}

static void test_gguf_one_change(void **state)
{
    (void)state;
    char path[PATH_MAX], name[64];
    const change none = {0}; /* the control: a copy without a change loads */
    make_gguf(path, "control.gguf", &none);
    expect_load(path, 512);
    static const struct { change c; const char *reason; } cases[] = {
        /* architecture and required keys */
        {STR("general.architecture", "gpt2"), "architecture 'gpt2' is not supported"},
        {DROP("general.architecture"), "metadata general.architecture is missing"},
        {U32("general.architecture", 1), "architecture' has type uint32, expected a string"},
        {DROP("llama.embedding_length"), "metadata llama.embedding_length is missing"},
        {DROP("llama.block_count"), "metadata llama.block_count is missing"},
        {STR("llama.embedding_length", "64"), "length' has type string, expected an integer"},
        {U32("llama.embedding_length", UINT32_MAX), "length = 4294967295 is out of range"},
        /* hyperparameters that contradict each other or the tensors */
        {U32("llama.attention.head_count", 0), "head count 0 does not divide dim 64"},
        {U32("llama.attention.head_count", 7), "head count 7 does not divide dim 64"},
        {U32("llama.attention.head_count_kv", 3), "KV head count 3 does not divide head count 8"},
        {U32("llama.attention.head_count_kv", 16), "KV head count 16 does not divide head count 8"},
        {U32("llama.rope.dimension_count", 7), "bad RoPE dimensions (7 of head size 8)"},
        {U32("llama.rope.dimension_count", 16), "bad RoPE dimensions (16 of head size 8)"},
        {U32("llama.rope.dimension_count", 0), "bad RoPE dimensions"},
        {F32("llama.attention.layer_norm_rms_epsilon", -1e-5f), "bad RMSNorm epsilon"},
        {F32("llama.attention.layer_norm_rms_epsilon", NAN), "bad RMSNorm epsilon"},
        {U32("llama.attention.layer_norm_rms_epsilon", 1), "has type uint32, expected a float"},
        {F32("llama.rope.freq_base", 0.0f), "bad RoPE base"}, /* a key the file lacks */
        /* other architectures and RoPE scalings */
        {STR("general.architecture", "qwen2"), "metadata qwen2.embedding_length is missing"},
        {F32("llama.rope.scaling.factor", 4.0f), "RoPE scaling '' (factor 4) is not supported"},
        {U32("llama.context_length", 0), "bad context length 0"},
        {U32("llama.block_count", 1000000), "bad layer count 1000000"},
        {U32("llama.block_count", 6), "tensor blk.5.attn_norm.weight is missing"},
        {U32("llama.embedding_length", 128),
         "tensor token_embd.weight has shape [64, 512] (2 dims), expected [128, 512]"},
        {U32("llama.feed_forward_length", 100),
         "tensor blk.0.ffn_gate.weight has shape [64, 172] (2 dims), expected [64, 100]"},
        /* tensors */
        {TENSOR("blk.0.attn_q.weight", CALGAE_TYPE_F32, 2, 64, 63),
         "tensor blk.0.attn_q.weight has shape [64, 63] (2 dims), expected [64, 64]"},
        {TENSOR("blk.4.ffn_down.weight", CALGAE_TYPE_F32, 1, 172 * 64, 1),
         "tensor blk.4.ffn_down.weight has shape [11008, 1] (1 dims), expected [172, 64]"},
        {TENSOR("output.weight", CALGAE_TYPE_F32, 2, 64, 511), "output.weight has shape [64, 511]"},
        {DROP("blk.3.ffn_up.weight"), "tensor blk.3.ffn_up.weight is missing"},
        {DROP("token_embd.weight"), "tensor token_embd.weight is missing"},
        {DROP("output_norm.weight"), "tensor output_norm.weight is missing"},
        {TENSOR("output_norm.weight", CALGAE_TYPE_F16, 1, 64, 1),
         "tensor output_norm.weight must be an aligned F32 vector of 64"},
        {TENSOR("blk.2.ffn_norm.weight", CALGAE_TYPE_F16, 1, 64, 1),
         "tensor blk.2.ffn_norm.weight must be an aligned F32 vector of 64"},
        {TENSOR("blk.1.attn_norm.weight", CALGAE_TYPE_F32, 1, 65, 1),
         "tensor blk.1.attn_norm.weight must be an aligned F32 vector of 64"},
        /* vocabulary */
        {{.extra_token = 1}, "vocabulary has 513 tokens but the model only 512"},
        {U32("tokenizer.ggml.bos_token_id", 512),
         "tokenizer.ggml.bos_token_id = 512 is out of range (512 tokens)"},
        {U32("tokenizer.ggml.eos_token_id", UINT32_MAX),
         "tokenizer.ggml.eos_token_id = 4294967295 is out of range"},
        {STR("tokenizer.ggml.model", "gpt2"), "byte-level BPE vocabulary without tokenizer.ggml.pre"},
        {STR("tokenizer.ggml.model", "t5"), "unsupported tokenizer model t5"},
        {F32("tokenizer.ggml.scores", 1.0f), "tokenizer.ggml.scores is not an array"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(name, sizeof name, "change_%zu.gguf", i);
        make_gguf(path, name, &cases[i].c);
        char where[64];
        snprintf(where, sizeof where, "case %zu", i);
        check_reject_(path, cases[i].reason, where, __LINE__);
        unlink(path);
    }
    /* A tensor type we do not support. Every type the writer takes is supported now (the K
     * and IQ4 types included), so a good file gets IQ2_XXS's number (16) patched in. */
    make_gguf(path, "type.gguf", &none);
    patch_tensor_type(path, "blk.0.attn_k.weight", 2, 16);
    expect_reject(path, "tensor 'blk.0.attn_k.weight': unknown tensor type 16");
    /* Rows that are not whole blocks of the type (issue 11, "Bad input"): stories260K's rows of
     * 64 and 172 values given a K or IQ type. The GGUF reader refuses the row length before
     * anything reads the data (the data's size follows from it), one K type of each family. */
    static const struct {
        const char *tensor;
        uint32_t type;
        const char *reason;
    } rows[] = {
        {"blk.0.attn_k.weight", CALGAE_TYPE_Q2_K, "ne[0] = 64 is not a multiple of 256, the block size of Q2_K"},
        {"blk.0.attn_q.weight", CALGAE_TYPE_Q4_K, "ne[0] = 64 is not a multiple of 256, the block size of Q4_K"},
        {"output.weight", CALGAE_TYPE_Q6_K, "ne[0] = 64 is not a multiple of 256, the block size of Q6_K"},
        {"blk.1.ffn_up.weight", CALGAE_TYPE_IQ4_XS, "ne[0] = 64 is not a multiple of 256, the block size of IQ4_XS"},
        {"blk.2.ffn_down.weight", CALGAE_TYPE_IQ4_NL, "ne[0] = 172 is not a multiple of 32, the block size of IQ4_NL"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        make_gguf(path, "krow.gguf", &none);
        patch_tensor_type(path, rows[i].tensor, 2, rows[i].type);
        expect_reject(path, rows[i].reason);
        unlink(path);
    }
}

/* The real GGUF cut inside the header, the metadata, the tensor infos and the data. */
static void test_gguf_truncated(void **state)
{
    (void)state;
    char src[PATH_MAX], err[CALGAE_ERR_LEN] = "";
    model_path(src, "stories260K.gguf");
    calgae_gguf g; /* for where the data section starts */
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
    sweep_cuts("stories260K.gguf", "truncated.gguf", lens, n, 4, "too short", "truncated");
}

/* ---- Folders and paths ------------------------------------------------------------------ */

/* Writes a small file into a folder. */
static void put_in(const char *dir, const char *name, const char *text)
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    write_file(path, text, strlen(text));
}

static void test_folders(void **state)
{
    (void)state;
    char dir[PATH_MAX], file[PATH_MAX + 16];
    make_dir(dir, "empty_dir");
    expect_reject(dir, "folder holds 0 .gguf and 0 model .bin files");
    make_dir(dir, "two_gguf");
    put_in(dir, "a.gguf", "GGUF");
    put_in(dir, "b.gguf", "GGUF");
    expect_reject(dir, "folder holds 2 .gguf and 0 model .bin files");
    make_dir(dir, "two_bin");
    put_in(dir, "a.bin", "x");
    put_in(dir, "b.bin", "x");
    expect_reject(dir, "folder holds 0 .gguf and 2 model .bin files");

    /* one model, but a bad one: the message names the file inside */
    make_dir(dir, "one_bad");
    put_in(dir, "model.gguf", "GGUF\x03");
    snprintf(file, sizeof file, "%s/model.gguf", dir);
    expect_reject(dir, "truncated");
    expect_reject(file, "truncated");

    tmp_path(file, "no_such_model.gguf");
    unlink(file);
    expect_reject(file, "cannot open");
    make_dir(dir, "a_dir.gguf_parent");
    snprintf(file, sizeof file, "%s/sub.gguf", dir);
    mkdir(file, 0755); /* a folder named like a model, picked, and not a file */
    expect_reject(dir, "not a regular file");
    rmdir(file);
}

/* ---- Known bugs (see the comment on each; they fail until core/ is fixed) ---------------- */

/* BUG (core/base/util.c, calgae_map_file): open(O_RDONLY) comes before the S_ISREG check, and opening
 * a FIFO that has no writer blocks forever, so `calgae run --model some.fifo` hangs instead of
 * saying "not a regular file". The load runs in a child so that a hang fails this case only. */
static void test_fifo_does_not_hang(void **state)
{
    (void)state;
    char path[PATH_MAX];
    tmp_path(path, "fifo.gguf");
    unlink(path);
    assert_int_equal(mkfifo(path, 0600), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        alarm(5); /* a hang ends the child by SIGALRM */
        calgae_transformer m;
        char err[CALGAE_ERR_LEN] = "";
        int rc = calgae_transformer_load(&m, path, err, sizeof err);
        _exit(rc == -1 && strstr(err, path) && strstr(err, "not a regular file") ? 0 : 1);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    unlink(path);
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
        fail_msg("loading the FIFO %s hangs (core/base/util.c calgae_map_file opens before it checks "
                 "the file type)", path);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* A folder path of exactly len bytes under our scratch folder, created level by level. */
static void long_dir(char *out, size_t len)
{
    tmp_path(out, "long");
    mkdir(out, 0755);
    for (size_t n = strlen(out); n < len; n = strlen(out)) {
        size_t part = len - n - 1 < 200 ? len - n - 1 : 200;
        assert_true(part > 0);
        strcat(out, "/");
        memset(out + n + 1, 'd', part);
        out[n + 1 + part] = '\0';
        mkdir(out, 0755);
    }
}

/* BUG (core/formats/model_load.c, calgae_transformer_load: `char file[1024]` and snprintf(file, ..., path), and
 * m->path[1024]): a path of 1024 bytes or more is silently cut, so a good model at a long (but
 * valid, < PATH_MAX) path fails with "cannot open" on a path the user never gave - or, when the
 * cut names another file, that other file is loaded. */
static void test_long_path_loads(void **state)
{
    (void)state;
    char dir[PATH_MAX], file[PATH_MAX + 16], src[PATH_MAX];
    long_dir(dir, 1200);
    snprintf(file, sizeof file, "%s/m.gguf", dir);
    model_path(src, "stories260K.gguf");
    unlink(file);
    assert_int_equal(symlink(src, file), 0);
    calgae_transformer m;
    char err[4096 + 512] = "";
    int rc = calgae_transformer_load(&m, file, err, sizeof err);
    size_t n = strlen(err);
    if (rc != 0) /* the message's end: cmocka cuts long messages */
        fail_msg("a good model at a %zu-byte path does not load: ...%s", strlen(file),
                 err + (n > 160 ? n - 160 : 0));
    calgae_transformer_free(&m);
    unlink(file);
}

/* BUG (core/base/util.h, CALGAE_ERR_LEN 512, the buffer every CLI command and the session use):
 * messages are "<path>: <reason>", so with a path of about 500 bytes or more the reason is cut
 * away and the user sees only part of a path - no hint of what is wrong. */
static void test_long_path_message(void **state)
{
    (void)state;
    char dir[PATH_MAX], file[PATH_MAX + 16];
    long_dir(dir, 600);
    snprintf(file, sizeof file, "%s/m.bin", dir);
    write_file(file, good_header, 27);
    calgae_transformer m;
    char err[CALGAE_ERR_LEN] = "";
    assert_int_equal(calgae_transformer_load(&m, file, err, sizeof err), -1);
    unlink(file);
    if (!strstr(err, "too short"))
        fail_msg("with a %zu-byte path the message (CALGAE_ERR_LEN %d) loses its reason: %s",
                 strlen(file), CALGAE_ERR_LEN, err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bin_bad_header),      cmocka_unit_test(test_bin_absurd_but_in_limits),
        cmocka_unit_test(test_bin_truncated),       cmocka_unit_test(test_bin_trailing_and_untied),
        cmocka_unit_test(test_gguf_one_change),     cmocka_unit_test(test_gguf_truncated),
        cmocka_unit_test(test_folders),             cmocka_unit_test(test_fifo_does_not_hang),
        cmocka_unit_test(test_long_path_loads),     cmocka_unit_test(test_long_path_message),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
