/*
 * cmd_quantize.c - `calgae quantize`: a model to a GGUF in ggml's Q8_0, Q4_0 or Q4_1 blocks, by
 * round-to-nearest (ggml's reference rounding, llama.cpp's bytes) or by AWQ (Lin et al., MLSys
 * 2024) calibrated on a text file; the engine is quantize.h.
 */
#define _GNU_SOURCE /* sigaction */
#include <dirent.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "args.h"
#include "gguf.h"
#include "perplexity.h"
#include "progress.h"
#include "quantize.h"
#include "session.h"

#define DEFAULT_CALIB_TOKENS 65536 /* the paper's 128 samples of 512 tokens */
#define BYTES_PER_TOKEN_MAX 16     /* generous: only this much of a big text is tokenized */

static const char usage[] =
    "Usage: calgae quantize --model IN --out OUT.gguf --type TYPE [options]\n"
    "\n"
    "Write a model as a GGUF in ggml's block types, loadable by Calgae and llama.cpp. IN is a GGUF\n"
    "(F32, F16, ...) or a llama2.c .bin. Norms stay F32; a matrix whose rows are not whole\n"
    "32-value blocks stays F32.\n"
    "\n"
    "Methods:\n"
    "  rtn   round to nearest per block, exactly as llama.cpp's reference quantizers (default)\n"
    "  awq   activation-aware: per-channel scales searched on calibration text and folded into\n"
    "        the RMSNorm weights, wv and up; then per-block clipping (Lin et al., MLSys 2024)\n"
    "\n"
    "Options:\n"
    "  -m, --model IN             the model (required)\n"
    "  -o, --out OUT.gguf         the file to write (required; written whole or not at all)\n"
    "      --type TYPE            q8_0, q4_0 or q4_1: every layer matrix of that type; or one\n"
    "                             of llama-quantize's: Q2_K, Q3_K_S, Q3_K_M, Q3_K_L, Q4_K_S,\n"
    "                             Q4_K_M, Q5_K_S, Q5_K_M, Q6_K, IQ4_NL, IQ4_XS, Q5_0, Q5_1,\n"
    "                             BF16, Q8_0, Q4_0, Q4_1 (upper case; any case for the names\n"
    "                             not above), with llama-quantize's per-tensor mixture\n"
    "      --pure                 with llama-quantize's types: every matrix of the base type\n"
    "      --method rtn|awq       (default rtn)\n"
    "      --calib FILE           calibration text for AWQ (required with --method awq); never\n"
    "                             evaluate on it\n"
    "      --calib-tokens N       calibration tokens (default 65536)\n"
    "      --no-clip              AWQ without the clipping search\n"
    "      --keep-embeddings T    token embeddings in f32 or q8_0 (default f32; with\n"
    "                             llama-quantize's types, their choice)\n"
    "      --output-type T        the classifier's type, any ggml type (default: --type, or\n"
    "                             llama-quantize's choice)\n"
    "      --tokenizer FILE       the vocabulary (default: the model's own, or tokenizer.bin\n"
    "                             beside a .bin)\n"
    "  -t, --threads N            worker threads (default: physical cores)\n"
    "      --backend NAME         kernel plugin for the calibration runs (default: auto)\n"
    "  -v, --verbose              the AWQ search, group by group\n"
    "  -h, --help                 show this help\n";

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

/* Any type of the table with a quantizer, by ggml's name in either case ("q6_k", "BF16"). */
static int parse_any_type(const char *flag, const char *s, uint32_t *type)
{
    const calgae_type_info *t;
    if (calgae_type_by_name(s, type) == 0 && (t = calgae_type_traits(*type)) && t->from_float &&
        *type != CALGAE_TYPE_Q8_K)
        return 0;
    calgae_cli_error("%s: unknown type '%s' (a ggml type such as f32, f16, bf16, q8_0, q4_k, "
                     "q6_k, iq4_nl)", flag, s);
    return -1;
}

/* --type: Calgae's own q8_0, q4_0, q4_1 (every layer matrix of that type; embeddings per
 * --keep-embeddings), or a llama-quantize mixture (every other name, and the upper-case Q8_0,
 * Q4_0, Q4_1), which picks the type of each matrix as llama-quantize does. */
static int parse_matrix_type(const char *s, calgae_qtypes *t)
{
    if (strcmp(s, "q8_0") && strcmp(s, "q4_0") && strcmp(s, "q4_1")) {
        t->recipe = calgae_recipe_by_name(s);
        if (!t->recipe) {
            calgae_cli_error("--type: unknown type '%s' (q8_0, q4_0, q4_1, or a llama-quantize "
                             "type: Q2_K, Q3_K_S, Q3_K_M, Q3_K_L, Q4_K_S, Q4_K_M, Q5_K_S, "
                             "Q5_K_M, Q6_K, IQ4_NL, IQ4_XS, Q5_0, Q5_1, Q8_0, Q4_0, Q4_1, BF16)",
                             s);
            return -1;
        }
        t->matrix = t->recipe->base;
        return 0;
    }
    t->recipe = NULL;
    return calgae_type_by_name(s, &t->matrix);
}

