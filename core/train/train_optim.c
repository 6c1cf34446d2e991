/* train_optim.c - the distillation loss (Hinton et al., 2015) and AdamW with a cosine schedule
 * and global-norm clipping (Loshchilov & Hutter, 2019); see train.h. */
#include "train.h"

#include <math.h>
#include <stdlib.h>

/* p = softmax(z / temp); returns log of the partition sum (of z/temp, less the max) plus max */
static double softmax(const float *z, int V, float temp, double *p)
{
    double mx = -INFINITY;
    for (int i = 0; i < V; i++)
        mx = z[i] / temp > mx ? z[i] / temp : mx;
    double sum = 0.0;
    for (int i = 0; i < V; i++) {
        p[i] = exp(z[i] / temp - mx);
        sum += p[i];
    }
    for (int i = 0; i < V; i++)
        p[i] /= sum;
    return log(sum) + mx;
}

double calgae_train_loss(const float *logits, const float *teacher, const int32_t *targets, int n,
                         int vocab, float alpha, float temp, double norm, float *dlogits,
                         double *kl_out, double *ce_out)
{
    double *buf = malloc((size_t)vocab * 4 * sizeof(double));
    if (!buf)
        return NAN;
    double *q = buf, *qt = buf + vocab, *pt = buf + 2 * vocab, *p1 = buf + 3 * vocab;
    const float a = teacher ? alpha : 0.0f;
    double loss = 0.0, kl = 0.0, ce = 0.0;
    for (int t = 0; t < n; t++) {
        const float *z = logits + (size_t)t * vocab;
        float *dz = dlogits + (size_t)t * vocab;
        const double lse = softmax(z, vocab, 1.0f, q);
        const double ce_t = lse - z[targets[t]];
        ce += ce_t;
        double kl_t = 0.0;
        if (teacher) {
            const float *zt = teacher + (size_t)t * vocab;
            const double lse_s = softmax(z, vocab, temp, qt);
            const double lse_t = softmax(zt, vocab, temp, pt);
            const double lse_1 = softmax(zt, vocab, 1.0f, p1);
            for (int i = 0; i < vocab; i++) {
                if (pt[i] > 0.0) /* KL at temperature temp, the trained term */
                    kl_t += pt[i] * ((zt[i] / temp - lse_t) - (z[i] / temp - lse_s));
                if (p1[i] > 0.0) /* KL at temperature 1, reported */
                    kl += p1[i] * ((zt[i] - lse_1) - (z[i] - lse));
            }
        }
        loss += (1.0 - a) * ce_t + (double)a * temp * temp * kl_t;
        for (int i = 0; i < vocab; i++) {
            /* d/dz of T^2 KL(pt || softmax(z/T)) is T (qt - pt); of CE, q - onehot */
            double g = (1.0 - a) * (q[i] - (i == targets[t]));
            if (teacher)
                g += (double)a * temp * (qt[i] - pt[i]);
            dz[i] = (float)(g / norm);
        }
    }
    free(buf);
    if (kl_out)
        *kl_out = kl;
    if (ce_out)
        *ce_out = ce;
    return loss / norm;
}

float calgae_adamw_lr(const calgae_adamw *o, int step)
{
    if (step < o->warmup)
        return o->lr * (float)(step + 1) / (float)o->warmup;
    const int span = o->total_steps - o->warmup;
    const float frac = span > 0 ? (float)(step - o->warmup) / (float)span : 1.0f;
    const float cosine = 0.5f * (1.0f + cosf(3.14159265f * (frac > 1.0f ? 1.0f : frac)));
    return o->lr * (0.1f + 0.9f * cosine);
}

double calgae_adamw_update(const calgae_adamw *o, int step, float *p, const float *g, float *m,
                           float *v, const uint8_t *decay, size_t n)
{
    double sq = 0.0;
    for (size_t i = 0; i < n; i++)
        sq += (double)g[i] * g[i];
    const double gnorm = sqrt(sq);
    const float clip = o->clip > 0.0f && gnorm > o->clip ? (float)(o->clip / gnorm) : 1.0f;
    const float lr = calgae_adamw_lr(o, step);
    const float b1c = 1.0f - powf(o->beta1, (float)(step + 1));
    const float b2c = 1.0f - powf(o->beta2, (float)(step + 1));
    for (size_t i = 0; i < n; i++) {
        const float gi = g[i] * clip;
        m[i] = o->beta1 * m[i] + (1.0f - o->beta1) * gi;
        v[i] = o->beta2 * v[i] + (1.0f - o->beta2) * gi * gi;
        const float mh = m[i] / b1c, vh = v[i] / b2c;
        const float wd = decay && decay[i] ? o->weight_decay : 0.0f;
        p[i] -= lr * (mh / (sqrtf(vh) + o->eps) + wd * p[i]);
    }
    return gnorm;
}

double calgae_adamw_step(calgae_train_model *tm, const calgae_adamw *o, int step)
{
    if (!tm->adam_m) {
        tm->adam_m = calloc(tm->n_params, sizeof(float));
        tm->adam_v = calloc(tm->n_params, sizeof(float));
        if (!tm->adam_m || !tm->adam_v)
            return -1.0;
    }
    return calgae_adamw_update(o, step, tm->params, tm->grads, tm->adam_m, tm->adam_v, tm->decay,
                               tm->n_params);
}
