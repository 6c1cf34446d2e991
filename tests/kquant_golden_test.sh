#!/bin/sh
# kquant_golden_test.sh - our quantizers against llama-quantize's bytes: remake the golden file's
# F32 source with bench/gen_model (seeded, so the same floats; its sha256 is in
# tests/golden/kquants/README.md and checked here) and compare every matrix of
# tests/golden/kquants/ci-kblocks-mixed.gguf, type by type (tests/kquant_golden.c).
# Environment: CALGAE_GEN_MODEL, CALGAE_KQUANT_GOLDEN (the comparer), CALGAE_MODELS, CALGAE_TEST_TMP.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
tmp="$CALGAE_TEST_TMP/kquant_golden"
mkdir -p "$tmp"
src="$tmp/ci-kblocks-f32.gguf"
"$CALGAE_GEN_MODEL" --shape ci-kblocks --type f32 --vocab "$CALGAE_MODELS/tok512.bin" \
    --out "$src" --seed 11 >/dev/null
want=0f09d494cc4eef9708b74e4bfbb8e40c758fd8dc80af9db7e11e804cc8f26e53
got=$(sha256sum "$src" | cut -d' ' -f1)
if [ "$got" != "$want" ]; then
    echo "FAIL gen_model no longer makes the golden file's source (sha256 $got)"
    exit 1
fi
"$CALGAE_KQUANT_GOLDEN" "$here/golden/kquants/ci-kblocks-mixed.gguf" "$src"
