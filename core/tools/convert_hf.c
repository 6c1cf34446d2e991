/*
 * convert_hf.c - see convert_hf.h. The tensors are written as transformers names and lays
 * them out: Q and K rows go back to the rotate-half order (the inverse of model_hf.c's
 * permutation). The vocabulary is written by convert_hf_tok.c.
 */
#define _GNU_SOURCE
#include "convert_hf.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "calgae_plugin.h"
#include "convert_hf_priv.h"
#include "types.h"

typedef struct hf_out {
    calgae_st_tensor *t;
    size_t n, cap;
    int dtype;
    int *shard;         /* per tensor: which file */
} hf_out;

/* values as F32 into dst as dtype */
static void store(const float *x, uint8_t *dst, size_t n, int dtype)
{
    for (size_t i = 0; i < n; i++) {
        if (dtype == CALGAE_ST_F32) {
            memcpy(dst + 4 * i, &x[i], 4);
            continue;
        }
        uint16_t h;
        if (dtype == CALGAE_ST_F16) {
            h = calgae_fp32_to_fp16(x[i]);
        } else { /* BF16, rounded to nearest even as torch does */
            uint32_t b;
            memcpy(&b, &x[i], 4);
            h = (uint16_t)((b + 0x7FFF + ((b >> 16) & 1)) >> 16);
        }
        dst[2 * i] = (uint8_t)h;
        dst[2 * i + 1] = (uint8_t)(h >> 8);
    }
}

static calgae_st_tensor *add(hf_out *o, const char *name, int shard, size_t n_elems)
{
    if (o->n == o->cap) {
        size_t cap = o->cap ? 2 * o->cap : 64;
        calgae_st_tensor *t = realloc(o->t, cap * sizeof *t);
        int *s = realloc(o->shard, cap * sizeof *s);
        if (t)
            o->t = t;
        if (s)
            o->shard = s;
        if (!t || !s)
            return NULL;
        o->cap = cap;
    }
    calgae_st_tensor *t = &o->t[o->n];
    memset(t, 0, sizeof *t);
    t->nbytes = n_elems * calgae_st_dtype_size(o->dtype);
    t->name = strdup(name);
    uint8_t *data = malloc(t->nbytes ? t->nbytes : 1);
    if (!t->name || !data) {
        free(t->name);
        free(data);
        return NULL;
    }
    t->data = data;
    t->dtype = o->dtype;
    o->shard[o->n++] = shard;
    return t;
}

static int add_vector(hf_out *o, const char *name, int shard, const float *v, int64_t n)
{
    calgae_st_tensor *t = add(o, name, shard, (size_t)n);
    if (!t)
        return -1;
    t->n_dims = 1;
    t->shape[0] = n;
    store(v, (uint8_t *)t->data, (size_t)n, o->dtype);
    return 0;
}

/* head_dim > 0: rows back to rotate-half order within each head */
static int add_matrix(hf_out *o, const char *name, int shard, const calgae_weight *w,
                      int64_t head_dim)
{
    calgae_st_tensor *t = add(o, name, shard, (size_t)w->rows * (size_t)w->cols);
    float *row = malloc((size_t)w->cols * sizeof *row);
    if (!t || !row) {
        free(row);
        return -1;
    }
    t->n_dims = 2;
    t->shape[0] = w->rows;
    t->shape[1] = w->cols;
    const size_t out_row = (size_t)w->cols * calgae_st_dtype_size(o->dtype);
    for (int64_t r = 0; r < w->rows; r++) {
        int64_t dst = r;
        if (head_dim > 0) {
            int64_t head = r / head_dim, k = r % head_dim;
            dst = head * head_dim + (k % 2) * (head_dim / 2) + k / 2;
        }
        if (calgae_dequantize_row(w->type, (const uint8_t *)w->data + (size_t)r * w->row_bytes,
                                  row, w->cols) != 0) {
            free(row);
            return -1;
        }
        store(row, (uint8_t *)t->data + (size_t)dst * out_row, (size_t)w->cols, o->dtype);
    }
    free(row);
    return 0;
}

