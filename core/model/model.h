/*
 * model.h - a Llama- or Qwen2-architecture model in memory: its hyperparameters and weights,
 * pointing into a read-only map of the file (no copy). Three formats: GGUF v2/v3 (llama.cpp's; see
 * model_gguf.c), llama2.c's float32 checkpoint (.bin; see model_bin.c) and Hugging Face
 * folders of safetensors (model_hf.c).
 */
#ifndef CALGAE_MODEL_H
#define CALGAE_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "calgae_plugin.h"
#include "gguf.h"
#include "tokenizer.h"
#include "util.h"

typedef struct calgae_config {
    int dim;        /* residual stream width */
    int hidden_dim; /* FFN width */
    int n_layers;
    int n_heads;
    int n_kv_heads; /* < n_heads: grouped-query attention */
    int vocab_size;
    int ctx;        /* the model's context length */
    int head_size;  /* dim / n_heads */
    int n_rot;      /* dimensions of each head that RoPE rotates (even, <= head_size) */
    float eps;      /* RMSNorm epsilon */
    float rope_theta;
    int arch;       /* enum calgae_arch: which GGUF key prefix and tensor set */
    int rope_neox;  /* 1: RoPE rotates the two halves of each head (GPT-NeoX, as llama.cpp does for
                     * qwen2), 0: adjacent pairs (llama.cpp's llama layout) */
} calgae_config;

/* The architectures read: llama (Llama 1-3, TinyLlama) and qwen2 (Qwen2/Qwen2.5, which adds
 * Q/K/V biases and rotate-half RoPE). */
enum calgae_arch { CALGAE_ARCH_LLAMA, CALGAE_ARCH_QWEN2 };

/* The GGUF architecture name ("llama", "qwen2"), also its metadata key prefix. */
const char *calgae_arch_name(int arch);

typedef struct calgae_layer {
    const float *attn_norm; /* [dim] */
    const float *ffn_norm;  /* [dim] */
    calgae_weight wq;       /* dim x dim */
    calgae_weight wk;       /* kv_dim x dim */
    calgae_weight wv;       /* kv_dim x dim */
    calgae_weight wo;       /* dim x dim */
    calgae_weight w_gate;   /* hidden x dim (llama2.c w1) */
    calgae_weight w_down;   /* dim x hidden (w2) */
    calgae_weight w_up;     /* hidden x dim (w3) */
    const float *bq;        /* [dim], added after the Q product; NULL when the model has none */
    const float *bk;        /* [kv_dim] */
    const float *bv;        /* [kv_dim] */
} calgae_layer;

enum calgae_format { CALGAE_FORMAT_GGUF, CALGAE_FORMAT_BIN, CALGAE_FORMAT_HF };

struct calgae_hf;

typedef struct calgae_transformer {
    char path[CALGAE_PATH_MAX];
    calgae_config cfg;
    calgae_weight tok_embd; /* vocab x dim, any supported type; rows are dequantized on lookup */
    const float *out_norm;  /* [dim] */
    calgae_weight output;   /* vocab x dim; the same data as tok_embd when tied */
    int tied;
    calgae_layer *layers;
    /* RoPE frequency factors [n_rot / 2] (llama.cpp's rope_freqs.weight, Llama 3's scaling):
     * pair i turns at pos * theta^(-2i/n_rot) / rope_freqs[i]; NULL: all 1 */
    const float *rope_freqs;
    /* Storage behind the pointers, the loaders' business (formats/): everything else asks
     * calgae_transformer_file() and calgae_transformer_meta() below. */
    enum calgae_format format;
    calgae_gguf gguf;       /* format GGUF */
    calgae_map map;         /* format BIN */
    struct calgae_hf *hf;   /* format HF: shards, buffers and metadata (formats/hf.h) */
    /* GGUF files carry their vocabulary */
    int has_tokenizer;
    calgae_tokenizer tokenizer;
    uint32_t file_type;     /* the dominant matrix type, for display */
    /* F32 copies of matrices whose stored type no plugin multiplies (formats/model_gguf.c) */
    void **widened;
    uint32_t *widened_from; /* [n_widened] the type each was stored in */
    size_t n_widened;
} calgae_transformer;

void calgae_transformer_free(calgae_transformer *m);

/* The type w's values were stored in: w->type, or for an F32 copy widened at load (widened
 * above) the file's type, which decides how llama.cpp would round the activations. */
uint32_t calgae_weight_stored_type(const calgae_transformer *m, const calgae_weight *w);

/* The model file, mapped read-only, that the weights point into (NULL for a model built in
 * memory): a weight lies in the file when its bytes lie inside this map. */
const calgae_map *calgae_transformer_file(const calgae_transformer *m);
/* The file's metadata as GGUF key/values, or NULL when the format has none (llama2.c .bin). */
const calgae_gguf *calgae_transformer_meta(const calgae_transformer *m);

/* Llama 3's RoPE scaling as per-pair frequency factors out[n_rot / 2], computed as transformers'
 * _compute_llama3_parameters and llama.cpp's converter (rope_freqs.weight) do: pairs of
 * wavelength below orig_ctx / high keep their frequency, above orig_ctx / low turn `factor`
 * times slower, and the band between is interpolated. */
void calgae_llama3_rope_freqs(const calgae_config *c, float factor, float low, float high,
                              int orig_ctx, float *out);

/* Checks hyperparameters for consistency (shared by both loaders). */
int calgae_config_check(const calgae_config *c, const char *path, char *err, size_t err_len);

/* Parameters: every matrix, embedding and norm (a tied output counted once). */
uint64_t calgae_transformer_params(const calgae_transformer *m);

/* Bytes of all matrices (what a token's forward pass streams from memory). */
size_t calgae_transformer_weight_bytes(const calgae_transformer *m);

#endif
