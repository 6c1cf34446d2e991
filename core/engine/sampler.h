/*
 * sampler.h - next-token choice: greedy at temperature 0, otherwise temperature, top-k and
 * top-p (nucleus) filtering and a draw from a seeded xorshift generator, as llama2.c samples,
 * with llama.cpp's top-k added before top-p, and llama.cpp's min-p and repeat penalty. The same
 * seed gives the same draws; with min-p and the penalty off, the same draws as without them.
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
    float min_p;          /* 0: off */
    float repeat_penalty; /* 1: off */
    int repeat_last_n;    /* tokens of history the penalty looks at; 0: off */
    int32_t *history;     /* [repeat_last_n] ring of the last tokens accepted */
    int n_history, history_pos;
    uint8_t *seen;        /* [vocab_size] scratch: penalized already */
} calgae_sampler_state;

int calgae_sampler_state_init(calgae_sampler_state *s, int vocab_size, float temperature, int top_k,
                        float top_p, uint64_t seed, char *err, size_t err_len);
void calgae_sampler_state_free(calgae_sampler_state *s);

/* llama.cpp's filters, after calgae_sampler_state_init (all off until this is called):
 *  - repeat penalty (repeat_penalty > 0, 1 = off): before anything else, each distinct token
 *    among the last repeat_last_n accepted (calgae_sampler_state_accept) has its logit divided by
 *    the penalty when positive, multiplied when not; it applies at temperature 0 too;
 *  - min-p (0 <= min_p < 1, 0 = off): after top-p, keep the tokens whose probability before
 *    temperature is at least min_p times the most likely one's (llama.cpp runs min-p before
 *    its temperature): logit >= max logit + ln(min_p). */
int calgae_sampler_state_set_filters(calgae_sampler_state *s, float min_p, float repeat_penalty,
                               int repeat_last_n, char *err, size_t err_len);

/* Adds tokens to the history the repeat penalty looks at: the prompt, then each token chosen. */
void calgae_sampler_state_accept(calgae_sampler_state *s, const int32_t *ids, size_t n);

/* Picks a token from logits[vocab_size]; logits are overwritten. */
int32_t calgae_sample(calgae_sampler_state *s, float *logits);

#endif
