#!/usr/bin/python3
"""arch_logits_test.py - Qwen2 and Llama 3 architectures: `calgae logits` against the numpy
reference (ref_llama.py) on tiny random-weight models with the real vocabularies.

Models, made here by bench/gen_model in F32 (tied classifiers, as both real families have):
  * ci-qwen2: general.architecture qwen2 - Q/K/V biases (uniform in [-0.5, 0.5), far larger than
    the 0.02 weights, so dropping them moves the logits by orders of magnitude more than the
    tolerance), rotate-half ("NeoX") RoPE, qwen2.* keys, ggml-vocab-qwen2.gguf's 151k tokens;
  * ci-llama3: llama with rope_freqs.weight (Llama 3 RoPE scaling, factor 32, low/high frequency
    factors 1 and 4, original context 64 so that every band of the scaling turns within the test's
    positions), ggml-vocab-llama-bpe.gguf's 128k tokens.
Checks, each against an independent source:
  1. the file's rope_freqs.weight equals transformers' _compute_llama3_parameters formula, computed
     here in numpy from the shape's parameters (not by our C code);
  2. the GGUF's logits (ids: one token; 96 random ids in one batch) against ref_llama's float64
     forward pass on the same file: every row within TOL relative to its largest logit, the same
     argmax on every row;
  3. two sequences of 24 ids evaluated side by side (tests/arch_seqs.c: calgae_eval_seqs, one
     token of each per batch, so keys and values take the multi-sequence scatter), each against
     the reference's logits of that sequence alone;
  4. the same model as a Hugging Face folder written here in Python (config.json with model_type
     qwen2, or llama with rope_scaling {rope_type: llama3}; model.safetensors with Q/K rows in
     transformers' rotate-half order, qwen2's q/k/v_proj.bias), against the same reference;
  5. a self-check that the test can fail: the reference without biases, with the other RoPE
     variant, or without the frequency factors lands far outside TOL from the runtime's logits.

TOL = 1.5e-5, as numpy_logits_test.py's TOL_F32 (the runtime's float32 rounding against a float64
reference; measured worst here 3e-7).

Environment: CALGAE_BIN, CALGAE_MODELS (models folder, with the vocab GGUFs), CALGAE_TEST_TMP,
CALGAE_GEN_MODEL (bench/gen_model).
"""
import json
import os
import shutil
import struct
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ref_llama as R  # noqa: E402

TOL = 1.5e-5
# ci-llama3's scaling (bench/gen_model.c): factor, low_freq_factor, high_freq_factor, original ctx
LLAMA3_SCALING = dict(factor=32.0, low_freq_factor=1.0, high_freq_factor=4.0,
                      original_max_position_embeddings=64)

failures = []


def fail(msg):
    print("FAIL " + msg)
    failures.append(msg)


def env(name):
    v = os.environ.get(name)
    if not v:
        print("arch_logits_test: environment variable %s is not set" % name)
        sys.exit(2)
    return v


BIN, MODELS, GEN_MODEL = env("CALGAE_BIN"), env("CALGAE_MODELS"), env("CALGAE_GEN_MODEL")
ARCH_SEQS = env("CALGAE_ARCH_SEQS")  # tests/arch_seqs.c: two sequences in each batch
TMP = os.path.join(env("CALGAE_TEST_TMP"), "arch_logits.%d" % os.getpid())


def run(cmd):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=600)
    if p.returncode != 0:
        raise RuntimeError("`%s` exited with %d\n%s" % (" ".join(cmd), p.returncode,
                                                       p.stderr.decode(errors="replace")[-2000:]))


def c_logits(model, ids, n_vocab, vocab):
    """The runtime's logits; vocab (a GGUF) is the folder's vocabulary (ids need no tokenizer, but
    a model must have one)."""
    out = os.path.join(TMP, "logits.f32")
    if os.path.exists(out):
        os.remove(out)
    run([BIN, "logits", "--model", model, "--tokenizer", vocab, "--ids", ",".join(map(str, ids)), "--out", out])
    flat = np.fromfile(out, dtype="<f4")
    if flat.size != len(ids) * n_vocab:
        raise RuntimeError("%s: %d floats, expected %d x %d" % (out, flat.size, len(ids), n_vocab))
    return flat.reshape(len(ids), n_vocab).astype(np.float64)


