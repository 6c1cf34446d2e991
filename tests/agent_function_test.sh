#!/usr/bin/env bash
# agent_function_test.sh - function mode (`calgae agent exec --function SIG --examples EX`):
# a correct function passes every example; a wrong one fails exactly the examples it gets
# wrong; a crashing one and one that never returns fail (signal, timeout) without stopping
# the other examples; doubles, strings and arrays with their length reach the function through
# libffi; signatures and examples it cannot express are refused with one line, exit status 2.
# The expected values are arithmetic written by hand. Run by ctest (CALGAE_BIN, CALGAE_TEST_TMP).
set -u
: "${CALGAE_BIN:?}" "${CALGAE_TEST_TMP:?}"
T=$CALGAE_TEST_TMP/agent_function
rm -rf "$T"
mkdir -p "$T"
failures=0
fail() { echo "FAIL: $*" >&2; echo "--- stdout:" >&2; cat "$T/out" >&2; echo "--- stderr:" >&2; cat "$T/err" >&2; failures=$((failures + 1)); }
ok() { echo "ok   $*"; }
# fn NAME SIG EXAMPLES [flags]: the C code on stdin is the answer's block
fn() {
    local name=$1 sig=$2 exs=$3
    shift 3
    { echo "Here it is:"; echo '```c'; cat; echo '```'; } >"$T/$name.md"
    "$CALGAE_BIN" agent exec "$T/$name.md" --function "$sig" --examples "$exs" "$@" >"$T/out" 2>"$T/err"
    rc=$?
}

fn correct 'int add(int a, int b)' '1,2->3; 5,-1->4; 2147483647,-2147483648->-1' <<'EOF'
int add(int a, int b) { return a + b; }
EOF
[ $rc = 0 ] && grep -q "3 of 3 examples pass" "$T/out" && ok "correct add" || fail "correct add (rc $rc)"

fn wrong 'int add(int, int)' '1,2->3; 5,-1->4; 0,0->0' <<'EOF'
int add(int a, int b) { return a * b + (a == 1); }
EOF
[ $rc = 1 ] && grep -q "example 1: 1,2->3: pass" "$T/out" &&
    grep -q "example 2: 5,-1->4: FAIL (got -5, expected 4)" "$T/out" &&
    grep -q "example 3: 0,0->0: pass" "$T/out" && grep -q "2 of 3 examples pass" "$T/out" &&
    grep -q "examples failed" "$T/err" && ok "wrong add fails its examples" || fail "wrong add (rc $rc)"

fn crash 'int first(const int *xs, size_t n)' '[7, 8]->7; []->0' <<'EOF'
#include <stddef.h>
int first(const int *xs, size_t n) { if (n == 0) { volatile int *p = 0; return *p; } return xs[0]; }
EOF
[ $rc = 1 ] && grep -q "example 1: \[7, 8\]->7: pass" "$T/out" &&
    grep -q "example 2: \[\]->0: FAIL (crashed: signal 11" "$T/out" && ok "crashing function" ||
    fail "crashing function (rc $rc)"

fn hang 'long f(long)' '1->2; 0->1' --timeout 2 <<'EOF'
long f(long x) { while (x == 0) { } return x + 1; }
EOF
[ $rc = 1 ] && grep -q "example 1: 1->2: pass" "$T/out" &&
    grep -q "example 2: 0->1: FAIL (never returned" "$T/out" && ok "never-returning function" ||
    fail "never-returning function (rc $rc)"

fn types 'double mean(const double *v, int n)' '[1, 2, 3, 4]->2.5; [0.1]->0.1' <<'EOF'
double mean(const double *v, int n) { double s = 0; for (int i = 0; i < n; i++) s += v[i]; return s / n; }
EOF
[ $rc = 0 ] && grep -q "2 of 2 examples pass" "$T/out" && ok "double array + length" || fail "double array (rc $rc)"

fn strings 'size_t count_a(const char *s)' '"banana"->3; ""->0; "a \"quoted\" a"->2' <<'EOF'
#include <stddef.h>
size_t count_a(const char *s) { size_t n = 0; for (; *s; s++) n += *s == 'a'; return n; }
EOF
[ $rc = 0 ] && grep -q "3 of 3 examples pass" "$T/out" && ok "strings" || fail "strings (rc $rc)"

fn strret 'const char *pick(int8_t i, float f)' '1, 0.5->"one"; -1, 2.25->"minus"' <<'EOF'
#include <stdint.h>
const char *pick(int8_t i, float f) { return i > 0 && f == 0.5f ? "one" : f == 2.25f ? "minus" : "no"; }
EOF
[ $rc = 0 ] && grep -q "2 of 2 examples pass" "$T/out" && ok "int8_t, float, string return" || fail "string return (rc $rc)"

fn u16 'unsigned short twice(unsigned short)' '40000->14464; 3->6' <<'EOF'
unsigned short twice(unsigned short x) { return (unsigned short)(x * 2); }
EOF
[ $rc = 0 ] && ok "unsigned short wraps as C does" || fail "unsigned short (rc $rc)"

refuse() { # what SIG EXAMPLES pattern
    printf '```c\nint f(void) { return 0; }\n```\n' >"$T/r.md"
    "$CALGAE_BIN" agent exec "$T/r.md" --function "$2" --examples "$3" >"$T/out" 2>"$T/err"
    rc=$?
    [ $rc = 2 ] && [ ! -s "$T/out" ] && [ "$(wc -l <"$T/err")" = 1 ] && grep -q "$4" "$T/err" &&
        ok "refused: $1" || fail "refusal $1 (rc $rc)"
}
refuse struct 'int f(struct point p)' '1->1' 'struct types'
refuse pointer-pointer 'int f(char **argv)' '1->1' 'pointers to pointers'
refuse variadic 'int f(int n, ...)' '1->1' 'variadic'
refuse void-return 'void f(int)' '1->1' 'void return'
refuse array-without-length 'int f(const int *xs)' '[1]->1' 'integer length must follow'
refuse unknown-type 'int f(foo_t x)' '1->1' "unknown type 'foo_t'"
refuse arity 'int f(int, int)' '1->1' 'gives 1 values, f takes 2'
refuse range 'int8_t f(int8_t)' '200->1' "'200' is not a 1-byte integer"
refuse no-arrow 'int f(int)' '1, 2' "has no '->'"
refuse unsigned-negative 'unsigned f(unsigned)' '-1->1' 'negative for an unsigned'
refuse unclosed 'int f(const char *)' '"abc->1' 'unclosed quote'

exit $((failures > 0))
