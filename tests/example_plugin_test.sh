#!/usr/bin/env bash
# example_plugin_test.sh - the third-party plugin story end to end: `cmake --install` this build
# into a temporary prefix, build plugins/example out of tree against <prefix>/include alone
# (with its CMakeLists.txt and with its Makefile, and once as an older ABI minor's shorter
# table), verify each with the installed binary, and check that greedy generation with the
# example plugin prints llama2.c's golden text byte for byte. Also: the installed binary finds
# its installed scalar plugin with no flags, and picks up the example once it is installed.
#
# Run by ctest with CALGAE_BUILD_DIR, CALGAE_SOURCE_DIR, CALGAE_CC, CALGAE_CMAKE,
# CALGAE_PLUGIN_RELDIR, CALGAE_MODELS and CALGAE_TEST_TMP set.
set -u
for v in CALGAE_BUILD_DIR CALGAE_SOURCE_DIR CALGAE_CC CALGAE_CMAKE CALGAE_PLUGIN_RELDIR CALGAE_MODELS CALGAE_TEST_TMP; do
    if [ -z "${!v:-}" ]; then
        echo "FAIL: $v is not set (run through ctest)" >&2
        exit 1
    fi
done
T=$CALGAE_TEST_TMP/example_plugin.$$
mkdir -p "$T"
trap 'rm -rf "$T"' EXIT
export HOME=$T
unset XDG_CONFIG_HOME CALGAE_CONFIG CALGAE_PLUGIN_PATH
cd "$T" || exit 1
M=$CALGAE_MODELS
want=$M/expected_stories260K_t0_n200.txt
P=$T/prefix
pass=0
fail=0

ok() {
    pass=$((pass + 1))
    echo "ok   $1"
}

bad() { # name, then files worth showing
    fail=$((fail + 1))
    echo "FAIL $1"
    shift
    for f in "$@"; do
        [ -f "$f" ] && tail -n 25 "$f" | sed 's/^/     | /'
    done
}

step() { # name, log, command...: the command must succeed
    local name=$1 log=$2
    shift 2
    if "$@" >"$log" 2>&1; then ok "$name"; else bad "$name" "$log"; return 1; fi
}

if ! step "cmake --install into a temporary prefix" "$T/install.log" \
    "$CALGAE_CMAKE" --install "$CALGAE_BUILD_DIR" --prefix "$P"; then
    echo "$pass passed, $fail failed"
    exit 1
fi
plugdir=$P/$CALGAE_PLUGIN_RELDIR
# Only scalar stays beside the example: the golden text is then the example's and scalar's
# alone (the other plugins have their own conformance and golden tests).
find "$plugdir" -name 'calgae-*.so' ! -name calgae-scalar.so -delete
[ -f "$P/include/calgae_plugin.h" ] && [ -x "$P/bin/calgae" ] && [ -f "$plugdir/calgae-scalar.so" ] &&
    ok "installed: bin/calgae, include/calgae_plugin.h, $CALGAE_PLUGIN_RELDIR/calgae-scalar.so" ||
    bad "install layout"

# The example sees the installed header and nothing of the source tree.
build_cmake() { # build folder, extra cmake arguments...
    local b=$1
    shift
    "$CALGAE_CMAKE" -S "$CALGAE_SOURCE_DIR/plugins/example" -B "$b" -DCMAKE_C_COMPILER="$CALGAE_CC" \
        -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$P" -DCMAKE_EXPORT_COMPILE_COMMANDS=ON "$@" &&
        "$CALGAE_CMAKE" --build "$b"
}
step "example built with CMake against <prefix>/include" "$T/cmake.log" build_cmake "$T/ex"
step "example built with CMake as an older minor (-DEXAMPLE_OLD_TABLE=ON)" "$T/cmake-old.log" \
    build_cmake "$T/ex-old" -DEXAMPLE_OLD_TABLE=ON
if grep -q "plugin-api" "$T/ex/compile_commands.json" 2>/dev/null ||
    ! grep -q -- "-I$P/include" "$T/ex/compile_commands.json" 2>/dev/null; then
    bad "the CMake build must include <prefix>/include and nothing from the source tree" "$T/ex/compile_commands.json"
else
    ok "the CMake build includes <prefix>/include only"
fi
cp -r "$CALGAE_SOURCE_DIR/plugins/example" "$T/ex-make" # make writes beside its Makefile
rm -rf "$T/ex-make/build"
step "example built with its Makefile (CALGAE_INCLUDE_DIR=<prefix>/include)" "$T/make.log" \
    make -C "$T/ex-make" CC="$CALGAE_CC" CALGAE_INCLUDE_DIR="$P/include"

# verify: name, folder, expected summary line, then "slot result" pairs to find in the table
verify() {
    local name=$1 dir=$2 summary=$3
    shift 3
    (cd "$dir" && "$P/bin/calgae" backends verify calgae-example.so) >"$T/verify.out" 2>&1
    local rc=$?
    if [ "$rc" -ne 0 ] || ! grep -qxF "$summary" "$T/verify.out"; then
        bad "$name: exit $rc" "$T/verify.out"
        return
    fi
    local pair
    for pair in "$@"; do
        if ! grep -Eq "^${pair%% *} +${pair#* }" "$T/verify.out"; then
            bad "$name: no line '$pair'" "$T/verify.out"
            return
        fi
    done
    ok "$name"
}
verify "installed calgae verifies the CMake build (reference found with no flags)" "$T/ex" \
    "example: 3 passed, 0 failed, 35 not provided, 0 declined" "matvec_f32 pass" "matmul_f32 pass" "rmsnorm pass"
verify "installed calgae verifies the Makefile build" "$T/ex-make" \
    "example: 3 passed, 0 failed, 35 not provided, 0 declined"
verify "the older minor's table loads and verifies up to its struct_size" "$T/ex-old" \
    "example: 1 passed, 0 failed, 37 not provided, 0 declined" "matvec_f32 pass" \
    "matmul_f32 not provided" "rmsnorm not provided"

# golden: name, expected backend in the stats line, extra run arguments...
golden() {
    local name=$1 backend=$2
    shift 2
    "$P/bin/calgae" run --model "$M/stories260K.bin" --tokenizer "$M/tok512.bin" --temperature 0 \
        --tokens 200 "$@" >"$T/run.out" 2>"$T/run.err"
    local rc=$?
    if [ "$rc" -eq 0 ] && cmp -s "$T/run.out" "$want" && grep -q "backend $backend, threads" "$T/run.err"; then
        ok "$name"
    else
        bad "$name: exit $rc" "$T/run.err"
        diff <(head -c 600 "$want") <(head -c 600 "$T/run.out") | head -10
    fi
}
golden "installed calgae with no flags: scalar, golden text" scalar
golden "--backend the CMake build: golden text" example+scalar --backend "$T/ex/calgae-example.so"
golden "--backend the Makefile build: golden text" example+scalar --backend "$T/ex-make/calgae-example.so"
golden "--backend the older minor's build: golden text" example+scalar --backend "$T/ex-old/calgae-example.so"
golden "--backend the CMake build, 3 threads" example+scalar --backend "$T/ex/calgae-example.so" --threads 3

# dropped into the plugin folder, it is found and ranked above scalar (priority 10 > 0)
if step "cmake --install of the example into the prefix" "$T/ex-install.log" \
    "$CALGAE_CMAKE" --install "$T/ex"; then
    golden "installed example picked automatically: golden text" example+scalar
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
