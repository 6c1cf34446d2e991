/*
 * blas.c - the "blas" plugin: F32 and F16 matrix products through CBLAS (OpenBLAS). Every
 * other slot is NULL, so quantized products, norms and attention fall through to the next
 * plugin. Priority 50: above scalar, below the hand-written SIMD plugins (100 and up), whose
 * matvec is as fast for one token; BLAS earns its place on prompt batches (sgemm).
 *
 * Shapes: the host hands a row range [r0, r1) of W (rows x cols, row r at data + r * row_bytes).
 * Rows from r0 on form the sub-matrix at data + r0 * row_bytes with leading dimension
 * row_bytes / 4, so
 *   matvec: y[r] = W[r] . x                    -> sgemv(RowMajor, NoTrans)
 *   matmul: Y[t][r] = sum_k X[t][k] W[r][k]    -> sgemm(RowMajor, NoTrans X, Trans W) with
 *           C = y + r, ldc = y_stride, A = x, lda = x_stride / 4,
 * called on fixed groups of rows (see GROUP). A shape BLAS cannot take (a stride that is not
 * whole elements, a dimension beyond blasint, a misaligned pointer) is declined, and the next
 * plugin computes it.
 *
 * Threads and loading: the host already splits rows over its own pool, so OpenBLAS must
 * compute each call on the calling thread: openblas_set_num_threads(1), once. OpenBLAS is not
 * linked but opened with dlopen by the first kernel call (pthread_once), because the pthreads
 * build starts one idle worker per core as soon as it is loaded, and they spin for a while:
 * linked, every `calgae` run would pay for that, since the host loads every plugin of its
 * folder, even on machines where avx2/avx512 serve all products and blas computes nothing. The
 * entry point and the (absent) probe stay free of side effects. If the library cannot be
 * opened, the products decline and the next plugin computes them.
 *
 * F16 weights are widened to F32 per call, one group of rows at a time (see GROUP), with
 * F16C where the CPU has it, else through a 65536-entry table (256 KiB, built once): the model
 * keeps its F16 size in memory and each F16 row is read from RAM once; the widened group stays
 * in cache for BLAS. prepare_weight is
 * not used: widening whole matrices at load time would cost twice the F16 weights' size in
 * extra memory (4.4 GB more for a TinyLlama F16), and the host does not call it yet.
 */
#include <cblas.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "calgae_plugin.h"

/* Rows per BLAS call. OpenBLAS sums a row differently depending on where it falls in the block
 * of rows a call covers (its kernels take rows 4 or 8 at a time, then the remainder one by
 * one), so a row's bits would depend on the host's split. Calls therefore always cover the same
 * aligned groups [32k, 32k + 32) (the last one shorter, but always the same): each row is
 * computed the same way whatever range asks for it. A group cut by a range is computed whole
 * into scratch and only the range's rows are copied out. Each call packs the whole activation
 * batch again, so small groups pay that many times: at 32 rows the packing took a third of a
 * 128-token prompt (TinyLlama F32, one thread) and pp128 ran at 0.8x its speed at 256. The
 * host's chunks of TinyLlama's matrices are multiples of 256 rows. */
#define GROUP 256

#ifndef CALGAE_OPENBLAS_SONAME
#define CALGAE_OPENBLAS_SONAME "libopenblas.so.0" /* CMake passes the one it found */
#endif

/* cblas.h's prototypes as pointer types; checked against the header below. */
typedef void (*sgemv_fn)(enum CBLAS_ORDER, enum CBLAS_TRANSPOSE, blasint, blasint, float,
                         const float *, blasint, const float *, blasint, float, float *, blasint);
typedef void (*sgemm_fn)(enum CBLAS_ORDER, enum CBLAS_TRANSPOSE, enum CBLAS_TRANSPOSE, blasint,
                         blasint, blasint, float, const float *, blasint, const float *, blasint,
                         float, float *, blasint);
typedef void (*set_threads_fn)(int);
_Static_assert(__builtin_types_compatible_p(__typeof__(&cblas_sgemv), sgemv_fn), "cblas_sgemv");
_Static_assert(__builtin_types_compatible_p(__typeof__(&cblas_sgemm), sgemm_fn), "cblas_sgemm");
_Static_assert(__builtin_types_compatible_p(__typeof__(&openblas_set_num_threads), set_threads_fn),
               "openblas_set_num_threads");
typedef void (*widen_fn)(const calgae_fp16 *src, float *dst, int64_t n);

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static sgemv_fn sgemv; /* NULL until init_blas has opened OpenBLAS, or if it could not */
static sgemm_fn sgemm;
static float f16_table[1 << 16]; /* filled only where F16C is missing */
static widen_fn widen;

