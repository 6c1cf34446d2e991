/*
 * api_internal.h - what the opaque handles of calgae.h hold, for the library's own files and
 * for the calgae program's tools (perplexity, quantize, bench) that reach past the public API
 * to the engine's parts. Not installed; embedding programs use calgae.h alone.
 */
#ifndef CALGAE_API_INTERNAL_H
#define CALGAE_API_INTERNAL_H

#include "backend.h"
#include "calgae.h"
#include "calibrate.h"
#include "forward.h"
#include "model.h"
#include "pool.h"
#include "sampler.h"
#include "tokenizer.h"
#include "utf8.h"

struct calgae_vocab {
    const calgae_tokenizer *tok;
};

struct calgae_model {
    calgae_transformer tr;
    calgae_tokenizer own_tok; /* a vocabulary from a file of its own */
    int have_tr, have_own_tok, have_be, prepared;
    calgae_vocab vocab;
    calgae_backends be;
    char **meta;              /* NUL-terminated copies of the GGUF's string values, per key */
    double load_ms;
    /* calibration's figures, one per weight type it decided (calibrate.h) */
    calgae_calib_entry calib[4];
    int n_calib;
};

/* One sequence of a context: its positions in its KV cache and its last token's logits. */
typedef struct calgae_seq {
    int pos;             /* positions held in the sequence's KV cache */
    int have_logits;     /* logits holds the sequence's last evaluated token's row */
    calgae_token last;   /* the last evaluated token, -1 if none */
    const float *logits; /* st.logits (one sequence) or the sequence's row of seq_logits */
} calgae_seq;

struct calgae_context {
    calgae_model *model;
    calgae_pool *pool;
    calgae_state st;
    int n_seq;
    calgae_seq *seq;    /* [n_seq]; calgae_eval and the state functions use seq[0] */
    float *seq_logits;  /* [n_seq][n_vocab] with n_seq > 1: rows outlive the next batch */
    int *tok_seq, *tok_pos; /* [n_batch] per-token scratch of calgae_eval_seqs */
    unsigned char *want;    /* [n_batch] */
    int *seq_add;           /* [n_seq] scratch: tokens a call adds to each sequence */
};

struct calgae_sampler {
    calgae_sampler_state s; /* the chain, with the repeat penalty's history */
    float *scratch;         /* [n_vocab] logits copy the chain may overwrite */
};

struct calgae_decoder {
    const calgae_tokenizer *tok;
    calgae_token prev;
    calgae_utf8_stream us;
};

/* calgae_eval for a context of several sequences: the tokens all go to sequence 0. */
calgae_status calgae_eval_seqs_zero(calgae_context *ctx, const calgae_token *tokens, int n,
                                    calgae_error *err);

/* Fills err (when not NULL) and returns status; the message is formatted like calgae_fail's. */
calgae_status calgae_api_fail(calgae_error *err, calgae_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* An internal function failed with its message in msg: copy it into err with status. */
calgae_status calgae_api_status(calgae_error *err, calgae_status status, const char *msg);
/* Clears err to CALGAE_OK. */
calgae_status calgae_api_ok(calgae_error *err);

#endif
