/*
 * avx512_float.c - the AVX-512 plugin's float kernels: F32, F16 and BF16 products, the Q8_0
 * activation quantizer, RMSNorm, softmax, SwiGLU, RoPE and the two attention vector ops.
 *
 * Agreement with the scalar reference (plugins/scalar/scalar.c), kernel by kernel:
 * - quantize_q8_0, rope, axpy_f32: bit for bit (same operations in the same order per element;
 *   no fused multiply-add where the reference rounds the product first).
 * - dot products (products, dot_f32, rmsnorm's sum of squares, softmax's sum): the same terms
 *   summed in another order (16 lanes x 4 accumulators, then a tree), so within a few ulps of
 *   the sum's magnitude.
 * - softmax and swiglu: exp from a polynomial (Cephes' expf coefficients, < 2 ulp), not libm.
 * A product computes every row the same way whatever its range, and matmul computes each token
 * exactly as matvec does, so prompt processing and generation give identical numbers.
 */
#include "avx512_isa.h"
#include "avx512_kernels.h"

#include <math.h>

/* Tokens per pass of matmul: each weight vector is loaded once and used 4 times; 4 tokens x 4
 * accumulators + 4 inputs stay within the 32 zmm registers. */
#define NT 4

AVX512_INLINE __mmask16 tail_mask16(int64_t rem)
{
    return (__mmask16)((1u << rem) - 1u);
}

/* ---- F32, F16 and BF16 rows ---- */

/* The weight type of a float row (the kind argument below). */
enum { ROW_F32 = 0, ROW_F16 = 1, ROW_BF16 = 2 };

/* 16 BF16 values (the low 256 bits of h) widened exactly to floats: each moves to the high half
 * of its 32-bit lane (vpermw with the low halves zeroed), which is all a BF16 is. */
AVX512_INLINE __m512 widen_bf16(__m512i h)
{
    /* 16-bit element 2i + 1 takes element i; the even elements are masked to zero */
    const __m512i up = _mm512_slli_epi32(
        _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), 16);
    return _mm512_castsi512_ps(_mm512_maskz_permutexvar_epi16((__mmask32)0xAAAAAAAAu, up, h));
}

/* Loads 16 weights as floats from element i of a row (F32, F16 or BF16), or the first rem < 16
 * of them with the rest zero. */
AVX512_INLINE __m512 load_w(const void *row, int kind, int64_t i)
{
    if (kind == ROW_BF16)
        return widen_bf16(_mm512_castsi256_si512(
            _mm256_loadu_si256((const __m256i *)((const calgae_bf16 *)row + i))));
    if (kind == ROW_F16)
        return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)((const calgae_fp16 *)row + i)));
    return _mm512_loadu_ps((const float *)row + i);
}

AVX512_INLINE __m512 load_w_tail(const void *row, int kind, int64_t i, int64_t rem)
{
    if (kind == ROW_BF16)
        return widen_bf16(_mm512_maskz_loadu_epi16((__mmask32)((1u << rem) - 1u),
                                                   (const calgae_bf16 *)row + i));
    if (kind == ROW_F16) {
        const __m512i h = _mm512_maskz_loadu_epi16((__mmask32)((1u << rem) - 1u),
                                                   (const calgae_fp16 *)row + i);
        return _mm512_cvtph_ps(_mm512_castsi512_si256(h));
    }
    return _mm512_maskz_loadu_ps(tail_mask16(rem), (const float *)row + i);
}

/* out[t] = dot(row, x[t]) for t < nt; nt is a constant after inlining. The accumulation order
 * depends only on n, never on nt, so a token gets the same bits from matvec and matmul. */
AVX512_INLINE void row_dot(const void *row, int kind, const float *const *x, int nt, int64_t n,
                           float *out)
{
    __m512 acc[NT][4];
    for (int t = 0; t < nt; t++)
        for (int k = 0; k < 4; k++)
            acc[t][k] = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
        for (int k = 0; k < 4; k++) {
            const __m512 wv = load_w(row, kind, i + 16 * k);
            for (int t = 0; t < nt; t++)
                acc[t][k] = _mm512_fmadd_ps(wv, _mm512_loadu_ps(x[t] + i + 16 * k), acc[t][k]);
        }
    }
    for (int k = 0; i + 16 <= n; i += 16, k++) {
        const __m512 wv = load_w(row, kind, i);
        for (int t = 0; t < nt; t++)
            acc[t][k] = _mm512_fmadd_ps(wv, _mm512_loadu_ps(x[t] + i), acc[t][k]);
    }
    if (i < n) {
        const __m512 wv = load_w_tail(row, kind, i, n - i);
        for (int t = 0; t < nt; t++)
            acc[t][3] = _mm512_fmadd_ps(wv, _mm512_maskz_loadu_ps(tail_mask16(n - i), x[t] + i),
                                        acc[t][3]);
    }
    for (int t = 0; t < nt; t++) {
        const __m512 s = _mm512_add_ps(_mm512_add_ps(acc[t][0], acc[t][1]),
                                       _mm512_add_ps(acc[t][2], acc[t][3]));
        out[t] = _mm512_reduce_add_ps(s);
    }
}

