/*
 * conformance_exact.c - the block products on inputs whose exact answer every correct kernel
 * must produce bit for bit, whatever its summation order, lane layout or row grouping.
 *
 * Why this exists: the general product check (conformance_products.c) allows an error relative
 * to the sum of |terms|, which at 2048 columns is about 1% of a random-sign result - loose
 * enough to pass an integer block sum that is off by one. Here every block scale (d and, for
 * Q4_1, m; weights and activations) is a power of two, so every term q_w * q_x * d_w * d_x and
 * every partial sum of terms is an integer multiple of the smallest scale product u0; the
 * inputs are drawn so that the sum of |terms| stays below 2^24 * u0 (checked, not assumed).
 * Every partial sum, in any order and any grouping (integer lanes converted to float, float
 * lanes, dequantized floats, FMA or not), is then exactly representable in binary32, so the
 * only correct answer is the exact one: the check is got == exact, with no tolerance. An integer
 * sum off by one moves the result by d_w * d_x, which is never zero.
 *
 * The shapes fill the widest groups a plugin is likely to use: rows a multiple of 16 and
 * multiples of 16 plus odd remainders (row interleaving by 8 or 16), columns from 1 to 67
 * blocks including 64 (2048 columns) and counts that are not multiples of 2 or 4 blocks
 * (128-column superblocks), matmul batches of 1, 4, 5 and 9 tokens (token tiles of 4 plus
 * remainders); partial row ranges that cut groups; the plugin's prepared layout too.
 */
#include <math.h>

#include "conformance_internal.h"
#include "types.h"

typedef struct {
    calgae_weight w;
    unsigned char *wbuf;
    unsigned char *x; /* n_tok activation rows of nb Q8_0 blocks, packed */
    size_t x_stride;
    int64_t n_tok, nb;
    double *exact; /* per (t, r) */
    double *budget; /* per (t, r): the sum of |terms| in units of u0 */
} exact_t;

/* +-2^e as fp16, e in [lo, hi] (fp16's exponent bias is 15). */
static calgae_fp16 pow2_fp16(rng_t *g, int lo, int hi, int sign)
{
    int e = lo + (int)rnd_int(g, hi - lo + 1);
    uint16_t s = sign && (rnd_u64(g) & 1) ? 0x8000u : 0;
    return (calgae_fp16)(s | (uint16_t)((e + 15) << 10));
}

/* Exponent ranges: the weight's d (and m) in [0, 1] with a sign; the activation's d in [-1, 0]
 * (Q8_0 weights: 0 only, their integers being larger). u0 = 2^-1 (2^0 for Q8_0). */
