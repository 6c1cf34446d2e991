/* cmd_fetch.c - `calgae fetch-model`: a Hugging Face Hub repository into huggingface_hub's
 * cache (hub.h), where `--model ORG/NAME` finds it. Progress over all files, as bytes arrive:
 * one line redrawn in place on a terminal, a plain line every few seconds otherwise (logs). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "args.h"
#include "hub.h"
#include "model_load.h"
#include "util.h"

#ifndef CALGAE_NO_CURL
#include <curl/curl.h>
#endif

static const char usage[] =
    "Usage: calgae fetch-model ORG/NAME [--revision R] [--include GLOB] [--dir D] [--jobs N]\n"
    "                          [--timeout S] [--quiet]\n"
    "\n"
    "Download a model repository from the Hugging Face Hub into the cache huggingface_hub uses\n"
    "($HF_HOME/hub, default ~/.cache/huggingface/hub), so 'calgae run --model ORG/NAME' finds\n"
    "it. Downloads resume after a dropped connection; LFS files are checked against the hub's\n"
    "sha256. HF_ENDPOINT names another server, HF_TOKEN a token for gated or private repos.\n"
    "Prints the snapshot folder. Progress (bytes over all files, rate, time left) goes to\n"
    "stderr: one line redrawn in place on a terminal, else a line every 2 seconds and at the end.\n"
    "\n"
    "Options:\n"
    "      --revision R   a branch, tag or commit (default main)\n"
    "      --include GLOB only the files matching GLOB (e.g. '*Q4_K_M.gguf')\n"
    "      --dir D        the cache folder instead of $HF_HOME/hub\n"
    "      --jobs N       files downloaded at once (default 4)\n"
    "      --timeout S    fail a transfer that stalls S seconds (default 60)\n"
    "  -q, --quiet        no progress line\n"
    "  -h, --help         show this help\n";

#ifndef CALGAE_NO_CURL
typedef struct fetch_progress {
    int tty;          /* redraw one line in place */
    int drawn;        /* a tty line is on the screen, not yet ended */
    double t0, last;  /* ms: first call, last line */
    long long base;   /* bytes done at the first call (the cache's, resumed ones) */
} fetch_progress;

#define TTY_MS 100.0    /* a terminal shows no faster redraws */
#define PLAIN_MS 2000.0 /* a log needs no more */

/* "12.3 MiB" */
static void human(char *buf, size_t len, double bytes)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    for (; bytes >= 1024 && u < 4; u++)
        bytes /= 1024;
    snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", bytes, units[u]);
}

/* A calgae_hub_progress_fn: bytes (exact in a log, human on a terminal), files, the rate of
 * this run's bytes and the time left at that rate. */
static void on_progress(void *user, long long done, long long total, size_t files_done,
                        size_t n_files, int final)
{
    fetch_progress *p = user;
    const double now = calgae_now_ms();
    if (p->t0 == 0) { /* a log's first line comes after PLAIN_MS, a terminal's at once */
        p->t0 = now;
        p->base = done;
        p->last = p->tty ? 0 : now;
    }
    if (!final && now - p->last < (p->tty ? TTY_MS : PLAIN_MS))
        return;
    p->last = now;
    const double secs = (now - p->t0) / 1000.0;
    const double rate = secs > 0.05 ? (double)(done - p->base) / secs : 0;
    char r[32], left[32] = "", d[32], t[32];
    human(r, sizeof r, rate);
    if (!final && rate > 0 && total > done)
        snprintf(left, sizeof left, ", %.0f s left", (double)(total - done) / rate);
    const int pct = total > 0 ? (int)(100.0 * (double)done / (double)total) : 100;
    if (p->tty) {
        human(d, sizeof d, (double)done);
        human(t, sizeof t, (double)total);
        fprintf(stderr, "\r\033[Kcalgae: fetch %s / %s (%d%%), %zu/%zu files, %s/s%s%s", d, t,
                pct, files_done, n_files, r, left, final ? "\n" : "");
        p->drawn = !final;
    } else {
        fprintf(stderr, "calgae: fetch %lld/%lld bytes (%d%%), %zu/%zu files, %s/s%s\n", done,
                total, pct, files_done, n_files, r, left);
    }
    fflush(stderr);
}
#endif

int calgae_cmd_fetch(int argc, char **argv)
{
    static const struct option longs[] = {
        {"revision", required_argument, 0, 'r'}, {"include", required_argument, 0, 'i'},
        {"dir", required_argument, 0, 'd'},      {"jobs", required_argument, 0, 'j'},
        {"timeout", required_argument, 0, 't'},  {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},           {0, 0, 0, 0}};
    char hub_dir[CALGAE_PATH_MAX];
    const char *endpoint = getenv("HF_ENDPOINT");
    calgae_hub_opts o = {.endpoint = endpoint && *endpoint ? endpoint : "https://huggingface.co",
                         .token = getenv("HF_TOKEN"), .revision = "main", .jobs = 4,
                         .timeout_s = 60};
    int quiet = 0;
    long v;
    int c;
    if (calgae_args_check("fetch-model", &argc, argv, ":hq", longs) != 0)
        return 2;
    while ((c = getopt_long(argc, argv, ":hq", longs, NULL)) != -1) {
        switch (c) {
        case 'r': o.revision = optarg; break;
        case 'i': o.include = optarg; break;
        case 'd': o.hub_dir = optarg; break;
        case 'j':
            if (calgae_parse_int("--jobs", optarg, 1, 16, &v) != 0)
                return 2;
            o.jobs = (int)v;
            break;
        case 't':
            if (calgae_parse_int("--timeout", optarg, 1, 86400, &v) != 0)
                return 2;
            o.timeout_s = v;
            break;
        case 'q': quiet = 1; break;
        case 'h': fputs(usage, stdout); return 0;
        case ':':
        default: return calgae_option_error("fetch-model", c, argv, longs);
        }
    }
    if (optind != argc - 1) {
        calgae_cli_error("fetch-model needs one repository, ORG/NAME (see 'calgae fetch-model --help')");
        return 2;
    }
    o.repo = argv[optind];
    if (!o.hub_dir) {
        if (calgae_hub_cache_dir(hub_dir, sizeof hub_dir) != 0) {
            calgae_cli_error("no cache folder: set HF_HOME or HOME, or give --dir");
            return 2;
        }
        o.hub_dir = hub_dir;
    }
#ifdef CALGAE_NO_CURL
    (void)quiet;
    calgae_cli_error("fetch-model needs libcurl, absent in this build");
    return 1;
#else
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
        calgae_cli_error("cannot start libcurl");
        return 1;
    }
    fetch_progress prog = {.tty = isatty(2)};
    if (!quiet) {
        o.progress = on_progress;
        o.progress_user = &prog;
    }
    char snap[CALGAE_PATH_MAX * 2], err[CALGAE_ERR_LEN];
    int rc = calgae_hub_fetch(&o, snap, sizeof snap, err, sizeof err);
    curl_global_cleanup();
    if (prog.drawn)
        fputc('\n', stderr); /* the error starts a line of its own */
    if (rc != 0) {
        calgae_cli_error("%s", err);
        return 1;
    }
    printf("%s\n", snap);
    return 0;
#endif
}
