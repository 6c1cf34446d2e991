/*
 * seq_api.c - libcalgae's contexts of several sequences (calgae.h, "several sequences in one
 * context"), after llama.cpp's seq_id: each sequence has its own positions, KV cache and last
 * logits, and one call evaluates tokens of any of them in a single forward pass
 * (calgae_forward_seqs), so the weights are read once per step for all of them.
 */
#include <string.h>

#include "api_internal.h"

int calgae_context_n_seq(const calgae_context *c)
{
    return c ? c->n_seq : 0;
}

int calgae_context_seq_pos(const calgae_context *c, int seq)
{
    return c && seq >= 0 && seq < c->n_seq ? c->seq[seq].pos : 0;
}

const float *calgae_get_logits_seq(const calgae_context *c, int seq)
{
    if (!c || seq < 0 || seq >= c->n_seq || !c->seq[seq].have_logits)
        return NULL;
    return c->seq[seq].logits;
}

/* Checks the whole call before anything runs, so that a refused call changes nothing. */
static calgae_status check_batch(calgae_context *c, const calgae_token *tokens, const int *seqs,
                                 int n, calgae_error *err)
{
    const int vocab = c->model->tr.cfg.vocab_size;
    memset(c->seq_add, 0, (size_t)c->n_seq * sizeof *c->seq_add);
    for (int i = 0; i < n; i++) {
        if (seqs[i] < 0 || seqs[i] >= c->n_seq)
            return calgae_api_fail(err, CALGAE_ERR_ARGUMENT, "sequence %d out of range (0..%d)",
                                   seqs[i], c->n_seq - 1);
        if (tokens[i] < 0 || tokens[i] >= vocab)
            return calgae_api_fail(err, CALGAE_ERR_TOKEN, "token %d is outside the vocabulary of %d",
                                   (int)tokens[i], vocab);
        c->seq_add[seqs[i]]++;
    }
    for (int q = 0; q < c->n_seq; q++)
        if (c->seq_add[q] > c->st.ctx - c->seq[q].pos)
            return calgae_api_fail(err, CALGAE_ERR_CONTEXT,
                                   "%d tokens do not fit sequence %d: %d of %d positions used",
                                   c->seq_add[q], q, c->seq[q].pos, c->st.ctx);
    return CALGAE_OK;
}

/* One forward pass over tokens[0..n) (n <= n_batch); each sequence's last token in it gets a
 * logits row, copied to the sequence's own row so that later batches leave it alone. */
static calgae_status eval_chunk(calgae_context *c, const calgae_token *tokens, const int *seqs,
                                int n, calgae_error *err)
{
    for (int i = 0; i < n; i++) {
        c->tok_seq[i] = seqs[i];
        c->tok_pos[i] = c->seq[seqs[i]].pos++;
        c->want[i] = 1;
        for (int k = i + 1; k < n && c->want[i]; k++) /* a later token of its sequence? */
            c->want[i] = seqs[k] != seqs[i];
    }
    char msg[CALGAE_ERR_LEN];
    if (calgae_forward_seqs(&c->st, tokens, c->tok_seq, c->tok_pos, c->want, n, msg,
                            sizeof msg) != 0) {
        for (int i = 0; i < n; i++) /* the cache rows are undefined: drop the whole call */
            c->seq[seqs[i]].have_logits = 0;
        return calgae_api_status(err, CALGAE_ERR_ARGUMENT, msg);
    }
    const size_t vocab = (size_t)c->model->tr.cfg.vocab_size;
    int row = 0;
    for (int i = 0; i < n; i++) {
        if (!c->want[i])
            continue;
        calgae_seq *q = &c->seq[seqs[i]];
        float *dst = c->seq_logits + (size_t)seqs[i] * vocab;
        memcpy(dst, c->st.logits + (size_t)row++ * vocab, vocab * sizeof *dst);
        q->logits = dst;
        q->have_logits = 1;
        q->last = tokens[i];
    }
    return CALGAE_OK;
}

