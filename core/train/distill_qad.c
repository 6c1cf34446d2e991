/* distill_qad.c - see distill_qad.h. Block layouts are ggml's: every supported block type
 * starts with its fp16 scale d, and Q4_1 follows it with its fp16 minimum m. */
#include "distill_qad.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "calgae_plugin.h"
#include "convert.h"
#include "types.h"
#include "util.h"

struct calgae_qad_tensor {
    const calgae_weight *src;  /* in the student's file */
    float *w;                  /* its float copy in the trained model */
    float *codes;              /* rows x cols: the values at scale 1 and minimum 0 */
    float *d0, *m0;            /* per block: the file's scale and (Q4_1) minimum */
    size_t r_off, u_off;       /* offsets in x of the scale factors and the minimum offsets */
    int64_t n_blocks;
    int has_min;
};

enum { QK = 32 };

static int trainable_type(uint32_t type)
{
    return type == CALGAE_TYPE_Q4_0 || type == CALGAE_TYPE_Q4_1 || type == CALGAE_TYPE_Q8_0;
}

/* The codes and base scales of one matrix. */
static int tensor_init(calgae_qad_tensor *t, const calgae_weight *src, float *w)
{
    const calgae_type_info *ti = calgae_type_traits(src->type);
    t->src = src;
    t->w = w;
    t->has_min = src->type == CALGAE_TYPE_Q4_1;
    t->n_blocks = src->rows * (src->cols / QK);
    t->codes = malloc((size_t)(src->rows * src->cols) * sizeof(float));
    t->d0 = malloc((size_t)t->n_blocks * sizeof(float));
    t->m0 = malloc((size_t)t->n_blocks * sizeof(float));
    if (!ti || ti->blck_size != QK || !t->codes || !t->d0 || !t->m0)
        return -1;
    uint8_t block[64];
    for (int64_t b = 0; b < t->n_blocks; b++) {
        const int64_t row = b / (src->cols / QK), col = b % (src->cols / QK);
        const uint8_t *p = (const uint8_t *)src->data + (size_t)row * src->row_bytes +
                           (size_t)col * ti->type_size;
        memcpy(block, p, ti->type_size);
        uint16_t h;
        memcpy(&h, block, 2);
        t->d0[b] = calgae_fp16_to_fp32(h);
        h = calgae_fp32_to_fp16(1.0f);
        memcpy(block, &h, 2);
        t->m0[b] = 0.0f;
        if (t->has_min) {
            memcpy(&h, block + 2, 2);
            t->m0[b] = calgae_fp16_to_fp32(h);
            h = 0;
            memcpy(block + 2, &h, 2);
        }
        if (calgae_dequantize_row(src->type, block, t->codes + (size_t)b * QK, QK) != 0)
            return -1;
    }
    return 0;
}

static void tensor_free(calgae_qad_tensor *t)
{
    free(t->codes);
    free(t->d0);
    free(t->m0);
}

