#!/usr/bin/env python3
"""Module dependencies of the art9 library: which top-level module of src/ uses which.

    python3 scripts/module_deps.py [--sub input,output,...]

Reads every .rs file under src/ (without comments and string literals), takes the paths
`crate::m::...` and, in a top-level file (src/m.rs, src/m/mod.rs), `super::m::...`, and
prints one line per module: `m -> a, b, c`. The binary (src/main.rs, src/cli/) uses the
library as `art9::m` and is listed as `cli`. `--sub input,output` also lists the
submodules of those modules one level down (`input/db -> ...`).

Then it prints the cycles (strongly connected components of more than one module) and
exits 1 if there is one, 0 if the graph is acyclic. Standard library only.
"""
import os
import re
import sys

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")


def strip(code):
    """Code without comments, string and char literals (good enough for `use` lines)."""
    out, i, n = [], 0, len(code)
    while i < n:
        c = code[i]
        if code.startswith("//", i):
            i = code.find("\n", i)
            i = n if i < 0 else i
        elif code.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if code.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif code.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    i += 1
        elif c == "r" and re.match(r'r#*"', code[i:i + 20]) and not re.match(r"\w", code[i - 1:i]):
            hashes = re.match(r'r(#*)"', code[i:]).group(1)
            end = code.find('"' + hashes, i + len(hashes) + 2)
            i = n if end < 0 else end + 1 + len(hashes)
            out.append('""')
        elif c == '"':
            i += 1
            while i < n and code[i] != '"':
                i += 2 if code[i] == "\\" else 1
            i += 1
            out.append('""')
        elif c == "'" and re.match(r"'(\\[^']{1,10}|[^'\\])'", code[i:i + 13]):
            i += re.match(r"'(\\[^']{1,10}|[^'\\])'", code[i:i + 13]).end()
            out.append("' '")
        else:
            out.append(c)
            i += 1
    return "".join(out)


def module_of(rel, subs):
    """Top-level module of a file path relative to src/ (with one submodule level for
    the modules in `subs`), and whether the file is a top-level module file."""
    parts = rel[:-3].split(os.sep)
    if parts[0] in ("main", "cli"):
        return "cli", False
    if parts == ["lib"]:
        return None, False
    top = parts[0]
    is_top = len(parts) == 1 or parts[1:] == ["mod"]
    if top in subs and len(parts) > 1 and parts[1] != "mod":
        return f"{top}/{parts[1]}", False
    return top, is_top


def deps(subs):
    graph = {}
    for root, _, files in os.walk(SRC):
        for f in files:
            if not f.endswith(".rs"):
                continue
            path = os.path.join(root, f)
            rel = os.path.relpath(path, SRC)
            mod, is_top = module_of(rel, subs)
            if mod is None:
                continue
            code = strip(open(path, encoding="utf-8").read())
            used = set()
            prefix = "art9" if mod == "cli" else "crate"
            # `use crate::{a, b::c}` and plain `crate::a::...` paths.
            for m in re.finditer(prefix + r"::\{([^}]*)\}", code):
                used.update(re.findall(r"(?:^|,)\s*(\w+)", m.group(1)))
            used.update(re.findall(prefix + r"::(\w+)", code))
            if is_top:
                used.update(re.findall(r"\bsuper::(\w+)", code))
                for m in re.finditer(r"\bsuper::\{([^}]*)\}", code):
                    used.update(re.findall(r"(?:^|,)\s*(\w+)", m.group(1)))
            targets = set()
            for u in used:
                if u in subs:
                    # The submodule when the path names one, else the module itself.
                    targets.add(u)
                    for m in re.finditer(prefix + r"::" + u + r"::(\w+)", code):
                        sub = f"{u}/{m.group(1)}"
                        if os.path.exists(os.path.join(SRC, u, m.group(1) + ".rs")) or \
                                os.path.isdir(os.path.join(SRC, u, m.group(1))):
                            targets.add(sub)
                        else:
                            targets.add(u)
                elif os.path.exists(os.path.join(SRC, u + ".rs")) or os.path.isdir(
                        os.path.join(SRC, u)):
                    targets.add(u)
            depth = len(rel[:-3].split(os.sep)) - (1 if rel.endswith("mod.rs") else 0)
            if mod.split("/")[0] in subs and "/" in mod and depth == 2:
                top = mod.split("/")[0]
                # super:: in input/x.rs means input (its mod.rs) or a sibling.
                names = re.findall(r"\bsuper::(\w+)", code)
                for m in re.finditer(r"\bsuper::\{([^}]*)\}", code):
                    names += re.findall(r"(?:^|,)\s*(\w+)", m.group(1))
                for s in names:
                    if os.path.exists(os.path.join(SRC, top, s + ".rs")) or \
                            os.path.isdir(os.path.join(SRC, top, s)):
                        targets.add(f"{top}/{s}")
                    else:
                        targets.add(top)
            targets.discard(mod)
            graph.setdefault(mod, set()).update(targets)
    for targets in list(graph.values()):
        for t in targets:
            graph.setdefault(t, set())
    return graph


def cycles(graph):
    """Strongly connected components with more than one node (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def main():
    subs = set()
    if len(sys.argv) > 2 and sys.argv[1] == "--sub":
        subs = set(sys.argv[2].split(","))
    graph = deps(subs)
    for m in sorted(graph):
        print(f"{m} -> {', '.join(sorted(graph[m])) or '-'}")
    found = cycles(graph)
    if not found:
        print("no cycles")
        return 0
    for comp in found:
        pairs = [f"{a} <-> {b}" for a in comp for b in comp if a < b and b in graph[a] and a in graph[b]]
        print(f"cycle: {' , '.join(comp)}" + (f"  (mutual: {'; '.join(pairs)})" if pairs else ""))
    return 1


if __name__ == "__main__":
    sys.exit(main())
