/*
 * hf_priv.h - what the Hugging Face folder reader's files (hf_meta.c, hf_tokenizer.c,
 * model_hf.c) share: the holder of a loaded folder's metadata, shards and buffers.
 */
#ifndef CALGAE_HF_PRIV_H
#define CALGAE_HF_PRIV_H

#include "hf.h"
#include "safetensors.h"

struct calgae_hf {
    calgae_gguf meta;          /* kv only: no map, no tensors */
    size_t kv_cap;
    void **bufs;               /* everything the metadata and weights point into */
    size_t n_bufs, bufs_cap;
    calgae_safetensors *shards;
    size_t n_shards;
};

/* Metadata entries; strings are copied. Each returns 0 or -1 when out of memory. */
int calgae_hf_meta_str(calgae_hf *h, const char *key, const char *s, size_t len);
int calgae_hf_meta_u32(calgae_hf *h, const char *key, uint32_t v);
int calgae_hf_meta_bool(calgae_hf *h, const char *key, int v);
/* Arrays: the caller fills the n elements returned (NULL when out of memory). */
calgae_gguf_str *calgae_hf_meta_arr_str(calgae_hf *h, const char *key, size_t n);
float *calgae_hf_meta_arr_f32(calgae_hf *h, const char *key, size_t n);
int32_t *calgae_hf_meta_arr_i32(calgae_hf *h, const char *key, size_t n);
/* A copy of s owned by h, NUL-terminated. */
char *calgae_hf_strdup(calgae_hf *h, const char *s, size_t len);

#endif
