/*
 * test_api.c - libcalgae's public API (core/include/calgae.h) on stories260K: errors as values
 * with messages that name the file, tokenizing with a size query, streamed decoding that never
 * splits a UTF-8 character, evaluation limits, rewinding, KV state through memory and files,
 * and generation with a callback that stops it. Uses calgae.h alone.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "calgae.h"

static char model_path[4096];
static char tmp_dir[4096];

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

static calgae_context *context(calgae_model *m, int n_ctx)
{
    calgae_context_params cp = calgae_context_default_params();
    cp.n_ctx = n_ctx;
    cp.n_threads = 1;
    calgae_context *c = NULL;
    calgae_error err;
    if (calgae_context_create(m, &cp, &c, &err) != CALGAE_OK)
        fail_msg("%s", err.message);
    return c;
}

static void test_version(void **state)
{
    (void)state;
    assert_string_equal(calgae_version(), CALGAE_VERSION_STRING);
}

static void test_load_errors(void **state)
{
    (void)state;
    calgae_error err;
    calgae_model *m = (calgae_model *)1;
    char path[4200];
    snprintf(path, sizeof path, "%s/no-such-model.gguf", tmp_dir);
    assert_int_equal(calgae_model_load(path, NULL, &m, &err), CALGAE_ERR_IO);
    assert_null(m);
    assert_int_equal(err.status, CALGAE_ERR_IO);
    assert_non_null(strstr(err.message, "no-such-model.gguf"));
    assert_null(strchr(err.message, '\n'));

    snprintf(path, sizeof path, "%s/random.bin", tmp_dir);
    FILE *f = fopen(path, "wb");
    for (int i = 0; i < 4096; i++)
        fputc((i * 7919) & 0xff, f);
    fclose(f);
    assert_int_equal(calgae_model_load(path, NULL, &m, &err), CALGAE_ERR_FORMAT);
    assert_non_null(strstr(err.message, "random.bin"));
    unlink(path);

    calgae_model_params p = calgae_model_default_params();
    p.backend = "nosuch";
    assert_int_equal(calgae_model_load(model_path, &p, &m, &err), CALGAE_ERR_BACKEND);
    assert_non_null(strstr(err.message, "nosuch"));
}

static void test_tokenize_decode(void **state)
{
    (void)state;
    calgae_model *m = load();
    const calgae_vocab *v = calgae_model_vocab(m);
    assert_int_equal(calgae_vocab_size(v), 512);
    const char *text = "Once upon a time, a cat sat.";
    calgae_token ids[64];
    int n = 0;
    calgae_error err;
    assert_int_equal(calgae_tokenize(v, text, strlen(text), 1, ids, 2, &n, &err), CALGAE_ERR_SPACE);
    assert_true(n > 2);
    const int need = n;
    assert_int_equal(calgae_tokenize(v, text, strlen(text), 1, ids, 64, &n, &err), CALGAE_OK);
    assert_int_equal(n, need);
    assert_int_equal(ids[0], calgae_vocab_bos(v));
    calgae_decoder *d;
    assert_int_equal(calgae_decoder_create(v, &d, &err), CALGAE_OK);
    char out[512] = "", piece[CALGAE_DECODE_MAX];
    for (int i = 1; i < n; i++) {
        calgae_decoder_push(d, ids[i], piece, sizeof piece);
        strcat(out, piece);
    }
    assert_string_equal(out, text);

    /* "é" is two byte-fallback tokens in this 512-token vocabulary: nothing after the first */
    const char *e_acute = "\xc3\xa9";
    assert_int_equal(calgae_tokenize(v, e_acute, 2, 0, ids, 64, &n, &err), CALGAE_OK);
    calgae_decoder_reset(d);
    size_t total = 0;
    char got[16] = "";
    for (int i = 0; i < n; i++) {
        size_t len = calgae_decoder_push(d, ids[i], piece, sizeof piece);
        if (i < n - 1 && len > 0 && (unsigned char)piece[len - 1] >= 0xc0)
            fail_msg("decoder emitted a lead byte alone");
        memcpy(got + total, piece, len);
        total += len;
    }
    assert_true(n >= 2);
    /* the leading space SentencePiece adds is dropped after a reset (as after BOS): the
     * character alone, whole */
    assert_int_equal(total, 2);
    assert_memory_equal(got, e_acute, 2);
    calgae_decoder_free(d);
    calgae_model_free(m);
}

