/*
 * convert.h - write a loaded model as a GGUF file that llama.cpp loads: llama.* hyperparameter
 * keys, tokenizer.ggml.* vocabulary (SentencePiece spaces as U+2581), llama.cpp tensor names,
 * matrices in the requested type and norms in F32.
 */
#ifndef CALGAE_CONVERT_H
#define CALGAE_CONVERT_H

#include <stddef.h>
#include <stdint.h>

#include "gguf.h"
#include "model.h"
#include "tokenizer.h"

/* type: F32, F16, Q8_0, Q4_0 or Q4_1 for the matrices. A matrix whose rows are not a whole number of
 * 32-blocks stays F32 under a block type (llama.cpp's rule: ggml cannot store it otherwise).
 * Writes through a temporary file: on failure nothing is left at out_path. */
int calgae_convert_to_gguf(const calgae_transformer *m, const calgae_tokenizer *t, uint32_t type,
                           const char *out_path, char *err, size_t err_len);

/* As type: every matrix keeps its own type and its bytes are copied unchanged (no re-rounding);
 * general.file_type is m->file_type's. `calgae distill` writes its trained quantized students
 * so, with general.quantization_version 2 as `calgae quantize` writes. */
#define CALGAE_CONVERT_KEEP UINT32_MAX

/* The metadata both converters write, in two calls because `calgae quantize` (quantize_write.c)
 * adds keys of its own between them. Each returns 0, or nonzero where the writer refused a key
 * (it records why).
 *
 * add_hparams: general.architecture, general.name (m's file name) and general.file_type
 * (llama.cpp's llama_ftype for matrices of `type`); general.quantization_version unless
 * quantization_version is 0; the llama.* hyperparameters.
 * add_vocab: tokenizer.ggml.*, a SentencePiece ("llama") vocabulary. */
int calgae_convert_add_hparams(calgae_gguf_writer *w, const calgae_transformer *m, uint32_t type,
                               uint32_t quantization_version);
int calgae_convert_add_vocab(calgae_gguf_writer *w, const calgae_tokenizer *t);

#endif
