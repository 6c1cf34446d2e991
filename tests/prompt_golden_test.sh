#!/usr/bin/env bash
# prompt_golden_test.sh - greedy text after a prompt must match llama2.c's run.c byte for byte:
# tests/golden/llama2c_promptN.txt is what run.c printed for line N of tests/golden/prompts.txt
# (150 steps; how they were made: tests/golden/README.md). run.c's -n counts the prompt's tokens
# (BOS included) minus one, so 150 steps mean 150 - n_prompt + 1 new tokens. Checked from the .bin
# with tok512.bin and from the GGUF with its own vocabulary. With CALGAE_TEST_BACKEND (a plugin
# file) that plugin serves the runs (test_backend.sh); ctest runs it once per plugin.
set -u
: "${CALGAE_BIN:?}" "${CALGAE_MODELS:?}" "${CALGAE_TEST_TMP:?}"
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/test_backend.sh
. "$here/test_backend.sh"
M=$CALGAE_MODELS
G=$here/golden
T=$CALGAE_TEST_TMP/prompt.$$
mkdir -p "$T"
trap 'rm -rf "$T"' EXIT
steps=150
pass=0
fail=0
i=0
while IFS= read -r prompt; do
    i=$((i + 1))
    want=$G/llama2c_prompt$i.txt
    if [ ! -s "$want" ]; then
        fail=$((fail + 1))
        echo "FAIL no golden text $want for prompt $i"
        continue
    fi
    ids=$("$CALGAE_BIN" tokenize --tokenizer "$M/tok512.bin" --text "$prompt" --ids) || { fail=$((fail + 1)); continue; }
    n_prompt=$(echo "$ids" | tr -cd ',' | wc -c)
    n_prompt=$((n_prompt + 1))
    # the .bin with tok512.bin; the GGUF with the vocabulary inside it
    for model in "$M/stories260K.bin --tokenizer $M/tok512.bin" "$M/stories260K.gguf"; do
        # shellcheck disable=SC2086 # the model entry carries its own flags
        "$CALGAE_BIN" run --model $model --prompt "$prompt" --temperature 0 \
            --tokens $((steps - n_prompt + 1)) "${BACKEND_ARGS[@]}" >"$T/got" 2>/dev/null
        if cmp -s "$want" "$T/got"; then
            pass=$((pass + 1))
            echo "ok   ${model##*/}: $prompt"
        else
            fail=$((fail + 1))
            echo "FAIL ${model##*/}: $prompt"
            diff "$want" "$T/got" | head -6
        fi
    done
done <"$G/prompts.txt"
echo "$pass passed, $fail failed ($i prompts)"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
