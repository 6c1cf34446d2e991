#!/usr/bin/env bash
# cli_newcomer_test.sh - the calgae command line as a newcomer meets it (issue 9, part 5): flags
# named when they are wrong, with the nearest one suggested; llama.cpp's spellings understood;
# `calgae help CMD`. Each check states what a user would type and what must come back; nothing
# here compares with text the program printed before (no goldens of our own).
#
# Environment (set by ctest): CALGAE_BIN, CALGAE_MODELS, CALGAE_TEST_TMP.
set -u
: "${CALGAE_BIN:?}" "${CALGAE_MODELS:?}" "${CALGAE_TEST_TMP:?}"
M="$CALGAE_MODELS"
T="$CALGAE_TEST_TMP/cli_newcomer"
rm -rf "$T"
mkdir -p "$T"
failures=0
bad() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}
ok() { echo "ok   $*"; }

# expect RC FRAGMENT... -- ARGS...: calgae ARGS exits RC with one stderr line holding every
# FRAGMENT, and nothing on stdout.
expect() {
    local want=$1 frags=() rc
    shift
    while [ "$1" != "--" ]; do frags+=("$1"); shift; done
    shift
    timeout 30 "$CALGAE_BIN" "$@" >"$T/stdout" 2>"$T/stderr" </dev/null
    rc=$?
    local what="calgae $*" f
    [ "$rc" -eq "$want" ] || { bad "$what: exit $rc, want $want ($(head -c 300 "$T/stderr"))"; return; }
    [ -s "$T/stdout" ] && { bad "$what: wrote to stdout: $(head -c 200 "$T/stdout")"; return; }
    [ "$(wc -l <"$T/stderr")" -eq 1 ] || { bad "$what: stderr is not one line: $(cat "$T/stderr")"; return; }
    for f in "${frags[@]}"; do
        grep -qF -- "$f" "$T/stderr" || { bad "$what: stderr lacks '$f': $(cat "$T/stderr")"; return; }
    done
    ok "$what"
}

RUN=(run --model "$M/stories260K.bin" --tokenizer "$M/tok512.bin" --temperature 0)

# ---- flags named, nearest suggested (args.c) ----
expect 2 "unknown option --temprature" "did you mean --temperature?" -- run --temprature 1
expect 2 "unknown option -x" -- run -x 0
expect 2 "unknown option -x" -- logits -x 0
expect 2 "unknown option -tokens" "did you mean --tokens?" -- run -tokens 5
expect 2 "unknown option --outt" "did you mean --out?" -- convert --outt x
expect 2 "unknown option --frobnicate" "calgae tokenize --help" -- tokenize --frobnicate
expect 2 "unknown command 'rnu'" "did you mean 'run'?" -- rnu
expect 2 "unknown command 'quantise'" "did you mean 'quantize'?" -- quantise
expect 2 "-fa" "flash-attn" -- run -fa -m x
expect 2 "--model needs a value" -- run --model
# a value that starts with '-' is a value, not a flag
expect 2 "--tokens: '-5'" -- run -m x --tokens -5

# -ngl N is llama.cpp's GPU layer count: noted and ignored, never read as -n gl
"$CALGAE_BIN" "${RUN[@]}" -ngl 99 --tokens 5 >"$T/out" 2>"$T/err"
rc=$?
if [ "$rc" -ne 0 ] || ! grep -q -- "-ngl 99 ignored" "$T/err" || grep -q "'gl'" "$T/err"; then
    bad "run -ngl 99: exit $rc, $(cat "$T/err")"
else
    ok "run -ngl 99 (ignored with a note)"
fi

# ---- logits --out: whole or not at all (outfile.c) ----
TOK=(--model "$M/stories260K.bin" --tokenizer "$M/tok512.bin")
echo "an earlier file" >"$T/keep.f32"
expect 1 "99999" -- logits "${TOK[@]}" --ids 1,99999 --out "$T/keep.f32"
if [ "$(cat "$T/keep.f32")" = "an earlier file" ] && [ -z "$(ls "$T" | grep -F '.tmp.')" ]; then
    ok "logits with a bad token id keeps the existing --out"
else
    bad "logits with a bad token id: the existing --out was changed or a temporary file stays"
fi
# Ctrl-C at a spread of moments: the existing file is kept whole, or replaced by a complete one
ids=1$(for i in $(seq 1 511); do printf ',%d' $((5 + i % 400)); done)
full=$((512 * 512 * 4))
interrupted=0
for d in 0.01 0.02 0.03 0.04 0.05 0.06 0.08 0.1; do
    echo "an earlier file" >"$T/int.f32"
    timeout -s INT "$d" "$CALGAE_BIN" logits "${TOK[@]}" --ids "$ids" --batch 1 --threads 1 \
        --out "$T/int.f32" >/dev/null 2>&1
    rc=$?
    size=$(stat -c %s "$T/int.f32")
    # a complete file is right however the run ended: the signal may land after the rename
    # (timeout then says 124 although the file was already whole)
    if [ "$size" -eq "$full" ]; then
        continue
    fi
    interrupted=$((interrupted + 1))
    if [ "$rc" -eq 0 ] || [ "$(cat "$T/int.f32")" != "an earlier file" ]; then
        bad "logits interrupted after ${d}s (exit $rc): --out has $size bytes, neither the old file nor $full"
    fi
