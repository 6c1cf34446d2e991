/*
 * test_train.c - core/train's backward pass against central finite differences, every
 * parameter of every op (embedding, RMSNorm, attention with RoPE and grouped-query heads,
 * SwiGLU, classifier, the distillation loss), on a tiny random model in both the tied and the
 * untied layout; and the gradients' independence from the thread count.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pool.h"
#include "train.h"

enum { N_TOK = 6 };
static const int32_t tokens[N_TOK + 1] = {1, 7, 3, 3, 9, 0, 5};

static void tiny(calgae_train_model *tm, int tied)
{
    calgae_train_shape s = {.dim = 8, .hidden = 12, .layers = 2, .heads = 4, .kv_heads = 2,
                            .vocab = 11, .tied = tied, .eps = 1e-5f, .rope_theta = 10000.0f};
    char err[256];
    assert_int_equal(calgae_train_create(tm, &s, N_TOK, err, sizeof err), 0);
    calgae_train_init_random(tm, 42);
    /* larger weights than training would start from, so every path carries a gradient that
     * finite differences in float can see; norms away from one for the same reason */
    for (size_t i = 0; i < tm->n_params; i++)
        tm->params[i] = tm->decay[i] ? tm->params[i] * 20.0f : 0.5f + (float)(i % 7) * 0.15f;
}

/* The loss of the model on tokens, against fixed teacher logits, in double for the difference */
static double loss_of(calgae_train_model *tm, const float *teacher, float *dl)
{
    calgae_train_forward(tm, tokens, N_TOK, NULL);
    return calgae_train_loss(calgae_train_logits(tm), teacher, tokens + 1, N_TOK,
                             tm->shape.vocab, 0.6f, 2.0f, N_TOK, dl, NULL, NULL);
}

struct group {
    const char *name;
    size_t off, len;
};

/* The relative error of the analytic gradient over one parameter group. */
static double check_group(calgae_train_model *tm, const float *teacher, float *dl,
                          const float *analytic, struct group g)
{
    double num2 = 0.0, diff2 = 0.0;
    for (size_t i = g.off; i < g.off + g.len; i++) {
        const float saved = tm->params[i];
        const float h = 1e-3f * (fabsf(saved) > 1.0f ? fabsf(saved) : 1.0f);
        tm->params[i] = saved + h;
        const double lp = loss_of(tm, teacher, dl);
        tm->params[i] = saved - h;
        const double lm = loss_of(tm, teacher, dl);
        tm->params[i] = saved;
        const double num = (lp - lm) / (2.0 * (double)h);
        num2 += num * num;
        diff2 += (num - analytic[i]) * (num - analytic[i]);
    }
    return num2 > 0.0 ? sqrt(diff2 / num2) : (diff2 > 0.0 ? 1.0 : 0.0);
}

static void check_all(int tied)
{
    calgae_train_model tm;
    tiny(&tm, tied);
    const int V = tm.shape.vocab;
    float *teacher = malloc(sizeof(float) * N_TOK * V), *dl = malloc(sizeof(float) * N_TOK * V);
    float *analytic = malloc(sizeof(float) * tm.n_params);
    assert_non_null(teacher);
    assert_non_null(dl);
    assert_non_null(analytic);
    for (int i = 0; i < N_TOK * V; i++)
        teacher[i] = (float)((i * 37) % 17) * 0.3f - 2.0f;
    calgae_train_zero_grad(&tm);
    loss_of(&tm, teacher, dl);
    calgae_train_backward(&tm, tokens, N_TOK, dl, NULL);
    memcpy(analytic, tm.grads, sizeof(float) * tm.n_params);

    const calgae_train_layer *L = &tm.p.layer[1];
    const size_t D = 8, H = 12, KV = 4;
#define G(name, ptr, len) {name, (size_t)((ptr) - tm.params), (len)}
    const struct group groups[] = {
        G("embedding", tm.p.embd, (size_t)V * D), G("attn_norm", L->attn_norm, D),
        G("wq", L->wq, D * D), G("wk", L->wk, KV * D), G("wv", L->wv, KV * D),
        G("wo", L->wo, D * D), G("ffn_norm", L->ffn_norm, D), G("w_gate", L->w_gate, H * D),
        G("w_down", L->w_down, D * H), G("w_up", L->w_up, H * D),
        G("layer0.wq", tm.p.layer[0].wq, D * D), G("layer0.attn_norm", tm.p.layer[0].attn_norm, D),
        G("out_norm", tm.p.out_norm, D), G("classifier", tm.p.cls, (size_t)V * D)};
#undef G
    double worst = 0.0;
    for (size_t k = 0; k < sizeof groups / sizeof groups[0]; k++) {
        const double rel = check_group(&tm, teacher, dl, analytic, groups[k]);
        printf("%s %-16s relative error %.2e\n", tied ? "tied  " : "untied", groups[k].name, rel);
        worst = rel > worst ? rel : worst;
    }
    printf("worst relative error %.2e\n", worst);
    assert_true(worst < 1e-2);
    free(teacher);
    free(dl);
    free(analytic);
    calgae_train_free(&tm);
}

