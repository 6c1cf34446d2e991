#!/usr/bin/env bash
# neon_qemu_test.sh - the AArch64 build under qemu-user: cross-builds the runtime, the scalar and
# neon plugins and conformance_main (CALGAE_CROSS_MINIMAL, cmake/aarch64-linux-gnu.cmake) into
# CALGAE_NEON_BUILD_DIR (kept between runs, so a rerun only rebuilds what changed), then on two
# emulated CPUs, one without the dot-product extension (cortex-a53) and one with it (max):
#   - conformance_main: the neon plugin against the scalar one, every slot passing, and the
#     variant the probe picked (the version's +asimd / +dotprod) is the one that CPU calls for;
#   - `calgae run` greedy, 200 tokens, with --backend neon and --backend scalar, at the default
#     thread count, 1 and 2: byte for byte llama2.c's text, served by that plugin alone;
#   - `calgae run --verbose` names the same variant;
#   - on F16, Q8_0, Q4_0 and Q4_1 conversions of the model (made by the native CALGAE_BIN), neon
#     writes the scalar plugin's text (its block products are bitwise the reference's), so the
#     int8 dot products of both variants run end to end, not only in the conformance suite;
#   - neon, on both CPUs: llama2.c's text after each prompt of tests/golden/prompts.txt, and
#     numpy_logits_test.py (the numpy reference's logits on stories260K and the random ci-blocks
#     model in F32, F16, Q8_0, Q4_0, Q4_1; CALGAE_NUMPY_WINDOWS short windows instead of 24 to
#     keep emulated time modest), the same oracles the native plugins face.
# A missing cross compiler or qemu is a failure, not a skip: CI installs gcc-aarch64-linux-gnu,
# libc6-dev-arm64-cross and qemu-user.
set -u
: "${CALGAE_SOURCE_DIR:?}" "${CALGAE_NEON_BUILD_DIR:?}" "${CALGAE_MODELS:?}" "${CALGAE_TEST_TMP:?}"
: "${CALGAE_BIN:?}"
cmake_bin=${CALGAE_CMAKE:-cmake}
B=$CALGAE_NEON_BUILD_DIR
M=$CALGAE_MODELS
T=$CALGAE_TEST_TMP/neon_qemu.$$
mkdir -p "$T"
trap 'rm -rf "$T"' EXIT
want=$M/expected_stories260K_t0_n200.txt
pass=0
fail=0

ok() {
    pass=$((pass + 1))
    echo "ok   $1"
}
bad() {
    fail=$((fail + 1))
    echo "FAIL $1"
}

stop() { # a failure the rest of the test cannot run past
    echo "$pass passed, $fail failed"
    exit 1
}

for tool in aarch64-linux-gnu-gcc qemu-aarch64; do
    if ! command -v "$tool" >/dev/null; then
        bad "$tool not found: install gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user"
        stop
    fi
done

# ---- cross build ----
if ! "$cmake_bin" -S "$CALGAE_SOURCE_DIR" -B "$B" \
    -DCMAKE_TOOLCHAIN_FILE="$CALGAE_SOURCE_DIR/cmake/aarch64-linux-gnu.cmake" \
    -DCALGAE_CROSS_MINIMAL=ON -DCMAKE_BUILD_TYPE=Release >"$T/configure.log" 2>&1; then
    bad "configure the aarch64 build in $B"
    tail -n 30 "$T/configure.log"
    if grep -q "inih" "$T/configure.log"; then
        echo "The runtime needs inih for aarch64 too: Debian's libinih-dev:arm64" \
             "(dpkg --add-architecture arm64), or a build of core without calgae.ini support."
    fi
    stop
fi
if ! "$cmake_bin" --build "$B" -j2 --target calgae calgae-scalar calgae-neon conformance_main \
    >"$T/build.log" 2>&1; then
    bad "build the aarch64 tree in $B"
    grep -E "error|Error" "$T/build.log" | head -n 30
    stop
fi
ok "aarch64 build in $B"

calgae=$B/bin/calgae
conf=$B/bin/conformance_main
plugins=$B/lib/calgae/plugins

# LD_LIBRARY_PATH keeps the guest's libc the cross one that matches the cross ld.so, even where
# Debian's multiarch libc6:arm64 is installed too (libinih-dev:arm64 pulls it in): mixing the
# two versions hangs in the guest's first pthread_create. timeout turns any hang into a failure.
emu() { # cpu model, command...
    local cpu=$1
    shift
    timeout 600 qemu-aarch64 -cpu "$cpu" -L /usr/aarch64-linux-gnu \
        -E LD_LIBRARY_PATH=/usr/aarch64-linux-gnu/lib "$@"
}

# the probe's choice on each model: cortex-a53 has no dot product, qemu's max has it
declare -A variant=([cortex-a53]=asimd [max]=dotprod)

