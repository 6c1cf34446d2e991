/* session.c - see session.h. */
#include "session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define DEFAULT_MAX_BATCH 64

static void log_stderr(void *user, int level, const char *line)
{
    const int *verbose = user;
    if (level == 0 || *verbose)
        fprintf(stderr, "%s\n", line);
}

int calgae_tokenizer_load_file(calgae_tokenizer *t, const char *path, int32_t n_vocab,
                               char *err, size_t err_len)
{
    calgae_map probe;
    if (calgae_map_file(&probe, path, err, err_len) != 0)
        return -1;
    int is_gguf = probe.size >= 4 && memcmp(probe.data, "GGUF", 4) == 0;
    calgae_unmap(&probe);
    if (!is_gguf) {
        /* read every token the file has, so a vocabulary of the wrong model is noticed */
        if (calgae_tokenizer_load_bin(t, path, 0, err, err_len) != 0)
            return -1;
    } else {
        calgae_gguf g;
        if (calgae_gguf_open(&g, path, err, err_len) != 0)
            return -1;
        int rc = calgae_gguf_find_kv(&g, "tokenizer.ggml.tokens")
                     ? calgae_tokenizer_load_gguf(t, &g, path, err, err_len)
                     : calgae_fail(err, err_len, "%s: no vocabulary (tokenizer.ggml.tokens)", path);
        calgae_gguf_close(&g);
        if (rc != 0)
            return -1;
    }
    if (n_vocab > 0 && t->n_vocab != n_vocab) {
        int have = t->n_vocab;
        calgae_tokenizer_free(t);
        return calgae_fail(err, err_len, "%s: tokenizer has %d tokens but the model has %d",
                           path, have, n_vocab);
    }
    return 0;
}

static int open_tokenizer(calgae_session *s, const calgae_session_opts *o, char *err,
                          size_t err_len)
{
    const int vocab = s->model.cfg.vocab_size;
    char path[1100];
    if (o->tokenizer) {
        snprintf(path, sizeof path, "%s", o->tokenizer);
    } else if (s->model.has_tokenizer) {
        s->tok = &s->model.tokenizer;
        return 0;
    } else {
        /* llama2.c's convention: tokenizer.bin beside the checkpoint */
        const char *slash = strrchr(s->model.path, '/');
        int dir_len = slash ? (int)(slash - s->model.path) : 1;
        snprintf(path, sizeof path, "%.*s/tokenizer.bin", dir_len, slash ? s->model.path : ".");
    }
    if (calgae_tokenizer_load_file(&s->own_tok, path, vocab, err, err_len) != 0) {
        if (!o->tokenizer) {
            size_t n = strlen(err);
            snprintf(err + n, err_len - n, " (pass the model's tokenizer with --tokenizer)");
        }
        return -1;
    }
    s->have_own_tok = 1;
    s->tok = &s->own_tok;
    return 0;
}

int calgae_session_open(calgae_session *s, const calgae_session_opts *o, char *err, size_t err_len)
{
    memset(s, 0, sizeof *s);
    const double t0 = calgae_now_ms();
    if (!o->model)
        return calgae_fail(err, err_len, "no model given (--model PATH)");
    if (calgae_model_load(&s->model, o->model, err, err_len) != 0)
        return -1;
    s->have_model = 1;
    if (open_tokenizer(s, o, err, err_len) != 0)
        goto fail;

    static int verbose;
    verbose = o->verbose;
    calgae_backend_options bo = {0};
    calgae_default_plugin_dirs(&bo);
    bo.forced = o->backend;
    bo.log = log_stderr;
    bo.log_user = &verbose;
    if (calgae_backends_load(&s->be, &bo, err, err_len) != 0)
        goto fail;
    s->have_be = 1;

    int threads = o->threads > 0 ? o->threads : calgae_physical_cores();
    if (calgae_pool_create(&s->pool, threads, err, err_len) != 0)
        goto fail;
    if (o->need_state) {
        int ctx = s->model.cfg.ctx;
        if (o->ctx < 0) {
            calgae_fail(err, err_len, "--ctx %d must be positive", o->ctx);
            goto fail;
        }
        if (o->ctx > 0 && o->ctx < ctx)
            ctx = o->ctx;
        int batch = o->max_batch > 0 ? o->max_batch : DEFAULT_MAX_BATCH;
        if (calgae_state_init(&s->st, &s->model, &s->be, s->pool, ctx, batch, err, err_len) != 0)
            goto fail;
        s->have_state = 1;
    }
    s->load_ms = calgae_now_ms() - t0;
    return 0;
fail:
    calgae_session_close(s);
    return -1;
}

void calgae_session_close(calgae_session *s)
{
    if (s->have_state)
        calgae_state_free(&s->st);
    calgae_pool_destroy(s->pool); /* workers stop before plugins are unloaded */
    if (s->have_be)
        calgae_backends_free(&s->be);
    if (s->have_own_tok)
        calgae_tokenizer_free(&s->own_tok);
    if (s->have_model)
        calgae_model_free(&s->model);
    memset(s, 0, sizeof *s);
}

int calgae_session_prefill(calgae_session *s, const int32_t *ids, int n, int pos, char *err,
                           size_t err_len)
{
    for (int done = 0; done < n;) {
        int chunk = n - done < s->st.max_batch ? n - done : s->st.max_batch;
        if (calgae_forward(&s->st, ids + done, chunk, pos + done, 0, err, err_len) != 0)
            return -1;
        done += chunk;
    }
    return 0;
}
