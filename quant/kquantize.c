/*
 * kquantize.c - ggml's reference quantizers for the K-quant types (Q2_K .. Q6_K) and the IQ4
 * types (IQ4_NL, IQ4_XS): what llama-quantize runs for these types when it has no importance
 * matrix (quantize_row_q2_K_ref .. quantize_row_q6_K_ref; quantize_iq4_nl / quantize_iq4_xs
 * with no weights, 7 scale tries). Each group of 16 or 32 values gets a scale (and for
 * Q2_K/Q4_K/Q5_K a min) by a small search that minimizes a weighted squared (or absolute) error;
 * the group scales are then themselves quantized against the block's largest, and the values
 * are rounded once more against the scales as stored. Every float operation is kept in ggml's
 * order (no reassociation), since the aim is the same bytes, not merely as good a fit.
 */
#include "kblocks.h"

#include <math.h>
#include <string.h>

/* below this a group counts as all zeros (ggml's GROUP_MAX_EPS) */
#define GROUP_EPS 1e-15f

/* round to nearest, ties to even (ggml's nearest_int): add 1.5 * 2^23 and read the mantissa */
static int nearest(float v)
{
    const float shifted = v + 12582912.0f;
    int32_t bits;
    memcpy(&bits, &shifted, sizeof bits);
    return (bits & 0x007fffff) - 0x00400000;
}

static int clampi(int v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* The signed-code fit of Q6_K's groups (ggml's make_qx_quants with rmse_type 1, no weights):
 * codes in [-nmax, nmax - 1] stored plus nmax, weighted by x^2, the scale -nmax / max tried
 * with 18 nudges of a tenth. Returns the group scale. */
