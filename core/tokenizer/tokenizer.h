/*
 * tokenizer.h - SentencePiece-style BPE with scores and byte fallback, the Llama tokenizer as
 * llama.cpp (llm_tokenizer_spm) and llama2.c (run.c) implement it.
 *
 * Vocabularies come from GGUF metadata (tokenizer.ggml.tokens / scores / token_type /
 * bos_token_id / eos_token_id, with U+2581 standing for a space) or from llama2.c's
 * tokenizer.bin (max_token_length, then per token: f32 score, i32 length, bytes; spaces are
 * plain spaces; BOS = 1, EOS = 2).
 */
#ifndef CALGAE_TOKENIZER_H
#define CALGAE_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "gguf.h"
#include "utf8.h"

typedef struct calgae_tokenizer {
    int32_t n_vocab;
    char **pieces;        /* NUL-terminated, U+2581 already turned into ' ' */
    uint32_t *piece_lens;
    float *scores;
    uint8_t *types;       /* GGUF token types: 1 normal, 2 unknown, 3 control, 6 byte, ... */
    int32_t bos_id;
    int32_t eos_id;
    int32_t unk_id;       /* -1 if none */
    int32_t byte_ids[256]; /* token of <0xXX>, or -1 */
    int32_t *sorted;      /* token ids sorted by piece, for lookups */
    uint32_t max_piece_len;
} calgae_tokenizer;

/* n_vocab > 0: read exactly that many tokens (the model's vocab size); n_vocab <= 0: read tokens
 * until the end of the file. */
int calgae_tokenizer_load_bin(calgae_tokenizer *t, const char *path, int32_t n_vocab,
                              char *err, size_t err_len);
/* path is only used in messages. */
int calgae_tokenizer_load_gguf(calgae_tokenizer *t, const calgae_gguf *g, const char *path,
                               char *err, size_t err_len);
void calgae_tokenizer_free(calgae_tokenizer *t);

/* Encodes text (any bytes; invalid UTF-8 falls back to byte tokens) into a malloc'd array of
 * ids. With add_bos, BOS comes first. Non-empty text gets SentencePiece's leading space.
 * Returns 0, or -1 with a message. */
int calgae_tokenizer_encode(const calgae_tokenizer *t, const char *text, size_t text_len,
                            int add_bos, int32_t **ids, size_t *n_ids, char *err, size_t err_len);

/* The bytes token id stands for, llama2.c style: a byte token gives its one byte; after BOS
 * (prev == bos_id) a leading space is dropped. Returns the length; *out points into t.
 * Invalid ids give length 0. */
size_t calgae_tokenizer_decode(const calgae_tokenizer *t, int32_t prev, int32_t id,
                               const char **out);

/* Loads a tokenizer file on its own: a llama2.c tokenizer.bin, or any GGUF with a vocabulary.
 * n_vocab > 0 demands exactly that many tokens. */
int calgae_tokenizer_load_file(calgae_tokenizer *t, const char *path, int32_t n_vocab,
                               char *err, size_t err_len);

#endif
