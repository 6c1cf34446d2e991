/*
 * bpe.c - byte-level BPE (GPT-2's scheme, as in Radford et al. 2019 and OpenAI's encoder.py),
 * with the vocabulary, merges and pre-tokenizer of a llama.cpp GGUF (see bpe.h). Encoding
 * follows llama.cpp's llm_tokenizer_bpe_session: split by the pre-tokenizer's regex, then per
 * word repeatedly merge the adjacent pair of lowest rank (leftmost first); with ignore_merges
 * (Llama 3) a word that is itself a token is taken whole.
 *
 * Everything runs on raw bytes and token ids: every token written wholly in GPT-2's byte
 * alphabet is keyed by the bytes it stands for, so a word is never converted to the alphabet
 * and back, and a merge is a lookup of an id pair. The vocabulary is checked at load so that
 * encoding cannot fail on content: every merge names two tokens and yields a third, every
 * byte has its token, no token is empty, over-long or a duplicate.
 */
#include "bpe.h"

#include <stdlib.h>
#include <string.h>

#include "bpe_priv.h"
#include "bpe_regex.h"
#include "tok_gguf.h"
#include "tokenizer.h"
#include "utf8.h"
#include "util.h"

/* GGUF token types (llama.cpp's llama_token_type). */
enum { TT_UNDEFINED, TT_NORMAL, TT_UNKNOWN, TT_CONTROL, TT_USER_DEFINED, TT_UNUSED, TT_BYTE };

/* The pre-tokenizer regexes of llama.cpp's llm_tokenizer_bpe (src/llama-vocab.cpp). Llama 3's
 * and Qwen2's spell tokenizer.json's case-insensitive contractions (?i:'s|...) out as '[sS]|...
 * as llama.cpp does, so that no Unicode case folding ('ſ' for 's') can differ. GPT-2's has no
 * final \s+: what no alternative matches becomes a word of its own, as in llama.cpp. */
static const char k_re_llama3[] =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|"
    "\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char k_re_qwen2[] =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|"
    "\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char k_re_gpt2[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";

/* tokenizer.ggml.pre values, with llama.cpp's defaults for them. */
typedef struct pre_info {
    const char *name;
    const char *regex;
    uint8_t ignore_merges, add_bos;
} pre_info;

static const pre_info k_pres[] = {
    {"llama-bpe", k_re_llama3, 1, 1}, {"llama3", k_re_llama3, 1, 1},
    {"llama-v3", k_re_llama3, 1, 1},  {"qwen2", k_re_qwen2, 0, 0},
    {"gpt-2", k_re_gpt2, 0, 0},
};
#define PRE_NAMES "llama-bpe (llama3, llama-v3), qwen2, gpt-2"

/* ---- GPT-2's byte-to-unicode table ---- */

/* Printable Latin-1 bytes stand for themselves; the other 68 take the code points from 256
 * on, in byte order. */
