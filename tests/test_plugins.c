/*
 * test_plugins.c - the plugin loader (core/host/backend.c) against real, deliberately broken .so
 * files built from tests/plugins/: each, forced, must fail the load with an error naming its
 * path and the reason (a forced choice is never replaced by other plugins); found in a folder
 * scan, each is refused with one log line and the host uses the real plugins. Also: a good plugin of an older ABI minor whose table is
 * followed by poisoned pointers, a plugin whose kernels always decline, a forced name that does
 * not exist, an empty search path, and a scan of the whole test plugin folder.
 *
 * Environment (set by tests/CMakeLists.txt): CALGAE_PLUGIN_DIR, the real plugin build folder;
 * CALGAE_TEST_PLUGIN_DIR, the folder of the test plugins; CALGAE_TEST_NO_AARCH64, set with a
 * message when CMake found no aarch64 cross-compiler for the wrong-architecture plugin.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "backend.h"

/* ---- log capture ---------------------------------------------------------------------- */

#define MAX_LINES 64

static struct {
    int n;
    int dropped;
    int level[MAX_LINES];
    char line[MAX_LINES][1400];
} captured;

static void capture(void *user, int level, const char *line)
{
    (void)user;
    if (captured.n >= MAX_LINES) {
        captured.dropped++;
        return;
    }
    captured.level[captured.n] = level;
    snprintf(captured.line[captured.n], sizeof captured.line[0], "%s", line);
    captured.n++;
}

static int count_lines(const char *fragment)
{
    int n = 0;
    for (int i = 0; i < captured.n; i++)
        if (strstr(captured.line[i], fragment))
            n++;
    return n;
}

/* Lines about path that report a problem: any shown without --verbose, or a refusal or skip. */
static int count_complaints(const char *path)
{
    int n = 0;
    for (int i = 0; i < captured.n; i++)
        if (strstr(captured.line[i], path) &&
            (captured.level[i] == 0 || strstr(captured.line[i], " refused: ") ||
             strstr(captured.line[i], " skipped: ")))
            n++;
    return n;
}

static void print_log(void)
{
    for (int i = 0; i < captured.n; i++)
        print_message("  log[%d] level %d: %s\n", i, captured.level[i], captured.line[i]);
}

/* ---- environment and loading ---------------------------------------------------------- */

static const char *env_dir(const char *name)
{
    const char *v = getenv(name);
    if (!v || !*v)
        fail_msg("%s is not set (tests/CMakeLists.txt sets it; run through ctest)", name);
    return v;
}

static const char *real_dir(void)
{
    return env_dir("CALGAE_PLUGIN_DIR");
}

static const char *test_dir(void)
{
    return env_dir("CALGAE_TEST_PLUGIN_DIR");
}

/* The path exactly as the loader builds it when it scans test_dir(), so lines can be matched. */
static void test_plugin_path(char *out, size_t out_len, const char *file)
{
    snprintf(out, out_len, "%s/%s", test_dir(), file);
}

static int load(calgae_backends *b, const char *forced, const char *const *dirs, int n_dirs,
                char *err, size_t err_len)
{
    memset(&captured, 0, sizeof captured);
    calgae_backend_options o = {0};
    for (int i = 0; i < n_dirs; i++)
        o.dirs[i] = dirs[i];
    o.n_dirs = n_dirs;
    o.forced = forced;
    o.log = capture;
    err[0] = '\0';
    int rc = calgae_backends_load(b, &o, err, err_len);
    assert_int_equal(captured.dropped, 0);
    return rc;
}

static void load_ok(calgae_backends *b, const char *forced, const char *const *dirs, int n_dirs)
{
    char err[512];
    if (load(b, forced, dirs, n_dirs, err, sizeof err) != 0) {
        print_log();
        fail_msg("calgae_backends_load failed: %s", err);
    }
}

static int plugin_index(const calgae_backends *b, const char *name)
{
    for (int i = 0; i < b->n_plugins; i++)
        if (strcmp(b->plugins[i].table->name, name) == 0)
            return i;
    return -1;
}

