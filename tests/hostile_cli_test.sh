#!/usr/bin/env bash
# hostile_cli_test.sh - the calgae program against bad model and tokenizer files, bad output
# paths and bad flags. Whatever the input, a failure must be an orderly one: exit status 1 for a
# bad file (2 for a usage error), never 0 and never a signal; exactly one line on stderr that
# starts with "calgae: " and names the offending file; nothing on stdout; no output file left
# behind by a failed convert. The bad files are cut or patched from the shared real ones with
# head/printf/dd, so each differs from a loadable file in one known way.
#
# Environment (set by ctest): CALGAE_BIN, CALGAE_MODELS, CALGAE_TEST_TMP.
set -u
: "${CALGAE_BIN:?}" "${CALGAE_MODELS:?}" "${CALGAE_TEST_TMP:?}"
if [ ! -x "$CALGAE_BIN" ]; then
    echo "FAIL: $CALGAE_BIN is not an executable (build the calgae target first)" >&2
    exit 1
fi

M="$CALGAE_MODELS"
T="$CALGAE_TEST_TMP/hostile_cli"
rm -rf "$T"
mkdir -p "$T"
cases=0
failures=0

bad() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}

# expect RC FRAGMENT... -- ARGS...: runs calgae ARGS and checks the orderly failure described
# above, with every FRAGMENT (fixed strings) in the stderr line.
expect() {
    local want=$1 frags=() rc
    shift
    while [ "$1" != "--" ]; do frags+=("$1"); shift; done
    shift
    cases=$((cases + 1))
    # a hang is a failure too (every case takes well under a second); 124 is timeout's status
    timeout 15 "$CALGAE_BIN" "$@" >"$T/stdout" 2>"$T/stderr" </dev/null
    rc=$?
    local what="calgae $*"
    if [ "$rc" -eq 124 ]; then
        bad "$what: still running after 15 s (a hang)"
        return
    elif [ "$rc" -gt 128 ]; then
        bad "$what: killed by signal $((rc - 128)) (a crash)"
    elif [ "$rc" -ne "$want" ]; then
        bad "$what: exit $rc, expected $want"
    fi
    [ -s "$T/stdout" ] && bad "$what: wrote to stdout: $(head -c 200 "$T/stdout")"
    local lines
    lines=$(wc -l <"$T/stderr")
    if [ "$lines" -ne 1 ] || [ "$(tail -c 1 "$T/stderr" | od -An -c | tr -d ' ')" != '\n' ]; then
        bad "$what: stderr is not exactly one line: $(cat "$T/stderr")"
        return
    fi
    local line
    line=$(cat "$T/stderr")
    [[ "$line" == "calgae: "* ]] || bad "$what: stderr does not start with 'calgae: ': $line"
    local f
    for f in "${frags[@]}"; do
        [[ "$line" == *"$f"* ]] || bad "$what: stderr lacks '$f': $line"
    done
}

# le32 N: N as four little-endian bytes
le32() {
    local v=$(($1 & 0xffffffff))
    printf '%b' "$(printf '\\x%02x\\x%02x\\x%02x\\x%02x' $((v & 255)) $((v >> 8 & 255)) \
        $((v >> 16 & 255)) $((v >> 24 & 255)))"
}

# bin_header FILE DIM HIDDEN LAYERS HEADS KV_HEADS VOCAB SEQ_LEN: a llama2.c header and 1 KiB
bin_header() {
    local out=$1
    shift
    { for v in "$@"; do le32 "$v"; done; head -c 1024 /dev/zero; } >"$out"
}

