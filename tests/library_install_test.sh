#!/usr/bin/env bash
# library_install_test.sh - the library as a user gets it: `cmake --install` into a temporary
# prefix, README's example (core/api/examples/demo.c) built with
# `cc demo.c $(pkg-config --cflags --libs calgae)` against the installed shared library, then
# run: its greedy text from stories260K must equal llama2.c's (expected_stories260K_t0_n200.txt,
# printed by llama2.c's run.c; 200 tokens from BOS, no prompt). Also linked statically, and
# checked that the shared library exports calgae.h's functions only. (A static program finds
# the plugins through CALGAE_PLUGIN_PATH, or beside it as <bindir>/../<libdir>/calgae/plugins.)
set -u
: "${CALGAE_BUILD_DIR:?}" "${CALGAE_SOURCE_DIR:?}" "${CALGAE_MODELS:?}" "${CALGAE_TEST_TMP:?}"
T=$CALGAE_TEST_TMP/libinstall.$$
mkdir -p "$T"
trap 'rm -rf "$T"' EXIT
fail=0
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; fail=1; }

cmake --install "$CALGAE_BUILD_DIR" --prefix "$T/prefix" >"$T/install.log" 2>&1 ||
    { cat "$T/install.log"; echo "FAIL cmake --install"; exit 1; }
pc=$(find "$T/prefix" -name calgae.pc | head -1)
[ -n "$pc" ] && ok "calgae.pc installed" || { bad "calgae.pc installed"; exit 1; }
export PKG_CONFIG_PATH=$(dirname "$pc")
libdir=$(pkg-config --variable=libdir calgae)
demo=$CALGAE_SOURCE_DIR/core/api/examples/demo.c

# shellcheck disable=SC2046
if "${CALGAE_CC:-cc}" -std=c17 -Wall -Wextra -Werror ${CALGAE_EXTRA_CFLAGS:-} "$demo" $(pkg-config --cflags --libs calgae) -o "$T/demo" 2>"$T/cc.log"; then
    ok "demo builds against the installed header and library"
else
    cat "$T/cc.log"; bad "demo builds"; exit 1
fi
if LD_LIBRARY_PATH=$libdir "$T/demo" "$CALGAE_MODELS/stories260K.gguf" "" 200 >"$T/out" 2>"$T/err" &&
    cmp -s "$T/out" "$CALGAE_MODELS/expected_stories260K_t0_n200.txt"; then
    ok "demo's greedy text equals llama2.c's"
else
    bad "demo's greedy text equals llama2.c's"; cat "$T/err"; diff <(head -c 300 "$CALGAE_MODELS/expected_stories260K_t0_n200.txt") <(head -c 300 "$T/out")
fi
# the shared library found the installed plugins by itself (no CALGAE_PLUGIN_PATH)
if env -u CALGAE_PLUGIN_PATH LD_LIBRARY_PATH=$libdir "$T/demo" "$CALGAE_MODELS/nonexistent.gguf" 2>"$T/err"; then
    bad "a missing model fails"
elif grep -q "nonexistent.gguf" "$T/err" && [ "$(wc -l <"$T/err")" -eq 1 ]; then
    ok "a missing model: one line naming the file"
else
    bad "a missing model: one line naming the file"; cat "$T/err"
fi
# the archive and the libraries calgae.pc lists as private (what a static link needs)
# shellcheck disable=SC2046
if "${CALGAE_CC:-cc}" -std=c17 ${CALGAE_EXTRA_CFLAGS:-} "$demo" -I"$T/prefix/include" "$libdir/libcalgae.a" $(pkg-config --static --libs calgae | sed 's/-lcalgae\b//') -o "$T/demo_static" &&
    CALGAE_PLUGIN_PATH=$libdir/calgae/plugins "$T/demo_static" "$CALGAE_MODELS/stories260K.gguf" "" 200 >"$T/out2" 2>"$T/err" &&
    cmp -s "$T/out2" "$CALGAE_MODELS/expected_stories260K_t0_n200.txt"; then
    ok "statically linked demo, same text"
else
    bad "statically linked demo"; cat "$T/err"
fi
# exports: every dynamic symbol the library defines is one of calgae.h's functions
hdr=$(grep -oE 'calgae_[a-z0-9_]+\(' "$T/prefix/include/calgae.h" | tr -d '(' | sort -u)
extra=$(nm -D --defined-only "$libdir/libcalgae.so" | awk '$2 == "T" {print $3}' | sort -u | comm -23 - <(echo "$hdr"))
if [ -z "$extra" ]; then ok "libcalgae.so exports calgae.h's functions only"; else bad "exports beyond calgae.h: $(echo $extra | head -c 300)"; fi
exit $fail
