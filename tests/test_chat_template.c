/*
 * test_chat_template.c - the chat template recognition and formatting of libcalgae
 * (core/chat/chat_template.c, calgae.h "chat templates") against outputs from independent
 * sources:
 * - the Jinja templates and expected strings of llama.cpp's tests/test-chat-template.cpp
 *   (ggerganov/llama.cpp at c392e50, 2025-02-20), copied as they are: the same conversation
 *   (system, user, assistant, user, assistant with spaces around it, user) and
 *   add_generation_prompt on. Those strings were checked there against the models' own Jinja.
 * - for "tinyllama" (TinyLlama-1.1B-Chat and Zephyr-7B-beta, which llama.cpp's heuristics
 *   file under GLM-Edge): the zephyr-7b-beta example output in Hugging Face Transformers'
 *   guide "Templates for chat models" (apply_chat_template with add_generation_prompt), and
 *   TinyLlama-1.1B-Chat-v1.0's template from its tokenizer_config.json.
 * - for "zephyr" and "llama2-sys", which llama.cpp's test has no case for, the output is built
 *   by hand from the rule llama.cpp's src/llama-chat.cpp states for them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "calgae.h"

static const calgae_chat_message conversation[] = {
    {"system", "You are a helpful assistant"},
    {"user", "Hello"},
    {"assistant", "Hi there"},
    {"user", "Who are you"},
    {"assistant", "   I am an assistant   "},
    {"user", "Another question"},
};
#define N_CONV ((int)(sizeof conversation / sizeof conversation[0]))

struct llama_cpp_case {
    const char *name;
    calgae_chat_template id;
    const char *jinja;
    const char *expected;
};

/* From llama.cpp's tests/test-chat-template.cpp: name, template_str, expected_output. */
static const struct llama_cpp_case cases[] = {
    {"teknium/OpenHermes-2.5-Mistral-7B", CALGAE_CHAT_CHATML,
     "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}",
     "<|im_start|>system\nYou are a helpful assistant<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\nHi there<|im_end|>\n<|im_start|>user\nWho are you<|im_end|>\n<|im_start|>assistant\n   I am an assistant   <|im_end|>\n<|im_start|>user\nAnother question<|im_end|>\n<|im_start|>assistant\n"},
    {"mistralai/Mistral-7B-Instruct-v0.2 (NOTE: Old pre-v1 without a system prompt)", CALGAE_CHAT_LLAMA2,
     "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}",
     "[INST] You are a helpful assistant\nHello [/INST]Hi there</s>[INST] Who are you [/INST]   I am an assistant   </s>[INST] Another question [/INST]"},
    {"TheBloke/FusionNet_34Bx2_MoE-AWQ", CALGAE_CHAT_LLAMA2_SYS_BOS,
     "{%- for idx in range(0, messages|length) -%}\n{%- if messages[idx]['role'] == 'user' -%}\n{%- if idx > 1 -%}\n{{- bos_token + '[INST] ' + messages[idx]['content'] + ' [/INST]' -}}\n{%- else -%}\n{{- messages[idx]['content'] + ' [/INST]' -}}\n{%- endif -%}\n{% elif messages[idx]['role'] == 'system' %}\n{{- '[INST] <<SYS>>\\n' + messages[idx]['content'] + '\\n<</SYS>>\\n\\n' -}}\n{%- elif messages[idx]['role'] == 'assistant' -%}\n{{- ' '  + messages[idx]['content'] + ' ' + eos_token -}}\n{% endif %}\n{% endfor %}",
     "[INST] <<SYS>>\nYou are a helpful assistant\n<</SYS>>\n\nHello [/INST]Hi there</s><s>[INST] Who are you [/INST]   I am an assistant   </s><s>[INST] Another question [/INST]"},
    {"bofenghuang/vigogne-2-70b-chat", CALGAE_CHAT_LLAMA2_SYS_STRIP,
     "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}{% elif true == true and not '<<SYS>>' in messages[0]['content'] %}{% set loop_messages = messages %}{% set system_message = 'Vous êtes Vigogne, un assistant IA créé par Zaion Lab. Vous suivez extrêmement bien les instructions. Aidez autant que vous le pouvez.' %}{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}{% for message in loop_messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}{% else %}{% set content = message['content'] %}{% endif %}{% if message['role'] == 'user' %}{{ '[INST] ' + content.strip() + ' [/INST]' }}{% elif message['role'] == 'system' %}{{ '<<SYS>>\\n' + content.strip() + '\\n<</SYS>>\\n\\n' }}{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}",
     "[INST] <<SYS>>\nYou are a helpful assistant\n<</SYS>>\n\nHello [/INST]Hi there</s>[INST] Who are you [/INST]I am an assistant</s>[INST] Another question [/INST]"},
    {"google/gemma-7b-it", CALGAE_CHAT_GEMMA,
     "{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if (message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif %}{{ '<start_of_turn>' + role + '\\n' + message['content'] | trim + '<end_of_turn>\\n' }}{% endfor %}{% if add_generation_prompt %}{{'<start_of_turn>model\\n'}}{% endif %}",
     "<start_of_turn>user\nYou are a helpful assistant\n\nHello<end_of_turn>\n<start_of_turn>model\nHi there<end_of_turn>\n<start_of_turn>user\nWho are you<end_of_turn>\n<start_of_turn>model\nI am an assistant<end_of_turn>\n<start_of_turn>user\nAnother question<end_of_turn>\n<start_of_turn>model\n"},
    {"Llama-3", CALGAE_CHAT_LLAMA3,
     "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}",
     "<|start_header_id|>system<|end_header_id|>\n\nYou are a helpful assistant<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHi there<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nWho are you<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nI am an assistant<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nAnother question<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"},
    {"Phi-3-mini", CALGAE_CHAT_PHI3,
     "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') %}{{'<|user|>' + '\n' + message['content'] + '<|end|>' + '\n' + '<|assistant|>' + '\n'}}{% elif (message['role'] == 'assistant') %}{{message['content'] + '<|end|>' + '\n'}}{% endif %}{% endfor %}",
     "<|system|>\nYou are a helpful assistant<|end|>\n<|user|>\nHello<|end|>\n<|assistant|>\nHi there<|end|>\n<|user|>\nWho are you<|end|>\n<|assistant|>\n   I am an assistant   <|end|>\n<|user|>\nAnother question<|end|>\n<|assistant|>\n"},
    {"Phi-3-small", CALGAE_CHAT_PHI3,
     "{{ bos_token }}{% for message in messages %}{{'<|' + message['role'] + '|>' + '\n' + message['content'] + '<|end|>\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% else %}{{ eos_token }}{% endif %}",
     "<|system|>\nYou are a helpful assistant<|end|>\n<|user|>\nHello<|end|>\n<|assistant|>\nHi there<|end|>\n<|user|>\nWho are you<|end|>\n<|assistant|>\n   I am an assistant   <|end|>\n<|user|>\nAnother question<|end|>\n<|assistant|>\n"},
    {"Phi-3-medium", CALGAE_CHAT_PHI3,
     "{% for message in messages %}{% if (message['role'] == 'user') %}{{'<|user|>' + '\n' + message['content'] + '<|end|>' + '\n' + '<|assistant|>' + '\n'}}{% elif (message['role'] == 'assistant') %}{{message['content'] + '<|end|>' + '\n'}}{% endif %}{% endfor %}",
     "<|system|>\nYou are a helpful assistant<|end|>\n<|user|>\nHello<|end|>\n<|assistant|>\nHi there<|end|>\n<|user|>\nWho are you<|end|>\n<|assistant|>\n   I am an assistant   <|end|>\n<|user|>\nAnother question<|end|>\n<|assistant|>\n"},
    {"Phi-3-vision", CALGAE_CHAT_PHI3,
     "{% for message in messages %}{{'<|' + message['role'] + '|>' + '\n' + message['content'] + '<|end|>\n' }}{% endfor %}{% if add_generation_prompt and messages[-1]['role'] != 'assistant' %}{{- '<|assistant|>\n' -}}{% endif %}",
     "<|system|>\nYou are a helpful assistant<|end|>\n<|user|>\nHello<|end|>\n<|assistant|>\nHi there<|end|>\n<|user|>\nWho are you<|end|>\n<|assistant|>\n   I am an assistant   <|end|>\n<|user|>\nAnother question<|end|>\n<|assistant|>\n"},
};

