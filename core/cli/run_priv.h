/*
 * run_priv.h - what `calgae run` (cmd_run.c) shares with its --execute half (run_execute.c):
 * the parsed options, the kept answer, and generation itself.
 */
#ifndef CALGAE_RUN_PRIV_H
#define CALGAE_RUN_PRIV_H

#include <stddef.h>
#include <stdint.h>

#include "session.h"
#ifndef CALGAE_NO_AGENT
#include "sandbox.h"
#endif

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
    int no_parse_special;
    int execute;           /* --execute: run the answer's code in the sandbox */
    long retries;          /* --retries N */
    long candidates;       /* --candidates N */
    const char *function, *examples; /* function mode */
    int all;               /* --all */
    int agent_flags;       /* an agent flag was given (they need --execute) */
#ifndef CALGAE_NO_AGENT
    calgae_sandbox_limits limits;
#endif
};

/* The generated text, kept for --execute (NULL buf: only printed). */
struct answer {
    char *buf;
    size_t len, cap;
    int oom;
};

/* The prompt's echo, exactly as its tokens decode, then what the library generates, printed;
 * kept in ans too when ans is not NULL. 0, or -1 with a message. */
int calgae_run_generate(calgae_session *s, const struct run_opts *o, struct answer *ans,
                        char *err, size_t err_len);

/* --execute: generation, then the code agent; returns the exit status. */
int calgae_run_execute(calgae_session *s, struct run_opts *o);

#endif
