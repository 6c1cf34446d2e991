#!/usr/bin/env bash
# quant_cli_test.sh - `calgae quantize` and `calgae perplexity` end to end on stories260K:
#  * RTN Q8_0/Q4_0/Q4_1 files load and generate the expected greedy text shape, and RTN's tensors
#    are the bytes `calgae convert` writes (whose ggml layouts test_blocks checks by hand);
#  * AWQ (Lin et al., MLSys 2024) at Q4_0 and Q4_1, calibrated on calib.txt, has a lower mean KL
#    divergence from the F32 model on the held-out eval.txt than RTN (the margin is printed);
#  * an AWQ Q4_1 file read by the independent numpy reference (ref_llama.py) gives our logits;
#  * perplexity's last line, a model against itself, the warning for the calibration text;
#  * bad arguments are clear errors, and a failed or interrupted run leaves no (half-)file.
set -u
: "${CALGAE_BIN:?}" "${CALGAE_MODELS:?}" "${CALGAE_DATA:?}" "${CALGAE_TEST_TMP:?}"
M=$CALGAE_MODELS
D=$CALGAE_DATA
PY=${CALGAE_PYTHON:-/usr/bin/python3}
HERE=$(cd "$(dirname "$0")" && pwd)
T=$CALGAE_TEST_TMP/quant.$$
mkdir -p "$T"
trap 'rm -rf "$T"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; [ -f "$T/err" ] && sed 's/^/     /' "$T/err" | tail -5; }

# One thread: these runs are tiny, and on a busy CI machine a spinning pool only slows them.
Q=("$CALGAE_BIN" quantize --model "$M/stories260K.bin" --tokenizer "$M/tok512.bin" --threads 1)
# windows of 512 tokens of eval.txt: 3060 scored positions, where the gap is ~10 standard errors;
# sanitizer builds (tests/CMakeLists.txt) take fewer, as they look for memory errors, not margins
CHUNKS=${CALGAE_QUANT_CHUNKS:-12}
KL=("$CALGAE_BIN" perplexity --kl-base "$M/stories260K.bin" --tokenizer "$M/tok512.bin"
    --file "$D/eval.txt" --ctx 512 --chunks $CHUNKS --threads 1)
opening="Once upon a time, there was a little girl named Lily."

greedy_shape() { # name, model: 40 greedy tokens that read like the F32 model's story
    if "$CALGAE_BIN" run --model "$2" --temperature 0 --tokens 40 --threads 1 >"$T/out" 2>"$T/err" &&
        [ "$(head -c ${#opening} "$T/out")" = "$opening" ] &&
        [ "$(wc -w <"$T/out")" -ge 20 ] && ! LC_ALL=C grep -q '[^[:print:][:space:]]' "$T/out" &&
        grep -q 'generation 40 tokens' "$T/err"; then
        ok "$1: loads, greedy text starts '$opening'"
    else
        bad "$1: greedy text"
        head -c 300 "$T/out"
    fi
}

kld_of() { sed -n 's/.*KLD = \([0-9.]*\) .*/\1/p' "$1" | tail -1; }

# ---- RTN ----
for t in q8_0 q4_0 q4_1; do
    if "${Q[@]}" --out "$T/rtn_$t.gguf" --type $t 2>"$T/err" &&
        grep -q "RTN" "$T/err" && grep -Eq 'size [0-9.]+ MiB -> [0-9.]+ MiB .* bits per weight' "$T/err"; then
        ok "rtn $t: written, summary"
        greedy_shape "rtn $t" "$T/rtn_$t.gguf"
    else
        bad "rtn $t"
    fi
done

# RTN's tensors are convert's bytes (same reference rounding); only the metadata differs
"$CALGAE_BIN" quantize --model "$M/stories260K.gguf" --out "$T/q8.gguf" --type q8_0 --keep-embeddings q8_0 --threads 1 2>"$T/err"
"$CALGAE_BIN" convert --model "$M/stories260K.gguf" --out "$T/conv8.gguf" --type q8_0 2>>"$T/err"
if "$PY" - "$T/q8.gguf" "$T/conv8.gguf" "$HERE" <<'EOF' 2>>"$T/err"
import sys
sys.path.insert(0, sys.argv[3])
import ref_llama as R
_, a = R.read_gguf(sys.argv[1])
_, b = R.read_gguf(sys.argv[2])
assert a.keys() == b.keys(), (sorted(a), sorted(b))
for k in a:
    assert a[k][:2] == b[k][:2] and bytes(a[k][2]) == bytes(b[k][2]), k
assert a["blk.0.attn_q.weight"][1] == R.GGML_Q8_0 and a["blk.0.ffn_down.weight"][1] == R.GGML_F32
EOF
then
    ok "rtn q8_0 of the GGUF: tensors byte-identical to convert --type q8_0"
else
    bad "rtn q8_0 vs convert"
fi

