/*
 * lang.h - which language a code block is in: the fence's tag when it names one, else the
 * content's telltale lines (#include / fn main / def, import / a shebang or shell builtins).
 * Rust counts only when rustc is installed where the sandbox sees it (pipeline.h); anything
 * else is "unknown" and is not run.
 */
#ifndef CALGAE_AGENT_LANG_H
#define CALGAE_AGENT_LANG_H

#include <stddef.h>

typedef enum calgae_lang {
    CALGAE_LANG_UNKNOWN = 0,
    CALGAE_LANG_C,
    CALGAE_LANG_PYTHON,
    CALGAE_LANG_SHELL,
    CALGAE_LANG_RUST,
} calgae_lang;

/* The language of a block; have_rust says whether rustc may be used. why is set to "tag" or
 * "content" (or "none"). */
calgae_lang calgae_lang_detect(const char *tag, const char *code, int have_rust, const char **why);
const char *calgae_lang_name(calgae_lang l);

#endif
