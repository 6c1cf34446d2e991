/*
 * hf_tokenizer.c - tokenizer.json (the Hugging Face tokenizers library's serialisation) and
 * tokenizer_config.json as the tokenizer.ggml.* metadata llama.cpp's converter writes:
 *
 * - a "BPE" model with byte_fallback (Llama 2, TinyLlama: SentencePiece turned into BPE by
 *   tokenizers' SpmConverter) becomes a SentencePiece ("llama") vocabulary. tokenizer.json has
 *   no scores, only merges in priority order, so a token's score is minus the rank of the first
 *   merge that makes it: SentencePiece's highest-score-first merging then picks the merge BPE's
 *   lowest-rank-first would. Tokens no merge makes score below every merge.
 * - a "BPE" model without byte fallback (Llama 3, SmolLM, Qwen2) becomes a byte-level ("gpt2")
 *   vocabulary with its merges; the pre-tokenizer is named from its Split regex.
 * Added tokens marked special become control tokens, the others user-defined ones.
 */
#define _GNU_SOURCE
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hf_priv.h"

typedef struct tok_entry {
    const char *s;
    int32_t id;
} tok_entry;

static int by_piece(const void *a, const void *b)
{
    return strcmp(((const tok_entry *)a)->s, ((const tok_entry *)b)->s);
}

static int32_t find_piece(const tok_entry *sorted, size_t n, const char *s)
{
    tok_entry key = {s, 0};
    const tok_entry *e = bsearch(&key, sorted, n, sizeof key, by_piece);
    return e ? e->id : -1;
}

/* Places the token s at id (every id is filled exactly once, or the same text again). */
static int place(calgae_hf *h, calgae_gguf_str *toks, int32_t n, const cJSON *id, const char *s,
                 int32_t *out, const char *name, char *err, size_t err_len)
{
    if (!cJSON_IsNumber(id) || !(id->valuedouble >= 0 && id->valuedouble < n))
        return calgae_fail(err, err_len, "%s: token '%.40s' has a bad id", name, s);
    int32_t i = (int32_t)id->valuedouble;
    size_t len = strlen(s);
    if (toks[i].ptr && (toks[i].len != len || memcmp(toks[i].ptr, s, len) != 0))
        return calgae_fail(err, err_len, "%s: id %d names two tokens", name, i);
    char *c = toks[i].ptr ? (char *)toks[i].ptr : calgae_hf_strdup(h, s, len);
    if (!c)
        return calgae_fail(err, err_len, "%s: out of memory", name);
    toks[i] = (calgae_gguf_str){c, len};
    *out = i;
    return 0;
}

/* The vocabulary size: one past the highest id of vocab and added_tokens. */
static int vocab_size(const cJSON *vocab, const cJSON *added, int32_t *n, const char *name,
                      char *err, size_t err_len)
{
    double hi = -1;
    for (const cJSON *v = vocab->child; v; v = v->next)
        if (cJSON_IsNumber(v) && v->valuedouble > hi)
            hi = v->valuedouble;
    for (const cJSON *a = added ? added->child : NULL; a; a = a->next) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(a, "id");
        if (cJSON_IsNumber(id) && id->valuedouble > hi)
            hi = id->valuedouble;
    }
    /* every id is filled once: more ids than entries means a hole, found before allocating */
    int entries = cJSON_GetArraySize(vocab) + (added ? cJSON_GetArraySize(added) : 0);
    if (!(hi >= 0 && hi < entries))
        return calgae_fail(err, err_len, "%s: vocabulary is empty or its ids have holes", name);
    *n = (int32_t)hi + 1;
    return 0;
}

/* A merge: "left right" (older files) or ["left", "right"] (newer ones) -> "left right". */
static const char *merge_text(const cJSON *m, char *buf, size_t cap)
{
    if (cJSON_IsString(m))
        return m->valuestring;
    if (cJSON_IsArray(m) && cJSON_GetArraySize(m) == 2 && cJSON_IsString(m->child) &&
        cJSON_IsString(m->child->next) &&
        (size_t)snprintf(buf, cap, "%s %s", m->child->valuestring,
                         m->child->next->valuestring) < cap)
        return buf;
    return NULL;
}

