/* cmd_distill.c - `calgae distill`: quantization-aware or classic knowledge distillation from a
 * teacher model (the engine is core/train/distill.h). */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "distill.h"
#include "model_load.h"
#include "session.h"

static const char usage[] =
    "Usage: calgae distill --teacher MODEL (--student QUANT.gguf | --student-shape SHAPE)\n"
    "                      --data TEXT --eval TEXT --steps N --out OUT.gguf [options]\n"
    "\n"
    "Knowledge distillation on the CPU. With --student, a Q4_0/Q4_1/Q8_0 copy of the teacher (from\n"
    "'calgae quantize', RTN or AWQ) learns the floats its format leaves free (RMSNorm weights, block\n"
    "scales, Q4_1 minimums; codes stay fixed) by minimising KL(teacher || student), and is written\n"
    "in its own types. With --student-shape, a new model of that shape (tied embeddings, seeded\n"
    "random start) learns alpha * T^2 * KL at temperature T + (1 - alpha) * cross-entropy, and\n"
    "is written as F32 GGUF.\n"
    "\n"
    "Options:\n"
    "  -m, --teacher MODEL      the teacher (F32 GGUF or llama2.c .bin)\n"
    "      --student FILE       the quantized student (same shape and vocabulary)\n"
    "      --student-shape S    dim=..,layers=..,heads=..,kv_heads=..,ffn=..\n"
    "      --data TEXT          training text\n"
    "      --eval TEXT          held-out text (never the training text)\n"
    "      --steps N            optimizer steps\n"
    "  -o, --out OUT.gguf       the student to write (written whole or not at all)\n"
    "      --alpha A            weight of the teacher's soft targets, 0..1 (default 0.5)\n"
    "      --temperature T      softening temperature (default 2)\n"
    "      --lr X               peak learning rate (default 1e-3 with --student, else 3e-3)\n"
    "      --seq N              tokens per training window after BOS (default 128)\n"
    "      --batch N            windows per step (default 4)\n"
    "      --eval-every K       held-out loss every K steps (default 50)\n"
    "      --eval-windows N     held-out windows of --seq tokens (default 32)\n"
    "      --seed N             data order and initialisation (default 1)\n"
    "      --tokenizer FILE     the vocabulary (default: the teacher's own, or tokenizer.bin)\n"
    "      --checkpoint FILE    write a checkpoint (trained floats, Adam moments, step, data\n"
    "                           sampler state, the run's settings) when the run ends, atomically\n"
    "      --checkpoint-every N and every N steps too\n"
    "      --resume FILE        continue the run a checkpoint recorded (same settings, teacher,\n"
    "                           student and --data, else refused); the result is what one\n"
    "                           uninterrupted run gives, byte for byte\n"
    "      --stop-after N       end this run after step N of --steps (checkpoint and --out are\n"
    "                           written as of that step; --resume continues to --steps)\n"
    "  -t, --threads N          worker threads (default: physical cores)\n"
    "  -h, --help               show this help\n";

enum { O_STUDENT = 256, O_SHAPE, O_DATA, O_EVAL, O_STEPS, O_ALPHA, O_TEMP, O_LR, O_SEQ, O_BATCH,
       O_EVERY, O_WINDOWS, O_SEED, O_CKPT, O_CKPT_EVERY, O_RESUME, O_STOP };

struct opts {
    calgae_session_opts so;
    const char *student, *shape, *data, *eval, *out;
    calgae_distill_opts d;
    int has_lr;
};

