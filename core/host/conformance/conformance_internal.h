/*
 * conformance_internal.h - what the two halves of the conformance suite share (conformance.c:
 * the driver, quantize_q8_0 and the vector ops; conformance_products.c: the products;
 * conformance_exact.c: the block products' exact check): the
 * seeded input stream, float bit helpers, and the result accumulator with its checks.
 * Not an interface: nothing outside core/host/conformance/ includes it.
 */
#ifndef CALGAE_CONFORMANCE_INTERNAL_H
#define CALGAE_CONFORMANCE_INTERNAL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conformance.h"

#define U 0x1p-24 /* binary32 unit roundoff */
#define SENTINEL 0x7fa5a5a5u /* a signalling NaN no kernel computes: "never written" */

/* A slot beyond the table's struct_size reads as NULL, as it does for the host. */
#define SLOT(t, f) \
    (offsetof(calgae_plugin, f) + sizeof((t)->f) <= (t)->struct_size ? (t)->f : NULL)

/* ---- inputs ---------------------------------------------------------------------------- */

typedef struct {
    uint64_t s;
} rng_t;

static inline uint64_t rnd_u64(rng_t *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static inline int64_t rnd_int(rng_t *r, int64_t n) { return (int64_t)(rnd_u64(r) % (uint64_t)n); }

static inline float rnd_f(rng_t *r, double lo, double hi)
{
    return (float)(lo + (hi - lo) * (double)(rnd_u64(r) >> 11) * 0x1p-53);
}

/* A magnitude in [lo, hi) with a random sign. */
static inline float rnd_pm(rng_t *r, double lo, double hi)
{
    float v = rnd_f(r, lo, hi);
    return rnd_u64(r) & 1 ? -v : v;
}

static inline float bits_f(uint32_t b)
{
    float f;
    memcpy(&f, &b, sizeof f);
    return f;
}

static inline uint32_t f_bits(float f)
{
    uint32_t b;
    memcpy(&b, &f, sizeof b);
    return b;
}

static inline float *alloc_f(int64_t n)
{
    float *p = malloc((size_t)(n > 0 ? n : 1) * sizeof *p);
    if (!p) {
        fputs("conformance: out of memory\n", stderr);
        abort();
    }
    return p;
}

static inline void fill_sentinel(float *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = bits_f(SENTINEL);
}

static inline double gam(double n) { return n * U / (1.0 - n * U); }

/* A weight of +-1 or +-2: its product with a denormal is exact. */
static inline float rnd_small_int(rng_t *r)
{
    float v = (float)(rnd_int(r, 2) + 1); /* one draw per statement: a fixed order on every compiler */
    return rnd_u64(r) & 1 ? -v : v;
}

/* ---- results --------------------------------------------------------------------------- */

typedef struct {
    calgae_conf_result *r;
    double ratio;  /* worst error / allowed error so far; -1 before the first check */
    int scaled;    /* the point recorded for it had a nonzero scale */
    char ctx[120]; /* the case running, for the first failure's detail */
} acc_t;

/* Marks the slot failed with a message after the case context (only the first failure). */
void conf_fail(acc_t *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* got against want (the reference) with allowed error rel * scale + abs; records the worst
 * point; returns 0 (and fails the slot) if outside. */
int conf_check(acc_t *a, const char *what, int64_t i, float got, float want, double scale,
               double rel, double abs);
/* Elements [from, to) of x must still hold the sentinel (or, with keep, keep's bits). */
void conf_check_untouched(acc_t *a, const char *what, const float *x, const float *keep,
                          int64_t from, int64_t to);

/* The products of one weight type (conformance_products.c). */
void conf_test_product(acc_t *a, const calgae_plugin *p, const calgae_plugin *ref, rng_t *g,
                       uint32_t type, int matmul);
/* The block products on inputs with an exact answer, checked bit for bit against it
 * (conformance_exact.c). */
void conf_test_product_exact(acc_t *a, const calgae_plugin *p, rng_t *g, uint32_t type, int matmul);

/* The ABI 1.4 block types (conformance_k2.c): whether type is one; a random block of it (bytes
 * long) with fp16 scale d and second scale m (dmin or Q5_1's m; unused where the type has
 * none); and a block's sum against activation codes qx with scale dx (*exact) and the bound of
 * its terms' magnitudes (*scale), as block_terms in conformance_products.c. */
int conf_is_k2(uint32_t type);
void conf_k2_fill_block(unsigned char *blk, uint32_t type, size_t bytes, rng_t *g, calgae_fp16 d,
                        calgae_fp16 m);
void conf_k2_block_terms(uint32_t type, const unsigned char *blk, const int8_t *qx, double dx,
                         double *exact, double *scale);

#endif
