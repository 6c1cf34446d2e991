/*
 * quantize.c - AWQ on a whole Llama model (see quantize.h for the paper and the model-level
 * choices, quant/awq.h for the searches) on the F32 working copy (quantize_fmodel.c):
 * calibration passes that record activation statistics through the forward pass's observer,
 * the per-layer scale searches and their folding, and the clipping decisions, applied once
 * every layer has been searched.
 */
#include "quantize.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calib.h"
#include "forward.h"
#include "rtn.h"

#define DEFAULT_WINDOW 512 /* the paper's sample length */
#define DEFAULT_BUDGET ((size_t)2 << 30)
#define CALIB_BATCH 64
#define SEARCH_ROWS 16     /* rows per work item of the searches */

/* ---- calibration: statistics through the forward pass's observer ---- */

struct observer {
    calgae_calib cal;
    calgae_pool *pool;
    calgae_calib_slot *cur; /* the slot being filled, for the pool tasks */
    const float *x;
    int n_tok;
};

static int slot_of(int layer, int site)
{
    return layer * CALGAE_SITE_COUNT + site;
}

/* Item k covers Gram rows k and width-1-k: the triangle's short and long rows together, so the
 * pool's equal shares are equal work. */
static void gram_task(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    struct observer *ob = ctx;
    const int w = ob->cur->width;
    for (int64_t k = begin; k < end; k++) {
        calgae_calib_add_gram(ob->cur, ob->x, ob->n_tok, (int)k, (int)k + 1);
        if (w - 1 - k > k)
            calgae_calib_add_gram(ob->cur, ob->x, ob->n_tok, w - 1 - (int)k, w - (int)k);
    }
}

static void observe(void *user, int layer, int site, const float *x, int n_tok, int width)
{
    struct observer *ob = user;
    const int slot = slot_of(layer, site);
    if (slot >= ob->cal.n_slots || ob->cal.slots[slot].width != width)
        return; /* not watched in this pass */
    calgae_calib_slot *s = &ob->cal.slots[slot];
    calgae_calib_add_abs(s, x, n_tok);
    ob->cur = s;
    ob->x = x;
    ob->n_tok = n_tok;
    const int64_t items = (width + 1) / 2;
    const int64_t work = (int64_t)width * width * n_tok;
    calgae_pool_for(ob->pool, items, work < (1 << 18) ? items : 4, gram_task, ob);
}

/* Runs the calibration windows through f with the observer attached. */
static int calibrate(calgae_fmodel *f, const calgae_backends *be, calgae_pool *pool,
                     const calgae_awq_opts *o, struct observer *ob, int need_logits, int pass,
                     int passes, char *err, size_t err_len)
{
    const int window = o->window > 0 ? o->window : DEFAULT_WINDOW;
    calgae_state st;
    if (calgae_state_init(&st, &f->model, be, pool, window, CALIB_BATCH, err, err_len) != 0)
        return -1;
    st.observe = observe;
    st.observe_user = ob;
    int32_t batch[CALIB_BATCH];
    const int64_t total = (int64_t)o->n_ids * passes;
    int rc = 0;
    for (size_t w0 = 0; w0 + 1 < o->n_ids && rc == 0; w0 += (size_t)window) {
        const size_t len = o->n_ids - w0 < (size_t)window ? o->n_ids - w0 : (size_t)window;
        for (size_t done = 0; done < len && rc == 0;) {
            const int n = (int)(len - done < CALIB_BATCH ? len - done : CALIB_BATCH);
            memcpy(batch, o->ids + w0 + done, (size_t)n * sizeof *batch);
            if (done == 0)
                batch[0] = o->ids[0]; /* every window starts with BOS, as the text does */
            if (o->stop && *o->stop)
                rc = calgae_fail(err, err_len, "interrupted");
            else
                rc = calgae_forward(&st, batch, n, (int)done, need_logits, err, err_len);
            done += (size_t)n;
            if (o->progress)
                o->progress(o->progress_user, "calibrate",
                            (int64_t)o->n_ids * pass + (int64_t)(w0 + done), total);
        }
    }
    calgae_state_free(&st);
    return rc;
}

/* ---- the searches ---- */

/* One AWQ group: weights that read the same activations, and what 1/s is folded into. */
struct group {
    int layer, site;
    uint32_t type;
    int n_w;
    float *w[3];
    int64_t rows[3], cols;
};

