#!/usr/bin/env bash
# avx512_device_check.sh - the AVX-512 plugin on a machine that has AVX-512, in one go: what the
# CPU reports, a Release build, the conformance suite on the native plugin (both dot-product
# paths where the CPU has VNNI), `calgae backends verify`, the probe's self-test, greedy golden
# text with --backend avx512, and a short kernel timing against avx2 and scalar.
#
#   bench/avx512_device_check.sh [BUILD_DIR]      (default: build-avx512-device)
#
# For the team lead on a borrowed AVX-512 server (not CI: CI machines have no AVX-512, and the
# SIMDe build covers the kernels there). Needs what the README's Debian line installs, but only
# cmake, a C compiler, pkg-config, libopenblas-dev and libsimde-dev for the build (tests off:
# no cmocka or numpy). Reads the models from $CALGAE_SHARED_DIR/models (default ../shared).
# Every step prints one "PASS name" or "FAIL name: why" line and a summary at the end; the exit
# status is the number of failures (0 = all passed). Sized for under 4 minutes on 16 cores: the
# build is limited to the targets it needs and each step has a timeout.
set -u
cd "$(dirname "$0")/.." || exit 1
root=$(pwd)
build=${1:-build-avx512-device}
shared=${CALGAE_SHARED_DIR:-$root/../shared}
models=$shared/models
jobs=$(nproc)
log=$build/device-check-logs
pass=0
fail=0
failed=()

ok() {
    echo "PASS $1"
    pass=$((pass + 1))
}

bad() {
    echo "FAIL $1"
    fail=$((fail + 1))
    failed+=("${1%%:*}")
}

# step NAME SECONDS CMD...: runs CMD with a timeout, output to $log/NAME.log; PASS on exit 0.
step() {
    local name=$1 secs=$2
    shift 2
    timeout "$secs" "$@" >"$log/$name.log" 2>&1
    local rc=$?
    if [ "$rc" -eq 0 ]; then
        ok "$name"
        return 0
    fi
    if [ "$rc" -eq 124 ]; then
        bad "$name: timed out after ${secs}s (log: $log/$name.log)"
    else
        bad "$name: exit status $rc (log: $log/$name.log)"
    fi
    tail -15 "$log/$name.log" | sed 's/^/    /'
    return 1
}

mkdir -p "$log" || exit 1
echo "== CPU =="
lscpu | grep -E '^(Model name|CPU\(s\)|Thread|Core|Socket|L2|L3)' | sed 's/^/    /'
want_flags='avx2 fma f16c avx512f avx512bw avx512dq avx512vl avx512cd avx512_vnni avx512_bf16 avx512_fp16 avx512vbmi amx_tile'
have=$(grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2)
printf '    flags:'
for f in $want_flags; do
    if grep -qw -- "$f" <<<"$have"; then printf ' %s' "$f"; else printf ' (no %s)' "$f"; fi
done
echo
echo "    kernel $(uname -r), $(cc --version | head -1)"
has_avx512=0
grep -qw avx512f <<<"$have" && grep -qw avx512bw <<<"$have" && has_avx512=1
has_vnni=0
grep -qw avx512_vnni <<<"$have" && has_vnni=1
if [ "$has_avx512" -eq 1 ]; then
    ok "cpu: avx512f and avx512bw present (vnni: $has_vnni)"
else
    bad "cpu: this machine lacks avx512f/avx512bw: the checks below will see the plugin refused"
fi

echo "== build ($build, Release, $jobs jobs) =="
step cmake-configure 90 cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
    -DCALGAE_SHARED_DIR="$shared"
targets="calgae calgae-scalar calgae-avx512 calgae-avx512-probe-test"
for t in calgae-avx2 bench_kernels; do # colleagues' targets, where they exist
    cmake --build "$build" --target help 2>/dev/null | grep -qw -- "$t" && targets="$targets $t"
