/*
 * spm.h - the SentencePiece-BPE encoder of the Llama 2 vocabulary (llama.cpp's
 * llm_tokenizer_spm, llama2.c's encode), on a vocabulary tokenizer.c has loaded and indexed.
 * Internal to the tokenizer; names struct calgae_tokenizer without including tokenizer.h.
 */
#ifndef CALGAE_SPM_H
#define CALGAE_SPM_H

#include <stddef.h>
#include <stdint.h>

struct calgae_tokenizer;

/* Byte-wise order of two pieces (shorter first on a common prefix): the order of t->sorted. */
int calgae_spm_cmp_bytes(const char *a, uint32_t alen, const char *b, uint32_t blen);

/* Appends the ids of text[0..text_len) with SentencePiece's dummy-prefix space (non-empty
 * text only) to out, which has room for text_len + 1 more. Returns 0, or -1 with a message. */
int calgae_spm_encode(const struct calgae_tokenizer *t, const char *text, size_t text_len,
                      int32_t *out, size_t *n_out, char *err, size_t err_len);

#endif
