/*
 * test_quant_model.c - AWQ (Lin et al., MLSys 2024) on stories260K, part of test_quant: the
 * scaled F32 model computes the logits of the original (the folding is exact), calibration in
 * several memory-limited passes and on several threads gives the same model, the written GGUF
 * holds the types asked for with RTN's bytes; perplexity's windowing against a direct
 * computation.
 *
 * Environment (tests/CMakeLists.txt): CALGAE_MODELS, CALGAE_DATA, CALGAE_TEST_TMP.
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

#include "blocks.h"
#include "model_load.h"
#include "perplexity.h"
#include "quant_test_util.h"
#include "quantize.h"

static uint64_t rng = 0x2545f4914f6cdd1dull;

static const char *env_path(const char *var, const char *name, char *buf, size_t len)
{
    const char *dir = getenv(var);
    if (!dir)
        fail_msg("%s is not set (run through ctest)", var);
    snprintf(buf, len, "%s/%s", dir, name);
    return buf;
}

struct fixture {
    calgae_transformer model;
    calgae_tokenizer tok;
    calgae_backends *be;
    calgae_pool *pool;
    int32_t *calib, *eval;
    size_t n_calib, n_eval;
};

static struct fixture fx;

static void encode_file(const char *path, size_t max_bytes, int32_t **ids, size_t *n)
{
    char err[CALGAE_ERR_LEN];
    calgae_map map;
    if (calgae_map_file(&map, path, err, sizeof err) != 0)
        fail_msg("%s", err);
    size_t len = map.size < max_bytes ? map.size : max_bytes;
    if (calgae_tokenizer_encode(&fx.tok, (const char *)map.data, len, 1, ids, n, err, sizeof err))
        fail_msg("%s", err);
    calgae_unmap(&map);
}

static int setup_model(void **state)
{
    (void)state;
    char path[1100], err[CALGAE_ERR_LEN];
    if (calgae_transformer_load(&fx.model, env_path("CALGAE_MODELS", "stories260K.bin", path, sizeof path),
                          err, sizeof err) != 0 ||
        calgae_tokenizer_load_bin(&fx.tok, env_path("CALGAE_MODELS", "tok512.bin", path, sizeof path),
                                   512, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    fx.be = calloc(1, sizeof *fx.be);
    calgae_backend_options bo = {0};
    calgae_default_plugin_dirs(&bo);
    bo.forced = "scalar"; /* the reference kernels: these tests are about the model, not SIMD */
    if (!fx.be || calgae_backends_load(fx.be, &bo, err, sizeof err) != 0 ||
        calgae_pool_create(&fx.pool, 1, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    encode_file(env_path("CALGAE_DATA", "calib.txt", path, sizeof path), 8000, &fx.calib, &fx.n_calib);
    encode_file(env_path("CALGAE_DATA", "eval.txt", path, sizeof path), 3000, &fx.eval, &fx.n_eval);
    return fx.n_calib > 1000 && fx.n_eval > 300 ? 0 : -1;
}

static int teardown_model(void **state)
{
    (void)state;
    free(fx.calib);
    free(fx.eval);
    calgae_pool_destroy(fx.pool);
    if (fx.be)
        calgae_backends_free(fx.be);
    free(fx.be);
    calgae_tokenizer_free(&fx.tok);
    calgae_transformer_free(&fx.model);
    return 0;
}

/* Logits of every position of ids[0..n) (n <= 64). */
static float *all_logits(const calgae_transformer *m, const int32_t *ids, int n)
{
    calgae_state st;
    char err[CALGAE_ERR_LEN];
    if (calgae_state_init(&st, m, fx.be, fx.pool, n, n, err, sizeof err) != 0 ||
        calgae_forward(&st, ids, n, 0, 1, err, sizeof err) != 0)
        fail_msg("%s", err);
    const size_t sz = (size_t)n * (size_t)m->cfg.vocab_size;
    float *out = malloc(sz * sizeof *out);
    assert_non_null(out);
    memcpy(out, st.logits, sz * sizeof *out);
    calgae_state_free(&st);
    return out;
}

/* max over rows of max|a - b| / max|b| */
static double row_rel_err(const float *a, const float *b, int rows, int vocab)
{
    double worst = 0.0;
    for (int r = 0; r < rows; r++) {
        double e = 0.0, mag = 1e-6;
        for (int v = 0; v < vocab; v++) {
            e = fmax(e, fabs((double)a[r * vocab + v] - b[r * vocab + v]));
            mag = fmax(mag, fabs((double)b[r * vocab + v]));
        }
        worst = fmax(worst, e / mag);
    }
    return worst;
}

static void run_awq_on(const calgae_transformer *src, const int32_t *ids, size_t n_ids, int window,
                       calgae_fmodel *f, uint32_t type, int clip, size_t budget,
                       calgae_pool *pool, calgae_awq_report *rep)
{
    char err[CALGAE_ERR_LEN];
    if (calgae_fmodel_init(f, src, err, sizeof err) != 0)
        fail_msg("%s", err);
    calgae_awq_opts o = {.types = {.matrix = type, .embd = CALGAE_TYPE_F32, .output = type},
                         .ids = ids, .n_ids = n_ids, .window = window, .clip = clip,
                         .stats_budget = budget};
    if (calgae_awq_run(f, fx.be, pool ? pool : fx.pool, &o, rep, err, sizeof err) != 0)
        fail_msg("%s", err);
}

static void run_awq(calgae_fmodel *f, uint32_t type, int clip, size_t budget,
                    calgae_pool *pool, calgae_awq_report *rep)
{
    run_awq_on(&fx.model, fx.calib, 1024, 256, f, type, clip, budget, pool, rep);
}

/* largest |log(a / b)| over n values: how far a scaling moved them */
static double moved(const float *a, const float *b, size_t n)
{
    double m = 0.0;
    for (size_t i = 0; i < n; i++)
        if (b[i] != 0.0f)
            m = fmax(m, fabs(log(fabs((double)a[i] / b[i]))));
    return m;
}

/* Folding 1/s into the RMSNorm weights, wv and up (and the final norm) leaves the F32 model's
 * function unchanged: same logits within 1e-4 of each row's largest. */
static void test_awq_fold_exact(void **state)
{
    (void)state;
    const int n = 64, vocab = fx.model.cfg.vocab_size;
    float *ref = all_logits(&fx.model, fx.eval, n);
    const uint32_t types[] = {CALGAE_TYPE_Q4_0, CALGAE_TYPE_Q4_1};
    for (int t = 0; t < 2; t++) {
        calgae_fmodel f;
        calgae_awq_report rep;
        run_awq(&f, types[t], 0, 0, NULL, &rep);
        /* the test means something only if the scales are far from 1 somewhere */
        assert_true(rep.groups_scaled >= 10);
        double mv = 0.0;
        for (int l = 0; l < fx.model.cfg.n_layers; l++) {
            const size_t dim = (size_t)fx.model.cfg.dim;
            mv = fmax(mv, moved(f.layers[l].attn_norm, fx.model.layers[l].attn_norm, dim));
            mv = fmax(mv, moved(f.layers[l].ffn_norm, fx.model.layers[l].ffn_norm, dim));
        }
        float *got = all_logits(&f.model, fx.eval, n);
        const double e = row_rel_err(got, ref, n, vocab);
        printf("fold, %s: scales up to %.1fx, logits within %.2e of each row's largest\n",
               calgae_type_name(types[t]), exp(mv), e);
        if (e > 1e-4)
            fail_msg("the scaled model's logits differ by %g", e);
        assert_true(mv > log(1.25));
        assert_false(f.model.tied); /* the classifier was scaled: it has its own tensor now */
        free(got);
        calgae_fmodel_free(&f);
    }
    free(ref);
}

/* A random Llama whose every group is quantizable (stories260K's 172-wide FFN keeps ffn_down in
 * F32, so its up/down fold never runs there): dim 64, FFN 96, 4 query heads on 2 KV heads, an
 * untied classifier; channels made uneven so that the scales are far from 1. */
struct synth {
    calgae_transformer m;
    float *data;
};

static float *take(float **p, size_t n, float scale, int uneven_rows, int64_t cols)
{
    float *a = *p;
    *p += n;
    for (size_t i = 0; i < n; i++) {
        const float row = uneven_rows ? (float)(1 + (i / (size_t)cols) % 7) : 1.0f;
        a[i] = scale * row * gauss(&rng);
    }
    return a;
}

static void synth_make(struct synth *sy)
{
    calgae_config c = {.dim = 64, .hidden_dim = 96, .n_layers = 2, .n_heads = 4,
                       .n_kv_heads = 2, .vocab_size = 96, .ctx = 64, .head_size = 16,
                       .n_rot = 16, .eps = 1e-5f, .rope_theta = 10000.0f};
    const size_t dim = 64, hid = 96, kv = 32, vocab = 96;
    const size_t per_layer = 2 * dim + 2 * dim * dim + 2 * kv * dim + 3 * hid * dim;
    memset(sy, 0, sizeof *sy);
    sy->data = malloc((2 * vocab * dim + dim + 2 * per_layer) * sizeof(float));
    sy->m.layers = calloc(2, sizeof *sy->m.layers);
    assert_true(sy->data && sy->m.layers);
    sy->m.cfg = c;
    snprintf(sy->m.path, sizeof sy->m.path, "synthetic");
    float *p = sy->data;
#define W(rows, cols, scale, uneven)                                                           \
    ((calgae_weight){CALGAE_TYPE_F32, 0, (rows), (cols), (size_t)(cols) * sizeof(float),     \
                     take(&p, (size_t)(rows) * (cols), (scale), (uneven), (cols)), NULL, NULL})
    sy->m.tok_embd = W(vocab, dim, 1.0f, 0);
    sy->m.output = W(vocab, dim, 0.2f, 0);
    float *norm = take(&p, dim, 1.0f, 0, 1);
    for (size_t j = 0; j < dim; j++) /* RMSNorm weights from 0.2 to 5: uneven channels */
        norm[j] = (float)exp(1.6 * (2.0 * uniform(&rng) - 1.0));
    sy->m.out_norm = norm;
    for (int l = 0; l < 2; l++) {
        calgae_layer *L = &sy->m.layers[l];
        float *an = take(&p, dim, 1.0f, 0, 1), *fn = take(&p, dim, 1.0f, 0, 1);
        for (size_t j = 0; j < dim; j++) {
            an[j] = (float)exp(1.6 * (2.0 * uniform(&rng) - 1.0));
            fn[j] = (float)exp(1.6 * (2.0 * uniform(&rng) - 1.0));
        }
        L->attn_norm = an;
        L->ffn_norm = fn;
        L->wq = W(dim, dim, 0.125f, 0);
        L->wk = W(kv, dim, 0.125f, 0);
        L->wv = W(kv, dim, 0.125f, 1); /* uneven V channels: uneven wo inputs */
        L->wo = W(dim, dim, 0.125f, 0);
        L->w_gate = W(hid, dim, 0.125f, 1);
        L->w_down = W(dim, hid, 0.1f, 0);
        L->w_up = W(hid, dim, 0.125f, 1); /* uneven hidden channels: uneven down inputs */
    }
#undef W
}

static void test_awq_fold_every_group(void **state)
{
    (void)state;
    struct synth sy;
    synth_make(&sy);
    int32_t ids[512];
    for (int i = 0; i < 512; i++)
        ids[i] = i == 0 ? 1 : (int32_t)(uniform(&rng) * 96);
    float *ref = all_logits(&sy.m, ids + 100, 48);
    calgae_fmodel f;
    calgae_awq_report rep;
    run_awq_on(&sy.m, ids, 512, 64, &f, CALGAE_TYPE_Q4_0, 0, 0, NULL, &rep);
    assert_int_equal(rep.groups, 2 * 4 + 1); /* Q/K/V, wo, gate/up, down per layer; classifier */
    assert_true(rep.groups_scaled >= 6);
    double up = 0.0, wv = 0.0;
    for (int l = 0; l < 2; l++) {
        up = fmax(up, moved(f.layers[l].up, sy.m.layers[l].w_up.data, 96 * 64));
        wv = fmax(wv, moved(f.layers[l].wv, sy.m.layers[l].wv.data, 32 * 64));
    }
    float *got = all_logits(&f.model, ids + 100, 48);
    const double e = row_rel_err(got, ref, 48, 96);
    printf("fold, every group: up rows moved up to %.1fx, wv %.1fx, logits within %.2e\n",
           exp(up), exp(wv), e);
    if (e > 1e-4)
        fail_msg("the scaled model's logits differ by %g", e);
    assert_true(up > log(1.25) && wv > log(1.25));
    free(got);
    free(ref);
    calgae_fmodel_free(&f);
    free(sy.m.layers);
    free(sy.data);
}

/* Statistics for one layer at a time (six passes over the calibration text) give the model
 * that one pass gives: later passes run earlier layers already scaled, which is exact, and
 * clipping is applied only after the last pass. And the thread count changes nothing at all. */
static void test_awq_passes_threads(void **state)
{
    (void)state;
    char err[CALGAE_ERR_LEN];
    calgae_pool *three;
    assert_int_equal(calgae_pool_create(&three, 3, err, sizeof err), 0);
    calgae_fmodel a, b, c;
    calgae_awq_report ra, rb, rc;
    run_awq(&a, CALGAE_TYPE_Q4_0, 1, 0, NULL, &ra);
    run_awq(&b, CALGAE_TYPE_Q4_0, 1, 1, NULL, &rb);
    run_awq(&c, CALGAE_TYPE_Q4_0, 1, 0, three, &rc);
    calgae_pool_destroy(three);
    assert_int_equal(ra.passes, 1);
    assert_int_equal(rb.passes, fx.model.cfg.n_layers + 1);
    assert_int_equal(ra.groups, rb.groups);
    assert_int_equal(ra.clip.clipped, rb.clip.clipped);
    assert_close(ra.err_awq, rb.err_awq, 1e-4 * ra.err_awq);
    const int n = 32, vocab = fx.model.cfg.vocab_size;
    float *la = all_logits(&a.model, fx.eval, n), *lb = all_logits(&b.model, fx.eval, n);
    assert_true(row_rel_err(la, lb, n, vocab) < 1e-4);
    const size_t floats = (size_t)(c.layers[0].attn_norm - c.data) +
                          (size_t)fx.model.cfg.n_layers * (size_t)(c.layers[1].attn_norm -
                                                                    c.layers[0].attn_norm);
    assert_memory_equal(a.data, c.data, floats * sizeof(float));
    /* against the same run without clipping: exactly the blocks the search chose differ, each
     * clamped inside its unclipped range */
    calgae_fmodel d;
    calgae_awq_report rd;
    run_awq(&d, CALGAE_TYPE_Q4_0, 0, 0, NULL, &rd);
    int64_t differ = 0;
    for (size_t b0 = 0; b0 + 32 <= floats; b0 += 32) {
        float amax_a = 0.0f, amax_d = 0.0f;
        for (int j = 0; j < 32; j++) {
            amax_a = fmaxf(amax_a, fabsf(a.data[b0 + j]));
            amax_d = fmaxf(amax_d, fabsf(d.data[b0 + j]));
        }
        if (memcmp(a.data + b0, d.data + b0, 32 * sizeof(float)) != 0) {
            differ++;
            assert_true(amax_a < amax_d);
        }
    }
    assert_true(ra.clip.clipped > 100);
    assert_int_equal(differ, ra.clip.clipped);
    calgae_fmodel_free(&d);
    free(la);
    free(lb);
    calgae_fmodel_free(&a);
    calgae_fmodel_free(&b);
    calgae_fmodel_free(&c);
}

/* The written file: the types asked for, F32 where blocks cannot hold a row, a tied classifier
 * kept tied only when stored like the embeddings, and RTN's bytes those of blocks.c. */
static void test_write_types(void **state)
{
    (void)state;
    char path[1100], err[CALGAE_ERR_LEN];
    env_path("CALGAE_TEST_TMP", "test_quant.gguf", path, sizeof path);
    const calgae_qmeta meta = {"rtn", 0, 0};
    const calgae_qtypes tied = {.matrix = CALGAE_TYPE_Q8_0, .embd = CALGAE_TYPE_Q8_0,
                                .output = CALGAE_TYPE_Q8_0};
    const calgae_qtypes mixed = {.matrix = CALGAE_TYPE_Q4_1, .embd = CALGAE_TYPE_F32,
                                 .output = CALGAE_TYPE_Q4_0};
    calgae_qsizes qs;
    calgae_transformer m;
    assert_int_equal(calgae_quantize_write(&fx.model, &fx.tok, &tied, &meta, path, &qs, err, sizeof err), 0);
    assert_int_equal(calgae_transformer_load(&m, path, err, sizeof err), 0);
    assert_true(m.tied);
    assert_int_equal(m.tok_embd.type, CALGAE_TYPE_Q8_0);
    calgae_transformer_free(&m);
    calgae_transformer untied = fx.model; /* a view: same tensors, a classifier of its own */
    untied.tied = 0;
    assert_int_equal(calgae_quantize_write(&untied, &fx.tok, &tied, &meta, path, &qs, err, sizeof err), 0);
    assert_int_equal(calgae_transformer_load(&m, path, err, sizeof err), 0);
    assert_false(m.tied);
    assert_int_equal(m.output.type, CALGAE_TYPE_Q8_0);
    calgae_transformer_free(&m);

    if (calgae_quantize_write(&fx.model, &fx.tok, &mixed, &meta, path, &qs, err, sizeof err))
        fail_msg("%s", err);
    assert_int_equal(calgae_transformer_load(&m, path, err, sizeof err), 0);
    assert_false(m.tied);
    assert_int_equal(m.tok_embd.type, CALGAE_TYPE_F32);
    assert_int_equal(m.output.type, CALGAE_TYPE_Q4_0);
    assert_int_equal(m.layers[0].wq.type, CALGAE_TYPE_Q4_1);
    assert_int_equal(m.layers[4].w_up.type, CALGAE_TYPE_Q4_1);
    assert_int_equal(m.layers[2].w_down.type, CALGAE_TYPE_F32); /* 172 columns */
    assert_true(m.has_tokenizer && m.tokenizer.n_vocab == 512);
    const calgae_weight *src = &fx.model.layers[3].wv, *dst = &m.layers[3].wv;
    calgae_block_q4_1 want[2];
    for (int64_t r = 0; r < src->rows; r++) {
        calgae_quantize_row_q4_1((const float *)src->data + r * src->cols, want, src->cols);
        assert_memory_equal((const char *)dst->data + (size_t)r * dst->row_bytes, want, sizeof want);
    }
    assert_true(qs.params > 250000 && qs.tensor_bytes < 4 * qs.params);
    calgae_transformer_free(&m);
    remove(path);

    /* a failed write leaves nothing behind */
    env_path("CALGAE_TEST_TMP", "no-such-dir/x.gguf", path, sizeof path);
    assert_int_not_equal(calgae_quantize_write(&fx.model, &fx.tok, &mixed, &meta, path, &qs, err, sizeof err), 0);
    FILE *fp = fopen(path, "rb");
    assert_null(fp);
}

/* Perplexity's windows, BOS and scored half against a plain computation; a model against itself
 * has zero divergence and full agreement. */
static void test_perplexity_windows(void **state)
{
    (void)state;
    const int ctx = 32, windows = 3, vocab = fx.model.cfg.vocab_size;
    char err[CALGAE_ERR_LEN];
    calgae_state a, b;
    /* batches of 5 and 7: the scored half never starts on a batch boundary */
    assert_int_equal(calgae_state_init(&a, &fx.model, fx.be, fx.pool, ctx, 5, err, sizeof err), 0);
    assert_int_equal(calgae_state_init(&b, &fx.model, fx.be, fx.pool, ctx, 7, err, sizeof err), 0);
    calgae_ppl_opts o = {.ctx = ctx, .max_windows = windows, .bos = fx.tok.bos_id};
    calgae_ppl_result r;
    assert_int_equal(calgae_perplexity(&a, &b, fx.eval, fx.n_eval, &o, &r, err, sizeof err), 0);
    assert_int_equal(r.windows, windows);
    assert_int_equal(r.scored, windows * (ctx - 1 - ctx / 2));
    assert_true(r.kld >= 0.0 && r.kld < 1e-12);
    assert_close(r.top1, 1.0, 0.0);
    assert_close(r.base_ppl, r.ppl, 1e-12);
    double nll = 0.0;
    int32_t win[32];
    for (int w = 0; w < windows; w++) {
        memcpy(win, fx.eval + w * ctx, sizeof win);
        win[0] = fx.tok.bos_id;
        float *lg = all_logits(&fx.model, win, ctx);
        for (int p = ctx / 2; p < ctx - 1; p++) {
            double mx = -INFINITY, sum = 0.0;
            for (int v = 0; v < vocab; v++)
                mx = fmax(mx, lg[p * vocab + v]);
            for (int v = 0; v < vocab; v++)
                sum += exp(lg[p * vocab + v] - mx);
            nll += mx + log(sum) - lg[p * vocab + fx.eval[w * ctx + p + 1]];
        }
        free(lg);
    }
    assert_close(r.ppl, exp(nll / (double)r.scored), 1e-9 * r.ppl);
    o.max_windows = 0;
    assert_int_not_equal(calgae_perplexity(&a, NULL, fx.eval, ctx - 1, &o, &r, err, sizeof err), 0);
    assert_non_null(strstr(err, "do not fill one window"));
    calgae_state_free(&a);
    calgae_state_free(&b);
}

int quant_model_tests(void);

int quant_model_tests(void)
{
    const struct CMUnitTest model[] = {
        cmocka_unit_test(test_awq_fold_exact),
        cmocka_unit_test(test_awq_fold_every_group),
        cmocka_unit_test(test_awq_passes_threads),
        cmocka_unit_test(test_write_types),
        cmocka_unit_test(test_perplexity_windows),
    };
    return cmocka_run_group_tests_name("awq on stories260K", model, setup_model, teardown_model);
}