# poke FILE OFFSET BYTES: overwrites bytes in place (printf escapes allowed)
poke() {
    printf '%b' "$3" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

run_bad() { # run_bad RC FRAGMENT... -- MODEL: `calgae run` of a bad model with the right vocab
    local want=$1 frags=()
    shift
    while [ "$1" != "--" ]; do frags+=("$1"); shift; done
    expect "$want" "${frags[@]}" -- run --model "$2" --tokenizer "$M/tok512.bin" \
        --temperature 0 --tokens 4
}

TOK="$M/tok512.bin"

# ---- the control: the real files do work, so the failures below are the files' fault ----
cases=$((cases + 1))
out=$(timeout 60 "$CALGAE_BIN" run --model "$M/stories260K.bin" --tokenizer "$TOK" \
    --temperature 0 --tokens 8 2>/dev/null)
rc=$?
if [ "$rc" -ne 0 ] || [ -z "$out" ]; then
    bad "control run of stories260K.bin: exit $rc, output '$out'"
fi

# ---- bad llama2.c checkpoints ----
: >"$T/empty.bin"
run_bad 1 "$T/empty.bin" "too short" -- "$T/empty.bin"
head -c 20 "$M/stories260K.bin" >"$T/short.bin"
run_bad 1 "$T/short.bin" "too short" -- "$T/short.bin"
bin_header "$T/dim0.bin" 0 172 5 8 4 512 512
run_bad 1 "$T/dim0.bin" "bad dimensions" -- "$T/dim0.bin"
bin_header "$T/kv3.bin" 64 172 5 8 3 512 512
run_bad 1 "$T/kv3.bin" "KV head count 3" -- "$T/kv3.bin"
bin_header "$T/vocab_min.bin" 64 172 5 8 4 -2147483648 512
run_bad 1 "$T/vocab_min.bin" "bad vocabulary size" -- "$T/vocab_min.bin"
bin_header "$T/layers.bin" 64 172 1000000 8 4 512 512
run_bad 1 "$T/layers.bin" "bad layer count" -- "$T/layers.bin"
bin_header "$T/huge.bin" 131072 131072 1024 4096 4096 4194304 16777216
run_bad 1 "$T/huge.bin" "truncated" -- "$T/huge.bin"
head -c 500001 "$M/stories260K.bin" >"$T/cut.bin"
run_bad 1 "$T/cut.bin" "truncated" -- "$T/cut.bin"
{ cat "$M/stories260K.bin"; printf 'junk'; } >"$T/trailing.bin"
run_bad 1 "$T/trailing.bin" "unexpected trailing data" -- "$T/trailing.bin"

# ---- bad GGUF files ----
for len in 3 20 5000 14170 600000 1185375; do
    head -c "$len" "$M/stories260K.gguf" >"$T/cut$len.gguf"
    if [ "$len" -lt 4 ]; then why="too short"; else why="truncated"; fi
    run_bad 1 "$T/cut$len.gguf" "$why" -- "$T/cut$len.gguf"
done
cp "$M/stories260K.gguf" "$T/v1.gguf"
chmod u+w "$T/v1.gguf"
poke "$T/v1.gguf" 4 '\x01'
run_bad 1 "$T/v1.gguf" "version 1" -- "$T/v1.gguf"
# the architecture's value: after the key, its u32 type and u64 length
cp "$M/stories260K.gguf" "$T/arch.gguf"
chmod u+w "$T/arch.gguf"
at=$(grep -obUa 'general.architecture' "$T/arch.gguf" | head -n 1 | cut -d: -f1)
poke "$T/arch.gguf" $((at + 20 + 4 + 8)) 'mamba'
run_bad 1 "$T/arch.gguf" "architecture 'mamba' is not supported" -- "$T/arch.gguf"
rm -f "$T/nothing.gguf"
run_bad 1 "$T/nothing.gguf" "cannot open" -- "$T/nothing.gguf"

# BUG (core/base/util.c, calgae_map_file): it opens before it checks for a regular file, and opening
# a FIFO without a writer blocks forever, so these two hang until the timeout.
rm -f "$T/fifo.gguf"
mkfifo "$T/fifo.gguf"
run_bad 1 "$T/fifo.gguf" "not a regular file" -- "$T/fifo.gguf"
expect 1 "$T/fifo.gguf" "not a regular file" -- \
    run --model "$M/stories260K.gguf" --tokenizer "$T/fifo.gguf"

# ---- folders ----
mkdir -p "$T/empty_dir" "$T/two"
run_bad 1 "$T/empty_dir" "folder holds 0 .gguf" -- "$T/empty_dir"
cp "$T/v1.gguf" "$T/two/a.gguf"
cp "$T/v1.gguf" "$T/two/b.gguf"
run_bad 1 "$T/two" "folder holds 2 .gguf" -- "$T/two"

# ---- bad tokenizers ----
head -c 3000 "$TOK" >"$T/tok_cut.bin"
expect 1 "$T/tok_cut.bin" "token" -- run --model "$M/stories260K.bin" --tokenizer "$T/tok_cut.bin"
head -c 2 "$TOK" >"$T/tok_2.bin"
expect 1 "$T/tok_2.bin" "truncated header" -- \
    run --model "$M/stories260K.bin" --tokenizer "$T/tok_2.bin"
: >"$T/tok_empty.bin"
expect 1 "$T/tok_empty.bin" "empty tokenizer file" -- \
    run --model "$M/stories260K.bin" --tokenizer "$T/tok_empty.bin"
# the 32000-token Llama vocabulary for the 512-token model
expect 1 "$M/tokenizer.bin" "tokenizer has 32000 tokens but the model has 512" -- \
    run --model "$M/stories260K.bin" --tokenizer "$M/tokenizer.bin"
expect 1 "$M/tokenizer.bin" "32000" -- \
    run --model "$M/stories260K.gguf" --tokenizer "$M/tokenizer.bin"
expect 1 "$M/ggml-vocab-llama-spm.gguf" "32000" -- \
    run --model "$M/stories260K.bin" --tokenizer "$M/ggml-vocab-llama-spm.gguf"
# no --tokenizer: llama2.c's tokenizer.bin beside the model is that same wrong vocabulary
expect 1 "$M/tokenizer.bin" "32000" "--tokenizer" -- run --model "$M/stories260K.bin"
expect 1 "$T/tok_cut.bin" -- tokenize --tokenizer "$T/tok_cut.bin" --text hello

# ---- convert: a failure leaves no file ----
expect 1 "$T/missing/dir/out.gguf" -- convert --model "$M/stories260K.bin" --tokenizer "$TOK" \
    --out "$T/missing/dir/out.gguf"
[ -e "$T/missing" ] && bad "convert created $T/missing"
expect 1 "$T/cut.bin" "truncated" -- convert --model "$T/cut.bin" --tokenizer "$TOK" \
    --out "$T/out.gguf"
[ -e "$T/out.gguf" ] && bad "convert of a bad model left $T/out.gguf"
expect 1 "$T/tok_cut.bin" -- convert --model "$M/stories260K.bin" --tokenizer "$T/tok_cut.bin" \
    --out "$T/out.gguf"
[ -e "$T/out.gguf" ] && bad "convert with a bad tokenizer left $T/out.gguf"
# an existing output survives a failed convert untouched
printf 'keep' >"$T/kept.gguf"
expect 1 "$T/cut.bin" -- convert --model "$T/cut.bin" --tokenizer "$TOK" --out "$T/kept.gguf"
[ "$(cat "$T/kept.gguf")" = keep ] || bad "a failed convert changed $T/kept.gguf"
leftovers=$(find "$T" -name '*.tmp.*' | head -n 3)
[ -z "$leftovers" ] || bad "temporary files left behind: $leftovers"

# ---- usage errors: exit 2, one line ----
G=(--model "$M/stories260K.gguf")
expect 2 "--tokens" "-5" -- run "${G[@]}" --tokens -5
expect 2 "--temperature" "abc" -- run "${G[@]}" --temperature abc
expect 2 "--top-p" -- run "${G[@]}" --top-p 2
expect 2 "--top-k" -- run "${G[@]}" --top-k -1
expect 2 "--threads" -- run "${G[@]}" --threads 0
expect 2 "--frobnicate" -- run "${G[@]}" --frobnicate
expect 2 "--model" -- run --model
expect 2 "--tokens" -- run "${G[@]}" --tokens
expect 2 "--model" -- run --tokens 4
expect 2 "stray" -- run "${G[@]}" stray
expect 2 "q5_1" -- convert "${G[@]}" --out "$T/x.gguf" --type q5_1
expect 2 "--out" -- convert "${G[@]}"
expect 2 "frobnicate" -- frobnicate

echo "$cases cases, $failures failures"
[ "$failures" -eq 0 ]
