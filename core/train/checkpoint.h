/*
 * checkpoint.h - the checkpoint of a `calgae distill` run: everything needed to continue it
 * exactly (the trained floats, AdamW's m and v moments, the steps done, the data sampler's RNG
 * state) and the run's identity (mode, shape, schedule, seed, and hashes of the teacher, the
 * student and the training text), so that a resume with other settings is refused.
 *
 * The format is our own, little-endian throughout:
 *   offset 0   8 bytes  magic "CALGCKPT"
 *          8   u32      version (1)
 *         12   u32      bytes of the identity record that follows (104 in version 1)
 *         16   identity u32 mode (1 quantization-aware, 2 classic); i32 dim, hidden, layers,
 *                       heads, kv_heads, vocab, seq, batch, steps, warmup; f32 lr, alpha, temp,
 *                       weight_decay, clip; u64 seed, teacher_hash, student_hash, train_hash,
 *                       n_train
 *        120   i32 step (steps done), u64 rng, u64 n (floats per array)
 *        140   f32 x[n], m[n], v[n]
 *        end   u64 FNV-1a (64-bit) of every byte before it
 * A file is accepted only if its size is exactly 148 + 12 n bytes and its checksum matches.
 */
#ifndef CALGAE_CHECKPOINT_H
#define CALGAE_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

enum { CALGAE_CKPT_QAD = 1, CALGAE_CKPT_CLASSIC = 2 };

typedef struct calgae_ckpt_id {
    uint32_t mode;                                   /* CALGAE_CKPT_QAD or _CLASSIC */
    int32_t dim, hidden, layers, heads, kv_heads, vocab; /* the student's shape */
    int32_t seq, batch, steps, warmup;               /* windows and schedule */
    float lr, alpha, temp, weight_decay, clip;       /* as the run uses them */
    uint64_t seed;
    uint64_t teacher_hash;  /* FNV-1a of the teacher's float weights */
    uint64_t student_hash;  /* of the quantized student's float weights as loaded (0: classic) */
    uint64_t train_hash;    /* of the training text's token ids */
    uint64_t n_train;       /* training tokens */
} calgae_ckpt_id;

typedef struct calgae_ckpt {
    calgae_ckpt_id id;
    int32_t step;           /* optimizer steps done, 0..id.steps */
    uint64_t rng;           /* the data sampler's state after them */
    uint64_t n;             /* floats in each of x, m, v */
    float *x, *m, *v;       /* trained values, Adam moments; owned after a read */
} calgae_ckpt;

/* FNV-1a, 64-bit, continuing from h (start with CALGAE_FNV_INIT). */
#define CALGAE_FNV_INIT 0xcbf29ce484222325ull
uint64_t calgae_fnv1a(uint64_t h, const void *p, size_t n);

/* The size of a checkpoint of n floats per array. */
uint64_t calgae_ckpt_bytes(uint64_t n);

/* Writes c to path atomically: a temporary file beside it, synced, then renamed over it, so an
 * existing checkpoint stays whole if anything fails. Returns 0, or -1 with a one-line message. */
int calgae_ckpt_write(const calgae_ckpt *c, const char *path, char *err, size_t err_len);

/* Parses the bytes of a checkpoint (name is used in messages); on success c owns x, m, v
 * (calgae_ckpt_free). Returns 0, or -1 with a one-line message and nothing to free. */
int calgae_ckpt_parse(const uint8_t *buf, size_t len, const char *name, calgae_ckpt *c,
                      char *err, size_t err_len);
/* calgae_ckpt_parse on a file's content. */
int calgae_ckpt_read(const char *path, calgae_ckpt *c, char *err, size_t err_len);
void calgae_ckpt_free(calgae_ckpt *c);

/* 0 when the checkpoint's identity (have) is this run's (want); else -1 with a message naming
 * the file and the first setting that differs. */
int calgae_ckpt_check(const calgae_ckpt_id *have, const calgae_ckpt_id *want, const char *name,
                      char *err, size_t err_len);

#endif
