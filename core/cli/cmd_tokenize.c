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
    "Print the tokens of TEXT, BOS first.\n"
    "\n"
    "Options:\n"
    "  -m, --model PATH       a GGUF model with its vocabulary\n"
    "      --tokenizer FILE   a llama2.c tokenizer.bin or a GGUF vocabulary\n"
    "      --text TEXT        the text to tokenize (required)\n"
    "      --ids              print only the ids, as [1, 2, 3]\n"
    "      --no-bos           leave out BOS\n"
    "  -h, --help             show this help\n";

static void print_piece(const char *p)
{
    for (; *p; p++) {
        if (*p == '\n')
            fputs("\\n", stdout);
        else if (*p == '\t')
            fputs("\\t", stdout);
        else
            fputc(*p, stdout);
    }
}

int calgae_cmd_tokenize(int argc, char **argv)
{
    static const struct option longs[] = {
        {"model", required_argument, 0, 'm'}, {"tokenizer", required_argument, 0, 'z'},
        {"text", required_argument, 0, 'x'},  {"ids", no_argument, 0, 'i'},
        {"no-bos", no_argument, 0, 'b'},      {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    const char *model = NULL, *tokfile = NULL, *text = NULL;
    int ids_only = 0, bos = 1, c;
    if (calgae_args_check("tokenize", &argc, argv, ":m:h", longs) != 0)
        return 2;
    while ((c = getopt_long(argc, argv, ":m:h", longs, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case 'z': tokfile = optarg; break;
        case 'x': text = optarg; break;
        case 'i': ids_only = 1; break;
        case 'b': bos = 0; break;
        case 'h': fputs(usage, stdout); return 0;
        case ':':
        default: return calgae_option_error("tokenize", c, argv, longs);
        }
    }
    if (optind < argc || !text || (!model && !tokfile)) {
        calgae_error("tokenize needs --text and --model or --tokenizer (see 'calgae tokenize --help')");
        return 2;
    }
    char err[CALGAE_ERR_LEN];
    calgae_model m;
    calgae_tokenizer own;
    const calgae_tokenizer *t;
    int have_model = 0;
    if (tokfile) {
        if (calgae_tokenizer_load_file(&own, tokfile, 0, err, sizeof err) != 0) {
            calgae_error("%s", err);
            return 1;
        }
        t = &own;
    } else {
        if (calgae_model_load(&m, model, err, sizeof err) != 0) {
            calgae_error("%s", err);
            return 1;
        }
        have_model = 1;
        if (!m.has_tokenizer) {
            calgae_error("%s: the model has no vocabulary of its own; pass --tokenizer", model);
            calgae_model_free(&m);
            return 1;
        }
        t = &m.tokenizer;
    }
    int32_t *ids = NULL;
    size_t n = 0;
    int rc = calgae_tokenizer_encode(t, text, strlen(text), bos, &ids, &n, err, sizeof err);
    if (rc != 0) {
        calgae_error("%s", err);
    } else if (ids_only) {
        fputc('[', stdout);
        for (size_t i = 0; i < n; i++)
            printf("%s%d", i ? ", " : "", ids[i]);
        fputs("]\n", stdout);
    } else {
        for (size_t i = 0; i < n; i++) {
            printf("%6d -> '", ids[i]);
            print_piece(t->pieces[ids[i]]);
            fputs("'\n", stdout);
        }
    }
    free(ids);
    if (have_model)
        calgae_model_free(&m);
    else
        calgae_tokenizer_free(&own);
    return rc == 0 ? 0 : 1;
}
