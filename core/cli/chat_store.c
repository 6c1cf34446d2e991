/*
 * chat_store.c - /save and /load of a chat session (chat_session.h): one file holding the
 * conversation and the KV cache, so a loaded session goes on without prefilling anything.
 *
 * The format is Calgae's own, text headers with length-prefixed bodies:
 *   calgae-chat 1\n
 *   template NAME\n
 *   messages N\n      then N times: ROLE LENGTH\n BYTES \n
 *   fed LENGTH\n BYTES \n                   (the formatted text the cache holds)
 *   checkpoints N\n   then N times: POS OFFSET\n
 *   state LENGTH\n BYTES                     (calgae_state_save's bytes)
 * It is written to a temporary file beside the target and renamed, so an existing file is
 * replaced whole or not at all.
 */
#define _POSIX_C_SOURCE 200809L /* getpid */
#include "chat_session_priv.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHAT_MAGIC "calgae-chat 1\n"

static int write_body(FILE *f, const char *head, const void *p, size_t n)
{
    return fprintf(f, "%s %zu\n", head, n) < 0 || fwrite(p, 1, n, f) != n;
}

static int write_all(const chat_session *s, FILE *f, const void *state, size_t state_len)
{
    int bad = fprintf(f, CHAT_MAGIC "template %s\nmessages %d\n",
                      calgae_chat_template_name(s->tmpl), s->n_msgs) < 0;
    for (int i = 0; !bad && i < s->n_msgs; i++)
        bad = write_body(f, s->msgs[i].role, s->msgs[i].content, strlen(s->msgs[i].content)) ||
              fputc('\n', f) == EOF;
    bad = bad || write_body(f, "fed", s->fed, s->fed_len) || fputc('\n', f) == EOF;
    bad = bad || fprintf(f, "checkpoints %d\n", s->n_ck) < 0;
    for (int i = 0; !bad && i < s->n_ck; i++)
        bad = fprintf(f, "%d %zu\n", s->ck[i].pos, s->ck[i].off) < 0;
    return bad || write_body(f, "state", state, state_len);
}

calgae_status chat_session_save(const chat_session *s, const char *path, calgae_error *err)
{
    const size_t n = calgae_state_size(s->ctx);
    void *state = malloc(n ? n : 1);
    if (!state)
        return chat_fail(err, CALGAE_ERR_MEMORY, "chat: out of memory");
    size_t written = 0;
    calgae_status st = calgae_state_save(s->ctx, state, n, &written, err);
    char tmp[4200];
    if (st == CALGAE_OK &&
        (size_t)snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid()) >= sizeof tmp)
        st = chat_fail(err, CALGAE_ERR_ARGUMENT, "%.200s...: path too long", path);
    if (st == CALGAE_OK) {
        FILE *f = fopen(tmp, "wb");
        int bad = !f || write_all(s, f, state, written);
        bad = (f && fclose(f) != 0) || bad;
        if (bad || rename(tmp, path) != 0) {
            remove(tmp);
            st = chat_fail(err, CALGAE_ERR_IO, "%s: cannot write the session", path);
        }
    }
    free(state);
    return st;
}

/* ---- reading ---- */

struct reader {
    const char *p, *end;
};

/* A header line "WORD NUMBER\n": the word into w (NUL-terminated), the number into *v. */
static int read_head(struct reader *r, char *w, size_t wcap, uint64_t *v)
{
    const char *nl = memchr(r->p, '\n', (size_t)(r->end - r->p));
    const char *sp = nl ? memchr(r->p, ' ', (size_t)(nl - r->p)) : NULL;
    if (!sp || (size_t)(sp - r->p) >= wcap)
        return -1;
    memcpy(w, r->p, (size_t)(sp - r->p));
    w[sp - r->p] = '\0';
    char *e;
    *v = strtoull(sp + 1, &e, 10);
    if (e != nl || e == sp + 1)
        return -1;
    r->p = nl + 1;
    return 0;
}

static int expect_head(struct reader *r, const char *word, uint64_t max, uint64_t *v)
{
    char w[32];
    return read_head(r, w, sizeof w, v) || strcmp(w, word) != 0 || *v > max ? -1 : 0;
}

static const char *read_bytes(struct reader *r, uint64_t n, int newline)
{
    if ((uint64_t)(r->end - r->p) < n + (newline ? 1 : 0) || (newline && r->p[n] != '\n'))
        return NULL;
    const char *b = r->p;
    r->p += n + (newline ? 1 : 0);
    return b;
}

