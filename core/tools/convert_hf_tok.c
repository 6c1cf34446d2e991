/*
 * convert_hf_tok.c - a vocabulary as the tokenizers library's tokenizer.json (and
 * transformers' tokenizer_config.json), in the two shapes Hugging Face ships:
 *
 * - SentencePiece (Llama 2, TinyLlama): a "BPE" model with byte fallback (bytes spelled
 *   <0xXX>, spaces U+2581, a normalizer prepending U+2581 and replacing spaces) whose merges
 *   are every split of every token into two tokens, ordered by the token's SentencePiece
 *   score (the construction tokenizers' SpmConverter uses), so that lowest-rank merging picks
 *   what highest-score merging picks.
 * - byte-level BPE (GGUF tokenizer.ggml.model gpt2: Llama 3, Qwen2, GPT-2): a "BPE" model
 *   without byte fallback whose vocab and merges are the GGUF's own texts (GPT-2's byte
 *   alphabet), control and user-defined tokens as added_tokens, and the pre-tokenizer
 *   transformers writes for those families: Sequence[Split(the family's regex, Isolated),
 *   ByteLevel(use_regex false)] (GPT-2: ByteLevel with its own regex), decoder ByteLevel.
 *   The Split regexes are tokenizer.json's spelling (case-insensitive contractions as (?i:)),
 *   which hf_tokenizer.c maps back to tokenizer.ggml.pre.
 */
#define _GNU_SOURCE
#include "convert_hf_priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpe.h"
#include "spm.h"

/* A token's text as tokenizer.json has it. */
static const char *token_text(const calgae_tokenizer *t, int32_t id)
{
    return t->kind == CALGAE_TOK_BPE ? calgae_bpe_token_text(t->bpe, id) : t->pieces[id];
}

static cJSON *post_processor(const calgae_tokenizer *t);

/* SentencePiece's text pipeline in tokenizers' terms (what SpmConverter writes for Llama 2):
 * spaces become U+2581 with one prepended; decoding turns them back, joins byte tokens and
 * drops the first space. */
static void spm_pipeline(cJSON *j, const calgae_tokenizer *t)
{
    cJSON *norm = cJSON_CreateObject(), *norms = cJSON_CreateArray();
    cJSON *pre = cJSON_CreateObject(), *rep = cJSON_CreateObject();
    cJSON_AddStringToObject(pre, "type", "Prepend");
    cJSON_AddStringToObject(pre, "prepend", "\xe2\x96\x81");
    cJSON_AddStringToObject(rep, "type", "Replace");
    cJSON_AddItemToObject(rep, "pattern", cJSON_CreateObject());
    cJSON_AddStringToObject(cJSON_GetObjectItem(rep, "pattern"), "String", " ");
    cJSON_AddStringToObject(rep, "content", "\xe2\x96\x81");
    cJSON_AddItemToArray(norms, pre);
    cJSON_AddItemToArray(norms, rep);
    cJSON_AddStringToObject(norm, "type", "Sequence");
    cJSON_AddItemToObject(norm, "normalizers", norms);
    cJSON_AddItemToObject(j, "normalizer", norm);
    cJSON_AddNullToObject(j, "pre_tokenizer");
    cJSON_AddItemToObject(j, "post_processor", post_processor(t));
    cJSON *dec = cJSON_CreateObject(), *decs = cJSON_CreateArray();
    cJSON *back = cJSON_CreateObject(), *fb = cJSON_CreateObject(), *fuse = cJSON_CreateObject();
    cJSON *strip = cJSON_CreateObject();
    cJSON_AddStringToObject(back, "type", "Replace");
    cJSON_AddItemToObject(back, "pattern", cJSON_CreateObject());
    cJSON_AddStringToObject(cJSON_GetObjectItem(back, "pattern"), "String", "\xe2\x96\x81");
    cJSON_AddStringToObject(back, "content", " ");
    cJSON_AddStringToObject(fb, "type", "ByteFallback");
    cJSON_AddStringToObject(fuse, "type", "Fuse");
    cJSON_AddStringToObject(strip, "type", "Strip");
    cJSON_AddStringToObject(strip, "content", " ");
    cJSON_AddNumberToObject(strip, "start", 1);
    cJSON_AddNumberToObject(strip, "stop", 0);
    cJSON_AddItemToArray(decs, back);
    cJSON_AddItemToArray(decs, fb);
    cJSON_AddItemToArray(decs, fuse);
    cJSON_AddItemToArray(decs, strip);
    cJSON_AddStringToObject(dec, "type", "Sequence");
    cJSON_AddItemToObject(dec, "decoders", decs);
    cJSON_AddItemToObject(j, "decoder", dec);
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

static cJSON *spm_tokenizer_json(const calgae_tokenizer *t)
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
    cJSON_AddNullToObject(j, "truncation");
    cJSON_AddNullToObject(j, "padding");
    cJSON_AddItemToObject(j, "added_tokens", added);
    cJSON_AddStringToObject(model, "type", "BPE");
    cJSON_AddBoolToObject(model, "byte_fallback", 1);
    cJSON_AddBoolToObject(model, "fuse_unk", 1);
    if (t->unk_id >= 0)
        cJSON_AddStringToObject(model, "unk_token", "<unk>");
    cJSON_AddItemToObject(model, "vocab", vocab);
    cJSON_AddItemToObject(model, "merges", merges);
    cJSON_AddItemToObject(j, "model", model);
    spm_pipeline(j, t);
    return j;
}


