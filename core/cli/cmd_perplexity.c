/*
 * cmd_perplexity.c - `calgae perplexity`: perplexity on a text file, and with --kl-base the KL
 * divergence from a base model and top-1 agreement, computed as llama.cpp's perplexity tool
 * does (see perplexity.h). The result is the last line on stdout. --kl-divergence-base writes,
 * and with --kl-divergence reads, llama.cpp's logits file (kldfile.h), so that llama-perplexity
 * and calgae can each be the base for the other.
 */
#define _GNU_SOURCE /* sigaction */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "gguf.h"
#include "kldfile.h"
#include "outfile.h"
#include "perplexity.h"
#include "progress.h"
#include "session.h"

#define DEFAULT_CTX 512 /* llama.cpp's customary perplexity context, and stories260K's trained one */

static const char usage[] =
    "Usage: calgae perplexity --model M --file TEXT [--ctx N] [--kl-base BASE] [options]\n"
    "\n"
    "Perplexity of M on a text, in windows of --ctx tokens that start with BOS, scoring the\n"
    "second half of each window (llama.cpp's method). With --kl-base, also the mean KL\n"
    "divergence of M's next-token distribution from BASE's and how often their top-1 tokens\n"
    "agree. The result is the last line on stdout.\n"
    "\n"
    "Options:\n"
    "  -m, --model M          the model to evaluate (required)\n"
    "  -f, --file TEXT        the text to score (required); not the calibration text\n"
    "  -c, --ctx N            window length (default: 512, or the model's context if smaller)\n"
    "      --kl-base BASE     the reference model (usually the F32 one); same vocabulary\n"
    "      --chunks N         evaluate at most N windows (default: all)\n"
    "      --kl-divergence-base FILE\n"
    "                         without --kl-divergence: write M's log-probabilities to FILE as\n"
    "                         llama-perplexity --kl-divergence-base does (2 windows of text)\n"
    "      --kl-divergence    read FILE (from calgae or llama-perplexity) as the base: KLD, same\n"
    "                         top-1 and PPL of M on the file's tokens and windows (no --file)\n"
    "      --tokenizer FILE   vocabulary for .bin models (used for M and BASE)\n"
    "  -t, --threads N        worker threads (default: physical cores)\n"
    "      --backend NAME     kernel plugin (default: auto)\n"
    "  -h, --help             show this help\n";

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

struct opts {
    calgae_session_opts so;
    const char *file, *base, *kld_file;
    long ctx, chunks;
    int kld_read;
};

static int parse(int argc, char **argv, struct opts *o)
{
    enum { O_BASE = 256, O_CHUNKS, O_TOK, O_BACKEND, O_KLD_FILE, O_KLD };
    static const struct option longs[] = {
        {"model", required_argument, 0, 'm'},     {"file", required_argument, 0, 'f'},
        {"ctx", required_argument, 0, 'c'},       {"kl-base", required_argument, 0, O_BASE},
        {"chunks", required_argument, 0, O_CHUNKS}, {"tokenizer", required_argument, 0, O_TOK},
        {"threads", required_argument, 0, 't'},   {"backend", required_argument, 0, O_BACKEND},
        {"kl-divergence-base", required_argument, 0, O_KLD_FILE},
        {"kl-divergence", no_argument, 0, O_KLD},
        {"help", no_argument, 0, 'h'},            {0, 0, 0, 0}};
    long v;
    int c;
    if (calgae_args_check("perplexity", &argc, argv, ":m:f:c:t:h", longs) != 0)
        return 2;
    while ((c = getopt_long(argc, argv, ":m:f:c:t:h", longs, NULL)) != -1) {
        switch (c) {
        case 'm': o->so.model = optarg; break;
        case 'f': o->file = optarg; break;
        case 'c': if (calgae_parse_int("--ctx", optarg, 4, 1 << 24, &o->ctx)) return 2; break;
        case O_BASE: o->base = optarg; break;
        case O_CHUNKS: if (calgae_parse_int("--chunks", optarg, 1, 1 << 30, &o->chunks)) return 2; break;
        case O_TOK: o->so.tokenizer = optarg; break;
        case O_KLD_FILE: o->kld_file = optarg; break;
        case O_KLD: o->kld_read = 1; break;
        case O_BACKEND: o->so.backend = optarg; break;
        case 't':
            if (calgae_parse_int("--threads", optarg, 1, 1024, &v)) return 2;
            o->so.threads = (int)v;
            break;
        case 'h': fputs(usage, stdout); return -1;
        case ':':
        default: return calgae_option_error("perplexity", c, argv, longs);
        }
    }
    if (optind < argc || !o->so.model) {
        calgae_cli_error("perplexity needs --model (see 'calgae perplexity --help')");
        return 2;
    }
    if (o->kld_read && !o->kld_file) {
        calgae_cli_error("--kl-divergence needs --kl-divergence-base FILE (the base's logits)");
        return 2;
    }
    if (o->kld_file && o->base) {
        calgae_cli_error("--kl-base and --kl-divergence-base are two ways to give a base: use one");
        return 2;
    }
    if (o->kld_read && (o->file || o->ctx || o->chunks)) {
        calgae_cli_error("--kl-divergence takes the tokens, --ctx and chunks from the base file: "
                         "drop --file, --ctx and --chunks");
        return 2;
    }
    return 0;
}

