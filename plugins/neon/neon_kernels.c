/*
 * neon_kernels.c - the NEON plugin's float kernels and activation quantizer, in base ARMv8-A
 * Advanced SIMD (every AArch64 Linux CPU has it; the probe still checks HWCAP_ASIMD).
 *
 * How close each kernel stays to scalar.c, the reference:
 *   - quantize_q8_0, rope and axpy_f32 repeat the reference's operations lane by lane, so
 *     they agree bit for bit (the plugin is built with -ffp-contract=off so the compiler
 *     fuses nothing behind our back); so do rmsnorm's scaling and softmax's division;
 *   - the F32/F16 products, dot_f32 and the sums in rmsnorm and softmax split the sum over
 *     several fused multiply-add lanes, so they differ from the reference's left-to-right
 *     float sum by rounding only;
 *   - exp in softmax and swiglu is a vector polynomial (Cephes' expf), within a few ulp of
 *     libm's expf.
 */
#include <arm_neon.h>
#include <math.h>
#include <string.h>

#include "neon_internal.h"

/* ---- F32 and F16 products ------------------------------------------------------------- */

/* Weight columns i .. i + 7 of a row as floats; is_f16 is a constant at every call. */
NEON_ALWAYS_INLINE void wload8(int is_f16, const void *row, int64_t i, float32x4_t *lo,
                               float32x4_t *hi)
{
    if (is_f16) {
        /* FCVTL widens binary16 exactly, as calgae_fp16_to_fp32 does */
        const float16x8_t h = vreinterpretq_f16_u16(vld1q_u16((const uint16_t *)row + i));
        *lo = vcvt_f32_f16(vget_low_f16(h));
        *hi = vcvt_high_f32_f16(h);
    } else {
        *lo = vld1q_f32((const float *)row + i);
        *hi = vld1q_f32((const float *)row + i + 4);
    }
}

NEON_ALWAYS_INLINE float32x4_t wload4(int is_f16, const void *row, int64_t i)
{
    if (is_f16)
        return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16((const uint16_t *)row + i)));
    return vld1q_f32((const float *)row + i);
}

NEON_ALWAYS_INLINE float wload1(int is_f16, const void *row, int64_t i)
{
    if (is_f16)
        return calgae_fp16_to_fp32(((const calgae_fp16 *)row)[i]);
    return ((const float *)row)[i];
}

/*
 * out[k] = dot(W[r + k], x) for k < nr (nr is 1 or 4, a constant at every call). Each row
 * runs the same operations whatever nr is: two 4-lane FMA accumulators over 8 columns a
 * step, one more 4-column step, a fixed-order reduction, then the leftover columns in order.
 * So a row's result does not depend on whether it came in a group of four or alone, which
 * the host's row-range split (and thread-count determinism) needs.
 */
NEON_ALWAYS_INLINE void frows(int is_f16, int nr, const calgae_weight *w, int64_t r,
                              const float *x, float *out)
{
    const void *row[4];
    float32x4_t a0[4], a1[4];
#pragma GCC unroll 4
    for (int k = 0; k < nr; k++) {
        row[k] = (const char *)w->data + (size_t)(r + k) * w->row_bytes;
        a0[k] = a1[k] = vdupq_n_f32(0.0f);
    }
    const int64_t n = w->cols;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const float32x4_t x0 = vld1q_f32(x + i), x1 = vld1q_f32(x + i + 4);
#pragma GCC unroll 4
        for (int k = 0; k < nr; k++) {
            float32x4_t lo, hi;
            wload8(is_f16, row[k], i, &lo, &hi);
            a0[k] = vfmaq_f32(a0[k], lo, x0);
            a1[k] = vfmaq_f32(a1[k], hi, x1);
        }
    }
    if (i + 4 <= n) {
        const float32x4_t x0 = vld1q_f32(x + i);
#pragma GCC unroll 4
        for (int k = 0; k < nr; k++)
            a0[k] = vfmaq_f32(a0[k], wload4(is_f16, row[k], i), x0);
        i += 4;
    }
#pragma GCC unroll 4
    for (int k = 0; k < nr; k++) {
        float s = vaddvq_f32(vaddq_f32(a0[k], a1[k]));
        for (int64_t j = i; j < n; j++)
            s += wload1(is_f16, row[k], j) * x[j];
        out[k] = s;
    }
}

