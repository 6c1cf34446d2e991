/*
 * hf_config.c - a Hugging Face folder's config.json: transformers' LlamaConfig / Qwen2Config
 * fields and their defaults, refused where the engine would compute something else (RoPE
 * scaling other than Llama 3's, another activation, a head_dim that is not hidden_size / heads).
 */
#define _GNU_SOURCE
#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "hf.h"

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

/* rope_scaling: null, or Llama 3's {"rope_type" (or the older "type"): "llama3", "factor",
 * "low_freq_factor", "high_freq_factor", "original_max_position_embeddings"}. */
static int parse_rope_scaling(const cJSON *root, calgae_hf_config *hc, const char *name,
                              char *err, size_t err_len)
{
    const cJSON *rs = cJSON_GetObjectItemCaseSensitive(root, "rope_scaling");
    if (!rs || cJSON_IsNull(rs))
        return 0;
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(rs, "rope_type");
    if (!type)
        type = cJSON_GetObjectItemCaseSensitive(rs, "type");
    if (!cJSON_IsObject(rs) || !cJSON_IsString(type) || strcmp(type->valuestring, "llama3") != 0)
        return calgae_fail(err, err_len, "%s: rope_scaling is not supported (only null or "
                           "rope_type llama3)", name);
    hc->rope_factor = 8.0f; /* transformers has no defaults here: every field is required */
    hc->rope_low_freq = 1.0f;
    hc->rope_high_freq = 4.0f;
    hc->rope_orig_ctx = 8192;
    const char *keys[] = {"factor", "low_freq_factor", "high_freq_factor",
                          "original_max_position_embeddings"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (!cJSON_GetObjectItemCaseSensitive(rs, keys[i]))
            return calgae_fail(err, err_len, "%s: rope_scaling.%s is missing", name, keys[i]);
    if (get_float(rs, "factor", &hc->rope_factor, name, err, err_len) ||
        get_float(rs, "low_freq_factor", &hc->rope_low_freq, name, err, err_len) ||
        get_float(rs, "high_freq_factor", &hc->rope_high_freq, name, err, err_len) ||
        get_int(rs, "original_max_position_embeddings", &hc->rope_orig_ctx, 1, name, err,
                err_len))
        return -1;
    /* checked after the narrowing to float, which can make a tiny positive value 0 */
    if (!(hc->rope_factor >= 1.0f) || !(hc->rope_low_freq > 0.0f) ||
        !(hc->rope_high_freq > hc->rope_low_freq) || hc->rope_orig_ctx < 1)
        return calgae_fail(err, err_len, "%s: rope_scaling needs factor >= 1, "
                           "0 < low_freq_factor < high_freq_factor and "
                           "original_max_position_embeddings >= 1", name);
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
    /* Qwen2's Q/K rows stay in rotate-half order (model_hf.c permutes llama's) */
    c->arch = strcmp(mt->valuestring, "qwen2") == 0 ? CALGAE_ARCH_QWEN2 : CALGAE_ARCH_LLAMA;
    c->rope_neox = c->arch == CALGAE_ARCH_QWEN2;
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
    /* other scalings (linear, dynamic, YaRN) would run but be wrong: refused */
    if (parse_rope_scaling(root, hc, name, err, err_len) != 0)
        return -1;
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
