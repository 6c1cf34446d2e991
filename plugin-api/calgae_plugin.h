/*
 * calgae_plugin.h - the contract between the Calgae host and its kernel plugins.
 *
 * A kernel plugin is a shared object that exports one symbol, calgae_plugin_entry
 * (see CALGAE_PLUGIN_ENTRY_SYMBOL below). The host calls it with its own ABI version and
 * receives a pointer to a constant function table, struct calgae_plugin, or a reason for
 * refusal. Nothing else runs before that handshake, and the handshake has no side effects.
 *
 * The table follows the rule of SQLite's sqlite3ext.h: it only ever grows by appending.
 * Its first field is its size as the plugin was compiled, so a host built against a newer
 * header never reads past the end of an older plugin's table: a slot beyond struct_size, or a
 * NULL slot, is "not provided" and the host takes it from the next plugin in its preference
 * order (in the end from the portable "scalar" plugin, which provides every slot). Any change
 * in the meaning of an existing field is a new ABI major version, and the host refuses plugins
 * of another major.
 *
 * Weights reach the kernels in ggml's block layouts, bit for bit (the layouts of GGUF files
 * written by llama.cpp): the block structs below are pinned by static assertions. A plugin that
 * wants its own layout (rows interleaved for its SIMD width, a device upload) provides
 * prepare_weight; its products then read calgae_weight.prepared instead of .data.
 *
 * Threading: the host owns a thread pool and splits every product into row ranges
 * [row_begin, row_end). Kernels are single-threaded, must be re-entrant (several threads call
 * the same slot at once on disjoint row ranges), and must compute each output row the same
 * way whatever range it falls in, so that results do not depend on the thread count.
 *
 * This header is self-contained (C11 or later, or C++11): a plugin builds against it alone.
 */
#ifndef CALGAE_PLUGIN_H
#define CALGAE_PLUGIN_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Versions ------------------------------------------------------------------------- */

/* ABI major: bumped when the meaning of any existing field changes. Host and plugin must agree. */
#define CALGAE_ABI_MAJOR 1
/* ABI minor: bumped when slots are appended to struct calgae_plugin. Either side may be older. */
#define CALGAE_ABI_MINOR 4

/* Name of the one symbol a plugin exports; its type is calgae_plugin_entry_fn. */
#define CALGAE_PLUGIN_ENTRY_SYMBOL "calgae_plugin_entry"

/* ---- Tensor types: the numeric values are ggml's (GGUF's ggml_type) -------------------- */

enum calgae_type {
    CALGAE_TYPE_F32 = 0,
    CALGAE_TYPE_F16 = 1,
    CALGAE_TYPE_Q4_0 = 2,
    CALGAE_TYPE_Q4_1 = 3,
    CALGAE_TYPE_Q5_0 = 6,
    CALGAE_TYPE_Q5_1 = 7,
    CALGAE_TYPE_Q8_0 = 8,
    CALGAE_TYPE_Q2_K = 10,
    CALGAE_TYPE_Q3_K = 11,
    CALGAE_TYPE_Q4_K = 12,
    CALGAE_TYPE_Q5_K = 13,
    CALGAE_TYPE_Q6_K = 14,
    CALGAE_TYPE_Q8_K = 15,
    CALGAE_TYPE_IQ4_NL = 20,
    CALGAE_TYPE_IQ4_XS = 23,
    CALGAE_TYPE_BF16 = 30,
};

/* Elements per quantization block (ggml's QK4_0, QK4_1, QK8_0). */
#define CALGAE_QK 32

/* The longest row (a weight's cols) the host ever gives a kernel; its loader refuses models
 * with longer ones. Stored weight codes lie in [-128, 127] and activation codes in
 * [-127, 127], so a kernel may sum a whole row's code products in one int32:
 * 131072 * 128 * 127 < 2^31 (proved in proofs/maddubs_model.h). */
#define CALGAE_MAX_COLS 131072

/* IEEE 754 binary16, stored as its bit pattern (ggml_fp16_t). */
typedef uint16_t calgae_fp16;

/* Q8_0: x[i] = d * qs[i]. 34 bytes per 32 values. */
typedef struct {
    calgae_fp16 d;
    int8_t qs[CALGAE_QK];
} calgae_block_q8_0;

