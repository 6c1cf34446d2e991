/*
 * bpe.h - byte-level BPE vocabularies (GGUF `tokenizer.ggml.model = gpt2`: GPT-2, Llama 3,
 * Qwen2), read and encoded as llama.cpp's llm_tokenizer_bpe does: the text is split by the
 * pre-tokenizer regex of `tokenizer.ggml.pre` (run by PCRE2, JIT-compiled), each piece's bytes
 * stand for characters through GPT-2's byte-to-unicode table, and the merges of
 * `tokenizer.ggml.merges` are applied lowest rank first.
 *
 * Internal to the tokenizer: tokenizer.c dispatches here by the vocabulary's kind (loading in
 * bpe.c, encoding in bpe_encode.c). The header
 * names struct calgae_tokenizer without including tokenizer.h, so neither header includes the
 * other.
 */
#ifndef CALGAE_BPE_H
#define CALGAE_BPE_H

#include <stddef.h>
#include <stdint.h>

#include "gguf.h"

struct calgae_tokenizer;
typedef struct calgae_bpe calgae_bpe;

/* Tokens longer than this (in bytes) are refused: the longest in real vocabularies is 256. */
#define CALGAE_BPE_MAX_TOKEN_LEN 1024u

/* Fills a zeroed t from a GGUF whose tokenizer.ggml.model is "gpt2": pieces hold what each
 * token decodes to (a normal token's characters turned back into bytes; a control or
 * user-defined token's text as written), types, bos/eos/unk ids, add_bos/add_eos, and t->bpe.
 * On failure returns -1 with a message naming path; what was allocated stays in t for the
 * caller's calgae_tokenizer_free. */
int calgae_bpe_load_gguf(struct calgae_tokenizer *t, const calgae_gguf *g, const char *path,
                         char *err, size_t err_len);

void calgae_bpe_free(calgae_bpe *b);

/* Encodes text[0..len) (a stretch with no special token in it) and appends the ids to out,
 * which has room for len more. Any bytes are accepted: a stretch of invalid UTF-8 is a word of
 * its own and keeps its bytes. Returns 0, or -1 with a message. */
int calgae_bpe_encode(const struct calgae_tokenizer *t, const char *text, size_t len,
                      int32_t *out, size_t *n_out, char *err, size_t err_len);

/* What a writer needs to store the vocabulary again as the file had it (calgae convert and
 * quantize): the pre-tokenizer's name, a token's text as written (NUL-terminated; id in
 * range), and the merges in their order as token id pairs ("A B" is A's text, a space, B's). */
const char *calgae_bpe_pre(const calgae_bpe *b);
const char *calgae_bpe_token_text(const calgae_bpe *b, int32_t id);
size_t calgae_bpe_n_merges(const calgae_bpe *b);
void calgae_bpe_merge(const calgae_bpe *b, size_t i, int32_t *left, int32_t *right);

#endif
