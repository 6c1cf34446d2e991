/*
 * cmd_run.c - `calgae run`: echo the prompt, stream generated text to stdout, then a stats line
 * to stderr. Generation follows llama2.c's run.c: BOS + prompt, each new token printed as the
 * piece it decodes to (leading space dropped after BOS), stop at EOS, at BOS (a new sequence),
 * or after --tokens tokens; a final newline.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "args.h"
#include "config.h"
#include "sampler.h"
#include "session.h"
#include "util.h"

static const char usage[] =
    "Usage: calgae run --model PATH [options]\n"
    "\n"
    "Generate text from a model. PATH is a GGUF or llama2.c .bin file, or a folder holding one.\n"
    "llama.cpp's spellings of these options work too (-c, -s, -f, --temp, --n-predict, ...).\n"
    "\n"
    "Options:\n"
    "  -m, --model PATH       model file or folder (required)\n"
    "  -p, --prompt TEXT      prompt; '-' reads it from stdin; empty starts from BOS alone\n"
    "                         (default: empty)\n"
    "  -f, --file FILE        read the prompt from FILE (one final newline is dropped)\n"
    "  -n, --tokens N         tokens to generate, -1 = until EOS or a full context (default 128;\n"
    "                         also --n-predict)\n"
    "      --temperature T    0 is greedy (default 0.7; also --temp)\n"
    "      --top-k K          keep the K most likely tokens, 0 = off (default 50)\n"
    "      --top-p P          nucleus sampling mass, 1 = off (default 0.9)\n"
    "      --min-p P          keep tokens at least P times as likely as the most likely one\n"
    "                         (before temperature, as llama.cpp), 0 = off (default 0)\n"
    "      --repeat-penalty R divide the positive logits (multiply the others) of the tokens\n"
    "                         seen in the last --repeat-last-n tokens by R, 1 = off (default 1)\n"
    "      --repeat-last-n N  how many tokens, prompt included, the penalty looks back; -1 = the\n"
    "                         context, 0 = off (default 64)\n"
    "  -s, --seed N           random seed; -1 = random (default: random, from the system's\n"
    "                         entropy source; --verbose prints it)\n"
    "  -t, --threads N        worker threads (default: [run] threads, else physical cores)\n"
    "  -c, --ctx N            cap the context length (default: the model's; also --ctx-size)\n"
    "      --backend NAME     a plugin name, a path to a plugin .so, or auto (default:\n"
    "                         [run] backend, else auto); one that can't be used is an error\n"
    "      --tokenizer FILE   tokenizer.bin or GGUF vocabulary (default: the model's own, or\n"
    "                         tokenizer.bin beside a .bin model)\n"
    "      --config FILE      settings file (default: $CALGAE_CONFIG, else ./calgae.ini, else\n"
    "                         $XDG_CONFIG_HOME/calgae/calgae.ini; only the first is read)\n"
    "      --no-repack        keep the file's weight layout (default: a plugin may copy the\n"
    "                         weights into its own, faster one at load)\n"
    "      --no-display-prompt  print only the generated text, not the prompt\n"
    "  -v, --verbose          log plugin loading and the seed\n"
    "  -h, --help             show this help\n";

#define MAX_PROMPT_BYTES (64L << 20)

struct run_opts {
    calgae_session_opts s;
    const char *prompt;
    long tokens;
    double temperature, top_p;
    long top_k;
    uint64_t seed;
    int seed_set;          /* --seed N given (N != -1) */
    const char *file;      /* --file, or "-" for -p - */
    char *prompt_buf;      /* the prompt read from --file or stdin */
    double min_p, repeat_penalty;
    long repeat_last_n;    /* -1: the context */
    int no_display_prompt;
};

