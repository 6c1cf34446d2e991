#!/usr/bin/python3
"""hf_bpe_test.py - `convert --to-hf` of byte-level BPE models (GGUF tokenizer.ggml.model gpt2).

For bench/gen_model's ci-llama3 (ggml-vocab-llama-bpe.gguf's vocabulary, Llama 3 RoPE scaling as
rope_freqs.weight) and ci-qwen2 (ggml-vocab-qwen2.gguf's, Q/K/V biases), written in F32:
  1. GGUF -> `convert --to-hf DIR` -> `run --model DIR` gives the GGUF's greedy text for a prompt
     with contractions, digits, accents, CJK and newlines (the tokenizer and the weights both);
  2. DIR/tokenizer.json tokenizes llama.cpp's test vectors (ggml-vocab-*.gguf.inp) to exactly
     llama.cpp's ids (.out), through `calgae tokenize --tokenizer DIR/tokenizer.json`;
  3. tokenizer.json has the shape the tokenizers library serialises for these families, checked
     here against the format (not against a file of ours): model.type "BPE" without byte
     fallback, vocab holding exactly the vocabulary GGUF's normal tokens at their ids (read here
     with ref_llama's reader), merges exactly the GGUF's in order, every other token in
     added_tokens (control ones special), pre_tokenizer Sequence[Split(the family's regex,
     Isolated), ByteLevel(use_regex false)], decoder ByteLevel; tokenizer_config.json names BOS
     and EOS by text and says add_bos_token as llama.cpp's defaults for the pre-tokenizer do;
  4. config.json: model_type qwen2 with the biases in the safetensors, or llama with
     rope_scaling llama3 carrying gen_model's parameters (factor 32, low 1, high 4, original
     context 64, from bench/gen_model.c);
  5. a chat_template in a folder's tokenizer_config.json survives folder -> `--to-hf` folder;
  6. folder -> GGUF in a K-quant mixture: `quantize --model DIR --type q4_k_m` of ci-kblocks'
     folder writes the same tensors (types and bytes) as the same from its GGUF, and its size
     line counts the folder's safetensors bytes (computed here with os.path.getsize).
Environment: CALGAE_BIN, CALGAE_MODELS, CALGAE_TEST_TMP, CALGAE_GEN_MODEL."""
import json
import os
import shutil
import struct
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ref_llama as R  # noqa: E402
import ref_kquants  # noqa: E402,F401  (teaches the reader the K types)

BIN = os.environ["CALGAE_BIN"]
MODELS = os.environ["CALGAE_MODELS"]
GEN_MODEL = os.environ["CALGAE_GEN_MODEL"]
TMP = os.path.join(os.environ["CALGAE_TEST_TMP"], "hf_bpe_test.%d" % os.getpid())
failures = []

# tokenizer.json's Split regexes as Llama 3's and Qwen2's files spell them (digits in threes or
# one by one); written out here from the families' published tokenizer.json, not from our C code
SPLITS = {
    "llama-bpe": "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
    "qwen2": "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
}
# llama.cpp's defaults for these pre-tokenizers (llama-vocab.cpp): Llama 3 adds BOS, Qwen2 not
ADD_BOS = {"llama-bpe": True, "qwen2": False}
LLAMA3_SCALING = dict(rope_type="llama3", factor=32.0, low_freq_factor=1.0, high_freq_factor=4.0,
                      original_max_position_embeddings=64)
PROMPT = "It's 2024: naïve café, 12345 apples\n\n  日本語 and  spaces?!"


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def calgae(*args):
    return subprocess.run([BIN] + list(args), capture_output=True, timeout=300)


def greedy(model):
    p = calgae("run", "--model", model, "--temperature", "0", "--tokens", "48", "--prompt", PROMPT)
    return p.stdout if p.returncode == 0 else b"error: " + p.stderr


def safetensors_names(folder):
    names = set()
    for f in os.listdir(folder):
        if f.endswith(".safetensors"):
            with open(os.path.join(folder, f), "rb") as fh:
                n = struct.unpack("<Q", fh.read(8))[0]
                names |= set(json.loads(fh.read(n))) - {"__metadata__"}
    return names