/* Q4_0: x[j] = d * ((qs[j] & 15) - 8), x[j + 16] = d * ((qs[j] >> 4) - 8). 18 bytes. */
typedef struct {
    calgae_fp16 d;
    uint8_t qs[CALGAE_QK / 2];
} calgae_block_q4_0;

/* Q4_1: x[j] = d * (qs[j] & 15) + m, x[j + 16] = d * (qs[j] >> 4) + m. 20 bytes. */
typedef struct {
    calgae_fp16 d;
    calgae_fp16 m;
    uint8_t qs[CALGAE_QK / 2];
} calgae_block_q4_1;

#if defined(__cplusplus)
static_assert(sizeof(calgae_block_q8_0) == 34, "block_q8_0 must match ggml");
static_assert(sizeof(calgae_block_q4_0) == 18, "block_q4_0 must match ggml");
static_assert(sizeof(calgae_block_q4_1) == 20, "block_q4_1 must match ggml");
#else
_Static_assert(sizeof(calgae_block_q8_0) == 34, "block_q8_0 must match ggml");
_Static_assert(sizeof(calgae_block_q4_0) == 18, "block_q4_0 must match ggml");
_Static_assert(sizeof(calgae_block_q4_1) == 20, "block_q4_1 must match ggml");
#endif

/* ---- ggml's 5-bit, K-quant and IQ4 blocks ------------------------------------------------
 * Field order and sizes are ggml's (ggml-common.h); the assertions below pin the byte counts.
 * The formulas are written out in quant/kblocks.c, which dequantizes each of them. */

/* Values per K-quant super-block (ggml's QK_K) and bytes of its packed 6-bit scales. */
#define CALGAE_QK_K 256
#define CALGAE_K_SCALE_SIZE 12

/* Q5_0: x[j] = d * (q - 16), q = low nibble of qs | bit j of qh << 4 (bit j + 16 for the
 * second half). 22 bytes per 32 values. */
typedef struct {
    calgae_fp16 d;
    uint8_t qh[4];
    uint8_t qs[CALGAE_QK / 2];
} calgae_block_q5_0;

/* Q5_1: x[j] = d * q + m with q as in Q5_0. 24 bytes. */
typedef struct {
    calgae_fp16 d;
    calgae_fp16 m;
    uint8_t qh[4];
    uint8_t qs[CALGAE_QK / 2];
} calgae_block_q5_1;

/* Q2_K: 16 groups of 16; a scale byte per group (low nibble scale, high nibble min, both times
 * d / dmin); 2-bit codes. 84 bytes per 256 values. */
typedef struct {
    uint8_t scales[CALGAE_QK_K / 16];
    uint8_t qs[CALGAE_QK_K / 4];
    calgae_fp16 d;
    calgae_fp16 dmin;
} calgae_block_q2_k;

/* Q3_K: 16 groups of 16 with 6-bit signed scales (packed in 12 bytes); 2 low bits in qs, the
 * third bit in hmask (a clear bit subtracts 4). 110 bytes. */
typedef struct {
    uint8_t hmask[CALGAE_QK_K / 8];
    uint8_t qs[CALGAE_QK_K / 4];
    uint8_t scales[12];
    calgae_fp16 d;
} calgae_block_q3_k;

/* Q4_K: 8 groups of 32 with 6-bit scales and mins (packed in 12 bytes); 4-bit codes.
 * x = d * sc * q - dmin * m. 144 bytes. */
typedef struct {
    calgae_fp16 d;
    calgae_fp16 dmin;
    uint8_t scales[CALGAE_K_SCALE_SIZE];
    uint8_t qs[CALGAE_QK_K / 2];
} calgae_block_q4_k;

/* Q5_K: Q4_K with a fifth bit per value in qh. 176 bytes. */
typedef struct {
    calgae_fp16 d;
    calgae_fp16 dmin;
    uint8_t scales[CALGAE_K_SCALE_SIZE];
    uint8_t qh[CALGAE_QK_K / 8];
    uint8_t qs[CALGAE_QK_K / 2];
} calgae_block_q5_k;

/* Q6_K: 16 groups of 16 with int8 scales; 4 low bits in ql, 2 high bits in qh; x = d * sc *
 * (q - 32). 210 bytes. */
