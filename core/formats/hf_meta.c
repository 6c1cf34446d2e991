/*
 * hf_meta.c - a Hugging Face folder's config.json (transformers' LlamaConfig / Qwen2Config
 * fields and defaults) and the in-memory metadata the folder reader builds (hf_priv.h).
 */
#define _GNU_SOURCE
#include <cJSON.h>
#include <math.h>
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

/* ---- config.json ---- */

/* An integer field: absent keeps *out unless required; present must be a whole number in
 * [0, 2^31). */
static int get_int(const cJSON *root, const char *key, int *out, int required, const char *name,
                   char *err, size_t err_len)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!j || cJSON_IsNull(j))
        return required ? calgae_fail(err, err_len, "%s: %s is missing", name, key) : 0;
    if (!cJSON_IsNumber(j) || !(j->valuedouble >= 0 && j->valuedouble < 2147483648.0) ||
        j->valuedouble != floor(j->valuedouble))
        return calgae_fail(err, err_len, "%s: %s is not an integer in [0, 2^31)", name, key);
    *out = (int)j->valuedouble;
    return 0;
}

static int get_float(const cJSON *root, const char *key, float *out, const char *name,
                     char *err, size_t err_len)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!j || cJSON_IsNull(j))
        return 0;
    if (!cJSON_IsNumber(j) || !(j->valuedouble > 0 && j->valuedouble < 1e30))
        return calgae_fail(err, err_len, "%s: %s is not a positive number", name, key);
    *out = (float)j->valuedouble;
    return 0;
}

/* bos_token_id / eos_token_id: an integer, a list of them (the first is taken) or null. */
static int get_token(const cJSON *root, const char *key, int32_t *out, const char *name,
                     char *err, size_t err_len)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(root, key);
    *out = -1;
    if (cJSON_IsArray(j))
        j = j->child;
    if (!j || cJSON_IsNull(j))
        return 0;
    if (!cJSON_IsNumber(j) || !(j->valuedouble >= 0 && j->valuedouble < 2147483648.0))
        return calgae_fail(err, err_len, "%s: %s is not a token id", name, key);
    *out = (int32_t)j->valuedouble;
    return 0;
}

static int parse_config(const cJSON *root, calgae_hf_config *hc, const char *name, char *err,
                        size_t err_len)
{
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(root, "model_type");
    if (!cJSON_IsString(mt))
        return calgae_fail(err, err_len, "%s: model_type is missing or not a string", name);
    if (strcmp(mt->valuestring, "llama") != 0 && strcmp(mt->valuestring, "qwen2") != 0)
        return calgae_fail(err, err_len, "%s: model_type '%.40s' is not supported (llama, "
                           "qwen2)", name, mt->valuestring);
    snprintf(hc->model_type, sizeof hc->model_type, "%s", mt->valuestring);
    calgae_config *c = &hc->cfg;
    c->ctx = 2048;
    c->eps = 1e-6f;          /* LlamaConfig's and Qwen2Config's default */
    c->rope_theta = 10000.0f;
    if (get_int(root, "hidden_size", &c->dim, 1, name, err, err_len) ||
        get_int(root, "intermediate_size", &c->hidden_dim, 1, name, err, err_len) ||
        get_int(root, "num_hidden_layers", &c->n_layers, 1, name, err, err_len) ||
        get_int(root, "num_attention_heads", &c->n_heads, 1, name, err, err_len) ||
        get_int(root, "vocab_size", &c->vocab_size, 1, name, err, err_len) ||
        get_int(root, "max_position_embeddings", &c->ctx, 0, name, err, err_len) ||
        get_float(root, "rms_norm_eps", &c->eps, name, err, err_len) ||
        get_float(root, "rope_theta", &c->rope_theta, name, err, err_len) ||
        get_token(root, "bos_token_id", &hc->bos_id, name, err, err_len) ||
        get_token(root, "eos_token_id", &hc->eos_id, name, err, err_len))
        return -1;
    c->n_kv_heads = c->n_heads;
    if (get_int(root, "num_key_value_heads", &c->n_kv_heads, 0, name, err, err_len))
        return -1;
    c->head_size = c->n_heads > 0 ? c->dim / c->n_heads : 0;
    c->n_rot = c->head_size;
    int head_dim = c->head_size;
    if (get_int(root, "head_dim", &head_dim, 0, name, err, err_len))
        return -1;
    if (head_dim != c->head_size)
        return calgae_fail(err, err_len, "%s: head_dim %d is not hidden_size / "
                           "num_attention_heads (%d)", name, head_dim, c->head_size);
    const cJSON *tie = cJSON_GetObjectItemCaseSensitive(root, "tie_word_embeddings");
    if (tie && !cJSON_IsBool(tie))
        return calgae_fail(err, err_len, "%s: tie_word_embeddings is not a bool", name);
    hc->tied = cJSON_IsTrue(tie);
    /* the engine's RoPE has no frequency scaling: a scaled model would run but be wrong */
    const cJSON *rs = cJSON_GetObjectItemCaseSensitive(root, "rope_scaling");
    if (rs && !cJSON_IsNull(rs))
        return calgae_fail(err, err_len, "%s: rope_scaling is not supported (only null)", name);
    const cJSON *act = cJSON_GetObjectItemCaseSensitive(root, "hidden_act");
    if (act && (!cJSON_IsString(act) || strcmp(act->valuestring, "silu") != 0))
        return calgae_fail(err, err_len, "%s: hidden_act must be \"silu\"", name);
    return calgae_config_check(c, name, err, err_len);
}

int calgae_hf_parse_config(const char *json, size_t len, calgae_hf_config *c, const char *name,
                           char *err, size_t err_len)
{
    memset(c, 0, sizeof *c);
    cJSON *root = cJSON_ParseWithLength(json, len);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return calgae_fail(err, err_len, "%s: not a JSON object", name);
    }
    int rc = parse_config(root, c, name, err, err_len);
    cJSON_Delete(root);
    return rc;
}
