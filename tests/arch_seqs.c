/*
 * arch_seqs.c - a helper of arch_logits_test.py: the multi-sequence path (calgae_eval_seqs,
 * whose batches mix sequences, so keys and values go through the scatter of forward.c) on a
 * model. Usage: arch_seqs MODEL VOCAB OUT ID... : the ids are split into two sequences, the
 * first half as sequence 0 and the second as sequence 1; each step evaluates one token of each
 * in one call (sequence 1 first, so the batch is not in sequence order). OUT receives, for each
 * step, sequence 0's logits then sequence 1's (float32 [steps][2][n_vocab]). Uses calgae.h.
 */
#include <stdio.h>
#include <stdlib.h>

#include "calgae.h"

int main(int argc, char **argv)
{
    if (argc < 6 || (argc - 4) % 2 != 0) {
        fprintf(stderr, "usage: arch_seqs MODEL VOCAB OUT ID... (an even number of ids)\n");
        return 2;
    }
    const int steps = (argc - 4) / 2;
    calgae_model_params mp = calgae_model_default_params();
    mp.tokenizer = argv[2];
    calgae_model *m = NULL;
    calgae_context *cx = NULL;
    calgae_error e;
    calgae_context_params cp = calgae_context_default_params();
    cp.n_ctx = steps;
    cp.n_seq = 2;
    cp.n_threads = 1;
    if (calgae_model_load(argv[1], &mp, &m, &e) != CALGAE_OK ||
        calgae_context_create(m, &cp, &cx, &e) != CALGAE_OK) {
        fprintf(stderr, "arch_seqs: %s\n", e.message);
        calgae_model_free(m);
        return 1;
    }
    calgae_model_info info;
    calgae_model_get_info(m, &info);
    FILE *f = fopen(argv[3], "wb");
    int rc = f ? 0 : 1;
    for (int t = 0; rc == 0 && t < steps; t++) {
        const calgae_token tok[2] = {atoi(argv[4 + steps + t]), atoi(argv[4 + t])};
        const int seq[2] = {1, 0};
        if (calgae_eval_seqs(cx, tok, seq, 2, &e) != CALGAE_OK) {
            fprintf(stderr, "arch_seqs: %s\n", e.message);
            rc = 1;
            break;
        }
        for (int s = 0; s < 2; s++)
            if (fwrite(calgae_get_logits_seq(cx, s), sizeof(float), (size_t)info.n_vocab, f) !=
                (size_t)info.n_vocab)
                rc = 1;
    }
    if (f && fclose(f) != 0)
        rc = 1;
    calgae_context_free(cx);
    calgae_model_free(m);
    return rc;
}
