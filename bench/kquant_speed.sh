#!/bin/sh
# kquant_speed.sh - issue 11's speed table: Q4_K_M and Q6_K files made by llama.cpp's own
# llama-quantize, `calgae bench` (automatic backend) against llama.cpp's llama-bench, pp128 and
# tg64 at 1 and 2 threads, with the memory read bandwidth (`calgae bench --bandwidth`) measured
# in every round. The programs alternate test by test and round by round, so all see the same
# machine load; the table gives medians over the rounds and the ratios of the medians, then
# generation as a share of the bandwidth (tokens/s times the weight bytes a token reads, which
# calgae bench reports, over the median bandwidth at that thread count).
# A benchmark, not a test: nothing here passes or fails on speed.
#
#   LLAMA_BENCH=/tmp/llamacpp/bin/llama-bench bench/kquant_speed.sh [--rounds N] [--reps N]
#       [--calgae DIR]... FILE.gguf...
#
# --calgae names a build folder (holding bin/calgae), repeatable to put two builds side by side
# (a baseline and a change); default: this repository's build/. Make the files with
#   llama-quantize tinyllama-f32.gguf /tmp/tl-q4km.gguf Q4_K_M   (and Q6_K)
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
rounds=3
reps=3
builds=
while [ $# -gt 0 ]; do
    case "$1" in
    --rounds) rounds="$2"; shift ;;
    --reps) reps="$2"; shift ;;
    --calgae) builds="$builds $2"; shift ;;
    -*) echo "kquant_speed.sh: unknown argument $1" >&2; exit 2 ;;
    *) break ;;
    esac
    shift
done
[ $# -gt 0 ] || { echo "kquant_speed.sh: name at least one GGUF file" >&2; exit 2; }
[ -n "$builds" ] || builds="$root/build"
first=$(echo $builds | cut -d' ' -f1) # the bandwidth probe's build
for b in $builds; do
    [ -x "$b/bin/calgae" ] || { echo "kquant_speed.sh: $b/bin/calgae is missing" >&2; exit 1; }
done
[ -z "${LLAMA_BENCH:-}" ] || [ -x "$LLAMA_BENCH" ] || { echo "kquant_speed.sh: LLAMA_BENCH=$LLAMA_BENCH is not executable" >&2; exit 1; }

raw=$(mktemp /tmp/kquant_speed.XXXXXX)
trap 'rm -f "$raw"' EXIT
cpu=$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs ($cpu), load average at start $(cut -d' ' -f1-3 /proc/loadavg)"

# raw lines: program file threads test tokens/s
r=1
while [ "$r" -le "$rounds" ]; do
    for t in 1 2; do
        bw=$("$first/bin/calgae" bench --bandwidth --threads "$t" 2>&1 | sed -n 's/.*: \([0-9.]*\) GB\/s.*/\1/p')
        echo "bandwidth - $t GB/s $bw" >>"$raw"
    done
    for f in "$@"; do
        name=$(basename "$f" .gguf)
        for t in 1 2; do
            for b in $builds; do
                "$b/bin/calgae" bench -m "$f" --backend auto -p 128 -n 64 -r "$reps" -t "$t" -o csv 2>/dev/null |
                    awk -F, -v p="calgae:$b" -v n="$name" 'NR > 1 { print p, n, $(NF-5), $(NF-4), $(NF-3)
                        if ($(NF-4) ~ /^tg/ && $(NF-3) > 0) print "bytes", n, $(NF-5), $(NF-4), $(NF-1) / $(NF-3) }' >>"$raw"
            done
            if [ -n "${LLAMA_BENCH:-}" ]; then
                "$LLAMA_BENCH" -m "$f" -p 128 -n 64 -r "$reps" -t "$t" -o csv 2>/dev/null |
                    awk -F, -v n="$name" 'NR > 1 { gsub(/"/, ""); test = ($(NF-7) > 0) ? "pp" $(NF-7) : "tg" $(NF-6);
                                          print "llama.cpp", n, $12, test, $(NF-1) }' >>"$raw"
            fi
        done
    done
    echo "# round $r done, load average $(cut -d' ' -f1-3 /proc/loadavg)"
    r=$((r + 1))
done

# medians per (program, file, threads, test), then each program's ratio to llama.cpp
/usr/bin/python3 - "$raw" <<'EOF'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    prog, name, threads, test, val = line.split()
    runs.setdefault((prog, name, threads, test), []).append(float(val))
med = {k: statistics.median(v) for k, v in runs.items()}
bw = {k[2]: v for k, v in med.items() if k[0] == "bandwidth"}
print("\nbandwidth (median GB/s): " + ", ".join(f"{t} thread(s) {v:.1f}" for t, v in sorted(bw.items())))
progs = sorted({k[0] for k in med if k[0] not in ("bandwidth", "bytes", "llama.cpp")})
print("\n| file | test | threads | " + " | ".join(progs) + " | llama.cpp | " +
      " | ".join("ratio " + str(i + 1) for i in range(len(progs))) + " |")
print("|---" * (4 + 2 * len(progs)) + "|")
for (prog, name, threads, test) in sorted(k for k in med if k[0] == "llama.cpp"):
    ref = med[(prog, name, threads, test)]
    vals = [med.get((p, name, threads, test), float("nan")) for p in progs]
    print(f"| {name} | {test} | {threads} | " + " | ".join(f"{v:.1f}" for v in vals) +
          f" | {ref:.1f} | " + " | ".join(f"{v / ref:.2f}" for v in vals) + " |")
for i, p in enumerate(progs):
    print(f"ratio {i + 1}: {p} / llama.cpp")
# generation as a share of the bandwidth measured in the same rounds: tokens/s times the bytes a
# token reads, calgae's count for every program (its prepared layouts are ~3% above the file's, so
# llama.cpp's share is slightly overstated)
gb = {(k[1], k[2], k[3]): v for k, v in med.items() if k[0] == "bytes"}
if gb:
    print("\n| file | test | threads | " + " | ".join(f"{p} % bw" for p in progs + ["llama.cpp"]) + " |")
    print("|---" * (4 + len(progs)) + "|")
    for (name, threads, test), per_tok in sorted(gb.items()):
        cells = []
        for p in progs + ["llama.cpp"]:
            v = med.get((p, name, threads, test))
            cells.append(f"{100 * v * per_tok / bw[threads]:.0f}" if v and bw.get(threads) else "-")
        print(f"| {name} | {test} | {threads} | " + " | ".join(cells) + " |")
EOF
