/*
 * perplexity.h - perplexity of a model on a token sequence, and the KL divergence of its
 * next-token distributions from a base model's, as llama.cpp's perplexity tool computes them
 * (tools/perplexity: perplexity() and kl_divergence()): the tokens are cut into windows of ctx
 * tokens, the first of each replaced by BOS where the vocabulary adds one; only the second half of each window is scored
 * (logits at positions ctx/2 .. ctx-2 against the next token), so that every scored token sees
 * at least ctx/2 tokens of context. KL is KL(base || model) = sum_v p_base(v) log(p_base(v) /
 * p_model(v)), and "same top-1" counts positions where both models' most likely token agree.
 * Uncertainties are standard errors of the mean over the scored positions, as llama.cpp prints.
 * Unlike llama.cpp, the base is run live beside the model instead of read from a saved file.
 */
#ifndef CALGAE_PERPLEXITY_H
#define CALGAE_PERPLEXITY_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "forward.h"
#include "progress.h"

typedef struct calgae_ppl_opts {
    int ctx;          /* window length, 4 .. the states' KV capacity */
    int max_windows;  /* 0: as many whole windows as the tokens make */
    int32_t bos;      /* the first token of each window becomes bos; -1: left as in the text
                       * (vocabularies with add_bos_token false, as llama-perplexity does) */
    calgae_progress_fn progress;
    void *progress_user;
    volatile sig_atomic_t *stop; /* non-zero: stop with an error */
    /* Optional: called for every scored position in order (window by window) with the model's
     * logits and the next token; what writes and reads llama.cpp's logits files (kldfile.h).
     * Non-zero stops the run with its message in err. */
    int (*row)(void *user, const float *logits, int vocab, int32_t target, char *err,
               size_t err_len);
    void *row_user;
} calgae_ppl_opts;

typedef struct calgae_ppl_result {
    int windows;
    int64_t scored;          /* positions scored */
    double nll, ppl, ppl_se; /* mean negative log-likelihood (nats), exp(nll), its error */
    int have_base;
    double base_ppl, base_ppl_se;
    double kld, kld_se;      /* mean KL(base || model), nats */
    double kld_max;
    double top1, top1_se;    /* share of positions whose argmax tokens agree */
} calgae_ppl_result;

/* Runs st (and base, if not NULL: same vocabulary, its own state) over ids[0..n). Needs at
 * least one whole window of tokens. */
int calgae_perplexity(calgae_state *st, calgae_state *base, const int32_t *ids, size_t n,
                      const calgae_ppl_opts *o, calgae_ppl_result *r, char *err, size_t err_len);

/* FNV-1a (64-bit) of a text: quantize records its calibration text's, perplexity warns when it
 * is asked to evaluate on that same text. */
uint64_t calgae_text_hash(const void *data, size_t n);

#endif