struct opts {
    calgae_session_opts so;
    const char *out, *calib;
    int awq, clip, have_type, have_output;
    long calib_tokens;
    calgae_qtypes types;
};

static int parse(int argc, char **argv, struct opts *o)
{
    enum { O_TYPE = 256, O_METHOD, O_CALIB, O_CALIB_TOKENS, O_NO_CLIP, O_EMBD, O_OUTPUT, O_TOK,
           O_BACKEND, O_PURE };
    static const struct option longs[] = {
        {"model", required_argument, 0, 'm'},         {"out", required_argument, 0, 'o'},
        {"type", required_argument, 0, O_TYPE},       {"method", required_argument, 0, O_METHOD},
        {"calib", required_argument, 0, O_CALIB},
        {"calib-tokens", required_argument, 0, O_CALIB_TOKENS},
        {"no-clip", no_argument, 0, O_NO_CLIP},       {"keep-embeddings", required_argument, 0, O_EMBD},
        {"output-type", required_argument, 0, O_OUTPUT},
        {"tokenizer", required_argument, 0, O_TOK},   {"threads", required_argument, 0, 't'},
        {"backend", required_argument, 0, O_BACKEND}, {"verbose", no_argument, 0, 'v'},
        {"pure", no_argument, 0, O_PURE},
        {"help", no_argument, 0, 'h'},                {0, 0, 0, 0}};
    long v;
    int c;
    if (calgae_args_check("quantize", &argc, argv, ":m:o:t:vh", longs) != 0)
        return 2;
    while ((c = getopt_long(argc, argv, ":m:o:t:vh", longs, NULL)) != -1) {
        switch (c) {
        case 'm': o->so.model = optarg; break;
        case 'o': o->out = optarg; break;
        case O_TYPE:
            if (parse_matrix_type(optarg, &o->types)) return 2;
            o->have_type = 1;
            break;
        case O_PURE: o->types.pure = 1; break;
        case O_METHOD:
            if (strcmp(optarg, "rtn") && strcmp(optarg, "awq")) {
                calgae_cli_error("--method: unknown method '%s' (rtn or awq)", optarg);
                return 2;
            }
            o->awq = !strcmp(optarg, "awq");
            break;
        case O_CALIB: o->calib = optarg; break;
        case O_CALIB_TOKENS:
            if (calgae_parse_int("--calib-tokens", optarg, 2, 1L << 26, &v)) return 2;
            o->calib_tokens = v;
            break;
        case O_NO_CLIP: o->clip = 0; break;
        case O_EMBD:
            if (strcmp(optarg, "f32") && strcmp(optarg, "q8_0")) {
                calgae_cli_error("--keep-embeddings: '%s' is not f32 or q8_0", optarg);
                return 2;
            }
            o->types.embd = !strcmp(optarg, "f32") ? CALGAE_TYPE_F32 : CALGAE_TYPE_Q8_0;
            o->types.embd_set = 1;
            break;
        case O_OUTPUT:
            if (parse_any_type("--output-type", optarg, &o->types.output)) return 2;
            o->have_output = o->types.output_set = 1;
            break;
        case O_TOK: o->so.tokenizer = optarg; break;
        case O_BACKEND: o->so.backend = optarg; break;
        case 't':
            if (calgae_parse_int("--threads", optarg, 1, 1024, &v)) return 2;
            o->so.threads = (int)v;
            break;
        case 'v': o->so.verbose = 1; break;
        case 'h': fputs(usage, stdout); return -1;
        case ':':
        default: return calgae_option_error("quantize", c, argv, longs);
        }
    }
    if (optind < argc || !o->so.model || !o->out || !o->have_type) {
        calgae_cli_error("quantize needs --model, --out and --type (see 'calgae quantize --help')");
        return 2;
    }
    if (!o->have_output)
        o->types.output = o->types.matrix;
    if (o->types.pure && !o->types.recipe) {
        calgae_cli_error("--pure is for llama-quantize's types (Q4_K_M, ...), not q8_0/q4_0/q4_1");
        return 2;
    }
    if (!o->awq && (o->calib || o->calib_tokens)) {
        calgae_cli_error("--calib and --calib-tokens are for --method awq");
        return 2;
    }
    if (o->awq && !o->calib) {
        calgae_cli_error("quantize: --method awq needs --calib FILE: the calibration text");
        return 2;
    }
    return 0;
}

