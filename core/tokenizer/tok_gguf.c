/* tok_gguf.c - GGUF vocabulary keys shared by the SentencePiece and byte-level tokenizers
 * (see tok_gguf.h). */
#include "tok_gguf.h"

#include "util.h"

static int token_id(const calgae_gguf *g, const char *key, int32_t n, int32_t def, int32_t *out,
                    const char *path, char *err, size_t err_len)
{
    const calgae_gguf_kv *kv = calgae_gguf_find_kv(g, key);
    if (!kv) {
        *out = def < n ? def : -1;
        return 0;
    }
    switch (kv->type) {
    case CALGAE_GGUF_UINT8:
    case CALGAE_GGUF_UINT16:
    case CALGAE_GGUF_UINT32:
    case CALGAE_GGUF_UINT64:
        if (kv->v.u < (uint64_t)n)
            break;
        return calgae_fail(err, err_len, "%s: %s = %llu is out of range (%d tokens)", path, key,
                           (unsigned long long)kv->v.u, n);
    case CALGAE_GGUF_INT8:
    case CALGAE_GGUF_INT16:
    case CALGAE_GGUF_INT32:
    case CALGAE_GGUF_INT64:
        if (kv->v.i >= 0 && kv->v.i < (int64_t)n)
            break;
        return calgae_fail(err, err_len, "%s: %s = %lld is out of range (%d tokens)", path, key,
                           (long long)kv->v.i, n);
    default:
        return calgae_fail(err, err_len, "%s: %s is not an integer", path, key);
    }
    *out = (int32_t)kv->v.u; /* in range, so the low bits are the id either way */
    return 0;
}

static int flag(const calgae_gguf *g, const char *key, uint8_t *out, const char *path, char *err,
                size_t err_len)
{
    const calgae_gguf_kv *kv = calgae_gguf_find_kv(g, key);
    if (!kv)
        return 0;
    if (kv->type != CALGAE_GGUF_BOOL)
        return calgae_fail(err, err_len, "%s: %s is not a bool", path, key);
    *out = kv->v.u != 0;
    return 0;
}

int calgae_tok_gguf_specials(const calgae_gguf *g, int32_t n, int32_t bos_def, int32_t eos_def,
                             int32_t unk_def, calgae_tokenizer *t, const char *path, char *err,
                             size_t err_len)
{
    if (token_id(g, "tokenizer.ggml.bos_token_id", n, bos_def, &t->bos_id, path, err,
                 err_len) != 0 ||
        token_id(g, "tokenizer.ggml.eos_token_id", n, eos_def, &t->eos_id, path, err,
                 err_len) != 0 ||
        token_id(g, "tokenizer.ggml.unknown_token_id", n, unk_def, &t->unk_id, path, err,
                 err_len) != 0)
        return -1;
    if (flag(g, "tokenizer.ggml.add_bos_token", &t->add_bos, path, err, err_len) != 0 ||
        flag(g, "tokenizer.ggml.add_eos_token", &t->add_eos, path, err, err_len) != 0)
        return -1;
    return 0;
}
