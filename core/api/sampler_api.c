/*
 * sampler_api.c - libcalgae's sampler chain and streaming decoder (calgae.h). The chain wraps the
 * engine's sampler (engine/sampler.c: temperature, top-k, top-p, min-p, llama2.c's xorshift
 * draw) and adds the history llama.cpp's repetition penalty looks back over.
 */
#include <stdlib.h>
#include <string.h>

#include "api_internal.h"
#include "util.h"

calgae_sampler_params calgae_sampler_default_params(void)
{
    calgae_sampler_params p = {.temperature = 0.7f, .top_k = 50, .top_p = 0.9f, .min_p = 0.0f,
                               .repeat_penalty = 1.0f, .repeat_last_n = 64, .seed = 0};
    return p;
}

calgae_status calgae_sampler_create(const calgae_vocab *vocab, const calgae_sampler_params *params,
                                    calgae_sampler **out, calgae_error *err)
{
    calgae_sampler_params defaults = calgae_sampler_default_params();
    const calgae_sampler_params *p = params ? params : &defaults;
    if (!vocab || !out)
        return calgae_api_fail(err, CALGAE_ERR_ARGUMENT, "calgae_sampler_create: no vocabulary or no out");
    *out = NULL;
    if (!(p->repeat_penalty > 0.0f && p->repeat_penalty <= 100.0f) || p->repeat_last_n < 0 ||
        p->repeat_last_n > (1 << 20))
        return calgae_api_fail(err, CALGAE_ERR_ARGUMENT,
                               "repeat penalty %g (0..100] or last-n %d (0..2^20) out of range",
                               (double)p->repeat_penalty, p->repeat_last_n);
    if (p->min_p != 0.0f)
        return calgae_api_fail(err, CALGAE_ERR_ARGUMENT, "min-p is not supported yet");
    calgae_sampler *s = calloc(1, sizeof *s);
    if (!s)
        return calgae_api_fail(err, CALGAE_ERR_MEMORY, "out of memory");
    const int n = vocab->tok->n_vocab;
    char msg[CALGAE_ERR_LEN];
    if (calgae_sampler_state_init(&s->s, n, p->temperature, p->top_k, p->top_p, p->seed, msg,
                                  sizeof msg) != 0) {
        free(s);
        return calgae_api_status(err, CALGAE_ERR_ARGUMENT, msg);
    }
    s->scratch = malloc((size_t)n * sizeof *s->scratch);
    s->recent_cap = p->repeat_last_n;
    s->recent = malloc((size_t)(s->recent_cap > 0 ? s->recent_cap : 1) * sizeof *s->recent);
    s->repeat_penalty = p->repeat_penalty;
    if (!s->scratch || !s->recent) {
        calgae_sampler_free(s);
        return calgae_api_fail(err, CALGAE_ERR_MEMORY, "out of memory");
    }
    *out = s;
    return calgae_api_ok(err);
}

void calgae_sampler_free(calgae_sampler *s)
{
    if (!s)
        return;
    calgae_sampler_state_free(&s->s);
    free(s->scratch);
    free(s->recent);
    free(s);
}

void calgae_sampler_accept(calgae_sampler *s, calgae_token t)
{
    if (!s || s->recent_cap == 0)
        return;
    s->recent[s->recent_head] = t;
    s->recent_head = (s->recent_head + 1) % s->recent_cap;
    if (s->n_recent < s->recent_cap)
        s->n_recent++;
}

void calgae_sampler_reset(calgae_sampler *s)
{
    if (s)
        s->n_recent = s->recent_head = 0;
}

/* llama.cpp's penalty: each distinct recent token's logit divided by the penalty when positive,
 * multiplied when negative (applied once per token however often it recurs). */
static void penalize(calgae_sampler *s, float *logits)
{
    if (s->repeat_penalty == 1.0f)
        return;
    for (int i = 0; i < s->n_recent; i++) {
        calgae_token t = s->recent[i];
        int seen = 0;
        for (int j = 0; j < i && !seen; j++)
            seen = s->recent[j] == t;
        if (seen || t < 0 || t >= s->s.vocab_size)
            continue;
        logits[t] = logits[t] > 0 ? logits[t] / s->repeat_penalty : logits[t] * s->repeat_penalty;
    }
}

