/*
 * chat_session.h - a conversation held in a libcalgae context (calgae.h only): the messages,
 * the text the KV cache holds, and the rules that keep the two in step across turns.
 *
 * Reuse: the KV cache keeps every earlier turn, so a turn prefills only the text its message
 * adds to the formatted conversation (llama.cpp's llama-cli does the same with
 * common_chat_format_single). The session records checkpoints, KV positions where the cached
 * tokens end exactly at a known offset of the formatted text (after the system prompt, after
 * each turn's prompt, after each answer). Before a turn it formats the whole conversation,
 * finds the last checkpoint inside the part that still reads the same as what the cache holds,
 * rewinds the cache there and prefills the rest: normally just the new message, more when a
 * template rewrites earlier text (Llama 3 and Gemma trim the answers) or turns were dropped.
 *
 * Overflow: a turn needs its prompt plus room for an answer (the answer's token limit, at most
 * half the context). When that does not fit, the oldest exchange (a user message and the
 * answers after it) is dropped, again until it fits; the system prompt always stays, and the
 * kept conversation is prefilled again from the system prompt's checkpoint. A message that
 * does not fit even alone with the system prompt is refused (CALGAE_ERR_CONTEXT) and the
 * session is left as it was. An answer that reaches the end of the context stops there.
 */
#ifndef CALGAE_CHAT_SESSION_H
#define CALGAE_CHAT_SESSION_H

#include <stddef.h>

#include "calgae.h"

typedef struct chat_session chat_session;

/* Shows answer text as it comes; returns nonzero to stop the answer (Ctrl-C). */
typedef int (*chat_emit_fn)(void *user, const char *text, size_t len);

typedef struct chat_turn_stats {
    int n_prefilled;  /* tokens evaluated before the answer in this turn */
    int n_prompt_pos; /* the conversation's length in tokens when the answer starts: what a
                         session without reuse would prefill */
    int n_generated;  /* answer tokens kept */
    int n_dropped;    /* exchanges dropped for room (the overflow rule) */
    int interrupted;  /* the emit callback stopped the answer */
    double prompt_ms, generate_ms;
} chat_turn_stats;

/* system may be NULL. The session uses ctx and smp (owned by the caller) from now on. */
calgae_status chat_session_create(calgae_context *ctx, calgae_sampler *smp,
                                  const calgae_vocab *vocab, calgae_chat_template tmpl,
                                  const char *system, chat_session **out, calgae_error *err);
void chat_session_free(chat_session *s);

/* One exchange: the user's text, then an answer of at most max_tokens tokens streamed to emit. */
calgae_status chat_session_turn(chat_session *s, const char *text, int max_tokens,
                                chat_emit_fn emit, void *user, chat_turn_stats *stats,
                                calgae_error *err);

/* Forgets the conversation but the system prompt, and empties the KV cache. */
void chat_session_reset(chat_session *s);

/* The conversation, the cache's text and checkpoints, and the KV state (calgae_state_save) in
 * one file, written to a temporary file and renamed. Load refuses a file of another template
 * or model shape and leaves the session as it was then. */
calgae_status chat_session_save(const chat_session *s, const char *path, calgae_error *err);
calgae_status chat_session_load(chat_session *s, const char *path, calgae_error *err);

int chat_session_messages(const chat_session *s); /* messages held, the system prompt included */

#endif
