/*
 * neon_kquant.h - the K-quant and IQ4 products (ABI 1.3 and 1.4 slots) written once and compiled
 * once per variant, as neon_qdot.h is: the including file defines NEON_KVARIANT (the name
 * suffix) and neon_dot16(), four int32 lanes whose sum is the exact dot product of two 16-byte
 * int8 vectors, then includes this file. Not a normal header: it defines functions.
 *
 * Formulas and block layouts are ggml's vec_dot_<type>_q8_K / _q8_0 (ggml-common.h,
 * ggml-quants.c), as calgae_plugin.h states them per slot and plugins/scalar writes them out.
 * Each super-block is unpacked into sixteen int8x16 vectors of codes, one per group of 16
 * values, with an integer scale and minimum per group (a group of 32 gives its two halves the
 * same ones). The integer sums are then exact whatever instructions form them (every partial
 * sum stays below 2^31: the largest |scale * code * x| is IQ4_XS's 32 * 127 * 127, times 256),
 * and the float part repeats the scalar plugin's operations in its order, block after block,
 * without fused multiply-adds (the plugin is built with -ffp-contract=off). So every output is
 * bitwise the scalar plugin's, and a row's value never depends on the row range it came in.
 */
#ifndef NEON_KVARIANT
#error "define NEON_KVARIANT and neon_dot16() before including neon_kquant.h"
#endif

#include <arm_neon.h>
#include <string.h>

#include "neon_internal.h"

#define NEON_KCAT_(a, b) a##_##b
#define NEON_KCAT(a, b) NEON_KCAT_(a, b)
#define NEON_KNAME(name) NEON_KCAT(name, NEON_KVARIANT)

/* The super-block types; `kind` is a constant at every call, so its branches fold away. */
enum { KQ_Q4_K, KQ_Q5_K, KQ_Q6_K, KQ_Q3_K, KQ_Q2_K, KQ_IQ4_XS };

/* ggml's kvalues_iq4nl: the 16 levels of IQ4_NL and IQ4_XS, looked up with TBL. */
static const int8_t neon_iq4_levels[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                           1,    13,   25,  38,  53,  69,  89,  113};

/* A super-block unpacked: q[v] holds values 16v .. 16v + 15; group v has scale sc[v] and
 * minimum m[v] (the value is d * sc * q - dmin * m). */
typedef struct {
    int8x16_t q[16];
    int32_t sc[16];
    int32_t m[16];
    float d, dmin;
} neon_kblock;

NEON_ALWAYS_INLINE float kq_half(calgae_fp16 h)
{
    /* FCVTL is exact for every binary16 value, like calgae_fp16_to_fp32 */
    return vgetq_lane_f32(vcvt_f32_f16(vreinterpret_f16_u16(vdup_n_u16(h))), 0);
}

/* A byte mask per lane: 0xff where bit `bit` (0..7, not a constant) of that lane is set. */
NEON_ALWAYS_INLINE uint8x16_t kq_bit(uint8x16_t v, int bit)
{
    return vtstq_u8(v, vdupq_n_u8((uint8_t)(1u << bit)));
}

/* Q4_K and Q5_K: groups 2p and 2p + 1 of 32 are the low and high nibbles of bytes 32p ..
 * 32p + 31; Q5_K's fifth bit of group g is bit g of qh[l]. */
NEON_ALWAYS_INLINE void unpack_q45_k(int five, const uint8_t *scales, const uint8_t *qs,
                                     const uint8_t *qh, neon_kblock *k)
{
    for (int g = 0; g < 8; g++) {
        uint8_t sc, m;
        calgae_q4_k_scale_min(g, scales, &sc, &m);
        k->sc[2 * g] = k->sc[2 * g + 1] = sc;
        k->m[2 * g] = k->m[2 * g + 1] = m;
    }
    const uint8x16_t low4 = vdupq_n_u8(15), bit5 = vdupq_n_u8(16);
    uint8x16_t h0 = vdupq_n_u8(0), h1 = vdupq_n_u8(0);
    if (five) {
        h0 = vld1q_u8(qh);
        h1 = vld1q_u8(qh + 16);
    }
    for (int p = 0; p < 4; p++) {
        const uint8x16_t a = vld1q_u8(qs + 32 * p), b = vld1q_u8(qs + 32 * p + 16);
        uint8x16_t v[4] = {vandq_u8(a, low4), vandq_u8(b, low4), vshrq_n_u8(a, 4),
                           vshrq_n_u8(b, 4)};
        if (five) {
            v[0] = vorrq_u8(v[0], vandq_u8(kq_bit(h0, 2 * p), bit5));
            v[1] = vorrq_u8(v[1], vandq_u8(kq_bit(h1, 2 * p), bit5));
            v[2] = vorrq_u8(v[2], vandq_u8(kq_bit(h0, 2 * p + 1), bit5));
            v[3] = vorrq_u8(v[3], vandq_u8(kq_bit(h1, 2 * p + 1), bit5));
        }
        for (int i = 0; i < 4; i++)
            k->q[4 * p + i] = vreinterpretq_s8_u8(v[i]);
    }
}

