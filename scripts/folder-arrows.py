#!/usr/bin/env python3
"""Lists the arrows between the folders of Sources/Pipeline (A -> B: a file in A names a
type declared in B) and fails when they form a cycle of any length. Run by `make test`.

Types are what a folder declares (class, struct, enum, protocol, typealias, actor); a
folder names one when the type's name appears in its code outside comments and string
literals. `--quiet` prints only a cycle."""
import os, re, sys

ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "Sources", "Pipeline")
DECLARATION = re.compile(r"^(?:public |internal |private |fileprivate |final |indirect )*(?:class|struct|enum|protocol|typealias|actor)\s+([A-Z]\w*)", re.M)


def code_of(path):
    text = open(path, encoding="utf-8").read()
    text = re.sub(r'"""(?:.|\n)*?"""', '""', text)
    text = re.sub(r'"(?:\\.|[^"\\\n])*"', '""', text)
    text = re.sub(r"/\*(?:.|\n)*?\*/", "", text)
    return re.sub(r"//[^\n]*", "", text)


def main():
    folders = sorted(d for d in os.listdir(ROOT) if os.path.isdir(os.path.join(ROOT, d)))
    files = {f: [os.path.join(ROOT, f, n) for n in sorted(os.listdir(os.path.join(ROOT, f))) if n.endswith(".swift")] for f in folders}
    code = {f: [code_of(p) for p in paths] for f, paths in files.items()}
    declared = {}
    for f in folders:
        for text in code[f]:
            for name in DECLARATION.findall(text):
                declared.setdefault(name, f)
    arrows = {f: {} for f in folders}
    for f in folders:
        for text in code[f]:
            for name in set(re.findall(r"\b[A-Z]\w*\b", text)):
                home = declared.get(name)
                if home and home != f:
                    arrows[f].setdefault(home, set()).add(name)
    if "--quiet" not in sys.argv:
        for f in folders:
            for to in sorted(arrows[f]):
                print(f"{f} -> {to}: {', '.join(sorted(arrows[f][to]))}")
    # Tarjan's strongly connected components: any with two or more folders is a cycle.
    index, low, stack, on, cycles = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in arrows[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for f in folders:
        if f not in index:
            visit(f)
    for c in cycles:
        print(f"folder-arrows: cycle among {', '.join(c)}", file=sys.stderr)
        for a in c:
            for b in c:
                if b in arrows[a]:
                    print(f"  {a} -> {b}: {', '.join(sorted(arrows[a][b]))}", file=sys.stderr)
    sys.exit(1 if cycles else 0)


if __name__ == "__main__":
    main()
