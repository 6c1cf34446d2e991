#!/usr/bin/env bash
# distill_ckpt_test.sh - checkpoints and resume of `calgae distill` on stories260K:
#  * resume is exact: K steps straight and K/2 steps (--stop-after, --checkpoint) then --resume
#    to K give byte-identical GGUFs (cmp), for a quantization-aware (Q4_1) and a classic student
#    (the classic resume on 2 threads, the first half on 1); resuming a checkpoint of the last
#    step gives the same file again;
#  * hostile checkpoints (truncated, wrong magic, wrong version, a damaged byte, an oversized
#    count) and resumes with other settings (--lr, --seed, --steps, --data, the other mode, the
#    other student) are a one-line error naming the file, a non-zero exit below 128 (no crash),
#    no output file, and an existing output file left as it was;
#  * a checkpoint write that fails (a file-size limit) leaves the existing checkpoint intact and
#    no temporary file behind.
set -u
: "${CALGAE_BIN:?}" "${CALGAE_MODELS:?}" "${CALGAE_DATA:?}" "${CALGAE_TEST_TMP:?}"
M=$CALGAE_MODELS
D=$CALGAE_DATA
T=$CALGAE_TEST_TMP/distill_ckpt.$$
mkdir -p "$T/straight" "$T/resumed"
trap 'rm -rf "$T"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; [ -f "$T/err" ] && sed 's/^/     /' "$T/err" | tail -5; }

K=${CALGAE_CKPT_STEPS:-12}
H=$((K / 2))
BASE=("$CALGAE_BIN" distill --teacher "$M/stories260K.bin" --tokenizer "$M/tok512.bin"
      --data "$D/calib.txt" --eval "$D/eval.txt" --seq 32 --batch 2 --eval-every 0 --eval-windows 1)
QAD=(--student "$T/q41.gguf")
KD=(--student-shape dim=16,layers=2,heads=2,kv_heads=1,ffn=48 --alpha 0.7 --temperature 2)

"$CALGAE_BIN" quantize --model "$M/stories260K.bin" --tokenizer "$M/tok512.bin" --type q4_1 \
    --out "$T/q41.gguf" --threads 1 >/dev/null 2>&1 || bad "quantize the student"
"$CALGAE_BIN" quantize --model "$M/stories260K.bin" --tokenizer "$M/tok512.bin" --type q4_0 \
    --out "$T/q40.gguf" --threads 1 >/dev/null 2>&1 || bad "quantize the other student"

# exact NAME ARGS...: K straight; K/2 with a checkpoint; resume to K; the GGUFs must match. The
# two outputs share a file name (a GGUF records its name) in different folders.
exact() {
    local name=$1
    shift
    rm -f "$T/$name.ckpt"
    if "${BASE[@]}" "$@" --threads 1 --steps "$K" --out "$T/straight/$name.gguf" >/dev/null 2>"$T/err" &&
        "${BASE[@]}" "$@" --threads 1 --steps "$K" --stop-after "$H" --checkpoint "$T/$name.ckpt" \
            --out "$T/resumed/$name.gguf" >/dev/null 2>"$T/err" &&
        ! cmp -s "$T/straight/$name.gguf" "$T/resumed/$name.gguf" &&
        "${BASE[@]}" "$@" --threads 2 --steps "$K" --resume "$T/$name.ckpt" \
            --checkpoint "$T/$name.ckpt" --checkpoint-every 2 \
            --out "$T/resumed/$name.gguf" >/dev/null 2>"$T/err" &&
        grep -q "resumed from .* at step $H, now at step $K of $K" "$T/err"; then
        if cmp "$T/straight/$name.gguf" "$T/resumed/$name.gguf" >"$T/cmp" 2>&1; then
            ok "$name: $H steps + resume to $K is byte-identical to $K straight"
        else
            bad "$name: resumed output differs from the straight run: $(cat "$T/cmp")"
        fi
    else
        bad "$name: straight, stopped or resumed run"
    fi
    # the checkpoint now holds step K: resuming it trains nothing and gives the same file
    if "${BASE[@]}" "$@" --threads 1 --steps "$K" --resume "$T/$name.ckpt" \
        --out "$T/resumed/$name.gguf" >/dev/null 2>"$T/err" &&
        cmp -s "$T/straight/$name.gguf" "$T/resumed/$name.gguf"; then
        ok "$name: resuming the last step's checkpoint gives the same file again"
    else
        bad "$name: resume at the last step"
    fi
}
exact qad "${QAD[@]}"
exact classic "${KD[@]}"

