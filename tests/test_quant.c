/*
 * test_quant.c - quantization: round-to-nearest into ggml's blocks (bounds on the error, and
 * byte equality with a verbatim transcription of ggml's reference quantizers), the numerical
 * pieces of AWQ (Lin et al., MLSys 2024: the scale rule, the Gram-matrix form of the output
 * error, the clipping search). The tests on a real model are in test_quant_model.c.
 */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "awq.h"
#include "blocks.h"
#include "calib.h"
#include "quant_test_util.h"
#include "rtn.h"
#include "types.h"

/* ---- helpers -------------------------------------------------------------------------- */

static uint64_t rng = 0x9e3779b97f4a7c15ull;

/* ---- RTN: the bound ------------------------------------------------------------------- */

enum { N_EDGE = 7 };

/* Fills a block: kinds 0..N_EDGE-1 are the edge cases, anything above is random. */
static void make_block(int kind, float *x)
{
    const float scale = (float)pow(10.0, 6.0 * uniform(&rng) - 3.0);
    for (int j = 0; j < CALGAE_QK; j++) {
        switch (kind) {
        case 0: x[j] = 0.0f; break;                                     /* all zeros */
        case 1: x[j] = j == 7 ? 40.0f : 0.01f * gauss(&rng); break;     /* one outlier */
        case 2: x[j] = j == 20 ? -40.0f : 0.01f * gauss(&rng); break;   /* one negative outlier */
        case 3: x[j] = 3.7f; break;                                     /* all equal */
        case 4: x[j] = -0.25f; break;                                   /* all equal, negative */
        case 5: x[j] = -(float)(1.0 + 4.0 * uniform(&rng)); break;      /* negative only */
        case 6: x[j] = (float)(j % 3) * 0.5f; break;                    /* few levels */
        default: x[j] = scale * gauss(&rng); break;
        }
    }
}

/* |x - dequant| within half a step of the block's scale, plus how far rounding the scale (and
 * Q4_1's minimum) to fp16 moves the grid point the value was rounded to. Q4_0's 16 levels run
 * -8..7, so values on the side opposite the block's extreme that round to +8 are clamped to 7:
 * there, and only there, the error may reach one step. */
static void check_block(uint32_t type, const float *x)
{
    union { calgae_block_q8_0 q8; calgae_block_q4_0 q40; calgae_block_q4_1 q41; } b;
    float y[CALGAE_QK];
    assert_int_equal(calgae_quantize_row(type, x, &b, CALGAE_QK), 0);
    assert_int_equal(calgae_dequantize_row(type, &b, y, CALGAE_QK), 0);
    float amax = 0.0f, mx = 0.0f, mn = x[0], hi = x[0];
    for (int j = 0; j < CALGAE_QK; j++) {
        if (fabsf(x[j]) > amax) {
            amax = fabsf(x[j]);
            mx = x[j];
        }
        mn = x[j] < mn ? x[j] : mn;
        hi = x[j] > hi ? x[j] : hi;
    }
    const double slack = 1e-6 * (fabs((double)mn) + fabs((double)hi)) + 1e-30;
    for (int j = 0; j < CALGAE_QK; j++) {
        double d, ds, q, bound;
        const double e = fabs((double)x[j] - (double)y[j]);
        if (type == CALGAE_TYPE_Q8_0) {
            d = amax / 127.0f;
            ds = calgae_fp16_to_fp32(b.q8.d);
            q = b.q8.qs[j];
            bound = 0.5 * d + fabs(q) * fabs(d - ds);
        } else if (type == CALGAE_TYPE_Q4_0) {
            d = mx / -8.0f;
            ds = calgae_fp16_to_fp32(b.q40.d);
            const int nib = j < 16 ? b.q40.qs[j] & 15 : b.q40.qs[j - 16] >> 4;
            q = nib - 8;
            const double ideal = d != 0.0 ? x[j] / d : 0.0;
            const int clamped = nib == 15 && ideal > 7.5;
            if (clamped) /* only where the ideal code is above the top level */
                assert_true(ideal <= 8.0 + 1e-5);
            bound = (clamped ? 1.0 : 0.5) * fabs(d) + fabs(q) * fabs(d - ds);
        } else {
            d = (hi - mn) / 15.0f;
            ds = calgae_fp16_to_fp32(b.q41.d);
            const double ms = calgae_fp16_to_fp32(b.q41.m);
            q = j < 16 ? b.q41.qs[j] & 15 : b.q41.qs[j - 16] >> 4;
            bound = 0.5 * d + q * fabs(d - ds) + fabs((double)mn - ms);
        }
        if (e > bound + slack)
            fail_msg("type %u, value %d = %g: error %g exceeds %g (step %g)", type, j,
                     (double)x[j], e, bound, d);
    }
}

