/*
 * ffi_runner.c - function mode's caller, built and run INSIDE the sandbox (its source is
 * embedded in calgae; ffi_call.c writes it to the work folder and compiles it with cc -lffi):
 *   runner LIB.so NAME RET ARG...
 * dlopens LIB.so, finds NAME and calls it once through libffi with the arguments, whose types
 * arrive in the forms of fnsig.h ("i4=-5", "u8=3", "f8=2.5", "s=6869" (hex bytes), "a:i4=1,2");
 * RET is a type code alone. Prints the returned value on stdout: integers in decimal, floats
 * with %.17g, strings as hex bytes (or "null"). A crash or a hang is the sandbox's to report.
 */
#include <dlfcn.h>
#include <ffi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ARGS 16

static ffi_type *scalar_type(char k, int size)
{
    if (k == 'f')
        return size == 4 ? &ffi_type_float : &ffi_type_double;
    if (k == 'i')
        return size == 1 ? &ffi_type_sint8 : size == 2 ? &ffi_type_sint16
             : size == 4 ? &ffi_type_sint32 : &ffi_type_sint64;
    return size == 1 ? &ffi_type_uint8 : size == 2 ? &ffi_type_uint16
         : size == 4 ? &ffi_type_uint32 : &ffi_type_uint64;
}

/* Stores one number of type k/size at dst. */
static void store(char k, int size, const char *text, void *dst)
{
    if (k == 'f') {
        double d = strtod(text, NULL);
        if (size == 4) { float f = (float)d; memcpy(dst, &f, 4); }
        else memcpy(dst, &d, 8);
        return;
    }
    if (k == 'i') {
        int64_t v = strtoll(text, NULL, 10);
        int8_t a = (int8_t)v; int16_t b = (int16_t)v; int32_t c = (int32_t)v;
        memcpy(dst, size == 1 ? (void *)&a : size == 2 ? (void *)&b : size == 4 ? (void *)&c : (void *)&v, (size_t)size);
        return;
    }
    uint64_t v = strtoull(text, NULL, 10);
    uint8_t a = (uint8_t)v; uint16_t b = (uint16_t)v; uint32_t c = (uint32_t)v;
    memcpy(dst, size == 1 ? (void *)&a : size == 2 ? (void *)&b : size == 4 ? (void *)&c : (void *)&v, (size_t)size);
}

static char *unhex(const char *h)
{
    size_t n = strlen(h) / 2;
    char *s = malloc(n + 1);
    for (size_t i = 0; s && i < n; i++) {
        unsigned v;
        sscanf(h + 2 * i, "%2x", &v);
        s[i] = (char)v;
    }
    if (s)
        s[n] = '\0';
    return s;
}

int main(int argc, char **argv)
{
    if (argc < 4 || argc - 4 > MAX_ARGS) {
        fprintf(stderr, "runner: usage: runner LIB.so NAME RET ARG...\n");
        return 2;
    }
    void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        fprintf(stderr, "runner: %s\n", dlerror());
        return 2;
    }
    void (*fn)(void) = (void (*)(void))dlsym(lib, argv[2]);
    if (!fn) {
        fprintf(stderr, "runner: the library has no function '%s'\n", argv[2]);
        return 2;
    }
    const int n = argc - 4;
    ffi_type *types[MAX_ARGS];
    void *values[MAX_ARGS];
    union { int64_t i; uint64_t u; double d; float f; char *s; void *p; } store_[MAX_ARGS];
    for (int i = 0; i < n; i++) {
        char *a = argv[4 + i], *eq = strchr(a, '=');
        if (!eq) return 2;
        *eq = '\0';
        const char *v = eq + 1;
        values[i] = &store_[i];
        if (a[0] == 's') {
            types[i] = &ffi_type_pointer;
            store_[i].s = unhex(v);
        } else if (a[0] == 'a') {
            const char k = a[2];
            const int size = atoi(a + 3);
            size_t count = *v ? 1 : 0;
            for (const char *c = v; *c; c++) count += *c == ',';
            char *arr = malloc(count * (size_t)size + 1);
            const char *c = v;
            for (size_t j = 0; j < count; j++) {
                store(k, size, c, arr + j * (size_t)size);
                c = strchr(c, ',');
                c = c ? c + 1 : "";
            }
            types[i] = &ffi_type_pointer;
            store_[i].p = arr;
        } else {
            types[i] = scalar_type(a[0], atoi(a + 1));
            store(a[0], atoi(a + 1), v, &store_[i]);
        }
    }
    const char *r = argv[3];
    ffi_type *rtype = r[0] == 's' ? &ffi_type_pointer : scalar_type(r[0], atoi(r + 1));
    ffi_cif cif;
    if (ffi_prep_cif(&cif, FFI_DEFAULT_ABI, (unsigned)n, rtype, types) != FFI_OK) {
        fprintf(stderr, "runner: libffi cannot prepare the call\n");
        return 2;
    }
    union { ffi_arg u; ffi_sarg i; double d; float f; char *s; } ret;
    memset(&ret, 0, sizeof ret);
    ffi_call(&cif, fn, &ret, values);
    const int size = atoi(r + 1);
    if (r[0] == 's') {
        if (!ret.s) { puts("null"); return 0; }
        for (const unsigned char *c = (const unsigned char *)ret.s; *c; c++) printf("%02x", *c);
        putchar('\n');
    } else if (r[0] == 'f') {
        printf("%.17g\n", size == 4 ? (double)ret.f : ret.d);
    } else if (r[0] == 'i') {
        int64_t v = size == 8 ? (int64_t)ret.i : size == 4 ? (int32_t)ret.i
                  : size == 2 ? (int16_t)ret.i : (int8_t)ret.i;
        printf("%lld\n", (long long)v);
    } else {
        uint64_t v = size == 8 ? (uint64_t)ret.u : size == 4 ? (uint32_t)ret.u
                   : size == 2 ? (uint16_t)ret.u : (uint8_t)ret.u;
        printf("%llu\n", (unsigned long long)v);
    }
    return 0;
}
