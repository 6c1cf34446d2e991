/*
 * hub.h - fetching a model repository from the Hugging Face Hub (or any server speaking its
 * HTTP API: HF_ENDPOINT) into huggingface_hub's cache layout, so that Python tools and Calgae
 * share one cache:
 *
 *   HUB/models--ORG--NAME/blobs/<sha256 of an LFS file, else its git blob id>
 *   HUB/models--ORG--NAME/refs/<revision>            the commit the revision named
 *   HUB/models--ORG--NAME/snapshots/<commit>/<file>  a relative symlink to its blob
 *
 * The listing is GET /api/models/ORG/NAME/revision/REV?blobs=true (files, sizes, LFS sha256),
 * the files GET /ORG/NAME/resolve/<commit>/<file>. Downloads go to blobs/<id>.incomplete and
 * resume with an HTTP Range after a dropped connection (or in a later run); an LFS file is
 * checked against its sha256 (OpenSSL's libcrypto) before it becomes a blob, and a mismatch
 * is fetched once more from scratch; the snapshot's link is made last, by a rename, so a
 * snapshot never names a partial file. A full disk (ENOSPC) stops the fetch with the
 * .incomplete kept, so that a run after space is freed resumes it. Nothing is printed: the
 * caller gets progress through its callback and the error as a value.
 */
#ifndef CALGAE_HUB_H
#define CALGAE_HUB_H

#include <stddef.h>

/* Progress of a fetch over all its files, as bytes arrive (libcurl's transfer-info callback,
 * about once a second while a transfer stalls) and as files finish: bytes_done of
 * bytes_total (the sizes the listing gives; bytes already in the cache or in a resumed
 * .incomplete count as done), files_done of n_files. Called from the downloading threads, one
 * call at a time; final is 1 on the last call, made only when the fetch succeeded. */
typedef void (*calgae_hub_progress_fn)(void *user, long long bytes_done, long long bytes_total,
                                       size_t files_done, size_t n_files, int final);

typedef struct calgae_hub_opts {
    const char *endpoint;  /* "https://huggingface.co" or $HF_ENDPOINT */
    const char *token;     /* $HF_TOKEN, or NULL */
    const char *repo;      /* "ORG/NAME" */
    const char *revision;  /* "main" by default */
    const char *include;   /* a glob (fnmatch) the file names must match, or NULL for all */
    const char *hub_dir;   /* the cache: $HF_HOME/hub by default */
    int jobs;              /* files downloaded at once */
    long timeout_s;        /* a transfer that stalls this long fails */
    calgae_hub_progress_fn progress; /* or NULL */
    void *progress_user;
} calgae_hub_opts;

/* Fetches; on success the snapshot folder's path is in snapshot. */
int calgae_hub_fetch(const calgae_hub_opts *o, char *snapshot, size_t snapshot_len, char *err,
                     size_t err_len);

#endif
