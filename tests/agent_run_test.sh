#!/usr/bin/env bash
# agent_run_test.sh - the code agent around generation and its refusals:
#  - `calgae run --execute` on stories260K (which writes stories, never code): the text is
#    llama2.c's own (expected_stories260K_t0_n200.txt, byte for byte: --execute does not change
#    generation), then one clear line that there is no code block, and exit status 1;
#  - the agent's flags without --execute are a usage error (model output runs only with it);
#  - without bwrap (hidden in a private mount namespace) the agent refuses, runs nothing;
#  - `agent exec`: a missing file, an answer without code, a failing block (its stderr and
#    status shown), a block that succeeds, --all on several.
# Run by ctest with CALGAE_BIN, CALGAE_MODELS and CALGAE_TEST_TMP set.
set -u
: "${CALGAE_BIN:?}" "${CALGAE_MODELS:?}" "${CALGAE_TEST_TMP:?}"
M=$CALGAE_MODELS
T=$CALGAE_TEST_TMP/agent_run
rm -rf "$T"
mkdir -p "$T"
failures=0
fail() { echo "FAIL: $*" >&2; echo "--- stdout:" >&2; head -c 2000 "$T/out" >&2; echo "--- stderr:" >&2; cat "$T/err" >&2; failures=$((failures + 1)); }
ok() { echo "ok   $*"; }

"$CALGAE_BIN" run --model "$M/stories260K.bin" --tokenizer "$M/tok512.bin" --temperature 0 \
    --tokens 200 --execute >"$T/out" 2>"$T/err"
rc=$?
if [ $rc = 1 ] && cmp -s "$T/out" "$M/expected_stories260K_t0_n200.txt" &&
    grep -q "^calgae: agent: the answer holds no fenced code block" "$T/err"; then
    ok "stories260K --execute: llama2.c's text, no code block said, exit 1"
else
    fail "stories260K --execute (rc $rc)"
fi

# --candidates 3 in one batch: candidate i is the text a separate run with seed 7+i prints
"$CALGAE_BIN" run --model "$M/stories260K.bin" --tokenizer "$M/tok512.bin" --prompt "Once upon a time" \
    --tokens 40 --seed 7 --execute --candidates 3 --all >"$T/out" 2>"$T/err"
rc=$?
good=1
for i in 0 1 2; do
    "$CALGAE_BIN" run --model "$M/stories260K.bin" --tokenizer "$M/tok512.bin" --prompt "Once upon a time" \
        --tokens 40 --seed $((7 + i)) >"$T/one" 2>/dev/null || good=0
    awk -v c="=== candidate $((i + 1)) (seed $((7 + i))) ===" 'p && /^=== /{exit} p{print} $0==c{p=1}' \
        "$T/out" >"$T/cand"
    cmp -s "$T/one" "$T/cand" || good=0
done
[ $rc = 1 ] && [ $good = 1 ] && grep -q "3 candidates in one batch: 120 tokens" "$T/err" &&
    grep -q "none of the 3 answers holds a fenced code block" "$T/err" &&
    ok "--candidates 3: one batch, each the text of its own seed's run, no code said" ||
    fail "--candidates 3 (rc $rc, same texts $good)"

"$CALGAE_BIN" run --model "$M/stories260K.bin" --tokenizer "$M/tok512.bin" --retries 2 \
    >"$T/out" 2>"$T/err"
rc=$?
[ $rc = 2 ] && [ ! -s "$T/out" ] && grep -q "need --execute" "$T/err" &&
    ok "--retries without --execute refused" || fail "--retries without --execute (rc $rc)"

printf '```sh\necho ran > %s/should-not-exist\n```\n' "$T" >"$T/code.md"
if unshare --mount true 2>/dev/null; then
    unshare --mount sh -c "mount --bind /dev/null /usr/bin/bwrap &&
        PATH=/nonexistent exec '$CALGAE_BIN' agent exec '$T/code.md'" >"$T/out" 2>"$T/err"
    rc=$?
    [ $rc = 1 ] && [ ! -s "$T/out" ] && [ "$(wc -l <"$T/err")" = 1 ] &&
        grep -q "bwrap not found.*refuses to run code unconfined" "$T/err" &&
        [ ! -e "$T/should-not-exist" ] && ok "no bwrap: refused, nothing ran" ||
        fail "no bwrap (rc $rc)"
else
    fail "cannot make a mount namespace to hide bwrap (the refusal is untested)"
fi

"$CALGAE_BIN" run --model "$M/stories260K.bin" --tokenizer "$M/tok512.bin" --temperature 0 \
    --tokens 20 --execute --function 'int add(int, int)' --examples '1,2->3' >"$T/out" 2>"$T/err"
rc=$?
[ $rc = 1 ] && grep -q "no C code block to take the function from" "$T/err" &&
    ok "function mode on stories260K: no C block said" || fail "run --function (rc $rc)"
"$CALGAE_BIN" run --model "$M/stories260K.bin" --tokenizer "$M/tok512.bin" --execute \
    --function 'void f(int)' --examples '1->1' >"$T/out" 2>"$T/err"
rc=$?
[ $rc = 2 ] && [ ! -s "$T/out" ] && grep -q "void return" "$T/err" &&
    ok "run --function: a bad signature refused before generating" || fail "run bad signature (rc $rc)"

"$CALGAE_BIN" agent exec "$T/missing.md" >"$T/out" 2>"$T/err"
rc=$?
[ $rc = 1 ] && [ "$(wc -l <"$T/err")" = 1 ] && grep -q "missing.md: cannot open" "$T/err" &&
    ok "missing file" || fail "missing file (rc $rc)"

printf 'Once upon a time there was no code.\n' >"$T/none.md"
"$CALGAE_BIN" agent exec "$T/none.md" >"$T/out" 2>"$T/err"
rc=$?
[ $rc = 1 ] && grep -q "no fenced code block" "$T/err" && ok "no code" || fail "no code (rc $rc)"

printf '```c\nint main(void) { return undefined_name; }\n```\n```python\nimport sys\nsys.stderr.write("bad\\n"); sys.exit(3)\n```\n```text\nnot code\n```\n' >"$T/bad.md"
"$CALGAE_BIN" agent exec "$T/bad.md" --all >"$T/out" 2>"$T/err"
rc=$?
[ $rc = 1 ] && grep -q "undefined_name" "$T/out" && grep -q "compile: exit status 1" "$T/out" &&
    grep -q "^bad$" "$T/out" && grep -q "run: exit status 3" "$T/out" &&
    grep -q "block 3: unknown" "$T/out" && grep -q "no code block compiled and ran" "$T/err" &&
    ok "failing blocks reported" || fail "failing blocks (rc $rc)"

printf 'Answer:\n\n```\n#include <stdio.h>\nint main(void) { printf("%%d\\n", 6 * 7); return 0; }\n```\n\n~~~bash\necho second\n~~~\n' >"$T/good.md"
"$CALGAE_BIN" agent exec "$T/good.md" >"$T/out" 2>"$T/err"
rc=$?
[ $rc = 0 ] && grep -q "block 1: c (by content)" "$T/out" && grep -q "^42$" "$T/out" &&
    ! grep -q "second" "$T/out" && ok "first success stops" || fail "first success (rc $rc)"
"$CALGAE_BIN" agent exec "$T/good.md" --all >"$T/out" 2>"$T/err"
rc=$?
[ $rc = 0 ] && grep -q "^42$" "$T/out" && grep -q "^second$" "$T/out" && ok "--all runs both" ||
    fail "--all (rc $rc)"

exit $((failures > 0))