/* tokenizer.json's Split regexes for the GGUF pre-tokenizer names (as Llama 3's and Qwen2's
 * files have them); NULL for GPT-2, whose ByteLevel pre-tokenizer splits by its own regex. */
static const char *split_regex(const char *pre)
{
    static const char llama3[] =
        "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
        "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    static const char qwen2[] =
        "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| "
        "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    if (!strcmp(pre, "llama-bpe") || !strcmp(pre, "llama3") || !strcmp(pre, "llama-v3"))
        return llama3;
    return !strcmp(pre, "qwen2") ? qwen2 : NULL;
}

static cJSON *byte_level(int use_regex)
{
    cJSON *b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "type", "ByteLevel");
    cJSON_AddBoolToObject(b, "add_prefix_space", 0);
    cJSON_AddBoolToObject(b, "trim_offsets", 1);
    cJSON_AddBoolToObject(b, "use_regex", use_regex);
    return b;
}

static cJSON *bpe_pre_tokenizer(const char *pre)
{
    const char *re = split_regex(pre);
    if (!re)
        return byte_level(1);
    cJSON *seq = cJSON_CreateObject(), *list = cJSON_CreateArray(), *split = cJSON_CreateObject();
    cJSON *pattern = cJSON_CreateObject();
    cJSON_AddStringToObject(split, "type", "Split");
    cJSON_AddStringToObject(pattern, "Regex", re);
    cJSON_AddItemToObject(split, "pattern", pattern);
    cJSON_AddStringToObject(split, "behavior", "Isolated");
    cJSON_AddBoolToObject(split, "invert", 0);
    cJSON_AddItemToArray(list, split);
    cJSON_AddItemToArray(list, byte_level(0));
    cJSON_AddStringToObject(seq, "type", "Sequence");
    cJSON_AddItemToObject(seq, "pretokenizers", list);
    return seq;
}

/* BOS first when the vocabulary adds it (Llama 2's and Llama 3's TemplateProcessing), else
 * ByteLevel's offsets-only post-processor (Qwen2's) or none (SentencePiece). */
static cJSON *post_processor(const calgae_tokenizer *t)
{
    if ((!t->add_bos || t->bos_id < 0) && t->kind != CALGAE_TOK_BPE)
        return cJSON_CreateNull();
    cJSON *p = cJSON_CreateObject();
    if (!t->add_bos || t->bos_id < 0) {
        cJSON_AddStringToObject(p, "type", "ByteLevel");
        cJSON_AddBoolToObject(p, "add_prefix_space", 1);
        cJSON_AddBoolToObject(p, "trim_offsets", 0);
        cJSON_AddBoolToObject(p, "use_regex", 1);
        return p;
    }
    const char *bos = token_text(t, t->bos_id);
    cJSON *single = cJSON_CreateArray(), *pair = cJSON_CreateArray(), *specials;
    for (int k = 0; k < 4; k++) { /* pair: BOS A BOS B (types 0 0 1 1); single: BOS A */
        cJSON *e = cJSON_CreateObject(), *in = cJSON_CreateObject();
        cJSON_AddStringToObject(in, "id", k == 0 || k == 2 ? bos : k == 1 ? "A" : "B");
        cJSON_AddNumberToObject(in, "type_id", k / 2);
        cJSON_AddItemToObject(e, k % 2 == 0 ? "SpecialToken" : "Sequence", in);
        if (k < 2)
            cJSON_AddItemToArray(single, cJSON_Duplicate(e, 1));
        cJSON_AddItemToArray(pair, e);
    }
    cJSON_AddStringToObject(p, "type", "TemplateProcessing");
    cJSON_AddItemToObject(p, "single", single);
    cJSON_AddItemToObject(p, "pair", pair);
    cJSON_AddItemToObject(p, "special_tokens", specials = cJSON_CreateObject());
    cJSON *s = cJSON_CreateObject(), *ids = cJSON_CreateArray(), *toks = cJSON_CreateArray();
    cJSON_AddStringToObject(s, "id", bos);
    cJSON_AddItemToArray(ids, cJSON_CreateNumber(t->bos_id));
    cJSON_AddItemToArray(toks, cJSON_CreateString(bos));
    cJSON_AddItemToObject(s, "ids", ids);
    cJSON_AddItemToObject(s, "tokens", toks);
    cJSON_AddItemToObject(specials, bos, s);
    return p;
}

