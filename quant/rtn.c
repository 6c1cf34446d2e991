/* rtn.c - see rtn.h. Fake quantization goes block by block through blocks.c, never through a
 * second implementation of the rounding, so the error it measures is the one the file gets. */
#include "rtn.h"

#include <string.h>

#include "blocks.h"

int calgae_rtn_is_block_type(uint32_t type)
{
    return type == CALGAE_TYPE_Q8_0 || type == CALGAE_TYPE_Q4_0 || type == CALGAE_TYPE_Q4_1;
}

uint32_t calgae_rtn_storage_type(uint32_t type, int64_t cols)
{
    if (calgae_rtn_is_block_type(type) && (cols <= 0 || cols % CALGAE_QK != 0))
        return CALGAE_TYPE_F32;
    return type;
}

int calgae_rtn_roundtrip(uint32_t type, const float *x, float *y, int64_t n)
{
    if (type == CALGAE_TYPE_F32) {
        if (x != y)
            memmove(y, x, (size_t)n * sizeof(float));
        return 0;
    }
    if (type == CALGAE_TYPE_F16) {
        for (int64_t i = 0; i < n; i++)
            y[i] = calgae_fp16_to_fp32(calgae_fp32_to_fp16(x[i]));
        return 0;
    }
    if (!calgae_rtn_is_block_type(type) || n % CALGAE_QK != 0)
        return -1;
    /* one block at a time through a buffer big enough for any block type (Q8_0, 34 bytes) */
    calgae_block_q8_0 blk;
    float tmp[CALGAE_QK];
    for (int64_t b = 0; b < n; b += CALGAE_QK) {
        memcpy(tmp, x + b, sizeof tmp);
        if (calgae_quantize_row(type, tmp, &blk, CALGAE_QK) != 0 ||
            calgae_dequantize_row(type, &blk, y + b, CALGAE_QK) != 0)
            return -1;
    }
    return 0;
}
