/*
 * fuzz_ckpt.c - libFuzzer target: `calgae distill`'s checkpoint reader (core/train/checkpoint.c),
 * which --resume points at any file. Each input is read as a file (calgae_ckpt_read), and once
 * more with its last 8 bytes replaced by the right checksum, so that mutations reach the checks
 * behind it. A refusal must be one line naming the file and own nothing; an accepted checkpoint
 * must have the exact size its count implies, a known mode and a step within its steps, must
 * pass the identity check against itself and fail it against another seed, and must write back
 * (calgae_ckpt_write) to the input byte for byte.
 *
 * With CALGAE_FUZZ_SEED_DIR set, initialisation writes the seed checkpoints (0, 1 and 8 floats,
 * both modes) there with the library's own writer: how tests/fuzz/corpus/ckpt/ was made.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checkpoint.h"
#include "fuzz_common.h"
#include "util.h"

static char out_path[4096];

static void write_seeds(const char *dir)
{
    float vals[8] = {1.0f, -0.5f, 0.25f, 3.0f, 0.0f, -0.0f, 1e-8f, 7.5f};
    const uint64_t ns[3] = {0, 1, 8};
    for (int i = 0; i < 3; i++) {
        calgae_ckpt c = {.id = {.mode = i == 1 ? CALGAE_CKPT_CLASSIC : CALGAE_CKPT_QAD,
                                .dim = 64, .hidden = 172, .layers = 5, .heads = 8,
                                .kv_heads = 4, .vocab = 512, .seq = 64, .batch = 2,
                                .steps = 20, .warmup = 1, .lr = 1e-3f, .alpha = 1.0f,
                                .temp = 1.0f, .clip = 1.0f, .seed = 1, .teacher_hash = 42,
                                .train_hash = 7, .n_train = 1000},
                         .step = 10, .rng = 12345, .n = ns[i], .x = vals, .m = vals, .v = vals};
        char path[4096], err[CALGAE_ERR_LEN];
        snprintf(path, sizeof path, "%s/ckpt_%llu", dir, (unsigned long long)ns[i]);
        FUZZ_CHECK(calgae_ckpt_write(&c, path, err, sizeof err) == 0, "seed: %s", err);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    const char *tmp = getenv("TMPDIR");
    snprintf(out_path, sizeof out_path, "%s/fuzz_ckpt.%d", tmp ? tmp : "/tmp", (int)getpid());
    const char *seeds = getenv("CALGAE_FUZZ_SEED_DIR");
    if (seeds)
        write_seeds(seeds);
    return 0;
}

/* The file written back from c is data, byte for byte. */
static void check_round_trip(const calgae_ckpt *c, const uint8_t *data, size_t size)
{
    char err[CALGAE_ERR_LEN];
    FUZZ_CHECK(calgae_ckpt_write(c, out_path, err, sizeof err) == 0, "write back: %s", err);
    calgae_map map;
    FUZZ_CHECK(calgae_map_file(&map, out_path, err, sizeof err) == 0, "map back: %s", err);
    FUZZ_CHECK(map.size == size && (size == 0 || memcmp(map.data, data, size) == 0),
               "written back differently (%zu bytes, input %zu)", map.size, size);
    calgae_unmap(&map);
    unlink(out_path);
}

static void one(const uint8_t *data, size_t size)
{
    char err[CALGAE_ERR_LEN];
    calgae_ckpt c;
    const char *path = fuzz_file(data, size);
    if (calgae_ckpt_read(path, &c, err, sizeof err) != 0) {
        FUZZ_CHECK(err[0] && strchr(err, '\n') == NULL && strstr(err, path), "refusal: %s", err);
        FUZZ_CHECK(!c.x && !c.m && !c.v, "a refusal owns arrays");
        return;
    }
    FUZZ_CHECK(c.n <= size / 12 && size == calgae_ckpt_bytes(c.n), "size %zu for n %llu", size,
               (unsigned long long)c.n);
    FUZZ_CHECK((c.id.mode == CALGAE_CKPT_QAD || c.id.mode == CALGAE_CKPT_CLASSIC) &&
               c.step >= 0 && c.step <= c.id.steps, "mode %u step %d of %d", c.id.mode, c.step,
               c.id.steps);
    FUZZ_CHECK(calgae_ckpt_check(&c.id, &c.id, path, err, sizeof err) == 0, "self: %s", err);
    calgae_ckpt_id other = c.id;
    other.seed ^= 1;
    FUZZ_CHECK(calgae_ckpt_check(&c.id, &other, path, err, sizeof err) != 0 && strstr(err, "--seed"),
               "another seed passed: %s", err);
    check_round_trip(&c, data, size);
    calgae_ckpt_free(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_begin(size);
    one(data, size);
    if (size >= 8) { /* again with the checksum made right */
        uint8_t *fixed = malloc(size);
        if (fixed) {
            memcpy(fixed, data, size);
            const uint64_t h = calgae_fnv1a(CALGAE_FNV_INIT, fixed, size - 8);
            for (int i = 0; i < 8; i++)
                fixed[size - 8 + (size_t)i] = (uint8_t)(h >> (8 * i));
            one(fixed, size);
            free(fixed);
        }
    }
    fuzz_end();
    return 0;
}
