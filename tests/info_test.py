#!/usr/bin/python3
"""info_test.py - `calgae info` against this file's own reading of the model files (ref_llama.py's
GGUF reader, llama2.c's header): every metadata key, every tensor with its type and shape, the
parameter count (the tensors' elements; for a llama2.c checkpoint, the file's floats less the RoPE
tables), the bytes read per token (every matrix but the embeddings, one embedding row, the norms),
counts printed with three significant digits and a unit (260K, 15.2M, 1.10B) - also in
`calgae bench`'s header, which used to say "0.00 B params".
Environment: CALGAE_BIN, CALGAE_MODELS, CALGAE_TEST_TMP."""
import os
import struct
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ref_llama as R  # noqa: E402

BIN = os.environ["CALGAE_BIN"]
MODELS = os.environ["CALGAE_MODELS"]
TMP = os.path.join(os.environ["CALGAE_TEST_TMP"], "info_test")
TYPE_NAMES = {0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 8: "Q8_0"}
failures = []


def count(n):
    """The documented rule: three significant digits, units K, M, B, T."""
    units, u, n = " KMBT", 0, float(n)
    while n >= 999.5 and u < 4:
        n /= 1000.0
        u += 1
    if u == 0:
        return "%.0f" % n
    return ("%.0f" if n >= 99.95 else "%.1f" if n >= 9.995 else "%.2f") % n + units[u]


def check(what, cond, detail=""):
    print(("ok   " if cond else "FAIL ") + what + ("" if cond else ": " + detail))
    if not cond:
        failures.append(what)


def info(path):
    p = subprocess.run([BIN, "info", "--model", path], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=120)
    check("info %s: exit 0" % os.path.basename(path), p.returncode == 0, p.stderr.decode())
    return p.stdout.decode()


def check_gguf(path):
    out = info(path)
    lines = out.split("\n")
    meta, tensors = R.read_gguf(path)
    name = os.path.basename(path)
    for key, value in meta.items():
        if key == "GGUF.version":
            continue
        line = [l for l in lines if l.split()[:1] == [key]]
        ok = len(line) == 1
        if ok and isinstance(value, list):
            ok = "x %d]" % len(value) in line[0]
        elif ok and isinstance(value, str):
            ok = ("'%s" % value[:20]) in line[0]
        check("%s: metadata %s" % (name, key), ok, str(line))
    params = 0
    per_token = 0
    for tname, (ne, ttype, raw) in tensors.items():
        shape = " x ".join(str(n) for n in ne)
        line = [l for l in lines if l.split()[:1] == [tname]]
        check("%s: tensor %s %s %s" % (name, tname, TYPE_NAMES[ttype], shape),
              len(line) == 1 and line[0].split()[1] == TYPE_NAMES[ttype] and shape in line[0]
              and ("%d bytes" % len(raw)) in line[0], str(line))
        n = 1
        for d in ne:
            n *= d
        params += n
        if tname == "token_embd.weight":
            per_token += len(raw) // ne[1]  # one row
        else:
            per_token += len(raw)
    if "output.weight" not in tensors:  # tied: the classifier reads the embeddings whole
        per_token += len(tensors["token_embd.weight"][2])
    check("%s: parameters %s (%d)" % (name, count(params), params),
          "parameters: %s (%d)" % (count(params), params) in out, out[-400:])
    check("%s: read per token %s bytes" % (name, count(per_token)),
          "read per token: %s bytes" % count(per_token) in out, out[-300:])
    return params


def main():
    os.makedirs(TMP, exist_ok=True)
    for n, want in [(0, "0"), (512, "512"), (999, "999"), (260032, "260K"), (15_200_000, "15.2M"),
                    (1_100_048_384, "1.10B"), (6_738_415_616, "6.74B"), (999_600, "1.00M")]:
        check("the count rule: %d -> %s" % (n, want), count(n) == want, count(n))
    gguf = os.path.join(MODELS, "stories260K.gguf")
    p_gguf = check_gguf(gguf)
    q8 = os.path.join(TMP, "q8.gguf")
    subprocess.run([BIN, "convert", "--model", gguf, "--out", q8, "--type", "q8_0"], check=True,
                   stderr=subprocess.DEVNULL)
    check_gguf(q8)
    # a llama2.c checkpoint: 7 int32 of header, then floats, the RoPE tables (ctx x head_size) last
    path = os.path.join(MODELS, "stories260K.bin")
    with open(path, "rb") as f:
        dim, hid, layers, heads, kv_heads, vocab, ctx = struct.unpack("<7i", f.read(28))
    floats = (os.path.getsize(path) - 28) // 4
    params = floats - ctx * (dim // heads)
    out = info(path)
    check("stories260K.bin: parameters %s (%d)" % (count(params), params),
          "parameters: %s (%d)" % (count(params), params) in out, out[-400:])
    check("stories260K.bin: the header", ("dim %d, ffn %d, %d layers, %d heads (%d KV heads"
                                          % (dim, hid, layers, heads, kv_heads)) in out, out[-400:])
    # bench's header line counts the same parameters
    b = subprocess.run([BIN, "bench", "--model", gguf, "--backend", "scalar", "-p", "4", "-n", "2",
                        "-r", "1", "--threads", "1", "-o", "md"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=300)
    head = b.stdout.decode().split("\n")[0]
    check("bench: '%s params' in its header" % count(p_gguf),
          b.returncode == 0 and (", %s params)" % count(p_gguf)) in head, head)
    print("info_test: %s" % ("%d FAILED" % len(failures) if failures else "all passed"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
