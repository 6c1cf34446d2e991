"""ref_kquants.py - numpy dequantization of ggml's Q5_0, Q5_1, K-quant (Q2_K..Q6_K), IQ4_NL,
IQ4_XS and BF16 blocks, written from the block layouts (ggml-common.h) with whole-array numpy
operations, independent of quant/kblocks.c. Every product is in float32 in ggml's order
(the group scale d * sc first, then times the code, then the min subtracted), so a correct
C dequantizer matches these arrays bit for bit. Importing this module teaches ref_llama's GGUF
reader the types' block sizes."""
import numpy as np

import ref_llama as R

Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS, BF16 = 6, 7, 10, 11, 12, 13, 14, 20, 23, 30
TYPES = {Q5_0: ("Q5_0", 32, 22), Q5_1: ("Q5_1", 32, 24), Q2_K: ("Q2_K", 256, 84),
         Q3_K: ("Q3_K", 256, 110), Q4_K: ("Q4_K", 256, 144), Q5_K: ("Q5_K", 256, 176),
         Q6_K: ("Q6_K", 256, 210), IQ4_NL: ("IQ4_NL", 32, 18), IQ4_XS: ("IQ4_XS", 256, 136),
         BF16: ("BF16", 1, 2)}
R.GGML_TYPES.update(TYPES)

IQ4NL_LEVELS = np.array([-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113],
                        dtype=np.float32)
F = np.float32


