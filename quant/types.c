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
                         SLOT(matvec_f32), SLOT(matmul_f32), 0},
    [CALGAE_TYPE_F16] = {CALGAE_TYPE_F16, "F16", 1, sizeof(calgae_fp16), alignof(calgae_fp16),
                         f16_to_float, f16_from_float, CALGAE_TYPE_F32,
                         SLOT(matvec_f16), SLOT(matmul_f16), 1},
    [CALGAE_TYPE_Q4_0] = {CALGAE_TYPE_Q4_0, "Q4_0", CALGAE_QK, sizeof(calgae_block_q4_0),
                          alignof(calgae_block_q4_0), q4_0_to_float, q4_0_from_float,
                          CALGAE_TYPE_Q8_0, SLOT(matvec_q4_0), SLOT(matmul_q4_0), 2},
    [CALGAE_TYPE_Q4_1] = {CALGAE_TYPE_Q4_1, "Q4_1", CALGAE_QK, sizeof(calgae_block_q4_1),
                          alignof(calgae_block_q4_1), q4_1_to_float, q4_1_from_float,
                          CALGAE_TYPE_Q8_0, SLOT(matvec_q4_1), SLOT(matmul_q4_1), 3},
    [CALGAE_TYPE_Q8_0] = {CALGAE_TYPE_Q8_0, "Q8_0", CALGAE_QK, sizeof(calgae_block_q8_0),
                          alignof(calgae_block_q8_0), q8_0_to_float, q8_0_from_float,
                          CALGAE_TYPE_Q8_0, SLOT(matvec_q8_0), SLOT(matmul_q8_0), 7},
    /* Rows without product slots (ROW: only Q8_K, never a weight) would be widened to F32 by
     * the loader (model_gguf.c); ROWP rows have the ABI 1.4 slots, Q4_K and Q6_K (written
     * out) the ABI 1.3 ones. The
     * activation form and llama_ftype are ggml's (for the K types the _S mixture's ftype,
     * the one a file of nothing but that type would carry; Q8_K is never a file's type). */
