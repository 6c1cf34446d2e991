/* distill.c - see distill.h: the training loop both kinds of student share. */
#include "distill.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

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
    if (rc == 0) {
        r->trained_params = R.quant ? R.qad.n : R.student.n_params;
        evaluate(&R, &r->eval_ce_before, &r->eval_kl_before);
        const calgae_adamw opt = {o->lr, 0.9f, 0.95f, 1e-8f, o->weight_decay, o->clip,
                                  o->steps / 20, o->steps};
        calgae_distill_stats st = {0};
        st.steps = o->steps;
        for (int s = 0; s < o->steps && rc == 0; s++) {
            const double t0 = now();
            st.loss = step(&R, &opt, s);
            r->seconds += now() - t0;
            if (isnan(st.loss)) {
                rc = calgae_fail(err, err_len, "distill: out of memory, or the loss is NaN at "
                                 "step %d (lower --lr)", s + 1);
                break;
            }
            st.step = s + 1;
            st.tokens_per_s = (double)st.step * o->batch * o->seq / r->seconds;
            st.eta_s = r->seconds / st.step * (o->steps - st.step);
            st.has_eval = (o->eval_every > 0 && st.step % o->eval_every == 0) ||
                          st.step == o->steps;
            if (st.has_eval)
                evaluate(&R, &st.eval_ce, &st.eval_kl);
            if (o->report)
                o->report(o->report_user, &st);
        }
        r->eval_ce_after = st.eval_ce;
        r->eval_kl_after = st.eval_kl;
        r->tokens_per_s = st.tokens_per_s;
    }
    if (rc == 0)
        rc = write_student(&R, tok, out_path, err, err_len);
    cleanup(&R);
    return rc;
}
