/*
 * chat_session.c - see chat_session.h: a conversation over a libcalgae context, with the KV
 * cache reused across turns, the checkpoints that say how far it can be kept, and the
 * overflow rule. Uses calgae.h only. Saving and loading are in chat_store.c.
 */
#define _POSIX_C_SOURCE 200809L /* strdup */
#include "chat_session_priv.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static calgae_status oom(calgae_error *err)
{
    return chat_fail(err, CALGAE_ERR_MEMORY, "chat: out of memory");
}

/* ---- small growable arrays ---- */


static int tok_push(struct tokvec *t, calgae_token id)
{
    if (chat_grow((void **)&t->v, &t->cap, t->n + 1, sizeof *t->v))
        return -1;
    t->v[t->n++] = id;
    return 0;
}


static void drop_msgs(chat_session *s, int from, int to)
{
    if (to <= from)
        return; /* also: no list allocated yet */
    for (int i = from; i < to; i++)
        free(s->msgs[i].content);
    memmove(&s->msgs[from], &s->msgs[to], (size_t)(s->n_msgs - to) * sizeof *s->msgs);
    s->n_msgs -= to - from;
}



/* ---- formatting and tokenizing ---- */

/* msgs[0..n) in the template, into a new string. */
static calgae_status format_range(const chat_session *s, int n, int add_ass, char **out,
                                  size_t *len, calgae_error *err)
{
    calgae_chat_message *m = malloc((size_t)(n ? n : 1) * sizeof *m);
    if (!m)
        return oom(err);
    for (int i = 0; i < n; i++) {
        m[i].role = s->msgs[i].role;
        m[i].content = s->msgs[i].content;
    }
    calgae_status st = calgae_chat_format(s->tmpl, m, n, add_ass, NULL, 0, len, err);
    if (st == CALGAE_ERR_SPACE) {
        *out = malloc(*len + 1);
        st = *out ? calgae_chat_format(s->tmpl, m, n, add_ass, *out, *len + 1, len, err)
                  : oom(err);
    } else if (st == CALGAE_OK) { /* only an empty text fits in no buffer */
        *out = calloc(1, 1);
        st = *out ? CALGAE_OK : oom(err);
    }
    free(m);
    return st;
}

/* Plain text between markers. calgae_tokenize adds SentencePiece's leading space to every
 * text; where the text has its own (a plain continuation " She said"), that one is dropped so
 * the space is not doubled. A byte-level BPE vocabulary adds none, and the text stays whole. */
static calgae_status tokenize_text(const chat_session *s, const char *t, size_t len,
                                   struct tokvec *out, calgae_error *err)
{
    if (s->dummy_space && len > 1 && t[0] == ' ') {
        t++;
        len--;
    }
    if (len == 0)
        return CALGAE_OK;
    if (len > (size_t)1 << 28)
        return chat_fail(err, CALGAE_ERR_ARGUMENT, "chat: a message of %zu bytes is too long",
                         len);
    int cap = (int)len + 2, n = 0;
    if (chat_grow((void **)&out->v, &out->cap, out->n + cap, sizeof *out->v))
        return oom(err);
    calgae_status st = calgae_tokenize(s->vocab, t, len, 0, out->v + out->n, cap, &n, err);
    if (st == CALGAE_OK)
        out->n += n;
    return st;
}

/* The first marker (one vocabulary piece) in t[0..len) at or after 0: its index, -1 if none. */
static int next_marker(const chat_session *s, const char *t, size_t len, size_t *at)
{
    int best = -1;
    for (int i = 0; i < s->n_mk; i++) {
        if (s->mk[i].id < 0)
            continue;
        const char *p = t;
        while ((p = memchr(p, s->mk[i].text[0], len - (size_t)(p - t))) != NULL) {
            if ((size_t)(t + len - p) >= s->mk[i].len && !memcmp(p, s->mk[i].text, s->mk[i].len))
                break;
            p++;
        }
        if (p && (best < 0 || (size_t)(p - t) < *at)) {
            best = i;
            *at = (size_t)(p - t);
        }
    }
    return best;
}

/* Formatted text to tokens, the template's markers as their own ids (llama.cpp's
 * parse_special), BOS first with add_bos. */
calgae_status chat_tokenize(const chat_session *s, const char *t, size_t len, int add_bos,
                            struct tokvec *out, calgae_error *err)
{
    if (add_bos && tok_push(out, calgae_vocab_bos(s->vocab)))
        return oom(err);
    while (len > 0) {
        size_t at = 0;
        int m = next_marker(s, t, len, &at);
        size_t seg = m < 0 ? len : at;
        calgae_status st = tokenize_text(s, t, seg, out, err);
        if (st != CALGAE_OK)
            return st;
        if (m < 0)
            break;
        if (tok_push(out, s->mk[m].id))
            return oom(err);
        t += at + s->mk[m].len;
        len -= at + s->mk[m].len;
    }
    return CALGAE_OK;
}

