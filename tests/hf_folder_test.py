#!/usr/bin/python3
"""hf_folder_test.py - Hugging Face folders (`--model DIR`, `convert --to-hf`, tokenizer.json).

1. Folders made by `convert --to-hf` from stories260K (F32, F16, BF16; one file and sharded)
   give llama2.c's greedy text (expected_stories260K_t0_n200.txt) in F32; in F16 the text of
   the F16 GGUF `convert --type f16` makes; in BF16 the text of the GGUF converted from the
   folder (folder -> GGUF).
2. The safetensors bytes, read here with numpy, are the GGUF's tensors (ref_llama.py's reader)
   in transformers' layout: Q and K rows in rotate-half order, permuted as llama.cpp's
   convert_hf_to_gguf.py does (reshape(heads, 2, hd/2, dim).swapaxes(1, 2)) but inverted; F16
   and BF16 rounded as numpy rounds (BF16: nearest even).
3. tokenizer.json written here, from llama.cpp's vocabulary GGUFs, the way Hugging Face ships
   them (Llama 2's SentencePiece as a BPE model with byte fallback and merges from every split
   ordered by score, as tokenizers' SpmConverter does; Llama 3's, Qwen2's and GPT-2's byte-level
   BPE with their merges and Split regex), tokenizes llama.cpp's test vectors (.inp/.out) to
   exactly the expected ids through `calgae tokenize --tokenizer tokenizer.json`.
4. Hostile folders: one-line errors, exit status 1, no crash.
Environment: CALGAE_BIN, CALGAE_MODELS, CALGAE_TEST_TMP."""
import json
import os
import shutil
import struct
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ref_llama as R  # noqa: E402

BIN = os.environ["CALGAE_BIN"]
MODELS = os.environ["CALGAE_MODELS"]
TMP = os.path.join(os.environ["CALGAE_TEST_TMP"], "hf_folder_test.%d" % os.getpid())
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def calgae(*args, **kw):
    return subprocess.run([BIN] + list(args), capture_output=True, timeout=300, **kw)


GREEDY = ["--temperature", "0", "--tokens", "200"]


def run_text(model):
    p = calgae("run", "--model", model, *GREEDY)
    return p.stdout if p.returncode == 0 else b"error: " + p.stderr


def read_safetensors(folder):
    """{name: numpy array (float32)} of every safetensors file in folder."""
    out = {}
    for f in sorted(os.listdir(folder)):
        if not f.endswith(".safetensors"):
            continue
        data = open(os.path.join(folder, f), "rb").read()
        n = struct.unpack_from("<Q", data)[0]
        header = json.loads(data[8:8 + n])
        for name, t in header.items():
            if name == "__metadata__":
                continue
            b, e = t["data_offsets"]
            raw = data[8 + n + b:8 + n + e]
            if t["dtype"] == "F32":
                a = np.frombuffer(raw, "<f4")
            elif t["dtype"] == "F16":
                a = np.frombuffer(raw, "<f2").astype(np.float32)
            else:
                a = (np.frombuffer(raw, "<u2").astype(np.uint32) << 16).view(np.float32)
            out[name] = a.reshape(t["shape"])
    return out


def to_bf16(x):
    b = x.astype(np.float32).view(np.uint32).astype(np.uint64)
    b = (b + 0x7FFF + ((b >> 16) & 1)) >> 16
    return (b.astype(np.uint32) << 16).view(np.float32)


