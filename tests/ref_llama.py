#!/usr/bin/python3
"""ref_llama.py - an independent numpy reference of the Llama forward pass, for tests.

It parses model files itself and shares no code with the C runtime:
  * llama2.c legacy float32 checkpoints (.bin) and llama2.c tokenizer files, following the
    layout read by karpathy/llama2.c run.c (checkpoint_init_weights / memory_map_weights,
    build_tokenizer, encode, decode, safe_printf, generate);
  * GGUF v2/v3 files with tensor types F32, F16, Q4_0, Q4_1 and Q8_0, following the GGUF
    specification (ggml docs/gguf.md) and ggml's block formats (dequantized with numpy), of
    architecture llama or qwen2 (llama.cpp's LLM_ARCH_QWEN2: Q/K/V biases blk.N.attn_*.bias added
    to the products, rotate-half "NeoX" RoPE over Q/K rows in Hugging Face's order, qwen2.* keys),
    and llama.cpp's rope_freqs.weight (Llama 3's RoPE scaling: pair i's angle is divided by
    factor i, as ggml_rope_ext's freq_factors).

Numerics: weights are loaded as float32 (dequantized exactly) and the forward pass runs in
float64 by default, so the reference's own rounding error (~1e-15) is negligible against the
float32 runtime under test; `dtype=np.float32` is available for experiments.

Optional `act_q8` mode emulates ggml's CPU matrix-vector numerics for quantized weights: before
each product with a Q8_0, Q4_0 or Q4_1 weight, the activation row is quantized to Q8_0 blocks of 32 as
ggml's quantize_row_q8_0_ref does (float32: d = amax/127, id = d ? 1/d : 0, q = roundf(x*id),
stored scale fp16(d)) and the product uses the dequantized activation q * fp16(d).

CLI (run with Debian's /usr/bin/python3, which has numpy):
  ref_llama.py generate --model M [--tokenizer T] [--prompt P] --steps N   (greedy, prints
        exactly what llama2.c's run.c prints with -t 0)
  ref_llama.py logits --model M --ids 1,2,3 [--act-q8] --out FILE          (float32 [n][vocab])
"""
import argparse
import re
import struct
import sys

import numpy as np

BOS, EOS = 1, 2

# GGUF tensor types handled here: type id -> (name, elements per block, bytes per block)
GGML_F32, GGML_F16, GGML_Q4_0, GGML_Q4_1, GGML_Q8_0 = 0, 1, 2, 3, 8
GGML_TYPES = {GGML_F32: ("F32", 1, 4), GGML_F16: ("F16", 1, 2),
              GGML_Q4_0: ("Q4_0", 32, 18), GGML_Q4_1: ("Q4_1", 32, 20), GGML_Q8_0: ("Q8_0", 32, 34)}
# Q4_1's ggml product quantizes activations to Q8_1, whose d and qs are Q8_0's: act_q8 covers it
QUANTIZED = (GGML_Q4_0, GGML_Q4_1, GGML_Q8_0)


# ----------------------------------------------------------------------------------------------
# block formats

