/*
 * quantize_recipe.h - llama-quantize's per-tensor type choice (llama.cpp src/llama-quant.cpp,
 * llama_tensor_get_type, for the llama architecture without experts and without an importance
 * matrix): a named mixture (Q4_K_M, Q3_K_S, ...) gives every matrix a default type and bumps
 * some to more bits by role and layer; the classifier gets Q6_K (Q8_0 stays Q8_0), and a type
 * whose block does not tile a row falls back to a smaller block (Q4_K -> Q5_0, ...).
 */
#ifndef CALGAE_QUANTIZE_RECIPE_H
#define CALGAE_QUANTIZE_RECIPE_H

#include <stdint.h>

/* A mixture by llama-quantize's name: the llama_ftype recorded as general.file_type and the
 * type every matrix starts from. */
typedef struct calgae_recipe {
    const char *name;      /* "Q4_K_M", as llama-quantize spells it */
    uint32_t ftype;        /* llama_ftype */
    uint32_t base;         /* enum calgae_type */
} calgae_recipe;

/* The roles llama-quantize tells apart. */
enum calgae_tensor_role {
    CALGAE_ROLE_TOKEN_EMBD,
    CALGAE_ROLE_OUTPUT,
    CALGAE_ROLE_ATTN_Q,
    CALGAE_ROLE_ATTN_K,
    CALGAE_ROLE_ATTN_V,
    CALGAE_ROLE_ATTN_OUTPUT,
    CALGAE_ROLE_FFN_GATE,
    CALGAE_ROLE_FFN_DOWN,
    CALGAE_ROLE_FFN_UP,
};

/* The mixture called name, compared without case ("q4_k_m" or "Q4_K_M"), or NULL. */
const calgae_recipe *calgae_recipe_by_name(const char *name);

/* Where a matrix sits: its role, its layer (ignored for the embeddings and the classifier),
 * and the model's shape. */
typedef struct calgae_tensor_place {
    enum calgae_tensor_role role;
    int layer, n_layers;
    int n_gqa;             /* query heads per KV head */
    int tied;              /* the model has no output.weight: token_embd plays both parts */
    int64_t cols;
} calgae_tensor_place;

/* The type llama-quantize writes for the matrix at p under r; pure: every matrix gets r->base
 * (llama-quantize --pure), still through the block-size fallback. */
uint32_t calgae_recipe_type(const calgae_recipe *r, int pure, const calgae_tensor_place *p);

#endif
