/*
 * types.c - the type table (see types.h). Rows are indexed by ggml's type id, so a lookup is one
 * bounds check; ids the table lacks are rows without a name. Sizes come from the block structs
 * of calgae_plugin.h (sizeof, _Alignof), which static assertions there pin to ggml's layouts,
 * so no byte count is written twice.
 */
#include "types.h"

#include <stdalign.h>
#include <string.h>
#include <strings.h>

#include "blocks.h"
#include "kblocks.h"

/* ---- Row conversions -------------------------------------------------------------------- */

/* The plain float types convert here; the block types go to blocks.c, whose typed functions
 * are the ones proofs/ reads, wrapped so that every row has the same signature. */

static void f32_to_float(const void *x, float *y, int64_t n)
{
    memcpy(y, x, (size_t)n * sizeof(float));
}

static void f32_from_float(const float *x, void *y, int64_t n)
{
    memcpy(y, x, (size_t)n * sizeof(float));
}

static void f16_to_float(const void *x, float *y, int64_t n)
{
    const calgae_fp16 *h = x;
    for (int64_t i = 0; i < n; i++)
        y[i] = calgae_fp16_to_fp32(h[i]);
}

static void f16_from_float(const float *x, void *y, int64_t n)
{
    calgae_fp16 *h = y;
    for (int64_t i = 0; i < n; i++)
        h[i] = calgae_fp32_to_fp16(x[i]);
}

#define BLOCK_ROWS(t)                                                                        \
    static void t##_to_float(const void *x, float *y, int64_t n)                              \
    {                                                                                          \
        calgae_dequantize_row_##t(x, y, n);                                                    \
    }                                                                                          \
    static void t##_from_float(const float *x, void *y, int64_t n)                            \
    {                                                                                          \
        calgae_quantize_row_##t(x, y, n);                                                      \
    }
BLOCK_ROWS(q8_0)
BLOCK_ROWS(q4_0)
BLOCK_ROWS(q4_1)
BLOCK_ROWS(q5_0)
BLOCK_ROWS(q5_1)
BLOCK_ROWS(q8_k)
BLOCK_ROWS(bf16)
BLOCK_ROWS(q2_k)
BLOCK_ROWS(q3_k)
BLOCK_ROWS(q4_k)
BLOCK_ROWS(q5_k)
BLOCK_ROWS(q6_k)
BLOCK_ROWS(iq4_nl)
BLOCK_ROWS(iq4_xs)

/* ---- The table -------------------------------------------------------------------------- */

#define SLOT(field) offsetof(calgae_plugin, field)

/* One more than the largest id in the table (ggml's ids are small and dense). */
#define TYPE_IDS 40

