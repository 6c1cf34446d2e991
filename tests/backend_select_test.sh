#!/usr/bin/env bash
# backend_select_test.sh - choosing plugins through calgae.ini and the command line, end to end:
# `calgae backends` lists scalar as usable, a deny list that leaves a slot empty is a clear
# error, --backend and --threads beat the file's [run] keys, [kernels] shows in the listing,
# the file is found by --config > $CALGAE_CONFIG > ./calgae.ini > XDG (only one is read), a
# missing named file and a bad file exit 2 with FILE:LINE, a backend asked for that cannot be
# used (missing, refused or unknown, in the file or on the command line) exits 2 too, and
# greedy text through every usable
# plugin is llama2.c's golden text byte for byte.
#
# Only the scalar plugin is certain to be built: the other plugin names come from the listing.
# Run by ctest (tests/CMakeLists.txt) with CALGAE_BIN, CALGAE_MODELS and CALGAE_TEST_TMP set.
set -u

for v in CALGAE_BIN CALGAE_MODELS CALGAE_TEST_TMP; do
    if [ -z "${!v:-}" ]; then
        echo "FAIL: $v is not set (run through ctest)" >&2
        exit 1
    fi
done

tmp="$CALGAE_TEST_TMP/backend_select"
rm -rf "$tmp"
mkdir -p "$tmp/home" "$tmp/work" "$tmp/xdg/calgae" "$tmp/named"
# nothing from the caller's own configuration may leak in
export HOME="$tmp/home"
unset XDG_CONFIG_HOME CALGAE_CONFIG
cd "$tmp/work" || exit 1

expected="$CALGAE_MODELS/expected_stories260K_t0_n200.txt"
failures=0

fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}

show() {
    echo "--- stdout:" >&2
    head -40 "$tmp/out" >&2
    echo "--- stderr:" >&2
    head -20 "$tmp/err" >&2
    echo "---" >&2
}

backends() {
    "$CALGAE_BIN" backends "$@" >"$tmp/out" 2>"$tmp/err"
}

run() {
    "$CALGAE_BIN" run --model "$CALGAE_MODELS/stories260K.bin" \
        --tokenizer "$CALGAE_MODELS/tok512.bin" --temperature 0 --tokens 200 "$@" \
        >"$tmp/out" 2>"$tmp/err"
}

# The listing's table rows (up to the blank line after the header), and its slot lines.
rows() { awk '/^NAME /{t=1; next} t && /^$/{exit} t && /^[^ ]/' "$tmp/out"; }
slots() { awk '/^Kernel slots/{t=1; next} t' "$tmp/out"; }
usable_names() { rows | awk '$6 == "yes" {print $1}'; }

# want_status WHAT RC WANT: the exit status, with the output on failure.
want_status() {
    if [ "$2" -ne "$3" ]; then
        fail "$1: exit status $2, want $3"
        show
        return 1
    fi
}

# want_err WHAT TEXT: stderr contains TEXT.
want_err() {
    if ! grep -qF -- "$2" "$tmp/err"; then
        fail "$1: stderr lacks \"$2\""
        show
    fi
}

golden() {
    if ! cmp -s "$tmp/out" "$expected"; then
        fail "$1: stdout differs from $expected"
        diff "$expected" "$tmp/out" | head -5 >&2
    fi
}

ini() { printf '%b' "$2" >"$1"; }

# ---- the plain listing ----
backends
want_status "backends" $? 0
mapfile -t usable < <(usable_names)
n_slots=$(slots | grep -c -- ' -> ')
echo "usable plugins: ${usable[*]:-none}; $n_slots kernel slots"
if ! printf '%s\n' "${usable[@]}" | grep -qx scalar; then
    fail "backends: scalar is not listed as usable"
    show
fi
if [ "$n_slots" -lt 15 ]; then
    fail "backends: $n_slots slot lines, want one per slot"
    show
fi
# scalar serves every slot when it is alone, or when the file ranks it first
if [ "${#usable[@]}" -eq 1 ]; then
    cp "$tmp/out" "$tmp/alone"
fi
ini calgae.ini '[plugins]\norder = scalar\n'
backends
want_status "backends, order = scalar" $? 0
if [ "$(slots | grep -c -- ' -> scalar')" -ne "$n_slots" ]; then
    fail "order = scalar: some slot is not served by scalar"
    show
fi
if ! rows | awk -v n="$n_slots" '$1 == "scalar" && $6 == "yes" && $8 == n "/" n {ok=1} END {exit !ok}'; then
    fail "order = scalar: the scalar row does not say usable, serving $n_slots/$n_slots"
    show
fi
rm -f calgae.ini

