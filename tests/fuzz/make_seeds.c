/*
 * make_seeds.c - writes the small valid inputs the fuzz corpora start from, with the
 * product's own writers where it has one (calgae_gguf_writer for GGUF) and the formats' plain
 * layouts otherwise (llama2.c's .bin and tokenizer.bin, calgae.ini, the plugin-table input of
 * fuzz_plugin_table.c). Run once: `fuzz_make_seeds tests/fuzz/corpus`; the files are committed.
 * Models are tiny (dim 8 or 32, one or two layers) so that a fuzzer runs them fast.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "gguf.h"

static const char *root;

static void die(const char *what)
{
    fprintf(stderr, "make_seeds: %s\n", what);
    exit(1);
}

static void put(const char *dir, const char *name, const void *p, size_t n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s/%s", root, dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0)
        die(path);
}

/* Deterministic filler for weights. */
static uint32_t rng = 12345;
static void fill(void *p, size_t n)
{
    uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        rng = rng * 1664525u + 1013904223u;
        b[i] = (uint8_t)(rng >> 24);
    }
}

static void fill_f32(float *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        rng = rng * 1664525u + 1013904223u;
        p[i] = (float)((int)(rng >> 16) % 2001 - 1000) / 1000.0f;
    }
}

/* A vocabulary of n tokens: unk, BOS, EOS, then byte tokens and plain pieces. */
static const char *piece(int i, char buf[16])
{
    static const char *const words[] = {"\xE2\x96\x81", "\xE2\x96\x81t", "he", "\xE2\x96\x81the",
                                        "a", "b", "\xC3\xA9", "\xE2\x96\x81Once"};
    if (i == 0)
        return "<unk>";
    if (i == 1)
        return "<s>";
    if (i == 2)
        return "</s>";
    if (i < 3 + 8) {
        snprintf(buf, 16, "<0x%02X>", (unsigned)(i - 3) * 32 + 0x20);
        return buf;
    }
    return words[(i - 11) % 8];
}

struct shape {
    const char *name;
    uint32_t type;
    int dim, hidden, layers, heads, kv_heads, vocab;
    int tied, with_vocab;
    int variant; /* 0: llama; 1: qwen2 (qwen2.* keys, Q/K/V biases); 2: llama with rope_freqs */
};

static void add_tensor(calgae_gguf_writer *w, const char *name, uint32_t type, int64_t cols,
                       int64_t rows, void **keep, int *n_keep)
{
    int64_t ne[2] = {cols, rows};
    size_t n = 0;
    if (calgae_type_row_bytes(type, cols, &n) != 0)
        die("a seed tensor's rows are not whole blocks of its type");
    n *= (size_t)rows;
    void *data = malloc(n);
    if (!data)
        die("out of memory");
    if (type == CALGAE_TYPE_F32)
        fill_f32(data, n / 4);
    else
        fill(data, n);
    keep[(*n_keep)++] = data;
    if (calgae_gguf_add_tensor(w, name, type, rows > 1 ? 2 : 1, ne, data, n) != 0)
        die(name);
}