NEON_ALWAYS_INLINE int fmatvec(int is_f16, const calgae_weight *w, const float *x, float *y,
                               int64_t r0, int64_t r1)
{
    int64_t r = r0;
    for (; r + 4 <= r1; r += 4)
        frows(is_f16, 4, w, r, x, y + r);
    for (; r < r1; r++)
        frows(is_f16, 1, w, r, x, y + r);
    return CALGAE_KERNEL_OK;
}

NEON_ALWAYS_INLINE int fmatmul(int is_f16, const calgae_weight *w, const void *x, size_t xs,
                               int64_t n_tok, float *y, int64_t ys, int64_t r0, int64_t r1)
{
    /* a group of four rows stays in cache while every token of the batch passes over it */
    const char *xc = x;
    int64_t r = r0;
    for (; r + 4 <= r1; r += 4)
        for (int64_t t = 0; t < n_tok; t++)
            frows(is_f16, 4, w, r, (const float *)(xc + (size_t)t * xs), y + t * ys + r);
    for (; r < r1; r++)
        for (int64_t t = 0; t < n_tok; t++)
            frows(is_f16, 1, w, r, (const float *)(xc + (size_t)t * xs), y + t * ys + r);
    return CALGAE_KERNEL_OK;
}

int calgae_neon_matvec_f32(const calgae_weight *w, const void *x, float *y, int64_t r0, int64_t r1)
{
    return fmatvec(0, w, x, y, r0, r1);
}

int calgae_neon_matvec_f16(const calgae_weight *w, const void *x, float *y, int64_t r0, int64_t r1)
{
    return fmatvec(1, w, x, y, r0, r1);
}

int calgae_neon_matmul_f32(const calgae_weight *w, const void *x, size_t xs, int64_t n_tok,
                           float *y, int64_t ys, int64_t r0, int64_t r1)
{
    return fmatmul(0, w, x, xs, n_tok, y, ys, r0, r1);
}

int calgae_neon_matmul_f16(const calgae_weight *w, const void *x, size_t xs, int64_t n_tok,
                           float *y, int64_t ys, int64_t r0, int64_t r1)
{
    return fmatmul(1, w, x, xs, n_tok, y, ys, r0, r1);
}

/* ---- Q8_0 activations ----------------------------------------------------------------- */

/* Bitwise equal to calgae_quantize_q8_0_ref. amax uses a compare-and-select, as the
 * reference's `a > amax ? a : amax` does, so a NaN input is skipped rather than propagated
 * (vmaxq would propagate it). FCVTAS rounds half away from zero, which is exactly the
 * reference's trunc-and-adjust for every |v| <= 127 (and gives 0 for NaN, as the reference's
 * conversion does on AArch64). The scale goes through the header's own fp16 rounding. */
void calgae_neon_quantize_q8_0(const float *x, void *out, int64_t n)
{
    calgae_block_q8_0 *y = out;
    for (int64_t b = 0; b < n / CALGAE_QK; b++) {
        const float *xb = x + b * CALGAE_QK;
        float32x4_t v[8];
        float32x4_t m = vdupq_n_f32(0.0f);
        for (int j = 0; j < 8; j++) {
            v[j] = vld1q_f32(xb + 4 * j);
            const float32x4_t a = vabsq_f32(v[j]);
            m = vbslq_f32(vcgtq_f32(a, m), a, m);
        }
        const float amax = vmaxvq_f32(m); /* no NaN can reach m */
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[b].d = calgae_fp32_to_fp16(d);
        for (int j = 0; j < 8; j += 2) {
            const int32x4_t q0 = vcvtaq_s32_f32(vmulq_n_f32(v[j], id));
            const int32x4_t q1 = vcvtaq_s32_f32(vmulq_n_f32(v[j + 1], id));
            /* |q| <= 127: the narrowing moves keep every value */
            const int16x8_t q = vcombine_s16(vmovn_s32(q0), vmovn_s32(q1));
            vst1_s8(y[b].qs + 4 * j, vmovn_s16(q));
        }
    }
}