"$CALGAE_BIN" backends --help >"$tmp/out" 2>"$tmp/err"
want_status "backends --help" $? 0
grep -qF -- "--config FILE" "$tmp/out" || fail "backends --help does not mention --config"
# `backends verify` belongs to cmd_verify.c, not to the listing's option parser
"$CALGAE_BIN" backends verify "$tmp/none.so" >"$tmp/out" 2>"$tmp/err"
if grep -qF "calgae backends --help" "$tmp/err"; then
    fail "backends verify was parsed as listing options"
    show
fi

# ---- a deny list that leaves a slot with no plugin ----
ini calgae.ini '[plugins]\ndeny = scalar\n'
backends
rc=$?
if [ "${#usable[@]}" -eq 1 ]; then
    want_status "deny = scalar (scalar alone)" $rc 2 &&
        want_err "deny = scalar" "./calgae.ini:2: deny leaves no plugin for kernel"
elif [ $rc -eq 0 ]; then
    # another plugin provides every slot: scalar is listed, denied
    grep -qF "denied by ./calgae.ini:2" "$tmp/out" || { fail "deny = scalar: not shown as denied"; show; }
else
    want_status "deny = scalar" $rc 2 && want_err "deny = scalar" "deny leaves no plugin for kernel"
fi
deny_all=$(IFS=,; echo "${usable[*]}")
ini calgae.ini "[plugins]\ndeny = $deny_all\n"
backends
want_status "deny = $deny_all" $? 2 &&
    want_err "deny = $deny_all" "./calgae.ini:2: deny leaves no plugin for kernel"
run
want_status "run, deny = $deny_all" $? 2 &&
    want_err "run, deny = $deny_all" "./calgae.ini:2: deny leaves no plugin for kernel"
# the command line still wins over the deny list
run --backend scalar
want_status "run --backend scalar, deny = $deny_all" $? 0 && golden "run --backend scalar, deny all"
rm -f calgae.ini

# ---- the command line beats [run] ----
# a backend the file asks for that can't be used is an error (exit 2, as on the command line),
# naming the file and line, never a quiet run on other plugins
ini calgae.ini '[run]\nbackend = nowhere/calgae-x.so\nthreads = 3\n'
run
want_status "[run] backend = a missing .so" $? 2 &&
    want_err "[run] backend = a missing .so" "./calgae.ini:2: [run] backend: plugin ./nowhere/calgae-x.so refused"
[ -s "$tmp/out" ] && fail "[run] backend = a missing .so: printed text"
run --backend nowhere/calgae-y.so
want_status "--backend a missing .so" $? 2 && want_err "--backend a missing .so" "calgae-y.so refused"
run --backend nosuch
want_status "--backend nosuch" $? 2 && want_err "--backend nosuch" "backend 'nosuch' not found"
ini calgae.ini '[run]\nthreads = 3\n'
run
want_status "[run] threads = 3" $? 0 && want_err "[run] threads = 3" "threads 3"
ini calgae.ini '[run]\nbackend = nowhere/calgae-x.so\nthreads = 3\n'
run --backend scalar --threads 2
want_status "--backend scalar over [run] backend" $? 0 && golden "--backend over [run] backend"
if grep -qF "calgae-x.so" "$tmp/err"; then
    fail "--backend scalar: the file's [run] backend was still tried"
    show
fi
want_err "--threads 2 over [run] threads" "threads 2"
want_err "--backend scalar" "backend scalar,"
for name in "${usable[@]}"; do
    [ "$name" = scalar ] && continue
    ini calgae.ini "[run]\nbackend = $name\n"
    run
    want_status "[run] backend = $name" $? 0 && want_err "[run] backend = $name" "backend $name"
    run --backend scalar
    want_status "--backend scalar over [run] backend = $name" $? 0 &&
        want_err "--backend scalar over $name" "backend scalar,"
done
rm -f calgae.ini

# ---- [kernels] ----
ini calgae.ini '[kernels]\nmatvec_f32 = scalar\n'
backends
want_status "[kernels] matvec_f32 = scalar" $? 0
if ! slots | grep -qE '^ +matvec_f32 +-> scalar( |$).*\[\./calgae\.ini:2\]'; then
    fail "[kernels] matvec_f32 = scalar: not in the listing"
    show
fi
rm -f calgae.ini

# ---- which file is read ----
CALGAE_CONFIG="$tmp/named/missing.ini" backends
want_status "CALGAE_CONFIG = a missing file" $? 2 &&
    want_err "CALGAE_CONFIG = a missing file" "$tmp/named/missing.ini: cannot open"
backends --config "$tmp/named/missing.ini"
want_status "--config a missing file" $? 2 &&
    want_err "--config a missing file" "$tmp/named/missing.ini: cannot open"
run --config "$tmp/named/missing.ini"
want_status "run --config a missing file" $? 2

backends
grep -qF "Configuration: none" "$tmp/out" || { fail "no file: not 'Configuration: none'"; show; }
mkdir -p "$HOME/.config/calgae"
ini "$HOME/.config/calgae/calgae.ini" '[kernels]\nrope = scalar\n'
backends
grep -qF "Configuration: $HOME/.config/calgae/calgae.ini (from the XDG" "$tmp/out" ||
    { fail "\$HOME/.config/calgae/calgae.ini not picked up"; show; }
