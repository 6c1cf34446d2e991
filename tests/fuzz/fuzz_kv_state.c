/*
 * fuzz_kv_state.c - libFuzzer target: a saved KV state (calgae_state_load_file, what `calgae
 * chat`'s /load and embedding programs read back) for a stories260K context of 16 positions.
 * Whatever loads must give a context whose position fits it, that evaluates on, and whose state
 * saved again is the input byte for byte; whatever is refused must say why with a status of the
 * documented set, and leave the context as it was.
 *
 * The model is loaded once (from $CALGAE_MODELS, else ../shared/models, run from the repository
 * root). With CALGAE_FUZZ_SEED_DIR set, initialisation also writes the seed states (0, 3 and 16
 * positions) there with the library's own writer: how tests/fuzz/corpus/kv_state/ was made.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calgae.h"
#include "fuzz_common.h"

#define N_CTX 16

static calgae_model *model;
static calgae_context *ctx, *probe;

static void write_seeds(const char *dir)
{
    static const calgae_token ids[N_CTX] = {1, 403, 407, 261, 378, 292, 300, 301,
                                            302, 303, 304, 305, 306, 307, 308, 309};
    const int lens[] = {0, 3, N_CTX};
    for (int i = 0; i < 3; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/state_%d", dir, lens[i]);
        calgae_context_truncate(probe, 0, NULL);
        FUZZ_CHECK(calgae_eval(probe, ids, lens[i], NULL) == CALGAE_OK, "seed eval");
        FUZZ_CHECK(calgae_state_save_file(probe, path, NULL) == CALGAE_OK, "seed %s", path);
    }
    calgae_context_truncate(probe, 0, NULL);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    const char *dir = getenv("CALGAE_MODELS");
    char path[4096];
    snprintf(path, sizeof path, "%s/stories260K.gguf", dir ? dir : "../shared/models");
    calgae_model_params mp = calgae_model_default_params();
    mp.backend = "scalar";
    mp.no_repack = 1;
    calgae_context_params cp = calgae_context_default_params();
    cp.n_ctx = N_CTX;
    cp.n_threads = 1;
    calgae_error err;
    if (calgae_model_load(path, &mp, &model, &err) != CALGAE_OK ||
        calgae_context_create(model, &cp, &ctx, &err) != CALGAE_OK ||
        calgae_context_create(model, &cp, &probe, &err) != CALGAE_OK) {
        fprintf(stderr, "fuzz_kv_state: %s\n", err.message);
        abort();
    }
    const char *seeds = getenv("CALGAE_FUZZ_SEED_DIR");
    if (seeds)
        write_seeds(seeds);
    return 0;
}

static int one_input(const uint8_t *data, size_t size)
{
    const calgae_token one = 300;
    /* a known state before the load: a refused input must leave it */
    calgae_context_truncate(ctx, 0, NULL);
    FUZZ_CHECK(calgae_eval(ctx, &one, 1, NULL) == CALGAE_OK, "eval before load");
    calgae_error err;
    calgae_status st = calgae_state_load_file(ctx, fuzz_file(data, size), &err);
    if (st != CALGAE_OK) {
        FUZZ_CHECK(err.message[0] && strchr(err.message, '\n') == NULL, "refused without a line");
        FUZZ_CHECK(st == CALGAE_ERR_FORMAT || st == CALGAE_ERR_CONTEXT || st == CALGAE_ERR_IO,
                   "status %d", (int)st);
        FUZZ_CHECK(calgae_context_pos(ctx) == 1 && calgae_get_logits(ctx), "refusal changed it");
        return 0;
    }
    const int pos = calgae_context_pos(ctx);
    FUZZ_CHECK(pos >= 0 && pos <= N_CTX, "position %d", pos);
    FUZZ_CHECK(calgae_state_size(ctx) == size, "state of %zu bytes from %zu",
               calgae_state_size(ctx), size);
    uint8_t *again = malloc(size);
    FUZZ_CHECK(again && calgae_state_save(ctx, again, size, NULL, NULL) == CALGAE_OK, "save");
    FUZZ_CHECK(memcmp(again, data, size) == 0, "saved state differs from the loaded one");
    free(again);
    if (pos < N_CTX)
        FUZZ_CHECK(calgae_eval(ctx, &one, 1, NULL) == CALGAE_OK, "eval after load");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_begin(size);
    one_input(data, size);
    fuzz_end();
    return 0;
}
