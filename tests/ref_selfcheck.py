#!/usr/bin/python3
"""ref_selfcheck.py - validates the numpy reference (ref_llama.py) against llama2.c, independently
of the C runtime.

Golden data (from ../shared/models, see its README.md) come from karpathy/llama2.c's run.c and
llama.cpp's tokenizer tests:
  1. greedy generation (200 and 256 steps, no prompt) from stories260K.bin + tok512.bin must print
     byte-for-byte expected_stories260K_t0_n{200,256}.txt;
  2. the same from stories260K.gguf (with tok512.bin, and with the GGUF's own vocabulary), and
     greedy generation after each prompt of tests/golden/prompts.txt (150 steps) from both files
     must print tests/golden/llama2c_promptN.txt, what run.c printed for it (tests/golden/README.md);
  3. the .bin's stored RoPE tables (freq_cis_real/imag) match the adjacent-pair frequencies used by
     the reference, and the .bin and .gguf weights are identical;
  4. the llama2.c-style tokenizer reproduces ggml-vocab-llama-spm.gguf.out from tokenizer.bin.
Exits non-zero on any mismatch, printing a unified diff for text mismatches; a missing golden
file or tokenizer is a failure, not a skipped check.
Environment: CALGAE_MODELS (default: ../../shared/models relative to this file).
"""
import difflib
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ref_llama as R  # noqa: E402

MODELS = os.environ.get("CALGAE_MODELS") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "models")
failures = []


def path(name):
    return os.path.join(MODELS, name)


GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden")


def check_text(label, got, expected_file):
    want = open(expected_file if os.path.isabs(expected_file) else path(expected_file), "rb").read()
    if got == want:
        print("ok   %s" % label)
        return
    failures.append(label)
    print("FAIL %s: output differs from %s" % (label, expected_file))
    diff = difflib.unified_diff(want.decode("utf-8", "replace").splitlines(True),
                                got.decode("utf-8", "replace").splitlines(True),
                                fromfile=expected_file, tofile=label)
    sys.stdout.writelines(diff)
    print()


def check(label, cond, detail=""):
    print("%s %s%s" % ("ok  " if cond else "FAIL", label, (": " + detail) if detail else ""))
    if not cond:
        failures.append(label)


def main():
    mbin = R.load_model(path("stories260K.bin"))
    mgguf = R.load_model(path("stories260K.gguf"))
    tok = R.Tokenizer.from_llama2c(path("tok512.bin"), mbin.cfg["vocab_size"])

    # 1-2: greedy generation against llama2.c's printed output
    for steps in (200, 256):
        exp = "expected_stories260K_t0_n%d.txt" % steps
        check_text("bin n=%d" % steps, R.generate(mbin, tok, "", steps), exp)
        check_text("gguf n=%d (tok512.bin)" % steps, R.generate(mgguf, tok, "", steps), exp)
    check_text("gguf n=200 (GGUF vocabulary)",
               R.generate(mgguf, R.Tokenizer.from_gguf_meta(mgguf.gguf_meta), "", 200),
               "expected_stories260K_t0_n200.txt")

    # 2b: prompted generation against run.c's printed output
    prompts = open(os.path.join(GOLDEN, "prompts.txt"), encoding="utf-8").read().splitlines()
    check("%d golden prompts" % len(prompts), len(prompts) >= 5)
    for i, prompt in enumerate(prompts, 1):
        exp = os.path.join(GOLDEN, "llama2c_prompt%d.txt" % i)
        check_text("bin prompt %d %r" % (i, prompt), R.generate(mbin, tok, prompt, 150), exp)
        check_text("gguf prompt %d" % i, R.generate(mgguf, tok, prompt, 150), exp)

    # 3: RoPE convention and file equivalence
    cos, sin = mbin.rope_tables
    hs = mbin.cfg["dim"] // mbin.cfg["n_heads"]
    ang = np.arange(cos.shape[0])[:, None] * mbin.cfg["theta"] ** (-np.arange(0, hs, 2) / hs)
    err = max(np.abs(cos - np.cos(ang)).max(), np.abs(sin - np.sin(ang)).max())
    check("bin RoPE tables match theta^(-2i/head_size)", err < 1e-5, "max err %.2e" % err)
    same = all(np.array_equal(a.w, b.w) for a, b in ((mbin.emb, mgguf.emb), (mbin.wcls, mgguf.wcls)))
    for lb, lg in zip(mbin.layers, mgguf.layers):
        for k in lb:
            a, b = lb[k], lg[k]
            same &= np.array_equal(getattr(a, "w", a), getattr(b, "w", b))
    check("bin and gguf weights identical", bool(same))
    ids = tok.encode("Once upon a time, there was a big dog.")
    lb, lg = R.forward(mbin, ids), R.forward(mgguf, ids)
    check("bin and gguf logits agree", np.abs(lb - lg).max() < 1e-9, "max diff %.2e" % np.abs(lb - lg).max())

    # whole-sequence forward == token-by-token forward with a cache
    cache = R.Cache(mbin.cfg["n_layers"])
    inc = np.concatenate([R.forward(mbin, [t], cache) for t in ids])
    d = np.abs(inc - lb).max()
    check("sequence forward == incremental forward", d < 1e-9, "max diff %.2e" % d)

    # 4: tokenizer against llama.cpp's SentencePiece test vectors
    missing = [f for f in ("tokenizer.bin", "ggml-vocab-llama-spm.gguf.inp", "ggml-vocab-llama-spm.gguf.out")
               if not os.path.exists(path(f))]
    if missing:
        check("tokenizer vectors", False, "missing %s in %s" % (", ".join(missing), MODELS))
    else:
        big = R.Tokenizer.from_llama2c(path("tokenizer.bin"), 32000)
        inp = open(path("ggml-vocab-llama-spm.gguf.inp"), encoding="utf-8").read().split("\n__ggml_vocab_test__\n")
        out = open(path("ggml-vocab-llama-spm.gguf.out")).read().split("\n")
        bad = [i for i, (s, o) in enumerate(zip(inp, out))
               if big.encode(s, bos=False) != [int(x) for x in o.split()]]
        check("tokenizer matches %d llama-spm vectors" % len(inp), not bad and len(inp) >= 40,
              "mismatches at %s" % bad)

    if failures:
        print("ref_selfcheck: %d FAILED: %s" % (len(failures), ", ".join(failures)))
        return 1
    print("ref_selfcheck: all passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
