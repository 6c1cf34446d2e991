/*
 * chat_template.c - chat prompt formats (calgae.h, "chat templates"): which family a GGUF's
 * `tokenizer.chat_template` Jinja text belongs to, and the conversation written in it.
 *
 * Recognition follows llama.cpp's llm_chat_detect_template (src/llama-chat.cpp): the same
 * substring tests in the same order, so a file gets the family llama.cpp would give it; the
 * families llama.cpp knows and this file does not write (Mistral v1/v3/v7, Phi-4, Falcon 3,
 * Command-R, ...) come out as UNKNOWN. One deliberate difference: the template that
 * TinyLlama-1.1B-Chat and Zephyr-7B-beta share ('<|user|>\n' + content + eos_token) is
 * "tinyllama" here, where llama.cpp's heuristics call it GLM-Edge (it has <|assistant|> and
 * <|user|> but no literal </s>) and write no end-of-turn marker at all.
 * The output follows llama.cpp's llm_chat_apply_template for each family; the expected
 * strings in tests/test_chat_template.c come from llama.cpp's tests/test-chat-template.cpp.
 */
#include "calgae.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const names[] = {"plain", "llama2", "llama2-sys", "llama2-sys-bos",
                                    "llama2-sys-strip", "llama3", "chatml", "zephyr",
                                    "tinyllama", "phi3", "gemma", NULL};
#define N_TEMPLATES ((int)(sizeof names / sizeof names[0]) - 1)

