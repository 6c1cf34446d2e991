/* progress.c - see progress.h. */
#include "progress.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

#define BAR_WIDTH 30
#define REDRAW_MS 100.0 /* a terminal cannot show faster updates, and writes cost */

void calgae_progress_init(calgae_progress_bar *b)
{
    memset(b, 0, sizeof *b);
    b->enabled = isatty(STDERR_FILENO);
}

void calgae_progress_update(void *user, const char *stage, int64_t done, int64_t total)
{
    calgae_progress_bar *b = user;
    if (!b || !b->enabled || total <= 0)
        return;
    const double now = calgae_now_ms();
    if (strcmp(b->stage, stage) != 0) {
        snprintf(b->stage, sizeof b->stage, "%s", stage);
        b->t0 = now;
        b->last_ms = 0.0;
    } else if (done < total && now - b->last_ms < REDRAW_MS) {
        return;
    }
    b->last_ms = now;
    const double frac = done >= total ? 1.0 : (double)done / (double)total;
    const int fill = (int)(frac * BAR_WIDTH);
    char bar[BAR_WIDTH + 1];
    for (int i = 0; i < BAR_WIDTH; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[BAR_WIDTH] = '\0';
    const double elapsed = (now - b->t0) / 1000.0;
    const double eta = frac > 0.0 ? elapsed * (1.0 - frac) / frac : 0.0;
    fprintf(stderr, "\r\033[K%-10s [%s] %3d%%  %lld/%lld  %.0fs elapsed, %.0fs left", stage, bar,
            (int)(frac * 100.0), (long long)done, (long long)total, elapsed, eta);
    fflush(stderr);
    b->drawn = 1;
}

void calgae_progress_clear(calgae_progress_bar *b)
{
    if (!b->enabled || !b->drawn)
        return;
    fputs("\r\033[K", stderr);
    fflush(stderr);
    b->drawn = 0;
}