AVX512_INLINE const void *row_ptr(const calgae_weight *w, int64_t r)
{
    return (const char *)w->data + (size_t)r * w->row_bytes;
}

AVX512_INLINE int matvec_float(const calgae_weight *w, int kind, const void *x, float *y,
                               int64_t r0, int64_t r1)
{
    const float *xs[1] = {x};
    for (int64_t r = r0; r < r1; r++)
        row_dot(row_ptr(w, r), kind, xs, 1, w->cols, &y[r]);
    return CALGAE_KERNEL_OK;
}

AVX512_INLINE int matmul_float(const calgae_weight *w, int kind, const void *x, size_t x_stride,
                               int64_t n_tok, float *y, int64_t y_stride, int64_t r0, int64_t r1)
{
    /* rows outside, tokens inside: each weight row streams from memory once per batch */
    for (int64_t r = r0; r < r1; r++) {
        const void *row = row_ptr(w, r);
        for (int64_t t0 = 0; t0 < n_tok; t0 += NT) {
            const float *xs[NT];
            float out[NT] = {0}; /* all set for t < nt; zeroed for -O3 gcc's may-be-uninitialized */
            const int nt = n_tok - t0 < NT ? (int)(n_tok - t0) : NT;
            for (int t = 0; t < nt; t++)
                xs[t] = (const float *)((const char *)x + (size_t)(t0 + t) * x_stride);
            switch (nt) { /* constant token counts, so each case unrolls fully */
            case 4: row_dot(row, kind, xs, 4, w->cols, out); break;
            case 3: row_dot(row, kind, xs, 3, w->cols, out); break;
            case 2: row_dot(row, kind, xs, 2, w->cols, out); break;
            default: row_dot(row, kind, xs, 1, w->cols, out); break;
            }
            for (int t = 0; t < nt; t++)
                y[(t0 + t) * y_stride + r] = out[t];
        }
    }
    return CALGAE_KERNEL_OK;
}

int calgae_avx512_matvec_f32(const calgae_weight *w, const void *x, float *y, int64_t r0,
                             int64_t r1)
{
    if (w->type != CALGAE_TYPE_F32)
        return CALGAE_KERNEL_DECLINED;
    return matvec_float(w, ROW_F32, x, y, r0, r1);
}

int calgae_avx512_matmul_f32(const calgae_weight *w, const void *x, size_t xs, int64_t n_tok,
                             float *y, int64_t ys, int64_t r0, int64_t r1)
{
    if (w->type != CALGAE_TYPE_F32)
        return CALGAE_KERNEL_DECLINED;
    return matmul_float(w, ROW_F32, x, xs, n_tok, y, ys, r0, r1);
}

int calgae_avx512_matvec_f16(const calgae_weight *w, const void *x, float *y, int64_t r0,
                             int64_t r1)
{
    if (w->type != CALGAE_TYPE_F16)
        return CALGAE_KERNEL_DECLINED;
    return matvec_float(w, ROW_F16, x, y, r0, r1);
}

int calgae_avx512_matmul_f16(const calgae_weight *w, const void *x, size_t xs, int64_t n_tok,
                             float *y, int64_t ys, int64_t r0, int64_t r1)
{
    if (w->type != CALGAE_TYPE_F16)
        return CALGAE_KERNEL_DECLINED;
    return matmul_float(w, ROW_F16, x, xs, n_tok, y, ys, r0, r1);
}

/* BF16 (ABI 1.4): x stays binary32, not rounded to BF16 as ggml's vec_dot_bf16 rounds it (the
 * slot's contract), so vdpbf16ps, which takes BF16 pairs on both sides, cannot serve it. */
int calgae_avx512_matvec_bf16(const calgae_weight *w, const void *x, float *y, int64_t r0,
                              int64_t r1)
{
    if (w->type != CALGAE_TYPE_BF16)
        return CALGAE_KERNEL_DECLINED;
    return matvec_float(w, ROW_BF16, x, y, r0, r1);
}

int calgae_avx512_matmul_bf16(const calgae_weight *w, const void *x, size_t xs, int64_t n_tok,
                              float *y, int64_t ys, int64_t r0, int64_t r1)
{
    if (w->type != CALGAE_TYPE_BF16)
        return CALGAE_KERNEL_DECLINED;
    return matmul_float(w, ROW_BF16, x, xs, n_tok, y, ys, r0, r1);
}

