/*
 * chat_state.c - the bookkeeping of a chat session (chat_session_priv.h) that every part of it
 * uses: errors as values, the message list, the checkpoints and the cache's text. Kept apart
 * from chat_session.c so that the turn (chat_session.c) calls the answer (chat_answer.c) and
 * both call this, with no circle between files.
 */
#include "chat_session_priv.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

calgae_status chat_fail(calgae_error *err, calgae_status st, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
        err->status = st;
    }
    return st;
}

int chat_grow(void **p, int *cap, int need, size_t elem)
{
    if (need <= *cap)
        return 0;
    int c = *cap ? *cap * 2 : 16;
    while (c < need)
        c *= 2;
    void *q = realloc(*p, (size_t)c * elem);
    if (!q)
        return -1;
    *p = q;
    *cap = c;
    return 0;
}

int chat_push_msg(chat_session *s, const char *role, const char *text, size_t len)
{
    if (chat_grow((void **)&s->msgs, &s->cap_msgs, s->n_msgs + 1, sizeof *s->msgs))
        return -1;
    char *c = malloc(len + 1);
    if (!c)
        return -1;
    memcpy(c, text, len);
    c[len] = '\0';
    struct chat_msg *m = &s->msgs[s->n_msgs++];
    snprintf(m->role, sizeof m->role, "%s", role);
    m->content = c;
    return 0;
}

int chat_push_ckpt(chat_session *s, int pos, size_t off)
{
    if (chat_grow((void **)&s->ck, &s->cap_ck, s->n_ck + 1, sizeof *s->ck))
        return -1;
    s->ck[s->n_ck].pos = pos;
    s->ck[s->n_ck].off = off;
    s->n_ck++;
    return 0;
}

/* The cache's text becomes text[0..len); the caller has made the cache agree. */
int chat_set_fed(chat_session *s, const char *text, size_t len)
{
    char *f = realloc(s->fed, len + 1);
    if (!f)
        return -1;
    if (text != f)
        memmove(f, text, len);
    f[len] = '\0';
    s->fed = f;
    s->fed_len = len;
    return 0;
}
