/*
 * cmd_bench.c - `calgae bench`: prompt processing (pp) and text generation (tg) speed per
 * backend and thread count, side by side in one run, in the shapes llama-bench prints
 * (markdown table, JSON lines, CSV), plus the share of the memory-bandwidth limit that tg
 * reaches: weight bytes per token x tokens/s / measured read bandwidth. The bandwidth is
 * measured again right before each tg run, on the same threads, and each run is set against
 * its own figure (the median share is reported): on a shared machine the bandwidth drifts by
 * tens of percent within a minute, and one figure from the start made shares over 100%.
 */
#define _POSIX_C_SOURCE 200809L
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bandwidth.h"
#include "model_load.h"
#include "args.h"
#include "progress.h"
#include "gguf.h"
#include "session.h"
#include "util.h"

#define MAX_LIST 16
#define BW_BYTES ((size_t)1 << 30)
#define BW_PROBE_BYTES ((size_t)256 << 20) /* 4 slices of 64 MiB, 8x the last-level cache */

struct bench_opts {
    calgae_session_opts s;
    const char *backends[MAX_LIST];
    int n_backends;
    int all;
    int threads[MAX_LIST];
    int n_threads;
    long n_prompt, n_gen, reps;
    const char *output;
    int bandwidth_only;
};

struct result {
    const char *backend;
    char label[96]; /* "auto (matvec avx2, matmul avx512)": what the automatic choice took */
    char isa[120];
    int threads;
    char test[32];
    double mean, sd, bw_share; /* bw_share < 0: not applicable */
    double bw;                 /* GB/s: measured beside each tg run (median), else the header's */
};

static const char usage[] =
    "Usage: calgae bench --model PATH [options]\n"
    "       calgae bench --bandwidth [--threads 1,2]\n"
    "\n"
    "Prompt processing (pp) and text generation (tg) speed, each backend and thread count side\n"
    "by side in one run: mean +- standard deviation over the repetitions, after a warm-up.\n"
    "\n"
    "Options:\n"
    "  -m, --model PATH        model file or folder\n"
    "      --backend LIST      comma-separated plugin names or .so paths, or all (default all)\n"
    "  -p, --n-prompt N        prompt tokens for pp (default 128; 0 skips pp)\n"
    "  -n, --n-gen N           generated tokens for tg (default 64; 0 skips tg)\n"
    "  -r, --repetitions N     timed runs per test (default 5)\n"
    "  -t, --threads LIST      comma-separated thread counts (default: physical cores)\n"
    "  -o, --output FORMAT     md, json (one object per line) or csv (default md)\n"
    "      --bandwidth         only measure the memory read bandwidth\n"
    "      --no-repack         keep the file's weight layout (no plugin-specific copy at load)\n"
    "      --calibrate MODE    auto, redo or off: how `auto` in --backend chooses (default:\n"
    "                          [run] calibrate, else auto; see calgae run --help)\n"
    "  -h, --help              show this help\n";

