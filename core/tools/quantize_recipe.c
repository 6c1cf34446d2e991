/*
 * quantize_recipe.c - llama-quantize's mixtures (see quantize_recipe.h). The rules are the
 * facts of llama.cpp's llama_tensor_get_type_impl for a llama model without experts or an
 * importance matrix, restated per role; the counters llama.cpp keeps (i_attention_wv,
 * i_ffn_down) equal the layer index here because the writer visits layers in order.
 */
#include "quantize_recipe.h"

#include <stddef.h>
#include <strings.h>

#include "calgae_plugin.h"
#include "types.h"

/* llama_ftype values (llama.h) */
enum {
    FT_Q4_0 = 2, FT_Q4_1 = 3, FT_Q8_0 = 7, FT_Q5_0 = 8, FT_Q5_1 = 9, FT_Q2_K = 10,
    FT_Q3_K_S = 11, FT_Q3_K_M = 12, FT_Q3_K_L = 13, FT_Q4_K_S = 14, FT_Q4_K_M = 15,
    FT_Q5_K_S = 16, FT_Q5_K_M = 17, FT_Q6_K = 18, FT_IQ4_NL = 25, FT_IQ4_XS = 30, FT_BF16 = 32,
};

static const calgae_recipe recipes[] = {
    {"Q4_0", FT_Q4_0, CALGAE_TYPE_Q4_0},     {"Q4_1", FT_Q4_1, CALGAE_TYPE_Q4_1},
    {"Q8_0", FT_Q8_0, CALGAE_TYPE_Q8_0},     {"Q5_0", FT_Q5_0, CALGAE_TYPE_Q5_0},
    {"Q5_1", FT_Q5_1, CALGAE_TYPE_Q5_1},     {"Q2_K", FT_Q2_K, CALGAE_TYPE_Q2_K},
    {"Q3_K_S", FT_Q3_K_S, CALGAE_TYPE_Q3_K}, {"Q3_K_M", FT_Q3_K_M, CALGAE_TYPE_Q3_K},
    {"Q3_K_L", FT_Q3_K_L, CALGAE_TYPE_Q3_K}, {"Q4_K_S", FT_Q4_K_S, CALGAE_TYPE_Q4_K},
    {"Q4_K_M", FT_Q4_K_M, CALGAE_TYPE_Q4_K}, {"Q5_K_S", FT_Q5_K_S, CALGAE_TYPE_Q5_K},
    {"Q5_K_M", FT_Q5_K_M, CALGAE_TYPE_Q5_K}, {"Q6_K", FT_Q6_K, CALGAE_TYPE_Q6_K},
    {"IQ4_NL", FT_IQ4_NL, CALGAE_TYPE_IQ4_NL}, {"IQ4_XS", FT_IQ4_XS, CALGAE_TYPE_IQ4_XS},
    {"BF16", FT_BF16, CALGAE_TYPE_BF16},
};

const calgae_recipe *calgae_recipe_by_name(const char *name)
{
    for (size_t i = 0; i < sizeof recipes / sizeof recipes[0]; i++)
        if (strcasecmp(recipes[i].name, name) == 0)
            return &recipes[i];
    return NULL;
}

/* llama.cpp's use_more_bits: the first and last eighth of the layers and every third between */
static int more_bits(int i, int n)
{
    return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
}

static int is_block_quant(uint32_t type)
{
    const calgae_type_info *t = calgae_type_traits(type);
    return t && t->blck_size > 1;
}

static uint32_t attn_v_type(uint32_t ft, uint32_t t, const calgae_tensor_place *p)
{
    const int i = p->layer, n = p->n_layers;
    if (ft == FT_Q2_K)
        return p->n_gqa >= 4 ? CALGAE_TYPE_Q4_K : CALGAE_TYPE_Q3_K;
    if (ft == FT_Q3_K_M)
        return i < 2 ? CALGAE_TYPE_Q5_K : CALGAE_TYPE_Q4_K;
    if (ft == FT_Q3_K_L)
        return CALGAE_TYPE_Q5_K;
    if ((ft == FT_IQ4_NL || ft == FT_IQ4_XS) && p->n_gqa >= 4)
        return CALGAE_TYPE_Q5_K;
    if ((ft == FT_Q4_K_M || ft == FT_Q5_K_M) && more_bits(i, n))
        return CALGAE_TYPE_Q6_K;
    if (ft == FT_Q4_K_S && i < 4)
        return CALGAE_TYPE_Q5_K;
    return t;
}