static int in_chain(const calgae_backends *b, int slot, int plugin)
{
    for (int i = 0; i < b->chain_len[slot]; i++)
        if (b->chain[slot][i] == plugin)
            return 1;
    return 0;
}

/* Who serves each slot when only the real plugin folder is searched: "scalar" for every slot
 * today, and still the right reference for a refused plugin if a SIMD plugin joins the folder. */
static char baseline_owner[CALGAE_SLOT_COUNT][64];

static int setup_baseline(void **state)
{
    (void)state;
    const char *dirs[] = {real_dir()};
    calgae_backends b;
    char err[512];
    if (load(&b, NULL, dirs, 1, err, sizeof err) != 0) {
        print_message("the real plugin folder %s gives no usable plugins: %s\n", dirs[0], err);
        return -1;
    }
    int scalar = plugin_index(&b, "scalar");
    int ok = scalar >= 0;
    for (int s = 0; s < CALGAE_SLOT_COUNT; s++) {
        snprintf(baseline_owner[s], sizeof baseline_owner[s], "%s",
                 calgae_backends_slot_owner(&b, s));
        ok = ok && in_chain(&b, s, scalar); /* scalar is the fallback of every slot */
    }
    calgae_backends_free(&b);
    if (!ok)
        print_message("the scalar plugin is missing from %s or lacks a slot\n", dirs[0]);
    return ok ? 0 : -1;
}

/* ---- numeric checks through the loaded registry --------------------------------------- */

enum { ROWS = 3, COLS = 5 };

/* Small integers only, so every sum is exact in float whatever plugin computes it. */
static const float W[ROWS][COLS] = {{1, 2, 3, 4, 5}, {-1, 0, 1, 0, -1}, {2, -3, 0, 1, 4}};
static const float X[2][COLS] = {{1, -1, 2, 0, 3}, {0, 1, 1, -2, 1}};

static calgae_weight f32_weight(void)
{
    calgae_weight w = {0};
    w.type = CALGAE_TYPE_F32;
    w.rows = ROWS;
    w.cols = COLS;
    w.row_bytes = sizeof W[0];
    w.data = W;
    return w;
}

static float ref_dot(int r, int t)
{
    float s = 0.0f;
    for (int i = 0; i < COLS; i++)
        s += W[r][i] * X[t][i];
    return s;
}

static void check_matvec(const calgae_backends *b)
{
    calgae_weight w = f32_weight();
    float y[ROWS];
    assert_int_equal(calgae_backends_matvec(b, &w, X[0], y, 0, ROWS), 0);
    for (int r = 0; r < ROWS; r++)
        assert_true(y[r] == ref_dot(r, 0));
    /* a row range leaves the other rows alone (y is indexed by absolute row) */
    float z[ROWS] = {-7.0f, -7.0f, -7.0f};
    assert_int_equal(calgae_backends_matvec(b, &w, X[1], z, 1, ROWS), 0);
    assert_true(z[0] == -7.0f);
    for (int r = 1; r < ROWS; r++)
        assert_true(z[r] == ref_dot(r, 1));
}

static void check_matmul(const calgae_backends *b)
{
    calgae_weight w = f32_weight();
    float y[2][ROWS];
    assert_int_equal(calgae_backends_matmul(b, &w, X, sizeof X[0], 2, &y[0][0], ROWS, 0, ROWS), 0);
    for (int t = 0; t < 2; t++)
        for (int r = 0; r < ROWS; r++)
            assert_true(y[t][r] == ref_dot(r, t));
}