static int add_tensors(hf_out *o, const calgae_transformer *m, int shards)
{
    const calgae_config *c = &m->cfg;
    if (add_matrix(o, "model.embed_tokens.weight", 0, &m->tok_embd, 0) ||
        add_vector(o, "model.norm.weight", shards - 1, m->out_norm, c->dim) ||
        (!m->tied && add_matrix(o, "lm_head.weight", shards - 1, &m->output, 0)))
        return -1;
    for (int l = 0; l < c->n_layers; l++) {
        const calgae_layer *L = &m->layers[l];
        const int s = (int)((int64_t)l * shards / c->n_layers);
        char n[128];
#define NAME(x) (snprintf(n, sizeof n, "model.layers.%d." x ".weight", l), n)
        if (add_vector(o, NAME("input_layernorm"), s, L->attn_norm, c->dim) ||
            add_vector(o, NAME("post_attention_layernorm"), s, L->ffn_norm, c->dim) ||
            add_matrix(o, NAME("self_attn.q_proj"), s, &L->wq, c->rope_neox ? 0 : c->head_size) ||
            add_matrix(o, NAME("self_attn.k_proj"), s, &L->wk, c->rope_neox ? 0 : c->head_size) ||
            add_matrix(o, NAME("self_attn.v_proj"), s, &L->wv, 0) ||
            add_matrix(o, NAME("self_attn.o_proj"), s, &L->wo, 0) ||
            add_matrix(o, NAME("mlp.gate_proj"), s, &L->w_gate, 0) ||
            add_matrix(o, NAME("mlp.down_proj"), s, &L->w_down, 0) ||
            add_matrix(o, NAME("mlp.up_proj"), s, &L->w_up, 0))
            return -1;
#define BIAS(x) (snprintf(n, sizeof n, "model.layers.%d." x ".bias", l), n)
        if (L->bq && (add_vector(o, BIAS("self_attn.q_proj"), s, L->bq, c->dim) ||
                      add_vector(o, BIAS("self_attn.k_proj"), s, L->bk, L->wk.rows) ||
                      add_vector(o, BIAS("self_attn.v_proj"), s, L->bv, L->wv.rows)))
            return -1;
#undef BIAS
#undef NAME
    }
    return 0;
}

/* Writes a cJSON tree (taken) to dir/file. */
static int write_json(cJSON *j, const char *dir, const char *file, char *err, size_t err_len)
{
    char p[CALGAE_PATH_MAX + 64];
    snprintf(p, sizeof p, "%s/%s", dir, file);
    char *s = j ? cJSON_Print(j) : NULL;
    cJSON_Delete(j);
    FILE *f = s ? fopen(p, "w") : NULL;
    int ok = f && fputs(s, f) >= 0 && fputc('\n', f) != EOF;
    if (f && fclose(f) != 0)
        ok = 0;
    free(s);
    return ok ? 0 : calgae_fail(err, err_len, "%s: cannot write: %s", p, strerror(errno));
}

/* Llama 3's rope_scaling parameters that give m's frequency factors (GGUF keeps only the
 * factors, rope_freqs.weight): factor is the largest factor (the slowed band's), and the
 * bands' low/high_freq_factor and original context are searched among the values real
 * configs use (1 to 8; powers of two), the match exact in float as the folder's reader
 * (model_hf.c) recomputes them. 0 when found; -1 when no such parameters give the factors. */
typedef struct llama3_scaling {
    float factor, low, high;
    int orig_ctx;
} llama3_scaling;

static int find_llama3_scaling(const calgae_transformer *m, llama3_scaling *out)
{
    const int n = m->cfg.n_rot / 2;
    float *try = malloc((size_t)(n > 0 ? n : 1) * sizeof *try), factor = 0;
    for (int i = 0; i < n; i++)
        factor = m->rope_freqs[i] > factor ? m->rope_freqs[i] : factor;
    static const float bands[] = {1, 2, 4, 8};
    for (int lo = 0; try && factor >= 1 && lo < 4; lo++)
        for (int hi = lo + 1; hi < 4; hi++)
            for (int ctx = 16; ctx <= (1 << 20); ctx *= 2) {
                calgae_llama3_rope_freqs(&m->cfg, factor, bands[lo], bands[hi], ctx, try);
                if (memcmp(try, m->rope_freqs, (size_t)n * sizeof *try) == 0) {
                    *out = (llama3_scaling){factor, bands[lo], bands[hi], ctx};
                    free(try);
                    return 0;
                }
            }
    free(try);
    return -1;
}

