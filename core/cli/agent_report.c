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
