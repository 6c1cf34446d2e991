/*
 * model_api.c - libcalgae's models (calgae.h): loading a model file with its vocabulary and
 * kernel plugins, the weights handed to the serving plugins' own layouts, metadata and sizes;
 * also the version and the error helpers every API file uses.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api_internal.h"
#include "gguf.h"
#include "model_load.h"
#include "util.h"

const char *calgae_version(void)
{
    return CALGAE_VERSION_STRING;
}

const char *calgae_status_name(calgae_status s)
{
    switch (s) {
    case CALGAE_OK: return "success";
    case CALGAE_ERR_ARGUMENT: return "bad argument";
    case CALGAE_ERR_IO: return "input/output error";
    case CALGAE_ERR_FORMAT: return "bad file format";
    case CALGAE_ERR_BACKEND: return "kernel plugin unavailable";
    case CALGAE_ERR_MEMORY: return "out of memory";
    case CALGAE_ERR_CONTEXT: return "context full";
    case CALGAE_ERR_TOKEN: return "token out of vocabulary";
    case CALGAE_ERR_SPACE: return "buffer too small";
    }
    return "unknown status";
}

calgae_status calgae_api_fail(calgae_error *err, calgae_status status, const char *fmt, ...)
{
    if (!err)
        return status;
    err->status = status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return status;
}

calgae_status calgae_api_status(calgae_error *err, calgae_status status, const char *msg)
{
    return calgae_api_fail(err, status, "%s", msg);
}

calgae_status calgae_api_ok(calgae_error *err)
{
    if (err) {
        err->status = CALGAE_OK;
        err->message[0] = '\0';
    }
    return CALGAE_OK;
}

calgae_model_params calgae_model_default_params(void)
{
    calgae_model_params p;
    memset(&p, 0, sizeof p);
    return p;
}

/* The vocabulary: a file named by the caller, the GGUF's own, or llama2.c's tokenizer.bin
 * beside the checkpoint. */
static int open_vocab(calgae_model *m, const char *file, char *err, size_t err_len)
{
    const int vocab = m->tr.cfg.vocab_size;
    char path[CALGAE_PATH_MAX + 16];
    if (file) {
        if (strlen(file) >= CALGAE_PATH_MAX)
            return calgae_fail(err, err_len, "%.200s...: path longer than %d bytes", file,
                               CALGAE_PATH_MAX - 1);
        snprintf(path, sizeof path, "%s", file);
    } else if (m->tr.has_tokenizer) {
        m->vocab.tok = &m->tr.tokenizer;
        return 0;
    } else {
        const char *slash = strrchr(m->tr.path, '/');
        int dir_len = slash ? (int)(slash - m->tr.path) : 1;
        snprintf(path, sizeof path, "%.*s/tokenizer.bin", dir_len, slash ? m->tr.path : ".");
    }
    if (calgae_tokenizer_load_file(&m->own_tok, path, vocab, err, err_len) != 0) {
        if (!file) {
            size_t n = strlen(err);
            snprintf(err + n, err_len - n, " (pass the model's tokenizer with --tokenizer)");
        }
        return -1;
    }
    m->have_own_tok = 1;
    m->vocab.tok = &m->own_tok;
    return 0;
}

static int backend_options(const calgae_model_params *p, calgae_backend_options *o, char *err,
                           size_t err_len)
{
    memset(o, 0, sizeof *o);
    if (p->plugin_dirs) {
        if (p->n_plugin_dirs < 0 || p->n_plugin_dirs > CALGAE_MAX_PLUGIN_DIRS)
            return calgae_fail(err, err_len, "%d plugin folders: at most %d", p->n_plugin_dirs,
                               CALGAE_MAX_PLUGIN_DIRS);
        for (int i = 0; i < p->n_plugin_dirs; i++)
            o->dirs[i] = p->plugin_dirs[i];
        o->n_dirs = p->n_plugin_dirs;
    } else {
        calgae_default_plugin_dirs(o);
    }
    if (p->n_prefer < 0 || p->n_prefer > CALGAE_MAX_PLUGINS || p->n_deny < 0 ||
        p->n_deny > CALGAE_MAX_PLUGINS)
        return calgae_fail(err, err_len, "prefer/deny lists hold at most %d names",
                           CALGAE_MAX_PLUGINS);
    o->forced = p->backend;
    for (int i = 0; i < p->n_prefer; i++)
        o->order[i] = p->prefer[i];
    o->n_order = p->n_prefer;
    for (int i = 0; i < p->n_deny; i++)
        o->deny[i] = p->deny[i];
    o->n_deny = p->n_deny;
    for (int i = 0; i < p->n_kernel_plugins; i++) {
        int slot = calgae_slot_by_name(p->kernel_plugins[i][0]);
        if (slot < 0)
            return calgae_fail(err, err_len, "unknown kernel slot '%s'", p->kernel_plugins[i][0]);
        o->slot_plugin[slot] = p->kernel_plugins[i][1];
    }
    o->log = p->log;
    o->log_user = p->log_user;
    return 0;
}