for cpu in cortex-a53 max; do
    v=${variant[$cpu]}

    # ---- conformance: neon against scalar, both aarch64 ----
    emu "$cpu" "$conf" "$plugins/calgae-neon.so" "$plugins/calgae-scalar.so" >"$T/conf" 2>&1
    rc=$?
    if [ "$rc" -eq 0 ] && grep -Eq '^[0-9]+ passed, 0 failed$' "$T/conf" &&
        grep -q "^plugin neon 1\.0\.0+$v " "$T/conf"; then
        ok "$cpu: conformance neon ($v) vs scalar: $(tail -n 1 "$T/conf")"
    else
        bad "$cpu: conformance neon vs scalar (exit $rc; 77 = the probe refused this CPU; want +$v)"
        cat "$T/conf"
    fi

    # ---- golden text: each backend alone, any thread count ----
    for be in neon scalar; do
        for threads in default 1 2; do
            args=(run --model "$M/stories260K.bin" --tokenizer "$M/tok512.bin" --temperature 0
                --tokens 200 --backend "$be")
            [ "$threads" = default ] || args+=(--threads "$threads")
            # "+scalar": slots the neon plugin lacks (the K-quant ones of ABI 1.3) come from scalar
            name="$cpu: $be greedy 200, threads $threads"
            if emu "$cpu" "$calgae" "${args[@]}" >"$T/out" 2>"$T/err" && cmp -s "$T/out" "$want" &&
                grep -Eq ", backend $be(\+scalar)?, threads " "$T/err"; then
                ok "$name ($(grep -o 'generation .* tok/s' "$T/err"))"
            else
                bad "$name"
                diff <(head -c 600 "$want") <(head -c 600 "$T/out") | head -n 20
                cat "$T/err"
            fi
        done
    done

    # ---- the variant, as `calgae run --verbose` reports it ----
    emu "$cpu" "$calgae" run --model "$M/stories260K.bin" --tokenizer "$M/tok512.bin" \
        --temperature 0 --tokens 1 --backend neon --verbose >/dev/null 2>"$T/err"
    if grep -q "loaded: neon 1\.0\.0+$v (priority 100)" "$T/err"; then
        ok "$cpu: --verbose names neon 1.0.0+$v"
    else
        bad "$cpu: --verbose should name neon 1.0.0+$v"
        cat "$T/err"
    fi
done

# ---- quantized conversions: neon on both CPUs writes what scalar writes ----
greedy=(--temperature 0 --tokens 200 --threads 2)
for type in f16 q8_0 q4_0 q4_1; do
    model=$T/stories260K-$type.gguf
    if ! "$CALGAE_BIN" convert --model "$M/stories260K.bin" --tokenizer "$M/tok512.bin" \
        --out "$model" --type "$type" >/dev/null 2>"$T/err"; then
        bad "convert to $type"
        cat "$T/err"
        continue
    fi
    # scalar has one code path, so one CPU model gives its text for both
    if ! emu max "$calgae" run --model "$model" "${greedy[@]}" --backend scalar \
        >"$T/ref" 2>"$T/err"; then
        bad "$type: scalar run"
        cat "$T/err"
        continue
    fi
    for cpu in cortex-a53 max; do
        name="$cpu: $type greedy 200, neon (${variant[$cpu]}) = scalar"
        if emu "$cpu" "$calgae" run --model "$model" "${greedy[@]}" --backend neon \
            >"$T/out" 2>"$T/err" && cmp -s "$T/out" "$T/ref" &&
            grep -Eq ", backend neon(\+scalar)?, threads " "$T/err"; then
            ok "$name"
        else
            bad "$name"
            diff <(head -c 600 "$T/ref") <(head -c 600 "$T/out") | head -n 20
            cat "$T/err"
        fi
    done
done

# ---- ABI 1.3/1.4 slots end to end: llama-quantize's golden file of Q2_K .. BF16 matrices ----
# Every matrix of ci-kblocks-mixed.gguf (Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL,
# IQ4_XS, BF16) runs in its own layout; `backend neon` with no "+scalar" says neon served every
# slot itself. Its logits on both CPUs, per position, against (a) the scalar plugin: the integer
# sums are bitwise scalar's, so only float kernels' summation order differs, rel. RMS <= 1e-5 at
# >= 15 of 16 positions (the BF16 matrix takes BF16-rounded activations, and one at a rounding
# midpoint turns that order difference into a BF16 step; kquant_native_test.py explains it);
# (b) the same file widened to F32 by the reference dequantizer (`calgae convert --type f32`,
# numpy-checked by kquant_dequant_test) run by neon: Q8_K/Q8_0 activation rounding only, rel.
# RMS <= 0.03 and the same top-1 token at >= 15 of 16 positions. Greedy text (16 tokens) must
# equal scalar's.
kfile=$CALGAE_SOURCE_DIR/tests/golden/kquants/ci-kblocks-mixed.gguf
kids=1,50,100,200,300,400,17,33,260,5,77,123,311,499,2,42
klogits() { # cpu, backend, model, out
    emu "$1" "$calgae" logits --model "$3" --ids "$kids" --out "$4" --backend "$2" \
        --threads 2 >/dev/null 2>"$T/err"
}
if ! "$CALGAE_BIN" convert --model "$kfile" --out "$T/kf32.gguf" --type f32 >/dev/null 2>"$T/err"; then
    bad "widen $kfile to F32"
    cat "$T/err"