/* ---- Q8_0 activations ---- */

/* The reference's rounding, lane-wise: t = trunc(v) (exact), then +-1 when the fraction is at
 * least one half away from zero. Truncating to int32 and then to int8 (not saturating) matches
 * the reference's (int) and (int8_t) casts even for NaN. */
AVX512_INLINE __m128i round_half_away_i8(__m512 v)
{
    const __m512 t = _mm512_roundscale_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    const __m512 frac = _mm512_sub_ps(v, t);
    const __m512 one = _mm512_set1_ps(1.0f);
    const __mmask16 up = _mm512_cmp_ps_mask(frac, _mm512_set1_ps(0.5f), _CMP_GE_OQ);
    const __mmask16 down = _mm512_cmp_ps_mask(frac, _mm512_set1_ps(-0.5f), _CMP_LE_OQ);
    const __m512 q = _mm512_mask_sub_ps(_mm512_mask_add_ps(t, up, t, one), down, t, one);
    return _mm512_cvtepi32_epi8(_mm512_cvttps_epi32(q));
}

void calgae_avx512_quantize_q8_0(const float *x, void *out, int64_t n)
{
    calgae_block_q8_0 *y = out;
    for (int64_t b = 0; b < n / CALGAE_QK; b++) {
        const __m512 v0 = _mm512_loadu_ps(x + b * CALGAE_QK);
        const __m512 v1 = _mm512_loadu_ps(x + b * CALGAE_QK + 16);
        /* max(a, m) returns m when a is NaN: NaNs are skipped, as the reference's a > amax does */
        __m512 m = _mm512_max_ps(_mm512_abs_ps(v0), _mm512_setzero_ps());
        m = _mm512_max_ps(_mm512_abs_ps(v1), m);
        const float amax = _mm512_reduce_max_ps(m);
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[b].d = FP32_TO_FP16(d);
        const __m512 vid = _mm512_set1_ps(id);
        _mm_storeu_si128((__m128i *)y[b].qs, round_half_away_i8(_mm512_mul_ps(v0, vid)));
        _mm_storeu_si128((__m128i *)(y[b].qs + 16), round_half_away_i8(_mm512_mul_ps(v1, vid)));
    }
}

/* ---- vector sums ---- */

float calgae_avx512_dot_f32(const float *a, const float *b, int64_t n)
{
    float s;
    const float *xs[1] = {b};
    row_dot(a, 0, xs, 1, n, &s);
    return s;
}

void calgae_avx512_axpy_f32(float *y, float a, const float *x, int64_t n)
{
    /* product rounded, then added: the reference's a * x[i] + y[i], bit for bit */
    const __m512 va = _mm512_set1_ps(a);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, _mm512_add_ps(_mm512_loadu_ps(y + i),
                                              _mm512_mul_ps(va, _mm512_loadu_ps(x + i))));
    if (i < n) {
        const __mmask16 m = tail_mask16(n - i);
        const __m512 s = _mm512_add_ps(_mm512_maskz_loadu_ps(m, y + i),
                                       _mm512_mul_ps(va, _mm512_maskz_loadu_ps(m, x + i)));
        _mm512_mask_storeu_ps(y + i, m, s);
    }
}

void calgae_avx512_rmsnorm(float *out, const float *x, const float *w, int64_t n, float eps)
{
    float ss = calgae_avx512_dot_f32(x, x, n);
    ss /= (float)n;
    ss += eps;
    ss = 1.0f / sqrtf(ss);
    /* w * (ss * x), the reference's order */
    const __m512 vs = _mm512_set1_ps(ss);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(out + i, _mm512_mul_ps(_mm512_loadu_ps(w + i),
                                                _mm512_mul_ps(vs, _mm512_loadu_ps(x + i))));
    if (i < n) {
        const __mmask16 m = tail_mask16(n - i);
        const __m512 r = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, w + i),
                                       _mm512_mul_ps(vs, _mm512_maskz_loadu_ps(m, x + i)));
        _mm512_mask_storeu_ps(out + i, m, r);
    }
}

/* ---- exp ---- */

/* e^x: x = k ln2 + r with |r| <= ln2 / 2 (ln2 split in two so k ln2 is exact enough), a
 * degree-7 polynomial for e^r (Cephes' expf coefficients), then scalef multiplies by 2^k,
 * which also gives 0 and +inf at the ends of the clamped range without exponent tricks. */
