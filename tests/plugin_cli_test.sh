#!/usr/bin/env bash
# plugin_cli_test.sh - `calgae run --backend FILE.so` with each broken test plugin (built from
# tests/plugins/): a forced choice that can't be honoured is an error, never a quiet run on
# other plugins: exit status 2 (as for every backend asked for and unusable), exactly one line
# on stderr naming the file and why it was refused, nothing on stdout. Also a forced name that
# does not exist (the same exit status) and the good cases (scalar, oldminor, kdecline), which
# print llama2.c's golden text byte for byte.
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
    [ "$rc" -eq 2 ] || { fail "--backend $file: exit status $rc, want 2"; show; }
    [ -s "$tmp/out" ] && fail "--backend $file: printed something on stdout"
    # one line, and it names both the file and the reason
    if [ "$(wc -l <"$tmp/err")" -ne 1 ] ||
        [ "$(grep -F -- "calgae: plugin $so refused: " "$tmp/err" | grep -cF -- "$reason")" -ne 1 ]; then
        fail "--backend $file: want exactly one stderr line naming it with \"$reason\""
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

# A name that no plugin has: the same exit status and one line that names it.
run nosuch
rc=$?
if [ "$rc" -ne 2 ]; then
    fail "--backend nosuch: exit status $rc, want 2"
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
