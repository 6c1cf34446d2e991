/*
 * config.h - the user's settings file, an INI file read with inih.
 *
 * Where: `--config FILE`, else $CALGAE_CONFIG, else ./calgae.ini, else
 * $XDG_CONFIG_HOME/calgae/calgae.ini ($XDG_CONFIG_HOME defaults to $HOME/.config). Only the
 * first file found is read; the others are not merged in. A file named by --config or
 * $CALGAE_CONFIG must exist; the two default places may hold none. CALGAE_CONFIG=/dev/null
 * reads no settings at all.
 *
 * Keys (section and key names are lowercase and exact; see core/cli/config.md):
 *
 *   [plugins]
 *   dirs  = /opt/calgae/plugins:plugins   folders searched for calgae-*.so before the default
 *                                         ones, colon-separated, at most 4; a relative folder is
 *                                         taken from the configuration file's folder
 *   order = avx2, scalar                  plugin names ranked first, in this order
 *   deny  = blas                          plugin names never used (a --backend NAME still wins)
 *
 *   [kernels]
 *   matvec_q4_0 = avx2                    <slot> = <plugin>: that plugin serves the slot first
 *                                         (slots: calgae_slot_name(), e.g. quantize_q8_0)
 *
 *   [run]
 *   threads = 4                           default for --threads (1..1024)
 *   backend = avx2                        default for --backend: auto, a name or a FILE.so
 *                                         (a relative path is taken from the file's folder)
 *   calibrate = auto                      default for --calibrate: auto (measure the product
 *                                         plugins once, then use the cache), redo, off
 *
 * Precedence: the command line (--backend, --threads) > the one file read > automatic choice.
 *
 * Errors name the file and the line ("calgae.ini:3: unknown key 'thread' in [run]"); the first
 * error in the file is the one reported. A plugin name that no plugin file found has is an
 * error too, checked once the plugins are loaded (calgae_session_load_backends), and so is a
 * [run] backend that can't be used (a missing or refused file). The CLI exits with status 2 for
 * every configuration error, as for a bad flag or a --backend that can't be used.
 */
#ifndef CALGAE_SETTINGS_H
#define CALGAE_SETTINGS_H

#include <stddef.h>

#include "backend.h"
#include "calibrate.h"

#define CALGAE_SETTINGS_MAX_DIRS 4
#define CALGAE_SETTINGS_PATH_LEN 1280
#define CALGAE_SETTINGS_NAME_LEN 33 /* plugin names are [a-z0-9_-]{1,32} */

/* Returned by calgae_session_load_backends and calgae_session_open when the configuration
 * is at fault rather than the plugins: the CLI turns it into exit status 2. */
#define CALGAE_SETTINGS_BAD (-2)

enum calgae_settings_source {
    CALGAE_SETTINGS_NONE, /* no file: every setting is automatic */
    CALGAE_SETTINGS_FLAG, /* --config FILE */
    CALGAE_SETTINGS_ENV,  /* $CALGAE_CONFIG */
    CALGAE_SETTINGS_CWD,  /* ./calgae.ini */
    CALGAE_SETTINGS_XDG,  /* $XDG_CONFIG_HOME/calgae/calgae.ini */
};

/* A plugin name as written in the file, with its line for later messages. */
typedef struct calgae_settings_name {
    char name[CALGAE_SETTINGS_NAME_LEN];
    int line;
} calgae_settings_name;

/* One configuration file, checked. (calgae_config in model.h is the model's hyperparameters.) */
typedef struct calgae_settings {
    int source;                          /* enum calgae_settings_source */
    char path[CALGAE_SETTINGS_PATH_LEN]; /* the file read ("" when source is NONE) */

    /* [plugins] */
    int n_dirs;
    char dirs[CALGAE_SETTINGS_MAX_DIRS][CALGAE_SETTINGS_PATH_LEN]; /* relative ones resolved */
    int dirs_line;
    int n_order;
    calgae_settings_name order[CALGAE_MAX_PLUGINS];
    int n_deny;
    calgae_settings_name deny[CALGAE_MAX_PLUGINS];

    /* [kernels]: name[0] == '\0' where the slot is not set */
    calgae_settings_name slot[CALGAE_SLOT_COUNT];

    /* [run] */
    int threads; /* 0: not set */
    int threads_line;
    char backend[CALGAE_SETTINGS_PATH_LEN]; /* "" if not set; "auto", a name, or a .so path */
    int backend_line;
    int calibrate; /* enum calgae_calib_mode; meaningful when calibrate_line is not 0 */
    int calibrate_line;
} calgae_settings;

/* "auto", "redo", "off" as enum calgae_calib_mode, or -1. */
int calgae_calibrate_mode_parse(const char *s);

/* Human words for a source: "--config", "$CALGAE_CONFIG", "the current folder", ... */
const char *calgae_settings_source_name(int source);

/* Finds the one file to read, by the precedence above; flag_path is --config's value or NULL.
 * Sets *source and path ("" for CALGAE_SETTINGS_NONE). Fails only for an empty --config. */
int calgae_settings_locate(const char *flag_path, int *source, char *path, size_t path_len,
                           char *err, size_t err_len);

/* Locates and reads the configuration; c is all defaults when there is no file. */
int calgae_settings_load(calgae_settings *c, const char *flag_path, char *err, size_t err_len);

/* Reads one file (c->source becomes CALGAE_SETTINGS_FLAG). A missing file is an error. */
int calgae_settings_parse_file(calgae_settings *c, const char *path, char *err, size_t err_len);

/* Parses len bytes of INI text as if read from the file `name`, which messages and relative
 * folders use. */
int calgae_settings_parse_string(calgae_settings *c, const char *name, const char *text,
                                 size_t len, char *err, size_t err_len);

/* Overwrites o with the loader's options: the file's folders, then the default ones (at most
 * CALGAE_MAX_PLUGIN_DIRS in all; the binary's own folder is always kept); order, deny and the
 * per-slot choices; forced = cli_backend if given, else [run] backend. Strings point into c
 * and static storage, so c must outlive o. The caller sets log and log_user afterwards. */
void calgae_settings_backend_options(const calgae_settings *c, const char *cli_backend,
                                     calgae_backend_options *o);

/* Every plugin name in c must be one that a plugin file found has (b->candidates, usable or
 * not). Returns 0, or CALGAE_SETTINGS_BAD with "FILE:LINE: unknown backend 'x' (...)". */
int calgae_settings_check_names(const calgae_settings *c, const calgae_backends *b, char *err,
                                size_t err_len);

#endif