def row_err(c, r):
    return np.max(np.abs(c - r), axis=1) / np.maximum(np.max(np.abs(r), axis=1), 1e-6)


def llama3_factors(theta, n_rot, factor, low_freq_factor, high_freq_factor,
                   original_max_position_embeddings):
    """transformers' _compute_llama3_parameters, as a factor per pair (inv_freq / new inv_freq)."""
    inv = 1.0 / theta ** (np.arange(0, n_rot, 2, dtype=np.float32).astype(np.float64) / n_rot)
    wavelen = 2 * np.pi / inv
    low_wl = original_max_position_embeddings / low_freq_factor
    high_wl = original_max_position_embeddings / high_freq_factor
    smooth = (original_max_position_embeddings / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor)
    f = np.where(wavelen > low_wl, factor, 1.0)
    mid = (wavelen >= high_wl) & (wavelen <= low_wl)
    return np.where(mid, 1.0 / ((1 - smooth) / factor + smooth), f)


def write_hf(model, folder, arch):
    """A Hugging Face folder of model (a ref_llama GGUF model): config.json and one F32
    model.safetensors (header: JSON of dtype/shape/data_offsets, then the raw tensors)."""
    c = model.cfg
    hd = c["dim"] // c["n_heads"]
    os.makedirs(folder)
    cfg = {"model_type": arch, "architectures": ["Qwen2ForCausalLM" if arch == "qwen2" else "LlamaForCausalLM"],
           "hidden_size": c["dim"], "intermediate_size": c["hidden_dim"], "num_hidden_layers": c["n_layers"],
           "num_attention_heads": c["n_heads"], "num_key_value_heads": c["n_kv_heads"],
           "vocab_size": c["vocab_size"], "max_position_embeddings": c["seq_len"], "rms_norm_eps": c["eps"],
           "rope_theta": c["theta"], "tie_word_embeddings": True, "hidden_act": "silu",
           "rope_scaling": dict(rope_type="llama3", **LLAMA3_SCALING) if c["rope_freqs"] is not None else None}
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(cfg, f)

    def hf_rows(w):
        """llama's GGUF Q/K rows are in adjacent-pair order; transformers' row j*hd/2+i of a head
        is the GGUF's row 2i+j."""
        if arch == "qwen2":
            return w
        heads = w.reshape(-1, hd // 2, 2, w.shape[1])             # [head][i][j][cols]
        return heads.transpose(0, 2, 1, 3).reshape(w.shape)      # [head][j][i][cols]

    tensors = {"model.embed_tokens.weight": model.emb.w, "model.norm.weight": model.norm}
    for i, L in enumerate(model.layers):
        p = "model.layers.%d." % i
        tensors.update({p + "input_layernorm.weight": L["attn_norm"],
                        p + "post_attention_layernorm.weight": L["ffn_norm"],
                        p + "self_attn.q_proj.weight": hf_rows(L["wq"].w),
                        p + "self_attn.k_proj.weight": hf_rows(L["wk"].w),
                        p + "self_attn.v_proj.weight": L["wv"].w, p + "self_attn.o_proj.weight": L["wo"].w,
                        p + "mlp.gate_proj.weight": L["w1"].w, p + "mlp.down_proj.weight": L["w2"].w,
                        p + "mlp.up_proj.weight": L["w3"].w})
        for k in "qkv":
            if "b" + k in L:
                tensors[p + "self_attn.%s_proj.bias" % k] = L["b" + k]
    header, blobs, off = {}, [], 0
    for name, a in tensors.items():
        b = np.ascontiguousarray(a, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(os.path.join(folder, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
        for b in blobs:
            f.write(b)


def check(label, c, r):
    e = row_err(c, r)
    agree = np.mean(np.argmax(c, axis=1) == np.argmax(r, axis=1))
    print("%-28s rows %3d  max row error %.2e  argmax agreement %.3f" % (label, len(e), e.max(), agree))
    if e.max() > TOL:
        fail("%s: row error %.2e > %.1e (worst row %d)" % (label, e.max(), TOL, int(np.argmax(e))))
    if agree < 1.0:
        fail("%s: argmax differs on %.1f%% of rows" % (label, 100 * (1 - agree)))


def must_differ(label, c, r):
    """The runtime's logits against a deliberately wrong reference: must be far outside TOL."""
    e = row_err(c, r)
    print("%-28s max row error %.2e (must exceed %.0e)" % (label, e.max(), 100 * TOL))
    if e.max() <= 100 * TOL:
        fail("%s: a wrong reference agrees with the runtime (%.2e): the test cannot see this" % (label, e.max()))


def test_model(shape, vocab, arch):
    path = os.path.join(TMP, shape + ".gguf")
    vocab = os.path.join(MODELS, vocab)
    run([GEN_MODEL, "--shape", shape, "--type", "f32", "--vocab", vocab, "--out", path])
    model = R.load_gguf(path)
    c = model.cfg
    n_vocab = c["vocab_size"]
    meta, tensors = R.read_gguf(path)
    if meta["general.architecture"] != arch:
        fail("%s: general.architecture %r, expected %r" % (shape, meta["general.architecture"], arch))
    if "output.weight" in tensors:
        fail("%s: output.weight present, the classifier should be tied" % shape)
    ntok = len(meta["tokenizer.ggml.tokens"])
    if n_vocab != ntok or n_vocab < 100000:
        fail("%s: %d embedding rows for %d tokens (a real 100k+ vocabulary expected)" % (shape, n_vocab, ntok))
    if arch == "qwen2":
        if not all("bq" in L and "bk" in L and "bv" in L for L in model.layers):
            fail("%s: a layer has no Q/K/V biases" % shape)
    else:
        want = llama3_factors(c["theta"], c["dim"] // c["n_heads"], **LLAMA3_SCALING)
        got = c["rope_freqs"]
        if got is None or got.shape != want.shape or not np.allclose(got, want, rtol=1e-6, atol=0):
            fail("%s: rope_freqs.weight %s, transformers' formula gives %s" % (shape, got, want))
        elif not (np.any(want == 1.0) and np.any(want == 32.0) and np.any((want > 1) & (want < 32))):
            fail("%s: the scaling's three bands are not all exercised: %s" % (shape, want))

    rng = np.random.default_rng(11)
    seqs = [[int(rng.integers(0, n_vocab))], [int(x) for x in rng.integers(0, n_vocab, 96)]]
    hf_dir = os.path.join(TMP, shape + "-hf")
    write_hf(model, hf_dir, arch)
    for ids in seqs:
        r = R.forward(model, ids)
        check("%s gguf, %d ids" % (shape, len(ids)), c_logits(path, ids, n_vocab, vocab), r)
        check("%s hf folder, %d ids" % (shape, len(ids)), c_logits(hf_dir, ids, n_vocab, vocab), r)

    ids = seqs[1][:48]
    out = os.path.join(TMP, "seqs.f32")
    run([ARCH_SEQS, path, vocab, out] + [str(i) for i in ids])
    got = np.fromfile(out, dtype="<f4").reshape(24, 2, n_vocab).astype(np.float64)
    for s in range(2):
        check("%s seqs, sequence %d" % (shape, s), got[:, s], R.forward(model, ids[24 * s:24 * s + 24]))

    # self-check on the long sequence: wrong references must not pass
    ids = seqs[1]
    cl = c_logits(path, ids, n_vocab, vocab)
    if arch == "qwen2":
        saved = [{k: L.pop(k) for k in ("bq", "bk", "bv")} for L in model.layers]
        must_differ("%s without biases" % shape, cl, R.forward(model, ids))
        for L, b in zip(model.layers, saved):
            L.update(b)
    else:
        freqs, c["rope_freqs"] = c["rope_freqs"], None
        must_differ("%s without rope_freqs" % shape, cl, R.forward(model, ids))
        c["rope_freqs"] = freqs
    c["neox"] = not c["neox"]
    must_differ("%s other RoPE variant" % shape, cl, R.forward(model, ids))
    c["neox"] = not c["neox"]


def main():
    shutil.rmtree(TMP, ignore_errors=True)
    os.makedirs(TMP)
    try:
        test_model("ci-qwen2", "ggml-vocab-qwen2.gguf", "qwen2")
        test_model("ci-llama3", "ggml-vocab-llama-bpe.gguf", "llama")
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    if failures:
        print("arch_logits_test: %d failure(s)" % len(failures))
        return 1
    print("arch_logits_test: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