static void expect_format(calgae_chat_template id, const calgae_chat_message *m, int n,
                          int add_ass, const char *expected)
{
    char out[2048];
    size_t len = 0;
    calgae_error err;
    assert_int_equal(calgae_chat_format(id, m, n, add_ass, out, sizeof out, &len, &err),
                     CALGAE_OK);
    assert_string_equal(out, expected);
    assert_int_equal(len, strlen(expected));
}

static void test_llama_cpp_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        print_message("%s\n", cases[i].name);
        assert_int_equal(calgae_chat_template_detect(cases[i].jinja), cases[i].id);
        expect_format(cases[i].id, conversation, N_CONV, 1, cases[i].expected);
    }
}

/* TinyLlama-1.1B-Chat-v1.0's tokenizer.chat_template (also Zephyr-7B-beta's). */
static const char tinyllama_jinja[] =
    "{% for message in messages %}\n{% if message['role'] == 'user' %}\n"
    "{{ '<|user|>\n' + message['content'] + eos_token }}\n"
    "{% elif message['role'] == 'system' %}\n{{ '<|system|>\n' + message['content'] + "
    "eos_token }}\n{% elif message['role'] == 'assistant' %}\n{{ '<|assistant|>\n'  + "
    "message['content'] + eos_token }}\n{% endif %}\n{% if loop.last and add_generation_prompt "
    "%}\n{{ '<|assistant|>' }}\n{% endif %}\n{% endfor %}";

