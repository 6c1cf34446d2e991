/*
 * calgae.h - libcalgae, the Calgae engine as a library: load a Llama-family model (GGUF or a
 * llama2.c checkpoint), tokenize, evaluate, sample, generate, and save or restore a context's
 * KV state. This is the only header an embedding program needs; link with
 * `$(pkg-config --cflags --libs calgae)`.
 *
 * Conventions (in the manner of llama.cpp's llama.h and of calgae_plugin.h):
 * - Handles are opaque: calgae_model (weights, vocabulary, kernel plugins; read-only once
 *   loaded), calgae_context (a KV cache, activations and worker threads over one model),
 *   calgae_sampler (the next-token choice), calgae_vocab (a model's vocabulary; owned by the
 *   model), calgae_decoder (token ids to text, never half a UTF-8 character).
 * - Parameters come as structs filled by *_default_params(); set what you need and pass a
 *   pointer. A NULL parameter pointer means the defaults.
 * - Every function that can fail returns a calgae_status and, when given a non-NULL
 *   calgae_error, fills it with the status and a one-line message naming the file and the
 *   problem. Nothing is printed: messages about plugin loading go to the log callback of
 *   calgae_model_params, and nowhere when there is none.
 * - No global state: the library reads no settings file and no environment variable except
 *   CALGAE_PLUGIN_PATH (a colon-separated list of plugin folders searched before the installed
 *   one) when calgae_model_params.plugin_dirs is NULL. Any number of models may be loaded.
 * - Threads: a model may be shared by any number of contexts, each used by one thread at a time
 *   (two contexts on one model in two threads is supported and tested). A context, sampler and
 *   decoder must not be used by two threads at once.
 *
 * Stability: this header follows semantic versioning from 1.0; before it (0.x), a minor release
 * may change it, and says so. Within a major version, functions and enum values are only
 * added; structs with a leading `struct_size`-free layout (the *_params structs) only grow at
 * the end, and their *_default_params() fills the new fields, so code compiled against an older
 * header keeps working when it gets its params from *_default_params().
 */
#ifndef CALGAE_H
#define CALGAE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CALGAE_VERSION_MAJOR 0
#define CALGAE_VERSION_MINOR 3
#define CALGAE_VERSION_PATCH 0
#define CALGAE_VERSION_STRING "0.3.0"

#if defined(__GNUC__)
#define CALGAE_API __attribute__((visibility("default")))
#else
#define CALGAE_API
#endif

/* The library's version as "MAJOR.MINOR.PATCH": compare with CALGAE_VERSION_STRING to catch a
 * program run against a different build than it was compiled with. */
CALGAE_API const char *calgae_version(void);

/* ---- errors ---- */

typedef enum calgae_status {
    CALGAE_OK = 0,
    CALGAE_ERR_ARGUMENT = 1, /* a parameter out of range, a NULL handle */
    CALGAE_ERR_IO = 2,       /* a file could not be opened, read or written */
    CALGAE_ERR_FORMAT = 3,   /* a file is not a model, a vocabulary or a state of this model */
    CALGAE_ERR_BACKEND = 4,  /* no usable kernel plugin, or the requested one can't be used */
    CALGAE_ERR_MEMORY = 5,   /* an allocation failed */
    CALGAE_ERR_CONTEXT = 6,  /* the tokens do not fit the context */
    CALGAE_ERR_TOKEN = 7,    /* a token id outside the vocabulary */
    CALGAE_ERR_SPACE = 8     /* a caller's buffer is too small; the needed size is reported */
} calgae_status;

#define CALGAE_ERROR_MESSAGE_MAX 4608 /* a path of 4096 bytes and a reason */

typedef struct calgae_error {
    calgae_status status;
    char message[CALGAE_ERROR_MESSAGE_MAX]; /* one line, NUL-terminated; "" when status is OK */
} calgae_error;

/* A short fixed description of a status ("bad file format", ...). */
CALGAE_API const char *calgae_status_name(calgae_status s);

/* ---- logging ---- */

typedef enum calgae_log_level {
    CALGAE_LOG_WARN = 0, /* something a user should see (a plugin refused, a fallback taken) */
    CALGAE_LOG_INFO = 1  /* detail for a verbose mode (each plugin file examined) */
} calgae_log_level;

