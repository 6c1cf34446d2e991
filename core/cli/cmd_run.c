/*
 * cmd_run.c - `calgae run`: echo the prompt, stream generated text to stdout, then a stats line
 * to stderr. Generation follows llama2.c's run.c: BOS + prompt, each new token printed as the
 * piece it decodes to (leading space dropped after BOS), stop at EOS, at BOS (a new sequence),
 * or after --tokens tokens; a final newline.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "args.h"
#include "config.h"
#include "sampler.h"
#include "session.h"
#include "util.h"

static const char usage[] =
    "Usage: calgae run --model PATH [options]\n"
    "\n"
    "Generate text from a model. PATH is a GGUF or llama2.c .bin file, or a folder holding one.\n"
    "\n"
    "Options:\n"
    "  -m, --model PATH       model file or folder (required)\n"
    "  -p, --prompt TEXT      prompt; empty starts from BOS alone (default: empty)\n"
    "  -n, --tokens N         tokens to generate (default 128)\n"
    "      --temperature T    0 is greedy (default 0.7)\n"
    "      --top-k K          keep the K most likely tokens, 0 = off (default 50)\n"
    "      --top-p P          nucleus sampling mass, 1 = off (default 0.9)\n"
    "      --seed N           random seed (default: from the clock)\n"
    "  -t, --threads N        worker threads (default: [run] threads, else physical cores)\n"
    "      --ctx N            cap the context length (default: the model's)\n"
    "      --backend NAME     a plugin name, a path to a plugin .so, or auto (default:\n"
    "                         [run] backend, else auto)\n"
    "      --tokenizer FILE   tokenizer.bin or GGUF vocabulary (default: the model's own, or\n"
    "                         tokenizer.bin beside a .bin model)\n"
    "      --config FILE      settings file (default: $CALGAE_CONFIG, else ./calgae.ini, else\n"
    "                         $XDG_CONFIG_HOME/calgae/calgae.ini; only the first is read)\n"
    "      --no-repack        keep the file's weight layout (default: a plugin may copy the\n"
    "                         weights into its own, faster one at load)\n"
    "  -v, --verbose          log plugin loading\n"
    "  -h, --help             show this help\n";

struct run_opts {
    calgae_session_opts s;
    const char *prompt;
    long tokens;
    double temperature, top_p;
    long top_k;
    uint64_t seed;
};

static int parse(int argc, char **argv, struct run_opts *o)
{
    static const struct option longs[] = {
        {"model", required_argument, 0, 'm'},     {"prompt", required_argument, 0, 'p'},
        {"tokens", required_argument, 0, 'n'},    {"temperature", required_argument, 0, 'T'},
        {"top-k", required_argument, 0, 'K'},     {"top-p", required_argument, 0, 'P'},
        {"seed", required_argument, 0, 'S'},      {"threads", required_argument, 0, 't'},
        {"ctx", required_argument, 0, 'C'},       {"backend", required_argument, 0, 'B'},
        {"tokenizer", required_argument, 0, 'z'}, {"verbose", no_argument, 0, 'v'},
        {"config", required_argument, 0, 'F'},    {"help", no_argument, 0, 'h'},
        {"no-repack", no_argument, 0, 'R'},
        {0, 0, 0, 0}};
    long v;
    int c;
    if (calgae_args_check("run", &argc, argv, ":m:p:n:t:vh", longs) != 0)
        return 2;
    while ((c = getopt_long(argc, argv, ":m:p:n:t:vh", longs, NULL)) != -1) {
        switch (c) {
        case 'm': o->s.model = optarg; break;
        case 'p': o->prompt = optarg; break;
        case 'n': if (calgae_parse_int("--tokens", optarg, 0, 1 << 24, &o->tokens)) return 2; break;
        case 'T': if (calgae_parse_float("--temperature", optarg, 0, 100, &o->temperature)) return 2; break;
        case 'K': if (calgae_parse_int("--top-k", optarg, 0, 1 << 24, &o->top_k)) return 2; break;
        case 'P': if (calgae_parse_float("--top-p", optarg, 1e-6, 1, &o->top_p)) return 2; break;
        case 'S': if (calgae_parse_u64("--seed", optarg, &o->seed)) return 2; break;
        case 't': if (calgae_parse_int("--threads", optarg, 1, 1024, &v)) return 2; o->s.threads = (int)v; break;
        case 'C': if (calgae_parse_int("--ctx", optarg, 1, 1 << 24, &v)) return 2; o->s.ctx = (int)v; break;
        case 'B': o->s.backend = optarg; break;
        case 'z': o->s.tokenizer = optarg; break;
        case 'F': o->s.config = optarg; break;
        case 'v': o->s.verbose = 1; break;
        case 'R': o->s.no_repack = 1; break;
        case 'h': fputs(usage, stdout); return 0;
        case ':':
        default: return calgae_option_error("run", c, argv, longs);
        }
    }
    if (optind < argc) {
        calgae_error("unexpected argument '%s' (see 'calgae run --help')", argv[optind]);
        return 2;
    }
    if (!o->s.model) {
        calgae_error("run: --model is required (see 'calgae run --help')");
        return 2;
    }
    return -1; /* go on */
}

