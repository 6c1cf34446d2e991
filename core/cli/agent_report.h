/*
 * agent_report.h - what `calgae agent exec` and `calgae run --execute` share: the sandbox
 * flags and the printed account of each code block's compile and run.
 */
#ifndef CALGAE_AGENT_REPORT_H
#define CALGAE_AGENT_REPORT_H

#include <stdio.h>

#include "ffi_call.h"
#include "pipeline.h"

/* Applies one sandbox flag (--timeout, --cpu, --memory, --output-cap) with its value; returns
 * 0, or 2 after printing a usage error. */
int calgae_agent_limit_flag(calgae_sandbox_limits *lim, const char *flag, const char *value);

/* The sandbox flags' help lines. */
extern const char calgae_agent_limit_help[];

/* Prints each block's language, compiler messages, output and exit status to out. */
void calgae_agent_print(FILE *out, const calgae_pipeline_result *r);

/* The exit status of a pipeline: 0 when a block succeeded; 1 otherwise, after a one-line
 * reason on stderr (no code block, none runnable, all failed). */
int calgae_agent_status(const calgae_pipeline_result *r);

/* Function mode: parses --function and --examples (2 after a usage error), opens the sandbox,
 * runs the answer's function on each example, prints pass/fail per example; returns the exit
 * status: 0 when every example passed, 1 otherwise. */
int calgae_agent_function(const char *answer, size_t len, const char *function,
                          const char *examples, const calgae_sandbox_limits *lim);

#endif
