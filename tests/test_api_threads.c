/*
 * test_api_threads.c - two contexts on one libcalgae model, generating in two threads at once,
 * built with ThreadSanitizer (tests/CMakeLists.txt): any data race between the contexts (shared
 * weights, plugin tables, the model's vocabulary) stops the run with TSan's report. Each
 * thread's greedy text must also equal the text the same context makes alone, and the thread on
 * the empty prompt must give llama2.c's text (expected_stories260K_t0_n200.txt).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calgae.h"

#define TOKENS 200

typedef struct job {
    calgae_model *model;
    const char *prompt;
    char text[8192];
    size_t len;
    int rc;
} job;

static int collect(void *user, calgae_token t, const char *s, size_t n)
{
    (void)t;
    job *j = user;
    if (j->len + n < sizeof j->text) {
        memcpy(j->text + j->len, s, n);
        j->len += n;
    }
    return 0;
}

static void *run(void *arg)
{
    job *j = arg;
    calgae_error err;
    calgae_context *ctx = NULL;
    calgae_sampler *smp = NULL;
    calgae_context_params cp = calgae_context_default_params();
    cp.n_threads = 2; /* each context with its own pool, both busy at once */
    calgae_sampler_params sp = calgae_sampler_default_params();
    sp.temperature = 0;
    calgae_generate_params gp = calgae_generate_default_params();
    gp.max_tokens = TOKENS;
    j->len = 0;
    j->rc = calgae_context_create(j->model, &cp, &ctx, &err) != CALGAE_OK ||
            calgae_sampler_create(calgae_model_vocab(j->model), &sp, &smp, &err) != CALGAE_OK ||
            calgae_generate(ctx, smp, j->prompt, &gp, collect, j, NULL, &err) != CALGAE_OK;
    if (j->rc)
        fprintf(stderr, "%s\n", err.message);
    j->text[j->len] = '\0';
    calgae_sampler_free(smp);
    calgae_context_free(ctx);
    return NULL;
}

int main(void)
{
    const char *models = getenv("CALGAE_MODELS");
    if (!models)
        return 2;
    char path[4096], want_path[4096];
    snprintf(path, sizeof path, "%s/stories260K.gguf", models);
    snprintf(want_path, sizeof want_path, "%s/expected_stories260K_t0_n200.txt", models);
    calgae_error err;
    calgae_model *model;
    if (calgae_model_load(path, NULL, &model, &err) != CALGAE_OK) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    static job alone[2], together[2];
    const char *prompts[2] = {"", "Once upon a time, a cat"};
    for (int i = 0; i < 2; i++) {
        alone[i] = (job){.model = model, .prompt = prompts[i]};
        together[i] = alone[i];
        run(&alone[i]);
    }
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, run, &together[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    int fail = 0;
    for (int i = 0; i < 2; i++) {
        int same = !alone[i].rc && !together[i].rc && strcmp(alone[i].text, together[i].text) == 0;
        printf("%s thread %d: %zu bytes, same as alone\n", same ? "ok  " : "FAIL", i,
               together[i].len);
        fail |= !same;
    }
    char want[8192] = "";
    FILE *f = fopen(want_path, "rb");
    size_t n = f ? fread(want, 1, sizeof want - 1, f) : 0;
    if (f)
        fclose(f);
    want[n] = '\0';
    /* llama2.c ends its text with one newline, which the caller (not the library) prints */
    int golden = n > 0 && want[n - 1] == '\n' && together[0].len == n - 1 &&
                 memcmp(together[0].text, want, n - 1) == 0;
    printf("%s thread 0's text equals llama2.c's\n", golden ? "ok  " : "FAIL");
    calgae_model_free(model);
    return fail || !golden;
}
