/*
 * convert_hf.c - see convert_hf.h. The tensors are written as transformers names and lays
 * them out: Q and K rows go back to the rotate-half order (the inverse of model_hf.c's
 * permutation), and the vocabulary becomes a tokenizers BPE model with byte fallback whose
 * merges are every split of every token into two tokens, ordered by the token's
 * SentencePiece score (the construction tokenizers' SpmConverter uses), so that lowest-rank
 * merging picks what highest-score merging picks.
 */
#define _GNU_SOURCE
#include "convert_hf.h"

#include <cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "calgae_plugin.h"
#include "spm.h"
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

static cJSON *config_json(const calgae_transformer *m, const calgae_tokenizer *t, int dtype)
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
    cJSON_AddNullToObject(j, "rope_scaling");
    cJSON_AddStringToObject(j, "torch_dtype", dtype == CALGAE_ST_F32   ? "float32"
                                              : dtype == CALGAE_ST_F16 ? "float16"
                                                                       : "bfloat16");
    if (t->bos_id >= 0)
        cJSON_AddNumberToObject(j, "bos_token_id", t->bos_id);
    if (t->eos_id >= 0)
        cJSON_AddNumberToObject(j, "eos_token_id", t->eos_id);
    return j;
}

/* A piece as tokenizer.json spells it: spaces as U+2581. */
static char *spelled(const char *p, uint32_t len)
{
    char *s = malloc(3 * (size_t)len + 1), *o = s;
    if (!s)
        return NULL;
    for (uint32_t i = 0; i < len; i++) {
        if (p[i] == ' ') {
            memcpy(o, "\xe2\x96\x81", 3);
            o += 3;
        } else {
            *o++ = p[i];
        }
    }
    *o = 0;
    return s;
}

typedef struct merge {
    float score;
    int32_t tok, left;
} merge;

static int by_score(const void *a, const void *b)
{
    const merge *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    if (x->tok != y->tok)
        return x->tok < y->tok ? -1 : 1;
    return x->left < y->left ? -1 : x->left > y->left;
}