/* Normal tokens in model.vocab; control (special), user-defined and the other kinds in
 * added_tokens, as transformers keeps Llama 3's <|begin_of_text|> out of the BPE vocab. */
static cJSON *bpe_tokenizer_json(const calgae_tokenizer *t)
{
    const calgae_bpe *b = t->bpe;
    const char *pre = calgae_bpe_pre(b);
    cJSON *j = cJSON_CreateObject(), *model = cJSON_CreateObject();
    cJSON *vocab = cJSON_CreateObject(), *added = cJSON_CreateArray(), *merges = cJSON_CreateArray();
    if (!j || !model || !vocab || !added || !merges) {
        cJSON_Delete(j), cJSON_Delete(model), cJSON_Delete(vocab), cJSON_Delete(added);
        cJSON_Delete(merges);
        return NULL;
    }
    for (int32_t i = 0; i < t->n_vocab; i++) {
        const char *s = calgae_bpe_token_text(b, i);
        if (t->types[i] == 1) {
            cJSON_AddItemToObject(vocab, s, cJSON_CreateNumber(i));
            continue;
        }
        cJSON *a = cJSON_CreateObject();
        cJSON_AddNumberToObject(a, "id", i);
        cJSON_AddStringToObject(a, "content", s);
        cJSON_AddBoolToObject(a, "single_word", 0);
        cJSON_AddBoolToObject(a, "lstrip", 0);
        cJSON_AddBoolToObject(a, "rstrip", 0);
        cJSON_AddBoolToObject(a, "normalized", t->types[i] == 4);
        cJSON_AddBoolToObject(a, "special", t->types[i] != 4);
        cJSON_AddItemToArray(added, a);
    }
    for (size_t i = 0; i < calgae_bpe_n_merges(b); i++) {
        int32_t l, r;
        calgae_bpe_merge(b, i, &l, &r);
        const char *ls = calgae_bpe_token_text(b, l), *rs = calgae_bpe_token_text(b, r);
        char *m = malloc(strlen(ls) + strlen(rs) + 2);
        if (m) {
            sprintf(m, "%s %s", ls, rs);
            cJSON_AddItemToArray(merges, cJSON_CreateString(m));
        }
        free(m);
    }
    cJSON_AddStringToObject(j, "version", "1.0");
    cJSON_AddNullToObject(j, "truncation");
    cJSON_AddNullToObject(j, "padding");
    cJSON_AddItemToObject(j, "added_tokens", added);
    cJSON_AddNullToObject(j, "normalizer");
    cJSON_AddItemToObject(j, "pre_tokenizer", bpe_pre_tokenizer(pre));
    cJSON_AddItemToObject(j, "post_processor", post_processor(t));
    cJSON *dec = byte_level(1);
    cJSON_ReplaceItemInObject(dec, "add_prefix_space", cJSON_CreateBool(1));
    cJSON_AddItemToObject(j, "decoder", dec);
    cJSON_AddStringToObject(model, "type", "BPE");
    cJSON_AddNullToObject(model, "dropout");
    cJSON_AddNullToObject(model, "unk_token");
    cJSON_AddNullToObject(model, "continuing_subword_prefix");
    cJSON_AddNullToObject(model, "end_of_word_suffix");
    cJSON_AddBoolToObject(model, "fuse_unk", 0);
    cJSON_AddBoolToObject(model, "byte_fallback", 0);
    /* Llama 3's file skips merging for a word that is a token already; llama.cpp's llama-bpe
     * does the same (bpe.c's ignore_merges) */
    cJSON_AddBoolToObject(model, "ignore_merges", split_regex(pre) && strcmp(pre, "qwen2"));
    cJSON_AddItemToObject(model, "vocab", vocab);
    cJSON_AddItemToObject(model, "merges", merges);
    cJSON_AddItemToObject(j, "model", model);
    return j;
}

cJSON *calgae_hf_tokenizer_json(const calgae_tokenizer *t)
{
    return t->kind == CALGAE_TOK_BPE ? bpe_tokenizer_json(t) : spm_tokenizer_json(t);
}

cJSON *calgae_hf_tokenizer_config_json(const calgae_tokenizer *t, const char *chat_template)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddBoolToObject(j, "add_bos_token", t->add_bos);
    cJSON_AddBoolToObject(j, "add_eos_token", t->add_eos);
    if (t->bos_id >= 0)
        cJSON_AddStringToObject(j, "bos_token", token_text(t, t->bos_id));
    if (t->eos_id >= 0)
        cJSON_AddStringToObject(j, "eos_token", token_text(t, t->eos_id));
    if (chat_template)
        cJSON_AddStringToObject(j, "chat_template", chat_template);
    cJSON_AddStringToObject(j, "tokenizer_class", t->kind == CALGAE_TOK_BPE
                                                      ? "PreTrainedTokenizerFast"
                                                      : "LlamaTokenizer");
    return j;
}
