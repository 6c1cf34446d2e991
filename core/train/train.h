/*
 * train.h - training a Llama-architecture model in float32 on the CPU, in the manner of
 * Karpathy's llm.c: a forward pass over a window of tokens that keeps every activation, a
 * backward pass for every op of the Llama forward (embedding, RMSNorm, attention with RoPE and
 * grouped-query heads, SwiGLU, classifier), AdamW (Loshchilov & Hutter, 2019) with a cosine
 * schedule and global-norm gradient clipping, and the distillation loss of Hinton et al. (2015):
 * alpha * T^2 * KL(teacher at temperature T || student at T) + (1 - alpha) * CE(hard labels).
 *
 * The math follows core/engine/forward.c exactly (same RoPE pairing and frequencies, same
 * RMSNorm), so a trained model written as GGUF runs the same in the inference engine.
 * Parallel work goes through the host's pool (base/pool.h); every output element is computed by
 * one thread in a fixed order, so results do not depend on the thread count.
 */
#ifndef CALGAE_TRAIN_H
#define CALGAE_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "pool.h"

typedef struct calgae_train_shape {
    int dim, hidden, layers, heads, kv_heads, vocab;
    int tied;        /* classifier shares the embedding matrix */
    float eps, rope_theta;
} calgae_train_shape;

/* Pointers into one flat float array (parameters, or their gradients, or Adam moments). */
typedef struct calgae_train_layer {
    float *attn_norm, *wq, *wk, *wv, *wo, *ffn_norm, *w_gate, *w_down, *w_up;
} calgae_train_layer;

typedef struct calgae_train_view {
    float *embd, *out_norm, *cls;
    calgae_train_layer *layer;
} calgae_train_view;

typedef struct calgae_train_model {
    calgae_train_shape shape;
    size_t n_params;
    float *params, *grads;      /* n_params each */
    float *adam_m, *adam_v;     /* n_params each, NULL until the optimizer first steps */
    calgae_train_view p, g;     /* views of params and grads */
    /* activations for windows of up to max_t tokens */
    int max_t;
    float *acts;
    size_t n_acts;
    uint8_t *decay;             /* n_params: 1 where weight decay applies (matrices) */
    float *scratch;             /* the backward pass's activation gradients */
    size_t n_scratch;
} calgae_train_model;

/* "dim=64,layers=5,heads=8,kv_heads=4,ffn=172": fills dim, layers, heads, kv_heads, hidden;
 * every key is required once. Returns 0, or -1 with a one-line message. */
int calgae_train_parse_shape(const char *s, calgae_train_shape *out, char *err, size_t err_len);

/* Allocates parameters, gradients and activations for windows of max_t tokens. Parameters are
 * zero; see calgae_train_init_random and calgae_train_from_transformer. */
int calgae_train_create(calgae_train_model *tm, const calgae_train_shape *s, int max_t, char *err,
                        size_t err_len);
void calgae_train_free(calgae_train_model *tm);

/* Seeded initialisation: matrices N(0, 0.02) (output projections scaled by 1/sqrt(2*layers), as
 * GPT-2 does), norms one. Deterministic for a seed. */
void calgae_train_init_random(calgae_train_model *tm, uint64_t seed);

/* A float copy of a loaded model, every weight type dequantized. */
int calgae_train_from_transformer(calgae_train_model *tm, const calgae_transformer *m, int max_t,
                                  char *err, size_t err_len);

/* An in-memory transformer whose weights point into tm's parameters (F32), for writing with
 * calgae_convert_to_gguf; free with calgae_train_view_free. */
int calgae_train_as_transformer(const calgae_train_model *tm, const char *name,
                                calgae_transformer *out, char *err, size_t err_len);
void calgae_train_view_free(calgae_transformer *m);

/* Forward over tokens[0..n) (positions 0..n-1), n <= max_t; logits [n x vocab] stay in the
 * activations (calgae_train_logits). pool may be NULL (one thread). */
void calgae_train_forward(calgae_train_model *tm, const int32_t *tokens, int n, calgae_pool *pool);
float *calgae_train_logits(calgae_train_model *tm);

/* Backward of the last forward: dlogits [n x vocab] (overwritten) into the gradients, which
 * accumulate (call calgae_train_zero_grad first). */
void calgae_train_backward(calgae_train_model *tm, const int32_t *tokens, int n, float *dlogits,
                           calgae_pool *pool);
void calgae_train_zero_grad(calgae_train_model *tm);

/* The distillation loss over n positions, summed and divided by `norm`, and its gradient in
 * dlogits. teacher: NULL (hard labels only) or the teacher's logits [n x vocab]. targets[i]:
 * the next token after position i. alpha in [0,1]; temp > 0. Also returns, in *kl_out (if not
 * NULL), the sum over positions of KL(teacher || student) at temperature 1, and in *ce_out
 * the sum of cross-entropy on the hard labels. */
double calgae_train_loss(const float *logits, const float *teacher, const int32_t *targets, int n,
                         int vocab, float alpha, float temp, double norm, float *dlogits,
                         double *kl_out, double *ce_out);

typedef struct calgae_adamw {
    float lr, beta1, beta2, eps, weight_decay;
    float clip;      /* global gradient norm bound; 0 = none */
    int warmup, total_steps;
} calgae_adamw;

/* The cosine schedule's learning rate at step (0-based): linear warmup, then cosine to lr/10. */
float calgae_adamw_lr(const calgae_adamw *o, int step);

/* One AdamW step over n parameters p with gradients g and moments m, v (zero at first);
 * decay[i] (NULL: none) says where weight decay applies. Returns the gradient norm before
 * clipping. */
double calgae_adamw_update(const calgae_adamw *o, int step, float *p, const float *g, float *m,
                           float *v, const uint8_t *decay, size_t n);

/* calgae_adamw_update on every parameter of tm, weight decay on the matrices only, never on
 * RMSNorm weights. Returns the gradient norm, or -1 when out of memory. */
double calgae_adamw_step(calgae_train_model *tm, const calgae_adamw *o, int step);

#endif
