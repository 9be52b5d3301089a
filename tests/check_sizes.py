#!/usr/bin/python3
"""House style, checked: no source file over 500 lines, no function over 120,
a README of at most 300 lines.

A function is a brace block at namespace level (or a member defined in a
class body) whose opening line looks like a signature; its length is counted
from the signature to the closing brace. Lambdas and blocks inside a function
count towards the function that holds them. Strings, characters and comments
are skipped when braces are counted. Prints each file or function over its
limit and exits 1 when there is one.

    check_sizes.py SOURCE_DIR     check the tree
    check_sizes.py --self-test    show that a long file, function and README are caught
"""
import functools
import os
import re
import sys
import tempfile

import check_common

MAX_FILE_LINES = 500
MAX_FUNCTION_LINES = 120
MAX_README_LINES = 300  # what a newcomer reads in a few screens; depth goes to docs/
SOURCE_EXT = (".cpp", ".hpp", ".h", ".c", ".cc", ".py", ".sh", ".md")
CODE_EXT = (".cpp", ".hpp", ".h", ".c", ".cc")
SKIP_DIRS = {"build", "data", ".git", "node_modules", "docs"}
# A signature ends with ')' and maybe qualifiers before its '{' (not if/for/while/switch/catch).
SIGNATURE = re.compile(r"\)\s*(const|noexcept|override|final|->\s*[\w:<>,\s*&]+|\s)*\{?\s*$")
CONTROL = re.compile(r"^\s*(\}?\s*else\b|if\b|for\b|while\b|switch\b|catch\b|do\b|return\b)")


def strip_code(text):
    """The text with strings, characters and comments blanked (newlines kept)."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append("\n" * text.count("\n", i, j))
            i = j
        elif text.startswith('R"', i):
            m = re.match(r'R"([^(]*)\(', text[i:])
            end = text.find(")" + m.group(1) + '"', i) if m else -1
            j = n if end < 0 else end + len(m.group(1)) + 2
            out.append('""' + "\n" * text.count("\n", i, j))
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            out.append(c + c)
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def long_functions(text):
    """(name line, length) of each function longer than the limit."""
    lines = strip_code(text).split("\n")
    found, depth, start, scope_depths = [], 0, None, []
    for no, line in enumerate(lines, 1):
        for ch in line:
            if ch == "{":
                if start is None and opens_function(lines, no):
                    start, fdepth = signature_start(lines, no), depth
                elif start is None:
                    scope_depths.append(depth)
                depth += 1
            elif ch == "}":
                depth -= 1
                if start is not None and depth == fdepth:
                    if no - start + 1 > MAX_FUNCTION_LINES:
                        found.append((start, no - start + 1))
                    start = None
                elif scope_depths and scope_depths[-1] == depth:
                    scope_depths.pop()
    return found


def opens_function(lines, no):
    """Whether the '{' on line no opens a function body: a signature ends on it or just above."""
    text = lines[no - 1].split("{")[0]
    if not text.strip() and no > 1:
        text = lines[no - 2]
    if CONTROL.match(text) or re.search(r"\b(class|struct|namespace|enum|union)\b", text):
        return False
    return bool(SIGNATURE.search(text + "{")) or bool(re.search(r"\)\s*:\s*\w", text))


def signature_start(lines, no):
    """The first line of the signature whose body opens on line no (a blank line ends it)."""
    start = no
    while start > 1 and lines[start - 2].strip() and not lines[start - 2].rstrip().endswith((";", "}", "{")) \
            and not lines[start - 2].lstrip().startswith("#"):
        start -= 1
    return start


def check(root):
    problems = []
    for dirpath, dirnames, files in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith("build"))
        for f in sorted(files):
            if not f.endswith(SOURCE_EXT):
                continue
            path = os.path.join(dirpath, f)
            rel = os.path.relpath(path, root)
            text = open(path, encoding="utf-8", errors="replace").read()
            count = text.count("\n")
            if rel == "README.md":
                if count > MAX_README_LINES:
                    problems.append(f"README.md: {count} lines (at most {MAX_README_LINES}; move depth to docs/)")
            elif count > MAX_FILE_LINES:
                problems.append(f"{rel}: {count} lines (at most {MAX_FILE_LINES})")
            if f.endswith(CODE_EXT):
                for line, length in long_functions(text):
                    problems.append(f"{rel}:{line}: a function of {length} lines (at most {MAX_FUNCTION_LINES})")
    return problems


def self_test():
    """A long file and a long function must be caught; braces in strings and lambdas must not count."""
    with tempfile.TemporaryDirectory() as root:
        write = functools.partial(check_common.write, root)
        body = "  int x = 0;\n" * 100
        write("graph/ok.cpp", "namespace a {\nint f(int y) {\n  auto g = [&] { return \"{\"; };\n"
              + body + "  return '}';\n}\n}  // namespace a\n")
        assert check(root) == [], check(root)
        write("graph/long.cpp", "struct S {\n  void m() const\n  {\n" + body + body + "  }\n};\n")
        write("passes/big.py", "x = 1\n" * 501)
        write("README.md", "text\n" * 301)
        write("sub/README.md", "text\n" * 400)
        found = check(root)
        assert any(p.startswith(os.path.join("graph", "long.cpp") + ":2: a function of 203") for p in found), found
        assert any("big.py: 501 lines" in p for p in found), found
        assert any(p.startswith("README.md: 301 lines") for p in found), found
        assert len(found) == 3, found
    print("self-test: a long file and a long function are caught")
    return 0


def main():
    return check_common.main(check, self_test,
                             f"no file over {MAX_FILE_LINES} lines, no function over {MAX_FUNCTION_LINES}",
                             "{} file(s) or function(s) over the house limits")


if __name__ == "__main__":
    sys.exit(main())
