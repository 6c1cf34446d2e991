/*
 * gen_model.c - random-weight Llama, Llama 3 and Qwen2 models with the exact shapes of real ones,
 * written as GGUF (through the same converter as `calgae convert`, so llama.cpp loads them), for
 * benchmarks and tests. Weights are uniform with the standard deviation of a trained model's
 * (0.02), norms are 1 (random for the ci-* shapes), Qwen2's Q/K/V biases uniform in [-0.5, 0.5)
 * (trained ones are of that order, far larger than the weights), Llama 3 shapes carry the
 * rope_freqs factors of their RoPE scaling, and the vocabulary is the real one from a llama2.c
 * tokenizer.bin or a (vocab-only) GGUF such as llama.cpp's ggml-vocab-qwen2.gguf. Seeded: the
 * same seed gives the same bytes.
 *
 * The weights are drawn as Q8_0 blocks (one byte per weight), then converted to the requested
 * type row by row, so a 7B-shaped Q4_0 file needs about 11 GiB of memory, not 27.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blocks.h"
#include "convert.h"
#include "session.h"
#include "types.h"

struct shape {
    const char *name;
    int dim, hidden, layers, heads, kv_heads, ctx;
    int random_norms; /* norm weights uniform in [0.5, 1.5) instead of 1 (see ci-blocks) */
    int arch;         /* enum calgae_arch; qwen2 adds Q/K/V biases and rotate-half RoPE */
    int tied;         /* no output.weight: the classifier is token_embd */
    float theta, eps;
    /* Llama 3 RoPE scaling (factor 0: none): factor, low/high_freq_factor, original context */
    float rs_factor, rs_low, rs_high;
    int rs_ctx;
};

/* the real models' values, from their config.json */
#define LLAMA2 CALGAE_ARCH_LLAMA, 0, 10000.0f, 1e-5f, 0, 0, 0, 0
#define QWEN2 CALGAE_ARCH_QWEN2, 1, 1000000.0f, 1e-6f, 0, 0, 0, 0
#define LLAMA3(orig_ctx) CALGAE_ARCH_LLAMA, 1, 500000.0f, 1e-5f, 32.0f, 1.0f, 4.0f, orig_ctx

static const struct shape shapes[] = {
    {"tinyllama", 2048, 5632, 22, 32, 4, 2048, 0, LLAMA2},
    {"stories15M", 288, 768, 6, 6, 6, 256, 0, LLAMA2},
    {"stories42M", 512, 1376, 8, 8, 8, 1024, 0, LLAMA2},
    {"stories110M", 768, 2048, 12, 12, 12, 1024, 0, LLAMA2},
    {"7b", 4096, 11008, 32, 32, 32, 4096, 0, LLAMA2},
    /* the suite's second test model (tests/numpy_logits_test.py): every matrix is whole Q4/Q8
     * blocks (dim 5 blocks, hidden 13: neither a multiple of 4-block superblocks), 5 query heads
     * sharing 1 KV head, small enough for CI. Its norms are random: with norms of 1, a quantized
     * embedding row (16 levels per block) reaches the first product with its levels' ratios
     * intact, so Q8_0 activation values land on exact .5 ties (4/8 of 127) that any two correct
     * implementations may round apart */
    {"ci-blocks", 160, 416, 2, 5, 1, 256, 1, LLAMA2},
    /* the K-quant tests' model (tests/kquant_dequant_test.py): every matrix is whole 256-value
     * super-blocks, small enough that llama-quantize's outputs can be committed */
    {"ci-kblocks", 256, 256, 2, 4, 2, 256, 1, LLAMA2},
    /* the mixture test's model (tests/kquant_recipe_test.py): 16 layers, so that every
     * layer rule of llama-quantize's mixtures (first and last eighth, every third, first
     * sixteenth, first four) picks some layers and not others; 4 query heads per KV head */
    {"ci-kmix", 256, 256, 16, 4, 1, 256, 1, LLAMA2},
    /* Qwen2.5-0.5B and Llama 3.2 1B (vocabularies from ggml-vocab-qwen2.gguf and
     * ggml-vocab-llama-bpe.gguf) */
    {"qwen2.5-0.5b", 896, 4864, 24, 14, 2, 32768, 0, QWEN2},
    {"llama3.2-1b", 2048, 8192, 16, 32, 8, 131072, 0, LLAMA3(8192)},
    /* their tiny test variants (tests/arch_logits_test.py): real vocabularies, two layers, two
     * query heads per KV head. ci-llama3's scaling has Llama 3.2's factors but an original
     * context of 64 instead of 8192, so that all three bands of the scaling (kept, slowed,
     * interpolated) hold pairs that turn visibly within a test's 200 positions */
    {"ci-qwen2", 128, 256, 2, 4, 2, 256, 1, QWEN2},
    {"ci-llama3", 128, 256, 2, 4, 2, 256, 1, LLAMA3(64)},
};