static void test_rtn_half_step(void **state)
{
    (void)state;
    const uint32_t types[] = {CALGAE_TYPE_Q8_0, CALGAE_TYPE_Q4_0, CALGAE_TYPE_Q4_1};
    float x[CALGAE_QK];
    for (int kind = 0; kind < N_EDGE + 2000; kind++) {
        make_block(kind, x);
        for (int t = 0; t < 3; t++)
            check_block(types[t], x);
    }
    /* all zeros come back as exact zeros */
    float z[CALGAE_QK] = {0}, y[CALGAE_QK];
    for (int t = 0; t < 3; t++) {
        assert_int_equal(calgae_rtn_roundtrip(types[t], z, y, CALGAE_QK), 0);
        for (int j = 0; j < CALGAE_QK; j++)
            assert_true(y[j] == 0.0f);
    }
}

/* ---- RTN: ggml's bytes ---------------------------------------------------------------- */

/* ggml/src/ggml-quants.c, quantize_row_q8_0_ref / _q4_0_ref / _q4_1_ref, transcribed verbatim
 * (only the types renamed); fp16 conversion as GGML_FP32_TO_FP16 (round to nearest even). */
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

static void ggml_q8_0_ref(const float *x, calgae_block_q8_0 *y, int64_t k)
{
    const int qk = 32;
    const int nb = (int)(k / qk);
    for (int i = 0; i < nb; i++) {
        float amax = 0.0f; // absolute max
        for (int j = 0; j < qk; j++) {
            const float v = x[i*qk + j];
            amax = MAX(amax, fabsf(v));
        }
        const float d = amax / ((1 << 7) - 1);
        const float id = d ? 1.0f/d : 0.0f;
        y[i].d = calgae_fp32_to_fp16(d);
        for (int j = 0; j < qk; ++j) {
            const float x0 = x[i*qk + j]*id;
            y[i].qs[j] = (int8_t)roundf(x0);
        }
    }
}

static void ggml_q4_0_ref(const float *x, calgae_block_q4_0 *y, int64_t k)
{
    const int qk = 32;
    const int nb = (int)(k / qk);
    for (int i = 0; i < nb; i++) {
        float amax = 0.0f; // absolute max
        float max  = 0.0f;
        for (int j = 0; j < qk; j++) {
            const float v = x[i*qk + j];
            if (amax < fabsf(v)) {
                amax = fabsf(v);
                max  = v;
            }
        }
        const float d  = max / -8;
        const float id = d ? 1.0f/d : 0.0f;
        y[i].d = calgae_fp32_to_fp16(d);
        for (int j = 0; j < qk/2; ++j) {
            const float x0 = x[i*qk + 0    + j]*id;
            const float x1 = x[i*qk + qk/2 + j]*id;
            const uint8_t xi0 = MIN(15, (int8_t)(x0 + 8.5f));
            const uint8_t xi1 = MIN(15, (int8_t)(x1 + 8.5f));
            y[i].qs[j]  = xi0;
            y[i].qs[j] |= xi1 << 4;
        }
    }
}

static void ggml_q4_1_ref(const float *x, calgae_block_q4_1 *y, int64_t k)
{
    const int qk = 32;
    const int nb = (int)(k / qk);
    for (int i = 0; i < nb; i++) {
        float min = FLT_MAX;
        float max = -FLT_MAX;
        for (int j = 0; j < qk; j++) {
            const float v = x[i*qk + j];
            if (v < min) min = v;
            if (v > max) max = v;
        }
        const float d  = (max - min) / ((1 << 4) - 1);
        const float id = d ? 1.0f/d : 0.0f;
        y[i].d = calgae_fp32_to_fp16(d);
        y[i].m = calgae_fp32_to_fp16(min);
        for (int j = 0; j < qk/2; ++j) {
            const float x0 = (x[i*qk + 0    + j] - min)*id;
            const float x1 = (x[i*qk + qk/2 + j] - min)*id;
            const uint8_t xi0 = MIN(15, (int8_t)(x0 + 0.5f));
            const uint8_t xi1 = MIN(15, (int8_t)(x1 + 0.5f));
            y[i].qs[j]  = xi0;
            y[i].qs[j] |= xi1 << 4;
        }
    }
}

