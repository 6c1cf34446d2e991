/*
 * sampler.h - next-token choice: greedy at temperature 0, otherwise temperature, top-k and
 * top-p (nucleus) filtering and a draw from a seeded xorshift generator, as llama2.c samples,
 * with llama.cpp's top-k added before top-p. The same seed gives the same draws.
 */
#ifndef CALGAE_SAMPLER_H
#define CALGAE_SAMPLER_H

#include <stddef.h>
#include <stdint.h>

typedef struct calgae_prob {
    float p;
    int32_t id;
} calgae_prob;

typedef struct calgae_sampler_state {
    int vocab_size;
    float temperature; /* 0: greedy */
    int top_k;         /* 0 or >= vocab: off */
    float top_p;       /* 1: off */
    uint64_t rng;
    calgae_prob *cand; /* [vocab_size] scratch */
} calgae_sampler_state;

int calgae_sampler_state_init(calgae_sampler_state *s, int vocab_size, float temperature, int top_k,
                        float top_p, uint64_t seed, char *err, size_t err_len);
void calgae_sampler_state_free(calgae_sampler_state *s);

/* Picks a token from logits[vocab_size]; logits are overwritten. */
int32_t calgae_sample(calgae_sampler_state *s, float *logits);

#endif
