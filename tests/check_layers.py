#!/usr/bin/python3
"""The layers of bnfold and what each may use: the one table, and its check.

Every `#include "X/..."` in a layer's files must point at a layer that the
table allows for it (a public header api/bnfold/X/... and its include
"bnfold/X/..." are layer X's), and every `bnfold_layer(NAME ... USES ...)` in a
CMakeLists.txt may name only allowed layers. Public headers include only
public headers (what is installed must compile where nothing else is), and
the front ends (tools/: the CLI, the Python module, the examples) include only
public headers and their own. Prints each violation with its
file and line and exits 1 when there is one.

    check_layers.py SOURCE_DIR     check the tree
    check_layers.py --self-test    show that a wrong include is caught
"""
import functools
import os
import re
import sys
import tempfile

import check_common

# layer -> the layers its files may include (itself too). passes and runtime
# are siblings: neither includes the other.
ALLOWED = {
    "graph": {"graph"},
    "ops": {"graph", "ops"},
    "passes": {"graph", "ops", "passes"},
    "runtime": {"graph", "ops", "runtime"},
    "analysis": {"graph", "ops", "passes", "runtime", "analysis"},
    "api": {"graph", "ops", "passes", "runtime", "analysis", "api"},
    "tools": {"graph", "ops", "passes", "runtime", "analysis", "api", "tools"},
    "tests": {"graph", "ops", "passes", "runtime", "analysis", "api", "tools", "tests"},
}
PUBLIC = "bnfold/"  # the public headers: api/bnfold/LAYER/... (installed as <bnfold/LAYER/...>)
# Public headers outside a layer's folder, and the layer they belong to.
PUBLIC_TOP = {"bnfold/version.hpp": "graph", "bnfold/bnfold.hpp": "api", "bnfold/bnfold.h": "api"}
# Public header folders that are not a layer's name, and the layer they belong to
# (the server, api/serve/, is part of api).
PUBLIC_DIRS = {"serve": "api"}
# The front ends: they use the library as an outside program does, through
# its public headers only (benchmarks measure internals and are exempt).
FRONT_ENDS = ("tools/", )
FRONT_END_EXEMPT = ("tools/benchmarks/", "tools/ort/")
SOURCE_EXT = (".cpp", ".hpp", ".h", ".c", ".cc")
INCLUDE = re.compile(r'^\s*#\s*include\s+"(([A-Za-z_]+)/[^"]+)"')
LAYER_TARGET = re.compile(r"bnfold_layer\((\w+)(.*?)\)", re.S)


def layer_of_include(path):
    """The layer an include names: "graph/x.hpp" and "bnfold/graph/x.hpp" are graph's."""
    if path in PUBLIC_TOP:
        return PUBLIC_TOP[path]
    if path.startswith(PUBLIC):
        folder = path[len(PUBLIC):].split("/")[0]
        return PUBLIC_DIRS.get(folder, folder)
    return path.split("/")[0]


def layer_of_file(rel):
    """The layer a file belongs to: its folder, or for a public header the layer it declares."""
    rel = rel.replace(os.sep, "/")
    if rel.startswith("api/" + PUBLIC):
        inner = rel[len("api/"):]
        folder = inner[len(PUBLIC):].split("/")[0]
        return PUBLIC_TOP.get(inner) or PUBLIC_DIRS.get(folder, folder)
    return rel.split("/")[0]


def include_problems(rel, layer, no, path):
    """What is wrong with `#include "path"` on line `no` of `rel` (a list, maybe empty)."""
    rel = rel.replace(os.sep, "/")
    target = layer_of_include(path)
    allowed = ALLOWED[layer]
    found = []
    if target in ALLOWED and target not in allowed:
        found.append(f"{rel}:{no}: {layer}/ may not include {target}/ ({layer} may use: {', '.join(sorted(allowed))})")
    if rel.startswith("api/" + PUBLIC) and not path.startswith(PUBLIC):
        found.append(f"{rel}:{no}: a public header may include only public headers (bnfold/...), not {path}")
    front_end = rel.startswith(FRONT_ENDS) and not rel.startswith(FRONT_END_EXEMPT)
    if front_end and not (path.startswith(PUBLIC) or path.startswith("tools/")):
        found.append(f"{rel}:{no}: a front end may include only the public headers (bnfold/...), not {path}")
    return found