static int read_messages(struct reader *r, chat_session *t)
{
    uint64_t n, len;
    if (expect_head(r, "messages", 1u << 20, &n))
        return -1;
    for (uint64_t i = 0; i < n; i++) {
        char role[16];
        if (read_head(r, role, sizeof role, &len) ||
            (strcmp(role, "system") && strcmp(role, "user") && strcmp(role, "assistant")) ||
            (i > 0 && !strcmp(role, "system")))
            return -1;
        const char *b = read_bytes(r, len, 1);
        if (!b || memchr(b, '\0', len) || chat_push_msg(t, role, b, len))
            return -1;
    }
    t->has_system = t->n_msgs > 0 && !strcmp(t->msgs[0].role, "system");
    return 0;
}

static int read_cache_text(struct reader *r, chat_session *t)
{
    uint64_t len, n;
    const char *b;
    if (expect_head(r, "fed", UINT32_MAX, &len) || !(b = read_bytes(r, len, 1)) ||
        chat_set_fed(t, b, len) || expect_head(r, "checkpoints", 1u << 24, &n) || n == 0)
        return -1;
    for (uint64_t i = 0; i < n; i++) {
        int pos;
        size_t off;
        const char *nl = memchr(r->p, '\n', (size_t)(r->end - r->p));
        if (!nl || sscanf(r->p, "%d %zu", &pos, &off) != 2 || off > len ||
            (i == 0 && (pos != 0 || off != 0)) ||
            (i > 0 && (pos < t->ck[i - 1].pos || off < t->ck[i - 1].off)) ||
            chat_push_ckpt(t, pos, off))
            return -1;
        r->p = nl + 1;
    }
    /* the cache holds the text up to the last checkpoint, no further */
    return t->ck[t->n_ck - 1].off == len ? 0 : -1;
}

static void swap_in(chat_session *s, chat_session *t)
{
    chat_session old = *s;
    s->msgs = t->msgs, s->n_msgs = t->n_msgs, s->cap_msgs = t->cap_msgs;
    s->has_system = t->has_system;
    s->fed = t->fed, s->fed_len = t->fed_len;
    s->ck = t->ck, s->n_ck = t->n_ck, s->cap_ck = t->cap_ck;
    t->msgs = old.msgs, t->n_msgs = old.n_msgs;
    t->fed = old.fed;
    t->ck = old.ck;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    long size = -1;
    if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = malloc((size_t)size + 1)) != NULL && fread(buf, 1, (size_t)size, f) != (size_t)size) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf)
        buf[size] = '\0'; /* the header parsers may read up to it */
    *len = (size_t)size;
    return buf;
}

calgae_status chat_session_load(chat_session *s, const char *path, calgae_error *err)
{
    size_t size = 0;
    char *buf = slurp(path, &size);
    if (!buf)
        return chat_fail(err, CALGAE_ERR_IO, "%s: cannot read the file", path);
    struct reader r = {buf, buf + size};
    chat_session t = {0};
    char name[32];
    uint64_t len = 0;
    calgae_status st = CALGAE_OK;
    const char *state;
    if (!read_bytes(&r, strlen(CHAT_MAGIC), 0) || memcmp(buf, CHAT_MAGIC, strlen(CHAT_MAGIC)))
        st = chat_fail(err, CALGAE_ERR_FORMAT, "%s: not a saved Calgae chat", path);
    else if (sscanf(r.p, "template %31s\n", name) != 1 || !read_bytes(&r, strlen(name) + 9, 1) ||
             calgae_chat_template_from_name(name) != s->tmpl)
        st = chat_fail(err, CALGAE_ERR_FORMAT, "%s: saved with another chat template than %s",
                       path, calgae_chat_template_name(s->tmpl));
    else if (read_messages(&r, &t) || read_cache_text(&r, &t) ||
             expect_head(&r, "state", UINT64_MAX, &len) || !(state = read_bytes(&r, len, 0)) ||
             r.p != r.end)
        st = chat_fail(err, CALGAE_ERR_FORMAT, "%s: damaged chat file", path);
    else if ((st = calgae_state_load(s->ctx, state, len, err)) != CALGAE_OK) {
        char inner[CALGAE_ERROR_MESSAGE_MAX];
        snprintf(inner, sizeof inner, "%s", err ? err->message : "");
        chat_fail(err, st, "%s: %s", path, inner);
    } else if (calgae_context_pos(s->ctx) != t.ck[t.n_ck - 1].pos) {
        st = chat_fail(err, CALGAE_ERR_FORMAT, "%s: damaged chat file", path);
        chat_session_reset_cache(s); /* the cache now disagrees with the conversation kept */
    } else {
        swap_in(s, &t);
        calgae_sampler_reset(s->smp);
    }
    for (int i = 0; i < t.n_msgs; i++)
        free(t.msgs[i].content);
    free(t.msgs);
    free(t.fed);
    free(t.ck);
    free(buf);
    return st;
}
