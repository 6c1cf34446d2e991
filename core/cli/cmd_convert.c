/* cmd_convert.c - `calgae convert`: a llama2.c checkpoint (or any model we read) to GGUF, or
 * to a Hugging Face folder with --to-hf. */
#include <getopt.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "convert.h"
#include "convert_hf.h"
#include "gguf.h"
#include "session.h"

static const char usage[] =
    "Usage: calgae convert --model IN --out OUT.gguf [--type f32|f16|q8_0|q4_0|q4_1] [--tokenizer FILE]\n"
    "       calgae convert --model IN --to-hf DIR [--dtype f32|f16|bf16] [--shards N] [--tokenizer FILE]\n"
    "\n"
    "Write a model as a GGUF file that Calgae and llama.cpp load. IN is a llama2.c .bin (with its\n"
    "tokenizer.bin), a GGUF or a Hugging Face folder. Matrices get --type (default f32); norms\n"
    "stay F32; a matrix whose rows are not whole 32-blocks stays F32 under the block types.\n"
    "--to-hf writes a Hugging Face folder instead (config.json, safetensors, tokenizer.json).\n"
    "\n"
    "Options:\n"
    "  -m, --model IN         the model to convert (required)\n"
    "  -o, --out OUT.gguf     the file to write (required; written whole or not at all)\n"
    "      --type TYPE        f32, f16, q8_0, q4_0 or q4_1 (default f32)\n"
    "      --tokenizer FILE   the vocabulary (default: the model's own, or tokenizer.bin beside it)\n"
    "      --to-hf DIR        write a Hugging Face folder DIR (must not exist; made whole or not at all)\n"
    "      --dtype TYPE       --to-hf tensors: f32, f16 or bf16 (default f32)\n"
    "      --shards N         --to-hf: N safetensors files and their index (default 1)\n"
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

static int parse_st_dtype(const char *s, int *dtype)
{
    static const char *const names[] = {"f32", "f16", "bf16"};
    for (int i = 0; i < 3; i++)
        if (!strcmp(s, names[i])) {
            *dtype = i; /* enum calgae_st_dtype's order */
            return 0;
        }
    return -1;
}

int calgae_cmd_convert(int argc, char **argv)
{
    static const struct option longs[] = {
        {"model", required_argument, 0, 'm'}, {"out", required_argument, 0, 'o'},
        {"type", required_argument, 0, 'T'},  {"tokenizer", required_argument, 0, 'z'},
        {"to-hf", required_argument, 0, 'H'}, {"dtype", required_argument, 0, 'D'},
        {"shards", required_argument, 0, 'S'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    calgae_session_opts so = {0};
    const char *out = NULL;
    uint32_t type = CALGAE_TYPE_F32;
    const char *to_hf = NULL;
    int dtype = CALGAE_ST_F32, shards = 1, c;
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
        case 'H': to_hf = optarg; break;
        case 'D':
            if (parse_st_dtype(optarg, &dtype) != 0) {
                calgae_cli_error("--dtype: unknown type '%s' (f32, f16 or bf16)", optarg);
                return 2;
            }
            break;
        case 'S': {
            long v;
            if (calgae_parse_int("--shards", optarg, 1, 1 << 16, &v) != 0)
                return 2;
            shards = (int)v;
            break;
        }
        case 'h': fputs(usage, stdout); return 0;
        case ':':
        default: return calgae_option_error("convert", c, argv, longs);
        }
    }
    if (optind < argc || !so.model || !out == !to_hf) {
        calgae_cli_error("convert needs --model and one of --out or --to-hf (see 'calgae convert --help')");
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
    if (to_hf) {
        int rc = calgae_convert_to_hf(
            s.model, s.tok, calgae_model_meta_string(s.lm, "tokenizer.chat_template"), dtype,
            shards, to_hf, err, sizeof err);
        if (rc != 0)
            calgae_cli_error("%s", err);
        else
            fprintf(stderr, "calgae: wrote %s (%s, %d safetensors file%s)\n", to_hf,
                    calgae_st_dtype_name(dtype), shards, shards > 1 ? "s" : "");
        calgae_session_close(&s);
        return rc == 0 ? 0 : 1;
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