/* The calibration text as tokens (BOS first, at most max of them) and the whole file's hash. */
static int read_calib(const char *path, const calgae_tokenizer *t, long max, int32_t **ids,
                      size_t *n, uint64_t *hash, char *err, size_t err_len)
{
    calgae_map map;
    if (calgae_map_file(&map, path, err, err_len) != 0)
        return -1;
    *hash = calgae_text_hash(map.data, map.size);
    size_t len = map.size;
    if (len / BYTES_PER_TOKEN_MAX > (size_t)max) {
        len = (size_t)max * BYTES_PER_TOKEN_MAX;
        while (len > 0 && map.data[len - 1] != '\n') /* whole lines only */
            len--;
    }
    int rc = len == 0 ? calgae_fail(err, err_len, "%s: no calibration text in it", path)
                      : calgae_tokenizer_encode(t, (const char *)map.data, len, 1, ids, n, err,
                                                err_len);
    calgae_unmap(&map);
    if (rc == 0 && *n > (size_t)max)
        *n = (size_t)max;
    if (rc == 0 && *n < 2)
        rc = calgae_fail(err, err_len, "%s: too little calibration text (%zu tokens)", path, *n);
    return rc;
}

static uint64_t source_tensor_bytes(const calgae_transformer *m, uint64_t *params)
{
    const calgae_config *c = &m->cfg;
    uint64_t b = (uint64_t)m->tok_embd.rows * m->tok_embd.row_bytes;
    *params = (uint64_t)m->tok_embd.rows * (uint64_t)m->tok_embd.cols;
    if (!m->tied) {
        b += (uint64_t)m->output.rows * m->output.row_bytes;
        *params += (uint64_t)m->output.rows * (uint64_t)m->output.cols;
    }
    b += calgae_transformer_weight_bytes(m) - (uint64_t)m->output.rows * m->output.row_bytes;
    const uint64_t norms = (uint64_t)c->dim * (2 * (uint64_t)c->n_layers + 1);
    const uint64_t kv = (uint64_t)c->head_size * (uint64_t)c->n_kv_heads;
    *params += norms + (uint64_t)c->n_layers * ((uint64_t)c->dim * c->dim * 2 + kv * c->dim * 2 +
                                                (uint64_t)c->hidden_dim * c->dim * 3);
    return b + norms * sizeof(float);
}

static void log_line(void *user, const char *line)
{
    calgae_progress_clear(user);
    fprintf(stderr, "calgae: %s\n", line);
}

/* The input's size: a file's, or a Hugging Face folder's safetensors (a snapshot's are links to
 * blobs, which stat follows). */
static double input_bytes(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return 0;
    if (!S_ISDIR(st.st_mode))
        return (double)st.st_size;
    double sum = 0;
    DIR *d = opendir(path);
    for (struct dirent *e; d && (e = readdir(d)) != NULL;) {
        char p[CALGAE_PATH_MAX + 300];
        size_t n = strlen(e->d_name);
        snprintf(p, sizeof p, "%s/%s", path, e->d_name);
        if (n > 12 && strcmp(e->d_name + n - 12, ".safetensors") == 0 && stat(p, &st) == 0)
            sum += (double)st.st_size;
    }
    if (d)
        closedir(d);
    return sum;
}

static void summary(const struct opts *o, const calgae_transformer *src, const calgae_qsizes *qs,
                    const calgae_awq_report *rep, double ms_total, double ms_calib)
{
    struct stat out;
    const double mib = 1024.0 * 1024.0;
    double in_mib = input_bytes(src->path) / mib;
    double out_mib = stat(o->out, &out) == 0 ? (double)out.st_size / mib : 0.0;
    uint64_t src_params = 0;
    const uint64_t src_bytes = source_tensor_bytes(src, &src_params);
    if (o->types.recipe)
        fprintf(stderr, "calgae: wrote %s: %s%s (llama-quantize's mixture), %s\n", o->out,
                o->types.recipe->name, o->types.pure ? " --pure" : "", o->awq ? "AWQ" : "RTN");
    else
        fprintf(stderr, "calgae: wrote %s: %s (embeddings %s, classifier %s), %s\n", o->out,
                calgae_type_name(o->types.matrix), calgae_type_name(o->types.embd),
                calgae_type_name(o->types.output), o->awq ? "AWQ" : "RTN");
    if (rep) {
        fprintf(stderr, "calgae: awq: %lld calibration tokens, %d pass%s, %d groups searched, %d "
                "scaled; calibration output error %+.1f%% vs RTN",
                (long long)rep->calib_tokens, rep->passes, rep->passes == 1 ? "" : "es",
                rep->groups, rep->groups_scaled,
                rep->err_rtn > 0 ? 100.0 * (rep->err_awq - rep->err_rtn) / rep->err_rtn : 0.0);
        if (o->clip)
            fprintf(stderr, "; clipped %lld of %lld blocks (block error %+.1f%%)",
                    (long long)rep->clip.clipped, (long long)rep->clip.blocks,
                    rep->clip.err_before > 0
                        ? 100.0 * (rep->clip.err_after - rep->clip.err_before) / rep->clip.err_before
                        : 0.0);
        fputc('\n', stderr);
    }
    fprintf(stderr, "calgae: size %.3f MiB -> %.3f MiB (%.2fx smaller), %.2f -> %.2f bits per "
            "weight, %.2f s", in_mib, out_mib, out_mib > 0 ? in_mib / out_mib : 0.0,
            src_params ? 8.0 * (double)src_bytes / (double)src_params : 0.0,
            qs->params ? 8.0 * (double)qs->tensor_bytes / (double)qs->params : 0.0,
            ms_total / 1000.0);
    if (rep)
        fprintf(stderr, " (AWQ %.2f s)", ms_calib / 1000.0);
    fputc('\n', stderr);
}

