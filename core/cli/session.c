/*
 * session.c - see session.h. The model and context come from libcalgae (calgae.h); this file
 * adds what only the program has: calgae.ini, and the diagnosis that blames a line of it.
 */
#include "session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "config.h"
#include "pool.h"
#include "util.h"

static void log_stderr(void *user, int level, const char *line)
{
    const int *verbose = user;
    if (level == CALGAE_LOG_WARN || *verbose)
        fprintf(stderr, "%s\n", line);
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

/* What the library needs from the resolved plugin options. Strings stay owned by c and o. */
static void model_params(const calgae_backend_options *o, const calgae_session_opts *so,
                         const char *(*pairs)[2], calgae_model_params *p)
{
    *p = calgae_model_default_params();
    p->backend = o->forced;
    p->plugin_dirs = o->dirs;
    p->n_plugin_dirs = o->n_dirs;
    p->prefer = o->order;
    p->n_prefer = o->n_order;
    p->deny = o->deny;
    p->n_deny = o->n_deny;
    int n = 0;
    for (int s = 0; s < CALGAE_SLOT_COUNT; s++)
        if (o->slot_plugin[s]) {
            pairs[n][0] = calgae_slot_name(s);
            pairs[n][1] = o->slot_plugin[s];
            n++;
        }
    p->kernel_plugins = (const char *const (*)[2])pairs;
    p->n_kernel_plugins = n;
    p->tokenizer = so->tokenizer;
    p->no_repack = so->no_repack || !so->need_state;
    p->log = o->log;
    p->log_user = o->log_user;
}

int calgae_session_open(calgae_session *s, const calgae_session_opts *o, char *err, size_t err_len)
{
    memset(s, 0, sizeof *s);
    if (!o->model)
        return calgae_fail(err, err_len, "no model given (--model PATH)");
    /* before the model: a mistyped setting should not wait for a large file to map */
    calgae_settings cfg;
    if (calgae_settings_load(&cfg, o->config, err, err_len) != 0)
        return CALGAE_SETTINGS_BAD;
    s->verbose = o->verbose;
    if (s->verbose && cfg.source != CALGAE_SETTINGS_NONE)
        fprintf(stderr, "calgae: configuration %s (from %s)\n", cfg.path,
                calgae_settings_source_name(cfg.source));
    calgae_backend_options bo;
    calgae_settings_backend_options(&cfg, o->backend, &bo);
    bo.log = log_stderr;
    bo.log_user = &s->verbose;
    const int threads = o->threads > 0 ? o->threads : cfg.threads > 0 ? cfg.threads
                                                                        : calgae_physical_cores();
    const char *pairs[CALGAE_SLOT_COUNT][2];
    calgae_model_params mp;
    model_params(&bo, o, pairs, &mp);
    mp.n_threads = threads;
    char cache[4096 + 64];
    calgae_calibration_path(cache, sizeof cache);
    mp.calibration_cache = cache[0] ? cache : NULL;
    mp.calibrate = o->calibrate ? calgae_calibrate_mode_parse(o->calibrate)
                 : cfg.calibrate_line ? cfg.calibrate : CALGAE_CALIB_AUTO;
    calgae_error e;
    calgae_status st = calgae_model_load(o->model, &mp, &s->lm, &e);
    if (st != CALGAE_OK) {
        snprintf(err, err_len, "%s", e.message);
        /* a forced plugin that can't be used is a settings error, wherever it was asked for */
        if (st == CALGAE_ERR_BACKEND && bo.forced && strcmp(bo.forced, "auto") != 0)
            return forced_failed(&cfg, &bo, err, err_len);
        /* another plugin problem may be the configuration's fault: then name its line */
        if (st == CALGAE_ERR_BACKEND && cfg.source != CALGAE_SETTINGS_NONE &&
            diagnose(&cfg, &bo, err, err_len) != 0)
            return CALGAE_SETTINGS_BAD;
        return -1;
    }
    s->model = &s->lm->tr;
    s->tok = s->lm->vocab.tok;
    s->be = &s->lm->be;
    s->load_ms = s->lm->load_ms;
    if (calgae_settings_check_names(&cfg, s->be, err, err_len) != 0) {
        calgae_session_close(s);
        return CALGAE_SETTINGS_BAD;
    }
    calgae_context_params cp = calgae_context_default_params();
    cp.n_threads = threads;
    if (o->ctx < 0) {
        calgae_session_close(s);
        return calgae_fail(err, err_len, "--ctx %d must be positive", o->ctx);
    }
    cp.n_ctx = o->need_state ? o->ctx : 1; /* without state: a token's worth, for the pool */
    cp.n_batch = o->need_state && o->max_batch > 0 ? o->max_batch : o->need_state ? 64 : 1;
    if (o->n_seq > 1)
        cp.n_seq = o->n_seq;
    if (calgae_context_create(s->lm, &cp, &s->cx, &e) != CALGAE_OK) {
        snprintf(err, err_len, "%s", e.message);
        calgae_session_close(s);
        return -1;
    }
    s->pool = s->cx->pool;
    s->st = &s->cx->st;
    s->load_ms = s->lm->load_ms;
    return 0;
}

void calgae_session_close(calgae_session *s)
{
    calgae_context_free(s->cx); /* workers stop before plugins are unloaded */
    calgae_model_free(s->lm);
    memset(s, 0, sizeof *s);
}

int calgae_session_prefill(calgae_session *s, const int32_t *ids, int n, int pos, char *err,
                           size_t err_len)
{
    for (int done = 0; done < n;) {
        int chunk = n - done < s->st->max_batch ? n - done : s->st->max_batch;
        if (calgae_forward(s->st, ids + done, chunk, pos + done, 0, err, err_len) != 0)
            return -1;
        done += chunk;
    }
    return 0;
}
