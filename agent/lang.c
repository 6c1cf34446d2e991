/*
 * lang.c - a block's language (lang.h). The tag decides when it is a known name: a model that
 * labels its block "python" means it, even if the first line looks like something else. Only
 * unlabeled blocks go by content, strongest telltale first.
 */
#include "lang.h"

#include <stdio.h>
#include <string.h>

static const struct {
    const char *tag;
    calgae_lang lang;
} tags[] = {
    {"c", CALGAE_LANG_C},          {"h", CALGAE_LANG_C},        {"python", CALGAE_LANG_PYTHON},
    {"py", CALGAE_LANG_PYTHON},    {"python3", CALGAE_LANG_PYTHON}, {"sh", CALGAE_LANG_SHELL},
    {"bash", CALGAE_LANG_SHELL},   {"shell", CALGAE_LANG_SHELL}, {"rust", CALGAE_LANG_RUST},
    {"rs", CALGAE_LANG_RUST},
};

const char *calgae_lang_name(calgae_lang l)
{
    switch (l) {
    case CALGAE_LANG_C: return "c";
    case CALGAE_LANG_PYTHON: return "python";
    case CALGAE_LANG_SHELL: return "shell";
    case CALGAE_LANG_RUST: return "rust";
    default: return "unknown";
    }
}

/* Does some line of code start (after spaces) with prefix? */
static int line_starts(const char *code, const char *prefix)
{
    const size_t n = strlen(prefix);
    for (const char *l = code; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
        while (*l == ' ' || *l == '\t')
            l++;
        if (!strncmp(l, prefix, n))
            return 1;
    }
    return 0;
}

static calgae_lang by_content(const char *code, int have_rust)
{
    if (!strncmp(code, "#!", 2)) {
        const char *eol = strchr(code, '\n');
        size_t n = eol ? (size_t)(eol - code) : strlen(code);
        char first[128];
        snprintf(first, sizeof first, "%.*s", (int)(n < 127 ? n : 127), code);
        if (strstr(first, "python"))
            return CALGAE_LANG_PYTHON;
        if (strstr(first, "sh"))
            return CALGAE_LANG_SHELL;
    }
    if (line_starts(code, "#include") || strstr(code, "int main("))
        return CALGAE_LANG_C;
    if (line_starts(code, "fn main(") || line_starts(code, "use std::"))
        return have_rust ? CALGAE_LANG_RUST : CALGAE_LANG_UNKNOWN;
    if (line_starts(code, "def ") || line_starts(code, "import ") ||
        line_starts(code, "from ") || line_starts(code, "print("))
        return CALGAE_LANG_PYTHON;
    if (line_starts(code, "echo ") || line_starts(code, "for ") || line_starts(code, "if [") ||
        line_starts(code, "printf "))
        return CALGAE_LANG_SHELL;
    return CALGAE_LANG_UNKNOWN;
}

calgae_lang calgae_lang_detect(const char *tag, const char *code, int have_rust, const char **why)
{
    for (size_t i = 0; tag && tag[0] && i < sizeof tags / sizeof tags[0]; i++)
        if (!strcmp(tag, tags[i].tag)) {
            *why = "tag";
            if (tags[i].lang == CALGAE_LANG_RUST && !have_rust)
                return CALGAE_LANG_UNKNOWN;
            return tags[i].lang;
        }
    calgae_lang l = by_content(code, have_rust);
    *why = l == CALGAE_LANG_UNKNOWN ? "none" : "content";
    return l;
}
