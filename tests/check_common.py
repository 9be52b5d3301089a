"""What the house-rule checks (check_layers.py, check_sizes.py) share: their
command line and the scratch trees of their self-tests."""
import os
import sys


def write(root, rel, text):
    """Writes `text` to root/rel, making its folders."""
    os.makedirs(os.path.dirname(os.path.join(root, rel)), exist_ok=True)
    with open(os.path.join(root, rel), "w") as f:
        f.write(text)


def main(check, self_test, passed, failed):
    """check.py SOURCE_DIR | --self-test: prints each problem check() finds
    and `failed` (formatted with their count), or `passed`; exits 1 on a problem."""
    if sys.argv[1:] == ["--self-test"]:
        return self_test()
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..")
    problems = check(root)
    for p in problems:
        print(p)
    if problems:
        print(failed.format(len(problems)))
        return 1
    print(passed)
    return 0