static int byte_is_printable(int b)
{
    return (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
}

/* The byte a code point stands for, or -1 when it is outside the alphabet. */
static int cp_to_byte(uint32_t cp)
{
    if (cp < 256)
        return byte_is_printable((int)cp) ? (int)cp : -1;
    if (cp >= 256 + 68)
        return -1;
    int k = (int)(cp - 256);
    for (int b = 0; b < 256; b++)
        if (!byte_is_printable(b) && k-- == 0)
            return b;
    return -1;
}

/* Decodes valid UTF-8 s[0..n) into out (room for n bytes): each character of the alphabet
 * becomes its byte, any other is copied. Returns the length; *in_alphabet says whether every
 * character was in the alphabet. */
static size_t decode_chars(const char *s, size_t n, char *out, int *in_alphabet)
{
    size_t o = 0;
    *in_alphabet = 1;
    for (size_t i = 0; i < n;) {
        const uint8_t *u = (const uint8_t *)s + i;
        int cl = calgae_utf8_seq_len(u[0]);
        uint32_t cp = cl == 1 ? u[0]
                    : cl == 2 ? (uint32_t)(u[0] & 0x1F) << 6 | (u[1] & 0x3F)
                    : cl == 3 ? (uint32_t)(u[0] & 0x0F) << 12 | (uint32_t)(u[1] & 0x3F) << 6 |
                                    (u[2] & 0x3F)
                              : 0x110000; /* 4-byte characters are all outside */
        int b = cp_to_byte(cp);
        if (b >= 0) {
            out[o++] = (char)b;
        } else {
            memcpy(out + o, s + i, (size_t)cl);
            o += (size_t)cl;
            *in_alphabet = 0;
        }
        i += (size_t)cl;
    }
    return o;
}

/* A power of two at least twice n, so probes stay short. */
static size_t table_size(size_t n)
{
    size_t s = 16;
    while (s < 2 * n)
        s *= 2;
    return s;
}

void calgae_bpe_free(calgae_bpe *b)
{
    if (!b)
        return;
    calgae_regex_free(b->re);
    free(b->keys);
    free(b->key_off);
    free(b->key_len);
    free(b->tok_slot);
    free(b->merges);
    free(b->texts);
    free(b->text_off);
    free(b->listed);
    free(b);
}

/* ---- loading ---- */

static int load_pre(calgae_tokenizer *t, calgae_bpe *b, const calgae_gguf *g, const char *path,
                    char *err, size_t err_len)
{
    const calgae_gguf_kv *kv = calgae_gguf_find_kv(g, "tokenizer.ggml.pre");
    if (!kv)
        return calgae_fail(err, err_len,
                           "%s: byte-level BPE vocabulary without tokenizer.ggml.pre (the "
                           "pre-tokenizer); supported: " PRE_NAMES,
                           path);
    if (kv->type != CALGAE_GGUF_STRING)
        return calgae_fail(err, err_len, "%s: tokenizer.ggml.pre is not a string", path);
    const pre_info *pre = NULL;
    for (size_t i = 0; i < sizeof k_pres / sizeof k_pres[0]; i++)
        if (kv->v.s.len == strlen(k_pres[i].name) &&
            memcmp(kv->v.s.ptr, k_pres[i].name, kv->v.s.len) == 0)
            pre = &k_pres[i];
    if (!pre)
        return calgae_fail(err, err_len,
                           "%s: unknown pre-tokenizer tokenizer.ggml.pre = '%.*s' (supported: " PRE_NAMES ")",
                           path, (int)(kv->v.s.len < 64 ? kv->v.s.len : 64), kv->v.s.ptr);
    b->pre = pre->name;
    b->ignore_merges = pre->ignore_merges;
    t->add_bos = pre->add_bos;
    t->add_eos = 0;
    char msg[256];
    b->re = calgae_regex_compile(pre->regex, msg, sizeof msg);
    if (!b->re)
        return calgae_fail(err, err_len, "%s: pre-tokenizer %s: %s", path, pre->name, msg);
    return 0;
}

/* Checks and copies the tokens: pieces, types, keys and the key table. */
static int load_tokens(calgae_tokenizer *t, calgae_bpe *b, const calgae_gguf_kv *toks,
                       const calgae_gguf_kv *types, const char *path, char *err, size_t err_len)
{
    const int32_t n = t->n_vocab;
    size_t total = 0;
    for (int32_t i = 0; i < n; i++) {
        const calgae_gguf_str *s = &toks->arr_strs[i];
        if (s->len == 0)
            return calgae_fail(err, err_len, "%s: token %d is empty", path, i);
        if (s->len > CALGAE_BPE_MAX_TOKEN_LEN)
            return calgae_fail(err, err_len, "%s: token %d is %llu bytes long (at most %u)",
                               path, i, (unsigned long long)s->len, CALGAE_BPE_MAX_TOKEN_LEN);
        total += (size_t)s->len;
    }
    b->keys = malloc(total);
    b->key_off = malloc(((size_t)n + 1) * sizeof *b->key_off);
    b->key_len = malloc((size_t)n * sizeof *b->key_len);
    b->tok_mask = table_size((size_t)n) - 1;
    b->tok_slot = malloc((b->tok_mask + 1) * sizeof *b->tok_slot);
    b->texts = malloc(total + (size_t)n);
    b->text_off = malloc((size_t)n * sizeof *b->text_off);
    if (!b->keys || !b->key_off || !b->key_len || !b->tok_slot || !b->texts || !b->text_off)
        return calgae_fail(err, err_len, "%s: out of memory for %d tokens", path, n);
    memset(b->tok_slot, 0xFF, (b->tok_mask + 1) * sizeof *b->tok_slot);

    size_t off = 0, text_at = 0;
    for (int32_t i = 0; i < n; i++) {
        const calgae_gguf_str *s = &toks->arr_strs[i];
        const size_t len = (size_t)s->len;
        memcpy(b->texts + text_at, s->ptr, len);
        b->texts[text_at + len] = '\0';
        b->text_off[i] = (uint32_t)text_at;
        text_at += len + 1;
        if (!calgae_utf8_valid((const uint8_t *)s->ptr, len))
            return calgae_fail(err, err_len, "%s: token %d is not valid UTF-8", path, i);
        int ty = types ? calgae_gguf_arr_i32(types, (uint64_t)i) : TT_NORMAL;
        if (ty < TT_UNDEFINED || ty > TT_BYTE)
            return calgae_fail(err, err_len, "%s: token %d has unknown token_type %d", path, i,
                               ty);
        t->types[i] = (uint8_t)ty;
        int alpha;
        size_t klen = decode_chars(s->ptr, len, b->keys + off, &alpha);
        b->key_off[i] = (uint32_t)off;
        b->key_len[i] = alpha ? (uint32_t)klen : ~0u;
        /* llama.cpp's token_to_piece: a normal token is decoded, any other is its text. */
        const char *src = ty == TT_NORMAL ? b->keys + off : s->ptr;
        const size_t plen = ty == TT_NORMAL ? klen : len;
        t->pieces[i] = malloc(plen + 1);
        if (!t->pieces[i])
            return calgae_fail(err, err_len, "%s: out of memory for token %d", path, i);
        memcpy(t->pieces[i], src, plen);
        t->pieces[i][plen] = '\0';
        t->piece_lens[i] = (uint32_t)plen;
        if (plen > t->max_piece_len)
            t->max_piece_len = (uint32_t)plen;
        off += klen;
        if (!alpha)
            continue; /* no word or merge is written outside the alphabet */
        size_t h = bpe_hash_bytes(b->keys + b->key_off[i], klen) & b->tok_mask;
        for (; b->tok_slot[h] >= 0; h = (h + 1) & b->tok_mask) {
            int32_t o = b->tok_slot[h];
            if (b->key_len[o] == klen && memcmp(b->keys + b->key_off[o], b->keys + off - klen, klen) == 0)
                return calgae_fail(err, err_len, "%s: tokens %d and %d are the same text '%.*s'",
                                   path, o, i, (int)(len < 64 ? len : 64), s->ptr);
        }
        b->tok_slot[h] = i;
    }
    b->key_off[n] = (uint32_t)off;
    for (int c = 0; c < 256; c++) {
        const char byte = (char)c;
        b->byte_tok[c] = bpe_lookup(b, &byte, 1);
        if (b->byte_tok[c] < 0)
            return calgae_fail(err, err_len,
                               "%s: byte-level vocabulary has no token for byte 0x%02X", path, c);
    }
    return 0;
}

/* Reads tokenizer.ggml.merges ("A B" in the byte alphabet, highest priority first) into the
 * id-pair table. A pair listed twice keeps its first rank, as llama.cpp's map does. */
static int load_merges(calgae_bpe *b, const calgae_gguf *g, const char *path, char *err,
                       size_t err_len)
{
    const calgae_gguf_kv *kv = calgae_gguf_find_kv(g, "tokenizer.ggml.merges");
    if (!kv)
        return calgae_fail(err, err_len, "%s: byte-level BPE vocabulary without tokenizer.ggml.merges",
                           path);
    if (kv->type != CALGAE_GGUF_ARRAY || kv->arr_type != CALGAE_GGUF_STRING)
        return calgae_fail(err, err_len, "%s: tokenizer.ggml.merges is not an array of strings",
                           path);
    if (kv->arr_len > INT32_MAX)
        return calgae_fail(err, err_len, "%s: tokenizer.ggml.merges has %llu entries", path,
                           (unsigned long long)kv->arr_len);
    b->merge_mask = table_size((size_t)kv->arr_len) - 1;
    b->merges = malloc((b->merge_mask + 1) * sizeof *b->merges);
    b->listed = malloc((size_t)kv->arr_len * sizeof *b->listed + 1);
    if (!b->merges || !b->listed)
        return calgae_fail(err, err_len, "%s: out of memory for %llu merges", path,
                           (unsigned long long)kv->arr_len);
    for (size_t i = 0; i <= b->merge_mask; i++)
        b->merges[i].rank = -1;
    char buf[2 * CALGAE_BPE_MAX_TOKEN_LEN];
    for (uint64_t r = 0; r < kv->arr_len; r++) {
        const calgae_gguf_str *s = &kv->arr_strs[r];
        const int shown = (int)(s->len < 64 ? s->len : 64);
        const char *sp = s->len > 1 ? memchr(s->ptr + 1, ' ', (size_t)s->len - 1) : NULL;
        if (!sp || s->len > 2 * CALGAE_BPE_MAX_TOKEN_LEN || !calgae_utf8_valid((const uint8_t *)s->ptr, (size_t)s->len))
            return calgae_fail(err, err_len, "%s: merge %llu '%.*s' is not two tokens and a space",
                               path, (unsigned long long)r, shown, s->ptr);
        const size_t la = (size_t)(sp - s->ptr), lb = (size_t)s->len - la - 1;
        int alpha_a, alpha_b;
        size_t da = decode_chars(s->ptr, la, buf, &alpha_a);
        size_t db = decode_chars(sp + 1, lb, buf + da, &alpha_b);
        int32_t left = alpha_a ? bpe_lookup(b, buf, da) : -1;
        int32_t right = alpha_b ? bpe_lookup(b, buf + da, db) : -1;
        int32_t id = left >= 0 && right >= 0 ? bpe_lookup(b, buf, da + db) : -1;
        if (id < 0)
            return calgae_fail(err, err_len, "%s: merge %llu '%.*s' names %s not in the vocabulary",
                               path, (unsigned long long)r, shown, s->ptr,
                               left < 0 || right < 0 ? "a token" : "a result");
        b->listed[b->n_listed][0] = left;
        b->listed[b->n_listed++][1] = right;
        size_t h = bpe_hash_pair(left, right) & b->merge_mask;
        while (b->merges[h].rank >= 0 && (b->merges[h].left != left || b->merges[h].right != right))
            h = (h + 1) & b->merge_mask;
        if (b->merges[h].rank < 0)
            b->merges[h] = (merge_slot){left, right, (int32_t)r, id};
    }
    return 0;
}

int calgae_bpe_load_gguf(calgae_tokenizer *t, const calgae_gguf *g, const char *path,
                         char *err, size_t err_len)
{
    t->kind = CALGAE_TOK_BPE;
    calgae_bpe *b = t->bpe = calloc(1, sizeof *t->bpe);
    if (!b)
        return calgae_fail(err, err_len, "%s: out of memory", path);
    const calgae_gguf_kv *toks = calgae_gguf_find_kv(g, "tokenizer.ggml.tokens");
    if (!toks)
        return calgae_fail(err, err_len, "%s: no tokenizer.ggml.tokens (no vocabulary)", path);
    if (toks->type != CALGAE_GGUF_ARRAY || toks->arr_type != CALGAE_GGUF_STRING)
        return calgae_fail(err, err_len, "%s: tokenizer.ggml.tokens is not an array of strings",
                           path);
    if (toks->arr_len == 0 || toks->arr_len > INT32_MAX)
        return calgae_fail(err, err_len, "%s: tokenizer.ggml.tokens has %llu entries", path,
                           (unsigned long long)toks->arr_len);
    const int32_t n = (int32_t)toks->arr_len;
    const calgae_gguf_kv *types = calgae_gguf_find_kv(g, "tokenizer.ggml.token_type");
    if (types && (types->type != CALGAE_GGUF_ARRAY || types->arr_type != CALGAE_GGUF_INT32 ||
                  types->arr_len != (uint64_t)n))
        return calgae_fail(err, err_len,
                           "%s: tokenizer.ggml.token_type is not an array of %d int32", path, n);
    if (load_pre(t, b, g, path, err, err_len) != 0)
        return -1;

    t->pieces = calloc((size_t)n, sizeof *t->pieces);
    t->piece_lens = calloc((size_t)n, sizeof *t->piece_lens);
    t->scores = calloc((size_t)n, sizeof *t->scores); /* BPE has ranks, not scores */
    t->types = calloc((size_t)n, sizeof *t->types);
    t->n_vocab = n; /* with the arrays, so that free walks exactly what was allocated */
    if (!t->pieces || !t->piece_lens || !t->scores || !t->types)
        return calgae_fail(err, err_len, "%s: out of memory for %d tokens", path, n);
    for (int c = 0; c < 256; c++)
        t->byte_ids[c] = -1; /* SentencePiece's <0xXX> tokens; BPE spells bytes as characters */
    if (load_tokens(t, b, toks, types, path, err, err_len) != 0 ||
        load_merges(b, g, path, err, err_len) != 0)
        return -1;
    /* llama.cpp's defaults for BPE vocabularies: BOS and EOS 11, no unknown token. */
    return calgae_tok_gguf_specials(g, n, 11, 11, -1, t, path, err, err_len);
}

/* ---- the file's words, for writers ---- */

const char *calgae_bpe_pre(const calgae_bpe *b)
{
    return b->pre;
}

const char *calgae_bpe_token_text(const calgae_bpe *b, int32_t id)
{
    return b->texts + b->text_off[id];
}

size_t calgae_bpe_n_merges(const calgae_bpe *b)
{
    return b->n_listed;
}

void calgae_bpe_merge(const calgae_bpe *b, size_t i, int32_t *left, int32_t *right)
{
    *left = b->listed[i][0];
    *right = b->listed[i][1];
}
