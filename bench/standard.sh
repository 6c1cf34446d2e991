#!/bin/sh
# standard.sh - the standard benchmark set: TinyLlama-shaped random-weight GGUF files (bench/
# gen_model) in Q4_0 and Q8_0 (and F32 with --f32), every backend at 1 and 2 threads through
# `calgae bench`, and, when LLAMA_BENCH names a llama.cpp llama-bench binary, llama.cpp on the
# same files in the same run, alternating the two programs file by file so that both see the
# same machine load. Benchmarks, not tests: nothing here passes or fails on speed.
#
#   bench/standard.sh [--f32] [--reps N] [--dir DIR]        (from the repository root, after
#                                                            building into build/)
#   LLAMA_BENCH=/path/to/llama-bench bench/standard.sh
#
# Files are generated once into DIR (default /tmp/calgae-bench; 0.6 + 1.2 GB, F32 4.4 GB) from
# ../shared/models/tokenizer.bin, seeded, so every run measures the same bytes.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/build/bin"
dir=/tmp/calgae-bench
reps=5
types="q4_0 q8_0"
while [ $# -gt 0 ]; do
    case "$1" in
    --f32) types="$types f32" ;;
    --reps) reps="$2"; shift ;;
    --dir) dir="$2"; shift ;;
    *) echo "standard.sh: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done
vocab="$root/../shared/models/tokenizer.bin"
for f in "$bin/calgae" "$bin/gen_model" "$vocab"; do
    [ -e "$f" ] || { echo "standard.sh: $f is missing (build first: cmake -B build && cmake --build build)" >&2; exit 1; }
done
mkdir -p "$dir"

echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -n), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
"$bin/calgae" bench --bandwidth --threads 1,2
for t in $types; do
    model="$dir/tinyllama-$t.gguf"
    [ -s "$model" ] || "$bin/gen_model" --shape tinyllama --type "$t" --vocab "$vocab" --out "$model"
    backends=all
    [ "$t" = f32 ] && backends=scalar,avx2,blas
    echo
    echo "## $t: calgae"
    "$bin/calgae" bench --model "$model" --backend "$backends" -p 128 -n 64 -r "$reps" --threads 1,2
    if [ -n "${LLAMA_BENCH:-}" ]; then
        echo
        echo "## $t: llama.cpp ($LLAMA_BENCH)"
        "$LLAMA_BENCH" -m "$model" -p 128 -n 64 -r "$reps" -t 1,2 2>/dev/null
    fi
done
