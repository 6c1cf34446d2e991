/*
 * extract.h - the fenced code blocks of a model's answer, by CommonMark's rules for fences
 * (spec 0.30, section 4.5): a line of at least three backticks or tildes, indented at most
 * three spaces, opens a block; its info string's first word is the tag; the block ends at a
 * line of the same character, at least as long, with nothing else but spaces; a block never
 * closed runs to the end of the text (and is marked). CR before LF is dropped.
 */
#ifndef CALGAE_AGENT_EXTRACT_H
#define CALGAE_AGENT_EXTRACT_H

#include <stddef.h>

typedef struct calgae_code_block {
    char tag[32];        /* the info string's first word, lower-cased; "" when unlabeled */
    char *code;          /* the block's lines, each ending in '\n', NUL-terminated */
    size_t len;
    int unterminated;    /* the text ended before a closing fence */
    int line;            /* 1-based line of the opening fence */
} calgae_code_block;

/* Fills *blocks with the n blocks of text (n may be 0). Returns 0, or -1 when out of memory. */
int calgae_extract_blocks(const char *text, size_t len, calgae_code_block **blocks, int *n,
                          char *err, size_t err_len);
void calgae_blocks_free(calgae_code_block *blocks, int n);

#endif
