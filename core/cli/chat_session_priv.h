/*
 * chat_session_priv.h - the inside of a chat_session (chat_session.h), shared by the files
 * that implement it: chat_state.c (the bookkeeping), chat_session.c (turns, checkpoints,
 * overflow), chat_answer.c (the answer and its stops) and chat_store.c (/save and /load).
 */
#ifndef CALGAE_CHAT_SESSION_PRIV_H
#define CALGAE_CHAT_SESSION_PRIV_H

#include "chat_session.h"

#define CHAT_MAX_MARKERS 8

struct chat_msg {
    char role[16];
    char *content;
};

/* The KV cache holds exactly the tokens of fed[0..off) at position pos. */
struct chat_ckpt {
    int pos;
    size_t off;
};

struct tokvec {
    calgae_token *v;
    int n, cap;
};

struct chat_session {
    calgae_context *ctx;
    calgae_sampler *smp;
    const calgae_vocab *vocab;
    int dummy_space; /* tokenizing adds a leading space (SentencePiece; byte-level BPE: no) */
    calgae_chat_template tmpl;
    /* the template's control strings; id >= 0 where the vocabulary has one as a piece */
    struct {
        const char *text;
        size_t len;
        calgae_token id;
    } mk[CHAT_MAX_MARKERS];
    int n_mk;
    struct chat_msg *msgs; /* msgs[0] is the system prompt when has_system */
    int n_msgs, cap_msgs, has_system;
    char *fed; /* the formatted text the KV cache holds */
    size_t fed_len;
    struct chat_ckpt *ck; /* ck[0] is {0, 0}; positions and offsets increase */
    int n_ck, cap_ck;
};

calgae_status chat_fail(calgae_error *err, calgae_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Makes room for need elements in *p (capacity *cap, doubling); -1 when out of memory. */
int chat_grow(void **p, int *cap, int need, size_t elem);
int chat_push_msg(chat_session *s, const char *role, const char *text, size_t len);
int chat_push_ckpt(chat_session *s, int pos, size_t off);
int chat_set_fed(chat_session *s, const char *text, size_t len);
calgae_status chat_tokenize(const chat_session *s, const char *t, size_t len, int add_bos,
                            struct tokvec *out, calgae_error *err);
void chat_session_reset_cache(chat_session *s);

/* Prefills tok[split..) (the cache is at the plan's checkpoint plus the system chunk), streams
 * the answer, and records the prompt full[0..full_len) and the answer as fed text, with their
 * checkpoints, and the answer as a message. */
calgae_status chat_answer(chat_session *s, const struct tokvec *tok, int split, const char *full,
                          size_t full_len, int max_tokens, chat_emit_fn emit, void *user,
                          chat_turn_stats *stats, calgae_error *err);

#endif
