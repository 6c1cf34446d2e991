/* session.c - see session.h. */
#include "session.h"
#include "model_load.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "util.h"

static void each_weight(calgae_session *s, int prepare);

#define DEFAULT_MAX_BATCH 64

static void log_stderr(void *user, int level, const char *line)
{
    const int *verbose = user;
    if (level == 0 || *verbose)
        fprintf(stderr, "%s\n", line);
}

static int open_tokenizer(calgae_session *s, const calgae_session_opts *o, char *err,
                          size_t err_len)
{
    const int vocab = s->model.cfg.vocab_size;
    char path[CALGAE_PATH_MAX + 16];
    if (o->tokenizer) {
        if (strlen(o->tokenizer) >= CALGAE_PATH_MAX)
            return calgae_fail(err, err_len, "%.200s...: path longer than %d bytes", o->tokenizer,
                               CALGAE_PATH_MAX - 1);
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

/* The loader's rule for --backend: a path has a '/' or ends in .so. */
static int is_path(const char *s)
{
    size_t n = strlen(s);
    return strchr(s, '/') != NULL || (n > 3 && strcmp(s + n - 3, ".so") == 0);
}

static int denied(const calgae_settings *c, const calgae_backend_options *o, const char *name)
{
    if (o->forced && strcmp(o->forced, name) == 0) /* a forced name overrides the list */
        return 0;
    for (int i = 0; i < c->n_deny; i++)
        if (strcmp(c->deny[i].name, name) == 0)
            return 1;
    return 0;
}

/* With the plain plugins loaded: the first of the file's choices that breaks the load. */
static int blame(const calgae_settings *c, const calgae_backend_options *o,
                 const calgae_backends *d, char *err, size_t err_len)
{
    if (calgae_settings_check_names(c, d, err, err_len) != 0)
        return CALGAE_SETTINGS_BAD;
    for (int s = 0; s < CALGAE_SLOT_COUNT; s++) {
        const calgae_settings_name *k = &c->slot[s];
        int provides = 0, loaded = 0, all_denied = d->chain_len[s] > 0;
        for (int i = 0; i < d->chain_len[s]; i++) {
            const char *name = d->plugins[d->chain[s][i]].table->name;
            provides |= k->name[0] && strcmp(name, k->name) == 0;
            all_denied &= denied(c, o, name);
        }
        for (int i = 0; i < d->n_plugins; i++)
            loaded |= k->name[0] && strcmp(d->plugins[i].table->name, k->name) == 0;
        if (loaded && !provides) {
            calgae_fail(err, err_len, "%s:%d: backend '%s' does not provide kernel %s", c->path,
                        k->line, k->name, calgae_slot_name(s));
            return CALGAE_SETTINGS_BAD;
        }
        if (all_denied) {
            char names[300] = "";
            for (int i = 0; i < d->chain_len[s]; i++)
                snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s",
                         i ? ", " : "", d->plugins[d->chain[s][i]].table->name);
            calgae_fail(err, err_len, "%s:%d: deny leaves no plugin for kernel %s (only %s "
                        "provide%s it)", c->path, c->deny[0].line, calgae_slot_name(s), names,
                        d->chain_len[s] == 1 ? "s" : "");
            return CALGAE_SETTINGS_BAD;
        }
    }
    return 0;
}

/* After a failed load: the plugins loaded without the file's choices tell a mistake in the
 * file (a wrong name, a [kernels] plugin without that slot, a deny list that leaves a slot
 * empty) from a problem with the plugins themselves (scalar missing). */
static int diagnose(const calgae_settings *c, const calgae_backend_options *o, char *err,
                    size_t err_len)
{
    calgae_backends *d = calloc(1, sizeof *d);
    if (!d)
        return 0;
    calgae_backend_options plain;
    memset(&plain, 0, sizeof plain);
    memcpy(plain.dirs, o->dirs, sizeof plain.dirs);
    plain.n_dirs = o->n_dirs;
    plain.forced = o->forced && is_path(o->forced) ? o->forced : NULL;
    char ignored[CALGAE_ERR_LEN];
    int rc = 0;
    if (calgae_backends_load(d, &plain, ignored, sizeof ignored) == 0) {
        rc = blame(c, o, d, err, err_len);
        calgae_backends_free(d);
    }
    free(d);
    return rc;
}

/* The forced plugin could not be used: a settings error (exit 2) wherever it was asked for.
 * When the file's [run] backend asked, the message names the file and line. */
static int forced_failed(const calgae_settings *c, const calgae_backend_options *o, char *err,
                         size_t err_len)
{
    if (c->source == CALGAE_SETTINGS_NONE || o->forced != c->backend)
        return CALGAE_SETTINGS_BAD; /* --backend on the command line */
    if (!is_path(c->backend) && diagnose(c, o, err, err_len) != 0)
        return CALGAE_SETTINGS_BAD; /* "FILE:LINE: unknown backend 'x' (plugins found: ...)" */
    char why[CALGAE_ERR_LEN];
    snprintf(why, sizeof why, "%s", err);
    calgae_fail(err, err_len, "%s:%d: [run] backend: %s", c->path, c->backend_line, why);
    return CALGAE_SETTINGS_BAD;
}

int calgae_session_load_backends(const calgae_settings *c, const calgae_backend_options *o,
                                 calgae_backends *b, char *err, size_t err_len)
{
    int rc = calgae_backends_load(b, o, err, err_len);
    if (rc == CALGAE_BACKENDS_FORCED_FAILED)
        return forced_failed(c, o, err, err_len);
    if (rc == 0) {
        if (calgae_settings_check_names(c, b, err, err_len) == 0)
            return 0;
        calgae_backends_free(b);
        return CALGAE_SETTINGS_BAD;
    }
    if (c->source == CALGAE_SETTINGS_NONE)
        return -1;
    return diagnose(c, o, err, err_len) != 0 ? CALGAE_SETTINGS_BAD : -1;
}

int calgae_session_open(calgae_session *s, const calgae_session_opts *o, char *err, size_t err_len)
{
    memset(s, 0, sizeof *s);
    const double t0 = calgae_now_ms();
    if (!o->model)
        return calgae_fail(err, err_len, "no model given (--model PATH)");
    /* before the model: a mistyped setting should not wait for a large file to map */
    calgae_settings cfg;
    if (calgae_settings_load(&cfg, o->config, err, err_len) != 0)
        return CALGAE_SETTINGS_BAD;
    if (calgae_model_load(&s->model, o->model, err, err_len) != 0)
        return -1;
    s->have_model = 1;
    if (open_tokenizer(s, o, err, err_len) != 0)
        goto fail;

    static int verbose;
    verbose = o->verbose;
    if (verbose && cfg.source != CALGAE_SETTINGS_NONE)
        fprintf(stderr, "calgae: configuration %s (from %s)\n", cfg.path,
                calgae_settings_source_name(cfg.source));
    calgae_backend_options bo;
    calgae_settings_backend_options(&cfg, o->backend, &bo);
    bo.log = log_stderr;
    bo.log_user = &verbose;
    int rc = calgae_session_load_backends(&cfg, &bo, &s->be, err, err_len);
    if (rc != 0) {
        calgae_session_close(s);
        return rc == CALGAE_SETTINGS_BAD ? CALGAE_SETTINGS_BAD : -1;
    }
    s->have_be = 1;

    int threads = o->threads > 0 ? o->threads : cfg.threads > 0 ? cfg.threads
                                                                  : calgae_physical_cores();
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
        /* a plugin that keeps its own weight layout converts it now, once (a failure keeps
         * the stored layout, which every plugin reads) */
        if (!o->no_repack)
            each_weight(s, 1);
        s->have_prepared = 1;
    }
    s->load_ms = calgae_now_ms() - t0;
    return 0;
fail:
    calgae_session_close(s);
    return -1;
}