def _blocks(raw, n, fields, per):
    return np.frombuffer(raw, dtype=np.dtype(fields), count=n // per)


def _bits(a, count):
    """Little-endian bit planes: (..., bytes) uint8 -> (..., bytes * 8) of 0/1, bit i of byte k at 8k+i."""
    return np.unpackbits(a, axis=-1, bitorder="little")[..., :count]


def _q5(blk):
    qh = _bits(blk["qh"], 32).astype(np.int32)
    qs = blk["qs"].astype(np.int32)
    return np.concatenate([qs & 15, qs >> 4], axis=1) | (qh << 4)


def dequant_q5_0(raw, n):
    blk = _blocks(raw, n, [("d", "<f2"), ("qh", "u1", 4), ("qs", "u1", 16)], 32)
    return ((_q5(blk) - 16).astype(F) * blk["d"].astype(F)[:, None]).reshape(-1)


def dequant_q5_1(raw, n):
    blk = _blocks(raw, n, [("d", "<f2"), ("m", "<f2"), ("qh", "u1", 4), ("qs", "u1", 16)], 32)
    return (_q5(blk).astype(F) * blk["d"].astype(F)[:, None] + blk["m"].astype(F)[:, None]).reshape(-1)


def _crumbs(qs):
    """(nb, 64) bytes of 2-bit codes -> (nb, 256) in value order: for each half of 32 bytes, the
    four 2-bit planes in turn, each plane the 32 bytes' codes."""
    nb = qs.shape[0]
    halves = qs.reshape(nb, 2, 1, 32)
    shifts = np.array([0, 2, 4, 6]).reshape(1, 1, 4, 1)
    return ((halves >> shifts) & 3).reshape(nb, 256).astype(np.int32)


def dequant_q2_k(raw, n):
    blk = _blocks(raw, n, [("scales", "u1", 16), ("qs", "u1", 64), ("d", "<f2"), ("dmin", "<f2")], 256)
    q = _crumbs(blk["qs"]).astype(F).reshape(-1, 16, 16)
    sc = blk["scales"].astype(np.int32)
    dl = blk["d"].astype(F)[:, None] * (sc & 15).astype(F)
    ml = blk["dmin"].astype(F)[:, None] * (sc >> 4).astype(F)
    return (dl[:, :, None] * q - ml[:, :, None]).reshape(-1)


def dequant_q3_k(raw, n):
    blk = _blocks(raw, n, [("hmask", "u1", 32), ("qs", "u1", 64), ("scales", "u1", 12), ("d", "<f2")], 256)
    nb = blk.shape[0]
    s = blk["scales"].astype(np.int32)
    low = np.concatenate([s[:, :8] & 15, s[:, :8] >> 4], axis=1)           # scales 0..15
    high = np.stack([(s[:, 8:12] >> (2 * k)) & 3 for k in range(4)], axis=1).reshape(nb, 16)
    sc = (low | (high << 4)) - 32
    # hmask: value 32 * p + l of a half (pass p of 8 over both halves) has bit p of byte l
    hm = np.stack([(blk["hmask"] >> p) & 1 for p in range(8)], axis=1).reshape(nb, 256)
    q = _crumbs(blk["qs"]) - 4 * (1 - hm.astype(np.int32))
    dl = blk["d"].astype(F)[:, None] * sc.astype(F)
    return (dl[:, :, None] * q.astype(F).reshape(nb, 16, 16)).reshape(-1)


def _k4_scales(s):
    """Q4_K/Q5_K: 8 six-bit scales and mins from 12 bytes."""
    s = s.astype(np.int32)
    sc = np.concatenate([s[:, 0:4] & 63, (s[:, 8:12] & 15) | ((s[:, 0:4] >> 6) << 4)], axis=1)
    mn = np.concatenate([s[:, 4:8] & 63, (s[:, 8:12] >> 4) | ((s[:, 4:8] >> 6) << 4)], axis=1)
    return sc.astype(F), mn.astype(F)


def _nibbles_k(qs):
    """(nb, 128) bytes -> (nb, 256): per 32 bytes, their low nibbles then their high nibbles."""
    nb = qs.shape[0]
    g = qs.reshape(nb, 4, 1, 32).astype(np.int32)
    return np.concatenate([g & 15, g >> 4], axis=2).reshape(nb, 256)


def dequant_q4_k(raw, n):
    blk = _blocks(raw, n, [("d", "<f2"), ("dmin", "<f2"), ("scales", "u1", 12), ("qs", "u1", 128)], 256)
    sc, mn = _k4_scales(blk["scales"])
    d = blk["d"].astype(F)[:, None] * sc
    m = blk["dmin"].astype(F)[:, None] * mn
    q = _nibbles_k(blk["qs"]).astype(F).reshape(-1, 8, 32)
    return (d[:, :, None] * q - m[:, :, None]).reshape(-1)


def dequant_q5_k(raw, n):
    blk = _blocks(raw, n, [("d", "<f2"), ("dmin", "<f2"), ("scales", "u1", 12), ("qh", "u1", 32),
                           ("qs", "u1", 128)], 256)
    nb = blk.shape[0]
    sc, mn = _k4_scales(blk["scales"])
    d = blk["d"].astype(F)[:, None] * sc
    m = blk["dmin"].astype(F)[:, None] * mn
    hi = np.stack([(blk["qh"] >> g) & 1 for g in range(8)], axis=1).reshape(nb, 256).astype(np.int32)
    q = (_nibbles_k(blk["qs"]) + 16 * hi).astype(F).reshape(nb, 8, 32)
    return (d[:, :, None] * q - m[:, :, None]).reshape(-1)


def dequant_q6_k(raw, n):
    blk = _blocks(raw, n, [("ql", "u1", 128), ("qh", "u1", 64), ("scales", "i1", 16), ("d", "<f2")], 256)
    nb = blk.shape[0]
    ql = blk["ql"].reshape(nb, 2, 64).astype(np.int32)
    qh = blk["qh"].reshape(nb, 2, 32).astype(np.int32)
    # per half: four runs of 32 values; run r takes ql's low (r even) or high (r odd) nibbles
    # of bytes 0..31 (r < 2) or 32..63, and bits 2r, 2r+1 of qh
    runs = []
    for r in range(4):
        lo = ql[:, :, 32 * (r % 2):32 * (r % 2) + 32]
        lo = lo & 15 if r < 2 else lo >> 4
        runs.append(lo | (((qh >> (2 * r)) & 3) << 4))
    q = (np.stack(runs, axis=2) - 32).reshape(nb, 256).astype(F)
    sc = blk["scales"].astype(F)
    ds = blk["d"].astype(F)[:, None] * sc
    return (ds[:, :, None] * q.reshape(nb, 16, 16)).reshape(-1)


def dequant_iq4_nl(raw, n):
    blk = _blocks(raw, n, [("d", "<f2"), ("qs", "u1", 16)], 32)
    qs = blk["qs"].astype(np.int32)
    idx = np.concatenate([qs & 15, qs >> 4], axis=1)
    return (blk["d"].astype(F)[:, None] * IQ4NL_LEVELS[idx]).reshape(-1)


def dequant_iq4_xs(raw, n):
    blk = _blocks(raw, n, [("d", "<f2"), ("scales_h", "<u2"), ("scales_l", "u1", 4), ("qs", "u1", 128)], 256)
    nb = blk.shape[0]
    sl = blk["scales_l"].astype(np.int32)
    low = np.stack([sl & 15, sl >> 4], axis=2).reshape(nb, 8)
    high = np.stack([(blk["scales_h"].astype(np.int32) >> (2 * g)) & 3 for g in range(8)], axis=1)
    dl = blk["d"].astype(F)[:, None] * ((low | (high << 4)) - 32).astype(F)
    qs = blk["qs"].reshape(nb, 8, 16).astype(np.int32)
    idx = np.concatenate([qs & 15, qs >> 4], axis=2)
    return (dl[:, :, None] * IQ4NL_LEVELS[idx]).reshape(-1)


def dequant_bf16(raw, n):
    h = np.frombuffer(raw, dtype="<u2", count=n).astype(np.uint32)
    return (h << 16).view(np.float32)


DEQUANT = {Q5_0: dequant_q5_0, Q5_1: dequant_q5_1, Q2_K: dequant_q2_k, Q3_K: dequant_q3_k,
           Q4_K: dequant_q4_k, Q5_K: dequant_q5_k, Q6_K: dequant_q6_k, IQ4_NL: dequant_iq4_nl,
           IQ4_XS: dequant_iq4_xs, BF16: dequant_bf16}


def dequant(entry):
    """Any tensor of ref_llama's or these types, as float32 of shape (..., rows, cols)."""
    ne, ttype, raw = entry
    if ttype not in DEQUANT:
        return R.gguf_tensor(entry)
    n = int(np.prod(ne))
    return DEQUANT[ttype](raw, n).reshape(tuple(reversed(ne)))
