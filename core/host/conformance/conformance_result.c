/*
 * conformance_result.c - the result accumulator of the conformance suite (conformance_internal.h):
 * recording a failure, comparing a kernel's value with the reference's within a tolerance, and
 * checking that what a kernel must not write is untouched. Shared by the driver and the product
 * tests, so that neither depends on the other.
 */
#include <math.h>
#include <stdarg.h>

#include "conformance_internal.h"

void conf_fail(acc_t *a, const char *fmt, ...)
{
    if (a->r->status == CALGAE_CONF_FAIL)
        return; /* keep the first failure: later ones are usually its echoes */
    a->r->status = CALGAE_CONF_FAIL;
    char *d = a->r->detail;
    int k = snprintf(d, sizeof a->r->detail, "%s%s", a->ctx, a->ctx[0] ? ": " : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d + k, sizeof a->r->detail - (size_t)k, fmt, ap); /* ctx is shorter than detail */
    va_end(ap);
}

/* got against want (the reference) with allowed error rel * scale + abs. A non-finite value on
 * either side must match the other's class: NaN for NaN, the same infinity for an infinity. The
 * sentinel is a NaN too, so "not written" is decided first: a kernel that skips a row whose
 * answer is NaN must not pass as having computed that NaN. */
int conf_check(acc_t *a, const char *what, int64_t i, float got, float want, double scale,
               double rel, double abs)
{
    if (f_bits(got) == SENTINEL) {
        conf_fail(a, "%s[%lld] not written, reference %g", what, (long long)i, want);
        return 0;
    }
    if (!isfinite(got) || !isfinite(want)) {
        if (isnan(want) ? isnan(got) : got == want)
            return 1;
        conf_fail(a, "%s[%lld] = %g, reference %g", what, (long long)i, got, want);
        return 0;
    }
    double err = fabs((double)got - (double)want), allowed = rel * scale + abs;
    double ratio = allowed > 0 ? err / allowed : (err > 0 ? HUGE_VAL : 0);
    /* on a tie (all exact, say) prefer a point with a scale, whose tolerance means something */
    if (ratio > a->ratio || (ratio == a->ratio && scale > 0 && !a->scaled)) {
        double unit = scale > 0 ? scale : 1.0;
        a->ratio = ratio;
        a->scaled = scale > 0;
        a->r->worst = err / unit;
        a->r->tol = allowed / unit;
    }
    if (err <= allowed)
        return 1;
    conf_fail(a, "%s[%lld] = %.9g, reference %.9g (error %.3g > %.3g)", what, (long long)i, got,
              want, err, allowed);
    return 0;
}

/* Elements [from, to) of x must still hold the sentinel (or, with keep, keep's bits). */
void conf_check_untouched(acc_t *a, const char *what, const float *x, const float *keep,
                          int64_t from, int64_t to)
{
    for (int64_t i = from; i < to; i++)
        if (f_bits(x[i]) != (keep ? f_bits(keep[i]) : SENTINEL)) {
            conf_fail(a, "%s[%lld] written, outside what the kernel may write", what, (long long)i);
            return;
        }
}

/* ---- quantize_q8_0 --------------------------------------------------------------------- */
