/*
 * sampler_api.c - libcalgae's sampler chain, streaming decoder and vocabulary (calgae.h). The
 * chain is the engine's sampler (engine/sampler.c: llama.cpp's repetition penalty and min-p,
 * temperature, top-k, top-p, llama2.c's xorshift draw) over a copy of the context's logits.
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
    calgae_sampler *s = calloc(1, sizeof *s);
    if (!s)
        return calgae_api_fail(err, CALGAE_ERR_MEMORY, "out of memory");
    const int n = vocab->tok->n_vocab;
    char msg[CALGAE_ERR_LEN];
    if (calgae_sampler_state_init(&s->s, n, p->temperature, p->top_k, p->top_p, p->seed, msg,
                                  sizeof msg) != 0 ||
        calgae_sampler_state_set_filters(&s->s, p->min_p, p->repeat_penalty, p->repeat_last_n,
                                         msg, sizeof msg) != 0) {
        calgae_sampler_free(s);
        return calgae_api_status(err, CALGAE_ERR_ARGUMENT, msg);
    }
    s->scratch = malloc((size_t)n * sizeof *s->scratch);
    if (!s->scratch) {
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
    free(s);
}

void calgae_sampler_accept(calgae_sampler *s, calgae_token t)
{
    if (s)
        calgae_sampler_state_accept(&s->s, &t, 1);
}

void calgae_sampler_reset(calgae_sampler *s)
{
    if (s)
        s->s.n_history = s->s.history_pos = 0;
}

calgae_token calgae_sampler_sample(calgae_sampler *s, const calgae_context *ctx)
{
    return calgae_sampler_sample_seq(s, ctx, 0);
}

calgae_token calgae_sampler_sample_seq(calgae_sampler *s, const calgae_context *ctx, int seq)
{
    const float *logits = calgae_get_logits_seq(ctx, seq);
    if (!s || !logits)
        return -1;
    memcpy(s->scratch, logits, (size_t)s->s.vocab_size * sizeof *s->scratch);
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
