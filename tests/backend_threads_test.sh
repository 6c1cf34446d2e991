#!/usr/bin/env bash
# backend_threads_test.sh - the output must not depend on the thread count, whichever plugin
# serves: for every plugin in the build's plugin folder that `calgae backends verify` passes,
# greedy text with --backend that plugin is the same at --threads 1, 2 and 3, for the F32
# GGUF and its Q8_0 and Q4_0 conversions (made here with `calgae convert`), and so are the
# prompt's logits, bit for bit (text alone hides a last-bit difference). The suite checks
# one call at a time; this catches what only shows with threads (shared scratch buffers,
# state kept per thread, a row computed differently at a range boundary the suite did not try).
#
# The host splits a product across threads only when rows * cols * tokens reaches
# MIN_PARALLEL_WORK (core/engine/forward.c, 2^18): no single-token product of stories260K is that
# large, so the prompt below (116 tokens, processed in batches) is what gets split.
#
# A plugin this CPU cannot run is skipped with a line saying why; one that fails verification
# fails this test too (its threads are untested). scalar must be among those tested.
# Run by ctest with CALGAE_BIN, CALGAE_MODELS, CALGAE_PLUGIN_DIR and CALGAE_TEST_TMP.
set -u
for v in CALGAE_BIN CALGAE_MODELS CALGAE_PLUGIN_DIR CALGAE_TEST_TMP; do
    if [ -z "${!v:-}" ]; then
        echo "FAIL: $v is not set (run through ctest)" >&2
        exit 1
    fi
done
T=$CALGAE_TEST_TMP/backend_threads.$$
mkdir -p "$T"
trap 'rm -rf "$T"' EXIT
export HOME=$T
unset XDG_CONFIG_HOME CALGAE_CONFIG
export CALGAE_PLUGIN_PATH=
cd "$T" || exit 1
M=$CALGAE_MODELS
prompt="Once upon a time, there was a little girl named Lily. She loved to play outside in the park \
with her friends. One day, she saw a big red ball under a tree. She ran to the ball and picked it \
up. Her mom said, Lily, you can play with the ball, but be careful. Lily was happy and played with \
the ball all day long with her dog."
pass=0
fail=0

ok() {
    pass=$((pass + 1))
    echo "ok   $1"
}

bad() {
    fail=$((fail + 1))
    echo "FAIL $1"
    [ -f "$T/err" ] && sed 's/^/     | /' "$T/err" | head -20
}

models=("$M/stories260K.gguf")
for type in q8_0 q4_0; do
    if "$CALGAE_BIN" convert --model "$M/stories260K.gguf" --out "$T/$type.gguf" --type "$type" 2>"$T/err"; then
        models+=("$T/$type.gguf")
    else
        bad "convert to $type"
    fi
done

tested=()
for so in "$CALGAE_PLUGIN_DIR"/calgae-*.so; do
    [ -e "$so" ] || continue
    name=$(basename "$so" .so)
    name=${name#calgae-}
    "$CALGAE_BIN" backends verify "$so" >"$T/verify" 2>"$T/err"
    case $? in
    0) ;;
    *)
        if grep -q "refused: " "$T/err"; then
            echo "skip $name: $(cat "$T/err")"
        else
            # a plugin in the build that fails verification is a failure here too, never a
            # plugin quietly left out of the thread checks
            cp "$T/verify" "$T/err"
            bad "$name fails conformance, so its thread independence is untested ($(tail -n 1 "$T/verify"))"
        fi
        continue
        ;;
    esac
    tested+=("$name")
    for model in "${models[@]}"; do
        label="$name, $(basename "$model")"
        for th in 1 2 3; do
            if ! "$CALGAE_BIN" run --model "$model" --prompt "$prompt" --temperature 0 --tokens 100 \
                --threads "$th" --backend "$so" >"$T/out.$th" 2>"$T/err" ||
                ! "$CALGAE_BIN" logits --model "$model" --prompt "$prompt" --threads "$th" \
                    --backend "$so" --out "$T/logits.$th" >/dev/null 2>"$T/err"; then
                bad "$label: run or logits at --threads $th failed"
                continue 2
            fi
        done
        if [ -s "$T/logits.1" ] && cmp -s "$T/logits.1" "$T/logits.2" && cmp -s "$T/logits.1" "$T/logits.3"; then
            ok "$label: same logits, bit for bit, at 1, 2 and 3 threads"
        else
            : >"$T/err"
            bad "$label: the prompt's logits depend on the thread count"
        fi
        if [ ! -s "$T/out.1" ]; then
            bad "$label: no text"
        elif cmp -s "$T/out.1" "$T/out.2" && cmp -s "$T/out.1" "$T/out.3"; then
            ok "$label: same text at 1, 2 and 3 threads"
        else
            : >"$T/err"
            bad "$label: the text depends on the thread count"
            diff "$T/out.1" "$T/out.2" | head -6
            diff "$T/out.1" "$T/out.3" | head -6
        fi
    done
done

if [[ " ${tested[*]} " != *" scalar "* ]]; then
    : >"$T/err"
    bad "the scalar plugin was not tested (missing from $CALGAE_PLUGIN_DIR, or failing verification)"
fi
echo "tested: ${tested[*]}"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