/* One line of text, no trailing newline; called on the thread that called the library. */
typedef void (*calgae_log_callback)(void *user, int level, const char *line);

/* ---- models ---- */

typedef int32_t calgae_token;
typedef struct calgae_model calgae_model;
typedef struct calgae_vocab calgae_vocab;

typedef struct calgae_model_params {
    /* Which kernel plugin serves first: NULL or "auto" (by each plugin's priority among those
     * whose CPU check passes), a plugin name ("avx2"), or a path to a plugin .so. A name or
     * path that can't be used is an error (CALGAE_ERR_BACKEND), never a silent fallback. */
    const char *backend;
    /* Folders searched for calgae-*.so, in order; NULL: $CALGAE_PLUGIN_PATH, then the plugin
     * folder installed beside the library (<libdir>/calgae/plugins). */
    const char *const *plugin_dirs;
    int n_plugin_dirs;
    /* Plugin names ranked before all others, in this order (after `backend`). */
    const char *const *prefer;
    int n_prefer;
    /* Plugin names never used (unless named by `backend`). */
    const char *const *deny;
    int n_deny;
    /* Per kernel slot, a plugin to serve it first: pairs {"matvec_q4_0", "avx2"}; the slot
     * names are those `calgae backends` lists. */
    const char *const (*kernel_plugins)[2];
    int n_kernel_plugins;
    /* A vocabulary file (llama2.c tokenizer.bin or a GGUF with tokenizer.ggml.*); NULL: the
     * model's own, else tokenizer.bin beside a llama2.c checkpoint. */
    const char *tokenizer;
    /* Threads used while loading (weight layout conversion); 0: the machine's physical cores. */
    int n_threads;
    /* Nonzero: keep the file's weight layout even where a plugin has a faster one of its own
     * (saves load time and memory for short runs). */
    int no_repack;
    calgae_log_callback log; /* NULL: no messages */
    void *log_user;
    /* -- appended in 0.2 -- */
    /* Which plugin serves a weight type's matrix products is measured on the first load
     * (calibration): each candidate plugin is timed on the model's own matrices, on its own
     * weight layout, and the fastest serves first; priority only breaks ties within 3%. One of
     * enum calgae_calibrate_mode; 0 (auto) by default. A forced `backend` or a
     * `kernel_plugins` slot overrides what is measured. */
    int calibrate;
    /* The cache file of the figures, keyed by CPU model, plugin builds, weight type, row length
     * and thread count, so later loads measure nothing (the program uses
     * $XDG_CACHE_HOME/calgae/calibration). NULL: no cache, every load measures (about 0.1 to
     * 1 s for a 1B model). Written through a temporary file and a rename; a file that does not
     * parse is ignored and replaced. */
    const char *calibration_cache;
} calgae_model_params;

typedef enum calgae_calibrate_mode {
    CALGAE_CALIBRATE_AUTO = 0, /* the cached figures where there are some, else measure */
    CALGAE_CALIBRATE_REDO = 1, /* measure again and replace the cached figures */
    CALGAE_CALIBRATE_OFF = 2   /* no measurement: the ranking by priority decides */
} calgae_calibrate_mode;

CALGAE_API calgae_model_params calgae_model_default_params(void);

/* path: a GGUF file, a llama2.c .bin checkpoint, or a folder holding exactly one of them. The
 * file stays mapped (read-only) until calgae_model_free. */
CALGAE_API calgae_status calgae_model_load(const char *path, const calgae_model_params *params,
                                           calgae_model **out, calgae_error *err);
CALGAE_API void calgae_model_free(calgae_model *model);

/* The model's vocabulary, valid while the model lives. */
CALGAE_API const calgae_vocab *calgae_model_vocab(const calgae_model *model);

typedef struct calgae_model_info {
    int n_vocab, n_embd, n_ff, n_layer, n_head, n_head_kv, n_ctx_train;
    uint64_t n_params;        /* parameters of all weight matrices, embeddings and norms */
    uint64_t bytes_per_token; /* weight bytes a single-token forward pass reads */
    char type_name[16];       /* the dominant matrix type: "q4_0", "f32", ... */
    char backends[256];       /* plugins serving at least one kernel, in preference: "avx2+scalar" */
} calgae_model_info;

CALGAE_API void calgae_model_get_info(const calgae_model *model, calgae_model_info *out);