/* ---- Vector ops ----------------------------------------------------------------------- */

float calgae_neon_dot_f32(const float *a, const float *b, int64_t n)
{
    float32x4_t s0 = vdupq_n_f32(0.0f), s1 = s0, s2 = s0, s3 = s0;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        s0 = vfmaq_f32(s0, vld1q_f32(a + i), vld1q_f32(b + i));
        s1 = vfmaq_f32(s1, vld1q_f32(a + i + 4), vld1q_f32(b + i + 4));
        s2 = vfmaq_f32(s2, vld1q_f32(a + i + 8), vld1q_f32(b + i + 8));
        s3 = vfmaq_f32(s3, vld1q_f32(a + i + 12), vld1q_f32(b + i + 12));
    }
    for (; i + 4 <= n; i += 4)
        s0 = vfmaq_f32(s0, vld1q_f32(a + i), vld1q_f32(b + i));
    float sum = vaddvq_f32(vaddq_f32(vaddq_f32(s0, s1), vaddq_f32(s2, s3)));
    for (; i < n; i++)
        sum += a[i] * b[i];
    return sum;
}

/* y += a * x as a multiply then an add, like the reference, so attention's weighted sum of
 * values is bitwise the reference's. */
void calgae_neon_axpy_f32(float *y, float a, const float *x, int64_t n)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        vst1q_f32(y + i, vaddq_f32(vld1q_f32(y + i), vmulq_n_f32(vld1q_f32(x + i), a)));
        vst1q_f32(y + i + 4, vaddq_f32(vld1q_f32(y + i + 4), vmulq_n_f32(vld1q_f32(x + i + 4), a)));
    }
    for (; i < n; i++)
        y[i] += a * x[i];
}

void calgae_neon_rmsnorm(float *out, const float *x, const float *w, int64_t n, float eps)
{
    float ss = calgae_neon_dot_f32(x, x, n);
    ss /= (float)n;
    ss += eps;
    ss = 1.0f / sqrtf(ss);
    /* out may be x: each element is read before it is written */
    int64_t i = 0;
    for (; i + 4 <= n; i += 4)
        vst1q_f32(out + i, vmulq_f32(vld1q_f32(w + i), vmulq_n_f32(vld1q_f32(x + i), ss)));
    for (; i < n; i++)
        out[i] = w[i] * (ss * x[i]);
}

/*
 * e^x for four lanes, after Cephes' expf: x = n ln2 + r with |r| <= ln2 / 2 (ln2 split in
 * two so n ln2 is exact), e^r by a degree-7 polynomial, then times 2^n. 2^n is applied as two
 * factors so that results down to the subnormal range (n as low as -150) keep their bits;
 * inputs are clamped to where e^x is 0 or Inf anyway. NaN stays NaN (FMAX/FMIN propagate it).
 */
static inline float32x4_t v_expf(float32x4_t x)
{
    x = vminq_f32(vmaxq_f32(x, vdupq_n_f32(-105.0f)), vdupq_n_f32(89.0f));
    const float32x4_t n = vrndnq_f32(vmulq_n_f32(x, 1.44269504088896341f));
    float32x4_t r = vfmsq_f32(x, n, vdupq_n_f32(0.693359375f));
    r = vfmsq_f32(r, n, vdupq_n_f32(-2.12194440e-4f));
    float32x4_t p = vdupq_n_f32(1.9875691500e-4f);
    p = vfmaq_f32(vdupq_n_f32(1.3981999507e-3f), p, r);
    p = vfmaq_f32(vdupq_n_f32(8.3334519073e-3f), p, r);
    p = vfmaq_f32(vdupq_n_f32(4.1665795894e-2f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.6666665459e-1f), p, r);
    p = vfmaq_f32(vdupq_n_f32(5.0000001201e-1f), p, r);
    p = vfmaq_f32(vaddq_f32(r, vdupq_n_f32(1.0f)), p, vmulq_f32(r, r));
    const int32x4_t ni = vcvtq_s32_f32(n);
    const int32x4_t n1 = vshrq_n_s32(ni, 1), n2 = vsubq_s32(ni, n1);
    const int32x4_t bias = vdupq_n_s32(127);
    const float32x4_t s1 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(n1, bias), 23));
    const float32x4_t s2 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(n2, bias), 23));
    return vmulq_f32(vmulq_f32(p, s1), s2);
}