/* SentencePiece scores from merge ranks (see the header comment). */
static int spm_scores(calgae_hf *h, const calgae_gguf_str *toks, int32_t n, const cJSON *merges,
                      const char *name, char *err, size_t err_len)
{
    float *scores = calgae_hf_meta_arr_f32(h, "tokenizer.ggml.scores", (size_t)n);
    tok_entry *sorted = malloc((size_t)n * sizeof *sorted);
    if (!scores || !sorted) {
        free(sorted);
        return calgae_fail(err, err_len, "%s: out of memory", name);
    }
    for (int32_t i = 0; i < n; i++)
        sorted[i] = (tok_entry){toks[i].ptr, i};
    qsort(sorted, (size_t)n, sizeof *sorted, by_piece);
    int n_merges = cJSON_GetArraySize(merges);
    for (int32_t i = 0; i < n; i++)
        scores[i] = -(float)n_merges - 1.0f;
    int rank = 0, rc = 0;
    char buf[2048], joined[2048];
    for (const cJSON *m = merges ? merges->child : NULL; m && rc == 0; m = m->next, rank++) {
        const char *t = merge_text(m, buf, sizeof buf);
        const char *sp = t ? strchr(t, ' ') : NULL;
        if (!sp) {
            rc = calgae_fail(err, err_len, "%s: merge %d is not two tokens", name, rank);
            break;
        }
        /* the merged token is the two halves joined without the space */
        size_t l = (size_t)(sp - t), r = strlen(sp + 1);
        memcpy(joined, t, l);
        memcpy(joined + l, sp + 1, r + 1);
        int32_t id = find_piece(sorted, (size_t)n, joined);
        if (id < 0)
            rc = calgae_fail(err, err_len, "%s: merge %d makes '%.40s', not a token", name,
                             rank, joined);
        else if (scores[id] < -(float)rank)
            scores[id] = -(float)rank;
    }
    free(sorted);
    return rc;
}

static int bpe_merges(calgae_hf *h, const cJSON *merges, const char *name, char *err,
                      size_t err_len)
{
    int n = cJSON_GetArraySize(merges);
    calgae_gguf_str *out = calgae_hf_meta_arr_str(h, "tokenizer.ggml.merges", (size_t)n);
    if (!out)
        return calgae_fail(err, err_len, "%s: out of memory", name);
    int i = 0;
    char buf[2048];
    for (const cJSON *m = merges ? merges->child : NULL; m; m = m->next, i++) {
        const char *t = merge_text(m, buf, sizeof buf);
        char *c = t ? calgae_hf_strdup(h, t, strlen(t)) : NULL;
        if (!t)
            return calgae_fail(err, err_len, "%s: merge %d is not two tokens", name, i);
        if (!c)
            return calgae_fail(err, err_len, "%s: out of memory", name);
        out[i] = (calgae_gguf_str){c, strlen(c)};
    }
    return 0;
}

/* Finds the first Split pre-tokenizer's regex anywhere under j. */
static const char *split_regex(const cJSON *j)
{
    if (!j)
        return NULL;
    const cJSON *ty = cJSON_GetObjectItemCaseSensitive(j, "type");
    if (cJSON_IsString(ty) && strcmp(ty->valuestring, "Split") == 0) {
        const cJSON *re = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(j, "pattern"), "Regex");
        return cJSON_IsString(re) ? re->valuestring : NULL;
    }
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(j, "pretokenizers");
    for (const cJSON *c = cJSON_IsArray(list) ? list->child : NULL; c; c = c->next) {
        const char *r = split_regex(c);
        if (r)
            return r;
    }
    return NULL;
}

/* Whether a ByteLevel pre-tokenizer is anywhere under j. */
static int has_byte_level(const cJSON *j)
{
    const cJSON *ty = cJSON_GetObjectItemCaseSensitive(j, "type");
    if (cJSON_IsString(ty) && strcmp(ty->valuestring, "ByteLevel") == 0)
        return 1;
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(j, "pretokenizers");
    for (const cJSON *c = cJSON_IsArray(list) ? list->child : NULL; c; c = c->next)
        if (has_byte_level(c))
            return 1;
    return 0;
}

