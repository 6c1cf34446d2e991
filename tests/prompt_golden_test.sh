#!/usr/bin/env bash
# prompt_golden_test.sh - greedy text after a prompt must match llama2.c's run.c. The reference
# is tests/ref_llama.py, an independent numpy implementation of run.c's generate loop that
# tests/ref_selfcheck.py proves byte-identical to llama2.c's own output. run.c's -n counts the
# prompt's tokens (BOS included) minus one, so --steps S means S - n_prompt + 1 new tokens.
set -u
: "${CALGAE_BIN:?}" "${CALGAE_MODELS:?}" "${CALGAE_TEST_TMP:?}" "${CALGAE_PYTHON:=/usr/bin/python3}"
M=$CALGAE_MODELS
T=$CALGAE_TEST_TMP/prompt.$$
mkdir -p "$T"
trap 'rm -rf "$T"' EXIT
here=$(cd "$(dirname "$0")" && pwd)
steps=150
pass=0
fail=0
for prompt in "Once upon a time" "Tom and Lily went to the park" "The little dog was sad because" \
    "One day, a big bird" "She said, \"Let's play!\""; do
    ids=$("$CALGAE_BIN" tokenize --tokenizer "$M/tok512.bin" --text "$prompt" --ids) || { fail=$((fail + 1)); continue; }
    n_prompt=$(echo "$ids" | tr -cd ',' | wc -c)
    n_prompt=$((n_prompt + 1))
    "$CALGAE_PYTHON" "$here/ref_llama.py" generate --model "$M/stories260K.bin" --tokenizer "$M/tok512.bin" \
        --prompt "$prompt" --steps $steps >"$T/want"
    # the .bin with tok512.bin; the GGUF with the vocabulary inside it
    for model in "$M/stories260K.bin --tokenizer $M/tok512.bin" "$M/stories260K.gguf"; do
        # shellcheck disable=SC2086 # the model entry carries its own flags
        "$CALGAE_BIN" run --model $model --prompt "$prompt" --temperature 0 \
            --tokens $((steps - n_prompt + 1)) >"$T/got" 2>/dev/null
        if cmp -s "$T/want" "$T/got"; then
            pass=$((pass + 1))
            echo "ok   ${model##*/}: $prompt"
        else
            fail=$((fail + 1))
            echo "FAIL ${model##*/}: $prompt"
            diff "$T/want" "$T/got" | head -6
        fi
    done
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