/* A GGUF metadata string (e.g. "tokenizer.chat_template", "general.name"), valid while the
 * model lives; NULL when the key is absent, not a string, or the model is not a GGUF file. */
CALGAE_API const char *calgae_model_meta_string(const calgae_model *model, const char *key);

/* ---- vocabulary ---- */

CALGAE_API int calgae_vocab_size(const calgae_vocab *vocab);
CALGAE_API calgae_token calgae_vocab_bos(const calgae_vocab *vocab);
CALGAE_API calgae_token calgae_vocab_eos(const calgae_vocab *vocab);

/* Text (any bytes; invalid UTF-8 becomes byte tokens) to token ids: SentencePiece style for a
 * Llama 2 vocabulary (a leading space is added to non-empty text), byte-level BPE for a GPT-2,
 * Llama 3 or Qwen2 one. With add_bos, BOS comes first and EOS last where the vocabulary adds
 * them (GGUF add_bos_token / add_eos_token; Qwen2 and GPT-2 add no BOS), as llama.cpp's
 * add_special; control tokens written in the text stay text. Writes at most
 * max_tokens ids; *n_tokens gets the full count, and CALGAE_ERR_SPACE is returned when it is
 * larger than max_tokens (call again with room for *n_tokens). */
CALGAE_API calgae_status calgae_tokenize(const calgae_vocab *vocab, const char *text,
                                         size_t text_len, int add_bos, calgae_token *tokens,
                                         int max_tokens, int *n_tokens, calgae_error *err);

/* The raw bytes of a token's piece (no UTF-8 guarantee: a byte token is one byte), or NULL
 * with *len 0 for an id outside the vocabulary. */
CALGAE_API const char *calgae_token_piece(const calgae_vocab *vocab, calgae_token token,
                                          size_t *len);

/* ---- detokenizing, streamed ---- */

typedef struct calgae_decoder calgae_decoder;

/* A decoder turns a stream of token ids into text as llama2.c prints it (the leading space of
 * the first piece after BOS dropped) and holds back an incomplete UTF-8 sequence until the
 * token that completes it; invalid bytes and control characters other than whitespace are
 * dropped. */
CALGAE_API calgae_status calgae_decoder_create(const calgae_vocab *vocab, calgae_decoder **out,
                                               calgae_error *err);
CALGAE_API void calgae_decoder_free(calgae_decoder *dec);
/* Forget the previous token (the next is decoded as if after BOS) and any held bytes. */
CALGAE_API void calgae_decoder_reset(calgae_decoder *dec);
/* Appends token's text to out (NUL-terminated; out_cap >= CALGAE_DECODE_MAX is always
 * enough) and returns its length in bytes, 0 when nothing is printable yet. */
#define CALGAE_DECODE_MAX 1100
CALGAE_API size_t calgae_decoder_push(calgae_decoder *dec, calgae_token token, char *out,
                                      size_t out_cap);

/* ---- contexts ---- */

typedef struct calgae_context calgae_context;

typedef struct calgae_context_params {
    int n_ctx;     /* KV cache capacity in tokens; 0: the model's training context */
    int n_batch;   /* most tokens per forward pass; longer inputs are split (default 64) */
    int n_threads; /* worker threads; 0: the machine's physical cores */
    /* -- appended in 0.3 -- */
    int n_seq;     /* independent sequences, each with its own KV cache of n_ctx positions
                    * (default 1; at most 256); see calgae_eval_seqs */
} calgae_context_params;

CALGAE_API calgae_context_params calgae_context_default_params(void);

CALGAE_API calgae_status calgae_context_create(calgae_model *model,
                                               const calgae_context_params *params,
                                               calgae_context **out, calgae_error *err);
CALGAE_API void calgae_context_free(calgae_context *ctx);

CALGAE_API int calgae_context_size(const calgae_context *ctx);    /* n_ctx */
CALGAE_API int calgae_context_pos(const calgae_context *ctx);     /* tokens in the KV cache */
CALGAE_API int calgae_context_threads(const calgae_context *ctx);

/* Evaluates tokens[0..n) at positions pos .. pos+n-1, where pos = calgae_context_pos(), and
 * advances the position by n. Afterwards calgae_get_logits gives the last token's logits.
 * CALGAE_ERR_CONTEXT when pos + n exceeds n_ctx (nothing is evaluated then), CALGAE_ERR_TOKEN
 * for an id outside the vocabulary. */
