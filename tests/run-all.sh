#!/usr/bin/env bash
# run-all.sh - the whole test suite, twice: an optimised gcc build, then a clang build with
# AddressSanitizer + UndefinedBehaviorSanitizer. Run from the repository root; the shared
# models are read from ../shared (override with CALGAE_SHARED_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${CALGAE_SHARED_DIR:-$(pwd)/../shared}
jobs=$(nproc)

echo "== gcc, -O2 =="
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=gcc -DCALGAE_SHARED_DIR="$shared"
cmake --build build -j "$jobs"
ctest --test-dir build --output-on-failure -j "$jobs"

echo "== clang, ASan + UBSan =="
# the proofs read the sources, not a build: the gcc pass has run them already
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang -DCALGAE_SANITIZE=ON \
    -DCALGAE_PROOFS=OFF -DCALGAE_SHARED_DIR="$shared"
cmake --build build-asan -j "$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan --output-on-failure -j "$jobs"
