/* perplexity.c - see perplexity.h (llama.cpp's windowing and statistics). */
#include "perplexity.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Sums over scored positions; means and standard errors come out of them at the end. */
struct acc {
    int64_t n;
    double nll, nll2, base_nll, base_nll2, kld, kld2, kld_max;
    int64_t same;
};

/* log-softmax of a row, in double (a float sum over 32000 exponentials loses digits that a
 * KL divergence of 1e-3 needs); returns the argmax. */
static int log_softmax(const float *logits, int n, double *out)
{
    int arg = 0;
    for (int v = 1; v < n; v++)
        arg = logits[v] > logits[arg] ? v : arg;
    const double mx = logits[arg];
    double sum = 0.0;
    for (int v = 0; v < n; v++)
        sum += exp((double)logits[v] - mx);
    const double lse = mx + log(sum);
    for (int v = 0; v < n; v++)
        out[v] = (double)logits[v] - lse;
    return arg;
}

static void score(struct acc *a, const float *lm, const float *lb, int vocab, int32_t target,
                  double *lp, double *lpb)
{
    const int am = log_softmax(lm, vocab, lp);
    const double nll = -lp[target];
    a->n++;
    a->nll += nll;
    a->nll2 += nll * nll;
    if (!lb)
        return;
    const int ab = log_softmax(lb, vocab, lpb);
    double kl = 0.0;
    for (int v = 0; v < vocab; v++)
        kl += exp(lpb[v]) * (lpb[v] - lp[v]);
    kl = kl > 0.0 ? kl : 0.0; /* rounding can leave -1e-17 where the models agree */
    const double bn = -lpb[target];
    a->base_nll += bn;
    a->base_nll2 += bn * bn;
    a->kld += kl;
    a->kld2 += kl * kl;
    a->kld_max = kl > a->kld_max ? kl : a->kld_max;
    a->same += am == ab;
}

/* standard error of a mean from the sum and the sum of squares of n values */
static double std_err(double sum, double sum2, int64_t n)
{
    if (n < 2)
        return 0.0;
    const double mean = sum / (double)n, var = sum2 / (double)n - mean * mean;
    return var > 0.0 ? sqrt(var / (double)(n - 1)) : 0.0;
}

static int run_window(calgae_state *st, calgae_state *base, const int32_t *ids, int ctx,
                      const calgae_ppl_opts *o, struct acc *a, double *lp, double *lpb, char *err,
                      size_t err_len)
{
    const int vocab = st->model->cfg.vocab_size, first = ctx / 2;
    int batch_max = st->max_batch;
    if (base && base->max_batch < batch_max)
        batch_max = base->max_batch;
    int32_t *tok = malloc((size_t)batch_max * sizeof *tok);
    if (!tok)
        return calgae_fail(err, err_len, "out of memory");
    int rc = 0;
    for (int pos = 0; pos < ctx && rc == 0;) {
        if (o->stop && *o->stop) {
            rc = calgae_fail(err, err_len, "interrupted");
            break;
        }
        const int n = ctx - pos < batch_max ? ctx - pos : batch_max;
        memcpy(tok, ids + pos, (size_t)n * sizeof *tok);
        if (pos == 0 && o->bos >= 0)
            tok[0] = o->bos;
        /* positions before `first` only fill the KV cache: no classifier for them */
        const int all = pos + n > first;
        if (calgae_forward(st, tok, n, pos, all, err, err_len) != 0 ||
            (base && calgae_forward(base, tok, n, pos, all, err, err_len) != 0)) {
            rc = -1;
            break;
        }
        for (int t = 0; all && t < n; t++) {
            const int p = pos + t;
            if (p < first || p >= ctx - 1)
                continue;
            const float *lb = base ? base->logits + (size_t)t * (size_t)vocab : NULL;
            const float *lm = st->logits + (size_t)t * (size_t)vocab;
            score(a, lm, lb, vocab, ids[p + 1], lp, lpb);
            if (o->row && o->row(o->row_user, lm, vocab, ids[p + 1], err, err_len) != 0) {
                rc = -1;
                break;
            }
        }
        pos += n;
    }
    free(tok);
    return rc;
}

int calgae_perplexity(calgae_state *st, calgae_state *base, const int32_t *ids, size_t n,
                      const calgae_ppl_opts *o, calgae_ppl_result *r, char *err, size_t err_len)
{
    memset(r, 0, sizeof *r);
    const int ctx = o->ctx, vocab = st->model->cfg.vocab_size;
    if (ctx < 4 || ctx > st->ctx || (base && ctx > base->ctx))
        return calgae_fail(err, err_len, "window of %d tokens: must be 4 .. %d", ctx,
                           base && base->ctx < st->ctx ? base->ctx : st->ctx);
    if (base && base->model->cfg.vocab_size != vocab)
        return calgae_fail(err, err_len, "the base model has %d tokens, the model %d",
                           base->model->cfg.vocab_size, vocab);
    int windows = (int)(n / (size_t)ctx);
    if (windows < 1)
        return calgae_fail(err, err_len, "%zu tokens do not fill one window of %d (lower --ctx)",
                           n, ctx);
    if (o->max_windows > 0 && windows > o->max_windows)
        windows = o->max_windows;
    double *lp = malloc(2 * (size_t)vocab * sizeof *lp);
    if (!lp)
        return calgae_fail(err, err_len, "out of memory");
    struct acc a = {0};
    int rc = 0;
    for (int w = 0; w < windows && rc == 0; w++) {
        rc = run_window(st, base, ids + (size_t)w * (size_t)ctx, ctx, o, &a, lp, lp + vocab, err,
                        err_len);
        if (o->progress)
            o->progress(o->progress_user, "evaluate", w + 1, windows);
    }
    free(lp);
    if (rc != 0)
        return -1;
    r->windows = windows;
    r->scored = a.n;
    r->nll = a.nll / (double)a.n;
    r->ppl = exp(r->nll);
    r->ppl_se = r->ppl * std_err(a.nll, a.nll2, a.n);
    if (!base)
        return 0;
    r->have_base = 1;
    r->base_ppl = exp(a.base_nll / (double)a.n);
    r->base_ppl_se = r->base_ppl * std_err(a.base_nll, a.base_nll2, a.n);
    r->kld = a.kld / (double)a.n;
    r->kld_se = std_err(a.kld, a.kld2, a.n);
    r->kld_max = a.kld_max;
    r->top1 = (double)a.same / (double)a.n;
    r->top1_se = a.n > 1 ? sqrt(r->top1 * (1.0 - r->top1) / (double)(a.n - 1)) : 0.0;
    return 0;
}

uint64_t calgae_text_hash(const void *data, size_t n)
{
    const unsigned char *p = data;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}