static int split_list(char *s, const char **out, int max)
{
    int n = 0;
    for (char *save = NULL, *tok = strtok_r(s, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (n == max)
            return -1;
        out[n++] = tok;
    }
    return n;
}

static int parse_threads(char *s, struct bench_opts *o)
{
    const char *items[MAX_LIST];
    int n = split_list(s, items, MAX_LIST);
    if (n <= 0)
        return -1;
    for (int i = 0; i < n; i++) {
        long v;
        if (calgae_parse_int("--threads", items[i], 1, 1024, &v))
            return -1;
        o->threads[i] = (int)v;
    }
    o->n_threads = n;
    return 0;
}

static int parse(int argc, char **argv, struct bench_opts *o)
{
    static const struct option longs[] = {
        {"model", required_argument, 0, 'm'},   {"backend", required_argument, 0, 'B'},
        {"n-prompt", required_argument, 0, 'p'}, {"n-gen", required_argument, 0, 'n'},
        {"repetitions", required_argument, 0, 'r'}, {"threads", required_argument, 0, 't'},
        {"output", required_argument, 0, 'o'},  {"bandwidth", no_argument, 0, 'W'},
        {"no-repack", no_argument, 0, 'R'},     {"help", no_argument, 0, 'h'},
        {"calibrate", required_argument, 0, 'A'}, {0, 0, 0, 0}};
    int c;
    if (calgae_args_check("bench", &argc, argv, ":m:p:n:r:t:o:h", longs) != 0)
        return 2;
    while ((c = getopt_long(argc, argv, ":m:p:n:r:t:o:h", longs, NULL)) != -1) {
        switch (c) {
        case 'm': o->s.model = optarg; break;
        case 'B':
            if (!strcmp(optarg, "all"))
                o->all = 1;
            else if ((o->n_backends = split_list(optarg, o->backends, MAX_LIST)) <= 0) {
                calgae_cli_error("--backend: expected a comma-separated list");
                return 2;
            }
            break;
        case 'p': if (calgae_parse_int("--n-prompt", optarg, 0, 1 << 16, &o->n_prompt)) return 2; break;
        case 'n': if (calgae_parse_int("--n-gen", optarg, 0, 1 << 16, &o->n_gen)) return 2; break;
        case 'r': if (calgae_parse_int("--repetitions", optarg, 1, 1000, &o->reps)) return 2; break;
        case 't':
            if (parse_threads(optarg, o)) {
                calgae_cli_error("--threads: expected a comma-separated list of counts");
                return 2;
            }
            break;
        case 'o':
            if (strcmp(optarg, "md") && strcmp(optarg, "json") && strcmp(optarg, "csv")) {
                calgae_cli_error("--output: '%s' is not md, json or csv", optarg);
                return 2;
            }
            o->output = optarg;
            break;
        case 'W': o->bandwidth_only = 1; break;
        case 'R': o->s.no_repack = 1; break;
        case 'A': if (calgae_calibrate_flag(optarg) < 0) return 2; o->s.calibrate = optarg; break;
        case 'h': fputs(usage, stdout); return 0;
        case ':':
        default: return calgae_option_error("bench", c, argv, longs);
        }
    }
    if (optind < argc) {
        calgae_cli_error("unexpected argument '%s'", argv[optind]);
        return 2;
    }
    if (!o->s.model && !o->bandwidth_only) {
        calgae_cli_error("bench: --model is required (see 'calgae bench --help')");
        return 2;
    }
    if (o->n_threads == 0) {
        o->threads[0] = calgae_physical_cores();
        o->n_threads = 1;
    }
    return -1;
}

static void cpu_name(char *out, size_t n)
{
    snprintf(out, n, "unknown CPU");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        if (colon && !strncmp(line, "model name", 10)) {
            colon++;
            while (*colon == ' ' || *colon == '\t')
                colon++;
            colon[strcspn(colon, "\n")] = '\0';
            snprintf(out, n, "%s", colon);
            break;
        }
    }
    fclose(f);
}

static double bandwidth_for(int threads)
{
    char err[CALGAE_ERR_LEN];
    calgae_pool *pool;
    if (calgae_pool_create(&pool, threads, err, sizeof err) != 0)
        return -1.0;
    double bw = calgae_read_bandwidth(pool, BW_BYTES, 15);
    calgae_pool_destroy(pool);
    return bw;
}

static void mean_sd(const double *x, int n, double *mean, double *sd)
{
    double s = 0.0, ss = 0.0;
    for (int i = 0; i < n; i++)
        s += x[i];
    *mean = s / n;
    for (int i = 0; i < n; i++)
        ss += (x[i] - *mean) * (x[i] - *mean);
    *sd = n > 1 ? sqrt(ss / (n - 1)) : 0.0;
}

