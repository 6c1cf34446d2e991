/* checkpoint.c - see checkpoint.h: the writer (streamed, checksummed, atomic) and the reader
 * (every size checked against the file's before anything is allocated). */
#define _GNU_SOURCE
#include "checkpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

static const char magic[8] = {'C', 'A', 'L', 'G', 'C', 'K', 'P', 'T'};
enum { VERSION = 1, ID_BYTES = 104, HEAD_BYTES = 16 + ID_BYTES + 20, TAIL_BYTES = 8 };

uint64_t calgae_fnv1a(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

uint64_t calgae_ckpt_bytes(uint64_t n)
{
    return (uint64_t)HEAD_BYTES + 12 * n + TAIL_BYTES;
}

/* ---- writing: a stdio stream, the running checksum, the first error ---- */

typedef struct sink {
    FILE *f;
    uint64_t h;
    int err;
} sink;

static void put(sink *s, const void *p, size_t n)
{
    s->h = calgae_fnv1a(s->h, p, n);
    if (!s->err && fwrite(p, 1, n, s->f) != n)
        s->err = errno ? errno : EIO;
}

static void put_le(sink *s, uint64_t v, int bytes)
{
    uint8_t b[8];
    for (int i = 0; i < bytes; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    put(s, b, (size_t)bytes);
}

static void put_f32(sink *s, float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    put_le(s, u, 4);
}

/* In chunks: one stdio call per 1024 floats, not per float. */
static void put_floats(sink *s, const float *p, uint64_t n)
{
    uint8_t buf[4096];
    for (uint64_t i = 0; i < n;) {
        size_t k = 0;
        for (; k < sizeof buf && i < n; k += 4, i++) {
            uint32_t u;
            memcpy(&u, &p[i], 4);
            buf[k] = (uint8_t)u, buf[k + 1] = (uint8_t)(u >> 8);
            buf[k + 2] = (uint8_t)(u >> 16), buf[k + 3] = (uint8_t)(u >> 24);
        }
        put(s, buf, k);
    }
}

static void put_id(sink *s, const calgae_ckpt_id *id)
{
    put_le(s, id->mode, 4);
    const int32_t ints[10] = {id->dim, id->hidden, id->layers, id->heads, id->kv_heads,
                              id->vocab, id->seq, id->batch, id->steps, id->warmup};
    for (int i = 0; i < 10; i++)
        put_le(s, (uint32_t)ints[i], 4);
    const float fl[5] = {id->lr, id->alpha, id->temp, id->weight_decay, id->clip};
    for (int i = 0; i < 5; i++)
        put_f32(s, fl[i]);
    const uint64_t u[5] = {id->seed, id->teacher_hash, id->student_hash, id->train_hash,
                           id->n_train};
    for (int i = 0; i < 5; i++)
        put_le(s, u[i], 8);
}

static void put_all(sink *s, const calgae_ckpt *c)
{
    put(s, magic, sizeof magic);
    put_le(s, VERSION, 4);
    put_le(s, ID_BYTES, 4);
    put_id(s, &c->id);
    put_le(s, (uint32_t)c->step, 4);
    put_le(s, c->rng, 8);
    put_le(s, c->n, 8);
    put_floats(s, c->x, c->n);
    put_floats(s, c->m, c->n);
    put_floats(s, c->v, c->n);
    put_le(s, s->h, 8);
}

static int fill_ckpt(FILE *f, void *c)
{
    sink s = {f, CALGAE_FNV_INIT, 0};
    put_all(&s, c);
    return s.err;
}

int calgae_ckpt_write(const calgae_ckpt *c, const char *path, char *err, size_t err_len)
{
    return calgae_write_atomic(path, "the checkpoint", fill_ckpt, (void *)c, err, err_len);
}

/* ---- reading ---- */

static uint64_t get_le(const uint8_t *p, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static float get_f32(const uint8_t *p)
{
    const uint32_t u = (uint32_t)get_le(p, 4);
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static int32_t get_i32(const uint8_t *p)
{
    const uint32_t u = (uint32_t)get_le(p, 4);
    int32_t i;
    memcpy(&i, &u, 4);
    return i;
}

static void get_id(const uint8_t *p, calgae_ckpt_id *id)
{
    id->mode = (uint32_t)get_le(p, 4);
    int32_t *ints[10] = {&id->dim, &id->hidden, &id->layers, &id->heads, &id->kv_heads,
                         &id->vocab, &id->seq, &id->batch, &id->steps, &id->warmup};
    for (int i = 0; i < 10; i++)
        *ints[i] = get_i32(p + 4 + 4 * i);
    float *fl[5] = {&id->lr, &id->alpha, &id->temp, &id->weight_decay, &id->clip};
    for (int i = 0; i < 5; i++)
        *fl[i] = get_f32(p + 44 + 4 * i);
    uint64_t *u[5] = {&id->seed, &id->teacher_hash, &id->student_hash, &id->train_hash,
                      &id->n_train};
    for (int i = 0; i < 5; i++)
        *u[i] = get_le(p + 64 + 8 * i, 8);
}

static float *get_floats(const uint8_t *p, uint64_t n)
{
    float *out = malloc(n ? (size_t)n * sizeof(float) : 1);
    for (uint64_t i = 0; out && i < n; i++)
        out[i] = get_f32(p + 4 * i);
    return out;
}

int calgae_ckpt_parse(const uint8_t *buf, size_t len, const char *name, calgae_ckpt *c,
                      char *err, size_t err_len)
{
    memset(c, 0, sizeof *c);
    if (len < 12 || memcmp(buf, magic, sizeof magic) != 0)
        return calgae_fail(err, err_len, "%s: not a calgae distill checkpoint (no CALGCKPT "
                           "magic)", name);
    const uint32_t version = (uint32_t)get_le(buf + 8, 4);
    if (version != VERSION)
        return calgae_fail(err, err_len, "%s: checkpoint version %u, this calgae reads version "
                           "%d", name, version, VERSION);
    if (len < (size_t)HEAD_BYTES + TAIL_BYTES)
        return calgae_fail(err, err_len, "%s: truncated checkpoint (%zu bytes)", name, len);
    if (get_le(buf + 12, 4) != ID_BYTES)
        return calgae_fail(err, err_len, "%s: identity record of %u bytes, version %d has %d",
                           name, (unsigned)get_le(buf + 12, 4), VERSION, ID_BYTES);
    get_id(buf + 16, &c->id);
    c->step = get_i32(buf + 16 + ID_BYTES);
    c->rng = get_le(buf + 16 + ID_BYTES + 4, 8);
    c->n = get_le(buf + 16 + ID_BYTES + 12, 8);
    const uint64_t room = (uint64_t)(len - HEAD_BYTES - TAIL_BYTES);
    if (c->n > room / 12 || c->n * 12 != room)
        return calgae_fail(err, err_len, "%s: checkpoint of %zu bytes cannot hold 3 x %llu "
                           "floats (truncated, or a bad count)", name, len,
                           (unsigned long long)c->n);
    const uint64_t sum = get_le(buf + len - TAIL_BYTES, 8);
    if (calgae_fnv1a(CALGAE_FNV_INIT, buf, len - TAIL_BYTES) != sum)
        return calgae_fail(err, err_len, "%s: checkpoint checksum mismatch (the file is damaged)",
                           name);
    if ((c->id.mode != CALGAE_CKPT_QAD && c->id.mode != CALGAE_CKPT_CLASSIC) ||
        c->id.steps < 1 || c->step < 0 || c->step > c->id.steps)
        return calgae_fail(err, err_len, "%s: checkpoint with mode %u, step %d of %d: not a "
                           "run this calgae makes", name, c->id.mode, c->step, c->id.steps);
    const uint8_t *p = buf + HEAD_BYTES;
    c->x = get_floats(p, c->n);
    c->m = get_floats(p + 4 * c->n, c->n);
    c->v = get_floats(p + 8 * c->n, c->n);
    if (!c->x || !c->m || !c->v) {
        calgae_ckpt_free(c);
        return calgae_fail(err, err_len, "%s: out of memory", name);
    }
    return 0;
}

int calgae_ckpt_read(const char *path, calgae_ckpt *c, char *err, size_t err_len)
{
    calgae_map map;
    memset(c, 0, sizeof *c);
    if (calgae_map_file(&map, path, err, err_len) != 0)
        return -1;
    const int rc = calgae_ckpt_parse(map.data, map.size, path, c, err, err_len);
    calgae_unmap(&map);
    return rc;
}

void calgae_ckpt_free(calgae_ckpt *c)
{
    free(c->x);
    free(c->m);
    free(c->v);
    c->x = c->m = c->v = NULL;
}

/* ---- identity ---- */

static int differs_i(const char *name, const char *what, int64_t have, int64_t want, char *err,
                     size_t err_len)
{
    return calgae_fail(err, err_len, "%s: checkpoint made with %s %lld, this run has %lld", name,
                       what, (long long)have, (long long)want);
}

int calgae_ckpt_check(const calgae_ckpt_id *have, const calgae_ckpt_id *want, const char *name,
                      char *err, size_t err_len)
{
    static const char *modes[] = {"?", "--student (quantization-aware)",
                                  "--student-shape (classic)"};
    if (have->mode != want->mode)
        return calgae_fail(err, err_len, "%s: checkpoint of a %s run, this run is %s", name,
                           modes[have->mode <= 2 ? have->mode : 0],
                           modes[want->mode <= 2 ? want->mode : 0]);
    const int32_t hi[10] = {have->dim, have->hidden, have->layers, have->heads, have->kv_heads,
                            have->vocab, have->seq, have->batch, have->steps, have->warmup};
    const int32_t wi[10] = {want->dim, want->hidden, want->layers, want->heads, want->kv_heads,
                            want->vocab, want->seq, want->batch, want->steps, want->warmup};
    static const char *ni[10] = {"student dim", "student ffn", "student layers",
                                 "student heads", "student kv_heads", "vocabulary size", "--seq",
                                 "--batch", "--steps", "warmup steps"};
    for (int i = 0; i < 10; i++)
        if (hi[i] != wi[i])
            return differs_i(name, ni[i], hi[i], wi[i], err, err_len);
    const float hf[5] = {have->lr, have->alpha, have->temp, have->weight_decay, have->clip};
    const float wf[5] = {want->lr, want->alpha, want->temp, want->weight_decay, want->clip};
    static const char *nf[5] = {"--lr", "--alpha", "--temperature", "weight decay",
                                "gradient clip"};
    for (int i = 0; i < 5; i++) /* bit for bit: the run must continue exactly */
        if (memcmp(&hf[i], &wf[i], sizeof(float)) != 0)
            return calgae_fail(err, err_len, "%s: checkpoint made with %s %g, this run has %g",
                               name, nf[i], (double)hf[i], (double)wf[i]);
    if (have->seed != want->seed)
        return calgae_fail(err, err_len, "%s: checkpoint made with --seed %llu, this run has "
                           "%llu", name, (unsigned long long)have->seed,
                           (unsigned long long)want->seed);
    if (have->teacher_hash != want->teacher_hash)
        return calgae_fail(err, err_len, "%s: checkpoint made with another teacher (weights "
                           "differ)", name);
    if (have->student_hash != want->student_hash)
        return calgae_fail(err, err_len, "%s: checkpoint made with another --student (weights "
                           "differ)", name);
    if (have->n_train != want->n_train || have->train_hash != want->train_hash)
        return calgae_fail(err, err_len, "%s: checkpoint made with another --data text (%llu "
                           "tokens, this run has %llu)", name,
                           (unsigned long long)have->n_train, (unsigned long long)want->n_train);
    return 0;
}
