/*
 * fuzz_extract.c - libFuzzer target: any bytes as a model's answer through the agent's fenced
 * block extraction (agent/extract.c) and language decision (agent/lang.c), as `calgae agent
 * exec` and `run --execute` call them. Checks: every block is NUL-terminated at its length,
 * no longer than the text, ends in a newline when not empty, its tag short and lower-case,
 * its line within the text; the decision names a known language.
 */
#include <ctype.h>
#include <string.h>

#include "extract.h"
#include "fuzz_common.h"
#include "lang.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    calgae_code_block *b;
    int n;
    char err[256];
    if (calgae_extract_blocks((const char *)data, size, &b, &n, err, sizeof err) != 0)
        return 0; /* out of memory: allowed, with a message */
    long lines = 1;
    for (size_t i = 0; i < size; i++)
        lines += data[i] == '\n';
    for (int i = 0; i < n; i++) {
        FUZZ_CHECK(strlen(b[i].code) == b[i].len || memchr(b[i].code, 0, b[i].len),
                   "block %d: length %zu", i, b[i].len);
        FUZZ_CHECK(b[i].code[b[i].len] == '\0', "block %d not terminated", i);
        FUZZ_CHECK(b[i].len <= size + 1, "block %d longer than the text", i);
        FUZZ_CHECK(b[i].len == 0 || b[i].code[b[i].len - 1] == '\n', "block %d: no final LF", i);
        FUZZ_CHECK(b[i].line >= 1 && b[i].line <= lines, "block %d at line %d", i, b[i].line);
        for (const char *t = b[i].tag; *t; t++)
            FUZZ_CHECK(!isupper((unsigned char)*t) && !isspace((unsigned char)*t), "tag '%s'",
                       b[i].tag);
        const char *why;
        calgae_lang l = calgae_lang_detect(b[i].tag, b[i].code, i & 1, &why);
        FUZZ_CHECK(l >= CALGAE_LANG_UNKNOWN && l <= CALGAE_LANG_RUST, "language %d", (int)l);
        FUZZ_CHECK(strcmp(calgae_lang_name(l), "") != 0, "no name for %d", (int)l);
    }
    calgae_blocks_free(b, n);
    return 0;
}
