/*
 * gguf_write.c - GGUF v3 writer, following ggml's docs/gguf.md: header, metadata in the order
 * added, tensor infos, then the data section, padded with zeros so that it and every tensor
 * start at a multiple of 32 (the default alignment, so general.alignment is not written).
 *
 * The file is built in a temporary file next to the target (same file system, so rename is
 * atomic) and renamed into place only once everything is written and synced: a reader never
 * sees a half-written model, and a failure leaves whatever was at the path untouched.
 *
 * The add functions check their arguments against what our reader accepts. A failed add is
 * remembered, and calgae_gguf_write then refuses with its reason, so that ignoring one return
 * value cannot produce a file that silently lacks an entry.
 */
#define _POSIX_C_SOURCE 200809L
#include "gguf.h"
#include "utf8.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define WRITE_ALIGNMENT 32
#define NAME_MAX_BYTES 95

typedef struct wkv {
    char *key;
    uint32_t type;      /* enum calgae_gguf_vtype */
    uint64_t scalar;    /* bit pattern of a u32/i32/f32/bool value */
    char *str;          /* string value */
    uint32_t arr_type;
    uint64_t arr_len;
    uint32_t *arr_bits; /* f32/i32 elements as bit patterns */
    char **arr_strs;
} wkv;

typedef struct wtensor {
    char name[NAME_MAX_BYTES + 1];
    uint32_t type;
    uint32_t n_dims;
    int64_t ne[4];
    const void *data;
    size_t nbytes;
    uint64_t offset;
} wtensor;

struct calgae_gguf_writer {
    wkv *kv;
    size_t n_kv, cap_kv;
    wtensor *t;
    size_t n_t, cap_t;
    char error[256]; /* first failed add, empty if none */
};