struct search_job {
    const struct group *g;
    const float *scales; /* [n_grid][cols] */
    const float *gram;
    float *scratch;      /* [threads][3 * cols] */
    int64_t chunks;      /* per candidate */
    double *part;        /* [n_grid * chunks] */
};

/* Item = (candidate, chunk of SEARCH_ROWS rows of the group's weights laid end to end). */
static void search_task(void *ctx, int64_t begin, int64_t end, int thread)
{
    struct search_job *j = ctx;
    const struct group *g = j->g;
    float *scratch = j->scratch + (size_t)thread * 3 * (size_t)g->cols;
    for (int64_t item = begin; item < end; item++) {
        const int64_t cand = item / j->chunks, chunk = item % j->chunks;
        int64_t r0 = chunk * SEARCH_ROWS, r1 = r0 + SEARCH_ROWS;
        double e = 0.0;
        for (int i = 0, base = 0; i < g->n_w; base += (int)g->rows[i], i++) {
            const int64_t lo = r0 > base ? r0 - base : 0;
            const int64_t hi = r1 - base < g->rows[i] ? r1 - base : g->rows[i];
            if (lo < hi)
                e += calgae_awq_error_rows(g->type, g->w[i], lo, hi, g->cols,
                                           j->scales + cand * g->cols, j->gram, scratch);
        }
        j->part[item] = e;
    }
}

static float *gram_f32(const calgae_calib_slot *s)
{
    const size_t n = (size_t)s->width * (size_t)s->width;
    float *g = malloc(n * sizeof *g);
    for (size_t i = 0; g && i < n; i++)
        g[i] = (float)s->gram[i];
    return g;
}

/* The statistic the scales are made of; for wo under grouped-query attention, pooled over the
 * query heads that share a KV head so that the scales can be folded into wv (quantize.h). */
static void group_means(const calgae_config *c, const struct group *g,
                        const calgae_calib_slot *s, double *mean)
{
    calgae_calib_mean_abs(s, mean);
    const int per_kv = c->n_heads / c->n_kv_heads, hs = c->head_size;
    if (g->site != CALGAE_SITE_ATTN_OUT || per_kv == 1)
        return;
    for (int kvh = 0; kvh < c->n_kv_heads; kvh++) {
        for (int d = 0; d < hs; d++) {
            double sum = 0.0;
            for (int h = kvh * per_kv; h < (kvh + 1) * per_kv; h++)
                sum += mean[h * hs + d];
            for (int h = kvh * per_kv; h < (kvh + 1) * per_kv; h++)
                mean[h * hs + d] = sum / per_kv;
        }
    }
}

/* Grid search of alpha for one group; the best scales go to s. */
static int search_scales(const calgae_config *c, calgae_pool *pool, const struct group *g,
                         const calgae_calib_slot *slot, float *s, float *alpha, double *err_rtn,
                         double *err_best)
{
    const int n_grid = CALGAE_AWQ_SCALE_GRID;
    const size_t cols = (size_t)g->cols;
    int64_t rows = 0;
    for (int i = 0; i < g->n_w; i++)
        rows += g->rows[i];
    struct search_job j = {.g = g, .chunks = (rows + SEARCH_ROWS - 1) / SEARCH_ROWS};
    double *mean = malloc(cols * sizeof *mean);
    float *scales = malloc((size_t)n_grid * cols * sizeof *scales);
    float *gram = gram_f32(slot);
    float *scratch = malloc((size_t)calgae_pool_threads(pool) * 3 * cols * sizeof *scratch);
    double *part = malloc((size_t)(n_grid * j.chunks) * sizeof *part);
    int rc = -1;
    if (!mean || !scales || !gram || !scratch || !part)
        goto out;
    group_means(c, g, slot, mean);
    for (int i = 0; i < n_grid; i++)
        calgae_awq_scales(mean, g->cols, (float)i / (float)n_grid, scales + (size_t)i * cols);
    j.scales = scales;
    j.gram = gram;
    j.scratch = scratch;
    j.part = part;
    calgae_pool_for(pool, n_grid * j.chunks, 1, search_task, &j);
    /* summed in a fixed order, so the choice does not depend on the thread count */
    int best = 0;
    double best_err = INFINITY;
    for (int i = 0; i < n_grid; i++) {
        double e = 0.0;
        for (int64_t k = 0; k < j.chunks; k++)
            e += part[i * j.chunks + k];
        if (i == 0)
            *err_rtn = e;
        if (e < best_err) { /* ties keep the smaller alpha, down to plain RTN */
            best_err = e;
            best = i;
        }
    }
    memcpy(s, scales + (size_t)best * cols, cols * sizeof *s);
    *alpha = (float)best / (float)n_grid;
    *err_best = best_err;
    rc = 0;
out:
    free(mean);
    free(scales);
    free(gram);
    free(scratch);
    free(part);
    return rc;
}