/* ---- creation ---- */

/* Each marker's token id where the vocabulary has it as one piece (-1 otherwise). */
static void find_markers(chat_session *s)
{
    const char *const *mk = calgae_chat_template_markers(s->tmpl);
    for (int i = 0; mk[i] && s->n_mk < CHAT_MAX_MARKERS; i++) {
        s->mk[s->n_mk].text = mk[i];
        s->mk[s->n_mk].len = strlen(mk[i]);
        s->mk[s->n_mk].id = -1;
        s->n_mk++;
    }
    const int nv = calgae_vocab_size(s->vocab);
    for (calgae_token id = 0; id < nv; id++) {
        size_t plen;
        const char *p = calgae_token_piece(s->vocab, id, &plen);
        for (int i = 0; p && i < s->n_mk; i++)
            if (s->mk[i].id < 0 && plen == s->mk[i].len && !memcmp(p, s->mk[i].text, plen))
                s->mk[i].id = id;
    }
}

/* Whether the vocabulary's tokenizer puts a space before a text: "a" alone comes back as " a"
 * (SentencePiece's dummy prefix), or as "a" (byte-level BPE). */
static int adds_leading_space(const calgae_vocab *v)
{
    calgae_token ids[8];
    int n = 0;
    if (calgae_tokenize(v, "a", 1, 0, ids, 8, &n, NULL) != CALGAE_OK || n < 1)
        return 1; /* the old assumption */
    size_t len = 0;
    const char *p = calgae_token_piece(v, ids[0], &len);
    return p && len > 0 && p[0] == ' ';
}

calgae_status chat_session_create(calgae_context *ctx, calgae_sampler *smp,
                                  const calgae_vocab *vocab, calgae_chat_template tmpl,
                                  const char *system, chat_session **out, calgae_error *err)
{
    *out = NULL;
    if (calgae_chat_template_name(tmpl)[0] == 'u')
        return chat_fail(err, CALGAE_ERR_ARGUMENT, "chat: no template");
    chat_session *s = calloc(1, sizeof *s);
    if (!s)
        return oom(err);
    s->ctx = ctx;
    s->smp = smp;
    s->vocab = vocab;
    s->dummy_space = adds_leading_space(vocab);
    s->tmpl = tmpl;
    find_markers(s);
    if ((system && *system && chat_push_msg(s, "system", system, strlen(system))) ||
        chat_set_fed(s, "", 0)) {
        chat_session_free(s);
        return oom(err);
    }
    s->has_system = system && *system;
    chat_session_reset(s);
    *out = s;
    return CALGAE_OK;
}

void chat_session_free(chat_session *s)
{
    if (!s)
        return;
    drop_msgs(s, 0, s->n_msgs);
    free(s->msgs);
    free(s->ck);
    free(s->fed);
    free(s);
}

void chat_session_reset(chat_session *s)
{
    drop_msgs(s, s->has_system, s->n_msgs);
    calgae_context_truncate(s->ctx, 0, NULL);
    calgae_sampler_reset(s->smp);
    s->n_ck = 0;
    chat_push_ckpt(s, 0, 0); /* room for 16 from the first grow; cannot fail after it */
    s->fed_len = 0;
    s->fed[0] = '\0';
}

int chat_session_messages(const chat_session *s)
{
    return s->n_msgs;
}

/* ---- a turn ---- */

/* What a turn will prefill: from checkpoint *k, the tokens of full[ck[k].off..), with the
 * system prompt as its own chunk (its first *split tokens) when starting from nothing, so that
 * a later overflow can keep it. */
struct plan {
    char *full;
    size_t full_len;
    int k, split;
    size_t sys_len;
    struct tokvec tok;
};

static void plan_free(struct plan *p)
{
    free(p->full);
    free(p->tok.v);
    memset(p, 0, sizeof *p);
}

static calgae_status make_plan(const chat_session *s, struct plan *p, calgae_error *err)
{
    memset(p, 0, sizeof *p);
    calgae_status st = format_range(s, s->n_msgs, 1, &p->full, &p->full_len, err);
    if (st != CALGAE_OK)
        return st;
    size_t same = 0;
    while (same < s->fed_len && same < p->full_len && s->fed[same] == p->full[same])
        same++;
    /* the last checkpoint inside the common part that leaves at least one token to evaluate
     * (the answer needs logits; repeated text can make a whole new prompt read as cached) */
    p->k = s->n_ck - 1;
    while (p->k > 0 && (s->ck[p->k].off > same || s->ck[p->k].off >= p->full_len))
        p->k--;
    const struct chat_ckpt *c = &s->ck[p->k];
    if (c->pos == 0 && s->has_system) {
        char *sys = NULL;
        size_t sl = 0;
        st = format_range(s, 1, 0, &sys, &sl, err);
        if (st == CALGAE_OK && sl > 0 && sl < p->full_len && !memcmp(sys, p->full, sl)) {
            st = chat_tokenize(s, sys, sl, 1, &p->tok, err);
            p->split = p->tok.n;
            p->sys_len = sl;
        }
        free(sys);
        if (st != CALGAE_OK)
            return st;
    }
    size_t from = p->split ? p->sys_len : c->off;
    return chat_tokenize(s, p->full + from, p->full_len - from, c->pos == 0 && !p->split,
                         &p->tok, err);
}