/* Calls every hot-path pointer once: each must be a real kernel, none a plugin's garbage. */
static void check_hot_path(const calgae_backends *b)
{
    float x[CALGAE_QK];
    for (int i = 0; i < CALGAE_QK; i++)
        x[i] = (float)(i % 7) - 3.0f;
    calgae_block_q8_0 q;
    b->quantize_q8_0(x, &q, CALGAE_QK);
    assert_int_equal(q.qs[0], -127); /* x[0] = -3 is the largest magnitude */

    assert_true(b->dot_f32(X[0], X[1], COLS) == -1.0f + 2.0f + 3.0f);
    float acc[COLS] = {0};
    b->axpy_f32(acc, 2.0f, X[0], COLS);
    assert_true(acc[4] == 6.0f);

    float n[2] = {3.0f, 4.0f};
    const float ones[2] = {1.0f, 1.0f};
    b->rmsnorm(n, n, ones, 2, 0.0f);
    assert_float_equal(n[0], 3.0f / sqrtf(12.5f), 1e-6f);

    float sm[2] = {0.0f, 0.0f};
    b->softmax(sm, 2);
    assert_float_equal(sm[0], 0.5f, 1e-6f);

    float gate[1] = {0.0f};
    const float up[1] = {5.0f};
    b->swiglu(gate, up, 1);
    assert_float_equal(gate[0], 0.0f, 1e-6f);

    float v[2] = {1.0f, 0.0f};
    const float cs[2] = {0.0f, 1.0f}; /* a quarter turn */
    b->rope(v, 1, 2, 2, cs);
    assert_float_equal(v[0], 0.0f, 1e-6f);
    assert_float_equal(fabsf(v[1]), 1.0f, 1e-6f);
}

static void check_baseline_owners(const calgae_backends *b)
{
    for (int s = 0; s < CALGAE_SLOT_COUNT; s++)
        if (strcmp(calgae_backends_slot_owner(b, s), baseline_owner[s]) != 0)
            fail_msg("slot %s is served by '%s', expected '%s'", calgae_slot_name(s),
                     calgae_backends_slot_owner(b, s), baseline_owner[s]);
}

/* ---- refusals --------------------------------------------------------------------------- */

typedef struct refusal_case {
    const char *file;   /* in CALGAE_TEST_PLUGIN_DIR */
    const char *reason; /* fragment the refusal line must contain after "refused: " */
} refusal_case;

static const char AARCH64_FILE[] = "calgae-test-aarch64.so";
static const char MISSING_FILE[] = "calgae-test-missing.so";

/* The aarch64 reason is what glibc's dlerror says for a foreign e_machine: it treats the file
 * as not found (open_verify's "keep searching" path), word for word the missing-file text. */
static refusal_case refusals[] = {
    {"calgae-test-text.so", "not a shared object (no ELF header)"},
    {AARCH64_FILE, "built for aarch64 (ELF machine 183), not for this host"},
    {"calgae-test-noentry.so", "no calgae_plugin_entry symbol"},
    {"calgae-test-declined.so", "plugin declined: needs host ABI 1.7 or newer"},
    {"calgae-test-abi2.so", "ABI major 2, this host speaks 1"},
    {"calgae-test-probe.so", "this CPU cannot run it: this CPU lacks avx9000"},
    {"calgae-test-badname.so", "invalid plugin name"},
    {"calgae-test-small.so", "function table too small (8 bytes;"},
    {"calgae-test-prepare.so", "prepare_weight and release_weight must come together"},
    {MISSING_FILE, "cannot load: cannot open shared object file: No such file or directory"},
};
#define N_REFUSALS (sizeof refusals / sizeof refusals[0])

static void require_aarch64_toolchain(void)
{
    const char *why = getenv("CALGAE_TEST_NO_AARCH64");
    if (why && *why)
        fail_msg("cannot test the wrong-architecture plugin: %s", why);
}

/* The premise of each case holds: the file is there (or not), and the aarch64 one really is an
 * aarch64 ELF, so that its refusal is about the architecture and not a missing file. */
static void check_premise(const refusal_case *c, const char *path)
{
    if (strcmp(c->file, MISSING_FILE) == 0) {
        assert_int_not_equal(access(path, F_OK), 0);
        return;
    }
    if (access(path, R_OK) != 0)
        fail_msg("test plugin %s was not built", path);
    if (strcmp(c->file, AARCH64_FILE) == 0) {
        unsigned char h[20] = {0};
        FILE *f = fopen(path, "rb");
        assert_non_null(f);
        assert_int_equal(fread(h, 1, sizeof h, f), sizeof h);
        fclose(f);
        assert_memory_equal(h, "\177ELF", 4);
        assert_int_equal(h[18] | h[19] << 8, 183); /* e_machine EM_AARCH64, little-endian */
    }
}

