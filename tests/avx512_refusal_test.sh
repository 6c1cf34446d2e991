#!/usr/bin/env bash
# avx512_refusal_test.sh - the AVX-512 plugin end to end, on whatever CPU runs the tests.
#
#   avx512_refusal_test.sh              `calgae run --backend avx512`: on a CPU without AVX-512
#                                       (per /proc/cpuinfo) the probe must refuse it with exactly
#                                       one stderr line naming the .so and "cannot run it" (and
#                                       what is missing), and the run stops there: exit 2 (a
#                                       backend asked for that can't be used), nothing on stdout.
#                                       On a CPU with AVX-512 the plugin must instead be accepted
#                                       and serve the run with llama2.c's golden text.
#                                       Either way, the code that runs before the probe's verdict
#                                       (entry point, probe) must hold no AVX/AVX-512 instruction
#                                       (objdump), so no CPU can SIGILL there.
#   avx512_refusal_test.sh simde FILE   the SIMDe-emulated build of the same kernels: golden text
#                                       through both dot-product paths (CALGAE_AVX512_VNNI=1, 0);
#                                       Q8_0/Q4_0/Q4_1 conversions of the model giving the scalar
#                                       plugin's logits (token by token and batched); and a prompt
#                                       (prompt processing runs the matmul kernels) giving the
#                                       scalar plugin's text.
#
# Run by ctest (tests/CMakeLists.txt) with CALGAE_BIN, CALGAE_MODELS, CALGAE_TEST_TMP and
# CALGAE_PLUGIN_DIR (the real plugin folder) set, and CALGAE_PLUGIN_PATH empty.
set -u

for v in CALGAE_BIN CALGAE_MODELS CALGAE_TEST_TMP CALGAE_PLUGIN_DIR; do
    if [ -z "${!v:-}" ]; then
        echo "FAIL: $v is not set (run through ctest)" >&2
        exit 1
    fi
done

M=$CALGAE_MODELS
expected="$M/expected_stories260K_t0_n200.txt"
tmp="$CALGAE_TEST_TMP/avx512.$$"
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
failures=0

fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}

show_err() {
    echo "--- stderr:"
    cat "$tmp/err"
    echo "---"
}

# run BACKEND [ARGS...]: greedy 200 tokens from the GGUF, stdout and stderr to files; returns rc.
run() {
    local backend=$1
    shift
    "$CALGAE_BIN" run --model "$M/stories260K.gguf" --temperature 0 --tokens 200 \
        --backend "$backend" "$@" >"$tmp/out" 2>"$tmp/err"
}

check_golden() { # what rc
    if [ "$2" -ne 0 ]; then
        fail "$1: exit status $2"
        show_err
    elif ! cmp -s "$tmp/out" "$expected"; then
        fail "$1: stdout differs from $expected"
        diff "$expected" "$tmp/out" | head -5
    else
        echo "ok   $1: golden text"
    fi
}

stats_backend() { # the "backend X" field of the stats line
    sed -n 's/^calgae: load .*, backend \([^,]*\),.*/\1/p' "$tmp/err"
}

cpu_has() { # flag: listed in /proc/cpuinfo (Linux lists AVX-512 only when it saves its state)
    grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -qx "$1"
}

# Functions of the plugin that run before the probe has answered; none may use ymm/zmm/opmask.
check_no_simd_before_probe() {
    local so=$1 funcs='calgae_plugin_entry|use_vnni|calgae_avx512_probe|calgae_avx512_verdict|read_cpu|read_xcr0|calgae_avx512_cpu_has_vnni'
    if ! command -v objdump >/dev/null; then
        fail "objdump not found (install binutils): cannot check $so's entry point and probe"
        return
    fi
    objdump -d --no-show-raw-insn "$so" | awk -v re="^[0-9a-f]+ <($funcs)>:\$" '
        /^[0-9a-f]+ <.*>:$/ { keep = ($0 ~ re); if (keep) print; next }
        keep && NF { print }' >"$tmp/disasm"
    local n_funcs bad
    n_funcs=$(grep -c '>:$' "$tmp/disasm")
    bad=$(grep -E '%(ymm|zmm)[0-9]+|%k[0-7]\b' "$tmp/disasm" | head -3)
    if [ "$n_funcs" -lt 2 ]; then
        fail "objdump found only $n_funcs of the entry/probe functions in $so (stripped?)"
    elif [ -n "$bad" ]; then
        fail "$so: AVX/AVX-512 instructions in code that runs before the probe:"
        echo "$bad"
    else
        echo "ok   $so: entry point and probe ($n_funcs functions) use no AVX/AVX-512 registers"
    fi
}

