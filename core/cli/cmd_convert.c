/* cmd_convert.c - `calgae convert`: a llama2.c checkpoint (or any model we read) to GGUF. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "convert.h"
#include "gguf.h"
#include "session.h"

static const char usage[] =
    "Usage: calgae convert --model IN --out OUT.gguf [--type f32|f16|q8_0|q4_0|q4_1] [--tokenizer FILE]\n"
    "\n"
    "Write a model as a GGUF file that Calgae and llama.cpp load. IN is a llama2.c .bin (with its\n"
    "tokenizer.bin) or a GGUF. Matrices get --type (default f32); norms stay F32; a matrix whose\n"
    "rows are not whole 32-blocks stays F32 under the block types.\n"
    "\n"
    "Options:\n"
    "  -m, --model IN         the model to convert (required)\n"
    "  -o, --out OUT.gguf     the file to write (required; written whole or not at all)\n"
    "      --type TYPE        f32, f16, q8_0, q4_0 or q4_1 (default f32)\n"
    "      --tokenizer FILE   the vocabulary (default: the model's own, or tokenizer.bin beside it)\n"
    "  -h, --help             show this help\n";

static int parse_type(const char *s, uint32_t *type)
{
    static const struct { const char *name; uint32_t type; } types[] = {
        {"f32", CALGAE_TYPE_F32}, {"f16", CALGAE_TYPE_F16},
        {"q8_0", CALGAE_TYPE_Q8_0}, {"q4_0", CALGAE_TYPE_Q4_0},
        {"q4_1", CALGAE_TYPE_Q4_1}};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        if (!strcmp(s, types[i].name)) {
            *type = types[i].type;
            return 0;
        }
    }
    return -1;
}

int calgae_cmd_convert(int argc, char **argv)
{
    static const struct option longs[] = {
        {"model", required_argument, 0, 'm'}, {"out", required_argument, 0, 'o'},
        {"type", required_argument, 0, 'T'},  {"tokenizer", required_argument, 0, 'z'},
        {"help", no_argument, 0, 'h'},        {0, 0, 0, 0}};
    calgae_session_opts so = {0};
    const char *out = NULL;
    uint32_t type = CALGAE_TYPE_F32;
    int c;
    if (calgae_args_check("convert", &argc, argv, ":m:o:h", longs) != 0)
        return 2;
    while ((c = getopt_long(argc, argv, ":m:o:h", longs, NULL)) != -1) {
        switch (c) {
        case 'm': so.model = optarg; break;
        case 'o': out = optarg; break;
        case 'z': so.tokenizer = optarg; break;
        case 'T':
            if (parse_type(optarg, &type) != 0) {
                calgae_cli_error("--type: unknown type '%s' (f32, f16, q8_0, q4_0 or q4_1)", optarg);
                return 2;
            }
            break;
        case 'h': fputs(usage, stdout); return 0;
        case ':':
        default: return calgae_option_error("convert", c, argv, longs);
        }
    }
    if (optind < argc || !so.model || !out) {
        calgae_cli_error("convert needs --model and --out (see 'calgae convert --help')");
        return 2;
    }
    char err[CALGAE_ERR_LEN];
    calgae_session s;
    so.threads = 1;
    int src = calgae_session_open(&s, &so, err, sizeof err);
    if (src != 0) {
        calgae_cli_error("%s", err);
        return src == CALGAE_SETTINGS_BAD ? 2 : 1;
    }
    if (calgae_check_out("convert", out, s.model->path, so.tokenizer) != 0) {
        calgae_session_close(&s);
        return 2;
    }
    int rc = calgae_convert_to_gguf(s.model, s.tok, type, out, err, sizeof err);
    if (rc != 0)
        calgae_cli_error("%s", err);
    else
        fprintf(stderr, "calgae: wrote %s (%s)\n", out, calgae_type_name(type));
    calgae_session_close(&s);
    return rc == 0 ? 0 : 1;
}
