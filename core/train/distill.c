/* distill.c - see distill.h: the training loop both kinds of student share, and its checkpoints
 * (checkpoint.h). */
#include "distill.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
#include "convert.h"
#include "distill_qad.h"
#include "util.h"

struct run {
    const calgae_distill_opts *o;
    calgae_train_model teacher, student;
    calgae_qad qad;
    int quant;
    int32_t *window;       /* BOS + seq tokens */
    float *teacher_logits; /* seq x vocab, one window */
    float *dlogits;        /* seq x vocab */
    float *eval_teacher;   /* eval windows x seq x vocab */
    int n_eval_windows;
    uint64_t rng;
    calgae_ckpt_id id;     /* the run's identity, as a checkpoint records it */
};

static double now(void)
{
    return calgae_now_ms() / 1e3;
}

static uint64_t next_u64(uint64_t *st)
{
    uint64_t z = (*st += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* window = BOS, ids[at .. at + seq) */
static void fill_window(struct run *R, const int32_t *ids, size_t at)
{
    R->window[0] = R->o->bos;
    memcpy(R->window + 1, ids + at, (size_t)R->o->seq * sizeof(int32_t));
}

static const int32_t *eval_window(struct run *R, int w)
{
    fill_window(R, R->o->eval_ids, (size_t)w * (size_t)R->o->seq);
    return R->window;
}

/* Mean held-out cross-entropy and KL(teacher || student) per token. */
static void evaluate(struct run *R, double *ce, double *kl)
{
    const int seq = R->o->seq, V = R->student.shape.vocab;
    double sce = 0.0, skl = 0.0;
    for (int w = 0; w < R->n_eval_windows; w++) {
        const int32_t *win = eval_window(R, w);
        calgae_train_forward(&R->student, win, seq, R->o->pool);
        double c, k;
        calgae_train_loss(calgae_train_logits(&R->student),
                          R->eval_teacher + (size_t)w * seq * V, win + 1, seq, V, 1.0f, 1.0f, 1.0,
                          R->dlogits, &k, &c);
        sce += c;
        skl += k;
    }
    const double n = (double)R->n_eval_windows * seq;
    *ce = sce / n;
    *kl = skl / n;
}

static int setup(struct run *R, char *err, size_t err_len)
{
    const calgae_distill_opts *o = R->o;
    const calgae_config *tc = &o->teacher->cfg;
    if (o->seq < 2 || o->batch < 1 || o->steps < 1)
        return calgae_fail(err, err_len, "distill: --seq must be >= 2, --batch and --steps >= 1");
    if (o->n_train < (size_t)o->seq + 1)
        return calgae_fail(err, err_len, "distill: the training text has %zu tokens, fewer than "
                           "one window of %d", o->n_train, o->seq + 1);
    R->n_eval_windows = (int)(o->n_eval / (size_t)o->seq);
    if (o->eval_windows > 0 && R->n_eval_windows > o->eval_windows)
        R->n_eval_windows = o->eval_windows;
    if (o->n_eval < (size_t)o->seq + 1 || R->n_eval_windows < 1)
        return calgae_fail(err, err_len, "distill: the held-out text has %zu tokens, fewer than "
                           "one window of %d", o->n_eval, o->seq + 1);
    if (calgae_train_from_transformer(&R->teacher, o->teacher, o->seq, err, err_len) != 0)
        return -1;
    if (o->qstudent) {
        const calgae_config *sc = &o->qstudent->cfg;
        if (sc->dim != tc->dim || sc->hidden_dim != tc->hidden_dim || sc->n_layers != tc->n_layers ||
            sc->n_heads != tc->n_heads || sc->n_kv_heads != tc->n_kv_heads ||
            sc->vocab_size != tc->vocab_size)
            return calgae_fail(err, err_len, "%s: the student's shape (dim %d, layers %d, vocab %d) "
                               "is not the teacher's (dim %d, layers %d, vocab %d)",
                               o->qstudent->path, sc->dim, sc->n_layers, sc->vocab_size, tc->dim,
                               tc->n_layers, tc->vocab_size);
        R->quant = 1;
        if (calgae_train_from_transformer(&R->student, o->qstudent, o->seq, err, err_len) != 0 ||
            calgae_qad_init(&R->qad, o->qstudent, &R->student, err, err_len) != 0)
            return -1;
    } else {
        calgae_train_shape s = *o->shape;
        s.vocab = tc->vocab_size;
        s.tied = 1;
        s.eps = tc->eps;
        s.rope_theta = tc->rope_theta;
        if (calgae_train_create(&R->student, &s, o->seq, err, err_len) != 0)
            return -1;
        calgae_train_init_random(&R->student, o->seed);
    }
    const size_t V = (size_t)tc->vocab_size, T = (size_t)o->seq;
    R->window = malloc((T + 1) * sizeof(int32_t));
    R->teacher_logits = malloc(T * V * sizeof(float));
    R->dlogits = malloc(T * V * sizeof(float));
    R->eval_teacher = malloc((size_t)R->n_eval_windows * T * V * sizeof(float));
    if (!R->window || !R->teacher_logits || !R->dlogits || !R->eval_teacher)
        return calgae_fail(err, err_len, "distill: out of memory");
    for (int w = 0; w < R->n_eval_windows; w++) {
        calgae_train_forward(&R->teacher, eval_window(R, w), o->seq, o->pool);
        memcpy(R->eval_teacher + (size_t)w * T * V, calgae_train_logits(&R->teacher),
               T * V * sizeof(float));
    }
    R->rng = o->seed ^ 0x5DEECE66Dull;
    return 0;
}

/* The run's identity; call before training (the student's hash is of its weights as loaded). */
static void make_id(struct run *R, const calgae_adamw *opt)
{
    const calgae_distill_opts *o = R->o;
    const calgae_train_shape *sh = &R->student.shape;
    calgae_ckpt_id *id = &R->id;
    memset(id, 0, sizeof *id);
    id->mode = R->quant ? CALGAE_CKPT_QAD : CALGAE_CKPT_CLASSIC;
    id->dim = sh->dim, id->hidden = sh->hidden, id->layers = sh->layers;
    id->heads = sh->heads, id->kv_heads = sh->kv_heads, id->vocab = sh->vocab;
    id->seq = o->seq, id->batch = o->batch, id->steps = opt->total_steps;
    id->warmup = opt->warmup;
    id->lr = opt->lr, id->weight_decay = opt->weight_decay, id->clip = opt->clip;
    id->alpha = R->quant ? 1.0f : o->alpha; /* what step() uses */
    id->temp = R->quant ? 1.0f : o->temp;
    id->seed = o->seed;
    id->teacher_hash = calgae_fnv1a(CALGAE_FNV_INIT, R->teacher.params,
                                    R->teacher.n_params * sizeof(float));
    id->student_hash = R->quant ? calgae_fnv1a(CALGAE_FNV_INIT, R->student.params,
                                               R->student.n_params * sizeof(float)) : 0;
    id->train_hash = calgae_fnv1a(CALGAE_FNV_INIT, o->train_ids, o->n_train * sizeof(int32_t));
    id->n_train = o->n_train;
}

/* The trained floats and their moments: the quantized student's free floats, or every
 * parameter of the classic student (moments allocated here when the optimizer has not yet). */
static int state_arrays(struct run *R, float **x, float **m, float **v, uint64_t *n)
{
    if (R->quant) {
        *x = R->qad.x, *m = R->qad.m, *v = R->qad.v, *n = R->qad.n;
        return 0;
    }
    calgae_train_model *tm = &R->student;
    if (!tm->adam_m) {
        tm->adam_m = calloc(tm->n_params, sizeof(float));
        tm->adam_v = calloc(tm->n_params, sizeof(float));
        if (!tm->adam_m || !tm->adam_v)
            return -1;
    }
    *x = tm->params, *m = tm->adam_m, *v = tm->adam_v, *n = tm->n_params;
    return 0;
}

static int save_checkpoint(struct run *R, int steps_done, calgae_distill_result *r, char *err,
                           size_t err_len)
{
    calgae_ckpt c = {.id = R->id, .step = steps_done, .rng = R->rng};
    if (state_arrays(R, &c.x, &c.m, &c.v, &c.n) != 0)
        return calgae_fail(err, err_len, "%s: out of memory", R->o->checkpoint);
    const double t0 = now();
    if (calgae_ckpt_write(&c, R->o->checkpoint, err, err_len) != 0)
        return -1;
    r->checkpoint_seconds += now() - t0;
    r->checkpoints++;
    r->checkpoint_bytes = calgae_ckpt_bytes(c.n);
    return 0;
}

/* Continues from o->resume: the trained floats, moments, steps done and sampler state. */
static int resume(struct run *R, int *steps_done, char *err, size_t err_len)
{
    const char *path = R->o->resume;
    calgae_ckpt c;
    if (calgae_ckpt_read(path, &c, err, err_len) != 0)
        return -1;
    float *x = NULL, *m = NULL, *v = NULL;
    uint64_t n = 0;
    int rc = calgae_ckpt_check(&c.id, &R->id, path, err, err_len);
    if (rc == 0 && state_arrays(R, &x, &m, &v, &n) != 0)
        rc = calgae_fail(err, err_len, "%s: out of memory", path);
    if (rc == 0 && c.n != n)
        rc = calgae_fail(err, err_len, "%s: checkpoint of %llu trained floats, this run trains "
                         "%llu", path, (unsigned long long)c.n, (unsigned long long)n);
    if (rc == 0) {
        memcpy(x, c.x, n * sizeof(float));
        memcpy(m, c.m, n * sizeof(float));
        memcpy(v, c.v, n * sizeof(float));
        R->rng = c.rng;
        *steps_done = c.step;
        if (R->quant)
            calgae_qad_apply(&R->qad, &R->student);
    }
    calgae_ckpt_free(&c);
    return rc;
}

/* One optimizer step over a batch of windows; returns the loss. */
static double step(struct run *R, const calgae_adamw *opt, int s)
{
    const calgae_distill_opts *o = R->o;
    const int seq = o->seq, V = R->student.shape.vocab;
    const int use_teacher = R->quant || o->alpha > 0.0f;
    double loss = 0.0;
    calgae_train_zero_grad(&R->student);
    for (int b = 0; b < o->batch; b++) {
        const size_t at = (size_t)(next_u64(&R->rng) % (o->n_train - (size_t)seq));
        fill_window(R, o->train_ids, at);
        if (use_teacher) {
            calgae_train_forward(&R->teacher, R->window, seq, o->pool);
            memcpy(R->teacher_logits, calgae_train_logits(&R->teacher),
                   (size_t)seq * V * sizeof(float));
        }
        calgae_train_forward(&R->student, R->window, seq, o->pool);
        loss += calgae_train_loss(calgae_train_logits(&R->student),
                                  use_teacher ? R->teacher_logits : NULL, R->window + 1, seq, V,
                                  R->quant ? 1.0f : o->alpha, R->quant ? 1.0f : o->temp,
                                  (double)seq * o->batch, R->dlogits, NULL, NULL);
        calgae_train_backward(&R->student, R->window, seq, R->dlogits, o->pool);
    }
    if (R->quant) {
        calgae_qad_grad(&R->qad, &R->student);
        calgae_adamw_update(opt, s, R->qad.x, R->qad.g, R->qad.m, R->qad.v, NULL, R->qad.n);
        calgae_qad_apply(&R->qad, &R->student);
    } else if (calgae_adamw_step(&R->student, opt, s) < 0.0) {
        return NAN;
    }
    return loss;
}

/* Whether a checkpoint is due after step (1-based) of a run that ends after `last`. */
static int checkpoint_due(const calgae_distill_opts *o, int step, int last)
{
    return o->checkpoint && ((o->checkpoint_every > 0 && step % o->checkpoint_every == 0) ||
                             step == last);
}

/* From a fresh start or o->resume, up to step o->stop_after (or o->steps). */
static int train(struct run *R, calgae_distill_result *r, char *err, size_t err_len)
{
    const calgae_distill_opts *o = R->o;
    const calgae_adamw opt = {o->lr, 0.9f, 0.95f, 1e-8f, o->weight_decay, o->clip,
                              o->steps / 20, o->steps};
    const int last = o->stop_after > 0 && o->stop_after < o->steps ? o->stop_after : o->steps;
    int first = 0;
    make_id(R, &opt);
    if (o->resume && resume(R, &first, err, err_len) != 0)
        return -1;
    r->first_step = first;
    r->last_step = first > last ? first : last;
    r->trained_params = R->quant ? R->qad.n : R->student.n_params;
    evaluate(R, &r->eval_ce_before, &r->eval_kl_before);
    calgae_distill_stats st = {0};
    st.steps = o->steps;
    st.step = first;
    for (int s = first; s < last; s++) {
        const double t0 = now();
        st.loss = step(R, &opt, s);
        r->seconds += now() - t0;
        if (isnan(st.loss))
            return calgae_fail(err, err_len, "distill: out of memory, or the loss is NaN at "
                               "step %d (lower --lr)", s + 1);
        st.step = s + 1;
        st.tokens_per_s = (double)(st.step - first) * o->batch * o->seq / r->seconds;
        st.eta_s = r->seconds / (st.step - first) * (last - st.step);
        st.has_eval = (o->eval_every > 0 && st.step % o->eval_every == 0) || st.step == last;
        if (st.has_eval)
            evaluate(R, &st.eval_ce, &st.eval_kl);
        if (o->report)
            o->report(o->report_user, &st);
        if (checkpoint_due(o, st.step, last) && save_checkpoint(R, st.step, r, err, err_len) != 0)
            return -1;
    }
    if (first >= last) { /* nothing left to train: the resumed state as it is */
        evaluate(R, &st.eval_ce, &st.eval_kl);
        if (o->checkpoint && save_checkpoint(R, first, r, err, err_len) != 0)
            return -1;
    }
    r->eval_ce_after = st.eval_ce;
    r->eval_kl_after = st.eval_kl;
    r->tokens_per_s = st.tokens_per_s;
    return 0;
}

static int write_student(struct run *R, const calgae_tokenizer *tok, const char *out_path,
                         char *err, size_t err_len)
{
    if (R->quant)
        return calgae_qad_write(&R->qad, R->o->qstudent, tok, out_path, err, err_len);
    calgae_transformer view;
    if (calgae_train_as_transformer(&R->student, out_path, &view, err, err_len) != 0)
        return -1;
    view.cfg.ctx = R->o->teacher->cfg.ctx;
    const int rc = calgae_convert_to_gguf(&view, tok, CALGAE_TYPE_F32, out_path, err, err_len);
    calgae_train_view_free(&view);
    return rc;
}

static void cleanup(struct run *R)
{
    calgae_train_free(&R->teacher);
    calgae_train_free(&R->student);
    if (R->quant)
        calgae_qad_free(&R->qad);
    free(R->window);
    free(R->teacher_logits);
    free(R->dlogits);
    free(R->eval_teacher);
}

int calgae_distill(const calgae_distill_opts *o, const calgae_tokenizer *tok, const char *out_path,
                   calgae_distill_result *r, char *err, size_t err_len)
{
    struct run R;
    memset(&R, 0, sizeof R);
    memset(r, 0, sizeof *r);
    R.o = o;
    if ((!o->qstudent) == (!o->shape)) {
        calgae_fail(err, err_len, "distill: give a quantized student or a student shape, not both");
        return -1;
    }
    if (tok->n_vocab != o->teacher->cfg.vocab_size) {
        calgae_fail(err, err_len, "%s: vocabulary of %d tokens for a teacher of %d",
                    o->teacher->path, tok->n_vocab, o->teacher->cfg.vocab_size);
        return -1;
    }
    int rc = setup(&R, err, err_len);
    if (rc == 0)
        rc = train(&R, r, err, err_len);
    if (rc == 0)
        rc = write_student(&R, tok, out_path, err, err_len);
    cleanup(&R);
    return rc;
}
