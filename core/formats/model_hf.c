/*
 * model_hf.c - a Llama-architecture model from a Hugging Face folder (hf.h): transformers'
 * tensor names (model.embed_tokens, model.layers.N.self_attn.{q,k,v,o}_proj,
 * mlp.{gate,up,down}_proj, input_layernorm, post_attention_layernorm, model.norm, lm_head),
 * shapes [out, in] as the engine stores rows.
 *
 * Q and K: transformers rotates the two halves of each head (rotate_half), the engine rotates
 * adjacent pairs (llama.cpp's layout). Rather than a second RoPE in the engine and in every
 * plugin's RoPE slot, the rows of Q and K are permuted once at load, as llama.cpp's converter
 * does when it writes a GGUF: the dot products q.k are unchanged, so the outputs are too. The
 * cost is a copy of Q and K (two of the seven matrices of a layer) in memory. Qwen2 models keep
 * transformers' layout and the engine rotates halves for them (as llama.cpp does for qwen2), so
 * their Q/K biases (self_attn.{q,k,v}_proj.bias) are used as stored.
 *
 * Llama 3's rope_scaling becomes per-pair frequency factors, computed as llama.cpp's converter
 * computes its rope_freqs.weight (convert_hf_to_gguf.py, LlamaModel.generate_extra_tensors).
 */
#define _GNU_SOURCE
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "calgae_plugin.h"
#include "hf_priv.h"

/* BF16 is not a block type yet (issue 11): widened to F32 here, the one place that knows. */
static void hf_bf16_to_f32(const uint8_t *src, float *dst, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t bits = (uint32_t)(src[2 * i] | src[2 * i + 1] << 8) << 16;
        memcpy(&dst[i], &bits, sizeof bits);
    }
}

static const calgae_st_tensor *find(const calgae_hf *h, const char *name)
{
    for (size_t i = 0; i < h->n_shards; i++) {
        const calgae_st_tensor *t = calgae_safetensors_find(&h->shards[i], name);
        if (t)
            return t;
    }
    return NULL;
}

/* Row r of the permuted matrix is row src_row(r) of transformers' one: within each head,
 * adjacent-pair position 2i + j takes rotate-half position j * hd/2 + i. */
static int64_t src_row(int64_t r, int64_t hd)
{
    int64_t head = r / hd, k = r % hd;
    return head * hd + (k % 2) * (hd / 2) + k / 2;
}

/* The tensor's elements as F32 or F16 rows the engine can use: in place when possible. */
static int get_matrix(calgae_hf *h, const char *name, int64_t rows, int64_t cols,
                      int64_t permute_hd, calgae_weight *w, const char *path, char *err,
                      size_t err_len)
{
    const calgae_st_tensor *t = find(h, name);
    if (!t)
        return calgae_fail(err, err_len, "%s: tensor %s is missing", path, name);
    if (t->n_dims != 2 || t->shape[0] != rows || t->shape[1] != cols)
        return calgae_fail(err, err_len, "%s: tensor %s should have shape [%lld, %lld]", path,
                           name, (long long)rows, (long long)cols);
    const size_t n = (size_t)rows * (size_t)cols, es = calgae_st_dtype_size(t->dtype);
    const int f16 = t->dtype == CALGAE_ST_F16;
    memset(w, 0, sizeof *w);
    w->type = f16 ? CALGAE_TYPE_F16 : CALGAE_TYPE_F32;
    w->rows = rows;
    w->cols = cols;
    w->row_bytes = (size_t)cols * (f16 ? 2 : 4);
    if (t->dtype != CALGAE_ST_BF16 && !permute_hd && (uintptr_t)t->data % es == 0) {
        w->data = t->data;
        return 0;
    }
    uint8_t *buf = calgae_hf_alloc(h, n * (f16 ? 2 : 4));
    if (!buf)
        return calgae_fail(err, err_len, "%s: out of memory for %s", path, name);
    for (int64_t r = 0; r < rows; r++) {
        const uint8_t *src = t->data + (size_t)(permute_hd ? src_row(r, permute_hd) : r) *
                                           (size_t)cols * es;
        uint8_t *dst = buf + (size_t)r * w->row_bytes;
        if (t->dtype == CALGAE_ST_BF16)
            hf_bf16_to_f32(src, (float *)dst, (size_t)cols);
        else
            memcpy(dst, src, w->row_bytes);
    }
    w->data = buf;
    return 0;
}