static void gguf_model(const struct shape *s)
{
    calgae_gguf_writer *w = calgae_gguf_writer_new();
    if (!w)
        die("out of memory");
    const char *a = s->variant == 1 ? "qwen2" : "llama";
    char key[64];
#define KEY(k) (snprintf(key, sizeof key, "%s." k, a), key)
    calgae_gguf_add_str(w, "general.architecture", a);
    calgae_gguf_add_str(w, "general.name", s->name);
    calgae_gguf_add_u32(w, KEY("context_length"), 16);
    calgae_gguf_add_u32(w, KEY("embedding_length"), (uint32_t)s->dim);
    calgae_gguf_add_u32(w, KEY("feed_forward_length"), (uint32_t)s->hidden);
    calgae_gguf_add_u32(w, KEY("block_count"), (uint32_t)s->layers);
    calgae_gguf_add_u32(w, KEY("attention.head_count"), (uint32_t)s->heads);
    calgae_gguf_add_u32(w, KEY("attention.head_count_kv"), (uint32_t)s->kv_heads);
    calgae_gguf_add_u32(w, KEY("rope.dimension_count"), (uint32_t)(s->dim / s->heads));
    calgae_gguf_add_f32(w, KEY("attention.layer_norm_rms_epsilon"), 1e-5f);
    calgae_gguf_add_f32(w, KEY("rope.freq_base"), 10000.0f);
#undef KEY
    if (s->with_vocab) {
        const char *toks[64];
        char bufs[64][16];
        float scores[64];
        int32_t types[64];
        for (int i = 0; i < s->vocab; i++) {
            toks[i] = piece(i, bufs[i]);
            scores[i] = -(float)i;
            types[i] = i == 0 ? 2 : i < 3 ? 3 : i < 11 ? 6 : 1;
        }
        calgae_gguf_add_str(w, "tokenizer.ggml.model", "llama");
        calgae_gguf_add_arr_str(w, "tokenizer.ggml.tokens", toks, (uint64_t)s->vocab);
        calgae_gguf_add_arr_f32(w, "tokenizer.ggml.scores", scores, (uint64_t)s->vocab);
        calgae_gguf_add_arr_i32(w, "tokenizer.ggml.token_type", types, (uint64_t)s->vocab);
        calgae_gguf_add_u32(w, "tokenizer.ggml.bos_token_id", 1);
        calgae_gguf_add_u32(w, "tokenizer.ggml.eos_token_id", 2);
        calgae_gguf_add_u32(w, "tokenizer.ggml.unknown_token_id", 0);
    }
    void *keep[64];
    int n_keep = 0;
    const int kv = s->dim / s->heads * s->kv_heads;
    add_tensor(w, "token_embd.weight", s->type, s->dim, s->vocab, keep, &n_keep);
    add_tensor(w, "output_norm.weight", CALGAE_TYPE_F32, s->dim, 1, keep, &n_keep);
    if (!s->tied)
        add_tensor(w, "output.weight", s->type, s->dim, s->vocab, keep, &n_keep);
    for (int l = 0; l < s->layers; l++) {
        char n[64];
#define T(suffix, type, cols, rows)                                                            \
    (snprintf(n, sizeof n, "blk.%d." suffix ".weight", l),                                     \
     add_tensor(w, n, type, cols, rows, keep, &n_keep))
        T("attn_norm", CALGAE_TYPE_F32, s->dim, 1);
        T("ffn_norm", CALGAE_TYPE_F32, s->dim, 1);
        T("attn_q", s->type, s->dim, s->dim);
        T("attn_k", s->type, s->dim, kv);
        T("attn_v", s->type, s->dim, kv);
        T("attn_output", s->type, s->dim, s->dim);
        T("ffn_gate", s->type, s->dim, s->hidden);
        T("ffn_down", s->type, s->hidden, s->dim);
        T("ffn_up", s->type, s->dim, s->hidden);
#undef T
        for (int b = 0; s->variant == 1 && b < 3; b++) {
            snprintf(n, sizeof n, "blk.%d.attn_%c.bias", l, "qkv"[b]);
            add_tensor(w, n, CALGAE_TYPE_F32, b == 0 ? s->dim : kv, 1, keep, &n_keep);
        }
    }
    if (s->variant == 2) { /* factors are positive: 0.5 .. 1.5 */
        add_tensor(w, "rope_freqs.weight", CALGAE_TYPE_F32, s->dim / s->heads / 2, 1, keep,
                   &n_keep);
        float *f = keep[n_keep - 1];
        for (int i = 0; i < s->dim / s->heads / 2; i++)
            f[i] = f[i] < 0 ? 0.5f - f[i] : 0.5f + f[i];
    }
    char path[4096], err[4608];
    snprintf(path, sizeof path, "%s/gguf/%s.gguf", root, s->name);
    if (calgae_gguf_write(w, path, err, sizeof err) != 0)
        die(err);
    calgae_gguf_writer_free(w);
    for (int i = 0; i < n_keep; i++)
        free(keep[i]);
}

/* A GGUF holding only a vocabulary, and one with every value type in its metadata. */
static void gguf_other(void)
{
    calgae_gguf_writer *w = calgae_gguf_writer_new();
    const char *toks[300];
    static char bufs[300][16];
    float scores[300];
    int32_t types[300];
    int n = 0;
    toks[n] = "<unk>", types[n++] = 2;
    toks[n] = "<s>", types[n++] = 3;
    toks[n] = "</s>", types[n++] = 3;
    for (int b = 0; b < 256; b++) {
        snprintf(bufs[n], 16, "<0x%02X>", b);
        toks[n] = bufs[n], types[n++] = 6;
    }
    static const char *const words[] = {"\xE2\x96\x81", "\xE2\x96\x81\xE2\x96\x81", "e", "t",
                                        "\xE2\x96\x81t", "he", "\xE2\x96\x81the", "\xC3\xA9"};
    for (int i = 0; i < 8; i++)
        toks[n] = words[i], types[n++] = 1;
    for (int i = 0; i < n; i++)
        scores[i] = -(float)(i % 5);
    calgae_gguf_add_str(w, "tokenizer.ggml.model", "llama");
    calgae_gguf_add_arr_str(w, "tokenizer.ggml.tokens", toks, (uint64_t)n);
    calgae_gguf_add_arr_f32(w, "tokenizer.ggml.scores", scores, (uint64_t)n);
    calgae_gguf_add_arr_i32(w, "tokenizer.ggml.token_type", types, (uint64_t)n);
    calgae_gguf_add_u32(w, "tokenizer.ggml.bos_token_id", 1);
    calgae_gguf_add_u32(w, "tokenizer.ggml.eos_token_id", 2);
    char path[4096], err[4608];
    snprintf(path, sizeof path, "%s/gguf/vocab-only.gguf", root);
    if (calgae_gguf_write(w, path, err, sizeof err) != 0)
        die(err);
    calgae_gguf_writer_free(w);

    w = calgae_gguf_writer_new();
    calgae_gguf_add_str(w, "general.architecture", "llama");
    calgae_gguf_add_u32(w, "general.alignment", 64);
    calgae_gguf_add_i32(w, "test.i32", -5);
    calgae_gguf_add_f32(w, "test.f32", 0.5f);
    calgae_gguf_add_bool(w, "test.bool", 1);
    int32_t ints[3] = {1, -2, 3};
    calgae_gguf_add_arr_i32(w, "test.arr_i32", ints, 3);
    snprintf(path, sizeof path, "%s/gguf/metadata-types.gguf", root);
    if (calgae_gguf_write(w, path, err, sizeof err) != 0)
        die(err);
    calgae_gguf_writer_free(w);
}

