/*
 * fuzz_common.h - helpers shared by the libFuzzer targets in tests/fuzz/: the input as a file
 * the product's loaders can open (they take paths and map them), and the properties checked on
 * whatever a loader accepts. A broken property aborts, which libFuzzer reports as a crash.
 */
#ifndef CALGAE_FUZZ_COMMON_H
#define CALGAE_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Aborts with a message when cond is false (assert() would vanish under NDEBUG). */
#define FUZZ_CHECK(cond, ...)                                                                 \
    do {                                                                                      \
        if (!(cond))                                                                          \
            fuzz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__);                                \
    } while (0)

void fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 4, 5)));

/* Around the work on one input of size bytes: in between, every allocation Calgae's code makes
 * must stay within a small multiple of size (see fuzz_common.c). */
void fuzz_begin(size_t size);
void fuzz_end(void);

/* The bytes as the content of an in-memory file (memfd); returns a path that opens it
 * ("/proc/self/fd/N"), valid until the next call. */
const char *fuzz_file(const uint8_t *data, size_t size);

/* A loaded model: hyperparameters pass the loader's own check, and every weight, norm and
 * embedding lies inside the file's map with the row size its type implies. */
void fuzz_check_model(const calgae_transformer *m);

/* A loaded vocabulary: sizes, special ids and the sorted index are consistent. */
void fuzz_check_vocab(const calgae_tokenizer *t);

/* Whether the vocabulary can spell any bytes so that decoding gives them back: all 256 byte
 * tokens, a matchable " " piece, and a BOS that text never turns into (not matchable, not a
 * byte token). */
int fuzz_spells_everything(const calgae_tokenizer *t);

/* Encodes text with and without BOS: every id is in the vocabulary and, when the vocabulary can
 * spell every byte (all 256 byte tokens and a matchable " " piece), decoding gives the text
 * back exactly (after BOS the leading space is dropped; without BOS it stays). */
void fuzz_check_encode(const calgae_tokenizer *t, const char *text, size_t len);

#endif
