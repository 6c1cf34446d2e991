#!/usr/bin/python3
"""kquant_hostile_test.py - hostile K-quant and IQ4 tensors (issue 11, "Bad input"): a NaN or an
infinite fp16 scale in one block (d, and m / dmin where the type has one: the fields ggml's
validate_row_data checks), and a file cut inside a tensor's last super-block. Each must be one
line on stderr naming the file (and the tensor and block for a scale), exit status 1, nothing on
stdout, no signal. The files are `calgae quantize --pure --type T` of bench/gen_model's ci-kblocks
model (256-value rows: whole super-blocks), patched here at offsets this script computes from
ggml's block layouts (ggml-common.h), not from Calgae's headers.
Environment: CALGAE_BIN, CALGAE_GEN_MODEL, CALGAE_MODELS, CALGAE_TEST_TMP."""
import os
import struct
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ref_llama as R  # noqa: E402
import ref_kquants  # noqa: E402,F401  (teaches the reader the K, IQ4 and BF16 types)

# type: (ggml type id, bytes per block, [(field, byte offset in the block)]) from ggml-common.h
LAYOUT = {
    "Q2_K": (10, 84, [("d", 80), ("dmin", 82)]),   # scales[16], qs[64], d, dmin
    "Q3_K": (11, 110, [("d", 108)]),               # hmask[32], qs[64], scales[12], d
    "Q4_K": (12, 144, [("d", 0), ("dmin", 2)]),    # d, dmin, scales[12], qs[128]
    "Q5_K": (13, 176, [("d", 0), ("dmin", 2)]),    # d, dmin, scales[12], qh[32], qs[128]
    "Q6_K": (14, 210, [("d", 208)]),               # ql[128], qh[64], scales[16], d
    "IQ4_NL": (20, 18, [("d", 0)]),                # d, qs[16]
    "IQ4_XS": (23, 136, [("d", 0)]),               # d, scales_h, scales_l[4], qs[128]
    "Q5_1": (7, 24, [("d", 0), ("m", 2)]),         # d, m, qh[4], qs[16]
}
TENSOR = "blk.1.ffn_up.weight"
BAD = {"NaN": 0x7E00, "Inf": 0x7C00, "-Inf": 0xFC00}
failures = []


def check(what, cond, detail=""):
    print(("ok   " if cond else "FAIL ") + what + ("" if cond else ": " + detail))
    if not cond:
        failures.append(what)


def data_offset(path, name):
    """File offset of a tensor's data: the GGUF reader's layout, redone for the offset."""
    _, tensors = R.read_gguf(path)
    raw = open(path, "rb").read()
    ne, ttype, data = tensors[name]
    # the slice is a copy: find where the tensor infos put it (data start + offset)
    r = R._Reader(raw)
    r.pos = 8
    n_tensors, n_kv = r.unpack("Q"), r.unpack("Q")
    meta = {}
    for _ in range(n_kv):
        key = r.string()
        meta[key] = R._gguf_value(r, r.unpack("I"))
    where = None
    for _ in range(n_tensors):
        tname = r.string()
        nd = r.unpack("I")
        for _ in range(nd):
            r.unpack("Q")
        r.unpack("I")
        off = r.unpack("Q")
        if tname == name:
            where = off
    align = int(meta.get("general.alignment", 32))
    start = (r.pos + align - 1) // align * align
    assert raw[start + where:start + where + len(data)] == bytes(data)
    return start + where, ttype, len(data)


def run(model, out_dir):
    """calgae logits on one token: (exit status, stdout, stderr lines)."""
    p = subprocess.run([os.environ["CALGAE_BIN"], "logits", "--model", model, "--ids", "1",
                        "--out", os.path.join(out_dir, "logits.f32"), "--threads", "1"],
                       capture_output=True, timeout=60)
    return p.returncode, p.stdout, p.stderr.decode(errors="replace").splitlines()


def expect_error(what, model, tmp, fragments):
    rc, out, err = run(model, tmp)
    ok = rc == 1 and not out and len(err) == 1 and err[0].startswith("calgae: ") and \
        model in err[0] and all(f in err[0] for f in fragments)
    check("%s: %s" % (what, err[0] if err else "(no message)"), ok,
          "rc %d, stdout %r, stderr %r" % (rc, out[:80], err))
    leftover = os.path.join(tmp, "logits.f32")
    check(what + ": no output file", not os.path.exists(leftover))
    if os.path.exists(leftover):
        os.unlink(leftover)


def main():
    tmp = os.path.join(os.environ["CALGAE_TEST_TMP"], "kquant_hostile")
    os.makedirs(tmp, exist_ok=True)
    src = os.path.join(tmp, "f32.gguf")
    subprocess.run([os.environ["CALGAE_GEN_MODEL"], "--shape", "ci-kblocks", "--type", "f32",
                    "--vocab", os.path.join(os.environ["CALGAE_MODELS"], "tok512.bin"),
                    "--out", src, "--seed", "7"], check=True, capture_output=True)
    for tname, (tid, bsz, fields) in LAYOUT.items():
        good = os.path.join(tmp, tname + ".gguf")
        qname = tname + "_M" if tname in ("Q3_K", "Q4_K", "Q5_K") else tname  # --pure: all T
        subprocess.run([os.environ["CALGAE_BIN"], "quantize", "--model", src, "--out", good,
                        "--type", qname, "--pure", "--threads", "1"], check=True,
                       capture_output=True)
        off, ttype, nbytes = data_offset(good, TENSOR)
        check("%s: %s is %s" % (tname, TENSOR, tname), ttype == tid, "type %d" % ttype)
        rc, _, err = run(good, tmp)
        check("%s: the unpatched file runs" % tname, rc == 0, "rc %d %s" % (rc, err))
        os.unlink(os.path.join(tmp, "logits.f32"))
        raw = bytearray(open(good, "rb").read())
        for field, foff in fields:
            for label, bits in BAD.items():
                block = 3  # not the first: the error must say which
                bad = bytearray(raw)
                struct.pack_into("<H", bad, off + block * bsz + foff, bits)
                path = os.path.join(tmp, "%s_%s_%s.gguf" % (tname, field, label))
                open(path, "wb").write(bad)
                expect_error("%s %s = %s" % (tname, field, label), path, tmp,
                             [TENSOR, "block %d" % block, "NaN or infinite scale"])
                os.unlink(path)
        # cut inside the tensor's last super-block: a size that is not whole blocks
        if off + nbytes == len(raw):
            cut = os.path.join(tmp, tname + "_cut.gguf")
            open(cut, "wb").write(raw[:off + nbytes - bsz // 2])
            expect_error("%s cut inside the last block" % tname, cut, tmp, ["truncated"])
            os.unlink(cut)
        else:  # the last tensor in the file is another: cut inside that one's last block
            cut = os.path.join(tmp, tname + "_cut.gguf")
            open(cut, "wb").write(raw[:len(raw) - bsz // 2 - 1])
            expect_error("%s cut inside the last tensor's last block" % tname, cut, tmp,
                         ["truncated"])
            os.unlink(cut)
    print("kquant_hostile: %d failed" % len(failures))
    return 1 if failures else 0


sys.exit(main())