# ---- hostile checkpoints and other settings ----
echo keep >"$T/keep.gguf"
refuse() { # name, pattern, args...
    local name=$1 pat=$2
    shift 2
    "${BASE[@]}" --threads 1 "$@" --out "$T/keep.gguf" >"$T/out" 2>"$T/err"
    local rc=$?
    if [ "$rc" -ne 0 ] && [ "$rc" -lt 128 ] && [ "$(wc -l <"$T/err")" -eq 1 ] &&
        grep -q -- "$pat" "$T/err" && [ "$(cat "$T/keep.gguf")" = keep ]; then
        ok "$name: exit $rc, '$(cat "$T/err")'"
    else
        bad "$name: exit $rc"
    fi
}
C=$T/qad.ckpt
size=$(stat -c %s "$C")
head -c 100 "$C" >"$T/short.ckpt"
head -c $((size - 1)) "$C" >"$T/short1.ckpt"
{ printf 'XALGCKPT'; tail -c +9 "$C"; } >"$T/magic.ckpt"
{ head -c 8 "$C"; printf '\002\000\000\000'; tail -c +13 "$C"; } >"$T/version.ckpt"
# a float of x flipped in one bit, the sizes left whole
{ head -c 200 "$C"; printf '\377'; tail -c +202 "$C"; } >"$T/flip.ckpt"
# n (at offset 132) = 2^62: 3 n floats cannot fit
{ head -c 132 "$C"; printf '\000\000\000\000\000\000\000\100'; tail -c +141 "$C"; } >"$T/count.ckpt"
: >"$T/empty.ckpt"
Q=(--steps "$K" "${QAD[@]}")
refuse "truncated to 100 bytes" "short.ckpt: truncated" "${Q[@]}" --resume "$T/short.ckpt"
refuse "one byte short" "short1.ckpt: checkpoint of" "${Q[@]}" --resume "$T/short1.ckpt"
refuse "empty file" "empty.ckpt" "${Q[@]}" --resume "$T/empty.ckpt"
refuse "wrong magic" "magic.ckpt: not a calgae distill checkpoint" "${Q[@]}" --resume "$T/magic.ckpt"
refuse "wrong version" "version.ckpt: checkpoint version 2" "${Q[@]}" --resume "$T/version.ckpt"
refuse "damaged byte" "flip.ckpt: checkpoint checksum mismatch" "${Q[@]}" --resume "$T/flip.ckpt"
refuse "oversized count" "count.ckpt: checkpoint of .* cannot hold" "${Q[@]}" --resume "$T/count.ckpt"
refuse "missing checkpoint" "nope.ckpt" "${Q[@]}" --resume "$T/nope.ckpt"
refuse "other --lr" "qad.ckpt: checkpoint made with --lr 0.001, this run has 0.002" "${Q[@]}" \
    --lr 0.002 --resume "$C"
refuse "other --seed" "qad.ckpt: checkpoint made with --seed 1, this run has 7" "${Q[@]}" \
    --seed 7 --resume "$C"
refuse "other --steps" "qad.ckpt: checkpoint made with --steps $K, this run has $((K + 2))" \
    --steps $((K + 2)) "${QAD[@]}" --resume "$C"
refuse "other --seq" "qad.ckpt: checkpoint made with --seq 32, this run has 16" "${Q[@]}" \
    --seq 16 --resume "$C"
refuse "other --data" "qad.ckpt: checkpoint made with another --data" "${Q[@]}" \
    --data "$M/../data/eval.txt" --eval "$D/calib.txt" --resume "$C"
refuse "other student" "qad.ckpt: checkpoint made with another --student" --steps "$K" \
    --student "$T/q40.gguf" --resume "$C"
refuse "other mode" "qad.ckpt: checkpoint of a --student (quantization-aware) run" --steps "$K" \
    "${KD[@]}" --resume "$C"
refuse "other --alpha (classic)" "classic.ckpt: checkpoint made with --alpha 0.7, this run has 0.5" \
    --steps "$K" "${KD[@]}" --alpha 0.5 --resume "$T/classic.ckpt"
refuse "checkpoint over the data" "is $D/calib.txt itself" "${Q[@]}" --checkpoint "$D/calib.txt"

# ---- a failed checkpoint write leaves the old checkpoint whole ----
cp "$C" "$T/old.ckpt"
cp "$C" "$T/limit.ckpt"
(
    trap '' XFSZ
    ulimit -f 64 # 32 KiB: the checkpoint (over 100 KiB) cannot be written
    exec "${BASE[@]}" --threads 1 "${Q[@]}" --stop-after 2 --checkpoint "$T/limit.ckpt" \
        --out "$T/keep.gguf"
) >/dev/null 2>"$T/err"
rc=$?
if [ "$rc" -ne 0 ] && [ "$rc" -lt 128 ] && grep -q "limit.ckpt: cannot write the checkpoint" "$T/err" &&
    cmp -s "$T/old.ckpt" "$T/limit.ckpt" && [ -z "$(ls "$T" | grep '\.tmp\.')" ] &&
    [ "$(cat "$T/keep.gguf")" = keep ]; then
    ok "failed checkpoint write: exit $rc, '$(tail -1 "$T/err")', old checkpoint intact"
else
    bad "failed checkpoint write: exit $rc"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