/* One timed pp or tg run; returns tokens/s or a negative value on failure. */
static double run_once(calgae_session *s, int32_t *ids, long n_prompt, long n_gen, int gen,
                       char *err, size_t err_len)
{
    const double t0 = calgae_now_ms();
    if (calgae_session_prefill(s, ids, (int)n_prompt, 0, err, err_len) != 0)
        return -1.0;
    const double t1 = calgae_now_ms();
    if (!gen)
        return (double)n_prompt * 1000.0 / (t1 - t0);
    const int vocab = s->model->cfg.vocab_size;
    for (long i = 0; i < n_gen; i++) {
        const float *l = s->st->logits;
        int32_t next = 0;
        for (int k = 1; k < vocab; k++)
            next = l[k] > l[next] ? k : next;
        if (calgae_forward(s->st, &next, 1, (int)(n_prompt + i), 0, err, err_len) != 0)
            return -1.0;
    }
    return (double)n_gen * 1000.0 / (calgae_now_ms() - t1);
}

static int bench_one(const struct bench_opts *o, const char *backend, int threads, double bw,
                     struct result *res, int *n_res, char *err, size_t err_len)
{
    calgae_session_opts so = o->s;
    so.backend = backend;
    so.threads = threads;
    so.need_state = 1;
    so.max_batch = o->n_prompt > 0 && o->n_prompt < 512 ? (int)o->n_prompt : 0;
    calgae_session s;
    if (calgae_session_open(&s, &so, err, err_len) != 0)
        return -1;
    const calgae_config *c = &s.model->cfg;
    /* a prompt of at least one token: tg needs a position to start from */
    const long n_prompt = o->n_prompt > 0 ? o->n_prompt : 1;
    int rc = -1;
    int32_t *ids = malloc((size_t)n_prompt * sizeof *ids);
    double *runs = malloc((size_t)o->reps * 3 * sizeof *runs), *bws = runs + o->reps, *shares = bws + o->reps;
    calgae_bw_probe probe;
    const int have_probe = o->n_gen > 0 && calgae_bw_probe_open(&probe, BW_PROBE_BYTES) == 0;
    if (!ids || !runs || n_prompt + o->n_gen > s.st->ctx) {
        calgae_fail(err, err_len, "%ld + %ld tokens do not fit the context of %d", n_prompt,
                    o->n_gen, s.st->ctx);
        goto out;
    }
    uint64_t x = 42;
    for (long i = 0; i < n_prompt; i++) { /* random tokens, as llama-bench uses */
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        ids[i] = (int32_t)((x >> 33) % (uint64_t)c->vocab_size);
    }
    /* the ISA of the plugin that computes the model's matrix products, naming it when the
     * requested backend left them to another (blas on a quantized model, say) */
    const int slot = calgae_product_slot(s.model->file_type, 0);
    const char *owner = calgae_backends_slot_owner(s.be, slot < 0 ? CALGAE_SLOT_MATVEC_F32 : slot);
    const calgae_plugin *named = s.be->plugins[0].table, *served = named;
    for (int i = 0; i < s.be->n_plugins; i++)
        if (!strcmp(s.be->plugins[i].table->name, owner))
            served = s.be->plugins[i].table;
    const char *isa = served->isa && *served->isa ? served->isa : "c";
    for (int gen = 0; gen < 2; gen++) {
        if ((gen == 0 && o->n_prompt == 0) || (gen == 1 && o->n_gen == 0))
            continue;
        if (run_once(&s, ids, n_prompt, o->n_gen, gen, err, err_len) < 0) /* warm-up */
            goto out;
        for (long r = 0; r < o->reps; r++) {
            /* tg: the bandwidth right before each run bounds that run */
            bws[r] = gen && have_probe ? calgae_bw_probe_measure(&probe, s.pool, 3) : bw;
            if ((runs[r] = run_once(&s, ids, n_prompt, o->n_gen, gen, err, err_len)) < 0)
                goto out;
            shares[r] = bws[r] > 0 ? (double)calgae_transformer_weight_bytes(s.model) * runs[r] / (bws[r] * 1e9) : -1.0;
        }
        struct result *R = &res[(*n_res)++];
        R->backend = backend;
        if (!strcmp(backend, "auto")) {
            const int mm = calgae_product_slot(s.model->file_type, 1);
            snprintf(R->label, sizeof R->label, "auto (matvec %s, matmul %s)", owner,
                     calgae_backends_slot_owner(s.be, mm < 0 ? CALGAE_SLOT_MATMUL_F32 : mm));
            R->backend = R->label;
        }
        if (served == named)
            snprintf(R->isa, sizeof R->isa, "%s", isa);
        else
            snprintf(R->isa, sizeof R->isa, "%s (%s)", isa, served->name);
        R->threads = threads;
        snprintf(R->test, sizeof R->test, "%s%ld", gen ? "tg" : "pp", gen ? o->n_gen : o->n_prompt);
        mean_sd(runs, (int)o->reps, &R->mean, &R->sd);
        R->bw = gen ? calgae_median(bws, (int)o->reps) : bw;
        R->bw_share = gen && R->bw > 0 ? calgae_median(shares, (int)o->reps) : -1.0;
    }
    rc = 0;
out:
    if (have_probe)
        calgae_bw_probe_close(&probe);
    free(ids);
    free(runs);
    calgae_session_close(&s);
    return rc;
}

