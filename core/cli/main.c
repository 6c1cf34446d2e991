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
    "  run        generate text from a model (GGUF, llama2.c .bin, Hugging Face folder)\n"
    "  chat       talk with a model, line by line (also 'run -i')\n"
    "  tokenize   print the token ids of a text\n"
    "  convert    write any model Calgae reads as GGUF, or as a Hugging Face folder\n"
    "  logits     write the raw logits of a token sequence (for testing)\n"
    "  quantize   write a model as Q8_0/Q4_0/Q4_1 GGUF, by round-to-nearest or AWQ\n"
    "  perplexity perplexity on a text; KL divergence and top-1 agreement against a base model\n"
    "  distill    train a quantized copy or a smaller model from a teacher (knowledge distillation)\n"
    "  bench      prompt and generation speed per backend and thread count\n"
    "  backends   list the kernel plugins found; 'backends verify NAME|FILE.so' checks one\n"
    "  info       a model's metadata, tensors, parameter count and bytes read per token\n"
    "  fetch-model  download a Hugging Face Hub repository into huggingface_hub's cache\n"
    "  agent      'agent exec FILE': run the code blocks of a saved answer in a sandbox\n"
    "\n"
    "Run 'calgae help <command>' or 'calgae <command> --help' for a command's options.\n"
    "Exit status: 0 success; 1 a failure (bad file, bad model, write error); 2 a usage error:\n"
    "a bad flag, a bad configuration file, or a backend asked for (--backend, [run] backend)\n"
    "that cannot be used.\n";

static const struct {
    const char *name;
    int (*fn)(int argc, char **argv);
} commands[] = {
    {"run", calgae_cmd_run},           {"tokenize", calgae_cmd_tokenize},
    {"convert", calgae_cmd_convert},   {"logits", calgae_cmd_logits},
    {"quantize", calgae_cmd_quantize}, {"perplexity", calgae_cmd_perplexity},
    {"bench", calgae_cmd_bench},       {"backends", calgae_cmd_backends},
    {"info", calgae_cmd_info},         {"chat", calgae_cmd_chat},
    {"distill", calgae_cmd_distill},
    {"fetch-model", calgae_cmd_fetch},
#ifndef CALGAE_NO_AGENT
    {"agent", calgae_cmd_agent},
#endif
};
#define N_COMMANDS ((int)(sizeof commands / sizeof commands[0]))

static int find_command(const char *name)
{
    for (int i = 0; i < N_COMMANDS; i++)
        if (!strcmp(commands[i].name, name))
            return i;
    return -1;
}

static int unknown_command(const char *cmd)
{
    const char *names[N_COMMANDS];
    for (int i = 0; i < N_COMMANDS; i++)
        names[i] = commands[i].name;
    const char *near = calgae_nearest(cmd, names, N_COMMANDS);
    if (near)
        calgae_cli_error("unknown command '%s' (did you mean '%s'?)", cmd, near);
    else
        calgae_cli_error("unknown command '%s' (try 'calgae --help')", cmd);
    return 2;
}

/* `calgae help` is the usage; `calgae help CMD` is `calgae CMD --help`. */
static int help(int argc, char **argv)
{
    if (argc < 3) {
        fputs(usage, stdout);
        return 0;
    }
    int i = find_command(argv[2]);
    if (i < 0)
        return unknown_command(argv[2]);
    char *args[] = {argv[2], "--help", NULL};
    return commands[i].fn(2, args);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage, stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help"))
        return help(argc, argv);
    if (!strcmp(cmd, "--version")) {
        puts("calgae 0.1.0");
        return 0;
    }
    int i = find_command(cmd);
    if (i < 0)
        return unknown_command(cmd);
    return commands[i].fn(argc - 1, argv + 1);
}
