#!/usr/bin/python3
"""kquant_dequant_test.py - Calgae's dequantization of ggml's Q5_0, Q5_1, Q2_K..Q6_K, IQ4_NL,
IQ4_XS and BF16 against ref_kquants.py (numpy), on blocks llama-quantize wrote
(tests/golden/kquants/, provenance in its README): `calgae convert --type f32` widens every
matrix, and each must equal numpy's reading of the golden file bit for bit. Then `calgae run` on
the golden file must print text. Environment: CALGAE_BIN, CALGAE_TEST_TMP."""
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ref_llama as R  # noqa: E402
import ref_kquants as K  # noqa: E402

BIN = os.environ["CALGAE_BIN"]
TMP = os.path.join(os.environ["CALGAE_TEST_TMP"], "kquant_dequant")
GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden", "kquants",
                      "ci-kblocks-mixed.gguf")
failures = []


def check(what, cond, detail=""):
    print(("ok   " if cond else "FAIL ") + what + ("" if cond else ": " + detail))
    if not cond:
        failures.append(what)


def main():
    os.makedirs(TMP, exist_ok=True)
    _, gold = R.read_gguf(GOLDEN)
    seen = {t for _, t, _ in gold.values()}
    for t, (name, _, _) in K.TYPES.items():
        check("golden file holds a %s tensor" % name, t in seen)
    out = os.path.join(TMP, "widened.gguf")
    if os.path.exists(out):
        os.remove(out)
    r = subprocess.run([BIN, "convert", "--model", GOLDEN, "--type", "f32", "--out", out],
                       capture_output=True, text=True)
    check("calgae convert --type f32 succeeds", r.returncode == 0, r.stderr.strip())
    if r.returncode != 0:
        return
    _, back = R.read_gguf(out)
    for name, entry in sorted(gold.items()):
        ne, ttype, _ = entry
        if len(ne) != 2:
            continue
        ref = K.dequant(entry)
        if name not in back:
            check("%s present after conversion" % name, False)
            continue
        got = R.gguf_tensor(back[name])
        tname = R.GGML_TYPES[ttype][0]
        diff = np.flatnonzero(ref.view(np.uint32).reshape(-1) != got.view(np.uint32).reshape(-1))
        detail = ""
        if diff.size:
            i = diff[0]
            detail = "%d values differ, first at %d: numpy %r, calgae %r" % (
                diff.size, i, float(ref.reshape(-1)[i]), float(got.reshape(-1)[i]))
        check("%s (%s) dequantizes bit for bit as numpy" % (name, tname), diff.size == 0, detail)
    r = subprocess.run([BIN, "run", "--model", GOLDEN, "-p", "Once upon", "-n", "8", "--temp", "0"],
                       capture_output=True, text=True)
    check("calgae run on the golden file prints text", r.returncode == 0 and len(r.stdout) > 9,
          r.stderr.strip())


if __name__ == "__main__":
    main()
    print("%d failures" % len(failures))
    sys.exit(1 if failures else 0)
