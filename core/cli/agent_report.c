/* agent_report.c - the agent's flags and printed reports (agent_report.h). */
#define _GNU_SOURCE /* strsignal */
#include "agent_report.h"

#include <string.h>

#include "args.h"

const char calgae_agent_limit_help[] =
    "      --timeout S        wall-clock seconds per compile or run, then the whole process\n"
    "                         group is killed (default 10; compiles get at least 60)\n"
    "      --cpu S            CPU seconds per run (RLIMIT_CPU, default 10)\n"
    "      --memory MB        address space per process in MiB (RLIMIT_AS, default 1024)\n"
    "      --output-cap N     bytes of stdout and of stderr kept per run (default 65536)\n";

int calgae_agent_limit_flag(calgae_sandbox_limits *lim, const char *flag, const char *value)
{
    long v;
    double d;
    if (!strcmp(flag, "--timeout")) {
        if (calgae_parse_float(flag, value, 0.1, 3600, &d)) return 2;
        lim->timeout_s = d;
    } else if (!strcmp(flag, "--cpu")) {
        if (calgae_parse_int(flag, value, 1, 3600, &v)) return 2;
        lim->cpu_s = v;
    } else if (!strcmp(flag, "--memory")) {
        if (calgae_parse_int(flag, value, 16, 1 << 20, &v)) return 2;
        lim->mem_mb = v;
    } else if (!strcmp(flag, "--output-cap")) {
        if (calgae_parse_int(flag, value, 1, 1 << 30, &v)) return 2;
        lim->out_cap = (size_t)v;
    }
    return 0;
}

static void print_stream(FILE *out, const char *name, const char *s, size_t len, int truncated)
{
    if (len == 0 && !truncated)
        return;
    fprintf(out, "--- %s ---\n", name);
    fwrite(s, 1, len, out);
    if (len > 0 && s[len - 1] != '\n')
        fputc('\n', out);
    if (truncated)
        fprintf(out, "[%s truncated after %zu bytes]\n", name, len);
}

static void print_status(FILE *out, const char *what, const calgae_sandbox_result *s)
{
    if (s->timed_out)
        fprintf(out, "%s: killed at the timeout (%.1f s)\n", what, s->wall_ms / 1e3);
    else if (s->signal)
        fprintf(out, "%s: killed by signal %d (%s)\n", what, s->signal, strsignal(s->signal));
    else
        fprintf(out, "%s: exit status %d\n", what, s->exit_code);
}

void calgae_agent_print(FILE *out, const calgae_pipeline_result *r)
{
    for (int i = 0; i < r->n_reports; i++) {
        const calgae_block_report *p = &r->reports[i];
        fprintf(out, "=== block %d: %s (by %s) ===\n", p->index, calgae_lang_name(p->lang),
                p->lang_why);
        if (p->skipped) {
            fprintf(out, "not run: no language it can run\n");
            continue;
        }
        if (p->compiled) {
            print_stream(out, "compiler stdout", p->compile.out, p->compile.out_len,
                         p->compile.out_truncated);
            print_stream(out, "compiler stderr", p->compile.err, p->compile.err_len,
                         p->compile.err_truncated);
            print_status(out, "compile", &p->compile);
        }
        if (p->ran) {
            print_stream(out, "stdout", p->run.out, p->run.out_len, p->run.out_truncated);
            print_stream(out, "stderr", p->run.err, p->run.err_len, p->run.err_truncated);
            print_status(out, "run", &p->run);
        }
    }
    fflush(out);
}

int calgae_agent_status(const calgae_pipeline_result *r)
{
    if (r->n_blocks == 0) {
        calgae_cli_error("agent: the answer holds no fenced code block (``` or ~~~): nothing to run");
        return 1;
    }
    if (r->n_runnable == 0) {
        calgae_cli_error("agent: %d code block(s), none in a language it runs (C, Python, "
                         "shell%s)", r->n_blocks, calgae_have_rustc() ? ", Rust" : "");
        return 1;
    }
    if (!r->first_ok) {
        calgae_cli_error("agent: no code block compiled and ran successfully");
        return 1;
    }
    return 0;
}

static void print_fn_report(FILE *out, const calgae_fn_report *r, const calgae_fn_sig *sig,
                            const calgae_fn_example *ex)
{
    fprintf(out, "=== function %s: block %d ===\n", sig->name, r->block);
    print_stream(out, "compiler stderr", r->compile.err, r->compile.err_len,
                 r->compile.err_truncated);
    print_status(out, "compile", &r->compile);
    for (int i = 0; i < r->n_cases; i++) {
        const calgae_fn_case *c = &r->cases[i];
        const calgae_sandbox_result *s = &c->run;
        fprintf(out, "example %d: %s: ", i + 1, ex[i].text);
        if (s->timed_out)
            fprintf(out, "FAIL (never returned: killed at the timeout)\n");
        else if (s->signal)
            fprintf(out, "FAIL (crashed: signal %d, %s)\n", s->signal, strsignal(s->signal));
        else if (s->exit_code != 0)
            fprintf(out, "FAIL (caller exit status %d: %.200s)\n", s->exit_code, s->err);
        else
            fprintf(out, "%s (got %s, expected %s)\n", c->pass ? "pass" : "FAIL", c->got,
                    ex[i].expect);
    }
    fprintf(out, "%d of %d examples pass\n", r->n_pass, r->n_cases);
    fflush(out);
}

int calgae_agent_function(const char *answer, size_t len, const char *function,
                          const char *examples, const calgae_sandbox_limits *lim)
{
    char err[4608];
    calgae_fn_sig sig;
    calgae_fn_example *ex;
    int n;
    if (calgae_fn_sig_parse(function, &sig, err, sizeof err) != 0 ||
        calgae_fn_examples_parse(examples, &sig, &ex, &n, err, sizeof err) != 0) {
        calgae_cli_error("%s", err);
        return 2;
    }
    calgae_sandbox sb;
    calgae_fn_report r;
    err[0] = '\0';
    if (calgae_sandbox_open(&sb, NULL, err, sizeof err) != 0) {
        calgae_fn_examples_free(ex, n);
        calgae_cli_error("%s", err);
        return 1;
    }
    int rc = calgae_fn_run(&sb, answer, len, &sig, ex, n, lim, &r, err, sizeof err);
    calgae_sandbox_close(&sb);
    if (rc != 0) {
        calgae_fn_examples_free(ex, n);
        calgae_cli_error("%s", err);
        return 1;
    }
    if (!r.block) {
        calgae_cli_error("agent: the answer holds no C code block to take the function from");
        rc = 1;
    } else {
        print_fn_report(stdout, &r, &sig, ex);
        rc = r.compiled_ok && r.n_pass == n ? 0 : 1;
        if (!r.compiled_ok)
            calgae_cli_error("agent: the function did not compile");
        else if (rc)
            calgae_cli_error("agent: %d of %d examples failed", n - r.n_pass, n);
    }
    calgae_fn_report_free(&r);
    calgae_fn_examples_free(ex, n);
    return rc;
}