static const calgae_type_info table[TYPE_IDS] = {
    [CALGAE_TYPE_F32] = {CALGAE_TYPE_F32, "F32", 1, sizeof(float), alignof(float),
                         f32_to_float, f32_from_float, CALGAE_TYPE_F32,
                         SLOT(matvec_f32), SLOT(matmul_f32), 0, 0, {0}},
    [CALGAE_TYPE_F16] = {CALGAE_TYPE_F16, "F16", 1, sizeof(calgae_fp16), alignof(calgae_fp16),
                         f16_to_float, f16_from_float, CALGAE_TYPE_F32,
                         SLOT(matvec_f16), SLOT(matmul_f16), 1, 0, {0}},
    /* The block types. Each has the products' slots (Q4_0, Q4_1, Q8_0: ABI 1.0-1.1; Q4_K, Q6_K:
     * 1.3; the rest 1.4); the activation form and llama_ftype are ggml's (for the K types the
     * _S mixture's ftype, the one a file of nothing but that type would carry). The last
     * columns name the block's fp16 scale fields, which the loader checks for NaN/Inf. */
#define BLOCKS(id, t, blck, act, ftype, ...)                                                  \
    [CALGAE_TYPE_##id] = {CALGAE_TYPE_##id, #id, blck, sizeof(calgae_block_##t),               \
                          alignof(calgae_block_##t), t##_to_float, t##_from_float,             \
                          CALGAE_TYPE_##act, SLOT(matvec_##t), SLOT(matmul_##t), ftype,        \
                          __VA_ARGS__}
#define D(t, d) 1, {offsetof(calgae_block_##t, d)}
#define DM(t, d, m) 2, {offsetof(calgae_block_##t, d), offsetof(calgae_block_##t, m)}
    BLOCKS(Q4_0, q4_0, CALGAE_QK, Q8_0, 2, D(q4_0, d)),
    BLOCKS(Q4_1, q4_1, CALGAE_QK, Q8_0, 3, DM(q4_1, d, m)),
    BLOCKS(Q8_0, q8_0, CALGAE_QK, Q8_0, 7, D(q8_0, d)),
    BLOCKS(Q5_0, q5_0, CALGAE_QK, Q8_0, 8, D(q5_0, d)),
    BLOCKS(Q5_1, q5_1, CALGAE_QK, Q8_0, 9, DM(q5_1, d, m)),
    BLOCKS(Q2_K, q2_k, CALGAE_QK_K, Q8_K, 10, DM(q2_k, d, dmin)),
    BLOCKS(Q3_K, q3_k, CALGAE_QK_K, Q8_K, 11, D(q3_k, d)),
    BLOCKS(Q4_K, q4_k, CALGAE_QK_K, Q8_K, 14, DM(q4_k, d, dmin)),
    BLOCKS(Q5_K, q5_k, CALGAE_QK_K, Q8_K, 16, DM(q5_k, d, dmin)),
    BLOCKS(Q6_K, q6_k, CALGAE_QK_K, Q8_K, 18, D(q6_k, d)),
    BLOCKS(IQ4_NL, iq4_nl, CALGAE_QK, Q8_0, 25, D(iq4_nl, d)),
    BLOCKS(IQ4_XS, iq4_xs, CALGAE_QK_K, Q8_K, 30, D(iq4_xs, d)),
    /* Q8_K: the K types' activations only, never a weight (no slots; a float scale) */
    [CALGAE_TYPE_Q8_K] = {CALGAE_TYPE_Q8_K, "Q8_K", CALGAE_QK_K, sizeof(calgae_block_q8_k),
                          alignof(calgae_block_q8_k), q8_k_to_float, q8_k_from_float,
                          CALGAE_TYPE_Q8_K, 0, 0, 0, 0, {0}},
    /* BF16's products take floats (the ABI 1.4 slot; ggml's vec_dot_type is BF16) */
    [CALGAE_TYPE_BF16] = {CALGAE_TYPE_BF16, "BF16", 1, sizeof(calgae_bf16), alignof(calgae_bf16),
                          bf16_to_float, bf16_from_float, CALGAE_TYPE_F32, SLOT(matvec_bf16),
                          SLOT(matmul_bf16), 32, 0, {0}},
#undef BLOCKS
#undef D
#undef DM
};

const calgae_type_info *calgae_type_traits(uint32_t type)
{
    return type < TYPE_IDS && table[type].name ? &table[type] : NULL;
}

const char *calgae_type_name(uint32_t type)
{
    const calgae_type_info *t = calgae_type_traits(type);
    return t ? t->name : "unknown";
}

int calgae_type_by_name(const char *name, uint32_t *type)
{
    for (uint32_t i = 0; i < TYPE_IDS; i++) {
        if (table[i].name && strcasecmp(table[i].name, name) == 0) {
            *type = i;
            return 0;
        }
    }
    return -1;
}

int calgae_type_row_bytes(uint32_t type, int64_t n, size_t *out)
{
    const calgae_type_info *t = calgae_type_traits(type);
    if (!t || n <= 0 || n % t->blck_size != 0)
        return -1;
    const uint64_t blocks = (uint64_t)(n / t->blck_size);
    if (blocks > SIZE_MAX / t->type_size)
        return -1;
    *out = (size_t)blocks * t->type_size;
    return 0;
}

int calgae_type_has_products(uint32_t type)
{
    const calgae_type_info *t = calgae_type_traits(type);
    return t && t->matvec_slot != 0 && t->matmul_slot != 0;
}

int calgae_dequantize_row(uint32_t type, const void *x, float *y, int64_t n)
{
    const calgae_type_info *t = calgae_type_traits(type);
    if (!t || !t->to_float || n < 0 || n % t->blck_size != 0)
        return -1;
    t->to_float(x, y, n);
    return 0;
}

int calgae_quantize_row(uint32_t type, const float *x, void *y, int64_t n)
{
    const calgae_type_info *t = calgae_type_traits(type);
    if (!t || !t->from_float || n < 0 || n % t->blck_size != 0)
        return -1;
    t->from_float(x, y, n);
    return 0;
}

/* The scale fields are the table's (n_scales, scale_off): those ggml's validate_row_data
 * (ggml.c/ggml-quants.c) checks for NaN and Inf. */
int64_t calgae_type_bad_scale(uint32_t type, const void *data, size_t nbytes)
{
    const calgae_type_info *t = calgae_type_traits(type);
    if (!t || t->n_scales == 0)
        return -1;
    const unsigned char *p = data;
    const size_t blocks = nbytes / t->type_size;
    for (size_t b = 0; b < blocks; b++) {
        for (int k = 0; k < t->n_scales; k++) {
            uint16_t h;
            memcpy(&h, p + b * t->type_size + t->scale_off[k], sizeof h);
            if ((h & 0x7c00u) == 0x7c00u) /* all-ones exponent: Inf or NaN */
                return (int64_t)b;
        }
    }
    return -1;
}