/* llama2.c checkpoints: header, then float32 weights (see core/formats/model_bin.c). */
static void bin_model(const char *name, int dim, int hidden, int layers, int heads, int kv_heads,
                      int vocab, int seq)
{
    const size_t d = (size_t)dim, h = (size_t)hidden, L = (size_t)layers,
                 kv = d / (size_t)heads * (size_t)kv_heads, v = (size_t)(vocab < 0 ? -vocab : vocab);
    size_t floats = v * d + L * d + L * d * d * 2 + L * kv * d * 2 + L * d + L * h * d * 3 + d +
                    (size_t)seq * (d / (size_t)heads) + (vocab < 0 ? v * d : 0);
    size_t n = 28 + floats * 4;
    uint8_t *buf = malloc(n);
    int32_t hdr[7] = {dim, hidden, layers, heads, kv_heads, vocab, seq};
    memcpy(buf, hdr, sizeof hdr);
    fill_f32((float *)(buf + 28), floats);
    put("model_bin", name, buf, n);
    free(buf);
}

static void tok_bin(const char *name, int with_bytes)
{
    uint8_t buf[8192];
    size_t n = 0;
#define U32(v) (memcpy(buf + n, &(uint32_t){(uint32_t)(v)}, 4), n += 4)
    U32(8);
    const char *fixed[] = {"<unk>", "<s>", "</s>", " ", "  ", " t", "he", " the", "\xC3\xA9",
                           "\xE6\x97\xA5", "e", "t", "h", "Once", " Once"};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        float s = -(float)i;
        memcpy(buf + n, &s, 4);
        n += 4;
        U32(strlen(fixed[i]));
        memcpy(buf + n, fixed[i], strlen(fixed[i]));
        n += strlen(fixed[i]);
    }
    for (int b = 0; with_bytes && b < 256; b++) {
        float s = 0;
        memcpy(buf + n, &s, 4);
        n += 4;
        U32(6);
        n += (size_t)sprintf((char *)buf + n, "<0x%02X>", b);
    }
#undef U32
    put("tokenizer_bin", name, buf, n);
}

/* The fuzz_plugin_table.c input of a table: sizes, version, priority, flags, NULL masks,
 * strings. */
static void table(const char *name, uint16_t size, uint16_t major, uint16_t minor, int32_t prio,
                  uint64_t flags, uint8_t null_strs, int prepare, const char *strs)
{
    uint8_t buf[512];
    size_t n = 0;
    memcpy(buf + n, &size, 2), n += 2;
    memcpy(buf + n, &major, 2), n += 2;
    memcpy(buf + n, &minor, 2), n += 2;
    memcpy(buf + n, &prio, 4), n += 4;
    memcpy(buf + n, &flags, 8), n += 8;
    buf[n++] = null_strs;
    const size_t n_fn = (offsetof(calgae_plugin, flags) - offsetof(calgae_plugin, probe)) /
                        sizeof(void (*)(void));
    for (size_t i = 0; i < n_fn; i++) /* probe, prepare, release, then the slots */
        buf[n++] = i == 0 ? 1 : i <= 2 ? (uint8_t)prepare : 1;
    size_t len = strlen(strs) + 1;
    memcpy(buf + n, strs, len);
    for (size_t i = 0; i < len; i++) /* '|' separates the four strings */
        if (buf[n + i] == '|')
            buf[n + i] = 0;
    put("plugin_table", name, buf, n + len - 1);
}

