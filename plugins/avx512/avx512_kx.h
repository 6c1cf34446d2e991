/*
 * avx512_kx.h - the avx512 plugin's own weight layout for Q4_K and Q6_K ("kx": 16 rows
 * interleaved, the x16 idea of avx512_x16.h carried over to ggml's K-quant super-blocks), made
 * once at load by prepare_weight (calgae_plugin.h), and the products that read it
 * (avx512_kx_impl.h, built once with VNNI and once without).
 *
 * Why: in ggml's layout a 512-bit vector holds one row's codes, so every super-block ends in a
 * horizontal sum and its 6-bit scales are unpacked again for every token. Here a vector holds 4
 * consecutive codes of each of 16 rows (one 32-bit lane per row): the activation's 4 matching
 * bytes are broadcast to every lane (vpdpbusd's embedded {1to16} operand), each row's sum stays
 * in its lane, the scales are already bytes, and one multiply per group serves 16 rows.
 *
 * Layout: rows 16g .. 16g + 15 form group g, stored contiguously, groups in order, each a run of
 * super-blocks (256 columns of 16 rows), every part 64-byte aligned.
 *
 * Q4_K super-block, KX_Q4_K_SB = 2368 bytes (148 per row; the file has 144):
 *   0     d of the 16 rows, fp16 (32 bytes); 32: dmin, fp16 (32 bytes)
 *   64    scales as pairs: 4 x 32 bytes, pair k's bytes 2i, 2i + 1 = row i's sc[2k], sc[2k + 1]
 *   192   minimums as pairs, the same way (4 x 32 bytes)
 *   320   codes: 32 vectors, vector 4s + c (group s of 32 values, c < 4): lane i, byte b has
 *         row i's code of value 32s + 4c + b in its low nibble and of 32s + 16 + 4c + b in its
 *         high nibble; so a group's 8 words of activation meet 4 vectors, and one int32 sum per
 *         row and group collects them.
 * Q6_K super-block, KX_Q6_K_SB = 3392 bytes (212 per row; the file has 210):
 *   0     d, fp16 (32 bytes), then 32 bytes of zeros
 *   64    scales as pairs (int8): 8 x 32 bytes, as Q4_K's
 *   320   low nibbles: 32 vectors; vectors 2s and 2s + 1 belong to group s of 16 values: 2s
 *         holds value 16s + b (low nibble) and 16s + 8 + b (high), 2s + 1 holds 16s + 4 + b and
 *         16s + 12 + b, b < 4 the byte in the lane
 *   2368  high 2 bits: 16 vectors; vector s, byte b: bits 0-1 value 16s + b, 2-3 16s + 4 + b,
 *         4-5 16s + 8 + b, 6-7 16s + 12 + b
 *   Codes are unsigned, 0..63 (ggml's q before the offset of 32 is subtracted).
 *
 * Numerics, per (row, token) and super-block, as ggml's vec_dot_q4_K_q8_K / q6_K: the group's
 * integer sum of codes times activation codes (vpdpbusd, or vpmaddubsw + vpmaddwd: pair sums at
 * most 2 * 63 * 128, no saturation), times the group's scale (vpmulld), summed over groups in
 * int32 (|sum| < 2^29); the minimum (Q4_K: sum_s m_s * (bsums[2s] + bsums[2s + 1])) and the
 * offset (Q6_K: 32 * sum_s sc_s * bsums[s]) come from the activation's group sums with vpmaddwd.
 * The super-block's integers are exact; each is converted to float once and added by FMA with
 * d_x * d_w (and d_x * dmin_w). The same sequence runs for matvec and matmul and any row range,
 * so results depend neither on the thread count nor on the batch.
 */
#ifndef CALGAE_AVX512_KX_H
#define CALGAE_AVX512_KX_H

#include <stddef.h>
#include <stdint.h>

#include "calgae_plugin.h"

#define KX_ROWS 16
#define KX_Q4_K_SB 2368
#define KX_Q6_K_SB 3392

typedef struct {
    uint32_t type;      /* CALGAE_TYPE_Q4_K or CALGAE_TYPE_Q6_K */
    int64_t nb;         /* super-blocks per row */
    size_t sb;          /* bytes per super-block of 16 rows */
    size_t group_bytes; /* sb * nb */
    uint8_t *mem;       /* the groups, 64-byte aligned */
} kx_weight;

/* 1 for the types this layout serves */
static inline int kx_type(uint32_t type)
{
    return type == CALGAE_TYPE_Q4_K || type == CALGAE_TYPE_Q6_K;
}

/* avx512_kx_prepare.c: called by calgae_avx512_x16_prepare / _release for the K types */
int calgae_avx512_kx_prepare(calgae_weight *w, char *why, size_t why_len);
void calgae_avx512_kx_release(calgae_weight *w);

/* avx512_kx.c (vpmaddubsw) and avx512_kx_vnni.c (vpdpbusd): products on a prepared weight. */
#define CALGAE_AVX512_DECLARE_KX_PRODUCTS(prefix)                                                \
    int prefix##kx_matvec(const calgae_weight *w, const void *x, float *y, int64_t r0,          \
                          int64_t r1);                                                           \
    int prefix##kx_matmul(const calgae_weight *w, const void *x, size_t xs, int64_t n_tok,      \
                          float *y, int64_t ys, int64_t r0, int64_t r1);

CALGAE_AVX512_DECLARE_KX_PRODUCTS(calgae_avx512_)
CALGAE_AVX512_DECLARE_KX_PRODUCTS(calgae_avx512_vnni_)

#endif /* CALGAE_AVX512_KX_H */
