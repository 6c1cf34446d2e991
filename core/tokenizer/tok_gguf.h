/*
 * tok_gguf.h - the GGUF vocabulary keys both tokenizer kinds read the same way: the special
 * token ids and the add_bos/add_eos flags of llama.cpp's `tokenizer.ggml.*` metadata.
 */
#ifndef CALGAE_TOK_GGUF_H
#define CALGAE_TOK_GGUF_H

#include <stddef.h>
#include <stdint.h>

#include "gguf.h"
#include "tokenizer.h"

/* Fills t->bos_id, eos_id and unk_id from tokenizer.ggml.{bos,eos,unknown}_token_id (absent:
 * the kind's default when it names one of the n tokens, else -1; present: an integer in
 * [0, n)), and t->add_bos/add_eos from the optional add_*_token bools (absent: left as they
 * are). Returns 0, or -1 with "PATH: KEY ..." in err. */
int calgae_tok_gguf_specials(const calgae_gguf *g, int32_t n, int32_t bos_def, int32_t eos_def,
                             int32_t unk_def, calgae_tokenizer *t, const char *path, char *err,
                             size_t err_len);

#endif
