/*
 * fuzz_tokenize.c - libFuzzer target: the tokenizer itself. Arbitrary bytes go through
 * calgae_tokenizer_encode (as `calgae run --prompt` and `calgae tokenize` do) with a fixed
 * vocabulary that has byte fallback: every id must be in the vocabulary, and decoding the ids
 * must give the bytes back exactly, for valid UTF-8 and for any other bytes.
 *
 * The vocabulary is built here as a tokenizer.bin and read by calgae_tokenizer_load_bin:
 * unk, BOS, EOS, the 256 byte tokens, every printable ASCII character and a set of merges,
 * ASCII and not, with ties in score to exercise the leftmost-first rule. $CALGAE_FUZZ_VOCAB
 * may name a real tokenizer.bin instead (llama2.c's Llama 2 vocabulary, for a campaign).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"

static calgae_tokenizer vocab;

static const char *const merges[] = {
    " ", "  ", "    ", "\n", "\n\n", " t", "th", " th", "he", " the", "in", " in", "er", "an",
    " a", " an", " and", "on", "ed", " s", "ing", " w", "ou", " o", "at", "en", "it", " h",
    " Once", " upon", " time", " was", " there", "ly", "ll", " l", "\xC3\xA9", " \xC3\xA9",
    "\xC3\xA9t\xC3\xA9", "\xE6\x97\xA5", "\xE6\x9C\xAC", "\xE6\x97\xA5\xE6\x9C\xAC",
    "\xF0\x9F\x98\x80", "\xE2\x96\x81", "<s>", "<0x41>", "\xEF\xBB\xBF", "=", "==", "====",
};

static void put_u32(FILE *f, uint32_t v)
{
    unsigned char b[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    fwrite(b, 1, 4, f);
}

static void put_token(FILE *f, const char *piece, size_t len, float score)
{
    uint32_t bits;
    memcpy(&bits, &score, sizeof bits);
    put_u32(f, bits);
    put_u32(f, (uint32_t)len);
    fwrite(piece, 1, len, f);
}

/* The synthetic vocabulary as tokenizer.bin bytes. */
static unsigned char *build_vocab(size_t *size)
{
    char *buf = NULL;
    FILE *f = open_memstream(&buf, size);
    FUZZ_CHECK(f != NULL, "open_memstream");
    put_u32(f, 16); /* max_token_length */
    put_token(f, "<unk>", 5, 0);
    put_token(f, "<s>", 3, 0);
    put_token(f, "</s>", 4, 0);
    for (int b = 0; b < 256; b++) {
        char p[8];
        snprintf(p, sizeof p, "<0x%02X>", b);
        put_token(f, p, 6, 0);
    }
    for (int c = 0x21; c < 0x7f; c++) {
        char p = (char)c;
        put_token(f, &p, 1, -1000.0f);
    }
    for (size_t i = 0; i < sizeof merges / sizeof merges[0]; i++) /* ties: every 3rd scores 0 */
        put_token(f, merges[i], strlen(merges[i]), i % 3 ? -(float)(i % 7) : 0.0f);
    fclose(f);
    return (unsigned char *)buf;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    char err[CALGAE_ERR_LEN];
    const char *real = getenv("CALGAE_FUZZ_VOCAB");
    int rc;
    if (real && *real) {
        rc = calgae_tokenizer_load_bin(&vocab, real, 0, err, sizeof err);
    } else {
        size_t size;
        unsigned char *bytes = build_vocab(&size);
        rc = calgae_tokenizer_load_bin(&vocab, fuzz_file(bytes, size), 0, err, sizeof err);
        free(bytes);
    }
    FUZZ_CHECK(rc == 0, "the vocabulary does not load: %s", err);
    fuzz_check_vocab(&vocab);
    FUZZ_CHECK(fuzz_spells_everything(&vocab), "the vocabulary cannot spell every byte");
    return 0;
}

static int one_input(const uint8_t *data, size_t size)
{
    /* an exact-size copy, so that a read past the text is caught */
    char *text = malloc(size ? size : 1);
    FUZZ_CHECK(text != NULL, "out of memory");
    memcpy(text, data, size);
    fuzz_check_encode(&vocab, text, size);
    free(text);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_begin(size);
    one_input(data, size);
    fuzz_end();
    return 0;
}
