/*
 * ops.c - the avx2 plugin's small vector ops: rmsnorm, softmax, swiglu, rope
 * (calgae_plugin.h). They cost little next to the products, so they follow the scalar plugin
 * operation for operation and differ only where noted:
 *  - rmsnorm: the sum of squares is accumulated in 8 lanes (another order); the rest is the
 *    scalar sequence (divide by n, add eps, 1 / sqrtf, then w * (scale * x) per element).
 *  - softmax, swiglu: exp is simd.h's exp8 instead of libm's expf (within 2 ulps of expf;
 *    NaN, +-Inf, overflow and subnormal results included); the softmax sum is accumulated in
 *    8 lanes. The max, the subtraction, the divisions and
 *    swiglu's v * (1 / (1 + e)) * up are the scalar operations in the scalar order.
 *  - rope: the same products and one add or subtract per output, so bit for bit the scalar
 *    result.
 */
#include <math.h>

#include "kernels.h"
#include "simd.h"

/* The last n (< 8) floats of a vector in a zero-padded buffer of 8, so that a tail goes
 * through the same 8-lane code as the rest. */
AVX2_INLINE void tail_copy_in(float *buf, const float *p, int64_t n)
{
    memcpy(buf, p, (size_t)n * sizeof *p);
    for (int64_t i = n; i < 8; i++)
        buf[i] = 0.0f;
}

void avx2_rmsnorm(float *out, const float *x, const float *w, int64_t n, float eps)
{
    __m256 acc = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_loadu_ps(x + i);
        acc = _mm256_fmadd_ps(v, v, acc);
    }
    if (i < n) {
        const __m256 v = load_tail_ps(x + i, (int)(n - i));
        acc = _mm256_fmadd_ps(v, v, acc);
    }
    float ss = hsum_ps(acc);
    ss /= (float)n;
    ss += eps;
    ss = 1.0f / sqrtf(ss);
    const __m256 vs = _mm256_set1_ps(ss);
    for (i = 0; i + 8 <= n; i += 8)
        _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_loadu_ps(w + i), _mm256_mul_ps(vs, _mm256_loadu_ps(x + i))));
    for (; i < n; i++)
        out[i] = w[i] * (ss * x[i]);
}

void avx2_softmax(float *x, int64_t n)
{
    if (n <= 0)
        return;
    /* max as the scalar loop finds it: lanes start from x[0] and keep their value when the
     * new element is NaN (max_ps returns its second operand then) */
    __m256 vm = _mm256_set1_ps(x[0]);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        vm = _mm256_max_ps(_mm256_loadu_ps(x + i), vm);
    __m128 h = _mm_max_ps(_mm256_extractf128_ps(vm, 1), _mm256_castps256_ps128(vm));
    h = _mm_max_ps(_mm_movehl_ps(h, h), h);
    h = _mm_max_ss(_mm_movehdup_ps(h), h);
    float max = _mm_cvtss_f32(h);
    for (; i < n; i++)
        max = x[i] > max ? x[i] : max;

    const __m256 vmax = _mm256_set1_ps(max);
    __m256 acc = _mm256_setzero_ps();
    for (i = 0; i + 8 <= n; i += 8) {
        const __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), vmax));
        _mm256_storeu_ps(x + i, e);
        acc = _mm256_add_ps(acc, e);
    }
    if (i < n) {
        float buf[8];
        tail_copy_in(buf, x + i, n - i);
        __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(buf), vmax));
        /* padding lanes must not add to the sum */
        e = _mm256_and_ps(e, _mm256_castsi256_ps(_mm256_cmpgt_epi32(
                                 _mm256_set1_epi32((int)(n - i)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))));
        _mm256_storeu_ps(buf, e);
        memcpy(x + i, buf, (size_t)(n - i) * sizeof *x);
        acc = _mm256_add_ps(acc, e);
    }
    const __m256 vsum = _mm256_set1_ps(hsum_ps(acc));
    for (i = 0; i + 8 <= n; i += 8)
        _mm256_storeu_ps(x + i, _mm256_div_ps(_mm256_loadu_ps(x + i), vsum));
    const float sum = _mm256_cvtss_f32(vsum);
    for (; i < n; i++)
        x[i] /= sum;
}

AVX2_INLINE __m256 swiglu8(__m256 v, __m256 up)
{
    const __m256 one = _mm256_set1_ps(1.0f);
    const __m256 neg = _mm256_xor_ps(v, _mm256_set1_ps(-0.0f));
    const __m256 sig = _mm256_div_ps(one, _mm256_add_ps(one, exp8(neg)));
    return _mm256_mul_ps(_mm256_mul_ps(v, sig), up);
}

void avx2_swiglu(float *gate, const float *up, int64_t n)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(gate + i, swiglu8(_mm256_loadu_ps(gate + i), _mm256_loadu_ps(up + i)));
    if (i < n) {
        float g[8], u[8];
        tail_copy_in(g, gate + i, n - i);
        tail_copy_in(u, up + i, n - i);
        _mm256_storeu_ps(g, swiglu8(_mm256_loadu_ps(g), _mm256_loadu_ps(u)));
        memcpy(gate + i, g, (size_t)(n - i) * sizeof *gate);
    }
}

/* (v0, v1) -> (v0 c - v1 s, v0 s + v1 c) for 4 pairs: the products are the scalar ones and
 * addsub does the one subtraction and one addition (a + b == b + a in IEEE arithmetic). */
void avx2_rope(float *x, int64_t n_heads, int64_t head_size, int64_t n_rot, const float *cs)
{
    const int64_t pairs = n_rot / 2, p4 = pairs & ~(int64_t)3;
    for (int64_t h = 0; h < n_heads; h++) {
        float *v = x + h * head_size;
        for (int64_t i = 0; i < p4; i += 4) {
            const __m256 xv = _mm256_loadu_ps(v + 2 * i);
            const __m256 csv = _mm256_loadu_ps(cs + 2 * i);
            const __m256 c = _mm256_moveldup_ps(csv), s = _mm256_movehdup_ps(csv);
            const __m256 swapped = _mm256_permute_ps(xv, 0xb1); /* (v1, v0) in each pair */
            _mm256_storeu_ps(v + 2 * i, _mm256_addsub_ps(_mm256_mul_ps(xv, c), _mm256_mul_ps(swapped, s)));
        }
        for (int64_t i = p4; i < pairs; i++) {
            const float c = cs[2 * i], s = cs[2 * i + 1];
            const float v0 = v[2 * i], v1 = v[2 * i + 1];
            v[2 * i] = v0 * c - v1 * s;
            v[2 * i + 1] = v0 * s + v1 * c;
        }
    }
}
