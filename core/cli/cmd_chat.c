/*
 * cmd_chat.c - `calgae chat` (also `calgae run -i`): a conversation with a model, typed line by
 * line. A client of libcalgae's public header: the model and context come from the session
 * every command opens (session.h: calgae.ini, then the flags), the sampler and the prompt format
 * from calgae.h (its chat templates: the GGUF's tokenizer.chat_template, recognised as llama.cpp
 * recognises it, or --chat-template; "plain" for base models). The conversation and its KV
 * cache reuse are in chat_session.c, the input lines in chat_line.c.
 */
#define _POSIX_C_SOURCE 200809L /* strdup, getpid */
#include <getopt.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "args.h"
#include "calgae.h"
#include "chat_line.h"
#include "chat_session.h"
#include "cli.h"
#include "session.h"

static const char usage[] =
    "Usage: calgae chat --model PATH [options]   (also: calgae run -i ...)\n"
    "\n"
    "Talk with a model. Each line is a message; the answer streams back. The prompt format\n"
    "comes from the model's tokenizer.chat_template (plain text for a model without one).\n"
    "\n"
    "Options:\n"
    "  -m, --model PATH          model file or folder (required)\n"
    "      --system TEXT         the system prompt, kept when old turns are dropped\n"
    "      --chat-template NAME  plain, llama2, llama2-sys, llama2-sys-bos, llama2-sys-strip,\n"
    "                            llama3, chatml, zephyr, tinyllama, phi3, gemma, or a Jinja text\n"
    "  -p, --prompt TEXT         a first message, sent before reading any line\n"
    "  -n, --tokens N            tokens per answer at most (default 256)\n"
    "      --temperature T       0 is greedy (default 0.7; also --temp)\n"
    "      --top-k K, --top-p P  sampling filters (defaults 50 and 0.9)\n"
    "      --min-p P             drop tokens below P x the top probability (default 0: off)\n"
    "      --repeat-penalty R    llama.cpp's repetition penalty (default 1: off), over the\n"
    "      --repeat-last-n N     last N tokens (default 64)\n"
    "  -s, --seed N              random seed; -1 = random (default: random)\n"
    "  -t, --threads N           worker threads (default: physical cores)\n"
    "  -c, --ctx N               context length in tokens (default: the model's)\n"
    "      --backend NAME        a plugin name, a path to a plugin .so, or auto\n"
    "      --tokenizer FILE      tokenizer.bin or GGUF vocabulary (default: the model's own)\n"
    "      --no-repack           keep the file's weight layout\n"
    "      --config FILE         settings file, as for run (calgae.ini's [plugins], [kernels],\n"
    "                            [run] backend, threads and calibrate apply)\n"
    "      --calibrate MODE      auto, redo or off: how the product plugins are chosen\n"
    "                            (see calgae run --help; default [run] calibrate, else auto)\n"
    "  -v, --verbose             plugin messages, and tokens prefilled per turn\n"
    "  -h, --help                show this help\n"
    "\n"
    "In the chat: /reset forgets the conversation (not the system prompt); /save FILE and\n"
    "/load FILE keep and restore it with its KV cache; exit or Ctrl-D quits; Ctrl-C stops an\n"
    "answer (at the prompt it clears the line). When the context fills, the oldest turns are\n"
    "dropped, the system prompt kept.\n";

struct chat_opts {
    const char *model, *tokenizer, *backend, *system, *tmpl, *prompt, *config;
    long tokens, top_k, threads, ctx;
    long repeat_last_n;
    double temperature, top_p, min_p, repeat_penalty;
    uint64_t seed;
    int seed_set, verbose, no_repack;
    const char *calibrate; /* --calibrate's word (checked), or NULL: calgae.ini's, else auto */
};

