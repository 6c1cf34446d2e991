/* cmd_fetch.c - `calgae fetch-model`: a Hugging Face Hub repository into huggingface_hub's
 * cache (hub.h), where `--model ORG/NAME` finds it. */
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
    "                          [--timeout S]\n"
    "\n"
    "Download a model repository from the Hugging Face Hub into the cache huggingface_hub uses\n"
    "($HF_HOME/hub, default ~/.cache/huggingface/hub), so 'calgae run --model ORG/NAME' finds\n"
    "it. Downloads resume after a dropped connection; LFS files are checked against the hub's\n"
    "sha256. HF_ENDPOINT names another server, HF_TOKEN a token for gated or private repos.\n"
    "Prints the snapshot folder.\n"
    "\n"
    "Options:\n"
    "      --revision R   a branch, tag or commit (default main)\n"
    "      --include GLOB only the files matching GLOB (e.g. '*Q4_K_M.gguf')\n"
    "      --dir D        the cache folder instead of $HF_HOME/hub\n"
    "      --jobs N       files downloaded at once (default 4)\n"
    "      --timeout S    fail a transfer that stalls S seconds (default 60)\n"
    "  -h, --help         show this help\n";

int calgae_cmd_fetch(int argc, char **argv)
{
    static const struct option longs[] = {
        {"revision", required_argument, 0, 'r'}, {"include", required_argument, 0, 'i'},
        {"dir", required_argument, 0, 'd'},      {"jobs", required_argument, 0, 'j'},
        {"timeout", required_argument, 0, 't'},  {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    char hub_dir[CALGAE_PATH_MAX];
    const char *endpoint = getenv("HF_ENDPOINT");
    calgae_hub_opts o = {.endpoint = endpoint && *endpoint ? endpoint : "https://huggingface.co",
                         .token = getenv("HF_TOKEN"), .revision = "main", .jobs = 4,
                         .timeout_s = 60, .progress = isatty(2)};
    long v;
    int c;
    if (calgae_args_check("fetch-model", &argc, argv, ":h", longs) != 0)
        return 2;
    while ((c = getopt_long(argc, argv, ":h", longs, NULL)) != -1) {
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
    calgae_cli_error("fetch-model needs libcurl, absent in this build");
    return 1;
#else
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
        calgae_cli_error("cannot start libcurl");
        return 1;
    }
    char snap[CALGAE_PATH_MAX * 2], err[CALGAE_ERR_LEN];
    int rc = calgae_hub_fetch(&o, snap, sizeof snap, err, sizeof err);
    curl_global_cleanup();
    if (rc != 0) {
        calgae_cli_error("%s", err);
        return 1;
    }
    printf("%s\n", snap);
    return 0;
#endif
}
