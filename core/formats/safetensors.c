/*
 * safetensors.c - Hugging Face's safetensors format (see safetensors.h): a bounded,
 * validating header parser over cJSON and an atomic writer.
 */
#define _GNU_SOURCE
#include "safetensors.h"

#include <cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct {
    const char *name;
    size_t size;
} dtypes[] = {{"F32", 4}, {"F16", 2}, {"BF16", 2}};

const char *calgae_st_dtype_name(int dtype)
{
    return dtype >= 0 && dtype < 3 ? dtypes[dtype].name : "?";
}

size_t calgae_st_dtype_size(int dtype)
{
    return dtype >= 0 && dtype < 3 ? dtypes[dtype].size : 0;
}

/* JSON numbers are doubles: an offset or dimension must be a whole number below 2^53, where
 * doubles are still exact. */
static int json_uint(const cJSON *j, uint64_t *out)
{
    if (!cJSON_IsNumber(j))
        return -1;
    double d = j->valuedouble;
    if (!(d >= 0 && d <= 9007199254740992.0) || d != (double)(uint64_t)d)
        return -1;
    *out = (uint64_t)d;
    return 0;
}

static int parse_tensor(calgae_st_tensor *t, const cJSON *j, size_t data_len,
                        const uint8_t *data, const char *name, char *err, size_t err_len)
{
    if (!cJSON_IsObject(j))
        return calgae_fail(err, err_len, "%s: tensor %.80s: not a JSON object", name, t->name);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(j, "dtype");
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(j, "shape");
    const cJSON *off = cJSON_GetObjectItemCaseSensitive(j, "data_offsets");
    if (!cJSON_IsString(dt) || !cJSON_IsArray(sh) || !cJSON_IsArray(off))
        return calgae_fail(err, err_len, "%s: tensor %.80s: needs a string dtype and arrays "
                           "shape and data_offsets", name, t->name);
    t->dtype = -1;
    for (int i = 0; i < 3; i++)
        if (strcmp(dt->valuestring, dtypes[i].name) == 0)
            t->dtype = i;
    if (t->dtype < 0)
        return calgae_fail(err, err_len, "%s: tensor %.80s: dtype %.20s is not supported "
                           "(F32, F16 or BF16)", name, t->name, dt->valuestring);
    int n = cJSON_GetArraySize(sh);
    if (n > CALGAE_ST_MAX_DIMS)
        return calgae_fail(err, err_len, "%s: tensor %.80s: %d dimensions (at most %d)", name,
                           t->name, n, CALGAE_ST_MAX_DIMS);
    t->n_dims = n;
    size_t elems = 1;
    int i = 0;
    for (const cJSON *d = sh->child; d; d = d->next, i++) {
        uint64_t v;
        if (json_uint(d, &v) != 0 || v > INT64_MAX ||
            calgae_mul_size(elems, (size_t)v, &elems) != 0)
            return calgae_fail(err, err_len, "%s: tensor %.80s: bad shape", name, t->name);
        t->shape[i] = (int64_t)v;
    }
    uint64_t begin, end;
    if (cJSON_GetArraySize(off) != 2 || json_uint(off->child, &begin) != 0 ||
        json_uint(off->child->next, &end) != 0 || begin > end || end > data_len)
        return calgae_fail(err, err_len, "%s: tensor %.80s: data_offsets outside the %zu bytes "
                           "of data", name, t->name, data_len);
    size_t want;
    if (calgae_mul_size(elems, dtypes[t->dtype].size, &want) != 0 || want != end - begin)
        return calgae_fail(err, err_len, "%s: tensor %.80s: %s shape needs %zu bytes, "
                           "data_offsets give %llu", name, t->name, dtypes[t->dtype].name,
                           want, (unsigned long long)(end - begin));
    t->data = data + begin;
    t->nbytes = (size_t)(end - begin);
    return 0;
}

static int by_offset(const void *a, const void *b)
{
    const calgae_st_tensor *x = a, *y = b;
    return x->data < y->data ? -1 : x->data > y->data;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const calgae_st_tensor *)a)->name, ((const calgae_st_tensor *)b)->name);
}

/* No two tensors share a byte or a name (a reader would otherwise alias weights). */
static int check_disjoint(calgae_safetensors *st, const char *name, char *err, size_t err_len)
{
    qsort(st->tensors, st->n_tensors, sizeof *st->tensors, by_name);
    for (size_t i = 1; i < st->n_tensors; i++)
        if (strcmp(st->tensors[i - 1].name, st->tensors[i].name) == 0)
            return calgae_fail(err, err_len, "%s: tensor %.80s appears twice", name,
                               st->tensors[i].name);
    qsort(st->tensors, st->n_tensors, sizeof *st->tensors, by_offset);
    for (size_t i = 1; i < st->n_tensors; i++) {
        const calgae_st_tensor *p = &st->tensors[i - 1], *t = &st->tensors[i];
        if (t->data < p->data + p->nbytes)
            return calgae_fail(err, err_len, "%s: tensors %.80s and %.80s overlap", name,
                               p->name, t->name);
    }
    qsort(st->tensors, st->n_tensors, sizeof *st->tensors, by_name);
    return 0;
}