/* llama.cpp's pre-tokenizer names for the regexes these families ship: Llama 3's splits digits
 * in threes (\p{N}{1,3}), Qwen2's one by one (\p{N}|), GPT-2's has no Split (ByteLevel uses
 * its own regex). */
static const char *pre_name(const cJSON *pre)
{
    const char *re = split_regex(pre);
    if (!re)
        return has_byte_level(pre) ? "gpt-2" : NULL;
    if (strstr(re, "\\p{N}{1,3}"))
        return "llama-bpe";
    if (strstr(re, "\\p{N}|"))
        return "qwen2";
    return NULL;
}

/* A special token's text in tokenizer_config.json: a string or {"content": ...}. */
static const char *config_token(const cJSON *tcfg, const char *key)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(tcfg, key);
    if (cJSON_IsObject(j))
        j = cJSON_GetObjectItemCaseSensitive(j, "content");
    return cJSON_IsString(j) ? j->valuestring : NULL;
}

static int32_t token_of(const calgae_gguf_str *toks, int32_t n, const char *s)
{
    if (!s)
        return -1;
    for (int32_t i = 0; i < n; i++)
        if (toks[i].len == strlen(s) && memcmp(toks[i].ptr, s, toks[i].len) == 0)
            return i;
    return -1;
}

/* tokenizer_config.json: add_bos_token / add_eos_token, chat_template, BOS/EOS by text. */
static int add_config(calgae_hf *h, const cJSON *tcfg, const calgae_gguf_str *toks, int32_t n,
                      const calgae_hf_config *c, const char *name, char *err, size_t err_len)
{
    int32_t bos = c->bos_id, eos = c->eos_id;
    if (bos < 0)
        bos = token_of(toks, n, config_token(tcfg, "bos_token"));
    if (eos < 0)
        eos = token_of(toks, n, config_token(tcfg, "eos_token"));
    if ((bos >= 0 && calgae_hf_meta_u32(h, "tokenizer.ggml.bos_token_id", (uint32_t)bos)) ||
        (eos >= 0 && calgae_hf_meta_u32(h, "tokenizer.ggml.eos_token_id", (uint32_t)eos)))
        return calgae_fail(err, err_len, "%s: out of memory", name);
    static const char *const flags[][2] = {{"add_bos_token", "tokenizer.ggml.add_bos_token"},
                                           {"add_eos_token", "tokenizer.ggml.add_eos_token"}};
    for (int i = 0; i < 2; i++) {
        const cJSON *f = cJSON_GetObjectItemCaseSensitive(tcfg, flags[i][0]);
        if (f && !cJSON_IsNull(f) && !cJSON_IsBool(f))
            return calgae_fail(err, err_len, "%s: tokenizer_config.json: %s is not a bool",
                               name, flags[i][0]);
        if (cJSON_IsBool(f) && calgae_hf_meta_bool(h, flags[i][1], cJSON_IsTrue(f)))
            return calgae_fail(err, err_len, "%s: out of memory", name);
    }
    const cJSON *tpl = cJSON_GetObjectItemCaseSensitive(tcfg, "chat_template");
    if (cJSON_IsArray(tpl)) /* [{"name": "default", "template": ...}, ...] */
        for (const cJSON *e = tpl->child; e; e = e->next) {
            const cJSON *nm = cJSON_GetObjectItemCaseSensitive(e, "name");
            if (cJSON_IsString(nm) && strcmp(nm->valuestring, "default") == 0)
                tpl = cJSON_GetObjectItemCaseSensitive(e, "template");
        }
    if (cJSON_IsString(tpl) &&
        calgae_hf_meta_str(h, "tokenizer.chat_template", tpl->valuestring,
                           strlen(tpl->valuestring)))
        return calgae_fail(err, err_len, "%s: out of memory", name);
    return 0;
}