static int quantize(const struct opts *o, calgae_session *s, calgae_progress_bar *bar,
                    char *err, size_t err_len)
{
    const double t0 = calgae_now_ms();
    calgae_qmeta meta = {o->awq ? "awq" : "rtn", 0, 0};
    calgae_qsizes qs = {0};
    if (!o->awq) {
        if (calgae_quantize_write(s->model, s->tok, &o->types, &meta, o->out, &qs, err, err_len))
            return -1;
        summary(o, s->model, &qs, NULL, calgae_now_ms() - t0, 0.0);
        return 0;
    }
    int32_t *ids = NULL;
    size_t n = 0;
    const long max = o->calib_tokens ? o->calib_tokens : DEFAULT_CALIB_TOKENS;
    if (read_calib(o->calib, s->tok, max, &ids, &n, &meta.calib_hash, err, err_len) != 0)
        return -1;
    meta.calib_tokens = (int64_t)n;
    calgae_fmodel f;
    calgae_awq_report rep;
    int rc = calgae_fmodel_init(&f, s->model, err, err_len);
    if (rc == 0) {
        calgae_awq_opts ao = {.types = o->types, .ids = ids, .n_ids = n, .clip = o->clip,
                              .progress = calgae_progress_update, .progress_user = bar,
                              .log = o->so.verbose ? log_line : NULL, .log_user = bar,
                              .stop = &stop_flag};
        rc = calgae_awq_run(&f, s->be, s->pool, &ao, &rep, err, err_len);
        const double t_awq = calgae_now_ms() - t0;
        calgae_progress_clear(bar);
        if (rc == 0 && stop_flag)
            rc = calgae_fail(err, err_len, "interrupted");
        if (rc == 0)
            rc = calgae_quantize_write(&f.model, s->tok, &o->types, &meta, o->out, &qs, err,
                                       err_len);
        if (rc == 0)
            summary(o, s->model, &qs, &rep, calgae_now_ms() - t0, t_awq);
        calgae_fmodel_free(&f);
    }
    free(ids);
    return rc;
}

int calgae_cmd_quantize(int argc, char **argv)
{
    struct opts o = {.clip = 1, .types = {.embd = CALGAE_TYPE_F32}};
    int prc = parse(argc, argv, &o);
    if (prc != 0)
        return prc < 0 ? 0 : prc;
    if (!o.awq && !o.clip) {
        calgae_cli_error("--no-clip is for --method awq");
        return 2;
    }
    char err[CALGAE_ERR_LEN];
    calgae_session s;
    const int src = calgae_session_open(&s, &o.so, err, sizeof err);
    if (src != 0) {
        calgae_cli_error("%s", err);
        return src < -1 ? 2 : 1;
    }
    if (calgae_check_out("quantize", o.out, s.model->path, o.so.tokenizer) != 0) {
        calgae_session_close(&s);
        return 2;
    }
    /* Ctrl-C and kill stop the run between steps: the output is written whole or not at all */
    struct sigaction sa = {0}, old_int, old_term;
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    calgae_progress_bar bar;
    calgae_progress_init(&bar);
    int rc = quantize(&o, &s, &bar, err, sizeof err);
    calgae_progress_clear(&bar);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    if (rc != 0)
        calgae_cli_error("%s", err);
    calgae_session_close(&s);
    if (rc != 0 && stop_flag)
        return 130;
    return rc == 0 ? 0 : 1;
}