/* A model's calgae.quantize.calib_hash (written by `calgae quantize --method awq`), or 0. */
static uint64_t calib_hash_of(const calgae_transformer *m)
{
    const calgae_gguf *meta = calgae_transformer_meta(m);
    if (!meta)
        return 0;
    calgae_gguf_str s;
    char buf[24];
    if (calgae_gguf_get_str(meta, "calgae.quantize.calib_hash", &s, m->path, NULL, 0) != 0 ||
        s.len >= sizeof buf)
        return 0;
    memcpy(buf, s.ptr, s.len);
    buf[s.len] = '\0';
    return strtoull(buf, NULL, 16);
}

/* The token each window starts with: BOS, or none (-1) where the vocabulary adds no BOS
 * (tokenizer.ggml.add_bos_token false, as Qwen2's): llama-perplexity's add_bos rule. */
static int32_t window_bos(const calgae_session *m)
{
    return m->tok->add_bos ? m->tok->bos_id : -1;
}

/* --kl-divergence-base without --kl-divergence: each scored row, compressed, goes to the file */
struct kld_writer {
    FILE *f;
    const char *path;
    uint8_t *row;
};

static int write_row(void *user, const float *logits, int vocab, int32_t target, char *err,
                     size_t err_len)
{
    struct kld_writer *w = user;
    calgae_kldfile_encode(logits, vocab, target, w->row);
    const size_t len = calgae_kldfile_row_bytes(vocab);
    if (fwrite(w->row, 1, len, w->f) != len)
        return calgae_fail(err, err_len, "%s: write failed", w->path);
    return 0;
}

/* The header and the tokens of the chunks, as llama-perplexity writes them. */
static int write_head(FILE *f, const char *path, const int32_t *ids, int ctx, int vocab,
                      int chunks, char *err, size_t err_len)
{
    uint8_t head[CALGAE_KLDFILE_HEADER];
    calgae_kldfile_header(head, ctx, vocab, chunks);
    int ok = fwrite(head, 1, sizeof head, f) == sizeof head;
    for (size_t i = 0; ok && i < (size_t)ctx * (size_t)chunks; i++) {
        const uint32_t v = (uint32_t)ids[i];
        const uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
        ok = fwrite(b, 1, 4, f) == 4;
    }
    return ok ? 0 : calgae_fail(err, err_len, "%s: write failed", path);
}

/* --kl-divergence: each scored row of the model against the file's next base row */
struct kld_reader {
    const calgae_kldfile *kf;
    size_t next;
    calgae_kld_acc acc;
};

static int read_row(void *user, const float *logits, int vocab, int32_t target, char *err,
                    size_t err_len)
{
    (void)err;
    (void)err_len;
    struct kld_reader *r = user;
    calgae_kld_add(&r->acc, logits, vocab, calgae_kldfile_row(r->kf, r->next++), target);
    return 0;
}

static void print_kld(const calgae_kld_acc *a, const char *model, const char *base)
{
    calgae_kld_stats s;
    calgae_kld_stats_of(a, &s);
    printf("Mean PPL(Q)                   : %10.6f +/- %10.6f\n", s.ppl, s.ppl_se);
    printf("Mean PPL(base)                : %10.6f +/- %10.6f\n", s.base_ppl, s.base_ppl_se);
    printf("Mean ln(PPL(Q)/PPL(base))     : %10.6f +/- %10.6f\n", s.ln_ratio, s.ln_ratio_se);
    printf("Mean    KLD                   : %10.6f +/- %10.6f\n", s.kld, s.kld_se);
    printf("RMS Delta p                   : %6.3f +/- %5.3f %%\n", 100.0 * s.rms_dp,
           100.0 * s.rms_dp_se);
    printf("Same top p                    : %6.3f +/- %5.3f %%\n", 100.0 * s.top1, 100.0 * s.top1_se);
    printf("PPL = %.6f +/- %.6f, base PPL = %.6f, KLD = %.6f +/- %.6f, same top p = %.3f +/- "
           "%.3f %% (%s against %s, %lld positions)\n", s.ppl, s.ppl_se, s.base_ppl, s.kld,
           s.kld_se, 100.0 * s.top1, 100.0 * s.top1_se, model, base, (long long)a->count);
}

