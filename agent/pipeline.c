/*
 * pipeline.c - extract, decide, compile and run (pipeline.h). Each block gets its own files in
 * the sandbox's work folder (b1.c / b1 / b1.py ...): a later block may read what an earlier one
 * wrote there, as in a notebook, but never anything outside.
 */
#include "pipeline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int calgae_have_rustc(void)
{
    /* only a rustc the sandbox can see: its PATH is /usr/local/bin:/usr/bin:/bin, with /usr
     * bound read-only (a rustup toolchain under a home folder is not there) */
    return access("/usr/local/bin/rustc", X_OK) == 0 || access("/usr/bin/rustc", X_OK) == 0;
}

void calgae_pipeline_result_free(calgae_pipeline_result *r)
{
    for (int i = 0; i < r->n_reports; i++) {
        calgae_sandbox_result_free(&r->reports[i].compile);
        calgae_sandbox_result_free(&r->reports[i].run);
    }
    free(r->reports);
    memset(r, 0, sizeof *r);
}

static int ran_ok(const calgae_sandbox_result *s)
{
    return s->exit_code == 0 && !s->signal && !s->timed_out;
}

static int run_block(calgae_sandbox *sb, const calgae_code_block *b, calgae_block_report *rep,
                     const calgae_sandbox_limits *lim, char *err, size_t err_len)
{
    char src[64], bin[64], binpath[80];
    static const char *const ext[] = {"", "c", "py", "sh", "rs"};
    snprintf(src, sizeof src, "b%d.%s", rep->index, ext[rep->lang]);
    snprintf(bin, sizeof bin, "b%d", rep->index);
    snprintf(binpath, sizeof binpath, "./b%d", rep->index);
    if (calgae_sandbox_write(sb, src, b->code, b->len, err, err_len) != 0)
        return -1;
    if (rep->lang == CALGAE_LANG_C || rep->lang == CALGAE_LANG_RUST) {
        const char *const cc[] = {"cc", "-std=gnu17", "-O1", "-o", bin, src, "-lm", NULL};
        const char *const rc[] = {"rustc", "-O", "-o", bin, src, NULL};
        calgae_sandbox_limits cl = *lim;
        cl.cpu_s = cl.cpu_s < 60 ? 60 : cl.cpu_s; /* the compiler's own time, not the program's */
        cl.timeout_s = cl.timeout_s < 60 ? 60 : cl.timeout_s;
        cl.mem_mb = cl.mem_mb < 2048 ? 2048 : cl.mem_mb;
        cl.fsize_mb = cl.fsize_mb < 64 ? 64 : cl.fsize_mb;
        rep->compiled = 1;
        if (calgae_sandbox_run(sb, rep->lang == CALGAE_LANG_C ? cc : rc, &cl, &rep->compile, err,
                               err_len) != 0)
            return -1;
        if (!ran_ok(&rep->compile))
            return 0;
    }
    const char *const py[] = {"/usr/bin/python3", src, NULL};
    const char *const sh[] = {"/bin/sh", src, NULL};
    const char *const exe[] = {binpath, NULL};
    const char *const *argv = rep->lang == CALGAE_LANG_PYTHON ? py
                              : rep->lang == CALGAE_LANG_SHELL ? sh : exe;
    rep->ran = 1;
    if (calgae_sandbox_run(sb, argv, lim, &rep->run, err, err_len) != 0)
        return -1;
    rep->ok = ran_ok(&rep->run);
    return 0;
}

int calgae_pipeline_run(calgae_sandbox *sb, const char *text, size_t len,
                        const calgae_pipeline_opts *o, calgae_pipeline_result *r, char *err,
                        size_t err_len)
{
    memset(r, 0, sizeof *r);
    calgae_code_block *blocks;
    int n;
    if (calgae_extract_blocks(text, len, &blocks, &n, err, err_len) != 0)
        return -1;
    r->n_blocks = n;
    if (n > 0 && !(r->reports = calloc((size_t)n, sizeof *r->reports))) {
        calgae_blocks_free(blocks, n);
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    const int have_rust = calgae_have_rustc();
    int rc = 0;
    for (int i = 0; i < n; i++) {
        calgae_block_report *rep = &r->reports[r->n_reports++];
        rep->index = i + 1;
        rep->lang = calgae_lang_detect(blocks[i].tag, blocks[i].code, have_rust, &rep->lang_why);
        if (rep->lang == CALGAE_LANG_UNKNOWN) {
            rep->skipped = 1;
            continue;
        }
        r->n_runnable++;
        if (run_block(sb, &blocks[i], rep, &o->limits, err, err_len) != 0) {
            rc = -1;
            break;
        }
        if (rep->ok && !r->first_ok)
            r->first_ok = rep->index;
        if (rep->ok && !o->all)
            break;
    }
    calgae_blocks_free(blocks, n);
    if (rc != 0)
        calgae_pipeline_result_free(r);
    return rc;
}

void calgae_pipeline_failure_text(const calgae_pipeline_result *r, char *out, size_t cap)
{
    out[0] = '\0';
    for (int i = 0; i < r->n_reports; i++) {
        const calgae_block_report *p = &r->reports[i];
        if (p->skipped || p->ok)
            continue;
        const calgae_sandbox_result *s = p->ran ? &p->run : &p->compile;
        const char *what = p->ran ? "running" : "compiling";
        if (s->timed_out)
            snprintf(out, cap, "The %s program timed out while %s it.\n%.*s",
                     calgae_lang_name(p->lang), what, 2000, s->err);
        else if (s->signal)
            snprintf(out, cap, "The %s program was killed by signal %d while %s it.\n%.*s",
                     calgae_lang_name(p->lang), s->signal, what, 2000, s->err);
        else
            snprintf(out, cap, "%s the %s program failed with exit status %d:\n%.*s",
                     p->ran ? "Running" : "Compiling", calgae_lang_name(p->lang), s->exit_code,
                     2000, s->err);
        return;
    }
}