int calgae_qad_init(calgae_qad *q, const calgae_transformer *student, calgae_train_model *tm,
                    char *err, size_t err_len)
{
    memset(q, 0, sizeof *q);
    const calgae_config *c = &student->cfg;
    const int L = c->n_layers;
    q->dim = c->dim;
    q->n_norms = 2 * L + 1;
    q->t = calloc((size_t)(7 * L + 2), sizeof *q->t);
    q->norm_dst = calloc((size_t)q->n_norms, sizeof *q->norm_dst);
    if (!q->t || !q->norm_dst)
        goto oom;
    for (int l = 0; l < L; l++) {
        q->norm_dst[2 * l] = tm->p.layer[l].attn_norm;
        q->norm_dst[2 * l + 1] = tm->p.layer[l].ffn_norm;
    }
    q->norm_dst[2 * L] = tm->p.out_norm;
    /* the matrices whose blocks have free floats */
    const calgae_weight **srcs = malloc((size_t)(7 * L + 2) * sizeof *srcs);
    float **dsts = malloc((size_t)(7 * L + 2) * sizeof *dsts);
    int n = 0;
    if (!srcs || !dsts) {
        free(srcs);
        free(dsts);
        goto oom;
    }
    srcs[n] = &student->tok_embd, dsts[n++] = tm->p.embd;
    if (!student->tied)
        srcs[n] = &student->output, dsts[n++] = tm->p.cls;
    for (int l = 0; l < L; l++) {
        const calgae_layer *sl = &student->layers[l];
        const calgae_train_layer *tl = &tm->p.layer[l];
        const calgae_weight *w[7] = {&sl->wq, &sl->wk, &sl->wv, &sl->wo, &sl->w_gate, &sl->w_down,
                                     &sl->w_up};
        float *d[7] = {tl->wq, tl->wk, tl->wv, tl->wo, tl->w_gate, tl->w_down, tl->w_up};
        for (int k = 0; k < 7; k++)
            srcs[n] = w[k], dsts[n++] = d[k];
    }
    size_t n_blocks = 0, n_min = 0;
    int bad = 0;
    for (int i = 0; i < n && !bad; i++) {
        if (!trainable_type(srcs[i]->type))
            continue;
        calgae_qad_tensor *t = &q->t[q->n_t++];
        bad = tensor_init(t, srcs[i], dsts[i]) != 0;
        t->r_off = (size_t)q->n_norms * (size_t)q->dim + n_blocks;
        n_blocks += (size_t)t->n_blocks;
        n_min += t->has_min ? (size_t)t->n_blocks : 0;
    }
    free(srcs);
    free(dsts);
    if (bad)
        goto oom;
    if (q->n_t == 0) {
        calgae_qad_free(q);
        return calgae_fail(err, err_len, "%s: no Q4_0, Q4_1 or Q8_0 matrix to train (a quantized "
                           "student is needed; see calgae quantize)", student->path);
    }
    q->n = (size_t)q->n_norms * (size_t)q->dim + n_blocks + n_min;
    size_t u = (size_t)q->n_norms * (size_t)q->dim + n_blocks;
    for (int i = 0; i < q->n_t; i++)
        if (q->t[i].has_min) {
            q->t[i].u_off = u;
            u += (size_t)q->t[i].n_blocks;
        }
    q->x = malloc(q->n * sizeof(float));
    q->g = calloc(q->n, sizeof(float));
    q->m = calloc(q->n, sizeof(float));
    q->v = calloc(q->n, sizeof(float));
    q->norm0 = malloc((size_t)q->n_norms * (size_t)q->dim * sizeof(float));
    if (!q->x || !q->g || !q->m || !q->v || !q->norm0)
        goto oom;
    for (int k = 0; k < q->n_norms; k++)
        memcpy(q->norm0 + (size_t)k * q->dim, q->norm_dst[k], (size_t)q->dim * sizeof(float));
    for (size_t i = 0; i < q->n; i++) /* factors 1, minimum offsets 0 */
        q->x[i] = i < (size_t)q->n_norms * (size_t)q->dim + n_blocks ? 1.0f : 0.0f;
    return 0;
oom:
    calgae_qad_free(q);
    return calgae_fail(err, err_len, "%s: out of memory, or a block type of another size",
                       student->path);
}

void calgae_qad_free(calgae_qad *q)
{
    for (int i = 0; q->t && i < q->n_t; i++)
        tensor_free(&q->t[i]);
    free(q->t);
    free(q->norm_dst);
    free(q->norm0);
    free(q->x);
    free(q->g);
    free(q->m);
    free(q->v);
    memset(q, 0, sizeof *q);
}

static float block_scale(const calgae_qad *q, const calgae_qad_tensor *t, int64_t b)
{
    return t->d0[b] * q->x[t->r_off + (size_t)b];
}

static float block_min(const calgae_qad *q, const calgae_qad_tensor *t, int64_t b)
{
    return t->has_min ? t->m0[b] + fabsf(t->d0[b]) * q->x[t->u_off + (size_t)b] : 0.0f;
}

void calgae_qad_apply(const calgae_qad *q, calgae_train_model *tm)
{
    (void)tm;
    for (int k = 0; k < q->n_norms; k++)
        for (int i = 0; i < q->dim; i++)
            q->norm_dst[k][i] = q->norm0[(size_t)k * q->dim + i] * q->x[(size_t)k * q->dim + i];
    for (int i = 0; i < q->n_t; i++) {
        const calgae_qad_tensor *t = &q->t[i];
        for (int64_t b = 0; b < t->n_blocks; b++) {
            const float d = block_scale(q, t, b), m = block_min(q, t, b);
            for (int j = 0; j < QK; j++)
                t->w[b * QK + j] = d * t->codes[b * QK + j] + m;
        }
    }
}