void calgae_neon_softmax(float *x, int64_t n)
{
    if (n <= 0)
        return;
    float32x4_t m4 = vdupq_n_f32(x[0]);
    int64_t i = 0;
    for (; i + 4 <= n; i += 4)
        m4 = vmaxq_f32(m4, vld1q_f32(x + i));
    float max = vmaxvq_f32(m4);
    for (; i < n; i++)
        max = x[i] > max ? x[i] : max;

    const float32x4_t mv = vdupq_n_f32(max);
    float32x4_t s4 = vdupq_n_f32(0.0f);
    for (i = 0; i + 4 <= n; i += 4) {
        const float32x4_t e = v_expf(vsubq_f32(vld1q_f32(x + i), mv));
        vst1q_f32(x + i, e);
        s4 = vaddq_f32(s4, e);
    }
    float sum = vaddvq_f32(s4);
    if (i < n) {
        /* the last one to three values through the same vector exp, so every element gets
         * the same function */
        float tail[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        memcpy(tail, x + i, (size_t)(n - i) * sizeof *x);
        vst1q_f32(tail, v_expf(vsubq_f32(vld1q_f32(tail), mv)));
        for (int64_t j = i; j < n; j++) {
            x[j] = tail[j - i];
            sum += x[j];
        }
    }
    const float32x4_t sv = vdupq_n_f32(sum);
    for (i = 0; i + 4 <= n; i += 4)
        vst1q_f32(x + i, vdivq_f32(vld1q_f32(x + i), sv));
    for (; i < n; i++)
        x[i] /= sum;
}

/* silu(v) * up as the reference orders it: (v * (1 / (1 + e^-v))) * up. */
static inline float32x4_t v_swiglu(float32x4_t v, float32x4_t up)
{
    const float32x4_t one = vdupq_n_f32(1.0f);
    const float32x4_t s = vdivq_f32(one, vaddq_f32(one, v_expf(vnegq_f32(v))));
    return vmulq_f32(vmulq_f32(v, s), up);
}

void calgae_neon_swiglu(float *gate, const float *up, int64_t n)
{
    int64_t i = 0;
    for (; i + 4 <= n; i += 4)
        vst1q_f32(gate + i, v_swiglu(vld1q_f32(gate + i), vld1q_f32(up + i)));
    if (i < n) {
        float g[4] = {0.0f, 0.0f, 0.0f, 0.0f}, u[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        const size_t rest = (size_t)(n - i) * sizeof *gate;
        memcpy(g, gate + i, rest);
        memcpy(u, up + i, rest);
        vst1q_f32(g, v_swiglu(vld1q_f32(g), vld1q_f32(u)));
        memcpy(gate + i, g, rest);
    }
}

/* The reference's products and sums lane by lane (no FMA): bitwise equal. vld2q splits the
 * adjacent pairs into an even and an odd vector. */
void calgae_neon_rope(float *x, int64_t n_heads, int64_t head_size, int64_t n_rot, const float *cs)
{
    const int64_t pairs = n_rot / 2;
    for (int64_t h = 0; h < n_heads; h++) {
        float *v = x + h * head_size;
        int64_t i = 0;
        for (; i + 4 <= pairs; i += 4) {
            const float32x4x2_t p = vld2q_f32(v + 2 * i);
            const float32x4x2_t c = vld2q_f32(cs + 2 * i);
            float32x4x2_t o;
            o.val[0] = vsubq_f32(vmulq_f32(p.val[0], c.val[0]), vmulq_f32(p.val[1], c.val[1]));
            o.val[1] = vaddq_f32(vmulq_f32(p.val[0], c.val[1]), vmulq_f32(p.val[1], c.val[0]));
            vst2q_f32(v + 2 * i, o);
        }
        for (; i < pairs; i++) {
            const float c = cs[2 * i], s = cs[2 * i + 1];
            const float v0 = v[2 * i], v1 = v[2 * i + 1];
            v[2 * i] = v0 * c - v1 * s;
            v[2 * i + 1] = v0 * s + v1 * c;
        }
    }
}
