/*
 * context_api.c - libcalgae's contexts (calgae.h): a KV cache, activations and a worker pool over
 * one model; evaluation in batches, the last logits, rewinding, and the KV state saved to and
 * restored from memory or a file. A context may hold several sequences (seq_api.c); the
 * functions here act on sequence 0, and the saved state is sequence 0's.
 *
 * State layout (little-endian host order, version 1): a header (magic "CALGAEKV", version, the
 * model shape it belongs to, the position count, the last token, whether logits follow), then
 * per layer the keys and the values of positions 0 .. pos-1 as float32 rows of kv_dim, then
 * n_vocab float32 logits when present.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api_internal.h"
#include "util.h"

#define DEFAULT_BATCH 64
#define MAX_SEQ 256
#define STATE_VERSION 1

calgae_context_params calgae_context_default_params(void)
{
    calgae_context_params p = {.n_ctx = 0, .n_batch = DEFAULT_BATCH, .n_threads = 0, .n_seq = 1};
    return p;
}

calgae_status calgae_context_create(calgae_model *model, const calgae_context_params *params,
                                    calgae_context **out, calgae_error *err)
{
    calgae_context_params defaults = calgae_context_default_params();
    const calgae_context_params *p = params ? params : &defaults;
    if (!model || !out)
        return calgae_api_fail(err, CALGAE_ERR_ARGUMENT, "calgae_context_create: no model or no out");
    *out = NULL;
    const int train = model->tr.cfg.ctx;
    if (p->n_ctx < 0 || p->n_batch < 0 || p->n_batch > 4096 || p->n_threads < 0 ||
        p->n_threads > 1024 || p->n_seq < 1 || p->n_seq > MAX_SEQ)
        return calgae_api_fail(err, CALGAE_ERR_ARGUMENT,
                               "context parameters out of range (n_ctx %d, n_batch %d, n_threads "
                               "%d, n_seq %d)", p->n_ctx, p->n_batch, p->n_threads, p->n_seq);
    calgae_context *c = calloc(1, sizeof *c);
    if (!c)
        return calgae_api_fail(err, CALGAE_ERR_MEMORY, "out of memory");
    c->model = model;
    c->n_seq = p->n_seq;
    const int batch = p->n_batch > 0 ? p->n_batch : DEFAULT_BATCH;
    const size_t vocab = (size_t)model->tr.cfg.vocab_size;
    c->seq = calloc((size_t)c->n_seq, sizeof *c->seq);
    c->tok_seq = calloc((size_t)batch, sizeof *c->tok_seq);
    c->tok_pos = calloc((size_t)batch, sizeof *c->tok_pos);
    c->want = calloc((size_t)batch, 1);
    c->seq_add = calloc((size_t)c->n_seq, sizeof *c->seq_add);
    c->seq_logits = c->n_seq > 1 ? calloc((size_t)c->n_seq * vocab, sizeof(float)) : NULL;
    if (!c->seq || !c->tok_seq || !c->tok_pos || !c->want || !c->seq_add || (c->n_seq > 1 && !c->seq_logits)) {
        calgae_context_free(c);
        return calgae_api_fail(err, CALGAE_ERR_MEMORY, "out of memory");
    }
    for (int i = 0; i < c->n_seq; i++)
        c->seq[i].last = -1;
    char msg[CALGAE_ERR_LEN];
    const int threads = p->n_threads > 0 ? p->n_threads : calgae_physical_cores();
    if (calgae_pool_create(&c->pool, threads, msg, sizeof msg) != 0) {
        calgae_context_free(c);
        return calgae_api_status(err, CALGAE_ERR_MEMORY, msg);
    }
    const int n_ctx = p->n_ctx > 0 && p->n_ctx < train ? p->n_ctx : train;
    if (calgae_state_init_seqs(&c->st, &model->tr, &model->be, c->pool, n_ctx, batch, c->n_seq,
                               msg, sizeof msg) != 0) {
        calgae_context_free(c);
        return calgae_api_status(err, CALGAE_ERR_MEMORY, msg);
    }
    *out = c;
    return calgae_api_ok(err);
}

void calgae_context_free(calgae_context *c)
{
    if (!c)
        return;
    calgae_state_free(&c->st);
    if (c->pool)
        calgae_pool_destroy(c->pool);
    free(c->seq);
    free(c->seq_logits);
    free(c->tok_seq);
    free(c->tok_pos);
    free(c->want);
    free(c->seq_add);
    free(c);
}

int calgae_context_size(const calgae_context *c)
{
    return c ? c->st.ctx : 0;
}

int calgae_context_pos(const calgae_context *c)
{
    return c ? c->seq[0].pos : 0;
}

int calgae_context_threads(const calgae_context *c)
{
    return c ? calgae_pool_threads(c->pool) : 0;
}

calgae_status calgae_eval(calgae_context *c, const calgae_token *tokens, int n, calgae_error *err)
{
    if (!c || n < 0 || (n > 0 && !tokens))
        return calgae_api_fail(err, CALGAE_ERR_ARGUMENT, "calgae_eval: bad arguments");
    if (c->n_seq > 1) /* the rows must land in sequence 0's own logits */
        return calgae_eval_seqs_zero(c, tokens, n, err);
    calgae_seq *q = &c->seq[0];
    if (n > c->st.ctx - q->pos)
        return calgae_api_fail(err, CALGAE_ERR_CONTEXT,
                               "%d tokens do not fit the context: %d of %d positions used", n,
                               q->pos, c->st.ctx);
    const int vocab = c->model->tr.cfg.vocab_size;
    for (int i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= vocab)
            return calgae_api_fail(err, CALGAE_ERR_TOKEN, "token %d is outside the vocabulary of %d",
                                   (int)tokens[i], vocab);
    char msg[CALGAE_ERR_LEN];
    for (int done = 0; done < n;) {
        int chunk = n - done < c->st.max_batch ? n - done : c->st.max_batch;
        if (calgae_forward(&c->st, tokens + done, chunk, q->pos, 0, msg, sizeof msg) != 0) {
            q->have_logits = 0;
            return calgae_api_status(err, CALGAE_ERR_ARGUMENT, msg);
        }
        q->pos += chunk;
        done += chunk;
        q->have_logits = 1;
        q->logits = c->st.logits;
        q->last = tokens[done - 1];
    }
    return calgae_api_ok(err);
}

