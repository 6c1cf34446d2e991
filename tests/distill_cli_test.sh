#!/usr/bin/env bash
# distill_cli_test.sh - `calgae distill` end to end on stories260K:
#  * quantization-aware: an RTN Q4_0 student distilled on calib.txt has a lower KL divergence
#    from the F32 model on the held-out eval.txt than before, as `calgae perplexity` (the
#    engine's own forward, not the trainer's) measures it on the written file, which stays Q4_0;
#  * classic: a small student of a given shape is written as GGUF that the engine loads and runs;
#  * bad input (a bad shape string, a student of another shape, unreadable data, the training
#    text as held-out text) is a one-line error with a non-zero exit and no output file, and an
#    existing output file is left as it was.
set -u
: "${CALGAE_BIN:?}" "${CALGAE_MODELS:?}" "${CALGAE_DATA:?}" "${CALGAE_TEST_TMP:?}"
M=$CALGAE_MODELS
D=$CALGAE_DATA
T=$CALGAE_TEST_TMP/distill.$$
mkdir -p "$T"
trap 'rm -rf "$T"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; [ -f "$T/err" ] && sed 's/^/     /' "$T/err" | tail -5; }

STEPS=${CALGAE_DISTILL_STEPS:-100}
CHUNKS=${CALGAE_DISTILL_CHUNKS:-6}
TEACH=(--teacher "$M/stories260K.bin" --tokenizer "$M/tok512.bin")
DIST=("$CALGAE_BIN" distill "${TEACH[@]}" --data "$D/calib.txt" --eval "$D/eval.txt" --threads 1)
KL=("$CALGAE_BIN" perplexity --kl-base "$M/stories260K.bin" --tokenizer "$M/tok512.bin"
    --file "$D/eval.txt" --ctx 512 --chunks $CHUNKS --threads 1)
kld() { sed -n 's/.*KLD = \([0-9.]*\).*/\1/p' "$1" | tail -1; }

# ---- quantization-aware distillation of an RTN Q4_0 copy ----
if "$CALGAE_BIN" quantize --model "$M/stories260K.bin" --tokenizer "$M/tok512.bin" --type q4_0 \
    --out "$T/rtn.gguf" --threads 1 >"$T/q.log" 2>&1 &&
    "${DIST[@]}" --student "$T/rtn.gguf" --steps "$STEPS" --seq 64 --batch 2 --eval-every 0 \
        --eval-windows 8 --out "$T/qad.gguf" >"$T/d.log" 2>"$T/err"; then
    ok "distill --student: $(tail -1 "$T/err" | cut -c1-150)"
else
    bad "distill --student ran"
fi
if "${KL[@]}" --model "$T/rtn.gguf" >"$T/k0" 2>&1 && "${KL[@]}" --model "$T/qad.gguf" >"$T/k1" 2>&1; then
    k0=$(kld "$T/k0")
    k1=$(kld "$T/k1")
    if awk -v a="$k0" -v b="$k1" 'BEGIN { exit !(b < a) }'; then
        ok "held-out KLD from F32 lowered by distillation: RTN Q4_0 $k0 -> distilled $k1"
    else
        bad "held-out KLD not lowered: RTN Q4_0 $k0 -> distilled $k1"
    fi
else
    bad "perplexity on the distilled student"; cat "$T/k1" | tail -3
fi
if "$CALGAE_BIN" info --model "$T/qad.gguf" >"$T/info" 2>&1 && grep -q 'blk.0.attn_q.weight *Q4_0' "$T/info"; then
    ok "the distilled student is still Q4_0"
else
    bad "distilled student's types"; grep attn_q "$T/info" | head -2
fi

# ---- classic distillation into a small student ----
if "${DIST[@]}" --student-shape dim=16,layers=2,heads=2,kv_heads=1,ffn=48 --steps 20 --seq 32 \
    --batch 2 --eval-windows 2 --alpha 0.7 --temperature 2 --out "$T/kd.gguf" >/dev/null 2>"$T/err" &&
    "$CALGAE_BIN" run --model "$T/kd.gguf" --temperature 0 --tokens 8 --threads 1 >"$T/out" 2>>"$T/err" &&
    [ -s "$T/out" ]; then
    ok "distill --student-shape writes a model the engine runs"
else
    bad "distill --student-shape"
fi

# ---- bad input ----
refuse() { # name, expected status, pattern, args...
    local name=$1 want=$2 pat=$3
    shift 3
    rm -f "$T/none.gguf"
    "$CALGAE_BIN" distill "$@" >"$T/out" 2>"$T/err"
    local rc=$?
    if [ "$rc" = "$want" ] && [ "$(wc -l <"$T/err")" -eq 1 ] && grep -q -- "$pat" "$T/err" &&
        [ ! -e "$T/none.gguf" ]; then
        ok "$name: exit $rc, '$(cat "$T/err")'"
    else
        bad "$name: exit $rc (want $want)"
    fi
}
refuse "bad shape string" 2 "student-shape" "${TEACH[@]}" --data "$D/calib.txt" --eval "$D/eval.txt" \
    --steps 5 --student-shape dim=16,layers=two --out "$T/none.gguf"
refuse "missing shape key" 2 "kv_heads missing" "${TEACH[@]}" --data "$D/calib.txt" --eval "$D/eval.txt" \
    --steps 5 --student-shape dim=16,layers=2,heads=2,ffn=8 --out "$T/none.gguf"
refuse "student of another shape" 1 "not the teacher" "${TEACH[@]}" --data "$D/calib.txt" \
    --eval "$D/eval.txt" --steps 5 --student "$T/kd.gguf" --out "$T/none.gguf"
refuse "unreadable data" 1 "nope.txt" "${TEACH[@]}" --data "$T/nope.txt" --eval "$D/eval.txt" \
    --steps 5 --student "$T/rtn.gguf" --out "$T/none.gguf"
refuse "training text as held-out text" 1 "training text itself" "${TEACH[@]}" --data "$D/calib.txt" \
    --eval "$D/calib.txt" --steps 5 --student "$T/rtn.gguf" --out "$T/none.gguf"
refuse "both kinds of student" 2 "one of --student" "${TEACH[@]}" --data "$D/calib.txt" \
    --eval "$D/eval.txt" --steps 5 --student "$T/rtn.gguf" --student-shape dim=16 --out "$T/none.gguf"
echo keep >"$T/keep.gguf"
"$CALGAE_BIN" distill "${TEACH[@]}" --data "$D/calib.txt" --eval "$D/eval.txt" --steps 5 \
    --student "$T/kd.gguf" --out "$T/keep.gguf" >/dev/null 2>&1
if [ "$(cat "$T/keep.gguf")" = keep ]; then
    ok "a failed run leaves an existing output file as it was"
else
    bad "existing output file changed by a failed run"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