if [ "${1:-}" = simde ]; then
    so=${2:?usage: $0 simde FILE.so}
    for vnni in 1 0; do
        CALGAE_AVX512_VNNI=$vnni run "$so"
        rc=$?
        check_golden "--backend $so (CALGAE_AVX512_VNNI=$vnni)" "$rc"
        if [ "$(stats_backend)" != avx512-simde ]; then
            fail "CALGAE_AVX512_VNNI=$vnni: want every slot served by avx512-simde, stats line says '$(stats_backend)'"
            show_err
        fi
    done
    # The golden model is F32: convert it to each block type (dim 64 is whole blocks; the
    # 172-wide FFN rows stay F32) and compare a prompt's logits with the scalar plugin's,
    # one token at a time (matvec) and as one batch (matmul). Activations are quantized bit
    # for bit alike, so only the order of float sums may differ: 1e-4 of the largest logit.
    for t in q8_0 q4_0 q4_1; do
        if ! "$CALGAE_BIN" convert --model "$M/stories260K.gguf" --out "$tmp/$t.gguf" --type "$t" \
            >/dev/null 2>"$tmp/err"; then
            fail "convert to $t"
            show_err
            continue
        fi
        for case in "1 1" "64 1" "1 0" "64 0"; do
            read -r batch vnni <<<"$case"
            for b in scalar "$so"; do
                CALGAE_AVX512_VNNI=$vnni "$CALGAE_BIN" logits --model "$tmp/$t.gguf" \
                    --batch "$batch" --backend "$b" --out "$tmp/logits.${b##*/}" \
                    --prompt "Tom and Lily went to the park. They saw a big red ball" \
                    >/dev/null 2>"$tmp/err" || { fail "$t logits with --backend $b"; show_err; }
            done
            verdict=$(paste <(od -An -v -tf4 -w4 "$tmp/logits.scalar") \
                <(od -An -v -tf4 -w4 "$tmp/logits.${so##*/}") | awk '
                { d = $1 - $2; d = d < 0 ? -d : d; a = $1 < 0 ? -$1 : $1; n++
                  if (d > md || d != d) md = d; if (a > ma) ma = a }
                END { ok = n > 0 && md <= 1e-4 * ma
                      printf "%s %d logits, max |diff| %.3g, max |logit| %.3g", ok ? "ok" : "bad", n, md, ma }')
            if [ "${verdict%% *}" = ok ]; then
                echo "ok   $t logits, batch $batch, VNNI $vnni, against scalar: ${verdict#ok }"
            else
                fail "$t logits, batch $batch, VNNI $vnni, against scalar: ${verdict#bad }"
            fi
        done
    done
    prompt="Tom and Lily went to the park"
    for b in scalar "$so"; do
        "$CALGAE_BIN" run --model "$M/stories260K.gguf" --prompt "$prompt" --temperature 0 \
            --tokens 100 --backend "$b" >"$tmp/prompt.${b##*/}" 2>"$tmp/err" ||
            { fail "--prompt with --backend $b: exit status $?"; show_err; }
    done
    if cmp -s "$tmp/prompt.scalar" "$tmp/prompt.${so##*/}"; then
        echo "ok   --prompt '$prompt': same text as the scalar plugin"
    else
        fail "--prompt '$prompt': text differs from the scalar plugin's"
        diff "$tmp/prompt.scalar" "$tmp/prompt.${so##*/}" | head -5
    fi
else
    so="$CALGAE_PLUGIN_DIR/calgae-avx512.so"
    if [ ! -f "$so" ]; then
        fail "$so was not built"
    else
        check_no_simd_before_probe "$so"
    fi
    run avx512
    rc=$?
    n_refused=$(grep -c ' refused: ' "$tmp/err")
    if cpu_has avx512f && cpu_has avx512bw; then
        check_golden "--backend avx512" "$rc"
        # a CPU that can run it: accepted, and serving the run
        if [ "$n_refused" -ne 0 ] || [ "$(stats_backend | cut -d+ -f1)" != avx512 ]; then
            fail "this CPU has avx512f and avx512bw, but the plugin was not the one used"
            show_err
        else
            echo "ok   --backend avx512 accepted on this AVX-512 CPU ($(stats_backend))"
        fi
    else
        lacks=avx512f
        cpu_has avx512f && lacks=avx512bw
        line=$(grep ' refused: ' "$tmp/err")
        # asked for by name and refused: an error (exit 2), never a run on other plugins
        if [ "$rc" -ne 2 ] || [ -s "$tmp/out" ]; then
            fail "--backend avx512 refused: exit status $rc (want 2), $(wc -c <"$tmp/out") bytes on stdout (want none)"
            show_err
        elif [ "$n_refused" -ne 1 ]; then
            fail "want exactly one refusal line on stderr, got $n_refused"
            show_err
        elif ! grep -q 'calgae-avx512\.so refused: .*cannot run it' <<<"$line" ||
            ! grep -qF "CPU lacks $lacks" <<<"$line"; then
            fail "the refusal line must name calgae-avx512.so, say 'cannot run it' and 'CPU lacks $lacks': $line"
        elif stats_backend | grep -q avx512; then
            fail "refused, yet the stats line names avx512: $(stats_backend)"
        else
            echo "ok   refused with one line: $line"
        fi
    fi
fi

if [ "$failures" -ne 0 ]; then
    echo "avx512_refusal_test: $failures failure(s)"
    exit 1
fi
echo "avx512_refusal_test: all passed"