const float *calgae_get_logits(const calgae_context *c)
{
    return calgae_get_logits_seq(c, 0);
}

calgae_status calgae_context_truncate(calgae_context *c, int pos, calgae_error *err)
{
    return calgae_context_seq_truncate(c, 0, pos, err);
}

/* ---- state ---- */

typedef struct state_header {
    char magic[8];
    uint32_t version;
    int32_t n_layers, kv_dim, vocab, dim, hidden, n_heads;
    int32_t pos, last, have_logits;
} state_header;

static size_t kv_dim_of(const calgae_config *cfg)
{
    return (size_t)cfg->head_size * (size_t)cfg->n_kv_heads;
}

static state_header header_of(const calgae_context *c)
{
    const calgae_config *cfg = &c->model->tr.cfg;
    state_header h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, "CALGAEKV", 8);
    h.version = STATE_VERSION;
    h.n_layers = cfg->n_layers;
    h.kv_dim = (int32_t)kv_dim_of(cfg);
    h.vocab = cfg->vocab_size;
    h.dim = cfg->dim;
    h.hidden = cfg->hidden_dim;
    h.n_heads = cfg->n_heads;
    h.pos = c->seq[0].pos;
    h.last = c->seq[0].last;
    h.have_logits = c->seq[0].have_logits;
    return h;
}

static size_t body_size(const calgae_config *cfg, int pos, int have_logits)
{
    return (size_t)cfg->n_layers * 2 * (size_t)pos * kv_dim_of(cfg) * sizeof(float) +
           (have_logits ? (size_t)cfg->vocab_size * sizeof(float) : 0);
}

size_t calgae_state_size(const calgae_context *c)
{
    if (!c)
        return 0;
    return sizeof(state_header) +
           body_size(&c->model->tr.cfg, c->seq[0].pos, c->seq[0].have_logits);
}

calgae_status calgae_state_save(const calgae_context *c, void *buf, size_t cap, size_t *written,
                                calgae_error *err)
{
    if (!c || !buf)
        return calgae_api_fail(err, CALGAE_ERR_ARGUMENT, "calgae_state_save: bad arguments");
    const size_t need = calgae_state_size(c);
    if (written)
        *written = need;
    if (cap < need)
        return calgae_api_fail(err, CALGAE_ERR_SPACE, "the state needs %zu bytes, the buffer has %zu",
                               need, cap);
    const calgae_config *cfg = &c->model->tr.cfg;
    const size_t row = kv_dim_of(cfg) * sizeof(float), span = (size_t)c->seq[0].pos * row;
    state_header h = header_of(c);
    uint8_t *p = buf;
    memcpy(p, &h, sizeof h);
    p += sizeof h;
    for (int l = 0; l < cfg->n_layers; l++) {
        const size_t off = (size_t)l * (size_t)c->st.ctx * kv_dim_of(cfg);
        memcpy(p, c->st.key_cache + off, span);
        p += span;
        memcpy(p, c->st.value_cache + off, span);
        p += span;
    }
    if (c->seq[0].have_logits)
        memcpy(p, c->seq[0].logits, (size_t)cfg->vocab_size * sizeof(float));
    return calgae_api_ok(err);
}

