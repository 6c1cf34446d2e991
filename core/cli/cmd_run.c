/*
 * cmd_run.c - `calgae run`: echo the prompt, stream generated text to stdout, then a stats line
 * to stderr. Generation follows llama2.c's run.c: BOS + prompt, each new token printed as the
 * piece it decodes to (leading space dropped after BOS), stop at EOS, at BOS (a new sequence),
 * or after --tokens tokens; a final newline.
 *
 * With --execute, the generated text then goes through the code agent (agent/pipeline.h): its
 * fenced code blocks are compiled and run in the bubblewrap sandbox; on a compile or run-time
 * error the error is fed back to the model (prompt, answer, error, request to fix) and it
 * answers again, up to --retries times. Model output never runs without --execute.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "args.h"
#include "cli.h"
#ifndef CALGAE_NO_AGENT
#include "agent_report.h"
#endif
#include "run_priv.h"
#include "config.h"
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
    "      --calibrate MODE   auto (time the product plugins on first use, then use the cache\n"
    "                         in $XDG_CACHE_HOME/calgae), redo or off (priority decides);\n"
    "                         default: [run] calibrate, else auto\n"
    "      --no-display-prompt  print only the generated text, not the prompt\n"
    "      --no-parse-special  keep control tokens written in the prompt (<|eot_id|>, </s>)\n"
    "                         as text (default: they become those tokens, as in llama.cpp)\n"
    "  -v, --verbose          log plugin loading and the seed\n"
    "  -h, --help             show this help\n"
#ifndef CALGAE_NO_AGENT
    "\n"
    "Code agent (runs what the model writes; only with --execute):\n"
    "      --execute          compile and run the answer's fenced code blocks (C, Python,\n"
    "                         shell, Rust when rustc is installed) in a bubblewrap sandbox;\n"
    "                         exit status 1 when no block succeeds or there is none\n"
    "      --retries N        on a compile or run error, give the model the error and let it\n"
    "                         answer again, up to N times (default 0)\n"
    "      --all              run every block and candidate (default: stop at the first\n"
    "                         that succeeds)\n"
    "      --function SIG     function mode (see 'calgae agent exec --help'), with --examples\n"
    "      --examples EX      the examples the function must pass\n"
    "      --candidates N     N answers with seeds SEED .. SEED+N-1, generated in one batch\n"
    "                         (one forward pass over the N sequences per step), each run in\n"
    "                         turn (default 1)\n"
    "%s"
#endif
    ;

#define MAX_PROMPT_BYTES (64L << 20)


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
        {"calibrate", required_argument, 0, 'A'},  {"no-parse-special", no_argument, 0, 'S'},
#ifndef CALGAE_NO_AGENT
        {"execute", no_argument, 0, 'X'},         {"retries", required_argument, 0, 'r'},
        {"all", no_argument, 0, 'a'},             {"timeout", required_argument, 0, 1000},
        {"cpu", required_argument, 0, 1001},      {"memory", required_argument, 0, 1002},
        {"output-cap", required_argument, 0, 1003},
        {"candidates", required_argument, 0, 1004},
        {"function", required_argument, 0, 1005}, {"examples", required_argument, 0, 1006},
#endif
        {0, 0, 0, 0}};
    const char *shorts = ":m:p:n:t:c:s:f:vh";
    long v;
    int c, li = 0;
    if (calgae_args_check("run", &argc, argv, shorts, longs) != 0)
        return 2;
    while ((c = getopt_long(argc, argv, shorts, longs, &li)) != -1) {
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
        case 'A': if (calgae_calibrate_flag(optarg) < 0) return 2; o->s.calibrate = optarg; break;
        case 'D': o->no_display_prompt = 1; break;
        case 'S': o->no_parse_special = 1; break;
#ifndef CALGAE_NO_AGENT
        case 'X': o->execute = 1; break;
        case 'r':
            if (calgae_parse_int("--retries", optarg, 0, 100, &o->retries)) return 2;
            o->agent_flags = 1;
            break;
        case 'a': o->all = o->agent_flags = 1; break;
        case 1005: o->function = optarg; o->agent_flags = 1; break;
        case 1006: o->examples = optarg; o->agent_flags = 1; break;
        case 1004:
            if (calgae_parse_int("--candidates", optarg, 1, 64, &o->candidates)) return 2;
            o->agent_flags = 1;
            break;
        case 1000: case 1001: case 1002: case 1003:
            if (calgae_agent_limit_flag(&o->limits, longs[li].name[0] == 't' ? "--timeout"
                                        : longs[li].name[0] == 'c' ? "--cpu"
                                        : longs[li].name[0] == 'm' ? "--memory" : "--output-cap",
                                        optarg))
                return 2;
            o->agent_flags = 1;
            break;
        case 'h': printf(usage, calgae_agent_limit_help); return 0;
#else
        case 'h': fputs(usage, stdout); return 0;
#endif
        case ':':
        default: return calgae_option_error("run", c, argv, longs);
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
    if (o->file && o->prompt) {
        calgae_cli_error("run: give the prompt once: --prompt or --file");
        return 2;
    }
    if (o->agent_flags && !o->execute) {
        calgae_cli_error("run: --retries, --all, --candidates and the sandbox limits need --execute");
        return 2;
    }
    if (!o->function != !o->examples || (o->function && o->candidates > 1)) {
        calgae_cli_error("run: --function and --examples go together, without --candidates");
        return 2;
    }
#ifndef CALGAE_NO_AGENT
    if (o->function) { /* a bad signature is a usage error before any generation */
        calgae_fn_sig sig;
        calgae_fn_example *ex;
        int n;
        char e[512];
        if (calgae_fn_sig_parse(o->function, &sig, e, sizeof e) != 0 ||
            calgae_fn_examples_parse(o->examples, &sig, &ex, &n, e, sizeof e) != 0) {
            calgae_cli_error("%s", e);
            return 2;
        }
        calgae_fn_examples_free(ex, n);
    }