static void test_tinyllama(void **state)
{
    (void)state;
    assert_int_equal(calgae_chat_template_detect(tinyllama_jinja), CALGAE_CHAT_TINYLLAMA);
    /* Transformers' guide, zephyr-7b-beta */
    const calgae_chat_message m[] = {
        {"system", "You are a friendly chatbot who always responds in the style of a pirate"},
        {"user", "How many helicopters can a human eat in one sitting?"}};
    expect_format(CALGAE_CHAT_TINYLLAMA, m, 2, 1,
                  "<|system|>\nYou are a friendly chatbot who always responds in the style of a "
                  "pirate</s>\n<|user|>\nHow many helicopters can a human eat in one "
                  "sitting?</s>\n<|assistant|>\n");
}

static void test_hand_built(void **state)
{
    (void)state;
    /* llama.cpp: zephyr writes "<|role|>\n" + content + "<|endoftext|>\n" */
    assert_int_equal(calgae_chat_template_detect(
                         "{{ '<|user|>\\n' + message['content'] + '<|endoftext|>' }}"),
                     CALGAE_CHAT_ZEPHYR);
    expect_format(CALGAE_CHAT_ZEPHYR, conversation, 2, 1,
                  "<|system|>\nYou are a helpful assistant<|endoftext|>\n<|user|>\nHello"
                  "<|endoftext|>\n<|assistant|>\n");
    /* llama2-sys: FusionNet's output without its <s> inside the history */
    assert_int_equal(calgae_chat_template_detect("[INST] <<SYS>>\\n' + m + '\\n<</SYS>>"),
                     CALGAE_CHAT_LLAMA2_SYS);
    expect_format(CALGAE_CHAT_LLAMA2_SYS, conversation, N_CONV, 1,
                  "[INST] <<SYS>>\nYou are a helpful assistant\n<</SYS>>\n\nHello [/INST]Hi "
                  "there</s>[INST] Who are you [/INST]   I am an assistant   </s>[INST] Another "
                  "question [/INST]");
}

