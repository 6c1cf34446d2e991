/*
 * sampler.c - see sampler.h. Order of operations: the repeat penalty on the logits, divide by
 * temperature, softmax, keep the top_k most likely, keep the smallest prefix of those whose mass
 * reaches top_p, keep those of them that min-p allows, draw.
 * Ties are broken by token id so the result never depends on sort stability.
 */
#include "sampler.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

int calgae_sampler_state_init(calgae_sampler_state *s, int vocab_size, float temperature, int top_k,
                        float top_p, uint64_t seed, char *err, size_t err_len)
{
    memset(s, 0, sizeof *s);
    s->repeat_penalty = 1.0f;
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
    free(s->history);
    free(s->seen);
    s->cand = NULL;
    s->history = NULL;
    s->seen = NULL;
}

int calgae_sampler_state_set_filters(calgae_sampler_state *s, float min_p, float repeat_penalty,
                               int repeat_last_n, char *err, size_t err_len)
{
    if (!(min_p >= 0.0f && min_p < 1.0f))
        return calgae_fail(err, err_len, "min-p %g out of range [0, 1)", (double)min_p);
    if (!(repeat_penalty > 0.0f && repeat_penalty <= 100.0f))
        return calgae_fail(err, err_len, "repeat penalty %g out of range (0, 100]",
                           (double)repeat_penalty);
    if (repeat_last_n < 0)
        return calgae_fail(err, err_len, "repeat-last-n %d must be >= 0", repeat_last_n);
    s->min_p = min_p;
    s->repeat_penalty = repeat_penalty;
    s->repeat_last_n = repeat_penalty != 1.0f ? repeat_last_n : 0;
    s->n_history = s->history_pos = 0;
    free(s->history);
    free(s->seen);
    s->history = NULL;
    s->seen = NULL;
    if (s->repeat_last_n == 0)
        return 0;
    s->history = malloc((size_t)s->repeat_last_n * sizeof *s->history);
    s->seen = calloc((size_t)s->vocab_size, 1);
    if (!s->history || !s->seen)
        return calgae_fail(err, err_len, "out of memory");
    return 0;
}

void calgae_sampler_state_accept(calgae_sampler_state *s, const int32_t *ids, size_t n)
{
    if (s->repeat_last_n == 0)
        return;
    for (size_t i = 0; i < n; i++) {
        s->history[s->history_pos] = ids[i];
        s->history_pos = (s->history_pos + 1) % s->repeat_last_n;
        if (s->n_history < s->repeat_last_n)
            s->n_history++;
    }
}

/* llama.cpp's repeat penalty: once per distinct token of the history. */
static void penalize(calgae_sampler_state *s, float *logits)
{
    for (int i = 0; i < s->n_history; i++) {
        int32_t t = s->history[i];
        if (t < 0 || t >= s->vocab_size || s->seen[t])
            continue;
        s->seen[t] = 1;
        logits[t] = logits[t] <= 0.0f ? logits[t] * s->repeat_penalty
                                      : logits[t] / s->repeat_penalty;
    }
    for (int i = 0; i < s->n_history; i++)
        if (s->history[i] >= 0 && s->history[i] < s->vocab_size)
            s->seen[s->history[i]] = 0;
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
    if (s->n_history > 0)
        penalize(s, logits);
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
    if ((s->top_k > 0 && s->top_k < n) || s->top_p < 1.0f || s->min_p > 0.0f) {
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
        if (s->min_p > 0.0f) { /* cand[0] is the most likely; it always stays */
            const float floor_logit = max + logf(s->min_p);
            int k = 1;
            while (k < kept && logits[s->cand[k].id] >= floor_logit)
                k++;
            kept = k;
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
