/*
 * ffi_call.c - function mode (ffi_call.h). One sandboxed process per example: a crash or a
 * hang fails that example alone, and the others still run.
 */
#include "ffi_call.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "extract.h"
#include "lang.h"

/* ffi_runner.c's text, embedded at build time (agent/CMakeLists.txt) */
extern const unsigned char calgae_ffi_runner_src[];
extern const size_t calgae_ffi_runner_src_len;

void calgae_fn_report_free(calgae_fn_report *rep)
{
    calgae_sandbox_result_free(&rep->compile);
    for (int i = 0; i < rep->n_cases; i++)
        calgae_sandbox_result_free(&rep->cases[i].run);
    free(rep->cases);
    memset(rep, 0, sizeof *rep);
}

static int compile(calgae_sandbox *sb, const char *const *argv, const calgae_sandbox_limits *lim,
                   calgae_sandbox_result *r, char *err, size_t err_len)
{
    calgae_sandbox_limits cl = *lim;
    cl.cpu_s = cl.cpu_s < 60 ? 60 : cl.cpu_s;
    cl.timeout_s = cl.timeout_s < 60 ? 60 : cl.timeout_s;
    cl.mem_mb = cl.mem_mb < 2048 ? 2048 : cl.mem_mb;
    cl.fsize_mb = cl.fsize_mb < 64 ? 64 : cl.fsize_mb;
    return calgae_sandbox_run(sb, argv, &cl, r, err, err_len);
}

static int build_runner(calgae_sandbox *sb, const calgae_sandbox_limits *lim, char *err,
                        size_t err_len)
{
    if (calgae_sandbox_write(sb, "ffi_runner.c", (const char *)calgae_ffi_runner_src,
                             calgae_ffi_runner_src_len, err, err_len) != 0)
        return -1;
    const char *const cc[] = {"cc", "-O1", "-o", "ffi_runner", "ffi_runner.c", "-lffi", "-ldl", NULL};
    calgae_sandbox_result r;
    if (compile(sb, cc, lim, &r, err, err_len) != 0)
        return -1;
    int ok = r.exit_code == 0 && !r.signal && !r.timed_out;
    if (!ok)
        snprintf(err, err_len, "function mode: cannot build the libffi caller in the sandbox "
                 "(is libffi-dev installed?): %.300s", r.err);
    calgae_sandbox_result_free(&r);
    return ok ? 0 : -1;
}

static int pick_block(const calgae_code_block *b, int n)
{
    const char *why;
    for (int i = 0; i < n; i++)
        if (calgae_lang_detect(b[i].tag, b[i].code, 0, &why) == CALGAE_LANG_C)
            return i;
    for (int i = 0; i < n; i++) /* a bare function has no #include or main */
        if (!b[i].tag[0])
            return i;
    return -1;
}

int calgae_fn_run(calgae_sandbox *sb, const char *answer, size_t len, const calgae_fn_sig *sig,
                  const calgae_fn_example *ex, int n_ex, const calgae_sandbox_limits *lim,
                  calgae_fn_report *rep, char *err, size_t err_len)
{
    memset(rep, 0, sizeof *rep);
    calgae_code_block *b;
    int nb;
    if (calgae_extract_blocks(answer, len, &b, &nb, err, err_len) != 0)
        return -1;
    int k = pick_block(b, nb);
    if (k < 0) {
        calgae_blocks_free(b, nb);
        return 0;
    }
    rep->block = k + 1;
    int rc = calgae_sandbox_write(sb, "fn.c", b[k].code, b[k].len, err, err_len);
    calgae_blocks_free(b, nb);
    if (rc != 0)
        return -1;
    const char *const cc[] = {"cc", "-std=gnu17", "-O1", "-shared", "-fPIC", "-o", "fn.so", "fn.c",
                              "-lm", NULL};
    rep->compiled = 1;
    if (compile(sb, cc, lim, &rep->compile, err, err_len) != 0)
        return -1;
    rep->compiled_ok = rep->compile.exit_code == 0 && !rep->compile.signal && !rep->compile.timed_out;
    if (!rep->compiled_ok)
        return 0;
    if (build_runner(sb, lim, err, err_len) != 0 ||
        !(rep->cases = calloc((size_t)n_ex, sizeof *rep->cases))) {
        if (!rep->cases && !err[0])
            snprintf(err, err_len, "out of memory");
        return -1;
    }
    char ret[16];
    calgae_fn_type_code(&sig->ret, ret, sizeof ret);
    for (int i = 0; i < n_ex; i++) {
        const char *argv[CALGAE_FN_MAX_PARAMS + 5] = {"./ffi_runner", "./fn.so", sig->name, ret};
        for (int j = 0; j < sig->n_params; j++)
            argv[4 + j] = ex[i].args[j];
        argv[4 + sig->n_params] = NULL;
        calgae_fn_case *c = &rep->cases[rep->n_cases++];
        if (calgae_sandbox_run(sb, argv, lim, &c->run, err, err_len) != 0)
            return -1;
        const char *nl = strchr(c->run.out, '\n');
        size_t glen = nl ? (size_t)(nl - c->run.out) : 0;
        if (glen < sizeof c->got && c->run.exit_code == 0 && !c->run.signal && !c->run.timed_out) {
            memcpy(c->got, c->run.out, glen);
            c->got[glen] = '\0';
            c->pass = calgae_fn_result_matches(&sig->ret, c->got, ex[i].expect);
        }
        rep->n_pass += c->pass;
    }
    return 0;
}
