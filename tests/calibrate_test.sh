#!/usr/bin/env bash
# calibrate_test.sh - the automatic choice measures (core/host/calibrate.c): with test-slow (a
# correct F32 plugin slowed on purpose, priority 1000, from $CALGAE_PLUGIN_PATH) loaded beside
# the real ones, the first load measures and puts a faster plugin first for matvec_f32 and
# matmul_f32 and writes the cache; the second load reads the cache and measures nothing;
# --calibrate off keeps priority's order (test-slow first), redo measures again, [run]
# calibrate = off in calgae.ini does what the flag does, a corrupt cache is ignored and
# replaced, a bad mode is a usage error, and the text is the same whichever plugin served.
# Run by ctest with CALGAE_BIN, CALGAE_MODELS, CALGAE_TEST_TMP and CALGAE_PLUGIN_PATH set.
set -u
for v in CALGAE_BIN CALGAE_MODELS CALGAE_TEST_TMP CALGAE_PLUGIN_PATH; do
    if [ -z "${!v:-}" ]; then
        echo "FAIL: $v is not set (run through ctest)" >&2
        exit 1
    fi
done
tmp="$CALGAE_TEST_TMP/calibrate"
rm -rf "$tmp"
mkdir -p "$tmp"
export XDG_CACHE_HOME="$tmp/cache" CALGAE_CONFIG=/dev/null
cache="$XDG_CACHE_HOME/calgae/calibration"
model="$CALGAE_MODELS/stories260K.gguf"
failures=0
fail() {
    echo "FAIL: $*" >&2
    sed 's/^/    /' "$tmp/err" >&2
    failures=$((failures + 1))
}
# run NAME ARGS...: greedy text to $tmp/NAME.out, the verbose log to $tmp/err
run() {
    local name=$1
    shift
    "$CALGAE_BIN" run --model "$model" --prompt "Once upon a time" --tokens 24 --temperature 0 \
        --threads 2 --verbose "$@" >"$tmp/$name.out" 2>"$tmp/err"
}
owner() { # the plugin the log says serves slot $1 after calibration
    grep -o "$1 [a-z0-9_-]*" "$tmp/err" | tail -1 | cut -d' ' -f2
}

run first || fail "first run failed"
grep -q "calibration F32 measured" "$tmp/err" || fail "the first load did not measure"
grep -q "test-slow" "$tmp/err" || fail "test-slow was not among the candidates"
for slot in matvec_f32 matmul_f32; do
    o=$(owner "$slot")
    [ -n "$o" ] && [ "$o" != test-slow ] || fail "$slot went to '$o', not to a faster plugin"
done
grep -q "^calgae-calibration-1 .* test-slow=" "$cache" 2>/dev/null || fail "no cache line in $cache"

run second || fail "second run failed"
grep -q "(cached)" "$tmp/err" || fail "the second load did not use the cache"
grep -q "measured in" "$tmp/err" && fail "the second load measured again"
[ "$(owner matvec_f32)" != test-slow ] || fail "the cached choice is test-slow"

run off --calibrate off || fail "--calibrate off failed"
grep -q "calibration" "$tmp/err" && fail "--calibrate off still calibrated"
"$CALGAE_BIN" backends --model "$model" --calibrate off >"$tmp/list" 2>"$tmp/err" ||
    fail "backends --model failed"
grep -q "matvec_f32 *-> test-slow .*\[priority\]" "$tmp/list" ||
    fail "--calibrate off: matvec_f32 is not test-slow by priority: $(grep matvec_f32 "$tmp/list")"
"$CALGAE_BIN" backends --model "$model" >"$tmp/list" 2>"$tmp/err" || fail "backends --model failed"
grep -q "matvec_f32 *-> .*\[measured, cached\]" "$tmp/list" ||
    fail "backends: matvec_f32 not marked as measured: $(grep matvec_f32 "$tmp/list")"
grep -q "matvec ns/row:.*test-slow" "$tmp/list" || fail "backends shows no figures"
cmp -s "$tmp/first.out" "$tmp/off.out" || fail "the text differs between test-slow and the measured choice"

run redo --calibrate redo || fail "--calibrate redo failed"
grep -q "calibration F32 measured" "$tmp/err" || fail "redo did not measure"
[ "$(grep -c '^calgae-calibration-1' "$cache")" = 1 ] || fail "redo did not replace the line"

printf '[run]\ncalibrate = off\n' >"$tmp/off.ini"
CALGAE_CONFIG="$tmp/off.ini" run ini || fail "[run] calibrate = off failed"
grep -q "calibration" "$tmp/err" && fail "[run] calibrate = off still calibrated"

# garbage: binary bytes, a foreign line, a line of this version with nonsense figures
{ head -c 3000 /dev/urandom; printf '\ncalgae-calibration-1 cpu=zz plugins=1 type=0\n'
  printf 'calgae-calibration-1 cpu=1 plugins=1 type=0 cols=64 threads=2 repack=1 mv a=nan mm\n'
} >"$cache"
run corrupt || fail "a corrupt cache broke the run"
grep -q "calibration F32 measured" "$tmp/err" || fail "a corrupt cache was not measured over"
[ "$(grep -vc '^#' "$cache")" = 1 ] || fail "the corrupt cache was not replaced by one line"

"$CALGAE_BIN" run --model "$model" --calibrate maybe >/dev/null 2>"$tmp/err"
[ $? = 2 ] || fail "--calibrate maybe is not a usage error"
printf '[run]\ncalibrate = sometimes\n' >"$tmp/bad.ini"
CALGAE_CONFIG="$tmp/bad.ini" "$CALGAE_BIN" run --model "$model" >/dev/null 2>"$tmp/err"
[ $? = 2 ] && grep -q "bad.ini:2: calibrate" "$tmp/err" || fail "[run] calibrate = sometimes not refused"

[ "$failures" = 0 ] && echo "calibrate: all checks passed"
exit $((failures > 0))
