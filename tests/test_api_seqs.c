/*
 * test_api_seqs.c - libcalgae's contexts of several sequences (calgae_eval_seqs and friends) on
 * stories260K: sequences evaluated side by side in one forward pass give, token for token, the
 * greedy text each gives alone in a context of its own, and the sequence started from BOS gives
 * llama2.c's text (expected_stories260K_t0_n200.txt); a sequence copied from another continues
 * as the original does; refused calls change nothing. Uses calgae.h alone.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "calgae.h"

#define STEPS 200
#define N_SEQ 3

static char model_path[4096];
static char golden_path[4096];

typedef struct seq_run {
    calgae_token prompt[64];
    int n_prompt;
    calgae_token out[STEPS];
    int n_out;
    int done;
} seq_run;

static calgae_model *load(void)
{
    calgae_model_params p = calgae_model_default_params();
    p.backend = "scalar";
    calgae_model *m = NULL;
    calgae_error err;
    if (calgae_model_load(model_path, &p, &m, &err) != CALGAE_OK)
        fail_msg("%s", err.message);
    return m;
}

static calgae_context *context(calgae_model *m, int n_seq, int n_batch)
{
    calgae_context_params cp = calgae_context_default_params();
    cp.n_threads = 2;
    cp.n_seq = n_seq;
    cp.n_batch = n_batch;
    calgae_context *c = NULL;
    calgae_error err;
    if (calgae_context_create(m, &cp, &c, &err) != CALGAE_OK)
        fail_msg("%s", err.message);
    return c;
}

static calgae_token argmax(const float *logits, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (logits[i] > logits[best])
            best = i;
    return best;
}

/* llama2.c's stop rule, as calgae_generate applies it: EOS or BOS ends the text */
static int stops(const calgae_vocab *v, calgae_token t)
{
    return t == calgae_vocab_eos(v) || t == calgae_vocab_bos(v);
}

static void tokenize(const calgae_vocab *v, const char *text, seq_run *r)
{
    calgae_error err;
    if (calgae_tokenize(v, text, strlen(text), 1, r->prompt, 64, &r->n_prompt, &err) != CALGAE_OK)
        fail_msg("%s", err.message);
}

/* The reference: the sequence alone in a one-sequence context, fed token by token. */
static void greedy_alone(calgae_model *m, seq_run *r)
{
    const calgae_vocab *v = calgae_model_vocab(m);
    calgae_context *c = context(m, 1, 64);
    calgae_error err;
    assert_int_equal(calgae_eval(c, r->prompt, r->n_prompt, &err), CALGAE_OK);
    r->n_out = 0;
    while (r->n_out < STEPS) {
        calgae_token t = argmax(calgae_get_logits(c), calgae_vocab_size(v));
        if (stops(v, t))
            break;
        r->out[r->n_out++] = t;
        assert_int_equal(calgae_eval(c, &t, 1, &err), CALGAE_OK);
    }
    calgae_context_free(c);
}

/* Every sequence's prompt in one call (interleaved, so that one forward pass mixes them),
 * then one token per live sequence per call. */
static void greedy_together(calgae_context *c, const calgae_vocab *v, seq_run *r, int n)
{
    calgae_token toks[N_SEQ * 64];
    int seqs[N_SEQ * 64], k = 0;
    for (int i = 0; i < 64; i++)
        for (int s = 0; s < n; s++)
            if (i < r[s].n_prompt) {
                toks[k] = r[s].prompt[i];
                seqs[k++] = s;
            }
    calgae_error err;
    assert_int_equal(calgae_eval_seqs(c, toks, seqs, k, &err), CALGAE_OK);
    for (int s = 0; s < n; s++) {
        r[s].n_out = 0;
        r[s].done = 0;
    }
    for (;;) {
        k = 0;
        for (int s = 0; s < n; s++) {
            if (r[s].done)
                continue;
            calgae_token t = argmax(calgae_get_logits_seq(c, s), calgae_vocab_size(v));
            if (stops(v, t) || r[s].n_out == STEPS) {
                r[s].done = 1;
                continue;
            }
            r[s].out[r[s].n_out++] = t;
            toks[k] = t;
            seqs[k++] = s;
        }
        if (k == 0)
            break;
        assert_int_equal(calgae_eval_seqs(c, toks, seqs, k, &err), CALGAE_OK);
    }
}

static void test_batch_equals_alone(void **state)
{
    (void)state;
    calgae_model *m = load();
    const calgae_vocab *v = calgae_model_vocab(m);
    static seq_run together[N_SEQ], alone[N_SEQ];
    const char *prompts[N_SEQ] = {"", "Once upon a time, a cat", "The dog ran"};
    for (int s = 0; s < N_SEQ; s++) {
        tokenize(v, prompts[s], &together[s]);
        alone[s] = together[s];
        greedy_alone(m, &alone[s]);
    }
    /* a batch of 8 splits the interleaved prompts over several passes */
    calgae_context *c = context(m, N_SEQ, 8);
    greedy_together(c, v, together, N_SEQ);
    for (int s = 0; s < N_SEQ; s++) {
        assert_int_equal(together[s].n_out, alone[s].n_out);
        assert_memory_equal(together[s].out, alone[s].out,
                            (size_t)alone[s].n_out * sizeof(calgae_token));
        assert_int_equal(calgae_context_seq_pos(c, s), together[s].n_prompt + together[s].n_out);
    }

    /* sequence 0 started from BOS alone: llama2.c's text */
    calgae_decoder *dec = NULL;
    calgae_error err;
    assert_int_equal(calgae_decoder_create(v, &dec, &err), CALGAE_OK);
    static char text[16384];
    size_t len = 0;
    for (int i = 0; i < together[0].n_out; i++)
        len += calgae_decoder_push(dec, together[0].out[i], text + len, sizeof text - len);
    calgae_decoder_free(dec);
    static char want[16384];
    FILE *f = fopen(golden_path, "rb");
    assert_non_null(f);
    size_t n = fread(want, 1, sizeof want - 1, f);
    fclose(f);
    assert_true(n > 0 && want[n - 1] == '\n'); /* llama2.c prints a final newline */
    assert_int_equal(len, n - 1);
    assert_memory_equal(text, want, n - 1);
    calgae_context_free(c);
    calgae_model_free(m);
}