/* Prints the piece of `next` following `prev` through the UTF-8 guard. */
static void emit(const calgae_tokenizer *tok, calgae_utf8_stream *us, int32_t prev, int32_t next)
{
    const char *piece;
    size_t n = calgae_tokenizer_decode(tok, prev, next, &piece);
    char buf[1100];
    if (n > sizeof buf - 4)
        n = sizeof buf - 4;
    size_t out = calgae_utf8_stream_push(us, piece, n, buf);
    fwrite(buf, 1, out, stdout);
}

static int generate(calgae_session *s, const struct run_opts *o, char *err, size_t err_len)
{
    const calgae_tokenizer *tok = s->tok;
    const char *prompt = o->prompt ? o->prompt : "";
    int32_t *ids = NULL;
    size_t n_ids = 0;
    if (calgae_tokenizer_encode(tok, prompt, strlen(prompt), 1, &ids, &n_ids, err, err_len) != 0)
        return -1;
    calgae_sampler sm;
    if (calgae_sampler_init(&sm, s->model.cfg.vocab_size, (float)o->temperature, (int)o->top_k,
                            (float)o->top_p, o->seed, err, err_len) != 0) {
        free(ids);
        return -1;
    }
    int rc = -1;
    if ((long)n_ids > s->st.ctx) {
        calgae_fail(err, err_len, "prompt of %zu tokens does not fit the context of %d (--ctx)",
                    n_ids, s->st.ctx);
        goto out;
    }
    calgae_utf8_stream us = {0};
    for (size_t i = 1; i < n_ids; i++) /* the echo, exactly as the tokens decode */
        emit(tok, &us, ids[i - 1], ids[i]);
    fflush(stdout);

    const double t0 = calgae_now_ms();
    if (calgae_session_prefill(s, ids, (int)n_ids, 0, err, err_len) != 0)
        goto out;
    const double t1 = calgae_now_ms();
    int pos = (int)n_ids;
    int32_t token = ids[n_ids - 1];
    long generated = 0;
    while (generated < o->tokens) {
        int32_t next = calgae_sample(&sm, s->st.logits);
        if (next == tok->eos_id || next == tok->bos_id)
            break;
        emit(tok, &us, token, next);
        fflush(stdout);
        generated++;
        token = next;
        if (generated == o->tokens)
            break;
        if (pos >= s->st.ctx) {
            fprintf(stderr, "\ncalgae: context of %d tokens is full\n", s->st.ctx);
            break;
        }
        if (calgae_forward(&s->st, &token, 1, pos, 0, err, err_len) != 0)
            goto out;
        pos++;
    }
    const double t2 = calgae_now_ms();
    fputc('\n', stdout);
    fflush(stdout);
    char backends[256];
    calgae_backends_describe(&s->be, backends, sizeof backends);
    fprintf(stderr,
            "calgae: load %.1f ms, prompt %zu tokens at %.1f tok/s, generation %ld tokens at "
            "%.1f tok/s, backend %s, threads %d\n",
            s->load_ms, n_ids, (double)n_ids * 1000.0 / (t1 - t0 > 1e-3 ? t1 - t0 : 1e-3),
            generated, (double)generated * 1000.0 / (t2 - t1 > 1e-3 ? t2 - t1 : 1e-3), backends,
            calgae_pool_threads(s->pool));
    rc = 0;
out:
    calgae_sampler_free(&sm);
    free(ids);
    return rc;
}

int calgae_cmd_run(int argc, char **argv)
{
    struct run_opts o = {.tokens = 128, .temperature = 0.7, .top_k = 50, .top_p = 0.9};
    o.seed = (uint64_t)time(NULL);
    o.s.need_state = 1;
    int rc = parse(argc, argv, &o);
    if (rc >= 0)
        return rc;
    char err[CALGAE_ERR_LEN];
    calgae_session s;
    rc = calgae_session_open(&s, &o.s, err, sizeof err);
    if (rc != 0) {
        calgae_error("%s", err);
        return rc == CALGAE_SETTINGS_BAD ? 2 : 1;
    }
    rc = generate(&s, &o, err, sizeof err) == 0 ? 0 : 1;
    if (rc)
        calgae_error("%s", err);
    calgae_session_close(&s);
    return rc;
}
