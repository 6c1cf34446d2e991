/*
 * hf.h - Hugging Face model folders (the layout transformers' save_pretrained writes):
 * config.json (model_type llama or qwen2), model.safetensors or shards named by
 * model.safetensors.index.json, tokenizer.json (the tokenizers library's serialisation: a BPE
 * model with byte fallback as Llama 2 ships it, or byte-level BPE as Llama 3 and Qwen2 do) and
 * tokenizer_config.json (add_bos_token, add_eos_token, chat_template).
 *
 * The JSON files become GGUF-style metadata (the keys llama.cpp's convert_hf_to_gguf.py writes),
 * held in memory, so the vocabulary goes through the same checked loader as a GGUF's and
 * `info` and `chat` see the folder as they see a GGUF file.
 */
#ifndef CALGAE_HF_H
#define CALGAE_HF_H

#include <stddef.h>
#include <stdint.h>

#include "gguf.h"
#include "model.h"

typedef struct calgae_hf calgae_hf;

/* What config.json says. */
typedef struct calgae_hf_config {
    calgae_config cfg;
    int tied;                /* tie_word_embeddings */
    int32_t bos_id, eos_id;  /* -1 when not given */
    char model_type[16];     /* "llama" or "qwen2" */
    /* rope_scaling {"rope_type": "llama3"} (transformers' _compute_llama3_parameters): factor
     * 0 when there is none */
    float rope_factor, rope_low_freq, rope_high_freq;
    int rope_orig_ctx;
} calgae_hf_config;

/* 1 when dir is a folder holding config.json, else 0. */
int calgae_hf_is_folder(const char *dir);

/* Parses config.json's text (name for messages). */
int calgae_hf_parse_config(const char *json, size_t len, calgae_hf_config *c, const char *name,
                           char *err, size_t err_len);

/* An empty holder of metadata and buffers; NULL when out of memory. */
calgae_hf *calgae_hf_new(void);
void calgae_hf_free(calgae_hf *h);
/* The metadata gathered so far (general.architecture, tokenizer.ggml.*). */
const calgae_gguf *calgae_hf_meta(const calgae_hf *h);

/* Turns tokenizer.json's text (and tokenizer_config.json's, which may be NULL) into
 * tokenizer.ggml.* metadata in h; c gives BOS/EOS and the model type. */
int calgae_hf_add_tokenizer(calgae_hf *h, const char *tok_json, size_t tok_len,
                            const char *tcfg_json, size_t tcfg_len, const calgae_hf_config *c,
                            const char *name, char *err, size_t err_len);

/* Loads the folder: weights point into the mapped shards where their type and layout allow,
 * else into buffers h owns (BF16 widened to F32, Q and K rows permuted from Hugging Face's
 * rotate-half order to the adjacent pairs the engine rotates). */
int calgae_transformer_load_hf(calgae_transformer *m, const char *dir, char *err,
                               size_t err_len);

/* A vocabulary from a tokenizer.json file alone (`--tokenizer tokenizer.json`), with the
 * tokenizer_config.json and config.json beside it when they are there. */
int calgae_hf_load_tokenizer_json(calgae_tokenizer *t, const char *path, char *err,
                                  size_t err_len);

/* Buffers a loaded model owns (freed with h). NULL when out of memory. */
void *calgae_hf_alloc(calgae_hf *h, size_t bytes);

#endif
