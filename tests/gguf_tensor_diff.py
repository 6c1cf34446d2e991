#!/usr/bin/python3
"""gguf_tensor_diff.py A.gguf B.gguf - compares two GGUF files tensor by tensor: the same names,
shapes, types and data bytes (metadata is not compared). Prints one line per difference and a
summary; exit 0 only when every tensor is identical."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ref_llama as R  # noqa: E402
import ref_kquants  # noqa: E402,F401  (teaches the reader the K, IQ4 and BF16 types)


def main(a_path, b_path):
    _, a = R.read_gguf(a_path)
    _, b = R.read_gguf(b_path)
    bad = 0
    for name in sorted(set(a) | set(b)):
        if name not in a or name not in b:
            print("DIFF %s: only in %s" % (name, a_path if name in a else b_path))
            bad += 1
            continue
        (na, ta, da), (nb, tb, db) = a[name], b[name]
        tn = lambda t: R.GGML_TYPES[t][0]  # noqa: E731
        if na != nb or ta != tb:
            print("DIFF %s: %s %s vs %s %s" % (name, tn(ta), na, tn(tb), nb))
            bad += 1
        elif bytes(da) != bytes(db):
            print("DIFF %s (%s): data differs" % (name, tn(ta)))
            bad += 1
    print("%d tensors, %d differ" % (len(set(a) | set(b)), bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