def check_tokenizer_shape(d, meta, pre):
    """Item 3 of the header, against the format and the vocabulary GGUF read in Python."""
    tj = json.load(open(os.path.join(d, "tokenizer.json"), encoding="utf-8"))
    toks, types = meta["tokenizer.ggml.tokens"], [int(x) for x in meta["tokenizer.ggml.token_type"]]
    model = tj.get("model", {})
    check(model.get("type") == "BPE" and model.get("byte_fallback") is False,
          "%s: model is BPE without byte fallback" % pre)
    want_vocab = {t: i for i, t in enumerate(toks) if types[i] == 1}
    check(model.get("vocab") == want_vocab, "%s: vocab is the GGUF's %d normal tokens at their ids"
          % (pre, len(want_vocab)))
    check(model.get("merges") == list(meta["tokenizer.ggml.merges"]),
          "%s: merges are the GGUF's %d, in order" % (pre, len(meta["tokenizer.ggml.merges"])))
    added = {a["id"]: a for a in tj.get("added_tokens", [])}
    want_added = {i for i in range(len(toks)) if types[i] != 1}
    check(set(added) == want_added and all(
        added[i]["content"] == toks[i] and added[i]["special"] == (types[i] == 3)
        for i in want_added), "%s: %d added tokens, control ones special" % (pre, len(want_added)))
    pt = tj.get("pre_tokenizer") or {}
    steps = pt.get("pretokenizers") or [{}, {}]
    check(pt.get("type") == "Sequence" and len(steps) == 2 and steps[0].get("type") == "Split"
          and steps[0].get("pattern") == {"Regex": SPLITS[pre]}
          and steps[0].get("behavior") == "Isolated" and steps[0].get("invert") is False
          and steps[1].get("type") == "ByteLevel" and steps[1].get("use_regex") is False
          and steps[1].get("add_prefix_space") is False,
          "%s: pre_tokenizer is Sequence[Split(its regex), ByteLevel(use_regex false)]" % pre)
    check((tj.get("decoder") or {}).get("type") == "ByteLevel", "%s: decoder ByteLevel" % pre)
    tc = json.load(open(os.path.join(d, "tokenizer_config.json"), encoding="utf-8"))
    bos = toks[int(meta["tokenizer.ggml.bos_token_id"])]
    eos = toks[int(meta["tokenizer.ggml.eos_token_id"])]
    check(tc.get("bos_token") == bos and tc.get("eos_token") == eos and
          tc.get("add_bos_token") is ADD_BOS[pre],
          "%s: tokenizer_config.json: bos %r, eos %r, add_bos_token %s"
          % (pre, tc.get("bos_token"), tc.get("eos_token"), tc.get("add_bos_token")))


def check_vectors(d, name):
    sep = "\n__ggml_vocab_test__\n"
    inp = open(os.path.join(MODELS, "ggml-vocab-%s.gguf.inp" % name), encoding="utf-8",
               errors="surrogateescape").read().split(sep)
    out = open(os.path.join(MODELS, "ggml-vocab-%s.gguf.out" % name)).read().split("\n")
    bad = []
    for i, text in enumerate(inp[:-1]):
        if "\0" in text:
            continue  # argv cannot carry it (none of the files has one)
        p = calgae("tokenize", "--tokenizer", os.path.join(d, "tokenizer.json"), "--text", text,
                   "--ids", "--no-bos")
        got = p.stdout.decode().strip().strip("[]").replace(",", " ").split()
        if p.returncode != 0 or got != out[i].split():
            bad.append((i, text[:30], p.stderr.decode()[:200]))
    check(not bad and len(inp) > 10, "%s: the folder's tokenizer.json gives llama.cpp's ids for "
          "its %d vectors%s" % (name, len(inp) - 1, " (wrong: %r)" % bad[:3] if bad else ""))


