#!/usr/bin/env bash
# cli_golden_test.sh - end-to-end text generation against llama2.c's reference output
# (shared/models/expected_stories260K_t0_n200.txt, printed by llama2.c's run.c for
# `stories260K.bin -z tok512.bin -t 0.0 -n 200`), from the .bin, the GGUF and our own
# conversion of the .bin; plus seed and thread-count determinism. With CALGAE_TEST_BACKEND (a
# plugin file) every run puts that plugin first (test_backend.sh); ctest runs it once per plugin.
set -u
: "${CALGAE_BIN:?}" "${CALGAE_MODELS:?}" "${CALGAE_TEST_TMP:?}"
# shellcheck source=tests/test_backend.sh
. "$(dirname "$0")/test_backend.sh"
M=$CALGAE_MODELS
T=$CALGAE_TEST_TMP/golden.$$
mkdir -p "$T"
trap 'rm -rf "$T"' EXIT
want=$M/expected_stories260K_t0_n200.txt
pass=0
fail=0

check() { # name, command...: the command's stdout must equal $want byte for byte
    local name=$1
    shift
    if "$@" >"$T/out" 2>"$T/err" && cmp -s "$T/out" "$want"; then
        pass=$((pass + 1))
        echo "ok   $name"
    else
        fail=$((fail + 1))
        echo "FAIL $name"
        diff <(head -c 600 "$want") <(head -c 600 "$T/out") | head -20
        cat "$T/err"
    fi
}

same() { # name, file a, file b
    if cmp -s "$2" "$3"; then
        pass=$((pass + 1))
        echo "ok   $1"
    else
        fail=$((fail + 1))
        echo "FAIL $1: $2 and $3 differ"
    fi
}

greedy=(--temperature 0 --tokens 200 "${BACKEND_ARGS[@]}")
check "bin greedy 200 = llama2.c" "$CALGAE_BIN" run --model "$M/stories260K.bin" --tokenizer "$M/tok512.bin" "${greedy[@]}"
check "gguf greedy 200 = llama2.c" "$CALGAE_BIN" run --model "$M/stories260K.gguf" "${greedy[@]}"
check "gguf greedy, 1 thread" "$CALGAE_BIN" run --model "$M/stories260K.gguf" "${greedy[@]}" --threads 1
check "gguf greedy, 3 threads" "$CALGAE_BIN" run --model "$M/stories260K.gguf" "${greedy[@]}" --threads 3

if "$CALGAE_BIN" convert --model "$M/stories260K.bin" --tokenizer "$M/tok512.bin" --out "$T/conv.gguf" --type f32 2>"$T/err"; then
    check "convert f32 greedy 200 = llama2.c" "$CALGAE_BIN" run --model "$T/conv.gguf" "${greedy[@]}"
else
    fail=$((fail + 1))
    echo "FAIL convert f32"
    cat "$T/err"
fi

# the stats line: one line on stderr naming the backend
"$CALGAE_BIN" run --model "$M/stories260K.gguf" "${greedy[@]}" >/dev/null 2>"$T/err"
be_re='[a-z0-9_+-]+'
[ "$BACKEND_LABEL" = auto ] || be_re="$BACKEND_LABEL(\+[a-z0-9_+-]*)?" # that plugin serves
if [ "$(wc -l <"$T/err")" -eq 1 ] && grep -Eq "^calgae: load [0-9.]+ ms, prompt 1 tokens at [0-9.]+ tok/s, generation 200 tokens at [0-9.]+ tok/s, backend $be_re, threads [0-9]+\$" "$T/err"; then
    pass=$((pass + 1))
    echo "ok   stats line"
else
    fail=$((fail + 1))
    echo "FAIL stats line:"
    cat "$T/err"
fi

# sampling: the same seed gives the same text at any thread count; another seed differs
sample=(--model "$M/stories260K.gguf" --prompt "Once upon a time" --temperature 1.0 --top-k 40 --top-p 0.95 --tokens 150
    "${BACKEND_ARGS[@]}")
"$CALGAE_BIN" run "${sample[@]}" --seed 42 --threads 1 >"$T/s1" 2>/dev/null
"$CALGAE_BIN" run "${sample[@]}" --seed 42 --threads 2 >"$T/s2" 2>/dev/null
"$CALGAE_BIN" run "${sample[@]}" --seed 42 --threads 2 >"$T/s3" 2>/dev/null
"$CALGAE_BIN" run "${sample[@]}" --seed 43 --threads 2 >"$T/s4" 2>/dev/null
same "seed 42, 1 vs 2 threads" "$T/s1" "$T/s2"
same "seed 42 twice" "$T/s2" "$T/s3"
if ! cmp -s "$T/s3" "$T/s4" && grep -q '^Once upon a time' "$T/s1"; then
    pass=$((pass + 1))
    echo "ok   seed 43 differs from seed 42, prompt echoed"
else
    fail=$((fail + 1))
    echo "FAIL seeds 42 and 43 gave the same text, or the prompt was not echoed"
fi

# the token budget counts generated tokens: 5 tokens after the prompt
"$CALGAE_BIN" run --model "$M/stories260K.bin" --tokenizer "$M/tok512.bin" --temperature 0 --tokens 5 "${BACKEND_ARGS[@]}" >/dev/null 2>"$T/err"
if grep -q 'generation 5 tokens' "$T/err"; then
    pass=$((pass + 1))
    echo "ok   --tokens 5 generates 5"
else
    fail=$((fail + 1))
    echo "FAIL --tokens 5:"
    cat "$T/err"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
