/*
 * oldminor.c - a good plugin as an older ABI minor would have built it: its table ends right
 * after matvec_q4_0 (struct_size = offsetof(calgae_plugin, matmul_f32)) and it provides only
 * matvec_f32, with its own plain loop. The host must load it, let it serve matvec_f32, and take
 * every slot past struct_size from another plugin without ever reading it.
 *
 * To prove the host does not read past struct_size, the table sits at the start of a larger
 * static object and every pointer after struct_size is a trap that aborts the process.
 * The same source, cross-compiled for aarch64, is the wrong-architecture test plugin.
 */
#include <stdio.h>
#include <stdlib.h>

#include "test_plugin.h"

_Noreturn static void trap(const char *what)
{
    fprintf(stderr, "calgae-test-oldminor: the host called %s, beyond struct_size\n", what);
    abort();
}

static int trap_matvec(const calgae_weight *w, const void *x, float *y, int64_t row_begin,
                       int64_t row_end)
{
    (void)w, (void)x, (void)y, (void)row_begin, (void)row_end;
    trap("a matvec slot");
}

static int trap_matmul(const calgae_weight *w, const void *x, size_t x_stride, int64_t n_tok,
                       float *y, int64_t y_stride, int64_t row_begin, int64_t row_end)
{
    (void)w, (void)x, (void)x_stride, (void)n_tok, (void)y, (void)y_stride;
    (void)row_begin, (void)row_end;
    trap("a matmul slot");
}

static void trap_rmsnorm(float *out, const float *x, const float *w, int64_t n, float eps)
{
    (void)out, (void)x, (void)w, (void)n, (void)eps;
    trap("rmsnorm");
}

static void trap_softmax(float *x, int64_t n)
{
    (void)x, (void)n;
    trap("softmax");
}

static void trap_swiglu(float *gate, const float *up, int64_t n)
{
    (void)gate, (void)up, (void)n;
    trap("swiglu");
}

static void trap_rope(float *x, int64_t n_heads, int64_t head_size, int64_t n_rot, const float *cs)
{
    (void)x, (void)n_heads, (void)head_size, (void)n_rot, (void)cs;
    trap("rope");
}

static float trap_dot(const float *a, const float *b, int64_t n)
{
    (void)a, (void)b, (void)n;
    trap("dot_f32");
}

static void trap_axpy(float *y, float a, const float *x, int64_t n)
{
    (void)y, (void)a, (void)x, (void)n;
    trap("axpy_f32");
}

static void trap_tail(void)
{
    trap("a slot past the end of this header's table");
}

/* Same order of summation as the scalar plugin, so the CLI's golden output still matches. */
static int matvec_f32(const calgae_weight *w, const void *x, float *y, int64_t row_begin,
                      int64_t row_end)
{
    if (w->type != CALGAE_TYPE_F32)
        return CALGAE_KERNEL_DECLINED;
    const float *xf = x;
    for (int64_t r = row_begin; r < row_end; r++) {
        const float *row = (const float *)((const char *)w->data + (size_t)r * w->row_bytes);
        float sum = 0.0f;
        for (int64_t i = 0; i < w->cols; i++)
            sum += row[i] * xf[i];
        y[r] = sum;
    }
    return CALGAE_KERNEL_OK;
}

/* A prepare_weight that keeps the stored layout: there only so that the flags word past
 * struct_size has something to claim (see test_old_minor). */
static int prepare_weight(calgae_weight *w, char *why, size_t why_len)
{
    (void)w;
    tp_why(why, why_len, "oldminor keeps the stored layout");
    return 1;
}

static void release_weight(calgae_weight *w)
{
    (void)w;
}

static const struct {
    calgae_plugin table;
    void (*tail[8])(void); /* what a later minor might append, poisoned as well */
} padded = {
    .table = {
        .struct_size = offsetof(calgae_plugin, matmul_f32),
        .abi_major = CALGAE_ABI_MAJOR,
        .abi_minor = 0,
        .name = "oldminor",
        .version = "0.9.0",
        .description = "test plugin of an older ABI minor",
        .isa = "",
        .priority = 50,
        .prepare_weight = prepare_weight,
        .release_weight = release_weight,
        .matvec_f32 = matvec_f32,
        /* past struct_size: never to be read */
        .matmul_f32 = trap_matmul,
        .matmul_f16 = trap_matmul,
        .matmul_q8_0 = trap_matmul,
        .matmul_q4_0 = trap_matmul,
        .rmsnorm = trap_rmsnorm,
        .softmax = trap_softmax,
        .swiglu = trap_swiglu,
        .rope = trap_rope,
        .dot_f32 = trap_dot,
        .axpy_f32 = trap_axpy,
        .matvec_q4_1 = trap_matvec, /* ABI 1.1 */
        .matmul_q4_1 = trap_matmul,
        /* ABI 1.2, past struct_size as well: the host must read it as 0, never as this claim */
        .flags = CALGAE_PLUGIN_CONCURRENT_PREPARE,
    },
    .tail = {trap_tail, trap_tail, trap_tail, trap_tail, trap_tail, trap_tail, trap_tail,
             trap_tail},
};

TP_DEFINE_ENTRY(padded.table)