static void test_rtn_ggml_bytes(void **state)
{
    (void)state;
    enum { N = 64 * CALGAE_QK };
    float *x = malloc(N * sizeof *x);
    calgae_block_q8_0 a8[N / 32], b8[N / 32];
    calgae_block_q4_0 a40[N / 32], b40[N / 32];
    calgae_block_q4_1 a41[N / 32], b41[N / 32];
    assert_non_null(x);
    for (int round = 0; round < 200; round++) {
        for (int b = 0; b < N / 32; b++)
            make_block(round == 0 ? b % N_EDGE : N_EDGE + b, x + b * 32);
        if (round == 1) /* exact ties of the rounding: d = 1, halves */
            for (int j = 0; j < N; j++)
                x[j] = j % 32 == 0 ? 127.0f : (float)(j % 9) - 4.5f;
        calgae_quantize_row_q8_0(x, a8, N);
        ggml_q8_0_ref(x, b8, N);
        calgae_quantize_row_q4_0(x, a40, N);
        ggml_q4_0_ref(x, b40, N);
        calgae_quantize_row_q4_1(x, a41, N);
        ggml_q4_1_ref(x, b41, N);
        assert_memory_equal(a8, b8, sizeof a8);
        assert_memory_equal(a40, b40, sizeof a40);
        assert_memory_equal(a41, b41, sizeof a41);
    }
    free(x);
    /* what a block type cannot hold stays F32 */
    assert_int_equal(calgae_rtn_storage_type(CALGAE_TYPE_Q4_0, 172), CALGAE_TYPE_F32);
    assert_int_equal(calgae_rtn_storage_type(CALGAE_TYPE_Q4_1, 64), CALGAE_TYPE_Q4_1);
}

/* ---- AWQ pieces ------------------------------------------------------------------------- */

static void test_awq_scale_rule(void **state)
{
    (void)state;
    double mean[6] = {0.5, 2.0, 8.0, 0.0, 1.0, 32.0};
    float s[6];
    calgae_awq_scales(mean, 6, 0.0f, s);
    for (int j = 0; j < 6; j++)
        assert_true(s[j] == 1.0f);
    calgae_awq_scales(mean, 6, 0.5f, s);
    /* s ~ mean^0.5 with a dead channel held at 1e-4, normalised so that max * min = 1 */
    float lo = s[0], hi = s[0];
    for (int j = 1; j < 6; j++) {
        lo = s[j] < lo ? s[j] : lo;
        hi = s[j] > hi ? s[j] : hi;
    }
    assert_close(lo * hi, 1.0, 1e-5);
    assert_close(s[2] / s[1], 2.0, 1e-5);
    assert_close(s[5] / s[0], 8.0, 1e-5);
    assert_close(s[3] / s[4], 1e-4, 1e-9);
}

/* The Gram form of the output error equals running the activations through the layer; the
 * statistics may be accumulated in row ranges (as threads do) and in batches. */
static void test_awq_error_is_output_error(void **state)
{
    (void)state;
    enum { R = 6, C = 64, T = 50 };
    float *w = malloc(R * C * sizeof *w), *x = malloc(T * C * sizeof *x);
    float s[C], q[C], scratch[3 * C];
    assert_true(w && x);
    for (int i = 0; i < R * C; i++)
        w[i] = gauss(&rng);
    for (int t = 0; t < T; t++)
        for (int j = 0; j < C; j++)
            x[t * C + j] = gauss(&rng) * (float)(1 + j % 5); /* uneven channels */
    calgae_calib cal;
    assert_int_equal(calgae_calib_init(&cal, 1), 0);
    assert_int_equal(calgae_calib_setup(&cal, 0, C, 1), 0);
    calgae_calib_slot *sl = &cal.slots[0];
    for (int t0 = 0; t0 < T; t0 += 20) {
        const int n = T - t0 < 20 ? T - t0 : 20;
        calgae_calib_add_abs(sl, x + t0 * C, n);
        calgae_calib_add_gram(sl, x + t0 * C, n, 0, 17);
        calgae_calib_add_gram(sl, x + t0 * C, n, 17, C);
    }
    calgae_calib_finish(sl);
    assert_int_equal(sl->n, T);
    double mean[C];
    calgae_calib_mean_abs(sl, mean);
    float *g = malloc(C * C * sizeof *g);
    assert_non_null(g);
    for (int i = 0; i < C * C; i++)
        g[i] = (float)sl->gram[i];
    for (int round = 0; round < 3; round++) {
        calgae_awq_scales(mean, C, 0.3f * (float)round, s);
        double direct = 0.0;
        for (int r = 0; r < R; r++) {
            float d[C];
            for (int j = 0; j < C; j++)
                q[j] = w[r * C + j] * s[j];
            calgae_rtn_roundtrip(CALGAE_TYPE_Q4_0, q, q, C);
            for (int j = 0; j < C; j++)
                d[j] = w[r * C + j] - q[j] / s[j];
            for (int t = 0; t < T; t++) {
                double y = 0.0;
                for (int j = 0; j < C; j++)
                    y += (double)d[j] * x[t * C + j];
                direct += y * y;
            }
        }
        const double gram = calgae_awq_error_rows(CALGAE_TYPE_Q4_0, w, 0, R, C, s, g, scratch);
        assert_true(direct > 0.0);
        if (fabs(gram - direct) > 1e-4 * direct)
            fail_msg("Gram form %.9g, direct %.9g", gram, direct);
    }
    assert_true(calgae_awq_error_rows(CALGAE_TYPE_Q4_0, w, 0, R, 48, NULL, g, scratch) < 0.0);
    free(g);
    calgae_calib_free(&cal);
    free(w);
    free(x);
}