typedef struct {
    uint8_t ql[CALGAE_QK_K / 2];
    uint8_t qh[CALGAE_QK_K / 4];
    int8_t scales[CALGAE_QK_K / 16];
    calgae_fp16 d;
} calgae_block_q6_k;

/* Q8_K: the activations the K-quant products take: a float scale, int8 codes and the sums of
 * each group of 16 codes. 292 bytes. */
typedef struct {
    float d;
    int8_t qs[CALGAE_QK_K];
    int16_t bsums[CALGAE_QK_K / 16];
} calgae_block_q8_k;

/* IQ4_NL: 4-bit indices into a fixed non-linear table of 16 levels (kvalues_iq4nl), times d.
 * 18 bytes per 32 values. */
typedef struct {
    calgae_fp16 d;
    uint8_t qs[CALGAE_QK / 2];
} calgae_block_iq4_nl;

/* IQ4_XS: IQ4_NL's levels in 8 groups of 32 per super-block with 6-bit scales (low 4 bits in
 * scales_l, high 2 in scales_h), biased by 32. 136 bytes. */
typedef struct {
    calgae_fp16 d;
    uint16_t scales_h;
    uint8_t scales_l[CALGAE_QK_K / 64];
    uint8_t qs[CALGAE_QK_K / 2];
} calgae_block_iq4_xs;

/* BF16: the upper half of a binary32, stored as its bit pattern (ggml_bf16_t). */
typedef uint16_t calgae_bf16;

#if defined(__cplusplus)
#define CALGAE_KQ_ASSERT static_assert
#else
#define CALGAE_KQ_ASSERT _Static_assert
#endif
CALGAE_KQ_ASSERT(sizeof(calgae_block_q5_0) == 22, "block_q5_0 must match ggml");
CALGAE_KQ_ASSERT(sizeof(calgae_block_q5_1) == 24, "block_q5_1 must match ggml");
CALGAE_KQ_ASSERT(sizeof(calgae_block_q2_k) == 84, "block_q2_K must match ggml");
CALGAE_KQ_ASSERT(sizeof(calgae_block_q3_k) == 110, "block_q3_K must match ggml");
CALGAE_KQ_ASSERT(sizeof(calgae_block_q4_k) == 144, "block_q4_K must match ggml");
CALGAE_KQ_ASSERT(sizeof(calgae_block_q5_k) == 176, "block_q5_K must match ggml");
CALGAE_KQ_ASSERT(sizeof(calgae_block_q6_k) == 210, "block_q6_K must match ggml");
CALGAE_KQ_ASSERT(sizeof(calgae_block_q8_k) == 292, "block_q8_K must match ggml");
CALGAE_KQ_ASSERT(sizeof(calgae_block_iq4_nl) == 18, "block_iq4_nl must match ggml");
CALGAE_KQ_ASSERT(sizeof(calgae_block_iq4_xs) == 136, "block_iq4_xs must match ggml");
#undef CALGAE_KQ_ASSERT

/* binary16 -> binary32, exact for every input (subnormals, Inf and NaN included). Provided
 * here so that every plugin decodes block scales the same way without a dependency. */