/* Matrix i of the products, i < 7 * n_layers + 1: the layers' seven, then the output. */
static calgae_weight *weight_at(calgae_transformer *t, int64_t i)
{
    if (i == (int64_t)t->cfg.n_layers * 7)
        return &t->output;
    calgae_layer *L = &t->layers[i / 7];
    calgae_weight *lw[] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_down, &L->w_up};
    return lw[i % 7];
}

/* A matrix that the serving plugin copied into its own layout: the stored bytes are no longer
 * read, so their pages leave the resident set (peak memory stays about the file's size). An
 * output matrix tied to the embeddings keeps its pages: the embedding lookup reads them. */
static void prepare_one(calgae_model *m, calgae_weight *w)
{
    char err[CALGAE_ERR_LEN];
    calgae_backends_prepare(&m->be, w, err, sizeof err); /* a failure keeps the stored layout */
    const calgae_transformer *t = &m->tr;
    const calgae_map *map = calgae_transformer_file(t);
    const uint8_t *p = w->data;
    const size_t n = (size_t)w->rows * w->row_bytes;
    /* only pages of the file mapping: dropping anonymous ones would zero them */
    const int in_file = map && p >= map->data && n <= map->size && (size_t)(p - map->data) <= map->size - n;
    if (w->prepared && in_file && w->data != t->tok_embd.data)
        calgae_drop_pages(w->data, n);
}

static void prepare_task(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    calgae_model *m = ctx;
    for (int64_t i = begin; i < end; i++)
        prepare_one(m, weight_at(&m->tr, i));
}

/* Every matrix the products read, so the serving plugin can prepare its own layout: on a pool
 * when every such plugin allows it, else one after the other. */
static void prepare_all(calgae_model *m, int threads)
{
    const int64_t n = (int64_t)m->tr.cfg.n_layers * 7 + 1;
    int concurrent = threads > 1;
    for (int64_t i = 0; i < n && concurrent; i++)
        concurrent = calgae_backends_prepare_concurrent(&m->be, weight_at(&m->tr, i));
    calgae_pool *pool = NULL;
    char err[CALGAE_ERR_LEN];
    if (concurrent && calgae_pool_create(&pool, threads, err, sizeof err) == 0) {
        calgae_pool_for(pool, n, 1, prepare_task, m);
        calgae_pool_destroy(pool);
    } else {
        for (int64_t i = 0; i < n; i++)
            prepare_one(m, weight_at(&m->tr, i));
    }
    m->prepared = 1;
}

/* Before the weights are prepared: the chains it reorders decide which plugin prepares them. */
static void calibrate(calgae_model *m, const calgae_model_params *p, int threads)
{
    const int n = m->tr.cfg.n_layers * 7 + 1;
    calgae_weight **w = malloc((size_t)n * sizeof *w);
    if (!w)
        return;
    for (int i = 0; i < n; i++)
        w[i] = weight_at(&m->tr, i);
    const calgae_calib_params cp = {.mode = p->calibrate, .cache_path = p->calibration_cache,
                                    .threads = threads, .repack = !p->no_repack,
                                    .log = p->log, .log_user = p->log_user};
    calgae_calibrate(&m->be, w, n, &cp, m->calib, (int)(sizeof m->calib / sizeof m->calib[0]),
                     &m->n_calib);
    free(w);
}

static int copy_meta(calgae_model *m)
{
    const calgae_gguf *g = calgae_transformer_meta(&m->tr);
    if (!g)
        return 0;
    m->meta = calloc(g->n_kv ? g->n_kv : 1, sizeof *m->meta);
    if (!m->meta)
        return -1;
    for (uint64_t i = 0; i < g->n_kv; i++) {
        const calgae_gguf_kv *kv = &g->kv[i];
        if (kv->type != CALGAE_GGUF_STRING)
            continue;
        m->meta[i] = malloc(kv->v.s.len + 1);
        if (!m->meta[i])
            return -1;
        memcpy(m->meta[i], kv->v.s.ptr, kv->v.s.len);
        m->meta[i][kv->v.s.len] = '\0';
    }
    return 0;
}