/* The oldest exchange after the system prompt, if the new message is not the only one left. */
static int drop_oldest(chat_session *s)
{
    int from = s->has_system;
    if (from >= s->n_msgs - 1)
        return 0;
    int to = from + 1;
    while (to < s->n_msgs - 1 && strcmp(s->msgs[to].role, "user") != 0)
        to++;
    drop_msgs(s, from, to);
    return 1;
}

/* Plans the turn, dropping exchanges until its prompt and room for the answer fit. */
static calgae_status fit_turn(chat_session *s, int max_tokens, struct plan *p,
                              chat_turn_stats *stats, calgae_error *err)
{
    const int n_ctx = calgae_context_size(s->ctx);
    const int room = max_tokens < n_ctx / 2 ? max_tokens : n_ctx / 2;
    for (;;) {
        calgae_status st = make_plan(s, p, err);
        if (st != CALGAE_OK)
            return st;
        const int need = s->ck[p->k].pos + p->tok.n;
        if (need + room <= n_ctx && need < n_ctx)
            return CALGAE_OK;
        plan_free(p);
        if (!drop_oldest(s))
            return chat_fail(err, CALGAE_ERR_CONTEXT,
                             "the message needs %d tokens and room for an answer, more than "
                             "the context of %d holds (--ctx)",
                             need, n_ctx);
        stats->n_dropped++;
    }
}

/* Evaluates the system chunk, then rewinds the bookkeeping to the plan's checkpoint. */
static calgae_status apply_plan(chat_session *s, const struct plan *p, calgae_error *err)
{
    const struct chat_ckpt c = s->ck[p->k];
    calgae_status st = calgae_context_truncate(s->ctx, c.pos, err);
    if (st != CALGAE_OK)
        return st;
    s->n_ck = p->k + 1;
    s->fed_len = c.off;
    if (p->split) {
        if ((st = calgae_eval(s->ctx, p->tok.v, p->split, err)) != CALGAE_OK)
            return st;
        for (int i = 0; i < p->split; i++)
            calgae_sampler_accept(s->smp, p->tok.v[i]);
        if (chat_push_ckpt(s, calgae_context_pos(s->ctx), p->sys_len))
            return oom(err);
    }
    return CALGAE_OK;
}

calgae_status chat_session_turn(chat_session *s, const char *text, int max_tokens,
                                chat_emit_fn emit, void *user, chat_turn_stats *stats,
                                calgae_error *err)
{
    memset(stats, 0, sizeof *stats);
    const int n_before = s->n_msgs;
    struct chat_msg *saved = malloc((size_t)(n_before ? n_before : 1) * sizeof *saved);
    if (!saved || chat_push_msg(s, "user", text, strlen(text))) {
        free(saved);
        return oom(err);
    }
    /* the messages as they were, should the message not fit */
    for (int i = 0; i < n_before; i++) {
        saved[i] = s->msgs[i];
        saved[i].content = strdup(s->msgs[i].content);
    }
    struct plan p;
    calgae_status st = fit_turn(s, max_tokens, &p, stats, err);
    if (st == CALGAE_OK) {
        for (int i = 0; i < n_before; i++)
            free(saved[i].content);
        st = apply_plan(s, &p, err);
        if (st == CALGAE_OK)
            st = chat_answer(s, &p.tok, p.split, p.full, p.full_len, max_tokens, emit, user,
                             stats, err);
        if (st != CALGAE_OK && st != CALGAE_ERR_CONTEXT)
            chat_session_reset_cache(s); /* the cache is in doubt: the next turn starts over */
    } else {
        drop_msgs(s, 0, s->n_msgs);
        for (int i = 0; i < n_before; i++)
            chat_push_msg(s, saved[i].role, saved[i].content ? saved[i].content : "",
                          saved[i].content ? strlen(saved[i].content) : 0);
        for (int i = 0; i < n_before; i++)
            free(saved[i].content);
    }
    free(saved);
    plan_free(&p);
    return st;
}

void chat_session_reset_cache(chat_session *s)
{
    calgae_context_truncate(s->ctx, 0, NULL);
    s->n_ck = 1;
    s->fed_len = 0;
    s->fed[0] = '\0';
}
