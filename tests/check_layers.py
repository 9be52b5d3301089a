#!/usr/bin/python3
"""The layers of bnfold and what each may use: the one table, and its check.

Every `#include "X/..."` in a layer's files must point at a layer that the
table allows for it, and every `bnfold_layer(NAME ... USES ...)` in a
CMakeLists.txt may name only allowed layers. Prints each violation with its
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
# Generated headers and the layer they belong to (bnfold/version.hpp comes
# from graph/version.hpp.in).
GENERATED = {"bnfold": "graph"}
SOURCE_EXT = (".cpp", ".hpp", ".h", ".c", ".cc")
INCLUDE = re.compile(r'^\s*#\s*include\s+"([A-Za-z_]+)/[^"]+"')
LAYER_TARGET = re.compile(r"bnfold_layer\((\w+)(.*?)\)", re.S)


def layer_of_include(first):
    return GENERATED.get(first, first)


def check(root):
    problems = []
    for layer, allowed in ALLOWED.items():
        base = os.path.join(root, layer)
        if not os.path.isdir(base):
            continue
        for dirpath, dirnames, files in os.walk(base):
            dirnames[:] = [d for d in dirnames if d != "data"]  # test data: models, not code
            for f in sorted(files):
                path = os.path.join(dirpath, f)
                rel = os.path.relpath(path, root)
                if f == "CMakeLists.txt":
                    problems += check_cmake(rel, open(path, encoding="utf-8").read(), layer)
                if not f.endswith(SOURCE_EXT):
                    continue
                for no, line in enumerate(open(path, encoding="utf-8", errors="replace"), 1):
                    m = INCLUDE.match(line)
                    if not m:
                        continue
                    target = layer_of_include(m.group(1))
                    if target in ALLOWED and target not in allowed:
                        problems.append(f"{rel}:{no}: {layer}/ may not include {m.group(1)}/ "
                                        f"({layer} may use: {', '.join(sorted(allowed))})")
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
    """A tree with one wrong include in each direction must fail; a right one must pass."""
    with tempfile.TemporaryDirectory() as root:
        write = functools.partial(check_common.write, root)
        write("graph/a.hpp", '#include "graph/b.hpp"\n#include "bnfold/version.hpp"\n')
        write("passes/p.cpp", '#include "ops/kernel.hpp"\n#include "graph/a.hpp"\n')
        assert check(root) == [], check(root)
        write("passes/bad.cpp", '#include <vector>\n#include "runtime/session.hpp"\n')
        write("ops/CMakeLists.txt", "bnfold_layer(ops\n  SOURCES a.cpp\n  USES graph analysis)\n")
        found = check(root)
        assert any("passes/bad.cpp:2: passes/ may not include runtime/" in p for p in found), found
        assert any("layer ops USES analysis" in p for p in found), found
        assert len(found) == 2, found
    print("self-test: a wrong include and a wrong USES are caught")
    return 0


def main():
    return check_common.main(check, self_test, "every include points down the layers",
                             "{} include(s) against the direction of the layers")


if __name__ == "__main__":
    sys.exit(main())