static const float *get_vector(calgae_hf *h, const char *name, int64_t len, const char *path,
                               char *err, size_t err_len)
{
    const calgae_st_tensor *t = find(h, name);
    if (!t || t->n_dims != 1 || t->shape[0] != len) {
        calgae_fail(err, err_len, "%s: tensor %s must be a vector of %lld", path, name,
                    (long long)len);
        return NULL;
    }
    if (t->dtype == CALGAE_ST_F32 && (uintptr_t)t->data % 4 == 0)
        return (const float *)t->data;
    float *v = calgae_hf_alloc(h, (size_t)len * sizeof *v);
    if (!v) {
        calgae_fail(err, err_len, "%s: out of memory", path);
        return NULL;
    }
    for (int64_t i = 0; i < len; i++) {
        const uint8_t *p = t->data + (size_t)i * calgae_st_dtype_size(t->dtype);
        if (t->dtype == CALGAE_ST_F32)
            memcpy(&v[i], p, 4);
        else if (t->dtype == CALGAE_ST_F16)
            v[i] = calgae_fp16_to_fp32((uint16_t)(p[0] | p[1] << 8));
        else
            hf_bf16_to_f32(p, &v[i], 1);
    }
    return v;
}

static int load_layer(calgae_hf *h, const calgae_config *c, int l, calgae_layer *L,
                      const char *path, char *err, size_t err_len)
{
    const int64_t kv_dim = (int64_t)c->head_size * c->n_kv_heads;
    const int64_t hd = c->rope_neox ? 0 : c->head_size; /* permute only for pair RoPE */
    char name[128];
#define NAME(s) (snprintf(name, sizeof name, "model.layers.%d." s ".weight", l), name)
    if (!(L->attn_norm = get_vector(h, NAME("input_layernorm"), c->dim, path, err, err_len)) ||
        !(L->ffn_norm = get_vector(h, NAME("post_attention_layernorm"), c->dim, path, err,
                                   err_len)))
        return -1;
    if (get_matrix(h, NAME("self_attn.q_proj"), c->dim, c->dim, hd, &L->wq, path, err, err_len) ||
        get_matrix(h, NAME("self_attn.k_proj"), kv_dim, c->dim, hd, &L->wk, path, err, err_len) ||
        get_matrix(h, NAME("self_attn.v_proj"), kv_dim, c->dim, 0, &L->wv, path, err, err_len) ||
        get_matrix(h, NAME("self_attn.o_proj"), c->dim, c->dim, 0, &L->wo, path, err, err_len) ||
        get_matrix(h, NAME("mlp.gate_proj"), c->hidden_dim, c->dim, 0, &L->w_gate, path, err,
                   err_len) ||
        get_matrix(h, NAME("mlp.down_proj"), c->dim, c->hidden_dim, 0, &L->w_down, path, err,
                   err_len) ||
        get_matrix(h, NAME("mlp.up_proj"), c->hidden_dim, c->dim, 0, &L->w_up, path, err,
                   err_len))
        return -1;
#define BIAS(s) (snprintf(name, sizeof name, "model.layers.%d." s ".bias", l), name)
    /* Qwen2's attention has biases, llama's none: a llama with them would need them permuted */
    L->bq = L->bk = L->bv = NULL;
    if (c->arch == CALGAE_ARCH_QWEN2) {
        if (!(L->bq = get_vector(h, BIAS("self_attn.q_proj"), c->dim, path, err, err_len)) ||
            !(L->bk = get_vector(h, BIAS("self_attn.k_proj"), kv_dim, path, err, err_len)) ||
            !(L->bv = get_vector(h, BIAS("self_attn.v_proj"), kv_dim, path, err, err_len)))
            return -1;
    } else if (find(h, BIAS("self_attn.q_proj"))) {
        return calgae_fail(err, err_len, "%s: attention biases (%s) are not supported for "
                           "model_type llama", path, name);
    }
#undef BIAS
#undef NAME
    return 0;
}

static int join(char *out, size_t cap, const char *dir, const char *file, char *err,
                size_t err_len)
{
    if ((size_t)snprintf(out, cap, "%s/%s", dir, file) >= cap)
        return calgae_fail(err, err_len, "%s: path too long", dir);
    return 0;
}

static int add_shard(calgae_hf *h, const char *dir, const char *file, char *err, size_t err_len)
{
    char p[CALGAE_PATH_MAX + 256];
    if (join(p, sizeof p, dir, file, err, err_len) != 0)
        return -1;
    calgae_safetensors *s = realloc(h->shards, (h->n_shards + 1) * sizeof *s);
    if (!s)
        return calgae_fail(err, err_len, "%s: out of memory", p);
    h->shards = s;
    if (calgae_safetensors_open(&h->shards[h->n_shards], p, err, err_len) != 0)
        return -1;
    h->n_shards++;
    return 0;
}

