#!/usr/bin/env python3
"""dependency_cycles_test.py - no circles between the product's source files, and library code
apart from the CLI.

1. Calls: for the object files given on the command line (libcalgae.a's members and the calgae
   program's objects), file A depends on file B when A uses a symbol B defines (nm); no file may
   reach itself. This is what issue 9 found twice: main.c defined calgae_error, which every
   cmd_*.c used while main.c dispatched to them; model.c called the format loaders, which called
   model.c's checks.
2. Includes: no header reaches itself through #include "..." (file level), library code (core/
   outside cli/) includes nothing of core/cli/, and quant/ nothing of core/.
Prints each problem; exit 1 if any."""
import collections
import os
import re
import subprocess
import sys

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
problems = []


def cycles(edges):
    state, stack, found = {}, [], set()

    def visit(u):
        state[u] = 1
        stack.append(u)
        for v in sorted(edges.get(u, ())):
            if state.get(v) == 1:
                c = stack[stack.index(v):]
                k = c.index(min(c))
                found.add(tuple(c[k:] + c[:k]))
            elif v not in state:
                visit(v)
        stack.pop()
        state[u] = 2

    for u in sorted(edges):
        if u not in state:
            visit(u)
    return sorted(found)


# ---- 1: symbols ----
defs, uses = {}, collections.defaultdict(set)
for path in sys.argv[1:]:
    out = subprocess.run(["nm", "-A", path], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        parts = line.split()
        # "archive:member.o:ADDR T name", "file.o:ADDR T name" or "...: U name"
        where = parts[0].rsplit(":", 2 if parts[0].count(":") >= 2 else 1)
        obj = where[-2] if len(where) >= 2 and where[-1] else where[0]
        obj = obj.split(":")[-1]
        if parts[-2] in ("T", "D", "B", "R"):
            defs[parts[-1]] = obj
        elif parts[-2] == "U":
            uses[obj].add(parts[-1])
call_edges = collections.defaultdict(set)
for u, syms in uses.items():
    for s in syms:
        if s in defs and defs[s] != u:
            call_edges[u].add(defs[s])
for c in cycles(call_edges):
    problems.append("call circle: " + " -> ".join(c + (c[0],)))
n_objs = len(set(defs.values()) | set(uses))

# ---- 2: includes ----
files = {}
for d in ["core", "quant", "plugin-api", "plugins"]:
    for dp, _, names in os.walk(os.path.join(root, d)):
        for n in names:
            if n.endswith((".c", ".h")):
                files.setdefault(n, []).append(os.path.relpath(os.path.join(dp, n), root))
inc_re = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
inc_edges = collections.defaultdict(set)
for paths in files.values():
    for p in paths:
        src = open(os.path.join(root, p), encoding="utf-8", errors="replace").read()
        for inc in inc_re.findall(src):
            cands = files.get(os.path.basename(inc), [])
            same = [c for c in cands if os.path.dirname(c) == os.path.dirname(p)]
            target = same[0] if same else (cands[0] if len(cands) == 1 else None)
            if target is None:
                continue
            inc_edges[p].add(target)
            if p.startswith("core/") and not p.startswith("core/cli/") and target.startswith("core/cli/"):
                problems.append(f"{p} (library) includes {target} (the CLI's)")
            if p.startswith("quant/") and target.startswith("core/"):
                problems.append(f"{p} (quant/) includes {target} (core/)")
for c in cycles(inc_edges):
    problems.append("include circle: " + " -> ".join(c + (c[0],)))

for p in problems:
    print("FAIL", p)
print(f"{n_objs} object files, {sum(len(v) for v in call_edges.values())} call edges, "
      f"{sum(len(v) for v in inc_edges.values())} include edges: {len(problems)} problems")
if n_objs < 10:
    print("FAIL too few object files read: wrong arguments?")
    sys.exit(1)
sys.exit(1 if problems else 0)
