/*
 * gguf.h - reader and writer for GGUF v2/v3, the llama.cpp model format
 * (ggml's docs/gguf.md): header, typed key/value metadata, tensor infos, aligned tensor data.
 *
 * The reader memory-maps the file and validates everything before returning: counts and
 * string lengths against the bytes that remain, value types, tensor dimensions, element
 * counts (overflow-checked), tensor types, alignment and that every tensor's data lies inside
 * the file. Strings and tensor data point into the map; nothing is copied.
 */
#ifndef CALGAE_GGUF_H
#define CALGAE_GGUF_H

#include <stddef.h>
#include <stdint.h>

#include "types.h" /* tensor types: the type table's ids, names and sizes */
#include "util.h"

enum calgae_gguf_vtype {
    CALGAE_GGUF_UINT8 = 0,
    CALGAE_GGUF_INT8 = 1,
    CALGAE_GGUF_UINT16 = 2,
    CALGAE_GGUF_INT16 = 3,
    CALGAE_GGUF_UINT32 = 4,
    CALGAE_GGUF_INT32 = 5,
    CALGAE_GGUF_FLOAT32 = 6,
    CALGAE_GGUF_BOOL = 7,
    CALGAE_GGUF_STRING = 8,
    CALGAE_GGUF_ARRAY = 9,
    CALGAE_GGUF_UINT64 = 10,
    CALGAE_GGUF_INT64 = 11,
    CALGAE_GGUF_FLOAT64 = 12,
};

/* A string inside the map: not NUL-terminated. */
typedef struct calgae_gguf_str {
    const char *ptr;
    uint64_t len;
} calgae_gguf_str;

typedef struct calgae_gguf_kv {
    calgae_gguf_str key;
    uint32_t type; /* enum calgae_gguf_vtype */
    /* Scalars: integers (and bool) widened into u/i, floats into f, strings into s. */
    union {
        uint64_t u;
        int64_t i;
        double f;
        calgae_gguf_str s;
    } v;
    /* Arrays (type == CALGAE_GGUF_ARRAY): element type and count. Numeric elements start at
     * arr_data (possibly unaligned: read them with the accessors below); string elements are
     * in arr_strs (allocated by the reader). Nested arrays are rejected. */
    uint32_t arr_type;
    uint64_t arr_len;
    const uint8_t *arr_data;
    calgae_gguf_str *arr_strs;
} calgae_gguf_kv;

typedef struct calgae_gguf_tensor {
    char name[96];      /* NUL-terminated copy; longer names are rejected */
    uint32_t n_dims;    /* 1..4 */
    int64_t ne[4];      /* elements per dimension, ne[0] fastest; unused ones are 1 */
    uint32_t type;      /* enum calgae_type (ggml_type) */
    uint64_t offset;    /* from the start of the data section */
    size_t nbytes;      /* bytes of data */
    const void *data;   /* inside the map */
} calgae_gguf_tensor;

typedef struct calgae_gguf {
    calgae_map map;
    uint32_t version;
    uint64_t n_kv;
    calgae_gguf_kv *kv;
    uint64_t n_tensors;
    calgae_gguf_tensor *tensors;
    size_t alignment;   /* general.alignment or 32 */
    size_t data_offset; /* where the data section starts in the file */
} calgae_gguf;

int calgae_gguf_open(calgae_gguf *g, const char *path, char *err, size_t err_len);
void calgae_gguf_close(calgae_gguf *g);

/* Whether a file starts with GGUF's magic: 1 yes, 0 no (or shorter than 4 bytes), -1 when it
 * can't be opened (err says why). The one place that knows the magic besides the reader. */
int calgae_gguf_probe(const char *path, char *err, size_t err_len);

const calgae_gguf_kv *calgae_gguf_find_kv(const calgae_gguf *g, const char *key);
const calgae_gguf_tensor *calgae_gguf_find_tensor(const calgae_gguf *g, const char *name);

/* Typed getters. Missing key: return 1 and leave *out alone (callers apply defaults).
 * Wrong type or out of range: return -1 with a message naming path and key. Found: 0.
 * Any integer type is accepted where it fits; FLOAT32/FLOAT64 for floats. */
int calgae_gguf_get_u32(const calgae_gguf *g, const char *key, uint32_t *out,
                        const char *path, char *err, size_t err_len);
int calgae_gguf_get_f32(const calgae_gguf *g, const char *key, float *out,
                        const char *path, char *err, size_t err_len);
int calgae_gguf_get_str(const calgae_gguf *g, const char *key, calgae_gguf_str *out,
                        const char *path, char *err, size_t err_len);

/* Array element accessors (no bounds check: i < kv->arr_len is the caller's job). */
float calgae_gguf_arr_f32(const calgae_gguf_kv *kv, uint64_t i);
int32_t calgae_gguf_arr_i32(const calgae_gguf_kv *kv, uint64_t i);

/* ---- Writer ---- */

typedef struct calgae_gguf_writer calgae_gguf_writer;

calgae_gguf_writer *calgae_gguf_writer_new(void);
void calgae_gguf_writer_free(calgae_gguf_writer *w);
/* Metadata, written in the order added. Strings are copied. Return 0 or -1 (out of memory). */
int calgae_gguf_add_str(calgae_gguf_writer *w, const char *key, const char *value);
int calgae_gguf_add_u32(calgae_gguf_writer *w, const char *key, uint32_t value);
int calgae_gguf_add_i32(calgae_gguf_writer *w, const char *key, int32_t value);
int calgae_gguf_add_f32(calgae_gguf_writer *w, const char *key, float value);
int calgae_gguf_add_bool(calgae_gguf_writer *w, const char *key, int value);
int calgae_gguf_add_arr_str(calgae_gguf_writer *w, const char *key, const char *const *values,
                            uint64_t n);
int calgae_gguf_add_arr_f32(calgae_gguf_writer *w, const char *key, const float *values,
                            uint64_t n);
int calgae_gguf_add_arr_i32(calgae_gguf_writer *w, const char *key, const int32_t *values,
                            uint64_t n);
/* A tensor: data is referenced (not copied) and must stay valid until calgae_gguf_write.
 * nbytes must equal what type and ne imply. */
int calgae_gguf_add_tensor(calgae_gguf_writer *w, const char *name, uint32_t type,
                           uint32_t n_dims, const int64_t *ne, const void *data, size_t nbytes);
/* Writes a GGUF v3 file (alignment 32) to path via a temporary file in the same folder that
 * is renamed into place only when complete; on any failure no file is left at path. */
int calgae_gguf_write(calgae_gguf_writer *w, const char *path, char *err, size_t err_len);

#endif
