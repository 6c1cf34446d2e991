/*
 * avx512_x16.h - the avx512 plugin's own weight layout for Q4_0, Q4_1 and Q8_0 ("x16": 16 rows
 * interleaved), made once at load by prepare_weight (calgae_plugin.h), and the products that
 * read it (avx512_x16_impl.h, built once with VNNI and once without).
 *
 * Why: in ggml's layout a vector holds parts of one row's blocks, so every block ends in a
 * horizontal sum (avx512_quant_impl.h folds 16 blocks at a time, which still costs a dozen
 * shuffles and two gathers per 16 blocks). With 16 rows interleaved at 4-byte granularity, a
 * 512-bit vector holds 4 consecutive codes of each of 16 rows; the activation's 4 matching bytes
 * are broadcast to every lane (an embedded {1to16} operand of vpdpbusd), each row's sum stays in
 * its own lane, and one scale FMA per block serves 16 rows. The avx2 plugin does the same with
 * 8 rows (plugins/avx2/products_x8.c); the layout below is its 512-bit counterpart.
 *
 * Layout: rows 16g .. 16g + 15 form group g, stored contiguously, groups in order. A group's
 * nb = cols / 32 blocks come in superblocks of 4 (the last one padded with zeros):
 *   4 x DB bytes of scales: block k's 16 d values as fp16 (32 bytes), then for Q4_1 its 16 m
 *   values (32 more);
 *   4 x QB bytes of codes: block k's as 64-byte vectors; vector c's 4-byte lane i is row i's
 *   4-byte word c of that block's codes:
 *   - Q4_0 and Q4_1 (QB = 256, 4 vectors): bytes 4c .. 4c + 3 of qs[16], whose low nibbles
 *     are elements 4c .. 4c + 3 and high nibbles 16 + 4c .. 19 + 4c, unchanged (0..15);
 *   - Q8_0 (QB = 512, 8 vectors): elements 4c .. 4c + 3, stored as unsigned w + 128 (the sign
 *     bit flipped), so that they are vpdpbusd's unsigned operand and the activation its signed
 *     one, with no sign trick.
 * A row range is one sequential stream, every load is aligned, and the bytes are the file's
 * bytes give or take the padding, so the host can drop its mapped copy.
 *
 * Numerics, per (row, token) and block: the codes u are unsigned with an offset o (Q4_0: 8,
 * Q8_0: 128, Q4_1: 0), so the reference's integer sum is sum (u - o) x = sum u x - o sum x. The
 * accumulator starts at -o sum x (computed once per activation block) and vpdpbusd adds
 * sum u x: the exact isum, whatever x holds (-128 included), with no saturation. It is
 * converted to float and added with one FMA by d_w * d_x, in block order; Q4_1 adds
 * m_w * (d_x sum x) with a second FMA. The same sequence runs for matvec and matmul and any
 * row range, so results depend neither on the thread count nor on the batch.
 */
#ifndef CALGAE_AVX512_X16_H
#define CALGAE_AVX512_X16_H

#include <stddef.h>
#include <stdint.h>

#include "calgae_plugin.h"

#define X16_ROWS 16 /* rows interleaved */
#define X16_SUPER 4 /* blocks per superblock */

typedef struct {
    uint32_t type;      /* CALGAE_TYPE_Q4_0, _Q4_1, _Q8_0 (blocks) or _F32, _F16 (columns) */
    int64_t nb;         /* blocks per row */
    size_t db;          /* scale bytes per block of 16 rows: 32 (d) or 64 (d, then m) */
    size_t qb;          /* code bytes per block of 16 rows: 256 or 512 */
    size_t sb;          /* bytes per superblock: X16_SUPER * (db + qb) */
    size_t group_bytes; /* sb * the superblocks of a row */
    uint8_t *mem;       /* the groups, 64-byte aligned */
} x16_weight;

/* Block b of a group: its scales (d of 16 rows, then m for Q4_1) and its codes. */
static inline const uint8_t *x16_scales(const x16_weight *p, const uint8_t *grp, int64_t b)
{
    return grp + (size_t)(b / X16_SUPER) * p->sb + (size_t)(b % X16_SUPER) * p->db;
}

static inline const uint8_t *x16_codes(const x16_weight *p, const uint8_t *grp, int64_t b)
{
    return grp + (size_t)(b / X16_SUPER) * p->sb + X16_SUPER * p->db + (size_t)(b % X16_SUPER) * p->qb;
}

/*
 * The float layout (F32 and F16 weights): group g's bytes are column 0 of its 16 rows, then
 * column 1, and so on: 16 floats (64 bytes) or 16 fp16 values (32 bytes) per column, in the
 * weight's own type, so memory stays the file's size. Any column count works.
 */

/* avx512_x16_prepare.c */
int calgae_avx512_x16_prepare(calgae_weight *w, char *why, size_t why_len);
void calgae_avx512_x16_release(calgae_weight *w);

/* avx512_x16.c (vpmaddubsw) and avx512_x16_vnni.c (vpdpbusd): products on a prepared weight. */
#define CALGAE_AVX512_DECLARE_X16_PRODUCTS(prefix)                                               \
    int prefix##x16_matvec(const calgae_weight *w, const void *x, float *y, int64_t r0,         \
                           int64_t r1);                                                          \
    int prefix##x16_matmul(const calgae_weight *w, const void *x, size_t xs, int64_t n_tok,     \
                           float *y, int64_t ys, int64_t r0, int64_t r1);

CALGAE_AVX512_DECLARE_X16_PRODUCTS(calgae_avx512_)
CALGAE_AVX512_DECLARE_X16_PRODUCTS(calgae_avx512_vnni_)
/* avx512_x16f.c: F32 and F16 */
CALGAE_AVX512_DECLARE_X16_PRODUCTS(calgae_avx512_x16f_)

#endif /* CALGAE_AVX512_X16_H */
