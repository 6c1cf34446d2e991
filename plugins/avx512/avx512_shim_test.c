/*
 * avx512_shim_test.c - checks each intrinsic of avx512_simde_shim.h (and the SIMDe intrinsics
 * the x16 kernels lean on for exactness: vpdpbusd, vpmaddubsw) against the instruction's
 * documented semantics (Intel's Intrinsics Guide and SDM), on edge values. The expected
 * results are written out by hand here (bit patterns, wrap-arounds, the integer indefinite),
 * not computed by the shim's own code, so the emulated plugin is not checked against our own
 * reading alone. Built with SIMDe like calgae-avx512-simde; run by ctest on every machine.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/x86/avx512.h>

#include "avx512_simde_shim.h"

static int failures;

#define CHECK(cond, ...)                                                                      \
    do {                                                                                      \
        if (!(cond)) {                                                                        \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                                       \
            printf(__VA_ARGS__);                                                              \
            printf("\n");                                                                     \
            failures++;                                                                       \
        }                                                                                     \
    } while (0)

static uint32_t fbits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float bitsf(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static void test_madd_epi16(void)
{
    /* i32[j] = a[2j] * b[2j] + a[2j+1] * b[2j+1]; the one overflow, (-32768)^2 * 2 = 2^31,
     * wraps to INT32_MIN */
    int16_t a[32], b[32];
    for (int j = 0; j < 32; j++) {
        a[j] = (int16_t)(j % 2 ? -32768 : 32767);
        b[j] = (int16_t)(j % 2 ? -32768 : -1);
    }
    a[0] = -32768, b[0] = -32768, a[1] = -32768, b[1] = -32768;
    __m512i va, vb;
    memcpy(&va, a, 64);
    memcpy(&vb, b, 64);
    int32_t r[16];
    __m512i vr = _mm512_madd_epi16(va, vb);
    memcpy(r, &vr, 64);
    CHECK(r[0] == INT32_MIN, "madd wrap: %d", r[0]);
    for (int j = 1; j < 16; j++) /* 32767 * -1 + (-32768)(-32768) = 1073709057 */
        CHECK(r[j] == 1073709057, "madd lane %d: %d", j, r[j]);
}

static void test_cvtepi32_ps(void)
{
    /* rounded to nearest even: 2^24 + 1 -> 2^24, 2^24 + 3 -> 2^24 + 4, INT32_MAX -> 2^31 */
    const int32_t in[16] = {0, 1, -1, 16777217, 16777219, INT32_MAX, INT32_MIN, -16777217,
                            123456789, 7, -7, 33554435, 2, 3, 4, 5};
    const uint32_t want[16] = {0x00000000, 0x3f800000, 0xbf800000, 0x4b800000, 0x4b800002,
                               0x4f000000, 0xcf000000, 0xcb800000, 0x4ceb79a3, 0x40e00000,
                               0xc0e00000, 0x4c000001, 0x40000000, 0x40400000, 0x40800000,
                               0x40a00000};
    __m512i v;
    memcpy(&v, in, 64);
    __m512 r = _mm512_cvtepi32_ps(v);
    float out[16];
    memcpy(out, &r, 64);
    for (int j = 0; j < 16; j++)
        CHECK(fbits(out[j]) == want[j], "cvtepi32_ps(%d) = %08x, want %08x", in[j], fbits(out[j]),
              want[j]);
}

static void test_cvttps_epi32(void)
{
    /* toward zero; NaN, +-Inf and |x| >= 2^31 give the integer indefinite 0x80000000 */
    const float in[16] = {1.9f, -1.9f, 0.5f, -0.5f, 2147483520.0f, -2147483648.0f,
                          2147483648.0f, NAN, INFINITY, -INFINITY, 1e-45f, -0.0f, 127.99f,
                          -128.5f, 3e9f, -3e9f};
    const int32_t want[16] = {1, -1, 0, 0, 2147483520, INT32_MIN, INT32_MIN, INT32_MIN,
                              INT32_MIN, INT32_MIN, 0, 0, 127, -128, INT32_MIN, INT32_MIN};
    __m512 v;
    memcpy(&v, in, 64);
    __m512i r = _mm512_cvttps_epi32(v);
    int32_t out[16];
    memcpy(out, &r, 64);
    for (int j = 0; j < 16; j++)
        CHECK(out[j] == want[j], "cvttps_epi32 lane %d: %d, want %d", j, out[j], want[j]);
}

