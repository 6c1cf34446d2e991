/* kldfile.c - see kldfile.h (llama.cpp tools/perplexity: log_softmax, kl_divergence). */
#include "kldfile.h"

#include <math.h>
#include <string.h>

#include "util.h"

static int32_t get_i32(const uint8_t *p)
{
    uint32_t v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    int32_t s;
    memcpy(&s, &v, sizeof s);
    return s;
}

static void put_i32(uint8_t *p, int32_t s)
{
    uint32_t v;
    memcpy(&v, &s, sizeof v);
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static float get_f32(const uint8_t *p)
{
    int32_t s = get_i32(p);
    float f;
    memcpy(&f, &s, sizeof f);
    return f;
}

static void put_f32(uint8_t *p, float f)
{
    int32_t s;
    memcpy(&s, &f, sizeof s);
    put_i32(p, s);
}

static uint16_t get_u16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

size_t calgae_kldfile_row_bytes(int32_t n_vocab)
{
    if (n_vocab < 1 || n_vocab > (1 << 30))
        return 0;
    return 2 * (2 * (((size_t)n_vocab + 1) / 2) + 4);
}

int32_t calgae_kldfile_token(const calgae_kldfile *f, size_t i)
{
    return get_i32(f->tokens + 4 * i);
}

const uint8_t *calgae_kldfile_row(const calgae_kldfile *f, size_t i)
{
    return f->rows + i * f->row_bytes;
}

float calgae_kldfile_logprob(const uint8_t *row, int v)
{
    return get_f32(row) * (float)get_u16(row + 8 + 2 * (size_t)v) + get_f32(row + 4);
}

int calgae_kldfile_parse(calgae_kldfile *f, const void *data, size_t size, const char *name,
                         char *err, size_t err_len)
{
    const uint8_t *p = data;
    memset(f, 0, sizeof *f);
    if (size < CALGAE_KLDFILE_HEADER || memcmp(p, "_logits_", 8) != 0)
        return calgae_fail(err, err_len, "%s: not a log-probabilities file (no '_logits_' header)",
                           name);
    f->n_ctx = get_i32(p + 8);
    f->n_vocab = get_i32(p + 12);
    f->n_chunk = get_i32(p + 16);
    f->row_bytes = calgae_kldfile_row_bytes(f->n_vocab);
    if (f->n_ctx < 4 || f->n_ctx > (1 << 24) || f->n_chunk < 1 || f->row_bytes == 0)
        return calgae_fail(err, err_len, "%s: bad header (n_ctx %d, n_vocab %d, n_chunk %d)", name,
                           f->n_ctx, f->n_vocab, f->n_chunk);
    f->rows_per_chunk = f->n_ctx - 1 - f->n_ctx / 2;
    /* every size below is bounded by the file's size before it is multiplied further */
    const size_t rest = size - CALGAE_KLDFILE_HEADER;
    const size_t n_tok = (size_t)f->n_ctx * (size_t)f->n_chunk;
    if (n_tok > rest / 4)
        return calgae_fail(err, err_len, "%s: truncated: %d chunks of %d tokens do not fit in %zu "
                           "bytes", name, f->n_chunk, f->n_ctx, size);
    const size_t n_rows = (size_t)f->n_chunk * (size_t)f->rows_per_chunk;
    const size_t after = rest - 4 * n_tok;
    if (n_rows > after / f->row_bytes || n_rows * f->row_bytes != after)
        return calgae_fail(err, err_len, "%s: %zu bytes of log-probabilities where %d chunks of %d "
                           "rows of %zu bytes need %s", name, after, f->n_chunk, f->rows_per_chunk,
                           f->row_bytes, n_rows > after / f->row_bytes ? "more (truncated)" :
                           "fewer (trailing bytes)");
    f->tokens = p + CALGAE_KLDFILE_HEADER;
    f->rows = f->tokens + 4 * n_tok;
    for (size_t i = 0; i < n_tok; i++) {
        const int32_t t = calgae_kldfile_token(f, i);
        if (t < 0 || t >= f->n_vocab)
            return calgae_fail(err, err_len, "%s: token %zu is %d, outside the vocabulary of %d",
                               name, i, t, f->n_vocab);
    }
    for (size_t i = 0; i < n_rows; i++) {
        const uint8_t *r = calgae_kldfile_row(f, i);
        const float scale = get_f32(r), min = get_f32(r + 4);
        /* the writer's range is at most 16 nats in 65535 steps, and its bottom lies at most
         * 16 + log(n_vocab) below zero (the top log-prob is -log of a sum of n_vocab terms
         * <= 1): anything else is forged and could make the base perplexity infinite */
        if (!isfinite(scale) || !isfinite(min) || scale < 0.0f || scale > 16.01f / 65535.f ||
            min > 0.0f || min < -(16.01f + logf((float)f->n_vocab)))
            return calgae_fail(err, err_len, "%s: row %zu has scale %g and minimum %g (not a "
                               "compressed log-probability row)", name, i, (double)scale,
                               (double)min);
    }
    return 0;
}

void calgae_kldfile_header(uint8_t out[CALGAE_KLDFILE_HEADER], int32_t n_ctx, int32_t n_vocab,
                           int32_t n_chunk)
{
    memcpy(out, "_logits_", 8);
    put_i32(out + 8, n_ctx);
    put_i32(out + 12, n_vocab);
    put_i32(out + 16, n_chunk);
}

/* llama.cpp's nearest_int: round half to even through the float mantissa (|x| < 2^22) */
static int nearest_int(float x)
{
    const float v = x + 12582912.f;
    int32_t i;
    memcpy(&i, &v, sizeof i);
    return (i & 0x007fffff) - 0x00400000;
}

/* The float and double steps are llama.cpp's, in its order, so equal logits give equal bytes. */
double calgae_kldfile_encode(const float *logits, int n_vocab, int32_t target, uint8_t *out)
{
    float mx = logits[0], mn = logits[0];
    for (int i = 1; i < n_vocab; i++) {
        mx = logits[i] > mx ? logits[i] : mx;
        mn = logits[i] < mn ? logits[i] : mn;
    }
    mn = mn > mx - 16 ? mn : mx - 16;
    double sum_exp = 0.0;
    for (int i = 0; i < n_vocab; i++)
        sum_exp += expf(logits[i] - mx);
    const float log_sum_exp = (float)log(sum_exp);
    const float min_log_prob = mn - mx - log_sum_exp;
    const float scale = (mx - mn) / 65535.f;
    const size_t nv = calgae_kldfile_row_bytes(n_vocab) / 2;
    memset(out, 0, 2 * nv);
    put_f32(out, scale);
    put_f32(out + 4, min_log_prob);
    if (scale != 0.0f) {
        const float inv_scale = 1 / scale;
        for (int i = 0; i < n_vocab; i++) {
            const int q = logits[i] > mn ? nearest_int(inv_scale * (logits[i] - mn)) : 0;
            out[8 + 2 * i] = (uint8_t)q;
            out[9 + 2 * i] = (uint8_t)(q >> 8);
        }
    }
    return (double)mx + (double)log_sum_exp - (double)logits[target];
}

void calgae_kld_add(calgae_kld_acc *a, const float *logits, int n_vocab, const uint8_t *row,
                    int32_t target)
{
    float mx = logits[0];
    int imax = 0;
    for (int i = 1; i < n_vocab; i++)
        if (logits[i] > mx) {
            mx = logits[i];
            imax = i;
        }
    double sum_exp = 0.0;
    for (int i = 0; i < n_vocab; i++)
        sum_exp += expf(logits[i] - mx);
    const float log_sum_exp = (float)log(sum_exp);
    const float nll = mx + log_sum_exp - logits[target];
    const float nll_base = -calgae_kldfile_logprob(row, target);
    a->nll += nll;
    a->nll2 += (double)nll * nll;
    a->nll_base += nll_base;
    a->nll_base2 += (double)nll_base * nll_base;
    a->nll_nll_base += (double)nll * nll_base;
    mx += log_sum_exp;
    double sum = 0.0;
    int imax_base = -1;
    float best = 0.0f;
    for (int i = 0; i < n_vocab; i++) {
        const float lpb = calgae_kldfile_logprob(row, i);
        if (i == 0 || lpb > best) {
            best = lpb;
            imax_base = i;
        }
        if (lpb > -16.f)
            sum += expf(lpb) * (lpb - logits[i] + mx);
    }
    a->kld += sum;
    a->kld2 += sum * sum;
    a->count++;
    a->same_top += imax == imax_base;
    const float p_diff = expf(-nll) - expf(-nll_base);
    const double p_diff2 = (double)p_diff * p_diff;
    a->p_diff += p_diff;
    a->p_diff2 += p_diff2;
    a->p_diff4 += p_diff2 * p_diff2;
    a->max_p_diff = fabsf(p_diff) > a->max_p_diff ? fabsf(p_diff) : a->max_p_diff;
}

static void mean_unc(double sum, double sum2, int64_t n, double *mean, double *unc)
{
    *mean = *unc = 0.0;
    if (n < 1)
        return;
    *mean = sum / (double)n;
    const double d = sum2 / (double)n - *mean * *mean;
    *unc = d > 0 && n > 10 ? sqrt(d / (double)(n - 1)) : 0.0;
}

void calgae_kld_stats_of(const calgae_kld_acc *a, calgae_kld_stats *s)
{
    double lp, lpu, lb, lbu, pd, pdu;
    memset(s, 0, sizeof *s);
    mean_unc(a->nll, a->nll2, a->count, &lp, &lpu);
    mean_unc(a->nll_base, a->nll_base2, a->count, &lb, &lbu);
    s->ppl = exp(lp);
    s->ppl_se = s->ppl * lpu;
    s->base_ppl = exp(lb);
    s->base_ppl_se = s->base_ppl * lbu;
    double cov = 0.0;
    if (a->count >= 10)
        cov = (a->nll_nll_base / (double)a->count - lp * lb) / (double)(a->count - 1);
    s->ln_ratio = lp - lb;
    const double v = lpu * lpu + lbu * lbu - 2.0 * cov;
    s->ln_ratio_se = v > 0 ? sqrt(v) : 0.0;
    mean_unc(a->kld, a->kld2, a->count, &s->kld, &s->kld_se);
    mean_unc(a->p_diff2, a->p_diff4, a->count, &pd, &pdu);
    s->rms_dp = sqrt(pd);
    s->rms_dp_se = pd > 0 ? 0.5 / s->rms_dp * pdu : 0.0;
    if (a->count > 0)
        s->top1 = (double)a->same_top / (double)a->count;
    s->top1_se = a->count > 1 ? sqrt(s->top1 * (1 - s->top1) / (double)(a->count - 1)) : 0.0;
}
