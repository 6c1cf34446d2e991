#!/usr/bin/env bash
# plugin_cli_test.sh - `calgae run --backend FILE.so` with each broken test plugin (built from
# tests/plugins/): the run must still succeed on the real plugins, say once on stderr which
# file was refused and why, and print llama2.c's golden text byte for byte. Also a forced name
# that does not exist (a clear error) and the good cases (scalar, oldminor, kdecline).
#
# Run by ctest (tests/CMakeLists.txt) with CALGAE_BIN, CALGAE_MODELS, CALGAE_TEST_TMP and
# CALGAE_TEST_PLUGIN_DIR set; CALGAE_TEST_NO_AARCH64 says why the aarch64 plugin is missing.
set -u

for v in CALGAE_BIN CALGAE_MODELS CALGAE_TEST_TMP CALGAE_TEST_PLUGIN_DIR; do
    if [ -z "${!v:-}" ]; then
        echo "FAIL: $v is not set (run through ctest)" >&2
        exit 1
    fi
done

tmp="$CALGAE_TEST_TMP/plugin_cli"
mkdir -p "$tmp"
expected="$CALGAE_MODELS/expected_stories260K_t0_n200.txt"
failures=0

fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}

show() {
    echo "--- stderr:" >&2
    cat "$tmp/err" >&2
    echo "---" >&2
}

run() {
    "$CALGAE_BIN" run --model "$CALGAE_MODELS/stories260K.bin" \
        --tokenizer "$CALGAE_MODELS/tok512.bin" --temperature 0 --tokens 200 \
        --backend "$1" >"$tmp/out" 2>"$tmp/err"
}

# Exit 0 and the golden text, whichever plugins served the run.
check_golden() {
    local what=$1 rc=$2
    if [ "$rc" -ne 0 ]; then
        fail "$what: exit status $rc"
        show
    elif ! cmp -s "$tmp/out" "$expected"; then
        fail "$what: stdout differs from $expected"
        diff "$expected" "$tmp/out" | head -5 >&2
    fi
}

refused() {
    local file=$1 reason=$2 so="$CALGAE_TEST_PLUGIN_DIR/$1"
    run "$so"
    local rc=$?
    check_golden "--backend $file" "$rc"
    # one line names both the file and the reason; no other line is a refusal
    local n_line n_refused
    n_line=$(grep -F -- "calgae: plugin $so refused: " "$tmp/err" | grep -cF -- "$reason")
    n_refused=$(grep -cF -- " refused: " "$tmp/err")
    if [ "$n_line" -ne 1 ] || [ "$n_refused" -ne 1 ]; then
        fail "--backend $file: want one stderr line naming it with \"$reason\"" \
            "(got $n_line, and $n_refused refusal lines in all)"
        show
    fi
}

accepted() {
    local name=$1
    run "$name"
    local rc=$?
    check_golden "--backend $name" "$rc"
    if grep -qF -- " refused: " "$tmp/err"; then
        fail "--backend $name: a refusal line"
        show
    fi
}

nofile="cannot load: cannot open shared object file: No such file or directory"
no_aarch64="${CALGAE_TEST_NO_AARCH64:-}"
if [ -n "$no_aarch64" ]; then
    fail "cannot test the wrong-architecture plugin: $no_aarch64"
else
    # glibc reports a foreign e_machine as a missing file; the host reads the ELF header
    refused calgae-test-aarch64.so "built for aarch64 (ELF machine 183), not for this host"
fi
refused calgae-test-text.so "not a shared object (no ELF header)"
refused calgae-test-noentry.so "no calgae_plugin_entry symbol"
refused calgae-test-declined.so "plugin declined: needs host ABI 1.7 or newer"
refused calgae-test-abi2.so "ABI major 2, this host speaks 1"
refused calgae-test-probe.so "this CPU cannot run it: this CPU lacks avx9000"
refused calgae-test-badname.so "invalid plugin name"
refused calgae-test-small.so "function table too small (8 bytes;"
refused calgae-test-prepare.so "prepare_weight and release_weight must come together"
refused calgae-test-missing.so "$nofile"

# A name that no plugin has: a non-zero exit and one line that names it.
run nosuch
rc=$?
if [ "$rc" -eq 0 ]; then
    fail "--backend nosuch: exit status 0"
fi
if [ "$(wc -l <"$tmp/err")" -ne 1 ] || ! grep -qF "nosuch" "$tmp/err"; then
    fail "--backend nosuch: want exactly one stderr line naming 'nosuch'"
    show
fi
if [ -s "$tmp/out" ]; then
    fail "--backend nosuch: printed something on stdout"
fi

accepted scalar
accepted "$CALGAE_TEST_PLUGIN_DIR/calgae-test-oldminor.so"
accepted "$CALGAE_TEST_PLUGIN_DIR/calgae-test-kdecline.so"

if [ "$failures" -ne 0 ]; then
    echo "plugin_cli_test: $failures failure(s)" >&2
    exit 1
fi
echo "plugin_cli_test: all passed"