static void json_str(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            printf("\\%c", ch);
        else if (ch < 0x20)
            printf("\\u%04x", ch);
        else
            putchar(ch);
    }
    putchar('"');
}

static void print_results(const struct bench_opts *o, const char *model, const char *type,
                          double size_mib, double params_b, const char *cpu, const double *bw,
                          const struct result *res, int n)
{
    if (!strcmp(o->output, "md")) {
        char params[32];
        calgae_format_count(params_b * 1e9, params, sizeof params);
        printf("model: %s (%s, %.1f MiB, %s params)\ncpu: %s\nbandwidth:", model, type,
               size_mib, params, cpu);
        for (int i = 0; i < o->n_threads; i++)
            printf(" %d thread%s %.1f GB/s%s", o->threads[i], o->threads[i] > 1 ? "s" : "", bw[i],
                   i + 1 < o->n_threads ? "," : "\n");
        printf("\n| backend | isa | threads | test | t/s | bw %% | bw GB/s |\n");
        printf("| ------- | --- | ------: | ---- | --: | ---: | ------: |\n");
        for (int i = 0; i < n; i++) {
            printf("| %s | %s | %d | %s | %.2f ± %.2f | ", res[i].backend, res[i].isa,
                   res[i].threads, res[i].test, res[i].mean, res[i].sd);
            if (res[i].bw_share >= 0)
                printf("%.1f | %.1f |\n", 100.0 * res[i].bw_share, res[i].bw);
            else
                printf(" |  |\n");
        }
        return;
    }
    int csv = !strcmp(o->output, "csv");
    if (csv)
        printf("model,model_type,model_size_mib,params_b,cpu,backend,isa,threads,test,avg_ts,stddev_ts,bandwidth_gbs,bw_share\n");
    for (int i = 0; i < n; i++) {
        if (csv) {
            /* fields with commas or quotes are quoted, quotes doubled (RFC 4180) */
            const char *fields[] = {model, type, cpu, res[i].backend, res[i].isa};
            for (int f = 0; f < 5; f++) {
                putchar('"');
                for (const char *p = fields[f]; *p; p++)
                    fputs(*p == '"' ? "\"\"" : (char[]){*p, 0}, stdout);
                putchar('"');
                putchar(',');
                if (f == 1)
                    printf("%.2f,%.4f,", size_mib, params_b);
            }
            printf("%d,%s,%.4f,%.4f,%.2f,", res[i].threads, res[i].test, res[i].mean, res[i].sd, res[i].bw);
            if (res[i].bw_share >= 0)
                printf("%.4f", res[i].bw_share);
            putchar('\n');
        } else {
            printf("{\"model\": ");
            json_str(model);
            printf(", \"model_type\": ");
            json_str(type);
            printf(", \"model_size_mib\": %.2f, \"params_b\": %.4f, \"cpu\": ", size_mib, params_b);
            json_str(cpu);
            printf(", \"backend\": ");
            json_str(res[i].backend);
            printf(", \"isa\": ");
            json_str(res[i].isa);
            printf(", \"threads\": %d, \"test\": \"%s\", \"avg_ts\": %.4f, \"stddev_ts\": %.4f, "
                   "\"bandwidth_gbs\": %.2f, \"bw_share\": ",
                   res[i].threads, res[i].test, res[i].mean, res[i].sd, res[i].bw);
            if (res[i].bw_share >= 0)
                printf("%.4f}\n", res[i].bw_share);
            else
                printf("null}\n");
        }
    }
}

