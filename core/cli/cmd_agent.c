/*
 * cmd_agent.c - `calgae agent exec FILE`: the agent's pipeline (agent/pipeline.h) on a text
 * someone already has, a saved model answer: its fenced code blocks are compiled and run in
 * the bubblewrap sandbox and each one's output and exit status printed.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_report.h"
#include "args.h"
#include "cli.h"

static const char usage[] =
    "Usage: calgae agent exec FILE [options]\n"
    "\n"
    "Run the fenced code blocks (``` or ~~~) of FILE ('-' for stdin), a model's answer, in a\n"
    "bubblewrap sandbox: C (cc), Python (python3), shell (sh), Rust (rustc, when installed);\n"
    "the fence's tag decides the language, else the block's content. Exit status 0 when a\n"
    "block compiled and exited 0; 1 when none did, or there was no block to run.\n"
    "\n"
    "Options:\n"
    "      --all              run every block (default: stop at the first that succeeds)\n"
    "      --function SIG     function mode: the first C block defines SIG, e.g. 'int add(int,\n"
    "                         int)'; it is built as a shared object and called through libffi\n"
    "                         in the sandbox on each example; exit status 0 when all pass\n"
    "      --examples EX      'ARGS->RESULT; ...', e.g. '1,2->3; 5,-1->4'; strings in double\n"
    "                         quotes, arrays as [1, 2] (their length parameter is filled in)\n"
    "%s"
    "  -h, --help             show this help\n";

#define MAX_ANSWER (16L << 20)

static char *read_all(const char *path, size_t *len)
{
    const int is_stdin = !strcmp(path, "-");
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    if (!f) {
        calgae_cli_error("%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
        if (n == cap) {
            char *b = cap < (size_t)MAX_ANSWER ? realloc(buf, cap * 2 + 1) : NULL;
            if (!b) {
                free(buf);
                buf = NULL;
            }
            buf = b;
            cap *= 2;
        }
    }
    int bad = !buf || ferror(f);
    if (!is_stdin)
        fclose(f);
    if (bad) {
        free(buf);
        calgae_cli_error("%s: cannot read (read error, or over %ld MiB)", path, MAX_ANSWER >> 20);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

static int exec_cmd(int argc, char **argv)
{
    static const struct option longs[] = {
        {"all", no_argument, 0, 'a'},           {"timeout", required_argument, 0, 'T'},
        {"cpu", required_argument, 0, 'C'},     {"memory", required_argument, 0, 'M'},
        {"output-cap", required_argument, 0, 'O'}, {"help", no_argument, 0, 'h'},
        {"function", required_argument, 0, 'f'}, {"examples", required_argument, 0, 'e'},
        {0, 0, 0, 0}};
    const char *shorts = ":h";
    calgae_pipeline_opts o = {.limits = calgae_sandbox_default_limits()};
    const char *function = NULL, *examples = NULL;
    int c, li = 0;
    if (calgae_args_check("agent exec", &argc, argv, shorts, longs) != 0)
        return 2;
    while ((c = getopt_long(argc, argv, shorts, longs, &li)) != -1) {
        switch (c) {
        case 'a': o.all = 1; break;
        case 'f': function = optarg; break;
        case 'e': examples = optarg; break;
        case 'T': if (calgae_agent_limit_flag(&o.limits, "--timeout", optarg)) return 2; break;
        case 'C': if (calgae_agent_limit_flag(&o.limits, "--cpu", optarg)) return 2; break;
        case 'M': if (calgae_agent_limit_flag(&o.limits, "--memory", optarg)) return 2; break;
        case 'O': if (calgae_agent_limit_flag(&o.limits, "--output-cap", optarg)) return 2; break;
        case 'h': printf(usage, calgae_agent_limit_help); return 0;
        default: return calgae_option_error("agent exec", c, argv, longs);
        }
    }
    if (optind + 1 != argc) {
        calgae_cli_error("agent exec: give one FILE (see 'calgae agent exec --help')");
        return 2;
    }
    if (!function != !examples) {
        calgae_cli_error("agent exec: --function and --examples go together");
        return 2;
    }
    size_t len;
    char *text = read_all(argv[optind], &len);
    if (!text)
        return 1;
    if (function) {
        int frc = calgae_agent_function(text, len, function, examples, &o.limits);
        free(text);
        return frc;
    }
    char err[4608];
    calgae_sandbox sb;
    if (calgae_sandbox_open(&sb, NULL, err, sizeof err) != 0) {
        free(text);
        calgae_cli_error("%s", err);
        return 1;
    }
    calgae_pipeline_result r;
    int rc = calgae_pipeline_run(&sb, text, len, &o, &r, err, sizeof err);
    calgae_sandbox_close(&sb);
    free(text);
    if (rc != 0) {
        calgae_cli_error("%s", err);
        return 1;
    }
    calgae_agent_print(stdout, &r);
    rc = calgae_agent_status(&r);
    calgae_pipeline_result_free(&r);
    return rc;
}

int calgae_cmd_agent(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "exec"))
        return exec_cmd(argc - 1, argv + 1);
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf(usage, calgae_agent_limit_help);
        return 0;
    }
    calgae_cli_error("agent: expected 'agent exec FILE' (see 'calgae agent --help')");
    return 2;
}