static void test_detect_other(void **state)
{
    (void)state;
    assert_int_equal(calgae_chat_template_detect(NULL), CALGAE_CHAT_PLAIN);
    assert_int_equal(calgae_chat_template_detect(""), CALGAE_CHAT_PLAIN);
    /* names, as llama.cpp accepts them in place of a template */
    for (const char *const *n = calgae_chat_template_names(); *n; n++)
        assert_string_equal(calgae_chat_template_name(calgae_chat_template_detect(*n)), *n);
    assert_int_equal(calgae_chat_template_from_name("nosuch"), CALGAE_CHAT_UNKNOWN);
    assert_string_equal(calgae_chat_template_name(CALGAE_CHAT_UNKNOWN), "unknown");
    /* families llama.cpp knows and Calgae does not write: phi-4, Mistral v7, Vicuna */
    assert_int_equal(calgae_chat_template_detect("<|im_start|>x<|im_sep|>"), CALGAE_CHAT_UNKNOWN);
    assert_int_equal(calgae_chat_template_detect("[SYSTEM_PROMPT] [INST]"), CALGAE_CHAT_UNKNOWN);
    assert_int_equal(calgae_chat_template_detect("mistral-v7"), CALGAE_CHAT_UNKNOWN);
    assert_int_equal(calgae_chat_template_detect("USER: ASSISTANT: "), CALGAE_CHAT_UNKNOWN);
}

static void test_plain(void **state)
{
    (void)state;
    const calgae_chat_message m[] = {{"user", "Once upon a time"},
                                     {"assistant", " there was a dog."},
                                     {"user", "The dog"},
                                     {"assistant", "\nran"}};
    expect_format(CALGAE_CHAT_PLAIN, m, 4, 1, "Once upon a time there was a dog. The dog\nran");
    const calgae_chat_message touching[] = {{"user", "Once upon a time"},
                                            {"assistant", ", a cat"},
                                            {"user", "Then"}};
    expect_format(CALGAE_CHAT_PLAIN, touching, 3, 1, "Once upon a time, a cat Then");
    expect_format(CALGAE_CHAT_PLAIN, m, 0, 1, "");
}

static void test_space_and_errors(void **state)
{
    (void)state;
    size_t len = 0;
    calgae_error err;
    /* the length alone, then a buffer one byte short */
    assert_int_equal(calgae_chat_format(CALGAE_CHAT_CHATML, conversation, N_CONV, 1, NULL, 0, &len,
                                        &err),
                     CALGAE_ERR_SPACE);
    assert_int_equal(len, strlen(cases[0].expected));
    char small[16];
    assert_int_equal(calgae_chat_format(CALGAE_CHAT_PLAIN, conversation, 2, 0, small, 16, &len,
                                        &err),
                     CALGAE_ERR_SPACE);
    assert_int_equal(len, strlen("You are a helpful assistant Hello"));
    assert_int_equal(strlen(small), 15);
    /* PLAIN's joining space must not depend on whether the earlier text was stored */
    assert_int_equal(calgae_chat_format(CALGAE_CHAT_PLAIN, conversation, 2, 0, NULL, 0, &len,
                                        &err),
                     CALGAE_ERR_SPACE);
    assert_int_equal(len, strlen("You are a helpful assistant Hello"));
    const calgae_chat_message bad[] = {{"tool", "x"}};
    char out[64];
    assert_int_equal(calgae_chat_format(CALGAE_CHAT_CHATML, bad, 1, 1, out, sizeof out, &len, &err),
                     CALGAE_ERR_ARGUMENT);
    assert_non_null(strstr(err.message, "tool"));
    assert_int_equal(calgae_chat_format(CALGAE_CHAT_UNKNOWN, conversation, 1, 1, out, sizeof out,
                                        &len, &err),
                     CALGAE_ERR_ARGUMENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_llama_cpp_cases), cmocka_unit_test(test_tinyllama),
        cmocka_unit_test(test_hand_built),      cmocka_unit_test(test_detect_other),
        cmocka_unit_test(test_plain),           cmocka_unit_test(test_space_and_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