static void scale_cols(float *w, int64_t rows, int64_t cols, const float *s)
{
    for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < cols; j++)
            w[r * cols + j] *= s[j];
}

/* Folds 1/s into the op that produces the group's input, s into the group's weights. */
static void fold(calgae_fmodel *f, const struct group *g, const float *s)
{
    const calgae_config *c = &f->model.cfg;
    for (int i = 0; i < g->n_w; i++)
        scale_cols(g->w[i], g->rows[i], g->cols, s);
    if (g->layer == c->n_layers) {
        for (int j = 0; j < c->dim; j++)
            f->out_norm[j] /= s[j];
        f->model.tied = 0; /* the classifier is no longer the embedding matrix */
        return;
    }
    calgae_flayer *F = &f->layers[g->layer];
    const int per_kv = c->n_heads / c->n_kv_heads, hs = c->head_size;
    switch (g->site) {
    case CALGAE_SITE_ATTN_IN:
        for (int j = 0; j < c->dim; j++)
            F->attn_norm[j] /= s[j];
        break;
    case CALGAE_SITE_FFN_IN:
        for (int j = 0; j < c->dim; j++)
            F->ffn_norm[j] /= s[j];
        break;
    case CALGAE_SITE_ATTN_OUT:
        /* wo's input channel (h, d) is V's channel (h / per_kv, d); the scales are equal across
         * the query heads of a KV head (group_means), so the first one stands for all */
        for (int kvh = 0; kvh < c->n_kv_heads; kvh++)
            for (int d = 0; d < hs; d++) {
                const float sv = s[kvh * per_kv * hs + d];
                float *row = F->wv + ((int64_t)kvh * hs + d) * c->dim;
                for (int j = 0; j < c->dim; j++)
                    row[j] /= sv;
            }
        break;
    case CALGAE_SITE_FFN_MID:
        for (int h = 0; h < c->hidden_dim; h++)
            for (int j = 0; j < c->dim; j++)
                F->up[(int64_t)h * c->dim + j] /= s[h];
        break;
    }
}

/* ---- clipping ---- */

struct clip_plan {
    float *w;
    int64_t rows, cols;
    uint8_t *choice;
};

struct clip_job {
    uint32_t type;
    struct clip_plan *p;
    const float *gram;
    calgae_awq_clip_stats *part; /* per chunk */
};

static void clip_task(void *ctx, int64_t begin, int64_t end, int thread)
{
    (void)thread;
    struct clip_job *j = ctx;
    for (int64_t k = begin; k < end; k++) {
        const int64_t r0 = k * SEARCH_ROWS;
        const int64_t r1 = r0 + SEARCH_ROWS < j->p->rows ? r0 + SEARCH_ROWS : j->p->rows;
        calgae_awq_clip_search(j->type, j->p->w, r0, r1, j->p->cols, j->gram,
                               CALGAE_AWQ_CLIP_GRID, CALGAE_AWQ_CLIP_SHRINK, j->p->choice,
                               &j->part[k]);
    }
}

static int clip_matrix(calgae_pool *pool, uint32_t type, struct clip_plan *p, const float *gram,
                       calgae_awq_clip_stats *st)
{
    const int64_t chunks = (p->rows + SEARCH_ROWS - 1) / SEARCH_ROWS;
    p->choice = calloc((size_t)(p->rows * (p->cols / CALGAE_QK)), 1);
    calgae_awq_clip_stats *part = calloc((size_t)chunks, sizeof *part);
    if (!p->choice || !part) {
        free(p->choice);
        p->choice = NULL;
        free(part);
        return -1;
    }
    struct clip_job j = {type, p, gram, part};
    calgae_pool_for(pool, chunks, 1, clip_task, &j);
    for (int64_t k = 0; k < chunks; k++) {
        st->blocks += part[k].blocks;
        st->clipped += part[k].clipped;
        st->err_before += part[k].err_before;
        st->err_after += part[k].err_after;
    }
    free(part);
    return 0;
}

/* ---- one layer (or the classifier) ---- */

