/*
 * outfile.h - an output file the CLI writes whole or not at all: the bytes go to a temporary
 * file beside the target (same folder, so the rename is atomic), which replaces the target only
 * once everything is written and synced. Any error, and Ctrl-C (SIGINT, SIGTERM, SIGHUP) while
 * it is open, removes the temporary file and leaves an existing target as it was.
 */
#ifndef CALGAE_OUTFILE_H
#define CALGAE_OUTFILE_H

#include <stddef.h>
#include <stdio.h>

typedef struct calgae_outfile {
    FILE *f;          /* write here */
    const char *path; /* the target */
    char *tmp;        /* the temporary file */
} calgae_outfile;

/* Creates the temporary file. One outfile open at a time (the signal handler knows one). */
int calgae_outfile_open(calgae_outfile *o, const char *path, char *err, size_t err_len);
/* Flushes, syncs and renames it over the target; on failure the target is untouched. */
int calgae_outfile_commit(calgae_outfile *o, char *err, size_t err_len);
/* Removes the temporary file. Safe after a failed open or a commit. */
void calgae_outfile_abort(calgae_outfile *o);

#endif
