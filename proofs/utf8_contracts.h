/*
 * utf8_contracts.h - ACSL contracts of core/base/utf8.c for Frama-C (proofs/run includes it just
 * before utf8.c through wp_utf8.c, so the static helpers are covered too). What is proved is the
 * absence of run-time errors (RTE guards: in-bounds accesses, valid shifts, no signed overflow)
 * for any input bytes, and the bound on what a stream push writes.
 */
#ifndef CALGAE_UTF8_CONTRACTS_H
#define CALGAE_UTF8_CONTRACTS_H

#include "utf8.h"

/*@ // calgae_utf8_seq_len as a logic function, so that contracts can speak of a lead's length
    logic integer seq_len(integer c) =
        c < 0x80 ? 1 : c < 0xC2 ? 0 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : c < 0xF5 ? 4 : 0;

    // a stream between pushes: an incomplete sequence of 0..3 bytes, shorter than its lead says
    predicate stream_ok(calgae_utf8_stream *s) =
        0 <= s->n_pending <= 3 &&
        (s->n_pending > 0 ==> s->n_pending < seq_len(s->pending[0]));
*/

/*@ assigns \nothing;
    ensures \result == seq_len(c);
    ensures 0 <= \result <= 4; */
int calgae_utf8_seq_len(uint8_t c);

/*@ requires 1 <= pos <= 3;
    assigns \nothing;
    ensures \result == 0 || \result == 1; */
static int utf8_cont_ok(uint8_t lead, int pos, uint8_t c);

/*@ requires \valid_read(s + (0 .. n - 1));
    assigns \nothing;
    ensures \result == 0 || \result == 1; */
int calgae_utf8_valid(const uint8_t *s, size_t n);

/*@ assigns \nothing; */
static int printable_cp(uint32_t cp);

/*@ requires 1 <= n <= 4;
    requires \valid_read(s + (0 .. n - 1));
    assigns \nothing; */
static uint32_t decode_cp(const uint8_t *s, int n);

/*@ requires \valid(s) && stream_ok(s);
    requires \valid_read(bytes + (0 .. n - 1));
    requires \valid(out + (0 .. n + 3));
    requires n <= SIZE_MAX - 4;
    requires \separated(out + (0 .. n + 3), s);
    assigns *s, out[0 .. n + 3];
    ensures stream_ok(s);
    ensures OUT_BOUND: \result + s->n_pending <= n + \old(s->n_pending); */
size_t calgae_utf8_stream_push(calgae_utf8_stream *s, const char *bytes, size_t n, char *out);

#endif
