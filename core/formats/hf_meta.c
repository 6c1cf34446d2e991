/*
 * hf_meta.c - the holder of a loaded Hugging Face folder (hf_priv.h): the in-memory metadata
 * the folder reader builds, its shards and buffers. It calls nothing of model/, so that
 * model.c can free a folder's model without a circle of calls.
 */
#define _GNU_SOURCE
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hf_priv.h"

calgae_hf *calgae_hf_new(void)
{
    return calloc(1, sizeof(calgae_hf));
}

void calgae_hf_free(calgae_hf *h)
{
    if (!h)
        return;
    for (size_t i = 0; i < h->n_shards; i++)
        calgae_safetensors_close(&h->shards[i]);
    free(h->shards);
    for (size_t i = 0; i < h->n_bufs; i++)
        free(h->bufs[i]);
    free(h->bufs);
    free(h->meta.kv);
    free(h);
}

const calgae_gguf *calgae_hf_meta(const calgae_hf *h)
{
    return &h->meta;
}

void *calgae_hf_alloc(calgae_hf *h, size_t bytes)
{
    if (h->n_bufs == h->bufs_cap) {
        size_t cap = h->bufs_cap ? 2 * h->bufs_cap : 16;
        void **b = realloc(h->bufs, cap * sizeof *b);
        if (!b)
            return NULL;
        h->bufs = b;
        h->bufs_cap = cap;
    }
    void *p = calloc(1, bytes ? bytes : 1);
    if (p)
        h->bufs[h->n_bufs++] = p;
    return p;
}

char *calgae_hf_strdup(calgae_hf *h, const char *s, size_t len)
{
    char *p = calgae_hf_alloc(h, len + 1);
    if (p)
        memcpy(p, s, len);
    return p;
}

static calgae_gguf_kv *new_kv(calgae_hf *h, const char *key, uint32_t type)
{
    if (h->meta.n_kv == h->kv_cap) {
        size_t cap = h->kv_cap ? 2 * h->kv_cap : 16;
        calgae_gguf_kv *kv = realloc(h->meta.kv, cap * sizeof *kv);
        if (!kv)
            return NULL;
        h->meta.kv = kv;
        h->kv_cap = cap;
    }
    char *k = calgae_hf_strdup(h, key, strlen(key));
    if (!k)
        return NULL;
    calgae_gguf_kv *kv = &h->meta.kv[h->meta.n_kv++];
    memset(kv, 0, sizeof *kv);
    kv->key = (calgae_gguf_str){k, strlen(k)};
    kv->type = type;
    return kv;
}

int calgae_hf_meta_str(calgae_hf *h, const char *key, const char *s, size_t len)
{
    char *c = calgae_hf_strdup(h, s, len);
    calgae_gguf_kv *kv = c ? new_kv(h, key, CALGAE_GGUF_STRING) : NULL;
    if (!kv)
        return -1;
    kv->v.s = (calgae_gguf_str){c, len};
    return 0;
}

int calgae_hf_meta_u32(calgae_hf *h, const char *key, uint32_t v)
{
    calgae_gguf_kv *kv = new_kv(h, key, CALGAE_GGUF_UINT32);
    if (!kv)
        return -1;
    kv->v.u = v;
    return 0;
}

int calgae_hf_meta_bool(calgae_hf *h, const char *key, int v)
{
    calgae_gguf_kv *kv = new_kv(h, key, CALGAE_GGUF_BOOL);
    if (!kv)
        return -1;
    kv->v.u = v != 0;
    return 0;
}

static void *new_arr(calgae_hf *h, const char *key, uint32_t type, size_t n, size_t elem)
{
    void *p = calgae_hf_alloc(h, n * elem);
    calgae_gguf_kv *kv = p ? new_kv(h, key, CALGAE_GGUF_ARRAY) : NULL;
    if (!kv)
        return NULL;
    kv->arr_type = type;
    kv->arr_len = n;
    if (type == CALGAE_GGUF_STRING)
        kv->arr_strs = p;
    else
        kv->arr_data = p;
    return p;
}

calgae_gguf_str *calgae_hf_meta_arr_str(calgae_hf *h, const char *key, size_t n)
{
    return new_arr(h, key, CALGAE_GGUF_STRING, n, sizeof(calgae_gguf_str));
}

float *calgae_hf_meta_arr_f32(calgae_hf *h, const char *key, size_t n)
{
    return new_arr(h, key, CALGAE_GGUF_FLOAT32, n, sizeof(float));
}

int32_t *calgae_hf_meta_arr_i32(calgae_hf *h, const char *key, size_t n)
{
    return new_arr(h, key, CALGAE_GGUF_INT32, n, sizeof(int32_t));
}

int calgae_hf_is_folder(const char *dir)
{
    char p[CALGAE_PATH_MAX + 16];
    struct stat st;
    if ((size_t)snprintf(p, sizeof p, "%s/config.json", dir) >= sizeof p)
        return 0;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}
