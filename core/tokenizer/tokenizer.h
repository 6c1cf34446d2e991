/*
 * tokenizer.h - the two tokenizers of llama.cpp's Llama-family files: SentencePiece-style BPE
 * with scores and byte fallback, the Llama 2 tokenizer as llama.cpp (llm_tokenizer_spm) and
 * llama2.c (run.c) implement it; and byte-level BPE (GPT-2, Llama 3, Qwen2: bpe.h).
 *
 * SentencePiece vocabularies come from GGUF metadata (tokenizer.ggml.model = llama;
 * tokens / scores / token_type / bos_token_id / eos_token_id, with U+2581 standing for a space)
 * or from llama2.c's tokenizer.bin (max_token_length, then per token: f32 score, i32 length,
 * bytes; spaces are plain spaces; BOS = 1, EOS = 2). Byte-level ones from GGUF metadata with
 * tokenizer.ggml.model = gpt2, tokenizer.ggml.pre and tokenizer.ggml.merges. Both take
 * tokenizer.ggml.add_bos_token / add_eos_token, and control tokens typed in a prompt can be
 * parsed as those tokens (special.h), as llama.cpp does by default.
 */
#ifndef CALGAE_TOKENIZER_H
#define CALGAE_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "gguf.h"
#include "utf8.h"

struct calgae_bpe;
struct calgae_specials;

enum calgae_tokenizer_kind { CALGAE_TOK_SPM = 0, CALGAE_TOK_BPE = 1 };

typedef struct calgae_tokenizer {
    int32_t n_vocab;
    int kind;             /* enum calgae_tokenizer_kind */
    /* NUL-terminated; SentencePiece: U+2581 already turned into ' '; byte-level BPE: the bytes
     * a normal token stands for, other tokens' text as written */
    char **pieces;
    uint32_t *piece_lens;
    float *scores;
    uint8_t *types;       /* GGUF token types: 1 normal, 2 unknown, 3 control, 6 byte, ... */
    int32_t bos_id;
    int32_t eos_id;
    int32_t unk_id;       /* -1 if none */
    int32_t byte_ids[256]; /* token of <0xXX>, or -1 */
    int32_t *sorted;      /* SentencePiece: token ids sorted by piece, for lookups */
    uint32_t max_piece_len;
    uint8_t add_bos, add_eos; /* what add_special adds (GGUF add_bos_token / add_eos_token) */
    struct calgae_bpe *bpe;   /* byte-level BPE: merges, byte table, pre-tokenizer */
    struct calgae_specials *specials; /* control, unknown and user-defined tokens; NULL: none */
} calgae_tokenizer;

/* How a text becomes tokens (llama.cpp's llama_tokenize flags). */
typedef struct calgae_encode_opts {
    int add_special;   /* BOS first and/or EOS last, as the vocabulary's add_bos/add_eos say */
    int parse_special; /* control tokens written in the text ("<|eot_id|>") become those tokens */
} calgae_encode_opts;

/* n_vocab > 0: read exactly that many tokens (the model's vocab size); n_vocab <= 0: read tokens
 * until the end of the file. */
int calgae_tokenizer_load_bin(calgae_tokenizer *t, const char *path, int32_t n_vocab,
                              char *err, size_t err_len);
/* path is only used in messages. */
int calgae_tokenizer_load_gguf(calgae_tokenizer *t, const calgae_gguf *g, const char *path,
                               char *err, size_t err_len);
void calgae_tokenizer_free(calgae_tokenizer *t);

/* Encodes text (any bytes; invalid UTF-8 falls back to byte tokens) into a malloc'd array of
 * ids. SentencePiece gives each stretch of text between special tokens its leading space
 * (non-empty text only); byte-level BPE adds none. User-defined tokens are always cut out of
 * the text first (llama.cpp does so whatever parse_special says) in byte-level vocabularies;
 * SentencePiece text is left alone unless parse_special. Returns 0, or -1 with a message. */
int calgae_tokenizer_encode_opts(const calgae_tokenizer *t, const char *text, size_t text_len,
                                 const calgae_encode_opts *opts, int32_t **ids, size_t *n_ids,
                                 char *err, size_t err_len);

/* calgae_tokenizer_encode_opts with add_special = add_bos and no special parsing. */
int calgae_tokenizer_encode(const calgae_tokenizer *t, const char *text, size_t text_len,
                            int add_bos, int32_t **ids, size_t *n_ids, char *err, size_t err_len);

/* The bytes token id stands for, llama2.c style: a byte token gives its one byte; after BOS
 * (prev == bos_id) a SentencePiece piece's leading space is dropped. Byte-level BPE gives the
 * piece as it is. Returns the length; *out points into t. Invalid ids give length 0. */
size_t calgae_tokenizer_decode(const calgae_tokenizer *t, int32_t prev, int32_t id,
                               const char **out);

/* Loads a tokenizer file on its own: a llama2.c tokenizer.bin, or any GGUF with a vocabulary.
 * n_vocab > 0 demands exactly that many tokens. */
int calgae_tokenizer_load_file(calgae_tokenizer *t, const char *path, int32_t n_vocab,
                               char *err, size_t err_len);

#endif
