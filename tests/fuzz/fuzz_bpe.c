/*
 * fuzz_bpe.c - libFuzzer target: any bytes through byte-level BPE encoding
 * (calgae_tokenizer_encode_opts, as `calgae run --prompt` and `calgae tokenize` call it) and
 * back through calgae_tokenizer_decode, with the real Llama 3, Qwen2 and GPT-2 vocabularies
 * (ggml-vocab-*.gguf from $CALGAE_MODELS, loaded once).
 *
 * The first byte picks the vocabulary and whether special tokens are parsed; the rest is the
 * text. Properties: every id is in the vocabulary; BOS/EOS as the vocabulary asks; without
 * special parsing no control token appears; decoding the ids gives the text back byte for byte
 * (valid UTF-8 or not: byte-level BPE loses nothing, and control tokens decode to their text);
 * the pre-tokenizer's regex never fails.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"

static calgae_tokenizer g_vocab[3];
static int g_loaded;

static void load_vocabs(void)
{
    static const char *const names[3] = {"llama-bpe", "qwen2", "gpt-2"};
    const char *dir = getenv("CALGAE_MODELS");
    FUZZ_CHECK(dir != NULL, "CALGAE_MODELS is not set (the shared models folder)");
    for (int i = 0; i < 3; i++) {
        char path[4096], err[CALGAE_ERR_LEN];
        snprintf(path, sizeof path, "%s/ggml-vocab-%s.gguf", dir, names[i]);
        FUZZ_CHECK(calgae_tokenizer_load_file(&g_vocab[i], path, 0, err, sizeof err) == 0, "%s",
                   err);
        FUZZ_CHECK(g_vocab[i].kind == CALGAE_TOK_BPE, "%s is not byte-level", path);
    }
    g_loaded = 1;
}

static void one_input(const uint8_t *data, size_t size)
{
    if (size == 0)
        return;
    const calgae_tokenizer *t = &g_vocab[data[0] % 3];
    const int parse = data[0] >> 2 & 1, special = data[0] >> 3 & 1;
    const char *text = (const char *)data + 1;
    const size_t len = size - 1;
    const calgae_encode_opts o = {.add_special = special, .parse_special = parse};
    int32_t *ids = NULL;
    size_t n = 0;
    char err[CALGAE_ERR_LEN] = "";
    FUZZ_CHECK(calgae_tokenizer_encode_opts(t, text, len, &o, &ids, &n, err, sizeof err) == 0,
               "encode failed: %s", err);
    const size_t first = special && t->add_bos, last = special && t->add_eos;
    FUZZ_CHECK(n >= first + last && n <= len + first + last, "%zu ids for %zu bytes", n, len);
    if (first)
        FUZZ_CHECK(ids[0] == t->bos_id, "no BOS first");
    if (last)
        FUZZ_CHECK(ids[n - 1] == t->eos_id, "no EOS last");
    char *back = malloc(len + 1);
    FUZZ_CHECK(back != NULL, "out of memory");
    size_t got = 0;
    for (size_t i = first; i < n - last; i++) {
        FUZZ_CHECK(ids[i] >= 0 && ids[i] < t->n_vocab, "id %d of %d", ids[i], t->n_vocab);
        FUZZ_CHECK(parse || t->types[ids[i]] != 3, "control token %d without parse_special",
                   ids[i]);
        const char *p;
        size_t k = calgae_tokenizer_decode(t, i ? ids[i - 1] : -1, ids[i], &p);
        FUZZ_CHECK(k <= len - got, "decoding runs past the text (%zu + %zu > %zu)", got, k, len);
        memcpy(back + got, p, k);
        got += k;
    }
    FUZZ_CHECK(got == len && memcmp(back, text, len) == 0,
               "decode(encode(x)) != x (%zu bytes back for %zu)", got, len);
    free(back);
    free(ids);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_loaded)
        load_vocabs(); /* before fuzz_begin: the vocabularies are not the input */
    fuzz_begin(size);
    one_input(data, size);
    fuzz_end();
    return 0;
}
