# test_backend.sh - sourced by the end-to-end text tests (cli_golden, prompt_golden) to run them
# with one plugin first: with CALGAE_TEST_BACKEND set to a plugin file, sets BACKEND_ARGS to
# (--backend FILE) and BACKEND_LABEL to its name, after checking that the plugin really serves a
# run (a probe that refuses this CPU exits 77, ctest's "Skipped", saying why; a plugin that loads
# but leaves the run to others is a failure). Unset: BACKEND_ARGS is empty (the automatic choice).
BACKEND_ARGS=()
BACKEND_LABEL=auto
if [ -n "${CALGAE_TEST_BACKEND:-}" ]; then
    _so=$CALGAE_TEST_BACKEND
    _err=$("$CALGAE_BIN" run --model "$CALGAE_MODELS/stories260K.gguf" --tokens 1 --temperature 0 \
        --backend "$_so" --verbose 2>&1 >/dev/null)
    _rc=$?
    if grep -qF "plugin $_so refused: " <<<"$_err"; then
        echo "SKIPPED: $(grep -F "plugin $_so refused: " <<<"$_err")"
        exit 77
    fi
    _name=$(grep -F "plugin $_so loaded: " <<<"$_err" | sed 's/.* loaded: \([^ ]*\) .*/\1/')
    if [ "$_rc" -ne 0 ] || [ -z "$_name" ] || ! grep -Eq ", backend $_name(\+[a-z0-9_+-]*)?, threads " <<<"$_err"; then
        echo "FAIL: --backend $_so does not serve the run (exit $_rc):"
        echo "$_err"
        exit 1
    fi
    BACKEND_ARGS=(--backend "$_so")
    BACKEND_LABEL=$_name
    echo "backend: $_name ($_so)"
fi
