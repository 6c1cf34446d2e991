/*
 * fuzz_kblocks.c - libFuzzer target: the block readers and quantizers of the Q5, K-quant, IQ4
 * and BF16 types (quant/kblocks.c, quant/kquantize.c). A GGUF file's tensor bytes are whatever
 * its writer put there, so every type's dequantizer runs on the input read as that type's
 * blocks (any bytes are blocks); and the input read as floats (NaN, infinities, subnormals,
 * huge values included) goes through every quantizer and back, which must give finite values
 * where the input block was finite and small enough not to overflow a binary16 scale.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "types.h"

static const uint32_t types[] = {
    CALGAE_TYPE_Q5_0, CALGAE_TYPE_Q5_1, CALGAE_TYPE_Q2_K,   CALGAE_TYPE_Q3_K,
    CALGAE_TYPE_Q4_K, CALGAE_TYPE_Q5_K, CALGAE_TYPE_Q6_K,   CALGAE_TYPE_Q8_K,
    CALGAE_TYPE_IQ4_NL, CALGAE_TYPE_IQ4_XS, CALGAE_TYPE_BF16,
};

static void read_blocks(const calgae_type_info *t, const uint8_t *data, size_t size)
{
    const size_t blocks = size / t->type_size;
    if (blocks == 0)
        return;
    const int64_t n = (int64_t)blocks * t->blck_size;
    void *x = malloc(blocks * t->type_size); /* aligned copy: the input need not be */
    float *y = malloc((size_t)n * sizeof(float));
    if (x && y) {
        memcpy(x, data, blocks * t->type_size);
        FUZZ_CHECK(calgae_dequantize_row(t->type, x, y, n) == 0, "%s dequantize refused", t->name);
    }
    free(x);
    free(y);
}

static void round_trip(const calgae_type_info *t, const uint8_t *data, size_t size)
{
    const int64_t n = (int64_t)(size / sizeof(float)) / t->blck_size * t->blck_size;
    if (n == 0)
        return;
    float *x = malloc((size_t)n * sizeof(float)), *y = malloc((size_t)n * sizeof(float));
    size_t bytes = 0;
    void *q = calgae_type_row_bytes(t->type, n, &bytes) == 0 ? malloc(bytes) : NULL;
    if (x && y && q) {
        memcpy(x, data, (size_t)n * sizeof(float));
        FUZZ_CHECK(calgae_quantize_row(t->type, x, q, n) == 0, "%s quantize refused", t->name);
        FUZZ_CHECK(calgae_dequantize_row(t->type, q, y, n) == 0, "%s dequantize refused", t->name);
        for (int64_t b = 0; b < n; b += t->blck_size) {
            int tame = 1; /* finite and far from binary16's range limits */
            for (int64_t j = b; j < b + t->blck_size; j++)
                tame &= isfinite(x[j]) && fabsf(x[j]) < 1e3f && (x[j] == 0.0f || fabsf(x[j]) > 1e-3f);
            for (int64_t j = b; tame && j < b + t->blck_size; j++)
                FUZZ_CHECK(isfinite(y[j]), "%s: value %lld of a tame block came back as %g",
                           t->name, (long long)j, (double)y[j]);
        }
    }
    free(x);
    free(y);
    free(q);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > (1u << 16))
        return 0;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        const calgae_type_info *t = calgae_type_traits(types[i]);
        FUZZ_CHECK(t != NULL, "type %u missing from the table", types[i]);
        read_blocks(t, data, size);
        round_trip(t, data, size);
    }
    return 0;
}