# ---- AWQ vs RTN on held-out text ----
for t in q4_0 q4_1; do
    if ! "${Q[@]}" --out "$T/awq_$t.gguf" --type $t --method awq --calib "$D/calib.txt" \
        --calib-tokens 8192 2>"$T/err" || ! grep -q "awq: 8192 calibration tokens" "$T/err"; then
        bad "awq $t: quantize"
        continue
    fi
    ok "awq $t: written ($(grep -o 'calibration output error [^;]*' "$T/err"))"
    greedy_shape "awq $t" "$T/awq_$t.gguf"
    "${KL[@]}" --model "$T/rtn_$t.gguf" >"$T/rtn.out" 2>"$T/err"
    "${KL[@]}" --model "$T/awq_$t.gguf" >"$T/awq.out" 2>>"$T/err"
    r=$(kld_of "$T/rtn.out")
    a=$(kld_of "$T/awq.out")
    if [ -n "$r" ] && [ -n "$a" ] && awk -v a="$a" -v r="$r" 'BEGIN { exit !(a < r) }'; then
        ok "awq $t: KL from F32 on eval.txt $a < RTN's $r ($(awk -v a="$a" -v r="$r" 'BEGIN { printf "%.1f%% lower", 100 * (r - a) / r }'))"
    else
        bad "awq $t: KL from F32 '$a' is not below RTN's '$r'"
        cat "$T/rtn.out" "$T/awq.out"
    fi
done

# the independent numpy reference reads the AWQ Q4_1 file and computes our logits
ids=1,403,407,261,378,434,269,271,297,268,307,286,265,429,332,324
if "$CALGAE_BIN" logits --model "$T/awq_q4_1.gguf" --ids $ids --out "$T/c.f32" --threads 1 2>"$T/err" &&
    "$PY" "$HERE/ref_llama.py" logits --model "$T/awq_q4_1.gguf" --ids $ids --act-q8 --out "$T/r.f32" 2>>"$T/err" &&
    "$PY" - "$T/c.f32" "$T/r.f32" <<'EOF' 2>>"$T/err"
import sys
import numpy as np
c = np.fromfile(sys.argv[1], dtype="<f4").reshape(-1, 512)
r = np.fromfile(sys.argv[2], dtype="<f4").reshape(-1, 512)
err = np.max(np.abs(c - r), axis=1) / np.max(np.abs(r), axis=1)
# activation rounding flips (numpy_logits_test.py explains them) stay far below 0.05
assert err.max() < 0.05 and (c.argmax(1) == r.argmax(1)).mean() >= 0.9, err
EOF
then
    ok "awq q4_1: ref_llama.py reads the file, logits agree"
else
    bad "awq q4_1 vs ref_llama.py"
fi

# ---- perplexity ----
if "${KL[@]}" --model "$M/stories260K.bin" --chunks 2 >"$T/out" 2>"$T/err" &&
    tail -1 "$T/out" | grep -Eq '^PPL = [0-9.]+ \+/- [0-9.]+, KLD = 0\.000000 \+/- 0\.000000 .*same top-1 = 100\.00 \+/- 0\.00 %'; then
    ok "perplexity: F32 against itself, KLD 0 and top-1 100% on the last line"
else
    bad "perplexity against itself"
    cat "$T/out"
fi
if "$CALGAE_BIN" perplexity --model "$T/awq_q4_0.gguf" --file "$D/calib.txt" --chunks 1 --threads 1 >"$T/out" 2>"$T/err" &&
    grep -q "warning: .*calib.txt is the text this model was calibrated on" "$T/err" &&
    tail -1 "$T/out" | grep -Eq '^PPL = [0-9.]+ \+/- [0-9.]+ \('; then
    ok "perplexity: warns when asked to evaluate on the calibration text"
else
    bad "perplexity on calib.txt: no warning"
fi
"$CALGAE_BIN" perplexity --model "$M/stories260K.bin" --tokenizer "$M/tok512.bin" --file "$D/eval.txt" --ctx 4096 >/dev/null 2>"$T/err"
[ $? -eq 2 ] && grep -q "longer than the model's context" "$T/err" && ok "perplexity: --ctx beyond the model" || bad "perplexity --ctx 4096"
# the progress bar needs a terminal: script (util-linux's bsdutils, essential in Debian) gives one;
# without it the check cannot run, which is a failure, not a pass
if ! command -v script >/dev/null; then
    bad "perplexity progress bar: 'script' not found (Debian package bsdutils)"
elif script -qec "'$CALGAE_BIN' perplexity --model '$M/stories260K.gguf' --file '$D/eval.txt' --chunks 2 --threads 1" /dev/null >"$T/tty" 2>&1; then
    grep -q 'evaluate.*\[#' "$T/tty" && ok "perplexity: progress bar on a terminal" || { bad "no progress bar"; cat "$T/tty"; }
else
    bad "perplexity under script failed"
    cat "$T/tty"
fi

