#!/usr/bin/env bash
# conformance_cli_test.sh - `calgae backends verify` and conformance_main on plugins whose
# answer is known: the scalar plugin passes every slot; each plugin built from
# tests/plugins/wrong_kernels.c fails exactly its broken slot (exit 1); a plugin that declines
# everything is reported as such (exit 0), one that provides no slot fails (exit 1); an
# older-minor table is verified without reading past its struct_size; a file that is no plugin
# is refused in one line.
#
# Run by ctest with CALGAE_BIN, CALGAE_PLUGIN_DIR, CALGAE_CONF_PLUGIN_DIR,
# CALGAE_CONFORMANCE_MAIN, CALGAE_TEST_TMP (and CALGAE_TEST_OLDMINOR when that plugin is built).
set -u
for v in CALGAE_BIN CALGAE_PLUGIN_DIR CALGAE_CONF_PLUGIN_DIR CALGAE_CONFORMANCE_MAIN CALGAE_TEST_TMP; do
    if [ -z "${!v:-}" ]; then
        echo "FAIL: $v is not set (run through ctest)" >&2
        exit 1
    fi
done
T=$CALGAE_TEST_TMP/conformance_cli.$$
mkdir -p "$T"
trap 'rm -rf "$T"' EXIT
# no calgae.ini of the user's, and a bare file name means a file in this folder
export HOME=$T
unset XDG_CONFIG_HOME CALGAE_CONFIG
cd "$T" || exit 1
W=$CALGAE_CONF_PLUGIN_DIR
pass=0
fail=0

ok() {
    pass=$((pass + 1))
    echo "ok   $1"
}

bad() {
    fail=$((fail + 1))
    echo "FAIL $1"
    sed 's/^/     | /' "$T/out" "$T/err" | head -40
}

verify() { # sets rc; output in $T/out and $T/err
    "$CALGAE_BIN" backends verify "$@" >"$T/out" 2>"$T/err"
    rc=$?
}

