#!/usr/bin/env bash
# kld_table.sh - Calgae against llama.cpp on the same GGUF files, per type (issue 11 item 5):
# between-program KLD and top-1 agreement (llama-perplexity writes the logits file of each
# quantized model, `calgae perplexity --kl-divergence` reads it), and both programs' KLD from the
# F32 model (each reading llama-perplexity's F32 logits file), with their ratio.
#
# usage: bench/kld_table.sh CALGAE F32.gguf TEXT CTX CHUNKS WORKDIR [TYPE...]
#   LLAMA_BIN (default /tmp/llamacpp/bin) holds llama-quantize and llama-perplexity.
#   LLAMA_EXTRA: extra llama-perplexity options for the between-program column's base files
#   (e.g. "-fa off -ctk f32 -ctv f32": llama.cpp's path with an F32 KV cache, as Calgae's).
# Every run uses one thread. The quantized files are llama-quantize's (no importance matrix).
set -eu
C=$1 F32=$2 TEXT=$3 CTX=$4 CHUNKS=$5 W=$6
shift 6
TYPES=${*:-F32 F16 BF16 Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 Q2_K Q3_K_M Q4_K_M Q5_K_M Q6_K IQ4_NL IQ4_XS}
L=${LLAMA_BIN:-/tmp/llamacpp/bin}
EXTRA=${LLAMA_EXTRA:-}
mkdir -p "$W"
num() { grep -aoE "$1 *: +[-0-9.]+" "$2" | head -1 | awk '{print $NF}'; }
"$L/llama-perplexity" -m "$F32" -f "$TEXT" -c "$CTX" --chunks "$CHUNKS" -t 1 \
    --kl-divergence-base "$W/f32.kld" >"$W/f32.log" 2>&1
printf '| type | between KLD | same top-1 %% | llama KLD from F32 | calgae KLD from F32 | ratio |\n'
printf '|---|---|---|---|---|---|\n'
for t in $TYPES; do
    q=$W/$t.gguf
    [ -f "$q" ] || "$L/llama-quantize" "$F32" "$q" "$t" >"$W/$t.quant.log" 2>&1
    # shellcheck disable=SC2086
    "$L/llama-perplexity" -m "$q" -f "$TEXT" -c "$CTX" --chunks "$CHUNKS" -t 1 $EXTRA \
        --kl-divergence-base "$W/$t.kld" >"$W/$t.base.log" 2>&1
    "$C" perplexity --model "$q" --threads 1 --kl-divergence-base "$W/$t.kld" --kl-divergence \
        >"$W/$t.between" 2>&1
    # now and then (under load) llama-perplexity ends without its summary: up to 3 tries
    for _ in 1 2 3; do
        "$L/llama-perplexity" -m "$q" -c "$CTX" -t 1 --kl-divergence-base "$W/f32.kld" \
            --kl-divergence >"$W/$t.llama_f32.log" 2>&1
        grep -aqE "Mean +KLD" "$W/$t.llama_f32.log" && break
    done
    "$C" perplexity --model "$q" --threads 1 --kl-divergence-base "$W/f32.kld" --kl-divergence \
        >"$W/$t.calgae_f32" 2>&1
    bk=$(num "Mean +KLD" "$W/$t.between")
    bt=$(num "Same top p" "$W/$t.between")
    lk=$(num "Mean +KLD" "$W/$t.llama_f32.log")
    ck=$(num "Mean +KLD" "$W/$t.calgae_f32")
    ratio=$(awk -v a="$ck" -v b="$lk" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "-" }')
    printf '| %s | %s | %s | %s | %s | %s |\n' "$t" "$bk" "$bt" "$lk" "$ck" "$ratio"
done