/* Flags that take a value (for calgae_run_wants_chat to step over). */
static const struct option longs[] = {
    {"model", required_argument, 0, 'm'},       {"prompt", required_argument, 0, 'p'},
    {"tokens", required_argument, 0, 'n'},      {"n-predict", required_argument, 0, 'n'},
    {"temperature", required_argument, 0, 'T'}, {"temp", required_argument, 0, 'T'},
    {"top-k", required_argument, 0, 'K'},       {"top-p", required_argument, 0, 'P'},
    {"seed", required_argument, 0, 's'},        {"threads", required_argument, 0, 't'},
    {"ctx", required_argument, 0, 'c'},         {"ctx-size", required_argument, 0, 'c'},
    {"backend", required_argument, 0, 'B'},     {"tokenizer", required_argument, 0, 'z'},
    {"system", required_argument, 0, 'S'},      {"chat-template", required_argument, 0, 'C'},
    {"verbose", no_argument, 0, 'v'},           {"help", no_argument, 0, 'h'},
    {"no-repack", no_argument, 0, 'R'},         {"config", required_argument, 0, 'F'},
    {"interactive", no_argument, 0, 'i'},
    {"min-p", required_argument, 0, 'M'},       {"repeat-penalty", required_argument, 0, 'Q'},
    {"repeat-last-n", required_argument, 0, 'L'}, {"calibrate", required_argument, 0, 'A'},
    {0, 0, 0, 0}};
static const char shorts[] = ":m:p:n:s:t:c:vhi";

int calgae_run_wants_chat(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-i") || !strcmp(a, "--interactive"))
            return 1;
        if (!strcmp(a, "--"))
            return 0;
        /* step over a flag's value, so that `-p -i` is a prompt */
        if (a[0] == '-' && a[1] && a[1] != '-' && !a[2] && strchr("mpnstc", a[1]))
            i++;
        else if (a[0] == '-' && a[1] == '-' && !strchr(a, '='))
            for (const struct option *o = longs; o->name; o++)
                if (o->has_arg && !strcmp(a + 2, o->name))
                    i++;
    }
    return 0;
}

static int parse_number(int c, const char *v, struct chat_opts *o)
{
    switch (c) {
    case 'n': return calgae_parse_int("--tokens", v, 1, 1 << 24, &o->tokens);
    case 'T': return calgae_parse_float("--temperature", v, 0, 100, &o->temperature);
    case 'K': return calgae_parse_int("--top-k", v, 0, 1 << 24, &o->top_k);
    case 'P': return calgae_parse_float("--top-p", v, 1e-6, 1, &o->top_p);
    case 'M': return calgae_parse_float("--min-p", v, 0, 0.999999, &o->min_p);
    case 'Q': return calgae_parse_float("--repeat-penalty", v, 1e-3, 100, &o->repeat_penalty);
    case 'L': return calgae_parse_int("--repeat-last-n", v, 0, 1 << 20, &o->repeat_last_n);
    case 's':
        o->seed_set = strcmp(v, "-1") != 0;
        return o->seed_set ? calgae_parse_u64("--seed", v, &o->seed) : 0;
    case 't': return calgae_parse_int("--threads", v, 1, 1024, &o->threads);
    default: return calgae_parse_int("--ctx", v, 1, 1 << 24, &o->ctx);
    }
}

static int parse(int argc, char **argv, struct chat_opts *o)
{
    int c;
    if (calgae_args_check("chat", &argc, argv, shorts, longs))
        return 2;
    while ((c = getopt_long(argc, argv, shorts, longs, NULL)) != -1) {
        switch (c) {
        case 'm': o->model = optarg; break;
        case 'p': o->prompt = optarg; break;
        case 'B': o->backend = optarg; break;
        case 'z': o->tokenizer = optarg; break;
        case 'S': o->system = optarg; break;
        case 'C': o->tmpl = optarg; break;
        case 'v': o->verbose = 1; break;
        case 'R': o->no_repack = 1; break;
        case 'F': o->config = optarg; break;
        case 'A':
            if (calgae_calibrate_flag(optarg) < 0)
                return 2;
            o->calibrate = optarg;
            break;
        case 'i': break; /* `run -i` lands here */
        case 'h': fputs(usage, stdout); return 0;
        case 'n': case 'T': case 'K': case 'P': case 's': case 't': case 'c': case 'M':
        case 'Q': case 'L':
            if (parse_number(c, optarg, o))
                return 2;
            break;
        case ':':
        default: return calgae_option_error("chat", c, argv, longs);
        }
    }
    if (optind < argc) {
        calgae_cli_error("unexpected argument '%s' (see 'calgae chat --help')", argv[optind]);
        return 2;
    }
    if (!o->model) {
        calgae_cli_error("chat: --model is required (see 'calgae chat --help')");
        return 2;
    }
    return -1;
}