static int add_vocab(calgae_hf *h, const cJSON *tj, const cJSON *tcfg, const calgae_hf_config *c,
                     const char *name, char *err, size_t err_len)
{
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(tj, "model");
    const cJSON *ty = cJSON_GetObjectItemCaseSensitive(model, "type");
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab");
    const cJSON *merges = cJSON_GetObjectItemCaseSensitive(model, "merges");
    const cJSON *added = cJSON_GetObjectItemCaseSensitive(tj, "added_tokens");
    if (!cJSON_IsString(ty) || strcmp(ty->valuestring, "BPE") != 0 || !cJSON_IsObject(vocab) ||
        (merges && !cJSON_IsArray(merges)) || (added && !cJSON_IsArray(added)))
        return calgae_fail(err, err_len, "%s: model must be a BPE model with a vocab object and "
                           "a merges list", name);
    const int spm = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(model, "byte_fallback"));
    const char *pre = spm ? NULL : pre_name(cJSON_GetObjectItemCaseSensitive(tj, "pre_tokenizer"));
    if (!spm && !pre)
        return calgae_fail(err, err_len, "%s: unknown pre-tokenizer (known: Llama 3's, Qwen2's, "
                           "GPT-2's)", name);
    int32_t n = 0;
    if (vocab_size(vocab, added, &n, name, err, err_len) != 0)
        return -1;
    calgae_gguf_str *toks = calgae_hf_meta_arr_str(h, "tokenizer.ggml.tokens", (size_t)n);
    int32_t *types = calgae_hf_meta_arr_i32(h, "tokenizer.ggml.token_type", (size_t)n);
    if (!toks || !types)
        return calgae_fail(err, err_len, "%s: out of memory", name);
    int32_t id;
    for (const cJSON *v = vocab->child; v; v = v->next) {
        if (place(h, toks, n, v, v->string, &id, name, err, err_len) != 0)
            return -1;
        unsigned byte;
        char end;
        types[id] = spm && strlen(v->string) == 6 &&
                    sscanf(v->string, "<0x%2X%c", &byte, &end) == 2 && end == '>' ? 6 : 1;
    }
    for (const cJSON *a = added ? added->child : NULL; a; a = a->next) {
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(a, "content");
        if (!cJSON_IsString(content))
            return calgae_fail(err, err_len, "%s: an added token has no content", name);
        if (place(h, toks, n, cJSON_GetObjectItemCaseSensitive(a, "id"), content->valuestring,
                  &id, name, err, err_len) != 0)
            return -1;
        types[id] = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(a, "special")) ? 3 : 4;
    }
    const cJSON *unk = cJSON_GetObjectItemCaseSensitive(model, "unk_token");
    for (int32_t i = 0; i < n; i++) {
        if (!toks[i].ptr)
            return calgae_fail(err, err_len, "%s: no token has id %d", name, i);
        if (cJSON_IsString(unk) && strcmp(toks[i].ptr, unk->valuestring) == 0) {
            types[i] = 2;
            if (calgae_hf_meta_u32(h, "tokenizer.ggml.unknown_token_id", (uint32_t)i))
                return calgae_fail(err, err_len, "%s: out of memory", name);
        }
    }
    if (calgae_hf_meta_str(h, "tokenizer.ggml.model", spm ? "llama" : "gpt2", spm ? 5 : 4) ||
        (pre && calgae_hf_meta_str(h, "tokenizer.ggml.pre", pre, strlen(pre))))
        return calgae_fail(err, err_len, "%s: out of memory", name);
    if ((spm ? spm_scores(h, toks, n, merges, name, err, err_len)
             : bpe_merges(h, merges, name, err, err_len)) != 0)
        return -1;
    return add_config(h, tcfg, toks, n, c, name, err, err_len);
}

int calgae_hf_add_tokenizer(calgae_hf *h, const char *tok_json, size_t tok_len,
                            const char *tcfg_json, size_t tcfg_len, const calgae_hf_config *c,
                            const char *name, char *err, size_t err_len)
{
    cJSON *tj = cJSON_ParseWithLength(tok_json, tok_len);
    cJSON *tcfg = tcfg_json ? cJSON_ParseWithLength(tcfg_json, tcfg_len) : NULL;
    int rc;
    if (!cJSON_IsObject(tj))
        rc = calgae_fail(err, err_len, "%s: tokenizer.json is not a JSON object", name);
    else if (tcfg_json && !cJSON_IsObject(tcfg))
        rc = calgae_fail(err, err_len, "%s: tokenizer_config.json is not a JSON object", name);
    else
        rc = add_vocab(h, tj, tcfg, c, name, err, err_len);
    cJSON_Delete(tj);
    cJSON_Delete(tcfg);
    return rc;
}
