/*
 * bpe_regex.h - the pre-tokenizer's regex engine for byte-level BPE: PCRE2 (8-bit, UTF with
 * Unicode properties, JIT-compiled where the platform has a JIT), behind three calls so that a
 * build without PCRE2 (the minimal cross build) refuses byte-level vocabularies cleanly.
 */
#ifndef CALGAE_BPE_REGEX_H
#define CALGAE_BPE_REGEX_H

#include <stddef.h>

typedef struct calgae_regex calgae_regex;
typedef struct calgae_regex_scan calgae_regex_scan;

/* Compiles pattern (Unicode properties; invalid UTF-8 in subjects is never matched). Returns
 * NULL with a message in msg. */
calgae_regex *calgae_regex_compile(const char *pattern, char *msg, size_t msg_len);
void calgae_regex_free(calgae_regex *re);

/* A scan over one subject, for one thread at a time. NULL when out of memory. */
calgae_regex_scan *calgae_regex_scan_new(const calgae_regex *re);
void calgae_regex_scan_free(calgae_regex_scan *sc);

/* The first match in s[0..len) at or after off: 1 with [*start, *end), 0 when there is none,
 * -1 with a message when the engine fails. */
int calgae_regex_next(calgae_regex_scan *sc, const char *s, size_t len, size_t off,
                      size_t *start, size_t *end, char *msg, size_t msg_len);

#endif
