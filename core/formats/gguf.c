/*
 * gguf.c - GGUF v2/v3 reader, following ggml's docs/gguf.md (the v3 layout: u64 counts and
 * string lengths, tensor infos as name, n_dims u32, ne u64[n_dims], type u32, offset u64,
 * data section at the end of the tensor infos padded to general.alignment, default 32).
 *
 * Files are untrusted input. Every read is bounds-checked against the map, and every count is
 * compared with the bytes that remain before anything is allocated, so a hostile header cannot
 * make us allocate more than a small multiple of the file's size. Choices beyond the spec:
 *   - every dimension must be >= 1 (empty tensors have no use here and ne 0 is a common
 *     corruption), and the element count must fit int64_t;
 *   - keys and scalar string values must be valid UTF-8 without NUL (keys are looked up as C
 *     strings); elements of string arrays are only bounds-checked, because real vocabularies
 *     store byte-level tokens that are not valid UTF-8 on their own;
 *   - duplicate keys and duplicate tensor names are rejected, as ggml does;
 *   - tensors may overlap or come in any order: only alignment and bounds are checked.
 */
#include "gguf.h"

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calgae_plugin.h"
#include "types.h"
#include "utf8.h"

#define GGUF_MAGIC "GGUF"
#define GGUF_DEFAULT_ALIGNMENT 32
#define GGUF_MAX_DIMS 4
#define GGUF_NAME_MAX (sizeof(((calgae_gguf_tensor *)0)->name) - 1)
/* Smallest encodings, used to reject counts that cannot fit in the bytes left:
 * a kv is key length u64 + 1 key byte + type u32 + a 1-byte value; a tensor info is
 * name length u64 + 1 name byte + n_dims u32 + one ne u64 + type u32 + offset u64. */
#define GGUF_MIN_KV_BYTES 14u
#define GGUF_MIN_TENSOR_INFO_BYTES 33u

/* ---- Value types ------------------------------------------------------------------------ */

static const char *const vtype_names[] = {
    "uint8", "int8", "uint16", "int16", "uint32", "int32", "float32",
    "bool", "string", "array", "uint64", "int64", "float64",
};

static const char *vtype_name(uint32_t vt)
{
    return vt < sizeof vtype_names / sizeof vtype_names[0] ? vtype_names[vt] : "unknown";
}

/* Encoded size of a fixed-size value type; 0 for strings, arrays and unknown types. */
static size_t vtype_size(uint32_t vt)
{
    static const uint8_t sizes[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    return vt < sizeof sizes ? sizes[vt] : 0;
}

/* Little-endian load, whatever the host's byte order. */
static uint64_t load_le(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = n; i-- > 0;)
        v = (v << 8) | p[i];
    return v;
}

