#!/usr/bin/python3
"""kquant_recipe_test.py - `calgae quantize --type NAME` against llama-quantize NAME, tensor by
tensor: the type each tensor gets and the sha256 of its bytes must be those llama-quantize wrote
(tests/golden/kquants/recipes.txt) for every mixture name, on two random-weight F32 models that
bench/gen_model remakes here: ci-kmix (16 layers, 4 query heads per KV head: every layer rule
picks some layers) and stories15M's shape with tok512's vocabulary (rows of 288: the block-size
fallbacks). Environment: CALGAE_BIN, CALGAE_GEN_MODEL, CALGAE_MODELS, CALGAE_TEST_TMP.

`kquant_recipe_test.py --make LLAMA_QUANTIZE` rewrites recipes.txt from llama-quantize (run once
by hand; see tests/golden/kquants/README.md)."""
import hashlib
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ref_llama as R  # noqa: E402
import ref_kquants  # noqa: E402,F401

HERE = os.path.dirname(os.path.abspath(__file__))
GOLDEN = os.path.join(HERE, "golden", "kquants", "recipes.txt")
MODELS = {  # name: (gen_model shape, seed, sha256 of the F32 file)
    "ci-kmix": ("ci-kmix", 5, "bfd922cd0cf74b6e4a7c4b967490a576b2418c20bdda92b304d7dcfee41410ea"),
    "s15": ("stories15M", 3, "e17371601eb74c48417103ef8ceafd8cf228060cbce9cb504ca0b3b67cbc509b"),
}
TYPES = ["Q2_K", "Q3_K_S", "Q3_K_M", "Q3_K_L", "Q4_K_S", "Q4_K_M", "Q5_K_S", "Q5_K_M", "Q6_K",
         "IQ4_NL", "IQ4_XS", "Q5_0", "Q5_1", "BF16", "Q8_0", "Q4_0", "Q4_1"]
PURE = ["Q4_K_M", "Q3_K_M", "IQ4_XS"]
failures = []


def check(what, cond, detail=""):
    print(("ok   " if cond else "FAIL ") + what + ("" if cond else ": " + detail))
    if not cond:
        failures.append(what)


def table(path):
    """{tensor: (type name, sha256 of the data)} of a GGUF file."""
    _, t = R.read_gguf(path)
    return {n: (R.GGML_TYPES[ty][0], hashlib.sha256(bytes(d)).hexdigest()[:16]) for n, (_, ty, d) in t.items()}


def runs():
    for m in MODELS:
        for t in TYPES:
            yield m, t, False
        for t in PURE:
            yield m, t, True


def source(tmp, m):
    shape, seed, want = MODELS[m]
    path = os.path.join(tmp, m + "-f32.gguf")
    subprocess.run([os.environ["CALGAE_GEN_MODEL"], "--shape", shape, "--type", "f32", "--vocab",
                    os.path.join(os.environ["CALGAE_MODELS"], "tok512.bin"), "--out", path,
                    "--seed", str(seed)], check=True, capture_output=True)
    got = hashlib.sha256(open(path, "rb").read()).hexdigest()
    check("gen_model remakes %s (sha256 %s...)" % (m, want[:12]), got == want, got)
    return path


def make(llama_quantize, tmp):
    lines = []
    for m, t, pure in runs():
        out = os.path.join(tmp, "ref.gguf")
        cmd = [llama_quantize] + (["--pure"] if pure else []) + [source_cache[m], out, t]
        subprocess.run(cmd, check=True, capture_output=True)
        for n, (ty, h) in sorted(table(out).items()):
            lines.append("%s %s%s %s %s %s" % (m, t, "+pure" if pure else "", n, ty, h))
    open(GOLDEN, "w").write("\n".join(lines) + "\n")


def test(tmp):
    want = {}
    for line in open(GOLDEN):
        m, t, n, ty, h = line.split()
        want.setdefault((m, t), {})[n] = (ty, h)
    matched = 0
    for m, t, pure in runs():
        key = (m, t + ("+pure" if pure else ""))
        out = os.path.join(tmp, "calgae.gguf")
        cmd = [os.environ["CALGAE_BIN"], "quantize", "--model", source_cache[m], "--out", out,
               "--type", t] + (["--pure"] if pure else [])
        if os.path.exists(out):
            os.remove(out)
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            check("%s %s: calgae quantize" % key, False, r.stderr.strip())
            continue
        got, ref = table(out), want.get(key, {})
        diffs = ["%s: %s, llama-quantize %s" % (n, got.get(n, ("missing",))[0], ref[n][0])
                 for n in sorted(ref) if got.get(n) != ref[n]]
        diffs += ["%s: not in llama-quantize's file" % n for n in sorted(set(got) - set(ref))]
        check("%s %s: %d tensors, types and bytes as llama-quantize" % (key[0], key[1], len(ref)),
              bool(ref) and not diffs, "; ".join(diffs[:3]))
        matched += bool(ref) and not diffs
    print("%d of %d runs match llama-quantize tensor for tensor" % (matched, len(list(runs()))))


if __name__ == "__main__":
    tmp = os.path.join(os.environ.get("CALGAE_TEST_TMP", "/tmp"), "kquant_recipe")
    os.makedirs(tmp, exist_ok=True)
    source_cache = {m: source(tmp, m) for m in MODELS}
    if len(sys.argv) == 3 and sys.argv[1] == "--make":
        make(sys.argv[2], tmp)
    else:
        test(tmp)
    print("%d failures" % len(failures))
    sys.exit(1 if failures else 0)