static void widen_table(const calgae_fp16 *src, float *dst, int64_t n)
{
    for (int64_t k = 0; k < n; k++)
        dst[k] = f16_table[src[k]];
}

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <immintrin.h>

/* F16C widens 8 values per instruction, exactly as the table does; the function is compiled
 * for F16C alone and only called after __builtin_cpu_supports said the CPU (and OS) has it,
 * so the plugin as a whole still runs on any x86-64. */
__attribute__((target("avx,f16c"))) static void widen_f16c(const calgae_fp16 *src, float *dst,
                                                          int64_t n)
{
    int64_t k = 0;
    for (; k + 8 <= n; k += 8)
        _mm256_storeu_ps(dst + k, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + k))));
    for (; k < n; k++)
        dst[k] = calgae_fp16_to_fp32(src[k]);
}
#endif

/* dlsym returns an object pointer: copied into the function pointer, as the host does */
static void *symbol(void *lib, const char *name, void *fn_out, size_t fn_size)
{
    void *sym = dlsym(lib, name);
    if (sym)
        memcpy(fn_out, &sym, fn_size);
    return sym;
}

static void init_blas(void)
{
    /* never closed: OpenBLAS's threads may outlive any one call, as this library does */
    void *lib = dlopen(CALGAE_OPENBLAS_SONAME, RTLD_NOW | RTLD_LOCAL);
    set_threads_fn set_threads;
    sgemv_fn v;
    sgemm_fn m;
    if (!lib || !symbol(lib, "openblas_set_num_threads", &set_threads, sizeof set_threads) ||
        !symbol(lib, "cblas_sgemv", &v, sizeof v) || !symbol(lib, "cblas_sgemm", &m, sizeof m))
        return;
    set_threads(1);
    widen = widen_table;
#if defined(__x86_64__) || defined(__i386__)
    /* "avx" covers the OS saving YMM state (XCR0); clang 14's builtin knows no "f16c", so that
     * bit comes from CPUID leaf 1 */
    unsigned a, b, c, d;
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx") && __get_cpuid(1, &a, &b, &c, &d) && (c & bit_F16C))
        widen = widen_f16c;
#endif
    if (widen == widen_table)
        for (uint32_t h = 0; h < (1u << 16); h++)
            f16_table[h] = calgae_fp16_to_fp32((calgae_fp16)h);
    sgemm = m;
    sgemv = v;
}

/* Opens OpenBLAS on first use; 0 if it is not available (the products then decline). */
static int blas_ready(void)
{
    pthread_once(&init_once, init_blas);
    return sgemv != NULL;
}

static int fits_blasint(int64_t v)
{
    return v >= 0 && (sizeof(blasint) >= sizeof(int64_t) || v <= INT32_MAX);
}

/* One product: n_tok tokens of x (leading dimension ldx floats) against the rows of w. */
struct prod {
    const calgae_weight *w;
    int is_f16;
    const float *x;
    int64_t ldx, n_tok;
    float *wide; /* F16 only: GROUP widened rows */
};

/* Rows [g, g + n) of the product, written to out[t * ldo + i] for row g + i: one BLAS call. */
static void group_product(const struct prod *p, int64_t g, int64_t n, float *out, int64_t ldo)
{
    const calgae_weight *w = p->w;
    const float *a;
    int64_t lda;
    if (p->is_f16) {
        /* the F16 rows are read from memory once; the F32 copy stays in cache for BLAS */
        for (int64_t i = 0; i < n; i++)
            widen((const calgae_fp16 *)((const char *)w->data + (size_t)(g + i) * w->row_bytes),
                  p->wide + i * w->cols, w->cols);
        a = p->wide;
        lda = w->cols;
    } else {
        a = (const float *)((const char *)w->data + (size_t)g * w->row_bytes);
        lda = (int64_t)(w->row_bytes / sizeof(float));
    }
    if (p->n_tok == 1)
        sgemv(CblasRowMajor, CblasNoTrans, (blasint)n, (blasint)w->cols, 1.0f, a, (blasint)lda,
              p->x, 1, 0.0f, out, 1);
    else
        sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)p->n_tok, (blasint)n,
              (blasint)w->cols, 1.0f, p->x, (blasint)p->ldx, a, (blasint)lda, 0.0f, out,
              (blasint)ldo);
}