static float bits_to_f32(uint32_t bits)
{
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static double bits_to_f64(uint64_t bits)
{
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

/* Keys, names and string values: valid UTF-8 and no NUL, since keys and names are looked up
 * and copied as C strings. len is at most the map's size, so it fits size_t. */
static int text_ok(const char *s, uint64_t len)
{
    return memchr(s, 0, (size_t)len) == NULL && calgae_utf8_valid((const uint8_t *)s, (size_t)len);
}

/* ---- Cursor over the map ---------------------------------------------------------------- */

typedef struct reader {
    const uint8_t *data;
    size_t size;
    size_t pos;
    const char *path;
    char *err;
    size_t err_len;
    char where[160]; /* what is being read, for messages: "header", "key 'x'", ... */
} reader;

static int fail(reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(reader *r, const char *fmt, ...)
{
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return calgae_fail(r->err, r->err_len, "%s: %s: %s", r->path, r->where, what);
}

/* Names an item for messages; bytes that are not printable ASCII are shown as \xNN so that a
 * hostile name cannot garble the terminal, and long names are cut. */
static void set_where(reader *r, const char *kind, const uint8_t *s, uint64_t len)
{
    char *o = r->where;
    size_t cap = sizeof r->where;
    int n = snprintf(o, cap, "%s '", kind);
    size_t at = n > 0 ? (size_t)n : 0;
    for (uint64_t i = 0; i < len && at + 8 < cap; i++) {
        if (i == 64) {
            at += (size_t)snprintf(o + at, cap - at, "...");
            break;
        }
        if (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '\'')
            o[at++] = (char)s[i];
        else
            at += (size_t)snprintf(o + at, cap - at, "\\x%02x", s[i]);
    }
    snprintf(o + at, cap - at, "'");
}

static size_t bytes_left(const reader *r)
{
    return r->size - r->pos;
}

static int need(reader *r, size_t n, const char *what)
{
    if (n <= bytes_left(r))
        return 0;
    return fail(r, "truncated: %s needs %zu bytes at offset %zu, %zu left", what, n, r->pos,
                bytes_left(r));
}

static int read_uint(reader *r, size_t n, uint64_t *out, const char *what)
{
    if (need(r, n, what) != 0)
        return -1;
    *out = load_le(r->data + r->pos, n);
    r->pos += n;
    return 0;
}

static int read_u32(reader *r, uint32_t *out, const char *what)
{
    uint64_t v;
    if (read_uint(r, 4, &v, what) != 0)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

static int read_str(reader *r, calgae_gguf_str *s, const char *what)
{
    uint64_t len;
    if (read_uint(r, 8, &len, what) != 0)
        return -1;
    if (len > bytes_left(r))
        return fail(r, "%s length %" PRIu64 " exceeds the %zu bytes left (truncated or corrupt)",
                    what, len, bytes_left(r));
    s->ptr = (const char *)r->data + r->pos;
    s->len = len;
    r->pos += (size_t)len;
    return 0;
}

/* ---- Metadata --------------------------------------------------------------------------- */

/* A fixed-size or string value of type vt into kv->v. */
static int read_scalar(reader *r, uint32_t vt, calgae_gguf_kv *kv)
{
    if (vt == CALGAE_GGUF_STRING) {
        if (read_str(r, &kv->v.s, "string value") != 0)
            return -1;
        if (!text_ok(kv->v.s.ptr, kv->v.s.len))
            return fail(r, "string value is not valid UTF-8 or has a NUL byte");
        return 0;
    }
    size_t n = vtype_size(vt);
    if (n == 0)
        return fail(r, "unknown value type %" PRIu32, vt);
    uint64_t raw;
    if (read_uint(r, n, &raw, "value") != 0)
        return -1;
    switch (vt) {
    case CALGAE_GGUF_INT8: kv->v.i = (int8_t)raw; break;
    case CALGAE_GGUF_INT16: kv->v.i = (int16_t)raw; break;
    case CALGAE_GGUF_INT32: kv->v.i = (int32_t)raw; break;
    case CALGAE_GGUF_INT64: kv->v.i = (int64_t)raw; break;
    case CALGAE_GGUF_FLOAT32: kv->v.f = bits_to_f32((uint32_t)raw); break;
    case CALGAE_GGUF_FLOAT64: kv->v.f = bits_to_f64(raw); break;
    case CALGAE_GGUF_BOOL:
        if (raw > 1)
            return fail(r, "bool value %" PRIu64 " is neither 0 nor 1", raw);
        kv->v.u = raw;
        break;
    default: kv->v.u = raw; break;
    }
    return 0;
}

static int read_array(reader *r, calgae_gguf_kv *kv)
{
    if (read_u32(r, &kv->arr_type, "array element type") != 0)
        return -1;
    if (kv->arr_type == CALGAE_GGUF_ARRAY)
        return fail(r, "nested arrays are not supported");
    if (read_uint(r, 8, &kv->arr_len, "array length") != 0)
        return -1;
    size_t elem = kv->arr_type == CALGAE_GGUF_STRING ? 8 : vtype_size(kv->arr_type);
    if (elem == 0)
        return fail(r, "unknown array element type %" PRIu32, kv->arr_type);
    if (kv->arr_len > bytes_left(r) / elem)
        return fail(r, "array length %" PRIu64 " of %s is too large for the %zu bytes left "
                    "(truncated or corrupt)", kv->arr_len, vtype_name(kv->arr_type),
                    bytes_left(r));
    if (kv->arr_type != CALGAE_GGUF_STRING) {
        kv->arr_data = r->data + r->pos;
        r->pos += (size_t)kv->arr_len * elem;
        if (kv->arr_type != CALGAE_GGUF_BOOL)
            return 0;
        for (uint64_t i = 0; i < kv->arr_len; i++)
            if (kv->arr_data[i] > 1)
                return fail(r, "bool element %" PRIu64 " is %u, neither 0 nor 1", i,
                            kv->arr_data[i]);
        return 0;
    }
    if (kv->arr_len == 0)
        return 0;
    kv->arr_strs = calloc((size_t)kv->arr_len, sizeof *kv->arr_strs);
    if (!kv->arr_strs)
        return fail(r, "out of memory for %" PRIu64 " strings", kv->arr_len);
    for (uint64_t i = 0; i < kv->arr_len; i++)
        if (read_str(r, &kv->arr_strs[i], "string element") != 0)
            return -1;
    return 0;
}

static int read_kv(reader *r, calgae_gguf_kv *kv, uint64_t index)
{
    snprintf(r->where, sizeof r->where, "metadata entry %" PRIu64, index);
    if (read_str(r, &kv->key, "key") != 0)
        return -1;
    const uint8_t *key = (const uint8_t *)kv->key.ptr;
    set_where(r, "key", key, kv->key.len);
    if (kv->key.len == 0)
        return fail(r, "empty key");
    if (!text_ok(kv->key.ptr, kv->key.len))
        return fail(r, "key is not valid UTF-8 or has a NUL byte");
    if (read_u32(r, &kv->type, "value type") != 0)
        return -1;
    if (kv->type == CALGAE_GGUF_ARRAY)
        return read_array(r, kv);
    return read_scalar(r, kv->type, kv);
}

/* ---- Duplicate names ------------------------------------------------------------------ */

static int cmp_str(const void *pa, const void *pb)
{
    const calgae_gguf_str *a = pa, *b = pb;
    int c = memcmp(a->ptr, b->ptr, (size_t)(a->len < b->len ? a->len : b->len));
    return c != 0 ? c : (a->len > b->len) - (a->len < b->len);
}

/* Whether some name occurs twice (then *dup is one); sorting rather than comparing pairs keeps
 * a hostile file with millions of entries at O(n log n). */
static int find_duplicate(calgae_gguf_str *names, size_t n, calgae_gguf_str *dup)
{
    qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 1; i < n; i++) {
        if (cmp_str(&names[i - 1], &names[i]) == 0) {
            *dup = names[i];
            return 1;
        }
    }
    return 0;
}

static int check_duplicates(reader *r, const calgae_gguf *g)
{
    size_t n = (size_t)(g->n_kv > g->n_tensors ? g->n_kv : g->n_tensors);
    if (n < 2)
        return 0;
    calgae_gguf_str *names = malloc(n * sizeof *names), dup;
    if (!names)
        return calgae_fail(r->err, r->err_len, "%s: out of memory", r->path);
    int rc = 0;
    for (size_t i = 0; i < g->n_kv; i++)
        names[i] = g->kv[i].key;
    if (find_duplicate(names, (size_t)g->n_kv, &dup)) {
        set_where(r, "key", (const uint8_t *)dup.ptr, dup.len);
        rc = fail(r, "duplicate key");
    }
    for (size_t i = 0; i < g->n_tensors; i++)
        names[i] = (calgae_gguf_str){g->tensors[i].name, strlen(g->tensors[i].name)};
    if (rc == 0 && find_duplicate(names, (size_t)g->n_tensors, &dup)) {
        set_where(r, "tensor", (const uint8_t *)dup.ptr, dup.len);
        rc = fail(r, "duplicate tensor name");
    }
    free(names);
    return rc;
}

/* ---- Tensor infos ----------------------------------------------------------------------- */

static int read_tensor_info(reader *r, calgae_gguf_tensor *t, uint64_t index)
{
    snprintf(r->where, sizeof r->where, "tensor info %" PRIu64, index);
    calgae_gguf_str name;
    if (read_str(r, &name, "tensor name") != 0)
        return -1;
    set_where(r, "tensor", (const uint8_t *)name.ptr, name.len);
    if (name.len == 0)
        return fail(r, "empty tensor name");
    if (name.len > GGUF_NAME_MAX)
        return fail(r, "name is %" PRIu64 " bytes, longer than %zu", name.len, GGUF_NAME_MAX);
    if (!text_ok(name.ptr, name.len))
        return fail(r, "name is not valid UTF-8 or has a NUL byte");
    memcpy(t->name, name.ptr, (size_t)name.len);
    t->name[name.len] = '\0';

    if (read_u32(r, &t->n_dims, "n_dims") != 0)
        return -1;
    if (t->n_dims < 1 || t->n_dims > GGUF_MAX_DIMS)
        return fail(r, "n_dims %" PRIu32 " is not in 1..%d", t->n_dims, GGUF_MAX_DIMS);
    int64_t count = 1;
    for (uint32_t j = 0; j < GGUF_MAX_DIMS; j++) {
        uint64_t ne = 1;
        if (j < t->n_dims && read_uint(r, 8, &ne, "ne") != 0)
            return -1;
        if (ne == 0)
            return fail(r, "ne[%" PRIu32 "] is 0 (empty tensors are not supported)", j);
        if (ne > (uint64_t)INT64_MAX)
            return fail(r, "ne[%" PRIu32 "] = %" PRIu64 " is too large", j, ne);
        if ((int64_t)ne > INT64_MAX / count)
            return fail(r, "element count overflows int64");
        t->ne[j] = (int64_t)ne;
        count *= (int64_t)ne;
    }

    if (read_u32(r, &t->type, "tensor type") != 0)
        return -1;
    const calgae_type_info *ti = calgae_type_traits(t->type);
    if (!ti)
        return fail(r, "unknown tensor type %" PRIu32, t->type);
    if (t->ne[0] % ti->blck_size != 0)
        return fail(r, "ne[0] = %" PRId64 " is not a multiple of %" PRId64 ", the block size of %s",
                    t->ne[0], ti->blck_size, ti->name);
    size_t row;
    if (calgae_type_row_bytes(t->type, t->ne[0], &row) != 0 ||
        calgae_mul_size(row, (size_t)(count / t->ne[0]), &t->nbytes) != 0)
        return fail(r, "tensor size in bytes overflows");
    return read_uint(r, 8, &t->offset, "tensor offset");
}

/* general.alignment, if present, as a nonzero power of two (any integer type that fits). */
static int read_alignment(reader *r, calgae_gguf *g)
{
    g->alignment = GGUF_DEFAULT_ALIGNMENT;
    const calgae_gguf_kv *kv = calgae_gguf_find_kv(g, "general.alignment");
    if (!kv)
        return 0;
    snprintf(r->where, sizeof r->where, "key 'general.alignment'");
    uint32_t a = 0;
    int rc = calgae_gguf_get_u32(g, "general.alignment", &a, r->path, r->err, r->err_len);
    if (rc != 0)
        return -1;
    if (a == 0 || (a & (a - 1)) != 0)
        return fail(r, "alignment %" PRIu32 " is not a nonzero power of two", a);
    g->alignment = a;
    return 0;
}

/* Data section start, then each tensor's place inside the file. */
static int place_tensors(reader *r, calgae_gguf *g)
{
    size_t a = g->alignment;
    if (r->pos > SIZE_MAX - (a - 1))
        return fail(r, "data section offset overflows");
    g->data_offset = (r->pos + (a - 1)) & ~(a - 1);
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        calgae_gguf_tensor *t = &g->tensors[i];
        set_where(r, "tensor", (const uint8_t *)t->name, strlen(t->name));
        if (t->offset % a != 0)
            return fail(r, "offset %" PRIu64 " is not a multiple of the alignment %zu",
                        t->offset, a);
        size_t room = g->data_offset <= r->size ? r->size - g->data_offset : 0;
        if (g->data_offset > r->size || t->offset > room || t->nbytes > room - t->offset)
            return fail(r, "%zu bytes of data at offset %" PRIu64 " of the data section "
                        "(file offset %zu) extend beyond the end of the file (%zu bytes; "
                        "truncated?)", t->nbytes, t->offset, g->data_offset, r->size);
        t->data = r->data + g->data_offset + t->offset;
    }
    return 0;
}

static int read_header(reader *r, calgae_gguf *g)
{
    snprintf(r->where, sizeof r->where, "header");
    if (r->size == 0)
        return fail(r, "file is empty");
    if (need(r, 4, "magic") != 0)
        return -1;
    if (memcmp(r->data, GGUF_MAGIC, 4) != 0)
        return fail(r, "bad magic %02x %02x %02x %02x, not a GGUF file", r->data[0],
                    r->data[1], r->data[2], r->data[3]);
    r->pos = 4;
    if (read_u32(r, &g->version, "version") != 0)
        return -1;
    if (g->version == 1)
        return fail(r, "GGUF version 1 (32-bit counts) is not supported, only 2 and 3");
    if (g->version == 0x02000000u || g->version == 0x03000000u)
        return fail(r, "big-endian GGUF is not supported");
    if (g->version != 2 && g->version != 3)
        return fail(r, "unsupported GGUF version %" PRIu32 ", only 2 and 3", g->version);
    uint64_t n_tensors, n_kv;
    if (read_uint(r, 8, &n_tensors, "tensor count") != 0 ||
        read_uint(r, 8, &n_kv, "metadata count") != 0)
        return -1;
    if (n_kv > bytes_left(r) / GGUF_MIN_KV_BYTES)
        return fail(r, "n_kv %" PRIu64 " is too large for the %zu bytes left "
                    "(truncated or corrupt)", n_kv, bytes_left(r));
    if (n_tensors > bytes_left(r) / GGUF_MIN_TENSOR_INFO_BYTES)
        return fail(r, "n_tensors %" PRIu64 " is too large for the %zu bytes left "
                    "(truncated or corrupt)", n_tensors, bytes_left(r));
    /* the counts are only stored once their arrays exist, so close() never overruns them */
    if (n_kv > 0 && !(g->kv = calloc((size_t)n_kv, sizeof *g->kv)))
        return fail(r, "out of memory for %" PRIu64 " metadata entries", n_kv);
    g->n_kv = n_kv;
    if (n_tensors > 0 && !(g->tensors = calloc((size_t)n_tensors, sizeof *g->tensors)))
        return fail(r, "out of memory for %" PRIu64 " tensors", n_tensors);
    g->n_tensors = n_tensors;
    return 0;
}

static int parse(reader *r, calgae_gguf *g)
{
    if (read_header(r, g) != 0)
        return -1;
    for (uint64_t i = 0; i < g->n_kv; i++)
        if (read_kv(r, &g->kv[i], i) != 0)
            return -1;
    if (read_alignment(r, g) != 0)
        return -1;
    for (uint64_t i = 0; i < g->n_tensors; i++)
        if (read_tensor_info(r, &g->tensors[i], i) != 0)
            return -1;
    if (check_duplicates(r, g) != 0)
        return -1;
    return place_tensors(r, g);
}

int calgae_gguf_open(calgae_gguf *g, const char *path, char *err, size_t err_len)
{
    memset(g, 0, sizeof *g);
    if (calgae_map_file(&g->map, path, err, err_len) != 0)
        return -1;
    reader r = {
        .data = g->map.data, .size = g->map.size, .path = path, .err = err, .err_len = err_len,
    };
    if (parse(&r, g) != 0) {
        calgae_gguf_close(g);
        return -1;
    }
    return 0;
}

void calgae_gguf_close(calgae_gguf *g)
{
    for (uint64_t i = 0; i < g->n_kv; i++)
        free(g->kv[i].arr_strs);
    free(g->kv);
    free(g->tensors);
    calgae_unmap(&g->map);
    memset(g, 0, sizeof *g);
}

/* ---- Lookups and typed getters ---------------------------------------------------------- */

const calgae_gguf_kv *calgae_gguf_find_kv(const calgae_gguf *g, const char *key)
{
    size_t len = strlen(key);
    for (uint64_t i = 0; i < g->n_kv; i++) {
        const calgae_gguf_kv *kv = &g->kv[i];
        if (kv->key.len == len && memcmp(kv->key.ptr, key, len) == 0)
            return kv;
    }
    return NULL;
}

const calgae_gguf_tensor *calgae_gguf_find_tensor(const calgae_gguf *g, const char *name)
{
    for (uint64_t i = 0; i < g->n_tensors; i++)
        if (strcmp(g->tensors[i].name, name) == 0)
            return &g->tensors[i];
    return NULL;
}

int calgae_gguf_get_u32(const calgae_gguf *g, const char *key, uint32_t *out,
                        const char *path, char *err, size_t err_len)
{
    const calgae_gguf_kv *kv = calgae_gguf_find_kv(g, key);
    if (!kv)
        return 1;
    switch (kv->type) {
    case CALGAE_GGUF_UINT8: case CALGAE_GGUF_UINT16: case CALGAE_GGUF_UINT32:
    case CALGAE_GGUF_UINT64:
        if (kv->v.u > UINT32_MAX)
            break;
        *out = (uint32_t)kv->v.u;
        return 0;
    case CALGAE_GGUF_INT8: case CALGAE_GGUF_INT16: case CALGAE_GGUF_INT32:
    case CALGAE_GGUF_INT64:
        if (kv->v.i < 0 || kv->v.i > (int64_t)UINT32_MAX)
            break;
        *out = (uint32_t)kv->v.i;
        return 0;
    default:
        return calgae_fail(err, err_len, "%s: key '%s' has type %s, expected an integer", path,
                           key, vtype_name(kv->type));
    }
    return calgae_fail(err, err_len, "%s: key '%s': value out of range for uint32", path, key);
}

int calgae_gguf_get_f32(const calgae_gguf *g, const char *key, float *out,
                        const char *path, char *err, size_t err_len)
{
    const calgae_gguf_kv *kv = calgae_gguf_find_kv(g, key);
    if (!kv)
        return 1;
    if (kv->type != CALGAE_GGUF_FLOAT32 && kv->type != CALGAE_GGUF_FLOAT64)
        return calgae_fail(err, err_len, "%s: key '%s' has type %s, expected a float", path,
                           key, vtype_name(kv->type));
    if (isfinite(kv->v.f) && fabs(kv->v.f) > FLT_MAX)
        return calgae_fail(err, err_len, "%s: key '%s': value %g out of range for float32",
                           path, key, kv->v.f);
    *out = (float)kv->v.f;
    return 0;
}

int calgae_gguf_get_str(const calgae_gguf *g, const char *key, calgae_gguf_str *out,
                        const char *path, char *err, size_t err_len)
{
    const calgae_gguf_kv *kv = calgae_gguf_find_kv(g, key);
    if (!kv)
        return 1;
    if (kv->type != CALGAE_GGUF_STRING)
        return calgae_fail(err, err_len, "%s: key '%s' has type %s, expected a string", path,
                           key, vtype_name(kv->type));
    *out = kv->v.s;
    return 0;
}

/* Elements may be unaligned in the map, hence byte loads. Other numeric element types are
 * converted so callers need not care whether a converter stored int32 or uint32. */
float calgae_gguf_arr_f32(const calgae_gguf_kv *kv, uint64_t i)
{
    if (kv->arr_type == CALGAE_GGUF_FLOAT64)
        return (float)bits_to_f64(load_le(kv->arr_data + i * 8, 8));
    if (kv->arr_type == CALGAE_GGUF_FLOAT32)
        return bits_to_f32((uint32_t)load_le(kv->arr_data + i * 4, 4));
    return (float)calgae_gguf_arr_i32(kv, i);
}

int32_t calgae_gguf_arr_i32(const calgae_gguf_kv *kv, uint64_t i)
{
    size_t n = vtype_size(kv->arr_type);
    if (n == 0 || kv->arr_type == CALGAE_GGUF_FLOAT32 || kv->arr_type == CALGAE_GGUF_FLOAT64)
        return 0;
    uint64_t raw = load_le(kv->arr_data + i * n, n);
    switch (kv->arr_type) {
    case CALGAE_GGUF_INT8: return (int8_t)raw;
    case CALGAE_GGUF_INT16: return (int16_t)raw;
    default: return (int32_t)raw; /* the 32- and 64-bit types keep their low 32 bits */
    }
}

int calgae_gguf_probe(const char *path, char *err, size_t err_len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return calgae_fail(err, err_len, "%s: cannot open: %s", path, strerror(errno));
    unsigned char magic[4];
    size_t n = fread(magic, 1, sizeof magic, f);
    fclose(f);
    return n == sizeof magic && memcmp(magic, GGUF_MAGIC, 4) == 0;
}
