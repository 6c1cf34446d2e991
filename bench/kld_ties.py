#!/usr/bin/python3
"""kld_ties.py - where two llama.cpp logits files (llama-perplexity --kl-divergence-base, from
either program) disagree on the top-1 token: how close the top two candidates are there.

usage: kld_ties.py A.kld B.kld
Prints the share of positions whose argmax differs, and, for those positions and for all of them,
the median gap between the two most likely tokens' probabilities in A. Reads the files with numpy
only (the layout is in core/tools/kldfile.h)."""
import sys
import numpy as np


def load(path):
    raw = open(path, 'rb').read()
    if raw[:8] != b'_logits_':
        sys.exit(f'{path}: not a logits file')
    n_ctx, n_vocab, n_chunk = np.frombuffer(raw, '<i4', 3, 8)
    nv = 2 * ((n_vocab + 1) // 2) + 4
    off = 20 + 4 * n_ctx * n_chunk
    rows = np.frombuffer(raw, '<u2', offset=off).reshape(-1, nv)
    scale = rows[:, 0:2].copy().view('<f4')[:, 0]
    mn = rows[:, 2:4].copy().view('<f4')[:, 0]
    logp = scale[:, None] * rows[:, 4:4 + n_vocab].astype(np.float64) + mn[:, None]
    return logp


def main():
    a, b = load(sys.argv[1]), load(sys.argv[2])
    if a.shape != b.shape:
        sys.exit('the files have different shapes')
    pa = np.exp(a)
    top2 = np.sort(pa, axis=1)[:, -2:]
    gap = top2[:, 1] - top2[:, 0]
    diff = a.argmax(1) != b.argmax(1)
    n = len(gap)
    print(f'positions {n}, top-1 differs at {diff.sum()} ({100 * diff.mean():.2f} %)')
    if diff.any():
        print(f'gap p1-p2 where they differ: median {np.median(gap[diff]):.4f}, '
              f'max {gap[diff].max():.4f}')
    print(f'gap p1-p2 over all positions: median {np.median(gap):.4f}; '
          f'{100 * (gap < 0.01).mean():.2f} % of positions have a gap < 0.01, '
          f'{100 * (gap < 0.05).mean():.2f} % < 0.05')


main()
