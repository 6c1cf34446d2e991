/*
 * distill_qad.h - the quantization-aware student of distill.h (internal to core/train): the
 * trainable floats of a quantized model (RMSNorm weights, block scales, Q4_1 minimums) as one
 * vector, its mapping onto the float model that trains, and the write-back into block bytes.
 * Every float is trained relative to its value in the file (scale = file scale x r, minimum =
 * file minimum + |file scale| x u, norm = file norm x r), so one learning rate suits all of them.
 */
#ifndef CALGAE_DISTILL_QAD_H
#define CALGAE_DISTILL_QAD_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "tokenizer.h"
#include "train.h"

typedef struct calgae_qad_tensor calgae_qad_tensor;

typedef struct calgae_qad {
    size_t n;                 /* trainable floats */
    float *x, *g, *m, *v;     /* values, gradients, Adam moments */
    float *norm0;             /* the file's RMSNorm weights, in the order of x */
    float **norm_dst;         /* where each norm goes in the float model (dim floats each) */
    int n_norms, dim;
    calgae_qad_tensor *t;     /* the block-typed matrices */
    int n_t;
} calgae_qad;

/* tm: calgae_train_from_transformer(student); fills q from the student's file. */
int calgae_qad_init(calgae_qad *q, const calgae_transformer *student, calgae_train_model *tm,
                    char *err, size_t err_len);
void calgae_qad_free(calgae_qad *q);
/* x into tm's parameters: matrices = codes x scales (+ minimums), norms. */
void calgae_qad_apply(const calgae_qad *q, calgae_train_model *tm);
/* tm's gradients into g. */
void calgae_qad_grad(calgae_qad *q, const calgae_train_model *tm);
/* The student with x's scales, minimums and norms, as GGUF of the student's own types. */
int calgae_qad_write(const calgae_qad *q, const calgae_transformer *student,
                     const calgae_tokenizer *tok, const char *out_path, char *err, size_t err_len);

#endif