/* Y[t][r] = W[r] . X[t] for r in [r0, r1), group by group. */
static int product(const calgae_weight *w, uint32_t type, const void *x, size_t x_stride,
                   int64_t n_tok, float *y, int64_t y_stride, int64_t r0, int64_t r1)
{
    const int is_f16 = type == CALGAE_TYPE_F16;
    const size_t elem = is_f16 ? sizeof(calgae_fp16) : sizeof(float);
    /* decline what BLAS cannot address: strides that are not whole elements, misaligned
     * pointers, dimensions beyond blasint */
    if (w->type != type || w->row_bytes % elem != 0 || (uintptr_t)w->data % elem != 0 ||
        x_stride % sizeof(float) != 0 || (uintptr_t)x % sizeof(float) != 0 ||
        !fits_blasint(w->cols) || !fits_blasint((int64_t)(w->row_bytes / elem)) ||
        !fits_blasint((int64_t)(x_stride / sizeof(float))) || !fits_blasint(n_tok) ||
        !fits_blasint(y_stride) || r0 < 0 || r1 > w->rows)
        return CALGAE_KERNEL_DECLINED;
    if (r1 <= r0 || n_tok <= 0)
        return CALGAE_KERNEL_OK;
    if (!blas_ready())
        return CALGAE_KERNEL_DECLINED;

    struct prod p = {w, is_f16, x, (int64_t)(x_stride / sizeof(float)), n_tok, NULL};
    const int64_t g_first = r0 - r0 % GROUP;
    const int cut = r0 % GROUP != 0 || (r1 % GROUP != 0 && r1 != w->rows);
    float *wide = NULL, *scratch = NULL;
    if (is_f16)
        wide = malloc((size_t)(GROUP * (w->cols > 0 ? w->cols : 1)) * sizeof(float));
    if (cut)
        scratch = malloc((size_t)(GROUP * n_tok) * sizeof(float));
    if ((is_f16 && !wide) || (cut && !scratch)) {
        free(wide);
        free(scratch);
        return CALGAE_KERNEL_DECLINED; /* out of memory: a plugin that needs none takes over */
    }
    p.wide = wide;
    for (int64_t g = g_first; g < r1; g += GROUP) {
        const int64_t n = w->rows - g < GROUP ? w->rows - g : GROUP;
        const int64_t lo = g > r0 ? g : r0, hi = g + n < r1 ? g + n : r1;
        if (lo == g && hi == g + n) {
            group_product(&p, g, n, y + g, y_stride);
            continue;
        }
        group_product(&p, g, n, scratch, GROUP);
        for (int64_t t = 0; t < n_tok; t++)
            memcpy(y + t * y_stride + lo, scratch + t * GROUP + (lo - g),
                   (size_t)(hi - lo) * sizeof(float));
    }
    free(wide);
    free(scratch);
    return CALGAE_KERNEL_OK;
}

static int matvec_f32(const calgae_weight *w, const void *x, float *y, int64_t r0, int64_t r1)
{
    return product(w, CALGAE_TYPE_F32, x, 0, 1, y, 0, r0, r1);
}

static int matmul_f32(const calgae_weight *w, const void *x, size_t xs, int64_t n_tok, float *y,
                      int64_t ys, int64_t r0, int64_t r1)
{
    return product(w, CALGAE_TYPE_F32, x, xs, n_tok, y, ys, r0, r1);
}

static int matvec_f16(const calgae_weight *w, const void *x, float *y, int64_t r0, int64_t r1)
{
    return product(w, CALGAE_TYPE_F16, x, 0, 1, y, 0, r0, r1);
}

static int matmul_f16(const calgae_weight *w, const void *x, size_t xs, int64_t n_tok, float *y,
                      int64_t ys, int64_t r0, int64_t r1)
{
    return product(w, CALGAE_TYPE_F16, x, xs, n_tok, y, ys, r0, r1);
}

static const calgae_plugin table = {
    .struct_size = sizeof(calgae_plugin),
    .abi_major = CALGAE_ABI_MAJOR,
    .abi_minor = CALGAE_ABI_MINOR,
    .name = "blas",
    .version = "1.0.0",
    .description = "F32/F16 products through CBLAS (OpenBLAS), single-threaded per call",
    .isa = "",
    .priority = 50,
    .probe = NULL,
    .matvec_f32 = matvec_f32,
    .matvec_f16 = matvec_f16,
    .matmul_f32 = matmul_f32,
    .matmul_f16 = matmul_f16,
};

CALGAE_PLUGIN_EXPORT int calgae_plugin_entry(uint32_t host_abi_major, uint32_t host_abi_minor,
                                             const calgae_plugin **out, char *why, size_t why_len)
{
    (void)host_abi_minor; /* a host of any minor reads what it knows of the table */
    return calgae_plugin_answer(host_abi_major, &table, out, why, why_len);
}