def hf_permute(w, heads):
    """llama.cpp's permute (HF -> GGUF) inverted: GGUF rows -> HF rotate-half rows."""
    rows, dim = w.shape
    return w.reshape(heads, rows // heads // 2, 2, dim).swapaxes(1, 2).reshape(rows, dim)


def check_layout(folder, dtype):
    meta, tensors = R.read_gguf(os.path.join(MODELS, "stories260K.gguf"))
    st = read_safetensors(folder)
    heads = int(meta["llama.attention.head_count"])
    kv_heads = int(meta.get("llama.attention.head_count_kv", heads))
    names = {"token_embd": "model.embed_tokens", "output_norm": "model.norm", "output": "lm_head",
             "attn_norm": "input_layernorm", "ffn_norm": "post_attention_layernorm",
             "attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj",
             "attn_v": "self_attn.v_proj", "attn_output": "self_attn.o_proj",
             "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj", "ffn_down": "mlp.down_proj"}
    bad = []
    for gname, entry in tensors.items():
        parts = gname.split(".")
        if parts[0] == "blk":
            hname = "model.layers.%s.%s.weight" % (parts[1], names[parts[2]])
        else:
            hname = names[parts[0]] + ".weight"
        w = R.gguf_tensor(entry).astype(np.float32)
        if parts[0] == "blk" and parts[2] in ("attn_q", "attn_k"):
            w = hf_permute(w, heads if parts[2] == "attn_q" else kv_heads)
        if dtype == "f16":
            w = w.astype(np.float16).astype(np.float32)
        elif dtype == "bf16":
            w = to_bf16(w)
        if hname not in st or st[hname].shape != w.shape or not np.array_equal(st[hname], w):
            bad.append(hname)
    check(not bad and len(st) == len(tensors),
          "%s safetensors hold the GGUF's %d tensors in transformers' layout%s"
          % (dtype, len(tensors), " (wrong: %s)" % bad[:3] if bad else ""))


def greedy_tests():
    gguf = os.path.join(MODELS, "stories260K.gguf")
    want = open(os.path.join(MODELS, "expected_stories260K_t0_n200.txt"), "rb").read()
    p = calgae("convert", "--model", gguf, "--out", os.path.join(TMP, "f16.gguf"), "--type", "f16")
    check(p.returncode == 0, "convert --type f16")
    f16_text = run_text(os.path.join(TMP, "f16.gguf"))
    for dtype, shards, src in (("f32", 1, "bin"), ("f32", 3, "gguf"), ("f16", 1, "gguf"),
                               ("f16", 2, "gguf"), ("bf16", 1, "gguf"), ("bf16", 5, "bin")):
        d = os.path.join(TMP, "%s-%d-%s" % (dtype, shards, src))
        model = ["--model", os.path.join(MODELS, "stories260K.bin"), "--tokenizer",
                 os.path.join(MODELS, "tok512.bin")] if src == "bin" else ["--model", gguf]
        p = calgae("convert", *model, "--to-hf", d, "--dtype", dtype, "--shards", str(shards))
        check(p.returncode == 0, "convert %s --to-hf %s, %d shard(s): %s"
              % (src, dtype, shards, p.stderr.decode().strip()))
        files = sorted(f for f in os.listdir(d) if f.endswith(".safetensors"))
        check(len(files) == shards and (shards == 1) != os.path.exists(
            os.path.join(d, "model.safetensors.index.json")), "%s: %d safetensors files" % (d, shards))
        text = run_text(d)
        if dtype == "f32":
            check(text == want, "%s folder (%d shards) greedy 200 = llama2.c" % (dtype, shards))
        elif dtype == "f16":
            check(text == f16_text, "f16 folder (%d shards) greedy 200 = F16 GGUF's" % shards)
        else:
            g = os.path.join(TMP, "from-%d.gguf" % shards)
            p = calgae("convert", "--model", d, "--out", g)
            check(p.returncode == 0 and text == run_text(g) and len(text) > 200,
                  "bf16 folder (%d shards) greedy 200 = its GGUF's" % shards)
        if shards == 1 and src == "gguf":
            check_layout(d, dtype)
    # an existing --to-hf folder is refused and kept
    d = os.path.join(TMP, "f32-3-gguf")
    before = sorted(os.listdir(d))
    p = calgae("convert", "--model", gguf, "--to-hf", d)
    check(p.returncode == 1 and sorted(os.listdir(d)) == before and b"exists" in p.stderr,
          "an existing --to-hf folder is refused and left alone")


def spm_tokenizer_json(meta):
    toks, scores, types = meta["tokenizer.ggml.tokens"], meta["tokenizer.ggml.scores"], \
        meta["tokenizer.ggml.token_type"]
    vocab = {t: i for i, t in enumerate(toks)}
    merges = []  # SpmConverter: every split of every piece into two pieces, by the piece's score
    for i, t in enumerate(toks):
        if types[i] != 1:
            continue
        for k in range(1, len(t)):
            a, b = t[:k], t[k:]
            if a in vocab and b in vocab and types[vocab[a]] == 1 and types[vocab[b]] == 1:
                merges.append((-float(scores[i]), i, vocab[a], a + " " + b))
    merges.sort()
    added = [{"id": i, "content": t, "special": True} for i, t in enumerate(toks)
             if types[i] in (2, 3)]
    return {"version": "1.0", "added_tokens": added,
            "normalizer": {"type": "Sequence", "normalizers": [
                {"type": "Prepend", "prepend": "\u2581"},
                {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]},
            "pre_tokenizer": None,
            "model": {"type": "BPE", "byte_fallback": True, "fuse_unk": True,
                      "unk_token": toks[int(meta.get("tokenizer.ggml.unknown_token_id", 0))],
                      "vocab": vocab, "merges": [m[3] for m in merges]}}


SPLITS = {
    "llama-bpe": "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
    "qwen2": "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
}


def bpe_tokenizer_json(meta):
    toks, types = meta["tokenizer.ggml.tokens"], meta["tokenizer.ggml.token_type"]
    pre = meta["tokenizer.ggml.pre"]
    added = [{"id": i, "content": t, "special": int(types[i]) == 3}
             for i, t in enumerate(toks) if int(types[i]) in (3, 4)]
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                  "use_regex": pre == "gpt-2"}
    pt = byte_level if pre == "gpt-2" else {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": SPLITS[pre]}, "behavior": "Isolated",
         "invert": False}, byte_level]}
    return {"version": "1.0", "added_tokens": added, "pre_tokenizer": pt,
            "model": {"type": "BPE", "byte_fallback": False, "ignore_merges": pre == "llama-bpe",
                      "vocab": {t: i for i, t in enumerate(toks)},
                      "merges": list(meta["tokenizer.ggml.merges"])}}


