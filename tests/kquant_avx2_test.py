#!/usr/bin/python3
"""kquant_avx2_test.py - the avx2 plugin's Q5_K, Q3_K, Q2_K and IQ4_XS products (ABI 1.4,
plugins/avx2/products_k2.c) on a real file: llama-quantize's golden ci-kblocks-mixed.gguf, whose
layer 0 holds one matrix of each of the four types (Q3_K attn_k, Q5_K attn_output, Q2_K attn_q,
IQ4_XS ffn_down).

Checks, and why these tolerances:
- with `[run] backend = avx2`, `calgae backends --model` shows avx2 serving all eight slots (the
  loader keeps the types in their file layout and hands them to avx2, not to scalar);
- logits with --backend avx2 against the same file widened to F32 by the reference dequantizer
  (`calgae convert --type f32`, checked bit for bit against numpy by kquant_dequant): the native
  path rounds each activation to 8 bits per 256 values (Q8_K), so relative RMS <= 0.03 and the
  same top-1 at >= 17 of 18 positions, as kquant_native allows;
- avx2 against the scalar plugin on the native file: both compute ggml's integer sums per
  super-block and differ only in float summation order, so relative RMS <= 1e-5 and the same
  top-1 everywhere. Both with --batch 1 (matvec, one token at a time) and the default batch
  (matmul: 18 tokens = two passes of eight and a tail of two).
Exits 77 (skip) where the avx2 plugin can't run: no x86-64 or no AVX2.
Environment: CALGAE_BIN, CALGAE_TEST_TMP."""
import os
import re
import subprocess
import sys

import numpy as np

BIN = os.environ["CALGAE_BIN"]
TMP = os.path.join(os.environ.get("CALGAE_TEST_TMP", "/tmp"), "kquant_avx2")
GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden", "kquants",
                      "ci-kblocks-mixed.gguf")
IDS = [1, 50, 100, 200, 300, 400, 17, 33, 260, 5, 77, 123, 311, 499, 2, 42, 8, 250]
SLOTS = ["%s_%s" % (k, t) for t in ("q5_k", "q3_k", "q2_k", "iq4_xs") for k in ("matvec", "matmul")]
failures = []


def check(what, cond, detail=""):
    print(("ok   " if cond else "FAIL ") + what + ("" if cond else ": " + detail))
    if not cond:
        failures.append(what)


def run(args):
    p = subprocess.run([BIN] + args, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit("calgae %s failed: %s" % (" ".join(args), p.stderr.strip()))
    return p.stdout


def logits(model, backend, batch):
    out = os.path.join(TMP, "logits.bin")
    args = ["logits", "--model", model, "--ids", ",".join(map(str, IDS)), "--out", out,
            "--backend", backend, "--threads", "2"]
    if batch:
        args += ["--batch", str(batch)]
    run(args)
    return np.fromfile(out, np.float32).reshape(len(IDS), -1)


def rel_rms(a, b):
    return float(np.sqrt(((a - b) ** 2).mean() / (b ** 2).mean()))


def avx2_usable():
    listing = run(["backends"])
    return any(re.match(r"avx2\s+\S+\s+\S+\s+\S+\s+\S+\s+yes\b", line)
               for line in listing.splitlines())


def main():
    os.makedirs(TMP, exist_ok=True)
    if not avx2_usable():
        print("skip: the avx2 plugin can't run on this machine")
        sys.exit(77)
    ini = os.path.join(TMP, "avx2.ini")
    with open(ini, "w") as f:
        f.write("[run]\nbackend = avx2\n")
    listing = run(["backends", "--config", ini, "--model", GOLDEN, "--calibrate", "off"])
    for slot in SLOTS:
        m = re.search(r"^\s*%s\s+->\s+(\S+)" % slot, listing, re.M)
        check("%s served by avx2" % slot, m is not None and m.group(1) == "avx2",
              m.group(0).strip() if m else "slot not listed")
    wide = os.path.join(TMP, "golden-f32.gguf")
    run(["convert", "--model", GOLDEN, "--type", "f32", "--out", wide])
    ref = logits(wide, "scalar", 0)
    for batch, path in ((1, "matvec"), (0, "matmul")):
        avx2 = logits(GOLDEN, "avx2", batch)
        scalar = logits(GOLDEN, "scalar", batch)
        e = rel_rms(avx2, ref)
        top1 = int((avx2.argmax(1) == ref.argmax(1)).sum())
        check("%s: avx2 vs widened F32, relative RMS %.4f <= 0.03" % (path, e), e <= 0.03)
        check("%s: avx2 vs widened F32, top-1 %d/%d >= %d" % (path, top1, len(IDS), len(IDS) - 1),
              top1 >= len(IDS) - 1)
        e2 = rel_rms(avx2, scalar)
        same = int((avx2.argmax(1) == scalar.argmax(1)).sum())
        check("%s: avx2 vs scalar, relative RMS %.2e <= 1e-5" % (path, e2), e2 <= 1e-5)
        check("%s: avx2 vs scalar, top-1 %d/%d" % (path, same, len(IDS)), same == len(IDS))
    if failures:
        sys.exit("%d check(s) failed" % len(failures))


if __name__ == "__main__":
    main()
