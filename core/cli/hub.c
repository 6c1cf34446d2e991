/*
 * hub.c - see hub.h. HTTP through libcurl, JSON through cJSON, SHA-256 through libcrypto.
 */
#define _GNU_SOURCE
#include "hub.h"

#include <cJSON.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

#define MAX_LISTING (64u << 20)
#define RETRIES 5

typedef struct hub_file {
    char *name;        /* rfilename */
    char blob[65];     /* sha256 (LFS) or git blob id */
    int lfs;
    long long size;
} hub_file;

typedef struct hub {
    const calgae_hub_opts *o;
    char repo_dir[CALGAE_PATH_MAX];
    char commit[41];
    hub_file *files;
    size_t n_files;
    /* shared by the workers */
    pthread_mutex_t lock;
    size_t next, done;
    long long bytes_total, bytes_done;
    int failed;
    char err[CALGAE_ERR_LEN];
} hub;

/* ---- HTTP ---- */

typedef struct membuf {
    char *data;
    size_t len;
    int too_big;
} membuf;

static size_t to_mem(char *p, size_t size, size_t n, void *user)
{
    membuf *m = user;
    size_t add = size * n;
    if (m->len + add > MAX_LISTING) {
        m->too_big = 1;
        return 0;
    }
    char *d = realloc(m->data, m->len + add + 1);
    if (!d)
        return 0;
    memcpy(d + m->len, p, add);
    m->data = d;
    m->len += add;
    d[m->len] = 0;
    return add;
}

/* A transfer that receives nothing for timeout_s seconds is stopped (curl's own low-speed
 * check averages over a window, so a few early bytes would hide a stall for long). The same
 * callback reports the fetch's progress (h is NULL for the listing). */
typedef struct stall {
    long timeout_s;
    curl_off_t last_now;
    double last_change;
    hub *h;
} stall;

/* Calls the caller's progress function; h->lock is held. */
static void report(hub *h, int final)
{
    if (h->o->progress)
        h->o->progress(h->o->progress_user, h->bytes_done, h->bytes_total, h->done, h->n_files,
                       final);
}

static double now_s(void)
{
    return calgae_now_ms() / 1000.0;
}

static int on_progress(void *user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)dltotal, (void)ultotal, (void)ulnow;
    stall *s = user;
    double t = now_s();
    if (s->h) {
        pthread_mutex_lock(&s->h->lock);
        report(s->h, 0);
        pthread_mutex_unlock(&s->h->lock);
    }
    if (dlnow != s->last_now || s->last_change == 0) {
        s->last_now = dlnow;
        s->last_change = t;
    }
    return t - s->last_change > (double)s->timeout_s; /* nonzero aborts the transfer */
}

static CURL *new_handle(const calgae_hub_opts *o, hub *h, const char *url,
                        struct curl_slist **hdrs, stall *st)
{
    CURL *c = curl_easy_init();
    if (!c)
        return NULL;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, o->timeout_s);
    *st = (stall){.timeout_s = o->timeout_s, .h = h};
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, st);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "calgae/1 (fetch-model)");
    *hdrs = NULL;
    if (o->token && *o->token) {
        char h[4096];
        snprintf(h, sizeof h, "Authorization: Bearer %s", o->token);
        *hdrs = curl_slist_append(NULL, h);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, *hdrs);
    }
    return c;
}

/* One message per HTTP failure the user can act on. */
static int http_error(long code, const char *what, const char *repo, char *err, size_t err_len)
{
    if (code == 401 || code == 403)
        return calgae_fail(err, err_len, "%s: access denied (HTTP %ld): a gated or private "
                           "repository needs HF_TOKEN, or the token is wrong", what, code);
    if (code == 404)
        return calgae_fail(err, err_len, "%s: not found (HTTP 404): no repository %s, or no "
                           "such revision or file", what, repo);
    return calgae_fail(err, err_len, "%s: HTTP %ld", what, code);
}

static int curl_error(CURLcode rc, const char *what, long timeout_s, char *err, size_t err_len)
{
    if (rc == CURLE_OPERATION_TIMEDOUT || rc == CURLE_ABORTED_BY_CALLBACK)
        return calgae_fail(err, err_len, "%s: timed out (no data for %ld s)", what, timeout_s);
    if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST)
        return calgae_fail(err, err_len, "%s: cannot connect: %s", what, curl_easy_strerror(rc));
    if (rc == CURLE_PARTIAL_FILE || rc == CURLE_RECV_ERROR || rc == CURLE_GOT_NOTHING)
        return calgae_fail(err, err_len, "%s: connection dropped: %s", what,
                           curl_easy_strerror(rc));
    return calgae_fail(err, err_len, "%s: %s", what, curl_easy_strerror(rc));
}