done
leftover=$(ls "$T" | grep -F '.tmp.')
[ -z "$leftover" ] || bad "logits interrupted: temporary files left: $leftover"
[ "$interrupted" -gt 0 ] || bad "logits: no run was interrupted; the check proved nothing"
[ "$failures" -eq 0 ] && ok "logits interrupted $interrupted times: --out kept whole, nothing left behind"

# ---- convert / quantize --out the model itself: refused, source intact ----
mkdir -p "$T/src"
cp "$M/stories260K.bin" "$T/src/m.bin"
cp "$M/tok512.bin" "$T/src/tokenizer.bin"
cp "$M/stories260K.gguf" "$T/src/m.gguf"
ln -s m.bin "$T/src/link.bin"
ln -s m.gguf "$T/src/link.gguf"
sum_before=$(cat "$T/src/m.bin" "$T/src/m.gguf" "$T/src/tokenizer.bin" | sha256sum)
expect 2 "is the input file" -- convert --model "$T/src/m.bin" --out "$T/src/m.bin"
expect 2 "is the input file" -- convert --model "$T/src/m.bin" --out "$T/src/../src/./m.bin"
expect 2 "is the input file" -- convert --model "$T/src/link.bin" --out "$T/src/m.bin"
expect 2 "is the input file" -- convert --model "$T/src/m.bin" --out "$T/src/link.bin"
expect 2 "is the input file" -- convert --model "$T/src/m.gguf" --out "$T/src/link.gguf" --type q8_0
expect 2 "is the input file" -- convert --model "$T/src/m.bin" --tokenizer "$T/src/tokenizer.bin" --out "$T/src/tokenizer.bin"
expect 2 "is the input file" -- quantize --model "$T/src/m.gguf" --out "$T/src/m.gguf" --type q8_0
expect 2 "is the input file" -- quantize --model "$T/src/link.gguf" --out "$T/src/./m.gguf" --type q4_0
if [ "$(cat "$T/src/m.bin" "$T/src/m.gguf" "$T/src/tokenizer.bin" | sha256sum)" = "$sum_before" ] &&
    [ -z "$(ls "$T/src" | grep -F '.tmp.')" ]; then
    ok "convert/quantize onto the source: sources intact"
else
    bad "convert/quantize onto the source changed a source file or left a temporary file"
fi

# ---- run: llama.cpp's spellings ----
GOLD="$M/expected_stories260K_t0_n200.txt" # llama2.c's text, greedy, 200 tokens
# run_cmp WHAT ARGS...: calgae run ARGS prints llama2.c's golden text
run_cmp() {
    local what=$1
    shift
    if "$CALGAE_BIN" "$@" >"$T/out" 2>"$T/err" && cmp -s "$T/out" "$GOLD"; then
        ok "$what"
    else
        bad "$what: not llama2.c's text ($(tail -1 "$T/err"))"
    fi
}
run_cmp "run --temp 0 --n-predict 200 -c 256" run -m "$M/stories260K.bin" --tokenizer "$M/tok512.bin" \
    --temp 0 --n-predict 200 -c 256
run_cmp "run --ctx-size 256 -s 5 --temperature 0 -n 200" run -m "$M/stories260K.bin" \
    --tokenizer "$M/tok512.bin" --ctx-size 256 -s 5 --temperature 0 -n 200
# off settings of the new filters change nothing; min-p never changes a greedy choice
run_cmp "run --min-p 0.05 --repeat-penalty 1 (greedy)" "${RUN[@]}" --tokens 200 --min-p 0.05 \
    --repeat-penalty 1 --repeat-last-n 64
# a strong repeat penalty must change greedy text that repeats itself (llama2.c's golden does)
"$CALGAE_BIN" "${RUN[@]}" --tokens 200 --repeat-penalty 5 >"$T/out" 2>"$T/err"
if [ $? -eq 0 ] && [ -s "$T/out" ] && ! cmp -s "$T/out" "$GOLD"; then ok "run --repeat-penalty 5 changes the text"
else bad "run --repeat-penalty 5: exit or text unchanged ($(tail -1 "$T/err"))"; fi

