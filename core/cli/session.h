/*
 * session.h - what every CLI command that runs a model sets up from the common flags and
 * calgae.ini: a libcalgae model and context (calgae.h), with views of the engine's parts for the
 * commands that reach past the public API (perplexity, quantize, bench, logits).
 */
#ifndef CALGAE_SESSION_H
#define CALGAE_SESSION_H

#include "api_internal.h"
#include "config.h"

typedef struct calgae_session_opts {
    const char *model;
    const char *tokenizer; /* NULL: the GGUF's own, or tokenizer.bin beside a .bin model */
    const char *config;    /* --config FILE, or NULL for the usual places (config.h) */
    const char *backend;   /* NULL: [run] backend, else auto; "auto", a plugin name, a .so */
    int threads;           /* 0: [run] threads, else physical cores */
    int ctx;               /* 0: the model's context length */
    int max_batch;         /* 0: a default */
    int verbose;
    int need_state;        /* a KV cache and activations of full size (else a token's worth) */
    int no_repack;         /* keep the stored layout even where a plugin has its own */
    const char *calibrate; /* NULL: [run] calibrate, else auto; "auto", "redo" or "off" */
    int n_seq;             /* 0 or 1: one sequence; more: the context's n_seq (calgae.h) */
} calgae_session_opts;


typedef struct calgae_session {
    calgae_model *lm;              /* the library's handles, owned */
    calgae_context *cx;
    /* views into them */
    calgae_transformer *model;
    const calgae_tokenizer *tok;
    calgae_backends *be;
    calgae_pool *pool;
    calgae_state *st;
    int verbose;
    double load_ms;
} calgae_session;

/* Reads the configuration first (config.h), then loads the model with its tokenizer and
 * plugins. Returns 0; CALGAE_SETTINGS_BAD (-2) when the configuration is at fault (the CLI
 * exits 2); or -1. */
int calgae_session_open(calgae_session *s, const calgae_session_opts *o, char *err, size_t err_len);
void calgae_session_close(calgae_session *s);

/* The plugins under a configuration: calgae_backends_load(o), o as calgae_settings_backend_options
 * made it, then calgae_settings_check_names. Returns 0; CALGAE_SETTINGS_BAD when the file is at
 * fault, with "FILE:LINE: ..." (a name no plugin file has, a [kernels] plugin that lacks its
 * slot, a deny list that leaves a slot with no plugin), or when the forced backend (--backend,
 * else [run] backend) can't be used (missing, refused, unknown: the CLI exits 2 for all of
 * them, wherever the choice was made); or -1 with the loader's error. */
int calgae_session_load_backends(const calgae_settings *c, const calgae_backend_options *o,
                                 calgae_backends *b, char *err, size_t err_len);

/* Feeds a whole token sequence through the model starting at pos, in batches; afterwards the
 * state's logits hold the last token's row. */
int calgae_session_prefill(calgae_session *s, const int32_t *ids, int n, int pos, char *err,
                           size_t err_len);

#endif