/* Reads the base file and runs the model on its tokens and windows. */
static int evaluate_kld(calgae_session *m, const calgae_kldfile *kf, const char *path,
                        calgae_progress_bar *bar, char *err, size_t err_len)
{
    const size_t n = (size_t)kf->n_ctx * (size_t)kf->n_chunk;
    int32_t *ids = malloc(n * sizeof *ids);
    if (!ids)
        return calgae_fail(err, err_len, "out of memory");
    for (size_t i = 0; i < n; i++)
        ids[i] = calgae_kldfile_token(kf, i);
    struct kld_reader rd = {.kf = kf};
    calgae_ppl_opts po = {.ctx = kf->n_ctx, .max_windows = kf->n_chunk, .bos = window_bos(m),
                          .progress = calgae_progress_update, .progress_user = bar,
                          .stop = &stop_flag, .row = read_row, .row_user = &rd};
    calgae_ppl_result r;
    int rc = calgae_perplexity(m->st, NULL, ids, n, &po, &r, err, err_len);
    calgae_progress_clear(bar);
    free(ids);
    if (rc != 0)
        return -1;
    print_kld(&rd.acc, m->model->path, path);
    return 0;
}

static int evaluate(const struct opts *o, calgae_session *m, calgae_session *b, const char *file,
                    calgae_progress_bar *bar, char *err, size_t err_len)
{
    calgae_map map;
    if (calgae_map_file(&map, file, err, err_len) != 0)
        return -1;
    const uint64_t hash = calgae_text_hash(map.data, map.size);
    if (hash == calib_hash_of(m->model) || (b && hash == calib_hash_of(b->model)))
        fprintf(stderr, "calgae: warning: %s is the text this model was calibrated on; its "
                "figures do not measure held-out quality\n", file);
    int32_t *ids = NULL;
    size_t n = 0;
    int rc = map.size == 0 ? calgae_fail(err, err_len, "%s: empty file", file)
                           : calgae_tokenizer_encode(m->tok, (const char *)map.data, map.size, 1,
                                                     &ids, &n, err, err_len);
    calgae_unmap(&map);
    if (rc != 0)
        return -1;
    calgae_ppl_opts po = {.ctx = m->st->ctx, .max_windows = (int)o->chunks, .bos = window_bos(m),
                          .progress = calgae_progress_update, .progress_user = bar,
                          .stop = &stop_flag};
    const int vocab = m->model->cfg.vocab_size;
    struct kld_writer w = {.path = o->kld_file};
    calgae_outfile out = {0};
    if (o->kld_file) {
        /* llama-perplexity's rule and chunk count, so both programs write the same tokens */
        if (n < 2 * (size_t)po.ctx) {
            free(ids);
            return calgae_fail(err, err_len, "%s: %zu tokens; writing %s needs at least %d (two "
                               "windows of %d)", file, n, o->kld_file, 2 * po.ctx, po.ctx);
        }
        int chunks = (int)(n / (size_t)po.ctx);
        po.max_windows = o->chunks && o->chunks < chunks ? (int)o->chunks : chunks;
        w.row = malloc(calgae_kldfile_row_bytes(vocab));
        if (!w.row || calgae_outfile_open(&out, o->kld_file, err, err_len) != 0) {
            if (!w.row)
                calgae_fail(err, err_len, "out of memory");
            free(w.row);
            free(ids);
            return -1;
        }
        w.f = out.f;
        po.row = write_row;
        po.row_user = &w;
        rc = write_head(out.f, o->kld_file, ids, po.ctx, vocab, po.max_windows, err, err_len);
    }
    calgae_ppl_result r;
    const double t0 = calgae_now_ms();
    if (rc == 0)
        rc = calgae_perplexity(m->st, b ? b->st : NULL, ids, n, &po, &r, err, err_len);
    calgae_progress_clear(bar);
    free(ids);
    free(w.row);
    if (o->kld_file && rc != 0)
        calgae_outfile_abort(&out);
    else if (o->kld_file)
        rc = calgae_outfile_commit(&out, err, err_len);
    if (rc != 0)
        return -1;
    const char *ws = r.windows == 1 ? "" : "s";
    fprintf(stderr, "calgae: %s: %zu tokens, %d window%s of %d, %lld positions scored, %.1f s\n",
            file, n, r.windows, ws, po.ctx, (long long)r.scored, (calgae_now_ms() - t0) / 1000.0);
    if (!r.have_base) {
        printf("PPL = %.4f +/- %.4f (%s, %d window%s of %d, %lld positions)\n", r.ppl, r.ppl_se,
               m->model->path, r.windows, ws, po.ctx, (long long)r.scored);
        return 0;
    }
    printf("base PPL = %.4f +/- %.4f (%s)\n", r.base_ppl, r.base_ppl_se, b->model->path);
    printf("PPL = %.4f +/- %.4f, KLD = %.6f +/- %.6f (max %.4f), same top-1 = %.2f +/- %.2f %% "
           "(%s, %d window%s of %d, %lld positions)\n",
           r.ppl, r.ppl_se, r.kld, r.kld_se, r.kld_max, 100.0 * r.top1, 100.0 * r.top1_se,
           m->model->path, r.windows, ws, po.ctx, (long long)r.scored);
    return 0;
}

