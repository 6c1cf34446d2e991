/*
 * chat_answer.c - one answer of a chat session (chat_session_priv.h): generation through
 * calgae_generate_tokens with a per-token callback that streams the text, stops at the
 * template's end-of-turn markers and at Ctrl-C, and afterwards makes the KV cache hold exactly
 * the answer's tokens that the conversation keeps.
 *
 * Markers stop an answer in two ways: as a token (where the vocabulary has "<|im_end|>" as one
 * piece), or as text (TinyLlama's vocabulary spells "<|user|>" in pieces, so a model that goes
 * on to write the user's next turn is cut where the marker starts). Text that could be the
 * start of a marker is held back until the next token shows whether it is one.
 */
#include "chat_session_priv.h"

#include <stdlib.h>
#include <string.h>

struct gen {
    chat_session *s;
    chat_emit_fn emit;
    void *user;
    char *reply; /* the answer's text so far */
    size_t len, cap, printed;
    size_t *ends; /* ends[i]: the reply's length after token i */
    calgae_token *ids;
    int n, cap_n;
    int cut; /* a marker was found in the text at cut_at */
    size_t cut_at;
    int interrupted, oom;
};

/* The earliest marker text in r[from..len). */
static int find_marker_text(const chat_session *s, const char *r, size_t from, size_t len,
                            size_t *at)
{
    int found = 0;
    for (int i = 0; i < s->n_mk; i++) {
        const size_t ml = s->mk[i].len;
        for (size_t p = from; p + ml <= len && (!found || p < *at); p++)
            if (!memcmp(r + p, s->mk[i].text, ml)) {
                *at = p;
                found = 1;
                break;
            }
    }
    return found;
}

/* The longest end of r[0..len) that begins some marker without being all of it. */
static size_t marker_prefix_at_end(const chat_session *s, const char *r, size_t len)
{
    size_t best = 0;
    for (int i = 0; i < s->n_mk; i++)
        for (size_t k = s->mk[i].len - 1 < len ? s->mk[i].len - 1 : len; k > best; k--)
            if (!memcmp(r + len - k, s->mk[i].text, k)) {
                best = k;
                break;
            }
    return best;
}

static int append(struct gen *g, calgae_token tok, const char *text, size_t len)
{
    if (g->len + len + 1 > g->cap) {
        size_t c = g->cap ? g->cap * 2 : 256;
        while (c < g->len + len + 1)
            c *= 2;
        char *r = realloc(g->reply, c);
        if (!r)
            return -1;
        g->reply = r;
        g->cap = c;
    }
    if (g->n + 1 > g->cap_n) {
        int c = g->cap_n ? g->cap_n * 2 : 64;
        size_t *e = realloc(g->ends, (size_t)c * sizeof *e);
        if (e)
            g->ends = e;
        calgae_token *d = realloc(g->ids, (size_t)c * sizeof *d);
        if (d)
            g->ids = d;
        if (!e || !d)
            return -1;
        g->cap_n = c;
    }
    memcpy(g->reply + g->len, text, len);
    g->len += len;
    g->reply[g->len] = '\0';
    g->ends[g->n] = g->len;
    g->ids[g->n++] = tok;
    return 0;
}

static int show(struct gen *g, size_t upto)
{
    int stop = g->emit(g->user, g->reply + g->printed, upto - g->printed);
    g->printed = upto;
    return stop;
}

static int on_token(void *user, calgae_token tok, const char *text, size_t len)
{
    struct gen *g = user;
    for (int i = 0; i < g->s->n_mk; i++)
        if (g->s->mk[i].id == tok)
            return 1; /* the end of the turn, as a token: not part of the answer */
    if (append(g, tok, text, len)) {
        g->oom = 1;
        return 1;
    }
    if (find_marker_text(g->s, g->reply, g->printed, g->len, &g->cut_at)) {
        g->cut = 1;
        show(g, g->cut_at);
        return 1;
    }
    if (show(g, g->len - marker_prefix_at_end(g->s, g->reply, g->len)))
        g->interrupted = 1;
    return g->interrupted;
}

