/*
 * utf8.c - UTF-8 validity (RFC 3629: no overlongs, surrogates or code points past U+10FFFF)
 * for vocabularies, and the output stream that only ever prints whole, printable characters.
 * The comments that start with @ are loop annotations for the proofs in proofs/ (Frama-C/WP
 * proves this file free of run-time errors: proofs/utf8_contracts.h).
 */
#include "utf8.h"


/* Length of the sequence a lead byte starts, or 0 if it cannot start one (continuation bytes,
 * the overlong leads C0/C1, and F5..FF which would exceed U+10FFFF). */
int calgae_utf8_seq_len(uint8_t c)
{
    return c < 0x80 ? 1 : c < 0xC2 ? 0 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : c < 0xF5 ? 4 : 0;
}

/* Whether c may follow at position pos (1..3) of a sequence led by lead. The second byte's
 * narrower ranges are what rule out overlongs, surrogates and code points past U+10FFFF. */
static int utf8_cont_ok(uint8_t lead, int pos, uint8_t c)
{
    uint8_t lo = 0x80, hi = 0xBF;
    if (pos == 1) {
        if (lead == 0xE0)
            lo = 0xA0;
        else if (lead == 0xED)
            hi = 0x9F;
        else if (lead == 0xF0)
            lo = 0x90;
        else if (lead == 0xF4)
            hi = 0x8F;
    }
    return c >= lo && c <= hi;
}

int calgae_utf8_valid(const uint8_t *s, size_t n)
{
    size_t i = 0;
    /*@ loop invariant 0 <= i <= n;
        loop assigns i;
        loop variant n - i; */
    while (i < n) {
        int len = calgae_utf8_seq_len(s[i]);
        if (len == 0 || (size_t)len > n - i)
            return 0;
        /*@ loop invariant 1 <= k <= len;
            loop assigns k;
            loop variant len - k; */
        for (int k = 1; k < len; k++)
            if (!utf8_cont_ok(s[i], k, s[i + k]))
                return 0;
        i += (size_t)len;
    }
    return 1;
}

/* ---- streaming output ---- */

/* Code points worth printing: not C0 controls other than whitespace, DEL or C1 controls. */
static int printable_cp(uint32_t cp)
{
    if (cp < 0x20)
        return cp == '\t' || cp == '\n' || cp == '\r' || cp == '\v' || cp == '\f';
    return cp != 0x7F && !(cp >= 0x80 && cp < 0xA0);
}

static uint32_t decode_cp(const uint8_t *s, int n)
{
    static const uint8_t lead_mask[5] = {0, 0x7F, 0x1F, 0x0F, 0x07};
    uint32_t cp = s[0] & lead_mask[n];
    /*@ loop invariant 1 <= k <= n;
        loop assigns k, cp;
        loop variant n - k; */
    for (int k = 1; k < n; k++)
        cp = cp << 6 | (s[k] & 0x3Fu);
    return cp;
}

size_t calgae_utf8_stream_push(calgae_utf8_stream *s, const char *bytes, size_t n, char *out)
{
    size_t o = 0;
    /*@ loop invariant 0 <= i <= n;
        loop invariant stream_ok(s);
        loop invariant o + s->n_pending <= i + \at(s->n_pending, Pre);
        loop assigns i, o, *s, out[0 .. n + 3];
        loop variant n - i; */
    for (size_t i = 0; i < n; i++) {
        uint8_t c = (uint8_t)bytes[i];
        if (s->n_pending > 0) {
            if (utf8_cont_ok(s->pending[0], s->n_pending, c)) {
                s->pending[s->n_pending++] = c;
                int need = calgae_utf8_seq_len(s->pending[0]);
                if (s->n_pending < need)
                    continue;
                if (printable_cp(decode_cp(s->pending, need))) {
                    /* byte by byte rather than memcpy: at most 4 bytes, and a loop WP can
                     * follow (its typed memory model does not see through memcpy's void *) */
                    /*@ loop invariant 0 <= k <= need;
                        loop assigns k, out[o .. o + need - 1];
                        loop variant need - k; */
                    for (int k = 0; k < need; k++)
                        out[o + (size_t)k] = (char)s->pending[k];
                    o += (size_t)need;
                }
                s->n_pending = 0;
                continue;
            }
            /* A broken sequence is dropped; c may still start a good one. */
            s->n_pending = 0;
        }
        int need = calgae_utf8_seq_len(c);
        if (need == 0)
            continue;
        if (need == 1) {
            if (printable_cp(c))
                out[o++] = (char)c;
            continue;
        }
        s->pending[0] = c;
        s->n_pending = 1;
    }
    return o;
}