/* Norm gradients sit where the norms do in tm's gradient view: same offsets as in params. */
void calgae_qad_grad(calgae_qad *q, const calgae_train_model *tm)
{
    for (int k = 0; k < q->n_norms; k++) {
        const float *gn = tm->grads + (q->norm_dst[k] - tm->params);
        for (int i = 0; i < q->dim; i++)
            q->g[(size_t)k * q->dim + i] = gn[i] * q->norm0[(size_t)k * q->dim + i];
    }
    for (int i = 0; i < q->n_t; i++) {
        const calgae_qad_tensor *t = &q->t[i];
        const float *gw = tm->grads + (t->w - tm->params);
        for (int64_t b = 0; b < t->n_blocks; b++) {
            float gd = 0.0f, gm = 0.0f;
            for (int j = 0; j < QK; j++) {
                gd += gw[b * QK + j] * t->codes[b * QK + j];
                gm += gw[b * QK + j];
            }
            q->g[t->r_off + (size_t)b] = gd * t->d0[b];
            if (t->has_min)
                q->g[t->u_off + (size_t)b] = gm * fabsf(t->d0[b]);
        }
    }
}

/* A copy of t's bytes with the trained scales and minimums. */
static uint8_t *tensor_bytes(const calgae_qad *q, const calgae_qad_tensor *t)
{
    const calgae_weight *src = t->src;
    const size_t total = src->row_bytes * (size_t)src->rows;
    const size_t bs = calgae_type_traits(src->type)->type_size;
    uint8_t *out = malloc(total);
    if (!out)
        return NULL;
    memcpy(out, src->data, total);
    for (int64_t b = 0; b < t->n_blocks; b++) {
        const int64_t row = b / (src->cols / QK), col = b % (src->cols / QK);
        uint8_t *p = out + (size_t)row * src->row_bytes + (size_t)col * bs;
        uint16_t h = calgae_fp32_to_fp16(block_scale(q, t, b));
        memcpy(p, &h, 2);
        if (t->has_min) {
            h = calgae_fp32_to_fp16(block_min(q, t, b));
            memcpy(p + 2, &h, 2);
        }
    }
    return out;
}

/* The student's weight that matches src, in out (same layout). */
static calgae_weight *matching(calgae_transformer *out, const calgae_transformer *st,
                               const calgae_weight *src)
{
    if (src == &st->tok_embd)
        return &out->tok_embd;
    if (src == &st->output)
        return &out->output;
    const ptrdiff_t off = (const char *)src - (const char *)st->layers;
    return (calgae_weight *)((char *)out->layers + off);
}

int calgae_qad_write(const calgae_qad *q, const calgae_transformer *student,
                     const calgae_tokenizer *tok, const char *out_path, char *err, size_t err_len)
{
    calgae_transformer out = *student;
    const int L = student->cfg.n_layers;
    out.layers = malloc((size_t)L * sizeof *out.layers);
    uint8_t **bufs = calloc((size_t)q->n_t, sizeof *bufs);
    int rc = -1;
    if (!out.layers || !bufs) {
        calgae_fail(err, err_len, "%s: out of memory", out_path);
        goto done;
    }
    memcpy(out.layers, student->layers, (size_t)L * sizeof *out.layers);
    for (int l = 0; l < L; l++) {
        out.layers[l].attn_norm = q->norm_dst[2 * l];
        out.layers[l].ffn_norm = q->norm_dst[2 * l + 1];
    }
    out.out_norm = q->norm_dst[2 * L];
    for (int i = 0; i < q->n_t; i++) {
        bufs[i] = tensor_bytes(q, &q->t[i]);
        if (!bufs[i]) {
            calgae_fail(err, err_len, "%s: out of memory", out_path);
            goto done;
        }
        calgae_weight *w = matching(&out, student, q->t[i].src);
        w->data = bufs[i];
        w->prepared = NULL;
    }
    rc = calgae_convert_to_gguf(&out, tok, CALGAE_CONVERT_KEEP, out_path, err, err_len);
done:
    for (int i = 0; bufs && i < q->n_t; i++)
        free(bufs[i]);
    free(bufs);
    free(out.layers);
    return rc;
}