/* model.safetensors, else every file model.safetensors.index.json's weight_map names (once
 * each; a name with a slash or starting with a dot is refused: shards live in the folder). */
static int open_shards(calgae_hf *h, const char *dir, char *err, size_t err_len)
{
    char p[CALGAE_PATH_MAX + 64];
    struct stat st;
    if (join(p, sizeof p, dir, "model.safetensors", err, err_len) != 0)
        return -1;
    if (stat(p, &st) == 0)
        return add_shard(h, dir, "model.safetensors", err, err_len);
    if (join(p, sizeof p, dir, "model.safetensors.index.json", err, err_len) != 0)
        return -1;
    calgae_map map;
    if (calgae_map_file(&map, p, err, err_len) != 0)
        return calgae_fail(err, err_len, "%s: no model.safetensors or "
                           "model.safetensors.index.json", dir);
    cJSON *root = cJSON_ParseWithLength((const char *)map.data, map.size);
    calgae_unmap(&map);
    const cJSON *wm = cJSON_GetObjectItemCaseSensitive(root, "weight_map");
    int rc = cJSON_IsObject(wm) ? 0 : calgae_fail(err, err_len, "%s: no weight_map object", p);
    for (const cJSON *e = rc == 0 ? wm->child : NULL; e && rc == 0; e = e->next) {
        if (!cJSON_IsString(e) || strchr(e->valuestring, '/') || e->valuestring[0] == '.' ||
            !e->valuestring[0]) {
            rc = calgae_fail(err, err_len, "%s: weight_map: bad file name for %.80s", p,
                             e->string);
            break;
        }
        int seen = 0; /* files named before this entry */
        for (const cJSON *b = wm->child; b != e; b = b->next)
            seen |= strcmp(b->valuestring, e->valuestring) == 0;
        if (!seen)
            rc = add_shard(h, dir, e->valuestring, err, err_len);
    }
    cJSON_Delete(root);
    return rc;
}

static int read_json_file(const char *dir, const char *file, calgae_map *map, int required,
                          char *err, size_t err_len)
{
    char p[CALGAE_PATH_MAX + 64];
    struct stat st;
    memset(map, 0, sizeof *map);
    if (join(p, sizeof p, dir, file, err, err_len) != 0)
        return -1;
    if (!required && stat(p, &st) != 0)
        return 1;
    return calgae_map_file(map, p, err, err_len);
}

/* tokenizer.json at path (tokenizer_config.json beside it, when there is one) as metadata in
 * h, then as a vocabulary in t. */
