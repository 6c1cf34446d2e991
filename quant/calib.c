/* calib.c - see calib.h. */
#include "calib.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int calgae_calib_init(calgae_calib *c, int n_slots)
{
    c->n_slots = 0;
    c->slots = calloc((size_t)(n_slots > 0 ? n_slots : 1), sizeof *c->slots);
    if (!c->slots)
        return -1;
    c->n_slots = n_slots;
    return 0;
}

size_t calgae_calib_bytes(int width, int want_gram)
{
    size_t w = (size_t)width;
    return w * sizeof(double) + (want_gram ? w * w * sizeof(double) : 0);
}

int calgae_calib_setup(calgae_calib *c, int slot, int width, int want_gram)
{
    calgae_calib_slot *s = &c->slots[slot];
    free(s->sum_abs);
    free(s->gram);
    memset(s, 0, sizeof *s);
    s->sum_abs = calloc((size_t)width, sizeof(double));
    if (want_gram)
        s->gram = calloc((size_t)width * (size_t)width, sizeof(double));
    if (!s->sum_abs || (want_gram && !s->gram)) {
        free(s->sum_abs);
        free(s->gram);
        memset(s, 0, sizeof *s);
        return -1;
    }
    s->width = width;
    return 0;
}

void calgae_calib_free(calgae_calib *c)
{
    for (int i = 0; i < c->n_slots; i++) {
        free(c->slots[i].sum_abs);
        free(c->slots[i].gram);
    }
    free(c->slots);
    memset(c, 0, sizeof *c);
}

void calgae_calib_add_abs(calgae_calib_slot *s, const float *x, int n_tok)
{
    const size_t w = (size_t)s->width;
    for (int t = 0; t < n_tok; t++)
        for (size_t j = 0; j < w; j++)
            s->sum_abs[j] += fabs((double)x[(size_t)t * w + j]);
    s->n += n_tok;
}

void calgae_calib_add_gram(calgae_calib_slot *s, const float *x, int n_tok, int row_lo,
                           int row_hi)
{
    if (!s->gram)
        return;
    const size_t w = (size_t)s->width;
    for (int i = row_lo; i < row_hi; i++) {
        double *g = s->gram + (size_t)i * w;
        /* products in float are exact enough for a statistic and let the compiler use SIMD;
         * the sum over tokens is what needs double */
        for (int t = 0; t < n_tok; t++) {
            const float *xt = x + (size_t)t * w;
            const float xi = xt[i];
            for (size_t j = (size_t)i; j < w; j++)
                g[j] += (double)(xi * xt[j]);
        }
    }
}

void calgae_calib_finish(calgae_calib_slot *s)
{
    if (!s->gram)
        return;
    const size_t w = (size_t)s->width;
    for (size_t i = 0; i < w; i++)
        for (size_t j = 0; j < i; j++)
            s->gram[i * w + j] = s->gram[j * w + i];
}

void calgae_calib_mean_abs(const calgae_calib_slot *s, double *mean)
{
    for (int j = 0; j < s->width; j++)
        mean[j] = s->n > 0 ? s->sum_abs[j] / (double)s->n : 0.0;
}

void calgae_calib_scale(calgae_calib_slot *s, const float *scale)
{
    const size_t w = (size_t)s->width;
    for (size_t j = 0; j < w; j++)
        s->sum_abs[j] /= scale[j];
    if (!s->gram)
        return;
    for (size_t i = 0; i < w; i++)
        for (size_t j = 0; j < w; j++)
            s->gram[i * w + j] /= (double)scale[i] * (double)scale[j];
}
