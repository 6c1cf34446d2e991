#!/usr/bin/env bash
# shared_checksums.sh - the shared test files must be the ones ../shared/models/README.md
# describes: each file's sha256 against the sum that README lists (copied here, so a file and
# the README changed together still fail). The README abbreviates some sums to their first 8
# hex digits (the tokenizer test vectors, llama2.c's golden texts): for those only that prefix
# is checked. ctest runs this as the setup of the "shared_data" fixture, which every test that
# reads the shared files requires, so a corrupt or replaced file stops them with this message
# instead of a puzzling mismatch later.
set -u
: "${CALGAE_MODELS:?}"
fail=0
n=0
check() { # file, full sum or 8-digit prefix
    local f=$CALGAE_MODELS/$1 want=$2 got
    n=$((n + 1))
    if [ ! -f "$f" ]; then
        echo "FAIL $1: missing from $CALGAE_MODELS (see its README.md)"
        fail=$((fail + 1))
        return
    fi
    got=$(sha256sum "$f" | cut -d' ' -f1)
    if [ "${got:0:${#want}}" = "$want" ]; then
        echo "ok   $1$([ ${#want} -lt 64 ] && echo " (prefix $want: the README lists no more)")"
    else
        echo "FAIL $1: sha256 $got, but ../shared/models/README.md lists $want$([ ${#want} -lt 64 ] && echo "...")"
        echo "     this is not the file the tests were written for: restore it from its source"
        fail=$((fail + 1))
    fi
}
check stories260K.gguf 270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d
check stories260K.bin b0a507e7ad0f626624f17112325e66691f9076d622e1d3274d103d00299f2696
check tok512.bin 037cb335abb25d1fa9e8ecae30ed2a3a8ace9302862ebcdc05d51a6bbb10c312
check tokenizer.bin 50a52ef822ee9e83de5ce9d0be0a025a773d019437f58b5ff9dcafb063ece361
check ggml-vocab-llama-spm.gguf 16c3724582d59aa8bf84711894e833f916ee46a31d80e21312759c48bf8d0e69
check ggml-vocab-llama-spm.gguf.inp ef7a25a2
check ggml-vocab-llama-spm.gguf.out ea602819
check ggml-vocab-llama-bpe.gguf 97272e430d53bc7688f52d5e0ad8ea8f163ede9f1bbd1694feaa504797d5d96e
check ggml-vocab-qwen2.gguf 44c2f46b715f585c6ab513970e8a006bfa5badd6108560054921cf598d154d8c
check ggml-vocab-gpt-2.gguf cedc56ca6e2e89f63e781696d1fd76b4b1d49e6720dee86463e915f6e90016ac
for v in llama-bpe qwen2 gpt-2; do
    check "ggml-vocab-$v.gguf.inp" be0a11f7
done
check ggml-vocab-llama-bpe.gguf.out 118abf20
check ggml-vocab-qwen2.gguf.out de785bb3
check ggml-vocab-gpt-2.gguf.out 48e8c4cb
check expected_stories260K_t0_n200.txt f5a0e67d
check expected_stories260K_t0_n256.txt a3213f9e
echo "$((n - fail)) of $n files match the README's sums"
[ "$fail" -eq 0 ]