# ---- errors: clear messages, nothing written ----
expect_error() { # name, status, message fragment, command...
    local name=$1 want=$2 frag=$3
    shift 3
    rm -f "$T/x.gguf"
    "$@" >"$T/out" 2>"$T/err"
    local rc=$?
    if [ $rc -eq "$want" ] && grep -q -- "$frag" "$T/err" && [ "$(wc -l <"$T/err")" -le 2 ] && [ ! -e "$T/x.gguf" ]; then
        ok "$name: exit $rc, '$frag'"
    else
        bad "$name: exit $rc (want $want), message:"
        cat "$T/err"
    fi
}
expect_error "unknown type" 2 "unknown type 'q7_0'" "${Q[@]}" --out "$T/x.gguf" --type q7_0
expect_error "f16 is not a quantize type" 2 "unknown type 'f16'" "${Q[@]}" --out "$T/x.gguf" --type f16
expect_error "unknown method" 2 "unknown method 'gptq'" "${Q[@]}" --out "$T/x.gguf" --type q4_0 --method gptq
expect_error "missing --type" 2 "needs --model, --out and --type" "${Q[@]}" --out "$T/x.gguf"
expect_error "bad --keep-embeddings" 2 "is not f32 or q8_0" "${Q[@]}" --out "$T/x.gguf" --type q4_0 --keep-embeddings q4_0
expect_error "missing calibration file" 1 "$T/nope.txt: cannot open" "${Q[@]}" --out "$T/x.gguf" --type q4_0 --method awq --calib "$T/nope.txt"
# no calibration text unless named: the product never reaches for a folder of the repository
expect_error "no --calib" 2 "needs --calib FILE" "${Q[@]}" --out "$T/x.gguf" --type q4_0 --method awq
mkdir -p "$T/cwd/a" "$T/cwd/shared/data" && cp "$D/calib.txt" "$D/eval.txt" "$T/cwd/shared/data/"
expect_error "no --calib, ../shared/data present" 2 "needs --calib FILE" \
    sh -c 'cd "$1/cwd/a" && shift && exec "$@"' sh "$T" "${Q[@]}" --out "$T/x.gguf" --type q4_0 --method awq
expect_error "perplexity: no --file" 2 "--file TEXT is required" "$CALGAE_BIN" perplexity --model "$M/stories260K.gguf"
expect_error "perplexity: no --file, ../shared/data present" 2 "--file TEXT is required" \
    sh -c 'cd "$1/cwd/a" && shift && exec "$@"' sh "$T" "$CALGAE_BIN" perplexity --model "$M/stories260K.gguf"
: >"$T/empty.txt"
expect_error "empty calibration file" 1 "no calibration text" "${Q[@]}" --out "$T/x.gguf" --type q4_0 --method awq --calib "$T/empty.txt"
"$PY" - "$M/stories260K.gguf" "$T/bloom.gguf" <<'EOF'
import sys
d = open(sys.argv[1], "rb").read()
key = b"general.architecture\x08\x00\x00\x00\x05\x00\x00\x00\x00\x00\x00\x00"
assert d.count(key + b"llama") == 1
open(sys.argv[2], "wb").write(d.replace(key + b"llama", key + b"bloom"))
EOF
expect_error "not a Llama model" 1 "architecture 'bloom' is not supported" "$CALGAE_BIN" quantize --model "$T/bloom.gguf" --out "$T/x.gguf" --type q4_0
head -c 5000 /dev/urandom >"$T/noise.bin"
expect_error "not a model at all" 1 "noise.bin" "$CALGAE_BIN" quantize --model "$T/noise.bin" --out "$T/x.gguf" --type q4_0
expect_error "wrong tokenizer" 1 "tokenizer has 32000 tokens but the model has 512" "$CALGAE_BIN" quantize --model "$M/stories260K.bin" --out "$T/x.gguf" --type q4_0
expect_error "unwritable output" 1 "$T/no/x.gguf" "${Q[@]}" --out "$T/no/x.gguf" --type q4_0
expect_error "perplexity: missing text" 1 "$T/nope.txt: cannot open" "$CALGAE_BIN" perplexity --model "$M/stories260K.gguf" --file "$T/nope.txt"
expect_error "perplexity: missing base" 1 "--kl-base: $T/nope.gguf: cannot open" "$CALGAE_BIN" perplexity --model "$M/stories260K.gguf" --file "$D/eval.txt" --kl-base "$T/nope.gguf"
ls "$T"/no 2>/dev/null | grep -q . && bad "a file appeared in a missing folder"

# an interrupted run stops with 130, keeps an existing OUT as it was and leaves no temporary file
for sig in INT TERM; do
    echo keep >"$T/old.gguf"
    "${Q[@]}" --out "$T/old.gguf" --type q4_0 --method awq --calib "$D/calib.txt" --calib-tokens 65536 >/dev/null 2>"$T/err" &
    pid=$!
    sleep 0.5
    kill -$sig $pid
    wait $pid
    rc=$?
    if [ $rc -eq 130 ] && grep -q interrupted "$T/err" && [ "$(cat "$T/old.gguf")" = keep ] &&
        [ -z "$(ls "$T" | grep '\.tmp\.')" ]; then
        ok "SIG$sig: exit 130, OUT untouched, no temporary file"
    else
        bad "SIG$sig: exit $rc"
        ls "$T"
    fi
done

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
