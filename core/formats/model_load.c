/*
 * model_load.c - a model from a path: format detection by magic (GGUF, else llama2.c .bin) and
 * the folder conveniences (a folder of one model file, a Hugging Face folder, ORG/NAME in
 * huggingface_hub's cache); the format loaders are model_gguf.c, model_bin.c and model_hf.c.
 */
#define _GNU_SOURCE
#include "model_load.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gguf.h"
#include "hf.h"

/* A folder holding one model: exactly one *.gguf, else exactly one *.bin not named tokenizer. */
static int pick_in_folder(const char *dir, char *out, size_t out_len, char *err, size_t err_len)
{
    DIR *d = opendir(dir);
    if (!d)
        return calgae_fail(err, err_len, "%s: cannot open folder", dir);
    char gguf[256] = "", bin[256] = ""; /* d_name is at most 255 bytes */
    int n_gguf = 0, n_bin = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n > 5 && strcmp(e->d_name + n - 5, ".gguf") == 0) {
            n_gguf++;
            snprintf(gguf, sizeof gguf, "%s", e->d_name);
        } else if (n > 4 && strcmp(e->d_name + n - 4, ".bin") == 0 &&
                   strncmp(e->d_name, "tok", 3) != 0) {
            n_bin++;
            snprintf(bin, sizeof bin, "%s", e->d_name);
        }
    }
    closedir(d);
    const char *pick = n_gguf == 1 ? gguf : (n_gguf == 0 && n_bin == 1 ? bin : NULL);
    if (!pick)
        return calgae_fail(err, err_len,
                           "%s: folder holds %d .gguf and %d model .bin files; name the file",
                           dir, n_gguf, n_bin);
    if ((size_t)snprintf(out, out_len, "%s/%s", dir, pick) >= out_len)
        return calgae_fail(err, err_len, "%s: path too long", dir);
    return 0;
}

int calgae_hub_cache_dir(char *out, size_t len)
{
    const char *c = getenv("HF_HUB_CACHE"), *home = getenv("HF_HOME"), *h = getenv("HOME");
    if (c && *c)
        return (size_t)snprintf(out, len, "%s", c) < len ? 0 : -1;
    if (home && *home)
        return (size_t)snprintf(out, len, "%s/hub", home) < len ? 0 : -1;
    if (h && *h)
        return (size_t)snprintf(out, len, "%s/.cache/huggingface/hub", h) < len ? 0 : -1;
    return -1;
}

/* ORG/NAME that is no file here: the snapshot of the cache's refs/main, when there is one. */
static int hub_snapshot(const char *repo, char *out, size_t len)
{
    const char *slash = strchr(repo, '/');
    char hub[CALGAE_PATH_MAX], ref[CALGAE_PATH_MAX + 300], sha[64] = "";
    if (!slash || slash == repo || !slash[1] || strchr(slash + 1, '/') || repo[0] == '.' ||
        strspn(repo, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_./") !=
            strlen(repo) || strlen(repo) > 200 || calgae_hub_cache_dir(hub, sizeof hub) != 0)
        return -1;
    snprintf(ref, sizeof ref, "%s/models--%.*s--%s/refs/main", hub, (int)(slash - repo), repo,
             slash + 1);
    FILE *f = fopen(ref, "r");
    if (!f)
        return -1;
    int ok = fscanf(f, "%40[0-9a-f]", sha) == 1 && strlen(sha) == 40;
    fclose(f);
    if (!ok || (size_t)snprintf(out, len, "%s/models--%.*s--%s/snapshots/%s", hub,
                                (int)(slash - repo), repo, slash + 1, sha) >= len)
        return -1;
    return 0;
}

int calgae_transformer_load(calgae_transformer *m, const char *path, char *err, size_t err_len)
{
    char snap[CALGAE_PATH_MAX];
    struct stat st0;
    if (stat(path, &st0) != 0 && hub_snapshot(path, snap, sizeof snap) == 0)
        path = snap;
    memset(m, 0, sizeof *m);
    char file[CALGAE_PATH_MAX];
    if (strlen(path) >= sizeof file)
        return calgae_fail(err, err_len, "%.200s...: path longer than %d bytes", path,
                           CALGAE_PATH_MAX - 1);
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode) && calgae_hf_is_folder(path)) {
        if (calgae_transformer_load_hf(m, path, err, err_len) != 0) {
            calgae_transformer_free(m);
            return -1;
        }
        snprintf(m->path, sizeof m->path, "%s", path);
        return 0;
    }
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        if (pick_in_folder(path, file, sizeof file, err, err_len) != 0)
            return -1;
    } else {
        snprintf(file, sizeof file, "%s", path);
    }
    /* mapping checks the file first (a regular file, readable) and says why not */
    calgae_map probe;
    if (calgae_map_file(&probe, file, err, err_len) != 0)
        return -1;
    calgae_unmap(&probe);
    int is_gguf = calgae_gguf_probe(file, err, err_len);
    if (is_gguf < 0)
        return -1;
    int rc = is_gguf ? calgae_transformer_load_gguf(m, file, err, err_len)
                     : calgae_transformer_load_bin(m, file, err, err_len);
    if (rc != 0) {
        calgae_transformer_free(m);
        return -1;
    }
    snprintf(m->path, sizeof m->path, "%s", file);
    return 0;
}
