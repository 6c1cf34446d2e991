/*
 * kldfile.h - the base log-probabilities file of llama.cpp's perplexity tool
 * (tools/perplexity/perplexity.cpp, `llama-perplexity --kl-divergence-base FILE`), read and
 * written bit for bit as it does, so that either program can be the base for the other.
 *
 * Layout, little-endian: the 8 bytes "_logits_"; int32 n_ctx, n_vocab, n_chunk; int32
 * tokens[n_chunk * n_ctx] (the text's tokens, the first of each chunk as in the text, not the
 * BOS the chunk is evaluated with); then per chunk one row per scored position (ctx/2 ..
 * ctx-2, n_ctx - 1 - n_ctx/2 rows) of nv = 2*((n_vocab+1)/2) + 4 uint16: two float32 (scale,
 * min_log_prob), then n_vocab codes q with log p = scale*q + min_log_prob, where the range
 * spans at most 16 nats below the top logit (anything lower is code 0), and a pad to even.
 * The KL statistics are llama.cpp's kl_divergence(): the base's distribution is decoded from
 * the codes, and only base log-probabilities above -16 count.
 */
#ifndef CALGAE_KLDFILE_H
#define CALGAE_KLDFILE_H

#include <stddef.h>
#include <stdint.h>

#define CALGAE_KLDFILE_HEADER 20 /* magic + three int32 */

typedef struct calgae_kldfile {
    int32_t n_ctx, n_vocab, n_chunk;
    const uint8_t *tokens; /* n_chunk*n_ctx int32, unaligned: read with calgae_kldfile_token */
    const uint8_t *rows;   /* n_chunk*rows_per_chunk rows of row_bytes */
    int rows_per_chunk;    /* n_ctx - 1 - n_ctx/2 */
    size_t row_bytes;      /* 2 * nv */
} calgae_kldfile;

/* Checks a whole file in memory: magic, counts, exact size, every token id below n_vocab, and
 * every row's scale and minimum finite (scale >= 0). `name` goes into the one-line error. */
int calgae_kldfile_parse(calgae_kldfile *f, const void *data, size_t size, const char *name,
                         char *err, size_t err_len);
int32_t calgae_kldfile_token(const calgae_kldfile *f, size_t i);
const uint8_t *calgae_kldfile_row(const calgae_kldfile *f, size_t i);

/* Row bytes for n_vocab (0 when n_vocab is out of range). */
size_t calgae_kldfile_row_bytes(int32_t n_vocab);
/* Writes the header (20 bytes) into out. */
void calgae_kldfile_header(uint8_t out[CALGAE_KLDFILE_HEADER], int32_t n_ctx, int32_t n_vocab,
                           int32_t n_chunk);
/* Compresses one row of logits as llama.cpp does into out (row_bytes); returns the position's
 * negative log-likelihood of `target`. */
double calgae_kldfile_encode(const float *logits, int n_vocab, int32_t target, uint8_t *out);
/* Decodes code v of a row: the base log-probability. */
float calgae_kldfile_logprob(const uint8_t *row, int v);

/* llama.cpp's running sums over scored positions. */
typedef struct calgae_kld_acc {
    double nll, nll2, nll_base, nll_base2, nll_nll_base, kld, kld2, p_diff, p_diff2, p_diff4;
    float max_p_diff;
    int64_t same_top, count;
} calgae_kld_acc;

/* Adds a position: the model's raw logits against a base row. */
void calgae_kld_add(calgae_kld_acc *a, const float *logits, int n_vocab, const uint8_t *row,
                    int32_t target);

typedef struct calgae_kld_stats {
    double ppl, ppl_se, base_ppl, base_ppl_se, ln_ratio, ln_ratio_se;
    double kld, kld_se, top1, top1_se, rms_dp, rms_dp_se;
} calgae_kld_stats;

/* Means and uncertainties as llama.cpp prints them (standard errors only past 10 positions). */
void calgae_kld_stats_of(const calgae_kld_acc *a, calgae_kld_stats *s);

#endif