calgae_status calgae_model_load(const char *path, const calgae_model_params *params,
                                calgae_model **out, calgae_error *err)
{
    const double t0 = calgae_now_ms();
    char msg[CALGAE_ERR_LEN];
    calgae_model_params defaults = calgae_model_default_params();
    const calgae_model_params *p = params ? params : &defaults;
    if (!out || !path)
        return calgae_api_fail(err, CALGAE_ERR_ARGUMENT, "calgae_model_load: no path or no out");
    *out = NULL;
    if (p->n_threads < 0 || p->n_threads > 1024)
        return calgae_api_fail(err, CALGAE_ERR_ARGUMENT, "n_threads %d out of range 0..1024",
                               p->n_threads);
    if (p->calibrate < CALGAE_CALIBRATE_AUTO || p->calibrate > CALGAE_CALIBRATE_OFF)
        return calgae_api_fail(err, CALGAE_ERR_ARGUMENT, "calibrate %d is not a "
                               "calgae_calibrate_mode", p->calibrate);
    calgae_backend_options bo;
    if (backend_options(p, &bo, msg, sizeof msg) != 0)
        return calgae_api_status(err, CALGAE_ERR_ARGUMENT, msg);
    calgae_model *m = calloc(1, sizeof *m);
    if (!m)
        return calgae_api_fail(err, CALGAE_ERR_MEMORY, "%s: out of memory", path);
    /* a file that can't be read is an I/O error; one that reads but isn't a model, a format one */
    calgae_status st = access(path, R_OK) == 0 ? CALGAE_ERR_FORMAT : CALGAE_ERR_IO;
    if (calgae_transformer_load(&m->tr, path, msg, sizeof msg) != 0)
        goto fail;
    st = CALGAE_ERR_FORMAT;
    m->have_tr = 1;
    if (open_vocab(m, p->tokenizer, msg, sizeof msg) != 0)
        goto fail;
    st = CALGAE_ERR_BACKEND;
    if (calgae_backends_load(&m->be, &bo, msg, sizeof msg) != 0)
        goto fail;
    m->have_be = 1;
    st = CALGAE_ERR_MEMORY;
    snprintf(msg, sizeof msg, "%s: out of memory", path);
    if (copy_meta(m) != 0)
        goto fail;
    const int threads = p->n_threads > 0 ? p->n_threads : calgae_physical_cores();
    calibrate(m, p, threads);
    if (!p->no_repack)
        prepare_all(m, threads);
    m->load_ms = calgae_now_ms() - t0;
    *out = m;
    return calgae_api_ok(err);
fail:
    calgae_model_free(m);
    return calgae_api_status(err, st, msg);
}

void calgae_model_free(calgae_model *m)
{
    if (!m)
        return;
    if (m->prepared) {
        const int64_t n = (int64_t)m->tr.cfg.n_layers * 7 + 1;
        for (int64_t i = 0; i < n; i++)
            calgae_backends_release(&m->be, weight_at(&m->tr, i));
    }
    if (m->have_be)
        calgae_backends_free(&m->be);
    if (m->meta)
        for (uint64_t i = 0; i < calgae_transformer_meta(&m->tr)->n_kv; i++)
            free(m->meta[i]);
    free(m->meta);
    if (m->have_own_tok)
        calgae_tokenizer_free(&m->own_tok);
    if (m->have_tr)
        calgae_transformer_free(&m->tr);
    free(m);
}

const calgae_vocab *calgae_model_vocab(const calgae_model *m)
{
    return m ? &m->vocab : NULL;
}

const char *calgae_model_meta_string(const calgae_model *m, const char *key)
{
    if (!m || !key || !m->meta)
        return NULL;
    const calgae_gguf *g = calgae_transformer_meta(&m->tr);
    for (uint64_t i = 0; i < g->n_kv; i++)
        if (m->meta[i] && g->kv[i].key.len == strlen(key) &&
            memcmp(g->kv[i].key.ptr, key, g->kv[i].key.len) == 0)
            return m->meta[i];
    return NULL;
}

void calgae_model_get_info(const calgae_model *m, calgae_model_info *out)
{
    memset(out, 0, sizeof *out);
    if (!m)
        return;
    const calgae_config *c = &m->tr.cfg;
    out->n_vocab = c->vocab_size;
    out->n_embd = c->dim;
    out->n_ff = c->hidden_dim;
    out->n_layer = c->n_layers;
    out->n_head = c->n_heads;
    out->n_head_kv = c->n_kv_heads;
    out->n_ctx_train = c->ctx;
    out->n_params = calgae_transformer_params(&m->tr);
    out->bytes_per_token = calgae_transformer_weight_bytes(&m->tr);
    snprintf(out->type_name, sizeof out->type_name, "%s", calgae_type_name(m->tr.file_type));
    calgae_backends_describe(&m->be, out->backends, sizeof out->backends);
}

_Static_assert(CALGAE_CALIBRATE_AUTO == (int)CALGAE_CALIB_AUTO &&
                   CALGAE_CALIBRATE_REDO == (int)CALGAE_CALIB_REDO &&
                   CALGAE_CALIBRATE_OFF == (int)CALGAE_CALIB_OFF,
               "calgae.h's modes are the host's");