calgae_status calgae_state_load(calgae_context *c, const void *buf, size_t size, calgae_error *err)
{
    if (!c || !buf)
        return calgae_api_fail(err, CALGAE_ERR_ARGUMENT, "calgae_state_load: bad arguments");
    state_header h, mine = header_of(c);
    if (size < sizeof h)
        return calgae_api_fail(err, CALGAE_ERR_FORMAT, "state of %zu bytes is truncated", size);
    memcpy(&h, buf, sizeof h);
    if (memcmp(h.magic, "CALGAEKV", 8) != 0 || h.version != STATE_VERSION)
        return calgae_api_fail(err, CALGAE_ERR_FORMAT, "not a Calgae KV state (version %d)",
                               STATE_VERSION);
    if (h.n_layers != mine.n_layers || h.kv_dim != mine.kv_dim || h.vocab != mine.vocab ||
        h.dim != mine.dim || h.hidden != mine.hidden || h.n_heads != mine.n_heads)
        return calgae_api_fail(err, CALGAE_ERR_FORMAT, "the state belongs to a model of another shape");
    if (h.pos < 0 || h.pos > c->st.ctx)
        return calgae_api_fail(err, CALGAE_ERR_CONTEXT,
                               "the state holds %d positions; the context has room for %d",
                               (int)h.pos, c->st.ctx);
    if (h.last < -1 || h.last >= mine.vocab || (h.have_logits != 0 && h.have_logits != 1))
        return calgae_api_fail(err, CALGAE_ERR_FORMAT, "corrupt state header");
    const calgae_config *cfg = &c->model->tr.cfg;
    if (size != sizeof h + body_size(cfg, h.pos, h.have_logits))
        return calgae_api_fail(err, CALGAE_ERR_FORMAT, "state of %zu bytes, expected %zu", size,
                               sizeof h + body_size(cfg, h.pos, h.have_logits));
    const size_t row = kv_dim_of(cfg) * sizeof(float), span = (size_t)h.pos * row;
    const uint8_t *p = (const uint8_t *)buf + sizeof h;
    for (int l = 0; l < cfg->n_layers; l++) {
        const size_t off = (size_t)l * (size_t)c->st.ctx * kv_dim_of(cfg);
        memcpy(c->st.key_cache + off, p, span);
        p += span;
        memcpy(c->st.value_cache + off, p, span);
        p += span;
    }
    calgae_seq *q = &c->seq[0];
    q->logits = c->n_seq > 1 ? c->seq_logits : c->st.logits;
    if (h.have_logits)
        memcpy((float *)q->logits, p, (size_t)cfg->vocab_size * sizeof(float));
    q->pos = h.pos;
    q->last = h.last;
    q->have_logits = h.have_logits;
    return calgae_api_ok(err);
}

calgae_status calgae_state_save_file(const calgae_context *c, const char *path, calgae_error *err)
{
    if (!c || !path)
        return calgae_api_fail(err, CALGAE_ERR_ARGUMENT, "calgae_state_save_file: bad arguments");
    const size_t n = calgae_state_size(c);
    void *buf = malloc(n);
    if (!buf)
        return calgae_api_fail(err, CALGAE_ERR_MEMORY, "%s: out of memory", path);
    calgae_status st = calgae_state_save(c, buf, n, NULL, err);
    if (st != CALGAE_OK) {
        free(buf);
        return st;
    }
    char tmp[CALGAE_PATH_MAX + 32];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= sizeof tmp) {
        free(buf);
        return calgae_api_fail(err, CALGAE_ERR_ARGUMENT, "%.200s...: path too long", path);
    }
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        free(buf);
        return calgae_api_fail(err, CALGAE_ERR_IO, "%s: %s", path, strerror(errno));
    }
    int ok = fwrite(buf, 1, n, f) == n;
    ok &= fclose(f) == 0;
    free(buf);
    if (!ok || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return calgae_api_fail(err, CALGAE_ERR_IO, "%s: cannot write: %s", path, strerror(e));
    }
    return calgae_api_ok(err);
}

calgae_status calgae_state_load_file(calgae_context *c, const char *path, calgae_error *err)
{
    if (!c || !path)
        return calgae_api_fail(err, CALGAE_ERR_ARGUMENT, "calgae_state_load_file: bad arguments");
    calgae_map m;
    char msg[CALGAE_ERR_LEN];
    if (calgae_map_file(&m, path, msg, sizeof msg) != 0)
        return calgae_api_status(err, CALGAE_ERR_IO, msg);
    calgae_status st = m.data ? calgae_state_load(c, m.data, m.size, err)
                              : calgae_api_fail(err, CALGAE_ERR_FORMAT, "empty file");
    calgae_unmap(&m);
    if (st != CALGAE_OK && err) {
        char inner[CALGAE_ERROR_MESSAGE_MAX];
        snprintf(inner, sizeof inner, "%s", err->message);
        calgae_api_fail(err, st, "%s: %s", path, inner);
    }
    return st;
}