def check(root):
    problems = []
    for top in ALLOWED:
        base = os.path.join(root, top)
        if not os.path.isdir(base):
            continue
        for dirpath, dirnames, files in os.walk(base):
            dirnames[:] = [d for d in dirnames if d != "data"]  # test data: models, not code
            for f in sorted(files):
                path = os.path.join(dirpath, f)
                rel = os.path.relpath(path, root)
                layer = layer_of_file(rel)
                if f == "CMakeLists.txt":
                    problems += check_cmake(rel, open(path, encoding="utf-8").read(), top)
                if not f.endswith(SOURCE_EXT) or layer not in ALLOWED:
                    continue
                for no, line in enumerate(open(path, encoding="utf-8", errors="replace"), 1):
                    m = INCLUDE.match(line)
                    if m:
                        problems += include_problems(rel, layer, no, m.group(1))
    return problems


def check_cmake(rel, text, folder):
    problems = []
    for m in LAYER_TARGET.finditer(text):
        name, body = m.group(1), m.group(2)
        uses = re.search(r"USES((?:\s+\w+)+?)(?:\s+(?:SOURCES|PACKAGES)\b|\s*$)", body)
        if name != folder:
            problems.append(f"{rel}: the layer target {name} is defined in {folder}/")
        for used in (uses.group(1).split() if uses else []):
            if used not in ALLOWED.get(name, set()):
                problems.append(f"{rel}: layer {name} USES {used}, which it may not")
    return problems


def self_test():
    """A tree with one wrong include of each kind must fail; right ones must pass."""
    with tempfile.TemporaryDirectory() as root:
        write = functools.partial(check_common.write, root)
        write("graph/a.hpp", '#include "graph/b.hpp"\n#include "bnfold/version.hpp"\n')
        write("passes/p.cpp", '#include "ops/kernel.hpp"\n#include "bnfold/graph/graph.hpp"\n')
        write("api/bnfold/runtime/session.hpp", '#include "bnfold/graph/graph.hpp"\n')
        write("tools/cmd.cpp", '#include "bnfold/runtime/session.hpp"\n#include "tools/text.hpp"\n')
        write("tools/benchmarks/b.cpp", '#include "runtime/plan.hpp"\n')
        assert check(root) == [], check(root)
        write("passes/bad.cpp", '#include <vector>\n#include "bnfold/runtime/session.hpp"\n')
        write("ops/CMakeLists.txt", "bnfold_layer(ops\n  SOURCES a.cpp\n  USES graph analysis)\n")
        write("api/bnfold/graph/leak.hpp", '#include "graph/check.hpp"\n')
        write("api/bnfold/graph/up.hpp", '#include "bnfold/analysis/dataset.hpp"\n')
        write("tools/inside.cpp", '#include "runtime/plan.hpp"\n')
        found = check(root)
        expected = ["passes/bad.cpp:2: passes/ may not include runtime/", "layer ops USES analysis",
                    "api/bnfold/graph/leak.hpp:1: a public header may include only public headers",
                    "api/bnfold/graph/up.hpp:1: graph/ may not include analysis/",
                    "tools/inside.cpp:1: a front end may include only the public headers"]
        for e in expected:
            assert any(e in p for p in found), (e, found)
        assert len(found) == len(expected), found
    print("self-test: a wrong include, a wrong USES, a public header leaking an internal one and a front end "
          "reaching inside are caught")
    return 0


def main():
    return check_common.main(check, self_test, "every include points down the layers",
                             "{} include(s) against the direction of the layers")


if __name__ == "__main__":
    sys.exit(main())
