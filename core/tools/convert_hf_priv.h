/*
 * convert_hf_priv.h - what convert_hf.c (the folder, config.json, safetensors) takes from
 * convert_hf_tok.c (tokenizer.json and tokenizer_config.json). Internal to core/tools/.
 */
#ifndef CALGAE_CONVERT_HF_PRIV_H
#define CALGAE_CONVERT_HF_PRIV_H

#include <cJSON.h>

#include "tokenizer.h"

/* tokenizer.json for t in the shape the tokenizers library serialises (see convert_hf_tok.c),
 * or NULL when out of memory. */
cJSON *calgae_hf_tokenizer_json(const calgae_tokenizer *t);

/* tokenizer_config.json: add_bos/add_eos, BOS/EOS by text, chat_template when not NULL. */
cJSON *calgae_hf_tokenizer_config_json(const calgae_tokenizer *t, const char *chat_template);

#endif
