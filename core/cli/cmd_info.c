/*
 * cmd_info.c - `calgae info --model M`: what is in a model file, as llama.cpp users get it from
 * gguf-dump: the metadata (GGUF key/values, long strings cut, arrays summarised; a llama2.c
 * checkpoint's header), the tensors with their types and shapes, the parameter count and the
 * bytes a token's forward pass reads (every matrix once, plus one embedding row).
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "gguf.h"
#include "model.h"
#include "model_load.h"

static const char usage[] =
    "Usage: calgae info --model PATH [--all]\n"
    "\n"
    "Print a model's metadata, tensors (type and shape), parameter count and the bytes read per\n"
    "generated token. PATH is a GGUF file (a vocabulary-only one too) or a llama2.c .bin.\n"
    "\n"
    "Options:\n"
    "  -m, --model PATH       the model file (required)\n"
    "      --all              print strings whole and every array element\n"
    "  -h, --help             show this help\n";

#define STR_MAX 60 /* characters of a string value shown, unless --all */
#define ARR_MAX 8  /* elements of an array shown, unless --all */

static void put_str(calgae_gguf_str s, int all)
{
    uint64_t n = all || s.len <= STR_MAX ? s.len : STR_MAX;
    putchar('\'');
    for (uint64_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s.ptr[i];
        if (ch == '\n')
            fputs("\\n", stdout);
        else if (ch < 0x20 || ch == 0x7f)
            printf("\\x%02x", ch);
        else
            putchar(ch);
    }
    putchar('\'');
    if (n < s.len)
        printf("... (%" PRIu64 " bytes)", s.len);
}

static const char *vtype_name(uint32_t t)
{
    static const char *names[] = {"u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool",
                                  "str", "arr", "u64", "i64", "f64"};
    return t < sizeof names / sizeof names[0] ? names[t] : "?";
}

static void put_scalar(const calgae_gguf_kv *kv)
{
    switch (kv->type) {
    case CALGAE_GGUF_FLOAT32:
    case CALGAE_GGUF_FLOAT64: printf("%g", kv->v.f); break;
    case CALGAE_GGUF_BOOL: fputs(kv->v.u ? "true" : "false", stdout); break;
    case CALGAE_GGUF_INT8:
    case CALGAE_GGUF_INT16:
    case CALGAE_GGUF_INT32:
    case CALGAE_GGUF_INT64: printf("%" PRId64, kv->v.i); break;
    default: printf("%" PRIu64, kv->v.u); break;
    }
}

static void put_array(const calgae_gguf_kv *kv, int all)
{
    uint64_t n = all || kv->arr_len <= ARR_MAX ? kv->arr_len : ARR_MAX;
    printf("[%s x %" PRIu64 "] [", vtype_name(kv->arr_type), kv->arr_len);
    for (uint64_t i = 0; i < n; i++) {
        fputs(i ? ", " : "", stdout);
        if (kv->arr_type == CALGAE_GGUF_STRING)
            put_str(kv->arr_strs[i], all);
        else if (kv->arr_type == CALGAE_GGUF_FLOAT32)
            printf("%g", (double)calgae_gguf_arr_f32(kv, i));
        else if (kv->arr_type == CALGAE_GGUF_INT32)
            printf("%d", calgae_gguf_arr_i32(kv, i));
        else
            fputs("...", stdout);
    }
    printf("%s]", n < kv->arr_len ? ", ..." : "");
}

static void gguf_metadata(const calgae_gguf *g, int all)
{
    if (g->version == 0) /* a Hugging Face folder: its JSON files as GGUF keys, no GGUF tensors */
        printf("Hugging Face folder, %" PRIu64 " key/values from its JSON files\n\nmetadata:\n",
               g->n_kv);
    else
        printf("GGUF v%u, %" PRIu64 " key/values, %" PRIu64 " tensors\n\nmetadata:\n",
               g->version, g->n_kv, g->n_tensors);
    for (uint64_t i = 0; i < g->n_kv; i++) {
        const calgae_gguf_kv *kv = &g->kv[i];
        printf("  %-40.*s %-4s ", (int)kv->key.len, kv->key.ptr,
               kv->type == CALGAE_GGUF_ARRAY ? "arr" : vtype_name(kv->type));
        if (kv->type == CALGAE_GGUF_STRING)
            put_str(kv->v.s, all);
        else if (kv->type == CALGAE_GGUF_ARRAY)
            put_array(kv, all);
        else
            put_scalar(kv);
        putchar('\n');
    }
}

static uint64_t gguf_tensors(const calgae_gguf *g)
{
    uint64_t params = 0;
    printf("\ntensors:\n");
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const calgae_gguf_tensor *t = &g->tensors[i];
        char shape[96] = "";
        uint64_t n = 1;
        for (uint32_t d = 0; d < t->n_dims; d++) {
            size_t used = strlen(shape);
            snprintf(shape + used, sizeof shape - used, "%s%" PRId64, d ? " x " : "", t->ne[d]);
            n *= (uint64_t)t->ne[d];
        }
        params += n;
        printf("  %-32s %-5s %-20s %10zu bytes\n", t->name, calgae_type_name(t->type), shape,
               t->nbytes);
    }
    return params;
}