def vector_tests():
    sep = "\n__ggml_vocab_test__\n"
    for name in ("llama-spm", "llama-bpe", "qwen2", "gpt-2"):
        meta, _ = R.read_gguf(os.path.join(MODELS, "ggml-vocab-%s.gguf" % name))
        d = os.path.join(TMP, "tok-" + name)
        os.makedirs(d)
        tj = spm_tokenizer_json(meta) if name == "llama-spm" else bpe_tokenizer_json(meta)
        with open(os.path.join(d, "tokenizer.json"), "w", encoding="utf-8",
                  errors="surrogateescape") as f:
            json.dump(tj, f, ensure_ascii=False)
        inp = open(os.path.join(MODELS, "ggml-vocab-%s.gguf.inp" % name), encoding="utf-8",
                   errors="surrogateescape").read().split(sep)
        out = open(os.path.join(MODELS, "ggml-vocab-%s.gguf.out" % name)).read().split("\n")
        bad = []
        for i, text in enumerate(inp[:-1]):
            if "\0" in text:
                continue  # argv cannot carry it (none of the files has one)
            p = calgae("tokenize", "--tokenizer", os.path.join(d, "tokenizer.json"), "--text",
                       text, "--ids", "--no-bos")
            got = p.stdout.decode().strip().strip("[]").replace(",", " ").split()
            if p.returncode != 0 or got != out[i].split():
                bad.append((i, text[:30], p.stderr.decode()[:200]))
        check(not bad and len(inp) > 10, "tokenizer.json for %s: %d vectors of llama.cpp's give "
              "its ids%s" % (name, len(inp) - 1, " (wrong: %r)" % bad[:3] if bad else ""))


def hostile(name, files, want):
    """A copy of the F32 folder with files replaced; must fail with one line naming want."""
    d = os.path.join(TMP, "hostile%d" % len(os.listdir(TMP)))  # no word of want in the path
    shutil.copytree(os.path.join(TMP, "f32-1-bin"), d)
    for f, content in files.items():
        if content is None:
            os.unlink(os.path.join(d, f))
            continue
        with open(os.path.join(d, f), "wb") as fh:
            fh.write(content)
    p = calgae("run", "--model", d, "--tokens", "4")
    err = p.stderr.decode()
    check(p.returncode == 1 and err.count("\n") == 1 and want in err,
          "hostile %s: exit %d, '%s'" % (name, p.returncode, err.strip()[:150]))