static int parse_header(calgae_safetensors *st, const cJSON *root, const uint8_t *data,
                        size_t data_len, const char *name, char *err, size_t err_len)
{
    size_t n = 0;
    for (const cJSON *c = root->child; c; c = c->next)
        n += strcmp(c->string, "__metadata__") != 0;
    st->tensors = calloc(n ? n : 1, sizeof *st->tensors);
    if (!st->tensors)
        return calgae_fail(err, err_len, "%s: out of memory", name);
    for (const cJSON *c = root->child; c; c = c->next) {
        if (strcmp(c->string, "__metadata__") == 0) {
            if (!cJSON_IsObject(c))
                return calgae_fail(err, err_len, "%s: __metadata__ is not an object", name);
            continue;
        }
        calgae_st_tensor *t = &st->tensors[st->n_tensors];
        if (!(t->name = strdup(c->string)))
            return calgae_fail(err, err_len, "%s: out of memory", name);
        st->n_tensors++;
        if (parse_tensor(t, c, data_len, data, name, err, err_len) != 0)
            return -1;
    }
    return check_disjoint(st, name, err, err_len);
}

int calgae_safetensors_parse(calgae_safetensors *st, const uint8_t *buf, size_t len,
                             const char *name, char *err, size_t err_len)
{
    memset(st, 0, sizeof *st);
    if (len < 8)
        return calgae_fail(err, err_len, "%s: not a safetensors file: %zu bytes", name, len);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = hlen << 8 | buf[i];
    if (hlen > CALGAE_ST_MAX_HEADER)
        return calgae_fail(err, err_len, "%s: safetensors header of %llu bytes is over the "
                           "100 MB limit", name, (unsigned long long)hlen);
    if (hlen > len - 8)
        return calgae_fail(err, err_len, "%s: safetensors header of %llu bytes runs past the "
                           "end of the file (%zu bytes)", name, (unsigned long long)hlen, len);
    cJSON *root = cJSON_ParseWithLength((const char *)buf + 8, (size_t)hlen);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return calgae_fail(err, err_len, "%s: safetensors header is not a JSON object", name);
    }
    int rc = parse_header(st, root, buf + 8 + hlen, len - 8 - (size_t)hlen, name, err, err_len);
    cJSON_Delete(root);
    if (rc != 0)
        calgae_safetensors_close(st);
    return rc;
}

int calgae_safetensors_open(calgae_safetensors *st, const char *path, char *err, size_t err_len)
{
    calgae_map map;
    if (calgae_map_file(&map, path, err, err_len) != 0)
        return -1;
    if (calgae_safetensors_parse(st, map.data, map.size, path, err, err_len) != 0) {
        calgae_unmap(&map);
        return -1;
    }
    st->map = map;
    return 0;
}

void calgae_safetensors_close(calgae_safetensors *st)
{
    for (size_t i = 0; i < st->n_tensors; i++)
        free(st->tensors[i].name);
    free(st->tensors);
    calgae_unmap(&st->map);
    memset(st, 0, sizeof *st);
}

const calgae_st_tensor *calgae_safetensors_find(const calgae_safetensors *st, const char *name)
{
    calgae_st_tensor key = {.name = (char *)name};
    if (st->n_tensors == 0)
        return NULL;
    return bsearch(&key, st->tensors, st->n_tensors, sizeof key, by_name);
}

/* ---- writer ---- */

static char *header_json(const calgae_st_tensor *t, size_t n)
{
    cJSON *root = cJSON_CreateObject(), *meta = cJSON_CreateObject();
    if (!root || !meta || !cJSON_AddItemToObject(root, "__metadata__", meta)) {
        cJSON_Delete(root);
        cJSON_Delete(meta);
        return NULL;
    }
    cJSON_AddStringToObject(meta, "format", "pt");
    double off = 0;
    int ok = 1;
    for (size_t i = 0; i < n && ok; i++) {
        cJSON *o = cJSON_AddObjectToObject(root, t[i].name);
        double shape[CALGAE_ST_MAX_DIMS], offs[2] = {off, off + (double)t[i].nbytes};
        for (int d = 0; d < t[i].n_dims; d++)
            shape[d] = (double)t[i].shape[d];
        ok = o && cJSON_AddStringToObject(o, "dtype", calgae_st_dtype_name(t[i].dtype)) &&
             cJSON_AddItemToObject(o, "shape", cJSON_CreateDoubleArray(shape, t[i].n_dims)) &&
             cJSON_AddItemToObject(o, "data_offsets", cJSON_CreateDoubleArray(offs, 2));
        off += (double)t[i].nbytes;
    }
    char *s = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    return s;
}

typedef struct {
    const calgae_st_tensor *t;
    size_t n;
    const char *json;
} st_file;

/* The file: 8-byte header length, the JSON header, the tensors' bytes; 0 or an errno value. */
static int fill_st(FILE *f, void *ctx)
{
    const st_file *w = ctx;
    /* the header is padded with spaces to 8 bytes, as the reference writer does, so data that
     * starts the file's data section stays 8-byte aligned */
    size_t len = strlen(w->json), padded = (len + 7) / 8 * 8;
    uint8_t h[8];
    for (int i = 0; i < 8; i++)
        h[i] = (uint8_t)((uint64_t)padded >> (8 * i));
    if (fwrite(h, 1, 8, f) != 8 || fwrite(w->json, 1, len, f) != len)
        return errno ? errno : EIO;
    for (size_t i = len; i < padded; i++)
        if (fputc(' ', f) == EOF)
            return errno ? errno : EIO;
    for (size_t i = 0; i < w->n; i++)
        if (w->t[i].nbytes && fwrite(w->t[i].data, 1, w->t[i].nbytes, f) != w->t[i].nbytes)
            return errno ? errno : EIO;
    return 0;
}

int calgae_safetensors_write(const char *path, const calgae_st_tensor *t, size_t n,
                             char *err, size_t err_len)
{
    st_file w = {t, n, header_json(t, n)};
    if (!w.json)
        return calgae_fail(err, err_len, "%s: out of memory", path);
    int rc = calgae_write_atomic(path, NULL, fill_st, &w, err, err_len);
    free((char *)w.json);
    return rc;
}