/* The usable plugins' names, for --backend all (names stay valid: static storage). */
static int list_all(struct bench_opts *o, char *err, size_t err_len)
{
    static char names[MAX_LIST][40];
    calgae_session_opts so = o->s;
    so.threads = 1;
    calgae_session s;
    if (calgae_session_open(&s, &so, err, err_len) != 0)
        return -1;
    o->n_backends = 0;
    for (int i = 0; i < s.be->n_plugins && o->n_backends < MAX_LIST; i++) {
        snprintf(names[o->n_backends], sizeof names[0], "%s", s.be->plugins[i].table->name);
        o->backends[o->n_backends] = names[o->n_backends];
        o->n_backends++;
    }
    calgae_session_close(&s);
    return 0;
}

int calgae_cmd_bench(int argc, char **argv)
{
    struct bench_opts o = {.n_prompt = 128, .n_gen = 64, .reps = 5, .output = "md"};
    int rc = parse(argc, argv, &o);
    if (rc >= 0)
        return rc;
    double bw[MAX_LIST];
    for (int i = 0; i < o.n_threads; i++)
        bw[i] = bandwidth_for(o.threads[i]);
    if (o.bandwidth_only) {
        for (int i = 0; i < o.n_threads; i++)
            printf("memory read bandwidth, %d thread%s: %.1f GB/s\n", o.threads[i],
                   o.threads[i] > 1 ? "s" : "", bw[i]);
        return 0;
    }
    char err[CALGAE_ERR_LEN];
    if ((o.all || o.n_backends == 0) && list_all(&o, err, sizeof err) != 0) {
        calgae_cli_error("%s", err);
        return 1;
    }
    struct result res[2 * MAX_LIST * MAX_LIST];
    int n = 0;
    calgae_progress_bar bar; /* drawn on stderr only when it is a terminal */
    calgae_progress_init(&bar);
    const int64_t runs = (int64_t)o.n_backends * o.n_threads;
    for (int b = 0; b < o.n_backends; b++) {
        for (int t = 0; t < o.n_threads; t++) {
            calgae_progress_update(&bar, "bench", (int64_t)b * o.n_threads + t, runs);
            int brc = bench_one(&o, o.backends[b], o.threads[t], bw[t], res, &n, err, sizeof err);
            calgae_progress_clear(&bar);
            if (brc != 0) {
                calgae_cli_error("%s", err);
                return 1;
            }
        }
    }
    /* the model's description, from a plain load */
    calgae_transformer m;
    if (calgae_transformer_load(&m, o.s.model, err, sizeof err) != 0) {
        calgae_cli_error("%s", err);
        return 1;
    }
    char cpu[256];
    cpu_name(cpu, sizeof cpu);
    const double size_mib = (double)(calgae_transformer_file(&m) ? calgae_transformer_file(&m)->size : 0) / (1 << 20);
    const double params = (double)calgae_transformer_params(&m);
    print_results(&o, m.path, calgae_type_name(m.file_type), size_mib, params / 1e9, cpu, bw, res, n);
    calgae_transformer_free(&m);
    return 0;
}