static uint32_t ffn_down_type(uint32_t ft, uint32_t t, const calgae_tensor_place *p)
{
    const int i = p->layer, n = p->n_layers;
    switch (ft) {
    case FT_Q2_K: return CALGAE_TYPE_Q3_K;
    case FT_Q3_K_M: return i < n / 16 ? CALGAE_TYPE_Q5_K : CALGAE_TYPE_Q4_K;
    case FT_Q3_K_L: return CALGAE_TYPE_Q5_K;
    case FT_Q4_K_M: return more_bits(i, n) ? CALGAE_TYPE_Q6_K : t;
    case FT_IQ4_NL:
    case FT_IQ4_XS: return i < n / 8 ? CALGAE_TYPE_Q5_K : t;
    case FT_Q5_K_M: return more_bits(i, n) ? CALGAE_TYPE_Q6_K : t;
    case FT_Q4_K_S: return i < n / 8 ? CALGAE_TYPE_Q5_K : t;
    default: return t;
    }
}

static uint32_t attn_output_type(uint32_t ft, uint32_t t)
{
    switch (ft) {
    case FT_Q2_K: return CALGAE_TYPE_Q3_K;
    case FT_Q3_K_M: return CALGAE_TYPE_Q4_K;
    case FT_Q3_K_L: return CALGAE_TYPE_Q5_K;
    default: return t;
    }
}

/* llama.cpp's tensor_type_fallback: a 256-block type on rows that are not whole super-blocks
 * becomes a 32-block type of about the same size; rows not whole 32-blocks either become F16. */
static uint32_t fallback(uint32_t type, int64_t cols)
{
    const calgae_type_info *t = calgae_type_traits(type);
    if (!t || cols % t->blck_size == 0)
        return type;
    uint32_t f = type;
    switch (type) {
    case CALGAE_TYPE_IQ4_XS: f = CALGAE_TYPE_IQ4_NL; break;
    case CALGAE_TYPE_Q2_K:
    case CALGAE_TYPE_Q3_K: f = CALGAE_TYPE_Q4_0; break;
    case CALGAE_TYPE_Q4_K: f = CALGAE_TYPE_Q5_0; break;
    case CALGAE_TYPE_Q5_K: f = CALGAE_TYPE_Q5_1; break;
    case CALGAE_TYPE_Q6_K: f = CALGAE_TYPE_Q8_0; break;
    default: break;
    }
    return cols % calgae_type_traits(f)->blck_size == 0 ? f : CALGAE_TYPE_F16;
}

uint32_t calgae_recipe_type(const calgae_recipe *r, int pure, const calgae_tensor_place *p)
{
    uint32_t t = r->base;
    /* float mixtures (BF16) have no rules: ggml_is_quantized is false for them */
    if (!is_block_quant(t))
        return t;
    if (!pure) {
        const int as_output = p->role == CALGAE_ROLE_OUTPUT ||
                              (p->tied && p->role == CALGAE_ROLE_TOKEN_EMBD);
        if (as_output) {
            /* the classifier: Q8_0 where the row is not whole blocks of the base type, else
             * Q6_K unless the base is Q8_0 */
            const int64_t blck = calgae_type_traits(t)->blck_size;
            t = p->cols % blck != 0 ? CALGAE_TYPE_Q8_0 : t != CALGAE_TYPE_Q8_0 ? CALGAE_TYPE_Q6_K : t;
        } else if (p->role == CALGAE_ROLE_ATTN_V) {
            t = attn_v_type(r->ftype, t, p);
        } else if (p->role == CALGAE_ROLE_FFN_DOWN) {
            t = ffn_down_type(r->ftype, t, p);
        } else if (p->role == CALGAE_ROLE_ATTN_OUTPUT) {
            t = attn_output_type(r->ftype, t);
        }
    }
    return fallback(t, p->cols);
}