/* Q6_K: value 128h + 32s + l has its low 4 bits in ql[64h + 32(s % 2) + l] (low nibble for
 * s < 2, high for s >= 2) and its high 2 in bits 2s of qh[32h + l]; less 32. */
NEON_ALWAYS_INLINE void unpack_q6_k(const calgae_block_q6_k *b, neon_kblock *k)
{
    k->d = kq_half(b->d);
    k->dmin = 0.0f;
    const int8x16_t s = vld1q_s8(b->scales);
    const int16x8_t s0 = vmovl_s8(vget_low_s8(s)), s1 = vmovl_high_s8(s);
    vst1q_s32(k->sc, vmovl_s16(vget_low_s16(s0)));
    vst1q_s32(k->sc + 4, vmovl_high_s16(s0));
    vst1q_s32(k->sc + 8, vmovl_s16(vget_low_s16(s1)));
    vst1q_s32(k->sc + 12, vmovl_high_s16(s1));
    memset(k->m, 0, sizeof k->m);
    const uint8x16_t low4 = vdupq_n_u8(15), two = vdupq_n_u8(3 << 4);
    const int8x16_t bias = vdupq_n_s8(32);
    for (int h = 0; h < 2; h++) {
        const uint8_t *ql = b->ql + 64 * h, *qh = b->qh + 32 * h;
        for (int half = 0; half < 2; half++) { /* l < 16, l >= 16 */
            const uint8x16_t l0 = vld1q_u8(ql + 16 * half), l1 = vld1q_u8(ql + 32 + 16 * half);
            const uint8x16_t hi = vld1q_u8(qh + 16 * half);
            /* the two high bits of pass s, moved to bits 4-5 */
            const uint8x16_t v[4] = {
                vorrq_u8(vandq_u8(l0, low4), vandq_u8(vshlq_n_u8(hi, 4), two)),
                vorrq_u8(vandq_u8(l1, low4), vandq_u8(vshlq_n_u8(hi, 2), two)),
                vorrq_u8(vshrq_n_u8(l0, 4), vandq_u8(hi, two)),
                vorrq_u8(vshrq_n_u8(l1, 4), vandq_u8(vshrq_n_u8(hi, 2), two)),
            };
            for (int s2 = 0; s2 < 4; s2++)
                k->q[8 * h + 2 * s2 + half] = vsubq_s8(vreinterpretq_s8_u8(v[s2]), bias);
        }
    }
}

/* Q3_K and Q2_K share the 2-bit layout: value 128h + 32s + l is bits 2s of qs[32h + l]; Q3_K
 * subtracts 4 where bit 4h + s of hmask[l] is clear. */
NEON_ALWAYS_INLINE void unpack_q32_k(int three, const uint8_t *qs, const uint8_t *hmask,
                                     neon_kblock *k)
{
    const uint8x16_t two = vdupq_n_u8(3), four = vdupq_n_u8(4);
    for (int h = 0; h < 2; h++) {
        for (int half = 0; half < 2; half++) {
            const uint8x16_t c = vld1q_u8(qs + 32 * h + 16 * half);
            const uint8x16_t hm = three ? vld1q_u8(hmask + 16 * half) : vdupq_n_u8(0);
            for (int s = 0; s < 4; s++) {
                const uint8x16_t code = vandq_u8(vshlq_u8(c, vdupq_n_s8((int8_t)(-2 * s))), two);
                int8x16_t q = vreinterpretq_s8_u8(code);
                if (three) /* code - 4 + (bit set ? 4 : 0) */
                    q = vsubq_s8(q, vreinterpretq_s8_u8(vbicq_u8(four, kq_bit(hm, 4 * h + s))));
                k->q[8 * h + 2 * s + half] = q;
            }
        }
    }
}

