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
#include "cli.h"
#include "config.h"
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
    opterr = 0;
    optind = 1;
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
        case ':': calgae_cli_error("option %s needs a value", argv[optind - 1]); return 2;
        default: calgae_cli_error("unknown option %s (see 'calgae run --help')", argv[optind - 1]); return 2;
        }
    }
    if (optind < argc) {
        calgae_cli_error("unexpected argument '%s' (see 'calgae run --help')", argv[optind]);
        return 2;
    }
    if (!o->s.model) {
        calgae_cli_error("run: --model is required (see 'calgae run --help')");
        return 2;
    }
    return -1; /* go on */
}

static int print_token(void *user, calgae_token token, const char *text, size_t len)
{
    (void)user;
    (void)token;
    fwrite(text, 1, len, stdout);
    fflush(stdout);
    return 0;
}

/* The prompt's echo, exactly as its tokens decode, then what the library generates. */
static int generate(calgae_session *s, const struct run_opts *o, char *err, size_t err_len)
{
    const calgae_vocab *v = calgae_model_vocab(s->lm);
    const char *prompt = o->prompt ? o->prompt : "";
    calgae_sampler_params sp = calgae_sampler_default_params();
    sp.temperature = (float)o->temperature;
    sp.top_k = (int)o->top_k;
    sp.top_p = (float)o->top_p;
    sp.seed = o->seed;
    calgae_sampler *smp = NULL;
    calgae_decoder *echo = NULL;
    calgae_error e;
    calgae_token *ids = NULL;
    int n = 0, rc = -1;
    const size_t len = strlen(prompt);
    if (calgae_sampler_create(v, &sp, &smp, &e) != CALGAE_OK ||
        calgae_decoder_create(v, &echo, &e) != CALGAE_OK)
        goto out;
    ids = malloc((len + 2) * sizeof *ids);
    if (!ids) {
        calgae_fail(err, err_len, "out of memory");
        goto out;
    }
    if (calgae_tokenize(v, prompt, len, 1, ids, (int)len + 2, &n, &e) != CALGAE_OK)
        goto out;
    if (n > calgae_context_size(s->cx)) {
        calgae_fail(err, err_len, "prompt of %d tokens does not fit the context of %d (--ctx)",
                    n, calgae_context_size(s->cx));
        free(ids);
        calgae_decoder_free(echo);
        calgae_sampler_free(smp);
        return -1;
    }
    char text[CALGAE_DECODE_MAX];
    for (int i = 1; i < n; i++) { /* the prompt after BOS */
        calgae_decoder_push(echo, ids[i], text, sizeof text);
        fputs(text, stdout);
    }
    fflush(stdout);
    calgae_generate_params gp = calgae_generate_default_params();
    gp.max_tokens = (int)o->tokens;
    calgae_generate_result r;
    if (calgae_generate_tokens(s->cx, smp, ids, n, &gp, print_token, NULL, &r, &e) != CALGAE_OK)
        goto out;
    if (r.stop_reason == CALGAE_STOP_CONTEXT)
        fprintf(stderr, "\ncalgae: context of %d tokens is full\n", calgae_context_size(s->cx));
    fputc('\n', stdout);
    fflush(stdout);
    calgae_model_info info;
    calgae_model_get_info(s->lm, &info);
    fprintf(stderr,
            "calgae: load %.1f ms, prompt %d tokens at %.1f tok/s, generation %d tokens at "
            "%.1f tok/s, backend %s, threads %d\n",
            s->load_ms, r.n_prompt, r.n_prompt * 1000.0 / (r.prompt_ms > 1e-3 ? r.prompt_ms : 1e-3),
            r.n_generated, r.n_generated * 1000.0 / (r.generate_ms > 1e-3 ? r.generate_ms : 1e-3),
            info.backends, calgae_context_threads(s->cx));
    rc = 0;
out:
    if (rc != 0 && e.status != CALGAE_OK)
        snprintf(err, err_len, "%s", e.message);
    free(ids);
    calgae_decoder_free(echo);
    calgae_sampler_free(smp);
    return rc;
}

int calgae_cmd_run(int argc, char **argv)
{
    struct run_opts o = {.tokens = 128, .temperature = 0.7, .top_k = 50, .top_p = 0.9};
    o.seed = (uint64_t)time(NULL);
    o.s.need_state = 1;
    if (calgae_run_wants_chat(argc, argv)) /* -i: llama.cpp's spelling of chat */
        return calgae_cmd_chat(argc, argv);
    int rc = parse(argc, argv, &o);
    if (rc >= 0)
        return rc;
    char err[CALGAE_ERR_LEN];
    calgae_session s;
    rc = calgae_session_open(&s, &o.s, err, sizeof err);
    if (rc != 0) {
        calgae_cli_error("%s", err);
        return rc == CALGAE_SETTINGS_BAD ? 2 : 1;
    }
    rc = generate(&s, &o, err, sizeof err) == 0 ? 0 : 1;
    if (rc)
        calgae_cli_error("%s", err);
    calgae_session_close(&s);
    return rc;
}
