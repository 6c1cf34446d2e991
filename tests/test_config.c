/*
 * test_config.c - calgae.ini (core/cli/config.c): every key read right, every kind of mistake
 * reported as "FILE:LINE: reason" at the right line, hostile files (long lines, NUL bytes,
 * random junk, 100k keys, a megabyte on one line) refused without a crash, the file-location
 * precedence, the loader options built from a file, and unknown plugin names.
 *
 * Needs CALGAE_TEST_TMP (a scratch folder); works in its own subfolder.
 */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "util.h"

static char tmp[1024]; /* our folder under CALGAE_TEST_TMP */

static int setup_tmp(void **state)
{
    (void)state;
    const char *t = getenv("CALGAE_TEST_TMP");
    if (!t || !*t) {
        fprintf(stderr, "CALGAE_TEST_TMP is not set (run through ctest)\n");
        return -1;
    }
    snprintf(tmp, sizeof tmp, "%s/config", t);
    mkdir(tmp, 0755);
    /* the locate tests set these; nothing from the caller's shell may leak in */
    unsetenv("CALGAE_CONFIG");
    unsetenv("XDG_CONFIG_HOME");
    return 0;
}

static void write_file(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static char *tmp_path(const char *name)
{
    static char p[4][1200];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", tmp, name);
    return p[k];
}

static int parse(calgae_settings *c, const char *text, char *err)
{
    return calgae_settings_parse_string(c, "t.ini", text, strlen(text), err, CALGAE_ERR_LEN);
}

/* The file fails with a message that starts "t.ini:LINE: " and contains why. */
static void expect_bad(const char *text, int line, const char *why)
{
    calgae_settings c;
    char err[CALGAE_ERR_LEN] = "", want[64];
    snprintf(want, sizeof want, "t.ini:%d: ", line);
    int rc = parse(&c, text, err);
    if (rc == 0 || strncmp(err, want, strlen(want)) != 0 || !strstr(err, why))
        fail_msg("for %s\nwant \"%s...%s\"\ngot  rc %d \"%s\"", text, want, why, rc, err);
}

/* ---- good files ---- */

static void test_every_key(void **state)
{
    (void)state;
    const char *text = "\xEF\xBB\xBF; settings\r\n"
                       "# both comment styles\n"
                       "[plugins]\n"
                       "  dirs = /opt/p : rel/q\n"
                       "order = avx2 ,scalar ; inline comment\n"
                       "    deny=blas\n" /* indented after a key: not a continuation */
                       "\n"
                       "[ kernels ]\n"
                       "\tmatvec_f32 = scalar\n"
                       "quantize_q8_0 = avx2\n"
                       "[run]\n"
                       "threads = 12\r\n"
                       "backend = my/plugin.so\n"
                       "[plugins]\n"; /* a section may come back, its keys may not */
    calgae_settings c;
    char err[CALGAE_ERR_LEN] = "";
    assert_int_equal(calgae_settings_parse_string(&c, "etc/calgae/t.ini", text, strlen(text),
                                                  err, sizeof err), 0);
    assert_int_equal(c.n_dirs, 2);
    assert_string_equal(c.dirs[0], "/opt/p");
    assert_string_equal(c.dirs[1], "etc/calgae/rel/q"); /* from the file's folder */
    assert_int_equal(c.dirs_line, 4);
    assert_int_equal(c.n_order, 2);
    assert_string_equal(c.order[0].name, "avx2");
    assert_string_equal(c.order[1].name, "scalar");
    assert_int_equal(c.order[1].line, 5);
    assert_int_equal(c.n_deny, 1);
    assert_string_equal(c.deny[0].name, "blas");
    assert_string_equal(c.slot[CALGAE_SLOT_MATVEC_F32].name, "scalar");
    assert_int_equal(c.slot[CALGAE_SLOT_MATVEC_F32].line, 9);
    assert_string_equal(c.slot[CALGAE_SLOT_QUANTIZE_Q8_0].name, "avx2");
    assert_string_equal(c.slot[CALGAE_SLOT_ROPE].name, "");
    assert_int_equal(c.threads, 12);
    assert_int_equal(c.threads_line, 12);
    assert_string_equal(c.backend, "etc/calgae/my/plugin.so");
    assert_int_equal(c.backend_line, 13);
}

static void test_empty_and_plain(void **state)
{
    (void)state;
    calgae_settings c;
    char err[CALGAE_ERR_LEN] = "";
    assert_int_equal(parse(&c, "", err), 0);
    assert_int_equal(c.n_dirs + c.n_order + c.n_deny + c.threads, 0);
    assert_int_equal(parse(&c, "; only\n# comments\n\n   \n", err), 0);
    assert_int_equal(parse(&c, "[run]\nbackend = auto\nthreads=1024", err), 0); /* no newline */
    assert_string_equal(c.backend, "auto");
    assert_int_equal(c.threads, 1024);
    assert_int_equal(parse(&c, "[run]\nbackend = avx-512_2\n", err), 0);
    assert_string_equal(c.backend, "avx-512_2");
    assert_int_equal(parse(&c, "[run]\nbackend = /abs/x.so\n[plugins]\ndirs = plug\n", err), 0);
    assert_string_equal(c.backend, "/abs/x.so");
    assert_string_equal(c.dirs[0], "plug"); /* a file with no folder: relative to "." */
    /* [run] calibrate: unset by default, each mode by name */
    assert_int_equal(parse(&c, "[run]\nthreads = 2\n", err), 0);
    assert_int_equal(c.calibrate_line, 0);
    const char *modes[] = {"auto", "redo", "off"};
    const int want[] = {CALGAE_CALIB_AUTO, CALGAE_CALIB_REDO, CALGAE_CALIB_OFF};
    for (int i = 0; i < 3; i++) {
        char text[64];
        snprintf(text, sizeof text, "[run]\n\ncalibrate = %s\n", modes[i]);
        assert_int_equal(parse(&c, text, err), 0);
        assert_int_equal(c.calibrate, want[i]);
        assert_int_equal(c.calibrate_line, 3);
    }
}

/* ---- mistakes ---- */

static void test_sections_and_keys(void **state)
{
    (void)state;
    expect_bad("[plugins]\n[runn]\n", 2, "unknown section [runn]");
    expect_bad("[run]\nthreads = 2\n[Run]\nthreads = 3\n", 3, "unknown section [Run]");
    expect_bad("threads = 2\n", 1, "key 'threads' before any section");
    expect_bad("[run]\nthread = 2\n", 2, "unknown key 'thread' in [run]");
    expect_bad("[run]\nthread = 2\n", 2, "(keys: threads, backend, calibrate)");
    expect_bad("[run]\ncalibrate = Auto\n", 2, "calibrate: 'Auto' is not auto, redo or off");
    expect_bad("[run]\ncalibrate = off\ncalibrate = off\n", 3, "duplicate key 'calibrate'");
    expect_bad("[plugins]\n\ndir = /x\n", 3, "unknown key 'dir' in [plugins]");
    expect_bad("[kernels]\nmatvec_f64 = scalar\n", 2, "unknown kernel slot 'matvec_f64'");
    expect_bad("[kernels]\nmatvec_f64 = scalar\n", 2, "matvec_q4_0"); /* lists the slots */
    expect_bad("[run]\nthreads = 2\nbackend = auto\nthreads = 2\n", 4,
               "duplicate key 'threads' in [run] (first set on line 2)");
    expect_bad("[kernels]\nrope = scalar\n[run]\n[kernels]\nrope = scalar\n", 5,
               "duplicate key 'rope'");
    expect_bad("[run]\nthreads 4\n", 2, "cannot parse 'threads 4'");
    expect_bad("[run\nthreads = 4\n", 1, "section header without a closing ']'");
    expect_bad("[run]\n= 4\n", 2, "a value without a key");
    /* the first mistake in the file is the one reported, whatever kind */
    expect_bad("[run]\nbad line\nthreads = 0\n", 2, "cannot parse");
    expect_bad("[run]\nthreads = 0\nbad line\n", 2, "threads: '0'");
}

static void test_values(void **state)
{
    (void)state;
    expect_bad("[run]\nthreads = 0\n", 2, "threads: '0' is not an integer in 1..1024");
    expect_bad("[run]\nthreads = abc\n", 2, "threads: 'abc' is not an integer");
    expect_bad("[run]\nthreads = 4x\n", 2, "threads: '4x'");
    expect_bad("[run]\nthreads = -3\n", 2, "threads: '-3'");
    expect_bad("[run]\nthreads = 1025\n", 2, "threads: '1025'");
    expect_bad("[run]\nthreads = 99999999999999999999999\n", 2, "is not an integer");
    expect_bad("[run]\nthreads =\n", 2, "threads: empty value");
    expect_bad("[run]\nbackend = AVX2\n", 2, "backend: 'AVX2' is not auto, a plugin name");
    expect_bad("[run]\nbackend = \"avx2\"\n", 2, "backend: '\"avx2\"'");
    expect_bad("[plugins]\norder = avx2,,scalar\n", 2, "order: an empty name in the list");
    expect_bad("[plugins]\norder = avx2,\n", 2, "order: an empty name");
    expect_bad("[plugins]\ndeny = a, , b\n", 2, "deny: an empty name");
    expect_bad("[plugins]\norder = avx2 scalar\n", 2, "order: 'avx2 scalar' is not a plugin name");
    expect_bad("[plugins]\norder = avx2, avx2\n", 2, "order: 'avx2' is listed twice");
    expect_bad("[plugins]\ndeny = abcdefghijabcdefghijabcdefghijabc\n", 2, "not a plugin name");
    expect_bad("[plugins]\ndirs = /a::/b\n", 2, "dirs: an empty folder");
    expect_bad("[plugins]\ndirs = /a:/b:/c:/d:/e\n", 2, "dirs: more than 4 folders");
    expect_bad("[kernels]\nrope = Scalar\n", 2, "rope: 'Scalar' is not a plugin name");
    /* contradictions are reported at the line that asks for the denied plugin */
    expect_bad("[plugins]\ndeny = avx2\norder = avx2\n", 3, "order: 'avx2' is also denied (line 2)");
    expect_bad("[kernels]\nrope = avx2\n[plugins]\ndeny = avx2\n", 2,
               "rope: 'avx2' is denied (line 4)");
    expect_bad("[plugins]\ndeny = scalar\n[run]\nbackend = scalar\n", 4,
               "backend: 'scalar' is denied (line 2)");
}

/* ---- hostile files ---- */

static void test_long_lines_and_nul(void **state)
{
    (void)state;
    char big[400];
    memset(big, 'a', sizeof big);
    /* a key too long for inih's buffer: inih alone would cut it and read the rest as a line */
    char text[600];
    snprintf(text, sizeof text, "[run]\n; fine\nthreads = 2 ; %.300s\nbackend = x=y\n", big);
    expect_bad(text, 3, "line longer than");
    snprintf(text, sizeof text, "[plugins]\ndirs = /%.300s\n", big);
    expect_bad(text, 2, "line longer than");
    /* a long line after an error is never reached */
    snprintf(text, sizeof text, "[x]\n%.300s\n", big);
    expect_bad(text, 1, "unknown section");

    static const char nul[] = "[run]\nthreads = 2\0junk\n";
    calgae_settings c;
    char err[CALGAE_ERR_LEN];
    assert_int_not_equal(calgae_settings_parse_string(&c, "t.ini", nul, sizeof nul - 1, err,
                                                      sizeof err), 0);
    assert_non_null(strstr(err, "t.ini:2: a NUL byte"));
    /* junk in messages comes out printable */
    expect_bad("[r\x01\xff\x1b[2J]\n", 1, "unknown section [r???[2J]");
}

/* Random bytes, random INI tokens and both mixed: never a crash (ASan/UBSan builds check
 * reads), always a "junk.ini:N: " message when refused. */
static void test_random_junk(void **state)
{
    (void)state;
    static const char *const tokens[] = {
        "[",       "]",         "=",      ":",        ";",      "#",     "\n",    "\r\n",
        " ",       "\t",        ",",      "[run]",    "[plugins]", "[kernels]", "threads",
        "backend", "dirs",      "order",  "deny",     "scalar", "auto",  "4",     "0",
        "x.so",    "/",         "\xEF\xBB\xBF", "matvec_f32", "\\", "\"",   "\0",    "\xff"};
    const size_t n_tok = sizeof tokens / sizeof tokens[0];
    uint64_t r = 0x9E3779B97F4A7C15u;
    char buf[4096];
    for (int iter = 0; iter < 3000; iter++) {
        size_t len = 0;
        size_t want = (size_t)(r >> 33) % sizeof buf;
        while (len < want) {
            r = r * 6364136223846793005u + 1442695040888963407u;
            if (iter % 3 == 0) {
                buf[len++] = (char)(r >> 56); /* raw bytes */
            } else {
                const char *t = tokens[(r >> 40) % n_tok];
                size_t tl = t[0] ? strlen(t) : 1;
                if (len + tl > want)
                    break;
                memcpy(buf + len, t, tl);
                len += tl;
            }
        }
        calgae_settings c;
        char err[CALGAE_ERR_LEN] = "";
        if (calgae_settings_parse_string(&c, "junk.ini", buf, len, err, sizeof err) != 0 &&
            strncmp(err, "junk.ini:", 9) != 0)
            fail_msg("iteration %d: message without the file name: %s", iter, err);
    }
}

static void test_big_files(void **state)
{
    (void)state;
    calgae_settings c;
    char err[CALGAE_ERR_LEN], want[128];
    size_t cap = 2u << 20;
    char *text = malloc(cap + 1);
    assert_non_null(text);

    /* 100k keys: the first unknown one is line 2 */
    size_t n = (size_t)snprintf(text, cap, "[run]\n");
    for (int i = 0; i < 100000; i++)
        n += (size_t)snprintf(text + n, cap - n, "k%d=1\n", i);
    write_file(tmp_path("keys.ini"), text, n);
    assert_int_not_equal(calgae_settings_parse_file(&c, tmp_path("keys.ini"), err, sizeof err), 0);
    snprintf(want, sizeof want, "%s:2: unknown key 'k0' in [run]", tmp_path("keys.ini"));
    assert_non_null(strstr(err, want));

    /* 100k lines that are fine, then a mistake: the line count stays right */
    n = (size_t)snprintf(text, cap, "[kernels]\n");
    for (int i = 0; i < 100000; i++)
        n += (size_t)snprintf(text + n, cap - n, "; comment %d\n", i);
    n += (size_t)snprintf(text + n, cap - n, "rope = scalar\nrope = scalar\n");
    assert_int_not_equal(calgae_settings_parse_string(&c, "t.ini", text, n, err, sizeof err), 0);
    assert_non_null(strstr(err, "t.ini:100003: duplicate key 'rope' in [kernels] (first set on "
                                "line 100002)"));

    /* a megabyte on one line */
    memset(text, 'x', 1000000);
    write_file(tmp_path("line.ini"), text, 1000000);
    assert_int_not_equal(calgae_settings_parse_file(&c, tmp_path("line.ini"), err, sizeof err), 0);
    snprintf(want, sizeof want, "%s:1: line longer than", tmp_path("line.ini"));
    assert_non_null(strstr(err, want));

    /* a megabyte of text is the most a settings file may hold */
    memset(text, '\n', cap);
    write_file(tmp_path("huge.ini"), text, 1u << 20);
    assert_int_equal(calgae_settings_parse_file(&c, tmp_path("huge.ini"), err, sizeof err), 0);
    write_file(tmp_path("huge.ini"), text, (1u << 20) + 1);
    assert_int_not_equal(calgae_settings_parse_file(&c, tmp_path("huge.ini"), err, sizeof err), 0);
    assert_non_null(strstr(err, "not a configuration file"));
    free(text);
}

static void test_files(void **state)
{
    (void)state;
    calgae_settings c;
    char err[CALGAE_ERR_LEN], want[1200];
    assert_int_not_equal(calgae_settings_parse_file(&c, tmp_path("missing.ini"), err, sizeof err),
                         0);
    snprintf(want, sizeof want, "%s: cannot open the configuration file: No such file",
             tmp_path("missing.ini"));
    assert_non_null(strstr(err, want));
    assert_int_not_equal(calgae_settings_parse_file(&c, tmp, err, sizeof err), 0);
    assert_non_null(strstr(err, "Is a directory"));
    assert_int_equal(calgae_settings_parse_file(&c, "/dev/null", err, sizeof err), 0);
    const char good[] = "[run]\nthreads = 3\n";
    write_file(tmp_path("good.ini"), good, sizeof good - 1);
    assert_int_equal(calgae_settings_parse_file(&c, tmp_path("good.ini"), err, sizeof err), 0);
    assert_int_equal(c.threads, 3);
    assert_string_equal(c.path, tmp_path("good.ini"));
}

/* ---- where the file comes from ---- */

static void make_ini(const char *dir, const char *threads)
{
    char path[1400], text[64];
    snprintf(path, sizeof path, "%s/calgae.ini", dir);
    int n = snprintf(text, sizeof text, "[run]\nthreads = %s\n", threads);
    write_file(path, text, (size_t)n);
}

/* Loads with no --config and returns [run] threads, which tells the files apart. */
static int loaded_threads(const char *flag, int *source)
{
    calgae_settings c;
    char err[CALGAE_ERR_LEN] = "";
    if (calgae_settings_load(&c, flag, err, sizeof err) != 0)
        fail_msg("load failed: %s", err);
    *source = c.source;
    return c.threads;
}

static void test_locate(void **state)
{
    (void)state;
    char cwd[1024], home[1200], xdg[1200], work[1200], dir[1300];
    assert_non_null(getcwd(cwd, sizeof cwd));
    snprintf(home, sizeof home, "%s/home", tmp);
    snprintf(xdg, sizeof xdg, "%s/xdg", tmp);
    snprintf(work, sizeof work, "%s/work", tmp);
    mkdir(home, 0755);
    mkdir(xdg, 0755);
    mkdir(work, 0755);
    snprintf(dir, sizeof dir, "%s/.config", home);
    mkdir(dir, 0755);
    snprintf(dir, sizeof dir, "%s/.config/calgae", home);
    mkdir(dir, 0755);
    make_ini(dir, "1"); /* $HOME/.config/calgae/calgae.ini */
    snprintf(dir, sizeof dir, "%s/calgae", xdg);
    mkdir(dir, 0755);
    make_ini(dir, "2"); /* $XDG_CONFIG_HOME/calgae/calgae.ini */
    make_ini(work, "3"); /* ./calgae.ini */
    const char env_text[] = "[run]\nthreads = 4\n";
    write_file(tmp_path("env.ini"), env_text, sizeof env_text - 1);
    const char flag_text[] = "[run]\nthreads = 5\n";
    write_file(tmp_path("flag.ini"), flag_text, sizeof flag_text - 1);
    /* the lower files are broken on purpose in the next steps: only one file is read */
    assert_int_equal(chdir(work), 0);
    setenv("HOME", home, 1);

    int src;
    setenv("XDG_CONFIG_HOME", xdg, 1);
    setenv("CALGAE_CONFIG", tmp_path("env.ini"), 1);
    assert_int_equal(loaded_threads(tmp_path("flag.ini"), &src), 5);
    assert_int_equal(src, CALGAE_SETTINGS_FLAG);
    assert_int_equal(loaded_threads(NULL, &src), 4);
    assert_int_equal(src, CALGAE_SETTINGS_ENV);
    setenv("CALGAE_CONFIG", "", 1); /* empty is unset */
    assert_int_equal(loaded_threads(NULL, &src), 3);
    assert_int_equal(src, CALGAE_SETTINGS_CWD);
    unsetenv("CALGAE_CONFIG");
    make_ini(dir, "bad"); /* the XDG file, now broken, is not read while ./calgae.ini exists */
    assert_int_equal(loaded_threads(NULL, &src), 3);
    make_ini(dir, "2");
    assert_int_equal(unlink("calgae.ini"), 0);
    assert_int_equal(loaded_threads(NULL, &src), 2);
    assert_int_equal(src, CALGAE_SETTINGS_XDG);
    setenv("XDG_CONFIG_HOME", "relative/xdg", 1); /* invalid per the spec: $HOME/.config */
    assert_int_equal(loaded_threads(NULL, &src), 1);
    unsetenv("XDG_CONFIG_HOME");
    assert_int_equal(loaded_threads(NULL, &src), 1);
    assert_int_equal(src, CALGAE_SETTINGS_XDG);
    setenv("HOME", work, 1); /* no file anywhere: fine, all automatic */
    assert_int_equal(loaded_threads(NULL, &src), 0);
    assert_int_equal(src, CALGAE_SETTINGS_NONE);

    /* a file named explicitly must exist; the message names it and who named it */
    calgae_settings c;
    char err[CALGAE_ERR_LEN];
    setenv("CALGAE_CONFIG", tmp_path("nope.ini"), 1);
    assert_int_not_equal(calgae_settings_load(&c, NULL, err, sizeof err), 0);
    assert_non_null(strstr(err, tmp_path("nope.ini")));
    assert_non_null(strstr(err, "$CALGAE_CONFIG"));
    unsetenv("CALGAE_CONFIG");
    assert_int_not_equal(calgae_settings_load(&c, tmp_path("nope.ini"), err, sizeof err), 0);
    assert_non_null(strstr(err, "(named by --config)"));
    assert_int_not_equal(calgae_settings_load(&c, "", err, sizeof err), 0);
    assert_non_null(strstr(err, "--config: empty file name"));
    assert_int_equal(chdir(cwd), 0);
}

/* ---- what the loader gets ---- */

static void test_backend_options(void **state)
{
    (void)state;
    calgae_settings c;
    char err[CALGAE_ERR_LEN] = "";
    const char *text = "[plugins]\ndirs = /p1:/p2:/p3:/p4\norder = avx2\ndeny = blas\n"
                       "[kernels]\nrope = scalar\n[run]\nbackend = avx2\n";
    assert_int_equal(parse(&c, text, err), 0);
    calgae_backend_options def = {0}, o;
    setenv("CALGAE_PLUGIN_PATH", "/e1:/e2:/e3:/e4:/e5:/e6", 1);
    calgae_default_plugin_dirs(&def);
    calgae_settings_backend_options(&c, NULL, &o);
    unsetenv("CALGAE_PLUGIN_PATH");
    /* the file's folders first; $CALGAE_PLUGIN_PATH gives way; the binary's folder stays */
    assert_int_equal(o.n_dirs, CALGAE_MAX_PLUGIN_DIRS);
    assert_string_equal(o.dirs[0], "/p1");
    assert_string_equal(o.dirs[3], "/p4");
    assert_string_equal(o.dirs[4], "/e1");
    assert_string_equal(o.dirs[CALGAE_MAX_PLUGIN_DIRS - 1], def.dirs[def.n_dirs - 1]);
    assert_string_equal(o.forced, "avx2");
    assert_int_equal(o.n_order, 1);
    assert_string_equal(o.order[0], "avx2");
    assert_int_equal(o.n_deny, 1);
    assert_string_equal(o.deny[0], "blas");
    assert_string_equal(o.slot_plugin[CALGAE_SLOT_ROPE], "scalar");
    assert_null(o.slot_plugin[CALGAE_SLOT_SOFTMAX]);
    /* the command line wins; an empty --backend is no --backend */
    calgae_settings_backend_options(&c, "scalar", &o);
    assert_string_equal(o.forced, "scalar");
    calgae_settings_backend_options(&c, "", &o);
    assert_string_equal(o.forced, "avx2");
    assert_int_equal(parse(&c, "", err), 0);
    calgae_settings_backend_options(&c, NULL, &o);
    assert_null(o.forced);
}

static void test_unknown_names(void **state)
{
    (void)state;
    calgae_backends *b = calloc(1, sizeof *b);
    assert_non_null(b);
    /* what the loader saw: scalar and avx2 with a table, one file it could not open */
    const char *names[] = {"scalar", "avx2", ""};
    for (int i = 0; i < 3; i++) {
        calgae_candidate *k = &b->candidates[b->n_candidates++];
        k->have_table = names[i][0] != '\0';
        snprintf(k->name, sizeof k->name, "%s", names[i]);
        k->status = i == 1 ? CALGAE_CAND_REFUSED : CALGAE_CAND_LOADED;
    }
    calgae_settings c;
    char err[CALGAE_ERR_LEN] = "";
    struct {
        const char *text, *want;
    } cases[] = {
        {"[plugins]\norder = avx2, avxx\n", "t.ini:2: unknown backend 'avxx' (plugins found: "
                                           "scalar, avx2)"},
        {"[plugins]\ndeny = nope\n", "t.ini:2: unknown backend 'nope'"},
        {"[kernels]\nrope = scalar\nmatvec_f32 = sclar\n", "t.ini:3: unknown backend 'sclar'"},
        {"[run]\nbackend = ghost\n", "t.ini:2: unknown backend 'ghost'"},
        /* the earliest line wins, whatever the key */
        {"[run]\nbackend = late\n[plugins]\norder = early\n", "t.ini:2: unknown backend 'late'"},
        {"[kernels]\nrope = zz\n[plugins]\norder = aa\n", "t.ini:2: unknown backend 'zz'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(parse(&c, cases[i].text, err), 0);
        assert_int_equal(calgae_settings_check_names(&c, b, err, sizeof err), CALGAE_SETTINGS_BAD);
        if (!strstr(err, cases[i].want))
            fail_msg("%s\nwant %s\ngot  %s", cases[i].text, cases[i].want, err);
    }
    /* a refused plugin is still a known name; paths and auto are not names */
    const char *fine[] = {"[plugins]\norder = avx2\ndeny = scalar\n", "[run]\nbackend = auto\n",
                          "[run]\nbackend = ./nowhere.so\n", ""};
    for (size_t i = 0; i < sizeof fine / sizeof fine[0]; i++) {
        assert_int_equal(parse(&c, fine[i], err), 0);
        assert_int_equal(calgae_settings_check_names(&c, b, err, sizeof err), 0);
    }
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_key),       cmocka_unit_test(test_empty_and_plain),
        cmocka_unit_test(test_sections_and_keys), cmocka_unit_test(test_values),
        cmocka_unit_test(test_long_lines_and_nul), cmocka_unit_test(test_random_junk),
        cmocka_unit_test(test_big_files),       cmocka_unit_test(test_files),
        cmocka_unit_test(test_locate),          cmocka_unit_test(test_backend_options),
        cmocka_unit_test(test_unknown_names),
    };
    return cmocka_run_group_tests(tests, setup_tmp, NULL);
}