# name, expected exit status, expected summary line, then slots that must show FAIL (and no
# other slot may)
expect() {
    local name=$1 want_rc=$2 summary=$3
    shift 3
    local fails
    fails=$(grep -Ec '^[a-z0-9_]+ +FAIL' "$T/out")
    if [ "$rc" -ne "$want_rc" ] || ! grep -qxF "$summary" "$T/out" || [ "$fails" -ne $# ]; then
        bad "$name: exit $rc (want $want_rc), $fails FAIL lines (want $#), summary '$summary'"
        return
    fi
    for slot in "$@"; do
        if ! grep -Eq "^$slot +FAIL" "$T/out"; then
            bad "$name: slot $slot did not fail"
            return
        fi
    done
    ok "$name"
}

verify "$CALGAE_PLUGIN_DIR/calgae-scalar.so"
expect "scalar verifies against itself" 0 "scalar: 38 passed, 0 failed, 0 not provided, 0 declined"

verify "$CALGAE_PLUGIN_DIR/calgae-scalar.so" --seed 987654321 --reference "$CALGAE_PLUGIN_DIR/calgae-scalar.so"
expect "another seed, explicit --reference" 0 "scalar: 38 passed, 0 failed, 0 not provided, 0 declined"

verify "$W/calgae-wrong-q4tail.so"
expect "Q4_0 product skipping the last block" 1 \
    "wrong: 0 passed, 2 failed, 36 not provided, 0 declined" matvec_q4_0 matmul_q4_0

verify "$W/calgae-wrong-rope.so"
expect "rope with the sine's sign flipped" 1 "wrong: 0 passed, 1 failed, 37 not provided, 0 declined" rope

verify "$W/calgae-wrong-range.so"
expect "matvec writing past row_end" 1 "wrong: 0 passed, 1 failed, 37 not provided, 0 declined" matvec_f32
grep -q "written outside rows" "$T/out" && ok "  ... says it wrote outside the range" || bad "range detail"

verify "$W/calgae-wrong-split.so"
expect "row values depending on the row split" 1 \
    "wrong: 0 passed, 1 failed, 37 not provided, 0 declined" matvec_f32
grep -q "depend on the row split" "$T/out" && ok "  ... says results depend on the split" || bad "split detail"

verify "$W/calgae-wrong-decline.so"
expect "a plugin declining every call" 0 "wrong: 0 passed, 0 failed, 36 not provided, 2 declined"
grep -q "declined every call: it provides slots but never computes anything" "$T/out" &&
    ok "  ... is reported as declining everything" || bad "decline report"

verify "$W/calgae-wrong-nanskip.so"
expect "matvec leaving its rows unwritten when the answer is NaN" 1 \
    "wrong: 0 passed, 1 failed, 37 not provided, 0 declined" matvec_f32
grep -q "not written, reference nan" "$T/out" && ok "  ... says the row was not written" || bad "nanskip detail"

verify "$W/calgae-wrong-wide.so"
expect "Q8_0 integer sum off by one in rows of 64+ blocks (exact cases)" 1 \
    "wrong: 0 passed, 2 failed, 36 not provided, 0 declined" matvec_q8_0 matmul_q8_0
grep -q "exact rows .* cols 2048" "$T/out" && ok "  ... caught by the exact case at 2048 columns" || bad "wide detail"

verify "$W/calgae-wrong-empty.so"
expect "a plugin providing no slot" 1 "wrong: 0 passed, 0 failed, 38 not provided, 0 declined"
grep -q "provides no kernel slot: nothing to verify, which is a failure" "$T/out" &&
    ok "  ... says there was nothing to verify" || bad "empty detail"

# a bare file name is a file in the current folder
cp "$W/calgae-wrong-rope.so" "$T/calgae-here.so"
verify calgae-here.so
expect "a bare file name" 1 "wrong: 0 passed, 1 failed, 37 not provided, 0 declined" rope

if [ -n "${CALGAE_TEST_OLDMINOR:-}" ]; then
    # its slots past struct_size abort the process if anything calls them
    verify "$CALGAE_TEST_OLDMINOR"
    if [ "$rc" -eq 0 ] && grep -Eq '^matvec_f32 +pass' "$T/out" &&
        grep -Eq '^matmul_f32 +not provided' "$T/out"; then
        ok "older minor table: verified up to its struct_size only"
    else
        bad "older minor table (exit $rc)"
    fi
fi

# refusals: one line on stderr, exit 1; usage errors exit 2
printf 'not a shared object, but long enough to have an ELF header\n%.0s' 1 2 3 >"$T/calgae-text.so"
for f in "$T/calgae-text.so" "$T/missing.so"; do
    verify "$f"
    if [ "$rc" -eq 1 ] && [ "$(wc -l <"$T/err")" -eq 1 ] && grep -q "refused: " "$T/err" && [ ! -s "$T/out" ]; then
        ok "refused in one line: $(basename "$f")"
    else
        bad "refusal of $(basename "$f"): exit $rc"
    fi
done
verify
[ "$rc" -eq 2 ] && ok "no file: usage error" || bad "no file: exit $rc, want 2"
verify "$W/calgae-wrong-rope.so" --seed -3
[ "$rc" -eq 2 ] && ok "bad --seed: usage error" || bad "bad --seed: exit $rc, want 2"

# no reference anywhere: a copy of the binary has no plugin folder beside it
mkdir -p "$T/lonely/bin"
cp "$CALGAE_BIN" "$T/lonely/bin/calgae"
"$T/lonely/bin/calgae" backends verify "$W/calgae-wrong-rope.so" >"$T/out" 2>"$T/err"
rc=$?
if [ "$rc" -eq 1 ] && grep -q "no calgae-scalar.so to compare with" "$T/err"; then
    ok "no reference found: says so"
else
    bad "no reference: exit $rc"
fi

# the plain driver: same verdicts, and the last line exactly "N passed, M failed"
main() { # want_rc, last line, args...
    local want_rc=$1 want_last=$2
    shift 2
    "$CALGAE_CONFORMANCE_MAIN" "$@" >"$T/out" 2>"$T/err"
    local rc=$?
    if [ "$rc" -eq "$want_rc" ] && [ "$(tail -n 1 "$T/out")" = "$want_last" ]; then
        ok "conformance_main $(basename "$1"): '$want_last'"
    else
        bad "conformance_main $(basename "$1"): exit $rc (want $want_rc)"
    fi
}
main 0 "38 passed, 0 failed" "$CALGAE_PLUGIN_DIR/calgae-scalar.so" "$CALGAE_PLUGIN_DIR/calgae-scalar.so"
main 1 "0 passed, 2 failed" "$W/calgae-wrong-q4tail.so" "$CALGAE_PLUGIN_DIR/calgae-scalar.so"
main 1 "0 passed, 1 failed" "$W/calgae-wrong-split.so" "$CALGAE_PLUGIN_DIR/calgae-scalar.so" 42
main 1 "0 passed, 0 failed" "$W/calgae-wrong-empty.so" "$CALGAE_PLUGIN_DIR/calgae-scalar.so"
main 1 "0 passed, 1 failed" "$W/calgae-wrong-nanskip.so" "$CALGAE_PLUGIN_DIR/calgae-scalar.so"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
