/*
 * calib.h - activation statistics for activation-aware weight quantization (AWQ, Lin et al.,
 * MLSys 2024, section 3.2): per input channel of a linear layer, the mean magnitude
 * mean_t |x_t[j]| over calibration tokens (the paper's s_X, from which the scales are made),
 * and the second-moment (Gram) matrix G = sum_t x_t x_t^T, which turns the paper's objective,
 * the layer's output error on the calibration activations,
 *     sum_t || (W - Q(W)) x_t ||^2 = sum_r d_r^T G d_r   (d_r = row r of W - Q(W)),
 * into a cost independent of the number of tokens. The paper keeps the activations and runs
 * the layer instead; the Gram form gives the same number exactly.
 *
 * The module knows nothing about models: it holds "slots" (one per linear-layer input the
 * caller wants to watch) that the caller feeds with [n_tok][width] activation rows.
 */
#ifndef CALGAE_CALIB_H
#define CALGAE_CALIB_H

#include <stddef.h>
#include <stdint.h>

typedef struct calgae_calib_slot {
    int width;        /* 0: this slot is not collected */
    int64_t n;        /* activation rows seen */
    double *sum_abs;  /* [width] sum_t |x_t[j]| */
    double *gram;     /* [width][width] sum_t x_t x_t^T; NULL when not wanted. Only the upper
                       * triangle is accumulated; calgae_calib_finish mirrors it. */
} calgae_calib_slot;

typedef struct calgae_calib {
    int n_slots;
    calgae_calib_slot *slots;
} calgae_calib;

/* Zeroed slots; returns -1 when out of memory. */
int calgae_calib_init(calgae_calib *c, int n_slots);
/* Makes slot i collect rows of width values (and their Gram matrix when want_gram).
 * Returns -1 when out of memory. */
int calgae_calib_setup(calgae_calib *c, int slot, int width, int want_gram);
void calgae_calib_free(calgae_calib *c);

/* Bytes that calgae_calib_setup(width, want_gram) allocates, for planning memory. */
size_t calgae_calib_bytes(int width, int want_gram);

/* Adds n_tok rows to the magnitudes and the row count. Not thread-safe. */
void calgae_calib_add_abs(calgae_calib_slot *s, const float *x, int n_tok);
/* Adds the same rows to Gram rows [row_lo, row_hi): calls on disjoint ranges may run on
 * different threads at once. */
void calgae_calib_add_gram(calgae_calib_slot *s, const float *x, int n_tok, int row_lo,
                           int row_hi);
/* Completes the Gram matrix (lower triangle) once all rows are in. */
void calgae_calib_finish(calgae_calib_slot *s);

/* mean_t |x_t[j]| into mean[width] (zeros when no rows were seen). */
void calgae_calib_mean_abs(const calgae_calib_slot *s, double *mean);

/* The statistics of x / s (channel j divided by s[j]): what the slot would hold had the
 * activations been scaled when they were recorded. Used after AWQ folds 1/s into the op that
 * produces them, so that the clipping search sees the activations the scaled weights meet. */
void calgae_calib_scale(calgae_calib_slot *s, const float *scale);

#endif