def st_file(header, data=b""):
    h = json.dumps(header).encode() if not isinstance(header, bytes) else header
    return struct.pack("<Q", len(h)) + h + data


def hostile_tests():
    cfg = json.load(open(os.path.join(TMP, "f32-1-bin", "config.json")))
    t = {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}
    hostile("header-past-end", {"model.safetensors": struct.pack("<Q", 1000) + b"{}"}, "past the end")
    hostile("header-100MB", {"model.safetensors": struct.pack("<Q", 200 << 20) + b"{}"}, "100 MB")
    hostile("overlap", {"model.safetensors": st_file(
        {"a": t, "b": dict(t, data_offsets=[8, 24])}, bytes(24))}, "overlap")
    hostile("out-of-range", {"model.safetensors": st_file(
        {"a": dict(t, data_offsets=[0, 64])}, bytes(16))}, "outside")
    hostile("dtype-shape", {"model.safetensors": st_file(
        {"a": dict(t, dtype="F16")}, bytes(16))}, "needs 8 bytes")
    hostile("bad-dtype", {"model.safetensors": st_file({"a": dict(t, dtype="I8")}, bytes(16))},
            "not supported")
    hostile("not-json", {"model.safetensors": st_file(b"{\"a\": [", bytes(16))}, "not a JSON")
    hostile("missing-tensor", {"model.safetensors": st_file({"a": t}, bytes(16))}, "missing")
    hostile("deep-json", {"config.json": b"[" * 100000 + b"]" * 100000}, "not a JSON object")
    hostile("huge-number", {"config.json": json.dumps(dict(cfg, hidden_size=1e300)).encode()},
            "hidden_size")
    bad = dict(cfg)
    del bad["num_hidden_layers"]
    hostile("missing-key", {"config.json": json.dumps(bad).encode()}, "num_hidden_layers is missing")
    hostile("wrong-type", {"config.json": json.dumps(dict(cfg, rms_norm_eps="x")).encode()},
            "rms_norm_eps")
    hostile("rope-scaling", {"config.json": json.dumps(
        dict(cfg, rope_scaling={"type": "linear", "factor": 2})).encode()}, "rope_scaling")
    llama3 = dict(rope_type="llama3", factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0,
                  original_max_position_embeddings=8192)
    hostile("llama3-missing", {"config.json": json.dumps(dict(cfg, rope_scaling={
        k: v for k, v in llama3.items() if k != "high_freq_factor"})).encode()},
        "rope_scaling.high_freq_factor is missing")
    hostile("llama3-factor", {"config.json": json.dumps(
        dict(cfg, rope_scaling=dict(llama3, factor=0.5))).encode()}, "factor >= 1")
    hostile("llama3-bands", {"config.json": json.dumps(
        dict(cfg, rope_scaling=dict(llama3, low_freq_factor=4.0))).encode()},
        "low_freq_factor < high_freq_factor")
    hostile("qwen2-no-bias", {"config.json": json.dumps(dict(cfg, model_type="qwen2")).encode()},
            "self_attn.q_proj.bias must be a vector")
    hostile("model-type", {"config.json": json.dumps(dict(cfg, model_type="gpt2")).encode()},
            "not supported")
    tj = json.load(open(os.path.join(TMP, "f32-1-bin", "tokenizer.json")))
    tj["model"]["vocab"]["<0x41>"] = 100000
    hostile("vocab-hole", {"tokenizer.json": json.dumps(tj).encode()}, "holes")
    hostile("index-escape", {"model.safetensors": None, "model.safetensors.index.json":
                             json.dumps({"weight_map": {"a": "../x.safetensors"}}).encode()},
            "bad file name")


def main():
    os.makedirs(TMP)
    try:
        greedy_tests()
        vector_tests()
        hostile_tests()
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    print("%d failure(s)" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