AVX512_INLINE __m512 exp512(__m512 x)
{
    /* max/min return their second operand when either is NaN: x goes second, so a NaN
     * survives the clamp and comes out as NaN, as from expf */
    x = _mm512_min_ps(_mm512_set1_ps(89.0f), _mm512_max_ps(_mm512_set1_ps(-104.0f), x));
    const __m512 k = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(k, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(k, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    return _mm512_scalef_ps(p, k);
}

void calgae_avx512_softmax(float *x, int64_t n)
{
    /* max is exact in any order, so the exponents below match the reference's */
    __m512 vmax = _mm512_set1_ps(x[0]);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        vmax = _mm512_max_ps(_mm512_loadu_ps(x + i), vmax);
    float max = _mm512_reduce_max_ps(vmax);
    for (; i < n; i++)
        max = x[i] > max ? x[i] : max;
    const __m512 vm = _mm512_set1_ps(max);
    __m512 vsum = _mm512_setzero_ps();
    for (i = 0; i + 16 <= n; i += 16) {
        const __m512 e = exp512(_mm512_sub_ps(_mm512_loadu_ps(x + i), vm));
        _mm512_storeu_ps(x + i, e);
        vsum = _mm512_add_ps(vsum, e);
    }
    if (i < n) {
        const __mmask16 m = tail_mask16(n - i);
        const __m512 e = exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), vm));
        _mm512_mask_storeu_ps(x + i, m, e);
        vsum = _mm512_add_ps(vsum, _mm512_maskz_mov_ps(m, e));
    }
    /* divide rather than multiply by 1 / sum: the reference's rounding */
    const __m512 vs = _mm512_set1_ps(_mm512_reduce_add_ps(vsum));
    for (i = 0; i + 16 <= n; i += 16)
        _mm512_storeu_ps(x + i, _mm512_div_ps(_mm512_loadu_ps(x + i), vs));
    if (i < n) {
        const __mmask16 m = tail_mask16(n - i);
        _mm512_mask_storeu_ps(x + i, m, _mm512_div_ps(_mm512_maskz_loadu_ps(m, x + i), vs));
    }
}

AVX512_INLINE __m512 swiglu16(__m512 v, __m512 up)
{
    /* v * (1 / (1 + e^-v)) * up, in the reference's order */
    const __m512 one = _mm512_set1_ps(1.0f);
    const __m512 e = exp512(_mm512_sub_ps(_mm512_setzero_ps(), v));
    const __m512 sig = _mm512_div_ps(one, _mm512_add_ps(one, e));
    return _mm512_mul_ps(_mm512_mul_ps(v, sig), up);
}

void calgae_avx512_swiglu(float *gate, const float *up, int64_t n)
{
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(gate + i, swiglu16(_mm512_loadu_ps(gate + i), _mm512_loadu_ps(up + i)));
    if (i < n) {
        const __mmask16 m = tail_mask16(n - i);
        _mm512_mask_storeu_ps(gate + i, m, swiglu16(_mm512_maskz_loadu_ps(m, gate + i),
                                                    _mm512_maskz_loadu_ps(m, up + i)));
    }
}

/* ---- RoPE ---- */

/* 8 adjacent pairs (v0, v1) rotated by (c, s) from cs = (c0, s0, c1, s1, ...):
 * (v0 c - v1 s, v1 c + v0 s), products rounded before the add as in the reference. */
AVX512_INLINE __m512 rotate8(__m512 v, __m512 cs)
{
    const __m512 c = _mm512_moveldup_ps(cs);                      /* c0 c0 c1 c1 ... */
    const __m512 s = _mm512_movehdup_ps(cs);                      /* s0 s0 s1 s1 ... */
    const __m512 swapped = _mm512_permute_ps(v, 0xB1);            /* v1 v0 v3 v2 ... */
    const __m512 a = _mm512_mul_ps(v, c), b = _mm512_mul_ps(swapped, s);
    return _mm512_mask_sub_ps(_mm512_add_ps(a, b), (__mmask16)0x5555, a, b);
}

void calgae_avx512_rope(float *x, int64_t n_heads, int64_t head_size, int64_t n_rot,
                        const float *cs)
{
    const int64_t n = n_rot / 2 * 2; /* floats rotated per head */
    for (int64_t h = 0; h < n_heads; h++) {
        float *v = x + h * head_size;
        int64_t i = 0;
        for (; i + 16 <= n; i += 16)
            _mm512_storeu_ps(v + i, rotate8(_mm512_loadu_ps(v + i), _mm512_loadu_ps(cs + i)));
        if (i < n) {
            const __mmask16 m = tail_mask16(n - i);
            const __m512 r = rotate8(_mm512_maskz_loadu_ps(m, v + i),
                                     _mm512_maskz_loadu_ps(m, cs + i));
            _mm512_mask_storeu_ps(v + i, m, r);
        }
    }
}