struct run {
    calgae_fmodel *f;
    calgae_pool *pool;
    const calgae_awq_opts *o;
    calgae_awq_report *rep;
    struct observer *ob;
    struct clip_plan *clips; /* every matrix to clip, applied at the end */
    int n_clips;
};

/* The groups of layer l (l == n_layers: the classifier) that the target types quantize. */
static int layer_groups(const calgae_fmodel *f, const calgae_qtypes *t, int l, struct group *g)
{
    const calgae_config *c = &f->model.cfg;
    const int64_t dim = c->dim, hid = c->hidden_dim, kv = (int64_t)c->head_size * c->n_kv_heads;
    int n = 0;
    if (l == c->n_layers) {
        g[n++] = (struct group){l, CALGAE_SITE_OUTPUT, t->output, 1, {f->output}, {c->vocab_size}, dim};
    } else {
        const calgae_flayer *F = &f->layers[l];
        g[n++] = (struct group){l, CALGAE_SITE_ATTN_IN, t->matrix, 3, {F->wq, F->wk, F->wv}, {dim, kv, kv}, dim};
        g[n++] = (struct group){l, CALGAE_SITE_ATTN_OUT, t->matrix, 1, {F->wo}, {dim}, dim};
        g[n++] = (struct group){l, CALGAE_SITE_FFN_IN, t->matrix, 2, {F->gate, F->up}, {hid, hid}, dim};
        g[n++] = (struct group){l, CALGAE_SITE_FFN_MID, t->matrix, 1, {F->down}, {dim}, hid};
    }
    int kept = 0;
    for (int i = 0; i < n; i++)
        if (calgae_rtn_is_block_type(calgae_rtn_storage_type(g[i].type, g[i].cols)))
            g[kept++] = g[i];
    return kept;
}

static int do_layer(struct run *R, int l, char *err, size_t err_len)
{
    struct group g[4];
    const int n = layer_groups(R->f, &R->o->types, l, g);
    float *s[4] = {0};
    int rc = 0;
    /* search every group on the unmodified layer, then fold them all (the reference order) */
    for (int i = 0; i < n && rc == 0; i++) {
        calgae_calib_slot *slot = &R->ob->cal.slots[slot_of(l, g[i].site)];
        float alpha = 0.0f;
        double e0 = 0.0, e1 = 0.0;
        if (!(s[i] = malloc((size_t)g[i].cols * sizeof(float))) ||
            search_scales(&R->f->model.cfg, R->pool, &g[i], slot, s[i], &alpha, &e0, &e1) != 0) {
            rc = calgae_fail(err, err_len, "out of memory in the AWQ search");
            break;
        }
        R->rep->groups++;
        R->rep->groups_scaled += alpha > 0.0f;
        R->rep->err_rtn += e0;
        R->rep->err_awq += e1;
        if (R->o->log) {
            static const char *names[] = {"attn_in", "attn_out", "ffn_in", "ffn_mid", "output"};
            char line[160];
            snprintf(line, sizeof line, "awq: layer %d %-8s alpha %.2f, output error %.4g -> %.4g (%.1f%%)",
                     l, names[g[i].site], (double)alpha, e0, e1, e0 > 0 ? 100.0 * (e1 - e0) / e0 : 0.0);
            R->o->log(R->o->log_user, line);
        }
    }
    for (int i = 0; i < n && rc == 0; i++) {
        fold(R->f, &g[i], s[i]);
        calgae_calib_scale(&R->ob->cal.slots[slot_of(l, g[i].site)], s[i]);
    }
    /* clipping, on the scaled weights against the scaled statistics; Q and K are left alone */
    for (int i = 0; i < n && rc == 0 && R->o->clip; i++) {
        float *gram = gram_f32(&R->ob->cal.slots[slot_of(l, g[i].site)]);
        if (!gram)
            rc = calgae_fail(err, err_len, "out of memory in the clipping search");
        for (int k = g[i].site == CALGAE_SITE_ATTN_IN ? 2 : 0; k < g[i].n_w && rc == 0; k++) {
            struct clip_plan *p = &R->clips[R->n_clips];
            *p = (struct clip_plan){g[i].w[k], g[i].rows[k], g[i].cols, NULL};
            if (clip_matrix(R->pool, g[i].type, p, gram, &R->rep->clip) != 0)
                rc = calgae_fail(err, err_len, "out of memory in the clipping search");
            else
                R->n_clips++;
        }
        free(gram);
    }
    for (int i = 0; i < n; i++)
        free(s[i]);
    return rc;
}

/* ---- the driver ---- */

