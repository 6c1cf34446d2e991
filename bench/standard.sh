#!/bin/sh
# standard.sh - the standard benchmark set: TinyLlama-shaped random-weight GGUF files (bench/
# gen_model) in Q4_0 and Q8_0 (and F32 with --f32), every backend at 1 and 2 threads through
# `calgae bench`, and, when LLAMA_BENCH names a llama.cpp llama-bench binary, llama.cpp on the
# same files in the same run, alternating the programs file by file so that all see the same
# machine load (IK_BENCH adds ik_llama.cpp's llama-bench the same way). With LLAMA_QUANTIZE (a
# llama-quantize binary) the Q4_0 and Q8_0 files are made by llama.cpp from the F32 one with
# --pure, so every program reads the bytes llama.cpp itself writes. Benchmarks, not tests:
# nothing here passes or fails on speed.
#
#   bench/standard.sh [--f32] [--reps N] [--dir DIR]        (from the repository root, after
#                                                            building into build/)
#   LLAMA_BENCH=/path/to/llama-bench [IK_BENCH=...] [LLAMA_QUANTIZE=...] bench/standard.sh
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

# the machine kind: results hold only for the CPU they were measured on
cpu=$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
isa=$(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -E '^(avx2|avx512f|avx512bw|avx512_vnni|avx512_bf16)$' | tr '\n' ' ')
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -n), $(nproc) CPUs ($cpu; $isa), load average $(cut -d' ' -f1-3 /proc/loadavg)"
"$bin/calgae" bench --bandwidth --threads 1,2
avx512=
grep -qw avx512f /proc/cpuinfo && grep -qw avx512bw /proc/cpuinfo && avx512=,avx512
for t in $types; do
    model="$dir/tinyllama-$t.gguf"
    if [ ! -s "$model" ] && [ -n "${LLAMA_QUANTIZE:-}" ] && [ "$t" != f32 ]; then
        f32="$dir/tinyllama-f32.gguf"
        [ -s "$f32" ] || "$bin/gen_model" --shape tinyllama --type f32 --vocab "$vocab" --out "$f32"
        "$LLAMA_QUANTIZE" --pure "$f32" "$model" "$(echo "$t" | tr a-z A-Z)" >/dev/null 2>&1
    fi
    [ -s "$model" ] || "$bin/gen_model" --shape tinyllama --type "$t" --vocab "$vocab" --out "$model"
    backends=all
    [ "$t" = f32 ] && backends="avx2,blas$avx512"
    echo
    echo "## $t: calgae"
    "$bin/calgae" bench --model "$model" --backend "$backends" -p 128 -n 64 -r "$reps" --threads 1,2
    if [ -n "${LLAMA_BENCH:-}" ]; then
        echo
        echo "## $t: llama.cpp ($LLAMA_BENCH)"
        "$LLAMA_BENCH" -m "$model" -p 128 -n 64 -r "$reps" -t 1,2 2>/dev/null
    fi
    if [ -n "${IK_BENCH:-}" ]; then
        echo
        echo "## $t: ik_llama.cpp ($IK_BENCH)"
        "$IK_BENCH" -m "$model" -p 128 -n 64 -r "$reps" -t 1,2 2>/dev/null
    fi
done
