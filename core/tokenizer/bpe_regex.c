/*
 * bpe_regex.c - PCRE2 behind bpe_regex.h. Patterns are compiled with PCRE2_UTF | PCRE2_UCP
 * (\s, \p{L}, \p{N} by Unicode properties) and PCRE2_MATCH_INVALID_UTF, so a subject needs no
 * UTF-8 check per call (which would cost the rest of the text at every word) and invalid bytes
 * simply never match. Without CALGAE_NO_PCRE2 nothing here prints or exits.
 */
#include "bpe_regex.h"

#include <stdio.h>
#include <stdlib.h>

#ifdef CALGAE_NO_PCRE2

calgae_regex *calgae_regex_compile(const char *pattern, char *msg, size_t msg_len)
{
    (void)pattern;
    snprintf(msg, msg_len, "this build of Calgae has no PCRE2, needed for byte-level BPE");
    return NULL;
}
void calgae_regex_free(calgae_regex *re) { (void)re; }
calgae_regex_scan *calgae_regex_scan_new(const calgae_regex *re) { (void)re; return NULL; }
void calgae_regex_scan_free(calgae_regex_scan *sc) { (void)sc; }
int calgae_regex_next(calgae_regex_scan *sc, const char *s, size_t len, size_t off,
                      size_t *start, size_t *end, char *msg, size_t msg_len)
{
    (void)sc, (void)s, (void)len, (void)off, (void)start, (void)end;
    snprintf(msg, msg_len, "no regex engine");
    return -1;
}

#else

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

struct calgae_regex {
    pcre2_code *code;
    int jit;
};

struct calgae_regex_scan {
    const calgae_regex *re;
    pcre2_match_data *md;
};

calgae_regex *calgae_regex_compile(const char *pattern, char *msg, size_t msg_len)
{
    calgae_regex *re = calloc(1, sizeof *re);
    if (!re) {
        snprintf(msg, msg_len, "out of memory");
        return NULL;
    }
    int code;
    PCRE2_SIZE at;
    re->code = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
                             PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &code, &at, NULL);
    if (!re->code) {
        PCRE2_UCHAR text[256];
        pcre2_get_error_message(code, text, sizeof text);
        snprintf(msg, msg_len, "regex does not compile at %zu: %s", (size_t)at,
                 (const char *)text);
        free(re);
        return NULL;
    }
    /* Without a JIT for the platform the interpreter gives the same matches, slower. */
    re->jit = pcre2_jit_compile(re->code, PCRE2_JIT_COMPLETE) == 0;
    return re;
}

void calgae_regex_free(calgae_regex *re)
{
    if (!re)
        return;
    pcre2_code_free(re->code);
    free(re);
}

calgae_regex_scan *calgae_regex_scan_new(const calgae_regex *re)
{
    calgae_regex_scan *sc = malloc(sizeof *sc);
    if (!sc)
        return NULL;
    sc->re = re;
    sc->md = pcre2_match_data_create(1, NULL);
    if (!sc->md) {
        free(sc);
        return NULL;
    }
    return sc;
}

void calgae_regex_scan_free(calgae_regex_scan *sc)
{
    if (!sc)
        return;
    pcre2_match_data_free(sc->md);
    free(sc);
}

int calgae_regex_next(calgae_regex_scan *sc, const char *s, size_t len, size_t off,
                      size_t *start, size_t *end, char *msg, size_t msg_len)
{
    const calgae_regex *re = sc->re;
    int m = re->jit ? pcre2_jit_match(re->code, (PCRE2_SPTR)s, len, off, 0, sc->md, NULL)
                    : pcre2_match(re->code, (PCRE2_SPTR)s, len, off, 0, sc->md, NULL);
    if (m == PCRE2_ERROR_NOMATCH)
        return 0;
    if (m < 0) {
        PCRE2_UCHAR text[256];
        pcre2_get_error_message(m, text, sizeof text);
        snprintf(msg, msg_len, "%s", (const char *)text);
        return -1;
    }
    const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(sc->md);
    *start = ov[0];
    *end = ov[1];
    return 1;
}

#endif