def roundtrip(shape, vocab):
    gguf = os.path.join(TMP, shape + ".gguf")
    p = subprocess.run([GEN_MODEL, "--shape", shape, "--type", "f32", "--vocab",
                        os.path.join(MODELS, "ggml-vocab-%s.gguf" % vocab), "--out", gguf],
                       capture_output=True, timeout=300)
    check(p.returncode == 0, "gen_model %s: %s" % (shape, p.stderr.decode().strip()))
    d = os.path.join(TMP, shape + "-hf")
    p = calgae("convert", "--model", gguf, "--to-hf", d)
    check(p.returncode == 0, "%s: convert --to-hf: %s" % (shape, p.stderr.decode().strip()))
    if p.returncode != 0:
        return None
    want = greedy(gguf)
    got = greedy(d)
    check(got == want and len(want) > len(PROMPT), "%s: the folder's greedy text is the GGUF's "
          "(%d bytes)%s" % (shape, len(want), "" if got == want else ": %r vs %r" % (got, want)))
    meta, _ = R.read_gguf(os.path.join(MODELS, "ggml-vocab-%s.gguf" % vocab))
    check_tokenizer_shape(d, meta, vocab)
    check_vectors(d, vocab)
    cfg = json.load(open(os.path.join(d, "config.json")))
    names = safetensors_names(d)
    if shape == "ci-qwen2":
        check(cfg.get("model_type") == "qwen2" and all(
            "model.layers.%d.self_attn.%s_proj.bias" % (l, x) in names
            for l in range(2) for x in "qkv"), "ci-qwen2: model_type qwen2 with Q/K/V biases")
    else:
        check(cfg.get("model_type") == "llama" and cfg.get("rope_scaling") == LLAMA3_SCALING,
              "ci-llama3: rope_scaling %r" % cfg.get("rope_scaling"))
    return d


def chat_template_test(d):
    """A template in tokenizer_config.json comes through folder -> --to-hf folder."""
    src = os.path.join(TMP, "with-template")
    shutil.copytree(d, src)
    tpl = "{% for m in messages %}<|start_header_id|>{{ m['role'] }}<|end_header_id|>{% endfor %}"
    path = os.path.join(src, "tokenizer_config.json")
    tc = json.load(open(path))
    tc["chat_template"] = tpl
    json.dump(tc, open(path, "w"))
    out = os.path.join(TMP, "template-copy")
    p = calgae("convert", "--model", src, "--to-hf", out)
    got = json.load(open(os.path.join(out, "tokenizer_config.json"))).get("chat_template") \
        if p.returncode == 0 else p.stderr.decode()
    check(got == tpl, "chat_template kept through folder -> --to-hf folder (%r)" % got[:40])


def kquant_test():
    gguf = os.path.join(TMP, "kb.gguf")
    p = subprocess.run([GEN_MODEL, "--shape", "ci-kblocks", "--type", "f32", "--vocab",
                        os.path.join(MODELS, "tok512.bin"), "--out", gguf],
                       capture_output=True, timeout=300)
    d = os.path.join(TMP, "kb-hf")
    q = calgae("convert", "--model", gguf, "--to-hf", d)
    check(p.returncode == 0 and q.returncode == 0, "ci-kblocks folder: %s %s"
          % (p.stderr.decode().strip(), q.stderr.decode().strip()))
    outs = []
    for src in (gguf, d):
        out = os.path.join(TMP, "kb-%d.gguf" % len(outs))
        p = calgae("quantize", "--model", src, "--out", out, "--type", "q4_k_m")
        check(p.returncode == 0, "quantize --model %s --type q4_k_m: %s"
              % (os.path.basename(src), p.stderr.decode().strip()[-200:]))
        tensors = R.read_gguf(out)[1] if p.returncode == 0 else {}
        outs.append(({k: (v[0], v[1], bytes(v[2])) for k, v in tensors.items()}, p.stderr.decode()))
    (a, _), (b, line) = outs
    kinds = sorted(set(t[1] for t in a.values()))
    check(a and a == b and len(kinds) > 1, "folder -> q4_k_m GGUF: the same %d tensors (types %s) "
          "as from the GGUF" % (len(a), kinds))
    mib = os.path.getsize(os.path.join(d, "model.safetensors")) / 1048576.0
    check("size %.3f MiB ->" % mib in line, "quantize's size line counts the folder's "
          "safetensors, %.3f MiB" % mib)


def main():
    os.makedirs(TMP)
    try:
        roundtrip("ci-qwen2", "qwen2")
        d = roundtrip("ci-llama3", "llama-bpe")
        if d:
            chat_template_test(d)
        kquant_test()
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    print("%d failure(s)" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