static int parse(int argc, char **argv, struct run_opts *o)
{
    static const struct option longs[] = {
        {"model", required_argument, 0, 'm'},     {"prompt", required_argument, 0, 'p'},
        {"tokens", required_argument, 0, 'n'},    {"n-predict", required_argument, 0, 'n'},
        {"temperature", required_argument, 0, 'T'}, {"temp", required_argument, 0, 'T'},
        {"top-k", required_argument, 0, 'K'},     {"top-p", required_argument, 0, 'P'},
        {"min-p", required_argument, 0, 'M'},     {"repeat-penalty", required_argument, 0, 'Q'},
        {"repeat-last-n", required_argument, 0, 'L'},
        {"seed", required_argument, 0, 's'},      {"threads", required_argument, 0, 't'},
        {"ctx", required_argument, 0, 'c'},       {"ctx-size", required_argument, 0, 'c'},
        {"file", required_argument, 0, 'f'},      {"backend", required_argument, 0, 'B'},
        {"tokenizer", required_argument, 0, 'z'}, {"verbose", no_argument, 0, 'v'},
        {"config", required_argument, 0, 'F'},    {"help", no_argument, 0, 'h'},
        {"no-repack", no_argument, 0, 'R'},       {"no-display-prompt", no_argument, 0, 'D'},
        {0, 0, 0, 0}};
    const char *shorts = ":m:p:n:t:c:s:f:vh";
    long v;
    int c;
    if (calgae_args_check("run", &argc, argv, shorts, longs) != 0)
        return 2;
    while ((c = getopt_long(argc, argv, shorts, longs, NULL)) != -1) {
        switch (c) {
        case 'm': o->s.model = optarg; break;
        case 'p': o->prompt = optarg; break;
        case 'f': o->file = optarg; break;
        case 'n':
            if (calgae_parse_int("--tokens", optarg, -1, 1 << 24, &o->tokens)) return 2;
            if (o->tokens < 0) o->tokens = 1 << 24; /* until EOS or the context is full */
            break;
        case 'T': if (calgae_parse_float("--temperature", optarg, 0, 100, &o->temperature)) return 2; break;
        case 'K': if (calgae_parse_int("--top-k", optarg, 0, 1 << 24, &o->top_k)) return 2; break;
        case 'P': if (calgae_parse_float("--top-p", optarg, 1e-6, 1, &o->top_p)) return 2; break;
        case 'M': if (calgae_parse_float("--min-p", optarg, 0, 0.999999, &o->min_p)) return 2; break;
        case 'Q': if (calgae_parse_float("--repeat-penalty", optarg, 1e-3, 100, &o->repeat_penalty)) return 2; break;
        case 'L': if (calgae_parse_int("--repeat-last-n", optarg, -1, 1 << 20, &o->repeat_last_n)) return 2; break;
        case 's':
            o->seed_set = strcmp(optarg, "-1") != 0;
            if (o->seed_set && calgae_parse_u64("--seed", optarg, &o->seed)) return 2;
            break;
        case 't': if (calgae_parse_int("--threads", optarg, 1, 1024, &v)) return 2; o->s.threads = (int)v; break;
        case 'c': if (calgae_parse_int("--ctx", optarg, 1, 1 << 24, &v)) return 2; o->s.ctx = (int)v; break;
        case 'B': o->s.backend = optarg; break;
        case 'z': o->s.tokenizer = optarg; break;
        case 'F': o->s.config = optarg; break;
        case 'v': o->s.verbose = 1; break;
        case 'R': o->s.no_repack = 1; break;
        case 'D': o->no_display_prompt = 1; break;
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
    if (o->file && o->prompt) {
        calgae_error("run: give the prompt once: --prompt or --file");
        return 2;
    }
    if (o->prompt && !strcmp(o->prompt, "-")) {
        o->file = "-";
        o->prompt = NULL;
    }
    return -1; /* go on */
}

/* The prompt of --file FILE, or of stdin for "-": whole, less one final newline (llama.cpp's
 * rule for -f). */
static int read_prompt(struct run_opts *o)
{
    const int is_stdin = !strcmp(o->file, "-");
    const char *name = is_stdin ? "stdin" : o->file;
    FILE *f = is_stdin ? stdin : fopen(o->file, "rb");
    if (!f) {
        calgae_error("%s: cannot open the prompt file: %s", name, strerror(errno));
        return 1;
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (n + 1 >= cap) {
            char *bigger = cap < (size_t)MAX_PROMPT_BYTES ? realloc(buf, cap * 2) : NULL;
            if (!bigger) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = bigger;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    int bad = !buf || ferror(f);
    if (!is_stdin)
        fclose(f);
    if (bad) {
        free(buf);
        calgae_error("%s: cannot read the prompt (read error, or over %ld MiB)", name,
                     MAX_PROMPT_BYTES >> 20);
        return 1;
    }
    if (memchr(buf, '\0', n)) {
        free(buf);
        calgae_error("%s: the prompt holds a NUL byte (not text)", name);
        return 1;
    }
    if (n > 0 && buf[n - 1] == '\n')
        n--;
    buf[n] = '\0';
    o->prompt_buf = buf;
    o->prompt = buf;
    return 0;
}

/* A seed from the kernel's entropy source: runs started in the same second differ. */
static int random_seed(uint64_t *seed)
{
    ssize_t got = getrandom(seed, sizeof *seed, 0);
    if (got != (ssize_t)sizeof *seed) {
        calgae_error("cannot get a random seed from getrandom(2): %s (pass --seed N)",
                     strerror(got < 0 ? errno : EIO));
        return 1;
    }
    return 0;
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
    /* llama.cpp's filters; the prompt counts for the repeat penalty */
    if (calgae_sampler_set_filters(&sm, (float)o->min_p, (float)o->repeat_penalty,
                                   (int)o->repeat_last_n, err, err_len) != 0) {
        calgae_sampler_free(&sm);
        free(ids);
        return -1;
    }
    calgae_sampler_accept(&sm, ids, n_ids);
    int rc = -1;
    if ((long)n_ids > s->st.ctx) {
        calgae_fail(err, err_len, "prompt of %zu tokens does not fit the context of %d (--ctx)",
                    n_ids, s->st.ctx);
        goto out;
    }
    calgae_utf8_stream us = {0};
    for (size_t i = 1; i < n_ids && !o->no_display_prompt; i++) /* the echo, as they decode */
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
        calgae_sampler_accept(&sm, &next, 1);
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
    struct run_opts o = {.tokens = 128, .temperature = 0.7, .top_k = 50, .top_p = 0.9,
                         .repeat_penalty = 1.0, .repeat_last_n = 64};
    o.s.need_state = 1;
    int rc = parse(argc, argv, &o);
    if (rc >= 0)
        return rc;
    if ((o.file && read_prompt(&o) != 0) || (!o.seed_set && random_seed(&o.seed) != 0)) {
        free(o.prompt_buf);
        return 1;
    }
    if (o.s.verbose)
        fprintf(stderr, "calgae: seed %llu\n", (unsigned long long)o.seed);
    char err[CALGAE_ERR_LEN];
    calgae_session s;
    rc = calgae_session_open(&s, &o.s, err, sizeof err);
    if (rc != 0) {
        calgae_error("%s", err);
        free(o.prompt_buf);
        return rc == CALGAE_SETTINGS_BAD ? 2 : 1;
    }
    if (o.repeat_last_n < 0)
        o.repeat_last_n = s.st.ctx;
    rc = generate(&s, &o, err, sizeof err) == 0 ? 0 : 1;
    if (rc)
        calgae_error("%s", err);
    calgae_session_close(&s);
    free(o.prompt_buf);
    return rc;
}