/* The normal token whose piece is s[0..len), or -1 (a binary search of the sorted index). */
static int32_t piece_id(const calgae_tokenizer *t, const char *s, size_t len)
{
    size_t lo = 0, hi = (size_t)t->n_vocab;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int32_t id = t->sorted[mid];
        if (calgae_spm_cmp_bytes(t->pieces[id], t->piece_lens[id], s, (uint32_t)len) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (; lo < (size_t)t->n_vocab; lo++) {
        int32_t id = t->sorted[lo];
        if (calgae_spm_cmp_bytes(t->pieces[id], t->piece_lens[id], s, (uint32_t)len) != 0)
            return -1;
        if (t->types[id] == 1)
            return id;
    }
    return -1;
}

/* Every (token, split) whose halves are normal tokens, ordered by the token's score. */
static cJSON *merges_json(const calgae_tokenizer *t, char **sp)
{
    size_t n = 0, cap = 1024;
    merge *ms = malloc(cap * sizeof *ms);
    cJSON *arr = cJSON_CreateArray();
    for (int32_t i = 0; ms && i < t->n_vocab; i++) {
        if (t->types[i] != 1 || t->piece_lens[i] < 2)
            continue;
        for (uint32_t k = 1; k < t->piece_lens[i]; k++) {
            int32_t l = piece_id(t, t->pieces[i], k);
            int32_t r = l >= 0 ? piece_id(t, t->pieces[i] + k, t->piece_lens[i] - k) : -1;
            if (r < 0)
                continue;
            if (n == cap) {
                merge *g = realloc(ms, 2 * cap * sizeof *ms);
                if (!g)
                    break;
                ms = g;
                cap *= 2;
            }
            ms[n++] = (merge){t->scores[i], i, l};
        }
    }
    if (!ms) {
        cJSON_Delete(arr);
        return NULL;
    }
    qsort(ms, n, sizeof *ms, by_score);
    for (size_t i = 0; arr && i < n; i++) {
        const int32_t tok = ms[i].tok, l = ms[i].left;
        const uint32_t ll = t->piece_lens[l];
        int32_t r = piece_id(t, t->pieces[tok] + ll, t->piece_lens[tok] - ll);
        char *s = malloc(strlen(sp[l]) + strlen(sp[r]) + 2);
        if (s) {
            sprintf(s, "%s %s", sp[l], sp[r]);
            cJSON_AddItemToArray(arr, cJSON_CreateString(s));
        }
        free(s);
    }
    free(ms);
    return arr;
}

static cJSON *tokenizer_json(const calgae_tokenizer *t)
{
    char **sp = calloc((size_t)t->n_vocab, sizeof *sp);
    cJSON *j = cJSON_CreateObject(), *model = cJSON_CreateObject(), *vocab = cJSON_CreateObject();
    cJSON *added = cJSON_CreateArray();
    int ok = sp && j && model && vocab && added;
    for (int32_t i = 0; ok && i < t->n_vocab; i++) {
        ok = (sp[i] = spelled(t->pieces[i], t->piece_lens[i])) != NULL;
        for (int b = 0; ok && b < 256; b++) /* byte tokens are spelled <0xXX> */
            if (t->types[i] == 6 && t->byte_ids[b] == i) {
                free(sp[i]);
                if ((ok = (sp[i] = malloc(8)) != NULL))
                    snprintf(sp[i], 8, "<0x%02X>", b);
            }
        if (ok)
            cJSON_AddItemToObject(vocab, sp[i], cJSON_CreateNumber(i));
        if (ok && (t->types[i] == 2 || t->types[i] == 3)) {
            cJSON *a = cJSON_CreateObject();
            cJSON_AddNumberToObject(a, "id", i);
            cJSON_AddStringToObject(a, "content", sp[i]);
            cJSON_AddBoolToObject(a, "special", 1);
            cJSON_AddItemToArray(added, a);
        }
    }
    cJSON *merges = ok ? merges_json(t, sp) : NULL;
    for (int32_t i = 0; sp && i < t->n_vocab; i++)
        free(sp[i]);
    free(sp);
    if (!merges) {
        cJSON_Delete(j);
        cJSON_Delete(model);
        cJSON_Delete(vocab);
        cJSON_Delete(added);
        return NULL;
    }
    cJSON_AddStringToObject(j, "version", "1.0");
    cJSON_AddItemToObject(j, "added_tokens", added);
    cJSON_AddStringToObject(model, "type", "BPE");
    cJSON_AddBoolToObject(model, "byte_fallback", 1);
    cJSON_AddBoolToObject(model, "fuse_unk", 1);
    if (t->unk_id >= 0)
        cJSON_AddStringToObject(model, "unk_token", "<unk>");
    cJSON_AddItemToObject(model, "vocab", vocab);
    cJSON_AddItemToObject(model, "merges", merges);
    cJSON_AddItemToObject(j, "model", model);
    return j;
}

static cJSON *tokenizer_config_json(const calgae_tokenizer *t)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddBoolToObject(j, "add_bos_token", t->add_bos);
    cJSON_AddBoolToObject(j, "add_eos_token", t->add_eos);
    if (t->bos_id >= 0)
        cJSON_AddStringToObject(j, "bos_token", t->pieces[t->bos_id]);
    if (t->eos_id >= 0)
        cJSON_AddStringToObject(j, "eos_token", t->pieces[t->eos_id]);
    cJSON_AddStringToObject(j, "tokenizer_class", "LlamaTokenizer");
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

static int write_folder(const calgae_transformer *m, const calgae_tokenizer *t, int dtype,
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
        rc = write_json(config_json(m, t, dtype), dir, "config.json", err, err_len);
    if (rc == 0)
        rc = write_json(tokenizer_json(t), dir, "tokenizer.json", err, err_len);
    if (rc == 0)
        rc = write_json(tokenizer_config_json(t), dir, "tokenizer_config.json", err, err_len);
    return rc;
}

int calgae_convert_to_hf(const calgae_transformer *m, const calgae_tokenizer *t, int dtype,
                         int shards, const char *out_dir, char *err, size_t err_len)
{
    struct stat st;
    if (m->rope_freqs) /* config.json would need the scaling's parameters, which GGUF lacks */
        return calgae_fail(err, err_len, "%s: a model with RoPE frequency factors (rope_freqs) "
                           "cannot be written as a folder yet", out_dir);
    if (t->kind != CALGAE_TOK_SPM)
        return calgae_fail(err, err_len, "%s: only SentencePiece vocabularies can be written "
                           "as tokenizer.json yet", out_dir);
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
    int rc = write_folder(m, t, dtype, shards, tmp, err, err_len);
    if (rc == 0 && rename(tmp, out_dir) != 0)
        rc = calgae_fail(err, err_len, "%s: cannot rename into place: %s", out_dir,
                         strerror(errno));
    if (rc != 0)
        remove_tree(tmp);
    return rc;
}
