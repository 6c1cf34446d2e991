#!/usr/bin/python3
"""kldfile_check.py - an independent reading of llama.cpp's logits file
(llama-perplexity --kl-divergence-base; tools/perplexity/perplexity.cpp) for kldfile_test.sh.

  compare A B TOL  decoded log-probabilities of two files agree within TOL nats (entries that
                   both keep, i.e. code > 0); header and sizes equal
  ids F            the first chunk's token ids with BOS (1) first, comma-separated
  encode F RAW     the first chunk's rows of F equal llama.cpp's compression, done here in numpy,
                   of RAW (float32 logits, one row of n_vocab per position): scale and minimum
                   to 1e-6 relative, every code within 1 step
"""
import struct
import sys

import numpy as np


def read(path):
    data = open(path, "rb").read()
    assert data[:8] == b"_logits_", f"{path}: no magic"
    n_ctx, n_vocab, n_chunk = struct.unpack_from("<3i", data, 8)
    nv = 2 * ((n_vocab + 1) // 2) + 4
    tokens = np.frombuffer(data, "<i4", n_ctx * n_chunk, 20)
    off = 20 + 4 * n_ctx * n_chunk
    rows = n_chunk * (n_ctx - 1 - n_ctx // 2)
    assert len(data) == off + rows * 2 * nv, f"{path}: size"
    codes = np.frombuffer(data, "<u2", rows * nv, off).reshape(rows, nv)
    head = np.frombuffer(data, "<f4", rows * nv // 2, off).reshape(rows, nv // 2)[:, :2]
    return n_ctx, n_vocab, tokens, head, codes[:, 4:4 + n_vocab]


def compare(a, b, tol):
    ca, cb = read(a), read(b)
    assert ca[:2] == cb[:2] and np.array_equal(ca[2], cb[2]), "headers or tokens differ"
    la = ca[3][:, :1] * ca[4] + ca[3][:, 1:2]
    lb = cb[3][:, :1] * cb[4] + cb[3][:, 1:2]
    keep = (ca[4] > 0) & (cb[4] > 0)
    worst = float(np.max(np.abs(la - lb)[keep]))
    assert worst <= tol, f"largest difference {worst:.3g} nats > {tol}"
    print(f"{la.shape[0]} rows, largest difference {worst:.3g} nats")


def encode(path, raw):
    n_ctx, n_vocab, _, head, codes = read(path)
    logits = np.fromfile(raw, "<f4").reshape(-1, n_vocab)
    first = n_ctx // 2
    worst = 0
    for r in range(n_ctx - 1 - first):
        x = logits[first + r]
        mx = x.max()
        mn = np.float32(max(x.min(), mx - np.float32(16)))
        sum_exp = np.sum(np.exp(x - mx, dtype=np.float32).astype(np.float64))
        lse = np.float32(np.log(sum_exp))
        min_lp = np.float32(mn - mx - lse)
        scale = np.float32((mx - mn) / np.float32(65535))
        q = np.where(x > mn, np.rint((x - mn) * (np.float32(1) / scale)), 0)
        assert abs(head[r, 0] - scale) <= 1e-6 * scale, f"row {r}: scale {head[r, 0]} vs {scale}"
        assert abs(head[r, 1] - min_lp) <= 1e-6 * abs(min_lp) + 1e-6, f"row {r}: minimum"
        d = int(np.max(np.abs(q - codes[r].astype(np.int64))))
        assert d <= 1, f"row {r}: a code differs by {d}"
        worst = max(worst, d)
    print(f"{n_ctx - 1 - first} rows, codes within {worst} step")


if __name__ == "__main__":
    if sys.argv[1] == "compare":
        compare(sys.argv[2], sys.argv[3], float(sys.argv[4]))
    elif sys.argv[1] == "ids":
        n_ctx, _, tokens, _, _ = read(sys.argv[2])
        ids = [1] + [int(t) for t in tokens[1:n_ctx]]
        print(",".join(map(str, ids)))
    else:
        encode(sys.argv[2], sys.argv[3])
