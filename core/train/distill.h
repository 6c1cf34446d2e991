/*
 * distill.h - the engine behind `calgae distill`: knowledge distillation (Hinton et al., 2015)
 * from a teacher model into
 *   - a quantized copy of it (quantization-aware distillation): only the floats the block format
 *     leaves free train (RMSNorm weights, each block's scale, Q4_1's minimums); the codes stay
 *     as `calgae quantize` chose them. The student's matrices are its codes times the trainable
 *     scales (plus minimums), exactly, so the gradient reaches each scale as the sum over its
 *     block of code x weight gradient: no straight-through estimate is needed for the scales;
 *   - or a smaller model of a given shape from a seeded random start (classic distillation),
 *     on alpha * T^2 * KL(teacher at T || student at T) + (1 - alpha) * CE(the text's tokens).
 * Training windows are BOS followed by `seq` tokens from a random place in the text (a seeded
 * stream); held-out loss is measured on consecutive windows of the evaluation text.
 */
#ifndef CALGAE_DISTILL_H
#define CALGAE_DISTILL_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "pool.h"
#include "tokenizer.h"
#include "train.h"

typedef struct calgae_distill_stats {
    int step, steps;          /* steps done, of steps */
    double loss;              /* the last step's training loss */
    double tokens_per_s;      /* training tokens per second so far (forward + backward) */
    double eta_s;             /* seconds left at that rate */
    int has_eval;             /* eval_* below are fresh */
    double eval_ce, eval_kl;  /* per token on the held-out text */
} calgae_distill_stats;

typedef struct calgae_distill_opts {
    const calgae_transformer *teacher;
    const calgae_transformer *qstudent;  /* quantization-aware: the quantized copy, or NULL */
    const calgae_train_shape *shape;     /* classic: the student's dims (vocab from the teacher) */
    const int32_t *train_ids;            /* training text, tokenized */
    size_t n_train;
    const int32_t *eval_ids;             /* held-out text, tokenized */
    size_t n_eval;
    int32_t bos;
    int steps, seq, batch;
    int eval_every;                      /* held-out loss every K steps (0: start and end only) */
    int eval_windows;                    /* at most this many held-out windows */
    float lr, alpha, temp, weight_decay, clip;
    uint64_t seed;
    calgae_pool *pool;                   /* NULL: one thread */
    void (*report)(void *user, const calgae_distill_stats *s); /* each step, or NULL */
    void *report_user;
    /* checkpoints (checkpoint.h): written to `checkpoint` (NULL: none) every checkpoint_every
     * steps (0: only at the end) and when the run ends; `resume` (NULL: a fresh start) continues
     * a run from one, refused unless its settings, teacher, student and text are this run's */
    const char *checkpoint;
    int checkpoint_every;
    const char *resume;
    int stop_after;                      /* end this run after that step (0: at `steps`) */
} calgae_distill_opts;

typedef struct calgae_distill_result {
    double eval_ce_before, eval_kl_before; /* per token, before training */
    double eval_ce_after, eval_kl_after;   /* and after */
    double seconds;                        /* training time, evaluations excluded */
    double tokens_per_s;                   /* training tokens per second */
    size_t trained_params;
    int first_step;                        /* steps done before this run (resumed), else 0 */
    int last_step;                         /* steps done when it ended */
    int checkpoints;                       /* checkpoints written */
    double checkpoint_seconds;             /* writing them, in all */
    uint64_t checkpoint_bytes;             /* the size of one */
} calgae_distill_result;

/* Trains and writes the student to out_path as GGUF (the quantized student in its own types,
 * the classic student in F32) with tok's vocabulary; nothing is left at out_path on failure.
 * Returns 0, or -1 with a one-line message. */
int calgae_distill(const calgae_distill_opts *o, const calgae_tokenizer *tok, const char *out_path,
                   calgae_distill_result *r, char *err, size_t err_len);

#endif