/* ---- the listing ---- */

static int is_hex(const char *s, size_t n)
{
    return strlen(s) == n && strspn(s, "0123456789abcdef") == n;
}

/* A file name that stays inside the snapshot: no absolute path, no "." or ".." component. */
static int safe_name(const char *s)
{
    if (!*s || *s == '/' || strlen(s) > 1024)
        return 0;
    for (const char *p = s; *p;) {
        size_t n = strcspn(p, "/");
        if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
            return 0;
        p += n;
        if (*p == '/')
            p++;
    }
    return 1;
}

static int parse_listing(hub *h, const char *json, size_t len, char *err, size_t err_len)
{
    const calgae_hub_opts *o = h->o;
    cJSON *root = cJSON_ParseWithLength(json, len);
    const cJSON *sha = cJSON_GetObjectItemCaseSensitive(root, "sha");
    const cJSON *sib = cJSON_GetObjectItemCaseSensitive(root, "siblings");
    int rc = 0;
    if (!cJSON_IsString(sha) || !is_hex(sha->valuestring, 40) || !cJSON_IsArray(sib)) {
        rc = calgae_fail(err, err_len, "%s: the hub's listing has no commit sha or files",
                         o->repo);
        goto out;
    }
    memcpy(h->commit, sha->valuestring, 41);
    h->files = calloc((size_t)cJSON_GetArraySize(sib) + 1, sizeof *h->files);
    if (!h->files) {
        rc = calgae_fail(err, err_len, "%s: out of memory", o->repo);
        goto out;
    }
    for (const cJSON *s = sib->child; s; s = s->next) {
        const cJSON *nm = cJSON_GetObjectItemCaseSensitive(s, "rfilename");
        const cJSON *blob = cJSON_GetObjectItemCaseSensitive(s, "blobId");
        const cJSON *size = cJSON_GetObjectItemCaseSensitive(s, "size");
        const cJSON *lfs = cJSON_GetObjectItemCaseSensitive(s, "lfs");
        const cJSON *lsha = cJSON_GetObjectItemCaseSensitive(lfs, "sha256");
        if (!cJSON_IsString(nm) || !safe_name(nm->valuestring)) {
            rc = calgae_fail(err, err_len, "%s: the listing names a bad file", o->repo);
            goto out;
        }
        if (o->include && fnmatch(o->include, nm->valuestring, 0) != 0)
            continue;
        hub_file *f = &h->files[h->n_files];
        if (cJSON_IsString(lsha) && is_hex(lsha->valuestring, 64)) {
            f->lfs = 1;
            memcpy(f->blob, lsha->valuestring, 65);
            const cJSON *ls = cJSON_GetObjectItemCaseSensitive(lfs, "size");
            size = cJSON_IsNumber(ls) ? ls : size;
        } else if (cJSON_IsString(blob) && is_hex(blob->valuestring, 40)) {
            memcpy(f->blob, blob->valuestring, 41);
        } else {
            rc = calgae_fail(err, err_len, "%s: the listing gives %.200s no blob id or sha256 "
                             "(is this a hub?)", o->repo, nm->valuestring);
            goto out;
        }
        f->size = cJSON_IsNumber(size) && size->valuedouble >= 0 ? (long long)size->valuedouble
                                                                 : -1;
        if (!(f->name = strdup(nm->valuestring))) {
            rc = calgae_fail(err, err_len, "%s: out of memory", o->repo);
            goto out;
        }
        h->n_files++;
        if (f->size > 0)
            h->bytes_total += f->size;
    }
    if (h->n_files == 0)
        rc = calgae_fail(err, err_len, "%s: no file matches '%s'", o->repo,
                         o->include ? o->include : "*");
out:
    cJSON_Delete(root);
    return rc;
}

static int fetch_listing(hub *h, char *err, size_t err_len)
{
    const calgae_hub_opts *o = h->o;
    char url[8192];
    snprintf(url, sizeof url, "%s/api/models/%s/revision/%s?blobs=true", o->endpoint, o->repo,
             o->revision);
    struct curl_slist *hdrs;
    stall st;
    CURL *c = new_handle(o, NULL, url, &hdrs, &st);
    membuf m = {0};
    if (!c)
        return calgae_fail(err, err_len, "%s: cannot start libcurl", o->repo);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, to_mem);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &m);
    CURLcode rc = curl_easy_perform(c);
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(c);
    curl_slist_free_all(hdrs);
    int r;
    if (m.too_big)
        r = calgae_fail(err, err_len, "%s: the hub's listing is over 64 MiB", o->repo);
    else if (rc == CURLE_OK && code >= 400)
        r = http_error(code, o->repo, o->repo, err, err_len);
    else if (rc != CURLE_OK)
        r = curl_error(rc, url, o->timeout_s, err, err_len);
    else
        r = parse_listing(h, m.data ? m.data : "", m.len, err, err_len);
    free(m.data);
    return r;
}