static void test_eval_limits_and_truncate(void **state)
{
    (void)state;
    calgae_model *m = load();
    calgae_context *c = context(m, 8);
    calgae_error err;
    assert_int_equal(calgae_context_size(c), 8);
    assert_null(calgae_get_logits(c));
    calgae_token bad = 9999;
    assert_int_equal(calgae_eval(c, &bad, 1, &err), CALGAE_ERR_TOKEN);
    calgae_token ids[9] = {1, 403, 407, 261, 378, 292, 1000 % 512, 300, 301};
    assert_int_equal(calgae_eval(c, ids, 9, &err), CALGAE_ERR_CONTEXT);
    assert_int_equal(calgae_context_pos(c), 0);
    assert_int_equal(calgae_eval(c, ids, 6, &err), CALGAE_OK);
    assert_int_equal(calgae_context_pos(c), 6);
    float want[512];
    memcpy(want, calgae_get_logits(c), sizeof want);
    assert_int_equal(calgae_context_truncate(c, 3, &err), CALGAE_OK);
    assert_null(calgae_get_logits(c));
    assert_int_equal(calgae_eval(c, ids + 3, 3, &err), CALGAE_OK);
    assert_memory_equal(calgae_get_logits(c), want, sizeof want);
    assert_int_equal(calgae_context_truncate(c, 7, &err), CALGAE_ERR_ARGUMENT);
    calgae_context_free(c);
    calgae_model_free(m);
}

static void test_state_round_trip(void **state)
{
    (void)state;
    calgae_model *m = load();
    calgae_context *a = context(m, 64), *b = context(m, 64), *small = context(m, 4);
    calgae_error err;
    calgae_token first[5] = {1, 403, 407, 261, 378}, more[3] = {292, 300, 301};
    assert_int_equal(calgae_eval(a, first, 5, &err), CALGAE_OK);
    size_t n = calgae_state_size(a), written = 0;
    void *buf = malloc(n);
    assert_int_equal(calgae_state_save(a, buf, n - 1, &written, &err), CALGAE_ERR_SPACE);
    assert_int_equal(written, n);
    assert_int_equal(calgae_state_save(a, buf, n, &written, &err), CALGAE_OK);
    assert_int_equal(calgae_eval(a, more, 3, &err), CALGAE_OK);

    assert_int_equal(calgae_state_load(b, buf, n, &err), CALGAE_OK);
    assert_int_equal(calgae_context_pos(b), 5);
    assert_int_equal(calgae_eval(b, more, 3, &err), CALGAE_OK);
    assert_memory_equal(calgae_get_logits(b), calgae_get_logits(a), 512 * sizeof(float));

    assert_int_equal(calgae_state_load(small, buf, n, &err), CALGAE_ERR_CONTEXT);
    assert_int_equal(calgae_state_load(b, buf, n - 4, &err), CALGAE_ERR_FORMAT);
    ((unsigned char *)buf)[0] ^= 1;
    assert_int_equal(calgae_state_load(b, buf, n, &err), CALGAE_ERR_FORMAT);
    free(buf);

    /* through a file; a failed save leaves an existing file as it was */
    char path[4200];
    snprintf(path, sizeof path, "%s/api_state.kv", tmp_dir);
    assert_int_equal(calgae_state_save_file(a, path, &err), CALGAE_OK);
    calgae_context *c = context(m, 64);
    assert_int_equal(calgae_state_load_file(c, path, &err), CALGAE_OK);
    assert_int_equal(calgae_context_pos(c), 8);
    assert_memory_equal(calgae_get_logits(c), calgae_get_logits(a), 512 * sizeof(float));
    char bad_path[4300];
    snprintf(bad_path, sizeof bad_path, "%s/no-such-dir/x.kv", tmp_dir);
    assert_int_equal(calgae_state_save_file(a, bad_path, &err), CALGAE_ERR_IO);
    assert_non_null(strstr(err.message, "no-such-dir"));
    unlink(path);
    calgae_context_free(a);
    calgae_context_free(b);
    calgae_context_free(c);
    calgae_context_free(small);
    calgae_model_free(m);
}

static int stop_after_five(void *user, calgae_token t, const char *s, size_t n)
{
    (void)t, (void)s, (void)n;
    int *count = user;
    return ++*count == 5;
}

static void test_generate_callback_stops(void **state)
{
    (void)state;
    calgae_model *m = load();
    calgae_context *c = context(m, 0);
    calgae_sampler *smp;
    calgae_error err;
    calgae_sampler_params sp = calgae_sampler_default_params();
    sp.temperature = 0;
    assert_int_equal(calgae_sampler_create(calgae_model_vocab(m), &sp, &smp, &err), CALGAE_OK);
    int count = 0;
    calgae_generate_result r;
    assert_int_equal(calgae_generate(c, smp, "Once upon a time", NULL, stop_after_five, &count, &r,
                                     &err), CALGAE_OK);
    assert_int_equal(count, 5);
    assert_int_equal(r.n_generated, 5);
    assert_int_equal(r.stop_reason, CALGAE_STOP_CALLBACK);
    assert_int_equal(r.n_prompt, calgae_context_pos(c) - 4);
    calgae_sampler_free(smp);
    calgae_context_free(c);
    calgae_model_free(m);
}

int main(void)
{
    const char *models = getenv("CALGAE_MODELS"), *tmp = getenv("CALGAE_TEST_TMP");
    if (!models || !tmp)
        return 2;
    snprintf(model_path, sizeof model_path, "%s/stories260K.gguf", models);
    snprintf(tmp_dir, sizeof tmp_dir, "%s", tmp);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version),
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_tokenize_decode),
        cmocka_unit_test(test_eval_limits_and_truncate),
        cmocka_unit_test(test_state_round_trip),
        cmocka_unit_test(test_generate_callback_stops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