/* Written last, so the seeds above keep their bytes (the fill is one random stream). */
static void arch_seeds(void)
{
    const struct shape shapes[] = {
        {"tiny-qwen2", CALGAE_TYPE_F32, 8, 16, 1, 2, 1, 16, 1, 1, 1},
        {"tiny-rope-freqs", CALGAE_TYPE_Q8_0, 32, 32, 1, 2, 1, 16, 1, 1, 2},
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        gguf_model(&shapes[i]);
}

int main(int argc, char **argv)
{
    if (argc != 2)
        die("usage: fuzz_make_seeds CORPUS_DIR (with gguf/ model_bin/ ... inside)");
    root = argv[1];
    const struct shape shapes[] = {
        {"tiny-f32", CALGAE_TYPE_F32, 8, 16, 2, 2, 1, 16, 1, 1, 0},
        {"tiny-f32-untied-novocab", CALGAE_TYPE_F32, 8, 16, 1, 2, 2, 16, 0, 0, 0},
        {"tiny-f16", CALGAE_TYPE_F16, 8, 16, 1, 2, 1, 16, 0, 1, 0},
        {"tiny-q8_0", CALGAE_TYPE_Q8_0, 32, 32, 1, 2, 1, 16, 1, 1, 0},
        {"tiny-q4_0", CALGAE_TYPE_Q4_0, 32, 64, 1, 4, 2, 16, 0, 1, 0},
        {"tiny-q4_1", CALGAE_TYPE_Q4_1, 32, 32, 1, 2, 2, 16, 1, 1, 0},
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        gguf_model(&shapes[i]);
    gguf_other();

    bin_model("tiny-tied.bin", 8, 16, 1, 2, 1, 16, 4);
    bin_model("tiny-untied.bin", 8, 16, 2, 2, 2, -16, 4);
    bin_model("tiny-gqa.bin", 8, 8, 1, 4, 2, 8, 2);

    tok_bin("small.bin", 0);
    tok_bin("byte-fallback.bin", 1);

    static const char *const inis[][2] = {
        {"readme.ini", "; calgae.ini: every key is optional\n[plugins]\n"
                       "dirs  = /opt/calgae/plugins:plugins   ; searched first\n"
                       "order = avx2, scalar\ndeny  = blas\n\n[kernels]\nmatvec_q4_0 = avx2\n\n"
                       "[run]\nthreads = 4\nbackend = avx2\n"},
        {"all-slots.ini", "[kernels]\nquantize_q8_0 = scalar\nmatvec_f32 = avx2\n"
                          "matvec_f16 = avx2\nmatvec_q8_0 = avx2\nmatmul_q4_0 = scalar\n"
                          "rmsnorm = scalar\nsoftmax = scalar\nswiglu = scalar\nrope = scalar\n"
                          "dot_f32 = scalar\naxpy_f32 = scalar\nmatvec_q4_1 = scalar\n"
                          "matmul_q4_1 = scalar\n"},
        {"path-backend.ini", "\xEF\xBB\xBF# BOM, CRLF\r\n[run]\r\nbackend = ./calgae-avx2.so\r\n"
                             "threads = 1024\r\n"},
        {"unknown.ini", "[run]\nbackend = nosuch\n[plugins]\norder = scalar, nope\n"},
    };
    for (size_t i = 0; i < sizeof inis / sizeof inis[0]; i++)
        put("config", inis[i][0], inis[i][1], strlen(inis[i][1]));

    const uint16_t full = (uint16_t)sizeof(calgae_plugin);
    const uint16_t v10 = (uint16_t)offsetof(calgae_plugin, matvec_q4_1);
    const uint16_t v11 = (uint16_t)offsetof(calgae_plugin, flags);
    table("abi-1.2.bin", full, 1, 2, 100, 1, 0, 1, "avx2|1.0.0|AVX2 kernels|avx2,fma,f16c");
    table("abi-1.1.bin", v11, 1, 1, 0, 1, 0, 0, "scalar|1.0|portable C|");
    table("abi-1.0.bin", v10, 1, 0, 10, 0, 0, 0, "example|0.1|an example|");
    table("abi-2.bin", full, 2, 0, 0, 0, 0, 0, "future|2.0|a newer major|");
    table("null-strings.bin", full, 1, 2, 0, 0, 0x0e, 0, "bare|||");

    static const char *const texts[][2] = {
        {"story.txt", "Once upon a time, there was a little girl named Lily."},
        {"utf8.txt", "h\xC3\xA9llo w\xC3\xB6rld \xE6\x97\xA5\xE6\x9C\xAC \xF0\x9F\x98\x80 \xE2\x96\x81"},
        {"invalid.txt", "\xFF\xFE a \xC3 b \xE2\x96 \xF0\x9F\x98 \xC0\x80 <s> <0x41>"},
        {"spaces.txt", "  leading\n\n\ttabs   and  spaces  "},
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
        put("tokenize", texts[i][0], texts[i][1], strlen(texts[i][1]));
    arch_seeds();
    return 0;
}