calgae_status calgae_eval_seqs(calgae_context *c, const calgae_token *tokens, const int *seqs,
                               int n, calgae_error *err)
{
    if (!c || n < 0 || (n > 0 && (!tokens || !seqs)))
        return calgae_api_fail(err, CALGAE_ERR_ARGUMENT, "calgae_eval_seqs: bad arguments");
    if (c->n_seq == 1) { /* one sequence: the plain path, with no logits copy */
        for (int i = 0; i < n; i++)
            if (seqs[i] != 0)
                return calgae_api_fail(err, CALGAE_ERR_ARGUMENT,
                                       "sequence %d out of range (0..0)", seqs[i]);
        return calgae_eval(c, tokens, n, err);
    }
    calgae_status st = check_batch(c, tokens, seqs, n, err);
    if (st != CALGAE_OK)
        return st;
    for (int done = 0; done < n;) {
        const int chunk = n - done < c->st.max_batch ? n - done : c->st.max_batch;
        st = eval_chunk(c, tokens + done, seqs + done, chunk, err);
        if (st != CALGAE_OK)
            return st;
        done += chunk;
    }
    return calgae_api_ok(err);
}

calgae_status calgae_eval_seqs_zero(calgae_context *c, const calgae_token *tokens, int n,
                                    calgae_error *err)
{
    calgae_status st;
    const int vocab = c->model->tr.cfg.vocab_size;
    for (int i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= vocab)
            return calgae_api_fail(err, CALGAE_ERR_TOKEN, "token %d is outside the vocabulary of %d",
                                   (int)tokens[i], vocab);
    if (n > c->st.ctx - c->seq[0].pos)
        return calgae_api_fail(err, CALGAE_ERR_CONTEXT,
                               "%d tokens do not fit the context: %d of %d positions used", n,
                               c->seq[0].pos, c->st.ctx);
    for (int done = 0; done < n;) {
        const int chunk = n - done < c->st.max_batch ? n - done : c->st.max_batch;
        memset(c->tok_seq, 0, (size_t)chunk * sizeof *c->tok_seq);
        /* eval_chunk reads the sequence ids from its argument, which may alias tok_seq */
        st = eval_chunk(c, tokens + done, c->tok_seq, chunk, err);
        if (st != CALGAE_OK)
            return st;
        done += chunk;
    }
    return calgae_api_ok(err);
}

calgae_status calgae_context_seq_truncate(calgae_context *c, int seq, int pos, calgae_error *err)
{
    if (!c || seq < 0 || seq >= c->n_seq || pos < 0 || pos > c->seq[seq].pos)
        return calgae_api_fail(err, CALGAE_ERR_ARGUMENT,
                               "cannot truncate sequence %d to %d of %d positions", seq, pos,
                               c && seq >= 0 && seq < c->n_seq ? c->seq[seq].pos : 0);
    calgae_seq *q = &c->seq[seq];
    if (pos < q->pos)
        q->have_logits = 0;
    q->pos = pos;
    if (pos == 0)
        q->last = -1;
    return calgae_api_ok(err);
}

calgae_status calgae_context_seq_copy(calgae_context *c, int src, int dst, calgae_error *err)
{
    if (!c || src < 0 || src >= c->n_seq || dst < 0 || dst >= c->n_seq)
        return calgae_api_fail(err, CALGAE_ERR_ARGUMENT, "cannot copy sequence %d to %d of %d",
                               src, dst, c ? c->n_seq : 0);
    if (src == dst)
        return calgae_api_ok(err);
    const calgae_config *cfg = &c->model->tr.cfg;
    const size_t kv_dim = (size_t)cfg->head_size * (size_t)cfg->n_kv_heads;
    const size_t layer = (size_t)c->st.ctx * kv_dim, per_seq = (size_t)cfg->n_layers * layer;
    const size_t span = (size_t)c->seq[src].pos * kv_dim * sizeof(float);
    for (int l = 0; l < cfg->n_layers; l++) {
        const size_t from = (size_t)src * per_seq + (size_t)l * layer;
        const size_t to = (size_t)dst * per_seq + (size_t)l * layer;
        memcpy(c->st.key_cache + to, c->st.key_cache + from, span);
        memcpy(c->st.value_cache + to, c->st.value_cache + from, span);
    }
    calgae_seq *q = &c->seq[dst];
    const calgae_seq *s = &c->seq[src];
    q->pos = s->pos;
    q->last = s->last;
    q->have_logits = s->have_logits;
    float *row = c->seq_logits + (size_t)dst * (size_t)cfg->vocab_size;
    if (s->have_logits)
        memcpy(row, s->logits, (size_t)cfg->vocab_size * sizeof *row);
    q->logits = row;
    return calgae_api_ok(err);
}
