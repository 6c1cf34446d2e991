/* rtn.c - see rtn.h. Fake quantization goes block by block through the type table's quantizer and
 * dequantizer, never through a second implementation of the rounding, so the error it measures
 * is the one the file gets. */
#include "rtn.h"

#include <string.h>

#include "types.h"

int calgae_rtn_is_block_type(uint32_t type)
{
    const calgae_type_info *t = calgae_type_traits(type);
    return t && t->blck_size > 1 && t->from_float && t->to_float;
}

uint32_t calgae_rtn_storage_type(uint32_t type, int64_t cols)
{
    size_t bytes;
    if (calgae_rtn_is_block_type(type) && calgae_type_row_bytes(type, cols, &bytes) != 0)
        return CALGAE_TYPE_F32;
    return type;
}

int calgae_rtn_roundtrip(uint32_t type, const float *x, float *y, int64_t n)
{
    const calgae_type_info *t = calgae_type_traits(type);
    if (!t || !t->from_float || !t->to_float || n < 0 || n % t->blck_size != 0)
        return -1;
    /* a chunk of whole blocks at a time (one block for the block types, 256 values of F32 or
     * F16) through buffers that hold the largest chunk of any type in the table */
    const int64_t chunk = CALGAE_TYPE_MAX_BLCK / t->blck_size * t->blck_size;
    _Alignas(16) unsigned char blk[CALGAE_TYPE_MAX_BLCK * sizeof(float)];
    float tmp[CALGAE_TYPE_MAX_BLCK];
    if (chunk < 1 || (size_t)(chunk / t->blck_size) * t->type_size > sizeof blk)
        return -1;
    for (int64_t b = 0; b < n; b += chunk) {
        const int64_t len = n - b < chunk ? n - b : chunk;
        memcpy(tmp, x + b, (size_t)len * sizeof(float)); /* x and y may be the same array */
        t->from_float(tmp, blk, len);
        t->to_float(blk, y + b, len);
    }
    return 0;
}