struct engine {
    calgae_session sess; /* calgae.ini and the flags, as every command opens a model */
    calgae_model *model; /* the session's handles */
    calgae_context *ctx;
    calgae_sampler *smp;
};

/* The model and context through the session (session.h), so calgae.ini's plugin and thread
 * settings apply as they do to run; returns 0, 1 (runtime) or 2 (settings) as exit codes. */
static int open_engine(const struct chat_opts *o, struct engine *e, calgae_error *err)
{
    calgae_session_opts so = {.model = o->model, .tokenizer = o->tokenizer, .config = o->config,
                              .backend = o->backend, .threads = (int)o->threads,
                              .ctx = (int)o->ctx, .verbose = o->verbose, .need_state = 1,
                              .no_repack = o->no_repack, .calibrate = o->calibrate};
    int rc = calgae_session_open(&e->sess, &so, err->message, sizeof err->message);
    if (rc != 0)
        return rc == CALGAE_SETTINGS_BAD ? 2 : 1;
    e->model = e->sess.lm;
    e->ctx = e->sess.cx;
    calgae_sampler_params sp = calgae_sampler_default_params();
    sp.temperature = (float)o->temperature;
    sp.top_k = (int)o->top_k;
    sp.top_p = (float)o->top_p;
    sp.min_p = (float)o->min_p;
    sp.repeat_penalty = (float)o->repeat_penalty;
    sp.repeat_last_n = (int)o->repeat_last_n;
    sp.seed = o->seed;
    return calgae_sampler_create(calgae_model_vocab(e->model), &sp, &e->smp, err) == CALGAE_OK
               ? 0
               : 1;
}

static void close_engine(struct engine *e)
{
    calgae_sampler_free(e->smp);
    calgae_session_close(&e->sess);
}

/* --chat-template, else the file's template; one llama.cpp does not know either is taken as
 * ChatML, llama.cpp's fallback too. */
static calgae_chat_template choose_template(const struct chat_opts *o, const calgae_model *m)
{
    if (o->tmpl) {
        calgae_chat_template t = calgae_chat_template_detect(o->tmpl);
        if (t == CALGAE_CHAT_UNKNOWN)
            calgae_cli_error("--chat-template: '%.60s' is no template Calgae knows (see 'calgae "
                             "chat --help')",
                             o->tmpl);
        return t;
    }
    const char *jinja = calgae_model_meta_string(m, "tokenizer.chat_template");
    calgae_chat_template t = calgae_chat_template_detect(jinja);
    if (t == CALGAE_CHAT_UNKNOWN) {
        calgae_cli_error("the model's chat template is not one Calgae recognises; using chatml "
                         "(choose with --chat-template)");
        t = CALGAE_CHAT_CHATML;
    }
    return t;
}

/* ---- the loop ---- */

static int emit(void *user, const char *text, size_t len)
{
    (void)user;
    fwrite(text, 1, len, stdout);
    fflush(stdout);
    return chat_line_interrupted();
}

static void turn(chat_session *s, const char *text, const struct chat_opts *o)
{
    chat_turn_stats ts;
    calgae_error err;
    chat_line_clear_interrupt();
    calgae_status st = chat_session_turn(s, text, (int)o->tokens, emit, NULL, &ts, &err);
    if (st != CALGAE_OK) {
        calgae_cli_error("%s", err.message);
        return;
    }
    fputc('\n', stdout);
    fflush(stdout);
    if (ts.n_dropped)
        calgae_cli_error("context full: dropped the %d oldest exchange%s, kept the system prompt",
                         ts.n_dropped, ts.n_dropped > 1 ? "s" : "");
    if (ts.interrupted)
        calgae_cli_error("stopped (Ctrl-C)");
    if (o->verbose)
        calgae_cli_error("turn: prefilled %d tokens (the conversation has %d), %d generated "
                         "at %.1f tok/s",
                         ts.n_prefilled, ts.n_prompt_pos, ts.n_generated,
                         ts.n_generated * 1000.0 / (ts.generate_ms > 1e-3 ? ts.generate_ms : 1e-3));
    chat_line_clear_interrupt();
}