static int parse(struct opts *o, int argc, char **argv)
{
    static const struct option longs[] = {
        {"teacher", required_argument, 0, 'm'}, {"student", required_argument, 0, O_STUDENT},
        {"student-shape", required_argument, 0, O_SHAPE}, {"data", required_argument, 0, O_DATA},
        {"eval", required_argument, 0, O_EVAL},   {"steps", required_argument, 0, O_STEPS},
        {"out", required_argument, 0, 'o'},       {"alpha", required_argument, 0, O_ALPHA},
        {"temperature", required_argument, 0, O_TEMP}, {"lr", required_argument, 0, O_LR},
        {"seq", required_argument, 0, O_SEQ},     {"batch", required_argument, 0, O_BATCH},
        {"eval-every", required_argument, 0, O_EVERY},
        {"eval-windows", required_argument, 0, O_WINDOWS},
        {"seed", required_argument, 0, O_SEED},   {"tokenizer", required_argument, 0, 'z'},
        {"checkpoint", required_argument, 0, O_CKPT},
        {"checkpoint-every", required_argument, 0, O_CKPT_EVERY},
        {"resume", required_argument, 0, O_RESUME}, {"stop-after", required_argument, 0, O_STOP},
        {"threads", required_argument, 0, 't'},   {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    int c;
    long v;
    double f;
    uint64_t u;
    if (calgae_args_check("distill", &argc, argv, ":m:o:t:h", longs) != 0)
        return 2;
    while ((c = getopt_long(argc, argv, ":m:o:t:h", longs, NULL)) != -1) {
        switch (c) {
        case 'm': o->so.model = optarg; break;
        case 'o': o->out = optarg; break;
        case 'z': o->so.tokenizer = optarg; break;
        case O_STUDENT: o->student = optarg; break;
        case O_SHAPE: o->shape = optarg; break;
        case O_DATA: o->data = optarg; break;
        case O_EVAL: o->eval = optarg; break;
        case 't':
            if (calgae_parse_int("--threads", optarg, 1, 1024, &v)) return 2;
            o->so.threads = (int)v;
            break;
        case O_STEPS:
            if (calgae_parse_int("--steps", optarg, 1, 10000000, &v)) return 2;
            o->d.steps = (int)v;
            break;
        case O_SEQ:
            if (calgae_parse_int("--seq", optarg, 2, 4096, &v)) return 2;
            o->d.seq = (int)v;
            break;
        case O_BATCH:
            if (calgae_parse_int("--batch", optarg, 1, 4096, &v)) return 2;
            o->d.batch = (int)v;
            break;
        case O_EVERY:
            if (calgae_parse_int("--eval-every", optarg, 0, 10000000, &v)) return 2;
            o->d.eval_every = (int)v;
            break;
        case O_WINDOWS:
            if (calgae_parse_int("--eval-windows", optarg, 1, 1000000, &v)) return 2;
            o->d.eval_windows = (int)v;
            break;
        case O_ALPHA:
            if (calgae_parse_float("--alpha", optarg, 0.0, 1.0, &f)) return 2;
            o->d.alpha = (float)f;
            break;
        case O_TEMP:
            if (calgae_parse_float("--temperature", optarg, 0.05, 100.0, &f)) return 2;
            o->d.temp = (float)f;
            break;
        case O_LR:
            if (calgae_parse_float("--lr", optarg, 1e-8, 10.0, &f)) return 2;
            o->d.lr = (float)f;
            o->has_lr = 1;
            break;
        case O_SEED:
            if (calgae_parse_u64("--seed", optarg, &u)) return 2;
            o->d.seed = u;
            break;
        case O_CKPT: o->d.checkpoint = optarg; break;
        case O_RESUME: o->d.resume = optarg; break;
        case O_CKPT_EVERY:
            if (calgae_parse_int("--checkpoint-every", optarg, 1, 10000000, &v)) return 2;
            o->d.checkpoint_every = (int)v;
            break;
        case O_STOP:
            if (calgae_parse_int("--stop-after", optarg, 1, 10000000, &v)) return 2;
            o->d.stop_after = (int)v;
            break;
        case 'h': fputs(usage, stdout); return -1;
        case ':':
        default: return calgae_option_error("distill", c, argv, longs);
        }
    }
    if (optind < argc || !o->so.model || !o->data || !o->eval || !o->out || !o->d.steps ||
        (!o->student == !o->shape)) {
        calgae_cli_error("distill needs --teacher, one of --student and --student-shape, --data, "
                         "--eval, --steps and --out (see 'calgae distill --help')");
        return 2;
    }
    if (o->d.checkpoint_every && !o->d.checkpoint) {
        calgae_cli_error("distill: --checkpoint-every needs --checkpoint FILE");
        return 2;
    }
    return 0;
}

/* The checkpoint is written, so it must not be one of the files read or the student written. */
static int check_checkpoint(const struct opts *o, const char *teacher)
{
    const char *c = o->d.checkpoint;
    const char *others[] = {teacher, o->student, o->data, o->eval, o->out};
    for (size_t i = 0; c && i < sizeof others / sizeof *others; i++)
        if (others[i] && calgae_same_file(c, others[i])) {
            calgae_cli_error("distill: --checkpoint %s is %s itself; write to another file", c,
                             others[i]);
            return 2;
        }
    return 0;
}

static void report(void *user, const calgae_distill_stats *s)
{
    (void)user;
    fprintf(stderr, "\rstep %d/%d  loss %.4f  %.0f tok/s  %.0fs left   ", s->step, s->steps,
            s->loss, s->tokens_per_s, s->eta_s);
    if (s->has_eval)
        fprintf(stderr, "\rstep %d/%d  loss %.4f  held-out: ppl %.4f  KL %.5f  %.0f tok/s\n",
                s->step, s->steps, s->loss, exp(s->eval_ce), s->eval_kl, s->tokens_per_s);
}

static int read_ids(const calgae_tokenizer *tok, const char *path, int32_t **ids, size_t *n,
                    char *err, size_t err_len)
{
    calgae_map map;
    if (calgae_map_file(&map, path, err, err_len) != 0)
        return -1;
    int rc = map.size == 0 ? calgae_fail(err, err_len, "%s: empty file", path)
                           : calgae_tokenizer_encode(tok, (const char *)map.data, map.size, 0, ids,
                                                     n, err, err_len);
    calgae_unmap(&map);
    return rc;
}

static int run(struct opts *o, calgae_session *s, char *err, size_t err_len)
{
    calgae_train_shape shape;
    calgae_transformer student;
    int have_student = 0, rc = -1;
    int32_t *train = NULL, *held = NULL;
    size_t n_train = 0, n_held = 0;
    memset(&shape, 0, sizeof shape);
    if (o->shape && calgae_train_parse_shape(o->shape, &shape, err, err_len) != 0)
        return 2;
    if (o->student) {
        if (calgae_transformer_load(&student, o->student, err, err_len) != 0)
            return 1;
        have_student = 1;
    }
    if (calgae_same_file(o->data, o->eval)) {
        calgae_fail(err, err_len, "distill: --eval %s is the training text itself", o->eval);
        goto done;
    }
    if (read_ids(s->tok, o->data, &train, &n_train, err, err_len) != 0 ||
        read_ids(s->tok, o->eval, &held, &n_held, err, err_len) != 0)
        goto done;
    o->d.teacher = s->model;
    o->d.qstudent = have_student ? &student : NULL;
    o->d.shape = o->shape ? &shape : NULL;
    o->d.train_ids = train;
    o->d.n_train = n_train;
    o->d.eval_ids = held;
    o->d.n_eval = n_held;
    o->d.bos = s->tok->bos_id;
    o->d.pool = s->pool;
    o->d.report = report;
    if (!o->has_lr)
        o->d.lr = have_student ? 1e-3f : 3e-3f;
    o->d.weight_decay = have_student ? 0.0f : 0.1f;
    o->d.clip = 1.0f;
    calgae_distill_result r;
    rc = calgae_distill(&o->d, s->tok, o->out, &r, err, err_len);
    if (rc == 0)
        fprintf(stderr, "calgae: wrote %s: %zu floats trained, %d steps in %.1f s (%.0f training "
                "tok/s, %d threads); held-out ppl %.4f -> %.4f, KL %.5f -> %.5f\n", o->out,
                r.trained_params, r.last_step - r.first_step, r.seconds, r.tokens_per_s,
                calgae_pool_threads(s->pool), exp(r.eval_ce_before), exp(r.eval_ce_after),
                r.eval_kl_before, r.eval_kl_after);
    if (rc == 0 && r.first_step > 0)
        fprintf(stderr, "calgae: resumed from %s at step %d, now at step %d of %d\n", o->d.resume,
                r.first_step, r.last_step, o->d.steps);
    if (rc == 0 && r.checkpoints > 0)
        fprintf(stderr, "calgae: checkpoint %s: %llu bytes, written %d times, %.1f ms each\n",
                o->d.checkpoint, (unsigned long long)r.checkpoint_bytes, r.checkpoints,
                r.checkpoint_seconds * 1e3 / r.checkpoints);
done:
    free(train);
    free(held);
    if (have_student)
        calgae_transformer_free(&student);
    return rc == 0 ? 0 : 1;
}

int calgae_cmd_distill(int argc, char **argv)
{
    struct opts o;
    memset(&o, 0, sizeof o);
    o.d.alpha = 0.5f;
    o.d.temp = 2.0f;
    o.d.seq = 128;
    o.d.batch = 4;
    o.d.eval_every = 50;
    o.d.eval_windows = 32;
    o.d.seed = 1;
    const int prc = parse(&o, argc, argv);
    if (prc != 0)
        return prc < 0 ? 0 : prc;
    char err[CALGAE_ERR_LEN];
    calgae_session s;
    int src = calgae_session_open(&s, &o.so, err, sizeof err);
    if (src != 0) {
        calgae_cli_error("%s", err);
        return src == CALGAE_SETTINGS_BAD ? 2 : 1;
    }
    if (calgae_check_out("distill", o.out, s.model->path, o.student) != 0 ||
        calgae_check_out("distill", o.out, o.data, o.eval) != 0 ||
        check_checkpoint(&o, s.model->path) != 0) {
        calgae_session_close(&s);
        return 2;
    }
    const int rc = run(&o, &s, err, sizeof err);
    if (rc != 0)
        calgae_cli_error("%s", err);
    calgae_session_close(&s);
    return rc;
}
