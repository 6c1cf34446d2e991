/*
 * convert_hf.h - write a loaded model as a Hugging Face folder (the layout transformers'
 * save_pretrained writes and hf.h reads): config.json, model.safetensors or shards with
 * model.safetensors.index.json, tokenizer.json and tokenizer_config.json.
 */
#ifndef CALGAE_CONVERT_HF_H
#define CALGAE_CONVERT_HF_H

#include <stddef.h>

#include "model.h"
#include "safetensors.h"
#include "tokenizer.h"

/* dtype: enum calgae_st_dtype for every tensor. shards: 1 for model.safetensors, more for that
 * many model-0000i-of-0000N.safetensors files (layers split evenly) and the index. The folder
 * is built beside out_dir and renamed into place when complete; an existing out_dir is refused
 * and left alone. SentencePiece and byte-level BPE vocabularies are both written;
 * chat_template (the GGUF's tokenizer.chat_template, or NULL) goes to tokenizer_config.json. */
int calgae_convert_to_hf(const calgae_transformer *m, const calgae_tokenizer *t,
                         const char *chat_template, int dtype, int shards, const char *out_dir,
                         char *err, size_t err_len);

#endif