slots | grep -qE '^ +rope +-> scalar.*calgae\.ini:2\]' || { fail "XDG file: [kernels] not applied"; show; }
ini "$tmp/xdg/calgae/calgae.ini" '[kernels]\nsoftmax = scalar\n'
XDG_CONFIG_HOME="$tmp/xdg" backends
grep -qF "Configuration: $tmp/xdg/calgae/calgae.ini" "$tmp/out" ||
    { fail "\$XDG_CONFIG_HOME/calgae/calgae.ini not picked up"; show; }
ini calgae.ini '[kernels]\nswiglu = scalar\n'
XDG_CONFIG_HOME="$tmp/xdg" backends
grep -qF "Configuration: ./calgae.ini (from the current folder)" "$tmp/out" ||
    { fail "./calgae.ini not picked up before the XDG file"; show; }
ini "$tmp/named/env.ini" '[kernels]\ndot_f32 = scalar\n'
ini "$tmp/named/flag.ini" '[kernels]\naxpy_f32 = scalar\n'
CALGAE_CONFIG="$tmp/named/env.ini" backends
grep -qF "Configuration: $tmp/named/env.ini (from \$CALGAE_CONFIG)" "$tmp/out" ||
    { fail "\$CALGAE_CONFIG not picked up before ./calgae.ini"; show; }
CALGAE_CONFIG="$tmp/named/env.ini" backends --config "$tmp/named/flag.ini"
grep -qF "Configuration: $tmp/named/flag.ini (from --config)" "$tmp/out" ||
    { fail "--config not picked up before \$CALGAE_CONFIG"; show; }
# only one file is read: a broken XDG file is never looked at while ./calgae.ini exists
ini "$HOME/.config/calgae/calgae.ini" '[nonsense]\n'
backends
want_status "a broken XDG file behind ./calgae.ini" $? 0
rm -f calgae.ini "$HOME/.config/calgae/calgae.ini"

# ---- bad files: exit 2, FILE:LINE ----
check_bad() {
    local what=$1 text=$2 want=$3
    ini "$tmp/named/bad.ini" "$text"
    backends --config "$tmp/named/bad.ini"
    want_status "backends, $what" $? 2 && want_err "backends, $what" "$tmp/named/bad.ini:$want"
    run --config "$tmp/named/bad.ini"
    want_status "run, $what" $? 2 && want_err "run, $what" "$tmp/named/bad.ini:$want"
}
check_bad "threads = 0" '[run]\nthreads = 0\n' "2: threads: '0'"
check_bad "threads = abc" '; x\n[run]\nthreads = abc\n' "3: threads: 'abc'"
check_bad "unknown section" '[runs]\n' "1: unknown section [runs]"
check_bad "unknown key" '[plugins]\nordre = scalar\n' "2: unknown key 'ordre'"
check_bad "unknown slot" '[kernels]\nmatvec = scalar\n' "2: unknown kernel slot 'matvec'"
check_bad "duplicate key" '[run]\nthreads = 1\nthreads = 2\n' "3: duplicate key 'threads'"
check_bad "unparsable line" '[run]\n\nthreads\n' "3: cannot parse"
check_bad "unknown backend in order" '[plugins]\norder = scalar, nosuch\n' \
    "2: unknown backend 'nosuch'"
check_bad "unknown backend in deny" '[plugins]\ndeny = nosuch\n' "2: unknown backend 'nosuch'"
check_bad "unknown backend in [kernels]" '[kernels]\nrope = nosuch\n' "2: unknown backend 'nosuch'"
check_bad "unknown backend in [run]" '[run]\nbackend = nosuch\n' "2: unknown backend 'nosuch'"
"$CALGAE_BIN" logits --model "$CALGAE_MODELS/stories260K.bin" --tokenizer \
    "$CALGAE_MODELS/tok512.bin" --ids 1,2 --out "$tmp/l.f32" --config "$tmp/named/bad.ini" \
    >"$tmp/out" 2>"$tmp/err"
want_status "logits, bad file" $? 2 && want_err "logits, bad file" "$tmp/named/bad.ini:2:"

# ---- golden text through each usable plugin, chosen by the file ----
for name in "${usable[@]}"; do
    ini calgae.ini "[run]\nbackend = $name\n"
    run
    want_status "[run] backend = $name" $? 0 && golden "[run] backend = $name"
    ini calgae.ini "[plugins]\norder = $name\n"
    run
    want_status "order = $name" $? 0 && golden "order = $name"
done
rm -f calgae.ini

if [ "$failures" -ne 0 ]; then
    echo "$failures failure(s)" >&2
    exit 1
fi
echo "backend selection: all checks passed (usable: ${usable[*]})"
