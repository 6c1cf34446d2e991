/*
 * fuzz_tokenizer_bin.c - libFuzzer target: llama2.c's tokenizer.bin through
 * calgae_tokenizer_load_bin, read to its end (`calgae tokenize --tokenizer FILE`) and then for
 * a model's vocabulary size (`calgae run` with a .bin model); what loads must encode text into
 * valid ids, and give it back exactly when it can spell every byte.
 */
#include <string.h>

#include "fuzz_common.h"

static int one_input(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file(data, size);
    char err[CALGAE_ERR_LEN] = "";
    calgae_tokenizer t;
    if (calgae_tokenizer_load_bin(&t, path, 0, err, sizeof err) != 0) {
        FUZZ_CHECK(err[0] && t.pieces == NULL, "refused without a reason");
        return 0;
    }
    fuzz_check_vocab(&t);
    static const char sample[] = "Once upon a time, a tiny h\xC3\xA9ro said \xE6\x97\xA5 <0x41>\xFF!";
    fuzz_check_encode(&t, sample, sizeof sample - 1);
    /* the same file for a model of fewer tokens: exactly that many are read */
    const int32_t want = t.n_vocab / 2 + 1;
    calgae_tokenizer half;
    FUZZ_CHECK(calgae_tokenizer_load_bin(&half, path, want, err, sizeof err) == 0,
               "first %d of %d tokens refused: %s", want, t.n_vocab, err);
    FUZZ_CHECK(half.n_vocab == want, "%d tokens read, %d wanted", half.n_vocab, want);
    for (int32_t i = 0; i < want; i++)
        FUZZ_CHECK(half.piece_lens[i] == t.piece_lens[i] &&
                       memcmp(half.pieces[i], t.pieces[i], t.piece_lens[i]) == 0,
                   "token %d differs", i);
    fuzz_check_vocab(&half);
    calgae_tokenizer_free(&half);
    /* and for a model of more tokens than the file has: refused */
    if (t.n_vocab < INT32_MAX) {
        FUZZ_CHECK(calgae_tokenizer_load_bin(&half, path, t.n_vocab + 1, err, sizeof err) != 0,
                   "%d tokens read from a file of %d", t.n_vocab + 1, t.n_vocab);
    }
    calgae_tokenizer_free(&t);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_begin(size);
    one_input(data, size);
    fuzz_end();
    return 0;
}
