/*
 * cmd_logits.c - `calgae logits`: the raw logits of every position of a token sequence, as
 * little-endian float32 rows of n_vocab, for checking the forward pass against an independent
 * reference (tests/ref_llama.py).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "config.h"
#include "outfile.h"
#include "session.h"

static const char usage[] =
    "Usage: calgae logits --model PATH (--prompt TEXT | --ids 1,2,3) --out FILE [options]\n"
    "\n"
    "Write the logits after each token (float32, one row of n_vocab per token) to FILE.\n"
    "With --prompt the ids are BOS + the prompt's tokens, and they are printed on stdout.\n"
    "\n"
    "Options: --tokenizer FILE, --threads N, --backend NAME, --ctx N, --batch N, -h,\n"
    "         --config FILE (the settings file; see 'calgae run --help')\n";

static int parse_ids(const char *s, int32_t **ids, size_t *n)
{
    size_t cap = 16;
    *n = 0;
    *ids = malloc(cap * sizeof **ids);
    while (*ids && *s) {
        char *end;
        errno = 0;
        long v = strtol(s, &end, 10);
        if (end == s || errno || v < 0 || v > INT32_MAX || (*end && *end != ','))
            break;
        if (*n == cap) {
            int32_t *bigger = realloc(*ids, 2 * cap * sizeof **ids);
            if (!bigger)
                break;
            *ids = bigger;
            cap *= 2;
        }
        (*ids)[(*n)++] = (int32_t)v;
        s = *end ? end + 1 : end;
        if (!*end)
            return *n > 0 ? 0 : -1;
    }
    free(*ids);
    *ids = NULL;
    return -1;
}

/* The rows go to a temporary file that replaces `out` only when all are written: a bad token
 * id or Ctrl-C leaves an existing file as it was (outfile.h). */
static int run(calgae_session *s, const int32_t *ids, size_t n, const char *out, char *err,
               size_t err_len)
{
    calgae_outfile f;
    if (calgae_outfile_open(&f, out, err, err_len) != 0)
        return -1;
    const size_t vocab = (size_t)s->model->cfg.vocab_size;
    int rc = 0;
    for (size_t done = 0; done < n && rc == 0;) {
        int chunk = (int)(n - done < (size_t)s->st->max_batch ? n - done : (size_t)s->st->max_batch);
        rc = calgae_forward(s->st, ids + done, chunk, (int)done, 1, err, err_len);
        if (rc == 0 && fwrite(s->st->logits, sizeof(float) * vocab, (size_t)chunk, f.f) != (size_t)chunk)
            rc = calgae_fail(err, err_len, "%s: write failed", out);
        done += (size_t)chunk;
    }
    if (rc != 0) {
        calgae_outfile_abort(&f);
        return rc;
    }
    return calgae_outfile_commit(&f, err, err_len);
}

int calgae_cmd_logits(int argc, char **argv)
{
    static const struct option longs[] = {
        {"model", required_argument, 0, 'm'},   {"prompt", required_argument, 0, 'p'},
        {"ids", required_argument, 0, 'i'},     {"out", required_argument, 0, 'o'},
        {"tokenizer", required_argument, 0, 'z'}, {"threads", required_argument, 0, 't'},
        {"backend", required_argument, 0, 'B'}, {"ctx", required_argument, 0, 'C'},
        {"batch", required_argument, 0, 'b'},   {"config", required_argument, 0, 'F'},
        {"help", no_argument, 0, 'h'},          {0, 0, 0, 0}};
    calgae_session_opts so = {.need_state = 1};
    const char *prompt = NULL, *id_list = NULL, *out = NULL;
    long v;
    int c;
    if (calgae_args_check("logits", &argc, argv, ":m:p:o:t:h", longs) != 0)
        return 2;
    while ((c = getopt_long(argc, argv, ":m:p:o:t:h", longs, NULL)) != -1) {
        switch (c) {
        case 'm': so.model = optarg; break;
        case 'p': prompt = optarg; break;
        case 'i': id_list = optarg; break;
        case 'o': out = optarg; break;
        case 'z': so.tokenizer = optarg; break;
        case 'B': so.backend = optarg; break;
        case 'F': so.config = optarg; break;
        case 't': if (calgae_parse_int("--threads", optarg, 1, 1024, &v)) return 2; so.threads = (int)v; break;
        case 'C': if (calgae_parse_int("--ctx", optarg, 1, 1 << 24, &v)) return 2; so.ctx = (int)v; break;
        case 'b': if (calgae_parse_int("--batch", optarg, 1, 4096, &v)) return 2; so.max_batch = (int)v; break;
        case 'h': fputs(usage, stdout); return 0;
        case ':':
        default: return calgae_option_error("logits", c, argv, longs);
        }
    }
    if (optind < argc || !so.model || !out || !prompt == !id_list) {
        calgae_cli_error("logits needs --model, --out and one of --prompt / --ids");
        return 2;
    }
    int32_t *ids = NULL;
    size_t n = 0;
    if (id_list && parse_ids(id_list, &ids, &n) != 0) {
        calgae_cli_error("--ids: '%s' is not a comma-separated list of token ids", id_list);
        return 2;
    }
    char err[CALGAE_ERR_LEN];
    calgae_session s;
    int rc = calgae_session_open(&s, &so, err, sizeof err);
    if (rc != 0) {
        calgae_cli_error("%s", err);
        free(ids);
        return rc == CALGAE_SETTINGS_BAD ? 2 : 1;
    }
    if (prompt) {
        rc = calgae_tokenizer_encode(s.tok, prompt, strlen(prompt), 1, &ids, &n, err, sizeof err);
        for (size_t i = 0; rc == 0 && i < n; i++)
            printf("%s%d", i ? " " : "", ids[i]);
        if (rc == 0)
            putchar('\n');
    }
    if (rc == 0 && n > (size_t)s.st->ctx)
        rc = calgae_fail(err, sizeof err, "%zu tokens do not fit the context of %d", n, s.st->ctx);
    if (rc == 0)
        rc = run(&s, ids, n, out, err, sizeof err);
    if (rc != 0)
        calgae_cli_error("%s", err);
    free(ids);
    calgae_session_close(&s);
    return rc == 0 ? 0 : 1;
}
