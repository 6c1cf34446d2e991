/*
 * forward.h - the Llama forward pass over a batch of tokens with a KV cache, llama2.c's
 * transformer() generalised to grouped-query attention, batches (prompt processing as
 * matrix x matrix) and any weight type the plugins serve.
 */
#ifndef CALGAE_FORWARD_H
#define CALGAE_FORWARD_H

#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "model.h"
#include "pool.h"

typedef struct calgae_state {
    const calgae_model *model;
    const calgae_backends *be;
    calgae_pool *pool;
    int ctx;       /* KV cache capacity in positions */
    int max_batch; /* most tokens per calgae_forward call */
    /* activations, [max_batch][width] */
    float *x, *xb, *xb2, *q, *hb, *hb2;
    float *att;    /* [threads][ctx] attention scores, one row per worker */
    float *cs;     /* [max_batch][n_rot] RoPE cosines and sines */
    void *xq;      /* [max_batch] Q8_0 activation rows for the block-type products */
    float *key_cache, *value_cache; /* [layers][ctx][kv_dim] */
    float *logits; /* [max_batch][vocab] */
} calgae_state;

/* ctx: KV capacity (capped by the model's context length by the caller). */
int calgae_state_init(calgae_state *s, const calgae_model *m, const calgae_backends *be,
                      calgae_pool *pool, int ctx, int max_batch, char *err, size_t err_len);
void calgae_state_free(calgae_state *s);

/* Feeds tokens[0..n) (1 <= n <= max_batch) at positions pos .. pos + n - 1. Afterwards
 * s->logits holds, with all_logits, one row per token; otherwise one row, for the last
 * token. Returns 0, or -1 with a message (position past the cache, bad token id). */
int calgae_forward(calgae_state *s, const int32_t *tokens, int n, int pos, int all_logits,
                   char *err, size_t err_len);

#endif