static void test_copy_and_truncate(void **state)
{
    (void)state;
    calgae_model *m = load();
    const calgae_vocab *v = calgae_model_vocab(m);
    static seq_run r[2];
    tokenize(v, "Once upon a time, a cat", &r[0]);
    calgae_context *c = context(m, 2, 64);
    calgae_error err;
    int seqs[64] = {0};
    assert_int_equal(calgae_eval_seqs(c, r[0].prompt, seqs, r[0].n_prompt, &err), CALGAE_OK);
    assert_null(calgae_get_logits_seq(c, 1));
    assert_int_equal(calgae_context_seq_copy(c, 0, 1, &err), CALGAE_OK);
    assert_int_equal(calgae_context_seq_pos(c, 1), r[0].n_prompt);
    assert_memory_equal(calgae_get_logits_seq(c, 0), calgae_get_logits_seq(c, 1),
                        (size_t)calgae_vocab_size(v) * sizeof(float));

    /* both continue identically, one token each in the same pass */
    calgae_token t = argmax(calgae_get_logits_seq(c, 0), calgae_vocab_size(v));
    calgae_token two[2] = {t, t};
    int both[2] = {0, 1};
    assert_int_equal(calgae_eval_seqs(c, two, both, 2, &err), CALGAE_OK);
    const float *a = calgae_get_logits_seq(c, 0), *b = calgae_get_logits_seq(c, 1);
    for (int i = 0; i < calgae_vocab_size(v); i++)
        assert_float_equal(a[i], b[i], 1e-5);

    /* refused calls change nothing: a sequence out of range, a token out of the vocabulary */
    int bad_seq[2] = {0, 2};
    assert_int_equal(calgae_eval_seqs(c, two, bad_seq, 2, &err), CALGAE_ERR_ARGUMENT);
    calgae_token bad_tok[2] = {t, calgae_vocab_size(v)};
    assert_int_equal(calgae_eval_seqs(c, bad_tok, both, 2, &err), CALGAE_ERR_TOKEN);
    assert_int_equal(calgae_context_seq_pos(c, 0), r[0].n_prompt + 1);
    assert_int_equal(calgae_context_seq_pos(c, 1), r[0].n_prompt + 1);

    /* rewinding one sequence leaves the other */
    assert_int_equal(calgae_context_seq_truncate(c, 1, 3, &err), CALGAE_OK);
    assert_int_equal(calgae_context_seq_pos(c, 1), 3);
    assert_null(calgae_get_logits_seq(c, 1));
    assert_non_null(calgae_get_logits_seq(c, 0));
    assert_int_equal(calgae_context_seq_truncate(c, 1, 4, &err), CALGAE_ERR_ARGUMENT);

    /* sequence 0 through the one-sequence functions */
    assert_int_equal(calgae_context_pos(c), r[0].n_prompt + 1);
    assert_ptr_equal(calgae_get_logits(c), calgae_get_logits_seq(c, 0));
    calgae_context_free(c);
    calgae_model_free(m);
}

static void test_context_full(void **state)
{
    (void)state;
    calgae_model *m = load();
    calgae_context_params cp = calgae_context_default_params();
    cp.n_ctx = 4;
    cp.n_seq = 2;
    cp.n_threads = 1;
    calgae_context *c = NULL;
    calgae_error err;
    assert_int_equal(calgae_context_create(m, &cp, &c, &err), CALGAE_OK);
    calgae_token t[5] = {1, 2, 3, 4, 5};
    int s1[5] = {1, 1, 1, 1, 1}, mixed[5] = {0, 1, 0, 1, 0};
    assert_int_equal(calgae_eval_seqs(c, t, s1, 5, &err), CALGAE_ERR_CONTEXT);
    assert_non_null(strstr(err.message, "sequence 1"));
    assert_int_equal(calgae_eval_seqs(c, t, mixed, 5, &err), CALGAE_OK);
    assert_int_equal(calgae_context_seq_pos(c, 0), 3);
    assert_int_equal(calgae_context_seq_pos(c, 1), 2);
    calgae_context_free(c);
    cp.n_seq = 0;
    assert_int_equal(calgae_context_create(m, &cp, &c, &err), CALGAE_ERR_ARGUMENT);
    assert_null(c);
    calgae_model_free(m);
}

int main(void)
{
    const char *models = getenv("CALGAE_MODELS");
    if (!models)
        return 2;
    snprintf(model_path, sizeof model_path, "%s/stories260K.gguf", models);
    snprintf(golden_path, sizeof golden_path, "%s/expected_stories260K_t0_n200.txt", models);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batch_equals_alone),
        cmocka_unit_test(test_copy_and_truncate),
        cmocka_unit_test(test_context_full),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
