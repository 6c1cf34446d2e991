/*
 * fuzz_model_bin.c - libFuzzer target: a llama2.c checkpoint (.bin: seven int32 of header, then
 * float32 weights) through calgae_transformer_load, as `calgae run --model FILE.bin` reads it; what
 * it accepts must have every weight inside the file.
 */
#include "fuzz_common.h"
#include "model_load.h"

static int one_input(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file(data, size);
    char err[CALGAE_ERR_LEN] = "";
    calgae_transformer m;
    if (calgae_transformer_load(&m, path, err, sizeof err) == 0) {
        fuzz_check_model(&m);
        calgae_transformer_free(&m);
    } else {
        FUZZ_CHECK(err[0], "refused without a reason");
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