static void test_narrowing(void)
{
    /* vpmovdb / vpmovdw truncate: no saturation */
    const int32_t in[16] = {0x12345678, -1, 255, 256, -128, -129, 127, 0x7fffffff,
                            INT32_MIN, 0x00ff00ff, 0x0001ffff, 65535, 65536, -32768, -32769, 1};
    __m512i v;
    memcpy(&v, in, 64);
    __m128i b = _mm512_cvtepi32_epi8(v);
    __m256i w = _mm512_cvtepi32_epi16(v);
    uint8_t ob[16];
    uint16_t ow[16];
    memcpy(ob, &b, 16);
    memcpy(ow, &w, 32);
    const uint8_t wb[16] = {0x78, 0xff, 0xff, 0x00, 0x80, 0x7f, 0x7f, 0xff,
                            0x00, 0xff, 0xff, 0xff, 0x00, 0x00, 0xff, 0x01};
    const uint16_t ww[16] = {0x5678, 0xffff, 0x00ff, 0x0100, 0xff80, 0xff7f, 0x007f, 0xffff,
                             0x0000, 0x00ff, 0xffff, 0xffff, 0x0000, 0x8000, 0x7fff, 0x0001};
    for (int j = 0; j < 16; j++) {
        CHECK(ob[j] == wb[j], "cvtepi32_epi8 lane %d: %02x, want %02x", j, ob[j], wb[j]);
        CHECK(ow[j] == ww[j], "cvtepi32_epi16 lane %d: %04x, want %04x", j, ow[j], ww[j]);
    }
}

static void test_cvtph_ps(void)
{
    /* binary16 -> binary32, exact: normals, the extremes, subnormals, zeros, infinities and a
     * quiet NaN's payload */
    const uint16_t in[16] = {0x3c00, 0xc000, 0x7bff, 0x0400, 0x03ff, 0x0001, 0x8001, 0x0000,
                             0x8000, 0x7c00, 0xfc00, 0x7e00, 0x3555, 0x0200, 0x7e01, 0x5640};
    const uint32_t want[16] = {0x3f800000, 0xc0000000, 0x477fe000, 0x38800000, 0x387fc000,
                               0x33800000, 0xb3800000, 0x00000000, 0x80000000, 0x7f800000,
                               0xff800000, 0x7fc00000, 0x3eaaa000, 0x38000000, 0x7fc02000,
                               0x42c80000};
    __m256i v;
    memcpy(&v, in, 32);
    __m512 r = _mm512_cvtph_ps(v);
    float out[16];
    memcpy(out, &r, 64);
    for (int j = 0; j < 16; j++)
        CHECK(fbits(out[j]) == want[j], "cvtph_ps(%04x) = %08x, want %08x", in[j], fbits(out[j]),
              want[j]);
}

static void test_reduce(void)
{
    /* the guide's bisection order: (0+8)+(4+12) ... ; with 2^24 and ones the order shows */
    float in[16];
    for (int j = 0; j < 16; j++)
        in[j] = 1.0f;
    in[0] = 16777216.0f;
    __m512 v;
    memcpy(&v, in, 64);
    /* level 1: lane 0 = 2^24 + 1 -> 2^24 (ties to even), others 2; then 2^24 + 2, + 4, + 8 */
    CHECK(_mm512_reduce_add_ps(v) == 16777230.0f, "reduce_add: %.1f", _mm512_reduce_add_ps(v));
    in[9] = -INFINITY;
    in[3] = 5.0f;
    memcpy(&v, in, 64);
    CHECK(_mm512_reduce_max_ps(v) == 16777216.0f, "reduce_max: %g", _mm512_reduce_max_ps(v));
    for (int j = 0; j < 16; j++)
        in[j] = -(float)j - 1.0f;
    memcpy(&v, in, 64);
    CHECK(_mm512_reduce_max_ps(v) == -1.0f, "reduce_max negatives: %g", _mm512_reduce_max_ps(v));
}