/* ---- one file ---- */

/* A file's share of h->bytes_done is *counted, set to now (bytes on disk for it). */
static void count(hub *h, long long *counted, long long now)
{
    pthread_mutex_lock(&h->lock);
    h->bytes_done += now - *counted;
    *counted = now;
    pthread_mutex_unlock(&h->lock);
}

typedef struct dl {
    hub *h;
    int fd;
    int write_errno;
    long long *counted;
} dl;

/* Straight to the file with write(2), no stdio buffer: what the file holds after a failure
 * (a full disk, a dropped connection) is exactly what was counted, and a resume starts there. */
static size_t to_file(char *p, size_t size, size_t n, void *user)
{
    dl *d = user;
    const size_t len = size * n;
    for (size_t off = 0; off < len;) {
        ssize_t w = write(d->fd, p + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            d->write_errno = w < 0 ? errno : EIO;
            return 0;
        }
        off += (size_t)w;
        count(d->h, d->counted, *d->counted + w);
    }
    return len;
}

static int sha256_file(const char *path, char hex[65])
{
    FILE *f = fopen(path, "rb");
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = f && ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1;
    unsigned char buf[1 << 16], md[32];
    size_t n;
    while (ok && (n = fread(buf, 1, sizeof buf, f)) > 0)
        ok = EVP_DigestUpdate(ctx, buf, n) == 1;
    unsigned len = 0;
    ok = ok && !ferror(f) && EVP_DigestFinal_ex(ctx, md, &len) == 1 && len == 32;
    for (int i = 0; ok && i < 32; i++)
        sprintf(hex + 2 * i, "%02x", md[i]);
    EVP_MD_CTX_free(ctx);
    if (f)
        fclose(f);
    return ok ? 0 : -1;
}

/* The one line a full disk gets: the file, what is kept, and that a rerun resumes. */
static int disk_full(const hub_file *f, const char *part, long long kept, char *err,
                     size_t err_len)
{
    return calgae_fail(err, err_len, "%s: no space left on device writing %s (%lld of %lld "
                       "bytes kept; free some space and run fetch-model again to resume)",
                       f->name, part, kept, f->size);
}

/* One GET of the file into part, from its current length on (an HTTP Range); *counted is the
 * file's share of the progress. */
static int get_once(hub *h, const hub_file *f, const char *part, long long *counted, char *err,
                    size_t err_len)
{
    const calgae_hub_opts *o = h->o;
    char url[8192];
    snprintf(url, sizeof url, "%s/%s/resolve/%s/%s", o->endpoint, o->repo, h->commit, f->name);
    struct stat st;
    long long have = stat(part, &st) == 0 ? (long long)st.st_size : 0;
    if (f->size >= 0 && have > f->size)
        have = 0;
    count(h, counted, have);
    if (f->size >= 0 && have == f->size)
        return 0; /* complete already: the checksum decides */
    struct curl_slist *hdrs;
    stall stl;
    CURL *c = new_handle(o, h, url, &hdrs, &stl);
    dl d = {.h = h, .counted = counted,
            .fd = open(part, O_WRONLY | O_CREAT | O_CLOEXEC | (have > 0 ? O_APPEND : O_TRUNC),
                       0644)};
    if (!c || d.fd < 0) {
        int e = errno;
        if (c)
            curl_easy_cleanup(c);
        curl_slist_free_all(hdrs);
        if (d.fd >= 0)
            close(d.fd);
        if (e == ENOSPC)
            return disk_full(f, part, have, err, err_len);
        return calgae_fail(err, err_len, "%s: cannot write: %s", part, strerror(e));
    }
    char range[64];
    if (have > 0) {
        snprintf(range, sizeof range, "%lld-", have);
        curl_easy_setopt(c, CURLOPT_RANGE, range);
    }
    curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, to_file);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &d);
    pthread_mutex_lock(&h->lock);
    h->bytes_done += have;
    pthread_mutex_unlock(&h->lock);
    CURLcode rc = curl_easy_perform(c);
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(c);
    curl_slist_free_all(hdrs);
    /* on disk before it may become a blob (tmpfs and network file systems report a full disk
     * as late as here) */
    if (rc == CURLE_OK && !d.write_errno && fsync(d.fd) != 0 && errno != EINVAL)
        d.write_errno = errno;
    if (close(d.fd) != 0 && rc == CURLE_OK && !d.write_errno)
        d.write_errno = errno;
    if (rc == CURLE_OK && have > 0 && code == 200) {
        /* the server ignored the Range and sent the whole file after the part: start over */
        unlink(part);
        count(h, counted, 0);
        return calgae_fail(err, err_len, "%s: the server does not resume", f->name);
    }
    if (d.write_errno == ENOSPC || d.write_errno == EDQUOT)
        return disk_full(f, part, stat(part, &st) == 0 ? (long long)st.st_size : 0, err,
                         err_len);
    if (d.write_errno)
        return calgae_fail(err, err_len, "%s: cannot write: %s", part, strerror(d.write_errno));
    if (rc == CURLE_HTTP_RETURNED_ERROR)
        return http_error(code, f->name, o->repo, err, err_len);
    if (rc != CURLE_OK)
        return curl_error(rc, f->name, o->timeout_s, err, err_len);
    return 0;
}