NEON_ALWAYS_INLINE void unpack_q3_k(const calgae_block_q3_k *b, neon_kblock *k)
{
    k->d = kq_half(b->d);
    k->dmin = 0.0f;
    for (int g = 0; g < 16; g++) {
        const int low = g < 8 ? b->scales[g] & 15 : b->scales[g - 8] >> 4;
        const int high = (b->scales[8 + g % 4] >> (2 * (g / 4))) & 3;
        k->sc[g] = (low | high << 4) - 32;
        k->m[g] = 0;
    }
    unpack_q32_k(1, b->qs, b->hmask, k);
}

NEON_ALWAYS_INLINE void unpack_q2_k(const calgae_block_q2_k *b, neon_kblock *k)
{
    k->d = kq_half(b->d);
    k->dmin = kq_half(b->dmin);
    for (int g = 0; g < 16; g++) {
        k->sc[g] = b->scales[g] & 15;
        k->m[g] = b->scales[g] >> 4;
    }
    unpack_q32_k(0, b->qs, NULL, k);
}

/* IQ4_XS: group g of 32 is the low nibbles (values 0-15) then the high nibbles (16-31) of
 * qs[16g .. 16g + 15], each an index into the levels; 6-bit scale less 32. */
NEON_ALWAYS_INLINE void unpack_iq4_xs(const calgae_block_iq4_xs *b, neon_kblock *k)
{
    k->d = kq_half(b->d);
    k->dmin = 0.0f;
    const int8x16_t levels = vld1q_s8(neon_iq4_levels);
    for (int g = 0; g < 8; g++) {
        const int ls = ((b->scales_l[g / 2] >> (4 * (g % 2))) & 15) |
                       ((b->scales_h >> (2 * g)) & 3) << 4;
        k->sc[2 * g] = k->sc[2 * g + 1] = ls - 32;
        k->m[2 * g] = k->m[2 * g + 1] = 0;
        const uint8x16_t q = vld1q_u8(b->qs + 16 * g);
        k->q[2 * g] = vqtbl1q_s8(levels, vandq_u8(q, vdupq_n_u8(15)));
        k->q[2 * g + 1] = vqtbl1q_s8(levels, vshrq_n_u8(q, 4));
    }
}

NEON_ALWAYS_INLINE void unpack_k(int kind, const char *blk, neon_kblock *k)
{
    if (kind == KQ_Q4_K || kind == KQ_Q5_K) {
        /* Q4_K's fields are Q5_K's less qh, in the same order */
        const int five = kind == KQ_Q5_K;
        const calgae_block_q4_k *b4 = (const calgae_block_q4_k *)blk;
        const calgae_block_q5_k *b5 = (const calgae_block_q5_k *)blk;
        k->d = kq_half(five ? b5->d : b4->d);
        k->dmin = kq_half(five ? b5->dmin : b4->dmin);
        unpack_q45_k(five, five ? b5->scales : b4->scales, five ? b5->qs : b4->qs,
                     five ? b5->qh : NULL, k);
    } else if (kind == KQ_Q6_K) {
        unpack_q6_k((const calgae_block_q6_k *)blk, k);
    } else if (kind == KQ_Q3_K) {
        unpack_q3_k((const calgae_block_q3_k *)blk, k);
    } else if (kind == KQ_Q2_K) {
        unpack_q2_k((const calgae_block_q2_k *)blk, k);
    } else {
        unpack_iq4_xs((const calgae_block_iq4_xs *)blk, k);
    }
}

NEON_ALWAYS_INLINE size_t kblock_bytes(int kind)
{
    switch (kind) {
    case KQ_Q4_K: return sizeof(calgae_block_q4_k);
    case KQ_Q5_K: return sizeof(calgae_block_q5_k);
    case KQ_Q6_K: return sizeof(calgae_block_q6_k);
    case KQ_Q3_K: return sizeof(calgae_block_q3_k);
    case KQ_Q2_K: return sizeof(calgae_block_q2_k);
    default: return sizeof(calgae_block_iq4_xs);
    }
}

/* One super-block against its activation block, the scalar plugin's expression:
 * (d_x * d) * isum - (d_x * dmin) * msum with isum = sum_v sc_v * dot(q_v, x_v) and
 * msum = sum_v m_v * bsums[v], both exact in int32. */