done
# shellcheck disable=SC2086 # a list of targets
step cmake-build 150 cmake --build "$build" -j "$jobs" --target $targets
plugins=$build/lib/calgae/plugins
so=$plugins/calgae-avx512.so
bin=$build/bin/calgae
# conformance_main is a test target (off here, so cmocka and numpy are not needed); its
# sources need only libc, libm and libdl, so build them directly
conf=$build/conformance_main
step build-conformance 60 cc -std=c17 -O2 -Iplugin-api -Icore/host/conformance \
    core/host/conformance/*.c -o "$conf" -ldl -lm

echo "== probe =="
if [ -x "$build/bin/calgae-avx512-probe-test" ]; then
    step probe-selftest 20 "$build/bin/calgae-avx512-probe-test"
    grep '^this machine' "$log/probe-selftest.log" | sed 's/^/    /'
fi

echo "== conformance (native avx512 against scalar) =="
paths="1"
[ "$has_vnni" -eq 1 ] && paths="1 0" # VNNI table, then the maddubs table forced
for vnni in $paths; do
    for seed in 1 2 3; do
        name="conformance-vnni$vnni-seed$seed"
        # exit 77 means the probe refused: on this machine that is a failure, not a skip
        CALGAE_AVX512_VNNI=$vnni step "$name" 60 "$conf" "$so" \
            "$plugins/calgae-scalar.so" "$seed" && grep -E 'passed' "$log/$name.log" | sed 's/^/    /'
    done
done
step backends-verify 60 "$bin" backends verify "$so"

echo "== golden text (stories260K, greedy, 200 tokens) =="
golden() { # name VNNI extra-args...
    local name=$1 vnni=$2
    shift 2
    if ! CALGAE_AVX512_VNNI=$vnni timeout 60 "$bin" run --model "$models/stories260K.gguf" \
        --temperature 0 --tokens 200 --backend avx512 "$@" >"$log/$name.out" 2>"$log/$name.err"; then
        bad "$name: calgae run failed: $(tail -1 "$log/$name.err")"
    elif ! cmp -s "$log/$name.out" "$models/expected_stories260K_t0_n200.txt"; then
        bad "$name: text differs from expected_stories260K_t0_n200.txt"
        diff "$models/expected_stories260K_t0_n200.txt" "$log/$name.out" | head -5 | sed 's/^/    /'
    elif grep -q ' refused: ' "$log/$name.err" || ! grep -q 'backend avx512[,+]' "$log/$name.err"; then
        bad "$name: golden text, but not from the avx512 plugin: $(cat "$log/$name.err")"
    else
        ok "$name: $(grep -o 'generation.*' "$log/$name.err")"
    fi
}
if [ ! -f "$models/stories260K.gguf" ]; then
    bad "golden: $models/stories260K.gguf not found (set CALGAE_SHARED_DIR)"
else
    golden golden-auto 1
    golden golden-1thread 1 --threads 1
    [ "$has_vnni" -eq 1 ] && golden golden-maddubs 0
    # a prompt runs the matmul kernels; the text must match the scalar plugin's
    for b in scalar avx512; do
        timeout 60 "$bin" run --model "$models/stories260K.gguf" --prompt "Tom and Lily went to the park" \
            --temperature 0 --tokens 100 --backend "$b" >"$log/prompt-$b.out" 2>"$log/prompt-$b.err"
    done
    if [ -s "$log/prompt-avx512.out" ] && cmp -s "$log/prompt-scalar.out" "$log/prompt-avx512.out"; then
        ok "prompt-matmul: same text as scalar ($(grep -o 'prompt [0-9]* tokens at [0-9.]* tok/s' "$log/prompt-avx512.err"))"
    else
        bad "prompt-matmul: avx512 text differs from scalar's (see $log/prompt-*.out)"
    fi
fi

echo "== kernel timing (bench_kernels, TinyLlama shapes, weights from memory) =="
if [ -x "$build/bin/bench_kernels" ]; then
    for p in avx512 avx2 scalar; do
        [ -f "$plugins/calgae-$p.so" ] || continue
        types=q4_0,q8_0,f32
        [ "$p" = scalar ] && types=q8_0 # slow: one type for scale
        if timeout 75 "$build/bin/bench_kernels" "$plugins/calgae-$p.so" --threads "$jobs" \
            --runs 3 --footprint 256 --batch 16 --types "$types" >"$log/bench-$p.log" 2>&1; then
            ok "bench-$p"
            sed 's/^/    /' "$log/bench-$p.log"
        else
            bad "bench-$p: bench_kernels failed or timed out (log: $log/bench-$p.log)"
        fi
    done
else
    echo "    (bench_kernels not built: no timing)"
fi

echo "== summary: $pass passed, $fail failed =="
[ "$fail" -gt 0 ] && echo "failed: ${failed[*]}"
exit "$fail"