static void make_exact(exact_t *c, rng_t *g, uint32_t type, int64_t rows, int64_t nb,
                       int64_t n_tok)
{
    const int64_t cols = nb * CALGAE_QK;
    const size_t bb = calgae_type_traits(type)->type_size;
    c->n_tok = n_tok;
    c->nb = nb;
    c->w = (calgae_weight){.type = type, .rows = rows, .cols = cols, .row_bytes = (size_t)nb * bb};
    c->wbuf = malloc((size_t)rows * c->w.row_bytes);
    c->x_stride = (size_t)nb * sizeof(calgae_block_q8_0);
    c->x = malloc(c->x_stride * (size_t)n_tok);
    c->exact = malloc(sizeof(double) * (size_t)(rows * n_tok));
    c->budget = malloc(sizeof(double) * (size_t)(rows * n_tok));
    if (!c->wbuf || !c->x || !c->exact || !c->budget)
        abort();
    for (int64_t i = 0; i < rows * nb; i++) {
        unsigned char *blk = c->wbuf + (size_t)i * bb;
        calgae_fp16 d = pow2_fp16(g, 0, 1, 1);
        memcpy(blk, &d, sizeof d);
        if (type == CALGAE_TYPE_Q8_0) {
            for (int j = 0; j < CALGAE_QK; j++)
                blk[2 + j] = (unsigned char)rnd_int(g, 256); /* -128..127, -128 included */
        } else {
            const size_t off = type == CALGAE_TYPE_Q4_1 ? 4 : 2;
            if (type == CALGAE_TYPE_Q4_1) {
                calgae_fp16 m = pow2_fp16(g, 0, 1, 1);
                memcpy(blk + 2, &m, sizeof m);
            }
            for (int j = 0; j < CALGAE_QK / 2; j++)
                blk[off + j] = (unsigned char)rnd_int(g, 256);
        }
    }
    c->w.data = c->wbuf;
    /* activations: Q8_0 weights get small integers with two extremes per block, the 4-bit
     * types the full range (Q4_1 a little less: its m term adds sum |q_x|) */
    const int lim = type == CALGAE_TYPE_Q4_0 ? 127 : type == CALGAE_TYPE_Q4_1 ? 100 : 15;
    for (int64_t t = 0; t < n_tok; t++)
        for (int64_t b = 0; b < nb; b++) {
            calgae_block_q8_0 xb = {.d = pow2_fp16(g, type == CALGAE_TYPE_Q8_0 ? 0 : -1, 0, 0)};
            for (int j = 0; j < CALGAE_QK; j++)
                xb.qs[j] = (int8_t)(rnd_int(g, 2 * lim + 1) - lim);
            if (type == CALGAE_TYPE_Q8_0)
                for (int k = 0; k < 2; k++)
                    xb.qs[rnd_int(g, CALGAE_QK)] = rnd_u64(g) & 1 ? 127 : -127;
            memcpy(c->x + (size_t)t * c->x_stride + (size_t)b * sizeof xb, &xb, sizeof xb);
        }
    const double u0 = type == CALGAE_TYPE_Q8_0 ? 1.0 : 0.5;
    for (int64_t t = 0; t < n_tok; t++)
        for (int64_t r = 0; r < rows; r++) {
            double e = 0, s = 0;
            for (int64_t b = 0; b < nb; b++) {
                const unsigned char *blk = c->wbuf + (size_t)r * c->w.row_bytes + (size_t)b * bb;
                calgae_block_q8_0 xb;
                memcpy(&xb, c->x + (size_t)t * c->x_stride + (size_t)b * sizeof xb, sizeof xb);
                calgae_fp16 d, m = 0;
                memcpy(&d, blk, sizeof d);
                int q[CALGAE_QK];
                if (type == CALGAE_TYPE_Q8_0) {
                    for (int j = 0; j < CALGAE_QK; j++)
                        q[j] = (int8_t)blk[2 + j];
                } else {
                    const int q41 = type == CALGAE_TYPE_Q4_1;
                    if (q41)
                        memcpy(&m, blk + 2, sizeof m);
                    for (int j = 0; j < CALGAE_QK / 2; j++) {
                        const unsigned char v = blk[(q41 ? 4 : 2) + j];
                        q[j] = (v & 15) - (q41 ? 0 : 8);
                        q[j + CALGAE_QK / 2] = (v >> 4) - (q41 ? 0 : 8);
                    }
                }
                int64_t isum = 0, iabs = 0, xsum = 0, xabs = 0;
                for (int j = 0; j < CALGAE_QK; j++) {
                    isum += q[j] * xb.qs[j];
                    iabs += llabs((long long)q[j] * xb.qs[j]);
                    xsum += xb.qs[j];
                    xabs += llabs((long long)xb.qs[j]);
                }
                const double dx = calgae_fp16_to_fp32(xb.d), dd = calgae_fp16_to_fp32(d) * dx,
                             md = calgae_fp16_to_fp32(m) * dx;
                e += dd * (double)isum + md * (double)xsum;
                s += (fabs(dd) * (double)iabs + fabs(md) * (double)xabs) / u0;
            }
            c->exact[t * rows + r] = e;
            c->budget[t * rows + r] = s;
        }
}

static void free_exact(exact_t *c)
{
    free(c->wbuf);
    free(c->x);
    free(c->exact);
    free(c->budget);
}