NEON_ALWAYS_INLINE float kdot(const neon_kblock *k, const calgae_block_q8_k *x)
{
    int32x4_t isum = vdupq_n_s32(0), msum = vdupq_n_s32(0);
    for (int c = 0; c < 4; c++) {
        const int32x4_t p0 = neon_dot16(k->q[4 * c], vld1q_s8(x->qs + 64 * c));
        const int32x4_t p1 = neon_dot16(k->q[4 * c + 1], vld1q_s8(x->qs + 64 * c + 16));
        const int32x4_t p2 = neon_dot16(k->q[4 * c + 2], vld1q_s8(x->qs + 64 * c + 32));
        const int32x4_t p3 = neon_dot16(k->q[4 * c + 3], vld1q_s8(x->qs + 64 * c + 48));
        /* two rounds of pairwise adds leave group 4c + i's sum in lane i */
        const int32x4_t g = vpaddq_s32(vpaddq_s32(p0, p1), vpaddq_s32(p2, p3));
        isum = vmlaq_s32(isum, g, vld1q_s32(k->sc + 4 * c));
    }
    const int16x8_t b0 = vld1q_s16(x->bsums), b1 = vld1q_s16(x->bsums + 8);
    msum = vmlaq_s32(msum, vmovl_s16(vget_low_s16(b0)), vld1q_s32(k->m));
    msum = vmlaq_s32(msum, vmovl_high_s16(b0), vld1q_s32(k->m + 4));
    msum = vmlaq_s32(msum, vmovl_s16(vget_low_s16(b1)), vld1q_s32(k->m + 8));
    msum = vmlaq_s32(msum, vmovl_high_s16(b1), vld1q_s32(k->m + 12));
    return (x->d * k->d) * (float)vaddvq_s32(isum) - (x->d * k->dmin) * (float)vaddvq_s32(msum);
}

NEON_ALWAYS_INLINE float krow(int kind, const calgae_weight *w, int64_t r,
                              const calgae_block_q8_k *x)
{
    const char *row = (const char *)w->data + (size_t)r * w->row_bytes;
    const size_t bb = kblock_bytes(kind);
    float sum = 0.0f;
    neon_kblock k;
    for (int64_t b = 0; b < w->cols / CALGAE_QK_K; b++) {
        unpack_k(kind, row + (size_t)b * bb, &k);
        sum += kdot(&k, &x[b]);
    }
    return sum;
}

/* ---- the 32-value types against Q8_0 activations --------------------------------------- */

enum { KQ_Q5_0, KQ_Q5_1, KQ_IQ4_NL };

/* Q5_0 / Q5_1's 32 codes: low nibbles are values 0-15, high ones 16-31, and bit j of the
 * little-endian qh word is value j's fifth bit. Lane l of a byte vector holding qh[l / 8]
 * tests bit l % 8. */
NEON_ALWAYS_INLINE void q5_codes(const uint8_t qh[4], const uint8_t qs[16], int8x16_t *lo,
                                 int8x16_t *hi)
{
    static const uint8_t bits[16] = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
    const uint8x16_t sel = vld1q_u8(bits), bit5 = vdupq_n_u8(16);
    const uint8x16_t h0 = vcombine_u8(vdup_n_u8(qh[0]), vdup_n_u8(qh[1]));
    const uint8x16_t h1 = vcombine_u8(vdup_n_u8(qh[2]), vdup_n_u8(qh[3]));
    const uint8x16_t q = vld1q_u8(qs);
    *lo = vreinterpretq_s8_u8(
        vorrq_u8(vandq_u8(q, vdupq_n_u8(15)), vandq_u8(vtstq_u8(h0, sel), bit5)));
    *hi = vreinterpretq_s8_u8(vorrq_u8(vshrq_n_u8(q, 4), vandq_u8(vtstq_u8(h1, sel), bit5)));
}