static void test_gradients_untied(void **state)
{
    (void)state;
    check_all(0);
}

static void test_gradients_tied(void **state)
{
    (void)state;
    check_all(1);
}

/* Two threads give bit-identical gradients to one. */
static void test_thread_count(void **state)
{
    (void)state;
    float *g1 = NULL;
    for (int threads = 1; threads <= 2; threads++) {
        calgae_train_model tm;
        tiny(&tm, 0);
        calgae_pool *pool;
        char err[256];
        assert_int_equal(calgae_pool_create(&pool, threads, err, sizeof err), 0);
        float *dl = malloc(sizeof(float) * N_TOK * tm.shape.vocab);
        assert_non_null(dl);
        calgae_train_zero_grad(&tm);
        calgae_train_forward(&tm, tokens, N_TOK, pool);
        calgae_train_loss(calgae_train_logits(&tm), NULL, tokens + 1, N_TOK, tm.shape.vocab, 0.0f,
                          1.0f, N_TOK, dl, NULL, NULL);
        calgae_train_backward(&tm, tokens, N_TOK, dl, pool);
        if (!g1) {
            g1 = malloc(sizeof(float) * tm.n_params);
            assert_non_null(g1);
            memcpy(g1, tm.grads, sizeof(float) * tm.n_params);
        } else {
            assert_memory_equal(g1, tm.grads, sizeof(float) * tm.n_params);
        }
        free(dl);
        calgae_pool_destroy(pool);
        calgae_train_free(&tm);
    }
    free(g1);
}

static void test_shape_parser(void **state)
{
    (void)state;
    calgae_train_shape s;
    char err[256];
    assert_int_equal(calgae_train_parse_shape("dim=32,layers=3,heads=4,kv_heads=2,ffn=86", &s,
                                              err, sizeof err), 0);
    assert_int_equal(s.dim, 32);
    assert_int_equal(s.layers, 3);
    assert_int_equal(s.heads, 4);
    assert_int_equal(s.kv_heads, 2);
    assert_int_equal(s.hidden, 86);
    const char *bad[] = {"", "dim=32", "dim=32,layers=3,heads=4,kv_heads=2,ffn=x",
                         "dim=32,layers=3,heads=4,kv_heads=2,ffn=86,dim=8", "dim",
                         "dim=-1,layers=3,heads=4,kv_heads=2,ffn=86",
                         "dim=32,layers=3,heads=4,kv_heads=2,ffn=86,extra=1",
                         "dim=32,layers=3,heads=4,kv_heads=2,ffn=99999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        assert_int_not_equal(calgae_train_parse_shape(bad[i], &s, err, sizeof err), 0);
        assert_non_null(strstr(err, "--student-shape"));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gradients_untied),
        cmocka_unit_test(test_gradients_tied),
        cmocka_unit_test(test_thread_count),
        cmocka_unit_test(test_shape_parser),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
