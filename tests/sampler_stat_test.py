#!/usr/bin/python3
"""sampler_stat_test.py - the runtime's sampler (core/engine/sampler.c, through tests/sampler_draws.c)
draws tokens with the distribution it documents, judged against an independent computation.

Logits: the numpy reference's (ref_llama.py) for stories260K after a prompt, so the distribution
is a real model's (a few likely tokens, a long tail). For each setting of temperature T, top-k and
top-p, the expected distribution is computed here in float64 from the same float32 logits:
  p = softmax(logits / T); sort by p descending, ties by id; keep the top_k most likely (0: all);
  of those, keep the smallest prefix whose mass reaches top_p times their mass; renormalize.
Then N seeded draws are judged in two ways:
  * support, exactly: a token outside the kept set must never be drawn;
  * frequencies: Pearson's chi-square goodness of fit over the kept tokens (tokens expected fewer
    than 5 times pooled into one cell), p-value from the regularized upper incomplete gamma
    function. The test fails at p < ALPHA = 1e-6, so a correct sampler fails a setting with
    probability 1e-6 for a random seed: about 8e-6 for the whole test. Seeds are fixed, so a run
    is reproducible; a failure is a real difference, not bad luck, unless 1e-6 luck.
A setting whose top-p cut is ambiguous (some prefix mass within 1e-5 of the threshold, where the
sampler's float32 probabilities may decide either way) is a failure of the test's setup.
Power, measured by breaking core/engine/sampler.c: a temperature 7% off fails every setting (p < 1e-25);
top-p keeping one token too many draws outside the kept set; top-k keeping one too few gives
p < 1e-130; the repeat penalty applied per occurrence instead of per distinct token, or a min-p
floor 0.3 too high, gives p < 1e-75.

min-p and the repeat penalty (llama.cpp's), computed here from their definitions: before the rest,
each distinct token of the history (the last LAST_N accepted) gets its logit divided by the penalty
when positive, multiplied when not; after top-p, min-p keeps the tokens whose logit is at least the
largest logit + ln(min_p) (probability before temperature >= min_p times the largest). At
temperature 0 the draw must always be the argmax of the penalized logits. A min-p cut within 1e-5
of a logit is ambiguous like a top-p cut.
Environment: CALGAE_SAMPLER_DRAWS (the helper), CALGAE_MODELS, CALGAE_TEST_TMP.
"""
import math
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ref_llama as R  # noqa: E402

ALPHA = 1e-6
N = 40000
# (temperature, top_k, top_p, seed) and, for the filters, (min_p, penalty, last_n, history)
SETTINGS = [(1.0, 0, 1.0, 11), (0.7, 0, 1.0, 12), (1.5, 0, 1.0, 13), (1.0, 10, 1.0, 14),
            (1.0, 0, 0.9, 15), (0.8, 40, 0.95, 16), (1.2, 100, 0.8, 17), (0.9, 3, 1.0, 18)]
FILTERS = [(1.0, 0, 1.0, 21, (0.05, 1.0, 0, None)), (0.7, 0, 1.0, 22, (0.2, 1.0, 0, None)),
           (1.3, 40, 0.95, 23, (0.01, 1.0, 0, None)),
           (1.0, 0, 1.0, 24, (0.0, 1.3, 64, "top")), (0.8, 0, 0.9, 25, (0.0, 1.8, 8, "top")),
           (1.0, 0, 1.0, 26, (0.05, 1.5, 64, "top")), (0.0, 0, 1.0, 27, (0.0, 5.0, 64, "top")),
           (1.0, 0, 1.0, 28, (0.0, 0.7, 64, "neg"))]


def q_gamma(a, x):
    """Regularized upper incomplete gamma Q(a, x): the chi-square survival function is
    Q(df/2, chi2/2). Series for x < a + 1, Lentz's continued fraction otherwise."""
    if x <= 0:
        return 1.0
    lg = math.lgamma(a)
    if x < a + 1:
        term = total = 1.0 / a
        ap = a
        for _ in range(10000):
            ap += 1
            term *= x / ap
            total += term
            if abs(term) < abs(total) * 1e-15:
                break
        return max(0.0, 1.0 - total * math.exp(-x + a * math.log(x) - lg))
    tiny = 1e-300
    b = x + 1 - a
    c = 1 / tiny
    d = 1 / b
    h = d
    for i in range(1, 10000):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        delta = d * c
        h *= delta
        if abs(delta - 1) < 1e-15:
            break
    return math.exp(-x + a * math.log(x) - lg) * h


def penalized(logits, penalty, last_n, history):
    """llama.cpp's repeat penalty, from its definition: once per distinct token of the last
    last_n of history."""
    x = logits.astype(np.float64).copy()
    for t in set(history[-last_n:] if last_n else []):
        x[t] = x[t] * penalty if x[t] <= 0 else x[t] / penalty
    return x


