/*
 * special.h - special tokens in prompt text: the control, unknown and user-defined tokens a
 * text may name literally ("<|eot_id|>", "<s>"), found as llama.cpp's tokenizer_st_partition
 * finds them (the longest token first, over what no longer token has taken), so that they
 * become their own ids and the text between them is tokenized on its own.
 *
 * Internal to the tokenizer; names struct calgae_tokenizer without including tokenizer.h.
 */
#ifndef CALGAE_SPECIAL_H
#define CALGAE_SPECIAL_H

#include <stddef.h>
#include <stdint.h>

struct calgae_tokenizer;
typedef struct calgae_specials calgae_specials;

/* A piece of the text: a special token (id >= 0) or text to tokenize (id -1). */
typedef struct calgae_fragment {
    size_t off, len;
    int32_t id;
} calgae_fragment;

/* Indexes t's control, unknown and user-defined tokens (by their pieces). *out is NULL when
 * the vocabulary has none. Returns 0, or -1 when out of memory. */
int calgae_specials_build(calgae_specials **out, const struct calgae_tokenizer *t);
void calgae_specials_free(calgae_specials *s);

/* Splits text[0..len) into fragments (a malloc'd array in text order covering all of it).
 * With parse_special every indexed token is looked for, without it only user-defined ones
 * (llama.cpp pre-tokenizes those whatever parse_special says). s may be NULL (no special
 * tokens). Returns 0, or -1 when out of memory. */
int calgae_specials_split(const calgae_specials *s, const struct calgae_tokenizer *t,
                          const char *text, size_t len, int parse_special,
                          calgae_fragment **frags, size_t *n_frags);

#endif