static uint64_t rng_state;

static uint64_t next_u64(void)
{
    /* splitmix64: fast, and good enough for benchmark weights */
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* rows x cols uniform weights of standard deviation 0.02 as Q8_0 (cols % 32 == 0). */
static int random_weight(calgae_weight *w, int64_t rows, int64_t cols)
{
    const int64_t nb = cols / CALGAE_QK;
    calgae_block_q8_0 *b = malloc((size_t)(rows * nb) * sizeof *b);
    if (!b)
        return -1;
    /* uniform integers in [-127, 127] have std 127 / sqrt(3); scale that to 0.02 */
    const calgae_fp16 d = calgae_fp32_to_fp16(0.02f * 1.7320508f / 127.0f);
    for (int64_t i = 0; i < rows * nb; i++) {
        b[i].d = d;
        for (int j = 0; j < CALGAE_QK; j += 8) {
            uint64_t r = next_u64();
            for (int k = 0; k < 8; k++)
                b[i].qs[j + k] = (int8_t)((int)((r >> (8 * k)) & 0xFF) % 255 - 127);
        }
    }
    memset(w, 0, sizeof *w);
    w->type = CALGAE_TYPE_Q8_0;
    w->rows = rows;
    w->cols = cols;
    w->row_bytes = (size_t)nb * sizeof *b;
    w->data = b;
    return 0;
}

/* n uniform values in [-0.5, 0.5) */
static float *random_bias(int64_t n)
{
    float *b = malloc((size_t)n * sizeof *b);
    for (int64_t i = 0; b && i < n; i++)
        b[i] = (float)(next_u64() >> 40) * 0x1p-24f - 0.5f;
    return b;
}

/* The vocabulary: a llama2.c tokenizer.bin, or the tokenizer.ggml.* of a GGUF (kept open in g,
 * which the tokenizer may point into). */
static int load_vocab(calgae_tokenizer *tok, calgae_gguf *g, const char *path, char *err,
                      size_t err_len)
{
    const size_t n = strlen(path);
    if (n < 5 || strcmp(path + n - 5, ".gguf") != 0)
        return calgae_tokenizer_load_bin(tok, path, 0, err, err_len);
    if (calgae_gguf_open(g, path, err, err_len) != 0)
        return -1;
    return calgae_tokenizer_load_gguf(tok, g, path, err, err_len);
}

static const char usage[] =
    "Usage: gen_model --shape NAME --type f32|f16|q8_0|q4_0|q4_1 --vocab tokenizer.bin|VOCAB.gguf --out FILE.gguf [--seed N]\n"
    "Shapes: tinyllama (2048/5632/22 layers/32 heads/4 KV), stories15M, stories42M, stories110M, 7b, ci-blocks (160/416/2 layers/5 heads/1 KV),\n"
    "  qwen2.5-0.5b (896/4864/24/14/2, biases, tied), llama3.2-1b (2048/8192/16/32/8, RoPE scaling 32, tied),\n"
    "  ci-qwen2 and ci-llama3 (128/256/2/4/2: their tiny test variants)\n";

int main(int argc, char **argv)
{
    static const struct option longs[] = {
        {"shape", required_argument, 0, 's'}, {"type", required_argument, 0, 't'},
        {"vocab", required_argument, 0, 'v'}, {"out", required_argument, 0, 'o'},
        {"seed", required_argument, 0, 'S'},  {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    const char *shape_name = NULL, *type_name = "q4_0", *vocab = NULL, *out = NULL;
    uint64_t seed = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        switch (c) {
        case 's': shape_name = optarg; break;
        case 't': type_name = optarg; break;
        case 'v': vocab = optarg; break;
        case 'o': out = optarg; break;
        case 'S': seed = strtoull(optarg, NULL, 10); break;
        case 'h': fputs(usage, stdout); return 0;
        default: fputs(usage, stderr); return 2;
        }
    }
    const struct shape *sh = NULL;
    for (size_t i = 0; shape_name && i < sizeof shapes / sizeof shapes[0]; i++)
        if (!strcmp(shapes[i].name, shape_name))
            sh = &shapes[i];
    uint32_t t; /* any type of the type table that floats quantize to and plugins multiply */
    int type = -1;
    if (calgae_type_by_name(type_name, &t) == 0 && calgae_type_traits(t)->from_float &&
        calgae_type_has_products(t))
        type = (int)t;
    if (!sh || type < 0 || !vocab || !out) {
        fputs(usage, stderr);
        return 2;
    }
    char err[CALGAE_ERR_LEN];
    calgae_tokenizer tok;
    calgae_gguf vg;
    memset(&vg, 0, sizeof vg);
    if (load_vocab(&tok, &vg, vocab, err, sizeof err) != 0) {
        fprintf(stderr, "gen_model: %s\n", err);
        calgae_gguf_close(&vg);
        return 1;
    }
    rng_state = seed;
    calgae_transformer m;
    memset(&m, 0, sizeof m);
    snprintf(m.path, sizeof m.path, "random-%s", sh->name);
    calgae_config *cf = &m.cfg;
    *cf = (calgae_config){.dim = sh->dim, .hidden_dim = sh->hidden, .n_layers = sh->layers,
                          .n_heads = sh->heads, .n_kv_heads = sh->kv_heads,
                          .vocab_size = tok.n_vocab, .ctx = sh->ctx,
                          .eps = sh->eps, .rope_theta = sh->theta, .arch = sh->arch,
                          .rope_neox = sh->arch == CALGAE_ARCH_QWEN2};
    cf->head_size = cf->dim / cf->n_heads;
    cf->n_rot = cf->head_size;
    float freqs[512]; /* n_rot / 2 of every shape above */
    if (sh->rs_factor > 0) {
        calgae_llama3_rope_freqs(cf, sh->rs_factor, sh->rs_low, sh->rs_high, sh->rs_ctx, freqs);
        m.rope_freqs = freqs;
    }
    const int kv_dim = cf->head_size * cf->n_kv_heads;
    float *norm = malloc((size_t)cf->dim * sizeof *norm);
    m.layers = calloc((size_t)cf->n_layers, sizeof *m.layers);
    int rc = norm && m.layers ? 0 : -1;
    for (int i = 0; norm && i < cf->dim; i++)
        norm[i] = sh->random_norms ? 0.5f + (float)(next_u64() >> 40) * 0x1p-24f : 1.0f;
    rc = rc || random_weight(&m.tok_embd, cf->vocab_size, cf->dim);
    for (int l = 0; rc == 0 && l < cf->n_layers; l++) {
        calgae_layer *L = &m.layers[l];
        L->attn_norm = L->ffn_norm = norm;
        rc = random_weight(&L->wq, cf->dim, cf->dim) || random_weight(&L->wk, kv_dim, cf->dim) ||
             random_weight(&L->wv, kv_dim, cf->dim) || random_weight(&L->wo, cf->dim, cf->dim) ||
             random_weight(&L->w_gate, cf->hidden_dim, cf->dim) ||
             random_weight(&L->w_down, cf->dim, cf->hidden_dim) ||
             random_weight(&L->w_up, cf->hidden_dim, cf->dim);
        if (rc == 0 && sh->arch == CALGAE_ARCH_QWEN2 &&
            (!(L->bq = random_bias(cf->dim)) || !(L->bk = random_bias(kv_dim)) ||
             !(L->bv = random_bias(kv_dim))))
            rc = -1;
    }
    m.out_norm = norm;
    m.tied = sh->tied;
    if (m.tied)
        m.output = m.tok_embd;
    else
        rc = rc || random_weight(&m.output, cf->vocab_size, cf->dim);
    if (rc != 0)
        fprintf(stderr, "gen_model: out of memory\n");
    else if ((rc = calgae_convert_to_gguf(&m, &tok, (uint32_t)type, out, err, sizeof err)) != 0)
        fprintf(stderr, "gen_model: %s\n", err);
    else
        fprintf(stderr, "gen_model: wrote %s (%s, %s)\n", out, sh->name, type_name);
    for (int l = 0; m.layers && l < cf->n_layers; l++) {
        calgae_layer *L = &m.layers[l];
        free((void *)L->wq.data);
        free((void *)L->wk.data);
        free((void *)L->wv.data);
        free((void *)L->wo.data);
        free((void *)L->w_gate.data);
        free((void *)L->w_down.data);
        free((void *)L->w_up.data);
        free((void *)L->bq);
        free((void *)L->bk);
        free((void *)L->bv);
    }
    free((void *)m.tok_embd.data);
    if (!m.tied)
        free((void *)m.output.data);
    free(m.layers);
    free(norm);
    calgae_tokenizer_free(&tok);
    calgae_gguf_close(&vg);
    return rc == 0 ? 0 : 1;
}
