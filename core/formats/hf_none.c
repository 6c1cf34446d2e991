/*
 * hf_none.c - the Hugging Face folder reader in builds without cJSON (the minimal aarch64
 * cross build): folders are refused with a clear message; everything else is unchanged.
 */
#include <stdlib.h>

#include "hf.h"

int calgae_hf_is_folder(const char *dir)
{
    (void)dir;
    return 0;
}

void calgae_hf_free(calgae_hf *h)
{
    (void)h;
}

const calgae_gguf *calgae_hf_meta(const calgae_hf *h)
{
    (void)h;
    return NULL;
}

int calgae_transformer_load_hf(calgae_transformer *m, const char *dir, char *err,
                               size_t err_len)
{
    (void)m;
    return calgae_fail(err, err_len, "%s: Hugging Face folders need cJSON, absent in this "
                       "build", dir);
}

int calgae_hf_load_tokenizer_json(calgae_tokenizer *t, const char *path, char *err,
                                  size_t err_len)
{
    (void)t;
    return calgae_fail(err, err_len, "%s: tokenizer.json needs cJSON, absent in this build",
                       path);
}
