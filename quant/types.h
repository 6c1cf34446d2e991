/*
 * types.h - the type table: every number type Calgae reads, writes or multiplies, one row each,
 * and the only place that knows a type's sizes. A row holds ggml's type id (enum calgae_type in
 * calgae_plugin.h, the ids GGUF files carry), ggml's name, the block size (values per block, 1
 * for plain floats), the bytes per block, the alignment the data needs, the row-to-float and
 * float-to-row functions, the form the products take activations in, and the plugin slots that
 * multiply it (as offsets into calgae_plugin, so that this layer needs nothing from core/).
 * The layout is ggml's type_traits (ggml.c): blck_size, type_size, to_float, from_float_ref,
 * vec_dot_type.
 *
 * Adding a type is one row in types.c (plus its block struct in calgae_plugin.h, its reference
 * functions in blocks.c and its kernels); the file readers, the loader, the engine, the plugin
 * host, conversion and quantization all ask here.
 */
#ifndef CALGAE_TYPES_H
#define CALGAE_TYPES_H

#include <stddef.h>
#include <stdint.h>

#include "calgae_plugin.h"

/* n values (n a multiple of the block size) from the type's row form to floats, and back. */
typedef void (*calgae_to_float_fn)(const void *x, float *y, int64_t n);
typedef void (*calgae_from_float_fn)(const float *x, void *y, int64_t n);

typedef struct calgae_type_info {
    uint32_t type;      /* enum calgae_type, ggml's ggml_type id */
    const char *name;   /* ggml's spelling in GGUF tools ("Q4_0"); names match without case */
    int64_t blck_size;  /* values per block; 1 for F32 and F16 */
    size_t type_size;   /* bytes per block */
    size_t align;       /* the alignment the row data needs: that of the block's widest field */
    calgae_to_float_fn to_float;
    calgae_from_float_fn from_float; /* ggml's reference rounding; NULL where there is none */
    /* The form the products take the activations in: F32 for the float types, Q8_0 for ggml's
     * 32-value block types (the quantize_q8_0 slot makes it once per product), Q8_K for the
     * K types (the quantize_q8_k slot; ABI 1.3). */
    uint32_t vec_dot_type;
    /* offsetof(calgae_plugin, matvec_...) and of matmul_..., the slots that multiply a weight of
     * this type; 0 (the table's size field, never a kernel) where no slot does. */
    size_t matvec_slot;
    size_t matmul_slot;
    /* llama.cpp's llama_ftype for general.file_type when every matrix is of this type
     * (LLAMA_FTYPE_ALL_F32 = 0, MOSTLY_F16 = 1, MOSTLY_Q4_0 = 2, ...). */
    uint32_t file_type;
    /* The block's binary16 scale fields (d, and the minimum's m or dmin where it has one): how
     * many (0 for F32, F16, BF16 and Q8_K, whose scale is a float) and their offsets in the
     * block. calgae_type_bad_scale reads them. */
    int n_scales;
    size_t scale_off[2];
} calgae_type_info;

/* The largest block of any row, in values, so that callers can hold one block (or a chunk of
 * plain floats) on the stack; the table's test checks every row against it. */
#define CALGAE_TYPE_MAX_BLCK 256

/* The row of type, or NULL for an id the table does not have. */
const calgae_type_info *calgae_type_traits(uint32_t type);
/* ggml's name of type ("Q4_0"), or "unknown". */
const char *calgae_type_name(uint32_t type);
/* The type called name, compared without case ("q4_0" and "Q4_0" both): 0, or -1. */
int calgae_type_by_name(const char *name, uint32_t *type);

/* Bytes of a row of n values: 0 with *out set, or -1 (out untouched) if the type is unknown,
 * n <= 0, n is not whole blocks, or the size overflows size_t. */
int calgae_type_row_bytes(uint32_t type, int64_t n, size_t *out);
/* Whether rows of the type can be multiplied by a plugin (it has both product slots). */
int calgae_type_has_products(uint32_t type);

/* n values of any type in the table to floats, and floats to any type with a quantizer.
 * Returns -1 for a type without the function, n < 0, or n not whole blocks. */
int calgae_dequantize_row(uint32_t type, const void *x, float *y, int64_t n);
int calgae_quantize_row(uint32_t type, const float *x, void *y, int64_t n);

/* The first block of nbytes of type-`type` data whose fp16 scale (d, or m / dmin) is NaN or
 * Inf, or -1 where none is: the block types' part of ggml's validate_row_data (the float types
 * and Q8_K are not checked here). */
int64_t calgae_type_bad_scale(uint32_t type, const void *data, size_t nbytes);

#endif