# the prompt from -p, -f FILE and -p - (stdin) is the same prompt
prompt="One day, Lily met a Shoggoth"
"$CALGAE_BIN" "${RUN[@]}" --tokens 40 -p "$prompt" >"$T/p.txt" 2>"$T/err" || bad "run -p: $(cat "$T/err")"
printf '%s\n' "$prompt" >"$T/prompt.txt"
"$CALGAE_BIN" "${RUN[@]}" --tokens 40 -f "$T/prompt.txt" >"$T/f.txt" 2>"$T/err" || bad "run -f: $(cat "$T/err")"
"$CALGAE_BIN" "${RUN[@]}" --tokens 40 -p - <"$T/prompt.txt" >"$T/s.txt" 2>"$T/err" || bad "run -p -: $(cat "$T/err")"
if [[ "$(cat "$T/p.txt")" == "$prompt"* ]] && cmp -s "$T/p.txt" "$T/f.txt" && cmp -s "$T/p.txt" "$T/s.txt"; then
    ok "run -p TEXT, -f FILE and -p - give the same text"
else
    bad "run -p / -f / -p -: texts differ"
fi
"$CALGAE_BIN" "${RUN[@]}" --tokens 40 -p "$prompt" --no-display-prompt >"$T/nd.txt" 2>"$T/err"
if [ "$prompt$(cat "$T/nd.txt")" = "$(cat "$T/p.txt")" ]; then ok "run --no-display-prompt"
else bad "run --no-display-prompt: '$(head -c 80 "$T/nd.txt")' is not the text after the prompt"; fi
expect 1 "$T/none.txt" -- run -m "$M/stories260K.bin" -f "$T/none.txt"
expect 2 "once" -- run -m "$M/stories260K.bin" -f "$T/prompt.txt" -p x

# without --seed (or with -1) the seed comes from the system's entropy: runs in one second differ
for i in 1 2 3; do
    "$CALGAE_BIN" run -m "$M/stories260K.bin" --tokenizer "$M/tok512.bin" --temperature 1 \
        --tokens 40 >"$T/r$i.txt" 2>/dev/null
done
"$CALGAE_BIN" run -m "$M/stories260K.bin" --tokenizer "$M/tok512.bin" --temperature 1 \
    --tokens 40 -s -1 --verbose >"$T/r4.txt" 2>"$T/err"
if cmp -s "$T/r1.txt" "$T/r2.txt" && cmp -s "$T/r2.txt" "$T/r3.txt"; then
    bad "run without --seed: three runs gave the same text"
else
    ok "run without --seed: three runs, different texts"
fi
grep -qE "^calgae: seed [0-9]+$" "$T/err" && ok "run --verbose prints the seed" ||
    bad "run -s -1 --verbose: no 'calgae: seed N' line"
seed=$(sed -n 's/^calgae: seed //p' "$T/err")
"$CALGAE_BIN" run -m "$M/stories260K.bin" --tokenizer "$M/tok512.bin" --temperature 1 \
    --tokens 40 -s "$seed" >"$T/r5.txt" 2>/dev/null
cmp -s "$T/r4.txt" "$T/r5.txt" && ok "run -s with the printed seed repeats the text" ||
    bad "run -s $seed does not repeat the text of the run that printed it"

# ---- tokenize finds its vocabulary as run does; random bytes are named as no model ----
text="Once upon a time, Lily"
want=$("$CALGAE_BIN" tokenize --tokenizer "$M/tok512.bin" --text "$text" --ids 2>&1)
got=$("$CALGAE_BIN" tokenize -m "$T/src/m.bin" --text "$text" --ids 2>&1)
[ -n "$want" ] && [ "$got" = "$want" ] && ok "tokenize -m x.bin uses tokenizer.bin beside it" ||
    bad "tokenize -m x.bin: '$got', want '$want' (tokenizer.bin beside it)"
# a vocabulary-only GGUF, against llama.cpp's own expected ids (ggml-vocab-*.gguf.out, no BOS)
V="$M/ggml-vocab-llama-spm.gguf"
first_in=$(sed -n 1p "$V.inp")
first_out="[$(sed -n 1p "$V.out" | sed 's/^ //; s/ /, /g')]"
got=$("$CALGAE_BIN" tokenize -m "$V" --text "$first_in" --ids --no-bos 2>&1)
[ "$got" = "$first_out" ] && ok "tokenize -m on a vocabulary-only GGUF: llama.cpp's ids" ||
    bad "tokenize -m $V: '$got', want '$first_out'"
