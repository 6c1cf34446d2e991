/*
 * fuzz_hf_json.c - libFuzzer target: a Hugging Face folder's JSON readers. The first byte picks
 * the file: 'c' config.json (calgae_hf_parse_config), otherwise tokenizer.json
 * (calgae_hf_add_tokenizer with a fixed config, then the vocabulary loader on the metadata it
 * made). Whatever is accepted: a config passes calgae_config_check and its Llama 3 RoPE
 * scaling gives positive finite frequency factors; a vocabulary is
 * consistent (fuzz_check_vocab) and encodes to valid ids. Refusals name the file.
 */
#include <math.h>
#include <string.h>

#include "fuzz_common.h"
#include "hf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    fuzz_begin(size);
    char err[CALGAE_ERR_LEN];
    const char *json = (const char *)data + 1;
    if (data[0] == 'c') {
        calgae_hf_config c;
        if (calgae_hf_parse_config(json, size - 1, &c, "config.json", err, sizeof err) == 0) {
            FUZZ_CHECK(calgae_config_check(&c.cfg, "x", err, sizeof err) == 0, "%s", err);
            float f[512]; /* n_rot / 2 <= head_size / 2 <= dim / 2, and dim is bounded below */
            if (c.rope_factor > 0 && c.cfg.n_rot / 2 <= 512) {
                calgae_llama3_rope_freqs(&c.cfg, c.rope_factor, c.rope_low_freq,
                                         c.rope_high_freq, c.rope_orig_ctx, f);
                for (int i = 0; i < c.cfg.n_rot / 2; i++)
                    FUZZ_CHECK(f[i] > 0 && f[i] < INFINITY, "rope factor %d = %g", i,
                               (double)f[i]);
            }
        } else
            FUZZ_CHECK(strncmp(err, "config.json: ", 13) == 0, "message '%s'", err);
        fuzz_end();
        return 0;
    }
    calgae_hf_config c = {.bos_id = -1, .eos_id = -1};
    strcpy(c.model_type, data[0] == 'q' ? "qwen2" : "llama");
    calgae_hf *h = calgae_hf_new();
    if (calgae_hf_add_tokenizer(h, json, size - 1, NULL, 0, &c, "tok", err, sizeof err) == 0) {
        calgae_tokenizer t;
        if (calgae_tokenizer_load_gguf(&t, calgae_hf_meta(h), "tok", err, sizeof err) == 0) {
            fuzz_check_vocab(&t);
            fuzz_check_encode(&t, "Hello world", 11);
            calgae_tokenizer_free(&t);
        }
    } else {
        FUZZ_CHECK(strncmp(err, "tok: ", 5) == 0, "message '%s'", err);
    }
    calgae_hf_free(h);
    fuzz_end();
    return 0;
}
