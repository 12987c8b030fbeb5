#!/usr/bin/env python3
"""List include cycles among src/ modules. A module is a header with the .c
files that implement it: foo.c and foo.h, and every .c that defines a
function the header declares (so mig_src_priv.h is one module with
mig_src_tools.c, which implements its tools, and cli.h one with all of
cli/).
Module A depends on module B when a file of A includes a header of B; a
cycle is a set of modules that depend on each other around a loop. A
module whose files lie in different directories is listed too.
With --calls BUILD it lists call cycles instead, between the object files
under BUILD (one per .c: A calls B when A uses a symbol B defines, by nm).
Usage: scripts/include-cycles.py [SRC] | --calls [BUILD/src [SRC]]"""
import os
import re
import subprocess
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
# A prototype or definition at column 0: type words, then NAME(.
FUNC = re.compile(r'^(?!static\b|typedef\b|#|struct\s+\w+\s*\{|enum\b|union\b)'
                  r'[A-Za-z_][\w \t\*]*?\b([A-Za-z_]\w*)\s*\(', re.M)
COMMENT = re.compile(r'/\*.*?\*/|//[^\n]*', re.S)


def scan(src):
    files = {}
    for root, _, names in os.walk(src):
        for n in names:
            if n.endswith(('.c', '.h')):
                p = os.path.join(root, n)
                with open(p, encoding='utf-8', errors='replace') as f:
                    files[os.path.relpath(p, src)] = COMMENT.sub('', f.read())
    return files


def modules(files):
    """file -> the name of its module (union of a header and its .c files)"""
    parent = {p: p for p in files}

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(a, b):
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    defined = {}
    for p, text in files.items():
        if p.endswith('.c'):
            if os.path.splitext(p)[0] + '.h' in files:
                union(p, os.path.splitext(p)[0] + '.h')
            for m in re.finditer(r'^(?!static\b)[A-Za-z_][\w \t\*]*?\b([A-Za-z_]\w*)\s*\([^;{]*?\)\s*\{',
                                 text, re.M):
                defined.setdefault(m.group(1), set()).add(p)
    for p, text in files.items():
        if p.endswith('.h'):
            for m in FUNC.finditer(text):
                for c in defined.get(m.group(1), ()):
                    union(p, c)
    groups = {}
    for p in files:
        groups.setdefault(find(p), []).append(p)
    name = {}
    for members in groups.values():
        stems = sorted({os.path.splitext(m)[0] for m in members})
        label = '+'.join(stems)
        for m in members:
            name[m] = label
    return name


def sccs(graph):
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
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
            out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def call_graph(build, src):
    """object -> the objects whose symbols it uses (by nm); objects whose
    .c no longer exists under src (stale) are left out"""
    defined, used = {}, {}
    for root, _, names in os.walk(build):
        for n in names:
            if not n.endswith('.o'):
                continue
            o = os.path.join(root, n)
            name = os.path.relpath(o, build)[:-2]
            if not os.path.exists(os.path.join(src, name + '.c')):
                continue
            out = subprocess.run(['nm', o], capture_output=True, text=True, check=True).stdout
            used[name] = set()
            for line in out.splitlines():
                f = line.split()
                if len(f) == 3 and f[1] in 'TDBRC':
                    defined[f[2]] = name
                elif len(f) == 2 and f[0] == 'U':
                    used[name].add(f[1])
    graph, why = {}, {}
    for a, syms in used.items():
        for sym in syms:
            b = defined.get(sym)
            if b and b != a:
                graph.setdefault(a, set()).add(b)
                why.setdefault((a, b), set()).add(f'{a} calls {sym} ({b})')
    return graph, why


def report(graph, why):
    cycles = [c for c in sccs(graph) if len(c) > 1]
    for c in sorted(cycles):
        print('cycle: ' + ' <-> '.join(c))
        for a in c:
            for b in c:
                for w in sorted(why.get((a, b), ())):
                    print(f'    {w}')
    print(f'{len(cycles)} cycle(s)')


def main():
    if len(sys.argv) > 1 and sys.argv[1] == '--calls':
        report(*call_graph(sys.argv[2] if len(sys.argv) > 2 else 'build/src',
                           sys.argv[3] if len(sys.argv) > 3 else 'src'))
        return 0
    src = sys.argv[1] if len(sys.argv) > 1 else 'src'
    files = scan(src)
    mod = modules(files)
    # A header implemented in another directory hides a layer crossing.
    for label in sorted(set(mod.values())):
        if len({m.split('/')[0] for m in label.split('+')}) > 1:
            print('module across directories: ' + label)
    graph, why = {}, {}
    for p, text in files.items():
        a = mod[p]
        for inc in INCLUDE.findall(text):
            b = mod.get(inc)
            if b and b != a:
                graph.setdefault(a, set()).add(b)
                why.setdefault((a, b), set()).add(f'{p} -> {inc}')
    report(graph, why)
    return 0


if __name__ == '__main__':
    sys.exit(main())
