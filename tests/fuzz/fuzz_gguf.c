/*
 * fuzz_gguf.c - libFuzzer target: a GGUF file through calgae_gguf_open (header, metadata,
 * tensor table), every typed getter on every key, the GGUF vocabulary
 * (calgae_tokenizer_load_gguf) and the model built from it (calgae_transformer_load), as
 * `calgae run --model FILE.gguf` reads them.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "model_load.h"

/* The reader's promises about what it accepted. */
static void check_gguf(const calgae_gguf *g, const char *path)
{
    FUZZ_CHECK(g->version == 2 || g->version == 3, "version %u", g->version);
    FUZZ_CHECK(g->alignment && (g->alignment & (g->alignment - 1)) == 0, "alignment %zu",
               g->alignment);
    FUZZ_CHECK(g->data_offset % g->alignment == 0, "data offset %zu", g->data_offset);
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const calgae_gguf_tensor *t = &g->tensors[i];
        FUZZ_CHECK(t->n_dims >= 1 && t->n_dims <= 4, "n_dims %u", t->n_dims);
        FUZZ_CHECK(t->offset % g->alignment == 0, "tensor offset %" PRIu64, t->offset);
        const uint8_t *d = t->data;
        FUZZ_CHECK(d >= g->map.data && t->nbytes <= g->map.size &&
                       (size_t)(d - g->map.data) <= g->map.size - t->nbytes,
                   "tensor %s outside the file", t->name);
        FUZZ_CHECK(calgae_gguf_find_tensor(g, t->name) == t, "tensor %s not found by name",
                   t->name);
    }
    char err[512];
    for (uint64_t i = 0; i < g->n_kv; i++) {
        const calgae_gguf_kv *kv = &g->kv[i];
        char key[512];
        if (kv->key.len >= sizeof key)
            continue;
        memcpy(key, kv->key.ptr, (size_t)kv->key.len);
        key[kv->key.len] = '\0';
        FUZZ_CHECK(calgae_gguf_find_kv(g, key) == kv, "key %s not found", key);
        uint32_t u;
        float f;
        calgae_gguf_str s;
        /* each getter either reads the value or says why not */
        err[0] = '\0';
        FUZZ_CHECK(calgae_gguf_get_u32(g, key, &u, path, err, sizeof err) == 0 || err[0], "u32");
        err[0] = '\0';
        FUZZ_CHECK(calgae_gguf_get_f32(g, key, &f, path, err, sizeof err) == 0 || err[0], "f32");
        err[0] = '\0';
        FUZZ_CHECK(calgae_gguf_get_str(g, key, &s, path, err, sizeof err) == 0 || err[0], "str");
        if (kv->type == CALGAE_GGUF_ARRAY && kv->arr_type != CALGAE_GGUF_STRING) {
            volatile float sum = 0;
            for (uint64_t k = 0; k < kv->arr_len; k++)
                sum += calgae_gguf_arr_f32(kv, k) + (float)calgae_gguf_arr_i32(kv, k);
            (void)sum;
        }
    }
}

static int one_input(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file(data, size);
    char err[CALGAE_ERR_LEN] = "";
    calgae_gguf g;
    if (calgae_gguf_open(&g, path, err, sizeof err) != 0) {
        FUZZ_CHECK(err[0], "refused without a reason");
        FUZZ_CHECK(g.kv == NULL && g.tensors == NULL && g.map.data == NULL, "left allocated");
        return 0;
    }
    check_gguf(&g, path);
    calgae_tokenizer t;
    if (calgae_tokenizer_load_gguf(&t, &g, path, err, sizeof err) == 0) {
        fuzz_check_vocab(&t);
        static const char sample[] = "Once upon a time, a tiny h\xC3\xA9ro said \xE6\x97\xA5 <s>!";
        fuzz_check_encode(&t, sample, sizeof sample - 1);
        calgae_tokenizer_free(&t);
    } else {
        FUZZ_CHECK(err[0] && t.pieces == NULL, "vocabulary refused without a reason");
    }
    calgae_gguf_close(&g);

    calgae_transformer m;
    err[0] = '\0';
    if (calgae_transformer_load(&m, path, err, sizeof err) == 0) {
        fuzz_check_model(&m);
        calgae_transformer_free(&m);
    } else {
        FUZZ_CHECK(err[0], "model refused without a reason");
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_begin(size);
    one_input(data, size);
    fuzz_end();
    return 0;
}
