/*
 * awq.h - the numerical core of AWQ (Lin, Tang, Tang, Yang, Chen, Wang, Xiao, Dang, Gan, Han:
 * "AWQ: Activation-aware Weight Quantization for LLM Compression and Acceleration", MLSys
 * 2024; reference code mit-han-lab/llm-awq and AutoAWQ), for ggml's block formats.
 *
 * For a linear layer y = W x that reads activations with per-channel mean magnitude m_j,
 * AWQ quantizes W diag(s) instead of W and divides the activations by s (folded into the op
 * that produces them, so the float model is unchanged): channels with large activations get
 * finer effective quantization steps. s = m^alpha, alpha chosen on a grid to minimise the
 * layer's output error on calibration activations. Then, per block, a clipping ratio of the
 * block's range is searched the same way.
 *
 * Which choices follow the paper (and its reference code) and which differ:
 *   follows  s_j = max(m_j^alpha, 1e-4), normalised by sqrt(max s * min s); alpha on the grid
 *            {0, 1/20, ..., 19/20} (alpha = 0 is plain RTN, so the search never does worse than
 *            RTN on the calibration objective); m_j = mean_t |x_t[j]|. AutoAWQ's later option of
 *            dividing by a weight statistic (duo_scaling) is not in the paper and not used.
 *   follows  the clipping search: per output row and quantization block, clamp to
 *            +-(1 - i/20) * max|w| for i < 10 (shrink at most 0.5), keep the ratio with the least
 *            error of that block's partial output; skipped for Q and K, whose errors the
 *            softmax amplifies (AutoAWQ's avoid_clipping rule).
 *   differs  the objective of the scale search is the summed output error of the linear layers
 *            that share the input (Q+K+V, gate+up, wo, down, classifier), measured exactly as
 *            sum_r d_r^T G d_r with the activations' Gram matrix G (calib.h); the reference code
 *            measures the error at the output of the whole attention or MLP block. Ours needs no
 *            attention or MLP re-run per candidate and is exact for the layers themselves.
 *   differs  the quantizer is ggml's: 32-value blocks with ggml's reference rounding (Q4_0
 *            symmetric with 16 levels -8..7, Q4_1 with a minimum, Q8_0), not the paper's
 *            asymmetric INT4 with groups of 128. The searches fake-quantize through the exact
 *            rounding the file gets (rtn.h).
 * The model-level choices (which ops receive 1/s, grouped-query attention, the classifier) are
 * in core/tools/quantize.c, which drives these functions.
 */
#ifndef CALGAE_AWQ_H
#define CALGAE_AWQ_H

#include <stddef.h>
#include <stdint.h>

#define CALGAE_AWQ_SCALE_GRID 20   /* alpha = i / 20, i = 0..19 (the paper's grid) */
#define CALGAE_AWQ_CLIP_GRID 20    /* clip ratio = 1 - i / 20 ... */
#define CALGAE_AWQ_CLIP_SHRINK 0.5 /* ... down to 0.5 (AutoAWQ's max_shrink) */

/* s[j] = max(mean[j]^alpha, 1e-4), then s /= sqrt(max(s) * min(s)). alpha = 0 gives all ones. */
void calgae_awq_scales(const double *mean, int64_t cols, float alpha, float *s);

/* Output error of rows [r0, r1) of the row-major matrix w (cols wide) quantized to type after
 * its columns are multiplied by s (s NULL: by 1):
 *     sum_r d_r^T G d_r,  d_r = w_r - Q(w_r * s) / s,
 * with G the input's Gram matrix as floats [cols][cols]. scratch: 3 * cols floats.
 * Returns a negative number if type cannot hold rows of cols values. */
double calgae_awq_error_rows(uint32_t type, const float *w, int64_t r0, int64_t r1, int64_t cols,
                             const float *s, const float *gram, float *scratch);

/* What the clipping search did to some rows. */
typedef struct calgae_awq_clip_stats {
    int64_t blocks, clipped;  /* blocks seen, blocks given a ratio below 1 */
    double err_before, err_after; /* summed per-block errors without and with clipping */
} calgae_awq_clip_stats;

/* The clipping search on rows [r0, r1) of w (cols a multiple of 32, type a block type): for
 * each block, the ratio of its max|w| to clamp it to whose quantized block has the least
 * partial-output error d_b^T G_bb d_b (G_bb: the block's diagonal block of the Gram matrix),
 * among 1 - i / n_grid for i / n_grid < max_shrink. Stores i in choice[r * (cols / 32) + b]
 * (0: leave the block alone) and adds to *st; w is not changed (see calgae_awq_clip_apply), so
 * that the search of one layer never sees another layer's clipping. */
void calgae_awq_clip_search(uint32_t type, const float *w, int64_t r0, int64_t r1, int64_t cols,
                            const float *gram, int n_grid, double max_shrink, uint8_t *choice,
                            calgae_awq_clip_stats *st);

/* Clamps every block of rows [r0, r1) as choice says (the clamp the search measured). */
void calgae_awq_clip_apply(float *w, int64_t r0, int64_t r1, int64_t cols, const uint8_t *choice,
                           int n_grid);

#endif