static inline float calgae_fp16_to_fp32(calgae_fp16 h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t man = h & 0x3ffu;
    uint32_t bits;
    if (exp == 0x1fu) {
        bits = sign | 0x7f800000u | (man << 13); /* Inf or NaN, payload kept */
    } else if (exp != 0) {
        bits = sign | ((exp + 112u) << 23) | (man << 13); /* normal: rebias 15 -> 127 */
    } else if (man == 0) {
        bits = sign; /* signed zero */
    } else {
        /* subnormal: shift the mantissa up until its leading one is the implicit bit */
        uint32_t e = 113u;
        while ((man & 0x400u) == 0) {
            man <<= 1;
            e--;
        }
        bits = sign | (e << 23) | ((man & 0x3ffu) << 13);
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* binary32 -> binary16, round to nearest even; overflow gives Inf, NaN stays a (quiet) NaN. */
static inline calgae_fp16 calgae_fp32_to_fp16(float f)
{
    uint32_t b;
    memcpy(&b, &f, sizeof b);
    uint16_t sign = (uint16_t)((b >> 16) & 0x8000u);
    uint32_t a = b & 0x7fffffffu;
    if (a >= 0x7f800000u)
        return (calgae_fp16)(sign | (a > 0x7f800000u ? 0x7e00u : 0x7c00u));
    if (a >= 0x477ff000u) /* >= 65520 rounds to Inf */
        return (calgae_fp16)(sign | 0x7c00u);
    if (a < 0x38800000u) {
        /* below 2^-14: a binary16 subnormal, counted in units of 2^-24 (an exact scaling);
         * adding and removing 2^23 rounds that count to nearest even without libm */
        float v = 0.0f;
        memcpy(&v, &a, sizeof v);
        v = (v * 0x1p24f + 0x1p23f) - 0x1p23f;
        return (calgae_fp16)(sign | (uint16_t)v);
    }
    /* normal: round the mantissa from 23 to 10 bits, ties to even, then rebias 127 -> 15 */
    uint32_t r = a + 0xfffu + ((a >> 13) & 1u);
    return (calgae_fp16)(sign | (uint16_t)((r >> 13) - (112u << 10)));
}

/* The activation form of the block-type products: n floats (n a multiple of 32) into n / 32
 * Q8_0 blocks with ggml's reference rounding (quantize_row_q8_0_ref): d = max|x| / 127,
 * q = x * (1 / d) rounded half away from zero. Plugins may use it in their quantize_q8_0 slot.
 * Where x * (1 / d) is not finite (x NaN; a block holding an infinity; a block whose largest
 * magnitude is below about 2^-121, so that 1 / d overflows) ggml's code converts NaN or Inf to
 * int, which C leaves undefined: those codes are 0 here, as in the avx2 plugin. The clamp to
 * [-127, 127] never changes a finite block's codes (|x * (1 / d)| stays within a few ulps of
 * 127); it makes the range hold by construction, which proofs/ checks. calgae_q8_code is the
 * rounding of one v = x * (1 / d). The loop annotations are for proofs/ (Frama-C); compilers
 * read them as comments. */
static inline int calgae_q8_code(float v)
{
    /* roundf by hand (no libm): |v| < 128, so v - trunc(v) is exact */
    int q = 0;
    if (v > -128.0f && v < 128.0f) {
        q = (int)v;
        const float frac = v - (float)q;
        q += (frac >= 0.5f) - (frac <= -0.5f);
    }
    return q < -127 ? -127 : q > 127 ? 127 : q;
}

static inline void calgae_quantize_q8_0_ref(const float *x, calgae_block_q8_0 *y, int64_t n)
{
    /*@ loop invariant 0 <= b <= n / CALGAE_QK;
        loop invariant \forall integer i, k; 0 <= i < b && 0 <= k < CALGAE_QK ==>
                         -127 <= y[i].qs[k] <= 127;
        loop assigns b, y[0 .. n / CALGAE_QK - 1]; */
    for (int64_t b = 0; b < n / CALGAE_QK; b++) {
        const float *xb = x + b * CALGAE_QK;
        float amax = 0.0f;
        /*@ loop invariant 0 <= j <= CALGAE_QK;
            loop assigns j, amax; */
        for (int j = 0; j < CALGAE_QK; j++) {
            float a = xb[j] < 0.0f ? -xb[j] : xb[j];
            amax = a > amax ? a : amax;
        }
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[b].d = calgae_fp32_to_fp16(d);
        /*@ loop invariant 0 <= j <= CALGAE_QK;
            loop invariant \forall integer k; 0 <= k < j ==> -127 <= y[b].qs[k] <= 127;
            loop assigns j, y[b].qs[0 .. CALGAE_QK - 1]; */
        for (int j = 0; j < CALGAE_QK; j++)
            y[b].qs[j] = (int8_t)calgae_q8_code(xb[j] * id);
    }
}

/* Q4_K's eight 6-bit scales and mins, packed in 12 bytes (ggml's get_scale_min_k4): group j
 * (0..7) of 32 values has scale *sc and minimum *m. Shared so that every plugin unpacks them the
 * same way. */
static inline void calgae_q4_k_scale_min(int j, const uint8_t s[CALGAE_K_SCALE_SIZE], uint8_t *sc,
                                         uint8_t *m)
{
    if (j < 4) {
        *sc = s[j] & 63;
        *m = s[j + 4] & 63;
    } else {
        *sc = (uint8_t)((s[j + 4] & 0x0f) | (s[j - 4] >> 6) << 4);
        *m = (uint8_t)((s[j + 4] >> 4) | (s[j] >> 6) << 4);
    }
}

/* The activation form of the K-quant products (ABI 1.3): n floats (n a multiple of 256) into
 * n / 256 Q8_K blocks with ggml's reference rounding (quantize_row_q8_K_ref): with max the
 * value of largest magnitude, iscale = -127 / max, q = round-to-nearest-even(iscale * x),
 * d = 1 / iscale, bsums[g] = the sum of codes 16g .. 16g + 15. A block of zeros, or one holding
 * a NaN or an infinity (where ggml converts NaN to int, undefined in C), gets d = 0 and codes 0.
 * Codes lie in [-127, 127]. */
static inline int calgae_q8_k_code(float v)
{
    /* ggml's nearest_int: adding 1.5 * 2^23 rounds to an integer, ties to even (|v| <= 127) */
    const float shifted = v + 12582912.0f;
    int32_t bits;
    memcpy(&bits, &shifted, sizeof bits);
    const int q = (bits & 0x007fffff) - 0x00400000;
    return q > 127 ? 127 : q < -127 ? -127 : q;
}

static inline void calgae_quantize_q8_k_ref(const float *x, calgae_block_q8_k *y, int64_t n)
{
    for (int64_t b = 0; b < n / CALGAE_QK_K; b++) {
        const float *xb = x + b * CALGAE_QK_K;
        float amax = 0.0f, max = 0.0f;
        int finite = 1;
        for (int j = 0; j < CALGAE_QK_K; j++) {
            const float a = xb[j] < 0.0f ? -xb[j] : xb[j];
            finite &= a <= 3.40282347e38f; /* false for NaN and infinities */
            if (a > amax) {
                amax = a;
                max = xb[j];
            }
        }
        memset(&y[b], 0, sizeof y[b]);
        if (!finite || !(amax > 0.0f))
            continue;
        const float iscale = -127.0f / max;
        for (int j = 0; j < CALGAE_QK_K; j++)
            y[b].qs[j] = (int8_t)calgae_q8_k_code(iscale * xb[j]);
        for (int g = 0; g < CALGAE_QK_K / 16; g++) {
            int sum = 0;
            for (int k = 0; k < 16; k++)
                sum += y[b].qs[16 * g + k];
            y[b].bsums[g] = (int16_t)sum;
        }
        y[b].d = 1.0f / iscale;
    }
}

/* ---- Weights -------------------------------------------------------------------------- */

/*
 * A weight matrix W of `rows` x `cols`, as a linear layer y = W x uses it: `rows` outputs,
 * `cols` inputs (GGUF's ne[1] and ne[0]). Row r starts at (const char *)data + r * row_bytes.
 * For the block types, cols is a multiple of CALGAE_QK and a row is cols / 32 blocks.
 * The host owns the struct and data (usually a read-only memory map of the model file).
 */
typedef struct calgae_weight {
    uint32_t type;      /* enum calgae_type of data */
    uint32_t reserved;  /* zero */
    int64_t rows;       /* output dimension */
    int64_t cols;       /* input dimension */
    size_t row_bytes;   /* bytes per row of data */
    const void *data;   /* rows in ggml's layout, as stored in the file; read-only */
    void *prepared;     /* NULL, or what the serving plugin's prepare_weight returned */
    const void *owner;  /* the struct calgae_plugin whose prepare_weight filled prepared */
} calgae_weight;

/* ---- Plugin flags (calgae_plugin.flags, ABI 1.2) ---------------------------------------- */

/* prepare_weight may run on several threads at once, for different weights (as the kernels
 * may): the host then prepares a model's weights in parallel, which divides load time. */
#define CALGAE_PLUGIN_CONCURRENT_PREPARE ((uint64_t)1 << 0)

/* ---- Kernel signatures ---------------------------------------------------------------- */

/* Return values of the products. */
#define CALGAE_KERNEL_OK 0
#define CALGAE_KERNEL_DECLINED 1 /* this shape/type is not handled here: the host falls back */

/*
 * Activations: for F32 and F16 weights, `x` is `const float *` (cols floats per token).
 * For the block types (Q8_0, Q4_0, Q4_1), `x` is the activation already quantized by the
 * quantize_q8_0 slot: cols / 32 calgae_block_q8_0 per token, as ggml's vec_dot kernels take it.
 * For the K-quant types (Q4_K, Q6_K; ABI 1.3; Q5_K, Q3_K, Q2_K, IQ4_XS; ABI 1.4), `x` is
 * cols / 256 calgae_block_q8_k per token, made by the quantize_q8_k slot. Q5_0, Q5_1 and IQ4_NL
 * (ABI 1.4) take Q8_0 blocks as Q4_0 does; BF16 (ABI 1.4) takes floats as F32 does.
 * The host quantizes once per product, never per row range.
 *
 * matvec: y[r] = dot(W[r], x) for r in [row_begin, row_end).
 */
typedef int (*calgae_matvec_fn)(const calgae_weight *w, const void *x, float *y,
                                int64_t row_begin, int64_t row_end);

/*
 * matmul: a batch of n_tok activations (token t's activation starts at x + t * x_stride bytes)
 * against W: y[t * y_stride + r] = dot(W[r], x_t) for every t < n_tok and r in
 * [row_begin, row_end). Used for prompt processing, so each weight row is read once per batch.
 */
typedef int (*calgae_matmul_fn)(const calgae_weight *w, const void *x, size_t x_stride,
                                int64_t n_tok, float *y, int64_t y_stride,
                                int64_t row_begin, int64_t row_end);

/* ---- The function table --------------------------------------------------------------- */

typedef struct calgae_plugin {
    /* -- ABI 1.0 -- */

    /* sizeof(struct calgae_plugin) as the plugin was compiled. The host reads no field that
     * ends beyond it, so tables only grow by appending. */
    uint32_t struct_size;
    /* CALGAE_ABI_MAJOR and CALGAE_ABI_MINOR of the header the plugin was compiled with. */
    uint16_t abi_major;
    uint16_t abi_minor;
    /* Short unique name, [a-z0-9_-]+, used by --backend and in logs ("scalar", "avx2"). */
    const char *name;
    /* The plugin's own version string ("1.0.0"). */
    const char *version;
    /* One line for `calgae backends`. */
    const char *description;
    /* Instruction sets the plugin was compiled for, comma-separated ("avx2,fma,f16c"; "" for
     * portable C). Informational: probe is what decides. */
    const char *isa;
    /* Higher wins when the host picks automatically. scalar is 0; SIMD plugins use 100 and up. */
    int32_t priority;
    uint32_t reserved0; /* zero */

    /* Can this CPU and OS run the plugin? Returns 1 if so; else 0 with a one-line reason in
     * why (NUL-terminated, truncated to why_len). Must itself run on any CPU of the plugin's
     * architecture: compile it without the ISA flags the kernels need. NULL means "always". */
    int (*probe)(char *why, size_t why_len);

    /* Optional: convert w into the plugin's own layout at model load time. On success return 0
     * and set w->prepared (the host then sets w->owner to this table); on failure return
     * non-zero with a reason: w->prepared stays NULL and every product, this plugin's included,
     * reads the stored layout in w->data (which is always valid). A product must use prepared
     * only when w->owner is its own table. release_weight frees what prepare_weight made; both
     * NULL or both set. */
    int (*prepare_weight)(calgae_weight *w, char *why, size_t why_len);
    void (*release_weight)(calgae_weight *w);

    /* Quantize n floats (n a multiple of 32) into n / 32 calgae_block_q8_0, with ggml's
     * reference rounding (d = max|x| / 127, q = round-half-away(x / d)). Feeds the block-type
     * products below. */
    void (*quantize_q8_0)(const float *x, void *out, int64_t n);

    /* Matrix x vector, one slot per weight type. */
    calgae_matvec_fn matvec_f32;
    calgae_matvec_fn matvec_f16;
    calgae_matvec_fn matvec_q8_0;
    calgae_matvec_fn matvec_q4_0;

    /* Matrix x matrix (a batch of tokens), one slot per weight type. */
    calgae_matmul_fn matmul_f32;
    calgae_matmul_fn matmul_f16;
    calgae_matmul_fn matmul_q8_0;
    calgae_matmul_fn matmul_q4_0;

    /* out[i] = w[i] * x[i] / sqrt(mean(x^2) + eps), for i < n. out may equal x. */
    void (*rmsnorm)(float *out, const float *x, const float *w, int64_t n, float eps);
    /* In place: x[i] = exp(x[i] - max) / sum, for i < n. */
    void (*softmax)(float *x, int64_t n);
    /* In place: gate[i] = silu(gate[i]) * up[i], silu(v) = v / (1 + exp(-v)). */
    void (*swiglu)(float *gate, const float *up, int64_t n);
    /* Rotary embedding, adjacent-pair form (llama.cpp's rope mode 0, llama2.c): for each of
     * n_heads heads of head_size floats in x, and each pair i < n_rot / 2,
     * (x[2i], x[2i+1]) is rotated by the angle whose cosine and sine are cs[2i], cs[2i+1]. */
    void (*rope)(float *x, int64_t n_heads, int64_t head_size, int64_t n_rot, const float *cs);
    /* Sum of a[i] * b[i] for i < n (attention scores). */
    float (*dot_f32)(const float *a, const float *b, int64_t n);
    /* y[i] += a * x[i] for i < n (attention's weighted sum of values). */
    void (*axpy_f32)(float *y, float a, const float *x, int64_t n);

    /* -- ABI 1.1 -- */

    /* Q4_1 weights (AWQ's zero-point form: d and min per 32) against Q8_0 activations:
     * sum_j (d_w q_j + m_w) d_x x_j = d_w d_x sum(q_j x_j) + m_w d_x sum(x_j). */
    calgae_matvec_fn matvec_q4_1;
    calgae_matmul_fn matmul_q4_1;

    /* -- ABI 1.2 -- */

    /* CALGAE_PLUGIN_* bits below; 0 promises nothing. A host reads it only when struct_size
     * covers it, so an older plugin reads as 0. */
    uint64_t flags;

    /* -- ABI 1.3 -- */

    /* Quantize n floats (n a multiple of 256) into n / 256 calgae_block_q8_k with ggml's
     * reference rounding (calgae_quantize_q8_k_ref above, which a plugin may use here). Feeds
     * the K-quant products below, as quantize_q8_0 feeds the 32-value block products. */
    void (*quantize_q8_k)(const float *x, void *out, int64_t n);
    /* Q4_K weights (cols a multiple of 256; a row is cols / 256 calgae_block_q4_k) against
     * Q8_K activations (x: cols / 256 calgae_block_q8_k per token), ggml's vec_dot_q4_K_q8_K:
     * per super-block, d_x * d_w * sum_g sc_g * sum_j q_j x_j - d_x * dmin_w * sum_g m_g *
     * (bsums[2g] + bsums[2g + 1]), g over the 8 groups of 32. */
    calgae_matvec_fn matvec_q4_k;
    calgae_matmul_fn matmul_q4_k;
    /* Q6_K weights against Q8_K activations, ggml's vec_dot_q6_K_q8_K: per super-block,
     * d_x * d_w * sum_g sc_g * sum_j (q_j - 32) x_j, g over the 16 groups of 16. */
    calgae_matvec_fn matvec_q6_k;
    calgae_matmul_fn matmul_q6_k;

    /* -- ABI 1.4 -- */

    /* The remaining K and IQ4_XS types against Q8_K activations (x: cols / 256
     * calgae_block_q8_k per token, from quantize_q8_k), cols a multiple of 256, a row cols / 256
     * of the type's blocks; ggml's vec_dot_<type>_q8_K, per super-block with d_x = x.d:
     * Q5_K: d_x * d_w * sum_g sc_g * sum_j q_j x_j - d_x * dmin_w * sum_g m_g * (bsums[2g] +
     *       bsums[2g + 1]), g over the 8 groups of 32, q_j in [0, 31] (qs nibble | qh bit << 4). */
    calgae_matvec_fn matvec_q5_k;
    calgae_matmul_fn matmul_q5_k;
    /* Q3_K: d_x * d_w * sum_g (sc_g - 32) * sum_j q_j x_j, g over the 16 groups of 16, q_j the
     *       2-bit code less 4 where its hmask bit is clear (q_j in [-4, 3]). */
    calgae_matvec_fn matvec_q3_k;
    calgae_matmul_fn matmul_q3_k;
    /* Q2_K: d_x * d_w * sum_g (scales[g] & 15) * sum_j q_j x_j - d_x * dmin_w * sum_g
     *       (scales[g] >> 4) * bsums[g], g over the 16 groups of 16, q_j in [0, 3]. */
    calgae_matvec_fn matvec_q2_k;
    calgae_matmul_fn matmul_q2_k;
    /* IQ4_XS: d_x * d_w * sum_g (ls_g - 32) * sum_j L[q_j] x_j, g over the 8 groups of 32,
     *       L ggml's kvalues_iq4nl (-127 .. 113). */
    calgae_matvec_fn matvec_iq4_xs;
    calgae_matmul_fn matmul_iq4_xs;
    /* The 32-value types against Q8_0 activations (x: cols / 32 calgae_block_q8_0 per token,
     * from quantize_q8_0), cols a multiple of 32, per block with d_x = fp16 x.d:
     * Q5_0: d_w * d_x * sum_j (q_j - 16) x_j (ggml's vec_dot_q5_0_q8_0). */
    calgae_matvec_fn matvec_q5_0;
    calgae_matmul_fn matmul_q5_0;
    /* Q5_1: d_w * d_x * sum_j q_j x_j + m_w * d_x * sum_j x_j. ggml pairs Q5_1 with Q8_1, whose
     *       s field is d_x * sum_j x_j rounded to fp16; here the sum comes from the Q8_0 codes
     *       in integers (as matvec_q4_1 does), so it is not rounded to fp16 first. */
    calgae_matvec_fn matvec_q5_1;
    calgae_matmul_fn matmul_q5_1;
    /* IQ4_NL: d_w * d_x * sum_j L[q_j] x_j (ggml's vec_dot_iq4_nl_q8_0). */
    calgae_matvec_fn matvec_iq4_nl;
    calgae_matmul_fn matmul_iq4_nl;
    /* BF16 weights (a row is cols calgae_bf16) against F32 activations (x: cols floats per
     * token, as for F32 weights): each weight widens exactly to binary32, and the row is summed
     * in binary32 (any order; FMA or not). ggml rounds x to BF16 first (vec_dot_type BF16); this
     * slot does not, so it is as exact as an F32 product of the widened weights. */
    calgae_matvec_fn matvec_bf16;
    calgae_matmul_fn matmul_bf16;

    /* -- Slots appended in later minors go below this line, each block marked with its minor. -- */
} calgae_plugin;

/*
 * The entry point. The host passes its ABI version; the plugin returns 0 and sets *table to a
 * table that stays valid until the library is unloaded, or returns non-zero with a one-line
 * reason in why (for instance when host_abi_major differs from CALGAE_ABI_MAJOR).
 * It must not allocate, start threads or touch the CPU's optional instruction sets.
 */
typedef int (*calgae_plugin_entry_fn)(uint32_t host_abi_major, uint32_t host_abi_minor,
                                      const calgae_plugin **table, char *why, size_t why_len);

/* Use on the definition of the entry point so it is the plugin's one exported symbol when the
 * plugin is built with -fvisibility=hidden. */
#if defined(__GNUC__)
#define CALGAE_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define CALGAE_PLUGIN_EXPORT
#endif

/* The usual body of an entry point: a host of another ABI major gets a refusal, any other host
 * the table (a host of an older or newer minor reads what it knows of it, by struct_size).
 *   return calgae_plugin_answer(host_abi_major, &table, table_out, why, why_len);
 * Copies nothing but the fixed reason, so the entry point stays free of side effects. */
static inline int calgae_plugin_answer(uint32_t host_abi_major, const calgae_plugin *table,
                                       const calgae_plugin **out, char *why, size_t why_len)
{
    if (host_abi_major != CALGAE_ABI_MAJOR) {
        static const char msg[] = "the plugin speaks another ABI major than the host";
        if (why && why_len > 0) {
            const size_t n = sizeof msg < why_len ? sizeof msg : why_len;
            memcpy(why, msg, n);
            why[n - 1] = '\0';
        }
        return 1;
    }
    *out = table;
    return 0;
}

#ifdef __cplusplus
}
#endif

#endif /* CALGAE_PLUGIN_H */
