/*
 * progress.h - a one-line progress bar on stderr for long commands (quantize, perplexity),
 * drawn only when stderr is a terminal, so logs and tests see just the final lines.
 */
#ifndef CALGAE_PROGRESS_H
#define CALGAE_PROGRESS_H

#include <stdint.h>

/* How long-running engines report progress: stage is a short word ("calibrate", "search",
 * "write", "evaluate"); done counts up to total within a stage. */
typedef void (*calgae_progress_fn)(void *user, const char *stage, int64_t done, int64_t total);

typedef struct calgae_progress_bar {
    int enabled;     /* stderr is a terminal */
    int drawn;       /* a bar is on the line now */
    double t0;       /* start of the current stage, ms */
    double last_ms;  /* last redraw */
    char stage[24];
} calgae_progress_bar;

void calgae_progress_init(calgae_progress_bar *b);
/* A calgae_progress_fn; user is the bar. */
void calgae_progress_update(void *user, const char *stage, int64_t done, int64_t total);
/* Clears the bar so that normal output starts on a clean line. */
void calgae_progress_clear(calgae_progress_bar *b);

#endif
