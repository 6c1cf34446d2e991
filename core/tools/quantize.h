/*
 * quantize.h - the engine behind `calgae quantize`: a Llama model in any format Calgae reads,
 * written as a GGUF in ggml's block types, by round-to-nearest (RTN: ggml's reference
 * quantizers, the bytes llama.cpp writes) or by AWQ (Lin et al., MLSys 2024; the searches are in
 * quant/awq.h, this file runs the model and folds the scales into it).
 *
 * Model-level AWQ choices (quant/awq.h lists the numerical ones):
 *   follows  the scaled groups are the reference code's for Llama: Q/K/V with 1/s folded into
 *            the attention RMSNorm weight, gate/up into the FFN RMSNorm weight, down into the
 *            rows of up (SwiGLU is linear in up), wo into the rows of wv.
 *   follows  scales of all groups of a layer are searched on the unmodified layer, then applied
 *            together; clipping is searched afterwards on the scaled weights with the statistics
 *            of the correspondingly scaled activations; every layer's statistics come from the
 *            float model without clipping (as the reference code's layer-by-layer inputs).
 *   differs  grouped-query attention: the reference code skips wo when wv and wo differ in shape.
 *            Here 1/s can still be folded into wv exactly if every query head that reads a KV
 *            head gets the same per-channel scale, so the search runs over that subspace: the
 *            statistic of wo's input channel (head h, dim c) is the mean of the magnitudes of
 *            channel c over all query heads sharing h's KV head. With one query head per KV head
 *            this is the paper's rule unchanged.
 *   differs  the classifier, when quantized, is scaled too, with 1/s folded into the final
 *            RMSNorm weight (the reference code never quantizes it); a tied classifier is then
 *            written as its own tensor, the embeddings staying unscaled.
 *   differs  a matrix a block type cannot hold (rows not whole 32-blocks, e.g. stories260K's
 *            ffn_down with 172 columns) stays F32, so its group is not scaled at all.
 *   differs  calibration text is read in order, in windows of up to 512 tokens that start with
 *            BOS (the paper samples 128 random 512-token blocks of the Pile).
 */
#ifndef CALGAE_QUANTIZE_H
#define CALGAE_QUANTIZE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "awq.h"
#include "backend.h"
#include "model.h"
#include "pool.h"
#include "progress.h"
#include "quantize_recipe.h"
#include "tokenizer.h"

/* The types written: the layers' matrices, the token embeddings and the classifier. With a
 * recipe (quantize_recipe.h), each matrix gets llama-quantize's choice under it instead (matrix
 * is then the recipe's base type, for AWQ's search); embd and output still override it when
 * their own flags are set. */
typedef struct calgae_qtypes {
    uint32_t matrix;
    uint32_t embd;
    uint32_t output;
    const calgae_recipe *recipe; /* NULL: the three types above as they are */
    int pure;                    /* with a recipe: llama-quantize --pure */
    int embd_set, output_set;    /* with a recipe: embd / output were asked for explicitly */
} calgae_qtypes;

/* A model whose every tensor is a private, writable F32 copy. `model` is an ordinary view of it
 * that calgae_forward runs and calgae_quantize_write writes. */
typedef struct calgae_flayer {
    float *attn_norm, *ffn_norm, *wq, *wk, *wv, *wo, *gate, *down, *up;
} calgae_flayer;

typedef struct calgae_fmodel {
    calgae_transformer model;
    calgae_flayer *layers;
    float *embd, *out_norm, *output;
    float *data;
} calgae_fmodel;

int calgae_fmodel_init(calgae_fmodel *f, const calgae_transformer *src, char *err, size_t err_len);
void calgae_fmodel_free(calgae_fmodel *f);

typedef struct calgae_awq_opts {
    calgae_qtypes types;
    const int32_t *ids;       /* calibration tokens, BOS first */
    size_t n_ids;
    int window;               /* tokens per calibration window (0: min(512, model context)) */
    int clip;                 /* also search and apply per-block clipping */
    size_t stats_budget;      /* bytes of activation statistics per pass (0: 2 GiB); more
                               * layers than fit take more passes over the calibration text */
    calgae_progress_fn progress;
    void *progress_user;
    void (*log)(void *user, const char *line); /* per-group details, or NULL */
    void *log_user;
    volatile sig_atomic_t *stop; /* becomes non-zero to abandon the run, or NULL */
} calgae_awq_opts;

typedef struct calgae_awq_report {
    int64_t calib_tokens;     /* tokens run through the model per pass */
    int passes;
    int groups;               /* groups whose scales were searched */
    int groups_scaled;        /* ... and got alpha > 0 */
    double err_rtn, err_awq;  /* summed calibration output error at s = 1 and at the chosen s */
    calgae_awq_clip_stats clip;
} calgae_awq_report;

/* Searches AWQ scales (and clipping, with o->clip) on f and applies them to f in place; f then
 * computes the same function as before up to float rounding (and the clipping). */
int calgae_awq_run(calgae_fmodel *f, const calgae_backends *be, calgae_pool *pool,
                   const calgae_awq_opts *o, calgae_awq_report *rep, char *err, size_t err_len);

/* What a file says about how it was made (GGUF keys calgae.quantize.*). */
typedef struct calgae_qmeta {
    const char *method;       /* "rtn" or "awq" */
    uint64_t calib_hash;      /* calgae_text_hash of the calibration text (AWQ), else 0 */
    int64_t calib_tokens;
} calgae_qmeta;

/* Sizes of what was written, for the summary. */
typedef struct calgae_qsizes {
    uint64_t tensor_bytes;    /* all tensor data */
    uint64_t params;          /* all tensor elements */
} calgae_qsizes;

/* Writes m as a GGUF that Calgae and llama.cpp load, matrices in types (a matrix whose rows are
 * not whole 32-blocks stays F32), norms in F32, through a temporary file: on failure nothing
 * is left at out_path. */
int calgae_quantize_write(const calgae_transformer *m, const calgae_tokenizer *t,
                          const calgae_qtypes *types, const calgae_qmeta *meta,
                          const char *out_path, calgae_qsizes *sizes, char *err, size_t err_len);

#endif