CALGAE_API calgae_status calgae_eval(calgae_context *ctx, const calgae_token *tokens, int n,
                                     calgae_error *err);

/* The last evaluated token's logits, [n_vocab] floats, valid until the next call that changes
 * the context; NULL before any evaluation. */
CALGAE_API const float *calgae_get_logits(const calgae_context *ctx);

/* Forgets every position >= pos (0 <= pos <= current): the next eval continues at pos. The
 * logits are no longer available until then. */
CALGAE_API calgae_status calgae_context_truncate(calgae_context *ctx, int pos,
                                                 calgae_error *err);

/* ---- several sequences in one context ----
 *
 * A context made with n_seq > 1 holds that many independent sequences (as llama.cpp's seq_id),
 * numbered 0 .. n_seq-1, each with its own positions and KV cache; the functions above act on
 * sequence 0. One calgae_eval_seqs call runs a single forward pass over tokens of any of them,
 * so each weight matrix is read once for all: N sequences sampled side by side cost far less
 * than N runs one after another (the matrix products dominate and are bound by reading the
 * weights). */

CALGAE_API int calgae_context_n_seq(const calgae_context *ctx);
/* Positions held in sequence seq's cache; 0 for a seq out of range. */
CALGAE_API int calgae_context_seq_pos(const calgae_context *ctx, int seq);

/* Appends tokens[i] to sequence seqs[i] (at that sequence's next position), for i in 0..n, in
 * order: a sequence may appear several times and its tokens follow each other. Batches longer
 * than n_batch are split. Afterwards calgae_get_logits_seq gives, for each sequence that got a
 * token, its last token's logits; the other sequences keep theirs. CALGAE_ERR_ARGUMENT for a
 * sequence out of range, CALGAE_ERR_CONTEXT when a sequence would pass n_ctx, CALGAE_ERR_TOKEN
 * for an id outside the vocabulary: nothing is evaluated then. */
CALGAE_API calgae_status calgae_eval_seqs(calgae_context *ctx, const calgae_token *tokens,
                                          const int *seqs, int n, calgae_error *err);
/* Sequence seq's last evaluated token's logits ([n_vocab] floats), valid until the next call
 * that changes the context; NULL when it has none or seq is out of range. */
CALGAE_API const float *calgae_get_logits_seq(const calgae_context *ctx, int seq);
/* Forgets sequence seq's positions >= pos, as calgae_context_truncate does for sequence 0. */
CALGAE_API calgae_status calgae_context_seq_truncate(calgae_context *ctx, int seq, int pos,
                                                     calgae_error *err);
/* Makes sequence dst a copy of sequence src (positions, keys, values, logits): a prompt
 * evaluated once in one sequence starts any number of continuations. */
CALGAE_API calgae_status calgae_context_seq_copy(calgae_context *ctx, int src, int dst,
                                                 calgae_error *err);

/* ---- KV state ---- */

/* A context's state: its positions, their keys and values, and the last logits, tied to the
 * model's shape (a state is refused by a context of a different model shape or too small an
 * n_ctx). The byte layout is private and versioned. */
CALGAE_API size_t calgae_state_size(const calgae_context *ctx);
/* Writes calgae_state_size(ctx) bytes into buf (CALGAE_ERR_SPACE when cap is smaller). */
CALGAE_API calgae_status calgae_state_save(const calgae_context *ctx, void *buf, size_t cap,
                                           size_t *written, calgae_error *err);
CALGAE_API calgae_status calgae_state_load(calgae_context *ctx, const void *buf, size_t size,
                                           calgae_error *err);
/* The same through a file, written to a temporary file and renamed, so an existing file is
 * replaced whole or not at all. */
CALGAE_API calgae_status calgae_state_save_file(const calgae_context *ctx, const char *path,
                                                calgae_error *err);
CALGAE_API calgae_status calgae_state_load_file(calgae_context *ctx, const char *path,
                                                calgae_error *err);

/* ---- sampling ---- */

typedef struct calgae_sampler calgae_sampler;

/* The chain, in order: llama.cpp's repetition penalty over the last tokens (at every
 * temperature), then at temperature > 0: temperature, top-k, top-p, min-p (judged on the
 * probabilities before temperature, as llama.cpp does) and a draw from a seeded xorshift
 * generator (llama2.c's). Temperature 0 is greedy. The same seed gives the same draws. */