/* The number of answer tokens the cache must hold and the text they make. */
static int kept_tokens(const struct gen *g, size_t *text_len)
{
    int keep = g->n;
    if (g->cut) { /* the tokens wholly before the marker */
        keep = 0;
        while (keep < g->n && g->ends[keep] <= g->cut_at)
            keep++;
    }
    *text_len = keep ? g->ends[keep - 1] : 0;
    return keep;
}

/* Makes the cache hold the prompt and exactly `keep` answer tokens: generation leaves out the
 * last token when it stops on a limit or the callback, and has evaluated marker text. */
static int settle_cache(chat_session *s, const struct gen *g, int pos_prompt, int keep)
{
    const int in_cache = calgae_context_pos(s->ctx) - pos_prompt;
    if (in_cache > keep)
        calgae_context_truncate(s->ctx, pos_prompt + keep, NULL);
    else if (in_cache < keep) {
        if (calgae_context_pos(s->ctx) >= calgae_context_size(s->ctx) ||
            calgae_eval(s->ctx, &g->ids[keep - 1], 1, NULL) != CALGAE_OK)
            keep = in_cache; /* the context is full: the last token's text is not kept */
    }
    return keep;
}

static calgae_status record(chat_session *s, const struct gen *g, size_t text_len,
                            calgae_error *err)
{
    const size_t off = s->fed_len;
    char *f = realloc(s->fed, off + text_len + 1);
    if (!f)
        return chat_fail(err, CALGAE_ERR_MEMORY, "chat: out of memory");
    s->fed = f;
    if (text_len)
        memcpy(f + off, g->reply, text_len);
    f[off + text_len] = '\0';
    s->fed_len = off + text_len;
    if (chat_push_ckpt(s, calgae_context_pos(s->ctx), s->fed_len) ||
        chat_push_msg(s, "assistant", text_len ? g->reply : "", text_len))
        return chat_fail(err, CALGAE_ERR_MEMORY, "chat: out of memory");
    return CALGAE_OK;
}

calgae_status chat_answer(chat_session *s, const struct tokvec *tok, int split, const char *full,
                          size_t full_len, int max_tokens, chat_emit_fn emit, void *user,
                          chat_turn_stats *stats, calgae_error *err)
{
    struct gen g = {.s = s, .emit = emit, .user = user};
    const int n = tok->n - split;
    const int pos_prompt = calgae_context_pos(s->ctx) + n;
    calgae_generate_params gp = calgae_generate_default_params();
    gp.max_tokens = max_tokens;
    calgae_generate_result res;
    calgae_status st = calgae_generate_tokens(s->ctx, s->smp, tok->v + split, n, &gp, on_token,
                                              &g, &res, err);
    if (st == CALGAE_OK && g.oom)
        st = chat_fail(err, CALGAE_ERR_MEMORY, "chat: out of memory");
    if (st == CALGAE_OK && (chat_set_fed(s, full, full_len) ||
                            chat_push_ckpt(s, pos_prompt, full_len)))
        st = chat_fail(err, CALGAE_ERR_MEMORY, "chat: out of memory");
    if (st == CALGAE_OK) {
        if (!g.cut && g.printed < g.len)
            show(&g, g.len); /* text held back as a possible marker, which it was not */
        size_t text_len;
        int keep = kept_tokens(&g, &text_len);
        int settled = settle_cache(s, &g, pos_prompt, keep);
        if (settled < keep)
            text_len = settled ? g.ends[settled - 1] : 0;
        st = record(s, &g, text_len, err);
        stats->n_prefilled = tok->n;
        stats->n_prompt_pos = pos_prompt;
        stats->n_generated = settled;
        stats->interrupted = g.interrupted;
        stats->prompt_ms = res.prompt_ms;
        stats->generate_ms = res.generate_ms;
    }
    free(g.reply);
    free(g.ends);
    free(g.ids);
    return st;
}
