/*
 * run_generate.c - `calgae run`'s generation (run_priv.h): the prompt's echo, then the
 * library's tokens streamed to stdout (and kept for --execute), then the stats line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run_priv.h"
#include "util.h"

static int print_token(void *user, calgae_token token, const char *text, size_t len)
{
    struct answer *a = user;
    (void)token;
    fwrite(text, 1, len, stdout);
    fflush(stdout);
    if (!a)
        return 0;
    if (a->len + len + 1 > a->cap) {
        size_t cap = (a->cap ? a->cap * 2 : 4096) + len;
        char *b = realloc(a->buf, cap);
        if (!b) {
            a->oom = 1;
            return 1; /* stop: the answer could not be kept */
        }
        a->buf = b;
        a->cap = cap;
    }
    memcpy(a->buf + a->len, text, len);
    a->len += len;
    a->buf[a->len] = '\0';
    return 0;
}

/* The prompt's echo, exactly as its tokens decode, then what the library generates. */
int calgae_run_generate(calgae_session *s, const struct run_opts *o, struct answer *ans,
                        char *err, size_t err_len)
{
    const calgae_vocab *v = calgae_model_vocab(s->lm);
    const char *prompt = o->prompt ? o->prompt : "";
    calgae_sampler_params sp = calgae_sampler_default_params();
    sp.temperature = (float)o->temperature;
    sp.top_k = (int)o->top_k;
    sp.top_p = (float)o->top_p;
    sp.min_p = (float)o->min_p;
    sp.repeat_penalty = (float)o->repeat_penalty;
    sp.repeat_last_n = (int)o->repeat_last_n;
    sp.seed = o->seed;
    calgae_sampler *smp = NULL;
    calgae_decoder *echo = NULL;
    calgae_error e = {.status = CALGAE_OK};
    int32_t *ids = NULL;
    size_t n_ids = 0;
    int rc = -1;
    const size_t len = strlen(prompt);
    if (calgae_sampler_create(v, &sp, &smp, &e) != CALGAE_OK ||
        calgae_decoder_create(v, &echo, &e) != CALGAE_OK)
        goto out;
    /* The vocabulary's own BOS/EOS rule (a Qwen2 vocabulary adds no BOS) and llama.cpp's
     * parse_special, through the tokenizer itself: the public calgae_tokenize has neither. */
    const calgae_encode_opts eo = {.add_special = 1, .parse_special = !o->no_parse_special};
    if (calgae_tokenizer_encode_opts(s->tok, prompt, len, &eo, &ids, &n_ids, err, err_len) != 0)
        goto out;
    /* An empty prompt starts from BOS alone, as llama2.c does, even without add_bos. */
    if (n_ids == 0) {
        if (s->tok->bos_id < 0) {
            calgae_fail(err, err_len, "empty prompt, and the vocabulary has no BOS to start from");
            goto out;
        }
        ids[n_ids++] = s->tok->bos_id; /* room: the encoder allocates at least 2 */
    }
    if (n_ids > (size_t)calgae_context_size(s->cx)) {
        calgae_fail(err, err_len, "prompt of %zu tokens does not fit the context of %d (--ctx)",
                    n_ids, calgae_context_size(s->cx));
        goto out;
    }
    const int n = (int)n_ids;
    char text[CALGAE_DECODE_MAX];
    /* the prompt after the BOS the tokenizer added (a BOS typed in the prompt is echoed) */
    const int first = s->tok->add_bos && ids[0] == s->tok->bos_id;
    for (int i = first; i < n && !o->no_display_prompt; i++) {
        calgae_decoder_push(echo, ids[i], text, sizeof text);
        fputs(text, stdout);
    }
    fflush(stdout);
    calgae_generate_params gp = calgae_generate_default_params();
    gp.max_tokens = (int)o->tokens;
    calgae_generate_result r;
    if (calgae_generate_tokens(s->cx, smp, ids, n, &gp, print_token, ans, &r, &e) != CALGAE_OK)
        goto out;
    if (ans && ans->oom) {
        calgae_fail(err, err_len, "out of memory keeping the answer for --execute");
        goto out;
    }
    if (r.stop_reason == CALGAE_STOP_CONTEXT)
        fprintf(stderr, "\ncalgae: context of %d tokens is full\n", calgae_context_size(s->cx));
    fputc('\n', stdout);
    fflush(stdout);
    calgae_model_info info;
    calgae_model_get_info(s->lm, &info);
    fprintf(stderr,
            "calgae: load %.1f ms, prompt %d tokens at %.1f tok/s, generation %d tokens at "
            "%.1f tok/s, backend %s, threads %d\n",
            s->load_ms, r.n_prompt, r.n_prompt * 1000.0 / (r.prompt_ms > 1e-3 ? r.prompt_ms : 1e-3),
            r.n_generated, r.n_generated * 1000.0 / (r.generate_ms > 1e-3 ? r.generate_ms : 1e-3),
            info.backends, calgae_context_threads(s->cx));
    rc = 0;
out:
    if (rc != 0 && e.status != CALGAE_OK)
        snprintf(err, err_len, "%s", e.message);
    free(ids);
    calgae_decoder_free(echo);
    calgae_sampler_free(smp);
    return rc;
}