typedef struct calgae_sampler_params {
    float temperature;    /* 0: greedy (default 0.7) */
    int top_k;            /* 0: off (default 50) */
    float top_p;          /* 1: off (default 0.9) */
    float min_p;          /* 0: off (default 0): drop tokens below min_p x the top probability */
    float repeat_penalty; /* 1: off (default 1): positive logits / p, negative ones x p */
    int repeat_last_n;    /* tokens the penalty looks back over, prompt included (default 64) */
    uint64_t seed;        /* the generator's seed (default 0; a program wanting varied text
                           * passes a random one) */
} calgae_sampler_params;

CALGAE_API calgae_sampler_params calgae_sampler_default_params(void);
CALGAE_API calgae_status calgae_sampler_create(const calgae_vocab *vocab,
                                               const calgae_sampler_params *params,
                                               calgae_sampler **out, calgae_error *err);
CALGAE_API void calgae_sampler_free(calgae_sampler *smp);
/* Picks the next token from the context's last logits (the context is not changed) and
 * records it for the repetition penalty. -1 when the context has no logits. */
CALGAE_API calgae_token calgae_sampler_sample(calgae_sampler *smp, const calgae_context *ctx);
/* As calgae_sampler_sample, from sequence seq's logits (calgae_get_logits_seq); give each
 * sequence its own sampler, so that each has its own seed and penalty history. */
CALGAE_API calgae_token calgae_sampler_sample_seq(calgae_sampler *smp, const calgae_context *ctx,
                                                  int seq);
/* Records a token that was not sampled (a prompt's) for the repetition penalty. */
CALGAE_API void calgae_sampler_accept(calgae_sampler *smp, calgae_token token);
/* Forgets the recorded tokens (the generator's state is kept). */
CALGAE_API void calgae_sampler_reset(calgae_sampler *smp);

/* ---- generation ---- */

/* Called once per generated token with its text (possibly empty: part of a UTF-8 character
 * held back for the next). Return nonzero to stop the generation after this token. */
typedef int (*calgae_token_callback)(void *user, calgae_token token, const char *text,
                                     size_t len);

typedef struct calgae_generate_params {
    int max_tokens;     /* tokens to generate at most (default 128) */
    int stop_at_eos;    /* stop when EOS is sampled, not printing it (default 1) */
    int stop_at_bos;    /* stop when BOS is sampled, llama2.c's rule (default 1) */
    int add_bos;        /* calgae_generate only: BOS before the prompt (default 1) */
} calgae_generate_params;

typedef enum calgae_stop_reason {
    CALGAE_STOP_LENGTH = 0,   /* max_tokens reached */
    CALGAE_STOP_EOS = 1,      /* EOS (or BOS) sampled */
    CALGAE_STOP_CALLBACK = 2, /* the callback asked */
    CALGAE_STOP_CONTEXT = 3   /* the context is full */
} calgae_stop_reason;

typedef struct calgae_generate_result {
    int n_prompt;       /* tokens evaluated before the first sample */
    int n_generated;    /* tokens passed to the callback */
    int stop_reason;    /* calgae_stop_reason */
    double prompt_ms;   /* time evaluating the prompt */
    double generate_ms; /* time from the first sample to the end */
} calgae_generate_result;

CALGAE_API calgae_generate_params calgae_generate_default_params(void);

/* Evaluates prompt tokens[0..n) after what the context holds (n may be 0 when the context
 * already has logits), then samples, reports and evaluates one token at a time. The last
 * sampled token is evaluated too only when generation goes on, so the context ends holding
 * the prompt and every generated token but the last. */
CALGAE_API calgae_status calgae_generate_tokens(calgae_context *ctx, calgae_sampler *smp,
                                                const calgae_token *prompt, int n,
                                                const calgae_generate_params *params,
                                                calgae_token_callback cb, void *user,
                                                calgae_generate_result *result,
                                                calgae_error *err);

/* Tokenizes prompt (with BOS per add_bos) and calls calgae_generate_tokens on a context that
 * it first empties (calgae_context_truncate(ctx, 0)). The callback's texts, concatenated, are
 * exactly what `calgae run` prints after the prompt. */
