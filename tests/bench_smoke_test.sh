#!/usr/bin/env bash
# bench_smoke_test.sh - `calgae bench` in seconds on stories260K: every output format parses
# (markdown table rows, JSON lines, CSV with a header) and holds a pp and a tg row per backend.
set -u
: "${CALGAE_BIN:?}" "${CALGAE_MODELS:?}" "${CALGAE_PYTHON:=/usr/bin/python3}"
args=(bench --model "$CALGAE_MODELS/stories260K.gguf" --backend scalar -p 8 -n 4 -r 2 --threads 1)
fail=0
md=$("$CALGAE_BIN" "${args[@]}" -o md) || fail=1
echo "$md" | grep -Eq '^\| scalar \| [^|]+ \| 1 \| pp8 \| [0-9.]+ ± [0-9.]+ \|' || { echo "FAIL md pp row"; fail=1; }
echo "$md" | grep -Eq '^\| scalar \| [^|]+ \| 1 \| tg4 \| [0-9.]+ ± [0-9.]+ \| [0-9.]+ \|' || { echo "FAIL md tg row"; fail=1; }
"$CALGAE_BIN" "${args[@]}" -o json | "$CALGAE_PYTHON" -c '
import json, sys
rows = [json.loads(l) for l in sys.stdin if l.strip()]
assert [r["test"] for r in rows] == ["pp8", "tg4"], rows
assert all(r["avg_ts"] > 0 and r["backend"] == "scalar" and r["threads"] == 1 for r in rows)
assert rows[0]["bw_share"] is None and rows[1]["bw_share"] > 0 and rows[1]["bandwidth_gbs"] > 0
' || { echo "FAIL json"; fail=1; }
"$CALGAE_BIN" "${args[@]}" -o csv | "$CALGAE_PYTHON" -c '
import csv, sys
rows = list(csv.DictReader(sys.stdin))
assert [r["test"] for r in rows] == ["pp8", "tg4"], rows
assert all(float(r["avg_ts"]) > 0 for r in rows)
' || { echo "FAIL csv"; fail=1; }
"$CALGAE_BIN" bench --bandwidth --threads 1 | grep -Eq '^memory read bandwidth, 1 thread: [0-9.]+ GB/s$' || { echo "FAIL bandwidth"; fail=1; }
"$CALGAE_BIN" bench --model "$CALGAE_MODELS/stories260K.gguf" -o xml >/dev/null 2>&1 && { echo "FAIL bad format accepted"; fail=1; }
# on a terminal (script gives one), a progress bar on stderr; in a pipe, none
if command -v script >/dev/null; then
    script -qec "'$CALGAE_BIN' bench --model '$CALGAE_MODELS/stories260K.gguf' --backend scalar -p 8 -n 4 -r 2 --threads 1,2" \
        /dev/null 2>&1 | grep -q 'bench.*\[' || { echo "FAIL no progress bar on a terminal"; fail=1; }
    "$CALGAE_BIN" "${args[@]}" 2>&1 >/dev/null | grep -q 'bench.*\[' && { echo "FAIL progress bar in a pipe"; fail=1; }
else
    echo "FAIL progress bar: 'script' not found (Debian package bsdutils)"; fail=1
fi
[ $fail -eq 0 ] && echo "bench smoke: 1 passed, 0 failed" || echo "bench smoke: 0 passed, 1 failed"
exit $fail