def expected(logits, temp, top_k, top_p, min_p=0.0):
    """The documented distribution (see the module comment); also the smallest distance of a
    prefix mass from the top-p threshold, to reject ambiguous settings."""
    if temp == 0:
        q = np.zeros(logits.size)
        q[int(np.argmax(logits))] = 1.0
        return q, math.inf
    z = logits.astype(np.float64) / temp
    p = np.exp(z - z.max())
    p /= p.sum()
    order = sorted(range(p.size), key=lambda i: (-p[i], i))
    kept = order[:top_k] if 0 < top_k < p.size else order
    margin = math.inf
    if top_p < 1.0:
        mass = np.cumsum(p[kept])
        need = top_p * mass[-1]
        cut = int(np.searchsorted(mass, need)) + 1  # smallest prefix with mass >= need
        margin = float(np.min(np.abs(mass - need)))
        kept = kept[:cut]
    if min_p > 0:
        floor = float(np.max(logits)) + math.log(min_p)
        margin = min(margin, float(np.min(np.abs(logits[kept] - floor))))
        kept = [i for i in kept if logits[i] >= floor]
    q = np.zeros_like(p)
    q[kept] = p[kept]
    return q / q.sum(), margin


def chi_square(counts, q):
    """Pearson's statistic over the support of q, cells expected < 5 pooled; returns (chi2, df, p)."""
    n = counts.sum()
    e = q * n
    sup = q > 0
    big = sup & (e >= 5)
    obs = list(counts[big])
    exp = list(e[big])
    small = sup & ~big
    if small.any():
        obs.append(counts[small].sum())
        exp.append(e[small].sum())
    obs, exp = np.array(obs, dtype=np.float64), np.array(exp)
    chi2 = float(((obs - exp) ** 2 / exp).sum())
    df = obs.size - 1
    return chi2, df, (q_gamma(df / 2.0, chi2 / 2.0) if df > 0 else 1.0)


def main():
    helper = os.environ.get("CALGAE_SAMPLER_DRAWS")
    models = os.environ.get("CALGAE_MODELS")
    tmp = os.environ.get("CALGAE_TEST_TMP")
    if not helper or not models or not tmp:
        print("sampler_stat_test: CALGAE_SAMPLER_DRAWS, CALGAE_MODELS and CALGAE_TEST_TMP must be set")
        return 2
    model = R.load_model(os.path.join(models, "stories260K.bin"))
    tok = R.Tokenizer.from_llama2c(os.path.join(models, "tok512.bin"), model.cfg["vocab_size"])
    # a context with a spread-out next token (top-p keeps 10-13 tokens below)
    ids = tok.encode("Tom and Lily went to the", bos=True)
    logits = R.forward(model, ids)[-1].astype("<f4")
    path = os.path.join(tmp, "sampler_logits.%d.f32" % os.getpid())
    logits.tofile(path)
    failures = 0
    try:
        order = sorted(range(logits.size), key=lambda i: -logits[i])
        histories = {"top": order[:6] + order[:3] + [order[40]],  # repeats count once
                     "neg": order[-5:]}  # negative logits: multiplied
        for temp, top_k, top_p, seed, *filt in SETTINGS + FILTERS:
            label = "T %.2f top-k %d top-p %.2f" % (temp, top_k, top_p)
            extra = []
            x = logits.astype(np.float64)
            min_p = 0.0
            if filt:
                min_p, penalty, last_n, hist = filt[0]
                history = histories.get(hist, [])
                x = penalized(logits, penalty, last_n, history)
                label += " min-p %.2f penalty %.2f last-n %d history %s" % (min_p, penalty, last_n, hist)
                extra = [repr(min_p), repr(penalty), str(last_n),
                         ",".join(map(str, history)) if history else "-"]
            q, margin = expected(x, temp, top_k, top_p, min_p)
            if margin < 1e-5:
                print("FAIL %s: the top-p cut is ambiguous (a prefix mass within %.1e of it): pick "
                      "another setting" % (label, margin))
                failures += 1
                continue
            out = subprocess.run([helper, path, repr(temp), str(top_k), repr(top_p), str(seed), str(N)]
                                 + extra,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=600)
            if out.returncode != 0:
                print("FAIL %s: sampler_draws exited %d: %s" % (label, out.returncode, out.stderr.decode()))
                failures += 1
                continue
            counts = np.zeros(q.size, dtype=np.int64)
            for line in out.stdout.decode().split("\n"):
                if line:
                    i, c = line.split()
                    counts[int(i)] = int(c)
            outside = np.nonzero((q == 0) & (counts > 0))[0]
            chi2, df, pv = chi_square(counts, q)
            kept = int((q > 0).sum())
            if counts.sum() != N or outside.size:
                print("FAIL %s: %d draws, %d of them outside the %d kept tokens (ids %s)"
                      % (label, counts.sum(), counts[outside].sum(), kept, outside.tolist()[:10]))
                failures += 1
            elif pv < ALPHA:
                worst = int(np.argmax(np.abs(counts - q * N) / np.sqrt(np.maximum(q * N, 1))))
                print("FAIL %s: chi-square %.1f on %d degrees of freedom, p = %.2e < %.0e (token %d: "
                      "drawn %d times, expected %.1f)" % (label, chi2, df, pv, ALPHA, worst,
                                                          counts[worst], q[worst] * N))
                failures += 1
            else:
                print("ok   %s: %d kept tokens, chi-square %.1f on %d df, p = %.3f"
                      % (label, kept, chi2, df, pv))
    finally:
        os.remove(path)
    print("sampler_stat_test: %s" % ("%d FAILED" % failures if failures else "all passed"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
