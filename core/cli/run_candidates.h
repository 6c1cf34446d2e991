/*
 * run_candidates.h - `calgae run --execute --candidates N`: N answers to one prompt, each with
 * its own sampler seed, generated in one batch through the library's multi-sequence context
 * (calgae_eval_seqs: one forward pass over the N sequences' tokens per step).
 */
#ifndef CALGAE_RUN_CANDIDATES_H
#define CALGAE_RUN_CANDIDATES_H

#include <stddef.h>

#include "session.h"

/* Generates n answers (answers[i], malloc'd, NUL-terminated; the caller frees them) from
 * prompt tokens ids[0..n_ids), sampler i seeded with sp->seed + i, max_tokens each. *gen_ms is
 * the time of the whole generation after the prompt. 0, or -1 with a message. */
int calgae_generate_candidates(calgae_session *s, const int32_t *ids, int n_ids,
                               const calgae_sampler_params *sp, int n, int max_tokens,
                               char **answers, double *gen_ms, int *tokens, char *err,
                               size_t err_len);

#endif