/* The clipping search keeps a ratio only when it lowers the block's error, and apply writes
 * exactly the clamped block it measured. */
static void test_awq_clip(void **state)
{
    (void)state;
    enum { R = 40, C = 64 };
    const uint32_t types[] = {CALGAE_TYPE_Q4_0, CALGAE_TYPE_Q4_1, CALGAE_TYPE_Q8_0};
    float *w = malloc(R * C * sizeof *w), *g = calloc(C * C, sizeof *g);
    uint8_t choice[R * C / 32];
    assert_true(w && g);
    for (int j = 0; j < C; j++)
        g[j * C + j] = 1.0f + (float)(j % 4); /* a diagonal Gram: weighted squared error */
    for (int t = 0; t < 3; t++) {
        for (int i = 0; i < R * C; i++) /* heavy tails, where clipping pays */
            w[i] = gauss(&rng) * (uniform(&rng) < 0.05 ? 4.0f : 1.0f);
        calgae_awq_clip_stats st = {0};
        calgae_awq_clip_search(types[t], w, 0, R, C, g, CALGAE_AWQ_CLIP_GRID,
                               CALGAE_AWQ_CLIP_SHRINK, choice, &st);
        assert_int_equal(st.blocks, R * C / 32);
        assert_true(st.err_after <= st.err_before);
        if (types[t] != CALGAE_TYPE_Q8_0)
            assert_true(st.clipped > 0 && st.err_after < st.err_before);
        /* re-measure after apply: each block's error against the unclipped weights */
        float *orig = malloc(R * C * sizeof *orig);
        assert_non_null(orig);
        memcpy(orig, w, R * C * sizeof *w);
        calgae_awq_clip_apply(w, 0, R, C, choice, CALGAE_AWQ_CLIP_GRID);
        double after = 0.0;
        for (int b = 0; b < R * C / 32; b++) {
            float q[32];
            const int r = b / (C / 32), c0 = (b % (C / 32)) * 32;
            calgae_rtn_roundtrip(types[t], w + r * C + c0, q, 32);
            for (int j = 0; j < 32; j++) {
                const double d = (double)orig[r * C + c0 + j] - q[j];
                after += d * d * g[(c0 + j) * C + c0 + j];
            }
            if (choice[b] == 0)
                assert_memory_equal(w + r * C + c0, orig + r * C + c0, 32 * sizeof(float));
        }
        assert_close(after, st.err_after, 1e-6 * st.err_before);
        free(orig);
    }
    free(w);
    free(g);
}

/* test_quant_model.c: AWQ and perplexity on stories260K */
int quant_model_tests(void);

int main(void)
{
    const struct CMUnitTest unit[] = {
        cmocka_unit_test(test_rtn_half_step),
        cmocka_unit_test(test_rtn_ggml_bytes),
        cmocka_unit_test(test_awq_scale_rule),
        cmocka_unit_test(test_awq_error_is_output_error),
        cmocka_unit_test(test_awq_clip),
    };
    int failed = cmocka_run_group_tests_name("quantization", unit, NULL, NULL);
    return failed + quant_model_tests();
}