elif [ -z "${CALGAE_PYTHON:-}" ]; then
    bad "K-quant logits need CALGAE_PYTHON (run through ctest)"
elif ! klogits max scalar "$kfile" "$T/kscalar.bin"; then
    bad "K-quant golden file: scalar logits"
    cat "$T/err"
else
    emu max "$calgae" run --model "$kfile" --temperature 0 --tokens 16 --threads 2 \
        --backend scalar >"$T/kref" 2>"$T/err"
    for cpu in cortex-a53 max; do
        name="$cpu: K-quant golden file, neon (${variant[$cpu]})"
        if ! emu "$cpu" "$calgae" run --model "$kfile" --temperature 0 --tokens 16 --threads 2 \
            --backend neon >"$T/kout" 2>"$T/err" || ! cmp -s "$T/kout" "$T/kref" ||
            ! grep -q ", backend neon, threads " "$T/err"; then
            bad "$name: greedy text = scalar's, every slot from neon"
            cat "$T/err"
            continue
        fi
        if ! klogits "$cpu" neon "$kfile" "$T/kneon.bin" ||
            ! klogits "$cpu" neon "$T/kf32.gguf" "$T/kwide.bin"; then
            bad "$name: logits"
            cat "$T/err"
            continue
        fi
        if verdict=$("$CALGAE_PYTHON" - "$T/kneon.bin" "$T/kscalar.bin" "$T/kwide.bin" <<'PY'
import sys
import numpy as np
n, s, w = (np.fromfile(f, np.float32).reshape(16, -1) for f in sys.argv[1:])
rel = lambda a, b: np.sqrt(((a - b) ** 2).mean(1) / (b ** 2).mean(1))
vs_scalar = int((rel(n, s) <= 1e-5).sum())
vs_wide = int(((rel(n, w) <= 0.03) & (n.argmax(1) == w.argmax(1))).sum())
print("%d/16 within 1e-5 of scalar (max %.1e), %d/16 within 0.03 of widened F32 (max %.4f)"
      % (vs_scalar, rel(n, s).max(), vs_wide, rel(n, w).max()))
sys.exit(0 if vs_scalar >= 15 and vs_wide >= 15 else 1)
PY
        ); then
            ok "$name: text = scalar's, every slot neon's; $verdict"
        else
            bad "$name: $verdict"
        fi
    done
fi

# ---- neon against the independent oracles: llama2.c's prompted text, the numpy reference ----
G=$CALGAE_SOURCE_DIR/tests/golden
for cpu in cortex-a53 max; do
    i=0
    good=0
    while IFS= read -r prompt; do
        i=$((i + 1))
        ids=$("$CALGAE_BIN" tokenize --tokenizer "$M/tok512.bin" --text "$prompt" --ids)
        n_prompt=$(($(echo "$ids" | tr -cd ',' | wc -c) + 1))
        if emu "$cpu" "$calgae" run --model "$M/stories260K.bin" --tokenizer "$M/tok512.bin" \
            --prompt "$prompt" --temperature 0 --tokens $((150 - n_prompt + 1)) --backend neon \
            >"$T/out" 2>"$T/err" && cmp -s "$T/out" "$G/llama2c_prompt$i.txt" &&
            grep -Eq ", backend neon(\+scalar)?, threads " "$T/err"; then
            good=$((good + 1))
        else
            bad "$cpu: neon after prompt $i ($prompt) differs from llama2.c"
            diff "$G/llama2c_prompt$i.txt" "$T/out" | head -n 6
        fi
    done <"$G/prompts.txt"
    [ "$i" -gt 0 ] && [ "$good" -eq "$i" ] && ok "$cpu: neon = llama2.c after all $i prompts"

    # the numpy check runs `calgae` through this wrapper: the aarch64 binary on this CPU model
    printf '#!/bin/sh\nexec timeout 600 qemu-aarch64 -cpu %s -L /usr/aarch64-linux-gnu -E LD_LIBRARY_PATH=/usr/aarch64-linux-gnu/lib "%s" "$@"\n' \
        "$cpu" "$calgae" >"$T/calgae-$cpu"
    chmod +x "$T/calgae-$cpu"
    if [ -z "${CALGAE_PYTHON:-}" ] || [ -z "${CALGAE_GEN_MODEL:-}" ]; then
        bad "$cpu: numpy check needs CALGAE_PYTHON and CALGAE_GEN_MODEL (run through ctest)"
    elif CALGAE_BIN=$T/calgae-$cpu CALGAE_TEST_BACKENDS=neon CALGAE_NUMPY_WINDOWS=8 \
        "$CALGAE_PYTHON" "$CALGAE_SOURCE_DIR/tests/numpy_logits_test.py" >"$T/numpy" 2>&1; then
        ok "$cpu: neon against the numpy reference ($(grep -c ' vs \| F32\| F16' "$T/numpy") model checks)"
    else
        bad "$cpu: neon against the numpy reference"
        grep -E "FAIL|skip|Error|error" "$T/numpy" | head -n 20
    fi
done

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
