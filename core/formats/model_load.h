/*
 * model_load.h - reading a model file into a calgae_transformer (model.h). Everything that knows a
 * file format lives in formats/; the engine sees only the structure of model.h.
 */
#ifndef CALGAE_MODEL_LOAD_H
#define CALGAE_MODEL_LOAD_H

#include <stddef.h>

#include "model.h"

/* path: a model file (GGUF by magic, else llama2.c .bin) or a folder holding exactly one
 * *.gguf or one non-tokenizer *.bin. */
int calgae_transformer_load(calgae_transformer *m, const char *path, char *err, size_t err_len);

/* Format loaders (used by calgae_transformer_load). */
int calgae_transformer_load_gguf(calgae_transformer *m, const char *path, char *err, size_t err_len);
int calgae_transformer_load_bin(calgae_transformer *m, const char *path, char *err, size_t err_len);

#endif
