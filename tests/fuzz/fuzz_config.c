/*
 * fuzz_config.c - libFuzzer target: calgae.ini through calgae_settings_parse_file (what
 * `--config FILE` reads) and, on an exact-size copy so that a read past the text is caught,
 * calgae_settings_parse_string; then the checks that follow once plugins are known
 * (calgae_settings_check_names against a fixed set of plugins) and the loader's options built
 * from the file (calgae_settings_backend_options).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fuzz_common.h"

static int name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 32)
        return 0;
    return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

/* "PATH:LINE: reason" with 1 <= LINE <= the file's lines. */
static void check_error(const char *err, const char *path, const uint8_t *data, size_t size)
{
    size_t n = strlen(path);
    FUZZ_CHECK(strncmp(err, path, n) == 0 && err[n] == ':', "message '%s' does not name the file",
               err);
    char *end;
    long line = strtol(err + n + 1, &end, 10);
    long lines = 1;
    for (size_t i = 0; i < size; i++)
        lines += data[i] == '\n';
    FUZZ_CHECK(end[0] == ':' && end[1] == ' ' && end[2], "message '%s' has no line", err);
    FUZZ_CHECK(line >= 1 && line <= lines, "line %ld of %ld lines: %s", line, lines, err);
}

static void check_settings(const calgae_settings *c)
{
    FUZZ_CHECK(c->threads == 0 || (c->threads >= 1 && c->threads <= 1024), "threads %d",
               c->threads);
    FUZZ_CHECK(c->n_dirs >= 0 && c->n_dirs <= CALGAE_SETTINGS_MAX_DIRS, "n_dirs %d", c->n_dirs);
    FUZZ_CHECK(c->n_order >= 0 && c->n_order <= CALGAE_MAX_PLUGINS, "n_order %d", c->n_order);
    FUZZ_CHECK(c->n_deny >= 0 && c->n_deny <= CALGAE_MAX_PLUGINS, "n_deny %d", c->n_deny);
    for (int i = 0; i < c->n_dirs; i++)
        FUZZ_CHECK(c->dirs[i][0], "empty folder %d", i);
    for (int i = 0; i < c->n_order; i++) {
        FUZZ_CHECK(name_ok(c->order[i].name) && c->order[i].line >= 1, "order[%d]", i);
        for (int d = 0; d < c->n_deny; d++)
            FUZZ_CHECK(strcmp(c->order[i].name, c->deny[d].name) != 0, "%s ordered and denied",
                       c->order[i].name);
    }
    for (int i = 0; i < c->n_deny; i++)
        FUZZ_CHECK(name_ok(c->deny[i].name) && c->deny[i].line >= 1, "deny[%d]", i);
    for (int s = 0; s < CALGAE_SLOT_COUNT; s++)
        FUZZ_CHECK(!c->slot[s].name[0] || name_ok(c->slot[s].name), "slot %d", s);
}

/* What the loader would have found: three plugins, one of them refused. */
static void fake_backends(calgae_backends *b)
{
    static const char *const names[] = {"scalar", "avx2", "blas"};
    memset(b, 0, sizeof *b);
    for (int i = 0; i < 3; i++) {
        calgae_candidate *k = &b->candidates[b->n_candidates++];
        snprintf(k->name, sizeof k->name, "%s", names[i]);
        snprintf(k->path, sizeof k->path, "/plugins/calgae-%s.so", names[i]);
        k->have_table = 1;
        k->status = i == 2 ? CALGAE_CAND_REFUSED : CALGAE_CAND_LOADED;
    }
}

static int one_input(const uint8_t *data, size_t size)
{
    static calgae_settings c, c2; /* 20 KB each: not on the stack */
    static calgae_backends b;
    const char *path = fuzz_file(data, size);
    char err[CALGAE_ERR_LEN] = "", err2[CALGAE_ERR_LEN] = "";
    int rc = calgae_settings_parse_file(&c, path, err, sizeof err);

    char *text = malloc(size ? size : 1);
    FUZZ_CHECK(text != NULL, "out of memory");
    memcpy(text, data, size);
    int rc2 = calgae_settings_parse_string(&c2, path, text, size, err2, sizeof err2);
    free(text);
    FUZZ_CHECK(rc == rc2 && strcmp(err, err2) == 0, "file and string disagree: '%s' / '%s'", err,
               err2);
    if (rc != 0) {
        FUZZ_CHECK(rc == -1, "rc %d", rc);
        check_error(err, path, data, size);
        return 0;
    }
    check_settings(&c);

    fake_backends(&b);
    err[0] = '\0';
    rc = calgae_settings_check_names(&c, &b, err, sizeof err);
    if (rc != 0) {
        FUZZ_CHECK(rc == CALGAE_SETTINGS_BAD && strstr(err, "unknown backend"), "rc %d: %s", rc,
                   err);
        check_error(err, path, data, size);
    }
    calgae_backend_options o;
    calgae_settings_backend_options(&c, NULL, &o);
    FUZZ_CHECK(o.n_dirs >= 1 && o.n_dirs <= CALGAE_MAX_PLUGIN_DIRS, "%d folders", o.n_dirs);
    FUZZ_CHECK(c.backend[0] ? o.forced == c.backend : o.forced == NULL, "forced");
    FUZZ_CHECK(o.n_order == c.n_order && o.n_deny == c.n_deny, "lists");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_begin(size);
    one_input(data, size);
    fuzz_end();
    return 0;
}