/* A matrix that the serving plugin copied into its own layout: the stored bytes are no longer
 * read, so their pages leave the resident set (peak memory stays about the file's size). An
 * output matrix tied to the embeddings keeps its pages: the embedding lookup reads them. */
static void prepare_one(calgae_session *s, calgae_weight *w, int prepare)
{
    char err[CALGAE_ERR_LEN];
    if (!prepare) {
        calgae_backends_release(&s->be, w);
        return;
    }
    calgae_backends_prepare(&s->be, w, err, sizeof err);
    const calgae_model *m = &s->model;
    const calgae_map *map = m->format == CALGAE_FORMAT_GGUF ? &m->gguf.map : &m->map;
    const uint8_t *p = w->data;
    const size_t n = (size_t)w->rows * w->row_bytes;
    /* only pages of the file mapping: dropping anonymous ones would zero them */
    const int in_file = p >= map->data && n <= map->size && (size_t)(p - map->data) <= map->size - n;
    if (w->prepared && in_file && w->data != m->tok_embd.data)
        calgae_drop_pages(w->data, n);
}

/* Matrix i of the products, i < 7 * n_layers + 1: the layers' seven, then the output. */
static calgae_weight *weight_at(calgae_model *m, int64_t i)
{
    if (i == (int64_t)m->cfg.n_layers * 7)
        return &m->output;
    calgae_layer *L = &m->layers[i / 7];
    calgae_weight *lw[] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_down, &L->w_up};
    return lw[i % 7];
}

static void prepare_task(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    calgae_session *s = ctx;
    for (int64_t i = begin; i < end; i++)
        prepare_one(s, weight_at(&s->model, i), 1);
}

/* Every matrix the products read, so the serving plugin can prepare its own layout: on the
 * pool's threads when every such plugin allows it, else one after the other. */
static void each_weight(calgae_session *s, int prepare)
{
    const int64_t n = (int64_t)s->model.cfg.n_layers * 7 + 1;
    int concurrent = prepare;
    for (int64_t i = 0; i < n && concurrent; i++)
        concurrent = calgae_backends_prepare_concurrent(&s->be, weight_at(&s->model, i));
    if (concurrent) {
        calgae_pool_for(s->pool, n, 1, prepare_task, s);
        return;
    }
    for (int64_t i = 0; i < n; i++)
        prepare_one(s, weight_at(&s->model, i), prepare);
}

void calgae_session_close(calgae_session *s)
{
    if (s->have_state)
        calgae_state_free(&s->st);
    calgae_pool_destroy(s->pool); /* workers stop before plugins are unloaded */
    if (s->have_prepared)
        each_weight(s, 0);
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