/* Whether a failure is worth another try: a dropped or stalled connection. */
static int transient(const char *err)
{
    return strstr(err, "connection dropped") || strstr(err, "timed out") ||
           strstr(err, "does not resume");
}

static int mkdirs(const char *path)
{
    char p[CALGAE_PATH_MAX];
    snprintf(p, sizeof p, "%s", path);
    for (char *s = p + 1; *s; s++)
        if (*s == '/') {
            *s = 0;
            if (mkdir(p, 0755) != 0 && errno != EEXIST)
                return -1;
            *s = '/';
        }
    return mkdir(p, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

/* snapshots/<commit>/<name> -> ../../blobs/<blob> (one more ../ per folder in name), made
 * under a temporary name and renamed into place. */
static int link_snapshot(hub *h, const hub_file *f, char *err, size_t err_len)
{
    char link[CALGAE_PATH_MAX * 2], target[CALGAE_PATH_MAX], tmp[CALGAE_PATH_MAX * 2 + 16];
    snprintf(link, sizeof link, "%s/snapshots/%s/%s", h->repo_dir, h->commit, f->name);
    char *slash = strrchr(link, '/');
    *slash = 0;
    if (mkdirs(link) != 0)
        return calgae_fail(err, err_len, "%s: cannot create: %s", link, strerror(errno));
    *slash = '/';
    size_t t = (size_t)snprintf(target, sizeof target, "../../");
    for (const char *p = f->name; (p = strchr(p, '/')) != NULL; p++)
        t += (size_t)snprintf(target + t, sizeof target - t, "../");
    snprintf(target + t, sizeof target - t, "blobs/%s", f->blob);
    snprintf(tmp, sizeof tmp, "%s.tmp%d", link, (int)getpid());
    unlink(tmp);
    if (symlink(target, tmp) != 0 || rename(tmp, link) != 0) {
        int e = errno;
        unlink(tmp);
        return calgae_fail(err, err_len, "%s: cannot link: %s", link, strerror(e));
    }
    return 0;
}

static int fetch_file(hub *h, const hub_file *f, char *err, size_t err_len)
{
    char blob[CALGAE_PATH_MAX + 128], part[CALGAE_PATH_MAX + 160], hex[65];
    snprintf(blob, sizeof blob, "%s/blobs/%s", h->repo_dir, f->blob);
    snprintf(part, sizeof part, "%s.incomplete", blob);
    struct stat st;
    long long counted = 0;
    if (stat(blob, &st) == 0 && (f->size < 0 || st.st_size == f->size)) {
        count(h, &counted, (long long)st.st_size);
        return link_snapshot(h, f, err, err_len); /* in the cache already */
    }
    int fresh_tries = 2; /* a checksum mismatch starts over once */
    for (int tries = 0;; tries++) {
        int rc = get_once(h, f, part, &counted, err, err_len);
        if (rc != 0) {
            if (tries < RETRIES && transient(err))
                continue; /* resume from what arrived */
            return -1;
        }
        if (f->lfs && sha256_file(part, hex) != 0)
            return calgae_fail(err, err_len, "%s: cannot read back", part);
        if (f->lfs && strcmp(hex, f->blob) != 0) {
            unlink(part);
            count(h, &counted, 0);
            if (--fresh_tries > 0)
                continue;
            return calgae_fail(err, err_len, "%s: sha256 %s is not the hub's %s (refused)",
                               f->name, hex, f->blob);
        }
        if (!f->lfs && f->size >= 0 && stat(part, &st) == 0 && st.st_size != f->size)
            return calgae_fail(err, err_len, "%s: %lld bytes, the hub says %lld", f->name,
                               (long long)st.st_size, f->size);
        break;
    }
    if (rename(part, blob) != 0)
        return calgae_fail(err, err_len, "%s: cannot rename: %s", blob, strerror(errno));
    return link_snapshot(h, f, err, err_len);
}

static void *worker(void *arg)
{
    hub *h = arg;
    char err[CALGAE_ERR_LEN];
    for (;;) {
        pthread_mutex_lock(&h->lock);
        size_t i = h->failed ? h->n_files : h->next++;
        pthread_mutex_unlock(&h->lock);
        if (i >= h->n_files)
            return NULL;
        int rc = fetch_file(h, &h->files[i], err, sizeof err);
        pthread_mutex_lock(&h->lock);
        if (rc != 0 && !h->failed) {
            h->failed = 1;
            snprintf(h->err, sizeof h->err, "%s", err);
        }
        h->done++;
        if (!h->failed)
            report(h, 0);
        pthread_mutex_unlock(&h->lock);
    }
}

static int write_ref(hub *h, char *err, size_t err_len)
{
    char dir[CALGAE_PATH_MAX + 16], path[CALGAE_PATH_MAX * 2], tmp[CALGAE_PATH_MAX * 2 + 16];
    snprintf(dir, sizeof dir, "%s/refs", h->repo_dir);
    snprintf(path, sizeof path, "%s/%s", dir, h->o->revision);
    if (strchr(h->o->revision, '/') || !strcmp(h->o->revision, h->commit))
        return 0; /* a commit needs no ref; a branch with a slash is left out */
    snprintf(tmp, sizeof tmp, "%s.tmp%d", path, (int)getpid());
    FILE *f = mkdirs(dir) == 0 ? fopen(tmp, "w") : NULL;
    if (!f || fputs(h->commit, f) < 0 || fclose(f) != 0 || rename(tmp, path) != 0) {
        unlink(tmp);
        return calgae_fail(err, err_len, "%s: cannot write", path);
    }
    return 0;
}

int calgae_hub_fetch(const calgae_hub_opts *o, char *snapshot, size_t snapshot_len, char *err,
                     size_t err_len)
{
    const char *slash = strchr(o->repo, '/');
    if (!slash || strchr(slash + 1, '/') || slash == o->repo || !slash[1] ||
        !safe_name(o->repo) || strspn(o->repo, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstu"
                                                "vwxyz0123456789-_./") != strlen(o->repo))
        return calgae_fail(err, err_len, "%s: a repository is ORG/NAME", o->repo);
    if (!safe_name(o->revision) || strstr(o->revision, ".."))
        return calgae_fail(err, err_len, "%s: bad revision", o->revision);
    hub h = {.o = o};
    snprintf(h.repo_dir, sizeof h.repo_dir, "%s/models--%.*s--%s", o->hub_dir,
             (int)(slash - o->repo), o->repo, slash + 1);
    pthread_mutex_init(&h.lock, NULL);
    int rc = fetch_listing(&h, err, err_len);
    char blobs[CALGAE_PATH_MAX + 16];
    snprintf(blobs, sizeof blobs, "%s/blobs", h.repo_dir);
    if (rc == 0 && mkdirs(blobs) != 0)
        rc = calgae_fail(err, err_len, "%s: cannot create: %s", blobs, strerror(errno));
    if (rc == 0) {
        int jobs = o->jobs < 1 ? 1 : o->jobs > 16 ? 16 : o->jobs;
        pthread_t t[16];
        int started = 0;
        for (; started < jobs && (size_t)started < h.n_files; started++)
            if (pthread_create(&t[started], NULL, worker, &h) != 0)
                break;
        if (started == 0)
            worker(&h);
        for (int i = 0; i < started; i++)
            pthread_join(t[i], NULL);
        if (h.failed)
            rc = calgae_fail(err, err_len, "%s", h.err);
        else
            report(&h, 1); /* the workers are done: no lock needed */
    }
    if (rc == 0)
        rc = write_ref(&h, err, err_len);
    if (rc == 0)
        snprintf(snapshot, snapshot_len, "%s/snapshots/%s", h.repo_dir, h.commit);
    for (size_t i = 0; i < h.n_files; i++)
        free(h.files[i].name);
    free(h.files);
    pthread_mutex_destroy(&h.lock);
    return rc;
}
