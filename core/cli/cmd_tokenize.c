/*
 * cmd_tokenize.c - `calgae tokenize`: the token ids of a text, BOS first, as llama.cpp's
 * tokenizer tool prints them (id -> 'piece' per line, or a bracketed id list with --ids).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "model_load.h"
#include "model.h"
#include "session.h"

static const char usage[] =
    "Usage: calgae tokenize (--model PATH | --tokenizer FILE) --text TEXT [--ids]\n"
    "\n"
    "Print the tokens of TEXT, BOS first (where the vocabulary adds one; EOS last where it adds\n"
    "one). Control tokens written in TEXT (<|eot_id|>, </s>) become those tokens.\n"
    "\n"
    "Options:\n"
    "  -m, --model PATH       a model: a GGUF with its vocabulary (or a vocabulary-only GGUF),\n"
    "                         or a llama2.c .bin with tokenizer.bin beside it\n"
    "      --tokenizer FILE   a llama2.c tokenizer.bin or a GGUF vocabulary\n"
    "      --text TEXT        the text to tokenize (required)\n"
    "      --ids              print only the ids, as [1, 2, 3]\n"
    "      --no-bos           leave out BOS (and EOS)\n"
    "      --no-parse-special keep control tokens written in TEXT as text\n"
    "  -h, --help             show this help\n";

/* A piece's bytes (a byte-level token may be a NUL byte), newlines and tabs escaped. */
static void print_piece(const char *p, size_t n)
{
    for (const char *e = p + n; p < e; p++) {
        if (*p == '\n')
            fputs("\\n", stdout);
        else if (*p == '\t')
            fputs("\\t", stdout);
        else
            fputc(*p, stdout);
    }
}

static int is_gguf(const char *path)
{
    return calgae_gguf_probe(path, NULL, 0) == 1;
}

/* The vocabulary to use, as `run` finds it: --tokenizer FILE; else the model's own; else, for
 * a llama2.c checkpoint, tokenizer.bin beside it; a GGUF that holds a vocabulary and no model
 * (llama.cpp's ggml-vocab-*.gguf) serves as its own vocabulary. */
static int open_vocab(const char *model, const char *tokfile, calgae_transformer *m, int *have_model,
                      calgae_tokenizer *own, const calgae_tokenizer **t, char *err, size_t err_len)
{
    *have_model = 0;
    if (tokfile) {
        if (calgae_tokenizer_load_file(own, tokfile, 0, err, err_len) != 0)
            return -1;
        *t = own;
        return 0;
    }
    if (calgae_transformer_load(m, model, err, err_len) != 0) {
        if (!is_gguf(model))
            return -1;
        char verr[CALGAE_ERR_LEN];
        if (calgae_tokenizer_load_file(own, model, 0, verr, sizeof verr) != 0) {
            /* a GGUF without a vocabulary: the model's error; with a vocabulary that is
             * refused (a hostile or unsupported one): that refusal, which is what tokenize
             * is about */
            if (!strstr(verr, "no tokenizer.ggml.tokens"))
                snprintf(err, err_len, "%s", verr);
            return -1;
        }
        *t = own;
        return 0;
    }
    *have_model = 1;
    if (m->has_tokenizer) {
        *t = &m->tokenizer;
        return 0;
    }
    /* llama2.c's convention, as `run` follows it */
    char path[CALGAE_PATH_MAX + 16];
    const char *slash = strrchr(m->path, '/');
    snprintf(path, sizeof path, "%.*s/tokenizer.bin", slash ? (int)(slash - m->path) : 1,
             slash ? m->path : ".");
    if (calgae_tokenizer_load_file(own, path, m->cfg.vocab_size, err, err_len) != 0) {
        size_t n = strlen(err);
        snprintf(err + n, err_len - n, " (pass the model's tokenizer with --tokenizer)");
        calgae_transformer_free(m);
        *have_model = 0;
        return -1;
    }
    *t = own;
    return 0;
}

int calgae_cmd_tokenize(int argc, char **argv)
{
    static const struct option longs[] = {
        {"model", required_argument, 0, 'm'}, {"tokenizer", required_argument, 0, 'z'},
        {"text", required_argument, 0, 'x'},  {"ids", no_argument, 0, 'i'},
        {"no-bos", no_argument, 0, 'b'},      {"help", no_argument, 0, 'h'},
        {"no-parse-special", no_argument, 0, 'S'},
        {0, 0, 0, 0}};
    const char *model = NULL, *tokfile = NULL, *text = NULL;
    int ids_only = 0, bos = 1, parse_special = 1, c;
    if (calgae_args_check("tokenize", &argc, argv, ":m:h", longs) != 0)
        return 2;
    while ((c = getopt_long(argc, argv, ":m:h", longs, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case 'z': tokfile = optarg; break;
        case 'x': text = optarg; break;
        case 'i': ids_only = 1; break;
        case 'b': bos = 0; break;
        case 'S': parse_special = 0; break;
        case 'h': fputs(usage, stdout); return 0;
        case ':':
        default: return calgae_option_error("tokenize", c, argv, longs);
        }
    }
    if (optind < argc || !text || (!model && !tokfile)) {
        calgae_cli_error("tokenize needs --text and --model or --tokenizer (see 'calgae tokenize --help')");
        return 2;
    }
    char err[CALGAE_ERR_LEN];
    calgae_transformer m;
    calgae_tokenizer own;
    const calgae_tokenizer *t;
    int have_model = 0;
    if (open_vocab(model, tokfile, &m, &have_model, &own, &t, err, sizeof err) != 0) {
        calgae_cli_error("%s", err);
        return 1;
    }
    int32_t *ids = NULL;
    size_t n = 0;
    const calgae_encode_opts eo = {.add_special = bos, .parse_special = parse_special};
    int rc = calgae_tokenizer_encode_opts(t, text, strlen(text), &eo, &ids, &n, err, sizeof err);
    if (rc != 0) {
        calgae_cli_error("%s", err);
    } else if (ids_only) {
        fputc('[', stdout);
        for (size_t i = 0; i < n; i++)
            printf("%s%d", i ? ", " : "", ids[i]);
        fputs("]\n", stdout);
    } else {
        for (size_t i = 0; i < n; i++) {
            printf("%6d -> '", ids[i]);
            print_piece(t->pieces[ids[i]], t->piece_lens[ids[i]]);
            fputs("'\n", stdout);
        }
    }
    free(ids);
    if (t == &own)
        calgae_tokenizer_free(&own);
    if (have_model)
        calgae_transformer_free(&m);
    return rc == 0 ? 0 : 1;
}
