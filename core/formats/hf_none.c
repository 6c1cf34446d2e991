/*
 * hf_none.c - the Hugging Face folder reader in builds without cJSON (the minimal aarch64
 * cross build): folders are refused with a clear message; everything else is unchanged.
 */
#include <stdlib.h>

#include "convert_hf.h"
#include "hf.h"
#include "safetensors.h"

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

int calgae_convert_to_hf(const calgae_transformer *m, const calgae_tokenizer *t,
                         const char *chat_template, int dtype, int shards, const char *out_dir,
                         char *err, size_t err_len)
{
    (void)m, (void)t, (void)chat_template, (void)dtype, (void)shards;
    return calgae_fail(err, err_len, "%s: Hugging Face folders need cJSON, absent in this "
                       "build", out_dir);
}

/* convert --to-hf names its dtype in a message; without cJSON no folder is ever written */
const char *calgae_st_dtype_name(int dtype)
{
    (void)dtype;
    return "none";
}
