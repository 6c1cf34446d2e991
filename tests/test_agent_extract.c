/*
 * test_agent_extract.c - the agent's fenced-block extraction (agent/extract.c) and language
 * decision (agent/lang.c) on fixed texts. The expected blocks are written by hand from
 * CommonMark 0.30's fence rules (section 4.5, examples 119-147): several blocks, unlabeled
 * blocks, an unterminated block, no block, a longer fence holding a shorter one, tildes, CRLF.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "extract.h"
#include "lang.h"

static calgae_code_block *blocks;
static int n;

static void extract(const char *text)
{
    char err[256];
    assert_int_equal(calgae_extract_blocks(text, strlen(text), &blocks, &n, err, sizeof err), 0);
}

static int teardown(void **state)
{
    (void)state;
    calgae_blocks_free(blocks, n);
    blocks = NULL;
    n = 0;
    return 0;
}

static void several_blocks(void **state)
{
    (void)state;
    extract("Some prose.\n```c\nint main(void) { return 0; }\n```\nMore prose.\n"
            "```python title=x.py\nprint(1)\n```\n");
    assert_int_equal(n, 2);
    assert_string_equal(blocks[0].tag, "c");
    assert_string_equal(blocks[0].code, "int main(void) { return 0; }\n");
    assert_int_equal(blocks[0].line, 2);
    assert_string_equal(blocks[1].tag, "python");
    assert_string_equal(blocks[1].code, "print(1)\n");
    assert_false(blocks[0].unterminated || blocks[1].unterminated);
}

static void unlabeled_and_tilde(void **state)
{
    (void)state;
    extract("~~~\necho hi\n~~~\n  ```\nx = 1\n   ```\n");
    assert_int_equal(n, 2);
    assert_string_equal(blocks[0].tag, "");
    assert_string_equal(blocks[0].code, "echo hi\n");
    assert_string_equal(blocks[1].code, "x = 1\n");
}

static void unterminated(void **state)
{
    (void)state;
    extract("```sh\necho a\necho b");
    assert_int_equal(n, 1);
    assert_true(blocks[0].unterminated);
    assert_string_equal(blocks[0].code, "echo a\necho b\n");
}

static void no_block(void **state)
{
    (void)state;
    extract("Once upon a time, there was a ``little`` dog.\n``\nnot a fence\n``\n    indented\n");
    assert_int_equal(n, 0);
}

static void nested_fences(void **state)
{
    (void)state;
    /* a four-backtick fence holds a three-backtick one; a tilde line does not close backticks;
     * a closing fence may be longer, never shorter; "``` x" with text after does not close */
    extract("````markdown\n```c\nint x;\n```\n~~~~\n````\n```\na\n``` x\n`````\n");
    assert_int_equal(n, 2);
    assert_string_equal(blocks[0].tag, "markdown");
    assert_string_equal(blocks[0].code, "```c\nint x;\n```\n~~~~\n");
    assert_string_equal(blocks[1].code, "a\n``` x\n");
    assert_false(blocks[1].unterminated);
}

static void crlf(void **state)
{
    (void)state;
    extract("Text\r\n```C\r\n#include <stdio.h>\r\nint main(void){}\r\n```\r\n");
    assert_int_equal(n, 1);
    assert_string_equal(blocks[0].tag, "c");
    assert_string_equal(blocks[0].code, "#include <stdio.h>\nint main(void){}\n");
    assert_false(blocks[0].unterminated);
}

static void backtick_info_refused(void **state)
{
    (void)state;
    /* CommonMark example 145: a backtick fence's info string may not hold a backtick */
    extract("``` aa ```\nfoo\n");
    assert_int_equal(n, 0);
}

static void languages(void **state)
{
    (void)state;
    const char *why;
    assert_int_equal(calgae_lang_detect("py", "x", 0, &why), CALGAE_LANG_PYTHON);
    assert_string_equal(why, "tag");
    /* the tag wins over content */
    assert_int_equal(calgae_lang_detect("bash", "#include <x>\n", 0, &why), CALGAE_LANG_SHELL);
    assert_int_equal(calgae_lang_detect("", "#include <stdio.h>\nint main(){}\n", 0, &why),
                     CALGAE_LANG_C);
    assert_string_equal(why, "content");
    assert_int_equal(calgae_lang_detect("", "import os\nprint(os.getcwd())\n", 0, &why),
                     CALGAE_LANG_PYTHON);
    assert_int_equal(calgae_lang_detect("", "#!/bin/sh\nls\n", 0, &why), CALGAE_LANG_SHELL);
    assert_int_equal(calgae_lang_detect("", "#!/usr/bin/env python3\nx=1\n", 0, &why),
                     CALGAE_LANG_PYTHON);
    /* Rust only with rustc */
    assert_int_equal(calgae_lang_detect("rust", "fn main() {}\n", 0, &why), CALGAE_LANG_UNKNOWN);
    assert_int_equal(calgae_lang_detect("rust", "fn main() {}\n", 1, &why), CALGAE_LANG_RUST);
    assert_int_equal(calgae_lang_detect("", "fn main() {}\n", 1, &why), CALGAE_LANG_RUST);
    assert_int_equal(calgae_lang_detect("json", "{\"a\": 1}\n", 1, &why), CALGAE_LANG_UNKNOWN);
    assert_string_equal(why, "none");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(several_blocks, teardown),
        cmocka_unit_test_teardown(unlabeled_and_tilde, teardown),
        cmocka_unit_test_teardown(unterminated, teardown),
        cmocka_unit_test_teardown(no_block, teardown),
        cmocka_unit_test_teardown(nested_fences, teardown),
        cmocka_unit_test_teardown(crlf, teardown),
        cmocka_unit_test_teardown(backtick_info_refused, teardown),
        cmocka_unit_test_teardown(languages, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