/* A llama2.c checkpoint's tensors, in file order (llama2.c's names). */
static uint64_t bin_tensors(const calgae_transformer *m)
{
    const calgae_config *c = &m->cfg;
    const int64_t L = c->n_layers, d = c->dim, h = c->hidden_dim, v = c->vocab_size;
    const int64_t kv = (int64_t)c->head_size * c->n_kv_heads;
    const struct { const char *name; int64_t a, b, cc; } t[] = {
        {"token_embedding_table", v, d, 1}, {"rms_att_weight", L, d, 1},
        {"wq", L, d, d}, {"wk", L, kv, d}, {"wv", L, kv, d}, {"wo", L, d, d},
        {"rms_ffn_weight", L, d, 1}, {"w1", L, h, d}, {"w2", L, d, h}, {"w3", L, h, d},
        {"rms_final_weight", d, 1, 1}, {"freq_cis_real", c->ctx, c->head_size / 2, 1},
        {"freq_cis_imag", c->ctx, c->head_size / 2, 1}, {"wcls", m->tied ? 0 : v, d, 1}};
    uint64_t params = 0;
    printf("\ntensors (llama2.c layout, all F32; rows x columns, per layer first):\n");
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        if (t[i].a == 0) {
            printf("  %-32s (tied to token_embedding_table)\n", t[i].name);
            continue;
        }
        uint64_t n = (uint64_t)t[i].a * (uint64_t)t[i].b * (uint64_t)t[i].cc;
        const int rope_table = strncmp(t[i].name, "freq_cis", 8) == 0; /* not parameters */
        params += rope_table ? 0 : n;
        char shape[96];
        if (t[i].cc > 1)
            snprintf(shape, sizeof shape, "%" PRId64 " x %" PRId64 " x %" PRId64, t[i].a,
                     t[i].b, t[i].cc);
        else if (t[i].b > 1)
            snprintf(shape, sizeof shape, "%" PRId64 " x %" PRId64, t[i].a, t[i].b);
        else
            snprintf(shape, sizeof shape, "%" PRId64, t[i].a);
        printf("  %-32s %-5s %-20s %10" PRIu64 " bytes%s\n", t[i].name, "F32", shape, n * 4,
               rope_table ? " (RoPE table, unused)" : "");
    }
    return params;
}

static void model_summary(const calgae_transformer *m)
{
    const calgae_config *c = &m->cfg;
    printf("\nmodel: llama, dim %d, ffn %d, %d layers, %d heads (%d KV heads, head size %d, "
           "%d rotated), vocabulary %d, context %d, RMSNorm eps %g, RoPE base %g, %s "
           "classifier\n",
           c->dim, c->hidden_dim, c->n_layers, c->n_heads, c->n_kv_heads, c->head_size, c->n_rot,
           c->vocab_size, c->ctx, (double)c->eps, (double)c->rope_theta,
           m->tied ? "tied" : "separate");
    const double per_token = (double)calgae_transformer_weight_bytes(m) +
                             (double)m->tok_embd.row_bytes + /* one embedding row */
                             (double)c->dim * 4.0 * (2.0 * c->n_layers + 1); /* the norms */
    char size[32];
    calgae_format_count(per_token, size, sizeof size);
    printf("read per token: %s bytes of weights (every matrix once, one embedding row, the "
           "norms; the KV cache comes on top)\n", size);
}

int calgae_cmd_info(int argc, char **argv)
{
    static const struct option longs[] = {{"model", required_argument, 0, 'm'},
                                           {"all", no_argument, 0, 'a'},
                                           {"help", no_argument, 0, 'h'},
                                           {0, 0, 0, 0}};
    const char *path = NULL;
    int all = 0, c;
    if (calgae_args_check("info", &argc, argv, ":m:h", longs) != 0)
        return 2;
    while ((c = getopt_long(argc, argv, ":m:h", longs, NULL)) != -1) {
        switch (c) {
        case 'm': path = optarg; break;
        case 'a': all = 1; break;
        case 'h': fputs(usage, stdout); return 0;
        case ':':
        default: return calgae_option_error("info", c, argv, longs);
        }
    }
    if (optind < argc || !path) {
        calgae_cli_error("info needs --model PATH (see 'calgae info --help')");
        return 2;
    }
    char err[CALGAE_ERR_LEN];
    calgae_transformer m;
    int loaded = calgae_transformer_load(&m, path, err, sizeof err) == 0;
    calgae_gguf g;
    int is_gguf = loaded ? calgae_transformer_meta(&m) != NULL
                         : calgae_gguf_open(&g, path, NULL, 0) == 0;
    if (!loaded && !is_gguf) {
        calgae_cli_error("%s", err); /* neither a model nor a GGUF: the loader says why */
        return 1;
    }
    const calgae_gguf *gg = loaded ? calgae_transformer_meta(&m) : &g;
    printf("%s\n", loaded ? m.path : path);
    uint64_t params;
    if (is_gguf) {
        gguf_metadata(gg, all);
        params = gguf_tensors(gg);
        if (gg->version == 0) /* a Hugging Face folder: the tensors are in its safetensors */
            params = calgae_transformer_params(&m);
    } else {
        printf("llama2.c checkpoint\n");
        params = bin_tensors(&m);
    }
    char count[32];
    calgae_format_count((double)params, count, sizeof count);
    printf("\nparameters: %s (%" PRIu64 ")\n", count, params);
    if (loaded) {
        model_summary(&m);
        calgae_transformer_free(&m);
    } else {
        printf("\nnot a model Calgae runs: %s\n", err);
        calgae_gguf_close(&g);
    }
    return 0;
}
