/*
 * fuzz_safetensors.c - libFuzzer target: calgae_safetensors_open (what a Hugging Face folder's
 * model.safetensors goes through) on the input as a file, and calgae_safetensors_parse on an
 * exact-size copy. Whatever is accepted: both agree, every tensor's bytes lie inside the input
 * with the size its dtype and shape imply, no two tensors overlap or share a name, and lookup
 * by name finds each one.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "safetensors.h"

static void check(const calgae_safetensors *st, const uint8_t *data, size_t size)
{
    for (size_t i = 0; i < st->n_tensors; i++) {
        const calgae_st_tensor *t = &st->tensors[i];
        size_t elems = 1;
        FUZZ_CHECK(t->n_dims >= 0 && t->n_dims <= CALGAE_ST_MAX_DIMS, "dims %d", t->n_dims);
        for (int d = 0; d < t->n_dims; d++)
            elems *= (size_t)t->shape[d];
        FUZZ_CHECK(elems * calgae_st_dtype_size(t->dtype) == t->nbytes, "%s: size", t->name);
        FUZZ_CHECK(t->data >= data + 8 && t->nbytes <= size &&
                       (size_t)(t->data - data) <= size - t->nbytes, "%s outside", t->name);
        FUZZ_CHECK(calgae_safetensors_find(st, t->name) == t, "%s not found", t->name);
        for (size_t j = 0; j < i; j++) {
            const calgae_st_tensor *u = &st->tensors[j];
            FUZZ_CHECK(strcmp(t->name, u->name) != 0, "%s twice", t->name);
            FUZZ_CHECK(!t->nbytes || !u->nbytes || t->data >= u->data + u->nbytes ||
                           u->data >= t->data + t->nbytes, "%s and %s overlap", t->name,
                       u->name);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_begin(size);
    char err[CALGAE_ERR_LEN];
    calgae_safetensors a, b;
    const char *path = fuzz_file(data, size);
    int ra = calgae_safetensors_open(&a, path, err, sizeof err);
    FUZZ_CHECK(ra == 0 || strncmp(err, path, strlen(path)) == 0, "message '%s'", err);
    uint8_t *copy = malloc(size ? size : 1);
    memcpy(copy, data, size);
    int rb = calgae_safetensors_parse(&b, copy, size, "input", err, sizeof err);
    FUZZ_CHECK(ra == rb, "open %d, parse %d", ra, rb);
    if (rb == 0) {
        check(&b, copy, size);
        FUZZ_CHECK(a.n_tensors == b.n_tensors, "tensor counts differ");
        calgae_safetensors_close(&b);
    }
    if (ra == 0)
        calgae_safetensors_close(&a);
    free(copy);
    fuzz_end();
    return 0;
}