static size_t layer_bytes(const calgae_fmodel *f, const calgae_qtypes *t, int l)
{
    struct group g[4];
    const int n = layer_groups(f, t, l, g);
    size_t b = 0;
    for (int i = 0; i < n; i++) /* the statistics, and their float copy during the search */
        b += calgae_calib_bytes((int)g[i].cols, 1) + (size_t)(g[i].cols * g[i].cols) * sizeof(float);
    return b;
}

static int setup_pass(struct run *R, int lo, int hi)
{
    for (int l = lo; l < hi; l++) {
        struct group g[4];
        const int n = layer_groups(R->f, &R->o->types, l, g);
        for (int i = 0; i < n; i++)
            if (calgae_calib_setup(&R->ob->cal, slot_of(l, g[i].site), (int)g[i].cols, 1) != 0)
                return -1;
    }
    return 0;
}

static void end_pass(struct run *R)
{
    for (int i = 0; i < R->ob->cal.n_slots; i++) {
        calgae_calib_slot *s = &R->ob->cal.slots[i];
        free(s->sum_abs);
        free(s->gram);
        memset(s, 0, sizeof *s);
    }
}

int calgae_awq_run(calgae_fmodel *f, const calgae_backends *be, calgae_pool *pool,
                   const calgae_awq_opts *o, calgae_awq_report *rep, char *err, size_t err_len)
{
    memset(rep, 0, sizeof *rep);
    const calgae_config *c = &f->model.cfg;
    const int window = o->window > 0 ? o->window : (c->ctx < DEFAULT_WINDOW ? c->ctx : DEFAULT_WINDOW);
    if (o->n_ids < 2)
        return calgae_fail(err, err_len, "AWQ needs calibration text (got %zu tokens)", o->n_ids);
    if (window < 2 || window > c->ctx)
        return calgae_fail(err, err_len, "calibration window %d outside 2..%d", window, c->ctx);
    calgae_awq_opts opts = *o;
    opts.window = window;
    const size_t budget = o->stats_budget ? o->stats_budget : DEFAULT_BUDGET;
    /* plan the passes: consecutive layers (the classifier last) whose statistics fit the budget */
    int starts[1026], passes = 0;
    size_t used = 0;
    for (int l = 0; l <= c->n_layers; l++) {
        const size_t b = layer_bytes(f, &o->types, l);
        if (passes == 0 || (used + b > budget && used > 0)) {
            starts[passes++] = l;
            used = 0;
        }
        used += b;
    }
    starts[passes] = c->n_layers + 1;
    struct observer ob = {.pool = pool};
    struct run R = {f, pool, &opts, rep, &ob, NULL, 0};
    R.clips = calloc((size_t)(c->n_layers * 5 + 1), sizeof *R.clips);
    int rc = R.clips && calgae_calib_init(&ob.cal, (c->n_layers + 1) * CALGAE_SITE_COUNT) == 0
                 ? 0 : calgae_fail(err, err_len, "out of memory");
    rep->passes = passes;
    rep->calib_tokens = (int64_t)o->n_ids;
    const int64_t total_groups = (int64_t)c->n_layers + 1;
    for (int p = 0; p < passes && rc == 0; p++) {
        const int lo = starts[p], hi = starts[p + 1];
        if (setup_pass(&R, lo, hi) != 0) {
            rc = calgae_fail(err, err_len, "out of memory for activation statistics");
            break;
        }
        rc = calibrate(f, be, pool, &opts, &ob, hi > c->n_layers, p, passes, err, err_len);
        for (int i = 0; i < ob.cal.n_slots; i++)
            calgae_calib_finish(&ob.cal.slots[i]);
        for (int l = lo; l < hi && rc == 0; l++) {
            if (o->stop && *o->stop)
                rc = calgae_fail(err, err_len, "interrupted");
            else
                rc = do_layer(&R, l, err, err_len);
            if (o->progress)
                o->progress(o->progress_user, "search", l + 1, total_groups);
        }
        end_pass(&R);
    }
    /* clipping last, so that no calibration pass ran a clipped layer */
    for (int i = 0; i < R.n_clips; i++) {
        if (rc == 0)
            calgae_awq_clip_apply(R.clips[i].w, 0, R.clips[i].rows, R.clips[i].cols,
                                  R.clips[i].choice, CALGAE_AWQ_CLIP_GRID);
        free(R.clips[i].choice);
    }
    free(R.clips);
    calgae_calib_free(&ob.cal);
    return rc;
}