static cJSON *config_json(const calgae_transformer *m, const calgae_tokenizer *t, int dtype,
                          const llama3_scaling *rs)
{
    const calgae_config *c = &m->cfg;
    cJSON *j = cJSON_CreateObject();
    const int qwen2 = c->arch == CALGAE_ARCH_QWEN2;
    const char *arch[] = {qwen2 ? "Qwen2ForCausalLM" : "LlamaForCausalLM"};
    cJSON_AddItemToObject(j, "architectures", cJSON_CreateStringArray(arch, 1));
    cJSON_AddStringToObject(j, "model_type", calgae_arch_name(c->arch));
    cJSON_AddNumberToObject(j, "hidden_size", c->dim);
    cJSON_AddNumberToObject(j, "intermediate_size", c->hidden_dim);
    cJSON_AddNumberToObject(j, "num_hidden_layers", c->n_layers);
    cJSON_AddNumberToObject(j, "num_attention_heads", c->n_heads);
    cJSON_AddNumberToObject(j, "num_key_value_heads", c->n_kv_heads);
    cJSON_AddNumberToObject(j, "vocab_size", c->vocab_size);
    cJSON_AddNumberToObject(j, "max_position_embeddings", c->ctx);
    cJSON_AddNumberToObject(j, "rms_norm_eps", c->eps);
    cJSON_AddNumberToObject(j, "rope_theta", c->rope_theta);
    cJSON_AddBoolToObject(j, "tie_word_embeddings", m->tied);
    cJSON_AddStringToObject(j, "hidden_act", "silu");
    if (rs) {
        cJSON *r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "rope_type", "llama3");
        cJSON_AddNumberToObject(r, "factor", rs->factor);
        cJSON_AddNumberToObject(r, "low_freq_factor", rs->low);
        cJSON_AddNumberToObject(r, "high_freq_factor", rs->high);
        cJSON_AddNumberToObject(r, "original_max_position_embeddings", rs->orig_ctx);
        cJSON_AddItemToObject(j, "rope_scaling", r);
    } else {
        cJSON_AddNullToObject(j, "rope_scaling");
    }
    cJSON_AddStringToObject(j, "torch_dtype", dtype == CALGAE_ST_F32   ? "float32"
                                              : dtype == CALGAE_ST_F16 ? "float16"
                                                                       : "bfloat16");
    if (t->bos_id >= 0)
        cJSON_AddNumberToObject(j, "bos_token_id", t->bos_id);
    if (t->eos_id >= 0)
        cJSON_AddNumberToObject(j, "eos_token_id", t->eos_id);
    return j;
}

static int write_weights(hf_out *o, int shards, const char *dir, char *err, size_t err_len)
{
    char p[CALGAE_PATH_MAX + 128];
    if (shards == 1) {
        snprintf(p, sizeof p, "%s/model.safetensors", dir);
        return calgae_safetensors_write(p, o->t, o->n, err, err_len);
    }
    cJSON *idx = cJSON_CreateObject(), *meta = cJSON_CreateObject(), *wm = cJSON_CreateObject();
    double total = 0;
    calgae_st_tensor *sel = malloc(o->n * sizeof *sel);
    int rc = sel && idx && meta && wm ? 0 : calgae_fail(err, err_len, "%s: out of memory", dir);
    for (int s = 0; s < shards && rc == 0; s++) {
        char file[64];
        snprintf(file, sizeof file, "model-%05d-of-%05d.safetensors", s + 1, shards);
        size_t k = 0;
        for (size_t i = 0; i < o->n; i++)
            if (o->shard[i] == s) {
                sel[k++] = o->t[i];
                cJSON_AddStringToObject(wm, o->t[i].name, file);
                total += (double)o->t[i].nbytes;
            }
        snprintf(p, sizeof p, "%s/%s", dir, file);
        rc = calgae_safetensors_write(p, sel, k, err, err_len);
    }
    free(sel);
    if (meta)
        cJSON_AddNumberToObject(meta, "total_size", total);
    cJSON_AddItemToObject(idx, "metadata", meta);
    cJSON_AddItemToObject(idx, "weight_map", wm);
    if (rc != 0) {
        cJSON_Delete(idx);
        return -1;
    }
    return write_json(idx, dir, "model.safetensors.index.json", err, err_len);
}

