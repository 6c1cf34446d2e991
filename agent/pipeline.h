/*
 * pipeline.h - what the agent does with a model's answer: extract its fenced blocks, decide
 * each one's language, compile it (cc for C, rustc for Rust) and run it, all inside the
 * sandbox (sandbox.h), and report each block's compile and run outcome.
 */
#ifndef CALGAE_AGENT_PIPELINE_H
#define CALGAE_AGENT_PIPELINE_H

#include <stddef.h>

#include "extract.h"
#include "lang.h"
#include "sandbox.h"

typedef struct calgae_block_report {
    int index;                      /* 1-based block number in the answer */
    calgae_lang lang;
    const char *lang_why;           /* "tag", "content" or "none" */
    int skipped;                    /* no language it can run */
    int compiled;                   /* a compile step ran (C, Rust) */
    calgae_sandbox_result compile;  /* its outcome, when compiled */
    int ran;                        /* the program ran */
    calgae_sandbox_result run;
    int ok;                         /* compiled (if needed) and exited 0 */
} calgae_block_report;

typedef struct calgae_pipeline_opts {
    calgae_sandbox_limits limits;
    int all;                        /* run every block (default: stop at the first success) */
} calgae_pipeline_opts;

typedef struct calgae_pipeline_result {
    int n_blocks;                   /* fenced blocks found */
    int n_runnable;                 /* of them, in a language it can run */
    calgae_block_report *reports;   /* one per block looked at */
    int n_reports;
    int first_ok;                   /* 1-based block that succeeded first, 0 when none */
} calgae_pipeline_result;

/* Runs the pipeline on text in the open sandbox sb. 0 when it could look at the text (even
 * if no block ran or all failed: see the result), -1 on a setup failure (message in err). */
int calgae_pipeline_run(calgae_sandbox *sb, const char *text, size_t len,
                        const calgae_pipeline_opts *o, calgae_pipeline_result *r, char *err,
                        size_t err_len);
void calgae_pipeline_result_free(calgae_pipeline_result *r);

/* Whether a rustc the sandbox can run is installed (/usr/local/bin or /usr/bin): Rust blocks
 * are run only then. */
int calgae_have_rustc(void);

/* A one-paragraph account of the first failed block (compiler or run-time errors, exit
 * status), for a follow-up prompt; "" when none failed. Writes at most cap bytes. */
void calgae_pipeline_failure_text(const calgae_pipeline_result *r, char *out, size_t cap);

#endif