def dequant_q8_0(raw, n):
    """Q8_0 block: fp16 d, then 32 int8 q; x = q * d."""
    blk = np.frombuffer(raw, dtype=np.dtype([("d", "<f2"), ("qs", "i1", 32)]), count=n // 32)
    return (blk["qs"].astype(np.float32) * blk["d"].astype(np.float32)[:, None]).reshape(-1)


def dequant_q4_0(raw, n):
    """Q4_0 block: fp16 d, then 16 bytes; x[j] = ((qs[j] & 15) - 8) * d, x[j+16] = ((qs[j] >> 4) - 8) * d."""
    blk = np.frombuffer(raw, dtype=np.dtype([("d", "<f2"), ("qs", "u1", 16)]), count=n // 32)
    qs = blk["qs"].astype(np.int16)
    q = np.concatenate([(qs & 15) - 8, (qs >> 4) - 8], axis=1).astype(np.float32)
    return (q * blk["d"].astype(np.float32)[:, None]).reshape(-1)


def dequant_q4_1(raw, n):
    """Q4_1 block: fp16 d, fp16 m, then 16 bytes; x[j] = (qs[j] & 15) * d + m, x[j+16] = (qs[j] >> 4) * d + m."""
    blk = np.frombuffer(raw, dtype=np.dtype([("d", "<f2"), ("m", "<f2"), ("qs", "u1", 16)]), count=n // 32)
    qs = blk["qs"].astype(np.int16)
    q = np.concatenate([qs & 15, qs >> 4], axis=1).astype(np.float32)
    return (q * blk["d"].astype(np.float32)[:, None] + blk["m"].astype(np.float32)[:, None]).reshape(-1)


def q8_0_roundtrip(x):
    """Quantize each row of x to Q8_0 blocks of 32 exactly as ggml's quantize_row_q8_0_ref does,
    in float32, and return the dequantized values q * fp16(d) (in x's dtype)."""
    rows, n = x.shape
    assert n % 32 == 0, "Q8_0 activation quantization needs a multiple of 32 columns"
    x32 = x.astype(np.float32).reshape(rows, n // 32, 32)
    amax = np.max(np.abs(x32), axis=-1)                         # float32
    d = (amax / np.float32(127.0)).astype(np.float32)           # d = amax / ((1 << 7) - 1)
    with np.errstate(divide="ignore"):
        idv = np.where(d != 0, np.float32(1.0) / d, np.float32(0.0)).astype(np.float32)
    x0 = (x32 * idv[..., None]).astype(np.float32)              # x * id, rounded to float32
    # roundf: half away from zero; done in float64 so that |x0| + 0.5 is exact
    a = np.abs(x0.astype(np.float64))
    q = np.sign(x0.astype(np.float64)) * np.floor(a + 0.5)
    dh = d.astype(np.float16).astype(np.float64)                # stored scale is fp16(d)
    return (q * dh[..., None]).reshape(rows, n).astype(x.dtype)


# ----------------------------------------------------------------------------------------------
# model container

class Matrix:
    """A weight matrix [rows][cols] as float32 plus the storage type it came from."""

    def __init__(self, w, qtype=GGML_F32):
        self.w = np.ascontiguousarray(w, dtype=np.float32)
        self.qtype = qtype


class Model:
    def __init__(self):
        self.cfg = {}       # dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len, eps, theta
        self.emb = None     # Matrix [vocab][dim]
        self.layers = []    # dicts: attn_norm, wq, wk, wv, wo, ffn_norm, w1, w2, w3
        self.norm = None    # [dim]
        self.wcls = None    # Matrix [vocab][dim]
        self.gguf_meta = None
        self.rope_tables = None  # (cos, sin) [seq_len][head_size/2] from a llama2.c .bin


def load_llama2c_bin(path):
    """llama2.c legacy checkpoint: 7 int32 header, then float32 tensors in run.c's order."""
    data = open(path, "rb").read()
    dim, hidden, n_layers, n_heads, n_kv, vocab, seq_len = struct.unpack_from("<7i", data, 0)
    shared = vocab > 0
    vocab = abs(vocab)
    hs = dim // n_heads
    kv_dim = n_kv * hs
    f = np.frombuffer(data, dtype="<f4", offset=28)
    pos = 0

    def take(*shape):
        nonlocal pos
        n = int(np.prod(shape))
        if pos + n > f.size:
            raise ValueError("%s: truncated checkpoint" % path)
        a = f[pos:pos + n].reshape(shape)
        pos += n
        return a

    m = Model()
    m.cfg = dict(dim=dim, hidden_dim=hidden, n_layers=n_layers, n_heads=n_heads, n_kv_heads=n_kv,
                 vocab_size=vocab, seq_len=seq_len, eps=1e-5, theta=10000.0)
    emb = take(vocab, dim)
    rms_att = take(n_layers, dim)
    wq = take(n_layers, dim, dim)
    wk = take(n_layers, kv_dim, dim)
    wv = take(n_layers, kv_dim, dim)
    wo = take(n_layers, dim, dim)
    rms_ffn = take(n_layers, dim)
    w1 = take(n_layers, hidden, dim)
    w2 = take(n_layers, dim, hidden)
    w3 = take(n_layers, hidden, dim)
    m.norm = take(dim).astype(np.float32)
    m.rope_tables = (take(seq_len, hs // 2), take(seq_len, hs // 2))
    wcls = emb if shared else take(vocab, dim)
    if pos != f.size:
        raise ValueError("%s: %d trailing floats" % (path, f.size - pos))
    m.emb = Matrix(emb)
    m.wcls = Matrix(wcls)
    for i in range(n_layers):
        m.layers.append(dict(attn_norm=rms_att[i].astype(np.float32), wq=Matrix(wq[i]), wk=Matrix(wk[i]),
                             wv=Matrix(wv[i]), wo=Matrix(wo[i]), ffn_norm=rms_ffn[i].astype(np.float32),
                             w1=Matrix(w1[i]), w2=Matrix(w2[i]), w3=Matrix(w3[i])))
    return m


# ----------------------------------------------------------------------------------------------
# GGUF

class _Reader:
    def __init__(self, data):
        self.data, self.pos = data, 0

    def unpack(self, fmt):
        v = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return v[0] if len(v) == 1 else v

    def string(self):
        n = self.unpack("Q")
        s = self.data[self.pos:self.pos + n]
        self.pos += n
        return s.decode("utf-8", errors="surrogateescape")


_GGUF_SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
GGUF_STRING, GGUF_ARRAY = 8, 9


def _gguf_value(r, vtype):
    if vtype in _GGUF_SCALARS:
        return r.unpack(_GGUF_SCALARS[vtype])
    if vtype == GGUF_STRING:
        return r.string()
    if vtype == GGUF_ARRAY:
        etype, count = r.unpack("I"), r.unpack("Q")
        if etype in _GGUF_SCALARS and etype != 7:
            fmt = "<" + _GGUF_SCALARS[etype]
            a = np.frombuffer(r.data, dtype=np.dtype(fmt), count=count, offset=r.pos)
            r.pos += a.nbytes
            return a
        return [_gguf_value(r, etype) for _ in range(count)]
    raise ValueError("unknown GGUF value type %d" % vtype)


def read_gguf(path):
    """Returns (metadata dict, {name: (ne list, type, numpy uint8 view of the data)})."""
    data = open(path, "rb").read()
    r = _Reader(data)
    if data[:4] != b"GGUF":
        raise ValueError("%s: not a GGUF file" % path)
    r.pos = 4
    version = r.unpack("I")
    if version not in (2, 3):
        raise ValueError("%s: GGUF version %d not supported" % (path, version))
    n_tensors, n_kv = r.unpack("Q"), r.unpack("Q")
    meta = {"GGUF.version": version}
    for _ in range(n_kv):
        key = r.string()
        meta[key] = _gguf_value(r, r.unpack("I"))
    infos = []
    for _ in range(n_tensors):
        name = r.string()
        nd = r.unpack("I")
        ne = [r.unpack("Q") for _ in range(nd)]
        infos.append((name, ne, r.unpack("I"), r.unpack("Q")))
    align = int(meta.get("general.alignment", 32))
    start = (r.pos + align - 1) // align * align
    tensors = {}
    for name, ne, ttype, off in infos:
        if ttype not in GGML_TYPES:
            raise ValueError("%s: tensor %s has unsupported type %d" % (path, name, ttype))
        _, blk, bsz = GGML_TYPES[ttype]
        n = int(np.prod(ne)) if ne else 1
        if ne[0] % blk:
            raise ValueError("%s: tensor %s row not a whole number of blocks" % (path, name))
        nbytes = n // blk * bsz
        if off % align or start + off + nbytes > len(data):
            raise ValueError("%s: tensor %s misplaced" % (path, name))
        tensors[name] = (ne, ttype, data[start + off:start + off + nbytes])
    return meta, tensors


def gguf_tensor(entry):
    """Dequantize a GGUF tensor to float32; ne=[cols, rows, ...] becomes shape (..., rows, cols)."""
    ne, ttype, raw = entry
    n = int(np.prod(ne))
    if ttype == GGML_F32:
        a = np.frombuffer(raw, dtype="<f4", count=n)
    elif ttype == GGML_F16:
        a = np.frombuffer(raw, dtype="<f2", count=n).astype(np.float32)
    elif ttype == GGML_Q8_0:
        a = dequant_q8_0(raw, n)
    elif ttype == GGML_Q4_1:
        a = dequant_q4_1(raw, n)
    else:
        a = dequant_q4_0(raw, n)
    return a.reshape(tuple(reversed(ne)))


def load_gguf(path):
    meta, t = read_gguf(path)

    def mat(name):
        return Matrix(gguf_tensor(t[name]), t[name][1])

    def vec(name):
        return gguf_tensor(t[name]).astype(np.float32)

    m = Model()
    m.gguf_meta = meta
    emb = mat("token_embd.weight")
    arch = meta["general.architecture"]
    assert arch in ("llama", "qwen2"), arch
    a = arch + "."
    n_heads = int(meta[a + "attention.head_count"])
    m.cfg = dict(dim=int(meta[a + "embedding_length"]), hidden_dim=int(meta[a + "feed_forward_length"]),
                 n_layers=int(meta[a + "block_count"]), n_heads=n_heads,
                 n_kv_heads=int(meta.get(a + "attention.head_count_kv", n_heads)),
                 vocab_size=emb.w.shape[0], seq_len=int(meta.get(a + "context_length", 2048)),
                 eps=float(meta.get(a + "attention.layer_norm_rms_epsilon", 1e-6 if arch == "qwen2" else 1e-5)),
                 theta=float(meta.get(a + "rope.freq_base", 10000.0)),
                 neox=arch == "qwen2",
                 rope_freqs=vec("rope_freqs.weight") if "rope_freqs.weight" in t else None)
    m.emb = emb
    m.wcls = mat("output.weight") if "output.weight" in t else emb
    m.norm = vec("output_norm.weight")
    for i in range(m.cfg["n_layers"]):
        p = "blk.%d." % i
        m.layers.append(dict(attn_norm=vec(p + "attn_norm.weight"), wq=mat(p + "attn_q.weight"),
                             wk=mat(p + "attn_k.weight"), wv=mat(p + "attn_v.weight"),
                             wo=mat(p + "attn_output.weight"), ffn_norm=vec(p + "ffn_norm.weight"),
                             w1=mat(p + "ffn_gate.weight"), w2=mat(p + "ffn_down.weight"),
                             w3=mat(p + "ffn_up.weight")))
        if arch == "qwen2":
            for k in ("q", "k", "v"):
                m.layers[-1]["b" + k] = vec(p + "attn_%s.bias" % k)
    return m


def load_model(path):
    with open(path, "rb") as fh:
        magic = fh.read(4)
    return load_gguf(path) if magic == b"GGUF" else load_llama2c_bin(path)


# ----------------------------------------------------------------------------------------------
# forward pass

def rmsnorm(x, w, eps):
    return x * w / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps)


def rope(x, pos, theta, neox=False, freqs=None):
    """RoPE: x is (T, heads, head_size); pair i of each head is rotated by
    pos * theta^(-2i/head_size) / freqs[i] (freqs: Llama 3's factors, or none). The pairs are
    (2i, 2i+1) (llama) or (i, i + head_size/2) (neox, qwen2's rotate_half)."""
    hs = x.shape[-1]
    inv = theta ** (-np.arange(0, hs, 2, dtype=np.float64) / hs)         # (hs/2,)
    if freqs is not None:
        inv = inv / freqs.astype(np.float64)
    ang = pos[:, None].astype(np.float64) * inv[None, :]                  # (T, hs/2)
    c = np.cos(ang)[:, None, :].astype(x.dtype)
    s = np.sin(ang)[:, None, :].astype(x.dtype)
    out = np.empty_like(x)
    if neox:
        x0, x1 = x[..., :hs // 2], x[..., hs // 2:]
        out[..., :hs // 2] = x0 * c - x1 * s
        out[..., hs // 2:] = x0 * s + x1 * c
        return out
    x0, x1 = x[..., 0::2], x[..., 1::2]
    out[..., 0::2] = x0 * c - x1 * s
    out[..., 1::2] = x0 * s + x1 * c
    return out


class Cache:
    """Per-layer keys and values (after RoPE) of the positions processed so far."""

    def __init__(self, n_layers):
        self.k = [None] * n_layers
        self.v = [None] * n_layers
        self.n = 0


def forward(model, ids, cache=None, act_q8=False, dtype=np.float64):
    """Logits (len(ids), vocab) for tokens `ids` at positions cache.n, cache.n+1, ... (0 without a
    cache). All positions of `ids` are processed at once with a causal mask; `cache` (if given) holds
    earlier positions and is extended."""
    c = model.cfg
    dim, nh, nkv = c["dim"], c["n_heads"], c["n_kv_heads"]
    hs = dim // nh
    group = nh // nkv
    ids = np.asarray(ids, dtype=np.int64)
    T = ids.size
    start = cache.n if cache is not None else 0
    pos = np.arange(start, start + T)

    def linear(x, m):
        if act_q8 and m.qtype in QUANTIZED:
            x = q8_0_roundtrip(x)
        return x @ m.w.T.astype(dtype)

    x = model.emb.w[ids].astype(dtype)
    for li, L in enumerate(model.layers):
        xb = rmsnorm(x, L["attn_norm"].astype(dtype), c["eps"])
        bias = {k: L["b" + k].astype(dtype) if "b" + k in L else 0 for k in "qkv"}  # qwen2
        neox, freqs = c.get("neox", False), c.get("rope_freqs")
        q = rope((linear(xb, L["wq"]) + bias["q"]).reshape(T, nh, hs), pos, c["theta"], neox, freqs)
        k = rope((linear(xb, L["wk"]) + bias["k"]).reshape(T, nkv, hs), pos, c["theta"], neox, freqs)
        v = (linear(xb, L["wv"]) + bias["v"]).reshape(T, nkv, hs)
        if cache is not None:
            if cache.k[li] is not None:
                k = np.concatenate([cache.k[li], k], axis=0)
                v = np.concatenate([cache.v[li], v], axis=0)
            cache.k[li], cache.v[li] = k, v
        S = k.shape[0]                                                    # keys: positions 0..S-1
        kh = np.repeat(k.transpose(1, 0, 2), group, axis=0)               # (nh, S, hs), kv head = h // group
        vh = np.repeat(v.transpose(1, 0, 2), group, axis=0)
        scores = q.transpose(1, 0, 2) @ kh.transpose(0, 2, 1) / np.sqrt(dtype(hs))  # (nh, T, S)
        mask = np.arange(S)[None, :] > pos[:, None]                       # causal: key pos > query pos
        scores = np.where(mask[None], -np.inf, scores)
        scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
        att = scores / scores.sum(axis=-1, keepdims=True)
        o = (att @ vh).transpose(1, 0, 2).reshape(T, dim)
        x = x + linear(o, L["wo"])
        xb = rmsnorm(x, L["ffn_norm"].astype(dtype), c["eps"])
        h1 = linear(xb, L["w1"])
        h = h1 / (1 + np.exp(-h1)) * linear(xb, L["w3"])
        x = x + linear(h, L["w2"])
    if cache is not None:
        cache.n += T
    x = rmsnorm(x, model.norm.astype(dtype), c["eps"])
    return linear(x, model.wcls)


# ----------------------------------------------------------------------------------------------
# tokenizer (llama2.c format, or built from a GGUF's tokenizer.ggml.* metadata)

class Tokenizer:
    def __init__(self, pieces, scores):
        self.pieces = pieces                    # list of bytes
        self.scores = [float(s) for s in scores]
        self.lookup = {}
        for i, p in enumerate(pieces):          # first occurrence wins for duplicates
            self.lookup.setdefault(p, i)

    @classmethod
    def from_llama2c(cls, path, vocab_size):
        data = open(path, "rb").read()
        pos = 4                                  # int max_token_length (unused here)
        pieces, scores = [], []
        for _ in range(vocab_size):
            score, n = struct.unpack_from("<fi", data, pos)
            pos += 8
            pieces.append(data[pos:pos + n].split(b"\0")[0])   # run.c keeps C strings
            scores.append(score)
            pos += n
        return cls(pieces, scores)

    @classmethod
    def from_gguf_meta(cls, meta):
        toks = meta["tokenizer.ggml.tokens"]
        scores = meta.get("tokenizer.ggml.scores", np.zeros(len(toks)))
        pieces = [t.replace("\u2581", " ").encode("utf-8", errors="surrogateescape") for t in toks]
        return cls(pieces, scores)

    def encode(self, text, bos=True, eos=False):
        """llama2.c run.c encode(): dummy prefix, per-codepoint lookup with byte fallback (+3), then
        repeatedly merge the adjacent pair whose merged piece has the highest score (first wins)."""
        text = text.encode("utf-8") if isinstance(text, str) else text
        toks = [BOS] if bos else []
        if text:
            toks.append(self.lookup[b" "])
        i = 0
        while i < len(text):
            j = i + 1
            while j < len(text) and (text[j] & 0xC0) == 0x80 and j - i < 4:
                j += 1
            cp = text[i:j]
            if cp in self.lookup:
                toks.append(self.lookup[cp])
            else:
                toks.extend(b + 3 for b in cp)
            i = j
        first = 1 if bos else 0
        body = toks[first:]
        while True:
            best, best_id, best_i = -1e10, -1, -1
            for k in range(len(body) - 1):
                tid = self.lookup.get(self.pieces[body[k]] + self.pieces[body[k + 1]], -1)
                if tid != -1 and self.scores[tid] > best:
                    best, best_id, best_i = self.scores[tid], tid, k
            if best_i == -1:
                break
            body[best_i:best_i + 2] = [best_id]
        toks = toks[:first] + body
        if eos:
            toks.append(EOS)
        return toks

    def decode(self, prev, tok):
        """run.c decode(): strip a leading space after BOS; '<0xXX>' pieces become the raw byte."""
        piece = self.pieces[tok]
        if prev == BOS and piece[:1] == b" ":
            piece = piece[1:]
        mt = re.match(rb"<0x([0-9A-Fa-f]{1,2})", piece)
        if mt:
            piece = bytes([int(mt.group(1), 16)])
        return piece


def safe_piece(piece):
    """run.c safe_printf(): drop empty pieces and single bytes that are neither printable nor
    whitespace (C locale); printf("%s") stops at a NUL byte."""
    piece = piece.split(b"\0")[0]
    if not piece:
        return b""
    if len(piece) == 1 and not (0x20 <= piece[0] <= 0x7E or piece[0] in b" \t\n\v\f\r"):
        return b""
    return piece


def generate(model, tok, prompt, steps, act_q8=False):
    """Greedy generation as run.c's generate() with temperature 0; returns the printed bytes."""
    if steps <= 0 or steps > model.cfg["seq_len"]:
        steps = model.cfg["seq_len"]
    ptoks = tok.encode(prompt or "", bos=True)
    cache = Cache(model.cfg["n_layers"])
    out = bytearray()
    token, pos = ptoks[0], 0
    while pos < steps:
        logits = forward(model, [token], cache, act_q8=act_q8)[0]
        nxt = ptoks[pos + 1] if pos < len(ptoks) - 1 else int(np.argmax(logits))
        pos += 1
        if nxt == BOS:
            break
        out += safe_piece(tok.decode(token, nxt))
        token = nxt
    out += b"\n"
    return bytes(out)


def load_tokenizer(model, path):
    if path:
        return Tokenizer.from_llama2c(path, model.cfg["vocab_size"])
    if model.gguf_meta and "tokenizer.ggml.tokens" in model.gguf_meta:
        return Tokenizer.from_gguf_meta(model.gguf_meta)
    raise SystemExit("a --tokenizer is needed for this model")


# ----------------------------------------------------------------------------------------------
# CLI

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("generate", help="greedy generation, printed like llama2.c run.c -t 0")
    g.add_argument("--model", required=True)
    g.add_argument("--tokenizer")
    g.add_argument("--prompt", default="")
    g.add_argument("--steps", type=int, default=256)
    g.add_argument("--act-q8", action="store_true")
    lg = sub.add_parser("logits", help="write float32 logits [n_tok][vocab]")
    lg.add_argument("--model", required=True)
    lg.add_argument("--tokenizer")
    lg.add_argument("--ids", help="comma-separated token ids")
    lg.add_argument("--prompt", help="BOS + encoding of this text (instead of --ids)")
    lg.add_argument("--act-q8", action="store_true")
    lg.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    model = load_model(a.model)
    if a.cmd == "generate":
        text = generate(model, load_tokenizer(model, a.tokenizer), a.prompt, a.steps, a.act_q8)
        sys.stdout.buffer.write(text)
        sys.stdout.flush()
        return 0
    if a.ids is not None:
        ids = [int(s) for s in a.ids.split(",") if s.strip()]
    elif a.prompt is not None:
        ids = load_tokenizer(model, a.tokenizer).encode(a.prompt, bos=True)
        print(" ".join(map(str, ids)))
    else:
        raise SystemExit("need --ids or --prompt")
    logits = forward(model, ids, act_q8=a.act_q8)
    logits.astype("<f4").tofile(a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