#define ROW(id, t, blck, block, act, ftype)                                                   \
    [CALGAE_TYPE_##id] = {CALGAE_TYPE_##id, #id, blck, sizeof(block), alignof(block),         \
                          t##_to_float, t##_from_float, CALGAE_TYPE_##act, 0, 0, ftype}
    /* the same with the ABI 1.4 product slots */
#define ROWP(id, t, blck, block, act, ftype)                                                  \
    [CALGAE_TYPE_##id] = {CALGAE_TYPE_##id, #id, blck, sizeof(block), alignof(block),         \
                          t##_to_float, t##_from_float, CALGAE_TYPE_##act, SLOT(matvec_##t),  \
                          SLOT(matmul_##t), ftype}
    ROWP(Q5_0, q5_0, CALGAE_QK, calgae_block_q5_0, Q8_0, 8),
    ROWP(Q5_1, q5_1, CALGAE_QK, calgae_block_q5_1, Q8_0, 9),
    ROWP(Q2_K, q2_k, CALGAE_QK_K, calgae_block_q2_k, Q8_K, 10),
    ROWP(Q3_K, q3_k, CALGAE_QK_K, calgae_block_q3_k, Q8_K, 11),
    [CALGAE_TYPE_Q4_K] = {CALGAE_TYPE_Q4_K, "Q4_K", CALGAE_QK_K, sizeof(calgae_block_q4_k),
                          alignof(calgae_block_q4_k), q4_k_to_float, q4_k_from_float,
                          CALGAE_TYPE_Q8_K, SLOT(matvec_q4_k), SLOT(matmul_q4_k), 14},
    ROWP(Q5_K, q5_k, CALGAE_QK_K, calgae_block_q5_k, Q8_K, 16),
    [CALGAE_TYPE_Q6_K] = {CALGAE_TYPE_Q6_K, "Q6_K", CALGAE_QK_K, sizeof(calgae_block_q6_k),
                          alignof(calgae_block_q6_k), q6_k_to_float, q6_k_from_float,
                          CALGAE_TYPE_Q8_K, SLOT(matvec_q6_k), SLOT(matmul_q6_k), 18},
    ROW(Q8_K, q8_k, CALGAE_QK_K, calgae_block_q8_k, Q8_K, 0),
    ROWP(IQ4_NL, iq4_nl, CALGAE_QK, calgae_block_iq4_nl, Q8_0, 25),
    ROWP(IQ4_XS, iq4_xs, CALGAE_QK_K, calgae_block_iq4_xs, Q8_K, 30),
    /* BF16's products take floats (the ABI 1.4 slot; ggml's vec_dot_type is BF16) */
    [CALGAE_TYPE_BF16] = {CALGAE_TYPE_BF16, "BF16", 1, sizeof(calgae_bf16), alignof(calgae_bf16),
                          bf16_to_float, bf16_from_float, CALGAE_TYPE_F32, SLOT(matvec_bf16),
                          SLOT(matmul_bf16), 32},
#undef ROW
#undef ROWP
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

/* Where a block keeps its fp16 scales (d, and m or dmin): the fields ggml's validate_row_data
 * (ggml.c/ggml-quants.c) checks for NaN and Inf. 0 scales: a type it does not check this way. */
static int scale_offsets(uint32_t type, size_t off[2])
{
    switch (type) {
    case CALGAE_TYPE_Q8_0: off[0] = offsetof(calgae_block_q8_0, d); return 1;
    case CALGAE_TYPE_Q4_0: off[0] = offsetof(calgae_block_q4_0, d); return 1;
    case CALGAE_TYPE_Q5_0: off[0] = offsetof(calgae_block_q5_0, d); return 1;
    case CALGAE_TYPE_IQ4_NL: off[0] = offsetof(calgae_block_iq4_nl, d); return 1;
    case CALGAE_TYPE_IQ4_XS: off[0] = offsetof(calgae_block_iq4_xs, d); return 1;
    case CALGAE_TYPE_Q3_K: off[0] = offsetof(calgae_block_q3_k, d); return 1;
    case CALGAE_TYPE_Q6_K: off[0] = offsetof(calgae_block_q6_k, d); return 1;
    case CALGAE_TYPE_Q4_1:
        off[0] = offsetof(calgae_block_q4_1, d), off[1] = offsetof(calgae_block_q4_1, m);
        return 2;
    case CALGAE_TYPE_Q5_1:
        off[0] = offsetof(calgae_block_q5_1, d), off[1] = offsetof(calgae_block_q5_1, m);
        return 2;
    case CALGAE_TYPE_Q2_K:
        off[0] = offsetof(calgae_block_q2_k, d), off[1] = offsetof(calgae_block_q2_k, dmin);
        return 2;
    case CALGAE_TYPE_Q4_K:
        off[0] = offsetof(calgae_block_q4_k, d), off[1] = offsetof(calgae_block_q4_k, dmin);
        return 2;
    case CALGAE_TYPE_Q5_K:
        off[0] = offsetof(calgae_block_q5_k, d), off[1] = offsetof(calgae_block_q5_k, dmin);
        return 2;
    default: return 0;
    }
}

int64_t calgae_type_bad_scale(uint32_t type, const void *data, size_t nbytes)
{
    const calgae_type_info *t = calgae_type_traits(type);
    size_t off[2];
    const int n_off = t ? scale_offsets(type, off) : 0;
    if (n_off == 0)
        return -1;
    const unsigned char *p = data;
    const size_t blocks = nbytes / t->type_size;
    for (size_t b = 0; b < blocks; b++) {
        for (int k = 0; k < n_off; k++) {
            uint16_t h;
            memcpy(&h, p + b * t->type_size + off[k], sizeof h);
            if ((h & 0x7c00u) == 0x7c00u) /* all-ones exponent: Inf or NaN */
                return (int64_t)b;
        }
    }
    return -1;
}