calgae_token calgae_sampler_sample(calgae_sampler *s, const calgae_context *ctx)
{
    const float *logits = calgae_get_logits(ctx);
    if (!s || !logits)
        return -1;
    memcpy(s->scratch, logits, (size_t)s->s.vocab_size * sizeof *s->scratch);
    penalize(s, s->scratch);
    calgae_token t = calgae_sample(&s->s, s->scratch);
    calgae_sampler_accept(s, t);
    return t;
}

/* ---- decoder ---- */

calgae_status calgae_decoder_create(const calgae_vocab *vocab, calgae_decoder **out,
                                    calgae_error *err)
{
    if (!vocab || !out)
        return calgae_api_fail(err, CALGAE_ERR_ARGUMENT, "calgae_decoder_create: bad arguments");
    calgae_decoder *d = calloc(1, sizeof *d);
    if (!d)
        return calgae_api_fail(err, CALGAE_ERR_MEMORY, "out of memory");
    d->tok = vocab->tok;
    d->prev = vocab->tok->bos_id;
    *out = d;
    return calgae_api_ok(err);
}

void calgae_decoder_free(calgae_decoder *d)
{
    free(d);
}

void calgae_decoder_reset(calgae_decoder *d)
{
    if (!d)
        return;
    d->prev = d->tok->bos_id;
    memset(&d->us, 0, sizeof d->us);
}

size_t calgae_decoder_push(calgae_decoder *d, calgae_token token, char *out, size_t out_cap)
{
    if (!d || !out || out_cap == 0)
        return 0;
    const char *piece;
    size_t n = calgae_tokenizer_decode(d->tok, d->prev, token, &piece);
    d->prev = token;
    char buf[CALGAE_DECODE_MAX];
    if (n > sizeof buf - 5)
        n = sizeof buf - 5;
    size_t len = calgae_utf8_stream_push(&d->us, piece, n, buf);
    if (len >= out_cap)
        len = out_cap - 1;
    memcpy(out, buf, len);
    out[len] = '\0';
    return len;
}

/* ---- vocabulary ---- */

int calgae_vocab_size(const calgae_vocab *v)
{
    return v ? v->tok->n_vocab : 0;
}

calgae_token calgae_vocab_bos(const calgae_vocab *v)
{
    return v ? v->tok->bos_id : -1;
}

calgae_token calgae_vocab_eos(const calgae_vocab *v)
{
    return v ? v->tok->eos_id : -1;
}

const char *calgae_token_piece(const calgae_vocab *v, calgae_token t, size_t *len)
{
    if (!v || t < 0 || t >= v->tok->n_vocab) {
        if (len)
            *len = 0;
        return NULL;
    }
    if (len)
        *len = v->tok->piece_lens[t];
    return v->tok->pieces[t];
}

calgae_status calgae_tokenize(const calgae_vocab *v, const char *text, size_t text_len,
                              int add_bos, calgae_token *tokens, int max_tokens, int *n_tokens,
                              calgae_error *err)
{
    if (!v || (!text && text_len) || max_tokens < 0 || (max_tokens > 0 && !tokens))
        return calgae_api_fail(err, CALGAE_ERR_ARGUMENT, "calgae_tokenize: bad arguments");
    int32_t *ids = NULL;
    size_t n = 0;
    char msg[CALGAE_ERR_LEN];
    if (calgae_tokenizer_encode(v->tok, text ? text : "", text_len, add_bos, &ids, &n, msg,
                                sizeof msg) != 0)
        return calgae_api_status(err, CALGAE_ERR_MEMORY, msg);
    if (n > (size_t)INT32_MAX) {
        free(ids);
        return calgae_api_fail(err, CALGAE_ERR_ARGUMENT, "text too long");
    }
    if (n_tokens)
        *n_tokens = (int)n;
    calgae_status st = CALGAE_OK;
    if (n > (size_t)max_tokens)
        st = calgae_api_fail(err, CALGAE_ERR_SPACE, "%zu tokens, room for %d", n, max_tokens);
    else
        memcpy(tokens, ids, n * sizeof *ids);
    free(ids);
    return st == CALGAE_OK ? calgae_api_ok(err) : st;
}