CALGAE_API calgae_status calgae_generate(calgae_context *ctx, calgae_sampler *smp,
                                         const char *prompt,
                                         const calgae_generate_params *params,
                                         calgae_token_callback cb, void *user,
                                         calgae_generate_result *result, calgae_error *err);

/* ---- chat templates ---- */

/* The prompt formats of chat-tuned models, recognised from the Jinja text a GGUF file carries
 * in `tokenizer.chat_template` by substring heuristics, as llama.cpp's llm_chat_detect_template
 * does (no Jinja is evaluated), and written out by calgae_chat_format as llama.cpp's
 * llm_chat_apply_template writes them. PLAIN is for base models (no template): the messages'
 * texts one after another, with a space before a user's text where it would touch the text
 * before it (an answer is the model's own continuation and is kept as it is). */
typedef enum calgae_chat_template {
    CALGAE_CHAT_UNKNOWN = -1,       /* a template this library cannot format */
    CALGAE_CHAT_PLAIN = 0,          /* "plain" */
    CALGAE_CHAT_LLAMA2 = 1,         /* "llama2": [INST] ... [/INST], system text unmarked */
    CALGAE_CHAT_LLAMA2_SYS = 2,     /* "llama2-sys": the system text in <<SYS>> */
    CALGAE_CHAT_LLAMA2_SYS_BOS = 3, /* "llama2-sys-bos": <s> before each later [INST] */
    CALGAE_CHAT_LLAMA2_SYS_STRIP = 4, /* "llama2-sys-strip": texts trimmed */
    CALGAE_CHAT_LLAMA3 = 5,         /* "llama3": <|start_header_id|>role<|end_header_id|> */
    CALGAE_CHAT_CHATML = 6,         /* "chatml": <|im_start|>role ... <|im_end|> */
    CALGAE_CHAT_ZEPHYR = 7,         /* "zephyr": <|role|> ... <|endoftext|> (StableLM) */
    CALGAE_CHAT_TINYLLAMA = 8,      /* "tinyllama": <|role|> ... </s> (TinyLlama-Chat, Zephyr-7B) */
    CALGAE_CHAT_PHI3 = 9,           /* "phi3": <|role|> ... <|end|> */
    CALGAE_CHAT_GEMMA = 10          /* "gemma": <start_of_turn>user|model, system merged */
} calgae_chat_template;

/* One turn of a conversation. role: "system", "user" or "assistant". */
typedef struct calgae_chat_message {
    const char *role;
    const char *content;
} calgae_chat_message;

/* The template a Jinja text stands for: PLAIN for NULL or "", a template's own name (as
 * calgae_chat_template_name gives it) for that template, UNKNOWN when not recognised. */
CALGAE_API calgae_chat_template calgae_chat_template_detect(const char *jinja);
/* The template with this name ("chatml", ...), UNKNOWN for any other string. */
CALGAE_API calgae_chat_template calgae_chat_template_from_name(const char *name);
/* The short name of a template ("chatml"); "unknown" for a value out of range. */
CALGAE_API const char *calgae_chat_template_name(calgae_chat_template tmpl);
/* The names of every template, NULL-terminated, for help texts. */
CALGAE_API const char *const *calgae_chat_template_names(void);
/* The control strings a template writes ("<|im_start|>", "</s>", ...), NULL-terminated: a
 * program that tokenizes the formatted text maps each to its token id where the vocabulary
 * has the string as one piece, instead of spelling it out as text. */
CALGAE_API const char *const *calgae_chat_template_markers(calgae_chat_template tmpl);

/* Writes the conversation msgs[0..n) in the template's format into out (NUL-terminated), then,
 * with add_assistant, the opening of the assistant's answer. *len gets the text's length
 * without the NUL; CALGAE_ERR_SPACE when it does not fit in cap (call again with *len + 1).
 * No BOS is written: a program adds it as a token. CALGAE_ERR_ARGUMENT for UNKNOWN, a NULL
 * role or content, or a role other than system, user or assistant. */
CALGAE_API calgae_status calgae_chat_format(calgae_chat_template tmpl,
                                            const calgae_chat_message *msgs, int n,
                                            int add_assistant, char *out, size_t cap,
                                            size_t *len, calgae_error *err);

#ifdef __cplusplus
}
#endif

#endif
