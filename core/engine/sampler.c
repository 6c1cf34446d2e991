/*
 * sampler.c - see sampler.h. Order of operations: divide by temperature, softmax, keep the
 * top_k most likely, keep the smallest prefix of those whose mass reaches top_p, draw.
 * Ties are broken by token id so the result never depends on sort stability.
 */
#include "sampler.h"

#include <math.h>
#include <stdlib.h>

#include "util.h"

int calgae_sampler_state_init(calgae_sampler_state *s, int vocab_size, float temperature, int top_k,
                        float top_p, uint64_t seed, char *err, size_t err_len)
{
    s->cand = NULL;
    if (!(temperature >= 0.0f) || temperature > 100.0f)
        return calgae_fail(err, err_len, "temperature %g out of range 0..100", (double)temperature);
    if (top_k < 0)
        return calgae_fail(err, err_len, "top-k %d must be >= 0", top_k);
    if (!(top_p > 0.0f && top_p <= 1.0f))
        return calgae_fail(err, err_len, "top-p %g out of range (0, 1]", (double)top_p);
    s->vocab_size = vocab_size;
    s->temperature = temperature;
    s->top_k = top_k;
    s->top_p = top_p;
    /* xorshift must not start at zero; mixing the seed also spreads nearby seeds apart */
    s->rng = (seed ^ 0x9E3779B97F4A7C15ull) * 0xBF58476D1CE4E5B9ull;
    if (s->rng == 0)
        s->rng = 0x2545F4914F6CDD1Dull;
    s->cand = malloc((size_t)vocab_size * sizeof *s->cand);
    if (!s->cand)
        return calgae_fail(err, err_len, "out of memory");
    return 0;
}

void calgae_sampler_state_free(calgae_sampler_state *s)
{
    free(s->cand);
    s->cand = NULL;
}

static uint32_t random_u32(uint64_t *state)
{
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    return (uint32_t)((*state * 0x2545F4914F6CDD1Dull) >> 32);
}

static float random_f32(uint64_t *state)
{
    return (float)(random_u32(state) >> 8) / 16777216.0f; /* [0, 1) */
}

static int32_t argmax(const float *x, int n)
{
    int32_t best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best])
            best = i;
    return best;
}

static int by_prob_desc(const void *a, const void *b)
{
    const calgae_prob *x = a, *y = b;
    if (x->p != y->p)
        return x->p > y->p ? -1 : 1;
    return x->id < y->id ? -1 : (x->id > y->id);
}

int32_t calgae_sample(calgae_sampler_state *s, float *logits)
{
    const int n = s->vocab_size;
    if (s->temperature == 0.0f)
        return argmax(logits, n);
    float max = logits[0];
    for (int i = 1; i < n; i++)
        max = logits[i] > max ? logits[i] : max;
    double sum = 0.0;
    for (int i = 0; i < n; i++) {
        s->cand[i].p = expf((logits[i] - max) / s->temperature);
        s->cand[i].id = i;
        sum += s->cand[i].p;
    }
    /* sorting is only needed when something is cut; skip it for plain temperature sampling */
    int kept = n;
    if ((s->top_k > 0 && s->top_k < n) || s->top_p < 1.0f) {
        qsort(s->cand, (size_t)n, sizeof *s->cand, by_prob_desc);
        if (s->top_k > 0 && s->top_k < n)
            kept = s->top_k;
        double mass = 0.0, kept_mass = 0.0;
        for (int i = 0; i < kept; i++)
            kept_mass += s->cand[i].p;
        if (s->top_p < 1.0f) {
            for (int i = 0; i < kept; i++) {
                mass += s->cand[i].p;
                if (mass >= s->top_p * kept_mass) {
                    kept = i + 1;
                    break;
                }
            }
        }
        sum = 0.0;
        for (int i = 0; i < kept; i++)
            sum += s->cand[i].p;
    }
    const double coin = (double)random_f32(&s->rng) * sum;
    double cdf = 0.0;
    for (int i = 0; i < kept; i++) {
        cdf += s->cand[i].p;
        if (coin < cdf)
            return s->cand[i].id;
    }
    return s->cand[kept - 1].id; /* rounding left the coin past the last bucket */
}