/* Exactly one "refused" line names the path, and it carries the expected reason; level is the
 * log level it must have, or -1 for either. */
static void check_refusal_line(const char *path, const char *reason, int level)
{
    char prefix[1200];
    snprintf(prefix, sizeof prefix, "calgae: plugin %s refused: ", path);
    if (count_lines(prefix) != 1) {
        print_log();
        fail_msg("expected one refusal line for %s, got %d", path, count_lines(prefix));
    }
    int i = 0;
    while (!strstr(captured.line[i], prefix))
        i++;
    const char *line = captured.line[i];
    if (strncmp(line, prefix, strlen(prefix)) != 0 || !strstr(line + strlen(prefix), reason))
        fail_msg("refusal line \"%s\" lacks \"%s\"", line, reason);
    if (level >= 0 && captured.level[i] != level)
        fail_msg("refusal line \"%s\" has level %d, expected %d", line, captured.level[i], level);
}

static void test_refusal(void **state)
{
    const refusal_case *c = *state;
    if (strcmp(c->file, AARCH64_FILE) == 0)
        require_aarch64_toolchain();
    char path[1024];
    test_plugin_path(path, sizeof path, c->file);
    check_premise(c, path);

    const char *dirs[] = {real_dir()};
    calgae_backends b;
    char err[1400];
    /* the user asked for it: the load fails with the refusal as its error, never falling back
     * to the other plugins, and the refusal is not logged a second time */
    assert_int_equal(load(&b, path, dirs, 1, err, sizeof err), CALGAE_BACKENDS_FORCED_FAILED);
    char prefix[1200];
    snprintf(prefix, sizeof prefix, "plugin %s refused: ", path);
    if (strncmp(err, prefix, strlen(prefix)) != 0 || !strstr(err + strlen(prefix), c->reason))
        fail_msg("error \"%s\" is not \"%s...%s\"", err, prefix, c->reason);
    assert_int_equal(count_lines(" refused: "), 0);
    assert_int_equal(b.n_plugins, 0); /* nothing left loaded behind a failure */

    /* found in a folder (a link to it, alone there): refused with one line, and the real
     * plugins serve every slot with the right numbers */
    char dir[1024], link[1100];
    const char *tmp = getenv("CALGAE_TEST_TMP");
    snprintf(dir, sizeof dir, "%s/test_plugins_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(dir));
    snprintf(link, sizeof link, "%s/calgae-refused.so", dir);
    assert_int_equal(symlink(path, link), 0);
    const char *both[] = {dir, real_dir()};
    load_ok(&b, NULL, both, 2);
    check_refusal_line(link, c->reason, strstr(c->reason, "this CPU cannot run it") ? 1 : 0);
    check_baseline_owners(&b);
    check_matvec(&b);
    check_matmul(&b);
    check_hot_path(&b);
    calgae_backends_free(&b);
    unlink(link);
    rmdir(dir);
}

/* ---- good plugins ----------------------------------------------------------------------- */

static void test_old_minor(void **state)
{
    (void)state;
    char path[1024];
    test_plugin_path(path, sizeof path, "calgae-test-oldminor.so");
    const char *dirs[] = {real_dir()};
    calgae_backends b;
    load_ok(&b, path, dirs, 1);
    if (count_complaints(path) != 0) {
        print_log();
        fail_msg("a good plugin was complained about");
    }
    int old = plugin_index(&b, "oldminor");
    assert_int_equal(old, 0); /* forced: first whatever its priority */
    assert_true(b.plugins[old].forced);
    assert_string_equal(calgae_backends_slot_owner(&b, CALGAE_SLOT_MATVEC_F32), "oldminor");

    const size_t size = b.plugins[old].table->struct_size;
    assert_int_equal(size, offsetof(calgae_plugin, matmul_f32));
    for (int s = 0; s < CALGAE_SLOT_COUNT; s++) {
        if (s == CALGAE_SLOT_MATVEC_F32)
            continue;
        /* NULL slots inside struct_size and poisoned ones past it alike: someone else's */
        if (in_chain(&b, s, old))
            fail_msg("oldminor is in the chain of slot %s", calgae_slot_name(s));
        if (strcmp(calgae_backends_slot_owner(&b, s), baseline_owner[s]) != 0)
            fail_msg("slot %s is served by '%s', expected '%s'", calgae_slot_name(s),
                     calgae_backends_slot_owner(&b, s), baseline_owner[s]);
    }
    /* its prepare_weight is inside struct_size, its flags word is not: prepared one at a time */
    const calgae_weight wf = {.type = CALGAE_TYPE_F32};
    assert_false(calgae_backends_prepare_concurrent(&b, &wf));
    check_matvec(&b);   /* computed by oldminor's own loop */
    check_matmul(&b);   /* past struct_size: a poisoned pointer would abort */
    check_hot_path(&b); /* likewise rmsnorm and the others */
    calgae_backends_free(&b);
}

static long kdecline_calls(const calgae_backends *b)
{
    int i = plugin_index(b, "kdecline");
    assert_true(i >= 0);
    void *sym = dlsym(b->plugins[i].handle, "calgae_test_kdecline_calls");
    assert_non_null(sym);
    long (*calls)(void);
    memcpy(&calls, &sym, sizeof calls);
    return calls();
}

static void test_kernel_declines(void **state)
{
    (void)state;
    char path[1024];
    test_plugin_path(path, sizeof path, "calgae-test-kdecline.so");
    const char *dirs[] = {real_dir()};
    calgae_backends b;
    load_ok(&b, path, dirs, 1);
    assert_int_equal(count_complaints(path), 0);
    assert_string_equal(calgae_backends_slot_owner(&b, CALGAE_SLOT_MATVEC_F32), "kdecline");
    assert_string_equal(calgae_backends_slot_owner(&b, CALGAE_SLOT_MATMUL_F32), "kdecline");
    const long before = kdecline_calls(&b);
    check_matvec(&b); /* two products, each declined and then computed by the next plugin */
    check_matmul(&b);
    assert_int_equal(kdecline_calls(&b) - before, 3);
    calgae_backends_free(&b);
}

/* ---- whole-registry cases --------------------------------------------------------------- */

static void test_forced_name_missing(void **state)
{
    (void)state;
    const char *dirs[] = {real_dir()};
    calgae_backends b;
    char err[512];
    assert_int_equal(load(&b, "nosuch", dirs, 1, err, sizeof err), CALGAE_BACKENDS_FORCED_FAILED);
    if (!strstr(err, "nosuch"))
        fail_msg("error \"%s\" does not name the backend", err);
    assert_int_equal(b.n_plugins, 0); /* nothing left loaded behind a failure */
}

static void test_no_dirs(void **state)
{
    (void)state;
    calgae_backends b;
    char err[512];
    assert_int_not_equal(load(&b, NULL, NULL, 0, err, sizeof err), 0);
    if (!strstr(err, "no usable plugin"))
        fail_msg("error \"%s\" lacks \"no usable plugin\"", err);
    assert_int_equal(b.n_plugins, 0);
}

static void test_dir_scan(void **state)
{
    (void)state;
    const char *dirs[] = {test_dir(), real_dir()};
    calgae_backends b;
    load_ok(&b, NULL, dirs, 2);
    /* Q4_0 products: avx2 (prepare_weight, flags say concurrent) on an AVX2 machine, else a
     * plugin without prepare_weight: either way the host may prepare on all threads */
    const calgae_weight wq = {.type = CALGAE_TYPE_Q4_0};
    assert_true(calgae_backends_prepare_concurrent(&b, &wq));

    int aarch64_missing = 0;
    for (size_t i = 0; i < N_REFUSALS; i++) {
        const refusal_case *c = &refusals[i];
        if (strcmp(c->file, MISSING_FILE) == 0)
            continue;
        char path[1024];
        test_plugin_path(path, sizeof path, c->file);
        if (strcmp(c->file, AARCH64_FILE) == 0 && access(path, F_OK) != 0) {
            aarch64_missing = 1;
            continue;
        }
        /* found by the scan: a probe refusal is routine (verbose only), the others are not */
        check_refusal_line(path, c->reason, strstr(c->reason, "this CPU cannot run it") ? 1 : 0);
    }
    /* every refusal in the test folder is one of the cases above: a good plugin is never
     * refused (the real folder may hold a SIMD plugin this CPU cannot run: not ours to judge) */
    char test_prefix[1100];
    snprintf(test_prefix, sizeof test_prefix, "calgae: plugin %s/", test_dir());
    for (int i = 0; i < captured.n; i++) {
        if (!strstr(captured.line[i], " refused: ") || !strstr(captured.line[i], test_prefix))
            continue;
        int known = 0;
        for (size_t k = 0; k < N_REFUSALS && !known; k++) {
            char path[1024];
            test_plugin_path(path, sizeof path, refusals[k].file);
            known = strstr(captured.line[i], path) != NULL;
        }
        if (!known)
            fail_msg("unexpected refusal: %s", captured.line[i]);
    }
    assert_true(plugin_index(&b, "oldminor") >= 0);
    assert_true(plugin_index(&b, "kdecline") >= 0);
    const char *good[] = {"calgae-test-oldminor.so", "calgae-test-kdecline.so"};
    for (int i = 0; i < 2; i++) {
        char path[1024];
        test_plugin_path(path, sizeof path, good[i]);
        assert_int_equal(count_complaints(path), 0);
    }
    assert_true(plugin_index(&b, "scalar") >= 0);
    for (int i = 0; i < b.n_plugins; i++) {
        const char *name = b.plugins[i].table->name;
        if (strstr(b.plugins[i].path, "calgae-test-") && strcmp(name, "oldminor") != 0 &&
            strcmp(name, "kdecline") != 0)
            fail_msg("broken plugin %s was loaded", b.plugins[i].path);
    }
    /* by priority, kdecline (60) before oldminor (50), both behind any SIMD plugin (100 and up)
     * and ahead of scalar (0) */
    const int kd = plugin_index(&b, "kdecline"), old = plugin_index(&b, "oldminor");
    const int sc = plugin_index(&b, "scalar");
    assert_true(kd < old && old < sc);
    assert_true(in_chain(&b, CALGAE_SLOT_MATVEC_F32, kd));
    assert_true(in_chain(&b, CALGAE_SLOT_MATVEC_F32, old));
    check_matvec(&b);
    check_matmul(&b);
    check_hot_path(&b);
    calgae_backends_free(&b);
    if (aarch64_missing) {
        require_aarch64_toolchain();
        fail_msg("%s/%s was not built", test_dir(), AARCH64_FILE);
    }
}

int main(void)
{
    struct CMUnitTest tests[N_REFUSALS + 5] = {
        [N_REFUSALS + 0] = cmocka_unit_test(test_old_minor),
        [N_REFUSALS + 1] = cmocka_unit_test(test_kernel_declines),
        [N_REFUSALS + 2] = cmocka_unit_test(test_forced_name_missing),
        [N_REFUSALS + 3] = cmocka_unit_test(test_no_dirs),
        [N_REFUSALS + 4] = cmocka_unit_test(test_dir_scan),
    };
    /* one test per refusal case, named after its file so a failure says which */
    static char names[N_REFUSALS][80];
    for (size_t i = 0; i < N_REFUSALS; i++) {
        snprintf(names[i], sizeof names[i], "refused: %s", refusals[i].file);
        tests[i] = (struct CMUnitTest){
            .name = names[i], .test_func = test_refusal, .initial_state = &refusals[i]};
    }
    return cmocka_run_group_tests(tests, setup_baseline, NULL);
}