NEON_ALWAYS_INLINE float brow(int kind, const calgae_weight *w, int64_t r,
                              const calgae_block_q8_0 *x)
{
    const char *row = (const char *)w->data + (size_t)r * w->row_bytes;
    const size_t bb = kind == KQ_Q5_0   ? sizeof(calgae_block_q5_0)
                      : kind == KQ_Q5_1 ? sizeof(calgae_block_q5_1)
                                        : sizeof(calgae_block_iq4_nl);
    const int8x16_t levels = vld1q_s8(neon_iq4_levels);
    float sum = 0.0f;
    for (int64_t b = 0; b < w->cols / CALGAE_QK; b++) {
        const char *blk = row + (size_t)b * bb;
        const int8x16_t x0 = vld1q_s8(x[b].qs), x1 = vld1q_s8(x[b].qs + 16);
        const float dx = kq_half(x[b].d);
        int8x16_t lo, hi;
        if (kind == KQ_IQ4_NL) {
            const calgae_block_iq4_nl *q = (const calgae_block_iq4_nl *)blk;
            const uint8x16_t v = vld1q_u8(q->qs);
            lo = vqtbl1q_s8(levels, vandq_u8(v, vdupq_n_u8(15)));
            hi = vqtbl1q_s8(levels, vshrq_n_u8(v, 4));
            const int32_t isum = vaddvq_s32(vaddq_s32(neon_dot16(lo, x0), neon_dot16(hi, x1)));
            sum += (kq_half(q->d) * dx) * (float)isum;
        } else if (kind == KQ_Q5_0) {
            const calgae_block_q5_0 *q = (const calgae_block_q5_0 *)blk;
            q5_codes(q->qh, q->qs, &lo, &hi);
            lo = vsubq_s8(lo, vdupq_n_s8(16));
            hi = vsubq_s8(hi, vdupq_n_s8(16));
            const int32_t isum = vaddvq_s32(vaddq_s32(neon_dot16(lo, x0), neon_dot16(hi, x1)));
            sum += (kq_half(q->d) * dx) * (float)isum;
        } else {
            const calgae_block_q5_1 *q = (const calgae_block_q5_1 *)blk;
            q5_codes(q->qh, q->qs, &lo, &hi);
            const int32_t isum = vaddvq_s32(vaddq_s32(neon_dot16(lo, x0), neon_dot16(hi, x1)));
            const int32_t xsum = (int32_t)vaddlvq_s8(x0) + (int32_t)vaddlvq_s8(x1);
            sum += (kq_half(q->d) * dx) * (float)isum + (kq_half(q->m) * dx) * (float)xsum;
        }
    }
    return sum;
}

/* ---- the slots: one row at a time; matmul keeps a row in cache across the batch -------- */

#define NEON_KPRODUCTS(t, KIND, ROW, XT)                                                       \
    int NEON_KNAME(calgae_neon_matvec_##t)(const calgae_weight *w, const void *x, float *y,    \
                                           int64_t r0, int64_t r1)                             \
    {                                                                                          \
        for (int64_t r = r0; r < r1; r++)                                                      \
            y[r] = ROW(KIND, w, r, (const XT *)x);                                             \
        return CALGAE_KERNEL_OK;                                                               \
    }                                                                                          \
    int NEON_KNAME(calgae_neon_matmul_##t)(const calgae_weight *w, const void *x, size_t xs,   \
                                           int64_t n_tok, float *y, int64_t ys, int64_t r0,    \
                                           int64_t r1)                                         \
    {                                                                                          \
        const char *xc = x;                                                                    \
        for (int64_t r = r0; r < r1; r++)                                                      \
            for (int64_t t = 0; t < n_tok; t++)                                                \
                y[t * ys + r] = ROW(KIND, w, r, (const XT *)(xc + (size_t)t * xs));            \
        return CALGAE_KERNEL_OK;                                                               \
    }

NEON_KPRODUCTS(q4_k, KQ_Q4_K, krow, calgae_block_q8_k)
NEON_KPRODUCTS(q6_k, KQ_Q6_K, krow, calgae_block_q8_k)
NEON_KPRODUCTS(q5_k, KQ_Q5_K, krow, calgae_block_q8_k)
NEON_KPRODUCTS(q3_k, KQ_Q3_K, krow, calgae_block_q8_k)
NEON_KPRODUCTS(q2_k, KQ_Q2_K, krow, calgae_block_q8_k)
NEON_KPRODUCTS(iq4_xs, KQ_IQ4_XS, krow, calgae_block_q8_k)
NEON_KPRODUCTS(q5_0, KQ_Q5_0, brow, calgae_block_q8_0)
NEON_KPRODUCTS(q5_1, KQ_Q5_1, brow, calgae_block_q8_0)
NEON_KPRODUCTS(iq4_nl, KQ_IQ4_NL, brow, calgae_block_q8_0)
