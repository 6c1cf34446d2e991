/*
 * tokenizer_file.c - a vocabulary from a file of its own: llama2.c's tokenizer.bin, any GGUF
 * that carries tokenizer.ggml.* metadata (a vocabulary-only GGUF included), or a Hugging Face
 * tokenizer.json (hf.h).
 */
#include <string.h>

#include "gguf.h"
#include "hf.h"
#include "tokenizer.h"
#include "util.h"

int calgae_tokenizer_load_file(calgae_tokenizer *t, const char *path, int32_t n_vocab,
                               char *err, size_t err_len)
{
    /* mapping checks the file first (a regular file, readable) and says why not */
    calgae_map probe;
    if (calgae_map_file(&probe, path, err, err_len) != 0)
        return -1;
    calgae_unmap(&probe);
    int is_gguf = calgae_gguf_probe(path, err, err_len);
    size_t n = strlen(path);
    if (is_gguf < 0)
        return -1;
    if (!is_gguf && n >= 5 && strcmp(path + n - 5, ".json") == 0) {
        if (calgae_hf_load_tokenizer_json(t, path, err, err_len) != 0)
            return -1;
    } else if (!is_gguf) {
        /* read every token the file has, so a vocabulary of the wrong model is noticed */
        if (calgae_tokenizer_load_bin(t, path, 0, err, err_len) != 0)
            return -1;
    } else {
        calgae_gguf g;
        if (calgae_gguf_open(&g, path, err, err_len) != 0)
            return -1;
        int rc = calgae_gguf_find_kv(&g, "tokenizer.ggml.tokens")
                     ? calgae_tokenizer_load_gguf(t, &g, path, err, err_len)
                     : calgae_fail(err, err_len, "%s: no vocabulary (tokenizer.ggml.tokens)", path);
        calgae_gguf_close(&g);
        if (rc != 0)
            return -1;
    }
    if (n_vocab > 0 && t->n_vocab != n_vocab) {
        int have = t->n_vocab;
        calgae_tokenizer_free(t);
        return calgae_fail(err, err_len, "%s: tokenizer has %d tokens but the model has %d",
                           path, have, n_vocab);
    }
    return 0;
}
