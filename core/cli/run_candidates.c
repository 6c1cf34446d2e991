/*
 * run_candidates.c - N answers in one batch (run_candidates.h). The prompt is evaluated once,
 * in sequence 0, and copied to the others (calgae_context_seq_copy); then each step samples
 * one token per unfinished sequence (calgae_sampler_sample_seq, a sampler per sequence) and
 * evaluates all of them in a single calgae_eval_seqs call. A sequence ends at EOS or BOS (as
 * `calgae run` does) or after max_tokens.
 */
#include "run_candidates.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

int calgae_generate_candidates(calgae_session *s, const int32_t *ids, int n_ids,
                               const calgae_sampler_params *sp, int n, int max_tokens,
                               char **answers, double *gen_ms, int *tokens, char *err,
                               size_t err_len)
{
    const calgae_vocab *v = calgae_model_vocab(s->lm);
    const calgae_token eos = calgae_vocab_eos(v), bos = calgae_vocab_bos(v);
    calgae_sampler **smp = calloc((size_t)n, sizeof *smp);
    calgae_decoder **dec = calloc((size_t)n, sizeof *dec);
    size_t *len = calloc((size_t)n, sizeof *len), *cap = calloc((size_t)n, sizeof *cap);
    int *done = calloc((size_t)n, sizeof *done), *seqs = calloc((size_t)n, sizeof *seqs);
    calgae_token *next = calloc((size_t)n, sizeof *next);
    calgae_error e = {.status = CALGAE_OK};
    int rc = -1;
    *tokens = 0;
    for (int i = 0; i < n; i++)
        answers[i] = NULL;
    if (!smp || !dec || !len || !cap || !done || !seqs || !next) {
        calgae_fail(err, err_len, "out of memory for %d candidates", n);
        goto out;
    }
    for (int i = 0; i < n; i++) {
        calgae_sampler_params p = *sp;
        p.seed = sp->seed + (uint64_t)i;
        if (calgae_sampler_create(v, &p, &smp[i], &e) != CALGAE_OK ||
            calgae_decoder_create(v, &dec[i], &e) != CALGAE_OK)
            goto out;
        if (!(answers[i] = calloc(1, 1)))
            goto oom;
        cap[i] = 1;
    }
    for (int i = 0; i < n; i++)
        if (calgae_context_seq_truncate(s->cx, i, 0, &e) != CALGAE_OK)
            goto out;
    for (int i = 0; i < n; i++) /* the prompt counts for the repetition penalty, as in run */
        for (int j = 0; j < n_ids; j++)
            calgae_sampler_accept(smp[i], ids[j]);
    if (calgae_eval(s->cx, ids, n_ids, &e) != CALGAE_OK)
        goto out;
    for (int i = 1; i < n; i++)
        if (calgae_context_seq_copy(s->cx, 0, i, &e) != CALGAE_OK)
            goto out;
    const double t0 = calgae_now_ms();
    for (int step = 0; step < max_tokens; step++) {
        int m = 0;
        for (int i = 0; i < n; i++) {
            if (done[i])
                continue;
            calgae_token t = calgae_sampler_sample_seq(smp[i], s->cx, i);
            if (t < 0 || t == eos || t == bos) {
                done[i] = 1;
                continue;
            }
            char text[CALGAE_DECODE_MAX];
            size_t k = calgae_decoder_push(dec[i], t, text, sizeof text);
            if (len[i] + k + 1 > cap[i]) {
                size_t c = cap[i] * 2 + k + 64;
                char *b = realloc(answers[i], c);
                if (!b)
                    goto oom;
                answers[i] = b;
                cap[i] = c;
            }
            memcpy(answers[i] + len[i], text, k);
            len[i] += k;
            answers[i][len[i]] = '\0';
            ++*tokens;
            if (calgae_context_seq_pos(s->cx, i) >= calgae_context_size(s->cx)) {
                done[i] = 1;
                continue;
            }
            next[m] = t;
            seqs[m++] = i;
        }
        if (m == 0 || step + 1 == max_tokens)
            break;
        if (calgae_eval_seqs(s->cx, next, seqs, m, &e) != CALGAE_OK)
            goto out;
    }
    *gen_ms = calgae_now_ms() - t0;
    rc = 0;
    goto out;
oom:
    calgae_fail(err, err_len, "out of memory generating %d candidates", n);
out:
    if (rc != 0 && e.status != CALGAE_OK)
        snprintf(err, err_len, "%s", e.message);
    if (rc != 0)
        for (int i = 0; i < n; i++) {
            free(answers[i]);
            answers[i] = NULL;
        }
    for (int i = 0; smp && i < n; i++)
        calgae_sampler_free(smp[i]);
    for (int i = 0; dec && i < n; i++)
        calgae_decoder_free(dec[i]);
    free(smp);
    free(dec);
    free(len);
    free(cap);
    free(done);
    free(seqs);
    free(next);
    return rc;
}