# the byte-level BPE ones (Llama 3, Qwen2, GPT-2): llama.cpp's ids; Llama 3 adds BOS by default,
# Qwen2 and GPT-2 none; control tokens in the text are tokens unless --no-parse-special
for v in llama-bpe qwen2 gpt-2; do
    V="$M/ggml-vocab-$v.gguf"
    first_in=$(sed -n 1p "$V.inp")
    first_out="[$(sed -n 1p "$V.out" | sed 's/^ //; s/ /, /g')]"
    got=$("$CALGAE_BIN" tokenize -m "$V" --text "$first_in" --ids --no-bos 2>&1)
    [ "$got" = "$first_out" ] && ok "tokenize -m ggml-vocab-$v.gguf: llama.cpp's ids" ||
        bad "tokenize -m $V: '$got', want '$first_out'"
done
got=$("$CALGAE_BIN" tokenize -m "$M/ggml-vocab-llama-bpe.gguf" --text "Hello<|eot_id|>" --ids 2>&1)
[ "$got" = "[128000, 9906, 128009]" ] && ok "tokenize: BOS and a control token (Llama 3)" ||
    bad "tokenize Hello<|eot_id|> (Llama 3): '$got', want [128000, 9906, 128009]"
got=$("$CALGAE_BIN" tokenize -m "$M/ggml-vocab-llama-bpe.gguf" --text "<|eot_id|>" --ids --no-parse-special 2>&1)
case "$got" in
    "[128000, 27, 91, 68, 354, 851, 91, 29]") ok "tokenize --no-parse-special keeps <|eot_id|> as text" ;;
    *) bad "tokenize --no-parse-special <|eot_id|>: '$got'" ;;
esac
got=$("$CALGAE_BIN" tokenize -m "$M/ggml-vocab-qwen2.gguf" --text "<|im_start|>user" --ids 2>&1)
[ "$got" = "[151644, 872]" ] && ok "tokenize: Qwen2 adds no BOS" ||
    bad "tokenize <|im_start|>user (Qwen2): '$got', want [151644, 872]"
# hostile byte-level vocabularies (test_bpe's, kept as fuzz seeds): one line naming the file
refused=0
for f in "$(cd "$(dirname "$0")" && pwd)"/fuzz/corpus/gguf/hostile-test_bpe-*; do
    timeout 30 "$CALGAE_BIN" tokenize -m "$f" --text "hi" >"$T/stdout" 2>"$T/stderr"
    rc=$?
    if [ "$rc" -eq 1 ] && [ "$(wc -l <"$T/stderr")" -eq 1 ] && grep -qF "$f: " "$T/stderr" &&
        ! grep -q "general.architecture\|token_embd" "$T/stderr"; then
        refused=$((refused + 1))
    elif [ "$rc" -ne 0 ]; then
        bad "tokenize -m $f: exit $rc, $(cat "$T/stderr")"
    fi
done
[ "$refused" -ge 10 ] && ok "tokenize names the file and the vocabulary's fault ($refused hostile vocabularies)" ||
    bad "only $refused hostile byte-level vocabularies refused with the vocabulary's own message"
head -c 4096 /dev/urandom >"$T/random.bin"
expect 1 "$T/random.bin: not a GGUF file or llama2.c checkpoint" -- tokenize -m "$T/random.bin" --text hi
expect 1 "$T/random.bin: not a GGUF file or llama2.c checkpoint" -- run -m "$T/random.bin"
head -c 9 /dev/urandom >"$T/random9.bin"
expect 1 "$T/random9.bin: not a GGUF file or llama2.c checkpoint" -- run -m "$T/random9.bin"

# ---- backends verify NAME ----
"$CALGAE_BIN" backends verify scalar >"$T/out" 2>"$T/err"
rc=$?
[ "$rc" -eq 0 ] && grep -q "^scalar: [0-9]* passed, 0 failed" "$T/out" && ok "backends verify scalar (a name)" ||
    bad "backends verify scalar: exit $rc, $(tail -1 "$T/out") $(cat "$T/err")"
expect 1 "calgae-nosuch.so" -- backends verify nosuch

# ---- chat reads calgae.ini as run does: a [run] backend it can't use names the file's line ----
printf '[run]\nbackend = nosuch\n' >"$T/chat.ini"
expect 2 "chat.ini:2" "nosuch" -- chat --model "$M/stories260K.gguf" --config "$T/chat.ini"
expect 2 "nosuch" -- chat --model "$M/stories260K.gguf" --backend nosuch

# ---- calgae help ----
"$CALGAE_BIN" help run >"$T/out" 2>"$T/err"
if [ $? -eq 0 ] && grep -q "^Usage: calgae run" "$T/out"; then ok "help run"; else bad "help run: $(head -3 "$T/out")"; fi
"$CALGAE_BIN" help >"$T/out" 2>"$T/err"
if [ $? -eq 0 ] && grep -q "^Usage: calgae <command>" "$T/out"; then ok "help"; else bad "help: $(head -3 "$T/out")"; fi

if [ "$failures" -ne 0 ]; then
    echo "cli_newcomer_test: $failures failure(s)"
    exit 1
fi
echo "cli_newcomer_test: all passed"
