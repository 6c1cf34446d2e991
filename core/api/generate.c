/*
 * generate.c - libcalgae's generation loop (calgae.h), llama2.c's run.c generate(): evaluate the
 * prompt, then sample a token, hand its text to the caller, evaluate it, until a stop. The
 * token after the prompt is decoded as following the prompt's last token, so the texts the
 * callback receives are exactly what `calgae run` prints after echoing the prompt.
 */
#include <stdlib.h>
#include <string.h>

#include "api_internal.h"
#include "util.h"

calgae_generate_params calgae_generate_default_params(void)
{
    calgae_generate_params p = {.max_tokens = 128, .stop_at_eos = 1, .stop_at_bos = 1,
                                .add_bos = 1};
    return p;
}

static int is_stop(const calgae_generate_params *p, const calgae_vocab *v, calgae_token t)
{
    return (p->stop_at_eos && t == calgae_vocab_eos(v)) ||
           (p->stop_at_bos && t == calgae_vocab_bos(v));
}

calgae_status calgae_generate_tokens(calgae_context *ctx, calgae_sampler *smp,
                                     const calgae_token *prompt, int n,
                                     const calgae_generate_params *params,
                                     calgae_token_callback cb, void *user,
                                     calgae_generate_result *result, calgae_error *err)
{
    calgae_generate_params defaults = calgae_generate_default_params();
    const calgae_generate_params *p = params ? params : &defaults;
    calgae_generate_result res;
    memset(&res, 0, sizeof res);
    if (result)
        *result = res;
    if (!ctx || !smp || n < 0 || p->max_tokens < 0)
        return calgae_api_fail(err, CALGAE_ERR_ARGUMENT, "calgae_generate_tokens: bad arguments");
    const calgae_vocab *v = calgae_model_vocab(ctx->model);
    const double t0 = calgae_now_ms();
    calgae_status st = calgae_eval(ctx, prompt, n, err);
    if (st != CALGAE_OK)
        return st;
    for (int i = 0; i < n; i++)
        calgae_sampler_accept(smp, prompt[i]);
    if (!calgae_get_logits(ctx))
        return calgae_api_fail(err, CALGAE_ERR_ARGUMENT, "nothing to generate from: no prompt and "
                                                         "no evaluated token");
    const double t1 = calgae_now_ms();
    res.n_prompt = n;
    res.prompt_ms = t1 - t0;
    calgae_decoder dec = {.tok = v->tok, .prev = ctx->seq[0].last};
    char text[CALGAE_DECODE_MAX];
    res.stop_reason = CALGAE_STOP_LENGTH;
    while (res.n_generated < p->max_tokens) {
        calgae_token next = calgae_sampler_sample(smp, ctx);
        if (is_stop(p, v, next)) {
            res.stop_reason = CALGAE_STOP_EOS;
            break;
        }
        size_t len = calgae_decoder_push(&dec, next, text, sizeof text);
        res.n_generated++;
        if (cb && cb(user, next, text, len) != 0) {
            res.stop_reason = CALGAE_STOP_CALLBACK;
            break;
        }
        if (res.n_generated == p->max_tokens)
            break;
        if (calgae_context_pos(ctx) >= calgae_context_size(ctx)) {
            res.stop_reason = CALGAE_STOP_CONTEXT;
            break;
        }
        if ((st = calgae_eval(ctx, &next, 1, err)) != CALGAE_OK)
            break;
    }
    res.generate_ms = calgae_now_ms() - t1;
    if (result)
        *result = res;
    return st == CALGAE_OK ? calgae_api_ok(err) : st;
}

calgae_status calgae_generate(calgae_context *ctx, calgae_sampler *smp, const char *prompt,
                              const calgae_generate_params *params, calgae_token_callback cb,
                              void *user, calgae_generate_result *result, calgae_error *err)
{
    calgae_generate_params defaults = calgae_generate_default_params();
    const calgae_generate_params *p = params ? params : &defaults;
    if (!ctx)
        return calgae_api_fail(err, CALGAE_ERR_ARGUMENT, "calgae_generate: no context");
    const calgae_vocab *v = calgae_model_vocab(ctx->model);
    const char *text = prompt ? prompt : "";
    const size_t len = strlen(text);
    /* at most a token per byte, the leading space's, BOS and EOS */
    if (len > (size_t)INT32_MAX - 3)
        return calgae_api_fail(err, CALGAE_ERR_ARGUMENT, "prompt too long");
    const int cap = (int)len + 3;
    calgae_token *ids = malloc((size_t)cap * sizeof *ids);
    if (!ids)
        return calgae_api_fail(err, CALGAE_ERR_MEMORY, "out of memory");
    int n = 0;
    calgae_status st = calgae_tokenize(v, text, len, p->add_bos, ids, cap, &n, err);
    if (st == CALGAE_OK && n > calgae_context_size(ctx))
        st = calgae_api_fail(err, CALGAE_ERR_CONTEXT,
                             "prompt of %d tokens does not fit the context of %d", n,
                             calgae_context_size(ctx));
    if (st == CALGAE_OK)
        st = calgae_context_truncate(ctx, 0, err);
    if (st == CALGAE_OK)
        st = calgae_generate_tokens(ctx, smp, ids, n, p, cb, user, result, err);
    free(ids);
    return st;
}
