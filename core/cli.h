/*
 * cli.h - the subcommands of the calgae program and the small parsing helpers they share.
 * Each command returns the process exit status: 0 success, 1 runtime failure (bad file,
 * bad model), 2 usage error.
 */
#ifndef CALGAE_CLI_H
#define CALGAE_CLI_H

#include <stdint.h>

int calgae_cmd_run(int argc, char **argv);
int calgae_cmd_tokenize(int argc, char **argv);
int calgae_cmd_convert(int argc, char **argv);
int calgae_cmd_logits(int argc, char **argv);
/* `calgae backends [--config FILE] [--verbose]`; `calgae backends verify FILE.so` is passed on
 * to calgae_cmd_verify with argv[0] == "verify". */
int calgae_cmd_backends(int argc, char **argv);
int calgae_cmd_verify(int argc, char **argv);
int calgae_cmd_bench(int argc, char **argv);
int calgae_cmd_quantize(int argc, char **argv);
int calgae_cmd_perplexity(int argc, char **argv);

/* Strict number parsing for flags: the whole string must be a number in range. */
int calgae_parse_int(const char *flag, const char *s, long min, long max, long *out);
int calgae_parse_float(const char *flag, const char *s, double min, double max, double *out);
int calgae_parse_u64(const char *flag, const char *s, uint64_t *out);

/* Prints "calgae: <msg>" to stderr. */
void calgae_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