/* A /command; returns 1 to quit. */
static int command(chat_session *s, const char *line)
{
    calgae_error err;
    const char *arg = strchr(line, ' ');
    arg = arg ? arg + strspn(arg, " ") : "";
    if (!strcmp(line, "/reset")) {
        chat_session_reset(s);
        calgae_cli_error("conversation cleared");
    } else if (!strncmp(line, "/save ", 6) && *arg) {
        if (chat_session_save(s, arg, &err) == CALGAE_OK)
            calgae_cli_error("saved %d messages to %s", chat_session_messages(s), arg);
        else
            calgae_cli_error("%s", err.message);
    } else if (!strncmp(line, "/load ", 6) && *arg) {
        if (chat_session_load(s, arg, &err) == CALGAE_OK)
            calgae_cli_error("loaded %d messages from %s", chat_session_messages(s), arg);
        else
            calgae_cli_error("%s", err.message);
    } else if (!strcmp(line, "/exit") || !strcmp(line, "/quit")) {
        return 1;
    } else {
        calgae_cli_error("commands: /reset, /save FILE, /load FILE, /exit (or exit, Ctrl-D)");
    }
    return 0;
}

static void loop(chat_session *s, chat_line *in, const struct chat_opts *o)
{
    if (o->prompt && *o->prompt)
        turn(s, o->prompt, o);
    for (;;) {
        int cancelled;
        const char *raw = chat_line_read(in, &cancelled);
        if (!raw) {
            if (chat_line_is_terminal(in))
                fputc('\n', stdout); /* after Ctrl-D, end the prompt's line */
            return;
        }
        if (cancelled)
            continue;
        char *line = strdup(raw);
        if (!line)
            return;
        line[strcspn(line, "\n")] = '\0'; /* a pasted line break ends the message too */
        int quit = !strcmp(line, "exit") || (line[0] == '/' && command(s, line));
        if (!quit && line[0] && line[0] != '/')
            turn(s, line, o);
        free(line);
        if (quit)
            return;
    }
}

int calgae_cmd_chat(int argc, char **argv)
{
    struct chat_opts o = {.tokens = 256, .temperature = 0.7, .top_k = 50, .top_p = 0.9,
                          .repeat_penalty = 1.0, .repeat_last_n = 64};
    int rc = parse(argc, argv, &o);
    if (rc >= 0)
        return rc;
    /* a seed from the kernel's entropy source, as run takes it */
    if (!o.seed_set && getrandom(&o.seed, sizeof o.seed, 0) != (ssize_t)sizeof o.seed) {
        calgae_cli_error("cannot get a random seed from getrandom(2) (pass --seed N)");
        return 1;
    }
    if (o.verbose)
        calgae_cli_error("seed %llu", (unsigned long long)o.seed);
    setlocale(LC_CTYPE, ""); /* libedit reads characters in the terminal's encoding */
    struct engine e = {0};
    calgae_error err;
    int open_rc = open_engine(&o, &e, &err);
    if (open_rc != 0) {
        calgae_cli_error("%s", err.message);
        close_engine(&e);
        return open_rc;
    }
    calgae_chat_template t = choose_template(&o, e.model);
    chat_session *s = NULL;
    chat_line *in = NULL;
    rc = 1;
    if (t == CALGAE_CHAT_UNKNOWN)
        rc = 2;
    else if (chat_session_create(e.ctx, e.smp, calgae_model_vocab(e.model), t, o.system, &s,
                                 &err) != CALGAE_OK)
        calgae_cli_error("%s", err.message);
    else if (!(in = chat_line_open("calgae")))
        calgae_cli_error("cannot set up line editing on this terminal");
    else {
        chat_line_catch_sigint();
        if (chat_line_is_terminal(in) || o.verbose)
            calgae_cli_error("chat template %s, context %d tokens; /reset, /save FILE, /load "
                             "FILE, exit or Ctrl-D to quit, Ctrl-C stops an answer",
                             calgae_chat_template_name(t), calgae_context_size(e.ctx));
        loop(s, in, &o);
        rc = 0;
    }
    chat_line_close(in);
    chat_session_free(s);
    close_engine(&e);
    return rc;
}