int calgae_cmd_perplexity(int argc, char **argv)
{
    struct opts o = {.so = {.need_state = 1}};
    int prc = parse(argc, argv, &o);
    if (prc != 0)
        return prc < 0 ? 0 : prc;
    const char *file = o.file;
    char err[CALGAE_ERR_LEN];
    calgae_map kmap = {0};
    calgae_kldfile kf;
    if (o.kld_read) {
        if (calgae_map_file(&kmap, o.kld_file, err, sizeof err) != 0 ||
            calgae_kldfile_parse(&kf, kmap.data, kmap.size, o.kld_file, err, sizeof err) != 0) {
            calgae_cli_error("%s", err);
            calgae_unmap(&kmap);
            return 1;
        }
        o.ctx = kf.n_ctx;
    }
    if (!file && !o.kld_read) {
        calgae_cli_error("perplexity: --file TEXT is required: the text to score (held out from any "
                     "calibration)");
        return 2;
    }
    calgae_session m, b;
    o.so.ctx = (int)(o.ctx ? o.ctx : DEFAULT_CTX);
    int rc = calgae_session_open(&m, &o.so, err, sizeof err);
    if (rc != 0) {
        calgae_cli_error("%s", err);
        calgae_unmap(&kmap);
        return rc < -1 ? 2 : 1;
    }
    if (o.ctx > m.st->ctx) {
        if (o.kld_read)
            calgae_cli_error("%s: windows of %ld tokens, longer than the model's context (%d)",
                             o.kld_file, o.ctx, m.st->ctx);
        else
            calgae_cli_error("--ctx %ld is longer than the model's context (%d)", o.ctx, m.st->ctx);
        calgae_session_close(&m);
        calgae_unmap(&kmap);
        return 2;
    }
    if (rc == 0 && m.tok->add_eos) {
        /* llama-perplexity asserts the same: an EOS after the text would be scored as text */
        calgae_cli_error("%s: the vocabulary adds EOS after a text (add_eos_token), which "
                         "perplexity windows cannot hold (llama-perplexity refuses it too)",
                         m.model->path);
        rc = 1;
    }
    if (o.kld_read && kf.n_vocab != m.model->cfg.vocab_size) {
        calgae_cli_error("%s: a vocabulary of %d tokens; %s has %d", o.kld_file, kf.n_vocab,
                         m.model->path, m.model->cfg.vocab_size);
        rc = 1;
    }
    calgae_session_opts bo = o.so;
    bo.model = o.base;
    bo.ctx = m.st->ctx;
    if (o.base && (rc = calgae_session_open(&b, &bo, err, sizeof err)) != 0) {
        calgae_cli_error("--kl-base: %s", err);
        calgae_session_close(&m);
        return rc < -1 ? 2 : 1;
    }
    if (o.base && b.st->ctx < m.st->ctx) {
        calgae_cli_error("--kl-base: the base model's context (%d) is shorter than %d (lower --ctx)",
                     b.st->ctx, m.st->ctx);
        rc = 1;
    }
    struct sigaction sa = {0}, old_int, old_term;
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    calgae_progress_bar bar;
    calgae_progress_init(&bar);
    if (rc == 0 && o.kld_read) {
        if (evaluate_kld(&m, &kf, o.kld_file, &bar, err, sizeof err) != 0) {
            calgae_cli_error("%s", err);
            rc = 1;
        }
    } else if (rc == 0 && evaluate(&o, &m, o.base ? &b : NULL, file, &bar, err, sizeof err) != 0) {
        calgae_cli_error("%s", err);
        rc = 1;
    }
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    if (o.base)
        calgae_session_close(&b);
    calgae_session_close(&m);
    calgae_unmap(&kmap);
    if (rc != 0 && stop_flag)
        return 130;
    return rc;
}