static void dir_of(const char *path, char *dir, size_t cap)
{
    snprintf(dir, cap, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = 0;
    else
        snprintf(dir, cap, ".");
}

static int tokenizer_into(calgae_hf *h, calgae_tokenizer *t, const char *path,
                          const calgae_hf_config *hc, char *err, size_t err_len)
{
    char dir[CALGAE_PATH_MAX];
    dir_of(path, dir, sizeof dir);
    calgae_map tj, tc;
    if (calgae_map_file(&tj, path, err, err_len) != 0)
        return -1;
    if (read_json_file(dir, "tokenizer_config.json", &tc, 0, err, err_len) < 0) {
        calgae_unmap(&tj);
        return -1;
    }
    int rc = calgae_hf_add_tokenizer(h, (const char *)tj.data, tj.size,
                                     tc.data ? (const char *)tc.data : NULL, tc.size, hc, path,
                                     err, err_len);
    calgae_unmap(&tj);
    calgae_unmap(&tc);
    return rc == 0 ? calgae_tokenizer_load_gguf(t, &h->meta, path, err, err_len) : -1;
}

int calgae_hf_load_tokenizer_json(calgae_tokenizer *t, const char *path, char *err,
                                  size_t err_len)
{
    calgae_hf_config hc = {.bos_id = -1, .eos_id = -1, .model_type = "llama"};
    char dir[CALGAE_PATH_MAX], name[CALGAE_PATH_MAX + 16];
    dir_of(path, dir, sizeof dir);
    snprintf(name, sizeof name, "%s/config.json", dir);
    calgae_map cj;
    int rc = read_json_file(dir, "config.json", &cj, 0, err, err_len);
    if (rc < 0)
        return -1;
    if (rc == 0) { /* config.json beside: the model type and BOS/EOS ids */
        rc = calgae_hf_parse_config((const char *)cj.data, cj.size, &hc, name, err, err_len);
        calgae_unmap(&cj);
        if (rc != 0)
            return -1;
    }
    calgae_hf *h = calgae_hf_new();
    if (!h)
        return calgae_fail(err, err_len, "%s: out of memory", path);
    rc = tokenizer_into(h, t, path, &hc, err, err_len);
    calgae_hf_free(h);
    return rc;
}

static int load_tokenizer(calgae_transformer *m, const calgae_hf_config *hc, const char *dir,
                          char *err, size_t err_len)
{
    char path[CALGAE_PATH_MAX + 32];
    struct stat st;
    if (join(path, sizeof path, dir, "tokenizer.json", err, err_len) != 0)
        return -1;
    if (stat(path, &st) != 0)
        return 0; /* no tokenizer.json: --tokenizer may give one */
    if (tokenizer_into(m->hf, &m->tokenizer, path, hc, err, err_len) != 0)
        return -1;
    m->has_tokenizer = 1;
    if (m->tokenizer.n_vocab > hc->cfg.vocab_size)
        return calgae_fail(err, err_len, "%s: vocabulary has %d tokens but the model only %d",
                           path, m->tokenizer.n_vocab, hc->cfg.vocab_size);
    return 0;
}

/* Llama 3's rope_scaling as frequency factors (model.h), in the folder's buffers. */
static int llama3_rope_freqs(calgae_transformer *m, const calgae_hf_config *hc, const char *dir,
                             char *err, size_t err_len)
{
    float *f = calgae_hf_alloc(m->hf, (size_t)(m->cfg.n_rot / 2) * sizeof *f);
    if (!f)
        return calgae_fail(err, err_len, "%s: out of memory", dir);
    calgae_llama3_rope_freqs(&m->cfg, hc->rope_factor, hc->rope_low_freq, hc->rope_high_freq,
                             hc->rope_orig_ctx, f);
    m->rope_freqs = f;
    return 0;
}

static int load_weights(calgae_transformer *m, const char *dir, char *err, size_t err_len)
{
    calgae_hf *h = m->hf;
    const calgae_config *c = &m->cfg;
    if (get_matrix(h, "model.embed_tokens.weight", c->vocab_size, c->dim, 0, &m->tok_embd, dir,
                   err, err_len) != 0 ||
        !(m->out_norm = get_vector(h, "model.norm.weight", c->dim, dir, err, err_len)))
        return -1;
    /* a checkpoint may tie its classifier yet still store lm_head: the stored one is used */
    m->tied = find(h, "lm_head.weight") == NULL;
    if (m->tied)
        m->output = m->tok_embd;
    else if (get_matrix(h, "lm_head.weight", c->vocab_size, c->dim, 0, &m->output, dir, err,
                        err_len) != 0)
        return -1;
    m->layers = calloc((size_t)c->n_layers, sizeof *m->layers);
    if (!m->layers)
        return calgae_fail(err, err_len, "%s: out of memory", dir);
    for (int l = 0; l < c->n_layers; l++)
        if (load_layer(h, c, l, &m->layers[l], dir, err, err_len) != 0)
            return -1;
    m->file_type = m->layers[0].wq.type;
    return 0;
}

int calgae_transformer_load_hf(calgae_transformer *m, const char *dir, char *err,
                               size_t err_len)
{
    m->format = CALGAE_FORMAT_HF;
    char name[CALGAE_PATH_MAX + 32];
    snprintf(name, sizeof name, "%s/config.json", dir);
    calgae_map cj;
    if (read_json_file(dir, "config.json", &cj, 1, err, err_len) != 0)
        return -1;
    calgae_hf_config hc;
    int rc = calgae_hf_parse_config((const char *)cj.data, cj.size, &hc, name, err, err_len);
    calgae_unmap(&cj);
    if (rc != 0)
        return -1;
    m->cfg = hc.cfg;
    const char *arch = calgae_arch_name(m->cfg.arch);
    if (!(m->hf = calgae_hf_new()) ||
        calgae_hf_meta_str(m->hf, "general.architecture", arch, strlen(arch)) != 0)
        return calgae_fail(err, err_len, "%s: out of memory", dir);
    if (hc.rope_factor > 0 && llama3_rope_freqs(m, &hc, dir, err, err_len) != 0)
        return -1;
    if (load_tokenizer(m, &hc, dir, err, err_len) != 0 ||
        open_shards(m->hf, dir, err, err_len) != 0)
        return -1;
    return load_weights(m, dir, err, err_len);
}