static calgae_status fail(calgae_error *err, calgae_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static calgae_status fail(calgae_error *err, calgae_status st, const char *fmt, ...)
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

const char *calgae_chat_template_name(calgae_chat_template tmpl)
{
    return (int)tmpl >= 0 && (int)tmpl < N_TEMPLATES ? names[tmpl] : "unknown";
}

const char *const *calgae_chat_template_names(void)
{
    return names;
}

calgae_chat_template calgae_chat_template_from_name(const char *name)
{
    for (int i = 0; name && i < N_TEMPLATES; i++)
        if (!strcmp(name, names[i]))
            return (calgae_chat_template)i;
    return CALGAE_CHAT_UNKNOWN;
}

const char *const *calgae_chat_template_markers(calgae_chat_template tmpl)
{
    static const char *const none[] = {NULL};
    static const char *const llama2[] = {"<s>", "</s>", NULL};
    static const char *const llama3[] = {"<|start_header_id|>", "<|end_header_id|>",
                                         "<|eot_id|>", NULL};
    static const char *const chatml[] = {"<|im_start|>", "<|im_end|>", NULL};
    static const char *const zephyr[] = {"<|system|>", "<|user|>", "<|assistant|>",
                                         "<|endoftext|>", NULL};
    static const char *const tinyllama[] = {"<|system|>", "<|user|>", "<|assistant|>", "</s>",
                                            NULL};
    static const char *const phi3[] = {"<|system|>", "<|user|>", "<|assistant|>", "<|end|>",
                                       NULL};
    static const char *const gemma[] = {"<start_of_turn>", "<end_of_turn>", NULL};
    switch (tmpl) {
    case CALGAE_CHAT_LLAMA2: case CALGAE_CHAT_LLAMA2_SYS: case CALGAE_CHAT_LLAMA2_SYS_BOS:
    case CALGAE_CHAT_LLAMA2_SYS_STRIP: return llama2;
    case CALGAE_CHAT_LLAMA3: return llama3;
    case CALGAE_CHAT_CHATML: return chatml;
    case CALGAE_CHAT_ZEPHYR: return zephyr;
    case CALGAE_CHAT_TINYLLAMA: return tinyllama;
    case CALGAE_CHAT_PHI3: return phi3;
    case CALGAE_CHAT_GEMMA: return gemma;
    default: return none;
    }
}

/* ---- recognition ---- */

static int has(const char *s, const char *needle)
{
    return strstr(s, needle) != NULL;
}

/* The [INST] family: llama.cpp first sets Mistral's official templates apart (which this
 * library does not write), then picks the Llama 2 variant by what the template does with the
 * system text, BOS and whitespace. */
static calgae_chat_template detect_inst(const char *t)
{
    if (has(t, "[SYSTEM_PROMPT]") || has(t, "' [INST] ' + system_message") ||
        has(t, "[AVAILABLE_TOOLS]"))
        return CALGAE_CHAT_UNKNOWN;
    if (has(t, "content.strip()"))
        return CALGAE_CHAT_LLAMA2_SYS_STRIP;
    if (has(t, "bos_token + '[INST]"))
        return CALGAE_CHAT_LLAMA2_SYS_BOS;
    if (has(t, "<<SYS>>"))
        return CALGAE_CHAT_LLAMA2_SYS;
    return CALGAE_CHAT_LLAMA2;
}

calgae_chat_template calgae_chat_template_detect(const char *t)
{
    if (!t || !*t)
        return CALGAE_CHAT_PLAIN;
    calgae_chat_template by_name = calgae_chat_template_from_name(t);
    if (by_name != CALGAE_CHAT_UNKNOWN)
        return by_name;
    if (has(t, "<|im_start|>")) /* <|im_sep|> as well would be Phi-4 */
        return has(t, "<|im_sep|>") ? CALGAE_CHAT_UNKNOWN : CALGAE_CHAT_CHATML;
    if (!strncmp(t, "mistral", 7)) /* llama.cpp's names of Mistral's formats */
        return CALGAE_CHAT_UNKNOWN;
    if (has(t, "[INST]"))
        return detect_inst(t);
    if (has(t, "<|assistant|>") && has(t, "<|end|>"))
        return CALGAE_CHAT_PHI3;
    /* TinyLlama-Chat / Zephyr-7B-beta: see the header comment (checked before llama.cpp's
     * Falcon 3 / GLM-Edge test, which would take it) */
    if (has(t, "<|user|>") && has(t, "<|assistant|>") && has(t, "eos_token"))
        return CALGAE_CHAT_TINYLLAMA;
    if (has(t, "<|assistant|>") && has(t, "<|user|>"))
        return CALGAE_CHAT_UNKNOWN; /* Falcon 3 or GLM-Edge */
    if (has(t, "<|user|>") && has(t, "<|endoftext|>"))
        return CALGAE_CHAT_ZEPHYR;
    if (has(t, "bos_token + message['role']"))
        return CALGAE_CHAT_UNKNOWN; /* Monarch */
    if (has(t, "<start_of_turn>"))
        return CALGAE_CHAT_GEMMA;
    /* llama.cpp tests a dozen more families before Llama 3 (Orion, OpenChat, Vicuna,
     * DeepSeek, Command-R); none of their markers can appear in a Llama 3 template */
    if (has(t, "<|start_header_id|>") && has(t, "<|end_header_id|>"))
        return CALGAE_CHAT_LLAMA3;
    return CALGAE_CHAT_UNKNOWN;
}

/* ---- formatting ---- */

/* Output that counts every byte but stores only what fits, as snprintf does. */
struct sink {
    char *out;
    size_t cap, len;
    int last; /* the last byte written, stored or not; -1 before any */
};

static void put_n(struct sink *s, const char *t, size_t n)
{
    if (s->len < s->cap) {
        size_t room = s->cap - s->len;
        memcpy(s->out + s->len, t, n < room ? n : room);
    }
    if (n)
        s->last = (unsigned char)t[n - 1];
    s->len += n;
}

static void put(struct sink *s, const char *t)
{
    put_n(s, t, strlen(t));
}

static int is_role(const calgae_chat_message *m, const char *role)
{
    return !strcmp(m->role, role);
}

/* The text without leading and trailing whitespace (llama.cpp's trim, byte-wise isspace). */
static void put_trimmed(struct sink *s, const char *t)
{
    size_t a = 0, b = strlen(t);
    while (a < b && isspace((unsigned char)t[a]))
        a++;
    while (b > a && isspace((unsigned char)t[b - 1]))
        b--;
    put_n(s, t + a, b - a);
}


static void fmt_plain(struct sink *s, const calgae_chat_message *m, int n)
{
    for (int i = 0; i < n; i++) {
        const char *c = m[i].content;
        /* a user's text gets a space where it would touch the text before ("a time" + "She"
         * reads "a time She"); an answer is the model's own continuation, kept as it is */
        if (is_role(&m[i], "user") && s->last >= 0 && *c && !isspace((unsigned char)*c) &&
            !isspace(s->last))
            put(s, " ");
        put(s, c);
    }
}

/* Llama 2 and its variants; like llama.cpp, the first [INST] is written before any message
 * and add_assistant changes nothing (the answer follows [/INST] directly). */
static void fmt_llama2(struct sink *s, calgae_chat_template t, const calgae_chat_message *m,
                       int n)
{
    int inside = 1;
    put(s, "[INST] ");
    for (int i = 0; i < n; i++) {
        if (!inside) {
            inside = 1;
            put(s, t == CALGAE_CHAT_LLAMA2_SYS_BOS ? "<s>[INST] " : "[INST] ");
        }
        void (*body)(struct sink *, const char *) =
            t == CALGAE_CHAT_LLAMA2_SYS_STRIP ? put_trimmed : put;
        if (is_role(&m[i], "system")) {
            put(s, t == CALGAE_CHAT_LLAMA2 ? "" : "<<SYS>>\n");
            body(s, m[i].content);
            put(s, t == CALGAE_CHAT_LLAMA2 ? "\n" : "\n<</SYS>>\n\n");
        } else if (is_role(&m[i], "user")) {
            body(s, m[i].content);
            put(s, " [/INST]");
        } else {
            body(s, m[i].content);
            put(s, "</s>");
            inside = 0;
        }
    }
}

static void fmt_llama3(struct sink *s, const calgae_chat_message *m, int n, int add_ass)
{
    for (int i = 0; i < n; i++) {
        put(s, "<|start_header_id|>");
        put(s, m[i].role);
        put(s, "<|end_header_id|>\n\n");
        put_trimmed(s, m[i].content);
        put(s, "<|eot_id|>");
    }
    if (add_ass)
        put(s, "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

static void fmt_chatml(struct sink *s, const calgae_chat_message *m, int n, int add_ass)
{
    for (int i = 0; i < n; i++) {
        put(s, "<|im_start|>");
        put(s, m[i].role);
        put(s, "\n");
        put(s, m[i].content);
        put(s, "<|im_end|>\n");
    }
    if (add_ass)
        put(s, "<|im_start|>assistant\n");
}

/* Zephyr, TinyLlama-Chat and Phi-3: "<|role|>\n" + text + end marker + "\n". */
static void fmt_role_bars(struct sink *s, const char *end, const calgae_chat_message *m, int n,
                          int add_ass)
{
    for (int i = 0; i < n; i++) {
        put(s, "<|");
        put(s, m[i].role);
        put(s, "|>\n");
        put(s, m[i].content);
        put(s, end);
        put(s, "\n");
    }
    if (add_ass)
        put(s, "<|assistant|>\n");
}

/* Gemma has no system role: its text opens the next user turn; "assistant" is "model". */
static void fmt_gemma(struct sink *s, const calgae_chat_message *m, int n, int add_ass)
{
    const char *system = NULL;
    for (int i = 0; i < n; i++) {
        if (is_role(&m[i], "system")) {
            system = m[i].content;
            continue;
        }
        int model = is_role(&m[i], "assistant");
        put(s, model ? "<start_of_turn>model\n" : "<start_of_turn>user\n");
        if (system && !model) {
            struct sink probe = {NULL, 0, 0, -1};
            put_trimmed(&probe, system);
            if (probe.len) { /* llama.cpp drops a system text that trims to nothing */
                put_trimmed(s, system);
                put(s, "\n\n");
            }
            system = NULL;
        }
        put_trimmed(s, m[i].content);
        put(s, "<end_of_turn>\n");
    }
    if (add_ass)
        put(s, "<start_of_turn>model\n");
}

static calgae_status check_messages(const calgae_chat_message *m, int n, calgae_error *err)
{
    if (n < 0 || (n > 0 && !m))
        return fail(err, CALGAE_ERR_ARGUMENT, "chat: %d messages at %p", n, (const void *)m);
    for (int i = 0; i < n; i++) {
        if (!m[i].role || !m[i].content)
            return fail(err, CALGAE_ERR_ARGUMENT, "chat: message %d has no role or text", i);
        if (!is_role(&m[i], "system") && !is_role(&m[i], "user") &&
            !is_role(&m[i], "assistant"))
            return fail(err, CALGAE_ERR_ARGUMENT,
                        "chat: message %d has role '%.64s' (system, user or assistant)", i,
                        m[i].role);
    }
    return CALGAE_OK;
}

calgae_status calgae_chat_format(calgae_chat_template tmpl, const calgae_chat_message *msgs,
                                 int n, int add_assistant, char *out, size_t cap, size_t *len,
                                 calgae_error *err)
{
    if (err) {
        err->status = CALGAE_OK;
        err->message[0] = '\0';
    }
    if ((int)tmpl < 0 || (int)tmpl >= N_TEMPLATES)
        return fail(err, CALGAE_ERR_ARGUMENT, "chat: template %d is not one Calgae writes",
                    (int)tmpl);
    if (!out && cap)
        return fail(err, CALGAE_ERR_ARGUMENT, "chat: no output buffer");
    calgae_status st = check_messages(msgs, n, err);
    if (st != CALGAE_OK)
        return st;
    /* one byte kept for the NUL */
    struct sink s = {out, cap ? cap - 1 : 0, 0, -1};
    switch (tmpl) {
    case CALGAE_CHAT_PLAIN: fmt_plain(&s, msgs, n); break;
    case CALGAE_CHAT_LLAMA3: fmt_llama3(&s, msgs, n, add_assistant); break;
    case CALGAE_CHAT_CHATML: fmt_chatml(&s, msgs, n, add_assistant); break;
    case CALGAE_CHAT_ZEPHYR: fmt_role_bars(&s, "<|endoftext|>", msgs, n, add_assistant); break;
    case CALGAE_CHAT_TINYLLAMA: fmt_role_bars(&s, "</s>", msgs, n, add_assistant); break;
    case CALGAE_CHAT_PHI3: fmt_role_bars(&s, "<|end|>", msgs, n, add_assistant); break;
    case CALGAE_CHAT_GEMMA: fmt_gemma(&s, msgs, n, add_assistant); break;
    default: fmt_llama2(&s, tmpl, msgs, n); break;
    }
    if (len)
        *len = s.len;
    if (cap)
        out[s.len < s.cap ? s.len : s.cap] = '\0';
    if (s.len >= cap)
        return fail(err, CALGAE_ERR_SPACE, "chat: the text needs %zu bytes, the buffer has %zu",
                    s.len + 1, cap);
    return CALGAE_OK;
}