#endif
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
        calgae_cli_error("%s: cannot open the prompt file: %s", name, strerror(errno));
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
        calgae_cli_error("%s: cannot read the prompt (read error, or over %ld MiB)", name,
                     MAX_PROMPT_BYTES >> 20);
        return 1;
    }
    if (memchr(buf, '\0', n)) {
        free(buf);
        calgae_cli_error("%s: the prompt holds a NUL byte (not text)", name);
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
        calgae_cli_error("cannot get a random seed from getrandom(2): %s (pass --seed N)",
                     strerror(got < 0 ? errno : EIO));
        return 1;
    }
    return 0;
}




int calgae_cmd_run(int argc, char **argv)
{
    struct run_opts o = {.tokens = 128, .temperature = 0.7, .top_k = 50, .top_p = 0.9,
                         .repeat_penalty = 1.0, .repeat_last_n = 64};
#ifndef CALGAE_NO_AGENT
    o.limits = calgae_sandbox_default_limits();
#endif
    o.s.need_state = 1;
    o.candidates = 1;
    if (calgae_run_wants_chat(argc, argv)) /* -i: llama.cpp's spelling of chat */
        return calgae_cmd_chat(argc, argv);
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
#ifndef CALGAE_NO_AGENT
    o.s.n_seq = (int)o.candidates;
#endif
    rc = calgae_session_open(&s, &o.s, err, sizeof err);
    if (rc != 0) {
        calgae_cli_error("%s", err);
        free(o.prompt_buf);
        return rc == CALGAE_SETTINGS_BAD ? 2 : 1;
    }
    if (o.repeat_last_n < 0)
        o.repeat_last_n = s.st->ctx;
#ifndef CALGAE_NO_AGENT
    if (o.execute)
        rc = calgae_run_execute(&s, &o);
    else
#endif
    {
        rc = calgae_run_generate(&s, &o, NULL, err, sizeof err) == 0 ? 0 : 1;
        if (rc)
            calgae_cli_error("%s", err);
    }
    calgae_session_close(&s);
    free(o.prompt_buf);
    return rc;
}
