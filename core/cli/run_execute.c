/*
 * run_execute.c - `calgae run --execute`: the sandbox opened first, then generation and the
 * code agent (agent/pipeline.h): a retry loop that feeds errors back to the model (--retries),
 * N candidates generated in one batch (--candidates), function mode (--function).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_report.h"
#include "args.h"
#include "run_candidates.h"
#include "run_priv.h"
#include "util.h"

/* The follow-up prompt after a failed attempt: what was asked, what the model answered, what
 * went wrong, and a request to fix it. */
static char *follow_up(const char *prompt, const char *answer, const char *failure)
{
    static const char ask[] = "\n\nFix the program so that it compiles and runs without "
                              "error. Answer with the whole corrected program in one fenced "
                              "code block.\n";
    size_t n = strlen(prompt) + strlen(answer) + strlen(failure) + sizeof ask + 8;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s%s\n\n%s%s", prompt, answer, failure, ask);
    return p;
}

/* --candidates N: the prompt's tokens, the N answers in one batch, each printed and run; the
 * first that succeeds is reported (all with --all). */
static int candidates(calgae_session *s, const struct run_opts *o, calgae_sandbox *sb)
{
    char err[CALGAE_ERR_LEN];
    const int n = (int)o->candidates;
    const char *prompt = o->prompt ? o->prompt : "";
    const calgae_encode_opts eo = {.add_special = 1, .parse_special = !o->no_parse_special};
    int32_t *ids = NULL;
    size_t n_ids = 0;
    char **answers = calloc((size_t)n, sizeof *answers);
    if (!answers || calgae_tokenizer_encode_opts(s->tok, prompt, strlen(prompt), &eo, &ids,
                                                 &n_ids, err, sizeof err) != 0) {
        calgae_cli_error("%s", answers ? err : "out of memory");
        free(answers);
        return 1;
    }
    if (n_ids == 0 && s->tok->bos_id >= 0)
        ids[n_ids++] = s->tok->bos_id;
    calgae_sampler_params sp = calgae_sampler_default_params();
    sp.temperature = (float)o->temperature;
    sp.top_k = (int)o->top_k;
    sp.top_p = (float)o->top_p;
    sp.min_p = (float)o->min_p;
    sp.repeat_penalty = (float)o->repeat_penalty;
    sp.repeat_last_n = (int)o->repeat_last_n;
    sp.seed = o->seed;
    double ms = 0;
    int tokens = 0, rc = 1;
    const int max_tokens = (int)(o->tokens < (1 << 24) ? o->tokens : 1 << 24);
    if (n_ids == 0 || n_ids >= (size_t)calgae_context_size(s->cx)) {
        calgae_cli_error("run: the prompt of %zu tokens leaves no room in the context", n_ids);
        goto out;
    }
    if (calgae_generate_candidates(s, ids, (int)n_ids, &sp, n, max_tokens, answers, &ms, &tokens,
                                   err, sizeof err) != 0) {
        calgae_cli_error("%s", err);
        goto out;
    }
    fprintf(stderr, "calgae: %d candidates in one batch: %d tokens in %.1f ms (%.1f tok/s)\n", n,
            tokens, ms, tokens * 1000.0 / (ms > 1e-3 ? ms : 1e-3));
    const calgae_pipeline_opts po = {.limits = o->limits, .all = o->all};
    int first = 0, blocks = 0;
    for (int i = 0; i < n; i++) {
        calgae_pipeline_result r;
        printf("=== candidate %d (seed %llu) ===\n%s%s\n", i + 1,
               (unsigned long long)(o->seed + (uint64_t)i), o->no_display_prompt ? "" : prompt,
               answers[i]);
        if (calgae_pipeline_run(sb, answers[i], strlen(answers[i]), &po, &r, err, sizeof err) != 0) {
            calgae_cli_error("%s", err);
            goto out;
        }
        calgae_agent_print(stdout, &r);
        if (r.first_ok && !first)
            first = i + 1;
        blocks += r.n_blocks;
        calgae_pipeline_result_free(&r);
        if (first && !o->all)
            break;
    }
    if (first) {
        printf("=== candidate %d succeeded ===\n", first);
        rc = 0;
    } else if (!blocks) {
        calgae_cli_error("agent: none of the %d answers holds a fenced code block (``` or ~~~): "
                         "nothing to run", n);
    } else {
        calgae_cli_error("agent: none of the %d candidates holds code that compiled and ran "
                         "successfully", n);
    }
out:
    fflush(stdout);
    for (int i = 0; i < n; i++)
        free(answers[i]);
    free(answers);
    free(ids);
    return rc;
}

/* --execute: open the sandbox first (no generation when it cannot confine), then generate,
 * run the answer's code, and on a failure that ran something ask again, up to --retries. */
int calgae_run_execute(calgae_session *s, struct run_opts *o)
{
    char err[CALGAE_ERR_LEN];
    calgae_sandbox sb;
    if (calgae_sandbox_open(&sb, NULL, err, sizeof err) != 0) {
        calgae_cli_error("%s", err);
        return 1;
    }
    if (o->function) { /* one answer; the function and its examples decide */
        struct answer ans = {0};
        calgae_sandbox_close(&sb);
        if (calgae_run_generate(s, o, &ans, err, sizeof err) != 0) {
            calgae_cli_error("%s", err);
            free(ans.buf);
            return 1;
        }
        int frc = calgae_agent_function(ans.buf ? ans.buf : "", ans.len, o->function,
                                        o->examples, &o->limits);
        free(ans.buf);
        return frc;
    }
    if (o->candidates > 1) {
        int crc = candidates(s, o, &sb);
        calgae_sandbox_close(&sb);
        return crc;
    }
    const calgae_pipeline_opts po = {.limits = o->limits, .all = o->all};
    const char *first_prompt = o->prompt ? o->prompt : "";
    char *retry_prompt = NULL;
    int rc = 1;
    for (long attempt = 0;; attempt++) {
        struct answer ans = {0};
        calgae_pipeline_result r;
        if (attempt > 0)
            fprintf(stdout, "=== attempt %ld of %ld ===\n", attempt + 1, o->retries + 1);
        calgae_context_truncate(s->cx, 0, NULL);
        if (calgae_run_generate(s, o, &ans, err, sizeof err) != 0 ||
            calgae_pipeline_run(&sb, ans.buf ? ans.buf : "", ans.len, &po, &r, err,
                                sizeof err) != 0) {
            calgae_cli_error("%s", err);
            free(ans.buf);
            break;
        }
        calgae_agent_print(stdout, &r);
        rc = calgae_agent_status(&r);
        char failure[4096];
        calgae_pipeline_failure_text(&r, failure, sizeof failure);
        calgae_pipeline_result_free(&r);
        /* retry only what ran and failed: a model that writes no code will not start to */
        char *next = rc != 0 && failure[0] && attempt < o->retries
                         ? follow_up(first_prompt, ans.buf ? ans.buf : "", failure) : NULL;
        free(ans.buf);
        if (!next)
            break;
        free(retry_prompt);
        retry_prompt = next;
        o->prompt = retry_prompt;
        o->no_display_prompt = 1;
    }
    free(retry_prompt);
    calgae_sandbox_close(&sb);
    return rc;
}