static int call(const calgae_plugin *t, const exact_t *c, const calgae_weight *w, int matmul,
                float *y, int64_t r0, int64_t r1)
{
    calgae_matvec_fn mv;
    calgae_matmul_fn mm;
    switch (w->type) {
    case CALGAE_TYPE_Q8_0: mv = SLOT(t, matvec_q8_0); mm = SLOT(t, matmul_q8_0); break;
    case CALGAE_TYPE_Q4_0: mv = SLOT(t, matvec_q4_0); mm = SLOT(t, matmul_q4_0); break;
    default: mv = SLOT(t, matvec_q4_1); mm = SLOT(t, matmul_q4_1); break;
    }
    if (matmul)
        return mm(w, c->x, c->x_stride, c->n_tok, y, w->rows, r0, r1);
    return mv(w, c->x, y, r0, r1);
}

static void run_exact(acc_t *a, const calgae_plugin *p, exact_t *c, int matmul)
{
    const int64_t rows = c->w.rows, len = c->n_tok * rows + 4;
    for (int64_t i = 0; i < c->n_tok * rows; i++)
        if (c->budget[i] >= 0x1p24 || (double)(float)c->exact[i] != c->exact[i]) {
            conf_fail(a, "suite error: exact case over its 2^24 budget (%.0f units)", c->budget[i]);
            return;
        }
    float *y = alloc_f(len);
    int (*prepare)(calgae_weight *, char *, size_t) = SLOT(p, prepare_weight);
    void (*release)(calgae_weight *) = SLOT(p, release_weight);
    for (int variant = 0; variant < (prepare ? 2 : 1); variant++) {
        calgae_weight w = c->w;
        if (variant == 1) {
            char why[200] = "";
            if (prepare(&w, why, sizeof why) != 0)
                continue; /* the host keeps the stored layout: already tested */
            w.owner = p;
        }
        /* whole; cutting groups of 8 and 16 at both ends; one row at the end */
        const int64_t ranges[3][2] = {{0, rows}, {rows > 8 ? 5 : 0, rows - rows / 5}, {rows - 1, rows}};
        for (int k = 0; k < 3; k++) {
            const int64_t r0 = ranges[k][0], r1 = ranges[k][1];
            snprintf(a->ctx, sizeof a->ctx, "exact rows %lld cols %lld n_tok %lld range [%lld,%lld)%s",
                     (long long)rows, (long long)c->w.cols, (long long)c->n_tok, (long long)r0,
                     (long long)r1, variant ? " prepared" : "");
            fill_sentinel(y, len);
            a->r->cases++;
            if (call(p, c, &w, matmul, y, r0, r1) != CALGAE_KERNEL_OK) {
                a->r->declined++;
                continue;
            }
            int ok = 1;
            for (int64_t t = 0; t < c->n_tok && ok; t++)
                for (int64_t r = r0; r < r1 && ok; r++) {
                    const int64_t i = t * rows + r;
                    ok = conf_check(a, "y", i, y[i], (float)c->exact[i], c->budget[i], 0, 0);
                }
            if (ok) {
                for (int64_t t = 0; t < c->n_tok; t++) {
                    conf_check_untouched(a, "y", y, NULL, t * rows, t * rows + r0);
                    conf_check_untouched(a, "y", y, NULL, t * rows + r1, (t + 1) * rows);
                }
                conf_check_untouched(a, "y", y, NULL, c->n_tok * rows, len);
            }
        }
        if (variant == 1 && release)
            release(&w);
    }
    free(y);
}

void conf_test_product_exact(acc_t *a, const calgae_plugin *p, rng_t *g, uint32_t type, int matmul)
{
    static const int64_t rows_list[] = {16, 53, 131};
    static const int64_t blocks_list[] = {1, 3, 4, 5, 63, 64, 65, 67};
    static const int64_t toks[] = {1, 4, 5, 9};
    for (int ri = 0; ri < 3; ri++)
        for (int bi = 0; bi < 8; bi++)
            for (int ti = 0; ti < (matmul ? 4 : 1); ti++) {
                exact_t c;
                make_exact(&c, g, type, rows_list[ri], blocks_list[bi], toks[ti]);
                run_exact(a, p, &c, matmul);
                free_exact(&c);
            }
    a->ctx[0] = '\0';
}
