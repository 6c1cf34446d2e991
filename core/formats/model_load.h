/*
 * model_load.h - reading a model file into a calgae_transformer (model.h). Everything that knows a
 * file format lives in formats/; the engine sees only the structure of model.h.
 */
#ifndef CALGAE_MODEL_LOAD_H
#define CALGAE_MODEL_LOAD_H

#include <stddef.h>

#include "model.h"

/* path: a model file (GGUF by magic, else llama2.c .bin), a Hugging Face folder (config.json),
 * a folder holding exactly one *.gguf or one non-tokenizer *.bin, or ORG/NAME when no such
 * file exists and huggingface_hub's cache has that repository (its refs/main snapshot). */
int calgae_transformer_load(calgae_transformer *m, const char *path, char *err, size_t err_len);

/* huggingface_hub's cache folder: $HF_HUB_CACHE, else $HF_HOME/hub, else
 * ~/.cache/huggingface/hub. 0, or -1 when none is known. */
int calgae_hub_cache_dir(char *out, size_t len);

/* Format loaders (used by calgae_transformer_load). */
int calgae_transformer_load_gguf(calgae_transformer *m, const char *path, char *err, size_t err_len);
int calgae_transformer_load_bin(calgae_transformer *m, const char *path, char *err, size_t err_len);

#endif
