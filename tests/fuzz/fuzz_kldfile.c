/*
 * fuzz_kldfile.c - libFuzzer target: llama.cpp's logits file as `calgae perplexity
 * --kl-divergence` reads it (core/tools/kldfile.c), a file from another program that may be
 * truncated, padded or forged. A file the parser accepts must hold exactly what its header
 * counts, token ids inside the vocabulary, and rows whose KL statistics against a flat model
 * come out finite; a row written by the encoder must decode back within one step.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "kldfile.h"

static void score_all(const calgae_kldfile *f)
{
    float *logits = calloc((size_t)f->n_vocab, sizeof *logits);
    if (!logits)
        return;
    calgae_kld_acc a = {0};
    const size_t rows = (size_t)f->n_chunk * (size_t)f->rows_per_chunk;
    for (size_t i = 0; i < rows; i++)
        calgae_kld_add(&a, logits, f->n_vocab, calgae_kldfile_row(f, i),
                       calgae_kldfile_token(f, i % ((size_t)f->n_ctx * (size_t)f->n_chunk)));
    calgae_kld_stats s;
    calgae_kld_stats_of(&a, &s);
    FUZZ_CHECK(a.count == (int64_t)rows, "scored %lld of %zu rows", (long long)a.count, rows);
    FUZZ_CHECK(isfinite(s.kld) && isfinite(s.base_ppl) && s.top1 >= 0 && s.top1 <= 1,
               "statistics not finite: kld %g base ppl %g", s.kld, s.base_ppl);
    free(logits);
}

/* The input's floats as logits of a small vocabulary: encode, decode, compare. */
static void round_trip(const uint8_t *data, size_t size)
{
    const int n = (int)(size / 4 < 64 ? size / 4 : 64);
    if (n < 1)
        return;
    float logits[64];
    memcpy(logits, data, (size_t)n * 4);
    for (int i = 0; i < n; i++)
        if (!isfinite(logits[i]) || fabsf(logits[i]) > 1e4f)
            return;
    uint8_t row[2 * (64 + 4)];
    calgae_kldfile_encode(logits, n, 0, row);
    float mx = logits[0];
    for (int i = 1; i < n; i++)
        mx = logits[i] > mx ? logits[i] : mx;
    double sum = 0.0;
    for (int i = 0; i < n; i++)
        sum += exp((double)logits[i] - mx);
    const float step = 16.0f / 65535.f;
    for (int i = 0; i < n; i++) {
        const double want = (double)logits[i] - mx - log(sum);
        if (want < -15.9)
            continue;
        const double got = calgae_kldfile_logprob(row, i);
        FUZZ_CHECK(fabs(got - want) <= step + 1e-3 * (1 + fabs((double)mx)),
                   "logit %d: log-prob %g decodes as %g", i, want, got);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_begin(size);
    calgae_kldfile f;
    char err[256];
    if (calgae_kldfile_parse(&f, data, size, "fuzz.kld", err, sizeof err) == 0)
        score_all(&f);
    else
        FUZZ_CHECK(strncmp(err, "fuzz.kld: ", 10) == 0 && !strchr(err, '\n'), "error: %s", err);
    round_trip(data, size);
    fuzz_end();
    return 0;
}
