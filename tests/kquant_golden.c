/*
 * kquant_golden.c - byte identity with llama-quantize: for every matrix of a GGUF file that
 * llama-quantize wrote (tests/golden/kquants/), quantize the same tensor of the F32 file it was
 * made from with the type table's quantizer of the stored type, and compare the bytes.
 * Usage: kquant_golden QUANTIZED.gguf SOURCE-F32.gguf. Prints one line per tensor (types that
 * match fully, and the first differing block otherwise); exit 0 only if every tensor matches.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "types.h"

static int check_tensor(const calgae_gguf_tensor *q, const calgae_gguf_tensor *f)
{
    const calgae_type_info *t = calgae_type_traits(q->type);
    size_t row_bytes;
    if (!t || !t->from_float || f->type != CALGAE_TYPE_F32 || f->ne[0] != q->ne[0] ||
        f->ne[1] != q->ne[1] || calgae_type_row_bytes(q->type, q->ne[0], &row_bytes) != 0) {
        printf("FAIL %s: type %s or shape cannot be compared\n", q->name, calgae_type_name(q->type));
        return 1;
    }
    unsigned char *row = malloc(row_bytes);
    if (!row)
        return 1;
    int bad = 0;
    for (int64_t r = 0; r < q->ne[1] && !bad; r++) {
        const float *src = (const float *)f->data + r * q->ne[0];
        const unsigned char *want = (const unsigned char *)q->data + (size_t)r * row_bytes;
        calgae_quantize_row(q->type, src, row, q->ne[0]);
        for (size_t b = 0; b < row_bytes; b++) {
            if (row[b] != want[b]) {
                printf("FAIL %s (%s): row %lld, block %zu, byte %zu: 0x%02x, llama-quantize 0x%02x\n",
                       q->name, t->name, (long long)r, b / t->type_size, b % t->type_size, row[b],
                       want[b]);
                bad = 1;
                break;
            }
        }
    }
    if (!bad)
        printf("ok   %s (%s): %lld rows identical\n", q->name, t->name, (long long)q->ne[1]);
    free(row);
    return bad;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: kquant_golden QUANTIZED.gguf SOURCE-F32.gguf\n");
        return 2;
    }
    char err[256];
    calgae_gguf q, f;
    if (calgae_gguf_open(&q, argv[1], err, sizeof err) != 0) {
        fprintf(stderr, "kquant_golden: %s\n", err);
        return 1;
    }
    if (calgae_gguf_open(&f, argv[2], err, sizeof err) != 0) {
        fprintf(stderr, "kquant_golden: %s\n", err);
        calgae_gguf_close(&q);
        return 1;
    }
    int failures = 0, compared = 0;
    for (uint64_t i = 0; i < q.n_tensors; i++) {
        const calgae_gguf_tensor *qt = &q.tensors[i];
        if (qt->n_dims != 2 || qt->type == CALGAE_TYPE_F32)
            continue;
        const calgae_gguf_tensor *ft = calgae_gguf_find_tensor(&f, qt->name);
        if (!ft) {
            printf("FAIL %s: not in the source file\n", qt->name);
            failures++;
            continue;
        }
        compared++;
        failures += check_tensor(qt, ft);
    }
    printf("%d tensors compared, %d differ\n", compared, failures);
    calgae_gguf_close(&q);
    calgae_gguf_close(&f);
    return failures || compared == 0 ? 1 : 0;
}