static void remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char p[CALGAE_PATH_MAX + 300];
    while (d && (e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            unlink(p);
        }
    if (d)
        closedir(d);
    rmdir(dir);
}

static int write_folder(const calgae_transformer *m, const calgae_tokenizer *t,
                        const llama3_scaling *rs, const char *chat_template, int dtype,
                        int shards, const char *dir, char *err, size_t err_len)
{
    hf_out o = {.dtype = dtype};
    int rc = add_tensors(&o, m, shards) == 0
                 ? 0
                 : calgae_fail(err, err_len, "%s: out of memory or a matrix type that cannot "
                               "be read back", dir);
    if (rc == 0)
        rc = write_weights(&o, shards, dir, err, err_len);
    for (size_t i = 0; i < o.n; i++) {
        free(o.t[i].name);
        free((void *)o.t[i].data);
    }
    free(o.t);
    free(o.shard);
    if (rc == 0)
        rc = write_json(config_json(m, t, dtype, m->rope_freqs ? rs : NULL), dir,
                        "config.json", err, err_len);
    if (rc == 0)
        rc = write_json(calgae_hf_tokenizer_json(t), dir, "tokenizer.json", err, err_len);
    if (rc == 0)
        rc = write_json(calgae_hf_tokenizer_config_json(t, chat_template), dir,
                        "tokenizer_config.json", err, err_len);
    return rc;
}

int calgae_convert_to_hf(const calgae_transformer *m, const calgae_tokenizer *t,
                         const char *chat_template, int dtype, int shards, const char *out_dir,
                         char *err, size_t err_len)
{
    struct stat st;
    llama3_scaling rs = {0};
    if (m->rope_freqs && find_llama3_scaling(m, &rs) != 0)
        return calgae_fail(err, err_len, "%s: the model's RoPE frequency factors (rope_freqs) "
                           "are not Llama 3's scaling, which is all config.json can say", out_dir);
    if (shards < 1 || shards > m->cfg.n_layers)
        return calgae_fail(err, err_len, "%s: %d shards for %d layers", out_dir, shards,
                           m->cfg.n_layers);
    if (stat(out_dir, &st) == 0)
        return calgae_fail(err, err_len, "%s: already exists (not replaced)", out_dir);
    char tmp[CALGAE_PATH_MAX + 16];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.XXXXXX", out_dir) >= sizeof tmp)
        return calgae_fail(err, err_len, "%s: path too long", out_dir);
    if (!mkdtemp(tmp))
        return calgae_fail(err, err_len, "%s: cannot create: %s", out_dir, strerror(errno));
    chmod(tmp, 0755);
    int rc = write_folder(m, t, &rs, chat_template, dtype, shards, tmp, err, err_len);
    if (rc == 0 && rename(tmp, out_dir) != 0)
        rc = calgae_fail(err, err_len, "%s: cannot rename into place: %s", out_dir,
                         strerror(errno));
    if (rc != 0) {
        remove_tree(tmp);
        /* the message names the folder the user asked for, not the temporary one */
        const size_t n = strlen(tmp);
        if (strncmp(err, tmp, n) == 0) {
            char msg[CALGAE_ERR_LEN];
            snprintf(msg, sizeof msg, "%s", err + n);
            calgae_fail(err, err_len, "%s%s", out_dir, msg);
        }
    }
    return rc;
}
