/*
 * awq.c - AWQ's scale and clipping searches on ggml blocks; see awq.h for the paper, and for
 * which choices follow it and which differ.
 */
#include "awq.h"

#include <math.h>
#include <string.h>

#include "calgae_plugin.h"
#include "rtn.h"

void calgae_awq_scales(const double *mean, int64_t cols, float alpha, float *s)
{
    if (alpha == 0.0f) {
        /* exactly ones, not pow(m, 0) normalised: alpha = 0 must reproduce RTN bit for bit */
        for (int64_t j = 0; j < cols; j++)
            s[j] = 1.0f;
        return;
    }
    double lo = INFINITY, hi = 0.0;
    for (int64_t j = 0; j < cols; j++) {
        double v = pow(mean[j], (double)alpha);
        v = v > 1e-4 ? v : 1e-4; /* a dead channel must not get a zero (or huge inverse) scale */
        s[j] = (float)v;
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }
    /* centre the scales around 1 in the log domain; the fold makes any constant factor exact,
     * this only keeps block scales and norm weights far from fp16 and float limits */
    const double norm = sqrt(lo * hi);
    for (int64_t j = 0; j < cols; j++)
        s[j] = (float)((double)s[j] / norm);
}

/* d^T G d with G symmetric [n][n] (floats, row-major); y: n floats of scratch. The product is
 * formed column by column (axpy) so that the inner loop has no reduction and vectorises. */
static double quad_form(const float *d, const float *g, int64_t n, int64_t stride, float *y)
{
    memset(y, 0, (size_t)n * sizeof(float));
    for (int64_t j = 0; j < n; j++) {
        const float dj = d[j];
        if (dj == 0.0f)
            continue;
        const float *gj = g + j * stride;
        for (int64_t i = 0; i < n; i++)
            y[i] += dj * gj[i];
    }
    double e = 0.0;
    for (int64_t i = 0; i < n; i++)
        e += (double)d[i] * (double)y[i];
    return e;
}

double calgae_awq_error_rows(uint32_t type, const float *w, int64_t r0, int64_t r1, int64_t cols,
                             const float *s, const float *gram, float *scratch)
{
    if (calgae_rtn_storage_type(type, cols) != type)
        return -1.0;
    float *q = scratch, *d = scratch + cols, *y = scratch + 2 * cols;
    double err = 0.0;
    for (int64_t r = r0; r < r1; r++) {
        const float *wr = w + r * cols;
        for (int64_t j = 0; j < cols; j++)
            q[j] = s ? wr[j] * s[j] : wr[j];
        if (calgae_rtn_roundtrip(type, q, q, cols) != 0)
            return -1.0;
        /* the error in the original coordinates: the scaled weight meets x / s */
        for (int64_t j = 0; j < cols; j++)
            d[j] = wr[j] - (s ? q[j] / s[j] : q[j]);
        err += quad_form(d, gram, cols, cols, y);
    }
    return err;
}

static float block_amax(const float *x)
{
    float a = 0.0f;
    for (int j = 0; j < CALGAE_QK; j++)
        a = fabsf(x[j]) > a ? fabsf(x[j]) : a;
    return a;
}

/* One definition of the clamp, shared by the search and by apply, so that the block written is
 * the block measured. */
static void clamp_block(const float *x, float amax, int i, int n_grid, float *out)
{
    const float limit = amax * (1.0f - (float)i / (float)n_grid);
    for (int j = 0; j < CALGAE_QK; j++)
        out[j] = x[j] > limit ? limit : (x[j] < -limit ? -limit : x[j]);
}

/* Error of block x clamped by ratio index i, then quantized, against the unclamped x. */
static double clipped_error(uint32_t type, const float *x, float amax, int i, int n_grid,
                            const float *g_bb, int64_t stride)
{
    float c[CALGAE_QK], d[CALGAE_QK], y[CALGAE_QK];
    clamp_block(x, amax, i, n_grid, c);
    calgae_rtn_roundtrip(type, c, c, CALGAE_QK);
    for (int j = 0; j < CALGAE_QK; j++)
        d[j] = x[j] - c[j];
    return quad_form(d, g_bb, CALGAE_QK, stride, y);
}

void calgae_awq_clip_search(uint32_t type, const float *w, int64_t r0, int64_t r1, int64_t cols,
                            const float *gram, int n_grid, double max_shrink, uint8_t *choice,
                            calgae_awq_clip_stats *st)
{
    if (!calgae_rtn_is_block_type(type) || cols % CALGAE_QK != 0 || n_grid < 1 || n_grid > 255)
        return;
    const int64_t nb = cols / CALGAE_QK;
    for (int64_t r = r0; r < r1; r++) {
        for (int64_t b = 0; b < nb; b++) {
            const float *x = w + r * cols + b * CALGAE_QK;
            const float *g_bb = gram + b * CALGAE_QK * cols + b * CALGAE_QK;
            const float amax = block_amax(x);
            choice[r * nb + b] = 0;
            st->blocks++;
            if (amax == 0.0f)
                continue;
            /* i = 0 (ratio 1) is the unclipped block; ties keep the larger ratio */
            const double base = clipped_error(type, x, amax, 0, n_grid, g_bb, cols);
            double best_err = base;
            int best_i = 0;
            for (int i = 1; (double)i / n_grid < max_shrink; i++) {
                const double e = clipped_error(type, x, amax, i, n_grid, g_bb, cols);
                if (e < best_err) {
                    best_err = e;
                    best_i = i;
                }
            }
            st->err_before += base;
            st->err_after += best_err;
            choice[r * nb + b] = (uint8_t)best_i;
            st->clipped += best_i > 0;
        }
    }
}

void calgae_awq_clip_apply(float *w, int64_t r0, int64_t r1, int64_t cols, const uint8_t *choice,
                           int n_grid)
{
    const int64_t nb = cols / CALGAE_QK;
    for (int64_t r = r0; r < r1; r++) {
        for (int64_t b = 0; b < nb; b++) {
            if (choice[r * nb + b] == 0)
                continue;
            float *x = w + r * cols + b * CALGAE_QK;
            clamp_block(x, block_amax(x), choice[r * nb + b], n_grid, x);
        }
    }
}
