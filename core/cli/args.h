/*
 * args.h - what the subcommands share for their command lines: strict number parsing for
 * flags, the check of a command line before getopt (every unknown flag named, with the nearest
 * known one suggested; llama.cpp's multi-letter short flags recognised, never misread as a
 * cluster of single letters), and the one way errors reach the user.
 */
#ifndef CALGAE_ARGS_H
#define CALGAE_ARGS_H

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>

/* Strict number parsing for flags: the whole string must be a number in range. */
int calgae_parse_int(const char *flag, const char *s, long min, long max, long *out);
int calgae_parse_float(const char *flag, const char *s, double min, double max, double *out);
int calgae_parse_u64(const char *flag, const char *s, uint64_t *out);

/* Prints "calgae: <msg>" to stderr. */
void calgae_cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* --calibrate's value ("auto", "redo", "off") as a calgae_calibrate_mode (calgae.h), or -1
 * after printing the usage error. */
int calgae_calibrate_flag(const char *value);

/* The calibration cache: $XDG_CACHE_HOME/calgae/calibration, else ~/.cache/calgae/calibration
 * (a relative $XDG_CACHE_HOME is ignored, as the XDG spec says); "" when neither is known. */
void calgae_calibration_path(char *out, size_t out_len);

/* Edit distance between a and b (bytes): insertions, deletions, substitutions and swaps of
 * two neighbours count one each (optimal string alignment). 255 for words over 64 bytes. */
int calgae_edit_distance(const char *a, const char *b);

/* The name in names[0..n) nearest to word by edit distance, or NULL when none is near enough
 * to be a likely typo (1 edit for words under 5 bytes, else 2; fewer edits than bytes). */
const char *calgae_nearest(const char *word, const char *const *names, int n);

/* Checks a command's arguments before getopt_long runs over them, and prepares getopt
 * (optind = 1, opterr = 0). cmd is the command's name for messages ("run", "backends verify").
 * Every flag must be one that `shorts` (getopt syntax, ':' after one that takes a value) or
 * `longs` knows; an unknown one is reported by name with the nearest long flag suggested
 * ("unknown option --temprature (did you mean --temperature?)"). llama.cpp's multi-letter
 * short flags are recognised whole: -ngl N and its kin, meaningless on a CPU, are dropped from
 * argv (*argc shrinks) with a note; the others are refused by name. A single-dash word that
 * spells a long flag (-tokens) is refused with the long spelling suggested. Returns 0, or 2
 * (the exit status of a usage error) with the message printed. */
int calgae_args_check(const char *cmd, int *argc, char **argv, const char *shorts,
                      const struct option *longs);

/* A count that means something at every size, three significant digits: "512", "260K",
 * "15.2M", "1.10B", "2.00T". */
void calgae_format_count(double n, char *out, size_t out_len);

/* Whether paths a and b name the same existing file (device and inode: another spelling, a
 * symbolic or hard link). */
int calgae_same_file(const char *a, const char *b);

/* For an output path: 0, or 2 with "CMD: --out X is the input file Y itself" printed when out
 * is the same file as one of the inputs (the NULLs are skipped). */
int calgae_check_out(const char *cmd, const char *out, const char *in1, const char *in2);

/* For getopt_long's ':' and '?' returns: prints what is wrong with the flag, by name. Returns 2. */
int calgae_option_error(const char *cmd, int c, char **argv, const struct option *longs);

#endif
