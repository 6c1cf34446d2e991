/*
 * ffi_call.h - function mode: the model's C function compiled as a shared object in the
 * sandbox, then, for each example, a sandboxed child (ffi_runner.c, compiled there too) that
 * dlopens it and calls it through libffi with the example's arguments; each example passes
 * when the returned value equals the expected one (fnsig.h's comparison).
 */
#ifndef CALGAE_AGENT_FFI_CALL_H
#define CALGAE_AGENT_FFI_CALL_H

#include <stddef.h>

#include "fnsig.h"
#include "sandbox.h"

typedef struct calgae_fn_case {
    int pass;
    char got[256];                  /* the runner's printed result ("" when none) */
    calgae_sandbox_result run;
} calgae_fn_case;

typedef struct calgae_fn_report {
    int block;                      /* 1-based block used, 0 when the answer had no C block */
    calgae_sandbox_result compile;  /* cc -shared of the function */
    int compiled;                   /* the compile ran */
    int compiled_ok;
    calgae_fn_case *cases;          /* one per example, when compiled_ok */
    int n_cases, n_pass;
} calgae_fn_report;

/* Runs function mode on a model's answer: its first C block (by tag or content) is the
 * function. 0 when it could run (see the report), -1 on a setup failure. */
int calgae_fn_run(calgae_sandbox *sb, const char *answer, size_t len, const calgae_fn_sig *sig,
                  const calgae_fn_example *ex, int n_ex, const calgae_sandbox_limits *lim,
                  calgae_fn_report *rep, char *err, size_t err_len);
void calgae_fn_report_free(calgae_fn_report *rep);

#endif
