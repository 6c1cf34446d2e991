/*
 * utf8.h - UTF-8 checks for vocabularies and the streaming guard for generated text.
 */
#ifndef CALGAE_UTF8_H
#define CALGAE_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Length of the sequence a lead byte starts, or 0 if it cannot start one. */
int calgae_utf8_seq_len(uint8_t c);

/* Whether s[0..n) is valid UTF-8 (RFC 3629). */
int calgae_utf8_valid(const uint8_t *s, size_t n);

/*
 * Streaming output that never emits half a UTF-8 character: push the bytes of each token; it
 * writes into out (which must hold n + 4 bytes) what can be printed now and keeps an incomplete
 * trailing sequence for the next push. Invalid sequences and control bytes other than
 * whitespace are dropped (as llama2.c's safe_printf drops unprintable bytes).
 */
typedef struct calgae_utf8_stream {
    uint8_t pending[4];
    int n_pending;
} calgae_utf8_stream;

size_t calgae_utf8_stream_push(calgae_utf8_stream *s, const char *bytes, size_t n, char *out);

#endif
