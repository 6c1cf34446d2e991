/*
 * safetensors.h - reader and writer for Hugging Face's safetensors format
 * (huggingface/safetensors, docs "Format"): an 8-byte little-endian header length N, N bytes of
 * JSON mapping each tensor name to {"dtype", "shape", "data_offsets": [begin, end]} (offsets
 * from the end of the header) plus an optional "__metadata__" object of strings, then the data.
 *
 * The reader validates everything before returning: the header length against the file and
 * a 100 MB cap (the reference implementation's), the JSON (cJSON, nesting capped by cJSON),
 * each dtype, shape (element counts overflow-checked) and byte range, and that no two tensors'
 * bytes overlap. Tensor data points into the map; nothing is copied.
 */
#ifndef CALGAE_SAFETENSORS_H
#define CALGAE_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

/* The dtypes a Llama checkpoint uses; others are refused by name. */
enum calgae_st_dtype { CALGAE_ST_F32 = 0, CALGAE_ST_F16 = 1, CALGAE_ST_BF16 = 2 };

#define CALGAE_ST_MAX_DIMS 4
#define CALGAE_ST_MAX_HEADER (100u << 20)

typedef struct calgae_st_tensor {
    char *name;                       /* NUL-terminated, owned */
    int dtype;                        /* enum calgae_st_dtype */
    int n_dims;                       /* 0..CALGAE_ST_MAX_DIMS, outermost first as in the file */
    int64_t shape[CALGAE_ST_MAX_DIMS];
    const uint8_t *data;              /* inside the buffer or map */
    size_t nbytes;
} calgae_st_tensor;

typedef struct calgae_safetensors {
    calgae_map map;                   /* empty when parsed from a caller's buffer */
    size_t n_tensors;
    calgae_st_tensor *tensors;
} calgae_safetensors;

/* Parses a whole safetensors file held in buf (which must outlive st). name is for messages. */
int calgae_safetensors_parse(calgae_safetensors *st, const uint8_t *buf, size_t len,
                             const char *name, char *err, size_t err_len);
/* Maps path and parses it. */
int calgae_safetensors_open(calgae_safetensors *st, const char *path, char *err, size_t err_len);
void calgae_safetensors_close(calgae_safetensors *st);
const calgae_st_tensor *calgae_safetensors_find(const calgae_safetensors *st, const char *name);
const char *calgae_st_dtype_name(int dtype);
size_t calgae_st_dtype_size(int dtype);

/* Writes n tensors (data referenced, not copied) to path through a temporary file in the same
 * folder renamed into place when complete; on failure nothing is left at path. */
int calgae_safetensors_write(const char *path, const calgae_st_tensor *t, size_t n,
                             char *err, size_t err_len);

#endif
