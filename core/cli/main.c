/* main.c - the calgae program: dispatches to the subcommands in cmd_*.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "cli.h"

static const char usage[] =
    "Usage: calgae <command> [options]\n"
    "\n"
    "A CPU-first runtime for Llama-family models with pluggable SIMD kernels.\n"
    "\n"
    "Commands:\n"
    "  run        generate text from a model (GGUF or llama2.c .bin)\n"
    "  chat       talk with a model, line by line (also 'run -i')\n"
    "  tokenize   print the token ids of a text\n"
    "  convert    write a llama2.c checkpoint (or any model Calgae reads) as GGUF\n"
    "  logits     write the raw logits of a token sequence (for testing)\n"
    "  quantize   write a model as Q8_0/Q4_0/Q4_1 GGUF, by round-to-nearest or AWQ\n"
    "  perplexity perplexity on a text; KL divergence and top-1 agreement against a base model\n"
    "  bench      prompt and generation speed per backend and thread count\n"
    "  backends   list the kernel plugins found; 'backends verify FILE.so' checks one\n"
    "\n"
    "Run 'calgae <command> --help' for a command's options.\n";

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage, stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        fputs(usage, stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version")) {
        puts("calgae 0.1.0");
        return 0;
    }
    if (!strcmp(cmd, "run"))
        return calgae_cmd_run(argc - 1, argv + 1);
    if (!strcmp(cmd, "chat"))
        return calgae_cmd_chat(argc - 1, argv + 1);
    if (!strcmp(cmd, "tokenize"))
        return calgae_cmd_tokenize(argc - 1, argv + 1);
    if (!strcmp(cmd, "convert"))
        return calgae_cmd_convert(argc - 1, argv + 1);
    if (!strcmp(cmd, "bench"))
        return calgae_cmd_bench(argc - 1, argv + 1);
    if (!strcmp(cmd, "backends"))
        return calgae_cmd_backends(argc - 1, argv + 1);
    if (!strcmp(cmd, "logits"))
        return calgae_cmd_logits(argc - 1, argv + 1);
    if (!strcmp(cmd, "quantize"))
        return calgae_cmd_quantize(argc - 1, argv + 1);
    if (!strcmp(cmd, "perplexity"))
        return calgae_cmd_perplexity(argc - 1, argv + 1);
    calgae_cli_error("unknown command '%s' (try 'calgae --help')", cmd);
    return 2;
}