static float fit_signed(int n, int nmax, const float *x, int8_t *L)
{
    float amax = 0.0f, max = 0.0f;
    for (int i = 0; i < n; i++) {
        if (fabsf(x[i]) > amax) {
            amax = fabsf(x[i]);
            max = x[i];
        }
    }
    if (amax < GROUP_EPS) {
        memset(L, 0, (size_t)n);
        return 0.0f;
    }
    float iscale = (float)-nmax / max;
    float sumlx = 0.0f, suml2 = 0.0f;
    for (int i = 0; i < n; i++) {
        const int l = clampi(nearest(iscale * x[i]), -nmax, nmax - 1);
        L[i] = (int8_t)(l + nmax);
        const float w = x[i] * x[i];
        sumlx += w * x[i] * (float)l;
        suml2 += w * (float)l * (float)l;
    }
    float scale = suml2 != 0.0f ? sumlx / suml2 : 0.0f;
    float best = scale * sumlx;
    for (int is = -9; is <= 9; is++) {
        if (is == 0)
            continue;
        iscale = -((float)nmax + 0.1f * (float)is) / max;
        sumlx = suml2 = 0.0f;
        for (int i = 0; i < n; i++) {
            const int l = clampi(nearest(iscale * x[i]), -nmax, nmax - 1);
            const float w = x[i] * x[i];
            sumlx += w * x[i] * (float)l;
            suml2 += w * (float)l * (float)l;
        }
        if (suml2 > 0.0f && sumlx * sumlx > best * suml2) {
            for (int i = 0; i < n; i++)
                L[i] = (int8_t)(nmax + clampi(nearest(iscale * x[i]), -nmax, nmax - 1));
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

/* Q3_K's group fit (ggml's make_q3_quants with do_rmse): codes in [-nmax, nmax - 1], then up
 * to 5 passes that move single codes while the x^2-weighted fit improves. */
static float fit_q3(int n, int nmax, const float *x, int8_t *L)
{
    float amax = 0.0f, max = 0.0f;
    for (int i = 0; i < n; i++) {
        if (fabsf(x[i]) > amax) {
            amax = fabsf(x[i]);
            max = x[i];
        }
    }
    if (amax < GROUP_EPS) {
        memset(L, 0, (size_t)n);
        return 0.0f;
    }
    const float iscale = (float)-nmax / max;
    float sumlx = 0.0f, suml2 = 0.0f;
    for (int i = 0; i < n; i++) {
        const int l = clampi(nearest(iscale * x[i]), -nmax, nmax - 1);
        L[i] = (int8_t)l;
        const float w = x[i] * x[i];
        sumlx += w * x[i] * (float)l;
        suml2 += w * (float)l * (float)l;
    }
    for (int pass = 0; pass < 5; pass++) {
        int changed = 0;
        for (int i = 0; i < n; i++) {
            const float w = x[i] * x[i];
            float slx = sumlx - w * x[i] * (float)L[i];
            if (!(slx > 0.0f))
                continue;
            float sl2 = suml2 - w * (float)L[i] * (float)L[i];
            const int l = clampi(nearest(x[i] * sl2 / slx), -nmax, nmax - 1);
            if (l == L[i])
                continue;
            slx += w * x[i] * (float)l;
            sl2 += w * (float)l * (float)l;
            if (sl2 > 0.0f && slx * slx * suml2 > sumlx * sumlx * sl2) {
                L[i] = (int8_t)l;
                sumlx = slx;
                suml2 = sl2;
                changed++;
            }
        }
        if (!changed)
            break;
    }
    for (int i = 0; i < n; i++)
        L[i] = (int8_t)(L[i] + nmax);
    return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

/* The scale-and-min fit of Q2_K, Q4_K and Q5_K groups (ggml's make_qkx2_quants): codes in
 * [0, nmax] for x = scale * code - min, min >= 0; nstep + 1 trial scales from
 * (rmin + nmax) / range in steps of rdelta, each refit by weighted least squares, the one of
 * least weighted error (squared, or absolute with use_mad) kept. Returns the scale, *min_out
 * the min. */
static float fit_scale_min(int n, int nmax, const float *x, const float *w, uint8_t *L,
                           float *min_out, float rmin, float rdelta, int nstep, int use_mad)
{
    uint8_t Laux[32];
    float min = x[0], max = x[0], sum_w = w[0], sum_x = sum_w * x[0];
    for (int i = 1; i < n; i++) {
        min = x[i] < min ? x[i] : min;
        max = x[i] > max ? x[i] : max;
        sum_w += w[i];
        sum_x += w[i] * x[i];
    }
    if (min > 0.0f)
        min = 0.0f;
    if (max == min) {
        memset(L, 0, (size_t)n);
        *min_out = -min;
        return 0.0f;
    }
    float iscale = (float)nmax / (max - min);
    float scale = 1.0f / iscale;
    float best_error = 0.0f;
    for (int i = 0; i < n; i++) {
        L[i] = (uint8_t)clampi(nearest(iscale * (x[i] - min)), 0, nmax);
        float diff = scale * (float)L[i] + min - x[i];
        diff = use_mad ? fabsf(diff) : diff * diff;
        best_error += w[i] * diff;
    }
    for (int is = 0; is <= nstep; is++) {
        iscale = (rmin + rdelta * (float)is + (float)nmax) / (max - min);
        float sum_l = 0.0f, sum_l2 = 0.0f, sum_xl = 0.0f;
        for (int i = 0; i < n; i++) {
            const int l = clampi(nearest(iscale * (x[i] - min)), 0, nmax);
            Laux[i] = (uint8_t)l;
            sum_l += w[i] * (float)l;
            sum_l2 += w[i] * (float)l * (float)l;
            sum_xl += w[i] * (float)l * x[i];
        }
        const float D = sum_w * sum_l2 - sum_l * sum_l;
        if (!(D > 0.0f))
            continue;
        float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
        float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
        if (this_min > 0.0f) {
            this_min = 0.0f;
            this_scale = sum_xl / sum_l2;
        }
        float err = 0.0f;
        for (int i = 0; i < n; i++) {
            float diff = this_scale * (float)Laux[i] + this_min - x[i];
            diff = use_mad ? fabsf(diff) : diff * diff;
            err += w[i] * diff;
        }
        if (err < best_error) {
            memcpy(L, Laux, (size_t)n);
            best_error = err;
            scale = this_scale;
            min = this_min;
        }
    }
    *min_out = -min;
    return scale;
}

/* four 2-bit codes per byte: byte l of each 32-byte run holds codes l, l+32, l+64, l+96 of
 * its 128 values, lowest bits first */
static void pack_crumbs(const uint8_t *L, uint8_t *qs)
{
    for (int j = 0; j < CALGAE_QK_K; j += 128)
        for (int l = 0; l < 32; l++)
            qs[j / 4 + l] = (uint8_t)(L[j + l] | L[j + l + 32] << 2 | L[j + l + 64] << 4 |
                                      L[j + l + 96] << 6);
}

void calgae_quantize_row_q2_k(const float *x, calgae_block_q2_k *y, int64_t n)
{
    for (int64_t i = 0; i < n / CALGAE_QK_K; i++, x += CALGAE_QK_K) {
        uint8_t L[CALGAE_QK_K];
        float w[16], scales[16], mins[16], max_scale = 0.0f, max_min = 0.0f;
        for (int j = 0; j < 16; j++) {
            for (int l = 0; l < 16; l++)
                w[l] = fabsf(x[16 * j + l]);
            scales[j] = fit_scale_min(16, 3, x + 16 * j, w, L + 16 * j, &mins[j], -0.5f, 0.1f, 15, 1);
            max_scale = scales[j] > max_scale ? scales[j] : max_scale;
            max_min = mins[j] > max_min ? mins[j] : max_min;
        }
        memset(y[i].scales, 0, sizeof y[i].scales);
        y[i].d = y[i].dmin = calgae_fp32_to_fp16(0.0f);
        if (max_scale > 0.0f) {
            const float iscale = 15.0f / max_scale;
            for (int j = 0; j < 16; j++)
                y[i].scales[j] = (uint8_t)nearest(iscale * scales[j]);
            y[i].d = calgae_fp32_to_fp16(max_scale / 15.0f);
        }
        if (max_min > 0.0f) {
            const float iscale = 15.0f / max_min;
            /* a negative minimum's code wraps in the high nibble, as ggml's int shift leaves it
             * (byte-identical files), done on unsigned to keep it defined */
            for (int j = 0; j < 16; j++)
                y[i].scales[j] |= (uint8_t)((unsigned)nearest(iscale * mins[j]) << 4);
            y[i].dmin = calgae_fp32_to_fp16(max_min / 15.0f);
        }
        for (int j = 0; j < 16; j++) {
            const float d = calgae_fp16_to_fp32(y[i].d) * (float)(y[i].scales[j] & 0x0f);
            if (d == 0.0f)
                continue;
            const float dm = calgae_fp16_to_fp32(y[i].dmin) * (float)(y[i].scales[j] >> 4);
            for (int l = 0; l < 16; l++)
                L[16 * j + l] = (uint8_t)clampi(nearest((x[16 * j + l] + dm) / d), 0, 3);
        }
        pack_crumbs(L, y[i].qs);
    }
}

void calgae_quantize_row_q3_k(const float *x, calgae_block_q3_k *y, int64_t n)
{
    for (int64_t i = 0; i < n / CALGAE_QK_K; i++, x += CALGAE_QK_K) {
        int8_t L[CALGAE_QK_K];
        float scales[16], amax = 0.0f, max_scale = 0.0f;
        for (int j = 0; j < 16; j++) {
            scales[j] = fit_q3(16, 4, x + 16 * j, L + 16 * j);
            if (fabsf(scales[j]) > amax) {
                amax = fabsf(scales[j]);
                max_scale = scales[j];
            }
        }
        memset(y[i].scales, 0, sizeof y[i].scales);
        y[i].d = calgae_fp32_to_fp16(0.0f);
        if (max_scale != 0.0f) {
            const float iscale = -32.0f / max_scale;
            for (int j = 0; j < 16; j++) {
                /* ggml keeps the rounded scale in an int8_t before clamping */
                const int l = clampi((int8_t)nearest(iscale * scales[j]), -32, 31) + 32;
                if (j < 8)
                    y[i].scales[j] = (uint8_t)(l & 0x0f);
                else
                    y[i].scales[j - 8] |= (uint8_t)((l & 0x0f) << 4);
                y[i].scales[j % 4 + 8] |= (uint8_t)((l >> 4) << (2 * (j / 4)));
            }
            y[i].d = calgae_fp32_to_fp16(1.0f / iscale);
        }
        for (int j = 0; j < 16; j++) {
            const int low = j < 8 ? y[i].scales[j] & 0x0f : y[i].scales[j - 8] >> 4;
            const int sc = (low | ((y[i].scales[8 + j % 4] >> (2 * (j / 4))) & 3) << 4) - 32;
            const float d = calgae_fp16_to_fp32(y[i].d) * (float)sc;
            if (d == 0.0f)
                continue;
            for (int l = 0; l < 16; l++)
                L[16 * j + l] = (int8_t)(clampi(nearest(x[16 * j + l] / d), -4, 3) + 4);
        }
        /* the third bit: value j goes to hmask byte j % 32, bit j / 32 */
        memset(y[i].hmask, 0, sizeof y[i].hmask);
        uint8_t low2[CALGAE_QK_K];
        for (int j = 0; j < CALGAE_QK_K; j++) {
            if (L[j] > 3)
                y[i].hmask[j % 32] |= (uint8_t)(1u << (j / 32));
            low2[j] = (uint8_t)(L[j] > 3 ? L[j] - 4 : L[j]);
        }
        pack_crumbs(low2, y[i].qs);
    }
}

/* Q4_K and Q5_K's common part: 8 groups of 32 fitted with weights rms + |x|, 6-bit scales and
 * mins against the largest of each, the codes refitted to the stored scales. */
static void k_scales_and_codes(const float *x, int nmax, float rmin, int nstep, uint8_t scales12[12],
                               calgae_fp16 *dh, calgae_fp16 *dminh, uint8_t L[CALGAE_QK_K])
{
    float w[32], scales[8], mins[8], max_scale = 0.0f, max_min = 0.0f;
    for (int j = 0; j < 8; j++) {
        float sum_x2 = 0.0f;
        for (int l = 0; l < 32; l++)
            sum_x2 += x[32 * j + l] * x[32 * j + l];
        const float av_x = sqrtf(sum_x2 / 32.0f);
        for (int l = 0; l < 32; l++)
            w[l] = av_x + fabsf(x[32 * j + l]);
        scales[j] = fit_scale_min(32, nmax, x + 32 * j, w, L + 32 * j, &mins[j], rmin, 0.1f, nstep, 0);
        max_scale = scales[j] > max_scale ? scales[j] : max_scale;
        max_min = mins[j] > max_min ? mins[j] : max_min;
    }
    const float inv_scale = max_scale > 0.0f ? 63.0f / max_scale : 0.0f;
    const float inv_min = max_min > 0.0f ? 63.0f / max_min : 0.0f;
    for (int j = 0; j < 8; j++) {
        /* ggml stores the rounding in a uint8_t, then caps it at 63 */
        const int ls = (uint8_t)nearest(inv_scale * scales[j]) > 63 ? 63 : (uint8_t)nearest(inv_scale * scales[j]);
        const int lm = (uint8_t)nearest(inv_min * mins[j]) > 63 ? 63 : (uint8_t)nearest(inv_min * mins[j]);
        if (j < 4) {
            scales12[j] = (uint8_t)ls;
            scales12[j + 4] = (uint8_t)lm;
        } else {
            scales12[j + 4] = (uint8_t)((ls & 0x0f) | (lm & 0x0f) << 4);
            scales12[j - 4] |= (uint8_t)((ls >> 4) << 6);
            scales12[j] |= (uint8_t)((lm >> 4) << 6);
        }
    }
    *dh = calgae_fp32_to_fp16(max_scale / 63.0f);
    *dminh = calgae_fp32_to_fp16(max_min / 63.0f);
    for (int j = 0; j < 8; j++) {
        int sc, m;
        if (j < 4) {
            sc = scales12[j] & 63;
            m = scales12[j + 4] & 63;
        } else {
            sc = (scales12[j + 4] & 0x0f) | (scales12[j - 4] >> 6) << 4;
            m = (scales12[j + 4] >> 4) | (scales12[j] >> 6) << 4;
        }
        const float d = calgae_fp16_to_fp32(*dh) * (float)sc;
        if (d == 0.0f)
            continue;
        const float dm = calgae_fp16_to_fp32(*dminh) * (float)m;
        for (int l = 0; l < 32; l++)
            L[32 * j + l] = (uint8_t)clampi(nearest((x[32 * j + l] + dm) / d), 0, nmax);
    }
}

void calgae_quantize_row_q4_k(const float *x, calgae_block_q4_k *y, int64_t n)
{
    for (int64_t i = 0; i < n / CALGAE_QK_K; i++, x += CALGAE_QK_K) {
        uint8_t L[CALGAE_QK_K];
        memset(y[i].scales, 0, sizeof y[i].scales);
        k_scales_and_codes(x, 15, -1.0f, 20, y[i].scales, &y[i].d, &y[i].dmin, L);
        for (int j = 0; j < CALGAE_QK_K; j += 64)
            for (int l = 0; l < 32; l++)
                y[i].qs[j / 2 + l] = (uint8_t)(L[j + l] | L[j + l + 32] << 4);
    }
}

void calgae_quantize_row_q5_k(const float *x, calgae_block_q5_k *y, int64_t n)
{
    for (int64_t i = 0; i < n / CALGAE_QK_K; i++, x += CALGAE_QK_K) {
        uint8_t L[CALGAE_QK_K];
        memset(y[i].scales, 0, sizeof y[i].scales);
        k_scales_and_codes(x, 31, -0.5f, 15, y[i].scales, &y[i].d, &y[i].dmin, L);
        memset(y[i].qh, 0, sizeof y[i].qh);
        for (int j = 0, pass = 0; j < CALGAE_QK_K; j += 64, pass++) {
            for (int l = 0; l < 32; l++) {
                const int a = L[j + l], b = L[j + l + 32];
                y[i].qh[l] |= (uint8_t)((a >> 4) << (2 * pass) | (b >> 4) << (2 * pass + 1));
                y[i].qs[j / 2 + l] = (uint8_t)((a & 0x0f) | (b & 0x0f) << 4);
            }
        }
    }
}

void calgae_quantize_row_q6_k(const float *x, calgae_block_q6_k *y, int64_t n)
{
    for (int64_t i = 0; i < n / CALGAE_QK_K; i++, x += CALGAE_QK_K) {
        int8_t L[CALGAE_QK_K];
        float scales[16], max_scale = 0.0f, max_abs = 0.0f;
        for (int g = 0; g < 16; g++) {
            scales[g] = fit_signed(16, 32, x + 16 * g, L + 16 * g);
            if (fabsf(scales[g]) > max_abs) {
                max_abs = fabsf(scales[g]);
                max_scale = scales[g];
            }
        }
        memset(&y[i], 0, sizeof y[i]);
        if (max_abs < GROUP_EPS)
            continue;
        const float iscale = -128.0f / max_scale;
        y[i].d = calgae_fp32_to_fp16(1.0f / iscale);
        for (int g = 0; g < 16; g++) {
            const int s = nearest(iscale * scales[g]);
            y[i].scales[g] = (int8_t)(s > 127 ? 127 : s);
        }
        for (int g = 0; g < 16; g++) {
            const float d = calgae_fp16_to_fp32(y[i].d) * (float)y[i].scales[g];
            if (d == 0.0f)
                continue;
            for (int l = 0; l < 16; l++)
                L[16 * g + l] = (int8_t)(clampi(nearest(x[16 * g + l] / d), -32, 31) + 32);
        }
        for (int j = 0, h = 0; j < CALGAE_QK_K; j += 128, h++) {
            uint8_t *ql = y[i].ql + 64 * h, *qh = y[i].qh + 32 * h;
            for (int l = 0; l < 32; l++) {
                const int a = L[j + l], b = L[j + l + 32], c = L[j + l + 64], e = L[j + l + 96];
                ql[l] = (uint8_t)((a & 0x0f) | (c & 0x0f) << 4);
                ql[l + 32] = (uint8_t)((b & 0x0f) | (e & 0x0f) << 4);
                qh[l] = (uint8_t)(a >> 4 | (b >> 4) << 2 | (c >> 4) << 4 | (e >> 4) << 6);
            }
        }
    }
}

/* the level of calgae_iq4nl_levels nearest v, the lower on a tie (ggml's best_index_int8) */
static int iq4_index(float v)
{
    const int8_t *t = calgae_iq4nl_levels;
    if (v <= t[0])
        return 0;
    if (v >= t[15])
        return 15;
    int lo = 0, hi = 15;
    while (hi - lo > 1) {
        const int mid = (lo + hi) / 2;
        if (v < t[mid])
            hi = mid;
        else
            lo = mid;
    }
    return v - t[hi - 1] < t[hi] - v ? hi - 1 : hi;
}

/* The x^2-weighted fit of one group of 32 to the IQ4 levels (ggml's quantize_row_iq4_nl_impl
 * without an importance matrix, 7 tries each side): returns the group scale, codes in L. */
static float iq4_fit_group(const float *x, uint8_t *L)
{
    const int ntry = 7;
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < 32; j++) {
        if (fabsf(x[j]) > amax) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    }
    if (amax < GROUP_EPS)
        return 0.0f;
    const float lv0 = (float)calgae_iq4nl_levels[0];
    float d = -max / lv0;
    float id = 1.0f / d, sumqx = 0.0f, sumq2 = 0.0f;
    for (int j = 0; j < 32; j++) {
        const int l = iq4_index(id * x[j]);
        L[j] = (uint8_t)l;
        const float q = (float)calgae_iq4nl_levels[l], w = x[j] * x[j];
        sumqx += w * q * x[j];
        sumq2 += w * q * q;
    }
    d = sumq2 > 0.0f ? sumqx / sumq2 : 0.0f;
    float best = d * sumqx;
    for (int t = -ntry; t <= ntry; t++) {
        id = ((float)t + lv0) / max;
        sumqx = sumq2 = 0.0f;
        for (int j = 0; j < 32; j++) {
            const float q = (float)calgae_iq4nl_levels[iq4_index(id * x[j])], w = x[j] * x[j];
            sumqx += w * q * x[j];
            sumq2 += w * q * q;
        }
        if (sumq2 > 0.0f && sumqx * sumqx > best * sumq2) {
            d = sumqx / sumq2;
            best = d * sumqx;
        }
    }
    return d;
}

static void iq4_pack(const uint8_t *L, uint8_t *qs, int groups)
{
    for (int g = 0; g < groups; g++)
        for (int j = 0; j < 16; j++)
            qs[16 * g + j] = (uint8_t)(L[32 * g + j] | L[32 * g + 16 + j] << 4);
}

void calgae_quantize_row_iq4_nl(const float *x, calgae_block_iq4_nl *y, int64_t n)
{
    for (int64_t i = 0; i < n / CALGAE_QK; i++, x += CALGAE_QK) {
        uint8_t L[32];
        memset(L, 0, sizeof L);
        const float d = iq4_fit_group(x, L);
        y[i].d = calgae_fp32_to_fp16(d);
        /* one group: the codes are refitted to the unrounded scale */
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        for (int j = 0; j < 32; j++)
            L[j] = (uint8_t)iq4_index(id * x[j]);
        iq4_pack(L, y[i].qs, 1);
    }
}

void calgae_quantize_row_iq4_xs(const float *x, calgae_block_iq4_xs *y, int64_t n)
{
    for (int64_t i = 0; i < n / CALGAE_QK_K; i++, x += CALGAE_QK_K) {
        uint8_t L[CALGAE_QK_K];
        float scales[8], max_scale = 0.0f, amax = 0.0f;
        memset(L, 0, sizeof L);
        for (int g = 0; g < 8; g++) {
            scales[g] = iq4_fit_group(x + 32 * g, L + 32 * g);
            if (fabsf(scales[g]) > amax) {
                amax = fabsf(scales[g]);
                max_scale = scales[g];
            }
        }
        y[i].scales_h = 0;
        memset(y[i].scales_l, 0, sizeof y[i].scales_l);
        const float d = -max_scale / 32.0f;
        y[i].d = calgae_fp32_to_fp16(d);
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        for (int g = 0; g < 8; g++) {
            const int l = clampi(nearest(id * scales[g]), -32, 31);
            const float dl = d * (float)l;
            const float idl = dl != 0.0f ? 1.0f / dl : 0.0f;
            for (int j = 0; j < 32; j++)
                L[32 * g + j] = (uint8_t)iq4_index(idl * x[32 * g + j]);
            const int s = l + 32;
            y[i].scales_l[g / 2] |= (uint8_t)((s & 0x0f) << (4 * (g % 2)));
            y[i].scales_h |= (uint16_t)((s >> 4) << (2 * g));
        }
        iq4_pack(L, y[i].qs, 8);
    }
}