static void test_masked_memory(void)
{
    /* exactly-sized heap blocks: AddressSanitizer reports a lane that touches memory its mask
     * bit does not name */
    float *f = malloc(5 * sizeof *f);
    uint16_t *h = malloc(3 * sizeof *h);
    for (int j = 0; j < 5; j++)
        f[j] = (float)(j + 1);
    for (int j = 0; j < 3; j++)
        h[j] = (uint16_t)(0x3c00 + j);
    __m512 v = _mm512_maskz_loadu_ps((__mmask16)0x1f, f);
    float out[16];
    memcpy(out, &v, 64);
    for (int j = 0; j < 16; j++)
        CHECK(out[j] == (j < 5 ? (float)(j + 1) : 0.0f), "maskz_loadu_ps lane %d: %g", j, out[j]);
    __m512i w = _mm512_maskz_loadu_epi16((__mmask32)0x5, h); /* lanes 0 and 2 */
    uint16_t ow[32];
    memcpy(ow, &w, 64);
    for (int j = 0; j < 32; j++)
        CHECK(ow[j] == (j == 0 ? 0x3c00 : j == 2 ? 0x3c02 : 0), "maskz_loadu_epi16 lane %d", j);
    float dst[5] = {-1, -1, -1, -1, -1};
    float *d = malloc(5 * sizeof *d);
    memcpy(d, dst, sizeof dst);
    _mm512_mask_storeu_ps(d, (__mmask16)0x15, _mm512_set1_ps(9.0f)); /* lanes 0, 2, 4 */
    for (int j = 0; j < 5; j++)
        CHECK(d[j] == (j % 2 == 0 ? 9.0f : -1.0f), "mask_storeu_ps lane %d: %g", j, d[j]);
    free(f);
    free(h);
    free(d);
}

static void test_shuffles(void)
{
    float in[16];
    for (int j = 0; j < 16; j++)
        in[j] = (float)j;
    __m512 v;
    memcpy(&v, in, 64);
    float lo[16], hi[16], pm[16];
    __m512 a = _mm512_moveldup_ps(v), b = _mm512_movehdup_ps(v);
    __m512 c = _mm512_permute_ps(v, 0x1b); /* 0b00011011: each 128-bit lane reversed */
    memcpy(lo, &a, 64);
    memcpy(hi, &b, 64);
    memcpy(pm, &c, 64);
    for (int j = 0; j < 16; j++) {
        CHECK(lo[j] == (float)(j & ~1), "moveldup lane %d: %g", j, lo[j]);
        CHECK(hi[j] == (float)(j | 1), "movehdup lane %d: %g", j, hi[j]);
        CHECK(pm[j] == (float)((j & ~3) + 3 - (j & 3)), "permute_ps lane %d: %g", j, pm[j]);
    }
}

static void test_gather(void)
{
    int32_t *base = malloc(8 * sizeof *base);
    for (int j = 0; j < 8; j++)
        base[j] = 100 + j;
    /* byte offsets (scale 1) in reverse, mask off lanes 8..15 whose offsets lie far outside */
    int32_t idx[16];
    for (int j = 0; j < 16; j++)
        idx[j] = j < 8 ? 4 * (7 - j) : 1 << 20;
    __m512i vi;
    memcpy(&vi, idx, 64);
    __m512i r = _mm512_mask_i32gather_epi32(_mm512_set1_epi32(-5), (__mmask16)0x00ff, vi, base, 1);
    int32_t out[16];
    memcpy(out, &r, 64);
    for (int j = 0; j < 16; j++)
        CHECK(out[j] == (j < 8 ? 107 - j : -5), "mask_i32gather lane %d: %d", j, out[j]);
    /* scale 4 with element indices */
    for (int j = 0; j < 16; j++)
        idx[j] = j % 8;
    memcpy(&vi, idx, 64);
    r = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), (__mmask16)0xffff, vi, base, 4);
    memcpy(out, &r, 64);
    for (int j = 0; j < 16; j++)
        CHECK(out[j] == 100 + j % 8, "gather scale 4 lane %d: %d", j, out[j]);
    free(base);
}

