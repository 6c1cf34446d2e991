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

/* Where an observer sees activations: the input of each linear layer, after whatever op feeds
 * it (what activation-aware quantization measures). CALGAE_SITE_OUTPUT is the classifier's
 * input, after the final RMSNorm, reported with layer == n_layers. */
enum calgae_site {
    CALGAE_SITE_ATTN_IN,  /* after the attention RMSNorm: input of Q, K, V */
    CALGAE_SITE_ATTN_OUT, /* attention output: input of wo */
    CALGAE_SITE_FFN_IN,   /* after the FFN RMSNorm: input of gate and up */
    CALGAE_SITE_FFN_MID,  /* after SwiGLU: input of down */
    CALGAE_SITE_OUTPUT,   /* after the final RMSNorm: input of the classifier */
    CALGAE_SITE_COUNT
};

/* x holds n_tok rows of width floats, valid only during the call. Called on the thread that
 * runs calgae_forward, between products. */
typedef void (*calgae_observer_fn)(void *user, int layer, int site, const float *x, int n_tok,
                                   int width);

typedef struct calgae_state {
    const calgae_transformer *model;
    const calgae_backends *be;
    calgae_pool *pool;
    int ctx;       /* KV cache capacity in positions, per sequence */
    int max_batch; /* most tokens per calgae_forward call */
    int n_seq;     /* sequences, each with a KV cache of ctx positions */
    /* activations, [max_batch][width] */
    float *x, *xb, *xb2, *q, *hb, *hb2;
    float *att;    /* [threads][ctx] attention scores, one row per worker */
    float *cs;     /* [max_batch][n_rot] RoPE cosines and sines */
    void *xq;      /* [max_batch] Q8_0 or Q8_K activation rows (block products) */
    float *xr;     /* [max_batch][widest] activations rounded to BF16; NULL without BF16 matrices */
    float *key_cache, *value_cache; /* [n_seq][layers][ctx][kv_dim] */
    float *kbuf, *vbuf; /* [max_batch][kv_dim] keys and values of a batch that spans sequences */
    int *tok_seq, *tok_pos; /* [max_batch] the current call's sequence and position per token */
    float *logits; /* [max_batch][vocab] */
    /* optional: NULL after calgae_state_init; set it to watch every linear layer's input */
    calgae_observer_fn observe;
    void *observe_user;
} calgae_state;

/* ctx: KV capacity (capped by the model's context length by the caller). */
int calgae_state_init(calgae_state *s, const calgae_transformer *m, const calgae_backends *be,
                      calgae_pool *pool, int ctx, int max_batch, char *err, size_t err_len);
/* The same with n_seq independent sequences (n_seq KV caches of ctx positions each). */
int calgae_state_init_seqs(calgae_state *s, const calgae_transformer *m,
                           const calgae_backends *be, calgae_pool *pool, int ctx, int max_batch,
                           int n_seq, char *err, size_t err_len);
void calgae_state_free(calgae_state *s);

/* Feeds tokens[0..n) (1 <= n <= max_batch) at positions pos .. pos + n - 1. Afterwards
 * s->logits holds, with all_logits, one row per token; otherwise one row, for the last
 * token. Returns 0, or -1 with a message (position past the cache, bad token id). */
int calgae_forward(calgae_state *s, const int32_t *tokens, int n, int pos, int all_logits,
                   char *err, size_t err_len);

/* One forward pass over tokens of several sequences: token t goes to sequence seq[t] at
 * position pos[t] (a sequence's positions before pos[t] must be in its cache already, or come
 * earlier in this batch). Afterwards s->logits holds one row for each token with want[t] != 0,
 * in token order (want NULL: every token). Each product reads the weights once for the whole
 * batch, which is what makes N sequences cheaper together than one after another. */
int calgae_forward_seqs(calgae_state *s, const int32_t *tokens, const int *seq, const int *pos,
                        const unsigned char *want, int n, char *err, size_t err_len);

#endif