/* Records the first failure for calgae_gguf_write and returns -1. */
static int refuse(calgae_gguf_writer *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int refuse(calgae_gguf_writer *w, const char *fmt, ...)
{
    if (w && w->error[0] == '\0') {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(w->error, sizeof w->error, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* The reader's rule for keys, names and string values (a C string has no NUL inside). */
static int utf8_ok(const char *s)
{
    return calgae_utf8_valid((const uint8_t *)s, strlen(s));
}

calgae_gguf_writer *calgae_gguf_writer_new(void)
{
    return calloc(1, sizeof(calgae_gguf_writer));
}

static void free_kv(wkv *kv)
{
    free(kv->key);
    free(kv->str);
    free(kv->arr_bits);
    for (uint64_t i = 0; kv->arr_strs && i < kv->arr_len; i++)
        free(kv->arr_strs[i]);
    free(kv->arr_strs);
}

void calgae_gguf_writer_free(calgae_gguf_writer *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->n_kv; i++)
        free_kv(&w->kv[i]);
    free(w->kv);
    free(w->t);
    free(w);
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

/* Grows *arr to hold one more element of size elem. */
static int reserve(void **arr, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap)
        return 0;
    size_t want = *cap ? *cap * 2 : 16;
    if (want > SIZE_MAX / elem)
        return -1;
    void *p = realloc(*arr, want * elem);
    if (!p)
        return -1;
    *arr = p;
    *cap = want;
    return 0;
}

/* A new entry for key at the end of w->kv, or NULL (reason recorded). */
static wkv *new_kv(calgae_gguf_writer *w, const char *key, uint32_t type)
{
    if (!w)
        return NULL;
    if (!key || !key[0] || !utf8_ok(key)) {
        refuse(w, "metadata key is empty, missing or not valid UTF-8");
        return NULL;
    }
    for (size_t i = 0; i < w->n_kv; i++) {
        if (strcmp(w->kv[i].key, key) == 0) {
            refuse(w, "duplicate metadata key '%s'", key);
            return NULL;
        }
    }
    char *copy = dup_str(key);
    if (!copy || reserve((void **)&w->kv, &w->cap_kv, w->n_kv, sizeof *w->kv) != 0) {
        free(copy);
        refuse(w, "out of memory adding key '%s'", key);
        return NULL;
    }
    wkv *kv = &w->kv[w->n_kv++];
    memset(kv, 0, sizeof *kv);
    kv->key = copy;
    kv->type = type;
    return kv;
}

/* Undoes new_kv when filling in the value fails. */
static int drop_last_kv(calgae_gguf_writer *w, const char *why)
{
    wkv *kv = &w->kv[--w->n_kv];
    refuse(w, "key '%s': %s", kv->key, why);
    free_kv(kv);
    return -1;
}

static int add_scalar(calgae_gguf_writer *w, const char *key, uint32_t type, uint64_t bits)
{
    wkv *kv = new_kv(w, key, type);
    if (!kv)
        return -1;
    kv->scalar = bits;
    return 0;
}

int calgae_gguf_add_str(calgae_gguf_writer *w, const char *key, const char *value)
{
    if (!value || !utf8_ok(value))
        return refuse(w, "key '%s': string value missing or not valid UTF-8", key ? key : "");
    wkv *kv = new_kv(w, key, CALGAE_GGUF_STRING);
    if (!kv)
        return -1;
    kv->str = dup_str(value);
    return kv->str ? 0 : drop_last_kv(w, "out of memory");
}

int calgae_gguf_add_u32(calgae_gguf_writer *w, const char *key, uint32_t value)
{
    return add_scalar(w, key, CALGAE_GGUF_UINT32, value);
}

int calgae_gguf_add_i32(calgae_gguf_writer *w, const char *key, int32_t value)
{
    return add_scalar(w, key, CALGAE_GGUF_INT32, (uint32_t)value);
}

int calgae_gguf_add_f32(calgae_gguf_writer *w, const char *key, float value)
{
    uint32_t bits;
    memcpy(&bits, &value, sizeof bits);
    return add_scalar(w, key, CALGAE_GGUF_FLOAT32, bits);
}

int calgae_gguf_add_bool(calgae_gguf_writer *w, const char *key, int value)
{
    return add_scalar(w, key, CALGAE_GGUF_BOOL, value != 0);
}

int calgae_gguf_add_arr_str(calgae_gguf_writer *w, const char *key, const char *const *values,
                            uint64_t n)
{
    if (n > 0 && !values)
        return refuse(w, "key '%s': no values", key ? key : "");
    wkv *kv = new_kv(w, key, CALGAE_GGUF_ARRAY);
    if (!kv)
        return -1;
    kv->arr_type = CALGAE_GGUF_STRING;
    if (n == 0)
        return 0;
    if (n > SIZE_MAX / sizeof(char *) || !(kv->arr_strs = calloc((size_t)n, sizeof(char *))))
        return drop_last_kv(w, "out of memory");
    kv->arr_len = n; /* set now so that free_kv frees what was copied so far */
    for (uint64_t i = 0; i < n; i++) {
        if (!values[i])
            return drop_last_kv(w, "missing string element");
        if (!(kv->arr_strs[i] = dup_str(values[i])))
            return drop_last_kv(w, "out of memory");
    }
    return 0;
}

/* f32 and i32 arrays: both are 4-byte elements kept as bit patterns. */
static int add_arr32(calgae_gguf_writer *w, const char *key, uint32_t type, const void *values,
                     uint64_t n)
{
    if (n > 0 && !values)
        return refuse(w, "key '%s': no values", key ? key : "");
    wkv *kv = new_kv(w, key, CALGAE_GGUF_ARRAY);
    if (!kv)
        return -1;
    kv->arr_type = type;
    if (n == 0)
        return 0;
    if (n > SIZE_MAX / 4 || !(kv->arr_bits = malloc((size_t)n * 4)))
        return drop_last_kv(w, "out of memory");
    memcpy(kv->arr_bits, values, (size_t)n * 4);
    kv->arr_len = n;
    return 0;
}

int calgae_gguf_add_arr_f32(calgae_gguf_writer *w, const char *key, const float *values,
                            uint64_t n)
{
    return add_arr32(w, key, CALGAE_GGUF_FLOAT32, values, n);
}

int calgae_gguf_add_arr_i32(calgae_gguf_writer *w, const char *key, const int32_t *values,
                            uint64_t n)
{
    return add_arr32(w, key, CALGAE_GGUF_INT32, values, n);
}

int calgae_gguf_add_tensor(calgae_gguf_writer *w, const char *name, uint32_t type,
                           uint32_t n_dims, const int64_t *ne, const void *data, size_t nbytes)
{
    if (!w)
        return -1;
    size_t len = name ? strlen(name) : 0;
    if (len == 0 || len > NAME_MAX_BYTES || !utf8_ok(name))
        return refuse(w, "tensor name is empty, longer than %d bytes or not valid UTF-8",
                      NAME_MAX_BYTES);
    if (n_dims < 1 || n_dims > 4 || !ne)
        return refuse(w, "tensor '%s': n_dims %u is not in 1..4", name, (unsigned)n_dims);
    for (size_t i = 0; i < w->n_t; i++)
        if (strcmp(w->t[i].name, name) == 0)
            return refuse(w, "duplicate tensor name '%s'", name);
    wtensor t = {.type = type, .n_dims = n_dims, .data = data, .nbytes = nbytes};
    memcpy(t.name, name, len + 1);
    int64_t rows = 1;
    for (uint32_t j = 0; j < 4; j++) {
        t.ne[j] = j < n_dims ? ne[j] : 1;
        if (t.ne[j] < 1 || (j > 0 && t.ne[j] > INT64_MAX / rows))
            return refuse(w, "tensor '%s': bad or overflowing dimension ne[%u]", name,
                          (unsigned)j);
        if (j > 0)
            rows *= t.ne[j];
    }
    size_t row, want;
    if (calgae_type_row_bytes(type, t.ne[0], &row) != 0 ||
        calgae_mul_size(row, (size_t)rows, &want) != 0)
        return refuse(w, "tensor '%s': type %u cannot hold rows of %lld elements", name,
                      (unsigned)type, (long long)t.ne[0]);
    if (want != nbytes || (nbytes > 0 && !data))
        return refuse(w, "tensor '%s': %zu bytes given, %s %lld x %lld needs %zu", name, nbytes,
                      calgae_type_name(type), (long long)t.ne[0], (long long)rows, want);
    if (reserve((void **)&w->t, &w->cap_t, w->n_t, sizeof *w->t) != 0)
        return refuse(w, "out of memory adding tensor '%s'", name);
    w->t[w->n_t++] = t;
    return 0;
}

/* ---- Serialization ---------------------------------------------------------------------- */

/* A FILE with a running byte count and a sticky error flag, so that the writing code reads
 * straight through and the result is checked once. */
typedef struct sink {
    FILE *f;
    uint64_t pos;
    int err; /* errno of the first failed write, 0 if none */
} sink;

static void put(sink *s, const void *p, size_t n)
{
    if (n > 0 && s->err == 0 && fwrite(p, 1, n, s->f) != n)
        s->err = errno ? errno : EIO;
    s->pos += n;
}

/* Little-endian, whatever the host's byte order. */
static void put_le(sink *s, uint64_t v, size_t n)
{
    uint8_t b[8];
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    put(s, b, n);
}

static void put_str(sink *s, const char *str)
{
    size_t n = strlen(str);
    put_le(s, n, 8);
    put(s, str, n);
}

static void put_pad(sink *s)
{
    static const uint8_t zeros[WRITE_ALIGNMENT];
    put(s, zeros, (size_t)((WRITE_ALIGNMENT - s->pos % WRITE_ALIGNMENT) % WRITE_ALIGNMENT));
}

static void put_kv(sink *s, const wkv *kv)
{
    put_str(s, kv->key);
    put_le(s, kv->type, 4);
    switch (kv->type) {
    case CALGAE_GGUF_STRING:
        put_str(s, kv->str);
        return;
    case CALGAE_GGUF_BOOL:
        put_le(s, kv->scalar, 1);
        return;
    case CALGAE_GGUF_ARRAY:
        break;
    default:
        put_le(s, kv->scalar, 4);
        return;
    }
    put_le(s, kv->arr_type, 4);
    put_le(s, kv->arr_len, 8);
    for (uint64_t i = 0; i < kv->arr_len; i++) {
        if (kv->arr_type == CALGAE_GGUF_STRING)
            put_str(s, kv->arr_strs[i]);
        else
            put_le(s, kv->arr_bits[i], 4);
    }
}

static void put_file(sink *s, calgae_gguf_writer *w)
{
    put(s, "GGUF", 4);
    put_le(s, 3, 4);
    put_le(s, w->n_t, 8);
    put_le(s, w->n_kv, 8);
    for (size_t i = 0; i < w->n_kv; i++)
        put_kv(s, &w->kv[i]);
    uint64_t offset = 0;
    for (size_t i = 0; i < w->n_t; i++) {
        wtensor *t = &w->t[i];
        t->offset = offset;
        offset += t->nbytes + (WRITE_ALIGNMENT - t->nbytes % WRITE_ALIGNMENT) % WRITE_ALIGNMENT;
        put_str(s, t->name);
        put_le(s, t->n_dims, 4);
        for (uint32_t j = 0; j < t->n_dims; j++)
            put_le(s, (uint64_t)t->ne[j], 8);
        put_le(s, t->type, 4);
        put_le(s, t->offset, 8);
    }
    put_pad(s);
    for (size_t i = 0; i < w->n_t; i++) {
        put(s, w->t[i].data, w->t[i].nbytes);
        put_pad(s);
    }
}

static int fill_gguf(FILE *f, void *w)
{
    sink s = {.f = f};
    put_file(&s, w);
    return s.err;
}

int calgae_gguf_write(calgae_gguf_writer *w, const char *path, char *err, size_t err_len)
{
    if (!w)
        return calgae_fail(err, err_len, "%s: no writer", path);
    if (w->error[0])
        return calgae_fail(err, err_len, "%s: not written: %s", path, w->error);
    return calgae_write_atomic(path, NULL, fill_gguf, w, err, err_len);
}