static void test_roundscale(void)
{
    /* 2^22 + 1/2 is a tie at the last representable half */
    const float in[8] = {2.5f, -2.5f, 1.75f, -1.75f, 0.49999997f, -0.0f, 4194304.5f, 3.5f};
    const float nearest[8] = {2.0f, -2.0f, 2.0f, -2.0f, 0.0f, -0.0f, 4194304.0f, 4.0f};
    const float down[8] = {2.0f, -3.0f, 1.0f, -2.0f, 0.0f, -0.0f, 4194304.0f, 3.0f};
    const float up[8] = {3.0f, -2.0f, 2.0f, -1.0f, 1.0f, -0.0f, 4194305.0f, 4.0f};
    const float trunc_[8] = {2.0f, -2.0f, 1.0f, -1.0f, 0.0f, -0.0f, 4194304.0f, 3.0f};
    float src[16];
    for (int j = 0; j < 16; j++)
        src[j] = in[j % 8];
    src[8] = NAN, src[9] = INFINITY;
    __m512 v;
    memcpy(&v, src, 64);
    float o[4][16];
    __m512 r0 = _mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r1 = _mm512_roundscale_ps(v, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    __m512 r2 = _mm512_roundscale_ps(v, _MM_FROUND_TO_POS_INF | _MM_FROUND_NO_EXC);
    __m512 r3 = _mm512_roundscale_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    memcpy(o[0], &r0, 64);
    memcpy(o[1], &r1, 64);
    memcpy(o[2], &r2, 64);
    memcpy(o[3], &r3, 64);
    const float *want[4] = {nearest, down, up, trunc_};
    for (int m = 0; m < 4; m++)
        for (int j = 0; j < 8; j++)
            CHECK(fbits(o[m][j]) == fbits(want[m][j]), "roundscale mode %d of %g: %g, want %g", m,
                  in[j], o[m][j], want[m][j]);
    for (int m = 0; m < 4; m++) {
        CHECK(isnan(o[m][8]), "roundscale mode %d of NaN: %g", m, o[m][8]);
        CHECK(o[m][9] == INFINITY, "roundscale mode %d of Inf: %g", m, o[m][9]);
    }
    /* M = 1 (imm 0x10): multiples of 1/2, 1.75 -> 1.5 toward zero */
    __m512 h = _mm512_roundscale_ps(_mm512_set1_ps(1.75f), 0x10 | _MM_FROUND_TO_ZERO);
    float oh[16];
    memcpy(oh, &h, 64);
    CHECK(oh[0] == 1.5f, "roundscale M=1: %g", oh[0]);
    (void)bitsf;
}

static void test_int8_products(void)
{
    /* vpdpbusd: unsigned x signed bytes, 4 per lane, added to the int32 lane with no
     * saturation (255 * -128 * 4 = -130560). vpmaddubsw: adjacent pairs, saturated to int16
     * (255 * 127 * 2 = 64770 -> 32767). */
    __m512i u = _mm512_set1_epi8((char)255), s = _mm512_set1_epi8(-128), p = _mm512_set1_epi8(127);
    int32_t d[16];
    __m512i r = _mm512_dpbusd_epi32(_mm512_set1_epi32(7), u, s);
    memcpy(d, &r, 64);
    for (int j = 0; j < 16; j++)
        CHECK(d[j] == 7 - 130560, "dpbusd lane %d: %d", j, d[j]);
    int16_t m[32];
    __m512i q = _mm512_maddubs_epi16(u, p);
    memcpy(m, &q, 64);
    for (int j = 0; j < 32; j++)
        CHECK(m[j] == 32767, "maddubs saturation lane %d: %d", j, m[j]);
    q = _mm512_maddubs_epi16(_mm512_set1_epi8(15), s); /* 15 * -128 * 2 = -3840, exact */
    memcpy(m, &q, 64);
    for (int j = 0; j < 32; j++)
        CHECK(m[j] == -3840, "maddubs lane %d: %d", j, m[j]);
}

int main(void)
{
    test_madd_epi16();
    test_cvtepi32_ps();
    test_cvttps_epi32();
    test_narrowing();
    test_cvtph_ps();
    test_reduce();
    test_masked_memory();
    test_shuffles();
    test_gather();
    test_roundscale();
    test_int8_products();
    if (failures) {
        printf("%d checks failed\n", failures);
        return 1;
    }
    printf("all shim checks passed\n");
    return 0;
}
